/* Unit tests for shim/pool.c's bounded queue and shim/bulkhead.c: slots,
 * the parked queue, refusals, hand-over to a parked job, expiry; and the
 * property they exist for — a backend whose calls never return holds only
 * its own slots, while another backend's calls on the same workers run.  */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "bulkhead.h"
#include "pool.h"
#include "unit.h"

/* A gate jobs wait at until it opens.  */
struct gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
};

static struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};

static void gate_set(bool open)
{
    pthread_mutex_lock(&gate.lock);
    gate.open = open;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

static void gate_wait(void)
{
    pthread_mutex_lock(&gate.lock);
    while (!gate.open)
        pthread_cond_wait(&gate.cond, &gate.lock);
    pthread_mutex_unlock(&gate.lock);
}

static atomic_int started, finished;

/* Waits until COUNTER reaches N (2 s at most).  */
static bool reaches(atomic_int *counter, int n)
{
    for (int i = 0; i < 2000 && atomic_load(counter) < n; i++)
        usleep(1000);
    return atomic_load(counter) >= n;
}

static void blocking_run(struct crimp_job *job)
{
    atomic_fetch_add(&started, 1);
    gate_wait();
    atomic_fetch_add(&finished, 1);
}

static void quick_run(struct crimp_job *job)
{
    atomic_fetch_add(&finished, 1);
}

static void reset(void)
{
    atomic_store(&started, 0);
    atomic_store(&finished, 0);
    gate_set(false);
}

static int test_pool_queue_is_bounded(void)
{
    reset();
    struct crimp_pool *pool = crimp_pool_new("t-pool", 1, 2, 10);
    struct crimp_job jobs[5];
    for (int i = 0; i < 5; i++)
        jobs[i] = (struct crimp_job){.run = blocking_run};
    CHECK(crimp_pool_try_submit(pool, &jobs[0]));
    CHECK(reaches(&started, 1)); /* the only worker is busy now */
    CHECK(crimp_pool_try_submit(pool, &jobs[1]));
    CHECK(crimp_pool_try_submit(pool, &jobs[2]));
    CHECK(!crimp_pool_try_submit(pool, &jobs[3]));
    CHECK(crimp_pool_queued(pool) == 2);
    /* A job admitted before (a resumed call) is queued whatever the bound.  */
    crimp_pool_submit(pool, &jobs[4]);
    CHECK(crimp_pool_queued(pool) == 3);
    gate_set(true);
    CHECK(reaches(&finished, 4));
    crimp_pool_free(pool);
    CHECK(atomic_load(&finished) == 4);
    return 0;
}

static int test_slots_queue_and_refusal(void)
{
    reset();
    struct crimp_pool *pool = crimp_pool_new("t-home", 1, 0, 10);
    struct crimp_bulkhead *bh = crimp_bulkhead_new(2, 1);
    struct crimp_job parked = {.run = quick_run, .home = pool};
    struct crimp_job refused = {.run = quick_run, .home = pool};
    struct crimp_bulkhead_counts n;
    CHECK(crimp_bulkhead_enter(bh, NULL) == CRIMP_ADMIT_RUN);
    CHECK(crimp_bulkhead_enter(bh, NULL) == CRIMP_ADMIT_RUN);
    CHECK(crimp_bulkhead_enter(bh, &parked) == CRIMP_ADMIT_QUEUED);
    CHECK(crimp_bulkhead_enter(bh, &refused) == CRIMP_ADMIT_FULL);
    CHECK(!crimp_bulkhead_try_enter(bh));
    crimp_bulkhead_counts(bh, &n);
    CHECK(n.running == 2 && n.queued == 1 && n.refused == 2);
    CHECK(n.max_calls == 2 && n.max_queued == 1);
    /* The slot passes to the parked job, which runs on its home pool.  */
    crimp_bulkhead_leave(bh);
    CHECK(reaches(&finished, 1));
    crimp_bulkhead_counts(bh, &n);
    CHECK(n.running == 2 && n.queued == 0);
    crimp_bulkhead_leave(bh);
    crimp_bulkhead_leave(bh);
    crimp_bulkhead_counts(bh, &n);
    CHECK(n.running == 0);
    CHECK(crimp_bulkhead_try_enter(bh));
    crimp_bulkhead_leave(bh);
    CHECK(atomic_load(&finished) == 1); /* the refused job never ran */
    crimp_bulkhead_free(bh);
    crimp_pool_free(pool);
    return 0;
}

static bool is_odd_job(struct crimp_job *job, void *arg)
{
    struct crimp_job *base = arg;
    return (job - base) % 2 == 1;
}

static int test_take_due_keeps_the_rest_in_order(void)
{
    reset();
    struct crimp_pool *pool = crimp_pool_new("t-home", 1, 0, 10);
    struct crimp_bulkhead *bh = crimp_bulkhead_new(1, 8);
    struct crimp_job jobs[6];
    CHECK(crimp_bulkhead_enter(bh, NULL) == CRIMP_ADMIT_RUN);
    for (int i = 0; i < 5; i++) {
        jobs[i] = (struct crimp_job){.run = quick_run, .home = pool};
        CHECK(crimp_bulkhead_enter(bh, &jobs[i]) == CRIMP_ADMIT_QUEUED);
    }
    struct crimp_job *due = crimp_bulkhead_take_due(bh, is_odd_job, jobs);
    CHECK(due == &jobs[1] && due->next == &jobs[3] && jobs[3].next == NULL);
    struct crimp_bulkhead_counts n;
    crimp_bulkhead_counts(bh, &n);
    CHECK(n.queued == 3);
    /* The tail is right after the last job was taken: a new one goes last.  */
    due = crimp_bulkhead_take_due(bh, is_odd_job, jobs); /* none left */
    CHECK(due == NULL);
    jobs[5] = (struct crimp_job){.run = quick_run, .home = pool};
    CHECK(crimp_bulkhead_enter(bh, &jobs[5]) == CRIMP_ADMIT_QUEUED);
    for (int i = 0; i < 4; i++)
        crimp_bulkhead_leave(bh); /* 0, 2, 4, 5 in turn */
    CHECK(reaches(&finished, 4));
    crimp_bulkhead_leave(bh);
    crimp_bulkhead_counts(bh, &n);
    CHECK(n.running == 0 && n.queued == 0);
    crimp_bulkhead_free(bh);
    crimp_pool_free(pool);
    return 0;
}

/* A call of one of two backends, as shim/call.c runs it: a slot of its
 * backend's bulkhead first (or parked, or refused), then the work.  */
struct call {
    struct crimp_job job;
    struct crimp_bulkhead *bh;
    bool hangs;
    bool holds; /* resumed from the queue with the slot already its own */
};

static atomic_int refused_calls;

static void call_run(struct crimp_job *job)
{
    struct call *c = (struct call *)job;
    if (!c->holds) {
        /* Set before parking: whoever resumes the job may run it at once.  */
        c->holds = true;
        enum crimp_admission a = crimp_bulkhead_enter(c->bh, job);
        if (a == CRIMP_ADMIT_FULL) {
            c->holds = false;
            atomic_fetch_add(&refused_calls, 1);
        }
        if (a != CRIMP_ADMIT_RUN)
            return; /* the worker is free again */
    }
    if (c->hangs)
        blocking_run(job);
    else
        quick_run(job);
    crimp_bulkhead_leave(c->bh);
}

static int test_hung_backend_holds_only_its_slots(void)
{
    reset();
    atomic_store(&refused_calls, 0);
    struct crimp_pool *pool = crimp_pool_new("t-lane", 4, 0, 10);
    struct crimp_bulkhead *hung = crimp_bulkhead_new(2, 3), *fine = crimp_bulkhead_new(2, 3);
    struct call calls[30];
    for (int i = 0; i < 10; i++) {
        calls[i] = (struct call){.job = {.run = call_run, .home = pool}, .bh = hung, .hangs = true};
        crimp_pool_submit(pool, &calls[i].job);
    }
    CHECK(reaches(&started, 2));
    CHECK(reaches(&refused_calls, 5));
    /* 2 running, 3 parked holding no thread, 5 refused: 2 workers stay free
     * for the other backend, whose 20 calls all finish meanwhile.  */
    for (int i = 10; i < 30; i++) {
        calls[i] = (struct call){.job = {.run = call_run, .home = pool}, .bh = fine};
        crimp_pool_submit(pool, &calls[i].job);
    }
    CHECK(reaches(&finished, 20));
    CHECK(atomic_load(&started) == 2);
    struct crimp_bulkhead_counts n;
    crimp_bulkhead_counts(hung, &n);
    CHECK(n.running == 2 && n.queued == 3 && n.refused == 5);
    /* The backend answers again: its parked calls run too.  */
    gate_set(true);
    CHECK(reaches(&finished, 25));
    crimp_pool_free(pool);
    crimp_bulkhead_counts(hung, &n);
    CHECK(n.running == 0 && n.queued == 0);
    crimp_bulkhead_free(hung);
    crimp_bulkhead_free(fine);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_pool_queue_is_bounded),
        UNIT_TEST(test_slots_queue_and_refusal),
        UNIT_TEST(test_take_due_keeps_the_rest_in_order),
        UNIT_TEST(test_hung_backend_holds_only_its_slots),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
