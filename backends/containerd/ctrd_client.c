/* containerd's native gRPC API on common/grpc_client: the connection, the
 * namespace and lease metadata, deadlines, errors and spans of unary calls
 * and streams, Tasks/Wait completing on the connection's own thread, and
 * the Any / Timestamp / map conversions every caller needs.  */
#include "ctrd_client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ctrd_client-internal.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "deadline.h"
#include "grpc_client.h"
#include "log.h"
#include "trace.h"
#include "utils.h"

#define CTRD_MAX_MESSAGE       (16 << 20) /* containerd's own limit; gRPC's default is 4 MiB */
#define CTRD_DEFAULT_TIMEOUT_S 30.0

/* Calls wait for the channel to be ready (bounded by their deadline) so that
 * a containerd restart is ridden out instead of failing at once.  */
#define CTRD_CALL_FLAGS                                                                            \
    (GRPC_INITIAL_METADATA_WAIT_FOR_READY | GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET)

struct ctrd_wait;

struct ctrd_conn {
    grpc_channel *ch;
    char *endpoint;
    char *ns;
    pthread_mutex_t mu;        /* guards what follows */
    grpc_completion_queue *cq; /* the waits' CQ_NEXT, made with the first wait */
    pthread_t thread;          /* runs it */
    struct ctrd_wait *waits;   /* in flight: cancelled by ctrd_conn_free */
    bool closing;
};

/* ---- connection ------------------------------------------------------- */

struct ctrd_conn *ctrd_conn_new(const char *endpoint, const char *ns)
{
    struct ctrd_conn *c = xcalloc(1, sizeof(*c));
    c->ch = crimp_grpc_channel_open(endpoint, CTRD_MAX_MESSAGE);
    c->endpoint = xstrdup(endpoint);
    c->ns = xstrdup(ns);
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

const char *ctrd_conn_namespace(const struct ctrd_conn *c)
{
    return c->ns;
}

const char *ctrd_conn_endpoint(const struct ctrd_conn *c)
{
    return c->endpoint;
}

static void stop_waits(struct ctrd_conn *c);

void ctrd_conn_free(struct ctrd_conn *c)
{
    if (c == NULL)
        return;
    stop_waits(c);
    grpc_channel_destroy(c->ch);
    pthread_mutex_destroy(&c->mu);
    free(c->endpoint);
    free(c->ns);
    free(c);
}

/* ---- one call's metadata, deadline, errors ----------------------------- */

/* What a call sends besides its message.  The metadata slices point at the
 * connection's namespace and the caller's lease string: no copies.  */
struct call_setup {
    grpc_metadata md[2];
    struct crimp_grpc_call_opts opts;
    grpc_call *parent;
    gpr_timespec deadline;
};

static const struct ctrd_opts no_opts;

/* Nanoseconds left until T (INT64_MAX for an infinite T).  */
static int64_t ns_until(gpr_timespec t)
{
    if (t.tv_sec == INT64_MAX)
        return INT64_MAX;
    gpr_timespec left =
        gpr_time_sub(gpr_convert_clock_type(t, GPR_CLOCK_MONOTONIC), gpr_now(GPR_CLOCK_MONOTONIC));
    return left.tv_sec * 1000000000LL + left.tv_nsec;
}

int64_t ctrd_deadline_mono_ns(const struct ctrd_opts *o)
{
    int64_t now = crimp_now_mono_ns();
    double t = o->timeout_s == 0 ? CTRD_DEFAULT_TIMEOUT_S : o->timeout_s;
    /* The backend's call_timeout, when shorter, bounds requests made for a
     * CRI call that came without a deadline.  */
    const struct crimp_budget *budget = crimp_budget_current();
    if (o->timeout_s == 0 && o->rpc != NULL && budget != NULL && budget->default_ns > 0 &&
        (double)budget->default_ns / 1e9 < t)
        t = (double)budget->default_ns / 1e9;
    int64_t d = t < 0 || t > 1e9 ? INT64_MAX : now + (int64_t)(t * 1e9);
    if (o->rpc != NULL) {
        int64_t left = ns_until(o->rpc->deadline);
        if (left != INT64_MAX && now + left < d)
            d = now + left;
    }
    return d;
}

/* DEADLINE_NS (crimp's monotonic clock) on gRPC's; a passed one stays
 * passed (the call then fails with DEADLINE_EXCEEDED, as it should).  */
static gpr_timespec grpc_deadline(int64_t deadline_ns)
{
    if (deadline_ns == INT64_MAX)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    int64_t left = deadline_ns - crimp_now_mono_ns();
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_nanos(left > 0 ? left : 0, GPR_TIMESPAN));
}

static void set_metadata(grpc_metadata *md, const char *key, const char *value)
{
    memset(md, 0, sizeof(*md));
    md->key = grpc_slice_from_static_string(key);
    md->value = grpc_slice_from_static_string(value);
}

static void call_setup(struct ctrd_conn *c, const struct ctrd_opts *o, struct call_setup *s)
{
    size_t n = 0;
    set_metadata(&s->md[n++], "containerd-namespace", c->ns);
    if (!str_empty(o->lease))
        set_metadata(&s->md[n++], "containerd-lease", o->lease);
    s->opts = (struct crimp_grpc_call_opts){.md = s->md, .n_md = n,
                                            .flags = o->quiet_start ? 0 : CTRD_CALL_FLAGS,
                                            .defer_initial_md = o->quiet_start};
    s->parent = o->rpc ? o->rpc->call : NULL;
    s->deadline = grpc_deadline(ctrd_deadline_mono_ns(o));
}

/* Some handlers (Events/Subscribe) return Go's context errors without
 * errdefs' conversion, so they arrive as UNKNOWN: give them their code.  */
static void recode_context_error(crimp_error_t err)
{
    if (err->code != GRPC_STATUS_UNKNOWN)
        return;
    if (strstr(err->msg, "context deadline exceeded") != NULL)
        err->code = GRPC_STATUS_DEADLINE_EXCEEDED;
    else if (strstr(err->msg, "context canceled") != NULL)
        err->code = GRPC_STATUS_CANCELLED;
}

/* *ERR (from METHOD) as "containerd Tasks/Create: <containerd's message>",
 * with the code kept; UNAVAILABLE also names the endpoint.  */
static int ctrd_fail(struct ctrd_conn *c, const char *method, crimp_error_t *err)
{
    char name[CRIMP_TRACE_NAME_LEN];
    crimp_grpc_short_name(method, name, sizeof(name));
    recode_context_error(*err);
    if ((*err)->code != GRPC_STATUS_UNAVAILABLE)
        return crimp_error_wrap(err, "containerd %s", name);
    cleanup_free char *msg = steal_ptr(&(*err)->msg);
    return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, (*err)->errno_,
                            "containerd %s: %s (at %s)", name, msg, c->endpoint);
}

int ctrd_call(struct ctrd_conn *c, const struct ctrd_opts *o, const char *method,
              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
              ProtobufCMessage **resp, crimp_error_t *err)
{
    struct call_setup s;
    call_setup(c, o ? o : &no_opts, &s);
    *resp = NULL;
    if (crimp_grpc_unary_opts(c->ch, s.parent, method, s.deadline, &s.opts, req, resp_desc, resp,
                              err) < 0)
        return ctrd_fail(c, method, err);
    return 0;
}

/* ---- streams ------------------------------------------------------------ */

/* One span from the start to the free, with the code the stream ended
 * with (CANCELLED when the caller stopped reading).  */
struct ctrd_stream {
    struct ctrd_conn *c;
    struct crimp_grpc_stream *g;
    const char *method;
    int64_t started;
    grpc_status_code code;
};

static void stream_span(const char *method, grpc_status_code code, int64_t started)
{
    char name[CRIMP_TRACE_NAME_LEN];
    crimp_grpc_short_name(method, name, sizeof(name));
    crimp_trace_span(CRIMP_SPAN_GRPC, name, (int)code, started, crimp_now_mono_ns());
}

struct ctrd_stream *ctrd_stream_open(struct ctrd_conn *c, const struct ctrd_opts *o,
                                     const char *method, const ProtobufCMessage *req,
                                     crimp_error_t *err)
{
    struct call_setup setup;
    call_setup(c, o ? o : &no_opts, &setup);
    int64_t started = crimp_now_mono_ns();
    struct crimp_grpc_stream *g =
        req ? crimp_grpc_stream_start_opts(c->ch, setup.parent, method, setup.deadline, &setup.opts,
                                           req, err)
            : crimp_grpc_bidi_start(c->ch, setup.parent, method, setup.deadline, &setup.opts, err);
    if (g == NULL) {
        stream_span(method, (*err)->code, started);
        ctrd_fail(c, method, err);
        return NULL;
    }
    struct ctrd_stream *s = xcalloc(1, sizeof(*s));
    *s = (struct ctrd_stream){
        .c = c, .g = g, .method = method, .started = started, .code = GRPC_STATUS_CANCELLED};
    return s;
}

struct ctrd_stream *ctrd_stream_start(struct ctrd_conn *c, const struct ctrd_opts *o,
                                      const char *method, const ProtobufCMessage *req,
                                      crimp_error_t *err)
{
    return ctrd_stream_open(c, o, method, req, err);
}

/* RET from the stream S: a failure ends it with its code.  */
static int stream_result(struct ctrd_stream *s, int ret, crimp_error_t *err)
{
    if (ret < 0) {
        s->code = (*err)->code;
        return ctrd_fail(s->c, s->method, err);
    }
    return ret;
}

int ctrd_stream_next(struct ctrd_stream *s, const ProtobufCMessageDescriptor *desc,
                     ProtobufCMessage **msg, crimp_error_t *err)
{
    int ret = crimp_grpc_stream_next(s->g, desc, msg, err);
    if (ret == 0)
        s->code = GRPC_STATUS_OK;
    return stream_result(s, ret, err);
}

int ctrd_stream_exchange(struct ctrd_stream *s, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                         crimp_error_t *err)
{
    return stream_result(s, crimp_grpc_bidi_exchange(s->g, req, desc, resp, err), err);
}

int ctrd_stream_close(struct ctrd_stream *s, crimp_error_t *err)
{
    int ret = crimp_grpc_bidi_close(s->g, err);
    if (ret == 0)
        s->code = GRPC_STATUS_OK;
    return stream_result(s, ret, err);
}

void ctrd_stream_cancel(struct ctrd_stream *s)
{
    crimp_grpc_stream_cancel(s->g);
}

void ctrd_stream_free(struct ctrd_stream *s)
{
    if (s == NULL)
        return;
    crimp_grpc_stream_free(s->g);
    stream_span(s->method, s->code, s->started);
    free(s);
}

/* ---- Any, Timestamp, maps ---------------------------------------------- */

static Google__Protobuf__Any *any_new(const char *type_url, void *data, size_t len)
{
    Google__Protobuf__Any *any = xmalloc(sizeof(*any));
    google__protobuf__any__init(any);
    any->type_url = xstrdup(type_url);
    any->value.data = data;
    any->value.len = len;
    return any;
}

Google__Protobuf__Any *ctrd_any_json(const char *type_url, json_t *value)
{
    char *text = value ? json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    return any_new(type_url, text, text ? strlen(text) : 0);
}

Google__Protobuf__Any *ctrd_any_pack(const char *type_url, const ProtobufCMessage *msg)
{
    size_t len = msg ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t *data = len ? xmalloc(len) : NULL;
    if (len)
        protobuf_c_message_pack(msg, data);
    return any_new(type_url, data, len);
}

json_t *ctrd_any_to_json(const Google__Protobuf__Any *any)
{
    if (any == NULL || any->value.len == 0)
        return NULL;
    return json_loadb((const char *)any->value.data, any->value.len, JSON_DECODE_ANY, NULL);
}

int64_t ctrd_timestamp_ns(const Google__Protobuf__Timestamp *t)
{
    /* containerd's times are a peer's int64 seconds: past 2262, no time.  */
    if (t == NULL || t->seconds > INT64_MAX / 1000000000LL - 1 ||
        t->seconds < -INT64_MAX / 1000000000LL + 1)
        return 0;
    return t->seconds * 1000000000LL + t->nanos;
}

Google__Protobuf__Timestamp *ctrd_timestamp_new(int64_t ns)
{
    Google__Protobuf__Timestamp *t = xmalloc(sizeof(*t));
    google__protobuf__timestamp__init(t);
    /* nanos is never negative: times before 1970 borrow from seconds.  */
    t->seconds = ns / 1000000000LL;
    t->nanos = (int32_t)(ns % 1000000000LL);
    if (t->nanos < 0) {
        t->seconds--;
        t->nanos += 1000000000;
    }
    return t;
}

/* What every generated map<string,string> entry message looks like.  */
struct map_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};

void ctrd_map_from_json(json_t *obj, const ProtobufCMessageDescriptor *entry_desc, size_t *n,
                        void *entries)
{
    struct map_entry **e = NULL;
    size_t count = 0;
    if (json_object_size(obj) > 0) {
        e = xcalloc(json_object_size(obj), sizeof(*e));
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v)
        {
            if (!json_is_string(v))
                continue;
            e[count] = xmalloc(entry_desc->sizeof_message);
            protobuf_c_message_init(entry_desc, e[count]);
            e[count]->key = xstrdup(key);
            e[count]->value = xstrdup(json_string_value(v));
            count++;
        }
    }
    *n = count;
    memcpy(entries, &e, sizeof(e));
}

json_t *ctrd_map_to_json(size_t n, void *const *entries)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < n; i++) {
        const struct map_entry *e = entries[i];
        if (e->key != NULL)
            json_object_set_new(obj, e->key, json_string(e->value ? e->value : ""));
    }
    return obj;
}

/* ---- Tasks/Wait on the connection's thread ------------------------------ */

#define WAIT_METHOD CTRD_TASKS "Wait"

struct ctrd_wait {
    struct ctrd_wait *next, *prev;
    struct crimp_grpc_async_unary u; /* written by gRPC until the tag completes */
    grpc_metadata md;
    char *container_id, *exec_id;
    ctrd_exit_fn fn;
    void *ctx;
};

static void wait_unlink(struct ctrd_conn *c, struct ctrd_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        c->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void wait_free(struct ctrd_wait *w)
{
    free(w->container_id);
    free(w->exec_id);
    free(w);
}

/* The outcome of W, reported to its owner.  */
static void wait_done(struct ctrd_conn *c, struct ctrd_wait *w)
{
    pthread_mutex_lock(&c->mu);
    wait_unlink(c, w);
    pthread_mutex_unlock(&c->mu);
    cleanup_error crimp_error_t err = NULL;
    Containerd__Services__Tasks__V1__WaitResponse *resp = NULL;
    if (crimp_grpc_unary_end(&w->u, &containerd__services__tasks__v1__wait_response__descriptor,
                             (ProtobufCMessage **)&resp, &err) < 0) {
        ctrd_fail(c, WAIT_METHOD, &err);
        w->fn(w->ctx, w->container_id, w->exec_id, 0, 0, err);
    } else {
        w->fn(w->ctx, w->container_id, w->exec_id, resp->exit_status,
              ctrd_timestamp_ns(resp->exited_at), NULL);
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    wait_free(w);
}

static void *wait_thread(void *arg)
{
    struct ctrd_conn *c = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type == GRPC_OP_COMPLETE)
            wait_done(c, ev.tag);
    }
}

/* The waits' queue and thread, made once (call with C->mu held).  */
static int ensure_wait_thread(struct ctrd_conn *c, crimp_error_t *err)
{
    if (c->cq != NULL)
        return 0;
    c->cq = grpc_completion_queue_create_for_next(NULL);
    int rc = pthread_create(&c->thread, NULL, wait_thread, c);
    if (rc != 0) {
        grpc_completion_queue_shutdown(c->cq);
        grpc_completion_queue_destroy(c->cq);
        c->cq = NULL;
        return crimp_make_errno_error(err, rc, "containerd: start the wait thread");
    }
    pthread_setname_np(c->thread, "ctrd-wait");
    return 0;
}

/* Starts W's call (call with C->mu held, so that stop_waits sees it).  */
static int start_wait(struct ctrd_conn *c, struct ctrd_wait *w, crimp_error_t *err)
{
    Containerd__Services__Tasks__V1__WaitRequest req =
        CONTAINERD__SERVICES__TASKS__V1__WAIT_REQUEST__INIT;
    req.container_id = w->container_id;
    req.exec_id = w->exec_id ? w->exec_id : "";
    set_metadata(&w->md, "containerd-namespace", c->ns);
    struct crimp_grpc_call_opts opts = {.md = &w->md, .n_md = 1, .flags = CTRD_CALL_FLAGS};
    /* No deadline: a process may run for months.  */
    if (crimp_grpc_unary_begin(&w->u, c->ch, NULL, c->cq, WAIT_METHOD,
                               gpr_inf_future(GPR_CLOCK_REALTIME), &opts, &req.base, w, err) < 0)
        return ctrd_fail(c, WAIT_METHOD, err);
    w->next = c->waits;
    if (c->waits)
        c->waits->prev = w;
    c->waits = w;
    return 0;
}

int ctrd_wait_async(struct ctrd_conn *c, const char *container_id, const char *exec_id,
                    ctrd_exit_fn fn, void *ctx, crimp_error_t *err)
{
    struct ctrd_wait *w = xcalloc(1, sizeof(*w));
    w->container_id = xstrdup(container_id);
    w->exec_id = str_empty(exec_id) ? NULL : xstrdup(exec_id);
    w->fn = fn;
    w->ctx = ctx;
    pthread_mutex_lock(&c->mu);
    int ret = c->closing
                  ? crimp_make_error(err, GRPC_STATUS_CANCELLED, 0,
                                     "containerd %s: the connection is closing", "Tasks/Wait")
                  : ensure_wait_thread(c, err);
    if (ret == 0)
        ret = start_wait(c, w, err);
    pthread_mutex_unlock(&c->mu);
    if (ret < 0)
        wait_free(w);
    return ret;
}

/* Cancels the waits in flight (their owners hear CANCELLED on the wait
 * thread), then ends that thread once the queue has delivered them all.  */
static void stop_waits(struct ctrd_conn *c)
{
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    for (struct ctrd_wait *w = c->waits; w != NULL; w = w->next)
        grpc_call_cancel(w->u.call, NULL);
    grpc_completion_queue *cq = c->cq;
    pthread_mutex_unlock(&c->mu);
    if (cq == NULL)
        return;
    grpc_completion_queue_shutdown(cq);
    pthread_join(c->thread, NULL);
    grpc_completion_queue_destroy(cq);
}
