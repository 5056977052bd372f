/*
 * game_calls: every typed game call of libcairn end to end against a live cairnd, its
 * answers and its refusals as specific codes; the query slices of the blob arena (the
 * caller's front of the arena left alone, -EBUSY, -ENOBUFS, a timed-out query's slice
 * kept until the daemon is known to be done with it); and four threads querying on one
 * connection at once without ever getting each other's answers.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "client/client.h"
#include "kit.h"

static struct h_daemon *d;

static void check_hunts(cairn_client *c)
{
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 5 * SEC));
	ASSERT_NE(hc.hunt_id, 0);
	ASSERT_EQ(hc.map_id, 0);
	ASSERT_EQ(hc.width, 128);
	ASSERT_EQ(hc.height, 96);
	ASSERT_EQ(hc.cell_mm, CAIRN_DEFAULT_CELL_MM);
	ASSERT_EQ(hc.claim_radius_mm, CAIRN_DEFAULT_CLAIM_RADIUS_MM);
	ASSERT_EQ(hc.speed_limit_mm_s, 0);
	h_ok("hunt_create(NULL): hunt %#x on the embedded map, 128x96, defaults", hc.hunt_id);

	struct cairn_hunt_params p = {.map_id = KIT_MAP,
				      .claim_radius_mm = 300,
				      .speed_limit_mm_s = 5000,
				      .cell_mm = 500};
	struct cairn_hunt_created h2;
	ASSERT_OK(cairn_hunt_create(c, &p, &h2, 5 * SEC));
	ASSERT_NE(h2.hunt_id, hc.hunt_id);
	ASSERT_EQ(h2.map_id, KIT_MAP);
	ASSERT_EQ(h2.width, KIT_W);
	ASSERT_EQ(h2.cell_mm, 500);
	ASSERT_EQ(h2.claim_radius_mm, 300);
	ASSERT_EQ(h2.speed_limit_mm_s, 5000);
	ASSERT_OK(cairn_hunt_create(c, &p, NULL, 5 * SEC));
	h_ok("hunt_create with params: every field as asked; out may be NULL");

	p = (struct cairn_hunt_params){.map_id = 99};
	ASSERT_CODE(cairn_hunt_create(c, &p, &hc, 5 * SEC), CAIRN_E_UNKNOWN_MAP);
	p = (struct cairn_hunt_params){.cell_mm = CAIRN_MAX_CELL_MM + 1};
	ASSERT_CODE(cairn_hunt_create(c, &p, &hc, 5 * SEC), CAIRN_E_BAD_VALUE);
	h_ok("hunt_create: UNKNOWN_MAP, BAD_VALUE");

	ASSERT_OK(cairn_hunt_destroy(c, h2.hunt_id, 5 * SEC));
	ASSERT_CODE(cairn_hunt_destroy(c, h2.hunt_id, 5 * SEC), CAIRN_E_UNKNOWN_HUNT);
	ASSERT_CODE(cairn_hunt_destroy(c, 0, 5 * SEC), CAIRN_E_UNKNOWN_HUNT);
	ASSERT_OK(cairn_hunt_destroy(c, hc.hunt_id, 5 * SEC));
	h_ok("hunt_destroy, then UNKNOWN_HUNT for the same id and for 0");
}

/* The game of one small hunt: joins, clues, claims, queries, leaves, and every refusal. */
static void check_game(cairn_client *c)
{
	uint32_t h = kit_hunt(c, 500, 0);
	uint32_t other = kit_hunt(c, 0, 0);
	uint32_t p1, p2, p3, c1, c2, id;

	ASSERT_OK(cairn_join(c, h, 1500, 1500, &p1, 5 * SEC));
	ASSERT_NE(p1, 0);
	ASSERT_OK(cairn_join(c, h, 1500, 1500, NULL, 5 * SEC));
	ASSERT_CODE(cairn_join(c, h ^ 0x80000000u, 1500, 1500, &id, 5 * SEC), CAIRN_E_UNKNOWN_HUNT);
	ASSERT_CODE(cairn_join(c, h, -1, 0, &id, 5 * SEC), CAIRN_E_OFF_MAP);
	ASSERT_CODE(cairn_join(c, h, KIT_W * KIT_CELL, 0, &id, 5 * SEC), CAIRN_E_OFF_MAP);
	ASSERT_CODE(cairn_join(c, h, 0, KIT_H * KIT_CELL, &id, 5 * SEC), CAIRN_E_OFF_MAP);
	ASSERT_CODE(cairn_join(c, h, KIT_WALL_X * KIT_CELL + 500, KIT_WALL_Y * KIT_CELL + 999, &id,
			       5 * SEC),
		    CAIRN_E_BLOCKED);
	h_ok("join: an id; UNKNOWN_HUNT, OFF_MAP on three sides, BLOCKED on the wall cell");

	ASSERT_OK(cairn_clue_place(c, h, 5000, 5000, 7, &c1, 5 * SEC));
	ASSERT_OK(cairn_clue_place(c, h, 5000, 5300, 11, &c2, 5 * SEC));
	ASSERT_NE(c1, c2);
	ASSERT_CODE(cairn_clue_place(c, h, KIT_WALL_X * KIT_CELL, KIT_WALL_Y * KIT_CELL, 1, &id,
				     5 * SEC),
		    CAIRN_E_BLOCKED);
	ASSERT_CODE(cairn_clue_place(c, h, 0, -5, 1, &id, 5 * SEC), CAIRN_E_OFF_MAP);
	ASSERT_CODE(cairn_clue_place(c, 0, 0, 0, 1, &id, 5 * SEC), CAIRN_E_UNKNOWN_HUNT);
	h_ok("clue_place: ids; BLOCKED, OFF_MAP, UNKNOWN_HUNT");

	struct cairn_hit hits[CAIRN_MAX_QUERY_ITEMS];
	uint32_t count = 99, total = 99;
	ASSERT_OK(cairn_nearest_clues(c, h, 5000, 5100, 2, 0, hits, &count, 5 * SEC));
	ASSERT_EQ(count, 2);
	ASSERT_UEQ(hits[0].id, c1);
	ASSERT_EQ(hits[0].dist_mm, 100);
	ASSERT_EQ(hits[0].value, 7);
	ASSERT_UEQ(hits[1].id, c2);
	ASSERT_EQ(hits[1].dist_mm, 200);
	ASSERT_EQ(hits[1].x, 5000);
	ASSERT_EQ(hits[1].y, 5300);
	ASSERT_OK(cairn_nearest_clues(c, h, 5000, 5300, CAIRN_MAX_QUERY_ITEMS, 0, hits, &count,
				      5 * SEC));
	ASSERT_EQ(count, 2);
	ASSERT_UEQ(hits[0].id, c2);
	ASSERT_OK(cairn_nearest_clues(c, h, 5000, 5300, 1, 0, NULL, &count, 5 * SEC));
	ASSERT_EQ(count, 1);
	ASSERT_CODE(cairn_nearest_clues(c, h, 5000, 5100, 0, 0, hits, &count, 5 * SEC), EINVAL);
	ASSERT_CODE(cairn_nearest_clues(c, h, 5000, 5100, CAIRN_MAX_QUERY_ITEMS + 1, 0, hits,
					&count, 5 * SEC),
		    EINVAL);
	ASSERT_CODE(cairn_nearest_clues(c, h, -1, 0, 1, 0, hits, &count, 5 * SEC), CAIRN_E_OFF_MAP);
	ASSERT_CODE(cairn_nearest_clues(c, 0, 0, 0, 1, 0, hits, &count, 5 * SEC),
		    CAIRN_E_UNKNOWN_HUNT);
	h_ok("nearest_clues: nearest first with distances and values; k = max; hits NULL; "
	     "-EINVAL for k = 0 and k > %d; OFF_MAP; UNKNOWN_HUNT",
	     CAIRN_MAX_QUERY_ITEMS);

	/* p1 walks to 200 mm of c1 and 500 mm of c2: the nearest unclaimed one is its. */
	struct cairn_moved mv;
	ASSERT_OK(cairn_move(c, h, p1, 5000, 4800, &mv, 5 * SEC));
	ASSERT_UEQ(mv.player_id, p1);
	ASSERT_EQ(mv.outcome, CAIRN_CLAIM_WON);
	ASSERT_UEQ(mv.clue_id, c1);
	ASSERT_UEQ(mv.holder_id, p1);
	ASSERT_EQ(mv.value, 7);
	ASSERT_EQ(mv.score, 7);
	ASSERT_EQ(mv.x, 5000);
	ASSERT_EQ(mv.y, 4800);
	ASSERT_OK(cairn_join(c, h, 5000, 6000, &p2, 5 * SEC));
	ASSERT_OK(cairn_move(c, h, p2, 5000, 5000, &mv, 5 * SEC));
	ASSERT_EQ(mv.outcome, CAIRN_CLAIM_WON);
	ASSERT_UEQ(mv.clue_id, c2);
	ASSERT_EQ(mv.score, 11);
	ASSERT_OK(cairn_join(c, h, 5000, 7000, &p3, 5 * SEC));
	ASSERT_OK(cairn_move(c, h, p3, 5000, 4990, &mv, 5 * SEC));
	ASSERT_EQ(mv.outcome, CAIRN_CLAIM_LOST);
	ASSERT_UEQ(mv.clue_id, c1);
	ASSERT_UEQ(mv.holder_id, p1);
	ASSERT_EQ(mv.score, 0);
	ASSERT_OK(cairn_move(c, h, p3, 30000, 30000, &mv, 5 * SEC));
	ASSERT_EQ(mv.outcome, CAIRN_CLAIM_NONE);
	ASSERT_OK(cairn_move(c, h, p3, 5000, 4990, NULL, 5 * SEC));
	ASSERT_CODE(cairn_move(c, h, p3, -1, 0, &mv, 5 * SEC), CAIRN_E_OFF_MAP);
	ASSERT_CODE(
		cairn_move(c, h, p3, KIT_WALL_X * KIT_CELL, KIT_WALL_Y * KIT_CELL, &mv, 5 * SEC),
		CAIRN_E_BLOCKED);
	ASSERT_CODE(cairn_move(c, h, c1, 0, 0, &mv, 5 * SEC), CAIRN_E_UNKNOWN_PLAYER);
	ASSERT_CODE(cairn_move(c, other, p3, 0, 0, &mv, 5 * SEC), CAIRN_E_WRONG_HUNT);
	ASSERT_CODE(cairn_move(c, 0, p3, 0, 0, &mv, 5 * SEC), CAIRN_E_UNKNOWN_HUNT);
	h_ok("move: WON (nearest unclaimed), WON, LOST (holder named), NONE; OFF_MAP, "
	     "BLOCKED, UNKNOWN_PLAYER (a clue id), WRONG_HUNT, UNKNOWN_HUNT");

	ASSERT_OK(cairn_nearest_clues(c, h, 5000, 5100, 5, 0, hits, &count, 5 * SEC));
	ASSERT_EQ(count, 0);
	ASSERT_OK(cairn_nearest_clues(c, h, 5000, 5100, 5, 1, hits, &count, 5 * SEC));
	ASSERT_EQ(count, 2);
	h_ok("nearest_clues: claimed clues only with include_claimed");

	ASSERT_OK(cairn_players_near(c, h, 5000, 5000, 1000, 10, hits, &count, &total, 5 * SEC));
	ASSERT_EQ(count, 3);
	ASSERT_EQ(total, 3);
	ASSERT_UEQ(hits[0].id, p2);
	ASSERT_EQ(hits[0].dist_mm, 0);
	ASSERT_UEQ(hits[1].id, p3);
	ASSERT_EQ(hits[1].dist_mm, 10);
	ASSERT_UEQ(hits[2].id, p1);
	ASSERT_EQ(hits[2].dist_mm, 200);
	ASSERT_EQ(hits[0].value, 11);
	ASSERT_OK(cairn_players_near(c, h, 5000, 5000, 1000, 2, hits, &count, &total, 5 * SEC));
	ASSERT_EQ(count, 2);
	ASSERT_EQ(total, 3);
	ASSERT_OK(cairn_players_near(c, h, 5000, 5000, 1000, 2, NULL, NULL, NULL, 5 * SEC));
	ASSERT_CODE(cairn_players_near(c, h, 5000, 5000, 1000, 0, hits, &count, &total, 5 * SEC),
		    EINVAL);
	ASSERT_CODE(cairn_players_near(c, h, 5000, 5000, 1000, CAIRN_MAX_QUERY_ITEMS + 1, hits,
				       &count, &total, 5 * SEC),
		    EINVAL);
	h_ok("players_near: nearest first, count and total, max cuts; -EINVAL for max 0 and "
	     "too many");

	ASSERT_OK(cairn_leaderboard(c, h, 10, hits, &count, 5 * SEC));
	ASSERT_EQ(count, 4);
	ASSERT_UEQ(hits[0].id, p2);
	ASSERT_EQ(hits[0].value, 11);
	ASSERT_UEQ(hits[1].id, p1);
	ASSERT_EQ(hits[1].value, 7);
	ASSERT_EQ(hits[2].value, 0);
	ASSERT_EQ(hits[3].value, 0);
	ASSERT_UEQ(hits[3].id, p3); /* joined after the unnamed player at (1500, 1500) */
	ASSERT_CODE(cairn_leaderboard(c, h, 0, hits, &count, 5 * SEC), EINVAL);
	ASSERT_CODE(cairn_leaderboard(c, h ^ 0x80000000u, 1, hits, &count, 5 * SEC),
		    CAIRN_E_UNKNOWN_HUNT);
	h_ok("leaderboard: by score, then join order; -EINVAL for k = 0; UNKNOWN_HUNT");

	struct cairn_player_info pi;
	ASSERT_OK(cairn_player_state(c, h, p1, &pi, 5 * SEC));
	ASSERT_UEQ(pi.player_id, p1);
	ASSERT_UEQ(pi.hunt_id, h);
	ASSERT_EQ(pi.x, 5000);
	ASSERT_EQ(pi.y, 4800);
	ASSERT_EQ(pi.claims, 1);
	ASSERT_EQ(pi.score, 7);
	ASSERT_NE(pi.stamp_ns, 0);
	ASSERT_CODE(cairn_player_state(c, h, c1, &pi, 5 * SEC), CAIRN_E_UNKNOWN_PLAYER);
	ASSERT_CODE(cairn_player_state(c, other, p1, &pi, 5 * SEC), CAIRN_E_WRONG_HUNT);
	h_ok("player_state: position, claims, score, stamp; UNKNOWN_PLAYER, WRONG_HUNT");

	struct cairn_state_hash_reply s1, s2;
	ASSERT_OK(cairn_state_hash(c, &s1, 5 * SEC));
	ASSERT_OK(cairn_state_hash(c, &s2, 5 * SEC));
	ASSERT_UEQ(s1.hash, s2.hash);
	ASSERT_UEQ(s1.applied, s2.applied);
	ASSERT_GE(s1.hunts, 2);
	ASSERT_GE(s1.entities, 6);
	ASSERT_OK(cairn_move(c, h, p3, 6000, 6000, NULL, 5 * SEC));
	ASSERT_OK(cairn_state_hash(c, &s2, 5 * SEC));
	ASSERT_TRUE(s2.hash != s1.hash);
	ASSERT_UEQ(s2.applied, s1.applied + 1);
	h_ok("state_hash: stable without a change, a new hash and order number after a move");

	struct cairn_clue_removed cr;
	ASSERT_CODE(cairn_clue_remove(c, other, c1, &cr, 5 * SEC), CAIRN_E_WRONG_HUNT);
	ASSERT_OK(cairn_clue_remove(c, h, c1, &cr, 5 * SEC));
	ASSERT_UEQ(cr.clue_id, c1);
	ASSERT_UEQ(cr.claimed_by, p1);
	ASSERT_EQ(cr.value, 7);
	ASSERT_CODE(cairn_clue_remove(c, h, c1, &cr, 5 * SEC), CAIRN_E_UNKNOWN_CLUE);
	ASSERT_CODE(cairn_clue_remove(c, h, p1, &cr, 5 * SEC), CAIRN_E_UNKNOWN_CLUE);
	h_ok("clue_remove: its winner and worth; WRONG_HUNT, UNKNOWN_CLUE (twice, a player id)");

	struct cairn_left left;
	ASSERT_CODE(cairn_leave(c, other, p1, &left, 5 * SEC), CAIRN_E_WRONG_HUNT);
	ASSERT_OK(cairn_leave(c, h, p1, &left, 5 * SEC));
	ASSERT_UEQ(left.player_id, p1);
	ASSERT_EQ(left.claims, 1);
	ASSERT_EQ(left.score, 7);
	ASSERT_CODE(cairn_leave(c, h, p1, &left, 5 * SEC), CAIRN_E_UNKNOWN_PLAYER);
	ASSERT_CODE(cairn_player_state(c, h, p1, &pi, 5 * SEC), CAIRN_E_UNKNOWN_PLAYER);
	h_ok("leave: final score and claims; WRONG_HUNT, then UNKNOWN_PLAYER");

	ASSERT_OK(cairn_hunt_destroy(c, h, 5 * SEC));
	ASSERT_OK(cairn_hunt_destroy(c, other, 5 * SEC));
	ASSERT_CODE(cairn_join(c, h, 1500, 1500, &id, 5 * SEC), CAIRN_E_UNKNOWN_HUNT);
	ASSERT_CODE(cairn_player_state(c, h, p2, &pi, 5 * SEC), CAIRN_E_UNKNOWN_HUNT);
}

/* A hunt whose players may move no faster than 1 m/s. */
static void check_speed(cairn_client *c)
{
	uint32_t h = kit_hunt(c, 0, 1000), p;
	struct cairn_moved mv;
	ASSERT_OK(cairn_join(c, h, 1500, 1500, &p, 5 * SEC));
	ASSERT_CODE(cairn_move(c, h, p, 11500, 1500, &mv, 5 * SEC), CAIRN_E_TOO_FAST);
	ASSERT_OK(cairn_move(c, h, p, 1500, 1500, &mv, 5 * SEC));
	uint64_t t0 = h_now_ns();
	h_sleep_us(100 * 1000);
	/* 50 mm in at least 100 ms is at most 0.5 m/s. */
	ASSERT_OK(cairn_move(c, h, p, 1550, 1500, &mv, 5 * SEC));
	uint64_t dt = h_now_ns() - t0;
	ASSERT_EQ(mv.x, 1550);
	/* Far more than 1 m/s for any time this test can take. */
	ASSERT_CODE(cairn_move(c, h, p, 61500, 1500, &mv, 5 * SEC), CAIRN_E_TOO_FAST);
	struct cairn_player_info pi;
	ASSERT_OK(cairn_player_state(c, h, p, &pi, 5 * SEC));
	ASSERT_EQ(pi.x, 1550);
	ASSERT_OK(cairn_hunt_destroy(c, h, 5 * SEC));
	h_ok("speed limit 1 m/s: 10 m at once TOO_FAST, 50 mm after %.0f ms accepted, a refused "
	     "move changes nothing",
	     (double)dt / 1e6);
}

/* ---- the query slices ---- */

struct query_arg {
	cairn_client *c;
	uint32_t hunt;
	int64_t timeout_ns;
	int result;
	uint32_t count;
};

static void *query_main(void *p)
{
	struct query_arg *a = p;
	struct cairn_hit hits[4];
	a->result = cairn_nearest_clues(a->c, a->hunt, 0, 0, 4, 1, hits, &a->count, a->timeout_ns);
	return NULL;
}

/* Stops the daemon and waits until all its threads are stopped: kill() does not wait. */
static void stop_daemon(void)
{
	h_signal(d, SIGSTOP);
	int st;
	pid_t w;
	while ((w = waitpid(d->pid, &st, WUNTRACED)) < 0 && errno == EINTR) {
	}
	ASSERT_EQ(w, d->pid);
	ASSERT_TRUE(WIFSTOPPED(st));
}

static uint32_t busy_slices(cairn_client *c)
{
	return __atomic_load_n(&c->slices.busy, __ATOMIC_RELAXED);
}

static void check_slices(cairn_client *c)
{
	uint32_t h = kit_hunt(c, 0, 0), id;
	struct cairn_hit hits[4];
	uint32_t count;
	ASSERT_OK(cairn_clue_place(c, h, 100, 100, 5, &id, 5 * SEC));

	/* The queries write into the last 256 KiB of the default arena only. */
	size_t size;
	uint8_t *blob = cairn_blob(c, &size);
	ASSERT_EQ(size, CAIRN_BLOB_DEFAULT_SIZE);
	size_t front = size - CAIRN_QUERY_SLICES_MAX * CAIRN_QUERY_SLICE_SIZE;
	memset(blob, 0xa5, front);
	for (int i = 0; i < 100; i++) {
		ASSERT_OK(cairn_nearest_clues(c, h, 0, 0, 4, 0, hits, &count, 5 * SEC));
		ASSERT_EQ(count, 1);
	}
	for (size_t i = 0; i < front; i++) {
		if (blob[i] != 0xa5) {
			T_FAILF("arena byte %zu changed by a query", i);
		}
	}
	struct cairn_hit last;
	memcpy(&last, blob + size - CAIRN_QUERY_SLICE_SIZE, sizeof(last));
	ASSERT_UEQ(last.id, id);
	h_ok("queries leave the front %zu KiB of the arena alone and answer in the last slice",
	     front / 1024);

	/* An arena too small for one slice. */
	struct cairn_open_options small = {.blob_size = 16 * 1024};
	cairn_client *cs = kit_open(d, &small);
	ASSERT_CODE(cairn_nearest_clues(cs, h, 0, 0, 1, 0, hits, &count, 5 * SEC), ENOBUFS);
	ASSERT_CODE(cairn_leaderboard(cs, h, 1, hits, &count, 5 * SEC), ENOBUFS);
	cairn_close(cs);
	h_ok("a 16 KiB arena: -ENOBUFS");

	/*
	 * An arena of exactly one slice, and a daemon that stops answering (SIGSTOP): a
	 * query in flight holds the slice, so another gets -EBUSY at once.
	 */
	struct cairn_open_options one = {.blob_size = CAIRN_QUERY_SLICE_SIZE};
	cairn_client *c1 = kit_open(d, &one);
	ASSERT_OK(cairn_nearest_clues(c1, h, 0, 0, 4, 0, hits, &count, 5 * SEC));
	ASSERT_EQ(count, 1);
	stop_daemon();
	struct query_arg a = {.c = c1, .hunt = h, .timeout_ns = 10 * SEC};
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, query_main, &a), 0);
	uint64_t until = h_now_ns() + 5 * SEC;
	while (busy_slices(c1) == 0 && h_now_ns() < until) {
		h_sleep_us(100);
	}
	ASSERT_EQ(busy_slices(c1), 1);
	ASSERT_CODE(cairn_nearest_clues(c1, h, 0, 0, 1, 0, hits, &count, 5 * SEC), EBUSY);
	h_signal(d, SIGCONT);
	ASSERT_EQ(pthread_join(t, NULL), 0);
	ASSERT_OK(a.result);
	ASSERT_EQ(a.count, 1);
	ASSERT_EQ(busy_slices(c1), 0);
	h_ok("one slice: a second query while the first is in flight gets -EBUSY");

	/*
	 * A query that times out keeps its slice (the daemon may write there later); the
	 * next one first proves the daemon done with it by a PING, and then runs.
	 */
	stop_daemon();
	ASSERT_CODE(cairn_nearest_clues(c1, h, 0, 0, 1, 0, hits, &count, 20 * MS), ETIMEDOUT);
	ASSERT_EQ(busy_slices(c1), 1);
	ASSERT_CODE(cairn_nearest_clues(c1, h, 0, 0, 1, 0, hits, &count, 20 * MS), ETIMEDOUT);
	ASSERT_EQ(busy_slices(c1), 1);
	h_signal(d, SIGCONT);
	ASSERT_OK(cairn_nearest_clues(c1, h, 0, 0, 4, 0, hits, &count, 5 * SEC));
	ASSERT_EQ(count, 1);
	ASSERT_UEQ(hits[0].id, id);
	ASSERT_EQ(busy_slices(c1), 0);
	ASSERT_EQ(__atomic_load_n(&c1->slices.quarantined, __ATOMIC_RELAXED), 0);
	cairn_close(c1);
	ASSERT_OK(cairn_hunt_destroy(c, h, 5 * SEC));
	h_ok("a timed-out query keeps its slice until a PING proves the daemon done with it");
}

/* ---- four threads, one connection ---- */

#define THREADS       4
#define LINE_CLUES    48
#define LINE_PLAYERS  16
#define THREAD_ROUNDS 8000

struct worker {
	cairn_client *c;
	uint32_t hunt;
	uint32_t clues[LINE_CLUES];     /* clue j at distance 100 * j + 50 * t of the origin */
	uint32_t players[LINE_PLAYERS]; /* player j at distance 200 * j, scored j */
	int t;
	uint64_t queries;
	int most_busy; /* the most slices seen taken by the other threads at once */
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct cairn_hit hits[LINE_CLUES];
	uint32_t count, total;
	for (int r = 0; r < THREAD_ROUNDS; r++) {
		int busy =
			__builtin_popcount(__atomic_load_n(&w->c->slices.busy, __ATOMIC_RELAXED));
		w->most_busy = busy > w->most_busy ? busy : w->most_busy;
		uint32_t k = 1 + (uint32_t)(r + w->t * 7) % LINE_CLUES;
		int rc = cairn_nearest_clues(w->c, w->hunt, 1000, 20000, k, 0, hits, &count,
					     5 * SEC);
		if (rc < 0) {
			T_FAILF("thread %d: nearest_clues: %s", w->t, cairn_strerror(rc));
		}
		if (count != k) {
			T_FAILF("thread %d round %d: %u clues, asked for %u", w->t, r, count, k);
		}
		for (uint32_t i = 0; i < k; i++) {
			if (hits[i].id != w->clues[i] ||
			    hits[i].dist_mm != 100 * i + 50 * (uint32_t)w->t) {
				T_FAILF("thread %d round %d: hit %u is clue %#x at %u mm, expected "
					"%#x at %u mm",
					w->t, r, i, hits[i].id, hits[i].dist_mm, w->clues[i],
					100 * i + 50 * w->t);
			}
		}
		uint32_t m = 1 + (uint32_t)r % LINE_PLAYERS;
		rc = cairn_players_near(w->c, w->hunt, 1000, 30000, 100000, m, hits, &count, &total,
					5 * SEC);
		if (rc < 0 || count != m || total != LINE_PLAYERS) {
			T_FAILF("thread %d: players_near: %d, %u of %u", w->t, rc, count, total);
		}
		for (uint32_t i = 0; i < m; i++) {
			if (hits[i].id != w->players[i] || hits[i].dist_mm != 200 * i) {
				T_FAILF("thread %d round %d: player %u is %#x, expected %#x", w->t,
					r, i, hits[i].id, w->players[i]);
			}
		}
		rc = cairn_leaderboard(w->c, w->hunt, m, hits, &count, 5 * SEC);
		if (rc < 0 || count != m) {
			T_FAILF("thread %d: leaderboard: %d, %u", w->t, rc, count);
		}
		for (uint32_t i = 0; i < m; i++) {
			if (hits[i].id != w->players[LINE_PLAYERS - 1 - i]) {
				T_FAILF("thread %d round %d: leader %u is %#x, expected %#x", w->t,
					r, i, hits[i].id, w->players[LINE_PLAYERS - 1 - i]);
			}
		}
		w->queries += 3;
	}
	return NULL;
}

static void check_threads(cairn_client *c)
{
	static struct worker w[THREADS];
	for (int t = 0; t < THREADS; t++) {
		w[t].c = c;
		w[t].t = t;
		w[t].hunt = kit_hunt(c, 0, 0);
		/*
		 * Clue j of thread t lies 100 j + 50 t mm from the query point: each thread's
		 * right answer differs from every other thread's.
		 */
		for (int j = LINE_CLUES - 1; j >= 0; j--) {
			ASSERT_OK(cairn_clue_place(c, w[t].hunt, 1000 + 100 * j + 50 * t, 20000,
						   1000 * t + j, &w[t].clues[j], 5 * SEC));
		}
		for (int j = 0; j < LINE_PLAYERS; j++) {
			ASSERT_OK(cairn_join(c, w[t].hunt, 1000, 30000 + 200 * j, &w[t].players[j],
					     5 * SEC));
		}
		/* Scores j: player j claims clues worth j, placed away from the line. */
		for (int j = 1; j < LINE_PLAYERS; j++) {
			uint32_t cl;
			struct cairn_moved mv;
			ASSERT_OK(cairn_clue_place(c, w[t].hunt, 40000 + 1000 * j, 40000, j, &cl,
						   5 * SEC));
			ASSERT_OK(cairn_move(c, w[t].hunt, w[t].players[j], 40000 + 1000 * j, 40000,
					     &mv, 5 * SEC));
			ASSERT_EQ(mv.outcome, CAIRN_CLAIM_WON);
			ASSERT_OK(cairn_move(c, w[t].hunt, w[t].players[j], 1000, 30000 + 200 * j,
					     &mv, 5 * SEC));
		}
	}
	pthread_t th[THREADS];
	uint64_t t0 = h_now_ns();
	for (int t = 0; t < THREADS; t++) {
		ASSERT_EQ(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
	}
	uint64_t total = 0;
	int most_busy = 0;
	for (int t = 0; t < THREADS; t++) {
		ASSERT_EQ(pthread_join(th[t], NULL), 0);
		total += w[t].queries;
		most_busy = w[t].most_busy > most_busy ? w[t].most_busy : most_busy;
	}
	double s = (double)(h_now_ns() - t0) / 1e9;
	ASSERT_EQ(c->slices.busy, 0);
	h_ok("%d threads on one connection: %llu queries (nearest_clues, players_near, "
	     "leaderboard), every answer the thread's own, in %.2f s (%.0f queries/s); up to %d "
	     "slices seen in use by the others at once",
	     THREADS, (unsigned long long)total, s, (double)total / s, most_busy);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "game_calls");
	d = kit_start(NULL);
	cairn_client *c = kit_open(d, NULL);
	check_hunts(c);
	check_game(c);
	check_speed(c);
	check_slices(c);
	check_threads(c);
	cairn_close(c);
	h_pass();
}
