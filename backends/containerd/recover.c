/* Crash consistency of the containerd backend.
 *
 * RunPodSandbox and CreateContainer make several things before crimp's
 * record of them is written (netns, CNI ADD, pod files with the shm mount,
 * snapshot, containerd container, task).  A crimpd killed in between would
 * leave them with nothing that points at them, so:
 *
 *  - an intent (state_dir/intents/<id>, an atomic checkpoint) is written
 *    before the first side effect and removed once the record is written
 *    or the attempt was undone;
 *  - at start, before any CRI call is served, everything crimp made on
 *    this host that no record explains is removed: CNI attachments (the
 *    runner's cache entries: CNI DEL), pinned netns, pod directories (shm
 *    unmounted), stdio FIFO directories;
 *  - then, on the reaper thread because containerd may not be up yet, and
 *    again 5 s later (containerd may still finish a call the dead crimpd
 *    had in flight), containerd containers, tasks and rootfs snapshots that
 *    neither a record nor a call in flight in this crimpd explains are
 *    deleted, and then the idle shims containerd leaked for calls the dead
 *    crimpd had in flight are ended (shim_sweep.c).
 *
 * Every object removed is logged, with the pod's name when an intent
 * named it.  Objects made by this crimpd are never touched: the local sweep
 * runs before the server starts; the containerd sweep skips the IDs of this
 * crimpd's intents, which cover a call from before its first side effect to
 * after its record is written.  */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checkpoint.h"
#include "common/netns.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "log.h"
#include "utils.h"

#define TASK_STOP_WAIT_NS (10LL * 1000 * 1000 * 1000)
#define TASK_POLL_US      20000

static char *intent_dir(struct ctrd_backend *b)
{
    return xasprintf("%s/intents", b->state_dir);
}

/* The intents of calls in flight in this crimpd, in memory: what the
 * containerd sweep must leave alone although no record explains it yet.  */
static void live_set(struct ctrd_backend *b, const char *id, bool live)
{
    pthread_mutex_lock(&b->intents_mu);
    if (live)
        json_object_set_new(b->live_intents, id, json_true());
    else
        json_object_del(b->live_intents, id);
    pthread_mutex_unlock(&b->intents_mu);
}

static bool is_live(struct ctrd_backend *b, const char *id)
{
    pthread_mutex_lock(&b->intents_mu);
    bool live = json_object_get(b->live_intents, id) != NULL;
    pthread_mutex_unlock(&b->intents_mu);
    return live;
}

void ctrd_live_intents_into(struct ctrd_backend *b, json_t *set)
{
    pthread_mutex_lock(&b->intents_mu);
    const char *id;
    json_t *v;
    json_object_foreach (b->live_intents, id, v)
        json_object_set_new(set, id, json_true());
    pthread_mutex_unlock(&b->intents_mu);
}

int ctrd_intent_begin(struct ctrd_backend *b, const char *kind, const char *id,
                      const char *what, crimp_error_t *err)
{
    live_set(b, id, true);
    cleanup_free char *dir = intent_dir(b);
    json_auto_t *j = json_pack("{s:s, s:s}", "kind", kind, "what", what ? what : "");
    if (crimp_checkpoint_write(dir, id, j, err) < 0) {
        live_set(b, id, false);
        return crimp_error_wrap(err, "intent of %s %.12s", kind, id);
    }
    return 0;
}

void ctrd_intent_end(struct ctrd_backend *b, const char *id)
{
    cleanup_free char *dir = intent_dir(b);
    cleanup_error crimp_error_t err = NULL;
    if (crimp_checkpoint_remove(dir, id, &err) < 0)
        log_warn("containerd: %s", err->msg);
    live_set(b, id, false);
}

/* ---- what the records explain ------------------------------------------- */

static bool is_record_id(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Whether ID is exactly a sandbox's or a container's on record.  */
static bool on_record(struct ctrd_backend *b, const char *id)
{
    bool found = false;
    size_t n = 0;
    struct ctrd_sandbox **sv = ctrd_sandboxes(b, &n);
    for (size_t i = 0; i < n && !found; i++)
        found = strcmp(sv[i]->id, id) == 0;
    ctrd_sandboxes_put_all(sv, n);
    struct ctrd_container **cv = ctrd_containers(b, NULL, &n);
    for (size_t i = 0; i < n && !found; i++)
        found = strcmp(cv[i]->id, id) == 0;
    ctrd_containers_put_all(cv, n);
    return found;
}

/* Whether containerd object ID is crimp's and nothing explains it: no call
 * of this crimpd is making it (asked first: such a call writes the record
 * before it drops the intent) and no record names it.  */
static bool unexplained(struct ctrd_backend *b, const char *id)
{
    return is_record_id(id) && !is_live(b, id) && !on_record(b, id);
}

static bool netns_on_record(struct ctrd_backend *b, const char *path)
{
    bool found = false;
    size_t n = 0;
    struct ctrd_sandbox **sv = ctrd_sandboxes(b, &n);
    for (size_t i = 0; i < n && !found; i++)
        found = sv[i]->netns && strcmp(sv[i]->netns, path) == 0;
    ctrd_sandboxes_put_all(sv, n);
    return found;
}

static bool fifo_dir_on_record(struct ctrd_backend *b, const char *path)
{
    bool found = false;
    size_t n = 0;
    struct ctrd_container **cv = ctrd_containers(b, NULL, &n);
    for (size_t i = 0; i < n && !found; i++)
        found = cv[i]->fifo_dir && strcmp(cv[i]->fifo_dir, path) == 0;
    ctrd_containers_put_all(cv, n);
    return found;
}

/* Calls FN for every entry of DIR but hidden ones (temporary files of
 * checkpoints, . and ..); none if DIR is missing.  */
static void each_entry(const char *dir, void (*fn)(struct ctrd_backend *, const char *dir,
                                                   const char *name),
                       struct ctrd_backend *b)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            fn(b, dir, e->d_name);
    closedir(d);
}

/* ---- the local sweep, before serving ------------------------------------ */

static void log_intent(struct ctrd_backend *b, const char *dir, const char *id)
{
    json_auto_t *j = NULL;
    cleanup_error crimp_error_t err = NULL;
    if (crimp_checkpoint_read(dir, id, &j, &err) < 0) {
        log_warn("containerd: %s", err->msg);
        return;
    }
    if (on_record(b, id)) {
        /* Killed between writing the record and dropping the intent.  */
        log_info("containerd: %s %.12s was complete when crimpd stopped: kept",
                 json_string_value(json_object_get(j, "kind")) ?: "object", id);
        ctrd_intent_end(b, id);
        return;
    }
    json_array_append_new(b->stale_intents, json_string(id));
    log_warn("containerd: %s %.12s%s%s was half-made when crimpd stopped: tearing it down",
             json_string_value(json_object_get(j, "kind")) ?: "object", id,
             str_empty(json_string_value(json_object_get(j, "what"))) ? "" : " of ",
             json_string_value(json_object_get(j, "what")) ?: "");
}

static void sweep_cni_entry(struct ctrd_backend *b, const char *dir, const char *name)
{
    /* Entries are named <sandbox id>-<ifname>.  */
    const char *dash = strchr(name, '-');
    if (dash == NULL)
        return;
    cleanup_free char *id = xstrdup(name);
    id[dash - name] = '\0';
    if (!is_record_id(id) || on_record(b, id))
        return;
    struct cni_attachment a = {.container_id = id, .netns = "", .ifname = dash + 1,
                               .pod_namespace = "", .pod_name = ""};
    cleanup_error crimp_error_t err = NULL;
    if (cni_del(b->cni, &a, &err) < 0)
        log_warn("containerd: CNI DEL of pod %.12s that has no record: %s", id, err->msg);
    else
        log_info("containerd: CNI DEL of pod %.12s that has no record", id);
}

static void sweep_netns(struct ctrd_backend *b, const char *dir, const char *name)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    if (netns_on_record(b, path))
        return;
    cleanup_error crimp_error_t err = NULL;
    if (netns_remove(path, &err) < 0)
        log_warn("containerd: netns %s that no pod has: %s", path, err->msg);
    else
        log_info("containerd: removed netns %s that no pod has", path);
}

static void sweep_pod_dir(struct ctrd_backend *b, const char *dir, const char *name)
{
    if (!is_record_id(name) || on_record(b, name))
        return;
    ctrd_remove_pod_files(b, name);
    log_info("containerd: removed the files (and shm mount) of pod %.12s that has no record",
             name);
}

/* The FIFOs at PATH of a container crimpd died starting: its record
 * (still "created") gets the directory only once a start is done, but the
 * shim holds them with what the process printed before the monitor kills
 * it (monitor.c).  Whether PATH was taken for such a container.  */
static bool adopt_fifo_dir(struct ctrd_backend *b, const char *path)
{
    bool adopted = false;
    size_t n = 0;
    struct ctrd_container **cv = ctrd_containers(b, NULL, &n);
    for (size_t i = 0; i < n && !adopted; i++) {
        struct ctrd_container *c = cv[i];
        cleanup_free char *out = xasprintf("%s/%s-stdout", path, c->id);
        pthread_mutex_lock(&c->mu);
        if (c->fifo_dir == NULL && c->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED &&
            access(out, F_OK) == 0) {
            c->fifo_dir = xstrdup(path);
            adopted = true;
        }
        pthread_mutex_unlock(&c->mu);
    }
    ctrd_containers_put_all(cv, n);
    return adopted;
}

static void sweep_fifo_dir(struct ctrd_backend *b, const char *dir, const char *name)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    if (fifo_dir_on_record(b, path) || adopt_fifo_dir(b, path))
        return;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        cleanup_free char *f = xasprintf("%s/%s", path, e->d_name);
        if (e->d_name[0] != '.')
            unlink(f);
    }
    if (d)
        closedir(d);
    if (rmdir(path) == 0)
        log_info("containerd: removed stdio FIFOs %s that no container has", path);
}

void ctrd_recover_local(struct ctrd_backend *b)
{
    cleanup_free char *intents = intent_dir(b);
    each_entry(intents, log_intent, b);
    cleanup_free char *cache = xasprintf("%s/cni-cache", b->state_dir);
    each_entry(cache, sweep_cni_entry, b);
    each_entry(b->netns_dir, sweep_netns, b);
    each_entry(b->sandbox_root, sweep_pod_dir, b);
    cleanup_free char *io = xasprintf("%s/io", b->state_dir);
    each_entry(io, sweep_fifo_dir, b);
}

/* ---- the containerd sweep, on the reaper -------------------------------- */

void ctrd_wait_task_stopped(struct ctrd_backend *b, const char *id)
{
    ctrd_wait_task_stopped_until(b, id, crimp_now_mono_ns() + TASK_STOP_WAIT_NS);
}

void ctrd_wait_task_stopped_until(struct ctrd_backend *b, const char *id, int64_t deadline)
{
    while (crimp_now_mono_ns() < deadline) {
        struct ctrd_task_state t;
        cleanup_error crimp_error_t err = NULL;
        if (ctrd_task_get(b, id, 5, &t, &err) < 0 || t.found != CTRD_TASK_LIVE)
            return; /* stopped, gone, or containerd away: Delete says which */
        usleep(TASK_POLL_US);
    }
}

/* Kills and deletes the task of orphan ID, then its container and snapshot.  */
static int remove_orphan(struct ctrd_backend *b, const char *id, const char *kind,
                         crimp_error_t *err)
{
    if (ctrd_kill(b, NULL, id, NULL, SIGKILL, err) < 0)
        return -1;
    ctrd_wait_task_stopped(b, id);
    if (ctrd_delete_task(b, id, err) < 0 || ctrd_delete_record(b, NULL, id, err) < 0)
        return -1;
    log_warn("containerd: removed %s %.12s (task, container, snapshot) that crimp has no "
             "record of",
             kind, id);
    return 0;
}

const char *ctrd_container_label(const Containerd__Services__Containers__V1__Container *c,
                                 const char *key)
{
    for (size_t i = 0; i < c->n_labels; i++)
        if (strcmp(c->labels[i]->key, key) == 0)
            return c->labels[i]->value;
    return NULL;
}

Containerd__Services__Containers__V1__ListContainersResponse *
ctrd_containerd_containers(struct ctrd_backend *b, crimp_error_t *err)
{
    Containerd__Services__Containers__V1__ListContainersRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    Containerd__Services__Containers__V1__ListContainersResponse *resp = NULL;
    struct ctrd_opts o = {.timeout_s = 10};
    if (ctrd_call(b->conn, &o, CTRD_CONTAINERS "List", &req.base,
                  &containerd__services__containers__v1__list_containers_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return NULL;
    return resp;
}

static int sweep_containers(struct ctrd_backend *b, size_t *removed, crimp_error_t *err)
{
    Containerd__Services__Containers__V1__ListContainersResponse *resp =
        ctrd_containerd_containers(b, err);
    if (resp == NULL)
        return -1;
    int ret = 0;
    for (size_t i = 0; i < resp->n_containers && ret == 0; i++) {
        Containerd__Services__Containers__V1__Container *c = resp->containers[i];
        const char *kind = ctrd_container_label(c, CTRD_LABEL_KIND);
        if (kind == NULL || !unexplained(b, c->id))
            continue;
        ret = remove_orphan(b, c->id, kind, err);
        *removed += ret == 0;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return ret;
}

/* Tasks whose container is gone (containerd deletes a container record
 * even while its task exists) and that no record explains.  */
static int sweep_tasks(struct ctrd_backend *b, size_t *removed, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__ListTasksRequest req =
        CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_REQUEST__INIT;
    Containerd__Services__Tasks__V1__ListTasksResponse *resp = NULL;
    struct ctrd_opts o = {.timeout_s = 10};
    if (ctrd_call(b->conn, &o, CTRD_TASKS "List", &req.base,
                  &containerd__services__tasks__v1__list_tasks_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    int ret = 0;
    for (size_t i = 0; i < resp->n_tasks && ret == 0; i++) {
        const char *id = resp->tasks[i]->id;
        if (!unexplained(b, id))
            continue;
        Containerd__Services__Containers__V1__GetContainerRequest get =
            CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
        get.id = (char *)id;
        ProtobufCMessage *ctr = NULL;
        cleanup_error crimp_error_t gerr = NULL;
        int got = ctrd_call(b->conn, &o, CTRD_CONTAINERS "Get", &get.base,
                            &containerd__services__containers__v1__get_container_response__descriptor,
                            &ctr, &gerr);
        if (ctr)
            protobuf_c_message_free_unpacked(ctr, NULL);
        if (got == 0 || gerr->code != GRPC_STATUS_NOT_FOUND)
            continue; /* the container sweep's, or containerd is away */
        /* Tasks/Delete finds the task through its container: a stand-in
         * record is made for it, and removed after.  */
        json_auto_t *spec = json_object();
        ret = ctrd_create_record(b, NULL, NULL, id, "", "orphan", spec, err);
        if (ret == 0)
            ret = ctrd_kill(b, NULL, id, NULL, SIGKILL, err);
        if (ret == 0) {
            ctrd_wait_task_stopped(b, id);
            ret = ctrd_delete_task(b, id, err);
        }
        if (ret == 0)
            ret = ctrd_delete_record(b, NULL, id, err);
        if (ret == 0) {
            log_warn("containerd: removed task %.12s whose container is gone", id);
            (*removed)++;
        }
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return ret;
}

/* Rootfs snapshots (keyed by the sandbox or container ID) left by a crash
 * between Snapshots/Prepare and Containers/Create.  */
static int sweep_snapshots(struct ctrd_backend *b, size_t *removed, crimp_error_t *err)
{
    Containerd__Services__Snapshots__V1__ListSnapshotsRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__LIST_SNAPSHOTS_REQUEST__INIT;
    req.snapshotter = b->snapshotter;
    struct ctrd_opts o = {.timeout_s = 30};
    struct ctrd_stream *s = ctrd_stream_start(b->conn, &o, CTRD_SNAPSHOTS "List", &req.base, err);
    if (s == NULL)
        return -1;
    json_auto_t *orphans = json_array();
    Containerd__Services__Snapshots__V1__ListSnapshotsResponse *page = NULL;
    int ret;
    while ((ret = ctrd_stream_next(s, &containerd__services__snapshots__v1__list_snapshots_response__descriptor,
                                   (ProtobufCMessage **)&page, err)) == 1) {
        for (size_t i = 0; i < page->n_info; i++) {
            Containerd__Services__Snapshots__V1__Info *in = page->info[i];
            if (in->kind == CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE &&
                is_record_id(in->name))
                json_array_append_new(orphans, json_string(in->name));
        }
        protobuf_c_message_free_unpacked(&page->base, NULL);
    }
    ctrd_stream_free(s);
    if (ret < 0)
        return -1;
    size_t i;
    json_t *name;
    json_array_foreach (orphans, i, name) {
        const char *key = json_string_value(name);
        if (!unexplained(b, key))
            continue;
        Containerd__Services__Snapshots__V1__RemoveSnapshotRequest rm =
            CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
        rm.snapshotter = b->snapshotter;
        rm.key = (char *)key;
        if (ctrd_call_gone_ok(b, NULL, CTRD_SNAPSHOTS "Remove", &rm.base,
                              &google__protobuf__empty__descriptor, err) < 0)
            return -1;
        log_warn("containerd: removed snapshot %.12s that no container has", key);
        (*removed)++;
    }
    return 0;
}

int ctrd_recover_containerd(struct ctrd_backend *b, crimp_error_t *err)
{
    size_t containers = 0, tasks = 0, snapshots = 0, shims = 0;
    if (sweep_containers(b, &containers, err) < 0 || sweep_tasks(b, &tasks, err) < 0 ||
        sweep_snapshots(b, &snapshots, err) < 0 || ctrd_sweep_shims(b, &shims, err) < 0)
        return crimp_error_wrap(err, "containerd recovery");
    /* Every half-made object of the last run is gone now; intents written
     * since belong to calls in flight.  */
    size_t i;
    json_t *id;
    json_array_foreach (b->stale_intents, i, id)
        ctrd_intent_end(b, json_string_value(id));
    json_array_clear(b->stale_intents);
    log_info("containerd: recovery done: %zu containers, %zu tasks and %zu snapshots without "
             "a record removed, %zu idle shims ended",
             containers, tasks, snapshots, shims);
    return 0;
}
