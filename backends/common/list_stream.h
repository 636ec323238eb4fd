/* The streaming list RPCs (StreamPodSandboxes, StreamContainers,
 * StreamContainerStats, StreamPodSandboxStats, StreamPodSandboxMetrics,
 * StreamImages) served from their unary twins: the same operation with the
 * same filter, its answer sent one element per message.  A list larger than
 * gRPC's message limit then still reaches kubelet, which the unary call
 * cannot do.  The pairs are CRIMP_CRI_STREAM_TWINS in proto/cri_rpcs.h.  */
#ifndef CRIMP_LIST_STREAM_H
#define CRIMP_LIST_STREAM_H

#include "backend.h"
#include "cri_rpcs.h"

/* crimp_<stream_op>_from_list: a stream operation for any backend, calling
 * the backend's own unary twin (self->ops) with the request's filter.
 * UNIMPLEMENTED when the backend has no twin; otherwise the twin's error,
 * or CANCELLED when the client left.  */
#define CRIMP_LIST_STREAM_DECL(svc, SRpc, sop, sresp, lop, LReq, lreq, LResp, lresp)               \
    int crimp_##sop##_from_list(struct crimp_backend *self, struct crimp_rpc *rpc,                 \
                                const Runtime__V1__##SRpc##Request *req, crimp_error_t *err);
CRIMP_CRI_STREAM_TWINS(CRIMP_LIST_STREAM_DECL)
#undef CRIMP_LIST_STREAM_DECL

/* The six members of struct crimp_backend_ops, for a backend's table.  */
#define CRIMP_LIST_STREAM_OP(svc, SRpc, sop, sresp, lop, LReq, lreq, LResp, lresp)                 \
    .sop = crimp_##sop##_from_list,
#define CRIMP_LIST_STREAM_OPS CRIMP_CRI_STREAM_TWINS(CRIMP_LIST_STREAM_OP)

/* Sends every element of LIST's one repeated message field to RPC's
 * stream, each in its own message of type STREAM_DESC (whose one repeated
 * field has the same element type).  LIST is left as it was.  */
int crimp_stream_send_items(struct crimp_rpc *rpc, const ProtobufCMessage *list,
                            const ProtobufCMessageDescriptor *stream_desc, crimp_error_t *err);

#endif
