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

/* The peer's status becomes the error as it is: a passthrough must not
 * reword what the runtime said.  */
static int status_to_error(grpc_status_code status, grpc_slice details, crimp_error_t *err)
{
    char *text = grpc_slice_to_c_string(details);
    int ret = crimp_make_error(err, status, 0, "%s", text[0] ? text : crimp_status_name(status));
    gpr_free(text);
    return ret;
}

/* "/runtime.v1.RuntimeService/Version" → "RuntimeService/Version": the span
 * name a reader of a trace recognises, short enough for a table.  */
static void span_name(const char *method, char *out, size_t size)
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

static int unary_bb(grpc_channel *ch, grpc_call *parent, const char *method,
                    gpr_timespec deadline, grpc_byte_buffer *req_bb,
                    const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                    crimp_error_t *err)
{
    int64_t started = crimp_now_mono_ns();
    grpc_completion_queue *cq = thread_cq();
    grpc_call *call = create_call(ch, parent, cq, method, deadline);
    grpc_metadata_array initial_md, trailing_md;
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailing_md);
    grpc_byte_buffer *resp_bb = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &resp_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;

    int ret = 0;
    grpc_call_error ce = grpc_call_start_batch(call, ops, 6, &status, NULL);
    if (ce != GRPC_CALL_OK || pluck(cq, &status) < 0) {
        ret = crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: grpc batch failed (%d)", method,
                               (int)ce);
    } else if (status != GRPC_STATUS_OK) {
        ret = status_to_error(status, details, err);
    } else if (resp_bb == NULL) {
        ret = crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: reply carried no message",
                               method);
    } else {
        *resp = crimp_unpack_byte_buffer(resp_bb, resp_desc);
        if (*resp == NULL)
            ret = crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: cannot parse the reply",
                                   method);
    }
    if (resp_bb)
        grpc_byte_buffer_destroy(resp_bb);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailing_md);
    grpc_call_unref(call);
    char name[CRIMP_TRACE_NAME_LEN];
    span_name(method, name, sizeof(name));
    crimp_trace_span(CRIMP_SPAN_GRPC, name, (int)status, started, crimp_now_mono_ns());
    return ret;
}

int crimp_grpc_unary(grpc_channel *ch, grpc_call *parent, const char *method,
                     gpr_timespec deadline, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                     crimp_error_t *err)
{
    grpc_byte_buffer *bb = crimp_pack_to_byte_buffer(req);
    int ret = unary_bb(ch, parent, method, deadline, bb, resp_desc, resp, err);
    grpc_byte_buffer_destroy(bb);
    return ret;
}

int crimp_grpc_unary_raw(grpc_channel *ch, grpc_call *parent, const char *method,
                         gpr_timespec deadline, const void *req_bytes, size_t req_len,
                         const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                         crimp_error_t *err)
{
    grpc_slice slice = grpc_slice_from_copied_buffer(req_bytes, req_len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    int ret = unary_bb(ch, parent, method, deadline, bb, resp_desc, resp, err);
    grpc_byte_buffer_destroy(bb);
    return ret;
}

struct crimp_grpc_stream {
    grpc_completion_queue *cq; /* its own: the stream may outlive the thread's */
    grpc_call *call;
    char *method;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
    bool finished;
};

struct crimp_grpc_stream *crimp_grpc_stream_start(grpc_channel *ch, grpc_call *parent,
                                                  const char *method, gpr_timespec deadline,
                                                  const ProtobufCMessage *req, crimp_error_t *err)
{
    struct crimp_grpc_stream *s = xcalloc(1, sizeof(*s));
    s->cq = grpc_completion_queue_create_for_pluck(NULL);
    s->call = create_call(ch, parent, s->cq, method, deadline);
    s->method = xstrdup(method);
    s->details = grpc_empty_slice();
    grpc_metadata_array_init(&s->initial_md);
    grpc_metadata_array_init(&s->trailing_md);

    grpc_byte_buffer *bb = crimp_pack_to_byte_buffer(req);
    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
    grpc_call_error ce = grpc_call_start_batch(s->call, ops, 4, s, NULL);
    int ok = ce == GRPC_CALL_OK ? pluck(s->cq, s) : -1;
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

int crimp_grpc_stream_next(struct crimp_grpc_stream *s, const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **msg, crimp_error_t *err)
{
    if (s->finished)
        return 0;
    grpc_byte_buffer *bb = NULL;
    if (desc != NULL) {
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &bb;
        if (grpc_call_start_batch(s->call, &op, 1, &bb, NULL) == GRPC_CALL_OK)
            pluck(s->cq, &bb);
    }
    if (bb == NULL)
        return finish_stream(s, err);
    *msg = crimp_unpack_byte_buffer(bb, desc);
    grpc_byte_buffer_destroy(bb);
    if (*msg == NULL)
        return crimp_make_error(err, GRPC_STATUS_INTERNAL, 0, "%s: cannot parse a streamed message",
                                s->method);
    return 1;
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
