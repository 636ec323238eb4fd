/* Unit tests for the log copier's attach fan-out (backends/containerd/
 * ctrd_attach.c): framed output to every session while the log still gets
 * everything, stdin fed from a session and closed by stdin_once, a slow
 * client detached without stalling the log, the last output flushed
 * before the session's EOF, stdin back-pressure that does not stop
 * output, and attach errors.  The test plays the shim: it opens the FIFOs'
 * other ends itself.  */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "containerd/ctrd_io.h"
#include "unit.h"
#include "utils.h"

static char tmp[] = "/tmp/crimp-ctrd-attach-XXXXXX";
static struct ctrd_logger *logger;

/* The containers whose stdin stdin_once closed, " id" each, in order (the
 * logger thread writes, the test reads after the FIFO showed the EOF).  */
static char closed_ids[256];

static void on_stdin_closed(void *ctx, const char *id)
{
    size_t n = strlen(closed_ids);
    snprintf(closed_ids + n, sizeof(closed_ids) - n, " %s", id);
}

/* One container's stdio as the shim sees it.  */
struct ctr {
    const char *id;
    struct ctrd_fifos f;
    int out, err; /* the write ends the process would have */
    int in;       /* the read end the shim copies stdin from (-1) */
    char *log;
};

static int start(struct ctr *c, const char *id, bool with_stdin, bool stdin_once)
{
    crimp_error_t err = NULL;
    cleanup_free char *base = xasprintf("%s/io", tmp);
    *c = (struct ctr){.id = id, .out = -1, .err = -1, .in = -1};
    c->log = xasprintf("%s/%s.log", tmp, id);
    CHECK_OK(ctrd_fifos_create(base, id, with_stdin, true, &c->f, &err));
    if (with_stdin)
        c->in = open(c->f.stdin_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    CHECK_OK(ctrd_logger_add(logger, id, steal_fd(&c->f.fd_out), steal_fd(&c->f.fd_err),
                             steal_fd(&c->f.fd_in), stdin_once, c->log, &err));
    c->out = open(c->f.stdout_path, O_WRONLY | O_CLOEXEC);
    c->err = open(c->f.stderr_path, O_WRONLY | O_CLOEXEC);
    CHECK(c->out >= 0 && c->err >= 0 && (!with_stdin || c->in >= 0));
    return 0;
}

/* The process exits: its output ends, the logger forgets it.  */
static int stop(struct ctr *c)
{
    close(c->out);
    close(c->err);
    CHECK(ctrd_logger_finish(logger, c->id, 5000) == 0);
    if (c->in >= 0)
        close(c->in);
    ctrd_fifos_cleanup(&c->f);
    free(c->log);
    return 0;
}

/* A new session; returns the client's end, -1 with *ERR set.  */
static int attach(const char *id, bool tty, bool out, bool errs, bool in, crimp_error_t *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    struct ctrd_attach_opts o = {
        .tty = tty, .want_stdout = out, .want_stderr = errs, .want_stdin = in};
    if (ctrd_logger_attach(logger, id, sv[1], &o, err) < 0) {
        close(sv[0]);
        return -1;
    }
    return sv[0];
}

/* Reads exactly N bytes within 5 s; false on EOF or timeout.  */
static bool read_exact(int fd, void *buf, size_t n)
{
    char *p = buf;
    int64_t deadline = crimp_now_mono_ns() + 5000000000LL;
    while (n > 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (crimp_now_mono_ns() > deadline || poll(&pfd, 1, 100) < 0)
            return false;
        if (!pfd.revents)
            continue;
        ssize_t r = read(fd, p, n);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* Reads one Docker frame: its stream (1, 2) and payload into BUF (NUL
 * terminated); -1 on EOF or timeout.  */
static int read_frame(int fd, char *buf, size_t cap, size_t *len)
{
    unsigned char h[8];
    if (!read_exact(fd, h, 8))
        return -1;
    *len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
    if (*len >= cap || !read_exact(fd, buf, *len))
        return -1;
    buf[*len] = '\0';
    return h[0];
}

/* Reads until EOF within 5 s: the byte count, -1 on timeout.  */
static ssize_t read_to_eof(int fd)
{
    static char buf[65536];
    ssize_t total = 0;
    int64_t deadline = crimp_now_mono_ns() + 5000000000LL;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (crimp_now_mono_ns() > deadline)
            return -1;
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r == 0)
            return total;
        if (r < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (r > 0)
            total += r;
    }
}

/* What reading stdin's FIFO gives within MS: bytes, 0 for EOF, -1 for
 * nothing yet.  */
static ssize_t read_stdin(int fd, char *buf, size_t cap, int ms)
{
    for (int waited = 0;; waited += 10) {
        ssize_t r = read(fd, buf, cap);
        if (r >= 0 || errno != EAGAIN || waited >= ms)
            return r;
        usleep(10000);
    }
}

static bool wait_for_text(const char *path, const char *needle)
{
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "re");
        char buf[4096] = "";
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        if (strstr(buf, needle))
            return true;
        usleep(10000);
    }
    return false;
}

/* ---- tests ------------------------------------------------------------------ */

static int test_output_goes_to_log_and_sessions(void)
{
    crimp_error_t err = NULL;
    struct ctr c;
    CHECK(start(&c, "fan", false, false) == 0);
    int both = attach("fan", false, true, true, false, &err);
    int only_out = attach("fan", false, true, false, false, &err);
    CHECK(both >= 0 && only_out >= 0);
    CHECK(write(c.out, "out one\n", 8) == 8);
    CHECK(write(c.err, "err one\n", 8) == 8);
    char buf[64];
    size_t n;
    CHECK(read_frame(both, buf, sizeof(buf), &n) == 1 && strcmp(buf, "out one\n") == 0);
    CHECK(read_frame(both, buf, sizeof(buf), &n) == 2 && strcmp(buf, "err one\n") == 0);
    CHECK(read_frame(only_out, buf, sizeof(buf), &n) == 1 && strcmp(buf, "out one\n") == 0);
    /* A tty session gets the bytes as they are.  */
    int raw = attach("fan", true, true, false, false, &err);
    CHECK(raw >= 0);
    CHECK(write(c.out, "out two\n", 8) == 8);
    CHECK(read_exact(raw, buf, 8) && memcmp(buf, "out two\n", 8) == 0);
    CHECK(wait_for_text(c.log, " stdout F out two\n"));
    CHECK(wait_for_text(c.log, " stderr F err one\n"));
    /* The output ends: every session sees EOF after what was left.  */
    close(c.out);
    close(c.err);
    c.out = c.err = -1;
    CHECK(read_frame(both, buf, sizeof(buf), &n) == 1 && strcmp(buf, "out two\n") == 0);
    CHECK(read_to_eof(both) == 0);
    CHECK(read_frame(only_out, buf, sizeof(buf), &n) == 1 && read_to_eof(only_out) == 0);
    CHECK(read_to_eof(raw) == 0);
    /* Once it ended, nobody can attach.  */
    CHECK(attach("fan", false, true, true, false, &err) < 0);
    CHECK(err->code == GRPC_STATUS_FAILED_PRECONDITION);
    crimp_error_release(&err);
    close(both);
    close(only_out);
    close(raw);
    return stop(&c);
}

static int test_stdin_once_closes_after_first_session(void)
{
    crimp_error_t err = NULL;
    struct ctr c;
    CHECK(start(&c, "once", true, true) == 0);
    char buf[64];
    CHECK(read_stdin(c.in, buf, sizeof(buf), 100) == -1); /* held open: no EOF */
    int watcher = attach("once", false, true, true, false, &err);
    int s = attach("once", false, true, true, true, &err);
    CHECK(watcher >= 0 && s >= 0);
    /* A session without stdin ending changes nothing.  */
    close(watcher);
    CHECK(write(s, "line 1\n", 7) == 7);
    CHECK(read_stdin(c.in, buf, sizeof(buf), 2000) == 7 && memcmp(buf, "line 1\n", 7) == 0);
    CHECK(shutdown(s, SHUT_WR) == 0); /* the client's stdin EOF */
    CHECK(read_stdin(c.in, buf, sizeof(buf), 2000) == 0);
    CHECK(strcmp(closed_ids, " once") == 0); /* the backend was told, once */
    /* Output still flows to the session after its stdin ended.  */
    CHECK(write(c.out, "after\n", 6) == 6);
    size_t n;
    CHECK(read_frame(s, buf, sizeof(buf), &n) == 1 && strcmp(buf, "after\n") == 0);
    close(s);
    return stop(&c);
}

static int test_stdin_stays_open_without_once(void)
{
    crimp_error_t err = NULL;
    struct ctr c, d;
    CHECK(start(&c, "many", true, false) == 0);
    char buf[64];
    int a = attach("many", false, true, true, true, &err);
    CHECK(a >= 0 && write(a, "a\n", 2) == 2 && shutdown(a, SHUT_WR) == 0);
    CHECK(read_stdin(c.in, buf, sizeof(buf), 2000) == 2);
    close(a);
    CHECK(read_stdin(c.in, buf, sizeof(buf), 200) == -1); /* still open */
    int b = attach("many", false, true, true, true, &err);
    CHECK(b >= 0 && write(b, "b\n", 2) == 2);
    CHECK(read_stdin(c.in, buf, sizeof(buf), 2000) == 2 && buf[0] == 'b');
    close(b);
    /* With stdin_once, a client that leaves without an EOF ends stdin too.  */
    CHECK(start(&d, "leaves", true, true) == 0);
    int l = attach("leaves", false, true, true, true, &err);
    CHECK(l >= 0 && write(l, "x", 1) == 1);
    close(l);
    CHECK(read_stdin(d.in, buf, sizeof(buf), 2000) == 1);
    CHECK(read_stdin(d.in, buf, sizeof(buf), 2000) == 0);
    CHECK(strcmp(closed_ids, " once leaves") == 0);
    /* The container's end closes stdin whatever happened.  */
    close(c.out);
    close(c.err);
    c.out = c.err = -1;
    CHECK(ctrd_logger_finish(logger, "many", 5000) == 0);
    CHECK(read_stdin(c.in, buf, sizeof(buf), 2000) == 0);
    CHECK(strcmp(closed_ids, " once leaves") == 0); /* the end needs no telling */
    CHECK(stop(&c) == 0);
    return stop(&d);
}

#define SLOW_LINES 300000

static int test_slow_client_is_detached_and_the_log_keeps_all(void)
{
    crimp_error_t err = NULL;
    struct ctr c;
    CHECK(start(&c, "slow", false, false) == 0);
    int s = attach("slow", false, true, true, false, &err);
    CHECK(s >= 0);
    /* 3.6 MB the client never reads: the writer must not stall (a
     * stalled copier would leave the write blocked: alarm ends it).  */
    char batch[1000 * 12 + 1];
    alarm(60);
    for (int i = 0; i < SLOW_LINES; i += 1000) {
        for (int k = 0; k < 1000; k++)
            snprintf(batch + 12 * k, 13, "line %06d\n", i + k);
        CHECK(write(c.out, batch, 12000) == 12000);
    }
    alarm(0);
    ssize_t got = read_to_eof(s); /* dropped: EOF after what the socket held */
    CHECK(got > 0 && got < (ssize_t)SLOW_LINES * 12);
    close(s);
    close(c.out);
    close(c.err);
    c.out = c.err = -1;
    CHECK(ctrd_logger_finish(logger, "slow", 5000) == 0);
    FILE *f = fopen(c.log, "re");
    CHECK(f != NULL);
    char buf[256];
    int lines = 0;
    while (fgets(buf, sizeof(buf), f))
        lines++;
    fclose(f);
    CHECK(lines == SLOW_LINES);
    return stop(&c);
}

#define TAIL_BYTES (700 * 1024)

static int test_last_output_is_flushed_before_eof(void)
{
    crimp_error_t err = NULL;
    struct ctr c;
    CHECK(start(&c, "tail", false, false) == 0);
    int s = attach("tail", true, true, false, false, &err);
    CHECK(s >= 0);
    cleanup_free char *data = xmalloc(TAIL_BYTES);
    memset(data, 'x', TAIL_BYTES);
    for (size_t off = 0; off < TAIL_BYTES;) {
        ssize_t w = write(c.out, data + off, TAIL_BYTES - off);
        CHECK(w > 0);
        off += (size_t)w;
    }
    close(c.out);
    close(c.err);
    c.out = c.err = -1;
    usleep(200000); /* more than the socket holds waits in the session */
    CHECK(read_to_eof(s) == TAIL_BYTES);
    close(s);
    return stop(&c);
}

static int test_full_stdin_does_not_stop_output(void)
{
    crimp_error_t err = NULL;
    struct ctr c;
    CHECK(start(&c, "full", true, false) == 0);
    int s = attach("full", false, true, true, true, &err);
    CHECK(s >= 0 && fcntl(s, F_SETFL, O_NONBLOCK) == 0);
    const size_t total = 2 * 1024 * 1024;
    cleanup_free char *data = xmalloc(total);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)('a' + i % 26);
    size_t sent = 0;
    ssize_t w;
    while ((w = send(s, data + sent, total - sent, MSG_NOSIGNAL)) > 0)
        sent += (size_t)w;
    CHECK(sent < total); /* nobody reads stdin: the client had to wait */
    CHECK(write(c.out, "alive\n", 6) == 6);
    char buf[64];
    size_t n;
    CHECK(read_frame(s, buf, sizeof(buf), &n) == 1 && strcmp(buf, "alive\n") == 0);
    /* The shim reads again: every byte arrives, in order.  */
    cleanup_free char *got = xmalloc(total);
    size_t have = 0;
    int64_t deadline = crimp_now_mono_ns() + 10000000000LL;
    while (have < total && crimp_now_mono_ns() < deadline) {
        if (sent < total && (w = send(s, data + sent, total - sent, MSG_NOSIGNAL)) > 0)
            sent += (size_t)w;
        ssize_t r = read_stdin(c.in, got + have, total - have, 10);
        if (r > 0)
            have += (size_t)r;
    }
    CHECK(have == total && memcmp(got, data, total) == 0);
    close(s);
    return stop(&c);
}

static int test_attach_to_unknown(void)
{
    crimp_error_t err = NULL;
    CHECK(attach("nosuch", false, true, true, true, &err) < 0);
    CHECK(err->code == GRPC_STATUS_NOT_FOUND);
    crimp_error_release(&err);
    return 0;
}

int main(void)
{
    if (mkdtemp(tmp) == NULL)
        return 1;
    static const struct unit_test tests[] = {
        UNIT_TEST(test_output_goes_to_log_and_sessions),
        UNIT_TEST(test_stdin_once_closes_after_first_session),
        UNIT_TEST(test_stdin_stays_open_without_once),
        UNIT_TEST(test_slow_client_is_detached_and_the_log_keeps_all),
        UNIT_TEST(test_last_output_is_flushed_before_eof),
        UNIT_TEST(test_full_stdin_does_not_stop_output),
        UNIT_TEST(test_attach_to_unknown),
    };
    crimp_error_t err = NULL;
    if ((logger = ctrd_logger_new(on_stdin_closed, NULL, &err)) == NULL)
        return 1;
    int ret = unit_run(tests, CRIMP_ARRAY_SIZE(tests));
    ctrd_logger_free(logger);
    cleanup_free char *rm = xasprintf("rm -rf %s", tmp);
    if (system(rm) != 0)
        ret = 1;
    return ret;
}
