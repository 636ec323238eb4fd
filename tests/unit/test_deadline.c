/* Unit tests for common/deadline.c: how long a backend request may take
 * given its own limit, kubelet's deadline and the backend's default.  */
#include <grpc/grpc.h>
#include <stdatomic.h>

#include "deadline.h"
#include "unit.h"
#include "utils.h"

static int test_without_a_budget(void)
{
    crimp_budget_set_current(NULL);
    CHECK(crimp_budget_current() == NULL);
    CHECK(!crimp_budget_cancelled());
    CHECK(crimp_budget_timeout_ms(0, 120000) == 120000);
    CHECK(crimp_budget_timeout_ms(5000, 120000) == 5000);
    CHECK(crimp_budget_timeout_ms(-1, 120000) == -1);
    return 0;
}

static int test_kubelet_deadline_caps_everything(void)
{
    atomic_bool cancelled = false;
    struct crimp_budget b = {.deadline_ns = crimp_now_mono_ns() + 2000000000LL,
                             .default_ns = 60000000000LL,
                             .cancelled = &cancelled};
    crimp_budget_set_current(&b);
    long t = crimp_budget_timeout_ms(0, 120000);
    /* 2 s less a margin of 200 ms (a tenth), less the time spent here.  */
    CHECK(t > 1700 && t <= 1800);
    CHECK(crimp_budget_timeout_ms(-1, 120000) == t || crimp_budget_timeout_ms(-1, 120000) <= t);
    CHECK(crimp_budget_timeout_ms(500, 120000) == 500);
    CHECK(crimp_budget_timeout_ms(300000, 120000) <= 1800);
    CHECK(!crimp_budget_cancelled());
    atomic_store(&cancelled, true);
    CHECK(crimp_budget_cancelled());
    /* A deadline already passed still gives a (tiny) positive limit: the
     * request then fails at once as timed out, never runs unbounded.  */
    b.deadline_ns = crimp_now_mono_ns() - 1000000000LL;
    crimp_budget_set_current(&b);
    CHECK(crimp_budget_timeout_ms(0, 120000) == 1);
    crimp_budget_set_current(NULL);
    return 0;
}

static int test_no_deadline_takes_the_backend_default(void)
{
    struct crimp_budget b = {.deadline_ns = CRIMP_NO_DEADLINE, .default_ns = 3000000000LL};
    crimp_budget_set_current(&b);
    CHECK(crimp_budget_timeout_ms(0, 120000) == 3000);
    /* A request that knows its length (a stop's grace period) or has none
     * (a pull watched for stalls) keeps it.  */
    CHECK(crimp_budget_timeout_ms(130000, 120000) == 130000);
    CHECK(crimp_budget_timeout_ms(-1, 120000) == -1);
    crimp_budget_set_current(NULL);
    return 0;
}

static int test_margin(void)
{
    CHECK(crimp_budget_margin_ns(1000000000LL) == 100000000LL);
    CHECK(crimp_budget_margin_ns(120000000000LL) == 250000000LL);
    CHECK(crimp_budget_margin_ns(0) == 0);
    return 0;
}

static int test_gpr_deadline_on_the_monotonic_clock(void)
{
    CHECK(crimp_deadline_mono_ns(gpr_inf_future(GPR_CLOCK_REALTIME)) == CRIMP_NO_DEADLINE);
    CHECK(crimp_deadline_mono_ns(gpr_inf_future(GPR_CLOCK_MONOTONIC)) == CRIMP_NO_DEADLINE);
    gpr_timespec in2s = gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_seconds(2, GPR_TIMESPAN));
    int64_t left = crimp_deadline_mono_ns(in2s) - crimp_now_mono_ns();
    /* Wide bounds: a loaded CI machine (sanitizers, two cores) can stall the
     * test between the two readings; a wrong clock is off by years.  */
    CHECK(left > 1000000000LL && left <= 2001000000LL);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_without_a_budget),
        UNIT_TEST(test_kubelet_deadline_caps_everything),
        UNIT_TEST(test_no_deadline_takes_the_backend_default),
        UNIT_TEST(test_margin),
        UNIT_TEST(test_gpr_deadline_on_the_monotonic_clock),
    };
    grpc_init(); /* gRPC's clocks are converted with what it learns here */
    int rc = unit_run(tests, sizeof(tests) / sizeof(tests[0]));
    grpc_shutdown_blocking();
    return rc;
}
