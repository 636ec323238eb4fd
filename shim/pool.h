/* Worker lanes: fixed sets of threads that run queued jobs in FIFO order.
 * crimpd keeps one lane for calls that return in milliseconds and one for
 * calls that may block for seconds (pulls, stops with a grace period, exec),
 * so a burst of slow calls never starves kubelet's status polling.  */
#ifndef CRIMP_POOL_H
#define CRIMP_POOL_H

#include <stddef.h>

struct crimp_pool;

struct crimp_job {
    void (*run)(struct crimp_job *job);
    struct crimp_job *next; /* queue link, owned by the pool */
};

/* Starts THREADS workers named NAME (shown by `top -H`).  */
struct crimp_pool *crimp_pool_new(const char *name, int threads);

/* Queues JOB; a worker calls job->run(job) later.  */
void crimp_pool_submit(struct crimp_pool *pool, struct crimp_job *job);

/* Lets the workers finish the queue, joins them and frees the pool.  */
void crimp_pool_free(struct crimp_pool *pool);

#endif
