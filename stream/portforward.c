/* Port-forward over SPDY (portforward.k8s.io): for each forwarded
 * connection the client opens an error stream and a data stream sharing a
 * requestid; crimp then connects to localhost:<port> inside the pod's
 * network namespace (pod_dial.c) and copies bytes both ways
 * (docs/streaming.md, "Port-forward").  */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"

#define PF_MAX_PAIRS 64

struct pf_pair {
    char id[32];
    uint32_t sid_error, sid_data;
    int port;
    int fd;    /* to the pod, -1 until connected */
    bool done; /* both streams finished */
};

struct pf_session {
    struct stream_conn *c;
    struct stream_request *r;
    struct spdy_buf out;
    struct pf_pair pairs[PF_MAX_PAIRS];
    size_t n;
    struct pod_dialer dialer;
    bool gone;
};

static struct pf_pair *pair_for(struct pf_session *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->pairs[i].id, id) == 0)
            return &s->pairs[i];
    struct pf_pair *p = NULL;
    if (s->n < PF_MAX_PAIRS) {
        p = &s->pairs[s->n++];
    } else {
        /* A long session forwards many connections: reuse a finished slot.  */
        for (size_t i = 0; i < s->n && p == NULL; i++)
            if (s->pairs[i].done)
                p = &s->pairs[i];
        if (p == NULL)
            return NULL;
    }
    memset(p, 0, sizeof(*p));
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->fd = -1;
    return p;
}

static struct pf_pair *pair_of_stream(struct pf_session *s, uint32_t sid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->pairs[i].sid_data == sid || s->pairs[i].sid_error == sid)
            return &s->pairs[i];
    return NULL;
}

static void end_pair(struct pf_session *s, struct pf_pair *p, const char *error_text)
{
    if (p->done)
        return;
    if (error_text && p->sid_error)
        spdy_put_data(&s->out, p->sid_error, 0, error_text, strlen(error_text));
    if (p->sid_data)
        spdy_put_data(&s->out, p->sid_data, SPDY_FLAG_FIN, NULL, 0);
    if (p->sid_error)
        spdy_put_data(&s->out, p->sid_error, SPDY_FLAG_FIN, NULL, 0);
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->done = true;
}

static void connect_pair(struct pf_session *s, struct pf_pair *p)
{
    cleanup_free char *failure = NULL;
    p->fd = pod_dial(&s->dialer, p->port, &failure);
    if (p->fd < 0)
        end_pair(s, p, failure);
}

static void on_syn_stream(struct pf_session *s, const struct spdy_frame *f)
{
    const char *type = spdy_header(f, "streamtype");
    const char *port = spdy_header(f, "port");
    const char *rid = spdy_header(f, "requestid");
    char pseudo[16];
    int n = port ? atoi(port) : 0;
    bool is_data = type && strcmp(type, "data") == 0;
    if (n < 1 || n > 65535 || type == NULL || (!is_data && strcmp(type, "error") != 0)) {
        spdy_put_rst(&s->out, f->stream_id, SPDY_RST_CANCEL);
        return;
    }
    if (rid == NULL) { /* very old clients: pair by stream id */
        snprintf(pseudo, sizeof(pseudo), "%u", is_data ? f->stream_id - 2 : f->stream_id);
        rid = pseudo;
    }
    struct pf_pair *p = pair_for(s, rid);
    if (p == NULL) {
        spdy_put_rst(&s->out, f->stream_id, SPDY_RST_CANCEL);
        return;
    }
    spdy_put_syn_reply(&s->c->codec, &s->out, f->stream_id);
    *(is_data ? &p->sid_data : &p->sid_error) = f->stream_id;
    p->port = n;
    if (p->sid_data && p->sid_error && p->fd < 0 && !p->done)
        connect_pair(s, p);
}

static void on_data(struct pf_session *s, const struct spdy_frame *f)
{
    struct pf_pair *p = pair_of_stream(s, f->stream_id);
    if (p == NULL || p->done || f->stream_id != p->sid_data || p->fd < 0)
        return; /* the error stream's FIN, or a pair already over */
    if (f->len && stream_send_all(p->fd, f->data, f->len, s->c->send_timeout_ms) < 0) {
        end_pair(s, p, NULL); /* the pod closed, or did not read within the idle timeout */
        return;
    }
    s->c->bytes_in += f->len;
    if (f->flags & SPDY_FLAG_FIN)
        shutdown(p->fd, SHUT_WR);
}

static void on_frame(struct pf_session *s, const struct spdy_frame *f)
{
    struct pf_pair *p;
    switch (f->type) {
    case SPDY_SYN_STREAM:
        on_syn_stream(s, f);
        break;
    case SPDY_DATA:
        on_data(s, f);
        break;
    case SPDY_RST_STREAM:
        p = pair_of_stream(s, f->stream_id);
        if (p && f->stream_id == p->sid_data)
            end_pair(s, p, NULL);
        break;
    case SPDY_PING:
        spdy_put_ping(&s->out, f->value);
        break;
    case SPDY_GOAWAY:
        s->gone = true;
        break;
    default:
        break;
    }
}

static void from_client(struct pf_session *s)
{
    if (stream_read_client(s->c, 0) < 0) {
        s->gone = true;
        return;
    }
    struct spdy_frame f;
    cleanup_error crimp_error_t err = NULL;
    int r;
    while ((r = spdy_next(&s->c->codec, &f, &err)) > 0)
        on_frame(s, &f);
    if (r < 0) {
        log_info("stream: port-forward client sent bad SPDY: %s", err->msg);
        s->c->code = GRPC_STATUS_INVALID_ARGUMENT;
        s->gone = true;
        /* In a WebSocket tunnel the close frame can say why.  */
        if (s->c->tunnel)
            ws_link_fail(s->c->tunnel,
                         strstr(err->msg, "too large") ? WS_CLOSE_TOO_BIG : WS_CLOSE_PROTOCOL_ERROR,
                         err->msg);
    }
}

static void from_pod(struct pf_session *s, struct pf_pair *p)
{
    uint8_t buf[SPDY_MAX_DATA];
    ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) {
        end_pair(s, p, NULL);
        return;
    }
    stream_conn_out(s->c, (size_t)n);
    spdy_put_data(&s->out, p->sid_data, 0, buf, (size_t)n);
}

void stream_run_portforward(struct stream_conn *c, struct stream_request *r)
{
    struct pf_session s = {.c = c, .r = r, .dialer = {.c = c, .r = r}};
    int64_t idle_ns = (int64_t)c->idle_seconds * 1000000000LL, last = crimp_now_mono_ns();
    while (!s.gone) {
        if (stream_flush(c, &s.out) < 0)
            break;
        struct pollfd p[PF_MAX_PAIRS + 1];
        struct pf_pair *owner[PF_MAX_PAIRS + 1];
        nfds_t n = 0;
        p[n++] = (struct pollfd){c->fd, POLLIN, 0};
        for (size_t i = 0; i < s.n; i++)
            if (s.pairs[i].fd >= 0) {
                owner[n] = &s.pairs[i];
                p[n++] = (struct pollfd){s.pairs[i].fd, POLLIN, 0};
            }
        if (poll(p, n, 1000) < 0 && errno != EINTR)
            break;
        if (p[0].revents) {
            from_client(&s);
            last = crimp_now_mono_ns();
        }
        for (nfds_t i = 1; i < n; i++)
            if (p[i].revents && owner[i]->fd >= 0) {
                from_pod(&s, owner[i]);
                last = crimp_now_mono_ns();
            }
        if (idle_ns > 0 && crimp_now_mono_ns() - last > idle_ns)
            break;
    }
    for (size_t i = 0; i < s.n; i++)
        if (s.pairs[i].fd >= 0)
            close(s.pairs[i].fd);
    pod_dialer_free(&s.dialer);
    spdy_buf_free(&s.out);
}
