/*
 * The game engine: hunts, players, clues, moves, claims and queries.
 *
 * The engine is a deterministic function of the commands it is given and their ingress
 * stamps: it does no I/O, reads no clock, draws no random numbers and never lets an
 * address decide anything. The same commands with the same stamps give the same
 * results and the same state hash, in any process, on any machine. Only one thread
 * may call into an engine (the daemon's apply thread); readers in other processes see
 * its grid through seqlocks (see the hunt_info, shard and entity structs of
 * shm-protocol/schema.json).
 *
 * Memory: the grid region (hunts, entities, every hunt's shards and blocks) and the
 * event ring are laid out in memory the caller provides — the daemon's state segment —
 * or, when the caller passes NULL, in memory the engine maps for itself (tests, tools).
 * Private bookkeeping (free lists, per-hunt lists, scratch space for queries) lives in
 * the engine's own allocations.
 */
#ifndef CAIRN_ENGINE_ENGINE_H
#define CAIRN_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/protocol.h"
#include "map/map.h"

struct cairn__engine;

struct cairn__engine_config {
	uint32_t max_hunts;       /* 1 .. 2^24 - 1 */
	uint32_t max_entities;    /* players and clues of every hunt, 1 .. 2^24 - 1 */
	uint32_t shards_per_hunt; /* 1 .. 4096 */
	uint32_t event_capacity;  /* a power of two, >= 2 */
	/*
	 * The loaded maps, indexed by map id: NOT copied; they must outlive the engine.
	 * Map 0 is the one a HUNT_CREATE with map_id 0 gets.
	 */
	const struct cairn__map *const *maps;
	uint32_t n_maps;
};

/* Fills in the defaults: 16384 hunts, 1 Mi entities, 64 shards, 64 Ki events. */
void cairn__engine_config_default(struct cairn__engine_config *cfg);

/*
 * Bytes of the grid region and of the event ring for cfg, each a multiple of 4096. The
 * grid region holds, for every hunt slot, room for the shards and blocks of a hunt on
 * the largest map (see cairn__engine_hunt_stride), so creating a hunt never fails for
 * want of memory and never depends on the order hunts came and went in.
 */
size_t cairn__engine_hunt_stride(const struct cairn__engine_config *cfg);
size_t cairn__engine_grid_size(const struct cairn__engine_config *cfg);
size_t cairn__engine_events_size(const struct cairn__engine_config *cfg);

/*
 * Creates an empty engine. grid and events are page-aligned, zero-filled regions of the
 * sizes above (pages are touched only as hunts and entities use them), or NULL for
 * private memory; counters may be NULL for a private block. None of them is freed by
 * the engine. Returns 0, -EINVAL for a bad configuration, or -ENOMEM.
 */
int cairn__engine_new(const struct cairn__engine_config *cfg, void *grid, void *events,
		      struct cairn_engine_counters *counters, struct cairn__engine **out);

/* Frees an engine. Accepts NULL. */
void cairn__engine_free(struct cairn__engine *e);

/*
 * Sets the most players one hunt may hold (0: no limit, the default): a JOIN into a
 * hunt that has that many is refused with TOO_MANY_PLAYERS, whose detail is the limit.
 * It is an admission rule, not part of the state: a hunt already above the limit keeps
 * its players, and a rollback may bring back more than it allows. Since the log holds
 * only accepted commands, recovery and replay run without it (the daemon sets it after
 * recovering), and an engine that replays a log gets the same state whatever its own
 * limit. Apply thread only.
 */
void cairn__engine_set_max_players(struct cairn__engine *e, uint32_t max_players);

/* The client's blob arena, for the queries that write their answers there. */
struct cairn__blob {
	uint8_t *base;
	uint64_t size;
};

/* True for the command types the engine answers (HUNT_CREATE .. STATE_HASH). */
bool cairn__engine_serves(uint16_t type);

/*
 * True for the command types that can change the engine's state (these, and only
 * these, need to be logged to replay it). A command that fails changes nothing.
 */
bool cairn__engine_mutates(uint16_t type);

/*
 * Starts the memory loads cmd will need (for a MOVE: the player's entity, the hunt, the
 * target block, its shard and map cell), so that a batch of commands prefetched before
 * any is applied overlaps its cache misses. Only a hint: it reads nothing it does not
 * bounds-check and changes nothing.
 */
void cairn__engine_prefetch(const struct cairn__engine *e, const struct cairn_msg *cmd);

/*
 * Applies one command with its ingress stamp and writes the result (a reply, or an
 * ERROR naming the reason) into *out. cmd is untrusted in every field: a bad command is
 * answered with an error and leaves the state exactly as it was. blob may be NULL for
 * a client without an arena; the queries then fail with BLOB_RANGE.
 *
 * Returns 0 when the command succeeded, or the negated error code that *out carries.
 */
int cairn__engine_apply(struct cairn__engine *e, const struct cairn_msg *cmd, uint64_t ingress_ns,
			const struct cairn__blob *blob, struct cairn_msg *out);

/*
 * The state hash: FNV-1a 64 over the canonical image of the state (what
 * cairn__engine_save writes, less its header). Equal states have equal hashes on every
 * machine, whatever memory or configuration the engines were given.
 */
uint64_t cairn__engine_hash(const struct cairn__engine *e);

/* Order number of the latest command that changed the state (0 for none). */
uint64_t cairn__engine_applied(const struct cairn__engine *e);

/*
 * Serializes the whole state into a new buffer (*buf, *len; the caller frees it with
 * free()). The image is little-endian and independent of memory addresses and of the
 * configuration, except that it names the maps it was made with by hash.
 * Returns 0 or -ENOMEM.
 */
int cairn__engine_save(const struct cairn__engine *e, uint8_t **buf, size_t *len);

/*
 * Restores an image made by cairn__engine_save into an engine that has applied nothing
 * yet. The image is untrusted: anything malformed, a map missing or different, or more
 * hunts or entities than this engine holds gives -CAIRN_E_BAD_SNAPSHOT and leaves the
 * engine empty. Publishes no events. Returns 0, -CAIRN_E_BAD_SNAPSHOT, -EBUSY when the
 * engine is not empty, or -ENOMEM.
 */
int cairn__engine_restore(struct cairn__engine *e, const uint8_t *buf, size_t len);

/*
 * Rollback support: one hunt's state as bytes, and putting a hunt back into a state it
 * had earlier.
 *
 * cairn__engine_hunt_save serializes hunt_id (its record, players and clues, with their
 * ids, positions, scores, claims, stamps and order numbers) into a new buffer the caller
 * frees with free(). Returns 0, -CAIRN_E_UNKNOWN_HUNT or -ENOMEM.
 *
 * cairn__engine_hunt_replace makes the live hunt hunt_id equal to img, an image of that
 * same hunt (same id, same generation) saved earlier, possibly by another engine that
 * replayed the log to an earlier LSN. Players and clues the hunt has now but the image
 * lacks are removed; those of the image come back with their ids. The image is
 * untrusted. Every check runs before any change; on error nothing changed:
 * -CAIRN_E_UNKNOWN_HUNT (the hunt is not alive, or the image is of another hunt),
 * -CAIRN_E_BAD_SNAPSHOT (malformed image, or another map), -CAIRN_E_ROLLBACK_CONFLICT
 * (an id of the image now belongs to another hunt's entity), -CAIRN_E_TOO_MANY_ENTITIES,
 * -ENOMEM. On success publishes one HUNT_ROLLED_BACK event with value event_value (its
 * stamp, player and clue are 0: the engine is not given the command's stamp), counts as
 * one state change (cairn__engine_applied and the counters' applied advance), and
 * stores the hunt's players and clues in *players and *clues (either may be NULL). The
 * result is deterministic: the same engine state and image give the same state hash
 * everywhere. The image format and the exact effect on ids and free slots are at the
 * top of src/engine/rollback.c.
 */
int cairn__engine_hunt_save(const struct cairn__engine *e, uint32_t hunt_id, uint8_t **buf,
			    size_t *len);
int cairn__engine_hunt_replace(struct cairn__engine *e, uint32_t hunt_id, const uint8_t *img,
			       size_t len, uint64_t event_value, uint32_t *players,
			       uint32_t *clues);

/*
 * What the solver needs of a hunt, for the path commands the daemon serves: its map
 * (immutable, shared), map id and cell side. Returns 0 or -CAIRN_E_UNKNOWN_HUNT.
 */
int cairn__engine_hunt_geometry(struct cairn__engine *e, uint32_t hunt_id,
				const struct cairn__map **map, uint32_t *map_id, uint32_t *cell_mm);

/*
 * Where a player (kind CAIRN_ENTITY_PLAYER) or a clue (CAIRN_ENTITY_CLUE) of hunt_id is
 * now. Returns 0, -CAIRN_E_UNKNOWN_HUNT, -CAIRN_E_UNKNOWN_PLAYER or -CAIRN_E_UNKNOWN_CLUE
 * (no entity of that kind has this id), or -CAIRN_E_WRONG_HUNT.
 */
int cairn__engine_entity_pos(struct cairn__engine *e, uint32_t hunt_id, uint32_t id, uint8_t kind,
			     int32_t *x, int32_t *y);

/*
 * Publishes where map_id's first-move table is (a CAIRN_TABLE_* value) in its map_info
 * in the grid region. Touches that one aligned word only (a release store), so any
 * thread may call it while the apply thread runs. Unknown map ids are ignored.
 */
void cairn__engine_set_table_state(struct cairn__engine *e, uint32_t map_id, uint32_t state);

/* The engine's counters (shared memory when the daemon gave them). */
struct cairn_engine_counters *cairn__engine_counters(struct cairn__engine *e);

/*
 * The event ring's memory (what cairn__broadcast_attach takes) and, in *size, its bytes:
 * the caller's region or the engine's own. Valid as long as the engine.
 */
const void *cairn__engine_events_mem(const struct cairn__engine *e, size_t *size);

/* Events published so far (the broadcast ring's tail). */
uint64_t cairn__engine_events_published(const struct cairn__engine *e);

/*
 * Wakes readers asleep on the event ring; the daemon calls it after a turn that
 * published events, when some lane says it has event sleepers.
 */
void cairn__engine_wake_event_readers(struct cairn__engine *e);

/*
 * Counts one command answered with status (0 or a protocol error code) in counters:
 * by type, and by error. The engine counts the commands it serves; the daemon counts
 * the others with this.
 */
static inline void cairn__count_command(struct cairn_engine_counters *c, uint16_t type, int status)
{
	uint64_t *t = &c->by_type[type < 64 ? type : 0];
	__atomic_store_n(t, __atomic_load_n(t, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	if (status != 0) {
		int i = status - CAIRN_E_BAD_MAGIC;
		uint64_t *r = &c->by_error[i >= 0 && i < 63 ? i : 63];
		__atomic_store_n(r, __atomic_load_n(r, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&c->rejected, __atomic_load_n(&c->rejected, __ATOMIC_RELAXED) + 1,
				 __ATOMIC_RELAXED);
	}
}

#endif
