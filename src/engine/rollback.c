/*
 * Rollback: one hunt's state as bytes, and putting a live hunt back into the state such
 * an image describes.
 *
 * The hunt image is little-endian and canonical (equal hunts give equal bytes); its
 * records are those of the engine image (see the top of image.c):
 *
 *   "CAIRNHNT", u32 version, u32 hunt_id (with its generation)
 *   the hunt's record: u32 map_id, u64 map_hash, u32 cell_mm, u32 radius_mm,
 *     u32 speed_mm_s, u64 created_ns, u64 order
 *   u32 entities, then for each, in ascending id order: u32 id and the entity's record
 *     (u8 kind, u8 flags, u32 hunt_id, i32 x, i32 y, u32 claimed_by, u32 claims,
 *     i64 value, u64 stamp_ns, u64 order)
 *
 * Replacing a hunt changes only that hunt and the entity slots its image names, and is
 * a function of the engine's state and the image alone:
 *   - the hunt's entities that the image lacks, or has with another id, are removed in
 *     ascending slot order (so their slots go on the free stack in that order);
 *   - an entity of the image whose slot holds it now is rewritten in place (and moved
 *     to its block if its position changed);
 *   - an entity whose slot is free comes back with its id: the slot takes the image's
 *     generation and leaves the free stack, the other free slots keeping their order;
 *   - the hunt's lists of players and of clues are rebuilt in order of creation, as a
 *     restore builds them.
 * Readers of the grid see the hunt change at once: every shard of the hunt stays in its
 * write section for the whole replacement.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic.h"
#include "engine/internal.h"
#include "shm/seqlock.h"

#define HUNT_IMAGE_MAGIC   "CAIRNHNT"
#define HUNT_IMAGE_VERSION 1u
/* Bytes of one entity in the image: its id and its record. */
#define ENTITY_BYTES (4 + 46)

static const struct hunt *live_hunt(const struct cairn__engine *e, uint32_t hunt_id)
{
	uint32_t slot = id_slot(hunt_id);
	if (slot >= e->hunt_slots.hwm || !e->hunt_slots.live[slot] ||
	    make_id(slot, e->hunt_slots.gen[slot]) != hunt_id) {
		return NULL;
	}
	return &e->hunts[slot];
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The slots of h's players and clues, in list order (players first); n of them. */
static void hunt_slots(const struct cairn__engine *e, const struct hunt *h, uint32_t *out,
		       uint32_t *n)
{
	uint32_t k = 0;
	for (uint32_t s = h->first_player; s; s = e->links[s - 1].hunt_next) {
		out[k++] = s - 1;
	}
	for (uint32_t s = h->first_clue; s; s = e->links[s - 1].hunt_next) {
		out[k++] = s - 1;
	}
	*n = k;
}

int cairn__engine_hunt_save(const struct cairn__engine *e, uint32_t hunt_id, uint8_t **buf,
			    size_t *len)
{
	const struct hunt *h = live_hunt(e, hunt_id);
	if (!h) {
		return -CAIRN_E_UNKNOWN_HUNT;
	}
	uint32_t total = h->players + h->clues, n;
	uint32_t *ids = malloc(((size_t)total + 1) * sizeof(*ids));
	if (!ids) {
		return -ENOMEM;
	}
	hunt_slots(e, h, ids, &n);
	assert(n == total);
	for (uint32_t k = 0; k < n; k++) {
		ids[k] = e->ents[ids[k]].id;
	}
	qsort(ids, n, sizeof(*ids), cmp_u32);

	struct cairn__sink s = {.keep = true};
	cairn__put(&s, HUNT_IMAGE_MAGIC, 8);
	cairn__put32(&s, HUNT_IMAGE_VERSION);
	cairn__put32(&s, hunt_id);
	cairn__img_put_hunt(&s, h);
	cairn__put32(&s, n);
	for (uint32_t k = 0; k < n; k++) {
		cairn__put32(&s, ids[k]);
		cairn__img_put_entity(&s, &e->ents[id_slot(ids[k])]);
	}
	free(ids);
	if (s.oom) {
		free(s.buf);
		return -ENOMEM;
	}
	*buf = s.buf;
	*len = s.len;
	return 0;
}

/* An entity of the plan, by creation: the order of the hunt's lists. */
struct by_creation {
	uint64_t order;
	uint32_t slot;
	uint32_t index;
};

static int cmp_creation(const void *a, const void *b)
{
	const struct by_creation *x = a, *y = b;
	if (x->order != y->order) {
		return x->order < y->order ? -1 : 1;
	}
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* A hunt image, read and checked against the engine; nothing changed yet. */
struct plan {
	struct cairn_entity *ents; /* the image's entities, ascending id, block set */
	uint32_t n;
	uint32_t *at;    /* per entity slot below the high mark: 1 + index in ents, or 0 */
	uint8_t *revive; /* per entity of the image: its slot is free now (or will be) */
	uint32_t *gone;  /* the hunt's slots to empty, ascending */
	uint32_t n_gone;
	struct by_creation *order; /* the image's entities by creation */
};

static void plan_free(struct plan *p)
{
	free(p->ents);
	free(p->at);
	free(p->revive);
	free(p->gone);
	free(p->order);
}

/*
 * Reads img, an image of live hunt h (hunt_id), and checks every part of it against the
 * engine: returns 0 with p filled, or the negated error code for the whole replacement.
 */
static int plan_read(struct cairn__engine *e, const struct hunt *h, uint32_t hunt_id,
		     const uint8_t *img, size_t len, struct plan *p)
{
	struct cairn__src r = {.p = img, .end = img + len};
	char magic[8];
	cairn__get(&r, magic, 8);
	uint32_t version = cairn__get32(&r);
	uint32_t id = cairn__get32(&r);
	if (r.bad || memcmp(magic, HUNT_IMAGE_MAGIC, 8) != 0 || version != HUNT_IMAGE_VERSION) {
		return -CAIRN_E_BAD_SNAPSHOT;
	}
	if (id != hunt_id) {
		return -CAIRN_E_UNKNOWN_HUNT;
	}
	struct hunt hv;
	if (!cairn__img_get_hunt(e, &r, e->applied, &hv)) {
		return -CAIRN_E_BAD_SNAPSHOT;
	}
	/*
	 * The hunt's creation names it: the same id created at another time is another hunt
	 * (its slot came round to the same generation). A hunt's settings never change, so
	 * the same hunt with other settings is a malformed image.
	 */
	if (hv.order != h->order || hv.created_ns != h->created_ns) {
		return -CAIRN_E_UNKNOWN_HUNT;
	}
	if (hv.map_id != h->map_id || hv.cell_mm != h->cell_mm || hv.radius_mm != h->radius_mm ||
	    hv.speed_mm_s != h->speed_mm_s) {
		return -CAIRN_E_BAD_SNAPSHOT;
	}
	uint32_t n = cairn__get32(&r);
	if (r.bad || n > cairn__src_left(&r) / ENTITY_BYTES) {
		return -CAIRN_E_BAD_SNAPSHOT;
	}
	if (n > e->cfg.max_entities) {
		return -CAIRN_E_TOO_MANY_ENTITIES;
	}
	const struct slots *es = &e->ent_slots;
	uint32_t had = h->players + h->clues;
	p->n = n;
	p->ents = calloc((size_t)n + 1, sizeof(*p->ents));
	p->at = calloc((size_t)es->hwm + 1, sizeof(*p->at));
	p->revive = calloc((size_t)n + 1, 1);
	p->gone = calloc((size_t)had + 1, sizeof(*p->gone));
	p->order = calloc((size_t)n + 1, sizeof(*p->order));
	if (!p->ents || !p->at || !p->revive || !p->gone || !p->order) {
		return -ENOMEM;
	}

	bool conflict = false;
	uint32_t prev = 0;
	for (uint32_t k = 0; k < n; k++) {
		struct cairn_entity *v = &p->ents[k];
		v->id = cairn__get32(&r);
		if (!cairn__img_get_entity(&r, e->applied, v)) {
			return -CAIRN_E_BAD_SNAPSHOT;
		}
		uint32_t slot = id_slot(v->id);
		if (v->id <= prev || (v->id >> CAIRN_ID_SLOT_BITS) == 0 || v->hunt_id != hunt_id) {
			return -CAIRN_E_BAD_SNAPSHOT;
		}
		prev = v->id;
		if (slot >= e->cfg.max_entities) {
			return -CAIRN_E_TOO_MANY_ENTITIES;
		}
		/*
		 * Slots are never given back below the high mark, so an image of this hunt
		 * at an earlier point of the same log only names slots below it.
		 */
		if (slot >= es->hwm || p->at[slot] != 0 ||
		    cairn__eng_check_pos(h, v->x, v->y) < 0) {
			return -CAIRN_E_BAD_SNAPSHOT;
		}
		p->at[slot] = k + 1;
		v->block = cairn__grid_block_of(h, v->x, v->y);
		if (es->live[slot] && e->ents[slot].hunt_id != hunt_id) {
			conflict = true;
		}
		p->revive[k] = !es->live[slot] || e->ents[slot].id != v->id;
	}
	if (cairn__src_left(&r) != 0) {
		return -CAIRN_E_BAD_SNAPSHOT;
	}
	if (conflict) {
		return -CAIRN_E_ROLLBACK_CONFLICT;
	}

	/* The hunt's entities that the image does not keep, in ascending slot order. */
	uint32_t m;
	hunt_slots(e, h, p->gone, &m);
	assert(m == had);
	p->n_gone = 0;
	for (uint32_t k = 0; k < m; k++) {
		uint32_t s = p->gone[k];
		if (p->at[s] == 0 || p->ents[p->at[s] - 1].id != e->ents[s].id) {
			p->gone[p->n_gone++] = s;
		}
	}
	qsort(p->gone, p->n_gone, sizeof(*p->gone), cmp_u32);
	return 0;
}

/* Makes h what the plan says. Nothing here can fail. */
static void plan_apply(struct cairn__engine *e, struct hunt *h, uint32_t hunt_id, struct plan *p)
{
	struct slots *es = &e->ent_slots;
	/*
	 * Every shard of the hunt is in its write section until the hunt is whole again, so
	 * that a reader sees the hunt before or after, never half of it.
	 */
	for (uint32_t i = 0; i < h->nshards; i++) {
		cairn__seq_write_begin(&h->shards[i].seq);
	}

	for (uint32_t k = 0; k < p->n_gone; k++) {
		cairn__eng_drop_entity(e, h, p->gone[k]);
	}

	for (uint32_t k = 0; k < p->n; k++) {
		struct cairn_entity v = p->ents[k];
		uint32_t slot = id_slot(v.id);
		if (p->revive[k]) {
			assert(!es->live[slot]);
			es->gen[slot] = (uint8_t)(v.id >> CAIRN_ID_SLOT_BITS);
			es->live[slot] = 1;
			v.next = 0;
			cairn__grid_put(e, slot, &v);
			cairn__grid_link(e, h, slot);
			e->n_entities++;
			continue;
		}
		const struct cairn_entity *cur = &e->ents[slot];
		assert(es->live[slot] && cur->id == v.id);
		if (cur->block != v.block || cur->kind != v.kind) {
			cairn__grid_unlink(e, h, slot);
			v.next = 0;
			cairn__grid_put(e, slot, &v);
			cairn__grid_link(e, h, slot);
		} else {
			v.next = cur->next;
			cairn__grid_put(e, slot, &v);
		}
	}

	/*
	 * The revived slots leave the free stack; the others keep their places, so the ids
	 * handed out next depend only on the state before and the image.
	 */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < es->nfree; i++) {
		uint32_t s = es->free[i];
		if (p->at[s] != 0 && p->revive[p->at[s] - 1]) {
			continue;
		}
		es->free[kept++] = s;
	}
	es->nfree = kept;

	h->first_player = h->last_player = h->first_clue = h->last_clue = 0;
	h->players = h->clues = h->claimed = 0;
	for (uint32_t k = 0; k < p->n; k++) {
		p->order[k] = (struct by_creation){
			.order = p->ents[k].order, .slot = id_slot(p->ents[k].id), .index = k};
	}
	qsort(p->order, p->n, sizeof(*p->order), cmp_creation);
	for (uint32_t k = 0; k < p->n; k++) {
		const struct cairn_entity *v = &p->ents[p->order[k].index];
		bool clue = v->kind == CAIRN_ENTITY_CLUE;
		cairn__hunt_list_add(e, h, id_slot(v->id), clue);
		if (clue) {
			h->clues++;
			h->claimed += (v->flags & CAIRN_FLAG_CLAIMED) != 0;
		} else {
			h->players++;
		}
	}
	cairn__grid_publish_hunt(e, id_slot(hunt_id), hunt_id, h);

	for (uint32_t i = 0; i < h->nshards; i++) {
		cairn__seq_write_end(&h->shards[i].seq);
	}
}

int cairn__engine_hunt_replace(struct cairn__engine *e, uint32_t hunt_id, const uint8_t *img,
			       size_t len, uint64_t event_value, uint32_t *players, uint32_t *clues)
{
	struct hunt *h = cairn__eng_hunt(e, hunt_id);
	if (!h) {
		return -CAIRN_E_UNKNOWN_HUNT;
	}
	struct plan p;
	memset(&p, 0, sizeof(p));
	int rc = plan_read(e, h, hunt_id, img, len, &p);
	if (rc == 0) {
		eng_commit(e);
		plan_apply(e, h, hunt_id, &p);
		cairn__grid_update_header(e);
		cairn__count(&e->ctr->applied, 1);
		cairn__eng_event(e, CAIRN_EVENT_HUNT_ROLLED_BACK, hunt_id, 0, 0, 0,
				 (int64_t)event_value, 0, 0);
		if (players) {
			*players = h->players;
		}
		if (clues) {
			*clues = h->clues;
		}
	}
	plan_free(&p);
	return rc;
}
