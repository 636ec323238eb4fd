/* Exec and attach over WebSocket (RFC 6455 with the channel.k8s.io
 * subprotocols, v1 through v5 and the base64 variants): what crictl's
 * --transport websocket, the Python client and dashboards speak.  Each
 * message is a channel byte and a payload: 0 stdin, 1 stdout, 2 stderr,
 * 3 error (the final status), 4 resize; v5 adds 255 "this input ended".
 * (../shared/design/streaming.md §6).  */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"
#include "websocket.h"

#define WS_CLOSE_WAIT_MS 5000

struct ws_session {
    struct stream_conn *c;
    struct stream_request *r;
    enum ws_chan_proto proto;
    struct ws_parser parser;
    struct stream_buf out, scratch;
    struct crimp_stream_io io;
    struct stdio_demux demux;
    struct stdio_resize resize;
    bool started, output_done, client_gone, client_closed;
};

static int flush(struct ws_session *s)
{
    size_t off = 0;
    while (off < s->out.len) {
        ssize_t n = send(s->c->fd, s->out.p + off, s->out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->client_gone = true;
            return -1;
        }
        off += (size_t)n;
    }
    stream_buf_reset(&s->out);
    return 0;
}

static void put_channel(struct ws_session *s, uint8_t channel, const void *p, size_t n)
{
    crimp_error_t err = NULL;
    if (ws_chan_put(&s->out, s->proto, channel, p, n, &err) < 0)
        crimp_error_release(&err);
}

static void on_output(void *ctx, bool is_stderr, const uint8_t *p, size_t n)
{
    put_channel(ctx, is_stderr ? WS_CHAN_STDERR : WS_CHAN_STDOUT, p, n);
}

static void write_stdin(struct ws_session *s, const uint8_t *p, size_t n)
{
    while (n > 0 && s->started) {
        ssize_t w = send(s->io.fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void on_channel(struct ws_session *s, const struct ws_chan_msg *m)
{
    if (m->close) { /* v5: the client's stdin ended */
        if (m->channel == WS_CHAN_STDIN && s->started)
            shutdown(s->io.fd, SHUT_WR);
        return;
    }
    if (m->channel == WS_CHAN_STDIN) {
        write_stdin(s, m->data, m->len);
    } else if (m->channel == WS_CHAN_RESIZE) {
        stdio_resize_feed(&s->resize, m->data, m->len, s->r, s->started ? &s->io : NULL);
        stdio_resize_feed(&s->resize, (const uint8_t *)"\n", 1, s->r,
                          s->started ? &s->io : NULL);
    }
}

static void on_message(struct ws_session *s, const struct ws_message *m)
{
    crimp_error_t err = NULL;
    struct ws_chan_msg cm;
    switch (m->opcode) {
    case WS_OP_PING:
        if (ws_put_frame(&s->out, WS_OP_PONG, true, m->data, m->len, &err) < 0)
            crimp_error_release(&err);
        break;
    case WS_OP_CLOSE:
        s->client_closed = true;
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (ws_chan_decode(s->proto, m, &s->scratch, &cm, &err) > 0)
            on_channel(s, &cm);
        crimp_error_release(&err);
        break;
    default:
        break;
    }
}

static void from_client(struct ws_session *s)
{
    char buf[65536];
    ssize_t n = recv(s->c->fd, buf, sizeof(buf), 0);
    if (n <= 0) {
        s->client_gone = true;
        return;
    }
    ws_parser_feed(&s->parser, buf, (size_t)n);
    struct ws_message m;
    crimp_error_t err = NULL;
    int r;
    while ((r = ws_parser_next(&s->parser, &m, &err)) > 0 && !s->client_closed)
        on_message(s, &m);
    if (r < 0) {
        log_info("stream: websocket client sent a bad frame: %s", err->msg);
        crimp_error_release(&err);
        ws_put_close(&s->out, s->parser.close_code, NULL, &err);
        crimp_error_release(&err);
        s->client_closed = true;
    }
}

static void pump(struct ws_session *s)
{
    int64_t idle_ns = (int64_t)s->c->idle_seconds * 1000000000LL, last = crimp_now_mono_ns();
    uint8_t buf[32 * 1024];
    while (!s->output_done && !s->client_gone && !s->client_closed) {
        if (flush(s) < 0)
            return;
        struct pollfd p[2] = {{s->c->fd, POLLIN, 0}, {s->io.fd, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            return;
        if (p[0].revents) {
            from_client(s);
            last = crimp_now_mono_ns();
        }
        if (p[1].revents) {
            ssize_t n = recv(s->io.fd, buf, sizeof(buf), 0);
            if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
                s->output_done = true;
            else if (n > 0)
                stdio_demux_feed(&s->demux, buf, (size_t)n, on_output, s);
            last = crimp_now_mono_ns();
        }
        if (idle_ns > 0 && crimp_now_mono_ns() - last > idle_ns)
            return;
    }
}

/* The status on the error channel, a normal close, and a bounded wait for
 * the client's close so nothing unsent is lost to a reset.  */
static void finish(struct ws_session *s, const char *failure, int exit_code)
{
    if (s->client_gone)
        return;
    cleanup_free char *status = stdio_status_text(ws_chan_status_json(s->proto), failure,
                                                  exit_code);
    if (status)
        put_channel(s, WS_CHAN_ERROR, status, strlen(status));
    crimp_error_t err = NULL;
    if (ws_put_close(&s->out, WS_CLOSE_NORMAL, NULL, &err) < 0)
        crimp_error_release(&err);
    if (flush(s) < 0)
        return;
    int64_t deadline = crimp_now_mono_ns() + WS_CLOSE_WAIT_MS * 1000000LL;
    while (!s->client_gone && !s->client_closed && crimp_now_mono_ns() < deadline) {
        struct pollfd p = {s->c->fd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0)
            from_client(s);
        flush(s);
    }
}

void stream_run_ws_remotecommand(struct stream_conn *c, struct stream_request *r,
                                 enum ws_chan_proto proto)
{
    struct ws_session s = {.c = c, .r = r, .proto = proto, .io = {.fd = -1}};
    ws_parser_init(&s.parser, 0, true);
    /* The "ready" message on each output channel, as upstream sends.  */
    put_channel(&s, WS_CHAN_STDOUT, NULL, 0);
    put_channel(&s, WS_CHAN_STDERR, NULL, 0);
    put_channel(&s, WS_CHAN_ERROR, NULL, 0);
    cleanup_error crimp_error_t err = NULL;
    if (stdio_start(r, &s.io, &err) < 0) {
        cleanup_free char *msg = stdio_start_failure(r, err);
        finish(&s, msg, 0);
    } else {
        s.started = true;
        s.demux.multiplexed = s.io.multiplexed;
        if (s.io.n_early)
            stdio_demux_feed(&s.demux, (uint8_t *)s.io.early, s.io.n_early, on_output, &s);
        pump(&s);
        finish(&s, NULL, stdio_end(r, &s.io, s.client_gone));
    }
    free(s.io.early);
    free(s.io.handle);
    ws_parser_free(&s.parser);
    stream_buf_free(&s.out);
    stream_buf_free(&s.scratch);
}
