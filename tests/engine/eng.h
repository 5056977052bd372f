/*
 * Helpers shared by the engine tests: command builders, a test engine with its maps,
 * blob arena and clock, checked appliers that assert everything a result and the
 * engine's counters must show, an event reader, a pseudo-random generator and a model
 * of the world that generates realistic command streams from what the engine answered.
 *
 * The checked appliers (ENG_OK, ENG_ERR and the typed ones) report the caller's file
 * and line when they fail.
 */
#ifndef CAIRN_TESTS_ENGINE_ENG_H
#define CAIRN_TESTS_ENGINE_ENG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "engine/engine.h"
#include "map/map.h"
#include "shm/broadcast.h"

__extension__ typedef unsigned __int128 eng_u128;

/* The maps every test engine is given, by map id. */
enum {
	ENG_MAP_SMALL = 0,   /* eng_small_map: 24 x 20 cells with walls, trees and water */
	ENG_MAP_DEFAULT = 1, /* the embedded default map, 128 x 96 */
	ENG_N_MAPS = 2,
};

extern const char eng_small_map[];

/* The loaded maps (parsed once, kept for the whole run). */
const struct cairn__map *const *eng_maps(void);

/*
 * A small configuration: 64 hunts, 4096 entities, 4 shards, 4096 events, 4 MiB of heap,
 * the maps above.
 */
void eng_config(struct cairn__engine_config *cfg);

/* Payload length of a command type, from the schema's LEN_MIN macros; 0 if unknown. */
uint8_t eng_len(uint16_t type);
/* Payload length of the reply to a command type. */
uint8_t eng_reply_len(uint16_t type);

/* Command builders: the right type and length, request_id 0, the payload zero-padded. */
struct cairn_msg eng_msg(uint16_t type, const void *payload, size_t size);
struct cairn_msg eng_hunt_create(uint32_t map_id, uint32_t radius_mm, uint32_t speed_mm_s,
				 uint32_t cell_mm);
struct cairn_msg eng_hunt_destroy(uint32_t hunt);
struct cairn_msg eng_join(uint32_t hunt, int32_t x, int32_t y);
struct cairn_msg eng_leave(uint32_t hunt, uint32_t player);
struct cairn_msg eng_move(uint32_t hunt, uint32_t player, int32_t x, int32_t y);
struct cairn_msg eng_clue_place(uint32_t hunt, int32_t x, int32_t y, int64_t value);
struct cairn_msg eng_clue_remove(uint32_t hunt, uint32_t clue);
struct cairn_msg eng_nearest(uint32_t hunt, int32_t x, int32_t y, uint32_t k, uint32_t off,
			     uint32_t cap, uint32_t include_claimed);
struct cairn_msg eng_players_near(uint32_t hunt, int32_t x, int32_t y, uint32_t radius_mm,
				  uint32_t max, uint32_t off, uint32_t cap);
struct cairn_msg eng_leaderboard(uint32_t hunt, uint32_t k, uint32_t off, uint32_t cap);
struct cairn_msg eng_player_state(uint32_t hunt, uint32_t player);
struct cairn_msg eng_state_hash(void);

#define ENG_ARENA_SIZE 65536u

/* A test engine. */
struct eng {
	struct cairn__engine *e;
	struct cairn__engine_config cfg;
	uint8_t *grid; /* the grid region, when the test gave its own (check_grid) */
	size_t grid_size;
	uint8_t *grid_copy;
	bool check_grid; /* ENG_ERR also asserts that the grid region is byte for byte unchanged */
	uint8_t *arena;
	struct cairn__blob blob;
	uint64_t now;         /* stamp of the next command (ENG_OK and ENG_ERR) */
	uint64_t step_ns;     /* added to now after each command; 1 ms unless changed */
	uint64_t req;         /* request id of the last command */
	struct cairn_msg out; /* the last result */
};

/*
 * Opens a test engine with cfg (NULL: eng_config). With check_grid the engine is given
 * grid memory of the test's own, so that ENG_ERR can compare it.
 */
void eng_open(struct eng *t, const struct cairn__engine_config *cfg, bool check_grid);
void eng_close(struct eng *t);

/*
 * Applies cmd at t->now with a fresh request id (cmd->hdr.request_id is set) and
 * returns the engine's return value; the result is in t->out.
 */
int eng_apply(struct eng *t, struct cairn_msg *cmd);

/*
 * Applies a command that must succeed: the reply type, status, flags, length and
 * request id; applied and the hash move only for mutating commands; the counters
 * by_type, applied and nothing of the rejections. Returns the reply's payload.
 */
#define ENG_OK(t, cmd) eng_ok_at(__FILE__, __LINE__, (t), (cmd))
const void *eng_ok_at(const char *file, int line, struct eng *t, struct cairn_msg cmd);

/*
 * Applies a command that must be rejected with code: an ERROR result with hdr.status
 * code, the request id copied, error_info.request_type set; the state hash, applied,
 * the events and (check_grid) the grid region unchanged; by_type[type], by_error[code -
 * 1001] and rejected up by one and every other counter unchanged. Returns the detail.
 */
#define ENG_ERR(t, cmd, code) eng_err_at(__FILE__, __LINE__, (t), (cmd), (code))
uint32_t eng_err_at(const char *file, int line, struct eng *t, struct cairn_msg cmd, int code);

/* Typed successes: the new hunt's, player's or clue's id; the MOVED payload. */
#define ENG_HUNT(t, map, radius, speed, cell)                                                      \
	eng_hunt_at(__FILE__, __LINE__, (t), (map), (radius), (speed), (cell))
#define ENG_JOIN(t, hunt, x, y) eng_join_at(__FILE__, __LINE__, (t), (hunt), (x), (y))
#define ENG_CLUE(t, hunt, x, y, value)                                                             \
	eng_clue_at(__FILE__, __LINE__, (t), (hunt), (x), (y), (value))
#define ENG_MOVE(t, hunt, player, x, y)                                                            \
	eng_move_at(__FILE__, __LINE__, (t), (hunt), (player), (x), (y))
uint32_t eng_hunt_at(const char *file, int line, struct eng *t, uint32_t map, uint32_t radius,
		     uint32_t speed, uint32_t cell);
uint32_t eng_join_at(const char *file, int line, struct eng *t, uint32_t hunt, int32_t x,
		     int32_t y);
uint32_t eng_clue_at(const char *file, int line, struct eng *t, uint32_t hunt, int32_t x, int32_t y,
		     int64_t value);
struct cairn_moved eng_move_at(const char *file, int line, struct eng *t, uint32_t hunt,
			       uint32_t player, int32_t x, int32_t y);

/* The hits a query reply describes, in t's arena. */
const struct cairn_hit *eng_hits(const struct eng *t, const struct cairn_query_reply *r);

/* Attaches a reader to t's event ring, positioned at event number next. */
void eng_events_attach(struct eng *t, struct cairn__broadcast_reader *r, uint64_t next);
/* Reads every event published since the reader's position; fails if any was missed. */
size_t eng_events_read(struct cairn__broadcast_reader *r, struct cairn_event *out, size_t n);

/* FNV-1a 64, for checksums of hits and for the known-answer test. */
#define ENG_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t eng_fnv(uint64_t h, const void *p, size_t n);

/* xorshift64*: a fixed seed, so that a failure reproduces exactly. */
struct eng_rng {
	uint64_t s;
};
void eng_rng_seed(struct eng_rng *r, uint64_t seed);
uint64_t eng_rand(struct eng_rng *r);
uint32_t eng_below(struct eng_rng *r, uint32_t n); /* 0 .. n - 1 (n > 0) */
bool eng_chance(struct eng_rng *r, uint32_t per_mille);

/*
 * A model of the world built from the engine's answers, that generates realistic
 * command streams: a few hunts on both maps (some with a speed limit), players that
 * join, walk in small steps, head for clues and leave, clues placed and removed, every
 * kind of query, hunts destroyed and created again. With illegal_per_mille > 0 some
 * moves are deliberately off the map, into walls or too fast.
 */
struct eng_wplayer {
	uint32_t id, hunt;
	int32_t x, y;
	uint64_t stamp;
};

struct eng_wclue {
	uint32_t id, hunt;
	int32_t x, y;
};

struct eng_whunt {
	uint32_t id, map_id, cell_mm, radius_mm, speed_mm_s;
	int64_t limit_x, limit_y;
};

#define ENG_WORLD_HUNTS 8

struct eng_world {
	struct eng_rng rng;
	uint32_t illegal_per_mille;
	uint32_t max_players, max_clues;
	struct eng_whunt hunts[ENG_WORLD_HUNTS];
	uint32_t n_hunts;
	struct eng_wplayer *players;
	uint32_t n_players;
	struct eng_wclue *clues;
	uint32_t n_clues;
	uint32_t dead[256]; /* ids of players, clues and hunts that are gone, most recent last */
	uint32_t n_dead;
	uint64_t now;
	/* The command last generated, for eng_world_learn. */
	struct cairn_msg pending;
	int64_t pending_index;
};

void eng_world_init(struct eng_world *w, uint64_t seed, uint32_t illegal_per_mille);
void eng_world_fini(struct eng_world *w);
/* The next command, and its stamp (never less than the previous one). */
struct cairn_msg eng_world_next(struct eng_world *w, uint64_t *stamp);
/* Learns from the result of the command eng_world_next returned last. */
void eng_world_learn(struct eng_world *w, const struct cairn_msg *out);

/* A random position in a passable (or, with blocked, a blocked) cell of hunt h. */
bool eng_world_pos(struct eng_world *w, const struct eng_whunt *h, bool blocked, int32_t *x,
		   int32_t *y);
const struct cairn__map *eng_world_map(const struct eng_whunt *h);
/* True when id is a live hunt, player or clue of the model. */
bool eng_world_live(const struct eng_world *w, uint32_t id);

#endif
