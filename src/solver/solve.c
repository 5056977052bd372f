/*
 * The queries: endpoint checks, the choice of method, and turning what a method found
 * into a first move, a cost or the cells of a path.
 *
 * A* and JPS leave a chain of nodes from the goal back to the start, each link a
 * straight or diagonal line (a step for A*, a jump for JPS); the path is those lines
 * filled in. The table gives one move at a time; its path is those moves followed.
 */
#include <assert.h>
#include <errno.h>

#include "solver/internal.h"

/* Checks a query's arguments and endpoints; on success sets the two nodes. */
static int endpoints(const struct cairn__graph *g, const struct cairn__fm_table *t,
		     struct cairn__cell from, struct cairn__cell to, uint32_t *fn, uint32_t *tn)
{
	if (!g || (t && t->graph != g)) {
		return -EINVAL;
	}
	const struct cairn__cell c[2] = {from, to};
	for (int i = 0; i < 2; i++) {
		if (c[i].x < 0 || c[i].y < 0 || (uint32_t)c[i].x >= g->width ||
		    (uint32_t)c[i].y >= g->height) {
			return -CAIRN_E_OFF_MAP;
		}
	}
	int32_t a = g->node_of[(size_t)from.y * g->width + (size_t)from.x];
	int32_t b = g->node_of[(size_t)to.y * g->width + (size_t)to.x];
	if (a < 0 || b < 0) {
		return -CAIRN_E_BLOCKED;
	}
	if (g->comp[a] != g->comp[b]) {
		return -CAIRN_E_UNREACHABLE;
	}
	*fn = (uint32_t)a;
	*tn = (uint32_t)b;
	return 0;
}

/* The method that answers: AUTO resolved, TABLE only with a table, search with scratch. */
static int resolve(const struct cairn__fm_table *t, const struct cairn__scratch *s,
		   enum cairn__method method, enum cairn__method *out)
{
	switch (method) {
	case CAIRN__METHOD_AUTO:
		*out = t ? CAIRN__METHOD_TABLE : CAIRN__METHOD_JPS;
		break;
	case CAIRN__METHOD_ASTAR:
	case CAIRN__METHOD_JPS:
	case CAIRN__METHOD_TABLE:
		*out = method;
		break;
	default:
		return -EINVAL;
	}
	if (*out == CAIRN__METHOD_TABLE) {
		return t ? 0 : -CAIRN_E_TABLE_NOT_READY;
	}
	return s ? 0 : -EINVAL;
}

static int search(const struct cairn__graph *g, struct cairn__scratch *s, enum cairn__method m,
		  uint32_t fn, uint32_t tn, struct cairn__search_result *res,
		  struct cairn__solve_stats *stats)
{
	return m == CAIRN__METHOD_ASTAR ? cairn__astar_search(g, s, fn, tn, res, stats)
					: cairn__jps_search(g, s, fn, tn, res, stats);
}

static struct cairn__cell cell_of(const struct cairn__graph *g, uint32_t node)
{
	uint32_t c = g->cell_of[node];
	return (struct cairn__cell){(int32_t)(c % g->width), (int32_t)(c / g->width)};
}

static enum cairn__dir dir_between(struct cairn__cell a, struct cairn__cell b)
{
	int sx = (b.x > a.x) - (b.x < a.x), sy = (b.y > a.y) - (b.y < a.y);
	for (unsigned d = 0; d < 8; d++) {
		if (cairn__dir_dx[d] == sx && cairn__dir_dy[d] == sy) {
			return (enum cairn__dir)d;
		}
	}
	return CAIRN__DIR_NONE;
}

/*
 * Follows the table from fn to tn, writing the cells into cells[0..cap) (cells may be
 * NULL with cap 0); sets *n and *cost for the whole path.
 */
static int follow(const struct cairn__graph *g, const struct cairn__fm_table *t, uint32_t fn,
		  uint32_t tn, struct cairn__cell *cells, uint32_t cap, uint32_t *n,
		  struct cairn__cost *cost, struct cairn__solve_stats *stats)
{
	struct cairn__cell c = cell_of(g, fn);
	struct cairn__cost k = {0, 0};
	uint32_t len = 0, u = fn;
	if (len < cap) {
		cells[len] = c;
	}
	len++;
	/*
	 * Every move of an optimal path leads to a node strictly nearer the target, so the
	 * walk ends within as many steps as there are nodes; more would be a broken table.
	 */
	while (u != tn) {
		if (len > g->nodes) {
			assert(!"a first-move table walk did not arrive");
			return -EIO;
		}
		enum cairn__dir d = cairn__fm_lookup(t, u, tn);
		assert((g->dirs[u] >> d) & 1);
		u = (uint32_t)g->node_of[(int64_t)g->cell_of[u] + g->step[d]];
		c.x += cairn__dir_dx[d];
		c.y += cairn__dir_dy[d];
		k.straight += !(d & 1);
		k.diagonal += d & 1;
		if (len < cap) {
			cells[len] = c;
		}
		len++;
	}
	if (stats) {
		stats->expansions += len - 1;
	}
	if (n) {
		*n = len;
	}
	if (cost) {
		*cost = k;
	}
	return len > cap ? -ENOBUFS : 0;
}

int cairn__solve_next(const struct cairn__graph *g, const struct cairn__fm_table *t,
		      struct cairn__scratch *s, enum cairn__method method, struct cairn__cell from,
		      struct cairn__cell to, enum cairn__dir *dir, struct cairn__solve_stats *stats)
{
	uint32_t fn, tn;
	enum cairn__method m = CAIRN__METHOD_AUTO;
	if (stats) {
		stats->expansions = 0;
	}
	int r = endpoints(g, t, from, to, &fn, &tn);
	if (r == 0) {
		r = resolve(t, s, method, &m);
	}
	if (r < 0) {
		return r;
	}
	if (!dir) {
		return -EINVAL;
	}
	if (fn == tn) {
		*dir = CAIRN__DIR_NONE;
		return 0;
	}
	if (m == CAIRN__METHOD_TABLE) {
		*dir = cairn__fm_lookup(t, fn, tn);
		if (stats) {
			stats->expansions = 1;
		}
		return 0;
	}
	struct cairn__search_result res;
	r = search(g, s, m, fn, tn, &res, stats);
	if (r < 0) {
		return r;
	}
	/* trail[len - 1] is the start, trail[len - 2] the end of the first line. */
	*dir = dir_between(from, cell_of(g, s->trail[res.len - 2]));
	return 0;
}

int cairn__solve_cost(const struct cairn__graph *g, const struct cairn__fm_table *t,
		      struct cairn__scratch *s, enum cairn__method method, struct cairn__cell from,
		      struct cairn__cell to, struct cairn__cost *cost,
		      struct cairn__solve_stats *stats)
{
	uint32_t fn, tn;
	enum cairn__method m = CAIRN__METHOD_AUTO;
	if (stats) {
		stats->expansions = 0;
	}
	int r = endpoints(g, t, from, to, &fn, &tn);
	if (r == 0) {
		r = resolve(t, s, method, &m);
	}
	if (r < 0) {
		return r;
	}
	if (!cost) {
		return -EINVAL;
	}
	if (fn == tn) {
		*cost = (struct cairn__cost){0, 0};
		return 0;
	}
	if (m == CAIRN__METHOD_TABLE) {
		return follow(g, t, fn, tn, NULL, 0, NULL, cost, stats) == -EIO ? -EIO : 0;
	}
	struct cairn__search_result res;
	r = search(g, s, m, fn, tn, &res, stats);
	if (r < 0) {
		return r;
	}
	*cost = res.cost;
	return 0;
}

int cairn__solve_path(const struct cairn__graph *g, const struct cairn__fm_table *t,
		      struct cairn__scratch *s, enum cairn__method method, struct cairn__cell from,
		      struct cairn__cell to, struct cairn__cell *cells, uint32_t cap, uint32_t *n,
		      struct cairn__cost *cost, struct cairn__solve_stats *stats)
{
	uint32_t fn, tn;
	enum cairn__method m = CAIRN__METHOD_AUTO;
	if (stats) {
		stats->expansions = 0;
	}
	int r = endpoints(g, t, from, to, &fn, &tn);
	if (r == 0) {
		r = resolve(t, s, method, &m);
	}
	if (r < 0) {
		return r;
	}
	if (!n || (!cells && cap > 0)) {
		return -EINVAL;
	}
	if (m == CAIRN__METHOD_TABLE || fn == tn) {
		/* from == to needs no table: the walk ends before its first lookup. */
		return follow(g, t, fn, tn, cells, cap, n, cost, stats);
	}
	struct cairn__search_result res;
	r = search(g, s, m, fn, tn, &res, stats);
	if (r < 0) {
		return r;
	}
	uint32_t len = 0;
	struct cairn__cell c = from;
	if (len < cap) {
		cells[len] = c;
	}
	len++;
	for (uint32_t i = res.len - 1; i > 0; i--) {
		struct cairn__cell next = cell_of(g, s->trail[i - 1]);
		enum cairn__dir d = dir_between(c, next);
		while (c.x != next.x || c.y != next.y) {
			c.x += cairn__dir_dx[d];
			c.y += cairn__dir_dy[d];
			if (len < cap) {
				cells[len] = c;
			}
			len++;
		}
	}
	*n = len;
	if (cost) {
		*cost = res.cost;
	}
	return len > cap ? -ENOBUFS : 0;
}

uint32_t cairn__path_waypoints(struct cairn__cell *cells, uint32_t n)
{
	if (n <= 2) {
		return n;
	}
	uint32_t kept = 1;
	for (uint32_t i = 1; i + 1 < n; i++) {
		/* Compared with the original cells: kept ones overwrite only what was read. */
		int ax = cells[i].x - cells[i - 1].x, ay = cells[i].y - cells[i - 1].y;
		int bx = cells[i + 1].x - cells[i].x, by = cells[i + 1].y - cells[i].y;
		if (ax != bx || ay != by) {
			cells[kept++] = cells[i];
		}
	}
	cells[kept++] = cells[n - 1];
	return kept;
}
