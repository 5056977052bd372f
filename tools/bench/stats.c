#include "stats.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

uint64_t stats_percentile(const uint64_t *sorted, size_t n, unsigned per_10000)
{
	if (n == 0) {
		return 0;
	}
	/* Nearest rank, in integers: rank = ceil(n * p), index = rank - 1. */
	uint64_t rank = ((uint64_t)n * per_10000 + 9999) / 10000;
	if (rank == 0) {
		rank = 1;
	}
	if (rank > n) {
		rank = n;
	}
	return sorted[rank - 1];
}

void stats_summarize(uint64_t *samples, size_t n, struct latency_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	if (n == 0) {
		return;
	}
	qsort(samples, n, sizeof(samples[0]), cmp_u64);
	/*
	 * The mean is summed as an integer: a million samples of even a second each stay
	 * far below 2^64 ns, and no precision is lost to adding small doubles to a big one.
	 */
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		sum += samples[i];
	}
	s->min = samples[0];
	s->max = samples[n - 1];
	s->p50 = stats_percentile(samples, n, 5000);
	s->p90 = stats_percentile(samples, n, 9000);
	s->p99 = stats_percentile(samples, n, 9900);
	s->p999 = stats_percentile(samples, n, 9990);
	s->mean = (double)sum / (double)n;
}

void stats_median_min_max(const double *v, size_t n, double *median, double *min, double *max)
{
	double c[STATS_MAX_VALUES];
	/* The callers cap their run counts at STATS_MAX_VALUES when parsing their flags. */
	assert(n >= 1 && n <= STATS_MAX_VALUES);
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	*median = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	*min = c[0];
	*max = c[n - 1];
}
