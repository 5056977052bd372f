/*
 * libcairn across daemon restarts with many threads on one connection: submitters
 * (cairn_submit and cairn_submit_batch, polling when the ring is full), a waiter
 * (cairn_wait), callers (cairn_call) and an event reader, while cairnd is SIGKILLed at
 * random moments (not frozen first: commands are caught in every state, taken by the
 * daemon and waiting for the log, half published, ...) and started again. Every
 * submitted request id must get exactly one result, every call its own, and the session
 * must stay the same. Table-driven over ring sizes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

#define SUBMITTERS 2
#define CALLERS    2
#define PER_THREAD (UINT64_C(1) << 20) /* numbers per submitter */

struct run {
	cairn_client *c;
	uint8_t *seen;               /* atomic: results seen per number, SUBMITTERS * PER_THREAD */
	uint64_t pushed[SUBMITTERS]; /* atomic: commands each submitter pushed */
	uint64_t calls;              /* atomic: calls answered */
	uint64_t reopens;            /* atomic: event cursors reopened after a restart */
	int stop;                    /* atomic */
	int drained;                 /* atomic: the waiter may stop */
};

struct worker {
	struct run *run;
	unsigned index;
	pthread_t thread;
};

static void echo_msg(struct cairn_msg *m, uint64_t n)
{
	cairn_msg_init(m, CAIRN_MSG_ECHO, sizeof(n));
	memcpy(m->payload, &n, sizeof(n));
}

/* Counts one submit result; fails on anything but the ECHO_REPLY its id says. */
static void take(struct run *run, const struct cairn_msg *res)
{
	uint64_t n;
	if (res->hdr.type != CAIRN_MSG_ECHO_REPLY || res->hdr.length != sizeof(n)) {
		T_FAILF("expected an ECHO_REPLY, got type %#x length %u status %d (request %llu)",
			res->hdr.type, res->hdr.length, res->hdr.status,
			(unsigned long long)res->hdr.request_id);
	}
	memcpy(&n, res->payload, sizeof(n));
	if (n >= SUBMITTERS * PER_THREAD || res->hdr.request_id != n + 1) {
		T_FAILF("result %llu for request %llu", (unsigned long long)n,
			(unsigned long long)res->hdr.request_id);
	}
	if (__atomic_fetch_add(&run->seen[n], 1, __ATOMIC_RELAXED) != 0) {
		T_FAILF("number %llu answered twice", (unsigned long long)n);
	}
}

static void poll_some(struct run *run)
{
	struct cairn_msg res[32];
	int k = cairn_poll_batch(run->c, res, 32);
	if (k < 0 && k != -EAGAIN) {
		T_FAILF("cairn_poll_batch: %d (%s)", k, cairn_strerror(k));
	}
	for (int i = 0; i < k; i++) {
		take(run, &res[i]);
	}
}

static void *submitter(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	uint64_t base = w->index * PER_THREAD, next = 0;
	struct h_rng rng;
	h_rng_seed(&rng, h_seed + w->index);
	while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED) && next + 16 < PER_THREAD) {
		struct cairn_msg m[16];
		unsigned n = 1 + (unsigned)h_rng_below(&rng, 16);
		for (unsigned i = 0; i < n; i++) {
			echo_msg(&m[i], base + next + i);
			m[i].hdr.request_id = base + next + i + 1;
		}
		int r = n == 1 ? cairn_submit(run->c, &m[0]) : cairn_submit_batch(run->c, m, n);
		if (n == 1 && r == 0) {
			r = 1;
		}
		if (r > 0) {
			next += (unsigned)r;
			/* Release: the count is read after the threads are joined anyway. */
			__atomic_store_n(&run->pushed[w->index], next, __ATOMIC_RELEASE);
		} else if (r != 0 && r != -EAGAIN) {
			T_FAILF("submitter %u: %d (%s)", w->index, r, cairn_strerror(r));
		}
		if (r <= 0 || h_rng_below(&rng, 4) == 0) {
			poll_some(run);
		}
	}
	return NULL;
}

static void *waiter(void *arg)
{
	struct run *run = arg;
	while (!__atomic_load_n(&run->drained, __ATOMIC_ACQUIRE)) {
		struct cairn_msg res;
		int r = cairn_wait(run->c, &res, 10 * MS);
		if (r == 0) {
			take(run, &res);
		} else if (r != -ETIMEDOUT) {
			T_FAILF("cairn_wait: %d (%s)", r, cairn_strerror(r));
		}
	}
	return NULL;
}

static void *caller(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	uint64_t n = UINT64_C(1) << 62 | (uint64_t)w->index << 40;
	while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED)) {
		struct cairn_msg m, res;
		echo_msg(&m, n);
		int r = cairn_call(run->c, &m, &res, 30 * SEC);
		if (r != 0) {
			T_FAILF("caller %u: cairn_call %llu: %d (%s)", w->index,
				(unsigned long long)(n & 0xffffffffff), r, cairn_strerror(r));
		}
		uint64_t got;
		memcpy(&got, res.payload, sizeof(got));
		if (res.hdr.type != CAIRN_MSG_ECHO_REPLY || got != n) {
			T_FAILF("caller %u: the answer to %llx is type %#x with %llx", w->index,
				(unsigned long long)n, res.hdr.type, (unsigned long long)got);
		}
		n++;
		__atomic_fetch_add(&run->calls, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *event_reader(void *arg)
{
	struct run *run = arg;
	struct cairn_events ev;
	ASSERT_OK(cairn_events_open(run->c, &ev));
	while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED)) {
		int r = cairn_events_wait(run->c, &ev, 10 * MS);
		if (r == -CAIRN_E_DISCONNECTED) {
			/* The daemon restarted: a new cursor on the new daemon's ring. */
			ASSERT_OK(cairn_events_open(run->c, &ev));
			__atomic_fetch_add(&run->reopens, 1, __ATOMIC_RELAXED);
		} else if (r == 0) {
			struct cairn_event e[16];
			int k = cairn_events_read(run->c, &ev, e, 16);
			if (k < 0 && k != -CAIRN_E_DISCONNECTED) {
				T_FAILF("cairn_events_read: %d (%s)", k, cairn_strerror(k));
			}
		} else if (r != -ETIMEDOUT) {
			T_FAILF("cairn_events_wait: %d (%s)", r, cairn_strerror(r));
		}
	}
	return NULL;
}

struct config {
	uint32_t cmd, res;
	unsigned kills;
};

static void run_config(const struct config *cfg)
{
	struct h_daemon *d = kit_start(NULL);
	struct cairn_open_options o = {.cmd_capacity = cfg->cmd, .res_capacity = cfg->res};
	struct run run = {.c = kit_open(d, &o)};
	run.seen = calloc(SUBMITTERS * PER_THREAD, 1);
	ASSERT_TRUE(run.seen != NULL);
	struct cairn_daemon_info before, after;
	ASSERT_OK(cairn_daemon_info(run.c, &before));

	struct worker subs[SUBMITTERS], calls[CALLERS];
	pthread_t wt, et;
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		subs[i] = (struct worker){.run = &run, .index = i};
		ASSERT_EQ(pthread_create(&subs[i].thread, NULL, submitter, &subs[i]), 0);
	}
	for (unsigned i = 0; i < CALLERS; i++) {
		calls[i] = (struct worker){.run = &run, .index = i};
		ASSERT_EQ(pthread_create(&calls[i].thread, NULL, caller, &calls[i]), 0);
	}
	ASSERT_EQ(pthread_create(&wt, NULL, waiter, &run), 0);
	ASSERT_EQ(pthread_create(&et, NULL, event_reader, &run), 0);

	struct h_rng rng;
	h_rng_seed(&rng, h_seed ^ cfg->cmd);
	for (unsigned k = 0; k < cfg->kills; k++) {
		h_sleep_us(100 * 1000 + h_rng_below(&rng, 200 * 1000));
		kit_kill(d);
		h_sleep_us(h_rng_below(&rng, 100 * 1000));
		kit_respawn(d, NULL);
		wait_reconnects(run.c, k + 1);
	}
	h_sleep_us(200 * 1000);
	__atomic_store_n(&run.stop, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		pthread_join(subs[i].thread, NULL);
	}
	for (unsigned i = 0; i < CALLERS; i++) {
		pthread_join(calls[i].thread, NULL);
	}
	pthread_join(et, NULL);

	/* Every pushed command is answered once, none more: the waiter takes the rest. */
	uint64_t total = 0;
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		total += run.pushed[i];
	}
	uint64_t end = h_now_ns() + 20 * SEC, have = 0;
	for (;;) {
		have = 0;
		for (unsigned t = 0; t < SUBMITTERS; t++) {
			for (uint64_t i = 0; i < run.pushed[t]; i++) {
				have += __atomic_load_n(&run.seen[t * PER_THREAD + i],
							__ATOMIC_RELAXED);
			}
		}
		if (have == total || h_now_ns() > end) {
			break;
		}
		h_sleep_us(10 * 1000);
	}
	h_sleep_us(100 * 1000); /* room for a duplicate to show up */
	__atomic_store_n(&run.drained, 1, __ATOMIC_RELEASE);
	pthread_join(wt, NULL);
	for (unsigned t = 0; t < SUBMITTERS; t++) {
		for (uint64_t i = 0; i < PER_THREAD; i++) {
			uint8_t s = run.seen[t * PER_THREAD + i];
			if (i < run.pushed[t] && s != 1) {
				T_FAILF("rings %u/%u: submitter %u's number %llu (of %llu pushed) "
					"was "
					"answered %u times; %llu of %llu answers in all",
					cfg->cmd, cfg->res, t, (unsigned long long)i,
					(unsigned long long)run.pushed[t], s,
					(unsigned long long)have, (unsigned long long)total);
			}
			if (i >= run.pushed[t] && s != 0) {
				T_FAILF("submitter %u's number %llu was never pushed but answered",
					t, (unsigned long long)i);
			}
		}
	}
	ASSERT_OK(cairn_daemon_info(run.c, &after));
	ASSERT_UEQ(after.session_id, before.session_id);
	ASSERT_EQ(after.reconnects, cfg->kills);
	ASSERT_GE(run.reopens, 1);
	h_ok("rings %u/%u, %u SIGKILLs at random moments: %llu submitted commands each "
	     "answered exactly once, %llu calls each got its own answer, %llu commands "
	     "resubmitted, event cursors reopened %llu times, one session",
	     cfg->cmd, cfg->res, cfg->kills, (unsigned long long)total,
	     (unsigned long long)run.calls, (unsigned long long)after.resubmitted,
	     (unsigned long long)run.reopens);
	cairn_close(run.c);
	free(run.seen);
	h_stop(d);
}

int main(int argc, char **argv)
{
	static const struct config configs[] = {
		{.cmd = 1024, .res = 1024, .kills = 3},
		{.cmd = 64, .res = 16, .kills = 3},
		{.cmd = 16, .res = 256, .kills = 3},
	};
	h_init(argc, argv, "reconnect_threads");
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		run_config(&configs[i]);
	}
	h_pass();
}
