#include "common/futex.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

int cairn__futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		ts = cairn__ns_to_timespec((uint64_t)timeout_ns);
		tsp = &ts;
	}
	/* FUTEX_WAIT takes a relative timeout measured against CLOCK_MONOTONIC. */
	long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0);
	if (r < 0) {
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	return 0;
}

int cairn__futex_wake(uint32_t *word, int n)
{
	long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
	return r < 0 ? -errno : (int)r;
}

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

/* The kernel's struct futex_waitv, spelled out so older headers still build. */
struct kernel_waitv {
	uint64_t val;
	uint64_t uaddr;
	uint32_t flags;
	uint32_t reserved;
};

int cairn__futex_waitv(const struct cairn__waitv *v, unsigned n, int64_t timeout_ns)
{
	struct kernel_waitv kv[CAIRN__WAITV_MAX];
	if (n == 0 || n > CAIRN__WAITV_MAX) {
		return -EINVAL;
	}
	memset(kv, 0, sizeof(kv[0]) * n);
	for (unsigned i = 0; i < n; i++) {
		kv[i].val = v[i].expected;
		kv[i].uaddr = (uint64_t)(uintptr_t)v[i].word;
		/* FUTEX2_SIZE_U32 = 2, FUTEX2_PRIVATE = FUTEX_PRIVATE_FLAG. */
		kv[i].flags = 2u | (v[i].private_ ? (unsigned)FUTEX_PRIVATE_FLAG : 0u);
	}
	struct timespec ts, *tsp = NULL;
	if (timeout_ns >= 0) {
		/* futex_waitv takes an absolute timeout on the clock named in the call. */
		ts = cairn__ns_to_timespec(cairn__now_ns() + (uint64_t)timeout_ns);
		tsp = &ts;
	}
	long r = syscall(SYS_futex_waitv, kv, n, 0, tsp, CLOCK_MONOTONIC);
	if (r < 0) {
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	return (int)r;
}
