/*
 * exactly_once: a request resubmitted after a daemon restart gets its original result
 * and is not applied a second time.
 *
 *  (a) a raw lane with session S creates a hunt (request id 1) and joins 10 players
 *      (ids 2..11); cairnd is killed with SIGKILL and restarted; the same session
 *      resubmits the same 11 commands and gets byte-identical results; the hunt holds
 *      exactly 10 players (read from the grid), and nothing new was logged;
 *  (b) a new request id applies normally, and resubmitting it again in the same life
 *      of the daemon changes nothing either;
 *  (c) the key is (session, request id): another session sending the same ids gets
 *      new players;
 *  (d) a session attached on one lane cannot attach on a second (SESSION_IN_USE); once
 *      the first lane is gone it can, and its results are still there;
 *  (e) libcairn: cairn_daemon_info shows the welcome (session, window, durable LSN);
 *      300 JOINs are submitted and cairnd is killed with SIGKILL once the log holds some
 *      of them (the rest unanswered or never taken: the result ring has 64 slots and the
 *      test does not read until the restart); after a restart the client reattaches
 *      with its session and resubmits: every JOIN gets exactly one result, all JOINED,
 *      with distinct players, and the hunt holds exactly those;
 *  (f) the welcome tells a reconnecting session that the daemon knew it (resumed).
 */
#include <errno.h>
#include <signal.h>

#include "dur.h"

#define PLAYERS 10

static void attach(const struct h_daemon *d, uint64_t session, struct h_raw *r)
{
	struct cairn_hello hello;
	h_hello_default(&hello, "exactly-once");
	int st = h_raw_attach_session(d->sock, &hello, session, r);
	if (st != 0) {
		T_FAILF("attach with session %016llx: %d (%s)", (unsigned long long)session, st,
			cairn_strerror(st));
	}
	ASSERT_UEQ(r->welcome.session_id, session);
	ASSERT_TRUE(r->welcome.dedup_window >= 16);
}

static uint32_t player_of(const struct cairn_msg *res)
{
	struct cairn_joined j;
	dur_expect_reply(res, CAIRN_MSG_JOINED, "JOIN");
	memcpy(&j, res->payload, sizeof(j));
	return j.player_id;
}

static bool is_first(uint32_t id, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == id) {
			return true;
		}
	}
	return false;
}

/* Players of the hunt as the grid shows them (read without sending a command). */
static size_t grid_players(cairn_client *c, uint32_t hunt, uint32_t *ids, size_t cap)
{
	struct cairn_hunt_info hi;
	struct cairn_entity e[64];
	ASSERT_OK(cairn_read_hunt(c, hunt, &hi));
	int n = cairn_read_rect(c, hunt, 0, 0, (int32_t)(hi.width * hi.cell_mm) - 1,
				(int32_t)(hi.height * hi.cell_mm) - 1, CAIRN_READ_PLAYERS, e, 64);
	ASSERT_OK(n);
	ASSERT_LE(n, 64);
	ASSERT_UEQ(hi.players, (unsigned)n);
	for (int i = 0; i < n && (size_t)i < cap; i++) {
		ids[i] = e[i].id;
	}
	return (size_t)n;
}

#define BURST 300

/* (e): returns what the welcome of the reattach said in resumed. */
static uint32_t libcairn_resubmission(struct h_daemon *d)
{
	/*
	 * A result ring of 64: the daemon takes a command only when its result has room, so
	 * while the test does not read, at most 64 JOINs are applied before the kill and the
	 * rest wait in the command ring: the client must reattach and resubmit them.
	 */
	struct cairn_open_options opts = {.res_capacity = 64};
	cairn_client *c;
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_open(d->sock, &opts, &c));
	ASSERT_OK(cairn_daemon_info(c, &info));
	uint64_t session = info.session_id;
	ASSERT_NE(session, 0);
	ASSERT_UEQ(info.resumed, 0);
	ASSERT_UEQ(info.reconnects, 0);
	ASSERT_UEQ(info.dedup_window, 4096); /* cairnd's default --dedup-window */
	struct cairn_wal_status ws = dur_wal_status(c);
	ASSERT_UEQ(info.durable_lsn, ws.durable_lsn);
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, NULL, &hc, 10 * SEC));

	static struct cairn_msg joins[BURST];
	static bool answered[BURST];
	for (unsigned k = 0; k < BURST; k++) {
		int32_t x, y;
		dur_pos(2000 + k, &x, &y);
		cairn_msg_join(&joins[k], hc.hunt_id, x, y);
	}
	/*
	 * Kill once the log holds some of them: their results wait unread in the ring, the
	 * ones in the batch being written are applied but unanswered, the rest not taken.
	 */
	struct cairn_open_options watch_opts = {.reconnect_ms = CAIRN_RECONNECT_NEVER};
	cairn_client *watch;
	ASSERT_OK(cairn_open(d->sock, &watch_opts, &watch));
	uint64_t base = dur_wal_status(watch).durable_lsn, durable;
	ASSERT_EQ(cairn_submit_batch(c, joins, BURST), BURST);
	uint64_t deadline = h_now_ns() + 10 * (uint64_t)SEC;
	while ((durable = dur_wal_status(watch).durable_lsn) == base) {
		if (h_now_ns() > deadline) {
			T_FAILF("(e) none of %d JOINs reached the log within 10 s", BURST);
		}
	}
	cairn_close(watch);
	dur_kill(d);
	dur_spawn(d, NULL);

	uint32_t players[BURST];
	for (unsigned n = 0; n < BURST; n++) {
		struct cairn_msg m;
		int r = cairn_wait(c, &m, 10 * SEC);
		if (r < 0) {
			T_FAILF("(e) result %u of %d after the restart: %d (%s)", n, BURST, r,
				cairn_strerror(r));
		}
		unsigned k = 0;
		while (k < BURST && joins[k].hdr.request_id != m.hdr.request_id) {
			k++;
		}
		if (k == BURST || answered[k]) {
			T_FAILF("(e) a result for request %llu, which %s",
				(unsigned long long)m.hdr.request_id,
				k == BURST ? "was never sent" : "was answered already");
		}
		answered[k] = true;
		players[n] = player_of(&m);
		ASSERT_TRUE(!is_first(players[n], players, n));
	}
	struct cairn_msg extra;
	ASSERT_CODE(cairn_poll(c, &extra), EAGAIN);
	ASSERT_OK(cairn_ping(c, 10 * SEC));
	struct cairn_hunt_info hi;
	ASSERT_OK(cairn_read_hunt(c, hc.hunt_id, &hi));
	ASSERT_UEQ(hi.players, BURST);
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_UEQ(info.session_id, session);
	ASSERT_UEQ(info.reconnects, 1);
	h_ok("(e) libcairn: %d JOINs submitted, cairnd killed once the log held %llu or more "
	     "and restarted: the client reattached with its session (%llu resubmitted) and "
	     "every JOIN got exactly one result; the hunt holds exactly those %d players",
	     BURST, (unsigned long long)(durable - base), (unsigned long long)info.resubmitted,
	     BURST);
	cairn_close(c);
	return info.resumed;
}

int main(int argc, char **argv)
{
	dur_init(argc, argv, "exactly_once", true);
	struct h_daemon *d = dur_start(NULL);
	const uint64_t S = (h_seed << 1) | 1, S2 = S ^ 0xA5A5000000000000ull;
	struct h_raw r, r2, r3;
	struct cairn_msg cmds[1 + PLAYERS], first[1 + PLAYERS], again, m;
	uint32_t hunt, ids[PLAYERS];

	/* (a) the originals */
	attach(d, S, &r);
	cairn_msg_hunt_create(&cmds[0], NULL);
	cmds[0].hdr.request_id = 1;
	dur_raw_call(&r, &cmds[0], &first[0]);
	dur_expect_reply(&first[0], CAIRN_MSG_HUNT_CREATED, "HUNT_CREATE");
	struct cairn_hunt_created hc;
	memcpy(&hc, first[0].payload, sizeof(hc));
	hunt = hc.hunt_id;
	for (unsigned i = 1; i <= PLAYERS; i++) {
		int32_t x, y;
		dur_pos(i, &x, &y);
		cairn_msg_join(&cmds[i], hunt, x, y);
		cmds[i].hdr.request_id = i + 1;
		dur_raw_call(&r, &cmds[i], &first[i]);
		ids[i - 1] = player_of(&first[i]);
		ASSERT_TRUE(!is_first(ids[i - 1], ids, i - 1));
	}
	cairn_msg_init(&m, CAIRN_MSG_WAL_STATUS, 0);
	m.hdr.request_id = 1000;
	dur_raw_call(&r, &m, &again);
	dur_expect_reply(&again, CAIRN_MSG_WAL_STATUS_REPLY, "WAL_STATUS");
	struct cairn_wal_status ws;
	memcpy(&ws, again.payload, sizeof(ws));
	ASSERT_UEQ(ws.durable_lsn, 1 + PLAYERS);
	ASSERT_UEQ(ws.appended_lsn, 1 + PLAYERS);
	uint64_t durable = ws.durable_lsn;
	h_ok("(a) session %016llx: hunt %08x and %d players, all acknowledged, log at LSN %llu",
	     (unsigned long long)S, hunt, PLAYERS, (unsigned long long)durable);

	/* kill -9 with the lane still attached, then a restart on the same data directory */
	dur_kill(d);
	h_raw_close(&r);
	dur_spawn(d, NULL);
	attach(d, S, &r);
	uint32_t resumed_after_restart = r.welcome.resumed;
	for (unsigned i = 0; i <= PLAYERS; i++) {
		dur_raw_call(&r, &cmds[i], &again);
		if (memcmp(&again, &first[i], sizeof(again)) != 0) {
			T_FAILF("resubmitted request %llu (type 0x%x): result type 0x%x status %d "
				"differs from the original (type 0x%x status %d)",
				(unsigned long long)cmds[i].hdr.request_id, cmds[i].hdr.type,
				again.hdr.type, again.hdr.status, first[i].hdr.type,
				first[i].hdr.status);
		}
	}
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	uint32_t seen[64];
	size_t n = grid_players(c, hunt, seen, 64);
	ASSERT_EQ(n, PLAYERS);
	for (size_t i = 0; i < n; i++) {
		ASSERT_TRUE(is_first(seen[i], ids, PLAYERS));
	}
	struct cairn_state_hash_reply sh = dur_state_hash(c);
	ASSERT_UEQ(sh.hunts, 1);
	ASSERT_UEQ(sh.entities, PLAYERS);
	ws = dur_wal_status(c);
	ASSERT_UEQ(ws.durable_lsn, durable);
	ASSERT_UEQ(ws.appended_lsn, durable);
	h_ok("(a) after SIGKILL and a restart the same session resubmitted all %d requests: "
	     "byte-identical results, one hunt with exactly %d players on the grid, nothing "
	     "logged (LSN %llu)",
	     1 + PLAYERS, PLAYERS, (unsigned long long)ws.durable_lsn);

	/* (b) a new request id is applied, once */
	struct cairn_msg join12, res12;
	int32_t x, y;
	dur_pos(100, &x, &y);
	cairn_msg_join(&join12, hunt, x, y);
	join12.hdr.request_id = 2 + PLAYERS;
	dur_raw_call(&r, &join12, &res12);
	uint32_t p12 = player_of(&res12);
	ASSERT_TRUE(!is_first(p12, ids, PLAYERS));
	dur_raw_call(&r, &join12, &again);
	ASSERT_TRUE(memcmp(&again, &res12, sizeof(again)) == 0);
	ASSERT_EQ(grid_players(c, hunt, seen, 64), PLAYERS + 1);
	ASSERT_UEQ(dur_wal_status(c).durable_lsn, durable + 1);
	h_ok("(b) request %d applied (player %08x), and its resubmission answered with the same "
	     "result without a second player",
	     2 + PLAYERS, p12);

	/* (c) the same request ids from another session are other requests */
	attach(d, S2, &r2);
	uint32_t resumed_new = r2.welcome.resumed;
	for (unsigned i = 1; i <= PLAYERS; i++) {
		dur_raw_call(&r2, &cmds[i], &again);
		uint32_t p = player_of(&again);
		ASSERT_TRUE(!is_first(p, ids, PLAYERS));
		ASSERT_NE(p, p12);
	}
	ASSERT_EQ(grid_players(c, hunt, seen, 64), 2 * PLAYERS + 1);
	h_ok("(c) session %016llx sending request ids 2..%d got %d new players: the key is "
	     "session and request id",
	     (unsigned long long)S2, 1 + PLAYERS, PLAYERS);

	/* (d) one lane per session */
	struct cairn_hello hello;
	h_hello_default(&hello, "exactly-once-twin");
	int st = h_raw_attach_session(d->sock, &hello, S, &r3);
	if (st != CAIRN_E_SESSION_IN_USE) {
		T_FAILF("a second attach with session %016llx got %d (%s), expected SESSION_IN_USE",
			(unsigned long long)S, st, cairn_strerror(st));
	}
	h_raw_close(&r3);
	h_raw_close(&r);
	/* The daemon releases a lane once its socket closes: wait for that. */
	uint64_t deadline = h_now_ns() + 5 * (uint64_t)SEC;
	while ((st = h_raw_attach_session(d->sock, &hello, S, &r3)) == CAIRN_E_SESSION_IN_USE &&
	       h_now_ns() < deadline) {
		h_raw_close(&r3);
		h_sleep_us(5000);
	}
	if (st != 0) {
		T_FAILF("attach with session %016llx after its lane closed: %d (%s)",
			(unsigned long long)S, st, cairn_strerror(st));
	}
	dur_raw_call(&r3, &join12, &again);
	ASSERT_TRUE(memcmp(&again, &res12, sizeof(again)) == 0);
	dur_raw_call(&r3, &cmds[5], &again);
	ASSERT_TRUE(memcmp(&again, &first[5], sizeof(again)) == 0);
	ASSERT_EQ(grid_players(c, hunt, seen, 64), 2 * PLAYERS + 1);
	h_ok("(d) a second lane with a session in use was refused with SESSION_IN_USE; after "
	     "the first closed, the session attached again and got its old results");

	uint32_t resumed_same_life = r3.welcome.resumed;
	h_raw_close(&r2);
	h_raw_close(&r3);
	cairn_close(c);

	uint32_t resumed_libcairn = libcairn_resubmission(d);

	/* (f) information in the welcome */
	ASSERT_UEQ(resumed_new, 0);
	ASSERT_UEQ(resumed_same_life, 1);
	if (resumed_after_restart != 1 || resumed_libcairn != 1) {
		T_FAILF("after a restart the welcome says resumed = %u to session %016llx (raw) "
			"and %u to libcairn's reattach, though the recovered exactly-once table "
			"holds their results",
			resumed_after_restart, (unsigned long long)S, resumed_libcairn);
	}
	h_ok("(f) the welcome said resumed = 1 to reconnecting sessions and 0 to a new one");
	h_pass();
}
