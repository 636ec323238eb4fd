/* Container and pod stats on the
 * containerd backend: crimp's own records (store.c) for what the
 * containers are, the cgroup directories found when each started, the
 * writable layer's upper directory (its usage from the background cache)
 * and the pause process's network namespace — the shared assembly of
 * backends/common/cri_stats and cri_metrics.  No containerd call on the
 * path, except once per container after a crimpd restart, to learn its
 * upper directory again.  */
#include <string.h>

#include "common/cri_metrics.h"
#include "common/cri_stats.h"
#include "common/pod.h"
#include "containerd-internal.h"
#include "pbutil.h"
#include "utils.h"

/* The upper directory of a running container found after a crimpd
 * restart: one Snapshots/Mounts, outside the record's lock.  */
void ctrd_learn_upper_dir(struct ctrd_backend *b, struct crimp_rpc *rpc,
                          struct ctrd_container *c)
{
    pthread_mutex_lock(&c->mu);
    bool known = c->upper_dir != NULL || c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    pthread_mutex_unlock(&c->mu);
    if (known)
        return;
    cleanup_error crimp_error_t err = NULL;
    char *dir = ctrd_snapshot_upper_dir(b, rpc, c->id, &err);
    pthread_mutex_lock(&c->mu);
    if (c->upper_dir == NULL)
        c->upper_dir = steal_ptr(&dir);
    pthread_mutex_unlock(&c->mu);
    free(dir);
}

struct crimp_container_facts ctrd_container_facts(struct ctrd_backend *b,
                                                  struct ctrd_container *c,
                                                  struct crimp_fs_usage *layer)
{
    bool running = c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    if (c->upper_dir)
        crimp_fs_usage_get(b->fs_usage, c->upper_dir, layer);
    return (struct crimp_container_facts){
        .id = c->id, .name = c->config->metadata->name,
        .attempt = c->config->metadata->attempt,
        .cgroup = running ? c->cgroup : NULL, .layer_dir = c->upper_dir,
        .layer_usage = c->upper_dir ? layer : NULL,
    };
}

/* C's stats, read now.  */
static Runtime__V1__ContainerStats *container_stats(struct ctrd_backend *b,
                                                    struct ctrd_container *c)
{
    struct crimp_fs_usage layer = {0};
    pthread_mutex_lock(&c->mu);
    struct crimp_container_facts f = ctrd_container_facts(b, c, &layer);
    json_auto_t *labels = crimp_pb_map_to_json((void *const *)c->config->labels,
                                               c->config->n_labels);
    json_auto_t *annotations = crimp_pb_map_to_json((void *const *)c->config->annotations,
                                                    c->config->n_annotations);
    f.labels = labels;
    f.annotations = annotations;
    Runtime__V1__ContainerStats *st = crimp_container_stats_new(&f, b->cpu_rates);
    pthread_mutex_unlock(&c->mu);
    return st;
}

/* What a container stats call selects.  */
struct container_query {
    const char *id, *pod; /* prefixes; NULL or "": any */
    void *const *selector;
    size_t n_selector;
};

static bool container_passes(const struct ctrd_container *c, const struct container_query *q)
{
    return (str_empty(q->id) || has_prefix(c->id, q->id)) &&
           (str_empty(q->pod) || has_prefix(c->sandbox_id, q->pod)) &&
           crimp_labels_match((void *const *)c->config->labels, c->config->n_labels, q->selector,
                              q->n_selector);
}

static Runtime__V1__ContainerStats **select_stats(struct ctrd_backend *b, struct crimp_rpc *rpc,
                                                  const struct container_query *q, size_t *n_out)
{
    size_t n = 0;
    struct ctrd_container **v = ctrd_containers(b, NULL, &n);
    Runtime__V1__ContainerStats **out = xcalloc(n + 1, sizeof(*out));
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        if (!container_passes(v[i], q))
            continue;
        ctrd_learn_upper_dir(b, rpc, v[i]);
        out[(*n_out)++] = container_stats(b, v[i]);
    }
    ctrd_containers_put_all(v, n);
    return out;
}

int ctrd_container_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                         const Runtime__V1__ContainerStatsRequest *req,
                         Runtime__V1__ContainerStatsResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_container *c = ctrd_container_get(b, req->container_id, err);
    if (c == NULL)
        return -1;
    ctrd_learn_upper_dir(b, rpc, c);
    resp->stats = container_stats(b, c);
    ctrd_container_put(c);
    return 0;
}

int ctrd_list_container_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                              const Runtime__V1__ListContainerStatsRequest *req,
                              Runtime__V1__ListContainerStatsResponse *resp, crimp_error_t *err)
{
    const Runtime__V1__ContainerStatsFilter *f = req->filter;
    struct container_query q = {0};
    if (f)
        q = (struct container_query){f->id, f->pod_sandbox_id, (void *const *)f->label_selector,
                                     f->n_label_selector};
    resp->stats = select_stats(ctrd_of(self), rpc, &q, &resp->n_stats);
    return 0;
}

/* ---- pods ----------------------------------------------------------------- */

/* What names S in stats and metrics; labels and annotations are the
 * caller's to free.  */
struct crimp_pod_facts ctrd_pod_facts(struct ctrd_sandbox *s)
{
    const Runtime__V1__PodSandboxMetadata *md = s->config->metadata;
    bool up = s->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY && !s->task_exited;
    return (struct crimp_pod_facts){
        .id = s->id, .name = md->name, .uid = md->uid, .namespace_ = md->namespace_,
        .attempt = md->attempt,
        .labels = crimp_pb_map_to_json((void *const *)s->config->labels, s->config->n_labels),
        .annotations = crimp_pb_map_to_json((void *const *)s->config->annotations,
                                            s->config->n_annotations),
        .net_pid = up ? s->pid : 0,
    };
}

static Runtime__V1__PodSandboxStats *pod_stats(struct ctrd_backend *b, struct crimp_rpc *rpc,
                                               struct ctrd_sandbox *s)
{
    pthread_mutex_lock(&s->mu);
    struct crimp_pod_facts f = ctrd_pod_facts(s);
    Runtime__V1__PodSandboxStats *ps = crimp_pod_stats_new(&f);
    json_decref(f.labels);
    json_decref(f.annotations);
    pthread_mutex_unlock(&s->mu);
    struct container_query q = {.pod = s->id};
    size_t n = 0;
    Runtime__V1__ContainerStats **cs = select_stats(b, rpc, &q, &n);
    crimp_pod_stats_set_containers(ps, cs, n);
    free(cs);
    return ps;
}

int ctrd_pod_sandbox_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                           const Runtime__V1__PodSandboxStatsRequest *req,
                           Runtime__V1__PodSandboxStatsResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_sandbox *s = ctrd_sandbox_get(b, req->pod_sandbox_id, err);
    if (s == NULL)
        return -1;
    resp->stats = pod_stats(b, rpc, s);
    ctrd_sandbox_put(s);
    return 0;
}

int ctrd_list_pod_sandbox_stats(struct crimp_backend *self, struct crimp_rpc *rpc,
                                const Runtime__V1__ListPodSandboxStatsRequest *req,
                                Runtime__V1__ListPodSandboxStatsResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    const Runtime__V1__PodSandboxStatsFilter *f = req->filter;
    size_t n = 0;
    struct ctrd_sandbox **v = ctrd_sandboxes(b, &n);
    resp->stats = xcalloc(n + 1, sizeof(*resp->stats));
    for (size_t i = 0; i < n; i++) {
        struct ctrd_sandbox *s = v[i];
        if (f && !str_empty(f->id) && !has_prefix(s->id, f->id))
            continue;
        if (f && !crimp_labels_match((void *const *)s->config->labels, s->config->n_labels,
                                     (void *const *)f->label_selector, f->n_label_selector))
            continue;
        resp->stats[resp->n_stats++] = pod_stats(b, rpc, s);
    }
    ctrd_sandboxes_put_all(v, n);
    return 0;
}
