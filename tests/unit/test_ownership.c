/* Unit tests for shim/ownership.c: which backend an ID or an operator's ID
 * prefix routes to, pods and containers kept apart.  */
#include <string.h>

#include "ownership.h"
#include "unit.h"

#define POD_A "8d246bf1e4fed562fffedaafee6f55ea246bc2072e5101c63837e224d73ba245"
#define CTR_A "89faf2484c19f77d1d2d60a747aaad7a329e313b91c95c496b0180d6bc105e18"
#define CTR_B "89fb00000000000000000000000000000000000000000000000000000000000b"
#define CTR_C "89fc00000000000000000000000000000000000000000000000000000000000c"

static int test_prefix_is_matched_within_its_kind(void)
{
    struct crimp_ownership *o = crimp_ownership_new();
    crimp_ownership_set(o, POD_A, NULL, 0);
    crimp_ownership_set(o, CTR_A, POD_A, 1);
    crimp_ownership_set(o, "pod-uid/8x", POD_A, 0); /* an alias, no ID */
    /* "8" starts a pod and a container: each kind has one.  */
    int also = 0;
    CHECK(crimp_ownership_get_kind(o, "8", true, &also) == 0 && also == -1);
    CHECK(crimp_ownership_get_kind(o, "8", false, &also) == 1 && also == -1);
    CHECK(crimp_ownership_get_kind(o, POD_A, true, NULL) == 0);
    CHECK(crimp_ownership_get_kind(o, POD_A, false, NULL) == -1);
    CHECK(crimp_ownership_get_kind(o, "7", false, &also) == -1 && also == -1);
    CHECK(crimp_ownership_get_kind(o, "", false, NULL) == -1);
    crimp_ownership_free(o);
    return 0;
}

static int test_prefix_on_two_backends_is_ambiguous(void)
{
    struct crimp_ownership *o = crimp_ownership_new();
    int also = -1;
    crimp_ownership_set(o, POD_A, NULL, 0);
    crimp_ownership_set(o, CTR_A, POD_A, 0);
    crimp_ownership_set(o, CTR_C, POD_A, 0);
    /* Two on one backend: that backend's to resolve.  */
    CHECK(crimp_ownership_get_kind(o, "89f", false, &also) == 0 && also == -1);
    crimp_ownership_set(o, CTR_B, POD_A, 1);
    CHECK(crimp_ownership_get_kind(o, "89f", false, &also) >= 0 && also >= 0);
    CHECK(crimp_ownership_get_kind(o, "89fa", false, &also) == 0 && also == -1);
    CHECK(crimp_ownership_get_kind(o, "89fb", false, &also) == 1 && also == -1);
    crimp_ownership_remove(o, CTR_B);
    CHECK(crimp_ownership_get_kind(o, "89f", false, &also) == 0 && also == -1);
    crimp_ownership_free(o);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_prefix_is_matched_within_its_kind),
        UNIT_TEST(test_prefix_on_two_backends_is_ambiguous),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
