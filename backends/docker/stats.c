/* Container and pod stats on the docker backend, answered from the
 * inventory (inventory.h: what inspect told, kept current by Docker's
 * events) and the cgroup and /proc files: no Docker call and no layer walk
 * per container per call (backends/common/cri_stats, fs_usage).  */
#include <string.h>

#include "common/cri_stats.h"
#include "docker-internal.h"
#include "labels.h"
#include "pbutil.h"
#include "utils.h"

struct crimp_container_facts docker_container_facts(struct docker_backend *d,
                                                    const struct docker_inv_item *it,
                                                    struct crimp_fs_usage *layer)
{
    if (it->upper_dir)
        crimp_fs_usage_get(d->fs_usage, it->upper_dir, layer);
    return (struct crimp_container_facts){
        .id = it->id, .name = it->meta->name, .attempt = it->meta->attempt,
        .labels = it->meta->labels, .annotations = it->meta->annotations,
        .cgroup = it->cgroup, .layer_dir = it->upper_dir,
        .layer_usage = it->upper_dir ? layer : NULL,
    };
}

struct crimp_pod_facts docker_pod_facts(const struct docker_inv_item *it)
{
    return (struct crimp_pod_facts){
        .id = it->id, .name = it->meta->name, .uid = it->meta->uid,
        .namespace_ = it->meta->namespace_, .attempt = it->meta->attempt,
        .labels = it->meta->labels, .annotations = it->meta->annotations,
        .net_pid = it->running ? it->pid : 0,
    };
}

/* The stats of one inventory item (a container).  */
static Runtime__V1__ContainerStats *item_stats(struct docker_backend *d,
                                               const struct docker_inv_item *it)
{
    struct crimp_fs_usage layer = {0};
    struct crimp_container_facts f = docker_container_facts(d, it, &layer);
    return crimp_container_stats_new(&f, d->cpu_rates);
}

/* What a container stats call selects.  */
struct container_query {
    const char *id, *pod; /* prefixes; NULL or "": any */
    void *const *selector;
    size_t n_selector;
};

static bool container_passes(const struct docker_inv_item *it, const struct container_query *q)
{
    return !it->sandbox && (str_empty(q->id) || has_prefix(it->id, q->id)) &&
           (str_empty(q->pod) || has_prefix(it->pod_id ?: "", q->pod)) &&
           docker_labels_match(it->meta->labels, q->selector, q->n_selector);
}

struct collect_ctx {
    struct docker_backend *d;
    const struct container_query *q;
    Runtime__V1__ContainerStats **out;
    size_t n, cap;
};

static void collect_container(void *ctx, const struct docker_inv_item *it)
{
    struct collect_ctx *x = ctx;
    if (!container_passes(it, x->q))
        return;
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->out = xrealloc(x->out, (x->cap + 1) * sizeof(*x->out));
    }
    x->out[x->n++] = item_stats(x->d, it);
}

/* The stats of every container Q selects (the inventory is ready).  */
static Runtime__V1__ContainerStats **select_stats(struct docker_backend *d,
                                                  const struct container_query *q, size_t *n)
{
    struct collect_ctx x = {.d = d, .q = q};
    docker_inventory_each(d->inventory, collect_container, &x);
    *n = x.n;
    return x.out;
}

int docker_container_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                           const Runtime__V1__ContainerStatsRequest *req,
                           Runtime__V1__ContainerStatsResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    if (str_empty(req->container_id))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "empty container id");
    struct container_query q = {.id = req->container_id};
    for (int attempt = 0; attempt < 2; attempt++) {
        if (docker_inventory_ready(d->inventory, err) < 0)
            return -1;
        size_t n = 0;
        Runtime__V1__ContainerStats **found = select_stats(d, &q, &n);
        if (n > 0)
            resp->stats = found[0];
        for (size_t i = 1; i < n; i++) /* an ambiguous prefix: the first, as inspect would */
            protobuf_c_message_free_unpacked(&found[i]->base, NULL);
        free(found);
        if (resp->stats)
            return 0;
        /* Not known (yet): look it up as every request's ID is.  */
        cleanup_free char *full = docker_resolve(d, req->container_id, false, err);
        if (full == NULL)
            return -1;
    }
    return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "container %s not found",
                            req->container_id);
}

int docker_list_container_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                                const Runtime__V1__ListContainerStatsRequest *req,
                                Runtime__V1__ListContainerStatsResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    const Runtime__V1__ContainerStatsFilter *f = req->filter;
    struct container_query q = {0};
    if (f)
        q = (struct container_query){f->id, f->pod_sandbox_id, (void *const *)f->label_selector,
                                     f->n_label_selector};
    if (docker_inventory_ready(d->inventory, err) < 0)
        return -1;
    resp->stats = select_stats(d, &q, &resp->n_stats);
    return 0;
}

/* Pods: each sandbox item with the stats of its containers.  */

struct pod_query {
    const char *id;
    void *const *selector;
    size_t n_selector;
};

struct pods_ctx {
    struct docker_backend *d;
    const struct pod_query *q;
    Runtime__V1__PodSandboxStats **out;
    size_t n, cap;
};

static void collect_pod(void *ctx, const struct docker_inv_item *it)
{
    struct pods_ctx *x = ctx;
    if (!it->sandbox || (!str_empty(x->q->id) && !has_prefix(it->id, x->q->id)) ||
        !docker_labels_match(it->meta->labels, x->q->selector, x->q->n_selector))
        return;
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->out = xrealloc(x->out, (x->cap + 1) * sizeof(*x->out));
    }
    /* A placeholder with the pod's facts; its containers are added after
     * this walk (the inventory's read lock is not recursive).  */
    struct crimp_pod_facts pf = docker_pod_facts(it);
    x->out[x->n++] = crimp_pod_stats_new(&pf);
}

/* Fills each pod's containers and their sums.  */
static void add_pod_containers(struct docker_backend *d, Runtime__V1__PodSandboxStats *ps)
{
    struct container_query q = {.pod = ps->attributes->id};
    size_t n = 0;
    Runtime__V1__ContainerStats **cs = select_stats(d, &q, &n);
    crimp_pod_stats_set_containers(ps, cs, n);
    free(cs);
}

static Runtime__V1__PodSandboxStats **select_pods(struct docker_backend *d,
                                                  const struct pod_query *q, size_t *n)
{
    struct pods_ctx x = {.d = d, .q = q};
    docker_inventory_each(d->inventory, collect_pod, &x);
    for (size_t i = 0; i < x.n; i++)
        add_pod_containers(d, x.out[i]);
    *n = x.n;
    return x.out;
}

int docker_pod_sandbox_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                             const Runtime__V1__PodSandboxStatsRequest *req,
                             Runtime__V1__PodSandboxStatsResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    if (str_empty(req->pod_sandbox_id))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "empty pod sandbox id");
    struct pod_query q = {.id = req->pod_sandbox_id};
    for (int attempt = 0; attempt < 2; attempt++) {
        if (docker_inventory_ready(d->inventory, err) < 0)
            return -1;
        size_t n = 0;
        Runtime__V1__PodSandboxStats **found = select_pods(d, &q, &n);
        if (n > 0)
            resp->stats = found[0];
        for (size_t i = 1; i < n; i++)
            protobuf_c_message_free_unpacked(&found[i]->base, NULL);
        free(found);
        if (resp->stats)
            return 0;
        /* Not known (yet): look it up as every request's ID is.  */
        cleanup_free char *full = docker_resolve(d, req->pod_sandbox_id, true, err);
        if (full == NULL)
            return -1;
    }
    return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "pod sandbox %s not found",
                            req->pod_sandbox_id);
}

int docker_list_pod_sandbox_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                                  const Runtime__V1__ListPodSandboxStatsRequest *req,
                                  Runtime__V1__ListPodSandboxStatsResponse *resp,
                                  crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    const Runtime__V1__PodSandboxStatsFilter *f = req->filter;
    struct pod_query q = {0};
    if (f)
        q = (struct pod_query){f->id, (void *const *)f->label_selector, f->n_label_selector};
    if (docker_inventory_ready(d->inventory, err) < 0)
        return -1;
    resp->stats = select_pods(d, &q, &resp->n_stats);
    return 0;
}
