/*
 * Atomic access to shared memory.
 *
 * The layout structs of protocol.h are plain integers, because they describe bytes
 * shared with other processes and other languages. These wrappers apply the GCC/Clang
 * __atomic builtins to them (as liburing does for the SQ and CQ indices); every call
 * site says in a comment what the ordering pairs with.
 */
#ifndef CAIRN_COMMON_ATOMIC_H
#define CAIRN_COMMON_ATOMIC_H

#define cairn__load_relaxed(p)	   __atomic_load_n((p), __ATOMIC_RELAXED)
#define cairn__load_acquire(p)	   __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define cairn__store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define cairn__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define cairn__add_relaxed(p, v)   __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define cairn__add_seq_cst(p, v)   __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define cairn__sub_relaxed(p, v)   __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)
#define cairn__fence_seq_cst()	   __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* A weak compare-and-swap; ordering comes from the acquire/release on the slot. */
#define cairn__cas_relaxed(p, expected, desired)                                              \
	__atomic_compare_exchange_n((p), (expected), (desired), 1, __ATOMIC_RELAXED,          \
				    __ATOMIC_RELAXED)

/* A counter in shared memory with one writer: readers may see it late, never torn. */
#define cairn__count(p, v) cairn__store_relaxed((p), cairn__load_relaxed(p) + (v))

static inline void cairn__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif
