#include "shm/ring.h"

#include <assert.h>

void cairn__ring_init(struct cairn__ring *r, void *mem, uint32_t capacity)
{
	/* capacity was validated by the lane layout: a power of two within the limits. */
	assert(capacity >= 2 && (capacity & (capacity - 1)) == 0);
	struct cairn_ring_header *h = mem;
	memset(h, 0, sizeof(*h));
	h->capacity = capacity;
	h->mask = capacity - 1;
	h->slot_size = sizeof(struct cairn_slot);
	struct cairn_slot *slots = (struct cairn_slot *)(h + 1);
	for (uint32_t i = 0; i < capacity; i++) {
		memset(&slots[i].msg, 0, sizeof(slots[i].msg));
		slots[i].seq = i;
	}
	cairn__ring_attach(r, mem, capacity);
}

void cairn__ring_attach(struct cairn__ring *r, void *mem, uint32_t capacity)
{
	r->hdr = mem;
	r->slots = (struct cairn_slot *)(r->hdr + 1);
	r->mask = (uint64_t)capacity - 1;
	r->cursor = 0;
}

unsigned cairn__ring_push_batch(struct cairn__ring *r, const struct cairn_msg *m, unsigned n)
{
	/* With n == 0 the loop below would never claim anything and never stop. */
	if (n == 0) {
		return 0;
	}
	uint64_t pos = cairn__load_relaxed(&r->hdr->head);
	unsigned k;
	for (;;) {
		/*
		 * Count the free slots from pos on. A slot seen free stays free until its
		 * producer writes it, so if the claim below succeeds all k are ours.
		 * Acquire pairs with each consumer's release that freed a slot.
		 */
		for (k = 0; k < n && k <= r->mask; k++) {
			uint64_t seq = cairn__load_acquire(&r->slots[(pos + k) & r->mask].seq);
			if (seq != pos + k) {
				break;
			}
		}
		if (k == 0) {
			uint64_t seq = cairn__load_acquire(&r->slots[pos & r->mask].seq);
			if ((int64_t)(seq - pos) < 0) {
				return 0; /* full */
			}
			pos = cairn__load_relaxed(&r->hdr->head);
			continue;
		}
		if (cairn__cas_relaxed(&r->hdr->head, &pos, pos + k)) {
			break;
		}
	}
	for (unsigned i = 0; i < k; i++) {
		struct cairn_slot *s = &r->slots[(pos + i) & r->mask];
		memcpy(&s->msg, &m[i], sizeof(m[i]));
		/* Release publishes each message on its own; consumers take them in order. */
		cairn__store_release(&s->seq, pos + i + 1);
	}
	return k;
}

unsigned cairn__ring_pop_batch(struct cairn__ring *r, struct cairn_msg *m, unsigned n)
{
	if (n == 0) {
		return 0;
	}
	uint64_t pos = cairn__load_relaxed(&r->hdr->tail);
	unsigned k;
	for (;;) {
		/* Acquire pairs with each producer's release of its message. */
		for (k = 0; k < n && k <= r->mask; k++) {
			uint64_t seq = cairn__load_acquire(&r->slots[(pos + k) & r->mask].seq);
			if (seq != pos + k + 1) {
				break;
			}
		}
		if (k == 0) {
			uint64_t seq = cairn__load_acquire(&r->slots[pos & r->mask].seq);
			if ((int64_t)(seq - (pos + 1)) < 0) {
				return 0; /* empty */
			}
			pos = cairn__load_relaxed(&r->hdr->tail);
			continue;
		}
		if (cairn__cas_relaxed(&r->hdr->tail, &pos, pos + k)) {
			break;
		}
	}
	for (unsigned i = 0; i < k; i++) {
		struct cairn_slot *s = &r->slots[(pos + i) & r->mask];
		memcpy(&m[i], &s->msg, sizeof(m[i]));
		/* Release orders our copy before the next lap's producer overwrites it. */
		cairn__store_release(&s->seq, pos + i + r->mask + 1);
	}
	return k;
}
