/* Bulkheads: how many calls of one backend may run at once on one lane,
 * and how many more may wait for a turn.  A runtime that hangs then holds
 * at most its own share of the workers; its further calls wait parked —
 * holding no thread — in a bounded queue, and beyond that are refused at
 * once, so that the other backends' calls, the admin API and Status never
 * wait behind it.  */
#ifndef CRIMP_BULKHEAD_H
#define CRIMP_BULKHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"

struct crimp_bulkhead;

enum crimp_admission {
    CRIMP_ADMIT_RUN,    /* a slot is the caller's: run, then crimp_bulkhead_leave */
    CRIMP_ADMIT_QUEUED, /* JOB is parked; it runs once crimp_bulkhead_leave hands it a slot */
    CRIMP_ADMIT_FULL,   /* every slot busy and the queue full: refuse the call */
};

/* MAX_CALLS slots (>= 1) and a queue of MAX_QUEUED (>= 0).  */
struct crimp_bulkhead *crimp_bulkhead_new(int max_calls, int max_queued);
void crimp_bulkhead_free(struct crimp_bulkhead *bh);

/* Takes a slot, or parks JOB (its `next` link is used) when none is free
 * and the queue has room; a parked JOB is queued to job->home when it gets
 * its slot.  */
enum crimp_admission crimp_bulkhead_enter(struct crimp_bulkhead *bh, struct crimp_job *job);

/* Takes a slot only if one is free now (calls that ask every backend and
 * leave out the ones that are busy).  */
bool crimp_bulkhead_try_enter(struct crimp_bulkhead *bh);

/* Gives the slot back: to the oldest parked job, which is queued to its
 * home pool, or to nobody.  */
void crimp_bulkhead_leave(struct crimp_bulkhead *bh);

/* Takes out of the queue every parked job for which DUE(job, ARG) is true
 * (its client gave up, its deadline is near) and returns them linked by
 * `next`; they hold no slot.  */
struct crimp_job *crimp_bulkhead_take_due(struct crimp_bulkhead *bh,
                                          bool (*due)(struct crimp_job *job, void *arg),
                                          void *arg);

struct crimp_bulkhead_counts {
    int max_calls, max_queued;
    int running, queued;
    uint64_t refused; /* calls turned away because the queue was full */
};
void crimp_bulkhead_counts(struct crimp_bulkhead *bh, struct crimp_bulkhead_counts *out);

#endif
