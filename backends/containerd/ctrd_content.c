/* containerd's content store: the Content/Write ingest (STAT, WRITE pieces,
 * COMMIT, in lock-step), whole-blob Content/Read, and the leases that keep
 * half-written content from the garbage collector.  */
#include "ctrd_client.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrd_client-internal.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "utils.h"

#define WRITE_PIECE             (1 << 20) /* what containerd's own client sends per WRITE */
#define LOCKED_BACKOFF_FIRST_MS 16
#define LOCKED_BACKOFF_MAX_MS   2000

typedef Containerd__Services__Content__V1__WriteContentRequest write_req_t;
typedef Containerd__Services__Content__V1__WriteContentResponse write_resp_t;

struct ctrd_writer {
    struct ctrd_stream *s;
    char *ref;
    char *expected;
    int64_t total;
    int64_t offset; /* what containerd has: every WRITE goes there */
};

/* Frees the N entries ctrd_map_from_json made.  */
static void labels_free(size_t n, void *entries)
{
    ProtobufCMessage **e = entries;
    for (size_t i = 0; i < n; i++)
        protobuf_c_message_free_unpacked(e[i], NULL);
    free(e);
}

static write_req_t write_request(const struct ctrd_writer *w,
                                 Containerd__Services__Content__V1__WriteAction action)
{
    write_req_t req = CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
    req.action = action;
    req.ref = w->ref;
    req.total = w->total;
    req.expected = w->expected;
    /* The offset goes with every message: 0 after data would truncate.  */
    req.offset = w->offset;
    return req;
}

/* Sends REQ on W and takes containerd's offset from the reply.  */
static int write_exchange(struct ctrd_writer *w, const write_req_t *req, crimp_error_t *err)
{
    write_resp_t *resp = NULL;
    if (ctrd_stream_exchange(w->s, &req->base,
                             &containerd__services__content__v1__write_content_response__descriptor,
                             (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    w->offset = resp->offset;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

void ctrd_writer_free(struct ctrd_writer *w)
{
    if (w == NULL)
        return;
    ctrd_stream_free(w->s);
    free(w->ref);
    free(w->expected);
    free(w);
}

/* One attempt at opening the ingest: 1 (content exists), 0 (*W open), or
 * < 0.  */
static int writer_try_open(struct ctrd_conn *c, const struct ctrd_opts *o, const char *ref,
                           int64_t total, const char *expected, struct ctrd_writer **w,
                           crimp_error_t *err)
{
    struct ctrd_stream *s = ctrd_stream_open(c, o, CTRD_CONTENT "Write", NULL, err);
    if (s == NULL)
        return -1;
    struct ctrd_writer *n = xcalloc(1, sizeof(*n));
    *n = (struct ctrd_writer){
        .s = s, .ref = xstrdup(ref), .expected = xstrdup(expected), .total = total};
    write_req_t req = write_request(n, CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT);
    if (write_exchange(n, &req, err) < 0) {
        ctrd_writer_free(n);
        if ((*err)->code != GRPC_STATUS_ALREADY_EXISTS)
            return -1;
        crimp_error_release(err);
        return 1;
    }
    *w = n;
    return 0;
}

/* containerd's answer while another writer holds REF: wait for it.  */
static bool ref_locked(crimp_error_t err)
{
    return err->code == GRPC_STATUS_UNAVAILABLE && strstr(err->msg, "locked") != NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

int ctrd_writer_open(struct ctrd_conn *c, const struct ctrd_opts *o, const char *ref, int64_t total,
                     const char *expected, struct ctrd_writer **w, int64_t *offset,
                     crimp_error_t *err)
{
    struct ctrd_opts none = {0};
    o = o ? o : &none;
    int64_t deadline = ctrd_deadline_mono_ns(o);
    /* As containerd's own client: a random pause below a ceiling that
     * doubles, so that writers waiting on one ref do not retry in step.  */
    long ceiling_ms = LOCKED_BACKOFF_FIRST_MS;
    *w = NULL;
    for (;;) {
        int r = writer_try_open(c, o, ref, total, expected, w, err);
        if (r >= 0) {
            *offset = r == 0 ? (*w)->offset : total;
            return r;
        }
        long pause_ms = 1 + random() % ceiling_ms;
        bool cancelled = o->rpc != NULL && crimp_rpc_cancelled(o->rpc);
        if (!ref_locked(*err) || cancelled ||
            crimp_now_mono_ns() + pause_ms * 1000000LL >= deadline)
            return -1;
        crimp_error_release(err);
        sleep_ms(pause_ms);
        if (ceiling_ms < LOCKED_BACKOFF_MAX_MS)
            ceiling_ms =
                ceiling_ms * 2 < LOCKED_BACKOFF_MAX_MS ? ceiling_ms * 2 : LOCKED_BACKOFF_MAX_MS;
    }
}

int ctrd_writer_write(struct ctrd_writer *w, const void *data, size_t len, crimp_error_t *err)
{
    const uint8_t *p = data;
    while (len > 0) {
        size_t n = len < WRITE_PIECE ? len : WRITE_PIECE;
        int64_t want = w->offset + (int64_t)n;
        write_req_t req = write_request(w, CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE);
        req.data.data = (uint8_t *)p;
        req.data.len = n;
        if (write_exchange(w, &req, err) < 0)
            return -1;
        if (w->offset != want)
            return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                    "containerd Content/Write: ingest %s is at %" PRId64
                                    " after a write, not %" PRId64,
                                    w->ref, w->offset, want);
        p += n;
        len -= n;
    }
    return 0;
}

int ctrd_writer_commit(struct ctrd_writer *w, json_t *labels, crimp_error_t *err)
{
    write_req_t req = write_request(w, CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT);
    ctrd_map_from_json(
        labels, &containerd__services__content__v1__write_content_request__labels_entry__descriptor,
        &req.n_labels, &req.labels);
    int ret = write_exchange(w, &req, err);
    labels_free(req.n_labels, req.labels);
    /* containerd answers a COMMIT twice: close drains the second.  */
    if (ret == 0)
        ret = ctrd_stream_close(w->s, err);
    if (ret < 0 && (*err)->code == GRPC_STATUS_ALREADY_EXISTS) {
        crimp_error_release(err);
        ret = 0;
    }
    ctrd_writer_free(w);
    return ret;
}

/* ---- Content/Read -------------------------------------------------------- */

/* Appends the piece R to DATA (LEN so far, at most MAX).  */
static int append_piece(const Containerd__Services__Content__V1__ReadContentResponse *r,
                        const char *digest, size_t max, char **data, size_t *len,
                        crimp_error_t *err)
{
    if (r->offset != (int64_t)*len)
        return crimp_make_error(err, GRPC_STATUS_DATA_LOSS, 0,
                                "containerd Content/Read: %s: a piece at %" PRId64 ", not %zu",
                                digest, r->offset, *len);
    if (r->data.len > max - *len)
        return crimp_make_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, 0,
                                "containerd Content/Read: %s is larger than %zu bytes", digest,
                                max);
    *data = xrealloc(*data, *len + r->data.len + 1);
    memcpy(*data + *len, r->data.data, r->data.len);
    *len += r->data.len;
    (*data)[*len] = '\0';
    return 0;
}

int ctrd_content_read_all(struct ctrd_conn *c, const struct ctrd_opts *o, const char *digest,
                          size_t max, char **data, size_t *len, crimp_error_t *err)
{
    Containerd__Services__Content__V1__ReadContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_REQUEST__INIT;
    req.digest = (char *)digest;
    /* One byte past MAX: enough to tell "too large" without reading it all.  */
    req.size = max < INT64_MAX ? (int64_t)max + 1 : 0;
    struct ctrd_stream *s = ctrd_stream_start(c, o, CTRD_CONTENT "Read", &req.base, err);
    if (s == NULL)
        return -1;
    cleanup_free char *buf = xmalloc(1);
    size_t n = 0;
    buf[0] = '\0';
    Containerd__Services__Content__V1__ReadContentResponse *r = NULL;
    int ret;
    while ((ret = ctrd_stream_next(
                s, &containerd__services__content__v1__read_content_response__descriptor,
                (ProtobufCMessage **)&r, err)) > 0) {
        ret = append_piece(r, digest, max, &buf, &n, err);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (ret < 0)
            break;
    }
    ctrd_stream_free(s);
    if (ret < 0)
        return -1;
    *data = steal_ptr(&buf);
    *len = n;
    return 0;
}

/* ---- leases ----------------------------------------------------------------- */

/* "<unix nanos>-<3 random bytes in base64url>" (4 characters), the form
 * containerd's own client uses: unique enough, readable in `ctr leases ls`.  */
static char *lease_id(crimp_error_t *err)
{
    char tail[5];
    if (crimp_random_b64url(tail, 4, err) < 0)
        return NULL;
    return xasprintf("%" PRId64 "-%s", crimp_now_real_ns(), tail);
}

int ctrd_lease_create(struct ctrd_conn *c, const struct ctrd_opts *o, char **id, crimp_error_t *err)
{
    char expire[48];
    crimp_format_rfc3339_ns(crimp_now_real_ns() + 24 * 3600 * 1000000000LL, expire, sizeof(expire));
    json_auto_t *labels = json_pack("{s:s}", "containerd.io/gc.expire", expire);
    cleanup_free char *lid = lease_id(err);
    if (lid == NULL)
        return -1;
    Containerd__Services__Leases__V1__CreateRequest req =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    req.id = lid;
    ctrd_map_from_json(labels,
                       &containerd__services__leases__v1__create_request__labels_entry__descriptor,
                       &req.n_labels, &req.labels);
    Containerd__Services__Leases__V1__CreateResponse *resp = NULL;
    int ret = ctrd_call(c, o, CTRD_LEASES "Create", &req.base,
                        &containerd__services__leases__v1__create_response__descriptor,
                        (ProtobufCMessage **)&resp, err);
    labels_free(req.n_labels, req.labels);
    if (ret < 0)
        return -1;
    *id = xstrdup(resp->lease && !str_empty(resp->lease->id) ? resp->lease->id : lid);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int ctrd_lease_delete(struct ctrd_conn *c, const struct ctrd_opts *o, const char *id,
                      crimp_error_t *err)
{
    Containerd__Services__Leases__V1__DeleteRequest req =
        CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
    req.id = (char *)id;
    ProtobufCMessage *resp = NULL;
    if (ctrd_call(c, o, CTRD_LEASES "Delete", &req.base, &google__protobuf__empty__descriptor,
                  &resp, err) < 0) {
        if ((*err)->code != GRPC_STATUS_NOT_FOUND)
            return -1;
        crimp_error_release(err);
        return 0;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}
