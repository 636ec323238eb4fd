/* Container stdio for the containerd backend: FIFOs that containerd's shim
 * writes into, and one logger thread that copies every container's stdout
 * and stderr into its CRI log file (backends/common/crilog).
 *
 * FIFO rule (containerd-native.md §A.8.9): crimp opens the read ends
 * O_RDONLY|O_NONBLOCK before Tasks/Create or Tasks/Exec; a read end that
 * no writer has opened yet reads as EOF, so data is read only once poll
 * reported POLLIN or POLLHUP — Linux reports POLLHUP on a FIFO only after a
 * writer came and went.  */
#ifndef CRIMP_CTRD_IO_H
#define CRIMP_CTRD_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct ctrd_fifos {
    char *dir;                                   /* the directory holding them */
    char *stdin_path, *stdout_path, *stderr_path; /* NULL when not asked for */
    int fd_in;                                   /* our write end of stdin (-1) */
    int fd_out, fd_err;                          /* our read ends (-1) */
};

/* Makes BASE_DIR/<random>/ and in it NAME-stdout, NAME-stderr (unless
 * !WANT_STDERR, as for a tty) and NAME-stdin (when WANT_STDIN); opens the
 * read ends (and, for stdin, a write end opened O_RDWR so it never blocks).  */
int ctrd_fifos_create(const char *base_dir, const char *name, bool want_stdin, bool want_stderr,
                      struct ctrd_fifos *f, crimp_error_t *err);
/* Closes whatever fds are still open, unlinks the FIFOs and the directory.
 * Safe on a zeroed struct and twice.  */
void ctrd_fifos_cleanup(struct ctrd_fifos *f);

/* The logger: one thread with epoll for all containers.  */
struct ctrd_logger;
struct ctrd_logger *ctrd_logger_new(crimp_error_t *err);
/* Stops the thread, flushes and closes every log.  NULL-safe.  */
void ctrd_logger_free(struct ctrd_logger *l);

/* Starts copying container ID's output: FD_OUT and FD_ERR (either may be
 * -1) are taken over (closed by the logger).  LOG_PATH NULL or "" → output
 * is read and dropped (kubelet asked for no log).  */
int ctrd_logger_add(struct ctrd_logger *l, const char *id, int fd_out, int fd_err,
                    const char *log_path, crimp_error_t *err);
/* Reopens ID's log file (after kubelet rotated it).  NOT_FOUND when ID is
 * not being copied.  */
int ctrd_logger_reopen(struct ctrd_logger *l, const char *id, crimp_error_t *err);
/* Waits up to TIMEOUT_MS for both of ID's streams to reach EOF and be
 * written out, then forgets ID (closing fds and log).  Returns 0 when
 * drained, 1 when the timeout cut it short; unknown ID → 0.  */
int ctrd_logger_finish(struct ctrd_logger *l, const char *id, int timeout_ms);
/* Whether ID is being copied.  */
bool ctrd_logger_has(struct ctrd_logger *l, const char *id);

/* ExecSync: reads FD_OUT and FD_ERR (either -1) until both reach EOF,
 * keeping at most CAP bytes of each (the rest is read and dropped), or
 * until DEADLINE_MONO_NS (0: none) → returns 1 (timeout, data so far kept).
 * *OUT / *ERR (caller frees) are NUL-terminated.  Does not close the fds.  */
int ctrd_capture(int fd_out, int fd_err, size_t cap, int64_t deadline_mono_ns, char **out,
                 size_t *out_len, char **errout, size_t *err_len, crimp_error_t *err);

#endif
