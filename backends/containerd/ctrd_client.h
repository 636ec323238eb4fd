/* The containerd backend's client of containerd's native gRPC API, on grpc
 * C core and protobuf-c (messages generated at build time, proto/containerd).
 *
 * Every call carries the `containerd-namespace` metadata of the connection
 * and, when given, `containerd-lease`; waits for the channel to be ready
 * (bounded by its deadline) so that a containerd restart is ridden out; and
 * is a trace span named "<Service>/<Method>" ("Tasks/Create") with its gRPC
 * code.  With a parent CRI call, kubelet's deadline and cancellation
 * propagate.  Errors keep containerd's gRPC code (errdefs: NOT_FOUND,
 * ALREADY_EXISTS, FAILED_PRECONDITION, …) with the message
 * "containerd Tasks/Create: <containerd's message>".
 *
 * Requests built by the caller are freed with protobuf_c_message_free_unpacked
 * when every string and sub-message in them is heap memory; replies always
 * are.  Generated names: Containerd__Services__Tasks__V1__CreateTaskRequest,
 * CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT, … (see
 * docs/containerd.md, "The client and the generated code").  */
#ifndef CRIMP_CTRD_CLIENT_H
#define CRIMP_CTRD_CLIENT_H

#include <grpc/grpc.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

#include "backend.h"
#include "error.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

/* Full method names: CTRD_TASKS "Create" → "/containerd.services.tasks.v1.Tasks/Create".  */
#define CTRD_VERSION    "/containerd.services.version.v1.Version/"
#define CTRD_CONTAINERS "/containerd.services.containers.v1.Containers/"
#define CTRD_IMAGES     "/containerd.services.images.v1.Images/"
#define CTRD_CONTENT    "/containerd.services.content.v1.Content/"
#define CTRD_SNAPSHOTS  "/containerd.services.snapshots.v1.Snapshots/"
#define CTRD_TASKS      "/containerd.services.tasks.v1.Tasks/"
#define CTRD_LEASES     "/containerd.services.leases.v1.Leases/"
#define CTRD_DIFF       "/containerd.services.diff.v1.Diff/"
#define CTRD_EVENTS     "/containerd.services.events.v1.Events/"
#define CTRD_INTROSPECTION "/containerd.services.introspection.v1.Introspection/"

/* OCI JSON type URLs (exact strings, containerd matches them as such).  */
#define CTRD_TYPE_SPEC       "types.containerd.io/opencontainers/runtime-spec/1/Spec"
#define CTRD_TYPE_PROCESS    "types.containerd.io/opencontainers/runtime-spec/1/Process"
#define CTRD_TYPE_RESOURCES  "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
#define CTRD_TYPE_RUNC_OPTIONS "containerd.runc.v1.Options"

struct ctrd_conn;

/* A connection (one shared channel, 16 MiB messages) to ENDPOINT
 * ("unix:///run/containerd/containerd.sock" or a bare path) in namespace NS.
 * Never fails: gRPC connects lazily.  */
struct ctrd_conn *ctrd_conn_new(const char *endpoint, const char *ns);
void ctrd_conn_free(struct ctrd_conn *c);
const char *ctrd_conn_namespace(const struct ctrd_conn *c);
/* The endpoint as given to ctrd_conn_new.  */
const char *ctrd_conn_endpoint(const struct ctrd_conn *c);

/* How one call is made; a zeroed struct is fine (no parent, no lease, the
 * default timeout of 30 s, or the backend's call_timeout when shorter).  */
struct ctrd_opts {
    struct crimp_rpc *rpc; /* the CRI call this is made for, or NULL */
    const char *lease;     /* lease ID or NULL */
    double timeout_s;      /* 0: 30 s; < 0: no deadline (Wait, Subscribe) */
    /* Streams that may stay silent (Events/Subscribe): the start neither
     * waits for containerd to be reachable nor for its first word, so the
     * stream can be cancelled (ctrd_stream_cancel) while it waits.  */
    bool quiet_start;
};

/* Unary call of METHOD (CTRD_TASKS "Create"); *RESP unpacked as RESP_DESC.  */
int ctrd_call(struct ctrd_conn *c, const struct ctrd_opts *o, const char *method,
              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
              ProtobufCMessage **resp, crimp_error_t *err);

/* Server-streaming call (Content/Read, Containers/ListStream, Events/Subscribe).  */
struct ctrd_stream;
struct ctrd_stream *ctrd_stream_start(struct ctrd_conn *c, const struct ctrd_opts *o,
                                      const char *method, const ProtobufCMessage *req,
                                      crimp_error_t *err);
/* 1 with *MSG (caller frees), 0 at the end (status OK), < 0 with *err.  */
int ctrd_stream_next(struct ctrd_stream *s, const ProtobufCMessageDescriptor *desc,
                     ProtobufCMessage **msg, crimp_error_t *err);
/* Cancels S from another thread: its pending next returns CANCELLED.  */
void ctrd_stream_cancel(struct ctrd_stream *s);
/* Cancels if still open; ends the span; NULL-safe.  */
void ctrd_stream_free(struct ctrd_stream *s);

/* Content/Write, the bidirectional ingest: STAT first, then WRITE pieces,
 * then COMMIT (and drain the extra reply containerd sends after it).  */
struct ctrd_writer;
/* Opens an ingest REF for content EXPECTED of TOTAL bytes.  Returns 1 when
 * the content is already there (nothing to write, *W is NULL), else 0 with
 * *W open and *OFFSET where the ingest stands (resume, or == TOTAL when the
 * blob is shared from another namespace: commit at once).  A locked ref
 * (UNAVAILABLE "ref … locked") is retried with backoff up to the timeout.  */
int ctrd_writer_open(struct ctrd_conn *c, const struct ctrd_opts *o, const char *ref, int64_t total,
                     const char *expected, struct ctrd_writer **w, int64_t *offset,
                     crimp_error_t *err);
/* Sends LEN bytes at the running offset (pieces of ≤ 1 MiB each).  */
int ctrd_writer_write(struct ctrd_writer *w, const void *data, size_t len, crimp_error_t *err);
/* Commits with LABELS (object of strings, may be NULL); ALREADY_EXISTS is
 * success.  Frees W in every case.  */
int ctrd_writer_commit(struct ctrd_writer *w, json_t *labels, crimp_error_t *err);
/* Abandons an open writer (the ingest stays for a later resume).  NULL-safe.  */
void ctrd_writer_free(struct ctrd_writer *w);

/* Leases.Create with gc.expire = now + 24 h; *ID caller frees.  */
int ctrd_lease_create(struct ctrd_conn *c, const struct ctrd_opts *o, char **id,
                      crimp_error_t *err);
/* Leases.Delete; NOT_FOUND is success.  */
int ctrd_lease_delete(struct ctrd_conn *c, const struct ctrd_opts *o, const char *id,
                      crimp_error_t *err);

/* Content/Read of a whole blob into memory (≤ MAX bytes), NUL-terminated.  */
int ctrd_content_read_all(struct ctrd_conn *c, const struct ctrd_opts *o, const char *digest,
                          size_t max, char **data, size_t *len, crimp_error_t *err);

/* An Any holding VALUE as compact JSON under TYPE_URL.  */
Google__Protobuf__Any *ctrd_any_json(const char *type_url, json_t *value);
/* An Any holding MSG packed; MSG may be NULL for an empty value.  */
Google__Protobuf__Any *ctrd_any_pack(const char *type_url, const ProtobufCMessage *msg);
/* The JSON inside an Any (NULL when it is not JSON).  */
json_t *ctrd_any_to_json(const Google__Protobuf__Any *any);

/* Timestamps.  */
int64_t ctrd_timestamp_ns(const Google__Protobuf__Timestamp *t); /* 0 for NULL */
Google__Protobuf__Timestamp *ctrd_timestamp_new(int64_t ns);

/* map<string,string> fields: every generated *LabelsEntry has the layout
 * {base, key, value}.  Fills *ENTRIES / *N from OBJ (object of strings).  */
void ctrd_map_from_json(json_t *obj, const ProtobufCMessageDescriptor *entry_desc, size_t *n,
                        void *entries /* EntryType *** */);
/* An object of strings from N map entries.  */
json_t *ctrd_map_to_json(size_t n, void *const *entries);

/* Exit monitoring: a Tasks/Wait with no deadline on the connection's own
 * completion-queue thread.  FN runs on that thread when the process exits
 * (ERR NULL, EXIT_STATUS, EXITED_AT_NS) or when the wait failed (ERR set:
 * containerd went away, the task was deleted); FN must not block long and
 * must not free ERR.  EXEC_ID NULL or "" waits for the init process.  */
typedef void (*ctrd_exit_fn)(void *ctx, const char *container_id, const char *exec_id,
                             uint32_t exit_status, int64_t exited_at_ns, crimp_error_t err);
int ctrd_wait_async(struct ctrd_conn *c, const char *container_id, const char *exec_id,
                    ctrd_exit_fn fn, void *ctx, crimp_error_t *err);

#endif
