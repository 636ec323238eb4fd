/* One upgraded WebSocket connection, as the exec/attach and port-forward
 * sessions both use it: queued server frames sent in full, client frames
 * parsed into channel.k8s.io messages, pings answered, and the closing
 * handshake (RFC 6455 §5.5.1, §7).  */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"

#define WS_CLOSE_WAIT_MS 5000

void ws_link_init(struct ws_link *l, struct stream_conn *c, enum ws_chan_proto proto)
{
    *l = (struct ws_link){.fd = c->fd, .proto = proto, .c = c};
    ws_parser_init(&l->parser, c->max_message, true);
}

void ws_link_free(struct ws_link *l)
{
    ws_parser_free(&l->parser);
    stream_buf_free(&l->out);
    stream_buf_free(&l->scratch);
    free(l->failure);
    l->failure = NULL;
}

int ws_link_flush(struct ws_link *l)
{
    if (l->out.len && !l->gone) {
        int r = stream_send_all(l->fd, l->out.p, l->out.len, l->c->send_timeout_ms);
        if (r == STREAM_SEND_STALLED) {
            log_info("stream: the websocket client did not read for %d s: ending its session",
                     l->c->idle_seconds);
            l->c->stalled = true;
            l->c->code = GRPC_STATUS_DEADLINE_EXCEEDED;
        }
        l->gone = r < 0;
    }
    stream_buf_reset(&l->out);
    return l->gone ? -1 : 0;
}

void ws_link_put(struct ws_link *l, uint8_t channel, const void *p, size_t n)
{
    crimp_error_t err = NULL;
    if (ws_chan_put(&l->out, l->proto, channel, p, n, &err) < 0)
        crimp_error_release(&err);
}

static void on_message(struct ws_link *l, const struct ws_message *m, ws_link_channel_fn on_channel,
                       void *ctx)
{
    crimp_error_t err = NULL;
    struct ws_chan_msg cm;
    switch (m->opcode) {
    case WS_OP_PING: /* client-go's read deadline is renewed only by pongs */
        if (ws_put_frame(&l->out, WS_OP_PONG, true, m->data, m->len, &err) < 0)
            crimp_error_release(&err);
        break;
    case WS_OP_CLOSE:
        l->closed = true;
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (l->tunnel) {
            if (m->opcode == WS_OP_BINARY) /* message boundaries mean nothing */
                on_channel(ctx, &(struct ws_chan_msg){.data = m->data, .len = m->len});
            break;
        }
        if (ws_chan_decode(l->proto, m, &l->scratch, &cm, &err) > 0)
            on_channel(ctx, &cm);
        crimp_error_release(&err);
        break;
    default:
        break;
    }
}

void ws_link_fail(struct ws_link *l, uint16_t close_code, const char *why)
{
    if (l->closed)
        return;
    log_info("stream: ending the websocket session: %s", why);
    l->closed = true;
    l->close_code = close_code;
    l->failure = xstrdup(why);
    l->c->code = GRPC_STATUS_INVALID_ARGUMENT;
}

void ws_link_read(struct ws_link *l, ws_link_channel_fn on_channel, void *ctx)
{
    char buf[WS_MAX_FEED];
    ssize_t n = recv(l->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        l->gone = true;
        return;
    }
    if (l->closed)
        return; /* after the client's close or a failure: read and dropped */
    crimp_error_t err = NULL;
    if (ws_parser_feed(&l->parser, buf, (size_t)n, &err) < 0) {
        ws_link_fail(l, l->parser.close_code, err->msg);
        crimp_error_release(&err);
        return;
    }
    struct ws_message m;
    int r = 0;
    while (!l->closed && (r = ws_parser_next(&l->parser, &m, &err)) > 0)
        on_message(l, &m, on_channel, ctx);
    if (!l->closed && r < 0)
        ws_link_fail(l, l->parser.close_code, err->msg);
    crimp_error_release(&err);
}

static void ignore_channel(void *ctx, const struct ws_chan_msg *m)
{
    (void)ctx;
    (void)m;
}

void ws_link_close(struct ws_link *l)
{
    if (l->gone)
        return;
    crimp_error_t err = NULL;
    if (ws_put_close(&l->out, l->close_code ? l->close_code : WS_CLOSE_NORMAL, NULL, &err) < 0)
        crimp_error_release(&err);
    if (ws_link_flush(l) < 0)
        return;
    int64_t deadline = crimp_now_mono_ns() + WS_CLOSE_WAIT_MS * 1000000LL;
    /* After a failure crimp reads nothing more, so it waits for the EOF,
     * dropping what arrives, lest unread bytes turn the close into a reset
     * that loses the status.  */
    bool discard = l->failure != NULL;
    while (!l->gone && (discard || !l->closed) && crimp_now_mono_ns() < deadline) {
        struct pollfd p = {l->fd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0)
            ws_link_read(l, ignore_channel, NULL);
        ws_link_flush(l);
    }
}
