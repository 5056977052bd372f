/*
 * cairn-bench baselines: the same game traffic over cairn and over the transports a
 * game server would otherwise use, in one run, so that the only difference is the
 * transport.
 *
 *  cairn:   a private cairnd (--durability=none; its apply thread pinned with --cpu),
 *           PING, MOVE and NEAREST_CLUES round trips from one pinned C host thread
 *           (libcairn cairn_ping, cairn_move, cairn_nearest_clues; both sides spin),
 *           and batched MOVE throughput (cairn_submit_batch, cairn_poll_batch); then a
 *           second cairnd with --durability=sync and a data directory in the work
 *           directory for durable batched throughput.
 *  socket:  the same engine embedded in a forked server pinned to the daemon's CPU,
 *           serving a length-prefixed protocol over a Unix SOCK_STREAM socket
 *           (sock_engine.h): PING and MOVE round trips, pipelined MOVE throughput.
 *  Redis:   Debian's redis-server started for the run, pinned to the daemon's CPU, no
 *           snapshots, on a Unix socket (or loopback TCP): PING, GEOADD (a MOVE: the
 *           player's position in the hunt's geo set) and GEOSEARCH ... ASC COUNT 8 (a
 *           NEAREST_CLUES), pipelined GEOADD throughput without an append-only file
 *           and with appendfsync always (its durable row), through hiredis.
 *  gRPC:    bench/grpc, a grpc-go server (cairn-grpc-server) that hands each raw
 *           56-byte message to cairnd through the Go binding, built with `go build`
 *           for the run, and its client (cairn-bench-grpc): unary PING and MOVE
 *           round trips from one goroutine, MOVEs pipelined on one stream. Both run on
 *           the client's CPU: on the daemon's CPU the server would share it with the
 *           spinning apply thread. The client writes its raw samples for this program
 *           to summarize, so every transport's percentiles come from the same code.
 *           Not measured, with the reason, when Go or the module's dependencies are
 *           not there.
 *
 * Every world is the same: the same hunts, players and clues, the same random walk of
 * legal steps from the same seed. Positions are millimetres on the embedded map; Redis
 * gets them as longitude and latitude in a small box (see to_lonlat).
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "bench.h"
#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "game.h"
#include "machine.h"
#include "proc.h"
#include "redis_base.h"
#include "report.h"
#include "sock_engine.h"
#include "spawn.h"
#include "stats.h"

#define CMD "baselines"

#define CALL_TIMEOUT_NS   (5ll * 1000000000)
#define ATTACH_TIMEOUT_NS (5ull * 1000000000u)
#define STOP_TIMEOUT_NS   (15ull * 1000000000u) /* above cairnd's 5 s drain timeout */
#define STALL_NS          (10ull * 1000000000u)
#define RING_CAPACITY     4096u
#define CHUNK             2000u /* round trips: alternating chunks of each kind */
#define STEP_MM           250
#define POLL_MAX          256u
#define NEAREST_K         8u
#define SEED              7
#define GO_LIMIT_NS       (600ull * 1000000000u) /* a go build, or the gRPC client's run */

#ifndef CAIRN_SOURCE_ROOT
#define CAIRN_SOURCE_ROOT "."
#endif

/* Where the map lies on Earth for Redis: a box of a few hundred metres near Paris. */
#define ORIGIN_LON    2.35
#define ORIGIN_LAT    48.85
#define M_PER_DEG_LAT 111320.0

/* The targets. */
#define TARGET_SOCK_P50_X  100.0
#define TARGET_SOCK_P99_X  30.0
#define TARGET_REDIS_P50_X 50.0
#define TARGET_DURABLE_X   10.0
#define TARGET_GRPC_P50_X  50.0 /* not the issue's: gRPC is a socket and more */

struct bl_opts {
	const char *cairnd;
	const char *redis_server;
	bool redis_tcp;
	bool no_grpc;
	int host_cpu, daemon_cpu;
	uint64_t hunts, players, clues;
	uint64_t iterations, warmup;
	uint64_t moves, redis_ops, durable_moves, runs;
	uint64_t batch, inflight, durable_inflight;
	bool json, check, quick;
};

/* The round trips, in the order of their rows. */
enum rt {
	RT_CAIRN_PING,
	RT_CAIRN_MOVE,
	RT_CAIRN_NEAREST,
	RT_SOCK_PING,
	RT_SOCK_MOVE,
	RT_REDIS_PING,
	RT_REDIS_GEOADD,
	RT_REDIS_GEOSEARCH,
	RT_GRPC_PING,
	RT_GRPC_MOVE,
	RT_N,
};

static const char *const rt_names[RT_N] = {
	[RT_CAIRN_PING] = "cairn PING (cairn_ping)",
	[RT_CAIRN_MOVE] = "cairn MOVE (cairn_move)",
	[RT_CAIRN_NEAREST] = "cairn NEAREST_CLUES k=8",
	[RT_SOCK_PING] = "Unix socket PING",
	[RT_SOCK_MOVE] = "Unix socket MOVE",
	[RT_REDIS_PING] = "Redis PING",
	[RT_REDIS_GEOADD] = "Redis GEOADD (a MOVE)",
	[RT_REDIS_GEOSEARCH] = "Redis GEOSEARCH COUNT 8",
	[RT_GRPC_PING] = "gRPC PING (unary, via cairnd)",
	[RT_GRPC_MOVE] = "gRPC MOVE (unary, via cairnd)",
};

/* The throughput rows. */
enum tp { TP_CAIRN, TP_CAIRN_SYNC, TP_SOCK, TP_REDIS, TP_REDIS_AOF, TP_GRPC, TP_N };

static const char *const tp_names[TP_N] = {
	[TP_CAIRN] = "cairn MOVE, batched, durability none",
	[TP_CAIRN_SYNC] = "cairn MOVE, batched, durability sync",
	[TP_SOCK] = "Unix socket MOVE, pipelined",
	[TP_REDIS] = "Redis GEOADD, pipelined, no AOF",
	[TP_REDIS_AOF] = "Redis GEOADD, pipelined, AOF always",
	[TP_GRPC] = "gRPC MOVE, one stream",
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench baselines [OPTION]...\n"
		"The same game traffic over cairn and over the baselines, in one run: a private\n"
		"cairnd (round trips of PING, MOVE and NEAREST_CLUES from one pinned C host\n"
		"thread; batched MOVE throughput with --durability none and sync); the same\n"
		"engine served over a Unix socket with a length-prefixed protocol (PING and MOVE\n"
		"round trips, pipelined MOVE throughput); and Redis (redis-server started for\n"
		"the run: PING, GEOADD as the MOVE, GEOSEARCH as NEAREST_CLUES; pipelined GEOADD\n"
		"throughput without an append-only file and with appendfsync always); and gRPC\n"
		"(bench/grpc built with go build: unary PING and MOVE, MOVEs on one stream,\n"
		"through a grpc-go server that calls cairnd). Every server runs on the daemon's\n"
		"CPU and every client on the host's, but gRPC's server, which shares the host's.\n"
		"\n"
		"  --cairnd PATH            the cairnd binary (default: as cairn-bench rtt finds "
		"it)\n"
		"  --redis-server PATH      the redis-server binary (default: on $PATH)\n"
		"  --redis-tcp              talk to Redis over 127.0.0.1 (a free port) instead of\n"
		"                           its Unix socket\n"
		"  --no-grpc                leave gRPC out (it needs Go and the module's\n"
		"                           dependencies from the Go proxy)\n"
		"  --host-cpu N             pin the clients here (default: the first usable CPU)\n"
		"  --daemon-cpu N           pin the servers here (default: the second usable CPU)\n"
		"  --hunts N                hunts (default 1)\n"
		"  --players N              players per hunt (default 100)\n"
		"  --clues N                clues per hunt (default 100)\n"
		"  --iterations N           timed round trips of each kind (default 200k; "
		"--quick:\n"
		"                           20k)\n"
		"  --warmup N               untimed round trips of each kind first (default 20k;\n"
		"                           --quick: 2k)\n"
		"  --moves N                MOVEs per throughput run, cairn and the socket\n"
		"                           (default 5M; --quick: 1M)\n"
		"  --redis-ops N            GEOADDs per Redis throughput run (default 500k;\n"
		"                           --quick: 100k)\n"
		"  --durable-moves N        MOVEs per cairn durable run (default 2M; --quick: "
		"300k)\n"
		"  --runs N                 runs of each throughput row (default 5; --quick: 3)\n"
		"  --batch N                commands per batch (default 64)\n"
		"  --inflight N             batches in flight, durability none rows (default 8)\n"
		"  --durable-inflight N     batches in flight, durable rows (default 64)\n"
		"  --quick                  a short run with the smaller counts above\n"
		"  --json                   print one JSON object instead of tables\n"
		"  --check                  exit 1 if a target is missed: cairn's PING and MOVE\n"
		"                           p50 >= %.0fx and p99 >= %.0fx lower than the "
		"socket's,\n"
		"                           p50 >= %.0fx lower than Redis PING and GEOADD; "
		"cairn's\n"
		"                           durable throughput >= %.0fx Redis's with appendfsync\n"
		"                           always (Redis targets are not measured without Redis)\n"
		"  -h, --help               show this help and exit\n",
		TARGET_SOCK_P50_X, TARGET_SOCK_P99_X, TARGET_REDIS_P50_X, TARGET_DURABLE_X);
}

enum {
	OPT_CAIRND = 256,
	OPT_REDIS_SERVER,
	OPT_REDIS_TCP,
	OPT_NO_GRPC,
	OPT_HOST_CPU,
	OPT_DAEMON_CPU,
	OPT_HUNTS,
	OPT_PLAYERS,
	OPT_CLUES,
	OPT_ITERATIONS,
	OPT_WARMUP,
	OPT_MOVES,
	OPT_REDIS_OPS,
	OPT_DURABLE_MOVES,
	OPT_RUNS,
	OPT_BATCH,
	OPT_INFLIGHT,
	OPT_DURABLE_INFLIGHT,
	OPT_QUICK,
	OPT_JSON,
	OPT_CHECK,
};

static int parse_args(int argc, char **argv, struct bl_opts *o)
{
	static const struct option opts[] = {
		{"cairnd", required_argument, NULL, OPT_CAIRND},
		{"redis-server", required_argument, NULL, OPT_REDIS_SERVER},
		{"redis-tcp", no_argument, NULL, OPT_REDIS_TCP},
		{"no-grpc", no_argument, NULL, OPT_NO_GRPC},
		{"host-cpu", required_argument, NULL, OPT_HOST_CPU},
		{"daemon-cpu", required_argument, NULL, OPT_DAEMON_CPU},
		{"hunts", required_argument, NULL, OPT_HUNTS},
		{"players", required_argument, NULL, OPT_PLAYERS},
		{"clues", required_argument, NULL, OPT_CLUES},
		{"iterations", required_argument, NULL, OPT_ITERATIONS},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"moves", required_argument, NULL, OPT_MOVES},
		{"redis-ops", required_argument, NULL, OPT_REDIS_OPS},
		{"durable-moves", required_argument, NULL, OPT_DURABLE_MOVES},
		{"runs", required_argument, NULL, OPT_RUNS},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"inflight", required_argument, NULL, OPT_INFLIGHT},
		{"durable-inflight", required_argument, NULL, OPT_DURABLE_INFLIGHT},
		{"quick", no_argument, NULL, OPT_QUICK},
		{"json", no_argument, NULL, OPT_JSON},
		{"check", no_argument, NULL, OPT_CHECK},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t iterations = 0, warmup = UINT64_MAX, moves = 0, redis_ops = 0, durable = 0,
		 runs = 0;
	int c;
	o->hunts = 1;
	o->players = 100;
	o->clues = 100;
	o->batch = 64;
	o->inflight = 8;
	o->durable_inflight = 64;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = 0;
		switch (c) {
		case OPT_CAIRND:
			o->cairnd = optarg;
			break;
		case OPT_REDIS_SERVER:
			o->redis_server = optarg;
			break;
		case OPT_REDIS_TCP:
			o->redis_tcp = true;
			break;
		case OPT_NO_GRPC:
			o->no_grpc = true;
			break;
		case OPT_HOST_CPU:
			r = bench_parse_cpu(CMD, "--host-cpu", optarg, &o->host_cpu);
			break;
		case OPT_DAEMON_CPU:
			r = bench_parse_cpu(CMD, "--daemon-cpu", optarg, &o->daemon_cpu);
			break;
		case OPT_HUNTS:
			r = bench_parse_count(CMD, "--hunts", optarg, 1, 10000, &o->hunts);
			break;
		case OPT_PLAYERS:
			r = bench_parse_count(CMD, "--players", optarg, 1, 1000, &o->players);
			break;
		case OPT_CLUES:
			r = bench_parse_count(CMD, "--clues", optarg, 1, 1000, &o->clues);
			break;
		case OPT_ITERATIONS:
			r = bench_parse_count(CMD, "--iterations", optarg, 1, 100000000,
					      &iterations);
			break;
		case OPT_WARMUP:
			r = bench_parse_count(CMD, "--warmup", optarg, 0, 100000000, &warmup);
			break;
		case OPT_MOVES:
			r = bench_parse_count(CMD, "--moves", optarg, 1000, 10000000000ull, &moves);
			break;
		case OPT_REDIS_OPS:
			r = bench_parse_count(CMD, "--redis-ops", optarg, 1000, 1000000000ull,
					      &redis_ops);
			break;
		case OPT_DURABLE_MOVES:
			r = bench_parse_count(CMD, "--durable-moves", optarg, 1000, 10000000000ull,
					      &durable);
			break;
		case OPT_RUNS:
			r = bench_parse_count(CMD, "--runs", optarg, 1, STATS_MAX_VALUES, &runs);
			break;
		case OPT_BATCH:
			r = bench_parse_count(CMD, "--batch", optarg, 1, 1024, &o->batch);
			break;
		case OPT_INFLIGHT:
			r = bench_parse_count(CMD, "--inflight", optarg, 1, 1024, &o->inflight);
			break;
		case OPT_DURABLE_INFLIGHT:
			r = bench_parse_count(CMD, "--durable-inflight", optarg, 1, 1024,
					      &o->durable_inflight);
			break;
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_JSON:
			o->json = true;
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
	if (o->hunts * (o->players + o->clues) > 1000000) {
		bench_error(CMD, "--hunts x (--players + --clues) is at most 1000000 (cairnd's "
				 "default entity limit is 1 Mi)");
		return bench_usage_hint(CMD);
	}
	if (o->batch * o->inflight > RING_CAPACITY ||
	    o->batch * o->durable_inflight > RING_CAPACITY) {
		bench_error(CMD,
			    "--batch x --inflight (and x --durable-inflight) is at most %u, "
			    "the rings' capacity",
			    RING_CAPACITY);
		return bench_usage_hint(CMD);
	}
	o->iterations = iterations ? iterations : o->quick ? 20000 : 200000;
	o->warmup = warmup != UINT64_MAX ? warmup : o->quick ? 2000 : 20000;
	o->moves = moves ? moves : o->quick ? 1000000 : 5000000;
	o->redis_ops = redis_ops ? redis_ops : o->quick ? 100000 : 500000;
	o->durable_moves = durable ? durable : o->quick ? 300000 : 2000000;
	o->runs = runs ? runs : o->quick ? 3 : 5;
	return 0;
}

/* ---- the run ---- */

/* One transport's copy of the world: the same seed gives every copy the same traffic. */
struct world {
	struct game g;
	uint32_t query_next; /* the player the next nearest-clue query is made from */
};

/* Everything the run holds that must be released on every path. */
struct bl_run {
	struct bl_opts o;
	struct machine m;
	struct cairn__map *map;
	char work[128]; /* the work directory: cairnd's sync data, Redis's directories */
	char cairn_data_arg[160];
	struct cairnd_proc d, dsync;
	bool spawned, spawned_sync;
	cairn_client *c, *csync;
	struct sock_engine *sock;
	bool sock_started;
	struct redis_base redis, redis_aof;
	bool have_redis;
	char redis_binary[PATH_MAX];
	char redis_why[256];
	double m_per_deg_lon;
	double radius_m;
	char **keys;    /* per hunt: "hunt:N" */
	char **members; /* per player of the world: "player:N" */
	uint64_t *lat[RT_N];
	size_t nlat[RT_N]; /* samples in lat[k] */
	bool measured[RT_N];
	uint64_t rt_ns[RT_N]; /* wall time of each kind's timed round trips */
	double tp[TP_N][STATS_MAX_VALUES];
	unsigned tp_runs[TP_N];
	bool tp_measured[TP_N];
	struct cairnd_proc dgrpc;
	bool spawned_grpc;
	cairn_client *cgrpc;
	char grpc_why[256];     /* why gRPC was not measured */
	unsigned nearest_short; /* nearest-clue answers with fewer than k hits */
};

/* The game's millimetres (x right, y down from the map's top-left) as degrees. */
static void to_lonlat(const struct bl_run *run, int32_t x, int32_t y, double *lon, double *lat)
{
	*lon = ORIGIN_LON + (double)x / 1000.0 / run->m_per_deg_lon;
	*lat = ORIGIN_LAT - (double)y / 1000.0 / M_PER_DEG_LAT;
}

static int world_init(struct bl_run *run, struct world *w)
{
	memset(w, 0, sizeof(*w));
	return game_init(&w->g, run->map, CAIRN_DEFAULT_CELL_MM, (uint32_t)run->o.hunts,
			 (uint32_t)run->o.players, STEP_MM, SEED);
}

/* The next player of the visiting order takes its next legal step: i, x, y. */
static void next_step(struct world *w, uint32_t *i, int32_t *x, int32_t *y)
{
	*i = w->g.next;
	w->g.next = *i + 1 == w->g.nplayers ? 0 : *i + 1;
	game_step(&w->g, *i, x, y);
}

/* Where the next nearest-clue query is made from: the next player's position. */
static const struct game_player *next_query(struct world *w)
{
	const struct game_player *p = &w->g.players[w->query_next];
	w->query_next = w->query_next + 1 == w->g.nplayers ? 0 : w->query_next + 1;
	return p;
}

/* The index of player i's member name: its player_id in the Redis world (setup_redis). */
static uint32_t player_index(const struct world *w, uint32_t i)
{
	return w->g.players[i].player_id;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int make_work(struct bl_run *run, const char **fs)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp || strlen(tmp) > 60) {
		tmp = "/var/tmp";
	}
	snprintf(run->work, sizeof(run->work), "%s/cairn-bench-base-XXXXXX", tmp);
	if (!mkdtemp(run->work)) {
		int e = errno;
		bench_error(CMD, "cannot create a work directory in %s: %s", tmp, strerror(e));
		run->work[0] = '\0';
		return -e;
	}
	snprintf(run->cairn_data_arg, sizeof(run->cairn_data_arg), "--data-dir=%s/cairn-data",
		 run->work);
	struct statfs sf;
	*fs = "unknown";
	if (statfs(run->work, &sf) == 0) {
		*fs = sf.f_type == 0x01021994 ? "tmpfs" : "a disk filesystem";
	}
	return 0;
}

/* Stops everything still running and frees everything. Returns the first stop error. */
static int finish(struct bl_run *run, bool failed)
{
	char err[512];
	int r = 0, s;
	cairn_close(run->c);
	cairn_close(run->csync);
	cairn_close(run->cgrpc);
	run->c = run->csync = run->cgrpc = NULL;
	if (run->spawned_grpc) {
		s = cairnd_finish(&run->dgrpc, CMD, STOP_TIMEOUT_NS, failed);
		r = r ? r : s;
		run->spawned_grpc = false;
	}
	if (run->spawned) {
		s = cairnd_finish(&run->d, CMD, STOP_TIMEOUT_NS, failed);
		r = r ? r : s;
		run->spawned = false;
	}
	if (run->spawned_sync) {
		s = cairnd_finish(&run->dsync, CMD, STOP_TIMEOUT_NS, failed);
		r = r ? r : s;
		run->spawned_sync = false;
	}
	if (run->sock_started) {
		if ((s = sock_engine_stop(run->sock, err, sizeof(err))) < 0) {
			bench_error(CMD, "%s", err);
			r = r ? r : s;
		}
		run->sock_started = false;
	}
	struct redis_base *rs[2] = {&run->redis, &run->redis_aof};
	for (unsigned i = 0; i < 2; i++) {
		if (rs[i]->pid > 0 && (s = redis_stop(rs[i], err, sizeof(err))) < 0) {
			bench_error(CMD, "%s", err);
			r = r ? r : s;
		}
	}
	free(run->sock);
	run->sock = NULL;
	for (unsigned k = 0; k < RT_N; k++) {
		free(run->lat[k]);
		run->lat[k] = NULL;
	}
	if (run->keys) {
		for (uint64_t i = 0; i < run->o.hunts; i++) {
			free(run->keys[i]);
		}
	}
	if (run->members) {
		for (uint64_t i = 0; i < run->o.hunts * run->o.players; i++) {
			free(run->members[i]);
		}
	}
	free(run->keys);
	free(run->members);
	run->keys = run->members = NULL;
	cairn__map_free(run->map);
	run->map = NULL;
	if (run->work[0]) {
		if (failed || r < 0) {
			bench_error(CMD, "kept the work directory: %s", run->work);
		} else {
			nftw(run->work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		}
		run->work[0] = '\0';
	}
	return r;
}

/*
 * One placement entry for process pid: every thread's name and CPUs, so that a
 * process with many threads takes one line.
 */
static void place_process(struct report *rep, const char *who, pid_t pid)
{
	char path[64], list[256] = "", cpus[64], name[32], label[96];
	size_t len = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	snprintf(label, sizeof(label), "%s (pid %d)", who, (int)pid);
	DIR *d = opendir(path);
	if (!d) {
		report_placement(rep, label, "unknown (%s: %s)", path, strerror(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) && len < sizeof(list) - 1) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid <= 0 ||
		    machine_thread_cpus(pid, tid, cpus, sizeof(cpus), name, sizeof(name)) < 0) {
			continue;
		}
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s: CPU %s",
					len ? "; " : "", name, cpus);
	}
	closedir(d);
	report_placement(rep, label, "%s", list);
}

/* ---- cairn ---- */

static int start_cairnd(struct bl_run *run, struct cairnd_proc *d, cairn_client **c,
			const char *const *args, unsigned nargs, bool *spawned)
{
	struct cairn_open_options oo = {
		.name = "cairn-bench",
		.cmd_capacity = RING_CAPACITY,
		.res_capacity = RING_CAPACITY,
	};
	char err[PATH_MAX + 256];
	int r = cairnd_find(run->o.cairnd, d, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "%s", err);
		return r;
	}
	for (unsigned i = 0; i < nargs; i++) {
		d->extra_args[d->n_extra_args++] = args[i];
	}
	r = cairnd_spawn(d, run->o.daemon_cpu, &run->m.usable, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "cannot start %s: %s", d->binary, err);
		cairnd_cleanup(d, false);
		return r;
	}
	*spawned = true;
	bench_progress("baselines: started %s %s as pid %d, log %s", d->binary, args[0],
		       (int)d->pid, d->log);
	r = cairnd_attach(d, ATTACH_TIMEOUT_NS, &oo, c, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "%s", err);
		cairnd_show_log(d);
		cairnd_cleanup(d, true);
		*spawned = false;
	}
	return r;
}

/* Says what failed in a setup call, naming the protocol code when there is one. */
static int setup_failed(const char *what, int r)
{
	const char *name = cairn_error_name(-r);
	bench_error(CMD, "%s failed: %s (%s)", what, cairn_strerror(r), name ? name : "-");
	return r < 0 ? r : -EPROTO;
}

/* Hunts, players and clues through libcairn's calls; then the visiting order. */
static int setup_cairn(struct bl_run *run, cairn_client *c, struct world *w)
{
	struct game *g = &w->g;
	for (uint32_t h = 0; h < g->nhunts; h++) {
		struct cairn_hunt_created hc;
		int r = cairn_hunt_create(c, NULL, &hc, CALL_TIMEOUT_NS);
		if (r < 0) {
			return setup_failed("HUNT_CREATE", r);
		}
		game_set_hunt(g, h, hc.hunt_id);
	}
	for (uint32_t i = 0; i < g->nplayers; i++) {
		struct game_player *p = &g->players[i];
		int r = cairn_join(c, p->hunt_id, p->x, p->y, &p->player_id, CALL_TIMEOUT_NS);
		if (r < 0) {
			return setup_failed("JOIN", r);
		}
	}
	for (uint32_t h = 0; h < g->nhunts; h++) {
		for (uint64_t k = 0; k < run->o.clues; k++) {
			int32_t x, y;
			uint32_t id;
			game_random_spot(g, &x, &y);
			int r = cairn_clue_place(c, g->hunt_ids[h], x, y, 1, &id, CALL_TIMEOUT_NS);
			if (r < 0) {
				return setup_failed("CLUE_PLACE", r);
			}
		}
	}
	game_shuffle(g);
	return 0;
}

/*
 * n MOVEs with at most inflight batches of batch outstanding (cairn_submit_batch,
 * cairn_poll_batch), every result checked. *ns gets first submit to last result.
 */
static int cairn_pipeline(struct bl_run *run, cairn_client *c, struct world *w, uint64_t n,
			  unsigned batch, unsigned inflight, uint64_t *ns)
{
	static struct cairn_msg buf[1024], res[POLL_MAX];
	uint64_t window = (uint64_t)batch * inflight, built = 0, done = 0, last_done = 0;
	uint64_t idle = 0, wrong = 0;
	unsigned off = 0, nbuf = 0;
	(void)run;
	uint64_t t0 = cairn__now_ns(), since = t0;
	while (done < n) {
		bool did = false;
		if (off == nbuf && built < n && built - done + batch <= window) {
			nbuf = (unsigned)(n - built < batch ? n - built : batch);
			for (unsigned i = 0; i < nbuf; i++) {
				game_next_move(&w->g, &buf[i]);
			}
			built += nbuf;
			off = 0;
		}
		if (off < nbuf) {
			int r = cairn_submit_batch(c, buf + off, nbuf - off);
			if (r < 0) {
				bench_error(CMD, "cairn_submit_batch: %s", cairn_strerror(r));
				return r;
			}
			off += (unsigned)r;
			did |= r > 0;
		}
		int got = cairn_poll_batch(c, res, POLL_MAX);
		if (got < 0) {
			bench_error(CMD, "cairn_poll_batch: %s", cairn_strerror(got));
			return got;
		}
		for (int i = 0; i < got; i++) {
			wrong += res[i].hdr.type != CAIRN_MSG_MOVED;
		}
		done += (uint64_t)got;
		did |= got > 0;
		if (did) {
			continue;
		}
		cairn__cpu_relax();
		if ((++idle & 4095) == 0) {
			uint64_t now = cairn__now_ns();
			if (done != last_done) {
				last_done = done;
				since = now;
			}
			int r = cairn_check(c);
			if (r < 0) {
				bench_error(CMD, "lost the daemon: %s", cairn_strerror(r));
				return r;
			}
			if (now - since > STALL_NS) {
				bench_error(CMD, "no result for %.0f s", STALL_NS / 1e9);
				return -ETIMEDOUT;
			}
		}
	}
	*ns = cairn__now_ns() - t0;
	if (wrong) {
		bench_error(CMD, "%llu of %llu MOVEs through cairnd were not answered MOVED",
			    (unsigned long long)wrong, (unsigned long long)n);
		return -EPROTO;
	}
	return 0;
}

/* ---- the socket ---- */

/* One command over the socket, its answer expected of type want. */
static int sock_call(struct bl_run *run, struct cairn_msg *cmd, uint16_t want,
		     struct cairn_msg *res, const char *what)
{
	int r = sock_engine_call(run->sock, cmd, res);
	if (r < 0) {
		bench_error(CMD, "socket %s: %s", what, strerror(-r));
		return r;
	}
	if (res->hdr.type != want) {
		return setup_failed(what, res->hdr.type == CAIRN_MSG_ERROR ? -res->hdr.status
									   : -CAIRN_E_BAD_REPLY);
	}
	return 0;
}

/* The same setup as setup_cairn, in the same order, over the socket. */
static int setup_sock(struct bl_run *run, struct world *w)
{
	struct game *g = &w->g;
	struct cairn_msg cmd, res;
	for (uint32_t h = 0; h < g->nhunts; h++) {
		struct cairn_hunt_created hc;
		cairn_msg_hunt_create(&cmd, NULL);
		if (sock_call(run, &cmd, CAIRN_MSG_HUNT_CREATED, &res, "HUNT_CREATE") < 0) {
			return -EPROTO;
		}
		memcpy(&hc, res.payload, sizeof(hc));
		game_set_hunt(g, h, hc.hunt_id);
	}
	for (uint32_t i = 0; i < g->nplayers; i++) {
		struct game_player *p = &g->players[i];
		struct cairn_joined j;
		cairn_msg_join(&cmd, p->hunt_id, p->x, p->y);
		if (sock_call(run, &cmd, CAIRN_MSG_JOINED, &res, "JOIN") < 0) {
			return -EPROTO;
		}
		memcpy(&j, res.payload, sizeof(j));
		p->player_id = j.player_id;
	}
	for (uint32_t h = 0; h < g->nhunts; h++) {
		for (uint64_t k = 0; k < run->o.clues; k++) {
			int32_t x, y;
			game_random_spot(g, &x, &y);
			cairn_msg_clue_place(&cmd, g->hunt_ids[h], x, y, 1);
			if (sock_call(run, &cmd, CAIRN_MSG_CLUE_PLACED, &res, "CLUE_PLACE") < 0) {
				return -EPROTO;
			}
		}
	}
	game_shuffle(g);
	return 0;
}

/*
 * n MOVEs over the socket with at most batch x inflight frames in flight: a batch is
 * written with one write whenever the window has room for it, and otherwise the client
 * blocks in a read that takes every answer that has arrived.
 */
static int sock_pipeline(struct bl_run *run, struct world *w, uint64_t n, unsigned batch,
			 unsigned inflight, uint64_t *ns)
{
	static struct cairn_msg buf[1024], res[POLL_MAX];
	uint64_t window = (uint64_t)batch * inflight, sent = 0, done = 0, wrong = 0;
	uint64_t t0 = cairn__now_ns();
	while (done < n) {
		while (sent < n && sent - done + batch <= window) {
			unsigned k = (unsigned)(n - sent < batch ? n - sent : batch);
			for (unsigned i = 0; i < k; i++) {
				game_next_move(&w->g, &buf[i]);
			}
			int r = sock_engine_send(run->sock, buf, k);
			if (r < 0) {
				bench_error(CMD, "socket: write: %s", strerror(-r));
				return r;
			}
			sent += k;
		}
		int got = sock_engine_recv(run->sock, res, POLL_MAX);
		if (got < 0) {
			bench_error(CMD, "socket: read: %s", strerror(-got));
			return got;
		}
		for (int i = 0; i < got; i++) {
			wrong += res[i].hdr.type != CAIRN_MSG_MOVED;
		}
		done += (uint64_t)got;
	}
	*ns = cairn__now_ns() - t0;
	if (wrong) {
		bench_error(CMD, "%llu of %llu MOVEs over the socket were not answered MOVED",
			    (unsigned long long)wrong, (unsigned long long)n);
		return -EPROTO;
	}
	return 0;
}

/* ---- Redis ---- */

static char *dup_printf(const char *fmt, unsigned v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), fmt, v);
	return strdup(buf);
}

/*
 * The same world in Redis: hunt h is the geo set "hunt:<h+1>" of its players
 * ("player:<i>") and "hunt:<h+1>:clues" of its clues ("clue:<j>"). A player's
 * player_id in this world is its index, so that its member name is found at once.
 */
static int setup_redis(struct bl_run *run, struct redis_base *rb, struct world *w)
{
	struct game *g = &w->g;
	char ckey[48], member[32];
	double lon, lat;
	for (uint32_t h = 0; h < g->nhunts; h++) {
		game_set_hunt(g, h, h + 1);
	}
	for (uint32_t i = 0; i < g->nplayers; i++) {
		struct game_player *p = &g->players[i];
		p->player_id = i;
		to_lonlat(run, p->x, p->y, &lon, &lat);
		if (redis_geoadd(rb, run->keys[p->hunt_id - 1], lon, lat, run->members[i]) < 0) {
			bench_error(CMD, "Redis GEOADD of a player: %s", redis_errstr(rb));
			return -EPROTO;
		}
	}
	uint32_t clue = 0;
	for (uint32_t h = 0; h < g->nhunts; h++) {
		snprintf(ckey, sizeof(ckey), "%s:clues", run->keys[h]);
		for (uint64_t k = 0; k < run->o.clues; k++) {
			int32_t x, y;
			game_random_spot(g, &x, &y);
			to_lonlat(run, x, y, &lon, &lat);
			snprintf(member, sizeof(member), "clue:%u", ++clue);
			if (redis_geoadd(rb, ckey, lon, lat, member) < 0) {
				bench_error(CMD, "Redis GEOADD of a clue: %s", redis_errstr(rb));
				return -EPROTO;
			}
		}
	}
	game_shuffle(g);
	return 0;
}

/*
 * n GEOADDs pipelined with at most window in flight: window commands are queued, then
 * each reply taken queues the next command. hiredis writes what is queued only when
 * it has no reply buffered, so the commands go out in batches, never more than window
 * ahead of the replies.
 */
static int redis_pipeline(struct bl_run *run, struct redis_base *rb, struct world *w, uint64_t n,
			  uint64_t window, uint64_t *ns)
{
	uint64_t queued = 0, done = 0;
	double lon, lat;
	uint64_t t0 = cairn__now_ns();
	while (done < n) {
		while (queued < n && queued - done < window) {
			uint32_t i;
			int32_t x, y;
			next_step(w, &i, &x, &y);
			to_lonlat(run, x, y, &lon, &lat);
			const struct game_player *p = &w->g.players[i];
			if (redis_append_geoadd(rb, run->keys[p->hunt_id - 1], lon, lat,
						run->members[player_index(w, i)]) < 0) {
				bench_error(CMD, "Redis: cannot queue a GEOADD");
				return -ENOMEM;
			}
			queued++;
		}
		int r = redis_take_integer(rb);
		if (r < 0) {
			bench_error(CMD, "Redis GEOADD %llu of a pipeline: %s",
				    (unsigned long long)done + 1, redis_errstr(rb));
			return r;
		}
		done++;
	}
	*ns = cairn__now_ns() - t0;
	return 0;
}

/* ---- round trips ---- */

struct rt_ctx {
	struct bl_run *run;
	struct world *w;
	cairn_client *c;
	struct redis_base *rb;
};

/* One round trip of kind k, timed alone into *ns. Returns 0 or a code after saying why. */
static int round_trip(struct rt_ctx *x, enum rt k, uint64_t *ns)
{
	struct bl_run *run = x->run;
	struct cairn_msg cmd, res;
	struct cairn_hit hits[NEAREST_K];
	const struct game_player *p;
	uint32_t i, count = 0;
	unsigned found = 0;
	int32_t px, py;
	double lon, lat;
	uint64_t t0 = 0, t1 = 0;
	int r = 0;
	switch (k) {
	case RT_CAIRN_PING:
		t0 = cairn__now_ns();
		r = cairn_ping(x->c, CALL_TIMEOUT_NS);
		t1 = cairn__now_ns();
		break;
	case RT_CAIRN_MOVE:
		next_step(x->w, &i, &px, &py);
		p = &x->w->g.players[i];
		t0 = cairn__now_ns();
		r = cairn_move(x->c, p->hunt_id, p->player_id, px, py, NULL, CALL_TIMEOUT_NS);
		t1 = cairn__now_ns();
		break;
	case RT_CAIRN_NEAREST:
		p = next_query(x->w);
		t0 = cairn__now_ns();
		r = cairn_nearest_clues(x->c, p->hunt_id, p->x, p->y, NEAREST_K, 0, hits, &count,
					CALL_TIMEOUT_NS);
		t1 = cairn__now_ns();
		run->nearest_short += r == 0 && count < NEAREST_K;
		break;
	case RT_SOCK_PING:
		game_msg_ping(&cmd);
		t0 = cairn__now_ns();
		r = sock_engine_call(run->sock, &cmd, &res);
		t1 = cairn__now_ns();
		r = r < 0 ? r : res.hdr.type == CAIRN_MSG_PONG ? 0 : -EPROTO;
		break;
	case RT_SOCK_MOVE:
		next_step(x->w, &i, &px, &py);
		p = &x->w->g.players[i];
		cairn_msg_move(&cmd, p->hunt_id, p->player_id, px, py);
		t0 = cairn__now_ns();
		r = sock_engine_call(run->sock, &cmd, &res);
		t1 = cairn__now_ns();
		r = r < 0 ? r : res.hdr.type == CAIRN_MSG_MOVED ? 0 : -EPROTO;
		break;
	case RT_REDIS_PING:
		t0 = cairn__now_ns();
		r = redis_ping(x->rb);
		t1 = cairn__now_ns();
		break;
	case RT_REDIS_GEOADD:
		next_step(x->w, &i, &px, &py);
		p = &x->w->g.players[i];
		to_lonlat(run, px, py, &lon, &lat);
		t0 = cairn__now_ns();
		r = redis_geoadd(x->rb, run->keys[p->hunt_id - 1], lon, lat,
				 run->members[player_index(x->w, i)]);
		t1 = cairn__now_ns();
		break;
	case RT_REDIS_GEOSEARCH: {
		char ckey[48];
		p = next_query(x->w);
		snprintf(ckey, sizeof(ckey), "%s:clues", run->keys[p->hunt_id - 1]);
		to_lonlat(run, p->x, p->y, &lon, &lat);
		t0 = cairn__now_ns();
		r = redis_geosearch(x->rb, ckey, lon, lat, run->radius_m, NEAREST_K, &found);
		t1 = cairn__now_ns();
		run->nearest_short += r == 0 && found < NEAREST_K;
		break;
	}
	case RT_GRPC_PING:
	case RT_GRPC_MOVE:
	case RT_N:
		/* gRPC's round trips are timed by its own client (phase_grpc). */
		return -EINVAL;
	}
	*ns = t1 - t0;
	if (r < 0) {
		const char *name = cairn_error_name(-r);
		bench_error(CMD, "%s failed: %s (%s)", rt_names[k],
			    k >= RT_REDIS_PING ? redis_errstr(x->rb) : cairn_strerror(r),
			    name ? name : "-");
	}
	return r;
}

/*
 * n round trips of each kind of [first, last], in alternating chunks of CHUNK of one
 * kind, so that every kind sees the same machine; with keep, kept in run->lat.
 */
static int round_trips(struct rt_ctx *x, enum rt first, enum rt last, uint64_t n, bool keep)
{
	uint64_t ns;
	for (uint64_t base = 0; base < n; base += CHUNK) {
		uint64_t end = base + CHUNK < n ? base + CHUNK : n;
		for (unsigned k = first; k <= last; k++) {
			uint64_t t = cairn__now_ns();
			for (uint64_t i = base; i < end; i++) {
				int r = round_trip(x, (enum rt)k, &ns);
				if (r < 0) {
					return r;
				}
				if (keep) {
					x->run->lat[k][i] = ns;
				}
			}
			if (keep) {
				x->run->rt_ns[k] += cairn__now_ns() - t;
			}
		}
	}
	for (unsigned k = first; keep && k <= last; k++) {
		x->run->measured[k] = true;
	}
	return 0;
}

static int measure_round_trips(struct rt_ctx *x, enum rt first, enum rt last, const char *who)
{
	const struct bl_opts *o = &x->run->o;
	bench_progress("baselines: %s: round trips, %llu untimed then %llu timed of each kind...",
		       who, (unsigned long long)o->warmup, (unsigned long long)o->iterations);
	if (o->warmup && round_trips(x, first, last, o->warmup, false) < 0) {
		return -EPROTO;
	}
	return round_trips(x, first, last, o->iterations, true);
}

/* ---- the phases ---- */

static int phase_cairn(struct bl_run *run, struct report *rep)
{
	const struct bl_opts *o = &run->o;
	static const char *const args[] = {"--durability=none"};
	struct world w;
	uint64_t ns;
	int r = start_cairnd(run, &run->d, &run->c, args, 1, &run->spawned);
	if (r < 0) {
		return r;
	}
	/* Pinned only now: the daemon we forked must not inherit the host's CPU. */
	if (o->host_cpu >= 0 && (r = machine_pin_self(o->host_cpu)) < 0) {
		bench_error(CMD, "cannot pin the host thread to CPU %d: %s", o->host_cpu,
			    strerror(-r));
		return r;
	}
	if ((r = world_init(run, &w)) < 0) {
		bench_error(CMD, "cannot prepare the traffic: %s", cairn_strerror(r));
		return r;
	}
	bench_progress("baselines: cairn: setup...");
	if ((r = setup_cairn(run, run->c, &w)) < 0) {
		goto out;
	}
	place_process(rep, "cairnd, durability none", run->d.pid);
	struct rt_ctx x = {.run = run, .w = &w, .c = run->c};
	if ((r = measure_round_trips(&x, RT_CAIRN_PING, RT_CAIRN_NEAREST, "cairn")) < 0) {
		goto out;
	}
	bench_progress("baselines: cairn: %llu runs of %llu batched MOVEs...",
		       (unsigned long long)o->runs, (unsigned long long)o->moves);
	uint64_t warm = o->moves < 200000 ? o->moves : 200000;
	r = cairn_pipeline(run, run->c, &w, warm, (unsigned)o->batch, (unsigned)o->inflight, &ns);
	for (uint64_t i = 0; r == 0 && i < o->runs; i++) {
		r = cairn_pipeline(run, run->c, &w, o->moves, (unsigned)o->batch,
				   (unsigned)o->inflight, &ns);
		run->tp[TP_CAIRN][i] = (double)o->moves * 1e9 / (double)ns;
	}
	run->tp_measured[TP_CAIRN] = r == 0;
	if (r == 0) {
		cairn_close(run->c);
		run->c = NULL;
		run->spawned = false;
		r = cairnd_finish(&run->d, CMD, STOP_TIMEOUT_NS, false);
	}
out:
	game_free(&w.g);
	return r;
}

static int phase_sock(struct bl_run *run, struct report *rep)
{
	const struct bl_opts *o = &run->o;
	char err[256];
	struct world w;
	uint64_t ns;
	int r = sock_engine_start(run->sock, o->daemon_cpu, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "cannot start the socket server: %s", err);
		return r;
	}
	run->sock_started = true;
	if ((r = world_init(run, &w)) < 0) {
		bench_error(CMD, "cannot prepare the traffic: %s", cairn_strerror(r));
		return r;
	}
	bench_progress("baselines: Unix socket: setup...");
	if ((r = setup_sock(run, &w)) < 0) {
		goto out;
	}
	place_process(rep, "Unix socket server", run->sock->pid);
	struct rt_ctx x = {.run = run, .w = &w};
	if ((r = measure_round_trips(&x, RT_SOCK_PING, RT_SOCK_MOVE, "Unix socket")) < 0) {
		goto out;
	}
	bench_progress("baselines: Unix socket: %llu runs of %llu pipelined MOVEs...",
		       (unsigned long long)o->runs, (unsigned long long)o->moves);
	uint64_t warm = o->moves < 200000 ? o->moves : 200000;
	r = sock_pipeline(run, &w, warm, (unsigned)o->batch, (unsigned)o->inflight, &ns);
	for (uint64_t i = 0; r == 0 && i < o->runs; i++) {
		r = sock_pipeline(run, &w, o->moves, (unsigned)o->batch, (unsigned)o->inflight,
				  &ns);
		run->tp[TP_SOCK][i] = (double)o->moves * 1e9 / (double)ns;
	}
	run->tp_measured[TP_SOCK] = r == 0;
	if (r == 0) {
		run->sock_started = false;
		if ((r = sock_engine_stop(run->sock, err, sizeof(err))) < 0) {
			bench_error(CMD, "%s", err);
		}
	}
out:
	game_free(&w.g);
	return r;
}

static int start_redis(struct bl_run *run, struct redis_base *rb, bool aof)
{
	char dir[192], err[512];
	snprintf(dir, sizeof(dir), "%s/%s", run->work, aof ? "redis-aof" : "redis");
	int r = redis_start(rb, run->redis_binary, dir, aof, run->o.redis_tcp, run->o.daemon_cpu,
			    err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "cannot start redis-server: %s", err);
		return r;
	}
	bench_progress("baselines: started %s (%s) as pid %d, log %s", run->redis_binary,
		       aof ? "appendonly yes, appendfsync always" : "no AOF, no snapshots",
		       (int)rb->pid, rb->log);
	return 0;
}

static int phase_redis(struct bl_run *run, struct report *rep)
{
	const struct bl_opts *o = &run->o;
	char err[512];
	struct world w;
	uint64_t ns;
	int r = start_redis(run, &run->redis, false);
	if (r < 0) {
		return r;
	}
	if ((r = world_init(run, &w)) < 0) {
		bench_error(CMD, "cannot prepare the traffic: %s", cairn_strerror(r));
		return r;
	}
	bench_progress("baselines: Redis: setup...");
	if ((r = setup_redis(run, &run->redis, &w)) < 0) {
		goto out;
	}
	place_process(rep, "redis-server, no AOF", run->redis.pid);
	struct rt_ctx x = {.run = run, .w = &w, .rb = &run->redis};
	if ((r = measure_round_trips(&x, RT_REDIS_PING, RT_REDIS_GEOSEARCH, "Redis")) < 0) {
		goto out;
	}
	bench_progress("baselines: Redis: %llu runs of %llu pipelined GEOADDs...",
		       (unsigned long long)o->runs, (unsigned long long)o->redis_ops);
	uint64_t window = o->batch * o->inflight;
	uint64_t warm = o->redis_ops < 50000 ? o->redis_ops : 50000;
	r = redis_pipeline(run, &run->redis, &w, warm, window, &ns);
	for (uint64_t i = 0; r == 0 && i < o->runs; i++) {
		r = redis_pipeline(run, &run->redis, &w, o->redis_ops, window, &ns);
		run->tp[TP_REDIS][i] = (double)o->redis_ops * 1e9 / (double)ns;
	}
	run->tp_measured[TP_REDIS] = r == 0;
	if (r == 0 && (r = redis_stop(&run->redis, err, sizeof(err))) < 0) {
		bench_error(CMD, "%s", err);
	}
out:
	game_free(&w.g);
	return r;
}

/*
 * The durable rows: a cairnd with --durability=sync and Redis with appendfsync always,
 * their logs in the same work directory, both up, their runs taking turns so that a
 * disk with burst credit favours neither.
 */
static int phase_durable(struct bl_run *run, struct report *rep)
{
	const struct bl_opts *o = &run->o;
	const char *args[] = {"--durability=sync", run->cairn_data_arg};
	char err[512];
	struct world wc, wr;
	uint64_t ns;
	bool redis = run->have_redis;
	int r = start_cairnd(run, &run->dsync, &run->csync, args, 2, &run->spawned_sync);
	if (r < 0) {
		return r;
	}
	if (redis && (r = start_redis(run, &run->redis_aof, true)) < 0) {
		return r;
	}
	if ((r = world_init(run, &wc)) < 0 || (r = world_init(run, &wr)) < 0) {
		bench_error(CMD, "cannot prepare the traffic: %s", cairn_strerror(r));
		return r;
	}
	bench_progress("baselines: durable: setup...");
	if ((r = setup_cairn(run, run->csync, &wc)) < 0 ||
	    (redis && (r = setup_redis(run, &run->redis_aof, &wr)) < 0)) {
		goto out;
	}
	place_process(rep, "cairnd, durability sync", run->dsync.pid);
	if (redis) {
		place_process(rep, "redis-server, AOF always", run->redis_aof.pid);
	}
	bench_progress("baselines: durable: %llu runs of %llu MOVEs (cairn) and %llu GEOADDs "
		       "(Redis), taking turns...",
		       (unsigned long long)o->runs, (unsigned long long)o->durable_moves,
		       (unsigned long long)o->redis_ops);
	uint64_t window = o->batch * o->durable_inflight;
	for (uint64_t i = 0; r == 0 && i < o->runs; i++) {
		r = cairn_pipeline(run, run->csync, &wc, o->durable_moves, (unsigned)o->batch,
				   (unsigned)o->durable_inflight, &ns);
		run->tp[TP_CAIRN_SYNC][i] = (double)o->durable_moves * 1e9 / (double)ns;
		if (r == 0 && redis) {
			r = redis_pipeline(run, &run->redis_aof, &wr, o->redis_ops, window, &ns);
			run->tp[TP_REDIS_AOF][i] = (double)o->redis_ops * 1e9 / (double)ns;
		}
	}
	run->tp_measured[TP_CAIRN_SYNC] = r == 0;
	run->tp_measured[TP_REDIS_AOF] = r == 0 && redis;
	if (r == 0) {
		cairn_close(run->csync);
		run->csync = NULL;
		run->spawned_sync = false;
		r = cairnd_finish(&run->dsync, CMD, STOP_TIMEOUT_NS, false);
	}
	if (r == 0 && redis && (r = redis_stop(&run->redis_aof, err, sizeof(err))) < 0) {
		bench_error(CMD, "%s", err);
	}
out:
	game_free(&wc.g);
	game_free(&wr.g);
	return r;
}

/*
 * The gRPC baseline: bench/grpc's server and client, built for the run, against a
 * cairnd of their own. Returns 0 with grpc_why set when it cannot be measured here (no
 * Go, no source tree, the module's dependencies not downloadable), < 0 when it fails.
 */
static int phase_grpc(struct bl_run *run, struct report *rep)
{
	const struct bl_opts *o = &run->o;
	static const char *const args[] = {"--durability=none"};
	static char out[1 << 16];
	char dir[PATH_MAX], cmd[2048], path[PATH_MAX];
	struct stat st;
	snprintf(dir, sizeof(dir), "%s/bench/grpc", CAIRN_SOURCE_ROOT);
	if (stat(dir, &st) < 0) {
		snprintf(run->grpc_why, sizeof(run->grpc_why), "%.200s is missing", dir);
		return 0;
	}
	if (bench_run_shell(dir, "go version", -1, out, sizeof(out), true, GO_LIMIT_NS) != 0) {
		snprintf(run->grpc_why, sizeof(run->grpc_why),
			 "no Go toolchain ('go version' failed)");
		return 0;
	}
	bench_progress("baselines: gRPC: go build in %s...", dir);
	snprintf(cmd, sizeof(cmd),
		 "go build -o %s/cairn-grpc-server ./cmd/cairn-grpc-server && "
		 "go build -o %s/cairn-bench-grpc ./cmd/cairn-bench-grpc",
		 run->work, run->work);
	if (bench_run_shell(dir, cmd, -1, out, sizeof(out), false, GO_LIMIT_NS) != 0) {
		snprintf(run->grpc_why, sizeof(run->grpc_why),
			 "'go build' failed in %.120s (its dependencies come from the Go module "
			 "proxy: see the messages above)",
			 dir);
		return 0;
	}
	int r = start_cairnd(run, &run->dgrpc, &run->cgrpc, args, 1, &run->spawned_grpc);
	if (r < 0) {
		return r;
	}
	place_process(rep, "cairnd, behind the gRPC server", run->dgrpc.pid);
	uint64_t stream = o->quick ? 50000 : 200000;
	snprintf(cmd, sizeof(cmd),
		 "%s/cairn-bench-grpc --socket %s --spawn-server %s/cairn-grpc-server "
		 "--server-cpu %d --samples %llu --warmup %llu --stream %llu --raw %s/grpc",
		 run->work, run->dgrpc.socket, run->work, o->host_cpu,
		 (unsigned long long)o->iterations, (unsigned long long)o->warmup,
		 (unsigned long long)stream, run->work);
	bench_progress("baselines: gRPC: %s", cmd);
	int status =
		bench_run_shell(run->work, cmd, o->host_cpu, out, sizeof(out), false, GO_LIMIT_NS);
	if (status != 0) {
		bench_error(CMD, "gRPC: cairn-bench-grpc exited with status %d", status);
		return -EIO;
	}
	static const enum rt kinds[2] = {RT_GRPC_PING, RT_GRPC_MOVE};
	static const char *const ext[2] = {"ping", "move"};
	for (unsigned i = 0; i < 2; i++) {
		enum rt k = kinds[i];
		snprintf(path, sizeof(path), "%s/grpc.%s", run->work, ext[i]);
		long n = stats_read_raw(path, run->lat[k], o->iterations);
		if (n != (long)o->iterations) {
			bench_error(CMD, "gRPC: %s: %s", path,
				    n < 0 ? strerror((int)-n) : "fewer samples than asked for");
			return n < 0 ? (int)n : -EIO;
		}
		run->nlat[k] = (size_t)n;
		run->rt_ns[k] = 0;
		for (long j = 0; j < n; j++) {
			run->rt_ns[k] += run->lat[k][j];
		}
		run->measured[k] = true;
	}
	const char *t = strstr(out, "\"throughput_per_s\":");
	if (t) {
		run->tp[TP_GRPC][0] = strtod(t + strlen("\"throughput_per_s\":"), NULL);
		run->tp_runs[TP_GRPC] = 1;
		run->tp_measured[TP_GRPC] = run->tp[TP_GRPC][0] > 0;
	}
	report_placement(rep, "gRPC client and server (cairn-bench-grpc, cairn-grpc-server)",
			 "CPU %d (pinned, with taskset)", o->host_cpu);
	cairn_close(run->cgrpc);
	run->cgrpc = NULL;
	run->spawned_grpc = false;
	return cairnd_finish(&run->dgrpc, CMD, STOP_TIMEOUT_NS, false);
}

/* ---- the report ---- */

static void latency_rows(struct bl_run *run, struct report *rep, unsigned table,
			 struct latency_summary *ls)
{
	for (unsigned k = 0; k < RT_N; k++) {
		if (!run->measured[k]) {
			struct report_row *row = report_row(rep, table, rt_names[k]);
			const char *keys[] = {"samples", "p50_ns", "p90_ns", "p99_ns",
					      "p999_ns", "max_ns", "mean_ns"};
			const char *labels[] = {"samples", "p50", "p90", "p99",
						"p99.9",   "max", "mean"};
			for (unsigned f = 0; f < 7; f++) {
				report_field(row, keys[f], labels[f], f ? REPORT_NS : REPORT_COUNT,
					     NAN);
			}
			report_field(row, "calls_per_s", "calls/s", REPORT_PER_S, NAN);
			continue;
		}
		stats_summarize(run->lat[k], run->nlat[k], &ls[k]);
		struct report_row *row = report_latency_row(rep, table, rt_names[k], &ls[k]);
		report_field(row, "calls_per_s", "calls/s", REPORT_PER_S,
			     (double)run->nlat[k] * 1e9 / (double)run->rt_ns[k]);
	}
}

/* Fills a throughput row; returns its median (NaN when not measured). */
static double throughput_row(struct bl_run *run, struct report *rep, unsigned table, enum tp t,
			     uint64_t per_run, uint64_t in_flight)
{
	double med = NAN, min = NAN, max = NAN;
	struct report_row *row = report_row(rep, table, tp_names[t]);
	if (run->tp_measured[t]) {
		stats_median_min_max(run->tp[t], run->tp_runs[t], &med, &min, &max);
		row->series_key = "runs_per_s";
		row->nseries = run->tp_runs[t];
		memcpy(row->series, run->tp[t], run->tp_runs[t] * sizeof(double));
	}
	report_field(row, "in_flight", "in flight", REPORT_COUNT,
		     in_flight ? (double)in_flight : NAN);
	report_field(row, "runs", "runs", REPORT_COUNT,
		     run->tp_measured[t] ? (double)run->tp_runs[t] : NAN);
	report_field(row, "commands_per_run", "commands/run", REPORT_COUNT, (double)per_run);
	report_field(row, "median_per_s", "median", REPORT_PER_S, med);
	report_field(row, "min_per_s", "min", REPORT_PER_S, min);
	report_field(row, "max_per_s", "max", REPORT_PER_S, max);
	return med;
}

/* A comparison row and its ratio: how many times lower (or higher) cairn's figure is. */
static double compare(struct report *rep, unsigned table, const char *name, double cairn,
		      double base, bool higher_is_better)
{
	double ratio = higher_is_better ? cairn / base : base / cairn;
	if (!(ratio > 0) || isinf(ratio)) {
		ratio = NAN;
	}
	struct report_row *row = report_row(rep, table, name);
	report_field(row, "cairn", "cairn", higher_is_better ? REPORT_PER_S : REPORT_NS, cairn);
	report_field(row, "baseline", "baseline", higher_is_better ? REPORT_PER_S : REPORT_NS,
		     base);
	report_field(row, "times_better", "cairn better by", REPORT_RATIO, ratio);
	return ratio;
}

static void target(struct report *rep, const char *what, double limit, double ratio, bool measured,
		   const char *how)
{
	struct report_target *t =
		report_target(rep, what, REPORT_RATIO, REPORT_AT_LEAST, limit, ratio, measured);
	snprintf(t->how, sizeof(t->how), "%s", how);
}

int bench_baselines_main(int argc, char **argv)
{
	static struct report rep;
	static struct bl_run run;
	struct latency_summary ls[RT_N];
	const char *fs = "unknown";
	int r;

	memset(&run, 0, sizeof(run));
	run.o = (struct bl_opts){.host_cpu = -1, .daemon_cpu = -1};
	r = parse_args(argc, argv, &run.o);
	if (r) {
		return r;
	}
	struct bl_opts *o = &run.o;
	r = machine_probe(&run.m);
	if (r < 0) {
		bench_error(CMD, "cannot read this process's CPU affinity: %s", strerror(-r));
		return BENCH_FAIL;
	}
	r = bench_choose_cpus(CMD, &run.m, "--host-cpu", &o->host_cpu, "--daemon-cpu",
			      &o->daemon_cpu);
	if (r) {
		return r;
	}
	if (run.m.usable_count < 2) {
		bench_progress("baselines: only one CPU is usable here: clients and servers run "
			       "unpinned and share it; expect figures far from the targets");
	}
	report_init(&rep, CMD, "the same traffic over cairn, a Unix socket and Redis", &run.m);

	r = cairn__map_default(&run.map);
	run.sock = malloc(sizeof(*run.sock));
	bool ok = r == 0 && run.sock;
	for (unsigned k = 0; ok && k < RT_N; k++) {
		ok = (run.lat[k] = malloc(o->iterations * sizeof(uint64_t))) != NULL;
		if (ok) {
			/* Touched now, so that no page fault lands in a timed loop. */
			memset(run.lat[k], 0xff, o->iterations * sizeof(uint64_t));
		}
	}
	run.keys = calloc(o->hunts, sizeof(char *));
	run.members = calloc(o->hunts * o->players, sizeof(char *));
	ok = ok && run.keys && run.members;
	for (uint64_t i = 0; ok && i < o->hunts; i++) {
		ok = (run.keys[i] = dup_printf("hunt:%u", (unsigned)i + 1)) != NULL;
	}
	for (uint64_t i = 0; ok && i < o->hunts * o->players; i++) {
		ok = (run.members[i] = dup_printf("player:%u", (unsigned)i)) != NULL;
	}
	if (!ok || make_work(&run, &fs) < 0) {
		bench_error(CMD, "cannot prepare the run: %s",
			    r < 0 ? cairn_strerror(r) : "out of memory or no work directory");
		finish(&run, false);
		return BENCH_FAIL;
	}
	run.m_per_deg_lon = M_PER_DEG_LAT * cos(ORIGIN_LAT * M_PI / 180.0);
	/* Wider than the map's diagonal: GEOSEARCH then finds the k nearest, as cairn does. */
	double w_m = (double)run.map->width * CAIRN_DEFAULT_CELL_MM / 1000.0;
	double h_m = (double)run.map->height * CAIRN_DEFAULT_CELL_MM / 1000.0;
	run.radius_m = ceil(sqrt(w_m * w_m + h_m * h_m)) + 1;
	run.have_redis =
		redis_available(o->redis_server, run.redis_binary, sizeof(run.redis_binary),
				run.redis_why, sizeof(run.redis_why));
	if (!run.have_redis) {
		bench_progress("baselines: Redis not measured: %s", run.redis_why);
	}
	if (strcmp(fs, "tmpfs") == 0) {
		bench_progress("baselines: warning: %s is on a tmpfs: fsync costs nothing there",
			       run.work);
	}

	if (o->host_cpu >= 0) {
		report_placement(&rep, "clients (cairn-bench, one thread)", "CPU %d (pinned)",
				 o->host_cpu);
	} else {
		report_placement(&rep, "clients (cairn-bench, one thread)",
				 "not pinned (one usable CPU)");
	}

	for (unsigned k = 0; k < RT_N; k++) {
		run.nlat[k] = o->iterations;
	}
	for (unsigned t = 0; t < TP_N; t++) {
		run.tp_runs[t] = (unsigned)o->runs;
	}
	if (phase_cairn(&run, &rep) < 0 || phase_sock(&run, &rep) < 0 ||
	    (run.have_redis && phase_redis(&run, &rep) < 0) || phase_durable(&run, &rep) < 0 ||
	    (!o->no_grpc && phase_grpc(&run, &rep) < 0)) {
		finish(&run, true);
		return BENCH_FAIL;
	}

	/* Settings. */
	report_param_str(&rep, "world", "world",
			 "%llu hunt(s) x %llu players and %llu clues on map 0 (%s, %ux%u cells of "
			 "%u mm), no speed limit, the same in every transport",
			 (unsigned long long)o->hunts, (unsigned long long)o->players,
			 (unsigned long long)o->clues, run.map->name, run.map->width,
			 run.map->height, CAIRN_DEFAULT_CELL_MM);
	report_param_str(&rep, "moves", "moves",
			 "a random walk of up to %d mm per axis onto passable cells, every "
			 "player in turn, from seed %d in every transport",
			 STEP_MM, SEED);
	report_param_str(&rep, "round_trips", "round trips",
			 "%llu timed of each kind after %llu untimed; kinds alternate in chunks "
			 "of %u; one caller, one call at a time",
			 (unsigned long long)o->iterations, (unsigned long long)o->warmup, CHUNK);
	report_param_str(&rep, "cairn", "cairn",
			 "%s (found by %s) with --cpu %d; libcairn, rings of %u, spin 50 µs "
			 "then yield then futex; NEAREST_CLUES k=%u through the blob arena",
			 run.d.binary, run.d.found_by, o->daemon_cpu, RING_CAPACITY, NEAREST_K);
	report_param_str(&rep, "socket", "Unix socket",
			 "a socketpair, frames of a u32 length + one 56-byte cairn_msg; server: "
			 "one thread, blocking reads of up to %u KiB, one write per batch of "
			 "answers; client: blocking write, blocking buffered read",
			 SOCK_ENGINE_RBUF >> 10);
	if (run.have_redis) {
		report_param_str(&rep, "redis", "Redis",
				 "%s, --save \"\", over %s; hiredis, redisCommandArgv for round "
				 "trips, redisAppendCommandArgv + redisGetReply for pipelines",
				 run.redis_binary,
				 o->redis_tcp ? "127.0.0.1 TCP (TCP_NODELAY)" : "its Unix socket");
		report_param_str(&rep, "redis_geo", "Redis geo",
				 "positions as lon/lat from (%.2f, %.2f): x east, y south, %.0f m "
				 "per degree of latitude; GEOSEARCH BYRADIUS %.0f m (the map's "
				 "diagonal: the k nearest) ASC COUNT %u",
				 ORIGIN_LON, ORIGIN_LAT, M_PER_DEG_LAT, run.radius_m, NEAREST_K);
	} else {
		report_param_str(&rep, "redis", "Redis", "not measured: %s", run.redis_why);
	}
	report_param_str(&rep, "in_flight", "in flight",
			 "durability none / no AOF rows: %llu (batches of %llu x %llu); durable "
			 "rows: %llu (%llu x %llu); Redis: the same counts of commands",
			 (unsigned long long)(o->batch * o->inflight), (unsigned long long)o->batch,
			 (unsigned long long)o->inflight,
			 (unsigned long long)(o->batch * o->durable_inflight),
			 (unsigned long long)o->batch, (unsigned long long)o->durable_inflight);
	report_param_str(&rep, "disk", "disk",
			 "cairnd's --data-dir and Redis's AOF both in %s (%s); cairnd "
			 "--durability=sync, wal backend auto",
			 run.work, fs);
	report_param_str(&rep, "mode", "mode", "%s", o->quick ? "quick" : "full");

	unsigned lat = report_table(&rep, "round trip, one call at a time", true);
	unsigned thr = report_table(&rep, "throughput, commands in flight", true);
	unsigned cmp = report_table(&rep, "cairn against the baselines", true);
	latency_rows(&run, &rep, lat, ls);
	double tp[TP_N];
	tp[TP_CAIRN] = throughput_row(&run, &rep, thr, TP_CAIRN, o->moves, o->batch * o->inflight);
	tp[TP_CAIRN_SYNC] = throughput_row(&run, &rep, thr, TP_CAIRN_SYNC, o->durable_moves,
					   o->batch * o->durable_inflight);
	tp[TP_SOCK] = throughput_row(&run, &rep, thr, TP_SOCK, o->moves, o->batch * o->inflight);
	tp[TP_REDIS] =
		throughput_row(&run, &rep, thr, TP_REDIS, o->redis_ops, o->batch * o->inflight);
	tp[TP_REDIS_AOF] = throughput_row(&run, &rep, thr, TP_REDIS_AOF, o->redis_ops,
					  o->batch * o->durable_inflight);
	tp[TP_GRPC] = throughput_row(&run, &rep, thr, TP_GRPC, o->quick ? 50000 : 200000, 0);

	bool have_r = run.measured[RT_REDIS_PING];
	double na = NAN;
#define P(k, f) (run.measured[k] ? (double)ls[k].f : na)
	double x_move50 = compare(&rep, cmp, "MOVE p50, vs the socket", P(RT_CAIRN_MOVE, p50),
				  P(RT_SOCK_MOVE, p50), false);
	double x_move99 = compare(&rep, cmp, "MOVE p99, vs the socket", P(RT_CAIRN_MOVE, p99),
				  P(RT_SOCK_MOVE, p99), false);
	double x_ping50 = compare(&rep, cmp, "PING p50, vs the socket", P(RT_CAIRN_PING, p50),
				  P(RT_SOCK_PING, p50), false);
	double x_ping99 = compare(&rep, cmp, "PING p99, vs the socket", P(RT_CAIRN_PING, p99),
				  P(RT_SOCK_PING, p99), false);
	double x_rping = compare(&rep, cmp, "PING p50, vs Redis PING", P(RT_CAIRN_PING, p50),
				 P(RT_REDIS_PING, p50), false);
	double x_rmove = compare(&rep, cmp, "MOVE p50, vs Redis GEOADD", P(RT_CAIRN_MOVE, p50),
				 P(RT_REDIS_GEOADD, p50), false);
	compare(&rep, cmp, "NEAREST_CLUES p50, vs GEOSEARCH", P(RT_CAIRN_NEAREST, p50),
		P(RT_REDIS_GEOSEARCH, p50), false);
	double x_gping = compare(&rep, cmp, "PING p50, vs gRPC", P(RT_CAIRN_PING, p50),
				 P(RT_GRPC_PING, p50), false);
	compare(&rep, cmp, "MOVE p50, vs gRPC", P(RT_CAIRN_MOVE, p50), P(RT_GRPC_MOVE, p50), false);
#undef P
	compare(&rep, cmp, "batched MOVEs/s, vs the socket", tp[TP_CAIRN], tp[TP_SOCK], true);
	compare(&rep, cmp, "batched MOVEs/s, vs Redis GEOADD", tp[TP_CAIRN], tp[TP_REDIS], true);
	compare(&rep, cmp, "batched MOVEs/s, vs a gRPC stream", tp[TP_CAIRN], tp[TP_GRPC], true);
	double x_durable = compare(&rep, cmp, "durable MOVEs/s, vs Redis AOF always",
				   tp[TP_CAIRN_SYNC], tp[TP_REDIS_AOF], true);

	report_line(&rep,
		    "Every figure is from this run. Round trips include one clock_gettime pair "
		    "each; nothing is subtracted. Servers run on CPU %d, the client on CPU %d.",
		    o->daemon_cpu, o->host_cpu);
	report_line(&rep, "cairn's host and daemon spin while they wait; the socket's and Redis's "
			  "clients and servers block in the kernel, as those servers do.");
	if (run.nearest_short) {
		report_line(&rep, "nearest-clue answers with fewer than %u hits: %u", NEAREST_K,
			    run.nearest_short);
	}
	if (!have_r) {
		report_line(&rep, "Redis: not measured: %s", run.redis_why);
	}
	bool have_g = run.measured[RT_GRPC_PING];
	if (!have_g) {
		report_line(&rep, "gRPC: not measured: %s",
			    o->no_grpc ? "--no-grpc" : run.grpc_why);
	} else {
		report_line(&rep,
			    "gRPC: client and server share CPU %d; the server calls cairnd "
			    "through the Go binding (a few hundred ns of each round trip).",
			    o->host_cpu);
	}

	target(&rep, "MOVE p50, times lower than the socket", TARGET_SOCK_P50_X, x_move50, true,
	       "cairn_move against the socket's MOVE");
	target(&rep, "MOVE p99, times lower than the socket", TARGET_SOCK_P99_X, x_move99, true,
	       "cairn_move against the socket's MOVE");
	target(&rep, "PING p50, times lower than the socket", TARGET_SOCK_P50_X, x_ping50, true,
	       "cairn_ping against the socket's PING");
	target(&rep, "PING p99, times lower than the socket", TARGET_SOCK_P99_X, x_ping99, true,
	       "cairn_ping against the socket's PING");
	target(&rep, "PING p50, times lower than Redis", TARGET_REDIS_P50_X, x_rping, have_r,
	       have_r ? "cairn_ping against PING" : "Redis not measured");
	target(&rep, "MOVE p50, times lower than Redis GEOADD", TARGET_REDIS_P50_X, x_rmove, have_r,
	       have_r ? "cairn_move against GEOADD" : "Redis not measured");
	target(&rep, "PING p50, times lower than gRPC", TARGET_GRPC_P50_X, x_gping, have_g,
	       have_g ? "cairn_ping against a unary gRPC PING" : "gRPC not measured");
	target(&rep, "durable throughput, times Redis AOF always", TARGET_DURABLE_X, x_durable,
	       run.tp_measured[TP_REDIS_AOF],
	       run.tp_measured[TP_REDIS_AOF] ? "medians: sync batched MOVE / pipelined GEOADD"
					     : "Redis not measured");

	int stopped = finish(&run, false);
	report_print(&rep, stdout, o->json);
	if (stopped < 0) {
		return BENCH_FAIL;
	}
	if (report_missed(&rep, o->check) && o->check) {
		return BENCH_FAIL;
	}
	return BENCH_OK;
}
