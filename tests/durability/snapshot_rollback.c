/*
 * snapshot_rollback: snapshots (on demand and periodic, how many are kept, the log they
 * make unnecessary) and the operator's ROLLBACK of one hunt.
 *
 * Snapshots (--wal-segment-mb 1 --keep-snapshots 2 --snapshot-records 500):
 *  (a) SNAPSHOT is answered SNAPSHOT_TAKEN at the durable LSN with the live state hash,
 *      and the file DATA/snapshots/snap-<LSN>.snap is there with the size it reports;
 *      after several, only the newest two are kept and no temporary file is left;
 *  (b) 10000 changes (more than a segment) bring periodic snapshots: the newest is
 *      less than 500 records behind, and the segments whose records all precede the
 *      oldest snapshot kept are deleted;
 *  (c) restarts (each starts a new segment) recover from the snapshots with the same
 *      state hash, also once the segments before them are gone; so does cairn-replay.
 * Rollback (no periodic snapshots):
 *  (d) a hunt with players, clues and a claim; its state at the durable LSN L is noted;
 *      then moves, joins, leaves, clue changes and a claim in it, and moves in a second
 *      hunt; ROLLBACK(hunt, L) answers ROLLED_BACK with the hunt's players and clues at
 *      L; every player is as it was at L (the later ones gone, the departed back), the
 *      other hunt keeps its later state, and HUNT_ROLLED_BACK(L) comes on the feed;
 *  (e) after kill -9 and a restart the state and its hash are the same (the rollback is
 *      replayed from the log), and cairn-replay of the data directory gives the daemon's
 *      hash at the end and at L, the same twice;
 *  (f) ROLLBACK beyond the durable LSN: ROLLBACK_RANGE; of an unknown hunt:
 *      UNKNOWN_HUNT; two at once: the second is BUSY or done after the first; with
 *      --durability=none, SNAPSHOT and ROLLBACK: NO_STORE; WAL_STATUS with header flags
 *      or a payload: BAD_FLAGS, BAD_LENGTH, with a log and without.
 */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>

#include "dur.h"

#define KEEP 2

static const char *const SNAP_ARGS[] = {"--wal-segment-mb",
					"1",
					"--keep-snapshots",
					"2",
					"--snapshot-records",
					"500",
					"--snapshot-every-s",
					"0",
					NULL};
static const char *const PLAIN_ARGS[] = {"--snapshot-records", "0", "--snapshot-every-s", "0",
					 NULL};

/* ---- snapshots ---- */

struct game {
	uint32_t hunt;
	unsigned n;
	struct dur_player pl[16];
	uint64_t next_pos;
};

static void game_new(cairn_client *c, struct game *g, unsigned players)
{
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 10 * SEC));
	g->hunt = hc.hunt_id;
	g->n = players;
	g->next_pos = 1;
	for (unsigned p = 0; p < players; p++) {
		dur_pos(g->next_pos++, &g->pl[p].x, &g->pl[p].y);
		g->pl[p].gone = false;
		ASSERT_OK(cairn_join(c, g->hunt, g->pl[p].x, g->pl[p].y, &g->pl[p].id, 10 * SEC));
	}
}

/* n pipelined moves, all acknowledged. */
static void game_moves(cairn_client *c, struct game *g, size_t n)
{
	struct cairn_msg *cmds = calloc(n, sizeof(*cmds)), *res = calloc(n, sizeof(*res));
	ASSERT_TRUE(cmds && res);
	for (size_t k = 0; k < n; k++) {
		struct dur_player *p = &g->pl[k % g->n];
		dur_pos(g->next_pos++, &p->x, &p->y);
		cairn_msg_move(&cmds[k], g->hunt, p->id, p->x, p->y);
	}
	dur_pipeline(c, cmds, res, n);
	for (size_t k = 0; k < n; k++) {
		dur_expect_reply(&res[k], CAIRN_MSG_MOVED, "MOVE");
	}
	free(cmds);
	free(res);
}

static struct cairn_snapshot_reply snapshot_now(cairn_client *c, const char *data)
{
	struct cairn_snapshot_reply s;
	struct cairn_wal_status before = dur_wal_status(c);
	uint64_t hash = dur_state_hash(c).hash;
	int r = dur_snapshot(c, &s);
	if (r < 0) {
		T_FAILF("SNAPSHOT: %d (%s)", r, cairn_strerror(r));
	}
	if (s.lsn != before.durable_lsn) {
		T_FAILF("SNAPSHOT_TAKEN at LSN %llu, the durable LSN was %llu",
			(unsigned long long)s.lsn, (unsigned long long)before.durable_lsn);
	}
	ASSERT_UEQ(s.state_hash, hash);
	ASSERT_UEQ(dur_wal_status(c).snapshot_lsn, s.lsn);
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/snapshots/snap-%020llu.snap", data,
		 (unsigned long long)s.lsn);
	if (stat(path, &st) < 0) {
		T_FAILF("SNAPSHOT_TAKEN at LSN %llu but %s: %s", (unsigned long long)s.lsn, path,
			strerror(errno));
	}
	ASSERT_UEQ((uint64_t)st.st_size, s.bytes);
	return s;
}

/*
 * Every segment that still holds records has one at or after first_needed. Returns how
 * many segments hold records, the lowest and highest of their sequence numbers.
 */
static size_t check_pruned(const char *data, uint64_t first_needed, uint64_t *min_seq,
			   uint64_t *max_seq)
{
	static char names[512][64];
	size_t nseg = dur_wal_segments(data, names, 512), with_records = 0;
	struct dur_rec *recs;
	size_t n = dur_wal_records(data, &recs);
	*min_seq = UINT64_MAX;
	*max_seq = 0;
	for (size_t s = 0; s < nseg; s++) {
		uint64_t max_lsn = 0, seq = 0;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(recs[i].file, names[s]) == 0) {
				max_lsn = recs[i].hdr.lsn;
				seq = recs[i].seq;
			}
		}
		if (!max_lsn) {
			continue;
		}
		with_records++;
		*min_seq = seq < *min_seq ? seq : *min_seq;
		*max_seq = seq > *max_seq ? seq : *max_seq;
		if (max_lsn < first_needed) {
			T_FAILF("%s holds records up to LSN %llu only, before the oldest snapshot "
				"kept (%llu): it should have been deleted",
				names[s], (unsigned long long)max_lsn,
				(unsigned long long)(first_needed - 1));
		}
	}
	free(recs);
	return with_records;
}

static void check_kept(const char *data, const uint64_t *want, size_t nwant)
{
	uint64_t lsns[64];
	size_t tmp, n = dur_snapshots(data, lsns, 64, &tmp);
	ASSERT_UEQ(tmp, 0);
	ASSERT_UEQ(n, nwant);
	for (size_t i = 0; i < n; i++) {
		ASSERT_UEQ(lsns[i], want[i]);
	}
}

static void check_snapshots(void)
{
	struct h_daemon *d = dur_start(SNAP_ARGS);
	cairn_client *c;
	struct game g;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	game_new(c, &g, 8);

	/* (a) on demand */
	uint64_t taken[5];
	struct cairn_snapshot_reply s = snapshot_now(c, d->data);
	taken[0] = s.lsn;
	h_ok("(a) SNAPSHOT_TAKEN at the durable LSN %llu, hash %016llx, %llu bytes, in %llu us",
	     (unsigned long long)s.lsn, (unsigned long long)s.state_hash,
	     (unsigned long long)s.bytes, (unsigned long long)(s.duration_ns / 1000));
	for (int i = 1; i < 5; i++) {
		game_moves(c, &g, 50);
		taken[i] = snapshot_now(c, d->data).lsn;
		ASSERT_GT(taken[i], taken[i - 1]);
	}
	check_kept(d->data, taken + 5 - KEEP, KEEP);
	h_ok("(a) 5 snapshots taken; the newest %d (LSN %llu, %llu) are kept, no .tmp left", KEEP,
	     (unsigned long long)taken[3], (unsigned long long)taken[4]);

	/* (b) periodic ones, across a segment rotation */
	game_moves(c, &g, 10000);
	struct cairn_wal_status ws;
	uint64_t deadline = h_now_ns() + 20 * (uint64_t)SEC;
	for (;;) {
		ws = dur_wal_status(c);
		if (ws.snapshot_lsn > taken[4] && ws.durable_lsn - ws.snapshot_lsn < 500) {
			break;
		}
		if (h_now_ns() > deadline) {
			T_FAILF("no periodic snapshot within 20 s: durable LSN %llu, newest "
				"snapshot "
				"%llu (--snapshot-records 500)",
				(unsigned long long)ws.durable_lsn,
				(unsigned long long)ws.snapshot_lsn);
		}
		h_sleep_us(20000);
	}
	uint64_t lsns[64], min_seq, max_seq;
	size_t tmp, n = dur_snapshots(d->data, lsns, 64, &tmp);
	ASSERT_LE(n, KEEP);
	ASSERT_GE(n, 1);
	ASSERT_UEQ(lsns[n - 1], ws.snapshot_lsn);
	size_t segs = check_pruned(d->data, lsns[0] + 1, &min_seq, &max_seq);
	/* 10000 records of 120 bytes do not fit one segment of 1 MiB. */
	ASSERT_GT(max_seq, 1);
	h_ok("(b) 10000 moves later: periodic snapshots, the newest at LSN %llu (durable %llu), "
	     "%zu kept (oldest %llu); segments #%llu..#%llu hold records (%zu), none of them "
	     "only records before the oldest snapshot",
	     (unsigned long long)ws.snapshot_lsn, (unsigned long long)ws.durable_lsn, n,
	     (unsigned long long)lsns[0], (unsigned long long)min_seq, (unsigned long long)max_seq,
	     segs);

	/* (c) restarts: each starts a new segment; recovery goes through the snapshots */
	for (int i = 0; i < 3; i++) {
		uint64_t hash = dur_state_hash(c).hash;
		ws = dur_wal_status(c);
		cairn_close(c);
		if (i == 1) {
			dur_kill(d);
		} else {
			h_stop(d);
		}
		dur_spawn(d, SNAP_ARGS);
		ASSERT_OK(cairn_open(d->sock, NULL, &c));
		struct cairn_wal_status ws2 = dur_wal_status(c);
		ASSERT_UEQ(ws2.durable_lsn, ws.durable_lsn);
		ASSERT_UEQ(dur_state_hash(c).hash, hash);
		dur_check_players(c, g.hunt, g.pl, g.n, "after a restart");
		game_moves(c, &g, 100);
	}
	taken[0] = snapshot_now(c, d->data).lsn;
	game_moves(c, &g, 10);
	taken[1] = snapshot_now(c, d->data).lsn;
	check_kept(d->data, taken, KEEP);
	segs = check_pruned(d->data, taken[0] + 1, &min_seq, &max_seq);
	/* Segment 1 ended before the rotation of (b), long before both snapshots kept. */
	ASSERT_GT(min_seq, 1);
	uint64_t hash = dur_state_hash(c).hash;
	uint64_t durable = dur_wal_status(c).durable_lsn;
	cairn_close(c);
	h_stop(d);
	dur_spawn(d, SNAP_ARGS);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_UEQ(dur_wal_status(c).durable_lsn, durable);
	ASSERT_UEQ(dur_wal_status(c).snapshot_lsn, taken[1]);
	ASSERT_UEQ(dur_state_hash(c).hash, hash);
	dur_check_players(c, g.hunt, g.pl, g.n, "after the last restart");
	cairn_close(c);
	h_stop(d);
	if (dur.replay) {
		/* The log no longer starts at LSN 1: the replay must start from a snapshot. */
		uint64_t lsn, rhash;
		dur_replay(d->data, 0, &lsn, &rhash);
		ASSERT_UEQ(lsn, durable);
		ASSERT_UEQ(rhash, hash);
		h_ok("(c) cairn-replay of the pruned data directory: LSN %llu, the daemon's hash",
		     (unsigned long long)lsn);
	}
	h_ok("(c) 3 restarts (one by SIGKILL) and 2 snapshots: the segments before LSN %llu are "
	     "deleted (left with records: #%llu..#%llu, %zu of them), and the state recovered "
	     "each time with the same hash",
	     (unsigned long long)taken[0], (unsigned long long)min_seq, (unsigned long long)max_seq,
	     segs);
}

/* ---- rollback ---- */

static struct cairn_player_info info_of(cairn_client *c, uint32_t hunt, uint32_t id)
{
	struct cairn_player_info pi;
	int r = cairn_player_state(c, hunt, id, &pi, 10 * SEC);
	if (r < 0) {
		T_FAILF("PLAYER_STATE of %08x in hunt %08x: %d (%s)", id, hunt, r,
			cairn_strerror(r));
	}
	return pi;
}

static void expect_info(cairn_client *c, uint32_t hunt, const struct cairn_player_info *want,
			const char *when)
{
	struct cairn_player_info pi = info_of(c, hunt, want->player_id);
	if (pi.x != want->x || pi.y != want->y || pi.score != want->score ||
	    pi.claims != want->claims || pi.stamp_ns != want->stamp_ns) {
		T_FAILF("%s: player %08x at (%d, %d) score %lld claims %u stamp %llu; expected "
			"(%d, %d) score %lld claims %u stamp %llu",
			when, want->player_id, pi.x, pi.y, (long long)pi.score, pi.claims,
			(unsigned long long)pi.stamp_ns, want->x, want->y, (long long)want->score,
			want->claims, (unsigned long long)want->stamp_ns);
	}
}

#define RB_PLAYERS 6
#define RB_CLUES   4

struct rb_state {
	uint32_t hunt, hunt2;
	uint32_t players[RB_PLAYERS], later[3], others[2];
	struct cairn_player_info at_l[RB_PLAYERS], others_now[2];
	struct cairn_hunt_info info_l;
	uint64_t lsn, hash_l;
};

static void move_to(cairn_client *c, uint32_t hunt, uint32_t id, int32_t x, int32_t y,
		    uint8_t outcome)
{
	struct cairn_moved mv;
	ASSERT_OK(cairn_move(c, hunt, id, x, y, &mv, 10 * SEC));
	ASSERT_EQ(mv.outcome, outcome);
}

static void check_rolled_back(cairn_client *c, const struct rb_state *s, const char *when)
{
	for (int p = 0; p < RB_PLAYERS; p++) {
		expect_info(c, s->hunt, &s->at_l[p], when);
	}
	for (int p = 0; p < 3; p++) {
		struct cairn_player_info pi;
		ASSERT_CODE(cairn_player_state(c, s->hunt, s->later[p], &pi, 10 * SEC),
			    CAIRN_E_UNKNOWN_PLAYER);
	}
	for (int p = 0; p < 2; p++) {
		expect_info(c, s->hunt2, &s->others_now[p], when);
	}
	struct cairn_hunt_info hi;
	ASSERT_OK(cairn_read_hunt(c, s->hunt, &hi));
	ASSERT_UEQ(hi.players, s->info_l.players);
	ASSERT_UEQ(hi.clues, s->info_l.clues);
	ASSERT_UEQ(hi.clues_claimed, s->info_l.clues_claimed);
}

/* WAL_STATUS is held to the schema like every command: no flags, no payload. */
static void check_wal_status_refusals(cairn_client *c)
{
	struct cairn_msg m, res;
	cairn_msg_init(&m, CAIRN_MSG_WAL_STATUS, 0);
	m.hdr.flags = 0x80;
	ASSERT_CODE(cairn_call(c, &m, &res, 10 * SEC), CAIRN_E_BAD_FLAGS);
	cairn_msg_init(&m, CAIRN_MSG_WAL_STATUS, 8);
	ASSERT_CODE(cairn_call(c, &m, &res, 10 * SEC), CAIRN_E_BAD_LENGTH);
}

static void check_rollback(void)
{
	struct h_daemon *d = dur_start(PLAIN_ARGS);
	struct rb_state s;
	cairn_client *c;
	struct cairn_events ev;
	struct cairn_hunt_created hc;
	uint32_t clues[RB_CLUES + 2];
	int32_t x, y;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_OK(cairn_events_open(c, &ev));

	/* The hunt up to L: players, clues, moves, one claim; and a second hunt. */
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 10 * SEC));
	s.hunt = hc.hunt_id;
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 10 * SEC));
	s.hunt2 = hc.hunt_id;
	for (int p = 0; p < RB_PLAYERS; p++) {
		dur_pos((uint64_t)p, &x, &y);
		ASSERT_OK(cairn_join(c, s.hunt, x, y, &s.players[p], 10 * SEC));
	}
	int32_t cx[RB_CLUES + 2], cy[RB_CLUES + 2];
	for (int i = 0; i < RB_CLUES + 2; i++) {
		dur_pos(200 + (uint64_t)i, &cx[i], &cy[i]);
	}
	for (int i = 0; i < RB_CLUES; i++) {
		ASSERT_OK(cairn_clue_place(c, s.hunt, cx[i], cy[i], 10 * (i + 1), &clues[i],
					   10 * SEC));
	}
	for (int p = 0; p < 2; p++) {
		dur_pos(400 + (uint64_t)p, &x, &y);
		ASSERT_OK(cairn_join(c, s.hunt2, x, y, &s.others[p], 10 * SEC));
	}
	for (int k = 0; k < 30; k++) {
		dur_pos(300 + (uint64_t)k, &x, &y);
		ASSERT_OK(cairn_move(c, s.hunt, s.players[k % RB_PLAYERS], x, y, NULL, 10 * SEC));
	}
	move_to(c, s.hunt, s.players[0], cx[0], cy[0], CAIRN_CLAIM_WON);

	s.lsn = dur_wal_status(c).durable_lsn;
	s.hash_l = dur_state_hash(c).hash;
	for (int p = 0; p < RB_PLAYERS; p++) {
		s.at_l[p] = info_of(c, s.hunt, s.players[p]);
	}
	ASSERT_OK(cairn_read_hunt(c, s.hunt, &s.info_l));
	ASSERT_UEQ(s.info_l.players, RB_PLAYERS);
	ASSERT_UEQ(s.info_l.clues, RB_CLUES);
	ASSERT_UEQ(s.info_l.clues_claimed, 1);

	/* After L: everything a hunt can go through. */
	for (int k = 0; k < 40; k++) {
		dur_pos(600 + (uint64_t)k, &x, &y);
		ASSERT_OK(cairn_move(c, s.hunt, s.players[k % RB_PLAYERS], x, y, NULL, 10 * SEC));
	}
	for (int p = 0; p < 3; p++) {
		dur_pos(700 + (uint64_t)p, &x, &y);
		ASSERT_OK(cairn_join(c, s.hunt, x, y, &s.later[p], 10 * SEC));
	}
	ASSERT_OK(cairn_leave(c, s.hunt, s.players[4], NULL, 10 * SEC));
	ASSERT_OK(cairn_leave(c, s.hunt, s.players[5], NULL, 10 * SEC));
	for (int i = RB_CLUES; i < RB_CLUES + 2; i++) {
		ASSERT_OK(cairn_clue_place(c, s.hunt, cx[i], cy[i], 100, &clues[i], 10 * SEC));
	}
	ASSERT_OK(cairn_clue_remove(c, s.hunt, clues[1], NULL, 10 * SEC));
	move_to(c, s.hunt, s.players[1], cx[2], cy[2], CAIRN_CLAIM_WON);
	for (int p = 0; p < 2; p++) {
		dur_pos(800 + (uint64_t)p, &x, &y);
		ASSERT_OK(cairn_move(c, s.hunt2, s.others[p], x, y, NULL, 10 * SEC));
		s.others_now[p] = info_of(c, s.hunt2, s.others[p]);
	}

	/* (d) the rollback */
	struct cairn_rollback_reply rb;
	int r = dur_rollback(c, s.hunt, s.lsn, &rb);
	if (r < 0) {
		T_FAILF("ROLLBACK of hunt %08x to LSN %llu: %d (%s)", s.hunt,
			(unsigned long long)s.lsn, r, cairn_strerror(r));
	}
	struct cairn_wal_status ws = dur_wal_status(c);
	ASSERT_UEQ(rb.hunt_id, s.hunt);
	ASSERT_UEQ(rb.target_lsn, s.lsn);
	ASSERT_UEQ(rb.players, RB_PLAYERS);
	ASSERT_UEQ(rb.clues, RB_CLUES);
	ASSERT_GT(rb.lsn, s.lsn);
	ASSERT_UEQ(rb.lsn, ws.durable_lsn);
	check_rolled_back(c, &s, "after ROLLBACK");
	bool seen = false;
	uint64_t deadline = h_now_ns() + 5 * (uint64_t)SEC;
	while (!seen && h_now_ns() < deadline) {
		struct cairn_event e[64];
		int k = cairn_events_wait(c, &ev, 100 * MS);
		if (k == -ETIMEDOUT) {
			continue;
		}
		ASSERT_OK(k);
		k = cairn_events_read(c, &ev, e, 64);
		ASSERT_OK(k);
		for (int i = 0; i < k; i++) {
			if (e[i].type == CAIRN_EVENT_HUNT_ROLLED_BACK) {
				ASSERT_UEQ(e[i].hunt_id, s.hunt);
				ASSERT_UEQ((uint64_t)e[i].value, s.lsn);
				seen = true;
			}
		}
	}
	if (!seen) {
		T_FAILF("no HUNT_ROLLED_BACK event for hunt %08x within 5 s", s.hunt);
	}
	uint64_t hash = dur_state_hash(c).hash;
	h_ok("(d) ROLLBACK of hunt %08x to LSN %llu, logged as LSN %llu: %u players, %u clues "
	     "as at L; every player as it was, the later ones gone, the other hunt untouched; "
	     "HUNT_ROLLED_BACK on the feed",
	     s.hunt, (unsigned long long)s.lsn, (unsigned long long)rb.lsn, rb.players, rb.clues);

	/* (e) the rollback is in the log */
	cairn_close(c);
	dur_kill(d);
	dur_spawn(d, PLAIN_ARGS);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_UEQ(dur_wal_status(c).durable_lsn, rb.lsn);
	ASSERT_UEQ(dur_state_hash(c).hash, hash);
	check_rolled_back(c, &s, "after kill -9 and a restart");
	h_ok("(e) after kill -9 and a restart: LSN %llu, the same state and hash %016llx",
	     (unsigned long long)rb.lsn, (unsigned long long)hash);

	/* (f) refusals */
	ASSERT_CODE(dur_rollback(c, s.hunt, rb.lsn + 1000, &rb), CAIRN_E_ROLLBACK_RANGE);
	ASSERT_CODE(dur_rollback(c, 0x7F000123u, s.lsn, &rb), CAIRN_E_UNKNOWN_HUNT);
	struct cairn_msg two[2], res;
	dur_msg_rollback(&two[0], s.hunt, s.lsn);
	dur_msg_rollback(&two[1], s.hunt, s.lsn);
	ASSERT_EQ(cairn_submit_batch(c, two, 2), 2);
	ASSERT_OK(cairn_wait(c, &res, 30 * SEC));
	ASSERT_UEQ(res.hdr.request_id, two[0].hdr.request_id);
	dur_expect_reply(&res, CAIRN_MSG_ROLLED_BACK, "the first of two ROLLBACKs");
	ASSERT_OK(cairn_wait(c, &res, 30 * SEC));
	ASSERT_UEQ(res.hdr.request_id, two[1].hdr.request_id);
	int second = dur_result_code(&res);
	if (second != 0 && second != -CAIRN_E_BUSY) {
		T_FAILF("the second of two ROLLBACKs sent together: %d (%s), expected BUSY or "
			"ROLLED_BACK",
			second, cairn_strerror(second));
	}
	check_rolled_back(c, &s, "after two more ROLLBACKs");
	check_wal_status_refusals(c);
	hash = dur_state_hash(c).hash;
	uint64_t durable = dur_wal_status(c).durable_lsn;
	cairn_close(c);
	h_ok("(f) ROLLBACK beyond the durable LSN: ROLLBACK_RANGE; of an unknown hunt: "
	     "UNKNOWN_HUNT; two together: the second %s; WAL_STATUS with flags or a payload: "
	     "BAD_FLAGS, BAD_LENGTH",
	     second ? "BUSY" : "done too");

	h_stop(d);
	if (dur.replay) {
		uint64_t lsn1, hash1, lsn2, hash2, lsn_l, hash_l;
		dur_replay(d->data, 0, &lsn1, &hash1);
		dur_replay(d->data, 0, &lsn2, &hash2);
		dur_replay(d->data, s.lsn, &lsn_l, &hash_l);
		ASSERT_UEQ(lsn1, durable);
		ASSERT_UEQ(hash1, hash);
		ASSERT_UEQ(lsn2, lsn1);
		ASSERT_UEQ(hash2, hash1);
		ASSERT_UEQ(lsn_l, s.lsn);
		ASSERT_UEQ(hash_l, s.hash_l);
		h_ok("(e) cairn-replay of the data directory: LSN %llu hash %016llx as the daemon "
		     "(twice), and --until %llu gives the hash the daemon had then",
		     (unsigned long long)lsn1, (unsigned long long)hash1,
		     (unsigned long long)s.lsn);
	} else {
		printf("note: cairn-replay is not built: the replay checks were skipped\n");
	}
}

static void check_no_store(void)
{
	struct h_daemon *d = dur_start(H_ARGS("--durability", "none"));
	cairn_client *c;
	struct cairn_snapshot_reply snap;
	struct cairn_rollback_reply rb;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 10 * SEC));
	ASSERT_CODE(dur_snapshot(c, &snap), CAIRN_E_NO_STORE);
	ASSERT_CODE(dur_rollback(c, hc.hunt_id, 1, &rb), CAIRN_E_NO_STORE);
	struct cairn_wal_status ws = dur_wal_status(c);
	ASSERT_UEQ(ws.backend, CAIRN_WAL_NONE);
	ASSERT_UEQ(ws.durability, CAIRN_DURABILITY_NONE);
	check_wal_status_refusals(c);
	cairn_close(c);
	h_stop(d);
	h_ok("(f) --durability=none: SNAPSHOT and ROLLBACK answered NO_STORE; WAL_STATUS says "
	     "no log, and refuses flags and a payload there too");
}

int main(int argc, char **argv)
{
	dur_init(argc, argv, "snapshot_rollback", true);
	check_snapshots();
	check_rollback();
	check_no_store();
	h_pass();
}
