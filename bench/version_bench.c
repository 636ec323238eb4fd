/* crimp-bench-version: Version latency and throughput of an endpoint
 * (crimpd) against a reference (crimp-echo-server, the bare gRPC floor).
 *
 * For each concurrency level C, C threads issue synchronous unary Version
 * calls back to back over ONE channel per endpoint, shared by all threads:
 * kubelet talks to its runtime over a single channel, so that is the
 * contention that matters.  Every latency is kept (per-thread arrays, merged
 * after), so the percentiles are exact, not bucketed.
 *
 * Drift: a level's measured time is cut into slices run in ABBA order (ref,
 * endpoint, endpoint, ref, ...), so a machine that speeds up or slows down
 * during the run hits both sides alike.  */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/support/alloc.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>

#include "cri.pb-c.h"
#include "error.h"
#include "grpc_client.h"
#include "unary_call.h"
#include "utils.h"

#define VERSION_METHOD "/runtime.v1.RuntimeService/Version"

/* The call measured: Version by default; the others measure a backend
 * (--method, with --container-id, --pod-id or --image as the call needs).  */
static const char *bench_method = "Version";
static const char *bench_container_id = "";
static const char *bench_pod_id = "";
static const char *bench_image = "";
#define MAX_LEVELS     16

struct options {
    const char *endpoint, *endpoint_ref;
    const char *label, *label_ref;
    int levels[MAX_LEVELS];
    int n_levels;
    double seconds, warmup;
    int rounds; /* slices per endpoint and level */
    bool json;
};

struct endpoint {
    const char *label;
    const char *address;
    grpc_channel *ch;
    void *method; /* grpc_channel_register_call handle */
    char *runtime;       /* what its Version reply says it is */
};

/* All the calls one endpoint answered at one level, over all its slices.  */
struct sample {
    uint32_t *lat_ns;
    size_t n, cap;
    double seconds; /* measured time, summed over slices */
    int64_t errors;
    char *first_error;
};

/* One thread's share of one slice.  */
struct worker {
    pthread_t thread;
    const struct endpoint *ep;
    pthread_barrier_t *start;
    const int64_t *deadline_ns; /* set by main before the barrier opens */
    uint32_t *lat_ns;
    size_t n, cap;
    int64_t end_ns;
    char *error;
};

struct result {
    double calls_per_s, p50_us, p99_us;
    size_t calls;
};

/* ---- one call ---- */

/* The methods measured, each with its request type and the one string
 * field it needs (Version's is what kubelet sends; "image" is ImageSpec's
 * own field).  The request is packed once: the benchmark measures the
 * server, not the client's encoder.  */
static const struct bench_method {
    const char *name, *service;
    const ProtobufCMessageDescriptor *request;
    const char *field;
    const char **value;
} METHODS[] = {
    {"Version", "RuntimeService", &runtime__v1__version_request__descriptor, "version", NULL},
    {"ListContainers", "RuntimeService", &runtime__v1__list_containers_request__descriptor, NULL, NULL},
    {"ContainerStatus", "RuntimeService", &runtime__v1__container_status_request__descriptor,
     "container_id", &bench_container_id},
    {"ListPodSandbox", "RuntimeService", &runtime__v1__list_pod_sandbox_request__descriptor, NULL, NULL},
    {"PodSandboxStatus", "RuntimeService", &runtime__v1__pod_sandbox_status_request__descriptor,
     "pod_sandbox_id", &bench_pod_id},
    {"ListImages", "ImageService", &runtime__v1__list_images_request__descriptor, NULL, NULL},
    {"ImageStatus", "ImageService", &runtime__v1__image_status_request__descriptor, "image",
     &bench_image},
    {"ImageFsInfo", "ImageService", &runtime__v1__image_fs_info_request__descriptor, NULL, NULL},
};

/* Sets string field NAME of M to VALUE; a message-typed field gets a new
 * message whose field of the same name is set (ImageSpec.image), returned
 * for the caller to free (NULL for a string field).  */
static ProtobufCMessage *set_string_field(ProtobufCMessage *m, const char *name, char *value)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    void *slot = (char *)m + f->offset;
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        *(char **)slot = value;
        return NULL;
    }
    const ProtobufCMessageDescriptor *d = f->descriptor;
    ProtobufCMessage *inner = xcalloc(1, d->sizeof_message);
    protobuf_c_message_init(d, inner);
    set_string_field(inner, name, value);
    *(ProtobufCMessage **)slot = inner;
    return inner;
}

static const struct bench_method *method_named(const char *name)
{
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(METHODS); i++)
        if (strcmp(METHODS[i].name, name) == 0)
            return &METHODS[i];
    return NULL;
}

static grpc_slice request_bytes(void)
{
    const struct bench_method *bm = method_named(bench_method);
    cleanup_free ProtobufCMessage *req = xcalloc(1, bm->request->sizeof_message);
    protobuf_c_message_init(bm->request, req);
    cleanup_free ProtobufCMessage *inner =
        bm->field ? set_string_field(req, bm->field, (char *)(bm->value ? *bm->value : "v1"))
                  : NULL;
    return bench_pack_slice(req);
}

/* ---- threads and slices ---- */

static void push_latency(uint32_t **arr, size_t *n, size_t *cap, int64_t ns)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4096;
        *arr = xrealloc(*arr, *cap * sizeof(**arr));
    }
    (*arr)[(*n)++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* A pluck queue per thread, made before the clock starts.  */
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice req = request_bytes();
    pthread_barrier_wait(w->start);
    int64_t deadline = *w->deadline_ns;
    int64_t now = crimp_now_mono_ns();
    while (now < deadline) {
        int64_t t0 = now;
        if (bench_unary_call(w->ep->ch, w->ep->method, cq, req, &w->error) < 0)
            break; /* a broken endpoint would only spin: report it instead */
        now = crimp_now_mono_ns();
        push_latency(&w->lat_ns, &w->n, &w->cap, now - t0);
    }
    w->end_ns = crimp_now_mono_ns();
    grpc_slice_unref(req);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    return NULL;
}

static void absorb(struct sample *s, struct worker *w)
{
    if (s->n + w->n > s->cap) {
        s->cap = (s->n + w->n) * 2;
        s->lat_ns = xrealloc(s->lat_ns, s->cap * sizeof(*s->lat_ns));
    }
    if (w->n)
        memcpy(s->lat_ns + s->n, w->lat_ns, w->n * sizeof(*w->lat_ns));
    s->n += w->n;
    if (w->error) {
        s->errors++;
        if (s->first_error == NULL)
            s->first_error = steal_ptr(&w->error);
    }
    free(w->error);
    free(w->lat_ns);
}

/* Runs CLIENTS threads against EP for SECONDS; adds what they measured to
 * S unless S is NULL (warmup).  */
static void run_slice(const struct endpoint *ep, int clients, double seconds, struct sample *s)
{
    cleanup_free struct worker *workers = xcalloc((size_t)clients, sizeof(*workers));
    pthread_barrier_t start;
    int64_t deadline = 0;
    pthread_barrier_init(&start, NULL, (unsigned)clients + 1);
    for (int i = 0; i < clients; i++) {
        workers[i].ep = ep;
        workers[i].start = &start;
        workers[i].deadline_ns = &deadline;
        pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]);
    }
    int64_t started = crimp_now_mono_ns();
    deadline = started + (int64_t)(seconds * 1e9);
    pthread_barrier_wait(&start);
    int64_t ended = started;
    for (int i = 0; i < clients; i++) {
        pthread_join(workers[i].thread, NULL);
        if (workers[i].end_ns > ended)
            ended = workers[i].end_ns;
    }
    pthread_barrier_destroy(&start);
    if (s == NULL) {
        for (int i = 0; i < clients; i++) {
            free(workers[i].lat_ns);
            free(workers[i].error);
        }
        return;
    }
    /* Until the last call in flight at the deadline came back: the calls it
     * counts took that long.  */
    s->seconds += (double)(ended - started) / 1e9;
    for (int i = 0; i < clients; i++)
        absorb(s, &workers[i]);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted latencies, in microseconds.  */
static double percentile_us(const struct sample *s, double q)
{
    if (s->n == 0)
        return 0;
    size_t rank = (size_t)ceil(q * (double)s->n);
    if (rank < 1)
        rank = 1;
    return s->lat_ns[rank - 1] / 1e3;
}

static struct result summarize(struct sample *s)
{
    qsort(s->lat_ns, s->n, sizeof(*s->lat_ns), cmp_u32);
    struct result r = {.calls = s->n};
    r.calls_per_s = s->seconds > 0 ? (double)s->n / s->seconds : 0;
    r.p50_us = percentile_us(s, 0.50);
    r.p99_us = percentile_us(s, 0.99);
    return r;
}

/* ---- endpoints ---- */

/* Opens EP's channel and makes one call, so that the connection exists
 * before the clock starts and a wrong address fails here, clearly.  */
static int open_endpoint(struct endpoint *ep, crimp_error_t *err)
{
    ep->ch = crimp_grpc_channel_open(ep->address, 0);
    cleanup_free char *path =
        xasprintf("/runtime.v1.%s/%s", method_named(bench_method)->service, bench_method);
    ep->method = grpc_channel_register_call(ep->ch, path, NULL, NULL);
    Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
    req.version = (char *)"v1";
    ProtobufCMessage *resp = NULL;
    if (crimp_grpc_unary(ep->ch, NULL, VERSION_METHOD, crimp_grpc_deadline_in(5), &req.base,
                         &runtime__v1__version_response__descriptor, &resp, err) < 0)
        return crimp_error_wrap(err, "%s (%s)", ep->label, ep->address);
    Runtime__V1__VersionResponse *v = (Runtime__V1__VersionResponse *)resp;
    ep->runtime = xasprintf("%s %s", v->runtime_name, v->runtime_version);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static void close_endpoint(struct endpoint *ep)
{
    if (ep->ch)
        grpc_channel_destroy(ep->ch);
    free(ep->runtime);
}

/* ---- one concurrency level ---- */

/* Warms both endpoints, then runs the slices in ABBA order.  EPS[0] is the
 * reference (may be absent: N_EPS 1).  */
static void run_level(const struct options *o, struct endpoint *eps, int n_eps, int clients,
                      struct sample *samples)
{
    for (int e = 0; e < n_eps; e++)
        if (o->warmup > 0)
            run_slice(&eps[e], clients, o->warmup, NULL);
    double slice = o->seconds / o->rounds;
    for (int r = 0; r < o->rounds; r++)
        for (int k = 0; k < n_eps; k++) {
            int e = (r % 2 == 0) ? k : n_eps - 1 - k;
            run_slice(&eps[e], clients, slice, &samples[e]);
        }
}

/* ---- output ---- */

static void print_header(const struct options *o, const struct endpoint *eps, int n_eps)
{
    printf("# %s, synchronous unary calls back to back; one shared channel per endpoint\n"
           "# (as kubelet), C client threads on it; %.1fs measured per endpoint and level in\n"
           "# %d ABBA-ordered slices after %.1fs warmup\n",
           bench_method, o->seconds, o->rounds, o->warmup);
    for (int e = 0; e < n_eps; e++)
        printf("# %-8s %s  (says: %s)\n", eps[e].label, eps[e].address, eps[e].runtime);
    if (n_eps == 2)
        printf("# ratio = %s / %s: > 1 for p50/p99 and < 1 for calls/s mean %s is slower\n",
               eps[1].label, eps[0].label, eps[1].label);
    printf("%-8s %-9s %10s %9s %9s %10s\n", "clients", "endpoint", "calls/s", "p50_us", "p99_us",
           "calls");
}

static void print_row(int clients, const char *label, const struct result *r)
{
    printf("%-8d %-9s %10.0f %9.1f %9.1f %10zu\n", clients, label, r->calls_per_s, r->p50_us,
           r->p99_us, r->calls);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void print_ratio(int clients, const struct result *ref, const struct result *r)
{
    printf("%-8d %-9s %10.2f %9.2f %9.2f\n", clients, "ratio", ratio(r->calls_per_s, ref->calls_per_s),
           ratio(r->p50_us, ref->p50_us), ratio(r->p99_us, ref->p99_us));
}

static json_t *json_result(int clients, const struct endpoint *ep, const struct sample *s,
                           const struct result *r)
{
    return json_pack("{s:i, s:s, s:s, s:f, s:f, s:f, s:I, s:I}", "clients", clients, "endpoint",
                     ep->label, "address", ep->address, "calls_per_s", r->calls_per_s, "p50_us",
                     r->p50_us, "p99_us", r->p99_us, "calls", (json_int_t)r->calls, "errors",
                     (json_int_t)s->errors);
}

static json_t *json_ratio(int clients, const struct result *ref, const struct result *r)
{
    return json_pack("{s:i, s:f, s:f, s:f}", "clients", clients, "calls_per_s",
                     ratio(r->calls_per_s, ref->calls_per_s), "p50_us",
                     ratio(r->p50_us, ref->p50_us), "p99_us", ratio(r->p99_us, ref->p99_us));
}

/* ---- arguments ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: crimp-bench-version --endpoint E [--endpoint-ref E2] [--clients 1,8,64]\n"
            "                           [--seconds S] [--warmup S] [--rounds N] [--json]\n"
            "                           [--label NAME] [--label-ref NAME]\n"
            "                           [--method M] [--container-id ID] [--pod-id ID]\n"
            "                           [--image REF]\n"
            "M: Version (default), ListContainers, ContainerStatus, ListPodSandbox,\n"
            "PodSandboxStatus, ListImages, ImageStatus or ImageFsInfo.\n"
            "Measures M's calls/s, p50 and p99 on E (label crimpd) and, interleaved,\n"
            "on the reference E2 (label echo, e.g. crimp-echo-server), with one shared\n"
            "channel per endpoint and C client threads per level.  S (default 5) is the\n"
            "measured time per endpoint and level, cut into N (default 4) slices run in\n"
            "ABBA order; each level starts with a warmup (default 1s) per endpoint.\n");
}

static int parse_levels(const char *text, struct options *o)
{
    cleanup_free char *copy = xstrdup(text);
    char *save = NULL;
    o->n_levels = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end = NULL;
        long v = strtol(t, &end, 10);
        if (end == t || *end || v < 1 || v > 4096 || o->n_levels == MAX_LEVELS)
            return -1;
        o->levels[o->n_levels++] = (int)v;
    }
    return o->n_levels > 0 ? 0 : -1;
}

static int parse_seconds(const char *text, double min, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min) || v > 3600)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'e'}, {"endpoint-ref", required_argument, NULL, 'r'},
        {"clients", required_argument, NULL, 'c'},  {"seconds", required_argument, NULL, 's'},
        {"warmup", required_argument, NULL, 'w'},   {"rounds", required_argument, NULL, 'n'},
        {"label", required_argument, NULL, 'l'},    {"label-ref", required_argument, NULL, 'L'},
        {"json", no_argument, NULL, 'j'},           {"help", no_argument, NULL, 'h'},
        {"method", required_argument, NULL, 'm'},   {"container-id", required_argument, NULL, 'i'},
        {"pod-id", required_argument, NULL, 'p'},   {"image", required_argument, NULL, 'I'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        bool bad = false;
        switch (c) {
        case 'e': o->endpoint = optarg; break;
        case 'r': o->endpoint_ref = optarg; break;
        case 'l': o->label = optarg; break;
        case 'L': o->label_ref = optarg; break;
        case 'j': o->json = true; break;
        case 'm':
            bench_method = optarg;
            bad = method_named(optarg) == NULL;
            break;
        case 'i': bench_container_id = optarg; break;
        case 'p': bench_pod_id = optarg; break;
        case 'I': bench_image = optarg; break;
        case 'c': bad = parse_levels(optarg, o) < 0; break;
        case 's': bad = parse_seconds(optarg, 0.01, &o->seconds) < 0; break;
        case 'w': bad = parse_seconds(optarg, 0, &o->warmup) < 0; break;
        case 'n': {
            double v = 0;
            bad = parse_seconds(optarg, 1, &v) < 0 || v != floor(v) || v > 100;
            o->rounds = (int)v;
            break;
        }
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (bad) {
            fprintf(stderr, "crimp-bench-version: bad value `%s` for an option\n", optarg);
            return -1;
        }
    }
    if (o->endpoint == NULL || optind != argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* ---- main ---- */

/* Runs every level; prints the table as it goes (or collects JSON).
 * Returns the number of failed calls.  */
static int64_t run_all(const struct options *o, struct endpoint *eps, int n_eps, json_t *out)
{
    int64_t errors = 0;
    json_t *rows = json_array(), *ratios = json_array();
    if (!o->json)
        print_header(o, eps, n_eps);
    for (int l = 0; l < o->n_levels; l++) {
        int clients = o->levels[l];
        struct sample samples[2] = {{0}};
        struct result res[2];
        run_level(o, eps, n_eps, clients, samples);
        for (int e = 0; e < n_eps; e++) {
            res[e] = summarize(&samples[e]);
            errors += samples[e].errors;
            if (o->json)
                json_array_append_new(rows, json_result(clients, &eps[e], &samples[e], &res[e]));
            else
                print_row(clients, eps[e].label, &res[e]);
            if (samples[e].first_error)
                fprintf(stderr, "crimp-bench-version: %s, %d clients: %" PRId64
                                " threads stopped on an error, first: %s\n",
                        eps[e].label, clients, samples[e].errors, samples[e].first_error);
            free(samples[e].first_error);
            free(samples[e].lat_ns);
        }
        if (n_eps == 2 && o->json)
            json_array_append_new(ratios, json_ratio(clients, &res[0], &res[1]));
        else if (n_eps == 2)
            print_ratio(clients, &res[0], &res[1]);
        fflush(stdout);
    }
    json_object_set_new(out, "results", rows);
    json_object_set_new(out, "ratios", ratios);
    return errors;
}

int main(int argc, char **argv)
{
    struct options o = {.levels = {1, 8, 64}, .n_levels = 3, .seconds = 5, .warmup = 1,
                        .rounds = 4, .label = "crimpd", .label_ref = "echo"};
    cleanup_error crimp_error_t err = NULL;
    if (parse_args(argc, argv, &o) < 0)
        return 2;

    grpc_init();
    /* The reference first: run_level's slices start with it.  */
    struct endpoint eps[2] = {{0}};
    int n_eps = 0;
    if (o.endpoint_ref)
        eps[n_eps++] = (struct endpoint){.label = o.label_ref, .address = o.endpoint_ref};
    eps[n_eps++] = (struct endpoint){.label = o.label, .address = o.endpoint};
    int ret = 0;
    for (int e = 0; e < n_eps && ret == 0; e++)
        if (open_endpoint(&eps[e], &err) < 0) {
            fprintf(stderr, "crimp-bench-version: %s\n", err->msg);
            ret = 1;
        }
    if (ret == 0) {
        json_t *out = json_pack("{s:s, s:f, s:f, s:i}", "channel", "one shared per endpoint",
                                "seconds", o.seconds, "warmup", o.warmup, "rounds", o.rounds);
        if (run_all(&o, eps, n_eps, out) > 0)
            ret = 1;
        if (o.json) {
            json_dumpf(out, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
            putchar('\n');
        }
        json_decref(out);
    }
    for (int e = 0; e < n_eps; e++)
        close_endpoint(&eps[e]);
    grpc_shutdown_blocking();
    return ret;
}
