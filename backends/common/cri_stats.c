/* CRI stats messages from cgroup files, the layer-usage cache and
 * metadata.  */
#include "cri_stats.h"

#include <string.h>

#include "pbutil.h"
#include "utils.h"

Runtime__V1__UInt64Value *crimp_u64_value(uint64_t v)
{
    Runtime__V1__UInt64Value *x = xmalloc(sizeof(*x));
    runtime__v1__uint64_value__init(x);
    x->value = v;
    return x;
}

static Runtime__V1__FilesystemUsage *layer_usage(const struct crimp_container_facts *f,
                                                 int64_t now)
{
    Runtime__V1__FilesystemUsage *fs = xmalloc(sizeof(*fs));
    runtime__v1__filesystem_usage__init(fs);
    fs->timestamp = f->layer_usage && f->layer_usage->at_ns ? f->layer_usage->at_ns : now;
    fs->fs_id = xmalloc(sizeof(*fs->fs_id));
    runtime__v1__filesystem_identifier__init(fs->fs_id);
    fs->fs_id->mountpoint = xstrdup(f->layer_dir ? f->layer_dir : "");
    fs->used_bytes = crimp_u64_value(f->layer_usage ? f->layer_usage->bytes : 0);
    fs->inodes_used = crimp_u64_value(f->layer_usage ? f->layer_usage->inodes : 0);
    return fs;
}

static Runtime__V1__CpuUsage *cpu_usage(const struct crimp_cgroup_stats *st, const char *key,
                                        struct crimp_cpu_rates *rates, int64_t now)
{
    Runtime__V1__CpuUsage *cpu = xmalloc(sizeof(*cpu));
    runtime__v1__cpu_usage__init(cpu);
    cpu->timestamp = now;
    cpu->usage_core_nano_seconds = crimp_u64_value(st->cpu_usage_ns);
    uint64_t nano_cores = 0;
    if (st->have_cpu && rates && crimp_cpu_rate(rates, key, now, st->cpu_usage_ns, &nano_cores))
        cpu->usage_nano_cores = crimp_u64_value(nano_cores);
    return cpu;
}

static Runtime__V1__MemoryUsage *memory_usage(const struct crimp_cgroup_stats *st, int64_t now)
{
    Runtime__V1__MemoryUsage *m = xmalloc(sizeof(*m));
    runtime__v1__memory_usage__init(m);
    m->timestamp = now;
    m->working_set_bytes = crimp_u64_value(st->working_set);
    m->usage_bytes = crimp_u64_value(st->memory_usage);
    m->rss_bytes = crimp_u64_value(st->rss);
    m->page_faults = crimp_u64_value(st->page_faults);
    m->major_page_faults = crimp_u64_value(st->major_page_faults);
    if (st->memory_limit)
        m->available_bytes = crimp_u64_value(
            st->memory_limit > st->working_set ? st->memory_limit - st->working_set : 0);
    return m;
}

Runtime__V1__ContainerStats *crimp_container_stats_new(const struct crimp_container_facts *f,
                                                       struct crimp_cpu_rates *rates)
{
    int64_t now = crimp_now_real_ns();
    Runtime__V1__ContainerStats *cs = xmalloc(sizeof(*cs));
    runtime__v1__container_stats__init(cs);
    Runtime__V1__ContainerAttributes *a = xmalloc(sizeof(*a));
    runtime__v1__container_attributes__init(a);
    cs->attributes = a;
    a->id = xstrdup(f->id);
    a->metadata = xmalloc(sizeof(*a->metadata));
    runtime__v1__container_metadata__init(a->metadata);
    a->metadata->name = xstrdup(f->name ? f->name : "");
    a->metadata->attempt = f->attempt;
    a->labels = crimp_pb_map_from_json(&runtime__v1__container_attributes__labels_entry__descriptor,
                                       f->labels, &a->n_labels);
    a->annotations = crimp_pb_map_from_json(
        &runtime__v1__container_attributes__annotations_entry__descriptor, f->annotations,
        &a->n_annotations);
    struct crimp_cgroup_stats st = {0};
    if (f->cgroup)
        crimp_cgroup_stats_read(f->cgroup, &st);
    cs->cpu = cpu_usage(&st, f->id, rates, now);
    cs->memory = memory_usage(&st, now);
    cs->writable_layer = layer_usage(f, now);
    return cs;
}

static Runtime__V1__NetworkInterfaceUsage *interface_usage(const struct crimp_netdev *d)
{
    Runtime__V1__NetworkInterfaceUsage *u = xmalloc(sizeof(*u));
    runtime__v1__network_interface_usage__init(u);
    u->name = xstrdup(d->name);
    u->rx_bytes = crimp_u64_value(d->rx_bytes);
    u->rx_errors = crimp_u64_value(d->rx_errors);
    u->tx_bytes = crimp_u64_value(d->tx_bytes);
    u->tx_errors = crimp_u64_value(d->tx_errors);
    return u;
}

Runtime__V1__NetworkUsage *crimp_network_usage_of_pid(pid_t pid, int64_t now)
{
    struct crimp_netdev devs[16];
    size_t n = pid > 0 ? crimp_netdev_of_pid(pid, devs, 16) : 0;
    if (n == 0)
        return NULL;
    Runtime__V1__NetworkUsage *net = xmalloc(sizeof(*net));
    runtime__v1__network_usage__init(net);
    net->timestamp = now;
    net->interfaces = xcalloc(n, sizeof(*net->interfaces));
    size_t def = 0;
    for (size_t i = 0; i < n; i++) {
        net->interfaces[net->n_interfaces++] = interface_usage(&devs[i]);
        if (strcmp(devs[i].name, "eth0") == 0)
            def = i;
    }
    /* The default interface is a copy: the message owns every pointer once.  */
    net->default_interface = interface_usage(&devs[def]);
    return net;
}

/* A pod's CPU and memory: the sum over its containers.  */
static void pod_totals(Runtime__V1__LinuxPodSandboxStats *lx, int64_t now)
{
    uint64_t cpu = 0, ws = 0, usage = 0, rss = 0, nano_cores = 0;
    bool rates = lx->n_containers > 0;
    for (size_t i = 0; i < lx->n_containers; i++) {
        const Runtime__V1__ContainerStats *c = lx->containers[i];
        if (c->cpu->usage_nano_cores)
            nano_cores += c->cpu->usage_nano_cores->value;
        else
            rates = false;
        cpu += c->cpu->usage_core_nano_seconds->value;
        ws += c->memory->working_set_bytes->value;
        usage += c->memory->usage_bytes->value;
        rss += c->memory->rss_bytes->value;
    }
    lx->cpu = xmalloc(sizeof(*lx->cpu));
    runtime__v1__cpu_usage__init(lx->cpu);
    lx->cpu->timestamp = now;
    lx->cpu->usage_core_nano_seconds = crimp_u64_value(cpu);
    if (rates)
        lx->cpu->usage_nano_cores = crimp_u64_value(nano_cores);
    lx->memory = xmalloc(sizeof(*lx->memory));
    runtime__v1__memory_usage__init(lx->memory);
    lx->memory->timestamp = now;
    lx->memory->working_set_bytes = crimp_u64_value(ws);
    lx->memory->usage_bytes = crimp_u64_value(usage);
    lx->memory->rss_bytes = crimp_u64_value(rss);
}

Runtime__V1__PodSandboxStats *crimp_pod_stats_new(const struct crimp_pod_facts *f)
{
    int64_t now = crimp_now_real_ns();
    Runtime__V1__PodSandboxStats *ps = xmalloc(sizeof(*ps));
    runtime__v1__pod_sandbox_stats__init(ps);
    Runtime__V1__PodSandboxAttributes *a = xmalloc(sizeof(*a));
    runtime__v1__pod_sandbox_attributes__init(a);
    ps->attributes = a;
    a->id = xstrdup(f->id);
    a->metadata = xmalloc(sizeof(*a->metadata));
    runtime__v1__pod_sandbox_metadata__init(a->metadata);
    a->metadata->name = xstrdup(f->name ? f->name : "");
    a->metadata->uid = xstrdup(f->uid ? f->uid : "");
    a->metadata->namespace_ = xstrdup(f->namespace_ ? f->namespace_ : "");
    a->metadata->attempt = f->attempt;
    a->labels = crimp_pb_map_from_json(
        &runtime__v1__pod_sandbox_attributes__labels_entry__descriptor, f->labels, &a->n_labels);
    a->annotations = crimp_pb_map_from_json(
        &runtime__v1__pod_sandbox_attributes__annotations_entry__descriptor, f->annotations,
        &a->n_annotations);
    ps->linux = xmalloc(sizeof(*ps->linux));
    runtime__v1__linux_pod_sandbox_stats__init(ps->linux);
    pod_totals(ps->linux, now);
    ps->linux->network = crimp_network_usage_of_pid(f->net_pid, now);
    return ps;
}

void crimp_pod_stats_set_containers(Runtime__V1__PodSandboxStats *ps,
                                    Runtime__V1__ContainerStats **containers, size_t n)
{
    Runtime__V1__LinuxPodSandboxStats *lx = ps->linux;
    for (size_t i = 0; i < lx->n_containers; i++)
        protobuf_c_message_free_unpacked(&lx->containers[i]->base, NULL);
    free(lx->containers);
    protobuf_c_message_free_unpacked(&lx->cpu->base, NULL);
    protobuf_c_message_free_unpacked(&lx->memory->base, NULL);
    lx->containers = xcalloc(n + 1, sizeof(*lx->containers));
    if (n > 0)
        memcpy(lx->containers, containers, n * sizeof(*containers));
    lx->n_containers = n;
    pod_totals(lx, crimp_now_real_ns());
}
