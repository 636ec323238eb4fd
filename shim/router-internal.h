/* The router's state, shared by router.c (backends, the default, its
 * persistence) and route.c / fanout.c (which backend serves a call).  */
#ifndef CRIMP_ROUTER_INTERNAL_H
#define CRIMP_ROUTER_INTERNAL_H

#include <stdatomic.h>

#include "ownership.h"
#include "router.h"

struct crimp_router {
    struct crimp_backend **backends;
    char **versions; /* guarded by lock; NULL until the backend answered */
    bool *draining;  /* guarded by lock */
    size_t n;
    atomic_size_t default_index;
    pthread_mutex_t lock;
    char *state_file; /* the default and draining choices, or NULL */
    struct crimp_ownership *owners;
};

size_t crimp_router_default_index(struct crimp_router *r);

#endif
