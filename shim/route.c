/* Which backend serves a call, and what a call did to the ownership table.
 * Both come from the method's row in proto/cri_rpcs.h (its route and ids
 * columns, explained there; docs/architecture.md, "One CRI call").  */
#include <string.h>

#include "call.h"
#include "log.h"
#include "ownership.h"
#include "pbutil.h"
#include "router-internal.h"
#include "trace.h"
#include "utils.h"

static const char *string_field(const ProtobufCMessage *msg, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(char *const *)((const char *)msg + f->offset);
}

static const ProtobufCMessage *message_field(const ProtobufCMessage *msg, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, name);
    if (f == NULL || f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
        return NULL;
    return *(ProtobufCMessage *const *)((const char *)msg + f->offset);
}

/* Asks backend B whether it has pod or container ID.  */
static bool backend_has(struct crimp_backend *b, struct crimp_rpc *rpc, const char *id, bool pod)
{
    cleanup_error crimp_error_t err = NULL;
    int rc = -1;
    if (pod && b->ops->pod_sandbox_status) {
        Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
        Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
        req.pod_sandbox_id = (char *)id;
        rc = b->ops->pod_sandbox_status(b, rpc, &req, &resp, &err);
        crimp_pb_free_fields(&resp.base);
    } else if (!pod && b->ops->container_status) {
        Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
        Runtime__V1__ContainerStatusResponse resp = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
        req.container_id = (char *)id;
        rc = b->ops->container_status(b, rpc, &req, &resp, &err);
        crimp_pb_free_fields(&resp.base);
    }
    return rc == 0;
}

/* Backends [k] in the order to ask them: the default first.  */
static size_t ask_order(size_t def, size_t k)
{
    return k == 0 ? def : (k <= def ? k - 1 : k);
}

static int ambiguous_prefix(struct crimp_router *r, const char *prefix, bool pod, int a, int b,
                            crimp_error_t *err)
{
    return crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0,
                            "%s ID prefix \"%s\" is ambiguous: it starts IDs on backends "
                            "`%s` and `%s`; give more of the ID",
                            pod ? "pod sandbox" : "container", prefix,
                            r->backends[a]->config->name, r->backends[b]->config->name);
}

/* The backend holding the pod or container whose ID starts with PREFIX (an
 * operator's `crictl inspect 8f3`) when the table knows none: every backend
 * is asked, since one that finds it says nothing of the others.  Found on
 * several, the prefix is refused: acting on whichever backend answered
 * first could stop or remove the wrong one.  A prefix is never filed in the
 * table (it is no ID).  */
static int owner_of_prefix(struct crimp_router *r, struct crimp_rpc *rpc, const char *prefix,
                           bool pod, crimp_error_t *err)
{
    size_t def = crimp_router_default_index(r);
    int found = -1;
    for (size_t k = 0; k < r->n; k++) {
        size_t i = ask_order(def, k);
        if (!crimp_router_live(r, i) || crimp_router_down(r, i) ||
            !backend_has(r->backends[i], rpc, prefix, pod))
            continue;
        if (found >= 0)
            return ambiguous_prefix(r, prefix, pod, found, (int)i, err);
        found = (int)i;
    }
    return found >= 0 ? found : (int)def;
}

/* The owner of ID: the table, else every backend asked in turn (the default
 * first).  Unknown everywhere: the default, whose answer (NOT_FOUND, or
 * success for an idempotent remove) is the right one.  */
static int owner_of(struct crimp_router *r, struct crimp_rpc *rpc, const char *id, bool pod,
                    crimp_error_t *err)
{
    int also = -1;
    int idx = crimp_ownership_get_kind(r->owners, id, pod, &also);
    if (idx >= 0 && also >= 0 && (size_t)idx < r->n && (size_t)also < r->n)
        return ambiguous_prefix(r, id, pod, idx, also, err);
    if (idx >= 0 && (size_t)idx < r->n)
        return idx;
    if (!str_empty(id) && strlen(id) < CRIMP_FULL_ID_LEN)
        return owner_of_prefix(r, rpc, id, pod, err);
    size_t def = crimp_router_default_index(r);
    for (size_t k = 0; k < r->n; k++) {
        size_t i = ask_order(def, k);
        /* A backend found down is not asked: the lookup would wait for it.  */
        if (crimp_router_live(r, i) && !crimp_router_down(r, i) &&
            backend_has(r->backends[i], rpc, id, pod)) {
            crimp_ownership_set(r->owners, id, pod ? NULL : "", (int)i);
            return (int)i;
        }
    }
    return (int)def;
}

static char *uid_key(const char *uid)
{
    return xasprintf("pod-uid/%s", uid);
}

/* The backend a runtime_handler names, or -1 (then the handler is the
 * backend's own business, e.g. "runc").  */
static int backend_named(struct crimp_router *r, const char *name)
{
    for (size_t i = 0; !str_empty(name) && i < r->n; i++)
        if (crimp_router_live(r, i) && strcmp(r->backends[i]->config->name, name) == 0)
            return (int)i;
    return -1;
}

static int plan_new_pod(struct crimp_router *r, ProtobufCMessage *req, crimp_error_t *err)
{
    Runtime__V1__RunPodSandboxRequest *run = (Runtime__V1__RunPodSandboxRequest *)req;
    int named = backend_named(r, run->runtime_handler);
    if (named >= 0) {
        /* The handler chose crimp's backend; the backend itself gets its
         * default handler.  */
        free(run->runtime_handler);
        run->runtime_handler = xstrdup("");
        return named;
    }
    size_t def = crimp_router_default_index(r);
    if (crimp_router_is_draining(r, def))
        return crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                                "the default backend `%s` is draining: set another default "
                                "(crimpctl backend set NAME)",
                                r->backends[def]->config->name);
    return (int)def;
}

/* PullImage names the pod it pulls for: pull into that pod's backend.  */
static int plan_pull(struct crimp_router *r, const ProtobufCMessage *req)
{
    const Runtime__V1__PodSandboxConfig *sc =
        (const Runtime__V1__PodSandboxConfig *)message_field(req, "sandbox_config");
    if (sc && sc->metadata && !str_empty(sc->metadata->uid)) {
        cleanup_free char *key = uid_key(sc->metadata->uid);
        int idx = crimp_ownership_get(r->owners, key);
        if (idx >= 0)
            return idx;
    }
    return (int)crimp_router_default_index(r);
}

int crimp_router_plan(struct crimp_router *r, const struct crimp_method *m, struct crimp_rpc *rpc,
                      ProtobufCMessage *req, bool *all, crimp_error_t *err)
{
    *all = false;
    if (r->n == 0)
        return crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0,
                                "%s: no backend is configured (see crimpd --help, --backend)",
                                m->name);
    switch (m->route) {
    case ROUTE_NEW_POD:
        return plan_new_pod(r, req, err);
    case ROUTE_POD:
        return owner_of(r, rpc, string_field(req, "pod_sandbox_id"), true, err);
    case ROUTE_CONTAINER:
        return owner_of(r, rpc, string_field(req, "container_id"), false, err);
    case ROUTE_ALL:
    case ROUTE_ALL_STRICT:
    case ROUTE_FOLLOW_ALL:
        *all = true;
        return 0;
    case ROUTE_PULL:
        return plan_pull(r, req);
    case ROUTE_DEFAULT:
        break;
    }
    return (int)crimp_router_default_index(r);
}

int crimp_router_plan_known(struct crimp_router *r, const struct crimp_method *m,
                            const ProtobufCMessage *req, bool *all)
{
    *all = false;
    if (r->n == 1)
        return crimp_router_live(r, 0) ? 0 : -1;
    switch (m->route) {
    case ROUTE_POD:
    case ROUTE_CONTAINER: {
        /* An ambiguous prefix is refused on the slow path.  */
        bool pod = m->route == ROUTE_POD;
        int also = -1;
        int idx = crimp_ownership_get_kind(
            r->owners, string_field(req, pod ? "pod_sandbox_id" : "container_id"), pod, &also);
        return also >= 0 ? -1 : idx;
    }
    case ROUTE_ALL:
    case ROUTE_ALL_STRICT:
    case ROUTE_FOLLOW_ALL:
        *all = true;
        return 0;
    default:
        return (int)crimp_router_default_index(r);
    }
}

/* Keeps the table current with what a successful call of backend IDX did
 * or showed.  */
void crimp_router_observe(struct crimp_router *r, const struct crimp_method *m, int idx,
                          const ProtobufCMessage *req, const ProtobufCMessage *resp)
{
    switch (m->ids) {
    case IDS_ADD_POD: {
        const Runtime__V1__RunPodSandboxRequest *run = (const void *)req;
        const char *pod = string_field(resp, "pod_sandbox_id");
        crimp_ownership_set(r->owners, pod, NULL, idx);
        if (run->config && run->config->metadata && !str_empty(run->config->metadata->uid)) {
            cleanup_free char *key = uid_key(run->config->metadata->uid);
            /* Filed under the pod so that it goes when the pod goes.  */
            crimp_ownership_set(r->owners, key, pod, idx);
        }
        break;
    }
    case IDS_ADD_CONTAINER:
        crimp_ownership_set(r->owners, string_field(resp, "container_id"),
                            string_field(req, "pod_sandbox_id"), idx);
        break;
    case IDS_DROP_POD:
        crimp_ownership_remove_pod(r->owners, string_field(req, "pod_sandbox_id"));
        break;
    case IDS_DROP_CONTAINER:
        crimp_ownership_remove(r->owners, string_field(req, "container_id"));
        break;
    case IDS_LIST_PODS: {
        const Runtime__V1__ListPodSandboxResponse *l = (const void *)resp;
        for (size_t i = 0; i < l->n_items; i++)
            crimp_ownership_set(r->owners, l->items[i]->id, NULL, idx);
        break;
    }
    case IDS_LIST_CONTAINERS: {
        const Runtime__V1__ListContainersResponse *l = (const void *)resp;
        for (size_t i = 0; i < l->n_containers; i++)
            crimp_ownership_set(r->owners, l->containers[i]->id, l->containers[i]->pod_sandbox_id,
                                idx);
        break;
    }
    case IDS_NONE:
        break;
    }
}

/* CreateContainer in a pod whose backend lacks the image: kubelet asked
 * ImageStatus of the default backend, which may have it while the pod's
 * backend (the one being drained) does not.  Pull it there rather than fail
 * with ImagePullBackOff in the middle of a cutover.  */
int crimp_router_prepare(struct crimp_router *r, const struct crimp_method *m, int idx,
                         struct crimp_rpc *rpc, const ProtobufCMessage *req, crimp_error_t *err)
{
    if (m->ids != IDS_ADD_CONTAINER || r->n < 2)
        return 0;
    struct crimp_backend *b = r->backends[idx];
    const Runtime__V1__CreateContainerRequest *cc = (const void *)req;
    if (cc->config == NULL || cc->config->image == NULL || str_empty(cc->config->image->image) ||
        !b->ops->image_status || !b->ops->pull_image)
        return 0;
    Runtime__V1__ImageStatusRequest sreq = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
    Runtime__V1__ImageStatusResponse sresp = RUNTIME__V1__IMAGE_STATUS_RESPONSE__INIT;
    sreq.image = cc->config->image;
    int rc = b->ops->image_status(b, rpc, &sreq, &sresp, err);
    bool present = rc == 0 && sresp.image != NULL;
    crimp_pb_free_fields(&sresp.base);
    if (rc < 0 || present)
        return rc;
    log_info("CreateContainer: image %s is missing on backend `%s` (the pod's); pulling it there",
             cc->config->image->image, b->config->name);
    Runtime__V1__PullImageRequest preq = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
    Runtime__V1__PullImageResponse presp = RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT;
    preq.image = cc->config->image;
    preq.sandbox_config = cc->sandbox_config;
    rc = b->ops->pull_image(b, rpc, &preq, &presp, err);
    crimp_pb_free_fields(&presp.base);
    return rc;
}
