/* Exec and attach over SPDY: Kubernetes' remotecommand protocol
 * (channel.k8s.io .. v4; v5 over SPDY is v4).  The client opens its
 * streams (error, then stdin/stdout/stderr as asked, resize with a tty);
 * once all are there the backend starts the process, and bytes are pumped
 * both ways until it ends; the exit status goes on the error stream
 * (docs/streaming.md, "Exec and attach").  */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"

#define SETUP_TIMEOUT_MS 30000
#define CLOSE_WAIT_MS 10000

enum rc_stream { RC_ERROR, RC_STDIN, RC_STDOUT, RC_STDERR, RC_RESIZE, RC_N };
static const char *const RC_NAMES[RC_N] = {"error", "stdin", "stdout", "stderr", "resize"};

struct rc_session {
    struct stream_conn *c;
    struct stream_request *r;
    int version; /* 1..4 */
    bool want[RC_N];
    uint32_t sid[RC_N];
    int expected, got;
    struct crimp_stream_io io;
    bool started;
    struct spdy_buf out;
    struct stdio_resize resize;
    bool output_done, client_gone;
    /* Why crimp ends the session early because of the client (a message
     * over a limit, bad SPDY); NULL while all is well.  */
    char *refusal;
    const char *failure; /* crimp gave up on the process (idle, stdin stalled) */
    crimp_error_t broken; /* the process's output was not what its backend sends */
};

static const char *kind_name(const struct rc_session *s)
{
    return s->r->kind == CRIMP_STREAM_EXEC ? "exec" : "attach";
}

/* The client broke a rule: the session ends with WHY as its status, the
 * process (if any) killed, and nothing more the client sends is read.  */
static void refuse(struct rc_session *s, const char *why)
{
    if (s->refusal)
        return;
    log_info("stream: ending the %s session: %s", kind_name(s), why);
    s->refusal = xstrdup(why);
    s->c->code = GRPC_STATUS_INVALID_ARGUMENT;
}

static int version_of(const char *protocol)
{
    if (strcmp(protocol, "channel.k8s.io") == 0)
        return 1;
    int v = protocol[1] - '0';
    return v >= 4 ? 4 : v;
}

static void plan_streams(struct rc_session *s)
{
    bool tty;
    if (s->r->kind == CRIMP_STREAM_EXEC) {
        const Runtime__V1__ExecRequest *e = (const void *)s->r->req;
        s->want[RC_STDIN] = e->stdin;
        s->want[RC_STDOUT] = e->stdout;
        s->want[RC_STDERR] = e->stderr && !e->tty;
        tty = e->tty;
    } else {
        const Runtime__V1__AttachRequest *a = (const void *)s->r->req;
        s->want[RC_STDIN] = a->stdin;
        s->want[RC_STDOUT] = a->stdout;
        s->want[RC_STDERR] = a->stderr && !a->tty;
        tty = a->tty;
    }
    s->want[RC_ERROR] = true;
    s->want[RC_RESIZE] = tty && s->version >= 3;
    for (int i = 0; i < RC_N; i++)
        s->expected += s->want[i];
}

static void on_syn_stream(struct rc_session *s, const struct spdy_frame *f)
{
    const char *type = spdy_header(f, "streamtype");
    s->c->last_client_stream = f->stream_id;
    spdy_put_syn_reply(&s->c->codec, &s->out, f->stream_id);
    for (int i = 0; type && i < RC_N; i++)
        if (strcmp(type, RC_NAMES[i]) == 0 && s->sid[i] == 0) {
            s->sid[i] = f->stream_id;
            s->got += s->want[i];
            return;
        }
    log_debug("stream: ignoring a `%s` stream", type ? type : "(no type)");
}

static void on_frame(struct rc_session *s, const struct spdy_frame *f)
{
    switch (f->type) {
    case SPDY_SYN_STREAM:
        on_syn_stream(s, f);
        break;
    case SPDY_PING:
        spdy_put_ping(&s->out, f->value); /* echo: the client's keepalive */
        break;
    case SPDY_GOAWAY:
        s->client_gone = true;
        break;
    case SPDY_DATA:
        if (s->sid[RC_STDIN] && f->stream_id == s->sid[RC_STDIN]) {
            if (s->started && stdio_write_stdin(s->c, s->io.fd, f->data, f->len) ==
                                  STREAM_SEND_STALLED)
                s->failure = "the process did not read its stdin within the idle timeout";
            if ((f->flags & SPDY_FLAG_FIN) && s->started)
                shutdown(s->io.fd, SHUT_WR); /* EOF for the process's stdin */
        } else if (s->sid[RC_RESIZE] && f->stream_id == s->sid[RC_RESIZE]) {
            /* Accepted without a tty too (then nothing is resized), so it
             * is checked the same way.  */
            cleanup_error crimp_error_t err = NULL;
            if (stdio_resize_feed(&s->resize, f->data, f->len, s->r, s->started ? &s->io : NULL,
                                  &err) < 0)
                refuse(s, err->msg);
        }
        break;
    case SPDY_RST_STREAM:
        if (s->sid[RC_STDIN] && f->stream_id == s->sid[RC_STDIN] && s->started)
            shutdown(s->io.fd, SHUT_WR);
        break;
    default:
        break;
    }
}

/* After a refusal the client's bytes are read and dropped: its input may
 * be broken mid-frame, and a close with unread bytes would reset the
 * connection before it read its status.  */
static int discard_client(struct rc_session *s, int timeout_ms)
{
    struct pollfd p = {.fd = s->c->fd, .events = POLLIN};
    char buf[16384];
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    if (recv(s->c->fd, buf, sizeof(buf), 0) <= 0) {
        s->client_gone = true;
        return -1;
    }
    return 0;
}

/* Reads and handles what the client sent; < 0 when it is gone.  */
static int pump_client(struct rc_session *s, int timeout_ms)
{
    if (s->refusal)
        return discard_client(s, timeout_ms);
    int r = stream_read_client(s->c, timeout_ms);
    if (r < 0) {
        s->client_gone = true;
        return -1;
    }
    struct spdy_frame f;
    cleanup_error crimp_error_t err = NULL;
    int got = 0;
    while (!s->refusal && !s->client_gone && (got = spdy_next(&s->c->codec, &f, &err)) > 0)
        on_frame(s, &f);
    if (got < 0)
        refuse(s, err->msg);
    return stream_flush(s->c, &s->out) < 0 ? (s->client_gone = true, -1) : 0;
}

static bool wait_for_streams(struct rc_session *s)
{
    int64_t deadline = crimp_now_mono_ns() + SETUP_TIMEOUT_MS * 1000000LL;
    while (s->got < s->expected && !s->client_gone && !s->refusal) {
        int64_t left = (deadline - crimp_now_mono_ns()) / 1000000;
        if (left <= 0)
            return false;
        if (pump_client(s, (int)left) < 0)
            return false;
    }
    return s->got == s->expected;
}

static void send_output(struct rc_session *s, int which, const uint8_t *p, size_t n)
{
    uint32_t sid = s->sid[which] ? s->sid[which] : s->sid[RC_STDOUT];
    if (sid)
        stream_conn_out(s->c, n);
    while (n > 0 && sid) {
        size_t chunk = n < SPDY_MAX_DATA ? n : SPDY_MAX_DATA;
        spdy_put_data(&s->out, sid, 0, p, chunk);
        p += chunk;
        n -= chunk;
    }
}

static void on_output(void *ctx, bool is_stderr, const uint8_t *p, size_t n)
{
    send_output(ctx, is_stderr ? RC_STDERR : RC_STDOUT, p, n);
}

static void feed_output(struct rc_session *s, const uint8_t *p, size_t n)
{
    if (!s->broken && stdio_output_feed(&s->io, p, n, on_output, s, &s->broken) < 0)
        s->failure = s->broken->msg;
}

static void pump_output(struct rc_session *s)
{
    uint8_t buf[SPDY_MAX_DATA];
    ssize_t n = recv(s->io.fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        s->output_done = true;
        return;
    }
    feed_output(s, buf, (size_t)n);
}

static void run(struct rc_session *s)
{
    int64_t idle_ns = (int64_t)s->c->idle_seconds * 1000000000LL, last = crimp_now_mono_ns();
    if (s->io.n_early)
        feed_output(s, (const uint8_t *)s->io.early, s->io.n_early);
    while (!s->output_done && !s->client_gone && !s->refusal && !s->failure) {
        if (stream_flush(s->c, &s->out) < 0) {
            s->client_gone = true;
            return;
        }
        struct pollfd p[2] = {{s->c->fd, POLLIN, 0}, {s->io.fd, POLLIN, 0}};
        if (poll(p, 2, 1000) < 0 && errno != EINTR)
            return;
        if (p[0].revents) {
            pump_client(s, 0);
            last = crimp_now_mono_ns();
        }
        if (p[1].revents) {
            pump_output(s);
            last = crimp_now_mono_ns();
        }
        if (idle_ns > 0 && crimp_now_mono_ns() - last > idle_ns) {
            log_info("stream: session idle for %d s, ending it", s->c->idle_seconds);
            s->failure = "the session was idle for longer than the idle timeout";
            break;
        }
    }
}

static void put_status(struct rc_session *s, const char *failure, int exit_code)
{
    cleanup_free char *text = s->refusal ? stdio_refusal_text(s->version >= 4, s->refusal)
                                         : stdio_status_text(s->version >= 4, failure, exit_code);
    if (text)
        spdy_put_data(&s->out, s->sid[RC_ERROR], 0, text, strlen(text));
}

/* Ends the session the way clients expect (§4.5): input streams reset,
 * the status, FIN on the output streams, then wait for the client to
 * leave so nothing unsent is lost to a reset socket.  */
static void finish(struct rc_session *s, const char *failure, int exit_code)
{
    if (s->client_gone)
        return;
    const int inputs[] = {RC_STDIN, RC_RESIZE};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(inputs); i++)
        if (s->sid[inputs[i]])
            spdy_put_rst(&s->out, s->sid[inputs[i]], SPDY_RST_CANCEL);
    put_status(s, failure, exit_code);
    for (int i = RC_ERROR; i <= RC_STDERR; i++)
        if (s->sid[i] && i != RC_STDIN)
            spdy_put_data(&s->out, s->sid[i], SPDY_FLAG_FIN, NULL, 0);
    if (stream_flush(s->c, &s->out) < 0)
        return;
    int64_t deadline = crimp_now_mono_ns() + CLOSE_WAIT_MS * 1000000LL;
    while (!s->client_gone && crimp_now_mono_ns() < deadline)
        pump_client(s, 500);
}

void stream_run_remotecommand(struct stream_conn *c, struct stream_request *r,
                              const char *protocol)
{
    struct rc_session s = {.c = c, .r = r, .version = version_of(protocol), .io = {.fd = -1}};
    plan_streams(&s);
    if (!wait_for_streams(&s)) {
        if (s.refusal) {
            finish(&s, NULL, 0);
        } else {
            log_info("stream: %s session: the client's streams did not all arrive",
                     kind_name(&s));
            c->code = GRPC_STATUS_DEADLINE_EXCEEDED;
        }
        free(s.refusal);
        spdy_buf_free(&s.out);
        return;
    }
    cleanup_error crimp_error_t err = NULL;
    if (stdio_start(r, &s.io, &err) < 0) {
        cleanup_free char *msg = stdio_start_failure(c, r, err);
        finish(&s, msg, 0);
    } else {
        s.started = true;
        run(&s);
        int code = stdio_end(r, &s.io, s.output_done, s.client_gone);
        if (s.failure)
            c->code = s.broken ? s.broken->code : GRPC_STATUS_DEADLINE_EXCEEDED;
        finish(&s, s.failure, code);
    }
    crimp_error_release(&s.broken);
    stdio_io_free(&s.io);
    free(s.refusal);
    spdy_buf_free(&s.out);
}
