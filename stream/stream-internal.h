/* Between the streaming server's parts.  */
#ifndef CRIMP_STREAM_INTERNAL_H
#define CRIMP_STREAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "spdy_frame.h"
#include "stream.h"

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

/* The sessions; PROTOCOL is the negotiated X-Stream-Protocol-Version.  */
void stream_run_remotecommand(struct stream_conn *c, struct stream_request *r,
                              const char *protocol);
void stream_run_portforward(struct stream_conn *c, struct stream_request *r);

#endif
