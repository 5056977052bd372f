/*
 * Event cursors on the daemon's broadcast ring (src/shm/broadcast.h has the protocol).
 *
 * A cursor is two numbers owned by the caller; each call builds a reader from the
 * template checked at attach and the cursor's position. Nothing is written to the
 * state segment, which is read-only: a thread about to sleep announces itself in its
 * own lane's header (event_sleepers), where the apply thread looks after a turn that
 * published events before it rings the ring's bell.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "cairn/cairn.h"
#include "client/client.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "common/futex.h"

#define SPIN_NS  (20 * 1000)
#define SLEEP_NS (50 * 1000 * 1000) /* the longest sleep before re-checking the connection */

void cairn__events_attach(struct cairn__lane *l)
{
	const struct cairn_state_header *sh = l->state;
	/* cairn__state_validate has checked that the region lies in the segment. */
	if (sh->events_offset == 0) {
		l->events_err = -ENOTSUP;
		return;
	}
	l->events_err = cairn__broadcast_attach((const uint8_t *)l->state + sh->events_offset,
						(size_t)sh->events_size, &l->events);
}

CAIRN_API int cairn_events_open(cairn_client *c, struct cairn_events *ev)
{
	if (!ev) {
		return -EINVAL;
	}
	const struct cairn__lane *l = cairn__lane_now(c);
	if (l->events_err) {
		return l->events_err;
	}
	ev->next = cairn__broadcast_tail(&l->events);
	ev->missed = 0;
	ev->generation = l->gen;
	return 0;
}

CAIRN_API int cairn_events_read(cairn_client *c, struct cairn_events *ev, struct cairn_event *out,
				unsigned n)
{
	const struct cairn__lane *l = cairn__lane_now(c);
	if (l->events_err) {
		return l->events_err;
	}
	if (!ev || (!out && n)) {
		return -EINVAL;
	}
	if (ev->generation != l->gen) {
		/* Another daemon's ring: its numbers mean nothing here. */
		return -CAIRN_E_DISCONNECTED;
	}
	struct cairn__broadcast_reader r = l->events;
	r.next = ev->next;
	size_t got = cairn__broadcast_read(&r, out, n > INT_MAX ? INT_MAX : n, &ev->missed);
	ev->next = r.next;
	return (int)got;
}

/*
 * True when the cursor has something to read: an event numbered next, or a cursor
 * beyond the tail, which cairn_events_read moves back to it.
 */
static bool ready(const struct cairn_event_ring_header *h, uint64_t next, int order)
{
	return __atomic_load_n(&h->tail, order) != next;
}

CAIRN_API int cairn_events_wait(cairn_client *c, const struct cairn_events *ev, int64_t timeout_ns)
{
	if (!ev) {
		return -EINVAL;
	}
	struct cairn__lane *l = cairn__lane_now(c);
	if (l->events_err) {
		return l->events_err;
	}
	if (ev->generation != l->gen) {
		return -CAIRN_E_DISCONNECTED;
	}
	const struct cairn_event_ring_header *h = l->events.hdr;
	uint64_t next = ev->next;
	/* Acquire, paired with the writer's release of the tail: as cairn_events_read reads. */
	if (ready(h, next, __ATOMIC_ACQUIRE)) {
		return 0;
	}
	if (timeout_ns == 0) {
		return -ETIMEDOUT;
	}
	uint64_t start = cairn__now_ns();
	uint64_t deadline = timeout_ns < 0 ? 0 : start + (uint64_t)timeout_ns;
	uint64_t spin_end = start + SPIN_NS;
	if (deadline && deadline < spin_end) {
		spin_end = deadline;
	}
	for (;;) {
		for (int i = 0; i < 64; i++) {
			if (ready(h, next, __ATOMIC_ACQUIRE)) {
				return 0;
			}
			cairn__cpu_relax();
		}
		if (cairn__now_ns() >= spin_end) {
			break;
		}
	}

	struct cairn_lane_header *lh = l->base;
	/* The futex is only read by FUTEX_WAIT, which works on a read-only mapping. */
	uint32_t *word = (uint32_t *)&h->bell.word;
	for (;;) {
		int r = cairn__lane_check(c, l, deadline, true);
		if (r < 0) {
			return r;
		}
		if (cairn__lane_now(c) != l) {
			/* The daemon restarted: this cursor's ring is gone. */
			return -CAIRN_E_DISCONNECTED;
		}
		int64_t t = SLEEP_NS;
		if (deadline) {
			uint64_t now = cairn__now_ns();
			if (now >= deadline) {
				return -ETIMEDOUT;
			}
			if (deadline - now < (uint64_t)t) {
				t = (int64_t)(deadline - now);
			}
		}
		/*
		 * The doorbell protocol of doorbell.h, with the sleepers count in our lane:
		 * read the word first (acquire: before the re-check), announce ourselves
		 * (seq_cst), re-check the tail (seq_cst: it cannot be read before the
		 * announcement is visible). The apply thread stores the tail, fences
		 * (seq_cst) and then reads the lanes' counts: either it sees ours and bumps
		 * the word, or our re-check sees its tail.
		 */
		uint32_t v = cairn__load_acquire(word);
		cairn__add_seq_cst(&lh->event_sleepers, 1);
		r = 0;
		if (!ready(h, next, __ATOMIC_SEQ_CST)) {
			r = cairn__futex_wait(word, v, t);
		}
		/* Relaxed: only a hint to the daemon, like cairn__doorbell_cancel. */
		cairn__sub_relaxed(&lh->event_sleepers, 1);
		if (ready(h, next, __ATOMIC_ACQUIRE)) {
			return 0;
		}
		if (r == -EINTR) {
			return -EINTR;
		}
	}
}
