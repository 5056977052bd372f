/*
 * Futex calls on shared memory. Every cairn futex lives in a memfd mapped by several
 * processes, so none of these use FUTEX_PRIVATE_FLAG: a private futex is keyed by
 * (mm, address) and would never see a wake from another process.
 */
#ifndef CAIRN_COMMON_FUTEX_H
#define CAIRN_COMMON_FUTEX_H

#include <stdint.h>

/*
 * Sleep while *word == expected, for at most timeout_ns (relative; < 0 waits forever).
 * Returns 0 when woken (or spuriously), -EAGAIN when *word already differed,
 * -ETIMEDOUT, or -EINTR.
 */
int cairn__futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);

/* Wake up to n sleepers on word. Returns how many were woken, or -errno. */
int cairn__futex_wake(uint32_t *word, int n);

/* One entry of cairn__futex_waitv. private_ is for futexes in this process only. */
struct cairn__waitv {
	uint32_t *word;
	uint32_t expected;
	int private_;
};

/*
 * Sleep until any of the n futexes is woken or differs from its expected value, for at
 * most timeout_ns. n is at most CAIRN__WAITV_MAX. Returns the index woken, -EAGAIN,
 * -ETIMEDOUT, -EINTR, or -ENOSYS where the kernel has no futex_waitv (before 5.16, or
 * blocked by a seccomp filter): the caller then falls back to timed sleeps.
 */
#define CAIRN__WAITV_MAX 128
int cairn__futex_waitv(const struct cairn__waitv *v, unsigned n, int64_t timeout_ns);

#endif
