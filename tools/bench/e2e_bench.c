/*
 * cairn-bench e2e: MOVE through a real cairnd, from a C host using the public API, as a
 * game server would send it.
 *
 * The benchmark starts its own cairnd with --cpu (its apply thread pinned) and, unless a
 * --daemon-arg says otherwise, --durability=none (the disk is cairn-bench wal's), pins its
 * host thread to the other CPU (the placement of cairn-bench rtt, so that the PING rows
 * of both compare), creates 1000 hunts of 100 players on the embedded map, and
 * measures, in one run:
 *  (a) the round trip of one call at a time: MOVE with cairn_call to a random player of
 *      all hunts, MOVE to the players of one hunt only (a working set that stays in
 *      cache), and PING, in chunks that alternate, so that all three see the same
 *      machine;
 *  (b) sustained MOVE throughput with batches in flight (cairn_submit_batch,
 *      cairn_poll_batch), next to PING's through the same pipeline (what the transport
 *      and dispatch cost without the engine);
 *  (c) the daemon's memory (/proc/<pid>/status) after setup and at ten points of a long
 *      run of moves.
 * Every result is checked, and the engine's counters, read from the daemon's state
 * segment, say how many MOVEs were taken, accepted and rejected in each phase.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "game.h"
#include "machine.h"
#include "proc.h"
#include "report.h"
#include "shm/segment.h"
#include "spawn.h"
#include "stats.h"

#define CMD "e2e"

#define CALL_TIMEOUT_NS   (5ll * 1000000000)
#define ATTACH_TIMEOUT_NS (5ull * 1000000000u)
#define STOP_TIMEOUT_NS   (15ull * 1000000000u) /* above cairnd's 5 s drain timeout */
#define STALL_NS          (10ull * 1000000000u) /* no result for this long: give up */
#define RING_CAPACITY     4096u
#define CHUNK             10000u /* latency: alternating chunks of each kind of call */
#define STEP_MM           250
#define MEMORY_POINTS     10
#define POLL_MAX          256u

/* The targets, for a 2-core machine. */
#define TARGET_P50_NS        400.0
#define TARGET_P99_NS        2000.0
#define TARGET_MOVES_PER_S   5e6
#define TARGET_RSS_BYTES     (200.0 * 1024 * 1024)
#define TARGET_RSS_DRIFT_PCT 2.0

struct e2e_opts {
	const char *cairnd;
	const char *daemon_args[8];
	unsigned n_daemon_args;
	int host_cpu; /* -1 until chosen; stays -1 when not pinned */
	int daemon_cpu;
	uint64_t hunts, players;
	uint64_t iterations, warmup;
	uint64_t moves, runs;
	uint64_t batch, inflight;
	uint64_t idle_pauses;
	uint64_t memory_moves;
	bool json, check, quick;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench e2e [OPTION]...\n"
		"MOVE through a real cairnd from a C host (libcairn), on 1000 hunts x 100\n"
		"players of the embedded default map: (a) round trip of one cairn_call at a time,\n"
		"to a random player of all hunts and to the players of the first hunt only (hot:\n"
		"its working set stays in cache), next to PING's; (b) sustained throughput with\n"
		"batches in flight, next to PING's through the same pipeline; (c) the daemon's\n"
		"memory after setup and at %d points of a long run of moves. The engine's\n"
		"counters, read from the daemon's state segment, confirm that the moves were\n"
		"applied, not rejected.\n"
		"\n"
		"A private cairnd is started on a socket in a new temporary directory, with its\n"
		"log there, and stopped with SIGTERM at the end (it must exit 0). The binary is\n"
		"--cairnd PATH, else $CAIRND, else ../../src/cairnd relative to this program\n"
		"(the build tree), else cairnd next to it, else cairnd on $PATH.\n"
		"\n"
		"  --cairnd PATH          the cairnd binary to start\n"
		"  --daemon-arg ARG       one more flag for cairnd (repeatable, up to 6; e.g.\n"
		"                         --daemon-arg=--batch=256)\n"
		"  --host-cpu N           pin the host thread here (default: the first usable\n"
		"                         CPU, normally 0, as cairn-bench rtt)\n"
		"  --daemon-cpu N         start cairnd with --cpu N (default: the second usable\n"
		"                         CPU, normally 1, as cairn-bench rtt)\n"
		"  --hunts N              hunts (default 1000)\n"
		"  --players N            players per hunt (default 100)\n"
		"  --iterations N         (a) timed calls of each kind: MOVE to all players, MOVE\n"
		"                         to one hunt's, PING (default 1M; --quick: 200k)\n"
		"  --warmup N             (a) untimed calls of each kind first (default 100k;\n"
		"                         --quick: 20k)\n"
		"  --moves N              (b) moves per throughput run (default 10M; --quick: 2M)\n"
		"  --runs N               (b) runs of MOVE and of PING, alternating (default 5;\n"
		"                         --quick: 3)\n"
		"  --batch N              (b, c) commands per cairn_submit_batch (default 64)\n"
		"  --inflight N           (b, c) batches in flight at most (default 8)\n"
		"  --idle-pauses N        (b, c) pause instructions the host executes after a "
		"turn\n"
		"                         that could neither push nor take anything (default 1:\n"
		"                         a tight poll, the worst case for the daemon)\n"
		"  --memory-moves N       (c) moves after setup (default 50M; --quick: 5M)\n"
		"  --quick                a short run with the smaller counts above\n"
		"  --json                 print one JSON object instead of tables\n"
		"  --check                exit 1 if a target is missed: MOVE round trip p50\n"
		"                         <= %.0f ns (all players, and one hunt hot), p99\n"
		"                         <= %.0f ns (all players); >= %.0f M moves/s applied;\n"
		"                         no MOVE rejected; cairnd's RSS <= %.0f MiB and within\n"
		"                         +-%.0f %% after warm-up\n"
		"  -h, --help             show this help and exit\n",
		MEMORY_POINTS, TARGET_P50_NS, TARGET_P99_NS, TARGET_MOVES_PER_S / 1e6,
		TARGET_RSS_BYTES / 1024 / 1024, TARGET_RSS_DRIFT_PCT);
}

enum {
	OPT_CAIRND = 256,
	OPT_DAEMON_ARG,
	OPT_HOST_CPU,
	OPT_DAEMON_CPU,
	OPT_HUNTS,
	OPT_PLAYERS,
	OPT_ITERATIONS,
	OPT_WARMUP,
	OPT_MOVES,
	OPT_RUNS,
	OPT_BATCH,
	OPT_INFLIGHT,
	OPT_IDLE_PAUSES,
	OPT_MEMORY_MOVES,
	OPT_QUICK,
	OPT_JSON,
	OPT_CHECK,
};

static int parse_args(int argc, char **argv, struct e2e_opts *o)
{
	static const struct option opts[] = {
		{"cairnd", required_argument, NULL, OPT_CAIRND},
		{"daemon-arg", required_argument, NULL, OPT_DAEMON_ARG},
		{"host-cpu", required_argument, NULL, OPT_HOST_CPU},
		{"daemon-cpu", required_argument, NULL, OPT_DAEMON_CPU},
		{"hunts", required_argument, NULL, OPT_HUNTS},
		{"players", required_argument, NULL, OPT_PLAYERS},
		{"iterations", required_argument, NULL, OPT_ITERATIONS},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"moves", required_argument, NULL, OPT_MOVES},
		{"runs", required_argument, NULL, OPT_RUNS},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"inflight", required_argument, NULL, OPT_INFLIGHT},
		{"idle-pauses", required_argument, NULL, OPT_IDLE_PAUSES},
		{"memory-moves", required_argument, NULL, OPT_MEMORY_MOVES},
		{"quick", no_argument, NULL, OPT_QUICK},
		{"json", no_argument, NULL, OPT_JSON},
		{"check", no_argument, NULL, OPT_CHECK},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t iterations = 0, warmup = UINT64_MAX, moves = 0, runs = 0, memory = 0;
	int c;
	o->hunts = 1000;
	o->players = 100;
	o->batch = 64;
	o->inflight = 8;
	o->idle_pauses = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = 0;
		switch (c) {
		case OPT_CAIRND:
			o->cairnd = optarg;
			break;
		case OPT_DAEMON_ARG:
			if (o->n_daemon_args >= 6) {
				bench_error(CMD, "at most 6 --daemon-arg");
				return bench_usage_hint(CMD);
			}
			o->daemon_args[o->n_daemon_args++] = optarg;
			break;
		case OPT_HOST_CPU:
			r = bench_parse_cpu(CMD, "--host-cpu", optarg, &o->host_cpu);
			break;
		case OPT_DAEMON_CPU:
			r = bench_parse_cpu(CMD, "--daemon-cpu", optarg, &o->daemon_cpu);
			break;
		case OPT_HUNTS:
			r = bench_parse_count(CMD, "--hunts", optarg, 1, 60000, &o->hunts);
			break;
		case OPT_PLAYERS:
			r = bench_parse_count(CMD, "--players", optarg, 1, 1000, &o->players);
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
		case OPT_RUNS:
			r = bench_parse_count(CMD, "--runs", optarg, 1, STATS_MAX_VALUES, &runs);
			break;
		case OPT_BATCH:
			r = bench_parse_count(CMD, "--batch", optarg, 1, 1024, &o->batch);
			break;
		case OPT_INFLIGHT:
			r = bench_parse_count(CMD, "--inflight", optarg, 1, 1024, &o->inflight);
			break;
		case OPT_IDLE_PAUSES:
			r = bench_parse_count(CMD, "--idle-pauses", optarg, 1, 100000,
					      &o->idle_pauses);
			break;
		case OPT_MEMORY_MOVES:
			r = bench_parse_count(CMD, "--memory-moves", optarg, MEMORY_POINTS,
					      100000000000ull, &memory);
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
	if (o->hunts * o->players > 1000000) {
		bench_error(CMD, "--hunts x --players is at most 1000000 (cairnd's default "
				 "entity limit is 1 Mi)");
		return bench_usage_hint(CMD);
	}
	if (o->batch * o->inflight > RING_CAPACITY) {
		bench_error(CMD, "--batch x --inflight is at most %u, the rings' capacity",
			    RING_CAPACITY);
		return bench_usage_hint(CMD);
	}
	o->iterations = iterations ? iterations : o->quick ? 200000 : 1000000;
	o->warmup = warmup != UINT64_MAX ? warmup : o->quick ? 20000 : 100000;
	o->moves = moves ? moves : o->quick ? 2000000 : 10000000;
	o->runs = runs ? runs : o->quick ? 3 : 5;
	o->memory_moves = memory ? memory : o->quick ? 5000000 : 50000000;
	return 0;
}

/*
 * Chooses the CPUs as cairn-bench rtt does, so that the PING rows of both compare: the
 * host on the first usable CPU, the daemon's apply thread on the second.
 */
static int choose_cpus(const struct machine *m, struct e2e_opts *o)
{
	int r = bench_choose_cpus(CMD, m, "--host-cpu", &o->host_cpu, "--daemon-cpu",
				  &o->daemon_cpu);
	if (r) {
		return r;
	}
	if (m->usable_count < 2) {
		char cpus[256];
		machine_format_cpus(&m->usable, cpus, sizeof(cpus));
		bench_progress("e2e: only one CPU is usable here (%s): the host and cairnd run "
			       "unpinned and share it; expect figures far from the targets",
			       cpus);
	} else if (o->host_cpu == o->daemon_cpu) {
		bench_progress("e2e: warning: host and daemon share CPU %d: a spinning host then "
			       "starves the daemon, and the figures say little about cairn",
			       o->host_cpu);
	}
	return 0;
}

/* ---- the daemon's counters ---- */

/*
 * The engine's counters live in the daemon's state segment, which libcairn maps but
 * does not hand out. The benchmark maps its own read-only view of the segment of the
 * daemon it started, through /proc/<pid>/fd, as an operator's tool on the same machine
 * could, and checks it like a client before reading it.
 */
struct state_view {
	void *base;
	uint64_t size;
	const struct cairn_engine_counters *ec; /* NULL when not available */
	char why[160];                          /* why not, when not */
};

static void state_view_open(struct state_view *v, pid_t pid)
{
	char dir[64], path[64 + 256 + 2], link[128];
	memset(v, 0, sizeof(*v));
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(v->why, sizeof(v->why), "%s: %s", dir, strerror(errno));
		return;
	}
	struct dirent *e;
	int fd = -1;
	while ((e = readdir(d)) && fd < 0) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0) {
			continue;
		}
		link[n] = '\0';
		if (strncmp(link, "/memfd:cairn-state", 18) == 0) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	closedir(d);
	if (fd < 0) {
		snprintf(v->why, sizeof(v->why), "no readable memfd:cairn-state among %s", dir);
		return;
	}
	struct stat st;
	void *base = MAP_FAILED;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	}
	close(fd);
	if (base == MAP_FAILED) {
		snprintf(v->why, sizeof(v->why), "cannot map the state segment: %s",
			 strerror(errno));
		return;
	}
	v->base = base;
	v->size = (uint64_t)st.st_size;
	int r = cairn__state_validate(base, v->size);
	const struct cairn_state_header *h = base;
	if (r < 0 || h->engine_counters_offset == 0 ||
	    h->engine_counters_offset + sizeof(*v->ec) > v->size) {
		snprintf(v->why, sizeof(v->why), "the state segment has no engine counters (%s)",
			 r < 0 ? cairn_strerror(r) : "offset 0 or out of range");
		return;
	}
	v->ec = (const void *)((const char *)base + h->engine_counters_offset);
}

static void state_view_close(struct state_view *v)
{
	if (v->base) {
		munmap(v->base, v->size);
	}
	memset(v, 0, sizeof(*v));
}

/* The counters one phase is judged by, as read at one instant. */
struct counters {
	uint64_t commands;   /* daemon: commands taken from command rings */
	uint64_t errors;     /* daemon: error results */
	uint64_t ring_full;  /* daemon: turns a lane was skipped for a full result ring */
	uint64_t sleeps;     /* daemon: apply thread futex sleeps */
	uint64_t move_taken; /* engine: MOVE commands taken */
	uint64_t moves;      /* engine: moves accepted */
	uint64_t rejected;   /* engine: commands refused, all types */
};

static void read_counters(cairn_client *c, const struct state_view *v, struct counters *k)
{
	struct cairn_daemon_info info;
	cairn_daemon_info(c, &info);
	memset(k, 0, sizeof(*k));
	k->commands = info.counters.commands;
	k->errors = info.counters.errors;
	k->ring_full = info.counters.result_ring_full;
	k->sleeps = info.counters.sleeps;
	if (v->ec) {
		/* Relaxed: each counter has one writer; a recent value is all we want. */
		k->move_taken = cairn__load_relaxed(&v->ec->by_type[CAIRN_MSG_MOVE]);
		k->moves = cairn__load_relaxed(&v->ec->moves);
		k->rejected = cairn__load_relaxed(&v->ec->rejected);
	}
}

/*
 * The daemon publishes its own counters on a heartbeat (every ms while busy) or before
 * it sleeps; the engine's are live. Waits until the daemon's command count stops
 * moving, so that a phase's deltas are complete.
 */
static void settle_counters(cairn_client *c, const struct state_view *v, struct counters *k)
{
	struct counters a;
	read_counters(c, v, &a);
	for (int i = 0; i < 50; i++) {
		struct timespec ts = {.tv_nsec = 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
		read_counters(c, v, k);
		if (k->commands == a.commands) {
			return;
		}
		a = *k;
	}
}

static void counters_row(struct report *rep, unsigned table, const char *name,
			 const struct counters *a, const struct counters *b, bool have_engine)
{
	/* The engine's counters are NaN (n/a) when the state segment was not readable. */
	double na = have_engine ? 0 : NAN;
	struct report_row *row = report_row(rep, table, name);
	report_field(row, "commands", "commands", REPORT_COUNT,
		     (double)(b->commands - a->commands));
	report_field(row, "move_taken", "MOVE taken", REPORT_COUNT,
		     na + (double)(b->move_taken - a->move_taken));
	report_field(row, "moves_accepted", "accepted", REPORT_COUNT,
		     na + (double)(b->moves - a->moves));
	report_field(row, "rejected", "rejected", REPORT_COUNT,
		     na + (double)(b->rejected - a->rejected));
	report_field(row, "error_results", "error results", REPORT_COUNT,
		     (double)(b->errors - a->errors));
	report_field(row, "result_ring_full", "result ring full", REPORT_COUNT,
		     (double)(b->ring_full - a->ring_full));
	report_field(row, "apply_sleeps", "apply sleeps", REPORT_COUNT,
		     (double)(b->sleeps - a->sleeps));
}

/* ---- the pipeline: batches in flight ---- */

enum kind { K_HUNT, K_JOIN, K_MOVE, K_PING };

/* (a)'s calls, in the order their chunks alternate. */
enum rt_kind { RT_PING, RT_MOVE, RT_HOT, RT_KINDS };

struct pipe_stats {
	uint64_t ns;          /* first submit to last result */
	uint64_t turns;       /* turns of the host's loop */
	uint64_t idle_turns;  /* turns that pushed nothing and took no result */
	uint64_t errors;      /* error results */
	int first_error;      /* the code of the first one */
	uint16_t first_type;  /* the command type it answered */
	uint64_t wrong_reply; /* results of an unexpected type */
};

/* Everything the run holds that must be released on every path. */
struct e2e_run {
	struct e2e_opts o;
	struct machine m;
	struct cairnd_proc d;
	bool spawned;
	cairn_client *c;
	struct state_view sv;
	struct cairn__map *map;
	struct game g;
	uint32_t *hot; /* the first hunt's players (indices into g.players) */
	uint32_t nhot, hot_next;
	/*
	 * Request ids are never reused on the connection: cairnd's exactly-once table
	 * answers a request id its session already had accepted with the original result,
	 * without applying the command again. A pipeline's command i has id id_base + i + 1.
	 */
	uint64_t next_id, id_base;
	uint64_t *lat[RT_KINDS]; /* (a)'s samples of each kind */
};

/* Builds command i of a pipeline of kind k into m (request id: id_base + i + 1). */
static void build(struct e2e_run *run, enum kind k, uint64_t i, struct cairn_msg *m);
/* Takes one result of a pipeline of kind k. */
static void take(struct e2e_run *run, enum kind k, const struct cairn_msg *res,
		 struct pipe_stats *st);

/*
 * Sends n commands of kind k with at most inflight batches of batch commands
 * outstanding, and takes every result. Returns 0, or a negative code after saying why
 * (the daemon went away, or nothing came back for STALL_NS).
 */
static int pipeline(struct e2e_run *run, cairn_client *c, enum kind k, uint64_t n, unsigned batch,
		    unsigned inflight, struct pipe_stats *st)
{
	static struct cairn_msg buf[1024], res[POLL_MAX];
	unsigned idle_pauses = (unsigned)run->o.idle_pauses;
	uint64_t window = (uint64_t)batch * inflight;
	uint64_t built = 0, done = 0, last_done = 0;
	unsigned off = 0, nbuf = 0;
	memset(st, 0, sizeof(*st));
	run->id_base = run->next_id;
	run->next_id += n;
	uint64_t t0 = cairn__now_ns(), since = t0;
	while (done < n) {
		bool did = false;
		if (off == nbuf && built < n && built - done + batch <= window) {
			nbuf = (unsigned)(n - built < batch ? n - built : batch);
			for (unsigned i = 0; i < nbuf; i++) {
				build(run, k, built + i, &buf[i]);
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
			take(run, k, &res[i], st);
		}
		done += (uint64_t)got;
		did |= got > 0;
		st->turns++;
		if (did) {
			continue;
		}
		st->idle_turns++;
		for (unsigned i = 0; i < idle_pauses; i++) {
			cairn__cpu_relax();
		}
		if ((st->idle_turns & 4095) == 0) {
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
				bench_error(CMD, "no result for %.0f s (%llu of %llu answered)",
					    STALL_NS / 1e9, (unsigned long long)done,
					    (unsigned long long)n);
				return -ETIMEDOUT;
			}
		}
	}
	st->ns = cairn__now_ns() - t0;
	return 0;
}

/* ---- the run ---- */

static void build(struct e2e_run *run, enum kind k, uint64_t i, struct cairn_msg *m)
{
	struct game *g = &run->g;
	switch (k) {
	case K_HUNT:
		/* No speed limit: see the settings line of the report. */
		cairn_msg_hunt_create(m, NULL);
		break;
	case K_JOIN:
		cairn_msg_join(m, g->players[i].hunt_id, g->players[i].x, g->players[i].y);
		break;
	case K_MOVE:
		game_next_move(g, m);
		break;
	case K_PING:
		game_msg_ping(m);
		break;
	}
	m->hdr.request_id = run->id_base + i + 1;
}

static void take(struct e2e_run *run, enum kind k, const struct cairn_msg *res,
		 struct pipe_stats *st)
{
	static const uint16_t expect[] = {
		[K_HUNT] = CAIRN_MSG_HUNT_CREATED,
		[K_JOIN] = CAIRN_MSG_JOINED,
		[K_MOVE] = CAIRN_MSG_MOVED,
		[K_PING] = CAIRN_MSG_PONG,
	};
	if (__builtin_expect(res->hdr.type != expect[k], 0)) {
		if (res->hdr.type == CAIRN_MSG_ERROR) {
			if (st->errors++ == 0) {
				struct cairn_error_info ei;
				memcpy(&ei, res->payload, sizeof(ei));
				st->first_error = res->hdr.status;
				st->first_type = ei.request_type;
			}
		} else {
			st->wrong_reply++;
		}
		return;
	}
	uint64_t i = res->hdr.request_id - run->id_base - 1;
	if (k == K_HUNT && i < run->g.nhunts) {
		struct cairn_hunt_created hc;
		memcpy(&hc, res->payload, sizeof(hc));
		game_set_hunt(&run->g, (uint32_t)i, hc.hunt_id);
	} else if (k == K_JOIN && i < run->g.nplayers) {
		struct cairn_joined j;
		memcpy(&j, res->payload, sizeof(j));
		run->g.players[i].player_id = j.player_id;
	}
}

/* Says what went wrong in a pipeline's results; returns true when nothing did. */
static bool pipe_clean(const char *what, const struct pipe_stats *st)
{
	if (st->errors) {
		const char *name = cairn_error_name(st->first_error);
		bench_error(CMD, "%s: %llu commands refused; the first (type %u): %s (%s)", what,
			    (unsigned long long)st->errors, st->first_type,
			    cairn_strerror(-st->first_error), name ? name : "?");
	}
	if (st->wrong_reply) {
		bench_error(CMD, "%s: %llu results of an unexpected type", what,
			    (unsigned long long)st->wrong_reply);
	}
	return !st->errors && !st->wrong_reply;
}

/* Detaches and stops the daemon. Returns 0, or cairnd_stop's code after saying why. */
static int finish(struct e2e_run *run, bool failed)
{
	int r = 0;
	cairn_close(run->c);
	run->c = NULL;
	state_view_close(&run->sv);
	for (unsigned k = 0; k < RT_KINDS; k++) {
		free(run->lat[k]);
		run->lat[k] = NULL;
	}
	free(run->hot);
	run->hot = NULL;
	game_free(&run->g);
	cairn__map_free(run->map);
	run->map = NULL;
	if (!run->spawned) {
		return 0;
	}
	r = cairnd_finish(&run->d, CMD, STOP_TIMEOUT_NS, failed);
	run->spawned = false;
	return r;
}

static int start_daemon(struct e2e_run *run, struct report *rep)
{
	struct cairn_open_options oo = {
		.name = "cairn-bench",
		.cmd_capacity = RING_CAPACITY,
		.res_capacity = RING_CAPACITY,
	};
	char err[PATH_MAX + 256];
	int r = cairnd_find(run->o.cairnd, &run->d, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "%s", err);
		return r;
	}
	for (unsigned i = 0; i < run->o.n_daemon_args; i++) {
		run->d.extra_args[run->d.n_extra_args++] = run->o.daemon_args[i];
	}
	r = cairnd_spawn(&run->d, run->o.daemon_cpu, &run->m.usable, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "cannot start %s: %s", run->d.binary, err);
		cairnd_cleanup(&run->d, false);
		return r;
	}
	run->spawned = true;
	bench_progress("e2e: started %s (found by %s) as pid %d, log %s", run->d.binary,
		       run->d.found_by, (int)run->d.pid, run->d.log);
	r = cairnd_attach(&run->d, ATTACH_TIMEOUT_NS, &oo, &run->c, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "%s", err);
		cairnd_show_log(&run->d);
		cairnd_cleanup(&run->d, true);
		run->spawned = false;
		return r;
	}
	char extra[256] = "";
	size_t len = 0;
	for (unsigned i = 0; i < run->o.n_daemon_args && len < sizeof(extra); i++) {
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, " %s",
					run->o.daemon_args[i]);
	}
	if (run->o.daemon_cpu >= 0) {
		report_param_str(rep, "cairnd", "cairnd",
				 "%s (found by %s), started with --cpu %d%s", run->d.binary,
				 run->d.found_by, run->o.daemon_cpu, extra);
	} else {
		report_param_str(rep, "cairnd", "cairnd", "%s (found by %s), started unpinned%s",
				 run->d.binary, run->d.found_by, extra);
	}
	return 0;
}

/* One call of (a), timed alone into *ns. Returns 0, or a negative code after saying why. */
static int round_trip(struct e2e_run *run, enum rt_kind k, uint64_t i, uint64_t *ns)
{
	struct cairn_msg cmd, res;
	if (k == RT_PING) {
		uint64_t t0 = cairn__now_ns();
		int r = cairn_ping(run->c, CALL_TIMEOUT_NS);
		*ns = cairn__now_ns() - t0;
		if (r < 0) {
			bench_error(CMD, "PING %llu failed: %s", (unsigned long long)i + 1,
				    cairn_strerror(r));
		}
		return r;
	}
	if (k == RT_MOVE) {
		game_next_move(&run->g, &cmd);
	} else {
		game_move_of(&run->g, run->hot[run->hot_next], &cmd);
		run->hot_next = run->hot_next + 1 == run->nhot ? 0 : run->hot_next + 1;
	}
	uint64_t t0 = cairn__now_ns();
	int r = cairn_call(run->c, &cmd, &res, CALL_TIMEOUT_NS);
	*ns = cairn__now_ns() - t0;
	if (r < 0 || res.hdr.type != CAIRN_MSG_MOVED) {
		const char *name = cairn_error_name(-r);
		bench_error(CMD, "MOVE%s %llu failed: %s (%s)", k == RT_HOT ? " (hot)" : "",
			    (unsigned long long)i + 1, cairn_strerror(r), name ? name : "?");
		return r < 0 ? r : -EPROTO;
	}
	return 0;
}

/*
 * (a): n calls of each kind, in alternating chunks of CHUNK of one kind; with keep,
 * each call's time goes to run->lat, and each kind's total to elapsed.
 */
static int measure_round_trips(struct e2e_run *run, uint64_t n, bool keep,
			       uint64_t elapsed[RT_KINDS])
{
	uint64_t ns;
	memset(elapsed, 0, RT_KINDS * sizeof(elapsed[0]));
	for (uint64_t base = 0; base < n; base += CHUNK) {
		uint64_t end = base + CHUNK < n ? base + CHUNK : n;
		for (unsigned k = 0; k < RT_KINDS; k++) {
			uint64_t t = cairn__now_ns();
			for (uint64_t i = base; i < end; i++) {
				int r = round_trip(run, (enum rt_kind)k, i, &ns);
				if (r < 0) {
					return r;
				}
				if (keep) {
					run->lat[k][i] = ns;
				}
			}
			elapsed[k] += cairn__now_ns() - t;
		}
	}
	return 0;
}

static void latency_row(struct report *rep, unsigned table, const char *name,
			const struct latency_summary *s, double throughput)
{
	struct report_row *row = report_latency_row(rep, table, name, s);
	report_field(row, "throughput_per_s", "calls/s", REPORT_PER_S, throughput);
}

static double throughput_row(struct report *rep, unsigned table, const char *name, uint64_t per_run,
			     const double *v, uint64_t nruns, double idle_pct)
{
	double med, min, max;
	stats_median_min_max(v, nruns, &med, &min, &max);
	struct report_row *row = report_row(rep, table, name);
	report_field(row, "runs", "runs", REPORT_COUNT, (double)nruns);
	report_field(row, "commands_per_run", "commands/run", REPORT_COUNT, (double)per_run);
	report_field(row, "median_per_s", "median", REPORT_PER_S, med);
	report_field(row, "min_per_s", "min", REPORT_PER_S, min);
	report_field(row, "max_per_s", "max", REPORT_PER_S, max);
	report_field(row, "ns_per_command_at_median", "ns/command", REPORT_NS, 1e9 / med);
	report_field(row, "host_idle_percent", "host idle turns", REPORT_PERCENT, idle_pct);
	row->series_key = "runs_per_s";
	row->nseries = (unsigned)nruns;
	memcpy(row->series, v, nruns * sizeof(v[0]));
	return med;
}

static void memory_row(struct report *rep, unsigned table, const char *name, uint64_t moves,
		       const struct proc_memory *pm, double vs_warm)
{
	struct report_row *row = report_row(rep, table, name);
	report_field(row, "moves", "moves", REPORT_COUNT, (double)moves);
	report_field(row, "vm_rss_bytes", "VmRSS", REPORT_BYTES, (double)pm->vm_rss);
	report_field(row, "rss_anon_bytes", "RssAnon", REPORT_BYTES, (double)pm->rss_anon);
	report_field(row, "rss_file_bytes", "RssFile", REPORT_BYTES, (double)pm->rss_file);
	report_field(row, "rss_shmem_bytes", "RssShmem", REPORT_BYTES, (double)pm->rss_shmem);
	report_field(row, "vs_warm_percent", "vs warm", REPORT_PERCENT, vs_warm);
}

static int read_memory(pid_t pid, struct proc_memory *pm)
{
	int r = proc_memory(pid, pm);
	if (r < 0) {
		bench_error(CMD, "cannot read /proc/%d/status: %s", (int)pid, strerror(-r));
	}
	return r;
}

int bench_e2e_main(int argc, char **argv)
{
	static struct report rep;
	static struct e2e_run run;
	static double v_move[STATS_MAX_VALUES], v_ping[STATS_MAX_VALUES];
	struct counters k0, k1, k2, k3, k4, k5;
	struct pipe_stats st;
	struct proc_memory mem_start, mem_setup, mem_pts[MEMORY_POINTS];
	uint64_t mem_at[MEMORY_POINTS];
	int r;

	run.o = (struct e2e_opts){.host_cpu = -1, .daemon_cpu = -1};
	r = parse_args(argc, argv, &run.o);
	if (r) {
		return r;
	}
	struct e2e_opts *o = &run.o;
	/*
	 * The engine and the transport, without the disk: unless told otherwise the daemon
	 * runs with --durability=none (cairn-bench wal compares the durability modes).
	 */
	bool durability_given = false;
	for (unsigned i = 0; i < o->n_daemon_args; i++) {
		durability_given |= strncmp(o->daemon_args[i], "--durability", 12) == 0;
	}
	if (!durability_given) {
		o->daemon_args[o->n_daemon_args++] = "--durability=none";
	}
	r = machine_probe(&run.m);
	if (r < 0) {
		bench_error(CMD, "cannot read this process's CPU affinity: %s", strerror(-r));
		return BENCH_FAIL;
	}
	r = choose_cpus(&run.m, o);
	if (r) {
		return r;
	}
	report_init(&rep, CMD, "MOVE through cairnd, from a C host (libcairn)", &run.m);

	r = cairn__map_default(&run.map);
	if (r == 0) {
		r = game_init(&run.g, run.map, CAIRN_DEFAULT_CELL_MM, (uint32_t)o->hunts,
			      (uint32_t)o->players, STEP_MM, 7);
	}
	bool alloc_ok = (run.hot = malloc(o->players * sizeof(run.hot[0]))) != NULL;
	for (unsigned k = 0; k < RT_KINDS; k++) {
		alloc_ok &= (run.lat[k] = malloc(o->iterations * sizeof(uint64_t))) != NULL;
	}
	if (r < 0 || !alloc_ok) {
		bench_error(CMD, "cannot prepare the traffic: %s",
			    cairn_strerror(r < 0 ? r : -ENOMEM));
		finish(&run, true);
		return BENCH_FAIL;
	}
	/* Touched now, so that no page fault lands in a timed loop. */
	for (unsigned k = 0; k < RT_KINDS; k++) {
		memset(run.lat[k], 0xff, o->iterations * sizeof(uint64_t));
	}

	if (start_daemon(&run, &rep) < 0) {
		finish(&run, true);
		return BENCH_FAIL;
	}
	pid_t dpid = run.d.pid;
	/* Pinned only now: the daemon we forked must not inherit the host's CPU. */
	if (o->host_cpu >= 0 && (r = machine_pin_self(o->host_cpu)) < 0) {
		bench_error(CMD, "cannot pin the host thread to CPU %d: %s", o->host_cpu,
			    strerror(-r));
		finish(&run, true);
		return BENCH_FAIL;
	}
	if (o->host_cpu >= 0) {
		report_placement(&rep, "host thread (cairn-bench)", "CPU %d (pinned)", o->host_cpu);
	} else {
		report_placement(&rep, "host thread (cairn-bench)", "not pinned (one usable CPU)");
	}
	report_place_threads(&rep, "cairnd", dpid);
	state_view_open(&run.sv, dpid);
	if (!run.sv.ec) {
		bench_progress("e2e: the engine's counters are not readable (%s): only the "
			       "daemon's are reported",
			       run.sv.why);
	}

	report_param_str(&rep, "world", "world",
			 "%llu hunts x %llu players on map 0 (%s, %ux%u cells), no speed limit",
			 (unsigned long long)o->hunts, (unsigned long long)o->players,
			 run.map->name, run.map->width, run.map->height);
	report_param_str(&rep, "moves", "moves",
			 "a random walk of up to %d mm per axis onto passable cells; every "
			 "player once per round, in one shuffled order across hunts",
			 STEP_MM);
	report_param_str(&rep, "round_trip", "(a) round trip",
			 "%llu each of PING, MOVE (cairn_call) in the shuffled order of all "
			 "players, MOVE cycling over the first hunt's %llu players; alternating "
			 "chunks of %u, after %llu of each untimed",
			 (unsigned long long)o->iterations, (unsigned long long)o->players, CHUNK,
			 (unsigned long long)o->warmup);
	report_param_str(&rep, "throughput", "(b) throughput",
			 "%llu runs of %llu MOVEs and of PINGs, alternating; batches of %llu, "
			 "at most %llu in flight; %llu pause(s) after an idle poll",
			 (unsigned long long)o->runs, (unsigned long long)o->moves,
			 (unsigned long long)o->batch, (unsigned long long)o->inflight,
			 (unsigned long long)o->idle_pauses);
	report_param_str(&rep, "memory", "(c) memory",
			 "%llu MOVEs after (a) and (b), VmRSS of cairnd every tenth",
			 (unsigned long long)o->memory_moves);
	report_param_str(&rep, "client", "client",
			 "libcairn, rings of %u slots, default spin (50 µs) then yield then futex",
			 RING_CAPACITY);
	report_param_str(&rep, "counters", "counters", "%s",
			 run.sv.ec ? "engine's from cairnd's state segment (via /proc/<pid>/fd), "
				     "daemon's from cairn_daemon_info"
				   : "daemon's only (cairn_daemon_info)");
	report_param_str(&rep, "mode", "mode", "%s", o->quick ? "quick" : "full");

	unsigned lat = report_table(&rep, "(a) round trip, one call at a time", true);
	unsigned thr = report_table(&rep, "(b) batched throughput", true);
	unsigned ctr = report_table(&rep, "daemon counters, per phase", true);
	unsigned memt = report_table(&rep, "(c) cairnd memory", true);

	/* Setup: hunts, then players. */
	bool have_engine = run.sv.ec != NULL;
	if (read_memory(dpid, &mem_start) < 0) {
		goto fail;
	}
	read_counters(run.c, &run.sv, &k0);
	bench_progress("e2e: setup: %llu hunts, %u players...", (unsigned long long)o->hunts,
		       run.g.nplayers);
	if (pipeline(&run, run.c, K_HUNT, run.g.nhunts, (unsigned)o->batch, (unsigned)o->inflight,
		     &st) < 0 ||
	    !pipe_clean("HUNT_CREATE", &st)) {
		goto fail;
	}
	if (pipeline(&run, run.c, K_JOIN, run.g.nplayers, (unsigned)o->batch, (unsigned)o->inflight,
		     &st) < 0 ||
	    !pipe_clean("JOIN", &st)) {
		goto fail;
	}
	game_shuffle(&run.g);
	/* The hot set: the first hunt's players, in the shuffled order. */
	for (uint32_t i = 0; i < run.g.nplayers; i++) {
		if (run.g.players[i].hunt_id == run.g.hunt_ids[0]) {
			run.hot[run.nhot++] = i;
		}
	}
	settle_counters(run.c, &run.sv, &k1);
	if (read_memory(dpid, &mem_setup) < 0) {
		goto fail;
	}

	/* (a) */
	uint64_t rt_ns[RT_KINDS];
	bench_progress("e2e: (a) round trips: %llu untimed, then %llu each of PING, MOVE and "
		       "MOVE (hot)...",
		       (unsigned long long)o->warmup, (unsigned long long)o->iterations);
	if (measure_round_trips(&run, o->warmup, false, rt_ns) < 0 ||
	    measure_round_trips(&run, o->iterations, true, rt_ns) < 0) {
		goto fail;
	}
	settle_counters(run.c, &run.sv, &k2);
	struct latency_summary ls[RT_KINDS];
	for (unsigned k = 0; k < RT_KINDS; k++) {
		stats_summarize(run.lat[k], o->iterations, &ls[k]);
	}

	/* (b) */
	uint64_t warm = o->moves < 1000000 ? o->moves : 1000000;
	bench_progress("e2e: (b) throughput: %llu runs of %llu MOVEs and of PINGs...",
		       (unsigned long long)o->runs, (unsigned long long)o->moves);
	if (pipeline(&run, run.c, K_MOVE, warm, (unsigned)o->batch, (unsigned)o->inflight, &st) <
		    0 ||
	    !pipe_clean("MOVE (warm-up)", &st)) {
		goto fail;
	}
	settle_counters(run.c, &run.sv, &k3);
	uint64_t idle_move = 0, turns_move = 0, idle_ping = 0, turns_ping = 0;
	for (uint64_t i = 0; i < o->runs; i++) {
		if (pipeline(&run, run.c, K_MOVE, o->moves, (unsigned)o->batch,
			     (unsigned)o->inflight, &st) < 0 ||
		    !pipe_clean("MOVE", &st)) {
			goto fail;
		}
		v_move[i] = (double)o->moves * 1e9 / (double)st.ns;
		idle_move += st.idle_turns;
		turns_move += st.turns;
		if (pipeline(&run, run.c, K_PING, o->moves, (unsigned)o->batch,
			     (unsigned)o->inflight, &st) < 0 ||
		    !pipe_clean("PING", &st)) {
			goto fail;
		}
		v_ping[i] = (double)o->moves * 1e9 / (double)st.ns;
		idle_ping += st.idle_turns;
		turns_ping += st.turns;
	}
	settle_counters(run.c, &run.sv, &k4);

	/* (c) */
	bench_progress("e2e: (c) memory: %llu MOVEs, cairnd's RSS every tenth...",
		       (unsigned long long)o->memory_moves);
	uint64_t sent = 0;
	double seg_rate[MEMORY_POINTS];
	for (unsigned p = 0; p < MEMORY_POINTS; p++) {
		uint64_t n = o->memory_moves * (p + 1) / MEMORY_POINTS - sent;
		if (pipeline(&run, run.c, K_MOVE, n, (unsigned)o->batch, (unsigned)o->inflight,
			     &st) < 0 ||
		    !pipe_clean("MOVE", &st)) {
			goto fail;
		}
		sent += n;
		seg_rate[p] = (double)n * 1e9 / (double)st.ns;
		mem_at[p] = sent;
		if (read_memory(dpid, &mem_pts[p]) < 0) {
			goto fail;
		}
	}
	settle_counters(run.c, &run.sv, &k5);

	/* Stop the daemon before the report: a daemon that does not exit 0 fails the run. */
	int stopped = finish(&run, false);

	/* The report. (a) */
	char name_all[64], name_hot[64];
	snprintf(name_all, sizeof(name_all), "MOVE, %llu hunts x %llu players, random player",
		 (unsigned long long)o->hunts, (unsigned long long)o->players);
	snprintf(name_hot, sizeof(name_hot), "MOVE, one hunt of %u players (hot)", run.nhot);
	latency_row(&rep, lat, name_all, &ls[RT_MOVE],
		    (double)o->iterations * 1e9 / (double)rt_ns[RT_MOVE]);
	latency_row(&rep, lat, name_hot, &ls[RT_HOT],
		    (double)o->iterations * 1e9 / (double)rt_ns[RT_HOT]);
	latency_row(&rep, lat, "PING via cairnd (cairn_ping)", &ls[RT_PING],
		    (double)o->iterations * 1e9 / (double)rt_ns[RT_PING]);
	report_line(&rep,
		    "(a) MOVE minus PING at p50: %lld ns to a random player of all hunts, %lld "
		    "ns within one hunt (hot), what the engine adds to a round trip; every "
		    "sample includes one clock_gettime pair (~16-20 ns).",
		    (long long)ls[RT_MOVE].p50 - (long long)ls[RT_PING].p50,
		    (long long)ls[RT_HOT].p50 - (long long)ls[RT_PING].p50);

	/* (b) */
	double mv = throughput_row(&rep, thr, "MOVE, batched", o->moves, v_move, o->runs,
				   turns_move ? (double)idle_move * 100 / (double)turns_move : NAN);
	double pg =
		throughput_row(&rep, thr, "PING, batched (no engine)", o->moves, v_ping, o->runs,
			       turns_ping ? (double)idle_ping * 100 / (double)turns_ping : NAN);
	report_line(&rep,
		    "(b) on the apply thread, at the medians: %.0f ns per MOVE, %.0f ns per "
		    "PING (rings, dispatch, result); the engine's share of a MOVE is about "
		    "%.0f ns (compare: cairn-bench engine).",
		    1e9 / mv, 1e9 / pg, 1e9 / mv - 1e9 / pg);
	report_line(&rep, "(b) host idle turns: the share of the host loop's turns that found the "
			  "window full and no result ready, i.e. that waited for the daemon.");

	/* Counters. */
	counters_row(&rep, ctr, "setup (HUNT_CREATE, JOIN)", &k0, &k1, have_engine);
	counters_row(&rep, ctr, "(a) round trips", &k1, &k2, have_engine);
	counters_row(&rep, ctr, "(b) throughput (MOVE and PING runs)", &k3, &k4, have_engine);
	counters_row(&rep, ctr, "(c) memory run", &k4, &k5, have_engine);
	uint64_t taken = k5.move_taken - k1.move_taken;
	uint64_t accepted = k5.moves - k1.moves;
	uint64_t refused = k5.rejected - k1.rejected;
	uint64_t sent_moves =
		2 * (o->warmup + o->iterations) + warm + o->runs * o->moves + o->memory_moves;
	if (have_engine) {
		report_line(&rep,
			    "MOVEs sent after setup: %llu; taken by the engine: %llu; accepted: "
			    "%llu; commands refused (any type, any reason): %llu.",
			    (unsigned long long)sent_moves, (unsigned long long)taken,
			    (unsigned long long)accepted, (unsigned long long)refused);
	} else {
		report_line(&rep, "engine counters not available: %s", run.sv.why);
	}

	/* (c) */
	double warm_rss = (double)mem_pts[0].vm_rss;
	double peak =
		(double)(mem_setup.vm_rss > mem_start.vm_rss ? mem_setup.vm_rss : mem_start.vm_rss);
	double drift = 0;
	memory_row(&rep, memt, "cairnd started, idle", 0, &mem_start,
		   ((double)mem_start.vm_rss / warm_rss - 1) * 100);
	memory_row(&rep, memt, "after setup", 0, &mem_setup,
		   ((double)mem_setup.vm_rss / warm_rss - 1) * 100);
	for (unsigned p = 0; p < MEMORY_POINTS; p++) {
		char name[64];
		double d = ((double)mem_pts[p].vm_rss / warm_rss - 1) * 100;
		snprintf(name, sizeof(name), "%u/%u of the run%s", p + 1, MEMORY_POINTS,
			 p == 0 ? " (warm)" : "");
		memory_row(&rep, memt, name, mem_at[p], &mem_pts[p], d);
		peak = (double)mem_pts[p].vm_rss > peak ? (double)mem_pts[p].vm_rss : peak;
		drift = fabs(d) > drift ? fabs(d) : drift;
	}
	double seg_med, seg_min, seg_max;
	stats_median_min_max(seg_rate, MEMORY_POINTS, &seg_med, &seg_min, &seg_max);
	char a[32], b[32], cbuf[32];
	report_format(REPORT_PER_S, seg_med, a, sizeof(a));
	report_format(REPORT_PER_S, seg_min, b, sizeof(b));
	report_format(REPORT_PER_S, seg_max, cbuf, sizeof(cbuf));
	report_line(&rep,
		    "(c) \"vs warm\" is against the first tenth; RssShmem counts the pages of "
		    "the state segment and lanes that cairnd has touched. MOVE rate over the "
		    "tenths: median %s (min %s, max %s).",
		    a, b, cbuf);

	struct report_target *t;
	t = report_target(&rep, "MOVE round trip p50", REPORT_NS, REPORT_AT_MOST, TARGET_P50_NS,
			  (double)ls[RT_MOVE].p50, true);
	snprintf(t->how, sizeof(t->how), "random player of all hunts");
	t = report_target(&rep, "MOVE round trip p99", REPORT_NS, REPORT_AT_MOST, TARGET_P99_NS,
			  (double)ls[RT_MOVE].p99, true);
	snprintf(t->how, sizeof(t->how), "random player of all hunts");
	t = report_target(&rep, "MOVE round trip p50, one hunt (hot)", REPORT_NS, REPORT_AT_MOST,
			  TARGET_P50_NS, (double)ls[RT_HOT].p50, true);
	snprintf(t->how, sizeof(t->how), "the first hunt's %u players only, in cache", run.nhot);
	t = report_target(&rep, "MOVEs applied per second, batched", REPORT_PER_S, REPORT_AT_LEAST,
			  TARGET_MOVES_PER_S, mv, true);
	snprintf(t->how, sizeof(t->how), "median of %llu runs", (unsigned long long)o->runs);
	t = report_target(&rep, "commands refused after setup", REPORT_COUNT, REPORT_AT_MOST, 0,
			  (double)refused, have_engine);
	snprintf(t->how, sizeof(t->how), "the engine's rejected counter");
	t = report_target(&rep, "cairnd VmRSS, peak of the samples", REPORT_BYTES, REPORT_AT_MOST,
			  TARGET_RSS_BYTES, peak, true);
	t = report_target(&rep, "cairnd VmRSS drift after warm-up", REPORT_PERCENT, REPORT_AT_MOST,
			  TARGET_RSS_DRIFT_PCT, drift, true);
	snprintf(t->how, sizeof(t->how), "largest |change| from the first tenth");

	report_print(&rep, stdout, o->json);
	if (stopped < 0) {
		return BENCH_FAIL;
	}
	if (report_missed(&rep, o->check) && o->check) {
		return BENCH_FAIL;
	}
	return BENCH_OK;
fail:
	if (run.spawned) {
		cairnd_show_log(&run.d);
	}
	finish(&run, true);
	return BENCH_FAIL;
}
