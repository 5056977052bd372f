/*
 * The latency histogram and the number formats of the summary.
 */
#include <math.h>
#include <stdio.h>

#include "demo.h"

static unsigned bucket_of(uint64_t v)
{
	if (v < HIST_SUB) {
		return (unsigned)v;
	}
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v >= 16, so e >= 4 */
	unsigned sub = (unsigned)(v >> (e - 4)) & (HIST_SUB - 1);
	return (e - 3) * HIST_SUB + sub;
}

static uint64_t bucket_low(unsigned i)
{
	if (i < HIST_SUB) {
		return i;
	}
	unsigned e = i / HIST_SUB + 3, sub = i % HIST_SUB;
	return ((uint64_t)(HIST_SUB + sub)) << (e - 4);
}

void hist_add(struct hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max) {
		h->max = v;
	}
}

void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < 64 * HIST_SUB; i++) {
		into->b[i] += h->b[i];
	}
	into->n += h->n;
	into->sum += h->sum;
	if (h->max > into->max) {
		into->max = h->max;
	}
}

uint64_t hist_pct(const struct hist *h, double p)
{
	if (!h->n) {
		return 0;
	}
	uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->n), seen = 0;
	for (unsigned i = 0; i < 64 * HIST_SUB; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t lo = bucket_low(i);
			return lo > h->max ? h->max : lo;
		}
	}
	return h->max;
}

void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 1000) {
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	} else if (ns < 999950) {
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	} else if (ns < 999950000) {
		snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
	} else {
		snprintf(buf, len, "%.1f s", (double)ns / 1e9);
	}
}

void fmt_count(char *buf, size_t len, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	size_t o = 0;
	for (int i = 0; i < n && o + 2 < len; i++) {
		if (i && (n - i) % 3 == 0) {
			buf[o++] = ',';
		}
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
}
