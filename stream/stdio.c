/* What exec and attach sessions share whatever carries them (SPDY or
 * WebSocket): the process's output split into stdout and stderr, resize
 * requests, and the final status on the error stream.  */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"

int stdio_output_feed(const struct crimp_stream_io *io, const uint8_t *p, size_t n,
                      crimp_stdio_emit_fn *emit, void *ctx, crimp_error_t *err)
{
    if (io->output == NULL) {
        emit(ctx, false, p, n);
        return 0;
    }
    if (io->output->feed(io->output, p, n, emit, ctx, err) < 0) {
        log_warn("stream: ending the session: %s", (*err)->msg);
        return -1;
    }
    return 0;
}

/* One complete resize object: applied when it names a usable size, else
 * dropped with a log line (a client's bad JSON is no reason to end an
 * interactive session).  */
static void apply_resize(const char *text, size_t len, struct stream_request *req,
                         const struct crimp_stream_io *io)
{
    json_error_t jerr;
    json_auto_t *j = json_loadb(text, len, 0, &jerr);
    json_t *w = j ? (json_object_get(j, "Width") ?: json_object_get(j, "width")) : NULL;
    json_t *h = j ? (json_object_get(j, "Height") ?: json_object_get(j, "height")) : NULL;
    if (!json_is_integer(w) || !json_is_integer(h)) {
        log_info("stream: resize message is not {\"Width\":N,\"Height\":N}, ignored");
        return;
    }
    json_int_t width = json_integer_value(w), height = json_integer_value(h);
    if (width < 0 || width > 65535 || height < 0 || height > 65535) {
        log_info("stream: resize to %lldx%lld is out of range, ignored", (long long)width,
                 (long long)height);
        return;
    }
    struct crimp_backend *b = req->backend;
    crimp_error_t err = NULL;
    if (width && height && io &&
        b->ops->stream->resize(b, io, (unsigned)width, (unsigned)height, &err) < 0) {
        log_debug("stream: resize: %s", err->msg);
        crimp_error_release(&err);
    }
}

int stdio_resize_feed(struct stdio_resize *r, const uint8_t *p, size_t n,
                      struct stream_request *req, const struct crimp_stream_io *io,
                      crimp_error_t *err)
{
    /* {"Width":80,"Height":24}, one per line over SPDY; WebSocket sends
     * one per message without the newline, which the caller adds.  Each
     * piece is checked against the room left before it is copied.  */
    while (n > 0) {
        const uint8_t *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (take > STDIO_RESIZE_MAX - r->len) {
            r->len = 0;
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "resize message longer than %d bytes", STDIO_RESIZE_MAX);
        }
        memcpy(r->buf + r->len, p, take);
        r->len += take;
        if (nl == NULL)
            return 0;
        apply_resize(r->buf, r->len, req, io);
        r->len = 0;
        p += take + 1;
        n -= take + 1;
    }
    return 0;
}

char *stdio_status_text(bool json, const char *failure, int exit_code)
{
    if (!json) {
        if (failure)
            return xstrdup(failure);
        if (exit_code != 0)
            return xasprintf("command terminated with non-zero exit code: exit status %d",
                             exit_code);
        return NULL;
    }
    json_auto_t *st = NULL;
    if (failure) {
        st = json_pack("{s:{}, s:s, s:s, s:s, s:{s:[{s:s}]}, s:i}", "metadata", "status",
                       "Failure", "message", failure, "reason", "InternalError", "details",
                       "causes", "message", failure, "code", 500);
    } else if (exit_code != 0) {
        char code[16];
        snprintf(code, sizeof(code), "%d", exit_code > 255 ? 255 : exit_code);
        st = json_pack("{s:{}, s:s, s:s, s:s, s:{s:[{s:s, s:s}]}}", "metadata", "status",
                       "Failure", "message", "command terminated with non-zero exit code",
                       "reason", "NonZeroExitCode", "details", "causes", "reason", "ExitCode",
                       "message", code);
    } else {
        st = json_pack("{s:{}, s:s}", "metadata", "status", "Success");
    }
    return json_dumps(st, JSON_COMPACT);
}

char *stdio_refusal_text(bool json, const char *why)
{
    if (!json)
        return xstrdup(why);
    json_auto_t *st = json_pack("{s:{}, s:s, s:s, s:s, s:i}", "metadata", "status", "Failure",
                                "message", why, "reason", "BadRequest", "code", 400);
    return json_dumps(st, JSON_COMPACT);
}

int stdio_start(struct stream_request *r, struct crimp_stream_io *io, crimp_error_t *err)
{
    struct crimp_backend *b = r->backend;
    if (r->kind == CRIMP_STREAM_EXEC)
        return b->ops->stream->exec_start(b, (const void *)r->req, io, err);
    return b->ops->stream->attach_start(b, (const void *)r->req, io, err);
}

char *stdio_start_failure(struct stream_conn *c, struct stream_request *r,
                          const crimp_error_t err)
{
    c->code = err->code;
    return xasprintf("error %s container: %s",
                     r->kind == CRIMP_STREAM_EXEC ? "executing command in" : "attaching to",
                     err->msg);
}

int stdio_write_stdin(struct stream_conn *c, int fd, const uint8_t *p, size_t n)
{
    int r = stream_send_all(fd, p, n, c->send_timeout_ms);
    if (r == 0)
        c->bytes_in += n;
    else if (r == STREAM_SEND_STALLED)
        log_info("stream: the process did not read its stdin within %d s: ending the session",
                 c->idle_seconds);
    return r;
}

int stdio_end(struct stream_request *r, struct crimp_stream_io *io, bool process_done,
              bool client_gone)
{
    int code = 0;
    cleanup_error crimp_error_t err = NULL;
    struct crimp_backend *b = r->backend;
    bool exec = r->kind == CRIMP_STREAM_EXEC;
    if (exec && !process_done && b->ops->stream->kill) {
        log_info("stream: exec session ended before its process: killing it");
        b->ops->stream->kill(b, io);
    } else if (exec && process_done && !client_gone &&
               b->ops->stream->exit_code(b, io, &code, &err) < 0) {
        log_warn("stream: exec exit code: %s", err->msg);
    }
    close(io->fd);
    io->fd = -1;
    return code;
}

void stdio_io_free(struct crimp_stream_io *io)
{
    if (io->output)
        io->output->free(io->output);
    io->output = NULL;
    free(io->early);
    io->early = NULL;
    free(io->handle);
    io->handle = NULL;
}
