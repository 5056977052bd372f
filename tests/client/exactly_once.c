/*
 * Exactly once across cairnd restarts, for commands that change the game (JOIN and
 * CLUE_PLACE), with the daemon's write-ahead log and exactly-once table:
 *
 *  (a) commands the daemon never took (pushed to a frozen daemon, then SIGKILL): the
 *      resubmission applies each once;
 *  (b) commands the daemon applied and logged but whose results the client never saw
 *      (made so by unpublishing their results in the client's own mapping of the result
 *      ring while the daemon is frozen, which is what a daemon killed between its log
 *      write and its publish leaves behind): resubmitted from libcairn's private copies
 *      after the restart, they get their original results (same player and clue ids)
 *      and are not applied again;
 *  (c) a pipeline of JOINs and CLUE_PLACEs while cairnd is SIGKILLed at random moments:
 *      every request gets exactly one result, no id is handed out twice, and the hunt
 *      holds exactly as many players and clues as were pushed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "client/client.h"
#include "kit.h"

static void freeze(struct h_daemon *d)
{
	int st;
	ASSERT_EQ(kill(d->pid, SIGSTOP), 0);
	ASSERT_EQ(waitpid(d->pid, &st, WUNTRACED), d->pid);
	ASSERT_TRUE(WIFSTOPPED(st));
}

/* Command i of a run: even ones JOIN, odd ones CLUE_PLACE, on spots that never meet. */
static void build(struct cairn_msg *m, uint32_t hunt, uint64_t i)
{
	int32_t x = 500 + 1000 * (int32_t)(i / 2 % KIT_W);
	if (i % 2 == 0) {
		cairn_msg_join(m, hunt, x, 40500);
	} else {
		cairn_msg_clue_place(m, hunt, x, 2500, (int64_t)i);
	}
}

/* The player or clue id in the answer to command i; fails on any other answer. */
static uint32_t answer_id(const struct cairn_msg *res, uint64_t i)
{
	uint16_t want = i % 2 == 0 ? CAIRN_MSG_JOINED : CAIRN_MSG_CLUE_PLACED;
	if (res->hdr.type != want) {
		T_FAILF("command %llu: answer type %#x status %d (%s), expected %#x",
			(unsigned long long)i, res->hdr.type, res->hdr.status,
			cairn_strerror(-res->hdr.status), want);
	}
	uint32_t id;
	memcpy(&id, res->payload, sizeof(id)); /* player_id and clue_id come first */
	ASSERT_TRUE(id != 0);
	return id;
}

static void expect_counts(cairn_client *c, uint32_t hunt, uint32_t players, uint32_t clues)
{
	struct cairn_hunt_info h;
	ASSERT_OK(cairn_read_hunt(c, hunt, &h));
	if (h.players != players || h.clues != clues) {
		T_FAILF("hunt %u holds %u players and %u clues; %u and %u were pushed", hunt,
			h.players, h.clues, players, clues);
	}
}

/* ---- (a) and (b) ---- */

static void check_deterministic(void)
{
	enum { A = 40, B = 24 };
	struct h_daemon *d = kit_start(NULL);
	cairn_client *c = kit_open(d, NULL);
	uint32_t hunt = kit_hunt(c, 0, 0);
	struct cairn_msg m, res;

	/* (a) never taken by the daemon. */
	freeze(d);
	for (uint64_t i = 0; i < A; i++) {
		build(&m, hunt, i);
		m.hdr.request_id = i + 1;
		ASSERT_OK(cairn_submit(c, &m));
	}
	kit_kill(d);
	kit_respawn(d, NULL);
	bool seen[A] = {false};
	for (unsigned k = 0; k < A; k++) {
		ASSERT_OK(cairn_wait(c, &res, 10 * SEC));
		uint64_t i = res.hdr.request_id - 1;
		ASSERT_TRUE(i < A && !seen[i]);
		seen[i] = true;
		answer_id(&res, i);
	}
	ASSERT_CODE(cairn_wait(c, &res, 50 * MS), ETIMEDOUT);
	expect_counts(c, hunt, A / 2, A / 2);
	h_ok("(a) %d JOIN/CLUE_PLACE pushed to a frozen cairnd, SIGKILL, restart: each "
	     "answered once, applied once",
	     A);

	/* (b) applied and logged, the answers lost on the way. */
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	uint64_t resubmitted = info.resubmitted;
	uint64_t results = h_counter(c, H_CTR(results));
	for (uint64_t i = A; i < A + B; i++) {
		build(&m, hunt, i);
		m.hdr.request_id = i + 1;
		ASSERT_OK(cairn_submit(c, &m));
	}
	ASSERT_UEQ(h_wait_counter(c, H_CTR(results), results + B, true, 5000), results + B);
	freeze(d);
	struct cairn__ring *r = &cairn__lane_now(c)->res;
	uint64_t head = __atomic_load_n(&r->hdr->head, __ATOMIC_ACQUIRE);
	uint32_t original[B];
	for (uint64_t p = head - B; p < head; p++) {
		struct cairn_slot *s = &r->slots[p & r->mask];
		ASSERT_UEQ(__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), p + 1);
		uint64_t i = s->msg.hdr.request_id - 1;
		ASSERT_UEQ(i, A + (p - (head - B)));
		original[i - A] = answer_id(&s->msg, i);
		/* Back to "free for position p": as if the daemon died before publishing. */
		__atomic_store_n(&s->seq, p, __ATOMIC_RELEASE);
	}
	kit_kill(d);
	kit_respawn(d, NULL);
	for (unsigned k = 0; k < B; k++) {
		ASSERT_OK(cairn_wait(c, &res, 10 * SEC));
		uint64_t i = res.hdr.request_id - 1;
		ASSERT_TRUE(i >= A && i < A + B);
		uint32_t id = answer_id(&res, i);
		if (id != original[i - A]) {
			T_FAILF("command %llu resubmitted: id %u, but the first application gave "
				"%u",
				(unsigned long long)i, id, original[i - A]);
		}
	}
	ASSERT_CODE(cairn_wait(c, &res, 50 * MS), ETIMEDOUT);
	expect_counts(c, hunt, (A + B) / 2, (A + B) / 2);
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_UEQ(info.resubmitted - resubmitted, B);
	ASSERT_EQ(info.resumed, 1);
	h_ok("(b) %d commands applied and logged whose answers never reached the client: "
	     "resubmitted after SIGKILL, each got its original answer (same ids) and was not "
	     "applied again; the new daemon's welcome said it resumed the session",
	     B);
	cairn_close(c);
	h_stop(d);
}

/* ---- (c) a pipeline under random SIGKILLs ---- */

#define PIPE_MAX (1u << 20)

struct pipeline {
	cairn_client *c;
	uint32_t hunt;
	uint64_t pushed; /* atomic */
	uint32_t *ids;   /* answer per command, 0 until answered */
	uint64_t answered;
	int stop; /* atomic */
};

static void pipe_take(struct pipeline *p, const struct cairn_msg *res)
{
	uint64_t i = res->hdr.request_id - 1;
	if (i >= PIPE_MAX) {
		T_FAILF("an answer to request %llu", (unsigned long long)res->hdr.request_id);
	}
	if (p->ids[i] != 0) {
		T_FAILF("command %llu answered twice", (unsigned long long)i);
	}
	p->ids[i] = answer_id(res, i);
	p->answered++;
}

static void *pipe_main(void *arg)
{
	struct pipeline *p = arg;
	uint64_t next = 0;
	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		struct cairn_msg m[32], res[64];
		int k = 0, n;
		if (next + 32 <= PIPE_MAX) {
			for (unsigned i = 0; i < 32; i++) {
				build(&m[i], p->hunt, next + i);
				m[i].hdr.request_id = next + i + 1;
			}
			k = cairn_submit_batch(p->c, m, 32);
			if (k < 0 && k != -EAGAIN) {
				T_FAILF("cairn_submit_batch: %d (%s)", k, cairn_strerror(k));
			}
		}
		if (k > 0) {
			next += (unsigned)k;
			__atomic_store_n(&p->pushed, next, __ATOMIC_RELEASE);
		}
		if (next + 32 <= PIPE_MAX) {
			n = cairn_poll_batch(p->c, res, 64);
		} else {
			/* All pushed: keep waiting, which also reattaches after the kills to come.
			 */
			n = cairn_wait(p->c, &res[0], 10 * MS);
			n = n == 0 ? 1 : n == -ETIMEDOUT ? 0 : n;
		}
		if (n < 0 && n != -EAGAIN) {
			T_FAILF("taking answers: %d (%s)", n, cairn_strerror(n));
		}
		for (int i = 0; i < n; i++) {
			pipe_take(p, &res[i]);
		}
	}
	/* The rest: every command pushed gets its answer. */
	while (p->answered < next) {
		struct cairn_msg res;
		int r = cairn_wait(p->c, &res, 20 * SEC);
		if (r != 0) {
			T_FAILF("%llu of %llu answers, then cairn_wait: %d (%s)",
				(unsigned long long)p->answered, (unsigned long long)next, r,
				cairn_strerror(r));
		}
		pipe_take(p, &res);
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* A pipeline may join more players to its one hunt than cairnd allows by default. */
#define PIPE_ARGS H_ARGS("--max-players-per-hunt", "1048576")

static void check_pipeline(void)
{
	enum { KILLS = 5 };
	struct h_daemon *d = kit_start(PIPE_ARGS);
	struct cairn_open_options o = {.cmd_capacity = 256, .res_capacity = 256};
	struct pipeline p = {.c = kit_open(d, &o)};
	p.hunt = kit_hunt(p.c, 0, 0);
	p.ids = calloc(PIPE_MAX, sizeof(*p.ids));
	ASSERT_TRUE(p.ids != NULL);
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, pipe_main, &p), 0);
	struct h_rng rng;
	h_rng_seed(&rng, h_seed);
	for (unsigned k = 0; k < KILLS; k++) {
		h_sleep_us(50 * 1000 + h_rng_below(&rng, 250 * 1000));
		kit_kill(d);
		kit_respawn(d, PIPE_ARGS);
		wait_reconnects(p.c, k + 1);
	}
	h_sleep_us(100 * 1000);
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	uint64_t n = p.pushed;
	ASSERT_UEQ(p.answered, n);

	/* No id twice among the answers of each kind, and the hunt holds exactly those. */
	uint32_t *players = malloc(n * sizeof(*players)), *clues = malloc(n * sizeof(*clues));
	ASSERT_TRUE(players && clues);
	size_t np = 0, nc = 0;
	for (uint64_t i = 0; i < n; i++) {
		ASSERT_TRUE(p.ids[i] != 0);
		if (i % 2 == 0) {
			players[np++] = p.ids[i];
		} else {
			clues[nc++] = p.ids[i];
		}
	}
	qsort(players, np, sizeof(*players), cmp_u32);
	qsort(clues, nc, sizeof(*clues), cmp_u32);
	for (size_t i = 1; i < np; i++) {
		if (players[i] == players[i - 1]) {
			T_FAILF("player id %u handed out twice", players[i]);
		}
	}
	for (size_t i = 1; i < nc; i++) {
		if (clues[i] == clues[i - 1]) {
			T_FAILF("clue id %u handed out twice", clues[i]);
		}
	}
	expect_counts(p.c, p.hunt, (uint32_t)np, (uint32_t)nc);
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(p.c, &info));
	ASSERT_EQ(info.reconnects, KILLS);
	h_ok("(c) %d SIGKILLs at random moments under a pipeline of JOIN and CLUE_PLACE: "
	     "%llu commands, each answered once; %zu players and %zu clues in the hunt, "
	     "every id once; %llu commands resubmitted",
	     KILLS, (unsigned long long)n, np, nc, (unsigned long long)info.resubmitted);
	free(players);
	free(clues);
	free(p.ids);
	cairn_close(p.c);
	h_stop(d);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "exactly_once");
	check_deterministic();
	check_pipeline();
	h_pass();
}
