/* Signals as bytes on a pipe, for a daemon whose main thread waits on the
 * pipe: a handler, not sigwait, because threads that start before main (the
 * sanitizers' own, gRPC's) would otherwise take a signal with its default
 * action; the handler, on whichever thread the kernel picks, only writes
 * the signal's number.  */
#ifndef CRIMP_SIGNAL_PIPE_H
#define CRIMP_SIGNAL_PIPE_H

#include <stddef.h>

#include "error.h"

/* Routes each of the N SIGNALS to the pipe (SA_RESTART) and ignores
 * SIGPIPE, so that a client closing its end mid-write does not kill the
 * process.  Returns the pipe's read end (one byte per signal, its number),
 * or -1 with *err.  Once per process.  */
int crimp_signal_pipe(const int *signals, size_t n, crimp_error_t *err);

#endif
