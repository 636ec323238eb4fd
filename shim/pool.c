/* Worker lanes: a mutex-protected FIFO and a condition variable.  */
#include "pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "utils.h"

struct crimp_pool {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct crimp_job *head, *tail;
    size_t queued;
    bool stopping;
    int nthreads;
    pthread_t *threads;
    char *name;
};

static struct crimp_job *take_job(struct crimp_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    while (pool->head == NULL && !pool->stopping)
        pthread_cond_wait(&pool->ready, &pool->lock);
    struct crimp_job *job = pool->head;
    if (job != NULL) {
        pool->head = job->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pool->queued--;
    }
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

struct crimp_pool *crimp_pool_new(const char *name, int threads)
{
    struct crimp_pool *pool = xcalloc(1, sizeof(*pool));
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
    job->next = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    pool->queued++;
    pthread_cond_signal(&pool->ready);
    pthread_mutex_unlock(&pool->lock);
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
