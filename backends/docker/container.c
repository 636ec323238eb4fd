/* Containers on Docker: create, start, stop, remove, status, list, update.  */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

/* The id in Docker's 409 text: ... already in use by container "ID". ...  */
static char *conflicting_id(const char *msg)
{
    const char *p = strstr(msg, "by container \"");
    if (p == NULL)
        return NULL;
    p += strlen("by container \"");
    return strndup(p, strcspn(p, "\""));
}

/* Docker's names are unique, as CRI names must be: a second create of a
 * pod's or a container's name (an operator's repeated `crictl create`, or
 * kubelet's retry while the first create still runs) is refused with
 * ALREADY_EXISTS naming the holder, and the holder is kept, as containerd's
 * CRI plugin keeps it.  (dockershim removed a holder not running, which
 * deleted a live created or exited container, or the twin still being
 * made.)  A container left behind by a create that failed half way carries
 * the CRI labels, so it is listed and kubelet collects it.  Only a phantom
 * holder Docker cannot find (kubernetes PRs 36768, 40448) is stepped round
 * by a retry under a new name.  */
/* Docker takes the name before the container it creates can be looked
 * up: a holder not found at once may be a twin create still running.  Only
 * one missing for PHANTOM_WAIT_MS is a phantom.  */
enum { PHANTOM_WAIT_MS = 2000, PHANTOM_POLL_MS = 100 };

static bool holder_is_phantom(struct docker_backend *d, const char *holder)
{
    for (int waited = 0; waited <= PHANTOM_WAIT_MS; waited += PHANTOM_POLL_MS) {
        json_auto_t *found = NULL;
        cleanup_error crimp_error_t err = NULL;
        if (docker_get_json(d->client, "/containers/{id}/json", holder, NULL, &found, &err) == 0 ||
            err->code != GRPC_STATUS_NOT_FOUND)
            return false;
        struct timespec pause = {0, PHANTOM_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    return true;
}

static int recover_conflict(struct docker_backend *d, const char *name, json_t *body, char **id,
                            crimp_error_t *err)
{
    cleanup_free char *holder = conflicting_id((*err)->msg);
    if (holder == NULL)
        return -1;
    if (!holder_is_phantom(d, holder)) {
        (*err)->code = GRPC_STATUS_ALREADY_EXISTS;
        return -1;
    }
    log_warn("docker: the name %s is held by container %s, which Docker cannot find: "
             "creating it as %s_<random>", name, holder, name);
    unsigned r = (unsigned)crimp_now_real_ns();
    cleanup_free char *renamed = xasprintf("%s_%08x", name, r);
    crimp_error_release(err);
    return docker_create(d, renamed, body, id, err);
}

int docker_create(struct docker_backend *d, const char *name, json_t *body, char **id,
                  crimp_error_t *err)
{
    cleanup_free char *ename = docker_query_escape(name);
    cleanup_free char *query = xasprintf("name=%s", ename);
    cleanup_docker_response struct docker_response resp = {0};
    if (docker_post(d->client, "/containers/create", NULL, query, body, &resp, err) < 0) {
        if (resp.status == 409)
            return recover_conflict(d, name, body, id, err);
        return -1;
    }
    const char *new_id = json_string_value(json_object_get(resp.json, "Id"));
    if (new_id == NULL)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "docker: create %s: no Id", name);
    *id = xstrdup(new_id);
    docker_inventory_touch(d->inventory, new_id);
    return 0;
}

int docker_create_container(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__CreateContainerRequest *req,
                            Runtime__V1__CreateContainerResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    if (req->config == NULL || req->config->metadata == NULL || req->config->image == NULL ||
        str_empty(req->config->image->image))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "config with metadata and image is required");
    if (req->sandbox_config == NULL || req->sandbox_config->metadata == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "sandbox_config with metadata is required");
    cleanup_free char *sandbox_id = docker_resolve(d, req->pod_sandbox_id, true, err);
    if (sandbox_id == NULL)
        return crimp_error_wrap(err, "create container");
    json_auto_t *body =
        docker_container_spec(req->config, sandbox_id, req->sandbox_config, &d->spec, err);
    if (body == NULL)
        return -1;
    cleanup_free char *name =
        docker_container_name(req->config->metadata, req->sandbox_config->metadata);
    char *id = NULL;
    if (docker_create(d, name, body, &id, err) < 0)
        return crimp_error_wrap(err, "create container %s", name);
    resp->container_id = id;
    return 0;
}

static const char *label_of(json_t *inspect, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(inspect, "Config"), "Labels"), key));
}

/* An adopted container's CRI log is, as cri-dockerd makes it, a symlink to
 * Docker's own json-file log (kubelet reads both formats).  */
static int link_docker_log(struct docker_backend *d, const char *id, const char *log_path,
                           crimp_error_t *err)
{
    json_auto_t *inspect = NULL;
    if (docker_inspect(d, id, &inspect, err) < 0)
        return -1;
    const char *docker_log = json_string_value(json_object_get(inspect, "LogPath"));
    if (str_empty(docker_log))
        return 0; /* not the json-file driver: no log, as with cri-dockerd */
    if ((unlink(log_path) < 0 && errno != ENOENT) || symlink(docker_log, log_path) < 0)
        return crimp_make_errno_error(err, errno, "link `%s` to `%s`", log_path, docker_log);
    return 0;
}

int docker_start_container(struct crimp_backend *self, struct crimp_rpc *rpc,
                           const Runtime__V1__StartContainerRequest *req,
                           Runtime__V1__StartContainerResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *id = docker_resolve(d, req->container_id, false, err);
    json_auto_t *inspect = NULL;
    if (id == NULL || docker_inspect(d, id, &inspect, err) < 0)
        return crimp_error_wrap(err, "start container");
    /* A CRI container runs once: Docker would restart an exited one (its
     * log file appended to, EXITED undone), which no CRI runtime does.  */
    const char *state = json_string_value(json_object_get(json_object_get(inspect, "State"),
                                                          "Status"));
    if (state && strcmp(state, "created") != 0)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "container %.12s is not in the created state (it is %s)", id,
                                state);
    cleanup_docker_response struct docker_response r = {0};
    int rc = docker_post(d->client, "/containers/{id}/start", id, NULL, NULL, &r, err);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0) {
        if (strstr((*err)->msg, "executable file not found"))
            crimp_error_wrap(err, "executable not found in $PATH");
        return crimp_error_wrap(err, "start container %.12s", id);
    }
    const char *log_path = label_of(inspect, DOCKER_LABEL_LOG_PATH);
    if (label_of(inspect, DOCKER_LABEL_CRI) == NULL) { /* adopted */
        if (!str_empty(log_path) && link_docker_log(d, id, log_path, err) < 0)
            return crimp_error_wrap(err, "container %.12s log", id);
        return 0;
    }
    bool tty = json_is_true(json_object_get(json_object_get(inspect, "Config"), "Tty"));
    if (!str_empty(log_path) && docker_logs_attach(d->logs, id, log_path, tty, err) < 0)
        return crimp_error_wrap(err, "container %.12s log", id);
    return 0;
}

int docker_stop_container(struct crimp_backend *self, struct crimp_rpc *rpc,
                          const Runtime__V1__StopContainerRequest *req,
                          Runtime__V1__StopContainerResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *id = docker_resolve(d, req->container_id, false, err);
    if (id == NULL)
        return crimp_error_wrap(err, "stop container");
    long t = req->timeout > 0 ? (long)req->timeout : 0;
    cleanup_free char *q = xasprintf("t=%ld", t);
    struct docker_request r = {.method = "POST", .path = "/containers/{id}/stop", .id = id,
                               .query = q, .timeout_ms = (t + 120) * 1000};
    cleanup_error crimp_error_t serr = NULL;
    int rc = docker_do(d->client, &r, NULL, &serr);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0 && serr->code != GRPC_STATUS_NOT_FOUND) {
        *err = steal_ptr(&serr);
        return crimp_error_wrap(err, "stop container %.12s", id);
    }
    return 0;
}

/* The symlink an adopted container's log path is would dangle once Docker
 * removed its file; crimp's own log files are kubelet's to remove.  */
static void unlink_adopted_log(struct docker_backend *d, const char *id)
{
    json_t *inspect = NULL;
    crimp_error_t e = NULL;
    if (docker_inspect(d, id, &inspect, &e) < 0) {
        crimp_error_release(&e);
        return;
    }
    const char *log_path = label_of(inspect, DOCKER_LABEL_LOG_PATH);
    struct stat st;
    if (label_of(inspect, DOCKER_LABEL_CRI) == NULL && !str_empty(log_path) &&
        lstat(log_path, &st) == 0 && S_ISLNK(st.st_mode))
        unlink(log_path);
    json_decref(inspect);
}

int docker_remove_container(struct crimp_backend *self, struct crimp_rpc *rpc,
                            const Runtime__V1__RemoveContainerRequest *req,
                            Runtime__V1__RemoveContainerResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_error crimp_error_t rerr = NULL;
    cleanup_free char *id = docker_resolve(d, req->container_id, false, &rerr);
    if (id == NULL)
        return rerr->code == GRPC_STATUS_NOT_FOUND ? 0 : (*err = steal_ptr(&rerr), -1);
    docker_logs_forget(d->logs, id);
    unlink_adopted_log(d, id);
    struct docker_request r = {.method = "DELETE", .path = "/containers/{id}", .id = id,
                               .query = "v=1&force=1"};
    int rc = docker_do(d->client, &r, NULL, &rerr);
    docker_inventory_touch(d->inventory, id);
    if (rc < 0 && rerr->code != GRPC_STATUS_NOT_FOUND) {
        *err = steal_ptr(&rerr);
        return crimp_error_wrap(err, "remove container %.12s", id);
    }
    return 0;
}

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
    st->log_path = crimp_pb_strdup(label_of(inspect, DOCKER_LABEL_LOG_PATH) ?: "");
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
            "{s:s, s:I}", "sandboxID", label_of(inspect, DOCKER_LABEL_SANDBOX_ID) ?: "", "pid",
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
    const char *id = json_string_value(json_object_get(c, "Id")) ?: "";
    if (!str_empty(f->id) && !has_prefix(id, f->id))
        return false;
    const char *pod = json_string_value(
        json_object_get(json_object_get(c, "Labels"), DOCKER_LABEL_SANDBOX_ID)) ?: "";
    if (!str_empty(f->pod_sandbox_id) && !has_prefix(pod, f->pod_sandbox_id))
        return false;
    if (f->state && f->state->state != state_of_list_entry(c))
        return false;
    return docker_labels_match(meta->labels, (void *const *)f->label_selector,
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

int docker_update_container_resources(struct crimp_backend *self, struct crimp_rpc *rpc,
                                      const Runtime__V1__UpdateContainerResourcesRequest *req,
                                      Runtime__V1__UpdateContainerResourcesResponse *resp,
                                      crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *id = docker_resolve(d, req->container_id, false, err);
    if (id == NULL)
        return crimp_error_wrap(err, "update container resources");
    const Runtime__V1__LinuxContainerResources *r = req->linux;
    if (r == NULL)
        return 0;
    /* Docker reads 0 as "unchanged": limits can be changed, not lifted.  */
    json_auto_t *body = json_pack("{s:I, s:I, s:I, s:I, s:I}", "CpuPeriod", (json_int_t)r->cpu_period,
                                  "CpuQuota", (json_int_t)r->cpu_quota, "CpuShares",
                                  (json_int_t)r->cpu_shares, "Memory",
                                  (json_int_t)r->memory_limit_in_bytes, "MemorySwap",
                                  (json_int_t)r->memory_limit_in_bytes);
    if (!str_empty(r->cpuset_cpus))
        json_object_set_new(body, "CpusetCpus", json_string(r->cpuset_cpus));
    if (!str_empty(r->cpuset_mems))
        json_object_set_new(body, "CpusetMems", json_string(r->cpuset_mems));
    int rc = docker_post(d->client, "/containers/{id}/update", id, NULL, body, NULL, err);
    docker_inventory_touch(d->inventory, id); /* its status shows the resources */
    if (rc < 0)
        return crimp_error_wrap(err, "update container %.12s", id);
    return 0;
}

int docker_reopen_container_log(struct crimp_backend *self, struct crimp_rpc *rpc,
                                const Runtime__V1__ReopenContainerLogRequest *req,
                                Runtime__V1__ReopenContainerLogResponse *resp, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *id = docker_resolve(d, req->container_id, false, err);
    json_auto_t *inspect = NULL;
    if (id == NULL || docker_inspect(d, id, &inspect, err) < 0)
        return crimp_error_wrap(err, "reopen container log");
    if (label_of(inspect, DOCKER_LABEL_CRI) == NULL)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "container %.12s was made by cri-dockerd: its log is Docker's "
                                "json file, which crimp does not reopen",
                                id);
    return docker_logs_reopen(d->logs, id, err);
}
