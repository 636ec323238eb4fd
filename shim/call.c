/* The life of one CRI call: matched by gRPC, decoded, validated, run on its
 * lane (inline, fast, slow, or a thread of its own for streams), answered,
 * and freed once gRPC is done with it.  */
#include "call.h"

#include <errno.h>
#include <grpc/byte_buffer.h>
#include <grpc/support/alloc.h>

#include "bulkhead.h"
#include "deadline.h"
#include "grpc_client.h"
#include "identity.h"
#include "log.h"
#include "pbutil.h"
#include "server-internal.h"
#include "utils.h"

static void call_unref(struct crimp_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    if (c->call)
        grpc_call_unref(c->call);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->reply)
        grpc_byte_buffer_destroy(c->reply);
    grpc_slice_unref(c->status_details);
    grpc_metadata_array_destroy(&c->request_md);
    grpc_call_details_destroy(&c->details);
    free(c->trace);
    pthread_mutex_destroy(&c->stream_lock);
    pthread_cond_destroy(&c->stream_cond);
    free(c);
}

static void log_failure(const struct crimp_call *c, const char *backend, const crimp_error_t e)
{
    const char *what = c->method ? crimp_method_display(c->method) : "unknown method";
    bool serious = e->code == GRPC_STATUS_INTERNAL || e->code == GRPC_STATUS_UNKNOWN ||
                   e->code == GRPC_STATUS_DATA_LOSS || e->code == GRPC_STATUS_UNAVAILABLE;
    crimp_log(serious ? CRIMP_LOG_WARN : CRIMP_LOG_INFO, "%s%s%s: %s: %s", what,
              backend ? " via " : "", backend ? backend : "", crimp_status_name(e->code), e->msg);
}

void crimp_call_note_subject(struct crimp_call *c, const ProtobufCMessage *req)
{
    const char *id = crimp_log_calls_enabled() ? crimp_method_subject(c->method, req) : NULL;
    snprintf(c->subject, sizeof(c->subject), "%s", id ? id : "");
}

static void log_call(const struct crimp_call *c, grpc_status_code code, int64_t duration_ns)
{
    if (!crimp_log_calls_enabled())
        return;
    struct crimp_log_call_fields f = {
        .method = crimp_method_display(c->method),
        .backend = c->backend_index >= 0
                       ? crimp_recorder_backend_name(c->srv->recorder, c->backend_index)
                       : NULL,
        .code = crimp_status_name(code),
        .duration_ms = (double)duration_ns / 1e6,
        .id = c->subject,
    };
    crimp_log_call(&f);
}

/* A unary call leaves the drain's count only once its reply is out: a
 * drain that saw it leave earlier could cancel all calls (the streams)
 * while that reply still waited to be written, and the client got
 * UNAVAILABLE "Cancelling all calls" instead of its answer.  */
static void unary_done(struct crimp_call *c)
{
    if (c->method && !c->method->streaming && c->method->lane != LANE_INLINE)
        atomic_fetch_sub(&c->srv->unary_in_flight, 1);
}

/* Sends the final batch: the reply (if any) and the status.  Consumes the
 * handler's reference when gRPC completes it.  */
void crimp_call_finish(struct crimp_call *c, grpc_byte_buffer *reply, grpc_status_code code,
                       const char *msg)
{
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!c->initial_md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->initial_md_sent = true;
    }
    if (reply) {
        c->reply = reply;
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = reply;
    }
    c->status_details = grpc_slice_from_copied_string(msg ? msg : "");
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = code;
    ops[n++].data.send_status_from_server.status_details = code ? &c->status_details : NULL;

    if (c->method) {
        int64_t duration = crimp_now_mono_ns() - c->start_ns;
        crimp_recorder_finish(c->srv->recorder, (int)(c->method - crimp_methods),
                              c->backend_index, code, c->start_real_ns, duration, c->trace);
        log_call(c, code, duration);
    }
    grpc_call_error ce = grpc_call_start_batch(c->call, ops, n, &c->sent_tag, NULL);
    if (ce != GRPC_CALL_OK) {
        log_warn("grpc: cannot send status: %s", grpc_call_error_to_string(ce));
        unary_done(c);
        call_unref(c);
    }
}

static void send_error(struct crimp_call *c, const char *backend, crimp_error_t e)
{
    log_failure(c, backend, e);
    crimp_call_finish(c, NULL, e->code, e->msg);
}

/* Exec, Attach, PortForward on a backend without a streaming server of its
 * own: crimp's streaming server (stream/) takes the request behind a
 * single-use token and the client gets its URL.  */
static int stream_kind(const struct crimp_method *m, enum crimp_stream_kind *kind)
{
    if (!m->has_session)
        return -1;
    *kind = m->session;
    return 0;
}

static int check_stdio(bool in, bool out, bool err_, bool tty, crimp_error_t *err)
{
    if (tty && err_)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "tty and stderr cannot both be true");
    if (!in && !out && !err_)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "one of stdin, stdout and stderr must be true");
    return 0;
}

/* The container must exist and run now: a URL for a dead one would only
 * fail later, where the error is harder to read.  */
static int check_running(struct crimp_backend *b, struct crimp_rpc *rpc, const char *id,
                         crimp_error_t *err)
{
    Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
    Runtime__V1__ContainerStatusResponse resp = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
    req.container_id = (char *)id;
    if (b->ops->container_status(b, rpc, &req, &resp, err) < 0)
        return -1;
    bool running = resp.status && resp.status->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    crimp_pb_free_fields(&resp.base);
    if (!running)
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "container %s is not running", id);
    return 0;
}

/* A port-forward URL only for a pod the backend knows.  */
static int check_pod_known(struct crimp_backend *b, struct crimp_rpc *rpc, const char *id,
                           crimp_error_t *err)
{
    Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
    Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
    req.pod_sandbox_id = (char *)id;
    int rc = b->ops->pod_sandbox_status(b, rpc, &req, &resp, err);
    crimp_pb_free_fields(&resp.base);
    return rc;
}

static int serve_stream_url(struct crimp_call *c, struct crimp_backend *b,
                            enum crimp_stream_kind kind, const ProtobufCMessage *req,
                            ProtobufCMessage *resp, crimp_error_t *err)
{
    if (c->srv->stream == NULL)
        return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0,
                                "crimp's streaming server is off (stream_listen is empty)");
    if (kind == CRIMP_STREAM_EXEC) {
        const Runtime__V1__ExecRequest *e = (const void *)req;
        if (e->n_cmd == 0)
            return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "cmd is empty");
        if (check_stdio(e->stdin, e->stdout, e->stderr, e->tty, err) < 0 ||
            check_running(b, &c->rpc, e->container_id, err) < 0)
            return -1;
    } else if (kind == CRIMP_STREAM_ATTACH) {
        const Runtime__V1__AttachRequest *a = (const void *)req;
        if (check_stdio(a->stdin, a->stdout, a->stderr, a->tty, err) < 0 ||
            check_running(b, &c->rpc, a->container_id, err) < 0)
            return -1;
    } else if (check_pod_known(b, &c->rpc,
                               ((const Runtime__V1__PortForwardRequest *)(const void *)req)
                                   ->pod_sandbox_id,
                               err) < 0) {
        return -1;
    }
    char *url = crimp_stream_register(c->srv->stream, kind, b, c->backend_index, req, err);
    if (url == NULL)
        return -1;
    /* ExecResponse, AttachResponse and PortForwardResponse: url is field 1.  */
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(resp->descriptor, "url");
    *(char **)((char *)resp + f->offset) = url;
    return 0;
}

/* The result of run_unary when the call waits parked for its backend.  */
#define PARKED 1

static struct crimp_pool *lane_pool(struct crimp_server *srv, const struct crimp_method *m)
{
    return m->lane == LANE_SLOW ? srv->slow : srv->fast;
}

static struct crimp_bulkhead *lane_bulkhead(struct crimp_call *c, int idx)
{
    return crimp_router_bulkhead(c->srv->router, (size_t)idx, c->method->lane == LANE_SLOW);
}

/* Gives back the slot C holds (to a parked call, if one waits).  */
static void release_slot(struct crimp_call *c)
{
    if (c->held_slot < 0)
        return;
    crimp_bulkhead_leave(lane_bulkhead(c, c->held_slot));
    c->held_slot = -1;
}

static int refuse_full(struct crimp_call *c, const struct crimp_backend *b,
                       struct crimp_bulkhead *bh, crimp_error_t *err)
{
    struct crimp_bulkhead_counts n;
    crimp_bulkhead_counts(bh, &n);
    return crimp_make_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, 0,
                            "backend `%s` (%s at %s): %d %s calls running and %d waiting "
                            "(max_calls %d, max_queued %d): the backend is slow or not "
                            "answering",
                            b->config->name, b->config->type, b->config->endpoint, n.running,
                            c->method->lane == LANE_SLOW ? "slow" : "fast", n.queued, n.max_calls,
                            n.max_queued);
}

/* A slot of backend IDX's bulkhead for C: 0 when C holds it, PARKED when C
 * waits in its queue (C belongs to whoever hands it the slot from now on:
 * the caller must not touch it), < 0 when the queue is full.  */
static int take_slot(struct crimp_call *c, int idx, const struct crimp_backend *b,
                     crimp_error_t *err)
{
    if (c->held_slot == idx)
        return 0;
    release_slot(c);
    struct crimp_bulkhead *bh = lane_bulkhead(c, idx);
    c->parked_slot = idx;
    c->parked_ns = crimp_now_mono_ns();
    /* Once crimpd drains, nothing would answer a call parked now.  */
    if (atomic_load(&c->srv->stopping)) {
        c->parked_slot = -1;
        if (!crimp_bulkhead_try_enter(bh))
            return refuse_full(c, b, bh, err);
        c->held_slot = idx;
        return 0;
    }
    struct crimp_server *srv = c->srv; /* C is not ours once parked */
    switch (crimp_bulkhead_enter(bh, &c->job)) {
    case CRIMP_ADMIT_RUN:
        c->parked_slot = -1;
        c->held_slot = idx;
        return 0;
    case CRIMP_ADMIT_QUEUED:
        crimp_server_note_parked(srv);
        return PARKED;
    case CRIMP_ADMIT_FULL:
        break;
    }
    c->parked_slot = -1;
    return refuse_full(c, b, bh, err);
}

/* Runs an RPC that crimp answers itself or that one backend serves, and
 * fills RESP; < 0 with *err otherwise, PARKED when it waits for a turn on
 * its backend.  *BACKEND names who served it.  */
static int run_unary(struct crimp_call *c, const ProtobufCMessage *req, ProtobufCMessage *resp,
                     const char **backend, crimp_error_t *err)
{
    const struct crimp_method *m = c->method;
    crimp_own_handler own = crimp_identity_handler(m);
    if (own)
        return own(c->srv->router, &c->rpc, req, resp, err);
    bool all = false;
    int idx = crimp_router_plan(c->srv->router, m, &c->rpc, (ProtobufCMessage *)req, &all, err);
    if (idx < 0)
        return -1;
    if (all) {
        /* Served by every backend: recorded under crimp itself, each
         * backend's part shows in the spans.  */
        crimp_trace_set_current(c->trace);
        int only = -1;
        int ret = crimp_router_call_all(c->srv->router, m, &c->rpc, req, resp, &only, err);
        crimp_trace_set_current(NULL);
        /* With one backend taking part, the call is that backend's.  */
        c->backend_index = only;
        if (only >= 0)
            *backend = crimp_router_get(c->srv->router, (size_t)only)->config->name;
        return ret;
    }
    struct crimp_backend *b = crimp_router_get(c->srv->router, (size_t)idx);
    *backend = b->config->name;
    c->backend_index = idx;
    crimp_rpc_budget_enter(&c->rpc, b, c->srv->cfg->backend_call_timeout);
    int slot = take_slot(c, idx, b, err);
    if (slot != 0)
        return slot;
    enum crimp_stream_kind kind;
    if (b->ops->stream && stream_kind(m, &kind) == 0) {
        crimp_trace_set_current(c->trace);
        int ret = serve_stream_url(c, b, kind, req, resp, err);
        crimp_trace_set_current(NULL);
        return ret;
    }
    if (!crimp_method_supported(m, b))
        return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0,
                                "backend `%s` (type %s) does not implement %s", b->config->name,
                                b->config->type, crimp_method_display(m));
    crimp_trace_set_current(c->trace);
    int ret = crimp_router_prepare(c->srv->router, m, idx, &c->rpc, req, err);
    if (ret == 0)
        ret = m->call_unary(b, &c->rpc, req, resp, err);
    crimp_trace_set_current(NULL);
    if (ret < 0) {
        /* Say which backend is unreachable or hung: with several behind
         * crimp the transport's own message does not.  */
        if ((*err)->code == GRPC_STATUS_UNAVAILABLE ||
            (*err)->code == GRPC_STATUS_DEADLINE_EXCEEDED)
            crimp_error_wrap(err, "backend `%s` (%s at %s)", b->config->name, b->config->type,
                             b->config->endpoint);
        return -1;
    }
    crimp_router_observe(c->srv->router, m, idx, req, resp);
    return 0;
}

static ProtobufCMessage *decode_request(struct crimp_call *c, crimp_error_t *err)
{
    const struct crimp_method *m = c->method;
    if (c->payload == NULL) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "%s: the call carried no request",
                         m->name);
        return NULL;
    }
    ProtobufCMessage *req = crimp_unpack_byte_buffer(c->payload, m->req_desc);
    if (req == NULL) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                         "%s: the request is not a valid %s message", m->name,
                         m->req_desc->short_name);
        return NULL;
    }
    if (crimp_method_validate(m, req, err) < 0) {
        protobuf_c_message_free_unpacked(req, NULL);
        return NULL;
    }
    crimp_call_note_subject(c, req);
    return req;
}

static void handle_unary(struct crimp_call *c)
{
    cleanup_error crimp_error_t err = NULL;
    const char *backend = NULL;
    /* A call that waited in a lane past its client's patience is dropped
     * before it reaches a backend: nobody would read the answer.  */
    if (crimp_rpc_cancelled(&c->rpc)) {
        release_slot(c);
        crimp_call_finish(c, NULL, GRPC_STATUS_CANCELLED, "cancelled before it ran");
        return;
    }
    ProtobufCMessage *req = decode_request(c, &err);
    if (req == NULL) {
        release_slot(c);
        send_error(c, NULL, err);
        return;
    }
    ProtobufCMessage *resp = crimp_pb_new(c->method->resp_desc);
    crimp_rpc_budget_enter(&c->rpc, NULL, c->srv->cfg->backend_call_timeout);
    int ret = run_unary(c, req, resp, &backend, &err);
    crimp_budget_set_current(NULL);
    protobuf_c_message_free_unpacked(req, NULL);
    if (ret == PARKED) {
        /* C is the queue's now: it runs again when a slot frees.  */
        protobuf_c_message_free_unpacked(resp, NULL);
        return;
    }
    /* What is left is the reply: a parked call given the slot now takes
     * this worker after it rather than starting one.  */
    crimp_pool_job_ending(lane_pool(c->srv, c->method));
    release_slot(c);
    if (ret < 0) {
        protobuf_c_message_free_unpacked(resp, NULL);
        send_error(c, backend, err);
        return;
    }
    grpc_byte_buffer *reply = crimp_pack_to_byte_buffer(resp);
    protobuf_c_message_free_unpacked(resp, NULL);
    crimp_call_finish(c, reply, GRPC_STATUS_OK, NULL);
}

/* crimp_rpc.send for streaming calls: one message, then wait for gRPC.  */
static int stream_send(struct crimp_rpc *rpc, const ProtobufCMessage *msg, crimp_error_t *err)
{
    struct crimp_call *c = container_of(rpc, struct crimp_call, rpc);
    if (crimp_rpc_cancelled(rpc))
        return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!c->initial_md_sent) {
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        c->initial_md_sent = true;
    }
    grpc_byte_buffer *bb = crimp_pack_to_byte_buffer(msg);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = bb;

    pthread_mutex_lock(&c->stream_lock);
    c->stream_done = false;
    grpc_call_error ce = grpc_call_start_batch(c->call, ops, n, &c->stream_tag, NULL);
    while (ce == GRPC_CALL_OK && !c->stream_done)
        pthread_cond_wait(&c->stream_cond, &c->stream_lock);
    bool ok = ce == GRPC_CALL_OK && c->stream_ok;
    pthread_mutex_unlock(&c->stream_lock);
    grpc_byte_buffer_destroy(bb);
    if (!ok)
        return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
    return 0;
}

static void on_stream_sent(struct crimp_tag *tag, bool ok)
{
    struct crimp_call *c = container_of(tag, struct crimp_call, stream_tag);
    pthread_mutex_lock(&c->stream_lock);
    c->stream_done = true;
    c->stream_ok = ok;
    pthread_cond_signal(&c->stream_cond);
    pthread_mutex_unlock(&c->stream_lock);
}

static void handle_stream(struct crimp_call *c)
{
    cleanup_error crimp_error_t err = NULL;
    const char *backend = NULL;
    int ret = -1;
    ProtobufCMessage *req = decode_request(c, &err);
    if (req != NULL && c->method->route == ROUTE_FOLLOW_ALL) {
        /* kubelet's one events stream must carry every runtime's events.  */
        ret = crimp_router_follow_all(c->srv->router, c->method, &c->rpc, req, &err);
        protobuf_c_message_free_unpacked(req, NULL);
    } else if (req != NULL) {
        bool all = false;
        int idx = crimp_router_plan(c->srv->router, c->method, &c->rpc, req, &all, &err);
        struct crimp_backend *b =
            idx >= 0 && !all ? crimp_router_get(c->srv->router, (size_t)idx) : NULL;
        if (all) /* the Stream* lists, as their unary twins */
            ret = crimp_router_stream_all(c->srv->router, c->method, &c->rpc, req, &err);
        if (b != NULL) {
            backend = b->config->name;
            c->backend_index = crimp_router_index(c->srv->router, b);
            if (!crimp_method_supported(c->method, b)) {
                crimp_make_error(&err, GRPC_STATUS_UNIMPLEMENTED, 0,
                                 "backend `%s` (type %s) does not implement %s", b->config->name,
                                 b->config->type, crimp_method_display(c->method));
            } else {
                crimp_rpc_budget_enter(&c->rpc, b, c->srv->cfg->backend_call_timeout);
                ret = c->method->call_stream(b, &c->rpc, req, &err);
                crimp_budget_set_current(NULL);
            }
        }
        protobuf_c_message_free_unpacked(req, NULL);
    }
    if (ret < 0 && crimp_rpc_cancelled(&c->rpc)) {
        /* The client left: nobody reads the status, and that is no error.  */
        crimp_call_finish(c, NULL, GRPC_STATUS_CANCELLED, "cancelled");
    } else if (ret < 0) {
        send_error(c, backend, err);
    } else {
        crimp_call_finish(c, NULL, GRPC_STATUS_OK, NULL);
    }
}

static void run_job(struct crimp_job *job)
{
    struct crimp_call *c = container_of(job, struct crimp_call, job);
    /* Run again after waiting parked: the slot it waited for is its own.  */
    if (c->parked_slot >= 0) {
        c->held_slot = c->parked_slot;
        c->parked_slot = -1;
    }
    handle_unary(c);
}

static void *stream_thread(void *arg)
{
    struct crimp_call *c = arg;
    struct crimp_server *srv = c->srv;
    handle_stream(c);
    atomic_fetch_sub(&srv->streams_in_flight, 1);
    return NULL;
}

static void start_stream(struct crimp_call *c)
{
    struct crimp_server *srv = c->srv;
    pthread_t t;
    pthread_attr_t attr;
    if (atomic_fetch_add(&srv->streams_in_flight, 1) >= srv->cfg->max_streams) {
        atomic_fetch_sub(&srv->streams_in_flight, 1);
        cleanup_error crimp_error_t err = NULL;
        crimp_make_error(&err, GRPC_STATUS_RESOURCE_EXHAUSTED, 0,
                         "%s: too many streaming calls (max_streams %d)", c->method->name,
                         srv->cfg->max_streams);
        send_error(c, NULL, err);
        return;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, stream_thread, c) != 0) {
        atomic_fetch_sub(&srv->streams_in_flight, 1);
        cleanup_error crimp_error_t err = NULL;
        crimp_make_errno_error(&err, EAGAIN, "%s: cannot start a stream thread", c->method->name);
        send_error(c, NULL, err);
    }
    pthread_attr_destroy(&attr);
}

static void on_closed(struct crimp_tag *tag, bool ok)
{
    struct crimp_call *c = container_of(tag, struct crimp_call, closed_tag);
    if (c->close_cancelled) {
        atomic_store(&c->rpc.cancelled, true);
        log_debug("%s: cancelled by the client or its deadline",
                  c->method ? crimp_method_display(c->method) : "unknown method");
    }
    call_unref(c);
}

static void on_sent(struct crimp_tag *tag, bool ok)
{
    struct crimp_call *c = container_of(tag, struct crimp_call, sent_tag);
    unary_done(c);
    call_unref(c);
}

static void watch_close(struct crimp_call *c)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    atomic_fetch_add(&c->refs, 1);
    if (grpc_call_start_batch(c->call, &op, 1, &c->closed_tag, NULL) != GRPC_CALL_OK)
        call_unref(c);
}

static void answer_unknown_method(struct crimp_call *c)
{
    cleanup_free char *method = grpc_slice_to_c_string(c->details.method);
    cleanup_error crimp_error_t err = NULL;
    crimp_make_error(&err, GRPC_STATUS_UNIMPLEMENTED, 0, "unknown method %s", method);
    send_error(c, NULL, err);
}

static void dispatch(struct crimp_call *c)
{
    struct crimp_server *srv = c->srv;
    if (c->method == NULL) {
        answer_unknown_method(c);
        return;
    }
    switch (c->method->lane) {
    case LANE_INLINE:
        handle_unary(c);
        break;
    case LANE_FAST:
    case LANE_SLOW:
        atomic_fetch_add(&srv->unary_in_flight, 1);
        if (c->method->lane == LANE_FAST && crimp_passthrough_start(c))
            break;
        c->job.run = run_job;
        c->job.home = lane_pool(srv, c->method);
        if (!crimp_pool_try_submit(lane_pool(srv, c->method), &c->job)) {
            cleanup_error crimp_error_t err = NULL;
            crimp_make_error(&err, GRPC_STATUS_RESOURCE_EXHAUSTED, 0,
                             "%s: crimpd's %s lane has %d calls waiting (max_queued)",
                             c->method->name, c->method->lane == LANE_SLOW ? "slow" : "fast",
                             srv->cfg->max_queued);
            send_error(c, NULL, err);
        }
        break;
    case LANE_STREAM:
        start_stream(c);
        break;
    }
}

static void on_matched(struct crimp_tag *tag, bool ok)
{
    struct crimp_call *c = container_of(tag, struct crimp_call, matched_tag);
    if (!ok) {
        /* The server is shutting down and withdrew the request.  */
        call_unref(c);
        return;
    }
    if (!atomic_load(&c->srv->stopping))
        crimp_call_request(c->srv, c->method, c->registered);
    c->start_ns = crimp_now_mono_ns();
    c->start_real_ns = crimp_now_real_ns();
    if (c->method && c->method->lane != LANE_INLINE) {
        c->trace = xmalloc(sizeof(*c->trace));
        c->trace->start_mono_ns = c->start_ns;
        c->trace->n_spans = c->trace->dropped = c->trace->depth = 0;
        c->trace->backend = 0;
    }
    c->backend_index = -1;
    c->held_slot = c->parked_slot = -1;
    if (c->method)
        crimp_recorder_begin(c->srv->recorder);
    c->rpc.call = c->call;
    c->rpc.deadline = c->deadline;
    c->rpc.method = c->method ? c->method->path : "";
    c->rpc.send = stream_send;
    watch_close(c);
    dispatch(c);
}

/* A parked call is answered by crimp once its deadline is this near, so
 * that the client reads which backend held it up rather than its own
 * timer's "Deadline Exceeded": before the calls it waits behind give up
 * (they keep a margin of at most 250 ms, common/deadline.h), as a slot
 * they free then would come too late to be of use.  */
#define PARKED_ANSWER_NS 400000000LL

static bool parked_due(struct crimp_job *job, void *arg)
{
    struct crimp_call *c = container_of(job, struct crimp_call, job);
    if (arg != NULL || crimp_rpc_cancelled(&c->rpc))
        return true;
    int64_t deadline = crimp_deadline_mono_ns(c->deadline);
    return deadline != CRIMP_NO_DEADLINE && deadline - crimp_now_mono_ns() < PARKED_ANSWER_NS;
}

static void answer_parked(struct crimp_call *c, struct crimp_bulkhead *bh)
{
    const struct crimp_backend *b = crimp_router_get(c->srv->router, (size_t)c->parked_slot);
    const char *name = b ? b->config->name : "?";
    if (crimp_rpc_cancelled(&c->rpc) || atomic_load(&c->srv->stopping)) {
        crimp_call_finish(c, NULL, GRPC_STATUS_CANCELLED, "cancelled while waiting for a turn");
        return;
    }
    struct crimp_bulkhead_counts n;
    crimp_bulkhead_counts(bh, &n);
    cleanup_error crimp_error_t err = NULL;
    crimp_make_error(&err, GRPC_STATUS_DEADLINE_EXCEEDED, 0,
                     "backend `%s` (%s at %s): waited %.1f s for a turn behind %d running calls "
                     "(max_calls %d): the backend is slow or not answering",
                     name, b ? b->config->type : "?", b ? b->config->endpoint : "?",
                     (double)(crimp_now_mono_ns() - c->parked_ns) / 1e9, n.running, n.max_calls);
    send_error(c, name, err);
}

void crimp_call_expire_parked(struct crimp_server *srv, bool all)
{
    size_t n = crimp_router_count(srv->router);
    for (size_t i = 0; i < n; i++)
        for (int slow = 0; slow < 2; slow++) {
            struct crimp_bulkhead *bh = crimp_router_bulkhead(srv->router, i, slow);
            struct crimp_job *j = bh ? crimp_bulkhead_take_due(bh, parked_due, all ? srv : NULL)
                                     : NULL;
            while (j != NULL) {
                struct crimp_job *next = j->next;
                answer_parked(container_of(j, struct crimp_call, job), bh);
                j = next;
            }
        }
}

void crimp_call_request(struct crimp_server *srv, const struct crimp_method *method,
                        void *registered)
{
    struct crimp_call *c = xcalloc(1, sizeof(*c));
    c->srv = srv;
    c->method = method;
    c->registered = registered;
    c->matched_tag.done = on_matched;
    c->closed_tag.done = on_closed;
    c->sent_tag.done = on_sent;
    c->stream_tag.done = on_stream_sent;
    c->status_details = grpc_empty_slice();
    atomic_init(&c->refs, 1);
    atomic_init(&c->rpc.cancelled, false);
    pthread_mutex_init(&c->stream_lock, NULL);
    pthread_cond_init(&c->stream_cond, NULL);
    grpc_metadata_array_init(&c->request_md);
    grpc_call_details_init(&c->details);

    grpc_call_error ce;
    if (registered)
        ce = grpc_server_request_registered_call(srv->server, registered, &c->call, &c->deadline,
                                                 &c->request_md, &c->payload, srv->cq, srv->cq,
                                                 &c->matched_tag);
    else
        ce = grpc_server_request_call(srv->server, &c->call, &c->details, &c->request_md, srv->cq,
                                      srv->cq, &c->matched_tag);
    if (ce != GRPC_CALL_OK) {
        log_error("grpc: cannot request a call: %s", grpc_call_error_to_string(ce));
        call_unref(c);
    }
}
