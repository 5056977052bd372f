#include "stats.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

const uint32_t stats_cdf_ppm[STATS_CDF_POINTS] = {
	0,      10000,  50000,  100000, 200000, 300000, 400000, 500000, 600000, 700000,  750000,
	800000, 850000, 900000, 925000, 950000, 960000, 970000, 980000, 990000, 995000,  998000,
	999000, 999500, 999800, 999900, 999950, 999980, 999990, 999995, 999999, 1000000,
};

uint64_t stats_percentile(const uint64_t *sorted, size_t n, unsigned per_10000)
{
	return stats_quantile_ppm(sorted, n, (uint32_t)per_10000 * 100);
}

uint64_t stats_quantile_ppm(const uint64_t *sorted, size_t n, uint32_t ppm)
{
	if (n == 0) {
		return 0;
	}
	/* Nearest rank, in integers: rank = ceil(n * p), index = rank - 1. */
	uint64_t rank = ((uint64_t)n * ppm + 999999) / 1000000;
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
	for (size_t i = 0; i < STATS_CDF_POINTS; i++) {
		s->cdf[i] = stats_quantile_ppm(samples, n, stats_cdf_ppm[i]);
	}
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

long stats_read_raw(const char *path, uint64_t *dst, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		return -errno;
	}
	/* The size says it all: a torn last sample, or more samples than there is room for. */
	struct stat st;
	int err = fstat(fileno(f), &st) < 0                   ? -errno
		  : st.st_size % (off_t)sizeof(*dst)          ? -EINVAL
		  : (uint64_t)st.st_size / sizeof(*dst) > max ? -EFBIG
							      : 0;
	size_t n = err ? 0 : (size_t)st.st_size / sizeof(*dst);
	if (!err && fread(dst, sizeof(*dst), n, f) != n) {
		err = -EIO; /* shorter than fstat said: it changed under us */
	}
	fclose(f);
	if (err) {
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		dst[i] = le64toh(dst[i]);
	}
	return (long)n;
}
