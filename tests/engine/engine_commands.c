/*
 * Every engine command and every way it can be rejected.
 *
 * Each rejection goes through ENG_ERR, which checks the whole contract of a rejected
 * command: an ERROR result with the specific code in hdr.status, the request id copied,
 * error_info.request_type set; the state hash, the applied order number, the events and
 * the whole grid region unchanged; by_type[type], by_error[code - 1001] and rejected up
 * by one and no other counter moved. Successes go through ENG_OK, which checks the reply
 * header and that queries change nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "eng.h"

#define S ENG_MAP_SMALL
#define D ENG_MAP_DEFAULT

/* The centre of cell (cx, cy) at the default 1000 mm cell. */
#define MID(c) ((int32_t)(c)*1000 + 500)

static const struct cairn_hunt_created *created(const void *p)
{
	return p;
}

static void test_hunt_create(void)
{
	struct eng t;
	eng_open(&t, NULL, true);

	/* Zeros pick the defaults. */
	const struct cairn_hunt_created *r = created(ENG_OK(&t, eng_hunt_create(S, 0, 0, 0)));
	ASSERT_NE(r->hunt_id, 0);
	ASSERT_LT(r->hunt_id & 0xffffff, t.cfg.max_hunts);
	ASSERT_EQ(r->map_id, S);
	ASSERT_EQ(r->width, 24);
	ASSERT_EQ(r->height, 20);
	ASSERT_EQ(r->cell_mm, CAIRN_DEFAULT_CELL_MM);
	ASSERT_EQ(r->claim_radius_mm, CAIRN_DEFAULT_CLAIM_RADIUS_MM);
	ASSERT_EQ(r->speed_limit_mm_s, 0);
	static const uint8_t zero[12];
	ASSERT_EQ(memcmp(r->_reserved, zero, sizeof(zero)), 0);

	/* Explicit values, on the other map; the largest radius is 8 cells. */
	r = created(ENG_OK(&t, eng_hunt_create(D, 8000, 1234, 0)));
	ASSERT_EQ(r->map_id, D);
	ASSERT_EQ(r->width, 128);
	ASSERT_EQ(r->height, 96);
	ASSERT_EQ(r->claim_radius_mm, 8000);
	ASSERT_EQ(r->speed_limit_mm_s, 1234);
	r = created(ENG_OK(&t, eng_hunt_create(S, 800, 0, 100)));
	ASSERT_EQ(r->cell_mm, 100);
	ASSERT_EQ(r->claim_radius_mm, 800);
	r = created(ENG_OK(&t, eng_hunt_create(D, 0, 0, CAIRN_MAX_CELL_MM)));
	ASSERT_EQ(r->cell_mm, CAIRN_MAX_CELL_MM);

	struct {
		uint32_t map, radius, speed, cell;
		int code;
		uint32_t detail;
	} bad[] = {
		{ENG_N_MAPS, 0, 0, 0, CAIRN_E_UNKNOWN_MAP, ENG_N_MAPS},
		{UINT32_MAX, 0, 0, 0, CAIRN_E_UNKNOWN_MAP, UINT32_MAX},
		{S, 0, 0, CAIRN_MAX_CELL_MM + 1, CAIRN_E_BAD_VALUE, CAIRN_MAX_CELL_MM + 1},
		{S, 0, 0, UINT32_MAX, CAIRN_E_BAD_VALUE, UINT32_MAX},
		{S, 8001, 0, 0, CAIRN_E_BAD_VALUE, 8001},
		{S, 801, 0, 100, CAIRN_E_BAD_VALUE, 801},
		{S, UINT32_MAX, 0, 0, CAIRN_E_BAD_VALUE, UINT32_MAX},
		/* The default radius does not fit a 2 mm cell either (detail: the 0 given). */
		{S, 0, 0, 2, CAIRN_E_BAD_VALUE, 0},
		/* The map is checked first. */
		{ENG_N_MAPS, 8001, 0, CAIRN_MAX_CELL_MM + 1, CAIRN_E_UNKNOWN_MAP, ENG_N_MAPS},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t detail = ENG_ERR(
			&t, eng_hunt_create(bad[i].map, bad[i].radius, bad[i].speed, bad[i].cell),
			bad[i].code);
		ASSERT_UEQ(detail, bad[i].detail);
	}
	eng_close(&t);

	/* max_hunts = 2: the third is refused until one is destroyed. */
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	cfg.max_hunts = 2;
	eng_open(&t, &cfg, true);
	uint32_t h1 = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t h2 = ENG_HUNT(&t, D, 0, 0, 0);
	ASSERT_NE(h1, h2);
	ASSERT_UEQ(ENG_ERR(&t, eng_hunt_create(S, 0, 0, 0), CAIRN_E_TOO_MANY_HUNTS), 2);
	ENG_OK(&t, eng_hunt_destroy(h1));
	uint32_t h3 = ENG_HUNT(&t, S, 0, 0, 0);
	ASSERT_NE(h3, h1);
	ASSERT_EQ(h3 & 0xffffff, h1 & 0xffffff); /* the slot is reused, with a new generation */
	ENG_ERR(&t, eng_hunt_create(D, 0, 0, 0), CAIRN_E_TOO_MANY_HUNTS);
	eng_close(&t);

	/*
	 * Every hunt slot owns a grid region sized for the largest loaded map, so a hunt of
	 * any map fits in any freed slot: the default map's hunt takes the small map's slot.
	 */
	eng_config(&cfg);
	cfg.max_hunts = 1;
	eng_open(&t, &cfg, true);
	h1 = ENG_HUNT(&t, S, 0, 0, 0);
	ENG_ERR(&t, eng_hunt_create(D, 0, 0, 0), CAIRN_E_TOO_MANY_HUNTS);
	ENG_OK(&t, eng_hunt_destroy(h1));
	h2 = ENG_HUNT(&t, D, 0, 0, 0);
	ASSERT_EQ(h2 & 0xffffff, h1 & 0xffffff);
	eng_close(&t);
}

static void test_hunt_destroy(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t other = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t unknown[] = {0, 12345, (1u << 24) | 63, (2u << 24) | (h & 0xffffff), UINT32_MAX};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		ASSERT_UEQ(ENG_ERR(&t, eng_hunt_destroy(unknown[i]), CAIRN_E_UNKNOWN_HUNT),
			   unknown[i]);
	}

	uint32_t p[3], c[2];
	for (int i = 0; i < 3; i++) {
		p[i] = ENG_JOIN(&t, h, MID(i), MID(15));
	}
	c[0] = ENG_CLUE(&t, h, MID(8), MID(15), 5);
	c[1] = ENG_CLUE(&t, h, MID(9), MID(15), 6);
	uint32_t op = ENG_JOIN(&t, other, MID(0), MID(0));
	uint32_t oc = ENG_CLUE(&t, other, MID(1), MID(0), 1);

	const struct cairn_hunt_destroyed *d = ENG_OK(&t, eng_hunt_destroy(h));
	ASSERT_UEQ(d->hunt_id, h);
	ASSERT_EQ(d->players, 3);
	ASSERT_EQ(d->clues, 2);
	const struct cairn_state_hash_reply *sh = ENG_OK(&t, eng_state_hash());
	ASSERT_EQ(sh->hunts, 1);
	ASSERT_EQ(sh->entities, 2);

	/* The stale id is unknown to every command that names a hunt. */
	ENG_ERR(&t, eng_hunt_destroy(h), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_join(h, MID(0), MID(0)), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_leave(h, p[0]), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_move(h, p[0], MID(1), MID(15)), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_clue_place(h, MID(0), MID(0), 1), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_clue_remove(h, c[0]), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_nearest(h, 0, 0, 1, 0, 24, 1), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_players_near(h, 0, 0, 100, 1, 0, 24), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_leaderboard(h, 1, 0, 24), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_player_state(h, p[0]), CAIRN_E_UNKNOWN_HUNT);

	/* A new hunt takes the slot with a new id; the old players and clues stay unknown. */
	uint32_t h2 = ENG_HUNT(&t, S, 0, 0, 0);
	ASSERT_NE(h2, h);
	ASSERT_EQ(h2 & 0xffffff, h & 0xffffff);
	ENG_ERR(&t, eng_hunt_destroy(h), CAIRN_E_UNKNOWN_HUNT);
	uint32_t np[4];
	for (int i = 0; i < 4; i++) {
		np[i] = ENG_JOIN(&t, h2, MID(i), MID(15));
	}
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 4; j++) {
			ASSERT_NE(np[j], p[i]);
		}
		ENG_ERR(&t, eng_player_state(h2, p[i]), CAIRN_E_UNKNOWN_PLAYER);
		ENG_ERR(&t, eng_move(h2, p[i], MID(1), MID(15)), CAIRN_E_UNKNOWN_PLAYER);
		ENG_ERR(&t, eng_leave(h2, p[i]), CAIRN_E_UNKNOWN_PLAYER);
	}
	for (int i = 0; i < 2; i++) {
		ENG_ERR(&t, eng_clue_remove(h2, c[i]), CAIRN_E_UNKNOWN_CLUE);
	}
	/* Nothing of the old hunt shows in the new one's queries. */
	const struct cairn_query_reply *q = ENG_OK(&t, eng_nearest(h2, 0, 0, 10, 0, 240, 1));
	ASSERT_EQ(q->count, 0);
	q = ENG_OK(&t, eng_players_near(h2, 0, 0, INT32_MAX, 10, 0, 240));
	ASSERT_EQ(q->total, 4);
	/* The other hunt is untouched. */
	const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(other, op));
	ASSERT_EQ(pi->x, MID(0));
	q = ENG_OK(&t, eng_nearest(other, 0, 0, 10, 0, 240, 1));
	ASSERT_EQ(q->count, 1);
	ASSERT_UEQ(eng_hits(&t, q)[0].id, oc);

	/* Destroying an empty hunt. */
	uint32_t h3 = ENG_HUNT(&t, D, 0, 0, 0);
	d = ENG_OK(&t, eng_hunt_destroy(h3));
	ASSERT_EQ(d->players + d->clues, 0);
	eng_close(&t);
}

static void test_join(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t hs = ENG_HUNT(&t, S, 0, 0, 250); /* 6000 x 5000 mm */
	t.now = 777000;
	const struct cairn_joined *j = ENG_OK(&t, eng_join(h, 23999, 19999));
	uint32_t p = j->player_id;
	ASSERT_NE(p, 0);
	ASSERT_UEQ(j->hunt_id, h);
	ASSERT_EQ(j->x, 23999);
	ASSERT_EQ(j->y, 19999);
	const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(h, p));
	ASSERT_UEQ(pi->stamp_ns, 777000);
	ASSERT_EQ(pi->claims, 0);
	ASSERT_EQ(pi->score, 0);
	ENG_JOIN(&t, h, 0, 0);
	ENG_JOIN(&t, h, MID(10), MID(5)); /* lawn */
	ENG_JOIN(&t, h, MID(0), MID(12)); /* marsh */
	ENG_JOIN(&t, h, 1999, 2000);      /* the cell west of a wall */
	ENG_JOIN(&t, hs, 5999, 4999);

	struct {
		uint32_t hunt;
		int32_t x, y;
		int code;
	} bad[] = {
		{0, 0, 0, CAIRN_E_UNKNOWN_HUNT},
		{h + (5u << 24), 0, 0, CAIRN_E_UNKNOWN_HUNT},
		{h, -1, 0, CAIRN_E_OFF_MAP},
		{h, 0, -1, CAIRN_E_OFF_MAP},
		{h, INT32_MIN, INT32_MIN, CAIRN_E_OFF_MAP},
		{h, 24000, 0, CAIRN_E_OFF_MAP},
		{h, 0, 20000, CAIRN_E_OFF_MAP},
		{h, INT32_MAX, 5, CAIRN_E_OFF_MAP},
		{hs, 6000, 0, CAIRN_E_OFF_MAP},
		{hs, 0, 5000, CAIRN_E_OFF_MAP},
		{h, 2000, 2000, CAIRN_E_BLOCKED}, /* '@' */
		{h, MID(5), MID(4), CAIRN_E_BLOCKED},
		{h, MID(12), MID(3), CAIRN_E_BLOCKED}, /* 'T' */
		{h, MID(11), MID(7), CAIRN_E_BLOCKED}, /* 'W' */
		{h, MID(7), MID(9), CAIRN_E_BLOCKED},  /* 'O' */
		{h, 23999, MID(10), CAIRN_E_BLOCKED},
		{hs, 500, 500, CAIRN_E_BLOCKED}, /* cell (2, 2) at 250 mm */
		/* The hunt is checked before the position. */
		{0, -1, -1, CAIRN_E_UNKNOWN_HUNT},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ENG_ERR(&t, eng_join(bad[i].hunt, bad[i].x, bad[i].y), bad[i].code);
	}
	eng_close(&t);

	/* Five entities at most, players and clues together. */
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	cfg.max_entities = 5;
	eng_open(&t, &cfg, true);
	h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t ps[3];
	for (int i = 0; i < 3; i++) {
		ps[i] = ENG_JOIN(&t, h, MID(i), MID(0));
	}
	ENG_CLUE(&t, h, MID(5), MID(0), 1);
	ENG_CLUE(&t, h, MID(6), MID(0), 1);
	ASSERT_UEQ(ENG_ERR(&t, eng_join(h, MID(7), MID(0)), CAIRN_E_TOO_MANY_ENTITIES), 5);
	ENG_ERR(&t, eng_clue_place(h, MID(7), MID(0), 1), CAIRN_E_TOO_MANY_ENTITIES);
	/* Position errors come first. */
	ENG_ERR(&t, eng_join(h, -1, 0), CAIRN_E_OFF_MAP);
	ENG_OK(&t, eng_leave(h, ps[1]));
	uint32_t again = ENG_JOIN(&t, h, MID(7), MID(0));
	ASSERT_NE(again, ps[1]);
	ENG_ERR(&t, eng_join(h, MID(8), MID(0)), CAIRN_E_TOO_MANY_ENTITIES);
	eng_close(&t);
}

static void test_leave(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t h2 = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t p = ENG_JOIN(&t, h, MID(0), MID(0));
	uint32_t q = ENG_JOIN(&t, h2, MID(0), MID(0));
	uint32_t c = ENG_CLUE(&t, h, MID(1), MID(0), 7);
	uint32_t c2 = ENG_CLUE(&t, h, MID(1), MID(1), -3);
	ASSERT_EQ(ENG_MOVE(&t, h, p, MID(1), MID(0)).outcome, CAIRN_CLAIM_WON);
	ASSERT_EQ(ENG_MOVE(&t, h, p, MID(1), MID(1)).outcome, CAIRN_CLAIM_WON);

	struct {
		uint32_t hunt, player;
		int code;
	} bad[] = {
		{0, p, CAIRN_E_UNKNOWN_HUNT},      {h2 + (1u << 24), p, CAIRN_E_UNKNOWN_HUNT},
		{h, 0, CAIRN_E_UNKNOWN_PLAYER},    {h, p + (1u << 24), CAIRN_E_UNKNOWN_PLAYER},
		{h, 4000, CAIRN_E_UNKNOWN_PLAYER}, {h, c, CAIRN_E_UNKNOWN_PLAYER},
		{h, q, CAIRN_E_WRONG_HUNT},        {h2, p, CAIRN_E_WRONG_HUNT},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t detail = ENG_ERR(&t, eng_leave(bad[i].hunt, bad[i].player), bad[i].code);
		if (bad[i].code != CAIRN_E_UNKNOWN_HUNT) {
			ASSERT_UEQ(detail, bad[i].player);
		}
	}

	const struct cairn_left *l = ENG_OK(&t, eng_leave(h, p));
	ASSERT_UEQ(l->player_id, p);
	ASSERT_EQ(l->claims, 2);
	ASSERT_EQ(l->score, 4);
	ENG_ERR(&t, eng_leave(h, p), CAIRN_E_UNKNOWN_PLAYER);
	ENG_ERR(&t, eng_player_state(h, p), CAIRN_E_UNKNOWN_PLAYER);
	/* Its clues stay claimed (by an id that no longer exists). */
	const struct cairn_clue_removed *cr = ENG_OK(&t, eng_clue_remove(h, c2));
	ASSERT_UEQ(cr->claimed_by, p);
	l = ENG_OK(&t, eng_leave(h2, q));
	ASSERT_EQ(l->claims, 0);
	ASSERT_EQ(l->score, 0);
	eng_close(&t);
}

/*
 * The speed limit, at its exact boundary: a player may move dist mm in dt ns when
 * dist <= speed * dt / 1e9. Along an axis that is floor(speed * dt / 1e9) mm.
 */
static void test_move_speed(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	t.step_ns = 0;
	static const struct {
		uint32_t speed;
		uint64_t dt;
	} rows[] = {
		{1000, 1000000000ull},   {1000, 999999999ull}, {1, 1000000000ull},
		{1, 999999999ull},       {3, 500000000ull}, /* 1.5 mm */
		{7, 142857142ull},                          /* 0.999999994 mm */
		{7, 142857143ull},                          /* 1.000000001 mm */
		{10000, 123456789ull},                      /* 1234.56789 mm */
		{123, 3000000001ull},                       /* 369.000000123 mm */
		{1, 123456000000000ull},                    /* 123456 mm in 34 hours */
		{4294967295u, 29103ull},                    /* 124997.9 mm */
	};
	uint32_t h[sizeof(rows) / sizeof(rows[0])];
	uint64_t s0 = 1000000000000ull;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		h[i] = ENG_HUNT(&t, D, 0, rows[i].speed, 0);
		/* Row 3 of the default map is open from x = 1 to 126. */
		t.now = s0;
		uint32_t p = ENG_JOIN(&t, h[i], 1000, 3500);
		uint64_t reach = (uint64_t)((eng_u128)rows[i].speed * rows[i].dt / 1000000000u);
		ASSERT_LT(reach + 1, 126000);
		t.now = s0 + rows[i].dt;
		uint32_t detail = ENG_ERR(&t, eng_move(h[i], p, (int32_t)(1000 + reach + 1), 3500),
					  CAIRN_E_TOO_FAST);
		ASSERT_UEQ(detail, rows[i].speed);
		/* Where comes before how fast. */
		ENG_ERR(&t, eng_move(h[i], p, -1, 3500), CAIRN_E_OFF_MAP);
		ENG_ERR(&t, eng_move(h[i], p, 500, 3500), CAIRN_E_BLOCKED);
		struct cairn_moved m = ENG_MOVE(&t, h[i], p, (int32_t)(1000 + reach), 3500);
		ASSERT_EQ(m.x, (int32_t)(1000 + reach));
		const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(h[i], p));
		ASSERT_UEQ(pi->stamp_ns, s0 + rows[i].dt);
	}

	/* The diagonal: 600, 800 is exactly 1000 mm, a second at 1000 mm/s. */
	uint32_t hd = ENG_HUNT(&t, D, 0, 1000, 0);
	t.now = s0;
	uint32_t p = ENG_JOIN(&t, hd, MID(40), MID(40));
	t.now = s0 + 999999999ull;
	ENG_ERR(&t, eng_move(hd, p, MID(40) + 600, MID(40) + 800), CAIRN_E_TOO_FAST);
	ENG_ERR(&t, eng_move(hd, p, MID(40) - 600, MID(40) - 800), CAIRN_E_TOO_FAST);
	t.now = s0 + 1000000000ull;
	ENG_ERR(&t, eng_move(hd, p, MID(40) + 600, MID(40) + 801), CAIRN_E_TOO_FAST);
	ENG_MOVE(&t, hd, p, MID(40) + 600, MID(40) + 800);
	/* The limit counts from the last accepted move; staying put is always allowed. */
	ENG_ERR(&t, eng_move(hd, p, MID(40) + 601, MID(40) + 800), CAIRN_E_TOO_FAST);
	ENG_MOVE(&t, hd, p, MID(40) + 600, MID(40) + 800);
	/* A stamp from before the last move counts as no time at all. */
	t.now = s0;
	ENG_ERR(&t, eng_move(hd, p, MID(40) + 600, MID(40) + 799), CAIRN_E_TOO_FAST);
	ENG_MOVE(&t, hd, p, MID(40) + 600, MID(40) + 800);
	const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(hd, p));
	ASSERT_UEQ(pi->stamp_ns, s0);

	/* No limit: across the map in no time. */
	uint32_t hf = ENG_HUNT(&t, D, 0, 0, 0);
	p = ENG_JOIN(&t, hf, 1000, 3500);
	ENG_MOVE(&t, hf, p, 126999, 3500);
	eng_close(&t);
}

static void test_move(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t h2 = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t p = ENG_JOIN(&t, h, MID(0), MID(0));
	uint32_t q = ENG_JOIN(&t, h2, MID(0), MID(0));
	uint32_t c = ENG_CLUE(&t, h, MID(20), MID(19), 1);
	uint32_t gone = ENG_JOIN(&t, h, MID(1), MID(0));
	ENG_OK(&t, eng_leave(h, gone));

	struct cairn_moved m = ENG_MOVE(&t, h, p, MID(9), MID(4));
	ASSERT_UEQ(m.player_id, p);
	ASSERT_EQ(m.outcome, CAIRN_CLAIM_NONE);
	ASSERT_EQ(m.x, MID(9));
	ASSERT_EQ(m.y, MID(4));
	ASSERT_EQ(m.clue_id, 0);
	ASSERT_EQ(m.holder_id, 0);
	ASSERT_EQ(m.value, 0);
	ASSERT_EQ(m.score, 0);
	ASSERT_EQ(m._pad0 + m._pad1, 0);

	struct {
		uint32_t hunt, player;
		int32_t x, y;
		int code;
	} bad[] = {
		{0, p, 0, 0, CAIRN_E_UNKNOWN_HUNT},
		{h + (1u << 24), p, 0, 0, CAIRN_E_UNKNOWN_HUNT},
		{h, 0, 0, 0, CAIRN_E_UNKNOWN_PLAYER},
		{h, gone, 0, 0, CAIRN_E_UNKNOWN_PLAYER},
		{h, UINT32_MAX, 0, 0, CAIRN_E_UNKNOWN_PLAYER},
		{h, c, 0, 0, CAIRN_E_UNKNOWN_PLAYER},
		{h, q, 0, 0, CAIRN_E_WRONG_HUNT},
		{h2, p, 0, 0, CAIRN_E_WRONG_HUNT},
		{h, p, -1, 0, CAIRN_E_OFF_MAP},
		{h, p, 0, -1, CAIRN_E_OFF_MAP},
		{h, p, 24000, 0, CAIRN_E_OFF_MAP},
		{h, p, 0, 20000, CAIRN_E_OFF_MAP},
		{h, p, INT32_MIN, INT32_MAX, CAIRN_E_OFF_MAP},
		{h, p, MID(3), MID(2), CAIRN_E_BLOCKED},
		{h, p, MID(14), MID(6), CAIRN_E_BLOCKED},
		/* Who and which hunt come before where. */
		{h, c, -1, -1, CAIRN_E_UNKNOWN_PLAYER},
		{h, q, MID(3), MID(2), CAIRN_E_WRONG_HUNT},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ENG_ERR(&t, eng_move(bad[i].hunt, bad[i].player, bad[i].x, bad[i].y), bad[i].code);
	}
	/* The rejected moves left the player where it was. */
	const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(h, p));
	ASSERT_EQ(pi->x, MID(9));
	ASSERT_EQ(pi->y, MID(4));
	/* Moves across blocks and back; the player is found where it is. */
	ENG_MOVE(&t, h, p, MID(20), MID(18));
	const struct cairn_query_reply *r =
		ENG_OK(&t, eng_players_near(h, MID(20), MID(18), 0, 4, 0, 96));
	ASSERT_EQ(r->count, 1);
	ASSERT_UEQ(eng_hits(&t, r)[0].id, p);
	r = ENG_OK(&t, eng_players_near(h, MID(9), MID(4), 1000, 4, 0, 96));
	ASSERT_EQ(r->count, 0);
	eng_close(&t);
}

static void test_clues(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t h2 = ENG_HUNT(&t, D, 0, 0, 0);
	const struct cairn_clue_placed *cp = ENG_OK(&t, eng_clue_place(h, 0, 19999, INT64_MIN));
	uint32_t c = cp->clue_id;
	ASSERT_UEQ(cp->hunt_id, h);
	ASSERT_EQ(cp->x, 0);
	ASSERT_EQ(cp->y, 19999);
	uint32_t cmax = ENG_CLUE(&t, h, 23999, 0, INT64_MAX);
	uint32_t c2 = ENG_CLUE(&t, h2, MID(1), MID(1), 3);
	uint32_t p = ENG_JOIN(&t, h, MID(10), MID(10));

	struct {
		uint32_t hunt;
		int32_t x, y;
		int code;
	} bad_place[] = {
		{0, 0, 0, CAIRN_E_UNKNOWN_HUNT},       {h | 0xffffff, 0, 0, CAIRN_E_UNKNOWN_HUNT},
		{h, -1, 0, CAIRN_E_OFF_MAP},           {h, 24000, 19999, CAIRN_E_OFF_MAP},
		{h, 5, 20000, CAIRN_E_OFF_MAP},        {h, MID(2), MID(3), CAIRN_E_BLOCKED},
		{h, MID(12), MID(6), CAIRN_E_BLOCKED}, {h2, 0, 0, CAIRN_E_BLOCKED},
	};
	for (size_t i = 0; i < sizeof(bad_place) / sizeof(bad_place[0]); i++) {
		ENG_ERR(&t, eng_clue_place(bad_place[i].hunt, bad_place[i].x, bad_place[i].y, 9),
			bad_place[i].code);
	}

	struct {
		uint32_t hunt, clue;
		int code;
	} bad_remove[] = {
		{0, c, CAIRN_E_UNKNOWN_HUNT},
		{h, 0, CAIRN_E_UNKNOWN_CLUE},
		{h, c ^ (3u << 24), CAIRN_E_UNKNOWN_CLUE},
		{h, 4095, CAIRN_E_UNKNOWN_CLUE},
		{h, p, CAIRN_E_UNKNOWN_CLUE},
		{h, c2, CAIRN_E_WRONG_HUNT},
		{h2, c, CAIRN_E_WRONG_HUNT},
	};
	for (size_t i = 0; i < sizeof(bad_remove) / sizeof(bad_remove[0]); i++) {
		uint32_t d = ENG_ERR(&t, eng_clue_remove(bad_remove[i].hunt, bad_remove[i].clue),
				     bad_remove[i].code);
		if (bad_remove[i].code != CAIRN_E_UNKNOWN_HUNT) {
			ASSERT_UEQ(d, bad_remove[i].clue);
		}
	}

	/* The extremes of value survive, in the queries too. */
	const struct cairn_query_reply *r = ENG_OK(&t, eng_nearest(h, 0, 19999, 2, 0, 48, 0));
	ASSERT_EQ(r->count, 2);
	const struct cairn_hit *hit = eng_hits(&t, r);
	ASSERT_UEQ(hit[0].id, c);
	ASSERT_TRUE(hit[0].value == INT64_MIN);
	ASSERT_UEQ(hit[1].id, cmax);
	ASSERT_TRUE(hit[1].value == INT64_MAX);
	ASSERT_EQ(hit[1].dist_mm, 31239); /* sqrt(23999^2 + 19999^2) = 31239.6 */

	const struct cairn_clue_removed *cr = ENG_OK(&t, eng_clue_remove(h, c));
	ASSERT_UEQ(cr->clue_id, c);
	ASSERT_EQ(cr->claimed_by, 0);
	ASSERT_TRUE(cr->value == INT64_MIN);
	ENG_ERR(&t, eng_clue_remove(h, c), CAIRN_E_UNKNOWN_CLUE);
	r = ENG_OK(&t, eng_nearest(h, 0, 19999, 2, 0, 48, 1));
	ASSERT_EQ(r->count, 1);
	eng_close(&t);
}

/* floor(sqrt(v)), by bisection: independent of the engine's. */
static uint32_t isqrt(uint64_t v)
{
	uint64_t lo = 0, hi = 1ull << 32;
	while (hi - lo > 1) {
		uint64_t mid = (lo + hi) / 2;
		if (mid * mid <= v) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	return (uint32_t)lo;
}

struct ref {
	uint32_t id;
	int32_t x, y;
	int64_t value;
	bool claimed;
	uint64_t d2;
};

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	if (x->d2 != y->d2) {
		return x->d2 < y->d2 ? -1 : 1;
	}
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Checks hits against the first n of a reference list sorted with ref_cmp. */
static void check_hits(const struct eng *t, const struct cairn_query_reply *r,
		       const struct ref *want, uint32_t n, uint32_t total)
{
	ASSERT_EQ(r->count, n);
	ASSERT_EQ(r->total, total);
	const struct cairn_hit *hit = eng_hits(t, r);
	for (uint32_t i = 0; i < n; i++) {
		if (hit[i].id != want[i].id || hit[i].x != want[i].x || hit[i].y != want[i].y ||
		    hit[i].value != want[i].value || hit[i].dist_mm != isqrt(want[i].d2)) {
			T_FAILF("hit %u: id %u at %d,%d value %" PRId64 " dist %u; expected id %u "
				"at %d,%d value %" PRId64 " dist %u",
				i, hit[i].id, hit[i].x, hit[i].y, hit[i].value, hit[i].dist_mm,
				want[i].id, want[i].x, want[i].y, want[i].value, isqrt(want[i].d2));
		}
	}
}

static uint64_t d2(int64_t ax, int64_t ay, int64_t bx, int64_t by)
{
	return (uint64_t)((ax - bx) * (ax - bx) + (ay - by) * (ay - by));
}

static void test_nearest(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);

	/* Two clues at the same distance, the later placed with the lower id. */
	uint32_t a = ENG_CLUE(&t, h, MID(70), MID(68), 1);
	uint32_t b = ENG_CLUE(&t, h, MID(71), MID(68), 2);
	ENG_OK(&t, eng_clue_remove(h, a));
	ENG_OK(&t, eng_clue_remove(h, b));
	uint32_t c1 = ENG_CLUE(&t, h, MID(66) + 300, MID(68) + 400, 10); /* takes b's slot */
	uint32_t c2 = ENG_CLUE(&t, h, MID(66) - 500, MID(68), 20);       /* takes a's slot */
	ASSERT_LT(c2, c1);
	uint32_t far = ENG_CLUE(&t, h, MID(120), MID(93), 30);
	uint32_t near = ENG_CLUE(&t, h, MID(66) + 1, MID(68) + 1, 40);
	const struct cairn_query_reply *r =
		ENG_OK(&t, eng_nearest(h, MID(66), MID(68), 4, 8, 96, 0));
	ASSERT_EQ(r->out_offset, 8);
	const struct cairn_hit *hit = eng_hits(&t, r);
	ASSERT_EQ(r->count, 4);
	ASSERT_EQ(r->total, 4);
	ASSERT_UEQ(hit[0].id, near);
	ASSERT_EQ(hit[0].dist_mm, 1);
	ASSERT_UEQ(hit[1].id, c2);
	ASSERT_UEQ(hit[2].id, c1);
	ASSERT_EQ(hit[1].dist_mm, 500);
	ASSERT_EQ(hit[2].dist_mm, 500);
	ASSERT_UEQ(hit[3].id, far);
	ASSERT_EQ(hit[3].x, MID(120));
	ASSERT_EQ(hit[3].y, MID(93));
	ASSERT_EQ(hit[3].value, 30);

	/* k cuts; nothing is written past the hits. */
	memset(t.arena, 0xEE, ENG_ARENA_SIZE);
	r = ENG_OK(&t, eng_nearest(h, MID(66), MID(68), 2, 0, 240, 0));
	ASSERT_EQ(r->count, 2);
	ASSERT_EQ(r->total, 2);
	ASSERT_EQ(r->out_length, 48);
	for (uint32_t i = 48; i < ENG_ARENA_SIZE; i++) {
		ASSERT_EQ(t.arena[i], 0xEE);
	}

	/* Claimed clues count only with include_claimed. */
	uint32_t p = ENG_JOIN(&t, h, MID(66), MID(68));
	ASSERT_UEQ(ENG_MOVE(&t, h, p, MID(66) + 1, MID(68) + 1).clue_id, near);
	r = ENG_OK(&t, eng_nearest(h, MID(66), MID(68), 1, 0, 24, 0));
	ASSERT_UEQ(eng_hits(&t, r)[0].id, c2);
	r = ENG_OK(&t, eng_nearest(h, MID(66), MID(68), 1, 0, 24, 1));
	ASSERT_UEQ(eng_hits(&t, r)[0].id, near);
	r = ENG_OK(&t, eng_nearest(h, MID(66), MID(68), 1024, 0, 1024 * 24, 1));
	ASSERT_EQ(r->count, 4);
	/* From a blocked cell (the map's corner wall) is fine: queries are not moves. */
	r = ENG_OK(&t, eng_nearest(h, 0, 0, 1, 0, 24, 0));
	ASSERT_EQ(r->count, 1);

	struct {
		int32_t x, y;
		uint32_t k, off, cap, incl;
		int code;
		uint32_t detail;
	} bad[] = {
		{0, 0, 0, 0, 24, 0, CAIRN_E_BAD_VALUE, 0},
		{0, 0, 1025, 0, 1025 * 24, 0, CAIRN_E_BAD_VALUE, 1025},
		{0, 0, UINT32_MAX, 0, 24, 0, CAIRN_E_BAD_VALUE, UINT32_MAX},
		{0, 0, 1, 0, 24, 2, CAIRN_E_BAD_VALUE, 2},
		{-1, 0, 1, 0, 24, 0, CAIRN_E_OFF_MAP, 0},
		{0, 96000, 1, 0, 24, 0, CAIRN_E_OFF_MAP, 0},
		{128000, 0, 1, 0, 24, 0, CAIRN_E_OFF_MAP, 0},
		{0, 0, 1, 4, 24, 0, CAIRN_E_BLOB_RANGE, 4},
		{0, 0, 1, 1, 24, 0, CAIRN_E_BLOB_RANGE, 1},
		{0, 0, 1, ENG_ARENA_SIZE + 8, 24, 0, CAIRN_E_BLOB_RANGE, ENG_ARENA_SIZE + 8},
		{0, 0, 1, ENG_ARENA_SIZE - 16, 24, 0, CAIRN_E_BLOB_RANGE, ENG_ARENA_SIZE - 16},
		{0, 0, 1, 0, ENG_ARENA_SIZE + 1, 0, CAIRN_E_BLOB_RANGE, 0},
		{0, 0, 1, 0xfffffff8u, 24, 0, CAIRN_E_BLOB_RANGE, 0xfffffff8u},
		{0, 0, 1, 8, UINT32_MAX, 0, CAIRN_E_BLOB_RANGE, 8},
		{0, 0, 1, 0, 23, 0, CAIRN_E_BLOB_TOO_SMALL, 24},
		{0, 0, 3, 0, 71, 0, CAIRN_E_BLOB_TOO_SMALL, 72},
		{0, 0, 1, ENG_ARENA_SIZE, 0, 0, CAIRN_E_BLOB_TOO_SMALL, 24},
		{0, 0, 1024, 0, 1023 * 24, 0, CAIRN_E_BLOB_TOO_SMALL, 1024 * 24},
		/* The order of the checks: k, then the point, then the arena. */
		{-1, 0, 0, 4, 0, 0, CAIRN_E_BAD_VALUE, 0},
		{-1, 0, 1, 4, 0, 0, CAIRN_E_OFF_MAP, 0},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t d = ENG_ERR(&t,
				     eng_nearest(h, bad[i].x, bad[i].y, bad[i].k, bad[i].off,
						 bad[i].cap, bad[i].incl),
				     bad[i].code);
		ASSERT_UEQ(d, bad[i].detail);
	}
	ENG_ERR(&t, eng_nearest(0, 0, 0, 1, 0, 24, 0), CAIRN_E_UNKNOWN_HUNT);

	/* Without an arena, or with one without a base, every query is out of range. */
	struct cairn_msg out;
	struct cairn_msg cmd = eng_nearest(h, 0, 0, 1, 0, 24, 0);
	ASSERT_EQ(cairn__engine_apply(t.e, &cmd, t.now, NULL, &out), -CAIRN_E_BLOB_RANGE);
	struct cairn__blob nobase = {.base = NULL, .size = ENG_ARENA_SIZE};
	ASSERT_EQ(cairn__engine_apply(t.e, &cmd, t.now, &nobase, &out), -CAIRN_E_BLOB_RANGE);
	cmd = eng_leaderboard(h, 1, 0, 24);
	ASSERT_EQ(cairn__engine_apply(t.e, &cmd, t.now, NULL, &out), -CAIRN_E_BLOB_RANGE);
	cmd = eng_players_near(h, 0, 0, 1, 1, 0, 24);
	ASSERT_EQ(cairn__engine_apply(t.e, &cmd, t.now, NULL, &out), -CAIRN_E_BLOB_RANGE);
	eng_close(&t);
}

/*
 * NEAREST_CLUES and PLAYERS_NEAR against a brute-force reference: many clues and
 * players over the default map (and crowded into a few blocks), some claimed, queried
 * from everywhere.
 */
static void test_queries_reference(void)
{
	struct eng t;
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	eng_open(&t, &cfg, false);
	struct eng_rng rng;
	eng_rng_seed(&rng, 42);
	const struct cairn__map *m = eng_maps()[D];
	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);
	uint32_t other = ENG_HUNT(&t, D, 0, 0, 0);
	enum { NC = 300, NP = 200 };
	static struct ref clues[NC], players[NP], v[NC + NP];
	for (int i = 0; i < NC + NP; i++) {
		int32_t x, y;
		do {
			if (i % 3 == 0) { /* crowded: a 3 x 3 cell square */
				x = MID(66) - 1500 + (int32_t)eng_below(&rng, 3000);
				y = MID(68) - 1500 + (int32_t)eng_below(&rng, 3000);
			} else {
				x = (int32_t)eng_below(&rng, 128000);
				y = (int32_t)eng_below(&rng, 96000);
			}
		} while (!cairn__map_passable(m, x / 1000, y / 1000));
		if (i < NC) {
			int64_t val = (int64_t)eng_below(&rng, 1000) - 500;
			clues[i] = (struct ref){
				.id = ENG_CLUE(&t, h, x, y, val), .x = x, .y = y, .value = val};
			ENG_CLUE(&t, other, x, y, val);
		} else {
			players[i - NC] = (struct ref){.id = ENG_JOIN(&t, h, x, y), .x = x, .y = y};
			ENG_JOIN(&t, other, x, y);
		}
	}
	/* A walker claims about a third of the clues. */
	uint32_t wh = ENG_JOIN(&t, h, MID(1), MID(3));
	for (int i = 0; i < NC; i += 3) {
		struct cairn_moved mv = ENG_MOVE(&t, h, wh, clues[i].x, clues[i].y);
		ASSERT_NE(mv.outcome, CAIRN_CLAIM_NONE);
		for (int j = 0; j < NC; j++) {
			if (clues[j].id == mv.clue_id && mv.outcome == CAIRN_CLAIM_WON) {
				clues[j].claimed = true;
			}
		}
	}

	for (int q = 0; q < 400; q++) {
		int32_t x = (int32_t)eng_below(&rng, 128000), y = (int32_t)eng_below(&rng, 96000);
		if (q % 4 == 0) {
			x = MID(66) + (int32_t)eng_below(&rng, 2000) - 1000;
			y = MID(68) + (int32_t)eng_below(&rng, 2000) - 1000;
		}
		uint32_t k = 1 + eng_below(&rng, q % 10 == 0 ? 1024 : 40);
		uint32_t incl = eng_below(&rng, 2);
		uint32_t n = 0;
		for (int i = 0; i < NC; i++) {
			if (incl || !clues[i].claimed) {
				v[n] = clues[i];
				v[n++].d2 = d2(x, y, clues[i].x, clues[i].y);
			}
		}
		qsort(v, n, sizeof(v[0]), ref_cmp);
		const struct cairn_query_reply *r =
			ENG_OK(&t, eng_nearest(h, x, y, k, 0, k * 24, incl));
		check_hits(&t, r, v, n < k ? n : k, n < k ? n : k);

		uint32_t radius = q % 7 == 0 ? eng_below(&rng, 200000) : eng_below(&rng, 12000);
		uint32_t max = 1 + eng_below(&rng, 64);
		n = 0;
		for (int i = 0; i < NP; i++) {
			uint64_t dd = d2(x, y, players[i].x, players[i].y);
			if (dd <= (uint64_t)radius * radius) {
				v[n] = players[i];
				v[n++].d2 = dd;
			}
		}
		struct cairn_player_info wi =
			*(const struct cairn_player_info *)ENG_OK(&t, eng_player_state(h, wh));
		uint64_t dd = d2(x, y, wi.x, wi.y);
		if (dd <= (uint64_t)radius * radius) {
			v[n++] = (struct ref){
				.id = wh, .x = wi.x, .y = wi.y, .value = wi.score, .d2 = dd};
		}
		qsort(v, n, sizeof(v[0]), ref_cmp);
		r = ENG_OK(&t, eng_players_near(h, x, y, radius, max, 8, max * 24));
		check_hits(&t, r, v, n < max ? n : max, n);
	}
	eng_close(&t);
}

static void test_players_near(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t h2 = ENG_HUNT(&t, S, 0, 0, 0);
	int32_t cx = MID(16), cy = MID(15);
	/* At exactly 500 mm in four directions, two at 300 mm, one on the point. */
	uint32_t at500[4] = {
		ENG_JOIN(&t, h, cx + 300, cy + 400),
		ENG_JOIN(&t, h, cx - 400, cy - 300),
		ENG_JOIN(&t, h, cx + 500, cy),
		ENG_JOIN(&t, h, cx, cy - 500),
	};
	uint32_t at300a = ENG_JOIN(&t, h, cx, cy + 300);
	uint32_t at300b = ENG_JOIN(&t, h, cx - 300, cy);
	uint32_t at0 = ENG_JOIN(&t, h, cx, cy);
	ENG_JOIN(&t, h, cx + 501, cy);
	ENG_JOIN(&t, h2, cx, cy);       /* another hunt */
	ENG_CLUE(&t, h, cx + 1, cy, 5); /* a clue, not a player */

	const struct cairn_query_reply *r =
		ENG_OK(&t, eng_players_near(h, cx, cy, 500, 16, 0, 384));
	ASSERT_EQ(r->count, 7);
	ASSERT_EQ(r->total, 7);
	const struct cairn_hit *hit = eng_hits(&t, r);
	ASSERT_UEQ(hit[0].id, at0);
	ASSERT_EQ(hit[0].dist_mm, 0);
	ASSERT_UEQ(hit[1].id, at300a < at300b ? at300a : at300b);
	ASSERT_UEQ(hit[2].id, at300a < at300b ? at300b : at300a);
	for (int i = 3; i < 7; i++) {
		ASSERT_EQ(hit[i].dist_mm, 500);
		ASSERT_UEQ(hit[i].id, at500[i - 3]); /* joined in id order */
	}
	r = ENG_OK(&t, eng_players_near(h, cx, cy, 499, 16, 0, 384));
	ASSERT_EQ(r->total, 3);
	r = ENG_OK(&t, eng_players_near(h, cx, cy, 501, 16, 0, 384));
	ASSERT_EQ(r->total, 8);
	r = ENG_OK(&t, eng_players_near(h, cx, cy, 0, 16, 0, 384));
	ASSERT_EQ(r->total, 1);
	ASSERT_UEQ(eng_hits(&t, r)[0].id, at0);
	/* max cuts count, not total. */
	r = ENG_OK(&t, eng_players_near(h, cx, cy, 500, 3, 16, 72));
	ASSERT_EQ(r->count, 3);
	ASSERT_EQ(r->total, 7);
	ASSERT_EQ(r->out_offset, 16);
	ASSERT_EQ(r->out_length, 72);
	r = ENG_OK(&t, eng_players_near(h, cx, cy, INT32_MAX, 1, 0, 24));
	ASSERT_EQ(r->count, 1);
	ASSERT_EQ(r->total, 8);
	r = ENG_OK(&t, eng_players_near(h, 0, 0, 100, 1, 0, 24));
	ASSERT_EQ(r->count, 0);
	ASSERT_EQ(r->total, 0);

	struct {
		int32_t x, y;
		uint32_t radius, max, off, cap;
		int code;
	} bad[] = {
		{0, 0, 1, 0, 0, 24, CAIRN_E_BAD_VALUE},
		{0, 0, 1, 1025, 0, 1025 * 24, CAIRN_E_BAD_VALUE},
		{0, 0, (uint32_t)INT32_MAX + 1, 1, 0, 24, CAIRN_E_BAD_VALUE},
		{0, 0, UINT32_MAX, 1, 0, 24, CAIRN_E_BAD_VALUE},
		{-1, 0, 1, 1, 0, 24, CAIRN_E_OFF_MAP},
		{0, 20000, 1, 1, 0, 24, CAIRN_E_OFF_MAP},
		{0, 0, 1, 1, 12, 24, CAIRN_E_BLOB_RANGE},
		{0, 0, 1, 1, ENG_ARENA_SIZE, 24, CAIRN_E_BLOB_RANGE},
		{0, 0, 1, 2, 0, 47, CAIRN_E_BLOB_TOO_SMALL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ENG_ERR(&t,
			eng_players_near(h, bad[i].x, bad[i].y, bad[i].radius, bad[i].max,
					 bad[i].off, bad[i].cap),
			bad[i].code);
	}
	ENG_ERR(&t, eng_players_near(h2 + 1, 0, 0, 1, 1, 0, 24), CAIRN_E_UNKNOWN_HUNT);
	eng_close(&t);
}

static void test_leaderboard(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	const struct cairn_query_reply *r = ENG_OK(&t, eng_leaderboard(h, 5, 0, 120));
	ASSERT_EQ(r->count, 0);
	ASSERT_EQ(r->total, 0);

	/* x and y join, then leave, so that their slots come back in reverse order. */
	uint32_t x = ENG_JOIN(&t, h, MID(0), MID(0));
	uint32_t y = ENG_JOIN(&t, h, MID(0), MID(0));
	ENG_OK(&t, eng_leave(h, x));
	ENG_OK(&t, eng_leave(h, y));
	uint32_t a = ENG_JOIN(&t, h, MID(0), MID(15)); /* 10 */
	uint32_t b = ENG_JOIN(&t, h, MID(1), MID(15)); /* 10, joined after a, lower id */
	uint32_t c = ENG_JOIN(&t, h, MID(2), MID(15)); /* 0 */
	uint32_t d = ENG_JOIN(&t, h, MID(3), MID(15)); /* -5 */
	uint32_t e = ENG_JOIN(&t, h, MID(4), MID(15)); /* 0 */
	ASSERT_LT(b, a);                               /* a took y's slot, b x's */
	ENG_CLUE(&t, h, MID(0), MID(16), 10);
	ENG_CLUE(&t, h, MID(1), MID(16), 4);
	ENG_CLUE(&t, h, MID(1), MID(17), 6);
	ENG_CLUE(&t, h, MID(3), MID(16), -5);
	ASSERT_EQ(ENG_MOVE(&t, h, a, MID(0), MID(16)).score, 10);
	ASSERT_EQ(ENG_MOVE(&t, h, b, MID(1), MID(16)).score, 4);
	ASSERT_EQ(ENG_MOVE(&t, h, b, MID(1), MID(17)).score, 10);
	ASSERT_EQ(ENG_MOVE(&t, h, d, MID(3), MID(16)).score, -5);

	r = ENG_OK(&t, eng_leaderboard(h, 10, 24, 240));
	ASSERT_EQ(r->count, 5);
	ASSERT_EQ(r->total, 5);
	const struct cairn_hit *hit = eng_hits(&t, r);
	uint32_t order[] = {a, b, c, e, d};
	int64_t score[] = {10, 10, 0, 0, -5};
	for (int i = 0; i < 5; i++) {
		ASSERT_UEQ(hit[i].id, order[i]);
		ASSERT_EQ(hit[i].value, score[i]);
		ASSERT_EQ(hit[i].dist_mm, 0);
	}
	ASSERT_EQ(hit[4].x, MID(3));
	ASSERT_EQ(hit[4].y, MID(16));
	r = ENG_OK(&t, eng_leaderboard(h, 2, 0, 48));
	ASSERT_EQ(r->count, 2);
	ASSERT_EQ(r->total, 5);
	ASSERT_UEQ(eng_hits(&t, r)[1].id, b);

	struct {
		uint32_t k, off, cap;
		int code;
	} bad[] = {
		{0, 0, 24, CAIRN_E_BAD_VALUE},      {1025, 0, 1025 * 24, CAIRN_E_BAD_VALUE},
		{1, 7, 24, CAIRN_E_BLOB_RANGE},     {1, ENG_ARENA_SIZE + 8, 24, CAIRN_E_BLOB_RANGE},
		{2, 0, 24, CAIRN_E_BLOB_TOO_SMALL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ENG_ERR(&t, eng_leaderboard(h, bad[i].k, bad[i].off, bad[i].cap), bad[i].code);
	}
	ENG_ERR(&t, eng_leaderboard(0, 1, 0, 24), CAIRN_E_UNKNOWN_HUNT);
	eng_close(&t);
}

static void test_player_state(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t h2 = ENG_HUNT(&t, S, 0, 0, 0);
	t.now = 5000;
	uint32_t p = ENG_JOIN(&t, h, MID(0), MID(0));
	uint32_t q = ENG_JOIN(&t, h2, MID(0), MID(0));
	uint32_t c = ENG_CLUE(&t, h, MID(1), MID(0), -9);
	t.now = 123456789;
	ENG_MOVE(&t, h, p, MID(1) + 12, MID(0) + 16);
	const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(h, p));
	ASSERT_UEQ(pi->player_id, p);
	ASSERT_UEQ(pi->hunt_id, h);
	ASSERT_EQ(pi->x, MID(1) + 12);
	ASSERT_EQ(pi->y, MID(0) + 16);
	ASSERT_EQ(pi->claims, 1);
	ASSERT_EQ(pi->score, -9);
	ASSERT_UEQ(pi->stamp_ns, 123456789);
	ASSERT_EQ(pi->_pad0, 0);

	ENG_ERR(&t, eng_player_state(0, p), CAIRN_E_UNKNOWN_HUNT);
	ENG_ERR(&t, eng_player_state(h, 0), CAIRN_E_UNKNOWN_PLAYER);
	ENG_ERR(&t, eng_player_state(h, c), CAIRN_E_UNKNOWN_PLAYER);
	ENG_ERR(&t, eng_player_state(h, p + (1u << 24)), CAIRN_E_UNKNOWN_PLAYER);
	ASSERT_UEQ(ENG_ERR(&t, eng_player_state(h, q), CAIRN_E_WRONG_HUNT), q);
	ENG_ERR(&t, eng_player_state(h2, p), CAIRN_E_WRONG_HUNT);
	eng_close(&t);
}

static void test_state_hash(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	uint64_t empty = cairn__engine_hash(t.e);
	const struct cairn_state_hash_reply *sh = ENG_OK(&t, eng_state_hash());
	ASSERT_UEQ(sh->hash, empty);
	ASSERT_UEQ(sh->applied, 0);
	ASSERT_EQ(sh->hunts + sh->entities, 0);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	ENG_HUNT(&t, D, 0, 0, 0);
	ENG_JOIN(&t, h, 0, 0);
	ENG_CLUE(&t, h, 1, 0, 1);
	sh = ENG_OK(&t, eng_state_hash());
	ASSERT_UEQ(sh->hash, cairn__engine_hash(t.e));
	ASSERT_TRUE(sh->hash != empty);
	ASSERT_UEQ(sh->applied, 4);
	ASSERT_UEQ(sh->applied, cairn__engine_applied(t.e));
	ASSERT_EQ(sh->hunts, 2);
	ASSERT_EQ(sh->entities, 2);
	eng_close(&t);
}

static const uint16_t engine_types[] = {
	CAIRN_MSG_HUNT_CREATE, CAIRN_MSG_HUNT_DESTROY,  CAIRN_MSG_JOIN,
	CAIRN_MSG_LEAVE,       CAIRN_MSG_MOVE,          CAIRN_MSG_CLUE_PLACE,
	CAIRN_MSG_CLUE_REMOVE, CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_PLAYERS_NEAR,
	CAIRN_MSG_LEADERBOARD, CAIRN_MSG_PLAYER_STATE,  CAIRN_MSG_STATE_HASH,
};

static void test_header(void)
{
	/* The engine serves types 16 .. 27 and only those; 16 .. 22 change the state. */
	for (uint32_t type = 0; type <= 0xffff; type++) {
		bool serves = type >= 16 && type <= 27;
		ASSERT_EQ(cairn__engine_serves((uint16_t)type), serves);
		ASSERT_EQ(cairn__engine_mutates((uint16_t)type), type >= 16 && type <= 22);
		ASSERT_EQ(eng_len((uint16_t)type) != 0 || type == CAIRN_MSG_STATE_HASH, serves);
	}

	struct eng t;
	eng_open(&t, NULL, true);
	uint32_t h = ENG_HUNT(&t, S, 0, 0, 0);
	uint32_t p = ENG_JOIN(&t, h, MID(0), MID(0));
	ENG_CLUE(&t, h, MID(9), MID(9), 1);
	for (size_t i = 0; i < sizeof(engine_types) / sizeof(engine_types[0]); i++) {
		uint16_t type = engine_types[i];
		/* A command that would succeed but for its header. */
		struct cairn_msg ok;
		switch (type) {
		case CAIRN_MSG_HUNT_CREATE:
			ok = eng_hunt_create(S, 0, 0, 0);
			break;
		case CAIRN_MSG_HUNT_DESTROY:
			ok = eng_hunt_destroy(h);
			break;
		case CAIRN_MSG_JOIN:
			ok = eng_join(h, MID(1), MID(1));
			break;
		case CAIRN_MSG_LEAVE:
			ok = eng_leave(h, p);
			break;
		case CAIRN_MSG_MOVE:
			ok = eng_move(h, p, MID(1), MID(1));
			break;
		case CAIRN_MSG_CLUE_PLACE:
			ok = eng_clue_place(h, MID(1), MID(1), 1);
			break;
		case CAIRN_MSG_CLUE_REMOVE:
			ok = eng_clue_remove(h, 0);
			break;
		case CAIRN_MSG_NEAREST_CLUES:
			ok = eng_nearest(h, 0, 0, 1, 0, 24, 0);
			break;
		case CAIRN_MSG_PLAYERS_NEAR:
			ok = eng_players_near(h, 0, 0, 1, 1, 0, 24);
			break;
		case CAIRN_MSG_LEADERBOARD:
			ok = eng_leaderboard(h, 1, 0, 24);
			break;
		case CAIRN_MSG_PLAYER_STATE:
			ok = eng_player_state(h, p);
			break;
		default:
			ok = eng_state_hash();
			break;
		}
		uint8_t len = eng_len(type);
		static const uint8_t flags[] = {1, 2, 0x80, 0xff};
		for (size_t f = 0; f < sizeof(flags); f++) {
			struct cairn_msg m = ok;
			m.hdr.flags = flags[f];
			ASSERT_UEQ(ENG_ERR(&t, m, CAIRN_E_BAD_FLAGS), flags[f]);
			m.hdr.length = (uint8_t)(len + 1); /* flags are checked first */
			ENG_ERR(&t, m, CAIRN_E_BAD_FLAGS);
		}
		uint8_t lens[] = {0, (uint8_t)(len - 1), (uint8_t)(len + 1), 40, 41, 255};
		for (size_t l = 0; l < sizeof(lens); l++) {
			if (lens[l] == len) {
				continue;
			}
			struct cairn_msg m = ok;
			m.hdr.length = lens[l];
			ASSERT_UEQ(ENG_ERR(&t, m, CAIRN_E_BAD_LENGTH), lens[l]);
		}
		/* A non-zero status in a command is ignored. */
		struct cairn_msg m = ok;
		m.hdr.status = -1;
		if (type != CAIRN_MSG_CLUE_REMOVE && type != CAIRN_MSG_HUNT_DESTROY &&
		    type != CAIRN_MSG_LEAVE) {
			ENG_OK(&t, m);
		}
	}

	/* Types the engine does not serve, applied anyway. */
	static const uint16_t unknown[] = {0,  1,  2,     3,      15,     28,     29,     63,
					   64, 65, 0x100, 0x7fff, 0x8010, 0x801b, 0xfffe, 0xffff};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		struct cairn_msg m = eng_msg(unknown[i], NULL, 0);
		m.hdr.length = 8;
		ASSERT_UEQ(ENG_ERR(&t, m, CAIRN_E_UNKNOWN_TYPE), unknown[i]);
		m.hdr.flags = 1; /* the type is checked first */
		ENG_ERR(&t, m, CAIRN_E_UNKNOWN_TYPE);
	}
	eng_close(&t);
}

int main(void)
{
	test_header();
	test_hunt_create();
	test_hunt_destroy();
	test_join();
	test_leave();
	test_move();
	test_move_speed();
	test_clues();
	test_nearest();
	test_queries_reference();
	test_players_near();
	test_leaderboard();
	test_player_state();
	test_state_hash();
	return T_PASS;
}
