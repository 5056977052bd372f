/*
 * relaxed: --durability=relaxed --flush-ms 20 publishes results at once, without
 * waiting for the disk, and a clean stop writes out everything acknowledged.
 *
 *  (a) WAL_STATUS says RELAXED; a MOVE's round trip completes (no timing is asserted:
 *      only that results come without anything else happening);
 *  (b) a few thousand pipelined changes, then SIGTERM at once: the daemon exits 0 and,
 *      restarted (relaxed again, then in sync mode on the same data directory), holds
 *      every acknowledged change.
 *
 * Not tested, by design: a SIGKILL (or a power cut) in relaxed mode may lose the
 * acknowledged changes of the last --flush-ms (plus the fdatasync in flight), which is
 * the documented price of the mode; only a clean stop promises them.
 */
#include <stdio.h>

#include "dur.h"

#define PLAYERS 12
#define MOVES   3000

int main(int argc, char **argv)
{
	dur_init(argc, argv, "relaxed", true);
	struct h_daemon *d = h_prepare();
	char data[160];
	snprintf(data, sizeof(data), "%s/data", d->dir);
	/* The data directory is named, so that both starts share it. */
	const char *const relaxed[] = {"--durability", "relaxed", "--flush-ms", "20",
				       "--data-dir",   data,      NULL};
	const char *const sync_mode[] = {"--durability", "sync", "--data-dir", data, NULL};
	dur_spawn(d, relaxed);

	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	struct cairn_wal_status ws = dur_wal_status(c);
	ASSERT_UEQ(ws.durability, CAIRN_DURABILITY_RELAXED);
	ASSERT_UEQ(ws.backend,
		   strcmp(dur.backend, "sync") == 0 ? CAIRN_WAL_SYNC : CAIRN_WAL_IO_URING);
	struct cairn_hunt_created hc;
	struct dur_player pl[PLAYERS];
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 10 * SEC));
	for (unsigned p = 0; p < PLAYERS; p++) {
		dur_pos(p, &pl[p].x, &pl[p].y);
		pl[p].gone = false;
		ASSERT_OK(cairn_join(c, hc.hunt_id, pl[p].x, pl[p].y, &pl[p].id, 10 * SEC));
	}
	struct cairn_moved mv;
	int32_t x, y;
	dur_pos(77, &x, &y);
	ASSERT_OK(cairn_move(c, hc.hunt_id, pl[0].id, x, y, &mv, 10 * SEC));
	ASSERT_EQ(mv.x, x);
	ASSERT_EQ(mv.y, y);
	pl[0].x = x;
	pl[0].y = y;
	h_ok("(a) relaxed mode on the %s backend: a MOVE round trip completed", dur.backend);

	static struct cairn_msg cmds[MOVES], res[MOVES];
	for (unsigned k = 0; k < MOVES; k++) {
		dur_pos(1000 + k, &x, &y);
		cairn_msg_move(&cmds[k], hc.hunt_id, pl[k % PLAYERS].id, x, y);
	}
	dur_pipeline(c, cmds, res, MOVES);
	for (unsigned k = 0; k < MOVES; k++) {
		struct cairn_move m;
		dur_expect_reply(&res[k], CAIRN_MSG_MOVED, "MOVE");
		memcpy(&m, cmds[k].payload, sizeof(m));
		pl[k % PLAYERS].x = m.x;
		pl[k % PLAYERS].y = m.y;
	}
	const uint64_t changes = 1 + PLAYERS + 1 + MOVES;
	ws = dur_wal_status(c);
	ASSERT_UEQ(ws.appended_lsn, changes);
	ASSERT_LE(ws.durable_lsn, ws.appended_lsn);
	uint64_t hash = dur_state_hash(c).hash;
	cairn_close(c);
	/* At once: some of it may not be written yet. */
	h_stop(d);

	const char *const *modes[] = {relaxed, sync_mode};
	for (int i = 0; i < 2; i++) {
		dur_spawn(d, modes[i]);
		ASSERT_OK(cairn_open(d->sock, NULL, &c));
		ws = dur_wal_status(c);
		ASSERT_UEQ(ws.durable_lsn, changes);
		ASSERT_UEQ(ws.durability,
			   i == 0 ? CAIRN_DURABILITY_RELAXED : CAIRN_DURABILITY_SYNC);
		ASSERT_UEQ(dur_state_hash(c).hash, hash);
		dur_check_players(c, hc.hunt_id, pl, PLAYERS, "after SIGTERM and a restart");
		cairn_close(c);
		h_stop(d);
		h_ok("(b) %s restart after SIGTERM: all %llu acknowledged changes there, same "
		     "state "
		     "hash",
		     i == 0 ? "relaxed" : "sync", (unsigned long long)changes);
	}
	h_pass();
}
