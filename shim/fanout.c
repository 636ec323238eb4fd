/* Calls that every backend serves (lists, list stats, RemoveImage): each
 * backend answers into its own reply, and their repeated fields are joined
 * into the one kubelet gets.  A backend that fails is logged and left out,
 * so one runtime being down never hides the pods of the others; only when
 * every backend failed does the call fail.  The Stream* lists do the same
 * one backend after the other, element by element.  */
#include <string.h>

#include "bulkhead.h"
#include "call.h"
#include "deadline.h"
#include "health.h"
#include "log.h"
#include "pbutil.h"
#include "router-internal.h"
#include "trace.h"
#include "utils.h"

/* The "id" of a list element, for dropping duplicates (an image both
 * runtimes hold has the same ID in each).  */
static const char *element_id(const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "id");
    if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(char *const *)((const char *)m + f->offset);
}

static bool already_listed(ProtobufCMessage **have, size_t n, const ProtobufCMessage *m)
{
    const char *id = element_id(m);
    if (str_empty(id))
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *other = element_id(have[i]);
        if (other && strcmp(other, id) == 0)
            return true;
    }
    return false;
}

/* Moves the elements of every repeated message field of SRC to the end of
 * DST's (same type).  SRC keeps what it does not give away.  */
static void append_repeated(ProtobufCMessage *dst, ProtobufCMessage *src)
{
    const ProtobufCMessageDescriptor *d = dst->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t *dn = (size_t *)((char *)dst + f->quantifier_offset);
        size_t *sn = (size_t *)((char *)src + f->quantifier_offset);
        ProtobufCMessage ***da = (ProtobufCMessage ***)((char *)dst + f->offset);
        ProtobufCMessage ***sa = (ProtobufCMessage ***)((char *)src + f->offset);
        if (*sn == 0)
            continue;
        *da = xrealloc(*da, (*dn + *sn) * sizeof(**da));
        size_t kept = 0;
        for (size_t k = 0; k < *sn; k++) {
            if (already_listed(*da, *dn, (*sa)[k]))
                (*sa)[kept++] = (*sa)[k]; /* stays in SRC, freed with it */
            else
                (*da)[(*dn)++] = (*sa)[k];
        }
        *sn = kept;
    }
}

/* What call_one says besides 0 and -1.  */
enum { PART_DOWN = -2, PART_BUSY = -3 };

/* Backend I's part of a call every backend serves.  A backend the health
 * probe found down is left out at once (PART_DOWN) rather than waited for:
 * one hung runtime must not hold up the lists of the others.  One that is
 * up but has every slot busy (PART_BUSY) fails the whole call instead: a
 * list without a live runtime's pods would tell kubelet they are gone, and
 * waiting for a slot would hold a worker.  */
static int call_one(struct crimp_router *r, size_t i, const struct crimp_method *m,
                    struct crimp_rpc *rpc, const ProtobufCMessage *req, ProtobufCMessage *part,
                    bool skip_down, crimp_error_t *err)
{
    struct crimp_backend *b = r->backends[i];
    if (skip_down && crimp_router_down(r, i)) {
        struct crimp_backend_health h;
        crimp_health_get(r->health, i, &h);
        crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0, "not answering its health probe (%s)",
                         h.error ? h.error : "down");
        crimp_backend_health_release(&h);
        return PART_DOWN;
    }
    struct crimp_bulkhead *bh = crimp_router_bulkhead(r, i, m->lane == LANE_SLOW);
    if (!crimp_bulkhead_try_enter(bh)) {
        struct crimp_bulkhead_counts n;
        crimp_bulkhead_counts(bh, &n);
        crimp_make_error(err, GRPC_STATUS_RESOURCE_EXHAUSTED, 0,
                         "all %d of its call slots are busy (max_calls): it is slow or not "
                         "answering",
                         n.max_calls);
        return PART_BUSY;
    }
    crimp_rpc_budget_enter(rpc, b, 0);
    int rc = m->call_unary(b, rpc, req, part, err);
    crimp_budget_set_current(NULL);
    crimp_bulkhead_leave(bh);
    return rc;
}

int crimp_router_call_all(struct crimp_router *r, const struct crimp_method *m,
                          struct crimp_rpc *rpc, const ProtobufCMessage *req,
                          ProtobufCMessage *resp, int *only, crimp_error_t *err)
{
    size_t ok = 0, tried = 0;
    int last_tried = -1;
    cleanup_error crimp_error_t last = NULL;
    /* Down backends are left out only when another one can answer: with
     * none up, the probe may just lag a runtime that came back (a restart),
     * and trying costs no more than the call's own deadline.  */
    bool any_up = false;
    for (size_t i = 0; i < r->n && !any_up; i++)
        any_up = crimp_router_live(r, i) && crimp_method_supported(m, r->backends[i]) &&
                 !crimp_router_down(r, i);
    for (size_t i = 0; i < r->n; i++) {
        struct crimp_backend *b = r->backends[i];
        if (!crimp_router_live(r, i) || !crimp_method_supported(m, b))
            continue;
        tried++;
        last_tried = (int)i;
        ProtobufCMessage *part = crimp_pb_new(m->resp_desc);
        crimp_error_t e = NULL;
        crimp_trace_set_backend((int)i);
        int rc = call_one(r, i, m, rpc, req, part, any_up, &e);
        crimp_trace_set_backend(-1);
        if (rc == PART_BUSY) {
            protobuf_c_message_free_unpacked(part, NULL);
            crimp_error_wrap(&e, "backend `%s` (%s at %s)", b->config->name, b->config->type,
                             b->config->endpoint);
            *err = e;
            return -1;
        }
        if (rc == 0) {
            crimp_router_observe(r, m, (int)i, req, part);
            append_repeated(resp, part);
            ok++;
        } else {
            /* A backend known to be down is said so once, by the probe.  */
            crimp_log(rc == PART_DOWN ? CRIMP_LOG_DEBUG : CRIMP_LOG_WARN,
                      "%s: backend `%s` left out: %s", crimp_method_display(m), b->config->name,
                      e->msg);
            crimp_error_wrap(&e, "backend `%s`", b->config->name);
            crimp_error_release(&last);
            last = e;
        }
        protobuf_c_message_free_unpacked(part, NULL);
    }
    *only = tried == 1 ? last_tried : -1;
    if (tried == 0)
        return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0, "no backend implements %s",
                                crimp_method_display(m));
    /* A failed RemoveImage must be seen (an image in use), not skipped.  */
    if (last && (ok == 0 || m->route == ROUTE_ALL_STRICT)) {
        *err = steal_ptr(&last);
        return -1;
    }
    return 0;
}

/* The client's stream as one backend sees it: elements another backend
 * already sent (same id) are dropped, as the unary merge does.  */
struct merged_stream {
    struct crimp_rpc rpc;
    struct crimp_rpc *client;
    char **seen; /* ids sent by the backends before this one */
    size_t n_seen, n_before;
    size_t sent;
};

/* The id of the one element of a Stream* message, or NULL.  */
static const char *streamed_id(const ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t n = *(const size_t *)((const char *)msg + f->quantifier_offset);
        ProtobufCMessage *const *items =
            *(ProtobufCMessage *const *const *)((const char *)msg + f->offset);
        return n == 1 ? element_id(items[0]) : NULL;
    }
    return NULL;
}

static int merged_send(struct crimp_rpc *rpc, const ProtobufCMessage *msg, crimp_error_t *err)
{
    struct merged_stream *ms = container_of(rpc, struct merged_stream, rpc);
    const char *id = streamed_id(msg);
    for (size_t i = 0; !str_empty(id) && i < ms->n_before; i++)
        if (strcmp(ms->seen[i], id) == 0)
            return 0;
    if (crimp_rpc_send(ms->client, msg, err) < 0) {
        /* The client is gone: no further backend is asked either.  */
        atomic_store(&ms->rpc.cancelled, true);
        atomic_store(&ms->client->cancelled, true);
        return -1;
    }
    if (!str_empty(id)) {
        ms->seen = xrealloc(ms->seen, (ms->n_seen + 1) * sizeof(*ms->seen));
        ms->seen[ms->n_seen++] = xstrdup(id);
    }
    ms->sent++;
    return 0;
}

int crimp_router_stream_all(struct crimp_router *r, const struct crimp_method *m,
                            struct crimp_rpc *rpc, const ProtobufCMessage *req, crimp_error_t *err)
{
    struct merged_stream ms = {.client = rpc};
    size_t ok = 0, tried = 0;
    cleanup_error crimp_error_t last = NULL;
    for (size_t i = 0; i < atomic_load(&r->n) && !crimp_rpc_cancelled(rpc); i++) {
        struct crimp_backend *b = r->backends[i];
        if (!crimp_router_live(r, i) || !crimp_method_supported(m, b))
            continue;
        tried++;
        ms.rpc = (struct crimp_rpc){.method = rpc->method,
                                    .call = rpc->call,
                                    .deadline = rpc->deadline,
                                    .send = merged_send};
        ms.n_before = ms.n_seen;
        ms.sent = 0;
        crimp_error_t e = NULL;
        crimp_trace_set_backend((int)i);
        int rc = m->call_stream(b, &ms.rpc, req, &e);
        crimp_trace_set_backend(-1);
        if (rc == 0) {
            ok++;
            continue;
        }
        if (!crimp_rpc_cancelled(rpc))
            log_warn("%s: backend `%s` left out%s: %s", crimp_method_display(m), b->config->name,
                     ms.sent ? " after part of its list" : "", e->msg);
        crimp_error_wrap(&e, "backend `%s`", b->config->name);
        crimp_error_release(&last);
        last = e;
    }
    for (size_t i = 0; i < ms.n_seen; i++)
        free(ms.seen[i]);
    free(ms.seen);
    if (tried == 0)
        return crimp_make_error(err, GRPC_STATUS_UNIMPLEMENTED, 0, "no backend implements %s",
                                crimp_method_display(m));
    if (crimp_rpc_cancelled(rpc))
        return crimp_make_error(err, GRPC_STATUS_CANCELLED, 0, "the client went away");
    if (ok == 0) {
        *err = steal_ptr(&last);
        return -1;
    }
    return 0;
}
