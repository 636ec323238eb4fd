/* Prometheus and JSON renderings of the recorder.  */
#include "metrics.h"

#include "dispatch.h"
#include "error.h"
#include "utils.h"

/* Bucket bounds in seconds: CRI calls span 100 µs (Version) to minutes
 * (pulls, stops with a grace period).  */
static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                5,      10,      30,     60,    120,    300};

void crimp_prom_escape(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', out);
        if (*s == '\n') {
            fputs("\\n", out);
            continue;
        }
        fputc(*s, out);
    }
}

static void write_histogram(FILE *out, const char *metric, const char *labels,
                            const struct crimp_histogram *h)
{
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(bounds); i++)
        fprintf(out, "%s_bucket{%s,le=\"%g\"} %llu\n", metric, labels, bounds[i],
                (unsigned long long)crimp_hist_count_le(h, (uint64_t)(bounds[i] * 1e9)));
    unsigned long long count = atomic_load(&h->count);
    fprintf(out, "%s_bucket{%s,le=\"+Inf\"} %llu\n", metric, labels, count);
    fprintf(out, "%s_sum{%s} %.9f\n", metric, labels, (double)atomic_load(&h->sum_ns) / 1e9);
    fprintf(out, "%s_count{%s} %llu\n", metric, labels, count);
}

struct prom_ctx {
    struct crimp_recorder *r;
    FILE *out;
};

static char *escape(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    crimp_prom_escape(f, s);
    fclose(f);
    return buf;
}

static void prom_call(void *ctx, int method, int backend, grpc_status_code code,
                      const struct crimp_histogram *h)
{
    struct prom_ctx *p = ctx;
    cleanup_free char *b = escape(crimp_recorder_backend_name(p->r, backend));
    cleanup_free char *labels = xasprintf(
        "service=\"%s\",method=\"%s\",backend=\"%s\",code=\"%s\"", crimp_recorded_service(method),
        crimp_recorded_name(method), b, crimp_status_name(code));
    write_histogram(p->out, "crimp_cri_call_duration_seconds", labels, h);
}

static void prom_subcall(void *ctx, int backend, enum crimp_span_kind kind, const char *name,
                         const struct crimp_histogram *h)
{
    struct prom_ctx *p = ctx;
    cleanup_free char *b = escape(crimp_recorder_backend_name(p->r, backend));
    cleanup_free char *n = escape(name);
    cleanup_free char *labels = xasprintf("backend=\"%s\",kind=\"%s\",call=\"%s\"", b,
                                            crimp_span_kind_name(kind), n);
    write_histogram(p->out, "crimp_backend_subcall_duration_seconds", labels, h);
}

static void prom_session_bytes(void *ctx, int method, int backend, uint64_t in, uint64_t out)
{
    struct prom_ctx *p = ctx;
    cleanup_free char *b = escape(crimp_recorder_backend_name(p->r, backend));
    for (int dir = 0; dir < 2; dir++)
        fprintf(p->out,
                "crimp_stream_bytes_total{service=\"%s\",method=\"%s\",backend=\"%s\","
                "direction=\"%s\"} %llu\n",
                crimp_recorded_service(method), crimp_recorded_name(method), b,
                dir ? "out" : "in", (unsigned long long)(dir ? out : in));
}

void crimp_metrics_prometheus(struct crimp_recorder *r, FILE *out)
{
    struct prom_ctx p = {r, out};
    fputs("# HELP crimp_cri_call_duration_seconds Time crimpd took to answer a CRI call.\n"
          "# TYPE crimp_cri_call_duration_seconds histogram\n",
          out);
    crimp_recorder_each_call_series(r, prom_call, &p);
    fputs("# HELP crimp_backend_subcall_duration_seconds Time of each backend call a CRI call "
          "caused (Docker HTTP request, gRPC call, CNI plugin run).\n"
          "# TYPE crimp_backend_subcall_duration_seconds histogram\n",
          out);
    crimp_recorder_each_subcall_series(r, prom_subcall, &p);
    fputs("# HELP crimp_stream_bytes_total Payload bytes of streaming sessions: in from the "
          "client to the process or pod, out back to the client.\n"
          "# TYPE crimp_stream_bytes_total counter\n",
          out);
    crimp_recorder_each_session_bytes(r, prom_session_bytes, &p);
    fprintf(out,
            "# HELP crimp_cri_calls_in_flight CRI calls and streaming sessions being served now.\n"
            "# TYPE crimp_cri_calls_in_flight gauge\n"
            "crimp_cri_calls_in_flight %lld\n"
            "# HELP crimp_build_info crimpd's version.\n"
            "# TYPE crimp_build_info gauge\n"
            "crimp_build_info{version=\"%s\"} 1\n",
            (long long)crimp_recorder_in_flight(r), CRIMP_VERSION);
}

static json_t *summary(const struct crimp_histogram *h)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "count", (json_int_t)atomic_load(&h->count),
                     "sum_seconds", (double)atomic_load(&h->sum_ns) / 1e9, "p50",
                     (double)crimp_hist_quantile(h, 0.5) / 1e9, "p90",
                     (double)crimp_hist_quantile(h, 0.9) / 1e9, "p99",
                     (double)crimp_hist_quantile(h, 0.99) / 1e9, "max",
                     (double)atomic_load(&h->max_ns) / 1e9);
}

struct json_ctx {
    struct crimp_recorder *r;
    json_t *arr;
    bool cdf;
};

/* The share of calls at or under each of a fixed ladder of durations (1, 2,
 * 5 × 10^k from 10 µs to 5 min): enough points for a CDF chart, and the
 * same points for every series so they can be drawn on one axis.  */
static json_t *cdf_json(const struct crimp_histogram *h)
{
    json_t *pts = json_array();
    uint64_t total = atomic_load(&h->count);
    static const int mant[] = {1, 2, 5};
    for (uint64_t decade = 10000; decade <= 100000000000ULL; decade *= 10)
        for (size_t i = 0; i < 3; i++) {
            uint64_t ns = decade * (uint64_t)mant[i];
            double share = total ? (double)crimp_hist_count_le(h, ns) / (double)total : 0;
            json_array_append_new(pts, json_pack("[f, f]", (double)ns / 1e6, share));
        }
    return pts;
}

static void json_call(void *ctx, int method, int backend, grpc_status_code code,
                      const struct crimp_histogram *h)
{
    struct json_ctx *j = ctx;
    json_t *o = summary(h);
    json_object_set_new(o, "service", json_string(crimp_recorded_service(method)));
    json_object_set_new(o, "method", json_string(crimp_recorded_name(method)));
    json_object_set_new(o, "backend", json_string(crimp_recorder_backend_name(j->r, backend)));
    json_object_set_new(o, "code", json_string(crimp_status_name(code)));
    if (j->cdf)
        json_object_set_new(o, "cdf_ms", cdf_json(h));
    json_array_append_new(j->arr, o);
}

static void json_subcall(void *ctx, int backend, enum crimp_span_kind kind, const char *name,
                         const struct crimp_histogram *h)
{
    struct json_ctx *j = ctx;
    json_t *o = summary(h);
    json_object_set_new(o, "backend", json_string(crimp_recorder_backend_name(j->r, backend)));
    json_object_set_new(o, "kind", json_string(crimp_span_kind_name(kind)));
    json_object_set_new(o, "call", json_string(name));
    json_array_append_new(j->arr, o);
}

static void json_session_bytes(void *ctx, int method, int backend, uint64_t in, uint64_t out)
{
    struct json_ctx *j = ctx;
    json_array_append_new(
        j->arr, json_pack("{s:s, s:s, s:s, s:I, s:I}", "service", crimp_recorded_service(method),
                          "method", crimp_recorded_name(method), "backend",
                          crimp_recorder_backend_name(j->r, backend), "bytes_in", (json_int_t)in,
                          "bytes_out", (json_int_t)out));
}

json_t *crimp_metrics_latency_json(struct crimp_recorder *r, bool cdf)
{
    struct json_ctx calls = {r, json_array(), cdf}, subs = {r, json_array(), false},
                    bytes = {r, json_array(), false};
    crimp_recorder_each_call_series(r, json_call, &calls);
    crimp_recorder_each_subcall_series(r, json_subcall, &subs);
    crimp_recorder_each_session_bytes(r, json_session_bytes, &bytes);
    return json_pack("{s:o, s:o, s:o, s:I}", "calls", calls.arr, "subcalls", subs.arr,
                     "session_bytes", bytes.arr, "in_flight",
                     (json_int_t)crimp_recorder_in_flight(r));
}

json_t *crimp_metrics_call_json(const struct crimp_recorder *r,
                                const struct crimp_call_record *rec)
{
    char start[48];
    crimp_format_rfc3339_ns(rec->start_real_ns, start, sizeof(start));
    json_t *spans = json_array();
    for (int i = 0; i < rec->trace.n_spans; i++) {
        const struct crimp_span *s = &rec->trace.spans[i];
        int by = s->backend > 0 ? s->backend - 1 : rec->backend;
        json_array_append_new(
            spans, json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:f}", "backend",
                             crimp_recorder_backend_name(r, by), "kind",
                             crimp_span_kind_name(s->kind), "name", s->name, "status", s->status,
                             "depth", s->depth, "start_us", (double)s->start_ns / 1e3,
                             "duration_us", (double)s->duration_ns / 1e3));
    }
    json_t *call = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:s, s:f, s:o, s:i}", "id", (json_int_t)rec->id, "service",
        crimp_recorded_service(rec->method), "method", crimp_recorded_name(rec->method), "backend",
        crimp_recorder_backend_name(r, rec->backend), "code", crimp_status_name(rec->code),
        "start", start, "duration_us", (double)rec->duration_ns / 1e3, "spans", spans,
        "spans_dropped", rec->trace.dropped);
    if (crimp_method_is_session(rec->method)) {
        json_object_set_new(call, "bytes_in", json_integer((json_int_t)rec->bytes_in));
        json_object_set_new(call, "bytes_out", json_integer((json_int_t)rec->bytes_out));
    }
    return call;
}
