/*
 * Claims: the first move in the total order to come within the claim radius of an
 * unclaimed clue wins it, every later one loses to it; the radius boundary is inclusive
 * and exact; the nearest clue in reach is the one claimed (lowest id on a tie); claims
 * reach across block boundaries; scores add clue values, negative ones too.
 */
#include "eng.h"

#define D ENG_MAP_DEFAULT
#define S ENG_MAP_SMALL

#define MID(c) ((int32_t)(c)*1000 + 500)

/* An open 12 x 12 cell area of the default map, around this point. */
#define CX MID(66)
#define CY MID(68)

static struct cairn_moved must_move(struct eng *t, uint32_t h, uint32_t p, int32_t x, int32_t y,
				    uint8_t outcome, uint32_t clue, uint32_t holder)
{
	struct cairn_moved m = ENG_MOVE(t, h, p, x, y);
	if (m.outcome != outcome || m.clue_id != clue || m.holder_id != holder) {
		T_FAILF("move of %u to %d,%d: outcome %u clue %u holder %u; expected %u, %u, %u", p,
			x, y, m.outcome, m.clue_id, m.holder_id, outcome, clue, holder);
	}
	return m;
}

static size_t count_events(struct cairn__broadcast_reader *r, uint16_t type,
			   struct cairn_event *last)
{
	static struct cairn_event ev[4096];
	size_t n = eng_events_read(r, ev, 4096), k = 0;
	for (size_t i = 0; i < n; i++) {
		if (ev[i].type == type) {
			k++;
			*last = ev[i];
		}
	}
	return k;
}

/*
 * 64 players reach one clue in one batch of moves (one ingress stamp), in a different
 * order each round: the first applied wins, the 63 others lose to it, and one
 * CLUE_CLAIMED event is published.
 */
static void test_stampede(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	struct eng_rng rng;
	eng_rng_seed(&rng, 64);
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);
	enum { N = 64 };
	uint32_t p[N];
	int32_t hx[N], hy[N], tx[N], ty[N];
	/* Homes on a 5 x 13 lattice 150 mm apart; targets on distinct points within 20 mm. */
	for (int i = 0; i < N; i++) {
		hx[i] = CX - 2000 + (i % 13) * 300;
		hy[i] = CY - 1000 + (i / 13) * 500;
		int32_t dx, dy;
		do {
			dx = (int32_t)eng_below(&rng, 41) - 20;
			dy = (int32_t)eng_below(&rng, 41) - 20;
		} while (dx * dx + dy * dy > 400);
		tx[i] = CX + dx;
		ty[i] = CY + dy;
		p[i] = ENG_JOIN(&t, h, hx[i], hy[i]);
	}
	struct cairn__broadcast_reader rd;
	eng_events_attach(&t, &rd, cairn__engine_events_published(t.e));
	for (int round = 0; round < 16; round++) {
		int64_t value = 100 + round;
		uint32_t c = ENG_CLUE(&t, h, CX, CY, value);
		int order[N];
		for (int i = 0; i < N; i++) {
			order[i] = i;
		}
		for (int i = N - 1; i > 0; i--) {
			int j = (int)eng_below(&rng, (uint32_t)i + 1), x = order[i];
			order[i] = order[j];
			order[j] = x;
		}
		struct cairn_engine_counters c0 = *cairn__engine_counters(t.e);
		t.step_ns = 0;
		uint32_t winner = p[order[0]];
		for (int i = 0; i < N; i++) {
			int k = order[i];
			struct cairn_moved m =
				must_move(&t, h, p[k], tx[k], ty[k],
					  i == 0 ? CAIRN_CLAIM_WON : CAIRN_CLAIM_LOST, c, winner);
			ASSERT_EQ(m.value, value);
		}
		const struct cairn_engine_counters *c1 = cairn__engine_counters(t.e);
		ASSERT_UEQ(c1->claims, c0.claims + 1);
		ASSERT_UEQ(c1->lost, c0.lost + N - 1);
		ASSERT_UEQ(c1->moves, c0.moves + N);
		struct cairn_event ev;
		ASSERT_EQ(count_events(&rd, CAIRN_EVENT_CLUE_CLAIMED, &ev), 1);
		ASSERT_UEQ(ev.player_id, winner);
		ASSERT_UEQ(ev.clue_id, c);
		/* Only the winner scored. */
		const struct cairn_query_reply *r = ENG_OK(&t, eng_leaderboard(h, N, 0, N * 24));
		ASSERT_EQ(r->total, N);
		int scored = 0;
		for (int i = 0; i < N; i++) {
			scored += eng_hits(&t, r)[i].value != 0;
		}
		ASSERT_LE(scored, round + 1);
		ASSERT_UEQ(eng_hits(&t, r)[0].value >= value, 1);
		/* Back home, and the clue goes. */
		t.step_ns = 1000000;
		const struct cairn_clue_removed *cr = ENG_OK(&t, eng_clue_remove(h, c));
		ASSERT_UEQ(cr->claimed_by, winner);
		for (int i = 0; i < N; i++) {
			must_move(&t, h, p[i], hx[i], hy[i], CAIRN_CLAIM_NONE, 0, 0);
		}
		count_events(&rd, 0, &ev);
	}
	eng_close(&t);
}

/* Two players within 2 cm: the first to move wins, even if the second is nearer. */
static void test_two_players(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);
	uint32_t a = ENG_JOIN(&t, h, CX - 1000, CY);
	uint32_t b = ENG_JOIN(&t, h, CX + 1000, CY);
	uint32_t c = ENG_CLUE(&t, h, CX, CY, 5);
	t.step_ns = 0;
	const struct cairn_engine_counters *ctr = cairn__engine_counters(t.e);
	must_move(&t, h, a, CX - 15, CY, CAIRN_CLAIM_WON, c, a);
	must_move(&t, h, b, CX + 10, CY, CAIRN_CLAIM_LOST, c, a);
	ASSERT_UEQ(ctr->claims, 1);
	ASSERT_UEQ(ctr->lost, 1);
	/*
	 * The winner coming back is told nothing: clues a player holds itself are not
	 * "in reach" for it, and neither the lost nor the claims counter moves.
	 */
	struct cairn_moved m = must_move(&t, h, a, CX, CY, CAIRN_CLAIM_NONE, 0, 0);
	ASSERT_EQ(m.score, 5);
	ASSERT_UEQ(ctr->lost, 1);
	ASSERT_UEQ(ctr->claims, 1);
	eng_close(&t);
}

/* The radius is inclusive, to the millimetre. */
static void test_boundary(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0); /* 20 mm */
	uint32_t h50 = ENG_HUNT(&t, D, 50, 0, 0);
	static const struct {
		int32_t dx, dy;
		bool claims;
	} rows20[] = {
		{21, 0, false}, {0, -21, false},  {20, 1, false},   {-16, 13, false}, /* 20.6 */
		{12, 16, true}, {-16, -12, true}, {20, 0, true},    {0, -20, true},
		{0, 0, true},   {14, 14, true},   {-15, 14, false}, /* 20.5 */
	};
	static const struct {
		int32_t dx, dy;
		bool claims;
	} rows50[] = {
		{30, 41, false}, {51, 0, false},   {-36, 36, false}, /* 50.9 */
		{30, 40, true},  {-14, -48, true}, {-48, 14, true},  {0, 50, true}, {35, 35, true},
	};
	uint32_t p = ENG_JOIN(&t, h, CX - 3000, CY);
	uint32_t q = ENG_JOIN(&t, h50, CX - 3000, CY);
	for (size_t i = 0; i < sizeof(rows20) / sizeof(rows20[0]); i++) {
		uint32_t c = ENG_CLUE(&t, h, CX, CY, 1);
		int32_t x = CX + rows20[i].dx, y = CY + rows20[i].dy;
		if (rows20[i].claims) {
			must_move(&t, h, p, x, y, CAIRN_CLAIM_WON, c, p);
		} else {
			must_move(&t, h, p, x, y, CAIRN_CLAIM_NONE, 0, 0);
		}
		ENG_OK(&t, eng_clue_remove(h, c));
		must_move(&t, h, p, CX - 3000, CY, CAIRN_CLAIM_NONE, 0, 0);
	}
	for (size_t i = 0; i < sizeof(rows50) / sizeof(rows50[0]); i++) {
		uint32_t c = ENG_CLUE(&t, h50, CX, CY, 1);
		int32_t x = CX + rows50[i].dx, y = CY + rows50[i].dy;
		if (rows50[i].claims) {
			must_move(&t, h50, q, x, y, CAIRN_CLAIM_WON, c, q);
		} else {
			must_move(&t, h50, q, x, y, CAIRN_CLAIM_NONE, 0, 0);
		}
		ENG_OK(&t, eng_clue_remove(h50, c));
		must_move(&t, h50, q, CX - 3000, CY, CAIRN_CLAIM_NONE, 0, 0);
	}
	eng_close(&t);
}

/*
 * Claims across block boundaries (blocks are 8 cells: 8000 mm at 1000 mm cells), up to
 * a radius of a whole block, and at the map's edges.
 */
static void test_blocks(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t wide = ENG_HUNT(&t, S, 8000, 0, 0);
	uint32_t p = ENG_JOIN(&t, h, 500, 15500);
	struct {
		int32_t cx, cy, px, py;
	} rows[] = {
		{7995, 15500, 8010, 15500},   /* west block, player east */
		{8010, 15500, 7995, 15500},   /* and the other way */
		{12000, 15995, 12000, 16005}, /* north block, player south */
		{7995, 15995, 8005, 16005},   /* across a corner */
		{8005, 16005, 7995, 15995},   {15995, 16005, 16005, 15995},
		{0, 19999, 10, 19990}, /* the map's corner */
		{23999, 19999, 23990, 19999},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint32_t c = ENG_CLUE(&t, h, rows[i].cx, rows[i].cy, 2);
		must_move(&t, h, p, rows[i].px, rows[i].py, CAIRN_CLAIM_WON, c, p);
		ENG_OK(&t, eng_clue_remove(h, c));
	}
	/* A radius of a whole block: the whole next block is in reach, exactly. */
	uint32_t q = ENG_JOIN(&t, wide, 15999, 15500);
	uint32_t c = ENG_CLUE(&t, wide, 7999, 15500, 3);
	must_move(&t, wide, q, 15999, 15501, CAIRN_CLAIM_NONE, 0, 0);
	must_move(&t, wide, q, 15999, 15500, CAIRN_CLAIM_WON, c, q);
	c = ENG_CLUE(&t, wide, 8000, 7200, 3);
	must_move(&t, wide, q, 15999, 15201, CAIRN_CLAIM_NONE, 0, 0);
	must_move(&t, wide, q, 12800, 13600, CAIRN_CLAIM_WON, c, q); /* 4800, 6400: 8000 */
	eng_close(&t);
}

/* Several clues in reach: the nearest unclaimed one, lowest id on a tie. */
static void test_nearest_in_reach(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);
	uint32_t p[4];
	for (int i = 0; i < 4; i++) {
		p[i] = ENG_JOIN(&t, h, CX - 3000 + i * 100, CY);
	}
	uint32_t c15 = ENG_CLUE(&t, h, CX - 15, CY, 1);
	uint32_t c10 = ENG_CLUE(&t, h, CX + 6, CY + 8, 2);
	uint32_t c30 = ENG_CLUE(&t, h, CX + 30, CY, 4); /* out of reach */
	must_move(&t, h, p[0], CX, CY, CAIRN_CLAIM_WON, c10, p[0]);
	/* The nearer one is claimed: the farther unclaimed one is won. */
	must_move(&t, h, p[1], CX, CY, CAIRN_CLAIM_WON, c15, p[1]);
	/* Both claimed: lost, to the nearest. */
	struct cairn_moved m = must_move(&t, h, p[2], CX, CY, CAIRN_CLAIM_LOST, c10, p[0]);
	ASSERT_EQ(m.value, 2);
	ASSERT_EQ(m.score, 0);
	/* From a point where c15 is nearest among the claimed ones. */
	must_move(&t, h, p[2], CX - 10, CY, CAIRN_CLAIM_LOST, c15, p[1]);
	must_move(&t, h, p[3], CX + 25, CY, CAIRN_CLAIM_WON, c30, p[3]);

	/* A tie, with the later placed clue holding the lower id. */
	uint32_t x = ENG_CLUE(&t, h, CX + 2000, CY, 0);
	uint32_t y = ENG_CLUE(&t, h, CX + 2001, CY, 0);
	ENG_OK(&t, eng_clue_remove(h, x));
	ENG_OK(&t, eng_clue_remove(h, y));
	uint32_t north = ENG_CLUE(&t, h, CX + 3000, CY - 12, 7); /* y's slot */
	uint32_t south = ENG_CLUE(&t, h, CX + 3000, CY + 12, 8); /* x's slot */
	ASSERT_LT(south, north);
	must_move(&t, h, p[0], CX + 3000, CY, CAIRN_CLAIM_WON, south, p[0]);
	must_move(&t, h, p[1], CX + 3000, CY, CAIRN_CLAIM_WON, north, p[1]);
	/* And among claimed ones. */
	must_move(&t, h, p[2], CX + 3000, CY, CAIRN_CLAIM_LOST, south, p[0]);
	eng_close(&t);
}

/* Scores: the sum of the values of the clues won, negative ones included. */
static void test_scores(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);
	uint32_t p = ENG_JOIN(&t, h, CX, CY);
	uint32_t q = ENG_JOIN(&t, h, CX, CY + 1000);
	static const int64_t values[] = {10, -25, 0, 3, -1000000000000ll};
	int64_t score = 0;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		uint32_t c = ENG_CLUE(&t, h, CX + 100 * ((int32_t)i + 1), CY, values[i]);
		struct cairn_moved m =
			must_move(&t, h, p, CX + 100 * ((int32_t)i + 1), CY, CAIRN_CLAIM_WON, c, p);
		score += values[i];
		ASSERT_EQ(m.value, values[i]);
		ASSERT_EQ(m.score, score);
		/* Losing changes nothing. */
		m = must_move(&t, h, q, CX + 100 * ((int32_t)i + 1), CY, CAIRN_CLAIM_LOST, c, p);
		ASSERT_EQ(m.score, 0);
	}
	const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(h, p));
	ASSERT_EQ(pi->score, score);
	ASSERT_EQ(pi->claims, 5);
	const struct cairn_query_reply *r = ENG_OK(&t, eng_leaderboard(h, 2, 0, 48));
	ASSERT_UEQ(eng_hits(&t, r)[0].id, q);
	ASSERT_UEQ(eng_hits(&t, r)[1].id, p);
	ASSERT_EQ(eng_hits(&t, r)[1].value, score);

	/* The score wraps like the int64 it is (no undefined behaviour on the way). */
	uint32_t big = ENG_CLUE(&t, h, CX, CY + 2000, INT64_MAX);
	uint32_t one = ENG_CLUE(&t, h, CX, CY + 2100, 1);
	uint32_t w = ENG_JOIN(&t, h, CX, CY + 3000);
	ASSERT_TRUE(must_move(&t, h, w, CX, CY + 2000, CAIRN_CLAIM_WON, big, w).score == INT64_MAX);
	ASSERT_TRUE(must_move(&t, h, w, CX, CY + 2100, CAIRN_CLAIM_WON, one, w).score == INT64_MIN);
	const struct cairn_left *l = ENG_OK(&t, eng_leave(h, p));
	ASSERT_EQ(l->score, score);
	ASSERT_EQ(l->claims, 5);
	eng_close(&t);
}

/*
 * A claimed clue stays on the grid until removed; removing it tells who held it and
 * leaves the winner's score alone; afterwards nothing is in reach there.
 */
static void test_remove_claimed(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);
	uint32_t p = ENG_JOIN(&t, h, CX - 1000, CY);
	uint32_t q = ENG_JOIN(&t, h, CX + 1000, CY);
	uint32_t c = ENG_CLUE(&t, h, CX, CY, 12);
	must_move(&t, h, p, CX, CY, CAIRN_CLAIM_WON, c, p);
	const struct cairn_query_reply *r = ENG_OK(&t, eng_nearest(h, CX, CY, 1, 0, 24, 1));
	ASSERT_EQ(r->count, 1);
	r = ENG_OK(&t, eng_nearest(h, CX, CY, 1, 0, 24, 0));
	ASSERT_EQ(r->count, 0);
	const struct cairn_clue_removed *cr = ENG_OK(&t, eng_clue_remove(h, c));
	ASSERT_UEQ(cr->claimed_by, p);
	ASSERT_EQ(cr->value, 12);
	must_move(&t, h, q, CX, CY, CAIRN_CLAIM_NONE, 0, 0);
	must_move(&t, h, p, CX + 1, CY, CAIRN_CLAIM_NONE, 0, 0);
	const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(h, p));
	ASSERT_EQ(pi->score, 12);
	ASSERT_EQ(pi->claims, 1);
	/* A new clue on the same spot can be won again, by the other player. */
	uint32_t c2 = ENG_CLUE(&t, h, CX, CY, 1);
	must_move(&t, h, q, CX, CY + 1, CAIRN_CLAIM_WON, c2, q);
	eng_close(&t);
}

/*
 * Only moves claim: a player that joins on a clue, or a clue placed on a player, is not
 * a claim until that player moves (a move of zero length will do).
 */
static void test_only_moves_claim(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);
	uint32_t c = ENG_CLUE(&t, h, CX, CY, 1);
	uint32_t p = ENG_JOIN(&t, h, CX, CY);
	uint32_t q = ENG_JOIN(&t, h, CX + 500, CY);
	uint32_t c2 = ENG_CLUE(&t, h, CX + 500, CY, 1);
	const struct cairn_query_reply *r = ENG_OK(&t, eng_nearest(h, CX, CY, 2, 0, 48, 0));
	ASSERT_EQ(r->count, 2);
	must_move(&t, h, q, CX + 500, CY, CAIRN_CLAIM_WON, c2, q);
	must_move(&t, h, p, CX, CY, CAIRN_CLAIM_WON, c, p);
	eng_close(&t);
}

int main(void)
{
	test_stampede();
	test_two_players();
	test_boundary();
	test_blocks();
	test_nearest_in_reach();
	test_scores();
	test_remove_claimed();
	test_only_moves_claim();
	return T_PASS;
}
