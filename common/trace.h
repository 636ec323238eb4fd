/* Spans: the backend calls one CRI call caused (a Docker HTTP request, a
 * gRPC call to containerd, a CNI plugin run), each with its start offset and
 * duration.  crimpd sets the current call on the worker thread before it
 * runs a backend operation; backend code only reports what it did, from the
 * same thread, with crimp_trace_span().  Spans reported on a thread with no
 * current call (background work) are dropped.  */
#ifndef CRIMP_TRACE_H
#define CRIMP_TRACE_H

#include <stdint.h>

#define CRIMP_TRACE_MAX_SPANS 32
#define CRIMP_TRACE_NAME_LEN  64

/* STREAM: a milestone of a streaming session (its first byte out).  */
enum crimp_span_kind {
    CRIMP_SPAN_HTTP,
    CRIMP_SPAN_GRPC,
    CRIMP_SPAN_CNI,
    CRIMP_SPAN_EXEC,
    CRIMP_SPAN_STREAM,
};

struct crimp_span {
    enum crimp_span_kind kind;
    char name[CRIMP_TRACE_NAME_LEN]; /* "GET /containers/{id}/json", "bridge ADD" */
    int status;                      /* HTTP status, gRPC code, exit status */
    int depth;                       /* 0 for a direct sub-call, 1 for one it caused */
    int backend;                     /* 1 + the backend that made it; 0: the call's own */
    int64_t start_ns;                /* offset from the CRI call's start */
    int64_t duration_ns;
};

/* The spans of one call, filled in place (no allocation on the hot path).  */
struct crimp_trace {
    int64_t start_mono_ns;
    int n_spans;
    int dropped; /* spans beyond CRIMP_TRACE_MAX_SPANS */
    int depth;   /* current nesting, see crimp_trace_enter */
    int backend; /* 1 + crimp_trace_set_backend's index; 0 (as zeroed): the call's own */
    struct crimp_span spans[CRIMP_TRACE_MAX_SPANS];
};

/* Makes TRACE the current call of this thread (NULL: none).  */
void crimp_trace_set_current(struct crimp_trace *trace);
struct crimp_trace *crimp_trace_current(void);

/* Records a finished sub-call that started at START_MONO_NS (monotonic).  */
void crimp_trace_span(enum crimp_span_kind kind, const char *name, int status,
                      int64_t start_mono_ns, int64_t end_mono_ns);

/* Sub-calls recorded from now on were made by backend INDEX (as the
 * recorder numbers backends; -1: the call's own backend).  For calls that
 * several backends serve (merged lists).  */
void crimp_trace_set_backend(int index);

/* Marks sub-calls recorded until the matching leave as caused by the one
 * being made (e.g. the CNI plugins a RunPodSandbox step ran).  */
void crimp_trace_enter(void);
void crimp_trace_leave(void);

/* Work a call runs on a helper thread records into CHILD: crimp_trace_fork
 * readies CHILD from this thread's current trace (same start, nesting and
 * backend; an empty CHILD when there is none), the helper makes it current,
 * and crimp_trace_join — on the call's thread, after the helper ended —
 * appends CHILD's spans to the current trace.  */
void crimp_trace_fork(struct crimp_trace *child);
void crimp_trace_join(const struct crimp_trace *child);

const char *crimp_span_kind_name(enum crimp_span_kind kind);

#endif
