/* cAdvisor-named CRI metrics from cgroup, layer and netns reads.  */
#include "cri_metrics.h"

#include <string.h>

#include "pbutil.h"
#include "utils.h"

#define COUNTER RUNTIME__V1__METRIC_TYPE__COUNTER
#define GAUGE   RUNTIME__V1__METRIC_TYPE__GAUGE

enum extra_label { NO_EXTRA, IFACE, DEVICE };

static const struct {
    const char *name, *help;
    enum extra_label extra;
} DESCRIPTORS[] = {
    {"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", NO_EXTRA},
    {"container_memory_usage_bytes", "Current memory usage in bytes, including all memory "
                                     "regardless of when it was accessed.", NO_EXTRA},
    {"container_memory_working_set_bytes", "Current working set in bytes.", NO_EXTRA},
    {"container_memory_rss", "Size of RSS in bytes.", NO_EXTRA},
    {"container_memory_failures_total", "Cumulative count of memory allocation failures "
                                        "(page faults).", NO_EXTRA},
    {"container_spec_memory_limit_bytes", "Memory limit for the container (0: none).", NO_EXTRA},
    {"container_processes", "Number of processes running inside the container.", NO_EXTRA},
    {"container_fs_usage_bytes", "Number of bytes that are consumed by the container on this "
                                 "filesystem.", DEVICE},
    {"container_fs_inodes_used", "Number of inodes used by the container on this filesystem.",
     DEVICE},
    {"container_network_receive_bytes_total", "Cumulative count of bytes received", IFACE},
    {"container_network_receive_errors_total", "Cumulative count of errors encountered while "
                                               "receiving", IFACE},
    {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", IFACE},
    {"container_network_transmit_errors_total", "Cumulative count of errors encountered while "
                                                "transmitting", IFACE},
};

static const char *const BASE_KEYS[] = {"id", "name", "image", "container", "pod", "namespace"};
#define N_BASE CRIMP_ARRAY_SIZE(BASE_KEYS)

void crimp_metric_descriptors(Runtime__V1__ListMetricDescriptorsResponse *resp)
{
    size_t n = CRIMP_ARRAY_SIZE(DESCRIPTORS);
    resp->descriptors = xcalloc(n, sizeof(*resp->descriptors));
    for (size_t i = 0; i < n; i++) {
        Runtime__V1__MetricDescriptor *d = xmalloc(sizeof(*d));
        runtime__v1__metric_descriptor__init(d);
        d->name = xstrdup(DESCRIPTORS[i].name);
        d->help = xstrdup(DESCRIPTORS[i].help);
        d->label_keys = xcalloc(N_BASE + 1, sizeof(char *));
        for (size_t k = 0; k < N_BASE; k++)
            d->label_keys[d->n_label_keys++] = xstrdup(BASE_KEYS[k]);
        if (DESCRIPTORS[i].extra != NO_EXTRA)
            d->label_keys[d->n_label_keys++] =
                xstrdup(DESCRIPTORS[i].extra == IFACE ? "interface" : "device");
        resp->descriptors[resp->n_descriptors++] = d;
    }
}

/* A growing array of metrics, all with the same names and timestamp.  */
struct metric_list {
    Runtime__V1__Metric **items;
    size_t n, cap;
    const struct crimp_metric_names *names;
    int64_t now;
};

static void add(struct metric_list *l, const char *name, Runtime__V1__MetricType type,
                uint64_t value, const char *extra)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    Runtime__V1__Metric *m = xmalloc(sizeof(*m));
    runtime__v1__metric__init(m);
    m->name = xstrdup(name);
    m->timestamp = l->now;
    m->metric_type = type;
    m->value = crimp_u64_value(value);
    const struct crimp_metric_names *n = l->names;
    const char *base[N_BASE] = {n->id, n->name, n->image, n->container, n->pod, n->namespace_};
    m->label_values = xcalloc(N_BASE + 1, sizeof(char *));
    for (size_t k = 0; k < N_BASE; k++)
        m->label_values[m->n_label_values++] = xstrdup(base[k] ? base[k] : "");
    if (extra)
        m->label_values[m->n_label_values++] = xstrdup(extra);
    l->items[l->n++] = m;
}

Runtime__V1__ContainerMetrics *crimp_container_metrics_new(const struct crimp_container_facts *f,
                                                           const struct crimp_metric_names *n)
{
    struct crimp_cgroup_stats st = {0};
    if (f->cgroup)
        crimp_cgroup_stats_read(f->cgroup, &st);
    struct metric_list l = {.names = n, .now = crimp_now_real_ns()};
    add(&l, "container_cpu_usage_seconds_total", COUNTER, st.cpu_usage_ns / 1000000000ULL, NULL);
    add(&l, "container_memory_usage_bytes", GAUGE, st.memory_usage, NULL);
    add(&l, "container_memory_working_set_bytes", GAUGE, st.working_set, NULL);
    add(&l, "container_memory_rss", GAUGE, st.rss, NULL);
    add(&l, "container_memory_failures_total", COUNTER, st.page_faults, NULL);
    add(&l, "container_spec_memory_limit_bytes", GAUGE, st.memory_limit, NULL);
    add(&l, "container_processes", GAUGE, st.pids, NULL);
    if (f->layer_usage) {
        const char *dev = f->layer_dir ? f->layer_dir : "";
        add(&l, "container_fs_usage_bytes", GAUGE, f->layer_usage->bytes, dev);
        add(&l, "container_fs_inodes_used", GAUGE, f->layer_usage->inodes, dev);
    }
    Runtime__V1__ContainerMetrics *cm = xmalloc(sizeof(*cm));
    runtime__v1__container_metrics__init(cm);
    cm->container_id = xstrdup(f->id);
    cm->metrics = l.items;
    cm->n_metrics = l.n;
    return cm;
}

Runtime__V1__PodSandboxMetrics *crimp_pod_metrics_new(const struct crimp_pod_facts *f,
                                                      const struct crimp_metric_names *n)
{
    struct metric_list l = {.names = n, .now = crimp_now_real_ns()};
    struct crimp_netdev devs[16];
    size_t nd = f->net_pid > 0 ? crimp_netdev_of_pid(f->net_pid, devs, 16) : 0;
    for (size_t i = 0; i < nd; i++) {
        add(&l, "container_network_receive_bytes_total", COUNTER, devs[i].rx_bytes, devs[i].name);
        add(&l, "container_network_receive_errors_total", COUNTER, devs[i].rx_errors,
            devs[i].name);
        add(&l, "container_network_transmit_bytes_total", COUNTER, devs[i].tx_bytes,
            devs[i].name);
        add(&l, "container_network_transmit_errors_total", COUNTER, devs[i].tx_errors,
            devs[i].name);
    }
    Runtime__V1__PodSandboxMetrics *pm = xmalloc(sizeof(*pm));
    runtime__v1__pod_sandbox_metrics__init(pm);
    pm->pod_sandbox_id = xstrdup(f->id);
    pm->metrics = l.items;
    pm->n_metrics = l.n;
    return pm;
}
