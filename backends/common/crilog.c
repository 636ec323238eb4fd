/* CRI-format log writer.  */
#include "crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/uio.h>

#include "safe_open.h"
#include "utils.h"

struct crilog {
    pthread_mutex_t lock;
    char *path;
    int fd;
    /* Output since the last newline, per stream.  */
    char *pending[2];
    size_t n_pending[2];
};

static const char *const stream_names[] = {"stdout", "stderr"};

void crilog_format_time(int64_t time_ns, char *buf, size_t size)
{
    crimp_format_rfc3339_ns(time_ns, buf, size);
}

static int mkdir_for(const char *path, crimp_error_t *err)
{
    cleanup_free char *dir = xstrdup(path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return crimp_make_errno_error(err, errno, "create log directory `%s`", dir);
        *p = '/';
    }
    return 0;
}

static int open_file(struct crilog *l, crimp_error_t *err)
{
    if (mkdir_for(l->path, err) < 0)
        return -1;
    l->fd = crimp_open_regular(l->path, O_WRONLY | O_APPEND | O_CREAT, 0640, err);
    if (l->fd < 0)
        return crimp_error_wrap(err, "open log");
    return 0;
}

int crilog_path_check(const char *log_directory, const char *log_path, crimp_error_t *err)
{
    if (log_path == NULL || log_path[0] == '\0')
        return 0;
    if (log_path[0] == '/')
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "log_path `%s` must be relative to the pod's log_directory `%s`",
                                log_path, log_directory ? log_directory : "");
    for (const char *p = log_path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                    "log_path `%s` leaves the pod's log_directory", log_path);
        p += n + (p[n] == '/');
    }
    return 0;
}

struct crilog *crilog_open(const char *path, crimp_error_t *err)
{
    struct crilog *l = xcalloc(1, sizeof(*l));
    pthread_mutex_init(&l->lock, NULL);
    l->path = xstrdup(path);
    if (open_file(l, err) < 0) {
        crilog_close(l);
        return NULL;
    }
    return l;
}

/* One CRI line, written with a single writev so that lines of the two
 * streams never interleave inside the file.  Called with the lock held.  */
static int emit(struct crilog *l, enum crilog_stream s, const char *stamp, char tag,
                const char *data, size_t len, crimp_error_t *err)
{
    char prefix[64];
    int n = snprintf(prefix, sizeof(prefix), "%s %s %c ", stamp, stream_names[s], tag);
    struct iovec iov[3] = {{prefix, (size_t)n}, {(void *)data, len}, {"\n", 1}};
    if (l->fd < 0)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0, "log `%s` is closed",
                                l->path);
    if (writev(l->fd, iov, 3) < 0)
        return crimp_make_errno_error(err, errno, "write log `%s`", l->path);
    return 0;
}

/* A line longer than the limit goes out as P pieces and an F tail.  */
static int emit_line(struct crilog *l, enum crilog_stream s, const char *stamp, const char *data,
                     size_t len, crimp_error_t *err)
{
    while (len > CRILOG_MAX_LINE) {
        if (emit(l, s, stamp, 'P', data, CRILOG_MAX_LINE, err) < 0)
            return -1;
        data += CRILOG_MAX_LINE;
        len -= CRILOG_MAX_LINE;
    }
    return emit(l, s, stamp, 'F', data, len, err);
}

int crilog_write_line(struct crilog *l, enum crilog_stream stream, const char *timestamp,
                      const char *line, size_t len, crimp_error_t *err)
{
    if (len > 0 && line[len - 1] == '\n')
        len--;
    pthread_mutex_lock(&l->lock);
    int ret = emit_line(l, stream, timestamp, line, len, err);
    pthread_mutex_unlock(&l->lock);
    return ret;
}

static int write_locked(struct crilog *l, enum crilog_stream s, const char *stamp,
                        const char *data, size_t len, crimp_error_t *err)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t seg = nl ? (size_t)(nl - data) : len;
        if (nl == NULL) {
            /* Keep the unfinished line; flush it as P pieces if it grows.  */
            l->pending[s] = xrealloc(l->pending[s], l->n_pending[s] + seg);
            memcpy(l->pending[s] + l->n_pending[s], data, seg);
            l->n_pending[s] += seg;
            while (l->n_pending[s] > CRILOG_MAX_LINE) {
                if (emit(l, s, stamp, 'P', l->pending[s], CRILOG_MAX_LINE, err) < 0)
                    return -1;
                l->n_pending[s] -= CRILOG_MAX_LINE;
                memmove(l->pending[s], l->pending[s] + CRILOG_MAX_LINE, l->n_pending[s]);
            }
            return 0;
        }
        int ret;
        if (l->n_pending[s] > 0) {
            l->pending[s] = xrealloc(l->pending[s], l->n_pending[s] + seg);
            memcpy(l->pending[s] + l->n_pending[s], data, seg);
            ret = emit_line(l, s, stamp, l->pending[s], l->n_pending[s] + seg, err);
            l->n_pending[s] = 0;
        } else {
            ret = emit_line(l, s, stamp, data, seg, err);
        }
        if (ret < 0)
            return -1;
        data += seg + 1;
        len -= seg + 1;
    }
    return 0;
}

int crilog_write(struct crilog *l, enum crilog_stream stream, int64_t time_ns, const char *data,
                 size_t len, crimp_error_t *err)
{
    char stamp[48];
    crilog_format_time(time_ns, stamp, sizeof(stamp));
    pthread_mutex_lock(&l->lock);
    int ret = write_locked(l, stream, stamp, data, len, err);
    pthread_mutex_unlock(&l->lock);
    return ret;
}

int crilog_reopen(struct crilog *l, crimp_error_t *err)
{
    pthread_mutex_lock(&l->lock);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    int ret = open_file(l, err);
    pthread_mutex_unlock(&l->lock);
    return ret;
}

void crilog_close(struct crilog *l)
{
    if (l == NULL)
        return;
    char stamp[48];
    crilog_format_time(crimp_now_real_ns(), stamp, sizeof(stamp));
    for (int s = 0; s < 2; s++) {
        if (l->n_pending[s] > 0 && l->fd >= 0) {
            crimp_error_t ignored = NULL;
            emit(l, (enum crilog_stream)s, stamp, 'F', l->pending[s], l->n_pending[s], &ignored);
            crimp_error_release(&ignored);
        }
        free(l->pending[s]);
    }
    if (l->fd >= 0)
        close(l->fd);
    pthread_mutex_destroy(&l->lock);
    free(l->path);
    free(l);
}
