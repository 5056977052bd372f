/*
 * cairn-replay: options, --help, exit status, and which mode runs.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "replay.h"
#include "store/dedup.h"

volatile sig_atomic_t replay_stop;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-replay [OPTION]... DIR\n"
		"Replays the write-ahead log of DIR into a fresh engine, as cairnd's recovery\n"
		"does, and prints the state hash: the same log gives the same hashes on any\n"
		"machine, so a production incident can be reproduced on a laptop.\n"
		"\n"
		"DIR is a cairnd data directory (DIR/wal, DIR/snapshots, DIR/maps), or a bare log\n"
		"directory of wal-*.seg files, such as an excerpt copied out of one: its\n"
		"snapshots are then looked for in DIR/snapshots and DIR/../snapshots, and its "
		"maps\n"
		"in DIR/../maps and DIR/maps.\n"
		"\n"
		"Replay:\n"
		"  --until LSN            stop after this LSN (default: the end of the log)\n"
		"  --pace fast|original   fast (default): as fast as possible; original: sleep to\n"
		"                         keep the spacing of the records' ingress stamps\n"
		"  --speed X              with --pace original: X times faster (default 1)\n"
		"  --hash-every N         print the state hash at every LSN that is a multiple of\n"
		"                         N (it is always printed at the end)\n"
		"  --from-snapshot        start from the newest snapshot at or below --until that\n"
		"                         verifies and links into the log (the default when the\n"
		"                         log does not start at LSN 1)\n"
		"  --no-snapshot          start from an empty state (the log must start at LSN 1)\n"
		"  --snapshots DIR        look for snapshots in DIR\n"
		"  --map FILE             load a Moving AI .map file as the next map id; map 0 is\n"
		"                         the embedded default, as with cairnd (repeatable); "
		"given\n"
		"                         once, it replaces the maps recorded next to the log\n"
		"\n"
		"Other modes:\n"
		"  --dump                 list the records, one line each (LSN, kind, session,\n"
		"                         request id, ingress stamp, message type and payload\n"
		"                         fields by name); no replay; with --until, up to it\n"
		"  --verify               check every checksum and the chain of the log, and the\n"
		"                         snapshots' checksums and links into it; print the first\n"
		"                         damage (file, offset, LSN, reason) or what verified\n"
		"\n"
		"Output:\n"
		"  hash lines on stdout:  lsn=N hash=0x... records=N (records: applied by this "
		"run)\n"
		"  --json                 JSON objects instead, one per line; the last one is the\n"
		"                         summary (\"summary\":true)\n"
		"  --progress             a progress bar on stderr even when it is not a terminal\n"
		"                         (it is shown on a terminal anyway)\n"
		"  -q, --quiet            no progress bar and no notes, only errors\n"
		"  -h, --help             show this help and exit\n"
		"      --version          show the version and exit\n"
		"\n"
		"The engine, as cairnd was run (a snapshot must fit):\n"
		"  --max-hunts N          default 16384\n"
		"  --max-entities N       default 1048576\n"
		"  --shards N             default 64 (does not change any hash)\n"
		"  --dedup-window N       default 4096\n"
		"  --max-sessions N       default 256\n"
		"\n"
		"Exit status: 0 done; 1 damage in the log or a snapshot, a record this engine\n"
		"refuses (the log and this build or these maps disagree), no way to start, or a\n"
		"log that ends before --until; 2 bad usage; 3 DIR, a snapshot or a map cannot be\n"
		"read, or out of memory; 130 interrupted (the hash so far is printed).\n");
}

static int parse_u64(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || end == s || s[0] == '-' || v < lo || v > hi) {
		say_error("%s takes a whole number from %llu to %llu, not '%s'", flag,
			  (unsigned long long)lo, (unsigned long long)hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

enum {
	OPT_UNTIL = 256,
	OPT_PACE,
	OPT_SPEED,
	OPT_HASH_EVERY,
	OPT_FROM_SNAPSHOT,
	OPT_NO_SNAPSHOT,
	OPT_SNAPSHOTS,
	OPT_MAP,
	OPT_DUMP,
	OPT_VERIFY,
	OPT_JSON,
	OPT_PROGRESS,
	OPT_VERSION,
	OPT_MAX_HUNTS,
	OPT_MAX_ENTITIES,
	OPT_SHARDS,
	OPT_DEDUP_WINDOW,
	OPT_MAX_SESSIONS,
};

/* Returns EXIT_OK, EXIT_USAGE, or -1 when --help or --version was answered. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{"until", required_argument, NULL, OPT_UNTIL},
		{"pace", required_argument, NULL, OPT_PACE},
		{"speed", required_argument, NULL, OPT_SPEED},
		{"hash-every", required_argument, NULL, OPT_HASH_EVERY},
		{"from-snapshot", no_argument, NULL, OPT_FROM_SNAPSHOT},
		{"no-snapshot", no_argument, NULL, OPT_NO_SNAPSHOT},
		{"snapshots", required_argument, NULL, OPT_SNAPSHOTS},
		{"map", required_argument, NULL, OPT_MAP},
		{"dump", no_argument, NULL, OPT_DUMP},
		{"verify", no_argument, NULL, OPT_VERIFY},
		{"json", no_argument, NULL, OPT_JSON},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{"max-hunts", required_argument, NULL, OPT_MAX_HUNTS},
		{"max-entities", required_argument, NULL, OPT_MAX_ENTITIES},
		{"shards", required_argument, NULL, OPT_SHARDS},
		{"dedup-window", required_argument, NULL, OPT_DEDUP_WINDOW},
		{"max-sessions", required_argument, NULL, OPT_MAX_SESSIONS},
		{0},
	};
	bool speed_given = false, replay_only = false;
	uint64_t v;
	int c;
	/* The leading ':' has a missing value reported as such, not as an unknown option. */
	while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_UNTIL:
			if (parse_u64("--until", optarg, 1, UINT64_MAX, &o->until) < 0) {
				return EXIT_USAGE;
			}
			break;
		case OPT_PACE:
			if (strcmp(optarg, "fast") == 0) {
				o->pace_original = false;
			} else if (strcmp(optarg, "original") == 0) {
				o->pace_original = true;
			} else {
				say_error("--pace takes fast or original, not '%s'", optarg);
				return EXIT_USAGE;
			}
			replay_only = true;
			break;
		case OPT_SPEED: {
			char *end;
			errno = 0;
			double x = strtod(optarg, &end);
			if (errno || *end || end == optarg || !isfinite(x) || x <= 0 || x > 1e9) {
				say_error("--speed takes a positive number, not '%s'", optarg);
				return EXIT_USAGE;
			}
			o->speed = x;
			speed_given = true;
			replay_only = true;
			break;
		}
		case OPT_HASH_EVERY:
			if (parse_u64("--hash-every", optarg, 1, UINT64_MAX, &o->hash_every) < 0) {
				return EXIT_USAGE;
			}
			replay_only = true;
			break;
		case OPT_FROM_SNAPSHOT:
		case OPT_NO_SNAPSHOT:
			o->snapshot = c == OPT_FROM_SNAPSHOT ? SNAP_ALWAYS : SNAP_NEVER;
			replay_only = true;
			break;
		case OPT_SNAPSHOTS:
			o->snap_dir = optarg;
			break;
		case OPT_MAP:
			if (o->n_map_files >= MAX_MAP_FILES) {
				say_error("at most %d --map", MAX_MAP_FILES);
				return EXIT_USAGE;
			}
			o->map_files[o->n_map_files++] = optarg;
			replay_only = true;
			break;
		case OPT_DUMP:
			o->dump = true;
			break;
		case OPT_VERIFY:
			o->verify = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_PROGRESS:
			o->progress = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case OPT_VERSION:
			printf("cairn-replay %s (protocol %d.%d, log format %d)\n", CAIRN_VERSION,
			       CAIRN_PROTO_MAJOR, CAIRN_PROTO_MINOR, CAIRN__WAL_VERSION);
			return -1;
		case OPT_MAX_HUNTS:
		case OPT_MAX_ENTITIES:
			if (parse_u64(c == OPT_MAX_HUNTS ? "--max-hunts" : "--max-entities", optarg,
				      1, (1u << CAIRN_ID_SLOT_BITS) - 1, &v) < 0) {
				return EXIT_USAGE;
			}
			*(c == OPT_MAX_HUNTS ? &o->max_hunts : &o->max_entities) = (uint32_t)v;
			replay_only = true;
			break;
		case OPT_SHARDS:
			if (parse_u64("--shards", optarg, 1, 4096, &v) < 0) {
				return EXIT_USAGE;
			}
			o->shards = (uint32_t)v;
			replay_only = true;
			break;
		case OPT_DEDUP_WINDOW:
		case OPT_MAX_SESSIONS:
			if (parse_u64(c == OPT_DEDUP_WINDOW ? "--dedup-window" : "--max-sessions",
				      optarg, 1, 1u << 20, &v) < 0) {
				return EXIT_USAGE;
			}
			if (c == OPT_DEDUP_WINDOW && (v & (v - 1))) {
				say_error("--dedup-window must be a power of two, not %s", optarg);
				return EXIT_USAGE;
			}
			*(c == OPT_DEDUP_WINDOW ? &o->dedup_window : &o->max_sessions) =
				(uint32_t)v;
			replay_only = true;
			break;
		case ':':
			say_error("%s needs a value", argv[optind - 1]);
			fprintf(stderr, "Try '%s --help'.\n", program);
			return EXIT_USAGE;
		default:
			if (optopt) {
				say_error("unknown option '-%c'", optopt);
			} else {
				say_error("unknown option '%s'", argv[optind - 1]);
			}
			fprintf(stderr, "Try '%s --help'.\n", program);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		say_error("no DIR given");
		fprintf(stderr, "Try '%s --help'.\n", program);
		return EXIT_USAGE;
	}
	if (optind + 1 < argc) {
		say_error("one DIR only: unexpected '%s'", argv[optind + 1]);
		return EXIT_USAGE;
	}
	o->dir = argv[optind];
	if (o->dump && o->verify) {
		say_error("--dump and --verify go one at a time");
		return EXIT_USAGE;
	}
	if ((o->dump || o->verify) && replay_only) {
		say_error("%s replays nothing: --pace, --speed, --hash-every, --from-snapshot, "
			  "--no-snapshot, --map and the engine's limits go with a replay",
			  o->dump ? "--dump" : "--verify");
		return EXIT_USAGE;
	}
	if (speed_given && !o->pace_original) {
		say_error("--speed goes with --pace original");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static void on_signal(int sig)
{
	(void)sig;
	replay_stop = 1;
}

int main(int argc, char **argv)
{
	struct options o = {
		.speed = 1.0,
		.snapshot = SNAP_AUTO,
		.max_hunts = 16384,
		.max_entities = 1u << 20,
		.shards = CAIRN_DEFAULT_SHARDS,
		.dedup_window = CAIRN__DEDUP_DEFAULT_WINDOW,
		.max_sessions = CAIRN__DEDUP_DEFAULT_SESSIONS,
	};
	int status = parse_args(argc, argv, &o);
	if (status != EXIT_OK) {
		return status < 0 ? EXIT_OK : status;
	}
	/* No SA_RESTART: a paced sleep or a read ends at once, and the loop stops. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct source s;
	status = source_find(&o, &s);
	if (status == EXIT_OK) {
		if (o.dump) {
			status = run_dump(&o, &s);
		} else if (o.verify) {
			status = run_verify(&o, &s);
		} else {
			status = run_replay(&o, &s);
		}
	}
	source_close(&s);
	fflush(stdout);
	return status;
}
