/* Containers on containerd's native API (docs/containerd.md):
 * Create = rootfs snapshot of the image + OCI spec + container record;
 * Start = stdio FIFOs + Tasks/Create + the log copier + Tasks/Start;
 * Stop = stop signal, grace period, SIGKILL, exit handled by monitor.c;
 * Remove = task, record, snapshot, FIFOs, checkpoint;
 * UpdateContainerResources = Tasks/Update, then the record keeps them.
 * ContainerStatus and ListContainers: container_status.c.  */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crilog.h"
#include "deadline.h"
#include "common/oci_spec.h"
#include "safe_open.h"
#include "common/oom.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

#define KILL_WAIT_NS (10LL * 1000 * 1000 * 1000)
#define MAX_ETC_FILE (1024 * 1024)

/* ---- the image's /etc/passwd and /etc/group ----------------------------- */

/* Reads REL from the topmost layer directory of MOUNTS that has it: a fresh
 * rootfs snapshot is empty on top, so its lower dirs (overlay) or its
 * source (bind) are the image.  No mount needed.  The image chose what is
 * there: REL is resolved inside the layer (a symlink to /etc/shadow names
 * the layer's own), and a FIFO, device or magic link is skipped with a
 * warning rather than read (a FIFO would block the worker for good).  */
/* DIR/REL's text (at most MAX_ETC_FILE bytes), NULL when it cannot be read.  */
static char *read_etc_file(const char *dir, const char *rel)
{
    crimp_error_t err = NULL;
    char *text = crimp_read_in_root(dir, rel, MAX_ETC_FILE, &err);
    if (text == NULL && err->code != GRPC_STATUS_NOT_FOUND)
        log_warn("containerd: image file %s ignored: %s", rel, err->msg);
    crimp_error_release(&err);
    return text;
}

static char *read_from_layers(Containerd__Types__Mount **mounts, size_t n, const char *rel)
{
    for (size_t i = 0; i < n; i++) {
        const Containerd__Types__Mount *m = mounts[i];
        if (strcmp(m->type, "bind") == 0)
            return read_etc_file(m->source, rel);
        for (size_t j = 0; j < m->n_options; j++) {
            if (!has_prefix(m->options[j], "lowerdir="))
                continue;
            cleanup_free char *dirs = xstrdup(m->options[j] + strlen("lowerdir="));
            char *save = NULL;
            for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *text = read_etc_file(d, rel);
                if (text)
                    return text;
            }
        }
    }
    return NULL;
}

/* ---- CreateContainer ---------------------------------------------------- */

static char *log_path_of(const Runtime__V1__PodSandboxConfig *pod,
                         const Runtime__V1__ContainerConfig *cfg)
{
    if (str_empty(pod->log_directory) || str_empty(cfg->log_path))
        return xstrdup("");
    return xasprintf("%s/%s", pod->log_directory, cfg->log_path);
}

static json_t *container_spec(struct ctrd_backend *b, struct ctrd_sandbox *s, const char *id,
                              const Runtime__V1__ContainerConfig *cfg,
                              const struct ctrd_image *img,
                              Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *snap,
                              crimp_error_t *err)
{
    cleanup_free char *dir = ctrd_pod_dir(b, s->id);
    cleanup_free char *hn = xasprintf("%s/hostname", dir);
    cleanup_free char *hosts = xasprintf("%s/hosts", dir);
    cleanup_free char *resolv = xasprintf("%s/resolv.conf", dir);
    cleanup_free char *shm = xasprintf("%s/shm", dir);
    cleanup_free char *passwd = read_from_layers(snap->mounts, snap->n_mounts, "etc/passwd");
    cleanup_free char *group = read_from_layers(snap->mounts, snap->n_mounts, "etc/group");
    cleanup_free char *cg = NULL;
    if (ctrd_cgroups_path(b, s->config->linux ? s->config->linux->cgroup_parent : NULL, id, &cg,
                          err) < 0)
        return NULL;
    struct oci_container_params p = {
        .id = id,
        .sandbox_id = s->id,
        .pod = s->config,
        .image_config = json_object_get(img->config, "config"),
        .image_name = cfg->image->image,
        .sandbox_pid = s->pid,
        .hostname = s->config->hostname,
        .hostname_path = hn,
        .resolv_conf_path = resolv,
        .hosts_path = hosts,
        .shm_path = access(shm, F_OK) == 0 ? shm : NULL,
        .cgroups_path = cg,
        .oom_score_adj_min = b->oom_score_adj_min,
        .recursive_ro_supported = b->recursive_ro,
        .passwd = passwd,
        .group = group,
    };
    return oci_container_spec(cfg, &p, err);
}

static int create_in_containerd(struct ctrd_backend *b, struct crimp_rpc *rpc,
                                struct ctrd_sandbox *s, struct ctrd_container *c,
                                const struct ctrd_image *img, crimp_error_t *err)
{
    cleanup_free char *lease = NULL;
    struct ctrd_opts o = {.rpc = rpc};
    if (ctrd_lease_create(b->conn, &o, &lease, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *snap = NULL;
    int ret = ctrd_prepare_rootfs(b, rpc, lease, c->id, img->chain_id, &snap, err);
    json_t *spec = ret == 0 ? container_spec(b, s, c->id, c->config, img, snap, err) : NULL;
    if (ret == 0 && spec == NULL)
        ret = -1;
    if (ret == 0)
        ret = ctrd_create_record(b, rpc, lease, c->id, img->name, "container", spec, err);
    json_decref(spec);
    if (snap)
        protobuf_c_message_free_unpacked(&snap->base, NULL);
    cleanup_error crimp_error_t lerr = NULL;
    ctrd_lease_delete(b->conn, &o, lease, &lerr);
    return ret;
}

int ctrd_create_container(struct crimp_backend *self, struct crimp_rpc *rpc,
                          const Runtime__V1__CreateContainerRequest *req,
                          Runtime__V1__CreateContainerResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    const Runtime__V1__ContainerConfig *cfg = req->config;
    if (cfg == NULL || cfg->metadata == NULL || cfg->image == NULL || str_empty(cfg->image->image))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "CreateContainer needs config.metadata and config.image");
    cleanup_free char *id = ctrd_new_id(err);
    if (id == NULL)
        return -1;
    struct ctrd_sandbox *s = ctrd_sandbox_get(b, req->pod_sandbox_id, err);
    if (s == NULL)
        return -1;
    if (crilog_path_check(s->config->log_directory, cfg->log_path, err) < 0) {
        ctrd_sandbox_put(s);
        return -1;
    }
    if (s->state != RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY) {
        ctrd_sandbox_put(s);
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "pod sandbox %.12s is not ready", req->pod_sandbox_id);
    }
    struct ctrd_image img = {0};
    /* No unpacked check here: Snapshots/Prepare says NOT_FOUND for a
     * missing parent, one round trip fewer on the common path.  */
    if (ctrd_image_get(b, rpc, cfg->image->image, 0, &img, err) < 0) {
        ctrd_sandbox_put(s);
        return crimp_error_wrap(err, "image %s", cfg->image->image);
    }
    cleanup_free char *name_key = ctrd_reserve_container_name(b, s->id, cfg->metadata, id, err);
    if (name_key == NULL) {
        ctrd_image_clear(&img);
        ctrd_sandbox_put(s);
        return -1;
    }
    struct ctrd_container *c = ctrd_container_new(id);
    c->config = (Runtime__V1__ContainerConfig *)ctrd_pb_clone(&cfg->base);
    c->sandbox_id = xstrdup(s->id);
    c->image_id = xstrdup(img.id);
    c->image_name = xstrdup(cfg->image->image);
    c->log_path = log_path_of(s->config, cfg);
    c->created_at = crimp_now_real_ns();
    c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
    cleanup_free char *what = xasprintf("%s in pod %.12s", cfg->metadata->name, s->id);
    int ret = ctrd_intent_begin(b, "container", id, what, err);
    if (ret == 0)
        ret = create_in_containerd(b, rpc, s, c, &img, err);
    if (ret == 0)
        ret = ctrd_container_add(b, c, err);
    if (ret < 0) {
        cleanup_error crimp_error_t uerr = NULL;
        if (ctrd_delete_record(b, NULL, id, &uerr) < 0)
            log_warn("containerd: cleanup of a failed container: %s", uerr->msg);
    }
    ctrd_intent_end(b, id);
    ctrd_store_release_name(b, name_key);
    if (ret == 0) {
        crimp_event_hub_publish(b->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT,
                                c->id, c->sandbox_id, c->created_at);
        resp->container_id = steal_ptr(&id);
    }
    ctrd_container_put(c);
    ctrd_image_clear(&img);
    ctrd_sandbox_put(s);
    return ret;
}

/* ---- StartContainer ----------------------------------------------------- */

static int snapshot_mounts(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *key,
                           Containerd__Services__Snapshots__V1__MountsResponse **out,
                           crimp_error_t *err)
{
    Containerd__Services__Snapshots__V1__MountsRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;
    req.snapshotter = b->snapshotter;
    req.key = (char *)key;
    struct ctrd_opts o = {.rpc = rpc};
    return ctrd_call(b->conn, &o, CTRD_SNAPSHOTS "Mounts", &req.base,
                     &containerd__services__snapshots__v1__mounts_response__descriptor,
                     (ProtobufCMessage **)out, err);
}

char *ctrd_upper_dir_of_mounts(Containerd__Types__Mount **mounts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < mounts[i]->n_options; j++)
            if (has_prefix(mounts[i]->options[j], "upperdir="))
                return xstrdup(mounts[i]->options[j] + strlen("upperdir="));
    return NULL;
}

char *ctrd_snapshot_upper_dir(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *key,
                              crimp_error_t *err)
{
    Containerd__Services__Snapshots__V1__MountsResponse *mounts = NULL;
    if (snapshot_mounts(b, rpc, key, &mounts, err) < 0)
        return NULL;
    char *dir = ctrd_upper_dir_of_mounts(mounts->mounts, mounts->n_mounts);
    protobuf_c_message_free_unpacked(&mounts->base, NULL);
    return dir;
}

void ctrd_container_find_cgroup(struct ctrd_container *c)
{
    if (c->cgroup != NULL || c->pid <= 0)
        return;
    struct crimp_cgroup_dirs *dirs = xcalloc(1, sizeof(*dirs));
    cleanup_error crimp_error_t err = NULL;
    if (crimp_cgroup_dirs_of_pid(c->pid, dirs, &err) < 0) {
        log_debug("containerd: cgroup of %.12s: %s", c->id, err->msg);
        free(dirs);
        return;
    }
    c->cgroup = dirs;
}

static void remove_fifos(const struct ctrd_container *c);

#define SETTLE_AT_MOST_NS (30LL * 1000 * 1000 * 1000)
#define SETTLE_AT_LEAST_NS (2LL * 1000 * 1000 * 1000)

/* How long a failed start may wait for containerd to say what it made:
 * within kubelet's deadline (less a second for the answer), at most 30 s,
 * and a short while even when kubelet gave up (cancelled, past its
 * deadline), as the task may run all the same.  */
static int64_t settle_until(struct crimp_rpc *rpc)
{
    int64_t now = crimp_now_mono_ns();
    int64_t until = now + SETTLE_AT_MOST_NS;
    int64_t deadline = rpc ? crimp_deadline_mono_ns(rpc->deadline) : CRIMP_NO_DEADLINE;
    if (deadline != CRIMP_NO_DEADLINE && deadline - 1000000000LL < until)
        until = deadline - 1000000000LL;
    return until < now + SETTLE_AT_LEAST_NS ? now + SETTLE_AT_LEAST_NS : until;
}

/* Whether ERR leaves open that containerd made or still makes the task
 * (the call was cut short, not refused).  */
static bool inconclusive(const crimp_error_t err)
{
    return err->code == GRPC_STATUS_UNAVAILABLE || err->code == GRPC_STATUS_DEADLINE_EXCEEDED ||
           err->code == GRPC_STATUS_CANCELLED || err->code == GRPC_STATUS_UNKNOWN;
}

/* StartContainer failed with START_ERR after Tasks/Create went out (C
 * locked): the task may exist and even run.  kubelet is told that the
 * start failed, so the task goes (SIGKILL, wait, Tasks/Delete) and the
 * record's "exited" is true.  When containerd does not answer in time, or
 * the failure was a cut (containerd may finish a Tasks/Create it still
 * has), the container is marked: the reaper asks again for a while and
 * removes a task it finds; ContainerStatus says unknown till then.  */
static void settle_failed_start(struct ctrd_backend *b, struct crimp_rpc *rpc,
                                struct ctrd_container *c, const crimp_error_t start_err)
{
    cleanup_error crimp_error_t err = NULL;
    bool settled = ctrd_settle_task(b, c->id, 0, settle_until(rpc), &err) == 0;
    if (settled)
        c->task_gone = true;
    if (settled && !inconclusive(start_err))
        return;
    if (!settled)
        log_warn("containerd: container %.12s failed to start and %s; the reaper will remove "
                 "its task",
                 c->id, err->msg);
    c->start_unsettled = true;
    c->unsettled_until_ns = crimp_now_mono_ns() + SETTLE_AT_MOST_NS;
    ctrd_monitor_check(b, c->id);
}

static int start_task(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_container *c,
                      crimp_error_t *err)
{
    bool tty = c->config->tty;
    cleanup_free char *io_dir = xasprintf("%s/io", b->state_dir);
    struct ctrd_fifos f = {.fd_in = -1, .fd_out = -1, .fd_err = -1};
    if (ctrd_fifos_create(io_dir, c->id, c->config->stdin, !tty, &f, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__MountsResponse *mounts = NULL;
    int ret = snapshot_mounts(b, rpc, c->id, &mounts, err);
    if (ret == 0)
        c->task_gone = false; /* Tasks/Create may make one though its answer is lost */
    if (ret == 0)
        ret = ctrd_create_task(b, rpc, c->id, mounts->mounts, mounts->n_mounts, &f, tty, &c->pid,
                               err);
    if (ret == 0)
        c->task_gone = false; /* a task again, after one killed by recovery */
    if (ret == 0 && c->upper_dir == NULL)
        c->upper_dir = ctrd_upper_dir_of_mounts(mounts->mounts, mounts->n_mounts);
    if (mounts)
        protobuf_c_message_free_unpacked(&mounts->base, NULL);
    /* The logger holds stdin's write end from here on: attach feeds it,
     * and closing it is the process's EOF (stdin_once, or its end).  */
    if (ret == 0)
        ret = ctrd_logger_add(b->logger, c->id, steal_fd(&f.fd_out), steal_fd(&f.fd_err),
                              steal_fd(&f.fd_in), c->config->stdin_once, c->log_path, err);
    if (ret == 0)
        ret = ctrd_monitor_watch(b, c->id, err);
    if (ret == 0)
        ret = ctrd_start_task(b, rpc, c->id, NULL, err);
    if (ret < 0) {
        if (!c->task_gone)
            settle_failed_start(b, rpc, c, *err);
        ctrd_logger_finish(b->logger, c->id, 0);
        ctrd_fifos_cleanup(&f);
        return -1;
    }
    remove_fifos(c); /* of a start that crimpd died in (adopted by its recovery) */
    free(c->fifo_dir);
    c->fifo_dir = steal_ptr(&f.dir);
    free(f.stdin_path);
    free(f.stdout_path);
    free(f.stderr_path);
    return 0;
}

int ctrd_start_container(struct crimp_backend *self, struct crimp_rpc *rpc,
                         const Runtime__V1__StartContainerRequest *req,
                         Runtime__V1__StartContainerResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_container *c = ctrd_container_get(b, req->container_id, err);
    if (c == NULL)
        return -1;
    pthread_mutex_lock(&c->mu);
    int ret = 0;
    if (c->state != RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED) {
        ret = crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                               "container %.12s is not in the created state", c->id);
    } else if ((ret = start_task(b, rpc, c, err)) == 0) {
        c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
        c->started_at = crimp_now_real_ns();
        ctrd_container_find_cgroup(c);
        crimp_event_hub_publish(b->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT,
                                c->id, c->sandbox_id, c->started_at);
    } else {
        /* As containerd's CRI: a container that failed to start is exited.  */
        c->state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
        c->task_done = true;
        c->finished_at = crimp_now_real_ns();
        c->exit_code = 128;
        free(c->reason);
        c->reason = xstrdup("StartError");
        free(c->message);
        c->message = xstrdup((*err)->msg);
        /* The container is exited now: say so to Evented PLEG.  */
        crimp_event_hub_publish(b->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT,
                                c->id, c->sandbox_id, c->finished_at);
    }
    cleanup_error crimp_error_t serr = NULL;
    if (ctrd_container_save(b, c, &serr) < 0)
        log_warn("containerd: %s", serr->msg);
    pthread_mutex_unlock(&c->mu);
    ctrd_container_put(c);
    return ret;
}

/* ---- StopContainer, RemoveContainer -------------------------------------- */

static int stop_signal(const struct ctrd_container *c)
{
    return SIGTERM;
}

int ctrd_container_stop(struct ctrd_backend *b, struct crimp_rpc *rpc, struct ctrd_container *c,
                        int64_t timeout_s, crimp_error_t *err)
{
    pthread_mutex_lock(&c->mu);
    bool running = c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    bool first = !c->kill_sent;
    c->kill_sent = true;
    pthread_mutex_unlock(&c->mu);
    /* The record may not know of a task (a start cut short): ask.  */
    if (!running)
        return ctrd_container_settle(b, c, timeout_s, err);
    if (timeout_s > 0 && first) {
        if (ctrd_kill(b, rpc, c->id, NULL, stop_signal(c), err) < 0)
            return -1;
        if (ctrd_wait_flag(&c->mu, &c->exited, &c->task_done,
                           crimp_now_mono_ns() + timeout_s * 1000000000LL))
            return 0;
    }
    if (ctrd_kill(b, rpc, c->id, NULL, SIGKILL, err) < 0)
        return -1;
    if (!ctrd_wait_flag(&c->mu, &c->exited, &c->task_done, crimp_now_mono_ns() + KILL_WAIT_NS))
        ctrd_monitor_reap(b, c->id, 137, 0); /* the wait was lost: reap here */
    return 0;
}

int ctrd_stop_container(struct crimp_backend *self, struct crimp_rpc *rpc,
                        const Runtime__V1__StopContainerRequest *req,
                        Runtime__V1__StopContainerResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_container *c = ctrd_container_get(b, req->container_id, err);
    if (c == NULL)
        return -1;
    int ret = ctrd_container_stop(b, rpc, c, req->timeout, err);
    ctrd_container_put(c);
    return ret;
}

static void remove_fifos(const struct ctrd_container *c)
{
    if (c->fifo_dir == NULL)
        return;
    struct ctrd_fifos f = {.dir = xstrdup(c->fifo_dir), .fd_in = -1, .fd_out = -1, .fd_err = -1};
    f.stdin_path = xasprintf("%s/%s-stdin", c->fifo_dir, c->id);
    f.stdout_path = xasprintf("%s/%s-stdout", c->fifo_dir, c->id);
    f.stderr_path = xasprintf("%s/%s-stderr", c->fifo_dir, c->id);
    ctrd_fifos_cleanup(&f);
}

int ctrd_container_remove(struct ctrd_backend *b, struct crimp_rpc *rpc,
                          struct ctrd_container *c, crimp_error_t *err)
{
    /* Forcibly: a running task is killed at once.  A created or exited
     * record may still have a task (crimpd died inside StartContainer, or
     * its Tasks/Create was cut short): the stop settles that one too, else
     * Containers/Delete would fail on it for good.  */
    if (ctrd_container_stop(b, rpc, c, 0, err) < 0)
        return -1;
    pthread_mutex_lock(&c->mu);
    bool task_gone = c->task_gone;
    pthread_mutex_unlock(&c->mu);
    if (!task_gone && ctrd_delete_task(b, c->id, err) < 0)
        return -1;
    ctrd_logger_finish(b->logger, c->id, 0);
    if (ctrd_delete_record(b, rpc, c->id, err) < 0)
        return -1;
    remove_fifos(c);
    if (c->upper_dir)
        crimp_fs_usage_forget(b->fs_usage, c->upper_dir);
    ctrd_container_forget(b, c);
    crimp_event_hub_publish(b->events, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT,
                            c->id, c->sandbox_id, crimp_now_real_ns());
    return 0;
}

int ctrd_remove_container(struct crimp_backend *self, struct crimp_rpc *rpc,
                          const Runtime__V1__RemoveContainerRequest *req,
                          Runtime__V1__RemoveContainerResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_container *c = ctrd_container_get(b, req->container_id, err);
    if (c == NULL) {
        /* Removing a container that is gone succeeds.  */
        if ((*err)->code == GRPC_STATUS_NOT_FOUND)
            crimp_error_release(err);
        return *err ? -1 : 0;
    }
    int ret = ctrd_container_remove(b, rpc, c, err);
    ctrd_container_put(c);
    return ret;
}

/* ---- ReopenContainerLog, UpdateContainerResources ------------------------ */

int ctrd_reopen_container_log(struct crimp_backend *self, struct crimp_rpc *rpc,
                              const Runtime__V1__ReopenContainerLogRequest *req,
                              Runtime__V1__ReopenContainerLogResponse *resp, crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    struct ctrd_container *c = ctrd_container_get(b, req->container_id, err);
    if (c == NULL)
        return -1;
    bool running = c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    ctrd_container_put(c);
    if (!running)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "container %.12s is not running", req->container_id);
    return ctrd_logger_reopen(b->logger, req->container_id, err);
}

/* Tasks/Update with the new resources, then the record keeps them.  */
int ctrd_update_container_resources(struct crimp_backend *self, struct crimp_rpc *rpc,
                                    const Runtime__V1__UpdateContainerResourcesRequest *req,
                                    Runtime__V1__UpdateContainerResourcesResponse *resp,
                                    crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    if (req->linux == NULL)
        return 0;
    struct ctrd_container *c = ctrd_container_get(b, req->container_id, err);
    if (c == NULL)
        return -1;
    int ret = 0;
    pthread_mutex_lock(&c->mu);
    if (c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING) {
        json_auto_t *res = oci_linux_resources(req->linux);
        Containerd__Services__Tasks__V1__UpdateTaskRequest ureq =
            CONTAINERD__SERVICES__TASKS__V1__UPDATE_TASK_REQUEST__INIT;
        ureq.container_id = c->id;
        ureq.resources = ctrd_any_json(CTRD_TYPE_RESOURCES, res);
        ProtobufCMessage *uresp = NULL;
        struct ctrd_opts o = {.rpc = rpc};
        ret = ctrd_call(b->conn, &o, CTRD_TASKS "Update", &ureq.base,
                        &google__protobuf__empty__descriptor, &uresp, err);
        if (uresp)
            protobuf_c_message_free_unpacked(uresp, NULL);
        protobuf_c_message_free_unpacked(&ureq.resources->base, NULL);
    }
    if (ret == 0) {
        if (c->config->linux == NULL) {
            c->config->linux = xmalloc(sizeof(*c->config->linux));
            runtime__v1__linux_container_config__init(c->config->linux);
        }
        if (c->config->linux->resources)
            protobuf_c_message_free_unpacked(&c->config->linux->resources->base, NULL);
        c->config->linux->resources =
            (Runtime__V1__LinuxContainerResources *)ctrd_pb_clone(&req->linux->base);
        ret = ctrd_container_save(b, c, err);
    }
    pthread_mutex_unlock(&c->mu);
    ctrd_container_put(c);
    return ret;
}
