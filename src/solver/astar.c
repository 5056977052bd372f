/*
 * A* with the octile heuristic: the reference every other method is measured against.
 *
 * The octile distance is the exact cost on a grid without obstacles, so it never
 * overestimates and is consistent: the first time a node leaves the open list its g is
 * optimal, and it is closed for good. A node whose g improves is pushed again instead
 * of moved inside the heap; the worse copy is skipped when it comes out (the node is
 * closed by then).
 */
#include <errno.h>

#include "solver/internal.h"

static inline double cost_of(uint32_t straight, uint32_t diagonal)
{
	return (double)straight + (double)diagonal * CAIRN__SQRT2;
}

int cairn__astar_search(const struct cairn__graph *g, struct cairn__scratch *s, uint32_t from,
			uint32_t to, struct cairn__search_result *res,
			struct cairn__solve_stats *stats)
{
	int r = cairn__scratch_begin(s, g);
	if (r < 0) {
		return r;
	}
	const uint32_t w = g->width;
	const uint32_t gen = s->gen, closed = s->gen + 1;
	struct cairn__node_state *st = s->state;
	uint32_t goal_cell = g->cell_of[to];
	int64_t gx = goal_cell % w, gy = goal_cell / w;
	uint64_t expansions = 0;

	uint32_t start_cell = g->cell_of[from];
	st[from] = (struct cairn__node_state){.stamp = gen, .parent = from};
	r = cairn__heap_push(s, cairn__octile(start_cell % w, start_cell / w, gx, gy), 0, from);
	if (r < 0) {
		return r;
	}
	while (s->heap_len > 0) {
		struct cairn__heap_entry e = cairn__heap_pop(s);
		uint32_t u = e.node;
		if (st[u].stamp == closed) {
			continue;
		}
		st[u].stamp = closed;
		expansions++;
		if (u == to) {
			break;
		}
		uint32_t cell = g->cell_of[u];
		int64_t ux = cell % w, uy = cell / w;
		for (unsigned m = g->dirs[u]; m; m &= m - 1) {
			unsigned d = (unsigned)__builtin_ctz(m);
			uint32_t v = (uint32_t)g->node_of[(int64_t)cell + g->step[d]];
			if (st[v].stamp == closed) {
				continue;
			}
			uint32_t ns = st[u].straight + !(d & 1), nd = st[u].diagonal + (d & 1);
			double ng = cost_of(ns, nd);
			if (st[v].stamp == gen && cost_of(st[v].straight, st[v].diagonal) <= ng) {
				continue;
			}
			st[v] = (struct cairn__node_state){
				.stamp = gen, .parent = u, .straight = ns, .diagonal = nd};
			double h =
				cairn__octile(ux + cairn__dir_dx[d], uy + cairn__dir_dy[d], gx, gy);
			r = cairn__heap_push(s, ng + h, ng, v);
			if (r < 0) {
				return r;
			}
		}
	}
	if (stats) {
		stats->expansions += expansions;
	}
	return cairn__search_trail(s, closed, from, to, res);
}
