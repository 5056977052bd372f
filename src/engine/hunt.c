/*
 * HUNT_CREATE and HUNT_DESTROY.
 */
#include <string.h>

#include "common/atomic.h"
#include "engine/internal.h"

int cairn__cmd_hunt_create(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
			   struct cairn_msg *out)
{
	struct cairn_hunt_create q;
	memcpy(&q, c->payload, sizeof(q));
	if (q.map_id >= e->cfg.n_maps) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_MAP, q.map_id, out);
	}
	uint32_t cell = q.cell_mm ? q.cell_mm : CAIRN_DEFAULT_CELL_MM;
	if (cell > CAIRN_MAX_CELL_MM) {
		return cairn__eng_error(c, CAIRN_E_BAD_VALUE, q.cell_mm, out);
	}
	uint32_t radius = q.claim_radius_mm ? q.claim_radius_mm : CAIRN_DEFAULT_CLAIM_RADIUS_MM;
	/* A radius beyond a block keeps claims local: they look at neighbouring blocks only. */
	if (radius > (uint64_t)cell * CAIRN_BLOCK_CELLS) {
		return cairn__eng_error(c, CAIRN_E_BAD_VALUE, q.claim_radius_mm, out);
	}
	const struct cairn__map *m = e->cfg.maps[q.map_id];
	struct hunt h;
	memset(&h, 0, sizeof(h));
	h.map = m;
	h.map_id = q.map_id;
	h.cell_mm = cell;
	h.radius_mm = radius;
	h.speed_mm_s = q.speed_limit_mm_s;
	h.blocks_x = (m->width + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS;
	h.blocks_y = (m->height + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS;
	h.nshards = e->cfg.shards_per_hunt;
	h.limit_x = (int64_t)m->width * cell;
	h.limit_y = (int64_t)m->height * cell;
	h.created_ns = now;
	if (h.limit_x > INT32_MAX || h.limit_y > INT32_MAX) {
		return cairn__eng_error(c, CAIRN_E_BAD_VALUE, q.cell_mm, out);
	}
	int64_t slot = cairn__slots_take(&e->hunt_slots);
	if (slot < 0) {
		return cairn__eng_error(c, CAIRN_E_TOO_MANY_HUNTS, e->hunt_slots.max, out);
	}
	cairn__grid_hunt_alloc(e, &h, (uint32_t)slot);
	uint32_t id = make_id((uint32_t)slot, e->hunt_slots.gen[slot]);
	eng_commit(e);
	h.order = e->applied;
	e->hunts[slot] = h;
	cairn__grid_publish_hunt(e, (uint32_t)slot, id, &e->hunts[slot]);
	cairn__grid_update_header(e);
	cairn__eng_event(e, CAIRN_EVENT_HUNT_CREATED, id, now, 0, 0, q.map_id, 0, 0);

	struct cairn_hunt_created r;
	memset(&r, 0, sizeof(r));
	r.hunt_id = id;
	r.map_id = q.map_id;
	r.width = m->width;
	r.height = m->height;
	r.cell_mm = cell;
	r.claim_radius_mm = radius;
	r.speed_limit_mm_s = h.speed_mm_s;
	cairn__eng_reply(c, CAIRN_MSG_HUNT_CREATED, CAIRN_MSG_HUNT_CREATED_LEN_MIN, &r, sizeof(r),
			 out);
	return 0;
}

/*
 * Takes an entity out of the grid, its hunt's lists and the entity table. The entity's
 * record is zeroed inside its shard's write section, so a reader never sees half of it.
 */
void cairn__eng_drop_entity(struct cairn__engine *e, struct hunt *h, uint32_t slot)
{
	bool clue = e->ents[slot].kind == CAIRN_ENTITY_CLUE;
	cairn__grid_unlink(e, h, slot);
	static const struct cairn_entity zero;
	cairn__grid_put(e, slot, &zero);
	cairn__hunt_list_del(e, h, slot, clue);
	cairn__slots_put(&e->ent_slots, slot);
	e->n_entities--;
}

void cairn__eng_remove_entity(struct cairn__engine *e, struct hunt *h, uint32_t slot)
{
	struct wsection w = {.n = 0};
	cairn__ws_add(&w, shard_of(h, e->ents[slot].block));
	cairn__ws_begin(&w);
	cairn__eng_drop_entity(e, h, slot);
	cairn__ws_end(&w);
}

int cairn__cmd_hunt_destroy(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
			    struct cairn_msg *out)
{
	struct cairn_hunt_ref q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h = cairn__eng_hunt(e, q.hunt_id);
	if (!h) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_HUNT, q.hunt_id, out);
	}
	eng_commit(e);
	struct cairn_hunt_destroyed r;
	memset(&r, 0, sizeof(r));
	r.hunt_id = q.hunt_id;
	r.players = h->players;
	r.clues = h->clues;
	uint32_t slot = id_slot(q.hunt_id);
	/*
	 * The directory record goes first: a reader that found the hunt before this point
	 * re-checks its seq after reading the blocks and finds it changed.
	 */
	cairn__grid_clear_hunt(e, slot);
	while (h->first_player) {
		cairn__eng_remove_entity(e, h, h->first_player - 1);
	}
	while (h->first_clue) {
		cairn__eng_remove_entity(e, h, h->first_clue - 1);
	}
	cairn__grid_hunt_free(e, h);
	memset(h, 0, sizeof(*h));
	cairn__slots_put(&e->hunt_slots, slot);
	cairn__grid_update_header(e);
	cairn__eng_event(e, CAIRN_EVENT_HUNT_DESTROYED, q.hunt_id, now, 0, 0, 0, 0, 0);
	cairn__eng_reply(c, CAIRN_MSG_HUNT_DESTROYED, CAIRN_MSG_HUNT_DESTROYED_LEN_MIN, &r,
			 sizeof(r), out);
	return 0;
}
