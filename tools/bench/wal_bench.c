/*
 * cairn-bench wal: what durability costs, measured through a real cairnd from a C host
 * using the public API.
 *
 * The placement is cairn-bench e2e's: every cairnd is started with --cpu (its apply
 * thread pinned) and the host thread is pinned to the other CPU. One run measures:
 *  (1) sustained MOVE throughput with batches in flight (cairn_submit_batch,
 *      cairn_poll_batch) for --durability none (no log: the baseline), relaxed, and sync
 *      with each WAL backend (io_uring, and the pwrite + fdatasync thread), each on a
 *      fresh daemon with a data directory of its own; the four daemons stay up and the
 *      timed runs take turns, so that a disk with burst credit (a virtual one) favours
 *      no configuration;
 *  (2) time to acknowledgement: every command of those runs, from the submit that
 *      pushed it to the poll that took its result; and MOVE one call at a time
 *      (cairn_call), where each fdatasync shows whole;
 *  (3) recovery: the sync/io_uring daemon's log, grown to --records records, is left
 *      with SIGKILL, and a new cairnd recovers it on the same data directory (its own
 *      "recovered LSN" line, and spawn to socket ready);
 *  (4) replay: cairn-replay over that data directory;
 *  (5) snapshots: PING round trips one at a time while SNAPSHOTs run on the daemon's
 *      store thread, against as long without.
 * Every result is checked: a refused command or a result of the wrong type fails the
 * run, and the recovered LSN must reach every LSN acknowledged before the kill.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "game.h"
#include "machine.h"
#include "proc.h"
#include "report.h"
#include "spawn.h"
#include "stats.h"
#include "wal/format.h"

#define CMD "wal"

#define CALL_TIMEOUT_NS     (5ll * 1000000000)
#define SNAPSHOT_TIMEOUT_NS (120ll * 1000000000)
#define ATTACH_TIMEOUT_NS   (5ull * 1000000000u)
#define RECOVER_TIMEOUT_NS  (300ull * 1000000000u) /* a start that recovers a long log */
#define STOP_TIMEOUT_NS     (15ull * 1000000000u)  /* above cairnd's 5 s drain timeout */
#define REPLAY_TIMEOUT_NS   (600ull * 1000000000u)
#define STALL_NS            (10ull * 1000000000u) /* no result for this long: give up */
#define RING_CAPACITY       4096u /* also cairnd's default --dedup-window, which caps it */
#define STEP_MM             250
#define POLL_MAX            256u
#define MAX_DAEMON_ARGS     3
#define PING_CAP            (2u << 20)   /* PING samples kept per window kind */
#define LOAD_CAP            (2u << 20)   /* (2) samples under load kept per configuration */
#define DISK_BLOCK          (128u << 10) /* (6): the probe's writes, about a 1024-MOVE batch */
#define DISK_FILE           (4ull << 30) /* (6): its file, fallocated as a log segment is */
#define OTHERS_WARN_PCT     10.0 /* others' share of the CPUs that makes the figures suspect */
#define DISK_WARN_RATIO     1.5  /* disk writes over the cairnds' own that do the same */

/* The targets, for a 2-core machine. */
#define TARGET_DURABLE_PER_S    1e6
#define TARGET_ACK_P99_NS       2e6
#define TARGET_RELAXED_PCT      90.0
#define TARGET_RECOVERY_S       5.0 /* seconds to recover... */
#define TARGET_RECOVERY_N       1e7 /* ...this many records, at most */
#define TARGET_REPLAY_PER_S     5e6
#define TARGET_SNAPSHOT_PING_NS 1e6

/* ---- the configurations ---- */

enum cfg_id { CFG_NONE, CFG_RELAXED, CFG_SYNC_SYNC, CFG_SYNC_URING, NCFG };

struct wal_cfg {
	const char *dir;        /* its data directory, under the work directory */
	const char *name;       /* row name */
	const char *durability; /* the --durability flag */
	const char *backend;    /* the --wal-backend flag, or NULL for the default (auto) */
	int want;               /* the CAIRN_WAL_* backend it must report, or -1 for any */
};

/*
 * In the order they run: sync with io_uring last, so that its log is the one left for
 * recovery and replay.
 */
static const struct wal_cfg cfgs[NCFG] = {
	[CFG_NONE] = {"none", "none (no log)", "--durability=none", NULL, CAIRN_WAL_NONE},
	[CFG_RELAXED] = {"relaxed", "relaxed, --flush-ms 10", "--durability=relaxed", NULL, -1},
	[CFG_SYNC_SYNC] = {"sync-sync", "sync, sync backend", "--durability=sync",
			   "--wal-backend=sync", CAIRN_WAL_SYNC},
	[CFG_SYNC_URING] = {"sync-io_uring", "sync, io_uring", "--durability=sync",
			    "--wal-backend=io_uring", CAIRN_WAL_IO_URING},
};

static const char *backend_name(int b)
{
	return b == CAIRN_WAL_IO_URING ? "io_uring"
	       : b == CAIRN_WAL_SYNC   ? "sync"
	       : b == CAIRN_WAL_NONE   ? "none"
				       : "?";
}

/* ---- options ---- */

struct wal_opts {
	const char *cairnd;
	const char *replay;
	const char *dir; /* where the work directory goes */
	const char *daemon_args[MAX_DAEMON_ARGS];
	unsigned n_daemon_args;
	int host_cpu; /* -1 until chosen; stays -1 when not pinned */
	int daemon_cpu;
	uint64_t hunts, players;
	uint64_t moves, runs, warmup;
	uint64_t batch, inflight;
	uint64_t round_trips;
	uint64_t records;
	uint64_t snapshots, snapshot_moves;
	uint64_t disk_seconds;
	bool host_spins; /* --host-idle spin: a tight poll instead of cairn_wait */
	int only;        /* --only: one configuration, (1) and (2) only; -1 for all */
	bool keep, json, check, quick;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench wal [OPTION]...\n"
		"What durability costs, through a real cairnd from a C host (libcairn), on 1000\n"
		"hunts x 100 players of the embedded default map: (1) MOVE throughput with\n"
		"batches in flight for --durability none (no log), relaxed, and sync with each\n"
		"WAL backend (io_uring, sync), each on a fresh cairnd with its own data\n"
		"directory; (2) time to acknowledgement of every command of those runs, and of\n"
		"one cairn_call MOVE at a time; (3) recovery of the sync/io_uring log, grown to\n"
		"--records, after SIGKILL; (4) cairn-replay over it; (5) PING round trips while\n"
		"SNAPSHOTs run, against as long without.\n"
		"\n"
		"Each cairnd is started on a socket in a new temporary directory, with its log\n"
		"there, like cairn-bench e2e's; the data directories go to a work directory in\n"
		"--dir, on the disk being measured, removed at the end. cairnd is --cairnd PATH,\n"
		"else $CAIRND, else ../../src/cairnd relative to this program (the build tree),\n"
		"else cairnd next to it, else on $PATH. cairn-replay is --replay PATH, else\n"
		"$CAIRN_REPLAY, else ../replay/cairn-replay relative to this program, else\n"
		"cairn-replay next to it, else on $PATH; without one, (4) is skipped.\n"
		"\n"
		"  --cairnd PATH          the cairnd binary to start\n"
		"  --replay PATH          the cairn-replay binary to run\n"
		"  --daemon-arg ARG       one more flag for every cairnd (repeatable, up to %d)\n"
		"  --dir PATH             put the data directories here (default: $TMPDIR, else\n"
		"                         /var/tmp; not a tmpfs, or nothing is measured)\n"
		"  --keep                 keep the work directory and its logs at the end\n"
		"  --only CONFIG          measure (1) and (2) for one configuration (none,\n"
		"                         relaxed, sync-sync or sync-io_uring) and skip (3)-(5)\n",
		MAX_DAEMON_ARGS);
	fprintf(f,
		"  --host-cpu N           pin the host thread here (default: the first usable\n"
		"                         CPU, as cairn-bench e2e)\n"
		"  --daemon-cpu N         start cairnd with --cpu N (default: the second usable\n"
		"                         CPU)\n"
		"  --hunts N              hunts (default 1000)\n"
		"  --players N            players per hunt (default 100)\n"
		"  --moves N              (1, 2) MOVEs per throughput run (default 2M; --quick:\n"
		"                         500k)\n"
		"  --runs N               (1, 2) rounds of throughput runs, one run of each\n"
		"                         configuration per round, in turn (default 5; --quick: "
		"3)\n"
		"  --warmup N             (1) untimed MOVEs first (default 500k; --quick: 100k)\n"
		"  --batch N              commands per cairn_submit_batch (default 64)\n"
		"  --inflight N           batches in flight at most (default 16)\n"
		"  --host-idle MODE       what the host does when it can neither push nor take:\n"
		"                         wait (default: after 64 such turns, cairn_wait for a\n"
		"                         result, which spins 50 us, yields, then sleeps, leaving\n"
		"                         its CPU to the log's threads and the kernel) or spin (a\n"
		"                         tight poll, as cairn-bench e2e)\n"
		"  --round-trips N        (2) timed cairn_call MOVEs per configuration, after a\n"
		"                         tenth as many untimed (default 20k; --quick: 3000)\n"
		"  --records N            (3, 4) log records to recover and replay: the\n"
		"                         sync/io_uring run is topped up to this many (default\n"
		"                         10M; --quick: 1M)\n"
		"  --snapshots N          (5) snapshots taken (default 5; --quick: 3)\n"
		"  --snapshot-moves N     (5) MOVEs before each, for the follower to catch up\n"
		"                         (default 200k; --quick: 100k)\n"
		"  --disk-seconds N       (6) seconds of the disk alone at the end (default 6;\n"
		"                         --quick: 3; 0: none)\n"
		"  --quick                a short run with the smaller counts above\n"
		"  --json                 print one JSON object instead of tables\n"
		"  --check                exit 1 if a target is missed: sync MOVE throughput\n"
		"                         >= %.0f M/s and p99 time to acknowledgement <= %.0f ms\n"
		"                         (each backend); relaxed >= %.0f %% of none; recovery of\n"
		"                         10 M records <= %.0f s (at that rate for other counts);\n"
		"                         replay >= %.0f M records/s; nothing acknowledged lost;\n"
		"                         PING max during snapshots <= %.0f ms (only with a third\n"
		"                         CPU for the snapshot thread)\n"
		"  -h, --help             show this help and exit\n",
		TARGET_DURABLE_PER_S / 1e6, TARGET_ACK_P99_NS / 1e6, TARGET_RELAXED_PCT,
		TARGET_RECOVERY_S, TARGET_REPLAY_PER_S / 1e6, TARGET_SNAPSHOT_PING_NS / 1e6);
}

enum {
	OPT_CAIRND = 256,
	OPT_REPLAY,
	OPT_DAEMON_ARG,
	OPT_DIR,
	OPT_KEEP,
	OPT_ONLY,
	OPT_HOST_CPU,
	OPT_DAEMON_CPU,
	OPT_HUNTS,
	OPT_PLAYERS,
	OPT_MOVES,
	OPT_RUNS,
	OPT_WARMUP,
	OPT_BATCH,
	OPT_INFLIGHT,
	OPT_HOST_IDLE,
	OPT_ROUND_TRIPS,
	OPT_RECORDS,
	OPT_SNAPSHOTS,
	OPT_SNAPSHOT_MOVES,
	OPT_DISK_SECONDS,
	OPT_QUICK,
	OPT_JSON,
	OPT_CHECK,
};

static int parse_args(int argc, char **argv, struct wal_opts *o)
{
	static const struct option opts[] = {
		{"cairnd", required_argument, NULL, OPT_CAIRND},
		{"replay", required_argument, NULL, OPT_REPLAY},
		{"daemon-arg", required_argument, NULL, OPT_DAEMON_ARG},
		{"dir", required_argument, NULL, OPT_DIR},
		{"keep", no_argument, NULL, OPT_KEEP},
		{"only", required_argument, NULL, OPT_ONLY},
		{"host-cpu", required_argument, NULL, OPT_HOST_CPU},
		{"daemon-cpu", required_argument, NULL, OPT_DAEMON_CPU},
		{"hunts", required_argument, NULL, OPT_HUNTS},
		{"players", required_argument, NULL, OPT_PLAYERS},
		{"moves", required_argument, NULL, OPT_MOVES},
		{"runs", required_argument, NULL, OPT_RUNS},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"inflight", required_argument, NULL, OPT_INFLIGHT},
		{"host-idle", required_argument, NULL, OPT_HOST_IDLE},
		{"round-trips", required_argument, NULL, OPT_ROUND_TRIPS},
		{"records", required_argument, NULL, OPT_RECORDS},
		{"snapshots", required_argument, NULL, OPT_SNAPSHOTS},
		{"snapshot-moves", required_argument, NULL, OPT_SNAPSHOT_MOVES},
		{"disk-seconds", required_argument, NULL, OPT_DISK_SECONDS},
		{"quick", no_argument, NULL, OPT_QUICK},
		{"json", no_argument, NULL, OPT_JSON},
		{"check", no_argument, NULL, OPT_CHECK},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t moves = 0, runs = 0, warmup = UINT64_MAX, rt = 0, records = 0, snaps = 0;
	uint64_t snap_moves = UINT64_MAX, disk = UINT64_MAX;
	int c;
	o->hunts = 1000;
	o->players = 100;
	o->batch = 64;
	o->inflight = 16;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = 0;
		switch (c) {
		case OPT_CAIRND:
			o->cairnd = optarg;
			break;
		case OPT_REPLAY:
			o->replay = optarg;
			break;
		case OPT_DAEMON_ARG:
			if (o->n_daemon_args >= MAX_DAEMON_ARGS) {
				bench_error(CMD, "at most %d --daemon-arg", MAX_DAEMON_ARGS);
				return bench_usage_hint(CMD);
			}
			o->daemon_args[o->n_daemon_args++] = optarg;
			break;
		case OPT_DIR:
			o->dir = optarg;
			break;
		case OPT_KEEP:
			o->keep = true;
			break;
		case OPT_ONLY:
			o->only = -1;
			for (int i = 0; i < NCFG; i++) {
				o->only = strcmp(optarg, cfgs[i].dir) == 0 ? i : o->only;
			}
			if (o->only < 0) {
				bench_error(CMD,
					    "--only takes none, relaxed, sync-sync or "
					    "sync-io_uring, not '%s'",
					    optarg);
				r = -EINVAL;
			}
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
		case OPT_MOVES:
			r = bench_parse_count(CMD, "--moves", optarg, 1000, 1000000000ull, &moves);
			break;
		case OPT_RUNS:
			r = bench_parse_count(CMD, "--runs", optarg, 1, STATS_MAX_VALUES, &runs);
			break;
		case OPT_WARMUP:
			r = bench_parse_count(CMD, "--warmup", optarg, 0, 1000000000ull, &warmup);
			break;
		case OPT_BATCH:
			r = bench_parse_count(CMD, "--batch", optarg, 1, 1024, &o->batch);
			break;
		case OPT_INFLIGHT:
			r = bench_parse_count(CMD, "--inflight", optarg, 1, 4096, &o->inflight);
			break;
		case OPT_HOST_IDLE:
			if (strcmp(optarg, "spin") != 0 && strcmp(optarg, "wait") != 0) {
				bench_error(CMD, "--host-idle takes spin or wait, not '%s'",
					    optarg);
				r = -EINVAL;
			}
			o->host_spins = strcmp(optarg, "spin") == 0;
			break;
		case OPT_ROUND_TRIPS:
			r = bench_parse_count(CMD, "--round-trips", optarg, 10, 100000000, &rt);
			break;
		case OPT_RECORDS:
			r = bench_parse_count(CMD, "--records", optarg, 1000, 10000000000ull,
					      &records);
			break;
		case OPT_SNAPSHOTS:
			r = bench_parse_count(CMD, "--snapshots", optarg, 1, 100, &snaps);
			break;
		case OPT_SNAPSHOT_MOVES:
			r = bench_parse_count(CMD, "--snapshot-moves", optarg, 0, 1000000000ull,
					      &snap_moves);
			break;
		case OPT_DISK_SECONDS:
			r = bench_parse_count(CMD, "--disk-seconds", optarg, 0, 600, &disk);
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
		bench_error(CMD,
			    "--batch x --inflight is at most %u, the rings' capacity (and "
			    "cairnd's default --dedup-window)",
			    RING_CAPACITY);
		return bench_usage_hint(CMD);
	}
	o->moves = moves ? moves : o->quick ? 500000 : 2000000;
	o->runs = runs ? runs : o->quick ? 3 : 5;
	o->warmup = warmup != UINT64_MAX ? warmup : o->quick ? 100000 : 500000;
	o->round_trips = rt ? rt : o->quick ? 3000 : 20000;
	o->records = records ? records : o->quick ? 1000000 : 10000000;
	o->snapshots = snaps ? snaps : o->quick ? 3 : 5;
	o->snapshot_moves = snap_moves != UINT64_MAX ? snap_moves : o->quick ? 100000 : 200000;
	o->disk_seconds = disk != UINT64_MAX ? disk : o->quick ? 3 : 6;
	return 0;
}

/* ---- the run ---- */

enum kind { K_HUNT, K_JOIN, K_MOVE };

struct pipe_stats {
	uint64_t ns;          /* first submit to last result */
	uint64_t turns;       /* turns of the host's loop */
	uint64_t idle_turns;  /* turns that pushed nothing and took no result */
	uint64_t errors;      /* error results */
	int first_error;      /* the code of the first one */
	uint16_t first_type;  /* the command type it answered */
	uint64_t wrong_reply; /* results of an unexpected type */
};

/* What one configuration measured. */
struct cfg_result {
	bool ran;
	int backend;       /* as WAL_STATUS says */
	char why[200];     /* the daemon's log line about its backend */
	uint64_t start_ns; /* spawn to socket ready, empty data directory */
	double rate[STATS_MAX_VALUES];
	uint64_t turns, idle_turns;
	struct latency_summary load; /* (2) under the pipelined load */
	struct latency_summary rt;   /* (2) one call at a time */
	double rt_per_s;
	uint64_t lsn; /* durable LSN after the runs */
};

/* One start of cairnd that recovers a log: what it said and what we saw. */
struct start {
	bool done;
	bool parsed;      /* its "recovered LSN" line was found */
	uint64_t lsn;     /* recovered LSN */
	uint64_t records; /* log records it replayed */
	double secs;      /* its own figure */
	uint64_t hash;    /* the state hash it logged */
	bool have_hash;
	uint64_t ready_ns; /* spawn to socket ready */
	uint64_t durable;  /* WAL_STATUS durable LSN after the start */
};

struct replay {
	bool found, ok;
	char path[PATH_MAX];
	char found_by[32];
	char why[256];    /* skipped or failed: why */
	uint64_t records; /* from its output, else the recovered LSN */
	bool records_parsed;
	uint64_t ns;      /* fork to exit */
	bool hash_parsed; /* it printed a hash line */
	bool hash_seen;   /* its last hash equals the state hash cairnd logged after recovery */
};

/*
 * Latency samples in nanoseconds, v (and w, a second figure taken with each, when
 * paired). Past cap samples a uniform choice of all of them is kept (reservoir
 * sampling), so that percentiles weigh every run or window alike; count, the maxima and
 * over_1ms count every sample.
 */
struct samples {
	uint64_t *v, *w;
	size_t n, cap; /* samples kept, at most cap */
	uint64_t count, max_v, max_w, over_1ms;
	uint64_t rng;
};

/* (5): the PINGs of one kind of window: v the round trip, w the call to the ingress stamp. */
struct ping_set {
	struct samples s;
	uint64_t apply_wait_ns, host_wait_ns, window_ns;
};

/* One configuration's cairnd, the client attached to it, and its world. */
struct node {
	struct cairnd_proc d;
	bool spawned;
	cairn_client *c;
	struct game g;
	struct samples load; /* (2): time to acknowledgement under (1)'s load */
};

struct snap_row {
	struct cairn_snapshot_reply rep;
	uint64_t call_ns;
	uint64_t caught_up;    /* log records the follower had to catch up */
	uint64_t store_cpu_ns; /* the store thread's CPU time in the window */
};

/* (6): one second of the disk probe. */
struct disk_second {
	uint64_t syncs;
	uint64_t p50_ns, p99_ns, max_ns;
};

/* Everything the run holds that must be released on every path. */
struct wal_run {
	struct wal_opts o;
	struct machine m;
	struct cairnd_proc found; /* the cairnd binary, as cairnd_find chose it */
	struct node nodes[NCFG];  /* by enum cfg_id */
	struct cairn__map *map;
	/*
	 * Request ids are never reused within a run: cairnd's exactly-once table answers a
	 * request id its session already had accepted with the original result, without
	 * applying the command again. A pipeline's command i has id id_base + i + 1.
	 */
	uint64_t next_id, id_base;
	char work[PATH_MAX / 2];
	char data[NCFG][PATH_MAX];
	char data_arg[NCFG][PATH_MAX + 16];
	const char *fs_type;
	uint64_t fs_free;
	uint64_t *lat_rt;
	struct cfg_result res[NCFG];
	struct start empty, killed, clean;
	uint64_t acked_lsn; /* durable LSN acknowledged before the SIGKILL */
	uint64_t topped_up; /* MOVEs driven only to grow the log */
	struct replay rp;
	struct ping_set without, during;
	struct snap_row snaps[100];
	unsigned nsnaps;
	struct disk_second disk_first, disk_last;
	unsigned disk_seconds; /* 0: the probe did not run */
	bool ping_to_valid;
	char cairnd_threads[256];
	/* What the CPUs and the disk did meanwhile: see others_start and others_end. */
	unsigned long long busy0, total0;
	uint64_t own0_ns;
	double others_pct; /* NaN when unknown */
	unsigned dev_major, dev_minor;
	char dev_name[32];        /* the block device of the work directory, "" if unknown */
	uint64_t dev_written0;    /* its bytes written, at the start */
	double dev_written;       /* ... during the run; NaN when unknown */
	uint64_t daemons_written; /* bytes the cairnds caused to be written (/proc/<pid>/io) */
	uint64_t probe_written;   /* bytes (6) wrote */
};

/* Builds command i of a pipeline of kind k into m (request id: id_base + i + 1). */
static void build(struct wal_run *run, struct node *n, enum kind k, uint64_t i, struct cairn_msg *m)
{
	struct game *g = &n->g;
	switch (k) {
	case K_HUNT:
		/* No speed limit: see the world line of the report. */
		cairn_msg_hunt_create(m, NULL);
		break;
	case K_JOIN:
		cairn_msg_join(m, g->players[i].hunt_id, g->players[i].x, g->players[i].y);
		break;
	case K_MOVE:
		game_next_move(g, m);
		break;
	}
	m->hdr.request_id = run->id_base + i + 1;
}

/* Takes one result of a pipeline of kind k. */
static void take(struct wal_run *run, struct node *n, enum kind k, const struct cairn_msg *res,
		 struct pipe_stats *st)
{
	static const uint16_t expect[] = {
		[K_HUNT] = CAIRN_MSG_HUNT_CREATED,
		[K_JOIN] = CAIRN_MSG_JOINED,
		[K_MOVE] = CAIRN_MSG_MOVED,
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
	if (k == K_HUNT && i < n->g.nhunts) {
		struct cairn_hunt_created hc;
		memcpy(&hc, res->payload, sizeof(hc));
		game_set_hunt(&n->g, (uint32_t)i, hc.hunt_id);
	} else if (k == K_JOIN && i < n->g.nplayers) {
		struct cairn_joined j;
		memcpy(&j, res->payload, sizeof(j));
		n->g.players[i].player_id = j.player_id;
	}
}

/* ---- latency samples ---- */

/* Room for cap samples (and their pairs); the memory is touched now, not in a timed loop. */
static int samples_init(struct samples *s, size_t cap, bool paired)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap;
	s->rng = 0x9E3779B97F4A7C15ull;
	s->v = malloc(cap * sizeof(s->v[0]));
	s->w = paired ? malloc(cap * sizeof(s->w[0])) : NULL;
	if (!s->v || (paired && !s->w)) {
		return -ENOMEM;
	}
	memset(s->v, 0, cap * sizeof(s->v[0]));
	if (s->w) {
		memset(s->w, 0, cap * sizeof(s->w[0]));
	}
	return 0;
}

static void samples_free(struct samples *s)
{
	free(s->v);
	free(s->w);
	memset(s, 0, sizeof(*s));
}

static inline void samples_add(struct samples *s, uint64_t v, uint64_t w)
{
	s->max_v = v > s->max_v ? v : s->max_v;
	s->max_w = w > s->max_w ? w : s->max_w;
	s->over_1ms += v > 1000000;
	/* Algorithm R: sample number count (from 0) replaces a kept one with chance cap/count. */
	size_t slot = s->n;
	if (s->n == s->cap) {
		s->rng ^= s->rng >> 12;
		s->rng ^= s->rng << 25;
		s->rng ^= s->rng >> 27;
		slot = (size_t)((s->rng * 0x2545F4914F6CDD1Dull) % (s->count + 1));
	} else {
		s->n++;
	}
	if (slot < s->cap) {
		s->v[slot] = v;
		if (s->w) {
			s->w[slot] = w;
		}
	}
	s->count++;
}

/* Summarizes the kept samples (v, or w with second) into *out, with the true maximum. */
static void samples_summary(struct samples *s, bool second, struct latency_summary *out)
{
	stats_summarize(second ? s->w : s->v, s->n, out);
	uint64_t max = second ? s->max_w : s->max_v;
	out->max = max > out->max ? max : out->max;
}

/* ---- the pipeline ---- */

/* Turns of the host loop that did nothing before it waits in cairn_wait (--host-idle wait). */
#define IDLE_TURNS_BEFORE_WAIT 64
#define WAIT_NS                (1000 * 1000)

/*
 * Sends n commands of kind k to node nd with at most --inflight batches of --batch
 * commands outstanding, and takes every result. With lat, each command's time goes
 * there: from the cairn_submit_batch call that pushed it to the cairn_poll_batch (or
 * cairn_wait) call that returned its result. Returns 0, or a negative code after saying
 * why (the daemon went away, or nothing came back for STALL_NS).
 */
static int pipeline(struct wal_run *run, struct node *nd, enum kind k, uint64_t n,
		    struct samples *lat, struct pipe_stats *st)
{
	static struct cairn_msg buf[1024], res[POLL_MAX];
	/* Submit times by request id; a window never exceeds the ring, so none is reused early. */
	static uint64_t stamp[RING_CAPACITY];
	const uint64_t mask = RING_CAPACITY - 1;
	cairn_client *c = nd->c;
	unsigned batch = (unsigned)run->o.batch;
	uint64_t window = run->o.batch * run->o.inflight;
	uint64_t built = 0, done = 0, last_done = 0;
	unsigned off = 0, nbuf = 0, idle_run = 0;
	memset(st, 0, sizeof(*st));
	run->id_base = run->next_id;
	run->next_id += n;
	uint64_t t0 = cairn__now_ns(), since = t0;
	while (done < n) {
		bool did = false;
		if (off == nbuf && built < n && built - done + batch <= window) {
			nbuf = (unsigned)(n - built < batch ? n - built : batch);
			for (unsigned i = 0; i < nbuf; i++) {
				build(run, nd, k, built + i, &buf[i]);
			}
			built += nbuf;
			off = 0;
		}
		if (off < nbuf) {
			uint64_t t = lat ? cairn__now_ns() : 0;
			int r = cairn_submit_batch(c, buf + off, nbuf - off);
			if (r < 0) {
				bench_error(CMD, "cairn_submit_batch: %s", cairn_strerror(r));
				return r;
			}
			if (lat) {
				uint64_t first = built - nbuf + off;
				for (int j = 0; j < r; j++) {
					stamp[(first + (uint64_t)j) & mask] = t;
				}
			}
			off += (unsigned)r;
			did |= r > 0;
		}
		int got;
		if (!run->o.host_spins && idle_run >= IDLE_TURNS_BEFORE_WAIT) {
			/* Nothing to push, nothing came: sleep until a result does. */
			got = cairn_wait(c, res, WAIT_NS);
			got = got == 0 ? 1 : got == -ETIMEDOUT ? 0 : got;
			if (got < 0) {
				bench_error(CMD, "cairn_wait: %s", cairn_strerror(got));
				return got;
			}
		} else {
			got = cairn_poll_batch(c, res, POLL_MAX);
			if (got < 0) {
				bench_error(CMD, "cairn_poll_batch: %s", cairn_strerror(got));
				return got;
			}
		}
		if (got > 0) {
			uint64_t t = lat ? cairn__now_ns() : 0;
			for (int i = 0; i < got; i++) {
				take(run, nd, k, &res[i], st);
				if (lat) {
					uint64_t j = res[i].hdr.request_id - run->id_base - 1;
					samples_add(lat, t - stamp[j & mask], 0);
				}
			}
			done += (uint64_t)got;
			did = true;
		}
		st->turns++;
		if (did) {
			idle_run = 0;
			continue;
		}
		st->idle_turns++;
		idle_run++;
		cairn__cpu_relax();
		/* Every 4096 idle turns, or after each cairn_wait that timed out. */
		if ((st->idle_turns & 4095) == 0 ||
		    (!run->o.host_spins && idle_run > IDLE_TURNS_BEFORE_WAIT)) {
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

/* Runs a pipeline of n commands and checks every result; 0 or a negative code. */
static int drive(struct wal_run *run, struct node *nd, enum kind k, uint64_t n, struct samples *lat,
		 const char *what, struct pipe_stats *st)
{
	int r = pipeline(run, nd, k, n, lat, st);
	if (r < 0) {
		return r;
	}
	return pipe_clean(what, st) ? 0 : -EPROTO;
}

/* ---- files and processes ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* rm -r path; nothing when it does not exist. */
static void remove_tree(const char *path)
{
	if (path[0]) {
		nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static const char *fs_name(unsigned long type)
{
	switch (type) {
	case 0xEF53:
		return "ext2/3/4";
	case 0x58465342:
		return "xfs";
	case 0x9123683E:
		return "btrfs";
	case 0x01021994:
		return "tmpfs";
	case 0x794c7630:
		return "overlayfs";
	case 0x2FC12FC1:
		return "zfs";
	case 0xF2F52010:
		return "f2fs";
	default:
		return "another filesystem";
	}
}

/* Creates the work directory and the data directory names in it. */
static int make_work(struct wal_run *run)
{
	const char *base = run->o.dir;
	if (!base) {
		const char *tmp = getenv("TMPDIR");
		base = tmp && *tmp ? tmp : "/var/tmp";
	}
	if ((size_t)snprintf(run->work, sizeof(run->work), "%s/cairn-bench-wal-XXXXXX", base) >=
	    sizeof(run->work) - 64) {
		bench_error(CMD, "--dir %s: the path is too long", base);
		run->work[0] = '\0';
		return -ENAMETOOLONG;
	}
	if (!mkdtemp(run->work)) {
		int e = errno;
		bench_error(CMD, "cannot create a work directory in %s: %s", base, strerror(e));
		run->work[0] = '\0';
		return -e;
	}
	struct statfs sf;
	struct statvfs sv;
	run->fs_type = statfs(run->work, &sf) == 0 ? fs_name((unsigned long)sf.f_type) : "unknown";
	run->fs_free = statvfs(run->work, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : 0;
	if (strcmp(run->fs_type, "tmpfs") == 0) {
		bench_progress(
			"wal: warning: %s is on a tmpfs: fdatasync costs nothing there, and the "
			"figures say nothing about a disk (use --dir)",
			run->work);
	}
	for (unsigned i = 0; i < NCFG; i++) {
		snprintf(run->data[i], sizeof(run->data[i]), "%s/%s", run->work, cfgs[i].dir);
		snprintf(run->data_arg[i], sizeof(run->data_arg[i]), "--data-dir=%s", run->data[i]);
	}
	return 0;
}

/* The last line of file path that contains needle, into line; false when none. */
static bool log_line(const char *path, const char *needle, char *line, size_t len)
{
	char buf[1024];
	bool found = false;
	FILE *f = fopen(path, "re");
	if (!f) {
		return false;
	}
	while (fgets(buf, sizeof(buf), f)) {
		if (strstr(buf, needle)) {
			buf[strcspn(buf, "\n")] = '\0';
			snprintf(line, len, "%s", buf);
			found = true;
		}
	}
	fclose(f);
	return found;
}

/*
 * Reads what a start of cairnd said about its recovery:
 * "recovered LSN N in X s: ..., then R log records; state hash H".
 */
static void parse_recovery(const char *log, struct start *s)
{
	char line[1024];
	unsigned long long lsn, records, hash;
	double secs;
	s->parsed = false;
	if (!log_line(log, "recovered LSN ", line, sizeof(line))) {
		return;
	}
	const char *p = strstr(line, "recovered LSN ");
	if (sscanf(p, "recovered LSN %llu in %lf s", &lsn, &secs) != 2) {
		return;
	}
	s->lsn = lsn;
	s->secs = secs;
	s->records = lsn;
	if ((p = strstr(line, ", then ")) && sscanf(p, ", then %llu log records", &records) == 1) {
		s->records = records;
	}
	if ((p = strstr(line, "state hash ")) && sscanf(p, "state hash %llx", &hash) == 1) {
		s->hash = hash;
		s->have_hash = true;
	}
	s->parsed = true;
}

/* The daemon's line about its log backend, after "write-ahead log: ". */
static void parse_backend(const char *log, char *out, size_t len)
{
	char line[1024];
	out[0] = '\0';
	if (log_line(log, "write-ahead log: ", line, sizeof(line))) {
		const char *p = strstr(line, "write-ahead log: ") + strlen("write-ahead log: ");
		size_t n = strcspn(p, ";");
		snprintf(out, len, "%.*s", (int)n, p);
	}
}

/* Whether process pid is still running (without reaping it when it is not). */
static bool running(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

/*
 * Starts a cairnd with args after --socket and --cpu, waits for its socket and attaches.
 * *ready_ns gets the time from the fork to the attach's success: everything the daemon
 * does before it listens (recovery included), polled every half millisecond.
 * Returns 0, or a negative code after saying why.
 */
static int start_daemon(struct wal_run *run, struct node *n, const char *const *args,
			unsigned nargs, uint64_t timeout_ns, uint64_t *ready_ns)
{
	struct cairn_open_options oo = {
		.name = "cairn-bench",
		.cmd_capacity = RING_CAPACITY,
		.res_capacity = RING_CAPACITY,
	};
	char err[PATH_MAX + 256];
	memset(&n->d, 0, sizeof(n->d));
	memcpy(n->d.binary, run->found.binary, sizeof(n->d.binary));
	memcpy(n->d.found_by, run->found.found_by, sizeof(n->d.found_by));
	for (unsigned i = 0; i < nargs; i++) {
		n->d.extra_args[n->d.n_extra_args++] = args[i];
	}
	for (unsigned i = 0; i < run->o.n_daemon_args; i++) {
		n->d.extra_args[n->d.n_extra_args++] = run->o.daemon_args[i];
	}
	uint64_t t0 = cairn__now_ns();
	int r = cairnd_spawn(&n->d, run->o.daemon_cpu, &run->m.usable, err, sizeof(err));
	if (r < 0) {
		bench_error(CMD, "cannot start %s: %s", n->d.binary, err);
		cairnd_cleanup(&n->d, false);
		return r;
	}
	n->spawned = true;
	/* A finer poll than cairnd_attach's, for the start time; it then attaches at once. */
	struct stat st;
	while (stat(n->d.socket, &st) < 0 && running(n->d.pid) &&
	       cairn__now_ns() - t0 < timeout_ns) {
		struct timespec ts = {.tv_nsec = 500 * 1000};
		nanosleep(&ts, NULL);
	}
	r = cairnd_attach(&n->d, ATTACH_TIMEOUT_NS, &oo, &n->c, err, sizeof(err));
	*ready_ns = cairn__now_ns() - t0;
	if (r < 0) {
		bench_error(CMD, "%s", err);
		cairnd_show_log(&n->d);
		cairnd_cleanup(&n->d, true);
		n->spawned = false;
		return r;
	}
	return 0;
}

/* Adds the bytes node n's daemon caused to be written to storage to the run's count. */
static void count_daemon_io(struct wal_run *run, struct node *n)
{
	char path[64], line[128];
	if (!n->spawned || n->d.pid <= 0) {
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/io", (int)n->d.pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "write_bytes: %llu", &v) == 1) {
			run->daemons_written += v;
		}
	}
	fclose(f);
}

/* Detaches from node n's daemon and stops it with SIGTERM; it must exit 0. 0 or a code. */
static int stop_daemon(struct wal_run *run, struct node *n, bool failed)
{
	cairn_close(n->c);
	n->c = NULL;
	if (!n->spawned) {
		return 0;
	}
	/* Its last writes (the drain) are missed: a few batches at most. */
	count_daemon_io(run, n);
	n->spawned = false;
	return cairnd_finish(&n->d, CMD, STOP_TIMEOUT_NS, failed);
}

/* Detaches from node n's daemon, then kills it with SIGKILL, as a crash would. */
static void kill_daemon(struct wal_run *run, struct node *n)
{
	cairn_close(n->c);
	n->c = NULL;
	if (n->spawned) {
		count_daemon_io(run, n);
		proc_kill(n->d.pid);
		n->d.pid = 0;
		cairnd_cleanup(&n->d, false);
		n->spawned = false;
	}
}

/* The WAL_STATUS of the daemon. Returns 0 or a negative code after saying why. */
static int wal_status(cairn_client *c, struct cairn_wal_status *w)
{
	struct cairn_msg cmd, res;
	cairn_msg_init(&cmd, CAIRN_MSG_WAL_STATUS, 0);
	int r = cairn_call(c, &cmd, &res, CALL_TIMEOUT_NS);
	if (r == 0 && res.hdr.type != CAIRN_MSG_WAL_STATUS_REPLY) {
		r = -CAIRN_E_BAD_REPLY;
	}
	if (r < 0) {
		bench_error(CMD, "WAL_STATUS: %s", cairn_strerror(r));
		return r;
	}
	memcpy(w, res.payload, sizeof(*w));
	return 0;
}

/* The tid of the thread of process pid named name, or 0. */
static pid_t find_thread(pid_t pid, const char *name)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	pid_t found = 0;
	if (!d) {
		return 0;
	}
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		char cpath[96], comm[32] = "";
		if (tid <= 0) {
			continue;
		}
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
		FILE *f = fopen(cpath, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f)) {
				comm[strcspn(comm, "\n")] = '\0';
			}
			fclose(f);
		}
		if (strcmp(comm, name) == 0) {
			found = tid;
		}
	}
	closedir(d);
	return found;
}

/*
 * A thread's scheduler accounting (/proc/<pid>/task/<tid>/schedstat): ns on a CPU and ns
 * runnable but waiting for one. Zeros when it cannot be read.
 */
static void schedstat(pid_t pid, pid_t tid, uint64_t *run_ns, uint64_t *wait_ns)
{
	char path[96];
	unsigned long long r = 0, w = 0;
	*run_ns = *wait_ns = 0;
	if (tid <= 0) {
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu %llu", &r, &w) == 2) {
			*run_ns = r;
			*wait_ns = w;
		}
		fclose(f);
	}
}

/* ---- (1) and (2) ---- */

/* Whether configuration i is measured in this run (--only). */
static bool measured(const struct wal_run *run, unsigned i)
{
	return run->o.only < 0 || (unsigned)run->o.only == i;
}

static int setup_world(struct wal_run *run, struct node *n)
{
	struct pipe_stats st;
	const struct wal_opts *o = &run->o;
	/* Every configuration gets the same world and the same moves. */
	int r = game_init(&n->g, run->map, CAIRN_DEFAULT_CELL_MM, (uint32_t)o->hunts,
			  (uint32_t)o->players, STEP_MM, 7);
	if (r < 0) {
		bench_error(CMD, "cannot prepare the traffic: %s", cairn_strerror(r));
		return r;
	}
	if ((r = drive(run, n, K_HUNT, n->g.nhunts, NULL, "HUNT_CREATE", &st)) < 0 ||
	    (r = drive(run, n, K_JOIN, n->g.nplayers, NULL, "JOIN", &st)) < 0) {
		return r;
	}
	game_shuffle(&n->g);
	return 0;
}

/* (2): count MOVEs one at a time; with keep, the times go to run->lat_rt. */
static int round_trips(struct wal_run *run, struct node *n, uint64_t count, bool keep,
		       uint64_t *elapsed)
{
	struct cairn_msg cmd, res;
	uint64_t start = cairn__now_ns();
	for (uint64_t i = 0; i < count; i++) {
		game_next_move(&n->g, &cmd);
		uint64_t t0 = cairn__now_ns();
		int r = cairn_call(n->c, &cmd, &res, CALL_TIMEOUT_NS);
		uint64_t t1 = cairn__now_ns();
		if (r < 0 || res.hdr.type != CAIRN_MSG_MOVED) {
			const char *name = cairn_error_name(-r);
			bench_error(CMD, "MOVE %llu (cairn_call) failed: %s (%s)",
				    (unsigned long long)i + 1, cairn_strerror(r),
				    name ? name : "?");
			return r < 0 ? r : -EPROTO;
		}
		if (keep) {
			run->lat_rt[i] = t1 - t0;
		}
	}
	*elapsed = cairn__now_ns() - start;
	return 0;
}

/* The flags of configuration i's daemon, into args; returns how many. */
static unsigned cfg_args(struct wal_run *run, enum cfg_id i, const char **args)
{
	unsigned n = 0;
	args[n++] = cfgs[i].durability;
	if (cfgs[i].backend) {
		args[n++] = cfgs[i].backend;
	}
	if (i != CFG_NONE) {
		args[n++] = run->data_arg[i];
		/* No periodic snapshot anywhere: the log alone is measured; (5) takes them. */
		args[n++] = "--snapshot-records=0";
		args[n++] = "--snapshot-every-s=0";
	}
	return n;
}

/* Starts configuration i's daemon on its data directory, fresh or as left. */
static int start_cfg(struct wal_run *run, enum cfg_id i, uint64_t timeout_ns, uint64_t *ready_ns)
{
	struct node *n = &run->nodes[i];
	const char *args[8];
	unsigned nargs = cfg_args(run, i, args);
	int r = start_daemon(run, n, args, nargs, timeout_ns, ready_ns);
	if (r == 0) {
		bench_progress("wal: %s: started %s as pid %d (%.0f ms to ready), log %s",
			       cfgs[i].name, n->d.binary, (int)n->d.pid, *ready_ns / 1e6, n->d.log);
	}
	return r;
}

/*
 * Starts configuration id's daemon on an empty data directory, checks its backend,
 * builds the world, and measures (2)'s round trips; then warms it up for (1).
 */
static int prepare_cfg(struct wal_run *run, enum cfg_id id, struct report *rep)
{
	const struct wal_opts *o = &run->o;
	struct node *n = &run->nodes[id];
	struct cfg_result *cr = &run->res[id];
	struct pipe_stats st;
	struct cairn_wal_status ws;
	uint64_t ns;
	int r;

	if ((r = start_cfg(run, id, ATTACH_TIMEOUT_NS, &cr->start_ns)) < 0) {
		return r;
	}
	if ((r = wal_status(n->c, &ws)) < 0) {
		return r;
	}
	cr->backend = ws.backend;
	parse_backend(n->d.log, cr->why, sizeof(cr->why));
	if (cfgs[id].want >= 0 && ws.backend != cfgs[id].want) {
		bench_error(CMD, "%s: cairnd uses the %s backend, not %s: %s", cfgs[id].name,
			    backend_name(ws.backend), backend_name(cfgs[id].want), cr->why);
		return -ENOTSUP;
	}
	if (id == CFG_SYNC_URING) {
		/* The placement of the daemon that does the most: all its threads are up. */
		report_place_threads(rep, "cairnd (sync, io_uring)", n->d.pid);
		/* Its start on an empty data directory, the baseline of (3). */
		parse_recovery(n->d.log, &run->empty);
		run->empty.ready_ns = cr->start_ns;
		run->empty.done = true;
	}

	bench_progress("wal: %s: setup, %u hunts and %u players, then %llu MOVEs one at a time "
		       "(cairn_call)...",
		       cfgs[id].name, (unsigned)o->hunts, (unsigned)(o->hunts * o->players),
		       (unsigned long long)o->round_trips);
	if ((r = setup_world(run, n)) < 0) {
		return r;
	}
	if ((r = round_trips(run, n, o->round_trips / 10, false, &ns)) < 0 ||
	    (r = round_trips(run, n, o->round_trips, true, &ns)) < 0) {
		return r;
	}
	stats_summarize(run->lat_rt, o->round_trips, &cr->rt);
	cr->rt_per_s = (double)o->round_trips * 1e9 / (double)ns;
	if (o->warmup && (r = drive(run, n, K_MOVE, o->warmup, NULL, "MOVE (warm-up)", &st)) < 0) {
		return r;
	}
	return 0;
}

/*
 * (1) and (2) under load: --runs rounds, each with one run of every configuration
 * measured, in turn, the first one a step further each round. Every daemon stays up, so
 * that no configuration is always the one after a rest of the disk, or the first on a
 * cold one: on a virtual disk with burst credit, that decides the figures.
 */
static int measure_rounds(struct wal_run *run)
{
	const struct wal_opts *o = &run->o;
	struct pipe_stats st;
	struct cairn_wal_status ws;
	int r;
	for (uint64_t round = 0; round < o->runs; round++) {
		bench_progress("wal: (1) round %llu of %llu: %llu MOVEs, batched, on each "
			       "configuration...",
			       (unsigned long long)round + 1, (unsigned long long)o->runs,
			       (unsigned long long)o->moves);
		for (unsigned k = 0; k < NCFG; k++) {
			unsigned i = (unsigned)((round + k) % NCFG);
			struct node *n = &run->nodes[i];
			struct cfg_result *cr = &run->res[i];
			if (!measured(run, i)) {
				continue;
			}
			if ((r = drive(run, n, K_MOVE, o->moves, &n->load, "MOVE", &st)) < 0) {
				return r;
			}
			cr->rate[round] = (double)o->moves * 1e9 / (double)st.ns;
			cr->turns += st.turns;
			cr->idle_turns += st.idle_turns;
		}
	}
	for (unsigned i = 0; i < NCFG; i++) {
		if (!measured(run, i)) {
			continue;
		}
		samples_summary(&run->nodes[i].load, false, &run->res[i].load);
		if ((r = wal_status(run->nodes[i].c, &ws)) < 0) {
			return r;
		}
		run->res[i].lsn = ws.durable_lsn;
		run->res[i].ran = true;
	}
	return 0;
}

/* ---- (3) recovery ---- */

static int grow_and_kill(struct wal_run *run)
{
	struct node *n = &run->nodes[CFG_SYNC_URING];
	struct pipe_stats st;
	struct cairn_wal_status ws;
	int r;
	uint64_t have = run->res[CFG_SYNC_URING].lsn;
	if (have < run->o.records) {
		run->topped_up = run->o.records - have;
		bench_progress("wal: (3) growing the log from %llu to %llu records...",
			       (unsigned long long)have, (unsigned long long)run->o.records);
		if ((r = drive(run, n, K_MOVE, run->topped_up, NULL, "MOVE (log growth)", &st)) <
		    0) {
			return r;
		}
	}
	if ((r = wal_status(n->c, &ws)) < 0) {
		return r;
	}
	/* Every result was taken, and in sync mode a result means durable. */
	run->acked_lsn = ws.durable_lsn;
	bench_progress("wal: (3) SIGKILL with %llu records acknowledged, then a new cairnd on "
		       "the same data directory...",
		       (unsigned long long)run->acked_lsn);
	kill_daemon(run, n);
	return 0;
}

/* A start on the sync/io_uring data directory as left: recovery. */
static int recover_start(struct wal_run *run, struct start *s)
{
	struct node *n = &run->nodes[CFG_SYNC_URING];
	struct cairn_wal_status ws;
	int r = start_cfg(run, CFG_SYNC_URING, RECOVER_TIMEOUT_NS, &s->ready_ns);
	if (r < 0) {
		return r;
	}
	parse_recovery(n->d.log, s);
	if (!s->parsed) {
		bench_progress("wal: no \"recovered LSN N in X s\" line in %s: the daemon's own "
			       "recovery time is not reported",
			       n->d.log);
	}
	if ((r = wal_status(n->c, &ws)) < 0) {
		return r;
	}
	s->durable = ws.durable_lsn;
	s->done = true;
	return 0;
}

/* ---- (4) replay ---- */

static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
 * Finds cairn-replay as cairnd_find finds cairnd; when it cannot, says why in rp->why.
 * Returns -ENOENT when a path given explicitly (--replay, $CAIRN_REPLAY) is not an
 * executable file, else 0 (found or not).
 */
static int find_replay(struct wal_run *run)
{
	struct replay *rp = &run->rp;
	const char *env = getenv("CAIRN_REPLAY");
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	const char *how = NULL;
	if (run->o.replay) {
		if (executable(run->o.replay)) {
			snprintf(cand, sizeof(cand), "%s", run->o.replay);
			how = "--replay";
		} else {
			snprintf(rp->why, sizeof(rp->why), "--replay %s: not an executable file",
				 run->o.replay);
			return -ENOENT;
		}
	} else if (env && *env) {
		if (executable(env)) {
			snprintf(cand, sizeof(cand), "%s", env);
			how = "$CAIRN_REPLAY";
		} else {
			snprintf(rp->why, sizeof(rp->why),
				 "$CAIRN_REPLAY=%s: not an executable file", env);
			return -ENOENT;
		}
	}
	ssize_t n = how ? 0 : readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
		}
		/* The build tree: build/tools/bench/cairn-bench next to build/tools/replay/. */
		snprintf(cand, sizeof(cand), "%s/../replay/cairn-replay", exe);
		if (executable(cand)) {
			how = "build tree";
		} else {
			snprintf(cand, sizeof(cand), "%s/cairn-replay", exe);
			how = executable(cand) ? "next to cairn-bench" : NULL;
		}
	}
	if (!how) {
		const char *path = getenv("PATH");
		for (const char *s = path; s && *s && !how;) {
			const char *e = strchrnul(s, ':');
			snprintf(cand, sizeof(cand), "%.*s/cairn-replay", e == s ? 1 : (int)(e - s),
				 e == s ? "." : s);
			how = executable(cand) ? "$PATH" : NULL;
			s = *e ? e + 1 : e;
		}
	}
	if (!how) {
		snprintf(rp->why, sizeof(rp->why),
			 "cairn-replay not found (no --replay, no $CAIRN_REPLAY, not at "
			 "../replay/cairn-replay nor next to cairn-bench, not on $PATH)");
		return 0;
	}
	char *abs = realpath(cand, NULL);
	snprintf(rp->path, sizeof(rp->path), "%.4000s", abs ? abs : cand);
	free(abs);
	snprintf(rp->found_by, sizeof(rp->found_by), "%s", how);
	rp->found = true;
	return 0;
}

/* Prints the last lines of file path on stderr, under its name. */
static void show_tail(const char *path)
{
	char lines[20][256];
	unsigned n = 0;
	FILE *f = fopen(path, "re");
	if (!f) {
		return;
	}
	while (fgets(lines[n % 20], sizeof(lines[0]), f)) {
		n++;
	}
	fclose(f);
	fprintf(stderr, "---- last lines of %s ----\n", path);
	for (unsigned i = n > 20 ? n - 20 : 0; i < n; i++) {
		const char *l = lines[i % 20];
		fprintf(stderr, "%s%s", l, l[0] && l[strlen(l) - 1] == '\n' ? "" : "\n");
	}
	fprintf(stderr, "----\n");
}

/*
 * Reads what cairn-replay printed on stdout: hash lines "lsn=N hash=0x... records=N",
 * the last one at the end of the log; keeps its record count and compares its hash.
 */
static void parse_replay(const char *path, struct replay *rp, uint64_t hash, bool have_hash)
{
	char buf[1024];
	FILE *f = fopen(path, "re");
	if (!f) {
		return;
	}
	while (fgets(buf, sizeof(buf), f)) {
		unsigned long long lsn, h, records;
		const char *p = strstr(buf, "lsn=");
		if (p && sscanf(p, "lsn=%llu hash=0x%llx records=%llu", &lsn, &h, &records) == 3) {
			rp->records = records;
			rp->records_parsed = true;
			rp->hash_parsed = true;
			rp->hash_seen = have_hash && h == hash;
		}
	}
	fclose(f);
}

/* (4): cairn-replay --quiet DATA, timed from fork to exit. */
static void run_replay(struct wal_run *run)
{
	struct replay *rp = &run->rp;
	char out[PATH_MAX + 32];
	if (!rp->found) {
		bench_progress("wal: (4) skipped: %s", rp->why);
		return;
	}
	snprintf(out, sizeof(out), "%s/replay.out", run->work);
	bench_progress("wal: (4) %s --quiet %s...", rp->path, run->data[CFG_SYNC_URING]);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || nullfd < 0) {
		snprintf(rp->why, sizeof(rp->why), "cannot open %.160s: %s", out, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		return;
	}
	char *argv[] = {rp->path, "--quiet", run->data[CFG_SYNC_URING], NULL};
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	uint64_t t0 = cairn__now_ns();
	pid_t pid = fork();
	if (pid == 0) {
		proc_reset_child();
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) {
			_exit(1);
		}
		/* Not pinned: as cairnd's recovery, which runs before its apply thread exists. */
		sched_setaffinity(0, sizeof(run->m.usable), &run->m.usable);
		dup2(nullfd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(rp->path, argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", rp->path, strerror(errno));
		_exit(127);
	}
	int e = errno;
	close(fd);
	close(nullfd);
	if (pid < 0) {
		snprintf(rp->why, sizeof(rp->why), "fork: %s", strerror(e));
		return;
	}
	int status = 0;
	pid_t p = pid;
	int r = proc_wait(&p, &status, 1, t0 + REPLAY_TIMEOUT_NS, 0);
	rp->ns = cairn__now_ns() - t0;
	if (r < 0) {
		proc_kill(pid);
		snprintf(rp->why, sizeof(rp->why), "%s after %.0f s",
			 r == -ETIMEDOUT ? "killed, no end" : strerror(-r), rp->ns / 1e9);
		bench_error(CMD, "(4) %s", rp->why);
		show_tail(out);
		return;
	}
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char how[96];
		proc_describe(status, how, sizeof(how));
		snprintf(rp->why, sizeof(rp->why), "cairn-replay %s", how);
		bench_error(CMD, "(4) %s", rp->why);
		show_tail(out);
		return;
	}
	const struct start *s = &run->killed;
	parse_replay(out, rp, s->hash, s->have_hash);
	if (!rp->records_parsed) {
		rp->records = s->lsn;
	}
	rp->ok = true;
}

/* ---- (5) snapshots ---- */

struct snap_call {
	cairn_client *c;
	int status;
	struct cairn_snapshot_reply rep;
	uint64_t ns;
	int done; /* set with release once the fields above are final */
};

/* The second client's thread: one SNAPSHOT, by cairn_call. It inherits the host's CPU. */
static void *snap_main(void *arg)
{
	struct snap_call *s = arg;
	struct cairn_msg cmd, res;
	cairn_msg_init(&cmd, CAIRN_MSG_SNAPSHOT, 0);
	uint64_t t0 = cairn__now_ns();
	int r = cairn_call(s->c, &cmd, &res, SNAPSHOT_TIMEOUT_NS);
	s->ns = cairn__now_ns() - t0;
	if (r == 0 && res.hdr.type != CAIRN_MSG_SNAPSHOT_TAKEN) {
		r = -CAIRN_E_BAD_REPLY;
	}
	if (r == 0) {
		memcpy(&s->rep, res.payload, sizeof(s->rep));
	}
	s->status = r;
	/* Release: the reply and status are written before the host sees done. */
	cairn__store_release(&s->done, 1);
	return NULL;
}

/*
 * One PING by cairn_call on client c, into p: the round trip, and the time from the call
 * to the daemon's ingress stamp (the same CLOCK_MONOTONIC, taken as its apply loop picks
 * the PING up). A stalled apply loop lengthens the second; a host thread preempted while
 * it waits for the PONG lengthens only the first.
 */
static int ping_once(struct wal_run *run, cairn_client *c, struct ping_set *p)
{
	struct cairn_msg cmd, res;
	struct cairn_pong pong;
	game_msg_ping(&cmd);
	uint64_t t0 = cairn__now_ns();
	int r = cairn_call(c, &cmd, &res, CALL_TIMEOUT_NS);
	uint64_t t1 = cairn__now_ns();
	if (r == 0 && res.hdr.type != CAIRN_MSG_PONG) {
		r = -CAIRN_E_BAD_REPLY;
	}
	if (r < 0) {
		bench_error(CMD, "PING: %s", cairn_strerror(r));
		return r;
	}
	memcpy(&pong, res.payload, sizeof(pong));
	uint64_t to = 0;
	/* Only meaningful when the daemon's stamps run on our clock (no offset after a reboot). */
	if (pong.ingress_ns >= t0 && pong.ingress_ns <= t1) {
		to = pong.ingress_ns - t0;
	} else {
		run->ping_to_valid = false;
	}
	samples_add(&p->s, t1 - t0, to);
	return 0;
}

static int snapshots(struct wal_run *run)
{
	const struct wal_opts *o = &run->o;
	struct node *n = &run->nodes[CFG_SYNC_URING];
	struct pipe_stats st;
	struct cairn_wal_status ws;
	cairn_client *c2 = NULL;
	struct cairn_open_options oo = {.name = "cairn-bench snapshot"};
	pid_t dpid = n->d.pid;
	pid_t apply = find_thread(dpid, "cairn-apply"), store = find_thread(dpid, "cairn-store");
	pid_t host = gettid();
	uint64_t a_wait, h_wait, s_run, a_wait1, h_wait1, s_run1, x;
	int r;

	if (!apply || !store) {
		bench_progress("wal: (5) cairnd's threads cairn-apply and cairn-store were not "
			       "found: their CPU accounting is not reported");
	}
	if ((r = samples_init(&run->without.s, PING_CAP, true)) < 0 ||
	    (r = samples_init(&run->during.s, PING_CAP, true)) < 0) {
		bench_error(CMD, "cannot allocate the PING samples: %s", strerror(-r));
		return r;
	}
	r = cairn_open(n->d.socket, &oo, &c2);
	if (r < 0) {
		bench_error(CMD, "(5) cannot attach a second client: %s", cairn_strerror(r));
		return r;
	}
	run->ping_to_valid = true;
	/* Game ids from the setup of the sync/io_uring run still name the recovered world. */
	for (uint64_t k = 0; k < o->snapshots; k++) {
		struct snap_row *row = &run->snaps[run->nsnaps];
		if (o->snapshot_moves && (r = drive(run, n, K_MOVE, o->snapshot_moves, NULL,
						    "MOVE (before a snapshot)", &st)) < 0) {
			goto out;
		}
		if ((r = wal_status(n->c, &ws)) < 0) {
			goto out;
		}
		/* The follower starts at the recovered state, then at each snapshot taken. */
		uint64_t from = run->nsnaps ? run->snaps[run->nsnaps - 1].rep.lsn : run->clean.lsn;
		row->caught_up = ws.durable_lsn - from;
		bench_progress("wal: (5) snapshot %llu of %llu, PINGs meanwhile...",
			       (unsigned long long)k + 1, (unsigned long long)o->snapshots);

		/* During: PING until the SNAPSHOT is answered. */
		struct snap_call sc = {.c = c2};
		pthread_t th;
		schedstat(dpid, apply, &x, &a_wait);
		schedstat(getpid(), host, &x, &h_wait);
		schedstat(dpid, store, &s_run, &x);
		uint64_t t0 = cairn__now_ns();
		r = pthread_create(&th, NULL, snap_main, &sc);
		if (r != 0) {
			bench_error(CMD, "cannot start a thread: %s", strerror(r));
			r = -r;
			goto out;
		}
		while (!cairn__load_acquire(&sc.done)) {
			if ((r = ping_once(run, n->c, &run->during)) < 0) {
				pthread_join(th, NULL);
				goto out;
			}
		}
		uint64_t d_ns = cairn__now_ns() - t0;
		pthread_join(th, NULL);
		schedstat(dpid, apply, &x, &a_wait1);
		schedstat(getpid(), host, &x, &h_wait1);
		schedstat(dpid, store, &s_run1, &x);
		run->during.apply_wait_ns += a_wait1 - a_wait;
		run->during.host_wait_ns += h_wait1 - h_wait;
		run->during.window_ns += d_ns;
		if (sc.status < 0) {
			const char *name = cairn_error_name(-sc.status);
			bench_error(CMD, "SNAPSHOT failed: %s (%s)", cairn_strerror(sc.status),
				    name ? name : "?");
			r = sc.status;
			goto out;
		}
		row->rep = sc.rep;
		row->call_ns = sc.ns;
		row->store_cpu_ns = s_run1 - s_run;
		run->nsnaps++;

		/* Without: PING for as long again. */
		schedstat(dpid, apply, &x, &a_wait);
		schedstat(getpid(), host, &x, &h_wait);
		t0 = cairn__now_ns();
		while (cairn__now_ns() - t0 < d_ns) {
			if ((r = ping_once(run, n->c, &run->without)) < 0) {
				goto out;
			}
		}
		run->without.window_ns += cairn__now_ns() - t0;
		schedstat(dpid, apply, &x, &a_wait1);
		schedstat(getpid(), host, &x, &h_wait1);
		run->without.apply_wait_ns += a_wait1 - a_wait;
		run->without.host_wait_ns += h_wait1 - h_wait;
	}
	r = 0;
out:
	cairn_close(c2);
	return r;
}

/* ---- (6) the disk alone ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The syncs of one second of the probe, summarized into *d. */
static void disk_second(uint64_t *lat, uint64_t n, struct disk_second *d)
{
	qsort(lat, n, sizeof(lat[0]), cmp_u64);
	d->syncs = n;
	d->p50_ns = n ? stats_percentile(lat, n, 5000) : 0;
	d->p99_ns = n ? stats_percentile(lat, n, 9900) : 0;
	d->max_ns = n ? lat[n - 1] : 0;
}

/*
 * (6): what the disk does alone, after the run, for seconds seconds: pwrite of
 * DISK_BLOCK then fdatasync, again and again, into a fallocated file as the log's
 * segments are. The first second and the last say how much burst the disk had left and
 * what it sustains. Returns 0, or a negative code after saying why.
 */
static int disk_probe(struct wal_run *run, unsigned seconds)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/disk-probe", run->work);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	void *buf = NULL;
	uint64_t *lat = malloc(1000000 * sizeof(uint64_t));
	int r = fd < 0 ? -errno : 0;
	if (r == 0 && fallocate(fd, 0, 0, (off_t)DISK_FILE) < 0) {
		r = -errno;
	}
	if (r == 0 && (posix_memalign(&buf, 4096, DISK_BLOCK) != 0 || !lat)) {
		r = -ENOMEM;
	}
	if (r < 0) {
		bench_error(CMD, "(6) cannot prepare %s: %s", path, strerror(-r));
		goto out;
	}
	memset(buf, 0x5a, DISK_BLOCK);
	bench_progress("wal: (6) the disk alone: %u KiB write + fdatasync for %u s...",
		       DISK_BLOCK >> 10, seconds);
	uint64_t off = 0, n = 0, start = cairn__now_ns(), sec = start;
	unsigned done = 0;
	while (done < seconds) {
		uint64_t t0 = cairn__now_ns();
		if (pwrite(fd, buf, DISK_BLOCK, (off_t)off) != (ssize_t)DISK_BLOCK ||
		    fdatasync(fd) < 0) {
			r = errno ? -errno : -EIO;
			bench_error(CMD, "(6) write + fdatasync of %s: %s", path, strerror(-r));
			goto out;
		}
		uint64_t t1 = cairn__now_ns();
		off = off + DISK_BLOCK < DISK_FILE ? off + DISK_BLOCK : 0;
		run->probe_written += DISK_BLOCK;
		if (n < 1000000) {
			lat[n++] = t1 - t0;
		}
		if (t1 - sec >= 1000000000u) {
			if (done == 0) {
				disk_second(lat, n, &run->disk_first);
			}
			disk_second(lat, n, &run->disk_last);
			done++;
			n = 0;
			sec = t1;
		}
	}
	run->disk_seconds = done;
out:
	free(lat);
	free(buf);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	return r;
}

/* ---- the machine meanwhile ---- */

/* CPU time of this process and of its children that have been waited for. */
static uint64_t own_cpu_ns(void)
{
	struct rusage a, b;
	getrusage(RUSAGE_SELF, &a);
	getrusage(RUSAGE_CHILDREN, &b);
	return (uint64_t)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec +
			  b.ru_stime.tv_sec) *
		       1000000000u +
	       (uint64_t)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
			  b.ru_stime.tv_usec) *
		       1000u;
}

/*
 * The run lasts minutes on a machine others may share: the CPUs' busy time over the
 * whole run, less our own and our children's (every cairnd and cairn-replay, all
 * waited for by the end), says how much of the machine something else took. Kernel
 * threads count as something else, those that write our logs back included (a few
 * per cent on a quiet machine).
 */
/* Bytes written to block device major:minor since boot (/proc/diskstats); false if unknown. */
static bool dev_written(unsigned major, unsigned minor, char *name, size_t len, uint64_t *bytes)
{
	char line[512], dev[64];
	bool found = false;
	FILE *f = fopen("/proc/diskstats", "re");
	if (!f) {
		return false;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned ma, mi;
		unsigned long long v[7];
		/* major minor name reads merged sectors ms writes merged sectors-written ... */
		if (sscanf(line, "%u %u %63s %llu %llu %llu %llu %llu %llu %llu", &ma, &mi, dev,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) == 10 &&
		    ma == major && mi == minor) {
			snprintf(name, len, "%.31s", dev);
			*bytes = (uint64_t)v[6] * 512;
			found = true;
		}
	}
	fclose(f);
	return found;
}

static void others_start(struct wal_run *run)
{
	struct stat st;
	run->others_pct = NAN;
	run->dev_written = NAN;
	if (machine_cpu_ticks(&run->busy0, &run->total0) < 0) {
		run->total0 = 0;
	}
	run->own0_ns = own_cpu_ns();
	if (stat(run->work, &st) == 0) {
		run->dev_major = major(st.st_dev);
		run->dev_minor = minor(st.st_dev);
		if (!dev_written(run->dev_major, run->dev_minor, run->dev_name,
				 sizeof(run->dev_name), &run->dev_written0)) {
			run->dev_name[0] = '\0';
		}
	}
}

static void others_end(struct wal_run *run)
{
	unsigned long long busy, total;
	long hz = sysconf(_SC_CLK_TCK);
	if (!run->total0 || hz <= 0 || machine_cpu_ticks(&busy, &total) < 0 ||
	    total <= run->total0) {
		return;
	}
	double busy_ns = (double)(busy - run->busy0) * 1e9 / (double)hz;
	double all_ns = (double)(total - run->total0) * 1e9 / (double)hz;
	double others = busy_ns - (double)(own_cpu_ns() - run->own0_ns);
	run->others_pct = (others > 0 ? others : 0) * 100 / all_ns;
	uint64_t w;
	char name[32];
	if (run->dev_name[0] &&
	    dev_written(run->dev_major, run->dev_minor, name, sizeof(name), &w)) {
		run->dev_written = (double)(w - run->dev_written0);
	}
}

/* ---- the report ---- */

static double median_of(const double *v, uint64_t n)
{
	double med, min, max;
	stats_median_min_max(v, n, &med, &min, &max);
	return med;
}

static void throughput_rows(struct wal_run *run, struct report *rep, unsigned table)
{
	const struct wal_opts *o = &run->o;
	double none = run->res[CFG_NONE].ran ? median_of(run->res[CFG_NONE].rate, o->runs) : NAN;
	double rec = (double)cairn__wal_rec_size(sizeof(struct cairn__wal_command));
	for (unsigned i = 0; i < NCFG; i++) {
		const struct cfg_result *cr = &run->res[i];
		double med, min, max;
		if (!cr->ran) {
			continue;
		}
		stats_median_min_max(cr->rate, o->runs, &med, &min, &max);
		struct report_row *row = report_row(rep, table, cfgs[i].name);
		report_field(row, "runs", "runs", REPORT_COUNT, (double)o->runs);
		report_field(row, "median_per_s", "median", REPORT_PER_S, med);
		report_field(row, "min_per_s", "min", REPORT_PER_S, min);
		report_field(row, "max_per_s", "max", REPORT_PER_S, max);
		report_field(row, "vs_none_percent", "vs none", REPORT_PERCENT, med / none * 100);
		report_field(row, "ns_per_command_at_median", "ns/command", REPORT_NS, 1e9 / med);
		report_field(row, "log_bytes_per_s", "log per s", REPORT_BYTES,
			     i == CFG_NONE ? NAN : med * rec);
		report_field(row, "host_idle_percent", "host idle turns", REPORT_PERCENT,
			     cr->turns ? (double)cr->idle_turns * 100 / (double)cr->turns : NAN);
		row->series_key = "runs_per_s";
		row->nseries = (unsigned)o->runs;
		memcpy(row->series, cr->rate, o->runs * sizeof(cr->rate[0]));
	}
}

static void start_row(struct report *rep, unsigned table, const char *name, const struct start *s,
		      double log_bytes)
{
	struct report_row *row = report_row(rep, table, name);
	double na = s->parsed ? 0 : NAN;
	report_field(row, "lsn", "LSN", REPORT_COUNT, na + (double)s->lsn);
	report_field(row, "log_records", "log records", REPORT_COUNT, na + (double)s->records);
	report_field(row, "log_bytes", "log", REPORT_BYTES, log_bytes);
	report_field(row, "recovered_in_ns", "cairnd says", REPORT_NS, na + s->secs * 1e9);
	report_field(row, "spawn_to_ready_ns", "spawn to ready", REPORT_NS, (double)s->ready_ns);
	report_field(row, "records_per_s_daemon", "records/s (its)", REPORT_PER_S,
		     s->parsed && s->records && s->secs > 0 ? (double)s->records / s->secs : NAN);
	report_field(row, "records_per_s_ready", "records/s (to ready)", REPORT_PER_S,
		     s->records && s->ready_ns ? (double)s->records * 1e9 / (double)s->ready_ns
					       : NAN);
}

/*
 * A row of (5): the round trips of p, or (second) the calls to the ingress stamp; the
 * preemption figures are NaN where they do not apply.
 */
static void ping_row(struct report *rep, unsigned table, const char *name, struct ping_set *p,
		     bool second, double apply_wait, double host_wait, bool valid)
{
	struct latency_summary s;
	samples_summary(&p->s, second, &s);
	struct report_row *row = report_latency_row(rep, table, name, &s);
	if (!valid) {
		for (unsigned i = 1; i < row->nfields; i++) {
			row->f[i].value = NAN;
		}
	}
	report_field(row, "over_1ms", "> 1 ms", REPORT_COUNT, second ? NAN : (double)p->s.over_1ms);
	report_field(row, "apply_waiting_for_cpu_ns", "apply thread preempted", REPORT_NS,
		     apply_wait);
	report_field(row, "host_waiting_for_cpu_ns", "host preempted", REPORT_NS, host_wait);
}

static void report_all(struct wal_run *run, struct report *rep)
{
	const struct wal_opts *o = &run->o;
	struct report_target *t;
	char a[32], b[32];
	double rec = (double)cairn__wal_rec_size(sizeof(struct cairn__wal_command));

	/* (1) */
	unsigned thr = report_table(rep, "(1) MOVE throughput, batched", true);
	throughput_rows(run, rep, thr);
	/* (2) */
	unsigned ack = report_table(rep, "(2) time to acknowledgement under that load", true);
	for (unsigned i = 0; i < NCFG; i++) {
		if (run->res[i].ran) {
			report_latency_row(rep, ack, cfgs[i].name, &run->res[i].load);
		}
	}
	unsigned one = report_table(rep, "(2) one MOVE at a time (cairn_call)", true);
	for (unsigned i = 0; i < NCFG; i++) {
		if (run->res[i].ran) {
			struct report_row *row =
				report_latency_row(rep, one, cfgs[i].name, &run->res[i].rt);
			report_field(row, "throughput_per_s", "calls/s", REPORT_PER_S,
				     run->res[i].rt_per_s);
		}
	}
	for (unsigned i = CFG_RELAXED; i < NCFG; i++) {
		if (run->res[i].ran && run->res[i].why[0]) {
			report_line(rep, "%s: cairnd says \"%s\".", cfgs[i].name, run->res[i].why);
		}
	}
	double none = run->res[CFG_NONE].ran ? median_of(run->res[CFG_NONE].rate, o->runs) : NAN;
	report_format(REPORT_BYTES, none * rec, a, sizeof(a));
	report_line(rep,
		    "(1) a MOVE record is %.0f bytes in the log (header, session, stamp, command); "
		    "\"log per s\" is the median rate times that (at none's rate: %s per s).",
		    rec, a);
	report_line(rep,
		    "(2) under load, a command waits behind up to %llu others in flight: by "
		    "Little's law about %llu / throughput, whatever the disk does.",
		    (unsigned long long)(o->batch * o->inflight),
		    (unsigned long long)(o->batch * o->inflight));

	if (o->runs > 1) {
		char line[256];
		size_t len = (size_t)snprintf(line, sizeof(line), "(1) by round, M/s:");
		for (unsigned i = CFG_RELAXED; i < NCFG && len < sizeof(line); i++) {
			if (!run->res[i].ran) {
				continue;
			}
			len += (size_t)snprintf(line + len, sizeof(line) - len, "%s %s",
						i == CFG_RELAXED ? "" : ";", cfgs[i].dir);
			for (uint64_t k = 0; k < o->runs && len < sizeof(line); k++) {
				len += (size_t)snprintf(line + len, sizeof(line) - len, " %.2f",
							run->res[i].rate[k] / 1e6);
			}
		}
		report_line(rep, "%s (a disk with burst credit slows down as it is used up).",
			    line);
	}

	/* (3) */
	unsigned rec_t = report_table(rep, "(3) starts of cairnd (sync, io_uring)", true);
	if (run->empty.done) {
		start_row(rep, rec_t, "empty data directory", &run->empty, 0);
	}
	if (run->killed.done) {
		start_row(rep, rec_t, "after SIGKILL", &run->killed,
			  (double)run->killed.records * rec);
	}
	if (run->clean.done) {
		start_row(rep, rec_t, "after a clean stop (SIGTERM)", &run->clean,
			  (double)run->clean.records * rec);
	}
	if (run->killed.done) {
		uint64_t lost = run->acked_lsn > run->killed.durable
					? run->acked_lsn - run->killed.durable
					: 0;
		report_line(rep,
			    "(3) %llu records acknowledged before the SIGKILL (%llu MOVEs only to "
			    "grow the log); the new cairnd is durable to LSN %llu: %llu lost.",
			    (unsigned long long)run->acked_lsn, (unsigned long long)run->topped_up,
			    (unsigned long long)run->killed.durable, (unsigned long long)lost);
		report_line(rep, "(3) the log was written seconds before, so it was read from the "
				 "page cache; spawn to ready polls the socket every 0.5 ms.");
	}

	/* (4) */
	unsigned rp_t = report_table(rep, "(4) cairn-replay --quiet DATA", true);
	struct replay *rp = &run->rp;
	struct report_row *row;
	if (o->only < 0) {
		row = report_row(rep, rp_t, "whole log, sync/io_uring data directory");
		report_field(row, "records", "records", REPORT_COUNT,
			     rp->ok ? (double)rp->records : NAN);
		report_field(row, "elapsed_ns", "fork to exit", REPORT_NS,
			     rp->ok ? (double)rp->ns : NAN);
		report_field(row, "records_per_s", "records/s", REPORT_PER_S,
			     rp->ok ? (double)rp->records * 1e9 / (double)rp->ns : NAN);
	}
	if (o->only >= 0) {
		report_line(rep, "(3) to (5) skipped: --only %s.", cfgs[o->only].dir);
	} else if (!rp->found) {
		report_line(rep, "(4) skipped: %s.", rp->why);
	} else if (!rp->ok) {
		report_line(rep, "(4) %s (found by %s) failed: %s.", rp->path, rp->found_by,
			    rp->why);
	} else {
		report_line(rep, "(4) records %s; final state hash %s.",
			    rp->records_parsed ? "as it printed them"
					       : "= the recovered LSN (it printed no count)",
			    !run->killed.have_hash ? "not compared (cairnd logged none)"
			    : rp->hash_seen        ? "equal to the one cairnd logged after recovery"
			    : rp->hash_parsed      ? "DIFFERENT from the one cairnd logged after "
						     "recovery"
						   : "not printed");
	}

	/* (5) */
	unsigned ping_t =
		report_table(rep, "(5) PING one at a time (cairn_call), snapshots or not", true);
	unsigned snap_t = report_table(rep, "(5) snapshots (SNAPSHOT from a second client)", true);
	if (run->nsnaps) {
		struct ping_set *w = &run->without, *d = &run->during;
		ping_row(rep, ping_t, "round trip, no snapshot running", w, false,
			 (double)w->apply_wait_ns, (double)w->host_wait_ns, true);
		ping_row(rep, ping_t, "round trip, during snapshots", d, false,
			 (double)d->apply_wait_ns, (double)d->host_wait_ns, true);
		ping_row(rep, ping_t, "to the apply loop, no snapshot", w, true, NAN, NAN,
			 run->ping_to_valid);
		ping_row(rep, ping_t, "to the apply loop, during snapshots", d, true, NAN, NAN,
			 run->ping_to_valid);
		for (unsigned i = 0; i < run->nsnaps; i++) {
			const struct snap_row *s = &run->snaps[i];
			char name[32];
			snprintf(name, sizeof(name), "snapshot %u", i + 1);
			row = report_row(rep, snap_t, name);
			report_field(row, "lsn", "LSN", REPORT_COUNT, (double)s->rep.lsn);
			report_field(row, "caught_up", "records caught up", REPORT_COUNT,
				     (double)s->caught_up);
			report_field(row, "bytes", "file", REPORT_BYTES, (double)s->rep.bytes);
			report_field(row, "duration_ns", "cairnd says", REPORT_NS,
				     (double)s->rep.duration_ns);
			report_field(row, "call_ns", "SNAPSHOT call", REPORT_NS,
				     (double)s->call_ns);
			report_field(row, "store_cpu_ns", "store thread CPU", REPORT_NS,
				     (double)s->store_cpu_ns);
		}
		report_format(REPORT_NS, (double)run->during.window_ns, a, sizeof(a));
		report_format(REPORT_NS, (double)run->without.window_ns, b, sizeof(b));
		report_line(
			rep,
			"(5) %llu PINGs in %s during the snapshots, %llu in %s without (samples: "
			"a uniform choice of them; maxima and > 1 ms: all).",
			(unsigned long long)d->s.count, a, (unsigned long long)w->s.count, b);
		report_line(rep,
			    "(5) \"to the apply loop\": from the call to the PONG's ingress "
			    "stamp, taken when the apply loop picks the PING up; a stalled apply "
			    "loop shows there, a preempted host mostly not.");
		report_line(
			rep,
			"(5) \"preempted\": time the thread was runnable but off its CPU in those "
			"windows (/proc schedstat). The store thread is not pinned: %s.",
			run->cairnd_threads[0] ? run->cairnd_threads : "see placement");
	}

	/* (6) */
	unsigned disk_t = report_table(rep, "(6) the disk alone: 128 KiB write + fdatasync", true);
	if (run->disk_seconds) {
		const struct disk_second *ds[2] = {&run->disk_first, &run->disk_last};
		char name[48];
		for (unsigned k = 0; k < 2; k++) {
			if (k == 0) {
				snprintf(name, sizeof(name), "first second");
			} else {
				snprintf(name, sizeof(name), "last second (of %u)",
					 run->disk_seconds);
			}
			row = report_row(rep, disk_t, name);
			report_field(row, "syncs_per_s", "syncs/s", REPORT_PER_S,
				     (double)ds[k]->syncs);
			report_field(row, "bytes_per_s", "bytes/s", REPORT_BYTES,
				     (double)ds[k]->syncs * DISK_BLOCK);
			report_field(row, "records_per_s", "as 120-B records/s", REPORT_PER_S,
				     (double)ds[k]->syncs * DISK_BLOCK / rec);
			report_field(row, "p50_ns", "p50", REPORT_NS, (double)ds[k]->p50_ns);
			report_field(row, "p99_ns", "p99", REPORT_NS, (double)ds[k]->p99_ns);
			report_field(row, "max_ns", "max", REPORT_NS, (double)ds[k]->max_ns);
		}
		report_line(rep,
			    "(6) after everything else, into a fallocated file as the log's "
			    "segments are: what the disk itself allows one writer that waits for "
			    "each sync, in burst and sustained.");
	}

	report_param_num(rep, "others_busy_percent", "CPUs busy elsewhere, %", run->others_pct);
	if (!isnan(run->dev_written)) {
		double ours = (double)(run->daemons_written + run->probe_written);
		char all[32], daemons[32], probe[32];
		report_format(REPORT_BYTES, run->dev_written, all, sizeof(all));
		report_format(REPORT_BYTES, (double)run->daemons_written, daemons, sizeof(daemons));
		report_format(REPORT_BYTES, (double)run->probe_written, probe, sizeof(probe));
		report_param_num(rep, "device_written_bytes", "bytes written to the disk",
				 run->dev_written);
		report_param_num(rep, "own_written_bytes", "bytes the run wrote", ours);
		report_line(rep,
			    "%s got %s of writes during the run: the cairnds' %s (their "
			    "/proc/<pid>/io), (6)'s %s, and the filesystem's journal and other "
			    "processes' the rest%s.",
			    run->dev_name, all, daemons, probe,
			    run->dev_written > DISK_WARN_RATIO * ours
				    ? ": more than usual, the disk figures may suffer"
				    : "");
	}
	report_line(rep,
		    "Other processes and kernel threads (the logs' writeback among them) kept %.1f "
		    "%% of all CPUs busy during the run%s.",
		    run->others_pct,
		    run->others_pct >= OTHERS_WARN_PCT ? ": the figures suffer, run again on a "
							 "quiet machine"
						       : "");

	/* Targets. */
	const struct cfg_result *su = &run->res[CFG_SYNC_URING], *ss = &run->res[CFG_SYNC_SYNC];
	double su_med = su->ran ? median_of(su->rate, o->runs) : NAN;
	double ss_med = ss->ran ? median_of(ss->rate, o->runs) : NAN;
	t = report_target(rep, "durable MOVEs/s, sync + io_uring", REPORT_PER_S, REPORT_AT_LEAST,
			  TARGET_DURABLE_PER_S, su_med, su->ran);
	snprintf(t->how, sizeof(t->how), "median of %llu runs", (unsigned long long)o->runs);
	t = report_target(rep, "durable MOVEs/s, sync + sync backend", REPORT_PER_S,
			  REPORT_AT_LEAST, TARGET_DURABLE_PER_S, ss_med, ss->ran);
	snprintf(t->how, sizeof(t->how), "median of %llu runs", (unsigned long long)o->runs);
	t = report_target(rep, "time to ack p99, sync + io_uring", REPORT_NS, REPORT_AT_MOST,
			  TARGET_ACK_P99_NS, (double)su->load.p99, su->ran);
	snprintf(t->how, sizeof(t->how), "every MOVE of the runs, %llu in flight",
		 (unsigned long long)(o->batch * o->inflight));
	t = report_target(rep, "time to ack p99, sync + sync backend", REPORT_NS, REPORT_AT_MOST,
			  TARGET_ACK_P99_NS, (double)ss->load.p99, ss->ran);
	snprintf(t->how, sizeof(t->how), "every MOVE of the runs, %llu in flight",
		 (unsigned long long)(o->batch * o->inflight));
	const struct cfg_result *rl = &run->res[CFG_RELAXED], *nn = &run->res[CFG_NONE];
	t = report_target(rep, "relaxed MOVEs/s, % of none", REPORT_PERCENT, REPORT_AT_LEAST,
			  TARGET_RELAXED_PCT,
			  rl->ran && nn->ran ? median_of(rl->rate, o->runs) /
						       median_of(nn->rate, o->runs) * 100
					     : NAN,
			  rl->ran && nn->ran);
	snprintf(t->how, sizeof(t->how), "medians");
	const struct start *k = &run->killed;
	double secs = (double)k->ready_ns / 1e9;
	if (!o->quick) {
		double limit = TARGET_RECOVERY_S * (k->records ? (double)k->records : 1e7) /
			       TARGET_RECOVERY_N;
		char what[64];
		snprintf(what, sizeof(what), "recovery of %.1f M records",
			 (double)k->records / 1e6);
		t = report_target(rep, what, REPORT_NS, REPORT_AT_MOST, limit * 1e9, secs * 1e9,
				  k->done && k->records);
		snprintf(t->how, sizeof(t->how),
			 "spawn to ready; %.0f s per 10 M records, scaled to the log",
			 TARGET_RECOVERY_S);
	} else {
		t = report_target(rep, "recovery, records/s", REPORT_PER_S, REPORT_AT_LEAST,
				  TARGET_RECOVERY_N / TARGET_RECOVERY_S,
				  k->records ? (double)k->records / secs : NAN,
				  k->done && k->records);
		snprintf(t->how, sizeof(t->how), "%.1f M records, spawn to ready (10 M in 5 s)",
			 (double)k->records / 1e6);
	}
	t = report_target(rep, "replay, records/s", REPORT_PER_S, REPORT_AT_LEAST,
			  TARGET_REPLAY_PER_S,
			  rp->ok ? (double)rp->records * 1e9 / (double)rp->ns : NAN, rp->ok);
	snprintf(t->how, sizeof(t->how), "%s",
		 rp->ok       ? "cairn-replay, fork to exit"
		 : rp->found  ? "cairn-replay failed"
		 : rp->why[0] ? "cairn-replay not found"
			      : "not run");
	t = report_target(
		rep, "acknowledged records lost at SIGKILL", REPORT_COUNT, REPORT_AT_MOST, 0,
		k->done ? (double)(run->acked_lsn > k->durable ? run->acked_lsn - k->durable : 0)
			: NAN,
		k->done);
	snprintf(t->how, sizeof(t->how), "durable LSN before the kill vs after the restart");
	/* On two CPUs the snapshot thread must take CPU time from the apply or host thread. */
	bool third_cpu = run->m.usable_count >= 3;
	t = report_target(rep, "PING max during snapshots", REPORT_NS, REPORT_AT_MOST,
			  TARGET_SNAPSHOT_PING_NS, (double)run->during.s.max_v,
			  run->nsnaps > 0 && third_cpu);
	snprintf(t->how, sizeof(t->how), "%s",
		 third_cpu ? "round trip, one at a time"
			   : "not a target on 2 CPUs: the store thread shares one; see (5)");
}

/* ---- main ---- */

static void release(struct wal_run *run, bool failed)
{
	for (unsigned i = 0; i < NCFG; i++) {
		stop_daemon(run, &run->nodes[i], failed);
		samples_free(&run->nodes[i].load);
		game_free(&run->nodes[i].g);
	}
	free(run->lat_rt);
	run->lat_rt = NULL;
	samples_free(&run->without.s);
	samples_free(&run->during.s);
	cairn__map_free(run->map);
	run->map = NULL;
	if (run->work[0]) {
		if (run->o.keep) {
			bench_progress("wal: kept the work directory %s", run->work);
		} else {
			remove_tree(run->work);
		}
	}
}

/* The disk the runs need at most: the three logs of (1) side by side, one grown for (3). */
static uint64_t disk_needed(const struct wal_opts *o)
{
	double rec = (double)cairn__wal_rec_size(sizeof(struct cairn__wal_command));
	double per_cfg = (double)(o->hunts + o->hunts * o->players + o->round_trips * 11 / 10 +
				  o->warmup + o->runs * o->moves);
	double kept = per_cfg > (double)o->records ? per_cfg : (double)o->records;
	kept += (double)o->snapshots * (double)o->snapshot_moves;
	/* Segments are preallocated 64 MiB at a time; two of them may be ahead, per log. */
	return (uint64_t)((2 * per_cfg + kept) * rec * 1.1) + (768ull << 20);
}

int bench_wal_main(int argc, char **argv)
{
	static struct report rep;
	static struct wal_run run;
	char err[PATH_MAX + 256];
	int r;

	run.o = (struct wal_opts){.host_cpu = -1, .daemon_cpu = -1, .only = -1};
	r = parse_args(argc, argv, &run.o);
	if (r) {
		return r;
	}
	struct wal_opts *o = &run.o;
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
		bench_progress("wal: only one CPU is usable here: the host and cairnd share it; "
			       "expect figures far from the targets");
	} else if (o->host_cpu == o->daemon_cpu) {
		bench_progress("wal: warning: host and daemon share CPU %d", o->host_cpu);
	}
	report_init(&rep, CMD, "durability: the write-ahead log, recovery, replay, snapshots",
		    &run.m);
	if ((r = cairnd_find(o->cairnd, &run.found, err, sizeof(err))) < 0) {
		bench_error(CMD, "%s", err);
		return BENCH_FAIL;
	}
	if (find_replay(&run) < 0) {
		bench_error(CMD, "%s", run.rp.why);
		return BENCH_FAIL;
	}

	r = cairn__map_default(&run.map);
	run.lat_rt = malloc(o->round_trips * sizeof(uint64_t));
	for (unsigned i = 0; i < NCFG && r == 0; i++) {
		uint64_t all = o->runs * o->moves;
		r = measured(&run, i) ? samples_init(&run.nodes[i].load,
						     all < LOAD_CAP ? all : LOAD_CAP, false)
				      : 0;
	}
	if (r < 0 || !run.lat_rt) {
		bench_error(CMD, "cannot prepare the run: %s", cairn_strerror(r < 0 ? r : -ENOMEM));
		release(&run, true);
		return BENCH_FAIL;
	}
	/* Touched now, so that no page fault lands in a timed loop. */
	memset(run.lat_rt, 0xff, o->round_trips * sizeof(uint64_t));
	if (make_work(&run) < 0) {
		release(&run, true);
		return BENCH_FAIL;
	}
	others_start(&run);
	uint64_t need = disk_needed(o);
	if (run.fs_free && run.fs_free < need) {
		bench_error(CMD,
			    "%s has %.1f GiB free; this run needs about %.1f GiB (use --dir, "
			    "--records or --moves)",
			    run.work, (double)run.fs_free / (1 << 30), (double)need / (1 << 30));
		release(&run, true);
		return BENCH_FAIL;
	}
	/* The spawned daemons undo this pinning: only their apply thread is pinned, by --cpu. */
	if (o->host_cpu >= 0 && (r = machine_pin_self(o->host_cpu)) < 0) {
		bench_error(CMD, "cannot pin the host thread to CPU %d: %s", o->host_cpu,
			    strerror(-r));
		release(&run, true);
		return BENCH_FAIL;
	}
	if (o->host_cpu >= 0) {
		report_placement(&rep, "host thread (cairn-bench)", "CPU %d (pinned)", o->host_cpu);
		report_placement(&rep, "SNAPSHOT caller thread (cairn-bench)",
				 "CPU %d (pinned, beside the host thread)", o->host_cpu);
		report_placement(&rep, "cairnd apply thread", "CPU %d (--cpu %d)", o->daemon_cpu,
				 o->daemon_cpu);
	} else {
		report_placement(&rep, "host thread (cairn-bench)", "not pinned (one usable CPU)");
	}
	report_placement(&rep, "cairnd recovery, cairn-replay", "not pinned (before any thread)");

	char extra[128] = "";
	size_t len = 0;
	for (unsigned i = 0; i < o->n_daemon_args && len < sizeof(extra); i++) {
		len += (size_t)snprintf(extra + len, sizeof(extra) - len, " %s", o->daemon_args[i]);
	}
	report_param_str(&rep, "cairnd", "cairnd", "%s (found by %s), started with --cpu %d%s",
			 run.found.binary, run.found.found_by, o->daemon_cpu, extra);
	report_param_str(&rep, "configurations", "configurations",
			 "none: --durability=none; relaxed: --durability=relaxed (--flush-ms 10, "
			 "--wal-backend auto); sync: --durability=sync --wal-backend=sync or "
			 "io_uring. Each a fresh cairnd");
	report_param_str(&rep, "snapshots_off", "periodic snapshots",
			 "off in every configuration (--snapshot-records=0 --snapshot-every-s=0): "
			 "(1)-(4) measure the log alone, (5) takes snapshots on demand");
	report_param_str(
		&rep, "disk", "data directories",
		"%s/<configuration>, on %s (%.1f GiB free); each removed after its run but "
		"the sync/io_uring one",
		run.work, run.fs_type, (double)run.fs_free / (1 << 30));
	report_param_str(&rep, "world", "world",
			 "%llu hunts x %llu players on map 0 (%s, %ux%u cells), no speed limit; "
			 "random walks of up to %d mm per axis, the same in every configuration",
			 (unsigned long long)o->hunts, (unsigned long long)o->players,
			 run.map->name, run.map->width, run.map->height, STEP_MM);
	report_param_str(&rep, "throughput", "(1) throughput",
			 "%llu rounds of one run of %llu MOVEs per configuration, in turn (the "
			 "first a step further each round), after %llu untimed; batches of %llu, "
			 "at most %llu in flight (%llu commands)",
			 (unsigned long long)o->runs, (unsigned long long)o->moves,
			 (unsigned long long)o->warmup, (unsigned long long)o->batch,
			 (unsigned long long)o->inflight,
			 (unsigned long long)(o->batch * o->inflight));
	report_param_str(&rep, "ack", "(2) acknowledgement",
			 "under load: each MOVE of (1), from the cairn_submit_batch that pushed it "
			 "to the cairn_poll_batch that took its result; one at a time: %llu "
			 "cairn_call MOVEs after %llu untimed",
			 (unsigned long long)o->round_trips,
			 (unsigned long long)(o->round_trips / 10));
	report_param_str(&rep, "recovery", "(3) recovery",
			 "the sync/io_uring log grown to >= %llu records, SIGKILL, a new cairnd "
			 "on that data directory: its \"recovered LSN\" line, and spawn to ready",
			 (unsigned long long)o->records);
	if (run.rp.found) {
		report_param_str(&rep, "replay", "(4) replay",
				 "%s (found by %s) --quiet DATA, after a clean stop of that cairnd",
				 run.rp.path, run.rp.found_by);
	} else {
		report_param_str(&rep, "replay", "(4) replay", "skipped: %s", run.rp.why);
	}
	report_param_str(&rep, "snapshot", "(5) snapshots",
			 "%llu x: %llu MOVEs, then a SNAPSHOT and PINGs until it answers, then "
			 "PINGs as long again; on that data directory, restarted",
			 (unsigned long long)o->snapshots, (unsigned long long)o->snapshot_moves);
	report_param_str(&rep, "client", "client",
			 "libcairn, rings of %u slots, default spin (50 µs) then yield then futex",
			 RING_CAPACITY);
	report_param_str(&rep, "mode", "mode", "%s", o->quick ? "quick" : "full");

	/* (1) and (2): every configuration started, measured one call at a time and warmed up. */
	for (unsigned i = 0; i < NCFG; i++) {
		if (measured(&run, i) && (r = prepare_cfg(&run, (enum cfg_id)i, &rep)) < 0) {
			goto fail;
		}
	}
	/* Then the rounds of runs under load, all of them side by side. */
	if ((r = measure_rounds(&run)) < 0) {
		goto fail;
	}
	for (unsigned i = 0; i < NCFG; i++) {
		if (i == CFG_SYNC_URING && o->only < 0) {
			continue; /* its daemon goes on to (3) */
		}
		if ((r = stop_daemon(&run, &run.nodes[i], false)) < 0) {
			goto fail_stopped;
		}
		if (!o->keep) {
			remove_tree(run.data[i]);
		}
	}
	if (o->only >= 0) {
		goto done;
	}

	/* (3) */
	struct node *uring = &run.nodes[CFG_SYNC_URING];
	if ((r = grow_and_kill(&run)) < 0) {
		goto fail;
	}
	if ((r = recover_start(&run, &run.killed)) < 0) {
		goto fail;
	}
	bench_progress("wal: (3) recovered LSN %llu: cairnd says %.3f s, spawn to ready %.3f s",
		       (unsigned long long)run.killed.lsn, run.killed.secs,
		       run.killed.ready_ns / 1e9);
	if ((r = stop_daemon(&run, uring, false)) < 0) {
		goto fail_stopped;
	}

	/* (4) */
	run_replay(&run);

	/* (5) */
	if ((r = recover_start(&run, &run.clean)) < 0) {
		goto fail;
	}
	{
		pid_t store = find_thread(uring->d.pid, "cairn-store");
		char cpus[64], name[32];
		if (store && machine_thread_cpus(uring->d.pid, store, cpus, sizeof(cpus), name,
						 sizeof(name)) == 0) {
			snprintf(run.cairnd_threads, sizeof(run.cairnd_threads),
				 "cairn-store may run on CPUs %s, cairn-apply only on %d", cpus,
				 o->daemon_cpu);
		}
	}
	if ((r = snapshots(&run)) < 0) {
		goto fail;
	}
	if ((r = stop_daemon(&run, uring, false)) < 0) {
		goto fail_stopped;
	}

	/* (6) */
	if (o->disk_seconds && (r = disk_probe(&run, (unsigned)o->disk_seconds)) < 0) {
		goto fail_stopped;
	}

done:
	others_end(&run);
	if (run.others_pct >= OTHERS_WARN_PCT) {
		bench_progress("wal: warning: other processes kept %.0f %% of the CPUs busy during "
			       "the run: the figures suffer",
			       run.others_pct);
	}
	report_all(&run, &rep);
	report_print(&rep, stdout, o->json);
	/* A replay that fails, or ends in another state than recovery did, fails the run. */
	bool replay_failed =
		run.rp.found &&
		(!run.rp.ok || (run.killed.have_hash && run.rp.hash_parsed && !run.rp.hash_seen));
	release(&run, false);
	if (replay_failed) {
		return BENCH_FAIL;
	}
	if (report_missed(&rep, o->check) && o->check) {
		return BENCH_FAIL;
	}
	return BENCH_OK;
fail:
	for (unsigned i = 0; i < NCFG; i++) {
		if (run.nodes[i].spawned) {
			cairnd_show_log(&run.nodes[i].d);
		}
	}
fail_stopped:
	release(&run, true);
	return BENCH_FAIL;
}
