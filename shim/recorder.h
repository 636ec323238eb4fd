/* The latency recorder: every CRI call's duration per (method, backend,
 * gRPC code) in a histogram, every backend sub-call per (backend, call) in
 * another, and the last N calls with their spans in a ring, for the admin
 * API, Prometheus and crimpctl.
 *
 * Hot path: one call to crimp_recorder_finish per CRI call — relaxed atomic
 * adds on the calling thread's own shard of the histograms, one shared id
 * counter, and a seqlock-protected copy into a ring slot.  Workers never
 * take a lock, and share only the id counter's cache line.  */
#ifndef CRIMP_RECORDER_H
#define CRIMP_RECORDER_H

#include <grpc/status.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "histogram.h"
#include "trace.h"

#define CRIMP_RECORDER_CODES 17 /* gRPC codes 0..16 */

struct crimp_recorder;

/* One finished call, as kept in the ring.  */
struct crimp_call_record {
    uint64_t id;           /* 1, 2, … in finishing order */
    int method;            /* index into crimp_methods[] */
    int backend;           /* index into the backend names; -1: crimp itself */
    grpc_status_code code;
    int64_t start_real_ns; /* wall clock */
    int64_t duration_ns;
    /* Streaming sessions: payload bytes from the client and to it.  */
    uint64_t bytes_in, bytes_out;
    struct crimp_trace trace;
};

/* BACKEND_NAMES are copied.  RING_SIZE calls are kept (at least 1).  */
struct crimp_recorder *crimp_recorder_new(const char *const *backend_names, size_t n_backends,
                                          size_t n_methods, size_t ring_size);
void crimp_recorder_free(struct crimp_recorder *r);

/* Records a finished call and the spans in TRACE (may be NULL).  */
void crimp_recorder_finish(struct crimp_recorder *r, int method, int backend,
                           grpc_status_code code, int64_t start_real_ns, int64_t duration_ns,
                           const struct crimp_trace *trace);

/* The same for a streaming session, with the bytes it carried.  */
void crimp_recorder_finish_session(struct crimp_recorder *r, int method, int backend,
                                   grpc_status_code code, int64_t start_real_ns,
                                   int64_t duration_ns, const struct crimp_trace *trace,
                                   uint64_t bytes_in, uint64_t bytes_out);

/* Calls currently running (kept by crimp_recorder_begin / finish).  */
void crimp_recorder_begin(struct crimp_recorder *r);
int64_t crimp_recorder_in_flight(const struct crimp_recorder *r);

const char *crimp_recorder_backend_name(const struct crimp_recorder *r, int backend);
/* Names slot BACKEND (left unnamed at creation) for a backend added by a
 * configuration reload.  */
void crimp_recorder_name_backend(struct crimp_recorder *r, int backend, const char *name);

/* Visits every call histogram that has data.  */
void crimp_recorder_each_call_series(struct crimp_recorder *r,
                                     void (*fn)(void *ctx, int method, int backend,
                                                grpc_status_code code,
                                                const struct crimp_histogram *h),
                                     void *ctx);

/* Visits every sub-call histogram: BACKEND is the index of the backend of
 * the CRI call that made it, NAME what it was ("POST /containers/create").  */
void crimp_recorder_each_subcall_series(struct crimp_recorder *r,
                                        void (*fn)(void *ctx, int backend,
                                                   enum crimp_span_kind kind, const char *name,
                                                   const struct crimp_histogram *h),
                                        void *ctx);

/* Visits the byte totals of every (method, backend) whose sessions
 * carried any (crimp_recorder_finish_session).  */
void crimp_recorder_each_session_bytes(struct crimp_recorder *r,
                                       void (*fn)(void *ctx, int method, int backend,
                                                  uint64_t in, uint64_t out),
                                       void *ctx);

/* Copies up to MAX of the most recent calls with id > AFTER_ID into OUT,
 * oldest first; returns how many.  */
size_t crimp_recorder_recent(struct crimp_recorder *r, uint64_t after_id,
                             struct crimp_call_record *out, size_t max);

#endif
