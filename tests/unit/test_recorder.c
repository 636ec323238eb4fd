/* Unit tests for shim/recorder.c: exact counts per series, sub-call series
 * from spans, the ring of recent calls, and concurrent writers.  */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch.h"
#include "metrics.h"
#include "recorder.h"
#include "unit.h"
#include "utils.h"

struct tally {
    uint64_t calls[4][3]; /* [method][backend + 1] for code OK */
    uint64_t errors;
    uint64_t subcalls;
    char last_name[64];
};

static void on_call(void *ctx, int method, int backend, grpc_status_code code,
                    const struct crimp_histogram *h)
{
    struct tally *t = ctx;
    if (code == GRPC_STATUS_OK)
        t->calls[method][backend + 1] += h->count;
    else
        t->errors += h->count;
}

static void on_sub(void *ctx, int backend, enum crimp_span_kind kind, const char *name,
                   const struct crimp_histogram *h)
{
    struct tally *t = ctx;
    t->subcalls += h->count;
    snprintf(t->last_name, sizeof(t->last_name), "%s", name);
}

static int test_counts_and_spans(void)
{
    const char *names[] = {"docker", "ctr"};
    struct crimp_recorder *r = crimp_recorder_new(names, 2, 4, 8);
    struct crimp_trace tr = {.start_mono_ns = 1000};
    crimp_trace_set_current(&tr);
    crimp_trace_span(CRIMP_SPAN_HTTP, "POST /containers/create", 201, 1500, 2500);
    crimp_trace_span(CRIMP_SPAN_HTTP, "POST /containers/{id}/start", 204, 2600, 9000);
    crimp_trace_set_current(NULL);
    CHECK(tr.n_spans == 2 && tr.spans[1].start_ns == 1600 && tr.spans[1].duration_ns == 6400);

    for (int i = 0; i < 3; i++) {
        crimp_recorder_begin(r);
        crimp_recorder_finish(r, 1, 0, GRPC_STATUS_OK, 0, 10000, &tr);
    }
    crimp_recorder_begin(r);
    crimp_recorder_finish(r, 2, 1, GRPC_STATUS_NOT_FOUND, 0, 500, NULL);
    crimp_recorder_begin(r);
    crimp_recorder_finish(r, 0, -1, GRPC_STATUS_OK, 0, 100, NULL);
    CHECK(crimp_recorder_in_flight(r) == 0);

    struct tally t = {0};
    crimp_recorder_each_call_series(r, on_call, &t);
    CHECK(t.calls[1][1] == 3 && t.calls[0][0] == 1 && t.errors == 1);
    crimp_recorder_each_subcall_series(r, on_sub, &t);
    CHECK(t.subcalls == 6);

    struct crimp_call_record out[8];
    size_t n = crimp_recorder_recent(r, 0, out, 8);
    CHECK(n == 5);
    CHECK(out[0].id == 1 && out[4].id == 5 && out[4].backend == -1);
    CHECK(out[0].trace.n_spans == 2);
    CHECK(strcmp(out[0].trace.spans[0].name, "POST /containers/create") == 0);
    CHECK(crimp_recorder_recent(r, 3, out, 8) == 2);
    CHECK(crimp_recorder_recent(r, 0, out, 2) == 2 && out[0].id == 4);
    crimp_recorder_free(r);
    return 0;
}

static int test_ring_wraps(void)
{
    const char *names[] = {"b"};
    struct crimp_recorder *r = crimp_recorder_new(names, 1, 1, 4);
    for (int i = 0; i < 10; i++) {
        crimp_recorder_begin(r);
        crimp_recorder_finish(r, 0, 0, GRPC_STATUS_OK, i, i, NULL);
    }
    struct crimp_call_record out[16];
    size_t n = crimp_recorder_recent(r, 0, out, 16);
    CHECK(n == 4 && out[0].id == 7 && out[3].id == 10);
    crimp_recorder_free(r);
    return 0;
}

/* A streaming session is a call past the CRI methods, with its bytes, and
 * both renderings name it stream/exec.  */
static int test_session_records_bytes(void)
{
    const char *names[] = {"docker"};
    struct crimp_recorder *r = crimp_recorder_new(names, 1, crimp_n_recorded_methods, 8);
    int exec = crimp_session_method(CRIMP_STREAM_EXEC);
    CHECK(!crimp_method_is_session(exec - 1) && crimp_method_is_session(exec));
    struct crimp_trace tr = {.start_mono_ns = 0};
    crimp_trace_set_current(&tr);
    crimp_trace_span(CRIMP_SPAN_STREAM, "websocket first byte", 0, 0, 7000);
    crimp_trace_set_current(NULL);
    crimp_recorder_begin(r);
    crimp_recorder_finish_session(r, exec, 0, GRPC_STATUS_OK, 0, 90000, &tr, 12, 345);
    crimp_recorder_begin(r);
    crimp_recorder_finish(r, 0, 0, GRPC_STATUS_OK, 0, 10, NULL);
    struct crimp_call_record out[2];
    CHECK(crimp_recorder_recent(r, 0, out, 2) == 2);
    CHECK(out[0].bytes_in == 12 && out[0].bytes_out == 345 && out[1].bytes_out == 0);

    json_t *j = crimp_metrics_call_json(r, &out[0]);
    CHECK(strcmp(json_string_value(json_object_get(j, "service")), "stream") == 0);
    CHECK(strcmp(json_string_value(json_object_get(j, "method")), "exec") == 0);
    CHECK(json_integer_value(json_object_get(j, "bytes_out")) == 345);
    json_t *span = json_array_get(json_object_get(j, "spans"), 0);
    CHECK(strcmp(json_string_value(json_object_get(span, "kind")), "stream") == 0);
    json_decref(j);
    j = crimp_metrics_call_json(r, &out[1]); /* a CRI call has no bytes */
    CHECK(json_object_get(j, "bytes_in") == NULL);
    json_decref(j);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    crimp_metrics_prometheus(r, f);
    fclose(f);
    CHECK(strstr(text, "crimp_cri_call_duration_seconds_count{service=\"stream\",method=\"exec\","
                       "backend=\"docker\",code=\"OK\"} 1") != NULL);
    CHECK(strstr(text, "kind=\"stream\",call=\"websocket first byte\"") != NULL);
    CHECK(strstr(text, "crimp_stream_bytes_total{service=\"stream\",method=\"exec\","
                       "backend=\"docker\",direction=\"out\"} 345\n") != NULL);
    CHECK(strstr(text, "direction=\"in\"} 12\n") != NULL);
    free(text);
    crimp_recorder_begin(r);
    crimp_recorder_finish_session(r, exec, 0, GRPC_STATUS_OK, 0, 1, NULL, 1, 5);
    json_t *lat = crimp_metrics_latency_json(r, false);
    json_t *bytes = json_object_get(lat, "session_bytes");
    CHECK(json_array_size(bytes) == 1);
    CHECK(json_integer_value(json_object_get(json_array_get(bytes, 0), "bytes_in")) == 13);
    CHECK(json_integer_value(json_object_get(json_array_get(bytes, 0), "bytes_out")) == 350);
    json_decref(lat);
    crimp_recorder_free(r);
    return 0;
}

static struct crimp_recorder *shared;

static void *writer(void *arg)
{
    struct crimp_trace tr = {.start_mono_ns = 0};
    crimp_trace_set_current(&tr);
    for (int i = 0; i < 20000; i++) {
        tr.n_spans = 0;
        crimp_trace_span(CRIMP_SPAN_GRPC, arg, 0, 0, i);
        crimp_recorder_begin(shared);
        crimp_recorder_finish(shared, i % 4, i % 2, GRPC_STATUS_OK, 0, 1000 + i, &tr);
    }
    return NULL;
}

static int test_concurrent_writers(void)
{
    const char *names[] = {"a", "b"};
    char *span_names[] = {"x", "y", "z", "w"};
    pthread_t t[4];
    shared = crimp_recorder_new(names, 2, 4, 64);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, writer, span_names[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct tally tl = {0};
    crimp_recorder_each_call_series(shared, on_call, &tl);
    uint64_t total = 0;
    for (int m = 0; m < 4; m++)
        for (int b = 0; b < 3; b++)
            total += tl.calls[m][b];
    CHECK(total == 80000);
    crimp_recorder_each_subcall_series(shared, on_sub, &tl);
    CHECK(tl.subcalls == 80000);
    CHECK(crimp_recorder_in_flight(shared) == 0);
    crimp_recorder_free(shared);
    return 0;
}

static void *span_on_helper(void *arg)
{
    crimp_trace_set_current(arg);
    crimp_trace_span(CRIMP_SPAN_CNI, "bridge ADD", 0, 1300, 1800);
    crimp_trace_set_current(NULL);
    return NULL;
}

/* Spans a helper thread records for the call (RunPodSandbox's CNI ADD
 * beside the pause container's creation) join the call's trace, with
 * offsets from the call's start and the nesting it had at the fork.  */
static int test_trace_fork_and_join(void)
{
    struct crimp_trace call = {.start_mono_ns = 1000}, helper;
    crimp_trace_set_current(&call);
    crimp_trace_enter();
    crimp_trace_fork(&helper);
    crimp_trace_leave();
    pthread_t t;
    pthread_create(&t, NULL, span_on_helper, &helper);
    crimp_trace_span(CRIMP_SPAN_GRPC, "Tasks/Create", 0, 1100, 2500);
    pthread_join(t, NULL);
    crimp_trace_join(&helper);
    crimp_trace_set_current(NULL);
    CHECK(call.n_spans == 2 && strcmp(call.spans[1].name, "bridge ADD") == 0);
    CHECK(call.spans[1].start_ns == 300 && call.spans[1].duration_ns == 500);
    CHECK(call.spans[1].depth == 1 && call.spans[0].depth == 0);
    return 0;
}

static struct crimp_recorder *handoff;

static void *finish_elsewhere(void *arg)
{
    (void)arg;
    for (int i = 0; i < 1000; i++)
        crimp_recorder_finish(handoff, 0, 0, GRPC_STATUS_OK, 0, 10, NULL);
    return NULL;
}

/* Calls that begin on one thread (a poller) and finish on another (a
 * worker) land in different shards; the in-flight sum must still be 0.  */
static int test_begin_and_finish_on_different_threads(void)
{
    const char *names[] = {"b"};
    handoff = crimp_recorder_new(names, 1, 1, 4);
    for (int i = 0; i < 1000; i++)
        crimp_recorder_begin(handoff);
    CHECK(crimp_recorder_in_flight(handoff) == 1000);
    pthread_t t;
    pthread_create(&t, NULL, finish_elsewhere, NULL);
    pthread_join(t, NULL);
    CHECK(crimp_recorder_in_flight(handoff) == 0);
    struct tally tl = {0};
    crimp_recorder_each_call_series(handoff, on_call, &tl);
    CHECK(tl.calls[0][1] == 1000);
    crimp_recorder_free(handoff);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_counts_and_spans),
        UNIT_TEST(test_ring_wraps),
        UNIT_TEST(test_session_records_bytes),
        UNIT_TEST(test_concurrent_writers),
        UNIT_TEST(test_begin_and_finish_on_different_threads),
        UNIT_TEST(test_trace_fork_and_join),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
