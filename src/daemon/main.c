/*
 * cairnd: the cairn daemon. Parses its flags, places itself, and runs the control and
 * apply threads until SIGTERM or SIGINT, which drain every pending command first.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <mimalloc.h>
#include <numa.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "store/dedup.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairnd [OPTION]...\n"
		"The cairn daemon: owns the game state and answers hosts through shared memory.\n"
		"\n"
		"  --socket PATH          listen here (default: $CAIRN_SOCKET, else\n"
		"                         $XDG_RUNTIME_DIR/cairn/cairnd.sock, else\n"
		"                         /tmp/cairn-UID/cairnd.sock); the socket gets mode 0660\n"
		"                         and a missing directory is created with mode 0750; a\n"
		"                         directory of another user, or that others may write\n"
		"                         without the sticky bit, is refused\n"
		"  --cpu N                pin the apply thread to CPU N (default: not pinned)\n"
		"  --max-clients N        lanes available to clients at once (default 64)\n"
		"  --max-lanes-per-process N\n"
		"                         lanes one client process may hold at once (default\n"
		"                         16; not applied to peers whose pid we cannot see)\n"
		"  --max-lane-memory MIB  shared memory all lanes may hold together (default\n"
		"                         1024); a lane takes its rings and arena: ~1.1 MiB with\n"
		"                         the defaults, ~192 MiB at the most a hello may ask\n"
		"  --batch N              commands taken from one lane per turn, 1 to 256 (default "
		"32)\n"
		"  --spin-us N            when idle, busy-poll N us before yielding (default 200)\n"
		"  --yield-us N           then yield N us before sleeping on doorbells (default "
		"200)\n"
		"  --allow-uid UID        let this uid attach (repeatable; default: our own uid)\n"
		"  --allow-gid GID        let members of this gid attach (repeatable)\n"
		"  --drain-timeout-ms N   on SIGTERM, wait at most N ms for clients to take their\n"
		"                         results (default 5000)\n"
		"  -v, --verbose          log debug messages\n"
		"  -h, --help             show this help and exit\n"
		"      --version          show the version and protocol version and exit\n"
		"\n"
		"The game engine:\n"
		"  --map FILE             load a Moving AI .map file as the next map id (map 0 is\n"
		"                         the embedded default; repeatable, up to 64)\n"
		"  --max-hunts N          hunts alive at once (default 16384)\n"
		"  --max-entities N       players and clues alive at once, all hunts (default\n"
		"                         1048576)\n"
		"  --max-players-per-hunt N\n"
		"                         players in one hunt at once (default 65536)\n"
		"  --shards N             seqlock shards per hunt (default 64)\n"
		"  --event-capacity N     slots of the event broadcast ring, a power of two\n"
		"                         (default 65536)\n"
		"\n");
	/* Two strings: one would pass the 4095 bytes C99 compilers must support. */
	fprintf(f,
		"Durability:\n"
		"  --data-dir DIR         the write-ahead log, snapshots and maps live here\n"
		"                         (default: $CAIRN_DATA_DIR, else $XDG_STATE_HOME/cairn,\n"
		"                         else ~/.local/state/cairn); created if missing\n"
		"  --durability MODE      sync (default): a result is published only once its\n"
		"                         command is on disk; relaxed: results are published at\n"
		"                         once and the log is written within --flush-ms, so a\n"
		"                         crash loses at most that window (plus one fdatasync);\n"
		"                         none: no log at all, a restart starts empty\n"
		"  --flush-ms N           relaxed mode: longest wait before a write (default 10)\n"
		"  --wal-backend B        auto (default: io_uring when it works here, else sync),\n"
		"                         io_uring, or sync (a thread doing pwrite + fdatasync)\n"
		"  --wal-segment-mb N     size of each preallocated log segment (default 64)\n"
		"  --snapshot-records N   snapshot after N logged commands (default 1000000; 0:\n"
		"                         never by count)\n"
		"  --snapshot-every-s N   ... or N seconds after the last one if anything changed\n"
		"                         (default 300; 0: never by time)\n"
		"  --keep-snapshots N     snapshots kept (default 2); rollback reaches back to "
		"the\n"
		"                         oldest one kept\n"
		"  --recover MODE         strict (default): damage in the middle of the log stops\n"
		"                         the start and leaves the files untouched;\n"
		"                         truncate-at-damage: cut the log there and go on (what\n"
		"                         followed is lost)\n"
		"  --dedup-window N       results of changes kept per client session for\n"
		"                         resubmission after a restart, a power of two from 2\n"
		"                         (default 4096); result rings are cut down to it\n"
		"  --max-sessions N       client sessions kept in that table, those of clients\n"
		"                         gone included (default 256); a full session takes\n"
		"                         about 88 bytes per --dedup-window entry, twice\n"
		"\n"
		"Operations:\n"
		"  --metrics on|off       keep per-lane, log and daemon metrics in the state\n"
		"                         segment for ringtop and Prometheus (default on)\n"
		"  --metrics-listen HOST:PORT\n"
		"                         serve them at http://HOST:PORT/metrics in the\n"
		"                         Prometheus text format (HOST: an IPv4 address or\n"
		"                         localhost; default: no endpoint)\n"
		"\n"
		"The solver (NEXT_MOVE, DISTANCE, PATH, PATH_TO_CLUE):\n"
		"  --solver-threads N     worker threads for path searches, kept off --cpu\n"
		"                         (default: CPUs - 1, at least 1; 0: the apply thread\n"
		"                         answers every path command itself)\n"
		"  --table-max-cells N    build a first-move table, in the background at start,\n"
		"                         for each map of at most N passable cells (default\n"
		"                         16384, about 10 MiB and a few CPU-seconds for 8k\n"
		"                         cells; 0: no tables); until it is built, queries are\n"
		"                         answered by jump point search\n"
		"\n"
		"The state segment reserves address space for every limit above (each hunt slot\n"
		"gets room for the grid of the largest map), but memory is only used as hunts,\n"
		"players and clues are created.\n"
		"\n"
		"SIGTERM or SIGINT stops accepting clients, answers every command already pushed,\n"
		"and exits 0.\n");
}

static int parse_num(const char *flag, const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "cairnd: %s takes a whole number from %lld to %lld, not '%s'\n",
			flag, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

enum {
	OPT_SOCKET = 256,
	OPT_CPU,
	OPT_MAX_CLIENTS,
	OPT_MAX_LANES_PER_PROCESS,
	OPT_MAX_LANE_MEMORY,
	OPT_BATCH,
	OPT_SPIN,
	OPT_YIELD,
	OPT_UID,
	OPT_GID,
	OPT_DRAIN,
	OPT_VERSION,
	OPT_MAP,
	OPT_MAX_HUNTS,
	OPT_MAX_ENTITIES,
	OPT_MAX_PLAYERS_PER_HUNT,
	OPT_SHARDS,
	OPT_EVENTS,
	OPT_DATA_DIR,
	OPT_DURABILITY,
	OPT_FLUSH_MS,
	OPT_WAL_BACKEND,
	OPT_WAL_SEGMENT,
	OPT_SNAP_RECORDS,
	OPT_SNAP_EVERY,
	OPT_KEEP_SNAPS,
	OPT_RECOVER,
	OPT_DEDUP_WINDOW,
	OPT_MAX_SESSIONS,
	OPT_SOLVER_THREADS,
	OPT_TABLE_MAX_CELLS,
	OPT_METRICS,
	OPT_METRICS_LISTEN,
};

/* Picks one of names[] (NULL-terminated) by string; returns its index or -1. */
static int parse_word(const char *flag, const char *s, const char *const *names)
{
	for (int i = 0; names[i]; i++) {
		if (strcmp(s, names[i]) == 0) {
			return i;
		}
	}
	fprintf(stderr, "cairnd: %s takes one of:", flag);
	for (int i = 0; names[i]; i++) {
		fprintf(stderr, " %s", names[i]);
	}
	fprintf(stderr, "; not '%s'\n", s);
	return -1;
}

/* $CAIRN_DATA_DIR, else $XDG_STATE_HOME/cairn, else ~/.local/state/cairn. */
static int default_data_dir(char *buf, size_t len)
{
	const char *e = getenv("CAIRN_DATA_DIR");
	int n;
	if (e && *e) {
		n = snprintf(buf, len, "%s", e);
	} else if ((e = getenv("XDG_STATE_HOME")) && *e == '/') {
		n = snprintf(buf, len, "%s/cairn", e);
	} else if ((e = getenv("HOME")) && *e == '/') {
		n = snprintf(buf, len, "%s/.local/state/cairn", e);
	} else {
		n = snprintf(buf, len, "/tmp/cairn-%u/data", (unsigned)getuid());
	}
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

static int parse_args(int argc, char **argv, struct cairnd_config *cfg, char *sockbuf,
		      size_t socklen, char *databuf, size_t datalen)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, OPT_SOCKET},
		{"cpu", required_argument, NULL, OPT_CPU},
		{"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
		{"max-lanes-per-process", required_argument, NULL, OPT_MAX_LANES_PER_PROCESS},
		{"max-lane-memory", required_argument, NULL, OPT_MAX_LANE_MEMORY},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"spin-us", required_argument, NULL, OPT_SPIN},
		{"yield-us", required_argument, NULL, OPT_YIELD},
		{"allow-uid", required_argument, NULL, OPT_UID},
		{"allow-gid", required_argument, NULL, OPT_GID},
		{"drain-timeout-ms", required_argument, NULL, OPT_DRAIN},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{"map", required_argument, NULL, OPT_MAP},
		{"max-hunts", required_argument, NULL, OPT_MAX_HUNTS},
		{"max-entities", required_argument, NULL, OPT_MAX_ENTITIES},
		{"max-players-per-hunt", required_argument, NULL, OPT_MAX_PLAYERS_PER_HUNT},
		{"shards", required_argument, NULL, OPT_SHARDS},
		{"event-capacity", required_argument, NULL, OPT_EVENTS},
		{"data-dir", required_argument, NULL, OPT_DATA_DIR},
		{"durability", required_argument, NULL, OPT_DURABILITY},
		{"flush-ms", required_argument, NULL, OPT_FLUSH_MS},
		{"wal-backend", required_argument, NULL, OPT_WAL_BACKEND},
		{"wal-segment-mb", required_argument, NULL, OPT_WAL_SEGMENT},
		{"snapshot-records", required_argument, NULL, OPT_SNAP_RECORDS},
		{"snapshot-every-s", required_argument, NULL, OPT_SNAP_EVERY},
		{"keep-snapshots", required_argument, NULL, OPT_KEEP_SNAPS},
		{"recover", required_argument, NULL, OPT_RECOVER},
		{"dedup-window", required_argument, NULL, OPT_DEDUP_WINDOW},
		{"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
		{"solver-threads", required_argument, NULL, OPT_SOLVER_THREADS},
		{"table-max-cells", required_argument, NULL, OPT_TABLE_MAX_CELLS},
		{"metrics", required_argument, NULL, OPT_METRICS},
		{"metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN},
		{0},
	};
	long long v;
	int o;
	bool own_uid = true;
	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (o) {
		case OPT_SOCKET:
			cfg->socket_path = optarg;
			break;
		case OPT_CPU:
			if (parse_num("--cpu", optarg, 0, CPU_SETSIZE - 1, &v) < 0) {
				return -1;
			}
			cfg->cpu = (int)v;
			break;
		case OPT_MAX_CLIENTS:
			if (parse_num("--max-clients", optarg, 1, 4096, &v) < 0) {
				return -1;
			}
			cfg->max_clients = (uint32_t)v;
			break;
		case OPT_MAX_LANES_PER_PROCESS:
			if (parse_num("--max-lanes-per-process", optarg, 1, 4096, &v) < 0) {
				return -1;
			}
			cfg->max_lanes_per_process = (uint32_t)v;
			break;
		case OPT_MAX_LANE_MEMORY:
			if (parse_num("--max-lane-memory", optarg, 1, 1 << 20, &v) < 0) {
				return -1;
			}
			cfg->max_lane_bytes = (uint64_t)v << 20;
			break;
		case OPT_BATCH:
			if (parse_num("--batch", optarg, 1, CAIRND_MAX_BATCH, &v) < 0) {
				return -1;
			}
			cfg->batch = (uint32_t)v;
			break;
		case OPT_SPIN:
			if (parse_num("--spin-us", optarg, 0, 10000000, &v) < 0) {
				return -1;
			}
			cfg->spin_ns = (uint64_t)v * 1000;
			break;
		case OPT_YIELD:
			if (parse_num("--yield-us", optarg, 0, 10000000, &v) < 0) {
				return -1;
			}
			cfg->yield_ns = (uint64_t)v * 1000;
			break;
		case OPT_UID:
		case OPT_GID:
			if (parse_num(o == OPT_UID ? "--allow-uid" : "--allow-gid", optarg, 0,
				      UINT_MAX - 1, &v) < 0) {
				return -1;
			}
			if ((o == OPT_UID ? cfg->n_allow_uid : cfg->n_allow_gid) >=
			    CAIRND_MAX_ALLOW) {
				fprintf(stderr,
					"cairnd: at most %d --allow-uid and %d --allow-gid\n",
					CAIRND_MAX_ALLOW, CAIRND_MAX_ALLOW);
				return -1;
			}
			if (o == OPT_UID) {
				cfg->allow_uid[cfg->n_allow_uid++] = (uid_t)v;
				own_uid = false;
			} else {
				cfg->allow_gid[cfg->n_allow_gid++] = (gid_t)v;
			}
			break;
		case OPT_DRAIN:
			if (parse_num("--drain-timeout-ms", optarg, 0, 3600000, &v) < 0) {
				return -1;
			}
			cfg->drain_timeout_ns = (uint64_t)v * 1000000;
			break;
		case OPT_MAP:
			if (cfg->n_map_paths >= CAIRND_MAX_MAPS) {
				fprintf(stderr, "cairnd: at most %d --map\n", CAIRND_MAX_MAPS);
				return -1;
			}
			cfg->map_paths[cfg->n_map_paths++] = optarg;
			break;
		case OPT_MAX_HUNTS:
		case OPT_MAX_ENTITIES:
			if (parse_num(o == OPT_MAX_HUNTS ? "--max-hunts" : "--max-entities", optarg,
				      1, (1 << CAIRN_ID_SLOT_BITS) - 1, &v) < 0) {
				return -1;
			}
			*(o == OPT_MAX_HUNTS ? &cfg->max_hunts : &cfg->max_entities) = (uint32_t)v;
			break;
		case OPT_MAX_PLAYERS_PER_HUNT:
			if (parse_num("--max-players-per-hunt", optarg, 1,
				      (1 << CAIRN_ID_SLOT_BITS) - 1, &v) < 0) {
				return -1;
			}
			cfg->max_players_per_hunt = (uint32_t)v;
			break;
		case OPT_SHARDS:
			if (parse_num("--shards", optarg, 1, 4096, &v) < 0) {
				return -1;
			}
			cfg->shards = (uint32_t)v;
			break;
		case OPT_EVENTS:
			if (parse_num("--event-capacity", optarg, 2, 1 << 24, &v) < 0) {
				return -1;
			}
			if (v & (v - 1)) {
				fprintf(stderr,
					"cairnd: --event-capacity must be a power of two, not "
					"%lld\n",
					v);
				return -1;
			}
			cfg->event_capacity = (uint32_t)v;
			break;
		case OPT_DATA_DIR:
			cfg->data_dir = optarg;
			break;
		case OPT_DURABILITY: {
			static const char *const modes[] = {"none", "sync", "relaxed", NULL};
			int m = parse_word("--durability", optarg, modes);
			if (m < 0) {
				return -1;
			}
			/* The names are in the order of the protocol's durability values. */
			cfg->durability = (uint32_t)m;
			break;
		}
		case OPT_FLUSH_MS:
			if (parse_num("--flush-ms", optarg, 1, 60000, &v) < 0) {
				return -1;
			}
			cfg->flush_ns = (uint64_t)v * 1000000;
			break;
		case OPT_WAL_BACKEND: {
			static const char *const backends[] = {"auto", "io_uring", "sync", NULL};
			int b = parse_word("--wal-backend", optarg, backends);
			if (b < 0) {
				return -1;
			}
			cfg->wal_backend = (enum cairn__wal_backend)b;
			break;
		}
		case OPT_WAL_SEGMENT:
			if (parse_num("--wal-segment-mb", optarg, 1, 65536, &v) < 0) {
				return -1;
			}
			cfg->wal_segment_bytes = (uint64_t)v << 20;
			break;
		case OPT_SNAP_RECORDS:
			if (parse_num("--snapshot-records", optarg, 0, LLONG_MAX, &v) < 0) {
				return -1;
			}
			cfg->snapshot_records = (uint64_t)v;
			break;
		case OPT_SNAP_EVERY:
			if (parse_num("--snapshot-every-s", optarg, 0, 86400 * 365, &v) < 0) {
				return -1;
			}
			cfg->snapshot_interval_ns = (uint64_t)v * 1000000000u;
			break;
		case OPT_KEEP_SNAPS:
			if (parse_num("--keep-snapshots", optarg, 1, 64, &v) < 0) {
				return -1;
			}
			cfg->keep_snapshots = (unsigned)v;
			break;
		case OPT_RECOVER: {
			static const char *const modes[] = {"strict", "truncate-at-damage", NULL};
			int m = parse_word("--recover", optarg, modes);
			if (m < 0) {
				return -1;
			}
			cfg->truncate_at_damage = m == 1;
			break;
		}
		case OPT_SOLVER_THREADS:
			if (parse_num("--solver-threads", optarg, 0, 64, &v) < 0) {
				return -1;
			}
			cfg->solver_threads = (int)v;
			break;
		case OPT_METRICS: {
			static const char *const modes[] = {"off", "on", NULL};
			int m = parse_word("--metrics", optarg, modes);
			if (m < 0) {
				return -1;
			}
			cfg->metrics = m == 1;
			break;
		}
		case OPT_METRICS_LISTEN: {
			char why[256];
			if (cairnd_metrics_parse_listen(optarg, &cfg->metrics_addr, why,
							sizeof(why)) < 0) {
				fprintf(stderr, "cairnd: %s\n", why);
				return -1;
			}
			cfg->metrics_listen = optarg;
			break;
		}
		case OPT_TABLE_MAX_CELLS:
			if (parse_num("--table-max-cells", optarg, 0, 1 << 20, &v) < 0) {
				return -1;
			}
			cfg->table_max_cells = (uint32_t)v;
			break;
		case OPT_DEDUP_WINDOW:
		case OPT_MAX_SESSIONS:
			/*
			 * Result rings are cut down to the window, and no ring is smaller than
			 * RING_MIN_CAPACITY: a smaller window would refuse every client.
			 */
			if (parse_num(o == OPT_DEDUP_WINDOW ? "--dedup-window" : "--max-sessions",
				      optarg, o == OPT_DEDUP_WINDOW ? CAIRN_RING_MIN_CAPACITY : 1,
				      1 << 20, &v) < 0) {
				return -1;
			}
			if (o == OPT_DEDUP_WINDOW && (v & (v - 1))) {
				fprintf(stderr,
					"cairnd: --dedup-window must be a power of two, not "
					"%lld\n",
					v);
				return -1;
			}
			*(o == OPT_DEDUP_WINDOW ? &cfg->dedup_window : &cfg->max_sessions) =
				(uint32_t)v;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("cairnd %s (protocol %d.%d)\n", CAIRN_VERSION, CAIRN_PROTO_MAJOR,
			       CAIRN_PROTO_MINOR);
			exit(0);
		default:
			fprintf(stderr, "Try 'cairnd --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cairnd: unexpected argument '%s'\nTry 'cairnd --help'.\n",
			argv[optind]);
		return -1;
	}
	if (own_uid) {
		cfg->allow_uid[cfg->n_allow_uid++] = getuid();
	}
	if (cfg->durability == CAIRN_DURABILITY_NONE) {
		cfg->data_dir = NULL;
	} else if (!cfg->data_dir) {
		if (default_data_dir(databuf, datalen) < 0) {
			fprintf(stderr, "cairnd: the default data directory path is too long; use "
					"--data-dir\n");
			return -1;
		}
		cfg->data_dir = databuf;
	}
	if (!cfg->socket_path) {
		if (cairn_default_socket_path(sockbuf, socklen) < 0) {
			fprintf(stderr,
				"cairnd: the default socket path is too long; use --socket\n");
			return -1;
		}
		cfg->socket_path = sockbuf;
	}
	return 0;
}

int cairnd_load_maps(struct daemon *d)
{
	struct cairn__map *m;
	int r = cairn__map_default(&m);
	if (r < 0) {
		cairn__error("cannot build the embedded map: %s", cairn_strerror(r));
		return r;
	}
	d->maps[d->n_maps++] = m;
	for (unsigned i = 0; i < d->cfg.n_map_paths; i++) {
		struct cairn__map_error err;
		r = cairn__map_load(d->cfg.map_paths[i], &m, &err);
		if (r < 0) {
			cairn__error("--map %s: %s", d->cfg.map_paths[i], err.message);
			return r;
		}
		d->maps[d->n_maps++] = m;
	}
	for (uint32_t i = 0; i < d->n_maps; i++) {
		m = d->maps[i];
		cairn__info("map %u: %s, %ux%u cells, %u passable", i, m->name, m->width, m->height,
			    m->passable);
	}
	return 0;
}

/* Checks --cpu against the CPUs we may run on and finds its NUMA node. */
static int place(struct daemon *d)
{
	d->numa_node = -1;
	if (d->cfg.cpu < 0) {
		cairn__info("apply thread not pinned (use --cpu N for stable latency)");
		return 0;
	}
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && !CPU_ISSET(d->cfg.cpu, &set)) {
		cairn__error("--cpu %d: this process may not run on CPU %d (it may use %d CPUs; "
			     "see 'nproc' and taskset)",
			     d->cfg.cpu, d->cfg.cpu, CPU_COUNT(&set));
		return -EINVAL;
	}
	if (numa_available() >= 0) {
		d->numa_node = numa_node_of_cpu(d->cfg.cpu);
		cairn__info("apply thread pinned to CPU %d, NUMA node %d of %d%s", d->cfg.cpu,
			    d->numa_node, numa_max_node() + 1,
			    numa_max_node() == 0
				    ? " (one node: all memory is local already)"
				    : "; state segment and engine memory placed there");
		/* The engine's private allocations (mimalloc's arenas) follow this policy. */
		if (d->numa_node >= 0) {
			numa_set_preferred(d->numa_node);
		}
	} else {
		cairn__info("apply thread pinned to CPU %d; NUMA is not available here, memory "
			    "stays where the kernel puts it",
			    d->cfg.cpu);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	char sockbuf[108];
	static char databuf[4096];
	d.cfg = (struct cairnd_config){
		.cpu = -1,
		.max_clients = 64,
		.max_lanes_per_process = 16,
		.max_lane_bytes = 1024ull << 20,
		.batch = 32,
		.spin_ns = 200 * 1000,
		.yield_ns = 200 * 1000,
		.drain_timeout_ns = 5ull * 1000 * 1000 * 1000,
		.max_hunts = 16384,
		.max_entities = 1u << 20,
		.max_players_per_hunt = 65536,
		.shards = CAIRN_DEFAULT_SHARDS,
		.event_capacity = 65536,
		.durability = CAIRN_DURABILITY_SYNC,
		.flush_ns = 10 * 1000 * 1000,
		.wal_backend = CAIRN__WAL_AUTO,
		.wal_segment_bytes = 64u << 20,
		.dedup_window = 4096,
		.max_sessions = CAIRN__DEDUP_DEFAULT_SESSIONS,
		.snapshot_records = 1000000,
		.snapshot_interval_ns = 300ull * 1000000000u,
		.keep_snapshots = 2,
		.solver_threads = -1,
		.table_max_cells = 16384,
		.metrics = true,
	};
	if (parse_args(argc, argv, &d.cfg, sockbuf, sizeof(sockbuf), databuf, sizeof(databuf)) <
	    0) {
		return 2;
	}
	cairn__log_init("cairnd", d.cfg.verbose ? CAIRN__LOG_DEBUG : CAIRN__LOG_INFO);
	if (place(&d) < 0) {
		return 1;
	}
	/*
	 * cairnd links mimalloc ahead of the C library, so that every allocation of the
	 * daemon and its engine goes to mimalloc; say which one is in use.
	 */
	cairn__info("allocator: mimalloc %d.%d.%d", mi_version() / 100, mi_version() / 10 % 10,
		    mi_version() % 10);
	if (cairnd_load_maps(&d) < 0) {
		return 1;
	}
	cairnd_handlers_init();
	int r = cairnd_run(&d);
	for (uint32_t i = 0; i < d.n_maps; i++) {
		cairn__map_free(d.maps[i]);
	}
	if (r < 0) {
		cairn__error("exiting: %s", cairn_strerror(r));
		return 1;
	}
	cairn__info("stopped cleanly");
	return 0;
}
