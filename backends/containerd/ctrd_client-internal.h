/* Between ctrd_client.c and ctrd_content.c: the streams underneath
 * ctrd_stream_* and the Content/Write writer, with their span and errors
 * made the ctrd way.  */
#ifndef CRIMP_CTRD_CLIENT_INTERNAL_H
#define CRIMP_CTRD_CLIENT_INTERNAL_H

#include "ctrd_client.h"

/* Opens METHOD as a server stream sending REQ or, with REQ NULL, as a
 * bidirectional one driven by ctrd_stream_exchange and ctrd_stream_close.
 * Freed with ctrd_stream_free.  */
struct ctrd_stream *ctrd_stream_open(struct ctrd_conn *c, const struct ctrd_opts *o,
                                     const char *method, const ProtobufCMessage *req,
                                     crimp_error_t *err);
/* Bidirectional: sends REQ, waits for its reply (*RESP as DESC).  */
int ctrd_stream_exchange(struct ctrd_stream *s, const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp,
                         crimp_error_t *err);
/* Bidirectional: half-closes, drains, returns the final status.  */
int ctrd_stream_close(struct ctrd_stream *s, crimp_error_t *err);

/* When a call made with O must be over, on the monotonic clock (never
 * later than the parent CRI call's deadline): INT64_MAX for none.  */
int64_t ctrd_deadline_mono_ns(const struct ctrd_opts *o);

#endif
