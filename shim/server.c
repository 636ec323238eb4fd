/* The gRPC server: socket, completion queue, pollers, lanes, drain.
 *
 * Threads: `pollers` threads wait on one completion queue and run each
 * event's tag.  Version is answered right there (it never blocks); other
 * unary calls go to the fast or the slow lane; each server-streaming call
 * gets a thread of its own.  */
#include "server.h"

#include <grpc/grpc_security.h>
#include <sys/stat.h>

#include "bulkhead.h"
#include "log.h"
#include "server-internal.h"
#include "socket.h"
#include "utils.h"

/* Requests kept posted per method: a call that arrives while none is posted
 * waits inside gRPC, so the cheap inline lane gets many.  */
/* Requests kept posted per method.  A call that finds none waits in gRPC's
 * own queue until the next is posted (each arriving call posts its
 * successor at once), so these only absorb bursts; and every posted request
 * costs on each completion in Debian's libgrpc, which scans outstanding tags
 * (bench/: 450 posted cost ~3x the floor's per-completion time).  */
enum { PREPOST_INLINE = 16, PREPOST_FAST = 4, PREPOST_SLOW = 2, PREPOST_STREAM = 1,
       PREPOST_UNKNOWN = 2 };

static int prepost_for(const struct crimp_method *m)
{
    switch (m->lane) {
    case LANE_INLINE:
        return PREPOST_INLINE;
    case LANE_FAST:
        return PREPOST_FAST;
    case LANE_SLOW:
        return PREPOST_SLOW;
    default:
        return PREPOST_STREAM;
    }
}

static void *poller_main(void *arg)
{
    struct crimp_server *srv = arg;
    for (;;) {
        grpc_event ev =
            grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return NULL;
        if (ev.type == GRPC_OP_COMPLETE) {
            struct crimp_tag *tag = ev.tag;
            tag->done(tag, ev.success != 0);
        }
    }
}

static void on_shutdown(struct crimp_tag *tag, bool ok)
{
    struct crimp_server *srv = container_of(tag, struct crimp_server, shutdown_tag);
    pthread_mutex_lock(&srv->shutdown_lock);
    srv->shutdown_done = true;
    pthread_cond_broadcast(&srv->shutdown_cond);
    pthread_mutex_unlock(&srv->shutdown_lock);
}

static grpc_server *create_grpc_server(const struct crimp_config *cfg)
{
    grpc_arg args[2];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = cfg->max_message_bytes;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = cfg->max_message_bytes;
    grpc_channel_args chargs = {.num_args = 2, .args = args};
    return grpc_server_create(&chargs, NULL);
}

static void register_methods(struct crimp_server *srv)
{
    srv->registered = xcalloc(crimp_n_methods, sizeof(*srv->registered));
    for (size_t i = 0; i < crimp_n_methods; i++) {
        const struct crimp_method *m = &crimp_methods[i];
        /* Unary requests arrive with their message; streaming ones too, as
         * CRI's streams are server-side only.  */
        srv->registered[i] = grpc_server_register_method(
            srv->server, m->path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    }
}

static void post_requests(struct crimp_server *srv)
{
    for (size_t i = 0; i < crimp_n_methods; i++) {
        int n = prepost_for(&crimp_methods[i]);
        for (int k = 0; k < n; k++)
            crimp_call_request(srv, &crimp_methods[i], srv->registered[i]);
    }
    for (int k = 0; k < PREPOST_UNKNOWN; k++)
        crimp_call_request(srv, NULL, NULL);
}

static int bind_socket(struct crimp_server *srv, crimp_error_t *err)
{
    const struct crimp_config *cfg = srv->cfg;
    if (crimp_socket_prepare(cfg->listen, err) < 0)
        return -1;
    cleanup_free char *addr = xasprintf("unix:%s", cfg->listen);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    /* Bind with the final mode already in the umask, so that the socket is
     * never reachable by others, not even for an instant.  */
    mode_t old = umask(~cfg->socket_mode & 0777);
    int port = grpc_server_add_http2_port(srv->server, addr, creds);
    umask(old);
    grpc_server_credentials_release(creds);
    if (port == 0)
        return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0, "cannot listen on `%s`",
                                cfg->listen);
    return 0;
}

/* Before gRPC starts: the CRI socket systemd passed, or crimp's own bind.  */
static int open_cri_socket(struct crimp_server *srv, crimp_error_t *err)
{
    srv->activated_fd = crimp_sd_listen_fd(srv->cfg->listen, err);
    if (srv->activated_fd == -2)
        return -1;
    return srv->activated_fd >= 0 ? 0 : bind_socket(srv, err);
}

/* Once gRPC runs: accept on systemd's socket, or give crimp's its mode.  */
static int serve_cri_socket(struct crimp_server *srv, crimp_error_t *err)
{
    const struct crimp_config *cfg = srv->cfg;
    if (srv->activated_fd >= 0) {
        srv->acceptor = crimp_sd_acceptor_start(srv->activated_fd, srv->server, err);
        return srv->acceptor ? 0 : -1;
    }
    return crimp_socket_finish(cfg->listen, cfg->socket_mode, &srv->sock_dev, &srv->sock_ino,
                               err);
}

/* Removes the socket file at exit, unless it is systemd's.  */
static void remove_cri_socket(struct crimp_server *srv)
{
    if (srv->activated_fd < 0)
        crimp_socket_remove(srv->cfg->listen, srv->sock_dev, srv->sock_ino);
}

static struct crimp_recorder *new_recorder(const struct crimp_config *cfg,
                                           struct crimp_router *router)
{
    /* Slots for every backend the router can hold: a reload may add some.  */
    size_t n = crimp_router_count(router);
    cleanup_free const char **names = xcalloc(CRIMP_MAX_BACKENDS + 1, sizeof(*names));
    for (size_t i = 0; i < n; i++)
        names[i] = crimp_router_get(router, i)->config->name;
    return crimp_recorder_new(names, CRIMP_MAX_BACKENDS, crimp_n_recorded_methods,
                              (size_t)cfg->recent_calls);
}

/* Streaming sessions are calls too: the recorder hears of them from the
 * streaming server's threads.  */
static void session_begin(void *recorder)
{
    crimp_recorder_begin(recorder);
}

static void session_finish(void *recorder, const struct crimp_stream_report *s)
{
    crimp_recorder_finish_session(recorder, crimp_session_method(s->kind), s->backend_tag, s->code,
                                  s->start_real_ns, s->duration_ns, s->trace, s->bytes_in,
                                  s->bytes_out);
}

/* How often parked calls are checked for their deadline.  */
#define EXPIRE_TICK_US 50000

static bool any_parked(struct crimp_server *srv)
{
    size_t n = crimp_router_count(srv->router);
    for (size_t i = 0; i < n; i++)
        for (int slow = 0; slow < 2; slow++) {
            struct crimp_bulkhead *bh = crimp_router_bulkhead(srv->router, i, slow);
            struct crimp_bulkhead_counts c = {0};
            if (bh)
                crimp_bulkhead_counts(bh, &c);
            if (c.queued > 0)
                return true;
        }
    return false;
}

void crimp_server_note_parked(struct crimp_server *srv)
{
    pthread_mutex_lock(&srv->expirer_lock);
    pthread_cond_signal(&srv->expirer_wake);
    pthread_mutex_unlock(&srv->expirer_lock);
}

/* Ticks while calls are parked, sleeps otherwise: a call parks before it
 * signals under expirer_lock, and the check below runs under that lock, so
 * no parking goes unseen.  */
static void *expirer_main(void *arg)
{
    struct crimp_server *srv = arg;
    pthread_mutex_lock(&srv->expirer_lock);
    while (!atomic_load(&srv->expirer_stop)) {
        if (!any_parked(srv)) {
            pthread_cond_wait(&srv->expirer_wake, &srv->expirer_lock);
            continue;
        }
        pthread_mutex_unlock(&srv->expirer_lock);
        crimp_call_expire_parked(srv, false);
        usleep(EXPIRE_TICK_US);
        pthread_mutex_lock(&srv->expirer_lock);
    }
    pthread_mutex_unlock(&srv->expirer_lock);
    return NULL;
}

static void stop_expirer(struct crimp_server *srv)
{
    if (!srv->expirer_started)
        return;
    pthread_mutex_lock(&srv->expirer_lock);
    atomic_store(&srv->expirer_stop, true);
    pthread_cond_signal(&srv->expirer_wake);
    pthread_mutex_unlock(&srv->expirer_lock);
    pthread_join(srv->expirer, NULL);
    srv->expirer_started = false;
}

static void free_server(struct crimp_server *srv)
{
    crimp_sd_acceptor_stop(srv->acceptor); /* no connection joins a dying server */
    srv->acceptor = NULL;
    /* Workers first: their calls are finished or cancelled by now, and they
     * must not touch a destroyed server.  */
    stop_expirer(srv);
    crimp_pool_free(srv->fast);
    crimp_pool_free(srv->slow);
    if (srv->server)
        grpc_server_destroy(srv->server);
    if (srv->cq) {
        grpc_completion_queue_shutdown(srv->cq);
        for (int i = 0; i < srv->npollers; i++)
            pthread_join(srv->pollers[i], NULL);
        if (srv->npollers == 0)
            while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                       .type != GRPC_QUEUE_SHUTDOWN)
                ;
        grpc_completion_queue_destroy(srv->cq);
    }
    pthread_mutex_destroy(&srv->shutdown_lock);
    pthread_cond_destroy(&srv->shutdown_cond);
    pthread_mutex_destroy(&srv->expirer_lock);
    pthread_cond_destroy(&srv->expirer_wake);
    crimp_stream_stop(srv->stream);
    crimp_recorder_free(srv->recorder);
    free(srv->pollers);
    free(srv->registered);
    free(srv);
}

/* A backend allowed as many calls as a lane has workers can take them all
 * when it hangs: worth a warning, though an operator may want it.  */
static void warn_unbounded(const struct crimp_config *cfg)
{
    int lane = cfg->workers < cfg->slow_workers ? cfg->workers : cfg->slow_workers;
    for (size_t i = 0; i < cfg->n_backends; i++)
        if (cfg->backends[i].max_calls >= lane)
            log_warn("backend `%s`: max_calls %d is not below the %d workers of a lane: if it "
                     "hangs, it can hold them all",
                     cfg->backends[i].name, cfg->backends[i].max_calls, lane);
}

struct crimp_server *crimp_server_start(const struct crimp_config *cfg,
                                        struct crimp_router *router, crimp_error_t *err)
{
    struct crimp_server *srv = xcalloc(1, sizeof(*srv));
    srv->cfg = cfg;
    srv->activated_fd = -1;
    srv->router = router;
    srv->shutdown_tag.done = on_shutdown;
    pthread_mutex_init(&srv->shutdown_lock, NULL);
    pthread_cond_init(&srv->shutdown_cond, NULL);
    pthread_mutex_init(&srv->expirer_lock, NULL);
    pthread_cond_init(&srv->expirer_wake, NULL);

    srv->server = create_grpc_server(cfg);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    register_methods(srv);
    if (open_cri_socket(srv, err) < 0) {
        free_server(srv);
        return NULL;
    }
    grpc_server_start(srv->server);
    if (serve_cri_socket(srv, err) < 0) {
        grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
        grpc_server_cancel_all_calls(srv->server);
        free_server(srv);
        return NULL;
    }

    srv->recorder = new_recorder(cfg, router);
    if (!str_empty(cfg->stream_listen)) {
        struct crimp_stream_observer obs = {session_begin, session_finish, srv->recorder};
        const struct crimp_stream_limits limits = {
            .idle_seconds = (int)cfg->stream_idle_timeout,
            .head_seconds = (int)cfg->stream_head_timeout,
            .max_pending = cfg->stream_max_pending,
            .max_sessions = cfg->stream_max_sessions,
            .max_message = (size_t)cfg->stream_max_message,
        };
        srv->stream = crimp_stream_start(cfg->stream_listen, &limits, &obs, err);
        if (srv->stream == NULL) {
            grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
            grpc_server_cancel_all_calls(srv->server);
            remove_cri_socket(srv);
            free_server(srv);
            return NULL;
        }
    }
    warn_unbounded(cfg);
    srv->fast = crimp_pool_new("crimp-fast", cfg->workers, cfg->max_queued,
                               cfg->worker_idle_timeout);
    srv->slow = crimp_pool_new("crimp-slow", cfg->slow_workers, cfg->max_queued,
                               cfg->worker_idle_timeout);
    srv->expirer_started = pthread_create(&srv->expirer, NULL, expirer_main, srv) == 0;
    if (srv->expirer_started)
        pthread_setname_np(srv->expirer, "crimp-expire");
    post_requests(srv);
    srv->npollers = cfg->pollers;
    srv->pollers = xcalloc((size_t)srv->npollers, sizeof(*srv->pollers));
    for (int i = 0; i < srv->npollers; i++) {
        pthread_create(&srv->pollers[i], NULL, poller_main, srv);
        pthread_setname_np(srv->pollers[i], "crimp-poll");
    }
    log_info("serving CRI v1 on %s (mode %04o, %d pollers, up to %d fast + %d slow workers, "
             "per backend and lane %d running + %d waiting by default)",
             cfg->listen, cfg->socket_mode, cfg->pollers, cfg->workers, cfg->slow_workers,
             cfg->backend_max_calls, cfg->backend_max_queued);
    return srv;
}

/* Waits until the server's shutdown completes or DEADLINE (monotonic ns)
 * passes; true when it completed.  */
static bool wait_shutdown(struct crimp_server *srv, int64_t deadline_ns)
{
    struct timespec ts;
    int64_t real_deadline = crimp_now_real_ns() + (deadline_ns - crimp_now_mono_ns());
    ts.tv_sec = real_deadline / 1000000000LL;
    ts.tv_nsec = real_deadline % 1000000000LL;
    pthread_mutex_lock(&srv->shutdown_lock);
    while (!srv->shutdown_done)
        if (pthread_cond_timedwait(&srv->shutdown_cond, &srv->shutdown_lock, &ts) != 0)
            break;
    bool done = srv->shutdown_done;
    pthread_mutex_unlock(&srv->shutdown_lock);
    return done;
}

static void wait_unary_drained(struct crimp_server *srv, int64_t deadline_ns)
{
    while (atomic_load(&srv->unary_in_flight) > 0 && crimp_now_mono_ns() < deadline_ns)
        usleep(10000);
}

void crimp_server_stop(struct crimp_server *srv)
{
    int64_t drain_ns = (int64_t)(srv->cfg->drain_timeout * 1e9);
    int64_t deadline = crimp_now_mono_ns() + drain_ns;

    atomic_store(&srv->stopping, true);
    crimp_sd_acceptor_stop(srv->acceptor); /* new connections wait in systemd's socket */
    srv->acceptor = NULL;
    log_info("draining: %d unary and %d streaming calls in flight",
             atomic_load(&srv->unary_in_flight), atomic_load(&srv->streams_in_flight));
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    wait_unary_drained(srv, deadline);
    if (atomic_load(&srv->unary_in_flight) > 0)
        log_warn("drain timeout (%.1fs): cancelling %d calls still in flight",
                 srv->cfg->drain_timeout, atomic_load(&srv->unary_in_flight));
    /* Streams (event watches) never end on their own: cancel them now.  */
    grpc_server_cancel_all_calls(srv->server);
    /* Calls still waiting for a turn on a backend will not get one.  */
    stop_expirer(srv);
    crimp_call_expire_parked(srv, true);
    if (!wait_shutdown(srv, crimp_now_mono_ns() + 5000000000LL))
        log_warn("gRPC did not finish shutting down in 5s");
    /* gRPC reports the server shut down once every call is cancelled, but a
     * cancelled call still sends its final batch on srv->cq (a passthrough
     * call answers when its cut backend call completes): the queue must
     * not be shut down under it, or gRPC aborts the process.  */
    wait_unary_drained(srv, crimp_now_mono_ns() + 5000000000LL);
    if (atomic_load(&srv->unary_in_flight) > 0)
        log_warn("%d cancelled calls did not finish in 5s", atomic_load(&srv->unary_in_flight));
    /* Stream threads end once their cancelled call fails a send.  */
    int64_t streams_deadline = crimp_now_mono_ns() + 5000000000LL;
    while (atomic_load(&srv->streams_in_flight) > 0 && crimp_now_mono_ns() < streams_deadline)
        usleep(10000);
    remove_cri_socket(srv);
    free_server(srv);
    log_info("stopped");
}

struct crimp_recorder *crimp_server_recorder(struct crimp_server *srv)
{
    return srv->recorder;
}
