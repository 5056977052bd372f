/*
 * The ring: a bounded MPMC queue of 64-byte slots in shared memory, after Dmitry
 * Vyukov's bounded MPMC queue. Each slot carries a sequence number that says whose turn
 * it is: slot i starts at seq = i; the producer of position p may write it when
 * seq == p and publishes it with seq = p + 1; the consumer of p may read it when
 * seq == p + 1 and frees it for the next lap with seq = p + capacity. head and tail are
 * only claims on positions; the slots' sequence numbers carry all the ordering.
 *
 * Two ways to use a ring:
 *  - the shared (MPMC) operations, for host threads: producers claim positions with a
 *    CAS on head, consumers with a CAS on tail;
 *  - the owner operations, for the daemon, which is the only consumer of a command ring
 *    and the only producer of a result ring. It keeps its cursor and mask in private
 *    memory and never reads head, tail or capacity back from the segment, so a client
 *    that scribbles over its own ring can stall its own lane but cannot make the daemon
 *    touch memory outside it. Every slot it reads is copied out before it is looked at.
 */
#ifndef CAIRN_SHM_RING_H
#define CAIRN_SHM_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cairn/protocol.h"
#include "common/atomic.h"

struct cairn__ring {
	struct cairn_ring_header *hdr;
	struct cairn_slot *slots;
	uint64_t mask;	 /* private copy: capacity - 1 */
	uint64_t cursor; /* owner operations only: next position to pop or push */
};

/* Bytes of a ring of capacity slots: header and slots. */
static inline uint64_t cairn__ring_bytes(uint32_t capacity)
{
	return sizeof(struct cairn_ring_header) + (uint64_t)capacity * sizeof(struct cairn_slot);
}

/*
 * Lays out an empty ring at mem (capacity a power of two, already validated) and
 * returns a view of it. Only the creator calls this, before the ring is shared.
 */
void cairn__ring_init(struct cairn__ring *r, void *mem, uint32_t capacity);

/* A view of an existing ring whose capacity the caller has validated. */
void cairn__ring_attach(struct cairn__ring *r, void *mem, uint32_t capacity);

/* ---- shared (MPMC) operations: any thread of any process ---- */

/* Pushes one message. Returns false when the ring is full. Lock-free. */
static inline bool cairn__ring_try_push(struct cairn__ring *r, const struct cairn_msg *m)
{
	uint64_t pos = cairn__load_relaxed(&r->hdr->head);
	struct cairn_slot *s;
	for (;;) {
		s = &r->slots[pos & r->mask];
		/*
		 * Acquire pairs with the consumer's release store of seq = pos when it freed the
		 * slot: its read of the previous message happens before our overwrite.
		 */
		uint64_t seq = cairn__load_acquire(&s->seq);
		int64_t dif = (int64_t)(seq - pos);
		if (dif == 0) {
			if (cairn__cas_relaxed(&r->hdr->head, &pos, pos + 1)) {
				break;
			}
		} else if (dif < 0) {
			return false;
		} else {
			pos = cairn__load_relaxed(&r->hdr->head);
		}
	}
	memcpy(&s->msg, m, sizeof(*m));
	/* Release publishes the message: a consumer that sees seq = pos + 1 sees its bytes. */
	cairn__store_release(&s->seq, pos + 1);
	return true;
}

/* Pops one message into m. Returns false when the ring is empty. Lock-free. */
static inline bool cairn__ring_try_pop(struct cairn__ring *r, struct cairn_msg *m)
{
	uint64_t pos = cairn__load_relaxed(&r->hdr->tail);
	struct cairn_slot *s;
	for (;;) {
		s = &r->slots[pos & r->mask];
		/* Acquire pairs with the producer's release of seq = pos + 1 (the message). */
		uint64_t seq = cairn__load_acquire(&s->seq);
		int64_t dif = (int64_t)(seq - (pos + 1));
		if (dif == 0) {
			if (cairn__cas_relaxed(&r->hdr->tail, &pos, pos + 1)) {
				break;
			}
		} else if (dif < 0) {
			return false;
		} else {
			pos = cairn__load_relaxed(&r->hdr->tail);
		}
	}
	memcpy(m, &s->msg, sizeof(*m));
	/* Release orders our read of the message before the next lap's producer writes. */
	cairn__store_release(&s->seq, pos + r->mask + 1);
	return true;
}

/*
 * Pushes up to n messages at consecutive positions with one claim. Returns how many
 * were pushed (0 when full); they are in order and contiguous.
 */
unsigned cairn__ring_push_batch(struct cairn__ring *r, const struct cairn_msg *m, unsigned n);

/* Pops up to n messages with one claim. Returns how many (0 when empty). */
unsigned cairn__ring_pop_batch(struct cairn__ring *r, struct cairn_msg *m, unsigned n);

/* True when the ring has something to pop right now (a hint: another consumer may win). */
static inline bool cairn__ring_readable(const struct cairn__ring *r)
{
	uint64_t pos = cairn__load_relaxed(&r->hdr->tail);
	return cairn__load_acquire(&r->slots[pos & r->mask].seq) == pos + 1;
}

/* ---- owner operations: the single consumer or single producer (the daemon) ---- */

enum cairn__owner_status {
	CAIRN__RING_CORRUPT = -1, /* a sequence number no honest peer can produce */
	CAIRN__RING_WAIT = 0,	  /* empty (pop) or full (push) */
	CAIRN__RING_OK = 1,
};

/*
 * Pops the message at the owner's cursor into m. The peer may be hostile: seq is read
 * once, the message is copied out, and any sequence number other than "free" or
 * "published" is reported as corruption.
 */
static inline int cairn__ring_owner_pop(struct cairn__ring *r, struct cairn_msg *m)
{
	uint64_t pos = r->cursor;
	struct cairn_slot *s = &r->slots[pos & r->mask];
	/* Acquire pairs with the producer's release of seq = pos + 1 (the message). */
	uint64_t seq = cairn__load_acquire(&s->seq);
	if (seq != pos + 1) {
		/* seq == pos: not yet pushed, or claimed and still being written. */
		return seq == pos ? CAIRN__RING_WAIT : CAIRN__RING_CORRUPT;
	}
	memcpy(m, &s->msg, sizeof(*m));
	/* Release orders our copy before a producer of the next lap overwrites the slot. */
	cairn__store_release(&s->seq, pos + r->mask + 1);
	r->cursor = pos + 1;
	/* tail is informational for a single consumer (ringtop, producers do not read it). */
	cairn__store_relaxed(&r->hdr->tail, pos + 1);
	return CAIRN__RING_OK;
}

/* Whether the owner's next pop would find a message (a hint for deciding to sleep). */
static inline bool cairn__ring_owner_readable(const struct cairn__ring *r)
{
	/* Acquire pairs with the producer's release of seq = cursor + 1. */
	return cairn__load_acquire(&r->slots[r->cursor & r->mask].seq) == r->cursor + 1;
}

/* Whether the owner can push now: OK, WAIT (full) or CORRUPT. */
static inline int cairn__ring_owner_can_push(const struct cairn__ring *r)
{
	uint64_t pos = r->cursor;
	/* Acquire pairs with the consumer's release that freed the slot (seq = pos). */
	uint64_t seq = cairn__load_acquire(&r->slots[pos & r->mask].seq);
	if (seq == pos) {
		return CAIRN__RING_OK;
	}
	/* Still holding the message of the previous lap, published or being popped. */
	return seq == pos - r->mask ? CAIRN__RING_WAIT : CAIRN__RING_CORRUPT;
}

/* Pushes m at the owner's cursor; only after cairn__ring_owner_can_push said OK. */
static inline void cairn__ring_owner_push(struct cairn__ring *r, const struct cairn_msg *m)
{
	uint64_t pos = r->cursor;
	struct cairn_slot *s = &r->slots[pos & r->mask];
	memcpy(&s->msg, m, sizeof(*m));
	/* Release publishes the message to the consumer that acquires seq = pos + 1. */
	cairn__store_release(&s->seq, pos + 1);
	r->cursor = pos + 1;
	cairn__store_relaxed(&r->hdr->head, pos + 1);
}

#endif
