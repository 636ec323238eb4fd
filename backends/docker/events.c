/* GetContainerEvents on Docker: kubelet's Evented PLEG.  Follows Docker's
 * /events stream (container events of crimp's containers only) and turns
 * create / start / die / destroy into the CRI's CREATED / STARTED / STOPPED
 * / DELETED events, each with the pod's status and the statuses of the
 * pod's containers, as containerd sends them.
 *
 * When dockerd drops the stream (a restart), it is opened again with
 * since= the last event seen, so Docker replays what happened in between
 * from its own buffer; the call ends only when the client goes away.  */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "docker-internal.h"
#include "labels.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

struct events_ctx {
    struct docker_backend *d;
    struct crimp_rpc *rpc;
    struct docker_lines lines;
    int64_t last_ns; /* of the last event handled, for since= */
    bool send_failed;
};

static int event_type(const char *action, Runtime__V1__ContainerEventType *type)
{
    static const struct {
        const char *action;
        Runtime__V1__ContainerEventType type;
    } map[] = {{"create", RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT},
               {"start", RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT},
               {"die", RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT},
               {"destroy", RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT}};
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(map); i++)
        if (strcmp(action, map[i].action) == 0) {
            *type = map[i].type;
            return 0;
        }
    return -1;
}

/* The statuses of the pod's containers (the one deleted is gone).  */
static void add_container_statuses(struct events_ctx *x, const char *pod,
                                   Runtime__V1__ContainerEventResponse *ev)
{
    Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
    f.pod_sandbox_id = (char *)pod;
    Runtime__V1__ListContainersRequest lreq = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
    lreq.filter = &f;
    Runtime__V1__ListContainersResponse list = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
    crimp_error_t err = NULL;
    if (docker_list_containers(&x->d->base, x->rpc, &lreq, &list, &err) < 0) {
        crimp_error_release(&err);
        return;
    }
    ev->containers_statuses = xcalloc(list.n_containers + 1, sizeof(*ev->containers_statuses));
    for (size_t i = 0; i < list.n_containers; i++) {
        Runtime__V1__ContainerStatusRequest sreq = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
        sreq.container_id = list.containers[i]->id;
        Runtime__V1__ContainerStatusResponse st = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
        if (docker_container_status(&x->d->base, x->rpc, &sreq, &st, &err) == 0 && st.status) {
            ev->containers_statuses[ev->n_containers_statuses++] = st.status;
            st.status = NULL;
        }
        crimp_error_release(&err);
        crimp_pb_free_fields(&st.base);
    }
    crimp_pb_free_fields(&list.base);
}

static void handle_event(struct events_ctx *x, json_t *e)
{
    json_t *attrs = json_object_get(json_object_get(e, "Actor"), "Attributes");
    const char *action = json_string_value(json_object_get(e, "Action"));
    const char *id = json_string_value(json_object_get(e, "id"));
    const char *pod = json_string_value(json_object_get(attrs, DOCKER_LABEL_SANDBOX_ID));
    json_int_t nanos = json_integer_value(json_object_get(e, "timeNano"));
    Runtime__V1__ContainerEventType type;
    if (nanos > x->last_ns)
        x->last_ns = nanos;
    if (action == NULL || id == NULL || pod == NULL || event_type(action, &type) < 0)
        return;
    Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
    ev.container_id = xstrdup(id);
    ev.container_event_type = type;
    ev.created_at = nanos;
    Runtime__V1__PodSandboxStatusRequest preq = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
    preq.pod_sandbox_id = (char *)pod;
    Runtime__V1__PodSandboxStatusResponse ps = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
    crimp_error_t err = NULL;
    if (docker_pod_sandbox_status(&x->d->base, x->rpc, &preq, &ps, &err) == 0) {
        ev.pod_sandbox_status = ps.status;
        ps.status = NULL;
    }
    crimp_error_release(&err);
    crimp_pb_free_fields(&ps.base);
    add_container_statuses(x, pod, &ev);
    if (crimp_rpc_send(x->rpc, &ev.base, &err) < 0) {
        x->send_failed = true;
        crimp_error_release(&err);
    }
    crimp_pb_free_fields(&ev.base);
}

static bool on_event_line(void *ctx, char *line)
{
    struct events_ctx *x = ctx;
    json_auto_t *e = json_loads(line, 0, NULL);
    if (e)
        handle_event(x, e);
    return !x->send_failed;
}

static bool on_events_data(void *ctx, const char *data, size_t len)
{
    struct events_ctx *x = ctx;
    return docker_lines_feed(&x->lines, data, len, on_event_line, x);
}

/* One connection to /events, from SINCE_NS (0: from now).  */
static int follow_once(struct events_ctx *x, crimp_error_t *err)
{
    json_auto_t *filters = json_pack("{s:[s], s:[s, s]}", "type", "container", "label",
                                     DOCKER_LABEL_TYPE "=" DOCKER_TYPE_CONTAINER, DOCKER_LABEL_CRI);
    cleanup_free char *fq = docker_filters_query(filters);
    cleanup_free char *query =
        x->last_ns ? xasprintf("%s&since=%lld.%09lld", fq, (long long)(x->last_ns / 1000000000),
                               (long long)(x->last_ns % 1000000000 + 1))
                   : xstrdup(fq);
    struct docker_request r = {.method = "GET", .path = "/events", .query = query,
                               .timeout_ms = DOCKER_TIMEOUT_NONE, .cancelled = &x->rpc->cancelled,
                               .on_data = on_events_data, .ctx = x};
    return docker_do(x->d->client, &r, NULL, err);
}

int docker_get_container_events(struct crimp_backend *self, struct crimp_rpc *rpc,
                                const Runtime__V1__GetEventsRequest *req, crimp_error_t *err)
{
    struct events_ctx x = {.d = docker_of(self), .rpc = rpc};
    x.last_ns = crimp_now_real_ns();
    int backoff_ms = 100;
    while (!crimp_rpc_cancelled(rpc) && !x.send_failed) {
        crimp_error_t e = NULL;
        int rc = follow_once(&x, &e);
        if (rc == 0 || crimp_rpc_cancelled(rpc) || x.send_failed) {
            crimp_error_release(&e);
            continue; /* a clean end of stream: open it again */
        }
        log_warn("docker: events stream: %s; reconnecting in %d ms", e->msg, backoff_ms);
        crimp_error_release(&e);
        for (int waited = 0; waited < backoff_ms && !crimp_rpc_cancelled(rpc); waited += 50)
            usleep(50000);
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
    docker_lines_release(&x.lines);
    return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
}
