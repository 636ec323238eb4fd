/* Unit tests for the demuxer of Docker's multiplexed stdout/stderr frames,
 * fed in awkward chunk sizes as a socket delivers them.  */
#include <string.h>

#include "docker/hijack.h"
#include "unit.h"
#include "utils.h"

struct sink {
    char out[256], err[256];
    size_t n_out, n_err;
};

static void collect(void *ctx, enum docker_stream s, const char *data, size_t len)
{
    struct sink *k = ctx;
    if (s == DOCKER_STDERR) {
        memcpy(k->err + k->n_err, data, len);
        k->n_err += len;
    } else {
        memcpy(k->out + k->n_out, data, len);
        k->n_out += len;
    }
}

static const char frames[] = "\x01\0\0\0\0\0\0\x05hello"
                             "\x02\0\0\0\0\0\0\x04oops"
                             "\x01\0\0\0\0\0\0\x01!";

static int feed_in_chunks(size_t chunk)
{
    struct docker_demux d;
    struct sink k = {0};
    crimp_error_t err = NULL;
    docker_demux_init(&d, collect, &k);
    size_t total = sizeof(frames) - 1;
    for (size_t off = 0; off < total; off += chunk) {
        size_t n = total - off < chunk ? total - off : chunk;
        CHECK(docker_demux_feed(&d, frames + off, n, &err) == 0);
    }
    CHECK(k.n_out == 6 && memcmp(k.out, "hello!", 6) == 0);
    CHECK(k.n_err == 4 && memcmp(k.err, "oops", 4) == 0);
    return 0;
}

static int test_whole_and_split(void)
{
    for (size_t chunk = 1; chunk <= sizeof(frames); chunk++)
        CHECK(feed_in_chunks(chunk) == 0);
    return 0;
}

static int test_bad_header(void)
{
    struct docker_demux d;
    struct sink k = {0};
    crimp_error_t err = NULL;
    docker_demux_init(&d, collect, &k);
    CHECK(docker_demux_feed(&d, "GARBAGE!", 8, &err) < 0);
    CHECK(err->code == GRPC_STATUS_DATA_LOSS);
    crimp_error_release(&err);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_whole_and_split),
        UNIT_TEST(test_bad_header),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
