/* Applying a re-read configuration to the running router (SIGHUP).  */
#ifndef CRIMP_RELOAD_H
#define CRIMP_RELOAD_H

#include "config.h"
#include "recorder.h"
#include "router.h"

/* Adds the backends CFG lists that R lacks, retires those it no longer
 * lists (when they own nothing), logs what needs a restart.  Takes CFG,
 * which must stay alive: R frees it.  */
void crimp_router_reload(struct crimp_router *r, struct crimp_config *cfg,
                         struct crimp_recorder *rec);

#endif
