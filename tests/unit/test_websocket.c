/* Unit tests for stream/websocket.c and stream/ws_channel.c: the RFC 6455
 * accept key and its frame examples, masking, fragmentation, incremental
 * parsing, bad input, and the channel.k8s.io encodings.  */
#include <string.h>

#include "unit.h"
#include "utils.h"
#include "websocket.h"

static int test_accept_key(void)
{
    char out[WS_ACCEPT_KEY_LEN + 1];
    cleanup_error crimp_error_t err = NULL;
    /* RFC 6455 §1.3.  */
    CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out, &err) == 0);
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    CHECK(ws_accept_key("  dGhlIHNhbXBsZSBub25jZQ==\t", out, &err) == 0);
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", out, &err) < 0);
    CHECK(err->code == GRPC_STATUS_INVALID_ARGUMENT);
    CHECK(ws_accept_key("", out, &err) < 0);
    CHECK(ws_accept_key("dGhlIHNhbXBsZSBub25jZ!==", out, &err) < 0);
    return 0;
}

static int test_subprotocol_client_order_wins(void)
{
    enum ws_chan_proto p;
    const char *one[] = {"v4.channel.k8s.io, v5.channel.k8s.io"};
    CHECK(ws_chan_select(one, 1, &p) == 1 && p == WS_CHAN_V4);
    const char *lines[] = {"foo,, bar ", "base64.channel.k8s.io", "channel.k8s.io"};
    CHECK(ws_chan_select(lines, 3, &p) == 1 && p == WS_CHAN_BASE64);
    CHECK(strcmp(ws_chan_proto_names[p], "base64.channel.k8s.io") == 0);
    const char *v5[] = {"v5.channel.k8s.io"};
    CHECK(ws_chan_select(v5, 1, &p) == 1 && p == WS_CHAN_V5);
    const char *none[] = {"foo", "v6.channel.k8s.io"};
    CHECK(ws_chan_select(none, 2, &p) == WS_SUBPROTO_NO_MATCH);
    const char *blank[] = {" , "};
    CHECK(ws_chan_select(blank, 1, &p) == 0 && p == WS_CHAN_V1);
    CHECK(ws_chan_select(NULL, 0, &p) == 0);
    const char *sup[] = {"SPDY/3.1+portforward.k8s.io"};
    const char *pf[] = {"v4.channel.k8s.io,SPDY/3.1+portforward.k8s.io"};
    CHECK(ws_select_subprotocol(pf, 1, sup, 1) == 0);
    return 0;
}

static int test_portforward_subprotocols(void)
{
    enum ws_chan_proto p;
    const char *name = "unset";
    const char *b64[] = {"v4.base64.channel.k8s.io, v4.channel.k8s.io"};
    CHECK(ws_chan_select_portforward(b64, 1, &p, &name) == 1 && p == WS_CHAN_V4_BASE64);
    CHECK(strcmp(name, "v4.base64.channel.k8s.io") == 0);
    const char *pf[] = {"portforward.k8s.io"};
    CHECK(ws_chan_select_portforward(pf, 1, &p, &name) == 1 && p == WS_CHAN_V4);
    CHECK(strcmp(name, "portforward.k8s.io") == 0);
    /* Exec's protocols are not port-forward's.  */
    const char *v5[] = {"v5.channel.k8s.io", "channel.k8s.io"};
    CHECK(ws_chan_select_portforward(v5, 2, &p, &name) == WS_SUBPROTO_NO_MATCH);
    CHECK(ws_chan_select_portforward(NULL, 0, &p, &name) == 0 && p == WS_CHAN_V4 &&
          name == NULL);
    const char *tunnel[] = {"SPDY/3.1+portforward.k8s.io"}; /* crictl --transport websocket */
    CHECK(ws_chan_select_portforward(tunnel, 1, &p, &name) == 1);
    CHECK(strcmp(name, WS_SPDY_TUNNEL_PROTOCOL) == 0);
    return 0;
}

/* Feeds IN STEP bytes at a time into a server-side parser and collects the
 * messages as "<opcode>:<payload>|" into OUT.  */
static int collect(const uint8_t *in, size_t n, size_t step, bool require_mask, char *out,
                   size_t out_size)
{
    struct ws_parser p;
    struct ws_message m;
    cleanup_error crimp_error_t err = NULL;
    int r;
    ws_parser_init(&p, 0, require_mask);
    out[0] = '\0';
    for (size_t off = 0; off < n; off += step) {
        ws_parser_feed(&p, in + off, n - off < step ? n - off : step, NULL);
        while ((r = ws_parser_next(&p, &m, &err)) == 1) {
            size_t l = strlen(out);
            snprintf(out + l, out_size - l, "%d:%.*s|", m.opcode, (int)m.len, (const char *)m.data);
        }
        if (r < 0) {
            ws_parser_free(&p);
            return -1;
        }
    }
    CHECK(p.pos == p.len);
    ws_parser_free(&p);
    return 0;
}

static int test_rfc_examples(void)
{
    char out[256];
    /* RFC 6455 §5.7.  */
    static const uint8_t masked_hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                           0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t frag_hello[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t masked_pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    for (size_t step = 1; step <= 11; step += 10) {
        CHECK(collect(masked_hello, sizeof(masked_hello), step, true, out, sizeof(out)) == 0);
        CHECK(strcmp(out, "1:Hello|") == 0);
        CHECK(collect(masked_pong, sizeof(masked_pong), step, true, out, sizeof(out)) == 0);
        CHECK(strcmp(out, "10:Hello|") == 0);
        CHECK(collect(frag_hello, sizeof(frag_hello), step, false, out, sizeof(out)) == 0);
        CHECK(strcmp(out, "1:Hello|") == 0);
        CHECK(collect(ping, sizeof(ping), step, false, out, sizeof(out)) == 0);
        CHECK(strcmp(out, "9:Hello|") == 0);
    }
    /* A server must reject the unmasked ones.  */
    CHECK(collect(frag_hello, sizeof(frag_hello), 1, true, out, sizeof(out)) < 0);
    return 0;
}

static int test_serializer_exact_bytes(void)
{
    cleanup_stream_buf struct stream_buf b = {0};
    cleanup_error crimp_error_t err = NULL;
    CHECK(ws_put_frame(&b, WS_OP_TEXT, true, "Hello", 5, &err) == 0);
    CHECK(b.len == 7 && memcmp(b.p, "\x81\x05Hello", 7) == 0);
    stream_buf_reset(&b);
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    CHECK(ws_put_masked_frame(&b, WS_OP_TEXT, true, "Hello", 5, key, &err) == 0);
    CHECK(b.len == 11 && memcmp(b.p, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11) == 0);
    stream_buf_reset(&b);
    cleanup_free uint8_t *big = xcalloc(1, 65536);
    CHECK(ws_put_frame(&b, WS_OP_BINARY, true, big, 256, &err) == 0);
    CHECK(b.len == 260 && memcmp(b.p, "\x82\x7e\x01\x00", 4) == 0);
    stream_buf_reset(&b);
    CHECK(ws_put_frame(&b, WS_OP_BINARY, true, big, 65536, &err) == 0);
    CHECK(b.len == 65546 && memcmp(b.p, "\x82\x7f\0\0\0\0\0\x01\0\0", 10) == 0);
    stream_buf_reset(&b);
    CHECK(ws_put_close(&b, WS_CLOSE_NORMAL, "bye", &err) == 0);
    CHECK(b.len == 7 && memcmp(b.p,
                               "\x88\x05\x03\xe8"
                               "bye",
                               7) == 0);
    stream_buf_reset(&b);
    CHECK(ws_put_frame(&b, WS_OP_PING, true, big, 126, &err) < 0);
    CHECK(ws_put_frame(&b, WS_OP_PING, false, "x", 1, &err) < 0);
    CHECK(ws_put_frame(&b, (enum ws_opcode)3, true, "x", 1, &err) < 0);
    CHECK(b.len == 0);
    return 0;
}

/* A fragmented binary message with a ping between the fragments, masked,
 * followed by a close; sizes cross both length encodings.  */
static int test_fragmented_round_trip(void)
{
    cleanup_stream_buf struct stream_buf b = {0};
    cleanup_error crimp_error_t err = NULL;
    static const uint8_t key[4] = {1, 2, 3, 4};
    size_t sizes[] = {0, 125, 126, 65535, 65536};
    size_t total = 0;
    cleanup_free uint8_t *src = xmalloc(200000);
    for (size_t i = 0; i < 200000; i++)
        src[i] = (uint8_t)(i * 31);
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(sizes); i++) {
        enum ws_opcode op = i == 0 ? WS_OP_BINARY : WS_OP_CONTINUATION;
        bool fin = i + 1 == CRIMP_ARRAY_SIZE(sizes);
        CHECK(ws_put_masked_frame(&b, op, fin, src + total, sizes[i], key, &err) == 0);
        total += sizes[i];
        if (i == 2)
            CHECK(ws_put_masked_frame(&b, WS_OP_PING, true, "p", 1, key, &err) == 0);
    }
    static const uint8_t close[] = {0x03, 0xe8, 'o', 'k'};
    CHECK(ws_put_masked_frame(&b, WS_OP_CLOSE, true, close, 4, key, &err) == 0);
    for (size_t step = 1; step <= b.len; step = step * 10 + 3) {
        struct ws_parser p;
        struct ws_message m;
        ws_parser_init(&p, 0, true);
        int seen = 0, r;
        for (size_t off = 0; off < b.len; off += step) {
            ws_parser_feed(&p, b.p + off, b.len - off < step ? b.len - off : step, NULL);
            while ((r = ws_parser_next(&p, &m, &err)) == 1) {
                if (seen == 0)
                    CHECK(m.opcode == WS_OP_PING && m.len == 1 && m.data[0] == 'p');
                if (seen == 1)
                    CHECK(m.opcode == WS_OP_BINARY && m.len == total &&
                          memcmp(m.data, src, total) == 0);
                if (seen == 2)
                    CHECK(m.opcode == WS_OP_CLOSE && m.close_code == 1000 &&
                          m.close_reason_len == 2 && memcmp(m.close_reason, "ok", 2) == 0);
                seen++;
            }
            CHECK(r == 0);
        }
        CHECK(seen == 3);
        ws_parser_free(&p);
    }
    return 0;
}

/* Expects IN to fail a server parser with CODE.  */
static int expect_fail(const void *in, size_t n, size_t max, uint16_t code)
{
    struct ws_parser p;
    struct ws_message m;
    cleanup_error crimp_error_t err = NULL;
    int r;
    ws_parser_init(&p, max, true);
    ws_parser_feed(&p, in, n, NULL);
    while ((r = ws_parser_next(&p, &m, &err)) == 1)
        ;
    bool ok = r < 0 && p.close_code == code && has_prefix(err->msg, "websocket: ");
    ok = ok && ws_parser_next(&p, &m, &err) < 0; /* sticky */
    if (!ok)
        fprintf(stderr, "r=%d close_code=%u\n", r, p.close_code);
    ws_parser_free(&p);
    return ok ? 0 : -1;
}

static int test_feed_is_bounded(void)
{
    struct ws_parser p;
    cleanup_error crimp_error_t err = NULL;
    static uint8_t junk[WS_MAX_FEED];
    ws_parser_init(&p, 4096, true);
    size_t fed = 0;
    while (ws_parser_feed(&p, junk, sizeof(junk), &err) == 0)
        fed += sizeof(junk);
    CHECK(fed <= ws_parser_max_buffered(&p) && p.close_code == WS_CLOSE_TOO_BIG);
    ws_parser_free(&p);
    return 0;
}

static int test_bad_frames(void)
{
    const uint16_t PE = WS_CLOSE_PROTOCOL_ERROR;
    CHECK(expect_fail("\x81\x01x", 3, 0, PE) == 0);                         /* unmasked */
    CHECK(expect_fail("\xc1\x80\0\0\0\0", 6, 0, PE) == 0);                  /* RSV1 */
    CHECK(expect_fail("\x83\x80\0\0\0\0", 6, 0, PE) == 0);                  /* opcode 3 */
    CHECK(expect_fail("\x8b\x80\0\0\0\0", 6, 0, PE) == 0);                  /* opcode 11 */
    CHECK(expect_fail("\x09\x80\0\0\0\0", 6, 0, PE) == 0);                  /* fragmented ping */
    CHECK(expect_fail("\x89\xfe\0\x7e", 4, 0, PE) == 0);                    /* long ping */
    CHECK(expect_fail("\x80\x80\0\0\0\0", 6, 0, PE) == 0);                  /* stray continuation */
    CHECK(expect_fail("\x01\x80\0\0\0\0\x01\x80\0\0\0\0", 12, 0, PE) == 0); /* nested start */
    CHECK(expect_fail("\x82\xff\x80\0\0\0\0\0\0\0\0\0\0\0", 14, 0, PE) == 0); /* 64-bit MSB */
    CHECK(expect_fail("\x88\x81\0\0\0\0\x03", 7, 0, PE) == 0);                /* 1-byte close */
    CHECK(expect_fail("\x88\x82\0\0\0\0\x03\xed", 8, 0, PE) == 0);            /* close code 1005 */
    CHECK(expect_fail("\x81\x81\0\0\0\0\xff", 7, 0, WS_CLOSE_INVALID_DATA) == 0);
    CHECK(expect_fail("\x88\x83\0\0\0\0\x03\xe8\xc0", 9, 0, WS_CLOSE_INVALID_DATA) == 0);
    /* Too big: one frame, and fragments that add up.  */
    CHECK(expect_fail("\x82\xfe\x01\x00\0\0\0\0", 8, 100, WS_CLOSE_TOO_BIG) == 0);
    cleanup_stream_buf struct stream_buf b = {0};
    cleanup_error crimp_error_t err = NULL;
    static const uint8_t key[4] = {9, 9, 9, 9};
    uint8_t chunk[60] = {0};
    CHECK(ws_put_masked_frame(&b, WS_OP_BINARY, false, chunk, 60, key, &err) == 0);
    CHECK(ws_put_masked_frame(&b, WS_OP_CONTINUATION, true, chunk, 60, key, &err) == 0);
    CHECK(expect_fail(b.p, b.len, 100, WS_CLOSE_TOO_BIG) == 0);
    /* UTF-8 split across fragments is fine; checked on the whole message.  */
    stream_buf_reset(&b);
    CHECK(ws_put_masked_frame(&b, WS_OP_TEXT, false, "\xc3", 1, key, &err) == 0);
    CHECK(ws_put_masked_frame(&b, WS_OP_CONTINUATION, true, "\xa9", 1, key, &err) == 0);
    char out[64];
    CHECK(collect(b.p, b.len, 1, true, out, sizeof(out)) == 0);
    CHECK(strcmp(out, "1:\xc3\xa9|") == 0);
    return 0;
}

static int decode(enum ws_chan_proto proto, enum ws_opcode op, const char *data, size_t len,
                  struct stream_buf *scratch, struct ws_chan_msg *out, crimp_error_t *err)
{
    struct ws_message m = {.opcode = op, .data = (const uint8_t *)data, .len = len};
    return ws_chan_decode(proto, &m, scratch, out, err);
}

static int test_channels(void)
{
    cleanup_stream_buf struct stream_buf scratch = {0};
    cleanup_stream_buf struct stream_buf b = {0};
    cleanup_error crimp_error_t err = NULL;
    struct ws_chan_msg c;
    CHECK(decode(WS_CHAN_V4, WS_OP_BINARY, "\x00hi", 3, &scratch, &c, &err) == 1);
    CHECK(c.channel == WS_CHAN_STDIN && c.len == 2 && memcmp(c.data, "hi", 2) == 0 && !c.close);
    CHECK(decode(WS_CHAN_V4, WS_OP_BINARY, "", 0, &scratch, &c, &err) == 0);
    CHECK(decode(WS_CHAN_V5, WS_OP_BINARY, "\xff\x00", 2, &scratch, &c, &err) == 1);
    CHECK(c.close && c.channel == WS_CHAN_STDIN);
    CHECK(decode(WS_CHAN_V5, WS_OP_BINARY, "\xff\x00\x01", 3, &scratch, &c, &err) < 0);
    CHECK(decode(WS_CHAN_V5, WS_OP_BINARY, "\xff", 1, &scratch, &c, &err) < 0);
    /* Before v5, 255 is just a channel nobody reads.  */
    CHECK(decode(WS_CHAN_V4, WS_OP_BINARY, "\xff\x00", 2, &scratch, &c, &err) == 1);
    CHECK(!c.close && c.channel == 255);
    CHECK(decode(WS_CHAN_BASE64, WS_OP_TEXT, "0aGk=", 5, &scratch, &c, &err) == 1);
    CHECK(c.channel == 0 && c.len == 2 && memcmp(c.data, "hi", 2) == 0);
    CHECK(decode(WS_CHAN_V4_BASE64, WS_OP_TEXT, "4", 1, &scratch, &c, &err) == 1);
    CHECK(c.channel == WS_CHAN_RESIZE && c.len == 0);
    CHECK(decode(WS_CHAN_BASE64, WS_OP_TEXT, "0aGk", 4, &scratch, &c, &err) < 0);
    CHECK(decode(WS_CHAN_BASE64, WS_OP_TEXT, "!aGk=", 5, &scratch, &c, &err) < 0);
    CHECK(decode(WS_CHAN_V4, WS_OP_PING, "x", 1, &scratch, &c, &err) < 0);

    /* Ready message and data, binary and base64.  */
    CHECK(ws_chan_put(&b, WS_CHAN_V5, WS_CHAN_STDOUT, NULL, 0, &err) == 0);
    CHECK(b.len == 3 && memcmp(b.p, "\x82\x01\x01", 3) == 0);
    stream_buf_reset(&b);
    CHECK(ws_chan_put(&b, WS_CHAN_BASE64, WS_CHAN_STDOUT, NULL, 0, &err) == 0);
    CHECK(b.len == 3 && memcmp(b.p,
                               "\x81\x01"
                               "1",
                               3) == 0);
    stream_buf_reset(&b);
    CHECK(ws_chan_put(&b, WS_CHAN_V4_BASE64, WS_CHAN_STDERR, "hi", 2, &err) == 0);
    CHECK(b.len == 7 && memcmp(b.p,
                               "\x81\x05"
                               "2aGk=",
                               7) == 0);
    stream_buf_reset(&b);
    CHECK(ws_chan_put(&b, WS_CHAN_V4, 3, "{}", 2, &err) == 0);
    CHECK(b.len == 5 && memcmp(b.p, "\x82\x03\x03{}", 5) == 0);
    CHECK(ws_chan_put(&b, WS_CHAN_BASE64, 250, "x", 1, &err) < 0);
    CHECK(ws_chan_is_base64(WS_CHAN_V4_BASE64) && !ws_chan_is_base64(WS_CHAN_V5));
    CHECK(ws_chan_status_json(WS_CHAN_V5) && !ws_chan_status_json(WS_CHAN_V1));
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_accept_key),
        UNIT_TEST(test_subprotocol_client_order_wins),
        UNIT_TEST(test_portforward_subprotocols),
        UNIT_TEST(test_rfc_examples),
        UNIT_TEST(test_serializer_exact_bytes),
        UNIT_TEST(test_fragmented_round_trip),
        UNIT_TEST(test_bad_frames),
        UNIT_TEST(test_feed_is_bounded),
        UNIT_TEST(test_channels),
    };
    return unit_run(tests, CRIMP_ARRAY_SIZE(tests));
}
