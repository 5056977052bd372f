/*
 * libcairn across daemon restarts, one scenario at a time:
 *
 *  (a) commands in every state when cairnd is SIGKILLed (answered and taken, answered
 *      and left in the result ring, pushed and never taken by the daemon), then a new
 *      cairnd on the same socket: every request id gets exactly one result, none lost,
 *      none twice; the session id is the same, the lane is new;
 *  (b) cairn_call and cairn_wait callers blocked across the restart get their results;
 *  (c) with reconnect_ms = CAIRN_RECONNECT_NEVER the old behaviour holds: the first call
 *      that notices says DISCONNECTED, and so does every call after, daemon back or not;
 *  (d) with no daemon coming back, calls fail with DISCONNECTED once reconnect_ms has
 *      passed (a call with a shorter timeout says ETIMEDOUT meanwhile), and what the
 *      daemon had answered is still delivered;
 *  (e) a daemon that restarts again and again while commands are pending;
 *  (f) after a restart, grid reads see the new daemon's state, and an event cursor
 *      opened before it says DISCONNECTED until it is reopened.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>

#include "client/client.h"
#include "kit.h"

/* An ECHO whose payload is its own number, so that its result says whose it is. */
static void echo_msg(struct cairn_msg *m, uint64_t n)
{
	cairn_msg_init(m, CAIRN_MSG_ECHO, sizeof(n));
	memcpy(m->payload, &n, sizeof(n));
}

/* The number an ECHO_REPLY carries back. Fails the test for anything else. */
static uint64_t echo_number(const struct cairn_msg *res)
{
	uint64_t n;
	if (res->hdr.type != CAIRN_MSG_ECHO_REPLY || res->hdr.length != sizeof(n)) {
		T_FAILF("expected an ECHO_REPLY of 8 bytes, got type %#x length %u status %d",
			res->hdr.type, res->hdr.length, res->hdr.status);
	}
	memcpy(&n, res->payload, sizeof(n));
	return n;
}

/* Stops the daemon (SIGSTOP) and waits until it is stopped. */
static void freeze(struct h_daemon *d)
{
	int st;
	ASSERT_EQ(kill(d->pid, SIGSTOP), 0);
	ASSERT_EQ(waitpid(d->pid, &st, WUNTRACED), d->pid);
	ASSERT_TRUE(WIFSTOPPED(st));
}

/*
 * Submits ECHOs number from .. from + n - 1 with request ids of their own (the number
 * plus one), polling results into seen[] whenever the ring is full; or, with
 * until_full, stopping there. Returns how many were pushed.
 */
static unsigned submit_echoes_(cairn_client *c, uint64_t from, unsigned n, uint8_t *seen,
			       unsigned total, bool until_full)
{
	for (uint64_t i = from; i < from + n; i++) {
		struct cairn_msg m;
		echo_msg(&m, i);
		m.hdr.request_id = i + 1;
		int r;
		while ((r = cairn_submit(c, &m)) == -EAGAIN) {
			if (until_full) {
				return (unsigned)(i - from);
			}
			struct cairn_msg res;
			if (cairn_poll(c, &res) == 0) {
				uint64_t k = echo_number(&res);
				ASSERT_TRUE(k < total);
				ASSERT_UEQ(res.hdr.request_id, k + 1);
				seen[k]++;
			}
		}
		if (r != 0) {
			T_FAILF("submit %llu: %d (%s)", (unsigned long long)i, r,
				cairn_strerror(r));
		}
	}
	return n;
}

static void submit_echoes(cairn_client *c, uint64_t from, unsigned n, uint8_t *seen, unsigned total)
{
	submit_echoes_(c, from, n, seen, total, false);
}

/* Takes results until every one of total has been seen, or fails after timeout_ms. */
static void collect(cairn_client *c, uint8_t *seen, unsigned total, int timeout_ms)
{
	uint64_t end = h_now_ns() + (uint64_t)timeout_ms * MS;
	for (;;) {
		unsigned have = 0;
		for (unsigned i = 0; i < total; i++) {
			have += seen[i] != 0;
		}
		if (have == total) {
			break;
		}
		struct cairn_msg res;
		int r = cairn_wait(c, &res, 100 * MS);
		if (r == 0) {
			uint64_t k = echo_number(&res);
			ASSERT_TRUE(k < total);
			ASSERT_UEQ(res.hdr.request_id, k + 1);
			seen[k]++;
			continue;
		}
		if (r != -ETIMEDOUT) {
			T_FAILF("cairn_wait: %d (%s) with %u of %u results", r, cairn_strerror(r),
				have, total);
		}
		if (h_now_ns() > end) {
			for (unsigned i = 0; i < total; i++) {
				if (!seen[i]) {
					T_FAILF("%u of %u results after %d ms; the first missing "
						"is "
						"number %u",
						have, total, timeout_ms, i);
				}
			}
		}
	}
	/* Nothing more may come: a duplicate would show up now. */
	struct cairn_msg res;
	int r = cairn_wait(c, &res, 50 * MS);
	if (r == 0) {
		T_FAILF("an extra result after all %u: request id %llu", total,
			(unsigned long long)res.hdr.request_id);
	}
	ASSERT_CODE(r, ETIMEDOUT);
	for (unsigned i = 0; i < total; i++) {
		if (seen[i] != 1) {
			T_FAILF("number %u was answered %u times", i, seen[i]);
		}
	}
}

static void check_inflight(void)
{
	enum { ANSWERED = 100, TAKEN = 30, PUSHED = 200, TOTAL = ANSWERED + PUSHED };
	static uint8_t seen[TOTAL];
	struct h_daemon *d = kit_start(NULL);
	struct cairn_open_options o = {.cmd_capacity = 256, .res_capacity = 256};
	cairn_client *c = kit_open(d, &o);
	struct cairn_daemon_info before, after;
	ASSERT_OK(cairn_daemon_info(c, &before));
	ASSERT_TRUE(before.session_id != 0);
	ASSERT_TRUE(before.dedup_window > 0);
	ASSERT_EQ(before.reconnects, 0);

	/* Answered: some taken, the rest left in the result ring. */
	submit_echoes(c, 0, ANSWERED, seen, TOTAL);
	ASSERT_UEQ(h_wait_counter(c, H_CTR(results), ANSWERED, true, 5000), ANSWERED);
	for (unsigned i = 0; i < TAKEN; i++) {
		struct cairn_msg res;
		ASSERT_OK(cairn_poll(c, &res));
		seen[echo_number(&res)]++;
	}
	/* Pushed to a frozen daemon: never taken from the ring before it dies. */
	freeze(d);
	submit_echoes(c, ANSWERED, PUSHED, seen, TOTAL);
	kit_kill(d);
	kit_respawn(d, NULL);

	collect(c, seen, TOTAL, 10000);
	ASSERT_OK(cairn_daemon_info(c, &after));
	ASSERT_UEQ(after.session_id, before.session_id);
	ASSERT_EQ(after.reconnects, 1);
	ASSERT_EQ(after.resubmitted, PUSHED);
	ASSERT_TRUE(after.pid != before.pid);
	ASSERT_OK(cairn_ping(c, 5 * SEC));
	h_ok("(a) SIGKILL with %d results taken, %d left in the ring and %d commands never "
	     "taken: after the restart all %d answered exactly once; the session id stayed "
	     "%016llx, %llu commands resubmitted",
	     TAKEN, ANSWERED - TAKEN, PUSHED, TOTAL, (unsigned long long)after.session_id,
	     (unsigned long long)after.resubmitted);
	cairn_close(c);
	h_stop(d);
}

/* ---- (b) callers blocked across the restart ---- */

struct blocked {
	cairn_client *c;
	uint64_t number;
	bool wait; /* cairn_wait on a submitted ECHO instead of cairn_call */
	int r;
	uint64_t got;
	pthread_t thread;
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;
	struct cairn_msg m, res;
	echo_msg(&m, b->number);
	if (b->wait) {
		m.hdr.request_id = b->number + 1;
		b->r = cairn_submit(b->c, &m);
		if (b->r == 0) {
			b->r = cairn_wait(b->c, &res, 30 * SEC);
		}
	} else {
		b->r = cairn_call(b->c, &m, &res, 30 * SEC);
	}
	if (b->r == 0) {
		memcpy(&b->got, res.payload, sizeof(b->got));
	}
	return NULL;
}

static void check_blocked(void)
{
	enum { CALLERS = 4 };
	struct blocked b[CALLERS + 1];
	struct h_daemon *d = kit_start(NULL);
	cairn_client *c = kit_open(d, NULL);
	ASSERT_OK(cairn_ping(c, 5 * SEC));

	freeze(d);
	for (unsigned i = 0; i <= CALLERS; i++) {
		b[i] = (struct blocked){.c = c, .number = 1000 + i, .wait = i == CALLERS};
		ASSERT_EQ(pthread_create(&b[i].thread, NULL, blocked_main, &b[i]), 0);
	}
	/* Long enough for every one to push and go to sleep on the result doorbell. */
	h_sleep_us(200 * 1000);
	kit_kill(d);
	h_sleep_us(100 * 1000);
	kit_respawn(d, NULL);
	for (unsigned i = 0; i <= CALLERS; i++) {
		pthread_join(b[i].thread, NULL);
		if (b[i].r != 0) {
			T_FAILF("%s %u: %d (%s)", b[i].wait ? "cairn_wait" : "cairn_call", i,
				b[i].r, cairn_strerror(b[i].r));
		}
		ASSERT_UEQ(b[i].got, b[i].number);
	}
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_EQ(info.reconnects, 1);
	ASSERT_EQ(info.resubmitted, CALLERS + 1);
	h_ok("(b) %d cairn_call callers and one cairn_wait caller asleep when cairnd was "
	     "SIGKILLed: each got its own result from the restarted daemon",
	     CALLERS);
	cairn_close(c);
	h_stop(d);
}

/* ---- (c) never reconnect ---- */

static void check_never(void)
{
	struct h_daemon *d = kit_start(NULL);
	struct cairn_open_options o = {.reconnect_ms = CAIRN_RECONNECT_NEVER};
	cairn_client *c = kit_open(d, &o);
	struct cairn_msg m, res;
	echo_msg(&m, 7);
	ASSERT_OK(cairn_submit(c, &m));
	ASSERT_UEQ(h_wait_counter(c, H_CTR(results), 1, true, 5000), 1);
	kit_kill(d);
	kit_respawn(d, NULL);

	/* What the daemon answered before it died is still there to take. */
	ASSERT_OK(cairn_poll(c, &res));
	ASSERT_UEQ(echo_number(&res), 7);
	ASSERT_CODE(cairn_ping(c, 5 * SEC), CAIRN_E_DISCONNECTED);
	ASSERT_CODE(cairn_check(c), CAIRN_E_DISCONNECTED);
	echo_msg(&m, 8);
	ASSERT_CODE(cairn_submit(c, &m), CAIRN_E_DISCONNECTED);
	ASSERT_CODE(cairn_poll(c, &res), CAIRN_E_DISCONNECTED);
	ASSERT_CODE(cairn_wait(c, &res, SEC), CAIRN_E_DISCONNECTED);
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_EQ(info.reconnects, 0);
	h_ok("(c) reconnect_ms = CAIRN_RECONNECT_NEVER: the answered ECHO is still taken; "
	     "then ping, check, submit, poll and wait say DISCONNECTED with a daemon back");
	cairn_close(c);
	h_stop(d);
}

/* ---- (d) the daemon never comes back ---- */

static void check_gone(void)
{
	struct h_daemon *d = kit_start(NULL);
	struct cairn_open_options o = {.reconnect_ms = 600};
	cairn_client *c = kit_open(d, &o);
	struct cairn_msg m, res;
	echo_msg(&m, 5);
	ASSERT_OK(cairn_submit(c, &m));
	ASSERT_UEQ(h_wait_counter(c, H_CTR(results), 1, true, 5000), 1);
	kit_kill(d);

	uint64_t t0 = h_now_ns();
	/* Shorter than reconnect_ms: this call's own timeout ends first. */
	ASSERT_CODE(cairn_ping(c, 100 * MS), ETIMEDOUT);
	uint64_t t1 = h_now_ns();
	ASSERT_TRUE(t1 - t0 < 400 * MS);
	ASSERT_CODE(cairn_ping(c, 10 * SEC), CAIRN_E_DISCONNECTED);
	uint64_t t2 = h_now_ns();
	ASSERT_TRUE(t2 - t0 >= 500 * MS);
	ASSERT_TRUE(t2 - t0 < 3 * SEC);
	/* The ECHO answered before the kill was drained into the queue and is delivered. */
	ASSERT_OK(cairn_poll(c, &res));
	ASSERT_UEQ(echo_number(&res), 5);
	ASSERT_CODE(cairn_poll(c, &res), CAIRN_E_DISCONNECTED);
	echo_msg(&m, 6);
	ASSERT_CODE(cairn_submit(c, &m), CAIRN_E_DISCONNECTED);
	ASSERT_CODE(cairn_check(c), CAIRN_E_DISCONNECTED);
	h_ok("(d) no daemon back, reconnect_ms 600: a 100 ms call says ETIMEDOUT, the next "
	     "says DISCONNECTED %.0f ms after the first; the answered ECHO is still delivered",
	     (double)(t2 - t0) / 1e6);
	cairn_close(c);
}

/* ---- (e) again and again ---- */

static void check_repeated(void)
{
	enum { ROUNDS = 4, PER = 150, TOTAL = ROUNDS * PER };
	static uint8_t seen[TOTAL];
	struct h_daemon *d = kit_start(NULL);
	struct cairn_open_options o = {.cmd_capacity = 64, .res_capacity = 64};
	cairn_client *c = kit_open(d, &o);
	uint64_t session = 0;
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	session = info.session_id;
	unsigned frozen_pushed = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		/*
		 * More commands than the rings hold, some answered and some not: the reattach
		 * resubmits up to both rings' worth, making room as the new daemon answers.
		 */
		uint64_t base = (uint64_t)round * PER;
		submit_echoes(c, base, PER / 2, seen, TOTAL);
		freeze(d);
		unsigned k = submit_echoes_(c, base + PER / 2, PER / 2, seen, TOTAL, true);
		frozen_pushed += k;
		kit_kill(d);
		kit_respawn(d, NULL);
		/* The rest once the daemon is back, pushed behind the resubmitted ones. */
		submit_echoes(c, base + PER / 2 + k, PER / 2 - k, seen, TOTAL);
	}
	collect(c, seen, TOTAL, 20000);
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_UEQ(info.session_id, session);
	ASSERT_EQ(info.reconnects, ROUNDS);
	ASSERT_TRUE(info.resubmitted >= frozen_pushed);
	/* The dead daemons' state segments are let go of, but for the one before the last. */
	unsigned lanes = 0, released = 0;
	for (struct cairn__lane *l = c->newest; l; l = l->older) {
		lanes++;
		released += l->state_released;
	}
	ASSERT_EQ(lanes, ROUNDS + 1);
	ASSERT_EQ(released, ROUNDS - 1);
	h_ok("(e) %d SIGKILLs, 64-slot rings: %d ECHOs each answered exactly once, %u pushed "
	     "to a frozen daemon and %llu resubmitted in all, one session throughout; the "
	     "state segments of the %u oldest daemons let go of",
	     ROUNDS, TOTAL, frozen_pushed, (unsigned long long)info.resubmitted, released);
	cairn_close(c);
	h_stop(d);
}

/* ---- (f) grid reads and events ---- */

static void check_state_views(void)
{
	struct h_daemon *d = kit_start(NULL);
	cairn_client *c = kit_open(d, NULL);
	uint32_t hunt = kit_hunt(c, 0, 0);
	uint32_t player;
	ASSERT_OK(cairn_join(c, hunt, 1500, 1500, &player, 5 * SEC));
	struct cairn_events ev;
	ASSERT_OK(cairn_events_open(c, &ev));
	struct cairn_entity e;
	ASSERT_OK(cairn_read_entity(c, hunt, player, &e));

	kit_kill(d);
	kit_respawn(d, NULL);
	/* Grid reads make no syscall: they find out once a call has. */
	ASSERT_OK(cairn_check(c));
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_EQ(info.reconnects, 1);

	/* The hunt and the player came back with the log; they are read from the new state. */
	ASSERT_OK(cairn_read_entity(c, hunt, player, &e));
	ASSERT_EQ(e.x, 1500);
	uint32_t p2;
	ASSERT_OK(cairn_join(c, hunt, 2500, 2500, &p2, 5 * SEC));
	ASSERT_OK(cairn_read_entity(c, hunt, p2, &e));
	ASSERT_EQ(e.x, 2500);

	struct cairn_event out[4];
	ASSERT_CODE(cairn_events_read(c, &ev, out, 4), CAIRN_E_DISCONNECTED);
	ASSERT_CODE(cairn_events_wait(c, &ev, 0), CAIRN_E_DISCONNECTED);
	ASSERT_OK(cairn_events_open(c, &ev));
	ASSERT_EQ(ev.generation, 1);
	ASSERT_OK(cairn_leave(c, hunt, p2, NULL, 5 * SEC));
	ASSERT_OK(cairn_events_wait(c, &ev, 5 * SEC));
	ASSERT_EQ(cairn_events_read(c, &ev, out, 4), 1);
	ASSERT_EQ(out[0].type, CAIRN_EVENT_PLAYER_LEFT);
	h_ok("(f) after a restart: grid reads see the recovered hunt and a new player; an old "
	     "event cursor says DISCONNECTED, a reopened one reads the new daemon's events");
	cairn_close(c);
	h_stop(d);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "reconnect");
	check_inflight();
	check_blocked();
	check_never();
	check_gone();
	check_repeated();
	check_state_views();
	h_pass();
}
