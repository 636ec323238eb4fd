/* crimp-bench-recorder: what the latency recorder costs per CRI call.
 *
 * Each of T threads records calls back to back the way a worker does —
 * begin, three spans on the thread's trace, finish — and the program prints
 * the CPU time per call at 1 to 16 threads next to that of an empty loop
 * that only reads the clock the same number of times (the floor any timing
 * pays).  CPU time, not wall time: with more threads than CPUs a thread's
 * wall time also counts the others' turns, which is not the recorder's
 * cost.  Goal: ≤ 2 µs per call at every thread count, including more
 * threads than CPUs (crimpd's pollers and workers outnumber the CPUs of a
 * small node).  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "recorder.h"
#include "trace.h"
#include "utils.h"

#define CALLS_PER_THREAD 400000

struct job {
    struct crimp_recorder *r;
    bool record;
    int64_t cpu_ns; /* the thread's own CPU time */
};

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void one_call(struct crimp_recorder *r, struct crimp_trace *t, bool record, int i)
{
    int64_t start = crimp_now_mono_ns();
    t->start_mono_ns = start;
    t->n_spans = 0;
    crimp_trace_set_current(t);
    if (record)
        crimp_recorder_begin(r);
    static const char *const names[] = {"POST /containers/create", "POST /containers/{id}/start",
                                        "bridge ADD"};
    for (int s = 0; s < 3; s++) {
        int64_t a = crimp_now_mono_ns();
        if (record)
            crimp_trace_span(s == 2 ? CRIMP_SPAN_CNI : CRIMP_SPAN_HTTP, names[s], 200, a,
                             a + 1000);
    }
    crimp_trace_set_current(NULL);
    int64_t dur = crimp_now_mono_ns() - start;
    if (record)
        crimp_recorder_finish(r, 1 + i % 8, i % 2, GRPC_STATUS_OK, crimp_now_real_ns(), dur, t);
}

static void *worker(void *arg)
{
    struct job *j = arg;
    struct crimp_trace *t = xcalloc(1, sizeof(*t));
    int64_t t0 = thread_cpu_ns();
    for (int i = 0; i < CALLS_PER_THREAD; i++)
        one_call(j->r, t, j->record, i);
    j->cpu_ns = thread_cpu_ns() - t0;
    free(t);
    return NULL;
}

static double per_call_ns(struct crimp_recorder *r, int threads, bool record)
{
    pthread_t tid[16];
    struct job jobs[16];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job){r, record, 0};
        pthread_create(&tid[i], NULL, worker, &jobs[i]);
    }
    double total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += (double)jobs[i].cpu_ns;
    }
    return total / threads / CALLS_PER_THREAD;
}

int main(void)
{
    static const char *const names[] = {"docker", "containerd"};
    struct crimp_recorder *r = crimp_recorder_new(names, 2, crimp_n_methods, 512);
    printf("# crimp latency recorder: per-call cost (begin, 3 spans, finish into histograms and "
           "the ring of 512)\n# %d calls per thread, %ld CPUs online\n\n", CALLS_PER_THREAD,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-8s %14s %14s %14s\n", "threads", "clock-only ns", "recorded ns", "recorder ns");
    printf("%-8s %14s %14s %14s\n", "", "(CPU/call)", "(CPU/call)", "(difference)");
    for (int threads = 1; threads <= 16; threads *= 2) {
        double floor_ns = per_call_ns(r, threads, false);
        double with = per_call_ns(r, threads, true);
        printf("%-8d %14.0f %14.0f %14.0f\n", threads, floor_ns, with, with - floor_ns);
    }
    crimp_recorder_free(r);
    return 0;
}
