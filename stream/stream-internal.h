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
/* After this no token is taken any more (crimp_stream_stop).  */
void stream_tokens_close(struct stream_tokens *t);

/* http_head.c: a request head.  */
#define HTTP_HEAD_MAX       (16 * 1024)
#define HTTP_MAX_PROTOCOLS  8
#define HTTP_MAX_WS_OFFERS  8
struct http_head {
    char method[8];
    char path[1024];
    const char *query; /* after the '?' of the request target, "" if none */
    bool upgrade_spdy, upgrade_ws, connection_upgrade;
    char protocols[HTTP_MAX_PROTOCOLS][48]; /* X-Stream-Protocol-Version values, in order */
    int n_protocols;
    char ws_key[64];
    char *ws_offers[HTTP_MAX_WS_OFFERS]; /* Sec-WebSocket-Protocol lines, pointing into BUF */
    int n_ws_offers;
    char *rest; /* bytes after the head (SPDY or WebSocket already) */
    size_t n_rest;
};
/* Parses the head in BUF[0..LEN) (BUF has room for LEN + 1 bytes, and is
 * cut into strings H points into); false when it is incomplete or its
 * request line is not METHOD TARGET.  */
bool http_head_parse(char *buf, size_t len, struct http_head *h);
/* The client's first X-Stream-Protocol-Version crimp speaks for KIND
 * ("client order wins"), or NULL.  */
const char *http_negotiate(const struct http_head *h, enum crimp_stream_kind kind);
/* /exec/TOKEN, /attach/TOKEN, /portforward/TOKEN: false for anything else.  */
bool http_kind_of_path(const char *path, enum crimp_stream_kind *kind, const char **token);

/* admission.c: the streaming port's connection slots.  */
struct admission_slot {
    int fd; /* -1: free */
    uint64_t seq;
};
struct stream_admission {
    pthread_mutex_t mu;
    struct admission_slot *pending; /* max_pending connections reading their head */
    int *session_fds;               /* max_sessions client sockets of sessions, -1 free */
    int max_pending, max_sessions, sessions;
    uint64_t seq, evicted;
};
void admission_init(struct stream_admission *a, int max_pending, int max_sessions);
void admission_free(struct stream_admission *a);
/* FD waits for its request head: it takes a pending slot, the oldest
 * waiting connection shut down if none is free.  Returns the slot.  */
int admission_wait_begin(struct stream_admission *a, int fd);
/* FD's head was read (or not): it leaves slot SLOT, unless it was cut off
 * already.  Call it before closing FD.  */
void admission_wait_end(struct stream_admission *a, int slot, int fd);
/* A valid token was presented: false when max_sessions already run.  */
bool admission_session_begin(struct stream_admission *a, int fd);
void admission_session_end(struct stream_admission *a, int fd);
/* Shuts down every connection, pending or in a session, so that its
 * thread sees its client gone and ends (crimp_stream_stop).  Returns how
 * many sessions were cut.  */
int admission_cut_all(struct stream_admission *a);

/* httpd.c: serves one accepted connection FD on this thread, head to
 * session end (what each connection's thread runs; fuzzers call it).  FD
 * stays open.  */
void stream_serve_connection(struct crimp_stream_server *s, int fd);
/* The server's tokens (fuzzers take back the ones a run left).  */
struct stream_tokens *stream_server_tokens(struct crimp_stream_server *s);

/* One upgraded connection.  */
struct stream_conn {
    int fd;
    struct spdy_codec codec;
    int idle_seconds;
    /* The longest a send may wait for a peer to take bytes (the idle
     * timeout; <= 0: no limit), and the largest SPDY frame or WebSocket
     * message accepted from the client.  */
    int send_timeout_ms;
    size_t max_message;
    bool stalled; /* a send gave up: the client stopped reading */
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

/* stream_io.c: writes all N bytes to FD within TIMEOUT_MS in all (<= 0: no
 * limit).  0 when sent.  */
#define STREAM_SEND_GONE    (-1) /* the peer closed or failed */
#define STREAM_SEND_STALLED (-2) /* it did not take them within TIMEOUT_MS */
int stream_send_all(int fd, const void *data, size_t n, int timeout_ms);

/* Writes the whole buffer to the client, then empties it (and sends what
 * a tunnel has queued, pongs included).  < 0 when the client is gone or
 * did not take it within C->send_timeout_ms (C->stalled then, and a log
 * line).  */
int stream_flush(struct stream_conn *c, struct spdy_buf *out);

/* Reads what the client sent within TIMEOUT_MS into the codec: 1 read,
 * 0 timeout, < 0 closed or failed (or a tunnel's client said close).  */
int stream_read_client(struct stream_conn *c, int timeout_ms);

/* stdio.c: what exec/attach sessions share over SPDY and WebSocket.  */
/* Hands N bytes read from IO's fd to EMIT, through the backend's decoder
 * of its output (all stdout without one).  < 0 when the decoder refused
 * them (logged; *ERR says why): the session must end.  */
int stdio_output_feed(const struct crimp_stream_io *io, const uint8_t *p, size_t n,
                      crimp_stdio_emit_fn *emit, void *ctx, crimp_error_t *err);

/* The longest resize object accepted: {"Width":65535,"Height":65535} is
 * 30 bytes, so this leaves room for blanks and other fields.  */
#define STDIO_RESIZE_MAX 512
struct stdio_resize {
    char buf[STDIO_RESIZE_MAX];
    size_t len; /* of the line not yet complete, <= STDIO_RESIZE_MAX */
};
/* Resize JSON objects, one per line, applied through the backend (IO NULL:
 * the process is not started yet, nothing to resize); one that is not
 * JSON is dropped with a log line.  < 0 (INVALID_ARGUMENT) for a line over
 * STDIO_RESIZE_MAX: the session must end.  */
int stdio_resize_feed(struct stdio_resize *r, const uint8_t *p, size_t n,
                      struct stream_request *req, const struct crimp_stream_io *io,
                      crimp_error_t *err);

/* The error stream's last word: v4+ a metav1.Status JSON (JSON true),
 * older a bare message and only on failure (NULL: nothing to send).  */
char *stdio_status_text(bool json, const char *failure, int exit_code);
/* The same for a session crimp ended because the client broke a rule (a
 * message over a limit): v4+ a BadRequest Status, older the bare text.  */
char *stdio_refusal_text(bool json, const char *why);

int stdio_start(struct stream_request *r, struct crimp_stream_io *io, crimp_error_t *err);
/* The error text for a failed stdio_start; C's report gets ERR's code.  */
char *stdio_start_failure(struct stream_conn *c, struct stream_request *r,
                          const crimp_error_t err);
/* Writes client input to the process, counted as C's bytes in: 0, or
 * STREAM_SEND_GONE (the process is gone; its output's EOF ends the
 * session) or STREAM_SEND_STALLED (it did not read it within the idle timeout;
 * logged: the session must end).  */
int stdio_write_stdin(struct stream_conn *c, int fd, const uint8_t *p, size_t n);
/* Ends the process side: the exit status of an exec whose output ended
 * (0 for attach or when the client left first), then the connection to it
 * closed.  An exec whose output had not ended (PROCESS_DONE false: the
 * session gave up on it) is killed instead.  */
int stdio_end(struct stream_request *r, struct crimp_stream_io *io, bool process_done,
              bool client_gone);
/* Frees what the backend put in IO besides its fd (decoder, early bytes,
 * handle); for a session that ended, or one whose start failed.  */
void stdio_io_free(struct crimp_stream_io *io);

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
    struct stream_conn *c; /* limits; its report learns of failures */
    enum ws_chan_proto proto;
    struct ws_parser parser;
    struct stream_buf out, scratch;
    bool gone;   /* the socket closed or failed: nothing more goes out */
    bool closed; /* the client sent a close frame (or a bad frame): stop reading */
    uint16_t close_code; /* the code our close frame carries; 0: 1000 */
    char *failure;       /* why crimp ended it (a bad or oversized message) */
    bool tunnel; /* binary messages are a byte stream: whole payloads, channel 0 */
};
typedef void (*ws_link_channel_fn)(void *ctx, const struct ws_chan_msg *m);
void ws_link_init(struct ws_link *l, struct stream_conn *c, enum ws_chan_proto proto);
void ws_link_free(struct ws_link *l);
/* Sends everything queued in L->out; < 0 once the client is unreachable.  */
int ws_link_flush(struct ws_link *l);
/* Queues one channel message under L's protocol.  */
void ws_link_put(struct ws_link *l, uint8_t channel, const void *p, size_t n);
/* Reads what the client sent (call when the socket is readable): pings
 * get their pong queued, a close frame sets L->closed, and every channel
 * message goes to ON_CHANNEL.  */
void ws_link_read(struct ws_link *l, ws_link_channel_fn on_channel, void *ctx);
/* Ends the session because of the client: stops reading, logs WHY, and
 * ws_link_close will send CLOSE_CODE.  */
void ws_link_fail(struct ws_link *l, uint16_t close_code, const char *why);
/* Sends close (1000 or the failure's code) and waits (bounded) for the client's close, so nothing
 * still unsent is lost to a reset.  */
void ws_link_close(struct ws_link *l);

/* The sessions; PROTOCOL is the negotiated X-Stream-Protocol-Version.  */
void stream_run_remotecommand(struct stream_conn *c, struct stream_request *r,
                              const char *protocol);
void stream_run_portforward(struct stream_conn *c, struct stream_request *r);
/* SPDY/3.1+portforward.k8s.io: the port-forward session with its SPDY
 * frames in binary WebSocket messages (after the WebSocket 101).  */
void stream_run_spdy_tunnel(struct stream_conn *c, struct stream_request *r);
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
