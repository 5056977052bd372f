/*
 * Log2 histograms of nanoseconds, as the metrics in the state segment keep them
 * (CAIRN_HIST_BUCKETS buckets: bucket 0 below 2 ns, bucket i in [2^i, 2^(i+1)), the
 * last one everything above).
 */
#ifndef CAIRN_COMMON_HIST_H
#define CAIRN_COMMON_HIST_H

#include <stdint.h>

#include "cairn/protocol.h"

static inline unsigned cairn__hist_bucket(uint64_t ns)
{
	if (ns < 2) {
		return 0;
	}
	unsigned b = 63u - (unsigned)__builtin_clzll(ns);
	return b < CAIRN_HIST_BUCKETS - 1 ? b : CAIRN_HIST_BUCKETS - 1;
}

#endif
