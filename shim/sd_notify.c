/* systemd's notification protocol by hand: the state is one datagram of
 * newline-separated KEY=VALUE lines, sent to the AF_UNIX datagram socket
 * that $NOTIFY_SOCKET names (a path, or "@name" for the abstract
 * namespace).  This is the whole protocol libsystemd's sd_notify speaks
 * for these messages; crimp needs nothing more of libsystemd.  */
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "utils.h"

int crimp_sd_notify(const char *state, crimp_error_t *err)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (str_empty(path))
        return 0;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "NOTIFY_SOCKET `%s`: not a socket path or @name", path);
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0'; /* abstract: the name's length counts, no NUL */
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    cleanup_close int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return crimp_make_errno_error(err, errno, "NOTIFY_SOCKET: socket");
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr, alen) < 0)
        return crimp_make_errno_error(err, errno, "NOTIFY_SOCKET `%s`: send", path);
    return 0;
}

/* A decimal environment variable as a positive number; 0 when unset or
 * not one.  */
static long long env_number(const char *name)
{
    const char *s = getenv(name);
    if (str_empty(s))
        return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0' && v > 0 ? v : 0;
}

int64_t crimp_sd_watchdog_interval_us(void)
{
    long long usec = env_number("WATCHDOG_USEC");
    long long pid = env_number("WATCHDOG_PID");
    if (usec <= 0 || (pid > 0 && pid != (long long)getpid()))
        return 0;
    /* Half the timeout, as systemd advises, so one late wake-up is not
     * taken for a hang.  */
    return usec / 2 > 0 ? usec / 2 : 1;
}
