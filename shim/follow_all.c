/* GetContainerEvents on a node with several backends: kubelet opens one
 * events stream for the node's life, so it must carry the events of every
 * runtime — the pods left on Docker as well as the new ones on containerd.
 * Each backend follows its own events on a thread of its own; their
 * messages go out through the one client stream, one at a time.  A backend
 * a reload adds is followed from then on, one it retires is let go.  When
 * the client leaves, every follower is told (its cancelled flag) and
 * joined.  */
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
};

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
    if (f->m->call_stream(f->b, &f->rpc, f->req, &f->err) < 0 &&
        !crimp_rpc_cancelled(f->client))
        log_warn("%s: backend `%s` stopped following: %s", crimp_method_display(f->m),
                 f->b->config->name, f->err->msg);
    atomic_store(&f->done, true);
    return NULL;
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
        if (f->started && (!live || crimp_rpc_cancelled(rpc)))
            atomic_store(&f->rpc.cancelled, true);
        if (!f->started && live && !crimp_rpc_cancelled(rpc)) {
            /* A backend a reload added joins the stream too.  */
            f->rpc = (struct crimp_rpc){.method = rpc->method, .call = rpc->call,
                                        .deadline = rpc->deadline, .send = follower_send};
            f->client = rpc;
            f->send_mu = send_mu;
            f->m = m;
            f->b = r->backends[i];
            f->req = req;
            f->started = pthread_create(&f->thread, NULL, follower_main, f) == 0;
        }
        running += f->started && !atomic_load(&f->done);
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
        pthread_join(fs[i].thread, NULL);
        if (fs[i].err && *err == NULL && !crimp_rpc_cancelled(rpc))
            *err = steal_ptr(&fs[i].err);
        crimp_error_release(&fs[i].err);
    }
    if (*err == NULL)
        crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
    return -1;
}
