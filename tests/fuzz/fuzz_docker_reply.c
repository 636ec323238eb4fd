/* libFuzzer target for the HTTP reply of Docker's hijacked calls (exec
 * start, attach: backends/docker/hijack.c).  The input is what dockerd
 * answers; it is written into a socket pair whose far end is then closed,
 * and read back by docker_hijack_reply exactly as after a real request.  */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "docker/hijack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 0;
    int one = 256 * 1024;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(sv[1], data + off, size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(sv[1]);
    char *early = NULL;
    size_t n_early = 0;
    crimp_error_t err = NULL;
    if (docker_hijack_reply(sv[0], "POST", "/exec/x/start", 1000, &early, &n_early, &err) == 0) {
        if (n_early > size || (n_early > 0 && early == NULL))
            __builtin_trap();
        if (n_early > 0 && memcmp(early, data + size - n_early, n_early) != 0)
            __builtin_trap();
        free(early);
    } else {
        if (err == NULL || err->msg == NULL)
            __builtin_trap();
        crimp_error_release(&err);
    }
    close(sv[0]);
    return 0;
}
