/* crimp's streaming server: the URLs Exec, Attach and PortForward return
 * for backends without a streaming server of their own (docker), and the
 * SPDY/3.1 sessions kubelet's proxy and crictl open on them
 * (docs/streaming.md).
 *
 * A URL carries a single-use token that expires after a minute and stands
 * for the whole CRI request; the HTTP server (httpd.c) upgrades the
 * connection and runs an exec/attach session (remotecommand.c) or a
 * port-forward session (portforward.c) against the backend's stream ops.  */
#ifndef CRIMP_STREAM_H
#define CRIMP_STREAM_H

#include "backend.h"
#include "trace.h"

struct crimp_stream_server;

enum crimp_stream_kind { CRIMP_STREAM_EXEC, CRIMP_STREAM_ATTACH, CRIMP_STREAM_PORTFORWARD };
#define CRIMP_STREAM_N_KINDS 3

/* "exec", "attach", "portforward": the URL path and the recorded method.  */
const char *crimp_stream_kind_name(enum crimp_stream_kind kind);

/* One finished session (a client that presented a valid token), for the
 * latency recorder.  */
struct crimp_stream_report {
    enum crimp_stream_kind kind;
    int backend_tag;       /* what crimp_stream_register was given */
    grpc_status_code code; /* OK, or why the session failed */
    int64_t start_real_ns;
    int64_t duration_ns;
    uint64_t bytes_in;  /* payload from the client to the process or pod */
    uint64_t bytes_out; /* payload from the process or pod to the client */
    /* The backend calls the session made, and a "first byte" span: from the
     * start until the process's or pod's first byte went to the client.  */
    const struct crimp_trace *trace;
};

/* Told about every session from its own thread: BEGIN when a token is
 * taken, FINISH when the session is over.  Both must be quick.  */
struct crimp_stream_observer {
    void (*begin)(void *ctx);
    void (*finish)(void *ctx, const struct crimp_stream_report *report);
    void *ctx;
};

/* What a client of the streaming port can hold; 0 fields take the
 * defaults.  */
struct crimp_stream_limits {
    /* Ends a session nobody used for this long, and one whose client (or
     * process, or pod) does not take what is sent to it within this long;
     * the exec'd process is killed.  <= 0: never.  */
    int idle_seconds;
    /* Total time a new connection has to send its request head (which
     * carries the token).  */
    int head_seconds;
    /* Connections that have not presented a valid token yet, counted
     * apart from sessions; when all are taken the oldest is cut off.  */
    int max_pending;
    int max_sessions; /* beyond: 503, the token left for a retry */
    /* The largest SPDY frame or WebSocket message accepted from a client
     * (kubelet and client-go send at most 32 KiB); bigger ends the session
     * with an error status.  Per-session input buffering stays within
     * about twice this.  */
    size_t max_message;
};
#define CRIMP_STREAM_DEFAULT_HEAD_SECONDS 10
#define CRIMP_STREAM_DEFAULT_MAX_PENDING  32
#define CRIMP_STREAM_DEFAULT_MAX_SESSIONS 256
#define CRIMP_STREAM_DEFAULT_MAX_MESSAGE  (1024 * 1024)

/* Listens on ADDRESS ("127.0.0.1:0": a free port) within LIMITS (copied).
 * OBSERVER (copied; may be NULL) hears of every session until
 * crimp_stream_stop returns.  */
struct crimp_stream_server *crimp_stream_start(const char *address,
                                               const struct crimp_stream_limits *limits,
                                               const struct crimp_stream_observer *observer,
                                               crimp_error_t *err);
void crimp_stream_stop(struct crimp_stream_server *s);

/* The URL for REQ (an Exec, Attach or PortForward request, copied), served
 * by backend B, which the session's report names by BACKEND_TAG; caller
 * frees.  RESOURCE_EXHAUSTED past 1000 waiting.  */
char *crimp_stream_register(struct crimp_stream_server *s, enum crimp_stream_kind kind,
                            struct crimp_backend *b, int backend_tag,
                            const ProtobufCMessage *req, crimp_error_t *err);

#endif
