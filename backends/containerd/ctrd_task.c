/* containerd's snapshots, container records and tasks, as pods (sandbox.c)
 * and containers (container.c) both make and remove them: Snapshots/Prepare,
 * Containers/Create and Delete (with the snapshot), Tasks/Create, Start and
 * Kill, and the "already gone is success" rule of Stop and Remove.  */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb-c.h"
#include "log.h"
#include "pbutil.h"
#include "trace.h"
#include "utils.h"

/* Snapshots/Prepare of KEY on PARENT: the mounts of the new rootfs.  */
int ctrd_prepare_rootfs(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *lease,
                        const char *key, const char *parent,
                        Containerd__Services__Snapshots__V1__PrepareSnapshotResponse **out,
                        crimp_error_t *err)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = b->snapshotter;
    req.key = (char *)key;
    req.parent = (char *)parent;
    struct ctrd_opts o = {.rpc = rpc, .lease = lease};
    return ctrd_call(b->conn, &o, CTRD_SNAPSHOTS "Prepare", &req.base,
                     &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor,
                     (ProtobufCMessage **)out, err);
}

/* Containers/Create of ID with SPEC on snapshot ID, labelled KIND.  */
int ctrd_create_record(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *lease,
                       const char *id, const char *image, const char *kind, json_t *spec,
                       crimp_error_t *err)
{
    Containerd__Services__Containers__V1__Container__Runtime runtime =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    runtime.name = b->runtime;
    /* runc's systemd driver is a shim option, not part of the spec: the
     * spec's cgroupsPath (ctrd_cgroups_path) reads as slice:prefix:name
     * only with it on.  */
    Containerd__Runc__V1__Options runc = CONTAINERD__RUNC__V1__OPTIONS__INIT;
    runc.systemd_cgroup = b->cgroup_driver == CRIMP_CGROUP_SYSTEMD;
    if (runc.systemd_cgroup)
        runtime.options = ctrd_any_pack(CTRD_TYPE_RUNC_OPTIONS, &runc.base);
    Containerd__Services__Containers__V1__Container ctr =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    ctr.id = (char *)id;
    ctr.image = (char *)image;
    ctr.runtime = &runtime;
    ctr.snapshotter = b->snapshotter;
    ctr.snapshot_key = (char *)id;
    json_auto_t *labels = json_pack("{s:s}", CTRD_LABEL_KIND, kind);
    ctrd_map_from_json(labels, &containerd__services__containers__v1__container__labels_entry__descriptor,
                       &ctr.n_labels, &ctr.labels);
    ctr.spec = ctrd_any_json(CTRD_TYPE_SPEC, spec);
    Containerd__Services__Containers__V1__CreateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    req.container = &ctr;
    ProtobufCMessage *resp = NULL;
    struct ctrd_opts o = {.rpc = rpc, .lease = lease};
    int ret = ctrd_call(b->conn, &o, CTRD_CONTAINERS "Create", &req.base,
                        &containerd__services__containers__v1__create_container_response__descriptor,
                        &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    protobuf_c_message_free_unpacked(&ctr.spec->base, NULL);
    if (runtime.options)
        protobuf_c_message_free_unpacked(&runtime.options->base, NULL);
    for (size_t i = 0; i < ctr.n_labels; i++)
        protobuf_c_message_free_unpacked(&ctr.labels[i]->base, NULL);
    free(ctr.labels);
    return ret;
}

/* Tasks/Create with the rootfs MOUNTS and stdio paths (NULL: none); *PID.  */
int ctrd_create_task(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                     Containerd__Types__Mount **mounts, size_t n_mounts,
                     const struct ctrd_fifos *io, bool terminal, int *pid, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__CreateTaskRequest req =
        CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT;
    req.container_id = (char *)id;
    req.rootfs = mounts;
    req.n_rootfs = n_mounts;
    if (io) {
        req.stdin = io->stdin_path ? io->stdin_path : "";
        req.stdout = io->stdout_path ? io->stdout_path : "";
        req.stderr = io->stderr_path ? io->stderr_path : "";
    }
    req.terminal = terminal;
    Containerd__Services__Tasks__V1__CreateTaskResponse *resp = NULL;
    struct ctrd_opts o = {.rpc = rpc, .timeout_s = 60};
    if (ctrd_call(b->conn, &o, CTRD_TASKS "Create", &req.base,
                  &containerd__services__tasks__v1__create_task_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    *pid = (int)resp->pid;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* Tasks/Start of ID's init process (EXEC_ID NULL) or of an exec.  */
int ctrd_start_task(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                    const char *exec_id, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__StartRequest req = CONTAINERD__SERVICES__TASKS__V1__START_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)(exec_id ? exec_id : "");
    ProtobufCMessage *resp = NULL;
    struct ctrd_opts o = {.rpc = rpc, .timeout_s = 60};
    int ret = ctrd_call(b->conn, &o, CTRD_TASKS "Start", &req.base,
                        &containerd__services__tasks__v1__start_response__descriptor, &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return ret;
}

int ctrd_task_get(struct ctrd_backend *b, const char *id, int timeout_s,
                  struct ctrd_task_state *state, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__GetRequest req = CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;
    req.container_id = (char *)id;
    Containerd__Services__Tasks__V1__GetResponse *resp = NULL;
    struct ctrd_opts o = {.timeout_s = timeout_s};
    *state = (struct ctrd_task_state){.found = CTRD_TASK_ABSENT};
    if (ctrd_call(b->conn, &o, CTRD_TASKS "Get", &req.base,
                  &containerd__services__tasks__v1__get_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0) {
        if ((*err)->code != GRPC_STATUS_NOT_FOUND)
            return -1;
        crimp_error_release(err);
        return 0;
    }
    const Containerd__V1__Types__Process *p = resp->process;
    if (p && p->status == CONTAINERD__V1__TYPES__STATUS__STOPPED) {
        state->found = CTRD_TASK_STOPPED;
        state->exit_status = p->exit_status;
        state->exited_at_ns = ctrd_timestamp_ns(p->exited_at);
    } else if (p) {
        state->found = CTRD_TASK_LIVE;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* Tasks/Kill; a task that is gone is success.  */
int ctrd_kill(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id, const char *exec_id,
              int sig, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__KillRequest req = CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)(exec_id ? exec_id : "");
    req.signal = (uint32_t)sig;
    return ctrd_call_gone_ok(b, rpc, CTRD_TASKS "Kill", &req.base,
                             &google__protobuf__empty__descriptor, err);
}

/* The container record and its snapshot (both may be gone already).  */
int ctrd_call_gone_ok(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *method,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                      crimp_error_t *err)
{
    struct ctrd_opts o = {.rpc = rpc};
    ProtobufCMessage *resp = NULL;
    int ret = ctrd_call(b->conn, &o, method, req, resp_desc, &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (ret < 0 && (*err)->code != GRPC_STATUS_NOT_FOUND)
        return -1;
    crimp_error_release(err);
    return 0;
}

/* The rootfs snapshot is removed on a helper thread while the record is
 * deleted: neither refers to the other in containerd's metadata, and each
 * round trip is about a millisecond here, a third of RemoveContainer.  */
struct snapshot_job {
    struct ctrd_backend *b;
    struct crimp_rpc *rpc;
    const char *id;
    struct crimp_trace trace;
    crimp_error_t err;
    int ret;
};

static void *remove_snapshot(void *arg)
{
    struct snapshot_job *j = arg;
    struct crimp_trace *caller = crimp_trace_current(); /* NULL on a new thread */
    crimp_trace_set_current(&j->trace);
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = j->b->snapshotter;
    req.key = (char *)j->id;
    j->ret = ctrd_call_gone_ok(j->b, j->rpc, CTRD_SNAPSHOTS "Remove", &req.base,
                               &google__protobuf__empty__descriptor, &j->err);
    crimp_trace_set_current(caller);
    return NULL;
}

#define SHIM_SWEEP_AFTER_DELETE_NS (2LL * 1000 * 1000 * 1000)

int ctrd_delete_record(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                       crimp_error_t *err)
{
    cleanup_free struct snapshot_job *snap = xcalloc(1, sizeof(*snap));
    *snap = (struct snapshot_job){.b = b, .rpc = rpc, .id = id};
    crimp_trace_fork(&snap->trace);
    pthread_t helper;
    bool threaded = pthread_create(&helper, NULL, remove_snapshot, snap) == 0;
    Containerd__Services__Containers__V1__DeleteContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
    req.id = (char *)id;
    int ret = ctrd_call_gone_ok(b, rpc, CTRD_CONTAINERS "Delete", &req.base,
                                &google__protobuf__empty__descriptor, err);
    if (threaded)
        pthread_join(helper, NULL);
    else
        remove_snapshot(snap);
    crimp_trace_join(&snap->trace);
    if (ret == 0 && snap->ret < 0)
        *err = steal_ptr(&snap->err);
    crimp_error_release(&snap->err);
    /* A Tasks/Delete cut short leaves the shim of ID running.  */
    if (ret == 0)
        ctrd_monitor_sweep_shims(b, SHIM_SWEEP_AFTER_DELETE_NS);
    return ret == 0 ? snap->ret : ret;
}
