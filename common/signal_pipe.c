#include "signal_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    if (write(signal_pipe[1], &b, 1) < 0) {
        /* Nothing to do: the pipe is full of signals already.  */
    }
    errno = saved;
}

int crimp_signal_pipe(const int *signals, size_t n, crimp_error_t *err)
{
    if (pipe2(signal_pipe, O_CLOEXEC) < 0)
        return crimp_make_errno_error(err, errno, "pipe");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < n; i++)
        sigaction(signals[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return signal_pipe[0];
}
