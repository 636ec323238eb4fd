/* Unit tests for backends/containerd/ctrd_io.c and ctrd_logger.c: stdio
 * FIFOs, the log copier (CRI format, no EOF before the writer came,
 * rotation, finish with a writer that stays, many containers, write
 * errors) and ExecSync's capture (cap, deadline, separate streams).
 * Writers are child processes that open the FIFOs as the shim would.  */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/crilog.h"
#include "containerd/ctrd_io.h"
#include "unit.h"
#include "utils.h"

static char tmp[] = "/tmp/crimp-ctrd-io-XXXXXX";

/* ---- helpers -------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (f != NULL) {
        char chunk[65536];
        size_t r;
        while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
            fwrite(chunk, 1, r, m);
        fclose(f);
    }
    fclose(m);
    if (len)
        *len = n;
    return buf;
}

/* Whether STAMP is 2006-01-02T15:04:05.999999999Z within [T0, T1] (ns).  */
static bool good_stamp(const char *stamp, int64_t t0, int64_t t1)
{
    struct tm tm = {0};
    const char *rest = strptime(stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL || rest[0] != '.' || strlen(rest) != 11 || rest[10] != 'Z')
        return false;
    for (int i = 1; i < 10; i++)
        if (rest[i] < '0' || rest[i] > '9')
            return false;
    int64_t ns = (int64_t)timegm(&tm) * 1000000000LL + strtoll(rest + 1, NULL, 10);
    return ns >= t0 && ns <= t1;
}

/* Parses a CRI log file into one digest per stream, a line `TAG:TEXT` per
 * log line, checking every timestamp.  Returns the number of lines, -1 for
 * a malformed one.  */
static int parse_log(const char *path, int64_t t0, int64_t t1, char **out, char **err)
{
    size_t len;
    cleanup_free char *data = slurp(path, &len);
    size_t n_out = 0, n_err = 0;
    FILE *fo = open_memstream(out, &n_out), *fe = open_memstream(err, &n_err);
    int lines = 0;
    for (char *line = data, *nl; line < data + len; line = nl + 1, lines++) {
        if ((nl = memchr(line, '\n', (size_t)(data + len - line))) == NULL)
            lines = -1000; /* unterminated last line */
        if (nl == NULL)
            break;
        *nl = '\0';
        char *sp1 = strchr(line, ' ');
        char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (sp2 == NULL || (sp2[1] != 'P' && sp2[1] != 'F') || sp2[2] != ' ') {
            lines = -1000;
            break;
        }
        *sp1 = *sp2 = '\0';
        if (!good_stamp(line, t0, t1)) {
            fprintf(stderr, "bad timestamp `%s`\n", line);
            lines = -1000;
            break;
        }
        bool is_out = strcmp(sp1 + 1, "stdout") == 0;
        if (!is_out && strcmp(sp1 + 1, "stderr") != 0) {
            lines = -1000;
            break;
        }
        fprintf(is_out ? fo : fe, "%c:%s\n", sp2[1], sp2 + 3);
    }
    fclose(fo);
    fclose(fe);
    return lines < 0 ? -1 : lines;
}

/* What a writer child does: wait DELAY_MS, open the FIFOs for writing (as
 * the shim does), write each step to its stream (1 or 2), then exit or,
 * with HOLD, keep the FIFOs open until killed.  Before a step marked
 * WAIT_GATE it reads one byte from the pipe GATE.  */
struct step {
    int stream;
    const char *data;
    size_t len;
    bool wait_gate;
};

#define STEPS(s) .steps = (s), .n_steps = CRIMP_ARRAY_SIZE(s)

struct writer {
    const char *out_path, *err_path;
    int delay_ms;
    const struct step *steps;
    size_t n_steps;
    bool hold;
    int gate;
};

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            _exit(3);
        p += w;
        n -= (size_t)w;
    }
}

/* Only system calls after fork: the parent has threads.  */
static void run_writer(const struct writer *w)
{
    /* A copier that lost the FIFOs would leave us blocked in open or
     * write: die instead, so that the test fails rather than hangs.  */
    alarm(10);
    if (w->delay_ms > 0)
        usleep((useconds_t)w->delay_ms * 1000);
    int fds[3] = {-1, w->out_path ? open(w->out_path, O_WRONLY) : -1,
                  w->err_path ? open(w->err_path, O_WRONLY) : -1};
    for (size_t i = 0; i < w->n_steps; i++) {
        char c;
        if (w->steps[i].wait_gate && read(w->gate, &c, 1) != 1)
            _exit(4);
        write_all(fds[w->steps[i].stream], w->steps[i].data, w->steps[i].len);
    }
    while (w->hold)
        pause();
    _exit(0);
}

static pid_t spawn_writer(const struct writer *w)
{
    fflush(NULL); /* nothing buffered may be written twice */
    pid_t pid = fork();
    if (pid == 0)
        run_writer(w);
    return pid;
}

static bool exited_ok(pid_t pid)
{
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int64_t ms_since(int64_t mono_ns)
{
    return (crimp_now_mono_ns() - mono_ns) / 1000000;
}

static struct ctrd_fifos fifos(const char *name, bool stdin_, bool stderr_)
{
    crimp_error_t err = NULL;
    struct ctrd_fifos f;
    cleanup_free char *base = xasprintf("%s/io", tmp);
    if (ctrd_fifos_create(base, name, stdin_, stderr_, &f, &err) < 0) {
        fprintf(stderr, "fifos: %s\n", err->msg);
        crimp_error_release(&err);
        abort();
    }
    return f;
}

/* The copier all logger tests share, as crimpd's containers do.  */
static struct ctrd_logger *logger;

/* Makes ID's FIFOs and has the logger copy them into LOG.  */
static struct ctrd_fifos copy(const char *id, bool with_stderr, const char *log)
{
    struct ctrd_fifos f = fifos(id, false, with_stderr);
    crimp_error_t err = NULL;
    if (ctrd_logger_add(logger, id, steal_fd(&f.fd_out), steal_fd(&f.fd_err), -1, false, log,
                        &err) < 0) {
        fprintf(stderr, "add: %s\n", err->msg);
        abort();
    }
    return f;
}

/* Waits up to 5 s for PATH to contain NEEDLE.  */
static bool wait_for_text(const char *path, const char *needle)
{
    for (int i = 0; i < 500; i++) {
        cleanup_free char *s = slurp(path, NULL);
        if (strstr(s, needle) != NULL)
            return true;
        usleep(10000);
    }
    return false;
}

/* ---- FIFOs ------------------------------------------------------------------ */

static bool is_fifo_0600(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 07777) == 0600;
}

static bool opened_as(int fd, int mode)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_ACCMODE) == mode && (fl & O_NONBLOCK);
}

static int test_fifos_names_modes_and_cleanup(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *base = xasprintf("%s/new/io", tmp);
    struct ctrd_fifos f;
    CHECK(ctrd_fifos_create(base, "c1", true, true, &f, &err) == 0);
    struct stat st;
    CHECK(stat(base, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(has_prefix(f.dir, base) && f.dir[strlen(base)] == '/');
    CHECK(stat(f.dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    cleanup_free char *want_out = xasprintf("%s/c1-stdout", f.dir);
    cleanup_free char *want_err = xasprintf("%s/c1-stderr", f.dir);
    cleanup_free char *want_in = xasprintf("%s/c1-stdin", f.dir);
    CHECK(strcmp(f.stdout_path, want_out) == 0 && strcmp(f.stderr_path, want_err) == 0);
    CHECK(strcmp(f.stdin_path, want_in) == 0);
    CHECK(is_fifo_0600(f.stdout_path) && is_fifo_0600(f.stderr_path) && is_fifo_0600(f.stdin_path));
    CHECK(f.fd_out > 2 && f.fd_err > 2 && f.fd_in > 2);
    CHECK(opened_as(f.fd_out, O_RDONLY) && opened_as(f.fd_err, O_RDONLY));
    CHECK(opened_as(f.fd_in, O_RDWR));
    CHECK(fcntl(f.fd_out, F_GETFD) == FD_CLOEXEC && fcntl(f.fd_in, F_GETFD) == FD_CLOEXEC);
    /* Our stdin end takes writes before anybody reads, and a reader (the
     * shim) gets them.  */
    CHECK(write(f.fd_in, "hi", 2) == 2);
    int r = open(f.stdin_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    char buf[4];
    CHECK(r >= 0 && read(r, buf, sizeof(buf)) == 2 && memcmp(buf, "hi", 2) == 0);
    close(r);
    /* A read end no writer has opened yet: poll reports nothing (no
     * POLLHUP), yet read says 0 — the FIFO rule the copier relies on.  */
    struct pollfd p = {.fd = f.fd_out, .events = POLLIN};
    CHECK(poll(&p, 1, 0) == 0);
    CHECK(read(f.fd_out, buf, sizeof(buf)) == 0);

    cleanup_free char *dir = xstrdup(f.dir);
    int fd_out = f.fd_out;
    ctrd_fifos_cleanup(&f);
    CHECK(f.dir == NULL && f.stdout_path == NULL && f.fd_out == -1 && f.fd_in == -1);
    CHECK(access(dir, F_OK) < 0 && errno == ENOENT);
    CHECK(fcntl(fd_out, F_GETFD) < 0 && errno == EBADF);
    ctrd_fifos_cleanup(&f); /* twice */
    int fd0_open = fcntl(0, F_GETFD) >= 0;
    struct ctrd_fifos zero = {0};
    ctrd_fifos_cleanup(&zero); /* zeroed: must not close fd 0 */
    CHECK((fcntl(0, F_GETFD) >= 0) == fd0_open);
    return 0;
}

static int test_fifos_tty_has_no_stderr_or_stdin(void)
{
    struct ctrd_fifos f = fifos("tty", false, false);
    CHECK(f.stderr_path == NULL && f.stdin_path == NULL && f.fd_err == -1 && f.fd_in == -1);
    CHECK(is_fifo_0600(f.stdout_path) && f.fd_out > 2);
    cleanup_free char *dir = xstrdup(f.dir);
    ctrd_fifos_cleanup(&f);
    CHECK(access(dir, F_OK) < 0);
    return 0;
}

static int test_fifos_error_leaves_nothing(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *file = xasprintf("%s/plain", tmp);
    close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    cleanup_free char *base = xasprintf("%s/io", file);
    struct ctrd_fifos f = {.fd_in = -1, .fd_out = -1, .fd_err = -1};
    CHECK(ctrd_fifos_create(base, "x", true, true, &f, &err) < 0);
    CHECK(err != NULL && strstr(err->msg, "fifo directory") != NULL);
    CHECK(f.dir == NULL && f.fd_out == -1 && f.fd_in == -1);
    crimp_error_release(&err);
    /* A name that makes mkfifo fail after the directory was made.  */
    cleanup_free char *io = xasprintf("%s/err-io", tmp);
    CHECK(ctrd_fifos_create(io, "no/such", false, true, &f, &err) < 0);
    CHECK(err != NULL && strstr(err->msg, "create fifo") != NULL);
    crimp_error_release(&err);
    CHECK(f.dir == NULL && f.fd_out == -1);
    CHECK(rmdir(io) == 0); /* empty: the mkdtemp directory was removed */
    unlink(file);
    return 0;
}

/* ---- the logger -------------------------------------------------------------- */

static int test_log_lines_in_cri_format(void)
{
    cleanup_free char *log = xasprintf("%s/pods/p1/c/0.log", tmp);
    int64_t t0 = crimp_now_real_ns();
    struct ctrd_fifos f = copy("fmt", true, log);
    CHECK(ctrd_logger_has(logger, "fmt"));

    size_t big_len = CRILOG_MAX_LINE + 100;
    cleanup_free char *big = xmalloc(big_len + 1);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)('a' + i % 26);
    big[big_len] = '\n';
    const struct step steps[] = {
        {1, "line one\nline ", 14, false},   {2, "err one\n", 8, false}, {1, "two\n", 4, false},
        {1, big, big_len + 1, false},        {2, "err two\n", 8, false}, {1, "\n", 1, false},
        {1, "no newline at end", 17, false},
    };
    /* The writer comes 200 ms after the copier started: the empty FIFOs
     * read as EOF until then, which must not end the copy.  */
    struct writer w = {
        .out_path = f.stdout_path, .err_path = f.stderr_path, .delay_ms = 200, STEPS(steps)};
    pid_t pid = spawn_writer(&w);
    CHECK(pid > 0 && exited_ok(pid));
    CHECK(ctrd_logger_finish(logger, "fmt", 5000) == 0);
    CHECK(!ctrd_logger_has(logger, "fmt"));
    int64_t t1 = crimp_now_real_ns();

    cleanup_free char *out = NULL, *errs = NULL;
    CHECK(parse_log(log, t0, t1, &out, &errs) == 8);
    char *want = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&want, &n);
    fprintf(m, "F:line one\nF:line two\nP:%.*s\nF:%.*s\nF:\n", CRILOG_MAX_LINE, big,
            (int)(big_len - CRILOG_MAX_LINE), big + CRILOG_MAX_LINE);
    /* crilog_close tags the unfinished last line F.  */
    fprintf(m, "F:no newline at end\n");
    fclose(m);
    bool same = strcmp(out, want) == 0;
    free(want);
    CHECK(same);
    CHECK(strcmp(errs, "F:err one\nF:err two\n") == 0);
    ctrd_fifos_cleanup(&f);
    return 0;
}

static int test_no_eof_before_writer(void)
{
    cleanup_free char *log = xasprintf("%s/early.log", tmp);
    struct ctrd_fifos f = copy("early", true, log);
    usleep(200000);
    /* Not drained: both streams still wait for their writer.  */
    CHECK(ctrd_logger_finish(logger, "early", 0) == 1);
    CHECK(!ctrd_logger_has(logger, "early"));
    CHECK(ctrd_logger_finish(logger, "early", 1000) == 0); /* unknown: nothing to wait for */
    ctrd_fifos_cleanup(&f);
    return 0;
}

static int test_reopen_after_rotation(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *log = xasprintf("%s/rot/0.log", tmp);
    cleanup_free char *moved = xasprintf("%s/rot/0.log.20261123-000000", tmp);
    struct ctrd_fifos f = copy("rot", false, log);
    int gate[2];
    CHECK(pipe2(gate, O_CLOEXEC) == 0);
    const struct step steps[] = {{1, "before\n", 7, false}, {1, "after\n", 6, true}};
    struct writer w = {.out_path = f.stdout_path, STEPS(steps), .gate = gate[0]};
    pid_t pid = spawn_writer(&w);
    CHECK(pid > 0);
    CHECK(wait_for_text(log, " stdout F before\n"));
    CHECK(rename(log, moved) == 0);
    CHECK(ctrd_logger_reopen(logger, "rot", &err) == 0);
    CHECK(write(gate[1], "g", 1) == 1);
    CHECK(exited_ok(pid));
    CHECK(ctrd_logger_finish(logger, "rot", 5000) == 0);
    cleanup_free char *old = slurp(moved, NULL);
    cleanup_free char *now = slurp(log, NULL);
    CHECK(strstr(old, " stdout F before\n") != NULL && strstr(old, "after") == NULL);
    CHECK(strstr(now, " stdout F after\n") != NULL && strstr(now, "before") == NULL);
    CHECK(strchr(now, '\n') == now + strlen(now) - 1); /* exactly one line */

    CHECK(ctrd_logger_reopen(logger, "rot", &err) < 0); /* finished: gone */
    CHECK(err->code == GRPC_STATUS_NOT_FOUND);
    crimp_error_release(&err);
    close(gate[0]);
    close(gate[1]);
    ctrd_fifos_cleanup(&f);
    return 0;
}

static int test_finish_times_out_on_open_writer(void)
{
    cleanup_free char *log = xasprintf("%s/held.log", tmp);
    struct ctrd_fifos f = copy("held", true, log);
    const struct step steps[] = {{1, "still here\n", 11, false}};
    struct writer w = {
        .out_path = f.stdout_path, .err_path = f.stderr_path, STEPS(steps), .hold = true};
    pid_t pid = spawn_writer(&w);
    CHECK(pid > 0);
    CHECK(wait_for_text(log, " stdout F still here\n"));
    int64_t t = crimp_now_mono_ns();
    CHECK(ctrd_logger_finish(logger, "held", 300) == 1);
    int64_t took = ms_since(t);
    CHECK(took >= 290 && took < 1500);
    CHECK(!ctrd_logger_has(logger, "held"));
    kill_and_reap(pid);
    ctrd_fifos_cleanup(&f);
    return 0;
}

#define N_MANY     50
#define MANY_LINES 6000

static int test_many_containers(void)
{
    struct ctrd_fifos f[N_MANY];
    char *logs[N_MANY], *outs[N_MANY], *errs_[N_MANY];
    pid_t pids[N_MANY];
    /* Each writer sends more than a pipe holds, so it finishes only if the
     * copier keeps draining every FIFO.  */
    for (int i = 0; i < N_MANY; i++) {
        cleanup_free char *id = xasprintf("many%02d", i);
        logs[i] = xasprintf("%s/many/%s.log", tmp, id);
        f[i] = copy(id, true, logs[i]);
        size_t len;
        FILE *m = open_memstream(&outs[i], &len);
        for (int j = 0; j < MANY_LINES; j++)
            fprintf(m, "%s line %d\n", id, j);
        fclose(m);
        errs_[i] = xasprintf("%s error\n", id);
    }
    for (int i = 0; i < N_MANY; i++) {
        struct step steps[] = {{1, outs[i], strlen(outs[i]), false},
                               {2, errs_[i], strlen(errs_[i]), false}};
        struct writer w = {
            .out_path = f[i].stdout_path, .err_path = f[i].stderr_path, STEPS(steps)};
        pids[i] = spawn_writer(&w);
        CHECK(pids[i] > 0);
    }
    for (int i = 0; i < N_MANY; i++)
        CHECK(exited_ok(pids[i]));
    for (int i = 0; i < N_MANY; i++) {
        cleanup_free char *id = xasprintf("many%02d", i);
        CHECK(ctrd_logger_finish(logger, id, 5000) == 0);
        cleanup_free char *out = NULL, *errs = NULL;
        CHECK(parse_log(logs[i], 0, INT64_MAX, &out, &errs) == MANY_LINES + 1);
        cleanup_free char *want_err = xasprintf("F:%s", errs_[i]);
        CHECK(strcmp(errs, want_err) == 0);
        /* Every stdout line, in order, with this container's id.  */
        char *p = out;
        for (int j = 0; j < MANY_LINES; j++) {
            char want[64];
            int n = snprintf(want, sizeof(want), "F:%s line %d\n", id, j);
            CHECK(strncmp(p, want, (size_t)n) == 0);
            p += n;
        }
        CHECK(*p == '\0');
        ctrd_fifos_cleanup(&f[i]);
        free(logs[i]);
        free(outs[i]);
        free(errs_[i]);
    }
    return 0;
}

static int test_no_log_path_reads_and_drops(void)
{
    crimp_error_t err = NULL;
    struct ctrd_fifos f = copy("nolog", true, "");
    CHECK(ctrd_logger_reopen(logger, "nolog", &err) == 0);
    size_t n = 1 << 20; /* far more than the pipe holds */
    cleanup_free char *junk = xmalloc(n);
    memset(junk, 'j', n);
    const struct step steps[] = {{1, junk, n, false}, {2, junk, n, false}};
    struct writer w = {.out_path = f.stdout_path, .err_path = f.stderr_path, STEPS(steps)};
    pid_t pid = spawn_writer(&w);
    CHECK(pid > 0 && exited_ok(pid));
    CHECK(ctrd_logger_finish(logger, "nolog", 5000) == 0);
    ctrd_fifos_cleanup(&f);
    return 0;
}

/* A log file on a filesystem with no room left (a 64 KiB tmpfs, filled,
 * in a private mount namespace): it opens, and every write fails ENOSPC.
 * The log must be a regular file, so /dev/full cannot stand in.  */
static char *full_log_path(void)
{
    cleanup_free char *dir = xasprintf("%s/fullfs", tmp);
    if (mkdir(dir, 0700) < 0 || unshare(CLONE_NEWNS) < 0 ||
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0)
        return NULL;
    cleanup_free char *filler = xasprintf("%s/filler", dir);
    FILE *f = fopen(filler, "w");
    char block[4096] = {0};
    while (f && fwrite(block, 1, sizeof(block), f) == sizeof(block) && fflush(f) == 0)
        ;
    if (f)
        fclose(f);
    return xasprintf("%s/full.log", dir);
}

static int test_write_errors_do_not_stop_the_copier(void)
{
    cleanup_free char *full_log = full_log_path();
    if (full_log == NULL)
        return 77; /* not root: no tmpfs of our own */
    cleanup_free char *log = xasprintf("%s/ok.log", tmp);
    struct ctrd_fifos full = copy("full", false, full_log);
    struct ctrd_fifos ok = copy("ok", false, log);
    const struct step steps[] = {{1, "a\nb\nc\n", 6, false}};
    struct writer w1 = {.out_path = full.stdout_path, STEPS(steps)};
    struct writer w2 = {.out_path = ok.stdout_path, STEPS(steps)};
    pid_t p1 = spawn_writer(&w1), p2 = spawn_writer(&w2);
    CHECK(exited_ok(p1) && exited_ok(p2));
    CHECK(ctrd_logger_finish(logger, "full", 5000) == 0);
    CHECK(ctrd_logger_finish(logger, "ok", 5000) == 0);
    cleanup_free char *out = NULL, *errs = NULL;
    CHECK(parse_log(log, 0, INT64_MAX, &out, &errs) == 3);
    CHECK(strcmp(out, "F:a\nF:b\nF:c\n") == 0);
    ctrd_fifos_cleanup(&full);
    ctrd_fifos_cleanup(&ok);
    cleanup_free char *fs = xasprintf("%s/fullfs", tmp);
    umount2(fs, MNT_DETACH);
    return 0;
}

static int test_add_errors_close_the_fds(void)
{
    crimp_error_t err = NULL;
    struct ctrd_fifos a = copy("dup", true, NULL), b = fifos("dup", false, true);
    int fo = steal_fd(&b.fd_out), fe = steal_fd(&b.fd_err);
    CHECK(ctrd_logger_add(logger, "dup", fo, fe, -1, false, NULL, &err) < 0);
    CHECK(err->code == GRPC_STATUS_ALREADY_EXISTS);
    crimp_error_release(&err);
    CHECK(fcntl(fo, F_GETFD) < 0 && fcntl(fe, F_GETFD) < 0);

    struct ctrd_fifos c = fifos("badlog", false, false);
    cleanup_free char *file = xasprintf("%s/a-file", tmp);
    close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
    cleanup_free char *bad = xasprintf("%s/under/0.log", file);
    fo = steal_fd(&c.fd_out);
    CHECK(ctrd_logger_add(logger, "badlog", fo, -1, -1, false, bad, &err) < 0);
    CHECK(err != NULL && strstr(err->msg, file) != NULL);
    crimp_error_release(&err);
    CHECK(fcntl(fo, F_GETFD) < 0);
    CHECK(!ctrd_logger_has(logger, "badlog"));
    CHECK(ctrd_logger_add(logger, "none", -1, -1, -1, false, NULL, &err) == 0); /* nothing to copy */
    CHECK(ctrd_logger_finish(logger, "none", 0) == 0);
    ctrd_fifos_cleanup(&a);
    ctrd_fifos_cleanup(&b);
    ctrd_fifos_cleanup(&c);
    return 0;
}

/* ---- ExecSync capture -------------------------------------------------------- */

static int test_capture_separates_streams_and_caps(void)
{
    struct ctrd_fifos f = fifos("cap", false, true);
    size_t n = 200000; /* more than a pipe holds: the rest must be drained */
    cleanup_free char *big = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('0' + i % 10);
    const struct step steps[] = {{1, big, n, false}, {2, "to stderr\n", 10, false}};
    struct writer w = {
        .out_path = f.stdout_path, .err_path = f.stderr_path, .delay_ms = 200, STEPS(steps)};
    pid_t pid = spawn_writer(&w);
    CHECK(pid > 0);
    crimp_error_t err = NULL;
    cleanup_free char *out = NULL, *errs = NULL;
    size_t out_len = 0, err_len = 0;
    int64_t deadline = crimp_now_mono_ns() + 10000000000LL;
    /* Started before the writer opened the FIFOs: no early EOF.  */
    CHECK(ctrd_capture(f.fd_out, f.fd_err, 1000, deadline, &out, &out_len, &errs, &err_len, &err) ==
          0);
    CHECK(exited_ok(pid));
    CHECK(out_len == 1000 && memcmp(out, big, 1000) == 0 && out[1000] == '\0');
    CHECK(err_len == 10 && strcmp(errs, "to stderr\n") == 0);
    ctrd_fifos_cleanup(&f);
    return 0;
}

static int test_capture_deadline(void)
{
    struct ctrd_fifos f = fifos("sleepy", false, true);
    const struct step steps[] = {{1, "partial", 7, false}};
    struct writer w = {
        .out_path = f.stdout_path, .err_path = f.stderr_path, STEPS(steps), .hold = true};
    pid_t pid = spawn_writer(&w);
    CHECK(pid > 0);
    crimp_error_t err = NULL;
    cleanup_free char *out = NULL, *errs = NULL;
    size_t out_len = 0, err_len = 0;
    int64_t t = crimp_now_mono_ns();
    CHECK(ctrd_capture(f.fd_out, f.fd_err, 1 << 20, t + 400000000LL, &out, &out_len, &errs,
                       &err_len, &err) == 1);
    int64_t took = ms_since(t);
    CHECK(took >= 395 && took < 1500);
    CHECK(out_len == 7 && strcmp(out, "partial") == 0);
    CHECK(err_len == 0 && strcmp(errs, "") == 0);
    kill_and_reap(pid);
    ctrd_fifos_cleanup(&f);
    return 0;
}

static int test_capture_without_stderr(void)
{
    struct ctrd_fifos f = fifos("tty-exec", false, false);
    const struct step steps[] = {{1, "only out\n", 9, false}};
    struct writer w = {.out_path = f.stdout_path, STEPS(steps)};
    pid_t pid = spawn_writer(&w);
    CHECK(pid > 0);
    crimp_error_t err = NULL;
    cleanup_free char *out = NULL, *errs = NULL;
    size_t out_len = 0, err_len = 1;
    CHECK(ctrd_capture(f.fd_out, -1, 100, 0, &out, &out_len, &errs, &err_len, &err) == 0);
    CHECK(exited_ok(pid));
    CHECK(strcmp(out, "only out\n") == 0 && out_len == 9 && err_len == 0 && errs[0] == '\0');
    ctrd_fifos_cleanup(&f);
    return 0;
}

int main(void)
{
    if (mkdtemp(tmp) == NULL)
        return 1;
    static const struct unit_test tests[] = {
        UNIT_TEST(test_fifos_names_modes_and_cleanup),
        UNIT_TEST(test_fifos_tty_has_no_stderr_or_stdin),
        UNIT_TEST(test_fifos_error_leaves_nothing),
        UNIT_TEST(test_log_lines_in_cri_format),
        UNIT_TEST(test_no_eof_before_writer),
        UNIT_TEST(test_reopen_after_rotation),
        UNIT_TEST(test_finish_times_out_on_open_writer),
        UNIT_TEST(test_many_containers),
        UNIT_TEST(test_no_log_path_reads_and_drops),
        UNIT_TEST(test_write_errors_do_not_stop_the_copier),
        UNIT_TEST(test_add_errors_close_the_fds),
        UNIT_TEST(test_capture_separates_streams_and_caps),
        UNIT_TEST(test_capture_deadline),
        UNIT_TEST(test_capture_without_stderr),
    };
    crimp_error_t err = NULL;
    if ((logger = ctrd_logger_new(NULL, NULL, &err)) == NULL)
        return 1;
    int ret = unit_run(tests, sizeof(tests) / sizeof(tests[0]));
    ctrd_logger_free(logger); /* with "dup" still being copied */
    cleanup_free char *rm = xasprintf("rm -rf %s", tmp);
    if (system(rm) != 0)
        ret = 1;
    return ret;
}
