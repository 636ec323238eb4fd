/* One node, one cgroup driver.  kubelet (>= 1.31) asks RuntimeConfig once
 * and lays out every pod's cgroups with that driver, so crimp answers it
 * for the node, not per backend, and refuses a set of backends whose
 * drivers differ: at start (crimpd exits) and on SIGHUP (the old
 * configuration stays).  */
#ifndef CRIMP_DRIVERS_H
#define CRIMP_DRIVERS_H

#include "backend.h"
#include "dispatch.h"
#include "router.h"

/* Asks each of the N backends BS for its cgroup driver (RPC gives the
 * deadline; NULL: 5 s each) and sets *DRIVER to the one they share (a
 * Runtime__V1__CgroupDriver), or -1 when none could say.  A backend that
 * does not implement RuntimeConfig is left out; one that does not answer
 * is logged and left out when LENIENT, else its error is returned when no
 * other answered.  FAILED_PRECONDITION naming both backends, their drivers
 * and the fix when two differ.  */
int crimp_drivers_agree(struct crimp_backend *const *bs, size_t n, struct crimp_rpc *rpc,
                        bool lenient, int *driver, crimp_error_t *err);

/* The same over R's live backends (at start).  */
int crimp_router_check_drivers(struct crimp_router *r, crimp_error_t *err);

/* crimp's handler for RuntimeConfig: the driver every backend agrees on.  */
int crimp_answer_runtime_config(struct crimp_router *r, struct crimp_rpc *rpc,
                                const ProtobufCMessage *req, ProtobufCMessage *resp,
                                crimp_error_t *err);

#endif
