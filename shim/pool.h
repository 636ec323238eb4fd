/* Worker lanes: fixed sets of threads that run queued jobs in FIFO order.
 * crimpd keeps one lane for calls that return in milliseconds and one for
 * calls that may block for seconds (pulls, stops with a grace period, exec),
 * so a burst of slow calls never starves kubelet's status polling.  */
#ifndef CRIMP_POOL_H
#define CRIMP_POOL_H

#include <stdbool.h>
#include <stddef.h>

struct crimp_pool;

struct crimp_job {
    void (*run)(struct crimp_job *job);
    struct crimp_job *next;  /* queue link, owned by the pool (or a bulkhead) */
    struct crimp_pool *home; /* where it runs when a bulkhead resumes it */
};

/* A FIFO of jobs linked through their `next`; no lock of its own (the
 * pool's and the bulkheads' queues, each under its owner's lock).  */
struct crimp_job_fifo {
    struct crimp_job *head, *tail;
    size_t n;
};
void crimp_job_fifo_push(struct crimp_job_fifo *q, struct crimp_job *job);
/* The oldest job, taken out; NULL when empty.  */
struct crimp_job *crimp_job_fifo_pop(struct crimp_job_fifo *q);

/* Starts THREADS workers named NAME (shown by `top -H`) whose queue takes
 * at most MAX_QUEUED new jobs (<= 0: no bound).  */
struct crimp_pool *crimp_pool_new(const char *name, int threads, int max_queued);

/* Queues a new JOB unless MAX_QUEUED jobs already wait: false then, and
 * the caller refuses it (a flood must not grow the queue without end).  */
bool crimp_pool_try_submit(struct crimp_pool *pool, struct crimp_job *job);
/* Jobs waiting in POOL's queue now (its bounded queue tests).  */
size_t crimp_pool_queued(struct crimp_pool *pool);

/* Queues JOB whatever the queue holds: for jobs already admitted once
 * (a call resumed after waiting for its backend).  */
void crimp_pool_submit(struct crimp_pool *pool, struct crimp_job *job);

/* Lets the workers finish the queue, joins them and frees the pool.  */
void crimp_pool_free(struct crimp_pool *pool);

#endif
