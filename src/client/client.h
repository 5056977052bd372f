/*
 * libcairn's internals, shared by its files:
 *
 *   client.c  attach, submit, poll, wait, call (the connection itself)
 *   game.c    the typed game commands, and the query slices of the blob arena
 *   grid.c    direct reads of the grid region of the state segment
 *   events.c  event cursors on the broadcast ring
 *
 * The state segment is mapped read-only and written by the daemon only; the lane is
 * mapped read-write and shared with the daemon. Everything read from either is input
 * from another process: validated before it is used, never asserted on.
 */
#ifndef CAIRN_CLIENT_CLIENT_H
#define CAIRN_CLIENT_CLIENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

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
	pthread_mutex_t lock;
};

struct cairn_client {
	int sock;
	void *state;
	uint64_t state_size;
	void *lane;
	uint64_t lane_size;
	struct cairn__ring cmd;
	struct cairn__ring res;
	uint8_t *blob;
	uint64_t blob_size;
	uint32_t lane_id;
	uint64_t client_id;
	uint64_t spin_ns;
	uint64_t next_id; /* atomic */
	int dead;         /* atomic: 0, or the negative code every call now returns */

	pthread_mutex_t lock;           /* guards the three lists below */
	struct cairn__msg_list mailbox; /* call results waiting for their caller */
	struct cairn__msg_list pollq;   /* submit results popped by a caller of cairn_call */
	uint64_t *abandoned;            /* ids of calls that timed out */
	size_t nabandoned, abandoned_cap;
	size_t mailbox_count; /* atomic mirror of mailbox.n, read without the lock */
	size_t pollq_count;   /* atomic mirror of pollq.n */

	struct cairn__slices slices;           /* game.c */
	struct cairn__grid_view grid;          /* grid.c */
	uint64_t grid_retries;                 /* grid.c, atomic: torn or raced reads retried */
	struct cairn__broadcast_reader events; /* events.c: a template cursor at event 0 */
	int events_err;                        /* events.c: 0, or what cursors return */
};

/* Called by cairn_open right after allocating c, and by cairn_close. */
void cairn__slices_init(cairn_client *c);
void cairn__slices_fini(cairn_client *c);

/*
 * Called by cairn_open once both segments are mapped and validated. They never fail
 * the attach: what they find wrong is returned by the calls that need it.
 */
void cairn__grid_attach(cairn_client *c);
void cairn__events_attach(cairn_client *c);

/* Grid reads retried so far on c because they raced with a write (a statistic). */
uint64_t cairn__grid_retries(cairn_client *c);

#endif
