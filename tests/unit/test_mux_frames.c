/* Unit tests for the decoder of stdout/stderr frames (Docker's non-tty
 * streams, and the containerd backend's relay): fed in awkward chunk sizes
 * as a socket delivers them, through the raw API and through the
 * crimp_stream_output a session uses; and every header that is not a
 * frame refused with DATA_LOSS.  */
#include <string.h>

#include "common/mux_frames.h"
#include "unit.h"
#include "utils.h"

struct sink {
    char out[256], err[256];
    size_t n_out, n_err;
    int calls;
};

static void collect(void *ctx, bool is_stderr, const uint8_t *data, size_t len)
{
    struct sink *k = ctx;
    char *buf = is_stderr ? k->err : k->out;
    size_t *n = is_stderr ? &k->n_err : &k->n_out;
    memcpy(buf + *n, data, len);
    *n += len;
    k->calls++;
}

/* stdout, stderr, a stdin frame (read as stdout, as Docker's own client
 * does), an empty one, stdout.  */
static const char frames[] = "\x01\0\0\0\0\0\0\x05hello"
                             "\x02\0\0\0\0\0\0\x04oops"
                             "\x00\0\0\0\0\0\0\x02in"
                             "\x01\0\0\0\0\0\0\0"
                             "\x01\0\0\0\0\0\0\x01!";

static int feed_in_chunks(size_t chunk, bool via_output)
{
    struct mux_demux d = {0};
    struct crimp_stream_output *o = via_output ? mux_demux_output_new() : NULL;
    struct sink k = {0};
    crimp_error_t err = NULL;
    size_t total = sizeof(frames) - 1;
    for (size_t off = 0; off < total; off += chunk) {
        size_t n = total - off < chunk ? total - off : chunk;
        const uint8_t *p = (const uint8_t *)frames + off;
        if (o)
            CHECK_OK(o->feed(o, p, n, collect, &k, &err));
        else
            CHECK_OK(mux_demux_feed(&d, p, n, collect, &k, &err));
    }
    if (o)
        o->free(o);
    CHECK(k.n_out == 8 && memcmp(k.out, "helloin!", 8) == 0);
    CHECK(k.n_err == 4 && memcmp(k.err, "oops", 4) == 0);
    return 0;
}

static int test_whole_and_split(void)
{
    for (size_t chunk = 1; chunk <= sizeof(frames); chunk++) {
        CHECK(feed_in_chunks(chunk, false) == 0);
        CHECK(feed_in_chunks(chunk, true) == 0);
    }
    return 0;
}

/* A payload split over reads comes out as it arrives, not held back.  */
static int test_payload_streams(void)
{
    struct mux_demux d = {0};
    struct sink k = {0};
    crimp_error_t err = NULL;
    CHECK_OK(mux_demux_feed(&d, (const uint8_t *)"\x02\0\0\0\0\0\0\x0a" "abc", 11, collect, &k,
                            &err));
    CHECK(k.n_err == 3 && memcmp(k.err, "abc", 3) == 0);
    CHECK_OK(mux_demux_feed(&d, (const uint8_t *)"defghij", 7, collect, &k, &err));
    CHECK(k.n_err == 10 && k.n_out == 0);
    return 0;
}

static int expect_refused(const char *bytes, size_t n, const char *why)
{
    struct mux_demux d = {0};
    struct sink k = {0};
    crimp_error_t err = NULL;
    CHECK(mux_demux_feed(&d, (const uint8_t *)bytes, n, collect, &k, &err) < 0);
    CHECK(err->code == GRPC_STATUS_DATA_LOSS);
    CHECK(strstr(err->msg, why) != NULL);
    crimp_error_release(&err);
    /* Nothing of the bad frame was handed out.  */
    CHECK(k.n_out == 2 && k.n_err == 0);
    return 0;
}

static int test_bad_headers(void)
{
    /* Each after a good frame: the first payload is out before the error.  */
    CHECK(expect_refused("\x01\0\0\0\0\0\0\x02okGARBAGE!", 18, "bad frame header") == 0);
    CHECK(expect_refused("\x01\0\0\0\0\0\0\x02ok\x03\0\0\0\0\0\0\x01x", 19, "bad frame header") ==
          0);
    CHECK(expect_refused("\x01\0\0\0\0\0\0\x02ok\x01\0\x01\0\0\0\0\x01x", 19,
                         "bad frame header") == 0);
    /* One byte over the bound, and the largest size a header can say.  */
    CHECK(expect_refused("\x01\0\0\0\0\0\0\x02ok\x01\0\0\0\0\x10\0\x01", 18, "(at most") == 0);
    CHECK(expect_refused("\x01\0\0\0\0\0\0\x02ok\x02\0\0\0\xff\xff\xff\xff", 18, "(at most") ==
          0);
    return 0;
}

static int test_largest_frame(void)
{
    struct mux_demux d = {0};
    struct sink k = {0};
    crimp_error_t err = NULL;
    uint8_t h[MUX_FRAME_HEADER];
    mux_frame_header(h, true, MUX_FRAME_MAX);
    CHECK_OK(mux_demux_feed(&d, h, sizeof(h), collect, &k, &err));
    CHECK(d.remaining == MUX_FRAME_MAX && d.is_stderr);
    mux_frame_header(h, false, 7);
    CHECK(h[0] == 1 && h[7] == 7 && h[4] == 0);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_whole_and_split),
        UNIT_TEST(test_payload_streams),
        UNIT_TEST(test_bad_headers),
        UNIT_TEST(test_largest_frame),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
