/*
 * libcairn: the C client of cairnd.
 *
 * A client attaches to the daemon over its Unix socket and receives two memory
 * segments: the daemon's state (read-only) and its own lane (a command ring, a result
 * ring, their doorbells and a blob arena). After that, sending a command and receiving
 * its result touch only shared memory; a syscall happens only when one side sleeps.
 *
 * Conventions: functions return an int, >= 0 on success and a negative code on
 * failure: -errno for system errors, -CAIRN_E_* (see protocol.h) for protocol errors.
 * cairn_strerror() names every code. Unless said otherwise, every function is safe to
 * call from many threads at once on the same cairn_client; cairn_close() is not.
 *
 * Daemon restarts. Each connection belongs to a session, a random id drawn by
 * cairn_open and kept for the connection's life. When the daemon goes away (it closes
 * the connection's socket: killed, crashed, stopped), the call that notices reattaches
 * to the same socket path with the same session, for up to reconnect_ms (struct
 * cairn_open_options), and resubmits, in their original order and with their original
 * request ids, the commands the old daemon had not answered. Results the old daemon had
 * published are still delivered. A daemon with a data directory answers a resubmitted
 * state-changing command it had already applied with the original result instead of
 * applying it again (exactly once; cairn_daemon_info's dedup_window says whether it
 * does); reads are run again. So every command pushed gets exactly one result, across
 * any number of restarts, and cairn_call and cairn_wait callers blocked meanwhile get
 * theirs on the new lane without noticing. For this, request ids of cairn_submit
 * commands must be unique on the connection (the ids libcairn assigns are).
 * While the reattach is under way, the calls that can wait (cairn_call, cairn_wait,
 * cairn_check, cairn_events_wait, the game calls) wait for it within their timeouts,
 * and the others (cairn_submit, cairn_poll) return -EAGAIN. If no daemon takes the
 * session back in time, every call returns -CAIRN_E_DISCONNECTED from then on. A lane
 * the daemon dropped for corruption (-CAIRN_E_LANE_DROPPED) is never reattached, nor is
 * one an operator evicted (cairnctl evict): every call then returns -CAIRN_E_EVICTED
 * where the others say -CAIRN_E_LANE_DROPPED.
 */
#ifndef CAIRN_CAIRN_H
#define CAIRN_CAIRN_H

#include <stddef.h>
#include <stdint.h>

#include <cairn/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CAIRN_API __attribute__((visibility("default")))
#else
#define CAIRN_API
#endif

/* An attached connection to cairnd. Opaque; created by cairn_open. */
typedef struct cairn_client cairn_client;

/* Request ids with this bit set are reserved for cairn_call. */
#define CAIRN_CALL_ID_BIT (UINT64_C(1) << 63)

/* A timeout that never expires. */
#define CAIRN_FOREVER (-1)

/* cairn_open_options.reconnect_ms: never reattach after the daemon goes away. */
#define CAIRN_RECONNECT_NEVER (-1)

/* Options for cairn_open. Zero-initialise and set what you need; NULL means defaults. */
struct cairn_open_options {
	uint32_t cmd_capacity; /* command ring slots, a power of two; 0 = 1024 */
	uint32_t res_capacity; /* result ring slots, a power of two; 0 = 1024 */
	uint32_t blob_size;    /* blob arena bytes; 0 = 1 MiB */
	uint32_t spin_us;      /* busy-poll this long before yielding when waiting; 0 = 50 */
	const char *name;      /* shown to operators; NULL = the program's name. Copied. */
	/*
	 * How long to keep trying to reattach, from when the daemon is found gone, before
	 * calls give up with -CAIRN_E_DISCONNECTED; 0 = 10000. CAIRN_RECONNECT_NEVER (or
	 * any negative value): never reattach; calls return -CAIRN_E_DISCONNECTED as soon
	 * as the daemon is found gone.
	 */
	int32_t reconnect_ms;
};

/* A copy of what the daemon publishes about itself. */
struct cairn_daemon_info {
	uint32_t pid;
	uint32_t state; /* enum cairn_daemon_state */
	uint32_t max_lanes;
	int32_t apply_cpu;         /* -1 when not pinned */
	int32_t numa_node;         /* -1 when unknown */
	uint32_t lane_id;          /* this connection's lane */
	uint64_t client_id;        /* this connection's id */
	uint64_t boot_epoch_ns;    /* daemon start, ns since the Unix epoch */
	uint64_t heartbeat_age_ns; /* how long ago the apply thread last stamped its heartbeat */
	struct cairn_daemon_counters counters;
	/* Commands by type, rejections by reason, moves, claims, events (zero if absent). */
	struct cairn_engine_counters engine;
	uint64_t session_id;   /* this connection's session: the same across reattaches */
	uint32_t dedup_window; /* results per session the daemon keeps for resubmissions (0:
				  no data directory, no exactly-once) */
	uint32_t resumed;      /* 1 when the daemon already knew the session at this attach */
	uint64_t durable_lsn;  /* the daemon's durable LSN when this lane was made */
	uint64_t reconnects;   /* reattaches after the daemon went away, so far */
	uint64_t resubmitted;  /* commands resubmitted by those reattaches, so far */
};

/*
 * Writes the default socket path into buf (len bytes): $CAIRN_SOCKET if set, else
 * $XDG_RUNTIME_DIR/cairn/cairnd.sock, else /tmp/cairn-UID/cairnd.sock.
 * Returns the length, or -ENAMETOOLONG.
 */
CAIRN_API int cairn_default_socket_path(char *buf, size_t len);

/*
 * Attaches to the daemon listening at socket_path (NULL: the default path) and stores
 * a new connection in *out, with a new session (a random non-zero id, from getrandom).
 * opts may be NULL. The path is remembered for reattaching.
 * Returns 0, or -ENOENT/-ECONNREFUSED (no daemon there), -CAIRN_E_DENIED (this uid/gid
 * is not allowed), -CAIRN_E_VERSION, -CAIRN_E_TOO_MANY_CLIENTS, -CAIRN_E_LAYOUT,
 * -CAIRN_E_BAD_MAGIC, -CAIRN_E_HANDSHAKE, -ETIMEDOUT (the daemon did not answer in 5 s),
 * -ENAMETOOLONG, -ENOMEM. The caller owns *out and frees it with cairn_close.
 */
CAIRN_API int cairn_open(const char *socket_path, const struct cairn_open_options *opts,
			 cairn_client **out);

/*
 * Detaches and frees c; the daemon reclaims the lane. Results not yet taken are lost.
 * Also unmaps what earlier daemons left: after a restart the old lane stays mapped
 * until here, so that no thread can touch freed memory (a lane is small), and so does
 * the old state segment until the next restart, when it is replaced by zero pages
 * (which lets the dead daemon's memory go).
 * NULL is accepted. Not thread-safe: no other call on c may be running or follow.
 */
CAIRN_API void cairn_close(cairn_client *c);

/*
 * Initialises *m as a command of the given type with length payload bytes, all zero.
 * Returns 0, or -EINVAL when length > CAIRN_PAYLOAD_SIZE.
 */
CAIRN_API int cairn_msg_init(struct cairn_msg *m, uint16_t type, uint8_t length);

/*
 * Pushes one command without waiting. If cmd->hdr.request_id is 0 a fresh id is
 * assigned and written back into cmd. Its result is taken later with cairn_poll or
 * cairn_wait. A request id is the command's identity in the session's exactly-once
 * table: a state-changing command whose id the daemon has already answered on this
 * connection is answered with that earlier result and not applied again, so ids must
 * be unique for the connection's life (leave them 0 to get such ids).
 * Returns 0, -EAGAIN (command ring full: the daemon applies a command only
 * when its result has room, so take results with cairn_poll, then retry; also while the
 * connection reattaches after a daemon restart), -EINVAL (request id with
 * CAIRN_CALL_ID_BIT set, or a length above CAIRN_PAYLOAD_SIZE), -CAIRN_E_DISCONNECTED
 * or -CAIRN_E_LANE_DROPPED. A full ring may be a daemon that went away: the call then
 * starts the reattach (see the top of this file), which may take it one attempt to
 * attach and resubmit.
 */
CAIRN_API int cairn_submit(cairn_client *c, struct cairn_msg *cmd);

/*
 * Pushes up to n commands in order, with one claim on the ring; assigns request ids as
 * cairn_submit does. Returns how many were pushed (0 when the ring is full), or a
 * negative code as cairn_submit.
 */
CAIRN_API int cairn_submit_batch(cairn_client *c, struct cairn_msg *cmds, unsigned n);

/*
 * Takes one result of a cairn_submit command, if one is ready, into *res.
 * Returns 0, -EAGAIN (none ready), -CAIRN_E_DISCONNECTED or -CAIRN_E_LANE_DROPPED.
 * Results of cairn_call commands are never returned here. Every 1024th poll that finds
 * nothing looks at the socket (one syscall), so that a caller that only polls notices a
 * daemon that went away, and then makes the reattach's attempts as cairn_submit does.
 */
CAIRN_API int cairn_poll(cairn_client *c, struct cairn_msg *res);

/* Takes up to n ready results. Returns how many (0 when none), or a negative code. */
CAIRN_API int cairn_poll_batch(cairn_client *c, struct cairn_msg *res, unsigned n);

/*
 * Waits up to timeout_ns (CAIRN_FOREVER: no limit) for one result of a cairn_submit
 * command: spins briefly, then yields, then sleeps on the result ring's doorbell,
 * looking at the socket every 50 ms; across a daemon restart it waits for (or does)
 * the reattach. Returns 0, -ETIMEDOUT, -CAIRN_E_DISCONNECTED or -CAIRN_E_LANE_DROPPED.
 */
CAIRN_API int cairn_wait(cairn_client *c, struct cairn_msg *res, int64_t timeout_ns);

/*
 * Sends cmd and waits up to timeout_ns for its own result, whatever other threads do
 * on the same connection, and across daemon restarts (the command is resubmitted if
 * the daemon went away before answering it). Assigns cmd->hdr.request_id (with
 * CAIRN_CALL_ID_BIT).
 * Returns 0 with *res the result; -code with *res the ERROR result when the daemon
 * answered with an error; or -ETIMEDOUT, -CAIRN_E_DISCONNECTED, -CAIRN_E_LANE_DROPPED,
 * -EINVAL. After a timeout the late result is discarded when it arrives.
 */
CAIRN_API int cairn_call(cairn_client *c, struct cairn_msg *cmd, struct cairn_msg *res,
			 int64_t timeout_ns);

/* PING the daemon and wait for its PONG. Returns 0 or a negative code as cairn_call. */
CAIRN_API int cairn_ping(cairn_client *c, int64_t timeout_ns);

/*
 * The lane's blob arena: *size bytes shared with the daemon, for payloads larger than
 * a slot. The memory lives until cairn_close. After a daemon restart the new lane has a
 * new arena, which starts as a copy of the old one (taken once the old daemon was
 * gone, before anything was resubmitted); from then on the old one is no longer the
 * daemon's. Call this again after a restart (cairn_daemon_info's reconnects changes),
 * and rewrite what you wrote into the arena while the daemon was away.
 */
CAIRN_API void *cairn_blob(cairn_client *c, size_t *size);

/*
 * Copies what the daemon publishes about itself into *info, from the current lane (the
 * daemon that last took the session). Returns 0.
 */
CAIRN_API int cairn_daemon_info(cairn_client *c, struct cairn_daemon_info *info);

/*
 * Returns 0 when the daemon still holds this connection, -CAIRN_E_DISCONNECTED or
 * -CAIRN_E_LANE_DROPPED otherwise. Makes one non-blocking syscall when all is well.
 * When the daemon has gone away and reattaching is on, first reattaches (or waits for
 * the thread doing it), which may take up to reconnect_ms, and returns 0 once the
 * session is attached again.
 */
CAIRN_API int cairn_check(cairn_client *c);

/*
 * A static, human-readable message for any code returned by libcairn (negative or
 * positive; protocol codes and errno values alike). Never NULL.
 */
CAIRN_API const char *cairn_strerror(int err);

/* The schema name of a protocol error code ("DENIED"), or NULL if it is not one. */
CAIRN_API const char *cairn_error_name(int err);

/* ---- The game: typed commands ----
 *
 * Each of these sends one command with cairn_call and waits up to timeout_ns for its
 * result. They return 0, or -CAIRN_E_* when the daemon refused the command (the code
 * names the reason: UNKNOWN_HUNT, OFF_MAP, BLOCKED, TOO_FAST, ...), -CAIRN_E_BAD_REPLY
 * when the answer is not of the command's reply type or too short, or a code of
 * cairn_call. Output pointers may be NULL when the caller does not want that value;
 * outputs are written only on success. Positions are millimetres from the map's
 * top-left corner. Thread-safe.
 */

/* Options of a new hunt; zeros pick the defaults (see struct cairn_hunt_create). */
struct cairn_hunt_params {
	uint32_t map_id;           /* 0: the daemon's embedded map */
	uint32_t claim_radius_mm;  /* 0: CAIRN_DEFAULT_CLAIM_RADIUS_MM */
	uint32_t speed_limit_mm_s; /* 0: no limit */
	uint32_t cell_mm;          /* 0: CAIRN_DEFAULT_CELL_MM */
};

/*
 * Builders of the commands that change the game, for hosts that pipeline them with
 * cairn_submit_batch and cairn_poll_batch instead of waiting on each with the calls
 * below (which use these same builders). Each initialises *m whole: type, length,
 * payload, a request id of 0 (cairn_submit assigns one). They cannot fail.
 */
CAIRN_API void cairn_msg_hunt_create(struct cairn_msg *m, const struct cairn_hunt_params *params);
CAIRN_API void cairn_msg_hunt_destroy(struct cairn_msg *m, uint32_t hunt_id);
CAIRN_API void cairn_msg_join(struct cairn_msg *m, uint32_t hunt_id, int32_t x, int32_t y);
CAIRN_API void cairn_msg_leave(struct cairn_msg *m, uint32_t hunt_id, uint32_t player_id);
CAIRN_API void cairn_msg_move(struct cairn_msg *m, uint32_t hunt_id, uint32_t player_id, int32_t x,
			      int32_t y);
CAIRN_API void cairn_msg_clue_place(struct cairn_msg *m, uint32_t hunt_id, int32_t x, int32_t y,
				    int64_t value);
CAIRN_API void cairn_msg_clue_remove(struct cairn_msg *m, uint32_t hunt_id, uint32_t clue_id);

/* Creates a hunt (params NULL: all defaults); *out gets its id and dimensions. */
CAIRN_API int cairn_hunt_create(cairn_client *c, const struct cairn_hunt_params *params,
				struct cairn_hunt_created *out, int64_t timeout_ns);

/* Destroys a hunt with its players and clues. */
CAIRN_API int cairn_hunt_destroy(cairn_client *c, uint32_t hunt_id, int64_t timeout_ns);

/* Adds a player at (x, y); *player_id gets its id. */
CAIRN_API int cairn_join(cairn_client *c, uint32_t hunt_id, int32_t x, int32_t y,
			 uint32_t *player_id, int64_t timeout_ns);

/* Removes a player; *out gets its final score and claims. */
CAIRN_API int cairn_leave(cairn_client *c, uint32_t hunt_id, uint32_t player_id,
			  struct cairn_left *out, int64_t timeout_ns);

/*
 * Moves a player to (x, y). *out says whether the move claimed a clue (outcome
 * CAIRN_CLAIM_WON), reached one someone else holds (CAIRN_CLAIM_LOST), or neither.
 */
CAIRN_API int cairn_move(cairn_client *c, uint32_t hunt_id, uint32_t player_id, int32_t x,
			 int32_t y, struct cairn_moved *out, int64_t timeout_ns);

/* Places a clue worth value at (x, y); *clue_id gets its id. */
CAIRN_API int cairn_clue_place(cairn_client *c, uint32_t hunt_id, int32_t x, int32_t y,
			       int64_t value, uint32_t *clue_id, int64_t timeout_ns);

/* Removes a clue, claimed or not. */
CAIRN_API int cairn_clue_remove(cairn_client *c, uint32_t hunt_id, uint32_t clue_id,
				struct cairn_clue_removed *out, int64_t timeout_ns);

/*
 * The queries below (cairn_nearest_clues, cairn_players_near, cairn_leaderboard) get
 * their answers through the blob arena, in query slices taken from its END, so that the
 * front stays the caller's (cairn_blob):
 *
 *   CAIRN_QUERY_SLICE_SIZE = 32 KiB each (room for CAIRN_MAX_QUERY_ITEMS hits);
 *   n = min(CAIRN_QUERY_SLICES_MAX, arena size / CAIRN_QUERY_SLICE_SIZE) of them;
 *   slice i (0 .. n-1) covers [size - (i + 1) * 32 KiB, size - i * 32 KiB).
 *
 * With the default 1 MiB arena the last 256 KiB, [768 KiB, 1 MiB), belong to the
 * queries and the first 768 KiB to the caller. Each call holds one slice until it has
 * copied the hits out, so up to n queries may run at once on one connection; one more
 * returns -EBUSY at once, and an arena below 32 KiB makes every query return -ENOBUFS.
 * A query that times out keeps its slice until a later command on the connection has
 * been answered (the daemon might still write the late answer there); when that leaves
 * no free slice, the next query first sends a PING to free them.
 * k or max of 0 or above CAIRN_MAX_QUERY_ITEMS returns -EINVAL without sending anything.
 * hits may be NULL (only the counts are wanted); otherwise it must have room for k (or
 * max) hits.
 */
#define CAIRN_QUERY_SLICE_SIZE (32 * 1024)
#define CAIRN_QUERY_SLICES_MAX 8

/*
 * The k (1..CAIRN_MAX_QUERY_ITEMS) clues nearest (x, y), nearest first (lowest id on a
 * tie), into hits[0..*count); claimed clues too when include_claimed is non-zero.
 * *count gets how many were found (at most k). Returns 0, -EINVAL, -EBUSY, -ENOBUFS,
 * -CAIRN_E_UNKNOWN_HUNT, -CAIRN_E_OFF_MAP (the point is off the map), or a code of
 * cairn_call.
 */
CAIRN_API int cairn_nearest_clues(cairn_client *c, uint32_t hunt_id, int32_t x, int32_t y,
				  uint32_t k, int include_claimed, struct cairn_hit *hits,
				  uint32_t *count, int64_t timeout_ns);

/*
 * The players within radius_mm of (x, y), nearest first, at most max
 * (1..CAIRN_MAX_QUERY_ITEMS) of them, into hits; *count gets how many were written and
 * *total how many matched. Errors as cairn_nearest_clues.
 */
CAIRN_API int cairn_players_near(cairn_client *c, uint32_t hunt_id, int32_t x, int32_t y,
				 uint32_t radius_mm, uint32_t max, struct cairn_hit *hits,
				 uint32_t *count, uint32_t *total, int64_t timeout_ns);

/*
 * The k (1..CAIRN_MAX_QUERY_ITEMS) best players of a hunt, highest score first (the
 * earliest joined on a tie; hit.value is the score, hit.dist_mm 0). Errors as
 * cairn_nearest_clues, less OFF_MAP.
 */
CAIRN_API int cairn_leaderboard(cairn_client *c, uint32_t hunt_id, uint32_t k,
				struct cairn_hit *hits, uint32_t *count, int64_t timeout_ns);

/* A player's position, score and claims, as the daemon answers it in order. */
CAIRN_API int cairn_player_state(cairn_client *c, uint32_t hunt_id, uint32_t player_id,
				 struct cairn_player_info *out, int64_t timeout_ns);

/* The engine's state hash and the order number of its latest change. */
CAIRN_API int cairn_state_hash(cairn_client *c, struct cairn_state_hash_reply *out,
			       int64_t timeout_ns);

/* ---- Paths ----
 *
 * The solver answers on the hunt's map, by the Moving AI rules: 8-connected, a straight
 * step costs one cell side and a diagonal sqrt(2), and a diagonal step needs both cells
 * beside it passable (no corner cutting). Positions are millimetres, each standing for
 * the cell it falls in; answers give cell centres. Every method (CAIRN_METHOD_AUTO,
 * ASTAR, JPS, TABLE) is exact; AUTO uses the map's first-move table once it is built,
 * else jump point search; TABLE before then is -CAIRN_E_TABLE_NOT_READY (see
 * cairn_read_map's table_state).
 *
 * Searches run on the daemon's solver threads, so their results may come back after
 * those of commands sent later; these calls wait for their own result either way. They
 * use a query slice of the arena, like the queries above (-EBUSY, -ENOBUFS as there).
 */

/*
 * The first step of a shortest path for each of pairs[0..n) (n 1..CAIRN_MAX_PATH_BATCH),
 * into out[0..n): a pair whose cells are off the map, blocked or not joined has that
 * code in its item's status and is not an error of the call. *info (may be NULL) gets
 * the counts and the method that answered. Returns 0, -EINVAL, -CAIRN_E_UNKNOWN_HUNT,
 * -CAIRN_E_TABLE_NOT_READY, -CAIRN_E_BAD_VALUE, or a code of cairn_call.
 */
CAIRN_API int cairn_next_moves(cairn_client *c, uint32_t hunt_id,
			       const struct cairn_path_pair *pairs, uint32_t n, unsigned method,
			       struct cairn_next_move_item *out,
			       struct cairn_path_batch_reply *info, int64_t timeout_ns);

/* The length of a shortest path for each pair, as cairn_next_moves. */
CAIRN_API int cairn_distances(cairn_client *c, uint32_t hunt_id,
			      const struct cairn_path_pair *pairs, uint32_t n, unsigned method,
			      struct cairn_distance_item *out, struct cairn_path_batch_reply *info,
			      int64_t timeout_ns);

/*
 * A shortest path from (from_x, from_y) to (to_x, to_y): its points (every cell, or with
 * CAIRN_PATH_WAYPOINTS only the turning points) into points[0..cap), the start first;
 * *info (may be NULL) gets the counts, the exact length and the method. Returns 0;
 * -CAIRN_E_BLOB_TOO_SMALL when the points do not fit cap (or the 4096 of a query slice),
 * with info->count the number needed; -CAIRN_E_OFF_MAP, -CAIRN_E_BLOCKED,
 * -CAIRN_E_UNREACHABLE, -CAIRN_E_UNKNOWN_HUNT, -CAIRN_E_TABLE_NOT_READY, -EINVAL, or a
 * code of cairn_call.
 */
CAIRN_API int cairn_path(cairn_client *c, uint32_t hunt_id, int32_t from_x, int32_t from_y,
			 int32_t to_x, int32_t to_y, unsigned flags, unsigned method,
			 struct cairn_path_point *points, uint32_t cap,
			 struct cairn_path_reply *info, int64_t timeout_ns);

/*
 * A shortest path from where player_id stands to clue_id, as cairn_path; also
 * -CAIRN_E_UNKNOWN_PLAYER, -CAIRN_E_UNKNOWN_CLUE, -CAIRN_E_WRONG_HUNT.
 */
CAIRN_API int cairn_path_to_clue(cairn_client *c, uint32_t hunt_id, uint32_t player_id,
				 uint32_t clue_id, unsigned flags, unsigned method,
				 struct cairn_path_point *points, uint32_t cap,
				 struct cairn_path_reply *info, int64_t timeout_ns);

/* ---- Reading the grid directly ----
 *
 * These read the daemon's state segment, mapped read-only, under its seqlocks: no
 * command is sent, the daemon is never blocked or even aware, and a read that races
 * with a write is retried. They return -EAGAIN after 100000 failed attempts (the data
 * kept changing, or the daemon died in the middle of a write), and -CAIRN_E_LAYOUT if
 * the daemon's grid region is malformed. Against a daemon without a grid there is no
 * map and no hunt. What they return may be a moment older than the result of a command
 * sent before the call, never torn. They never write to shared memory. Thread-safe.
 * They read the state segment of the daemon that holds the session now; they make no
 * syscall, so after a daemon restart they read the dead daemon's last state until
 * another call (cairn_check, for one) has noticed the restart and reattached.
 */

/* A loaded map, copied into *out. Returns 0, -CAIRN_E_UNKNOWN_MAP or -EINVAL (out NULL). */
CAIRN_API int cairn_read_map(cairn_client *c, uint32_t map_id, struct cairn_map_info *out);

/*
 * A hunt's directory record, copied into *out (out->seq is the record's seqlock value
 * when it was read). Returns 0, -CAIRN_E_UNKNOWN_HUNT, -EINVAL (out NULL) or -EAGAIN.
 */
CAIRN_API int cairn_read_hunt(cairn_client *c, uint32_t hunt_id, struct cairn_hunt_info *out);

/*
 * The entity record of a player or clue id of hunt_id, read whole under the seqlock of
 * its block's shard. Returns 0, -CAIRN_E_UNKNOWN_HUNT, -CAIRN_E_UNKNOWN_PLAYER (no
 * player or clue has this id now: this code for clue ids too), -CAIRN_E_WRONG_HUNT (it
 * is in another hunt), -EINVAL (out NULL) or -EAGAIN.
 */
CAIRN_API int cairn_read_entity(cairn_client *c, uint32_t hunt_id, uint32_t id,
				struct cairn_entity *out);

/* Which entities cairn_read_rect returns. */
#define CAIRN_READ_PLAYERS 1u
#define CAIRN_READ_CLUES   2u

/*
 * The entities of the kinds in mask with x0 <= x <= x1 and y0 <= y <= y1 (clamped to the
 * map), block by block in row order, players before clues within a block. Each block's
 * lists are read whole under its shard's seqlock, and the shards and the hunt are
 * checked again at the end: the answer is one snapshot of the rectangle, in which no
 * entity appears twice or goes missing because it moved while the blocks were read.
 * The price is that any write to the rectangle's shards during the read starts it over:
 * under a heavy stream of moves, read small rectangles, or expect -EAGAIN.
 * Writes at most cap of them into out and returns how many matched (more than cap means
 * out was too small), or -CAIRN_E_UNKNOWN_HUNT, -EINVAL (x0 > x1 or y0 > y1, mask empty
 * or with other bits, out NULL with cap > 0), -ENOMEM (a hunt of more than 256 shards
 * needs scratch memory), -EAGAIN. On an error the contents of out are unspecified.
 */
CAIRN_API int cairn_read_rect(cairn_client *c, uint32_t hunt_id, int32_t x0, int32_t y0, int32_t x1,
			      int32_t y1, unsigned mask, struct cairn_entity *out, size_t cap);

/* ---- Events ----
 *
 * The daemon publishes claims, joins, leaves, clue changes and hunt lifecycle on a
 * broadcast ring in the state segment. Each reader keeps its own cursor and reads at
 * its own pace; one that falls more than the ring's capacity behind skips to the oldest
 * event still there and is told how many it missed.
 *
 * The ring belongs to one run of the daemon. A cursor opened before a daemon restart
 * cannot say what it missed in between, so once the connection has reattached, the
 * calls below return -CAIRN_E_DISCONNECTED for it: the daemon restarted; reopen the
 * feed with cairn_events_open (and re-read what you need, e.g. with the grid reads).
 * A cursor only finds out once the connection has noticed the restart: at once in
 * cairn_events_wait (which looks at the socket), at the next call that does otherwise.
 */
struct cairn_events {
	uint64_t next;       /* number of the next event to read */
	uint64_t missed;     /* events overwritten before this reader got to them, so far */
	uint64_t generation; /* which attachment's ring: 0 for cairn_open's, +1 per reattach */
};

/*
 * Starts a cursor at the newest event: it will read only what is published next.
 * Returns 0, or -EINVAL (ev NULL), -ENOTSUP (the daemon publishes no events),
 * -CAIRN_E_LAYOUT (its event ring is malformed). ev is the caller's; it may be copied,
 * and it stays valid across calls (a cursor is only three numbers) until the daemon
 * restarts.
 */
CAIRN_API int cairn_events_open(cairn_client *c, struct cairn_events *ev);

/*
 * Copies up to n events into out, oldest first, and returns how many (0: none new),
 * adding to ev->missed what was lost. Never blocks. A reader more than the ring's
 * capacity behind (cairnd --event-capacity) misses the oldest ones. Returns a count, or
 * -EINVAL (out NULL with n > 0), -CAIRN_E_DISCONNECTED (the daemon restarted since ev
 * was opened: reopen it) and the codes of cairn_events_open. One cursor must not be used
 * by two threads at once; separate cursors may.
 */
CAIRN_API int cairn_events_read(cairn_client *c, struct cairn_events *ev, struct cairn_event *out,
				unsigned n);

/*
 * Waits up to timeout_ns (0: only look; CAIRN_FOREVER: no limit) until there is an
 * event for cursor ev to read (event number ev->next is published; also at once for a
 * cursor beyond the newest event, which cairn_events_read moves back). Spins for about
 * 20 us, then sleeps on the ring's doorbell after announcing itself in the lane, so that
 * the daemon's apply thread makes the wake-up call after a turn that published events.
 * Each sleep lasts at most 50 ms, after which the connection is checked and the sleep
 * renewed: a wake-up that is somehow lost costs at most 50 ms, and a dead daemon is
 * noticed within 50 ms. Returns 0 when an event is there, -ETIMEDOUT, -EINTR (a signal
 * arrived while asleep), -CAIRN_E_DISCONNECTED (the daemon is gone for good, or it
 * restarted and the connection reattached: reopen the cursor), -CAIRN_E_LANE_DROPPED,
 * or the codes of cairn_events_open. Does not read the event, and does not change ev.
 */
CAIRN_API int cairn_events_wait(cairn_client *c, const struct cairn_events *ev, int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif
