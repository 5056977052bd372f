/*
 * Helpers shared by the solver tests: a pseudo-random generator, map generators (open,
 * random obstacles, mazes, rooms, walled-off halves, diagonal squeezes), a plain
 * reference Dijkstra that shares no code with src/solver, and a path checker.
 *
 * The checkers report the caller's context (a map name and the query) when they fail.
 */
#ifndef CAIRN_TESTS_SOLVER_KIT_H
#define CAIRN_TESTS_SOLVER_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "map/map.h"
#include "solver/solver.h"

/* True when the tests run under sanitizers (CAIRN_TEST_SANITIZED set): scale work down. */
bool kit_sanitized(void);

/* xorshift64*: deterministic for a seed. */
uint64_t kit_rand(uint64_t *state);
/* A number in [0, n), n > 0. */
uint32_t kit_below(uint64_t *state, uint32_t n);

/* ---- maps ---- */

/*
 * A map of w x h cells from `cells` (w * h characters, '.' passable, '@' blocked), made
 * through the product's own parser as a map file would be. Fails the test on error.
 */
struct cairn__map *kit_map(const char *name, uint32_t w, uint32_t h, const char *cells);

/* Generators: each returns a new map (free with cairn__map_free). */
struct cairn__map *kit_gen_open(uint32_t w, uint32_t h);
/* Each cell blocked with probability pct / 100. */
struct cairn__map *kit_gen_random(uint32_t w, uint32_t h, unsigned pct, uint64_t seed);
/* A perfect maze of 1-cell corridors (a depth-first carve), with some walls knocked out. */
struct cairn__map *kit_gen_maze(uint32_t w, uint32_t h, uint64_t seed);
/* Rooms of random sizes joined by doors, some of them diagonal squeezes. */
struct cairn__map *kit_gen_rooms(uint32_t w, uint32_t h, uint64_t seed);
/* Two open halves separated by a full wall: no path between them. */
struct cairn__map *kit_gen_split(uint32_t w, uint32_t h);
/*
 * Corner-cutting traps: diagonal walls (crossed only by cutting a corner, which the rules
 * forbid) with gaps, 1-cell corridors, and checkerboard patches of isolated cells.
 */
struct cairn__map *kit_gen_squeeze(uint32_t w, uint32_t h, uint64_t seed);

/* A random passable cell of m (m has at least one). */
struct cairn__cell kit_random_passable(const struct cairn__map *m, uint64_t *rng);

/* ---- the reference ---- */

/* Whether the step from (x, y) in direction d is legal, read straight off the cells. */
bool kit_step_legal(const struct cairn__map *m, int64_t x, int64_t y, unsigned d);

/* Distances of every cell to one target, by a plain Dijkstra over the cells. */
struct kit_ref {
	const struct cairn__map *m;
	struct cairn__cell target;
	uint32_t *straight, *diagonal; /* per cell; UINT32_MAX: no path */
};

void kit_ref_init(struct kit_ref *ref, const struct cairn__map *m);
void kit_ref_run(struct kit_ref *ref, struct cairn__cell target);
void kit_ref_free(struct kit_ref *ref);
/* Whether c reaches the target, and its cost. */
bool kit_ref_cost(const struct kit_ref *ref, struct cairn__cell c, struct cairn__cost *cost);

/*
 * Checks a path of n cells from `from` to `to` on m: each step one of the 8 directions
 * and legal, from first and to last, and the step counts equal cost. Fails the test
 * naming ctx otherwise.
 */
void kit_check_path(const char *ctx, const struct cairn__map *m, struct cairn__cell from,
		    struct cairn__cell to, const struct cairn__cell *cells, uint32_t n,
		    struct cairn__cost cost);

/* "astar", "jps", "table", "auto". */
const char *kit_method_name(enum cairn__method m);

#endif
