/* Log-linear histogram.  */
#include "histogram.h"

int crimp_hist_index(uint64_t ns)
{
    if (ns < HIST_SUB)
        return (int)ns;
    int e = 63 - __builtin_clzll(ns);
    if (e >= HIST_MAX_EXP)
        return HIST_BUCKETS - 1;
    int m = (int)((ns >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
    return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + m;
}

uint64_t crimp_hist_bucket_low(int index)
{
    if (index < HIST_SUB)
        return (uint64_t)index;
    int e = (index - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
    int m = (index - HIST_SUB) % HIST_SUB;
    return (uint64_t)(HIST_SUB + m) << (e - HIST_SUB_BITS);
}

uint64_t crimp_hist_bucket_high(int index)
{
    if (index < HIST_SUB)
        return (uint64_t)index + 1;
    int e = (index - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
    int m = (index - HIST_SUB) % HIST_SUB;
    return (uint64_t)(HIST_SUB + m + 1) << (e - HIST_SUB_BITS);
}

void crimp_hist_record(struct crimp_histogram *h, uint64_t ns)
{
    atomic_fetch_add_explicit(&h->buckets[crimp_hist_index(ns)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
    while (ns > max && !atomic_compare_exchange_weak_explicit(&h->max_ns, &max, ns,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed))
        ;
}

void crimp_hist_merge(struct crimp_histogram *dst, const struct crimp_histogram *src)
{
    for (int i = 0; i < HIST_BUCKETS; i++) {
        uint64_t n = atomic_load_explicit(&src->buckets[i], memory_order_relaxed);
        if (n)
            atomic_fetch_add_explicit(&dst->buckets[i], n, memory_order_relaxed);
    }
    atomic_fetch_add(&dst->count, atomic_load(&src->count));
    atomic_fetch_add(&dst->sum_ns, atomic_load(&src->sum_ns));
    uint64_t m = atomic_load(&src->max_ns);
    if (m > atomic_load(&dst->max_ns))
        atomic_store(&dst->max_ns, m);
}

uint64_t crimp_hist_quantile(const struct crimp_histogram *h, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        total += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)(total - 1)) + 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (seen >= rank) {
            uint64_t lo = crimp_hist_bucket_low(i), hi = crimp_hist_bucket_high(i);
            uint64_t mid = lo + (hi - lo) / 2;
            uint64_t max = atomic_load(&h->max_ns);
            return mid > max && max >= lo ? max : mid;
        }
    }
    return atomic_load(&h->max_ns);
}

uint64_t crimp_hist_count_le(const struct crimp_histogram *h, uint64_t ns)
{
    uint64_t n = 0;
    for (int i = 0; i < HIST_BUCKETS && crimp_hist_bucket_high(i) <= ns + 1; i++)
        n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return n;
}
