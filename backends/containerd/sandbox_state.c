/* StopPodSandbox, RemovePodSandbox, PodSandboxStatus and ListPodSandbox on
 * the containerd backend, from crimp's records (store.c).  */
#include <signal.h>
#include <string.h>
#include <sys/mount.h>

#include "common/netns.h"
#include "common/pod.h"
#include "containerd-internal.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

#define PAUSE_EXIT_WAIT_NS (10LL * 1000 * 1000 * 1000)

/* Kills the pause task and waits for the reaper to record its exit.  */
static int stop_pause(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_sandbox *s,
                      crimp_error_t *err)
{
    if (s->task_exited)
        return 0;
    if (ctrd_kill(b, rpc, s->id, NULL, SIGKILL, err) < 0)
        return -1;
    if (!ctrd_wait_flag(&s->mu, &s->exited, &s->task_exited,
                        crimp_now_mono_ns() + PAUSE_EXIT_WAIT_NS))
        ctrd_monitor_reap(b, s->id, 137, 0); /* the wait was lost: reap it here */
    return 0;
}

int ctrd_sandbox_stop(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_sandbox *s,
                      crimp_error_t *err)
{
    size_t n = 0;
    struct ctrd_container **cs = ctrd_containers(b, s->id, &n);
    int ret = 0;
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = ctrd_container_stop(b, rpc, cs[i], 0, err);
    ctrd_containers_put_all(cs, n);
    if (ret == 0)
        ret = stop_pause(b, rpc, s, err);
    if (ret < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    ret = ctrd_sandbox_teardown_network(b, s, err);
    s->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    cleanup_error crimp_error_t serr = NULL;
    if (ctrd_sandbox_save(b, s, &serr) < 0)
        log_warn("containerd: %s", serr->msg);
    pthread_mutex_unlock(&s->mu);
    cleanup_free char *shm = xasprintf("%s/pods/%s/shm", b->state_dir, s->id);
    umount2(shm, MNT_DETACH);
    return ret;
}

/* Stop and Remove of a pod that is gone succeed (kubelet retries them):
 * 1 with *S when ID is known, 0 when it is not, < 0 on another error.  */
static int existing_sandbox(struct ctrd_backend *b, const char *id, struct ctrd_sandbox **s,
                            crimp_error_t *err)
{
    *s = ctrd_sandbox_get(b, id, err);
    if (*s)
        return 1;
    if ((*err)->code != GRPC_STATUS_NOT_FOUND)
        return -1;
    crimp_error_release(err);
    return 0;
}

int ctrd_stop_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                          const Runtime__V1__StopPodSandboxRequest *req,
                          Runtime__V1__StopPodSandboxResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_sandbox *s = NULL;
    if (existing_sandbox(b, req->pod_sandbox_id, &s, err) <= 0)
        return *err ? -1 : 0;
    int ret = ctrd_sandbox_stop(b, rpc, s, err);
    ctrd_sandbox_put(s);
    return ret;
}

int ctrd_remove_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__RemovePodSandboxRequest *req,
                            Runtime__V1__RemovePodSandboxResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_sandbox *s = NULL;
    if (existing_sandbox(b, req->pod_sandbox_id, &s, err) <= 0)
        return *err ? -1 : 0;
    int ret = ctrd_sandbox_stop(b, rpc, s, err);
    size_t n = 0;
    struct ctrd_container **cs = ctrd_containers(b, s->id, &n);
    for (size_t i = 0; i < n && ret == 0; i++)
        ret = ctrd_container_remove(b, rpc, cs[i], err);
    ctrd_containers_put_all(cs, n);
    if (ret == 0)
        ret = ctrd_delete_record(b, rpc, s->id, err);
    if (ret == 0) {
        ctrd_remove_pod_files(b, s->id);
        ctrd_sandbox_forget(b, s);
    }
    ctrd_sandbox_put(s);
    return ret;
}

/* ---- status and list ---------------------------------------------------- */

static Runtime__V1__PodSandboxNetworkStatus *network_status(struct ctrd_sandbox *s)
{
    Runtime__V1__PodSandboxNetworkStatus *ns = xmalloc(sizeof(*ns));
    runtime__v1__pod_sandbox_network_status__init(ns);
    size_t n = json_array_size(s->ips);
    if (s->state != RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY || n == 0)
        return ns;
    ns->ip = xstrdup(json_string_value(json_array_get(s->ips, 0)));
    ns->additional_ips = xcalloc(n, sizeof(*ns->additional_ips));
    for (size_t i = 1; i < n; i++) {
        Runtime__V1__PodIP *ip = xmalloc(sizeof(*ip));
        runtime__v1__pod_ip__init(ip);
        ip->ip = xstrdup(json_string_value(json_array_get(s->ips, i)));
        ns->additional_ips[ns->n_additional_ips++] = ip;
    }
    return ns;
}

static Runtime__V1__LinuxPodSandboxStatus *linux_status(struct ctrd_sandbox *s)
{
    Runtime__V1__LinuxPodSandboxStatus *lx = xmalloc(sizeof(*lx));
    runtime__v1__linux_pod_sandbox_status__init(lx);
    lx->namespaces = xmalloc(sizeof(*lx->namespaces));
    runtime__v1__namespace__init(lx->namespaces);
    const Runtime__V1__LinuxPodSandboxConfig *l = s->config->linux;
    if (l && l->security_context && l->security_context->namespace_options) {
        lx->namespaces->options = (Runtime__V1__NamespaceOption *)ctrd_pb_clone(
            &l->security_context->namespace_options->base);
    } else {
        /* None asked: the pod's own namespaces (all POD, the zero mode), said
         * as containerd's CRI plugin says it rather than left out.  */
        lx->namespaces->options = xmalloc(sizeof(*lx->namespaces->options));
        runtime__v1__namespace_option__init(lx->namespaces->options);
    }
    return lx;
}

static Runtime__V1__PodSandboxStatus *sandbox_status(struct ctrd_sandbox *s)
{
    Runtime__V1__PodSandboxStatus *st = xmalloc(sizeof(*st));
    runtime__v1__pod_sandbox_status__init(st);
    pthread_mutex_lock(&s->mu);
    st->id = xstrdup(s->id);
    st->metadata = (Runtime__V1__PodSandboxMetadata *)ctrd_pb_clone(&s->config->metadata->base);
    st->state = s->state;
    st->created_at = s->created_at;
    st->network = network_status(s);
    st->linux = linux_status(s);
    st->labels = crimp_pb_map_copy(&runtime__v1__pod_sandbox_status__labels_entry__descriptor,
                          (void *const *)s->config->labels, s->config->n_labels, &st->n_labels);
    st->annotations = crimp_pb_map_copy(&runtime__v1__pod_sandbox_status__annotations_entry__descriptor,
                               (void *const *)s->config->annotations, s->config->n_annotations,
                               &st->n_annotations);
    st->runtime_handler = xstrdup(s->runtime_handler ? s->runtime_handler : "");
    pthread_mutex_unlock(&s->mu);
    return st;
}

int ctrd_pod_sandbox_status(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__PodSandboxStatusRequest *req,
                            Runtime__V1__PodSandboxStatusResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_sandbox *s = ctrd_sandbox_get(b, req->pod_sandbox_id, err);
    if (s == NULL)
        return -1;
    resp->status = sandbox_status(s);
    resp->timestamp = crimp_now_real_ns();
    if (req->verbose) {
        json_auto_t *info = json_pack("{s:s, s:i, s:s, s:O}", "netns", s->netns ? s->netns : "",
                                      "pid", s->pid, "runtime", b->runtime, "ips", s->ips);
        cleanup_free char *text = json_dumps(info, JSON_COMPACT);
        json_auto_t *map = json_pack("{s:s}", "info", text);
        resp->info = crimp_pb_map_from_json(
            &runtime__v1__pod_sandbox_status_response__info_entry__descriptor, map, &resp->n_info);
    }
    ctrd_sandbox_put(s);
    return 0;
}

static bool sandbox_matches(struct ctrd_sandbox *s, const Runtime__V1__PodSandboxFilter *f)
{
    if (f == NULL)
        return true;
    if (!str_empty(f->id) && !has_prefix(s->id, f->id))
        return false;
    if (f->state && f->state->state != s->state)
        return false;
    return crimp_labels_match((void *const *)s->config->labels, s->config->n_labels,
                              (void *const *)f->label_selector, f->n_label_selector);
}

int ctrd_list_pod_sandbox(struct crimp_backend *self, struct crimp_rpc *rpc,
                          const Runtime__V1__ListPodSandboxRequest *req,
                          Runtime__V1__ListPodSandboxResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    size_t n = 0;
    struct ctrd_sandbox **v = ctrd_sandboxes(b, &n);
    resp->items = xcalloc(n + 1, sizeof(*resp->items));
    for (size_t i = 0; i < n; i++) {
        if (!sandbox_matches(v[i], req->filter))
            continue;
        Runtime__V1__PodSandboxStatus *st = sandbox_status(v[i]);
        Runtime__V1__PodSandbox *p = xmalloc(sizeof(*p));
        runtime__v1__pod_sandbox__init(p);
        p->id = steal_ptr(&st->id);
        p->metadata = steal_ptr(&st->metadata);
        p->state = st->state;
        p->created_at = st->created_at;
        p->labels = crimp_pb_map_copy(&runtime__v1__pod_sandbox__labels_entry__descriptor,
                             (void *const *)st->labels, st->n_labels, &p->n_labels);
        p->annotations = crimp_pb_map_copy(&runtime__v1__pod_sandbox__annotations_entry__descriptor,
                                  (void *const *)st->annotations, st->n_annotations,
                                  &p->n_annotations);
        p->runtime_handler = steal_ptr(&st->runtime_handler);
        protobuf_c_message_free_unpacked(&st->base, NULL);
        resp->items[resp->n_items++] = p;
    }
    ctrd_sandboxes_put_all(v, n);
    return 0;
}
