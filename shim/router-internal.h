/* The router's state, shared by router.c (backends, the default, its
 * persistence) and route.c / fanout.c (which backend serves a call).  */
#ifndef CRIMP_ROUTER_INTERNAL_H
#define CRIMP_ROUTER_INTERNAL_H

#include <stdatomic.h>

#include "ownership.h"
#include "router.h"

struct crimp_router {
    /* Slots for CRIMP_MAX_BACKENDS; the first n are in use.  A slot never
     * moves or empties (indexes are kept by the ownership table and the
     * recorder); a backend retired by a reload is only marked removed.  */
    struct crimp_backend **backends;
    char **versions; /* guarded by lock; NULL until the backend answered */
    bool *draining;  /* guarded by lock */
    atomic_bool *removed;
    atomic_size_t n;
    pthread_mutex_t reload_lock;
    struct crimp_config **retired_configs; /* configs that reloads brought */
    size_t n_retired_configs;
    atomic_size_t default_index;
    pthread_mutex_t lock;
    char *state_file; /* the default and draining choices, or NULL */
    struct crimp_ownership *owners;
    /* Per slot: the fast and the slow lane's bulkhead (bulkhead.h).  */
    struct crimp_bulkhead *(*bulkheads)[2];
    struct crimp_health *health; /* NULL until crimpd started the probes */
};

/* Makes B slot I's backend, with its bulkheads (before the slot is
 * published).  */
void crimp_router_fill_slot(struct crimp_router *r, size_t i, struct crimp_backend *b);

size_t crimp_router_default_index(struct crimp_router *r);

/* Whether slot I holds a backend in service.  */
static inline bool crimp_router_live(const struct crimp_router *r, size_t i)
{
    return i < atomic_load(&((struct crimp_router *)r)->n) && !atomic_load(&r->removed[i]);
}

#endif
