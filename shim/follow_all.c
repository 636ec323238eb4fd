/* GetContainerEvents on a node with several backends: kubelet opens one
 * events stream for the node's life, so it must carry the events of every
 * runtime — the pods left on Docker as well as the new ones on containerd.
 * Each backend follows its own events on a thread of its own; their
 * messages go out through the one client stream, one at a time.  A backend
 * a reload adds is followed from then on, one it retires is let go.  A
 * backend whose stream ends while the client stays (its runtime restarted)
 * is followed again, after a backoff that grows while it keeps ending at
 * once, so kubelet never silently loses a runtime's events.  When the
 * client leaves, every follower is told (its cancelled flag) and joined.  */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "call.h"
#include "log.h"
#include "router-internal.h"
#include "utils.h"

struct follower {
    struct crimp_rpc rpc; /* what the backend sees: its own cancelled flag */
    struct crimp_rpc *client;
    pthread_mutex_t *send_mu;
    const struct crimp_method *m;
    struct crimp_backend *b;
    const ProtobufCMessage *req;
    pthread_t thread;
    bool started;
    atomic_bool done;
    crimp_error_t err;
    /* Restarts after the stream ended; the follow loop's own.  RESTART_AT
     * not 0: the thread was joined and starts again then (monotonic ns).  */
    int64_t started_at, restart_at;
    int backoff_ms;
    bool given_up; /* joined, never restarted */
};

#define RESTART_BACKOFF_MIN_MS 100
#define RESTART_BACKOFF_MAX_MS 5000
/* A stream that lasted this long resets the backoff.  */
#define RESTART_STEADY_NS (10 * 1000000000LL)

static int follower_send(struct crimp_rpc *rpc, const ProtobufCMessage *msg, crimp_error_t *err)
{
    struct follower *f = container_of(rpc, struct follower, rpc);
    pthread_mutex_lock(f->send_mu);
    int rc = crimp_rpc_send(f->client, msg, err);
    pthread_mutex_unlock(f->send_mu);
    if (rc < 0) /* the client is gone: the other followers stop too */
        atomic_store(&f->client->cancelled, true);
    return rc;
}

static void *follower_main(void *arg)
{
    struct follower *f = arg;
    f->m->call_stream(f->b, &f->rpc, f->req, &f->err);
    atomic_store(&f->done, true);
    return NULL;
}

static void start_follower(struct follower *f)
{
    atomic_store(&f->done, false);
    atomic_store(&f->rpc.cancelled, false);
    f->started_at = crimp_now_mono_ns();
    f->restart_at = 0;
    f->started = pthread_create(&f->thread, NULL, follower_main, f) == 0;
}

/* F's stream ended with the client still there: join it and plan the
 * next start, unless the backend does not follow events at all.  */
static void schedule_restart(struct follower *f)
{
    pthread_join(f->thread, NULL);
    if (f->err && f->err->code == GRPC_STATUS_UNIMPLEMENTED) {
        log_warn("%s: backend `%s` does not follow events: %s", crimp_method_display(f->m),
                 f->b->config->name, f->err->msg);
        f->given_up = true;
        return;
    }
    int64_t now = crimp_now_mono_ns();
    if (now - f->started_at >= RESTART_STEADY_NS || f->backoff_ms == 0)
        f->backoff_ms = RESTART_BACKOFF_MIN_MS;
    else if (f->backoff_ms < RESTART_BACKOFF_MAX_MS)
        f->backoff_ms = f->backoff_ms * 2 < RESTART_BACKOFF_MAX_MS ? f->backoff_ms * 2
                                                                   : RESTART_BACKOFF_MAX_MS;
    log_warn("%s: backend `%s` stopped following (%s); following it again in %d ms",
             crimp_method_display(f->m), f->b->config->name,
             f->err ? f->err->msg : "its stream ended", f->backoff_ms);
    crimp_error_release(&f->err);
    f->restart_at = now + (int64_t)f->backoff_ms * 1000000;
}

/* Starts a follower for every live backend of R that has none yet and
 * tells those of retired backends to stop; how many run.  */
static size_t keep_followers(struct crimp_router *r, struct follower *fs, pthread_mutex_t *send_mu,
                             const struct crimp_method *m, struct crimp_rpc *rpc,
                             const ProtobufCMessage *req)
{
    size_t running = 0, n = atomic_load(&r->n);
    for (size_t i = 0; i < n && i < CRIMP_MAX_BACKENDS; i++) {
        struct follower *f = &fs[i];
        bool live = crimp_router_live(r, i) && crimp_method_supported(m, r->backends[i]);
        bool wanted = live && !crimp_rpc_cancelled(rpc);
        if (f->started && f->restart_at != 0 && !wanted) {
            f->started = false; /* joined already: a restart no longer due */
            f->restart_at = 0;
            continue;
        }
        if (f->started && !wanted)
            atomic_store(&f->rpc.cancelled, true);
        if (f->started && wanted && f->restart_at == 0 && !f->given_up && atomic_load(&f->done))
            schedule_restart(f);
        if (f->started && wanted && f->restart_at != 0 &&
            crimp_now_mono_ns() >= f->restart_at)
            start_follower(f);
        if (!f->started && wanted) {
            /* A backend a reload added joins the stream too.  */
            f->rpc = (struct crimp_rpc){.method = rpc->method, .call = rpc->call,
                                        .deadline = rpc->deadline, .send = follower_send};
            f->client = rpc;
            f->send_mu = send_mu;
            f->m = m;
            f->b = r->backends[i];
            f->req = req;
            start_follower(f);
        }
        running += f->started && (!atomic_load(&f->done) || f->restart_at != 0);
    }
    return running;
}

int crimp_router_follow_all(struct crimp_router *r, const struct crimp_method *m,
                            struct crimp_rpc *rpc, const ProtobufCMessage *req, crimp_error_t *err)
{
    pthread_mutex_t send_mu = PTHREAD_MUTEX_INITIALIZER;
    cleanup_free struct follower *fs = xcalloc(CRIMP_MAX_BACKENDS, sizeof(*fs));
    if (keep_followers(r, fs, &send_mu, m, rpc, req) == 0)
        return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0, "no backend implements %s",
                                crimp_method_display(m));
    while (keep_followers(r, fs, &send_mu, m, rpc, req) > 0)
        usleep(100 * 1000);
    for (size_t i = 0; i < CRIMP_MAX_BACKENDS; i++) {
        if (!fs[i].started)
            continue;
        if (!fs[i].given_up)
            pthread_join(fs[i].thread, NULL);
        if (fs[i].err && *err == NULL && !crimp_rpc_cancelled(rpc))
            *err = steal_ptr(&fs[i].err);
        crimp_error_release(&fs[i].err);
    }
    if (*err == NULL)
        crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
    return -1;
}
