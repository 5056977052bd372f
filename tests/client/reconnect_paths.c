/*
 * Reconnects with path commands in flight. cairnd runs path commands (here DISTANCE and
 * PATH, by A*) on a solver thread and publishes their results when they are done, after
 * results of commands pushed later; libcairn must still resubmit exactly the commands
 * that were not answered when the daemon died.
 *
 * A maze map of our own (generated into the test's directory) makes every search slow
 * enough for many of them to be queued on cairnd's one solver thread (--solver-threads 1,
 * no first-move table) while MOVEs, PINGs and JOINs flow past them. Several threads
 * pipeline that mix with cairn_submit and take the results with cairn_poll_batch (so
 * any thread may take any other's results), while cairnd is SIGKILLed at moments when
 * path commands are outstanding, and started again on the same data directory. Then:
 *  - every command pushed got exactly one result, of the kind it asked for, and nothing
 *    else came (no result twice, none for a command never pushed, nothing left over in
 *    the client's queues or in its list of unanswered path commands);
 *  - MOVEs and JOINs were applied once: each player stands where its last MOVE sent it,
 *    and the hunt holds exactly one player per JOIN;
 *  - every DISTANCE and PATH answer (reply or ERROR, and the bytes in the arena) equals
 *    what the same query gets once the daemon is left alone.
 * Table-driven over ring sizes: small rings make the shadow's lap short, so that path
 * commands are often older than it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "kit.h"

#define ROOMS      255             /* maze rooms per side */
#define SIDE       (2 * ROOMS + 1) /* map cells per side: room (i, j) is cell (2i+1, 2j+1) */
#define THREADS    3
#define PER_THREAD (UINT64_C(1) << 18) /* request ids per thread */
#define SLOTS      6                   /* path commands in flight per thread */
#define SLOT_BYTES 512
#define OUT_BASE   65536 /* the slots' start in the arena; the pairs' inputs are at 0 */
#define PAIRS      16    /* 0..7: far apart, 8..15: neighbouring rooms */
#define PATH_CAP   256   /* PATH out_capacity: 32 points, too few for a far pair */

enum kind { K_NONE, K_MOVE, K_PING, K_JOIN, K_DISTANCE, K_PATH };

/* One request id: what was pushed under it (meta), and what came back. */
struct rec {
	uint64_t meta;   /* atomic: kind | pair << 8 | slot << 16 | room i << 24 | room j << 32 */
	uint64_t digest; /* DISTANCE and PATH: the answer, written before done */
	uint8_t seen;    /* atomic: results taken */
	uint8_t done;    /* atomic: digest written (release) */
};

struct pair {
	uint32_t a[2], b[2]; /* rooms */
};

struct run {
	cairn_client *c;
	uint32_t hunt;
	struct pair pairs[PAIRS];
	struct rec *recs;
	uint64_t pushed[THREADS]; /* atomic */
	uint64_t joins[THREADS];  /* read after join */
	uint32_t player[THREADS];
	uint32_t last_room[THREADS][2];                /* the last MOVE's target, read after join */
	uint64_t taken;                                /* atomic */
	uint64_t path_replies, path_errors, distances; /* atomic */
	int stop;                                      /* atomic */
};

struct worker {
	struct run *run;
	unsigned index;
	pthread_t thread;
};

static int32_t room_mm(uint32_t i)
{
	return (int32_t)(2 * i + 1) * KIT_CELL + KIT_CELL / 2;
}

/* ---- the maze ---- */

static bool carved_east[ROOMS][ROOMS], carved_south[ROOMS][ROOMS];

/* Carves a perfect maze by a depth-first walk, and writes it as a Moving AI map. */
static void write_maze(const char *path, struct h_rng *rng)
{
	static bool seen[ROOMS][ROOMS];
	static uint32_t stack[ROOMS * ROOMS];
	size_t n = 0;
	memset(seen, 0, sizeof(seen));
	memset(carved_east, 0, sizeof(carved_east));
	memset(carved_south, 0, sizeof(carved_south));
	seen[0][0] = true;
	stack[n++] = 0;
	while (n) {
		uint32_t i = stack[n - 1] % ROOMS, j = stack[n - 1] / ROOMS;
		static const int d[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
		int opts[4], k = 0;
		for (int q = 0; q < 4; q++) {
			int x = (int)i + d[q][0], y = (int)j + d[q][1];
			if (x >= 0 && y >= 0 && x < ROOMS && y < ROOMS && !seen[x][y]) {
				opts[k++] = q;
			}
		}
		if (k == 0) {
			n--;
			continue;
		}
		int q = opts[h_rng_below(rng, (uint64_t)k)];
		uint32_t x = (uint32_t)((int)i + d[q][0]), y = (uint32_t)((int)j + d[q][1]);
		if (d[q][0]) {
			carved_east[d[q][0] > 0 ? i : x][j] = true;
		} else {
			carved_south[i][d[q][1] > 0 ? j : y] = true;
		}
		seen[x][y] = true;
		stack[n++] = y * ROOMS + x;
	}
	FILE *f = fopen(path, "w");
	if (!f) {
		T_FAILF("cannot create %s: %s", path, strerror(errno));
	}
	fprintf(f, "type octile\nheight %d\nwidth %d\nmap\n", SIDE, SIDE);
	for (int y = 0; y < SIDE; y++) {
		for (int x = 0; x < SIDE; x++) {
			bool open = false;
			if (x % 2 == 1 && y % 2 == 1) {
				open = true;
			} else if (x % 2 == 0 && y % 2 == 1 && x > 0 && x < SIDE - 1) {
				open = carved_east[x / 2 - 1][y / 2];
			} else if (x % 2 == 1 && y % 2 == 0 && y > 0 && y < SIDE - 1) {
				open = carved_south[x / 2][y / 2 - 1];
			}
			fputc(open ? '.' : '@', f);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		T_FAILF("cannot write %s", path);
	}
}

static void spawn(struct h_daemon *d)
{
	char map[160];
	snprintf(map, sizeof(map), "%s/maze.map", d->dir);
	h_spawn(d, H_ARGS("--map", map, "--solver-threads", "1", "--table-max-cells", "0"));
	h_wait_ready(d);
}

/* ---- commands and their answers ---- */

static uint32_t slot_offset(unsigned t, unsigned s)
{
	return OUT_BASE + (t * SLOTS + s) * SLOT_BYTES;
}

/* A DISTANCE or PATH command for pair k, answering into slot offset out. */
static void path_msg(struct run *run, struct cairn_msg *m, enum kind kind, unsigned k, uint32_t out)
{
	const struct pair *p = &run->pairs[k];
	if (kind == K_DISTANCE) {
		struct cairn_path_batch q;
		memset(&q, 0, sizeof(q));
		q.hunt_id = run->hunt;
		q.count = 1;
		q.in_offset = k * (uint32_t)sizeof(struct cairn_path_pair);
		q.out_offset = out;
		q.out_capacity = SLOT_BYTES;
		q.method = CAIRN_METHOD_ASTAR;
		cairn_msg_init(m, CAIRN_MSG_DISTANCE, CAIRN_MSG_DISTANCE_LEN_MIN);
		memcpy(m->payload, &q, sizeof(q));
	} else {
		struct cairn_path q;
		memset(&q, 0, sizeof(q));
		q.hunt_id = run->hunt;
		q.from_x = room_mm(p->a[0]);
		q.from_y = room_mm(p->a[1]);
		q.to_x = room_mm(p->b[0]);
		q.to_y = room_mm(p->b[1]);
		q.flags = CAIRN_PATH_WAYPOINTS;
		q.method = CAIRN_METHOD_ASTAR;
		q.out_offset = out;
		q.out_capacity = PATH_CAP;
		cairn_msg_init(m, CAIRN_MSG_PATH, CAIRN_MSG_PATH_LEN_MIN);
		memcpy(m->payload, &q, sizeof(q));
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	}
	return h;
}

/*
 * The answer to a DISTANCE or PATH command as one number: its type, its payload's
 * fields that do not depend on where it ran, and what it wrote into slot offset out.
 * Fails on an answer of any other shape.
 */
static uint64_t digest(struct run *run, enum kind kind, const struct cairn_msg *res, uint32_t out)
{
	uint64_t h = fnv(UINT64_C(0xcbf29ce484222325), &res->hdr.type, sizeof(res->hdr.type));
	const uint8_t *blob = cairn_blob(run->c, NULL);
	if (res->hdr.type == CAIRN_MSG_ERROR) {
		struct cairn_error_info e;
		memcpy(&e, res->payload, sizeof(e));
		uint16_t want = kind == K_DISTANCE ? CAIRN_MSG_DISTANCE : CAIRN_MSG_PATH;
		if (e.request_type != want) {
			T_FAILF("an ERROR for request %llu names type %#x, not %#x",
				(unsigned long long)res->hdr.request_id, e.request_type, want);
		}
		h = fnv(h, &res->hdr.status, sizeof(res->hdr.status));
		return fnv(h, &e.detail, sizeof(e.detail));
	}
	if (kind == K_DISTANCE && res->hdr.type == CAIRN_MSG_DISTANCE_REPLY) {
		struct cairn_path_batch_reply a;
		memcpy(&a, res->payload, sizeof(a));
		if (a.count != 1 || a.out_offset != out ||
		    a.out_length != sizeof(struct cairn_distance_item)) {
			T_FAILF("DISTANCE_REPLY for request %llu: count %u at %u, %u bytes",
				(unsigned long long)res->hdr.request_id, a.count, a.out_offset,
				a.out_length);
		}
		h = fnv(h, &a.failed, sizeof(a.failed));
		return fnv(h, blob + out, a.out_length);
	}
	if (kind == K_PATH && res->hdr.type == CAIRN_MSG_PATH_REPLY) {
		struct cairn_path_reply a;
		memcpy(&a, res->payload, sizeof(a));
		if (a.out_offset != out || a.out_length != a.count * 8 || a.out_length > PATH_CAP) {
			T_FAILF("PATH_REPLY for request %llu: %u points at %u, %u bytes",
				(unsigned long long)res->hdr.request_id, a.count, a.out_offset,
				a.out_length);
		}
		uint32_t f[6] = {a.count, a.cells, a.straight, a.diagonal, a.length_mm, a.method};
		h = fnv(h, f, sizeof(f));
		return fnv(h, blob + out, a.out_length);
	}
	T_FAILF("request %llu (kind %d): an answer of type %#x",
		(unsigned long long)res->hdr.request_id, kind, res->hdr.type);
}

/* Takes one submit result; fails on a result twice, or one that does not fit its command. */
static void take(struct run *run, const struct cairn_msg *res)
{
	uint64_t id = res->hdr.request_id - 1;
	if (id >= THREADS * PER_THREAD) {
		T_FAILF("a result for request %llu, never used",
			(unsigned long long)res->hdr.request_id);
	}
	struct rec *rc = &run->recs[id];
	/* Relaxed: the ring carried the result after the push that followed this store. */
	uint64_t meta = __atomic_load_n(&rc->meta, __ATOMIC_RELAXED);
	enum kind kind = (enum kind)(meta & 0xff);
	if (kind == K_NONE) {
		T_FAILF("a result for request %llu, never pushed", (unsigned long long)id + 1);
	}
	if (__atomic_fetch_add(&rc->seen, 1, __ATOMIC_RELAXED) != 0) {
		T_FAILF("request %llu (kind %d) answered twice", (unsigned long long)id + 1, kind);
	}
	unsigned t = (unsigned)(id / PER_THREAD), slot = (unsigned)(meta >> 16 & 0xff);
	uint32_t ri = (uint32_t)(meta >> 24 & 0xff), rj = (uint32_t)(meta >> 32 & 0xff);
	switch (kind) {
	case K_MOVE: {
		struct cairn_moved mv;
		memcpy(&mv, res->payload, sizeof(mv));
		if (res->hdr.type != CAIRN_MSG_MOVED || mv.player_id != run->player[t] ||
		    mv.x != room_mm(ri) || mv.y != room_mm(rj)) {
			T_FAILF("MOVE %llu: type %#x status %d, player %u at (%d, %d), expected "
				"%u at (%d, %d)",
				(unsigned long long)id + 1, res->hdr.type, res->hdr.status,
				mv.player_id, mv.x, mv.y, run->player[t], room_mm(ri), room_mm(rj));
		}
		break;
	}
	case K_PING:
		if (res->hdr.type != CAIRN_MSG_PONG) {
			T_FAILF("PING %llu: type %#x", (unsigned long long)id + 1, res->hdr.type);
		}
		break;
	case K_JOIN: {
		struct cairn_joined j;
		memcpy(&j, res->payload, sizeof(j));
		if (res->hdr.type != CAIRN_MSG_JOINED || j.player_id == 0) {
			T_FAILF("JOIN %llu: type %#x status %d", (unsigned long long)id + 1,
				res->hdr.type, res->hdr.status);
		}
		break;
	}
	default:
		rc->digest = digest(run, kind, res, slot_offset(t, slot));
		if (kind == K_DISTANCE) {
			__atomic_fetch_add(&run->distances, 1, __ATOMIC_RELAXED);
		} else if (res->hdr.type == CAIRN_MSG_PATH_REPLY) {
			__atomic_fetch_add(&run->path_replies, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_fetch_add(&run->path_errors, 1, __ATOMIC_RELAXED);
		}
		break;
	}
	/* Release: the digest, and the slot free for its thread's next path command. */
	__atomic_store_n(&rc->done, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&run->taken, 1, __ATOMIC_RELAXED);
}

static void poll_some(struct run *run)
{
	struct cairn_msg res[32];
	int k = cairn_poll_batch(run->c, res, 32);
	if (k < 0 && k != -EAGAIN) {
		T_FAILF("cairn_poll_batch: %d (%s)", k, cairn_strerror(k));
	}
	for (int i = 0; i < k; i++) {
		take(run, &res[i]);
	}
}

static void *pipeliner(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	unsigned t = w->index;
	uint64_t next = 0, owner[SLOTS];
	unsigned path_n = 0;
	struct h_rng rng;
	h_rng_seed(&rng, h_seed * 31 + t);
	for (unsigned s = 0; s < SLOTS; s++) {
		owner[s] = UINT64_MAX;
	}
	while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED) && next < PER_THREAD) {
		uint64_t id = t * PER_THREAD + next;
		uint64_t roll = h_rng_below(&rng, 100);
		enum kind kind = roll < 40   ? K_MOVE
				 : roll < 60 ? K_PING
				 : roll < 64 ? K_JOIN
				 : roll < 86 ? K_DISTANCE
					     : K_PATH;
		uint32_t ri = (uint32_t)h_rng_below(&rng, ROOMS),
			 rj = (uint32_t)h_rng_below(&rng, ROOMS);
		unsigned slot = 0, pair = (unsigned)h_rng_below(&rng, PAIRS);
		struct cairn_msg m;
		if (kind == K_DISTANCE || kind == K_PATH) {
			slot = path_n % SLOTS;
			if (owner[slot] != UINT64_MAX &&
			    !__atomic_load_n(&run->recs[owner[slot]].done, __ATOMIC_ACQUIRE)) {
				kind = K_PING; /* every slot busy: something else meanwhile */
			} else {
				path_msg(run, &m, kind, pair, slot_offset(t, slot));
			}
		}
		if (kind == K_MOVE) {
			cairn_msg_move(&m, run->hunt, run->player[t], room_mm(ri), room_mm(rj));
		} else if (kind == K_PING) {
			cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
		} else if (kind == K_JOIN) {
			cairn_msg_join(&m, run->hunt, room_mm(ri), room_mm(rj));
		}
		m.hdr.request_id = id + 1;
		/* Before the push: whoever takes the result reads it. */
		__atomic_store_n(&run->recs[id].meta,
				 (uint64_t)kind | (uint64_t)pair << 8 | (uint64_t)slot << 16 |
					 (uint64_t)ri << 24 | (uint64_t)rj << 32,
				 __ATOMIC_RELAXED);
		int r = cairn_submit(run->c, &m);
		if (r == -EAGAIN) {
			poll_some(run);
			continue;
		}
		if (r != 0) {
			T_FAILF("thread %u: cairn_submit: %d (%s)", t, r, cairn_strerror(r));
		}
		next++;
		__atomic_store_n(&run->pushed[t], next, __ATOMIC_RELEASE);
		if (kind == K_DISTANCE || kind == K_PATH) {
			owner[slot] = id;
			path_n++;
		} else if (kind == K_MOVE) {
			run->last_room[t][0] = ri;
			run->last_room[t][1] = rj;
		} else if (kind == K_JOIN) {
			run->joins[t]++;
		}
		if (h_rng_below(&rng, 4) == 0) {
			poll_some(run);
		}
	}
	return NULL;
}

/* Path commands pushed on the current lane and not answered yet, from libcairn's list. */
static size_t outstanding_paths(cairn_client *c)
{
	struct cairn__lane *l = cairn__lane_now(c);
	pthread_mutex_lock(&l->paths.lock);
	size_t n = l->paths.n;
	pthread_mutex_unlock(&l->paths.lock);
	return n;
}

/* The digest of the answer to a DISTANCE or PATH for pair k, asked with nothing else on. */
static uint64_t reference(struct run *run, enum kind kind, unsigned k)
{
	struct cairn_msg m, res;
	path_msg(run, &m, kind, k, slot_offset(0, 0));
	int r = cairn_call(run->c, &m, &res, 60 * SEC);
	if (r < 0 && res.hdr.type != CAIRN_MSG_ERROR) {
		T_FAILF("reference query for pair %u: %d (%s)", k, r, cairn_strerror(r));
	}
	return digest(run, kind, &res, slot_offset(0, 0));
}

struct config {
	uint32_t cmd, res;
	unsigned kills;
};

static void run_config(const struct config *cfg, struct h_rng *rng)
{
	struct h_daemon *d = h_prepare();
	char map[160];
	snprintf(map, sizeof(map), "%s/maze.map", d->dir);
	write_maze(map, rng);
	spawn(d);

	struct cairn_open_options o = {.cmd_capacity = cfg->cmd, .res_capacity = cfg->res};
	struct run *run = calloc(1, sizeof(*run));
	ASSERT_TRUE(run != NULL);
	run->recs = calloc(THREADS * PER_THREAD, sizeof(*run->recs));
	ASSERT_TRUE(run->recs != NULL);
	run->c = kit_open(d, &o);
	struct cairn_hunt_params hp = {.map_id = 1};
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(run->c, &hp, &hc, 5 * SEC));
	ASSERT_EQ(hc.width, SIDE);
	ASSERT_EQ(hc.height, SIDE);
	run->hunt = hc.hunt_id;

	/* The pairs, and their inputs at the start of the arena, written once for good. */
	struct cairn_path_pair *in = cairn_blob(run->c, NULL);
	for (unsigned k = 0; k < PAIRS; k++) {
		struct pair *p = &run->pairs[k];
		p->a[0] = (uint32_t)h_rng_below(rng, ROOMS);
		p->a[1] = (uint32_t)h_rng_below(rng, ROOMS);
		if (k < PAIRS / 2) {
			p->b[0] = (uint32_t)h_rng_below(rng, ROOMS);
			p->b[1] = (uint32_t)h_rng_below(rng, ROOMS);
		} else if (p->a[0] + 1 < ROOMS && carved_east[p->a[0]][p->a[1]]) {
			p->b[0] = p->a[0] + 1;
			p->b[1] = p->a[1];
		} else {
			p->b[0] = p->a[0];
			p->b[1] = p->a[1];
		}
		in[k] = (struct cairn_path_pair){room_mm(p->a[0]), room_mm(p->a[1]),
						 room_mm(p->b[0]), room_mm(p->b[1])};
	}
	uint32_t joined = 0;
	for (unsigned t = 0; t < THREADS; t++) {
		ASSERT_OK(cairn_join(run->c, run->hunt, room_mm(t), room_mm(0), &run->player[t],
				     5 * SEC));
		run->last_room[t][0] = t;
		run->last_room[t][1] = 0;
		joined++;
	}

	struct worker w[THREADS];
	for (unsigned t = 0; t < THREADS; t++) {
		w[t] = (struct worker){.run = run, .index = t};
		ASSERT_EQ(pthread_create(&w[t].thread, NULL, pipeliner, &w[t]), 0);
	}
	size_t at_kill[3] = {0};
	ASSERT_TRUE(cfg->kills <= 3);
	for (unsigned k = 0; k < cfg->kills; k++) {
		h_sleep_us(100 * 1000 + h_rng_below(rng, 200 * 1000));
		uint64_t end = h_now_ns() + 5 * SEC;
		while ((at_kill[k] = outstanding_paths(run->c)) < 2) {
			if (h_now_ns() > end) {
				T_FAILF("no path command outstanding for 5 s");
			}
			h_sleep_us(1000);
		}
		kit_kill(d);
		h_sleep_us(h_rng_below(rng, 100 * 1000));
		spawn(d);
		wait_reconnects(run->c, k + 1);
	}
	h_sleep_us(100 * 1000);
	__atomic_store_n(&run->stop, 1, __ATOMIC_RELAXED);
	for (unsigned t = 0; t < THREADS; t++) {
		pthread_join(w[t].thread, NULL);
	}

	/* The rest of the answers, then a while for a duplicate to show up. */
	uint64_t total = 0;
	for (unsigned t = 0; t < THREADS; t++) {
		total += run->pushed[t];
	}
	while (run->taken < total) {
		struct cairn_msg res;
		int r = cairn_wait(run->c, &res, 30 * SEC);
		if (r != 0) {
			T_FAILF("rings %u/%u: %llu of %llu answers, then cairn_wait: %d (%s)",
				cfg->cmd, cfg->res, (unsigned long long)run->taken,
				(unsigned long long)total, r, cairn_strerror(r));
		}
		take(run, &res);
	}
	struct cairn_msg extra;
	int r = cairn_wait(run->c, &extra, 200 * MS);
	if (r != -ETIMEDOUT) {
		T_FAILF("an answer more than was asked for: %d, request %llu type %#x", r,
			(unsigned long long)extra.hdr.request_id, extra.hdr.type);
	}
	for (unsigned t = 0; t < THREADS; t++) {
		for (uint64_t i = 0; i < run->pushed[t]; i++) {
			ASSERT_EQ(run->recs[t * PER_THREAD + i].seen, 1);
		}
	}
	/* Nothing parked in the client: no stray call result, no path command listed. */
	struct cairn__lane *l = cairn__lane_now(run->c);
	ASSERT_UEQ(__atomic_load_n(&run->c->mailbox_count, __ATOMIC_ACQUIRE), 0);
	ASSERT_UEQ(__atomic_load_n(&run->c->pollq_count, __ATOMIC_ACQUIRE), 0);
	ASSERT_UEQ(outstanding_paths(run->c), 0);
	ASSERT_UEQ(l->paths.pushed, l->paths.popped);

	/* MOVEs and JOINs applied once each. */
	struct cairn_hunt_info hi;
	ASSERT_OK(cairn_read_hunt(run->c, run->hunt, &hi));
	for (unsigned t = 0; t < THREADS; t++) {
		joined += (uint32_t)run->joins[t];
		struct cairn_entity e;
		ASSERT_OK(cairn_read_entity(run->c, run->hunt, run->player[t], &e));
		if (e.x != room_mm(run->last_room[t][0]) || e.y != room_mm(run->last_room[t][1])) {
			T_FAILF("player %u stands at (%d, %d); its last MOVE went to (%d, %d)",
				run->player[t], e.x, e.y, room_mm(run->last_room[t][0]),
				room_mm(run->last_room[t][1]));
		}
	}
	if (hi.players != joined) {
		T_FAILF("the hunt holds %u players; %u JOINs were pushed", hi.players, joined);
	}

	/* Every path answer as the daemon gives it when left alone. */
	uint64_t ref[2][PAIRS];
	for (unsigned k = 0; k < PAIRS; k++) {
		ref[0][k] = reference(run, K_DISTANCE, k);
		ref[1][k] = reference(run, K_PATH, k);
	}
	uint64_t checked = 0;
	for (uint64_t id = 0; id < THREADS * PER_THREAD; id++) {
		uint64_t meta = run->recs[id].meta;
		enum kind kind = (enum kind)(meta & 0xff);
		if (run->recs[id].seen && (kind == K_DISTANCE || kind == K_PATH)) {
			unsigned k = (unsigned)(meta >> 8 & 0xff);
			if (run->recs[id].digest != ref[kind == K_PATH][k]) {
				T_FAILF("request %llu (%s of pair %u) was answered otherwise than "
					"the same query afterwards",
					(unsigned long long)id + 1,
					kind == K_PATH ? "PATH" : "DISTANCE", k);
			}
			checked++;
		}
	}
	ASSERT_GE(run->distances, 1);
	ASSERT_GE(run->path_replies, 1);
	ASSERT_GE(run->path_errors, 1);

	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(run->c, &info));
	ASSERT_EQ(info.reconnects, cfg->kills);
	h_ok("rings %u/%u, %u SIGKILLs with %zu, %zu, %zu path commands outstanding: %llu "
	     "commands each answered once (%llu DISTANCE, %llu PATH replied, %llu PATH "
	     "refused), %llu path answers as the same query alone, MOVEs and %u JOINs "
	     "applied once, %llu resubmitted",
	     cfg->cmd, cfg->res, cfg->kills, at_kill[0], at_kill[1], at_kill[2],
	     (unsigned long long)total, (unsigned long long)run->distances,
	     (unsigned long long)run->path_replies, (unsigned long long)run->path_errors,
	     (unsigned long long)checked, joined, (unsigned long long)info.resubmitted);
	cairn_close(run->c);
	free(run->recs);
	free(run);
	h_stop(d);
}

int main(int argc, char **argv)
{
	static const struct config configs[] = {
		{.cmd = 1024, .res = 1024, .kills = 3},
		{.cmd = 64, .res = 16, .kills = 3},
		{.cmd = 16, .res = 64, .kills = 3},
	};
	h_init(argc, argv, "reconnect_paths");
	struct h_rng rng;
	h_rng_seed(&rng, h_seed);
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		run_config(&configs[i], &rng);
	}
	h_pass();
}
