/* Container stdio FIFOs and ExecSync's output capture (the logger thread
 * is in ctrd_logger.c).  */
#include "ctrd_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>

#include "common/checkpoint.h"
#include "utils.h"

#define CAPTURE_CHUNK (64 * 1024)

/* Moves FD above the standard descriptors, so that no FIFO end is ever 0,
 * 1 or 2: ctrd_fifos_cleanup then can tell a zeroed struct from ours.  */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > STDERR_FILENO)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    int saved = errno;
    close(fd);
    errno = saved;
    return moved;
}

/* Makes DIR/NAME-SUFFIX and opens it with FLAGS.  *PATH is set as soon as
 * the FIFO exists, so that a later failure still removes it.  */
static int make_fifo(const char *dir, const char *name, const char *suffix, int flags, char **path,
                     int *fd, crimp_error_t *err)
{
    cleanup_free char *p = xasprintf("%s/%s-%s", dir, name, suffix);
    if (mkfifo(p, 0600) < 0)
        return crimp_make_errno_error(err, errno, "create fifo `%s`", p);
    *path = steal_ptr(&p);
    *fd = above_stdio(open(*path, flags));
    if (*fd < 0)
        return crimp_make_errno_error(err, errno, "open fifo `%s`", *path);
    return 0;
}

int ctrd_fifos_create(const char *base_dir, const char *name, bool want_stdin, bool want_stderr,
                      struct ctrd_fifos *f, crimp_error_t *err)
{
    *f = (struct ctrd_fifos){.fd_in = -1, .fd_out = -1, .fd_err = -1};
    if (crimp_mkdir_p(base_dir, 0700, err) < 0)
        return crimp_error_wrap(err, "fifo directory");
    cleanup_free char *dir = xasprintf("%s/XXXXXX", base_dir);
    if (mkdtemp(dir) == NULL)
        return crimp_make_errno_error(err, errno, "create fifo directory under `%s`", base_dir);
    f->dir = steal_ptr(&dir);
    /* Read ends non-blocking: open(O_RDONLY) would wait for the shim's
     * writer, which only comes during Tasks/Create.  */
    const int rd = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
    int ret = make_fifo(f->dir, name, "stdout", rd, &f->stdout_path, &f->fd_out, err);
    if (ret == 0 && want_stderr)
        ret = make_fifo(f->dir, name, "stderr", rd, &f->stderr_path, &f->fd_err, err);
    /* O_RDWR: a FIFO opened for writing alone blocks (or fails with ENXIO
     * when non-blocking) until a reader exists.  */
    if (ret == 0 && want_stdin)
        ret = make_fifo(f->dir, name, "stdin", O_RDWR | O_NONBLOCK | O_CLOEXEC, &f->stdin_path,
                        &f->fd_in, err);
    if (ret < 0) {
        ctrd_fifos_cleanup(f);
        return -1;
    }
    return 0;
}

static void close_owned(int *fd)
{
    if (*fd > STDERR_FILENO)
        close(*fd);
    *fd = -1;
}

static void unlink_and_free(char **path)
{
    if (*path != NULL)
        unlink(*path);
    free(*path);
    *path = NULL;
}

void ctrd_fifos_cleanup(struct ctrd_fifos *f)
{
    close_owned(&f->fd_in);
    close_owned(&f->fd_out);
    close_owned(&f->fd_err);
    unlink_and_free(&f->stdin_path);
    unlink_and_free(&f->stdout_path);
    unlink_and_free(&f->stderr_path);
    if (f->dir != NULL)
        rmdir(f->dir);
    free(f->dir);
    f->dir = NULL;
}

/* ---- ExecSync capture ---------------------------------------------------- */

struct capture {
    int fd;
    bool eof;
    char *data; /* NUL-terminated */
    size_t len;
};

/* One read; keeps what fits under CAP and drops the rest.  */
static int capture_read(struct capture *c, char *chunk, size_t cap, crimp_error_t *err)
{
    ssize_t n = read(c->fd, chunk, CAPTURE_CHUNK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        return crimp_make_errno_error(err, errno, "read exec output");
    if (n == 0) {
        c->eof = true;
        return 0;
    }
    size_t keep = c->len < cap ? cap - c->len : 0;
    if (keep > (size_t)n)
        keep = (size_t)n;
    if (keep > 0) {
        c->data = xrealloc(c->data, c->len + keep + 1);
        memcpy(c->data + c->len, chunk, keep);
        c->len += keep;
        c->data[c->len] = '\0';
    }
    return 0;
}

/* Milliseconds to DEADLINE for poll(): -1 for none, 0 once it passed.  */
static int poll_timeout_ms(int64_t deadline_mono_ns)
{
    if (deadline_mono_ns == 0)
        return -1;
    int64_t left = deadline_mono_ns - crimp_now_mono_ns();
    if (left <= 0)
        return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Polls both streams until EOF or the deadline: 0 or 1 (timed out).  Data
 * is read only after poll reported POLLIN or POLLHUP (the FIFO rule).  */
static int capture_loop(struct capture c[2], size_t cap, int64_t deadline_mono_ns,
                        crimp_error_t *err)
{
    cleanup_free char *chunk = xmalloc(CAPTURE_CHUNK);
    while (!c[0].eof || !c[1].eof) {
        int timeout = poll_timeout_ms(deadline_mono_ns);
        if (timeout == 0)
            return 1;
        struct pollfd p[2];
        for (int i = 0; i < 2; i++)
            p[i] = (struct pollfd){.fd = c[i].eof ? -1 : c[i].fd, .events = POLLIN};
        if (poll(p, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            return crimp_make_errno_error(err, errno, "poll exec output");
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].revents & POLLNVAL)
                return crimp_make_error(err, GRPC_STATUS_INTERNAL, EBADF, "exec output fd %d",
                                        c[i].fd);
            if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
                capture_read(&c[i], chunk, cap, err) < 0)
                return -1;
        }
    }
    return 0;
}

int ctrd_capture(int fd_out, int fd_err, size_t cap, int64_t deadline_mono_ns, char **out,
                 size_t *out_len, char **errout, size_t *err_len, crimp_error_t *err)
{
    struct capture c[2] = {{.fd = fd_out, .eof = fd_out < 0, .data = xstrdup("")},
                           {.fd = fd_err, .eof = fd_err < 0, .data = xstrdup("")}};
    int ret = capture_loop(c, cap, deadline_mono_ns, err);
    if (ret < 0) {
        free(c[0].data);
        free(c[1].data);
        return -1;
    }
    *out = c[0].data;
    *out_len = c[0].len;
    *errout = c[1].data;
    *err_len = c[1].len;
    return ret;
}
