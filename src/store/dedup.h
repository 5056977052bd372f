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
 */
#ifndef CAIRN_STORE_DEDUP_H
#define CAIRN_STORE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/protocol.h"

struct cairn__dedup;

#define CAIRN__DEDUP_DEFAULT_WINDOW   4096
#define CAIRN__DEDUP_DEFAULT_SESSIONS 4096

/* window: 1 .. 2^20, a power of two; max_sessions >= 1. Returns 0, -EINVAL or -ENOMEM. */
int cairn__dedup_new(uint32_t window, uint32_t max_sessions, struct cairn__dedup **out);
void cairn__dedup_free(struct cairn__dedup *d);

/*
 * The stored result of (session, request_id), or NULL. The pointer is valid until the
 * next put. Cheap: one hash probe for the session (cached for repeats) and one for
 * the request.
 */
const struct cairn_msg *cairn__dedup_find(struct cairn__dedup *d, uint64_t session,
					  uint64_t request_id);

/*
 * Records result as the answer to (session, request_id), logged at lsn (strictly
 * increasing across calls). Returns 0 or -ENOMEM (then the table is unchanged).
 */
int cairn__dedup_put(struct cairn__dedup *d, uint64_t session, uint64_t request_id, uint64_t lsn,
		     const struct cairn_msg *result);

/* Sessions held, and entries held over all of them. */
void cairn__dedup_count(const struct cairn__dedup *d, uint64_t *sessions, uint64_t *entries);

/*
 * A canonical little-endian image of the table (equal tables give equal bytes) in a new
 * buffer the caller frees. Returns 0 or -ENOMEM.
 */
int cairn__dedup_save(const struct cairn__dedup *d, uint8_t **buf, size_t *len);

/*
 * Restores an image into an empty table made with the same window and max_sessions or
 * larger. The image is untrusted: returns 0, -CAIRN_E_BAD_SNAPSHOT (table left empty)
 * or -ENOMEM.
 */
int cairn__dedup_restore(struct cairn__dedup *d, const uint8_t *buf, size_t len);

#endif
