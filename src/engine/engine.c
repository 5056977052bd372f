/*
 * The engine's lifecycle, command dispatch, ids, results and events.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/atomic.h"
#include "engine/internal.h"
#include "protocol_desc.h"

#define PAGE 4096u

static size_t round_page(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

void cairn__engine_config_default(struct cairn__engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_hunts = 16384;
	cfg->max_entities = 1u << 20;
	cfg->shards_per_hunt = CAIRN_DEFAULT_SHARDS;
	cfg->event_capacity = 65536;
}

static bool config_ok(const struct cairn__engine_config *cfg)
{
	uint32_t ev = cfg->event_capacity;
	return cfg->max_hunts >= 1 && cfg->max_hunts <= ID_MAX_SLOTS && cfg->max_entities >= 1 &&
	       cfg->max_entities <= ID_MAX_SLOTS && cfg->shards_per_hunt >= 1 &&
	       cfg->shards_per_hunt <= 4096 && ev >= 2 && (ev & (ev - 1)) == 0 &&
	       cfg->n_maps >= 1 && cfg->n_maps <= 65536 && cfg->maps != NULL &&
	       (uint64_t)cfg->max_hunts * cairn__engine_hunt_stride(cfg) <= ((uint64_t)1 << 40);
}

size_t cairn__engine_hunt_stride(const struct cairn__engine_config *cfg)
{
	uint64_t most = 0;
	for (uint32_t i = 0; i < cfg->n_maps; i++) {
		uint64_t bx = (cfg->maps[i]->width + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS;
		uint64_t by = (cfg->maps[i]->height + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS;
		uint64_t need = (uint64_t)cfg->shards_per_hunt * sizeof(struct cairn_shard) +
				bx * by * sizeof(struct cairn_block);
		most = need > most ? need : most;
	}
	return round_page(most);
}

size_t cairn__engine_grid_size(const struct cairn__engine_config *cfg)
{
	struct cairn__grid_plan p;
	cairn__grid_plan(cfg, &p);
	return p.size;
}

size_t cairn__engine_events_size(const struct cairn__engine_config *cfg)
{
	return round_page(cairn__broadcast_size(cfg->event_capacity));
}

/* Zero-filled private memory whose pages are only touched when used. */
static void *map_anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int cairn__slots_init(struct slots *s, uint32_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
	s->free = calloc(max, sizeof(*s->free));
	s->gen = calloc(max, 1);
	s->live = calloc(max, 1);
	if (!s->free || !s->gen || !s->live) {
		cairn__slots_fini(s);
		return -ENOMEM;
	}
	return 0;
}

void cairn__slots_fini(struct slots *s)
{
	/*
	 * Called again on slots already finished (cairn__engine_new's failure path): the
	 * memset below left NULLs to free. Clang 14's analyzer does not see the memset
	 * clear the pointers and reports a double free.
	 * NOLINTBEGIN(clang-analyzer-unix.Malloc)
	 */
	free(s->free);
	free(s->gen);
	free(s->live);
	/* NOLINTEND(clang-analyzer-unix.Malloc) */
	memset(s, 0, sizeof(*s));
}

int64_t cairn__slots_take(struct slots *s)
{
	uint32_t slot;
	if (s->nfree > 0) {
		slot = s->free[--s->nfree];
	} else if (s->hwm < s->max) {
		slot = s->hwm++;
	} else {
		return -1;
	}
	/* Generations run 1..255 so that no id is ever 0. */
	s->gen[slot] = (uint8_t)(s->gen[slot] == 255 ? 1 : s->gen[slot] + 1);
	s->live[slot] = 1;
	return slot;
}

void cairn__slots_put(struct slots *s, uint32_t slot)
{
	s->live[slot] = 0;
	s->free[s->nfree++] = slot;
}

/* The engine's command descriptors by type, built once for every engine in the process. */
static const struct cairn__msg_desc *by_type[CAIRN_MSG_STATE_HASH + 1];
static pthread_once_t by_type_once = PTHREAD_ONCE_INIT;

static void build_by_type(void)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		uint16_t t = cairn__proto_msgs[i].type;
		if (cairn__engine_serves(t)) {
			by_type[t] = &cairn__proto_msgs[i];
		}
	}
}

int cairn__engine_new(const struct cairn__engine_config *cfg, void *grid, void *events,
		      struct cairn_engine_counters *counters, struct cairn__engine **out)
{
	if (!config_ok(cfg)) {
		return -EINVAL;
	}
	pthread_once(&by_type_once, build_by_type);
	struct cairn__engine *e = calloc(1, sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	e->cfg = *cfg;
	e->grid_size = cairn__engine_grid_size(cfg);
	e->events_size = cairn__engine_events_size(cfg);
	e->grid = grid;
	e->events_mem = events;
	e->ctr = counters;
	int rc = -ENOMEM;
	if (!e->grid) {
		e->grid = map_anon(e->grid_size);
		e->own_grid = e->grid != NULL;
	}
	if (!e->events_mem) {
		e->events_mem = map_anon(e->events_size);
		e->own_events = e->events_mem != NULL;
	}
	if (!e->ctr) {
		e->ctr = calloc(1, sizeof(*e->ctr));
		e->own_ctr = e->ctr != NULL;
	}
	if (!e->grid || !e->events_mem || !e->ctr) {
		goto fail;
	}
	e->hunts = calloc(cfg->max_hunts, sizeof(*e->hunts));
	e->links = calloc(cfg->max_entities, sizeof(*e->links));
	e->scratch = map_anon((size_t)cfg->max_entities * sizeof(*e->scratch));
	if (!e->hunts || !e->links || !e->scratch ||
	    cairn__slots_init(&e->hunt_slots, cfg->max_hunts) < 0 ||
	    cairn__slots_init(&e->ent_slots, cfg->max_entities) < 0) {
		goto fail;
	}
	rc = cairn__broadcast_init(e->events_mem, e->events_size, cfg->event_capacity, &e->events);
	if (rc < 0) {
		goto fail;
	}
	rc = cairn__grid_layout(e);
	if (rc < 0) {
		goto fail;
	}
	*out = e;
	return 0;
fail:
	cairn__engine_free(e);
	return rc;
}

void cairn__engine_free(struct cairn__engine *e)
{
	if (!e) {
		return;
	}
	if (e->own_grid) {
		munmap(e->grid, e->grid_size);
	}
	if (e->own_events) {
		munmap(e->events_mem, e->events_size);
	}
	if (e->own_ctr) {
		free(e->ctr);
	}
	cairn__slots_fini(&e->hunt_slots);
	cairn__slots_fini(&e->ent_slots);
	free(e->hunts);
	free(e->links);
	if (e->scratch) {
		munmap(e->scratch, (size_t)e->cfg.max_entities * sizeof(*e->scratch));
	}
	free(e);
}

void cairn__engine_set_max_players(struct cairn__engine *e, uint32_t max_players)
{
	e->max_players = max_players;
}

struct cairn_engine_counters *cairn__engine_counters(struct cairn__engine *e)
{
	return e->ctr;
}

uint64_t cairn__engine_applied(const struct cairn__engine *e)
{
	return e->applied;
}

const void *cairn__engine_events_mem(const struct cairn__engine *e, size_t *size)
{
	*size = e->events_size;
	return e->events_mem;
}

uint64_t cairn__engine_events_published(const struct cairn__engine *e)
{
	return e->events.tail;
}

void cairn__engine_wake_event_readers(struct cairn__engine *e)
{
	cairn__broadcast_wake(&e->events);
}

struct hunt *cairn__eng_hunt(struct cairn__engine *e, uint32_t hunt_id)
{
	uint32_t slot = id_slot(hunt_id);
	if (slot >= e->hunt_slots.hwm || !e->hunt_slots.live[slot] ||
	    make_id(slot, e->hunt_slots.gen[slot]) != hunt_id) {
		return NULL;
	}
	return &e->hunts[slot];
}

struct cairn_entity *cairn__eng_entity(struct cairn__engine *e, uint32_t id)
{
	uint32_t slot = id_slot(id);
	/*
	 * A free slot's record is zeroed and ids are never 0, so the id alone says whether
	 * the slot holds this entity: one cache line, not two, on the path of every MOVE.
	 */
	if (slot >= e->ent_slots.hwm || e->ents[slot].id != id) {
		return NULL;
	}
	return &e->ents[slot];
}

int cairn__engine_hunt_geometry(struct cairn__engine *e, uint32_t hunt_id,
				const struct cairn__map **map, uint32_t *map_id, uint32_t *cell_mm)
{
	const struct hunt *h = cairn__eng_hunt(e, hunt_id);
	if (!h) {
		return -CAIRN_E_UNKNOWN_HUNT;
	}
	*map = h->map;
	*map_id = h->map_id;
	*cell_mm = h->cell_mm;
	return 0;
}

int cairn__engine_entity_pos(struct cairn__engine *e, uint32_t hunt_id, uint32_t id, uint8_t kind,
			     int32_t *x, int32_t *y)
{
	if (!cairn__eng_hunt(e, hunt_id)) {
		return -CAIRN_E_UNKNOWN_HUNT;
	}
	const struct cairn_entity *en = cairn__eng_entity(e, id);
	if (!en || en->kind != kind) {
		return kind == CAIRN_ENTITY_PLAYER ? -CAIRN_E_UNKNOWN_PLAYER
						   : -CAIRN_E_UNKNOWN_CLUE;
	}
	if (en->hunt_id != hunt_id) {
		return -CAIRN_E_WRONG_HUNT;
	}
	*x = en->x;
	*y = en->y;
	return 0;
}

int cairn__eng_check_pos(const struct hunt *h, int32_t x, int32_t y)
{
	if (x < 0 || y < 0 || x >= h->limit_x || y >= h->limit_y) {
		return -CAIRN_E_OFF_MAP;
	}
	if (!cairn__map_passable(h->map, x / h->cell_mm, y / h->cell_mm)) {
		return -CAIRN_E_BLOCKED;
	}
	return 0;
}

void cairn__eng_reply(const struct cairn_msg *cmd, uint16_t type, uint8_t length,
		      const void *payload, size_t size, struct cairn_msg *out)
{
	memset(out, 0, sizeof(*out));
	out->hdr.type = type;
	out->hdr.length = length;
	out->hdr.request_id = cmd->hdr.request_id;
	memcpy(out->payload, payload, size);
}

int cairn__eng_error(const struct cairn_msg *cmd, int code, uint32_t detail, struct cairn_msg *out)
{
	struct cairn_error_info ei;
	memset(&ei, 0, sizeof(ei));
	ei.request_type = cmd->hdr.type;
	ei.detail = detail;
	cairn__eng_reply(cmd, CAIRN_MSG_ERROR, CAIRN_MSG_ERROR_LEN_MIN, &ei, sizeof(ei), out);
	out->hdr.status = code;
	return -code;
}

void cairn__eng_event(struct cairn__engine *e, uint16_t type, uint32_t hunt_id, uint64_t stamp_ns,
		      uint32_t player_id, uint32_t clue_id, int64_t value, int32_t x, int32_t y)
{
	struct cairn_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.hunt_id = hunt_id;
	ev.order = e->applied;
	ev.stamp_ns = stamp_ns;
	ev.player_id = player_id;
	ev.clue_id = clue_id;
	ev.value = value;
	ev.x = x;
	ev.y = y;
	cairn__broadcast_publish(&e->events, &ev);
	cairn__count(&e->ctr->events, 1);
}

bool cairn__engine_serves(uint16_t type)
{
	return type >= CAIRN_MSG_HUNT_CREATE && type <= CAIRN_MSG_STATE_HASH;
}

bool cairn__engine_mutates(uint16_t type)
{
	return type >= CAIRN_MSG_HUNT_CREATE && type <= CAIRN_MSG_CLUE_REMOVE;
}

static const struct cairn__msg_desc *engine_desc(uint16_t type)
{
	return cairn__engine_serves(type) ? by_type[type] : NULL;
}

static int state_hash(struct cairn__engine *e, const struct cairn_msg *c, struct cairn_msg *out)
{
	struct cairn_state_hash_reply r;
	memset(&r, 0, sizeof(r));
	r.hash = cairn__engine_hash(e);
	r.applied = e->applied;
	r.hunts = e->hunt_slots.hwm - e->hunt_slots.nfree;
	r.entities = e->n_entities;
	cairn__eng_reply(c, CAIRN_MSG_STATE_HASH_REPLY, CAIRN_MSG_STATE_HASH_REPLY_LEN_MIN, &r,
			 sizeof(r), out);
	return 0;
}

static int dispatch(struct cairn__engine *e, const struct cairn_msg *cmd, uint64_t now,
		    const struct cairn__blob *blob, struct cairn_msg *out)
{
	const struct cairn__msg_desc *d = engine_desc(cmd->hdr.type);
	if (!d) {
		return cairn__eng_error(cmd, CAIRN_E_UNKNOWN_TYPE, cmd->hdr.type, out);
	}
	if (cmd->hdr.flags != 0) {
		return cairn__eng_error(cmd, CAIRN_E_BAD_FLAGS, cmd->hdr.flags, out);
	}
	if (cmd->hdr.length < d->len_min || cmd->hdr.length > d->len_max) {
		return cairn__eng_error(cmd, CAIRN_E_BAD_LENGTH, cmd->hdr.length, out);
	}
	switch (cmd->hdr.type) {
	case CAIRN_MSG_HUNT_CREATE:
		return cairn__cmd_hunt_create(e, cmd, now, out);
	case CAIRN_MSG_HUNT_DESTROY:
		return cairn__cmd_hunt_destroy(e, cmd, now, out);
	case CAIRN_MSG_JOIN:
		return cairn__cmd_join(e, cmd, now, out);
	case CAIRN_MSG_LEAVE:
		return cairn__cmd_leave(e, cmd, now, out);
	case CAIRN_MSG_MOVE:
		return cairn__cmd_move(e, cmd, now, out);
	case CAIRN_MSG_CLUE_PLACE:
		return cairn__cmd_clue_place(e, cmd, now, out);
	case CAIRN_MSG_CLUE_REMOVE:
		return cairn__cmd_clue_remove(e, cmd, now, out);
	case CAIRN_MSG_NEAREST_CLUES:
		return cairn__cmd_nearest(e, cmd, blob, out);
	case CAIRN_MSG_PLAYERS_NEAR:
		return cairn__cmd_players_near(e, cmd, blob, out);
	case CAIRN_MSG_LEADERBOARD:
		return cairn__cmd_leaderboard(e, cmd, blob, out);
	case CAIRN_MSG_PLAYER_STATE:
		return cairn__cmd_player_state(e, cmd, out);
	case CAIRN_MSG_STATE_HASH:
		return state_hash(e, cmd, out);
	default:
		return cairn__eng_error(cmd, CAIRN_E_UNKNOWN_TYPE, cmd->hdr.type, out);
	}
}

void cairn__engine_prefetch(const struct cairn__engine *e, const struct cairn_msg *cmd)
{
	if (cmd->hdr.type != CAIRN_MSG_MOVE) {
		return;
	}
	struct cairn_move q;
	memcpy(&q, cmd->payload, sizeof(q));
	uint32_t hs = id_slot(q.hunt_id), ps = id_slot(q.player_id);
	if (ps < e->ent_slots.hwm) {
		__builtin_prefetch(&e->ents[ps], 1);
		__builtin_prefetch(&e->links[ps], 1);
	}
	if (hs >= e->hunt_slots.hwm) {
		return;
	}
	/* A destroyed hunt's record is zeroed: no blocks, no map. */
	const struct hunt *h = &e->hunts[hs];
	__builtin_prefetch(h);
	if (h->blocks && h->map && q.x >= 0 && q.y >= 0 && q.x < h->limit_x && q.y < h->limit_y) {
		uint32_t b = cairn__grid_block_of(h, q.x, q.y);
		__builtin_prefetch(&h->blocks[b], 1);
		__builtin_prefetch(&h->shards[b % h->nshards], 1);
		uint32_t cx = (uint32_t)q.x / h->cell_mm, cy = (uint32_t)q.y / h->cell_mm;
		__builtin_prefetch(&h->map->cells[(uint64_t)cy * h->map->width + cx]);
	}
}

int cairn__engine_apply(struct cairn__engine *e, const struct cairn_msg *cmd, uint64_t ingress_ns,
			const struct cairn__blob *blob, struct cairn_msg *out)
{
	int rc = dispatch(e, cmd, ingress_ns, blob, out);
	cairn__count_command(e->ctr, cmd->hdr.type, rc < 0 ? -rc : 0);
	if (rc == 0 && cairn__engine_mutates(cmd->hdr.type)) {
		cairn__count(&e->ctr->applied, 1);
	}
	return rc;
}
