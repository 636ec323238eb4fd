/* The method table: one entry per CRI RPC (built from proto/cri_rpcs.h),
 * telling crimpd how to decode the request, which lane runs it, which field
 * must be set, and how to call the backend operation that serves it.  */
#ifndef CRIMP_DISPATCH_H
#define CRIMP_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "stream.h"

enum crimp_lane { LANE_INLINE, LANE_FAST, LANE_SLOW, LANE_STREAM };

/* The route, access and ids columns of proto/cri_rpcs.h (explained there).  */
enum crimp_route {
    ROUTE_DEFAULT,
    ROUTE_NEW_POD,
    ROUTE_POD,
    ROUTE_CONTAINER,
    ROUTE_ALL,
    ROUTE_ALL_STRICT,
    ROUTE_PULL,
    ROUTE_FOLLOW_ALL,
};
enum crimp_ids {
    IDS_NONE,
    IDS_ADD_POD,
    IDS_ADD_CONTAINER,
    IDS_DROP_POD,
    IDS_DROP_CONTAINER,
    IDS_LIST_PODS,
    IDS_LIST_CONTAINERS,
};

struct crimp_method {
    const char *path;    /* "/runtime.v1.RuntimeService/Version" */
    const char *service; /* "RuntimeService" */
    const char *name;    /* "Version" */
    const ProtobufCMessageDescriptor *req_desc;
    const ProtobufCMessageDescriptor *resp_desc;
    bool streaming;
    enum crimp_lane lane;
    const char *required; /* request field that must be set, or NULL */
    enum crimp_route route;
    bool read_only;                 /* access RO: the passthrough fast path may forward it */
    enum crimp_ids ids;             /* its effect on the ownership table */
    bool has_session;               /* the reply is a streaming-server URL ... */
    enum crimp_stream_kind session; /* ... for this kind of session */
    size_t op_offset;               /* of the operation in struct crimp_backend_ops */
    int (*call_unary)(struct crimp_backend *b, struct crimp_rpc *rpc, const ProtobufCMessage *req,
                      ProtobufCMessage *resp, crimp_error_t *err);
    int (*call_stream)(struct crimp_backend *b, struct crimp_rpc *rpc, const ProtobufCMessage *req,
                       crimp_error_t *err);
};

/* All methods, in cri.proto's order.  */
extern const struct crimp_method crimp_methods[];
extern const size_t crimp_n_methods;

/* Sessions on crimp's streaming server are recorded as calls too: method
 * index crimp_n_methods + enum crimp_stream_kind, shown as service "stream"
 * and method "exec", "attach" or "portforward".  */
extern const size_t crimp_n_recorded_methods;
int crimp_session_method(enum crimp_stream_kind kind);
bool crimp_method_is_session(int method);
/* The service and method names of a recorded method index.  */
const char *crimp_recorded_service(int method);
const char *crimp_recorded_name(int method);

/* Whether backend B implements METHOD's operation.  */
bool crimp_method_supported(const struct crimp_method *m, const struct crimp_backend *b);

/* Checks the field every backend needs: INVALID_ARGUMENT naming it when it
 * is an empty string or an absent message, or naming any string field that
 * is not UTF-8 (proto3 requires it; JSON cannot carry it).  */
int crimp_method_validate(const struct crimp_method *m, const ProtobufCMessage *req,
                          crimp_error_t *err);

/* Makes RPC's deadline and cancellation this thread's budget
 * (common/deadline.h) for calls to B, whose call_timeout bounds calls that
 * came without a deadline; B NULL: crimpd's own default, DEFAULT_S.  */
void crimp_rpc_budget_enter(struct crimp_rpc *rpc, const struct crimp_backend *b,
                            double default_s);

/* The short name for logs: "RuntimeService/Version".  */
const char *crimp_method_display(const struct crimp_method *m);
/* The ID REQ names in the method's required field when that is a string
 * (a pod or container ID), else NULL: what a call log line shows.  */
const char *crimp_method_subject(const struct crimp_method *m, const ProtobufCMessage *req);

#endif
