/* Following Docker's /events for a cache: resync with one list, then apply
 * each event line, again after every disconnect with a growing pause.  The
 * container inventory and the image cache both follow this way.  */
#ifndef CRIMP_DOCKER_FOLLOW_H
#define CRIMP_DOCKER_FOLLOW_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "error.h"

struct docker_backend;

struct docker_follower {
    const char *what;      /* for log lines: "inventory", "images" */
    json_t *filters;       /* the /events filters (borrowed) */
    int (*resync)(void *ctx, crimp_error_t *err);
    bool (*on_line)(void *ctx, char *line); /* false: stop following */
    void *ctx;
    atomic_bool *following; /* true while the stream is followed */
    atomic_bool *stopping;  /* set by the owner to end the loop */
};

/* Runs until *F->STOPPING: resync, follow from a second before that resync
 * (so no event falls between the list and the stream), and retry.  Meant
 * as a thread's body.  */
void docker_follow_events(struct docker_backend *d, const struct docker_follower *f);

#endif
