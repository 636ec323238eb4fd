/* SPDY/3 frame decoding and encoding.  */
#include "spdy_frame.h"

#include <stdio.h>
#include <string.h>

#include "utils.h"

#define HEADER_BLOCK_MAX (256 * 1024) /* inflated; far above what k8s sends */
#define HEADER_PAIRS_MAX 64

void spdy_codec_init(struct spdy_codec *c)
{
    memset(c, 0, sizeof(*c));
    c->max_frame = SPDY_DEFAULT_MAX_FRAME;
}

static void release_headers(struct spdy_frame *f)
{
    for (size_t i = 0; i < f->n_headers; i++) {
        free(f->headers[i].name);
        free(f->headers[i].value);
    }
    free(f->headers);
    f->headers = NULL;
    f->n_headers = 0;
}

void spdy_codec_free(struct spdy_codec *c)
{
    if (c->inflater_ready)
        inflateEnd(&c->inflater);
    if (c->deflater_ready)
        deflateEnd(&c->deflater);
    release_headers(&c->last);
    free(c->buf);
    memset(c, 0, sizeof(*c));
}

int spdy_feed(struct spdy_codec *c, const void *data, size_t len)
{
    if (c->consumed > 0) { /* drop what earlier frames used */
        memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
        c->len -= c->consumed;
        c->consumed = 0;
    }
    /* Decoding after each feed leaves less than one frame (<= max_frame,
     * or spdy_next fails); one more read on top of it is all that may be
     * held.  */
    if (len > spdy_codec_max_buffered(c) - c->len)
        return -1;
    if (c->len + len > c->cap) {
        c->cap = (c->len + len) * 2;
        c->buf = xrealloc(c->buf, c->cap);
    }
    if (len)
        memcpy(c->buf + c->len, data, len);
    c->len += len;
    return 0;
}

size_t spdy_codec_max_buffered(const struct spdy_codec *c)
{
    return 2 * c->max_frame + 8 + SPDY_MAX_FEED;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static int protocol_error(crimp_error_t *err, const char *what)
{
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "spdy: %s", what);
}

/* Inflates one header block (the whole of it must be consumed).  */
static int inflate_block(struct spdy_codec *c, const uint8_t *in, size_t n, uint8_t **out,
                         size_t *out_len, crimp_error_t *err)
{
    if (!c->inflater_ready) {
        if (inflateInit(&c->inflater) != Z_OK)
            return protocol_error(err, "zlib init");
        c->inflater_ready = true;
    }
    size_t cap = 4096;
    *out = xmalloc(cap);
    *out_len = 0;
    c->inflater.next_in = (Bytef *)in;
    c->inflater.avail_in = (uInt)n;
    while (c->inflater.avail_in > 0) {
        if (*out_len == cap) {
            if (cap >= HEADER_BLOCK_MAX)
                return protocol_error(err, "header block too large");
            cap *= 2;
            *out = xrealloc(*out, cap);
        }
        c->inflater.next_out = *out + *out_len;
        c->inflater.avail_out = (uInt)(cap - *out_len);
        int rc = inflate(&c->inflater, Z_SYNC_FLUSH);
        if (rc == Z_NEED_DICT)
            rc = inflateSetDictionary(&c->inflater, spdy_dictionary, SPDY_DICTIONARY_LEN);
        *out_len = cap - c->inflater.avail_out;
        if (rc == Z_BUF_ERROR && c->inflater.avail_out > 0)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return protocol_error(err, "bad compressed header block");
    }
    if (c->inflater.avail_in != 0)
        return protocol_error(err, "compressed header block size is wrong");
    return 0;
}

/* count:32, then (len:32 name, len:32 value) pairs.  */
static int parse_block(const uint8_t *p, size_t n, struct spdy_frame *f, crimp_error_t *err)
{
    if (n < 4)
        return protocol_error(err, "short header block");
    uint32_t count = be32(p);
    if (count > HEADER_PAIRS_MAX)
        return protocol_error(err, "too many headers");
    f->headers = xcalloc(count + 1, sizeof(*f->headers));
    size_t off = 4;
    for (uint32_t i = 0; i < count; i++) {
        char *parts[2];
        for (int k = 0; k < 2; k++) {
            if (off + 4 > n || be32(p + off) > n - off - 4) {
                if (k == 1)
                    free(parts[0]); /* a name without its value (found by fuzzing) */
                return protocol_error(err, "header block overruns");
            }
            uint32_t l = be32(p + off);
            parts[k] = strndup((const char *)p + off + 4, l);
            off += 4 + l;
        }
        f->headers[f->n_headers].name = parts[0];
        f->headers[f->n_headers++].value = parts[1];
    }
    return 0;
}

static int decode_headers(struct spdy_codec *c, const uint8_t *block, size_t n,
                          struct spdy_frame *f, crimp_error_t *err)
{
    cleanup_free uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (inflate_block(c, block, n, &plain, &plain_len, err) < 0)
        return -1;
    return parse_block(plain, plain_len, f, err);
}

static int decode_control(struct spdy_codec *c, const uint8_t *h, const uint8_t *p, size_t n,
                          struct spdy_frame *f, crimp_error_t *err)
{
    f->type = (enum spdy_type)((h[2] << 8) | h[3]);
    switch (f->type) {
    case SPDY_SYN_STREAM:
        if (n < 10)
            return protocol_error(err, "short SYN_STREAM");
        f->stream_id = be32(p) & 0x7fffffff;
        return decode_headers(c, p + 10, n - 10, f, err);
    case SPDY_SYN_REPLY:
    case SPDY_HEADERS:
        if (n < 4)
            return protocol_error(err, "short SYN_REPLY/HEADERS");
        f->stream_id = be32(p) & 0x7fffffff;
        return decode_headers(c, p + 4, n - 4, f, err);
    case SPDY_RST_STREAM:
    case SPDY_GOAWAY:
    case SPDY_WINDOW_UPDATE:
        if (n != 8)
            return protocol_error(err, "RST_STREAM/GOAWAY/WINDOW_UPDATE length is not 8");
        f->stream_id = be32(p) & 0x7fffffff;
        f->value = be32(p + 4);
        return 0;
    case SPDY_PING:
        if (n != 4)
            return protocol_error(err, "PING length is not 4");
        f->value = be32(p);
        return 0;
    case SPDY_SETTINGS:
        return 0; /* nothing a Kubernetes peer needs; ignored */
    default:
        return protocol_error(err, "unknown control frame type");
    }
}

int spdy_next(struct spdy_codec *c, struct spdy_frame *f, crimp_error_t *err)
{
    release_headers(&c->last);
    memset(f, 0, sizeof(*f));
    size_t avail = c->len - c->consumed;
    if (avail < 8) /* also keeps a NULL buf (nothing fed yet) out of arithmetic */
        return 0;
    const uint8_t *h = c->buf + c->consumed;
    uint32_t length = be24(h + 5);
    if (length > c->max_frame)
        return protocol_error(err, "frame too large");
    if (avail < 8 + (size_t)length)
        return 0;
    f->flags = h[4];
    if (h[0] & 0x80) {
        if (decode_control(c, h, h + 8, length, f, err) < 0) {
            release_headers(f);
            return -1;
        }
    } else {
        f->type = SPDY_DATA;
        f->stream_id = be32(h) & 0x7fffffff;
        f->data = h + 8;
        f->len = length;
    }
    c->consumed += 8 + length;
    c->last = *f; /* the codec frees the headers on the next call */
    return 1;
}

const char *spdy_header(const struct spdy_frame *f, const char *name)
{
    for (size_t i = 0; i < f->n_headers; i++)
        if (strcasecmp(f->headers[i].name, name) == 0)
            return f->headers[i].value;
    return NULL;
}

void spdy_buf_free(struct spdy_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static void put(struct spdy_buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put32(struct spdy_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}

static void put_control_head(struct spdy_buf *b, enum spdy_type type, uint8_t flags,
                             uint32_t length)
{
    uint8_t x[8] = {0x80, 0x03, 0, (uint8_t)type, flags, (uint8_t)(length >> 16),
                    (uint8_t)(length >> 8), (uint8_t)length};
    put(b, x, 8);
}

/* Compresses a name/value block with this connection's deflater.  */
static void deflate_block(struct spdy_codec *c, const struct spdy_header *h, size_t n,
                          struct spdy_buf *out)
{
    struct spdy_buf plain = {0};
    put32(&plain, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put32(&plain, (uint32_t)strlen(h[i].name));
        put(&plain, h[i].name, strlen(h[i].name));
        put32(&plain, (uint32_t)strlen(h[i].value));
        put(&plain, h[i].value, strlen(h[i].value));
    }
    if (!c->deflater_ready) {
        deflateInit2(&c->deflater, 9, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY);
        deflateSetDictionary(&c->deflater, spdy_dictionary, SPDY_DICTIONARY_LEN);
        c->deflater_ready = true;
    }
    uint8_t chunk[1024];
    c->deflater.next_in = plain.p;
    c->deflater.avail_in = (uInt)plain.len;
    do {
        c->deflater.next_out = chunk;
        c->deflater.avail_out = sizeof(chunk);
        deflate(&c->deflater, Z_SYNC_FLUSH);
        put(out, chunk, sizeof(chunk) - c->deflater.avail_out);
    } while (c->deflater.avail_out == 0);
    spdy_buf_free(&plain);
}

void spdy_put_syn_reply(struct spdy_codec *c, struct spdy_buf *b, uint32_t stream_id)
{
    struct spdy_buf block = {0};
    deflate_block(c, NULL, 0, &block);
    put_control_head(b, SPDY_SYN_REPLY, 0, (uint32_t)(4 + block.len));
    put32(b, stream_id & 0x7fffffff);
    put(b, block.p, block.len);
    spdy_buf_free(&block);
}

void spdy_put_syn_stream(struct spdy_codec *c, struct spdy_buf *b, uint32_t stream_id,
                         const struct spdy_header *h, size_t n, uint8_t flags)
{
    struct spdy_buf block = {0};
    deflate_block(c, h, n, &block);
    put_control_head(b, SPDY_SYN_STREAM, flags, (uint32_t)(10 + block.len));
    put32(b, stream_id & 0x7fffffff);
    put32(b, 0);
    uint8_t prio[2] = {0, 0};
    put(b, prio, 2);
    put(b, block.p, block.len);
    spdy_buf_free(&block);
}

void spdy_put_data(struct spdy_buf *b, uint32_t stream_id, uint8_t flags, const void *data,
                   size_t len)
{
    put32(b, stream_id & 0x7fffffff);
    uint8_t x[4] = {flags, (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    put(b, x, 4);
    if (len)
        put(b, data, len);
}

void spdy_put_rst(struct spdy_buf *b, uint32_t stream_id, uint32_t status)
{
    put_control_head(b, SPDY_RST_STREAM, 0, 8);
    put32(b, stream_id & 0x7fffffff);
    put32(b, status);
}

void spdy_put_ping(struct spdy_buf *b, uint32_t id)
{
    put_control_head(b, SPDY_PING, 0, 4);
    put32(b, id);
}

void spdy_put_goaway(struct spdy_buf *b, uint32_t last_good, uint32_t status)
{
    put_control_head(b, SPDY_GOAWAY, 0, 8);
    put32(b, last_good & 0x7fffffff);
    put32(b, status);
}
