/* Sends with a bound: a peer that stops reading (a client, a process that
 * ignores its stdin, a pod) must not hold a session's thread forever.  */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "stream-internal.h"
#include "utils.h"

int stream_send_all(int fd, const void *data, size_t n, int timeout_ms)
{
    const uint8_t *p = data;
    /* One deadline for the whole buffer, not per wait: a peer that does
     * not read can still let a few bytes in now and then (the kernel
     * packing its receive queue reopens the window), which would renew a
     * per-wait timeout forever.  What callers send at once is small (a
     * read's worth of output), so a reading peer takes it in far less.  */
    int64_t deadline = crimp_now_mono_ns() + (int64_t)timeout_ms * 1000000;
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
        int64_t left_ms = (deadline - crimp_now_mono_ns()) / 1000000;
        if (timeout_ms > 0 && left_ms <= 0)
            return STREAM_SEND_STALLED;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, timeout_ms > 0 ? (int)left_ms : -1);
        if (r == 0)
            return STREAM_SEND_STALLED;
        if (r < 0 && errno != EINTR)
            return STREAM_SEND_GONE;
    }
    return 0;
}
