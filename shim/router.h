/* The live backends and which one a call goes to.  Today every call that
 * names no backend goes to the default backend; routing by pod and
 * container ownership across several backends builds on this.  */
#ifndef CRIMP_ROUTER_H
#define CRIMP_ROUTER_H

#include <pthread.h>

#include "backend.h"
#include "config.h"
#include "dispatch.h"

struct crimp_router;

/* Opens every configured backend.  A backend whose runtime is down still
 * opens (connections are lazy); only a bad option fails.  */
struct crimp_router *crimp_router_new(const struct crimp_config *cfg, crimp_error_t *err);

void crimp_router_free(struct crimp_router *r);

/* The backend that serves a call of METHOD with request REQ, or NULL with
 * UNAVAILABLE when no backend is configured.  */
struct crimp_backend *crimp_router_route(struct crimp_router *r, const struct crimp_method *m,
                                         const ProtobufCMessage *req, crimp_error_t *err);

size_t crimp_router_count(const struct crimp_router *r);
struct crimp_backend *crimp_router_get(const struct crimp_router *r, size_t i);
/* The position of B in the configuration (as the recorder numbers
 * backends), -1 if B is not one of R's.  */
int crimp_router_index(const struct crimp_router *r, const struct crimp_backend *b);

/* NULL when there are no backends.  */
struct crimp_backend *crimp_router_default(const struct crimp_router *r);

/* Asks backend B for the runtime behind it and remembers the answer for
 * crimp's Version reply.  RPC may be a server call (for its deadline) or
 * NULL.  Returns < 0 with *err when the backend did not answer.  */
int crimp_router_refresh_version(struct crimp_router *r, struct crimp_backend *b,
                                 struct crimp_rpc *rpc, crimp_error_t *err);

/* The last known "runtime_name runtime_version" of B (caller frees), or NULL
 * when it never answered.  */
char *crimp_router_backend_version(struct crimp_router *r, const struct crimp_backend *b);

#endif
