/* stream/spdy_frame.c against byte-level vectors of SPDY/3 frames and
 * their header compression (docs/streaming.md, "SPDY framing"), fed whole
 * and byte by byte, and bad input that must end in an error rather than a
 * crash.  */
#include <string.h>
#include <zlib.h>

#include "spdy_frame.h"
#include "unit.h"
#include "utils.h"

static const uint8_t SYN_REPLY_1[] = {0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                      0x00, 0x01, 0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0xa6,
                                      0x23, 0x06, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff};
static const uint8_t SYN_REPLY_3[] = {0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00,
                                      0x00, 0x03, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff};
static const uint8_t SYN_STREAM_ERROR[] = {
    0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0xa6, 0x23, 0x46,
    0x70, 0x3a, 0x2b, 0x29, 0x4a, 0x4d, 0xcc, 0x85, 0x16, 0x25, 0xac, 0xa9, 0xa0, 0x80,
    0x06, 0x00, 0x00, 0x00, 0xff, 0xff};
static const uint8_t PING_1[] = {0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04,
                                 0x00, 0x00, 0x00, 0x01};
static const uint8_t RST_5_CANCEL[] = {0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08,
                                       0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x05};
static const uint8_t GOAWAY_0[] = {0x80, 0x03, 0x00, 0x07, 0x00, 0x00, 0x00, 0x08,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
static const uint8_t DATA_1_FIN[] = {0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00};

static int test_dictionary(void)
{
    CHECK(adler32(1, spdy_dictionary, SPDY_DICTIONARY_LEN) == 0xe3c6a7c2);
    return 0;
}

static int test_encoders_match_the_vectors(void)
{
    struct spdy_codec c;
    spdy_codec_init(&c);
    struct spdy_buf b = {0};
    spdy_put_syn_reply(&c, &b, 1);
    CHECK(b.len == sizeof(SYN_REPLY_1) && memcmp(b.p, SYN_REPLY_1, b.len) == 0);
    b.len = 0;
    spdy_put_syn_reply(&c, &b, 3); /* same compressor: no zlib header now */
    CHECK(b.len == sizeof(SYN_REPLY_3) && memcmp(b.p, SYN_REPLY_3, b.len) == 0);
    b.len = 0;
    spdy_put_ping(&b, 1);
    CHECK(b.len == sizeof(PING_1) && memcmp(b.p, PING_1, b.len) == 0);
    b.len = 0;
    spdy_put_rst(&b, 5, SPDY_RST_CANCEL);
    CHECK(memcmp(b.p, RST_5_CANCEL, sizeof(RST_5_CANCEL)) == 0);
    b.len = 0;
    spdy_put_goaway(&b, 0, 0);
    CHECK(memcmp(b.p, GOAWAY_0, sizeof(GOAWAY_0)) == 0);
    b.len = 0;
    spdy_put_data(&b, 1, SPDY_FLAG_FIN, NULL, 0);
    CHECK(b.len == sizeof(DATA_1_FIN) && memcmp(b.p, DATA_1_FIN, b.len) == 0);
    spdy_buf_free(&b);
    spdy_codec_free(&c);
    return 0;
}

/* A client's stream of frames, delivered in pieces of STEP bytes.  */
static int decode_all(size_t step)
{
    struct spdy_codec c;
    spdy_codec_init(&c);
    struct spdy_buf in = {0};
    const struct {
        const uint8_t *p;
        size_t n;
    } frames[] = {{SYN_STREAM_ERROR, sizeof(SYN_STREAM_ERROR)},
                  {PING_1, sizeof(PING_1)},
                  {DATA_1_FIN, sizeof(DATA_1_FIN)},
                  {RST_5_CANCEL, sizeof(RST_5_CANCEL)},
                  {GOAWAY_0, sizeof(GOAWAY_0)}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(frames); i++) {
        in.p = xrealloc(in.p, in.len + frames[i].n);
        memcpy(in.p + in.len, frames[i].p, frames[i].n);
        in.len += frames[i].n;
    }
    int seen = 0;
    crimp_error_t err = NULL;
    for (size_t off = 0; off < in.len; off += step) {
        spdy_feed(&c, in.p + off, off + step <= in.len ? step : in.len - off);
        struct spdy_frame f;
        int r;
        while ((r = spdy_next(&c, &f, &err)) > 0) {
            switch (seen++) {
            case 0:
                CHECK(f.type == SPDY_SYN_STREAM && f.stream_id == 1);
                CHECK(f.n_headers == 1 && strcmp(spdy_header(&f, "streamtype"), "error") == 0);
                break;
            case 1:
                CHECK(f.type == SPDY_PING && f.value == 1);
                break;
            case 2:
                CHECK(f.type == SPDY_DATA && f.stream_id == 1 && f.len == 0 &&
                      (f.flags & SPDY_FLAG_FIN));
                break;
            case 3:
                CHECK(f.type == SPDY_RST_STREAM && f.stream_id == 5 && f.value == SPDY_RST_CANCEL);
                break;
            case 4:
                CHECK(f.type == SPDY_GOAWAY && f.stream_id == 0 && f.value == 0);
                break;
            }
        }
        CHECK(r == 0);
    }
    CHECK(seen == 5);
    spdy_buf_free(&in);
    spdy_codec_free(&c);
    return 0;
}

static int test_decoder_whole_and_byte_by_byte(void)
{
    CHECK(decode_all(4096) == 0);
    CHECK(decode_all(1) == 0);
    CHECK(decode_all(7) == 0);
    return 0;
}

static int test_client_encoder_round_trip(void)
{
    struct spdy_codec client, server;
    spdy_codec_init(&client);
    spdy_codec_init(&server);
    struct spdy_buf b = {0};
    struct spdy_header h[] = {{"streamtype", "data"}, {"port", "8080"}, {"requestid", "0"}};
    for (uint32_t id = 1; id < 8; id += 2)
        spdy_put_syn_stream(&client, &b, id, h, 3, 0);
    spdy_feed(&server, b.p, b.len);
    crimp_error_t err = NULL;
    struct spdy_frame f;
    for (uint32_t id = 1; id < 8; id += 2) {
        CHECK(spdy_next(&server, &f, &err) == 1);
        CHECK(f.type == SPDY_SYN_STREAM && f.stream_id == id);
        CHECK(strcmp(spdy_header(&f, "port"), "8080") == 0);
        CHECK(strcmp(spdy_header(&f, "requestid"), "0") == 0);
    }
    spdy_buf_free(&b);
    spdy_codec_free(&client);
    spdy_codec_free(&server);
    return 0;
}

static int expect_error(const uint8_t *p, size_t n)
{
    struct spdy_codec c;
    spdy_codec_init(&c);
    spdy_feed(&c, p, n);
    struct spdy_frame f;
    crimp_error_t err = NULL;
    int r = spdy_next(&c, &f, &err);
    spdy_codec_free(&c);
    if (r >= 0)
        return -1;
    crimp_error_release(&err);
    return 0;
}

static int test_bad_frames_are_errors(void)
{
    const uint8_t unknown_type[] = {0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 0};
    const uint8_t short_ping[] = {0x80, 0x03, 0x00, 0x06, 0, 0, 0, 2, 0, 1};
    const uint8_t bad_goaway[] = {0x80, 0x03, 0x00, 0x07, 0, 0, 0, 4, 0, 0, 0, 0};
    uint8_t bad_block[sizeof(SYN_STREAM_ERROR)];
    memcpy(bad_block, SYN_STREAM_ERROR, sizeof(bad_block));
    bad_block[30] ^= 0xff; /* corrupt the compressed headers */
    CHECK(expect_error(unknown_type, sizeof(unknown_type)) == 0);
    CHECK(expect_error(short_ping, sizeof(short_ping)) == 0);
    CHECK(expect_error(bad_goaway, sizeof(bad_goaway)) == 0);
    CHECK(expect_error(bad_block, sizeof(bad_block)) == 0);
    /* Found by fuzzing: a header name whose value overruns the block once
     * leaked the name (ASan's leak check catches a regression).  */
    uint8_t name_no_value[sizeof(SYN_STREAM_ERROR)];
    memcpy(name_no_value, SYN_STREAM_ERROR, sizeof(name_no_value));
    name_no_value[35] = 0x3d;
    CHECK(expect_error(name_no_value, sizeof(name_no_value)) == 0);
    const uint8_t huge[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff};
    struct spdy_codec c;
    spdy_codec_init(&c);
    c.max_frame = 1024;
    spdy_feed(&c, huge, sizeof(huge));
    struct spdy_frame f;
    crimp_error_t err = NULL;
    CHECK(spdy_next(&c, &f, &err) < 0);
    crimp_error_release(&err);
    spdy_codec_free(&c);
    /* Input nobody decodes is refused past the bound, before any copy.  */
    spdy_codec_init(&c);
    c.max_frame = 1024;
    static uint8_t junk[SPDY_MAX_FEED];
    size_t fed = 0;
    while (spdy_feed(&c, junk, sizeof(junk)) == 0)
        fed += sizeof(junk);
    CHECK(fed <= spdy_codec_max_buffered(&c) && c.len == fed);
    CHECK(spdy_feed(&c, junk, 1) == 0 || fed + 1 > spdy_codec_max_buffered(&c));
    spdy_codec_free(&c);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_dictionary),
        UNIT_TEST(test_encoders_match_the_vectors),
        UNIT_TEST(test_decoder_whole_and_byte_by_byte),
        UNIT_TEST(test_client_encoder_round_trip),
        UNIT_TEST(test_bad_frames_are_errors),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
