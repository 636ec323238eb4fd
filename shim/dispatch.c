/* The method table, generated from proto/cri_rpcs.h.  Each row gets a typed
 * trampoline so that backend operations keep their exact protobuf-c types
 * while crimpd's call path handles every RPC alike.  */
#include "dispatch.h"

#include <string.h>

#include "cri_rpcs.h"
#include "deadline.h"
#include "pbutil.h"
#include "utils.h"

#define TRAMPOLINE_UNARY(op, Req, Resp)                                                            \
    static int call_##op(struct crimp_backend *b, struct crimp_rpc *rpc,                           \
                         const ProtobufCMessage *req, ProtobufCMessage *resp, crimp_error_t *err)  \
    {                                                                                              \
        return b->ops->op(b, rpc, (const Runtime__V1__##Req *)req, (Runtime__V1__##Resp *)resp,    \
                          err);                                                                    \
    }
#define TRAMPOLINE_STREAM(op, Req, Resp)                                                           \
    static int call_##op(struct crimp_backend *b, struct crimp_rpc *rpc,                           \
                         const ProtobufCMessage *req, crimp_error_t *err)                          \
    {                                                                                              \
        return b->ops->op(b, rpc, (const Runtime__V1__##Req *)req, err);                           \
    }
#define TRAMPOLINE(svc, Rpc, op, Req, req, Resp, resp, kind, ...) TRAMPOLINE_##kind(op, Req, Resp)
CRIMP_CRI_RPCS(TRAMPOLINE)

#define SERVICE_PATH_RUNTIME "RuntimeService"
#define SERVICE_PATH_IMAGE   "ImageService"
#define CALLS_UNARY(op)      .call_unary = call_##op
#define CALLS_STREAM(op)     .call_stream = call_##op
#define STREAMING_UNARY      false
#define STREAMING_STREAM     true
#define READ_ONLY_RO         true
#define READ_ONLY_RW         false
#define SESSION_NONE         .has_session = false
#define SESSION_EXEC         .has_session = true, .session = CRIMP_STREAM_EXEC
#define SESSION_ATTACH       .has_session = true, .session = CRIMP_STREAM_ATTACH
#define SESSION_PORTFORWARD  .has_session = true, .session = CRIMP_STREAM_PORTFORWARD

#define ROW(svc, Rpc, op, Req, req, Resp, resp, kind_, lane_, required_field, route_, access_,     \
            ids_, session_)                                                                        \
    {                                                                                              \
        .path = "/runtime.v1." SERVICE_PATH_##svc "/" #Rpc,                                        \
        .service = SERVICE_PATH_##svc,                                                             \
        .name = #Rpc,                                                                              \
        .req_desc = &runtime__v1__##req##__descriptor,                                             \
        .resp_desc = &runtime__v1__##resp##__descriptor,                                           \
        .streaming = STREAMING_##kind_,                                                            \
        .lane = LANE_##lane_,                                                                      \
        .required = required_field,                                                                \
        .route = ROUTE_##route_,                                                                   \
        .read_only = READ_ONLY_##access_,                                                          \
        .ids = IDS_##ids_,                                                                         \
        SESSION_##session_,                                                                        \
        .op_offset = offsetof(struct crimp_backend_ops, op),                                       \
        CALLS_##kind_(op),                                                                         \
    },

const struct crimp_method crimp_methods[] = {CRIMP_CRI_RPCS(ROW)};
const size_t crimp_n_methods = CRIMP_ARRAY_SIZE(crimp_methods);
const size_t crimp_n_recorded_methods = CRIMP_ARRAY_SIZE(crimp_methods) + CRIMP_STREAM_N_KINDS;

int crimp_session_method(enum crimp_stream_kind kind)
{
    return (int)crimp_n_methods + (int)kind;
}

bool crimp_method_is_session(int method)
{
    return method >= (int)crimp_n_methods && (size_t)method < crimp_n_recorded_methods;
}

const char *crimp_recorded_service(int method)
{
    return crimp_method_is_session(method) ? "stream" : crimp_methods[method].service;
}

const char *crimp_recorded_name(int method)
{
    if (crimp_method_is_session(method))
        return crimp_stream_kind_name((enum crimp_stream_kind)(method - (int)crimp_n_methods));
    return crimp_methods[method].name;
}

bool crimp_method_supported(const struct crimp_method *m, const struct crimp_backend *b)
{
    void (*fn)(void) = NULL;
    /* Read the member as a generic function pointer: every op has one.  */
    memcpy(&fn, (const char *)b->ops + m->op_offset, sizeof(fn));
    return fn != NULL;
}

int crimp_method_validate(const struct crimp_method *m, const ProtobufCMessage *req,
                          crimp_error_t *err)
{
    const char *bad = crimp_pb_invalid_utf8(req);
    if (bad != NULL)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                                "%s: field %s is not valid UTF-8", m->name, bad);
    if (m->required == NULL)
        return 0;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->req_desc, m->required);
    if (f == NULL)
        return 0;
    const void *slot = (const char *)req + f->offset;
    bool missing = false;
    if (f->type == PROTOBUF_C_TYPE_STRING)
        missing = str_empty(*(char *const *)slot);
    else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
        missing = *(const ProtobufCMessage *const *)slot == NULL;
    if (missing)
        return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "%s: %s must be set", m->name,
                                m->required);
    return 0;
}

const char *crimp_method_subject(const struct crimp_method *m, const ProtobufCMessage *req)
{
    if (m->required == NULL)
        return NULL;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->req_desc, m->required);
    if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING)
        return NULL;
    return *(char *const *)((const char *)req + f->offset);
}

const char *crimp_method_display(const struct crimp_method *m)
{
    return m->path + strlen("/runtime.v1.");
}

void crimp_rpc_budget_enter(struct crimp_rpc *rpc, const struct crimp_backend *b,
                            double default_s)
{
    double t = b != NULL && b->config->call_timeout > 0 ? b->config->call_timeout : default_s;
    struct crimp_budget budget = {.deadline_ns = crimp_deadline_mono_ns(rpc->deadline),
                                  .default_ns = (int64_t)(t * 1e9),
                                  .cancelled = &rpc->cancelled};
    crimp_budget_set_current(&budget);
}
