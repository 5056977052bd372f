/*
 * isolation: what a client that scribbles over its own lane can do to the others:
 * nothing (DESIGN.md, decisions 2 and 3). hostile_lane shows that the daemon survives
 * such a client and keeps serving; this shows that nobody else can tell it is there.
 *
 *  (a) blob references at and past the edge of the arena, for every command that takes
 *      one (ECHO_BLOB, NEAREST_CLUES, PLAYERS_NEAR, LEADERBOARD, NEXT_MOVE, DISTANCE,
 *      PATH, PATH_TO_CLUE), offsets that wrap around 2^32 included, first from a table
 *      and then at random near the edges: past the edge -> BLOB_RANGE and nothing
 *      written; inside it -> an answer written only into the window the command gave,
 *      and an echo holding only bytes of this lane's own arena.
 *      The lanes attached just before and just after this one (the daemon maps lanes
 *      one after another, so theirs are as a rule the mappings next to its own) stay
 *      unchanged byte for byte throughout;
 *  (b) a victim plays a scripted game twice: alone (the control run), and beside a
 *      hostile client that scribbles over its ring headers, its arena and its slots,
 *      sends blob references past its arena into the victim's hunt, fills its whole
 *      lane with noise and reattaches every time it is dropped. The victim's results
 *      are the same in both runs, byte for byte; each daemon's log holds the victim's
 *      commands and nothing else, the same in both runs; and those commands, replayed
 *      alone into a fresh engine, give the state hash each daemon reported, and the
 *      control run's hash when given the control run's ingress stamps.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/engine.h"
#include "harness.h"
#include "map/map.h"
#include "wal/wal.h"

#define SEC (1000 * 1000 * 1000ll)
#define T   (5 * SEC)

#define ARENA  4096u /* of the raw lanes: one page, so that lanes sit close together */
#define HOME_X 1500  /* a passable spot of the embedded map */
#define HOME_Y 1500
#define NEAR_X 2500 /* the next cell east, passable too */

static struct h_rng rng;

/* ---- commands with a blob reference ---- */

static struct cairn_msg command(uint16_t type, uint8_t length, const void *payload, size_t size)
{
	struct cairn_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.length = length;
	memcpy(m.payload, payload, size);
	return m;
}

#define CMD(T, q) command(CAIRN_MSG_##T, CAIRN_MSG_##T##_LEN_MIN, &(q), sizeof(q))

enum kind { ECHO_IN, ECHO_OUT, NEAREST, NEAR, BOARD, NEXT_IN, NEXT_OUT, DIST_OUT, PATH, TO_CLUE };
#define NKINDS 10

static const char *const kind_name[NKINDS] = {
	"ECHO_BLOB (in)", "ECHO_BLOB (out)", "NEAREST_CLUES",  "PLAYERS_NEAR", "LEADERBOARD",
	"NEXT_MOVE (in)", "NEXT_MOVE (out)", "DISTANCE (out)", "PATH",         "PATH_TO_CLUE",
};

/* What the commands point at: a hunt with one player at HOME and one clue beside it. */
struct target {
	uint32_t hunt, player, clue;
};

/*
 * A command of kind k whose reference into the arena is (off, len); the other one, if
 * it has two, is a small region at the front that is always valid. *win_off, *win_len
 * get the only bytes an answer may write.
 */
static struct cairn_msg blob_command(enum kind k, const struct target *t, uint32_t off,
				     uint32_t len, uint32_t *win_off, uint32_t *win_len)
{
	*win_off = off;
	*win_len = len;
	switch (k) {
	case ECHO_IN: {
		struct cairn_echo_blob q = {
			.in_offset = off, .in_length = len, .out_capacity = len};
		*win_off = 0;
		return CMD(ECHO_BLOB, q);
	}
	case ECHO_OUT: {
		struct cairn_echo_blob q = {
			.in_length = len < 64 ? len : 64, .out_offset = off, .out_capacity = len};
		return CMD(ECHO_BLOB, q);
	}
	case NEAREST: {
		struct cairn_nearest_clues q = {.hunt_id = t->hunt,
						.x = HOME_X,
						.y = HOME_Y,
						.k = 1,
						.out_offset = off,
						.out_capacity = len,
						.include_claimed = 1};
		return CMD(NEAREST_CLUES, q);
	}
	case NEAR: {
		struct cairn_players_near q = {.hunt_id = t->hunt,
					       .x = HOME_X,
					       .y = HOME_Y,
					       .radius_mm = 5000,
					       .max = 1,
					       .out_offset = off,
					       .out_capacity = len};
		return CMD(PLAYERS_NEAR, q);
	}
	case BOARD: {
		struct cairn_leaderboard q = {
			.hunt_id = t->hunt, .k = 1, .out_offset = off, .out_capacity = len};
		return CMD(LEADERBOARD, q);
	}
	case NEXT_IN: {
		/* One pair at off (len is ignored: a pair is 16 bytes), answers at the front. */
		struct cairn_path_batch q = {.hunt_id = t->hunt,
					     .count = 1,
					     .in_offset = off,
					     .out_offset = 0,
					     .out_capacity = sizeof(struct cairn_next_move_item),
					     .method = CAIRN_METHOD_JPS};
		*win_off = 0;
		*win_len = sizeof(struct cairn_next_move_item);
		return CMD(NEXT_MOVE, q);
	}
	case NEXT_OUT:
	case DIST_OUT: {
		struct cairn_path_batch q = {.hunt_id = t->hunt,
					     .count = 1,
					     .in_offset = 0,
					     .out_offset = off,
					     .out_capacity = len,
					     .method = CAIRN_METHOD_JPS};
		return k == NEXT_OUT ? CMD(NEXT_MOVE, q) : CMD(DISTANCE, q);
	}
	case PATH: {
		struct cairn_path q = {.hunt_id = t->hunt,
				       .from_x = HOME_X,
				       .from_y = HOME_Y,
				       .to_x = NEAR_X,
				       .to_y = HOME_Y,
				       .out_offset = off,
				       .out_capacity = len,
				       .method = CAIRN_METHOD_JPS};
		return CMD(PATH, q);
	}
	case TO_CLUE: {
		struct cairn_path_to_clue q = {.hunt_id = t->hunt,
					       .player_id = t->player,
					       .clue_id = t->clue,
					       .out_offset = off,
					       .out_capacity = len,
					       .method = CAIRN_METHOD_JPS};
		return CMD(PATH_TO_CLUE, q);
	}
	}
	T_FAILF("kind %d", (int)k);
}

/* The pair the batch commands read from the front of the arena (and NEXT_IN at off). */
static void put_pair(uint8_t *blob, uint32_t off)
{
	struct cairn_path_pair p = {HOME_X, HOME_Y, NEAR_X, HOME_Y};
	memcpy(blob + off, &p, sizeof(p));
}

/* ---- (a) the edges of the arena ---- */

/* A lane's bytes, less its two ring headers, which hold the doorbells the daemon sleeps on. */
static void lane_copy(const struct h_raw *r, uint8_t *out)
{
	memcpy(out, r->lane, (size_t)r->lane_size);
	size_t ch = (size_t)((uint8_t *)r->cmd_hdr - (uint8_t *)r->lane);
	size_t rh = (size_t)((uint8_t *)r->res_hdr - (uint8_t *)r->lane);
	memset(out + ch, 0, sizeof(*r->cmd_hdr));
	memset(out + rh, 0, sizeof(*r->res_hdr));
}

static void expect_lane_unchanged(const struct h_raw *r, const uint8_t *before, const char *who)
{
	uint8_t *now = malloc((size_t)r->lane_size);
	ASSERT_TRUE(now != NULL);
	lane_copy(r, now);
	for (uint64_t i = 0; i < r->lane_size; i++) {
		if (now[i] != before[i]) {
			T_FAILF("%s's lane changed at byte %llu (of %llu): 0x%02x, was 0x%02x", who,
				(unsigned long long)i, (unsigned long long)r->lane_size, now[i],
				before[i]);
		}
	}
	free(now);
}

struct tally {
	unsigned answered, range, other;
};

/*
 * Sends one command with a blob reference through the hostile lane h. Its arena is noise
 * (with the pairs the batch commands read) before; afterwards nothing outside the
 * command's window may differ, and nothing at all when it was refused. want is the code
 * expected (0: an answer), or -1 for any.
 */
static void one(struct h_raw *h, enum kind k, const struct target *t, uint32_t off, uint32_t len,
		int want, struct tally *tl)
{
	static uint8_t before[ARENA];
	uint32_t wo, wl;
	struct cairn_msg m = blob_command(k, t, off, len, &wo, &wl), res;
	h_rng_fill(&rng, h->blob, ARENA);
	put_pair(h->blob, 0);
	if (k == NEXT_IN && off <= ARENA - sizeof(struct cairn_path_pair)) {
		put_pair(h->blob, off);
	}
	memcpy(before, h->blob, ARENA);
	m.hdr.request_id = h->cmd_pos + 1;
	ASSERT_TRUE(h_raw_push(h, &m));
	if (!h_raw_pop(h, &res, 5000)) {
		T_FAILF("%s at %u+%u: no answer in 5 s", kind_name[k], off, len);
	}
	ASSERT_UEQ(res.hdr.request_id, m.hdr.request_id);
	int code = res.hdr.type == CAIRN_MSG_ERROR ? res.hdr.status : 0;
	if (want >= 0 && code != want) {
		T_FAILF("%s at %u+%u (arena %u): %s, expected %s", kind_name[k], off, len, ARENA,
			code ? cairn_error_name(code) : "an answer",
			want ? cairn_error_name(want) : "an answer");
	}
	for (uint32_t i = 0; i < ARENA; i++) {
		bool inside = code == 0 && i >= wo && (uint64_t)i < (uint64_t)wo + wl;
		if (!inside && h->blob[i] != before[i]) {
			T_FAILF("%s at %u+%u (%s): byte %u of the arena written, outside [%u, "
				"%llu)",
				kind_name[k], off, len, code ? cairn_error_name(code) : "answered",
				i, code ? 0 : wo, code ? 0ull : (unsigned long long)wo + wl);
		}
	}
	/* What an echo wrote is what it was given to read in this arena, and nothing else. */
	if (code == 0 && (k == ECHO_IN || k == ECHO_OUT)) {
		uint32_t from = k == ECHO_IN ? off : 0,
			 n = k == ECHO_IN ? len : (len < 64 ? len : 64);
		if (memcmp(h->blob + wo, before + from, n) != 0) {
			T_FAILF("%s at %u+%u: the copy is not the bytes at %u of its own arena",
				kind_name[k], off, len, from);
		}
	}
	tl->answered += code == 0;
	tl->range += code == CAIRN_E_BLOB_RANGE;
	tl->other += code != 0 && code != CAIRN_E_BLOB_RANGE;
}

/* The size of one answer of kind k (a hit, an item, the 2-point path to NEAR_X). */
static uint32_t item_of(enum kind k)
{
	switch (k) {
	case NEAREST:
	case NEAR:
	case BOARD:
	case DIST_OUT:
		return 24;
	case NEXT_OUT:
		return 16;
	case PATH:
	case TO_CLUE:
		return 2 * sizeof(struct cairn_path_point);
	default:
		return 8;
	}
}

static void check_edges(const char *sock)
{
	enum { RANDOM = 300 };
	cairn_client *setup;
	struct target t;
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_open(sock, NULL, &setup));
	ASSERT_OK(cairn_hunt_create(setup, NULL, &hc, T));
	t.hunt = hc.hunt_id;
	ASSERT_OK(cairn_join(setup, t.hunt, HOME_X, HOME_Y, &t.player, T));
	ASSERT_OK(cairn_clue_place(setup, t.hunt, NEAR_X, HOME_Y, 1, &t.clue, T));

	struct h_raw before_lane, hostile, after_lane;
	struct cairn_hello hello;
	h_hello_default(&hello, "neighbour-1");
	hello.cmd_capacity = hello.res_capacity = 64;
	hello.blob_size = ARENA;
	ASSERT_EQ(h_raw_attach(sock, &hello, &before_lane), 0);
	h_hello_default(&hello, "hostile");
	hello.cmd_capacity = hello.res_capacity = 64;
	hello.blob_size = ARENA;
	ASSERT_EQ(h_raw_attach(sock, &hello, &hostile), 0);
	h_hello_default(&hello, "neighbour-2");
	hello.cmd_capacity = hello.res_capacity = 64;
	hello.blob_size = ARENA;
	ASSERT_EQ(h_raw_attach(sock, &hello, &after_lane), 0);
	ASSERT_UEQ(hostile.blob_size, ARENA);
	/* The neighbours' arenas hold noise of their own, which must survive. */
	h_rng_fill(&rng, before_lane.blob, ARENA);
	h_rng_fill(&rng, after_lane.blob, ARENA);
	uint8_t *snap1 = malloc((size_t)before_lane.lane_size);
	uint8_t *snap2 = malloc((size_t)after_lane.lane_size);
	ASSERT_TRUE(snap1 && snap2);
	lane_copy(&before_lane, snap1);
	lane_copy(&after_lane, snap2);

	struct tally tl = {0};
	const uint32_t A = ARENA, WRAP = 0xFFFFFFF8u;
	for (unsigned k = 0; k < NKINDS; k++) {
		uint32_t item = item_of((enum kind)k);
		if (k == NEXT_IN) {
			/* A pair is 16 bytes: the last one fits at A - 16, not at A - 8. */
			one(&hostile, k, &t, A - 16, 0, 0, &tl);
			one(&hostile, k, &t, A - 8, 0, CAIRN_E_BLOB_RANGE, &tl);
			one(&hostile, k, &t, A, 0, CAIRN_E_BLOB_RANGE, &tl);
			one(&hostile, k, &t, A + 4096, 0, CAIRN_E_BLOB_RANGE, &tl);
			one(&hostile, k, &t, WRAP, 0, CAIRN_E_BLOB_RANGE, &tl);
			continue;
		}
		one(&hostile, k, &t, A - item, item, 0, &tl); /* the very end */
		one(&hostile, k, &t, A - item + 8, item, CAIRN_E_BLOB_RANGE, &tl); /* 8 over */
		one(&hostile, k, &t, A, item, CAIRN_E_BLOB_RANGE, &tl);            /* just past */
		one(&hostile, k, &t, A + 4096, item, CAIRN_E_BLOB_RANGE, &tl);     /* next page */
		one(&hostile, k, &t, WRAP, 64, CAIRN_E_BLOB_RANGE, &tl);           /* wraps to 56 */
		one(&hostile, k, &t, 0, 0xFFFFFFF0u, CAIRN_E_BLOB_RANGE, &tl); /* all of memory */
		one(&hostile, k, &t, A - 64, 0xFFFFFF00u, CAIRN_E_BLOB_RANGE, &tl); /* sum wraps */
	}
	expect_lane_unchanged(&before_lane, snap1, "the lane attached before");
	expect_lane_unchanged(&after_lane, snap2, "the lane attached after");
	h_ok("(a) every command with a blob reference, at the arena's last bytes: answered, "
	     "written only there; 8 bytes over, just past, a page past, wrapping around 2^32: "
	     "BLOB_RANGE, nothing written (%u answered, %u BLOB_RANGE); both neighbouring "
	     "lanes unchanged",
	     tl.answered, tl.range);

	/* At random near the edges and near 2^32, with no expectation but the windows. */
	struct tally rt = {0};
	for (unsigned i = 0; i < RANDOM * NKINDS; i++) {
		enum kind k = (enum kind)(i % NKINDS);
		uint32_t off, len;
		switch (h_rng_below(&rng, 3)) {
		case 0:
			off = A - 128 + (uint32_t)h_rng_below(&rng, 256);
			break;
		case 1:
			off = (uint32_t)(0x100000000ull - 256 + h_rng_below(&rng, 256));
			break;
		default:
			off = (uint32_t)h_rng_below(&rng, A);
			break;
		}
		len = h_rng_below(&rng, 4) ? (uint32_t)h_rng_below(&rng, 256)
					   : (uint32_t)h_rng_next(&rng);
		one(&hostile, k, &t, off, len, -1, &rt);
	}
	expect_lane_unchanged(&before_lane, snap1, "the lane attached before");
	expect_lane_unchanged(&after_lane, snap2, "the lane attached after");
	h_ok("(a) %d random references near the arena's end and near 2^32: %u answered, each "
	     "writing only its window, %u BLOB_RANGE, %u other refusals, nothing written by "
	     "them; both neighbouring lanes unchanged",
	     RANDOM * NKINDS, rt.answered, rt.range, rt.other);

	/* All three lanes still work. */
	struct h_raw *lanes[3] = {&before_lane, &hostile, &after_lane};
	for (unsigned i = 0; i < 3; i++) {
		struct cairn_msg m = h_ping_msg(1000 + i), res;
		m.hdr.request_id = 1000 + i;
		ASSERT_TRUE(h_raw_push(lanes[i], &m));
		ASSERT_TRUE(h_raw_pop(lanes[i], &res, 5000));
		ASSERT_EQ(res.hdr.type, CAIRN_MSG_PONG);
		h_raw_close(lanes[i]);
	}
	free(snap1);
	free(snap2);
	ASSERT_OK(cairn_hunt_destroy(setup, t.hunt, T));
	cairn_close(setup);
}

/* ---- (b) a victim and a control run ---- */

/* What the victim saw: each call's return code and answer, appended. */
struct seen {
	uint8_t *buf;
	size_t len, cap;
	unsigned calls;
};

static void note(struct seen *s, int rc, const void *answer, size_t size)
{
	if (s->len + sizeof(rc) + size > s->cap) {
		s->cap = (s->cap + sizeof(rc) + size) * 2;
		s->buf = realloc(s->buf, s->cap);
		ASSERT_TRUE(s->buf != NULL);
	}
	memcpy(s->buf + s->len, &rc, sizeof(rc));
	s->len += sizeof(rc);
	if (rc == 0 && size) {
		memcpy(s->buf + s->len, answer, size);
		s->len += size;
	}
	s->calls++;
}

struct hostile {
	const char *sock;
	uint32_t hunt; /* the victim's */
	pthread_t thread;
	int stop;          /* atomic */
	uint64_t attaches; /* read after the join */
	uint64_t commands;
};

/* Pushes m through r and takes its answer, if the lane still works; false when it does not. */
static bool hostile_call(struct h_raw *r, struct cairn_msg *m, struct cairn_msg *res)
{
	m->hdr.request_id = r->cmd_pos + 1;
	if (!h_raw_push(r, m)) {
		return false;
	}
	return h_raw_pop(r, res, 2000) && res->hdr.request_id == m->hdr.request_id;
}

/*
 * Scribbles until told to stop, never sending a command that could change the game:
 * its rings' headers, blob references past its arena into the victim's hunt, noise in
 * its arena, then (every other time) bogus sequence numbers or noise over the whole
 * lane, which get it dropped; then it attaches again.
 */
static void *hostile_main(void *arg)
{
	struct hostile *x = arg;
	struct h_rng hr;
	h_rng_seed(&hr, h_seed ^ 0x5ca1ab1e);
	struct target t = {.hunt = x->hunt};
	while (!__atomic_load_n(&x->stop, __ATOMIC_RELAXED)) {
		struct h_raw r;
		struct cairn_hello hello;
		h_hello_default(&hello, "hostile");
		hello.cmd_capacity = hello.res_capacity = 64;
		hello.blob_size = ARENA;
		int st = h_raw_attach(x->sock, &hello, &r);
		if (st != 0) {
			T_FAILF("hostile: attach refused (%d)", st);
		}
		x->attaches++;
		for (unsigned round = 0; round < 20; round++) {
			struct cairn_msg m, res;
			h_rng_fill(&hr, r.cmd_hdr, sizeof(*r.cmd_hdr));
			h_rng_fill(&hr, r.res_hdr, sizeof(*r.res_hdr));
			h_rng_fill(&hr, r.blob, (size_t)r.blob_size);
			uint32_t wo, wl;
			enum kind k = (enum kind)h_rng_below(&hr, NKINDS);
			uint32_t off = h_rng_below(&hr, 2)
					       ? ARENA + (uint32_t)h_rng_below(&hr, 1 << 20)
					       : 0xFFFFFF00u;
			m = blob_command(k, &t, off, 256, &wo, &wl);
			if (!hostile_call(&r, &m, &res)) {
				break;
			}
			x->commands++;
			if (res.hdr.type != CAIRN_MSG_ERROR) {
				T_FAILF("hostile: %s at %u answered, not refused", kind_name[k],
					off);
			}
			m = h_ping_msg(round);
			if (!hostile_call(&r, &m, &res)) {
				break;
			}
			x->commands++;
		}
		if (x->attaches % 2) {
			struct cairn_slot *s = &r.cmd_slots[r.cmd_pos & (r.cmd_cap - 1)];
			__atomic_store_n(&s->seq, r.cmd_pos + 7, __ATOMIC_RELEASE);
			h_raw_ring(&r);
		} else {
			struct h_raw ringer = {.cmd_hdr = r.cmd_hdr};
			for (unsigned k = 0; k < 5; k++) {
				h_rng_fill(&hr, r.lane, (size_t)r.lane_size);
				h_raw_ring(&ringer);
				h_sleep_us(200);
			}
		}
		/* Dropped, as a rule; either way it goes and comes back. */
		h_wait_eof(r.sock, 200);
		h_raw_close(&r);
	}
	return NULL;
}

/* A position on the embedded map (blocked or not: the answer is what counts). */
static void spot(struct h_rng *g, int32_t *x, int32_t *y)
{
	*x = (int32_t)h_rng_below(g, 128000);
	*y = (int32_t)h_rng_below(g, 96000);
}

/*
 * The victim's game, the same in every run (seeded by seed): two hunts, players and
 * clues at random spots (some blocked), moves near where each player stands, queries,
 * leaves and removals. Every result, success or error, is noted in *s. The hunts have
 * no speed limit, so that no result depends on the time between commands. start is
 * called once the first hunt exists (with its id), before anything else.
 */
static uint64_t victim(cairn_client *c, uint64_t seed, struct seen *s,
		       void (*start)(void *, uint32_t), void *arg)
{
	enum { HUNTS = 2, PLAYERS = 24, CLUES = 12, MOVES = 600 };
	struct h_rng g;
	h_rng_seed(&g, seed);
	uint32_t hunt[HUNTS], player[HUNTS][PLAYERS], clue[HUNTS][CLUES];
	memset(player, 0, sizeof(player));
	memset(clue, 0, sizeof(clue));
	for (unsigned h = 0; h < HUNTS; h++) {
		struct cairn_hunt_created hc;
		int rc = cairn_hunt_create(c, NULL, &hc, T);
		ASSERT_OK(rc);
		note(s, rc, &hc, sizeof(hc));
		hunt[h] = hc.hunt_id;
		if (h == 0 && start) {
			start(arg, hunt[0]);
		}
	}
	for (unsigned h = 0; h < HUNTS; h++) {
		for (unsigned i = 0; i < PLAYERS; i++) {
			int32_t x, y;
			spot(&g, &x, &y);
			/* Some of them start at HOME, a spot known to be passable. */
			if (i % 3 == 0) {
				x = HOME_X + (int32_t)i * 10;
				y = HOME_Y;
			}
			int rc = cairn_join(c, hunt[h], x, y, &player[h][i], T);
			note(s, rc, &player[h][i], sizeof(player[h][i]));
		}
		for (unsigned i = 0; i < CLUES; i++) {
			int32_t x, y;
			spot(&g, &x, &y);
			if (i % 3 == 0) {
				x = NEAR_X + (int32_t)i * 15;
				y = HOME_Y;
			}
			int rc = cairn_clue_place(c, hunt[h], x, y, 1 + (int64_t)i, &clue[h][i], T);
			note(s, rc, &clue[h][i], sizeof(clue[h][i]));
		}
	}
	for (unsigned n = 0; n < MOVES; n++) {
		unsigned h = n % HUNTS, i = (unsigned)h_rng_below(&g, PLAYERS);
		struct cairn_player_info pi;
		int rc = cairn_player_state(c, hunt[h], player[h][i], &pi, T);
		if (rc == 0) {
			/* The stamp of its last move is the daemon's clock: not compared. */
			pi.stamp_ns = 0;
		}
		note(s, rc, &pi, sizeof(pi));
		int32_t x = rc == 0 ? pi.x : HOME_X, y = rc == 0 ? pi.y : HOME_Y;
		x += (int32_t)h_rng_below(&g, 3001) - 1500;
		y += (int32_t)h_rng_below(&g, 3001) - 1500;
		struct cairn_moved mv;
		rc = cairn_move(c, hunt[h], player[h][i], x, y, &mv, T);
		note(s, rc, &mv, sizeof(mv));
		if (n % 25 == 0) {
			struct cairn_hit hits[16];
			uint32_t count = 0, total = 0;
			rc = cairn_nearest_clues(c, hunt[h], x < 0 ? 0 : x % 128000,
						 y < 0 ? 0 : y % 96000, 16, 1, hits, &count, T);
			note(s, rc, hits, rc == 0 ? count * sizeof(hits[0]) : 0);
			rc = cairn_players_near(c, hunt[h], HOME_X, HOME_Y, 20000, 16, hits, &count,
						&total, T);
			note(s, rc, hits, rc == 0 ? count * sizeof(hits[0]) : 0);
			note(s, rc, &total, sizeof(total));
			rc = cairn_leaderboard(c, hunt[h], 16, hits, &count, T);
			note(s, rc, hits, rc == 0 ? count * sizeof(hits[0]) : 0);
		}
		if (n % 60 == 59) {
			struct cairn_left left;
			rc = cairn_leave(c, hunt[h], player[h][i], &left, T);
			note(s, rc, &left, sizeof(left));
			rc = cairn_join(c, hunt[h], HOME_X, HOME_Y, &player[h][i], T);
			note(s, rc, &player[h][i], sizeof(player[h][i]));
			unsigned j = (unsigned)h_rng_below(&g, CLUES);
			struct cairn_clue_removed cr;
			rc = cairn_clue_remove(c, hunt[h], clue[h][j], &cr, T);
			note(s, rc, &cr, sizeof(cr));
			rc = cairn_clue_place(c, hunt[h], NEAR_X, HOME_Y, 7, &clue[h][j], T);
			note(s, rc, &clue[h][j], sizeof(clue[h][j]));
		}
	}
	struct cairn_state_hash_reply sh;
	ASSERT_OK(cairn_state_hash(c, &sh, T));
	/* The hash covers the ingress stamps, which differ between runs: compared apart. */
	uint64_t hash = sh.hash;
	sh.hash = 0;
	note(s, 0, &sh, sizeof(sh));
	return hash;
}

/* One logged command: the message and its ingress stamp. */
struct logged {
	struct cairn_msg msg;
	uint64_t stamp;
};

/* Reads every record of a stopped daemon's log; returns how many (at most max). */
static unsigned read_log(const struct h_daemon *d, struct logged *out, unsigned max)
{
	char dir[192], why[256];
	struct cairn__wal_reader *r;
	struct cairn__wal_record rec;
	snprintf(dir, sizeof(dir), "%s/wal", d->data);
	int rc = cairn__wal_reader_open(dir, 0, &r, why, sizeof(why));
	if (rc < 0) {
		T_FAILF("cannot read the log in %s: %s", dir, why);
	}
	unsigned n = 0;
	while ((rc = cairn__wal_reader_next(r, &rec)) == 1) {
		struct cairn__wal_command c;
		if (rec.kind != CAIRN__WAL_COMMAND || rec.length != sizeof(c)) {
			T_FAILF("LSN %llu: a record of kind %u and %u bytes, not a command",
				(unsigned long long)rec.lsn, rec.kind, rec.length);
		}
		if (n == max) {
			T_FAILF("more than %u records in the log", max);
		}
		memcpy(&c, rec.body, sizeof(c));
		out[n].msg = c.msg;
		out[n].stamp = c.ingress_ns;
		n++;
	}
	ASSERT_EQ(rc, 0);
	struct cairn__wal_damage end;
	cairn__wal_reader_end(r, &end);
	ASSERT_EQ(end.end, CAIRN__WAL_END_CLEAN);
	cairn__wal_reader_close(r);
	return n;
}

/* The state hash of a fresh engine given cmds[i].msg with stamps[i].stamp, in order. */
static uint64_t replay(const struct logged *cmds, const struct logged *stamps, unsigned n)
{
	struct cairn__map *map;
	ASSERT_OK(cairn__map_default(&map));
	const struct cairn__map *maps[1] = {map};
	struct cairn__engine_config cfg;
	struct cairn__engine *e;
	cairn__engine_config_default(&cfg);
	cfg.max_hunts = 16;
	cfg.max_entities = 4096;
	cfg.maps = maps;
	cfg.n_maps = 1;
	ASSERT_OK(cairn__engine_new(&cfg, NULL, NULL, NULL, &e));
	for (unsigned i = 0; i < n; i++) {
		struct cairn_msg out;
		int rc = cairn__engine_apply(e, &cmds[i].msg, stamps[i].stamp, NULL, &out);
		if (rc < 0) {
			T_FAILF("replaying logged command %u (type 0x%x): %s", i,
				cmds[i].msg.hdr.type, cairn_strerror(rc));
		}
	}
	uint64_t h = cairn__engine_hash(e);
	cairn__engine_free(e);
	cairn__map_free(map);
	return h;
}

static void start_hostile(void *arg, uint32_t hunt)
{
	struct hostile *x = arg;
	x->hunt = hunt;
	ASSERT_EQ(pthread_create(&x->thread, NULL, hostile_main, x), 0);
}

struct run {
	struct h_daemon *d;
	struct seen seen;
	uint64_t hash;
	struct logged *log;
	unsigned nlog;
	uint64_t dropped;
};

static void play(struct run *run, uint64_t seed, bool with_hostile)
{
	enum { MAX_LOG = 8192 };
	struct hostile x = {0};
	cairn_client *c;
	run->d = h_start(H_ARGS("--table-max-cells", "0"));
	x.sock = run->d->sock;
	ASSERT_OK(cairn_open(run->d->sock, NULL, &c));
	uint64_t t0 = h_now_ns();
	run->hash = victim(c, seed, &run->seen, with_hostile ? start_hostile : NULL, &x);
	uint64_t ms = (h_now_ns() - t0) / 1000000;
	if (with_hostile) {
		__atomic_store_n(&x.stop, 1, __ATOMIC_RELAXED);
		pthread_join(x.thread, NULL);
		run->dropped = h_counter(c, H_CTR(lanes_dropped));
	}
	cairn_close(c);
	h_stop(run->d);
	run->log = calloc(MAX_LOG, sizeof(run->log[0]));
	ASSERT_TRUE(run->log != NULL);
	run->nlog = read_log(run->d, run->log, MAX_LOG);
	if (with_hostile) {
		h_ok("(b) beside a hostile client: %u calls in %llu ms while it attached %llu "
		     "times (%llu dropped), sent %llu commands and scribbled in between",
		     run->seen.calls, (unsigned long long)ms, (unsigned long long)x.attaches,
		     (unsigned long long)run->dropped, (unsigned long long)x.commands);
		ASSERT_TRUE(x.attaches >= 2);
	} else {
		h_ok("(b) control run: %u calls in %llu ms, %u changes logged, state hash %016llx",
		     run->seen.calls, (unsigned long long)ms, run->nlog,
		     (unsigned long long)run->hash);
	}
}

static void check_control_run(void)
{
	struct run control = {0}, hostile = {0};
	play(&control, h_seed, false);
	play(&hostile, h_seed, true);

	ASSERT_UEQ(hostile.seen.calls, control.seen.calls);
	for (size_t i = 0; i < control.seen.len && i < hostile.seen.len; i++) {
		if (control.seen.buf[i] != hostile.seen.buf[i]) {
			T_FAILF("the victim's results differ from the control run's at byte %zu of "
				"%zu",
				i, control.seen.len);
		}
	}
	ASSERT_UEQ(hostile.seen.len, control.seen.len);

	/* The log holds the victim's commands, the same ones, and nothing else. */
	ASSERT_UEQ(hostile.nlog, control.nlog);
	for (unsigned i = 0; i < control.nlog; i++) {
		struct cairn_msg a = control.log[i].msg, b = hostile.log[i].msg;
		a.hdr.request_id = b.hdr.request_id = 0;
		if (memcmp(&a, &b, sizeof(a)) != 0) {
			T_FAILF("logged command %u differs: type 0x%x in the control run, 0x%x "
				"beside the hostile client",
				i, a.hdr.type, b.hdr.type);
		}
	}
	uint64_t alone = replay(hostile.log, hostile.log, hostile.nlog);
	uint64_t as_control = replay(hostile.log, control.log, hostile.nlog);
	ASSERT_UEQ(replay(control.log, control.log, control.nlog), control.hash);
	if (alone != hostile.hash || as_control != control.hash) {
		T_FAILF("state hashes: the daemon beside the hostile client %016llx, its log "
			"replayed %016llx; control run %016llx, the log replayed with its stamps "
			"%016llx",
			(unsigned long long)hostile.hash, (unsigned long long)alone,
			(unsigned long long)control.hash, (unsigned long long)as_control);
	}
	h_ok("(b) the victim's %u results are the control run's, byte for byte; both logs "
	     "hold the same %u commands; replayed alone they give each daemon's state hash, "
	     "and with the control run's stamps its hash %016llx",
	     control.seen.calls, control.nlog, (unsigned long long)control.hash);
	free(control.seen.buf);
	free(hostile.seen.buf);
	free(control.log);
	free(hostile.log);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "isolation");
	h_rng_seed(&rng, h_seed);
	struct h_daemon *d = h_start(H_ARGS("--durability", "none", "--table-max-cells", "0"));
	check_edges(d->sock);
	h_stop(d);
	check_control_run();
	h_pass();
}
