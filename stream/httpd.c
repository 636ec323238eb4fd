/* The streaming server's HTTP side: a listener on loopback, a thread per
 * connection (sessions are few and long), the request head parsed, the
 * token taken, the SPDY/3.1 upgrade negotiated, then a session.
 *
 * libevent's evhttp cannot hand over an upgraded connection, so this is a
 * small HTTP/1.1 head parser of its own; nothing after the head is HTTP.  */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"

#define REPLY_TIMEOUT_MS 1000 /* for an error answer: the client may not read */
#define STREAM_SNDBUF    (256 * 1024) /* per session; the kernel doubles it */
#define STOP_WAIT_MS     3000         /* for cut sessions to end at shutdown */

struct crimp_stream_server {
    int listen_fd;
    int wake[2];
    pthread_t acceptor;
    char *base_url;
    struct crimp_stream_limits limits;
    struct stream_tokens *tokens;
    struct stream_reporter reporter;
    struct stream_admission admission;
    atomic_int connections; /* threads, pending and sessions alike */
};

struct conn_job {
    struct crimp_stream_server *s;
    int fd;
    int slot; /* its pending slot (admission.c) */
};

static void send_plain(int fd, int code, const char *reason, const char *extra, const char *body)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                     code, reason, strlen(body), extra ? extra : "", body);
    if (n > 0 && stream_send_all(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1,
                                 REPLY_TIMEOUT_MS) < 0)
        log_debug("stream: reply %d not sent", code);
}

/* Reads and parses the request head; false on a bad request or one not
 * complete within TIMEOUT_MS in total (a byte now and then buys nothing).  */
static bool read_head(int fd, struct http_head *h, char *buf, int timeout_ms)
{
    size_t len = 0;
    int64_t deadline = crimp_now_mono_ns() + (int64_t)timeout_ms * 1000000;
    while (memmem(buf, len, "\r\n\r\n", 4) == NULL) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left_ms = (deadline - crimp_now_mono_ns()) / 1000000;
        if (len == HTTP_HEAD_MAX || left_ms <= 0 || poll(&p, 1, (int)left_ms) <= 0) {
            log_debug("stream: no complete request head within %d ms", timeout_ms);
            return false;
        }
        ssize_t n = recv(fd, buf + len, HTTP_HEAD_MAX - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
    }
    return http_head_parse(buf, len, h);
}

/* Answers a session's request with an error instead of an upgrade; the
 * session's report gets the gRPC code that matches the HTTP status.  */
static void refuse(struct stream_conn *c, int code, const char *reason, const char *extra,
                   const char *body)
{
    c->code = code == 403 ? GRPC_STATUS_PERMISSION_DENIED : GRPC_STATUS_INVALID_ARGUMENT;
    send_plain(c->fd, code, reason, extra, body);
}

static void refuse_protocol(struct stream_conn *c, enum crimp_stream_kind kind)
{
    const char *accepted = kind == CRIMP_STREAM_PORTFORWARD
                               ? "X-Accepted-Stream-Protocol-Versions: portforward.k8s.io\r\n"
                               : "X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io\r\n"
                                 "X-Accepted-Stream-Protocol-Versions: v3.channel.k8s.io\r\n"
                                 "X-Accepted-Stream-Protocol-Versions: v2.channel.k8s.io\r\n"
                                 "X-Accepted-Stream-Protocol-Versions: channel.k8s.io\r\n";
    refuse(c, 403, "Forbidden", accepted, "subprotocol negotiation failed");
}

/* SPDY/3.1+portforward.k8s.io: the SPDY port-forward session, its frames
 * carried in binary WebSocket messages, with no inner HTTP handshake; the
 * client ends it with a close frame, answered in kind.  */
void stream_run_spdy_tunnel(struct stream_conn *c, struct stream_request *r)
{
    struct ws_link link;
    ws_link_init(&link, c, WS_CHAN_V4);
    link.tunnel = true;
    c->tunnel = &link;
    spdy_codec_init(&c->codec);
    c->codec.max_frame = c->max_message;
    stream_run_portforward(c, r);
    spdy_codec_free(&c->codec);
    ws_link_close(&link);
    ws_link_free(&link);
    c->tunnel = NULL;
}

/* WebSocket: the channel protocol chosen by the client's order among what
 * crimp speaks for this kind of session, the accept key, then the session.
 * Port-forward fixes its ports here, before the upgrade, as upstream.  */
static void serve_websocket(struct stream_conn *c, struct http_head *h, struct stream_request *r)
{
    enum ws_chan_proto proto;
    const char *name = NULL;
    char accept[WS_ACCEPT_KEY_LEN + 1];
    int ports[WS_PF_MAX_PORTS], n_ports = 0, chosen;
    const char *const *offers = (const char *const *)h->ws_offers;
    cleanup_error crimp_error_t err = NULL;
    bool tunnel = false;
    if (r->kind == CRIMP_STREAM_PORTFORWARD) {
        chosen = ws_chan_select_portforward(offers, (size_t)h->n_ws_offers, &proto, &name);
        tunnel = chosen == 1 && strcmp(name, WS_SPDY_TUNNEL_PROTOCOL) == 0;
        cleanup_free char *why = NULL;
        /* Upstream checks the ports first: a bad list is 400 whatever the
         * protocol.  The tunnel names its ports in SPDY headers instead.  */
        if (!tunnel &&
            (n_ports = ws_portforward_ports(h->query, r, ports, WS_PF_MAX_PORTS, &why)) < 0) {
            cleanup_free char *body = xasprintf("%s\n", why);
            refuse(c, 400, "Bad Request", NULL, body);
            return;
        }
    } else {
        chosen = ws_chan_select(offers, (size_t)h->n_ws_offers, &proto);
    }
    if (chosen == WS_SUBPROTO_NO_MATCH) {
        refuse(c, 403, "Forbidden", NULL, "subprotocol negotiation failed\n");
        return;
    }
    /* Only now is PROTO set (an unsupported offer once indexed the names
     * with garbage; found by fuzzing).  */
    if (r->kind != CRIMP_STREAM_PORTFORWARD)
        name = ws_chan_proto_names[proto];
    if (ws_accept_key(h->ws_key, accept, &err) < 0) {
        refuse(c, 400, "Bad Request", NULL, "bad Sec-WebSocket-Key\n");
        return;
    }
    char reply[384];
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     accept, chosen == 1 ? "Sec-WebSocket-Protocol: " : "",
                     chosen == 1 ? name : "", chosen == 1 ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof(reply) ||
        stream_send_all(c->fd, reply, (size_t)n, REPLY_TIMEOUT_MS) < 0)
        return;
    c->transport = "websocket";
    if (tunnel)
        stream_run_spdy_tunnel(c, r);
    else if (r->kind == CRIMP_STREAM_PORTFORWARD)
        stream_run_ws_portforward(c, r, proto, ports, (size_t)n_ports);
    else
        stream_run_ws_remotecommand(c, r, proto);
}

/* SPDY/3.1: the X-Stream-Protocol-Version negotiated, the 101, and any
 * bytes that came with the head are already SPDY.  */
static void serve_spdy(struct stream_conn *c, struct http_head *h, struct stream_request *r)
{
    const char *protocol = NULL;
    if (!h->upgrade_spdy || !h->connection_upgrade || h->n_protocols == 0) {
        refuse(c, 400, "Bad Request", NULL,
               "unable to upgrade: crimp serves SPDY/3.1 with X-Stream-Protocol-Version\n");
        return;
    }
    if ((protocol = http_negotiate(h, r->kind)) == NULL) {
        refuse_protocol(c, r->kind);
        return;
    }
    char reply[256];
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: %s\r\n\r\n",
                     protocol);
    if (n < 0 || (size_t)n >= sizeof(reply) ||
        stream_send_all(c->fd, reply, (size_t)n, REPLY_TIMEOUT_MS) < 0)
        return;
    c->transport = "spdy";
    spdy_codec_init(&c->codec);
    c->codec.max_frame = c->max_message;
    if (h->n_rest)
        spdy_feed(&c->codec, h->rest, h->n_rest);
    if (r->kind == CRIMP_STREAM_PORTFORWARD)
        stream_run_portforward(c, r);
    else
        stream_run_remotecommand(c, r, protocol);
    spdy_codec_free(&c->codec);
}

/* R's session on FD: from here on the request is a call the recorder
 * sees.  */
static void run_session(struct crimp_stream_server *s, int fd, struct http_head *h,
                        struct stream_request *r)
{
    int idle = s->limits.idle_seconds;
    struct stream_conn c = {.fd = fd,
                            .idle_seconds = idle,
                            .send_timeout_ms = idle > 0 && idle < INT_MAX / 1000 ? idle * 1000 : 0,
                            .max_message = s->limits.max_message};
    /* A fixed kernel send buffer: autotuning would keep growing it (to
     * megabytes) for a client that does not read, so sends would keep
     * succeeding and the stall would show only much later.  */
    int sndbuf = STREAM_SNDBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
        log_debug("stream: SO_SNDBUF: %s", strerror(errno));
    stream_report_begin(&s->reporter, &c);
    if (h->upgrade_ws && h->connection_upgrade)
        serve_websocket(&c, h, r);
    else
        serve_spdy(&c, h, r);
    stream_report_end(&s->reporter, &c, r);
    crimp_backend_release(r->backend); /* held since stream_tokens_take */
    stream_request_free(r);
}

/* The request: its head within the head timeout while it holds a pending
 * slot, then, with a valid token and a free session slot, its session.  */
static void serve(struct crimp_stream_server *s, int fd, int slot)
{
    cleanup_free char *buf = xmalloc(HTTP_HEAD_MAX + 1);
    struct http_head h = {0};
    enum crimp_stream_kind kind;
    const char *token = NULL;
    bool head = read_head(fd, &h, buf, s->limits.head_seconds * 1000);
    admission_wait_end(&s->admission, slot, fd);
    if (!head)
        return;
    if (!http_kind_of_path(h.path, &kind, &token)) {
        send_plain(fd, 404, "Not Found", NULL, "404 page not found\n");
        return;
    }
    /* Checked before the token is taken, so that the client may retry.  */
    if (!admission_session_begin(&s->admission, fd)) {
        log_warn("stream: %d sessions already run: refusing another", s->limits.max_sessions);
        send_plain(fd, 503, "Service Unavailable", NULL, "too many streaming sessions\n");
        return;
    }
    struct stream_request *r = stream_tokens_take(s->tokens, token, kind);
    if (r == NULL) { /* unknown, used, expired: all look the same */
        admission_session_end(&s->admission, fd);
        send_plain(fd, 404, "Not Found", NULL, "404 page not found\n");
        return;
    }
    run_session(s, fd, &h, r);
    admission_session_end(&s->admission, fd);
}


struct stream_tokens *stream_server_tokens(struct crimp_stream_server *s)
{
    return s->tokens;
}

void stream_serve_connection(struct crimp_stream_server *s, int fd)
{
    serve(s, fd, admission_wait_begin(&s->admission, fd));
}

static void *conn_main(void *arg)
{
    struct conn_job *job = arg;
    serve(job->s, job->fd, job->slot);
    close(job->fd);
    atomic_fetch_sub(&job->s->connections, 1);
    free(job);
    return NULL;
}

static void *acceptor_main(void *arg)
{
    struct crimp_stream_server *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        /* Threads: the pending and session slots, and as many again for
         * connections cut off but not yet gone.  */
        int max_threads = 2 * s->limits.max_pending + s->limits.max_sessions;
        if (atomic_fetch_add(&s->connections, 1) >= max_threads) {
            atomic_fetch_sub(&s->connections, 1);
            close(fd);
            continue;
        }
        struct conn_job *job = xcalloc(1, sizeof(*job));
        job->s = s;
        job->fd = fd;
        job->slot = admission_wait_begin(&s->admission, fd);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_main, job) != 0) {
            admission_wait_end(&s->admission, job->slot, fd);
            close(fd);
            free(job);
            atomic_fetch_sub(&s->connections, 1);
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

static int listen_on(const char *address, int *fd_out, int *port, crimp_error_t *err)
{
    cleanup_free char *host = xstrdup(address);
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "stream_listen: `%s` is not HOST:PORT", address);
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "stream_listen: `%s` is not an IPv4 address", host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t sl = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return crimp_make_errno_error(err, e, "stream_listen `%s`", address);
    }
    *fd_out = fd;
    *port = ntohs(sa.sin_port);
    return 0;
}

struct crimp_stream_server *crimp_stream_start(const char *address,
                                               const struct crimp_stream_limits *limits,
                                               const struct crimp_stream_observer *observer,
                                               crimp_error_t *err)
{
    struct crimp_stream_server *s = xcalloc(1, sizeof(*s));
    s->limits = *limits;
    if (s->limits.head_seconds <= 0)
        s->limits.head_seconds = CRIMP_STREAM_DEFAULT_HEAD_SECONDS;
    if (s->limits.max_pending <= 0)
        s->limits.max_pending = CRIMP_STREAM_DEFAULT_MAX_PENDING;
    if (s->limits.max_sessions <= 0)
        s->limits.max_sessions = CRIMP_STREAM_DEFAULT_MAX_SESSIONS;
    if (s->limits.max_message < 4096)
        s->limits.max_message = CRIMP_STREAM_DEFAULT_MAX_MESSAGE;
    if (observer)
        s->reporter.observer = *observer;
    int port = 0;
    if (listen_on(address, &s->listen_fd, &port, err) < 0) {
        free(s);
        return NULL;
    }
    cleanup_free char *host = strndup(address, strcspn(address, ":"));
    s->base_url = xasprintf("http://%s:%d", host, port);
    s->tokens = stream_tokens_new();
    admission_init(&s->admission, s->limits.max_pending, s->limits.max_sessions);
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        close(s->listen_fd);
        free(s->base_url);
        stream_tokens_free(s->tokens);
        admission_free(&s->admission);
        free(s);
        crimp_make_errno_error(err, errno, "pipe");
        return NULL;
    }
    pthread_create(&s->acceptor, NULL, acceptor_main, s);
    pthread_setname_np(s->acceptor, "crimp-stream");
    log_info("streaming server on %s (exec, attach, port-forward for backends without their own)",
             s->base_url);
    return s;
}

void crimp_stream_stop(struct crimp_stream_server *s)
{
    if (s == NULL)
        return;
    if (write(s->wake[1], "x", 1) < 0)
        log_debug("stream: wake: %s", strerror(errno));
    pthread_join(s->acceptor, NULL);
    close(s->listen_fd);
    /* Sessions may outlive this; their reports must not reach a recorder
     * crimpd is about to free.  */
    stream_reporter_stop(&s->reporter);
    close(s->wake[0]);
    close(s->wake[1]);
    /* No session starts any more, and the running ones are cut: each sees
     * its client gone, kills its exec and lets go of its backend, which
     * crimp_router_free waits for.  */
    stream_tokens_close(s->tokens);
    int cut = admission_cut_all(&s->admission);
    if (cut > 0)
        log_info("stream: shutting down: ending %d streaming session%s", cut, cut == 1 ? "" : "s");
    for (int i = 0; i < STOP_WAIT_MS / 20 && atomic_load(&s->connections) > 0; i++)
        usleep(20000);
    /* A thread still running (stuck in a backend call) holds the server's
     * tokens and admission: those stay.  */
    if (atomic_load(&s->connections) == 0) {
        stream_tokens_free(s->tokens);
        admission_free(&s->admission);
    }
    free(s->base_url);
    if (atomic_load(&s->connections) == 0)
        free(s);
}

const char *crimp_stream_kind_name(enum crimp_stream_kind kind)
{
    static const char *const names[CRIMP_STREAM_N_KINDS] = {"exec", "attach", "portforward"};
    return (unsigned)kind < CRIMP_STREAM_N_KINDS ? names[kind] : "?";
}

char *crimp_stream_register(struct crimp_stream_server *s, enum crimp_stream_kind kind,
                            struct crimp_backend *b, int backend_tag,
                            const ProtobufCMessage *req, crimp_error_t *err)
{
    struct stream_request *r = xcalloc(1, sizeof(*r));
    r->kind = kind;
    r->backend = b;
    r->backend_tag = backend_tag;
    size_t n = protobuf_c_message_get_packed_size(req);
    cleanup_free uint8_t *bytes = xmalloc(n ? n : 1);
    protobuf_c_message_pack(req, bytes);
    r->req = protobuf_c_message_unpack(req->descriptor, NULL, n, bytes);
    cleanup_free char *token = stream_tokens_add(s->tokens, r, err);
    if (token == NULL)
        return NULL;
    return xasprintf("%s/%s/%s", s->base_url, crimp_stream_kind_name(kind), token);
}

/* Tunnelled SPDY goes out as one binary message per flush.  */
static int tunnel_flush(struct stream_conn *c, struct spdy_buf *out)
{
    crimp_error_t err = NULL;
    if (out->len && ws_put_frame(&c->tunnel->out, WS_OP_BINARY, true, out->p, out->len, &err) < 0)
        crimp_error_release(&err);
    out->len = 0;
    return ws_link_flush(c->tunnel);
}

static void tunnel_feed(void *ctx, const struct ws_chan_msg *m)
{
    struct stream_conn *c = ctx;
    if (spdy_feed(&c->codec, m->data, m->len) < 0)
        c->tunnel->closed = true; /* cannot happen: messages are <= max_frame */
}

int stream_flush(struct stream_conn *c, struct spdy_buf *out)
{
    if (c->tunnel)
        return tunnel_flush(c, out);
    int r = out->len ? stream_send_all(c->fd, out->p, out->len, c->send_timeout_ms) : 0;
    out->len = 0;
    if (r == STREAM_SEND_STALLED) {
        log_info("stream: the client did not read for %d s: ending its session", c->idle_seconds);
        c->stalled = true;
        c->code = GRPC_STATUS_DEADLINE_EXCEEDED;
    }
    return r;
}

int stream_read_client(struct stream_conn *c, int timeout_ms)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0)
        return 0;
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    if (c->tunnel) {
        ws_link_read(c->tunnel, tunnel_feed, c);
        return c->tunnel->gone || c->tunnel->closed ? -1 : 1;
    }
    char buf[SPDY_MAX_FEED];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n <= 0 || spdy_feed(&c->codec, buf, (size_t)n) < 0)
        return -1;
    return 1;
}
