/* A small synchronous gRPC client on grpc C core for protobuf-c messages:
 * used by the cri passthrough backend, crimpctl and the benchmarks.  */
#ifndef CRIMP_GRPC_CLIENT_H
#define CRIMP_GRPC_CLIENT_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "error.h"

/* Opens an insecure channel to ENDPOINT: "unix:///path", "unix:/path", a bare
 * "/path" (taken as a unix socket) or "host:port".  MAX_MESSAGE bounds both
 * directions (0 keeps gRPC's default).  Never fails: gRPC connects lazily and
 * reports UNAVAILABLE on the first call.  */
grpc_channel *crimp_grpc_channel_open(const char *endpoint, int max_message);

/* The gRPC target string for ENDPOINT (see above); caller frees.  */
char *crimp_grpc_target(const char *endpoint);

/* A deadline SECONDS from now (<= 0: none).  */
gpr_timespec crimp_grpc_deadline_in(double seconds);

/* Calls METHOD ("/runtime.v1.RuntimeService/Version") with REQ and waits for
 * the reply, unpacked as RESP_DESC into *RESP (free it with
 * protobuf_c_message_free_unpacked).  PARENT, when not NULL, is a server call
 * whose deadline and cancellation propagate.  A non-OK status becomes *err
 * with the peer's code and message unchanged.  */
int crimp_grpc_unary(grpc_channel *ch, grpc_call *parent, const char *method,
                     gpr_timespec deadline, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                     crimp_error_t *err);

/* The same with the request already serialized: REQ_BYTES may be anything,
 * which is what tests of bad input need.  */
int crimp_grpc_unary_raw(grpc_channel *ch, grpc_call *parent, const char *method,
                         gpr_timespec deadline, const void *req_bytes, size_t req_len,
                         const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                         crimp_error_t *err);

/* A server-streaming call in progress.  */
struct crimp_grpc_stream;

/* Starts a server-streaming call; NULL with *err on failure.  */
struct crimp_grpc_stream *crimp_grpc_stream_start(grpc_channel *ch, grpc_call *parent,
                                                  const char *method, gpr_timespec deadline,
                                                  const ProtobufCMessage *req, crimp_error_t *err);

/* Waits for the next message: returns 1 with *MSG set, 0 when the stream
 * ended with OK, < 0 with *err when it ended with another status.  */
int crimp_grpc_stream_next(struct crimp_grpc_stream *s, const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **msg, crimp_error_t *err);

/* Cancels the call if it is still open and frees everything.  NULL-safe.  */
void crimp_grpc_stream_free(struct crimp_grpc_stream *s);

/* Packs MSG into a new byte buffer.  */
grpc_byte_buffer *crimp_pack_to_byte_buffer(const ProtobufCMessage *msg);

/* Unpacks a byte buffer as DESC; NULL when the bytes do not parse.  */
ProtobufCMessage *crimp_unpack_byte_buffer(grpc_byte_buffer *bb,
                                           const ProtobufCMessageDescriptor *desc);

#endif
