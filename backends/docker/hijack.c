/* Hijacked HTTP connections to dockerd.  */
#include "hijack.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "utils.h"

static int connect_unix(const char *path, crimp_error_t *err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "docker socket path `%s` is too long", path);
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return crimp_make_errno_error(err, errno, "socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        close(fd);
        return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, e,
                                "docker: cannot reach dockerd at %s", path);
    }
    return fd;
}

static int write_all(int fd, const char *buf, size_t len, crimp_error_t *err)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return crimp_make_errno_error(err, errno, "docker: write request");
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads until the blank line ending the head; returns its length (head
 * plus separator) within *BUF, which may hold stream bytes beyond it.  */
static ssize_t read_head(int fd, char **buf, size_t *len, int timeout_ms, crimp_error_t *err)
{
    size_t cap = 4096;
    *buf = xmalloc(cap + 1);
    *len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0)
            return crimp_make_error(err, GRPC_STATUS_DEADLINE_EXCEEDED, 0,
                                    "docker: no answer in %d ms", timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (*len == cap) {
            if (cap >= 1 << 20)
                return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0,
                                        "docker: response head too large");
            cap *= 2;
            *buf = xrealloc(*buf, cap + 1);
        }
        ssize_t n = read(fd, *buf + *len, cap - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, n < 0 ? errno : 0,
                                    "docker: connection closed before the response");
        *len += (size_t)n;
        (*buf)[*len] = '\0';
        char *end = strstr(*buf, "\r\n\r\n");
        if (end)
            return end + 4 - *buf;
    }
}

int docker_hijack_reply(int fd, const char *method, const char *path, int timeout_ms,
                        char **early, size_t *n_early, crimp_error_t *err)
{
    cleanup_free char *buf = NULL;
    size_t len = 0;
    ssize_t head = read_head(fd, &buf, &len, timeout_ms, err);
    if (head < 0)
        return -1;
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "docker: %s %s: not an HTTP reply",
                                method, path);
    if (status != 101 && status != 200) {
        /* The error body is JSON {"message": …}; show what came with the head.  */
        const char *msg = buf + head;
        const char *m = strstr(msg, "\"message\":\"");
        cleanup_free char *text = m ? strndup(m + 11, strcspn(m + 11, "\"")) : xstrdup(msg);
        return crimp_make_error(err, crimp_status_from_http(status), 0, "docker: %s %s: %d %s", method, path,
                                status, text);
    }
    /* Stream bytes that arrived with the head belong to the caller.  */
    *n_early = len - (size_t)head;
    *early = NULL;
    if (*n_early) {
        *early = xmalloc(*n_early);
        memcpy(*early, buf + head, *n_early);
    }
    return 0;
}

int docker_hijack(const char *socket_path, const char *method, const char *path,
                  const char *body, int timeout_ms, char **early, size_t *n_early,
                  crimp_error_t *err)
{
    cleanup_close int fd = connect_unix(socket_path, err);
    if (fd < 0)
        return -1;
    size_t blen = body ? strlen(body) : 0;
    cleanup_free char *req = xasprintf("%s %s HTTP/1.1\r\nHost: docker\r\n"
                                       "Connection: Upgrade\r\nUpgrade: tcp\r\n"
                                       "Content-Type: application/json\r\n"
                                       "Content-Length: %zu\r\n\r\n%s",
                                       method, path, blen, body ? body : "");
    if (write_all(fd, req, strlen(req), err) < 0 ||
        docker_hijack_reply(fd, method, path, timeout_ms, early, n_early, err) < 0)
        return -1;
    return steal_fd(&fd);
}
