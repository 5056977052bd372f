/*
 * Helpers shared by the engine tests (see eng.h).
 */
#include "eng.h"

#include <math.h>
#include <stdarg.h>
#include <sys/mman.h>

/*
 * 24 x 20 cells: a walled room in the north-west, a tree, a pond, a row of rocks and a
 * wall in the east; everything else passable ('.', 'G' lawn, 'S' marsh).
 */
const char eng_small_map[] = "type octile\n"
			     "height 20\n"
			     "width 24\n"
			     "map\n"
			     "........................\n"
			     "........................\n"
			     "..@@@@..................\n"
			     "..@..@......T...........\n"
			     "..@@.@..................\n"
			     "..........GGGG..........\n"
			     "...........WWWW.........\n"
			     "...........WWWW.........\n"
			     "..........GGGG..........\n"
			     "....OOOO...............@\n"
			     "......................@@\n"
			     "......................@@\n"
			     "SSSS..................@@\n"
			     "SSSS....................\n"
			     "........................\n"
			     "........................\n"
			     "........................\n"
			     "........................\n"
			     "........................\n"
			     "........................\n";

static _Noreturn void fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(T_FAIL);
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fail_at(file, line, __VA_ARGS__);                                          \
		}                                                                                  \
	} while (0)

const struct cairn__map *const *eng_maps(void)
{
	static const struct cairn__map *maps[ENG_N_MAPS];
	if (!maps[0]) {
		struct cairn__map *m;
		struct cairn__map_error err;
		int rc = cairn__map_parse(eng_small_map, strlen(eng_small_map), "small", &m, &err);
		if (rc < 0) {
			T_FAILF("the small map: %s at %u:%u", err.message, err.line, err.column);
		}
		maps[ENG_MAP_SMALL] = m;
		ASSERT_OK(cairn__map_default(&m));
		maps[ENG_MAP_DEFAULT] = m;
	}
	return maps;
}

void eng_config(struct cairn__engine_config *cfg)
{
	cairn__engine_config_default(cfg);
	cfg->max_hunts = 64;
	cfg->max_entities = 4096;
	cfg->shards_per_hunt = 4;
	cfg->event_capacity = 4096;
	cfg->maps = eng_maps();
	cfg->n_maps = ENG_N_MAPS;
}

uint8_t eng_len(uint16_t type)
{
	switch (type) {
	case CAIRN_MSG_HUNT_CREATE:
		return CAIRN_MSG_HUNT_CREATE_LEN_MIN;
	case CAIRN_MSG_HUNT_DESTROY:
		return CAIRN_MSG_HUNT_DESTROY_LEN_MIN;
	case CAIRN_MSG_JOIN:
		return CAIRN_MSG_JOIN_LEN_MIN;
	case CAIRN_MSG_LEAVE:
		return CAIRN_MSG_LEAVE_LEN_MIN;
	case CAIRN_MSG_MOVE:
		return CAIRN_MSG_MOVE_LEN_MIN;
	case CAIRN_MSG_CLUE_PLACE:
		return CAIRN_MSG_CLUE_PLACE_LEN_MIN;
	case CAIRN_MSG_CLUE_REMOVE:
		return CAIRN_MSG_CLUE_REMOVE_LEN_MIN;
	case CAIRN_MSG_NEAREST_CLUES:
		return CAIRN_MSG_NEAREST_CLUES_LEN_MIN;
	case CAIRN_MSG_PLAYERS_NEAR:
		return CAIRN_MSG_PLAYERS_NEAR_LEN_MIN;
	case CAIRN_MSG_LEADERBOARD:
		return CAIRN_MSG_LEADERBOARD_LEN_MIN;
	case CAIRN_MSG_PLAYER_STATE:
		return CAIRN_MSG_PLAYER_STATE_LEN_MIN;
	case CAIRN_MSG_STATE_HASH:
		return CAIRN_MSG_STATE_HASH_LEN_MIN;
	default:
		return 0;
	}
}

uint8_t eng_reply_len(uint16_t type)
{
	switch (type) {
	case CAIRN_MSG_HUNT_CREATE:
		return CAIRN_MSG_HUNT_CREATED_LEN_MIN;
	case CAIRN_MSG_HUNT_DESTROY:
		return CAIRN_MSG_HUNT_DESTROYED_LEN_MIN;
	case CAIRN_MSG_JOIN:
		return CAIRN_MSG_JOINED_LEN_MIN;
	case CAIRN_MSG_LEAVE:
		return CAIRN_MSG_LEFT_LEN_MIN;
	case CAIRN_MSG_MOVE:
		return CAIRN_MSG_MOVED_LEN_MIN;
	case CAIRN_MSG_CLUE_PLACE:
		return CAIRN_MSG_CLUE_PLACED_LEN_MIN;
	case CAIRN_MSG_CLUE_REMOVE:
		return CAIRN_MSG_CLUE_REMOVED_LEN_MIN;
	case CAIRN_MSG_NEAREST_CLUES:
		return CAIRN_MSG_NEAREST_CLUES_REPLY_LEN_MIN;
	case CAIRN_MSG_PLAYERS_NEAR:
		return CAIRN_MSG_PLAYERS_NEAR_REPLY_LEN_MIN;
	case CAIRN_MSG_LEADERBOARD:
		return CAIRN_MSG_LEADERBOARD_REPLY_LEN_MIN;
	case CAIRN_MSG_PLAYER_STATE:
		return CAIRN_MSG_PLAYER_INFO_LEN_MIN;
	case CAIRN_MSG_STATE_HASH:
		return CAIRN_MSG_STATE_HASH_REPLY_LEN_MIN;
	default:
		return 0;
	}
}

struct cairn_msg eng_msg(uint16_t type, const void *payload, size_t size)
{
	struct cairn_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.length = eng_len(type);
	if (size > 0) {
		memcpy(m.payload, payload, size);
	}
	return m;
}

struct cairn_msg eng_hunt_create(uint32_t map_id, uint32_t radius_mm, uint32_t speed_mm_s,
				 uint32_t cell_mm)
{
	struct cairn_hunt_create p = {.map_id = map_id,
				      .claim_radius_mm = radius_mm,
				      .speed_limit_mm_s = speed_mm_s,
				      .cell_mm = cell_mm};
	return eng_msg(CAIRN_MSG_HUNT_CREATE, &p, sizeof(p));
}

struct cairn_msg eng_hunt_destroy(uint32_t hunt)
{
	struct cairn_hunt_ref p = {.hunt_id = hunt};
	return eng_msg(CAIRN_MSG_HUNT_DESTROY, &p, sizeof(p));
}

struct cairn_msg eng_join(uint32_t hunt, int32_t x, int32_t y)
{
	struct cairn_join p = {.hunt_id = hunt, .x = x, .y = y};
	return eng_msg(CAIRN_MSG_JOIN, &p, sizeof(p));
}

struct cairn_msg eng_leave(uint32_t hunt, uint32_t player)
{
	struct cairn_player_ref p = {.hunt_id = hunt, .player_id = player};
	return eng_msg(CAIRN_MSG_LEAVE, &p, sizeof(p));
}

struct cairn_msg eng_move(uint32_t hunt, uint32_t player, int32_t x, int32_t y)
{
	struct cairn_move p = {.hunt_id = hunt, .player_id = player, .x = x, .y = y};
	return eng_msg(CAIRN_MSG_MOVE, &p, sizeof(p));
}

struct cairn_msg eng_clue_place(uint32_t hunt, int32_t x, int32_t y, int64_t value)
{
	struct cairn_clue_place p = {.hunt_id = hunt, .x = x, .y = y, .value = value};
	return eng_msg(CAIRN_MSG_CLUE_PLACE, &p, sizeof(p));
}

struct cairn_msg eng_clue_remove(uint32_t hunt, uint32_t clue)
{
	struct cairn_clue_ref p = {.hunt_id = hunt, .clue_id = clue};
	return eng_msg(CAIRN_MSG_CLUE_REMOVE, &p, sizeof(p));
}

struct cairn_msg eng_nearest(uint32_t hunt, int32_t x, int32_t y, uint32_t k, uint32_t off,
			     uint32_t cap, uint32_t include_claimed)
{
	struct cairn_nearest_clues p = {.hunt_id = hunt,
					.x = x,
					.y = y,
					.k = k,
					.out_offset = off,
					.out_capacity = cap,
					.include_claimed = include_claimed};
	return eng_msg(CAIRN_MSG_NEAREST_CLUES, &p, sizeof(p));
}

struct cairn_msg eng_players_near(uint32_t hunt, int32_t x, int32_t y, uint32_t radius_mm,
				  uint32_t max, uint32_t off, uint32_t cap)
{
	struct cairn_players_near p = {.hunt_id = hunt,
				       .x = x,
				       .y = y,
				       .radius_mm = radius_mm,
				       .max = max,
				       .out_offset = off,
				       .out_capacity = cap};
	return eng_msg(CAIRN_MSG_PLAYERS_NEAR, &p, sizeof(p));
}

struct cairn_msg eng_leaderboard(uint32_t hunt, uint32_t k, uint32_t off, uint32_t cap)
{
	struct cairn_leaderboard p = {
		.hunt_id = hunt, .k = k, .out_offset = off, .out_capacity = cap};
	return eng_msg(CAIRN_MSG_LEADERBOARD, &p, sizeof(p));
}

struct cairn_msg eng_player_state(uint32_t hunt, uint32_t player)
{
	struct cairn_player_ref p = {.hunt_id = hunt, .player_id = player};
	return eng_msg(CAIRN_MSG_PLAYER_STATE, &p, sizeof(p));
}

struct cairn_msg eng_state_hash(void)
{
	return eng_msg(CAIRN_MSG_STATE_HASH, NULL, 0);
}

void eng_open(struct eng *t, const struct cairn__engine_config *cfg, bool check_grid)
{
	memset(t, 0, sizeof(*t));
	if (cfg) {
		t->cfg = *cfg;
	} else {
		eng_config(&t->cfg);
	}
	t->check_grid = check_grid;
	if (check_grid) {
		t->grid_size = cairn__engine_grid_size(&t->cfg);
		void *g = mmap(NULL, t->grid_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		ASSERT_TRUE(g != MAP_FAILED);
		t->grid = g;
		t->grid_copy = malloc(t->grid_size);
		ASSERT_TRUE(t->grid_copy != NULL);
	}
	ASSERT_OK(cairn__engine_new(&t->cfg, t->grid, NULL, NULL, &t->e));
	t->arena = calloc(1, ENG_ARENA_SIZE);
	ASSERT_TRUE(t->arena != NULL);
	t->blob.base = t->arena;
	t->blob.size = ENG_ARENA_SIZE;
	t->now = 1000000000ull;
	t->step_ns = 1000000ull;
}

void eng_close(struct eng *t)
{
	cairn__engine_free(t->e);
	if (t->grid) {
		munmap(t->grid, t->grid_size);
	}
	free(t->grid_copy);
	free(t->arena);
	memset(t, 0, sizeof(*t));
}

int eng_apply(struct eng *t, struct cairn_msg *cmd)
{
	cmd->hdr.request_id = ++t->req * 0x9e3779b97f4a7c15ull;
	memset(&t->out, 0xA5, sizeof(t->out));
	int rc = cairn__engine_apply(t->e, cmd, t->now, &t->blob, &t->out);
	t->now += t->step_ns;
	return rc;
}

static const char *code_name(int code)
{
	return code == 0 ? "ok" : cairn_strerror(-code);
}

const void *eng_ok_at(const char *file, int line, struct eng *t, struct cairn_msg cmd)
{
	struct cairn_engine_counters c0 = *cairn__engine_counters(t->e);
	uint64_t a0 = cairn__engine_applied(t->e);
	bool mut = cairn__engine_mutates(cmd.hdr.type);
	uint64_t h0 = mut ? 0 : cairn__engine_hash(t->e);
	uint64_t ev0 = cairn__engine_events_published(t->e);
	int rc = eng_apply(t, &cmd);
	const struct cairn_msg *o = &t->out;
	CHECK(rc == 0, "command type 0x%x rejected: %d (%s), detail %u", cmd.hdr.type,
	      o->hdr.status, code_name(o->hdr.status),
	      ((const struct cairn_error_info *)o->payload)->detail);
	CHECK(o->hdr.type == (cmd.hdr.type | CAIRN_REPLY_BIT) && o->hdr.status == 0 &&
		      o->hdr.flags == 0 && o->hdr.length == eng_reply_len(cmd.hdr.type),
	      "bad reply header: type 0x%x status %d flags %u length %u", o->hdr.type,
	      o->hdr.status, o->hdr.flags, o->hdr.length);
	CHECK(o->hdr.request_id == cmd.hdr.request_id, "request id not copied");
	CHECK(cairn__engine_applied(t->e) == a0 + mut, "applied %llu, expected %llu",
	      (unsigned long long)cairn__engine_applied(t->e), (unsigned long long)(a0 + mut));
	if (!mut) {
		CHECK(cairn__engine_hash(t->e) == h0, "a query changed the state hash");
		CHECK(cairn__engine_events_published(t->e) == ev0, "a query published an event");
	}
	const struct cairn_engine_counters *c = cairn__engine_counters(t->e);
	CHECK(c->by_type[cmd.hdr.type] == c0.by_type[cmd.hdr.type] + 1, "by_type not counted");
	CHECK(c->applied == c0.applied + mut, "counters.applied");
	CHECK(c->rejected == c0.rejected, "counters.rejected moved on a success");
	CHECK(memcmp(c->by_error, c0.by_error, sizeof(c0.by_error)) == 0,
	      "by_error moved on a success");
	CHECK(c->events == c0.events + (cairn__engine_events_published(t->e) - ev0),
	      "counters.events is not the events published");
	return o->payload;
}

uint32_t eng_err_at(const char *file, int line, struct eng *t, struct cairn_msg cmd, int code)
{
	struct cairn_engine_counters c0 = *cairn__engine_counters(t->e);
	uint64_t a0 = cairn__engine_applied(t->e);
	uint64_t h0 = cairn__engine_hash(t->e);
	uint64_t ev0 = cairn__engine_events_published(t->e);
	if (t->check_grid) {
		memcpy(t->grid_copy, t->grid, t->grid_size);
	}
	int rc = eng_apply(t, &cmd);
	const struct cairn_msg *o = &t->out;
	const struct cairn_error_info *ei = (const struct cairn_error_info *)o->payload;
	CHECK(rc == -code && o->hdr.status == code,
	      "command type 0x%x: expected %d (%s), got rc %d status %d (%s)", cmd.hdr.type, code,
	      code_name(code), rc, o->hdr.status, code_name(o->hdr.status));
	CHECK(o->hdr.type == CAIRN_MSG_ERROR && o->hdr.flags == 0 &&
		      o->hdr.length == CAIRN_MSG_ERROR_LEN_MIN,
	      "bad error header: type 0x%x flags %u length %u", o->hdr.type, o->hdr.flags,
	      o->hdr.length);
	CHECK(o->hdr.request_id == cmd.hdr.request_id, "request id not copied");
	CHECK(ei->request_type == cmd.hdr.type, "request_type %u, expected %u", ei->request_type,
	      cmd.hdr.type);
	static const uint8_t zero[sizeof(ei->_reserved)];
	CHECK(ei->_pad0 == 0 && memcmp(ei->_reserved, zero, sizeof(zero)) == 0,
	      "error_info padding not zero");
	CHECK(cairn__engine_hash(t->e) == h0, "a rejected command changed the state hash");
	CHECK(cairn__engine_applied(t->e) == a0, "a rejected command moved applied");
	CHECK(cairn__engine_events_published(t->e) == ev0, "a rejected command published an event");
	if (t->check_grid) {
		CHECK(memcmp(t->grid_copy, t->grid, t->grid_size) == 0,
		      "a rejected command changed the grid region");
	}
	struct cairn_engine_counters want = c0;
	want.by_type[cmd.hdr.type < 64 ? cmd.hdr.type : 0]++;
	want.by_error[code - CAIRN_E_BAD_MAGIC]++;
	want.rejected++;
	CHECK(memcmp(&want, cairn__engine_counters(t->e), sizeof(want)) == 0,
	      "counters: expected by_type[%u], by_error[%d] and rejected up by one, nothing else",
	      cmd.hdr.type < 64 ? cmd.hdr.type : 0, code - CAIRN_E_BAD_MAGIC);
	return ei->detail;
}

uint32_t eng_hunt_at(const char *file, int line, struct eng *t, uint32_t map, uint32_t radius,
		     uint32_t speed, uint32_t cell)
{
	const struct cairn_hunt_created *r =
		eng_ok_at(file, line, t, eng_hunt_create(map, radius, speed, cell));
	return r->hunt_id;
}

uint32_t eng_join_at(const char *file, int line, struct eng *t, uint32_t hunt, int32_t x, int32_t y)
{
	const struct cairn_joined *r = eng_ok_at(file, line, t, eng_join(hunt, x, y));
	CHECK(r->hunt_id == hunt && r->x == x && r->y == y, "JOINED does not echo the join");
	return r->player_id;
}

uint32_t eng_clue_at(const char *file, int line, struct eng *t, uint32_t hunt, int32_t x, int32_t y,
		     int64_t value)
{
	const struct cairn_clue_placed *r =
		eng_ok_at(file, line, t, eng_clue_place(hunt, x, y, value));
	CHECK(r->hunt_id == hunt && r->x == x && r->y == y, "CLUE_PLACED does not echo the place");
	return r->clue_id;
}

struct cairn_moved eng_move_at(const char *file, int line, struct eng *t, uint32_t hunt,
			       uint32_t player, int32_t x, int32_t y)
{
	const struct cairn_moved *r = eng_ok_at(file, line, t, eng_move(hunt, player, x, y));
	CHECK(r->player_id == player && r->x == x && r->y == y, "MOVED does not echo the move");
	return *r;
}

const struct cairn_hit *eng_hits(const struct eng *t, const struct cairn_query_reply *r)
{
	ASSERT_TRUE((uint64_t)r->out_offset + r->out_length <= ENG_ARENA_SIZE);
	ASSERT_EQ(r->out_length, r->count * sizeof(struct cairn_hit));
	return (const struct cairn_hit *)(t->arena + r->out_offset);
}

void eng_events_attach(struct eng *t, struct cairn__broadcast_reader *r, uint64_t next)
{
	size_t size;
	const void *mem = cairn__engine_events_mem(t->e, &size);
	ASSERT_OK(cairn__broadcast_attach(mem, size, r));
	r->next = next;
}

size_t eng_events_read(struct cairn__broadcast_reader *r, struct cairn_event *out, size_t n)
{
	uint64_t missed = 0;
	size_t got = cairn__broadcast_read(r, out, n, &missed);
	ASSERT_UEQ(missed, 0);
	return got;
}

uint64_t eng_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * 0x100000001b3ull;
	}
	return h;
}

void eng_rng_seed(struct eng_rng *r, uint64_t seed)
{
	/* splitmix64 of the seed, so that nearby seeds give unrelated streams; never 0. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 1;
}

uint64_t eng_rand(struct eng_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

uint32_t eng_below(struct eng_rng *r, uint32_t n)
{
	return (uint32_t)((eng_rand(r) >> 32) * n >> 32);
}

bool eng_chance(struct eng_rng *r, uint32_t per_mille)
{
	return eng_below(r, 1000) < per_mille;
}

/* The world model. */

void eng_world_init(struct eng_world *w, uint64_t seed, uint32_t illegal_per_mille)
{
	memset(w, 0, sizeof(*w));
	eng_rng_seed(&w->rng, seed);
	w->illegal_per_mille = illegal_per_mille;
	w->max_players = 600;
	w->max_clues = 400;
	w->players = calloc(w->max_players, sizeof(*w->players));
	w->clues = calloc(w->max_clues, sizeof(*w->clues));
	ASSERT_TRUE(w->players && w->clues);
	w->now = 5000000000ull;
	w->pending_index = -1;
}

void eng_world_fini(struct eng_world *w)
{
	free(w->players);
	free(w->clues);
	memset(w, 0, sizeof(*w));
}

const struct cairn__map *eng_world_map(const struct eng_whunt *h)
{
	return eng_maps()[h->map_id];
}

static struct eng_whunt *world_hunt(struct eng_world *w, uint32_t id)
{
	for (uint32_t i = 0; i < w->n_hunts; i++) {
		if (w->hunts[i].id == id) {
			return &w->hunts[i];
		}
	}
	return NULL;
}

bool eng_world_live(const struct eng_world *w, uint32_t id)
{
	for (uint32_t i = 0; i < w->n_hunts; i++) {
		if (w->hunts[i].id == id) {
			return true;
		}
	}
	for (uint32_t i = 0; i < w->n_players; i++) {
		if (w->players[i].id == id) {
			return true;
		}
	}
	for (uint32_t i = 0; i < w->n_clues; i++) {
		if (w->clues[i].id == id) {
			return true;
		}
	}
	return false;
}

static void bury(struct eng_world *w, uint32_t id)
{
	if (w->n_dead == 256) {
		memmove(w->dead, w->dead + 1, sizeof(w->dead) - sizeof(w->dead[0]));
		w->n_dead--;
	}
	w->dead[w->n_dead++] = id;
}

bool eng_world_pos(struct eng_world *w, const struct eng_whunt *h, bool blocked, int32_t *x,
		   int32_t *y)
{
	const struct cairn__map *m = eng_world_map(h);
	for (int i = 0; i < 4000; i++) {
		uint32_t cx = eng_below(&w->rng, m->width), cy = eng_below(&w->rng, m->height);
		if (cairn__map_passable(m, cx, cy) != blocked) {
			*x = (int32_t)(cx * h->cell_mm + eng_below(&w->rng, h->cell_mm));
			*y = (int32_t)(cy * h->cell_mm + eng_below(&w->rng, h->cell_mm));
			return true;
		}
	}
	return false;
}

static bool world_passable(const struct eng_whunt *h, int64_t x, int64_t y)
{
	return x >= 0 && y >= 0 && x < h->limit_x && y < h->limit_y &&
	       cairn__map_passable(eng_world_map(h), x / h->cell_mm, y / h->cell_mm);
}

static struct cairn_msg gen_hunt_create(struct eng_world *w)
{
	struct eng_rng *r = &w->rng;
	uint32_t map = eng_below(r, ENG_N_MAPS);
	uint32_t speed = eng_chance(r, 300) ? 0 : 1000 + eng_below(r, 9001);
	uint32_t cell = eng_chance(r, 700) ? 0 : 250 + eng_below(r, 1751);
	uint32_t radius = eng_chance(r, 700) ? 0 : 10 + eng_below(r, 491);
	return eng_hunt_create(map, radius, speed, cell);
}

static int32_t rnd_in(struct eng_rng *r, int32_t lo, int32_t hi)
{
	return lo + (int32_t)eng_below(r, (uint32_t)(hi - lo + 1));
}

/* The exact reach in mm of a player of h, dt ns after its last stamp (INT32_MAX: none). */
static int64_t reach_mm(const struct eng_whunt *h, uint64_t dt)
{
	if (h->speed_mm_s == 0) {
		return INT32_MAX;
	}
	eng_u128 v = (eng_u128)h->speed_mm_s * dt / 1000000000u;
	return v > INT32_MAX ? INT32_MAX : (int64_t)v;
}

static struct cairn_msg gen_move(struct eng_world *w)
{
	struct eng_rng *r = &w->rng;
	uint32_t i = eng_below(r, w->n_players);
	w->pending_index = i;
	struct eng_wplayer *p = &w->players[i];
	const struct eng_whunt *h = world_hunt(w, p->hunt);
	int64_t reach = reach_mm(h, w->now - p->stamp);
	if (eng_chance(r, w->illegal_per_mille)) {
		int32_t x = p->x, y = p->y;
		switch (eng_below(r, 3)) {
		case 0:
			x = eng_chance(r, 500) ? -1 - (int32_t)eng_below(r, 5000)
					       : (int32_t)h->limit_x + (int32_t)eng_below(r, 5000);
			break;
		case 1:
			eng_world_pos(w, h, true, &x, &y);
			break;
		default:
			if (reach < INT32_MAX / 4) {
				x = (int32_t)(p->x + reach + 1 + eng_below(r, 100));
			}
			break;
		}
		return eng_move(p->hunt, p->id, x, y);
	}
	int64_t step = reach < 3000 ? reach : 3000;
	if (eng_chance(r, 300) && w->n_clues > 0) {
		const struct eng_wclue *c = &w->clues[eng_below(r, w->n_clues)];
		if (c->hunt == p->hunt) {
			double dx = c->x - p->x, dy = c->y - p->y;
			double d = sqrt(dx * dx + dy * dy);
			int64_t x, y;
			if (d <= (double)step) {
				int32_t o = (int32_t)(h->radius_mm / 2);
				x = c->x + rnd_in(r, -o, o);
				y = c->y + rnd_in(r, -o, o);
			} else {
				double f = (double)step * 0.7 / d;
				x = p->x + (int64_t)(dx * f);
				y = p->y + (int64_t)(dy * f);
			}
			if (world_passable(h, x, y)) {
				return eng_move(p->hunt, p->id, (int32_t)x, (int32_t)y);
			}
		}
	}
	int32_t m = (int32_t)(step * 2 / 3);
	for (int k = 0; k < 8; k++) {
		int64_t x = p->x + rnd_in(r, -m, m), y = p->y + rnd_in(r, -m, m);
		if (world_passable(h, x, y)) {
			return eng_move(p->hunt, p->id, (int32_t)x, (int32_t)y);
		}
	}
	return eng_move(p->hunt, p->id, p->x, p->y);
}

static uint32_t query_offset(struct eng_rng *r, uint32_t cap)
{
	return eng_below(r, (ENG_ARENA_SIZE - cap) / 8 + 1) * 8;
}

struct cairn_msg eng_world_next(struct eng_world *w, uint64_t *stamp)
{
	struct eng_rng *r = &w->rng;
	w->now += eng_below(r, 3) * 1000000ull + eng_below(r, 1000);
	*stamp = w->now;
	w->pending_index = -1;
	struct cairn_msg m;
	for (;;) {
		uint32_t k = eng_below(r, 1000);
		if (w->n_hunts < 3 || (k < 2 && w->n_hunts < ENG_WORLD_HUNTS)) {
			m = gen_hunt_create(w);
			break;
		}
		if (k < 3) {
			if (w->n_hunts <= 3 || !eng_chance(r, 200)) {
				continue;
			}
			uint32_t i = eng_below(r, w->n_hunts);
			w->pending_index = i;
			m = eng_hunt_destroy(w->hunts[i].id);
			break;
		}
		const struct eng_whunt *h = &w->hunts[eng_below(r, w->n_hunts)];
		int32_t x, y;
		if (k < 60) {
			if (w->n_players >= w->max_players) {
				continue;
			}
			eng_world_pos(w, h, false, &x, &y);
			m = eng_join(h->id, x, y);
			break;
		}
		if (k < 85) {
			if (w->n_players == 0) {
				continue;
			}
			uint32_t i = eng_below(r, w->n_players);
			w->pending_index = i;
			m = eng_leave(w->players[i].hunt, w->players[i].id);
			break;
		}
		if (k < 135) {
			if (w->n_clues >= w->max_clues) {
				continue;
			}
			if (eng_chance(r, 300) && w->n_players > 0) {
				/* Next to a player, so that its next small step may claim it. */
				const struct eng_wplayer *p =
					&w->players[eng_below(r, w->n_players)];
				h = world_hunt(w, p->hunt);
				x = p->x + rnd_in(r, -100, 100);
				y = p->y + rnd_in(r, -100, 100);
				if (!world_passable(h, x, y)) {
					continue;
				}
			} else {
				eng_world_pos(w, h, false, &x, &y);
			}
			m = eng_clue_place(h->id, x, y, rnd_in(r, -50, 200));
			break;
		}
		if (k < 155) {
			if (w->n_clues == 0) {
				continue;
			}
			uint32_t i = eng_below(r, w->n_clues);
			w->pending_index = i;
			m = eng_clue_remove(w->clues[i].hunt, w->clues[i].id);
			break;
		}
		if (k < 190) {
			uint32_t n = 1 + eng_below(r, 16), cap = (n + eng_below(r, 3)) * 24;
			m = eng_nearest(h->id, (int32_t)eng_below(r, (uint32_t)h->limit_x),
					(int32_t)eng_below(r, (uint32_t)h->limit_y), n,
					query_offset(r, cap), cap, eng_below(r, 2));
			break;
		}
		if (k < 215) {
			uint32_t n = 1 + eng_below(r, 32), cap = n * 24;
			m = eng_players_near(h->id, (int32_t)eng_below(r, (uint32_t)h->limit_x),
					     (int32_t)eng_below(r, (uint32_t)h->limit_y),
					     eng_below(r, 8001), n, query_offset(r, cap), cap);
			break;
		}
		if (k < 230) {
			uint32_t n = 1 + eng_below(r, 20), cap = n * 24;
			m = eng_leaderboard(h->id, n, query_offset(r, cap), cap);
			break;
		}
		if (k < 255) {
			if (w->n_players == 0) {
				continue;
			}
			const struct eng_wplayer *p = &w->players[eng_below(r, w->n_players)];
			m = eng_player_state(p->hunt, p->id);
			break;
		}
		if (k < 256) {
			m = eng_state_hash();
			break;
		}
		if (w->n_players == 0) {
			continue;
		}
		m = gen_move(w);
		break;
	}
	w->pending = m;
	return m;
}

void eng_world_learn(struct eng_world *w, const struct cairn_msg *out)
{
	int64_t i = w->pending_index;
	switch (out->hdr.type) {
	case CAIRN_MSG_HUNT_CREATED: {
		const struct cairn_hunt_created *r = (const void *)out->payload;
		ASSERT_TRUE(w->n_hunts < ENG_WORLD_HUNTS);
		struct eng_whunt *h = &w->hunts[w->n_hunts++];
		h->id = r->hunt_id;
		h->map_id = r->map_id;
		h->cell_mm = r->cell_mm;
		h->radius_mm = r->claim_radius_mm;
		h->speed_mm_s = r->speed_limit_mm_s;
		h->limit_x = (int64_t)r->width * r->cell_mm;
		h->limit_y = (int64_t)r->height * r->cell_mm;
		break;
	}
	case CAIRN_MSG_HUNT_DESTROYED: {
		uint32_t id = w->hunts[i].id;
		bury(w, id);
		w->hunts[i] = w->hunts[--w->n_hunts];
		for (uint32_t k = 0; k < w->n_players;) {
			if (w->players[k].hunt == id) {
				bury(w, w->players[k].id);
				w->players[k] = w->players[--w->n_players];
			} else {
				k++;
			}
		}
		for (uint32_t k = 0; k < w->n_clues;) {
			if (w->clues[k].hunt == id) {
				bury(w, w->clues[k].id);
				w->clues[k] = w->clues[--w->n_clues];
			} else {
				k++;
			}
		}
		break;
	}
	case CAIRN_MSG_JOINED: {
		const struct cairn_joined *r = (const void *)out->payload;
		w->players[w->n_players++] = (struct eng_wplayer){.id = r->player_id,
								  .hunt = r->hunt_id,
								  .x = r->x,
								  .y = r->y,
								  .stamp = w->now};
		break;
	}
	case CAIRN_MSG_LEFT:
		bury(w, w->players[i].id);
		w->players[i] = w->players[--w->n_players];
		break;
	case CAIRN_MSG_MOVED: {
		const struct cairn_moved *r = (const void *)out->payload;
		struct eng_wplayer *p = &w->players[i];
		p->x = r->x;
		p->y = r->y;
		p->stamp = w->now;
		break;
	}
	case CAIRN_MSG_CLUE_PLACED: {
		const struct cairn_clue_placed *r = (const void *)out->payload;
		w->clues[w->n_clues++] = (struct eng_wclue){
			.id = r->clue_id, .hunt = r->hunt_id, .x = r->x, .y = r->y};
		break;
	}
	case CAIRN_MSG_CLUE_REMOVED:
		bury(w, w->clues[i].id);
		w->clues[i] = w->clues[--w->n_clues];
		break;
	default:
		break;
	}
}
