/* Port-forward's side toward the pod, shared by the SPDY and the WebSocket
 * sessions: crimp connects to localhost:<port> inside the pod's network
 * namespace itself — setns on the session's own thread, no socat or
 * nsenter (docs/streaming.md, "Port-forward").  */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"

/* Connects FD to the loopback address SA, closing FD on failure.  */
static int connect_or_close(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (fd >= 0 && connect(fd, sa, len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A socket connected to localhost:PORT in the current network namespace:
 * IPv4 first, then IPv6, as containerd does.  */
static int connect_loopback(int port, int *e)
{
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = connect_or_close(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
                              (struct sockaddr *)&v4, sizeof(v4));
    if (fd >= 0)
        return fd;
    *e = errno; /* the IPv4 error is the one worth reporting */
    fd = connect_or_close(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0),
                          (struct sockaddr *)&v6, sizeof(v6));
    return fd;
}

/* A socket connected to localhost:PORT in the network namespace at NETNS
 * (NULL: this one).  The socket stays in the pod's namespace; the thread
 * goes home.  */
static int connect_in_netns(const char *netns, int port, crimp_error_t *err)
{
    int e = ECONNREFUSED;
    if (netns == NULL) {
        int fd = connect_loopback(port, &e);
        if (fd < 0)
            crimp_make_errno_error(err, e, "dial localhost:%d", port);
        return fd;
    }
    cleanup_close int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    cleanup_close int target = open(netns, O_RDONLY | O_CLOEXEC);
    if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0)
        return crimp_make_errno_error(err, errno, "enter the network namespace `%s`", netns);
    int fd = connect_loopback(port, &e);
    if (setns(self, CLONE_NEWNET) < 0)
        log_error("stream: cannot return to crimpd's network namespace: %s", strerror(errno));
    if (fd < 0)
        crimp_make_errno_error(err, e, "dial localhost:%d", port);
    return fd;
}

int pod_dial(struct pod_dialer *d, int port, char **failure)
{
    struct crimp_backend *b = d->r->backend;
    const Runtime__V1__PortForwardRequest *req = (const void *)d->r->req;
    cleanup_error crimp_error_t err = NULL;
    int fd = -1;
    if (!d->netns_known && b->ops->stream->pod_netns(b, req->pod_sandbox_id, &d->netns, &err) == 0)
        d->netns_known = true;
    if (d->netns_known)
        fd = connect_in_netns(d->netns, port, &err);
    if (fd < 0) {
        d->c->code = err->code;
        /* Upstream's words; the CRI server has no pod UID to put there.  */
        *failure = xasprintf("error forwarding port %d to pod %s, uid : %s", port,
                             req->pod_sandbox_id, err->msg);
    }
    return fd;
}

void pod_dialer_free(struct pod_dialer *d)
{
    free(d->netns);
    d->netns = NULL;
    d->netns_known = false;
}
