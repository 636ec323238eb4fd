/* Log-linear histogram.  */
#include "histogram.h"

#include <stdlib.h>
#include <string.h>

#include "utils.h"

struct crimp_histogram *crimp_hist_new(void)
{
    return xcalloc(1, sizeof(struct crimp_histogram));
}

void crimp_hist_free(struct crimp_histogram *h)
{
    if (h == NULL)
        return;
    for (int b = 0; b < HIST_BLOCKS; b++)
        free((void *)atomic_load(&h->blocks[b]));
    free(h);
}

void crimp_hist_clear(struct crimp_histogram *h)
{
    for (int b = 0; b < HIST_BLOCKS; b++) {
        _Atomic uint64_t *block = atomic_load(&h->blocks[b]);
        if (block)
            memset((void *)block, 0, HIST_SUB * sizeof(*block));
    }
    atomic_store(&h->count, 0);
    atomic_store(&h->sum_ns, 0);
    atomic_store(&h->max_ns, 0);
}

/* Bucket INDEX's counter, its block allocated if need be; the loser of an
 * allocation race frees its copy.  */
static _Atomic uint64_t *bucket_for_add(struct crimp_histogram *h, int index)
{
    _Atomic(_Atomic uint64_t *) *slot = &h->blocks[index / HIST_SUB];
    _Atomic uint64_t *block = atomic_load_explicit(slot, memory_order_acquire);
    if (block == NULL) {
        _Atomic uint64_t *fresh = xcalloc(HIST_SUB, sizeof(*fresh));
        if (atomic_compare_exchange_strong(slot, &block, fresh))
            block = fresh;
        else
            free((void *)fresh);
    }
    return &block[index % HIST_SUB];
}

/* Bucket INDEX's count (0 when its block was never used).  */
static uint64_t bucket_count(const struct crimp_histogram *h, int index)
{
    _Atomic uint64_t *block = atomic_load_explicit(
        &((struct crimp_histogram *)h)->blocks[index / HIST_SUB], memory_order_acquire);
    return block ? atomic_load_explicit(&block[index % HIST_SUB], memory_order_relaxed) : 0;
}

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
    atomic_fetch_add_explicit(bucket_for_add(h, crimp_hist_index(ns)), 1, memory_order_relaxed);
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
        uint64_t n = bucket_count(src, i);
        if (n)
            atomic_fetch_add_explicit(bucket_for_add(dst, i), n, memory_order_relaxed);
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
        total += bucket_count(h, i);
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)(total - 1)) + 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += bucket_count(h, i);
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
        n += bucket_count(h, i);
    return n;
}
