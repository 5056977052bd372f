/*
 * What the durability tests share, on top of the daemon harness (tests/daemon/harness.h):
 * the backend table, starting cairnd on a backend, calls with results checked, the data
 * directory's files (hashes, copies, the log's records read straight from the segment
 * files), cairn-replay, and the daemon's log.
 *
 * Every test runs as `TEST CAIRND BACKEND [CAIRN-REPLAY]`: meson registers each one
 * twice, once per WAL backend ("io_uring", "sync"), and dur_spawn passes --wal-backend
 * accordingly. A daemon that cannot use io_uring here refuses --wal-backend=io_uring;
 * the test then skips (77) with the reason from the daemon's log.
 *
 * The game the tests play is on the daemon's embedded map (map 0), whose row 3
 * (y from 3000 to 3999 mm) is open ground from x = 1000 to 126999 mm: every position
 * dur_pos gives is passable, so a refused command always means something is wrong.
 */
#ifndef CAIRN_TESTS_DURABILITY_DUR_H
#define CAIRN_TESTS_DURABILITY_DUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../daemon/harness.h"
#include "wal/format.h"

#define SEC ((int64_t)1000 * 1000 * 1000)
#define MS  ((int64_t)1000 * 1000)

/* The configuration this run tests. */
struct dur_config {
	const char *backend; /* "io_uring" or "sync"; NULL for a test without the table */
	const char *replay;  /* cairn-replay, or NULL when the build has none */
};
extern struct dur_config dur;

/*
 * h_init, then the backend (argv[2]) when table is true, and cairn-replay (the next
 * argument, optional). Exits 1 on bad arguments.
 */
void dur_init(int argc, char **argv, const char *name, bool table);

/* ---- the daemon ---- */

/*
 * h_spawn with --wal-backend <dur.backend> after extra (unless extra names a backend
 * itself), then waits until the daemon accepts connections. When it exits first: on
 * io_uring, a log line saying the log could not be opened skips the test (77) with that
 * line; otherwise the test fails.
 */
void dur_spawn(struct h_daemon *d, const char *const *extra);

/* h_prepare + dur_spawn. */
struct h_daemon *dur_start(const char *const *extra);

/* dur_spawn under a wrapper (h_spawn_wrapped). */
void dur_spawn_wrapped(struct h_daemon *d, const char *const *wrapper, const char *const *extra);

/*
 * Starts the daemon (with --wal-backend as dur_spawn) expecting it to refuse: waits up
 * to 10 s for it to exit and returns its wait status. Fails the test if it keeps running.
 */
int dur_spawn_expect_exit(struct h_daemon *d, const char *const *extra);

/* SIGKILL, and waits for the daemon to be gone. */
void dur_kill(struct h_daemon *d);

/* Where the daemon's log ends now: dur_log_find looks only after such a mark. */
off_t dur_log_mark(const struct h_daemon *d);

/*
 * The first line of the daemon's log after mark that contains every string of needles
 * (NULL-terminated), copied into line (len bytes, NUL-terminated, newline cut). Looks
 * again until timeout_ms has passed. Returns false when there is none.
 */
bool dur_log_find(const struct h_daemon *d, off_t mark, const char *const *needles, char *line,
		  size_t len, int timeout_ms);

/* ---- calls ---- */

/*
 * cairn_call with a 10 s timeout. Returns 0 or the negative protocol code of an ERROR
 * result; fails the test on any other failure (timeout, disconnect).
 */
int dur_call(cairn_client *c, struct cairn_msg *cmd, struct cairn_msg *res);

/* Asserts that a code is exactly -want, naming both otherwise. */
#define ASSERT_CODE(call, want)                                                                    \
	do {                                                                                       \
		int _r = (call);                                                                   \
		int _w = -(int)(want);                                                             \
		if (_r != _w)                                                                      \
			T_FAILF("%s returned %d (%s), expected %d (%s)", #call, _r,                \
				cairn_strerror(_r), _w, cairn_strerror(_w));                       \
	} while (0)

struct cairn_wal_status dur_wal_status(cairn_client *c);
struct cairn_state_hash_reply dur_state_hash(cairn_client *c);

/* SNAPSHOT: 0 with *out filled, or the negative code of the ERROR result. */
int dur_snapshot(cairn_client *c, struct cairn_snapshot_reply *out);

/* ROLLBACK of hunt to lsn: 0 with *out filled, or the negative code of the ERROR result. */
int dur_rollback(cairn_client *c, uint32_t hunt, uint64_t lsn, struct cairn_rollback_reply *out);
void dur_msg_rollback(struct cairn_msg *m, uint32_t hunt, uint64_t lsn);

/*
 * Sends cmds[0..n) with cairn_submit, up to 128 in flight, and puts the result of cmds[i]
 * into res[i] (res may be NULL). Request ids are assigned by cairn_submit (cmds must hold
 * 0) and written back into cmds. Fails the test on a transport error or a result that
 * matches no command in order.
 */
void dur_pipeline(cairn_client *c, struct cairn_msg *cmds, struct cairn_msg *res, size_t n);

/* A push and a pop on a raw lane: the result of m (10 s at most). */
void dur_raw_call(struct h_raw *r, const struct cairn_msg *m, struct cairn_msg *res);

/* ---- the game ---- */

/* A passable position on row 3 of the embedded map, a different one for each k. */
void dur_pos(uint64_t k, int32_t *x, int32_t *y);

/* Asserts that a result is a success of the given reply type. */
void dur_expect_reply(const struct cairn_msg *res, uint16_t type, const char *what);

/* The result's error code as a negative number, 0 for a success. */
int dur_result_code(const struct cairn_msg *res);

/* A player as a test expects it: where it stands (every other field is the daemon's). */
struct dur_player {
	uint32_t id;
	int32_t x, y;
	bool gone; /* it left (or was never acknowledged): PLAYER_STATE says UNKNOWN_PLAYER */
};

/* Asserts that each of players[0..n) of hunt is where the test expects it (or gone). */
void dur_check_players(cairn_client *c, uint32_t hunt, const struct dur_player *players, size_t n,
		       const char *when);

/* ---- the data directory ---- */

/* One file of a directory tree: its path below the root, size and content hash. */
struct dur_file {
	char name[192];
	uint64_t size;
	uint64_t hash;
};

struct dur_tree {
	size_t n;
	struct dur_file files[256];
};

/* Every regular file below dir, sorted by name. */
void dur_tree_read(const char *dir, struct dur_tree *out);

/* Asserts that two trees hold the same files with the same bytes, naming a difference. */
void dur_tree_expect_equal(const struct dur_tree *a, const struct dur_tree *b, const char *what);

/* cp -r src dst (dst must not exist); rm -r dir. */
void dur_copy_tree(const char *src, const char *dst);
void dur_remove_tree(const char *dir);

/* A record of the log as read straight from a segment file. */
struct dur_rec {
	char file[64];   /* wal-SSSSSSSSSSSSSSSS.seg */
	uint64_t seq;    /* the segment's sequence number */
	uint64_t offset; /* of the record header in the file */
	struct cairn__wal_rec hdr;
	struct cairn__wal_command cmd; /* the body's first 72 bytes (both kinds start so) */
};

/*
 * Reads the records of DATA/wal in order: each segment's records from its header on, as
 * long as each follows the last (LSN + 1, the segment's salt, a sane kind and length).
 * Checksums are not verified: this is for finding records in files the daemon wrote
 * and the test has not touched. *out is malloc'ed; returns the count.
 */
size_t dur_wal_records(const char *data, struct dur_rec **out);

/* The segment files of DATA/wal (their names, sorted), at most max. Returns the count. */
size_t dur_wal_segments(const char *data, char names[][64], size_t max);

/* The snapshots in DATA/snapshots: their LSNs, oldest first, at most max; counts .tmp too. */
size_t dur_snapshots(const char *data, uint64_t *lsns, size_t max, size_t *tmp_files);

/* Reads or writes bytes of a file in place (no truncation); fails the test on error. */
void dur_file_read(const char *path, uint64_t off, void *buf, size_t len);
void dur_file_write(const char *path, uint64_t off, const void *buf, size_t len);

/* ---- cairn-replay and other programs ---- */

/*
 * Runs argv (argv[0] looked up in PATH) to completion with stdout and stderr captured
 * into out (NUL-terminated, truncated to len). Fails the test after timeout_ms.
 * Returns the wait status.
 */
int dur_run(const char *const *argv, char *out, size_t len, int timeout_ms);

/*
 * cairn-replay [--until LSN] DIR (until 0: to the end): the LSN and hash of its last
 * "lsn=N hash=0x..." line. Fails the test when it exits non-zero or prints none.
 */
void dur_replay(const char *dir, uint64_t until, uint64_t *lsn, uint64_t *hash);

#endif
