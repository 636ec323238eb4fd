/* Version and Status answered by crimp.
 *
 * Version never calls a backend: kubelet polls it, and it is the floor every
 * latency figure is measured against.  It reports what crimp last learned
 * about the default backend.  Status reports the conditions each backend's
 * last health probe found: the default backend's RuntimeReady and
 * NetworkReady as the node's, plus one condition per backend so an
 * operator sees each.  */
#include "identity.h"

#include <string.h>

#include "common/runtime_features.h"
#include "config.h"
#include "drivers.h"
#include "health.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

static int answer_version(struct crimp_router *r, struct crimp_rpc *rpc,
                          const ProtobufCMessage *req_msg, ProtobufCMessage *resp_msg,
                          crimp_error_t *err)
{
    Runtime__V1__VersionResponse *resp = (Runtime__V1__VersionResponse *)resp_msg;
    struct crimp_backend *b = crimp_router_default(r);
    cleanup_free char *behind = b ? crimp_router_backend_version(r, b) : NULL;

    resp->version = xstrdup("0.1.0");
    resp->runtime_name = xstrdup(CRIMP_RUNTIME_NAME);
    resp->runtime_api_version = xstrdup(CRIMP_CRI_API_VERSION);
    if (b == NULL)
        resp->runtime_version = xstrdup(CRIMP_VERSION " (no backend)");
    else
        resp->runtime_version = xasprintf(CRIMP_VERSION " (default backend %s: %s)",
                                          b->config->name, behind ? behind : "not reached yet");
    return 0;
}

static Runtime__V1__RuntimeCondition *new_condition(const char *type, bool status,
                                                    const char *reason, const char *message)
{
    Runtime__V1__RuntimeCondition *c = xmalloc(sizeof(*c));
    runtime__v1__runtime_condition__init(c);
    c->type = xstrdup(type);
    c->status = status;
    c->reason = xstrdup(reason ? reason : "");
    c->message = xstrdup(message ? message : "");
    return c;
}

static const Runtime__V1__RuntimeCondition *
find_condition(const Runtime__V1__StatusResponse *s, const char *type)
{
    if (s == NULL || s->status == NULL)
        return NULL;
    for (size_t i = 0; i < s->status->n_conditions; i++)
        if (strcmp(s->status->conditions[i]->type, type) == 0)
            return s->status->conditions[i];
    return NULL;
}

/* The state of one backend, as its last health probe found it.  */
struct backend_probe {
    struct crimp_backend *b;
    Runtime__V1__StatusResponse *status; /* NULL when it did not answer */
    char *error;
};

/* Status never waits on a backend: kubelet polls it every few seconds, and
 * a hung runtime must show as not ready rather than freeze the reply.  The
 * health probes (health.c) ask each backend in the background.  */
static void probe_backend(struct crimp_router *r, size_t i, struct backend_probe *p)
{
    struct crimp_backend_health h;
    crimp_health_get(crimp_router_health(r), i, &h);
    if (!h.probed) {
        p->error = xstrdup("not probed yet");
    } else {
        p->status = steal_ptr(&h.status);
        if (p->status == NULL)
            p->error = xstrdup(h.error ? h.error : "the backend does not report status");
    }
    crimp_backend_health_release(&h);
}

static Runtime__V1__RuntimeCondition *node_condition(const char *type,
                                                     const struct backend_probe *def)
{
    if (def == NULL)
        return new_condition(type, false, "NoBackend", "crimp has no backend configured");
    const Runtime__V1__RuntimeCondition *c = find_condition(def->status, type);
    if (c != NULL)
        return new_condition(type, c->status, c->reason, c->message);
    cleanup_free char *msg = xasprintf("default backend `%s`: %s", def->b->config->name,
                                       def->error ? def->error : "no such condition reported");
    return new_condition(type, false, "BackendUnavailable", msg);
}

static Runtime__V1__RuntimeCondition *backend_condition(struct crimp_router *r,
                                                        const struct backend_probe *p)
{
    const struct crimp_backend_config *bc = p->b->config;
    cleanup_free char *type = xasprintf("BackendReady/%s", bc->name);
    const Runtime__V1__RuntimeCondition *rr = find_condition(p->status, "RuntimeReady");
    cleanup_free char *version = crimp_router_backend_version(r, p->b);
    cleanup_free char *msg = xasprintf("%s backend at %s%s%s", bc->type, bc->endpoint,
                                       version ? ": " : "", version ? version : "");
    if (p->status == NULL)
        return new_condition(type, false, "BackendUnavailable", p->error);
    if (rr == NULL || !rr->status)
        return new_condition(type, false, rr ? rr->reason : "RuntimeNotReady",
                             rr ? rr->message : msg);
    return new_condition(type, true, "", msg);
}

static json_t *backends_json(struct crimp_router *r, const struct backend_probe *probes, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct backend_probe *p = &probes[i];
        const struct crimp_backend_config *bc = p->b->config;
        cleanup_free char *version = crimp_router_backend_version(r, p->b);
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", bc->name, "type", bc->type,
                              "endpoint", bc->endpoint, "default",
                              p->b == crimp_router_default(r), "reachable", p->status != NULL);
        json_object_set_new(o, "runtime", version ? json_string(version) : json_null());
        if (p->error)
            json_object_set_new(o, "error", json_string(p->error));
        json_array_append_new(arr, o);
    }
    return arr;
}

static void add_info(Runtime__V1__StatusResponse *resp, const char *key, json_t *value)
{
    size_t n = resp->n_info;
    resp->info = xrealloc(resp->info, (n + 1) * sizeof(*resp->info));
    Runtime__V1__StatusResponse__InfoEntry *e = xmalloc(sizeof(*e));
    runtime__v1__status_response__info_entry__init(e);
    e->key = xstrdup(key);
    e->value = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    resp->info[n] = e;
    resp->n_info = n + 1;
    json_decref(value);
}

static const Runtime__V1__RuntimeHandler *find_handler(const Runtime__V1__StatusResponse *s,
                                                       const char *name)
{
    for (size_t i = 0; s && i < s->n_runtime_handlers; i++)
        if (strcmp(s->runtime_handlers[i]->name, name) == 0)
            return s->runtime_handlers[i];
    return NULL;
}

/* Runtime handlers as the router serves them: new pods go to the default
 * backend, so its handlers (the unnamed one first) are the node's; a
 * handler named after a backend sends the pod there (route.c), with that
 * backend's own default handler, whose features it gets.  RuntimeFeatures
 * are the default backend's.  */
static void take_handlers(Runtime__V1__StatusResponse *resp, struct backend_probe *probes, size_t n,
                          struct backend_probe *def)
{
    if (def != NULL && def->status != NULL) {
        resp->runtime_handlers = steal_ptr(&def->status->runtime_handlers);
        resp->n_runtime_handlers = def->status->n_runtime_handlers;
        def->status->n_runtime_handlers = 0;
        resp->features = steal_ptr(&def->status->features);
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = probes[i].b->config->name;
        const Runtime__V1__RuntimeHandler *h =
            find_handler(def && probes[i].b == def->b ? resp : probes[i].status, "");
        if (h == NULL || find_handler(resp, name) != NULL)
            continue;
        crimp_status_add_handler(resp, name, h->features && h->features->recursive_read_only_mounts,
                                 h->features && h->features->user_namespaces);
    }
}

static int answer_status(struct crimp_router *r, struct crimp_rpc *rpc,
                         const ProtobufCMessage *req_msg, ProtobufCMessage *resp_msg,
                         crimp_error_t *err)
{
    const Runtime__V1__StatusRequest *req = (const Runtime__V1__StatusRequest *)req_msg;
    Runtime__V1__StatusResponse *resp = (Runtime__V1__StatusResponse *)resp_msg;
    size_t slots = crimp_router_count(r), n = 0;
    cleanup_free struct backend_probe *probes = xcalloc(slots ? slots : 1, sizeof(*probes));
    struct backend_probe *def = NULL;

    for (size_t i = 0; i < slots; i++) {
        struct crimp_backend *b = crimp_router_get(r, i);
        if (b == NULL)
            continue; /* retired by a reload */
        probes[n].b = b;
        probe_backend(r, i, &probes[n]);
        if (b == crimp_router_default(r))
            def = &probes[n];
        n++;
    }

    resp->status = xmalloc(sizeof(*resp->status));
    runtime__v1__runtime_status__init(resp->status);
    resp->status->conditions = xcalloc(n + 2, sizeof(*resp->status->conditions));
    resp->status->conditions[0] = node_condition("RuntimeReady", def);
    resp->status->conditions[1] = node_condition("NetworkReady", def);
    for (size_t i = 0; i < n; i++)
        resp->status->conditions[2 + i] = backend_condition(r, &probes[i]);
    resp->status->n_conditions = n + 2;
    take_handlers(resp, probes, n, def);

    if (req->verbose) {
        json_t *crimp = json_pack("{s:s, s:s}", "version", CRIMP_VERSION, "api", "v1");
        json_object_set_new(crimp, "backends", backends_json(r, probes, n));
        add_info(resp, "crimp", crimp);
    }
    for (size_t i = 0; i < n; i++) {
        if (probes[i].status)
            protobuf_c_message_free_unpacked(&probes[i].status->base, NULL);
        free(probes[i].error);
    }
    return 0;
}

crimp_own_handler crimp_identity_handler(const struct crimp_method *m)
{
    if (m->op_offset == offsetof(struct crimp_backend_ops, version))
        return answer_version;
    if (m->op_offset == offsetof(struct crimp_backend_ops, status))
        return answer_status;
    if (m->op_offset == offsetof(struct crimp_backend_ops, runtime_config))
        return crimp_answer_runtime_config;
    return NULL;
}
