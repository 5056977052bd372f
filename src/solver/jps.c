/*
 * Jump point search for the no-corner-cutting rules, with the straight jumps done 64
 * cells per word on the row bitmaps (and on the column bitmaps for north and south).
 *
 * Among the many optimal paths of an open grid, JPS follows only the canonical ones:
 * diagonal steps first, then straight ones. From a node reached moving in direction d
 * only these successors can begin a canonical path that no other node covers:
 *   d straight (east, say): east; and, for each side (north, south), the side and the
 *     forward diagonal toward it when the side cell is free and the cell behind it
 *     ((x - 1, y - 1) for north) is blocked: the side cell is then best reached through
 *     this node ("forced");
 *   d diagonal (north-east, say): north, east and north-east. Arriving diagonally means
 *     both cells beside the step were free, so under no corner cutting nothing is
 *     forced.
 * A jump follows one direction until a node with a forced successor, the goal, or a
 * blocked cell (then it found nothing). A straight jump needs, at each cell p ahead,
 * whether p is blocked and whether a side cell opens there (free at p, blocked at the
 * cell before p), which are word operations on three bitmap lines: the line itself and
 * the two beside it. A diagonal jump goes cell by cell and stops at a cell from which
 * either straight jump (along its two components) finds something.
 *
 * Each link of the resulting chain of jump points is a straight or diagonal line, and
 * its cost is the octile distance between its ends; the octile heuristic is consistent
 * on that graph, so, as in A*, a node is closed the first time it comes out of the
 * open list.
 */
#include <errno.h>

#include "solver/internal.h"

#define PAD CAIRN__BITMAP_PAD

/*
 * The first stop at or after bit `from` of a line scanned toward higher bits: a blocked
 * cell of mid, or a cell where side line a or b turns free (free here, blocked at the bit
 * before). The blocked padding word after the line guarantees a stop.
 */
static inline uint32_t scan_up(const uint64_t *mid, const uint64_t *a, const uint64_t *b,
			       uint32_t from)
{
	uint32_t k = from >> 6;
	uint64_t keep = ~UINT64_C(0) << (from & 63);
	for (;; k++, keep = ~UINT64_C(0)) {
		/* Each side line moved up one bit, so that bit p holds the cell before p. */
		uint64_t a_before = (a[k] << 1) | (a[k - 1] >> 63);
		uint64_t b_before = (b[k] << 1) | (b[k - 1] >> 63);
		uint64_t stop = (~mid[k] | (a[k] & ~a_before) | (b[k] & ~b_before)) & keep;
		if (stop) {
			return k * 64 + (uint32_t)__builtin_ctzll(stop);
		}
	}
}

/* As scan_up, toward lower bits: "before" is then the bit above. */
static inline uint32_t scan_down(const uint64_t *mid, const uint64_t *a, const uint64_t *b,
				 uint32_t from)
{
	uint32_t k = from >> 6;
	uint64_t keep = ~UINT64_C(0) >> (63 - (from & 63));
	for (;; k--, keep = ~UINT64_C(0)) {
		uint64_t a_before = (a[k] >> 1) | (a[k + 1] << 63);
		uint64_t b_before = (b[k] >> 1) | (b[k + 1] << 63);
		uint64_t stop = (~mid[k] | (a[k] & ~a_before) | (b[k] & ~b_before)) & keep;
		if (stop) {
			return k * 64 + 63 - (uint32_t)__builtin_clzll(stop);
		}
	}
}

static inline bool bit_set(const uint64_t *line, uint32_t bit)
{
	return (line[bit >> 6] >> (bit & 63)) & 1;
}

struct target {
	int64_t x, y;
};

/*
 * Jumps from (x, y) in straight direction d. Returns true with the jump point (or the
 * goal, which every jump stops at) in *jx, *jy; false when the line ends in a wall first.
 */
static inline bool jump_straight(const struct cairn__graph *g, int64_t x, int64_t y, unsigned d,
				 struct target goal, int64_t *jx, int64_t *jy)
{
	const uint64_t *mid, *a, *b;
	int64_t p;
	switch (d) {
	case CAIRN__DIR_E:
		mid = cairn__graph_row(g, y);
		a = cairn__graph_row(g, y - 1);
		b = cairn__graph_row(g, y + 1);
		p = (int64_t)scan_up(mid, a, b, (uint32_t)(x + 1 + PAD)) - PAD;
		if (goal.y == y && goal.x > x && goal.x <= p) {
			p = goal.x;
			break;
		}
		if (!bit_set(mid, (uint32_t)(p + PAD))) {
			return false;
		}
		break;
	case CAIRN__DIR_W:
		mid = cairn__graph_row(g, y);
		a = cairn__graph_row(g, y - 1);
		b = cairn__graph_row(g, y + 1);
		p = (int64_t)scan_down(mid, a, b, (uint32_t)(x - 1 + PAD)) - PAD;
		if (goal.y == y && goal.x < x && goal.x >= p) {
			p = goal.x;
			break;
		}
		if (!bit_set(mid, (uint32_t)(p + PAD))) {
			return false;
		}
		break;
	case CAIRN__DIR_S:
		mid = cairn__graph_col(g, x);
		a = cairn__graph_col(g, x - 1);
		b = cairn__graph_col(g, x + 1);
		p = (int64_t)scan_up(mid, a, b, (uint32_t)(y + 1 + PAD)) - PAD;
		if (goal.x == x && goal.y > y && goal.y <= p) {
			p = goal.y;
			break;
		}
		if (!bit_set(mid, (uint32_t)(p + PAD))) {
			return false;
		}
		break;
	default: /* CAIRN__DIR_N */
		mid = cairn__graph_col(g, x);
		a = cairn__graph_col(g, x - 1);
		b = cairn__graph_col(g, x + 1);
		p = (int64_t)scan_down(mid, a, b, (uint32_t)(y - 1 + PAD)) - PAD;
		if (goal.x == x && goal.y < y && goal.y >= p) {
			p = goal.y;
			break;
		}
		if (!bit_set(mid, (uint32_t)(p + PAD))) {
			return false;
		}
		break;
	}
	if (d == CAIRN__DIR_E || d == CAIRN__DIR_W) {
		*jx = p;
		*jy = y;
	} else {
		*jx = x;
		*jy = p;
	}
	return true;
}

/*
 * Jumps from (x, y) in diagonal direction d, one legal step at a time, until the goal or
 * a cell from which a straight jump along one of d's two components finds something.
 */
static inline bool jump_diagonal(const struct cairn__graph *g, int64_t x, int64_t y, unsigned d,
				 struct target goal, int64_t *jx, int64_t *jy)
{
	const int64_t dx = cairn__dir_dx[d], dy = cairn__dir_dy[d];
	const unsigned horizontal = dx > 0 ? CAIRN__DIR_E : CAIRN__DIR_W;
	const unsigned vertical = dy > 0 ? CAIRN__DIR_S : CAIRN__DIR_N;
	const int64_t w = g->width;
	int64_t ix, iy;
	for (;;) {
		int32_t node = g->node_of[y * w + x];
		if (!((g->dirs[node] >> d) & 1)) {
			return false;
		}
		x += dx;
		y += dy;
		if ((x == goal.x && y == goal.y) ||
		    jump_straight(g, x, y, horizontal, goal, &ix, &iy) ||
		    jump_straight(g, x, y, vertical, goal, &ix, &iy)) {
			*jx = x;
			*jy = y;
			return true;
		}
	}
}

/* The directions worth jumping in from (x, y), reached moving in direction d (8: start). */
static unsigned successors(const struct cairn__graph *g, int64_t x, int64_t y, unsigned d)
{
	if (d == CAIRN__DIR_NONE) {
		return 0xff;
	}
	if (d & 1) {
		return (1u << d) | (1u << ((d + 7) & 7)) | (1u << ((d + 1) & 7));
	}
	unsigned out = 1u << d;
	const unsigned back = (d + 4) & 7;
	for (unsigned turn = 2; turn <= 6; turn += 4) {
		unsigned side = (d + turn) & 7;
		int64_t sx = x + cairn__dir_dx[side], sy = y + cairn__dir_dy[side];
		if (cairn__graph_passable(g, sx, sy) &&
		    !cairn__graph_passable(g, sx + cairn__dir_dx[back], sy + cairn__dir_dy[back])) {
			/* The side, and the diagonal between it and d. */
			out |= (1u << side) | (1u << ((d + (turn == 2 ? 1 : 7)) & 7));
		}
	}
	return out;
}

/* The direction of the line from (x0, y0) to (x1, y1), which differ. */
static unsigned line_dir(int64_t x0, int64_t y0, int64_t x1, int64_t y1)
{
	int sx = (x1 > x0) - (x1 < x0), sy = (y1 > y0) - (y1 < y0);
	for (unsigned d = 0; d < 8; d++) {
		if (cairn__dir_dx[d] == sx && cairn__dir_dy[d] == sy) {
			return d;
		}
	}
	return CAIRN__DIR_NONE;
}

int cairn__jps_search(const struct cairn__graph *g, struct cairn__scratch *s, uint32_t from,
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
	struct target goal = {goal_cell % w, goal_cell / w};
	uint64_t expansions = 0;

	uint32_t start_cell = g->cell_of[from];
	st[from] = (struct cairn__node_state){.stamp = gen, .parent = from};
	r = cairn__heap_push(s, cairn__octile(start_cell % w, start_cell / w, goal.x, goal.y), 0,
			     from);
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
		unsigned arrived = CAIRN__DIR_NONE;
		if (u != from) {
			uint32_t pc = g->cell_of[st[u].parent];
			arrived = line_dir(pc % w, pc / w, ux, uy);
		}
		for (unsigned m = successors(g, ux, uy, arrived) & g->dirs[u]; m; m &= m - 1) {
			unsigned d = (unsigned)__builtin_ctz(m);
			int64_t jx, jy;
			bool found = d & 1 ? jump_diagonal(g, ux, uy, d, goal, &jx, &jy)
					   : jump_straight(g, ux, uy, d, goal, &jx, &jy);
			if (!found) {
				continue;
			}
			uint32_t v = (uint32_t)g->node_of[jy * w + jx];
			if (st[v].stamp == closed) {
				continue;
			}
			uint32_t steps = (uint32_t)(jx != ux ? (jx > ux ? jx - ux : ux - jx)
							     : (jy > uy ? jy - uy : uy - jy));
			uint32_t ns = st[u].straight + (d & 1 ? 0 : steps);
			uint32_t nd = st[u].diagonal + (d & 1 ? steps : 0);
			double ng = (double)ns + (double)nd * CAIRN__SQRT2;
			if (st[v].stamp == gen &&
			    (double)st[v].straight + (double)st[v].diagonal * CAIRN__SQRT2 <= ng) {
				continue;
			}
			st[v] = (struct cairn__node_state){
				.stamp = gen, .parent = u, .straight = ns, .diagonal = nd};
			r = cairn__heap_push(s, ng + cairn__octile(jx, jy, goal.x, goal.y), ng, v);
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
