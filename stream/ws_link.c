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

void ws_link_init(struct ws_link *l, int fd, enum ws_chan_proto proto)
{
    *l = (struct ws_link){.fd = fd, .proto = proto};
    ws_parser_init(&l->parser, 0, true);
}

void ws_link_free(struct ws_link *l)
{
    ws_parser_free(&l->parser);
    stream_buf_free(&l->out);
    stream_buf_free(&l->scratch);
}

int ws_link_flush(struct ws_link *l)
{
    size_t off = 0;
    while (off < l->out.len && !l->gone) {
        ssize_t n = send(l->fd, l->out.p + off, l->out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            l->gone = true;
        else
            off += (size_t)n;
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

void ws_link_read(struct ws_link *l, ws_link_channel_fn on_channel, void *ctx)
{
    char buf[65536];
    ssize_t n = recv(l->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        l->gone = true;
        return;
    }
    ws_parser_feed(&l->parser, buf, (size_t)n);
    struct ws_message m;
    crimp_error_t err = NULL;
    int r = 0;
    while (!l->closed && (r = ws_parser_next(&l->parser, &m, &err)) > 0)
        on_message(l, &m, on_channel, ctx);
    if (!l->closed && r < 0) {
        log_info("stream: websocket client sent a bad frame: %s", err->msg);
        crimp_error_release(&err);
        if (ws_put_close(&l->out, l->parser.close_code, NULL, &err) < 0)
            crimp_error_release(&err);
        l->closed = true;
    }
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
    if (ws_put_close(&l->out, WS_CLOSE_NORMAL, NULL, &err) < 0)
        crimp_error_release(&err);
    if (ws_link_flush(l) < 0)
        return;
    int64_t deadline = crimp_now_mono_ns() + WS_CLOSE_WAIT_MS * 1000000LL;
    while (!l->gone && !l->closed && crimp_now_mono_ns() < deadline) {
        struct pollfd p = {l->fd, POLLIN, 0};
        if (poll(&p, 1, 200) > 0)
            ws_link_read(l, ignore_channel, NULL);
        ws_link_flush(l);
    }
}
