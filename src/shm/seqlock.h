/*
 * Seqlocks over shared memory: one writer (the daemon's apply thread), any number of
 * readers in other processes, which never block the writer and never write anything.
 *
 * The sequence word is even while the data it guards is stable and odd while the writer
 * changes it. The writer makes it odd, writes, and makes it even again; a reader loads
 * it, copies the data, and loads it again: the copy is whole only when both loads saw
 * the same even value. The data is copied word by word with relaxed atomic accesses,
 * so that a torn copy is a stale value rather than undefined behaviour (and so that
 * ThreadSanitizer sees no race). This follows Boehm, "Can seqlocks get along with
 * programming language memory models?" (MSPC 2012).
 */
#ifndef CAIRN_SHM_SEQLOCK_H
#define CAIRN_SHM_SEQLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Writer: start changing the data guarded by *seq. Calls must not nest on one word. */
static inline void cairn__seq_write_begin(uint64_t *seq)
{
	uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
	__atomic_store_n(seq, s + 1, __ATOMIC_RELAXED);
	/*
	 * Orders the odd value before every data store that follows: a reader that sees
	 * any of the new data and then fences (acquire) sees the odd value, or a later one.
	 */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

/* Writer: done. */
static inline void cairn__seq_write_end(uint64_t *seq)
{
	uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
	/* Release: the data stores are visible to anyone who sees the even value. */
	__atomic_store_n(seq, s + 1, __ATOMIC_RELEASE);
}

/*
 * Reader: the value to pass to cairn__seq_read_ok. An odd value means the writer is at
 * work; the read will fail, and the caller may spin before trying again.
 */
static inline uint64_t cairn__seq_read_begin(const uint64_t *seq)
{
	/* Acquire: the data loads that follow cannot be satisfied before this load. */
	return __atomic_load_n(seq, __ATOMIC_ACQUIRE);
}

/* Reader: true when the data copied since cairn__seq_read_begin returned s is whole. */
static inline bool cairn__seq_read_ok(const uint64_t *seq, uint64_t s)
{
	/* Keeps the data loads above before the second load of the sequence word. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return (s & 1) == 0 && __atomic_load_n(seq, __ATOMIC_RELAXED) == s;
}

/*
 * Copies n bytes (a multiple of 8, both pointers 8-byte aligned) with relaxed atomic
 * 8-byte loads, for a reader inside a seqlock read section.
 */
static inline void cairn__seq_copy_out(void *dst, const void *src, size_t n)
{
	const uint64_t *s = src;
	for (size_t i = 0; i < n / 8; i++) {
		uint64_t v = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
		/*
		 * memcpy, not a uint64_t store: dst is usually a struct of narrower fields,
		 * and storing through another type would let the compiler assume the
		 * caller's reads of those fields do not see these stores (strict aliasing).
		 */
		memcpy((uint8_t *)dst + i * 8, &v, sizeof(v));
	}
}

/* The writer's counterpart: relaxed atomic 8-byte stores inside a write section. */
static inline void cairn__seq_copy_in(void *dst, const void *src, size_t n)
{
	uint64_t *d = dst;
	for (size_t i = 0; i < n / 8; i++) {
		uint64_t v;
		/* memcpy: src is a struct of narrower fields (see cairn__seq_copy_out). */
		memcpy(&v, (const uint8_t *)src + i * 8, sizeof(v));
		__atomic_store_n(&d[i], v, __ATOMIC_RELAXED);
	}
}

/* Relaxed single-word accesses for readers and the writer, named for what they are. */
static inline uint32_t cairn__seq_load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void cairn__seq_store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

#endif
