/* crimpd's gRPC server: the CRI socket, the completion queue and its poller
 * threads, the worker lanes, and an orderly drain on shutdown.  */
#ifndef CRIMP_SERVER_H
#define CRIMP_SERVER_H

#include "config.h"
#include "router.h"

struct crimp_server;

/* Prepares the socket (replacing a stale one, refusing a live one), binds
 * and starts serving.  CFG and ROUTER must outlive the server.  */
struct crimp_server *crimp_server_start(const struct crimp_config *cfg,
                                        struct crimp_router *router, crimp_error_t *err);

/* The server's latency recorder (lives as long as the server).  */
struct crimp_recorder *crimp_server_recorder(struct crimp_server *srv);

/* Stops accepting calls, lets in-flight unary calls finish for up to the
 * configured drain timeout, cancels the rest, removes the socket and frees
 * the server.  */
void crimp_server_stop(struct crimp_server *srv);

#endif
