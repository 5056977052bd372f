/*
 * Statistics over measured samples: percentiles of latency samples and the median of a
 * handful of throughput runs. Nothing here reads a clock; it only summarises.
 */
#ifndef CAIRN_BENCH_STATS_H
#define CAIRN_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The quantiles a latency summary keeps of its distribution, in parts per million: even
 * steps through the body, then ever finer ones into the tail, so that a plot on a
 * log-scaled "fraction above" axis shows the body and the tail equally well.
 */
#define STATS_CDF_POINTS 32
extern const uint32_t stats_cdf_ppm[STATS_CDF_POINTS];

/* The summary of a set of latency samples, all in nanoseconds. */
struct latency_summary {
	size_t n;
	uint64_t min;
	uint64_t p50;
	uint64_t p90;
	uint64_t p99;
	uint64_t p999;
	uint64_t max;
	double mean;
	/* The distribution: cdf[i] is the sample at quantile stats_cdf_ppm[i] (nearest rank). */
	uint64_t cdf[STATS_CDF_POINTS];
};

/*
 * Sorts the n samples in place and fills *s. n may be 0 (everything is then 0).
 * The samples are left sorted, so a caller may take further percentiles.
 */
void stats_summarize(uint64_t *samples, size_t n, struct latency_summary *s);

/*
 * The nearest-rank percentile of n sorted samples: the smallest sample such that at
 * least per_10000 / 10000 of all samples are at or below it (p50 = 5000, p99.9 = 9990).
 */
uint64_t stats_percentile(const uint64_t *sorted, size_t n, unsigned per_10000);

/* The same, in parts per million (p99.99 = 999900). */
uint64_t stats_quantile_ppm(const uint64_t *sorted, size_t n, uint32_t ppm);

/*
 * Reads samples another program wrote to path (little-endian uint64 nanoseconds, back to
 * back) into dst, at most max of them. Returns how many, or -errno (-EINVAL when the
 * file's size is not a whole number of samples, -EFBIG when it holds more than max).
 */
long stats_read_raw(const char *path, uint64_t *dst, size_t max);

/* The most values stats_median_min_max takes (runs of a throughput benchmark). */
#define STATS_MAX_VALUES 100

/* Median, minimum and maximum of n values, 1 <= n <= STATS_MAX_VALUES; v is not modified. */
void stats_median_min_max(const double *v, size_t n, double *median, double *min, double *max);

#endif
