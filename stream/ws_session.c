/* Exec and attach over WebSocket (RFC 6455 with the channel.k8s.io
 * subprotocols, v1 through v5 and the base64 variants): what crictl's
 * --transport websocket, the Python client and dashboards speak.  Each
 * message is a channel byte and a payload: 0 stdin, 1 stdout, 2 stderr,
 * 3 error (the final status), 4 resize; v5 adds 255 "this input ended".
 * (docs/streaming.md, "Exec and attach").  */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"
#include "websocket.h"

struct ws_session {
    struct stream_conn *c;
    struct stream_request *r;
    struct ws_link link;
    struct crimp_stream_io io;
    struct stdio_resize resize;
    bool started, output_done;
    const char *failure; /* crimp gave up on the process (idle, stdin stalled) */
    crimp_error_t broken; /* the process's output was not what its backend sends */
};

static void on_output(void *ctx, bool is_stderr, const uint8_t *p, size_t n)
{
    struct ws_session *s = ctx;
    stream_conn_out(s->c, n);
    ws_link_put(&s->link, is_stderr ? WS_CHAN_STDERR : WS_CHAN_STDOUT, p, n);
}

static void feed_output(struct ws_session *s, const uint8_t *p, size_t n)
{
    if (!s->broken && stdio_output_feed(&s->io, p, n, on_output, s, &s->broken) < 0)
        s->failure = s->broken->msg;
}

static void on_channel(void *ctx, const struct ws_chan_msg *m)
{
    struct ws_session *s = ctx;
    if (m->close) { /* v5: the client's stdin ended */
        if (m->channel == WS_CHAN_STDIN && s->started)
            shutdown(s->io.fd, SHUT_WR);
        return;
    }
    if (m->channel == WS_CHAN_STDIN) {
        if (s->started && !s->failure &&
            stdio_write_stdin(s->c, s->io.fd, m->data, m->len) == STREAM_SEND_STALLED)
            s->failure = "the process did not read its stdin within the idle timeout";
    } else if (m->channel == WS_CHAN_RESIZE) {
        /* One object per message: the newline completes it.  */
        const struct crimp_stream_io *io = s->started ? &s->io : NULL;
        cleanup_error crimp_error_t err = NULL;
        if (stdio_resize_feed(&s->resize, m->data, m->len, s->r, io, &err) < 0 ||
            stdio_resize_feed(&s->resize, (const uint8_t *)"\n", 1, s->r, io, &err) < 0)
            ws_link_fail(&s->link, WS_CLOSE_TOO_BIG, err->msg);
    }
}

static void pump(struct ws_session *s)
{
    int64_t idle_ns = (int64_t)s->c->idle_seconds * 1000000000LL, last = crimp_now_mono_ns();
    uint8_t buf[32 * 1024];
    while (!s->output_done && !s->link.gone && !s->link.closed && !s->failure) {
        if (ws_link_flush(&s->link) < 0)
            return;
        struct pollfd p[2] = {{s->c->fd, POLLIN, 0}, {s->io.fd, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            return;
        if (p[0].revents) {
            ws_link_read(&s->link, on_channel, s);
            last = crimp_now_mono_ns();
        }
        if (p[1].revents) {
            ssize_t n = recv(s->io.fd, buf, sizeof(buf), 0);
            if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
                s->output_done = true;
            else if (n > 0)
                feed_output(s, buf, (size_t)n);
            last = crimp_now_mono_ns();
        }
        if (idle_ns > 0 && crimp_now_mono_ns() - last > idle_ns) {
            log_info("stream: websocket session idle for %d s, ending it", s->c->idle_seconds);
            s->failure = "the session was idle for longer than the idle timeout";
        }
    }
}

/* The status on the error channel, then the closing handshake.  A
 * session the client broke ends with its failure as the status and the
 * failure's close code.  */
static void finish(struct ws_session *s, const char *failure, int exit_code)
{
    if (s->link.gone)
        return;
    bool json = ws_chan_status_json(s->link.proto);
    cleanup_free char *status = s->link.failure
                                    ? stdio_refusal_text(json, s->link.failure)
                                    : stdio_status_text(json, failure, exit_code);
    if (status)
        ws_link_put(&s->link, WS_CHAN_ERROR, status, strlen(status));
    ws_link_close(&s->link);
}

void stream_run_ws_remotecommand(struct stream_conn *c, struct stream_request *r,
                                 enum ws_chan_proto proto)
{
    struct ws_session s = {.c = c, .r = r, .io = {.fd = -1}};
    ws_link_init(&s.link, c, proto);
    /* The "ready" message on each output channel, as upstream sends.  */
    ws_link_put(&s.link, WS_CHAN_STDOUT, NULL, 0);
    ws_link_put(&s.link, WS_CHAN_STDERR, NULL, 0);
    ws_link_put(&s.link, WS_CHAN_ERROR, NULL, 0);
    cleanup_error crimp_error_t err = NULL;
    if (stdio_start(r, &s.io, &err) < 0) {
        cleanup_free char *msg = stdio_start_failure(c, r, err);
        finish(&s, msg, 0);
    } else {
        s.started = true;
        if (s.io.n_early)
            feed_output(&s, (const uint8_t *)s.io.early, s.io.n_early);
        pump(&s);
        int code = stdio_end(r, &s.io, s.output_done, s.link.gone);
        if (s.failure)
            c->code = s.broken ? s.broken->code : GRPC_STATUS_DEADLINE_EXCEEDED;
        finish(&s, s.failure, code);
    }
    crimp_error_release(&s.broken);
    stdio_io_free(&s.io);
    ws_link_free(&s.link);
}
