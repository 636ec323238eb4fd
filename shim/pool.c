/* Worker lanes: a mutex-protected FIFO, a condition variable, and workers
 * started when a job finds none idle and retired after an idle period.  */
#include "pool.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "utils.h"

/* A worker's stack.  Its calls go through curl, grpc, jansson and
 * protobuf-c, none of them deep; 1 MiB leaves room for the sanitizers'
 * wider frames, and the other 7 MiB of glibc's default are never reserved.  */
#define WORKER_STACK_BYTES (1024 * 1024)

enum slot_state {
    SLOT_FREE,    /* no thread */
    SLOT_RUNNING, /* a worker runs on it */
    SLOT_DONE,    /* its worker returned; to be joined before reuse */
};

struct worker_slot {
    pthread_t thread;
    enum slot_state state;
    bool joining; /* crimp_pool_free waits for it: nobody else may join */
    struct crimp_pool *pool;
};

/* The pool whose worker this thread is (NULL: none), and the same once
 * its job is about to return (crimp_pool_job_ending).  */
static _Thread_local struct crimp_pool *worker_of, *ending_in;

struct crimp_pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct crimp_job_fifo queue;
    size_t max_queued; /* 0: no bound */
    bool stopping;
    int max_threads;
    int live; /* workers started and not retired */
    int idle; /* of those, waiting for a job */
    int64_t idle_ns;
    uint64_t started, retired;
    struct worker_slot *slots; /* max_threads of them */
    char *name;
};

void crimp_job_fifo_push(struct crimp_job_fifo *q, struct crimp_job *job)
{
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->n++;
}

struct crimp_job *crimp_job_fifo_pop(struct crimp_job_fifo *q)
{
    struct crimp_job *job = q->head;
    if (job == NULL)
        return NULL;
    q->head = job->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->n--;
    job->next = NULL;
    return job;
}

/* Jobs in the queue that no idle worker will take: each wants a worker.
 * A worker whose job is ending counts as idle: it takes the next job in a
 * moment (a call that hands its backend slot to a parked one, say).  */
static bool wants_worker(const struct crimp_pool *pool)
{
    return pool->queue.n > (size_t)pool->idle + (ending_in == pool);
}

void crimp_pool_job_ending(struct crimp_pool *pool)
{
    if (worker_of == pool)
        ending_in = pool;
}

/* The realtime clock IDLE_NS from now, for pthread_cond_timedwait.  */
static struct timespec idle_deadline(int64_t idle_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + idle_ns % 1000000000LL;
    ts.tv_sec += (time_t)(idle_ns / 1000000000LL + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

/* The next job, waiting at most the idle period for one; NULL when the
 * worker should go (idle that long, or the pool stops with nothing left).
 * Called and returns with the lock held.  */
static struct crimp_job *take_job_locked(struct crimp_pool *pool)
{
    while (pool->queue.head == NULL && !pool->stopping) {
        struct timespec until = idle_deadline(pool->idle_ns);
        pool->idle++;
        int rc = pthread_cond_timedwait(&pool->ready, &pool->lock, &until);
        pool->idle--;
        if (rc == ETIMEDOUT && pool->queue.head == NULL)
            return NULL;
    }
    return crimp_job_fifo_pop(&pool->queue);
}

static void *worker_main(void *arg)
{
    struct worker_slot *slot = arg;
    struct crimp_pool *pool = slot->pool;
    worker_of = pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        struct crimp_job *job = take_job_locked(pool);
        if (job != NULL) {
            pthread_mutex_unlock(&pool->lock);
            job->run(job);
            ending_in = NULL;
            pthread_mutex_lock(&pool->lock);
            continue;
        }
        if (pool->stopping)
            break;
        /* Idle for the whole period: the burst that needed this worker is
         * over.  What its calls left free in malloc's arenas goes back to
         * the system, outside the lock; a job that came meanwhile keeps
         * the worker.  */
        pthread_mutex_unlock(&pool->lock);
        if (CRIMP_GLIBC_MALLOC)
            malloc_trim(0);
        pthread_mutex_lock(&pool->lock);
        if (!wants_worker(pool))
            break;
    }
    pool->live--;
    pool->retired++;
    slot->state = SLOT_DONE;
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* A slot for a new worker, its last thread joined; NULL when all run.
 * Joining under the lock is brief: a DONE worker only has to return.  */
static struct worker_slot *free_slot_locked(struct crimp_pool *pool)
{
    for (int i = 0; i < pool->max_threads; i++) {
        struct worker_slot *slot = &pool->slots[i];
        if (slot->joining)
            continue;
        if (slot->state == SLOT_DONE) {
            pthread_join(slot->thread, NULL);
            slot->state = SLOT_FREE;
        }
        if (slot->state == SLOT_FREE)
            return slot;
    }
    return NULL;
}

/* Starts a worker when the newest job finds no idle one and the lane has
 * room.  Should the system refuse a thread, the job waits for a running
 * worker, or for the next submit to try again.  */
static void grow_locked(struct crimp_pool *pool)
{
    if (!wants_worker(pool) || pool->live >= pool->max_threads)
        return;
    struct worker_slot *slot = free_slot_locked(pool);
    if (slot == NULL)
        return;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_BYTES);
    slot->pool = pool;
    int rc = pthread_create(&slot->thread, &attr, worker_main, slot);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        log_warn("%s: no new worker (%d running): %s", pool->name, pool->live, strerror(rc));
        return;
    }
    slot->state = SLOT_RUNNING;
    pool->live++;
    pool->started++;
    char tname[24];
    snprintf(tname, sizeof(tname), "%.10s-%d", pool->name, (int)(slot - pool->slots) % 1000);
    tname[15] = '\0'; /* the kernel keeps 15 characters */
    pthread_setname_np(slot->thread, tname);
}

struct crimp_pool *crimp_pool_new(const char *name, int max_threads, int max_queued,
                                  double idle_seconds)
{
    struct crimp_pool *pool = xcalloc(1, sizeof(*pool));
    pool->max_queued = max_queued > 0 ? (size_t)max_queued : 0;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    pool->name = xstrdup(name);
    pool->max_threads = max_threads > 0 ? max_threads : 1;
    pool->idle_ns = idle_seconds > 0.001 ? (int64_t)(idle_seconds * 1e9) : 1000000; /* 0: 1 ms */
    pool->slots = xcalloc((size_t)pool->max_threads, sizeof(*pool->slots));
    return pool;
}

static void enqueue_locked(struct crimp_pool *pool, struct crimp_job *job)
{
    crimp_job_fifo_push(&pool->queue, job);
    pthread_cond_signal(&pool->ready);
    grow_locked(pool);
}

void crimp_pool_submit(struct crimp_pool *pool, struct crimp_job *job)
{
    pthread_mutex_lock(&pool->lock);
    enqueue_locked(pool, job);
    pthread_mutex_unlock(&pool->lock);
}

bool crimp_pool_try_submit(struct crimp_pool *pool, struct crimp_job *job)
{
    pthread_mutex_lock(&pool->lock);
    bool room = pool->max_queued == 0 || pool->queue.n < pool->max_queued;
    if (room)
        enqueue_locked(pool, job);
    pthread_mutex_unlock(&pool->lock);
    return room;
}

size_t crimp_pool_queued(struct crimp_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->queue.n;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void crimp_pool_counts(struct crimp_pool *pool, struct crimp_pool_counts *out)
{
    pthread_mutex_lock(&pool->lock);
    *out = (struct crimp_pool_counts){.max_threads = pool->max_threads,
                                      .live = pool->live,
                                      .idle = pool->idle,
                                      .queued = pool->queue.n,
                                      .started = pool->started,
                                      .retired = pool->retired};
    pthread_mutex_unlock(&pool->lock);
}

void crimp_pool_free(struct crimp_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->ready);
    /* A job submitted while this runs may start a worker in a slot already
     * passed: scan again until every slot is free.  */
    for (bool joined = true; joined;) {
        joined = false;
        for (int i = 0; i < pool->max_threads; i++) {
            struct worker_slot *slot = &pool->slots[i];
            if (slot->state == SLOT_FREE || slot->joining)
                continue;
            slot->joining = true;
            pthread_t t = slot->thread;
            pthread_mutex_unlock(&pool->lock);
            pthread_join(t, NULL);
            pthread_mutex_lock(&pool->lock);
            slot->state = SLOT_FREE;
            slot->joining = false;
            joined = true;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->ready);
    free(pool->slots);
    free(pool->name);
    free(pool);
}
