/* The time budget of the CRI call a thread is working for: kubelet's
 * deadline, the backend's default for calls that came without one, and the
 * flag that says the client went away.  crimpd sets it on the worker before
 * it runs a backend operation (as it sets the current trace); clients of
 * runtimes that have no parent call to inherit a deadline from (the Docker
 * HTTP client) bound each request with it.  Threads with no current budget
 * (background work) get an unbounded one.  */
#ifndef CRIMP_DEADLINE_H
#define CRIMP_DEADLINE_H

#include <grpc/support/time.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CRIMP_NO_DEADLINE INT64_MAX

struct crimp_budget {
    int64_t deadline_ns; /* monotonic; CRIMP_NO_DEADLINE when the client set none */
    int64_t default_ns;  /* what a call without a deadline may take; 0: the client's own */
    const atomic_bool *cancelled; /* may be NULL */
};

/* gRPC's deadline T on crimp's monotonic clock (crimp_now_mono_ns), or
 * CRIMP_NO_DEADLINE for an infinite one.  */
int64_t crimp_deadline_mono_ns(gpr_timespec t);

/* Makes B (copied) this thread's budget; NULL clears it.  */
void crimp_budget_set_current(const struct crimp_budget *b);

/* This thread's budget, or NULL when it has none.  */
const struct crimp_budget *crimp_budget_current(void);

/* Whether the current call was cancelled (false without a budget).  */
bool crimp_budget_cancelled(void);

/* The time a request may take, in ms, given its own limit OWN_MS (> 0: a
 * request that knows its length, as a stop with a grace period; 0: none of
 * its own, < 0: unbounded) and the current budget: never past kubelet's
 * deadline less a margin (so that crimp's answer, naming what hung, reaches
 * the client before its own timer fires), and for calls without a deadline
 * OWN_MS, else the budget's default, else FALLBACK_MS.  -1: unbounded.  */
long crimp_budget_timeout_ms(long own_ms, long fallback_ms);

/* The margin kept before a deadline REMAINING_NS away.  */
int64_t crimp_budget_margin_ns(int64_t remaining_ns);

#endif
