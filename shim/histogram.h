/* A log-linear latency histogram (HDR-style): 64 buckets per power of two,
 * so any recorded value is known to within 1.6 %, from 1 ns to 18 minutes.
 * The 64 buckets of a power of two (512 bytes) are allocated when a value
 * first falls in it: a call's latencies span a few powers of two, so a
 * histogram holds 2-4 KB rather than the 18 KB of all 35.  Recording is
 * relaxed atomic adds: many workers record into the same histogram without
 * a lock.  Histograms of the same shape merge by adding buckets.  */
#ifndef CRIMP_HISTOGRAM_H
#define CRIMP_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_SUB      (1 << HIST_SUB_BITS)
#define HIST_MAX_EXP  40 /* 2^40 ns ≈ 18 min */
#define HIST_BUCKETS  (HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS) * HIST_SUB)
#define HIST_BLOCKS   (HIST_BUCKETS / HIST_SUB)

struct crimp_histogram {
    /* Block B holds buckets B * HIST_SUB ...; NULL until one is used.  */
    _Atomic(_Atomic uint64_t *) blocks[HIST_BLOCKS];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t max_ns;
};

/* The bucket of a value in ns (values past the range go to the last).  */
int crimp_hist_index(uint64_t ns);

/* The lowest and one-past-highest value a bucket holds.  */
uint64_t crimp_hist_bucket_low(int index);
uint64_t crimp_hist_bucket_high(int index);

/* An empty histogram, and its release (NULL is fine).  */
struct crimp_histogram *crimp_hist_new(void);
void crimp_hist_free(struct crimp_histogram *h);
/* Empties H, keeping its blocks.  */
void crimp_hist_clear(struct crimp_histogram *h);

void crimp_hist_record(struct crimp_histogram *h, uint64_t ns);

/* Adds SRC into DST (DST may be a private, non-shared copy).  */
void crimp_hist_merge(struct crimp_histogram *dst, const struct crimp_histogram *src);

/* The value at quantile Q (0..1): the middle of the bucket holding that
 * rank, 0 when empty.  */
uint64_t crimp_hist_quantile(const struct crimp_histogram *h, double q);

/* How many recorded values are <= NS (exact at bucket edges, otherwise
 * counts whole buckets whose high edge is <= NS + 1).  */
uint64_t crimp_hist_count_le(const struct crimp_histogram *h, uint64_t ns);

#endif
