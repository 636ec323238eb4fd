/* Socket file handling around gRPC's bind.  */
#include "socket.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "utils.h"

static int mkdir_parents(const char *path, crimp_error_t *err)
{
    cleanup_free char *copy = xstrdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
            return crimp_make_errno_error(err, errno, "create directory `%s`", copy);
        *p = '/';
    }
    return 0;
}

/* 1 when something accepts connections on PATH, 0 when nothing does.  */
static int someone_listens(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    return connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 ? 1 : 0;
}

int crimp_socket_prepare(const char *path, crimp_error_t *err)
{
    struct stat st;
    if (mkdir_parents(path, err) < 0)
        return -1;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return crimp_make_errno_error(err, errno, "stat `%s`", path);
    }
    if (!S_ISSOCK(st.st_mode))
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "`%s` exists and is not a socket; remove it or choose another "
                                "--listen path",
                                path);
    if (someone_listens(path))
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "another server (crimpd?) is already listening on `%s`", path);
    log_info("removing stale socket %s", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return crimp_make_errno_error(err, errno, "remove stale socket `%s`", path);
    return 0;
}

int crimp_socket_finish(const char *path, unsigned mode, dev_t *dev, ino_t *ino,
                        crimp_error_t *err)
{
    struct stat st;
    if (chmod(path, mode) < 0)
        return crimp_make_errno_error(err, errno, "chmod `%s`", path);
    if (stat(path, &st) < 0)
        return crimp_make_errno_error(err, errno, "stat `%s`", path);
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;
}

void crimp_socket_remove(const char *path, dev_t dev, ino_t ino)
{
    struct stat st;
    if (lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
        unlink(path);
}
