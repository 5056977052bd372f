/*
 * Rollback: cairn__engine_hunt_save and cairn__engine_hunt_replace.
 *
 *   - a scripted hunt: players leave and others take their slots, clues are claimed and
 *     removed, new players join; the replacement brings back every id, position, score
 *     and claim, frees the newcomers' slots in ascending order, and the next join gets
 *     the id that order says;
 *   - a realistic stream: a hunt's image at one point, thousands of commands later
 *     (joins, leaves, moves, claims, clue removals, other hunts taking freed slots), the
 *     replacement makes the hunt save to the same bytes, leaves every other hunt's image
 *     as it was, publishes one event, keeps the grid region consistent (every block
 *     list, count and gauge walked), and an engine restored from the state just before
 *     it reaches the same bytes and then the same results on a common continuation;
 *   - refusals, each leaving the state hash, the order number, the events and the grid
 *     region exactly as they were: an id of the image now held by another hunt
 *     (ROLLBACK_CONFLICT), every truncation and every bit flip of the image (a flip
 *     that still makes a well-formed image is accepted as that image), another hunt's
 *     image, a hunt that is gone, a hunt that had the same id earlier, slots beyond
 *     the engine.
 */
#include <sys/mman.h>

#include "eng.h"

#define S      ENG_MAP_SMALL
#define D      ENG_MAP_DEFAULT
#define MID(c) ((int32_t)(c)*1000 + 500)

#define SLOT_MASK ((UINT32_C(1) << CAIRN_ID_SLOT_BITS) - 1)

/* ---- The hunt image, read back from the layout at the top of src/engine/rollback.c ---- */

struct ient {
	uint32_t id;
	uint8_t kind, flags;
	uint32_t hunt_id;
	int32_t x, y;
	uint32_t claimed_by, claims;
	int64_t value;
	uint64_t stamp_ns, order;
};

struct himg {
	uint32_t hunt_id, map_id, cell_mm, radius_mm, speed_mm_s;
	uint64_t map_hash, created_ns, order;
	uint32_t n, players, clues, claimed;
	struct ient *ents;
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

enum { HDR = 16, HUNT_REC = 40, ENT_REC = 50 };

static void himg_parse(const uint8_t *b, size_t len, struct himg *h)
{
	memset(h, 0, sizeof(*h));
	ASSERT_TRUE(len >= HDR + HUNT_REC + 4);
	ASSERT_TRUE(memcmp(b, "CAIRNHNT", 8) == 0);
	ASSERT_UEQ(rd32(b + 8), 1);
	h->hunt_id = rd32(b + 12);
	const uint8_t *p = b + HDR;
	h->map_id = rd32(p);
	h->map_hash = rd64(p + 4);
	h->cell_mm = rd32(p + 12);
	h->radius_mm = rd32(p + 16);
	h->speed_mm_s = rd32(p + 20);
	h->created_ns = rd64(p + 24);
	h->order = rd64(p + 32);
	p += HUNT_REC;
	h->n = rd32(p);
	p += 4;
	ASSERT_UEQ(len, HDR + HUNT_REC + 4 + (size_t)h->n * ENT_REC);
	h->ents = calloc(h->n + 1, sizeof(*h->ents));
	ASSERT_TRUE(h->ents != NULL);
	for (uint32_t k = 0; k < h->n; k++, p += ENT_REC) {
		struct ient *e = &h->ents[k];
		e->id = rd32(p);
		e->kind = p[4];
		e->flags = p[5];
		e->hunt_id = rd32(p + 6);
		e->x = (int32_t)rd32(p + 10);
		e->y = (int32_t)rd32(p + 14);
		e->claimed_by = rd32(p + 18);
		e->claims = rd32(p + 22);
		e->value = (int64_t)rd64(p + 26);
		e->stamp_ns = rd64(p + 34);
		e->order = rd64(p + 42);
		ASSERT_UEQ(e->hunt_id, h->hunt_id);
		if (k > 0) {
			ASSERT_TRUE(e->id > h->ents[k - 1].id); /* canonical: ascending ids */
		}
		if (e->kind == CAIRN_ENTITY_PLAYER) {
			h->players++;
		} else {
			h->clues++;
			h->claimed += (e->flags & CAIRN_FLAG_CLAIMED) != 0;
		}
	}
}

static void himg_free(struct himg *h)
{
	free(h->ents);
}

static const struct ient *himg_find(const struct himg *h, uint32_t id)
{
	for (uint32_t k = 0; k < h->n; k++) {
		if (h->ents[k].id == id) {
			return &h->ents[k];
		}
	}
	return NULL;
}

/* ---- The grid region, walked as a reader in another process sees it ---- */

/*
 * Every live hunt's blocks hold exactly its entities: each linked once, of the list's
 * kind, in the block its position falls in; every block's counts, every hunt's counts
 * and the header's gauges agree; no entity record is live outside a block; no seq is odd.
 */
static void check_grid(const struct eng *t, const char *what)
{
	const uint8_t *g = t->grid;
	const struct cairn_grid_header *gh = (const void *)g;
	const struct cairn_hunt_info *hi = (const void *)(g + gh->hunts_offset);
	const struct cairn_entity *ents = (const void *)(g + gh->entities_offset);
	uint8_t *seen = calloc(gh->max_entities, 1);
	ASSERT_TRUE(seen != NULL);
	uint32_t hunts = 0;
	uint64_t total = 0;
	for (uint32_t i = 0; i < gh->max_hunts; i++) {
		const struct cairn_hunt_info *h = &hi[i];
		if (h->seq & 1) {
			T_FAILF("%s: hunt record %u left mid-write", what, i);
		}
		if (h->id == 0) {
			continue;
		}
		hunts++;
		ASSERT_UEQ(h->id & SLOT_MASK, i);
		const struct cairn_shard *sh = (const void *)(g + h->shards_offset);
		for (uint32_t s = 0; s < h->shards; s++) {
			if (sh[s].seq & 1) {
				T_FAILF("%s: hunt %#x shard %u left mid-write", what, h->id, s);
			}
		}
		const struct cairn_block *bl = (const void *)(g + h->blocks_offset);
		uint32_t players = 0, clues = 0, claimed = 0;
		int64_t bmm = (int64_t)h->cell_mm * CAIRN_BLOCK_CELLS;
		for (uint32_t b = 0; b < h->blocks_x * h->blocks_y; b++) {
			for (int kind = CAIRN_ENTITY_PLAYER; kind <= CAIRN_ENTITY_CLUE; kind++) {
				bool clue = kind == CAIRN_ENTITY_CLUE;
				uint32_t n = 0;
				for (uint32_t s = clue ? bl[b].first_clue : bl[b].first_player; s;
				     s = ents[s - 1].next) {
					const struct cairn_entity *en = &ents[s - 1];
					if (s - 1 >= gh->entities_hwm || seen[s - 1] ||
					    (en->id & SLOT_MASK) != s - 1 || en->id >> 24 == 0 ||
					    en->hunt_id != h->id || en->kind != kind ||
					    en->block != b ||
					    (uint32_t)((en->y / bmm) * h->blocks_x + en->x / bmm) !=
						    b ||
					    (!clue && en->flags != 0)) {
						T_FAILF("%s: hunt %#x block %u: bad entity in slot "
							"%u "
							"(id %#x hunt %#x kind %u block %u at "
							"%d,%d)",
							what, h->id, b, s - 1, en->id, en->hunt_id,
							en->kind, en->block, en->x, en->y);
					}
					seen[s - 1] = 1;
					n++;
					claimed += clue && (en->flags & CAIRN_FLAG_CLAIMED);
				}
				if (n != (clue ? bl[b].clues : bl[b].players)) {
					T_FAILF("%s: hunt %#x block %u counts %u %s, holds %u",
						what, h->id, b, clue ? bl[b].clues : bl[b].players,
						clue ? "clues" : "players", n);
				}
				*(clue ? &clues : &players) += n;
			}
		}
		if (players != h->players || clues != h->clues || claimed != h->clues_claimed) {
			T_FAILF("%s: hunt %#x says %u players %u clues %u claimed, its blocks hold "
				"%u %u %u",
				what, h->id, h->players, h->clues, h->clues_claimed, players, clues,
				claimed);
		}
		total += players + clues;
	}
	if (gh->hunts != hunts || gh->entities != total) {
		T_FAILF("%s: header gauges %u hunts %u entities, found %u and %llu", what,
			gh->hunts, gh->entities, hunts, (unsigned long long)total);
	}
	static const struct cairn_entity zero;
	for (uint32_t s = 0; s < gh->max_entities; s++) {
		if (!seen[s] && memcmp(&ents[s], &zero, sizeof(zero)) != 0) {
			T_FAILF("%s: entity slot %u (id %#x) is in no block", what, s, ents[s].id);
		}
	}
	free(seen);
}

/* ---- Helpers ---- */

static void save_hunt(const struct eng *t, uint32_t hunt, uint8_t **img, size_t *len)
{
	ASSERT_OK(cairn__engine_hunt_save(t->e, hunt, img, len));
}

static bool same_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && memcmp(a, b, al) == 0;
}

static void assert_hunt_is(const struct eng *t, uint32_t hunt, const uint8_t *img, size_t len,
			   const char *what)
{
	uint8_t *now;
	size_t n;
	save_hunt(t, hunt, &now, &n);
	if (!same_bytes(now, n, img, len)) {
		size_t at = 0;
		while (at < n && at < len && now[at] == img[at]) {
			at++;
		}
		T_FAILF("%s: the image of hunt %#x is not the one expected (%zu vs %zu bytes, "
			"first difference at %zu)",
			what, hunt, n, len, at);
	}
	free(now);
}

/* What a refused replacement must leave as it was. */
struct before {
	uint64_t hash, applied, events;
	struct cairn_engine_counters ctr;
};

static void before_take(const struct eng *t, struct before *b)
{
	b->hash = cairn__engine_hash(t->e);
	b->applied = cairn__engine_applied(t->e);
	b->events = cairn__engine_events_published(t->e);
	b->ctr = *cairn__engine_counters(t->e);
}

static void before_check(const struct eng *t, const struct before *b, const char *what, size_t at)
{
	if (cairn__engine_hash(t->e) != b->hash || cairn__engine_applied(t->e) != b->applied ||
	    cairn__engine_events_published(t->e) != b->events ||
	    memcmp(cairn__engine_counters(t->e), &b->ctr, sizeof(b->ctr)) != 0) {
		T_FAILF("%s at %zu: a refused replacement changed the state, order, events or "
			"counters",
			what, at);
	}
}

/* A replacement that must be refused with code, changing nothing (grid: the whole region). */
static void refuse(struct eng *t, uint32_t hunt, const uint8_t *img, size_t len, int code,
		   bool grid, const char *what)
{
	struct before b;
	before_take(t, &b);
	if (grid) {
		memcpy(t->grid_copy, t->grid, t->grid_size);
	}
	uint32_t players = 0xdead, clues = 0xbeef;
	int rc = cairn__engine_hunt_replace(t->e, hunt, img, len, 7, &players, &clues);
	if (rc != -code) {
		T_FAILF("%s: expected %d (%s), got %d (%s)", what, code, cairn_strerror(-code), rc,
			rc < 0 ? cairn_strerror(rc) : "ok");
	}
	ASSERT_UEQ(players, 0xdead);
	ASSERT_UEQ(clues, 0xbeef);
	before_check(t, &b, what, 0);
	if (grid && memcmp(t->grid_copy, t->grid, t->grid_size) != 0) {
		T_FAILF("%s: a refused replacement changed the grid region", what);
	}
}

/*
 * Replaces hunt with img, which must succeed: one HUNT_ROLLED_BACK event with value, the
 * order number up by one, the counts returned, the hunt saving to img again, the grid
 * consistent.
 */
static void replace_ok(struct eng *t, uint32_t hunt, const uint8_t *img, size_t len, uint64_t value,
		       const char *what)
{
	struct himg h;
	himg_parse(img, len, &h);
	uint64_t a0 = cairn__engine_applied(t->e);
	uint64_t ev0 = cairn__engine_events_published(t->e);
	uint64_t ctr_applied = cairn__engine_counters(t->e)->applied;
	struct cairn__broadcast_reader r;
	eng_events_attach(t, &r, ev0);
	uint32_t players = 0, clues = 0;
	int rc = cairn__engine_hunt_replace(t->e, hunt, img, len, value, &players, &clues);
	if (rc != 0) {
		T_FAILF("%s: replace returned %d (%s)", what, rc, cairn_strerror(rc));
	}
	ASSERT_UEQ(players, h.players);
	ASSERT_UEQ(clues, h.clues);
	ASSERT_UEQ(cairn__engine_applied(t->e), a0 + 1);
	ASSERT_UEQ(cairn__engine_counters(t->e)->applied, ctr_applied + 1);
	struct cairn_event ev[4];
	ASSERT_UEQ(eng_events_read(&r, ev, 4), 1);
	ASSERT_EQ(ev[0].type, CAIRN_EVENT_HUNT_ROLLED_BACK);
	ASSERT_UEQ(ev[0].hunt_id, hunt);
	ASSERT_UEQ(ev[0].order, a0 + 1);
	ASSERT_UEQ((uint64_t)ev[0].value, value);
	ASSERT_UEQ(ev[0].player_id, 0);
	ASSERT_UEQ(ev[0].clue_id, 0);
	assert_hunt_is(t, hunt, img, len, what);
	check_grid(t, what);
	const struct cairn_grid_header *gh = (const void *)t->grid;
	const struct cairn_hunt_info *hi =
		(const struct cairn_hunt_info *)(t->grid + gh->hunts_offset) + (hunt & SLOT_MASK);
	ASSERT_UEQ(hi->players, h.players);
	ASSERT_UEQ(hi->clues, h.clues);
	ASSERT_UEQ(hi->clues_claimed, h.claimed);
	ASSERT_UEQ(gh->applied, a0 + 1);
	himg_free(&h);
}

/* An engine of config cfg restored from a whole-engine image. */
static void open_restored(struct eng *t, const struct cairn__engine_config *cfg, const uint8_t *img,
			  size_t len)
{
	eng_open(t, cfg, true);
	ASSERT_OK(cairn__engine_restore(t->e, img, len));
}

/* ---- A scripted hunt, every expectation exact ---- */

static void scripted(void)
{
	struct eng t;
	eng_open(&t, NULL, true);
	t.step_ns = 1000000000ull; /* a second per command: the speed limit never bites */
	uint32_t other = ENG_HUNT(&t, D, 0, 0, 0);
	uint32_t h = ENG_HUNT(&t, S, 0, 2000, 0);
	uint32_t p1 = ENG_JOIN(&t, h, MID(0), MID(15));     /* slot 0 */
	uint32_t p2 = ENG_JOIN(&t, h, MID(1), MID(15));     /* slot 1 */
	uint32_t c1 = ENG_CLUE(&t, h, MID(2), MID(15), 9);  /* slot 2 */
	uint32_t c2 = ENG_CLUE(&t, h, MID(20), MID(18), 4); /* slot 3 */
	uint32_t q = ENG_JOIN(&t, other, MID(3), MID(3));   /* slot 4 */
	ASSERT_EQ(ENG_MOVE(&t, h, p1, MID(1), MID(16)).outcome, CAIRN_CLAIM_NONE);
	check_grid(&t, "scripted start");

	uint8_t *img, *other_img;
	size_t len, other_len;
	save_hunt(&t, h, &img, &len);
	save_hunt(&t, other, &other_img, &other_len);
	struct himg hv;
	himg_parse(img, len, &hv);
	ASSERT_UEQ(hv.hunt_id, h);
	ASSERT_UEQ(hv.n, 4);
	ASSERT_UEQ(hv.ents[0].id, p1);
	ASSERT_UEQ(hv.ents[3].id, c2);
	ASSERT_EQ(hv.ents[0].x, MID(1));
	ASSERT_EQ(hv.ents[0].y, MID(16));
	ASSERT_UEQ(hv.cell_mm, 1000);
	ASSERT_UEQ(hv.speed_mm_s, 2000);
	ASSERT_UEQ(hv.map_hash, eng_maps()[S]->hash);
	himg_free(&hv);
	/* Saving changes nothing, and saves the same bytes twice. */
	assert_hunt_is(&t, h, img, len, "saved twice");

	/* p1 leaves and p3 takes its slot; p2 claims c1; c2 goes; p4 joins; q wanders. */
	ENG_OK(&t, eng_leave(h, p1));
	uint32_t p3 = ENG_JOIN(&t, h, MID(5), MID(15));
	ASSERT_UEQ(p3 & SLOT_MASK, p1 & SLOT_MASK);
	ASSERT_EQ(ENG_MOVE(&t, h, p2, MID(2), MID(15)).outcome, CAIRN_CLAIM_WON);
	ENG_OK(&t, eng_clue_remove(h, c2));
	uint32_t p4 = ENG_JOIN(&t, h, MID(6), MID(15)); /* slot 3, c2's: the stack's top */
	ASSERT_UEQ(p4 & SLOT_MASK, 3);
	uint32_t p5 = ENG_JOIN(&t, h, MID(7), MID(15)); /* slot 5: the high mark */
	ASSERT_UEQ(p5 & SLOT_MASK, 5);
	ENG_MOVE(&t, other, q, MID(4), MID(3));
	check_grid(&t, "scripted after");

	/* Hunts that do not fit: an unknown id, this image for another hunt, another's image. */
	refuse(&t, h + 1, img, len, CAIRN_E_UNKNOWN_HUNT, true, "no such hunt");
	refuse(&t, other, img, len, CAIRN_E_UNKNOWN_HUNT, true, "image of another hunt");
	refuse(&t, h, other_img, other_len, CAIRN_E_UNKNOWN_HUNT, true, "another hunt's image");
	uint8_t *junk;
	size_t junk_len;
	ASSERT_EQ(cairn__engine_hunt_save(t.e, h + 1, &junk, &junk_len), -CAIRN_E_UNKNOWN_HUNT);

	uint8_t *other_now;
	size_t other_now_len;
	save_hunt(&t, other, &other_now, &other_now_len);
	replace_ok(&t, h, img, len, 12345, "scripted");
	assert_hunt_is(&t, other, other_now, other_now_len, "the other hunt after the replacement");

	/* p1 is back with its own id and place; p3, p4, p5 are gone; c1 is free; c2 is back. */
	const struct cairn_player_info *pi = ENG_OK(&t, eng_player_state(h, p1));
	ASSERT_EQ(pi->x, MID(1));
	ASSERT_EQ(pi->y, MID(16));
	pi = ENG_OK(&t, eng_player_state(h, p2));
	ASSERT_EQ(pi->x, MID(1));
	ASSERT_EQ(pi->score, 0);
	ASSERT_EQ(pi->claims, 0);
	ENG_ERR(&t, eng_player_state(h, p3), CAIRN_E_UNKNOWN_PLAYER);
	ENG_ERR(&t, eng_player_state(h, p4), CAIRN_E_UNKNOWN_PLAYER);
	ENG_ERR(&t, eng_player_state(h, p5), CAIRN_E_UNKNOWN_PLAYER);
	ENG_ERR(&t, eng_clue_remove(h, p4), CAIRN_E_UNKNOWN_CLUE);
	/*
	 * The free stack: the newcomers' slots 0, 3 and 5 were freed in ascending order, and
	 * 0 and 3 left it again for p1 and c2; so the next join takes slot 5, one generation
	 * on from p5's.
	 */
	uint32_t p6 = ENG_JOIN(&t, h, MID(8), MID(15));
	ASSERT_UEQ(p6, (p5 & SLOT_MASK) | (((p5 >> 24) + 1) << 24));
	uint32_t p7 = ENG_JOIN(&t, h, MID(9), MID(15)); /* then the high mark */
	ASSERT_UEQ(p7 & SLOT_MASK, 6);
	/* c1 can be won again, and the winner is p2, who had lost it to the rollback. */
	struct cairn_moved mv = ENG_MOVE(&t, h, p2, MID(2), MID(15));
	ASSERT_EQ(mv.outcome, CAIRN_CLAIM_WON);
	ASSERT_UEQ(mv.clue_id, c1);
	ASSERT_EQ(mv.score, 9);
	ENG_OK(&t, eng_clue_remove(h, c2));
	check_grid(&t, "scripted, commands after the replacement");

	/* Back to the image once more: now p6, p7 go, c2 returns, c1 is unclaimed again. */
	replace_ok(&t, h, img, len, 1, "scripted, twice");

	/* A replacement by the very state the hunt is in changes nothing but the order. */
	uint8_t *whole0, *whole1;
	size_t wl0, wl1;
	ASSERT_OK(cairn__engine_save(t.e, &whole0, &wl0));
	replace_ok(&t, h, img, len, 2, "scripted, the same state");
	ASSERT_OK(cairn__engine_save(t.e, &whole1, &wl1));
	ASSERT_UEQ(wl0, wl1);
	ASSERT_UEQ(rd64(whole1 + 16 + 8 * ENG_N_MAPS), rd64(whole0 + 16 + 8 * ENG_N_MAPS) + 1);
	ASSERT_TRUE(memcmp(whole0 + 24 + 8 * ENG_N_MAPS, whole1 + 24 + 8 * ENG_N_MAPS,
			   wl0 - 24 - 8 * ENG_N_MAPS) == 0);
	free(whole0);
	free(whole1);

	/* An empty hunt: saved, filled, and emptied again by its image. */
	uint32_t e = ENG_HUNT(&t, S, 0, 0, 500);
	uint8_t *empty;
	size_t empty_len;
	save_hunt(&t, e, &empty, &empty_len);
	ASSERT_UEQ(empty_len, HDR + HUNT_REC + 4);
	ENG_JOIN(&t, e, 300, 300);
	ENG_CLUE(&t, e, 700, 300, 1);
	replace_ok(&t, e, empty, empty_len, 3, "emptied");
	free(empty);

	free(img);
	free(other_img);
	free(other_now);
	eng_close(&t);
}

/* ---- A realistic stream ---- */

enum { PHASE1 = 20000, PHASE2 = 6000, PHASE3 = 4000 };

static void stream_config(struct cairn__engine_config *cfg)
{
	eng_config(cfg);
	cfg->max_hunts = 32;
	cfg->max_entities = 4096;
	cfg->shards_per_hunt = 8;
	cfg->event_capacity = 1u << 16;
}

/* Other capacities and shards: the image and the hash must not care. */
static void other_config(struct cairn__engine_config *cfg)
{
	eng_config(cfg);
	cfg->max_hunts = 100;
	cfg->max_entities = 20000;
	cfg->shards_per_hunt = 3;
	cfg->event_capacity = 1024;
}

static struct cairn_msg apply_at(struct eng *t, struct cairn_msg cmd, uint64_t stamp, int *rc)
{
	struct cairn_msg out;
	*rc = cairn__engine_apply(t->e, &cmd, stamp, &t->blob, &out);
	return out;
}

static const struct eng_whunt *world_hunt_of(const struct eng_world *w, uint32_t id)
{
	for (uint32_t i = 0; i < w->n_hunts; i++) {
		if (w->hunts[i].id == id) {
			return &w->hunts[i];
		}
	}
	return NULL;
}

/* The hunt a world command names (every mutating command starts with the hunt id). */
static uint32_t cmd_hunt(const struct cairn_msg *m)
{
	return rd32(m->payload);
}

/* Room in the model for a hunt that comes back bigger than the model's limits allow. */
static void world_widen(struct eng_world *w)
{
	w->players = realloc(w->players, 2 * (size_t)w->max_players * sizeof(*w->players));
	w->clues = realloc(w->clues, 2 * (size_t)w->max_clues * sizeof(*w->clues));
	ASSERT_TRUE(w->players && w->clues);
}

/* After a replacement: the model's players and clues of hunt become the image's. */
static void world_resync(struct eng_world *w, uint32_t hunt, const struct himg *h)
{
	for (uint32_t k = 0; k < w->n_players;) {
		if (w->players[k].hunt == hunt) {
			w->players[k] = w->players[--w->n_players];
		} else {
			k++;
		}
	}
	for (uint32_t k = 0; k < w->n_clues;) {
		if (w->clues[k].hunt == hunt) {
			w->clues[k] = w->clues[--w->n_clues];
		} else {
			k++;
		}
	}
	for (uint32_t k = 0; k < h->n; k++) {
		const struct ient *e = &h->ents[k];
		if (e->kind == CAIRN_ENTITY_PLAYER) {
			ASSERT_TRUE(w->n_players < 2 * w->max_players);
			w->players[w->n_players++] = (struct eng_wplayer){.id = e->id,
									  .hunt = hunt,
									  .x = e->x,
									  .y = e->y,
									  .stamp = e->stamp_ns};
		} else {
			ASSERT_TRUE(w->n_clues < 2 * w->max_clues);
			w->clues[w->n_clues++] =
				(struct eng_wclue){.id = e->id, .hunt = hunt, .x = e->x, .y = e->y};
		}
	}
}

struct stats {
	uint64_t leaves, removals, claims, moves, joins, retakes, reused_by_others, skipped;
};

/*
 * A claim in hunt: a clue placed under one of its players, who then "moves" to where it
 * stands (no distance, so no speed limit) and wins it. Returns true when it could.
 */
static bool inject_claim(struct eng *a, struct eng_world *w, uint32_t hunt, uint64_t stamp)
{
	int64_t pick = -1;
	for (uint32_t k = 0, seen = 0; k < w->n_players; k++) {
		if (w->players[k].hunt == hunt && eng_below(&w->rng, ++seen) == 0) {
			pick = k;
		}
	}
	if (pick < 0 || w->n_clues >= w->max_clues) {
		return false;
	}
	struct eng_wplayer p = w->players[pick];
	int rc;
	w->pending_index = -1;
	struct cairn_msg out = apply_at(a, eng_clue_place(hunt, p.x, p.y, 10), stamp, &rc);
	ASSERT_EQ(rc, 0);
	eng_world_learn(w, &out);
	uint32_t clue = rd32(out.payload);
	w->pending_index = pick;
	out = apply_at(a, eng_move(hunt, p.id, p.x, p.y), stamp, &rc);
	ASSERT_EQ(rc, 0);
	eng_world_learn(w, &out);
	const struct cairn_moved *m = (const void *)out.payload;
	ASSERT_EQ(m->outcome, CAIRN_CLAIM_WON);
	ASSERT_UEQ(m->clue_id, clue);
	return true;
}

/*
 * Phase 2: the world goes on, but every slot the hunt frees is taken back by the hunt
 * at once (a join or a clue placed in the hunt right after its leave or removal takes
 * the top of the free stack), and the hunt is never destroyed; so no slot of the image
 * ever goes to another hunt, while the other hunts reuse their own freed slots.
 */
static void protected_stream(struct eng *a, struct eng_world *w, uint32_t hunt, uint32_t n,
			     struct stats *st)
{
	const struct eng_whunt *wh = world_hunt_of(w, hunt);
	ASSERT_TRUE(wh != NULL);
	for (uint32_t i = 0; i < n; i++) {
		if (i % 200 == 100) {
			st->claims += inject_claim(a, w, hunt, w->now);
		}
		uint64_t stamp;
		struct cairn_msg cmd = eng_world_next(w, &stamp);
		cmd.hdr.request_id = 1000000 + i;
		uint16_t type = cmd.hdr.type;
		if (type == CAIRN_MSG_HUNT_DESTROY && cmd_hunt(&cmd) == hunt) {
			st->skipped++;
			continue;
		}
		/* The slot a leave or removal frees: the id's low bits. */
		uint32_t freed = rd32(cmd.payload + 4) & SLOT_MASK;
		int rc;
		struct cairn_msg out = apply_at(a, cmd, stamp, &rc);
		eng_world_learn(w, &out);
		if (rc < 0) {
			continue;
		}
		bool in_hunt = cairn__engine_mutates(type) && type != CAIRN_MSG_HUNT_CREATE &&
			       cmd_hunt(&cmd) == hunt;
		if (type == CAIRN_MSG_MOVE && in_hunt) {
			st->moves++;
			st->claims += ((const struct cairn_moved *)out.payload)->outcome ==
				      CAIRN_CLAIM_WON;
		}
		if ((type == CAIRN_MSG_JOIN || type == CAIRN_MSG_CLUE_PLACE) && !in_hunt) {
			uint32_t id = rd32(out.payload);
			st->reused_by_others += (id >> 24) > 1;
		}
		st->joins += type == CAIRN_MSG_JOIN && in_hunt;
		if (!in_hunt || (type != CAIRN_MSG_LEAVE && type != CAIRN_MSG_CLUE_REMOVE)) {
			continue;
		}
		*(type == CAIRN_MSG_LEAVE ? &st->leaves : &st->removals) += 1;
		int32_t x, y;
		ASSERT_TRUE(eng_world_pos(w, wh, false, &x, &y));
		struct cairn_msg again = type == CAIRN_MSG_LEAVE ? eng_join(hunt, x, y)
								 : eng_clue_place(hunt, x, y, 3);
		again.hdr.request_id = 2000000 + i;
		w->pending_index = -1;
		out = apply_at(a, again, stamp, &rc);
		ASSERT_EQ(rc, 0);
		ASSERT_UEQ(rd32(out.payload) & SLOT_MASK, freed);
		eng_world_learn(w, &out);
		st->retakes++;
	}
}

/* Phase 3: the same commands on every engine; results and hashes must agree. */
static void common_stream(struct eng **es, int n_es, struct eng_world *w, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t stamp;
		struct cairn_msg cmd = eng_world_next(w, &stamp);
		cmd.hdr.request_id = 3000000 + i;
		int rc0;
		struct cairn_msg out0 = apply_at(es[0], cmd, stamp, &rc0);
		for (int k = 1; k < n_es; k++) {
			int rc;
			struct cairn_msg out = apply_at(es[k], cmd, stamp, &rc);
			if (rc != rc0 || memcmp(&out, &out0, sizeof(out)) != 0) {
				T_FAILF("after the replacement, command %u (type %#x) answers "
					"differently on engine %d: %d vs %d",
					i, cmd.hdr.type, k, rc, rc0);
			}
		}
		eng_world_learn(w, &out0);
	}
	uint64_t h0 = cairn__engine_hash(es[0]->e);
	for (int k = 1; k < n_es; k++) {
		ASSERT_UEQ(cairn__engine_hash(es[k]->e), h0);
	}
}

/* An id of img that d holds now, in the same hunt, with the same id; its kind. */
static uint32_t kept_entity(const struct eng *d, uint32_t hunt, const struct himg *img,
			    uint8_t *kind)
{
	uint8_t *now;
	size_t len;
	save_hunt(d, hunt, &now, &len);
	struct himg h;
	himg_parse(now, len, &h);
	uint32_t found = 0;
	for (uint32_t k = 0; k < img->n && !found; k++) {
		if (himg_find(&h, img->ents[k].id)) {
			found = img->ents[k].id;
			*kind = img->ents[k].kind;
		}
	}
	himg_free(&h);
	free(now);
	return found;
}

static void hostile(struct eng *t, uint32_t hunt, const uint8_t *img, size_t len)
{
	uint8_t *pre;
	size_t pre_len;
	save_hunt(t, hunt, &pre, &pre_len);
	uint8_t *buf = malloc(len + 64);
	ASSERT_TRUE(buf != NULL);

	/* Every truncation, and a byte too many. */
	for (size_t n = 0; n < len; n++) {
		memcpy(buf, img, n);
		refuse(t, hunt, buf, n, CAIRN_E_BAD_SNAPSHOT, n % 97 == 0, "truncated image");
	}
	memcpy(buf, img, len);
	buf[len] = 0;
	refuse(t, hunt, buf, len + 1, CAIRN_E_BAD_SNAPSHOT, true, "a byte too many");

	/* Slots beyond the engine, and beyond its high mark. */
	struct himg h;
	himg_parse(img, len, &h);
	ASSERT_TRUE(h.n > 0);
	size_t last = HDR + HUNT_REC + 4 + (size_t)(h.n - 1) * ENT_REC;
	memcpy(buf, img, len);
	wr32(buf + last, 0xFFFFFFFEu);
	refuse(t, hunt, buf, len, CAIRN_E_TOO_MANY_ENTITIES, true, "a slot beyond the engine");
	wr32(buf + last, 0xFF000000u | 4000u);
	refuse(t, hunt, buf, len, CAIRN_E_BAD_SNAPSHOT, true, "a slot above the high mark");
	himg_free(&h);

	/* Every byte with one bit flipped. */
	uint64_t refused = 0, accepted = 0;
	for (size_t i = 0; i < len; i++) {
		memcpy(buf, img, len);
		buf[i] ^= (uint8_t)(1u << (i % 8));
		struct before b;
		before_take(t, &b);
		int rc = cairn__engine_hunt_replace(t->e, hunt, buf, len, 9, NULL, NULL);
		if (rc < 0) {
			if (rc != -CAIRN_E_BAD_SNAPSHOT && rc != -CAIRN_E_UNKNOWN_HUNT &&
			    rc != -CAIRN_E_ROLLBACK_CONFLICT && rc != -CAIRN_E_TOO_MANY_ENTITIES) {
				T_FAILF("bit flip at %zu: unexpected %d (%s)", i, rc,
					cairn_strerror(rc));
			}
			before_check(t, &b, "bit flip", i);
			refused++;
			continue;
		}
		/* Everything up to the entity count names the hunt and its layout. */
		if (i < HDR + HUNT_REC + 4) {
			T_FAILF("bit flip at %zu (header) accepted", i);
		}
		accepted++;
		assert_hunt_is(t, hunt, buf, len, "accepted bit flip");
		if (accepted % 16 == 1) {
			check_grid(t, "accepted bit flip");
		}
		ASSERT_OK(cairn__engine_hunt_replace(t->e, hunt, pre, pre_len, 0, NULL, NULL));
	}
	printf("hostile images: %zu truncations refused; bit flips: %" PRIu64 " refused, %" PRIu64
	       " accepted as well-formed images\n",
	       len, refused, accepted);
	ASSERT_GT(refused, len / 4);
	check_grid(t, "after the bit flips");
	free(buf);
	free(pre);
}

static void stream(void)
{
	struct cairn__engine_config cfg, cfg2;
	stream_config(&cfg);
	other_config(&cfg2);
	struct eng a;
	eng_open(&a, &cfg, true);
	struct eng_world w;
	eng_world_init(&w, 20260318, 20);
	world_widen(&w);

	for (uint32_t i = 0; i < PHASE1; i++) {
		uint64_t stamp;
		struct cairn_msg cmd = eng_world_next(&w, &stamp);
		cmd.hdr.request_id = i + 1;
		int rc;
		struct cairn_msg out = apply_at(&a, cmd, stamp, &rc);
		eng_world_learn(&w, &out);
	}
	check_grid(&a, "after phase 1");

	/* The hunt with the most players and clues. */
	uint32_t hunt = 0, best = 0;
	for (uint32_t i = 0; i < w.n_hunts; i++) {
		uint32_t n = 0;
		for (uint32_t k = 0; k < w.n_players; k++) {
			n += w.players[k].hunt == w.hunts[i].id;
		}
		for (uint32_t k = 0; k < w.n_clues; k++) {
			n += w.clues[k].hunt == w.hunts[i].id;
		}
		if (n > best) {
			best = n;
			hunt = w.hunts[i].id;
		}
	}
	ASSERT_GT(best, 20);
	for (int k = 0; k < 5; k++) {
		ASSERT_TRUE(inject_claim(&a, &w, hunt, w.now));
	}
	uint8_t *img;
	size_t len;
	save_hunt(&a, hunt, &img, &len);
	struct himg hv;
	himg_parse(img, len, &hv);
	ASSERT_GT(hv.players, 0);
	ASSERT_GT(hv.clues, 0);
	ASSERT_GE(hv.claimed, 5);
	uint64_t lsn = cairn__engine_applied(a.e);

	struct stats st;
	memset(&st, 0, sizeof(st));
	protected_stream(&a, &w, hunt, PHASE2, &st);
	printf("hunt %#x: %u players and %u clues (%u claimed) in its image; then %" PRIu64
	       " leaves, %" PRIu64 " clue removals (each slot taken back: %" PRIu64 "), %" PRIu64
	       " joins, %" PRIu64 " moves, %" PRIu64 " claims; other hunts took %" PRIu64
	       " reused slots\n",
	       hunt, hv.players, hv.clues, hv.claimed, st.leaves, st.removals, st.retakes, st.joins,
	       st.moves, st.claims, st.reused_by_others);
	ASSERT_GT(st.leaves, 0);
	ASSERT_GT(st.removals, 0);
	ASSERT_GT(st.moves, 100);
	ASSERT_GT(st.claims, 10);
	ASSERT_GT(st.reused_by_others, 0);
	check_grid(&a, "after phase 2");

	/* The state just before, and every other hunt's image. */
	uint8_t *whole;
	size_t whole_len;
	ASSERT_OK(cairn__engine_save(a.e, &whole, &whole_len));
	uint8_t *others[ENG_WORLD_HUNTS];
	size_t others_len[ENG_WORLD_HUNTS];
	for (uint32_t i = 0; i < w.n_hunts; i++) {
		others[i] = NULL;
		if (w.hunts[i].id != hunt) {
			save_hunt(&a, w.hunts[i].id, &others[i], &others_len[i]);
		}
	}
	uint8_t *now;
	size_t now_len;
	save_hunt(&a, hunt, &now, &now_len);
	ASSERT_TRUE(!same_bytes(now, now_len, img, len));
	free(now);

	replace_ok(&a, hunt, img, len, lsn, "stream");
	for (uint32_t i = 0; i < w.n_hunts; i++) {
		if (others[i]) {
			assert_hunt_is(&a, w.hunts[i].id, others[i], others_len[i],
				       "another hunt after the replacement");
			free(others[i]);
		}
	}

	/* Engines restored from the state just before reach the same bytes. */
	struct eng b, c;
	open_restored(&b, &cfg, whole, whole_len);
	open_restored(&c, &cfg2, whole, whole_len);
	replace_ok(&b, hunt, img, len, lsn, "stream, restored engine");
	replace_ok(&c, hunt, img, len, lsn, "stream, restored engine of other capacities");
	uint8_t *sa, *sb, *sc;
	size_t la, lb, lc;
	ASSERT_OK(cairn__engine_save(a.e, &sa, &la));
	ASSERT_OK(cairn__engine_save(b.e, &sb, &lb));
	ASSERT_OK(cairn__engine_save(c.e, &sc, &lc));
	ASSERT_TRUE(same_bytes(sa, la, sb, lb));
	ASSERT_TRUE(same_bytes(sa, la, sc, lc));
	ASSERT_UEQ(cairn__engine_hash(a.e), cairn__engine_hash(b.e));
	ASSERT_UEQ(cairn__engine_hash(a.e), cairn__engine_hash(c.e));
	free(sa);
	free(sb);
	free(sc);

	/* And then answer a common continuation alike. */
	world_resync(&w, hunt, &hv);
	struct eng *es[3] = {&a, &b, &c};
	common_stream(es, 3, &w, PHASE3);
	check_grid(&a, "after phase 3");
	check_grid(&b, "after phase 3, restored engine");
	check_grid(&c, "after phase 3, restored engine of other capacities");

	/*
	 * A conflict: from the state before the replacement, an entity of the image leaves
	 * and another hunt's player takes its slot.
	 */
	struct eng d;
	open_restored(&d, &cfg, whole, whole_len);
	uint8_t kind = 0;
	uint32_t victim = kept_entity(&d, hunt, &hv, &kind);
	ASSERT_NE(victim, 0);
	int rc;
	struct cairn_msg cmd = kind == CAIRN_ENTITY_PLAYER ? eng_leave(hunt, victim)
							   : eng_clue_remove(hunt, victim);
	apply_at(&d, cmd, w.now, &rc);
	ASSERT_EQ(rc, 0);
	uint32_t thief_hunt = 0;
	for (uint32_t i = 0; i < w.n_hunts && !thief_hunt; i++) {
		thief_hunt = w.hunts[i].id != hunt ? w.hunts[i].id : 0;
	}
	ASSERT_NE(thief_hunt, 0);
	int32_t x, y;
	ASSERT_TRUE(eng_world_pos(&w, world_hunt_of(&w, thief_hunt), false, &x, &y));
	struct cairn_msg out = apply_at(&d, eng_join(thief_hunt, x, y), w.now, &rc);
	ASSERT_EQ(rc, 0);
	ASSERT_UEQ(rd32(out.payload) & SLOT_MASK, victim & SLOT_MASK);
	refuse(&d, hunt, img, len, CAIRN_E_ROLLBACK_CONFLICT, true, "conflict");
	check_grid(&d, "after a conflict");
	/* Once the other hunt lets the slot go, the replacement goes through. */
	apply_at(&d, eng_leave(thief_hunt, rd32(out.payload)), w.now, &rc);
	ASSERT_EQ(rc, 0);
	replace_ok(&d, hunt, img, len, lsn, "after the conflict is gone");

	/* Hostile images, on the state before the replacement. */
	struct eng e;
	open_restored(&e, &cfg, whole, whole_len);
	hostile(&e, hunt, img, len);

	himg_free(&hv);
	free(img);
	free(whole);
	eng_world_fini(&w);
	eng_close(&a);
	eng_close(&b);
	eng_close(&c);
	eng_close(&d);
	eng_close(&e);
}

/* ---- A hunt that had the same id earlier ---- */

static void reincarnation(void)
{
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	cfg.max_hunts = 1;
	struct eng t;
	eng_open(&t, &cfg, true);
	uint32_t first = ENG_HUNT(&t, S, 0, 0, 0);
	ENG_JOIN(&t, first, MID(0), MID(0));
	uint8_t *img;
	size_t len;
	save_hunt(&t, first, &img, &len);
	ENG_OK(&t, eng_hunt_destroy(first));
	/* Generations run 1..255: the 256th hunt of this slot has the first one's id. */
	uint32_t h = 0;
	for (int i = 2; i <= 256; i++) {
		h = ENG_HUNT(&t, S, 0, 0, 0);
		if (i < 256) {
			ASSERT_NE(h, first);
			ENG_OK(&t, eng_hunt_destroy(h));
		}
	}
	ASSERT_UEQ(h, first);
	refuse(&t, h, img, len, CAIRN_E_UNKNOWN_HUNT, true, "an earlier hunt of the same id");
	ENG_OK(&t, eng_hunt_destroy(h));
	refuse(&t, h, img, len, CAIRN_E_UNKNOWN_HUNT, true, "a destroyed hunt");
	free(img);
	eng_close(&t);
}

int main(void)
{
	scripted();
	reincarnation();
	stream();
	return 0;
}
