/* Synchronous unary and server-streaming gRPC calls on grpc C core.  */
#include "grpc_client.h"
#include "trace.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <pthread.h>

#include "utils.h"

char *crimp_grpc_target(const char *endpoint)
{
    if (has_prefix(endpoint, "unix://"))
        return xasprintf("unix:%s", endpoint + strlen("unix://"));
    if (endpoint[0] == '/')
        return xasprintf("unix:%s", endpoint);
    return xstrdup(endpoint);
}

grpc_channel *crimp_grpc_channel_open(const char *endpoint, int max_message)
{
    cleanup_free char *target = crimp_grpc_target(endpoint);
    grpc_arg args[2];
    grpc_channel_args chargs = {.num_args = 0, .args = args};
    if (max_message > 0) {
        args[0].type = GRPC_ARG_INTEGER;
        args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
        args[0].value.integer = max_message;
        args[1].type = GRPC_ARG_INTEGER;
        args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
        args[1].value.integer = max_message;
        chargs.num_args = 2;
    }
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    return ch;
}

gpr_timespec crimp_grpc_deadline_in(double seconds)
{
    if (seconds <= 0)
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_micros((int64_t)(seconds * 1e6), GPR_TIMESPAN));
}

grpc_byte_buffer *crimp_pack_to_byte_buffer(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    grpc_slice slice = grpc_slice_malloc(len);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return bb;
}

ProtobufCMessage *crimp_unpack_byte_buffer(grpc_byte_buffer *bb,
                                           const ProtobufCMessageDescriptor *desc)
{
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return NULL;
    grpc_slice slice = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(slice),
                                                      GRPC_SLICE_START_PTR(slice));
    grpc_slice_unref(slice);
    return msg;
}

/* One pluck queue per thread: creating a queue per call costs more than the
 * call itself on a fast local channel.  */
static pthread_key_t cq_key;
static pthread_once_t cq_once = PTHREAD_ONCE_INIT;

static void destroy_thread_cq(void *p)
{
    grpc_completion_queue *cq = p;
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
}

static void make_cq_key(void)
{
    pthread_key_create(&cq_key, destroy_thread_cq);
}

static grpc_completion_queue *thread_cq(void)
{
    pthread_once(&cq_once, make_cq_key);
    grpc_completion_queue *cq = pthread_getspecific(cq_key);
    if (cq == NULL) {
        cq = grpc_completion_queue_create_for_pluck(NULL);
        pthread_setspecific(cq_key, cq);
    }
    return cq;
}

static int pluck(grpc_completion_queue *cq, void *tag)
{
    grpc_event ev = grpc_completion_queue_pluck(cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success ? 0 : -1;
}

static grpc_call *create_call(grpc_channel *ch, grpc_call *parent, grpc_completion_queue *cq,
                              const char *method, gpr_timespec deadline)
{
    grpc_slice m = grpc_slice_from_static_string(method);
    grpc_call *call = grpc_channel_create_call(ch, parent, parent ? GRPC_PROPAGATE_DEFAULTS : 0, cq,
                                               m, NULL, deadline, NULL);
    grpc_slice_unref(m);
    return call;
}

static void send_initial_metadata_op(grpc_op *op, const struct crimp_grpc_call_opts *opts)
{
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    if (opts != NULL) {
        op->flags = opts->flags;
        op->data.send_initial_metadata.count = opts->n_md;
        op->data.send_initial_metadata.metadata = (grpc_metadata *)opts->md;
    }
}

/* The peer's status becomes the error as it is: a passthrough must not
 * reword what the runtime said.  */
static int status_to_error(grpc_status_code status, grpc_slice details, crimp_error_t *err)
{
    char *text = grpc_slice_to_c_string(details);
    int ret = crimp_make_error(err, status, 0, "%s", text[0] ? text : crimp_status_name(status));
    gpr_free(text);
    return ret;
}

/* Unpacks BB (a reply, or WHAT) into *MSG.  */
static int unpack_reply(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                        ProtobufCMessage **msg, const char *method, const char *what,
                        crimp_error_t *err)
{
    *msg = crimp_unpack_byte_buffer(bb, desc);
    if (*msg == NULL)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: cannot parse %s", method, what);
    return 0;
}

void crimp_grpc_short_name(const char *method, char *out, size_t size)
{
    const char *slash = strrchr(method, '/');
    const char *start = method;
    if (slash != NULL) {
        for (const char *p = method; p < slash; p++)
            if (*p == '.' || *p == '/')
                start = p + 1;
    }
    snprintf(out, size, "%s", start);
}

void crimp_grpc_unary_release(struct crimp_grpc_async_unary *u)
{
    if (u->reply)
        grpc_byte_buffer_destroy(u->reply);
    grpc_byte_buffer_destroy(u->request);
    grpc_slice_unref(u->details);
    grpc_metadata_array_destroy(&u->initial_md);
    grpc_metadata_array_destroy(&u->trailing_md);
    grpc_call_unref(u->call);
    memset(u, 0, sizeof(*u));
}

int crimp_grpc_unary_begin_raw(struct crimp_grpc_async_unary *u, grpc_channel *ch,
                               grpc_call *parent, grpc_completion_queue *cq, const char *method,
                               gpr_timespec deadline, const struct crimp_grpc_call_opts *opts,
                               grpc_byte_buffer *request, void *tag, crimp_error_t *err)
{
    memset(u, 0, sizeof(*u));
    u->method = method;
    u->call = create_call(ch, parent, cq, method, deadline);
    u->request = request;
    u->status = GRPC_STATUS_UNKNOWN;
    u->details = grpc_empty_slice();
    grpc_metadata_array_init(&u->initial_md);
    grpc_metadata_array_init(&u->trailing_md);

    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    send_initial_metadata_op(&ops[0], opts);
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = u->request;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &u->reply;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &u->status;
    ops[5].data.recv_status_on_client.status_details = &u->details;
    ops[5].data.recv_status_on_client.trailing_metadata = &u->trailing_md;
    grpc_call_error ce = grpc_call_start_batch(u->call, ops, 6, tag, NULL);
    if (ce != GRPC_CALL_OK) {
        crimp_grpc_unary_release(u);
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: grpc batch failed (%d)", method,
                                (int)ce);
    }
    return 0;
}

int crimp_grpc_unary_begin(struct crimp_grpc_async_unary *u, grpc_channel *ch, grpc_call *parent,
                           grpc_completion_queue *cq, const char *method, gpr_timespec deadline,
                           const struct crimp_grpc_call_opts *opts, const ProtobufCMessage *req,
                           void *tag, crimp_error_t *err)
{
    return crimp_grpc_unary_begin_raw(u, ch, parent, cq, method, deadline, opts,
                          crimp_pack_to_byte_buffer(req), tag, err);
}

int crimp_grpc_unary_end(struct crimp_grpc_async_unary *u,
                         const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                         crimp_error_t *err)
{
    int ret = 0;
    if (u->status != GRPC_STATUS_OK)
        ret = status_to_error(u->status, u->details, err);
    else if (u->reply == NULL)
        ret = crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: reply carried no message",
                               u->method);
    else
        ret = unpack_reply(u->reply, resp_desc, resp, u->method, "the reply", err);
    crimp_grpc_unary_release(u);
    return ret;
}

static int unary_bb(grpc_channel *ch, grpc_call *parent, const char *method,
                    gpr_timespec deadline, const struct crimp_grpc_call_opts *opts,
                    grpc_byte_buffer *req_bb, const ProtobufCMessageDescriptor *resp_desc,
                    ProtobufCMessage **resp, crimp_error_t *err)
{
    int64_t started = crimp_now_mono_ns();
    grpc_completion_queue *cq = thread_cq();
    struct crimp_grpc_async_unary u;
    int ret =
        crimp_grpc_unary_begin_raw(&u, ch, parent, cq, method, deadline, opts, req_bb, &u, err);
    grpc_status_code status = GRPC_STATUS_INTERNAL;
    if (ret == 0) {
        /* A batch with RECV_STATUS always succeeds: the outcome is the status.  */
        pluck(cq, &u);
        status = u.status;
        ret = crimp_grpc_unary_end(&u, resp_desc, resp, err);
    }
    char name[CRIMP_TRACE_NAME_LEN];
    crimp_grpc_short_name(method, name, sizeof(name));
    crimp_trace_span(CRIMP_SPAN_GRPC, name, (int)status, started, crimp_now_mono_ns());
    return ret;
}

int crimp_grpc_unary_opts(grpc_channel *ch, grpc_call *parent, const char *method,
                          gpr_timespec deadline, const struct crimp_grpc_call_opts *opts,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, crimp_error_t *err)
{
    return unary_bb(ch, parent, method, deadline, opts, crimp_pack_to_byte_buffer(req), resp_desc,
                    resp, err);
}

int crimp_grpc_unary(grpc_channel *ch, grpc_call *parent, const char *method,
                     gpr_timespec deadline, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                     crimp_error_t *err)
{
    return crimp_grpc_unary_opts(ch, parent, method, deadline, NULL, req, resp_desc, resp, err);
}

struct crimp_grpc_stream {
    grpc_completion_queue *cq; /* its own: the stream may outlive the thread's */
    grpc_call *call;
    char *method;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
    bool got_initial_md; /* bidi: asked for with the first exchange */
    bool finished;
};

/* Opens METHOD and sends its metadata; with REQ (a server stream) also the
 * one request and the half-close.  */
static struct crimp_grpc_stream *open_stream(grpc_channel *ch, grpc_call *parent,
                                             const char *method, gpr_timespec deadline,
                                             const struct crimp_grpc_call_opts *opts,
                                             const ProtobufCMessage *req, crimp_error_t *err)
{
    struct crimp_grpc_stream *s = xcalloc(1, sizeof(*s));
    s->cq = grpc_completion_queue_create_for_pluck(NULL);
    s->call = create_call(ch, parent, s->cq, method, deadline);
    s->method = xstrdup(method);
    s->details = grpc_empty_slice();
    grpc_metadata_array_init(&s->initial_md);
    grpc_metadata_array_init(&s->trailing_md);

    grpc_byte_buffer *bb = req ? crimp_pack_to_byte_buffer(req) : NULL;
    grpc_op ops[4];
    size_t n = 1;
    memset(ops, 0, sizeof(ops));
    send_initial_metadata_op(&ops[0], opts);
    if (req != NULL) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = bb;
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    }
    if (req != NULL && !(opts && opts->defer_initial_md)) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
        s->got_initial_md = true;
    }
    grpc_call_error ce = grpc_call_start_batch(s->call, ops, n, s, NULL);
    int ok = ce == GRPC_CALL_OK ? pluck(s->cq, s) : -1;
    if (bb)
        grpc_byte_buffer_destroy(bb);
    if (ok < 0) {
        /* The status, read below, says why (e.g. UNAVAILABLE).  */
        ProtobufCMessage *none = NULL;
        crimp_grpc_stream_next(s, NULL, &none, err);
        crimp_grpc_stream_free(s);
        if (*err == NULL)
            crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: cannot start the stream", method);
        return NULL;
    }
    return s;
}

struct crimp_grpc_stream *crimp_grpc_stream_start_opts(grpc_channel *ch, grpc_call *parent,
                                                       const char *method, gpr_timespec deadline,
                                                       const struct crimp_grpc_call_opts *opts,
                                                       const ProtobufCMessage *req,
                                                       crimp_error_t *err)
{
    return open_stream(ch, parent, method, deadline, opts, req, err);
}

struct crimp_grpc_stream *crimp_grpc_stream_start(grpc_channel *ch, grpc_call *parent,
                                                  const char *method, gpr_timespec deadline,
                                                  const ProtobufCMessage *req, crimp_error_t *err)
{
    return open_stream(ch, parent, method, deadline, NULL, req, err);
}

struct crimp_grpc_stream *crimp_grpc_bidi_start(grpc_channel *ch, grpc_call *parent,
                                                const char *method, gpr_timespec deadline,
                                                const struct crimp_grpc_call_opts *opts,
                                                crimp_error_t *err)
{
    return open_stream(ch, parent, method, deadline, opts, NULL, err);
}

static int finish_stream(struct crimp_grpc_stream *s, crimp_error_t *err)
{
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.status = &s->status;
    op.data.recv_status_on_client.status_details = &s->details;
    op.data.recv_status_on_client.trailing_metadata = &s->trailing_md;
    if (grpc_call_start_batch(s->call, &op, 1, &s->status, NULL) != GRPC_CALL_OK ||
        pluck(s->cq, &s->status) < 0)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: no final status", s->method);
    s->finished = true;
    if (s->status != GRPC_STATUS_OK)
        return status_to_error(s->status, s->details, err);
    return 0;
}

/* The next message the peer sent, or NULL at the end of its side.  */
/* Fills OP to receive the server's headers unless asked already; returns
 * how many ops it filled (0 or 1).  */
static size_t recv_initial_md_op(struct crimp_grpc_stream *s, grpc_op *op)
{
    if (s->got_initial_md)
        return 0;
    op->op = GRPC_OP_RECV_INITIAL_METADATA;
    op->data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    s->got_initial_md = true;
    return 1;
}

static grpc_byte_buffer *recv_message(struct crimp_grpc_stream *s)
{
    grpc_byte_buffer *bb = NULL;
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    n += recv_initial_md_op(s, &ops[n]); /* a deferred start: headers come with the first message */
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &bb;
    if (grpc_call_start_batch(s->call, ops, n, &bb, NULL) == GRPC_CALL_OK)
        pluck(s->cq, &bb);
    return bb;
}

int crimp_grpc_stream_next(struct crimp_grpc_stream *s, const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **msg, crimp_error_t *err)
{
    if (s->finished)
        return 0;
    grpc_byte_buffer *bb = desc != NULL ? recv_message(s) : NULL;
    if (bb == NULL)
        return finish_stream(s, err);
    int ret = unpack_reply(bb, desc, msg, s->method, "a streamed message", err);
    grpc_byte_buffer_destroy(bb);
    return ret < 0 ? ret : 1;
}

int crimp_grpc_bidi_exchange(struct crimp_grpc_stream *s, const ProtobufCMessage *req,
                             const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                             crimp_error_t *err)
{
    if (s->finished)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: the call is over", s->method);
    grpc_byte_buffer *bb = crimp_pack_to_byte_buffer(req), *reply = NULL;
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = bb;
    n += recv_initial_md_op(s, &ops[n]);
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &reply;
    /* A failed send (the peer ended the call) shows as no reply.  */
    if (grpc_call_start_batch(s->call, ops, n, &reply, NULL) == GRPC_CALL_OK)
        pluck(s->cq, &reply);
    grpc_byte_buffer_destroy(bb);
    if (reply == NULL) {
        if (finish_stream(s, err) < 0)
            return -1;
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: the call ended without a reply",
                                s->method);
    }
    int ret = unpack_reply(reply, desc, resp, s->method, "the reply", err);
    grpc_byte_buffer_destroy(reply);
    return ret;
}

int crimp_grpc_bidi_close(struct crimp_grpc_stream *s, crimp_error_t *err)
{
    if (s->finished)
        return s->status == GRPC_STATUS_OK ? 0 : status_to_error(s->status, s->details, err);
    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    if (grpc_call_start_batch(s->call, &op, 1, &op, NULL) == GRPC_CALL_OK)
        pluck(s->cq, &op);
    grpc_byte_buffer *bb;
    while ((bb = recv_message(s)) != NULL)
        grpc_byte_buffer_destroy(bb);
    return finish_stream(s, err);
}

void crimp_grpc_stream_cancel(struct crimp_grpc_stream *s)
{
    grpc_call_cancel(s->call, NULL); /* thread-safe in grpc core */
}

void crimp_grpc_stream_free(struct crimp_grpc_stream *s)
{
    if (s == NULL)
        return;
    if (!s->finished) {
        crimp_error_t ignored = NULL;
        grpc_call_cancel(s->call, NULL);
        finish_stream(s, &ignored);
        crimp_error_release(&ignored);
    }
    grpc_call_unref(s->call);
    grpc_completion_queue_shutdown(s->cq);
    /* Drain: a queue must be empty before it is destroyed.  */
    while (grpc_completion_queue_pluck(s->cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(s->cq);
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->initial_md);
    grpc_metadata_array_destroy(&s->trailing_md);
    free(s->method);
    free(s);
}
