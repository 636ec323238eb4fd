/* RFC 6455 handshake helpers, frame parser and serializer (websocket.h).  */
#include "websocket.h"

#include <string.h>

#include "base64.h"
#include "digest.h"
#include "utils.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int ws_accept_key(const char *key, char out[WS_ACCEPT_KEY_LEN + 1], crimp_error_t *err)
{
    while (is_blank(*key))
        key++;
    size_t n = strlen(key);
    while (n > 0 && is_blank(key[n - 1]))
        n--;
    uint8_t raw[18];
    if (n != 24 || crimp_base64_decode(key, n, raw) != 16)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: Sec-WebSocket-Key is not base64 of 16 bytes");
    char buf[24 + sizeof(WS_GUID)];
    memcpy(buf, key, 24);
    memcpy(buf + 24, WS_GUID, sizeof(WS_GUID) - 1);
    uint8_t digest[20];
    crimp_sha1(buf, 24 + sizeof(WS_GUID) - 1, digest);
    crimp_base64_encode(digest, sizeof(digest), out);
    return 0;
}

int ws_select_subprotocol(const char *const *offers, size_t n_offers, const char *const *supported,
                          size_t n_supported)
{
    bool offered = false;
    for (size_t i = 0; i < n_offers; i++) {
        const char *s = offers[i];
        while (*s != '\0') {
            while (is_blank(*s) || *s == ',')
                s++;
            const char *end = s;
            while (*end != '\0' && *end != ',')
                end++;
            size_t n = (size_t)(end - s);
            while (n > 0 && is_blank(s[n - 1]))
                n--;
            if (n > 0) {
                offered = true;
                for (size_t k = 0; k < n_supported; k++)
                    if (strlen(supported[k]) == n && memcmp(supported[k], s, n) == 0)
                        return (int)k;
            }
            s = end;
        }
    }
    return offered ? WS_SUBPROTO_NO_MATCH : WS_SUBPROTO_NONE_OFFERED;
}

/* UTF-8 as RFC 3629 defines it: no overlongs, surrogates or > U+10FFFF.  */
static bool valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

void ws_parser_init(struct ws_parser *p, size_t max_message, bool require_mask)
{
    memset(p, 0, sizeof(*p));
    p->max_message = max_message ? max_message : WS_DEFAULT_MAX_MESSAGE;
    p->require_mask = require_mask;
}

void ws_parser_free(struct ws_parser *p)
{
    free(p->buf);
    stream_buf_free(&p->msg);
    memset(p, 0, sizeof(*p));
}

static int fail(struct ws_parser *p, crimp_error_t *err, uint16_t code, const char *what);

size_t ws_parser_max_buffered(const struct ws_parser *p)
{
    /* Left after decoding: less than one frame, which is at most a header
     * and max_message bytes (longer ones fail at their header).  */
    return WS_MAX_HEADER + p->max_message + WS_MAX_FEED;
}

int ws_parser_feed(struct ws_parser *p, const void *data, size_t len, crimp_error_t *err)
{
    if (p->pos > 0) { /* drop what earlier frames used */
        memmove(p->buf, p->buf + p->pos, p->len - p->pos);
        p->len -= p->pos;
        p->pos = 0;
    }
    if (len == 0)
        return 0;
    if (len > ws_parser_max_buffered(p) - p->len)
        return fail(p, err, WS_CLOSE_TOO_BIG, "more input buffered than a message may hold");
    if (p->len + len > p->cap) {
        p->cap = (p->len + len) * 2;
        p->buf = xrealloc(p->buf, p->cap);
    }
    memcpy(p->buf + p->len, data, len);
    p->len += len;
    return 0;
}

static int fail(struct ws_parser *p, crimp_error_t *err, uint16_t code, const char *what)
{
    p->failed = true;
    p->close_code = code;
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "websocket: %s", what);
}

/* The decoded fixed part of a frame.  */
struct frame_head {
    bool fin, masked;
    enum ws_opcode op;
    size_t header_len;
    uint64_t payload_len;
    uint8_t key[4];
};

/* Reads the frame header at B (AVAIL bytes): 1 when complete, 0 when more
 * bytes are needed, < 0 when invalid.  */
static int read_head(struct ws_parser *p, const uint8_t *b, size_t avail, struct frame_head *h,
                     crimp_error_t *err)
{
    if (avail < 2)
        return 0;
    h->fin = b[0] & 0x80;
    h->op = (enum ws_opcode)(b[0] & 0x0f);
    h->masked = b[1] & 0x80;
    unsigned len7 = b[1] & 0x7f;
    if (b[0] & 0x70)
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "RSV bits set without an extension");
    bool control = h->op & 0x8;
    if (h->op > WS_OP_PONG || (h->op > WS_OP_BINARY && h->op < WS_OP_CLOSE))
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "unknown opcode");
    if (control && (!h->fin || len7 > WS_MAX_CONTROL_PAYLOAD))
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "fragmented or long control frame");
    if (p->require_mask && !h->masked)
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "unmasked client frame");
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    h->header_len = 2 + ext + (h->masked ? 4 : 0);
    if (avail < h->header_len)
        return 0;
    h->payload_len = len7;
    if (ext > 0) {
        h->payload_len = 0;
        for (size_t i = 0; i < ext; i++)
            h->payload_len = h->payload_len << 8 | b[2 + i];
    }
    if (h->payload_len >> 63)
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "64-bit length with the top bit set");
    if (h->masked)
        memcpy(h->key, b + 2 + ext, 4);
    return 1;
}

/* Checks a data frame against the fragmentation state and size limit.  */
static int check_data_frame(struct ws_parser *p, const struct frame_head *h, crimp_error_t *err)
{
    if (h->op == WS_OP_CONTINUATION && !p->in_message)
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "continuation without a message");
    if (h->op != WS_OP_CONTINUATION && p->in_message)
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "new message inside a fragmented one");
    size_t have = p->in_message ? p->msg.len : 0;
    if (h->payload_len > p->max_message - have)
        return fail(p, err, WS_CLOSE_TOO_BIG, "message exceeds the size limit");
    return 0;
}

static int deliver_close(struct ws_parser *p, struct ws_message *m, crimp_error_t *err)
{
    m->close_code = WS_CLOSE_NO_STATUS;
    if (m->len == 0)
        return 1;
    if (m->len == 1)
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "close payload of one byte");
    uint16_t code = (uint16_t)(m->data[0] << 8 | m->data[1]);
    /* Codes an endpoint may send (RFC 6455 §7.4): 1000-1003, 1007-1014,
     * and the registered/private ranges 3000-4999.  */
    bool ok = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
              (code >= 3000 && code <= 4999);
    if (!ok)
        return fail(p, err, WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
    if (!valid_utf8(m->data + 2, m->len - 2))
        return fail(p, err, WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
    m->close_code = code;
    m->close_reason = (const char *)m->data + 2;
    m->close_reason_len = m->len - 2;
    return 1;
}

/* Handles a complete frame whose unmasked payload is DATA[0..LEN):
 * returns 1 with *M for a control frame or finished message, 0 when a
 * fragment was stored.  */
static int take_frame(struct ws_parser *p, const struct frame_head *h, const uint8_t *data,
                      size_t len, struct ws_message *m, crimp_error_t *err)
{
    memset(m, 0, sizeof(*m));
    if (h->op & 0x8) {
        *m = (struct ws_message){.opcode = h->op, .data = data, .len = len};
        return h->op == WS_OP_CLOSE ? deliver_close(p, m, err) : 1;
    }
    if (h->fin && !p->in_message) { /* unfragmented: no copy */
        *m = (struct ws_message){.opcode = h->op, .data = data, .len = len};
    } else {
        if (!p->in_message)
            p->msg_op = h->op;
        p->in_message = true;
        stream_buf_append(&p->msg, data, len);
        if (!h->fin)
            return 0;
        *m = (struct ws_message){.opcode = p->msg_op, .data = p->msg.p, .len = p->msg.len};
        p->msg_delivered = true;
    }
    if (m->opcode == WS_OP_TEXT && !valid_utf8(m->data, m->len))
        return fail(p, err, WS_CLOSE_INVALID_DATA, "text message is not UTF-8");
    return 1;
}

int ws_parser_next(struct ws_parser *p, struct ws_message *m, crimp_error_t *err)
{
    if (p->failed)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: connection already failed");
    if (p->msg_delivered) {
        stream_buf_reset(&p->msg);
        p->in_message = p->msg_delivered = false;
    }
    for (;;) {
        struct frame_head h = {0};
        size_t avail = p->len - p->pos;
        if (avail < 2) /* also keeps a NULL buf out of pointer arithmetic */
            return 0;
        uint8_t *b = p->buf + p->pos;
        int r = read_head(p, b, avail, &h, err);
        if (r <= 0)
            return r;
        if (!(h.op & 0x8) && check_data_frame(p, &h, err) < 0)
            return -1;
        if (avail - h.header_len < h.payload_len)
            return 0;
        size_t len = (size_t)h.payload_len;
        uint8_t *data = b + h.header_len;
        if (h.masked)
            for (size_t i = 0; i < len; i++)
                data[i] ^= h.key[i & 3];
        p->pos += h.header_len + len;
        r = take_frame(p, &h, data, len, m, err);
        if (r != 0)
            return r;
    }
}

static int put_frame(struct stream_buf *out, enum ws_opcode op, bool fin, const uint8_t *data,
                     size_t len, const uint8_t *key, crimp_error_t *err)
{
    bool known = op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
    if (!known || ((op & 0x8) && (!fin || len > WS_MAX_CONTROL_PAYLOAD)))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: cannot frame opcode %d with %zu bytes", op, len);
    stream_buf_put_u8(out, (uint8_t)((fin ? 0x80 : 0) | op));
    uint8_t mask = key ? 0x80 : 0;
    /* Minimal length encoding, as RFC 6455 §5.2 requires.  */
    if (len < 126) {
        stream_buf_put_u8(out, (uint8_t)(mask | len));
    } else if (len <= 0xffff) {
        stream_buf_put_u8(out, mask | 126);
        stream_buf_put_be16(out, (uint16_t)len);
    } else {
        stream_buf_put_u8(out, mask | 127);
        stream_buf_put_be32(out, (uint32_t)((uint64_t)len >> 32));
        stream_buf_put_be32(out, (uint32_t)len);
    }
    if (key == NULL) {
        stream_buf_append(out, data, len);
        return 0;
    }
    stream_buf_append(out, key, 4);
    uint8_t *dst = stream_buf_reserve(out, len);
    for (size_t i = 0; i < len; i++)
        dst[i] = data[i] ^ key[i & 3];
    out->len += len;
    return 0;
}

int ws_put_frame(struct stream_buf *out, enum ws_opcode op, bool fin, const void *data, size_t len,
                 crimp_error_t *err)
{
    return put_frame(out, op, fin, data, len, NULL, err);
}

int ws_put_masked_frame(struct stream_buf *out, enum ws_opcode op, bool fin, const void *data,
                        size_t len, const uint8_t key[4], crimp_error_t *err)
{
    return put_frame(out, op, fin, data, len, key, err);
}

int ws_put_close(struct stream_buf *out, uint16_t code, const char *reason, crimp_error_t *err)
{
    uint8_t payload[WS_MAX_CONTROL_PAYLOAD];
    size_t rlen = reason ? strlen(reason) : 0;
    if (code == 0)
        return ws_put_frame(out, WS_OP_CLOSE, true, NULL, 0, err);
    if (rlen > WS_MAX_CONTROL_PAYLOAD - 2)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "websocket: close reason longer than 123 bytes");
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    if (rlen > 0)
        memcpy(payload + 2, reason, rlen);
    return ws_put_frame(out, WS_OP_CLOSE, true, payload, rlen + 2, err);
}
