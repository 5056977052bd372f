/*
 * cairn-bench solver, through cairnd: batches of 64 NEXT_MOVE queries on one map sent by
 * a C host and answered by a real cairnd, round trip measured per batch.
 *
 * The daemon is started with the map (--map FILE, so map id 1), --durability=none (the
 * disk is cairn-bench wal's) and its first-move table; the run waits until the table
 * is built (map_info.table_state READY), creates a hunt on the map, and sends the same
 * 64 random start and goal pairs of passable cells again and again with cairn_next_moves:
 *   - method AUTO: the table answers, on the apply thread (64 lookups);
 *   - method JPS: jump point search on the solver worker thread.
 * The host thread is pinned to one CPU and cairnd's apply thread to the other, as in
 * cairn-bench rtt; the solver worker runs wherever the apply thread is not. Both sides
 * spin: this is the latency a busy game server sees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "cairn/cairn.h"
#include "common/clock.h"
#include "machine.h"
#include "map/map.h"
#include "report.h"
#include "solver_e2e.h"
#include "spawn.h"
#include "stats.h"

#define CMD           "solver"
#define SEC           (1000ull * 1000 * 1000)
#define BATCH         CAIRN_MAX_PATH_BATCH
#define TABLE_WAIT_NS (600 * SEC)

/* Random passable cells of m, as millimetre positions of their centres. */
static void random_pairs(const struct cairn__map *m, uint32_t cell_mm, uint64_t seed,
			 struct cairn_path_pair *pairs, unsigned n)
{
	uint64_t s = seed;
	for (unsigned i = 0; i < n; i++) {
		int32_t v[4];
		for (int k = 0; k < 4; k += 2) {
			uint32_t x, y;
			do {
				s = s * 6364136223846793005ull + 1442695040888963407ull;
				x = (uint32_t)((s >> 33) % m->width);
				s = s * 6364136223846793005ull + 1442695040888963407ull;
				y = (uint32_t)((s >> 33) % m->height);
			} while (!cairn__map_passable(m, x, y));
			v[k] = (int32_t)(x * cell_mm + cell_mm / 2);
			v[k + 1] = (int32_t)(y * cell_mm + cell_mm / 2);
		}
		pairs[i] = (struct cairn_path_pair){v[0], v[1], v[2], v[3]};
	}
}

/* Round trips of `samples` batches (after `warmup`), into a summary. Returns 0 or -code. */
static int measure(cairn_client *c, uint32_t hunt, const struct cairn_path_pair *pairs,
		   unsigned method, unsigned n, uint64_t warmup, uint64_t samples,
		   struct latency_summary *s, uint32_t *used, uint32_t *failed)
{
	struct cairn_next_move_item out[BATCH];
	struct cairn_path_batch_reply info;
	uint64_t *t = malloc(samples * sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < warmup + samples; i++) {
		uint64_t t0 = cairn__now_ns();
		int r = cairn_next_moves(c, hunt, pairs, n, method, out, &info, 10 * (int64_t)SEC);
		uint64_t t1 = cairn__now_ns();
		if (r < 0) {
			free(t);
			return r;
		}
		if (i >= warmup) {
			t[i - warmup] = t1 - t0;
		}
	}
	*used = info.method;
	*failed = info.failed;
	stats_summarize(t, samples, s);
	free(t);
	return 0;
}

int solver_e2e_run(const struct solver_e2e_opts *o, const struct machine *m, struct report *rep)
{
	char err[PATH_MAX + 256];
	struct cairn__map_error merr;
	struct cairn__map *map = NULL;
	int r = cairn__map_load(o->map_path, &map, &merr);
	if (r < 0) {
		bench_error(CMD, "%s: %s", o->map_path, merr.message);
		return r;
	}
	int host_cpu = o->host_cpu, daemon_cpu = o->daemon_cpu;
	r = bench_choose_cpus(CMD, m, "--host-cpu", &host_cpu, "--daemon-cpu", &daemon_cpu);
	if (r) {
		cairn__map_free(map);
		return r < 0 ? r : -EINVAL;
	}
	struct cairnd_proc d;
	memset(&d, 0, sizeof(d));
	r = cairnd_find(o->cairnd, &d, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "%s", err);
		cairn__map_free(map);
		return r;
	}
	char cells[16];
	snprintf(cells, sizeof(cells), "%u", map->passable);
	d.extra_args[d.n_extra_args++] = "--durability=none";
	d.extra_args[d.n_extra_args++] = "--map";
	d.extra_args[d.n_extra_args++] = o->map_path;
	d.extra_args[d.n_extra_args++] = "--table-max-cells";
	d.extra_args[d.n_extra_args++] = cells;
	r = cairnd_spawn(&d, daemon_cpu, &m->usable, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "cannot start %s: %s", d.binary, err);
		cairnd_cleanup(&d, false);
		cairn__map_free(map);
		return r;
	}
	bench_progress("solver: through cairnd: started %s (found by %s) as pid %d, log %s",
		       d.binary, d.found_by, (int)d.pid, d.log);
	cairn_client *c = NULL;
	struct cairn_open_options oo = {.name = "cairn-bench"};
	r = cairnd_attach(&d, 30 * SEC, &oo, &c, err, sizeof(err));
	bool failed = r < 0;
	if (failed) {
		bench_error(CMD, "%s", err);
		goto out;
	}
	/* The table, built in the background: wait for it before anything is measured. */
	uint64_t t0 = cairn__now_ns();
	struct cairn_map_info mi;
	bench_progress("solver: through cairnd: waiting for the first-move table of %s (%u "
		       "cells)",
		       map->name, map->passable);
	for (;;) {
		if ((r = cairn_read_map(c, 1, &mi)) < 0) {
			bench_error(CMD, "cannot read map 1 from cairnd: %s", cairn_strerror(r));
			failed = true;
			goto out;
		}
		uint32_t st = __atomic_load_n(&mi.table_state, __ATOMIC_ACQUIRE);
		if (st == CAIRN_TABLE_READY) {
			break;
		}
		if (st != CAIRN_TABLE_BUILDING || cairn__now_ns() - t0 > TABLE_WAIT_NS) {
			bench_error(CMD, "cairnd did not build the table of %s (state %u); see %s",
				    map->name, st, d.log);
			failed = true;
			goto out;
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	double table_s = (double)(cairn__now_ns() - t0) / 1e9;
	if (host_cpu >= 0 && (r = machine_pin_self(host_cpu)) < 0) {
		bench_error(CMD, "cannot pin the host thread to CPU %d: %s", host_cpu,
			    strerror(-r));
		failed = true;
		goto out;
	}
	if (host_cpu >= 0) {
		report_placement(rep, "host thread (through cairnd)", "CPU %d (pinned)", host_cpu);
	} else {
		report_placement(rep, "host thread (through cairnd)",
				 "not pinned (one usable CPU)");
	}
	report_place_threads(rep, "cairnd", d.pid);

	struct cairn_hunt_params hp = {.map_id = 1};
	struct cairn_hunt_created hc;
	if ((r = cairn_hunt_create(c, &hp, &hc, 10 * (int64_t)SEC)) < 0) {
		bench_error(CMD, "cannot create a hunt: %s", cairn_strerror(r));
		failed = true;
		goto out;
	}
	struct cairn_path_pair pairs[BATCH];
	random_pairs(map, hc.cell_mm, 42, pairs, BATCH);
	unsigned table = report_table(rep,
				      "Through cairnd: NEXT_MOVE batches from a C host "
				      "(round trip per batch)",
				      true);
	static const struct {
		const char *name;
		unsigned method, n;
	} rows[] = {
		{"64 pairs, AUTO (the table, on the apply thread)", CAIRN_METHOD_AUTO, BATCH},
		{"1 pair, AUTO (the table)", CAIRN_METHOD_AUTO, 1},
		{"64 pairs, JPS (a solver worker)", CAIRN_METHOD_JPS, BATCH},
	};
	struct latency_summary table64 = {0};
	for (unsigned i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t samples = rows[i].method == CAIRN_METHOD_JPS ? (o->quick ? 300 : 2000)
								      : (o->quick ? 5000 : 50000);
		struct latency_summary s;
		uint32_t used = 0, bad = 0;
		bench_progress("solver: through cairnd: %s, %llu batches", rows[i].name,
			       (unsigned long long)samples);
		r = measure(c, hc.hunt_id, pairs, rows[i].method, rows[i].n, samples / 10, samples,
			    &s, &used, &bad);
		if (r < 0) {
			bench_error(CMD, "NEXT_MOVE through cairnd failed: %s", cairn_strerror(r));
			failed = true;
			goto out;
		}
		if (bad) {
			bench_error(CMD,
				    "%u of the pairs were refused: the map or the pairs are wrong",
				    bad);
			failed = true;
			goto out;
		}
		struct report_row *row = report_latency_row(rep, table, rows[i].name, &s);
		report_field(row, "per_pair_ns", "per pair", REPORT_NS, s.mean / rows[i].n);
		if (i == 0) {
			table64 = s;
		}
	}
	report_line(rep,
		    "Through cairnd on %s: the table was built in %.1f s (from the daemon's start, "
		    "in the background); 64 fixed random pairs; --durability=none.",
		    map->name, table_s);
	report_target(rep, "64 NEXT_MOVE through cairnd, mean", REPORT_NS, REPORT_AT_MOST, 10000,
		      table64.mean, true);
	report_target(rep, "64 NEXT_MOVE through cairnd, p99", REPORT_NS, REPORT_AT_MOST, 40000,
		      (double)table64.p99, true);
out:
	if (c) {
		cairn_close(c);
	}
	r = cairnd_finish(&d, CMD, 10 * SEC, failed);
	cairn__map_free(map);
	return failed ? -EIO : r;
}
