/*
 * The simulation: players walking to clues, in pipelined batches.
 *
 * The host keeps its own copy of the game: where each player is, which clue it heads
 * for, where the clues are. The daemon is the authority; the host only learns from its
 * results. A player has at most one command in flight, so its position is always the
 * last one the daemon accepted.
 *
 * The speed limit. The daemon accepts a move when the distance from the player's last
 * accepted position is at most speed * (ingress stamp of this move - ingress stamp of
 * the last one). The host cannot see the stamps, but it can bound them with its own
 * CLOCK_MONOTONIC, the same clock: the last move was stamped before its result was
 * published, so before the host read the clock after taking that result (t_ack); the
 * next move is stamped when the daemon takes it, after the host read the clock before
 * sending it (now), less at most the length of one turn of the apply thread over a lane
 * (one stamp serves a turn of up to 32 commands, a few microseconds). So a step of
 * SAFETY * speed * (now - t_ack) always passes unless a turn stalls for a fifth of the
 * time between two moves of one player (200 us or more), which only a descheduled apply
 * thread does; such moves come back TOO_FAST, are counted, and are simply retried.
 *
 * Walking. Each clue has a distance field over the map (field.c). A player in cell c
 * heads for the centre of the neighbour one step closer to its clue, and in the clue's
 * cell for the clue itself. Both points lie in a rectangle of open cells that also
 * holds the player (two cells side by side, or a 2 x 2 square for a diagonal step). A
 * step is rounded to whole millimetres towards the player, axis by axis, so that each
 * coordinate stays between the player's and the exact point's: inside the rectangle, so
 * no move can land in a blocked cell or off the map, and no longer than the exact step.
 * Should the daemon say otherwise (a map other than the one the host walks on), the
 * player takes a few random steps and tries again.
 *
 * Request ids. Commands pushed with cairn_submit_batch carry kind << 32 | index, so a
 * result finds its player or clue slot without a table; results come from another
 * process and are checked before use.
 */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/atomic.h"
#include "common/clock.h"
#include "map/map.h"
#include "sim.h"

/* ---- small things ---- */

uint64_t rng_next(struct rng *r)
{
	/* xorshift64* */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

void rng_seed(struct rng *r, uint64_t seed)
{
	/* splitmix64 of the seed, so that nearby seeds give unrelated streams; never 0. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 1;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

void sim_fail(struct sim *s, int code, const char *fmt, ...)
{
	if (s->code == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
		va_end(ap);
		s->code = code < 0 ? code : -code;
	}
	atomic_store(&s->stop, true);
}

uint32_t random_spot(struct sim *s, int32_t *x, int32_t *y)
{
	uint32_t c = s->passable[rng_below(&s->rng, s->npassable)];
	uint32_t cx = c % s->map->width, cy = c / s->map->width;
	*x = (int32_t)(cx * s->cell_mm + (uint32_t)rng_below(&s->rng, s->cell_mm));
	*y = (int32_t)(cy * s->cell_mm + (uint32_t)rng_below(&s->rng, s->cell_mm));
	return c;
}

static int outq_push(struct sim *s, const struct cairn_msg *m)
{
	if (s->outq_head == s->outq_n) {
		s->outq_head = s->outq_n = 0;
	}
	if (s->outq_n == s->outq_cap) {
		size_t cap = s->outq_cap ? s->outq_cap * 2 : 64;
		struct cairn_msg *v = realloc(s->outq, cap * sizeof(*v));
		if (!v) {
			return -ENOMEM;
		}
		s->outq = v;
		s->outq_cap = cap;
	}
	s->outq[s->outq_n++] = *m;
	return 0;
}

/* ---- commands ---- */

int place_clue(struct sim *s, uint32_t hunt, uint32_t j)
{
	struct clue_slot *c = &hunt_slots(s, hunt)[j];
	/* The map has thousands of open cells; one of them is the sentry's. */
	while (random_spot(s, &c->x, &c->y) == s->sentry_cell[hunt] && s->npassable > 1) {
	}
	c->value = 1 + (int64_t)rng_below(&s->rng, MAX_CLUE_VALUE);
	c->id = 0;
	c->state = SLOT_PLACING;
	int r = field_compute(&s->work, s->map, cell_of(s, c->x), cell_of(s, c->y), c->field);
	if (r < 0) {
		return r;
	}
	struct cairn_clue_place q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = s->world.hunt_ids[hunt];
	q.x = c->x;
	q.y = c->y;
	q.value = c->value;
	struct cairn_msg m;
	cairn_msg_init(&m, CAIRN_MSG_CLUE_PLACE, CAIRN_MSG_CLUE_PLACE_LEN_MIN);
	memcpy(m.payload, &q, sizeof(q));
	m.hdr.request_id = rid(RQ_PLACE, (uint32_t)(hunt * s->cfg.clues + j));
	return outq_push(s, &m);
}

/* A clue was claimed: take it off the map and put a new one elsewhere. */
static void replace_claimed(struct sim *s, uint32_t hunt, uint32_t clue_id)
{
	struct clue_slot *slots = hunt_slots(s, hunt);
	for (uint32_t j = 0; j < s->cfg.clues; j++) {
		if (slots[j].state != SLOT_LIVE || slots[j].id != clue_id) {
			continue;
		}
		struct cairn_clue_ref q;
		memset(&q, 0, sizeof(q));
		q.hunt_id = s->world.hunt_ids[hunt];
		q.clue_id = clue_id;
		struct cairn_msg m;
		cairn_msg_init(&m, CAIRN_MSG_CLUE_REMOVE, CAIRN_MSG_CLUE_REMOVE_LEN_MIN);
		memcpy(m.payload, &q, sizeof(q));
		m.hdr.request_id = rid(RQ_REMOVE, (uint32_t)(hunt * s->cfg.clues + j));
		atomic_fetch_sub_explicit(&s->stats->clues_live, 1, memory_order_relaxed);
		int r = outq_push(s, &m);
		if (r == 0) {
			r = place_clue(s, hunt, j);
		}
		if (r < 0) {
			sim_fail(s, r, "out of memory");
		}
		return;
	}
	/* Not one of ours, or already replaced: nothing to do. */
}

/* ---- walking ---- */

/* The open slot nearest p along the map, or -1. */
static int32_t nearest_by_path(struct sim *s, const struct player *p)
{
	const struct clue_slot *slots = hunt_slots(s, p->hunt);
	size_t cell = (size_t)cell_of(s, p->y) * s->map->width + cell_of(s, p->x);
	int32_t best = -1;
	uint16_t bd = FIELD_INF;
	for (uint32_t j = 0; j < s->cfg.clues; j++) {
		if (slots[j].state == SLOT_LIVE && slots[j].field[cell] < bd) {
			bd = slots[j].field[cell];
			best = (int32_t)j;
		}
	}
	return best;
}

static void set_target(struct sim *s, struct player *p, int32_t j, uint64_t now)
{
	p->target = j;
	p->target_id = j >= 0 ? hunt_slots(s, p->hunt)[j].id : 0;
	p->retarget_at = now + RETARGET_NS / 2 + rng_below(&s->rng, RETARGET_NS);
}

static bool target_ok(struct sim *s, const struct player *p)
{
	if (p->target < 0) {
		return false;
	}
	const struct clue_slot *c = &hunt_slots(s, p->hunt)[p->target];
	return c->state == SLOT_LIVE && c->id == p->target_id;
}

/*
 * True when p should ask for the clues near it before walking on: now and then, and at
 * once when its clue has gone. A player that found none waits for its next time.
 */
static bool needs_target(struct sim *s, const struct player *p, uint64_t now)
{
	return p->detour == 0 && (now >= p->retarget_at || (p->target >= 0 && !target_ok(s, p)));
}

/* Makes p ask for the clues near it as soon as it can. */
static void drop_target(struct player *p)
{
	p->target = -1;
	p->retarget_at = 0;
}

/* Centre of the neighbour of (x, y) in direction k, when a step there is allowed. */
static bool detour_aim(struct sim *s, struct player *p, int32_t *ax, int32_t *ay)
{
	static const int dx[8] = {1, 1, 0, -1, -1, -1, 0, 1};
	static const int dy[8] = {0, 1, 1, 1, 0, -1, -1, -1};
	uint32_t cx = cell_of(s, p->x), cy = cell_of(s, p->y);
	for (unsigned t = 0; t < 8; t++) {
		unsigned k = (p->detour_dir + t) & 7;
		if (field_can_step(s->map, cx, cy, dx[k], dy[k])) {
			p->detour_dir = (uint8_t)k;
			*ax = (int32_t)((cx + (uint32_t)dx[k]) * s->cell_mm + s->cell_mm / 2);
			*ay = (int32_t)((cy + (uint32_t)dy[k]) * s->cell_mm + s->cell_mm / 2);
			return true;
		}
	}
	return false;
}

/* Where p heads now: its clue, or the centre of the next cell on the way. */
static bool aim(struct sim *s, struct player *p, int32_t *ax, int32_t *ay)
{
	if (p->detour) {
		if (detour_aim(s, p, ax, ay)) {
			return true;
		}
		p->detour = 0; /* boxed in: back to the clue, whatever the daemon says */
	}
	if (!target_ok(s, p)) {
		return false;
	}
	const struct clue_slot *c = &hunt_slots(s, p->hunt)[p->target];
	uint32_t cx = cell_of(s, p->x), cy = cell_of(s, p->y);
	if (cx == cell_of(s, c->x) && cy == cell_of(s, c->y)) {
		*ax = c->x;
		*ay = c->y;
		return true;
	}
	uint32_t nx, ny;
	if (!field_next(s->map, c->field, cx, cy, &nx, &ny)) {
		return false;
	}
	*ax = (int32_t)(nx * s->cell_mm + s->cell_mm / 2);
	*ay = (int32_t)(ny * s->cell_mm + s->cell_mm / 2);
	return true;
}

/*
 * The next position of p at time now, into (*nx, *ny). Returns false when p should
 * wait: too little time has passed for a worthwhile step, or it has nowhere to go.
 */
static bool plan_move(struct sim *s, struct player *p, uint64_t now, int32_t *nx, int32_t *ny)
{
	double step;
	if (s->cfg.speed_mm_s) {
		uint64_t dt = now > p->t_ack ? now - p->t_ack : 0;
		step = SAFETY * (double)s->cfg.speed_mm_s * (double)dt * 1e-9;
		if (step < MIN_STEP_MM) {
			return false;
		}
	} else {
		step = s->cell_mm / 4.0;
	}
	if (step > s->cell_mm / 2.0) {
		step = s->cell_mm / 2.0;
	}
	int32_t ax, ay;
	if (!aim(s, p, &ax, &ay)) {
		return false;
	}
	double dx = (double)ax - p->x, dy = (double)ay - p->y;
	double d = sqrt(dx * dx + dy * dy);
	if (d == 0) {
		return false;
	}
	if (d <= step) {
		*nx = ax;
		*ny = ay;
	} else {
		/* The casts truncate towards zero: towards the player. */
		*nx = p->x + (int32_t)(dx * step / d);
		*ny = p->y + (int32_t)(dy * step / d);
	}
	/* The rectangle argument at the top of this file. */
	assert(cairn__map_passable(s->map, cell_of(s, *nx), cell_of(s, *ny)));
	return *nx != p->x || *ny != p->y;
}

/* ---- results ---- */

/* A MOVE's result, for player p, taken at host time now. */
static void on_moved(struct sim *s, struct player *p, const struct cairn_msg *res, uint64_t now)
{
	p->busy = 0;
	if (res->hdr.type == CAIRN_MSG_MOVED && res->hdr.length >= CAIRN_MSG_MOVED_LEN_MIN) {
		struct cairn_moved m;
		memcpy(&m, res->payload, sizeof(m));
		if (m.player_id != p->id || m.x != p->to_x || m.y != p->to_y) {
			sim_fail(s, -CAIRN_E_BAD_REPLY,
				 "MOVED for player %u at (%d, %d), expected %u at (%d, %d)",
				 m.player_id, m.x, m.y, p->id, p->to_x, p->to_y);
			return;
		}
		p->x = m.x;
		p->y = m.y;
		p->t_ack = now;
		if (p->detour) {
			p->detour--;
		}
		count(&s->stats->moves, 1);
		if (m.outcome == CAIRN_CLAIM_WON) {
			count(&s->stats->claims, 1);
			count(&s->stats->hunt_claims[p->hunt], 1);
			replace_claimed(s, p->hunt, m.clue_id);
			drop_target(p);
		} else if (m.outcome == CAIRN_CLAIM_LOST) {
			count(&s->stats->lost, 1);
			drop_target(p);
		}
		return;
	}
	if (res->hdr.type != CAIRN_MSG_ERROR) {
		sim_fail(s, -CAIRN_E_BAD_REPLY, "a MOVE was answered with message type 0x%04x",
			 res->hdr.type);
		return;
	}
	int code = res->hdr.status;
	note_error(s->stats, -code);
	switch (code) {
	case CAIRN_E_BLOCKED:
	case CAIRN_E_OFF_MAP:
		count(&s->stats->rejected[code == CAIRN_E_BLOCKED ? REJ_BLOCKED : REJ_OFF_MAP], 1);
		p->detour = DETOUR_STEPS;
		p->detour_dir = (uint8_t)rng_below(&s->rng, 8);
		break;
	case CAIRN_E_TOO_FAST:
		/* The daemon kept the old stamp: waiting longer is the cure. */
		count(&s->stats->rejected[REJ_TOO_FAST], 1);
		break;
	case CAIRN_E_UNKNOWN_HUNT:
	case CAIRN_E_UNKNOWN_PLAYER:
	case CAIRN_E_WRONG_HUNT:
		count(&s->stats->rejected[REJ_OTHER], 1);
		p->dead = 1;
		break;
	case CAIRN_E_SHUTTING_DOWN:
		sim_fail(s, -code, "cairnd is shutting down");
		break;
	default:
		count(&s->stats->rejected[REJ_OTHER], 1);
		break;
	}
}

/* A NEAREST_CLUES result for player p. */
static void on_nearest(struct sim *s, struct player *p, uint32_t index, const struct cairn_msg *res,
		       uint64_t now)
{
	p->busy = 0;
	if (res->hdr.type == CAIRN_MSG_ERROR) {
		count(&s->stats->errors, 1);
		note_error(s->stats, -res->hdr.status);
		set_target(s, p, nearest_by_path(s, p), now);
		return;
	}
	struct cairn_query_reply q;
	memcpy(&q, res->payload, sizeof(q));
	size_t off = (size_t)index * QUERY_K * sizeof(struct cairn_hit);
	if (res->hdr.type != CAIRN_MSG_NEAREST_CLUES_REPLY ||
	    res->hdr.length < CAIRN_MSG_NEAREST_CLUES_REPLY_LEN_MIN || q.count > QUERY_K ||
	    q.out_offset != off || off + q.count * sizeof(struct cairn_hit) > s->blob_size) {
		sim_fail(s, -CAIRN_E_BAD_REPLY, "malformed answer to NEAREST_CLUES (type 0x%04x)",
			 res->hdr.type);
		return;
	}
	count(&s->stats->queries, 1);
	/* Of the clues nearest as the crow flies, the one nearest on foot. */
	const struct clue_slot *slots = hunt_slots(s, p->hunt);
	size_t cell = (size_t)cell_of(s, p->y) * s->map->width + cell_of(s, p->x);
	int32_t best = -1;
	uint16_t bd = FIELD_INF;
	for (uint32_t i = 0; i < q.count; i++) {
		struct cairn_hit h;
		memcpy(&h, s->blob + off + i * sizeof(h), sizeof(h));
		for (uint32_t j = 0; j < s->cfg.clues; j++) {
			if (slots[j].state == SLOT_LIVE && slots[j].id == h.id) {
				if (slots[j].field[cell] < bd) {
					bd = slots[j].field[cell];
					best = (int32_t)j;
				}
				break;
			}
		}
	}
	set_target(s, p, best >= 0 ? best : nearest_by_path(s, p), now);
}

void on_placed(struct sim *s, uint32_t index, const struct cairn_msg *res)
{
	uint32_t hunt = index / s->cfg.clues, j = index % s->cfg.clues;
	struct clue_slot *c = &s->slots[index];
	if (c->state != SLOT_PLACING) {
		sim_fail(s, -CAIRN_E_BAD_REPLY, "CLUE_PLACE answered twice");
		return;
	}
	if (res->hdr.type == CAIRN_MSG_CLUE_PLACED) {
		struct cairn_clue_placed q;
		memcpy(&q, res->payload, sizeof(q));
		if (q.clue_id == 0 || res->hdr.length < CAIRN_MSG_CLUE_PLACED_LEN_MIN) {
			sim_fail(s, -CAIRN_E_BAD_REPLY, "malformed answer to CLUE_PLACE");
			return;
		}
		c->id = q.clue_id;
		c->state = SLOT_LIVE;
		count(&s->stats->clues_live, 1);
		return;
	}
	if (res->hdr.type != CAIRN_MSG_ERROR) {
		sim_fail(s, -CAIRN_E_BAD_REPLY,
			 "a CLUE_PLACE was answered with message type 0x%04x", res->hdr.type);
		return;
	}
	count(&s->stats->errors, 1);
	note_error(s->stats, -res->hdr.status);
	if (res->hdr.status == CAIRN_E_BLOCKED || res->hdr.status == CAIRN_E_OFF_MAP) {
		int r = place_clue(s, hunt, j);
		if (r < 0) {
			sim_fail(s, r, "out of memory");
		}
		return;
	}
	/* Anything else (no room left in the daemon, say) will not get better by retrying. */
	c->state = SLOT_EMPTY;
}

static void on_result(struct sim *s, const struct cairn_msg *res, uint64_t now)
{
	uint64_t id = res->hdr.request_id;
	uint32_t kind = rid_kind(id), index = (uint32_t)id;
	switch (kind) {
	case RQ_MOVE:
	case RQ_QUERY:
		if (index >= s->nplayers || !s->players[index].busy) {
			break;
		}
		if (kind == RQ_MOVE) {
			on_moved(s, &s->players[index], res, now);
		} else {
			on_nearest(s, &s->players[index], index, res, now);
		}
		return;
	case RQ_PLACE:
		if (index >= s->nslots) {
			break;
		}
		on_placed(s, index, res);
		return;
	case RQ_REMOVE:
		if (index >= s->nslots) {
			break;
		}
		if (res->hdr.type == CAIRN_MSG_ERROR) {
			count(&s->stats->errors, 1);
			note_error(s->stats, -res->hdr.status);
		} else if (res->hdr.type != CAIRN_MSG_CLUE_REMOVED) {
			sim_fail(s, -CAIRN_E_BAD_REPLY,
				 "a CLUE_REMOVE was answered with type 0x%04x", res->hdr.type);
		}
		return;
	default:
		break;
	}
	sim_fail(s, -CAIRN_E_BAD_REPLY, "a result with request id 0x%llx, which was never sent",
		 (unsigned long long)id);
}

/* ---- the loop ---- */

/* Fills cmds with clue commands, then moves and queries of players that are ready. */
static unsigned build_batch(struct sim *s, uint64_t now, struct cairn_msg *cmds, unsigned max,
			    unsigned *nclue)
{
	unsigned n = 0;
	while (n < max && s->outq_head < s->outq_n) {
		cmds[n++] = s->outq[s->outq_head++];
	}
	*nclue = n;
	for (size_t scanned = 0; n < max && scanned < s->nplayers; scanned++) {
		size_t i = s->cursor;
		s->cursor = s->cursor + 1 == s->nplayers ? 0 : s->cursor + 1;
		struct player *p = &s->players[i];
		if (p->busy || p->dead || p->sentry) {
			continue;
		}
		uint32_t hunt_id = s->world.hunt_ids[p->hunt];
		if (needs_target(s, p, now)) {
			struct cairn_nearest_clues q;
			memset(&q, 0, sizeof(q));
			q.hunt_id = hunt_id;
			q.x = p->x;
			q.y = p->y;
			q.k = QUERY_K;
			q.out_offset = (uint32_t)(i * QUERY_K * sizeof(struct cairn_hit));
			q.out_capacity = QUERY_K * sizeof(struct cairn_hit);
			cairn_msg_init(&cmds[n], CAIRN_MSG_NEAREST_CLUES,
				       CAIRN_MSG_NEAREST_CLUES_LEN_MIN);
			memcpy(cmds[n].payload, &q, sizeof(q));
			cmds[n++].hdr.request_id = rid(RQ_QUERY, (uint32_t)i);
			p->busy = 1;
			continue;
		}
		int32_t x, y;
		if (!plan_move(s, p, now, &x, &y)) {
			continue;
		}
		cairn_msg_move(&cmds[n], hunt_id, p->id, x, y);
		cmds[n++].hdr.request_id = rid(RQ_MOVE, (uint32_t)i);
		p->to_x = x;
		p->to_y = y;
		p->busy = 1;
	}
	return n;
}

/* Pushes a batch; what did not fit goes back to wait for the next one. */
static void submit(struct sim *s, struct cairn_msg *cmds, unsigned n, unsigned nclue)
{
	int k = cairn_submit_batch(s->conn, cmds, n);
	if (k < 0) {
		sim_fail(s, k, "cannot send commands: %s", cairn_strerror(k));
		k = 0;
	}
	s->in_flight += (unsigned)k;
	if ((unsigned)k < nclue) {
		s->outq_head -= nclue - (unsigned)k;
	}
	for (unsigned i = (unsigned)k > nclue ? (unsigned)k : nclue; i < n; i++) {
		s->players[(uint32_t)cmds[i].hdr.request_id].busy = 0;
	}
}

/* Takes what results are ready and handles them. Returns how many, or -1 on failure. */
static int take_results(struct sim *s, struct cairn_msg *res)
{
	int k = cairn_poll_batch(s->conn, res, RES_BATCH);
	if (k < 0) {
		sim_fail(s, k, "cannot read results: %s", cairn_strerror(k));
		return -1;
	}
	/* Read after the results were taken: later than the stamps of the moves they answer. */
	uint64_t now = cairn__now_ns();
	if ((unsigned)k > s->in_flight) {
		sim_fail(s, -CAIRN_E_BAD_REPLY, "more results than commands");
		return -1;
	}
	s->in_flight -= (unsigned)k;
	for (int i = 0; i < k; i++) {
		on_result(s, &res[i], now);
	}
	return k;
}

void *sim_run(void *arg)
{
	struct sim *s = arg;
	struct cairn_msg cmds[BATCH];
	struct cairn_msg *res = malloc(RES_BATCH * sizeof(*res));
	if (!res) {
		sim_fail(s, -ENOMEM, "out of memory");
		atomic_store(&s->finished, true);
		return NULL;
	}
	unsigned idle = 0;
	uint64_t checked = cairn__now_ns();
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
		int got = take_results(s, res);
		if (got < 0) {
			break;
		}
		uint64_t now = cairn__now_ns();
		/*
		 * Polling only reads shared memory, which stays readable after the daemon has
		 * gone; ask the socket now and then, so that a dead daemon is noticed.
		 */
		if (now - checked >= CHECK_EVERY_NS) {
			checked = now;
			int r = cairn_check(s->conn);
			if (r < 0) {
				sim_fail(s, r, "%s", cairn_strerror(r));
				break;
			}
		}
		unsigned sent = 0;
		if (s->in_flight + BATCH <= MAX_IN_FLIGHT) {
			unsigned nclue;
			unsigned n = build_batch(s, now, cmds, BATCH, &nclue);
			if (n) {
				submit(s, cmds, n, nclue);
				sent = n;
			}
		}
		if (got || sent) {
			idle = 0;
		} else if (s->in_flight && ++idle < 4096) {
			/* Results are on their way: they take microseconds. */
			cairn__cpu_relax();
		} else {
			/*
			 * Every player waits for time to pass (a millisecond or so): leave the
			 * CPU to the other threads meanwhile.
			 */
			struct timespec ts = {.tv_nsec = 50 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	/* Take the results still in flight, so that the counts add up. */
	uint64_t deadline = cairn__now_ns() + DRAIN_NS;
	while (s->in_flight && cairn__now_ns() < deadline) {
		int got = take_results(s, res);
		if (got < 0) {
			break;
		}
		if (got == 0) {
			if (cairn_check(s->conn) < 0) {
				break; /* they will never come */
			}
			sched_yield();
		}
	}
	free(res);
	atomic_store(&s->finished, true);
	return NULL;
}

void sim_stop(struct sim *s)
{
	atomic_store(&s->stop, true);
}

bool sim_finished(const struct sim *s)
{
	return atomic_load(&s->finished);
}

int sim_error(const struct sim *s, const char **msg)
{
	if (s->code == 0 && s->probe_code != 0) {
		*msg = s->probe_msg;
		return s->probe_code;
	}
	*msg = s->msg;
	return s->code;
}

const struct demo_world *sim_world(const struct sim *s)
{
	return &s->world;
}
