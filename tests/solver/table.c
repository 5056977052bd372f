/*
 * The first-move table against A*: on the embedded default map and on generated maps,
 * for random pairs, the table's cost equals A*'s (counts), its path is legal, and its
 * next move begins an optimal path (A*'s cost from the next cell plus the step equals
 * A*'s cost from the start). The table is the same built with 1 or 2 threads (checked
 * on the generated maps, where it is quick); progress
 * is reported from the caller's thread, in order, up to the total; a cancel before or
 * during the build gives -ECANCELED and no table (and, under ASan, no leak).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

struct progress_log {
	pthread_t caller;
	uint32_t calls, last, total;
	bool wrong_thread, backwards;
	atomic_int *cancel; /* set once done reaches cancel_at */
	uint32_t cancel_at;
};

static void on_progress(void *arg, uint32_t done, uint32_t total)
{
	struct progress_log *p = arg;
	if (!pthread_equal(pthread_self(), p->caller)) {
		p->wrong_thread = true;
	}
	if (p->calls > 0 && done < p->last) {
		p->backwards = true;
	}
	p->calls++;
	p->last = done;
	p->total = total;
	if (p->cancel && done >= p->cancel_at) {
		atomic_store(p->cancel, 1);
	}
}

static bool same_cost(struct cairn__cost a, struct cairn__cost b)
{
	return a.straight == b.straight && a.diagonal == b.diagonal;
}

/* threads_too: also build with 1 thread and check the table comes out the same. */
static void check_against_astar(const struct cairn__map *m, uint32_t pairs, uint64_t seed,
				bool threads_too)
{
	struct cairn__graph *g;
	ASSERT_OK(cairn__graph_build(m, &g));
	uint32_t nodes = cairn__graph_nodes(g);

	struct progress_log p1 = {.caller = pthread_self()}, p2 = {.caller = pthread_self()};
	struct cairn__fm_table *t1, *t2;
	ASSERT_OK(cairn__fm_build(g, 2, NULL, on_progress, &p2, &t2));
	if (threads_too) {
		ASSERT_OK(cairn__fm_build(g, 1, NULL, on_progress, &p1, &t1));
	} else {
		t1 = t2;
		p1 = p2;
	}
	const struct progress_log *ps[2] = {&p1, &p2};
	for (int i = 0; i < 2; i++) {
		ASSERT_TRUE(ps[i]->calls >= 2);
		ASSERT_TRUE(!ps[i]->wrong_thread);
		ASSERT_TRUE(!ps[i]->backwards);
		ASSERT_UEQ(ps[i]->last, nodes);
		ASSERT_UEQ(ps[i]->total, nodes);
	}
	/* The rows do not depend on which thread built them. */
	ASSERT_UEQ(cairn__fm_bytes(t1), cairn__fm_bytes(t2));

	struct cairn__scratch *s;
	ASSERT_OK(cairn__scratch_new(&s));
	struct cairn__cell *cells = malloc((nodes + 1) * sizeof(*cells));
	ASSERT_TRUE(cells != NULL);
	uint64_t rng = seed;
	uint32_t reachable = 0, lookups = 0;
	for (uint32_t i = 0; i < pairs; i++) {
		struct cairn__cell a = kit_random_passable(m, &rng),
				   b = kit_random_passable(m, &rng);
		struct cairn__cost want, got;
		int r = cairn__solve_cost(g, NULL, s, CAIRN__METHOD_ASTAR, a, b, &want, NULL);
		if (r == -CAIRN_E_UNREACHABLE) {
			ASSERT_EQ(
				cairn__solve_cost(g, t1, s, CAIRN__METHOD_TABLE, a, b, &got, NULL),
				-CAIRN_E_UNREACHABLE);
			continue;
		}
		ASSERT_OK(r);
		reachable++;
		struct cairn__solve_stats st;
		ASSERT_OK(cairn__solve_cost(g, t1, s, CAIRN__METHOD_TABLE, a, b, &got, &st));
		if (!same_cost(got, want)) {
			T_FAILF("%s: (%d, %d) -> (%d, %d): table %u + %u, A* %u + %u", m->name, a.x,
				a.y, b.x, b.y, got.straight, got.diagonal, want.straight,
				want.diagonal);
		}
		ASSERT_UEQ(st.expansions, (uint64_t)want.straight + want.diagonal);
		uint32_t n;
		ASSERT_OK(cairn__solve_path(g, t2, NULL, CAIRN__METHOD_TABLE, a, b, cells,
					    nodes + 1, &n, &got, NULL));
		char ctx[96];
		snprintf(ctx, sizeof(ctx), "%s table path (%d, %d) -> (%d, %d)", m->name, a.x, a.y,
			 b.x, b.y);
		kit_check_path(ctx, m, a, b, cells, n, want);

		enum cairn__dir d1, d2;
		ASSERT_OK(cairn__solve_next(g, t1, NULL, CAIRN__METHOD_TABLE, a, b, &d1, &st));
		ASSERT_OK(cairn__solve_next(g, t2, NULL, CAIRN__METHOD_TABLE, a, b, &d2, NULL));
		ASSERT_EQ(d1, d2);
		lookups++;
		if (a.x == b.x && a.y == b.y) {
			ASSERT_EQ(d1, CAIRN__DIR_NONE);
			continue;
		}
		ASSERT_UEQ(st.expansions, 1);
		ASSERT_TRUE(kit_step_legal(m, a.x, a.y, d1));
		struct cairn__cell nx = {a.x + cairn__dir_dx[d1], a.y + cairn__dir_dy[d1]};
		struct cairn__cost rest;
		ASSERT_OK(cairn__solve_cost(g, NULL, s, CAIRN__METHOD_ASTAR, nx, b, &rest, NULL));
		rest.straight += !(d1 & 1);
		rest.diagonal += d1 & 1;
		if (!same_cost(rest, want)) {
			T_FAILF("%s: (%d, %d) -> (%d, %d): table's move %d costs %u + %u, best %u "
				"+ %u",
				m->name, a.x, a.y, b.x, b.y, (int)d1, rest.straight, rest.diagonal,
				want.straight, want.diagonal);
		}
	}
	printf("ok: %s %ux%u, %u nodes: table (%zu bytes, %s, progress %u calls to %u) equals "
	       "A* on %u pairs (%u reachable): costs, legal paths, %u optimal next moves\n",
	       m->name, m->width, m->height, nodes, cairn__fm_bytes(t2),
	       threads_too ? "1 and 2 threads alike" : "2 threads", p2.calls, p2.last, pairs,
	       reachable, lookups);
	free(cells);
	cairn__scratch_free(s);
	if (t1 != t2) {
		cairn__fm_free(t1);
	}
	cairn__fm_free(t2);
	cairn__graph_free(g);
}

static void check_cancel(const struct cairn__map *m)
{
	struct cairn__graph *g;
	ASSERT_OK(cairn__graph_build(m, &g));
	uint32_t nodes = cairn__graph_nodes(g);

	/* Cancelled before it starts. */
	atomic_int cancel = 1;
	struct cairn__fm_table *t = (struct cairn__fm_table *)&cancel;
	ASSERT_EQ(cairn__fm_build(g, 2, &cancel, NULL, NULL, &t), -ECANCELED);
	ASSERT_TRUE(t == NULL);

	/* Cancelled a quarter of the way, from the progress callback, with 1 and 2 threads. */
	for (unsigned threads = 1; threads <= 2; threads++) {
		atomic_store(&cancel, 0);
		struct progress_log p = {
			.caller = pthread_self(), .cancel = &cancel, .cancel_at = nodes / 4};
		t = (struct cairn__fm_table *)&cancel;
		ASSERT_EQ(cairn__fm_build(g, threads, &cancel, on_progress, &p, &t), -ECANCELED);
		ASSERT_TRUE(t == NULL);
		ASSERT_TRUE(p.last < nodes);
		ASSERT_TRUE(p.last >= nodes / 4);
	}
	/* A flag that stays 0 changes nothing. */
	atomic_store(&cancel, 0);
	ASSERT_OK(cairn__fm_build(g, 2, &cancel, NULL, NULL, &t));
	ASSERT_TRUE(t != NULL);
	cairn__fm_free(t);
	printf("ok: cancel: before the build and a quarter of the way in (1 and 2 threads) "
	       "give -ECANCELED and no table; an unset flag builds (%u nodes)\n",
	       nodes);
	cairn__graph_free(g);
}

int main(void)
{
	bool san = kit_sanitized();
	struct cairn__map *def;
	ASSERT_OK(cairn__map_default(&def));
	struct cairn__map *rooms = kit_gen_rooms(80, 60, 21);
	struct cairn__map *random = kit_gen_random(70, 50, 30, 22);
	struct cairn__map *maze = kit_gen_maze(51, 51, 23);

	check_against_astar(rooms, san ? 200 : 1000, 1, true);
	check_against_astar(random, san ? 200 : 1000, 2, true);
	check_against_astar(maze, san ? 200 : 1000, 3, true);
	if (san) {
		printf("ok: the default map's table is not built under sanitizers (too slow "
		       "there); the generated maps above cover it\n");
	} else {
		check_against_astar(def, 1000, 4, false);
	}
	check_cancel(rooms);
	cairn__map_free(def);
	cairn__map_free(rooms);
	cairn__map_free(random);
	cairn__map_free(maze);
	return T_PASS;
}
