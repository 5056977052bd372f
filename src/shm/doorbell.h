/*
 * Doorbells: how a consumer sleeps on an empty ring without making producers pay for a
 * syscall when nobody sleeps.
 *
 * The protocol is Dekker's, on two locations: the slot's sequence number (written by
 * the producer) and bell->sleepers (written by the waiter).
 *
 *   waiter:   v = word;  sleepers += 1 (seq_cst);  if ring empty: FUTEX_WAIT(word, v)
 *   producer: publish slot (release);  fence (seq_cst);  if sleepers: word += 1, FUTEX_WAKE
 *
 * The two seq_cst operations cannot both miss each other: either the waiter's re-check
 * sees the message, or the producer sees sleepers > 0. In that case it bumps word after
 * the waiter read v, so the FUTEX_WAIT either returns at once (word != v) or is woken.
 */
#ifndef CAIRN_SHM_DOORBELL_H
#define CAIRN_SHM_DOORBELL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn/protocol.h"
#include "common/atomic.h"
#include "common/futex.h"

/*
 * Producer side, after publishing one or more slots. Wakes every sleeper: several host
 * threads may wait on one result ring for different results. Returns true if it made
 * the wake syscall.
 */
static inline bool cairn__doorbell_ring(struct cairn_doorbell *b)
{
	/* Orders the slot publish before the sleepers load (see the protocol above). */
	cairn__fence_seq_cst();
	if (cairn__load_relaxed(&b->sleepers) == 0) {
		return false;
	}
	cairn__add_seq_cst(&b->word, 1);
	cairn__futex_wake(&b->word, INT_MAX);
	cairn__add_relaxed(&b->wakes, 1);
	return true;
}

/* Waiter side, step 1: returns the word value to sleep on and announces the sleeper. */
static inline uint32_t cairn__doorbell_prepare(struct cairn_doorbell *b)
{
	/* Acquire: the value must be read before our re-check of the ring. */
	uint32_t v = cairn__load_acquire(&b->word);
	/* seq_cst RMW: ordered before the caller's re-check of the ring (Dekker). */
	cairn__add_seq_cst(&b->sleepers, 1);
	return v;
}

/* Waiter side, last step: withdraws the sleeper announced by prepare. */
static inline void cairn__doorbell_cancel(struct cairn_doorbell *b)
{
	cairn__sub_relaxed(&b->sleepers, 1);
}

/*
 * Adaptive idle strategy: spin (pause) for spin_ns, then sched_yield for yield_ns, then
 * sleep. The caller calls cairn__idle_step() after every empty poll and
 * cairn__idle_reset() after doing work; step returns true when the caller should now
 * sleep on a doorbell (and keeps returning true until the next reset).
 */
struct cairn__idle {
	uint64_t start;
	uint64_t spin_ns;
	uint64_t yield_ns;
	uint32_t n;
	uint32_t yielding;
};

void cairn__idle_init(struct cairn__idle *idle, uint64_t spin_ns, uint64_t yield_ns);
bool cairn__idle_step(struct cairn__idle *idle);

static inline void cairn__idle_reset(struct cairn__idle *idle)
{
	idle->n = 0;
	idle->yielding = 0;
}

#endif
