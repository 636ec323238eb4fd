/* crimp's streaming server: the URLs Exec, Attach and PortForward return
 * for backends without a streaming server of their own (docker), and the
 * SPDY/3.1 sessions kubelet's proxy and crictl open on them
 * (../shared/design/streaming.md).
 *
 * A URL carries a single-use token that expires after a minute and stands
 * for the whole CRI request; the HTTP server (httpd.c) upgrades the
 * connection and runs an exec/attach session (remotecommand.c) or a
 * port-forward session (portforward.c) against the backend's stream ops.  */
#ifndef CRIMP_STREAM_H
#define CRIMP_STREAM_H

#include "backend.h"

struct crimp_stream_server;

enum crimp_stream_kind { CRIMP_STREAM_EXEC, CRIMP_STREAM_ATTACH, CRIMP_STREAM_PORTFORWARD };

/* Listens on ADDRESS ("127.0.0.1:0": a free port).  IDLE_SECONDS ends a
 * session nobody used for that long.  */
struct crimp_stream_server *crimp_stream_start(const char *address, int idle_seconds,
                                               crimp_error_t *err);
void crimp_stream_stop(struct crimp_stream_server *s);

/* The URL for REQ (an Exec, Attach or PortForward request, copied), served
 * by backend B; caller frees.  RESOURCE_EXHAUSTED past 1000 waiting.  */
char *crimp_stream_register(struct crimp_stream_server *s, enum crimp_stream_kind kind,
                            struct crimp_backend *b, const ProtobufCMessage *req,
                            crimp_error_t *err);

#endif
