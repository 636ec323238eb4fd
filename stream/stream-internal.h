/* Between the streaming server's parts.  */
#ifndef CRIMP_STREAM_INTERNAL_H
#define CRIMP_STREAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "spdy_frame.h"
#include "stream.h"
#include "websocket.h"

/* What a token stands for.  */
struct stream_request {
    enum crimp_stream_kind kind;
    struct crimp_backend *backend;
    ProtobufCMessage *req; /* owned copy of the CRI request */
    int64_t expires_mono_ns;
};

void stream_request_free(struct stream_request *r);

/* tokens.c */
struct stream_tokens;
struct stream_tokens *stream_tokens_new(void);
void stream_tokens_free(struct stream_tokens *t);
/* A new token for R (taken), or NULL when too many wait.  Caller frees.  */
char *stream_tokens_add(struct stream_tokens *t, struct stream_request *r);
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
};

/* Writes the whole buffer to the client, then empties it.  */
int stream_flush(struct stream_conn *c, struct spdy_buf *out);

/* Reads what the client sent within TIMEOUT_MS into the codec: 1 read,
 * 0 timeout, < 0 closed or failed.  */
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
char *stdio_start_failure(struct stream_request *r, const crimp_error_t err);
/* Ends the process side: the exit status of an exec (0 for attach or when
 * the client left first), then the connection to it closed.  */
int stdio_end(struct stream_request *r, struct crimp_stream_io *io, bool client_gone);

/* The sessions; PROTOCOL is the negotiated X-Stream-Protocol-Version.  */
void stream_run_remotecommand(struct stream_conn *c, struct stream_request *r,
                              const char *protocol);
void stream_run_portforward(struct stream_conn *c, struct stream_request *r);
void stream_run_ws_remotecommand(struct stream_conn *c, struct stream_request *r,
                                 enum ws_chan_proto proto);

#endif
