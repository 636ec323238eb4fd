/* Applying a re-read configuration to the running router (SIGHUP).  */
#ifndef CRIMP_RELOAD_H
#define CRIMP_RELOAD_H

#include "config.h"
#include "recorder.h"
#include "router.h"

/* Adds the backends CFG lists that R lacks, retires those it no longer
 * lists (when they own nothing), logs what needs a restart, and takes CFG,
 * which must stay alive: R frees it.  When the backends CFG would run
 * disagree on the cgroup driver, changes nothing and returns < 0 with
 * *err (FAILED_PRECONDITION); CFG stays the caller's.  */
int crimp_router_reload(struct crimp_router *r, struct crimp_config *cfg,
                        struct crimp_recorder *rec, crimp_error_t *err);

#endif
