/* libFuzzer target for the WebSocket parser and the channel.k8s.io layer.
 * The first byte picks the chunk size, the channel protocol and whether
 * frames must be masked; the rest is the client's byte stream.  Every
 * message is decoded as a channel message under that protocol, and
 * re-framed (masked) and parsed back to check the serializer against the
 * parser.  The handshake helpers get the raw input as a header value.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void echo_message(const struct ws_message *m)
{
    static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    struct stream_buf b = {0};
    struct ws_parser p;
    struct ws_message g;
    crimp_error_t err = NULL;
    if (ws_put_masked_frame(&b, m->opcode, true, m->data, m->len, key, &err) < 0)
        __builtin_trap();
    ws_parser_init(&p, 0, true);
    if (ws_parser_feed(&p, b.p, b.len, &err) < 0)
        __builtin_trap();
    if (ws_parser_next(&p, &g, &err) != 1 || g.opcode != m->opcode || g.len != m->len ||
        (m->len && memcmp(g.data, m->data, m->len) != 0) || g.close_code != m->close_code)
        __builtin_trap();
    ws_parser_free(&p);
    stream_buf_free(&b);
}

static void channel_message(enum ws_chan_proto proto, const struct ws_message *m,
                            struct stream_buf *scratch)
{
    struct ws_chan_msg c;
    struct stream_buf out = {0};
    crimp_error_t err = NULL;
    if (ws_chan_decode(proto, m, scratch, &c, &err) == 1 && !c.close) {
        /* Base64 cannot carry channels above 207; anything decoded can.  */
        if (ws_chan_put(&out, proto, c.channel, c.data, c.len, &err) < 0)
            __builtin_trap();
    }
    crimp_error_release(&err);
    stream_buf_free(&out);
}

static void handshake(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    const char *offers[] = {s};
    enum ws_chan_proto proto;
    char accept[WS_ACCEPT_KEY_LEN + 1];
    crimp_error_t err = NULL;
    int r = ws_chan_select(offers, 1, &proto);
    if (r > 0 && strstr(s, ws_chan_proto_names[proto]) == NULL)
        __builtin_trap();
    ws_accept_key(s, accept, &err);
    crimp_error_release(&err);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)(data[0] & 0x1f) + 1;
    enum ws_chan_proto proto = (enum ws_chan_proto)((data[0] >> 5) % WS_CHAN_N_PROTOS);
    bool require_mask = !(data[0] & 0x80) || (data[0] & 0x40);
    data++, size--;
    if (size < 256)
        handshake(data, size);
    struct ws_parser p;
    struct stream_buf scratch = {0};
    crimp_error_t err = NULL;
    ws_parser_init(&p, 1 << 20, require_mask);
    for (size_t off = 0; off < size; off += step) {
        if (ws_parser_feed(&p, data + off, size - off < step ? size - off : step, &err) < 0)
            break;
        struct ws_message m;
        int r;
        while ((r = ws_parser_next(&p, &m, &err)) == 1) {
            echo_message(&m);
            if (m.opcode == WS_OP_TEXT || m.opcode == WS_OP_BINARY)
                channel_message(proto, &m, &scratch);
        }
        if (r < 0)
            break;
    }
    crimp_error_release(&err);
    ws_parser_free(&p);
    stream_buf_free(&scratch);
    return 0;
}
