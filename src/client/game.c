/*
 * The typed game commands: one cairn_call each, with the payload built from the
 * arguments and the reply checked and copied out.
 *
 * NEAREST_CLUES, PLAYERS_NEAR and LEADERBOARD answer through the blob arena. Each call
 * reserves one query slice at the end of the arena (see cairn.h) for as long as the
 * daemon may write into it, so that concurrent queries on one connection never share
 * an output region, and copies its hits out before giving the slice back.
 */
#include <errno.h>
#include <string.h>

#include "cairn/cairn.h"
#include "client/client.h"
#include "common/atomic.h"
#include "common/clock.h"

/* ---- query slices ---- */

void cairn__slices_init(cairn_client *c)
{
	pthread_mutex_init(&c->slices.lock, NULL);
}

void cairn__slices_fini(cairn_client *c)
{
	pthread_mutex_destroy(&c->slices.lock);
}

/* Slices in c's arena: as many 32 KiB slices as fit, at most SLICES_MAX. */
static uint32_t slice_count(cairn_client *c)
{
	uint64_t n = cairn__lane_now(c)->blob_size / CAIRN_QUERY_SLICE_SIZE;
	return n > CAIRN_QUERY_SLICES_MAX ? CAIRN_QUERY_SLICES_MAX : (uint32_t)n;
}

/* Offset of slice i in the arena: slice 0 is the last 32 KiB, slice 1 the 32 KiB before. */
static uint64_t slice_offset(cairn_client *c, unsigned i)
{
	return cairn__lane_now(c)->blob_size - (uint64_t)(i + 1) * CAIRN_QUERY_SLICE_SIZE;
}

/* Takes a free slice. Returns its index, or -EBUSY when every slice is busy. */
static int slice_take(cairn_client *c)
{
	struct cairn__slices *s = &c->slices;
	uint32_t all = (uint32_t)((1u << slice_count(c)) - 1);
	/*
	 * Relaxed: the bitmap only decides who owns which bytes of the arena; those bytes
	 * are ordered by the rings (the daemon writes them before it publishes the result).
	 */
	uint32_t busy = cairn__load_relaxed(&s->busy);
	for (;;) {
		uint32_t free_ = ~busy & all;
		if (!free_) {
			return -EBUSY;
		}
		unsigned i = (unsigned)__builtin_ctz(free_);
		if (cairn__cas_relaxed(&s->busy, &busy, busy | (1u << i))) {
			return (int)i;
		}
	}
}

static void slice_put(cairn_client *c, unsigned i)
{
	/* Relaxed: as in slice_take. */
	__atomic_fetch_and(&c->slices.busy, ~(1u << i), __ATOMIC_RELAXED);
}

/* A ticket taken before a push: commands pushed earlier were pushed before this one. */
static uint64_t take_ticket(cairn_client *c)
{
	/* Relaxed: the RMW's total order on the counter is the only order used. */
	return cairn__add_relaxed(&c->slices.ticket, 1);
}

/*
 * Keeps slice i busy after its query gave up waiting: the command may still be in the
 * ring, and the daemon would then write its answer into the slice later. Any command
 * whose ticket is taken from now on is pushed after it, so that command's answer
 * proves the daemon has applied it (one lane's commands are applied in order).
 */
static void slice_quarantine(cairn_client *c, unsigned i)
{
	struct cairn__slices *s = &c->slices;
	pthread_mutex_lock(&s->lock);
	s->fence[i] = take_ticket(c);
	__atomic_fetch_or(&s->quarantined, 1u << i, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Keeps slice i busy after a path call gave up waiting: its answer comes when the search
 * ends, perhaps after answers to commands pushed later, so only its own late result
 * frees the slice (cairn__slices_late, from the routing of results).
 */
static void slice_quarantine_path(cairn_client *c, unsigned i, uint64_t request_id)
{
	struct cairn__slices *s = &c->slices;
	pthread_mutex_lock(&s->lock);
	s->fence[i] = UINT64_MAX;
	s->awaited[i] = request_id;
	__atomic_fetch_or(&s->quarantined, 1u << i, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&s->lock);
}

void cairn__slices_late(cairn_client *c, uint64_t request_id)
{
	struct cairn__slices *s = &c->slices;
	if (cairn__load_relaxed(&s->quarantined) == 0) {
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < CAIRN_QUERY_SLICES_MAX; i++) {
		if ((s->quarantined & (1u << i)) && s->fence[i] == UINT64_MAX &&
		    s->awaited[i] == request_id) {
			__atomic_fetch_and(&s->quarantined, ~(1u << i), __ATOMIC_RELAXED);
			slice_put(c, i);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* Frees the quarantined slices that the answer to a command with this ticket proves done. */
static void slices_release(cairn_client *c, uint64_t ticket)
{
	struct cairn__slices *s = &c->slices;
	/* A lock-free peek: quarantines are rare, and re-checked under the lock. */
	if (cairn__load_relaxed(&s->quarantined) == 0) {
		return;
	}
	pthread_mutex_lock(&s->lock);
	uint32_t q = s->quarantined;
	for (unsigned i = 0; i < CAIRN_QUERY_SLICES_MAX; i++) {
		if ((q & (1u << i)) && s->fence[i] <= ticket) {
			__atomic_fetch_and(&s->quarantined, ~(1u << i), __ATOMIC_RELAXED);
			slice_put(c, i);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * Takes a slice; when all are busy but some only quarantined, first proves the daemon
 * done with them by a PING (pushed after the queries that gave up). Returns the slice
 * index, -EBUSY, -ENOBUFS (the arena has no slice at all), or a code of cairn_ping.
 */
static int slice_acquire(cairn_client *c, int64_t timeout_ns)
{
	if (slice_count(c) == 0) {
		return -ENOBUFS;
	}
	int i = slice_take(c);
	if (i != -EBUSY || cairn__load_relaxed(&c->slices.quarantined) == 0) {
		return i;
	}
	uint64_t t = take_ticket(c);
	int r = cairn_ping(c, timeout_ns);
	if (r < 0) {
		return r;
	}
	slices_release(c, t);
	return slice_take(c);
}

/* ---- calls ---- */

/*
 * Sends the command m and expects reply_type with at least reply_len payload bytes;
 * copies out_size bytes of the reply into out when out is not NULL.
 */
static int game_call_msg(cairn_client *c, struct cairn_msg *m, uint16_t reply_type,
			 uint8_t reply_len, void *out, size_t out_size, int64_t timeout_ns)
{
	struct cairn_msg res;
	int r = cairn_call(c, m, &res, timeout_ns);
	if (r < 0) {
		return r;
	}
	if (res.hdr.type != reply_type || res.hdr.length < reply_len) {
		return -CAIRN_E_BAD_REPLY;
	}
	if (out) {
		memcpy(out, res.payload, out_size);
	}
	return 0;
}

/* game_call_msg for a command of type with payload (size bytes) and length LEN_MIN. */
static int game_call(cairn_client *c, uint16_t type, uint8_t length, const void *payload,
		     size_t size, uint16_t reply_type, uint8_t reply_len, void *out,
		     size_t out_size, int64_t timeout_ns)
{
	struct cairn_msg m;
	cairn_msg_init(&m, type, length);
	memcpy(m.payload, payload, size);
	return game_call_msg(c, &m, reply_type, reply_len, out, out_size, timeout_ns);
}

#define CALL(c, T, payload, R, out, timeout)                                                       \
	game_call((c), CAIRN_MSG_##T, CAIRN_MSG_##T##_LEN_MIN, &(payload), sizeof(payload),        \
		  CAIRN_MSG_##R, CAIRN_MSG_##R##_LEN_MIN, (out), sizeof(*(out)), (timeout))

/* Sends a built command m and expects the reply R into out (which may be NULL). */
#define CALL_MSG(c, m, R, out, timeout)                                                            \
	game_call_msg((c), (m), CAIRN_MSG_##R, CAIRN_MSG_##R##_LEN_MIN, (out), sizeof(*(out)),     \
		      (timeout))

/* Initialises m as a command of type T with its payload struct q. */
#define BUILD(m, T, q)                                                                             \
	do {                                                                                       \
		cairn_msg_init((m), CAIRN_MSG_##T, CAIRN_MSG_##T##_LEN_MIN);                       \
		memcpy((m)->payload, &(q), sizeof(q));                                             \
	} while (0)

CAIRN_API void cairn_msg_hunt_create(struct cairn_msg *m, const struct cairn_hunt_params *params)
{
	struct cairn_hunt_create q;
	memset(&q, 0, sizeof(q));
	if (params) {
		q.map_id = params->map_id;
		q.claim_radius_mm = params->claim_radius_mm;
		q.speed_limit_mm_s = params->speed_limit_mm_s;
		q.cell_mm = params->cell_mm;
	}
	BUILD(m, HUNT_CREATE, q);
}

CAIRN_API void cairn_msg_hunt_destroy(struct cairn_msg *m, uint32_t hunt_id)
{
	struct cairn_hunt_ref q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	BUILD(m, HUNT_DESTROY, q);
}

CAIRN_API void cairn_msg_join(struct cairn_msg *m, uint32_t hunt_id, int32_t x, int32_t y)
{
	struct cairn_join q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.x = x;
	q.y = y;
	BUILD(m, JOIN, q);
}

CAIRN_API void cairn_msg_leave(struct cairn_msg *m, uint32_t hunt_id, uint32_t player_id)
{
	struct cairn_player_ref q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.player_id = player_id;
	BUILD(m, LEAVE, q);
}

CAIRN_API void cairn_msg_move(struct cairn_msg *m, uint32_t hunt_id, uint32_t player_id, int32_t x,
			      int32_t y)
{
	struct cairn_move q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.player_id = player_id;
	q.x = x;
	q.y = y;
	BUILD(m, MOVE, q);
}

CAIRN_API void cairn_msg_clue_place(struct cairn_msg *m, uint32_t hunt_id, int32_t x, int32_t y,
				    int64_t value)
{
	struct cairn_clue_place q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.x = x;
	q.y = y;
	q.value = value;
	BUILD(m, CLUE_PLACE, q);
}

CAIRN_API void cairn_msg_clue_remove(struct cairn_msg *m, uint32_t hunt_id, uint32_t clue_id)
{
	struct cairn_clue_ref q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.clue_id = clue_id;
	BUILD(m, CLUE_REMOVE, q);
}

CAIRN_API int cairn_hunt_create(cairn_client *c, const struct cairn_hunt_params *params,
				struct cairn_hunt_created *out, int64_t timeout_ns)
{
	struct cairn_msg m;
	cairn_msg_hunt_create(&m, params);
	return CALL_MSG(c, &m, HUNT_CREATED, out, timeout_ns);
}

CAIRN_API int cairn_hunt_destroy(cairn_client *c, uint32_t hunt_id, int64_t timeout_ns)
{
	struct cairn_msg m;
	cairn_msg_hunt_destroy(&m, hunt_id);
	struct cairn_hunt_destroyed *none = NULL;
	return CALL_MSG(c, &m, HUNT_DESTROYED, none, timeout_ns);
}

CAIRN_API int cairn_join(cairn_client *c, uint32_t hunt_id, int32_t x, int32_t y,
			 uint32_t *player_id, int64_t timeout_ns)
{
	struct cairn_msg m;
	struct cairn_joined r;
	cairn_msg_join(&m, hunt_id, x, y);
	int rc = CALL_MSG(c, &m, JOINED, &r, timeout_ns);
	if (rc == 0 && player_id) {
		*player_id = r.player_id;
	}
	return rc;
}

CAIRN_API int cairn_leave(cairn_client *c, uint32_t hunt_id, uint32_t player_id,
			  struct cairn_left *out, int64_t timeout_ns)
{
	struct cairn_msg m;
	cairn_msg_leave(&m, hunt_id, player_id);
	return CALL_MSG(c, &m, LEFT, out, timeout_ns);
}

CAIRN_API int cairn_move(cairn_client *c, uint32_t hunt_id, uint32_t player_id, int32_t x,
			 int32_t y, struct cairn_moved *out, int64_t timeout_ns)
{
	struct cairn_msg m;
	cairn_msg_move(&m, hunt_id, player_id, x, y);
	return CALL_MSG(c, &m, MOVED, out, timeout_ns);
}

CAIRN_API int cairn_clue_place(cairn_client *c, uint32_t hunt_id, int32_t x, int32_t y,
			       int64_t value, uint32_t *clue_id, int64_t timeout_ns)
{
	struct cairn_msg m;
	struct cairn_clue_placed r;
	cairn_msg_clue_place(&m, hunt_id, x, y, value);
	int rc = CALL_MSG(c, &m, CLUE_PLACED, &r, timeout_ns);
	if (rc == 0 && clue_id) {
		*clue_id = r.clue_id;
	}
	return rc;
}

CAIRN_API int cairn_clue_remove(cairn_client *c, uint32_t hunt_id, uint32_t clue_id,
				struct cairn_clue_removed *out, int64_t timeout_ns)
{
	struct cairn_msg m;
	cairn_msg_clue_remove(&m, hunt_id, clue_id);
	return CALL_MSG(c, &m, CLUE_REMOVED, out, timeout_ns);
}

CAIRN_API int cairn_player_state(cairn_client *c, uint32_t hunt_id, uint32_t player_id,
				 struct cairn_player_info *out, int64_t timeout_ns)
{
	struct cairn_player_ref q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.player_id = player_id;
	return CALL(c, PLAYER_STATE, q, PLAYER_INFO, out, timeout_ns);
}

CAIRN_API int cairn_state_hash(cairn_client *c, struct cairn_state_hash_reply *out,
			       int64_t timeout_ns)
{
	struct cairn_empty q;
	memset(&q, 0, sizeof(q));
	return CALL(c, STATE_HASH, q, STATE_HASH_REPLY, out, timeout_ns);
}

/* ---- queries through the arena ---- */

/*
 * Runs one query of the given type and payload length. q is its payload, whose output
 * region (the uint32 fields at byte offsets out_off and out_cap) this fills in with a
 * slice of the arena. Copies the hits (at most max) into hits, if not NULL, and the
 * counts into *count and *total.
 */
static int query(cairn_client *c, uint16_t type, uint8_t length, void *q, size_t out_off,
		 size_t out_cap, uint32_t max, struct cairn_hit *hits, uint32_t *count,
		 uint32_t *total, int64_t timeout_ns)
{
	uint64_t start = timeout_ns > 0 ? cairn__now_ns() : 0;
	int i = slice_acquire(c, timeout_ns);
	if (i < 0) {
		return i;
	}
	if (timeout_ns > 0) {
		/* What the PING of slice_acquire, if any, took counts against the timeout. */
		uint64_t spent = cairn__now_ns() - start;
		timeout_ns = spent < (uint64_t)timeout_ns ? timeout_ns - (int64_t)spent : 0;
	}
	uint32_t off = (uint32_t)slice_offset(c, (unsigned)i), cap = CAIRN_QUERY_SLICE_SIZE;
	memcpy((uint8_t *)q + out_off, &off, sizeof(off));
	memcpy((uint8_t *)q + out_cap, &cap, sizeof(cap));

	struct cairn_msg m, res;
	cairn_msg_init(&m, type, length);
	memcpy(m.payload, q, CAIRN_PAYLOAD_SIZE);
	memset(&res, 0, sizeof(res));
	uint64_t ticket = take_ticket(c);
	int r = cairn_call(c, &m, &res, timeout_ns);
	if (res.hdr.request_id != m.hdr.request_id) {
		/*
		 * No answer (a timeout, or the connection failed while waiting): the command
		 * may still be applied later and write into the slice, so keep it busy.
		 */
		slice_quarantine(c, (unsigned)i);
		return r;
	}
	/* The daemon answered: it will not touch the slice again for this command. */
	struct cairn_query_reply a;
	memcpy(&a, res.payload, sizeof(a));
	if (r == 0 && (res.hdr.type != (type | CAIRN_REPLY_BIT) ||
		       res.hdr.length < CAIRN_MSG_NEAREST_CLUES_REPLY_LEN_MIN || a.count > max ||
		       a.count > a.total || a.out_offset != off ||
		       a.out_length != a.count * sizeof(struct cairn_hit))) {
		r = -CAIRN_E_BAD_REPLY;
	}
	if (r == 0) {
		if (hits) {
			/*
			 * The result's acquire (the ring pop) made the daemon's writes visible.
			 * They are in the arena of the lane that answered, or, if the daemon has
			 * gone away since, in the arenas of the lanes that replaced it, each a copy
			 * of the one before made once its daemon was gone: the current lane, loaded
			 * after the result was taken, has them either way.
			 */
			const uint8_t *blob = cairn__lane_now(c)->blob;
			memcpy(hits, blob + off, (size_t)a.count * sizeof(struct cairn_hit));
		}
		if (count) {
			*count = a.count;
		}
		if (total) {
			*total = a.total;
		}
	}
	slices_release(c, ticket);
	slice_put(c, (unsigned)i);
	return r;
}

CAIRN_API int cairn_nearest_clues(cairn_client *c, uint32_t hunt_id, int32_t x, int32_t y,
				  uint32_t k, int include_claimed, struct cairn_hit *hits,
				  uint32_t *count, int64_t timeout_ns)
{
	if (k == 0 || k > CAIRN_MAX_QUERY_ITEMS) {
		return -EINVAL;
	}
	struct cairn_nearest_clues q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.x = x;
	q.y = y;
	q.k = k;
	q.include_claimed = include_claimed != 0;
	return query(c, CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_NEAREST_CLUES_LEN_MIN, &q,
		     offsetof(struct cairn_nearest_clues, out_offset),
		     offsetof(struct cairn_nearest_clues, out_capacity), k, hits, count, NULL,
		     timeout_ns);
}

CAIRN_API int cairn_players_near(cairn_client *c, uint32_t hunt_id, int32_t x, int32_t y,
				 uint32_t radius_mm, uint32_t max, struct cairn_hit *hits,
				 uint32_t *count, uint32_t *total, int64_t timeout_ns)
{
	if (max == 0 || max > CAIRN_MAX_QUERY_ITEMS) {
		return -EINVAL;
	}
	struct cairn_players_near q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.x = x;
	q.y = y;
	q.radius_mm = radius_mm;
	q.max = max;
	return query(c, CAIRN_MSG_PLAYERS_NEAR, CAIRN_MSG_PLAYERS_NEAR_LEN_MIN, &q,
		     offsetof(struct cairn_players_near, out_offset),
		     offsetof(struct cairn_players_near, out_capacity), max, hits, count, total,
		     timeout_ns);
}

CAIRN_API int cairn_leaderboard(cairn_client *c, uint32_t hunt_id, uint32_t k,
				struct cairn_hit *hits, uint32_t *count, int64_t timeout_ns)
{
	if (k == 0 || k > CAIRN_MAX_QUERY_ITEMS) {
		return -EINVAL;
	}
	struct cairn_leaderboard q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.k = k;
	return query(c, CAIRN_MSG_LEADERBOARD, CAIRN_MSG_LEADERBOARD_LEN_MIN, &q,
		     offsetof(struct cairn_leaderboard, out_offset),
		     offsetof(struct cairn_leaderboard, out_capacity), k, hits, count, NULL,
		     timeout_ns);
}

/* ---- paths ---- */

/*
 * Sends path command m through a slice of the arena: in_len bytes of input from `in`
 * (none when in_len is 0) at the slice's start, whose offset goes to the uint32 payload
 * field at in_field; the answer goes to the same place (the daemon reads the input
 * before it writes), its offset and capacity into the fields at out_field and cap_field.
 * On an answer of type `reply`, copies what the reply's (out_offset, out_length) says,
 * at most out_max bytes, into out. *res gets the result whatever it was, and is all
 * zeroes when no command went out (no slice could be taken).
 */
static int path_call(cairn_client *c, struct cairn_msg *m, uint16_t reply, const void *in,
		     size_t in_len, size_t in_field, size_t out_field, size_t cap_field,
		     size_t reply_out_field, void *out, size_t out_max, struct cairn_msg *res,
		     int64_t timeout_ns)
{
	/* The daemon may write up to out_max bytes: what the caller can take. */
	uint64_t start = timeout_ns > 0 ? cairn__now_ns() : 0;
	memset(res, 0, sizeof(*res));
	int i = slice_acquire(c, timeout_ns);
	if (i < 0) {
		return i;
	}
	if (timeout_ns > 0) {
		uint64_t spent = cairn__now_ns() - start;
		timeout_ns = spent < (uint64_t)timeout_ns ? timeout_ns - (int64_t)spent : 0;
	}
	uint32_t off = (uint32_t)slice_offset(c, (unsigned)i);
	uint32_t cap =
		out_max < CAIRN_QUERY_SLICE_SIZE ? (uint32_t)out_max : CAIRN_QUERY_SLICE_SIZE;
	memcpy(m->payload + out_field, &off, sizeof(off));
	memcpy(m->payload + cap_field, &cap, sizeof(cap));
	uint64_t ticket;
	int r;
	for (unsigned tries = 0;; tries++) {
		struct cairn__lane *l = cairn__lane_now(c);
		if (in_len) {
			memcpy(l->blob + off, in, in_len);
			memcpy(m->payload + in_field, &off, sizeof(off));
		}
		memset(res, 0, sizeof(*res));
		m->hdr.request_id = 0;
		ticket = take_ticket(c);
		r = cairn_call(c, m, res, timeout_ns);
		if (res->hdr.request_id != m->hdr.request_id) {
			/* cairn_call assigned the request id, which its late result will carry. */
			slice_quarantine_path(c, (unsigned)i, m->hdr.request_id);
			return r;
		}
		/*
		 * A reattach while the command was out may have copied the old arena before
		 * the input was written into it, so the daemon that answered may not have
		 * seen the input: ask again (a read, so asking twice changes nothing).
		 */
		if (!in_len || cairn__lane_now(c) == l || tries == 3) {
			break;
		}
	}
	if (r == 0) {
		uint32_t a_off, a_len;
		memcpy(&a_off, res->payload + reply_out_field, sizeof(a_off));
		memcpy(&a_len, res->payload + reply_out_field + 4, sizeof(a_len));
		if (res->hdr.type != reply || a_off != off || a_len > out_max || a_len > cap) {
			r = -CAIRN_E_BAD_REPLY;
		} else if (out && a_len) {
			/* As in query(): the current lane's arena holds the daemon's writes. */
			memcpy(out, cairn__lane_now(c)->blob + off, a_len);
		}
	}
	slices_release(c, ticket);
	slice_put(c, (unsigned)i);
	return r;
}

static int path_batch(cairn_client *c, uint16_t type, uint16_t reply, uint32_t hunt_id,
		      const struct cairn_path_pair *pairs, uint32_t n, unsigned method, void *out,
		      size_t item, struct cairn_path_batch_reply *info, int64_t timeout_ns)
{
	if (n == 0 || n > CAIRN_MAX_PATH_BATCH || !pairs || !out || method > CAIRN_METHOD_TABLE) {
		return -EINVAL;
	}
	struct cairn_path_batch q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.count = n;
	q.method = method;
	struct cairn_msg m, res;
	cairn_msg_init(&m, type, CAIRN_MSG_NEXT_MOVE_LEN_MIN);
	memcpy(m.payload, &q, sizeof(q));
	int r = path_call(c, &m, reply, pairs, (size_t)n * sizeof(pairs[0]),
			  offsetof(struct cairn_path_batch, in_offset),
			  offsetof(struct cairn_path_batch, out_offset),
			  offsetof(struct cairn_path_batch, out_capacity),
			  offsetof(struct cairn_path_batch_reply, out_offset), out, n * item, &res,
			  timeout_ns);
	if (r == 0) {
		struct cairn_path_batch_reply a;
		memcpy(&a, res.payload, sizeof(a));
		if (a.count != n || a.out_length != n * item || a.failed > n) {
			return -CAIRN_E_BAD_REPLY;
		}
		if (info) {
			*info = a;
		}
	}
	return r;
}

CAIRN_API int cairn_next_moves(cairn_client *c, uint32_t hunt_id,
			       const struct cairn_path_pair *pairs, uint32_t n, unsigned method,
			       struct cairn_next_move_item *out,
			       struct cairn_path_batch_reply *info, int64_t timeout_ns)
{
	return path_batch(c, CAIRN_MSG_NEXT_MOVE, CAIRN_MSG_NEXT_MOVE_REPLY, hunt_id, pairs, n,
			  method, out, sizeof(*out), info, timeout_ns);
}

CAIRN_API int cairn_distances(cairn_client *c, uint32_t hunt_id,
			      const struct cairn_path_pair *pairs, uint32_t n, unsigned method,
			      struct cairn_distance_item *out, struct cairn_path_batch_reply *info,
			      int64_t timeout_ns)
{
	return path_batch(c, CAIRN_MSG_DISTANCE, CAIRN_MSG_DISTANCE_REPLY, hunt_id, pairs, n,
			  method, out, sizeof(*out), info, timeout_ns);
}

/* PATH and PATH_TO_CLUE, once their payload is in m. */
static int path_points(cairn_client *c, struct cairn_msg *m, unsigned flags, unsigned method,
		       size_t out_field, size_t cap_field, struct cairn_path_point *points,
		       uint32_t cap, struct cairn_path_reply *info, int64_t timeout_ns)
{
	if (!points || cap == 0 || method > CAIRN_METHOD_TABLE || (flags & ~CAIRN_PATH_WAYPOINTS)) {
		return -EINVAL;
	}
	struct cairn_msg res;
	uint64_t max = (uint64_t)cap * sizeof(points[0]);
	int r = path_call(c, m, CAIRN_MSG_PATH_REPLY, NULL, 0, 0, out_field, cap_field,
			  offsetof(struct cairn_path_reply, out_offset), points,
			  max < CAIRN_QUERY_SLICE_SIZE ? max : CAIRN_QUERY_SLICE_SIZE, &res,
			  timeout_ns);
	if (r == -CAIRN_E_BLOB_TOO_SMALL && info && res.hdr.type == CAIRN_MSG_ERROR &&
	    res.hdr.request_id == m->hdr.request_id) {
		/* The detail is the bytes the whole answer needs. */
		struct cairn_error_info e;
		memcpy(&e, res.payload, sizeof(e));
		memset(info, 0, sizeof(*info));
		info->count = e.detail / sizeof(points[0]);
	}
	if (r == 0) {
		struct cairn_path_reply a;
		memcpy(&a, res.payload, sizeof(a));
		if (a.out_length != a.count * sizeof(points[0]) || a.count > a.cells) {
			return -CAIRN_E_BAD_REPLY;
		}
		if (info) {
			*info = a;
		}
	}
	return r;
}

CAIRN_API int cairn_path(cairn_client *c, uint32_t hunt_id, int32_t from_x, int32_t from_y,
			 int32_t to_x, int32_t to_y, unsigned flags, unsigned method,
			 struct cairn_path_point *points, uint32_t cap,
			 struct cairn_path_reply *info, int64_t timeout_ns)
{
	struct cairn_path q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.from_x = from_x;
	q.from_y = from_y;
	q.to_x = to_x;
	q.to_y = to_y;
	q.flags = flags;
	q.method = method;
	struct cairn_msg m;
	cairn_msg_init(&m, CAIRN_MSG_PATH, CAIRN_MSG_PATH_LEN_MIN);
	memcpy(m.payload, &q, sizeof(q));
	return path_points(c, &m, flags, method, offsetof(struct cairn_path, out_offset),
			   offsetof(struct cairn_path, out_capacity), points, cap, info,
			   timeout_ns);
}

CAIRN_API int cairn_path_to_clue(cairn_client *c, uint32_t hunt_id, uint32_t player_id,
				 uint32_t clue_id, unsigned flags, unsigned method,
				 struct cairn_path_point *points, uint32_t cap,
				 struct cairn_path_reply *info, int64_t timeout_ns)
{
	struct cairn_path_to_clue q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.player_id = player_id;
	q.clue_id = clue_id;
	q.flags = flags;
	q.method = method;
	struct cairn_msg m;
	cairn_msg_init(&m, CAIRN_MSG_PATH_TO_CLUE, CAIRN_MSG_PATH_TO_CLUE_LEN_MIN);
	memcpy(m.payload, &q, sizeof(q));
	return path_points(c, &m, flags, method, offsetof(struct cairn_path_to_clue, out_offset),
			   offsetof(struct cairn_path_to_clue, out_capacity), points, cap, info,
			   timeout_ns);
}
