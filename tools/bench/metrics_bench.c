/*
 * cairn-bench metrics: what keeping the metrics costs the apply loop.
 *
 * Two private cairnds, one with --metrics on and one with --metrics off, both
 * --durability=none and with their apply threads pinned to the same CPU; the host on
 * the other. They take turns: each round measures batched MOVE throughput through one,
 * then the other, so that neither gets the machine's better moments alone, and the
 * medians are compared. The daemon not being measured sleeps on its doorbells.
 *
 * The load is the one cairn-bench e2e's (b) row uses: MOVEs of 100 players of one hunt,
 * pushed with cairn_submit_batch in batches of 64, at most 1024 in flight, results taken
 * with cairn_poll_batch.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cairn/cairn.h"
#include "common/clock.h"
#include "machine.h"
#include "report.h"
#include "spawn.h"
#include "stats.h"

#define CMD       "metrics"
#define SEC       (1000ull * 1000 * 1000)
#define PLAYERS   100
#define BATCH     64
#define IN_FLIGHT 1024
#define TARGET    0.97 /* metrics on: at least 97 % of the throughput with them off */

struct side {
	const char *name, *flag;
	struct cairnd_proc d;
	cairn_client *c;
	uint32_t hunt, players[PLAYERS];
	int32_t x[PLAYERS], y[PLAYERS];
	double rate[16];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench metrics [OPTION]...\n"
		"Batched MOVE throughput through two cairnds in one run, one keeping its metrics\n"
		"(--metrics on, the default) and one not (--metrics off), taking turns; the\n"
		"medians side by side. Both apply threads are pinned to one CPU and the host to\n"
		"the other.\n"
		"\n"
		"  --moves N          MOVEs per measurement (default 2M; --quick 400k)\n"
		"  --runs N           rounds, each measuring both (default 5; --quick 3)\n"
		"  --cairnd PATH      the daemon (default: the build tree's, $CAIRND, $PATH)\n"
		"  --host-cpu N       the host thread's CPU (default: first usable)\n"
		"  --daemon-cpu N     both apply threads' CPU (default: second usable)\n"
		"  --quick            a shorter run\n"
		"  --json             one JSON object on stdout\n"
		"  --check            exit 1 when on/off falls below %.0f %%\n"
		"  -h, --help         show this help and exit\n",
		TARGET * 100);
}

static int setup(struct side *s)
{
	struct cairn_hunt_created hc;
	int r = cairn_hunt_create(s->c, NULL, &hc, 10 * (int64_t)SEC);
	if (r < 0) {
		return r;
	}
	s->hunt = hc.hunt_id;
	unsigned n = 0;
	for (int32_t y = 500; y < 96000 && n < PLAYERS; y += 3000) {
		for (int32_t x = 500; x < 128000 && n < PLAYERS; x += 3000) {
			if (cairn_join(s->c, s->hunt, x, y, &s->players[n], 10 * (int64_t)SEC) ==
			    0) {
				s->x[n] = x;
				s->y[n] = y;
				n++;
			}
		}
	}
	return n == PLAYERS ? 0 : -ENOSPC;
}

/* Pushes `moves` MOVEs through s with IN_FLIGHT at most outstanding; returns MOVE/s. */
static double measure(struct side *s, uint64_t moves)
{
	static struct cairn_msg cmds[BATCH], res[BATCH];
	uint64_t sent = 0, done = 0, i = 0;
	uint64_t t0 = cairn__now_ns();
	while (done < moves) {
		if (sent < moves && sent - done + BATCH <= IN_FLIGHT) {
			unsigned k = moves - sent < BATCH ? (unsigned)(moves - sent) : BATCH;
			for (unsigned j = 0; j < k; j++, i++) {
				unsigned p = (unsigned)(i % PLAYERS);
				/* Back and forth by 10 mm: always open ground, no speed limit. */
				int32_t dx = (i / PLAYERS) % 2 ? 10 : 0;
				cairn_msg_move(&cmds[j], s->hunt, s->players[p], s->x[p] + dx,
					       s->y[p]);
			}
			unsigned off = 0;
			while (off < k) {
				int r = cairn_submit_batch(s->c, cmds + off, k - off);
				if (r < 0) {
					bench_error(CMD, "cairn_submit_batch: %s",
						    cairn_strerror(r));
					return NAN;
				}
				off += (unsigned)r;
				if (r == 0) {
					break;
				}
			}
			sent += off;
		}
		int got = cairn_poll_batch(s->c, res, BATCH);
		if (got < 0) {
			bench_error(CMD, "cairn_poll_batch: %s", cairn_strerror(got));
			return NAN;
		}
		for (int j = 0; j < got; j++) {
			if (res[j].hdr.type != CAIRN_MSG_MOVED) {
				bench_error(CMD, "a MOVE was refused: %s",
					    cairn_strerror(-res[j].hdr.status));
				return NAN;
			}
		}
		done += (uint64_t)got;
	}
	return (double)moves * 1e9 / (double)(cairn__now_ns() - t0);
}

int bench_metrics_main(int argc, char **argv)
{
	enum { O_MOVES = 256, O_RUNS, O_CAIRND, O_HOST, O_DAEMON, O_QUICK, O_JSON, O_CHECK };
	static const struct option lo[] = {
		{"moves", required_argument, NULL, O_MOVES},
		{"runs", required_argument, NULL, O_RUNS},
		{"cairnd", required_argument, NULL, O_CAIRND},
		{"host-cpu", required_argument, NULL, O_HOST},
		{"daemon-cpu", required_argument, NULL, O_DAEMON},
		{"quick", no_argument, NULL, O_QUICK},
		{"json", no_argument, NULL, O_JSON},
		{"check", no_argument, NULL, O_CHECK},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t moves = 0, runs = 0;
	const char *cairnd = NULL;
	int host_cpu = -1, daemon_cpu = -1, c;
	bool quick = false, json = false, check = false;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_MOVES:
			if (bench_parse_count(CMD, "--moves", optarg, 1000, 1000000000, &moves) <
			    0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_RUNS:
			if (bench_parse_count(CMD, "--runs", optarg, 1, 16, &runs) < 0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_CAIRND:
			cairnd = optarg;
			break;
		case O_HOST:
		case O_DAEMON:
			if (bench_parse_cpu(CMD, c == O_HOST ? "--host-cpu" : "--daemon-cpu",
					    optarg, c == O_HOST ? &host_cpu : &daemon_cpu) < 0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_QUICK:
			quick = true;
			break;
		case O_JSON:
			json = true;
			break;
		case O_CHECK:
			check = true;
			break;
		case 'h':
			usage(stdout);
			return BENCH_OK;
		default:
			return bench_usage_hint(CMD);
		}
	}
	moves = moves ? moves : quick ? 400000 : 2000000;
	runs = runs ? runs : quick ? 3 : 5;
	struct machine m;
	int r = machine_probe(&m);
	if (r < 0) {
		bench_error(CMD, "cannot read this process's CPU affinity: %s", strerror(-r));
		return BENCH_FAIL;
	}
	if ((r = bench_choose_cpus(CMD, &m, "--host-cpu", &host_cpu, "--daemon-cpu",
				   &daemon_cpu))) {
		return r;
	}
	static struct report rep;
	report_init(&rep, CMD, "what keeping the metrics costs: MOVE throughput, on vs off", &m);
	static struct side sides[2] = {{.name = "metrics on", .flag = "--metrics=on"},
				       {.name = "metrics off", .flag = "--metrics=off"}};
	bool failed = false;
	char err[PATH_MAX + 256];
	for (int i = 0; i < 2 && !failed; i++) {
		struct side *s = &sides[i];
		if ((r = cairnd_find(cairnd, &s->d, err, sizeof(err))) < 0) {
			bench_error(CMD, "%s", err);
			return BENCH_FAIL;
		}
		s->d.extra_args[s->d.n_extra_args++] = "--durability=none";
		s->d.extra_args[s->d.n_extra_args++] = s->flag;
		if ((r = cairnd_spawn(&s->d, daemon_cpu, &m.usable, err, sizeof(err))) < 0) {
			bench_error(CMD, "cannot start %s: %s", s->d.binary, err);
			failed = true;
			break;
		}
		struct cairn_open_options oo = {
			.name = "cairn-bench", .cmd_capacity = 4096, .res_capacity = 4096};
		if ((r = cairnd_attach(&s->d, 30 * SEC, &oo, &s->c, err, sizeof(err))) < 0 ||
		    (r = setup(s)) < 0) {
			bench_error(CMD, "%s: %s", s->name,
				    r == -ENOSPC ? "no room for the players" : err);
			failed = true;
		}
	}
	if (!failed && host_cpu >= 0 && (r = machine_pin_self(host_cpu)) < 0) {
		bench_error(CMD, "cannot pin the host to CPU %d: %s", host_cpu, strerror(-r));
		failed = true;
	}
	for (uint64_t round = 0; round < runs && !failed; round++) {
		for (int k = 0; k < 2 && !failed; k++) {
			/* Alternate which goes first, so that neither always follows the other. */
			struct side *s = &sides[(round + (uint64_t)k) % 2];
			bench_progress("metrics: round %llu of %llu, %s: %llu MOVEs",
				       (unsigned long long)round + 1, (unsigned long long)runs,
				       s->name, (unsigned long long)moves);
			s->rate[round] = measure(s, moves);
			failed = isnan(s->rate[round]);
		}
	}
	double med[2] = {NAN, NAN}, lo2[2], hi2[2];
	if (!failed) {
		report_placement(&rep, "host thread", "CPU %d (pinned)", host_cpu);
		report_placement(&rep, "both apply threads", "CPU %d (taking turns)", daemon_cpu);
		report_param_num(&rep, "moves", "MOVEs per measurement", (double)moves);
		report_param_num(&rep, "runs", "rounds", (double)runs);
		unsigned t =
			report_table(&rep, "Batched MOVE throughput (medians of the rounds)", true);
		for (int i = 0; i < 2; i++) {
			stats_median_min_max(sides[i].rate, runs, &med[i], &lo2[i], &hi2[i]);
			struct report_row *row = report_row(&rep, t, sides[i].name);
			report_field(row, "median", "median", REPORT_PER_S, med[i]);
			report_field(row, "min", "min", REPORT_PER_S, lo2[i]);
			report_field(row, "max", "max", REPORT_PER_S, hi2[i]);
		}
		report_target(&rep, "MOVE throughput, metrics on / off", REPORT_PERCENT,
			      REPORT_AT_LEAST, TARGET * 100, med[0] / med[1] * 100, true);
	}
	for (int i = 0; i < 2; i++) {
		if (sides[i].c) {
			cairn_close(sides[i].c);
		}
		if (sides[i].d.pid > 0) {
			cairnd_finish(&sides[i].d, CMD, 15 * SEC, failed);
		}
	}
	if (failed) {
		return BENCH_FAIL;
	}
	report_print(&rep, stdout, json);
	return report_missed(&rep, check) && check ? BENCH_FAIL : BENCH_OK;
}
