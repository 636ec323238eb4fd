/* crimpd's admin HTTP server (libevent), on its own thread:
 *
 *   unix socket (admin_listen, mode 0600):
 *     GET /metrics              Prometheus text
 *     GET /v1/latency           per-series latency summary (JSON)
 *     GET /v1/calls?limit=N     recent calls with their spans (JSON)
 *     GET /v1/calls/follow      live calls, one JSON object per line
 *     GET /v1/backends          the backends and which is the default
 *   TCP (metrics_listen, only when configured): GET /metrics only.  */
#ifndef CRIMP_ADMIN_H
#define CRIMP_ADMIN_H

#include "config.h"
#include "recorder.h"
#include "router.h"

struct crimp_admin;

/* Starts serving; NULL with *err when a socket cannot be bound.  Returns
 * a server that does nothing when neither address is configured.  */
struct crimp_admin *crimp_admin_start(const struct crimp_config *cfg, struct crimp_router *router,
                                      struct crimp_recorder *recorder, crimp_error_t *err);

/* Stops the thread, closes the sockets and removes the unix socket.  */
void crimp_admin_stop(struct crimp_admin *a);

#endif
