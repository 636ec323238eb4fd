/* The passthrough fast path: a read-only unary call (status, lists) that
 * one cri backend serves is forwarded as bytes on that backend's channel,
 * started and finished on the gRPC poller thread — no worker thread, no
 * re-encoding.  On a 2-vCPU VM each thread handoff costs tens of µs, about
 * the price of the call itself (bench/run-passthrough-bench.sh).  Calls
 * that change state, or that several backends serve, take the normal path:
 * crimp must see their replies (ownership) or merge them.  */
#include <string.h>

#include "server-internal.h"
#include "log.h"
#include "pbutil.h"
#include "router.h"
#include "trace.h"
#include "grpc_client.h"
#include "utils.h"

struct passthrough {
    struct crimp_tag done_tag;
    struct crimp_call *c;
    struct crimp_grpc_async_unary out;
    int64_t started;
};

static void on_forwarded(struct crimp_tag *tag, bool ok)
{
    struct passthrough *pt = container_of(tag, struct passthrough, done_tag);
    struct crimp_call *c = pt->c;
    char span[CRIMP_TRACE_NAME_LEN];
    snprintf(span, sizeof(span), "%s/%s", c->method->service, c->method->name);
    crimp_trace_set_current(c->trace);
    crimp_trace_span(CRIMP_SPAN_GRPC, span, (int)pt->out.status, pt->started, crimp_now_mono_ns());
    crimp_trace_set_current(NULL);
    if (!ok) {
        crimp_call_finish(c, NULL, GRPC_STATUS_INTERNAL, "forwarding the call failed");
    } else if (pt->out.status != GRPC_STATUS_OK) {
        struct crimp_backend *b = crimp_router_get(c->srv->router, (size_t)c->backend_index);
        cleanup_free char *msg = grpc_slice_to_c_string(pt->out.details);
        /* As the slow path does: say which backend is unreachable.  */
        cleanup_free char *named =
            pt->out.status == GRPC_STATUS_UNAVAILABLE && b
                ? xasprintf("backend `%s` (%s at %s): %s", b->config->name, b->config->type,
                            b->config->endpoint, msg)
                : NULL;
        crimp_call_finish(c, NULL, pt->out.status, named ? named : msg);
    } else {
        crimp_call_finish(c, steal_ptr(&pt->out.reply), GRPC_STATUS_OK, NULL);
    }
    crimp_grpc_unary_release(&pt->out);
    free(pt);
}

/* The backend for C when the fast path may serve it, else NULL.  */
static struct crimp_backend *eligible(struct crimp_call *c, int *idx)
{
    if (!c->method->read_only || c->payload == NULL || crimp_rpc_cancelled(&c->rpc))
        return NULL;
    ProtobufCMessage *req = crimp_unpack_byte_buffer(c->payload, c->method->req_desc);
    if (req == NULL)
        return NULL; /* the slow path says INVALID_ARGUMENT */
    crimp_error_t err = NULL;
    bool all = false;
    /* The poller must never wait on a backend: an owner not yet in the
     * table is looked up on the slow path.  */
    int i = crimp_method_validate(c->method, req, &err) < 0
                ? -1
                : crimp_router_plan_known(c->srv->router, c->method, req, &all);
    crimp_call_note_subject(c, req);
    protobuf_c_message_free_unpacked(req, NULL);
    crimp_error_release(&err);
    if (i < 0 || (all && crimp_router_count(c->srv->router) != 1))
        return NULL;
    struct crimp_backend *b = crimp_router_get(c->srv->router, (size_t)i);
    if (b == NULL || b->ops->raw_channel == NULL || !crimp_method_supported(c->method, b))
        return NULL;
    *idx = i;
    return b;
}

bool crimp_passthrough_start(struct crimp_call *c)
{
    int idx = -1;
    struct crimp_backend *b = eligible(c, &idx);
    if (b == NULL)
        return false;
    struct passthrough *pt = xcalloc(1, sizeof(*pt));
    pt->done_tag.done = on_forwarded;
    pt->c = c;
    c->backend_index = idx;
    pt->started = crimp_now_mono_ns();
    /* The request goes out as it came in; the copy shares its slices.  */
    grpc_byte_buffer *request = grpc_byte_buffer_copy(c->payload);
    cleanup_error crimp_error_t err = NULL;
    if (crimp_grpc_unary_begin_raw(&pt->out, b->ops->raw_channel(b), c->call, c->srv->cq,
                                   c->method->path, c->deadline, NULL, request, &pt->done_tag,
                                   &err) < 0) {
        free(pt);
        c->backend_index = -1;
        return false;
    }
    return true;
}
