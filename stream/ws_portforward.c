/* Port-forward over WebSocket, as kubelet's portforward/websocket.go serves
 * it (docs/streaming.md, "Port-forward"): the ports are fixed when the
 * connection opens, port i gets channel 2i for data (both ways) and 2i+1
 * for errors (server to client), and the first message on each carries the
 * port as a little-endian uint16.  One connection to the pod per port;
 * when every one has ended the server closes with 1000.  */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "stream-internal.h"
#include "utils.h"

struct ws_pf_port {
    int port;
    int fd; /* to the pod; -1 once this port's forwarding ended */
};

struct ws_pf_session {
    struct stream_conn *c;
    struct ws_link link;
    struct pod_dialer dialer;
    struct ws_pf_port ports[WS_PF_MAX_PORTS];
    size_t n;
};

/* Appends the ports of one comma-separated list; false with *WHY on a bad
 * one (upstream: ParseUint(p, 10, 16) and > 0).  */
static bool add_port_list(const char *list, size_t len, int *ports, int *n, size_t max, char **why)
{
    if (len == 0) {
        *why = xstrdup("query parameter \"port\" cannot be empty");
        return false;
    }
    const char *end = list + len;
    for (const char *p = list; p <= end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        char num[8] = "";
        size_t k = (size_t)(stop - p);
        bool digits = k > 0 && k < sizeof(num) && strspn(p, "0123456789") >= k;
        if (digits)
            memcpy(num, p, k);
        long v = digits ? strtol(num, NULL, 10) : 0;
        if (v < 1 || v > 65535) {
            *why = xasprintf("unable to parse \"%.*s\" as a port", (int)len, list);
            return false;
        }
        if ((size_t)*n == max) {
            *why = xasprintf("at most %zu ports per connection", max);
            return false;
        }
        ports[(*n)++] = (int)v;
        p = stop + 1;
    }
    return true;
}

int ws_portforward_ports(const char *query, const struct stream_request *r, int *ports,
                         size_t max, char **why)
{
    int n = 0;
    for (const char *q = query ? query : ""; *q;) {
        size_t len = strcspn(q, "&");
        if (len > 5 && memcmp(q, "port=", 5) == 0) {
            /* %2C is a comma some clients escape; ports need no other.  */
            cleanup_free char *value = strndup(q + 5, len - 5);
            char *w = value;
            for (const char *s = value; *s; s++) {
                if (s[0] == '%' && s[1] == '2' && (s[2] == 'C' || s[2] == 'c')) {
                    *w++ = ',';
                    s += 2;
                } else {
                    *w++ = *s;
                }
            }
            *w = '\0';
            if (!add_port_list(value, (size_t)(w - value), ports, &n, max, why))
                return -1;
        } else if (len == 4 && memcmp(q, "port", 4) == 0) {
            *why = xstrdup("query parameter \"port\" cannot be empty");
            return -1;
        }
        q += len + (q[len] == '&');
    }
    /* Through kubelet the query stays behind: it put the ports into the
     * PortForwardRequest instead.  */
    const Runtime__V1__PortForwardRequest *req = (const void *)r->req;
    if (n == 0)
        for (size_t i = 0; i < req->n_port && (size_t)n < max; i++)
            if (req->port[i] > 0 && req->port[i] <= 65535)
                ports[n++] = req->port[i];
    if (n == 0) {
        *why = xstrdup("query parameter \"port\" is required");
        return -1;
    }
    return n;
}

static uint8_t data_channel(size_t i)
{
    return (uint8_t)(2 * i);
}

static uint8_t error_channel(size_t i)
{
    return (uint8_t)(2 * i + 1);
}

static void end_port(struct ws_pf_port *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

static void to_pod(void *ctx, const struct ws_chan_msg *m)
{
    struct ws_pf_session *s = ctx;
    size_t i = m->channel / 2;
    if (m->close || m->channel % 2 || i >= s->n || s->ports[i].fd < 0)
        return; /* error channels are the server's; ended ports drop data */
    if (m->len && stream_send_all(s->ports[i].fd, m->data, m->len, s->c->send_timeout_ms) < 0) {
        end_port(&s->ports[i]); /* the pod closed, or did not read within the idle timeout */
        return;
    }
    s->c->bytes_in += m->len;
}

static void from_pod(struct ws_pf_session *s, size_t i)
{
    uint8_t buf[32 * 1024];
    ssize_t n = recv(s->ports[i].fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n <= 0) { /* the pod closed: this port is done, as upstream */
        end_port(&s->ports[i]);
        return;
    }
    stream_conn_out(s->c, (size_t)n);
    ws_link_put(&s->link, data_channel(i), buf, (size_t)n);
}

/* Copies between the client and the pod until every port has ended, the
 * client closed, or nothing moved for the idle timeout.  */
static void pump(struct ws_pf_session *s)
{
    int64_t idle_ns = (int64_t)s->c->idle_seconds * 1000000000LL, last = crimp_now_mono_ns();
    while (!s->link.gone && !s->link.closed) {
        if (ws_link_flush(&s->link) < 0)
            return;
        struct pollfd p[WS_PF_MAX_PORTS + 1];
        size_t owner[WS_PF_MAX_PORTS + 1];
        nfds_t n = 0;
        p[n++] = (struct pollfd){s->c->fd, POLLIN, 0};
        for (size_t i = 0; i < s->n; i++)
            if (s->ports[i].fd >= 0) {
                owner[n] = i;
                p[n++] = (struct pollfd){s->ports[i].fd, POLLIN, 0};
            }
        if (n == 1)
            return; /* every port ended */
        if (poll(p, n, 1000) < 0 && errno != EINTR)
            return;
        if (p[0].revents) {
            ws_link_read(&s->link, to_pod, s);
            last = crimp_now_mono_ns();
        }
        for (nfds_t k = 1; k < n; k++)
            if (p[k].revents && s->ports[owner[k]].fd >= 0) {
                from_pod(s, owner[k]);
                last = crimp_now_mono_ns();
            }
        if (idle_ns > 0 && crimp_now_mono_ns() - last > idle_ns)
            return;
    }
}

void stream_run_ws_portforward(struct stream_conn *c, struct stream_request *r,
                               enum ws_chan_proto proto, const int *ports, size_t n_ports)
{
    struct ws_pf_session s = {.c = c, .dialer = {.c = c, .r = r}};
    ws_link_init(&s.link, c, proto);
    s.n = n_ports < WS_PF_MAX_PORTS ? n_ports : WS_PF_MAX_PORTS;
    for (size_t i = 0; i < s.n; i++) {
        uint8_t le[2] = {(uint8_t)(ports[i] & 0xff), (uint8_t)(ports[i] >> 8)};
        s.ports[i] = (struct ws_pf_port){.port = ports[i], .fd = -1};
        ws_link_put(&s.link, data_channel(i), le, 2);
        ws_link_put(&s.link, error_channel(i), le, 2);
    }
    for (size_t i = 0; i < s.n; i++) {
        cleanup_free char *failure = NULL;
        s.ports[i].fd = pod_dial(&s.dialer, ports[i], &failure);
        if (failure) {
            log_info("stream: %s", failure);
            ws_link_put(&s.link, error_channel(i), failure, strlen(failure));
        }
    }
    pump(&s);
    for (size_t i = 0; i < s.n; i++)
        end_port(&s.ports[i]);
    ws_link_close(&s.link);
    pod_dialer_free(&s.dialer);
    ws_link_free(&s.link);
}
