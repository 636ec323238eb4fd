/* Socket activation: which passed fd is the CRI's, and the thread that
 * accepts on it (see sd_listen.h for why crimp accepts, not gRPC).  */
#include "sd_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>

#include "log.h"
#include "utils.h"

/* systemd passes its sockets from fd 3 on.  */
#define SD_LISTEN_FDS_START 3

/* A decimal environment variable; -1 when unset or not a number >= 0.  */
static long long env_count(const char *name)
{
    const char *s = getenv(name);
    if (str_empty(s))
        return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0' && v >= 0 ? v : -1;
}

/* Name I of LISTEN_FDNAMES (colon-separated), or NULL.  */
static char *fd_name(size_t i)
{
    const char *names = getenv("LISTEN_FDNAMES");
    for (const char *p = names; p && *p; i--) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (i == 0)
            return xasprintf("%.*s", (int)len, p);
        if (colon == NULL)
            break;
        p = colon + 1;
    }
    return NULL;
}

static bool bound_to(int fd, const char *path)
{
    struct sockaddr_un addr;
    socklen_t len = sizeof(addr);
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0 || addr.sun_family != AF_UNIX)
        return false;
    return len > offsetof(struct sockaddr_un, sun_path) &&
           strncmp(addr.sun_path, path, sizeof(addr.sun_path)) == 0;
}

static int check_listening_unix(int fd, crimp_error_t *err)
{
    int domain = 0, type = 0, listening = 0;
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
        return crimp_make_errno_error(err, errno, "socket activation: fd %d", fd);
    if (domain != AF_UNIX || type != SOCK_STREAM || !listening)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "socket activation: fd %d is not a listening unix stream socket "
                                "(ListenStream= with a path in the .socket unit)",
                                fd);
    return 0;
}

int crimp_sd_listen_fd(const char *path, crimp_error_t *err)
{
    long long pid = env_count("LISTEN_PID"), n = env_count("LISTEN_FDS");
    if (pid != (long long)getpid() || n <= 0)
        return -1;
    int chosen = -1;
    for (long long i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + (int)i;
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        cleanup_free char *name = fd_name((size_t)i);
        if (name && strcmp(name, "cri") == 0)
            chosen = fd;
    }
    for (long long i = 0; chosen < 0 && i < n; i++)
        if (n == 1 || bound_to(SD_LISTEN_FDS_START + (int)i, path))
            chosen = SD_LISTEN_FDS_START + (int)i;
    if (chosen < 0) {
        crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                         "socket activation: %lld sockets passed, none named `cri` "
                         "(FileDescriptorName=) nor bound to `%s`",
                         n, path);
        return -2;
    }
    if (check_listening_unix(chosen, err) < 0)
        return -2;
    if (!bound_to(chosen, path))
        log_warn("socket activation: the CRI socket systemd passed is not bound to --listen `%s`",
                 path);
    return chosen;
}

struct crimp_sd_acceptor {
    int fd;
    int wake; /* eventfd: stop */
    grpc_server *server;
    grpc_server_credentials *creds;
    pthread_t thread;
};

/* Accept errors that say nothing about the listening socket.  */
static bool transient(int e)
{
    return e == EINTR || e == EAGAIN || e == ECONNABORTED || e == EPROTO || e == EPERM;
}

static void *acceptor_main(void *arg)
{
    struct crimp_sd_acceptor *a = arg;
    struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN}, {.fd = a->wake, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR) {
            log_error("socket activation: poll: %s", strerror(errno));
            return NULL;
        }
        if (p[1].revents)
            return NULL;
        if (!(p[0].revents & POLLIN))
            continue;
        int c = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            grpc_server_add_channel_from_fd(a->server, c, a->creds); /* gRPC owns C now */
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            log_warn("socket activation: accept: %s; again in 100 ms", strerror(errno));
            usleep(100000); /* the connection waits in the backlog meanwhile */
        } else if (!transient(errno)) {
            log_error("socket activation: accept: %s; no new CRI connections", strerror(errno));
            return NULL;
        }
    }
}

struct crimp_sd_acceptor *crimp_sd_acceptor_start(int fd, grpc_server *server,
                                                  crimp_error_t *err)
{
    /* Non-blocking, so that a connection the client gave up between poll
     * and accept never blocks the thread.  */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct crimp_sd_acceptor *a = xcalloc(1, sizeof(*a));
    a->fd = fd;
    a->server = server;
    a->wake = eventfd(0, EFD_CLOEXEC);
    if (a->wake < 0) {
        crimp_make_errno_error(err, errno, "socket activation: eventfd");
        free(a);
        return NULL;
    }
    a->creds = grpc_insecure_server_credentials_create();
    int rc = pthread_create(&a->thread, NULL, acceptor_main, a);
    if (rc != 0) {
        crimp_make_errno_error(err, rc, "socket activation: accept thread");
        grpc_server_credentials_release(a->creds);
        close(a->wake);
        free(a);
        return NULL;
    }
    pthread_setname_np(a->thread, "crimp-sd-accept");
    log_info("socket activation: serving CRI v1 on the socket systemd passed (fd %d)", fd);
    return a;
}

void crimp_sd_acceptor_stop(struct crimp_sd_acceptor *a)
{
    if (a == NULL)
        return;
    uint64_t one = 1;
    if (write(a->wake, &one, sizeof(one)) < 0)
        log_warn("socket activation: cannot wake the accept thread: %s", strerror(errno));
    pthread_join(a->thread, NULL);
    close(a->wake);
    grpc_server_credentials_release(a->creds);
    free(a);
}
