/* ExecSync on Docker: exec create, a hijacked exec start read to the end,
 * the exit code from exec inspect.  Unlike cri-dockerd, a command that
 * outlives its timeout is killed, so probes do not pile up processes.  */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "docker-internal.h"
#include "hijack.h"
#include "log.h"
#include "common/mux_frames.h"
#include "trace.h"
#include "utils.h"

#define EXEC_OUTPUT_CAP (16 * 1024 * 1024)

struct exec_output {
    char *buf[2];
    size_t len[2];
    bool truncated;
};

static void on_exec_data(void *ctx, bool is_stderr, const uint8_t *data, size_t len)
{
    struct exec_output *o = ctx;
    int i = is_stderr ? 1 : 0;
    if (o->len[i] + len > EXEC_OUTPUT_CAP) {
        o->truncated = true;
        len = EXEC_OUTPUT_CAP - o->len[i];
    }
    o->buf[i] = xrealloc(o->buf[i], o->len[i] + len + 1);
    memcpy(o->buf[i] + o->len[i], data, len);
    o->len[i] += len;
}

int docker_exec_create(struct docker_backend *d, const char *container, char *const *argv,
                       size_t argc, const struct docker_exec_stdio *io, char **exec_id,
                       crimp_error_t *err)
{
    cleanup_free char *id = docker_resolve(d, container, false, err);
    if (id == NULL)
        return -1;
    json_auto_t *cmd = json_array();
    for (size_t i = 0; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    json_auto_t *body = json_pack("{s:O, s:b, s:b, s:b, s:b}", "Cmd", cmd, "AttachStdin",
                                  io->in, "AttachStdout", io->out, "AttachStderr", io->err,
                                  "Tty", io->tty);
    cleanup_docker_response struct docker_response resp = {0};
    if (docker_post(d->client, "/containers/{id}/exec", id, NULL, body, &resp, err) < 0)
        return -1;
    const char *exec = json_string_value(json_object_get(resp.json, "Id"));
    if (exec == NULL)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "docker: exec create: no Id");
    *exec_id = xstrdup(exec);
    return 0;
}

/* Reads the stream until EOF or DEADLINE (monotonic ns, 0: none).
 * Returns 1 when the deadline came first.  */
static int read_stream(int fd, const char *early, size_t n_early, int64_t deadline,
                       struct exec_output *out, const atomic_bool *cancelled, crimp_error_t *err)
{
    struct mux_demux demux = {0};
    if (n_early && mux_demux_feed(&demux, (const uint8_t *)early, n_early, on_exec_data, out, err) < 0)
        return -1;
    char buf[65536];
    for (;;) {
        if (cancelled && atomic_load(cancelled))
            return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "exec: cancelled");
        int wait_ms = 1000;
        if (deadline) {
            int64_t left = (deadline - crimp_now_mono_ns()) / 1000000;
            if (left <= 0)
                return 1;
            wait_ms = left < wait_ms ? (int)left : wait_ms;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, wait_ms);
        if (r < 0 && errno != EINTR)
            return crimp_make_errno_error(err, errno, "exec: poll");
        if (r <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return crimp_make_errno_error(err, errno, "exec: read");
        if (n == 0)
            return 0;
        if (mux_demux_feed(&demux, (const uint8_t *)buf, (size_t)n, on_exec_data, out, err) < 0)
            return -1;
    }
}

/* The exec's inspect once it stopped running (Docker marks it a moment
 * after the stream closed).  */
int docker_exec_finished(struct docker_backend *d, const char *exec_id, json_t **inspect,
                         crimp_error_t *err)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        if (docker_get_json(d->client, "/exec/{id}/json", exec_id, NULL, inspect, err) < 0)
            return -1;
        if (!json_is_true(json_object_get(*inspect, "Running")))
            return 0;
        json_decref(*inspect);
        *inspect = NULL;
        usleep(attempt < 20 ? 5000 : 50000);
    }
    return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0,
                            "exec %.12s: stream ended but the process still runs", exec_id);
}

/* Pid is the process's host PID; Docker has no call to kill an exec.  */
void docker_exec_kill(struct docker_backend *d, const char *exec_id)
{
    json_t *inspect = NULL;
    crimp_error_t err = NULL;
    if (docker_get_json(d->client, "/exec/{id}/json", exec_id, NULL, &inspect, &err) < 0) {
        log_warn("exec %.12s: cannot kill: %s", exec_id, err->msg);
        crimp_error_release(&err);
        return;
    }
    json_int_t pid = json_integer_value(json_object_get(inspect, "Pid"));
    if (pid > 1 && json_is_true(json_object_get(inspect, "Running")) && kill((pid_t)pid, SIGKILL) < 0)
        log_warn("exec %.12s: kill %lld: %s", exec_id, (long long)pid, strerror(errno));
    json_decref(inspect);
}

static void fill_output(Runtime__V1__ExecSyncResponse *resp, struct exec_output *o)
{
    resp->stdout.data = (uint8_t *)o->buf[0];
    resp->stdout.len = o->len[0];
    resp->stderr.data = (uint8_t *)o->buf[1];
    resp->stderr.len = o->len[1];
    o->buf[0] = o->buf[1] = NULL;
}

int docker_exec_sync(struct crimp_backend *self, struct crimp_rpc *rpc,
                     const Runtime__V1__ExecSyncRequest *req, Runtime__V1__ExecSyncResponse *resp,
                     crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    if (req->n_cmd == 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "exec: cmd is empty");
    int64_t deadline = crimp_deadline_in_seconds(req->timeout);
    cleanup_free char *exec_id = NULL;
    const struct docker_exec_stdio stdio = {.out = true, .err = true};
    if (docker_exec_create(d, req->container_id, req->cmd, req->n_cmd, &stdio, &exec_id, err) < 0)
        return crimp_error_wrap(err, "exec in %s", req->container_id);

    cleanup_free char *path = xasprintf("%s/exec/%s/start", docker_client_api_prefix(d->client),
                                        exec_id);
    cleanup_free char *early = NULL;
    size_t n_early = 0;
    int64_t started = crimp_now_mono_ns();
    cleanup_close int fd = docker_hijack(docker_client_socket(d->client), "POST", path,
                                         "{\"Detach\":false,\"Tty\":false}", 30000, &early,
                                         &n_early, err);
    if (fd < 0)
        return crimp_error_wrap(err, "exec in %s", req->container_id);
    struct exec_output out = {0};
    int r = read_stream(fd, early, n_early, deadline, &out, &rpc->cancelled, err);
    crimp_trace_span(CRIMP_SPAN_HTTP, "POST /exec/{id}/start", r == 0 ? 101 : -1, started,
                     crimp_now_mono_ns());
    if (r != 0) {
        free(out.buf[0]), free(out.buf[1]);
        docker_exec_kill(d, exec_id);
        if (r > 0)
            return crimp_make_error(err, GRPC_STATUS_DEADLINE_EXCEEDED, 0,
                                    "command timed out after %lld s (killed)",
                                    (long long)req->timeout);
        return -1;
    }
    json_t *inspect = NULL;
    if (docker_exec_finished(d, exec_id, &inspect, err) < 0) {
        free(out.buf[0]), free(out.buf[1]);
        return -1;
    }
    resp->exit_code = (int32_t)json_integer_value(json_object_get(inspect, "ExitCode"));
    json_decref(inspect);
    fill_output(resp, &out);
    return 0;
}
