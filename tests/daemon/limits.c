/*
 * limits: cairnd's resource limits, each at the limit. Exactly N succeed; the next one
 * fails with the documented error (an ERROR result with its code and the limit as its
 * detail, or a refused attach with a log line naming the option that raises it); the
 * daemon keeps serving, and freeing one makes room again.
 *
 *  (a) --max-lanes-per-process: N lanes from this process, the next refused with
 *      TOO_MANY_LANES; another process still attaches; a lane closed makes room;
 *  (b) --max-hunts: HUNT_CREATE -> TOO_MANY_HUNTS;
 *  (c) --max-players-per-hunt: JOIN -> TOO_MANY_PLAYERS; clues and other hunts are not
 *      counted; after a restart with a lower limit, recovery keeps a hunt above it and
 *      only new JOINs are refused;
 *  (d) --max-entities: JOIN and CLUE_PLACE -> TOO_MANY_ENTITIES;
 *  (e) lane sizes in the hello: rings of RING_MAX_CAPACITY slots and an arena of
 *      BLOB_MAX_SIZE bytes are given, and work; a byte more of arena -> LAYOUT, with a
 *      log line naming the maximum;
 *  (g) --max-lane-memory: as many default lanes as fit in the budget attach, by the size
 *      the daemon gives them, the next refused with LANE_MEMORY and a log line naming the
 *      option; a smaller lane still fits in what is left; a lane closed makes room;
 *  (f) payloads in the arena: MAX_QUERY_ITEMS items per NEAREST_CLUES, PLAYERS_NEAR and
 *      LEADERBOARD answered, one more -> BAD_VALUE; MAX_PATH_BATCH pairs per NEXT_MOVE
 *      and DISTANCE answered; a PATH into exactly the bytes it needs answered, into 8
 *      fewer -> BLOB_TOO_SMALL with the bytes needed.
 *
 * Limits tested elsewhere are not repeated here: --max-clients (many_clients), the
 * handshakes in progress (auth: a flood), rings and an arena over the maximum (auth:
 * LAYOUT), MAX_PATH_BATCH + 1 pairs (paths), inline payloads over 40 bytes
 * (attach_basic), and the engine's own hunt and entity limits (engine_commands).
 */
#include <errno.h>
#include <unistd.h>

#include "harness.h"

#define SEC (1000 * 1000 * 1000ll)
#define T   (5 * SEC)

/* A passable spot of the embedded map, where every player of these tests joins. */
#define HOME_X 1500
#define HOME_Y 1500

/* Calls m, which must fail with code; returns the ERROR result's detail. */
static uint32_t expect_error(cairn_client *c, struct cairn_msg m, int code, const char *what)
{
	struct cairn_msg res;
	struct cairn_error_info e;
	int r = cairn_call(c, &m, &res, T);
	if (r != -code) {
		T_FAILF("%s: returned %d (%s), expected -%s", what, r, cairn_strerror(r),
			cairn_error_name(code));
	}
	ASSERT_EQ(res.hdr.type, CAIRN_MSG_ERROR);
	ASSERT_EQ(res.hdr.status, code);
	memcpy(&e, res.payload, sizeof(e));
	ASSERT_EQ(e.request_type, m.hdr.type);
	return e.detail;
}

static uint32_t new_hunt(cairn_client *c)
{
	struct cairn_hunt_created h;
	ASSERT_OK(cairn_hunt_create(c, NULL, &h, T));
	return h.hunt_id;
}

static uint32_t join(cairn_client *c, uint32_t hunt)
{
	uint32_t p;
	ASSERT_OK(cairn_join(c, hunt, HOME_X, HOME_Y, &p, T));
	return p;
}

static struct cairn_msg join_msg(uint32_t hunt)
{
	struct cairn_msg m;
	cairn_msg_join(&m, hunt, HOME_X, HOME_Y);
	return m;
}

/* Players in a hunt, as its directory record in the state segment says. */
static uint32_t players_of(cairn_client *c, uint32_t hunt)
{
	struct cairn_hunt_info hi;
	ASSERT_OK(cairn_read_hunt(c, hunt, &hi));
	return hi.players;
}

/* ---- (a) lanes per process ---- */

static void check_lanes_per_process(void)
{
	enum { N = 3 };
	struct h_daemon *d =
		h_start(H_ARGS("--max-lanes-per-process", "3", "--durability", "none"));
	cairn_client *c[N], *extra = (cairn_client *)1;
	for (unsigned i = 0; i < N; i++) {
		ASSERT_OK(cairn_open(d->sock, NULL, &c[i]));
	}
	int r = cairn_open(d->sock, NULL, &extra);
	ASSERT_EQ(r, -CAIRN_E_TOO_MANY_LANES);
	ASSERT_TRUE(extra == NULL);
	ASSERT_TRUE(h_log_has(d, "refused", "--max-lanes-per-process", 2000));
	for (unsigned i = 0; i < N; i++) {
		ASSERT_OK(cairn_ping(c[i], T));
	}
	h_ok("(a) --max-lanes-per-process %d: %d lanes attached, the next -> %s (\"%s\"), logged "
	     "with the option; the %d still answer",
	     N, N, cairn_error_name(r), cairn_strerror(r), N);

	/* The limit is per process: a child (another pid) still gets a lane. */
	pid_t pid = h_fork();
	if (pid == 0) {
		cairn_client *k;
		int e = cairn_open(d->sock, NULL, &k);
		if (e == 0) {
			e = cairn_ping(k, T);
			cairn_close(k);
		}
		if (e != 0) {
			fprintf(stderr, "child: %s\n", cairn_strerror(e));
		}
		_exit(e == 0 ? 0 : 1);
	}
	ASSERT_EQ(h_wait_child(pid), 0);

	/* A lane closed is given back once the daemon sees the socket close: retry a little. */
	cairn_close(c[0]);
	uint64_t deadline = h_now_ns() + 2 * SEC;
	while ((r = cairn_open(d->sock, NULL, &c[0])) == -CAIRN_E_TOO_MANY_LANES &&
	       h_now_ns() < deadline) {
		h_sleep_us(2000);
	}
	ASSERT_OK(r);
	ASSERT_OK(cairn_ping(c[0], T));
	ASSERT_EQ(cairn_open(d->sock, NULL, &extra), -CAIRN_E_TOO_MANY_LANES);
	for (unsigned i = 0; i < N; i++) {
		cairn_close(c[i]);
	}
	h_ok("(a) another process attaches meanwhile; closing one lane makes room for exactly "
	     "one more");
	h_stop(d);
}

/* ---- (b) hunts ---- */

static void check_hunts(void)
{
	enum { N = 3 };
	struct h_daemon *d = h_start(H_ARGS("--max-hunts", "3", "--durability", "none"));
	cairn_client *c;
	uint32_t h[N];
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	for (unsigned i = 0; i < N; i++) {
		h[i] = new_hunt(c);
	}
	struct cairn_msg m;
	cairn_msg_hunt_create(&m, NULL);
	ASSERT_UEQ(expect_error(c, m, CAIRN_E_TOO_MANY_HUNTS, "hunt N + 1"), N);
	ASSERT_OK(cairn_ping(c, T));
	join(c, h[2]);
	ASSERT_OK(cairn_hunt_destroy(c, h[0], T));
	h[0] = new_hunt(c);
	cairn_msg_hunt_create(&m, NULL);
	expect_error(c, m, CAIRN_E_TOO_MANY_HUNTS, "hunt N + 1 again");
	cairn_close(c);
	h_ok("(b) --max-hunts %d: %d hunts made, the next -> TOO_MANY_HUNTS (detail %d); the "
	     "daemon serves on; one destroyed makes room for exactly one",
	     N, N, N);
	h_stop(d);
}

/* ---- (c) players per hunt ---- */

static void check_players_per_hunt(void)
{
	enum { N = 5, LOWER = 3 };
	struct h_daemon *d = h_start(H_ARGS("--max-players-per-hunt", "5"));
	cairn_client *c;
	uint32_t p[N];
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	uint32_t a = new_hunt(c), b = new_hunt(c);
	for (unsigned i = 0; i < N; i++) {
		p[i] = join(c, a);
	}
	ASSERT_UEQ(expect_error(c, join_msg(a), CAIRN_E_TOO_MANY_PLAYERS, "player N + 1"), N);
	ASSERT_EQ(players_of(c, a), N);
	/* Clues are not players, and the limit is each hunt's own. */
	uint32_t clue;
	ASSERT_OK(cairn_clue_place(c, a, 2500, 1500, 1, &clue, T));
	for (unsigned i = 0; i < N; i++) {
		join(c, b);
	}
	expect_error(c, join_msg(b), CAIRN_E_TOO_MANY_PLAYERS, "player N + 1 of hunt b");
	ASSERT_OK(cairn_leave(c, a, p[0], NULL, T));
	p[0] = join(c, a);
	expect_error(c, join_msg(a), CAIRN_E_TOO_MANY_PLAYERS, "player N + 1 after a leave");
	ASSERT_OK(cairn_ping(c, T));
	h_ok("(c) --max-players-per-hunt %d: %d players join a hunt, the next -> "
	     "TOO_MANY_PLAYERS (detail %d, \"%s\"); a clue is still placed and another hunt "
	     "takes %d players of its own; a leave makes room for exactly one",
	     N, N, N, cairn_strerror(-CAIRN_E_TOO_MANY_PLAYERS), N);

	/*
	 * A restart with a lower limit: the log's JOINs were accepted, so recovery replays
	 * them all, and the limit refuses only what comes next.
	 */
	cairn_close(c);
	h_stop(d);
	h_spawn(d, H_ARGS("--max-players-per-hunt", "3"));
	h_wait_ready(d);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_EQ(players_of(c, a), N);
	ASSERT_UEQ(expect_error(c, join_msg(a), CAIRN_E_TOO_MANY_PLAYERS, "over a lower limit"),
		   LOWER);
	for (unsigned i = 0; i < N - LOWER + 1; i++) {
		ASSERT_OK(cairn_leave(c, a, p[i], NULL, T));
	}
	join(c, a);
	expect_error(c, join_msg(a), CAIRN_E_TOO_MANY_PLAYERS, "at the lower limit");
	ASSERT_EQ(players_of(c, a), LOWER);
	cairn_close(c);
	h_ok("(c) restarted with --max-players-per-hunt %d: the hunt of %d is recovered whole, "
	     "JOINs are refused (detail %d) until it is below %d, then it fills to %d again",
	     LOWER, N, LOWER, LOWER, LOWER);
	h_stop(d);
}

/* ---- (d) players and clues of all hunts ---- */

static void check_entities(void)
{
	enum { N = 6 };
	struct h_daemon *d = h_start(H_ARGS("--max-entities", "6", "--durability", "none"));
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	uint32_t a = new_hunt(c), b = new_hunt(c);
	uint32_t first = join(c, a);
	for (unsigned i = 1; i < 4; i++) {
		join(c, i % 2 ? b : a);
	}
	uint32_t clue;
	ASSERT_OK(cairn_clue_place(c, a, 2500, 1500, 1, &clue, T));
	ASSERT_OK(cairn_clue_place(c, b, 2500, 1500, 1, &clue, T));
	ASSERT_UEQ(expect_error(c, join_msg(b), CAIRN_E_TOO_MANY_ENTITIES, "entity N + 1"), N);
	struct cairn_msg m;
	cairn_msg_clue_place(&m, a, 2500, 1500, 1);
	ASSERT_UEQ(expect_error(c, m, CAIRN_E_TOO_MANY_ENTITIES, "clue N + 1"), N);
	ASSERT_OK(cairn_ping(c, T));
	ASSERT_OK(cairn_leave(c, a, first, NULL, T));
	join(c, b);
	expect_error(c, join_msg(a), CAIRN_E_TOO_MANY_ENTITIES, "entity N + 1 again");
	cairn_close(c);
	h_ok("(d) --max-entities %d: 4 players and 2 clues over two hunts, then JOIN and "
	     "CLUE_PLACE -> TOO_MANY_ENTITIES (detail %d); a leave makes room for exactly one",
	     N, N);
	h_stop(d);
}

/* ---- (e) lane sizes ---- */

static void check_lane_sizes(void)
{
	/* Without a log the result ring is not cut down to the exactly-once window. */
	struct h_daemon *d = h_start(H_ARGS("--durability", "none"));
	struct cairn_hello h;
	struct h_raw r;
	h_hello_default(&h, "biggest");
	h.cmd_capacity = CAIRN_RING_MAX_CAPACITY;
	h.res_capacity = CAIRN_RING_MAX_CAPACITY;
	h.blob_size = CAIRN_BLOB_MAX_SIZE;
	ASSERT_EQ(h_raw_attach(d->sock, &h, &r), 0);
	ASSERT_UEQ(r.cmd_cap, CAIRN_RING_MAX_CAPACITY);
	ASSERT_UEQ(r.res_cap, CAIRN_RING_MAX_CAPACITY);
	ASSERT_UEQ(r.blob_size, CAIRN_BLOB_MAX_SIZE);
	/* The whole arena is usable: ECHO_BLOB from its first bytes to its last. */
	memset(r.blob, 0, 64);
	memcpy(r.blob, "the first bytes of the largest arena", 36);
	struct cairn_msg m, res;
	struct cairn_echo_blob q = {.in_offset = 0,
				    .in_length = 64,
				    .out_offset = CAIRN_BLOB_MAX_SIZE - 64,
				    .out_capacity = 64};
	ASSERT_OK(cairn_msg_init(&m, CAIRN_MSG_ECHO_BLOB, CAIRN_MSG_ECHO_BLOB_LEN_MIN));
	memcpy(m.payload, &q, sizeof(q));
	m.hdr.request_id = 1;
	ASSERT_TRUE(h_raw_push(&r, &m));
	ASSERT_TRUE(h_raw_pop(&r, &res, 5000));
	ASSERT_EQ(res.hdr.type, CAIRN_MSG_ECHO_BLOB_REPLY);
	ASSERT_TRUE(memcmp(r.blob + CAIRN_BLOB_MAX_SIZE - 64, r.blob, 64) == 0);
	h_raw_close(&r);

	/* One more slot is no power of two; the next power is over the maximum. */
	h_hello_default(&h, "too-big");
	h.blob_size = CAIRN_BLOB_MAX_SIZE + 1;
	ASSERT_EQ(h_raw_attach(d->sock, &h, &r), CAIRN_E_LAYOUT);
	h_raw_close(&r);
	ASSERT_TRUE(h_log_has(d, "refused", "the arena at most 67108864 bytes", 2000));
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_OK(cairn_ping(c, T));
	cairn_close(c);
	h_ok("(e) a hello for rings of %d slots and an arena of %d bytes: given, and the arena's "
	     "last bytes written; %d + 1 bytes -> LAYOUT, logged with the maximum",
	     CAIRN_RING_MAX_CAPACITY, CAIRN_BLOB_MAX_SIZE, CAIRN_BLOB_MAX_SIZE);
	h_stop(d);
}

/* ---- (g) lane memory ---- */

static void check_lane_memory(void)
{
	enum { BUDGET_MIB = 8, MAX = 16 };
	const uint64_t budget = (uint64_t)BUDGET_MIB << 20;
	struct h_daemon *d = h_start(H_ARGS("--max-lane-memory", "8", "--durability", "none"));
	struct cairn_hello h;
	struct h_raw r[MAX];
	unsigned n = 0;
	h_hello_default(&h, "budget");
	int e;
	while ((e = h_raw_attach(d->sock, &h, &r[n])) == 0) {
		ASSERT_TRUE(++n < MAX);
	}
	ASSERT_EQ(e, CAIRN_E_LANE_MEMORY);
	h_raw_close(&r[n]);
	const uint64_t size = r[0].lane_size;
	ASSERT_TRUE(size > 0);
	for (unsigned i = 1; i < n; i++) {
		ASSERT_UEQ(r[i].lane_size, size);
	}
	/* Exactly as many as fit: n lanes fit, n + 1 do not. */
	ASSERT_UEQ(n, budget / size);
	ASSERT_TRUE(h_log_has(d, "refused", "--max-lane-memory", 2000));
	h_ok("(g) --max-lane-memory %d: %u lanes of %llu bytes attached (%llu of %llu bytes), the "
	     "next -> LANE_MEMORY, logged with the option",
	     BUDGET_MIB, n, (unsigned long long)size, (unsigned long long)(n * size),
	     (unsigned long long)budget);

	/* What is left still takes a lane that fits in it: the smallest rings and arena. */
	struct cairn_hello small;
	h_hello_default(&small, "small");
	small.cmd_capacity = CAIRN_RING_MIN_CAPACITY;
	small.res_capacity = CAIRN_RING_MIN_CAPACITY;
	small.blob_size = 4096;
	struct h_raw s;
	ASSERT_EQ(h_raw_attach(d->sock, &small, &s), 0);
	const uint64_t small_size = s.lane_size;
	ASSERT_TRUE(small_size > 0 && n * size + small_size <= budget);
	struct cairn_msg m, res;
	ASSERT_OK(cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN));
	m.hdr.request_id = 7;
	ASSERT_TRUE(h_raw_push(&s, &m));
	ASSERT_TRUE(h_raw_pop(&s, &res, 5000));
	ASSERT_EQ(res.hdr.request_id, 7);
	h_raw_close(&s);

	/* A lane closed is freed once released: then exactly one more default lane fits. */
	h_raw_close(&r[0]);
	uint64_t deadline = h_now_ns() + 2 * SEC;
	while ((e = h_raw_attach(d->sock, &h, &r[0])) == CAIRN_E_LANE_MEMORY &&
	       h_now_ns() < deadline) {
		h_raw_close(&r[0]);
		h_sleep_us(2000);
	}
	ASSERT_EQ(e, 0);
	ASSERT_EQ(h_raw_attach(d->sock, &h, &r[n]), CAIRN_E_LANE_MEMORY);
	h_raw_close(&r[n]);
	for (unsigned i = 0; i < n; i++) {
		h_raw_close(&r[i]);
	}
	h_ok("(g) a lane of %llu bytes still fits in what is left and answers; closing a default "
	     "lane makes room for exactly one more",
	     (unsigned long long)small_size);
	h_stop(d);
}

/* ---- (f) payloads in the arena ---- */

/* A command of type and length whose payload is the struct at payload. */
static struct cairn_msg command(uint16_t type, uint8_t length, const void *payload, size_t size)
{
	struct cairn_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.length = length;
	memcpy(m.payload, payload, size);
	return m;
}

#define QUERY(T, q) command(CAIRN_MSG_##T, CAIRN_MSG_##T##_LEN_MIN, &(q), sizeof(q))

/* Calls a query that must succeed; returns its reply's count. */
static uint32_t query_count(cairn_client *c, struct cairn_msg m, uint16_t reply)
{
	struct cairn_msg res;
	struct cairn_query_reply a;
	ASSERT_OK(cairn_call(c, &m, &res, T));
	ASSERT_EQ(res.hdr.type, reply);
	memcpy(&a, res.payload, sizeof(a));
	return a.count;
}

static void check_queries(cairn_client *c, uint32_t hunt)
{
	const uint32_t max = CAIRN_MAX_QUERY_ITEMS, cap = max * sizeof(struct cairn_hit);
	struct cairn_nearest_clues nq = {.hunt_id = hunt,
					 .x = HOME_X,
					 .y = HOME_Y,
					 .k = max,
					 .out_capacity = cap,
					 .include_claimed = 1};
	struct cairn_players_near pq = {
		.hunt_id = hunt, .x = HOME_X, .y = HOME_Y, .radius_mm = 1000000, .max = max};
	pq.out_capacity = cap;
	struct cairn_leaderboard lq = {.hunt_id = hunt, .k = max, .out_capacity = cap};
	ASSERT_EQ(query_count(c, QUERY(NEAREST_CLUES, nq), CAIRN_MSG_NEAREST_CLUES_REPLY), 2);
	ASSERT_EQ(query_count(c, QUERY(PLAYERS_NEAR, pq), CAIRN_MSG_PLAYERS_NEAR_REPLY), 3);
	ASSERT_EQ(query_count(c, QUERY(LEADERBOARD, lq), CAIRN_MSG_LEADERBOARD_REPLY), 3);
	nq.k = pq.max = lq.k = max + 1;
	nq.out_capacity = pq.out_capacity = lq.out_capacity = cap + sizeof(struct cairn_hit);
	ASSERT_UEQ(expect_error(c, QUERY(NEAREST_CLUES, nq), CAIRN_E_BAD_VALUE,
				"NEAREST_CLUES k = max + 1"),
		   max + 1);
	ASSERT_UEQ(expect_error(c, QUERY(PLAYERS_NEAR, pq), CAIRN_E_BAD_VALUE,
				"PLAYERS_NEAR max = max + 1"),
		   max + 1);
	ASSERT_UEQ(expect_error(c, QUERY(LEADERBOARD, lq), CAIRN_E_BAD_VALUE,
				"LEADERBOARD k = max + 1"),
		   max + 1);
	ASSERT_OK(cairn_ping(c, T));
	h_ok("(f) NEAREST_CLUES, PLAYERS_NEAR and LEADERBOARD of %u items into %u bytes: "
	     "answered; %u items -> BAD_VALUE (detail %u)",
	     max, cap, max + 1, max + 1);
}

static void check_path_batch(cairn_client *c, uint32_t hunt)
{
	struct cairn_path_pair pairs[CAIRN_MAX_PATH_BATCH];
	struct cairn_next_move_item next[CAIRN_MAX_PATH_BATCH];
	struct cairn_distance_item dist[CAIRN_MAX_PATH_BATCH];
	struct cairn_path_batch_reply info;
	for (unsigned i = 0; i < CAIRN_MAX_PATH_BATCH; i++) {
		pairs[i] = (struct cairn_path_pair){HOME_X, HOME_Y, 2500, 1500};
	}
	ASSERT_OK(cairn_next_moves(c, hunt, pairs, CAIRN_MAX_PATH_BATCH, CAIRN_METHOD_JPS, next,
				   &info, T));
	ASSERT_UEQ(info.count, CAIRN_MAX_PATH_BATCH);
	ASSERT_UEQ(info.failed, 0);
	ASSERT_OK(cairn_distances(c, hunt, pairs, CAIRN_MAX_PATH_BATCH, CAIRN_METHOD_JPS, dist,
				  &info, T));
	ASSERT_UEQ(info.count, CAIRN_MAX_PATH_BATCH);
	ASSERT_UEQ(info.failed, 0);
	h_ok("(f) NEXT_MOVE and DISTANCE of %d pairs: answered, none failed (%d + 1: paths)",
	     CAIRN_MAX_PATH_BATCH, CAIRN_MAX_PATH_BATCH);
}

static struct cairn_msg path_msg(uint32_t hunt, int32_t tx, int32_t ty, uint32_t cap)
{
	struct cairn_path q = {.hunt_id = hunt,
			       .from_x = HOME_X,
			       .from_y = HOME_Y,
			       .to_x = tx,
			       .to_y = ty,
			       .out_offset = 0,
			       .out_capacity = cap,
			       .method = CAIRN_METHOD_JPS};
	return QUERY(PATH, q);
}

static void check_path_bytes(cairn_client *c, uint32_t hunt)
{
	/* The longest path to a passable cell along the row of HOME. */
	size_t size;
	uint8_t *blob = cairn_blob(c, &size);
	ASSERT_TRUE(blob != NULL && size >= 65536);
	struct cairn_msg res;
	struct cairn_path_reply pr;
	uint32_t points = 0;
	int32_t tx = 0;
	for (int32_t x = 2500; x < 128000; x += 1000) {
		struct cairn_msg m = path_msg(hunt, x, HOME_Y, 65536);
		if (cairn_call(c, &m, &res, T) == 0) {
			memcpy(&pr, res.payload, sizeof(pr));
			if (pr.count > points) {
				points = pr.count;
				tx = x;
			}
		}
	}
	ASSERT_TRUE(points >= 3);
	uint32_t need = points * (uint32_t)sizeof(struct cairn_path_point);

	memset(blob, 0xAB, need + 64);
	struct cairn_msg m = path_msg(hunt, tx, HOME_Y, need);
	ASSERT_OK(cairn_call(c, &m, &res, T));
	ASSERT_EQ(res.hdr.type, CAIRN_MSG_PATH_REPLY);
	memcpy(&pr, res.payload, sizeof(pr));
	ASSERT_UEQ(pr.count, points);
	ASSERT_UEQ(pr.out_length, need);
	/* Nothing written past the room it was given. */
	for (uint32_t i = need; i < need + 64; i++) {
		ASSERT_EQ(blob[i], 0xAB);
	}
	memset(blob, 0xAB, need + 64);
	ASSERT_UEQ(expect_error(c, path_msg(hunt, tx, HOME_Y, need - 8), CAIRN_E_BLOB_TOO_SMALL,
				"PATH into 8 bytes too few"),
		   need);
	for (uint32_t i = 0; i < need + 64; i++) {
		ASSERT_EQ(blob[i], 0xAB);
	}
	ASSERT_OK(cairn_ping(c, T));
	h_ok("(f) a PATH of %u points into exactly %u bytes: answered, nothing written past "
	     "them; into %u -> BLOB_TOO_SMALL (detail %u), nothing written",
	     points, need, need - 8, need);
}

static void check_arena_payloads(void)
{
	struct h_daemon *d = h_start(H_ARGS("--durability", "none", "--table-max-cells", "0"));
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	uint32_t hunt = new_hunt(c), clue;
	for (unsigned i = 0; i < 3; i++) {
		join(c, hunt);
	}
	ASSERT_OK(cairn_clue_place(c, hunt, 2500, 1500, 1, &clue, T));
	ASSERT_OK(cairn_clue_place(c, hunt, 3500, 1500, 1, &clue, T));
	check_queries(c, hunt);
	check_path_batch(c, hunt);
	check_path_bytes(c, hunt);
	cairn_close(c);
	h_stop(d);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "limits");
	check_lanes_per_process();
	check_hunts();
	check_players_per_hunt();
	check_entities();
	check_lane_sizes();
	check_lane_memory();
	check_arena_payloads();
	h_pass();
}
