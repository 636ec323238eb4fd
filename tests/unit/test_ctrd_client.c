/* The containerd client layer: the Any / Timestamp / map helpers and a wait
 * cancelled by ctrd_conn_free (no containerd needed), then, with $CRIMP_BED,
 * the bed's containerd in a namespace of the test's own (removed at the
 * end): Version, the Content/Write ingest (pieces, lease, labels, already
 * there, a wrong digest, a locked ref), Content/Read, errors and their
 * codes, a server stream, deadlines, Tasks/Wait on the wait thread, spans.  */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "containerd/ctrd_client.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"
#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.pb-c.h"
#include "github.com/containerd/containerd/api/services/namespaces/v1/namespace.pb-c.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "digest.h"
#include "trace.h"
#include "unit.h"
#include "utils.h"

#define CTRD_NAMESPACES "/containerd.services.namespaces.v1.Namespaces/"
#define LABEL           "crimp.test/unit"

static struct ctrd_conn *bed; /* NULL without a bed */
static char bed_ns[64];

static void free_msg(void *m)
{
    ProtobufCMessage *msg = *(ProtobufCMessage **)m;
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}
#define cleanup_msg __attribute__((cleanup(free_msg)))

/* ---- pure helpers --------------------------------------------------------- */

static int test_map_round_trips_through_a_message(void)
{
    json_auto_t *in = json_pack("{s:s, s:s, s:i}", "a", "1", "io.x/y", "", "not-a-string", 3);
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    c.id = "x";
    ctrd_map_from_json(in,
                       &containerd__services__containers__v1__container__labels_entry__descriptor,
                       &c.n_labels, &c.labels);
    CHECK(c.n_labels == 2);
    size_t len = protobuf_c_message_get_packed_size(&c.base);
    cleanup_free uint8_t *buf = xmalloc(len);
    protobuf_c_message_pack(&c.base, buf);
    for (size_t i = 0; i < c.n_labels; i++)
        protobuf_c_message_free_unpacked(&c.labels[i]->base, NULL);
    free(c.labels);
    cleanup_msg Containerd__Services__Containers__V1__Container *back =
        containerd__services__containers__v1__container__unpack(NULL, len, buf);
    CHECK(back != NULL && back->n_labels == 2);
    json_auto_t *out = ctrd_map_to_json(back->n_labels, (void *const *)back->labels);
    json_auto_t *want = json_pack("{s:s, s:s}", "a", "1", "io.x/y", "");
    CHECK(json_equal(out, want));

    size_t n = 7;
    void *entries = &n; /* anything: must become NULL */
    ctrd_map_from_json(NULL,
                       &containerd__services__containers__v1__container__labels_entry__descriptor,
                       &n, &entries);
    CHECK(n == 0 && entries == NULL);
    json_auto_t *empty = ctrd_map_to_json(0, NULL);
    CHECK(json_object_size(empty) == 0);
    return 0;
}

static int test_any_json_is_the_exact_url_and_compact_json(void)
{
    json_auto_t *spec = json_pack("{s:s, s:[b]}", "ociVersion", "1.0.2", "x", 1);
    Google__Protobuf__Any *any = ctrd_any_json(CTRD_TYPE_SPEC, spec);
    CHECK(strcmp(any->type_url, "types.containerd.io/opencontainers/runtime-spec/1/Spec") == 0);
    const char *want = "{\"ociVersion\":\"1.0.2\",\"x\":[true]}";
    CHECK(any->value.len == strlen(want) && memcmp(any->value.data, want, any->value.len) == 0);
    /* Through the wire and back.  */
    size_t len = protobuf_c_message_get_packed_size(&any->base);
    cleanup_free uint8_t *buf = xmalloc(len);
    protobuf_c_message_pack(&any->base, buf);
    protobuf_c_message_free_unpacked(&any->base, NULL);
    cleanup_msg Google__Protobuf__Any *back = google__protobuf__any__unpack(NULL, len, buf);
    json_auto_t *j = ctrd_any_to_json(back);
    CHECK(json_equal(j, spec));

    uint8_t junk[] = {0x08, 0x01};
    Google__Protobuf__Any notjson = GOOGLE__PROTOBUF__ANY__INIT;
    notjson.value = (ProtobufCBinaryData){sizeof(junk), junk};
    CHECK(ctrd_any_to_json(&notjson) == NULL);
    CHECK(ctrd_any_to_json(NULL) == NULL);
    return 0;
}

static int test_any_pack_and_timestamps(void)
{
    int64_t cases[] = {0, 1, 1700000000123456789LL, -1, -1500000000LL};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(cases); i++) {
        Google__Protobuf__Timestamp *t = ctrd_timestamp_new(cases[i]);
        CHECK(t->nanos >= 0 && t->nanos < 1000000000);
        CHECK(ctrd_timestamp_ns(t) == cases[i]);
        Google__Protobuf__Any *any = ctrd_any_pack("google.protobuf.Timestamp", &t->base);
        cleanup_msg Google__Protobuf__Timestamp *back =
            google__protobuf__timestamp__unpack(NULL, any->value.len, any->value.data);
        CHECK(back != NULL && ctrd_timestamp_ns(back) == cases[i]);
        protobuf_c_message_free_unpacked(&any->base, NULL);
        protobuf_c_message_free_unpacked(&t->base, NULL);
    }
    CHECK(ctrd_timestamp_ns(NULL) == 0);
    Google__Protobuf__Any *empty = ctrd_any_pack(CTRD_TYPE_RUNC_OPTIONS, NULL);
    CHECK(empty->value.len == 0 && strcmp(empty->type_url, "containerd.runc.v1.Options") == 0);
    protobuf_c_message_free_unpacked(&empty->base, NULL);
    return 0;
}

/* ---- waits ------------------------------------------------------------------ */

struct exit_seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    char thread[16];
    char id[64];
    grpc_status_code code;
    char msg[256];
};

static void on_exit_cb(void *ctx, const char *container_id, const char *exec_id,
                       uint32_t exit_status, int64_t exited_at_ns, crimp_error_t err)
{
    (void)exec_id, (void)exit_status, (void)exited_at_ns;
    struct exit_seen *e = ctx;
    pthread_mutex_lock(&e->mu);
    pthread_getname_np(pthread_self(), e->thread, sizeof(e->thread));
    snprintf(e->id, sizeof(e->id), "%s", container_id);
    e->code = err ? err->code : GRPC_STATUS_OK;
    snprintf(e->msg, sizeof(e->msg), "%s", err ? err->msg : "");
    e->done = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static bool exit_wait(struct exit_seen *e, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&e->mu);
    while (!e->done && pthread_cond_timedwait(&e->cv, &e->mu, &until) == 0)
        ;
    bool done = e->done;
    pthread_mutex_unlock(&e->mu);
    return done;
}

/* A containerd that is not there: the wait (wait-for-ready, no deadline)
 * stays pending until ctrd_conn_free cancels it; a call gives up at its
 * deadline instead of failing at once.  */
static int test_free_cancels_pending_waits(void)
{
    crimp_error_t err = NULL;
    cleanup_free char *sock = xasprintf("unix:///tmp/crimp-unit-none-%d.sock", (int)getpid());
    struct ctrd_conn *c = ctrd_conn_new(sock, "x");
    struct exit_seen e = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    CHECK_OK(ctrd_wait_async(c, "t1", NULL, on_exit_cb, &e, &err));

    struct ctrd_opts o = {.timeout_s = 0.2};
    ProtobufCMessage *resp = NULL;
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    int64_t t0 = crimp_now_mono_ns();
    CHECK(ctrd_call(c, &o, CTRD_VERSION "Version", &req.base,
                    &containerd__services__version__v1__version_response__descriptor, &resp,
                    &err) < 0);
    CHECK(crimp_now_mono_ns() - t0 >= 150000000LL);
    CHECK(err->code == GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(has_prefix(err->msg, "containerd Version/Version: "));
    crimp_error_release(&err);
    CHECK(!e.done);

    ctrd_conn_free(c);
    CHECK(e.done); /* before the free returned */
    CHECK(e.code == GRPC_STATUS_CANCELLED && strcmp(e.id, "t1") == 0);
    CHECK(has_prefix(e.msg, "containerd Tasks/Wait: "));
    CHECK(strcmp(e.thread, "ctrd-wait") == 0);
    return 0;
}

/* ---- against the bed's containerd ------------------------------------------ */

static int call(const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **resp, crimp_error_t *err)
{
    return ctrd_call(bed, NULL, method, req, desc, resp, err);
}

static int test_version(void)
{
    if (bed == NULL)
        return 77;
    crimp_error_t err = NULL;
    struct crimp_trace tr = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&tr);
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    cleanup_msg Containerd__Services__Version__V1__VersionResponse *v = NULL;
    struct ctrd_opts o = {.timeout_s = 10}; /* the bed's containerd must answer */
    int ret = ctrd_call(bed, &o, CTRD_VERSION "Version", &req.base,
                        &containerd__services__version__v1__version_response__descriptor,
                        (ProtobufCMessage **)&v, &err);
    crimp_trace_set_current(NULL);
    CHECK_OK(ret);
    CHECK(!str_empty(v->version) && !str_empty(v->revision));
    CHECK(tr.n_spans == 1 && tr.spans[0].kind == CRIMP_SPAN_GRPC && tr.spans[0].status == 0);
    CHECK(strcmp(tr.spans[0].name, "Version/Version") == 0);
    return 0;
}

/* A blob nobody has written before.  */
static char *fresh_blob(size_t len, const char *tag)
{
    char *b = xmalloc(len);
    int n = snprintf(b, len, "%s %d %" PRId64 " ", tag, (int)getpid(), crimp_now_real_ns());
    for (size_t i = (size_t)n; i < len; i++)
        b[i] = (char)('a' + (i * 7 + i / 13) % 26);
    return b;
}

static int content_info(const char *digest, Containerd__Services__Content__V1__InfoResponse **info,
                        crimp_error_t *err)
{
    Containerd__Services__Content__V1__InfoRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__INFO_REQUEST__INIT;
    req.digest = (char *)digest;
    return call(CTRD_CONTENT "Info", &req.base,
                &containerd__services__content__v1__info_response__descriptor,
                (ProtobufCMessage **)info, err);
}

/* Lease ID's gc.expire label: RFC 3339 in UTC, a day from now.  */
static int lease_expires_in_a_day(const char *id)
{
    crimp_error_t err = NULL;
    cleanup_free char *filter = xasprintf("id==%s", id);
    char *filters[] = {filter};
    Containerd__Services__Leases__V1__ListRequest req =
        CONTAINERD__SERVICES__LEASES__V1__LIST_REQUEST__INIT;
    req.n_filters = 1;
    req.filters = filters;
    cleanup_msg Containerd__Services__Leases__V1__ListResponse *resp = NULL;
    CHECK_OK(call(CTRD_LEASES "List", &req.base,
                  &containerd__services__leases__v1__list_response__descriptor,
                  (ProtobufCMessage **)&resp, &err));
    CHECK(resp->n_leases == 1 && strcmp(resp->leases[0]->id, id) == 0);
    json_auto_t *labels =
        ctrd_map_to_json(resp->leases[0]->n_labels, (void *const *)resp->leases[0]->labels);
    const char *expire = json_string_value(json_object_get(labels, "containerd.io/gc.expire"));
    CHECK(expire != NULL && expire[strlen(expire) - 1] == 'Z');
    struct tm tm = {0};
    CHECK(strptime(expire, "%Y-%m-%dT%H:%M:%S", &tm) != NULL);
    int64_t in = (int64_t)timegm(&tm) - crimp_now_real_ns() / 1000000000LL;
    CHECK(in > 24 * 3600 - 60 && in <= 24 * 3600);
    return 0;
}

static int test_content_write_read_under_a_lease(void)
{
    if (bed == NULL)
        return 77;
    crimp_error_t err = NULL;
    const size_t len = (2 << 20) + 4321; /* the middle piece is split in two WRITEs */
    cleanup_free char *blob = fresh_blob(len, "write");
    char digest[SHA256_DIGEST_STR_LEN];
    sha256_digest_string(blob, len, digest);
    cleanup_free char *lease = NULL;
    CHECK_OK(ctrd_lease_create(bed, NULL, &lease, &err));
    CHECK(strlen(lease) > 6 && lease[strlen(lease) - 5] == '-');
    CHECK(lease_expires_in_a_day(lease) == 0);

    struct ctrd_opts o = {.lease = lease};
    struct crimp_trace tr = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&tr);
    struct ctrd_writer *w = NULL;
    int64_t off = -1;
    CHECK_OK(ctrd_writer_open(bed, &o, "crimp-unit-blob", (int64_t)len, digest, &w, &off, &err));
    CHECK(w != NULL && off == 0);
    size_t cut1 = 1000, cut2 = cut1 + (1 << 20) + 5000;
    CHECK_OK(ctrd_writer_write(w, blob, cut1, &err));
    CHECK_OK(ctrd_writer_write(w, blob + cut1, cut2 - cut1, &err));
    CHECK_OK(ctrd_writer_write(w, blob + cut2, len - cut2, &err));
    json_auto_t *labels = json_pack("{s:s}", LABEL, "blob");
    CHECK_OK(ctrd_writer_commit(w, labels, &err));
    crimp_trace_set_current(NULL);
    CHECK(tr.n_spans == 1 && strcmp(tr.spans[0].name, "Content/Write") == 0);
    CHECK(tr.spans[0].status == 0);

    cleanup_msg Containerd__Services__Content__V1__InfoResponse *info = NULL;
    CHECK_OK(content_info(digest, &info, &err));
    CHECK(info->info && info->info->size == (int64_t)len);
    json_auto_t *got = ctrd_map_to_json(info->info->n_labels, (void *const *)info->info->labels);
    CHECK(json_equal(got, labels));

    cleanup_free char *data = NULL;
    size_t n = 0;
    CHECK_OK(ctrd_content_read_all(bed, NULL, digest, len, &data, &n, &err));
    CHECK(n == len && memcmp(data, blob, len) == 0 && data[len] == '\0');
    CHECK(ctrd_content_read_all(bed, NULL, digest, len - 1, &data, &n, &err) < 0);
    CHECK(err->code == GRPC_STATUS_RESOURCE_EXHAUSTED);
    crimp_error_release(&err);

    /* Once more: containerd says it is there already.  */
    w = NULL;
    CHECK(ctrd_writer_open(bed, &o, "crimp-unit-blob-2", (int64_t)len, digest, &w, &off, &err) ==
          1);
    CHECK(w == NULL && err == NULL);
    CHECK_OK(ctrd_lease_delete(bed, NULL, lease, &err));
    CHECK_OK(ctrd_lease_delete(bed, NULL, lease, &err)); /* NOT_FOUND is fine */
    return 0;
}

static int test_commit_with_a_wrong_digest_fails(void)
{
    if (bed == NULL)
        return 77;
    crimp_error_t err = NULL;
    cleanup_free char *blob = fresh_blob(3000, "wrong");
    char digest[SHA256_DIGEST_STR_LEN];
    sha256_digest_string("something else", 14, digest);
    struct ctrd_writer *w = NULL;
    int64_t off = -1;
    CHECK_OK(ctrd_writer_open(bed, NULL, "crimp-unit-wrong", 3000, digest, &w, &off, &err));
    CHECK_OK(ctrd_writer_write(w, blob, 3000, &err));
    CHECK(ctrd_writer_commit(w, NULL, &err) < 0);
    CHECK(err->code == GRPC_STATUS_FAILED_PRECONDITION);
    CHECK(has_prefix(err->msg, "containerd Content/Write: ") && strstr(err->msg, digest) != NULL);
    crimp_error_release(&err);
    return 0;
}

struct late_free {
    struct ctrd_writer *w;
    int delay_ms;
};

static void *free_later(void *arg)
{
    struct late_free *l = arg;
    usleep((useconds_t)l->delay_ms * 1000);
    ctrd_writer_free(l->w);
    return NULL;
}

/* A second writer on a held ref: containerd itself retries for up to about
 * a second, then says "locked"; the client backs off and tries again until
 * the first writer is gone or its own timeout passes.  */
static int test_locked_ref_is_waited_for(void)
{
    if (bed == NULL)
        return 77;
    crimp_error_t err = NULL;
    char digest[SHA256_DIGEST_STR_LEN];
    cleanup_free char *blob = fresh_blob(100, "locked");
    sha256_digest_string(blob, 100, digest);
    struct ctrd_writer *first = NULL, *second = NULL;
    int64_t off;
    CHECK_OK(ctrd_writer_open(bed, NULL, "crimp-unit-locked", 100, digest, &first, &off, &err));
    CHECK_OK(ctrd_writer_write(first, blob, 40, &err));

    struct ctrd_opts brief = {.timeout_s = 0.3};
    int64_t t0 = crimp_now_mono_ns();
    CHECK(ctrd_writer_open(bed, &brief, "crimp-unit-locked", 100, digest, &second, &off, &err) < 0);
    int64_t took = crimp_now_mono_ns() - t0;
    CHECK(took >= 250000000LL && took < 3000000000LL);
    CHECK(err->code == GRPC_STATUS_DEADLINE_EXCEEDED ||
          (err->code == GRPC_STATUS_UNAVAILABLE && strstr(err->msg, "locked") != NULL));
    crimp_error_release(&err);

    /* Held longer than containerd's own retries: the client's must work.  */
    struct late_free l = {.w = first, .delay_ms = 1500};
    pthread_t th;
    pthread_create(&th, NULL, free_later, &l);
    struct ctrd_opts patient = {.timeout_s = 10};
    struct crimp_trace tr = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&tr);
    int r = ctrd_writer_open(bed, &patient, "crimp-unit-locked", 100, digest, &second, &off, &err);
    pthread_join(th, NULL);
    CHECK_OK(r);
    CHECK(off == 40); /* the ingest resumes where the first writer stopped */
    CHECK_OK(ctrd_writer_write(second, blob + 40, 60, &err));
    CHECK_OK(ctrd_writer_commit(second, NULL, &err));
    crimp_trace_set_current(NULL);
    CHECK(tr.n_spans >= 2 && tr.spans[0].status == GRPC_STATUS_UNAVAILABLE);
    CHECK(strcmp(tr.spans[tr.n_spans - 1].name, "Content/Write") == 0);
    CHECK(tr.spans[tr.n_spans - 1].status == GRPC_STATUS_OK);
    return 0;
}

static int test_errors_keep_the_code(void)
{
    if (bed == NULL)
        return 77;
    crimp_error_t err = NULL;
    Containerd__Services__Containers__V1__GetContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    req.id = "crimp-unit-no-such-container";
    ProtobufCMessage *resp = NULL;
    CHECK(call(CTRD_CONTAINERS "Get", &req.base,
               &containerd__services__containers__v1__get_container_response__descriptor, &resp,
               &err) < 0);
    CHECK(resp == NULL && err->code == GRPC_STATUS_NOT_FOUND);
    CHECK(has_prefix(err->msg, "containerd Containers/Get: "));
    CHECK(strstr(err->msg, "crimp-unit-no-such-container") != NULL);
    crimp_error_release(&err);
    return 0;
}

static int create_container(const char *id, crimp_error_t *err)
{
    Containerd__Services__Containers__V1__Container__Runtime rt =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    rt.name = "io.containerd.runc.v2";
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    c.id = (char *)id;
    c.runtime = &rt;
    json_auto_t *spec = json_pack("{s:s}", "ociVersion", "1.0.2");
    c.spec = ctrd_any_json(CTRD_TYPE_SPEC, spec);
    json_auto_t *labels = json_pack("{s:s}", LABEL, bed_ns);
    ctrd_map_from_json(labels,
                       &containerd__services__containers__v1__container__labels_entry__descriptor,
                       &c.n_labels, &c.labels);
    Containerd__Services__Containers__V1__CreateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    req.container = &c;
    ProtobufCMessage *resp = NULL;
    int ret = call(CTRD_CONTAINERS "Create", &req.base,
                   &containerd__services__containers__v1__create_container_response__descriptor,
                   &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    protobuf_c_message_free_unpacked(&c.spec->base, NULL);
    for (size_t i = 0; i < c.n_labels; i++)
        protobuf_c_message_free_unpacked(&c.labels[i]->base, NULL);
    free(c.labels);
    return ret;
}

/* Containers/ListStream with a label filter: the test's two containers,
 * their specs as sent.  */
static int test_server_stream_yields_the_items(void)
{
    if (bed == NULL)
        return 77;
    crimp_error_t err = NULL;
    CHECK_OK(create_container("crimp-unit-c1", &err));
    CHECK_OK(create_container("crimp-unit-c2", &err));
    cleanup_free char *filter = xasprintf("labels.\"%s\"==\"%s\"", LABEL, bed_ns);
    char *filters[] = {filter};
    Containerd__Services__Containers__V1__ListContainersRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_REQUEST__INIT;
    req.n_filters = 1;
    req.filters = filters;
    struct crimp_trace tr = {.start_mono_ns = crimp_now_mono_ns()};
    crimp_trace_set_current(&tr);
    struct ctrd_stream *s =
        ctrd_stream_start(bed, NULL, CTRD_CONTAINERS "ListStream", &req.base, &err);
    CHECK(s != NULL);
    int ret, seen = 0;
    Containerd__Services__Containers__V1__ListContainerMessage *m = NULL;
    while ((ret = ctrd_stream_next(
                s, &containerd__services__containers__v1__list_container_message__descriptor,
                (ProtobufCMessage **)&m, &err)) > 0) {
        if (m->container && has_prefix(m->container->id, "crimp-unit-c")) {
            json_auto_t *spec = ctrd_any_to_json(m->container->spec);
            if (strcmp(m->container->spec->type_url, CTRD_TYPE_SPEC) == 0 &&
                strcmp(json_string_value(json_object_get(spec, "ociVersion")), "1.0.2") == 0)
                seen++;
        }
        protobuf_c_message_free_unpacked(&m->base, NULL);
    }
    ctrd_stream_free(s);
    crimp_trace_set_current(NULL);
    CHECK_OK(ret);
    CHECK(seen == 2);
    CHECK(tr.n_spans == 1 && strcmp(tr.spans[0].name, "Containers/ListStream") == 0);
    CHECK(tr.spans[0].status == 0);
    return 0;
}

static int subscribe_ends(const struct ctrd_opts *o, crimp_error_t *err)
{
    Containerd__Services__Events__V1__SubscribeRequest req =
        CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
    char *filters[] = {"topic==\"/crimp/unit/never\""};
    req.n_filters = 1;
    req.filters = filters;
    struct ctrd_stream *s = ctrd_stream_start(bed, o, CTRD_EVENTS "Subscribe", &req.base, err);
    if (s == NULL)
        return -1;
    ProtobufCMessage *m = NULL;
    int ret = ctrd_stream_next(s, &containerd__services__events__v1__envelope__descriptor, &m, err);
    if (ret > 0)
        protobuf_c_message_free_unpacked(m, NULL);
    ctrd_stream_free(s);
    return ret;
}

/* A stream with nothing to say ends at its own deadline, or at the parent
 * CRI call's when that comes first.  */
static int test_deadlines(void)
{
    if (bed == NULL)
        return 77;
    crimp_error_t err = NULL;
    struct ctrd_opts o = {.timeout_s = 0.001};
    CHECK(subscribe_ends(&o, &err) < 0);
    CHECK(err->code == GRPC_STATUS_DEADLINE_EXCEEDED);
    CHECK(has_prefix(err->msg, "containerd Events/Subscribe: "));
    crimp_error_release(&err);

    struct crimp_rpc rpc = {.deadline = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                                     gpr_time_from_millis(100, GPR_TIMESPAN))};
    struct ctrd_opts child = {.rpc = &rpc, .timeout_s = -1};
    int64_t t0 = crimp_now_mono_ns();
    CHECK(subscribe_ends(&child, &err) < 0);
    int64_t took = crimp_now_mono_ns() - t0;
    /* containerd's handler may see its context end first and say so
     * itself ("subscription error: context deadline exceeded"): the same
     * code either way.  */
    CHECK(err->code == GRPC_STATUS_DEADLINE_EXCEEDED && took >= 50000000LL && took < 5000000000LL);
    crimp_error_release(&err);
    return 0;
}

static int test_wait_on_a_missing_task_reports_on_the_wait_thread(void)
{
    if (bed == NULL)
        return 77;
    crimp_error_t err = NULL;
    struct exit_seen e = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    CHECK_OK(ctrd_wait_async(bed, "crimp-unit-no-such-task", "", on_exit_cb, &e, &err));
    CHECK(exit_wait(&e, 10));
    CHECK(e.code == GRPC_STATUS_NOT_FOUND && strcmp(e.id, "crimp-unit-no-such-task") == 0);
    CHECK(has_prefix(e.msg, "containerd Tasks/Wait: "));
    CHECK(strcmp(e.thread, "ctrd-wait") == 0);
    return 0;
}

/* ---- the bed and its namespace ------------------------------------------------ */

/* VAR from $CRIMP_BED/env: 0 with *VALUE, 77 without a bed, -1 when the
 * bed does not say.  */
static int bed_var(const char *var, char **value)
{
    const char *dir = getenv("CRIMP_BED");
    if (str_empty(dir)) {
        printf("# containerd part skipped: CRIMP_BED is not set\n");
        return 77;
    }
    cleanup_free char *path = xasprintf("%s/env", dir);
    cleanup_free char *prefix = xasprintf("export %s=", var);
    cleanup_file FILE *f = fopen(path, "r");
    char line[512];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (!has_prefix(line, prefix))
            continue;
        line[strcspn(line, "\n")] = '\0';
        *value = xstrdup(line + strlen(prefix));
        return 0;
    }
    fprintf(stderr, "CRIMP_BED is set but %s has no %s\n", path, var);
    return -1;
}

/* A call whose reply is google.protobuf.Empty.  */
static int call_empty(const char *method, const ProtobufCMessage *req, crimp_error_t *err)
{
    cleanup_msg ProtobufCMessage *resp = NULL;
    return call(method, req, &google__protobuf__empty__descriptor, &resp, err);
}

/* Deletes whatever the tests left in the namespace, then the namespace.  */
static int remove_namespace(crimp_error_t *err)
{
    const char *ids[] = {"crimp-unit-c1", "crimp-unit-c2"};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(ids); i++) {
        Containerd__Services__Containers__V1__DeleteContainerRequest req =
            CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
        req.id = (char *)ids[i];
        if (call_empty(CTRD_CONTAINERS "Delete", &req.base, err) < 0)
            crimp_error_release(err); /* not made, or deleted by its test */
    }
    Containerd__Services__Leases__V1__ListRequest lreq =
        CONTAINERD__SERVICES__LEASES__V1__LIST_REQUEST__INIT;
    cleanup_msg Containerd__Services__Leases__V1__ListResponse *leases = NULL;
    if (call(CTRD_LEASES "List", &lreq.base,
             &containerd__services__leases__v1__list_response__descriptor,
             (ProtobufCMessage **)&leases, err) < 0)
        return -1;
    for (size_t i = 0; i < leases->n_leases; i++)
        if (ctrd_lease_delete(bed, NULL, leases->leases[i]->id, err) < 0)
            return -1;
    Containerd__Services__Content__V1__ListStatusesRequest lsreq =
        CONTAINERD__SERVICES__CONTENT__V1__LIST_STATUSES_REQUEST__INIT;
    cleanup_msg Containerd__Services__Content__V1__ListStatusesResponse *st = NULL;
    if (call(CTRD_CONTENT "ListStatuses", &lsreq.base,
             &containerd__services__content__v1__list_statuses_response__descriptor,
             (ProtobufCMessage **)&st, err) < 0)
        return -1;
    for (size_t i = 0; i < st->n_statuses; i++) {
        Containerd__Services__Content__V1__AbortRequest req =
            CONTAINERD__SERVICES__CONTENT__V1__ABORT_REQUEST__INIT;
        req.ref = st->statuses[i]->ref;
        if (call_empty(CTRD_CONTENT "Abort", &req.base, err) < 0)
            return -1;
    }
    Containerd__Services__Content__V1__ListContentRequest creq =
        CONTAINERD__SERVICES__CONTENT__V1__LIST_CONTENT_REQUEST__INIT;
    struct ctrd_stream *s = ctrd_stream_start(bed, NULL, CTRD_CONTENT "List", &creq.base, err);
    if (s == NULL)
        return -1;
    int ret;
    Containerd__Services__Content__V1__ListContentResponse *m = NULL;
    while ((ret = ctrd_stream_next(
                s, &containerd__services__content__v1__list_content_response__descriptor,
                (ProtobufCMessage **)&m, err)) > 0) {
        for (size_t i = 0; ret >= 0 && i < m->n_info; i++) {
            Containerd__Services__Content__V1__DeleteContentRequest req =
                CONTAINERD__SERVICES__CONTENT__V1__DELETE_CONTENT_REQUEST__INIT;
            req.digest = m->info[i]->digest;
            ret = call_empty(CTRD_CONTENT "Delete", &req.base, err);
            /* Deleting the leases lets containerd's GC take their blobs
             * while this walks the list: gone already is what we want.  */
            if (ret < 0 && (*err)->code == GRPC_STATUS_NOT_FOUND) {
                crimp_error_release(err);
                ret = 0;
            }
        }
        protobuf_c_message_free_unpacked(&m->base, NULL);
        if (ret < 0)
            break;
    }
    ctrd_stream_free(s);
    if (ret < 0)
        return -1;
    Containerd__Services__Namespaces__V1__DeleteNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__DELETE_NAMESPACE_REQUEST__INIT;
    req.name = bed_ns;
    return call_empty(CTRD_NAMESPACES "Delete", &req.base, err);
}

/* The namespace must be gone from Namespaces/List (Get answers for any
 * name).  */
static int namespace_gone(void)
{
    crimp_error_t err = NULL;
    Containerd__Services__Namespaces__V1__ListNamespacesRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_REQUEST__INIT;
    cleanup_msg Containerd__Services__Namespaces__V1__ListNamespacesResponse *resp = NULL;
    CHECK_OK(call(CTRD_NAMESPACES "List", &req.base,
                  &containerd__services__namespaces__v1__list_namespaces_response__descriptor,
                  (ProtobufCMessage **)&resp, &err));
    for (size_t i = 0; i < resp->n_namespaces; i++)
        CHECK(strcmp(resp->namespaces[i]->name, bed_ns) != 0);
    return 0;
}

int main(void)
{
    grpc_init();
    cleanup_free char *sock = NULL;
    int have = bed_var("CRIMP_BED_CONTAINERD_SOCK", &sock);
    if (have < 0)
        return 1;
    if (have == 0) {
        snprintf(bed_ns, sizeof(bed_ns), "crimp-unit-%d", (int)getpid());
        bed = ctrd_conn_new(sock, bed_ns);
    }
    static const struct unit_test tests[] = {
        UNIT_TEST(test_map_round_trips_through_a_message),
        UNIT_TEST(test_any_json_is_the_exact_url_and_compact_json),
        UNIT_TEST(test_any_pack_and_timestamps),
        UNIT_TEST(test_free_cancels_pending_waits),
        UNIT_TEST(test_version),
        UNIT_TEST(test_content_write_read_under_a_lease),
        UNIT_TEST(test_commit_with_a_wrong_digest_fails),
        UNIT_TEST(test_locked_ref_is_waited_for),
        UNIT_TEST(test_errors_keep_the_code),
        UNIT_TEST(test_server_stream_yields_the_items),
        UNIT_TEST(test_deadlines),
        UNIT_TEST(test_wait_on_a_missing_task_reports_on_the_wait_thread),
    };
    int ret = unit_run(tests, CRIMP_ARRAY_SIZE(tests));
    if (bed != NULL) {
        crimp_error_t err = NULL;
        if (remove_namespace(&err) < 0 || namespace_gone() < 0) {
            fprintf(stderr, "cleanup of namespace %s: %s\n", bed_ns,
                    err ? err->msg : "still there");
            crimp_error_release(&err);
            ret = 1;
        }
        ctrd_conn_free(bed);
    }
    grpc_shutdown_blocking();
    return ret;
}
