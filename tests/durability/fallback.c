/*
 * fallback: with io_uring made unavailable (CAIRN_WAL_NO_URING=1, which the daemon's
 * probe honours), --wal-backend=auto chooses the sync backend, logs that and why, and
 * the log works: changes made then survive a SIGKILL, and a later start that may use
 * io_uring again continues the same log (both backends write the same bytes).
 */
#include <signal.h>
#include <stdlib.h>

#include "dur.h"

#define PLAYERS 8
#define MOVES   400

int main(int argc, char **argv)
{
	dur_init(argc, argv, "fallback", false);
	struct h_daemon *d = h_prepare();
	char line[1024];

	setenv("CAIRN_WAL_NO_URING", "1", 1);
	dur_spawn(d, NULL);
	unsetenv("CAIRN_WAL_NO_URING");
	if (!dur_log_find(d, 0, H_ARGS("write-ahead log: sync backend ("), line, sizeof(line),
			  2000)) {
		T_FAILF("with CAIRN_WAL_NO_URING=1 the daemon's log does not say \"write-ahead "
			"log: sync backend (why)\"");
	}
	/* The reason: what stands between the parentheses. */
	const char *why = strstr(line, "sync backend (") + strlen("sync backend (");
	ASSERT_TRUE(*why != ')' && *why != '\0');
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	struct cairn_wal_status ws = dur_wal_status(c);
	ASSERT_UEQ(ws.backend, CAIRN_WAL_SYNC);
	ASSERT_UEQ(ws.durability, CAIRN_DURABILITY_SYNC);
	h_ok("CAIRN_WAL_NO_URING=1: \"%s\"; WAL_STATUS says backend SYNC", line);

	/* A quick round of changes on the sync backend, then kill -9. */
	struct cairn_hunt_created hc;
	struct dur_player pl[PLAYERS];
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 10 * SEC));
	for (unsigned p = 0; p < PLAYERS; p++) {
		dur_pos(p, &pl[p].x, &pl[p].y);
		pl[p].gone = false;
		ASSERT_OK(cairn_join(c, hc.hunt_id, pl[p].x, pl[p].y, &pl[p].id, 10 * SEC));
	}
	static struct cairn_msg cmds[MOVES], res[MOVES];
	for (unsigned k = 0; k < MOVES; k++) {
		int32_t x, y;
		dur_pos(500 + k, &x, &y);
		cairn_msg_move(&cmds[k], hc.hunt_id, pl[k % PLAYERS].id, x, y);
	}
	dur_pipeline(c, cmds, res, MOVES);
	for (unsigned k = 0; k < MOVES; k++) {
		dur_expect_reply(&res[k], CAIRN_MSG_MOVED, "MOVE");
		struct cairn_move mv;
		memcpy(&mv, cmds[k].payload, sizeof(mv));
		pl[k % PLAYERS].x = mv.x;
		pl[k % PLAYERS].y = mv.y;
	}
	uint64_t lsn = dur_wal_status(c).durable_lsn;
	ASSERT_UEQ(lsn, 1 + PLAYERS + MOVES);
	uint64_t hash = dur_state_hash(c).hash;
	cairn_close(c);
	dur_kill(d);

	/* Recovered on the sync backend again, then on whatever auto picks without the switch. */
	for (int round = 0; round < 2; round++) {
		if (round == 0) {
			setenv("CAIRN_WAL_NO_URING", "1", 1);
		}
		off_t mark = dur_log_mark(d);
		dur_spawn(d, NULL);
		unsetenv("CAIRN_WAL_NO_URING");
		ASSERT_OK(cairn_open(d->sock, NULL, &c));
		ws = dur_wal_status(c);
		ASSERT_UEQ(ws.durable_lsn, lsn);
		ASSERT_UEQ(dur_state_hash(c).hash, hash);
		dur_check_players(c, hc.hunt_id, pl, PLAYERS, "after kill -9 and a restart");
		int32_t x, y;
		dur_pos(9000 + (uint64_t)round, &x, &y);
		ASSERT_OK(cairn_move(c, hc.hunt_id, pl[0].id, x, y, NULL, 10 * SEC));
		pl[0].x = x;
		pl[0].y = y;
		lsn++;
		ASSERT_UEQ(dur_wal_status(c).durable_lsn, lsn);
		hash = dur_state_hash(c).hash;
		ASSERT_TRUE(
			dur_log_find(d, mark, H_ARGS("write-ahead log: "), line, sizeof(line), 0));
		if (round == 0) {
			ASSERT_UEQ(ws.backend, CAIRN_WAL_SYNC);
		}
		cairn_close(c);
		h_ok("%s: recovered all %llu records after kill -9 (same state hash), and logged "
		     "one more; \"%s\"",
		     round == 0 ? "restart with CAIRN_WAL_NO_URING=1" : "restart without it",
		     (unsigned long long)(lsn - 1), line);
		if (round == 0) {
			dur_kill(d);
		} else {
			h_stop(d);
		}
	}
	h_pass();
}
