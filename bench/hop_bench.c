/* crimp-bench-hop: what crimpd's passthrough adds to a call, against the
 * price of a bare grpc C-core round trip, in one run.
 *
 * Three endpoints: crimp-echo-server (Version answered from a fixed reply:
 * the bare round trip), a runtime's CRI socket called directly, and crimpd
 * with a `cri` backend pointed at that runtime.  Each round makes, for each
 * method, one bare call, one direct call and one through crimpd, in an
 * order shuffled each round, one call in flight at a time: the machine's
 * drift hits all three alike.  The added latency of a method is
 * median(crimpd) - median(direct); its ratio to the bare median is the
 * figure the passthrough is judged by.  --crimpd may be given several
 * times, to compare builds or settings in the same run.  */
#include <getopt.h>
#include <grpc/grpc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri.pb-c.h"
#include "grpc_client.h"
#include "unary_call.h"
#include "utils.h"

enum { MAX_METHODS = 8, MAX_CRIMPD = 4 };

struct series {
    uint32_t *ns;
    size_t n;
    char *first_error;
    size_t errors;
};

struct method {
    const char *name;
    grpc_slice req;
    void *direct, *crimpd[MAX_CRIMPD]; /* registered on each channel */
    struct series s_direct, s_crimpd[MAX_CRIMPD];
};

struct options {
    const char *echo, *direct, *crimpd[MAX_CRIMPD];
    int n_crimpd;
    const char *methods;
    int rounds, warmup;
    double max_ratio; /* exit 1 above it; 0: never */
};

static grpc_slice request_for(const char *name)
{
    if (strcmp(name, "Version") == 0) {
        Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
        req.version = (char *)"v1";
        return bench_pack_slice(&req.base);
    }
    /* ListContainers, ListImages, ListPodSandbox, ...: an empty request
     * (no filter) is what kubelet's relists send.  */
    return grpc_empty_slice();
}

static void record(struct series *s, int rounds, int64_t ns, int ret, char *error)
{
    if (s->ns == NULL)
        s->ns = xcalloc((size_t)rounds, sizeof(*s->ns));
    if (ret < 0) {
        s->errors++;
        if (s->first_error == NULL)
            s->first_error = error;
        else
            free(error);
        return;
    }
    s->ns[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

/* One timed call; added to S unless S is NULL (warmup).  */
static void timed(grpc_channel *ch, void *method, grpc_completion_queue *cq, grpc_slice req,
                  struct series *s, int rounds)
{
    char *error = NULL;
    int64_t t0 = crimp_now_mono_ns();
    int ret = bench_unary_call(ch, method, cq, req, &error);
    int64_t ns = crimp_now_mono_ns() - t0;
    if (s)
        record(s, rounds, ns, ret, error);
    else
        free(error);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile, µs.  */
static double pct_us(struct series *s, double q)
{
    if (s->n == 0)
        return NAN;
    qsort(s->ns, s->n, sizeof(*s->ns), cmp_u32);
    size_t rank = (size_t)ceil(q * (double)s->n);
    return s->ns[(rank < 1 ? 1 : rank) - 1] / 1e3;
}

static void print_series(const char *label, const char *method, struct series *s)
{
    printf("%-8s %-16s %8zu %9.1f %9.1f\n", label, method, s->n, pct_us(s, 0.5), pct_us(s, 0.9));
    if (s->errors)
        fprintf(stderr, "crimp-bench-hop: %s %s: %zu calls failed, first: %s\n", label, method,
                s->errors, s->first_error);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: crimp-bench-hop --echo ADDR --direct ADDR --crimpd ADDR [options]\n"
            "  --echo ADDR       crimp-echo-server (the bare round trip)\n"
            "  --direct ADDR     the runtime's CRI socket\n"
            "  --crimpd ADDR     crimpd, with a cri backend on that runtime; up to %d times\n"
            "                    (two builds or settings compared in the same run)\n"
            "  --methods LIST    comma-separated (default ListContainers,ListImages,Version)\n"
            "  --rounds N        measured rounds (default 3000)\n"
            "  --warmup N        unmeasured rounds first (default 200)\n"
            "  --max-ratio X     exit 1 when a method's added p50 exceeds X x bare p50\n",
            MAX_CRIMPD);
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"echo", required_argument, NULL, 'e'},    {"direct", required_argument, NULL, 'd'},
        {"crimpd", required_argument, NULL, 'c'},  {"methods", required_argument, NULL, 'm'},
        {"rounds", required_argument, NULL, 'r'},  {"warmup", required_argument, NULL, 'w'},
        {"max-ratio", required_argument, NULL, 'x'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'e': o->echo = optarg; break;
        case 'd': o->direct = optarg; break;
        case 'c':
            if (o->n_crimpd == MAX_CRIMPD) {
                fprintf(stderr, "crimp-bench-hop: at most %d --crimpd\n", MAX_CRIMPD);
                return -1;
            }
            o->crimpd[o->n_crimpd++] = optarg;
            break;
        case 'm': o->methods = optarg; break;
        case 'r': o->rounds = atoi(optarg); break;
        case 'w': o->warmup = atoi(optarg); break;
        case 'x': o->max_ratio = atof(optarg); break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (!o->echo || !o->direct || o->n_crimpd == 0 || o->rounds < 1 || o->warmup < 0) {
        usage(stderr);
        return -1;
    }
    return 0;
}

static size_t parse_methods(char *list, struct method *m)
{
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok && n < MAX_METHODS;
         tok = strtok_r(NULL, ",", &save))
        m[n++] = (struct method){.name = tok, .req = request_for(tok)};
    return n;
}

static void *register_method(grpc_channel *ch, const char *name)
{
    /* ListImages, ImageStatus, ImageFsInfo, ...: the image service's.  */
    cleanup_free char *path = xasprintf(
        "/runtime.v1.%s/%s", strstr(name, "Image") ? "ImageService" : "RuntimeService", name);
    return grpc_channel_register_call(ch, path, NULL, NULL);
}

struct channels {
    grpc_channel *echo, *direct, *crimpd[MAX_CRIMPD];
    int n_crimpd;
    void *echo_m;
    grpc_slice echo_req;
    grpc_completion_queue *cq;
};

/* One round (BARE NULL: a warmup round): for each method a bare call,
 * the direct call and each crimpd's, in an order shuffled every round
 * (a fixed rotation favours whoever follows whom: ~5 µs, bench A/A).  */
static void run_round(const struct channels *ch, struct method *m, size_t n_m, struct series *bare,
                      int rounds, unsigned *seed)
{
    bool measure = bare != NULL;
    int n_paths = 2 + ch->n_crimpd; /* 0: bare, 1: direct, k >= 2: crimpd k-2 */
    int order[2 + MAX_CRIMPD];
    for (size_t i = 0; i < n_m; i++) {
        for (int k = 0; k < n_paths; k++)
            order[k] = k;
        for (int k = n_paths - 1; k > 0; k--) {
            int j = rand_r(seed) % (k + 1), t = order[k];
            order[k] = order[j], order[j] = t;
        }
        for (int k = 0; k < n_paths; k++) {
            int p = order[k];
            if (p == 0)
                timed(ch->echo, ch->echo_m, ch->cq, ch->echo_req, bare, rounds * (int)n_m);
            else if (p == 1)
                timed(ch->direct, m[i].direct, ch->cq, m[i].req, measure ? &m[i].s_direct : NULL,
                      rounds);
            else
                timed(ch->crimpd[p - 2], m[i].crimpd[p - 2], ch->cq, m[i].req,
                      measure ? &m[i].s_crimpd[p - 2] : NULL, rounds);
        }
    }
}

static int report(struct series *bare, struct method *m, size_t n_m, int n_crimpd,
                  double max_ratio)
{
    char label[16];
    printf("%-8s %-16s %8s %9s %9s\n", "path", "method", "calls", "p50_us", "p90_us");
    print_series("bare", "Version(echo)", bare);
    for (size_t i = 0; i < n_m; i++) {
        print_series("direct", m[i].name, &m[i].s_direct);
        for (int k = 0; k < n_crimpd; k++) {
            snprintf(label, sizeof(label), n_crimpd > 1 ? "crimpd%d" : "crimpd", k + 1);
            print_series(label, m[i].name, &m[i].s_crimpd[k]);
        }
    }
    double floor = pct_us(bare, 0.5);
    int ret = bare->errors ? 1 : 0;
    printf("\n%-8s %-16s %10s %10s %12s\n", "path", "method", "added_p50", "added_p90",
           "x_bare_p50");
    for (int k = 0; k < n_crimpd; k++)
        for (size_t i = 0; i < n_m; i++) {
            struct series *c = &m[i].s_crimpd[k];
            double add50 = pct_us(c, 0.5) - pct_us(&m[i].s_direct, 0.5);
            double add90 = pct_us(c, 0.9) - pct_us(&m[i].s_direct, 0.9);
            snprintf(label, sizeof(label), n_crimpd > 1 ? "crimpd%d" : "crimpd", k + 1);
            printf("%-8s %-16s %10.1f %10.1f %12.2f\n", label, m[i].name, add50, add90,
                   add50 / floor);
            if (m[i].s_direct.errors || c->errors ||
                (max_ratio > 0 && !(add50 / floor <= max_ratio)))
                ret = 1;
        }
    return ret;
}

int main(int argc, char **argv)
{
    struct options o = {.methods = "ListContainers,ListImages,Version", .rounds = 3000,
                        .warmup = 200};
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    grpc_init();
    cleanup_free char *list = xstrdup(o.methods);
    struct method m[MAX_METHODS];
    size_t n_m = parse_methods(list, m);
    struct channels ch = {.echo = crimp_grpc_channel_open(o.echo, 0),
                          .direct = crimp_grpc_channel_open(o.direct, 64 << 20),
                          .n_crimpd = o.n_crimpd,
                          .echo_req = request_for("Version"),
                          .cq = grpc_completion_queue_create_for_pluck(NULL)};
    ch.echo_m = register_method(ch.echo, "Version");
    for (int k = 0; k < o.n_crimpd; k++)
        ch.crimpd[k] = crimp_grpc_channel_open(o.crimpd[k], 64 << 20);
    for (size_t i = 0; i < n_m; i++) {
        m[i].direct = register_method(ch.direct, m[i].name);
        for (int k = 0; k < o.n_crimpd; k++)
            m[i].crimpd[k] = register_method(ch.crimpd[k], m[i].name);
    }
    struct series bare = {0};
    unsigned seed = 1;
    for (int r = 0; r < o.warmup; r++)
        run_round(&ch, m, n_m, NULL, o.rounds, &seed);
    for (int r = 0; r < o.rounds; r++)
        run_round(&ch, m, n_m, &bare, o.rounds, &seed);
    printf("# %d rounds, one call in flight; added = crimpd - direct\n", o.rounds);
    int ret = report(&bare, m, n_m, o.n_crimpd, o.max_ratio);

    for (size_t i = 0; i < n_m; i++) {
        grpc_slice_unref(m[i].req);
        free(m[i].s_direct.ns), free(m[i].s_direct.first_error);
        for (int k = 0; k < o.n_crimpd; k++)
            free(m[i].s_crimpd[k].ns), free(m[i].s_crimpd[k].first_error);
    }
    free(bare.ns), free(bare.first_error);
    grpc_slice_unref(ch.echo_req);
    grpc_completion_queue_shutdown(ch.cq);
    while (grpc_completion_queue_pluck(ch.cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(ch.cq);
    grpc_channel_destroy(ch.echo), grpc_channel_destroy(ch.direct);
    for (int k = 0; k < o.n_crimpd; k++)
        grpc_channel_destroy(ch.crimpd[k]);
    grpc_shutdown_blocking();
    return ret;
}
