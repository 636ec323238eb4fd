/* Between the streaming server's parts.  */
#ifndef CRIMP_STREAM_INTERNAL_H
#define CRIMP_STREAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "spdy_frame.h"
#include "stream.h"
#include "utils.h"
#include "websocket.h"

/* What a token stands for.  */
struct stream_request {
    enum crimp_stream_kind kind;
    struct crimp_backend *backend;
    int backend_tag;
    ProtobufCMessage *req; /* owned copy of the CRI request */
    int64_t expires_mono_ns;
};

void stream_request_free(struct stream_request *r);

/* tokens.c */
struct stream_tokens;
struct stream_tokens *stream_tokens_new(void);
void stream_tokens_free(struct stream_tokens *t);
/* A new token for R (taken), or NULL with *ERR (too many wait, or no
 * random bytes).  Caller frees.  */
char *stream_tokens_add(struct stream_tokens *t, struct stream_request *r, crimp_error_t *err);
/* Takes the request of TOKEN if it exists, is of KIND and has not expired:
 * single use, so it is removed either way.  */
struct stream_request *stream_tokens_take(struct stream_tokens *t, const char *token,
                                          enum crimp_stream_kind kind);

/* One upgraded connection.  */
struct stream_conn {
    int fd;
    struct spdy_codec codec;
    int idle_seconds;
    uint32_t last_client_stream;
    bool goaway; /* the client said it is done */
    /* What the session did, for its report (report.c); one thread per
     * session, so plain counters.  */
    grpc_status_code code;
    uint64_t bytes_in, bytes_out;
    int64_t start_mono_ns, start_real_ns;
    int64_t first_byte_mono_ns; /* 0 until output first went to the client */
    const char *transport;      /* "spdy", "websocket"; NULL: not upgraded */
    struct crimp_trace *trace;
    /* SPDY tunnelled in WebSocket binary messages (§6.5); NULL: SPDY is
     * the connection's own protocol.  */
    struct ws_link *tunnel;
};

/* Counts N bytes of process or pod output going to the client.  */
static inline void stream_conn_out(struct stream_conn *c, size_t n)
{
    if (c->first_byte_mono_ns == 0 && n > 0)
        c->first_byte_mono_ns = crimp_now_mono_ns();
    c->bytes_out += n;
}

/* report.c: every session is a call the latency recorder sees.  */
struct stream_reporter {
    struct crimp_stream_observer observer; /* finish NULL: nobody listens */
    atomic_bool stopping;
    atomic_int reporting;
};
/* The session on C starts: the observer hears of it, and backend calls
 * made on this thread are traced into C's trace until stream_report_end.  */
void stream_report_begin(struct stream_reporter *rep, struct stream_conn *c);
void stream_report_end(struct stream_reporter *rep, struct stream_conn *c,
                       const struct stream_request *r);
/* After this returns no report is delivered any more.  */
void stream_reporter_stop(struct stream_reporter *rep);

/* Writes the whole buffer to the client, then empties it (and sends what
 * a tunnel has queued, pongs included).  */
int stream_flush(struct stream_conn *c, struct spdy_buf *out);

/* Reads what the client sent within TIMEOUT_MS into the codec: 1 read,
 * 0 timeout, < 0 closed or failed (or a tunnel's client said close).  */
int stream_read_client(struct stream_conn *c, int timeout_ms);

/* stdio.c: what exec/attach sessions share over SPDY and WebSocket.  */
struct stdio_demux {
    bool multiplexed; /* Docker's 8-byte stdout/stderr frames */
    uint8_t header[8];
    size_t have;
    uint32_t left;
    bool is_stderr;
};
void stdio_demux_feed(struct stdio_demux *d, const uint8_t *p, size_t n,
                      void (*out)(void *ctx, bool is_stderr, const uint8_t *p, size_t n),
                      void *ctx);

struct stdio_resize {
    char buf[512];
    size_t len;
};
/* Resize JSON objects, one per line, applied through the backend.  */
void stdio_resize_feed(struct stdio_resize *r, const uint8_t *p, size_t n,
                       struct stream_request *req, const struct crimp_stream_io *io);

/* The error stream's last word: v4+ a metav1.Status JSON (JSON true),
 * older a bare message and only on failure (NULL: nothing to send).  */
char *stdio_status_text(bool json, const char *failure, int exit_code);

int stdio_start(struct stream_request *r, struct crimp_stream_io *io, crimp_error_t *err);
/* The error text for a failed stdio_start; C's report gets ERR's code.  */
char *stdio_start_failure(struct stream_conn *c, struct stream_request *r,
                          const crimp_error_t err);
/* Writes client input to the process (all of it, unless the process is
 * gone), counted as C's bytes in.  */
void stdio_write_stdin(struct stream_conn *c, int fd, const uint8_t *p, size_t n);
/* Ends the process side: the exit status of an exec (0 for attach or when
 * the client left first), then the connection to it closed.  */
int stdio_end(struct stream_request *r, struct crimp_stream_io *io, bool client_gone);

/* pod_dial.c: port-forward's connections to the pod.  */
struct pod_dialer {
    struct stream_conn *c;    /* its report gets the code of a failure */
    struct stream_request *r; /* a PortForwardRequest */
    char *netns;              /* NULL: the host's (host-network pod) */
    bool netns_known;
};
/* A socket connected to localhost:PORT in the pod's network namespace, or
 * -1 with *FAILURE set to the text for the client's error stream (upstream's
 * wording; caller frees).  */
int pod_dial(struct pod_dialer *d, int port, char **failure);
void pod_dialer_free(struct pod_dialer *d);

/* ws_link.c: an upgraded WebSocket connection.  */
struct ws_link {
    int fd;
    enum ws_chan_proto proto;
    struct ws_parser parser;
    struct stream_buf out, scratch;
    bool gone;   /* the socket closed or failed: nothing more goes out */
    bool closed; /* the client sent a close frame (or a bad frame): stop reading */
    bool tunnel; /* binary messages are a byte stream: whole payloads, channel 0 */
};
typedef void (*ws_link_channel_fn)(void *ctx, const struct ws_chan_msg *m);
void ws_link_init(struct ws_link *l, int fd, enum ws_chan_proto proto);
void ws_link_free(struct ws_link *l);
/* Sends everything queued in L->out; < 0 once the client is unreachable.  */
int ws_link_flush(struct ws_link *l);
/* Queues one channel message under L's protocol.  */
void ws_link_put(struct ws_link *l, uint8_t channel, const void *p, size_t n);
/* Reads what the client sent (call when the socket is readable): pings
 * get their pong queued, a close frame sets L->closed, and every channel
 * message goes to ON_CHANNEL.  */
void ws_link_read(struct ws_link *l, ws_link_channel_fn on_channel, void *ctx);
/* Sends close 1000 and waits (bounded) for the client's close, so nothing
 * still unsent is lost to a reset.  */
void ws_link_close(struct ws_link *l);

/* The sessions; PROTOCOL is the negotiated X-Stream-Protocol-Version.  */
void stream_run_remotecommand(struct stream_conn *c, struct stream_request *r,
                              const char *protocol);
void stream_run_portforward(struct stream_conn *c, struct stream_request *r);
void stream_run_ws_remotecommand(struct stream_conn *c, struct stream_request *r,
                                 enum ws_chan_proto proto);

/* ws_portforward.c */
#define WS_PF_MAX_PORTS 32
/* The ports a WebSocket port-forward serves: every `port` query parameter
 * (each a comma-separated list, as kubelet's NewV4Options reads them), else
 * the PortForwardRequest's.  Returns how many (at most MAX), or -1 with
 * *WHY, the body of the 400 answer (caller frees).  */
int ws_portforward_ports(const char *query, const struct stream_request *r, int *ports,
                         size_t max, char **why);
void stream_run_ws_portforward(struct stream_conn *c, struct stream_request *r,
                               enum ws_chan_proto proto, const int *ports, size_t n_ports);

#endif
