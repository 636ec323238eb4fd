/* Unit tests for shim/pool.c's elastic lanes: no thread before a job,
 * workers started as jobs wait (never more than the lane's maximum), one
 * worker reused by calls that come one after another, idle workers retired
 * (the process's own thread count falls back), a job after retirement
 * still served, and a lane freed with jobs queued running them all.  */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool.h"
#include "unit.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static atomic_int started, finished;

static void gate_set(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static void blocking_run(struct crimp_job *job)
{
    (void)job;
    atomic_fetch_add(&started, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    atomic_fetch_add(&finished, 1);
}

static void reset(void)
{
    atomic_store(&started, 0);
    atomic_store(&finished, 0);
    gate_set(false);
}

/* Waits until COUNTER reaches N (2 s at most).  */
static bool reaches(atomic_int *counter, int n)
{
    for (int i = 0; i < 2000 && atomic_load(counter) < n; i++)
        usleep(1000);
    return atomic_load(counter) >= n;
}

static struct crimp_pool_counts counts(struct crimp_pool *pool)
{
    struct crimp_pool_counts c;
    crimp_pool_counts(pool, &c);
    return c;
}

/* Threads of this process, as the kernel lists them.  */
static int process_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Waits until POOL has no worker left (3 s at most).  */
static bool all_retired(struct crimp_pool *pool)
{
    for (int i = 0; i < 3000 && counts(pool).live > 0; i++)
        usleep(1000);
    return counts(pool).live == 0;
}

/* Queues N blocking jobs; false when the pool refused one.  */
static bool submit_blocking(struct crimp_pool *pool, struct crimp_job *jobs, int n)
{
    for (int i = 0; i < n; i++) {
        jobs[i] = (struct crimp_job){.run = blocking_run};
        if (!crimp_pool_try_submit(pool, &jobs[i]))
            return false;
    }
    return true;
}

static int test_no_thread_before_a_job(void)
{
    int before = process_threads();
    struct crimp_pool *pool = crimp_pool_new("t-empty", 8, 0, 10);
    CHECK(counts(pool).live == 0 && counts(pool).started == 0);
    CHECK(process_threads() == before);
    crimp_pool_free(pool);
    return 0;
}

static int test_grows_to_the_waiting_jobs_and_no_further(void)
{
    reset();
    int before = process_threads();
    struct crimp_pool *pool = crimp_pool_new("t-grow", 3, 0, 10);
    struct crimp_job jobs[5];
    CHECK(submit_blocking(pool, jobs, 5));
    CHECK(reaches(&started, 3));
    usleep(20000);
    struct crimp_pool_counts c = counts(pool);
    CHECK(c.live == 3 && c.started == 3 && c.queued == 2);
    CHECK(atomic_load(&started) == 3);
    CHECK(process_threads() == before + 3);
    gate_set(true);
    CHECK(reaches(&finished, 5));
    crimp_pool_free(pool);
    CHECK(process_threads() == before);
    return 0;
}

static void quick_run(struct crimp_job *job)
{
    (void)job;
    atomic_fetch_add(&finished, 1);
}

static int test_calls_one_after_another_share_one_worker(void)
{
    reset();
    struct crimp_pool *pool = crimp_pool_new("t-serial", 8, 0, 10);
    struct crimp_job job = {.run = quick_run};
    for (int i = 0; i < 20; i++) {
        CHECK(crimp_pool_try_submit(pool, &job));
        CHECK(reaches(&finished, i + 1));
        /* The worker is back waiting before the next call comes.  */
        for (int w = 0; w < 1000 && counts(pool).idle == 0; w++)
            usleep(1000);
    }
    CHECK(counts(pool).started == 1);
    crimp_pool_free(pool);
    return 0;
}

static int test_idle_workers_retire_and_come_back(void)
{
    reset();
    int before = process_threads();
    struct crimp_pool *pool = crimp_pool_new("t-retire", 4, 0, 0.05);
    struct crimp_job jobs[4];
    CHECK(submit_blocking(pool, jobs, 4));
    CHECK(reaches(&started, 4));
    CHECK(process_threads() == before + 4);
    gate_set(true);
    CHECK(reaches(&finished, 4));
    CHECK(all_retired(pool));
    struct crimp_pool_counts c = counts(pool);
    CHECK(c.started == 4 && c.retired == 4);
    for (int i = 0; i < 1000 && process_threads() != before; i++)
        usleep(1000); /* the last one still returning */
    CHECK(process_threads() == before);
    /* A call after the lane emptied gets a new worker.  */
    CHECK(crimp_pool_try_submit(pool, &jobs[0]));
    CHECK(reaches(&finished, 5));
    CHECK(counts(pool).started == 5);
    crimp_pool_free(pool);
    return 0;
}

static int test_free_runs_the_queued_jobs(void)
{
    reset();
    struct crimp_pool *pool = crimp_pool_new("t-drain", 1, 0, 10);
    struct crimp_job jobs[6];
    CHECK(submit_blocking(pool, jobs, 6));
    CHECK(reaches(&started, 1));
    CHECK(counts(pool).queued == 5);
    gate_set(true);
    crimp_pool_free(pool);
    CHECK(atomic_load(&finished) == 6);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_no_thread_before_a_job),
        UNIT_TEST(test_grows_to_the_waiting_jobs_and_no_further),
        UNIT_TEST(test_calls_one_after_another_share_one_worker),
        UNIT_TEST(test_idle_workers_retire_and_come_back),
        UNIT_TEST(test_free_runs_the_queued_jobs),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
