/*
 * events: event cursors against a live cairnd. The lifecycle of a hunt arrives as
 * events with the right fields, in order; a cursor opened late sees only what follows;
 * a reader lapped on a small ring (--event-capacity 64) is told exactly how many it
 * missed; cairn_events_wait times out when nothing happens, wakes within a few
 * milliseconds when another process publishes (through the sleeping path: the daemon
 * makes the wake-up call), returns -EINTR for a signal, and notices a daemon that has
 * gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/client.h"
#include "kit.h"

/* Reads exactly n events (they must be there already), and then nothing more. */
static void read_n(cairn_client *c, struct cairn_events *ev, struct cairn_event *out, int n)
{
	int got = 0;
	while (got < n) {
		int r = cairn_events_read(c, ev, out + got, (unsigned)(n - got));
		ASSERT_GE(r, 0);
		if (r == 0) {
			T_FAILF("only %d of %d events", got, n);
		}
		got += r;
	}
	struct cairn_event extra;
	ASSERT_EQ(cairn_events_read(c, ev, &extra, 1), 0);
}

static void expect(const struct cairn_event *e, uint16_t type, uint32_t hunt, uint32_t player,
		   uint32_t clue, int64_t value, int32_t x, int32_t y)
{
	if (e->type != type || e->hunt_id != hunt || e->player_id != player || e->clue_id != clue ||
	    e->value != value || e->x != x || e->y != y) {
		T_FAILF("event type %u hunt %#x player %#x clue %#x value %lld at (%d, %d); "
			"expected type %u hunt %#x player %#x clue %#x value %lld at (%d, %d)",
			e->type, e->hunt_id, e->player_id, e->clue_id, (long long)e->value, e->x,
			e->y, type, hunt, player, clue, (long long)value, x, y);
	}
	ASSERT_NE(e->stamp_ns, 0);
}

static void check_lifecycle(cairn_client *c)
{
	struct cairn_events ev, late;
	struct cairn_event e[16];
	ASSERT_OK(cairn_events_open(c, &ev));
	uint64_t start = ev.next;
	ASSERT_EQ(ev.missed, 0);
	ASSERT_EQ(cairn_events_read(c, &ev, e, 16), 0);
	ASSERT_EQ(cairn_events_read(c, &ev, NULL, 0), 0);
	ASSERT_CODE(cairn_events_read(c, &ev, NULL, 1), EINVAL);

	uint32_t h = kit_hunt(c, 100, 0), p, cl;
	ASSERT_OK(cairn_join(c, h, 1000, 1000, &p, 5 * SEC));
	ASSERT_OK(cairn_clue_place(c, h, 3000, 1000, 9, &cl, 5 * SEC));
	struct cairn_moved mv;
	ASSERT_OK(cairn_move(c, h, p, 2000, 1000, &mv, 5 * SEC)); /* no claim: no event */
	ASSERT_OK(cairn_move(c, h, p, 2950, 1000, &mv, 5 * SEC));
	ASSERT_EQ(mv.outcome, CAIRN_CLAIM_WON);
	/* Onto the clue it holds: no claim (its own clues are out of its reach), no event. */
	ASSERT_OK(cairn_move(c, h, p, 3000, 1000, &mv, 5 * SEC));
	ASSERT_NE(mv.outcome, CAIRN_CLAIM_WON);
	ASSERT_OK(cairn_events_open(c, &late));
	ASSERT_OK(cairn_leave(c, h, p, NULL, 5 * SEC));
	ASSERT_OK(cairn_clue_remove(c, h, cl, NULL, 5 * SEC));
	ASSERT_OK(cairn_hunt_destroy(c, h, 5 * SEC));

	/* Read in two parts: three, then the rest. */
	ASSERT_EQ(cairn_events_read(c, &ev, e, 3), 3);
	read_n(c, &ev, e + 3, 4);
	expect(&e[0], CAIRN_EVENT_HUNT_CREATED, h, 0, 0, KIT_MAP, 0, 0);
	expect(&e[1], CAIRN_EVENT_PLAYER_JOINED, h, p, 0, 0, 1000, 1000);
	expect(&e[2], CAIRN_EVENT_CLUE_PLACED, h, 0, cl, 9, 3000, 1000);
	expect(&e[3], CAIRN_EVENT_CLUE_CLAIMED, h, p, cl, 9, 3000, 1000);
	expect(&e[4], CAIRN_EVENT_PLAYER_LEFT, h, p, 0, 9, 3000, 1000);
	/* CLUE_REMOVED names the clue's winner in player_id. */
	expect(&e[5], CAIRN_EVENT_CLUE_REMOVED, h, p, cl, 9, 3000, 1000);
	expect(&e[6], CAIRN_EVENT_HUNT_DESTROYED, h, 0, 0, 0, 0, 0);
	for (int i = 1; i < 7; i++) {
		ASSERT_GT(e[i].order, e[i - 1].order);
		ASSERT_GE(e[i].stamp_ns, e[i - 1].stamp_ns);
	}
	ASSERT_UEQ(ev.next, start + 7);
	ASSERT_EQ(ev.missed, 0);
	h_ok("HUNT_CREATED, PLAYER_JOINED, CLUE_PLACED, CLUE_CLAIMED, PLAYER_LEFT, "
	     "CLUE_REMOVED, HUNT_DESTROYED with their fields, in order; no event for a move "
	     "without a claim");

	/* The late cursor, opened after the claim, sees only the last three. */
	read_n(c, &late, e, 3);
	ASSERT_EQ(e[0].type, CAIRN_EVENT_PLAYER_LEFT);
	ASSERT_EQ(e[2].type, CAIRN_EVENT_HUNT_DESTROYED);
	ASSERT_EQ(late.missed, 0);
	ASSERT_UEQ(late.next, ev.next);
	struct cairn_events fresh;
	ASSERT_OK(cairn_events_open(c, &fresh));
	ASSERT_EQ(cairn_events_read(c, &fresh, e, 16), 0);
	h_ok("a cursor opened late reads only the newer events; one opened now reads none");

	/* A cursor from the future is moved back to the newest event, missing nothing. */
	struct cairn_events future = {.next = ev.next + 1000};
	ASSERT_OK(cairn_events_wait(c, &future, 0));
	ASSERT_EQ(cairn_events_read(c, &future, e, 16), 0);
	ASSERT_UEQ(future.next, ev.next);
	ASSERT_EQ(future.missed, 0);
	h_ok("a cursor beyond the newest event: wait returns at once, read moves it back");
}

/* ---- waiting ---- */

static const struct cairn_event_ring_header *ring(cairn_client *c)
{
	return cairn__lane_now(c)->events.hdr;
}

static uint64_t bell_wakes(cairn_client *c)
{
	return __atomic_load_n(&ring(c)->bell.wakes, __ATOMIC_RELAXED);
}

static uint32_t sleepers(cairn_client *c)
{
	const struct cairn_lane_header *lh = cairn__lane_now(c)->base;
	return __atomic_load_n(&lh->event_sleepers, __ATOMIC_RELAXED);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct kicker {
	pthread_t target;
	int sig_after_ms;
};

static void *kick_main(void *p)
{
	struct kicker *k = p;
	h_sleep_us((uint64_t)k->sig_after_ms * 1000);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

#define TRIALS 10

static void check_wait(const struct h_daemon *d, cairn_client *c)
{
	uint32_t h = kit_hunt(c, 0, 0), id;
	struct cairn_events ev;
	struct cairn_event e;
	ASSERT_OK(cairn_events_open(c, &ev));

	/* Nothing happens: a look, then a timed wait. */
	ASSERT_CODE(cairn_events_wait(c, &ev, 0), ETIMEDOUT);
	uint64_t t0 = h_now_ns();
	ASSERT_CODE(cairn_events_wait(c, &ev, 30 * MS), ETIMEDOUT);
	uint64_t waited = h_now_ns() - t0;
	ASSERT_GE(waited, 30 * MS);
	ASSERT_LT(waited, 1 * SEC);
	t0 = h_now_ns();
	ASSERT_CODE(cairn_events_wait(c, &ev, 120 * MS), ETIMEDOUT);
	uint64_t waited2 = h_now_ns() - t0;
	ASSERT_GE(waited2, 120 * MS);
	ASSERT_LT(waited2, 1 * SEC);
	ASSERT_EQ(sleepers(c), 0);
	h_ok("nothing published: -ETIMEDOUT at once for 0, after %.1f ms for 30 ms and %.1f ms "
	     "for 120 ms (beyond one 50 ms sleep)",
	     (double)waited / 1e6, (double)waited2 / 1e6);

	/* Something is there: no waiting. */
	ASSERT_OK(cairn_clue_place(c, h, 1000, 1000, 1, &id, 5 * SEC));
	ASSERT_OK(cairn_events_wait(c, &ev, 5 * SEC));
	ASSERT_OK(cairn_events_wait(c, &ev, 0));
	ASSERT_EQ(cairn_events_read(c, &ev, &e, 1), 1);
	ASSERT_EQ(e.type, CAIRN_EVENT_CLUE_PLACED);
	h_ok("an event there: wait returns 0 at once");

	/*
	 * Another process publishes while we sleep: it attaches, waits 60 ms (we are long
	 * past the spin by then) and places a clue. The event's stamp is the daemon's
	 * ingress time on CLOCK_MONOTONIC, the clock of this process too.
	 */
	uint64_t lat[TRIALS];
	for (int t = 0; t < TRIALS; t++) {
		uint64_t wakes = bell_wakes(c);
		pid_t pid = h_fork();
		if (pid == 0) {
			cairn_client *o;
			int r = cairn_open(d->sock, NULL, &o);
			if (r < 0) {
				T_FAILF("publisher: cairn_open: %s", cairn_strerror(r));
			}
			h_sleep_us(60 * 1000);
			r = cairn_clue_place(o, h, 2000 + t, 1000, t, NULL, 5 * SEC);
			if (r < 0) {
				T_FAILF("publisher: clue_place: %s", cairn_strerror(r));
			}
			cairn_close(o);
			_exit(0);
		}
		int r = cairn_events_wait(c, &ev, t == TRIALS - 1 ? CAIRN_FOREVER : 5 * SEC);
		uint64_t now = h_now_ns();
		ASSERT_OK(r);
		ASSERT_EQ(h_wait_child(pid), 0);
		ASSERT_EQ(cairn_events_read(c, &ev, &e, 1), 1);
		ASSERT_EQ(e.type, CAIRN_EVENT_CLUE_PLACED);
		ASSERT_EQ(e.x, 2000 + t);
		ASSERT_GT(now, e.stamp_ns);
		lat[t] = now - e.stamp_ns;
		/* The daemon saw this lane's sleeper and rang the bell: the sleeping path. */
		ASSERT_GT(bell_wakes(c), wakes);
		ASSERT_EQ(sleepers(c), 0);
	}
	qsort(lat, TRIALS, sizeof(lat[0]), cmp_u64);
	printf("figure: wake-up latency from the daemon's ingress stamp to the waiter, %d "
	       "trials: min %.3f ms, median %.3f ms, max %.3f ms\n",
	       TRIALS, (double)lat[0] / 1e6, (double)lat[TRIALS / 2] / 1e6,
	       (double)lat[TRIALS - 1] / 1e6);
	/* A lost wake-up would cost a whole 50 ms sleep. */
	ASSERT_LT(lat[TRIALS / 2], 10 * MS);
	h_ok("another process publishes: the sleeping waiter is woken by the daemon's bell, "
	     "median %.3f ms after ingress",
	     (double)lat[TRIALS / 2] / 1e6);

	/* A signal interrupts the sleep. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	struct kicker k = {.target = pthread_self(), .sig_after_ms = 80};
	pthread_t kt;
	ASSERT_EQ(pthread_create(&kt, NULL, kick_main, &k), 0);
	t0 = h_now_ns();
	ASSERT_CODE(cairn_events_wait(c, &ev, 5 * SEC), EINTR);
	ASSERT_EQ(pthread_join(kt, NULL), 0);
	ASSERT_LT(h_now_ns() - t0, 2 * SEC);
	ASSERT_EQ(sleepers(c), 0);
	signal(SIGUSR1, SIG_DFL);
	h_ok("a signal during the sleep: -EINTR");
	ASSERT_OK(cairn_hunt_destroy(c, h, 5 * SEC));
	ASSERT_EQ(cairn_events_read(c, &ev, &e, 1), 1);
}

struct gone_arg {
	cairn_client *c;
	struct cairn_events ev;
	int result;
	uint64_t returned_ns;
};

static void *wait_forever(void *p)
{
	struct gone_arg *a = p;
	a->result = cairn_events_wait(a->c, &a->ev, CAIRN_FOREVER);
	a->returned_ns = h_now_ns();
	return NULL;
}

/*
 * The daemon stops while a thread waits forever: the wait notices within a sleep. On a
 * connection that does not reattach (tests/client/reconnect has the other kind).
 */
static void check_gone(struct h_daemon *d)
{
	struct cairn_open_options never = {.reconnect_ms = CAIRN_RECONNECT_NEVER};
	cairn_client *c = kit_open(d, &never);
	struct gone_arg a = {.c = c};
	ASSERT_OK(cairn_events_open(c, &a.ev));
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, wait_forever, &a), 0);
	h_sleep_us(100 * 1000);
	h_stop(d);
	uint64_t stopped = h_now_ns();
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_CODE(a.result, CAIRN_E_DISCONNECTED);
	double ms = a.returned_ns > stopped ? (double)(a.returned_ns - stopped) / 1e6 : 0;
	ASSERT_LT(ms, 1000);
	h_ok("the daemon exits during a wait forever: -CAIRN_E_DISCONNECTED, %.1f ms after it "
	     "was reaped",
	     ms);
	cairn_close(c);
}

/* ---- lapping ---- */

#define PUBLISHED 1000

static void check_lapping(void)
{
	struct h_daemon *d = kit_start(H_ARGS("--event-capacity", "64"));
	cairn_client *c = kit_open(d, NULL);
	uint32_t h = kit_hunt(c, 0, 0), p, cl;
	ASSERT_OK(cairn_join(c, h, 1000, 1000, &p, 5 * SEC));
	struct cairn_events ev;
	ASSERT_OK(cairn_events_open(c, &ev));
	uint64_t before = ev.next;
	ASSERT_EQ(before, 2);
	uint64_t published = before;
	while (published < PUBLISHED) {
		ASSERT_OK(cairn_clue_place(c, h, 5000, 5000, 1, &cl, 5 * SEC));
		ASSERT_OK(cairn_clue_remove(c, h, cl, NULL, 5 * SEC));
		published += 2;
	}
	ASSERT_EQ(published, PUBLISHED);
	struct cairn_event e[16], last;
	memset(&last, 0, sizeof(last));
	uint64_t received = 0, prev_order = 0;
	for (;;) {
		int r = cairn_events_read(c, &ev, e, 16);
		ASSERT_GE(r, 0);
		if (r == 0) {
			break;
		}
		for (int i = 0; i < r; i++) {
			/* What is read after the gap is consecutive: one command, one event. */
			if (received + (uint64_t)i > 0) {
				ASSERT_UEQ(e[i].order, prev_order + 1);
			}
			prev_order = e[i].order;
		}
		last = e[r - 1];
		received += (uint64_t)r;
	}
	ASSERT_LE(received, 64);
	ASSERT_GT(received, 0);
	ASSERT_UEQ(ev.missed + received, PUBLISHED - before);
	ASSERT_UEQ(ev.next, PUBLISHED);
	ASSERT_EQ(last.type, CAIRN_EVENT_CLUE_REMOVED);
	ASSERT_UEQ(last.clue_id, cl);
	h_ok("ring of 64, %d events published, %llu before the cursor: missed %llu + received "
	     "%llu = %llu, the newest last",
	     PUBLISHED, (unsigned long long)before, (unsigned long long)ev.missed,
	     (unsigned long long)received, (unsigned long long)(ev.missed + received));
	cairn_close(c);
	h_stop(d);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "events");
	struct h_daemon *d = kit_start(NULL);
	cairn_client *c = kit_open(d, NULL);
	check_lifecycle(c);
	check_wait(d, c);
	cairn_close(c);
	check_gone(d);
	check_lapping();
	h_pass();
}
