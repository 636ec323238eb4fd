/* Container stdio for the containerd backend: FIFOs that containerd's shim
 * writes into, and one logger thread that copies every container's stdout
 * and stderr into its CRI log file (backends/common/crilog).
 *
 * FIFO rule (docs/containerd.md, "Containers"): crimp opens the read ends
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
/* STDIN_CLOSED(CTX, id), when set, is called on the logger thread (it
 * must not block) as stdin_once closes a container's stdin.  */
typedef void ctrd_stdin_closed_fn(void *ctx, const char *id);
struct ctrd_logger *ctrd_logger_new(ctrd_stdin_closed_fn *stdin_closed, void *ctx,
                                    crimp_error_t *err);
/* Stops the thread, flushes and closes every log.  NULL-safe.  */
void ctrd_logger_free(struct ctrd_logger *l);

/* Starts copying container ID's output: FD_OUT and FD_ERR (either may be
 * -1) are taken over (closed by the logger).  LOG_PATH NULL or "" → output
 * is read and dropped (kubelet asked for no log).  FD_IN (-1: none), the
 * write end of the container's stdin FIFO, is held for attach sessions
 * until the container ends, or until the first session with stdin ends
 * when STDIN_ONCE.  */
int ctrd_logger_add(struct ctrd_logger *l, const char *id, int fd_out, int fd_err, int fd_in,
                    bool stdin_once, const char *log_path, crimp_error_t *err);

/* What an attach session asks for.  */
struct ctrd_attach_opts {
    bool tty; /* the container's: raw output, else stdout/stderr frames (mux_frames.h) */
    bool want_stdout, want_stderr, want_stdin;
};
/* Attaches SOCK (taken over) to container ID: from now on its output also
 * goes to SOCK and, with want_stdin, SOCK's bytes go to its stdin; SOCK's
 * EOF is the session's stdin EOF.  The logger closes SOCK when the
 * container's output ends, or drops the session (with a log line) when
 * the client falls too far behind: the log copier never waits for it.
 * NOT_FOUND when ID's output is not being copied, FAILED_PRECONDITION
 * once it ended.  */
int ctrd_logger_attach(struct ctrd_logger *l, const char *id, int sock,
                       const struct ctrd_attach_opts *o, crimp_error_t *err);
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
