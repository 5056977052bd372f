/*
 * Players and clues: JOIN, LEAVE, MOVE with its claims, CLUE_PLACE, CLUE_REMOVE.
 *
 * Every command checks everything before it changes anything, so that a rejected
 * command leaves the state exactly as it was.
 */
#include <string.h>

#include "common/atomic.h"
#include "engine/internal.h"
#include "shm/seqlock.h"

__extension__ typedef unsigned __int128 u128;

/*
 * Looks up the entity a command names and checks it is of the right kind and in the
 * right hunt. Returns its slot, or a negated error code.
 */
static int64_t find(struct cairn__engine *e, uint32_t hunt_id, uint32_t id, uint8_t kind,
		    struct hunt **hp)
{
	struct hunt *h = cairn__eng_hunt(e, hunt_id);
	if (!h) {
		return -CAIRN_E_UNKNOWN_HUNT;
	}
	struct cairn_entity *en = cairn__eng_entity(e, id);
	if (!en || en->kind != kind) {
		return kind == CAIRN_ENTITY_CLUE ? -CAIRN_E_UNKNOWN_CLUE : -CAIRN_E_UNKNOWN_PLAYER;
	}
	if (en->hunt_id != hunt_id) {
		return -CAIRN_E_WRONG_HUNT;
	}
	*hp = h;
	return id_slot(id);
}

/*
 * Creates an entity at a checked position in hunt h (hunt_id), counts it in the hunt
 * and publishes the hunt's record and the grid header. Returns its slot or a negated
 * error code.
 */
static int64_t spawn(struct cairn__engine *e, struct hunt *h, uint32_t hunt_id, uint8_t kind,
		     int32_t x, int32_t y, int64_t value, uint64_t now)
{
	int64_t slot = cairn__slots_take(&e->ent_slots);
	if (slot < 0) {
		return -CAIRN_E_TOO_MANY_ENTITIES;
	}
	eng_commit(e);
	struct cairn_entity v;
	memset(&v, 0, sizeof(v));
	v.id = make_id((uint32_t)slot, e->ent_slots.gen[slot]);
	v.hunt_id = hunt_id;
	v.kind = kind;
	v.block = cairn__grid_block_of(h, x, y);
	v.x = x;
	v.y = y;
	v.value = kind == CAIRN_ENTITY_CLUE ? value : 0;
	v.stamp_ns = now;
	v.order = e->applied;
	struct wsection w = {.n = 0};
	cairn__ws_add(&w, shard_of(h, v.block));
	cairn__ws_begin(&w);
	cairn__grid_put(e, (uint32_t)slot, &v);
	cairn__grid_link(e, h, (uint32_t)slot);
	cairn__ws_end(&w);
	cairn__hunt_list_add(e, h, (uint32_t)slot, kind == CAIRN_ENTITY_CLUE);
	e->n_entities++;
	if (kind == CAIRN_ENTITY_CLUE) {
		h->clues++;
	} else {
		h->players++;
	}
	cairn__grid_publish_hunt(e, id_slot(hunt_id), hunt_id, h);
	cairn__grid_update_header(e);
	return slot;
}

/*
 * Undoes spawn: removes the entity in slot from hunt h (hunt_id), takes it out of the
 * hunt's counts and publishes the hunt's record and the grid header.
 */
static void despawn(struct cairn__engine *e, struct hunt *h, uint32_t hunt_id, uint32_t slot)
{
	const struct cairn_entity *en = &e->ents[slot];
	bool clue = en->kind == CAIRN_ENTITY_CLUE;
	bool claimed = en->flags & CAIRN_FLAG_CLAIMED;
	cairn__eng_remove_entity(e, h, slot);
	if (clue) {
		h->clues--;
		if (claimed) {
			h->claimed--;
		}
	} else {
		h->players--;
	}
	cairn__grid_publish_hunt(e, id_slot(hunt_id), hunt_id, h);
	cairn__grid_update_header(e);
}

int cairn__cmd_join(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
		    struct cairn_msg *out)
{
	struct cairn_join q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h = cairn__eng_hunt(e, q.hunt_id);
	if (!h) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_HUNT, q.hunt_id, out);
	}
	int rc = cairn__eng_check_pos(h, q.x, q.y);
	if (rc < 0) {
		return cairn__eng_error(c, -rc, 0, out);
	}
	/* Before the daemon-wide limit: a full hunt says so even when the daemon is full too. */
	if (e->max_players && h->players >= e->max_players) {
		return cairn__eng_error(c, CAIRN_E_TOO_MANY_PLAYERS, e->max_players, out);
	}
	int64_t slot = spawn(e, h, q.hunt_id, CAIRN_ENTITY_PLAYER, q.x, q.y, 0, now);
	if (slot < 0) {
		return cairn__eng_error(c, (int)-slot, e->ent_slots.max, out);
	}
	uint32_t id = e->ents[slot].id;
	cairn__eng_event(e, CAIRN_EVENT_PLAYER_JOINED, q.hunt_id, now, id, 0, 0, q.x, q.y);
	struct cairn_joined r;
	memset(&r, 0, sizeof(r));
	r.player_id = id;
	r.hunt_id = q.hunt_id;
	r.x = q.x;
	r.y = q.y;
	cairn__eng_reply(c, CAIRN_MSG_JOINED, CAIRN_MSG_JOINED_LEN_MIN, &r, sizeof(r), out);
	return 0;
}

int cairn__cmd_leave(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
		     struct cairn_msg *out)
{
	struct cairn_player_ref q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h;
	int64_t slot = find(e, q.hunt_id, q.player_id, CAIRN_ENTITY_PLAYER, &h);
	if (slot < 0) {
		return cairn__eng_error(c, (int)-slot, q.player_id, out);
	}
	eng_commit(e);
	struct cairn_entity *en = &e->ents[slot];
	struct cairn_left r;
	memset(&r, 0, sizeof(r));
	r.player_id = q.player_id;
	r.claims = en->claims;
	r.score = en->value;
	int32_t x = en->x, y = en->y;
	despawn(e, h, q.hunt_id, (uint32_t)slot);
	cairn__eng_event(e, CAIRN_EVENT_PLAYER_LEFT, q.hunt_id, now, q.player_id, 0, r.score, x, y);
	cairn__eng_reply(c, CAIRN_MSG_LEFT, CAIRN_MSG_LEFT_LEN_MIN, &r, sizeof(r), out);
	return 0;
}

/*
 * True when going from (x0, y0) to (x1, y1) in dt_ns respects a limit of speed mm/s:
 * dist <= speed * dt / 1e9, compared exactly as dist^2 * 1e18 <= (speed * dt)^2.
 */
static bool speed_ok(uint32_t speed, uint64_t dt_ns, uint64_t d2)
{
	if (speed == 0) {
		return true;
	}
	u128 reach = (u128)speed * dt_ns; /* mm * 1e9 */
	/* Beyond 2^63 the reach exceeds any distance on a map (< 2^32 mm): no need to square. */
	if (reach >> 63) {
		return true;
	}
	return (u128)d2 * 1000000000000000000ull <= reach * reach;
}

/*
 * The clue player reaches at (x, y): the nearest unclaimed one within the radius (lowest
 * id on a tie), else the nearest one someone else claimed, else none. Clues the player
 * holds itself are ignored. Looks at the blocks the radius touches only.
 */
static int64_t clue_in_reach(struct cairn__engine *e, const struct hunt *h, uint32_t player,
			     int32_t x, int32_t y, bool *claimed)
{
	int64_t r = h->radius_mm;
	uint64_t r2 = (uint64_t)(r * r);
	struct cairn__block_span sp;
	cairn__grid_span(h, x, y, r, &sp);
	int64_t best_open = -1, best_taken = -1;
	uint64_t d_open = 0, d_taken = 0;
	for (int64_t by = sp.y0; by <= sp.y1; by++) {
		for (int64_t bx = sp.x0; bx <= sp.x1; bx++) {
			const struct cairn_block *b = &h->blocks[by * h->blocks_x + bx];
			for (uint32_t s = b->first_clue; s; s = e->ents[s - 1].next) {
				const struct cairn_entity *cl = &e->ents[s - 1];
				uint64_t d = dist2(x, y, cl->x, cl->y);
				if (d > r2) {
					continue;
				}
				bool taken = cl->flags & CAIRN_FLAG_CLAIMED;
				if (taken && cl->claimed_by == player) {
					continue;
				}
				int64_t *best = taken ? &best_taken : &best_open;
				uint64_t *bd = taken ? &d_taken : &d_open;
				if (*best < 0 || d < *bd ||
				    (d == *bd && cl->id < e->ents[*best].id)) {
					*best = s - 1;
					*bd = d;
				}
			}
		}
	}
	*claimed = best_open < 0 && best_taken >= 0;
	return best_open >= 0 ? best_open : best_taken;
}

int cairn__cmd_move(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
		    struct cairn_msg *out)
{
	struct cairn_move q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h;
	int64_t slot = find(e, q.hunt_id, q.player_id, CAIRN_ENTITY_PLAYER, &h);
	if (slot < 0) {
		return cairn__eng_error(c, (int)-slot, q.player_id, out);
	}
	int rc = cairn__eng_check_pos(h, q.x, q.y);
	if (rc < 0) {
		return cairn__eng_error(c, -rc, 0, out);
	}
	struct cairn_entity p = e->ents[slot];
	uint64_t d2 = dist2(p.x, p.y, q.x, q.y);
	uint64_t dt = now > p.stamp_ns ? now - p.stamp_ns : 0;
	if (!speed_ok(h->speed_mm_s, dt, d2)) {
		return cairn__eng_error(c, CAIRN_E_TOO_FAST, h->speed_mm_s, out);
	}

	eng_commit(e);
	cairn__count(&e->ctr->moves, 1);
	uint32_t old_block = p.block;
	p.x = q.x;
	p.y = q.y;
	p.stamp_ns = now;
	p.block = cairn__grid_block_of(h, q.x, q.y);
	bool taken = false;
	int64_t cs = clue_in_reach(e, h, q.player_id, q.x, q.y, &taken);

	struct cairn_moved r;
	memset(&r, 0, sizeof(r));
	r.player_id = q.player_id;
	r.x = q.x;
	r.y = q.y;
	struct cairn_entity clue;
	if (cs >= 0) {
		clue = e->ents[cs];
		r.clue_id = clue.id;
		r.value = clue.value;
		if (taken) {
			r.outcome = CAIRN_CLAIM_LOST;
			r.holder_id = clue.claimed_by;
			cairn__count(&e->ctr->lost, 1);
		} else {
			r.outcome = CAIRN_CLAIM_WON;
			r.holder_id = q.player_id;
			clue.flags |= CAIRN_FLAG_CLAIMED;
			clue.claimed_by = q.player_id;
			clue.stamp_ns = now;
			p.claims++;
			/* Wraps like the int64 it is; defined through the unsigned cast. */
			p.value = (int64_t)((uint64_t)p.value + (uint64_t)clue.value);
		}
	}
	r.score = p.value;

	struct wsection w = {.n = 0};
	cairn__ws_add(&w, shard_of(h, old_block));
	cairn__ws_add(&w, shard_of(h, p.block));
	if (r.outcome == CAIRN_CLAIM_WON) {
		cairn__ws_add(&w, shard_of(h, clue.block));
	}
	cairn__ws_begin(&w);
	if (old_block != p.block) {
		cairn__grid_unlink(e, h, (uint32_t)slot);
		p.next = 0;
		cairn__grid_put(e, (uint32_t)slot, &p);
		cairn__grid_link(e, h, (uint32_t)slot);
	} else {
		cairn__grid_put(e, (uint32_t)slot, &p);
	}
	if (r.outcome == CAIRN_CLAIM_WON) {
		cairn__grid_put(e, (uint32_t)cs, &clue);
	}
	cairn__ws_end(&w);

	if (r.outcome == CAIRN_CLAIM_WON) {
		h->claimed++;
		cairn__count(&e->ctr->claims, 1);
		cairn__grid_publish_hunt(e, id_slot(q.hunt_id), q.hunt_id, h);
		cairn__eng_event(e, CAIRN_EVENT_CLUE_CLAIMED, q.hunt_id, now, q.player_id, clue.id,
				 clue.value, clue.x, clue.y);
	}
	cairn__store_relaxed(&e->gh->applied, e->applied);
	cairn__eng_reply(c, CAIRN_MSG_MOVED, CAIRN_MSG_MOVED_LEN_MIN, &r, sizeof(r), out);
	return 0;
}

int cairn__cmd_clue_place(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
			  struct cairn_msg *out)
{
	struct cairn_clue_place q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h = cairn__eng_hunt(e, q.hunt_id);
	if (!h) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_HUNT, q.hunt_id, out);
	}
	int rc = cairn__eng_check_pos(h, q.x, q.y);
	if (rc < 0) {
		return cairn__eng_error(c, -rc, 0, out);
	}
	int64_t slot = spawn(e, h, q.hunt_id, CAIRN_ENTITY_CLUE, q.x, q.y, q.value, now);
	if (slot < 0) {
		return cairn__eng_error(c, (int)-slot, e->ent_slots.max, out);
	}
	uint32_t id = e->ents[slot].id;
	cairn__eng_event(e, CAIRN_EVENT_CLUE_PLACED, q.hunt_id, now, 0, id, q.value, q.x, q.y);
	struct cairn_clue_placed r;
	memset(&r, 0, sizeof(r));
	r.clue_id = id;
	r.hunt_id = q.hunt_id;
	r.x = q.x;
	r.y = q.y;
	cairn__eng_reply(c, CAIRN_MSG_CLUE_PLACED, CAIRN_MSG_CLUE_PLACED_LEN_MIN, &r, sizeof(r),
			 out);
	return 0;
}

int cairn__cmd_clue_remove(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
			   struct cairn_msg *out)
{
	struct cairn_clue_ref q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h;
	int64_t slot = find(e, q.hunt_id, q.clue_id, CAIRN_ENTITY_CLUE, &h);
	if (slot < 0) {
		return cairn__eng_error(c, (int)-slot, q.clue_id, out);
	}
	eng_commit(e);
	struct cairn_entity *en = &e->ents[slot];
	struct cairn_clue_removed r;
	memset(&r, 0, sizeof(r));
	r.clue_id = q.clue_id;
	r.claimed_by = en->claimed_by;
	r.value = en->value;
	int32_t x = en->x, y = en->y;
	despawn(e, h, q.hunt_id, (uint32_t)slot);
	cairn__eng_event(e, CAIRN_EVENT_CLUE_REMOVED, q.hunt_id, now, r.claimed_by, q.clue_id,
			 r.value, x, y);
	cairn__eng_reply(c, CAIRN_MSG_CLUE_REMOVED, CAIRN_MSG_CLUE_REMOVED_LEN_MIN, &r, sizeof(r),
			 out);
	return 0;
}
