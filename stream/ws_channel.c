/* The channel.k8s.io message encodings on top of WebSocket messages
 * (websocket.h; docs/streaming.md, "Exec and attach").  */
#include "websocket.h"

#include <string.h>

#include "base64.h"
#include "utils.h"

const char *const ws_chan_proto_names[WS_CHAN_N_PROTOS] = {
    [WS_CHAN_V1] = "channel.k8s.io",    [WS_CHAN_BASE64] = "base64.channel.k8s.io",
    [WS_CHAN_V4] = "v4.channel.k8s.io", [WS_CHAN_V4_BASE64] = "v4.base64.channel.k8s.io",
    [WS_CHAN_V5] = "v5.channel.k8s.io",
};

int ws_chan_select(const char *const *offers, size_t n_offers, enum ws_chan_proto *out)
{
    int r = ws_select_subprotocol(offers, n_offers, ws_chan_proto_names, WS_CHAN_N_PROTOS);
    if (r == WS_SUBPROTO_NONE_OFFERED) {
        *out = WS_CHAN_V1; /* upstream: no subprotocol means channel.k8s.io */
        return 0;
    }
    if (r < 0)
        return r;
    *out = (enum ws_chan_proto)r;
    return 1;
}

int ws_chan_select_portforward(const char *const *offers, size_t n_offers,
                               enum ws_chan_proto *out, const char **name)
{
    static const char *const names[] = {"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                        "portforward.k8s.io", WS_SPDY_TUNNEL_PROTOCOL};
    static const enum ws_chan_proto framing[] = {WS_CHAN_V4, WS_CHAN_V4_BASE64, WS_CHAN_V4,
                                                 WS_CHAN_V4};
    int r = ws_select_subprotocol(offers, n_offers, names, CRIMP_ARRAY_SIZE(names));
    *out = WS_CHAN_V4; /* none offered: binary, as upstream's "" protocol */
    *name = NULL;
    if (r == WS_SUBPROTO_NONE_OFFERED)
        return 0;
    if (r < 0)
        return r;
    *out = framing[r];
    *name = names[r];
    return 1;
}

bool ws_chan_is_base64(enum ws_chan_proto proto)
{
    return proto == WS_CHAN_BASE64 || proto == WS_CHAN_V4_BASE64;
}

bool ws_chan_status_json(enum ws_chan_proto proto)
{
    return proto == WS_CHAN_V4 || proto == WS_CHAN_V4_BASE64 || proto == WS_CHAN_V5;
}

static int decode_base64(const struct ws_message *m, struct stream_buf *scratch,
                         struct ws_chan_msg *out, crimp_error_t *err)
{
    if (m->data[0] < '0')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: base64 message without a channel digit");
    size_t n = m->len - 1;
    stream_buf_reset(scratch);
    /* One spare byte: a zero-length reserve would leave p NULL.  */
    uint8_t *dst = stream_buf_reserve(scratch, n / 4 * 3 + 1);
    long got = crimp_base64_decode((const char *)m->data + 1, n, dst);
    if (got < 0)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: bad base64 payload on channel %u",
                                (unsigned)(m->data[0] - '0'));
    scratch->len = (size_t)got;
    *out = (struct ws_chan_msg){
        .channel = (uint8_t)(m->data[0] - '0'), .data = scratch->p, .len = scratch->len};
    return 1;
}

int ws_chan_decode(enum ws_chan_proto proto, const struct ws_message *m, struct stream_buf *scratch,
                   struct ws_chan_msg *out, crimp_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (m->opcode != WS_OP_TEXT && m->opcode != WS_OP_BINARY)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: control frame is not a channel message");
    if (m->len == 0) /* upstream ignores empty messages */
        return 0;
    if (ws_chan_is_base64(proto))
        return decode_base64(m, scratch, out, err);
    if (proto == WS_CHAN_V5 && m->data[0] == WS_CHAN_CLOSE) {
        if (m->len != 2)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "websocket: close signal of %zu bytes, want 2", m->len);
        *out = (struct ws_chan_msg){.channel = m->data[1], .close = true};
        return 1;
    }
    *out = (struct ws_chan_msg){.channel = m->data[0], .data = m->data + 1, .len = m->len - 1};
    return 1;
}

int ws_chan_put(struct stream_buf *out, enum ws_chan_proto proto, uint8_t channel, const void *data,
                size_t len, crimp_error_t *err)
{
    cleanup_stream_buf struct stream_buf msg = {0};
    if (!ws_chan_is_base64(proto)) {
        stream_buf_put_u8(&msg, channel);
        stream_buf_append(&msg, data, len);
        return ws_put_frame(out, WS_OP_BINARY, true, msg.p, msg.len, err);
    }
    if (channel > 255 - '0')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: channel %u has no base64 digit", channel);
    if (len > (SIZE_MAX - 2) / 4 * 3 - 3)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: message too big to encode");
    char *dst = (char *)stream_buf_reserve(&msg, 1 + CRIMP_BASE64_LEN(len) + 1);
    dst[0] = (char)('0' + channel);
    msg.len = 1 + crimp_base64_encode(data, len, dst + 1);
    return ws_put_frame(out, WS_OP_TEXT, true, msg.p, msg.len, err);
}
