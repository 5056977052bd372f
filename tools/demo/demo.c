/*
 * cairn-demo: flags, attaching, threads, signals. demo.h says what the demo does; the
 * game is in sim.c and the terminal in view.c.
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread from the start, and the main
 * thread takes them with sigtimedwait between two summaries. No handler runs at an
 * arbitrary point, and Ctrl-C during the setup is taken as soon as the setup finishes
 * (or notices it, at its next wait).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "demo.h"

#define TICK_NS      1000000000ull
#define MAX_HUNTS    4096
#define MAX_PLAYERS  65536   /* per hunt: cairnd's default --max-players-per-hunt */
#define MAX_CLUES    1000    /* per hunt */
#define MAX_TOTAL    262144  /* players in all hunts */
#define MAX_FIELDS   16384   /* clues in all hunts: each has a 24 KiB path field */
#define MAX_SPEED_MS 1000000 /* m/s: faster than any game needs, well within a u32 of mm/s */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-demo [OPTION]...\n"
		"Play treasure hunts on cairnd: create hunts on its embedded map, join simulated\n"
		"players, place clues, walk every player to the nearest clue within the speed\n"
		"limit, and show live what the daemon does (moves a second, claims, refusals,\n"
		"round-trip times, leaderboards). Runs until Ctrl-C or --seconds.\n"
		"\n"
		"  --socket PATH   the daemon's socket (default: as cairnd's default)\n"
		"  --hunts N       hunts to create (default 8)\n"
		"  --players N     players per hunt (default 200)\n"
		"  --clues N       clues on the map of each hunt at any time (default 20)\n"
		"  --speed M       the hunts' speed limit in metres a second (default 5; 0: none)\n"
		"  --seconds S     stop after S seconds (default: run until Ctrl-C)\n"
		"  --seed N        seed of the random choices (default: from the clock; printed)\n"
		"  --cpu N         run every thread of the demo on CPU N\n"
		"  -h, --help      show this help\n"
		"\n"
		"The last lines of the final summary are machine-readable key=value pairs,\n"
		"starting with 'result: moves=N claims=N lost=N rejected=N seconds=S'.\n"
		"Exit status: 0 after a run that went well, 1 when cairnd cannot be reached or "
		"the\n"
		"run failed, 2 on a bad option.\n");
}

static int parse_uint(const char *name, const char *s, unsigned long long min,
		      unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "cairn-demo: %s takes a whole number from %llu to %llu, not '%s'\n",
			name, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_real(const char *name, const char *s, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > max) {
		fprintf(stderr, "cairn-demo: %s takes a number from 0 to %g, not '%s'\n", name, max,
			s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Parses argv into *cfg. Returns 0, 1 when --help was shown, or -1 on a bad option. */
static int parse_args(int argc, char **argv, struct demo_config *cfg)
{
	enum { O_SOCKET = 256, O_HUNTS, O_PLAYERS, O_CLUES, O_SPEED, O_SECONDS, O_SEED, O_CPU };
	static const struct option opts[] = {
		{"socket", required_argument, NULL, O_SOCKET},
		{"hunts", required_argument, NULL, O_HUNTS},
		{"players", required_argument, NULL, O_PLAYERS},
		{"clues", required_argument, NULL, O_CLUES},
		{"speed", required_argument, NULL, O_SPEED},
		{"seconds", required_argument, NULL, O_SECONDS},
		{"duration", required_argument, NULL, O_SECONDS}, /* the first demo's name */
		{"seed", required_argument, NULL, O_SEED},
		{"cpu", required_argument, NULL, O_CPU},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool seeded = false;
	unsigned long long v;
	double d;
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = 0;
		switch (o) {
		case O_SOCKET:
			cfg->socket = optarg;
			break;
		case O_HUNTS:
			r = parse_uint("--hunts", optarg, 1, MAX_HUNTS, &v);
			cfg->hunts = (unsigned)v;
			break;
		case O_PLAYERS:
			r = parse_uint("--players", optarg, 1, MAX_PLAYERS, &v);
			cfg->players = (unsigned)v;
			break;
		case O_CLUES:
			r = parse_uint("--clues", optarg, 1, MAX_CLUES, &v);
			cfg->clues = (unsigned)v;
			break;
		case O_SPEED:
			r = parse_real("--speed", optarg, MAX_SPEED_MS, &d);
			cfg->speed_mm_s = (uint32_t)lround(d * 1000);
			if (r == 0 && d > 0 && cfg->speed_mm_s == 0) {
				cfg->speed_mm_s = 1;
			}
			break;
		case O_SECONDS:
			r = parse_real("--seconds", optarg, 1e9, &cfg->seconds);
			break;
		case O_SEED:
			r = parse_uint("--seed", optarg, 0, UINT64_MAX, &v);
			cfg->seed = v;
			seeded = true;
			break;
		case O_CPU:
			r = parse_uint("--cpu", optarg, 0, CPU_SETSIZE - 1, &v);
			cfg->cpu = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "Try 'cairn-demo --help'.\n");
			return -1;
		}
		if (r < 0) {
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cairn-demo: unexpected argument '%s'\nTry 'cairn-demo --help'.\n",
			argv[optind]);
		return -1;
	}
	if ((unsigned long long)cfg->hunts * cfg->players > MAX_TOTAL) {
		fprintf(stderr, "cairn-demo: at most %d players in all hunts together\n",
			MAX_TOTAL);
		return -1;
	}
	if ((unsigned long long)cfg->hunts * cfg->clues > MAX_FIELDS) {
		fprintf(stderr, "cairn-demo: at most %d clues in all hunts together\n", MAX_FIELDS);
		return -1;
	}
	if (!seeded) {
		/* Short enough to type back in with --seed. */
		cfg->seed = (cairn__wall_ns() ^ ((uint64_t)getpid() << 20)) % 1000000;
	}
	return 0;
}

static int attach(const struct demo_config *cfg, const char *name,
		  const struct cairn_open_options *base, cairn_client **out)
{
	struct cairn_open_options o;
	if (base) {
		o = *base;
	} else {
		memset(&o, 0, sizeof(o));
	}
	o.name = name;
	int r = cairn_open(cfg->socket, &o, out);
	if (r < 0) {
		char path[108];
		const char *where = cfg->socket;
		if (!where) {
			where = cairn_default_socket_path(path, sizeof(path)) >= 0 ? path
										   : "(default)";
		}
		fprintf(stderr, "cairn-demo: cannot attach to cairnd at %s: %s\n", where,
			cairn_strerror(r));
		if (r == -ENOENT || r == -ECONNREFUSED) {
			fprintf(stderr,
				"Is cairnd running? Start it with: cairnd%s%s\n"
				"or let ./tools/cairn demo start both.\n",
				cfg->socket ? " --socket " : "", cfg->socket ? cfg->socket : "");
		}
	}
	return r;
}

static int pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* On the main thread before any other exists: the threads inherit it. */
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		int e = errno;
		fprintf(stderr, "cairn-demo: cannot run on CPU %d: %s\n", cpu, strerror(e));
		return -e;
	}
	return 0;
}

static void stats_init(struct demo_stats *st)
{
	memset(st, 0, sizeof(*st));
	atomic_init(&st->moves, 0);
	atomic_init(&st->claims, 0);
	atomic_init(&st->lost, 0);
	for (unsigned i = 0; i < REJ_N; i++) {
		atomic_init(&st->rejected[i], 0);
	}
	atomic_init(&st->queries, 0);
	atomic_init(&st->errors, 0);
	atomic_init(&st->clues_live, 0);
	atomic_init(&st->last_error, 0);
	pthread_mutex_init(&st->lock, NULL);
}

int main(int argc, char **argv)
{
	struct demo_config cfg = {
		.hunts = 8,
		.players = 200,
		.clues = 20,
		.speed_mm_s = 5000,
		.cpu = -1,
	};
	int r = parse_args(argc, argv, &cfg);
	if (r != 0) {
		return r > 0 ? 0 : 2;
	}
	cfg.tty = isatty(STDOUT_FILENO) == 1;

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	r = pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (r != 0) {
		fprintf(stderr, "cairn-demo: cannot block signals: %s\n", strerror(r));
		return 1;
	}
	if (cfg.cpu >= 0 && pin(cfg.cpu) < 0) {
		return 2; /* a CPU this process may not use: a bad --cpu */
	}

	int status = 1;
	bool torn_down = false;
	cairn_client *sim_conn = NULL, *probe_conn = NULL, *view_conn = NULL;
	struct sim *sim = NULL;
	struct view *view = NULL;
	struct demo_stats stats;
	stats_init(&stats);
	struct cairn_open_options lane;
	sim_lane_options(&cfg, &lane);
	if (attach(&cfg, "cairn-demo", &lane, &sim_conn) < 0 ||
	    attach(&cfg, "cairn-demo-probe", NULL, &probe_conn) < 0 ||
	    attach(&cfg, "cairn-demo-view", NULL, &view_conn) < 0) {
		goto out;
	}
	if (sim_setup(&cfg, sim_conn, probe_conn, &stats, &sim) < 0) {
		goto out;
	}
	view = view_new(&cfg, sim_world(sim), &stats, view_conn);
	if (!view) {
		fprintf(stderr, "cairn-demo: out of memory\n");
		goto out;
	}
	struct cairn_daemon_info info;
	cairn_daemon_info(view_conn, &info);
	view_intro(view, &info, cfg.cpu);

	pthread_t sim_thread, probe_thread;
	r = pthread_create(&sim_thread, NULL, sim_run, sim);
	if (r != 0) {
		fprintf(stderr, "cairn-demo: cannot start the simulation thread: %s\n",
			strerror(r));
		goto out;
	}
	r = pthread_create(&probe_thread, NULL, sim_probe_run, sim);
	if (r != 0) {
		fprintf(stderr, "cairn-demo: cannot start the probe thread: %s\n", strerror(r));
		sim_stop(sim);
		pthread_join(sim_thread, NULL);
		goto out;
	}
	uint64_t start = cairn__now_ns(), next_tick = start + TICK_NS;
	uint64_t end = cfg.seconds > 0 ? start + (uint64_t)(cfg.seconds * 1e9) : 0;
	char why[64] = "";
	while (!why[0]) {
		uint64_t now = cairn__now_ns();
		if (sim_finished(sim)) {
			snprintf(why, sizeof(why), "an error");
			break;
		}
		if (end && now >= end) {
			snprintf(why, sizeof(why), "--seconds %g", cfg.seconds);
			break;
		}
		if (now >= next_tick) {
			view_tick(view, now - start);
			next_tick += TICK_NS;
			if (next_tick <= now) {
				next_tick = now + TICK_NS; /* a slow tick: skip, do not catch up */
			}
			continue;
		}
		uint64_t wait = next_tick - now;
		if (end && end - now < wait) {
			wait = end - now;
		}
		/* Short waits, so that a simulation that stopped on an error is seen soon. */
		if (wait > TICK_NS / 10) {
			wait = TICK_NS / 10;
		}
		struct timespec ts = cairn__ns_to_timespec(wait);
		int sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGINT) {
			snprintf(why, sizeof(why), "Ctrl-C");
		} else if (sig == SIGTERM) {
			snprintf(why, sizeof(why), "SIGTERM");
		}
		/* Otherwise the wait timed out (EAGAIN) or was interrupted (EINTR): go round. */
	}
	sim_stop(sim);
	pthread_join(probe_thread, NULL);
	pthread_join(sim_thread, NULL);
	uint64_t elapsed = cairn__now_ns() - start;

	const char *msg;
	int code = sim_error(sim, &msg);
	cairn_daemon_info(view_conn, &info);
	view_final(view, elapsed, why, &info);
	if (code) {
		fprintf(stderr, "cairn-demo: %s\n", msg);
	} else {
		status = 0;
	}
	r = sim_teardown(sim, view_conn);
	torn_down = true;
	if (r < 0 && r != -CAIRN_E_DISCONNECTED && r != -CAIRN_E_LANE_DROPPED) {
		/* The game is over and was reported; a daemon that went first is no failure. */
		fprintf(stderr, "cairn-demo: could not destroy the hunts: %s\n", cairn_strerror(r));
	}
out:
	if (!torn_down && sim_conn) {
		/* A setup that failed half way, or a thread that did not start: no game to show. */
		sim_teardown(sim, sim_conn);
	}
	view_free(view);
	sim_free(sim);
	free(stats.hunt_claims);
	pthread_mutex_destroy(&stats.lock);
	cairn_close(view_conn);
	cairn_close(probe_conn);
	cairn_close(sim_conn);
	return status;
}
