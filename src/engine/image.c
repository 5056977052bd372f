/*
 * The engine's state as bytes: save, restore, and the state hash.
 *
 * The image is little-endian, field by field, and names nothing by address:
 *
 *   header  "CAIRNENG", u32 version, u32 n_maps, n_maps x u64 map hash
 *   body    u64 applied
 *           u32 hunt high mark; per slot below it: u8 gen, u8 live, and if live:
 *             u32 map_id, u64 map_hash, u32 cell_mm, u32 radius_mm, u32 speed_mm_s,
 *             u64 created_ns, u64 order
 *           u32 free hunt slots, then each (u32), bottom of the stack first
 *           u32 entity high mark; per slot: u8 gen, u8 live, and if live:
 *             u8 kind, u8 flags, u32 hunt_id, i32 x, i32 y, u32 claimed_by, u32 claims,
 *             i64 value, u64 stamp_ns, u64 order
 *           u32 free entity slots, then each (u32)
 *
 * The state hash is FNV-1a 64 over the body only, so that it does not depend on which
 * maps happen to be loaded beside the ones the hunts use. The free stacks are part of
 * the state: they decide the ids that later commands get.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

#define IMAGE_MAGIC   "CAIRNENG"
#define IMAGE_VERSION 1u

/*
 * One live hunt's record: u32 map_id, u64 map_hash, u32 cell_mm, u32 radius_mm,
 * u32 speed_mm_s, u64 created_ns, u64 order.
 */
void cairn__img_put_hunt(struct cairn__sink *s, const struct hunt *h)
{
	cairn__put32(s, h->map_id);
	cairn__put64(s, h->map->hash);
	cairn__put32(s, h->cell_mm);
	cairn__put32(s, h->radius_mm);
	cairn__put32(s, h->speed_mm_s);
	cairn__put64(s, h->created_ns);
	cairn__put64(s, h->order);
}

bool cairn__img_get_hunt(const struct cairn__engine *e, struct cairn__src *r, uint64_t applied,
			 struct hunt *h)
{
	memset(h, 0, sizeof(*h));
	h->map_id = cairn__get32(r);
	uint64_t map_hash = cairn__get64(r);
	h->cell_mm = cairn__get32(r);
	h->radius_mm = cairn__get32(r);
	h->speed_mm_s = cairn__get32(r);
	h->created_ns = cairn__get64(r);
	h->order = cairn__get64(r);
	if (r->bad || h->map_id >= e->cfg.n_maps || e->cfg.maps[h->map_id]->hash != map_hash ||
	    h->cell_mm < 1 || h->cell_mm > CAIRN_MAX_CELL_MM || h->radius_mm < 1 ||
	    h->radius_mm > (uint64_t)h->cell_mm * CAIRN_BLOCK_CELLS || h->order > applied) {
		return false;
	}
	h->map = e->cfg.maps[h->map_id];
	h->blocks_x = (h->map->width + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS;
	h->blocks_y = (h->map->height + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS;
	h->nshards = e->cfg.shards_per_hunt;
	h->limit_x = (int64_t)h->map->width * h->cell_mm;
	h->limit_y = (int64_t)h->map->height * h->cell_mm;
	return h->limit_x <= INT32_MAX && h->limit_y <= INT32_MAX;
}

/*
 * One live entity's record: u8 kind, u8 flags, u32 hunt_id, i32 x, i32 y, u32 claimed_by,
 * u32 claims, i64 value, u64 stamp_ns, u64 order.
 */
void cairn__img_put_entity(struct cairn__sink *s, const struct cairn_entity *en)
{
	cairn__put8(s, en->kind);
	cairn__put8(s, en->flags);
	cairn__put32(s, en->hunt_id);
	cairn__put32(s, (uint32_t)en->x);
	cairn__put32(s, (uint32_t)en->y);
	cairn__put32(s, en->claimed_by);
	cairn__put32(s, en->claims);
	cairn__put64(s, (uint64_t)en->value);
	cairn__put64(s, en->stamp_ns);
	cairn__put64(s, en->order);
}

bool cairn__img_get_entity(struct cairn__src *r, uint64_t applied, struct cairn_entity *v)
{
	v->kind = cairn__get8(r);
	v->flags = cairn__get8(r);
	v->hunt_id = cairn__get32(r);
	v->x = (int32_t)cairn__get32(r);
	v->y = (int32_t)cairn__get32(r);
	v->claimed_by = cairn__get32(r);
	v->claims = cairn__get32(r);
	v->value = (int64_t)cairn__get64(r);
	v->stamp_ns = cairn__get64(r);
	v->order = cairn__get64(r);
	return !r->bad && (v->kind == CAIRN_ENTITY_PLAYER || v->kind == CAIRN_ENTITY_CLUE) &&
	       (v->flags & ~CAIRN_FLAG_CLAIMED) == 0 &&
	       (v->kind == CAIRN_ENTITY_CLUE || v->flags == 0) && v->order <= applied;
}

static void write_image(const struct cairn__engine *e, struct cairn__sink *s)
{
	cairn__put(s, IMAGE_MAGIC, 8);
	cairn__put32(s, IMAGE_VERSION);
	cairn__put32(s, e->cfg.n_maps);
	for (uint32_t i = 0; i < e->cfg.n_maps; i++) {
		cairn__put64(s, e->cfg.maps[i]->hash);
	}
	s->hashing = true;
	cairn__put64(s, e->applied);
	const struct slots *hs = &e->hunt_slots;
	cairn__put32(s, hs->hwm);
	for (uint32_t i = 0; i < hs->hwm; i++) {
		cairn__put8(s, hs->gen[i]);
		cairn__put8(s, hs->live[i]);
		if (hs->live[i]) {
			cairn__img_put_hunt(s, &e->hunts[i]);
		}
	}
	cairn__put32(s, hs->nfree);
	for (uint32_t i = 0; i < hs->nfree; i++) {
		cairn__put32(s, hs->free[i]);
	}
	const struct slots *es = &e->ent_slots;
	cairn__put32(s, es->hwm);
	for (uint32_t i = 0; i < es->hwm; i++) {
		cairn__put8(s, es->gen[i]);
		cairn__put8(s, es->live[i]);
		if (es->live[i]) {
			cairn__img_put_entity(s, &e->ents[i]);
		}
	}
	cairn__put32(s, es->nfree);
	for (uint32_t i = 0; i < es->nfree; i++) {
		cairn__put32(s, es->free[i]);
	}
}

uint64_t cairn__engine_hash(const struct cairn__engine *e)
{
	struct cairn__sink s = {.keep = false, .hash = CAIRN__FNV_OFFSET};
	write_image(e, &s);
	return s.hash;
}

int cairn__engine_save(const struct cairn__engine *e, uint8_t **buf, size_t *len)
{
	struct cairn__sink s = {.keep = true, .hash = CAIRN__FNV_OFFSET};
	write_image(e, &s);
	if (s.oom) {
		free(s.buf);
		return -ENOMEM;
	}
	*buf = s.buf;
	*len = s.len;
	return 0;
}

/*
 * Reads a free stack of n slots below hwm: each must be a slot that is not live, and
 * every slot below hwm that is not live must be on it exactly once.
 */
static bool read_free(struct cairn__src *r, struct slots *s, uint32_t hwm, const uint8_t *live,
		      uint32_t nlive, uint8_t *seen, bool build)
{
	uint32_t n = cairn__get32(r);
	if (r->bad || n != hwm - nlive) {
		return false;
	}
	memset(seen, 0, hwm);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = cairn__get32(r);
		if (r->bad || slot >= hwm || live[slot] || seen[slot]) {
			return false;
		}
		seen[slot] = 1;
		if (build) {
			s->free[i] = slot;
		}
	}
	if (build) {
		s->nfree = n;
		s->hwm = hwm;
	}
	return true;
}

/* A live entity of the image, kept for the second half of the build. */
struct pending {
	uint64_t order;
	uint32_t slot;
};

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	if (x->order != y->order) {
		return x->order < y->order ? -1 : 1;
	}
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/*
 * Parses the image. With build false it only checks it; with build true (after a
 * successful check) it fills the engine. Returns false on any malformation.
 */
static bool parse(struct cairn__engine *e, const uint8_t *buf, size_t len, bool build,
		  uint8_t *hlive, uint8_t *elive, uint8_t *seen, struct pending *pend)
{
	struct cairn__src r = {.p = buf, .end = buf + len};
	char magic[8];
	cairn__get(&r, magic, 8);
	if (r.bad || memcmp(magic, IMAGE_MAGIC, 8) != 0 || cairn__get32(&r) != IMAGE_VERSION) {
		return false;
	}
	uint32_t n_maps = cairn__get32(&r);
	if (r.bad || n_maps > (size_t)(r.end - r.p) / 8) {
		return false;
	}
	for (uint32_t i = 0; i < n_maps; i++) {
		(void)cairn__get64(&r); /* informative: each hunt names its own map's hash */
	}
	uint64_t applied = cairn__get64(&r);

	/* Hunts. */
	uint32_t hwm = cairn__get32(&r);
	if (r.bad || hwm > e->cfg.max_hunts) {
		return false;
	}
	uint32_t nlive = 0;
	for (uint32_t i = 0; i < hwm; i++) {
		uint8_t gen = cairn__get8(&r), live = cairn__get8(&r);
		if (r.bad || live > 1 || gen == 0) {
			return false;
		}
		hlive[i] = live;
		if (!live) {
			if (build) {
				e->hunt_slots.gen[i] = gen;
			}
			continue;
		}
		nlive++;
		struct hunt h;
		if (!cairn__img_get_hunt(e, &r, applied, &h)) {
			return false;
		}
		if (build) {
			e->hunt_slots.gen[i] = gen;
			e->hunt_slots.live[i] = 1;
			e->hunts[i] = h;
			cairn__grid_hunt_alloc(e, &e->hunts[i], i);
		}
	}
	if (!read_free(&r, &e->hunt_slots, hwm, hlive, nlive, seen, build)) {
		return false;
	}

	/* Entities. */
	uint32_t ehwm = cairn__get32(&r);
	if (r.bad || ehwm > e->cfg.max_entities) {
		return false;
	}
	if (build) {
		/*
		 * The records below are written into the grid region as they are read; should
		 * one of them fail, reset() clears every record up to this mark.
		 */
		e->ent_slots.hwm = ehwm;
	}
	uint32_t elive_n = 0;
	for (uint32_t i = 0; i < ehwm; i++) {
		uint8_t gen = cairn__get8(&r), live = cairn__get8(&r);
		if (r.bad || live > 1 || gen == 0) {
			return false;
		}
		elive[i] = live;
		if (build) {
			e->ent_slots.gen[i] = gen;
		}
		if (!live) {
			continue;
		}
		struct cairn_entity v;
		memset(&v, 0, sizeof(v));
		v.id = make_id(i, gen);
		if (!cairn__img_get_entity(&r, applied, &v)) {
			return false;
		}
		uint32_t hs = id_slot(v.hunt_id);
		if (hs >= hwm || !hlive[hs]) {
			return false;
		}
		/* In the build pass the hunt slots are filled in: check the generation too. */
		struct hunt *h = build ? cairn__eng_hunt(e, v.hunt_id) : NULL;
		if (build && !h) {
			return false;
		}
		if (build) {
			if (cairn__eng_check_pos(h, v.x, v.y) < 0) {
				return false;
			}
			v.block = cairn__grid_block_of(h, v.x, v.y);
			e->ent_slots.live[i] = 1;
			cairn__grid_put(e, i, &v);
			pend[elive_n] = (struct pending){.order = v.order, .slot = i};
		}
		elive_n++;
	}
	if (!read_free(&r, &e->ent_slots, ehwm, elive, elive_n, seen, build)) {
		return false;
	}
	if (r.p != r.end) {
		return false;
	}
	if (!build) {
		return true;
	}

	/*
	 * Link the entities in the order they were created, so that every hunt's lists are
	 * in the same order as in the engine that saved the image (HUNT_DESTROY frees slots
	 * in list order, and that order decides later ids).
	 */
	qsort(pend, elive_n, sizeof(*pend), pending_cmp);
	for (uint32_t k = 0; k < elive_n; k++) {
		uint32_t i = pend[k].slot;
		struct cairn_entity *en = &e->ents[i];
		struct hunt *h = &e->hunts[id_slot(en->hunt_id)];
		struct wsection w = {.n = 0};
		cairn__ws_add(&w, shard_of(h, en->block));
		cairn__ws_begin(&w);
		cairn__grid_link(e, h, i);
		cairn__ws_end(&w);
		bool clue = en->kind == CAIRN_ENTITY_CLUE;
		cairn__hunt_list_add(e, h, i, clue);
		if (clue) {
			h->clues++;
			h->claimed += (en->flags & CAIRN_FLAG_CLAIMED) != 0;
		} else {
			h->players++;
		}
	}
	e->n_entities = elive_n;
	e->applied = applied;
	for (uint32_t i = 0; i < hwm; i++) {
		if (hlive[i]) {
			cairn__grid_publish_hunt(e, i, make_id(i, e->hunt_slots.gen[i]),
						 &e->hunts[i]);
		}
	}
	cairn__grid_update_header(e);
	return true;
}

/* Puts an engine whose build failed half-way back to empty. */
static void reset(struct cairn__engine *e)
{
	for (uint32_t i = 0; i < e->hunt_slots.hwm; i++) {
		if (e->hunt_slots.live[i]) {
			cairn__grid_clear_hunt(e, i);
		}
	}
	static const struct cairn_entity zero;
	for (uint32_t i = 0; i < e->ent_slots.hwm; i++) {
		cairn__grid_put(e, i, &zero);
	}
	memset(e->hunts, 0, (size_t)e->cfg.max_hunts * sizeof(*e->hunts));
	memset(e->links, 0, (size_t)e->cfg.max_entities * sizeof(*e->links));
	struct slots *ss[2] = {&e->hunt_slots, &e->ent_slots};
	for (int k = 0; k < 2; k++) {
		memset(ss[k]->gen, 0, ss[k]->max);
		memset(ss[k]->live, 0, ss[k]->max);
		ss[k]->hwm = ss[k]->nfree = 0;
	}
	e->heap_used = 0;
	e->n_entities = 0;
	e->applied = 0;
	cairn__grid_update_header(e);
}

int cairn__engine_restore(struct cairn__engine *e, const uint8_t *buf, size_t len)
{
	if (e->applied != 0 || e->hunt_slots.hwm != 0 || e->ent_slots.hwm != 0) {
		return -EBUSY;
	}
	uint8_t *hlive = calloc(e->cfg.max_hunts, 1);
	uint8_t *elive = calloc(e->cfg.max_entities, 1);
	uint32_t maxn =
		e->cfg.max_hunts > e->cfg.max_entities ? e->cfg.max_hunts : e->cfg.max_entities;
	uint8_t *seen = calloc(maxn, 1);
	struct pending *pend = calloc(e->cfg.max_entities, sizeof(*pend));
	int rc = -ENOMEM;
	if (hlive && elive && seen && pend) {
		rc = -CAIRN_E_BAD_SNAPSHOT;
		if (parse(e, buf, len, false, hlive, elive, seen, pend)) {
			if (parse(e, buf, len, true, hlive, elive, seen, pend)) {
				rc = 0;
			} else {
				reset(e);
			}
		}
	}
	free(hlive);
	free(elive);
	free(seen);
	free(pend);
	return rc;
}
