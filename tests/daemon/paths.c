/*
 * paths: the path commands through a live cairnd, checked against a Dijkstra written
 * here.
 *
 *  (a) On the embedded map, with its first-move table: before the table is built, AUTO
 *      answers by search and TABLE says TABLE_NOT_READY; once cairn_read_map says
 *      READY, for random pairs every method (AUTO, ASTAR, JPS, TABLE) gives the
 *      reference's exact step counts (DISTANCE), a first step that lies on a shortest
 *      path (NEXT_MOVE, 64 pairs a batch), and a legal path of that length (PATH, every
 *      cell and waypoints); PATH_TO_CLUE from a player to a clue likewise.
 *  (b) Every refusal: unknown hunt, player, clue, wrong hunt; off-map, blocked and
 *      unreachable endpoints (per item in a batch, for the command in PATH); an arena
 *      too small (BLOB_TOO_SMALL with the bytes needed); hand-built commands with a bad
 *      length, flags, method, count, or offsets outside the arena.
 *  (c) Off the apply thread: on a large maze, 24 A* PATH commands are pushed, then a
 *      MOVE: the MOVE is answered before the last path result comes back (results
 *      return in completion order, each matched by request id).
 *  (d) The table across a restart (SIGKILL): queries right after the restart are answered
 *      correctly by search while the table is rebuilt, then by the table (not waited
 *      for under a sanitizer, CAIRN_TEST_SANITIZED, where the build is slow).
 *  (e) --solver-threads 0: the apply thread answers everything itself, with the same
 *      answers.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "harness.h"
#include "map/map.h"

#define SEC    (1000ll * 1000 * 1000)
#define CELL   1000
#define PAIRS  64
#define ROUNDS 6

static const int DX[8] = {0, 1, 1, 1, 0, -1, -1, -1};
static const int DY[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

/* ---- the reference: Dijkstra on exact costs (straight, diagonal) ---- */

struct ref {
	const struct cairn__map *m;
	uint32_t *s, *d; /* per cell: steps of a shortest path from the source */
	uint32_t src;
};

static bool open_cell(const struct cairn__map *m, int x, int y)
{
	return cairn__map_passable(m, x, y);
}

static bool step_ok(const struct cairn__map *m, int x, int y, int d)
{
	int nx = x + DX[d], ny = y + DY[d];
	if (!open_cell(m, nx, ny)) {
		return false;
	}
	return !(d & 1) || (open_cell(m, x + DX[d], y) && open_cell(m, x, y + DY[d]));
}

static double cost(uint32_t s, uint32_t d)
{
	return s + d * M_SQRT2;
}

/* Dijkstra from src; a plain O(n^2)-free binary heap on doubles, ties by (s, d). */
static void ref_run(struct ref *r, int sx, int sy)
{
	const struct cairn__map *m = r->m;
	size_t n = (size_t)m->width * m->height;
	for (size_t i = 0; i < n; i++) {
		r->s[i] = r->d[i] = UINT32_MAX;
	}
	uint32_t *heap = malloc(n * 8 * sizeof(*heap) + 8);
	size_t hn = 0;
	uint32_t src = (uint32_t)sy * m->width + (uint32_t)sx;
	r->src = src;
	r->s[src] = r->d[src] = 0;
	heap[hn++] = src;
#define KEY(c) cost(r->s[c], r->d[c])
	/* Lazy deletion: a cell may sit in the heap several times; stale copies skipped. */
	double *key = malloc(n * 8 * sizeof(*key) + 8);
	key[0] = 0;
	while (hn) {
		uint32_t c = heap[0];
		double k = key[0];
		hn--;
		heap[0] = heap[hn];
		key[0] = key[hn];
		for (size_t i = 0;;) {
			size_t a = 2 * i + 1, b = a + 1, j = i;
			if (a < hn && key[a] < key[j]) {
				j = a;
			}
			if (b < hn && key[b] < key[j]) {
				j = b;
			}
			if (j == i) {
				break;
			}
			uint32_t tc = heap[i];
			double tk = key[i];
			heap[i] = heap[j];
			key[i] = key[j];
			heap[j] = tc;
			key[j] = tk;
			i = j;
		}
		if (k > KEY(c) + 1e-9) {
			continue;
		}
		int x = (int)(c % m->width), y = (int)(c / m->width);
		for (int d = 0; d < 8; d++) {
			if (!step_ok(m, x, y, d)) {
				continue;
			}
			uint32_t nc = (uint32_t)(y + DY[d]) * m->width + (uint32_t)(x + DX[d]);
			uint32_t ns = r->s[c] + !(d & 1), nd = r->d[c] + (d & 1);
			if (r->s[nc] == UINT32_MAX || cost(ns, nd) < KEY(nc) - 1e-9) {
				r->s[nc] = ns;
				r->d[nc] = nd;
				size_t i = hn++;
				heap[i] = nc;
				key[i] = cost(ns, nd);
				while (i > 0 && key[(i - 1) / 2] > key[i]) {
					size_t p = (i - 1) / 2;
					uint32_t tc = heap[i];
					double tk = key[i];
					heap[i] = heap[p];
					key[i] = key[p];
					heap[p] = tc;
					key[p] = tk;
					i = p;
				}
			}
		}
	}
#undef KEY
	free(heap);
	free(key);
}

static void ref_init(struct ref *r, const struct cairn__map *m)
{
	size_t n = (size_t)m->width * m->height;
	r->m = m;
	r->s = malloc(n * sizeof(uint32_t));
	r->d = malloc(n * sizeof(uint32_t));
	ASSERT_TRUE(r->s && r->d);
}

static void ref_free(struct ref *r)
{
	free(r->s);
	free(r->d);
}

static double ref_to(const struct ref *r, int x, int y)
{
	uint32_t c = (uint32_t)y * r->m->width + (uint32_t)x;
	return r->s[c] == UINT32_MAX ? -1 : cost(r->s[c], r->d[c]);
}

/* ---- helpers ---- */

static int32_t mm(int cell)
{
	return cell * CELL + CELL / 2;
}

static void random_open(const struct cairn__map *m, struct h_rng *g, int *x, int *y)
{
	do {
		*x = (int)h_rng_below(g, m->width);
		*y = (int)h_rng_below(g, m->height);
	} while (!open_cell(m, *x, *y));
}

/* Checks a path of points (cell centres): legal steps, from and to right, length. */
static void check_path(const struct cairn__map *m, const struct cairn_path_point *p, uint32_t n,
		       bool waypoints, int fx, int fy, int tx, int ty, double want,
		       const char *what)
{
	if (n == 0 || p[0].x != mm(fx) || p[0].y != mm(fy) || p[n - 1].x != mm(tx) ||
	    p[n - 1].y != mm(ty)) {
		T_FAILF("%s: the path does not run from (%d,%d) to (%d,%d)", what, fx, fy, tx, ty);
	}
	double len = 0;
	for (uint32_t i = 1; i < n; i++) {
		int ax = (p[i - 1].x - CELL / 2) / CELL, ay = (p[i - 1].y - CELL / 2) / CELL;
		int bx = (p[i].x - CELL / 2) / CELL, by = (p[i].y - CELL / 2) / CELL;
		int ddx = bx - ax, ddy = by - ay;
		int k = abs(ddx) > abs(ddy) ? abs(ddx) : abs(ddy);
		if (k == 0 || (!waypoints && k != 1) || (ddx && ddy && abs(ddx) != abs(ddy))) {
			T_FAILF("%s: step %u from (%d,%d) to (%d,%d) is not a line of moves", what,
				i, ax, ay, bx, by);
		}
		int sx = ddx / k, sy = ddy / k;
		int d = 0;
		while (DX[d] != sx || DY[d] != sy) {
			d++;
		}
		for (int j = 0; j < k; j++) {
			if (!step_ok(m, ax + j * sx, ay + j * sy, d)) {
				T_FAILF("%s: the step from (%d,%d) direction %d is illegal", what,
					ax + j * sx, ay + j * sy, d);
			}
			len += (d & 1) ? M_SQRT2 : 1;
		}
	}
	if (fabs(len - want) > 1e-9 * (want + 1)) {
		T_FAILF("%s: the path is %.9f long, the shortest %.9f", what, len, want);
	}
}

static uint32_t new_hunt(cairn_client *c, uint32_t map_id)
{
	struct cairn_hunt_params hp = {.map_id = map_id, .cell_mm = CELL};
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, &hp, &hc, 10 * SEC));
	return hc.hunt_id;
}

static uint32_t table_state(cairn_client *c, uint32_t map_id)
{
	struct cairn_map_info mi;
	ASSERT_OK(cairn_read_map(c, map_id, &mi));
	return __atomic_load_n(&mi.table_state, __ATOMIC_ACQUIRE);
}

/*
 * ROUNDS batches of PAIRS random pairs from random sources: DISTANCE, NEXT_MOVE, PATH
 * and PATH with waypoints by `method`, each against the reference. Returns the method
 * that answered the last batch.
 */
static uint32_t check_method(cairn_client *c, const struct cairn__map *m, uint32_t hunt,
			     unsigned method, uint64_t seed, struct ref *r)
{
	struct h_rng g;
	h_rng_seed(&g, seed);
	uint32_t used = 0;
	static struct cairn_path_point pts[20000];
	for (int round = 0; round < ROUNDS; round++) {
		int sx, sy;
		random_open(m, &g, &sx, &sy);
		ref_run(r, sx, sy);
		/* Same source for the batch: the reference answers every goal at once. */
		struct cairn_path_pair pairs[PAIRS];
		int gx[PAIRS], gy[PAIRS];
		for (int i = 0; i < PAIRS; i++) {
			random_open(m, &g, &gx[i], &gy[i]);
			pairs[i] = (struct cairn_path_pair){mm(sx), mm(sy), mm(gx[i]) + 123,
							    mm(gy[i]) - 321};
		}
		struct cairn_distance_item dist[PAIRS];
		struct cairn_next_move_item next[PAIRS];
		struct cairn_path_batch_reply info;
		ASSERT_OK(cairn_distances(c, hunt, pairs, PAIRS, method, dist, &info, 10 * SEC));
		for (int i = 0; i < PAIRS; i++) {
			double want = ref_to(r, gx[i], gy[i]);
			if (want < 0) {
				ASSERT_EQ(dist[i].status, CAIRN_E_UNREACHABLE);
				continue;
			}
			uint32_t cs = r->s[(uint32_t)gy[i] * m->width + (uint32_t)gx[i]];
			uint32_t cd = r->d[(uint32_t)gy[i] * m->width + (uint32_t)gx[i]];
			if (dist[i].status != 0 ||
			    dist[i].straight + dist[i].diagonal * M_SQRT2 != cs + cd * M_SQRT2) {
				T_FAILF("method %u: DISTANCE (%d,%d)->(%d,%d): status %d, %u + %u "
					"sqrt2; the reference %u + %u sqrt2",
					method, sx, sy, gx[i], gy[i], dist[i].status,
					dist[i].straight, dist[i].diagonal, cs, cd);
			}
			ASSERT_UEQ(dist[i].length_mm, (uint32_t)llround(want * CELL));
		}
		ASSERT_OK(cairn_next_moves(c, hunt, pairs, PAIRS, method, next, &info, 10 * SEC));
		used = info.method;
		/*
		 * Every first step must be legal and lead where the item says; for a few pairs
		 * it must also lie on a shortest path, which takes a search from the goal.
		 */
		for (int i = 0; i < PAIRS; i++) {
			if (next[i].status != 0) {
				ASSERT_TRUE(ref_to(r, gx[i], gy[i]) < 0);
				continue;
			}
			int d = next[i].dir;
			if (sx == gx[i] && sy == gy[i]) {
				ASSERT_UEQ(d, CAIRN_DIR_NONE);
				continue;
			}
			ASSERT_TRUE(d < 8 && step_ok(m, sx, sy, d));
			ASSERT_EQ(next[i].x, mm(sx + DX[d]));
			ASSERT_EQ(next[i].y, mm(sy + DY[d]));
		}
		for (int i = 0; i < 4; i++) {
			if (next[i].status != 0 || next[i].dir == CAIRN_DIR_NONE) {
				continue;
			}
			struct ref back;
			ref_init(&back, m);
			ref_run(&back, gx[i], gy[i]);
			int d = next[i].dir;
			double whole = ref_to(&back, sx, sy);
			double rest = ref_to(&back, sx + DX[d], sy + DY[d]);
			double step = (d & 1) ? M_SQRT2 : 1;
			ref_free(&back);
			if (fabs(step + rest - whole) > 1e-9 * whole) {
				T_FAILF("method %u: NEXT_MOVE (%d,%d)->(%d,%d) says direction %d, "
					"not on a shortest path (%.6f + %.6f vs %.6f)",
					method, sx, sy, gx[i], gy[i], d, step, rest, whole);
			}
		}
		for (int i = 0; i < 8; i++) {
			double want = ref_to(r, gx[i], gy[i]);
			struct cairn_path_reply pr;
			for (int wp = 0; wp < 2; wp++) {
				int rc = cairn_path(c, hunt, pairs[i].from_x, pairs[i].from_y,
						    pairs[i].to_x, pairs[i].to_y,
						    wp ? CAIRN_PATH_WAYPOINTS : 0, method, pts,
						    20000, &pr, 10 * SEC);
				if (want < 0) {
					ASSERT_EQ(rc, -CAIRN_E_UNREACHABLE);
					continue;
				}
				ASSERT_OK(rc);
				check_path(m, pts, pr.count, wp, sx, sy, gx[i], gy[i], want,
					   wp ? "PATH with waypoints" : "PATH");
				ASSERT_TRUE(wp ? pr.count <= pr.cells : pr.count == pr.cells);
				ASSERT_UEQ(pr.length_mm, (uint32_t)llround(want * CELL));
			}
		}
	}
	return used;
}

/* ---- (a) and (b): the embedded map ---- */

static struct cairn_msg raw(uint16_t type, uint8_t len, const void *p, size_t size)
{
	struct cairn_msg m;
	cairn_msg_init(&m, type, len);
	memcpy(m.payload, p, size);
	return m;
}

static void expect_refusal(cairn_client *c, struct cairn_msg m, int code, const char *what)
{
	struct cairn_msg res;
	int r = cairn_call(c, &m, &res, 10 * SEC);
	if (r != -code || res.hdr.type != CAIRN_MSG_ERROR) {
		T_FAILF("%s: %d (%s), expected %s", what, r, cairn_strerror(r),
			cairn_error_name(code));
	}
}

static void check_refusals(cairn_client *c, uint32_t hunt, const struct cairn__map *m)
{
	struct cairn_path_point pts[64];
	struct cairn_path_reply pr;
	int bx = -1, by = -1, ox = -1, oy = -1;
	for (uint32_t y = 0; y < m->height && bx < 0; y++) {
		for (uint32_t x = 0; x < m->width && bx < 0; x++) {
			if (!open_cell(m, (int)x, (int)y)) {
				bx = (int)x;
				by = (int)y;
			}
		}
	}
	ASSERT_TRUE(bx >= 0);
	struct h_rng g;
	h_rng_seed(&g, 7);
	random_open(m, &g, &ox, &oy);
	ASSERT_EQ(cairn_path(c, hunt + 1, mm(ox), mm(oy), mm(ox), mm(oy), 0, 0, pts, 64, &pr,
			     10 * SEC),
		  -CAIRN_E_UNKNOWN_HUNT);
	ASSERT_EQ(cairn_path(c, hunt, mm(bx), mm(by), mm(ox), mm(oy), 0, 0, pts, 64, &pr, 10 * SEC),
		  -CAIRN_E_BLOCKED);
	ASSERT_EQ(cairn_path(c, hunt, mm(ox), mm(oy), -5, mm(oy), 0, 0, pts, 64, &pr, 10 * SEC),
		  -CAIRN_E_OFF_MAP);
	ASSERT_EQ(cairn_path(c, hunt, mm(ox), mm(oy), (int32_t)m->width * CELL, mm(oy), 0, 0, pts,
			     64, &pr, 10 * SEC),
		  -CAIRN_E_OFF_MAP);
	/* A batch answers the good pairs and marks the bad ones. */
	struct cairn_path_pair pairs[4] = {{mm(ox), mm(oy), mm(ox), mm(oy)},
					   {mm(ox), mm(oy), mm(bx), mm(by)},
					   {-1, 0, mm(ox), mm(oy)},
					   {mm(ox), mm(oy), mm(ox), (int32_t)m->height * CELL}};
	struct cairn_distance_item di[4];
	struct cairn_path_batch_reply info;
	ASSERT_OK(cairn_distances(c, hunt, pairs, 4, CAIRN_METHOD_JPS, di, &info, 10 * SEC));
	ASSERT_EQ(di[0].status, 0);
	ASSERT_UEQ(di[0].straight + di[0].diagonal, 0);
	ASSERT_EQ(di[1].status, CAIRN_E_BLOCKED);
	ASSERT_EQ(di[2].status, CAIRN_E_OFF_MAP);
	ASSERT_EQ(di[3].status, CAIRN_E_OFF_MAP);
	ASSERT_UEQ(info.failed, 3);
	/* Too small an output: the bytes needed come back. */
	int fx, fy, tx, ty;
	struct ref r;
	ref_init(&r, m);
	do {
		random_open(m, &g, &fx, &fy);
		random_open(m, &g, &tx, &ty);
		ref_run(&r, fx, fy);
	} while (ref_to(&r, tx, ty) < 20);
	uint32_t cells = r.s[(uint32_t)ty * m->width + (uint32_t)tx] +
			 r.d[(uint32_t)ty * m->width + (uint32_t)tx] + 1;
	ref_free(&r);
	ASSERT_EQ(cairn_path(c, hunt, mm(fx), mm(fy), mm(tx), mm(ty), 0, CAIRN_METHOD_ASTAR, pts, 8,
			     &pr, 10 * SEC),
		  -CAIRN_E_BLOB_TOO_SMALL);
	ASSERT_UEQ(pr.count, cells);
	h_ok("(b) unknown hunt, blocked, off-map endpoints; a batch with 3 bad pairs of 4 "
	     "(per-item codes); a %u-cell path into room for 8: BLOB_TOO_SMALL, %u needed",
	     cells, pr.count);

	/* Players and clues. */
	uint32_t p1, c1, h2 = new_hunt(c, 0), p2;
	ASSERT_OK(cairn_join(c, hunt, mm(fx), mm(fy), &p1, 10 * SEC));
	ASSERT_OK(cairn_clue_place(c, hunt, mm(tx), mm(ty), 5, &c1, 10 * SEC));
	ASSERT_OK(cairn_join(c, h2, mm(fx), mm(fy), &p2, 10 * SEC));
	ASSERT_OK(cairn_path_to_clue(c, hunt, p1, c1, CAIRN_PATH_WAYPOINTS, 0, pts, 64, &pr,
				     10 * SEC));
	ASSERT_UEQ(pr.cells, cells);
	ASSERT_EQ(cairn_path_to_clue(c, hunt, p1 + 1, c1, 0, 0, pts, 64, &pr, 10 * SEC),
		  -CAIRN_E_UNKNOWN_PLAYER);
	ASSERT_EQ(cairn_path_to_clue(c, hunt, p1, c1 + 1, 0, 0, pts, 64, &pr, 10 * SEC),
		  -CAIRN_E_UNKNOWN_CLUE);
	ASSERT_EQ(cairn_path_to_clue(c, hunt, p2, c1, 0, 0, pts, 64, &pr, 10 * SEC),
		  -CAIRN_E_WRONG_HUNT);
	ASSERT_EQ(cairn_path_to_clue(c, hunt, c1, p1, 0, 0, pts, 64, &pr, 10 * SEC),
		  -CAIRN_E_UNKNOWN_PLAYER);
	h_ok("(b) PATH_TO_CLUE: %u cells from the player to the clue; unknown player, unknown "
	     "clue, a player of another hunt, ids swapped: refused by code",
	     pr.cells);

	/* Hand-built commands. */
	size_t size;
	uint8_t *blob = cairn_blob(c, &size);
	ASSERT_TRUE(blob && size >= 65536);
	memcpy(blob, pairs, sizeof(pairs[0]));
	struct cairn_path_batch b = {.hunt_id = hunt,
				     .count = 1,
				     .in_offset = 0,
				     .out_offset = 4096,
				     .out_capacity = 1024};
	struct cairn_msg ok = raw(CAIRN_MSG_NEXT_MOVE, CAIRN_MSG_NEXT_MOVE_LEN_MIN, &b, sizeof(b));
	struct cairn_msg res;
	ASSERT_OK(cairn_call(c, &ok, &res, 10 * SEC));
	struct cairn_msg bm = ok;
	bm.hdr.length = 20;
	expect_refusal(c, bm, CAIRN_E_BAD_LENGTH, "NEXT_MOVE of length 20");
	bm = ok;
	bm.hdr.flags = 1;
	expect_refusal(c, bm, CAIRN_E_BAD_FLAGS, "NEXT_MOVE with a flag");
	struct cairn_path_batch bad = b;
	bad.method = 4;
	expect_refusal(c, raw(CAIRN_MSG_NEXT_MOVE, 24, &bad, sizeof(bad)), CAIRN_E_BAD_VALUE,
		       "method 4");
	bad = b;
	bad.count = 0;
	expect_refusal(c, raw(CAIRN_MSG_DISTANCE, 24, &bad, sizeof(bad)), CAIRN_E_BAD_VALUE,
		       "count 0");
	bad.count = CAIRN_MAX_PATH_BATCH + 1;
	expect_refusal(c, raw(CAIRN_MSG_DISTANCE, 24, &bad, sizeof(bad)), CAIRN_E_BAD_VALUE,
		       "count 65");
	bad = b;
	bad.in_offset = (uint32_t)size - 8;
	expect_refusal(c, raw(CAIRN_MSG_NEXT_MOVE, 24, &bad, sizeof(bad)), CAIRN_E_BLOB_RANGE,
		       "pairs past the arena");
	bad = b;
	bad.in_offset = 4;
	expect_refusal(c, raw(CAIRN_MSG_NEXT_MOVE, 24, &bad, sizeof(bad)), CAIRN_E_BLOB_RANGE,
		       "misaligned pairs");
	bad = b;
	bad.out_offset = 0xFFFFFFF8u;
	expect_refusal(c, raw(CAIRN_MSG_NEXT_MOVE, 24, &bad, sizeof(bad)), CAIRN_E_BLOB_RANGE,
		       "answers past the arena");
	bad = b;
	bad.out_capacity = 15;
	expect_refusal(c, raw(CAIRN_MSG_NEXT_MOVE, 24, &bad, sizeof(bad)), CAIRN_E_BLOB_TOO_SMALL,
		       "room for less than one answer");
	struct cairn_path p = {.hunt_id = hunt,
			       .from_x = mm(ox),
			       .from_y = mm(oy),
			       .to_x = mm(ox),
			       .to_y = mm(oy),
			       .out_offset = 4096,
			       .out_capacity = 64,
			       .flags = 2};
	expect_refusal(c, raw(CAIRN_MSG_PATH, 36, &p, sizeof(p)), CAIRN_E_BAD_VALUE, "PATH flag 2");
	p.flags = 0;
	p.out_capacity = (uint32_t)size;
	expect_refusal(c, raw(CAIRN_MSG_PATH, 36, &p, sizeof(p)), CAIRN_E_BLOB_RANGE,
		       "PATH output past the arena");
	h_ok("(b) hand-built: bad length, a flag, method 4, counts 0 and 65, input past the "
	     "arena and misaligned, output past the arena and too small, PATH flag 2: each "
	     "refused with its code; the daemon still answers");
}

/* A map in two halves with no way between them, as Moving AI text. */
static void write_split_map(const char *path, int w, int h, struct cairn__map **out)
{
	size_t len = 64 + (size_t)(w + 1) * h;
	char *t = malloc(len);
	int n = snprintf(t, len, "type octile\nheight %d\nwidth %d\nmap\n", h, w);
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			t[n++] = x == w / 2 ? '@' : '.';
		}
		t[n++] = '\n';
	}
	FILE *f = fopen(path, "w");
	ASSERT_TRUE(f && fwrite(t, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	ASSERT_OK(cairn__map_parse(t, (size_t)n, "split", out, NULL));
	free(t);
}

/* A maze of corridors one cell wide (a depth-first carve), w and h odd. */
static void write_maze(const char *path, int w, int h, uint64_t seed)
{
	char *g = malloc((size_t)w * h);
	memset(g, '@', (size_t)w * h);
	int *stack = malloc(sizeof(int) * (size_t)w * h);
	int sp = 0;
	struct h_rng r;
	h_rng_seed(&r, seed);
	g[1 * w + 1] = '.';
	stack[sp++] = 1 * w + 1;
	while (sp) {
		int c = stack[sp - 1], x = c % w, y = c / w;
		int opts[4], k = 0;
		static const int mx[4] = {2, -2, 0, 0}, my[4] = {0, 0, 2, -2};
		for (int d = 0; d < 4; d++) {
			int nx = x + mx[d], ny = y + my[d];
			if (nx > 0 && ny > 0 && nx < w - 1 && ny < h - 1 && g[ny * w + nx] == '@') {
				opts[k++] = d;
			}
		}
		if (!k) {
			sp--;
			continue;
		}
		int d = opts[h_rng_below(&r, (uint64_t)k)];
		g[(y + my[d] / 2) * w + x + mx[d] / 2] = '.';
		g[(y + my[d]) * w + x + mx[d]] = '.';
		stack[sp++] = (y + my[d]) * w + x + mx[d];
	}
	FILE *f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	fprintf(f, "type octile\nheight %d\nwidth %d\nmap\n", h, w);
	for (int y = 0; y < h; y++) {
		fwrite(g + (size_t)y * w, 1, (size_t)w, f);
		fputc('\n', f);
	}
	fclose(f);
	free(g);
	free(stack);
}

static const char *method_name(uint32_t m)
{
	static const char *const names[] = {"AUTO", "ASTAR", "JPS", "TABLE"};
	return m < 4 ? names[m] : "?";
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "paths");
	struct cairn__map *def, *split;
	ASSERT_OK(cairn__map_default(&def));
	struct h_daemon *d = h_prepare();
	char split_path[256], maze_path[256];
	snprintf(split_path, sizeof(split_path), "%s/split.map", d->dir);
	snprintf(maze_path, sizeof(maze_path), "%s/maze.map", d->dir);
	write_split_map(split_path, 40, 30, &split);
	write_maze(maze_path, 401, 401, 42);
	const char *const args[] = {"--table-max-cells", "16384", "--solver-threads", "1", "--map",
				    split_path,          "--map", maze_path,          NULL};
	h_spawn(d, args);
	h_wait_ready(d);
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	uint32_t hunt = new_hunt(c, 0);
	struct ref r;
	ref_init(&r, def);

	/* (a) Before the table: TABLE refused, AUTO searches (if the build is not done yet). */
	struct cairn_path_pair one = {mm(10), mm(10), mm(100), mm(80)};
	struct cairn_next_move_item nm;
	struct cairn_path_batch_reply info;
	bool saw_building = false;
	if (table_state(c, 0) == CAIRN_TABLE_BUILDING) {
		int rc = cairn_next_moves(c, hunt, &one, 1, CAIRN_METHOD_TABLE, &nm, &info,
					  10 * SEC);
		if (table_state(c, 0) == CAIRN_TABLE_BUILDING || rc == -CAIRN_E_TABLE_NOT_READY) {
			ASSERT_TRUE(rc == -CAIRN_E_TABLE_NOT_READY || rc == 0);
			saw_building = rc == -CAIRN_E_TABLE_NOT_READY;
		}
		uint32_t used = check_method(c, def, hunt, CAIRN_METHOD_AUTO, 1, &r);
		h_ok("(a) while the table was building: TABLE %s; AUTO answered %d pairs right "
		     "(last batch by %s)",
		     saw_building ? "refused with TABLE_NOT_READY" : "already answered",
		     ROUNDS * PAIRS, method_name(used));
	}
	uint64_t t0 = h_now_ns();
	while (table_state(c, 0) != CAIRN_TABLE_READY) {
		ASSERT_TRUE(table_state(c, 0) == CAIRN_TABLE_BUILDING);
		if (h_now_ns() - t0 > 300 * SEC) {
			T_FAILF("the first-move table of the embedded map was not built in 300 s");
		}
		h_sleep_us(20000);
	}
	ASSERT_UEQ(table_state(c, 2), CAIRN_TABLE_NONE); /* the maze is over the limit */
	for (unsigned m = 0; m < 4; m++) {
		uint32_t used = check_method(c, def, hunt, m, 100 + m, &r);
		ASSERT_UEQ(used, m == CAIRN_METHOD_AUTO ? CAIRN_METHOD_TABLE : m);
		h_ok("(a) method %s (answered by %s): %d DISTANCE and NEXT_MOVE pairs, %d PATHs "
		     "with and without waypoints: exact",
		     method_name(m), method_name(used), ROUNDS * PAIRS, ROUNDS * 8);
	}
	check_refusals(c, hunt, def);

	/* Unreachable, on the split map (map 1). */
	uint32_t sh = new_hunt(c, 1);
	struct cairn_path_point pts[16];
	struct cairn_path_reply pr;
	for (unsigned m = 0; m < 4; m++) {
		ASSERT_EQ(cairn_path(c, sh, mm(2), mm(2), mm(30), mm(20), 0, m, pts, 16, &pr,
				     10 * SEC),
			  -CAIRN_E_UNREACHABLE);
	}
	struct cairn_path_pair across = {mm(2), mm(2), mm(30), mm(20)};
	struct cairn_distance_item di;
	ASSERT_OK(cairn_distances(c, sh, &across, 1, CAIRN_METHOD_ASTAR, &di, &info, 10 * SEC));
	ASSERT_EQ(di.status, CAIRN_E_UNREACHABLE);
	h_ok("(b) two halves with no way between: UNREACHABLE by every method, in PATH and "
	     "per item");

	/* (c) Completion order: slow A* paths on the maze, then a MOVE. */
	uint32_t mh = new_hunt(c, 2), player;
	ASSERT_OK(cairn_join(c, mh, mm(1), mm(1), &player, 10 * SEC));
	size_t size;
	enum { NPATH = 24 };
	struct cairn_msg cmds[NPATH + 1];
	uint8_t *blob = cairn_blob(c, &size);
	for (int i = 0; i < NPATH; i++) {
		struct cairn_path_pair far[4];
		for (int k = 0; k < 4; k++) {
			far[k] = (struct cairn_path_pair){mm(1), mm(1), mm(399 - 2 * ((i + k) % 5)),
							  mm(399 - 2 * k)};
		}
		memcpy(blob + i * 256, far, sizeof(far));
		struct cairn_path_batch b = {.hunt_id = mh,
					     .count = 4,
					     .in_offset = (uint32_t)(i * 256),
					     .out_offset = (uint32_t)(i * 256 + 128),
					     .out_capacity = 128,
					     .method = CAIRN_METHOD_ASTAR};
		cmds[i] = raw(CAIRN_MSG_DISTANCE, 24, &b, sizeof(b));
		cmds[i].hdr.request_id = 1000 + (uint64_t)i;
	}
	cairn_msg_move(&cmds[NPATH], mh, player, mm(1) + 400, mm(1));
	cmds[NPATH].hdr.request_id = 5000;
	uint64_t ts = h_now_ns();
	for (int i = 0; i <= NPATH; i++) {
		ASSERT_OK(cairn_submit(c, &cmds[i]));
	}
	int got = 0, move_at = -1, paths_before_move = 0;
	uint64_t move_ns = 0, last_ns = 0;
	bool seen[NPATH + 1] = {false};
	while (got < NPATH + 1) {
		struct cairn_msg res;
		int rc = cairn_wait(c, &res, 30 * SEC);
		ASSERT_OK(rc);
		uint64_t id = res.hdr.request_id;
		if (id == 5000) {
			ASSERT_UEQ(res.hdr.type, CAIRN_MSG_MOVED);
			move_at = got;
			move_ns = h_now_ns() - ts;
			paths_before_move = got;
		} else {
			ASSERT_TRUE(id >= 1000 && id < 1000 + NPATH && !seen[id - 1000]);
			seen[id - 1000] = true;
			ASSERT_UEQ(res.hdr.type, CAIRN_MSG_DISTANCE_REPLY);
			struct cairn_distance_item items[4];
			memcpy(items, blob + (id - 1000) * 256 + 128, sizeof(items));
			for (int k = 0; k < 4; k++) {
				ASSERT_EQ(items[k].status, 0);
				ASSERT_TRUE(items[k].straight + items[k].diagonal >= 398);
			}
			last_ns = h_now_ns() - ts;
		}
		got++;
	}
	if (move_at == NPATH) {
		T_FAILF("(c) the MOVE was answered after all %d A* paths: path commands held up "
			"the apply thread",
			NPATH);
	}
	h_ok("(c) %d A* DISTANCE batches of 4 on a 401x401 maze, then a MOVE: the MOVE came "
	     "back after %d of them, in %.2f ms; the last batch after %.1f ms; each once, by "
	     "request id",
	     NPATH, paths_before_move, (double)move_ns / 1e6, (double)last_ns / 1e6);

	/*
	 * (c) Path calls that give up keep their arena slices until their own late results
	 * come: answers to later commands prove nothing about a search still running.
	 */
	struct cairn_path_pair farp = {mm(1), mm(1), mm(399), mm(399)};
	struct cairn_distance_item fd;
	/* Slow work first, so that the worker is still busy when the slices are looked at. */
	for (int i = 0; i < NPATH; i++) {
		cmds[i].hdr.request_id = 2000 + (uint64_t)i;
		ASSERT_OK(cairn_submit(c, &cmds[i]));
	}
	for (int i = 0; i < CAIRN_QUERY_SLICES_MAX; i++) {
		ASSERT_EQ(cairn_distances(c, mh, &farp, 1, CAIRN_METHOD_ASTAR, &fd, &info, 1000),
			  -ETIMEDOUT);
	}
	ASSERT_EQ(cairn_distances(c, mh, &farp, 1, CAIRN_METHOD_JPS, &fd, &info, 10 * SEC), -EBUSY);
	t0 = h_now_ns();
	int rc;
	while ((rc = cairn_distances(c, mh, &farp, 1, CAIRN_METHOD_JPS, &fd, &info, 10 * SEC)) ==
	       -EBUSY) {
		ASSERT_OK(cairn_ping(c, 10 * SEC)); /* takes the late results off the ring */
		if (h_now_ns() - t0 > 60 * SEC) {
			T_FAILF("(c) the slices of timed-out path calls were never freed");
		}
		h_sleep_us(5000);
	}
	ASSERT_OK(rc);
	ASSERT_TRUE(fd.status == 0 && fd.straight + fd.diagonal >= 398);
	for (int i = 0; i < NPATH; i++) {
		struct cairn_msg res;
		ASSERT_OK(cairn_wait(c, &res, 30 * SEC));
		ASSERT_TRUE(res.hdr.request_id >= 2000 && res.hdr.request_id < 2000 + NPATH);
	}
	h_ok("(c) %d A* calls timed out: every slice stayed busy (EBUSY) until their late "
	     "answers came, %.0f ms later; then the next call was answered",
	     CAIRN_QUERY_SLICES_MAX, (double)(h_now_ns() - t0) / 1e6);

	/* (d) A restart: correct answers while the table is rebuilt, then the table again. */
	cairn_close(c);
	h_signal(d, SIGKILL);
	ASSERT_TRUE(h_wait_exit(d, 10000));
	h_spawn(d, args);
	h_wait_ready(d);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	uint32_t st = table_state(c, 0);
	uint32_t used = check_method(c, def, hunt, CAIRN_METHOD_AUTO, 9, &r);
	/*
	 * Under a sanitizer (CAIRN_TEST_SANITIZED, set for paths-tsan) the rebuild is not
	 * waited for: it takes a minute or more there, and (a) has checked the table's
	 * answers already.
	 */
	const char *san = getenv("CAIRN_TEST_SANITIZED");
	if (san && *san && strcmp(san, "0") != 0) {
		h_ok("(d) after SIGKILL and a restart: the table %s at first, answers by %s "
		     "exact (the rebuild is not waited for under a sanitizer)",
		     st == CAIRN_TABLE_BUILDING ? "was building" : "was already rebuilt",
		     method_name(used));
	} else {
		t0 = h_now_ns();
		while (table_state(c, 0) != CAIRN_TABLE_READY) {
			if (h_now_ns() - t0 > 300 * SEC) {
				T_FAILF("the table was not rebuilt in 300 s");
			}
			h_sleep_us(20000);
		}
		uint32_t used2 = check_method(c, def, hunt, CAIRN_METHOD_AUTO, 10, &r);
		ASSERT_UEQ(used2, CAIRN_METHOD_TABLE);
		h_ok("(d) after SIGKILL and a restart: the table %s at first, answers by %s "
		     "exact; rebuilt, then answered by %s",
		     st == CAIRN_TABLE_BUILDING ? "was building" : "was already rebuilt",
		     method_name(used), method_name(used2));
	}
	cairn_close(c);
	h_stop(d);

	/* (e) No workers: the apply thread answers everything. */
	const char *const inl[] = {"--solver-threads", "0",     "--table-max-cells", "0", "--map",
				   split_path,         "--map", maze_path,           NULL};
	h_spawn(d, inl);
	h_wait_ready(d);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	for (unsigned m = 0; m < 3; m++) {
		check_method(c, def, hunt, m, 200 + m, &r);
	}
	ASSERT_EQ(cairn_next_moves(c, hunt, &one, 1, CAIRN_METHOD_TABLE, &nm, &info, 10 * SEC),
		  -CAIRN_E_TABLE_NOT_READY);
	h_ok("(e) --solver-threads 0 --table-max-cells 0: AUTO, ASTAR and JPS exact from the "
	     "apply thread; TABLE refused with TABLE_NOT_READY");
	cairn_close(c);
	h_stop(d);
	ref_free(&r);
	cairn__map_free(def);
	cairn__map_free(split);
	h_pass();
}
