/*
 * Reattaching to the daemon after it went away, and resubmitting what it never answered.
 *
 * The invariant everything here rests on: cairnd consumes one lane's commands in
 * command-ring order and publishes exactly one result per command, in the same order
 * (one apply thread; DESIGN.md, "One writer"). So in any lane the k-th result published
 * answers the k-th command pushed, and when a lane dies with R results published and its
 * command ring claimed up to position H, the commands at positions [R, H) are exactly
 * those without an answer. If a daemon ever answers some commands out of order (path
 * queries on solver threads, say), retire() is what changes: the unanswered commands
 * are then the shadow's entries in [oldest unanswered, H) whose request ids have no
 * result among those published, and the shadow, kept by position, still holds them.
 *
 * What the daemon promises about a command without a result: its result is published
 * only once the command is durable, so it was either never logged (and never counts),
 * or it is in the exactly-once table under (session, request id), and resubmitting it
 * gets the original result without a second application. Reads are simply run again.
 * Hence resubmitting [R, H) in order, with the original request ids, on a new lane of
 * the same session, gives every command exactly one result.
 *
 * How a dead lane L is retired while other threads still push and pop on it:
 *
 *  1. Seal L's command ring. The daemon is gone, so nothing frees a slot any more: we
 *     claim every free position ourselves (tombstones, never published) until the ring
 *     is full. From then on every push on L fails, and a pusher that fails looks at the
 *     current lane and retries there once it has changed. Every position below the
 *     final head H was claimed by exactly one thread: a pusher (its command is resent
 *     unless it was answered) or us (a tombstone, skipped).
 *  2. Drain L's result ring into the client's queues (cairn__route: the poll queue and
 *     the mailbox), where cairn_poll, cairn_wait and cairn_call find them as usual. R is
 *     the position of the first slot not published. Other threads may pop some at the
 *     same time; they deliver what they popped themselves.
 *  3. Wait until every pusher that claimed a position in [R, H) has written its shadow
 *     entry (written before its slot, with nothing to wait for in between, so this is
 *     brief), and copy those commands out, in order: the pending list.
 *  4. Attach a new lane N with the same session id; copy L's blob arena into N's (a
 *     resubmitted command finds its input where it left it, and an answer the daemon
 *     wrote into L's arena stays at its offset in the arena callers read from now on);
 *     push the pending list into N, taking N's results into the queues to make room.
 *  5. Publish N as the current lane (release) and ring L's result doorbell, so that a
 *     thread asleep on L wakes up and moves to N.
 *
 * If N dies during step 4 it is retired the same way, and its unanswered commands go in
 * front of what was not pushed yet: the order holds over any number of restarts. Lanes
 * are never unmapped before cairn_close, so no thread ever touches freed memory.
 *
 * A lane counts as dead when its daemon closed the socket: the daemon does that only
 * once its apply thread no longer serves the lane (it died, exited, or dropped the lane),
 * so nothing can publish a result in L after we looked. A stale heartbeat is not enough:
 * a daemon that is only stopped or slow may resume serving L, and resubmitting L's
 * commands elsewhere would then race with it (it also still holds the session, so a
 * reattach would be refused with SESSION_IN_USE anyway).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cairn/cairn.h"
#include "client/client.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "shm/doorbell.h"
#include "shm/ring.h"

#define BACKOFF_MIN_NS     (10ull * 1000 * 1000)   /* after the first failed attempt */
#define BACKOFF_MAX_NS     (500ull * 1000 * 1000)  /* the longest wait between attempts */
#define ATTEMPT_TIMEOUT_NS (2000ull * 1000 * 1000) /* one handshake at most */
#define RETIRE_SPIN_NS     (20 * 1000)
#define RETIRE_YIELD_NS    (200 * 1000)
#define PAUSE_NS           (50 * 1000) /* a nap while waiting for a pusher or the daemon */

void cairn__recovery_init(cairn_client *c)
{
	struct cairn__recovery *rc = &c->rc;
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&rc->cond, &a);
	pthread_condattr_destroy(&a);
	pthread_mutex_init(&rc->lock, NULL);
}

void cairn__recovery_fini(cairn_client *c)
{
	struct cairn__recovery *rc = &c->rc;
	free(rc->pending);
	pthread_cond_destroy(&rc->cond);
	pthread_mutex_destroy(&rc->lock);
}

static void nap(uint64_t ns)
{
	struct timespec ts = cairn__ns_to_timespec(ns);
	nanosleep(&ts, NULL);
}

/* One more step of waiting for another thread: spin, then yield, then nap. */
static void idle_wait(struct cairn__idle *idle)
{
	if (cairn__idle_step(idle)) {
		nap(PAUSE_NS);
	}
}

/* A growable list of commands, private to the thread that reattaches. */
struct msgvec {
	struct cairn_msg *v;
	size_t n, cap;
};

static int msgvec_push(struct msgvec *l, const struct cairn_msg *m)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct cairn_msg *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *m;
	return 0;
}

/* ---- retiring a dead lane (steps 1 to 3) ---- */

/*
 * Step 1: claims every free position of l's command ring, whose consumer is gone, and
 * records the positions claimed in tomb (room for the ring's capacity), in increasing
 * order. Returns the final head H, or UINT64_MAX if the ring claims to have more free
 * slots than it has (memory no honest peer leaves behind).
 */
static uint64_t seal(struct cairn__lane *l, uint64_t *tomb, size_t *ntomb)
{
	struct cairn__ring *r = &l->cmd;
	uint64_t pos = cairn__load_relaxed(&r->hdr->head);
	*ntomb = 0;
	for (;;) {
		struct cairn_slot *s = &r->slots[pos & r->mask];
		/* Acquire, as a pusher's: pairs with the release of whoever last set seq. */
		uint64_t seq = cairn__load_acquire(&s->seq);
		int64_t dif = (int64_t)(seq - pos);
		if (dif == 0) {
			if (*ntomb > r->mask) {
				return UINT64_MAX;
			}
			/*
			 * The claim alone makes the position ours; the slot is never published,
			 * so no consumer could ever take it, and the ring stays full for good.
			 */
			if (cairn__cas_relaxed(&r->hdr->head, &pos, pos + 1)) {
				tomb[(*ntomb)++] = pos;
				pos++;
			}
		} else if (dif < 0) {
			/*
			 * The slot still holds an unconsumed command of the lap before (published
			 * or being written): only the consumer could free it, and it is gone. So
			 * no push at pos, or after it, can ever succeed: pos is the final head.
			 */
			return pos;
		} else {
			pos = cairn__load_relaxed(&r->hdr->head);
		}
	}
}

/*
 * Step 2: takes every result l's daemon published into the client's queues and returns
 * how many it published in all (R), popped by us or by anyone before.
 */
static uint64_t drain(cairn_client *c, struct cairn__lane *l)
{
	struct cairn__ring *r = &l->res;
	uint64_t pos = cairn__load_relaxed(&r->hdr->tail);
	for (;;) {
		struct cairn_slot *s = &r->slots[pos & r->mask];
		/* Acquire pairs with the daemon's release of seq = pos + 1 (the result). */
		uint64_t seq = cairn__load_acquire(&s->seq);
		int64_t dif = (int64_t)(seq - (pos + 1));
		if (dif == 0) {
			if (cairn__cas_relaxed(&r->hdr->tail, &pos, pos + 1)) {
				struct cairn_msg m;
				memcpy(&m, &s->msg, sizeof(m));
				/* Release, as any pop: our copy is done before the slot is reused.
				 */
				cairn__store_release(&s->seq, pos + r->mask + 1);
				/*
				 * Out of memory loses this one result, as it would in cairn_poll;
				 * the count below still covers it, so its command is not sent
				 * again.
				 */
				(void)cairn__route(c, &m);
				pos++;
			}
		} else if (dif < 0) {
			/*
			 * Not published, and the daemon is gone, so it never will be. Every
			 * position below pos was claimed by a pop, which only takes published
			 * slots, and the daemon publishes in order: pos is R.
			 */
			return pos;
		} else {
			pos = cairn__load_relaxed(&r->hdr->tail);
		}
	}
}

/*
 * Steps 1 to 3 for the dead lane l: appends to *out its commands that were never
 * answered, in order. Returns 0; -CAIRN_E_LAYOUT when its rings cannot be what an
 * honest daemon left (more results than commands, more commands unanswered than a lane
 * can hold); -ETIMEDOUT when a pusher had not finished its push by deadline; -ENOMEM.
 */
static int retire(cairn_client *c, struct cairn__lane *l, uint64_t deadline, struct msgvec *out)
{
	uint64_t *tomb = malloc((size_t)(l->cmd.mask + 1) * sizeof(*tomb));
	if (!tomb) {
		return -ENOMEM;
	}
	size_t ntomb, t = 0;
	int r = 0;
	uint64_t head = seal(l, tomb, &ntomb);
	uint64_t answered = drain(c, l);
	if (head == UINT64_MAX || answered > head || head - answered > l->shadow_mask + 1) {
		r = -CAIRN_E_LAYOUT;
		goto out;
	}
	for (uint64_t p = answered; p < head; p++) {
		while (t < ntomb && tomb[t] < p) {
			t++;
		}
		if (t < ntomb && tomb[t] == p) {
			continue;
		}
		const struct cairn_slot *sh = &l->shadow[p & l->shadow_mask];
		struct cairn__idle idle;
		cairn__idle_init(&idle, RETIRE_SPIN_NS, RETIRE_YIELD_NS);
		for (;;) {
			/* Acquire pairs with the pusher's release in shadow_put: the copy is whole.
			 */
			uint64_t seq = cairn__load_acquire(&sh->seq);
			if (seq == p + 1) {
				break;
			}
			if ((int64_t)(seq - (p + 1)) > 0) {
				/* Reused by a later lap: only if the daemon answered out of turn.
				 */
				r = -CAIRN_E_LAYOUT;
				goto out;
			}
			if (cairn__now_ns() >= deadline) {
				r = -ETIMEDOUT;
				goto out;
			}
			idle_wait(&idle);
		}
		r = msgvec_push(out, &sh->msg);
		if (r < 0) {
			goto out;
		}
	}
out:
	free(tomb);
	return r;
}

/*
 * Retires lane l and puts its unanswered commands in front of the pending list's
 * commands from index sent on (those not pushed into l). Returns 0 or a code of retire.
 */
static int requeue(cairn_client *c, struct cairn__lane *l, size_t sent)
{
	struct cairn__recovery *rc = &c->rc;
	struct msgvec v = {0};
	int r = retire(c, l, rc->deadline, &v);
	for (size_t i = sent; r == 0 && i < rc->npending; i++) {
		r = msgvec_push(&v, &rc->pending[i]);
	}
	if (r < 0) {
		free(v.v);
		return r;
	}
	free(rc->pending);
	rc->pending = v.v;
	rc->npending = v.n;
	rc->pending_cap = v.cap;
	return 0;
}

/* ---- attaching again (steps 4 and 5) ---- */

/* Takes every result n has published so far into the queues, making room in its ring. */
static void take_results(cairn_client *c, struct cairn__lane *n)
{
	struct cairn_msg m;
	/* Nobody else knows n yet: these pops never race, but they are the ring's own. */
	while (cairn__ring_try_pop(&n->res, &m)) {
		(void)cairn__route(c, &m);
	}
}

/*
 * Lets go of the memory of dead daemons' state segments: every lane's but those of cur
 * (the lane just published) and prev (the one it replaced, which a thread may still be
 * reading through). A mapping is never removed, since a thread may hold a pointer into
 * it (a grid read or an event wait that started before a restart); it is replaced, at
 * the same address, by zero pages (MAP_FIXED swaps the two atomically). Reading there
 * stays harmless: a record of zeros is no hunt and no entity, and a seqlock of zero is
 * simply even. What that frees is the dead daemon's memfd, which our mapping alone
 * would otherwise keep alive: after many restarts, many times the size of the world.
 * The lanes themselves are kept as they are: a thread that pushes on an old lane must
 * find its ring full, and an old lane is small.
 */
static void release_states(cairn_client *c, struct cairn__lane *cur, struct cairn__lane *prev)
{
	for (struct cairn__lane *l = c->newest; l; l = l->older) {
		if (l == cur || l == prev || l->state_released || !l->state) {
			continue;
		}
		void *p = mmap(l->state, (size_t)l->state_size, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		/* On failure the old mapping simply stays, memory and all. */
		l->state_released = p == l->state;
	}
}

/* Gives the connection up for good: every call returns code from now on. */
static int give_up(cairn_client *c, int code)
{
	struct cairn__recovery *rc = &c->rc;
	rc->npending = 0;
	/*
	 * Relaxed: dead only ever goes from 0 to a code, and a thread that reads it late has
	 * nothing of ours to see: it finds the sealed lane full or empty and looks again.
	 */
	cairn__store_relaxed(&c->dead, code);
	cairn__store_relaxed(&c->recovering, 0);
	/* Wake whoever sleeps on the current lane: they find the connection dead. */
	cairn__doorbell_ring(&cairn__lane_now(c)->res.hdr->bell);
	return code;
}

/*
 * One attempt: attaches a new lane, resubmits the pending list into it, and makes it
 * the current lane. Returns 0, or why it failed (the caller waits and tries again while
 * the deadline allows, unless the connection was given up here). A new lane that dies
 * during the resubmission is retired at once and becomes the lane the next attempt
 * replaces.
 */
static int attempt(cairn_client *c)
{
	struct cairn__recovery *rc = &c->rc;
	uint64_t now = cairn__now_ns();
	uint64_t timeout = rc->deadline - now;
	if (timeout > ATTEMPT_TIMEOUT_NS) {
		timeout = ATTEMPT_TIMEOUT_NS;
	}
	struct cairn__lane *n;
	uint32_t resubmitting = rc->npending > UINT32_MAX ? UINT32_MAX : (uint32_t)rc->npending;
	int r = cairn__lane_attach(c, resubmitting, timeout, &n);
	if (r < 0) {
		return r;
	}
	struct cairn__lane *from = rc->from;
	n->gen = from->gen + 1;
	/* Kept until cairn_close, whatever happens to it from here on. */
	n->older = c->newest;
	c->newest = n;
	memcpy(n->blob, from->blob,
	       (size_t)(n->blob_size < from->blob_size ? n->blob_size : from->blob_size));

	size_t sent = 0;
	struct cairn__idle idle;
	cairn__idle_init(&idle, RETIRE_SPIN_NS, RETIRE_YIELD_NS);
	while (sent < rc->npending) {
		size_t left = rc->npending - sent;
		unsigned k = cairn__lane_push_batch(n, rc->pending + sent,
						    left > 65536 ? 65536 : (unsigned)left);
		if (k > 0) {
			sent += k;
			cairn__lane_ring_daemon(n);
			cairn__idle_reset(&idle);
			continue;
		}
		/* Full: the daemon takes more only as its results are taken. */
		take_results(c, n);
		if (cairn__lane_hung_up(n)) {
			/* Gone again: what n did not answer goes first next time. */
			rc->from = n;
			r = requeue(c, n, sent);
			return r < 0 ? give_up(c, -CAIRN_E_DISCONNECTED) : -CAIRN_E_DISCONNECTED;
		}
		if (cairn__now_ns() >= rc->deadline) {
			/*
			 * Out of time, with a daemon that still serves n: n cannot be retired (it
			 * may still answer), so the connection is given up as it stands.
			 */
			return give_up(c, -CAIRN_E_DISCONNECTED);
		}
		idle_wait(&idle);
	}

	/* Done: everything the old lanes left unanswered is in n, in order. */
	struct cairn__lane *old = cairn__lane_now(c);
	/* Relaxed: statistics for cairn_daemon_info. */
	cairn__store_relaxed(&rc->resubmitted, rc->resubmitted + rc->npending);
	cairn__store_relaxed(&rc->reconnects, rc->reconnects + 1);
	rc->npending = 0;
	rc->from = NULL;
	cairn__store_relaxed(&c->recovering, 0);
	/*
	 * Release, paired with cairn__lane_now's acquire: a thread that sees n sees it whole
	 * (its mappings, shadow, grid view, arena copy) and recovering back at 0.
	 */
	cairn__store_release(&c->lane, n);
	/*
	 * Threads asleep on the old lane's result doorbell check the current lane before
	 * they sleep (Dekker, as for results): this wakes those that saw the old one.
	 */
	cairn__doorbell_ring(&old->res.hdr->bell);
	release_states(c, n, old);
	return 0;
}

/*
 * The work of cairn__client_recover, by the one thread whose turn it is (rc->running):
 * starts the reattach of seen if none is under way, then attempts attaches with backoff until
 * one succeeds, the reattach deadline passes (the connection is then given up), or the
 * caller's turn ends (until, or one attempt when not wait).
 */
static int run(cairn_client *c, struct cairn__lane *seen, uint64_t until, bool wait)
{
	struct cairn__recovery *rc = &c->rc;
	if (!rc->from) {
		/*
		 * The first to find seen gone. Look again ourselves: a lane is retired only
		 * when its daemon has certainly stopped serving it.
		 */
		if (!cairn__lane_hung_up(seen)) {
			return 0;
		}
		int code = cairn__lane_dead_code(seen);
		if (code == -CAIRN_E_LANE_DROPPED || c->reconnect_ns < 0) {
			/* Dropped for what the lane held, or asked not to: as before sessions. */
			return give_up(c, code);
		}
		rc->deadline = cairn__now_ns() + (uint64_t)c->reconnect_ns;
		rc->next_try = 0;
		rc->backoff_ns = BACKOFF_MIN_NS;
		rc->npending = 0;
		int r = requeue(c, seen, 0);
		if (r < 0) {
			return give_up(c, -CAIRN_E_DISCONNECTED);
		}
		rc->from = seen;
		cairn__store_relaxed(&c->recovering, 1);
	}
	for (;;) {
		uint64_t now = cairn__now_ns();
		if (now >= rc->deadline) {
			return give_up(c, -CAIRN_E_DISCONNECTED);
		}
		if (until && now >= until) {
			return -ETIMEDOUT;
		}
		if (now < rc->next_try) {
			if (!wait) {
				return -EAGAIN;
			}
			uint64_t t = rc->next_try;
			if (until && until < t) {
				t = until;
			}
			nap(t - now);
			continue;
		}
		int r = attempt(c);
		if (r == 0) {
			return 0;
		}
		int d = cairn__load_relaxed(&c->dead);
		if (d) {
			return d;
		}
		rc->next_try = cairn__now_ns() + rc->backoff_ns;
		rc->backoff_ns =
			rc->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : rc->backoff_ns * 2;
		if (!wait) {
			return -EAGAIN;
		}
	}
}

int cairn__client_recover(cairn_client *c, struct cairn__lane *seen, uint64_t until, bool wait)
{
	struct cairn__recovery *rc = &c->rc;
	int r;
	pthread_mutex_lock(&rc->lock);
	for (;;) {
		if (cairn__lane_now(c) != seen) {
			r = 0;
			goto out;
		}
		r = cairn__load_relaxed(&c->dead);
		if (r) {
			goto out;
		}
		if (!rc->running) {
			break;
		}
		if (!wait) {
			r = -EAGAIN;
			goto out;
		}
		if (until) {
			struct timespec ts = cairn__ns_to_timespec(until);
			if (pthread_cond_timedwait(&rc->cond, &rc->lock, &ts) == ETIMEDOUT &&
			    rc->running && cairn__lane_now(c) == seen) {
				r = -ETIMEDOUT;
				goto out;
			}
		} else {
			pthread_cond_wait(&rc->cond, &rc->lock);
		}
	}
	/* Our turn. The work runs unlocked, so that others can wait with timeouts. */
	rc->running = true;
	pthread_mutex_unlock(&rc->lock);
	r = run(c, seen, until, wait);
	pthread_mutex_lock(&rc->lock);
	rc->running = false;
	pthread_cond_broadcast(&rc->cond);
out:
	pthread_mutex_unlock(&rc->lock);
	return r;
}
