/* Docker Engine API over the unix socket: libcurl easy handles kept in a
 * free list so connections persist across calls and threads.  */
#include "client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "deadline.h"
#include "trace.h"
#include "utils.h"

#define DOCKER_MIN_API "1.41"

/* Idle handles kept for reuse.  A burst needs as many handles as calls
 * run at once; past it, a handle (its buffers, its connection to dockerd)
 * kept idle is memory held for nothing: kubelet's steady polling reuses
 * a few.  */
#define DOCKER_IDLE_HANDLES 4

struct handle {
    CURL *curl;
    struct handle *next;
};

struct docker_client {
    char *socket_path;
    char api_prefix[16]; /* "/v1.41", set at creation and never changed */
    pthread_mutex_t lock;
    struct handle *free_handles;
    int n_free;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct docker_client *docker_client_new(const char *socket_path)
{
    pthread_once(&curl_once, curl_init_once);
    struct docker_client *c = xcalloc(1, sizeof(*c));
    c->socket_path = xstrdup(socket_path);
    snprintf(c->api_prefix, sizeof(c->api_prefix), "/v%s", DOCKER_MIN_API);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void docker_client_free(struct docker_client *c)
{
    if (c == NULL)
        return;
    while (c->free_handles) {
        struct handle *h = c->free_handles;
        c->free_handles = h->next;
        curl_easy_cleanup(h->curl);
        free(h);
    }
    pthread_mutex_destroy(&c->lock);
    free(c->socket_path);
    free(c);
}

const char *docker_client_socket(const struct docker_client *c)
{
    return c->socket_path;
}

const char *docker_client_api_prefix(const struct docker_client *c)
{
    return c->api_prefix;
}

static struct handle *take_handle(struct docker_client *c)
{
    pthread_mutex_lock(&c->lock);
    struct handle *h = c->free_handles;
    if (h) {
        c->free_handles = h->next;
        c->n_free--;
    }
    pthread_mutex_unlock(&c->lock);
    if (h == NULL) {
        h = xcalloc(1, sizeof(*h));
        h->curl = curl_easy_init();
        if (h->curl == NULL) {
            fprintf(stderr, "crimpd: curl_easy_init failed\n");
            abort();
        }
    }
    return h;
}

static void give_handle(struct docker_client *c, struct handle *h)
{
    curl_easy_reset(h->curl); /* options go, the connection cache stays */
    pthread_mutex_lock(&c->lock);
    bool keep = c->n_free < DOCKER_IDLE_HANDLES;
    if (keep) {
        h->next = c->free_handles;
        c->free_handles = h;
        c->n_free++;
    }
    pthread_mutex_unlock(&c->lock);
    if (!keep) {
        curl_easy_cleanup(h->curl);
        free(h);
    }
}

void docker_response_release(struct docker_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

char *docker_query_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = xstrdup(e);
    curl_free(e);
    return out;
}

char *docker_filters_query(json_t *filters)
{
    cleanup_free char *text = json_dumps(filters, JSON_COMPACT);
    cleanup_free char *esc = docker_query_escape(text);
    return xasprintf("filters=%s", esc);
}

/* "/containers/{id}/json" with ID → "/v1.41/containers/<id>/json?QUERY".  */
static char *build_url(const struct docker_client *c, const struct docker_request *r)
{
    const char *brace = strstr(r->path, "{id}");
    cleanup_free char *path = NULL;
    if (brace != NULL && r->id != NULL) {
        cleanup_free char *esc = docker_query_escape(r->id);
        path = xasprintf("%.*s%s%s", (int)(brace - r->path), r->path, esc, brace + 4);
    } else {
        path = xstrdup(r->path);
    }
    return xasprintf("http://docker%s%s%s%s", r->unversioned ? "" : c->api_prefix, path,
                     r->query ? "?" : "",
                     r->query ? r->query : "");
}

struct transfer {
    const struct docker_request *req;
    /* The CRI call's cancellation flag when the request has none of its
     * own: kubelet giving up ends the request at once.  */
    const atomic_bool *call_cancelled;
    long timeout_ms; /* what the request was given, -1: unbounded */
    char *buf;
    size_t len, cap;
    bool aborted_by_reader;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct transfer *t = arg;
    size_t n = size * nmemb;
    if (t->req->on_data) {
        if (!t->req->on_data(t->req->ctx, data, n)) {
            t->aborted_by_reader = true;
            return 0;
        }
        return n;
    }
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = xrealloc(t->buf, t->cap);
    }
    memcpy(t->buf + t->len, data, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return n;
}

static bool transfer_cancelled(const struct transfer *t)
{
    return (t->req->cancelled && atomic_load(t->req->cancelled)) ||
           (t->call_cancelled && atomic_load(t->call_cancelled));
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    return transfer_cancelled(arg) ? 1 : 0;
}

/* Docker's error bodies are {"message": "..."}; fall back to the raw text.  */
static const char *docker_message(const struct docker_response *resp)
{
    const char *m = resp->json ? json_string_value(json_object_get(resp->json, "message")) : NULL;
    if (m != NULL)
        return m;
    return resp->body && resp->body[0] ? resp->body : "(no message)";
}

static int error_for_curl(CURLcode rc, const struct docker_client *c, const struct docker_request *r,
                          const struct transfer *t, crimp_error_t *err)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK || (rc == CURLE_WRITE_ERROR && t->aborted_by_reader)) {
        if (transfer_cancelled(t))
            return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "docker: %s %s: cancelled",
                                    r->method, r->path);
        return crimp_make_error(err, GRPC_STATUS_ABORTED, 0, "docker: %s %s: aborted", r->method,
                                r->path);
    }
    if (rc == CURLE_OPERATION_TIMEDOUT && t->timeout_ms >= 0)
        return crimp_make_error(err, GRPC_STATUS_DEADLINE_EXCEEDED, 0,
                                "docker: %s %s: dockerd at %s gave no answer in %.1f s", r->method,
                                r->path, c->socket_path, (double)t->timeout_ms / 1000);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return crimp_make_error(err, GRPC_STATUS_DEADLINE_EXCEEDED, 0,
                                "docker: %s %s: dockerd at %s stopped sending", r->method, r->path,
                                c->socket_path);
    return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0, "docker: %s %s: dockerd at %s: %s",
                            r->method, r->path, c->socket_path, curl_easy_strerror(rc));
}

static void set_options(CURL *curl, const struct docker_client *c, const struct docker_request *r,
                        const char *url, struct curl_slist *headers, const char *body,
                        struct transfer *t)
{
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     t->timeout_ms >= 0 && t->timeout_ms < 10000 ? t->timeout_ms : 10000L);
    if (t->timeout_ms >= 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    if (r->stall_seconds > 0) {
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, r->stall_seconds);
    }
    if (r->cancelled || t->call_cancelled) {
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    }
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
    }
}

static int perform(struct docker_client *c, const struct docker_request *r,
                   struct docker_response *resp, crimp_error_t *err)
{
    memset(resp, 0, sizeof(*resp));

    cleanup_free char *url = build_url(c, r);
    cleanup_free char *body = r->body ? json_dumps(r->body, JSON_COMPACT) : NULL;
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    if (r->extra_header)
        headers = curl_slist_append(headers, r->extra_header);

    /* A request's own timeout (a stop's grace period, a pull's none) is
     * capped by kubelet's deadline; one without takes the backend's
     * default.  Requests of background threads keep their own rules.  */
    const struct crimp_budget *budget = crimp_budget_current();
    struct transfer t = {
        .req = r,
        .call_cancelled = budget ? budget->cancelled : NULL,
        .timeout_ms = crimp_budget_timeout_ms(r->timeout_ms == DOCKER_TIMEOUT_NONE ? -1 : r->timeout_ms,
                                              DOCKER_TIMEOUT_DEFAULT_MS),
    };
    struct handle *h = take_handle(c);
    set_options(h->curl, c, r, url, headers, body, &t);
    int64_t started = crimp_now_mono_ns();
    CURLcode rc = curl_easy_perform(h->curl);
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    give_handle(c, h);
    curl_slist_free_all(headers);

    resp->body = t.buf;
    resp->len = t.len;
    if (t.buf && (t.buf[0] == '{' || t.buf[0] == '['))
        resp->json = json_loadb(t.buf, t.len, 0, NULL);

    char span[CRIMP_TRACE_NAME_LEN];
    snprintf(span, sizeof(span), "%s %s", r->method, r->path);
    crimp_trace_span(CRIMP_SPAN_HTTP, span, rc == CURLE_OK ? (int)resp->status : -1, started,
                     crimp_now_mono_ns());
    if (rc != CURLE_OK)
        return error_for_curl(rc, c, r, &t, err);
    if (resp->status >= 400)
        return crimp_make_error(err, crimp_status_from_http(resp->status), 0, "docker: %s %s: %ld %s",
                                r->method, r->path, resp->status, docker_message(resp));
    return 0;
}

int docker_do(struct docker_client *c, const struct docker_request *r,
              struct docker_response *resp, crimp_error_t *err)
{
    if (resp != NULL)
        return perform(c, r, resp, err);
    cleanup_docker_response struct docker_response discarded = {0};
    return perform(c, r, &discarded, err);
}

int docker_get_json(struct docker_client *c, const char *path, const char *id, const char *query,
                    json_t **out, crimp_error_t *err)
{
    struct docker_request r = {.method = "GET", .path = path, .id = id, .query = query};
    cleanup_docker_response struct docker_response resp = {0};
    if (docker_do(c, &r, &resp, err) < 0)
        return -1;
    if (resp.json == NULL)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "docker: GET %s: reply is not JSON",
                                path);
    *out = steal_ptr(&resp.json);
    return 0;
}

int docker_post(struct docker_client *c, const char *path, const char *id, const char *query,
                json_t *body, struct docker_response *resp, crimp_error_t *err)
{
    struct docker_request r = {.method = "POST", .path = path, .id = id, .query = query, .body = body};
    return docker_do(c, &r, resp, err);
}

/* "1.41" < "1.43": compares dotted numbers.  */
static int api_cmp(const char *a, const char *b)
{
    int amaj = 0, amin = 0, bmaj = 0, bmin = 0;
    sscanf(a, "%d.%d", &amaj, &amin);
    sscanf(b, "%d.%d", &bmaj, &bmin);
    return amaj != bmaj ? amaj - bmaj : amin - bmin;
}

int docker_client_negotiate(struct docker_client *c, char **version, crimp_error_t *err)
{
    /* /version answers under any prefix; ask without one (a flag of this
     * request: the prefix other threads build URLs with stays as it is).  */
    struct docker_request r = {.method = "GET", .path = "/version", .unversioned = true};
    cleanup_docker_response struct docker_response resp = {0};
    if (docker_do(c, &r, &resp, err) < 0)
        return -1;
    return docker_version_check(resp.json, c->socket_path, version, err);
}

int docker_version_check(json_t *v, const char *socket_path, char **version, crimp_error_t *err)
{
    const char *api = json_string_value(json_object_get(v, "ApiVersion"));
    if (api == NULL || api_cmp(api, DOCKER_MIN_API) < 0)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "docker: dockerd at %s speaks API %s; crimp needs %s or newer",
                                socket_path, api ? api : "(unknown)", DOCKER_MIN_API);
    /* Stay on 1.41, whose semantics the backend is written against, even
     * with newer daemons: Docker keeps old API versions' behaviour.  */
    if (version)
        *version = xstrdup_or_null(json_string_value(json_object_get(v, "Version")));
    return 0;
}
