/* Unit tests for the cutting of Docker's timestamped log body into
 * messages (backends/docker/log_stream.c): frames and tty lines fed in
 * awkward pieces, the resume filter a reconnect relies on, and a tty line
 * that never ends kept to a bounded buffer.  */
#include <stdlib.h>
#include <string.h>

#include "docker/log_stream.h"
#include "unit.h"
#include "utils.h"

struct piece {
    enum crilog_stream stream;
    int64_t t;
    char text[64];
};

struct sink {
    struct piece got[16]; /* the first ones */
    size_t n;
    struct piece last;
    size_t bytes; /* of every piece, kept or not */
};

static bool collect(void *ctx, enum crilog_stream stream, int64_t t, const char *text, size_t len)
{
    struct sink *k = ctx;
    k->bytes += len;
    struct piece *p = k->n < 16 ? &k->got[k->n++] : &k->last;
    p->stream = stream;
    p->t = t;
    snprintf(p->text, sizeof(p->text), "%.*s", (int)(len < 63 ? len : 63), text);
    if (p != &k->last)
        k->last = *p;
    return true;
}

#define T1 "2026-12-07T02:00:01.000000001Z"
#define T2 "2026-12-07T02:00:01.000000002Z"
#define T3 "2026-12-07T02:00:02.5Z"

/* One frame: header then MSG.  */
static size_t frame(char *out, int stream, const char *msg)
{
    size_t n = strlen(msg);
    unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(n >> 24),
                          (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    memcpy(out, h, 8);
    memcpy(out + 8, msg, n);
    return 8 + n;
}

static int feed_frames(size_t chunk, int64_t resume_ns, struct sink *k)
{
    char body[256];
    size_t len = frame(body, 1, T1 " one\n");
    len += frame(body + len, 2, T2 " two\n");
    len += frame(body + len, 1, T3 " three\n");
    struct docker_log_stream s = {.sink = collect, .ctx = k, .resume_ns = resume_ns};
    for (size_t off = 0; off < len; off += chunk)
        CHECK(docker_log_stream_feed(&s, body + off, len - off < chunk ? len - off : chunk));
    CHECK(s.len == 0 && !s.broken);
    docker_log_stream_release(&s);
    return 0;
}

static int test_frames_in_any_pieces(void)
{
    for (size_t chunk = 1; chunk < 100; chunk++) {
        struct sink k = {0};
        CHECK(feed_frames(chunk, 0, &k) == 0);
        CHECK(k.n == 3);
        CHECK(k.got[0].stream == CRILOG_STDOUT && strcmp(k.got[0].text, "one\n") == 0);
        CHECK(k.got[1].stream == CRILOG_STDERR && strcmp(k.got[1].text, "two\n") == 0);
        CHECK(k.got[2].t == 1796608802500000000LL);
        CHECK(k.got[1].t - k.got[0].t == 1);
    }
    return 0;
}

/* A reconnect asks from the whole second: what was written is dropped to
 * the nanosecond, nothing later is.  */
static int test_resume_drops_only_what_was_written(void)
{
    struct sink k = {0};
    CHECK(feed_frames(7, 1796608801000000001LL, &k) == 0);
    CHECK(k.n == 2 && strcmp(k.got[0].text, "two\n") == 0);
    return 0;
}

static int test_restart_forgets_a_cut_frame(void)
{
    struct sink k = {0};
    char body[128];
    size_t len = frame(body, 1, T1 " one\n");
    size_t second = frame(body + len, 1, T2 " two\n");
    struct docker_log_stream s = {.sink = collect, .ctx = &k};
    CHECK(docker_log_stream_feed(&s, body, len + 10)); /* the connection broke in frame 2 */
    docker_log_stream_restart(&s);
    CHECK(s.resume_ns == 1796608801000000001LL);
    /* Docker sends from the second again: frame 1 is dropped, 2 is whole.  */
    CHECK(docker_log_stream_feed(&s, body, len + second));
    CHECK(k.n == 2 && strcmp(k.got[1].text, "two\n") == 0);
    docker_log_stream_release(&s);
    return 0;
}

static int test_bad_frame_stops(void)
{
    struct sink k = {0};
    struct docker_log_stream s = {.sink = collect, .ctx = &k};
    CHECK(!docker_log_stream_feed(&s, "\x01\0\0\0\x7f\0\0\0", 8)); /* 2 GiB */
    CHECK(s.broken);
    docker_log_stream_release(&s);
    return 0;
}

static int test_tty_lines(void)
{
    static const char body[] = T1 " a\r\n" T2 " b\n" T3 " c";
    for (size_t chunk = 1; chunk < sizeof(body); chunk++) {
        struct sink k = {0};
        struct docker_log_stream s = {.tty = true, .sink = collect, .ctx = &k};
        for (size_t off = 0; off < sizeof(body) - 1; off += chunk)
            CHECK(docker_log_stream_feed(&s, body + off,
                                         sizeof(body) - 1 - off < chunk ? sizeof(body) - 1 - off
                                                                        : chunk));
        CHECK(k.n == 2 && strcmp(k.got[0].text, "a\r\n") == 0 && strcmp(k.got[1].text, "b\n") == 0);
        CHECK(s.len == strlen(T3 " c")); /* waits for its newline */
        docker_log_stream_release(&s);
    }
    return 0;
}

/* A tty program that prints 4 MiB without a newline: the buffer never
 * holds much more than the cap, every byte reaches the sink under the
 * first stamp, and the newline that finally comes ends that same line.  */
static int test_tty_line_without_end_is_bounded(void)
{
    struct sink k = {0};
    struct docker_log_stream s = {.tty = true, .sink = collect, .ctx = &k};
    CHECK(docker_log_stream_feed(&s, T1 " ", strlen(T1 " ")));
    cleanup_free char *chunk = xmalloc(4096);
    memset(chunk, 'x', 4096);
    for (int i = 0; i < 1024; i++) {
        CHECK(docker_log_stream_feed(&s, chunk, 4096));
        CHECK(s.len <= DOCKER_LOG_PENDING_MAX);
    }
    CHECK(docker_log_stream_feed(&s, "end\n" T2 " next\n", strlen("end\n" T2 " next\n")));
    CHECK(k.bytes == 4096 * 1024 + strlen("end\n") + strlen("next\n"));
    CHECK(k.n == 16); /* the line went out in pieces */
    for (size_t i = 0; i < k.n; i++)
        CHECK(k.got[i].t == 1796608801000000001LL);
    CHECK(strcmp(k.last.text, "next\n") == 0);
    CHECK(k.last.t == 1796608801000000002LL);
    docker_log_stream_release(&s);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_frames_in_any_pieces),
        UNIT_TEST(test_resume_drops_only_what_was_written),
        UNIT_TEST(test_restart_forgets_a_cut_frame),
        UNIT_TEST(test_bad_frame_stops),
        UNIT_TEST(test_tty_lines),
        UNIT_TEST(test_tty_line_without_end_is_bounded),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
