/* ExecSync on containerd's native API (docs/containerd.md): the
 * container's own process spec with the command's args, stdio through
 * FIFOs, Tasks/Exec, a Wait armed before Tasks/Start, output captured up to
 * 16 MiB a stream; a command that outlives its timeout is killed so that
 * probes do not pile up processes.  */
#include <signal.h>
#include <string.h>

#include "common/oci_spec.h"
#include "containerd-internal.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "log.h"
#include "utils.h"

#define EXEC_OUTPUT_CAP   (16 * 1024 * 1024)
#define EXEC_EXIT_WAIT_NS (10LL * 1000 * 1000 * 1000)

/* The exit of one exec, shared by its owner and the wait callback:
 * whichever lets go last frees it.  */
struct exec_exit {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    bool failed;
    uint32_t status;
};

static void exec_exit_put(struct exec_exit *x)
{
    if (atomic_fetch_sub(&x->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    free(x);
}

static void on_exec_exit(void *ctx, const char *container_id, const char *exec_id,
                         uint32_t exit_status, int64_t exited_at_ns, crimp_error_t err)
{
    struct exec_exit *x = ctx;
    pthread_mutex_lock(&x->mu);
    x->done = true;
    x->failed = err != NULL;
    x->status = exit_status;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    exec_exit_put(x);
}

/* The container's stored OCI spec (Containers/Get).  */
static json_t *stored_spec(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                           crimp_error_t *err)
{
    Containerd__Services__Containers__V1__GetContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    req.id = (char *)id;
    Containerd__Services__Containers__V1__GetContainerResponse *resp = NULL;
    struct ctrd_opts o = {.rpc = rpc};
    if (ctrd_call(b->conn, &o, CTRD_CONTAINERS "Get", &req.base,
                  &containerd__services__containers__v1__get_container_response__descriptor,
                  (ProtobufCMessage **)&resp, err) < 0)
        return NULL;
    json_t *spec = resp->container ? ctrd_any_to_json(resp->container->spec) : NULL;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    if (spec == NULL)
        crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "container %.12s has no OCI spec", id);
    return spec;
}

static int exec_process(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                        const char *exec_id, json_t *process, const struct ctrd_fifos *f,
                        bool tty, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__ExecProcessRequest req =
        CONTAINERD__SERVICES__TASKS__V1__EXEC_PROCESS_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    req.stdin = f->stdin_path ? f->stdin_path : "";
    req.stdout = f->stdout_path ? f->stdout_path : "";
    req.stderr = f->stderr_path ? f->stderr_path : "";
    req.terminal = tty;
    req.spec = ctrd_any_json(CTRD_TYPE_PROCESS, process);
    ProtobufCMessage *resp = NULL;
    struct ctrd_opts o = {.rpc = rpc};
    int ret = ctrd_call(b->conn, &o, CTRD_TASKS "Exec", &req.base,
                        &google__protobuf__empty__descriptor, &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    protobuf_c_message_free_unpacked(&req.spec->base, NULL);
    return ret;
}

static void delete_process(struct ctrd_backend *b, const char *id, const char *exec_id)
{
    Containerd__Services__Tasks__V1__DeleteProcessRequest req =
        CONTAINERD__SERVICES__TASKS__V1__DELETE_PROCESS_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    ProtobufCMessage *resp = NULL;
    cleanup_error crimp_error_t err = NULL;
    struct ctrd_opts o = {0};
    if (ctrd_call(b->conn, &o, CTRD_TASKS "DeleteProcess", &req.base,
                  &containerd__services__tasks__v1__delete_response__descriptor, &resp, &err) < 0 &&
        err->code != GRPC_STATUS_NOT_FOUND)
        log_warn("containerd: exec %.12s: %s", exec_id, err->msg);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
}

struct ctrd_exec *ctrd_exec_begin(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                                  char *const *cmd, size_t n_cmd, bool tty, bool want_stdin,
                                  bool want_stderr, crimp_error_t *err)
{
    json_auto_t *spec = stored_spec(b, rpc, id, err);
    if (spec == NULL)
        return NULL;
    char *exec_id = ctrd_new_id(err);
    if (exec_id == NULL)
        return NULL;
    json_auto_t *process = oci_exec_process(spec, cmd, n_cmd, tty);
    struct ctrd_exec *x = xcalloc(1, sizeof(*x));
    x->b = b;
    x->container_id = xstrdup(id);
    x->exec_id = exec_id;
    x->fifos = (struct ctrd_fifos){.fd_in = -1, .fd_out = -1, .fd_err = -1};
    x->exit = xcalloc(1, sizeof(*x->exit));
    atomic_init(&x->exit->refs, 1);
    pthread_mutex_init(&x->exit->mu, NULL);
    pthread_cond_init(&x->exit->cv, NULL);
    cleanup_free char *dir = xasprintf("%s/io", b->state_dir);
    int ret = ctrd_fifos_create(dir, x->exec_id, want_stdin, want_stderr && !tty, &x->fifos, err);
    if (ret == 0)
        ret = exec_process(b, rpc, id, x->exec_id, process, &x->fifos, tty, err);
    if (ret == 0) {
        atomic_fetch_add(&x->exit->refs, 1); /* the callback's */
        x->waiting = (ret = ctrd_wait_async(b->conn, id, x->exec_id, on_exec_exit, x->exit, err)) == 0;
        if (!x->waiting)
            exec_exit_put(x->exit);
    }
    if (ret == 0)
        x->started = (ret = ctrd_start_task(b, rpc, id, x->exec_id, err)) == 0;
    if (ret < 0) {
        ctrd_exec_end(x);
        return NULL;
    }
    return x;
}

void ctrd_exec_kill(struct ctrd_exec *x)
{
    cleanup_error crimp_error_t err = NULL;
    if (ctrd_kill(x->b, NULL, x->container_id, x->exec_id, SIGKILL, &err) < 0)
        log_warn("containerd: exec %.12s: %s", x->exec_id, err->msg);
}

int ctrd_exec_wait(struct ctrd_exec *x, int64_t deadline_mono_ns, int *status)
{
    if (!x->waiting || !ctrd_wait_flag(&x->exit->mu, &x->exit->cv, &x->exit->done,
                                       deadline_mono_ns) ||
        x->exit->failed)
        return -1;
    *status = (int)x->exit->status;
    return 0;
}

void ctrd_exec_end(struct ctrd_exec *x)
{
    if (x == NULL)
        return;
    if (x->waiting || x->started) {
        /* Still running (a client that left): it must not outlive us.  */
        int status;
        if (ctrd_exec_wait(x, crimp_now_mono_ns(), &status) < 0 && x->started) {
            ctrd_exec_kill(x);
            ctrd_exec_wait(x, crimp_now_mono_ns() + EXEC_EXIT_WAIT_NS, &status);
        }
        delete_process(x->b, x->container_id, x->exec_id);
    }
    exec_exit_put(x->exit);
    ctrd_fifos_cleanup(&x->fifos);
    free(x->container_id);
    free(x->exec_id);
    free(x);
}

/* Runs the exec and collects its output and exit status.  */
static int run_exec(struct ctrd_backend *b, struct crimp_rpc *rpc, const char *id,
                    char *const *cmd, size_t n_cmd, int64_t timeout_s,
                    Runtime__V1__ExecSyncResponse *resp, crimp_error_t *err)
{
    struct ctrd_exec *x = ctrd_exec_begin(b, rpc, id, cmd, n_cmd, false, false, true, err);
    if (x == NULL)
        return -1;
    int64_t deadline = crimp_deadline_in_seconds(timeout_s);
    size_t out_len = 0, err_len = 0;
    int timed_out = ctrd_capture(x->fifos.fd_out, x->fifos.fd_err, EXEC_OUTPUT_CAP, deadline,
                                 (char **)&resp->stdout.data, &out_len, (char **)&resp->stderr.data,
                                 &err_len, err);
    resp->stdout.len = out_len;
    resp->stderr.len = err_len;
    int ret = timed_out < 0 ? -1 : 0, status = 0;
    if (timed_out != 0)
        ctrd_exec_kill(x);
    if (ret == 0 && timed_out == 1)
        ret = crimp_make_error(err, GRPC_STATUS_DEADLINE_EXCEEDED, 0,
                               "command timed out after %llds (killed)", (long long)timeout_s);
    else if (ret == 0 && ctrd_exec_wait(x, crimp_now_mono_ns() + EXEC_EXIT_WAIT_NS, &status) < 0)
        ret = crimp_make_error(err, GRPC_STATUS_UNKNOWN, 0, "exec %.12s: exit status unknown",
                               x->exec_id);
    resp->exit_code = status;
    ctrd_exec_end(x);
    return ret;
}

int ctrd_exec_sync(struct crimp_backend *self, struct crimp_rpc *rpc,
                   const Runtime__V1__ExecSyncRequest *req, Runtime__V1__ExecSyncResponse *resp,
                   crimp_error_t *err)
{
    struct ctrd_backend *b = ctrd_of(self);
    if (req->n_cmd == 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "ExecSync needs a command");
    cleanup_free char *id = ctrd_running_container_id(b, req->container_id, err);
    if (id == NULL)
        return -1;
    return run_exec(b, rpc, id, req->cmd, req->n_cmd, req->timeout, resp, err);
}

int ctrd_close_stdin(struct ctrd_backend *b, const char *id, const char *exec_id,
                     crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__CloseIORequest req =
        CONTAINERD__SERVICES__TASKS__V1__CLOSE_IOREQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = (char *)(exec_id ? exec_id : "");
    req.stdin = true;
    ProtobufCMessage *resp = NULL;
    struct ctrd_opts o = {.timeout_s = 10};
    int ret = ctrd_call(b->conn, &o, CTRD_TASKS "CloseIO", &req.base,
                        &google__protobuf__empty__descriptor, &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return ret;
}
