/* ListMetricDescriptors / ListPodSandboxMetrics: cAdvisor-named metrics
 * (the names kubelet's /metrics/cadvisor serves when it takes pod and
 * container stats from the CRI) from the same reads as the stats — the
 * cgroup files, the layer-usage cache and the pod's /proc/PID/net/dev.
 *
 * Every metric carries the label keys id, name, image (CRI-O's base keys)
 * and container, pod, namespace (cAdvisor's), network metrics also
 * interface, filesystem metrics also device.  Values are whole units: a
 * Metric's value is an integer, so *_seconds_total are whole seconds, as
 * CRI-O reports them.  */
#ifndef CRIMP_CRI_METRICS_H
#define CRIMP_CRI_METRICS_H

#include "common/cri_stats.h"
#include "cri.pb-c.h"

/* What names the object a metric is about.  */
struct crimp_metric_names {
    const char *id, *name, *image, *container, *pod, *namespace_;
};

/* Fills RESP with every descriptor crimp's metrics use.  */
void crimp_metric_descriptors(Runtime__V1__ListMetricDescriptorsResponse *resp);

/* The metrics of container F (CPU, memory, processes, writable layer).  */
Runtime__V1__ContainerMetrics *crimp_container_metrics_new(const struct crimp_container_facts *f,
                                                           const struct crimp_metric_names *n);

/* The pod-level metrics of F (its network interfaces); containers are
 * added by the caller to ->container_metrics.  */
Runtime__V1__PodSandboxMetrics *crimp_pod_metrics_new(const struct crimp_pod_facts *f,
                                                      const struct crimp_metric_names *n);

#endif
