/* Version, Status and RuntimeConfig: the RPCs crimp answers as itself
 * rather than passing to one backend.  kubelet shows Version as the node's
 * container runtime (`kubectl get node -o wide`), decides from Status
 * whether the node is ready, so both must say that crimp is in front and
 * what is behind it; RuntimeConfig is the node's one cgroup driver
 * (drivers.h).  */
#ifndef CRIMP_IDENTITY_H
#define CRIMP_IDENTITY_H

#include "dispatch.h"
#include "router.h"

typedef int (*crimp_own_handler)(struct crimp_router *r, struct crimp_rpc *rpc,
                                 const ProtobufCMessage *req, ProtobufCMessage *resp,
                                 crimp_error_t *err);

/* crimp's own handler for M, or NULL when a backend serves M.  */
crimp_own_handler crimp_identity_handler(const struct crimp_method *m);

/* The CRI API version crimp speaks, and its runtime name.  */
#define CRIMP_CRI_API_VERSION "v1"
#define CRIMP_RUNTIME_NAME    "crimp"

#endif
