/* One CRI call inside crimpd, from the moment gRPC hands it over until its
 * status is sent and both gRPC batches that reference it have completed.
 * Internal to shim/.  */
#ifndef CRIMP_CALL_H
#define CRIMP_CALL_H

#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>

#include "backend.h"
#include "dispatch.h"
#include "pool.h"
#include "trace.h"

struct crimp_server;

/* Every tag crimpd hands to gRPC is one of these; the poller calls done().  */
struct crimp_tag {
    void (*done)(struct crimp_tag *tag, bool ok);
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct crimp_call {
    struct crimp_server *srv;
    const struct crimp_method *method; /* NULL: a method crimp does not know */
    void *registered;                  /* grpc_server_register_method handle */

    struct crimp_tag matched_tag; /* gRPC matched a client call to our request */
    struct crimp_tag closed_tag;  /* RECV_CLOSE_ON_SERVER completed */
    struct crimp_tag sent_tag;    /* the final status went out */
    struct crimp_tag stream_tag;  /* one streamed message went out */
    struct crimp_job job;         /* for the worker lanes */

    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array request_md;
    grpc_call_details details; /* only for unknown methods */
    grpc_byte_buffer *payload;
    int close_cancelled;
    atomic_int refs;
    struct crimp_rpc rpc;
    int64_t start_ns;      /* monotonic */
    int64_t start_real_ns; /* wall clock, for the record */
    int backend_index;     /* who served it: -1 for crimp itself */
    char subject[72];      /* the ID the request names, for call log lines */
    /* The backend calls this call causes; allocated when it starts and only
     * for calls that reach a backend (3 KB Version never needs: bench/).  */
    struct crimp_trace *trace;

    /* Kept alive until the final batch completes.  */
    grpc_byte_buffer *reply;
    grpc_slice status_details;
    bool initial_md_sent;

    /* A streaming call's sender waits here for each message to go out.  */
    pthread_mutex_t stream_lock;
    pthread_cond_t stream_cond;
    bool stream_done, stream_ok;
};

/* Keeps the ID REQ names (crimp_method_subject) for the call's log line.  */
void crimp_call_note_subject(struct crimp_call *c, const ProtobufCMessage *req);

/* Sends the final batch: the reply (taken, may be NULL) and the status.  */
void crimp_call_finish(struct crimp_call *c, grpc_byte_buffer *reply, grpc_status_code code,
                       const char *msg);

/* Serves C on the passthrough fast path (shim/passthrough.c) when it can;
 * false leaves C to the worker lanes.  */
bool crimp_passthrough_start(struct crimp_call *c);

/* Allocates a call that waits for gRPC to match METHOD (NULL: any unknown
 * method) and posts the request.  */
void crimp_call_request(struct crimp_server *srv, const struct crimp_method *method,
                        void *registered);

#endif
