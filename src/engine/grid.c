/*
 * The grid region: its layout, the heap that holds every hunt's shards and blocks, and
 * the linking of entities into blocks.
 *
 * Every change a reader in another process can see is made inside a seqlock write
 * section: a hunt's directory record under its own seq, a block's lists and the
 * entities linked from it under the seq of the block's shard. An entity that moves
 * from one block to another changes both blocks' lists, so the caller opens both shards
 * (cairn__ws_*) before calling cairn__grid_unlink and cairn__grid_link.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic.h"
#include "engine/internal.h"
#include "shm/seqlock.h"

static uint64_t page_up(uint64_t n)
{
	return (n + 4095) & ~(uint64_t)4095;
}

void cairn__grid_plan(const struct cairn__engine_config *cfg, struct cairn__grid_plan *p)
{
	p->maps = sizeof(struct cairn_grid_header);
	p->hunts = page_up(p->maps + (uint64_t)cfg->n_maps * sizeof(struct cairn_map_info));
	p->entities = page_up(p->hunts + (uint64_t)cfg->max_hunts * sizeof(struct cairn_hunt_info));
	p->heap = page_up(p->entities + (uint64_t)cfg->max_entities * sizeof(struct cairn_entity));
	p->stride = cairn__engine_hunt_stride(cfg);
	p->size = p->heap + (uint64_t)cfg->max_hunts * p->stride;
}

int cairn__grid_layout(struct cairn__engine *e)
{
	const struct cairn__engine_config *cfg = &e->cfg;
	struct cairn__grid_plan p;
	cairn__grid_plan(cfg, &p);
	if (p.size > e->grid_size) {
		return -EINVAL;
	}
	uint64_t maps = p.maps, hunts = p.hunts, ents = p.entities, heap = p.heap;
	struct cairn_grid_header *gh = (struct cairn_grid_header *)e->grid;
	e->gh = gh;
	e->map_info = (struct cairn_map_info *)(e->grid + maps);
	e->hunt_info = (struct cairn_hunt_info *)(e->grid + hunts);
	e->ents = (struct cairn_entity *)(e->grid + ents);
	e->heap = e->grid + heap;
	e->hunt_stride = p.stride;

	/*
	 * Nothing of the region is visible to readers before the daemon publishes its
	 * offset in the state header, so plain stores do here.
	 */
	gh->max_hunts = cfg->max_hunts;
	gh->max_entities = cfg->max_entities;
	gh->shards_per_hunt = cfg->shards_per_hunt;
	gh->block_cells = CAIRN_BLOCK_CELLS;
	gh->n_maps = cfg->n_maps;
	gh->maps_offset = maps;
	gh->hunts_offset = hunts;
	gh->entities_offset = ents;
	gh->heap_offset = heap;
	gh->heap_size = (uint64_t)cfg->max_hunts * p.stride;
	gh->hunt_stride = p.stride;
	for (uint32_t i = 0; i < cfg->n_maps; i++) {
		const struct cairn__map *m = cfg->maps[i];
		struct cairn_map_info *mi = &e->map_info[i];
		mi->width = m->width;
		mi->height = m->height;
		mi->passable = m->passable;
		mi->hash = m->hash;
		memcpy(mi->name, m->name, sizeof(mi->name) - 1);
	}
	return 0;
}

void cairn__grid_update_header(struct cairn__engine *e)
{
	/* Gauges: each a single relaxed store that a reader may see late, never torn. */
	cairn__store_relaxed(&e->gh->hunts, e->hunt_slots.hwm - e->hunt_slots.nfree);
	cairn__store_relaxed(&e->gh->entities, e->n_entities);
	cairn__store_relaxed(&e->gh->entities_hwm, e->ent_slots.hwm);
	cairn__store_relaxed(&e->gh->heap_used, e->heap_used);
	cairn__store_relaxed(&e->gh->applied, e->applied);
}

void cairn__grid_hunt_alloc(struct cairn__engine *e, struct hunt *h, uint32_t slot)
{
	/*
	 * The slot's region may still be read by a reader that looked up the destroyed hunt
	 * it belonged to; that reader re-checks the hunt's seq after reading and throws its
	 * copy away. The shards' sequence words are kept rather than zeroed, so that they
	 * only ever grow, and every block is cleared.
	 */
	uint8_t *base = e->heap + (uint64_t)slot * e->hunt_stride;
	h->shards = (struct cairn_shard *)base;
	h->blocks =
		(struct cairn_block *)(base + (uint64_t)h->nshards * sizeof(struct cairn_shard));
	for (uint32_t i = 0; i < h->nshards; i++) {
		uint64_t s = cairn__load_relaxed(&h->shards[i].seq);
		cairn__store_relaxed(&h->shards[i].seq, (s + 1) & ~(uint64_t)1);
	}
	uint64_t nblocks = (uint64_t)h->blocks_x * h->blocks_y;
	static const struct cairn_block zero;
	for (uint64_t b = 0; b < nblocks; b++) {
		cairn__seq_copy_in(&h->blocks[b], &zero, sizeof(zero));
	}
	e->heap_used += e->hunt_stride;
}

void cairn__grid_hunt_free(struct cairn__engine *e, struct hunt *h)
{
	(void)h;
	e->heap_used -= e->hunt_stride;
}

uint32_t cairn__grid_block_of(const struct hunt *h, int32_t x, int32_t y)
{
	uint32_t cx = (uint32_t)x / h->cell_mm, cy = (uint32_t)y / h->cell_mm;
	return (cy / CAIRN_BLOCK_CELLS) * h->blocks_x + cx / CAIRN_BLOCK_CELLS;
}

void cairn__grid_span(const struct hunt *h, int64_t x, int64_t y, int64_t r,
		      struct cairn__block_span *sp)
{
	int64_t bmm = (int64_t)h->cell_mm * CAIRN_BLOCK_CELLS;
	sp->x0 = x - r < 0 ? 0 : (x - r) / bmm;
	sp->y0 = y - r < 0 ? 0 : (y - r) / bmm;
	sp->x1 = (x + r) / bmm;
	sp->y1 = (y + r) / bmm;
	if (sp->x1 >= h->blocks_x) {
		sp->x1 = h->blocks_x - 1;
	}
	if (sp->y1 >= h->blocks_y) {
		sp->y1 = h->blocks_y - 1;
	}
}

void cairn__ws_add(struct wsection *w, struct cairn_shard *s)
{
	for (int i = 0; i < w->n; i++) {
		if (w->seq[i] == &s->seq) {
			return;
		}
	}
	w->seq[w->n++] = &s->seq;
}

void cairn__ws_begin(struct wsection *w)
{
	for (int i = 0; i < w->n; i++) {
		cairn__seq_write_begin(w->seq[i]);
	}
}

void cairn__ws_end(struct wsection *w)
{
	for (int i = 0; i < w->n; i++) {
		cairn__seq_write_end(w->seq[i]);
	}
}

void cairn__grid_put(struct cairn__engine *e, uint32_t slot, const struct cairn_entity *v)
{
	cairn__seq_copy_in(&e->ents[slot], v, sizeof(*v));
}

/* The head of the block list an entity of this kind belongs to. */
static uint32_t *list_head(struct cairn_block *b, uint8_t kind)
{
	return kind == CAIRN_ENTITY_CLUE ? &b->first_clue : &b->first_player;
}

void cairn__grid_link(struct cairn__engine *e, struct hunt *h, uint32_t slot)
{
	struct cairn_entity *en = &e->ents[slot];
	struct cairn_block *b = &h->blocks[en->block];
	uint32_t *head = list_head(b, en->kind);
	uint32_t old = *head;
	cairn__seq_store32(&en->next, old);
	e->links[slot].block_prev = 0;
	if (old) {
		e->links[old - 1].block_prev = slot + 1;
	}
	cairn__seq_store32(head, slot + 1);
	if (en->kind == CAIRN_ENTITY_CLUE) {
		cairn__seq_store32(&b->clues, b->clues + 1);
	} else {
		cairn__seq_store32(&b->players, b->players + 1);
	}
}

void cairn__grid_unlink(struct cairn__engine *e, struct hunt *h, uint32_t slot)
{
	struct cairn_entity *en = &e->ents[slot];
	struct cairn_block *b = &h->blocks[en->block];
	uint32_t prev = e->links[slot].block_prev;
	uint32_t next = en->next;
	if (prev) {
		cairn__seq_store32(&e->ents[prev - 1].next, next);
	} else {
		cairn__seq_store32(list_head(b, en->kind), next);
	}
	if (next) {
		e->links[next - 1].block_prev = prev;
	}
	cairn__seq_store32(&en->next, 0);
	e->links[slot].block_prev = 0;
	if (en->kind == CAIRN_ENTITY_CLUE) {
		cairn__seq_store32(&b->clues, b->clues - 1);
	} else {
		cairn__seq_store32(&b->players, b->players - 1);
	}
}

void cairn__grid_publish_hunt(struct cairn__engine *e, uint32_t slot, uint32_t id,
			      const struct hunt *h)
{
	struct cairn_hunt_info *hi = &e->hunt_info[slot];
	struct cairn_hunt_info v;
	memset(&v, 0, sizeof(v));
	v.id = id;
	v.map_id = h->map_id;
	v.width = h->map->width;
	v.height = h->map->height;
	v.cell_mm = h->cell_mm;
	v.claim_radius_mm = h->radius_mm;
	v.speed_limit_mm_s = h->speed_mm_s;
	v.blocks_x = h->blocks_x;
	v.blocks_y = h->blocks_y;
	v.shards = h->nshards;
	v.shards_offset = e->gh->heap_offset + (uint64_t)slot * e->hunt_stride;
	v.blocks_offset = v.shards_offset + (uint64_t)h->nshards * sizeof(struct cairn_shard);
	v.players = h->players;
	v.clues = h->clues;
	v.clues_claimed = h->claimed;
	v.map_hash = h->map->hash;
	v.created_ns = h->created_ns;
	cairn__seq_write_begin(&hi->seq);
	/* Everything but seq, which the write section owns. */
	cairn__seq_copy_in((uint8_t *)hi + 8, (const uint8_t *)&v + 8, sizeof(v) - 8);
	cairn__seq_write_end(&hi->seq);
}

void cairn__grid_clear_hunt(struct cairn__engine *e, uint32_t slot)
{
	struct cairn_hunt_info *hi = &e->hunt_info[slot];
	static const struct cairn_hunt_info zero;
	cairn__seq_write_begin(&hi->seq);
	cairn__seq_copy_in((uint8_t *)hi + 8, (const uint8_t *)&zero + 8, sizeof(zero) - 8);
	cairn__seq_write_end(&hi->seq);
}

void cairn__hunt_list_add(struct cairn__engine *e, struct hunt *h, uint32_t slot, bool clue)
{
	uint32_t *first = clue ? &h->first_clue : &h->first_player;
	uint32_t *last = clue ? &h->last_clue : &h->last_player;
	e->links[slot].hunt_prev = *last;
	e->links[slot].hunt_next = 0;
	if (*last) {
		e->links[*last - 1].hunt_next = slot + 1;
	} else {
		*first = slot + 1;
	}
	*last = slot + 1;
}

void cairn__hunt_list_del(struct cairn__engine *e, struct hunt *h, uint32_t slot, bool clue)
{
	uint32_t *first = clue ? &h->first_clue : &h->first_player;
	uint32_t *last = clue ? &h->last_clue : &h->last_player;
	uint32_t prev = e->links[slot].hunt_prev, next = e->links[slot].hunt_next;
	if (prev) {
		e->links[prev - 1].hunt_next = next;
	} else {
		*first = next;
	}
	if (next) {
		e->links[next - 1].hunt_prev = prev;
	} else {
		*last = prev;
	}
	e->links[slot].hunt_prev = e->links[slot].hunt_next = 0;
}

void cairn__engine_set_table_state(struct cairn__engine *e, uint32_t map_id, uint32_t state)
{
	if (map_id < e->cfg.n_maps) {
		/* Release: a reader that sees READY may rely on what the daemon logged before. */
		cairn__store_release(&e->map_info[map_id].table_state, state);
	}
}
