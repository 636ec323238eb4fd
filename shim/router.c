/* Backends by name, the default and draining choices (kept in the state
 * dir), each backend's last known version, and the ownership table's
 * rebuild at start.  Which backend serves a call: route.c and fanout.c.  */
#include "router.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "router-internal.h"

#include "bulkhead.h"
#include "deadline.h"
#include "health.h"
#include "grpc_client.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

#define STREAM_USERS_WAIT_MS 10000

static int index_by_name(const struct crimp_router *r, const char *name)
{
    for (size_t i = 0; name && i < r->n; i++)
        if (crimp_router_live(r, i) && strcmp(r->backends[i]->config->name, name) == 0)
            return (int)i;
    return -1;
}

/* The operator's last choice wins over the config's default_backend: a
 * restart must not move new pods back to the old runtime mid-cutover.  */
static void load_choice(struct crimp_router *r)
{
    json_error_t je;
    json_auto_t *j = json_load_file(r->state_file, 0, &je);
    if (j == NULL)
        return;
    const char *def = json_string_value(json_object_get(j, "default"));
    int idx = index_by_name(r, def);
    if (idx >= 0)
        atomic_store(&r->default_index, (size_t)idx);
    else if (def)
        log_warn("%s: default backend `%s` is no longer configured; using `%s`", r->state_file,
                 def, r->backends[atomic_load(&r->default_index)]->config->name);
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(j, "draining"), i, v) {
        int d = index_by_name(r, json_string_value(v));
        if (d >= 0 && (size_t)d != atomic_load(&r->default_index))
            r->draining[d] = true;
    }
}

static int mkdir_parent(const char *file)
{
    cleanup_free char *dir = xstrdup(file);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0711);
            *p = '/';
        }
    return mkdir(dir, 0711) == 0 || errno == EEXIST ? 0 : -1;
}

/* Writes the choice atomically (lock held).  */
static int save_choice(struct crimp_router *r, crimp_error_t *err)
{
    if (r->state_file == NULL)
        return 0;
    json_auto_t *drain = json_array();
    for (size_t i = 0; i < r->n; i++)
        if (r->draining[i])
            json_array_append_new(drain, json_string(r->backends[i]->config->name));
    json_auto_t *j = json_pack("{s:s, s:O}", "default",
                               r->backends[atomic_load(&r->default_index)]->config->name,
                               "draining", drain);
    cleanup_free char *tmp = xasprintf("%s.tmp", r->state_file);
    if (mkdir_parent(r->state_file) < 0 || json_dump_file(j, tmp, JSON_INDENT(2)) < 0 ||
        rename(tmp, r->state_file) < 0)
        return crimp_make_errno_error(err, errno, "save %s", r->state_file);
    return 0;
}

int crimp_router_set_default(struct crimp_router *r, const char *name, crimp_error_t *err)
{
    int idx = index_by_name(r, name);
    if (idx < 0)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "no backend is named `%s`",
                                name ? name : "");
    pthread_mutex_lock(&r->lock);
    size_t old = atomic_load(&r->default_index);
    atomic_store(&r->default_index, (size_t)idx);
    r->draining[idx] = false;
    int rc = save_choice(r, err);
    pthread_mutex_unlock(&r->lock);
    if (rc == 0 && old != (size_t)idx)
        log_info("default backend: `%s` -> `%s` (new pods go to `%s`; pods on `%s` stay there)",
                 r->backends[old]->config->name, name, name, r->backends[old]->config->name);
    return rc;
}

int crimp_router_set_draining(struct crimp_router *r, const char *name, bool draining,
                              crimp_error_t *err)
{
    int idx = index_by_name(r, name);
    if (idx < 0)
        return crimp_make_error(err, GRPC_STATUS_NOT_FOUND, 0, "no backend is named `%s`",
                                name ? name : "");
    pthread_mutex_lock(&r->lock);
    int rc = 0;
    if (draining && (size_t)idx == atomic_load(&r->default_index)) {
        rc = crimp_make_error(err, GRPC_STATUS_FAILED_PRECONDITION, 0,
                              "`%s` is the default backend: set another default first", name);
    } else {
        r->draining[idx] = draining;
        rc = save_choice(r, err);
    }
    pthread_mutex_unlock(&r->lock);
    if (rc == 0)
        log_info("backend `%s` %s", name, draining ? "draining: no new pods" : "no longer draining");
    return rc;
}

bool crimp_router_is_draining(struct crimp_router *r, size_t i)
{
    pthread_mutex_lock(&r->lock);
    bool d = i < r->n && r->draining[i];
    pthread_mutex_unlock(&r->lock);
    return d;
}

void crimp_router_owned(struct crimp_router *r, size_t i, size_t *pods, size_t *containers)
{
    crimp_ownership_count(r->owners, (int)i, pods, containers);
}

/* One backend's pods and containers into the table.  */
static void list_into_table(struct crimp_router *r, size_t i)
{
    struct crimp_backend *b = r->backends[i];
    struct crimp_rpc rpc = {.method = "/runtime.v1.RuntimeService/ListPodSandbox",
                            .deadline = crimp_grpc_deadline_in(5)};
    cleanup_error crimp_error_t err = NULL;
    size_t pods = 0, ctrs = 0;
    /* Bounded like a CRI call, so that a hung runtime cannot hold up the
     * start for longer than the deadline.  */
    crimp_rpc_budget_enter(&rpc, b, 5);
    if (b->ops->list_pod_sandbox) {
        Runtime__V1__ListPodSandboxRequest req = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
        Runtime__V1__ListPodSandboxResponse resp = RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT;
        if (b->ops->list_pod_sandbox(b, &rpc, &req, &resp, &err) == 0) {
            for (size_t k = 0; k < resp.n_items; k++) {
                crimp_ownership_set(r->owners, resp.items[k]->id, NULL, (int)i);
                const Runtime__V1__PodSandboxMetadata *md = resp.items[k]->metadata;
                if (md && !str_empty(md->uid)) {
                    cleanup_free char *key = xasprintf("pod-uid/%s", md->uid);
                    crimp_ownership_set(r->owners, key, resp.items[k]->id, (int)i);
                }
            }
            pods = resp.n_items;
        }
        crimp_pb_free_fields(&resp.base);
    }
    if (err == NULL && b->ops->list_containers) {
        rpc.method = "/runtime.v1.RuntimeService/ListContainers";
        Runtime__V1__ListContainersRequest req = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
        Runtime__V1__ListContainersResponse resp = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
        if (b->ops->list_containers(b, &rpc, &req, &resp, &err) == 0) {
            for (size_t k = 0; k < resp.n_containers; k++)
                crimp_ownership_set(r->owners, resp.containers[k]->id,
                                    resp.containers[k]->pod_sandbox_id, (int)i);
            ctrs = resp.n_containers;
        }
        crimp_pb_free_fields(&resp.base);
    }
    crimp_budget_set_current(NULL);
    if (err)
        log_warn("backend `%s`: ownership not listed at start (%s); its IDs are looked up when "
                 "first named",
                 b->config->name, err->msg);
    else
        log_info("backend `%s` owns %zu pods and %zu containers", b->config->name, pods, ctrs);
}

/* Only backends that answered at start are listed: a hung runtime must not
 * hold up crimpd; IDs of the others are found when first named.  */
void crimp_router_rebuild_ownership(struct crimp_router *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!crimp_router_live(r, i))
            continue;
        cleanup_free char *v = crimp_router_backend_version(r, r->backends[i]);
        if (v != NULL)
            list_into_table(r, i);
    }
}

struct crimp_router *crimp_router_new(const struct crimp_config *cfg, crimp_error_t *err)
{
    struct crimp_router *r = xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->owners = crimp_ownership_new();
    pthread_mutex_init(&r->reload_lock, NULL);
    r->backends = xcalloc(CRIMP_MAX_BACKENDS, sizeof(*r->backends));
    r->versions = xcalloc(CRIMP_MAX_BACKENDS, sizeof(*r->versions));
    r->draining = xcalloc(CRIMP_MAX_BACKENDS, sizeof(*r->draining));
    r->removed = xcalloc(CRIMP_MAX_BACKENDS, sizeof(*r->removed));
    r->bulkheads = xcalloc(CRIMP_MAX_BACKENDS, sizeof(*r->bulkheads));
    if (cfg->n_backends > CRIMP_MAX_BACKENDS) {
        crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "backends: at most %d",
                         CRIMP_MAX_BACKENDS);
        crimp_router_free(r);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_backends; i++) {
        const struct crimp_backend_config *bc = &cfg->backends[i];
        const struct crimp_backend_ops *ops = crimp_backend_ops_for_type(bc->type);
        struct crimp_backend *b = ops ? ops->open(bc, err) : NULL;
        if (b == NULL) {
            if (ops == NULL)
                crimp_make_error(err, GRPC_STATUS_INVALID_ARGUMENT, 0, "unknown backend type `%s`",
                                 bc->type);
            crimp_error_wrap(err, "backend `%s`", bc->name);
            crimp_router_free(r);
            return NULL;
        }
        b->ops = ops;
        b->config = bc;
        crimp_router_fill_slot(r, r->n++, b);
        if (strcmp(bc->name, cfg->default_backend) == 0)
            atomic_store(&r->default_index, i);
    }
    if (!str_empty(cfg->state_dir)) {
        r->state_file = xasprintf("%s/default-backend.json", cfg->state_dir);
        load_choice(r);
    }
    return r;
}

/* Whether every backend's streaming sessions let go of it, waiting up to
 * STREAM_USERS_WAIT_MS in all (crimp_stream_stop cut them already).  */
static bool wait_for_stream_users(struct crimp_router *r)
{
    int64_t deadline = crimp_now_mono_ns() + STREAM_USERS_WAIT_MS * 1000000LL;
    for (size_t i = 0; i < r->n; i++)
        while (atomic_load(&r->backends[i]->stream_users) > 0) {
            if (crimp_now_mono_ns() >= deadline)
                return false;
            usleep(10000);
        }
    return true;
}

void crimp_router_free(struct crimp_router *r)
{
    if (r == NULL)
        return;
    wait_for_stream_users(r);
    for (size_t i = 0; i < r->n; i++) {
        int users = atomic_load(&r->backends[i]->stream_users);
        if (users > 0)
            /* Freed under a session still inside it would crash crimpd
             * on its way out; left to the process exit instead.  */
            log_warn("backend `%s`: %d streaming session%s did not end in %d ms: not closed",
                     r->backends[i]->config->name, users, users == 1 ? "" : "s",
                     STREAM_USERS_WAIT_MS);
        else
            r->backends[i]->ops->close(r->backends[i]);
        free(r->versions[i]);
        crimp_bulkhead_free(r->bulkheads[i][0]);
        crimp_bulkhead_free(r->bulkheads[i][1]);
    }
    crimp_ownership_free(r->owners);
    for (size_t i = 0; i < r->n_retired_configs; i++) {
        crimp_config_free(r->retired_configs[i]);
        free(r->retired_configs[i]);
    }
    free(r->retired_configs);
    free(r->backends);
    free(r->versions);
    free(r->draining);
    free(r->removed);
    free(r->bulkheads);
    pthread_mutex_destroy(&r->reload_lock);
    free(r->state_file);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void crimp_router_fill_slot(struct crimp_router *r, size_t i, struct crimp_backend *b)
{
    r->backends[i] = b;
    r->bulkheads[i][0] = crimp_bulkhead_new(b->config->max_calls, b->config->max_queued);
    r->bulkheads[i][1] = crimp_bulkhead_new(b->config->max_calls, b->config->max_queued);
}

struct crimp_bulkhead *crimp_router_bulkhead(const struct crimp_router *r, size_t i, bool slow)
{
    return i < atomic_load(&((struct crimp_router *)r)->n) ? r->bulkheads[i][slow ? 1 : 0] : NULL;
}

void crimp_router_set_health(struct crimp_router *r, struct crimp_health *h)
{
    r->health = h;
}

struct crimp_health *crimp_router_health(const struct crimp_router *r)
{
    return r->health;
}

bool crimp_router_down(const struct crimp_router *r, size_t i)
{
    return crimp_health_down(r->health, i);
}

size_t crimp_router_count(const struct crimp_router *r)
{
    return r->n;
}

struct crimp_backend *crimp_router_get(const struct crimp_router *r, size_t i)
{
    return crimp_router_live(r, i) ? r->backends[i] : NULL;
}

size_t crimp_router_default_index(struct crimp_router *r)
{
    return atomic_load(&r->default_index);
}

struct crimp_backend *crimp_router_default(const struct crimp_router *r)
{
    return r->n > 0 ? r->backends[atomic_load(&((struct crimp_router *)r)->default_index)] : NULL;
}

struct crimp_backend *crimp_router_route(struct crimp_router *r, const struct crimp_method *m,
                                         struct crimp_rpc *rpc, ProtobufCMessage *req,
                                         crimp_error_t *err)
{
    bool all = false;
    int idx = crimp_router_plan(r, m, rpc, req, &all, err);
    if (idx < 0)
        return NULL;
    return all ? crimp_router_default(r) : r->backends[idx];
}

static size_t index_of(const struct crimp_router *r, const struct crimp_backend *b)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->backends[i] == b)
            return i;
    return r->n;
}

int crimp_router_index(const struct crimp_router *r, const struct crimp_backend *b)
{
    size_t i = index_of(r, b);
    return i < r->n ? (int)i : -1;
}

int crimp_router_refresh_version(struct crimp_router *r, struct crimp_backend *b,
                                 struct crimp_rpc *rpc, crimp_error_t *err)
{
    if (b->ops->version == NULL)
        return 0;
    struct crimp_rpc local = {.method = "/runtime.v1.RuntimeService/Version",
                              .deadline = crimp_grpc_deadline_in(2)};
    if (rpc == NULL)
        rpc = &local;
    Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
    Runtime__V1__VersionResponse resp = RUNTIME__V1__VERSION_RESPONSE__INIT;
    req.version = (char *)"v1";
    /* Outside a CRI call (at start) the request still ends by RPC's
     * deadline: a hung runtime must not hold up crimpd's start.  */
    bool own_budget = crimp_budget_current() == NULL;
    if (own_budget)
        crimp_rpc_budget_enter(rpc, b, 2);
    int rc = b->ops->version(b, rpc, &req, &resp, err);
    if (own_budget)
        crimp_budget_set_current(NULL);
    if (rc < 0)
        return -1;
    char *v = xasprintf("%s %s", resp.runtime_name, resp.runtime_version);
    crimp_pb_free_fields(&resp.base);
    size_t i = index_of(r, b);
    pthread_mutex_lock(&r->lock);
    if (i < r->n) {
        free(r->versions[i]);
        r->versions[i] = v;
        v = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    free(v);
    return 0;
}

char *crimp_router_backend_version(struct crimp_router *r, const struct crimp_backend *b)
{
    size_t i = index_of(r, b);
    pthread_mutex_lock(&r->lock);
    char *v = i < r->n ? xstrdup_or_null(r->versions[i]) : NULL;
    pthread_mutex_unlock(&r->lock);
    return v;
}
