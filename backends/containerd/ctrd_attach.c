/* Attach on the log copier's thread (ctrd_logger.c).  While a client is
 * attached to a container, each chunk of output the logger reads goes to
 * the CRI log file first and then to the session's socket (as stdout/stderr
 * frames, common/mux_frames.h, unless the container has a tty), and the
 * client's bytes go to the container's stdin FIFO, whose write end the
 * logger holds.
 *
 * Nothing here may block the logger: sockets and the stdin FIFO are used
 * non-blocking.  Output a client does not take at once waits in a buffer
 * of at most ATTACH_OUT_CAP bytes; a client that lets it overflow is
 * detached with a log line, so the log never waits and a session never
 * sees a stream with bytes missing from its middle.  Input flows the other
 * way: while stdin has no room for a session's bytes its socket is not
 * read, so the client waits instead (the streaming server's send blocks).
 *
 * A session ends when its client leaves (EPOLLHUP, a failed send), falls
 * behind, or when the container's output ended and the session's buffer
 * is flushed (or FLUSH_WAIT_NS passed).  Ending it closes the socket,
 * which the streaming server sees as the end of the output.  Ended
 * sessions are freed after the current epoll batch, since a later event
 * of the batch may point at one.  */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/mux_frames.h"
#include "ctrd_logger-internal.h"
#include "log.h"
#include "utils.h"

#define ATTACH_OUT_CAP  (1024 * 1024)
#define ATTACH_IN_CHUNK (64 * 1024)
#define FLUSH_WAIT_NS   (5LL * 1000 * 1000 * 1000)

/* Bytes accepted but not yet written on: DATA[OFF..LEN).  */
struct pending {
    char *data;
    size_t off, len, cap;
};

struct attach_sink {
    enum ev_kind kind;       /* EV_SINK */
    struct log_entry *entry; /* NULL once closing (output ended) or ended */
    int sock;                /* -1 once ended */
    char id[13];             /* the container's short ID, for log lines */
    struct ctrd_attach_opts o;
    bool in_open; /* feeds stdin, and its input has not ended */
    bool in_eof;  /* the client's stdin ended (IN may still hold bytes) */
    struct pending out, in;
    uint32_t events;          /* as registered with epoll */
    int64_t deadline_mono_ns; /* closing: when to stop waiting for the client */
    struct attach_sink *next;
};

/* ---- byte buffers --------------------------------------------------------- */

static size_t pending_size(const struct pending *p)
{
    return p->len - p->off;
}

static void pending_add(struct pending *p, const void *data, size_t n)
{
    if (n == 0)
        return; /* also keeps memcpy off a buffer never allocated */
    if (p->len + n > p->cap && p->off > 0) {
        memmove(p->data, p->data + p->off, p->len - p->off);
        p->len -= p->off;
        p->off = 0;
    }
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n)
            cap *= 2;
        p->data = xrealloc(p->data, cap);
        p->cap = cap;
    }
    memcpy(p->data + p->len, data, n);
    p->len += n;
}

static void pending_free(struct pending *p)
{
    free(p->data);
    *p = (struct pending){0};
}

/* ---- epoll interest --------------------------------------------------------- */

static void set_events(struct attach_set *a, int fd, void *ptr, uint32_t *have, uint32_t want)
{
    if (fd < 0 || *have == want)
        return;
    struct epoll_event ev = {.events = want, .data.ptr = ptr};
    if (epoll_ctl(a->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
        *have = want;
    else
        log_warn("containerd: attach: epoll_ctl: %s", strerror(errno));
}

/* Read the client while its bytes can go somewhere; write it while output
 * waits.  Hangups are always reported.  */
static void sink_update_events(struct attach_set *a, struct attach_sink *s)
{
    uint32_t want = 0;
    if (s->in_open && !s->in_eof && pending_size(&s->in) == 0)
        want |= EPOLLIN;
    if (pending_size(&s->out) > 0)
        want |= EPOLLOUT;
    set_events(a, s->sock, s, &s->events, want);
}

/* stdin is watched for room only while some session's bytes wait.  */
static void stdin_update_events(struct attach_set *a, struct log_entry *e)
{
    uint32_t want = 0;
    for (struct attach_sink *s = e->sinks; s && !want; s = s->next)
        if (pending_size(&s->in) > 0)
            want = EPOLLOUT;
    set_events(a, e->in.fd, &e->in, &e->in.events, want);
}

/* ---- stdin ------------------------------------------------------------------ */

int attach_stdin_open(struct attach_set *a, struct log_entry *e, int fd, bool once,
                      crimp_error_t *err)
{
    e->in.once = once;
    if (fd < 0)
        return 0;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    struct epoll_event ev = {.events = 0, .data.ptr = &e->in};
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int saved = errno;
        close(fd);
        return crimp_make_errno_error(err, saved, "stdin of `%s`: watch fd %d", e->id, fd);
    }
    e->in.fd = fd;
    e->in.events = 0;
    return 0;
}

/* The process's stdin EOF (once the shim copied what the pipe holds).  */
static void stdin_close(struct attach_set *a, struct log_entry *e)
{
    if (e->in.fd < 0)
        return;
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, e->in.fd, NULL);
    close(e->in.fd);
    e->in.fd = -1;
    for (struct attach_sink *s = e->sinks; s; s = s->next) {
        s->in_open = false;
        pending_free(&s->in);
        sink_update_events(a, s);
    }
}

/* S's input ended (its client's EOF, or S ended): with stdin_once that
 * is the end of the container's stdin.  */
static void sink_input_done(struct attach_set *a, struct attach_sink *s)
{
    if (!s->in_open)
        return;
    s->in_open = false;
    pending_free(&s->in);
    if (s->entry && s->entry->in.once && s->entry->in.fd >= 0) {
        log_debug("containerd: attach to %s: stdin ended, closing it (stdin_once)", s->id);
        /* The shim's own write end closes when the backend is told; the
         * order of the two does not matter.  */
        if (a->stdin_closed)
            a->stdin_closed(a->ctx, s->entry->id);
        stdin_close(a, s->entry);
    }
}

/* Writes what fits of S's waiting input into stdin.  */
static void sink_push_input(struct attach_set *a, struct attach_sink *s)
{
    struct log_entry *e = s->entry;
    while (s->in_open && pending_size(&s->in) > 0) {
        ssize_t w = write(e->in.fd, s->in.data + s->in.off, pending_size(&s->in));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w < 0) {
            log_warn("containerd: stdin of %s: write: %s", s->id, strerror(errno));
            stdin_close(a, e);
            return;
        }
        s->in.off += (size_t)w;
    }
    if (s->in_eof && pending_size(&s->in) == 0)
        sink_input_done(a, s);
    if (e->in.fd >= 0)
        stdin_update_events(a, e);
}

/* One read of the client's bytes: 1 when it gave bytes or its EOF, 0 when
 * nothing was there, -1 when the client is gone.  */
static int sink_read_input(struct attach_set *a, struct attach_sink *s)
{
    static char buf[ATTACH_IN_CHUNK]; /* the logger thread's alone */
    ssize_t n = recv(s->sock, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0) {
        s->in_eof = true;
        if (pending_size(&s->in) == 0)
            sink_input_done(a, s);
        return 1;
    }
    pending_add(&s->in, buf, (size_t)n);
    sink_push_input(a, s);
    return 1;
}

void attach_stdin_ready(struct attach_set *a, struct log_stdin *in, uint32_t events)
{
    struct log_entry *e = in->entry;
    if (in->fd < 0)
        return;
    if (events & EPOLLERR) {
        stdin_close(a, e);
        return;
    }
    for (struct attach_sink *s = e->sinks; s && in->fd >= 0; s = s->next)
        if (pending_size(&s->in) > 0)
            sink_push_input(a, s);
    for (struct attach_sink *s = e->sinks; s; s = s->next)
        sink_update_events(a, s);
}

/* ---- sessions ------------------------------------------------------------- */

static void unlink_sink(struct attach_sink **head, struct attach_sink *s)
{
    for (struct attach_sink **p = head; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            return;
        }
}

/* Ends S: its input ends (stdin_once), its socket closes, and it is freed
 * after the current batch.  */
static void sink_end(struct attach_set *a, struct attach_sink *s)
{
    sink_input_done(a, s);
    unlink_sink(s->entry ? &s->entry->sinks : &a->closing, s);
    epoll_ctl(a->epfd, EPOLL_CTL_DEL, s->sock, NULL);
    close(s->sock);
    s->sock = -1;
    s->entry = NULL;
    s->next = a->dead;
    a->dead = s;
}

/* S gets no more output: it ends once its buffer is flushed.  Its input
 * is dropped without the stdin_once step: the process is gone, and its
 * stdin closes with the entry.  */
static void sink_close_when_flushed(struct attach_set *a, struct attach_sink *s)
{
    s->in_open = false;
    pending_free(&s->in);
    unlink_sink(&s->entry->sinks, s);
    s->entry = NULL;
    s->next = a->closing;
    a->closing = s;
    s->deadline_mono_ns = crimp_now_mono_ns() + FLUSH_WAIT_NS;
    if (pending_size(&s->out) == 0)
        sink_end(a, s);
    else
        sink_update_events(a, s);
}

int attach_sink_add(struct attach_set *a, struct log_entry *e, int sock,
                    const struct ctrd_attach_opts *o, crimp_error_t *err)
{
    struct attach_sink *s = xcalloc(1, sizeof(*s));
    s->kind = EV_SINK;
    s->entry = e;
    s->sock = sock;
    snprintf(s->id, sizeof(s->id), "%s", e->id);
    s->o = *o;
    s->in_open = o->want_stdin && e->in.fd >= 0;
    s->events = s->in_open ? EPOLLIN : 0;
    struct epoll_event ev = {.events = s->events, .data.ptr = s};
    if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, sock, &ev) < 0) {
        int saved = errno;
        close(sock);
        free(s);
        return crimp_make_errno_error(err, saved, "attach to `%s`: watch its socket", e->id);
    }
    s->next = e->sinks;
    e->sinks = s;
    log_debug("containerd: attached to %s (stdin %s)", s->id, s->in_open ? "open" : "not used");
    return 0;
}

/* Sends what fits of V without waiting: the byte count, -1 when the
 * client is gone.  */
static ssize_t send_some(int sock, struct iovec *v, int n)
{
    struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)n};
    for (;;) {
        ssize_t w = sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w >= 0)
            return w;
        if (errno != EINTR)
            return errno == EAGAIN ? 0 : -1;
    }
}

/* Sends S's waiting output; false when the client is gone.  */
static bool sink_flush(struct attach_sink *s)
{
    while (pending_size(&s->out) > 0) {
        struct iovec v = {s->out.data + s->out.off, pending_size(&s->out)};
        ssize_t w = send_some(s->sock, &v, 1);
        if (w <= 0)
            return w == 0;
        s->out.off += (size_t)w;
    }
    return true;
}

static void sink_output(struct attach_set *a, struct attach_sink *s, enum crilog_stream which,
                        const char *data, size_t n)
{
    if (!(which == CRILOG_STDOUT ? s->o.want_stdout : s->o.want_stderr))
        return;
    uint8_t h[MUX_FRAME_HEADER];
    struct iovec v[2];
    int nv = 0;
    if (!s->o.tty) {
        mux_frame_header(h, which != CRILOG_STDOUT, (uint32_t)n);
        v[nv++] = (struct iovec){h, sizeof(h)};
    }
    v[nv++] = (struct iovec){(void *)data, n};
    size_t total = (s->o.tty ? 0 : sizeof(h)) + n;
    size_t sent = 0;
    if (pending_size(&s->out) == 0) { /* else the order would break */
        ssize_t w = send_some(s->sock, v, nv);
        if (w < 0) {
            log_debug("containerd: attach to %s: the client left", s->id);
            sink_end(a, s);
            return;
        }
        sent = (size_t)w;
    }
    if (sent == total)
        return;
    if (pending_size(&s->out) + (total - sent) > ATTACH_OUT_CAP) {
        log_warn("containerd: attach to %s: the client fell more than %d KiB behind the "
                 "output; detaching it (the log keeps everything)",
                 s->id, ATTACH_OUT_CAP / 1024);
        sink_end(a, s);
        return;
    }
    for (int i = 0; i < nv; i++) {
        size_t skip = sent < v[i].iov_len ? sent : v[i].iov_len;
        sent -= skip;
        pending_add(&s->out, (const char *)v[i].iov_base + skip, v[i].iov_len - skip);
    }
    sink_update_events(a, s);
}

void attach_fanout(struct attach_set *a, struct log_entry *e, enum crilog_stream which,
                   const char *data, size_t n)
{
    for (struct attach_sink *s = e->sinks, *next; s; s = next) {
        next = s->next; /* S may end */
        sink_output(a, s, which, data, n);
    }
}

void attach_sink_ready(struct attach_set *a, struct attach_sink *s, uint32_t events)
{
    if (s->sock < 0)
        return; /* ended earlier in this batch */
    if ((events & EPOLLOUT) && !sink_flush(s)) {
        sink_end(a, s);
        return;
    }
    if (s->entry == NULL && pending_size(&s->out) == 0) {
        sink_end(a, s); /* closing, and all sent */
        return;
    }
    bool hangup = events & (EPOLLHUP | EPOLLERR);
    /* One read per event; after a hangup, all that the client sent before
     * it left (as far as stdin takes it).  */
    while ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && s->in_open && !s->in_eof &&
           pending_size(&s->in) == 0) {
        int r = sink_read_input(a, s);
        if (r < 0)
            hangup = true;
        if (r <= 0 || !hangup)
            break;
    }
    if (hangup)
        sink_end(a, s);
    else
        sink_update_events(a, s);
}

void attach_output_ended(struct attach_set *a, struct log_entry *e)
{
    while (e->sinks)
        sink_close_when_flushed(a, e->sinks);
}

void attach_entry_gone(struct attach_set *a, struct log_entry *e)
{
    attach_output_ended(a, e);
    stdin_close(a, e);
}

void attach_reap(struct attach_set *a)
{
    int64_t now = crimp_now_mono_ns();
    for (struct attach_sink *s = a->closing, *next; s; s = next) {
        next = s->next;
        if (now < s->deadline_mono_ns)
            continue;
        log_warn("containerd: attach to %s: the client did not take the last %zu bytes of "
                 "output in time; detaching it",
                 s->id, pending_size(&s->out));
        sink_end(a, s);
    }
    while (a->dead) {
        struct attach_sink *s = a->dead;
        a->dead = s->next;
        pending_free(&s->out);
        pending_free(&s->in);
        free(s);
    }
}

int64_t attach_next_deadline(const struct attach_set *a)
{
    int64_t nearest = INT64_MAX;
    for (const struct attach_sink *s = a->closing; s; s = s->next)
        if (s->deadline_mono_ns < nearest)
            nearest = s->deadline_mono_ns;
    return nearest;
}

void attach_set_clear(struct attach_set *a)
{
    while (a->closing)
        sink_end(a, a->closing);
    attach_reap(a);
}
