/*
 * The exactly-once table: for each client session, the results of its latest accepted
 * commands that changed the state, keyed by request id.
 *
 * A session is a client's identity across reconnects (the 64-bit id it chose and sends
 * in its hello). When a client resubmits a request after a daemon restart, the daemon
 * looks the request id up here first: a hit is answered with the original result and
 * not applied again. Only accepted state-changing commands are kept (exactly the WAL's
 * command records), so the table is a function of the log: replaying the log into an
 * empty table rebuilds it exactly, and snapshots carry it.
 *
 * Each session keeps its latest `window` entries (older ones are forgotten, oldest
 * first); the daemon clamps a lane's result ring to the window, which is enough: a
 * client can be missing results for at most as many commands as its result ring holds.
 * At most max_sessions sessions are kept; adding one more forgets the session whose
 * latest entry is oldest (by LSN), so the choice depends on the log only.
 *
 * Request id 0 means "no exactly-once" by convention: the daemon and the replicas never
 * find or put it (the table itself treats it like any other id).
 *
 * Memory grows with use: a session's entries and index double as it fills, up to the
 * window, so a session that sent a few commands costs a few hundred bytes; a full one
 * costs about 88 bytes per entry. Only one thread may use a table.
 */
#ifndef CAIRN_STORE_DEDUP_H
#define CAIRN_STORE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/protocol.h"

struct cairn__dedup;

/*
 * A full session costs about 88 bytes x window (360 KiB at the default window), and the
 * daemon's store thread keeps a second copy in its replica: the defaults bound the two
 * tables near 180 MiB. Sessions outlive their clients (a client may come back after a
 * restart), so hosts that come and go fill the table up to max_sessions: four times the
 * daemon's default --max-clients leaves room for a generation of reconnecting clients
 * beside the live ones while keeping that bound.
 */
#define CAIRN__DEDUP_DEFAULT_WINDOW   4096
#define CAIRN__DEDUP_DEFAULT_SESSIONS 256

/* window: 1 .. 2^20, a power of two; max_sessions >= 1. Returns 0, -EINVAL or -ENOMEM. */
int cairn__dedup_new(uint32_t window, uint32_t max_sessions, struct cairn__dedup **out);
void cairn__dedup_free(struct cairn__dedup *d);

/*
 * The stored result of (session, request_id), or NULL. When a request id was put twice
 * and both are in the window, the later one. The pointer is valid until the next put,
 * restore or free. Cheap: one hash probe for the session (cached for repeats) and one
 * for the request.
 */
const struct cairn_msg *cairn__dedup_find(struct cairn__dedup *d, uint64_t session,
					  uint64_t request_id);

/*
 * Starts the memory loads that a find or put of (session, request_id) will need (the
 * index slots of the request and of the entry the put would push out), so that work
 * done in between overlaps their cache misses. Only a hint: changes nothing.
 */
void cairn__dedup_prefetch(struct cairn__dedup *d, uint64_t session, uint64_t request_id);

/*
 * Records result (copied) as the answer to (session, request_id), logged at lsn, which
 * must be greater than every LSN put before (and restored). The session's oldest entry
 * goes when it already holds `window`; a new session makes the session whose latest
 * entry is oldest go when there are already max_sessions. Returns 0, -EINVAL (lsn not
 * increasing, or result NULL) or -ENOMEM; on error the table is unchanged.
 */
int cairn__dedup_put(struct cairn__dedup *d, uint64_t session, uint64_t request_id, uint64_t lsn,
		     const struct cairn_msg *result);

/* Sessions held, and entries held over all of them (either pointer may be NULL). */
void cairn__dedup_count(const struct cairn__dedup *d, uint64_t *sessions, uint64_t *entries);

/*
 * The ids of the sessions held, into ids (at most max of them), the one whose latest
 * entry is oldest first (the next to go). Returns how many sessions the table holds
 * (which may exceed max). For the daemon's startup, to know which sessions the recovered
 * table answers for.
 */
uint32_t cairn__dedup_sessions(const struct cairn__dedup *d, uint64_t *ids, uint32_t max);

/*
 * Bytes the table has allocated (its entries, indexes and sessions), for metrics.
 * Walks every session: not for the apply path.
 */
uint64_t cairn__dedup_bytes(const struct cairn__dedup *d);

/* The LSN of the latest put or restored entry (0 for an empty table). */
uint64_t cairn__dedup_last_lsn(const struct cairn__dedup *d);

/* Forgets everything: the table is as cairn__dedup_new made it. */
void cairn__dedup_clear(struct cairn__dedup *d);

/*
 * A canonical little-endian image of the table in a new buffer the caller frees with
 * free(): window, max_sessions, then the sessions by ascending id, each with its entries
 * oldest first. Tables made with the same parameters that hold the same entries give
 * equal bytes, whatever their memory layout or history. Returns 0 or -ENOMEM.
 */
int cairn__dedup_save(const struct cairn__dedup *d, uint8_t **buf, size_t *len);

/*
 * Restores an image into an empty table (one that was never put to) made with the same
 * window and max_sessions or larger. The image is untrusted: every length, count and
 * order is checked before it is used. Returns 0, -EBUSY (the table is not empty),
 * -CAIRN_E_BAD_SNAPSHOT (malformed, or made with a larger window or more sessions), or
 * -ENOMEM; on error the table is left empty.
 */
int cairn__dedup_restore(struct cairn__dedup *d, const uint8_t *buf, size_t len);

#endif
