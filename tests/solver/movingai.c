/*
 * The Moving AI benchmark set as an external oracle (argv[1]: the folder holding maps/
 * and scenarios/, ../shared/movingai beside the project): every scenario's optimal length
 * is matched within a relative 1e-5 (the files print about 6 significant digits) by JPS,
 * by A* and by the first-move table, and JPS's paths are legal and of the cost it says.
 *
 * Bounded work: JPS answers every scenario of each map, or an evenly spread subset of
 * JPS_MAX_SCENARIOS (maze512); A* every scenario of maps whose searches are cheap and
 * an evenly spread subset (every bucket) elsewhere; the table is built only for
 * maps of at most TABLE_MAX_NODES passable cells, which takes seconds. Under sanitizers
 * (CAIRN_TEST_SANITIZED) the subsets shrink. Skips (77) when the folder is absent.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "kit.h"
#include "solver/scen.h"

#define TABLE_MAX_NODES 10000u
#define REL_TOLERANCE   1e-5
/*
 * JPS scenarios per map at most: maze512's 11960 would take ~20 s alone, for nothing
 * that its evenly spread third does not cover (cairn-bench solver runs them all).
 */
#define JPS_MAX_SCENARIOS 4000

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* How many of n scenarios to take, at most `budget`, every `stride`-th. */
static size_t stride_for(size_t n, size_t budget)
{
	return budget == 0 ? SIZE_MAX : n <= budget ? 1 : (n + budget - 1) / budget;
}

static void check_length(const char *map, const struct cairn__scen *sc, const char *method, int r,
			 struct cairn__cost c)
{
	if (r != 0) {
		T_FAILF("%s line %u: (%d, %d) -> (%d, %d): %s returned %d (%s)", map, sc->line,
			sc->start.x, sc->start.y, sc->goal.x, sc->goal.y, method, r,
			cairn_strerror(r));
	}
	double v = cairn__cost_value(c);
	if (fabs(v - sc->length) > REL_TOLERANCE * sc->length) {
		T_FAILF("%s line %u: (%d, %d) -> (%d, %d): %s cost %.6f (%u + %u sqrt2), the "
			"optimal length is %.6f",
			map, sc->line, sc->start.x, sc->start.y, sc->goal.x, sc->goal.y, method, v,
			c.straight, c.diagonal, sc->length);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		T_FAILF("usage: %s MOVINGAI-DIRECTORY", argv[0]);
	}
	char maps_dir[PATH_MAX], scen_dir[PATH_MAX];
	snprintf(maps_dir, sizeof(maps_dir), "%s/maps", argv[1]);
	snprintf(scen_dir, sizeof(scen_dir), "%s/scenarios", argv[1]);
	DIR *d = opendir(maps_dir);
	if (!d) {
		T_SKIP_BECAUSE("the Moving AI maps are not at %s (%s)", maps_dir, strerror(errno));
	}
	char *names[256];
	size_t nmaps = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".map") == 0) {
			ASSERT_LT(nmaps, sizeof(names) / sizeof(names[0]));
			names[nmaps] = strdup(e->d_name);
			ASSERT_TRUE(names[nmaps] != NULL);
			nmaps++;
		}
	}
	closedir(d);
	if (nmaps == 0) {
		T_FAILF("no *.map files in %s", maps_dir);
	}
	qsort(names, nmaps, sizeof(names[0]), by_name);

	bool san = kit_sanitized();
	struct cairn__scratch *s;
	ASSERT_OK(cairn__scratch_new(&s));
	uint64_t total = 0;
	for (size_t i = 0; i < nmaps; i++) {
		char path[PATH_MAX + 300], scen[PATH_MAX + 300], err[512];
		snprintf(path, sizeof(path), "%s/%s", maps_dir, names[i]);
		snprintf(scen, sizeof(scen), "%s/%s.scen", scen_dir, names[i]);
		struct cairn__map *m;
		struct cairn__map_error merr;
		int r = cairn__map_load(path, &m, &merr);
		if (r < 0) {
			T_FAILF("%s: %d (%s): %s", path, r, cairn_strerror(r), merr.message);
		}
		struct cairn__scen *sc;
		size_t n;
		r = cairn__scen_load(scen, m, &sc, &n, err, sizeof(err));
		if (r < 0) {
			T_FAILF("%s", err);
		}
		if (n == 0) {
			T_FAILF("%s: no scenarios", scen);
		}
		uint64_t started = cairn__now_ns();
		struct cairn__graph *g;
		ASSERT_OK(cairn__graph_build(m, &g));
		uint32_t nodes = cairn__graph_nodes(g);

		/* A* explores most of a big map per query: spread a subset over the buckets. */
		bool big = nodes > 16384;
		size_t astar_stride =
			stride_for(n, big ? (san ? 20 : 200) : (san ? 100 : SIZE_MAX));
		size_t jps_stride = stride_for(n, san ? 600 : JPS_MAX_SCENARIOS);
		struct cairn__fm_table *t = NULL;
		char table_note[160];
		uint32_t table_max = san ? 8000 : TABLE_MAX_NODES;
		if (nodes <= table_max) {
			uint64_t t0 = cairn__now_ns();
			ASSERT_OK(cairn__fm_build(g, 2, NULL, NULL, NULL, &t));
			snprintf(table_note, sizeof(table_note), "table built in %.2f s, %zu bytes",
				 (double)(cairn__now_ns() - t0) / 1e9, cairn__fm_bytes(t));
		} else {
			snprintf(table_note, sizeof(table_note),
				 "table skipped: %u passable cells > %u (its build is O(n^2))",
				 nodes, table_max);
		}
		struct cairn__cell *cells = malloc((nodes + 1) * sizeof(*cells));
		ASSERT_TRUE(cells != NULL);
		size_t n_jps = 0, n_astar = 0, n_table = 0;
		for (size_t k = 0; k < n; k++) {
			struct cairn__cost c;
			if (k % jps_stride == 0) {
				uint32_t len;
				r = cairn__solve_path(g, NULL, s, CAIRN__METHOD_JPS, sc[k].start,
						      sc[k].goal, cells, nodes + 1, &len, &c, NULL);
				check_length(names[i], &sc[k], "jps", r, c);
				char ctx[160];
				snprintf(ctx, sizeof(ctx), "%s line %u: jps", names[i], sc[k].line);
				kit_check_path(ctx, m, sc[k].start, sc[k].goal, cells, len, c);
				n_jps++;
			}
			if (k % astar_stride == 0) {
				r = cairn__solve_cost(g, NULL, s, CAIRN__METHOD_ASTAR, sc[k].start,
						      sc[k].goal, &c, NULL);
				check_length(names[i], &sc[k], "astar", r, c);
				n_astar++;
			}
			if (t) {
				r = cairn__solve_cost(g, t, NULL, CAIRN__METHOD_TABLE, sc[k].start,
						      sc[k].goal, &c, NULL);
				check_length(names[i], &sc[k], "table", r, c);
				n_table++;
			}
		}
		printf("ok: %-20s %3ux%-3u %6u nodes, %5zu scenarios within %g of the optimal "
		       "length: jps %zu (paths checked), astar %zu, table %zu (%s); %.1f s\n",
		       names[i], m->width, m->height, nodes, n, REL_TOLERANCE, n_jps, n_astar,
		       n_table, table_note, (double)(cairn__now_ns() - started) / 1e9);
		total += n_jps + n_astar + n_table;
		free(cells);
		cairn__fm_free(t);
		cairn__graph_free(g);
		free(sc);
		cairn__map_free(m);
		free(names[i]);
	}
	cairn__scratch_free(s);
	printf("ok: %zu Moving AI maps, %" PRIu64 " answers checked\n", nmaps, total);
	return T_PASS;
}
