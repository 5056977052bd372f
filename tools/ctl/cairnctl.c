/*
 * cairnctl: operator commands for a running cairnd, through its socket with the same
 * authorization as any client.
 *
 *   cairnctl [--socket PATH] wal                    where the log and snapshots are
 *   cairnctl [--socket PATH] snapshot               write a snapshot now
 *   cairnctl [--socket PATH] rollback HUNT LSN      put a hunt back as it was at LSN
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"

#define TIMEOUT_NS (600ll * 1000000000) /* a rollback replays the log: give it time */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairnctl [--socket PATH] COMMAND [ARGS]\n"
		"Operator commands for a running cairnd.\n"
		"\n"
		"Commands:\n"
		"  wal                 the log's appended and durable LSNs, the newest snapshot,\n"
		"                      the backend, the durability mode, and any write fault\n"
		"  snapshot            write a snapshot now; prints its LSN, hash and size\n"
		"  rollback HUNT LSN   put hunt HUNT (an id as printed by hosts, decimal or 0x..)\n"
		"                      back to the state it had right after LSN; the rollback is\n"
		"                      logged, so replaying the log repeats it\n"
		"\n"
		"Options:\n"
		"  --socket PATH       the daemon's socket (default: as cairnd's)\n"
		"  -h, --help          show this help\n"
		"\n"
		"Exit status: 0 done, 1 the daemon refused or is not there, 2 usage.\n");
}

static int fail(const char *what, int r)
{
	const char *name = cairn_error_name(-r);
	fprintf(stderr, "cairnctl: %s: %s%s%s%s\n", what, cairn_strerror(r), name ? " (" : "",
		name ? name : "", name ? ")" : "");
	return 1;
}

static int call(cairn_client *c, uint16_t type, const void *payload, uint8_t len,
		struct cairn_msg *res, const char *what)
{
	struct cairn_msg cmd;
	cairn_msg_init(&cmd, type, len);
	if (payload) {
		memcpy(cmd.payload, payload, len);
	}
	int r = cairn_call(c, &cmd, res, TIMEOUT_NS);
	return r < 0 ? fail(what, r) : 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s || s[0] == '-') {
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *sock = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'cairnctl --help'.\n");
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	uint64_t hunt = 0, lsn = 0;
	if (strcmp(cmd, "rollback") == 0) {
		if (nargs != 2 || parse_u64(argv[optind + 1], &hunt) < 0 || hunt > UINT32_MAX ||
		    parse_u64(argv[optind + 2], &lsn) < 0) {
			fprintf(stderr, "cairnctl: rollback takes a hunt id and an LSN, both "
					"non-negative numbers\n");
			return 2;
		}
	} else if ((strcmp(cmd, "wal") == 0 || strcmp(cmd, "snapshot") == 0) && nargs == 0) {
	} else {
		fprintf(stderr,
			"cairnctl: unknown command or wrong arguments: '%s'\nTry 'cairnctl "
			"--help'.\n",
			cmd);
		return 2;
	}

	struct cairn_open_options oo = {.name = "cairnctl", .reconnect_ms = -1};
	cairn_client *c;
	int r = cairn_open(sock, &oo, &c);
	if (r < 0) {
		fprintf(stderr, "cairnctl: cannot attach to cairnd%s%s: %s\n", sock ? " at " : "",
			sock ? sock : "", cairn_strerror(r));
		return 1;
	}
	struct cairn_msg res;
	int rc = 0;
	if (strcmp(cmd, "wal") == 0) {
		rc = call(c, CAIRN_MSG_WAL_STATUS, NULL, 0, &res, "WAL_STATUS");
		if (rc == 0) {
			struct cairn_wal_status w;
			memcpy(&w, res.payload, sizeof(w));
			static const char *const backends[] = {"none", "io_uring", "sync"};
			static const char *const modes[] = {"none", "sync", "relaxed"};
			printf("appended_lsn=%" PRIu64 " durable_lsn=%" PRIu64
			       " snapshot_lsn=%" PRIu64 " backend=%s durability=%s error=%s\n",
			       w.appended_lsn, w.durable_lsn, w.snapshot_lsn,
			       w.backend < 3 ? backends[w.backend] : "?",
			       w.durability < 3 ? modes[w.durability] : "?",
			       w.error ? cairn_strerror(w.error) : "none");
		}
	} else if (strcmp(cmd, "snapshot") == 0) {
		rc = call(c, CAIRN_MSG_SNAPSHOT, NULL, 0, &res, "SNAPSHOT");
		if (rc == 0) {
			struct cairn_snapshot_reply s;
			memcpy(&s, res.payload, sizeof(s));
			printf("snapshot lsn=%" PRIu64 " hash=0x%016" PRIx64 " bytes=%" PRIu64
			       " ms=%.1f\n",
			       s.lsn, s.state_hash, s.bytes, (double)s.duration_ns / 1e6);
		}
	} else {
		struct cairn_rollback rb = {.hunt_id = (uint32_t)hunt, .lsn = lsn};
		rc = call(c, CAIRN_MSG_ROLLBACK, &rb, CAIRN_MSG_ROLLBACK_LEN_MIN, &res, "ROLLBACK");
		if (rc == 0) {
			struct cairn_rollback_reply a;
			memcpy(&a, res.payload, sizeof(a));
			printf("rolled back hunt=0x%08x to lsn=%" PRIu64 " (logged as lsn=%" PRIu64
			       "): players=%u clues=%u\n",
			       a.hunt_id, a.target_lsn, a.lsn, a.players, a.clues);
		}
	}
	cairn_close(c);
	return rc;
}
