/* ListMetricDescriptors and ListPodSandboxMetrics on the containerd
 * backend: crimp's records (store.c) through the common cAdvisor-named
 * metrics (backends/common/cri_metrics), with the facts stats.c reads.  */
#include <string.h>

#include "common/cri_metrics.h"
#include "common/cri_stats.h"
#include "containerd-internal.h"
#include "pbutil.h"
#include "utils.h"


int ctrd_list_metric_descriptors(struct crimp_backend *self, struct crimp_rpc *rpc,
                                 const Runtime__V1__ListMetricDescriptorsRequest *req,
                                 Runtime__V1__ListMetricDescriptorsResponse *resp,
                                 crimp_error_t *err)
{
    crimp_metric_descriptors(resp);
    return 0;
}

static void add_container_metrics(struct ctrd_backend *b, struct crimp_rpc *rpc,
                                  Runtime__V1__PodSandboxMetrics *pm, struct ctrd_container *c,
                                  const Runtime__V1__PodSandboxMetadata *pod)
{
    ctrd_learn_upper_dir(b, rpc, c);
    struct crimp_fs_usage layer = {0};
    pthread_mutex_lock(&c->mu);
    struct crimp_container_facts f = ctrd_container_facts(b, c, &layer);
    struct crimp_metric_names names = {.id = c->id, .name = c->config->metadata->name,
                                       .image = c->image_name, .container = c->config->metadata->name,
                                       .pod = pod->name, .namespace_ = pod->namespace_};
    Runtime__V1__ContainerMetrics *cm = crimp_container_metrics_new(&f, &names);
    pthread_mutex_unlock(&c->mu);
    pm->container_metrics = xrealloc(pm->container_metrics,
                                     (pm->n_container_metrics + 1) * sizeof(*pm->container_metrics));
    pm->container_metrics[pm->n_container_metrics++] = cm;
}

static Runtime__V1__PodSandboxMetrics *pod_metrics(struct ctrd_backend *b, struct crimp_rpc *rpc,
                                                   struct ctrd_sandbox *s)
{
    pthread_mutex_lock(&s->mu);
    struct crimp_pod_facts f = ctrd_pod_facts(s);
    const Runtime__V1__PodSandboxMetadata *md = s->config->metadata;
    struct crimp_metric_names names = {.id = s->id, .name = md->name, .image = b->pause_image,
                                       .container = "POD", .pod = md->name,
                                       .namespace_ = md->namespace_};
    Runtime__V1__PodSandboxMetrics *pm = crimp_pod_metrics_new(&f, &names);
    json_decref(f.labels);
    json_decref(f.annotations);
    pthread_mutex_unlock(&s->mu);
    size_t n = 0;
    struct ctrd_container **v = ctrd_containers(b, s->id, &n);
    for (size_t i = 0; i < n; i++)
        add_container_metrics(b, rpc, pm, v[i], md); /* the config never changes */
    ctrd_containers_put_all(v, n);
    return pm;
}

int ctrd_list_pod_sandbox_metrics(struct crimp_backend *self, struct crimp_rpc *rpc,
                                  const Runtime__V1__ListPodSandboxMetricsRequest *req,
                                  Runtime__V1__ListPodSandboxMetricsResponse *resp,
                                  crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    size_t n = 0;
    struct ctrd_sandbox **v = ctrd_sandboxes(b, &n);
    resp->pod_metrics = xcalloc(n + 1, sizeof(*resp->pod_metrics));
    for (size_t i = 0; i < n; i++)
        resp->pod_metrics[resp->n_pod_metrics++] = pod_metrics(b, rpc, v[i]);
    ctrd_sandboxes_put_all(v, n);
    return 0;
}
