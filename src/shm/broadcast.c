/*
 * The event broadcast ring (see broadcast.h for the protocol).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "common/atomic.h"
#include "common/futex.h"
#include "shm/broadcast.h"
#include "shm/seqlock.h"

/* Lapped retries one read may make before it returns what it has (see below). */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define READ_RETRIES (1u << 20)
#else
/* The fuzz targets' build: a ring whose slots never match costs microseconds. */
#define READ_RETRIES 64u
#endif

static bool power_of_two(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

size_t cairn__broadcast_size(uint32_t capacity)
{
	return sizeof(struct cairn_event_ring_header) +
	       (size_t)capacity * sizeof(struct cairn_event_slot);
}

int cairn__broadcast_init(void *mem, size_t size, uint32_t capacity, struct cairn__broadcast *w)
{
	if (!power_of_two(capacity) || size < cairn__broadcast_size(capacity)) {
		return -EINVAL;
	}
	struct cairn_event_ring_header *h = mem;
	h->capacity = capacity;
	h->mask = capacity - 1;
	h->slot_size = CAIRN_SLOT_SIZE;
	w->hdr = h;
	w->slots = (struct cairn_event_slot *)(h + 1);
	w->mask = capacity - 1;
	w->tail = 0;
	return 0;
}

void cairn__broadcast_publish(struct cairn__broadcast *w, const struct cairn_event *ev)
{
	struct cairn_event_slot *s = &w->slots[w->tail & w->mask];
	/*
	 * Mark the slot as being rewritten before touching the event: the release fence
	 * orders this store before the event stores, so a reader that copies any part of
	 * the new event and then fences (acquire) reloads 0 and knows its copy is torn.
	 */
	__atomic_store_n(&s->seq, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	cairn__seq_copy_in(&s->event, ev, sizeof(*ev));
	/* Release: the event is complete for whoever sees this seq. */
	cairn__store_release(&s->seq, w->tail + 1);
	w->tail++;
	/* Release: a reader that sees the tail finds the slot published. */
	cairn__store_release(&w->hdr->tail, w->tail);
}

int cairn__broadcast_wake(struct cairn__broadcast *w)
{
	/* seq_cst: ordered after the tail stores, so a reader that waits on the old word
	 * value has already seen (or will recheck) the new tail. */
	cairn__add_seq_cst(&w->hdr->bell.word, 1);
	cairn__add_relaxed(&w->hdr->bell.wakes, 1);
	return cairn__futex_wake(&w->hdr->bell.word, INT_MAX);
}

int cairn__broadcast_attach(const void *mem, size_t size, struct cairn__broadcast_reader *r)
{
	const struct cairn_event_ring_header *h = mem;
	if (size < sizeof(*h)) {
		return -CAIRN_E_LAYOUT;
	}
	uint32_t cap = cairn__load_relaxed(&h->capacity);
	if (!power_of_two(cap) || cairn__load_relaxed(&h->mask) != cap - 1 ||
	    cairn__load_relaxed(&h->slot_size) != CAIRN_SLOT_SIZE ||
	    size < cairn__broadcast_size(cap)) {
		return -CAIRN_E_LAYOUT;
	}
	r->hdr = h;
	r->slots = (const struct cairn_event_slot *)(h + 1);
	r->capacity = cap;
	r->mask = cap - 1;
	r->next = cairn__load_acquire(&h->tail);
	return 0;
}

uint64_t cairn__broadcast_tail(const struct cairn__broadcast_reader *r)
{
	return cairn__load_acquire(&r->hdr->tail);
}

/*
 * Moves r->next up to the oldest event the ring can still hold when the writer is
 * about to publish event number tail (the slot of event tail - capacity may already be
 * under rewrite), and counts what was skipped.
 */
static void skip_lapped(struct cairn__broadcast_reader *r, uint64_t tail, uint64_t *missed)
{
	uint64_t oldest = tail + 1 > r->capacity ? tail + 1 - r->capacity : 0;
	if (r->next < oldest) {
		*missed += oldest - r->next;
		r->next = oldest;
	}
}

size_t cairn__broadcast_read(struct cairn__broadcast_reader *r, struct cairn_event *out, size_t n,
			     uint64_t *missed)
{
	size_t got = 0;
	uint64_t tail = cairn__load_acquire(&r->hdr->tail);
	if (r->next > tail) {
		/* A cursor from the future (set by hand, or kept across a daemon restart):
		 * there is nothing to read before tail, and nothing was missed. */
		r->next = tail;
	}
	if (tail - r->next > r->capacity) {
		*missed += tail - r->capacity - r->next;
		r->next = tail - r->capacity;
	}
	/*
	 * Each lapped retry skips at least one event, so an honest writer cannot keep a
	 * reader here for long; the bound only stops a ring the daemon corrupted from
	 * holding the reader forever.
	 */
	unsigned retries = 0;
	while (got < n && r->next < tail && retries < READ_RETRIES) {
		const struct cairn_event_slot *s = &r->slots[r->next & r->mask];
		/* Acquire: the event loads below are not satisfied before this one. */
		uint64_t s1 = cairn__load_acquire(&s->seq);
		if (s1 == r->next + 1) {
			cairn__seq_copy_out(&out[got], &s->event, sizeof(out[got]));
			/* Orders the event loads before the second seq load. */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (cairn__load_relaxed(&s->seq) == s1) {
				got++;
				r->next++;
				continue;
			}
		}
		/*
		 * The slot holds a later event, or is being rewritten: the writer has lapped
		 * this reader. Reload the tail and skip to what the ring still holds.
		 */
		tail = cairn__load_acquire(&r->hdr->tail);
		skip_lapped(r, tail, missed);
		retries++;
		cairn__cpu_relax();
	}
	return got;
}
