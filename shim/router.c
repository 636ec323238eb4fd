/* Backends by name, the default, and each backend's last known version.  */
#include "router.h"

#include <string.h>

#include "grpc_client.h"
#include "log.h"
#include "pbutil.h"
#include "utils.h"

struct crimp_router {
    struct crimp_backend **backends;
    char **versions; /* guarded by lock; NULL until the backend answered */
    size_t n;
    size_t default_index;
    pthread_mutex_t lock;
};

struct crimp_router *crimp_router_new(const struct crimp_config *cfg, crimp_error_t *err)
{
    struct crimp_router *r = xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->backends = xcalloc(cfg->n_backends, sizeof(*r->backends));
    r->versions = xcalloc(cfg->n_backends, sizeof(*r->versions));
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
        r->backends[r->n++] = b;
        if (strcmp(bc->name, cfg->default_backend) == 0)
            r->default_index = i;
    }
    return r;
}

void crimp_router_free(struct crimp_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++) {
        r->backends[i]->ops->close(r->backends[i]);
        free(r->versions[i]);
    }
    free(r->backends);
    free(r->versions);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

size_t crimp_router_count(const struct crimp_router *r)
{
    return r->n;
}

struct crimp_backend *crimp_router_get(const struct crimp_router *r, size_t i)
{
    return i < r->n ? r->backends[i] : NULL;
}

struct crimp_backend *crimp_router_default(const struct crimp_router *r)
{
    return r->n > 0 ? r->backends[r->default_index] : NULL;
}

struct crimp_backend *crimp_router_route(struct crimp_router *r, const struct crimp_method *m,
                                         const ProtobufCMessage *req, crimp_error_t *err)
{
    (void)req;
    struct crimp_backend *b = crimp_router_default(r);
    if (b == NULL)
        crimp_make_error(err, GRPC_STATUS_UNAVAILABLE, 0,
                         "%s: no backend is configured (see crimpd --help, --backend)", m->name);
    return b;
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
    if (b->ops->version(b, rpc, &req, &resp, err) < 0)
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
