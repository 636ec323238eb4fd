/* Worker lanes: a mutex-protected FIFO and a condition variable.  */
#include "pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "utils.h"

struct crimp_pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct crimp_job_fifo queue;
    size_t max_queued; /* 0: no bound */
    bool stopping;
    int nthreads;
    pthread_t *threads;
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

static struct crimp_job *take_job(struct crimp_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    while (pool->queue.head == NULL && !pool->stopping)
        pthread_cond_wait(&pool->ready, &pool->lock);
    struct crimp_job *job = crimp_job_fifo_pop(&pool->queue);
    pthread_mutex_unlock(&pool->lock);
    return job;
}

static void *worker_main(void *arg)
{
    struct crimp_pool *pool = arg;
    struct crimp_job *job;
    while ((job = take_job(pool)) != NULL)
        job->run(job);
    return NULL;
}

struct crimp_pool *crimp_pool_new(const char *name, int threads, int max_queued)
{
    struct crimp_pool *pool = xcalloc(1, sizeof(*pool));
    pool->max_queued = max_queued > 0 ? (size_t)max_queued : 0;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->ready, NULL);
    pool->name = xstrdup(name);
    pool->nthreads = threads > 0 ? threads : 1;
    pool->threads = xcalloc((size_t)pool->nthreads, sizeof(pthread_t));
    for (int i = 0; i < pool->nthreads; i++) {
        char tname[24];
        pthread_create(&pool->threads[i], NULL, worker_main, pool);
        snprintf(tname, sizeof(tname), "%.10s-%d", name, i % 1000);
        tname[15] = '\0'; /* the kernel keeps 15 characters */
        pthread_setname_np(pool->threads[i], tname);
    }
    return pool;
}

void crimp_pool_submit(struct crimp_pool *pool, struct crimp_job *job)
{
    pthread_mutex_lock(&pool->lock);
    crimp_job_fifo_push(&pool->queue, job);
    pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
}

bool crimp_pool_try_submit(struct crimp_pool *pool, struct crimp_job *job)
{
    pthread_mutex_lock(&pool->lock);
    bool room = pool->max_queued == 0 || pool->queue.n < pool->max_queued;
    if (room) {
        crimp_job_fifo_push(&pool->queue, job);
        pthread_cond_signal(&pool->ready);
    }
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

void crimp_pool_free(struct crimp_pool *pool)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->nthreads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->ready);
    free(pool->threads);
    free(pool->name);
    free(pool);
}
