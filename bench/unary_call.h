/* One synchronous unary call with a pre-packed request on a pre-registered
 * method, as the benchmarks make it: nothing but the call (no packing, no
 * unpacking of the reply, no trace spans).  */
#ifndef CRIMP_BENCH_UNARY_CALL_H
#define CRIMP_BENCH_UNARY_CALL_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

/* M packed into a new slice (the caller unrefs it).  */
grpc_slice bench_pack_slice(const ProtobufCMessage *m);

/* Calls METHOD (from grpc_channel_register_call on CH) with REQ, a 10 s
 * deadline as kubelet sends one, and waits on CQ (a pluck queue).  Returns
 * 0, or -1 with *ERROR set (the caller frees it).  */
int bench_unary_call(grpc_channel *ch, void *method, grpc_completion_queue *cq, grpc_slice req,
                     char **error);

#endif
