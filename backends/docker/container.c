/* Containers on Docker: create, start, stop, remove, update resources,
 * reopen the log.  ContainerStatus and ListContainers: container_status.c.  */
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
    /* Only labels and Tty are read, which never change: the inventory's
     * copy (fresh from the resolve) serves.  */
    if (id == NULL || docker_inspect_known(d, id, &inspect, err) < 0)
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
    const char *log_path = docker_label_of(inspect, DOCKER_LABEL_LOG_PATH);
    if (docker_label_of(inspect, DOCKER_LABEL_CRI) == NULL) { /* adopted */
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
    if (docker_inspect_known(d, id, &inspect, &e) < 0) {
        crimp_error_release(&e);
        return;
    }
    const char *log_path = docker_label_of(inspect, DOCKER_LABEL_LOG_PATH);
    struct stat st;
    if (docker_label_of(inspect, DOCKER_LABEL_CRI) == NULL && !str_empty(log_path) &&
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
    if (docker_label_of(inspect, DOCKER_LABEL_CRI) == NULL)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "container %.12s was made by cri-dockerd: its log is Docker's "
                                "json file, which crimp does not reopen",
                                id);
    return docker_logs_reopen(d->logs, id, err);
}
