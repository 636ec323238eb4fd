/* Docker's timestamped log body into messages (log_stream.h).  */
#include "log_stream.h"

#include <string.h>

#include "docker-internal.h"
#include "utils.h"

/* Hands TEXT (stamped TIME_NS) to the sink unless it was written before.  */
static bool deliver(struct docker_log_stream *s, enum crilog_stream stream, int64_t time_ns,
                    const char *text, size_t len)
{
    if (time_ns != 0 && time_ns <= s->resume_ns)
        return true;
    if (time_ns > s->last_ns)
        s->last_ns = time_ns;
    return s->sink(s->ctx, stream, time_ns, text, len);
}

/* Splits "TIMESTAMP text" at its space; false when there is none.  */
static bool split_stamp(const char *msg, size_t len, int64_t *time_ns, const char **text,
                        size_t *text_len)
{
    const char *space = memchr(msg, ' ', len < 64 ? len : 64);
    if (space == NULL)
        return false;
    char stamp[64];
    size_t n = (size_t)(space - msg);
    memcpy(stamp, msg, n);
    stamp[n] = '\0';
    *time_ns = docker_parse_time(stamp);
    *text = space + 1;
    *text_len = len - n - 1;
    return true;
}

static bool deliver_message(struct docker_log_stream *s, enum crilog_stream stream,
                            const char *msg, size_t len)
{
    int64_t t;
    const char *text;
    size_t n;
    if (!split_stamp(msg, len, &t, &text, &n))
        return true; /* not a message: nothing to write */
    return deliver(s, stream, t, text, n);
}

static void consume(struct docker_log_stream *s, size_t n)
{
    memmove(s->buf, s->buf + n, s->len - n);
    s->len -= n;
}

static bool take_frames(struct docker_log_stream *s)
{
    while (s->len >= 8) {
        const unsigned char *h = (const unsigned char *)s->buf;
        size_t size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
        if (h[0] > 2 || h[1] || h[2] || h[3] || size > DOCKER_LOG_FRAME_MAX) {
            s->broken = true;
            return false;
        }
        if (s->len < 8 + size)
            return true;
        bool go_on = deliver_message(s, h[0] == 2 ? CRILOG_STDERR : CRILOG_STDOUT, s->buf + 8,
                                     size);
        consume(s, 8 + size);
        if (!go_on)
            return false;
    }
    return true;
}

/* The rest of a line whose start went out already: same stamp, and
 * dropped with it when that start was.  */
static bool deliver_continued(struct docker_log_stream *s, const char *text, size_t len)
{
    if (s->continued_dropped)
        return true;
    return s->sink(s->ctx, CRILOG_STDOUT, s->continued_ns, text, len);
}

/* tty: nothing in BUF ends a line and it holds too much, so its bytes go
 * out as the start of a line, to be continued.  */
static bool flush_unfinished(struct docker_log_stream *s)
{
    bool go_on = true;
    if (s->continued) {
        go_on = deliver_continued(s, s->buf, s->len);
    } else {
        int64_t t;
        const char *text;
        size_t n;
        if (split_stamp(s->buf, s->len, &t, &text, &n)) {
            s->continued_dropped = t != 0 && t <= s->resume_ns;
            s->continued_ns = t;
            go_on = deliver(s, CRILOG_STDOUT, t, text, n);
        } else {
            s->continued_dropped = true; /* no stamp in 16 KiB: not Docker's */
        }
        s->continued = true;
    }
    s->len = 0;
    return go_on;
}

static bool take_lines(struct docker_log_stream *s)
{
    char *nl;
    while ((nl = memchr(s->buf, '\n', s->len)) != NULL) {
        size_t n = (size_t)(nl - s->buf) + 1;
        bool go_on = s->continued ? deliver_continued(s, s->buf, n)
                                  : deliver_message(s, CRILOG_STDOUT, s->buf, n);
        s->continued = false;
        consume(s, n);
        if (!go_on)
            return false;
    }
    return s->len <= DOCKER_LOG_PENDING_MAX || flush_unfinished(s);
}

bool docker_log_stream_feed(struct docker_log_stream *s, const char *data, size_t len)
{
    while (len > 0) {
        /* In slices, so that a tty's BUF never holds much more than the cap.  */
        size_t n = len < DOCKER_LOG_PENDING_MAX ? len : DOCKER_LOG_PENDING_MAX;
        if (s->len + n > s->cap) {
            s->cap = s->len + n > 2 * s->cap ? s->len + n : 2 * s->cap;
            s->buf = xrealloc(s->buf, s->cap);
        }
        memcpy(s->buf + s->len, data, n);
        s->len += n;
        data += n;
        len -= n;
        if (!(s->tty ? take_lines(s) : take_frames(s)))
            return false;
    }
    return true;
}

void docker_log_stream_restart(struct docker_log_stream *s)
{
    s->len = 0;
    s->continued = false;
    s->broken = false;
    if (s->last_ns > s->resume_ns)
        s->resume_ns = s->last_ns;
}

void docker_log_stream_release(struct docker_log_stream *s)
{
    free(s->buf);
    s->buf = NULL;
    s->len = s->cap = 0;
}
