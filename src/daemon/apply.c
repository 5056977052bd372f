/*
 * The apply thread: the one writer.
 *
 * It serves the active lanes round robin, taking at most cfg.batch commands from one
 * lane per turn so that a busy client cannot starve the others. A command is taken
 * only when its result has room: a client that does not read its results stalls its
 * own lane and nothing else. When every lane is empty it spins, yields, and then
 * sleeps on all their command doorbells at once with futex_waitv, together with its
 * own private doorbell that the control thread rings.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/atomic.h"
#include "common/clock.h"
#include "common/futex.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "shm/doorbell.h"

#define HEARTBEAT_NS     (1000 * 1000)      /* stamp the heartbeat at most this often */
#define SLEEP_NS         (50 * 1000 * 1000) /* longest sleep: keeps the heartbeat fresh */
#define BLOCKED_SLEEP_NS (1000 * 1000)      /* sleep while a lane waits for result room */

struct applier {
	struct daemon *d;
	struct lane **active;
	unsigned nactive;
	unsigned next; /* round-robin start */
	bool waitv_ok;
	struct cairn_msg *scratch;
	uint64_t events_seen; /* the engine's event count at the last wake check */
	/* Private counters, published to the state segment by publish_counters. */
	uint64_t commands, results, errors, full, sleeps, wakes, dropped;
};

void cairnd_post_to_apply(struct daemon *d, enum lane_event ev, struct lane *l)
{
	pthread_mutex_lock(&d->to_apply_lock);
	CAIRN_ASSERT(d->n_to_apply < d->queue_cap);
	d->to_apply[d->n_to_apply++] = (struct lane_msg){ev, l};
	pthread_mutex_unlock(&d->to_apply_lock);
	/* Release: the queued message is visible to whoever sees the flag. */
	cairn__store_release(&d->apply_pending, 1);
	cairn__add_seq_cst(&d->apply_bell, 1);
	cairn__futex_wake(&d->apply_bell, 1);
}

void cairnd_post_to_control(struct daemon *d, enum lane_event ev, struct lane *l)
{
	uint64_t one = 1;
	pthread_mutex_lock(&d->to_control_lock);
	CAIRN_ASSERT(d->n_to_control < d->queue_cap);
	d->to_control[d->n_to_control++] = (struct lane_msg){ev, l};
	pthread_mutex_unlock(&d->to_control_lock);
	ssize_t w = write(d->control_efd, &one, sizeof(one));
	(void)w; /* an eventfd write fails only if the counter would overflow */
}

static void remove_active(struct applier *a, struct lane *l)
{
	for (unsigned i = 0; i < a->nactive; i++) {
		if (a->active[i] == l) {
			a->active[i] = a->active[--a->nactive];
			break;
		}
	}
	if (a->next >= a->nactive) {
		a->next = 0;
	}
}

static void publish_counters(struct applier *a)
{
	struct cairn_daemon_counters *k = a->d->counters;
	/* Relaxed: each counter has this one writer; readers want a recent value, not order. */
	cairn__store_relaxed(&k->commands, a->commands);
	cairn__store_relaxed(&k->results, a->results);
	cairn__store_relaxed(&k->errors, a->errors);
	cairn__store_relaxed(&k->result_ring_full, a->full);
	cairn__store_relaxed(&k->sleeps, a->sleeps);
	cairn__store_relaxed(&k->wakes_sent, a->wakes);
	cairn__store_relaxed(&k->lanes_dropped, a->dropped);
	cairn__store_relaxed(&k->lanes_active, (uint64_t)a->nactive);
}

static void drop_lane(struct applier *a, struct lane *l, const char *why)
{
	struct cairn_lane_header *h = l->base;
	cairn__warn("dropping lane %u (client %llu, pid %d, \"%s\"): %s", l->id,
		    (unsigned long long)l->client_id, (int)l->pid, l->name, why);
	l->dropped = true;
	/* Tell the client why before the control thread closes its socket. */
	cairn__store_release(&h->lane_state, CAIRN_LANE_DROPPED);
	cairn__doorbell_ring(&l->res.hdr->bell);
	remove_active(a, l);
	a->dropped++;
	/* The lane stays mapped until its EV_DETACH is answered with EV_RELEASED. */
	cairnd_post_to_control(a->d, EV_DROPPED, l);
}

static void take_control_messages(struct applier *a)
{
	struct daemon *d = a->d;
	struct lane_msg msgs[64];
	size_t n;
	/* Acquire pairs with the release in cairnd_post_to_apply. */
	if (!cairn__load_acquire(&d->apply_pending)) {
		return;
	}
	do {
		pthread_mutex_lock(&d->to_apply_lock);
		n = d->n_to_apply < 64 ? d->n_to_apply : 64;
		memcpy(msgs, d->to_apply, n * sizeof(msgs[0]));
		memmove(d->to_apply, d->to_apply + n, (d->n_to_apply - n) * sizeof(msgs[0]));
		d->n_to_apply -= n;
		if (d->n_to_apply == 0) {
			cairn__store_relaxed(&d->apply_pending, 0);
		}
		pthread_mutex_unlock(&d->to_apply_lock);
		for (size_t i = 0; i < n; i++) {
			struct lane *l = msgs[i].lane;
			if (msgs[i].ev == EV_ATTACH) {
				a->active[a->nactive++] = l;
			} else if (msgs[i].ev == EV_DETACH) {
				if (!l->dropped) {
					/* A dropped lane left the active set when it was dropped.
					 */
					remove_active(a, l);
					struct cairn_lane_header *h = l->base;
					cairn__store_release(&h->lane_state, CAIRN_LANE_CLOSED);
				}
				cairnd_post_to_control(d, EV_RELEASED, l);
			}
		}
	} while (n == 64);
	publish_counters(a);
}

/*
 * Serves one turn of lane l: up to cfg.batch commands, each only when its result has
 * room. Returns how many commands were applied.
 *
 * The turn works in phases: copy commands out of the ring while their results have room,
 * start the memory loads every command will need (the engine's prefetch), apply
 * them in order, and publish the results. Starting the loads of a whole batch before
 * applying any overlaps their cache misses, which on a large game is where the time goes;
 * the price is that a turn's results are published together (32 commands: a few µs).
 */
static unsigned serve(struct applier *a, struct lane *l)
{
	struct daemon *d = a->d;
	struct cairn_msg cmds[CAIRND_MAX_BATCH], outs[CAIRND_MAX_BATCH];
	unsigned max = d->cfg.batch < CAIRND_MAX_BATCH ? d->cfg.batch : CAIRND_MAX_BATCH;
	/* Never look a lap ahead: a ring smaller than the batch holds only capacity results. */
	if (max > (uint64_t)l->res.mask + 1) {
		max = l->res.mask + 1;
	}
	unsigned n = 0;
	/*
	 * Take a command only while its result has a free slot (seq == pos): a slot still
	 * holding last lap's result (seq == pos - mask) means the client has not read it,
	 * and any other value was written by the client, which drops the lane. Checking
	 * room command by command, rather than counting it first, reads one result slot for
	 * a lone command instead of a batch's worth.
	 */
	while (n < max) {
		uint64_t pos = l->res.cursor + n;
		uint64_t seq = cairn__load_acquire(&l->res.slots[pos & l->res.mask].seq);
		if (seq != pos) {
			if (seq != pos - l->res.mask) {
				drop_lane(a, l, "result ring sequence numbers were overwritten");
				return 0;
			}
			if (!l->blocked && cairn__ring_owner_readable(&l->cmd)) {
				l->blocked = true;
				a->full++;
			}
			break;
		}
		int got = cairn__ring_owner_pop(&l->cmd, &cmds[n]);
		if (got != CAIRN__RING_OK) {
			if (got == CAIRN__RING_CORRUPT) {
				drop_lane(a, l, "command ring sequence numbers were overwritten");
				return 0;
			}
			break;
		}
		n++;
	}
	if (n == 0) {
		return 0;
	}
	l->blocked = false;
	uint64_t ingress = cairn__now_ns();
	for (unsigned i = 0; i < n; i++) {
		cairn__engine_prefetch(d->engine, &cmds[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		cairnd_handle(d, l, &cmds[i], ingress, &outs[i]);
		a->errors += outs[i].hdr.type == CAIRN_MSG_ERROR;
	}
	for (unsigned i = 0; i < n; i++) {
		cairn__ring_owner_push(&l->res, &outs[i]);
	}
	a->commands += n;
	a->results += n;
	a->wakes += cairn__doorbell_ring(&l->res.hdr->bell);
	return n;
}

/*
 * After a turn that published events: wakes the readers asleep on the event ring, if
 * some lane says it has any. A host cannot write to the state segment, so it announces
 * its sleeping readers in its own lane; the value is only a hint to make the syscall,
 * and a lying host costs itself nothing but a wake-up per turn.
 */
static void wake_event_readers(struct applier *a)
{
	uint64_t t = cairn__engine_events_published(a->d->engine);
	if (t == a->events_seen) {
		return;
	}
	a->events_seen = t;
	/* Orders the event publication before the sleepers loads (doorbell.h's Dekker). */
	cairn__fence_seq_cst();
	for (unsigned i = 0; i < a->nactive; i++) {
		struct cairn_lane_header *h = a->active[i]->base;
		if (cairn__load_relaxed(&h->event_sleepers) != 0) {
			cairn__engine_wake_event_readers(a->d->engine);
			a->wakes++;
			return;
		}
	}
}

/* Sleeps until a command doorbell or the control doorbell rings, or a timeout. */
static void sleep_on_lanes(struct applier *a)
{
	struct daemon *d = a->d;
	struct cairn__waitv v[CAIRN__WAITV_MAX];
	unsigned n = 0;
	bool any_blocked = false;

	/*
	 * apply_bell is woken with a shared FUTEX_WAKE (cairn__futex_wake), so it must be
	 * waited on as a shared futex too: a private wait has a different key and would
	 * never see that wake.
	 */
	v[n++] = (struct cairn__waitv){&d->apply_bell, cairn__load_acquire(&d->apply_bell), 0};
	bool use_waitv = a->waitv_ok && a->nactive + 1 <= CAIRN__WAITV_MAX;
	for (unsigned i = 0; i < a->nactive; i++) {
		struct lane *l = a->active[i];
		any_blocked |= l->blocked;
		if (use_waitv && !l->blocked) {
			struct cairn_doorbell *b = &l->cmd.hdr->bell;
			v[n++] = (struct cairn__waitv){&b->word, cairn__doorbell_prepare(b), 0};
		}
	}
	/* Re-check after announcing ourselves (the doorbell protocol in doorbell.h). */
	bool ready = cairn__load_acquire(&d->apply_pending) || cairn__load_acquire(&d->stopping);
	for (unsigned i = 0; i < a->nactive && !ready; i++) {
		ready = !a->active[i]->blocked && cairn__ring_owner_readable(&a->active[i]->cmd);
	}
	if (!ready) {
		a->sleeps++;
		publish_counters(a);
		int64_t t = any_blocked || !use_waitv ? BLOCKED_SLEEP_NS : SLEEP_NS;
		if (use_waitv) {
			int r = cairn__futex_waitv(v, n, t);
			if (r == -ENOSYS || r == -EPERM) {
				cairn__warn("futex_waitv is not available (%s): idle lanes are "
					    "polled every %d us instead",
					    r == -ENOSYS ? "kernel older than 5.16"
							 : "blocked by seccomp",
					    BLOCKED_SLEEP_NS / 1000);
				a->waitv_ok = false;
			}
		} else {
			cairn__futex_wait(&d->apply_bell, v[0].expected, t);
		}
	}
	for (unsigned i = 0; i < a->nactive; i++) {
		struct lane *l = a->active[i];
		if (use_waitv && !l->blocked) {
			cairn__doorbell_cancel(&l->cmd.hdr->bell);
		}
	}
}

/*
 * True when no active lane has a command waiting. A lane whose result ring is full still
 * counts as waiting: its client may yet read, and the drain timeout bounds the wait.
 */
static bool drained(struct applier *a)
{
	for (unsigned i = 0; i < a->nactive; i++) {
		if (cairn__ring_owner_readable(&a->active[i]->cmd)) {
			return false;
		}
	}
	return true;
}

void *cairnd_apply_main(void *arg)
{
	struct daemon *d = arg;
	struct applier a = {.d = d, .waitv_ok = true};
	struct cairn__idle idle;
	uint64_t last_beat = 0, drain_deadline = 0;
	unsigned loops = 0;

	a.active = calloc(d->cfg.max_clients, sizeof(a.active[0]));
	if (!a.active) {
		cairn__error("apply thread: out of memory");
		d->apply_result = -ENOMEM;
		return NULL;
	}
	cairn__idle_init(&idle, d->cfg.spin_ns, d->cfg.yield_ns);
	for (;;) {
		take_control_messages(&a);
		unsigned did = 0;
		unsigned na = a.nactive;
		for (unsigned k = 0; k < na && a.nactive; k++) {
			unsigned i = (a.next + k) % a.nactive;
			did += serve(&a, a.active[i]);
		}
		if (a.nactive) {
			a.next = (a.next + 1) % a.nactive;
		}
		if (did) {
			wake_event_readers(&a);
		}
		/*
		 * The clock is read every 256 turns only: on an idle turn it would delay
		 * noticing the next command, which is the latency every host sees.
		 */
		if ((++loops & 255) == 0) {
			uint64_t now = cairn__now_ns();
			if (now - last_beat >= HEARTBEAT_NS) {
				last_beat = now;
				/* Relaxed: a liveness stamp, read on its own. */
				cairn__store_relaxed(&d->hdr->heartbeat_ns, now);
				publish_counters(&a);
			}
		}
		if (cairn__load_acquire(&d->stopping)) {
			uint64_t now = cairn__now_ns();
			if (!drain_deadline) {
				drain_deadline = now + d->cfg.drain_timeout_ns;
			}
			if (drained(&a)) {
				break;
			}
			if (now >= drain_deadline) {
				cairn__warn(
					"drain timed out: some clients did not read their results");
				break;
			}
		}
		if (did) {
			cairn__idle_reset(&idle);
		} else if (cairn__idle_step(&idle)) {
			/*
			 * No reset here: after a sleep that found nothing to do, the next empty
			 * turn goes straight back to sleep instead of spinning again.
			 */
			sleep_on_lanes(&a);
			uint64_t now = cairn__now_ns();
			last_beat = now;
			cairn__store_relaxed(&d->hdr->heartbeat_ns, now);
		}
	}
	publish_counters(&a);
	cairn__info("apply thread: drained; %llu commands applied", (unsigned long long)a.commands);
	free(a.active);
	return NULL;
}
