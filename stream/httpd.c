/* The streaming server's HTTP side: a listener on loopback, a thread per
 * connection (sessions are few and long), the request head parsed, the
 * token taken, the SPDY/3.1 upgrade negotiated, then a session.
 *
 * libevent's evhttp cannot hand over an upgraded connection, so this is a
 * small HTTP/1.1 head parser of its own; nothing after the head is HTTP.  */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#define HEAD_MAX (16 * 1024)
#define HEAD_TIMEOUT_MS 10000
#define MAX_CONNECTIONS 256

struct crimp_stream_server {
    int listen_fd;
    int wake[2];
    pthread_t acceptor;
    char *base_url;
    int idle_seconds;
    struct stream_tokens *tokens;
    struct stream_reporter reporter;
    atomic_int connections;
};

struct conn_job {
    struct crimp_stream_server *s;
    int fd;
};

struct http_head {
    char method[8];
    char path[1024];
    const char *query; /* after the '?' of the request target, "" if none */
    bool upgrade_spdy, upgrade_ws, connection_upgrade;
    char protocols[8][48]; /* X-Stream-Protocol-Version values, in order */
    int n_protocols;
    char ws_key[64];
    char *ws_offers[8]; /* Sec-WebSocket-Protocol lines, pointing into the head */
    int n_ws_offers;
    char *rest; /* bytes after the head (SPDY already) */
    size_t n_rest;
};

static void send_plain(int fd, int code, const char *reason, const char *extra, const char *body)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                     code, reason, strlen(body), extra ? extra : "", body);
    if (n > 0 && send(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1,
                      MSG_NOSIGNAL) < 0)
        log_debug("stream: reply %d: %s", code, strerror(errno));
}

/* Comma-separated header values, each trimmed, appended in order.  */
static void add_protocols(struct http_head *h, char *value)
{
    char *save = NULL;
    for (char *t = strtok_r(value, ",", &save); t && h->n_protocols < 8;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t n = strlen(t);
        while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = '\0';
        if (n)
            snprintf(h->protocols[h->n_protocols++], sizeof(h->protocols[0]), "%s", t);
    }
}

static void parse_header_line(struct http_head *h, char *line)
{
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return;
    *colon = '\0';
    char *value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (strcasecmp(line, "Upgrade") == 0) {
        h->upgrade_spdy |= strcasestr(value, "spdy/3.1") != NULL;
        h->upgrade_ws |= strcasestr(value, "websocket") != NULL;
    } else if (strcasecmp(line, "Sec-WebSocket-Key") == 0) {
        snprintf(h->ws_key, sizeof(h->ws_key), "%s", value);
    } else if (strcasecmp(line, "Sec-WebSocket-Protocol") == 0 && h->n_ws_offers < 8) {
        h->ws_offers[h->n_ws_offers++] = value;
    }
    if (strcasecmp(line, "Connection") == 0)
        h->connection_upgrade |= strcasestr(value, "upgrade") != NULL;
    else if (strcasecmp(line, "X-Stream-Protocol-Version") == 0)
        add_protocols(h, value);
}

/* Reads and parses the request head; false on a bad or slow request.  */
static bool read_head(int fd, struct http_head *h, char *buf)
{
    size_t len = 0;
    char *end = NULL;
    while (end == NULL) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (len == HEAD_MAX || poll(&p, 1, HEAD_TIMEOUT_MS) <= 0)
            return false;
        ssize_t n = recv(fd, buf + len, HEAD_MAX - len, 0);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    *end = '\0';
    h->rest = end + 4;
    h->n_rest = len - (size_t)(h->rest - buf);
    char *save = NULL;
    char *line = strtok_r(buf, "\r\n", &save);
    if (line == NULL || sscanf(line, "%7s %1023s", h->method, h->path) != 2)
        return false;
    char *q = strchr(h->path, '?');
    h->query = q ? q + 1 : "";
    if (q)
        *q = '\0';
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL)
        parse_header_line(h, line);
    return true;
}

static bool supported(enum crimp_stream_kind kind, const char *p)
{
    if (kind == CRIMP_STREAM_PORTFORWARD)
        return strcmp(p, "portforward.k8s.io") == 0;
    /* v5 is accepted too: over SPDY it is v4 (client-go's v5 SPDY handler
     * is v4's).  */
    return strcmp(p, "v5.channel.k8s.io") == 0 || strcmp(p, "v4.channel.k8s.io") == 0 ||
           strcmp(p, "v3.channel.k8s.io") == 0 || strcmp(p, "v2.channel.k8s.io") == 0 ||
           strcmp(p, "channel.k8s.io") == 0;
}

/* The client's first protocol we speak ("client order wins").  */
static const char *negotiate(const struct http_head *h, enum crimp_stream_kind kind)
{
    for (int i = 0; i < h->n_protocols; i++)
        if (supported(kind, h->protocols[i]))
            return h->protocols[i];
    return NULL;
}

static bool kind_of_path(const char *path, enum crimp_stream_kind *kind, const char **token)
{
    static const struct {
        const char *prefix;
        enum crimp_stream_kind kind;
    } paths[] = {{"/exec/", CRIMP_STREAM_EXEC},
                 {"/attach/", CRIMP_STREAM_ATTACH},
                 {"/portforward/", CRIMP_STREAM_PORTFORWARD}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(paths); i++)
        if (has_prefix(path, paths[i].prefix)) {
            *kind = paths[i].kind;
            *token = path + strlen(paths[i].prefix);
            return **token != '\0';
        }
    return false;
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
static void serve_spdy_tunnel(struct stream_conn *c, struct stream_request *r)
{
    struct ws_link link;
    ws_link_init(&link, c->fd, WS_CHAN_V4);
    link.tunnel = true;
    c->tunnel = &link;
    spdy_codec_init(&c->codec);
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
        name = ws_chan_proto_names[proto];
    }
    if (chosen == WS_SUBPROTO_NO_MATCH) {
        refuse(c, 403, "Forbidden", NULL, "subprotocol negotiation failed\n");
        return;
    }
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
    if (send(c->fd, reply, (size_t)n, MSG_NOSIGNAL) != n)
        return;
    c->transport = "websocket";
    if (tunnel)
        serve_spdy_tunnel(c, r);
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
    if ((protocol = negotiate(h, r->kind)) == NULL) {
        refuse_protocol(c, r->kind);
        return;
    }
    char reply[256];
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: %s\r\n\r\n",
                     protocol);
    if (send(c->fd, reply, (size_t)n, MSG_NOSIGNAL) != n)
        return;
    c->transport = "spdy";
    spdy_codec_init(&c->codec);
    if (h->n_rest)
        spdy_feed(&c->codec, h->rest, h->n_rest);
    if (r->kind == CRIMP_STREAM_PORTFORWARD)
        stream_run_portforward(c, r);
    else
        stream_run_remotecommand(c, r, protocol);
    spdy_codec_free(&c->codec);
}

static void serve(struct crimp_stream_server *s, int fd)
{
    cleanup_free char *buf = xmalloc(HEAD_MAX + 1);
    struct http_head h = {0};
    enum crimp_stream_kind kind;
    const char *token = NULL;
    if (!read_head(fd, &h, buf))
        return;
    if (!kind_of_path(h.path, &kind, &token)) {
        send_plain(fd, 404, "Not Found", NULL, "404 page not found\n");
        return;
    }
    struct stream_request *r = stream_tokens_take(s->tokens, token, kind);
    if (r == NULL) { /* unknown, used, expired: all look the same */
        send_plain(fd, 404, "Not Found", NULL, "404 page not found\n");
        return;
    }
    /* From here on the request is a session, and the recorder sees it.  */
    struct stream_conn c = {.fd = fd, .idle_seconds = s->idle_seconds};
    stream_report_begin(&s->reporter, &c);
    if (h.upgrade_ws && h.connection_upgrade)
        serve_websocket(&c, &h, r);
    else
        serve_spdy(&c, &h, r);
    stream_report_end(&s->reporter, &c, r);
    stream_request_free(r);
}

static void *conn_main(void *arg)
{
    struct conn_job *job = arg;
    serve(job->s, job->fd);
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
        if (atomic_fetch_add(&s->connections, 1) >= MAX_CONNECTIONS) {
            atomic_fetch_sub(&s->connections, 1);
            send_plain(fd, 503, "Service Unavailable", NULL, "too many streaming sessions\n");
            close(fd);
            continue;
        }
        struct conn_job *job = xcalloc(1, sizeof(*job));
        job->s = s;
        job->fd = fd;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_main, job) != 0) {
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

struct crimp_stream_server *crimp_stream_start(const char *address, int idle_seconds,
                                               const struct crimp_stream_observer *observer,
                                               crimp_error_t *err)
{
    struct crimp_stream_server *s = xcalloc(1, sizeof(*s));
    if (observer)
        s->reporter.observer = *observer;
    int port = 0;
    if (listen_on(address, &s->listen_fd, &port, err) < 0) {
        free(s);
        return NULL;
    }
    cleanup_free char *host = strndup(address, strcspn(address, ":"));
    s->base_url = xasprintf("http://%s:%d", host, port);
    s->idle_seconds = idle_seconds;
    s->tokens = stream_tokens_new();
    if (pipe2(s->wake, O_CLOEXEC) < 0) {
        close(s->listen_fd);
        free(s->base_url);
        stream_tokens_free(s->tokens);
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
    /* Sessions still running end with their clients; they hold no pointer
     * to the server but its tokens, which outlive them here.  */
    for (int i = 0; i < 50 && atomic_load(&s->connections) > 0; i++)
        usleep(20000);
    if (atomic_load(&s->connections) == 0)
        stream_tokens_free(s->tokens);
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
    spdy_feed(&c->codec, m->data, m->len);
}

int stream_flush(struct stream_conn *c, struct spdy_buf *out)
{
    if (c->tunnel)
        return tunnel_flush(c, out);
    size_t off = 0;
    while (off < out->len) {
        ssize_t n = send(c->fd, out->p + off, out->len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    out->len = 0;
    return 0;
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
    char buf[65536];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n <= 0)
        return -1;
    spdy_feed(&c->codec, buf, (size_t)n);
    return 1;
}
