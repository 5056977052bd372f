/*
 * The engine's private structures, shared by its files:
 *
 *   engine.c  lifecycle, command dispatch, ids, results, events
 *   grid.c    the grid region: layout, each hunt slot's grid, linking entities into
 *             blocks under their shards' seqlocks
 *   hunt.c    HUNT_CREATE, HUNT_DESTROY
 *   player.c  JOIN, LEAVE, MOVE and claims; CLUE_PLACE, CLUE_REMOVE
 *   query.c   NEAREST_CLUES, PLAYERS_NEAR, LEADERBOARD, PLAYER_STATE
 *   image.c   save, restore, the state hash; the hunt and entity records of images
 *   rollback.c  one hunt's image, and putting a hunt back into the state it describes
 *
 * The shared-memory records (hunt_info, entity, block, shard) are the authoritative
 * state; the apply thread is their only writer and reads them with plain loads. Every
 * store to them that a reader in another process may see happens inside a seqlock write
 * section, with relaxed atomic stores (cairn__seq_copy_in, cairn__seq_store32).
 */
#ifndef CAIRN_ENGINE_INTERNAL_H
#define CAIRN_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/codec.h"
#include "engine/engine.h"
#include "shm/broadcast.h"

#define ID_SLOT_MASK ((1u << CAIRN_ID_SLOT_BITS) - 1)
#define ID_MAX_SLOTS ID_SLOT_MASK /* slots 0 .. 2^24 - 2; never a slot of all ones */

/* An id from a slot and its generation (1..255). */
static inline uint32_t make_id(uint32_t slot, uint8_t gen)
{
	return ((uint32_t)gen << CAIRN_ID_SLOT_BITS) | slot;
}

static inline uint32_t id_slot(uint32_t id)
{
	return id & ID_SLOT_MASK;
}

/* Slot allocation with generations: free slots on a LIFO stack, then the high mark. */
struct slots {
	uint32_t max;
	uint32_t hwm; /* slots ever used */
	uint32_t nfree;
	uint32_t *free; /* stack of free slots below hwm */
	uint8_t *gen;   /* generation of each slot's current or last id */
	uint8_t *live;  /* 1 while the slot holds something */
};

/* The engine's private view of one hunt. */
struct hunt {
	const struct cairn__map *map;
	uint32_t map_id;
	uint32_t cell_mm;
	uint32_t radius_mm;
	uint32_t speed_mm_s;
	uint32_t blocks_x, blocks_y, nshards;
	uint64_t created_ns;
	uint64_t order;
	int64_t limit_x, limit_y; /* positions run over [0, limit) */
	struct cairn_shard *shards;
	struct cairn_block *blocks;
	uint32_t first_player; /* slot + 1: the hunt's players, in join order */
	uint32_t last_player;
	uint32_t first_clue; /* slot + 1: the hunt's clues, in placing order */
	uint32_t last_clue;
	uint32_t players, clues, claimed;
};

/* The engine's private links of one entity. */
struct ent_links {
	uint32_t block_prev; /* slot + 1 of the previous entity in its block list */
	uint32_t hunt_prev;  /* slot + 1, the hunt's list of players or of clues */
	uint32_t hunt_next;
};

/* A query's candidate, sorted on (key, tie). */
struct cairn__cand {
	uint64_t key; /* distance^2, or the score turned into an ascending key */
	uint64_t tie; /* id, or join order */
	uint32_t slot;
};

struct cairn__engine {
	struct cairn__engine_config cfg;
	uint8_t *grid;
	size_t grid_size;
	bool own_grid;
	void *events_mem;
	size_t events_size;
	bool own_events;
	struct cairn_engine_counters *ctr;
	bool own_ctr;

	struct cairn_grid_header *gh;
	struct cairn_map_info *map_info;
	struct cairn_hunt_info *hunt_info;
	struct cairn_entity *ents;
	uint8_t *heap; /* hunt slot i's grid is at heap + i * hunt_stride */
	uint64_t hunt_stride;
	uint64_t heap_used;

	struct slots hunt_slots;
	struct hunt *hunts;
	struct slots ent_slots;
	struct ent_links *links;

	struct cairn__broadcast events;
	uint64_t applied; /* order number of the last state change */
	uint32_t n_entities;
	uint32_t max_players; /* per hunt; 0: no limit (cairn__engine_set_max_players) */

	/* Scratch for queries: room for a candidate per entity, touched only as used. */
	struct cairn__cand *scratch;
};

/* Counts a command that changed the state; returns its order number. */
static inline uint64_t eng_commit(struct cairn__engine *e)
{
	return ++e->applied;
}

/* engine.c: the result helpers every command file uses. */
void cairn__eng_reply(const struct cairn_msg *cmd, uint16_t type, uint8_t length,
		      const void *payload, size_t size, struct cairn_msg *out);
int cairn__eng_error(const struct cairn_msg *cmd, int code, uint32_t detail, struct cairn_msg *out);
void cairn__eng_event(struct cairn__engine *e, uint16_t type, uint32_t hunt_id, uint64_t stamp_ns,
		      uint32_t player_id, uint32_t clue_id, int64_t value, int32_t x, int32_t y);

/* engine.c: slots */
int cairn__slots_init(struct slots *s, uint32_t max);
void cairn__slots_fini(struct slots *s);
/* Takes a free slot (lowest-cost: the last freed, else the high mark); -1 when full. */
int64_t cairn__slots_take(struct slots *s);
void cairn__slots_put(struct slots *s, uint32_t slot);

/* Looks up a live hunt by id; NULL when unknown. */
struct hunt *cairn__eng_hunt(struct cairn__engine *e, uint32_t hunt_id);
/* Looks up a live entity by id; NULL when unknown. */
struct cairn_entity *cairn__eng_entity(struct cairn__engine *e, uint32_t id);

/* grid.c: where the parts of the grid region go, from its start. */
struct cairn__grid_plan {
	uint64_t maps, hunts, entities, heap, stride, size;
};
void cairn__grid_plan(const struct cairn__engine_config *cfg, struct cairn__grid_plan *p);
int cairn__grid_layout(struct cairn__engine *e);
/* Points h at hunt slot's grid region and clears its blocks. */
void cairn__grid_hunt_alloc(struct cairn__engine *e, struct hunt *h, uint32_t slot);
void cairn__grid_hunt_free(struct cairn__engine *e, struct hunt *h);
uint32_t cairn__grid_block_of(const struct hunt *h, int32_t x, int32_t y);
/* The blocks (inclusive, clamped to the grid) that the square of side 2r around (x, y) touches. */
struct cairn__block_span {
	int64_t x0, y0, x1, y1;
};
void cairn__grid_span(const struct hunt *h, int64_t x, int64_t y, int64_t r,
		      struct cairn__block_span *sp);
static inline struct cairn_shard *shard_of(const struct hunt *h, uint32_t block)
{
	return &h->shards[block % h->nshards];
}
/*
 * The write sections opened for one command: at most three shards (a player's old and
 * new block, and a clue's), each opened once however many of them coincide.
 */
struct wsection {
	uint64_t *seq[4];
	int n;
};
void cairn__ws_add(struct wsection *w, struct cairn_shard *s);
void cairn__ws_begin(struct wsection *w);
void cairn__ws_end(struct wsection *w);

/* Inserts entity slot (its record already written) at the head of its block's list. */
void cairn__grid_link(struct cairn__engine *e, struct hunt *h, uint32_t slot);
/* Removes entity slot from its block's list. */
void cairn__grid_unlink(struct cairn__engine *e, struct hunt *h, uint32_t slot);
/* Writes a whole entity record (inside a write section on its shard). */
void cairn__grid_put(struct cairn__engine *e, uint32_t slot, const struct cairn_entity *v);

/* Writes a hunt's directory record from h (under the record's own seqlock). */
void cairn__grid_publish_hunt(struct cairn__engine *e, uint32_t slot, uint32_t id,
			      const struct hunt *h);
void cairn__grid_clear_hunt(struct cairn__engine *e, uint32_t slot);
void cairn__grid_update_header(struct cairn__engine *e);

/* The private per-hunt list of players or of clues. */
void cairn__hunt_list_add(struct cairn__engine *e, struct hunt *h, uint32_t slot, bool clue);
void cairn__hunt_list_del(struct cairn__engine *e, struct hunt *h, uint32_t slot, bool clue);

/* Squared distance in mm^2 (fits: positions are below 2^31 and non-negative). */
static inline uint64_t dist2(int64_t ax, int64_t ay, int64_t bx, int64_t by)
{
	int64_t dx = ax - bx, dy = ay - by;
	return (uint64_t)(dx * dx) + (uint64_t)(dy * dy);
}

/* Checks a position against the hunt's map: 0, or -OFF_MAP / -BLOCKED. */
int cairn__eng_check_pos(const struct hunt *h, int32_t x, int32_t y);

/* Command handlers: each returns 0 or a negated error code, with *out written. */
int cairn__cmd_hunt_create(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
			   struct cairn_msg *out);
int cairn__cmd_hunt_destroy(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
			    struct cairn_msg *out);
int cairn__cmd_join(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
		    struct cairn_msg *out);
int cairn__cmd_leave(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
		     struct cairn_msg *out);
int cairn__cmd_move(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
		    struct cairn_msg *out);
int cairn__cmd_clue_place(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
			  struct cairn_msg *out);
int cairn__cmd_clue_remove(struct cairn__engine *e, const struct cairn_msg *c, uint64_t now,
			   struct cairn_msg *out);
int cairn__cmd_nearest(struct cairn__engine *e, const struct cairn_msg *c,
		       const struct cairn__blob *blob, struct cairn_msg *out);
int cairn__cmd_players_near(struct cairn__engine *e, const struct cairn_msg *c,
			    const struct cairn__blob *blob, struct cairn_msg *out);
int cairn__cmd_leaderboard(struct cairn__engine *e, const struct cairn_msg *c,
			   const struct cairn__blob *blob, struct cairn_msg *out);
int cairn__cmd_player_state(struct cairn__engine *e, const struct cairn_msg *c,
			    struct cairn_msg *out);

/* Removes a player or clue entirely (LEAVE, CLUE_REMOVE, HUNT_DESTROY). */
void cairn__eng_remove_entity(struct cairn__engine *e, struct hunt *h, uint32_t slot);
/*
 * The same, for a caller that already holds a write section on the entity's shard:
 * unlinks it from its block, zeroes its record, takes it off the hunt's list and frees
 * its slot (pushed on the free stack). The hunt's counts are the caller's.
 */
void cairn__eng_drop_entity(struct cairn__engine *e, struct hunt *h, uint32_t slot);

/*
 * image.c: the records that the engine image and the hunt image share (their layout is
 * at the top of image.c). The readers check what a record can say about itself: a map
 * that is loaded with the same hash and settings in range for a hunt (and fill in its
 * geometry, not its grid); a kind, flags and order for an entity (not its hunt or
 * position). Orders above applied are refused. They return false on a malformed record.
 */
void cairn__img_put_hunt(struct cairn__sink *s, const struct hunt *h);
bool cairn__img_get_hunt(const struct cairn__engine *e, struct cairn__src *r, uint64_t applied,
			 struct hunt *h);
void cairn__img_put_entity(struct cairn__sink *s, const struct cairn_entity *en);
bool cairn__img_get_entity(struct cairn__src *r, uint64_t applied, struct cairn_entity *v);

#endif
