/*
 * cairn-bench solver: the path solver on the Moving AI benchmark maps, in this process.
 *
 * For each map: the graph's build time and memory; every method (A*, JPS, the
 * first-move table) on the map's scenarios, each query's cost checked against the
 * file's optimal length (a relative 1e-5: the files print about 6 significant digits)
 * and timed one by one, for the mean, p50 and p99 and the expansions per query; each
 * method's speed-up over A* on the scenarios both answered, measured in the same run;
 * the table's build time, threads and memory; and the table's next-move lookup over
 * random pairs, timed in batches (a single lookup is shorter than a clock read).
 *
 * Placement: the queries run on this thread, pinned to one CPU (--cpu); the table is
 * built with --threads threads (the caller's and the others it starts), unpinned over
 * the usable CPUs, before the queries.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "cairn/cairn.h"
#include "common/clock.h"
#include "machine.h"
#include "map/map.h"
#include "report.h"
#include "solver/scen.h"
#include "solver/solver.h"
#include "solver_e2e.h"
#include "stats.h"

#define CMD "solver"

#define REL_TOLERANCE  1e-5
#define WARMUP_QUERIES 20u /* untimed queries of each method before its timed ones */
#define LOOKUP_BATCH   16u /* lookups per clock read */
#define MAX_MAPS       (REPORT_MAX_TABLES - 1) /* a table each, and the summary */

/* The targets, for a 2-core machine. */
#define TARGET_JPS_SPEEDUP   10.0
#define TARGET_TABLE_BUILD_S 30.0
#define TARGET_TABLE_BYTES   (32.0 * 1024 * 1024)

enum { M_ASTAR, M_JPS, M_TABLE, NMETHODS };

static const char *const method_names[NMETHODS] = {"astar", "jps", "table"};
static const enum cairn__method method_ids[NMETHODS] = {CAIRN__METHOD_ASTAR, CAIRN__METHOD_JPS,
							CAIRN__METHOD_TABLE};

struct solver_opts {
	const char *map, *scen, *movingai;
	unsigned methods; /* bit per M_* */
	uint64_t table_max_cells;
	uint64_t threads;
	uint64_t astar_max; /* A* scenarios per map at most, spread over the file */
	uint64_t max;       /* scenarios per map at most for the other methods (0: all) */
	uint64_t lookups;
	int cpu;
	bool json, quick, check;
	const char *cairnd; /* --cairnd */
	bool no_cairnd;     /* --no-cairnd */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench solver [OPTION]...\n"
		"The path solver in this process on the Moving AI benchmark maps: for each map,\n"
		"the graph's build time and memory; A*, jump point search and the first-move\n"
		"table on the map's scenarios, every answer checked against the optimal length\n"
		"of the file (relative 1e-5), each query timed (mean, p50, p99, expansions per\n"
		"query, speed-up over A* on the same scenarios); the table's build time, threads\n"
		"and memory; and its next-move lookup over random pairs (timed in batches of %u).\n"
		"\n"
		"Without --map, every maps/*.map of the Moving AI folder is run with its\n"
		"scenarios/*.map.scen: --movingai DIR, else $CAIRN_MOVINGAI, else\n"
		"../shared/movingai from the current directory, else from the project's source\n"
		"directory (found relative to this program in the build tree).\n"
		"\n"
		"  --map FILE             one map (needs --scen)\n"
		"  --scen FILE            its scenarios\n"
		"  --movingai DIR         the Moving AI folder (maps/, scenarios/)\n"
		"  --method M             astar, jps, table or all (default all); the speed-up\n"
		"                         column needs astar\n"
		"  --table-max-cells N    build tables only for maps of at most N passable cells\n"
		"                         (default 16384; the build is quadratic)\n"
		"  --threads N            threads building a table (default 2)\n"
		"  --astar-max N          A* scenarios per map at most, spread evenly over the "
		"file\n"
		"                         (default 2000; --quick: 200)\n"
		"  --max N                scenarios per map at most for JPS and the table "
		"(default\n"
		"                         all; --quick: 1000)\n"
		"  --lookups N            random pairs for the table's lookup time (default 1M;\n"
		"                         --quick: 100k)\n"
		"  --cpu N                pin the query thread here (default: the first usable "
		"CPU)\n"
		"  --cairnd PATH          the cairnd for the run through the daemon (default: the\n"
		"                         build tree's, else $CAIRND, else on $PATH): batches of\n"
		"                         64 NEXT_MOVE from a C host on ht_chantry (or --map),\n"
		"                         host pinned to one CPU and the apply thread to the "
		"other\n"
		"  --no-cairnd            skip the run through the daemon\n"
		"  --quick                a short run with the smaller counts above\n"
		"  --json                 print one JSON object instead of tables\n"
		"  --check                exit 1 if a target is missed: JPS >= %.0fx A* at the "
		"mean\n"
		"                         on ht_chantry and ht_mansion_n; the ht_chantry table "
		"built\n"
		"                         in <= %.0f s and <= %.0f MiB; 64 NEXT_MOVE through\n"
		"                         cairnd: mean <= 10 us, p99 <= 40 us. Any wrong answer\n"
		"                         exits 1\n"
		"                         with or without --check.\n"
		"  -h, --help             show this help and exit\n"
		"\n"
		"Exit status: 0 measured, 1 a wrong answer, a failure or (with --check) a missed\n"
		"target, 2 bad usage, 77 no Moving AI folder found (without --map).\n",
		LOOKUP_BATCH, TARGET_JPS_SPEEDUP, TARGET_TABLE_BUILD_S,
		TARGET_TABLE_BYTES / (1024 * 1024));
}

enum {
	OPT_MAP = 256,
	OPT_SCEN,
	OPT_MOVINGAI,
	OPT_METHOD,
	OPT_TABLE_MAX_CELLS,
	OPT_THREADS,
	OPT_ASTAR_MAX,
	OPT_MAX,
	OPT_LOOKUPS,
	OPT_CPU,
	OPT_QUICK,
	OPT_JSON,
	OPT_CHECK,
	OPT_CAIRND,
	OPT_NO_CAIRND,
};

static int parse_args(int argc, char **argv, struct solver_opts *o)
{
	static const struct option opts[] = {
		{"map", required_argument, NULL, OPT_MAP},
		{"scen", required_argument, NULL, OPT_SCEN},
		{"movingai", required_argument, NULL, OPT_MOVINGAI},
		{"method", required_argument, NULL, OPT_METHOD},
		{"table-max-cells", required_argument, NULL, OPT_TABLE_MAX_CELLS},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"astar-max", required_argument, NULL, OPT_ASTAR_MAX},
		{"max", required_argument, NULL, OPT_MAX},
		{"lookups", required_argument, NULL, OPT_LOOKUPS},
		{"cpu", required_argument, NULL, OPT_CPU},
		{"quick", no_argument, NULL, OPT_QUICK},
		{"json", no_argument, NULL, OPT_JSON},
		{"check", no_argument, NULL, OPT_CHECK},
		{"cairnd", required_argument, NULL, OPT_CAIRND},
		{"no-cairnd", no_argument, NULL, OPT_NO_CAIRND},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t astar_max = 0, max = UINT64_MAX, lookups = 0;
	int c;
	o->methods = (1u << NMETHODS) - 1;
	o->table_max_cells = 16384;
	o->threads = 2;
	o->cpu = -1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = 0;
		switch (c) {
		case OPT_MAP:
			o->map = optarg;
			break;
		case OPT_SCEN:
			o->scen = optarg;
			break;
		case OPT_MOVINGAI:
			o->movingai = optarg;
			break;
		case OPT_METHOD:
			if (strcmp(optarg, "all") == 0) {
				o->methods = (1u << NMETHODS) - 1;
				break;
			}
			o->methods = 0;
			for (unsigned i = 0; i < NMETHODS; i++) {
				if (strcmp(optarg, method_names[i]) == 0) {
					o->methods = 1u << i;
				}
			}
			if (!o->methods) {
				bench_error(CMD,
					    "--method takes astar, jps, table or all, not '%s'",
					    optarg);
				return bench_usage_hint(CMD);
			}
			break;
		case OPT_TABLE_MAX_CELLS:
			r = bench_parse_count(CMD, "--table-max-cells", optarg, 0, 1u << 28,
					      &o->table_max_cells);
			break;
		case OPT_THREADS:
			r = bench_parse_count(CMD, "--threads", optarg, 1, 256, &o->threads);
			break;
		case OPT_ASTAR_MAX:
			r = bench_parse_count(CMD, "--astar-max", optarg, 1, 100000000, &astar_max);
			break;
		case OPT_MAX:
			r = bench_parse_count(CMD, "--max", optarg, 1, 100000000, &max);
			break;
		case OPT_LOOKUPS:
			r = bench_parse_count(CMD, "--lookups", optarg, LOOKUP_BATCH, 100000000,
					      &lookups);
			break;
		case OPT_CPU:
			r = bench_parse_cpu(CMD, "--cpu", optarg, &o->cpu);
			break;
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_CAIRND:
			o->cairnd = optarg;
			break;
		case OPT_NO_CAIRND:
			o->no_cairnd = true;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case 'h':
			usage(stdout);
			exit(BENCH_OK);
		default:
			return bench_usage_hint(CMD);
		}
		if (r < 0) {
			return bench_usage_hint(CMD);
		}
	}
	if (optind < argc) {
		bench_error(CMD, "unexpected argument '%s'", argv[optind]);
		return bench_usage_hint(CMD);
	}
	if (!o->map != !o->scen) {
		bench_error(CMD, "--map and --scen go together");
		return bench_usage_hint(CMD);
	}
	o->astar_max = astar_max ? astar_max : o->quick ? 200 : 2000;
	o->max = max != UINT64_MAX ? max : o->quick ? 1000 : 0;
	o->lookups = lookups ? lookups : o->quick ? 100000 : 1000000;
	return 0;
}

/* ---- finding the maps ---- */

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The Moving AI folder into buf: --movingai, $CAIRN_MOVINGAI, ../shared/movingai from
 * here, then from the source tree (this program is <build>/tools/bench/cairn-bench, and
 * the build directory is normally in the project's root). Returns false when none is.
 */
static bool find_movingai(const struct solver_opts *o, char *buf, size_t len, char *tried,
			  size_t tried_len)
{
	const char *env = getenv("CAIRN_MOVINGAI");
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char from_exe[PATH_MAX + 64] = "";
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(from_exe, sizeof(from_exe), "%s/../../../../shared/movingai", exe);
		}
	}
	const char *cand[4] = {o->movingai, env && *env ? env : NULL, "../shared/movingai",
			       from_exe[0] ? from_exe : NULL};
	tried[0] = '\0';
	for (int i = 0; i < 4; i++) {
		if (!cand[i]) {
			continue;
		}
		char maps[PATH_MAX + 16];
		snprintf(maps, sizeof(maps), "%s/maps", cand[i]);
		if (is_dir(maps)) {
			snprintf(buf, len, "%s", cand[i]);
			return true;
		}
		size_t k = strlen(tried);
		snprintf(tried + k, tried_len - k, "%s%s", k ? ", " : "", cand[i]);
		if (i == 0) {
			break; /* an explicit --movingai that is wrong is not second-guessed */
		}
	}
	return false;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- measuring one map ---- */

struct method_run {
	bool ran;
	size_t queries, mismatches;
	uint64_t expansions;
	struct latency_summary lat;
	uint64_t *ns;   /* per scenario, UINT64_MAX when not asked */
	double speedup; /* A*'s time over this method's, on the scenarios both answered */
	size_t common;  /* how many those were */
};

struct map_run {
	char name[64];
	uint32_t width, height, nodes;
	size_t scenarios;
	double graph_ns;
	size_t graph_bytes;
	bool table_built;
	char table_note[96];
	double table_ns;
	size_t table_bytes;
	struct latency_summary lookup;
	struct method_run m[NMETHODS];
};

/* The table build's progress, on stderr: at the start, every tenth, and at the end. */
struct build_progress {
	const char *name;
	uint32_t last_tenth;
};

static void progress_cb(void *arg, uint32_t done, uint32_t total)
{
	struct build_progress *p = arg;
	uint32_t tenth = total ? (uint32_t)((uint64_t)done * 10 / total) : 10;
	if (done == 0 || tenth > p->last_tenth) {
		bench_progress("solver: %s: table %u / %u sources", p->name, done, total);
		p->last_tenth = tenth;
	}
}

static size_t stride_for(size_t n, uint64_t max)
{
	return max == 0 || n <= max ? 1 : (size_t)((n + max - 1) / max);
}

/* Runs method i on every stride-th scenario; returns -1 on a failure (said), else 0. */
static int run_method(struct map_run *mr, unsigned i, const struct cairn__graph *g,
		      const struct cairn__fm_table *t, struct cairn__scratch *s,
		      const struct cairn__scen *sc, size_t n, size_t stride)
{
	struct method_run *mm = &mr->m[i];
	mm->ns = malloc(n * sizeof(*mm->ns));
	uint64_t *samples = malloc(n * sizeof(*samples));
	if (!mm->ns || !samples) {
		free(samples);
		bench_error(CMD, "out of memory");
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		mm->ns[k] = UINT64_MAX;
	}
	struct cairn__cost c;
	for (size_t k = 0; k < n && k < WARMUP_QUERIES * stride; k += stride) {
		(void)cairn__solve_cost(g, t, s, method_ids[i], sc[k].start, sc[k].goal, &c, NULL);
	}
	size_t count = 0;
	for (size_t k = 0; k < n; k += stride) {
		struct cairn__solve_stats st;
		uint64_t t0 = cairn__now_ns();
		int r = cairn__solve_cost(g, t, s, method_ids[i], sc[k].start, sc[k].goal, &c, &st);
		uint64_t dt = cairn__now_ns() - t0;
		if (r < 0) {
			bench_error(CMD, "%s line %u: (%d, %d) -> (%d, %d): %s returned %d (%s)",
				    mr->name, sc[k].line, sc[k].start.x, sc[k].start.y,
				    sc[k].goal.x, sc[k].goal.y, method_names[i], r,
				    cairn_strerror(r));
			mm->mismatches++;
			continue;
		}
		double v = cairn__cost_value(c);
		if (fabs(v - sc[k].length) > REL_TOLERANCE * sc[k].length) {
			if (mm->mismatches < 5) {
				bench_error(CMD,
					    "%s line %u: (%d, %d) -> (%d, %d): %s cost %.6f, the "
					    "optimal length is %.6f",
					    mr->name, sc[k].line, sc[k].start.x, sc[k].start.y,
					    sc[k].goal.x, sc[k].goal.y, method_names[i], v,
					    sc[k].length);
			}
			mm->mismatches++;
		}
		mm->ns[k] = dt;
		samples[count++] = dt;
		mm->expansions += st.expansions;
	}
	mm->ran = true;
	mm->queries = count;
	stats_summarize(samples, count, &mm->lat);
	free(samples);
	return 0;
}

/* The table's next-move lookups between random connected pairs, timed in batches. */
static int time_lookups(struct map_run *mr, const struct cairn__graph *g,
			const struct cairn__fm_table *t, const struct cairn__map *m,
			uint64_t lookups)
{
	size_t batches = (size_t)(lookups / LOOKUP_BATCH);
	struct cairn__cell *pairs = malloc(2 * LOOKUP_BATCH * 1024 * sizeof(*pairs));
	uint64_t *samples = malloc(batches * sizeof(*samples));
	if (!pairs || !samples) {
		free(pairs);
		free(samples);
		bench_error(CMD, "out of memory");
		return -1;
	}
	/* 16k pairs, reused round robin: drawn before the clock, none unreachable. */
	uint64_t rng = 0x2545f4914f6cdd1d;
	size_t npairs = LOOKUP_BATCH * 1024;
	for (size_t i = 0; i < npairs;) {
		struct cairn__cell c[2];
		for (int k = 0; k < 2; k++) {
			do {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				c[k].x = (int32_t)(rng % m->width);
				c[k].y = (int32_t)((rng >> 32) % m->height);
			} while (!cairn__map_passable(m, c[k].x, c[k].y));
		}
		enum cairn__dir d;
		if (cairn__solve_next(g, t, NULL, CAIRN__METHOD_TABLE, c[0], c[1], &d, NULL) == 0) {
			pairs[2 * i] = c[0];
			pairs[2 * i + 1] = c[1];
			i++;
		}
	}
	unsigned sink = 0;
	for (size_t b = 0; b < batches; b++) {
		const struct cairn__cell *p = pairs + 2 * ((b * LOOKUP_BATCH) % npairs);
		uint64_t t0 = cairn__now_ns();
		for (unsigned k = 0; k < LOOKUP_BATCH; k++) {
			enum cairn__dir d;
			int r = cairn__solve_next(g, t, NULL, CAIRN__METHOD_TABLE, p[2 * k],
						  p[2 * k + 1], &d, NULL);
			sink += (unsigned)r + (unsigned)d;
		}
		samples[b] = (cairn__now_ns() - t0 + LOOKUP_BATCH / 2) / LOOKUP_BATCH;
	}
	/* Keeps the loop from being optimised away without costing a branch in it. */
	__asm__ volatile("" : : "r"(sink));
	stats_summarize(samples, batches, &mr->lookup);
	free(pairs);
	free(samples);
	return 0;
}

static int run_map(const struct solver_opts *o, const struct machine *mach, const char *map_path,
		   const char *scen_path, struct map_run *mr)
{
	struct cairn__map *m = NULL;
	struct cairn__map_error merr;
	struct cairn__scen *sc = NULL;
	struct cairn__graph *g = NULL;
	struct cairn__fm_table *t = NULL;
	struct cairn__scratch *s = NULL;
	char err[512];
	size_t n = 0;
	int ret = -1;

	int r = cairn__map_load(map_path, &m, &merr);
	if (r < 0) {
		bench_error(CMD, "%s", merr.message);
		return -1;
	}
	snprintf(mr->name, sizeof(mr->name), "%s", m->name);
	mr->width = m->width;
	mr->height = m->height;
	r = cairn__scen_load(scen_path, m, &sc, &n, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "%s", err);
		goto out;
	}
	if (n == 0) {
		bench_error(CMD, "%s: no scenarios", scen_path);
		goto out;
	}
	mr->scenarios = n;
	uint64_t t0 = cairn__now_ns();
	r = cairn__graph_build(m, &g);
	mr->graph_ns = (double)(cairn__now_ns() - t0);
	if (r < 0 || (r = cairn__scratch_new(&s)) < 0) {
		bench_error(CMD, "%s: %s", mr->name, strerror(-r));
		goto out;
	}
	mr->nodes = cairn__graph_nodes(g);
	mr->graph_bytes = cairn__graph_bytes(g);

	/*
	 * The table first, unpinned: threads inherit their creator's CPU set, and the build
	 * should have every usable CPU. The query thread is pinned afterwards.
	 */
	if (!(o->methods & (1u << M_TABLE))) {
		snprintf(mr->table_note, sizeof(mr->table_note), "not asked (--method)");
	} else if (mr->nodes > o->table_max_cells) {
		snprintf(mr->table_note, sizeof(mr->table_note),
			 "skipped: %u passable cells > --table-max-cells %llu", mr->nodes,
			 (unsigned long long)o->table_max_cells);
	} else {
		machine_unpin_self(&mach->usable);
		bench_progress("solver: %s: building the table (%u sources, %llu threads)",
			       mr->name, mr->nodes, (unsigned long long)o->threads);
		t0 = cairn__now_ns();
		struct build_progress bp = {.name = mr->name};
		r = cairn__fm_build(g, (unsigned)o->threads, NULL, progress_cb, &bp, &t);
		mr->table_ns = (double)(cairn__now_ns() - t0);
		if (r < 0) {
			bench_error(CMD, "%s: the table build failed: %s", mr->name,
				    cairn_strerror(r));
			goto out;
		}
		mr->table_built = true;
		mr->table_bytes = cairn__fm_bytes(t);
		snprintf(mr->table_note, sizeof(mr->table_note), "built");
	}
	if (o->cpu >= 0 && (r = machine_pin_self(o->cpu)) < 0) {
		bench_error(CMD, "cannot pin to CPU %d: %s", o->cpu, strerror(-r));
		goto out;
	}

	for (unsigned i = 0; i < NMETHODS; i++) {
		if (!(o->methods & (1u << i)) || (i == M_TABLE && !t)) {
			continue;
		}
		/*
		 * A*'s scenarios are a subset of the others' (its stride a multiple of
		 * theirs), so that every A* answer has a counterpart for the speed-up.
		 */
		size_t others = stride_for(n, o->max);
		size_t stride = others;
		if (i == M_ASTAR) {
			size_t a = stride_for(n, o->astar_max);
			stride = (a + others - 1) / others * others;
		}
		bench_progress("solver: %s: %s on %zu of %zu scenarios", mr->name, method_names[i],
			       (n + stride - 1) / stride, n);
		if (run_method(mr, i, g, t, s, sc, n, stride) < 0) {
			goto out;
		}
	}
	/* Speed-ups over A*, on the scenarios both answered. */
	for (unsigned i = 0; i < NMETHODS; i++) {
		struct method_run *mm = &mr->m[i];
		mm->speedup = NAN;
		if (!mm->ran || !mr->m[M_ASTAR].ran) {
			continue;
		}
		double a = 0, b = 0;
		for (size_t k = 0; k < n; k++) {
			if (mm->ns[k] != UINT64_MAX && mr->m[M_ASTAR].ns[k] != UINT64_MAX) {
				a += (double)mr->m[M_ASTAR].ns[k];
				b += (double)mm->ns[k];
				mm->common++;
			}
		}
		mm->speedup = b > 0 ? a / b : NAN;
	}
	if (t) {
		bench_progress("solver: %s: %llu table lookups", mr->name,
			       (unsigned long long)o->lookups);
		if (time_lookups(mr, g, t, m, o->lookups) < 0) {
			goto out;
		}
	}
	ret = 0;
out:
	if (o->cpu >= 0) {
		machine_unpin_self(&mach->usable);
	}
	for (unsigned i = 0; i < NMETHODS; i++) {
		free(mr->m[i].ns);
		mr->m[i].ns = NULL;
	}
	cairn__scratch_free(s);
	cairn__fm_free(t);
	cairn__graph_free(g);
	free(sc);
	cairn__map_free(m);
	return ret;
}

/* ---- the report ---- */

static void report_map(struct report *rep, const struct map_run *mr)
{
	char title[64];
	snprintf(title, sizeof(title), "%.32s %ux%u, %u cells", mr->name, mr->width, mr->height,
		 mr->nodes);
	unsigned tab = report_table(rep, title, true);
	for (unsigned i = 0; i < NMETHODS; i++) {
		const struct method_run *mm = &mr->m[i];
		if (!mm->ran) {
			continue;
		}
		struct report_row *row = report_row(rep, tab, method_names[i]);
		report_field(row, "queries", "queries", REPORT_COUNT, (double)mm->queries);
		report_field(row, "wrong", "wrong", REPORT_COUNT, (double)mm->mismatches);
		report_field(row, "mean_ns", "mean", REPORT_NS, mm->lat.mean);
		report_field(row, "p50_ns", "p50", REPORT_NS, (double)mm->lat.p50);
		report_field(row, "p99_ns", "p99", REPORT_NS, (double)mm->lat.p99);
		report_field(row, "expansions_per_query", "expanded/q", REPORT_COUNT,
			     mm->queries ? (double)mm->expansions / (double)mm->queries : NAN);
		report_field(row, "speedup_vs_astar", "vs A*", REPORT_RATIO, mm->speedup);
		report_field(row, "speedup_queries", "on", REPORT_COUNT,
			     mm->ran && mr->m[M_ASTAR].ran ? (double)mm->common : NAN);
	}
}

static void report_summary(struct report *rep, const struct map_run *runs, size_t nruns,
			   unsigned threads)
{
	unsigned tab = report_table(rep, "map: graph, table, lookup", true);
	for (size_t i = 0; i < nruns; i++) {
		const struct map_run *mr = &runs[i];
		struct report_row *row = report_row(rep, tab, mr->name);
		report_field(row, "cells", "cells", REPORT_COUNT, mr->nodes);
		report_field(row, "graph_build_ns", "graph", REPORT_NS, mr->graph_ns);
		report_field(row, "graph_bytes", "graph mem", REPORT_BYTES,
			     (double)mr->graph_bytes);
		report_field(row, "table_build_ns", "table", REPORT_NS,
			     mr->table_built ? mr->table_ns : NAN);
		report_field(row, "table_threads", "threads", REPORT_COUNT,
			     mr->table_built ? threads : NAN);
		report_field(row, "table_bytes", "table mem", REPORT_BYTES,
			     mr->table_built ? (double)mr->table_bytes : NAN);
		report_field(row, "lookup_mean_ns", "lookup mean", REPORT_NS,
			     mr->table_built ? mr->lookup.mean : NAN);
		report_field(row, "lookup_p50_ns", "p50", REPORT_NS,
			     mr->table_built ? (double)mr->lookup.p50 : NAN);
		report_field(row, "lookup_p99_ns", "p99", REPORT_NS,
			     mr->table_built ? (double)mr->lookup.p99 : NAN);
		if (!mr->table_built) {
			report_line(rep, "%s: table %s", mr->name, mr->table_note);
		}
	}
}

static void report_targets(struct report *rep, const struct map_run *runs, size_t nruns)
{
	static const char *const jps_maps[] = {"ht_chantry", "ht_mansion_n"};
	for (size_t j = 0; j < 2; j++) {
		const struct map_run *mr = NULL;
		for (size_t i = 0; i < nruns; i++) {
			if (strcmp(runs[i].name, jps_maps[j]) == 0) {
				mr = &runs[i];
			}
		}
		char what[64];
		snprintf(what, sizeof(what), "JPS speed-up over A*, %s", jps_maps[j]);
		double v = mr ? mr->m[M_JPS].speedup : NAN;
		struct report_target *tg = report_target(rep, what, REPORT_RATIO, REPORT_AT_LEAST,
							 TARGET_JPS_SPEEDUP, v, mr != NULL);
		if (mr && mr->m[M_JPS].ran) {
			snprintf(tg->how, sizeof(tg->how), "mean query time, %zu scenarios",
				 mr->m[M_JPS].common);
		}
	}
	const struct map_run *ch = NULL;
	for (size_t i = 0; i < nruns; i++) {
		if (strcmp(runs[i].name, "ht_chantry") == 0 && runs[i].table_built) {
			ch = &runs[i];
		}
	}
	report_target(rep, "ht_chantry table build", REPORT_NS, REPORT_AT_MOST,
		      TARGET_TABLE_BUILD_S * 1e9, ch ? ch->table_ns : NAN, ch != NULL);
	report_target(rep, "ht_chantry table memory", REPORT_BYTES, REPORT_AT_MOST,
		      TARGET_TABLE_BYTES, ch ? (double)ch->table_bytes : NAN, ch != NULL);
}

int bench_solver_main(int argc, char **argv)
{
	static struct solver_opts o;
	static struct report rep;
	static struct map_run runs[MAX_MAPS];
	struct machine mach;
	char *names[MAX_MAPS + 1];
	size_t nmaps = 0;
	char dir[PATH_MAX];
	int ret = BENCH_FAIL;

	o = (struct solver_opts){0};
	int r = parse_args(argc, argv, &o);
	if (r) {
		return r;
	}
	r = machine_probe(&mach);
	if (r < 0) {
		bench_error(CMD, "cannot read this process's CPU affinity: %s", strerror(-r));
		return BENCH_FAIL;
	}
	if (o.cpu >= 0 && !machine_cpu_usable(&mach, o.cpu)) {
		bench_error(CMD, "--cpu %d: this process may not run there", o.cpu);
		return bench_usage_hint(CMD);
	}
	if (o.cpu < 0 && mach.usable_count >= 2) {
		o.cpu = machine_nth_usable(&mach, 0);
	}

	if (!o.map) {
		char tried[1024];
		if (!find_movingai(&o, dir, sizeof(dir), tried, sizeof(tried))) {
			bench_error(
				CMD,
				"no Moving AI folder (with maps/) found; tried %s. Give one "
				"with --movingai DIR or $CAIRN_MOVINGAI, or use --map and --scen",
				tried[0] ? tried : "nothing");
			return BENCH_SKIP;
		}
		char maps_dir[PATH_MAX + 8];
		snprintf(maps_dir, sizeof(maps_dir), "%s/maps", dir);
		DIR *d = opendir(maps_dir);
		if (!d) {
			bench_error(CMD, "%s: %s", maps_dir, strerror(errno));
			return BENCH_FAIL;
		}
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			size_t len = strlen(e->d_name);
			if (len > 4 && strcmp(e->d_name + len - 4, ".map") == 0) {
				if (nmaps == MAX_MAPS) {
					bench_error(CMD,
						    "more than %d maps in %s: run them with --map",
						    MAX_MAPS, maps_dir);
					closedir(d);
					goto out;
				}
				names[nmaps] = strdup(e->d_name);
				if (!names[nmaps]) {
					closedir(d);
					goto out;
				}
				nmaps++;
			}
		}
		closedir(d);
		if (nmaps == 0) {
			bench_error(CMD, "no *.map files in %s", maps_dir);
			goto out;
		}
		qsort(names, nmaps, sizeof(names[0]), by_name);
	}

	report_init(&rep, CMD, "the path solver in-process on the Moving AI maps", &mach);
	if (o.cpu >= 0) {
		report_placement(&rep, "queries", "this thread, CPU %d (pinned), one at a time",
				 o.cpu);
	} else {
		report_placement(&rep, "queries", "this thread, not pinned (one usable CPU)");
	}
	char cpus[256];
	machine_format_cpus(&mach.usable, cpus, sizeof(cpus));
	report_placement(&rep, "table build",
			 "%llu threads (this one and %llu started), not pinned: CPUs %s",
			 (unsigned long long)o.threads, (unsigned long long)o.threads - 1, cpus);
	report_param_str(&rep, "maps", "maps", "%s", o.map ? o.map : dir);
	report_param_str(&rep, "tolerance", "checked",
			 "every answer within a relative %g of "
			 "the file's optimal length",
			 REL_TOLERANCE);
	report_param_num(&rep, "table_max_cells", "table max cells", (double)o.table_max_cells);
	report_param_num(&rep, "astar_max", "A* scenarios/map", (double)o.astar_max);
	report_param_str(&rep, "max", "others' scenarios/map", "%s",
			 o.max ? "capped (--max)" : "all");
	if (o.max) {
		report_param_num(&rep, "max_n", "cap", (double)o.max);
	}
	report_param_num(&rep, "lookups", "lookups", (double)o.lookups);
	report_param_str(&rep, "mode", "mode", "%s", o.quick ? "quick" : "full");

	size_t nruns = 0;
	size_t wrong = 0;
	for (size_t i = 0; i < (o.map ? 1 : nmaps); i++) {
		char map_path[PATH_MAX + 300], scen_path[PATH_MAX + 300];
		if (o.map) {
			snprintf(map_path, sizeof(map_path), "%s", o.map);
			snprintf(scen_path, sizeof(scen_path), "%s", o.scen);
		} else {
			snprintf(map_path, sizeof(map_path), "%s/maps/%s", dir, names[i]);
			snprintf(scen_path, sizeof(scen_path), "%s/scenarios/%s.scen", dir,
				 names[i]);
		}
		bench_progress("solver: %s", map_path);
		if (run_map(&o, &mach, map_path, scen_path, &runs[nruns]) < 0) {
			goto out;
		}
		for (unsigned k = 0; k < NMETHODS; k++) {
			wrong += runs[nruns].m[k].mismatches;
		}
		nruns++;
	}
	for (size_t i = 0; i < nruns; i++) {
		report_map(&rep, &runs[i]);
	}
	report_summary(&rep, runs, nruns, (unsigned)o.threads);
	report_line(&rep, "per query: solve_cost timed one by one (A* and JPS: the search; "
			  "table: following its moves); 'vs A*' on the scenarios both answered");
	report_line(&rep,
		    "lookup: solve_next by the table between random connected pairs, "
		    "timed in batches of %u (a clock read costs about as much)",
		    LOOKUP_BATCH);
	report_targets(&rep, runs, nruns);
	if (!o.no_cairnd) {
		/* Through cairnd on ht_chantry when the folder has it, else on --map. */
		char e2e_map[PATH_MAX + 300] = "";
		for (size_t i = 0; i < nmaps; i++) {
			if (strcmp(names[i], "ht_chantry.map") == 0) {
				snprintf(e2e_map, sizeof(e2e_map), "%s/maps/%s", dir, names[i]);
			}
		}
		if (o.map) {
			snprintf(e2e_map, sizeof(e2e_map), "%s", o.map);
		}
		if (e2e_map[0]) {
			struct solver_e2e_opts eo = {.cairnd = o.cairnd,
						     .map_path = e2e_map,
						     .host_cpu = -1,
						     .daemon_cpu = -1,
						     .quick = o.quick};
			if (solver_e2e_run(&eo, &mach, &rep) < 0) {
				goto out;
			}
		}
	}
	report_print(&rep, stdout, o.json);
	if (wrong) {
		bench_error(CMD, "%zu answers were wrong or failed", wrong);
		ret = BENCH_FAIL;
	} else {
		ret = report_missed(&rep, o.check) && o.check ? BENCH_FAIL : BENCH_OK;
	}
out:
	for (size_t i = 0; i < nmaps; i++) {
		free(names[i]);
	}
	return ret;
}
