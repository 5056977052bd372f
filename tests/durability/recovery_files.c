/*
 * recovery_files: what cairnd does at startup with a log that is damaged in the middle
 * or torn at the end.
 *
 * A log of a hunt, 16 joins and 3000 moves (pipelined, so that batches hold many
 * records) is written and the daemon stopped with SIGTERM; the data directory is copied,
 * and each case starts from that copy. The records are read straight from the segment
 * file (src/wal/format.h), which tells which command each LSN holds, and so where every
 * player must stand after recovering up to any LSN.
 *
 *  (a) one flipped bit in a record in the middle of the segment, followed by records of
 *      later batches (in the body, in the chain field of the header, in the header
 *      checksum): cairnd refuses to start, its log names the segment file, the record's
 *      offset and its LSN, and every file of the data directory is byte-identical
 *      afterwards;
 *  (b) the same body damage with --recover=truncate-at-damage: cairnd starts, logs the
 *      cut, and holds exactly the records before the damaged one (durable LSN = damaged
 *      LSN - 1, every player where it stood then, and the state hash of cairn-replay
 *      --until that LSN); the log it leaves continues normally across a restart;
 *  (c) a torn tail: the segment cut short at several byte offsets inside its last record,
 *      that record zeroed, or garbled from its header or its body on: cairnd starts,
 *      logs the cut (when there is something to see: a zeroed record is
 *      indistinguishable from the log's clean end), and holds the N-1 records before it;
 *      the next start finds a clean log. (Every byte offset is the reader's own test,
 *      tests/wal/torn_tail.c; these are the daemon's side of it.)
 *  (d) starts that log nothing, stopped with SIGTERM or killed with SIGKILL (which leaves
 *      the segment made ahead behind): the number of segment files stays where it was,
 *      the records are all still there, and a move after them is logged and recovered.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dur.h"

#define PLAYERS 16
#define MOVES   3000

static const char *const ARGS[] = {
	"--wal-segment-mb", "1", "--snapshot-records", "0", "--snapshot-every-s", "0", NULL};
static const char *const ARGS_TRUNCATE[] = {"--wal-segment-mb",
					    "1",
					    "--snapshot-records",
					    "0",
					    "--snapshot-every-s",
					    "0",
					    "--recover",
					    "truncate-at-damage",
					    NULL};

static uint32_t hunt;
static struct dur_player joined[PLAYERS]; /* where each player joined */
static struct dur_rec *recs;
static size_t nrecs;
static char data[160], pristine[160];

/* Where every player stands once the log is applied up to lsn. */
static void expected_at(uint64_t lsn, struct dur_player *out)
{
	memcpy(out, joined, sizeof(joined));
	for (size_t i = 0; i < nrecs && recs[i].hdr.lsn <= lsn; i++) {
		const struct cairn_msg *m = &recs[i].cmd.msg;
		if (m->hdr.type != CAIRN_MSG_MOVE) {
			continue;
		}
		struct cairn_move mv;
		memcpy(&mv, m->payload, sizeof(mv));
		for (unsigned p = 0; p < PLAYERS; p++) {
			if (out[p].id == mv.player_id) {
				out[p].x = mv.x;
				out[p].y = mv.y;
			}
		}
	}
}

/* Asserts that the daemon holds exactly the records up to lsn. */
static void expect_state_at(struct h_daemon *d, uint64_t lsn, uint64_t replay_hash,
			    const char *when)
{
	cairn_client *c;
	struct dur_player want[PLAYERS];
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	struct cairn_wal_status ws = dur_wal_status(c);
	if (ws.durable_lsn != lsn || ws.appended_lsn != lsn) {
		T_FAILF("%s: the log is at LSN %llu (appended %llu), expected %llu", when,
			(unsigned long long)ws.durable_lsn, (unsigned long long)ws.appended_lsn,
			(unsigned long long)lsn);
	}
	expected_at(lsn, want);
	dur_check_players(c, hunt, want, PLAYERS, when);
	if (replay_hash) {
		struct cairn_state_hash_reply h = dur_state_hash(c);
		if (h.hash != replay_hash) {
			T_FAILF("%s: state hash %016llx, cairn-replay --until %llu says %016llx",
				when, (unsigned long long)h.hash, (unsigned long long)lsn,
				(unsigned long long)replay_hash);
		}
	}
	cairn_close(c);
}

static void restore(void)
{
	dur_remove_tree(data);
	dur_copy_tree(pristine, data);
}

static void seg_path(const struct dur_rec *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s/wal/%s", data, r->file);
}

static void flip(const struct dur_rec *r, uint64_t at, uint8_t bit)
{
	char path[256];
	uint8_t b;
	seg_path(r, path, sizeof(path));
	dur_file_read(path, r->offset + at, &b, 1);
	b ^= bit;
	dur_file_write(path, r->offset + at, &b, 1);
}

static void build_log(struct h_daemon *d)
{
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 10 * SEC));
	hunt = hc.hunt_id;
	for (unsigned p = 0; p < PLAYERS; p++) {
		dur_pos(p, &joined[p].x, &joined[p].y);
		ASSERT_OK(cairn_join(c, hunt, joined[p].x, joined[p].y, &joined[p].id, 10 * SEC));
	}
	static struct cairn_msg cmds[MOVES], res[MOVES];
	for (unsigned k = 0; k < MOVES; k++) {
		int32_t x, y;
		dur_pos(1000 + k, &x, &y);
		cairn_msg_move(&cmds[k], hunt, joined[k % PLAYERS].id, x, y);
	}
	dur_pipeline(c, cmds, res, MOVES);
	for (unsigned k = 0; k < MOVES; k++) {
		dur_expect_reply(&res[k], CAIRN_MSG_MOVED, "MOVE");
	}
	struct cairn_wal_status ws = dur_wal_status(c);
	ASSERT_UEQ(ws.durable_lsn, 1 + PLAYERS + MOVES);
	cairn_close(c);
	h_stop(d);

	/* The log as the files hold it: every command, in order, as it was sent. */
	nrecs = dur_wal_records(data, &recs);
	ASSERT_UEQ(nrecs, 1 + PLAYERS + MOVES);
	for (size_t i = 0; i < nrecs; i++) {
		ASSERT_UEQ(recs[i].hdr.lsn, i + 1);
		ASSERT_UEQ(recs[i].hdr.kind, CAIRN__WAL_COMMAND);
		ASSERT_UEQ(recs[i].hdr.length, sizeof(struct cairn__wal_command));
	}
	for (unsigned k = 0; k < MOVES; k++) {
		const struct cairn_msg *m = &recs[1 + PLAYERS + k].cmd.msg;
		if (m->hdr.type != cmds[k].hdr.type ||
		    m->hdr.request_id != cmds[k].hdr.request_id ||
		    memcmp(m->payload, cmds[k].payload, CAIRN_MSG_MOVE_LEN_MIN) != 0) {
			T_FAILF("LSN %u holds type 0x%x request %llu, not move %u (request %llu)",
				2 + PLAYERS + k, m->hdr.type, (unsigned long long)m->hdr.request_id,
				k, (unsigned long long)cmds[k].hdr.request_id);
		}
	}
	unsigned batches = 0;
	for (size_t i = 0; i < nrecs; i++) {
		batches += recs[i].hdr.batch_index == 0;
	}
	h_ok("setup: %zu records in %u batches, in %s (%s backend), each holding the command "
	     "that was sent",
	     nrecs, batches, recs[nrecs - 1].file, dur.backend);
}

/* The damaged record's position as the daemon may print it: decimal or hex. */
static bool damage_named(struct h_daemon *d, off_t mark, const struct dur_rec *r, char *line,
			 size_t len)
{
	char off_dec[32], off_hex[32], lsn[32];
	snprintf(off_dec, sizeof(off_dec), "%llu", (unsigned long long)r->offset);
	snprintf(off_hex, sizeof(off_hex), "0x%llx", (unsigned long long)r->offset);
	snprintf(lsn, sizeof(lsn), "%llu", (unsigned long long)r->hdr.lsn);
	return dur_log_find(d, mark, H_ARGS(r->file, off_dec, lsn), line, len, 0) ||
	       dur_log_find(d, mark, H_ARGS(r->file, off_hex, lsn), line, len, 0);
}

static void check_refusals(struct h_daemon *d, const struct dur_rec *r)
{
	static const struct {
		const char *what;
		uint64_t at;
		uint8_t bit;
	} cases[] = {
		{"a bit of the body", CAIRN__WAL_REC_HEADER + 16 + 16 + 8, 0x10},
		{"a bit of the header's chain field", 16 + 3, 0x04},
		{"a bit of the header checksum", 5, 0x80},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dur_tree before, after;
		char line[1024];
		restore();
		flip(r, cases[i].at, cases[i].bit);
		dur_tree_read(data, &before);
		off_t mark = dur_log_mark(d);
		int st = dur_spawn_expect_exit(d, ARGS);
		if (!WIFEXITED(st) || WEXITSTATUS(st) == 0) {
			T_FAILF("%s flipped at LSN %llu: cairnd ended with status 0x%x, expected a "
				"non-zero exit",
				cases[i].what, (unsigned long long)r->hdr.lsn, st);
		}
		if (!damage_named(d, mark, r, line, sizeof(line))) {
			h_print_log(d);
			T_FAILF("%s flipped: no line of the log names %s, offset %llu and LSN %llu",
				cases[i].what, r->file, (unsigned long long)r->offset,
				(unsigned long long)r->hdr.lsn);
		}
		dur_tree_read(data, &after);
		dur_tree_expect_equal(&before, &after, "after the refused start");
		h_ok("(a) %s flipped at LSN %llu: exit %d, \"%s\"; the %zu files of the data "
		     "directory are unchanged",
		     cases[i].what, (unsigned long long)r->hdr.lsn, WEXITSTATUS(st), line, after.n);
	}
}

static void check_truncate_at_damage(struct h_daemon *d, const struct dur_rec *r)
{
	char line[1024];
	uint64_t lsn = r->hdr.lsn - 1, replay_lsn = 0, replay_hash = 0;
	if (dur.replay) {
		dur_replay(pristine, lsn, &replay_lsn, &replay_hash);
		ASSERT_UEQ(replay_lsn, lsn);
	}
	restore();
	flip(r, CAIRN__WAL_REC_HEADER + 16 + 16 + 8, 0x10);
	off_t mark = dur_log_mark(d);
	dur_spawn(d, ARGS_TRUNCATE);
	if (!dur_log_find(d, mark, H_ARGS("truncate-at-damage", r->file), line, sizeof(line), 0)) {
		T_FAILF("--recover=truncate-at-damage started but logged no cut in %s", r->file);
	}
	expect_state_at(d, lsn, replay_hash, "(b) after truncate-at-damage");
	h_ok("(b) --recover=truncate-at-damage: \"%s\"; the daemon holds LSN 1..%llu%s", line,
	     (unsigned long long)lsn, replay_hash ? ", with cairn-replay's state hash" : "");

	/* The cut log goes on: one more change survives a restart in strict mode. */
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	int32_t x, y;
	dur_pos(99999, &x, &y);
	ASSERT_OK(cairn_move(c, hunt, joined[0].id, x, y, NULL, 10 * SEC));
	cairn_close(c);
	h_stop(d);
	dur_spawn(d, ARGS);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	struct cairn_wal_status ws = dur_wal_status(c);
	ASSERT_UEQ(ws.durable_lsn, lsn + 1);
	struct dur_player want[PLAYERS];
	expected_at(lsn, want);
	want[0].x = x;
	want[0].y = y;
	dur_check_players(c, hunt, want, PLAYERS, "(b) after a move and a restart");
	cairn_close(c);
	h_stop(d);
	struct dur_rec *after;
	size_t n = dur_wal_records(data, &after);
	ASSERT_UEQ(n, lsn + 1);
	ASSERT_UEQ(after[n - 1].hdr.lsn, lsn + 1);
	free(after);
	h_ok("(b) the cut log continued: a move after it was logged as LSN %llu and recovered "
	     "by a strict start",
	     (unsigned long long)(lsn + 1));
}

enum torn { CUT, ZERO, GARBAGE };

/*
 * The last record torn: the file CUT short cut bytes into it, the record ZEROed, or its
 * bytes from cut on overwritten with GARBAGE (a write that reached the disk in part).
 */
static void torn_case(struct h_daemon *d, const struct dur_rec *last, enum torn how, uint64_t cut,
		      uint64_t replay_hash)
{
	char path[256], line[1024], off[32];
	bool zero = how == ZERO;
	uint64_t size = cairn__wal_rec_size(last->hdr.length);
	uint8_t bytes[CAIRN__WAL_REC_HEADER + sizeof(struct cairn__wal_command)];
	ASSERT_UEQ(size, sizeof(bytes));
	seg_path(last, path, sizeof(path));
	restore();
	if (how == CUT) {
		if (truncate(path, (off_t)(last->offset + cut)) < 0) {
			T_FAILF("truncate %s: %s", path, strerror(errno));
		}
	} else {
		memset(bytes, how == ZERO ? 0 : 0xA5, sizeof(bytes));
		dur_file_write(path, last->offset + cut, bytes, size - cut);
	}
	off_t mark = dur_log_mark(d);
	dur_spawn(d, ARGS);
	snprintf(off, sizeof(off), "%llu", (unsigned long long)last->offset);
	bool logged = dur_log_find(d, mark, H_ARGS("torn", last->file, off), line, sizeof(line), 0);
	if (!zero && !logged) {
		T_FAILF("the last record (LSN %llu at offset %llu) %s %llu bytes into it: cairnd "
			"started but logged no torn tail cut at that offset",
			(unsigned long long)last->hdr.lsn, (unsigned long long)last->offset,
			how == CUT ? "cut short" : "overwritten with garbage from",
			(unsigned long long)cut);
	}
	expect_state_at(d, last->hdr.lsn - 1, replay_hash,
			how == CUT ? "(c) last record cut short"
			: zero     ? "(c) last record zeroed"
				   : "(c) last record garbled");
	h_stop(d);
	if (zero) {
		h_ok("(c) last record zeroed: the daemon holds the %llu records before it (%s)",
		     (unsigned long long)(last->hdr.lsn - 1),
		     logged ? "a cut was logged" : "seen as the log's end; nothing to log");
	} else {
		h_ok("(c) last record %s %llu bytes into it: \"%s\"; %llu records held",
		     how == CUT ? "cut short" : "garbled from", (unsigned long long)cut, line,
		     (unsigned long long)(last->hdr.lsn - 1));
	}
}

static void check_torn_tails(struct h_daemon *d)
{
	const struct dur_rec *last = &recs[nrecs - 1];
	uint64_t size = cairn__wal_rec_size(last->hdr.length), replay_hash = 0, replay_lsn = 0;
	if (dur.replay) {
		dur_replay(pristine, last->hdr.lsn - 1, &replay_lsn, &replay_hash);
		ASSERT_UEQ(replay_lsn, last->hdr.lsn - 1);
	}
	/* Inside the header, at its end, inside the body, one byte short. */
	const uint64_t cuts[] = {1,
				 8,
				 CAIRN__WAL_REC_HEADER - 1,
				 CAIRN__WAL_REC_HEADER,
				 CAIRN__WAL_REC_HEADER + 20,
				 size - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		torn_case(d, last, CUT, cuts[i], replay_hash);
	}
	torn_case(d, last, ZERO, 0, replay_hash);
	torn_case(d, last, GARBAGE, 20, replay_hash);
	torn_case(d, last, GARBAGE, CAIRN__WAL_REC_HEADER + 20, replay_hash);

	/* After a cut, the next start finds a clean log: nothing more is cut or lost. */
	torn_case(d, last, CUT, CAIRN__WAL_REC_HEADER + 20, replay_hash);
	off_t mark = dur_log_mark(d);
	dur_spawn(d, ARGS);
	if (dur_log_find(d, mark, H_ARGS("torn"), NULL, 0, 0)) {
		T_FAILF("the start after a torn tail was cut found another torn tail");
	}
	expect_state_at(d, last->hdr.lsn - 1, replay_hash, "(c) the start after the cut");
	h_stop(d);
	h_ok("(c) the start after a cut found a clean log with the same %llu records",
	     (unsigned long long)(last->hdr.lsn - 1));
}

static void check_idle_restarts(struct h_daemon *d)
{
	char names[256][64];
	const struct dur_rec *last = &recs[nrecs - 1];
	uint64_t lsn = last->hdr.lsn - 1; /* the torn cases left the log one record short */
	dur_spawn(d, ARGS);
	h_stop(d);
	size_t base = dur_wal_segments(data, names, 256);
	ASSERT_TRUE(base >= 1);
	for (int i = 0; i < 12; i++) {
		dur_spawn(d, ARGS);
		if (i % 2 == 0) {
			dur_kill(d); /* leaves its segment made ahead: the next start removes it */
			continue;
		}
		h_stop(d);
		size_t n = dur_wal_segments(data, names, 256);
		if (n != base) {
			T_FAILF("(d) after %d starts that logged nothing there are %zu segment "
				"files, %zu before",
				i + 1, n, base);
		}
	}
	dur_spawn(d, ARGS);
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_UEQ(dur_wal_status(c).durable_lsn, lsn);
	int32_t x, y;
	dur_pos(77777, &x, &y);
	ASSERT_OK(cairn_move(c, hunt, joined[1].id, x, y, NULL, 10 * SEC));
	ASSERT_UEQ(dur_wal_status(c).durable_lsn, lsn + 1);
	cairn_close(c);
	dur_kill(d);
	dur_spawn(d, ARGS);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_UEQ(dur_wal_status(c).durable_lsn, lsn + 1);
	struct dur_player want[PLAYERS];
	expected_at(lsn, want);
	want[1].x = x;
	want[1].y = y;
	dur_check_players(c, hunt, want, PLAYERS, "(d) after idle restarts, a move and a kill");
	cairn_close(c);
	h_stop(d);
	h_ok("(d) 12 starts that logged nothing (6 stopped, 6 killed): still %zu segment "
	     "file%s; a move after them was logged as LSN %llu and recovered",
	     base, base == 1 ? "" : "s", (unsigned long long)(lsn + 1));
}

int main(int argc, char **argv)
{
	dur_init(argc, argv, "recovery_files", true);
	struct h_daemon *d = dur_start(ARGS);
	snprintf(data, sizeof(data), "%s", d->data);
	snprintf(pristine, sizeof(pristine), "%s/pristine", d->dir);
	build_log(d);
	dur_copy_tree(data, pristine);

	/* A record in the middle of the segment, with records of later batches after it. */
	size_t mid = nrecs / 2;
	const struct dur_rec *r = &recs[mid];
	bool later_batch = false;
	for (size_t j = mid + 1; j < nrecs && !later_batch; j++) {
		later_batch = recs[j].seq == r->seq && recs[j].hdr.batch_index == 0;
	}
	ASSERT_TRUE(later_batch);
	check_refusals(d, r);
	check_truncate_at_damage(d, r);
	check_torn_tails(d);
	check_idle_restarts(d);
	if (!dur.replay) {
		printf("note: cairn-replay is not built: state hashes were not compared\n");
	}
	free(recs);
	h_pass();
}
