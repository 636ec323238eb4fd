/* Container and pod stats on the docker backend: CPU and memory from the
 * cgroup files (backends/common/cgroup), the writable layer from the
 * overlay upper directory Docker reports — one list call and one inspect
 * per container, never Docker's stats endpoint.  */
#include <ftw.h>
#include <string.h>

#include "common/cgroup.h"
#include "docker-internal.h"
#include "labels.h"
#include "pbutil.h"
#include "utils.h"

static _Thread_local uint64_t du_bytes, du_inodes;

static int du_visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    du_bytes += (uint64_t)sb->st_blocks * 512;
    du_inodes++;
    return 0;
}

static Runtime__V1__UInt64Value *u64(uint64_t v)
{
    Runtime__V1__UInt64Value *x = xmalloc(sizeof(*x));
    runtime__v1__uint64_value__init(x);
    x->value = v;
    return x;
}

static Runtime__V1__FilesystemUsage *writable_layer(json_t *inspect, int64_t now)
{
    const char *upper = json_string_value(json_object_get(
        json_object_get(json_object_get(inspect, "GraphDriver"), "Data"), "UpperDir"));
    Runtime__V1__FilesystemUsage *fs = xmalloc(sizeof(*fs));
    runtime__v1__filesystem_usage__init(fs);
    fs->timestamp = now;
    fs->fs_id = xmalloc(sizeof(*fs->fs_id));
    runtime__v1__filesystem_identifier__init(fs->fs_id);
    fs->fs_id->mountpoint = xstrdup(upper ? upper : "");
    du_bytes = du_inodes = 0;
    if (upper)
        nftw(upper, du_visit, 16, FTW_PHYS | FTW_MOUNT);
    fs->used_bytes = u64(du_bytes);
    fs->inodes_used = u64(du_inodes);
    return fs;
}

/* CPU and memory of a running container; zeros for one that is not, so a
 * created container is still listed (critest and kubelet expect it).  */
static void cpu_memory(struct docker_backend *d, Runtime__V1__ContainerStats *cs, json_t *inspect,
                       int64_t now)
{
    json_t *state = json_object_get(inspect, "State");
    json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
    struct crimp_cgroup_stats st = {0};
    crimp_error_t err = NULL;
    if (pid > 0 && json_is_true(json_object_get(state, "Running")) &&
        crimp_cgroup_stats_of_pid((pid_t)pid, &st, &err) < 0)
        crimp_error_release(&err); /* exited meanwhile: zeros */
    cs->cpu = xmalloc(sizeof(*cs->cpu));
    runtime__v1__cpu_usage__init(cs->cpu);
    cs->cpu->timestamp = now;
    cs->cpu->usage_core_nano_seconds = u64(st.cpu_usage_ns);
    uint64_t nano_cores = 0;
    const char *id = json_string_value(json_object_get(inspect, "Id"));
    if (st.have_cpu && id && crimp_cpu_rate(d->cpu_rates, id, now, st.cpu_usage_ns, &nano_cores))
        cs->cpu->usage_nano_cores = u64(nano_cores);
    cs->memory = xmalloc(sizeof(*cs->memory));
    runtime__v1__memory_usage__init(cs->memory);
    cs->memory->timestamp = now;
    cs->memory->working_set_bytes = u64(st.working_set);
    cs->memory->usage_bytes = u64(st.memory_usage);
    cs->memory->rss_bytes = u64(st.rss);
    cs->memory->page_faults = u64(st.page_faults);
    cs->memory->major_page_faults = u64(st.major_page_faults);
    if (st.memory_limit)
        cs->memory->available_bytes =
            u64(st.memory_limit > st.working_set ? st.memory_limit - st.working_set : 0);
}

static Runtime__V1__ContainerStats *stats_from_inspect(struct docker_backend *d, json_t *inspect,
                                                       const struct docker_cri_meta *meta)
{
    int64_t now = crimp_now_real_ns();
    Runtime__V1__ContainerStats *cs = xmalloc(sizeof(*cs));
    runtime__v1__container_stats__init(cs);
    cs->attributes = xmalloc(sizeof(*cs->attributes));
    runtime__v1__container_attributes__init(cs->attributes);
    cs->attributes->id = xstrdup(json_string_value(json_object_get(inspect, "Id")) ?: "");
    cs->attributes->metadata = xmalloc(sizeof(*cs->attributes->metadata));
    runtime__v1__container_metadata__init(cs->attributes->metadata);
    cs->attributes->metadata->name = xstrdup(meta->name);
    cs->attributes->metadata->attempt = meta->attempt;
    cs->attributes->labels = crimp_pb_map_from_json(
        &runtime__v1__container_attributes__labels_entry__descriptor, meta->labels,
        &cs->attributes->n_labels);
    cs->attributes->annotations = crimp_pb_map_from_json(
        &runtime__v1__container_attributes__annotations_entry__descriptor, meta->annotations,
        &cs->attributes->n_annotations);
    cpu_memory(d, cs, inspect, now);
    cs->writable_layer = writable_layer(inspect, now);
    return cs;
}

/* Stats of container ID, NULL (and NOT_FOUND) when it is no crimp
 * container.  */
static Runtime__V1__ContainerStats *stats_of(struct docker_backend *d, const char *id,
                                             crimp_error_t *err)
{
    json_t *inspect = NULL;
    if (docker_inspect(d, id, &inspect, err) < 0)
        return NULL;
    json_auto_t *owned = inspect;
    json_t *labels = json_object_get(json_object_get(inspect, "Config"), "Labels");
    struct docker_cri_meta meta;
    if (strcmp(json_string_value(json_object_get(labels, DOCKER_LABEL_TYPE)) ?: "",
               DOCKER_TYPE_CONTAINER) != 0 ||
        docker_cri_meta_from_labels(labels, &meta, err) < 0) {
        crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "container %s not found", id);
        return NULL;
    }
    Runtime__V1__ContainerStats *cs = stats_from_inspect(d, inspect, &meta);
    docker_cri_meta_free(&meta);
    return cs;
}

int docker_container_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                           const Runtime__V1__ContainerStatsRequest *req,
                           Runtime__V1__ContainerStatsResponse *resp, crimp_error_t *err)
{
    resp->stats = stats_of(docker_of(self), req->container_id, err);
    return resp->stats ? 0 : -1;
}

static bool passes(json_t *c, const char *id_prefix, const char *pod, void *const *selector,
                   size_t n_selector)
{
    const char *id = json_string_value(json_object_get(c, "Id")) ?: "";
    json_t *labels = json_object_get(c, "Labels");
    const char *owner = json_string_value(json_object_get(labels, DOCKER_LABEL_SANDBOX_ID)) ?: "";
    if (!str_empty(id_prefix) && !has_prefix(id, id_prefix))
        return false;
    if (!str_empty(pod) && !has_prefix(owner, pod))
        return false;
    if (n_selector == 0)
        return true;
    struct docker_cri_meta meta;
    crimp_error_t e = NULL;
    if (docker_cri_meta_from_labels(labels, &meta, &e) < 0) {
        crimp_error_release(&e);
        return false;
    }
    bool ok = docker_labels_match(meta.labels, selector, n_selector);
    docker_cri_meta_free(&meta);
    return ok;
}

/* Stats of every container passing the filter.  */
static int list_stats(struct docker_backend *d, const char *id, const char *pod,
                      void *const *selector, size_t n_selector,
                      Runtime__V1__ContainerStats ***out, size_t *n, crimp_error_t *err)
{
    json_t *list = NULL;
    if (docker_list(d, DOCKER_TYPE_CONTAINER, NULL, &list, err) < 0)
        return -1;
    json_auto_t *owned = list;
    *out = xcalloc(json_array_size(list) + 1, sizeof(**out));
    *n = 0;
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
        if (!passes(c, id, pod, selector, n_selector))
            continue;
        crimp_error_t e = NULL;
        Runtime__V1__ContainerStats *cs =
            stats_of(d, json_string_value(json_object_get(c, "Id")), &e);
        if (cs)
            (*out)[(*n)++] = cs;
        crimp_error_release(&e); /* removed meanwhile */
    }
    return 0;
}

int docker_list_container_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                                const Runtime__V1__ListContainerStatsRequest *req,
                                Runtime__V1__ListContainerStatsResponse *resp, crimp_error_t *err)
{
    const Runtime__V1__ContainerStatsFilter *f = req->filter;
    return list_stats(docker_of(self), f ? f->id : NULL, f ? f->pod_sandbox_id : NULL,
                      f ? (void *const *)f->label_selector : NULL, f ? f->n_label_selector : 0,
                      &resp->stats, &resp->n_stats, err);
}

/* The pod's network: the pause process's namespace, eth0 its default.  */
static Runtime__V1__NetworkUsage *pod_network(pid_t pid, int64_t now)
{
    struct crimp_netdev devs[16];
    size_t n = pid > 0 ? crimp_netdev_of_pid(pid, devs, 16) : 0;
    if (n == 0)
        return NULL;
    Runtime__V1__NetworkUsage *net = xmalloc(sizeof(*net));
    runtime__v1__network_usage__init(net);
    net->timestamp = now;
    net->interfaces = xcalloc(n, sizeof(*net->interfaces));
    for (size_t i = 0; i < n; i++) {
        Runtime__V1__NetworkInterfaceUsage *u = xmalloc(sizeof(*u));
        runtime__v1__network_interface_usage__init(u);
        u->name = xstrdup(devs[i].name);
        u->rx_bytes = u64(devs[i].rx_bytes);
        u->rx_errors = u64(devs[i].rx_errors);
        u->tx_bytes = u64(devs[i].tx_bytes);
        u->tx_errors = u64(devs[i].tx_errors);
        net->interfaces[net->n_interfaces++] = u;
    }
    size_t def = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(devs[i].name, "eth0") == 0)
            def = i;
    /* The default interface is a copy: the message owns every pointer once.  */
    Runtime__V1__NetworkInterfaceUsage *d = xmalloc(sizeof(*d));
    runtime__v1__network_interface_usage__init(d);
    d->name = xstrdup(devs[def].name);
    d->rx_bytes = u64(devs[def].rx_bytes);
    d->rx_errors = u64(devs[def].rx_errors);
    d->tx_bytes = u64(devs[def].tx_bytes);
    d->tx_errors = u64(devs[def].tx_errors);
    net->default_interface = d;
    return net;
}

/* A pod's CPU and memory: the sum over its containers.  */
static void pod_totals(Runtime__V1__LinuxPodSandboxStats *lx)
{
    int64_t now = crimp_now_real_ns();
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
    lx->cpu->usage_core_nano_seconds = u64(cpu);
    if (rates)
        lx->cpu->usage_nano_cores = u64(nano_cores);
    lx->memory = xmalloc(sizeof(*lx->memory));
    runtime__v1__memory_usage__init(lx->memory);
    lx->memory->timestamp = now;
    lx->memory->working_set_bytes = u64(ws);
    lx->memory->usage_bytes = u64(usage);
    lx->memory->rss_bytes = u64(rss);
}

static Runtime__V1__PodSandboxStats *pod_stats(struct docker_backend *d, json_t *pod,
                                               const struct docker_cri_meta *meta,
                                               crimp_error_t *err)
{
    const char *id = json_string_value(json_object_get(pod, "Id"));
    Runtime__V1__PodSandboxStats *ps = xmalloc(sizeof(*ps));
    runtime__v1__pod_sandbox_stats__init(ps);
    ps->attributes = xmalloc(sizeof(*ps->attributes));
    runtime__v1__pod_sandbox_attributes__init(ps->attributes);
    ps->attributes->id = xstrdup(id);
    ps->attributes->metadata = xmalloc(sizeof(*ps->attributes->metadata));
    runtime__v1__pod_sandbox_metadata__init(ps->attributes->metadata);
    ps->attributes->metadata->name = xstrdup(meta->name);
    ps->attributes->metadata->uid = xstrdup(meta->uid ?: "");
    ps->attributes->metadata->namespace_ = xstrdup(meta->namespace_ ?: "");
    ps->attributes->metadata->attempt = meta->attempt;
    ps->attributes->labels = crimp_pb_map_from_json(
        &runtime__v1__pod_sandbox_attributes__labels_entry__descriptor, meta->labels,
        &ps->attributes->n_labels);
    ps->attributes->annotations = crimp_pb_map_from_json(
        &runtime__v1__pod_sandbox_attributes__annotations_entry__descriptor, meta->annotations,
        &ps->attributes->n_annotations);
    ps->linux = xmalloc(sizeof(*ps->linux));
    runtime__v1__linux_pod_sandbox_stats__init(ps->linux);
    if (list_stats(d, NULL, id, NULL, 0, &ps->linux->containers, &ps->linux->n_containers, err) <
        0) {
        protobuf_c_message_free_unpacked(&ps->base, NULL);
        return NULL;
    }
    pod_totals(ps->linux);
    json_t *inspect = NULL;
    crimp_error_t e = NULL;
    if (docker_inspect(d, id, &inspect, &e) == 0) {
        json_t *state = json_object_get(inspect, "State");
        if (json_is_true(json_object_get(state, "Running")))
            ps->linux->network = pod_network(
                (pid_t)json_integer_value(json_object_get(state, "Pid")), crimp_now_real_ns());
        json_decref(inspect);
    }
    crimp_error_release(&e);
    return ps;
}

int docker_pod_sandbox_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                             const Runtime__V1__PodSandboxStatsRequest *req,
                             Runtime__V1__PodSandboxStatsResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    json_t *inspect = NULL;
    if (docker_inspect(d, req->pod_sandbox_id, &inspect, err) < 0)
        return -1;
    json_auto_t *owned = inspect;
    json_t *labels = json_object_get(json_object_get(inspect, "Config"), "Labels");
    struct docker_cri_meta meta;
    if (docker_cri_meta_from_labels(labels, &meta, err) < 0)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "pod sandbox %s not found",
                                req->pod_sandbox_id);
    resp->stats = pod_stats(d, inspect, &meta, err);
    docker_cri_meta_free(&meta);
    return resp->stats ? 0 : -1;
}

int docker_list_pod_sandbox_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                                  const Runtime__V1__ListPodSandboxStatsRequest *req,
                                  Runtime__V1__ListPodSandboxStatsResponse *resp,
                                  crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    json_t *list = NULL;
    if (docker_list(d, DOCKER_TYPE_SANDBOX, NULL, &list, err) < 0)
        return -1;
    json_auto_t *owned = list;
    const Runtime__V1__PodSandboxStatsFilter *f = req->filter;
    resp->stats = xcalloc(json_array_size(list) + 1, sizeof(*resp->stats));
    size_t i;
    json_t *p;
    json_array_foreach (list, i, p) {
        const char *id = json_string_value(json_object_get(p, "Id")) ?: "";
        struct docker_cri_meta meta;
        crimp_error_t e = NULL;
        if ((f && !str_empty(f->id) && !has_prefix(id, f->id)) ||
            docker_cri_meta_from_labels(json_object_get(p, "Labels"), &meta, &e) < 0) {
            crimp_error_release(&e);
            continue;
        }
        if (!f || docker_labels_match(meta.labels, (void *const *)f->label_selector,
                                      f->n_label_selector)) {
            Runtime__V1__PodSandboxStats *ps = pod_stats(d, p, &meta, &e);
            if (ps)
                resp->stats[resp->n_stats++] = ps;
            crimp_error_release(&e);
        }
        docker_cri_meta_free(&meta);
    }
    return 0;
}
