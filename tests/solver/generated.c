/*
 * Every method against a plain reference Dijkstra on generated maps: open, random
 * obstacles at several densities and seeds, mazes, rooms, a single cell, two walled-off
 * halves, and corner-cutting traps (diagonal walls, checkerboards, zig-zag corridors).
 *
 * For random pairs on each map, each of A*, JPS, the table, AUTO with the table and AUTO
 * without must give the reference's cost (the counts equal, the value within 1e-9), a
 * legal path of that cost, and a first move that begins an optimal path: cost(from) =
 * step + cost(next) by the reference. Then the errors (off the map, blocked, unreachable,
 * no table, bad arguments), -ENOBUFS with small buffers, and waypoints.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

struct slot {
	enum cairn__method method;
	bool with_table;
};

/* The methods every pair is asked by; AUTO is asked with and without a table. */
static const struct slot slots[] = {
	{CAIRN__METHOD_ASTAR, false}, {CAIRN__METHOD_JPS, false},  {CAIRN__METHOD_TABLE, true},
	{CAIRN__METHOD_AUTO, true},   {CAIRN__METHOD_AUTO, false},
};
#define NSLOTS (sizeof(slots) / sizeof(slots[0]))

struct env {
	const struct cairn__map *m;
	struct cairn__graph *g;
	struct cairn__fm_table *t;
	struct cairn__scratch *s;
	struct cairn__cell *cells; /* nodes + 1 cells */
	uint32_t cap;
};

struct tally {
	uint64_t pairs, reachable, unreachable, same, checks;
};

static void env_open(struct env *e, const struct cairn__map *m)
{
	memset(e, 0, sizeof(*e));
	e->m = m;
	ASSERT_OK(cairn__graph_build(m, &e->g));
	ASSERT_UEQ(cairn__graph_nodes(e->g), m->passable);
	ASSERT_TRUE(cairn__graph_map(e->g) == m);
	ASSERT_TRUE(cairn__graph_bytes(e->g) > 0);
	ASSERT_OK(cairn__fm_build(e->g, 2, NULL, NULL, NULL, &e->t));
	ASSERT_TRUE(cairn__fm_graph(e->t) == e->g);
	ASSERT_OK(cairn__scratch_new(&e->s));
	e->cap = m->passable + 1;
	e->cells = malloc(e->cap * sizeof(*e->cells));
	ASSERT_TRUE(e->cells != NULL);
}

static void env_close(struct env *e)
{
	free(e->cells);
	cairn__scratch_free(e->s);
	cairn__fm_free(e->t);
	cairn__graph_free(e->g);
}

static bool same_cost(struct cairn__cost a, struct cairn__cost b)
{
	return a.straight == b.straight && a.diagonal == b.diagonal;
}

/* Checks one pair by every method against ref (run for `to`). */
static void check_pair(struct env *e, const struct kit_ref *ref, struct cairn__cell from,
		       struct cairn__cell to, struct tally *tl)
{
	struct cairn__cost want;
	bool reach = kit_ref_cost(ref, from, &want);
	tl->pairs++;
	tl->reachable += reach;
	tl->unreachable += !reach;
	tl->same += from.x == to.x && from.y == to.y;
	for (size_t i = 0; i < NSLOTS; i++) {
		const struct cairn__fm_table *t = slots[i].with_table ? e->t : NULL;
		enum cairn__method meth = slots[i].method;
		char ctx[160];
		snprintf(ctx, sizeof(ctx), "%s %ux%u: %s%s (%d, %d) -> (%d, %d)", e->m->name,
			 e->m->width, e->m->height, kit_method_name(meth),
			 meth == CAIRN__METHOD_AUTO ? (t ? " with table" : " without table") : "",
			 from.x, from.y, to.x, to.y);

		struct cairn__cost cost = {UINT32_MAX, UINT32_MAX};
		struct cairn__solve_stats st = {UINT64_MAX};
		int r = cairn__solve_cost(e->g, t, e->s, meth, from, to, &cost, &st);
		if (!reach) {
			if (r != -CAIRN_E_UNREACHABLE) {
				T_FAILF("%s: cost returned %d, want -CAIRN_E_UNREACHABLE", ctx, r);
			}
		} else {
			if (r != 0) {
				T_FAILF("%s: cost returned %d (%s)", ctx, r, cairn_strerror(r));
			}
			if (!same_cost(cost, want)) {
				T_FAILF("%s: cost %u + %u sqrt2, the reference %u + %u sqrt2", ctx,
					cost.straight, cost.diagonal, want.straight, want.diagonal);
			}
			double a = cairn__cost_value(cost);
			double b = (double)want.straight + (double)want.diagonal * sqrt(2.0);
			if (fabs(a - b) > 1e-9 * (b > 1 ? b : 1)) {
				T_FAILF("%s: cost %.12f, the reference %.12f", ctx, a, b);
			}
			if (!same_cost(want, (struct cairn__cost){0, 0}) && st.expansions == 0) {
				T_FAILF("%s: a search with no expansions", ctx);
			}
		}

		uint32_t n = 0;
		cost = (struct cairn__cost){UINT32_MAX, UINT32_MAX};
		r = cairn__solve_path(e->g, t, e->s, meth, from, to, e->cells, e->cap, &n, &cost,
				      NULL);
		if (!reach) {
			ASSERT_EQ(r, -CAIRN_E_UNREACHABLE);
		} else {
			if (r != 0) {
				T_FAILF("%s: path returned %d (%s)", ctx, r, cairn_strerror(r));
			}
			if (!same_cost(cost, want)) {
				T_FAILF("%s: path cost %u + %u, the reference %u + %u", ctx,
					cost.straight, cost.diagonal, want.straight, want.diagonal);
			}
			ASSERT_UEQ(n, (uint64_t)want.straight + want.diagonal + 1);
			kit_check_path(ctx, e->m, from, to, e->cells, n, cost);
		}

		enum cairn__dir dir = (enum cairn__dir)99;
		r = cairn__solve_next(e->g, t, e->s, meth, from, to, &dir, NULL);
		if (!reach) {
			ASSERT_EQ(r, -CAIRN_E_UNREACHABLE);
		} else if (from.x == to.x && from.y == to.y) {
			ASSERT_EQ(r, 0);
			ASSERT_EQ(dir, CAIRN__DIR_NONE);
		} else {
			if (r != 0) {
				T_FAILF("%s: next returned %d (%s)", ctx, r, cairn_strerror(r));
			}
			if ((unsigned)dir > 7 || !kit_step_legal(e->m, from.x, from.y, dir)) {
				T_FAILF("%s: next move %d is not a legal step", ctx, (int)dir);
			}
			struct cairn__cell nx = {from.x + cairn__dir_dx[dir],
						 from.y + cairn__dir_dy[dir]};
			struct cairn__cost rest;
			ASSERT_TRUE(kit_ref_cost(ref, nx, &rest));
			rest.straight += !(dir & 1);
			rest.diagonal += dir & 1;
			if (!same_cost(rest, want)) {
				T_FAILF("%s: next move %d leads to a path of %u + %u, the best is "
					"%u + %u",
					ctx, (int)dir, rest.straight, rest.diagonal, want.straight,
					want.diagonal);
			}
		}
		tl->checks += 3;
	}
}

/* Random pairs on m: `targets` targets, `sources` sources each, and each target itself. */
static void check_map(struct cairn__map *m, uint32_t targets, uint32_t sources, uint64_t seed)
{
	struct env e;
	env_open(&e, m);
	struct kit_ref ref;
	kit_ref_init(&ref, m);
	struct tally tl = {0};
	uint64_t rng = seed;
	for (uint32_t i = 0; i < targets; i++) {
		struct cairn__cell to = kit_random_passable(m, &rng);
		kit_ref_run(&ref, to);
		check_pair(&e, &ref, to, to, &tl);
		for (uint32_t j = 0; j < sources; j++) {
			check_pair(&e, &ref, kit_random_passable(m, &rng), to, &tl);
		}
	}
	printf("ok: %-11s %3ux%-3u %5u nodes: %4" PRIu64 " pairs (%" PRIu64 " reachable, %" PRIu64
	       " unreachable, %" PRIu64 " from = to) x %zu methods: %" PRIu64
	       " cost/path/next answers equal the reference\n",
	       m->name, m->width, m->height, m->passable, tl.pairs, tl.reachable, tl.unreachable,
	       tl.same, NSLOTS, tl.checks);
	kit_ref_free(&ref);
	env_close(&e);
}

/* Every query function, every method, with and without a table, gives want. */
static void expect_error(struct env *e, struct cairn__cell from, struct cairn__cell to, int want,
			 bool table_too, const char *what, unsigned *count)
{
	for (size_t i = 0; i < NSLOTS + 1; i++) {
		/* The extra slot: TABLE without a table, which an endpoint error precedes. */
		enum cairn__method meth = i < NSLOTS ? slots[i].method : CAIRN__METHOD_TABLE;
		const struct cairn__fm_table *t = i < NSLOTS && slots[i].with_table ? e->t : NULL;
		int w = want;
		if (!t && meth == CAIRN__METHOD_TABLE && !table_too) {
			w = -CAIRN_E_TABLE_NOT_READY;
		}
		enum cairn__dir dir;
		struct cairn__cost cost;
		uint32_t n;
		int r1 = cairn__solve_next(e->g, t, e->s, meth, from, to, &dir, NULL);
		int r2 = cairn__solve_cost(e->g, t, e->s, meth, from, to, &cost, NULL);
		int r3 = cairn__solve_path(e->g, t, e->s, meth, from, to, e->cells, e->cap, &n,
					   &cost, NULL);
		if (r1 != w || r2 != w || r3 != w) {
			T_FAILF("%s, %s%s: (%d, %d) -> (%d, %d): next %d, cost %d, path %d, want "
				"%d",
				what, kit_method_name(meth), t ? " with table" : "", from.x, from.y,
				to.x, to.y, r1, r2, r3, w);
		}
		*count += 3;
	}
}

static void check_errors(void)
{
	struct cairn__map *m = kit_gen_split(20, 10);
	struct env e;
	env_open(&e, m);
	unsigned count = 0;
	const struct cairn__cell left = {2, 3}, right = {15, 7}, wall = {10, 4};
	const struct cairn__cell off[] = {
		{-1, 0}, {0, -1}, {20, 0}, {0, 10}, {INT32_MIN, 0}, {0, INT32_MAX}, {-5, -5},
	};
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		expect_error(&e, off[i], left, -CAIRN_E_OFF_MAP, true, "from off the map", &count);
		expect_error(&e, left, off[i], -CAIRN_E_OFF_MAP, true, "to off the map", &count);
		/* Off the map wins over blocked. */
		expect_error(&e, off[i], wall, -CAIRN_E_OFF_MAP, true, "off and blocked", &count);
	}
	expect_error(&e, wall, left, -CAIRN_E_BLOCKED, true, "from blocked", &count);
	expect_error(&e, left, wall, -CAIRN_E_BLOCKED, true, "to blocked", &count);
	expect_error(&e, wall, wall, -CAIRN_E_BLOCKED, true, "both blocked", &count);
	expect_error(&e, left, right, -CAIRN_E_UNREACHABLE, true, "other half", &count);
	expect_error(&e, right, left, -CAIRN_E_UNREACHABLE, true, "other half", &count);
	/* Good endpoints: only TABLE without a table fails. */
	expect_error(&e, left, (struct cairn__cell){5, 8}, 0, false, "good", &count);
	expect_error(&e, left, left, 0, false, "same cell", &count);

	/* Caller mistakes. */
	enum cairn__dir dir;
	struct cairn__cost cost;
	uint32_t n;
	ASSERT_EQ(cairn__solve_next(e.g, NULL, e.s, (enum cairn__method)7, left, left, &dir, NULL),
		  -EINVAL);
	ASSERT_EQ(cairn__solve_next(NULL, NULL, e.s, CAIRN__METHOD_JPS, left, left, &dir, NULL),
		  -EINVAL);
	ASSERT_EQ(cairn__solve_cost(e.g, NULL, NULL, CAIRN__METHOD_ASTAR, left, left, &cost, NULL),
		  -EINVAL);
	ASSERT_EQ(cairn__solve_path(e.g, NULL, e.s, CAIRN__METHOD_JPS, left, left, NULL, 4, &n,
				    &cost, NULL),
		  -EINVAL);
	struct cairn__fm_table *none = e.t;
	ASSERT_EQ(cairn__fm_build(e.g, 0, NULL, NULL, NULL, &none), -EINVAL);
	ASSERT_TRUE(none == NULL);
	count += 5;
	/* A table of another graph. */
	struct cairn__map *m2 = kit_gen_open(20, 10);
	struct cairn__graph *g2;
	struct cairn__fm_table *t2;
	ASSERT_OK(cairn__graph_build(m2, &g2));
	ASSERT_OK(cairn__fm_build(g2, 1, NULL, NULL, NULL, &t2));
	ASSERT_EQ(cairn__solve_next(e.g, t2, e.s, CAIRN__METHOD_TABLE, left, left, &dir, NULL),
		  -EINVAL);
	/* The table is answered without scratch. */
	ASSERT_OK(cairn__solve_next(g2, t2, NULL, CAIRN__METHOD_TABLE, left, right, &dir, NULL));
	ASSERT_TRUE(dir <= CAIRN__DIR_NW);
	count += 2;
	cairn__fm_free(t2);
	cairn__graph_free(g2);
	cairn__map_free(m2);
	/* NULL is accepted by the destructors. */
	cairn__graph_free(NULL);
	cairn__fm_free(NULL);
	cairn__scratch_free(NULL);
	printf("ok: errors: off-map (%zu cells), blocked, unreachable, no table, bad arguments: "
	       "%u answers right\n",
	       sizeof(off) / sizeof(off[0]), count);
	env_close(&e);
	cairn__map_free(m);
}

/* -ENOBUFS: *n and *cost still set, the first cap cells written and nothing past them. */
static void check_enobufs(void)
{
	struct cairn__map *m = kit_gen_rooms(48, 40, 11);
	struct env e;
	env_open(&e, m);
	uint64_t rng = 99;
	unsigned checked = 0;
	struct cairn__cell *small = malloc((e.cap + 1) * sizeof(*small));
	ASSERT_TRUE(small != NULL);
	while (checked < 40) {
		struct cairn__cell a = kit_random_passable(m, &rng),
				   b = kit_random_passable(m, &rng);
		for (size_t i = 0; i < NSLOTS; i++) {
			const struct cairn__fm_table *t = slots[i].with_table ? e.t : NULL;
			uint32_t n = 0;
			struct cairn__cost full;
			int r = cairn__solve_path(e.g, t, e.s, slots[i].method, a, b, e.cells,
						  e.cap, &n, &full, NULL);
			if (r == -CAIRN_E_UNREACHABLE) {
				break;
			}
			ASSERT_OK(r);
			uint32_t caps[] = {0, 1, n / 2, n - 1};
			for (size_t k = 0; k < 4; k++) {
				uint32_t cap = caps[k];
				if (cap >= n) {
					continue;
				}
				for (uint32_t j = 0; j <= e.cap; j++) {
					small[j] = (struct cairn__cell){-7, -7};
				}
				uint32_t n2 = 0;
				struct cairn__cost c2 = {0, 0};
				r = cairn__solve_path(e.g, t, e.s, slots[i].method, a, b,
						      cap ? small : NULL, cap, &n2, &c2, NULL);
				ASSERT_EQ(r, -ENOBUFS);
				ASSERT_UEQ(n2, n);
				ASSERT_TRUE(same_cost(c2, full));
				for (uint32_t j = 0; j < cap; j++) {
					ASSERT_TRUE(small[j].x == e.cells[j].x &&
						    small[j].y == e.cells[j].y);
				}
				if (cap > 0) {
					ASSERT_TRUE(small[cap].x == -7 && small[cap].y == -7);
				}
				checked++;
			}
			/* Exactly enough room is not -ENOBUFS. */
			ASSERT_OK(cairn__solve_path(e.g, t, e.s, slots[i].method, a, b, small, n,
						    &n, &full, NULL));
		}
	}
	printf("ok: -ENOBUFS: %u short buffers (caps 0, 1, n/2, n-1) got the full n and cost "
	       "and only their first cells\n",
	       checked);
	free(small);
	env_close(&e);
	cairn__map_free(m);
}

static void check_waypoints_of(const struct cairn__cell *p, uint32_t n, uint32_t want)
{
	struct cairn__cell w[512];
	ASSERT_TRUE(n <= 512);
	memcpy(w, p, n * sizeof(*w));
	uint32_t k = cairn__path_waypoints(w, n);
	if (want != UINT32_MAX) {
		ASSERT_UEQ(k, want);
	}
	if (n == 0) {
		ASSERT_UEQ(k, 0);
		return;
	}
	ASSERT_TRUE(w[0].x == p[0].x && w[0].y == p[0].y);
	ASSERT_TRUE(w[k - 1].x == p[n - 1].x && w[k - 1].y == p[n - 1].y);
	/* Walking the lines between kept cells gives the path back, cell for cell. */
	uint32_t at = 0;
	for (uint32_t i = 1; i < k; i++) {
		int dx = w[i].x - w[i - 1].x, dy = w[i].y - w[i - 1].y;
		ASSERT_TRUE(dx == 0 || dy == 0 || abs(dx) == abs(dy));
		int sx = (dx > 0) - (dx < 0), sy = (dy > 0) - (dy < 0);
		struct cairn__cell c = w[i - 1];
		while (c.x != w[i].x || c.y != w[i].y) {
			c.x += sx;
			c.y += sy;
			at++;
			ASSERT_TRUE(at < n && p[at].x == c.x && p[at].y == c.y);
		}
		/* A kept cell in the middle is a turn. */
		if (i + 1 < k) {
			int ex = w[i + 1].x - w[i].x, ey = w[i + 1].y - w[i].y;
			int tx = (ex > 0) - (ex < 0), ty = (ey > 0) - (ey < 0);
			ASSERT_TRUE(tx != sx || ty != sy);
		}
	}
	ASSERT_UEQ(at, n - 1);
}

static void check_waypoints(void)
{
	const struct cairn__cell line[] = {{0, 0}, {1, 0}, {2, 0}, {3, 0}, {4, 0}};
	const struct cairn__cell ell[] = {{0, 0}, {1, 0}, {2, 0}, {2, 1}, {2, 2}, {3, 3}, {4, 4}};
	const struct cairn__cell zig[] = {{0, 0}, {1, 1}, {2, 0}, {3, 1}, {4, 0}};
	check_waypoints_of(line, 0, 0);
	check_waypoints_of(line, 1, 1);
	check_waypoints_of(line, 2, 2);
	check_waypoints_of(line, 5, 2);
	check_waypoints_of(ell, 7, 4); /* (0,0) (2,0) (2,2) (4,4) */
	check_waypoints_of(zig, 5, 5);
	unsigned paths = 3;
	struct cairn__map *m = kit_gen_rooms(64, 48, 5);
	struct env e;
	env_open(&e, m);
	uint64_t rng = 5;
	for (int i = 0; i < 50; i++) {
		uint32_t n;
		struct cairn__cost c;
		struct cairn__cell a = kit_random_passable(m, &rng),
				   b = kit_random_passable(m, &rng);
		int r = cairn__solve_path(e.g, NULL, e.s, CAIRN__METHOD_JPS, a, b, e.cells, e.cap,
					  &n, &c, NULL);
		if (r == -CAIRN_E_UNREACHABLE) {
			continue;
		}
		ASSERT_OK(r);
		if (n <= 512) {
			check_waypoints_of(e.cells, n, UINT32_MAX);
			paths++;
		}
	}
	printf("ok: waypoints: %u paths (straight, L, zig-zag, and solver paths): lines between "
	       "kept cells give the path back, every kept middle cell a turn\n",
	       paths);
	env_close(&e);
	cairn__map_free(m);
}

int main(void)
{
	bool san = kit_sanitized();
	uint32_t targets = san ? 4 : 12, sources = san ? 8 : 20;

	check_errors();
	check_enobufs();
	check_waypoints();

	struct cairn__map *maps[32];
	size_t n = 0;
	maps[n++] = kit_map("single", 1, 1, ".");
	maps[n++] = kit_map("corridor", 7, 1, "..@....");
	maps[n++] = kit_gen_open(40, 30);
	static const unsigned densities[] = {10, 25, 35, 45};
	for (size_t d = 0; d < 4; d++) {
		for (uint64_t seed = 1; seed <= 2; seed++) {
			maps[n++] = kit_gen_random(64, 48, densities[d], seed * 7 + d);
		}
	}
	maps[n++] = kit_gen_maze(61, 41, 1);
	maps[n++] = kit_gen_maze(45, 33, 2);
	maps[n++] = kit_gen_rooms(64, 48, 3);
	maps[n++] = kit_gen_rooms(50, 60, 4);
	maps[n++] = kit_gen_split(40, 20);
	maps[n++] = kit_gen_squeeze(64, 48, 5);
	maps[n++] = kit_gen_squeeze(48, 64, 6);
	maps[n++] = kit_gen_squeeze(130, 20, 7); /* rows longer than two words */
	for (size_t i = 0; i < n; i++) {
		check_map(maps[i], targets, sources, 1000 + i);
		cairn__map_free(maps[i]);
	}
	return T_PASS;
}
