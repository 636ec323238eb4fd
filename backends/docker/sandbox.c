/* Pod sandboxes on Docker: a pause container holding the namespaces, CNI
 * networking into its netns, and a checkpoint per pod that remembers what
 * Stop and Remove need after the pause container or crimpd went away.
 *
 * Checkpoint data: {"name", "namespace", "uid", "host_network",
 * "port_mappings" (CNI form), "ips", "network_torn_down"}.  */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "common/pod.h"
#include "cri_dockerd.h"
#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

#define SANDBOX_STOP_SECONDS 10

int docker_force_remove(struct docker_backend *d, const char *id, crimp_error_t *err)
{
    struct docker_request r = {.method = "DELETE", .path = "/containers/{id}", .id = id,
                               .query = "v=1&force=1"};
    cleanup_error crimp_error_t rerr = NULL;
    int rc = docker_do(d->client, &r, NULL, &rerr);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0 && rerr->code != GRPC_STATUS_NOT_FOUND) {
        *err = steal_ptr(&rerr);
        return -1;
    }
    return 0;
}

static int stop_container_now(struct docker_backend *d, const char *id, int seconds,
                              crimp_error_t *err)
{
    cleanup_free char *q = xasprintf("t=%d", seconds);
    struct docker_request r = {.method = "POST", .path = "/containers/{id}/stop", .id = id,
                               .query = q, .timeout_ms = (seconds + 120) * 1000L};
    cleanup_error crimp_error_t serr = NULL;
    int rc = docker_do(d->client, &r, NULL, &serr);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0 && serr->code != GRPC_STATUS_NOT_FOUND) {
        *err = steal_ptr(&serr);
        return -1;
    }
    return 0;
}

static struct cni_attachment attachment(const char *id, json_t *ckpt, const char *netns)
{
    return cni_pod_attachment(id, netns, json_string_value(json_object_get(ckpt, "namespace")),
                              json_string_value(json_object_get(ckpt, "name")),
                              json_object_get(ckpt, "port_mappings"));
}

/* CNI ADD into the running pause container ID; records the IPs.  */
static int setup_network(struct docker_backend *d, const char *id, json_t *inspect, json_t *ckpt,
                         crimp_error_t *err)
{
    json_int_t pid = json_integer_value(json_object_get(json_object_get(inspect, "State"), "Pid"));
    if (pid <= 0)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0,
                                "pause container %.12s has no process", id);
    char netns[64];
    snprintf(netns, sizeof(netns), "/proc/%lld/ns/net", (long long)pid);
    struct cni_attachment a = attachment(id, ckpt, netns);
    json_auto_t *result = NULL;
    if (cni_add(d->cni, &a, &result, err) < 0)
        return -1;
    char *ips[8];
    size_t n = cni_result_ips(result, ips, 8);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_string(ips[i]));
        free(ips[i]);
    }
    json_object_set_new(ckpt, "ips", arr);
    return 0;
}

void docker_sandbox_undo(struct docker_backend *d, const char *id, json_t *ckpt)
{
    crimp_error_t e = NULL;
    struct cni_attachment a = attachment(id, ckpt, "");
    if (cni_del(d->cni, &a, &e) < 0)
        log_warn("docker: undo sandbox %.12s: %s", id, e->msg);
    crimp_error_release(&e);
    if (docker_force_remove(d, id, &e) < 0)
        log_warn("docker: undo sandbox %.12s: %s", id, e->msg);
    crimp_error_release(&e);
    crimp_checkpoint_remove(d->sandbox_dir, id, NULL);
    cri_dockerd_checkpoint_remove(d, id);
}

static int start_sandbox(struct docker_backend *d, const char *id,
                         const Runtime__V1__PodSandboxConfig *cfg, json_t *ckpt,
                         crimp_error_t *err)
{
    int rc = docker_post(d->client, "/containers/{id}/start", id, NULL, NULL, NULL, err);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0)
        return -1;
    json_auto_t *inspect = NULL;
    if (docker_inspect(d, id, &inspect, err) < 0)
        return -1;
    const char *resolv = json_string_value(json_object_get(inspect, "ResolvConfPath"));
    if (!str_empty(resolv) && crimp_pod_write_resolv_conf(resolv, cfg->dns_config, err) < 0)
        return -1;
    if (json_is_true(json_object_get(ckpt, "host_network")))
        return 0;
    return setup_network(d, id, inspect, ckpt, err);
}

int docker_run_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                           const Runtime__V1__RunPodSandboxRequest *req,
                           Runtime__V1__RunPodSandboxResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    const Runtime__V1__PodSandboxConfig *cfg = req->config;
    if (!str_empty(req->runtime_handler) && strcmp(req->runtime_handler, "docker") != 0 &&
        strcmp(req->runtime_handler, "runc") != 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "runtime handler `%s` is not served by the docker backend",
                                req->runtime_handler);
    if (!crimp_pod_host_network(cfg) && !cni_runner_ready(d->cni, NULL))
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "the pod network is not ready: no CNI config");
    json_auto_t *body = docker_sandbox_spec(cfg, &d->spec, err);
    if (body == NULL)
        return -1;
    if (docker_ensure_image(d, rpc, d->pause_image, err) < 0)
        return crimp_error_wrap(err, "pause image");
    cleanup_free char *name = docker_sandbox_name(cfg->metadata);
    cleanup_free char *id = NULL;
    /* The intent names the pause container before it exists: a crash
     * before its checkpoint is written still leaves something that says
     * it is half-made (recover.c).  */
    if (docker_intent_begin(d, name, err) < 0)
        return -1;
    if (docker_create(d, name, body, &id, err) < 0) {
        docker_intent_end(d, name);
        return -1;
    }
    /* Written before start: Stop and Remove must find the pod whatever
     * happens from here on; "pending" until RunPodSandbox is done, so that
     * a crimpd that dies in between tears it down at its next start.  */
    json_auto_t *ckpt = json_pack("{s:s, s:s, s:s, s:b, s:o, s:[], s:b, s:b}", "name",
                                  cfg->metadata->name, "namespace", cfg->metadata->namespace_,
                                  "uid", cfg->metadata->uid, "host_network",
                                  crimp_pod_host_network(cfg), "port_mappings", crimp_pod_port_mappings(cfg),
                                  "ips", "network_torn_down", 0, "pending", 1);
    int ret = crimp_checkpoint_write(d->sandbox_dir, id, ckpt, err);
    docker_intent_end(d, name); /* the checkpoint says it from here on */
    if (ret == 0)
        ret = cri_dockerd_checkpoint_write(d, id, cfg, err);
    if (ret == 0)
        ret = start_sandbox(d, id, cfg, ckpt, err);
    if (ret == 0) {
        json_object_del(ckpt, "pending");
        ret = crimp_checkpoint_write(d->sandbox_dir, id, ckpt, err);
    }
    if (ret < 0) {
        docker_sandbox_undo(d, id, ckpt);
        return crimp_error_wrap(err, "run pod sandbox %s", name);
    }
    resp->pod_sandbox_id = steal_ptr(&id);
    return 0;
}

/* A checkpoint rebuilt from the pause container's labels when crimp's own
 * is gone (its state dir was lost, or another crimpd made the pod), so that
 * Stop still runs CNI DEL and the pod's address is freed.  The port
 * mappings are not known any more.  */
static json_t *checkpoint_from_inspect(json_t *inspect)
{
    struct docker_cri_meta meta;
    cleanup_error crimp_error_t err = NULL;
    if (docker_meta_of_inspect(inspect, true, &meta, &err) < 0)
        return NULL;
    const char *net = json_string_value(
        json_object_get(json_object_get(inspect, "HostConfig"), "NetworkMode")) ?: "";
    json_t *ckpt = json_pack("{s:s?, s:s?, s:s?, s:b}", "name", meta.name, "namespace",
                             meta.namespace_, "uid", meta.uid, "host_network",
                             strcmp(net, "host") == 0);
    docker_cri_meta_free(&meta);
    return ckpt;
}

/* Sandbox ID's checkpoint: 0 with *CKPT (NULL when there is none, or it
 * was corrupt and is now set aside), -1 when it is there but cannot be
 * read now (EMFILE, EIO…): not a reason to act as if it were gone.  */
static int read_checkpoint(struct docker_backend *d, const char *id, json_t **ckpt,
                           crimp_error_t *err)
{
    cleanup_error crimp_error_t e = NULL;
    *ckpt = NULL;
    if (crimp_checkpoint_read(d->sandbox_dir, id, ckpt, &e) == 0 ||
        e->code == GRPC_STATUS_NOT_FOUND)
        return 0;
    if (e->code == GRPC_STATUS_DATA_LOSS) {
        log_warn("docker: sandbox %.12s: %s", id, e->msg);
        return 0;
    }
    *err = steal_ptr(&e);
    return -1;
}

/* The checkpoint of sandbox ID (full): crimp's own; else one made and kept
 * from what cri-dockerd left, or rebuilt from the pause container's labels
 * (INSPECT, may be NULL) when crimp's state was lost.  */
static int sandbox_checkpoint(struct docker_backend *d, const char *id, json_t *inspect,
                              json_t **ckpt, crimp_error_t *err)
{
    if (read_checkpoint(d, id, ckpt, err) < 0)
        return -1;
    if (*ckpt != NULL)
        return 0;
    *ckpt = cri_dockerd_adopt_checkpoint(d, id, inspect);
    if (*ckpt == NULL && inspect != NULL)
        *ckpt = checkpoint_from_inspect(inspect);
    crimp_error_t e = NULL;
    if (*ckpt && crimp_checkpoint_write(d->sandbox_dir, id, *ckpt, &e) < 0) {
        log_warn("docker: sandbox %.12s: %s", id, e->msg);
        crimp_error_release(&e);
    }
    return 0;
}

/* CNI DEL once per sandbox: the flag in the checkpoint says it is done.  */
static int teardown_network(struct docker_backend *d, const char *id, json_t *inspect,
                            json_t *ckpt, crimp_error_t *err)
{
    if (ckpt == NULL || json_is_true(json_object_get(ckpt, "host_network")) ||
        json_is_true(json_object_get(ckpt, "network_torn_down")))
        return 0;
    json_t *state = json_object_get(inspect, "State");
    json_int_t pid = json_is_true(json_object_get(state, "Running")) ?
                         json_integer_value(json_object_get(state, "Pid")) : 0;
    char netns[64] = "";
    if (pid > 0)
        snprintf(netns, sizeof(netns), "/proc/%lld/ns/net", (long long)pid);
    struct cni_attachment a = attachment(id, ckpt, netns);
    if (cni_del(d->cni, &a, err) < 0)
        return -1;
    json_object_set_new(ckpt, "network_torn_down", json_true());
    return crimp_checkpoint_write(d->sandbox_dir, id, ckpt, err);
}

/* Stops (or with REMOVE removes) every container of the pod.  */
static int for_pod_containers(struct docker_backend *d, const char *sandbox_id, bool remove,
                              crimp_error_t *err)
{
    cleanup_free char *label = xasprintf("%s=%s", DOCKER_LABEL_SANDBOX_ID, sandbox_id);
    json_auto_t *filter = json_pack("{s:b}", label, 1);
    json_auto_t *list = NULL;
    if (docker_list(d, DOCKER_TYPE_CONTAINER, filter, &list, err) < 0)
        return -1;
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
        const char *cid = json_string_value(json_object_get(c, "Id"));
        if (remove) {
            docker_logs_forget(d->logs, cid);
            if (docker_force_remove(d, cid, err) < 0)
                return -1;
        } else if (strcmp(json_string_value(json_object_get(c, "State")) ?: "", "running") == 0 &&
                   stop_container_now(d, cid, 0, err) < 0) {
            return -1;
        }
    }
    return 0;
}


/* The pod's full ID and inspect, or its checkpoint when the pause container
 * is gone.  Returns 1 when neither exists.  */
static int find_sandbox(struct docker_backend *d, const char *id, char **full, json_t **inspect,
                        json_t **ckpt, crimp_error_t *err)
{
    cleanup_error crimp_error_t rerr = NULL;
    *inspect = *ckpt = NULL;
    *full = docker_resolve(d, id, true, &rerr);
    if (*full == NULL) {
        if (rerr->code != GRPC_STATUS_NOT_FOUND) {
            *err = steal_ptr(&rerr);
            return -1;
        }
        /* The pause container is gone; its checkpoint (named by the full
         * ID only) still tells what to release.  */
        if (!docker_id_is_full(id))
            return 1;
        *full = xstrdup(id);
        if (sandbox_checkpoint(d, *full, NULL, ckpt, err) < 0)
            return -1;
        return *ckpt == NULL ? 1 : 0;
    }
    if (docker_inspect(d, *full, inspect, &rerr) < 0 && rerr->code != GRPC_STATUS_NOT_FOUND) {
        *err = steal_ptr(&rerr);
        return -1;
    }
    if (sandbox_checkpoint(d, *full, *inspect, ckpt, err) < 0) {
        json_decref(*inspect);
        *inspect = NULL;
        return -1;
    }
    return 0;
}

int docker_stop_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__StopPodSandboxRequest *req,
                            Runtime__V1__StopPodSandboxResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *id = NULL;
    json_auto_t *inspect = NULL, *ckpt = NULL;
    int found = find_sandbox(d, req->pod_sandbox_id, &id, &inspect, &ckpt, err);
    if (found < 0)
        return -1;
    if (found == 1)
        return 0; /* already removed: stopping it is done */
    if (for_pod_containers(d, id, false, err) < 0 || teardown_network(d, id, inspect, ckpt, err) < 0)
        return crimp_error_wrap(err, "stop pod sandbox %.12s", id);
    if (inspect && stop_container_now(d, id, SANDBOX_STOP_SECONDS, err) < 0)
        return crimp_error_wrap(err, "stop pod sandbox %.12s", id);
    return 0;
}

int docker_remove_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                              const Runtime__V1__RemovePodSandboxRequest *req,
                              Runtime__V1__RemovePodSandboxResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *id = NULL;
    json_auto_t *inspect = NULL, *ckpt = NULL;
    int found = find_sandbox(d, req->pod_sandbox_id, &id, &inspect, &ckpt, err);
    if (found < 0)
        return -1;
    if (found == 1)
        return 0;
    /* Unlike dockershim, Remove releases the network when Stop did not, so
     * an IP never leaks.  */
    if (for_pod_containers(d, id, true, err) < 0 || teardown_network(d, id, inspect, ckpt, err) < 0 ||
        (inspect && docker_force_remove(d, id, err) < 0))
        return crimp_error_wrap(err, "remove pod sandbox %.12s", id);
    cri_dockerd_checkpoint_remove(d, id);
    return crimp_checkpoint_remove(d->sandbox_dir, id, err);
}

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
    struct docker_cri_meta meta;
    if (docker_meta_of_inspect(inspect, true, &meta, err) < 0)
        return crimp_error_wrap(err, "pod sandbox %.12s", full);
    const char *id = json_string_value(json_object_get(inspect, "Id"));
    json_auto_t *ckpt = NULL;
    cleanup_error crimp_error_t cerr = NULL;
    if (id != NULL && sandbox_checkpoint(d, id, inspect, &ckpt, &cerr) < 0)
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
    const char *id = json_string_value(json_object_get(c, "Id")) ?: "";
    if (!str_empty(f->id) && !has_prefix(id, f->id))
        return false;
    bool running = strcmp(json_string_value(json_object_get(c, "State")) ?: "", "running") == 0;
    if (f->state && (f->state->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY) != running)
        return false;
    return docker_labels_match(meta->labels, (void *const *)f->label_selector,
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
    return 0;
}
