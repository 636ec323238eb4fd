/* What crimp's streaming server (stream/) needs from Docker: an exec or
 * attach as a hijacked connection, resize, the exit status, the pod's
 * network namespace for port-forward.  */
#include <stdio.h>
#include <string.h>

#include "common/mux_frames.h"
#include "docker-internal.h"
#include "hijack.h"
#include "trace.h"
#include "utils.h"

#define HIJACK_TIMEOUT_MS 30000

/* The hijacked POST; the session's trace gets SPAN for the handshake (the
 * bytes that follow belong to the session, not to this call).  */
static int hijack(struct docker_backend *d, const char *span, const char *path_fmt_id,
                  const char *id, const char *query, const char *body, struct crimp_stream_io *io,
                  crimp_error_t *err)
{
    cleanup_free char *path = xasprintf("%s%s%s%s%s", docker_client_api_prefix(d->client),
                                        path_fmt_id, id, query ? "?" : "", query ? query : "");
    int64_t started = crimp_now_mono_ns();
    io->fd = docker_hijack(docker_client_socket(d->client), "POST", path, body, HIJACK_TIMEOUT_MS,
                           &io->early, &io->n_early, err);
    crimp_trace_span(CRIMP_SPAN_HTTP, span, io->fd < 0 ? -1 : 101, started, crimp_now_mono_ns());
    return io->fd < 0 ? -1 : 0;
}

static int stream_exec_start(struct crimp_backend *self, const Runtime__V1__ExecRequest *req,
                             struct crimp_stream_io *io, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    const struct docker_exec_stdio stdio = {
        .in = req->stdin, .out = req->stdout, .err = req->stderr && !req->tty, .tty = req->tty};
    char *exec_id = NULL;
    if (docker_exec_create(d, req->container_id, req->cmd, req->n_cmd, &stdio, &exec_id, err) < 0)
        return -1;
    io->handle = exec_id;
    io->is_exec = true;
    io->output = req->tty ? NULL : mux_demux_output_new(); /* a tty has one raw stream */
    cleanup_free char *body = xasprintf("{\"Detach\":false,\"Tty\":%s}", req->tty ? "true" : "false");
    cleanup_free char *end = xasprintf("%s/start", exec_id);
    return hijack(d, "POST /exec/{id}/start", "/exec/", end, NULL, body, io, err);
}

static int stream_attach_start(struct crimp_backend *self, const Runtime__V1__AttachRequest *req,
                               struct crimp_stream_io *io, crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *id = docker_resolve(d, req->container_id, false, err);
    json_auto_t *inspect = NULL;
    if (id == NULL || docker_inspect(d, id, &inspect, err) < 0)
        return -1;
    if (!json_is_true(json_object_get(json_object_get(inspect, "State"), "Running")))
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "container %.12s is not running", id);
    io->handle = xstrdup(id);
    /* The container's own tty decides the framing, not the request's.  */
    if (!json_is_true(json_object_get(json_object_get(inspect, "Config"), "Tty")))
        io->output = mux_demux_output_new();
    cleanup_free char *query = xasprintf("stream=1&stdin=%d&stdout=%d&stderr=%d", req->stdin,
                                         req->stdout, req->stderr);
    cleanup_free char *end = xasprintf("%s/attach", id);
    return hijack(d, "POST /containers/{id}/attach", "/containers/", end, query, NULL, io, err);
}

static int stream_resize(struct crimp_backend *self, const struct crimp_stream_io *io,
                         unsigned width, unsigned height, crimp_error_t *err)
{
    cleanup_free char *q = xasprintf("h=%u&w=%u", height, width);
    return docker_post(docker_of(self)->client,
                       io->is_exec ? "/exec/{id}/resize" : "/containers/{id}/resize", io->handle,
                       q, NULL, NULL, err);
}

static int stream_exit_code(struct crimp_backend *self, const struct crimp_stream_io *io,
                            int *code, crimp_error_t *err)
{
    json_t *inspect = NULL;
    if (docker_exec_finished(docker_of(self), io->handle, &inspect, err) < 0)
        return -1;
    *code = (int)json_integer_value(json_object_get(inspect, "ExitCode"));
    json_decref(inspect);
    return 0;
}

static void stream_kill(struct crimp_backend *self, const struct crimp_stream_io *io)
{
    if (io->is_exec && io->handle)
        docker_exec_kill(docker_of(self), io->handle);
}

static int stream_pod_netns(struct crimp_backend *self, const char *pod_id, char **path,
                            crimp_error_t *err)
{
    struct docker_backend *d = docker_of(self);
    cleanup_free char *id = docker_resolve(d, pod_id, true, err);
    json_auto_t *inspect = NULL;
    if (id == NULL || docker_inspect(d, id, &inspect, err) < 0)
        return -1;
    const char *mode =
        json_string_value(json_object_get(json_object_get(inspect, "HostConfig"), "NetworkMode"));
    *path = NULL;
    if (mode && strcmp(mode, "host") == 0)
        return 0;
    json_t *state = json_object_get(inspect, "State");
    json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
    if (!json_is_true(json_object_get(state, "Running")) || pid <= 0)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "pod sandbox %.12s is not running", id);
    *path = xasprintf("/proc/%lld/ns/net", (long long)pid);
    return 0;
}

const struct crimp_stream_ops docker_stream_ops = {
    .exec_start = stream_exec_start,
    .attach_start = stream_attach_start,
    .resize = stream_resize,
    .exit_code = stream_exit_code,
    .kill = stream_kill,
    .pod_netns = stream_pod_netns,
};
