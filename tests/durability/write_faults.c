/*
 * write_faults: when the log cannot be written, cairnd stops acknowledging changes and
 * says so, keeps answering reads, and a restart holds exactly what was acknowledged.
 *
 * Each case starts cairnd with a fault to come, then makes changes one at a time (a
 * hunt, 4 joins, then moves) until one is answered WAL_FAILED, and checks:
 *  - from then on every state-changing command (MOVE, JOIN, LEAVE, CLUE_PLACE,
 *    HUNT_CREATE, HUNT_DESTROY, pipelined MOVEs, SNAPSHOT, ROLLBACK) is answered
 *    WAL_FAILED: nothing is acknowledged after the fault;
 *  - reads are answered: PING, PLAYER_STATE, STATE_HASH, and WAL_STATUS with the error
 *    and the durable LSN of the last acknowledged change; a new client can attach;
 *  - the daemon keeps running and its log says why (the error's text);
 *  - after a stop and a restart without the fault, the state holds every acknowledged
 *    change and none that was refused up front; the one in flight at the fault (its
 *    write done, its sync failed) may or may not be there; the log takes changes again.
 *
 * The faults:
 *   CAIRN_WAL_FAULT=sync:K:EIO and write:K:ENOSPC (the daemon's test hook, wal.h), for
 *   both backends;
 *   `write_faults CAIRND sync strace`: a real one, strace -e inject=fdatasync:error=EIO
 *   on the K-th fdatasync of a thread and every later one (sync backend only; skipped
 *   when strace is missing or may not trace here).
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dur.h"

#define PLAYERS    4
#define MAX_CHANGE 3000
#define FAULT_AT   "24"

static const char *const ARGS[] = {"--snapshot-records", "0", "--snapshot-every-s", "0", NULL};

struct fault_case {
	const char *what;
	const char *env;            /* CAIRN_WAL_FAULT, or NULL */
	const char *const *wrapper; /* or NULL */
	int err;                    /* the errno the log fails with */
};

static void expect_refused(int r, const char *what)
{
	if (r != -CAIRN_E_WAL_FAILED) {
		T_FAILF("after the fault, %s was answered %d (%s), expected WAL_FAILED", what, r,
			r == 0 ? "acknowledged" : cairn_strerror(r));
	}
}

static void run_case(const struct fault_case *fc)
{
	struct h_daemon *d = h_prepare();
	struct dur_player pl[PLAYERS];
	struct cairn_msg m, res;
	uint32_t hunt = 0;
	uint64_t acked = 0;
	unsigned joins = 0, change;
	int r = 0;

	if (fc->env) {
		setenv("CAIRN_WAL_FAULT", fc->env, 1);
	}
	dur_spawn_wrapped(d, fc->wrapper, ARGS);
	unsetenv("CAIRN_WAL_FAULT");
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));

	/* Changes one by one, each its own batch, until the log fails. */
	for (change = 0; change < MAX_CHANGE; change++) {
		int32_t x, y;
		dur_pos(change, &x, &y);
		if (change == 0) {
			cairn_msg_hunt_create(&m, NULL);
		} else if (change <= PLAYERS) {
			cairn_msg_join(&m, hunt, x, y);
		} else {
			cairn_msg_move(&m, hunt, pl[change % PLAYERS].id, x, y);
		}
		r = dur_call(c, &m, &res);
		if (r == -CAIRN_E_WAL_FAILED) {
			break;
		}
		if (r < 0) {
			T_FAILF("change %u (type 0x%x) before the fault: %d (%s)", change,
				m.hdr.type, r, cairn_strerror(r));
		}
		acked++;
		if (change == 0) {
			struct cairn_hunt_created hc;
			memcpy(&hc, res.payload, sizeof(hc));
			hunt = hc.hunt_id;
		} else if (change <= PLAYERS) {
			struct cairn_joined j;
			memcpy(&j, res.payload, sizeof(j));
			pl[joins] = (struct dur_player){.id = j.player_id, .x = x, .y = y};
			joins++;
		} else {
			pl[change % PLAYERS].x = x;
			pl[change % PLAYERS].y = y;
		}
	}
	if (change == MAX_CHANGE) {
		T_FAILF("%s: %u changes were all acknowledged; the fault never came", fc->what,
			MAX_CHANGE);
	}
	if (change <= PLAYERS) {
		T_FAILF("%s: the fault came at change %u, before the game was set up (the test "
			"needs a later one)",
			fc->what, change);
	}
	h_ok("%s: %llu changes acknowledged, change %u answered WAL_FAILED", fc->what,
	     (unsigned long long)acked, change);

	/* Nothing is acknowledged any more. */
	for (unsigned k = 0; k < 16; k++) {
		int32_t x, y;
		dur_pos(50000 + k, &x, &y);
		cairn_msg_move(&m, hunt, pl[k % PLAYERS].id, x, y);
		expect_refused(dur_call(c, &m, &res), "a MOVE");
	}
	int32_t fx, fy;
	dur_pos(60000, &fx, &fy);
	cairn_msg_join(&m, hunt, fx, fy);
	expect_refused(dur_call(c, &m, &res), "a JOIN");
	cairn_msg_leave(&m, hunt, pl[0].id);
	expect_refused(dur_call(c, &m, &res), "a LEAVE");
	cairn_msg_clue_place(&m, hunt, fx, fy, 10);
	expect_refused(dur_call(c, &m, &res), "a CLUE_PLACE");
	cairn_msg_hunt_create(&m, NULL);
	expect_refused(dur_call(c, &m, &res), "a HUNT_CREATE");
	cairn_msg_hunt_destroy(&m, hunt);
	expect_refused(dur_call(c, &m, &res), "a HUNT_DESTROY");
	static struct cairn_msg burst[200], burst_res[200];
	for (unsigned k = 0; k < 200; k++) {
		int32_t x, y;
		dur_pos(70000 + k, &x, &y);
		cairn_msg_move(&burst[k], hunt, pl[k % PLAYERS].id, x, y);
	}
	dur_pipeline(c, burst, burst_res, 200);
	for (unsigned k = 0; k < 200; k++) {
		expect_refused(dur_result_code(&burst_res[k]), "a pipelined MOVE");
	}
	struct cairn_snapshot_reply snap;
	expect_refused(dur_snapshot(c, &snap), "a SNAPSHOT");
	struct cairn_rollback_reply rb;
	expect_refused(dur_rollback(c, hunt, 1, &rb), "a ROLLBACK");
	h_ok("%s: 16 MOVEs, a JOIN, LEAVE, CLUE_PLACE, HUNT_CREATE, HUNT_DESTROY, 200 pipelined "
	     "MOVEs, a SNAPSHOT and a ROLLBACK were all answered WAL_FAILED",
	     fc->what);

	/* Reads go on. */
	ASSERT_OK(cairn_ping(c, 10 * SEC));
	for (unsigned p = 0; p < PLAYERS; p++) {
		struct cairn_player_info pi;
		ASSERT_OK(cairn_player_state(c, hunt, pl[p].id, &pi, 10 * SEC));
	}
	struct cairn_state_hash_reply sh = dur_state_hash(c);
	(void)sh;
	struct cairn_wal_status ws = dur_wal_status(c);
	if (ws.error != -fc->err) {
		T_FAILF("%s: WAL_STATUS error is %d, expected %d (%s)", fc->what, ws.error,
			-fc->err, strerror(fc->err));
	}
	ASSERT_UEQ(ws.durable_lsn, acked);
	cairn_client *c2;
	ASSERT_OK(cairn_open(d->sock, NULL, &c2));
	ASSERT_OK(cairn_ping(c2, 10 * SEC));
	ASSERT_EQ(dur_wal_status(c2).error, -fc->err);
	cairn_close(c2);
	if (h_wait_exit(d, 0)) {
		T_FAILF("%s: cairnd exited after the fault (status 0x%x)", fc->what, d->status);
	}
	char line[1024];
	if (!dur_log_find(d, 0, H_ARGS("write-ahead log failed", strerror(fc->err)), line,
			  sizeof(line), 2000)) {
		T_FAILF("%s: the daemon's log has no line saying that the write-ahead log failed "
			"with \"%s\"",
			fc->what, strerror(fc->err));
	}
	h_ok("%s: PING, PLAYER_STATE, STATE_HASH answered; WAL_STATUS error %d, durable LSN %llu "
	     "= the acknowledged changes; a new client attached; the daemon runs and logged "
	     "\"%s\"",
	     fc->what, ws.error, (unsigned long long)ws.durable_lsn, line);
	cairn_close(c);

	/* Fix the disk, restart: exactly the acknowledged changes are there. */
	h_signal(d, SIGTERM);
	if (!h_wait_exit(d, 15000)) {
		T_FAILF("%s: cairnd did not exit within 15 s of SIGTERM after the fault", fc->what);
	}
	printf("%s: after SIGTERM the daemon exited with status 0x%x\n", fc->what, d->status);
	dur_spawn(d, ARGS);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ws = dur_wal_status(c);
	ASSERT_EQ(ws.error, 0);
	/*
	 * The change answered WAL_FAILED was written but its sync failed: whether its record
	 * reached the disk is unknown (WAL_FAILED says "not acknowledged", not "undone"), so
	 * the restart may find it. Every acknowledged change must be there, and nothing but
	 * that one besides.
	 */
	if (ws.durable_lsn != acked && ws.durable_lsn != acked + 1) {
		T_FAILF("%s: after the restart the log holds LSN %llu, but %llu changes were "
			"acknowledged and one more was in flight at the fault: %s",
			fc->what, (unsigned long long)ws.durable_lsn, (unsigned long long)acked,
			ws.durable_lsn > acked ? "changes refused after the fault were recovered"
					       : "acknowledged changes were lost");
	}
	if (ws.durable_lsn == acked + 1) {
		int32_t lx, ly;
		dur_pos(change, &lx, &ly);
		pl[change % PLAYERS].x = lx;
		pl[change % PLAYERS].y = ly;
		printf("%s: the change in flight at the fault reached the disk after all\n",
		       fc->what);
	}
	uint64_t base = ws.durable_lsn;
	dur_check_players(c, hunt, pl, PLAYERS, "after the restart");
	sh = dur_state_hash(c);
	ASSERT_UEQ(sh.hunts, 1);
	ASSERT_UEQ(sh.entities, PLAYERS);
	int32_t x, y;
	dur_pos(80000, &x, &y);
	ASSERT_OK(cairn_move(c, hunt, pl[0].id, x, y, NULL, 10 * SEC));
	ASSERT_UEQ(dur_wal_status(c).durable_lsn, base + 1);
	cairn_close(c);
	h_stop(d);
	h_ok("%s: after a restart without the fault: every acknowledged change and none of the "
	     "refused ones, and the log takes changes again",
	     fc->what);
}

static void strace_usable(void)
{
	char out[4096];
	int st = dur_run(H_ARGS("strace", "-f", "-o", "/dev/null", "-e",
				"inject=fdatasync:error=EIO:when=1000+", "true"),
			 out, sizeof(out), 30000);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		T_SKIP_BECAUSE("strace cannot run a traced program here (status 0x%x): %s", st,
			       out[0] ? out : "(no output; is strace installed?)");
	}
}

int main(int argc, char **argv)
{
	bool use_strace = argc == 4 && strcmp(argv[3], "strace") == 0;
	dur_init(use_strace ? 3 : argc, argv, use_strace ? "write_faults_strace" : "write_faults",
		 true);
	if (use_strace) {
		if (strcmp(dur.backend, "sync") != 0) {
			T_SKIP_BECAUSE(
				"strace injects into fdatasync calls: the sync backend only");
		}
		strace_usable();
		const struct fault_case fc = {
			.what = "strace fdatasync EIO from the " FAULT_AT "th on",
			.wrapper = H_ARGS("strace", "-f", "-o", "/dev/null", "-e",
					  "inject=fdatasync:error=EIO:when=" FAULT_AT "+"),
			.err = EIO,
		};
		run_case(&fc);
		h_pass();
	}
	const struct fault_case cases[] = {
		{.what = "CAIRN_WAL_FAULT=write:" FAULT_AT ":ENOSPC",
		 .env = "write:" FAULT_AT ":ENOSPC",
		 .err = ENOSPC},
		{.what = "CAIRN_WAL_FAULT=sync:" FAULT_AT ":EIO",
		 .env = "sync:" FAULT_AT ":EIO",
		 .err = EIO},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i]);
	}
	h_pass();
}
