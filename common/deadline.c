/* Per-thread budget of the current call.  */
#include "deadline.h"

#include <stddef.h>

#include "utils.h"

static _Thread_local struct crimp_budget current;
static _Thread_local bool have_current;

int64_t crimp_deadline_mono_ns(gpr_timespec t)
{
    if (gpr_time_cmp(t, gpr_inf_future(t.clock_type)) == 0)
        return CRIMP_NO_DEADLINE;
    gpr_timespec left =
        gpr_time_sub(gpr_convert_clock_type(t, GPR_CLOCK_MONOTONIC), gpr_now(GPR_CLOCK_MONOTONIC));
    return crimp_now_mono_ns() + left.tv_sec * 1000000000LL + left.tv_nsec;
}

void crimp_budget_set_current(const struct crimp_budget *b)
{
    have_current = b != NULL;
    if (b != NULL)
        current = *b;
}

const struct crimp_budget *crimp_budget_current(void)
{
    return have_current ? &current : NULL;
}

bool crimp_budget_cancelled(void)
{
    return have_current && current.cancelled != NULL && atomic_load(current.cancelled);
}

/* A tenth of what is left, at most 250 ms: enough for the reply to travel
 * on a loaded host, little enough not to cut a call short.  */
int64_t crimp_budget_margin_ns(int64_t remaining_ns)
{
    int64_t m = remaining_ns / 10;
    return m > 250000000LL ? 250000000LL : m;
}

long crimp_budget_timeout_ms(long own_ms, long fallback_ms)
{
    const struct crimp_budget *b = crimp_budget_current();
    if (b != NULL && b->deadline_ns != CRIMP_NO_DEADLINE) {
        int64_t left = b->deadline_ns - crimp_now_mono_ns();
        left -= crimp_budget_margin_ns(left);
        long ms = left > 1000000 ? (long)(left / 1000000) : 1;
        return own_ms > 0 && own_ms < ms ? own_ms : ms;
    }
    if (own_ms != 0)
        return own_ms;
    if (b != NULL && b->default_ns > 0)
        return (long)(b->default_ns / 1000000);
    return fallback_ms;
}
