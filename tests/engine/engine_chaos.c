/*
 * Chaos: a random stream in which one command in five is malformed, broken on purpose
 * in a way chosen when it is built (unknown or stale ids, the wrong hunt, positions off
 * the map or in walls, moves too fast, bad lengths, flags and types, k = 0, bad blob
 * offsets, ...). Engine A gets the whole stream, engine B only the good commands:
 *
 *   - every malformed command gets an ERROR with the code its breakage calls for,
 *   - every good command gets the same result, byte for byte, in both, and writes the
 *     same hits; both publish the same events,
 *   - the final state hashes are equal,
 *   - A's counters are B's plus exactly the malformed commands, by type and by reason.
 *
 * A good command cannot become invalid because of a malformed one before it, because a
 * rejected command changes nothing: that is what is being tested.
 */
#include <inttypes.h>

#include "eng.h"

enum { N = 150000, MALFORMED_PER_MILLE = 200 };

static const uint16_t served[] = {
	CAIRN_MSG_HUNT_CREATE, CAIRN_MSG_HUNT_DESTROY,  CAIRN_MSG_JOIN,
	CAIRN_MSG_LEAVE,       CAIRN_MSG_MOVE,          CAIRN_MSG_CLUE_PLACE,
	CAIRN_MSG_CLUE_REMOVE, CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_PLAYERS_NEAR,
	CAIRN_MSG_LEADERBOARD, CAIRN_MSG_PLAYER_STATE,  CAIRN_MSG_STATE_HASH,
};
#define N_SERVED (sizeof(served) / sizeof(served[0]))

struct chaos {
	struct eng_world w;
	struct eng_rng *r;
	const struct cairn__engine_config *cfg;
	bool null_blob; /* apply this malformed command without an arena */
};

static void random_payload(struct eng_rng *r, struct cairn_msg *m)
{
	for (size_t i = 0; i < sizeof(m->payload); i++) {
		m->payload[i] = (uint8_t)eng_rand(r);
	}
}

/* An id that names no live hunt, player or clue. */
static uint32_t unknown_id(struct chaos *c)
{
	struct eng_rng *r = c->r;
	for (;;) {
		uint32_t id;
		switch (eng_below(r, 4)) {
		case 0:
			id = 0;
			break;
		case 1:
			if (c->w.n_dead == 0) {
				continue;
			}
			id = c->w.dead[eng_below(r, c->w.n_dead)];
			break;
		case 2: /* a slot beyond every table */
			id = ((1 + eng_below(r, 255)) << 24) |
			     (c->cfg->max_entities + c->cfg->max_hunts + eng_below(r, 1000));
			break;
		default: /* a slot in use, with another generation */
			id = (uint32_t)eng_rand(r);
			break;
		}
		if (!eng_world_live(&c->w, id)) {
			return id;
		}
	}
}

static const struct eng_whunt *any_hunt(struct chaos *c)
{
	return &c->w.hunts[eng_below(c->r, c->w.n_hunts)];
}

static const struct eng_whunt *hunt_of(struct chaos *c, uint32_t id)
{
	for (uint32_t i = 0; i < c->w.n_hunts; i++) {
		if (c->w.hunts[i].id == id) {
			return &c->w.hunts[i];
		}
	}
	T_FAILF("hunt %u not in the model", id);
}

static void off_map(struct chaos *c, const struct eng_whunt *h, int32_t *x, int32_t *y)
{
	struct eng_rng *r = c->r;
	*x = (int32_t)eng_below(r, (uint32_t)h->limit_x);
	*y = (int32_t)eng_below(r, (uint32_t)h->limit_y);
	switch (eng_below(r, 5)) {
	case 0:
		*x = -1 - (int32_t)eng_below(r, 100000);
		break;
	case 1:
		*y = -1 - (int32_t)eng_below(r, 100000);
		break;
	case 2:
		*x = (int32_t)h->limit_x + (int32_t)eng_below(r, 100000);
		break;
	case 3:
		*y = (int32_t)h->limit_y + (int32_t)eng_below(r, 100000);
		break;
	default:
		*x = INT32_MIN + (int32_t)eng_below(r, 10);
		*y = INT32_MAX - (int32_t)eng_below(r, 10);
		break;
	}
}

/* Where a query's out_offset is in its payload (out_capacity follows). */
static size_t out_at(uint16_t type)
{
	return type == CAIRN_MSG_NEAREST_CLUES ? 16 : type == CAIRN_MSG_PLAYERS_NEAR ? 20 : 8;
}

/* A query that is valid but for what the caller changes next. */
static struct cairn_msg good_query(struct chaos *c, const struct eng_whunt *h, uint16_t type)
{
	struct eng_rng *r = c->r;
	int32_t x = (int32_t)eng_below(r, (uint32_t)h->limit_x);
	int32_t y = (int32_t)eng_below(r, (uint32_t)h->limit_y);
	uint32_t k = 1 + eng_below(r, 8);
	switch (type) {
	case CAIRN_MSG_NEAREST_CLUES:
		return eng_nearest(h->id, x, y, k, 64, k * 24, eng_below(r, 2));
	case CAIRN_MSG_PLAYERS_NEAR:
		return eng_players_near(h->id, x, y, eng_below(r, 5000), k, 64, k * 24);
	default:
		return eng_leaderboard(h->id, k, 64, k * 24);
	}
}

/*
 * Builds a malformed command for the current state and says which error it must get;
 * false when this kind cannot be built now.
 */
static bool build(struct chaos *c, unsigned kind, struct cairn_msg *m, int *code)
{
	struct eng_rng *r = c->r;
	struct eng_world *w = &c->w;
	const struct eng_whunt *h = any_hunt(c);
	int32_t x, y;
	switch (kind) {
	case 0: { /* a type the engine does not serve */
		static const uint16_t fixed[] = {0, 1, 2, 3, 15, 28, 63, 64, 0x8000, 0xffff};
		uint16_t t;
		switch (eng_below(r, 4)) {
		case 0:
			t = fixed[eng_below(r, sizeof(fixed) / sizeof(fixed[0]))];
			break;
		case 1:
			t = (uint16_t)(28 + eng_below(r, 36));
			break;
		case 2:
			t = (uint16_t)(served[eng_below(r, N_SERVED)] | CAIRN_REPLY_BIT);
			break;
		default:
			t = (uint16_t)(64 + eng_below(r, 0x10000 - 64));
			break;
		}
		if (cairn__engine_serves(t)) {
			return false;
		}
		memset(m, 0, sizeof(*m));
		random_payload(r, m);
		m->hdr.type = t;
		m->hdr.length = (uint8_t)eng_below(r, 256);
		m->hdr.flags = (uint8_t)eng_below(r, 256);
		*code = CAIRN_E_UNKNOWN_TYPE;
		return true;
	}
	case 1: /* flags */
		memset(m, 0, sizeof(*m));
		random_payload(r, m);
		m->hdr.type = served[eng_below(r, N_SERVED)];
		m->hdr.length = eng_chance(r, 500) ? eng_len(m->hdr.type) : (uint8_t)eng_rand(r);
		m->hdr.flags = (uint8_t)(1 + eng_below(r, 255));
		*code = CAIRN_E_BAD_FLAGS;
		return true;
	case 2: /* length */
		memset(m, 0, sizeof(*m));
		random_payload(r, m);
		m->hdr.type = served[eng_below(r, N_SERVED)];
		do {
			m->hdr.length = (uint8_t)(eng_chance(r, 500) ? eng_len(m->hdr.type) +
									       eng_below(r, 3) - 1
								     : eng_rand(r));
		} while (m->hdr.length == eng_len(m->hdr.type));
		*code = CAIRN_E_BAD_LENGTH;
		return true;
	case 3: { /* an unknown hunt, in every command that names one */
		static const uint16_t scoped[] = {
			CAIRN_MSG_HUNT_DESTROY,  CAIRN_MSG_JOIN,         CAIRN_MSG_LEAVE,
			CAIRN_MSG_MOVE,          CAIRN_MSG_CLUE_PLACE,   CAIRN_MSG_CLUE_REMOVE,
			CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_PLAYERS_NEAR, CAIRN_MSG_LEADERBOARD,
			CAIRN_MSG_PLAYER_STATE,
		};
		uint16_t t = scoped[eng_below(r, sizeof(scoped) / sizeof(scoped[0]))];
		memset(m, 0, sizeof(*m));
		random_payload(r, m);
		m->hdr.type = t;
		m->hdr.length = eng_len(t);
		uint32_t id = unknown_id(c);
		memcpy(m->payload, &id, 4); /* hunt_id is the first field of all of them */
		*code = CAIRN_E_UNKNOWN_HUNT;
		return true;
	}
	case 4: { /* an unknown player, or a clue named as one */
		uint32_t id = unknown_id(c);
		if (eng_chance(r, 300) && w->n_clues > 0) {
			id = w->clues[eng_below(r, w->n_clues)].id;
		}
		switch (eng_below(r, 3)) {
		case 0:
			*m = eng_move(h->id, id, (int32_t)eng_rand(r), (int32_t)eng_rand(r));
			break;
		case 1:
			*m = eng_leave(h->id, id);
			break;
		default:
			*m = eng_player_state(h->id, id);
			break;
		}
		*code = CAIRN_E_UNKNOWN_PLAYER;
		return true;
	}
	case 5: { /* an unknown clue, or a player named as one */
		uint32_t id = unknown_id(c);
		if (eng_chance(r, 300) && w->n_players > 0) {
			id = w->players[eng_below(r, w->n_players)].id;
		}
		*m = eng_clue_remove(h->id, id);
		*code = CAIRN_E_UNKNOWN_CLUE;
		return true;
	}
	case 6: { /* a player or clue named with another hunt */
		if (w->n_hunts < 2) {
			return false;
		}
		bool clue = eng_chance(r, 300);
		if (clue ? w->n_clues == 0 : w->n_players == 0) {
			return false;
		}
		uint32_t id, of;
		if (clue) {
			const struct eng_wclue *cl = &w->clues[eng_below(r, w->n_clues)];
			id = cl->id;
			of = cl->hunt;
		} else {
			const struct eng_wplayer *p = &w->players[eng_below(r, w->n_players)];
			id = p->id;
			of = p->hunt;
		}
		if (h->id == of) {
			return false;
		}
		if (clue) {
			*m = eng_clue_remove(h->id, id);
		} else {
			switch (eng_below(r, 3)) {
			case 0:
				*m = eng_move(h->id, id, (int32_t)eng_rand(r),
					      (int32_t)eng_rand(r));
				break;
			case 1:
				*m = eng_leave(h->id, id);
				break;
			default:
				*m = eng_player_state(h->id, id);
				break;
			}
		}
		*code = CAIRN_E_WRONG_HUNT;
		return true;
	}
	case 7: /* off the map */
		*code = CAIRN_E_OFF_MAP;
		switch (eng_below(r, 5)) {
		case 0:
			off_map(c, h, &x, &y);
			*m = eng_join(h->id, x, y);
			return true;
		case 1:
			off_map(c, h, &x, &y);
			*m = eng_clue_place(h->id, x, y, (int64_t)eng_rand(r));
			return true;
		case 2: {
			if (w->n_players == 0) {
				return false;
			}
			const struct eng_wplayer *p = &w->players[eng_below(r, w->n_players)];
			off_map(c, hunt_of(c, p->hunt), &x, &y);
			*m = eng_move(p->hunt, p->id, x, y);
			return true;
		}
		case 3:
			*m = good_query(c, h, CAIRN_MSG_NEAREST_CLUES);
			off_map(c, h, &x, &y);
			memcpy(m->payload + 4, &x, 4);
			memcpy(m->payload + 8, &y, 4);
			return true;
		default:
			*m = good_query(c, h, CAIRN_MSG_PLAYERS_NEAR);
			off_map(c, h, &x, &y);
			memcpy(m->payload + 4, &x, 4);
			memcpy(m->payload + 8, &y, 4);
			return true;
		}
	case 8: /* into a wall */
		*code = CAIRN_E_BLOCKED;
		if (!eng_world_pos(w, h, true, &x, &y)) {
			return false;
		}
		switch (eng_below(r, 3)) {
		case 0:
			*m = eng_join(h->id, x, y);
			return true;
		case 1:
			*m = eng_clue_place(h->id, x, y, 1);
			return true;
		default: {
			if (w->n_players == 0) {
				return false;
			}
			const struct eng_wplayer *p = &w->players[eng_below(r, w->n_players)];
			if (!eng_world_pos(w, hunt_of(c, p->hunt), true, &x, &y)) {
				return false;
			}
			*m = eng_move(p->hunt, p->id, x, y);
			return true;
		}
		}
	case 9: { /* too fast: farther than the limit allows since the player's last move */
		if (w->n_players == 0) {
			return false;
		}
		const struct eng_wplayer *p = &w->players[eng_below(r, w->n_players)];
		const struct eng_whunt *ph = hunt_of(c, p->hunt);
		if (ph->speed_mm_s == 0) {
			return false;
		}
		uint64_t reach = (uint64_t)((eng_u128)ph->speed_mm_s * (w->now - p->stamp) /
					    1000000000u); /* floor: the exact reach is below +1 */
		for (int i = 0; i < 20; i++) {
			if (!eng_world_pos(w, ph, false, &x, &y)) {
				return false;
			}
			int64_t dx = x - p->x, dy = y - p->y;
			if ((uint64_t)(dx * dx + dy * dy) > (reach + 1) * (reach + 1)) {
				*m = eng_move(p->hunt, p->id, x, y);
				*code = CAIRN_E_TOO_FAST;
				return true;
			}
		}
		return false;
	}
	case 10: { /* a value out of range */
		*code = CAIRN_E_BAD_VALUE;
		uint32_t v;
		switch (eng_below(r, 8)) {
		case 0: /* NEAREST_CLUES k */
			*m = good_query(c, h, CAIRN_MSG_NEAREST_CLUES);
			v = eng_chance(r, 500) ? 0
					       : CAIRN_MAX_QUERY_ITEMS + 1 + eng_below(r, 100000);
			memcpy(m->payload + 12, &v, 4);
			return true;
		case 1: /* include_claimed */
			*m = good_query(c, h, CAIRN_MSG_NEAREST_CLUES);
			v = 2 + eng_below(r, 1000);
			memcpy(m->payload + 24, &v, 4);
			return true;
		case 2: /* PLAYERS_NEAR max */
			*m = good_query(c, h, CAIRN_MSG_PLAYERS_NEAR);
			v = eng_chance(r, 500) ? 0 : CAIRN_MAX_QUERY_ITEMS + 1;
			memcpy(m->payload + 16, &v, 4);
			return true;
		case 3: /* PLAYERS_NEAR radius */
			*m = good_query(c, h, CAIRN_MSG_PLAYERS_NEAR);
			v = (uint32_t)INT32_MAX + 1 + eng_below(r, 1000);
			memcpy(m->payload + 12, &v, 4);
			return true;
		case 4: /* LEADERBOARD k */
			*m = good_query(c, h, CAIRN_MSG_LEADERBOARD);
			v = eng_chance(r, 500) ? 0 : CAIRN_MAX_QUERY_ITEMS + 1;
			memcpy(m->payload + 4, &v, 4);
			return true;
		case 5: /* HUNT_CREATE cell */
			*m = eng_hunt_create(eng_below(r, ENG_N_MAPS), 0, 0,
					     CAIRN_MAX_CELL_MM + 1 + eng_below(r, 1000));
			return true;
		default: { /* HUNT_CREATE radius beyond a block */
			uint32_t cell = eng_chance(r, 500) ? 0 : 1 + eng_below(r, 5000);
			uint32_t eff = cell ? cell : CAIRN_DEFAULT_CELL_MM;
			*m = eng_hunt_create(eng_below(r, ENG_N_MAPS),
					     eff * CAIRN_BLOCK_CELLS + 1 + eng_below(r, 1000), 0,
					     cell);
			return true;
		}
		}
	}
	case 11: { /* the output region outside the arena, or misaligned */
		static const uint16_t q[] = {CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_PLAYERS_NEAR,
					     CAIRN_MSG_LEADERBOARD};
		uint16_t t = q[eng_below(r, 3)];
		*m = good_query(c, h, t);
		size_t at = out_at(t);
		uint32_t off, cap;
		memcpy(&cap, m->payload + at + 4, 4);
		switch (eng_below(r, 4)) {
		case 0:
			off = 8 * eng_below(r, 100) + 1 + eng_below(r, 7);
			break;
		case 1:
			off = ENG_ARENA_SIZE + 8 + 8 * eng_below(r, 1000000);
			break;
		case 2: /* the capacity runs past the end */
			off = ENG_ARENA_SIZE - 8 * eng_below(r, (cap - 1) / 8 + 1);
			break;
		default:
			off = 64;
			c->null_blob = true;
			break;
		}
		memcpy(m->payload + at, &off, 4);
		*code = CAIRN_E_BLOB_RANGE;
		return true;
	}
	case 12: { /* the output region too small */
		static const uint16_t q[] = {CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_PLAYERS_NEAR,
					     CAIRN_MSG_LEADERBOARD};
		uint16_t t = q[eng_below(r, 3)];
		*m = good_query(c, h, t);
		size_t at = out_at(t) + 4;
		uint32_t cap;
		memcpy(&cap, m->payload + at, 4);
		cap -= 1 + eng_below(r, 24);
		memcpy(m->payload + at, &cap, 4);
		*code = CAIRN_E_BLOB_TOO_SMALL;
		return true;
	}
	default: /* an unknown map */
		*m = eng_hunt_create(ENG_N_MAPS + eng_below(r, 1000), eng_below(r, 100),
				     eng_below(r, 100), eng_below(r, 2000));
		*code = CAIRN_E_UNKNOWN_MAP;
		return true;
	}
}

enum { KINDS = 14 };

static void drain_and_compare(struct cairn__broadcast_reader *ra,
			      struct cairn__broadcast_reader *rb)
{
	static struct cairn_event ea[4096], eb[4096];
	size_t na = eng_events_read(ra, ea, 4096), nb = eng_events_read(rb, eb, 4096);
	ASSERT_EQ(na, nb);
	ASSERT_EQ(memcmp(ea, eb, na * sizeof(ea[0])), 0);
}

int main(void)
{
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	cfg.event_capacity = 1u << 14;
	struct eng a, b;
	eng_open(&a, &cfg, false);
	eng_open(&b, &cfg, false);
	struct cairn__broadcast_reader ra, rb;
	eng_events_attach(&a, &ra, 0);
	eng_events_attach(&b, &rb, 0);

	struct chaos c = {.cfg = &cfg};
	eng_world_init(&c.w, 777, 0);
	c.r = &c.w.rng;
	struct eng_rng pick;
	eng_rng_seed(&pick, 4242);

	uint64_t mal_error[64] = {0}, mal_type[64] = {0}, mal = 0, by_kind[KINDS] = {0};
	uint64_t good_ok = 0, good_err = 0;
	for (uint32_t i = 0; i < N; i++) {
		struct cairn_msg cmd, oa, ob;
		if (c.w.n_hunts >= 3 && eng_chance(&pick, MALFORMED_PER_MILLE)) {
			int code;
			unsigned kind;
			c.null_blob = false;
			do {
				kind = eng_below(&pick, KINDS);
			} while (!build(&c, kind, &cmd, &code));
			by_kind[kind]++;
			cmd.hdr.request_id = i + 1;
			bool check_hash = mal % 64 == 0;
			uint64_t h0 = check_hash ? cairn__engine_hash(a.e) : 0;
			uint64_t ap0 = cairn__engine_applied(a.e);
			uint64_t ev0 = cairn__engine_events_published(a.e);
			int rc = cairn__engine_apply(a.e, &cmd, c.w.now,
						     c.null_blob ? NULL : &a.blob, &oa);
			const struct cairn_error_info *ei = (const void *)oa.payload;
			if (rc != -code || oa.hdr.type != CAIRN_MSG_ERROR ||
			    oa.hdr.status != code || oa.hdr.request_id != cmd.hdr.request_id ||
			    ei->request_type != cmd.hdr.type) {
				T_FAILF("command %u, malformed kind %u, type 0x%x: expected %d, "
					"got "
					"rc %d, result type 0x%x status %d",
					i, kind, cmd.hdr.type, code, rc, oa.hdr.type,
					oa.hdr.status);
			}
			ASSERT_UEQ(cairn__engine_applied(a.e), ap0);
			ASSERT_UEQ(cairn__engine_events_published(a.e), ev0);
			if (check_hash) {
				ASSERT_UEQ(cairn__engine_hash(a.e), h0);
			}
			mal++;
			mal_error[code - CAIRN_E_BAD_MAGIC]++;
			mal_type[cmd.hdr.type < 64 ? cmd.hdr.type : 0]++;
			continue;
		}
		uint64_t stamp;
		cmd = eng_world_next(&c.w, &stamp);
		cmd.hdr.request_id = i + 1;
		int rca = cairn__engine_apply(a.e, &cmd, stamp, &a.blob, &oa);
		int rcb = cairn__engine_apply(b.e, &cmd, stamp, &b.blob, &ob);
		if (rca != rcb || memcmp(&oa, &ob, sizeof(oa)) != 0) {
			T_FAILF("command %u (type 0x%x): A answered 0x%x status %d, B 0x%x status "
				"%d",
				i, cmd.hdr.type, oa.hdr.type, oa.hdr.status, ob.hdr.type,
				ob.hdr.status);
		}
		if (oa.hdr.type == CAIRN_MSG_NEAREST_CLUES_REPLY ||
		    oa.hdr.type == CAIRN_MSG_PLAYERS_NEAR_REPLY ||
		    oa.hdr.type == CAIRN_MSG_LEADERBOARD_REPLY) {
			const struct cairn_query_reply *q = (const void *)oa.payload;
			ASSERT_EQ(memcmp(a.arena + q->out_offset, b.arena + q->out_offset,
					 q->out_length),
				  0);
		}
		eng_world_learn(&c.w, &ob);
		good_ok += rca == 0;
		good_err += rca != 0;
		if (i % 512 == 0) {
			drain_and_compare(&ra, &rb);
		}
	}
	drain_and_compare(&ra, &rb);

	printf("%u commands: %" PRIu64 " malformed, %" PRIu64 " good (%" PRIu64
	       " of them rejected on their merits); malformed by kind:",
	       N, mal, good_ok + good_err, good_err);
	for (int k = 0; k < KINDS; k++) {
		printf(" %" PRIu64, by_kind[k]);
		ASSERT_GT(by_kind[k], 100);
	}
	printf("\n");
	ASSERT_GT(mal, N / 6);

	ASSERT_UEQ(cairn__engine_hash(a.e), cairn__engine_hash(b.e));
	ASSERT_UEQ(cairn__engine_applied(a.e), cairn__engine_applied(b.e));
	const struct cairn_engine_counters *ca = cairn__engine_counters(a.e);
	const struct cairn_engine_counters *cb = cairn__engine_counters(b.e);
	for (int i = 0; i < 64; i++) {
		if (ca->by_error[i] != cb->by_error[i] + mal_error[i]) {
			T_FAILF("by_error[%d] (%d): A %" PRIu64 ", B %" PRIu64 " + %" PRIu64
				" malformed",
				i, i + CAIRN_E_BAD_MAGIC, ca->by_error[i], cb->by_error[i],
				mal_error[i]);
		}
		if (ca->by_type[i] != cb->by_type[i] + mal_type[i]) {
			T_FAILF("by_type[%d]: A %" PRIu64 ", B %" PRIu64 " + %" PRIu64 " malformed",
				i, ca->by_type[i], cb->by_type[i], mal_type[i]);
		}
	}
	ASSERT_UEQ(ca->rejected, cb->rejected + mal);
	ASSERT_UEQ(cb->rejected, good_err);
	ASSERT_UEQ(ca->applied, cb->applied);
	ASSERT_UEQ(ca->moves, cb->moves);
	ASSERT_UEQ(ca->claims, cb->claims);
	ASSERT_UEQ(ca->lost, cb->lost);
	ASSERT_UEQ(ca->events, cb->events);
	ASSERT_GT(ca->claims, 100);

	/* The two images are the same bytes. */
	uint8_t *ia, *ib;
	size_t la, lb;
	ASSERT_OK(cairn__engine_save(a.e, &ia, &la));
	ASSERT_OK(cairn__engine_save(b.e, &ib, &lb));
	ASSERT_UEQ(la, lb);
	ASSERT_EQ(memcmp(ia, ib, la), 0);
	free(ia);
	free(ib);
	eng_world_fini(&c.w);
	eng_close(&a);
	eng_close(&b);
	return T_PASS;
}
