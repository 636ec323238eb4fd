/* The event hub and the CRI event message (see cri_events.h).  */
#include "cri_events.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pbutil.h"
#include "utils.h"

struct event {
    struct event *next;
    Runtime__V1__ContainerEventType type;
    char *container_id, *pod_id;
    int64_t at_ns;
};

struct follower {
    struct follower *next;
    struct event *head, *tail;
    size_t queued;
    uint64_t dropped;
};

struct crimp_event_hub {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    struct follower *followers;
    int n_followers;
    bool closing;
};

struct crimp_event_hub *crimp_event_hub_new(void)
{
    struct crimp_event_hub *hub = xcalloc(1, sizeof(*hub));
    pthread_mutex_init(&hub->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hub->changed, &attr);
    pthread_condattr_destroy(&attr);
    return hub;
}

void crimp_event_hub_free(struct crimp_event_hub *hub)
{
    if (hub == NULL)
        return;
    pthread_mutex_lock(&hub->mu);
    hub->closing = true;
    pthread_cond_broadcast(&hub->changed);
    while (hub->n_followers > 0)
        pthread_cond_wait(&hub->changed, &hub->mu);
    pthread_mutex_unlock(&hub->mu);
    pthread_cond_destroy(&hub->changed);
    pthread_mutex_destroy(&hub->mu);
    free(hub);
}

static void event_free(struct event *e)
{
    free(e->container_id);
    free(e->pod_id);
    free(e);
}

static struct event *pop(struct follower *f)
{
    struct event *e = f->head;
    if (e) {
        f->head = e->next;
        if (f->head == NULL)
            f->tail = NULL;
        f->queued--;
    }
    return e;
}

void crimp_event_hub_publish(struct crimp_event_hub *hub, Runtime__V1__ContainerEventType type,
                             const char *container_id, const char *pod_id, int64_t at_ns)
{
    pthread_mutex_lock(&hub->mu);
    for (struct follower *f = hub->followers; f; f = f->next) {
        if (f->queued >= CRIMP_EVENT_QUEUE_MAX) {
            event_free(pop(f));
            f->dropped++;
        }
        struct event *e = xcalloc(1, sizeof(*e));
        e->type = type;
        e->container_id = xstrdup(container_id);
        e->pod_id = xstrdup(pod_id ? pod_id : "");
        e->at_ns = at_ns;
        if (f->tail)
            f->tail->next = e;
        else
            f->head = e;
        f->tail = e;
        f->queued++;
    }
    pthread_cond_broadcast(&hub->changed);
    pthread_mutex_unlock(&hub->mu);
}

static void detach(struct crimp_event_hub *hub, struct follower *me)
{
    for (struct follower **p = &hub->followers; *p; p = &(*p)->next)
        if (*p == me) {
            *p = me->next;
            break;
        }
    for (struct event *e; (e = pop(me)) != NULL;)
        event_free(e);
    hub->n_followers--;
    pthread_cond_broadcast(&hub->changed);
}

/* The next event for ME, waiting up to 200 ms (so a cancelled call is
 * noticed); NULL on timeout or when the hub closes.  Called locked.  */
static struct event *next_event(struct crimp_event_hub *hub, struct follower *me)
{
    if (me->head == NULL && !hub->closing) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 200 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&hub->changed, &hub->mu, &until);
    }
    return hub->closing ? NULL : pop(me);
}

int crimp_event_hub_follow(struct crimp_event_hub *hub, struct crimp_backend *b,
                           struct crimp_rpc *rpc, crimp_error_t *err)
{
    struct follower me = {0};
    pthread_mutex_lock(&hub->mu);
    me.next = hub->followers;
    hub->followers = &me;
    hub->n_followers++;
    bool sent_ok = true;
    while (sent_ok && !hub->closing && !crimp_rpc_cancelled(rpc)) {
        struct event *e = next_event(hub, &me);
        if (me.dropped) {
            log_warn("%s: GetContainerEvents client fell behind: %llu events dropped",
                     b->config->name, (unsigned long long)me.dropped);
            me.dropped = 0;
        }
        if (e == NULL)
            continue;
        /* Statuses are asked of the backend without the hub's lock: the
         * backend publishes while holding its own locks.  */
        pthread_mutex_unlock(&hub->mu);
        crimp_error_t serr = NULL;
        sent_ok = crimp_container_event_send(b, rpc, e->type, e->container_id, e->pod_id,
                                             e->at_ns, &serr) == 0;
        crimp_error_release(&serr);
        event_free(e);
        pthread_mutex_lock(&hub->mu);
    }
    detach(hub, &me);
    pthread_mutex_unlock(&hub->mu);
    return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
}

/* ---- the event message --------------------------------------------------- */

static void add_pod_status(struct crimp_backend *b, struct crimp_rpc *rpc, const char *pod_id,
                           Runtime__V1__ContainerEventResponse *ev)
{
    Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
    req.pod_sandbox_id = (char *)pod_id;
    Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
    crimp_error_t err = NULL;
    if (b->ops->pod_sandbox_status(b, rpc, &req, &resp, &err) == 0)
        ev->pod_sandbox_status = steal_ptr(&resp.status);
    crimp_error_release(&err);
    crimp_pb_free_fields(&resp.base);
}

/* The statuses of the pod's containers (a deleted one is gone).  */
static void add_container_statuses(struct crimp_backend *b, struct crimp_rpc *rpc,
                                   const char *pod_id, Runtime__V1__ContainerEventResponse *ev)
{
    Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
    f.pod_sandbox_id = (char *)pod_id;
    Runtime__V1__ListContainersRequest lreq = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
    lreq.filter = &f;
    Runtime__V1__ListContainersResponse list = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
    crimp_error_t err = NULL;
    if (b->ops->list_containers(b, rpc, &lreq, &list, &err) < 0) {
        crimp_error_release(&err);
        return;
    }
    ev->containers_statuses = xcalloc(list.n_containers + 1, sizeof(*ev->containers_statuses));
    for (size_t i = 0; i < list.n_containers; i++) {
        Runtime__V1__ContainerStatusRequest sreq = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
        sreq.container_id = list.containers[i]->id;
        Runtime__V1__ContainerStatusResponse st = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
        if (b->ops->container_status(b, rpc, &sreq, &st, &err) == 0 && st.status)
            ev->containers_statuses[ev->n_containers_statuses++] = steal_ptr(&st.status);
        crimp_error_release(&err);
        crimp_pb_free_fields(&st.base);
    }
    crimp_pb_free_fields(&list.base);
}

int crimp_container_event_send(struct crimp_backend *b, struct crimp_rpc *rpc,
                               Runtime__V1__ContainerEventType type, const char *container_id,
                               const char *pod_id, int64_t at_ns, crimp_error_t *err)
{
    Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
    ev.container_id = xstrdup(container_id);
    ev.container_event_type = type;
    ev.created_at = at_ns;
    if (!str_empty(pod_id)) {
        add_pod_status(b, rpc, pod_id, &ev);
        add_container_statuses(b, rpc, pod_id, &ev);
    }
    int ret = crimp_rpc_send(rpc, &ev.base, err);
    crimp_pb_free_fields(&ev.base);
    return ret;
}
