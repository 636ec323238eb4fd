/* GetContainerEvents on Docker: kubelet's Evented PLEG.  Follows Docker's
 * /events stream (container events of crimp's containers only) and turns
 * create / start / die / destroy into the CRI's CREATED / STARTED / STOPPED
 * / DELETED events, each with the pod's status and the statuses of the
 * pod's containers, as containerd sends them.
 *
 * When dockerd drops the stream (a restart), crimp resyncs by listing:
 * what changed while it was away (Docker's buffer dies with dockerd, and
 * holds only the last events) is sent from the difference between the list
 * and the phase crimp last reported per container; then the stream is
 * opened again with since= the time before that list, and what it replays
 * is sent only when it moves a container to a phase not reported yet — so
 * nothing is lost and nothing sent twice.  The call ends only when the
 * client goes away.  */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cri_events.h"
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
    int64_t listed_ns; /* when the last list was asked for */
    /* id -> {"phase": created|running|exited|deleted, "pod": id, "t": ns}:
     * what the client was last told and the time of what told it (deleted
     * ones kept, and older events skipped, so a replay is not news).  */
    json_t *phases;
};

#define PHASES_MAX 4096 /* beyond this, forget deleted containers */

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

static void send_event(struct events_ctx *x, const char *id, const char *pod,
                       Runtime__V1__ContainerEventType type, int64_t nanos)
{
    if (x->send_failed)
        return;
    crimp_error_t err = NULL;
    if (crimp_container_event_send(&x->d->base, x->rpc, type, id, pod, nanos, &err) < 0) {
        x->send_failed = true;
        crimp_error_release(&err);
    }
}

#define EV(t) RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_##t##_EVENT

static const char *phase_of(struct events_ctx *x, const char *id)
{
    return json_string_value(json_object_get(json_object_get(x->phases, id), "phase"));
}

static void set_phase(struct events_ctx *x, const char *id, const char *pod, const char *phase,
                      int64_t nanos)
{
    json_object_set_new(x->phases, id,
                        json_pack("{s:s, s:s, s:I}", "phase", phase, "pod", pod, "t", nanos));
}

static bool is(const char *phase, const char *want)
{
    return phase && strcmp(phase, want) == 0;
}

/* Moves ID to the phase event TYPE leads to, sending what the client has
 * not been told yet (a replayed event it has seen sends nothing).  */
static void advance(struct events_ctx *x, const char *id, const char *pod,
                    Runtime__V1__ContainerEventType type, int64_t nanos)
{
    const char *cur = phase_of(x, id);
    if (is(cur, "deleted"))
        return;
    switch (type) {
    case EV(CREATED):
        if (cur == NULL) {
            set_phase(x, id, pod, "created", nanos);
            send_event(x, id, pod, type, nanos);
        }
        break;
    case EV(STARTED):
        if (!is(cur, "running")) {
            if (cur == NULL)
                send_event(x, id, pod, EV(CREATED), nanos);
            set_phase(x, id, pod, "running", nanos);
            send_event(x, id, pod, type, nanos);
        }
        break;
    case EV(STOPPED):
        if (is(cur, "running")) {
            /* Whoever reads the log on this event finds all of it.  */
            docker_logs_wait_drained(x->d->logs, id, docker_logs_drain_deadline(x->d->logs));
            set_phase(x, id, pod, "exited", nanos);
            send_event(x, id, pod, type, nanos);
        }
        break;
    default: /* DELETED */
        if (cur != NULL) {
            if (is(cur, "running"))
                send_event(x, id, pod, EV(STOPPED), nanos);
            set_phase(x, id, pod, "deleted", nanos);
            send_event(x, id, pod, type, nanos);
        }
    }
}

int docker_event_decode(json_t *e, struct docker_event *out)
{
    json_t *attrs = json_object_get(json_object_get(e, "Actor"), "Attributes");
    const char *action = json_string_value(json_object_get(e, "Action"));
    out->id = json_string_value(json_object_get(e, "id"));
    out->pod = json_string_value(json_object_get(attrs, DOCKER_LABEL_SANDBOX_ID));
    out->nanos = json_integer_value(json_object_get(e, "timeNano"));
    if (action == NULL || out->id == NULL || out->pod == NULL ||
        event_type(action, &out->type) < 0)
        return -1;
    return 0;
}

static void handle_event(struct events_ctx *x, json_t *e)
{
    struct docker_event ev;
    int ok = docker_event_decode(e, &ev);
    if (ev.nanos > x->last_ns)
        x->last_ns = ev.nanos;
    if (ok < 0)
        return;
    /* The attributes carry the labels and the name: only what crimp serves.  */
    json_t *attrs = json_object_get(json_object_get(e, "Actor"), "Attributes");
    struct docker_cri_meta meta;
    crimp_error_t merr = NULL;
    if (docker_cri_meta_read(attrs, json_string_value(json_object_get(attrs, "name")), &meta,
                             &merr) < 0) {
        crimp_error_release(&merr);
        return;
    }
    docker_cri_meta_free(&meta);
    json_int_t told = json_integer_value(json_object_get(json_object_get(x->phases, ev.id), "t"));
    if (ev.nanos <= told)
        return; /* replayed from before what the client was told */
    advance(x, ev.id, ev.pod, ev.type, ev.nanos);
}

/* crimp's containers now: id -> {"phase", "pod"} from one list.  */
static int list_phases(struct events_ctx *x, json_t **out, crimp_error_t *err)
{
    int64_t asked = crimp_now_real_ns();
    json_auto_t *list = NULL;
    if (docker_list(x->d, DOCKER_TYPE_CONTAINER, NULL, &list, err) < 0)
        return -1;
    *out = json_object();
    size_t i;
    json_t *c;
    json_array_foreach (list, i, c) {
        const char *id = json_string_value(json_object_get(c, "Id"));
        const char *state = json_string_value(json_object_get(c, "State")) ?: "";
        const char *pod = json_string_value(
            json_object_get(json_object_get(c, "Labels"), DOCKER_LABEL_SANDBOX_ID));
        const char *phase = strcmp(state, "created") == 0 ? "created"
                            : strcmp(state, "running") == 0 || strcmp(state, "paused") == 0 ||
                                      strcmp(state, "restarting") == 0
                                ? "running"
                                : "exited";
        if (id && pod)
            json_object_set_new(*out, id, json_pack("{s:s, s:s, s:I}", "phase", phase, "pod", pod,
                                                    "t", (json_int_t)asked));
    }
    return 0;
}

/* After a reconnect: tells the client what the list shows changed since
 * its last events.  */
static void resync(struct events_ctx *x, json_t *now)
{
    const char *id;
    json_t *v, *tmp;
    json_object_foreach_safe (x->phases, tmp, id, v) {
        if (json_object_get(now, id) == NULL)
            advance(x, id, json_string_value(json_object_get(v, "pod")), EV(DELETED),
                    x->listed_ns);
        else if (is(phase_of(x, id), "deleted") && json_object_size(x->phases) > PHASES_MAX)
            json_object_del(x->phases, id);
    }
    json_object_foreach (now, id, v) {
        const char *pod = json_string_value(json_object_get(v, "pod"));
        const char *want = json_string_value(json_object_get(v, "phase"));
        int64_t t = json_integer_value(json_object_get(v, "t"));
        const char *cur = phase_of(x, id);
        advance(x, id, pod, EV(CREATED), t);
        /* Forward only: an exited container ran, unless it was seen exit.  */
        bool ran_since = strcmp(want, "running") == 0 ? !is(cur, "running")
                         : strcmp(want, "exited") == 0 ? cur == NULL || is(cur, "created")
                                                        : false;
        if (ran_since)
            advance(x, id, pod, EV(STARTED), t);
        if (strcmp(want, "exited") == 0)
            advance(x, id, pod, EV(STOPPED), t);
    }
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
    json_auto_t *filters = json_pack("{s:[s], s:[s]}", "type", "container", "label",
                                     DOCKER_LABEL_TYPE "=" DOCKER_TYPE_CONTAINER);
    cleanup_free char *fq = docker_filters_query(filters);
    int64_t since = x->last_ns + 1;
    cleanup_free char *query =
        x->last_ns ? xasprintf("%s&since=%lld.%09lld", fq, (long long)(since / 1000000000),
                               (long long)(since % 1000000000))
                   : xstrdup(fq);
    struct docker_request r = {.method = "GET", .path = "/events", .query = query,
                               .timeout_ms = DOCKER_TIMEOUT_NONE, .cancelled = &x->rpc->cancelled,
                               .on_data = on_events_data, .ctx = x};
    int rc = docker_do(x->d->client, &r, NULL, err);
    docker_lines_release(&x->lines); /* a line cut by the drop is not the next one's start */
    return rc;
}

/* The phases now; since= becomes the time before the list, or stays at the
 * last event the previous stream delivered when that is earlier: a
 * container made and removed while no stream was open is in no list, only
 * in Docker's buffer, and the next stream replays it from there (what the
 * client was told already is skipped, see handle_event).  */
static int take_list(struct events_ctx *x, json_t **now, crimp_error_t *err)
{
    int64_t before = crimp_now_real_ns() - 1000000000LL; /* a second of clock slack */
    x->listed_ns = crimp_now_real_ns();
    if (list_phases(x, now, err) < 0)
        return -1;
    if (x->last_ns == 0 || before < x->last_ns)
        x->last_ns = before;
    return 0;
}

int docker_get_container_events(struct crimp_backend *self, struct crimp_rpc *rpc,
                                const Runtime__V1__GetEventsRequest *req, crimp_error_t *err)
{
    struct events_ctx x = {.d = docker_of(self), .rpc = rpc, .phases = json_object()};
    json_t *now = NULL;
    crimp_error_t e = NULL;
    bool synced = take_list(&x, &now, &e) == 0;
    if (synced) { /* what is there already is not news */
        json_decref(x.phases);
        x.phases = now;
    } else {
        x.last_ns = crimp_now_real_ns();
    }
    crimp_error_release(&e);
    int backoff_ms = 100;
    while (!crimp_rpc_cancelled(rpc) && !x.send_failed) {
        if (!synced) {
            if (take_list(&x, &now, &e) < 0)
                goto wait;
            resync(&x, now);
            json_decref(now);
            synced = true;
        }
        int rc = follow_once(&x, &e);
        synced = false; /* the stream ended: whatever comes next, list first */
        if (rc == 0 || crimp_rpc_cancelled(rpc) || x.send_failed) {
            crimp_error_release(&e);
            continue;
        }
    wait:
        log_warn("docker: events stream: %s; reconnecting in %d ms", e->msg, backoff_ms);
        crimp_error_release(&e);
        for (int waited = 0; waited < backoff_ms && !crimp_rpc_cancelled(rpc); waited += 50)
            usleep(50000);
        backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
    }
    docker_lines_release(&x.lines);
    json_decref(x.phases);
    return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
}
