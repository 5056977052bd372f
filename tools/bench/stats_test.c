/*
 * stats_test: the statistics every benchmark row is made of. Percentiles by nearest rank
 * (the smallest sample with at least p of all samples at or below it), the distribution
 * kept for the report's CDF plots, and the reader of raw samples that other programs
 * write (the gRPC and binding bench programs), including files it must refuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../tests/test.h"
#include "stats.h"

static void nearest_rank(void)
{
	uint64_t v[100];
	for (unsigned i = 0; i < 100; i++) {
		v[i] = 100 - i; /* reversed: stats_summarize sorts */
	}
	struct latency_summary s;
	stats_summarize(v, 100, &s);
	ASSERT_UEQ(s.n, 100);
	ASSERT_UEQ(s.min, 1);
	ASSERT_UEQ(s.max, 100);
	ASSERT_UEQ(s.p50, 50);
	ASSERT_UEQ(s.p90, 90);
	ASSERT_UEQ(s.p99, 99);
	ASSERT_UEQ(s.p999, 100); /* rank ceil(99.9) = 100 */
	ASSERT_TRUE(s.mean > 50.49 && s.mean < 50.51);
	/* The distribution: quantile 0 is the minimum, 1 the maximum, and it never falls. */
	ASSERT_UEQ(s.cdf[0], 1);
	ASSERT_UEQ(s.cdf[STATS_CDF_POINTS - 1], 100);
	for (unsigned i = 1; i < STATS_CDF_POINTS; i++) {
		ASSERT_TRUE(stats_cdf_ppm[i] > stats_cdf_ppm[i - 1]);
		ASSERT_TRUE(s.cdf[i] >= s.cdf[i - 1]);
		ASSERT_UEQ(s.cdf[i], stats_quantile_ppm(v, 100, stats_cdf_ppm[i]));
	}
	/* 0.5 % of 100 samples is rank 1, 1 % is rank 1, 1.5 % rank 2. */
	ASSERT_UEQ(stats_quantile_ppm(v, 100, 5000), 1);
	ASSERT_UEQ(stats_quantile_ppm(v, 100, 10000), 1);
	ASSERT_UEQ(stats_quantile_ppm(v, 100, 15000), 2);
	ASSERT_UEQ(stats_percentile(v, 100, 5000), stats_quantile_ppm(v, 100, 500000));

	/* One sample is every quantile; none is zeros. */
	uint64_t one = 7;
	stats_summarize(&one, 1, &s);
	ASSERT_UEQ(s.p50, 7);
	ASSERT_UEQ(s.cdf[0], 7);
	ASSERT_UEQ(s.cdf[STATS_CDF_POINTS - 1], 7);
	stats_summarize(NULL, 0, &s);
	ASSERT_UEQ(s.n, 0);
	ASSERT_UEQ(s.cdf[STATS_CDF_POINTS - 1], 0);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ASSERT_TRUE(f != NULL);
	ASSERT_UEQ(fwrite(p, 1, n, f), n);
	ASSERT_EQ(fclose(f), 0);
}

static void raw_files(void)
{
	char dir[] = "/tmp/cairn-stats-test.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/raw", dir);
	/* Little-endian on disk whatever this machine is: 1, 2 and 2^40 + 3. */
	const unsigned char bytes[24] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
					 0, 0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 0};
	uint64_t got[4] = {0};
	write_file(path, bytes, sizeof(bytes));
	ASSERT_EQ(stats_read_raw(path, got, 4), 3);
	ASSERT_UEQ(got[0], 1);
	ASSERT_UEQ(got[1], 2);
	ASSERT_UEQ(got[2], (UINT64_C(1) << 40) + 3);
	ASSERT_EQ(stats_read_raw(path, got, 3), 3); /* exactly max */
	/* More than the caller has room for, a torn last sample, no file, an empty file. */
	ASSERT_EQ(stats_read_raw(path, got, 2), -EFBIG);
	write_file(path, bytes, 20);
	ASSERT_EQ(stats_read_raw(path, got, 4), -EINVAL);
	write_file(path, bytes, 0);
	ASSERT_EQ(stats_read_raw(path, got, 4), 0);
	unlink(path);
	ASSERT_EQ(stats_read_raw(path, got, 4), -ENOENT);
	ASSERT_EQ(rmdir(dir), 0);
}

int main(void)
{
	nearest_rank();
	raw_files();
	printf("stats: nearest-rank percentiles, the CDF, raw sample files: ok\n");
	return T_PASS;
}
