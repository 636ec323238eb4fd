/* How a CRI pod or container is written onto a Docker container: its name,
 * and the labels that carry everything kubelet gave us so that it comes back
 * exactly — never parsed back out of a name, never mixed with the labels
 * Docker copies in from the image.  */
#ifndef CRIMP_DOCKER_LABELS_H
#define CRIMP_DOCKER_LABELS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

/* Labels kubelet and cAdvisor read on Docker containers (dockershim's).  */
#define DOCKER_LABEL_TYPE       "io.kubernetes.docker.type"
#define DOCKER_TYPE_SANDBOX     "podsandbox"
#define DOCKER_TYPE_CONTAINER   "container"
#define DOCKER_LABEL_SANDBOX_ID "io.kubernetes.sandbox.id"
#define DOCKER_LABEL_LOG_PATH   "io.kubernetes.container.logpath"
#define DOCKER_LABEL_CONTAINER_NAME "io.kubernetes.container.name"
/* cri-dockerd keeps each CRI annotation K as the Docker label annotation.K.  */
#define DOCKER_ANNOTATION_PREFIX "annotation."
/* crimp's own: one JSON document with the CRI metadata, labels and
 * annotations as kubelet sent them.  */
#define DOCKER_LABEL_CRI "io.crimp.cri"

/* Docker name of a sandbox: k8s_POD_<name>_<namespace>_<uid>_<attempt>.
 * Characters Docker refuses in names are replaced by '-'.  Caller frees.  */
char *docker_sandbox_name(const Runtime__V1__PodSandboxMetadata *md);

/* Docker name of a container: k8s_<container>_<pod>_<namespace>_<uid>_<attempt>.  */
char *docker_container_name(const Runtime__V1__ContainerMetadata *md,
                            const Runtime__V1__PodSandboxMetadata *pod);

/* The Docker labels for a sandbox / container (new JSON object).  */
json_t *docker_sandbox_labels(const Runtime__V1__PodSandboxConfig *cfg);
json_t *docker_container_labels(const Runtime__V1__ContainerConfig *cfg, const char *sandbox_id,
                                const char *log_path);

/* What a Docker container's labels say about the CRI object.  */
struct docker_cri_meta {
    const char *name, *uid, *namespace_; /* pod: all; container: name only */
    uint32_t attempt;
    json_t *labels;      /* object of strings; never NULL once filled */
    json_t *annotations; /* likewise */
    bool adopted;        /* made by cri-dockerd or dockershim, not by crimp */
    json_t *doc;         /* owns everything above */
};

/* Fills META for a pod sandbox or container crimp serves, from its Docker
 * LABELS and name (DOCKER_NAME, with or without the leading '/'):
 *   - made by crimp: the io.crimp.cri label, exactly as kubelet sent it;
 *   - made by cri-dockerd or dockershim (adopted): metadata from the k8s_
 *     name, labels and annotation.<key> labels as cri-dockerd reads them.
 * NOT_FOUND for anything else: such containers are never touched.  */
int docker_cri_meta_read(json_t *labels, const char *docker_name, struct docker_cri_meta *meta,
                         crimp_error_t *err);

/* The parts of k8s_<container>_<pod>_<namespace>_<uid>_<attempt>[_<random>].  */
struct docker_k8s_name {
    char *container, *pod, *namespace_, *uid; /* point into buf */
    uint32_t attempt;
    char *buf; /* caller frees */
};
int docker_k8s_name_parse(const char *docker_name, struct docker_k8s_name *out);

void docker_cri_meta_free(struct docker_cri_meta *meta);

/* Whether LABELS (a JSON object) holds every key=value of the selector
 * entries (any CRI map entry type: {base, key, value}).  */
bool docker_labels_match(json_t *labels, void *const *selector, size_t n_selector);
/* Whether the /containers/json entry C, whose labels gave META, has an ID
 * starting with ID_PREFIX (NULL or "": any) and labels that match the
 * SELECTOR: the part of a CRI list filter pods and containers share.  */
bool docker_entry_matches(json_t *c, const struct docker_cri_meta *meta, const char *id_prefix,
                          void *const *selector, size_t n_selector);
/* The value of label KEY of an inspected container; NULL when unset.  */
const char *docker_label_of(json_t *inspect, const char *key);

#endif
