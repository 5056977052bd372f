/*
 * The event broadcast ring: one writer (the apply thread), any number of readers in any
 * number of processes, each at its own pace, none of which writes to the ring.
 *
 * Event n (numbered from 0) goes into slot n mod capacity. The writer marks the slot
 * as being written (seq = 0), fills it, publishes it (seq = n + 1, release) and then
 * advances the header's tail to n + 1 (release). A reader that wants event n checks
 * that the slot's seq is n + 1 before and after copying the event: anything else means
 * the writer has lapped it and reused the slot, and the reader skips forward to the
 * oldest event still in the ring, counting what it missed. This is Aeron's broadcast
 * buffer in spirit, with a per-slot sequence instead of a per-record header.
 */
#ifndef CAIRN_SHM_BROADCAST_H
#define CAIRN_SHM_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/protocol.h"

/* The writer's view: every index and size kept privately, never re-read from memory. */
struct cairn__broadcast {
	struct cairn_event_ring_header *hdr;
	struct cairn_event_slot *slots;
	uint32_t mask;
	uint64_t tail; /* the next event's number */
};

/* A reader's view; next is the number of the next event it will read. */
struct cairn__broadcast_reader {
	const struct cairn_event_ring_header *hdr;
	const struct cairn_event_slot *slots;
	uint32_t capacity;
	uint32_t mask;
	uint64_t next;
};

/* Bytes of a ring of capacity slots (a power of two), header included. */
size_t cairn__broadcast_size(uint32_t capacity);

/*
 * Lays out an empty ring of capacity slots (a power of two) in mem[0..size), which must
 * be 64-byte aligned and zeroed, and sets up the writer. Returns 0, or -EINVAL when the
 * capacity is not a power of two or size is too small.
 */
int cairn__broadcast_init(void *mem, size_t size, uint32_t capacity, struct cairn__broadcast *w);

/* Publishes one event. Writer only. */
void cairn__broadcast_publish(struct cairn__broadcast *w, const struct cairn_event *ev);

/*
 * Wakes readers asleep on the ring's bell (those that announced themselves elsewhere:
 * readers cannot write to the ring). Returns -errno from the wake, or how many woke.
 */
int cairn__broadcast_wake(struct cairn__broadcast *w);

/*
 * Attaches a reader to a ring another process laid out in mem[0..size), which may be
 * read-only. The ring's header is untrusted: returns -CAIRN_E_LAYOUT unless it
 * describes a ring that fits. The reader starts at the current tail (only new events).
 */
int cairn__broadcast_attach(const void *mem, size_t size, struct cairn__broadcast_reader *r);

/* The number of the next event the writer will publish. */
uint64_t cairn__broadcast_tail(const struct cairn__broadcast_reader *r);

/*
 * Copies up to n events, oldest first, into out, and returns how many. Adds to *missed
 * the number of events that were overwritten before this reader got to them (also when
 * r->next was set beyond what the ring still holds). Never blocks and never writes to
 * the ring; spins only while the slot it reads is being overwritten at that moment, and
 * returns what it has after 2^20 such retries in one call.
 */
size_t cairn__broadcast_read(struct cairn__broadcast_reader *r, struct cairn_event *out, size_t n,
			     uint64_t *missed);

#endif
