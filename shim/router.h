/* The live backends and which one a call goes to.
 *
 * New pods go to the default backend; every call naming a pod or container
 * goes to the backend that owns it; lists go to all and are merged (rules in
 * route.c).  The default can be switched while crimpd runs, and a backend
 * can be marked draining (it keeps serving what it owns, takes no new pods);
 * both choices are kept in the state dir across restarts.  */
#ifndef CRIMP_ROUTER_H
#define CRIMP_ROUTER_H

#include <pthread.h>

#include "backend.h"
#include "config.h"
#include "dispatch.h"

struct crimp_bulkhead;
struct crimp_health;

struct crimp_router;

/* The most backends one crimpd holds (configured plus added by reloads).  */
#define CRIMP_MAX_BACKENDS 16

/* Opens every configured backend.  A backend whose runtime is down still
 * opens (connections are lazy); only a bad option fails.  */
struct crimp_router *crimp_router_new(const struct crimp_config *cfg, crimp_error_t *err);

void crimp_router_free(struct crimp_router *r);

/* The backend that serves a call of METHOD with request REQ, or NULL with
 * *err (UNAVAILABLE when no backend is configured).  For calls every
 * backend serves, the default.  */
struct crimp_backend *crimp_router_route(struct crimp_router *r, const struct crimp_method *m,
                                         struct crimp_rpc *rpc, ProtobufCMessage *req,
                                         crimp_error_t *err);

/* The index of the backend for a call, or < 0 with *err; *ALL is set
 * instead when every backend serves it (crimp_router_call_all).  REQ may be
 * adjusted (a runtime_handler naming a backend is consumed).  */
int crimp_router_plan(struct crimp_router *r, const struct crimp_method *m, struct crimp_rpc *rpc,
                      ProtobufCMessage *req, bool *all, crimp_error_t *err);

/* The same without asking any backend (for the poller thread): -1 when the
 * owner is not in the table yet.  */
int crimp_router_plan_known(struct crimp_router *r, const struct crimp_method *m,
                            const ProtobufCMessage *req, bool *all);

/* Calls M on every backend and merges the replies into RESP.  *ONLY is the
 * backend's index when just one took part, else -1.  */
int crimp_router_call_all(struct crimp_router *r, const struct crimp_method *m,
                          struct crimp_rpc *rpc, const ProtobufCMessage *req,
                          ProtobufCMessage *resp, int *only, crimp_error_t *err);

/* Streams list M (a Stream* RPC) from every backend in turn into RPC's
 * stream, dropping elements an earlier backend sent (fanout.c).  A backend
 * that fails is logged and left out; the call fails only when all did.  */
int crimp_router_stream_all(struct crimp_router *r, const struct crimp_method *m,
                            struct crimp_rpc *rpc, const ProtobufCMessage *req, crimp_error_t *err);

/* Follows server-streaming M (GetContainerEvents) on every backend at
 * once, their messages merged into RPC's stream, until the client leaves
 * (follow_all.c).  Returns -1: CANCELLED then, or the error of the
 * followers when they all stopped by themselves.  */
int crimp_router_follow_all(struct crimp_router *r, const struct crimp_method *m,
                            struct crimp_rpc *rpc, const ProtobufCMessage *req, crimp_error_t *err);

/* What must happen on backend IDX before M runs there (an image pulled into
 * a pod's backend for CreateContainer).  */
int crimp_router_prepare(struct crimp_router *r, const struct crimp_method *m, int idx,
                         struct crimp_rpc *rpc, const ProtobufCMessage *req, crimp_error_t *err);

/* Learns ownership from a successful call of backend IDX.  */
void crimp_router_observe(struct crimp_router *r, const struct crimp_method *m, int idx,
                          const ProtobufCMessage *req, const ProtobufCMessage *resp);

/* Lists every backend's pods and containers into the ownership table
 * (at start; a backend that does not answer is skipped).  */
void crimp_router_rebuild_ownership(struct crimp_router *r);

/* How many pods and containers backend I owns.  */
void crimp_router_owned(struct crimp_router *r, size_t i, size_t *pods, size_t *containers);

/* Makes NAME the default for new pods (and no longer draining), and saves
 * the choice.  NOT_FOUND for an unknown name.  */
int crimp_router_set_default(struct crimp_router *r, const char *name, crimp_error_t *err);

/* Marks NAME draining or not, and saves it.  The default cannot drain.  */
int crimp_router_set_draining(struct crimp_router *r, const char *name, bool draining,
                              crimp_error_t *err);
bool crimp_router_is_draining(struct crimp_router *r, size_t i);

/* Slots in use; crimp_router_get is NULL for a slot whose backend a
 * reload retired.  */
size_t crimp_router_count(const struct crimp_router *r);
struct crimp_backend *crimp_router_get(const struct crimp_router *r, size_t i);
/* The position of B in the configuration (as the recorder numbers
 * backends), -1 if B is not one of R's.  */
int crimp_router_index(const struct crimp_router *r, const struct crimp_backend *b);

/* Backend I's bulkhead on the slow lane (SLOW) or the fast one.  */
struct crimp_bulkhead *crimp_router_bulkhead(const struct crimp_router *r, size_t i, bool slow);

/* The health probes (shim/health.c) whose results the router reads; NULL
 * while there are none.  */
void crimp_router_set_health(struct crimp_router *r, struct crimp_health *h);
struct crimp_health *crimp_router_health(const struct crimp_router *r);

/* Whether backend I's last health probe found it down: lists and ID
 * lookups then leave it out instead of waiting for it.  */
bool crimp_router_down(const struct crimp_router *r, size_t i);

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
