/*
 * The simulation's insides, shared by sim.c (the walk and the batch loop), setup.c
 * (hunts, players and clues before the run) and probe.c (the sentries that time round
 * trips). demo.h has the interface the rest of the demo sees.
 */
#ifndef CAIRN_TOOLS_DEMO_SIM_H
#define CAIRN_TOOLS_DEMO_SIM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "demo.h"

#define BATCH           64            /* commands per cairn_submit_batch */
#define MAX_IN_FLIGHT   (8 * BATCH)   /* pushed and not yet answered, on the sim lane */
#define RING_CAPACITY   1024          /* of both rings of the sim lane: above MAX_IN_FLIGHT */
#define RES_BATCH       256           /* results taken per cairn_poll_batch */
#define SAFETY          0.8           /* the share of speed * elapsed a step may use */
#define MIN_STEP_MM     4             /* shorter steps wait for more time to pass */
#define RETARGET_NS     2000000000ull /* ask for the nearest clues about this often */
#define QUERY_K         4             /* clues asked for per NEAREST_CLUES */
#define MAX_SENTRIES    8             /* players moved with cairn_call, to time round trips */
#define PROBE_EVERY_NS  1000000ull    /* one round-trip sample per millisecond */
#define CALL_TIMEOUT_NS 2000000000ll  /* a single call that takes longer is given up */
#define SETUP_WAIT_NS   5000000000ll  /* setup waits this long for any result */
#define DRAIN_NS        2000000000ull /* at the end, wait this long for results in flight */
#define CHECK_EVERY_NS  100000000ull  /* how often the simulation asks whether the daemon lives */
#define DETOUR_STEPS    8             /* random steps after a refused move */
#define MAX_CLUE_VALUE  100
#define NO_CELL         UINT32_MAX

/*
 * What a request id says a result is for: kind in bits 32..35, index in the low 32 bits,
 * and a sequence number above them that makes every id unique on the connection (cairnd
 * answers a request id it has already seen from this client with the earlier result:
 * its exactly-once table). Bit 63 stays clear: libcairn keeps it for cairn_call.
 */
enum kind {
	RQ_SETUP = 1, /* index: position in the setup exchange */
	RQ_MOVE,      /* index: player */
	RQ_QUERY,     /* index: player */
	RQ_PLACE,     /* index: clue slot */
	RQ_REMOVE,    /* index: clue slot */
};

static inline uint64_t rid(enum kind k, uint32_t index)
{
	/* Threads of one host share the sequence: relaxed, only uniqueness matters. */
	static uint64_t seq;
	uint64_t n = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED) & ((UINT64_C(1) << 27) - 1);
	return n << 36 | (uint64_t)k << 32 | index;
}

static inline uint32_t rid_kind(uint64_t id)
{
	return (uint32_t)(id >> 32) & 0xf;
}

enum slot_state {
	SLOT_EMPTY,   /* no clue, and none coming (placing failed) */
	SLOT_PLACING, /* CLUE_PLACE in flight: the field is ready, the id is not */
	SLOT_LIVE,    /* on the map, unclaimed as far as the host knows */
};

struct clue_slot {
	uint32_t id; /* the daemon's id while live, else 0 */
	int32_t x, y;
	int64_t value;
	enum slot_state state;
	uint16_t *field; /* distance to this clue from every cell */
};

struct player {
	uint32_t id;
	uint32_t hunt;      /* index in world.hunt_ids */
	int32_t x, y;       /* the last position the daemon accepted */
	int32_t to_x, to_y; /* the move in flight */
	uint64_t t_ack;     /* host clock just after the last accepted move's result came */
	uint64_t retarget_at;
	int32_t target;     /* clue slot within the hunt, -1 for none */
	uint32_t target_id; /* that slot's id when chosen: a new clue there is another clue */
	uint8_t busy;       /* a command in flight */
	uint8_t dead;       /* the daemon no longer knows it: left alone */
	uint8_t sentry;     /* moved by the probe thread: the simulation leaves it be */
	uint8_t detour;     /* random steps left */
	uint8_t detour_dir;
};

/*
 * A player that paces up and down a row of its own cell, moved one cairn_call at a
 * time by the probe thread, which owns this struct once it runs. No clue is ever placed
 * in a sentry's cell, so its moves never claim: the probe shares no game state with the
 * simulation.
 */
struct sentry {
	uint32_t hunt_id, player_id;
	int32_t x, y;   /* the last position the daemon accepted */
	int32_t x0, x1; /* the ends of its walk */
	int dir;        /* +1 towards x1, -1 towards x0 */
	uint64_t t_ack;
	bool dead;
};

struct rng {
	uint64_t s;
};

struct sim {
	struct demo_config cfg;
	struct demo_world world;
	struct demo_stats *stats;
	cairn_client *conn;  /* batches, from the simulation thread */
	cairn_client *probe; /* single calls, from the probe thread */
	struct cairn__map *map;
	struct field_work work;
	struct rng rng;
	uint32_t cell_mm;

	uint32_t *passable; /* indices of the open cells */
	size_t npassable;

	struct player *players; /* hunts * players per hunt, hunt by hunt */
	size_t nplayers;
	struct clue_slot *slots; /* hunts * clues, hunt by hunt */
	size_t nslots;
	struct sentry *sentries;
	unsigned nsentries;
	uint32_t *sentry_cell; /* per hunt: the cell its sentry paces, or NO_CELL */

	uint8_t *blob; /* the sim lane's arena: one query answer per player */
	size_t blob_size;

	/* Clue commands waiting for room in a batch. */
	struct cairn_msg *outq;
	size_t outq_head, outq_n, outq_cap;

	size_t cursor;      /* the next player the batch builder looks at */
	unsigned in_flight; /* on the sim lane */

	atomic_bool stop;
	atomic_bool finished;
	/* The first fatal error of each thread, read once both have been joined. */
	int code;
	char msg[256];
	int probe_code;
	char probe_msg[256];
};

uint64_t rng_next(struct rng *r);
void rng_seed(struct rng *r, uint64_t seed);
/* In [0, n), n > 0, with a bias too small to matter for a game. */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Records the simulation thread's first fatal error and asks both threads to stop. */
void sim_fail(struct sim *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Adds to a statistic. Relaxed: read whole and on its own by the view. */
static inline void count(atomic_uint_fast64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline void note_error(struct demo_stats *st, int code)
{
	atomic_store_explicit(&st->last_error, code, memory_order_relaxed);
}

static inline uint32_t cell_of(const struct sim *s, int32_t mm)
{
	return (uint32_t)mm / s->cell_mm;
}

static inline struct clue_slot *hunt_slots(struct sim *s, uint32_t hunt)
{
	return &s->slots[(size_t)hunt * s->cfg.clues];
}

/* Puts (*x, *y) at a random point of a random open cell; returns the cell's index. */
uint32_t random_spot(struct sim *s, int32_t *x, int32_t *y);

/* A MOVE command. */

/*
 * Readies slot j of a hunt for a new clue at a random spot (not in the hunt's sentry
 * cell), computes its field, and queues its CLUE_PLACE. Returns 0 or -ENOMEM.
 */
int place_clue(struct sim *s, uint32_t hunt, uint32_t j);

/* Handles the answer to the CLUE_PLACE of slot index (hunt * clues + j). */
void on_placed(struct sim *s, uint32_t index, const struct cairn_msg *res);

#endif
