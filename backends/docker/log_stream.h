/* The body of GET /containers/{id}/logs?timestamps=1 cut into messages,
 * each "TIMESTAMP text" (RFC 3339 with nanoseconds, a space, the output).
 *
 * Without a tty Docker frames every message: [stream,0,0,0,size BE32]
 * then SIZE bytes.  With a tty the body is raw text and a message ends at
 * its newline; a tty program that never prints one would make the message
 * grow without end, so past DOCKER_LOG_PENDING_MAX bytes what is held goes
 * out as the start of the line (crilog cuts it into P lines) and the rest
 * of that line follows under the same timestamp.
 *
 * Messages stamped at or before RESUME_NS are dropped: they were written
 * before the stream was (re)opened, and Docker's since= only counts whole
 * seconds.  No I/O here: the caller's sink writes.  */
#ifndef CRIMP_DOCKER_LOG_STREAM_H
#define CRIMP_DOCKER_LOG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/crilog.h"

/* Output bytes held back waiting for a newline (tty) at most.  */
#define DOCKER_LOG_PENDING_MAX (CRILOG_MAX_LINE + 64)
/* A frame larger than this is not Docker's (its messages are cut at 16 KiB).  */
#define DOCKER_LOG_FRAME_MAX (1024 * 1024)

/* Writes one message's text (or a piece of it: no newline at the end)
 * stamped TIME_NS; false stops the stream.  */
typedef bool docker_log_sink_fn(void *ctx, enum crilog_stream stream, int64_t time_ns,
                                const char *text, size_t len);

struct docker_log_stream {
    bool tty;
    int64_t resume_ns; /* drop messages stamped at or before this */
    int64_t last_ns;   /* stamp of the last message handed to the sink */
    bool broken;       /* the body was not Docker's framing */
    /* The caller's: */
    docker_log_sink_fn *sink;
    void *ctx;
    /* Bytes of an unfinished frame (no tty) or line (tty).  */
    char *buf;
    size_t len, cap;
    /* tty: BUF continues a line whose start went out already.  */
    bool continued;
    int64_t continued_ns;
    bool continued_dropped;
};

/* Feeds LEN body bytes; false when the sink or the framing said stop.  */
bool docker_log_stream_feed(struct docker_log_stream *s, const char *data, size_t len);

/* A new connection: bytes of an unfinished message are dropped (Docker
 * sends that message again) and RESUME_NS becomes the last stamp written.  */
void docker_log_stream_restart(struct docker_log_stream *s);

void docker_log_stream_release(struct docker_log_stream *s);

#endif
