/*
 * libcairn's internals, shared by its files:
 *
 *   client.c     attach, submit, poll, wait, call (the connection itself)
 *   reconnect.c  reattach after the daemon went away, and resubmit what it lost
 *   game.c       the typed game commands, and the query slices of the blob arena
 *   grid.c       direct reads of the grid region of the state segment
 *   events.c     event cursors on the broadcast ring
 *
 * The state segment is mapped read-only and written by the daemon only; the lane is
 * mapped read-write and shared with the daemon. Everything read from either is input
 * from another process: validated before it is used, never asserted on.
 */
#ifndef CAIRN_CLIENT_CLIENT_H
#define CAIRN_CLIENT_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cairn/cairn.h"
#include "shm/broadcast.h"
#include "shm/ring.h"

/* A growable array of messages, protected by the client's lock. */
struct cairn__msg_list {
	struct cairn_msg *v;
	size_t n, cap;
};

/*
 * The grid region as checked once at attach (cairn__grid_attach). The grid header's
 * table sizes and offsets never change while the daemon runs, so they are copied and
 * checked here; everything else is re-read, and re-checked, on every use.
 */
struct cairn__grid_view {
	int err;             /* 0, or what every grid read returns (no grid, or a malformed one) */
	const uint8_t *base; /* the grid_header */
	uint64_t size;       /* bytes of the grid region */
	uint32_t n_maps;
	uint32_t max_hunts;
	uint32_t max_entities;
	const struct cairn_map_info *maps;
	const struct cairn_hunt_info *hunts;
	const struct cairn_entity *ents;
};

/*
 * The query slices: fixed parts at the end of the blob arena, one per game query in
 * flight on the connection (see cairn.h). A slice is busy while its query runs, and
 * stays busy ("quarantined") after a query that gave up waiting, because the daemon
 * may still write its answer there; it is freed once a command pushed later has been
 * answered, which proves the daemon is done with it (it applies one lane's commands in
 * order).
 */
_Static_assert(CAIRN_MAX_QUERY_ITEMS * sizeof(struct cairn_hit) <= CAIRN_QUERY_SLICE_SIZE,
	       "a query slice holds the largest answer");
_Static_assert(CAIRN_QUERY_SLICES_MAX <= 32, "the slices fit a uint32_t bitmap");
struct cairn__slices {
	uint32_t busy;        /* atomic bitmap: taken or quarantined */
	uint32_t quarantined; /* atomic bitmap, changed under lock */
	uint64_t ticket;      /* atomic: taken before each push that may fence a slice */
	uint64_t fence[CAIRN_QUERY_SLICES_MAX]; /* quarantined slice i is freed by ticket >=
						   fence[i] */
	/*
	 * A path command is answered when its search ends, not in command order, so no later
	 * answer proves the daemon done with its slice: a quarantined path slice i waits for
	 * the late result of request awaited[i] itself (fence[i] is then UINT64_MAX).
	 */
	uint64_t awaited[CAIRN_QUERY_SLICES_MAX];
	pthread_mutex_t lock;
};

/*
 * The path commands of a lane (NEXT_MOVE, DISTANCE, PATH, PATH_TO_CLUE) whose results
 * have not been popped yet. The daemon runs them on solver threads and publishes their
 * results in the order they finish, out of command order, so the reconnect cannot tell
 * from ring positions alone which of them were answered (reconnect.c). Only path
 * commands and their results touch this, so the other commands pay a type compare and
 * nothing more.
 *
 * A pusher adds its command after claiming its ring position and before publishing the
 * slot; a popper removes the entry of a path result after claiming the result slot and
 * before releasing it. Entries are kept by position; a result names only its request
 * id, which several commands may share (a cairn_submit caller chooses its ids), and then
 * takes the entry of the lowest position.
 */
struct cairn__path_entry {
	uint64_t pos; /* the command-ring position */
	struct cairn_msg msg;
};

struct cairn__paths {
	pthread_mutex_t lock; /* guards everything below */
	struct cairn__path_entry *v;
	size_t n, cap;   /* cap grows up to the shadow's size, which honest daemons never reach */
	uint64_t pushed; /* path commands pushed on the lane */
	uint64_t popped; /* path results popped from the lane */
	bool lost;       /* an entry could not be kept (no memory, or more than cap) */
};

/* Whether command m is a path command, run on solver threads and answered out of order. */
static inline bool cairn__path_cmd(const struct cairn_msg *m)
{
	_Static_assert(CAIRN_MSG_DISTANCE == CAIRN_MSG_NEXT_MOVE + 1 &&
			       CAIRN_MSG_PATH == CAIRN_MSG_NEXT_MOVE + 2 &&
			       CAIRN_MSG_PATH_TO_CLUE == CAIRN_MSG_NEXT_MOVE + 3,
		       "the path commands are one range of types");
	return (uint16_t)(m->hdr.type - CAIRN_MSG_NEXT_MOVE) <= 3;
}

/*
 * Whether result m answers a path command: one of their replies, or an ERROR whose
 * request_type is a path command (the daemon names the failed command's type there).
 */
static inline bool cairn__path_result(const struct cairn_msg *m)
{
	_Static_assert(CAIRN_MSG_DISTANCE_REPLY == CAIRN_MSG_NEXT_MOVE_REPLY + 1 &&
			       CAIRN_MSG_PATH_REPLY == CAIRN_MSG_NEXT_MOVE_REPLY + 2,
		       "the path replies are one range of types (PATH_TO_CLUE answers with "
		       "PATH_REPLY)");
	uint16_t t = m->hdr.type;
	if ((uint16_t)(t - CAIRN_MSG_NEXT_MOVE_REPLY) <= 2) {
		return true;
	}
	if (t != CAIRN_MSG_ERROR) {
		return false;
	}
	uint16_t rt;
	memcpy(&rt, m->payload + offsetof(struct cairn_error_info, request_type), sizeof(rt));
	return (uint16_t)(rt - CAIRN_MSG_NEXT_MOVE) <= 3;
}

/*
 * One attachment to a daemon: a lane, the state segment that came with it, and what was
 * checked about both. cairn_open makes the first; each reattach after the daemon went
 * away makes another (src/client/reconnect.c). A lane is never unmapped or freed before
 * cairn_close, so a thread still holding a pointer to an old one touches valid memory:
 * it only finds that lane dead (its command ring sealed, its result ring drained) and
 * moves to the current one.
 */
struct cairn__lane {
	/* The hot part, read on every push and pop. */
	struct cairn__ring cmd;
	struct cairn__ring res;
	/*
	 * A private copy of every command pushed, by command-ring position: the pusher that
	 * claimed position p writes shadow[p & shadow_mask] (seq = p + 1, release) before it
	 * publishes the slot. shadow_mask + 1 >= cmd capacity + res capacity, which is the
	 * most commands a lane can have unanswered. An entry is overwritten a lap later,
	 * which for the commands answered in order (all but path commands) happens only
	 * once they are answered; a path command may still be unanswered when its entry is
	 * overwritten, which is why those are also kept in paths, below. The reconnect reads
	 * both to resubmit what was lost.
	 */
	struct cairn_slot *shadow;
	uint64_t shadow_mask;
	struct cairn__paths paths;

	int sock;
	void *base; /* the lane segment, read-write */
	uint64_t size;
	void *state; /* the state segment, read-only */
	uint64_t state_size;
	bool state_released; /* replaced by zero pages once its daemon is long gone */
	uint8_t *blob;
	uint64_t blob_size;
	uint32_t lane_id;
	uint64_t client_id;
	uint64_t gen;          /* 0 for cairn_open's lane, then one more per reattach */
	uint32_t dedup_window; /* from the welcome */
	uint32_t resumed;      /* from the welcome */
	uint64_t durable_lsn;  /* from the welcome */

	struct cairn__grid_view grid;          /* grid.c */
	struct cairn__broadcast_reader events; /* events.c: a template cursor at event 0 */
	int events_err;                        /* events.c: 0, or what cursors return */

	struct cairn__lane *older; /* every lane ever attached, newest first, for cairn_close */
};

/*
 * The reattach in progress, if any (reconnect.c). Guarded by lock; at most one thread
 * works on it at a time (running), and it may hand the work over: a call whose own
 * timeout ends gives up its turn, and the next call that finds the daemon gone goes on
 * from where it stopped.
 */
struct cairn__recovery {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; broadcast when running drops */
	bool running;
	struct cairn__lane *from;  /* the dead lane being replaced (sealed, drained), or NULL */
	struct cairn_msg *pending; /* the commands to resubmit, in their original order */
	size_t npending, pending_cap;
	struct cairn__msg_list early; /* results of a new lane, routed once it is current */
	uint64_t deadline;            /* give up at this time */
	uint64_t next_try;            /* the next attach attempt, not before */
	uint64_t backoff_ns;          /* the wait after the next failed attempt */
	uint64_t reconnects;          /* reattaches completed; atomic for readers */
	uint64_t resubmitted;         /* commands resubmitted; atomic for readers */
};

struct cairn_client {
	/*
	 * The current lane: loaded (acquire) at the start of every call, replaced (release)
	 * by the reconnect once the new lane is ready and everything lost has been pushed
	 * into it, so that a thread that sees the new lane also sees it fully set up.
	 */
	struct cairn__lane *lane;
	int dead;       /* atomic: 0, or the negative code every call now returns */
	int recovering; /* atomic hint: a reattach is under way (rc.from is set) */
	uint64_t spin_ns;

	/* Written by every thread: kept off the line of the read-mostly fields above. */
	_Alignas(64) uint64_t next_id; /* atomic */
	uint32_t quiet_polls; /* racy count of empty polls: every 1024th looks at the socket */

	_Alignas(64) uint64_t session_id; /* ours, random, the same for every lane */
	int64_t reconnect_ns;             /* < 0: never reattach */
	struct cairn_open_options opts;   /* what cairn_open was given (name copied below) */
	char name[CAIRN_NAME_SIZE + 1];
	char path[108]; /* the socket, for the reattach */
	struct cairn__recovery rc;
	struct cairn__lane *newest; /* every lane attached, through ->older; for cairn_close */

	pthread_mutex_t lock;           /* guards the three lists below */
	struct cairn__msg_list mailbox; /* call results waiting for their caller */
	struct cairn__msg_list pollq;   /* submit results taken by someone else than cairn_poll */
	uint64_t *abandoned;            /* ids of calls that timed out */
	size_t nabandoned, abandoned_cap;
	size_t mailbox_count; /* atomic mirror of mailbox.n, read without the lock */
	size_t pollq_count;   /* atomic mirror of pollq.n */

	struct cairn__slices slices; /* game.c */
	uint64_t grid_retries;       /* grid.c, atomic: torn or raced reads retried */
};

/* The current lane. Acquire, paired with the release that published it. */
static inline struct cairn__lane *cairn__lane_now(cairn_client *c)
{
	return __atomic_load_n(&c->lane, __ATOMIC_ACQUIRE);
}

/* Called by cairn_open right after allocating c, and by cairn_close. */
void cairn__slices_init(cairn_client *c);
void cairn__slices_fini(cairn_client *c);

/*
 * Called once both segments of a lane are mapped and validated, before the lane is
 * used. They never fail the attach: what they find wrong is returned by the calls that
 * need it.
 */
void cairn__grid_attach(struct cairn__lane *l);
void cairn__events_attach(struct cairn__lane *l);

/*
 * Attaches a new lane for c's session: connects to c->path, sends the hello with the
 * session, maps and checks both segments, sets up the grid view and the event template.
 * resubmitting is only information for the daemon's operators. timeout_ns bounds each
 * socket operation. Returns 0 and *out (owned by the caller until it joins c's lanes),
 * or the codes of cairn_open.
 */
int cairn__lane_attach(cairn_client *c, uint32_t resubmitting, uint64_t timeout_ns,
		       struct cairn__lane **out);

/* Unmaps and frees a lane and closes its socket. */
void cairn__lane_free(struct cairn__lane *l);

/* Whether l's daemon closed its socket (dead, or done with this lane). One syscall. */
bool cairn__lane_hung_up(const struct cairn__lane *l);

/*
 * Whether lane l, which the caller was using, still has its daemon; if not, reattaches
 * or waits for the reattach as cairn__client_recover does (until, wait). Returns 0 when l is
 * fine or has been replaced (the caller compares cairn__lane_now(c) with l), or a code
 * of cairn__client_recover. Makes one syscall unless a reattach is known to be under way.
 */
int cairn__lane_check(cairn_client *c, struct cairn__lane *l, uint64_t until, bool wait);

/*
 * What calls return once l is known to be gone: LANE_DROPPED or EVICTED when the daemon
 * said so in the lane state (the connection is then given up for good), else
 * DISCONNECTED (a reattach may follow).
 */
int cairn__lane_dead_code(const struct cairn__lane *l);

/*
 * Pushes up to n commands on l in order, with their private copies, as
 * cairn__ring_push_batch. Returns how many (0 when the ring is full).
 */
unsigned cairn__lane_push_batch(struct cairn__lane *l, const struct cairn_msg *m, unsigned n);

/*
 * Pops one result from l into m, as cairn__ring_try_pop, and if it answers a path
 * command removes that command from l->paths before the slot goes back to the daemon.
 * Returns false when the ring is empty.
 */
bool cairn__lane_pop(struct cairn__lane *l, struct cairn_msg *m);

/*
 * Removes from l->paths the command that path result m answers, and counts it popped.
 * Called by every pop of a path result from l, after the claim and before the release.
 */
void cairn__paths_unhook(struct cairn__lane *l, const struct cairn_msg *m);

/* Wakes the daemon if its apply thread sleeps on l's command doorbell. */
void cairn__lane_ring_daemon(struct cairn__lane *l);

/*
 * Hands a result taken from a ring to the kind of caller it belongs to (the mailbox or
 * the poll queue) and wakes sleepers. Returns 0 or -ENOMEM (the result is then lost).
 */
int cairn__route(cairn_client *c, const struct cairn_msg *m);

/*
 * Receives the welcome and, when it says yes, exactly want descriptors (2: the state and
 * lane segments; 1: the state segment, for an observer) into fds. Returns 0, -ETIMEDOUT,
 * -errno, -CAIRN_E_DISCONNECTED, -CAIRN_E_VERSION, -CAIRN_E_HANDSHAKE or the refusal's
 * code; on failure no descriptor is left open.
 */
int cairn__recv_welcome(int sock, struct cairn_welcome *w, int *fds, int want);

/* Maps a whole segment received from the daemon, refusing absurd sizes before mmap. */
int cairn__map_whole(int fd, bool writable, void **base, uint64_t *size);

/*
 * Maps the state segment (read-only) and the lane segment (read-write) that a welcome
 * brought, checks both (cairn__state_validate, cairn__lane_validate), and sets up l's
 * rings, blob arena and the private copies of its commands. The descriptors are not
 * closed or kept. On failure what was mapped stays in l for cairn__lane_free. Returns 0,
 * -errno, -ENOMEM or the validators' codes. (cairn__lane_attach calls it; the fuzz
 * targets call it on segments they make up.)
 */
int cairn__lane_map(struct cairn__lane *l, int state_fd, int lane_fd);

/* game.c: a late result of an abandoned call arrived; frees the slice it held, if any. */
void cairn__slices_late(cairn_client *c, uint64_t request_id);

/* reconnect.c: set up and tear down c->rc. */
void cairn__recovery_init(cairn_client *c);
void cairn__recovery_fini(cairn_client *c);

/*
 * Called by a call that found lane seen gone: its daemon closed the socket, or a
 * reattach is under way. Replaces seen with a new lane and resubmits what seen never
 * answered, or waits for the thread doing it (wait), or leaves it to that thread (not
 * wait). A thread that does the work gives up its turn when until (a CLOCK_MONOTONIC
 * time; 0 for none) passes, or, when not wait, after one attempt to attach.
 * Returns 0 when the current lane is no longer seen (retry on it); -EAGAIN (not wait)
 * while the reattach is not done; -ETIMEDOUT when until passed first; or, once the
 * connection is given up for good, the code every call now returns
 * (-CAIRN_E_DISCONNECTED, -CAIRN_E_LANE_DROPPED, -CAIRN_E_EVICTED).
 */
int cairn__client_recover(cairn_client *c, struct cairn__lane *seen, uint64_t until, bool wait);

/* Grid reads retried so far on c because they raced with a write (a statistic). */
uint64_t cairn__grid_retries(cairn_client *c);

#endif
