/*
 * What the solver's files share: the graph's layout, the per-thread scratch, the
 * first-move table's layout, and the search entry points that solve.c dispatches to.
 * Nothing here is seen outside src/solver/.
 */
#ifndef CAIRN_SOLVER_INTERNAL_H
#define CAIRN_SOLVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "solver/solver.h"

#define CAIRN__SQRT2 1.4142135623730951

/*
 * The bitmaps keep one blocked word before and after each line's cells, and one blocked
 * line before and after the lines, so that a scan stops on a blocked bit before it can
 * leave the array: cell i of a line is bit i + BITMAP_PAD of the line.
 */
#define CAIRN__BITMAP_PAD 64

struct cairn__graph {
	const struct cairn__map *map;
	uint32_t width, height;
	uint32_t nodes;
	int32_t *node_of;   /* width * height: the node of a cell, -1 when blocked */
	uint32_t *cell_of;  /* nodes: y * width + x of a node */
	uint8_t *dirs;      /* nodes: bit d set when the step in direction d is legal */
	uint32_t *comp;     /* nodes: connected component */
	uint64_t *rows;     /* height + 2 lines of row_words words, passable = 1 */
	uint64_t *cols;     /* width + 2 lines of col_words words: the transpose */
	uint32_t row_words; /* words per row line: 2 + ceil(width / 64) */
	uint32_t col_words; /* words per column line: 2 + ceil(height / 64) */
	int32_t step[8];    /* cell index offset of a step in each direction */
	size_t bytes;
};

/* The row bitmap of row y, y in [-1, height]. */
static inline const uint64_t *cairn__graph_row(const struct cairn__graph *g, int64_t y)
{
	return g->rows + (size_t)(y + 1) * g->row_words;
}

/* The column bitmap of column x, x in [-1, width]. */
static inline const uint64_t *cairn__graph_col(const struct cairn__graph *g, int64_t x)
{
	return g->cols + (size_t)(x + 1) * g->col_words;
}

/* Whether (x, y) is passable, for x in [-1, width] and y in [-1, height]. */
static inline bool cairn__graph_passable(const struct cairn__graph *g, int64_t x, int64_t y)
{
	uint64_t bit = (uint64_t)(x + CAIRN__BITMAP_PAD);
	return (cairn__graph_row(g, y)[bit >> 6] >> (bit & 63)) & 1;
}

/* Octile distance between two cells: the cost of the best path on an open grid. */
static inline double cairn__octile(int64_t x0, int64_t y0, int64_t x1, int64_t y1)
{
	uint64_t dx = (uint64_t)(x0 > x1 ? x0 - x1 : x1 - x0);
	uint64_t dy = (uint64_t)(y0 > y1 ? y0 - y1 : y1 - y0);
	uint64_t lo = dx < dy ? dx : dy, hi = dx < dy ? dy : dx;
	return (double)(hi - lo) + (double)lo * CAIRN__SQRT2;
}

/* ---- scratch ---- */

/*
 * What a search knows of one node. stamp says whether the rest is from this search:
 * stamp == gen means reached (open), gen + 1 closed, anything below not reached yet.
 */
struct cairn__node_state {
	uint32_t stamp;
	uint32_t parent;
	uint32_t straight, diagonal; /* g as exact counts */
};

struct cairn__heap_entry {
	double f;
	double g; /* ties on f go to the larger g: the node nearer the goal */
	uint32_t node;
};

struct cairn__scratch {
	uint32_t cap; /* nodes the arrays hold */
	uint32_t gen;
	struct cairn__node_state *state;
	struct cairn__heap_entry *heap;
	size_t heap_len, heap_cap;
	uint32_t *trail; /* a path's nodes, goal first, for the reconstruction */
	uint32_t trail_cap;
};

/*
 * Makes s ready for a search of g: grows the arrays and starts a new generation.
 * Returns 0 or -ENOMEM.
 */
int cairn__scratch_begin(struct cairn__scratch *s, const struct cairn__graph *g);

/* The open list: a binary min-heap on (f, -g), with duplicates left in place. */
int cairn__heap_push(struct cairn__scratch *s, double f, double g, uint32_t node);
struct cairn__heap_entry cairn__heap_pop(struct cairn__scratch *s);

/*
 * The result of a search: the chain of nodes from the goal back to the start through
 * parents (trail[0] = goal, trail[len - 1] = start), each link a straight or diagonal
 * line (one step for A*, one jump for JPS).
 */
struct cairn__search_result {
	uint32_t len;
	struct cairn__cost cost;
};

/*
 * The end of a search whose nodes closed carry the stamp `closed`: the chain from `to`
 * back to `from` into s->trail and *res. The caller checked that the goal is in the
 * start's component, so the search reached it; not reaching it would be a bug in the
 * search, answered with -EIO in a release build rather than a walk through stale
 * parents. Returns 0 or -EIO.
 */
int cairn__search_trail(struct cairn__scratch *s, uint32_t closed, uint32_t from, uint32_t to,
			struct cairn__search_result *res);

/*
 * Searches from node `from` to node `to` (distinct, same component) and leaves the
 * chain in s->trail. Returns 0 or -ENOMEM.
 */
int cairn__astar_search(const struct cairn__graph *g, struct cairn__scratch *s, uint32_t from,
			uint32_t to, struct cairn__search_result *res,
			struct cairn__solve_stats *stats);
int cairn__jps_search(const struct cairn__graph *g, struct cairn__scratch *s, uint32_t from,
		      uint32_t to, struct cairn__search_result *res,
		      struct cairn__solve_stats *stats);

/* ---- the first-move table ---- */

/* A run: (first target's position in the order << 3) | move. */
#define CAIRN__FM_MOVE_BITS 3
#define CAIRN__FM_MAX_NODES (UINT32_C(1) << (32 - CAIRN__FM_MOVE_BITS))

struct cairn__fm_table {
	const struct cairn__graph *graph;
	uint32_t nodes;
	uint32_t *order;   /* nodes: a target's position in the order */
	uint64_t *row_off; /* nodes + 1: where each source's runs begin in runs */
	uint32_t *runs;
	size_t bytes;
};

/* The first move from node s toward node t (s != t, same component). */
static inline enum cairn__dir cairn__fm_lookup(const struct cairn__fm_table *t, uint32_t s,
					       uint32_t target)
{
	const uint32_t *row = t->runs + t->row_off[s];
	uint32_t n = (uint32_t)(t->row_off[s + 1] - t->row_off[s]);
	uint32_t key =
		(t->order[target] << CAIRN__FM_MOVE_BITS) | ((1u << CAIRN__FM_MOVE_BITS) - 1);
	/* The last run that starts at or before the target: row[0] starts at 0. */
	uint32_t lo = 0;
	while (n > 1) {
		uint32_t half = n / 2;
		if (row[lo + half] <= key) {
			lo += half;
		}
		n -= half;
	}
	return (enum cairn__dir)(row[lo] & ((1u << CAIRN__FM_MOVE_BITS) - 1));
}

#endif
