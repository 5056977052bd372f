/*
 * Restoring an untrusted image: every truncation of a small image and every single-byte
 * corruption of it is either refused with -CAIRN_E_BAD_SNAPSHOT, leaving the engine
 * empty (its hash a fresh engine's, nothing left in the grid region) and usable, or
 * accepted as a consistent state that saves back to the same bytes and takes commands.
 * Images made with other maps, or holding more than the engine can, are refused; an
 * engine that has applied something refuses any image with -EBUSY.
 */
#include <errno.h>
#include <sys/mman.h>

#include "eng.h"

#define S      ENG_MAP_SMALL
#define D      ENG_MAP_DEFAULT
#define MID(c) ((int32_t)(c)*1000 + 500)

static void small_config(struct cairn__engine_config *cfg)
{
	eng_config(cfg);
	cfg->max_hunts = 8;
	cfg->max_entities = 64;
	cfg->shards_per_hunt = 2;
	cfg->event_capacity = 64;
}

/* Hunts on both maps, one destroyed; players that moved and claimed; clues removed. */
static void build_image(uint8_t **img, size_t *len, uint32_t hunts[3])
{
	struct eng t;
	struct cairn__engine_config cfg;
	small_config(&cfg);
	eng_open(&t, &cfg, false);
	uint32_t h0 = ENG_HUNT(&t, S, 0, 2000, 0);
	uint32_t gone = ENG_HUNT(&t, D, 0, 0, 0);
	uint32_t h1 = ENG_HUNT(&t, D, 40, 0, 500);
	uint32_t h2 = ENG_HUNT(&t, S, 0, 0, 250);
	ENG_JOIN(&t, gone, MID(1), MID(3));
	ENG_CLUE(&t, gone, MID(2), MID(3), 3);
	uint32_t p[6];
	for (int i = 0; i < 3; i++) {
		p[i] = ENG_JOIN(&t, h0, MID(i), MID(15));
		p[3 + i] = ENG_JOIN(&t, h1, 30500 + 500 * i, 33000);
	}
	ENG_CLUE(&t, h0, MID(1), MID(16), 7);
	ENG_CLUE(&t, h0, MID(20), MID(18), -2);
	ENG_CLUE(&t, h1, 31000, 34000, 11);
	uint32_t c3 = ENG_CLUE(&t, h1, 31500, 34000, 1);
	ENG_CLUE(&t, h2, 5000, 4000, 5);
	ENG_JOIN(&t, h2, 3000, 4000);
	ENG_OK(&t, eng_hunt_destroy(gone));
	t.now += 10000000000ull; /* h0's players may move 20 m now */
	ASSERT_EQ(ENG_MOVE(&t, h0, p[1], MID(1), MID(16)).outcome, CAIRN_CLAIM_WON);
	ASSERT_EQ(ENG_MOVE(&t, h1, p[4], 31000, 34000).outcome, CAIRN_CLAIM_WON);
	ASSERT_EQ(ENG_MOVE(&t, h1, p[5], 31500, 34010).outcome, CAIRN_CLAIM_WON);
	ENG_OK(&t, eng_clue_remove(h1, c3));
	ENG_OK(&t, eng_leave(h0, p[2]));
	ENG_JOIN(&t, h0, MID(5), MID(15)); /* reuses p[2]'s slot */
	ASSERT_OK(cairn__engine_save(t.e, img, len));
	hunts[0] = h0;
	hunts[1] = h1;
	hunts[2] = h2;
	eng_close(&t);
}

/* Where the records of an image are (see the layout at the top of src/engine/image.c). */
struct layout {
	size_t body;    /* start of the body */
	size_t hunt[8]; /* a live hunt's record, after gen and live */
	size_t n_hunts;
	size_t ent[64]; /* a live entity's record, after gen and live */
	size_t n_ents;
	size_t hunt_hwm; /* the hunt high mark */
	size_t ent_hwm;  /* the entity high mark */
	uint32_t hunts_hwm, ents_hwm;
};

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void walk(const uint8_t *img, size_t len, struct layout *l)
{
	memset(l, 0, sizeof(*l));
	size_t at = 16 + 8 * (size_t)rd32(img + 12);
	l->body = at;
	at += 8;
	l->hunt_hwm = at;
	l->hunts_hwm = rd32(img + at);
	at += 4;
	for (uint32_t i = 0; i < l->hunts_hwm; i++) {
		bool live = img[at + 1];
		at += 2;
		if (live) {
			l->hunt[l->n_hunts++] = at;
			at += 40;
		}
	}
	at += 4 + 4 * (size_t)rd32(img + at);
	l->ent_hwm = at;
	l->ents_hwm = rd32(img + at);
	at += 4;
	for (uint32_t i = 0; i < l->ents_hwm; i++) {
		bool live = img[at + 1];
		at += 2;
		if (live) {
			l->ent[l->n_ents++] = at;
			at += 46;
		}
	}
	at += 4 + 4 * (size_t)rd32(img + at);
	ASSERT_UEQ(at, len);
}

/* An engine on grid memory of the test's own, so that the grid can be inspected. */
struct box {
	struct cairn__engine_config cfg;
	uint8_t *grid;
	size_t grid_size;
	struct cairn__engine *e;
};

static void box_open(struct box *b, const struct cairn__engine_config *cfg)
{
	b->cfg = *cfg;
	b->grid_size = cairn__engine_grid_size(cfg);
	void *g = mmap(NULL, b->grid_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_TRUE(g != MAP_FAILED);
	b->grid = g;
	ASSERT_OK(cairn__engine_new(cfg, b->grid, NULL, NULL, &b->e));
}

static void box_close(struct box *b)
{
	cairn__engine_free(b->e);
	munmap(b->grid, b->grid_size);
}

static uint64_t empty_hash;

/*
 * The engine is empty: the hash of a fresh engine, nothing applied, and nothing left in
 * the grid region's directory, entity table or gauges.
 */
static void assert_empty(const struct box *b, const char *what, size_t at)
{
	if (cairn__engine_hash(b->e) != empty_hash || cairn__engine_applied(b->e) != 0) {
		T_FAILF("%s at %zu: the engine is not empty after a failed restore", what, at);
	}
	const struct cairn_grid_header *gh = (const void *)b->grid;
	if (gh->hunts || gh->entities || gh->entities_hwm || gh->heap_used || gh->applied) {
		T_FAILF("%s at %zu: grid gauges %u hunts, %u entities, hwm %u, heap %llu, applied "
			"%llu",
			what, at, gh->hunts, gh->entities, gh->entities_hwm,
			(unsigned long long)gh->heap_used, (unsigned long long)gh->applied);
	}
	const struct cairn_hunt_info *hi = (const void *)(b->grid + gh->hunts_offset);
	for (uint32_t i = 0; i < b->cfg.max_hunts; i++) {
		const uint8_t *p = (const uint8_t *)&hi[i];
		for (size_t k = 8; k < sizeof(hi[i]); k++) {
			if (p[k] != 0) {
				T_FAILF("%s at %zu: hunt_info %u left behind", what, at, i);
			}
		}
		if (hi[i].seq & 1) {
			T_FAILF("%s at %zu: hunt_info %u left mid-write", what, at, i);
		}
	}
	const uint8_t *ents = b->grid + gh->entities_offset;
	for (size_t k = 0; k < (size_t)b->cfg.max_entities * sizeof(struct cairn_entity); k++) {
		if (ents[k] != 0) {
			T_FAILF("%s at %zu: entity %zu left behind in the grid", what, at,
				k / sizeof(struct cairn_entity));
		}
	}
}

/* Commands work on an engine: a hunt, a player, a clue, a claim. */
static void assert_usable(struct box *b)
{
	uint8_t arena[256];
	struct cairn__blob blob = {.base = arena, .size = sizeof(arena)};
	struct cairn_msg out, cmd = eng_hunt_create(S, 0, 0, 0);
	ASSERT_EQ(cairn__engine_apply(b->e, &cmd, 1, &blob, &out), 0);
	uint32_t h = ((const struct cairn_hunt_created *)out.payload)->hunt_id;
	cmd = eng_join(h, MID(0), MID(0));
	ASSERT_EQ(cairn__engine_apply(b->e, &cmd, 2, &blob, &out), 0);
	uint32_t p = ((const struct cairn_joined *)out.payload)->player_id;
	cmd = eng_clue_place(h, MID(1), MID(0), 4);
	ASSERT_EQ(cairn__engine_apply(b->e, &cmd, 3, &blob, &out), 0);
	cmd = eng_move(h, p, MID(1), MID(0));
	ASSERT_EQ(cairn__engine_apply(b->e, &cmd, 4, &blob, &out), 0);
	ASSERT_EQ(((const struct cairn_moved *)out.payload)->outcome, CAIRN_CLAIM_WON);
	(void)cairn__engine_hash(b->e);
}

/*
 * An accepted image: it saves back to the same body (the image is canonical), and
 * every hunt it holds takes queries, moves, new players and clues, removals and its
 * destruction.
 */
static void assert_consistent(struct box *b, const uint8_t *img, size_t len, bool header_same)
{
	uint8_t *again;
	size_t alen;
	ASSERT_OK(cairn__engine_save(b->e, &again, &alen));
	ASSERT_UEQ(alen, len);
	struct layout l;
	walk(img, len, &l);
	ASSERT_EQ(memcmp(again + l.body, img + l.body, len - l.body), 0);
	if (header_same) {
		ASSERT_EQ(memcmp(again, img, l.body), 0);
	}
	free(again);
	uint64_t h0 = cairn__engine_hash(b->e);
	static uint8_t arena[1024 * 24];
	struct cairn__blob blob = {.base = arena, .size = sizeof(arena)};
	struct cairn_msg out, cmd = eng_state_hash();
	ASSERT_EQ(cairn__engine_apply(b->e, &cmd, 0, &blob, &out), 0);
	ASSERT_UEQ(((const struct cairn_state_hash_reply *)out.payload)->hash, h0);
	uint64_t now = 1ull << 62;
	for (size_t i = 0; i < l.n_hunts; i++) {
		/* Hunt i is the i-th live slot; its id is its slot and generation. */
		size_t rec = l.hunt[i];
		uint32_t slot = 0;
		for (size_t at = l.hunt_hwm + 4, s = 0;; s++) {
			if (at + 2 == rec) {
				slot = (uint32_t)s;
				break;
			}
			at += 2 + (img[at + 1] ? 40 : 0);
		}
		uint32_t h = ((uint32_t)img[rec - 2] << 24) | slot;
		cmd = eng_leaderboard(h, 1024, 0, sizeof(arena));
		ASSERT_EQ(cairn__engine_apply(b->e, &cmd, now++, &blob, &out), 0);
		uint32_t np = ((const struct cairn_query_reply *)out.payload)->count;
		static struct cairn_hit players[1024];
		memcpy(players, arena, np * sizeof(players[0]));
		cmd = eng_nearest(h, 0, 0, 1024, 0, sizeof(arena), 1);
		ASSERT_EQ(cairn__engine_apply(b->e, &cmd, now++, &blob, &out), 0);
		uint32_t nc = ((const struct cairn_query_reply *)out.payload)->count;
		static struct cairn_hit clues[1024];
		memcpy(clues, arena, nc * sizeof(clues[0]));
		for (uint32_t k = 0; k < np; k++) {
			cmd = eng_players_near(h, players[k].x, players[k].y, 0, 1024, 0,
					       sizeof(arena));
			ASSERT_EQ(cairn__engine_apply(b->e, &cmd, now++, &blob, &out), 0);
			ASSERT_GE(((const struct cairn_query_reply *)out.payload)->count, 1);
			cmd = eng_player_state(h, players[k].id);
			ASSERT_EQ(cairn__engine_apply(b->e, &cmd, now++, &blob, &out), 0);
			/* Onto a clue when there is one (a claim), else stay put. */
			int32_t x = players[k].x, y = players[k].y;
			if (k < nc) {
				x = clues[k].x;
				y = clues[k].y;
			}
			cmd = eng_move(h, players[k].id, x, y);
			int rc = cairn__engine_apply(b->e, &cmd, now++, &blob, &out);
			ASSERT_TRUE(rc == 0 || rc == -CAIRN_E_TOO_FAST);
		}
		for (uint32_t k = 0; k < nc; k += 2) {
			cmd = eng_clue_remove(h, clues[k].id);
			ASSERT_EQ(cairn__engine_apply(b->e, &cmd, now++, &blob, &out), 0);
		}
		if (np > 1) {
			cmd = eng_leave(h, players[0].id);
			ASSERT_EQ(cairn__engine_apply(b->e, &cmd, now++, &blob, &out), 0);
		}
		cmd = eng_join(h, 0, 0);
		(void)cairn__engine_apply(b->e, &cmd, now++, &blob, &out);
		if (i % 2 == 0) {
			cmd = eng_hunt_destroy(h);
			ASSERT_EQ(cairn__engine_apply(b->e, &cmd, now++, &blob, &out), 0);
		}
	}
	assert_usable(b);
}

static void test_truncations(const uint8_t *img, size_t len)
{
	struct cairn__engine_config cfg;
	small_config(&cfg);
	struct box b;
	box_open(&b, &cfg);
	/* One engine for all: a failed restore leaves it empty, ready for the next. */
	for (size_t n = 0; n < len; n++) {
		int rc = cairn__engine_restore(b.e, img, n);
		if (rc != -CAIRN_E_BAD_SNAPSHOT) {
			T_FAILF("truncated to %zu of %zu bytes: %d", n, len, rc);
		}
		assert_empty(&b, "truncation", n);
	}
	/* A byte too many. */
	uint8_t *more = malloc(len + 1);
	memcpy(more, img, len);
	more[len] = 0;
	ASSERT_EQ(cairn__engine_restore(b.e, more, len + 1), -CAIRN_E_BAD_SNAPSHOT);
	assert_empty(&b, "a byte too many", len);
	free(more);
	/* And then the whole image. */
	ASSERT_OK(cairn__engine_restore(b.e, img, len));
	assert_consistent(&b, img, len, true);
	box_close(&b);
}

static void test_corruptions(const uint8_t *img, size_t len)
{
	struct cairn__engine_config cfg;
	small_config(&cfg);
	struct layout l;
	walk(img, len, &l);
	uint8_t *bad = malloc(len);
	size_t refused = 0, accepted = 0;
	struct box b;
	box_open(&b, &cfg);
	for (size_t at = 0; at < len; at++) {
		uint8_t vals[12];
		int nv = 0;
		for (int bit = 0; bit < 8; bit++) {
			vals[nv++] = (uint8_t)(img[at] ^ (1u << bit));
		}
		vals[nv++] = (uint8_t)(img[at] + 1);
		vals[nv++] = (uint8_t)(img[at] - 1);
		vals[nv++] = 0;
		vals[nv++] = 0xff;
		for (int v = 0; v < nv; v++) {
			if (vals[v] == img[at]) {
				continue;
			}
			memcpy(bad, img, len);
			bad[at] = vals[v];
			int rc = cairn__engine_restore(b.e, bad, len);
			if (rc == -CAIRN_E_BAD_SNAPSHOT) {
				refused++;
				assert_empty(&b, "corruption", at);
				continue;
			}
			if (rc != 0) {
				T_FAILF("byte %zu set to 0x%02x: %d", at, vals[v], rc);
			}
			accepted++;
			assert_consistent(&b, bad, len, at < 16 || at >= l.body);
			box_close(&b);
			box_open(&b, &cfg);
		}
	}
	printf("corruptions of %zu bytes: %zu refused, %zu accepted as another state\n", len,
	       refused, accepted);
	ASSERT_GT(refused, len);
	assert_usable(&b);
	box_close(&b);
	free(bad);
}

/*
 * The two failures only the second pass of a restore can see (the first checks the
 * image, the second builds the engine): an entity naming its hunt's slot with another
 * generation, and an entity on a cell its hunt's map blocks. The half-built engine
 * must be put back to empty, grid region included.
 */
static void test_late_failures(const uint8_t *img, size_t len)
{
	struct cairn__engine_config cfg;
	small_config(&cfg);
	struct layout l;
	walk(img, len, &l);
	uint8_t *bad = malloc(len);
	for (size_t e = 0; e < l.n_ents; e++) {
		for (int which = 0; which < 3; which++) {
			memcpy(bad, img, len);
			size_t rec = l.ent[e];
			switch (which) {
			case 0:
				bad[rec + 2 + 3]++; /* the generation byte of hunt_id */
				break;
			case 1: { /* (0, 0): a wall on the default map, open on the small one */
				uint32_t x = 0, y = 0;
				memcpy(bad + rec + 6, &x, 4);
				memcpy(bad + rec + 10, &y, 4);
				break;
			}
			default: { /* off the map */
				int32_t x = -5;
				memcpy(bad + rec + 6, &x, 4);
				break;
			}
			}
			struct box b;
			box_open(&b, &cfg);
			int rc = cairn__engine_restore(b.e, bad, len);
			if (which == 1 && rc == 0) {
				/* (0, 0) is passable on the small map: accepted, consistently. */
				assert_consistent(&b, bad, len, true);
				box_close(&b);
				continue;
			}
			if (rc != -CAIRN_E_BAD_SNAPSHOT) {
				T_FAILF("entity %zu, corruption %d: %d", e, which, rc);
			}
			assert_empty(&b, "late failure of entity", e);
			assert_usable(&b);
			box_close(&b);
		}
	}
	free(bad);
}

static void test_other_engines(const uint8_t *img, size_t len, const uint32_t hunts[3])
{
	struct cairn__engine_config cfg;
	struct layout l;
	walk(img, len, &l);
	struct box b;

	/* The maps in the other order: every hunt names a map with another hash. */
	const struct cairn__map *swapped[2] = {eng_maps()[D], eng_maps()[S]};
	small_config(&cfg);
	cfg.maps = swapped;
	box_open(&b, &cfg);
	ASSERT_EQ(cairn__engine_restore(b.e, img, len), -CAIRN_E_BAD_SNAPSHOT);
	assert_empty(&b, "swapped maps", 0);
	box_close(&b);

	/* Only the first map. */
	small_config(&cfg);
	cfg.n_maps = 1;
	box_open(&b, &cfg);
	ASSERT_EQ(cairn__engine_restore(b.e, img, len), -CAIRN_E_BAD_SNAPSHOT);
	box_close(&b);

	/* The small map with one cell changed. */
	char *text = strdup(eng_small_map);
	char *row = strstr(text, "map\n") + 4;
	row[0] = '@';
	struct cairn__map *changed;
	ASSERT_OK(cairn__map_parse(text, strlen(text), "small", &changed, NULL));
	free(text);
	const struct cairn__map *other[2] = {changed, eng_maps()[D]};
	small_config(&cfg);
	cfg.maps = other;
	box_open(&b, &cfg);
	ASSERT_EQ(cairn__engine_restore(b.e, img, len), -CAIRN_E_BAD_SNAPSHOT);
	assert_empty(&b, "a changed map", 0);
	box_close(&b);
	cairn__map_free(changed);

	/* A third map beside the two: fine. */
	struct cairn__map *third;
	ASSERT_OK(cairn__map_default(&third));
	const struct cairn__map *three[3] = {eng_maps()[S], eng_maps()[D], third};
	small_config(&cfg);
	cfg.maps = three;
	cfg.n_maps = 3;
	box_open(&b, &cfg);
	ASSERT_OK(cairn__engine_restore(b.e, img, len));
	box_close(&b);
	cairn__map_free(third);

	/* Capacities: the high marks must fit, not only what is alive. */
	small_config(&cfg);
	cfg.max_entities = l.ents_hwm - 1;
	box_open(&b, &cfg);
	ASSERT_EQ(cairn__engine_restore(b.e, img, len), -CAIRN_E_BAD_SNAPSHOT);
	assert_empty(&b, "too many entities", 0);
	box_close(&b);
	cfg.max_entities = l.ents_hwm;
	box_open(&b, &cfg);
	ASSERT_OK(cairn__engine_restore(b.e, img, len));
	assert_consistent(&b, img, len, true);
	box_close(&b);

	small_config(&cfg);
	cfg.max_hunts = l.hunts_hwm - 1;
	box_open(&b, &cfg);
	ASSERT_EQ(cairn__engine_restore(b.e, img, len), -CAIRN_E_BAD_SNAPSHOT);
	box_close(&b);
	cfg.max_hunts = l.hunts_hwm;
	box_open(&b, &cfg);
	ASSERT_OK(cairn__engine_restore(b.e, img, len));
	box_close(&b);

	/* Not empty: -EBUSY, and nothing changes. */
	small_config(&cfg);
	box_open(&b, &cfg);
	struct cairn_msg out, cmd = eng_hunt_create(S, 0, 0, 0);
	ASSERT_EQ(cairn__engine_apply(b.e, &cmd, 1, NULL, &out), 0);
	uint64_t h = cairn__engine_hash(b.e);
	ASSERT_EQ(cairn__engine_restore(b.e, img, len), -EBUSY);
	ASSERT_UEQ(cairn__engine_hash(b.e), h);
	cmd = eng_hunt_destroy(((const struct cairn_hunt_created *)out.payload)->hunt_id);
	ASSERT_EQ(cairn__engine_apply(b.e, &cmd, 2, NULL, &out), 0);
	ASSERT_EQ(cairn__engine_restore(b.e, img, len), -EBUSY); /* empty again, but not new */
	box_close(&b);
	box_open(&b, &cfg);
	ASSERT_OK(cairn__engine_restore(b.e, img, len));
	ASSERT_EQ(cairn__engine_restore(b.e, img, len), -EBUSY);
	/* The restored hunts are the saved ones, ids and all. */
	for (int i = 0; i < 3; i++) {
		cmd = eng_leaderboard(hunts[i], 1, 0, 24);
		uint8_t arena[24];
		struct cairn__blob blob = {.base = arena, .size = sizeof(arena)};
		ASSERT_EQ(cairn__engine_apply(b.e, &cmd, 3, &blob, &out), 0);
	}
	box_close(&b);

	/* An engine that only answered queries and rejected commands may still restore. */
	box_open(&b, &cfg);
	cmd = eng_state_hash();
	ASSERT_EQ(cairn__engine_apply(b.e, &cmd, 1, NULL, &out), 0);
	cmd = eng_join(12345, 0, 0);
	ASSERT_EQ(cairn__engine_apply(b.e, &cmd, 1, NULL, &out), -CAIRN_E_UNKNOWN_HUNT);
	ASSERT_OK(cairn__engine_restore(b.e, img, len));
	box_close(&b);

	/* An empty engine's image restores to an empty engine, and again. */
	box_open(&b, &cfg);
	uint8_t *e0;
	size_t e0len;
	ASSERT_OK(cairn__engine_save(b.e, &e0, &e0len));
	ASSERT_OK(cairn__engine_restore(b.e, e0, e0len));
	ASSERT_OK(cairn__engine_restore(b.e, e0, e0len));
	assert_empty(&b, "an empty image", 0);
	free(e0);
	box_close(&b);
}

int main(void)
{
	struct cairn__engine_config cfg;
	small_config(&cfg);
	struct cairn__engine *fresh;
	ASSERT_OK(cairn__engine_new(&cfg, NULL, NULL, NULL, &fresh));
	empty_hash = cairn__engine_hash(fresh);
	cairn__engine_free(fresh);

	uint8_t *img;
	size_t len;
	uint32_t hunts[3];
	build_image(&img, &len, hunts);
	struct layout l;
	walk(img, len, &l);
	ASSERT_EQ(l.n_hunts, 3);
	ASSERT_EQ(l.n_ents, 11);
	ASSERT_EQ(l.ents_hwm, 14);
	ASSERT_EQ(l.hunts_hwm, 4);

	test_other_engines(img, len, hunts);
	test_late_failures(img, len);
	test_truncations(img, len);
	test_corruptions(img, len);
	free(img);
	return T_PASS;
}
