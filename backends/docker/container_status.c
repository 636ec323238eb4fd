/* Containers on Docker, the read side: ContainerStatus and ListContainers,
 * and the pure readers that turn Docker's inspect and /containers/json
 * entries into CRI containers (fuzzed by tests/fuzz/).  */
#include <stdio.h>
#include <string.h>

#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

/* "src:dst[:opts]" of HostConfig.Binds, in the order kubelet gave them.  */
static Runtime__V1__Mount *mount_from_bind(const char *bind)
{
    Runtime__V1__Mount *m = xmalloc(sizeof(*m));
    runtime__v1__mount__init(m);
    cleanup_free char *copy = xstrdup(bind);
    char *dst = strchr(copy, ':');
    char *opts = dst ? strchr(dst + 1, ':') : NULL;
    if (dst)
        *dst++ = '\0';
    if (opts)
        *opts++ = '\0';
    m->host_path = xstrdup(copy);
    m->container_path = xstrdup(dst ? dst : "");
    if (opts) {
        m->readonly = strstr(opts, "ro") == opts || strstr(opts, ",ro") != NULL;
        m->selinux_relabel = strstr(opts, "Z") != NULL;
        if (strstr(opts, "rshared"))
            m->propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
        else if (strstr(opts, "rslave"))
            m->propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
    }
    return m;
}

static void set_state(Runtime__V1__ContainerStatus *st, json_t *state)
{
    bool running = json_is_true(json_object_get(state, "Running"));
    st->started_at = docker_parse_time(json_string_value(json_object_get(state, "StartedAt")));
    st->finished_at = docker_parse_time(json_string_value(json_object_get(state, "FinishedAt")));
    st->exit_code = (int32_t)json_integer_value(json_object_get(state, "ExitCode"));
    const char *msg = json_string_value(json_object_get(state, "Error"));
    st->message = crimp_pb_strdup(msg ? msg : "");
    const char *reason = "";
    if (running) {
        st->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    } else if (st->finished_at != 0) {
        st->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
        reason = json_is_true(json_object_get(state, "OOMKilled")) ? "OOMKilled"
                 : st->exit_code == 0                              ? "Completed"
                                                                   : "Error";
    } else if (st->exit_code != 0) {
        st->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
        reason = "ContainerCannotRun";
        st->started_at = st->finished_at = st->created_at;
    } else {
        st->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
    }
    st->reason = crimp_pb_strdup(reason);
}

static Runtime__V1__ContainerMetadata *container_metadata(const struct docker_cri_meta *meta)
{
    Runtime__V1__ContainerMetadata *md = xmalloc(sizeof(*md));
    runtime__v1__container_metadata__init(md);
    md->name = xstrdup(meta->name);
    md->attempt = meta->attempt;
    return md;
}

static Runtime__V1__ImageSpec *image_spec(const char *image)
{
    Runtime__V1__ImageSpec *s = xmalloc(sizeof(*s));
    runtime__v1__image_spec__init(s);
    s->image = xstrdup(image ? image : "");
    return s;
}

/* The inspect of a crimp container ID with its CRI metadata; NOT_FOUND for
 * anything else, sandboxes included.  */
static int inspect_container(struct docker_backend *d, const char *id, json_t **inspect,
                             struct docker_cri_meta *meta, crimp_error_t *err)
{
    cleanup_free char *full = docker_resolve(d, id, false, err);
    if (full == NULL || docker_inspect_known(d, full, inspect, err) < 0)
        return crimp_error_wrap(err, "container status");
    if (docker_meta_of_inspect(*inspect, false, meta, err) < 0) {
        json_decref(*inspect);
        *inspect = NULL;
        return crimp_error_wrap(err, "container %.12s", full);
    }
    return 0;
}

/* The resources Docker applies now (after any UpdateContainerResources),
 * from HostConfig: what kubelet's in-place resize compares against.  */
static Runtime__V1__ContainerResources *resources_of(json_t *host)
{
    Runtime__V1__LinuxContainerResources *lx = xmalloc(sizeof(*lx));
    runtime__v1__linux_container_resources__init(lx);
    lx->cpu_period = json_integer_value(json_object_get(host, "CpuPeriod"));
    lx->cpu_quota = json_integer_value(json_object_get(host, "CpuQuota"));
    lx->cpu_shares = json_integer_value(json_object_get(host, "CpuShares"));
    lx->memory_limit_in_bytes = json_integer_value(json_object_get(host, "Memory"));
    lx->memory_swap_limit_in_bytes = json_integer_value(json_object_get(host, "MemorySwap"));
    lx->cpuset_cpus = xstrdup(json_string_value(json_object_get(host, "CpusetCpus")) ?: "");
    lx->cpuset_mems = xstrdup(json_string_value(json_object_get(host, "CpusetMems")) ?: "");
    Runtime__V1__ContainerResources *r = xmalloc(sizeof(*r));
    runtime__v1__container_resources__init(r);
    r->linux = lx;
    return r;
}

void docker_container_status_of(json_t *inspect, const struct docker_cri_meta *meta, bool verbose,
                                Runtime__V1__ContainerStatusResponse *resp)
{
    Runtime__V1__ContainerStatus *st = xmalloc(sizeof(*st));
    runtime__v1__container_status__init(st);
    st->id = xstrdup(json_string_value(json_object_get(inspect, "Id")) ?: "");
    st->metadata = container_metadata(meta);
    st->created_at = docker_parse_time(json_string_value(json_object_get(inspect, "Created")));
    set_state(st, json_object_get(inspect, "State"));
    json_t *config = json_object_get(inspect, "Config");
    st->image = image_spec(json_string_value(json_object_get(config, "Image")));
    st->image_ref = xstrdup(json_string_value(json_object_get(inspect, "Image")) ?: "");
    st->labels = crimp_pb_map_from_json(&runtime__v1__container_status__labels_entry__descriptor,
                                        meta->labels, &st->n_labels);
    st->annotations = crimp_pb_map_from_json(
        &runtime__v1__container_status__annotations_entry__descriptor, meta->annotations,
        &st->n_annotations);
    st->log_path = crimp_pb_strdup(docker_label_of(inspect, DOCKER_LABEL_LOG_PATH) ?: "");
    json_t *binds = json_object_get(json_object_get(inspect, "HostConfig"), "Binds");
    st->mounts = xcalloc(json_array_size(binds) + 1, sizeof(*st->mounts));
    size_t i;
    json_t *b;
    json_array_foreach (binds, i, b)
        if (json_string_value(b))
            st->mounts[st->n_mounts++] = mount_from_bind(json_string_value(b));
    st->resources = resources_of(json_object_get(inspect, "HostConfig"));
    resp->status = st;
    if (verbose) {
        json_auto_t *info = json_pack(
            "{s:s, s:I}", "sandboxID", docker_label_of(inspect, DOCKER_LABEL_SANDBOX_ID) ?: "", "pid",
            json_integer_value(json_object_get(json_object_get(inspect, "State"), "Pid")));
        cleanup_free char *text = json_dumps(info, JSON_COMPACT);
        json_auto_t *map = json_pack("{s:s}", "info", text);
        resp->info = crimp_pb_map_from_json(
            &runtime__v1__container_status_response__info_entry__descriptor, map, &resp->n_info);
    }
}

int docker_container_status(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__ContainerStatusRequest *req,
                            Runtime__V1__ContainerStatusResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    json_auto_t *inspect = NULL;
    struct docker_cri_meta meta;
    if (inspect_container(d, req->container_id, &inspect, &meta, err) < 0)
        return -1;
    docker_container_status_of(inspect, &meta, req->verbose, resp);
    docker_cri_meta_free(&meta);
    /* Exited only once its output is in the CRI log (bounded wait).  */
    if (resp->status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED)
        docker_logs_wait_drained(d->logs, resp->status->id, docker_logs_drain_deadline(d->logs));
    return 0;
}

static Runtime__V1__ContainerState state_of_list_entry(json_t *c)
{
    const char *s = json_string_value(json_object_get(c, "State")) ?: "";
    if (strcmp(s, "running") == 0 || strcmp(s, "paused") == 0 || strcmp(s, "restarting") == 0)
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    if (strcmp(s, "created") == 0)
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
    if (strcmp(s, "exited") == 0 || strcmp(s, "dead") == 0)
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    return RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN;
}

bool docker_container_passes(const Runtime__V1__ContainerFilter *f, json_t *c,
                             const struct docker_cri_meta *meta)
{
    if (f == NULL)
        return true;
    const char *pod = json_string_value(
        json_object_get(json_object_get(c, "Labels"), DOCKER_LABEL_SANDBOX_ID)) ?: "";
    if (!str_empty(f->pod_sandbox_id) && !has_prefix(pod, f->pod_sandbox_id))
        return false;
    if (f->state && f->state->state != state_of_list_entry(c))
        return false;
    return docker_entry_matches(c, meta, f->id, (void *const *)f->label_selector,
                                f->n_label_selector);
}

Runtime__V1__Container *docker_container_of_list_entry(json_t *c, const struct docker_cri_meta *meta)
{
    Runtime__V1__Container *ct = xmalloc(sizeof(*ct));
    runtime__v1__container__init(ct);
    json_t *labels = json_object_get(c, "Labels");
    ct->id = xstrdup(json_string_value(json_object_get(c, "Id")) ?: "");
    ct->pod_sandbox_id =
        xstrdup(json_string_value(json_object_get(labels, DOCKER_LABEL_SANDBOX_ID)) ?: "");
    ct->metadata = container_metadata(meta);
    ct->image = image_spec(json_string_value(json_object_get(c, "Image")));
    /* kubelet's image GC compares this with ListImages ids.  */
    ct->image_ref = xstrdup(json_string_value(json_object_get(c, "ImageID")) ?: "");
    ct->state = state_of_list_entry(c);
    ct->created_at = docker_seconds_to_ns(json_integer_value(json_object_get(c, "Created")));
    ct->labels = crimp_pb_map_from_json(&runtime__v1__container__labels_entry__descriptor,
                                        meta->labels, &ct->n_labels);
    ct->annotations = crimp_pb_map_from_json(
        &runtime__v1__container__annotations_entry__descriptor, meta->annotations,
        &ct->n_annotations);
    return ct;
}

struct list_ctx {
    struct docker_logs *logs;
    int64_t drain_deadline; /* one bound for the whole list */
    const Runtime__V1__ContainerFilter *filter;
    Runtime__V1__ListContainersResponse *resp;
    size_t cap;
};

static void add_if_passes(void *arg, json_t *c, const struct docker_cri_meta *meta)
{
    struct list_ctx *x = arg;
    if (!docker_container_passes(x->filter, c, meta))
        return;
    if (x->resp->n_containers == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 16;
        x->resp->containers = xrealloc(x->resp->containers, x->cap * sizeof(*x->resp->containers));
    }
    Runtime__V1__Container *ct = docker_container_of_list_entry(c, meta);
    if (ct->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED)
        docker_logs_wait_drained(x->logs, ct->id, x->drain_deadline);
    x->resp->containers[x->resp->n_containers++] = ct;
}

int docker_list_containers(struct crimp_backend *self, struct crimp_rpc *rpc,
                           const Runtime__V1__ListContainersRequest *req,
                           Runtime__V1__ListContainersResponse *resp, crimp_error_t *err)
{
    struct docker_logs *logs = docker_of(self)->logs;
    struct list_ctx x = {.logs = logs, .drain_deadline = docker_logs_drain_deadline(logs),
                         .filter = req->filter, .resp = resp};
    return docker_list_each(docker_of(self), DOCKER_TYPE_CONTAINER, add_if_passes, &x, err);
}
