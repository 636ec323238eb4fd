/* Names and labels of crimp's Docker containers.  */
#include "labels.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pbutil.h"
#include "utils.h"

/* Docker names match [a-zA-Z0-9][a-zA-Z0-9_.-]+; '_' separates the parts
 * of a k8s name, so it may not appear inside one either.  */
static char *name_part(const char *s)
{
    char *out = xstrdup(str_empty(s) ? "-" : s);
    for (char *p = out; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
            *p = '-';
    return out;
}

char *docker_sandbox_name(const Runtime__V1__PodSandboxMetadata *md)
{
    cleanup_free char *name = name_part(md->name);
    cleanup_free char *ns = name_part(md->namespace_);
    cleanup_free char *uid = name_part(md->uid);
    return xasprintf("k8s_POD_%s_%s_%s_%u", name, ns, uid, md->attempt);
}

char *docker_container_name(const Runtime__V1__ContainerMetadata *md,
                            const Runtime__V1__PodSandboxMetadata *pod)
{
    cleanup_free char *cname = name_part(md->name);
    cleanup_free char *name = name_part(pod->name);
    cleanup_free char *ns = name_part(pod->namespace_);
    cleanup_free char *uid = name_part(pod->uid);
    return xasprintf("k8s_%s_%s_%s_%s_%u", cname, name, ns, uid, md->attempt);
}

/* CRI labels become real Docker labels too: cAdvisor's Docker handler finds
 * a container's pod by kubelet's io.kubernetes.pod.* labels.  */
static json_t *labels_with_cri(void *const *labels, size_t n_labels, void *const *annotations,
                               size_t n_annotations, json_t *metadata)
{
    json_t *out = crimp_pb_map_to_json(labels, n_labels);
    /* Annotations also as cri-dockerd stores them, so that a cri-dockerd
     * serving this node after crimp reads them back.  */
    for (size_t i = 0; i < n_annotations; i++) {
        const struct crimp_pb_map_entry *e = annotations[i];
        cleanup_free char *key = xasprintf("%s%s", DOCKER_ANNOTATION_PREFIX, e->key);
        json_object_set_new(out, key, json_string(e->value));
    }
    json_t *doc = json_pack("{s:o, s:o, s:o}", "metadata", metadata, "labels",
                            crimp_pb_map_to_json(labels, n_labels), "annotations",
                            crimp_pb_map_to_json(annotations, n_annotations));
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_object_set_new(out, DOCKER_LABEL_CRI, json_string(text));
    free(text);
    json_decref(doc);
    return out;
}

json_t *docker_sandbox_labels(const Runtime__V1__PodSandboxConfig *cfg)
{
    const Runtime__V1__PodSandboxMetadata *md = cfg->metadata;
    json_t *meta = json_pack("{s:s, s:s, s:s, s:i}", "name", md->name, "uid", md->uid,
                             "namespace", md->namespace_, "attempt", (json_int_t)md->attempt);
    json_t *out = labels_with_cri((void *const *)cfg->labels, cfg->n_labels,
                                  (void *const *)cfg->annotations, cfg->n_annotations, meta);
    json_object_set_new(out, DOCKER_LABEL_TYPE, json_string(DOCKER_TYPE_SANDBOX));
    json_object_set_new(out, DOCKER_LABEL_CONTAINER_NAME, json_string("POD"));
    return out;
}

json_t *docker_container_labels(const Runtime__V1__ContainerConfig *cfg, const char *sandbox_id,
                                const char *log_path)
{
    const Runtime__V1__ContainerMetadata *md = cfg->metadata;
    json_t *meta = json_pack("{s:s, s:i}", "name", md->name, "attempt", (json_int_t)md->attempt);
    json_t *out = labels_with_cri((void *const *)cfg->labels, cfg->n_labels,
                                  (void *const *)cfg->annotations, cfg->n_annotations, meta);
    json_object_set_new(out, DOCKER_LABEL_TYPE, json_string(DOCKER_TYPE_CONTAINER));
    json_object_set_new(out, DOCKER_LABEL_SANDBOX_ID, json_string(sandbox_id));
    if (!str_empty(log_path))
        json_object_set_new(out, DOCKER_LABEL_LOG_PATH, json_string(log_path));
    return out;
}

static int meta_from_crimp_label(const char *text, struct docker_cri_meta *meta,
                                 crimp_error_t *err)
{
    json_error_t jerr;
    meta->doc = json_loads(text, 0, &jerr);
    json_t *md = json_object_get(meta->doc, "metadata");
    if (!json_is_object(md)) {
        bool parsed = meta->doc != NULL;
        docker_cri_meta_free(meta);
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "label %s is not valid: %s",
                                DOCKER_LABEL_CRI, parsed ? "no metadata" : jerr.text);
    }
    meta->name = json_string_value(json_object_get(md, "name"));
    meta->uid = json_string_value(json_object_get(md, "uid"));
    meta->namespace_ = json_string_value(json_object_get(md, "namespace"));
    meta->attempt = (uint32_t)json_integer_value(json_object_get(md, "attempt"));
    meta->labels = json_object_get(meta->doc, "labels");
    meta->annotations = json_object_get(meta->doc, "annotations");
    if (!json_is_object(meta->labels) || !json_is_object(meta->annotations) ||
        meta->name == NULL) {
        docker_cri_meta_free(meta);
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "label %s is incomplete",
                                DOCKER_LABEL_CRI);
    }
    return 0;
}

int docker_k8s_name_parse(const char *docker_name, struct docker_k8s_name *out)
{
    memset(out, 0, sizeof(*out));
    if (docker_name == NULL)
        return -1;
    out->buf = xstrdup(docker_name[0] == '/' ? docker_name + 1 : docker_name);
    char *parts[8];
    size_t n = 0;
    for (char *p = out->buf, *tok; n < CRIMP_ARRAY_SIZE(parts) && (tok = strsep(&p, "_"));)
        parts[n++] = tok;
    char *end = NULL;
    unsigned long attempt = (n == 6 || n == 7) ? strtoul(parts[5], &end, 10) : 0;
    if ((n != 6 && n != 7) || strcmp(parts[0], "k8s") != 0 || end == parts[5] || *end != '\0' ||
        attempt > UINT32_MAX) {
        free(out->buf);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    out->container = parts[1];
    out->pod = parts[2];
    out->namespace_ = parts[3];
    out->uid = parts[4];
    out->attempt = (uint32_t)attempt;
    return 0;
}

/* Labels as cri-dockerd reads them back: its own keys dropped, the
 * annotation.<key> labels become annotations, the rest labels.  */
static void split_k8s_labels(json_t *labels, bool sandbox, json_t *out_labels,
                             json_t *out_annotations)
{
    const char *key;
    json_t *value;
    json_object_foreach (labels, key, value) {
        if (!json_is_string(value) || strcmp(key, DOCKER_LABEL_TYPE) == 0 ||
            strcmp(key, DOCKER_LABEL_SANDBOX_ID) == 0 || strcmp(key, DOCKER_LABEL_LOG_PATH) == 0 ||
            (sandbox && strcmp(key, DOCKER_LABEL_CONTAINER_NAME) == 0))
            continue;
        if (has_prefix(key, DOCKER_ANNOTATION_PREFIX))
            json_object_set(out_annotations, key + strlen(DOCKER_ANNOTATION_PREFIX), value);
        else
            json_object_set(out_labels, key, value);
    }
}

/* A container cri-dockerd or dockershim made: the CRI metadata from its
 * k8s_ name, labels and annotations from its Docker labels.  */
static int meta_from_k8s(json_t *labels, const char *docker_name, bool sandbox,
                         struct docker_cri_meta *meta, crimp_error_t *err)
{
    struct docker_k8s_name n;
    if (docker_k8s_name_parse(docker_name, &n) < 0)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0,
                                "`%s` is not a Kubernetes container name", docker_name ?: "");
    json_t *md = sandbox ? json_pack("{s:s, s:s, s:s, s:I}", "name", n.pod, "uid", n.uid,
                                     "namespace", n.namespace_, "attempt", (json_int_t)n.attempt)
                         : json_pack("{s:s, s:I}", "name", n.container, "attempt",
                                     (json_int_t)n.attempt);
    free(n.buf);
    meta->doc = json_pack("{s:o, s:o, s:o}", "metadata", md, "labels", json_object(),
                          "annotations", json_object());
    meta->labels = json_object_get(meta->doc, "labels");
    meta->annotations = json_object_get(meta->doc, "annotations");
    split_k8s_labels(labels, sandbox, meta->labels, meta->annotations);
    meta->name = json_string_value(json_object_get(md, "name"));
    meta->uid = json_string_value(json_object_get(md, "uid"));
    meta->namespace_ = json_string_value(json_object_get(md, "namespace"));
    meta->attempt = (uint32_t)json_integer_value(json_object_get(md, "attempt"));
    meta->adopted = true;
    return 0;
}

int docker_cri_meta_read(json_t *labels, const char *docker_name, struct docker_cri_meta *meta,
                         crimp_error_t *err)
{
    memset(meta, 0, sizeof(*meta));
    const char *type = json_string_value(json_object_get(labels, DOCKER_LABEL_TYPE)) ?: "";
    bool sandbox = strcmp(type, DOCKER_TYPE_SANDBOX) == 0;
    if (!sandbox && strcmp(type, DOCKER_TYPE_CONTAINER) != 0)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0,
                                "not a Kubernetes container (no %s label)", DOCKER_LABEL_TYPE);
    const char *text = json_string_value(json_object_get(labels, DOCKER_LABEL_CRI));
    if (text)
        return meta_from_crimp_label(text, meta, err);
    return meta_from_k8s(labels, docker_name, sandbox, meta, err);
}

void docker_cri_meta_free(struct docker_cri_meta *meta)
{
    json_decref(meta->doc);
    memset(meta, 0, sizeof(*meta));
}

bool docker_labels_match(json_t *labels, void *const *selector, size_t n_selector)
{
    for (size_t i = 0; i < n_selector; i++) {
        const struct crimp_pb_map_entry *e = selector[i];
        const char *v = json_string_value(json_object_get(labels, e->key));
        if (v == NULL || strcmp(v, e->value) != 0)
            return false;
    }
    return true;
}

const char *docker_label_of(json_t *inspect, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(inspect, "Config"), "Labels"), key));
}

bool docker_entry_matches(json_t *c, const struct docker_cri_meta *meta, const char *id_prefix,
                          void *const *selector, size_t n_selector)
{
    const char *id = json_string_value(json_object_get(c, "Id")) ?: "";
    return (str_empty(id_prefix) || has_prefix(id, id_prefix)) &&
           docker_labels_match(meta->labels, selector, n_selector);
}
