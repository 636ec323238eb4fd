/* Each backend's health, probed in the background and kept for whoever
 * asks: Status, the admin API, /metrics and the router read the last
 * result and never wait on a backend.
 *
 * One prober thread per backend asks the backend's Status (its Version when
 * it has no Status) every health_interval, bounded by health_timeout; a
 * backend that does not answer in time, fails, or reports RuntimeReady
 * false is down until a probe finds it ready again.  A hung backend so
 * shows as down within about interval + timeout.  */
#ifndef CRIMP_HEALTH_H
#define CRIMP_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cri.pb-c.h"

struct crimp_router;
struct crimp_health;

/* Starts probing every backend R holds, and those a reload adds later.
 * Returns once each backend's first probe finished or TIMEOUT passed, so
 * that the first Status already knows.  */
struct crimp_health *crimp_health_start(struct crimp_router *r, double interval, double timeout);

/* Stops the probers (a probe in progress is cancelled) and frees H.
 * NULL-safe.  */
void crimp_health_stop(struct crimp_health *h);

/* What the last probe of one backend found.  */
struct crimp_backend_health {
    bool probed;     /* false until the first probe finished */
    bool up;         /* answered in time and reports RuntimeReady */
    char *error;     /* why it is down (caller frees), NULL when up */
    Runtime__V1__StatusResponse *status; /* its Status reply (caller frees), NULL if none */
    int64_t since_real_ns;  /* when up last changed (or the first probe) */
    int64_t probe_ns;       /* how long the last probe took */
};

/* The last result for slot I; release with crimp_backend_health_release.  */
void crimp_health_get(struct crimp_health *h, size_t i, struct crimp_backend_health *out);
void crimp_backend_health_release(struct crimp_backend_health *bh);

/* Whether slot I was found down by its last probe (false before the first,
 * and for a NULL H): calls that merely may ask it (lists, ID lookups) leave
 * it out instead of waiting.  */
bool crimp_health_down(struct crimp_health *h, size_t i);

/* crimp_backend_up{backend} and crimp_backend_probe_seconds{backend} as
 * Prometheus text.  */
void crimp_health_prometheus(struct crimp_health *h, FILE *out);

#endif
