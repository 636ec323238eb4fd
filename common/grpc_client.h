/* A small synchronous gRPC client on grpc C core for protobuf-c messages:
 * used by the cri passthrough backend, crimpctl, the benchmarks and the
 * containerd backend (which adds metadata, flags and async unary calls).  */
#ifndef CRIMP_GRPC_CLIENT_H
#define CRIMP_GRPC_CLIENT_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

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

/* What a call sends besides its message, for peers that want more than the
 * defaults (containerd: its namespace in metadata, wait-for-ready).  NULL
 * anywhere an opts pointer is taken means none.  MD (lowercase keys) and
 * the strings its slices point to must outlive the call's first batch.  */
struct crimp_grpc_call_opts {
    const grpc_metadata *md;
    size_t n_md;
    uint32_t flags; /* GRPC_INITIAL_METADATA_*, e.g. WAIT_FOR_READY */
    /* Server streams: the start returns once the request is sent, and the
     * first next waits for the server's headers too.  For a stream the
     * server may keep silent (an events subscription sends nothing before
     * the first event), so that its owner can cancel it meanwhile.  */
    bool defer_initial_md;
};

/* "/runtime.v1.RuntimeService/Version" → "RuntimeService/Version": the
 * name of a call in traces and messages.  */
void crimp_grpc_short_name(const char *method, char *out, size_t size);

/* Calls METHOD ("/runtime.v1.RuntimeService/Version") with REQ and waits for
 * the reply, unpacked as RESP_DESC into *RESP (free it with
 * protobuf_c_message_free_unpacked).  PARENT, when not NULL, is a server call
 * whose deadline and cancellation propagate.  A non-OK status becomes *err
 * with the peer's code and message unchanged.  */
int crimp_grpc_unary(grpc_channel *ch, grpc_call *parent, const char *method,
                     gpr_timespec deadline, const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                     crimp_error_t *err);

/* The same with OPTS.  */
int crimp_grpc_unary_opts(grpc_channel *ch, grpc_call *parent, const char *method,
                          gpr_timespec deadline, const struct crimp_grpc_call_opts *opts,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, crimp_error_t *err);

/* A unary call completing on the caller's own queue (a CQ_NEXT thread, say).
 * gRPC writes into it until TAG completes, so it must stay put till then.  */
struct crimp_grpc_async_unary {
    const char *method; /* must outlive the call */
    grpc_call *call;
    grpc_byte_buffer *request, *reply;
    grpc_metadata_array initial_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
};

/* Starts METHOD with REQ on CQ; TAG completes when the call is over.  On
 * failure nothing is pending and U holds nothing.  */
int crimp_grpc_unary_begin(struct crimp_grpc_async_unary *u, grpc_channel *ch, grpc_call *parent,
                           grpc_completion_queue *cq, const char *method, gpr_timespec deadline,
                           const struct crimp_grpc_call_opts *opts, const ProtobufCMessage *req,
                           void *tag, crimp_error_t *err);

/* The same with the request already serialized: REQUEST is taken (a
 * proxy forwards the bytes it received).  */
int crimp_grpc_unary_begin_raw(struct crimp_grpc_async_unary *u, grpc_channel *ch,
                               grpc_call *parent, grpc_completion_queue *cq, const char *method,
                               gpr_timespec deadline, const struct crimp_grpc_call_opts *opts,
                               grpc_byte_buffer *request, void *tag, crimp_error_t *err);

/* Releases what U holds (call, buffers, metadata) without reading the
 * reply: for callers that take u->reply or the status themselves.  */
void crimp_grpc_unary_release(struct crimp_grpc_async_unary *u);

/* After TAG completed: the reply unpacked as RESP_DESC into *RESP, or *err
 * from the status, as crimp_grpc_unary.  Releases what U holds.  */
int crimp_grpc_unary_end(struct crimp_grpc_async_unary *u,
                         const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                         crimp_error_t *err);

/* A server-streaming (or bidirectional) call in progress.  */
struct crimp_grpc_stream;

/* Starts a server-streaming call; NULL with *err on failure.  */
struct crimp_grpc_stream *crimp_grpc_stream_start(grpc_channel *ch, grpc_call *parent,
                                                  const char *method, gpr_timespec deadline,
                                                  const ProtobufCMessage *req, crimp_error_t *err);

/* The same with OPTS.  */
struct crimp_grpc_stream *crimp_grpc_stream_start_opts(grpc_channel *ch, grpc_call *parent,
                                                       const char *method, gpr_timespec deadline,
                                                       const struct crimp_grpc_call_opts *opts,
                                                       const ProtobufCMessage *req,
                                                       crimp_error_t *err);

/* Waits for the next message: returns 1 with *MSG set, 0 when the stream
 * ended with OK, < 0 with *err when it ended with another status.  */
int crimp_grpc_stream_next(struct crimp_grpc_stream *s, const ProtobufCMessageDescriptor *desc,
                           ProtobufCMessage **msg, crimp_error_t *err);

/* A bidirectional call driven in lock-step (one request, one reply, as
 * containerd's Content/Write wants): only its metadata is sent here.  */
struct crimp_grpc_stream *crimp_grpc_bidi_start(grpc_channel *ch, grpc_call *parent,
                                                const char *method, gpr_timespec deadline,
                                                const struct crimp_grpc_call_opts *opts,
                                                crimp_error_t *err);

/* Sends REQ and waits for its reply, unpacked as DESC into *RESP.  When the
 * peer ends the call instead, *err holds its status (INTERNAL if that was
 * OK) and the call is over.  */
int crimp_grpc_bidi_exchange(struct crimp_grpc_stream *s, const ProtobufCMessage *req,
                             const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                             crimp_error_t *err);

/* Half-closes, discards what the peer still sends (a status is not
 * delivered while messages are unread) and returns the final status.  */
int crimp_grpc_bidi_close(struct crimp_grpc_stream *s, crimp_error_t *err);

/* Cancels the call from any thread (a waiting next then fails); the owner
 * still frees it.  */
void crimp_grpc_stream_cancel(struct crimp_grpc_stream *s);

/* Cancels the call if it is still open and frees everything.  NULL-safe.  */
void crimp_grpc_stream_free(struct crimp_grpc_stream *s);

/* Packs MSG into a new byte buffer.  */
grpc_byte_buffer *crimp_pack_to_byte_buffer(const ProtobufCMessage *msg);

/* Unpacks a byte buffer as DESC; NULL when the bytes do not parse.  */
ProtobufCMessage *crimp_unpack_byte_buffer(grpc_byte_buffer *bb,
                                           const ProtobufCMessageDescriptor *desc);

#endif
