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

static const char *const READ_ONLY[] = {
    "ListContainers", "ListPodSandbox",     "ContainerStatus", "PodSandboxStatus",
    "ImageStatus",    "ListImages",         "ContainerStats",  "ListContainerStats",
    "PodSandboxStats", "ListPodSandboxStats", "ImageFsInfo",   "RuntimeConfig",
};

struct passthrough {
    struct crimp_tag done_tag;
    struct crimp_call *c;
    grpc_call *out;
    grpc_metadata_array initial_md, trailing_md;
    grpc_byte_buffer *reply;
    grpc_status_code status;
    grpc_slice details;
    int64_t started;
};

static bool read_only(const struct crimp_method *m)
{
    for (size_t i = 0; i < CRIMP_ARRAY_SIZE(READ_ONLY); i++)
        if (strcmp(READ_ONLY[i], m->name) == 0)
            return true;
    return false;
}

static void on_forwarded(struct crimp_tag *tag, bool ok)
{
    struct passthrough *pt = container_of(tag, struct passthrough, done_tag);
    struct crimp_call *c = pt->c;
    char span[CRIMP_TRACE_NAME_LEN];
    snprintf(span, sizeof(span), "%s/%s", c->method->service, c->method->name);
    crimp_trace_set_current(c->trace);
    crimp_trace_span(CRIMP_SPAN_GRPC, span, (int)pt->status, pt->started, crimp_now_mono_ns());
    crimp_trace_set_current(NULL);
    if (!ok) {
        crimp_call_finish(c, NULL, GRPC_STATUS_INTERNAL, "forwarding the call failed");
    } else if (pt->status != GRPC_STATUS_OK) {
        struct crimp_backend *b = crimp_router_get(c->srv->router, (size_t)c->backend_index);
        cleanup_free char *msg = grpc_slice_to_c_string(pt->details);
        /* As the slow path does: say which backend is unreachable.  */
        cleanup_free char *named =
            pt->status == GRPC_STATUS_UNAVAILABLE && b
                ? xasprintf("backend `%s` (%s at %s): %s", b->config->name, b->config->type,
                            b->config->endpoint, msg)
                : NULL;
        crimp_call_finish(c, NULL, pt->status, named ? named : msg);
    } else {
        crimp_call_finish(c, steal_ptr(&pt->reply), GRPC_STATUS_OK, NULL);
    }
    if (pt->reply)
        grpc_byte_buffer_destroy(pt->reply);
    grpc_slice_unref(pt->details);
    grpc_metadata_array_destroy(&pt->initial_md);
    grpc_metadata_array_destroy(&pt->trailing_md);
    grpc_call_unref(pt->out);
    free(pt);
}

/* The backend for C when the fast path may serve it, else NULL.  */
static struct crimp_backend *eligible(struct crimp_call *c, int *idx)
{
    if (!read_only(c->method) || c->payload == NULL || crimp_rpc_cancelled(&c->rpc))
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
    pt->details = grpc_empty_slice();
    grpc_metadata_array_init(&pt->initial_md);
    grpc_metadata_array_init(&pt->trailing_md);
    grpc_slice method = grpc_slice_from_static_string(c->method->path);
    pt->out = grpc_channel_create_call(b->ops->raw_channel(b), c->call, GRPC_PROPAGATE_DEFAULTS,
                                       c->srv->cq, method, NULL, c->deadline, NULL);
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = c->payload; /* kept by C until it ends */
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &pt->initial_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &pt->reply;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &pt->status;
    ops[5].data.recv_status_on_client.status_details = &pt->details;
    ops[5].data.recv_status_on_client.trailing_metadata = &pt->trailing_md;
    c->backend_index = idx;
    pt->started = crimp_now_mono_ns();
    if (grpc_call_start_batch(pt->out, ops, 6, &pt->done_tag, NULL) != GRPC_CALL_OK) {
        grpc_call_unref(pt->out);
        grpc_metadata_array_destroy(&pt->initial_md);
        grpc_metadata_array_destroy(&pt->trailing_md);
        free(pt);
        c->backend_index = -1;
        return false;
    }
    return true;
}
