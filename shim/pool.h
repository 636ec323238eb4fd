/* Worker lanes: fixed sets of threads that run queued jobs in FIFO order.
 * crimpd keeps one lane for calls that return in milliseconds and one for
 * calls that may block for seconds (pulls, stops with a grace period, exec),
 * so a burst of slow calls never starves kubelet's status polling.  */
#ifndef CRIMP_POOL_H
#define CRIMP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* A lane of at most MAX_THREADS workers named NAME-N (shown by `top -H`),
 * each retired after IDLE_SECONDS without a job, whose queue takes at most
 * MAX_QUEUED new jobs (<= 0: no bound).  No thread starts before a job.  */
struct crimp_pool *crimp_pool_new(const char *name, int max_threads, int max_queued,
                                  double idle_seconds);

/* Queues a new JOB unless MAX_QUEUED jobs already wait: false then, and
 * the caller refuses it (a flood must not grow the queue without end).  */
bool crimp_pool_try_submit(struct crimp_pool *pool, struct crimp_job *job);
/* Jobs waiting in POOL's queue now (its bounded queue tests).  */
size_t crimp_pool_queued(struct crimp_pool *pool);

struct crimp_pool_counts {
    int max_threads;
    int live, idle; /* workers now, and those of them waiting for a job */
    size_t queued;
    uint64_t started, retired; /* since the lane was made */
};
void crimp_pool_counts(struct crimp_pool *pool, struct crimp_pool_counts *out);

/* Queues JOB whatever the queue holds: for jobs already admitted once
 * (a call resumed after waiting for its backend).  */
void crimp_pool_submit(struct crimp_pool *pool, struct crimp_job *job);

/* Tells POOL that the calling worker's job is about to return, so that a
 * job it queues from now on (a slot handed to a parked call) waits for it
 * rather than starting a worker: many calls ending at once must not each
 * start one.  Only for the last steps of a job: the queued job waits for
 * them.  No effect on a thread that is not POOL's worker.  */
void crimp_pool_job_ending(struct crimp_pool *pool);

/* Lets the workers finish the queue, joins them and frees the pool.  */
void crimp_pool_free(struct crimp_pool *pool);

#endif
