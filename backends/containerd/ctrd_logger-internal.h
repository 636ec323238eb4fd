/* What the log copier (ctrd_logger.c) and its attach fan-out
 * (ctrd_attach.c) share.  Everything here belongs to the logger thread:
 * no locks.
 *
 * Every epoll registration's data.ptr is NULL (the wakeup eventfd) or
 * points at a struct whose first member is an enum ev_kind, so one loop
 * can dispatch output FIFOs, attach sockets and stdin FIFOs.  */
#ifndef CRIMP_CTRD_LOGGER_INTERNAL_H
#define CRIMP_CTRD_LOGGER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crilog.h"
#include "ctrd_io.h"

enum ev_kind { EV_STREAM = 1, EV_SINK, EV_STDIN };

struct log_entry;

struct log_stream {
    enum ev_kind kind; /* EV_STREAM */
    struct log_entry *entry;
    enum crilog_stream which;
    int fd; /* -1 once at EOF (or never given) */
};

/* The write end of the container's stdin FIFO.  crimp holds it for the
 * container's life so that attach sessions can feed it; closing it is the
 * process's EOF.  Registered with epoll (EPOLLOUT only while a session's
 * bytes wait for room).  */
struct log_stdin {
    enum ev_kind kind; /* EV_STDIN */
    struct log_entry *entry;
    int fd;    /* -1: none or closed */
    bool once; /* stdin_once: closed when the first session with stdin ends */
    uint32_t events;
};

struct attach_sink;

struct log_entry {
    char *id;
    struct crilog *log; /* NULL: output is read and dropped */
    struct log_stream streams[2];
    struct log_stdin in;
    struct attach_sink *sinks; /* open attach sessions */
    bool write_failed;         /* already said so in crimpd's log */
    struct log_entry *next;
};

/* The fan-out's state inside the logger.  */
struct attach_set {
    int epfd;
    ctrd_stdin_closed_fn *stdin_closed; /* may be NULL */
    void *ctx;
    struct attach_sink *closing; /* sessions flushing their last output */
    struct attach_sink *dead;    /* freed after the current epoll batch */
};

/* ---- ctrd_attach.c, all on the logger thread ----------------------------- */

/* Takes FD (the stdin FIFO's write end, may be -1) as E's stdin.  */
int attach_stdin_open(struct attach_set *a, struct log_entry *e, int fd, bool once,
                      crimp_error_t *err);
/* Adds an attach session on SOCK (taken over, closed on failure) to E.  */
int attach_sink_add(struct attach_set *a, struct log_entry *e, int sock,
                    const struct ctrd_attach_opts *o, crimp_error_t *err);
/* Copies one chunk of E's output to every session that asked for it.  */
void attach_fanout(struct attach_set *a, struct log_entry *e, enum crilog_stream which,
                   const char *data, size_t n);
void attach_sink_ready(struct attach_set *a, struct attach_sink *s, uint32_t events);
void attach_stdin_ready(struct attach_set *a, struct log_stdin *in, uint32_t events);
/* E's output ended: its sessions flush what they hold and close, which
 * ends them for the streaming server.  */
void attach_output_ended(struct attach_set *a, struct log_entry *e);
/* E is about to be freed: sessions are let go as above, stdin closed.  */
void attach_entry_gone(struct attach_set *a, struct log_entry *e);
/* After each epoll batch: frees ended sessions, drops flushing ones that
 * ran past their deadline.  */
void attach_reap(struct attach_set *a);
/* The nearest flush deadline (monotonic ns), INT64_MAX when none.  */
int64_t attach_next_deadline(const struct attach_set *a);
/* Closes and frees every session left (the logger is stopping).  */
void attach_set_clear(struct attach_set *a);

#endif
