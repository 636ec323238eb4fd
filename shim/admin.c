/* The admin HTTP server.  */
#include "admin.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "bulkhead.h"
#include "health.h"
#include "log.h"
#include "common/pull_progress.h"
#include "metrics.h"
#include "socket.h"
#include "utils.h"

#define FOLLOW_INTERVAL_MS 100
#define RECENT_MAX         10000

struct follower {
    struct crimp_admin *admin;
    struct evhttp_request *req;
    struct event *timer;
    uint64_t last_id;
    struct follower *next;
};

struct crimp_admin {
    const struct crimp_config *cfg;
    struct crimp_router *router;
    struct crimp_recorder *recorder;
    struct event_base *base;
    struct evhttp *unix_http, *tcp_http;
    struct event *stop_ev; /* activated from another thread to end the loop */
    pthread_t thread;
    bool running;
    dev_t sock_dev;
    ino_t sock_ino;
    struct follower *followers;
};

static void send_text(struct evhttp_request *req, int code, const char *type, const char *body,
                      size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    evbuffer_add(buf, body, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", buf);
    evbuffer_free(buf);
}

static void send_json(struct evhttp_request *req, int code, json_t *doc)
{
    cleanup_free char *text =
        json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    send_text(req, code, "application/json", text, strlen(text));
}

static bool is_get(struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET)
        return true;
    send_json(req, 405, json_pack("{s:s}", "error", "only GET is served here"));
    return false;
}

/* The calls each backend runs and queues on each lane, beside what its
 * health probe found: answered from crimp's own counters.  */
static void bulkhead_prometheus(struct crimp_router *r, FILE *out)
{
    static const char *const series[][2] = {
        {"crimp_backend_calls_running", "Calls running on the backend, per lane."},
        {"crimp_backend_calls_waiting", "Calls waiting for a turn on the backend, per lane."},
        {"crimp_backend_calls_refused_total",
         "Calls refused because the backend's slots and queue were full, per lane."},
    };
    for (size_t k = 0; k < CRIMP_ARRAY_SIZE(series); k++) {
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", series[k][0], series[k][1], series[k][0],
                k == 2 ? "counter" : "gauge");
        for (size_t i = 0; i < crimp_router_count(r); i++) {
            struct crimp_backend *b = crimp_router_get(r, i);
            for (int slow = 0; b != NULL && slow < 2; slow++) {
                struct crimp_bulkhead_counts n;
                crimp_bulkhead_counts(crimp_router_bulkhead(r, i, slow), &n);
                unsigned long long v = k == 0 ? (unsigned long long)n.running
                                       : k == 1 ? (unsigned long long)n.queued
                                                : (unsigned long long)n.refused;
                fprintf(out, "%s{backend=\"%s\",lane=\"%s\"} %llu\n", series[k][0],
                        b->config->name, slow ? "slow" : "fast", v);
            }
        }
    }
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
    struct crimp_admin *a = arg;
    if (!is_get(req))
        return;
    cleanup_free char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    crimp_metrics_prometheus(a->recorder, f);
    crimp_metrics_backends(a->router, f);
    crimp_metrics_process(f);
    crimp_health_prometheus(crimp_router_health(a->router), f);
    bulkhead_prometheus(a->router, f);
    fclose(f);
    send_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}


static uint64_t query_u64(struct evhttp_request *req, const char *name, uint64_t deflt);

static void on_latency(struct evhttp_request *req, void *arg)
{
    struct crimp_admin *a = arg;
    if (is_get(req))
        send_json(req, 200,
                  crimp_metrics_latency_json(a->recorder, query_u64(req, "cdf", 0) != 0));
}

/* The unsigned query parameter NAME of REQ, DEFLT when absent or bad.  */
static uint64_t query_u64(struct evhttp_request *req, const char *name, uint64_t deflt)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    uint64_t v = deflt;
    if (query == NULL || evhttp_parse_query_str(query, &q) != 0)
        return v;
    const char *s = evhttp_find_header(&q, name);
    char *end = NULL;
    if (s) {
        unsigned long long n = strtoull(s, &end, 10);
        if (end && *end == '\0')
            v = n;
    }
    evhttp_clear_headers(&q);
    return v;
}

static json_t *recent_json(struct crimp_admin *a, uint64_t after, size_t limit, uint64_t *last)
{
    if (limit > RECENT_MAX)
        limit = RECENT_MAX;
    cleanup_free struct crimp_call_record *recs = xcalloc(limit ? limit : 1, sizeof(*recs));
    size_t n = crimp_recorder_recent(a->recorder, after, recs, limit);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, crimp_metrics_call_json(a->recorder, &recs[i]));
    if (last)
        *last = n ? recs[n - 1].id : after;
    return arr;
}

static void on_calls(struct evhttp_request *req, void *arg)
{
    struct crimp_admin *a = arg;
    if (is_get(req))
        send_json(req, 200,
                  recent_json(a, query_u64(req, "after", 0), query_u64(req, "limit", 100), NULL));
}

static void drop_follower(struct follower *f)
{
    struct follower **p = &f->admin->followers;
    while (*p && *p != f)
        p = &(*p)->next;
    if (*p)
        *p = f->next;
    event_free(f->timer);
    free(f);
}

static void on_follow_tick(evutil_socket_t fd, short what, void *arg)
{
    struct follower *f = arg;
    json_t *arr = recent_json(f->admin, f->last_id, 1000, &f->last_id);
    size_t i;
    json_t *v;
    struct evbuffer *buf = evbuffer_new();
    json_array_foreach(arr, i, v)
    {
        cleanup_free char *line =
            json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        evbuffer_add_printf(buf, "%s\n", line);
    }
    json_decref(arr);
    if (evbuffer_get_length(buf) > 0)
        evhttp_send_reply_chunk(f->req, buf);
    evbuffer_free(buf);
}

static void on_follower_gone(struct evhttp_connection *conn, void *arg)
{
    drop_follower(arg);
}

static void on_follow(struct evhttp_request *req, void *arg)
{
    struct crimp_admin *a = arg;
    if (!is_get(req))
        return;
    struct follower *f = xcalloc(1, sizeof(*f));
    struct timeval tv = {0, FOLLOW_INTERVAL_MS * 1000};
    f->admin = a;
    f->req = req;
    /* Start from now: a follower wants what happens next.  */
    cleanup_free struct crimp_call_record *last = xcalloc(1, sizeof(*last));
    f->last_id = crimp_recorder_recent(a->recorder, 0, last, 1) ? last->id : 0;
    f->timer = event_new(a->base, -1, EV_PERSIST, on_follow_tick, f);
    f->next = a->followers;
    a->followers = f;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/x-ndjson");
    evhttp_send_reply_start(req, 200, "OK");
    evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_follower_gone, f);
    event_add(f->timer, &tv);
}

/* One backend as `crimpctl backend list` shows it, from what crimp holds:
 * the last health probe, never a call on this thread.  */
static json_t *backend_json(struct crimp_admin *a, size_t i)
{
    struct crimp_backend *b = crimp_router_get(a->router, i);
    struct crimp_backend_health h;
    crimp_health_get(crimp_router_health(a->router), i, &h);
    bool up = h.probed && h.up;
    cleanup_free char *v = crimp_router_backend_version(a->router, b);
    size_t pods = 0, containers = 0;
    crimp_router_owned(a->router, i, &pods, &containers);
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:I, s:I}", "name", b->config->name,
                          "type", b->config->type, "endpoint", b->config->endpoint, "up", up,
                          "default", b == crimp_router_default(a->router), "draining",
                          crimp_router_is_draining(a->router, i), "pods", (json_int_t)pods,
                          "containers", (json_int_t)containers);
    json_object_set_new(o, "runtime", v ? json_string(v) : json_null());
    if (!up)
        json_object_set_new(o, "error", json_string(h.error ? h.error : "not probed yet"));
    crimp_backend_health_release(&h);
    return o;
}

static void on_backends(struct evhttp_request *req, void *arg)
{
    struct crimp_admin *a = arg;
    if (!is_get(req))
        return;
    json_t *arr = json_array();
    for (size_t i = 0; i < crimp_router_count(a->router); i++)
        if (crimp_router_get(a->router, i))
            json_array_append_new(arr, backend_json(a, i));
    send_json(req, 200, json_pack("{s:o}", "backends", arr));
}

/* GET /v1/pulls: image pulls running and just finished, per layer, for
 * crimpctl pull's progress (backends/common/pull_progress.h).  */
static void on_pulls(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (is_get(req))
        send_json(req, 200, crimp_pull_progress_json());
}

static int http_status_for(grpc_status_code code)
{
    return code == GRPC_STATUS_NOT_FOUND             ? 404
           : code == GRPC_STATUS_FAILED_PRECONDITION ? 409
           : code == GRPC_STATUS_INVALID_ARGUMENT    ? 400
                                                     : 500;
}

/* POST /v1/backends/NAME/{default,drain,undrain}: the cutover switches.  */
static void on_backend_action(struct evhttp_request *req, struct crimp_admin *a, const char *rest)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        send_json(req, 405, json_pack("{s:s}", "error", "use POST"));
        return;
    }
    const char *slash = strchr(rest, '/');
    if (slash == NULL) {
        send_json(req, 404, json_pack("{s:s}", "error", "want /v1/backends/NAME/ACTION"));
        return;
    }
    cleanup_free char *name = strndup(rest, (size_t)(slash - rest));
    const char *action = slash + 1;
    cleanup_error crimp_error_t err = NULL;
    int rc;
    if (strcmp(action, "default") == 0)
        rc = crimp_router_set_default(a->router, name, &err);
    else if (strcmp(action, "drain") == 0 || strcmp(action, "undrain") == 0)
        rc = crimp_router_set_draining(a->router, name, action[0] == 'd', &err);
    else
        rc = crimp_make_error(&err, GRPC_STATUS_NOT_FOUND, 0,
                              "unknown action `%s` (default, drain, undrain)", action);
    if (rc < 0) {
        send_json(req, http_status_for(err->code), json_pack("{s:s}", "error", err->msg));
        return;
    }
    int idx = -1;
    for (size_t i = 0; i < crimp_router_count(a->router); i++)
        if (crimp_router_get(a->router, i) &&
            strcmp(crimp_router_get(a->router, i)->config->name, name) == 0)
            idx = (int)i;
    send_json(req, 200, backend_json(a, (size_t)idx));
}

static void not_found(struct evhttp_request *req)
{
    send_json(req, 404, json_pack("{s:s, s:s}", "error", "no such endpoint", "uri",
                                  evhttp_request_get_uri(req)));
}

/* The TCP listener serves /metrics and nothing else: switching backends is
 * for whoever may open the admin socket (root).  */
static void on_unknown_tcp(struct evhttp_request *req, void *arg)
{
    not_found(req);
}

static void on_unknown(struct evhttp_request *req, void *arg)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (path && has_prefix(path, "/v1/backends/")) {
        on_backend_action(req, arg, path + strlen("/v1/backends/"));
        return;
    }
    not_found(req);
}

static int listen_unix(struct crimp_admin *a, crimp_error_t *err)
{
    const char *path = a->cfg->admin_listen;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (crimp_socket_prepare(path, err) < 0)
        return -1;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(0177);
    int ret = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (ret < 0 || listen(fd, 64) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return crimp_make_errno_error(err, e, "admin socket `%s`", path);
    }
    if (crimp_socket_finish(path, 0600, &a->sock_dev, &a->sock_ino, err) < 0 ||
        evhttp_accept_socket(a->unix_http, fd) != 0) {
        close(fd);
        return crimp_error_wrap(err, "admin socket");
    }
    return 0;
}

static int listen_tcp(struct crimp_admin *a, crimp_error_t *err)
{
    const char *addr = a->cfg->metrics_listen;
    const char *colon = strrchr(addr, ':');
    if (colon == NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "metrics_listen: `%s` is not HOST:PORT", addr);
    cleanup_free char *host = strndup(addr, (size_t)(colon - addr));
    a->tcp_http = evhttp_new(a->base);
    evhttp_set_cb(a->tcp_http, "/metrics", on_metrics, a);
    evhttp_set_gencb(a->tcp_http, on_unknown_tcp, a);
    if (evhttp_bind_socket(a->tcp_http, host, (ev_uint16_t)atoi(colon + 1)) != 0)
        return crimp_make_errno_error(err, errno ? errno : EADDRINUSE, "metrics_listen `%s`",
                                      addr);
    return 0;
}

/* Runs on the admin thread.  A stop request is an event rather than a bare
 * event_base_loopbreak(): a break issued before the loop has started would be
 * forgotten (the loop clears the flag on entry), while an active event waits
 * for the loop and ends it at once.  */
static void on_stop_requested(evutil_socket_t fd, short what, void *arg)
{
    struct crimp_admin *a = arg;
    event_base_loopbreak(a->base);
}

static void *admin_main(void *arg)
{
    struct crimp_admin *a = arg;
    event_base_dispatch(a->base);
    return NULL;
}

static void free_admin(struct crimp_admin *a)
{
    /* The servers first: freeing one closes its connections, whose close
     * callbacks drop their followers.  Dropped before, a follower would be
     * freed while its connection still pointed at it (use after free on
     * SIGTERM with `crimpctl trace` attached).  */
    if (a->unix_http)
        evhttp_free(a->unix_http);
    if (a->tcp_http)
        evhttp_free(a->tcp_http);
    while (a->followers)
        drop_follower(a->followers);
    if (a->stop_ev)
        event_free(a->stop_ev);
    if (a->base)
        event_base_free(a->base);
    free(a);
}

struct crimp_admin *crimp_admin_start(const struct crimp_config *cfg, struct crimp_router *router,
                                      struct crimp_recorder *recorder, crimp_error_t *err)
{
    struct crimp_admin *a = xcalloc(1, sizeof(*a));
    a->cfg = cfg;
    a->router = router;
    a->recorder = recorder;
    if (str_empty(cfg->admin_listen) && str_empty(cfg->metrics_listen))
        return a;
    evthread_use_pthreads();
    a->base = event_base_new();
    if (!str_empty(cfg->admin_listen)) {
        a->unix_http = evhttp_new(a->base);
        evhttp_set_cb(a->unix_http, "/metrics", on_metrics, a);
        evhttp_set_cb(a->unix_http, "/v1/latency", on_latency, a);
        evhttp_set_cb(a->unix_http, "/v1/calls", on_calls, a);
        evhttp_set_cb(a->unix_http, "/v1/calls/follow", on_follow, a);
        evhttp_set_cb(a->unix_http, "/v1/backends", on_backends, a);
        evhttp_set_cb(a->unix_http, "/v1/pulls", on_pulls, a);
        evhttp_set_gencb(a->unix_http, on_unknown, a);
        if (listen_unix(a, err) < 0) {
            free_admin(a);
            return NULL;
        }
    }
    if (!str_empty(cfg->metrics_listen) && listen_tcp(a, err) < 0) {
        crimp_socket_remove(cfg->admin_listen, a->sock_dev, a->sock_ino);
        free_admin(a);
        return NULL;
    }
    a->stop_ev = event_new(a->base, -1, 0, on_stop_requested, a);
    pthread_create(&a->thread, NULL, admin_main, a);
    pthread_setname_np(a->thread, "crimp-admin");
    a->running = true;
    log_info("admin API on %s%s%s", str_empty(cfg->admin_listen) ? "-" : cfg->admin_listen,
             str_empty(cfg->metrics_listen) ? "" : ", metrics on ",
             str_empty(cfg->metrics_listen) ? "" : cfg->metrics_listen);
    return a;
}

void crimp_admin_stop(struct crimp_admin *a)
{
    if (a == NULL)
        return;
    if (a->running) {
        event_active(a->stop_ev, 0, 0);
        pthread_join(a->thread, NULL);
    }
    if (a->unix_http)
        crimp_socket_remove(a->cfg->admin_listen, a->sock_dev, a->sock_ino);
    free_admin(a);
}
