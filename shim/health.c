/* Background health probes: a thread per backend slot, results under a
 * lock per slot.  */
#include "health.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "grpc_client.h"
#include "log.h"
#include "pbutil.h"
#include "router.h"
#include "utils.h"

struct slot {
    struct crimp_health *h;
    size_t index;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards the fields below */
    bool probed, up;
    char *error;
    uint8_t *status; /* packed StatusResponse */
    size_t status_len;
    int64_t since_real_ns, probe_ns;
};

struct crimp_health {
    struct crimp_router *router;
    int64_t interval_ns, timeout_ns;
    atomic_bool stopping;
    pthread_mutex_t lock; /* for the sleepers' condition */
    pthread_cond_t wake;
    pthread_cond_t probed; /* a first probe finished */
    struct slot slots[CRIMP_MAX_BACKENDS];
    pthread_t watcher; /* starts probers for slots a reload adds */
};

static const Runtime__V1__RuntimeCondition *runtime_ready(const Runtime__V1__StatusResponse *s)
{
    for (size_t i = 0; s && s->status && i < s->status->n_conditions; i++)
        if (strcmp(s->status->conditions[i]->type, "RuntimeReady") == 0)
            return s->status->conditions[i];
    return NULL;
}

/* One probe of backend B: fills *STATUS (packed) or *ERROR.  */
static bool probe_once(struct crimp_health *h, struct crimp_backend *b, uint8_t **status,
                       size_t *status_len, char **error)
{
    struct crimp_rpc rpc = {.method = "/runtime.v1.RuntimeService/Status",
                            .deadline = crimp_grpc_deadline_in((double)h->timeout_ns / 1e9)};
    atomic_init(&rpc.cancelled, false);
    struct crimp_budget budget = {.deadline_ns = crimp_now_mono_ns() + h->timeout_ns,
                                  .cancelled = &h->stopping};
    crimp_budget_set_current(&budget);
    cleanup_error crimp_error_t err = NULL;
    bool up = false;
    if (b->ops->status != NULL) {
        Runtime__V1__StatusRequest req = RUNTIME__V1__STATUS_REQUEST__INIT;
        Runtime__V1__StatusResponse *resp =
            (Runtime__V1__StatusResponse *)crimp_pb_new(&runtime__v1__status_response__descriptor);
        if (b->ops->status(b, &rpc, &req, resp, &err) == 0) {
            const Runtime__V1__RuntimeCondition *rr = runtime_ready(resp);
            up = rr != NULL && rr->status;
            if (!up)
                *error = xstrdup(rr && !str_empty(rr->message) ? rr->message
                                                                : "RuntimeReady is false");
            *status_len = protobuf_c_message_get_packed_size(&resp->base);
            *status = xmalloc(*status_len ? *status_len : 1);
            protobuf_c_message_pack(&resp->base, *status);
        }
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    } else {
        up = crimp_router_refresh_version(h->router, b, &rpc, &err) == 0;
    }
    if (err != NULL)
        *error = xstrdup(err->msg);
    /* A backend that answers but was never asked its version (down at
     * start) gets asked now, for crimp's Version reply.  */
    cleanup_free char *v = up ? crimp_router_backend_version(h->router, b) : NULL;
    crimp_error_release(&err);
    if (up && v == NULL && b->ops->version != NULL)
        crimp_router_refresh_version(h->router, b, &rpc, &err);
    crimp_budget_set_current(NULL);
    return up;
}

static void record(struct slot *s, const char *name, bool up, uint8_t *status, size_t len,
                   char *error, int64_t took)
{
    pthread_mutex_lock(&s->lock);
    bool changed = !s->probed || s->up != up;
    bool first = !s->probed;
    free(s->error);
    free(s->status);
    s->error = error;
    s->status = status;
    s->status_len = len;
    s->probe_ns = took;
    s->up = up;
    s->probed = true;
    if (changed)
        s->since_real_ns = crimp_now_real_ns();
    pthread_mutex_unlock(&s->lock);
    if (changed && up && !first)
        log_info("backend `%s` answers again (probe took %.0f ms)", name, (double)took / 1e6);
    else if (changed && !up)
        log_warn("backend `%s` is down: %s", name, error ? error : "?");
}

/* Sleeps until NS from now or the stop; false on stop.  */
static bool nap(struct crimp_health *h, int64_t ns)
{
    int64_t until = crimp_now_real_ns() + ns;
    struct timespec ts = {.tv_sec = until / 1000000000LL, .tv_nsec = until % 1000000000LL};
    pthread_mutex_lock(&h->lock);
    while (!atomic_load(&h->stopping))
        if (pthread_cond_timedwait(&h->wake, &h->lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&h->lock);
    return !atomic_load(&h->stopping);
}

static void *prober_main(void *arg)
{
    struct slot *s = arg;
    struct crimp_health *h = s->h;
    do {
        struct crimp_backend *b = crimp_router_get(h->router, s->index);
        if (b == NULL)
            continue; /* retired by a reload; a later one may bring it back */
        uint8_t *status = NULL;
        size_t len = 0;
        char *error = NULL;
        int64_t started = crimp_now_mono_ns();
        bool up = probe_once(h, b, &status, &len, &error);
        if (atomic_load(&h->stopping)) {
            free(status);
            free(error);
            break;
        }
        record(s, b->config->name, up, status, len, error, crimp_now_mono_ns() - started);
        pthread_mutex_lock(&h->lock);
        pthread_cond_broadcast(&h->probed);
        pthread_mutex_unlock(&h->lock);
    } while (nap(h, h->interval_ns));
    return NULL;
}

static void start_probers(struct crimp_health *h)
{
    size_t n = crimp_router_count(h->router);
    for (size_t i = 0; i < n && i < CRIMP_MAX_BACKENDS; i++) {
        struct slot *s = &h->slots[i];
        if (s->started)
            continue;
        s->started = pthread_create(&s->thread, NULL, prober_main, s) == 0;
        if (s->started)
            pthread_setname_np(s->thread, "crimp-health");
    }
}

static void *watcher_main(void *arg)
{
    struct crimp_health *h = arg;
    while (nap(h, h->interval_ns))
        start_probers(h);
    return NULL;
}

static bool all_probed(struct crimp_health *h)
{
    for (size_t i = 0; i < crimp_router_count(h->router); i++) {
        pthread_mutex_lock(&h->slots[i].lock);
        bool done = h->slots[i].probed || crimp_router_get(h->router, i) == NULL;
        pthread_mutex_unlock(&h->slots[i].lock);
        if (!done)
            return false;
    }
    return true;
}

static void wait_first_round(struct crimp_health *h)
{
    int64_t until = crimp_now_real_ns() + h->timeout_ns + 200000000LL;
    struct timespec ts = {.tv_sec = until / 1000000000LL, .tv_nsec = until % 1000000000LL};
    pthread_mutex_lock(&h->lock);
    while (!all_probed(h))
        if (pthread_cond_timedwait(&h->probed, &h->lock, &ts) != 0)
            break;
    pthread_mutex_unlock(&h->lock);
}

struct crimp_health *crimp_health_start(struct crimp_router *r, double interval, double timeout)
{
    struct crimp_health *h = xcalloc(1, sizeof(*h));
    h->router = r;
    h->interval_ns = (int64_t)((interval > 0.05 ? interval : 0.05) * 1e9);
    h->timeout_ns = (int64_t)((timeout > 0.05 ? timeout : 0.05) * 1e9);
    atomic_init(&h->stopping, false);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, NULL);
    pthread_cond_init(&h->probed, NULL);
    for (size_t i = 0; i < CRIMP_MAX_BACKENDS; i++) {
        h->slots[i].h = h;
        h->slots[i].index = i;
        pthread_mutex_init(&h->slots[i].lock, NULL);
    }
    start_probers(h);
    pthread_create(&h->watcher, NULL, watcher_main, h);
    pthread_setname_np(h->watcher, "crimp-health");
    wait_first_round(h);
    return h;
}

void crimp_health_stop(struct crimp_health *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->lock);
    atomic_store(&h->stopping, true);
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->watcher, NULL);
    for (size_t i = 0; i < CRIMP_MAX_BACKENDS; i++) {
        struct slot *s = &h->slots[i];
        if (s->started)
            pthread_join(s->thread, NULL);
        free(s->error);
        free(s->status);
        pthread_mutex_destroy(&s->lock);
    }
    pthread_cond_destroy(&h->wake);
    pthread_cond_destroy(&h->probed);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void crimp_health_get(struct crimp_health *h, size_t i, struct crimp_backend_health *out)
{
    memset(out, 0, sizeof(*out));
    if (h == NULL || i >= CRIMP_MAX_BACKENDS)
        return;
    struct slot *s = &h->slots[i];
    pthread_mutex_lock(&s->lock);
    out->probed = s->probed;
    out->up = s->up;
    out->error = xstrdup_or_null(s->error);
    out->since_real_ns = s->since_real_ns;
    out->probe_ns = s->probe_ns;
    if (s->status != NULL)
        out->status = runtime__v1__status_response__unpack(NULL, s->status_len, s->status);
    pthread_mutex_unlock(&s->lock);
}

void crimp_backend_health_release(struct crimp_backend_health *bh)
{
    free(bh->error);
    if (bh->status)
        protobuf_c_message_free_unpacked(&bh->status->base, NULL);
    memset(bh, 0, sizeof(*bh));
}

bool crimp_health_down(struct crimp_health *h, size_t i)
{
    if (h == NULL || i >= CRIMP_MAX_BACKENDS)
        return false;
    struct slot *s = &h->slots[i];
    pthread_mutex_lock(&s->lock);
    bool down = s->probed && !s->up;
    pthread_mutex_unlock(&s->lock);
    return down;
}

/* One gauge per live backend: its name and VALUE(slot) as Prometheus text.  */
static void gauge(struct crimp_health *h, FILE *out, const char *name, const char *help,
                  double (*value)(struct slot *s))
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    size_t n = crimp_router_count(h->router);
    for (size_t i = 0; i < n; i++) {
        struct crimp_backend *b = crimp_router_get(h->router, i);
        if (b == NULL)
            continue;
        struct slot *s = &h->slots[i];
        pthread_mutex_lock(&s->lock);
        double v = value(s);
        pthread_mutex_unlock(&s->lock);
        fprintf(out, "%s{backend=\"%s\"} %g\n", name, b->config->name, v);
    }
}

static double up_value(struct slot *s)
{
    return s->up ? 1 : 0;
}

static double probe_seconds(struct slot *s)
{
    return (double)s->probe_ns / 1e9;
}

void crimp_health_prometheus(struct crimp_health *h, FILE *out)
{
    if (h == NULL)
        return;
    gauge(h, out, "crimp_backend_up",
          "Whether the backend's last health probe found it ready (1) or not (0).", up_value);
    gauge(h, out, "crimp_backend_probe_seconds", "How long the backend's last health probe took.",
          probe_seconds);
}
