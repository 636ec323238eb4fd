/* Unit tests for shim/histogram.c: bucket edges, the 2 % error bound over
 * the whole range, quantiles and merging.  */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "unit.h"

static int test_edges_are_contiguous(void)
{
    for (int i = 0; i + 1 < HIST_BUCKETS; i++)
        CHECK(crimp_hist_bucket_high(i) == crimp_hist_bucket_low(i + 1));
    for (uint64_t v = 1; v < (1ULL << 39); v = v * 3 / 2 + 1) {
        int i = crimp_hist_index(v);
        CHECK(crimp_hist_bucket_low(i) <= v && v < crimp_hist_bucket_high(i));
    }
    return 0;
}

/* From 1 µs to 10 min a bucket is never wider than 2 % of its values.  */
static int test_relative_error_bound(void)
{
    for (uint64_t v = 1000; v <= 600ULL * 1000000000ULL; v = v * 11 / 10) {
        int i = crimp_hist_index(v);
        double width = (double)(crimp_hist_bucket_high(i) - crimp_hist_bucket_low(i));
        CHECK(width / (double)crimp_hist_bucket_low(i) <= 0.02);
    }
    return 0;
}

static int test_quantiles(void)
{
    struct crimp_histogram *h = crimp_hist_new();
    for (uint64_t i = 1; i <= 1000; i++)
        crimp_hist_record(h, i * 1000); /* 1 µs .. 1 ms */
    CHECK(h->count == 1000);
    CHECK(h->max_ns == 1000000);
    double p50 = (double)crimp_hist_quantile(h, 0.5);
    double p99 = (double)crimp_hist_quantile(h, 0.99);
    CHECK(fabs(p50 - 500000) / 500000 < 0.02);
    CHECK(fabs(p99 - 990000) / 990000 < 0.02);
    CHECK(crimp_hist_quantile(h, 1.0) <= 1000000);
    CHECK(crimp_hist_count_le(h, 2000000) == 1000);
    crimp_hist_free(h);
    return 0;
}

static int test_merge(void)
{
    struct crimp_histogram *a = crimp_hist_new(), *b = crimp_hist_new();
    crimp_hist_record(a, 5000);
    crimp_hist_record(b, 7000000);
    crimp_hist_merge(a, b);
    CHECK(a->count == 2 && a->max_ns == 7000000 && a->sum_ns == 7005000);
    CHECK(crimp_hist_quantile(a, 0.0) < 6000);
    crimp_hist_free(a);
    crimp_hist_free(b);
    return 0;
}

/* Only the powers of two values fall in hold buckets; merging and
 * clearing keep the counts right.  */
static int test_blocks_only_where_used(void)
{
    struct crimp_histogram *h = crimp_hist_new(), *m = crimp_hist_new();
    for (uint64_t v = 300000; v < 1200000; v += 1000) /* 0.3-1.2 ms: 2^18 .. 2^20 */
        crimp_hist_record(h, v);
    int used = 0;
    for (int b = 0; b < HIST_BLOCKS; b++)
        used += atomic_load(&h->blocks[b]) != NULL;
    CHECK(used == 3);
    crimp_hist_merge(m, h);
    CHECK(crimp_hist_count_le(m, 2000000) == 900 && m->count == 900);
    crimp_hist_clear(m);
    CHECK(m->count == 0 && crimp_hist_count_le(m, 2000000) == 0);
    CHECK(crimp_hist_quantile(m, 0.5) == 0);
    crimp_hist_free(h);
    crimp_hist_free(m);
    return 0;
}

int main(void)
{
    static const struct unit_test tests[] = {
        UNIT_TEST(test_edges_are_contiguous),
        UNIT_TEST(test_relative_error_bound),
        UNIT_TEST(test_quantiles),
        UNIT_TEST(test_merge),
        UNIT_TEST(test_blocks_only_where_used),
    };
    return unit_run(tests, sizeof(tests) / sizeof(tests[0]));
}
