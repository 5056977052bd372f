/*
 * Fuzz target: the command stream into the engine.
 *
 * The input is decoded into a sequence of operations: the twelve engine commands, built
 * from the input with ids the engine handed out earlier (so that the fuzzer reaches
 * live hunts, players and clues easily) or made up; raw 56-byte messages; and whole-state
 * operations (save and restore, a hunt's image saved and, later, put back, possibly
 * damaged: rollback). Two engines, one on its own memory and one on memory the target
 * gives it (as the daemon gives the state segment), get the same operations at the same
 * stamps.
 *
 * After every operation:
 *  - the result is well formed for its command (fz_check_result), and byte for byte the
 *    same in both engines, as are the blob arenas and the state hashes;
 *  - every invariant of both engines holds (fz_engine_check);
 *  - a rejected command changed nothing: state hash, order number, events and the
 *    arena outside nothing; a query wrote only its own part of the arena;
 *  - a state change advanced the order number by exactly one and published exactly the
 *    event it should (a MOVE only when it claims), with that order number;
 *  - query answers equal a brute-force answer computed here from the entity table: the
 *    k nearest clues (with or without claimed ones), every player within the radius,
 *    the leaderboard, each with its exact rounded-down distance.
 */
#include <math.h>

#include "engine/internal.h"
#include "engine_kit.h"
#include "fuzz.h"
#include "shm/broadcast.h"

#define ARENA     4096u
#define ARENA_PAT 0xa5
#define MAX_OPS   512
#define KEEP_IDS  16

/* Ids the engine handed out, most recent last (a small ring per kind). */
struct ids {
	uint32_t v[KEEP_IDS];
	unsigned n, next;
};

static void ids_add(struct ids *s, uint32_t id)
{
	s->v[s->next] = id;
	s->next = (s->next + 1) % KEEP_IDS;
	if (s->n < KEEP_IDS) {
		s->n++;
	}
}

struct twin {
	struct cairn__engine *e;
	uint8_t *grid; /* the engine's grid and events when the target gave them, else NULL */
	void *events;
	uint8_t arena[ARENA];
	struct cairn__blob blob;
	struct cairn__broadcast_reader reader;
};

struct run {
	struct fz f;
	struct twin t[2];
	struct ids hunts, players, clues;
	uint64_t now;
	uint64_t req;
	bool strict;   /* no damaged image has been accepted: every invariant applies */
	uint8_t *kept; /* a hunt image saved earlier, for a rollback */
	size_t kept_len;
	uint32_t kept_hunt;
};

static void twin_open(struct twin *t, const struct cairn__engine_config *cfg, bool own_memory)
{
	memset(t, 0, sizeof(*t));
	if (own_memory) {
		size_t gs = cairn__engine_grid_size(cfg), es = cairn__engine_events_size(cfg);
		t->grid = aligned_alloc(4096, gs);
		t->events = aligned_alloc(4096, es);
		FZ_SETUP(t->grid && t->events, "out of memory");
		memset(t->grid, 0, gs);
		memset(t->events, 0, es);
	}
	FZ_SETUP(cairn__engine_new(cfg, t->grid, t->events, NULL, &t->e) == 0, "engine_new");
	t->blob = (struct cairn__blob){t->arena, ARENA};
	size_t size;
	const void *mem = cairn__engine_events_mem(t->e, &size);
	FZ_SETUP(cairn__broadcast_attach(mem, size, &t->reader) == 0, "event reader");
}

static void twin_close(struct twin *t)
{
	cairn__engine_free(t->e);
	free(t->grid);
	free(t->events);
}

/* An id: mostly one handed out earlier, sometimes 0 or anything. */
static uint32_t pick_id(struct run *r, const struct ids *s)
{
	uint8_t sel = fz_u8(&r->f);
	if (sel < 0xe0 && s->n) {
		return s->v[sel % s->n];
	}
	if (sel < 0xf0) {
		return sel & 1 ? 0 : make_id(sel & 7, 1);
	}
	return fz_u32(&r->f);
}

/* A position for hunt_id: mostly on its map, sometimes near a player, off it, or anything. */
static void pick_pos(struct run *r, uint32_t hunt_id, uint32_t player, int32_t *x, int32_t *y)
{
	const struct cairn__map *m;
	uint32_t map_id, cell;
	uint8_t mode = fz_u8(&r->f);
	if (cairn__engine_hunt_geometry(r->t[0].e, hunt_id, &m, &map_id, &cell) < 0) {
		m = fz_maps()[0];
		cell = CAIRN_DEFAULT_CELL_MM;
	}
	int64_t lx = (int64_t)m->width * cell, ly = (int64_t)m->height * cell;
	switch (mode & 3) {
	case 0:
	case 1: {
		int32_t px, py;
		if ((mode & 3) == 1 &&
		    cairn__engine_entity_pos(r->t[0].e, hunt_id, player, CAIRN_ENTITY_PLAYER, &px,
					     &py) == 0) {
			/* A small step: within reach of a speed limit and of a clue's radius. */
			int64_t step = (int64_t)1 << (fz_u8(&r->f) % 12);
			int64_t nx = px + (int8_t)fz_u8(&r->f) * step / 128;
			int64_t ny = py + (int8_t)fz_u8(&r->f) * step / 128;
			*x = (int32_t)(nx < INT32_MIN   ? INT32_MIN
				       : nx > INT32_MAX ? INT32_MAX
							: nx);
			*y = (int32_t)(ny < INT32_MIN   ? INT32_MIN
				       : ny > INT32_MAX ? INT32_MAX
							: ny);
			return;
		}
		uint32_t cx = fz_u16(&r->f) % m->width, cy = fz_u16(&r->f) % m->height;
		*x = (int32_t)((int64_t)cx * cell + fz_u16(&r->f) % cell);
		*y = (int32_t)((int64_t)cy * cell + fz_u16(&r->f) % cell);
		return;
	}
	case 2: /* at or just past the edges */
		*x = (int32_t)(mode & 4 ? lx - 1 - (fz_u8(&r->f) & 3)
					: -(int32_t)(fz_u8(&r->f) & 3));
		*y = (int32_t)(mode & 8 ? ly - 1 - (fz_u8(&r->f) & 3) : (fz_u8(&r->f) & 3));
		return;
	default:
		*x = (int32_t)fz_u32(&r->f);
		*y = (int32_t)fz_u32(&r->f);
		return;
	}
}

/* A small number most of the time, sometimes anything. */
static uint32_t pick_num(struct run *r, uint32_t small)
{
	uint8_t sel = fz_u8(&r->f);
	if (sel < 0xf0) {
		return small ? sel % small : 0;
	}
	return fz_u32(&r->f);
}

/* Where a query writes its hits: mostly aligned and inside the arena. */
static void pick_out(struct run *r, uint32_t *off, uint32_t *cap)
{
	uint8_t sel = fz_u8(&r->f);
	if (sel < 0xe0) {
		*off = (uint32_t)(fz_u8(&r->f) % (ARENA / 64)) * 64 + (sel & 0x10 ? 8 : 0);
		*cap = ARENA - *off;
		if (sel & 0x20) {
			*cap = (uint32_t)fz_u8(&r->f) * 24;
		}
		return;
	}
	*off = fz_u32(&r->f);
	*cap = fz_u32(&r->f);
}

static struct cairn_msg msg(uint16_t type, uint8_t len, const void *payload, size_t size)
{
	struct cairn_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.length = len;
	if (size) {
		memcpy(m.payload, payload, size);
	}
	return m;
}

/* floor(sqrt(v)) by integer search: the reference the engine's answer must equal. */
static uint32_t ref_isqrt(uint64_t v)
{
	uint64_t lo = 0, hi = UINT32_MAX;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;
		if (mid * mid <= v) {
			lo = mid;
		} else {
			hi = mid - 1;
		}
	}
	return (uint32_t)lo;
}

struct cand {
	uint64_t key, tie;
	uint32_t id;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->key != y->key) {
		return x->key < y->key ? -1 : 1;
	}
	return x->tie < y->tie ? -1 : x->tie > y->tie;
}

/*
 * The answer a query must have, by brute force over the entity table: candidates sorted
 * as the schema says. Returns how many matched; *v is malloc'ed.
 */
static uint32_t reference(const struct cairn__engine *e, const struct cairn_msg *cmd,
			  struct cand **v)
{
	uint32_t hunt, kind = CAIRN_ENTITY_PLAYER, n = 0;
	int32_t x = 0, y = 0;
	uint64_t r2 = UINT64_MAX;
	bool claimed = true, board = false;
	if (cmd->hdr.type == CAIRN_MSG_NEAREST_CLUES) {
		struct cairn_nearest_clues q;
		memcpy(&q, cmd->payload, sizeof(q));
		hunt = q.hunt_id, x = q.x, y = q.y, kind = CAIRN_ENTITY_CLUE;
		claimed = q.include_claimed;
	} else if (cmd->hdr.type == CAIRN_MSG_PLAYERS_NEAR) {
		struct cairn_players_near q;
		memcpy(&q, cmd->payload, sizeof(q));
		hunt = q.hunt_id, x = q.x, y = q.y;
		r2 = (uint64_t)q.radius_mm * q.radius_mm;
	} else {
		struct cairn_leaderboard q;
		memcpy(&q, cmd->payload, sizeof(q));
		hunt = q.hunt_id;
		board = true;
	}
	*v = malloc(((size_t)e->ent_slots.hwm + 1) * sizeof(**v));
	FZ_SETUP(*v, "out of memory");
	for (uint32_t s = 0; s < e->ent_slots.hwm; s++) {
		const struct cairn_entity *en = &e->ents[s];
		if (!e->ent_slots.live[s] || en->hunt_id != hunt || en->kind != kind ||
		    (!claimed && (en->flags & CAIRN_FLAG_CLAIMED))) {
			continue;
		}
		if (board) {
			/* Highest score first, then earliest created. */
			(*v)[n++] = (struct cand){.key = (uint64_t)INT64_MAX - (uint64_t)en->value,
						  .tie = en->order,
						  .id = en->id};
			continue;
		}
		int64_t dx = (int64_t)en->x - x, dy = (int64_t)en->y - y;
		uint64_t d2 = (uint64_t)(dx * dx) + (uint64_t)(dy * dy);
		if (d2 <= r2) {
			(*v)[n++] = (struct cand){.key = d2, .tie = en->id, .id = en->id};
		}
	}
	qsort(*v, n, sizeof(**v), cand_cmp);
	return n;
}

/* Checks a successful query's reply and hits against the reference. */
static void check_query(const struct twin *t, const struct cairn_msg *cmd,
			const struct cairn_msg *out, const uint8_t *before)
{
	struct cairn_query_reply qr;
	memcpy(&qr, out->payload, sizeof(qr));
	uint32_t limit, off, cap;
	int32_t x = 0, y = 0;
	bool dist = true;
	if (cmd->hdr.type == CAIRN_MSG_NEAREST_CLUES) {
		struct cairn_nearest_clues q;
		memcpy(&q, cmd->payload, sizeof(q));
		limit = q.k, off = q.out_offset, cap = q.out_capacity, x = q.x, y = q.y;
	} else if (cmd->hdr.type == CAIRN_MSG_PLAYERS_NEAR) {
		struct cairn_players_near q;
		memcpy(&q, cmd->payload, sizeof(q));
		limit = q.max, off = q.out_offset, cap = q.out_capacity, x = q.x, y = q.y;
	} else {
		struct cairn_leaderboard q;
		memcpy(&q, cmd->payload, sizeof(q));
		limit = q.k, off = q.out_offset, cap = q.out_capacity;
		dist = false;
	}
	FZ_CHECK(qr.out_offset == off && qr.out_length == qr.count * sizeof(struct cairn_hit) &&
			 qr.out_length <= cap && (uint64_t)off + qr.out_length <= ARENA,
		 "reply: %u hits at %u (+%u), asked at %u with room %u", qr.count, qr.out_offset,
		 qr.out_length, off, cap);
	/* Nothing written outside the hits. */
	for (uint32_t i = 0; i < ARENA; i++) {
		if (i < off || i >= off + qr.out_length) {
			FZ_CHECK(t->arena[i] == before[i], "arena byte %u written by %04x", i,
				 cmd->hdr.type);
		}
	}
	struct cand *v;
	uint32_t n = reference(t->e, cmd, &v);
	uint32_t want = n < limit ? n : limit;
	FZ_CHECK(qr.count == want, "%04x: %u hits, the reference %u (of %u, limit %u)",
		 cmd->hdr.type, qr.count, want, n, limit);
	FZ_CHECK(cmd->hdr.type == CAIRN_MSG_NEAREST_CLUES ? qr.total == qr.count : qr.total == n,
		 "%04x: total %u, the reference %u", cmd->hdr.type, qr.total, n);
	for (uint32_t i = 0; i < qr.count; i++) {
		struct cairn_hit h;
		memcpy(&h, t->arena + off + i * sizeof(h), sizeof(h));
		const struct cairn_entity *en = &t->e->ents[id_slot(v[i].id)];
		FZ_CHECK(h.id == v[i].id, "%04x hit %u: %08x, the reference %08x", cmd->hdr.type, i,
			 h.id, v[i].id);
		FZ_CHECK(h.x == en->x && h.y == en->y && h.value == en->value,
			 "hit %08x: (%d, %d) worth %lld, the entity (%d, %d) %lld", h.id, h.x, h.y,
			 (long long)h.value, en->x, en->y, (long long)en->value);
		uint32_t d = 0;
		if (dist) {
			int64_t dx = (int64_t)en->x - x, dy = (int64_t)en->y - y;
			d = ref_isqrt((uint64_t)(dx * dx) + (uint64_t)(dy * dy));
		}
		FZ_CHECK(h.dist_mm == d, "hit %08x: distance %u, exactly %u", h.id, h.dist_mm, d);
	}
	free(v);
}

/* What a successful state change must have published: its event type, or 0 for none. */
static uint16_t event_of(const struct cairn_msg *cmd, const struct cairn_msg *out)
{
	switch (cmd->hdr.type) {
	case CAIRN_MSG_HUNT_CREATE:
		return CAIRN_EVENT_HUNT_CREATED;
	case CAIRN_MSG_HUNT_DESTROY:
		return CAIRN_EVENT_HUNT_DESTROYED;
	case CAIRN_MSG_JOIN:
		return CAIRN_EVENT_PLAYER_JOINED;
	case CAIRN_MSG_LEAVE:
		return CAIRN_EVENT_PLAYER_LEFT;
	case CAIRN_MSG_CLUE_PLACE:
		return CAIRN_EVENT_CLUE_PLACED;
	case CAIRN_MSG_CLUE_REMOVE:
		return CAIRN_EVENT_CLUE_REMOVED;
	case CAIRN_MSG_MOVE: {
		struct cairn_moved mv;
		memcpy(&mv, out->payload, sizeof(mv));
		return mv.outcome == CAIRN_CLAIM_WON ? CAIRN_EVENT_CLUE_CLAIMED : 0;
	}
	default:
		return 0;
	}
}

/* Reads the events published since the last call: none, or exactly the one expected. */
static void check_events(struct twin *t, uint16_t type, uint64_t order)
{
	struct cairn_event ev[2];
	uint64_t missed = 0;
	size_t n = cairn__broadcast_read(&t->reader, ev, 2, &missed);
	FZ_CHECK(missed == 0, "missed %llu events", (unsigned long long)missed);
	FZ_CHECK(n == (type ? 1u : 0u), "%zu events published, expected %s", n,
		 type ? "one" : "none");
	if (n) {
		FZ_CHECK(ev[0].type == type && ev[0].order == order,
			 "event %u of order %llu, expected %u of order %llu", ev[0].type,
			 (unsigned long long)ev[0].order, type, (unsigned long long)order);
	}
}

/* Learns the ids a successful command handed out. */
static void learn(struct run *r, const struct cairn_msg *out)
{
	uint32_t id;
	memcpy(&id, out->payload, sizeof(id));
	switch (out->hdr.type) {
	case CAIRN_MSG_HUNT_CREATED:
		ids_add(&r->hunts, id);
		break;
	case CAIRN_MSG_JOINED:
		ids_add(&r->players, id);
		break;
	case CAIRN_MSG_CLUE_PLACED:
		ids_add(&r->clues, id);
		break;
	default:
		break;
	}
}

/* Applies cmd to both engines at the current stamp and checks everything about it. */
static void apply(struct run *r, struct cairn_msg *cmd)
{
	cmd->hdr.request_id = ++r->req;
	struct cairn_msg out[2];
	int rc[2];
	uint8_t before[ARENA];
	uint64_t hash0 = cairn__engine_hash(r->t[0].e);
	uint64_t applied0 = cairn__engine_applied(r->t[0].e);
	for (int i = 0; i < 2; i++) {
		struct twin *t = &r->t[i];
		memset(t->arena, ARENA_PAT, ARENA);
		cairn__engine_prefetch(t->e, cmd);
		rc[i] = cairn__engine_apply(t->e, cmd, r->now, &t->blob, &out[i]);
		fz_check_result(cmd, rc[i], &out[i]);
		/*
		 * The second engine answers byte for byte as the first (checked below), so
		 * its full check every eighth command is enough and halves the cost.
		 */
		if (i == 0 || r->req % 8 == 0) {
			fz_engine_check(t->e, r->strict);
		}
	}
	memset(before, ARENA_PAT, ARENA);
	FZ_CHECK(rc[0] == rc[1] && memcmp(&out[0], &out[1], sizeof(out[0])) == 0,
		 "the two engines answered %04x differently (%d, %d)", cmd->hdr.type, rc[0], rc[1]);
	FZ_CHECK(memcmp(r->t[0].arena, r->t[1].arena, ARENA) == 0,
		 "the two engines wrote different hits");
	uint64_t hash = cairn__engine_hash(r->t[0].e);
	FZ_CHECK(hash == cairn__engine_hash(r->t[1].e), "state hashes differ after %04x",
		 cmd->hdr.type);
	uint64_t applied = cairn__engine_applied(r->t[0].e);
	bool mutating = cairn__engine_mutates(cmd->hdr.type);
	if (rc[0] < 0 || !mutating) {
		FZ_CHECK(hash == hash0 && applied == applied0,
			 "%04x (%s, status %d) changed the state", cmd->hdr.type,
			 rc[0] < 0 ? "rejected" : "a query", out[0].hdr.status);
	} else {
		FZ_CHECK(applied == applied0 + 1, "%04x moved the order number from %llu to %llu",
			 cmd->hdr.type, (unsigned long long)applied0, (unsigned long long)applied);
	}
	uint16_t ev = rc[0] == 0 && mutating ? event_of(cmd, &out[0]) : 0;
	for (int i = 0; i < 2; i++) {
		check_events(&r->t[i], ev, applied);
	}
	if (rc[0] < 0 || mutating || cmd->hdr.type == CAIRN_MSG_PLAYER_STATE ||
	    cmd->hdr.type == CAIRN_MSG_STATE_HASH) {
		FZ_CHECK(memcmp(r->t[0].arena, before, ARENA) == 0, "%04x (status %d) wrote hits",
			 cmd->hdr.type, out[0].hdr.status);
	} else {
		check_query(&r->t[0], cmd, &out[0], before);
	}
	if (rc[0] == 0 && cmd->hdr.type == CAIRN_MSG_STATE_HASH) {
		struct cairn_state_hash_reply sh;
		memcpy(&sh, out[0].payload, sizeof(sh));
		FZ_CHECK(sh.hash == hash && sh.applied == applied, "STATE_HASH says %016llx",
			 (unsigned long long)sh.hash);
	}
	if (rc[0] == 0) {
		learn(r, &out[0]);
	}
}

/* Save, restore into a fresh engine: the same hash, and saving that gives the same bytes. */
static void save_restore(struct run *r)
{
	uint8_t *img, *img2;
	size_t len, len2;
	FZ_SETUP(cairn__engine_save(r->t[0].e, &img, &len) == 0, "out of memory");
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	struct cairn__engine *e2;
	FZ_SETUP(cairn__engine_new(&cfg, NULL, NULL, NULL, &e2) == 0, "engine_new");
	int rc = cairn__engine_restore(e2, img, len);
	FZ_CHECK(rc == 0, "the engine's own image does not restore: %d", rc);
	fz_engine_check(e2, r->strict);
	FZ_CHECK(cairn__engine_hash(e2) == cairn__engine_hash(r->t[0].e), "restored hash differs");
	FZ_SETUP(cairn__engine_save(e2, &img2, &len2) == 0, "out of memory");
	FZ_CHECK(len == len2 && memcmp(img, img2, len) == 0, "a restored engine saves other bytes");
	free(img);
	free(img2);
	cairn__engine_free(e2);
}

/* Keeps an image of a hunt, to roll it back to later. */
static void keep_hunt(struct run *r)
{
	uint32_t hunt = pick_id(r, &r->hunts);
	uint8_t *img;
	size_t len;
	int rc = cairn__engine_hunt_save(r->t[0].e, hunt, &img, &len);
	if (rc < 0) {
		FZ_CHECK(rc == -CAIRN_E_UNKNOWN_HUNT, "hunt_save of %08x: %d", hunt, rc);
		return;
	}
	free(r->kept);
	r->kept = img;
	r->kept_len = len;
	r->kept_hunt = hunt;
}

/* Puts a hunt back to the image kept, possibly damaged by the input, in both engines. */
static void rollback(struct run *r)
{
	if (!r->kept) {
		return;
	}
	uint8_t *img = malloc(r->kept_len + 64);
	FZ_SETUP(img, "out of memory");
	memcpy(img, r->kept, r->kept_len);
	size_t len = r->kept_len;
	uint8_t damage = fz_u8(&r->f);
	bool damaged = false;
	for (unsigned k = 0; k < (damage & 3u); k++) {
		/* Overwrite a byte of the image (or cut it short). */
		size_t at = fz_u16(&r->f) % (len + 1);
		if (at == len) {
			len = fz_u8(&r->f) % (len + 1);
		} else {
			img[at] = fz_u8(&r->f);
		}
		damaged = true;
	}
	uint32_t hunt = damage & 4 ? pick_id(r, &r->hunts) : r->kept_hunt;
	uint64_t hash0 = cairn__engine_hash(r->t[0].e);
	uint64_t applied0 = cairn__engine_applied(r->t[0].e);
	int rc[2];
	uint32_t players[2], clues[2];
	for (int i = 0; i < 2; i++) {
		rc[i] = cairn__engine_hunt_replace(r->t[i].e, hunt, img, len, applied0, &players[i],
						   &clues[i]);
	}
	FZ_CHECK(rc[0] == rc[1], "rollback: %d and %d", rc[0], rc[1]);
	if (rc[0] == 0 && damaged) {
		r->strict = false;
	}
	for (int i = 0; i < 2; i++) {
		fz_engine_check(r->t[i].e, r->strict);
	}
	uint64_t hash = cairn__engine_hash(r->t[0].e);
	FZ_CHECK(hash == cairn__engine_hash(r->t[1].e), "hashes differ after a rollback");
	if (rc[0] < 0) {
		FZ_CHECK(rc[0] == -CAIRN_E_UNKNOWN_HUNT || rc[0] == -CAIRN_E_BAD_SNAPSHOT ||
				 rc[0] == -CAIRN_E_ROLLBACK_CONFLICT ||
				 rc[0] == -CAIRN_E_TOO_MANY_ENTITIES,
			 "rollback returned %d", rc[0]);
		FZ_CHECK(hash == hash0 && cairn__engine_applied(r->t[0].e) == applied0,
			 "a refused rollback (%d) changed the state", rc[0]);
		for (int i = 0; i < 2; i++) {
			check_events(&r->t[i], 0, 0);
		}
	} else {
		FZ_CHECK(players[0] == players[1] && clues[0] == clues[1],
			 "rollback counts differ");
		for (int i = 0; i < 2; i++) {
			check_events(&r->t[i], CAIRN_EVENT_HUNT_ROLLED_BACK, applied0 + 1);
		}
		/* Without damage the hunt is now exactly as saved. */
		if (!damaged && hunt == r->kept_hunt) {
			uint8_t *now;
			size_t nlen;
			FZ_SETUP(cairn__engine_hunt_save(r->t[0].e, hunt, &now, &nlen) == 0,
				 "hunt_save");
			FZ_CHECK(nlen == r->kept_len && memcmp(now, r->kept, nlen) == 0,
				 "a hunt rolled back to an image saves other bytes");
			free(now);
		}
	}
	free(img);
}

/* One operation decoded from the input. */
static void step(struct run *r)
{
	uint8_t op = fz_u8(&r->f);
	/* Time moves on (stamps never go back, as the daemon gives them). */
	uint8_t dt = fz_u8(&r->f);
	r->now += dt < 0xf0 ? (uint64_t)dt * 1000000u : (uint64_t)1 << (dt & 0x0f) * 3;

	struct cairn_msg m;
	switch (op & 15) {
	case 0: {
		struct cairn_hunt_create q = {0};
		q.map_id = fz_u8(&r->f) % (FZ_N_MAPS + 1);
		q.claim_radius_mm = pick_num(r, 3000);
		q.speed_limit_mm_s = pick_num(r, 5) * 1000;
		q.cell_mm = pick_num(r, 5) * 250;
		m = msg(CAIRN_MSG_HUNT_CREATE, CAIRN_MSG_HUNT_CREATE_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 1: {
		struct cairn_hunt_ref q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		m = msg(CAIRN_MSG_HUNT_DESTROY, CAIRN_MSG_HUNT_DESTROY_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 2: {
		struct cairn_join q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		pick_pos(r, q.hunt_id, 0, &q.x, &q.y);
		m = msg(CAIRN_MSG_JOIN, CAIRN_MSG_JOIN_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 3: {
		struct cairn_player_ref q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		q.player_id = pick_id(r, &r->players);
		m = msg(CAIRN_MSG_LEAVE, CAIRN_MSG_LEAVE_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 4:
	case 5:
	case 6: {
		struct cairn_move q = {0};
		q.player_id = pick_id(r, &r->players);
		const struct cairn_entity *en = cairn__eng_entity(r->t[0].e, q.player_id);
		/* Mostly the player's own hunt. */
		q.hunt_id = en && (op & 0x10) == 0 ? en->hunt_id : pick_id(r, &r->hunts);
		pick_pos(r, q.hunt_id, q.player_id, &q.x, &q.y);
		m = msg(CAIRN_MSG_MOVE, CAIRN_MSG_MOVE_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 7: {
		struct cairn_clue_place q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		pick_pos(r, q.hunt_id, pick_id(r, &r->players), &q.x, &q.y);
		q.value = fz_u8(&r->f) < 0xf0 ? fz_u8(&r->f) : (int64_t)fz_u64(&r->f);
		m = msg(CAIRN_MSG_CLUE_PLACE, CAIRN_MSG_CLUE_PLACE_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 8: {
		struct cairn_clue_ref q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		q.clue_id = pick_id(r, &r->clues);
		m = msg(CAIRN_MSG_CLUE_REMOVE, CAIRN_MSG_CLUE_REMOVE_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 9: {
		struct cairn_nearest_clues q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		pick_pos(r, q.hunt_id, pick_id(r, &r->players), &q.x, &q.y);
		q.k = pick_num(r, 12);
		q.include_claimed = pick_num(r, 2);
		pick_out(r, &q.out_offset, &q.out_capacity);
		m = msg(CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_NEAREST_CLUES_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 10: {
		struct cairn_players_near q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		pick_pos(r, q.hunt_id, pick_id(r, &r->players), &q.x, &q.y);
		q.radius_mm = pick_num(r, 200) * 100;
		q.max = pick_num(r, 12);
		pick_out(r, &q.out_offset, &q.out_capacity);
		m = msg(CAIRN_MSG_PLAYERS_NEAR, CAIRN_MSG_PLAYERS_NEAR_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 11: {
		struct cairn_leaderboard q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		q.k = pick_num(r, 12);
		pick_out(r, &q.out_offset, &q.out_capacity);
		m = msg(CAIRN_MSG_LEADERBOARD, CAIRN_MSG_LEADERBOARD_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 12: {
		struct cairn_player_ref q = {0};
		q.hunt_id = pick_id(r, &r->hunts);
		q.player_id = pick_id(r, &r->players);
		m = msg(CAIRN_MSG_PLAYER_STATE, CAIRN_MSG_PLAYER_STATE_LEN_MIN, &q, sizeof(q));
		break;
	}
	case 13:
		m = msg(CAIRN_MSG_STATE_HASH, 0, NULL, 0);
		break;
	case 14:
		/* Anything at all: the engine must answer it. */
		fz_bytes(&r->f, &m, sizeof(m));
		if (op & 0x10) {
			m.hdr.type = CAIRN_MSG_HUNT_CREATE + m.hdr.type % 12;
		}
		break;
	default:
		switch ((op >> 4) & 3) {
		case 0:
			save_restore(r);
			return;
		case 1:
			keep_hunt(r);
			return;
		default:
			rollback(r);
			return;
		}
	}
	/* Sometimes a header that the schema refuses. */
	if ((op & 0xe0) == 0xe0 && (op & 15) != 14) {
		uint8_t b = fz_u8(&r->f);
		if (b & 1) {
			m.hdr.flags = fz_u8(&r->f);
		}
		if (b & 2) {
			m.hdr.length = fz_u8(&r->f);
		}
		if (b & 4) {
			m.hdr.status = (int32_t)fz_u32(&r->f);
		}
	}
	apply(r, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	r.f = fz_init(data, size);
	r.now = 1000000000;
	r.strict = true;
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	twin_open(&r.t[0], &cfg, false);
	twin_open(&r.t[1], &cfg, true);
	for (int n = 0; n < MAX_OPS && fz_left(&r.f) > 0; n++) {
		step(&r);
	}
	/* The end state: both engines whole, and it survives a save and restore too. */
	fz_engine_check(r.t[1].e, r.strict);
	save_restore(&r);
	free(r.kept);
	twin_close(&r.t[0]);
	twin_close(&r.t[1]);
	return 0;
}
