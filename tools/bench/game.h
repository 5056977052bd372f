/*
 * The game traffic of the engine and e2e benchmarks: hunts on the embedded default map,
 * players that walk it with legal steps, and the commands that say so, built as a host
 * builds them (struct cairn_msg with a payload struct of protocol.h).
 *
 * Players are visited in one fixed, shuffled order, so that consecutive moves touch
 * different hunts and different parts of memory, as many game servers' traffic does,
 * and each player moves once per round. Everything is drawn from a seeded generator:
 * two runs with the same seed send the same commands.
 */
#ifndef CAIRN_BENCH_GAME_H
#define CAIRN_BENCH_GAME_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/protocol.h"
#include "map/map.h"

struct game_player {
	uint32_t hunt_id;
	uint32_t player_id; /* 0 until the JOIN is answered */
	int32_t x, y;       /* where the player is (after the last move built) */
};

struct game {
	const struct cairn__map *map; /* not owned */
	uint32_t cell_mm;
	int32_t step_mm; /* largest step along each axis */
	uint32_t nhunts;
	uint32_t players_per_hunt;
	uint32_t nplayers;
	uint32_t *hunt_ids;          /* nhunts, 0 until created */
	struct game_player *players; /* nplayers, in visiting order */
	uint32_t next;               /* the player the next move is for */
	uint64_t rng;
	/* Cells that are passable, for drawing starting points and clue spots. */
	uint32_t *open_cells;
	uint32_t nopen;
};

/*
 * Prepares traffic for nhunts x players_per_hunt players on map m (cells of cell_mm),
 * stepping at most step_mm along each axis. Every player gets a hunt and a passable
 * starting point; ids are filled in as the benchmark creates hunts and joins players
 * (game_set_hunt, players[i].player_id). Returns 0 or -ENOMEM.
 */
int game_init(struct game *g, const struct cairn__map *m, uint32_t cell_mm, uint32_t nhunts,
	      uint32_t players_per_hunt, int32_t step_mm, uint64_t seed);

void game_free(struct game *g);

/* Records the id of hunt number i (0-based) and gives it to its players. */
void game_set_hunt(struct game *g, uint32_t i, uint32_t hunt_id);

/* Shuffles the visiting order of the players (after they joined) and restarts it. */
void game_shuffle(struct game *g);

/* A uniformly drawn number in [0, n). */
uint32_t game_rand(struct game *g, uint32_t n);

/* The centre of a passable cell, drawn uniformly, in millimetres. */
void game_random_spot(struct game *g, int32_t *x, int32_t *y);

/*
 * The next legal step of player i: up to step_mm along each axis onto a passable cell
 * inside the map (a player that finds none of a few draws passable stays where it is,
 * which is a legal move too). Moves the player and returns the new position.
 */
void game_step(struct game *g, uint32_t i, int32_t *x, int32_t *y);

/* Builds the MOVE of player i's next legal step (game_step) into m. */
void game_move_of(struct game *g, uint32_t i, struct cairn_msg *m);

/* Builds the MOVE of the next player in the visiting order into m, and advances. */
void game_next_move(struct game *g, struct cairn_msg *m);

/*
 * Builders of the commands libcairn has none for (cairn_msg_move and the others come
 * from cairn.h): the header (request id 0) and the payload of protocol.h.
 */
void game_msg_nearest(struct cairn_msg *m, uint32_t hunt_id, int32_t x, int32_t y, uint32_t k,
		      uint32_t out_offset, uint32_t out_capacity);
void game_msg_ping(struct cairn_msg *m);

#endif
