/* PodSandboxStatus and ListPodSandbox on the containerd backend, from
 * crimp's records (store.c).  */
#include <signal.h>
#include <string.h>
#include <sys/mount.h>

#include "common/netns.h"
#include "common/pod.h"
#include "containerd-internal.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

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
