/*
 * cairn-bench scale: how MOVE throughput through one cairnd changes with 1, 2, 4 and 8
 * host threads, each with a connection (a lane) of its own, pipelining batched MOVEs of
 * its own players for a fixed time; and the round trip of one MOVE at a time from each
 * thread count.
 *
 * The daemon's apply thread is pinned to one CPU and every host thread to another (the
 * same one, on a 2-core machine): beyond one host thread this measures how the lanes
 * share the apply thread and the host CPU, which the report says.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
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

#define CMD       "scale"
#define SEC       (1000ull * 1000 * 1000)
#define PLAYERS   32
#define BATCH     64
#define IN_FLIGHT 512
#define MAX_T     8

struct worker {
	pthread_t t;
	const char *sock;
	int cpu;
	uint64_t run_ns;
	bool latency; /* one MOVE at a time, timed, instead of the pipeline */
	uint64_t moves, *samples;
	size_t nsamples, cap;
	int err;
	pthread_barrier_t *start;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	if (w->cpu >= 0) {
		machine_pin_self(w->cpu);
	}
	cairn_client *c = NULL;
	struct cairn_open_options oo = {
		.name = "scale", .cmd_capacity = 1024, .res_capacity = 1024};
	uint32_t players[PLAYERS];
	int32_t px[PLAYERS], py[PLAYERS];
	struct cairn_hunt_created hc;
	unsigned n = 0;
	w->err = cairn_open(w->sock, &oo, &c);
	if (w->err == 0) {
		w->err = cairn_hunt_create(c, NULL, &hc, 10 * (int64_t)SEC);
	}
	for (int32_t y = 500; w->err == 0 && y < 96000 && n < PLAYERS; y += 3000) {
		for (int32_t x = 500; x < 128000 && n < PLAYERS; x += 3000) {
			if (cairn_join(c, hc.hunt_id, x, y, &players[n], 10 * (int64_t)SEC) == 0) {
				px[n] = x;
				py[n++] = y;
			}
		}
	}
	pthread_barrier_wait(w->start);
	if (w->err) {
		if (c) {
			cairn_close(c);
		}
		return NULL;
	}
	static __thread struct cairn_msg cmds[BATCH], res[BATCH];
	uint64_t t0 = cairn__now_ns(), end = t0 + w->run_ns, sent = 0, done = 0, i = 0;
	while (cairn__now_ns() < end) {
		if (w->latency) {
			unsigned p = (unsigned)(i % PLAYERS);
			uint64_t a = cairn__now_ns();
			int r = cairn_move(c, hc.hunt_id, players[p],
					   px[p] + (int32_t)(i / PLAYERS % 2) * 10, py[p], NULL,
					   10 * (int64_t)SEC);
			uint64_t b = cairn__now_ns();
			if (r < 0) {
				w->err = r;
				break;
			}
			if (w->nsamples < w->cap) {
				w->samples[w->nsamples++] = b - a;
			}
			i++;
			done++;
			continue;
		}
		if (sent - done + BATCH <= IN_FLIGHT) {
			for (unsigned j = 0; j < BATCH; j++, i++) {
				unsigned p = (unsigned)(i % PLAYERS);
				cairn_msg_move(&cmds[j], hc.hunt_id, players[p],
					       px[p] + (int32_t)(i / PLAYERS % 2) * 10, py[p]);
			}
			int r = cairn_submit_batch(c, cmds, BATCH);
			if (r < 0) {
				w->err = r;
				break;
			}
			sent += (uint64_t)r;
			i -= (uint64_t)(BATCH - r);
		}
		int got = cairn_poll_batch(c, res, BATCH);
		if (got < 0) {
			w->err = got;
			break;
		}
		done += (uint64_t)got;
	}
	/* Take what is still out, so that the daemon is idle for the next count. */
	while (!w->latency && done < sent && w->err == 0) {
		int got = cairn_poll_batch(c, res, BATCH);
		if (got < 0) {
			w->err = got;
			break;
		}
		done += (uint64_t)got;
	}
	w->moves = done;
	cairn_close(c);
	return NULL;
}

static int run(const char *sock, unsigned threads, int cpu, uint64_t run_ns, bool latency,
	       double *rate, struct latency_summary *lat)
{
	struct worker w[MAX_T];
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, threads + 1);
	for (unsigned i = 0; i < threads; i++) {
		w[i] = (struct worker){.sock = sock,
				       .cpu = cpu,
				       .run_ns = run_ns,
				       .latency = latency,
				       .start = &start};
		if (latency) {
			w[i].cap = 2000000;
			w[i].samples = malloc(w[i].cap * sizeof(uint64_t));
		}
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	pthread_barrier_wait(&start);
	uint64_t t0 = cairn__now_ns();
	uint64_t total = 0;
	int err = 0;
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(w[i].t, NULL);
		total += w[i].moves;
		err = err ? err : w[i].err;
	}
	uint64_t ns = cairn__now_ns() - t0;
	*rate = (double)total * 1e9 / (double)ns;
	if (latency) {
		size_t n = 0;
		for (unsigned i = 0; i < threads; i++) {
			n += w[i].nsamples;
		}
		uint64_t *all = malloc((n ? n : 1) * sizeof(uint64_t));
		size_t k = 0;
		for (unsigned i = 0; i < threads; i++) {
			memcpy(all + k, w[i].samples, w[i].nsamples * sizeof(uint64_t));
			k += w[i].nsamples;
			free(w[i].samples);
		}
		stats_summarize(all, n, lat);
		free(all);
	}
	pthread_barrier_destroy(&start);
	return err;
}

int bench_scale_main(int argc, char **argv)
{
	enum { O_SECONDS = 256, O_CAIRND, O_QUICK, O_JSON, O_CHECK };
	static const struct option lo[] = {
		{"seconds", required_argument, NULL, O_SECONDS},
		{"cairnd", required_argument, NULL, O_CAIRND},
		{"quick", no_argument, NULL, O_QUICK},
		{"json", no_argument, NULL, O_JSON},
		{"check", no_argument, NULL, O_CHECK},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cairnd = NULL;
	uint64_t seconds = 0;
	bool quick = false, json = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_SECONDS:
			if (bench_parse_count(CMD, "--seconds", optarg, 1, 600, &seconds) < 0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_CAIRND:
			cairnd = optarg;
			break;
		case O_QUICK:
			quick = true;
			break;
		case O_JSON:
			json = true;
			break;
		case O_CHECK:
			break; /* no target: the report describes, it does not judge */
		case 'h':
			printf("Usage: cairn-bench scale [--seconds N] [--cairnd PATH] [--quick] "
			       "[--json]\n"
			       "MOVE throughput through one cairnd with 1, 2, 4 and 8 host "
			       "threads, "
			       "each on a lane\nof its own pipelining batched MOVEs for N seconds "
			       "(default 3; --quick 1), and the\nround trip of one MOVE at a time "
			       "at "
			       "each thread count. The apply thread is\npinned to one CPU, the "
			       "host "
			       "threads all to another.\n");
			return BENCH_OK;
		default:
			return bench_usage_hint(CMD);
		}
	}
	seconds = seconds ? seconds : quick ? 1 : 3;
	struct machine m;
	if (machine_probe(&m) < 0) {
		return BENCH_FAIL;
	}
	int host = -1, daemon = -1;
	int r = bench_choose_cpus(CMD, &m, "--host-cpu", &host, "--daemon-cpu", &daemon);
	if (r) {
		return r;
	}
	static struct report rep;
	report_init(&rep, CMD, "MOVE throughput and round trip with 1, 2, 4 and 8 host threads",
		    &m);
	char err[PATH_MAX + 256];
	struct cairnd_proc d;
	memset(&d, 0, sizeof(d));
	if (cairnd_find(cairnd, &d, err, sizeof(err)) < 0) {
		bench_error(CMD, "%s", err);
		return BENCH_FAIL;
	}
	d.extra_args[d.n_extra_args++] = "--durability=none";
	if (cairnd_spawn(&d, daemon, &m.usable, err, sizeof(err)) < 0) {
		bench_error(CMD, "cannot start %s: %s", d.binary, err);
		return BENCH_FAIL;
	}
	cairn_client *probe = NULL;
	bool failed = cairnd_attach(&d, 30 * SEC, NULL, &probe, err, sizeof(err)) < 0;
	if (failed) {
		bench_error(CMD, "%s", err);
	} else {
		cairn_close(probe);
	}
	report_placement(&rep, "cairnd apply thread", "CPU %d", daemon);
	report_placement(&rep, "every host thread", "CPU %d (pinned; %u usable CPUs in all)", host,
			 m.usable_count);
	unsigned thr = report_table(&rep, "Batched MOVE throughput, all threads together", true);
	unsigned lat = report_table(&rep, "One MOVE at a time, every thread", true);
	static const unsigned counts[] = {1, 2, 4, 8};
	for (unsigned k = 0; k < 4 && !failed; k++) {
		double rate, lrate;
		struct latency_summary ls;
		bench_progress("scale: %u host thread%s", counts[k], counts[k] == 1 ? "" : "s");
		if ((r = run(d.socket, counts[k], host, seconds * SEC, false, &rate, NULL)) < 0 ||
		    (r = run(d.socket, counts[k], host, seconds * SEC / 2, true, &lrate, &ls)) <
			    0) {
			bench_error(CMD, "%u threads: %s", counts[k], cairn_strerror(r));
			failed = true;
			break;
		}
		char name[32];
		snprintf(name, sizeof(name), "%u host thread%s", counts[k],
			 counts[k] == 1 ? "" : "s");
		struct report_row *row = report_row(&rep, thr, name);
		report_field(row, "moves_per_s", "MOVEs/s", REPORT_PER_S, rate);
		report_latency_row(&rep, lat, name, &ls);
	}
	report_line(&rep, "With more host threads than the one CPU they share, the threads take "
			  "turns on it: the figures show how the lanes share the apply thread, not "
			  "parallel speed-up.");
	cairnd_finish(&d, CMD, 15 * SEC, failed);
	if (failed) {
		return BENCH_FAIL;
	}
	report_print(&rep, stdout, json);
	return BENCH_OK;
}
