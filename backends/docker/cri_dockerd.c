/* cri-dockerd's sandbox checkpoints: read to adopt its pods, written so it
 * can take crimp's pods back (cri_dockerd.h).  */
#include "cri_dockerd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "common/netns.h"
#include "common/pod.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "utils.h"

struct text {
    char *buf;
    size_t len;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *piece = xvasprintf(fmt, ap);
    va_end(ap);
    size_t n = strlen(piece);
    t->buf = xrealloc(t->buf, t->len + n + 1);
    memcpy(t->buf + t->len, piece, n + 1);
    t->len += n;
}

/* go-spew's %#v of cri-dockerd's CheckpointData as its JSON decoder fills
 * it: a missing list is a nil slice, each mapping a pointer shown as <*>.  */
uint32_t cri_dockerd_checksum(json_t *data)
{
    struct text t = {0};
    json_t *pms = json_object_get(data, "port_mappings");
    text_add(&t, "(core.CheckpointData){PortMappings:([]*config.PortMapping)");
    if (!json_is_array(pms)) {
        text_add(&t, "<nil>");
    } else {
        text_add(&t, "[");
        size_t i;
        json_t *pm;
        json_array_foreach (pms, i, pm)
            text_add(&t,
                     "%s<*>{Protocol:(*config.Protocol)%s ContainerPort:(*int32)%lld "
                     "HostPort:(*int32)%lld HostIP:(string)%s}",
                     i ? " " : "", json_string_value(json_object_get(pm, "protocol")) ?: "",
                     (long long)json_integer_value(json_object_get(pm, "container_port")),
                     (long long)json_integer_value(json_object_get(pm, "host_port")),
                     json_string_value(json_object_get(pm, "host_ip")) ?: "");
        text_add(&t, "]");
    }
    text_add(&t, " HostNetwork:(bool)%s}",
             json_is_true(json_object_get(data, "host_network")) ? "true" : "false");
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < t.len; i++)
        h = (h ^ (uint8_t)t.buf[i]) * 16777619u;
    free(t.buf);
    return h;
}

static const char *protocol_of(Runtime__V1__Protocol p)
{
    return p == RUNTIME__V1__PROTOCOL__UDP ? "udp" : p == RUNTIME__V1__PROTOCOL__SCTP ? "sctp"
                                                                                      : "tcp";
}

static char *sandbox_dir(struct docker_backend *d)
{
    return str_empty(d->cri_dockerd_root) ? NULL : xasprintf("%s/sandbox", d->cri_dockerd_root);
}

int cri_dockerd_checkpoint_write(struct docker_backend *d, const char *id,
                                 const Runtime__V1__PodSandboxConfig *cfg, crimp_error_t *err)
{
    cleanup_free char *dir = sandbox_dir(d);
    /* Only on a node cri-dockerd has run on (its root is there): a node
     * that never had it gets no /var/lib/cri-dockerd from crimp.  An
     * operator who wants the way back open on such a node creates it.  */
    struct stat st;
    if (dir == NULL || stat(d->cri_dockerd_root, &st) < 0 || !S_ISDIR(st.st_mode))
        return 0;
    json_auto_t *data = json_object();
    for (size_t i = 0; i < cfg->n_port_mappings; i++) {
        const Runtime__V1__PortMapping *p = cfg->port_mappings[i];
        json_t *pm = json_pack("{s:s, s:i, s:i}", "protocol", protocol_of(p->protocol),
                               "container_port", p->container_port, "host_port", p->host_port);
        if (!str_empty(p->host_ip))
            json_object_set_new(pm, "host_ip", json_string(p->host_ip));
        if (json_object_get(data, "port_mappings") == NULL)
            json_object_set_new(data, "port_mappings", json_array());
        json_array_append_new(json_object_get(data, "port_mappings"), pm);
    }
    if (crimp_pod_host_network(cfg))
        json_object_set_new(data, "host_network", json_true());
    json_auto_t *doc = json_pack("{s:s, s:s, s:s, s:O, s:I}", "version", "v1", "name",
                                 cfg->metadata->name, "namespace", cfg->metadata->namespace_,
                                 "data", data, "checksum",
                                 (json_int_t)cri_dockerd_checksum(data));
    cleanup_free char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (crimp_file_write_atomic(dir, id, text, err) < 0)
        return crimp_error_wrap(err, "cri-dockerd checkpoint");
    return 0;
}

void cri_dockerd_checkpoint_remove(struct docker_backend *d, const char *id)
{
    cleanup_free char *dir = sandbox_dir(d);
    if (dir == NULL || !docker_id_is_full(id))
        return;
    cleanup_free char *path = xasprintf("%s/%s", dir, id);
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("docker: remove `%s`: %s", path, strerror(errno));
}

static json_t *checkpoint_read(struct docker_backend *d, const char *id)
{
    cleanup_free char *dir = sandbox_dir(d);
    if (dir == NULL || !docker_id_is_full(id))
        return NULL;
    cleanup_free char *path = xasprintf("%s/%s", dir, id);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL && access(path, F_OK) == 0)
        log_warn("docker: cri-dockerd checkpoint `%s`: %s", path, jerr.text);
    return doc;
}

struct checkpointed {
    struct docker_backend *d;
    json_t *out;
};

static void add_checkpointed(void *arg, const char *id)
{
    struct checkpointed *x = arg;
    json_auto_t *ck = checkpoint_read(x->d, id);
    const char *name = json_string_value(json_object_get(ck, "name"));
    const char *ns = json_string_value(json_object_get(ck, "namespace"));
    if (name && ns)
        json_object_set_new(x->out, id, json_pack("{s:s, s:s}", "name", name, "namespace", ns));
}

json_t *cri_dockerd_checkpointed(struct docker_backend *d)
{
    struct checkpointed x = {d, json_object()};
    cleanup_free char *dir = sandbox_dir(d);
    crimp_error_t err = NULL;
    if (dir && crimp_checkpoint_list(dir, add_checkpointed, &x, &err) < 0) {
        log_warn("docker: cri-dockerd checkpoints: %s", err->msg);
        crimp_error_release(&err);
    }
    return x.out;
}

/* cri-dockerd's mappings in the form CNI's portMappings capability takes
 * (host port 0 means none, as cri-dockerd skips it too).  */
static json_t *cni_port_mappings(json_t *pms)
{
    json_t *out = json_array();
    size_t i;
    json_t *pm;
    json_array_foreach (pms, i, pm) {
        json_int_t host = json_integer_value(json_object_get(pm, "host_port"));
        if (host <= 0)
            continue;
        json_t *m = json_pack("{s:I, s:I, s:s}", "hostPort", host, "containerPort",
                              json_integer_value(json_object_get(pm, "container_port")),
                              "protocol",
                              json_string_value(json_object_get(pm, "protocol")) ?: "tcp");
        const char *ip = json_string_value(json_object_get(pm, "host_ip"));
        if (!str_empty(ip))
            json_object_set_new(m, "hostIP", json_string(ip));
        json_array_append_new(out, m);
    }
    return out;
}

/* The pod's addresses, read in the pause container's network namespace.  */
static json_t *pod_ips(const char *id, json_t *inspect)
{
    json_t *state = json_object_get(inspect, "State");
    json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
    if (!json_is_true(json_object_get(state, "Running")) || pid <= 0)
        return json_array();
    char netns[64];
    snprintf(netns, sizeof(netns), "/proc/%lld/ns/net", (long long)pid);
    json_t *ips = NULL;
    crimp_error_t err = NULL;
    if (netns_addresses(netns, "eth0", &ips, &err) < 0) {
        log_warn("docker: adopted sandbox %.12s: %s", id, err->msg);
        crimp_error_release(&err);
        return json_array();
    }
    return ips;
}

json_t *cri_dockerd_adopt_checkpoint(struct docker_backend *d, const char *id, json_t *inspect)
{
    json_auto_t *theirs = checkpoint_read(d, id);
    struct docker_cri_meta meta = {0};
    crimp_error_t err = NULL;
    bool have_meta = inspect && docker_meta_of_inspect(inspect, true, &meta, &err) == 0;
    crimp_error_release(&err);
    if (!have_meta && theirs == NULL)
        return NULL;
    json_t *data = json_object_get(theirs, "data");
    const char *mode =
        json_string_value(json_object_get(json_object_get(inspect, "HostConfig"), "NetworkMode"));
    bool host = json_is_true(json_object_get(data, "host_network")) ||
                (mode && strcmp(mode, "host") == 0);
    const char *name = have_meta ? meta.name : json_string_value(json_object_get(theirs, "name"));
    const char *ns =
        have_meta ? meta.namespace_ : json_string_value(json_object_get(theirs, "namespace"));
    json_t *ckpt = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:b, s:b}", "name", name ?: "",
                             "namespace", ns ?: "", "uid", have_meta ? meta.uid : "",
                             "host_network", host, "port_mappings",
                             cni_port_mappings(json_object_get(data, "port_mappings")), "ips",
                             host ? json_array() : pod_ips(id, inspect), "network_torn_down", 0,
                             "adopted", 1);
    docker_cri_meta_free(&meta);
    log_info("docker: adopted sandbox %.12s (%s/%s) made by cri-dockerd", id,
             json_string_value(json_object_get(ckpt, "namespace")),
             json_string_value(json_object_get(ckpt, "name")));
    return ckpt;
}
