/* Sends with a bound: a peer that stops reading (a client, a process that
 * ignores its stdin, a pod) must not hold a session's thread forever.  */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "stream-internal.h"

int stream_send_all(int fd, const void *data, size_t n, int timeout_ms)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return STREAM_SEND_GONE;
        /* Full: wait for room, but only TIMEOUT_MS without any progress.  */
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : -1);
        if (r == 0)
            return STREAM_SEND_STALLED;
        if (r < 0 && errno != EINTR)
            return STREAM_SEND_GONE;
    }
    return 0;
}
