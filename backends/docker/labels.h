/* How a CRI pod or container is written onto a Docker container: its name,
 * and the labels that carry everything kubelet gave us so that it comes back
 * exactly — never parsed back out of a name, never mixed with the labels
 * Docker copies in from the image.  */
#ifndef CRIMP_DOCKER_LABELS_H
#define CRIMP_DOCKER_LABELS_H

#include <jansson.h>

#include "backend.h"

/* Labels kubelet and cAdvisor read on Docker containers (dockershim's).  */
#define DOCKER_LABEL_TYPE       "io.kubernetes.docker.type"
#define DOCKER_TYPE_SANDBOX     "podsandbox"
#define DOCKER_TYPE_CONTAINER   "container"
#define DOCKER_LABEL_SANDBOX_ID "io.kubernetes.sandbox.id"
#define DOCKER_LABEL_LOG_PATH   "io.kubernetes.container.logpath"
#define DOCKER_LABEL_CONTAINER_NAME "io.kubernetes.container.name"
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

/* What a Docker container's labels say about the CRI object, read back from
 * the crimp JSON label.  */
struct docker_cri_meta {
    const char *name, *uid, *namespace_; /* pod: all; container: name only */
    uint32_t attempt;
    json_t *labels;      /* object of strings; never NULL once filled */
    json_t *annotations; /* likewise */
    json_t *doc;         /* owns everything above */
};

/* Fills META from a container's Docker LABELS; < 0 (INTERNAL) when the
 * object was not made by crimp (no or bad JSON label).  */
int docker_cri_meta_from_labels(json_t *labels, struct docker_cri_meta *meta, crimp_error_t *err);

void docker_cri_meta_free(struct docker_cri_meta *meta);

/* Whether LABELS (a JSON object) holds every key=value of the selector
 * entries (any CRI map entry type: {base, key, value}).  */
bool docker_labels_match(json_t *labels, void *const *selector, size_t n_selector);

#endif
