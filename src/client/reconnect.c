/*
 * Reattaching to the daemon after it went away, and resubmitting what it never answered.
 *
 * What everything here rests on: cairnd consumes one lane's commands in command-ring
 * order and publishes exactly one result per command. Path commands (NEXT_MOVE,
 * DISTANCE, PATH, PATH_TO_CLUE) run on solver threads, and their results come whenever
 * they are done; the results of all other commands, the in-order ones, come in the
 * order of their commands (one apply thread; DESIGN.md, "One writer"). So when a lane
 * dies with R results published and its command ring claimed up to position H:
 *  - the in-order commands answered are the first ones, as many as there are in-order
 *    results among the R: R less the path results popped (every result published is
 *    popped in the end, by the drain below if not before). The unanswered ones are the
 *    last U = (in-order commands pushed) - (R - path results popped) below H;
 *  - the path commands unanswered are those whose result was never popped. Positions
 *    cannot tell them, so the lane keeps a list of them (l->paths, client.h): the push
 *    adds a path command before it publishes the slot, the pop of its result removes it
 *    before it releases the result slot.
 * The shadow, kept by position, still holds the last U in-order commands. It has room
 * for as many commands as a lane can have unanswered (command plus result ring), and
 * once the daemon has taken an in-order command u without answering it, it publishes
 * no result of a command taken after u before u's, so it takes at most a result ring's
 * worth after u, and the pushers claim at most a command ring's worth beyond that: all
 * of [u, H) is in the shadow's current lap. A path command may be far older than that
 * (a long search while many other commands came and went), which is why its list entry
 * keeps a copy of it.
 *
 * What the daemon promises about a command without a result: its result is published
 * only once the command is durable, so it was either never logged (and never counts),
 * or it is in the exactly-once table under (session, request id), and resubmitting it
 * gets the original result without a second application. Reads are simply run again.
 * Hence resubmitting the unanswered commands in ring order, with the original request
 * ids, on a new lane of the same session, gives every command exactly one result. A path
 * command is a read and is simply run again; but resubmitting one that had been
 * answered would give it a second result, which is why the count of path results and
 * the list must agree with everything popped before anything is resubmitted (step 3).
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
 *     same time; they deliver what they popped themselves. Every pop, the drain's too,
 *     takes a path result's command off L's list.
 *  3. Wait until every pusher that claimed one of the last command ring's worth of
 *     positions below H has written its shadow entry (and for a path command its list
 *     entry; both come before the slot, with nothing to wait for in between, so this
 *     is brief: older positions were published, so written), and until every popper
 *     that claimed a result slot below R has released it (and so unhooked its path
 *     result, if it was one). Then copy out the path commands left on the list and the
 *     last U in-order commands of the shadow, merged in ring order: the pending list.
 *  4. Attach a new lane N with the same session id; copy L's blob arena into N's (a
 *     resubmitted command finds its input where it left it, and an answer the daemon
 *     wrote into L's arena stays at its offset in the arena callers read from now on);
 *     push the pending list into N, taking N's results out of its ring to make room.
 *  5. Publish N as the current lane (release), then hand N's results to the queues (an
 *     answer N's daemon wrote into N's arena is visible to callers only from now on),
 *     and ring L's result doorbell, so that a thread asleep on L wakes up and moves to N.
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
	free(rc->early.v);
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

/* Appends to a list private to the thread that reattaches (no lock). */
static int msgvec_push(struct cairn__msg_list *l, const struct cairn_msg *m)
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
 * how many it published in all (R), popped by us or by anyone before. When l is a new
 * lane that died before it became the current one, its results wait in rc->early with
 * those take_results kept, for the lane that gets a copy of l's arena.
 */
static uint64_t drain(cairn_client *c, struct cairn__lane *l)
{
	struct cairn__ring *r = &l->res;
	bool hold = l != cairn__lane_now(c);
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
				if (cairn__path_result(&m)) {
					cairn__paths_unhook(l, &m);
				}
				/* Release, as any pop: copy and unhook before the slot is free. */
				cairn__store_release(&s->seq, pos + r->mask + 1);
				/*
				 * Out of memory loses this one result, as it would in cairn_poll;
				 * the count below still covers it, so its command is not sent
				 * again.
				 */
				if (!hold || msgvec_push(&c->rc.early, &m) < 0) {
					(void)cairn__route(c, &m);
				}
				pos++;
			}
		} else if (dif < 0) {
			/*
			 * Not published, and the daemon is gone, so it never will be. Every
			 * position below pos was claimed by a pop, which only takes published
			 * slots, and the daemon fills its slots in ring order (whatever the
			 * order of the commands they answer): pos is R.
			 */
			return pos;
		} else {
			pos = cairn__load_relaxed(&r->hdr->tail);
		}
	}
}

/*
 * Step 3, for the pushers: waits until every position of l's command ring in
 * [head - capacity, head) that is not a tombstone (tomb, ntomb: increasing) has its
 * shadow entry written, and with it, for a path command, its list entry. Positions below
 * that were published, since a later lap claimed their slots, so they were written.
 * Returns 0, -CAIRN_E_LAYOUT (an entry of a later lap, which no honest daemon allows),
 * or -ETIMEDOUT when a pusher had not finished by deadline.
 */
static int wait_pushers(struct cairn__lane *l, uint64_t head, const uint64_t *tomb, size_t ntomb,
			uint64_t deadline)
{
	uint64_t cap = l->cmd.mask + 1;
	size_t t = 0;
	for (uint64_t p = head > cap ? head - cap : 0; p < head; p++) {
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
			/*
			 * Acquire pairs with the pusher's release in shadow_put: the copy is whole,
			 * and its list entry, added before, is in l->paths.
			 */
			uint64_t seq = cairn__load_acquire(&sh->seq);
			if (seq == p + 1) {
				break;
			}
			if ((int64_t)(seq - (p + 1)) > 0) {
				return -CAIRN_E_LAYOUT;
			}
			if (cairn__now_ns() >= deadline) {
				return -ETIMEDOUT;
			}
			idle_wait(&idle);
		}
	}
	return 0;
}

/*
 * Step 3, for the poppers: waits until every slot of l's result ring below answered (R)
 * that some thread claimed has been released, so that a path result among them is off
 * l's list and counted. Only the last ring's worth can still be held: the daemon
 * published the others' next lap only once they were free. Returns 0 or -ETIMEDOUT.
 */
static int wait_poppers(struct cairn__lane *l, uint64_t answered, uint64_t deadline)
{
	uint64_t cap = l->res.mask + 1;
	for (uint64_t p = answered > cap ? answered - cap : 0; p < answered; p++) {
		const struct cairn_slot *s = &l->res.slots[p & l->res.mask];
		struct cairn__idle idle;
		cairn__idle_init(&idle, RETIRE_SPIN_NS, RETIRE_YIELD_NS);
		/*
		 * Every position below R was claimed (the drain saw to it), so seq == p + 1
		 * means claimed and not released yet. Acquire pairs with the popper's release:
		 * its unhook is done, and l->paths' lock shows it to us.
		 */
		while (cairn__load_acquire(&s->seq) == p + 1) {
			if (cairn__now_ns() >= deadline) {
				return -ETIMEDOUT;
			}
			idle_wait(&idle);
		}
	}
	return 0;
}

static int by_pos(const void *a, const void *b)
{
	const struct cairn__path_entry *x = a, *y = b;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Step 3, the counting: copies out l's path commands without a result, in ring order,
 * into *paths (*npaths; the caller frees it), and computes how many of l's in-order
 * commands were not answered: *unanswered. Returns 0, -ENOMEM, or -CAIRN_E_LAYOUT when
 * the counts cannot come from an honest daemon (more results than commands, a path
 * result without its command).
 */
static int count_unanswered(struct cairn__lane *l, uint64_t head, size_t ntomb, uint64_t answered,
			    struct cairn__path_entry **paths, size_t *npaths, uint64_t *unanswered)
{
	struct cairn__paths *pl = &l->paths;
	int r = 0;
	*paths = NULL;
	*npaths = 0;
	pthread_mutex_lock(&pl->lock);
	uint64_t pushed = pl->pushed, popped = pl->popped;
	size_t n = pl->n;
	bool lost = pl->lost;
	struct cairn__path_entry *v = NULL;
	if (n) {
		v = malloc(n * sizeof(*v));
		if (v) {
			memcpy(v, pl->v, n * sizeof(*v));
		}
	}
	pthread_mutex_unlock(&pl->lock);
	if (n && !v) {
		return -ENOMEM;
	}
	/* A path command that could not be listed: which results it had is unknown. */
	if (lost) {
		r = -ENOMEM;
		goto fail;
	}
	uint64_t commands = head - ntomb;
	if (answered > commands || pushed > commands || popped > answered || popped > pushed ||
	    pushed - popped != n) {
		r = -CAIRN_E_LAYOUT;
		goto fail;
	}
	uint64_t in_order = commands - pushed, in_order_answered = answered - popped;
	if (in_order_answered > in_order || in_order - in_order_answered > l->shadow_mask + 1) {
		r = -CAIRN_E_LAYOUT;
		goto fail;
	}
	if (n) {
		qsort(v, n, sizeof(*v),
		      by_pos); /* v is NULL when n is 0, which qsort must not see */
	}
	*paths = v;
	*npaths = n;
	*unanswered = in_order - in_order_answered;
	return 0;
fail:
	free(v);
	return r;
}

/*
 * Steps 1 to 3 for the dead lane l: appends to *out its commands that were never
 * answered, in ring order. Returns 0; -CAIRN_E_LAYOUT when its rings cannot be what an
 * honest daemon left (more results than commands, more commands unanswered than a lane
 * can hold, a path result no command asked for); -ETIMEDOUT when a pusher or a popper
 * had not finished by deadline; -ENOMEM.
 */
static int retire(cairn_client *c, struct cairn__lane *l, uint64_t deadline,
		  struct cairn__msg_list *out)
{
	uint64_t *tomb = malloc((size_t)(l->cmd.mask + 1) * sizeof(*tomb));
	uint64_t *last = NULL;
	struct cairn__path_entry *paths = NULL;
	if (!tomb) {
		return -ENOMEM;
	}
	size_t ntomb, npaths = 0;
	uint64_t unanswered = 0;
	int r = 0;
	uint64_t head = seal(l, tomb, &ntomb);
	uint64_t answered = drain(c, l);
	if (head == UINT64_MAX) {
		r = -CAIRN_E_LAYOUT;
		goto out;
	}
	r = wait_pushers(l, head, tomb, ntomb, deadline);
	if (r == 0) {
		r = wait_poppers(l, answered, deadline);
	}
	if (r == 0) {
		r = count_unanswered(l, head, ntomb, answered, &paths, &npaths, &unanswered);
	}
	if (r < 0) {
		goto out;
	}

	/*
	 * The last `unanswered` in-order commands below head, newest first: all within the
	 * shadow's current lap (see the top of this file), else the daemon answered an
	 * in-order command out of turn.
	 */
	last = malloc((size_t)(unanswered ? unanswered : 1) * sizeof(*last));
	if (!last) {
		r = -ENOMEM;
		goto out;
	}
	uint64_t lap = l->shadow_mask + 1, lo = head > lap ? head - lap : 0, k = 0;
	size_t t = ntomb;
	for (uint64_t p = head; k < unanswered; p--) {
		if (p == lo) {
			r = -CAIRN_E_LAYOUT;
			goto out;
		}
		while (t > 0 && tomb[t - 1] > p - 1) {
			t--;
		}
		if (t > 0 && tomb[t - 1] == p - 1) {
			continue;
		}
		const struct cairn_slot *sh = &l->shadow[(p - 1) & l->shadow_mask];
		/* Acquire pairs with shadow_put's release; wait_pushers saw the newest ones. */
		if (cairn__load_acquire(&sh->seq) != p) {
			r = -CAIRN_E_LAYOUT;
			goto out;
		}
		if (!cairn__path_cmd(&sh->msg)) {
			last[k++] = p - 1;
		}
	}

	/* Both lists merged by position: the order the commands were first pushed in. */
	size_t i = 0;
	while (r == 0 && (i < npaths || k > 0)) {
		if (i < npaths && (k == 0 || paths[i].pos < last[k - 1])) {
			r = msgvec_push(out, &paths[i++].msg);
		} else {
			k--;
			r = msgvec_push(out, &l->shadow[last[k] & l->shadow_mask].msg);
		}
	}
out:
	free(last);
	free(paths);
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
	struct cairn__msg_list v = {0};
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

/*
 * Takes every result n has published so far, making room in its ring, and keeps them in
 * rc->early until n is the current lane: an answer the daemon wrote into n's arena is
 * where callers look (cairn_blob, the query calls) only from then on.
 */
static void take_results(cairn_client *c, struct cairn__lane *n)
{
	struct cairn_msg m;
	/* Nobody else knows n yet: these pops never race, but they unhook path results. */
	while (cairn__lane_pop(n, &m)) {
		if (msgvec_push(&c->rc.early, &m) < 0) {
			/* No memory to keep it: delivered at once. */
			(void)cairn__route(c, &m);
		}
	}
}

/* Hands the results kept back by take_results to their callers. */
static void route_early(cairn_client *c)
{
	struct cairn__msg_list *e = &c->rc.early;
	for (size_t i = 0; i < e->n; i++) {
		(void)cairn__route(c, &e->v[i]);
	}
	e->n = 0;
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
	/* Whatever a new lane answered still goes to its caller. */
	route_early(c);
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
	route_early(c);
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
		if (code != -CAIRN_E_DISCONNECTED || c->reconnect_ns < 0) {
			/*
			 * Dropped for what the lane held, evicted by an operator, or asked not
			 * to: as before sessions. Only a daemon that went away is reattached.
			 */
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
