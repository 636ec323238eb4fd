/* Confined opens: openat2(2) where the kernel has it, a strict walk where
 * it does not.  glibc has no openat2 wrapper before 2.38, hence syscall().  */
#include "safe_open.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "utils.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

static atomic_int openat2_state; /* 0 unknown, 1 works, -1 ENOSYS */

bool crimp_have_openat2(void)
{
    if (atomic_load(&openat2_state) == 0) {
        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_DIRECTORY};
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof(how));
        if (fd >= 0)
            close(fd);
        atomic_store(&openat2_state, fd < 0 && errno == ENOSYS ? -1 : 1);
        if (fd < 0 && errno == ENOSYS)
            log_warn("openat2(2) is not available (kernel before 5.6): files in container "
                     "roots are opened without following any symlink");
    }
    return atomic_load(&openat2_state) > 0;
}

void crimp_safe_open_force_fallback(bool on)
{
    atomic_store(&openat2_state, on ? -1 : 0);
}

static int open_error(crimp_error_t *err, int e, const char *root, const char *rel)
{
    if (e == ENOENT || e == ENOTDIR)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, e, "`%s` not found in `%s`", rel, root);
    if (e == ELOOP || e == EXDEV)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, e,
                                "`%s` in `%s` is a link crimp does not follow", rel, root);
    return crimp_make_errno_error(err, e, "open `%s` in `%s`", rel, root);
}

/* Without openat2: one component at a time, no symlink and no "..".  */
static int walk_open(int dirfd, const char *rel, int flags)
{
    cleanup_free char *copy = xstrdup(rel);
    int cur = dup(dirfd);
    if (cur < 0)
        return -1;
    char *save = NULL;
    char *part = strtok_r(copy, "/", &save);
    while (part != NULL) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(part, "..") == 0) {
            close(cur);
            errno = EXDEV;
            return -1;
        }
        int fd = next ? openat(cur, part, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC)
                      : openat(cur, part, flags | O_NOFOLLOW);
        int e = errno;
        close(cur);
        if (fd < 0) {
            errno = e;
            return -1;
        }
        cur = fd;
        part = next;
    }
    return cur;
}

/* A regular file, or FAILED_PRECONDITION naming what it is instead.  */
static int check_regular(int fd, const char *what, crimp_error_t *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return crimp_make_errno_error(err, errno, "stat `%s`", what);
    if (!S_ISREG(st.st_mode))
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "`%s` is not a regular file (mode %o)", what,
                                (unsigned)(st.st_mode & S_IFMT));
    return 0;
}

int crimp_open_in_root(const char *root, const char *rel, crimp_error_t *err)
{
    while (*rel == '/')
        rel++;
    cleanup_close int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return open_error(err, errno, root, rel);
    int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    cleanup_close int fd = -1;
    if (crimp_have_openat2()) {
        struct open_how how = {.flags = (unsigned)flags,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        do
            fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN); /* a rename raced the lookup */
    } else {
        fd = walk_open(rootfd, rel, flags);
    }
    if (fd < 0)
        return open_error(err, errno, root, rel);
    cleanup_free char *what = xasprintf("%s/%s", root, rel);
    if (check_regular(fd, what, err) < 0)
        return -1;
    return steal_fd(&fd);
}

char *crimp_read_in_root(const char *root, const char *rel, size_t max, crimp_error_t *err)
{
    cleanup_close int fd = crimp_open_in_root(root, rel, err);
    if (fd < 0)
        return NULL;
    struct stat st;
    size_t want = fstat(fd, &st) == 0 && st.st_size >= 0 && (size_t)st.st_size < max
                      ? (size_t)st.st_size
                      : max;
    char *buf = xmalloc(want + 1);
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return buf;
}

int crimp_open_regular(const char *path, int flags, unsigned mode, crimp_error_t *err)
{
    cleanup_close int fd =
        open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return errno == ELOOP
                   ? crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, ELOOP,
                                      "`%s` is a symlink; crimp does not follow it", path)
                   : crimp_make_errno_error(err, errno, "open `%s`", path);
    if (check_regular(fd, path, err) < 0)
        return -1;
    if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
        return crimp_make_errno_error(err, errno, "fcntl `%s`", path);
    return steal_fd(&fd);
}
