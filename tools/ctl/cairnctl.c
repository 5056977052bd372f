/*
 * cairnctl: operator commands for a running cairnd, through its socket with the same
 * authorization as any client.
 *
 *   cairnctl [--socket PATH] [--json] clients       the attached clients
 *   cairnctl [--socket PATH] [--json] hunts         the hunts
 *   cairnctl [--socket PATH] [--json] wal           where the log and snapshots are
 *   cairnctl [--socket PATH] snapshot               write a snapshot now
 *   cairnctl [--socket PATH] rollback HUNT LSN      put a hunt back as it was at LSN
 *   cairnctl [--socket PATH] evict CLIENT           stop serving a client
 *
 * The listings read the state segment as an observer (no lane is taken, nothing is
 * sent); the other commands attach as a client and send one operator command.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "client/observe.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "shm/seqlock.h"

#define TIMEOUT_NS (600ll * 1000000000) /* a rollback replays the log: give it time */
#define READ_TRIES 1000                 /* seqlock retries before a record is given up */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairnctl [--socket PATH] [--json] COMMAND [ARGS]\n"
		"Operator commands for a running cairnd.\n"
		"\n"
		"Commands:\n"
		"  clients             the attached clients: lane, client id, pid, uid, name, "
		"age,\n"
		"                      commands taken, results published, commands waiting\n"
		"  hunts               the hunts: id, map, size, players, clues (claimed)\n"
		"  wal                 the log's appended and durable LSNs, the newest snapshot,\n"
		"                      the backend, the durability mode, and any write fault\n"
		"  snapshot            write a snapshot now; prints its LSN, hash and size\n"
		"  rollback HUNT LSN   put hunt HUNT (an id as printed by hosts, decimal or 0x..)\n"
		"                      back to the state it had right after LSN; the rollback is\n"
		"                      logged, so replaying the log repeats it\n"
		"  evict CLIENT        stop serving client CLIENT (an id as 'clients' lists it):\n"
		"                      its calls fail with EVICTED and it does not reattach\n"
		"\n"
		"Options:\n"
		"  --socket PATH       the daemon's socket (default: as cairnd's)\n"
		"  --json              clients, hunts, wal: one JSON document instead of a table\n"
		"  -h, --help          show this help\n"
		"\n"
		"clients and hunts need nothing but read access to the daemon's state (they take\n"
		"no lane). Exit status: 0 done, 1 the daemon refused or is not there, 2 usage.\n");
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

/* s (at most max bytes, NUL-padded) as a JSON string body. */
static void json_str(const char *s, size_t max)
{
	putchar('"');
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\') {
			printf("\\%c", ch);
		} else if (ch < 0x20 || ch >= 0x7f) {
			printf("\\u%04x", ch);
		} else {
			putchar(ch);
		}
	}
	putchar('"');
}

static void print_age(uint64_t ns)
{
	uint64_t s = ns / 1000000000u;
	if (s < 60) {
		printf("%7.1fs", (double)ns / 1e9);
	} else if (s < 3600) {
		printf("%4llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	} else {
		printf("%4lluh%02llum", (unsigned long long)(s / 3600),
		       (unsigned long long)(s / 60 % 60));
	}
}

/* ---- clients: the lanes' metrics records ---- */

struct client_row {
	uint32_t lane;
	uint64_t client_id, attached_ns;
	int32_t pid;
	uint32_t uid;
	char name[CAIRN_NAME_SIZE + 1];
	uint64_t commands, results, cmd_pushed;
};

/* Lane i's record, its identity read under its seq. Returns 1 with a client, 0 without. */
static int read_client(const struct cairn__metrics_view *v, uint32_t i, struct client_row *r)
{
	const struct cairn_lane_metrics *m = cairn__metrics_lane(v, i);
	for (unsigned k = 0; k < READ_TRIES; k++) {
		/* The seqlock read protocol of seqlock.h over the identity fields. */
		uint64_t seq = cairn__seq_read_begin(&m->seq);
		r->client_id = cairn__load_relaxed(&m->client_id);
		r->attached_ns = cairn__load_relaxed(&m->attached_ns);
		r->pid = cairn__load_relaxed(&m->pid);
		r->uid = cairn__load_relaxed(&m->uid);
		for (unsigned j = 0; j < CAIRN_NAME_SIZE; j++) {
			r->name[j] = (char)cairn__load_relaxed(&m->name[j]);
		}
		if (cairn__seq_read_ok(&m->seq, seq)) {
			r->name[CAIRN_NAME_SIZE] = '\0';
			r->lane = i;
			/* Counters only grow: one relaxed load each. */
			r->commands = cairn__load_relaxed(&m->commands);
			r->results = cairn__load_relaxed(&m->results);
			r->cmd_pushed = cairn__load_relaxed(&m->cmd_pushed);
			return r->client_id != 0;
		}
	}
	return 0; /* being rewritten all along: the lane is changing hands */
}

static int list_clients(const struct cairn__observed *o, bool json)
{
	if (o->metrics_err == -ENOENT || (o->metrics_err == 0 && !o->metrics.on)) {
		fprintf(stderr,
			"cairnctl: this cairnd keeps no metrics (--metrics off, or an older "
			"version): it publishes no client list\n");
		return 1;
	}
	if (o->metrics_err < 0) {
		return fail("the state segment's metrics", o->metrics_err);
	}
	uint64_t now = cairn__now_ns();
	unsigned n = 0;
	if (json) {
		printf("{\"daemon_pid\": %d, \"clients\": [", (int)o->pid);
	} else {
		printf("%5s %10s %8s %6s %-20s %8s %12s %12s %6s\n", "LANE", "CLIENT", "PID", "UID",
		       "NAME", "AGE", "COMMANDS", "RESULTS", "DEPTH");
	}
	for (uint32_t i = 0; i < o->metrics.lane_count; i++) {
		struct client_row r;
		if (!read_client(&o->metrics, i, &r)) {
			continue;
		}
		uint64_t age = now > r.attached_ns ? now - r.attached_ns : 0;
		uint64_t depth = r.cmd_pushed > r.commands ? r.cmd_pushed - r.commands : 0;
		if (json) {
			printf("%s\n  {\"lane\": %u, \"client_id\": %" PRIu64
			       ", \"pid\": %d, \"uid\": %u, \"name\": ",
			       n ? "," : "", r.lane, r.client_id, (int)r.pid, r.uid);
			json_str(r.name, CAIRN_NAME_SIZE);
			printf(", \"age_s\": %.3f, \"commands\": %" PRIu64 ", \"results\": %" PRIu64
			       ", \"depth\": %" PRIu64 "}",
			       (double)age / 1e9, r.commands, r.results, depth);
		} else {
			printf("%5u %10" PRIu64 " %8d %6u %-20.20s ", r.lane, r.client_id,
			       (int)r.pid, r.uid, r.name);
			print_age(age);
			printf(" %12" PRIu64 " %12" PRIu64 " %6" PRIu64 "\n", r.commands, r.results,
			       depth);
		}
		n++;
	}
	if (json) {
		printf("%s]}\n", n ? "\n" : "");
	} else if (n == 0) {
		printf("(no client attached)\n");
	}
	return 0;
}

/* ---- hunts: the grid's hunt directory ---- */

static bool fits(uint64_t off, uint64_t n, uint64_t size, uint64_t region)
{
	return off <= region && n <= (region - off) / size;
}

static int list_hunts(const struct cairn__observed *o, bool json)
{
	const struct cairn_state_header *sh = o->base;
	const uint8_t *g = (const uint8_t *)o->base + sh->grid_offset;
	uint64_t size = sh->grid_size;
	struct cairn_grid_header gh;
	if (sh->grid_offset == 0 || size < sizeof(gh)) {
		fprintf(stderr, "cairnctl: this cairnd publishes no grid: no hunts to list\n");
		return 1;
	}
	/*
	 * The tables are laid out before the daemon publishes the segment and never move:
	 * one copy, checked once (cairn__state_validate checked the region itself).
	 */
	cairn__seq_copy_out(&gh, g, sizeof(gh));
	if (gh.hunts_offset % 8 || gh.maps_offset % 8 || gh.hunts_offset < sizeof(gh) ||
	    gh.maps_offset < sizeof(gh) ||
	    !fits(gh.hunts_offset, gh.max_hunts, sizeof(struct cairn_hunt_info), size) ||
	    !fits(gh.maps_offset, gh.n_maps, sizeof(struct cairn_map_info), size)) {
		return fail("the grid region", -CAIRN_E_LAYOUT);
	}
	const struct cairn_hunt_info *hunts = (const void *)(g + gh.hunts_offset);
	const struct cairn_map_info *maps = (const void *)(g + gh.maps_offset);
	/*
	 * Hunts take the lowest free slots: stop once as many were seen as are alive, so
	 * that the pages of a directory never used are not touched.
	 */
	uint32_t alive = cairn__load_relaxed(&((const struct cairn_grid_header *)g)->hunts);
	unsigned n = 0;
	if (json) {
		printf("{\"hunts\": [");
	} else {
		printf("%-10s %-20s %9s %8s %8s %8s\n", "HUNT", "MAP", "SIZE", "PLAYERS", "CLUES",
		       "CLAIMED");
	}
	for (uint32_t i = 0; i < gh.max_hunts && n < alive; i++) {
		struct cairn_hunt_info h;
		bool whole = false;
		for (unsigned k = 0; k < READ_TRIES && !whole; k++) {
			/* The seqlock read protocol of seqlock.h: begin, copy, check. */
			uint64_t s = cairn__seq_read_begin(&hunts[i].seq);
			cairn__seq_copy_out(&h, &hunts[i], sizeof(h));
			whole = cairn__seq_read_ok(&hunts[i].seq, s);
		}
		if (!whole || h.id == 0) {
			continue;
		}
		char map[CAIRN_MAP_NAME_SIZE + 1] = "?";
		if (h.map_id < gh.n_maps) {
			for (unsigned j = 0; j < CAIRN_MAP_NAME_SIZE; j++) {
				/* Maps never change while the daemon runs. */
				map[j] = (char)maps[h.map_id].name[j];
			}
			map[CAIRN_MAP_NAME_SIZE] = '\0';
		}
		if (json) {
			printf("%s\n  {\"hunt_id\": %u, \"map_id\": %u, \"map\": ", n ? "," : "",
			       h.id, h.map_id);
			json_str(map, CAIRN_MAP_NAME_SIZE);
			printf(", \"width\": %u, \"height\": %u, \"cell_mm\": %u, \"players\": %u, "
			       "\"clues\": %u, \"clues_claimed\": %u}",
			       h.width, h.height, h.cell_mm, h.players, h.clues, h.clues_claimed);
		} else {
			char dims[32];
			snprintf(dims, sizeof(dims), "%ux%u", h.width, h.height);
			printf("0x%08x %-20.20s %9s %8u %8u %8u\n", h.id, map, dims, h.players,
			       h.clues, h.clues_claimed);
		}
		n++;
	}
	if (json) {
		printf("%s]}\n", n ? "\n" : "");
	} else if (n == 0) {
		printf("(no hunt)\n");
	}
	return 0;
}

/* ---- commands sent as a client ---- */

static int wal(cairn_client *c, bool json)
{
	struct cairn_msg res;
	int rc = call(c, CAIRN_MSG_WAL_STATUS, NULL, 0, &res, "WAL_STATUS");
	if (rc) {
		return rc;
	}
	struct cairn_wal_status w;
	memcpy(&w, res.payload, sizeof(w));
	static const char *const backends[] = {"none", "io_uring", "sync"};
	static const char *const modes[] = {"none", "sync", "relaxed"};
	const char *backend = w.backend < 3 ? backends[w.backend] : "?";
	const char *mode = w.durability < 3 ? modes[w.durability] : "?";
	if (json) {
		printf("{\"appended_lsn\": %" PRIu64 ", \"durable_lsn\": %" PRIu64
		       ", \"snapshot_lsn\": %" PRIu64
		       ", \"backend\": \"%s\", \"durability\": \"%s\", \"error\": ",
		       w.appended_lsn, w.durable_lsn, w.snapshot_lsn, backend, mode);
		if (w.error) {
			json_str(cairn_strerror(w.error), 256);
		} else {
			printf("null");
		}
		printf("}\n");
	} else {
		printf("appended_lsn=%" PRIu64 " durable_lsn=%" PRIu64 " snapshot_lsn=%" PRIu64
		       " backend=%s durability=%s error=%s\n",
		       w.appended_lsn, w.durable_lsn, w.snapshot_lsn, backend, mode,
		       w.error ? cairn_strerror(w.error) : "none");
	}
	return 0;
}

static int evict(cairn_client *c, uint64_t client_id)
{
	struct cairn_evict e = {.client_id = client_id};
	struct cairn_msg cmd, res;
	cairn_msg_init(&cmd, CAIRN_MSG_EVICT, CAIRN_MSG_EVICT_LEN_MIN);
	memcpy(cmd.payload, &e, sizeof(e));
	int r = cairn_call(c, &cmd, &res, TIMEOUT_NS);
	if (r == -CAIRN_E_UNKNOWN_CLIENT) {
		fprintf(stderr,
			"cairnctl: no client with id %" PRIu64 " is attached (see 'cairnctl "
			"clients')\n",
			client_id);
		return 1;
	}
	if (r == -CAIRN_E_UNKNOWN_TYPE) {
		fprintf(stderr, "cairnctl: this cairnd does not know EVICT (it is older than "
				"cairnctl)\n");
		return 1;
	}
	if (r < 0) {
		return fail("EVICT", r);
	}
	struct cairn_evicted a;
	memcpy(&a, res.payload, sizeof(a));
	printf("evicted client %" PRIu64 " (lane %u, pid %d, uid %u)\n", a.client_id, a.lane,
	       (int)a.pid, a.uid);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *sock = NULL;
	bool json = false;
	int o;
	while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = true;
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
	uint64_t hunt = 0, lsn = 0, client = 0;
	bool observe = false;
	if (strcmp(cmd, "rollback") == 0) {
		if (nargs != 2 || parse_u64(argv[optind + 1], &hunt) < 0 || hunt > UINT32_MAX ||
		    parse_u64(argv[optind + 2], &lsn) < 0) {
			fprintf(stderr, "cairnctl: rollback takes a hunt id and an LSN, both "
					"non-negative numbers\nTry 'cairnctl --help'.\n");
			return 2;
		}
	} else if (strcmp(cmd, "evict") == 0) {
		if (nargs != 1 || parse_u64(argv[optind + 1], &client) < 0 || client == 0) {
			fprintf(stderr,
				"cairnctl: evict takes one client id, a positive number (see "
				"'cairnctl clients')\nTry 'cairnctl --help'.\n");
			return 2;
		}
	} else if ((strcmp(cmd, "clients") == 0 || strcmp(cmd, "hunts") == 0) && nargs == 0) {
		observe = true;
	} else if ((strcmp(cmd, "wal") == 0 || strcmp(cmd, "snapshot") == 0) && nargs == 0) {
	} else {
		fprintf(stderr,
			"cairnctl: unknown command or wrong arguments: '%s'\nTry 'cairnctl "
			"--help'.\n",
			cmd);
		return 2;
	}
	if (json && strcmp(cmd, "clients") != 0 && strcmp(cmd, "hunts") != 0 &&
	    strcmp(cmd, "wal") != 0) {
		fprintf(stderr, "cairnctl: --json is for clients, hunts and wal\n");
		return 2;
	}

	if (observe) {
		struct cairn__observed ob;
		char err[512];
		int r = cairn__observe(sock, &ob, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "cairnctl: %s\n", err);
			return 1;
		}
		int rc = strcmp(cmd, "clients") == 0 ? list_clients(&ob, json)
						     : list_hunts(&ob, json);
		cairn__observe_close(&ob);
		return rc;
	}

	struct cairn_open_options oo = {.name = "cairnctl", .reconnect_ms = -1};
	cairn_client *c;
	char def[108];
	if (!sock && cairn_default_socket_path(def, sizeof(def)) >= 0) {
		sock = def;
	}
	int r = cairn_open(sock, &oo, &c);
	if (r == -ENOENT || r == -ECONNREFUSED) {
		fprintf(stderr, "cairnctl: no cairnd at %s: %s (is it running? --socket?)\n",
			sock ? sock : "the default socket", cairn_strerror(r));
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "cairnctl: cannot attach to cairnd%s%s: %s\n", sock ? " at " : "",
			sock ? sock : "", cairn_strerror(r));
		return 1;
	}
	struct cairn_msg res;
	int rc = 0;
	if (strcmp(cmd, "wal") == 0) {
		rc = wal(c, json);
	} else if (strcmp(cmd, "evict") == 0) {
		rc = evict(c, client);
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
