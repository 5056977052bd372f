/*
 * The solver: exact shortest paths on a map's grid.
 *
 * The rules are the Moving AI benchmark rules: 8-connected; a cardinal step costs 1, a
 * diagonal step sqrt(2); a diagonal step is allowed only when both cardinal cells beside
 * it are passable (no corner cutting). A path's cost is exact as a pair of counts,
 * straight + diagonal * sqrt(2), so two methods agree to the bit on the counts.
 *
 * A graph is built once per map and is immutable: any number of threads query it at once
 * without locks, each with its own scratch. Three methods answer, all exact:
 *   ASTAR  A* with the octile heuristic (the reference);
 *   JPS    jump point search, online (no preprocessing), scanning 64 cells per word;
 *   TABLE  a first-move table (a compressed path database) built once per map: "the
 *          next step from s toward t" is a lookup; a path follows lookups.
 *
 * Cells are (x, y) with x the column, y the row, (0, 0) the top-left corner.
 */
#ifndef CAIRN_SOLVER_SOLVER_H
#define CAIRN_SOLVER_SOLVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "map/map.h"

/* Directions of a step, clockwise from north (y grows downward: north is y - 1). */
enum cairn__dir {
	CAIRN__DIR_N = 0,
	CAIRN__DIR_NE = 1,
	CAIRN__DIR_E = 2,
	CAIRN__DIR_SE = 3,
	CAIRN__DIR_S = 4,
	CAIRN__DIR_SW = 5,
	CAIRN__DIR_W = 6,
	CAIRN__DIR_NW = 7,
	CAIRN__DIR_NONE = 8, /* start == goal: no step to take */
};

static const int8_t cairn__dir_dx[8] = {0, 1, 1, 1, 0, -1, -1, -1};
static const int8_t cairn__dir_dy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

enum cairn__method {
	CAIRN__METHOD_AUTO = 0, /* the table when it is built, else JPS */
	CAIRN__METHOD_ASTAR = 1,
	CAIRN__METHOD_JPS = 2,
	CAIRN__METHOD_TABLE = 3,
};

struct cairn__cell {
	int32_t x, y;
};

/* A path's cost: straight + diagonal * sqrt(2) cell sides. */
struct cairn__cost {
	uint32_t straight, diagonal;
};

static inline double cairn__cost_value(struct cairn__cost c)
{
	return (double)c.straight + (double)c.diagonal * 1.4142135623730951;
}

/* What a query cost, for the benchmarks and metrics. */
struct cairn__solve_stats {
	uint64_t expansions; /* nodes taken off the open list (A*, JPS), lookups (TABLE) */
};

/* ---- the graph ---- */

struct cairn__graph;

/*
 * Builds the graph of map m: a node per passable cell, numbered in row order; per node
 * a byte whose bit d says the step in direction d is legal (no corner cutting), the
 * compressed-sparse-row form with implicit columns; cell <-> node maps; connected
 * components (so an unreachable goal is known without a search); row bitmaps and their
 * transpose for the jump scans. m must outlive the graph. Returns 0, -ENOMEM, or
 * -EINVAL (m NULL). Thread-safe.
 */
int cairn__graph_build(const struct cairn__map *m, struct cairn__graph **out);
void cairn__graph_free(struct cairn__graph *g);
const struct cairn__map *cairn__graph_map(const struct cairn__graph *g);
uint32_t cairn__graph_nodes(const struct cairn__graph *g);
size_t cairn__graph_bytes(const struct cairn__graph *g); /* memory held, all included */

/* ---- per-thread scratch ---- */

/*
 * Working memory of one thread's searches: open list, g values, parents, generation
 * stamps. Grows to the largest graph it is used with; never shared between threads.
 */
struct cairn__scratch;
int cairn__scratch_new(struct cairn__scratch **out);
void cairn__scratch_free(struct cairn__scratch *s);

/* ---- first-move tables ---- */

struct cairn__fm_table;

/*
 * Builds the first-move table of g with `threads` threads (>= 1; the caller's thread
 * is one of them): for every source node a Dijkstra search, whose first moves are
 * run-length encoded over the targets in an order that keeps runs long. *cancel, when
 * set non-zero by another thread, stops the build early (-ECANCELED). progress, when not
 * NULL, is called now and then from one thread with the sources done and the total.
 * Returns 0, -ECANCELED, -ENOMEM, or -E2BIG (more nodes than the table can index).
 */
int cairn__fm_build(const struct cairn__graph *g, unsigned threads, const atomic_int *cancel,
		    void (*progress)(void *arg, uint32_t done, uint32_t total), void *arg,
		    struct cairn__fm_table **out);
void cairn__fm_free(struct cairn__fm_table *t);
size_t cairn__fm_bytes(const struct cairn__fm_table *t); /* memory held, all included */
const struct cairn__graph *cairn__fm_graph(const struct cairn__fm_table *t);

/* ---- queries ----
 *
 * Every query checks its endpoints first: -CAIRN_E_OFF_MAP when a cell is outside the
 * map, -CAIRN_E_BLOCKED when it is not passable, -CAIRN_E_UNREACHABLE when the goal is
 * in another connected component. Then it answers by `method` (AUTO picks the table
 * when t is not NULL, else JPS; TABLE needs t, else -CAIRN_E_TABLE_NOT_READY), or
 * returns -ENOMEM when the scratch could not grow. t, when not NULL, must be a table of
 * g. stats may be NULL.
 */

/* The first step of an optimal path from `from` to `to` (CAIRN__DIR_NONE when equal). */
int cairn__solve_next(const struct cairn__graph *g, const struct cairn__fm_table *t,
		      struct cairn__scratch *s, enum cairn__method method, struct cairn__cell from,
		      struct cairn__cell to, enum cairn__dir *dir,
		      struct cairn__solve_stats *stats);

/* The cost of an optimal path. */
int cairn__solve_cost(const struct cairn__graph *g, const struct cairn__fm_table *t,
		      struct cairn__scratch *s, enum cairn__method method, struct cairn__cell from,
		      struct cairn__cell to, struct cairn__cost *cost,
		      struct cairn__solve_stats *stats);

/*
 * An optimal path: every cell of it, `from` first and `to` last (one cell when equal),
 * into cells[0..cap); *n gets the number of cells of the whole path, which may exceed
 * cap (then only the first cap were written and the result is -ENOBUFS; *cost is set).
 */
int cairn__solve_path(const struct cairn__graph *g, const struct cairn__fm_table *t,
		      struct cairn__scratch *s, enum cairn__method method, struct cairn__cell from,
		      struct cairn__cell to, struct cairn__cell *cells, uint32_t cap, uint32_t *n,
		      struct cairn__cost *cost, struct cairn__solve_stats *stats);

/*
 * Keeps only the turning points of a path of n cells (the first, the last, and every
 * cell where the direction changes), in place; returns how many remain. Between two
 * kept cells the path is a straight or diagonal line.
 */
uint32_t cairn__path_waypoints(struct cairn__cell *cells, uint32_t n);

#endif
