/* ListMetricDescriptors and ListPodSandboxMetrics on the docker backend:
 * the inventory's pods and containers through the common cAdvisor-named
 * metrics (backends/common/cri_metrics).  */
#include <string.h>

#include "common/cri_metrics.h"
#include "docker-internal.h"
#include "utils.h"

int docker_list_metric_descriptors(struct crimp_backend *self, struct crimp_rpc *rpc,
                                   const Runtime__V1__ListMetricDescriptorsRequest *req,
                                   Runtime__V1__ListMetricDescriptorsResponse *resp,
                                   crimp_error_t *err)
{
    crimp_metric_descriptors(resp);
    return 0;
}

/* A pod's metrics and the names its containers' metrics repeat.  */
struct pod_slot {
    Runtime__V1__PodSandboxMetrics *pm;
    char *name, *namespace_;
};

struct metrics_ctx {
    struct docker_backend *d;
    struct pod_slot *pods;
    size_t n, cap;
    bool containers; /* second walk: containers into their pods */
};

static struct pod_slot *pod_of(struct metrics_ctx *x, const char *pod_id)
{
    for (size_t i = 0; i < x->n; i++)
        if (pod_id && strcmp(x->pods[i].pm->pod_sandbox_id, pod_id) == 0)
            return &x->pods[i];
    return NULL;
}

static void add_container(struct metrics_ctx *x, const struct docker_inv_item *it)
{
    struct pod_slot *pod = pod_of(x, it->pod_id);
    if (pod == NULL)
        return; /* its pod is gone: nothing to attribute it to */
    Runtime__V1__PodSandboxMetrics *pm = pod->pm;
    struct crimp_fs_usage layer = {0};
    struct crimp_container_facts f = docker_container_facts(x->d, it, &layer);
    struct crimp_metric_names names = {.id = it->id, .name = it->meta->name, .image = it->image,
                                       .container = it->meta->name, .pod = pod->name,
                                       .namespace_ = pod->namespace_};
    Runtime__V1__ContainerMetrics *cm = crimp_container_metrics_new(&f, &names);
    pm->container_metrics = xrealloc(pm->container_metrics,
                                     (pm->n_container_metrics + 1) * sizeof(*pm->container_metrics));
    pm->container_metrics[pm->n_container_metrics++] = cm;
}

static void collect(void *ctx, const struct docker_inv_item *it)
{
    struct metrics_ctx *x = ctx;
    if (x->containers) {
        if (!it->sandbox)
            add_container(x, it);
        return;
    }
    if (!it->sandbox)
        return;
    if (x->n == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->pods = xrealloc(x->pods, x->cap * sizeof(*x->pods));
    }
    struct crimp_pod_facts f = docker_pod_facts(it);
    struct crimp_metric_names names = {.id = it->id, .name = it->meta->name, .image = it->image,
                                       .container = "POD", .pod = it->meta->name,
                                       .namespace_ = it->meta->namespace_};
    x->pods[x->n++] = (struct pod_slot){crimp_pod_metrics_new(&f, &names),
                                        xstrdup(it->meta->name ?: ""),
                                        xstrdup(it->meta->namespace_ ?: "")};
}

int docker_list_pod_sandbox_metrics(struct crimp_backend *self, struct crimp_rpc *rpc,
                                    const Runtime__V1__ListPodSandboxMetricsRequest *req,
                                    Runtime__V1__ListPodSandboxMetricsResponse *resp,
                                    crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    if (docker_inventory_ready(d->inventory, err) < 0)
        return -1;
    struct metrics_ctx x = {.d = d};
    docker_inventory_each(d->inventory, collect, &x);
    x.containers = true;
    docker_inventory_each(d->inventory, collect, &x);
    resp->pod_metrics = xcalloc(x.n + 1, sizeof(*resp->pod_metrics));
    for (size_t i = 0; i < x.n; i++) {
        resp->pod_metrics[resp->n_pod_metrics++] = x.pods[i].pm;
        free(x.pods[i].name);
        free(x.pods[i].namespace_);
    }
    free(x.pods);
    return 0;
}
