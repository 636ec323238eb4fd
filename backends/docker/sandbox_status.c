/* Pod sandboxes on Docker, the read side: PodSandboxStatus and
 * ListPodSandbox, and the pure readers that turn a pause container's
 * inspect or /containers/json entry into a CRI sandbox.  */
#include <string.h>

#include "common/checkpoint.h"
#include "cri_dockerd.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

static void set_namespaces(Runtime__V1__PodSandboxStatus *st, json_t *host_config)
{
    Runtime__V1__LinuxPodSandboxStatus *lx = xmalloc(sizeof(*lx));
    runtime__v1__linux_pod_sandbox_status__init(lx);
    lx->namespaces = xmalloc(sizeof(*lx->namespaces));
    runtime__v1__namespace__init(lx->namespaces);
    Runtime__V1__NamespaceOption *o = xmalloc(sizeof(*o));
    runtime__v1__namespace_option__init(o);
    const char *net = json_string_value(json_object_get(host_config, "NetworkMode")) ?: "";
    const char *pid = json_string_value(json_object_get(host_config, "PidMode")) ?: "";
    const char *ipc = json_string_value(json_object_get(host_config, "IpcMode")) ?: "";
    o->network = strcmp(net, "host") == 0 ? RUNTIME__V1__NAMESPACE_MODE__NODE
                                          : RUNTIME__V1__NAMESPACE_MODE__POD;
    o->pid = strcmp(pid, "host") == 0 ? RUNTIME__V1__NAMESPACE_MODE__NODE
                                      : RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
    o->ipc = strcmp(ipc, "host") == 0 ? RUNTIME__V1__NAMESPACE_MODE__NODE
                                      : RUNTIME__V1__NAMESPACE_MODE__POD;
    lx->namespaces->options = o;
    st->linux = lx;
}

/* The IPs kept from the CNI ADD result: no nsenter per status call.  */
static void set_network(Runtime__V1__PodSandboxStatus *st, json_t *ckpt, bool ready)
{
    st->network = xmalloc(sizeof(*st->network));
    runtime__v1__pod_sandbox_network_status__init(st->network);
    json_t *ips = json_object_get(ckpt, "ips");
    if (!ready || json_is_true(json_object_get(ckpt, "host_network")) || json_array_size(ips) == 0)
        return;
    st->network->ip = xstrdup(json_string_value(json_array_get(ips, 0)) ?: "");
    size_t n = json_array_size(ips) - 1;
    st->network->additional_ips = xcalloc(n + 1, sizeof(*st->network->additional_ips));
    for (size_t i = 0; i < n; i++) {
        Runtime__V1__PodIP *ip = xmalloc(sizeof(*ip));
        runtime__v1__pod_ip__init(ip);
        ip->ip = xstrdup(json_string_value(json_array_get(ips, i + 1)) ?: "");
        st->network->additional_ips[st->network->n_additional_ips++] = ip;
    }
}

/* The pod's CRI metadata, as its labels kept it.  */
static Runtime__V1__PodSandboxMetadata *sandbox_metadata(const struct docker_cri_meta *meta)
{
    Runtime__V1__PodSandboxMetadata *md = xmalloc(sizeof(*md));
    runtime__v1__pod_sandbox_metadata__init(md);
    md->name = xstrdup(meta->name);
    md->uid = xstrdup(meta->uid ?: "");
    md->namespace_ = xstrdup(meta->namespace_ ?: "");
    md->attempt = meta->attempt;
    return md;
}

void docker_sandbox_status_of(json_t *inspect, const struct docker_cri_meta *meta, json_t *ckpt,
                              Runtime__V1__PodSandboxStatusResponse *resp)
{
    bool running = json_is_true(json_object_get(json_object_get(inspect, "State"), "Running"));
    Runtime__V1__PodSandboxStatus *st = xmalloc(sizeof(*st));
    runtime__v1__pod_sandbox_status__init(st);
    st->id = xstrdup(json_string_value(json_object_get(inspect, "Id")) ?: "");
    st->metadata = sandbox_metadata(meta);
    st->state = running ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                        : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    st->created_at = docker_parse_time(json_string_value(json_object_get(inspect, "Created")));
    set_network(st, ckpt, running);
    set_namespaces(st, json_object_get(inspect, "HostConfig"));
    st->labels = crimp_pb_map_from_json(&runtime__v1__pod_sandbox_status__labels_entry__descriptor,
                                        meta->labels, &st->n_labels);
    st->annotations = crimp_pb_map_from_json(
        &runtime__v1__pod_sandbox_status__annotations_entry__descriptor, meta->annotations,
        &st->n_annotations);
    st->runtime_handler = xstrdup("");
    resp->status = st;
}

int docker_pod_sandbox_status(struct crimp_backend *self, struct crimp_rpc *rpc,
                              const Runtime__V1__PodSandboxStatusRequest *req,
                              Runtime__V1__PodSandboxStatusResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *full = docker_resolve(d, req->pod_sandbox_id, true, err);
    json_auto_t *inspect = NULL;
    if (full == NULL || docker_inspect_known(d, full, &inspect, err) < 0)
        return crimp_error_wrap(err, "pod sandbox status");
    if (docker_discarding(d, full))
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0,
                                "pod sandbox %.12s was half-made when crimpd stopped and is "
                                "being torn down", full);
    struct docker_cri_meta meta;
    if (docker_meta_of_inspect(inspect, true, &meta, err) < 0)
        return crimp_error_wrap(err, "pod sandbox %.12s", full);
    const char *id = json_string_value(json_object_get(inspect, "Id"));
    json_auto_t *ckpt = NULL;
    cleanup_error crimp_error_t cerr = NULL;
    if (id != NULL && docker_sandbox_checkpoint(d, id, inspect, &ckpt, &cerr) < 0)
        log_warn("docker: pod sandbox status %.12s: %s", id, cerr->msg);
    docker_sandbox_status_of(inspect, &meta, ckpt, resp);
    docker_cri_meta_free(&meta);
    return 0;
}

bool docker_sandbox_passes(const Runtime__V1__PodSandboxFilter *f, json_t *c,
                           const struct docker_cri_meta *meta)
{
    if (f == NULL)
        return true;
    bool running = strcmp(json_string_value(json_object_get(c, "State")) ?: "", "running") == 0;
    if (f->state && (f->state->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY) != running)
        return false;
    return docker_entry_matches(c, meta, f->id, (void *const *)f->label_selector,
                                f->n_label_selector);
}

Runtime__V1__PodSandbox *docker_sandbox_of_list_entry(json_t *c, const struct docker_cri_meta *meta)
{
    Runtime__V1__PodSandbox *p = xmalloc(sizeof(*p));
    runtime__v1__pod_sandbox__init(p);
    p->id = xstrdup(json_string_value(json_object_get(c, "Id")) ?: "");
    p->metadata = sandbox_metadata(meta);
    bool running = strcmp(json_string_value(json_object_get(c, "State")) ?: "", "running") == 0;
    p->state = running ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                       : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    p->created_at = docker_seconds_to_ns(json_integer_value(json_object_get(c, "Created")));
    p->labels = crimp_pb_map_from_json(&runtime__v1__pod_sandbox__labels_entry__descriptor,
                                       meta->labels, &p->n_labels);
    p->annotations = crimp_pb_map_from_json(
        &runtime__v1__pod_sandbox__annotations_entry__descriptor, meta->annotations,
        &p->n_annotations);
    p->runtime_handler = xstrdup("");
    return p;
}

struct list_ctx {
    const Runtime__V1__PodSandboxFilter *filter;
    Runtime__V1__ListPodSandboxResponse *resp;
    size_t cap;
};

static void list_push(struct list_ctx *x, Runtime__V1__PodSandbox *p)
{
    if (x->resp->n_items == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->resp->items = xrealloc(x->resp->items, x->cap * sizeof(*x->resp->items));
    }
    x->resp->items[x->resp->n_items++] = p;
}

static void add_if_passes(void *arg, json_t *c, const struct docker_cri_meta *meta)
{
    struct list_ctx *x = arg;
    if (docker_sandbox_passes(x->filter, c, meta))
        list_push(x, docker_sandbox_of_list_entry(c, meta));
}

/* A pod whose pause container is gone but whose cri-dockerd checkpoint is
 * left (as cri-dockerd lists it, with no filter only): NOTREADY, so kubelet
 * stops it and its IP is released.  */
static void add_checkpoint_only(struct list_ctx *x, const char *id, json_t *ck)
{
    Runtime__V1__PodSandbox *p = xmalloc(sizeof(*p));
    runtime__v1__pod_sandbox__init(p);
    p->id = xstrdup(id);
    p->metadata = xmalloc(sizeof(*p->metadata));
    runtime__v1__pod_sandbox_metadata__init(p->metadata);
    p->metadata->name = xstrdup(json_string_value(json_object_get(ck, "name")));
    p->metadata->namespace_ = xstrdup(json_string_value(json_object_get(ck, "namespace")));
    p->metadata->uid = xstrdup("");
    p->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    p->runtime_handler = xstrdup("");
    list_push(x, p);
}

int docker_list_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__ListPodSandboxRequest *req,
                            Runtime__V1__ListPodSandboxResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    /* Checkpoints before containers, so a pod being created now is seen
     * in the list, never as a checkpoint alone.  */
    json_auto_t *checkpointed = req->filter ? NULL : cri_dockerd_checkpointed(d);
    struct list_ctx x = {req->filter, resp, 0};
    /* crimp's own checkpoints first: one written after this has its
     * container in the list below, so a pod being made never shows
     * without it.  */
    json_auto_t *ckpts = docker_checkpoint_ids(d);
    if (docker_list_each(d, DOCKER_TYPE_SANDBOX, add_if_passes, &x, err) < 0)
        return -1;
    /* Pods whose pause container is gone: crimp's (a RemovePodSandbox a
     * killed crimpd did not finish), then cri-dockerd's.  */
    docker_list_checkpoint_only(d, ckpts, req->filter, resp);
    x.cap = resp->n_items; /* it grew the array to fit: never more than that */
    for (size_t i = 0; i < resp->n_items; i++)
        json_object_del(checkpointed, resp->items[i]->id);
    const char *id;
    json_t *ck;
    json_object_foreach (checkpointed, id, ck)
        if (docker_pause_gone(d, id))
            add_checkpoint_only(&x, id, ck);
    docker_hide_discarding(d, resp);
    return 0;
}
