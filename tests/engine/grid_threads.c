/*
 * grid_threads: the grid's seqlocks with the writer and the readers in one process, so
 * that ThreadSanitizer sees both sides (client-grid_reads races a reader process against
 * cairnd, which TSan cannot relate). The engine (the writer's side, src/engine/grid.c)
 * applies commands on the main thread into a state segment of the test's own, as the
 * daemon's apply thread does into its own; READERS threads read that segment through
 * libcairn's grid reads (src/client/grid.c) on a client whose lane points at it.
 *
 * The writer moves PLAYERS players of hunt A across the blocks of an open map (and so
 * from one shard's lists to another's), always to a point whose y is a function of its
 * x, and every RECREATE moves destroys hunt B and creates it again with players of its
 * own, so that the grid memory of a destroyed hunt is soon another's. The readers check
 * what the reads promise: an entity is read whole (its y is the function of its x, its
 * block is the one its position lies in, its ids are its own), a whole-map read of A
 * holds each of A's players exactly once, and B is whole or gone (UNKNOWN_HUNT), never a
 * mix of two hunts. A read that gave up retrying (-EAGAIN) is allowed and counted; no
 * retry at all means the readers never raced the writer, and the test skips.
 *
 *   grid_threads [MOVES]
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "client/client.h"
#include "common/clock.h"
#include "eng.h"

#define W            64 /* map cells per row */
#define H            48 /* rows */
#define CELL         1000
#define BLOCK_MM     (CELL * CAIRN_BLOCK_CELLS)
#define BLOCKS_X     ((W + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS)
#define PLAYERS      40
#define B_PLAYERS    12
#define READERS      2
#define RECREATE     2000
#define STATE_HEADER 4096 /* where the grid region starts in the segment */

static struct cairn__engine *engine;
static uint64_t now_ns = 1;
static uint32_t hunt_a, players_a[PLAYERS];
static _Atomic uint32_t hunt_b; /* the current B, 0 before the first */
static atomic_bool stop;

struct reader {
	pthread_t tid;
	cairn_client *c;
	struct eng_rng rng;
	uint64_t entities, rects, b_whole, b_gone, gave_up;
};

/* The y of every position the writer uses: a function of x, inside the map. */
static int32_t y_of(int32_t x)
{
	return (x / CELL * 5 + 3) % H * CELL + x % CELL;
}

static uint32_t block_of(int32_t x, int32_t y)
{
	return (uint32_t)(y / BLOCK_MM * BLOCKS_X + x / BLOCK_MM);
}

static const void *apply(struct cairn_msg cmd, struct cairn_msg *out)
{
	cmd.hdr.request_id = now_ns;
	int rc = cairn__engine_apply(engine, &cmd, now_ns++, NULL, out);
	if (rc < 0) {
		T_FAILF("command type %u: %s", cmd.hdr.type, cairn_strerror(rc));
	}
	return out->payload;
}

static uint32_t create_hunt(void)
{
	struct cairn_msg out;
	const struct cairn_hunt_created *r = apply(eng_hunt_create(0, 300, 0, CELL), &out);
	return r->hunt_id;
}

static uint32_t join(uint32_t hunt, int32_t x)
{
	struct cairn_msg out;
	const struct cairn_joined *r = apply(eng_join(hunt, x, y_of(x)), &out);
	return r->player_id;
}

/* An entity read from hunt as the writer wrote it: whole, where it says it is. */
static void check_entity(const struct cairn_entity *e, uint32_t hunt, const char *what)
{
	if (e->hunt_id != hunt || e->kind != CAIRN_ENTITY_PLAYER || e->x < 0 || e->x >= W * CELL ||
	    e->y != y_of(e->x) || e->block != block_of(e->x, e->y)) {
		T_FAILF("%s: a torn or foreign entity: id %u, hunt %u (want %u), kind %u, (%d, %d) "
			"(y should be %d), block %u (should be %u)",
			what, e->id, e->hunt_id, hunt, e->kind, e->x, e->y,
			e->x >= 0 && e->x < W * CELL ? y_of(e->x) : -1, e->block,
			block_of(e->x, e->y));
	}
}

static bool gave_up(struct reader *r, int rc)
{
	if (rc == -EAGAIN) {
		r->gave_up++;
		return true;
	}
	return false;
}

static void read_a(struct reader *r)
{
	struct cairn_entity e, v[PLAYERS + 1];
	uint32_t p = players_a[eng_below(&r->rng, PLAYERS)];
	int rc = cairn_read_entity(r->c, hunt_a, p, &e);
	if (!gave_up(r, rc)) {
		ASSERT_OK(rc);
		ASSERT_UEQ(e.id, p);
		check_entity(&e, hunt_a, "read_entity of A");
		r->entities++;
	}
	if (eng_below(&r->rng, 8) != 0) {
		return;
	}
	rc = cairn_read_rect(r->c, hunt_a, 0, 0, INT32_MAX, INT32_MAX, CAIRN_READ_PLAYERS, v,
			     PLAYERS + 1);
	if (gave_up(r, rc)) {
		return;
	}
	ASSERT_EQ(rc, PLAYERS);
	uint64_t seen[(PLAYERS + 63) / 64] = {0};
	for (int i = 0; i < rc; i++) {
		check_entity(&v[i], hunt_a, "read_rect of A");
		int k = 0;
		while (k < PLAYERS && players_a[k] != v[i].id) {
			k++;
		}
		if (k == PLAYERS || (seen[k / 64] >> (k % 64) & 1)) {
			T_FAILF("read_rect of A: player %u is not one of A's or is there twice",
				v[i].id);
		}
		seen[k / 64] |= UINT64_C(1) << (k % 64);
	}
	r->rects++;
}

static void read_b(struct reader *r)
{
	struct cairn_entity v[B_PLAYERS + 1];
	struct cairn_hunt_info hi;
	uint32_t b = atomic_load_explicit(&hunt_b, memory_order_relaxed);
	if (b == 0) {
		return;
	}
	int rc = cairn_read_rect(r->c, b, 0, 0, INT32_MAX, INT32_MAX, CAIRN_READ_PLAYERS, v,
				 B_PLAYERS + 1);
	if (rc == -CAIRN_E_UNKNOWN_HUNT) {
		r->b_gone++;
	} else if (!gave_up(r, rc)) {
		/* Whole as far as it goes: the writer joins B's players one by one. */
		ASSERT_OK(rc);
		ASSERT_LE(rc, B_PLAYERS);
		for (int i = 0; i < rc; i++) {
			check_entity(&v[i], b, "read_rect of B");
		}
		r->b_whole++;
	}
	rc = cairn_read_hunt(r->c, b, &hi);
	if (rc == 0) {
		ASSERT_UEQ(hi.id, b);
		ASSERT_EQ(hi.width, W);
		ASSERT_EQ(hi.height, H);
		ASSERT_LE(hi.players, B_PLAYERS);
	} else if (rc != -CAIRN_E_UNKNOWN_HUNT && !gave_up(r, rc)) {
		ASSERT_OK(rc);
	}
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		read_a(r);
		read_b(r);
	}
	return NULL;
}

/* An open map of W x H cells, through the product's parser. */
static struct cairn__map *open_map(void)
{
	static char text[64 + H * (W + 1)];
	int n = snprintf(text, sizeof(text), "type octile\nheight %d\nwidth %d\nmap\n", H, W);
	for (int y = 0; y < H; y++) {
		memset(text + n, '.', W);
		n += W;
		text[n++] = '\n';
	}
	struct cairn__map *m;
	struct cairn__map_error err;
	if (cairn__map_parse(text, (size_t)n, "open", &m, &err) < 0) {
		T_FAILF("the open map: %s", err.message);
	}
	return m;
}

int main(int argc, char **argv)
{
	uint64_t moves = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct cairn__map *map = open_map();
	const struct cairn__map *maps[1] = {map};
	struct cairn__engine_config cfg;
	cairn__engine_config_default(&cfg);
	cfg.max_hunts = 8;
	cfg.max_entities = 1024;
	cfg.shards_per_hunt = 4;
	cfg.event_capacity = 1024;
	cfg.maps = maps;
	cfg.n_maps = 1;

	/*
	 * The state segment as the daemon lays it out, as far as the grid reads look: a
	 * header naming the grid region, then the region, which the engine fills.
	 */
	size_t grid_size = cairn__engine_grid_size(&cfg);
	uint8_t *state = mmap(NULL, STATE_HEADER + grid_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_TRUE(state != MAP_FAILED);
	struct cairn_state_header *sh = (struct cairn_state_header *)state;
	sh->grid_offset = STATE_HEADER;
	sh->grid_size = grid_size;
	ASSERT_OK(cairn__engine_new(&cfg, state + STATE_HEADER, NULL, NULL, &engine));

	struct eng_rng rng;
	eng_rng_seed(&rng, 42);
	hunt_a = create_hunt();
	for (int i = 0; i < PLAYERS; i++) {
		players_a[i] = join(hunt_a, (int32_t)eng_below(&rng, W * CELL));
	}

	/* A client of the readers' own, attached to nothing but the segment. */
	struct cairn__lane *lane = calloc(1, sizeof(*lane));
	ASSERT_TRUE(lane != NULL);
	lane->state = state;
	lane->state_size = STATE_HEADER + grid_size;
	cairn__grid_attach(lane);
	ASSERT_OK(lane->grid.err);
	cairn_client *c = aligned_alloc(64, sizeof(*c));
	ASSERT_TRUE(c != NULL);
	memset(c, 0, sizeof(*c));
	c->lane = lane;

	struct reader readers[READERS];
	memset(readers, 0, sizeof(readers));
	for (int i = 0; i < READERS; i++) {
		readers[i].c = c;
		eng_rng_seed(&readers[i].rng, 1000 + (uint64_t)i);
		ASSERT_EQ(pthread_create(&readers[i].tid, NULL, reader_main, &readers[i]), 0);
	}

	uint64_t t0 = cairn__now_ns(), b_made = 0;
	for (uint64_t i = 0; i < moves; i++) {
		if (i % RECREATE == 0) {
			struct cairn_msg out;
			uint32_t b = atomic_load_explicit(&hunt_b, memory_order_relaxed);
			if (b) {
				apply(eng_hunt_destroy(b), &out);
			}
			b = create_hunt();
			/* Relaxed: the id is a number to try; the grid reads do the rest. */
			atomic_store_explicit(&hunt_b, b, memory_order_relaxed);
			for (int k = 0; k < B_PLAYERS; k++) {
				join(b, (int32_t)eng_below(&rng, W * CELL));
			}
			b_made++;
		}
		struct cairn_msg out;
		int32_t x = (int32_t)eng_below(&rng, W * CELL);
		apply(eng_move(hunt_a, players_a[eng_below(&rng, PLAYERS)], x, y_of(x)), &out);
	}
	atomic_store(&stop, true);
	uint64_t entities = 0, rects = 0, b_whole = 0, b_gone = 0, given_up = 0;
	for (int i = 0; i < READERS; i++) {
		ASSERT_EQ(pthread_join(readers[i].tid, NULL), 0);
		entities += readers[i].entities;
		rects += readers[i].rects;
		b_whole += readers[i].b_whole;
		b_gone += readers[i].b_gone;
		given_up += readers[i].gave_up;
	}
	uint64_t retries = cairn__grid_retries(c);
	printf("ok: %llu moves of %d players, hunt B created %llu times, in %.2f s; %d readers: "
	       "%llu entities and %llu whole-map reads of A whole, B whole %llu times and gone "
	       "%llu; %llu retries, %llu reads gave up (EAGAIN)\n",
	       (unsigned long long)moves, PLAYERS, (unsigned long long)b_made,
	       (double)(cairn__now_ns() - t0) / 1e9, READERS, (unsigned long long)entities,
	       (unsigned long long)rects, (unsigned long long)b_whole, (unsigned long long)b_gone,
	       (unsigned long long)retries, (unsigned long long)given_up);
	ASSERT_GT(entities, 0);
	ASSERT_GT(rects, 0);
	if (retries == 0) {
		T_SKIP_BECAUSE("no read was ever retried: the readers never raced the writer, so "
			       "nothing was tested");
	}

	free(c);
	free(lane);
	cairn__engine_free(engine);
	munmap(state, STATE_HEADER + grid_size);
	cairn__map_free(map);
	return T_PASS;
}
