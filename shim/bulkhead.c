/* Bulkheads: a slot count and a FIFO of parked jobs under one mutex.  */
#include "bulkhead.h"

#include <pthread.h>

#include "utils.h"

struct crimp_bulkhead {
    pthread_mutex_t lock;
    int max_calls, max_queued;
    int running;
    uint64_t refused;
    struct crimp_job_fifo parked;
};

struct crimp_bulkhead *crimp_bulkhead_new(int max_calls, int max_queued)
{
    struct crimp_bulkhead *bh = xcalloc(1, sizeof(*bh));
    pthread_mutex_init(&bh->lock, NULL);
    bh->max_calls = max_calls > 0 ? max_calls : 1;
    bh->max_queued = max_queued > 0 ? max_queued : 0;
    return bh;
}

void crimp_bulkhead_free(struct crimp_bulkhead *bh)
{
    if (bh == NULL)
        return;
    pthread_mutex_destroy(&bh->lock);
    free(bh);
}

enum crimp_admission crimp_bulkhead_enter(struct crimp_bulkhead *bh, struct crimp_job *job)
{
    enum crimp_admission a;
    pthread_mutex_lock(&bh->lock);
    if (bh->running < bh->max_calls) {
        bh->running++;
        a = CRIMP_ADMIT_RUN;
    } else if (bh->parked.n < (size_t)bh->max_queued) {
        crimp_job_fifo_push(&bh->parked, job);
        a = CRIMP_ADMIT_QUEUED;
    } else {
        bh->refused++;
        a = CRIMP_ADMIT_FULL;
    }
    pthread_mutex_unlock(&bh->lock);
    return a;
}

bool crimp_bulkhead_try_enter(struct crimp_bulkhead *bh)
{
    pthread_mutex_lock(&bh->lock);
    bool ok = bh->running < bh->max_calls;
    if (ok)
        bh->running++;
    else
        bh->refused++;
    pthread_mutex_unlock(&bh->lock);
    return ok;
}

void crimp_bulkhead_leave(struct crimp_bulkhead *bh)
{
    pthread_mutex_lock(&bh->lock);
    /* The slot passes to the oldest parked job (running stays), if any.  */
    struct crimp_job *next = crimp_job_fifo_pop(&bh->parked);
    if (next == NULL && bh->running > 0)
        bh->running--;
    pthread_mutex_unlock(&bh->lock);
    if (next != NULL)
        crimp_pool_submit(next->home, next);
}

struct crimp_job *crimp_bulkhead_take_due(struct crimp_bulkhead *bh,
                                          bool (*due)(struct crimp_job *job, void *arg),
                                          void *arg)
{
    struct crimp_job_fifo taken = {0}, kept = {0};
    pthread_mutex_lock(&bh->lock);
    struct crimp_job *j;
    while ((j = crimp_job_fifo_pop(&bh->parked)) != NULL)
        crimp_job_fifo_push(due(j, arg) ? &taken : &kept, j);
    bh->parked = kept;
    pthread_mutex_unlock(&bh->lock);
    return taken.head;
}

void crimp_bulkhead_counts(struct crimp_bulkhead *bh, struct crimp_bulkhead_counts *out)
{
    pthread_mutex_lock(&bh->lock);
    *out = (struct crimp_bulkhead_counts){.max_calls = bh->max_calls,
                                          .max_queued = bh->max_queued,
                                          .running = bh->running,
                                          .queued = (int)bh->parked.n,
                                          .refused = bh->refused};
    pthread_mutex_unlock(&bh->lock);
}
