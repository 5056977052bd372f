#include "kit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool kit_sanitized(void)
{
	const char *s = getenv("CAIRN_TEST_SANITIZED");
	return s && *s && strcmp(s, "0") != 0;
}

uint64_t kit_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : UINT64_C(0x9e3779b97f4a7c15);
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

uint32_t kit_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)((kit_rand(state) >> 32) % n);
}

/* ---- maps ---- */

struct cairn__map *kit_map(const char *name, uint32_t w, uint32_t h, const char *cells)
{
	size_t cap = 64 + (size_t)(w + 1) * h;
	char *text = malloc(cap);
	ASSERT_TRUE(text != NULL);
	size_t len = (size_t)snprintf(text, cap, "type octile\nheight %u\nwidth %u\nmap\n", h, w);
	for (uint32_t y = 0; y < h; y++) {
		memcpy(text + len, cells + (size_t)y * w, w);
		len += w;
		text[len++] = '\n';
	}
	struct cairn__map *m = NULL;
	struct cairn__map_error err;
	int r = cairn__map_parse(text, len, name, &m, &err);
	if (r < 0) {
		T_FAILF("%s: cairn__map_parse returned %d (%s) at %u:%u: %s", name, r,
			cairn_strerror(r), err.line, err.column, err.message);
	}
	free(text);
	return m;
}

static char *cells_new(uint32_t w, uint32_t h, char fill)
{
	char *c = malloc((size_t)w * h);
	ASSERT_TRUE(c != NULL);
	memset(c, fill, (size_t)w * h);
	return c;
}

static struct cairn__map *finish(const char *name, uint32_t w, uint32_t h, char *cells)
{
	struct cairn__map *m = kit_map(name, w, h, cells);
	free(cells);
	return m;
}

struct cairn__map *kit_gen_open(uint32_t w, uint32_t h)
{
	return finish("open", w, h, cells_new(w, h, '.'));
}

struct cairn__map *kit_gen_random(uint32_t w, uint32_t h, unsigned pct, uint64_t seed)
{
	char *c = cells_new(w, h, '.');
	uint64_t rng = seed;
	for (size_t i = 0; i < (size_t)w * h; i++) {
		if (kit_below(&rng, 100) < pct) {
			c[i] = '@';
		}
	}
	char name[32];
	snprintf(name, sizeof(name), "random%u-%u", pct, (unsigned)seed);
	return finish(name, w, h, c);
}

struct cairn__map *kit_gen_maze(uint32_t w, uint32_t h, uint64_t seed)
{
	char *c = cells_new(w, h, '@');
	uint64_t rng = seed;
	/* Rooms of the maze at odd coordinates; carve by depth-first search. */
	uint32_t cw = (w - 1) / 2, ch = (h - 1) / 2;
	if (cw == 0 || ch == 0) {
		return finish("maze", w, h, c);
	}
	uint32_t *stack = malloc((size_t)cw * ch * sizeof(*stack));
	bool *seen = calloc((size_t)cw * ch, 1);
	ASSERT_TRUE(stack && seen);
	size_t top = 0;
	stack[top++] = 0;
	seen[0] = true;
	c[(size_t)1 * w + 1] = '.';
	while (top > 0) {
		uint32_t cur = stack[top - 1], cx = cur % cw, cy = cur / cw;
		uint32_t opts[4], k = 0;
		static const int ox[4] = {1, -1, 0, 0}, oy[4] = {0, 0, 1, -1};
		for (unsigned i = 0; i < 4; i++) {
			int64_t nx = (int64_t)cx + ox[i], ny = (int64_t)cy + oy[i];
			if (nx >= 0 && ny >= 0 && nx < cw && ny < ch && !seen[ny * cw + nx]) {
				opts[k++] = i;
			}
		}
		if (k == 0) {
			top--;
			continue;
		}
		unsigned i = opts[kit_below(&rng, k)];
		uint32_t nx = (uint32_t)((int64_t)cx + ox[i]), ny = (uint32_t)((int64_t)cy + oy[i]);
		seen[ny * cw + nx] = true;
		c[(size_t)(2 * ny + 1) * w + 2 * nx + 1] = '.';
		c[(size_t)(cy + ny + 1) * w + cx + nx + 1] = '.';
		stack[top++] = ny * cw + nx;
	}
	/* Knock out a few walls so that there are loops, and so several optimal paths. */
	for (uint32_t i = 0; i < cw * ch / 10; i++) {
		uint32_t x = 1 + kit_below(&rng, w - 2), y = 1 + kit_below(&rng, h - 2);
		c[(size_t)y * w + x] = '.';
	}
	free(stack);
	free(seen);
	return finish("maze", w, h, c);
}

struct cairn__map *kit_gen_rooms(uint32_t w, uint32_t h, uint64_t seed)
{
	char *c = cells_new(w, h, '.');
	uint64_t rng = seed;
	/* Walls on a jittered grid, then doors: straight gaps, and diagonal squeezes. */
	for (uint32_t x = 4 + kit_below(&rng, 4); x < w; x += 5 + kit_below(&rng, 6)) {
		for (uint32_t y = 0; y < h; y++) {
			c[(size_t)y * w + x] = '@';
		}
		for (uint32_t y = kit_below(&rng, 6); y < h; y += 4 + kit_below(&rng, 8)) {
			c[(size_t)y * w + x] = '.';
		}
	}
	for (uint32_t y = 4 + kit_below(&rng, 4); y < h; y += 5 + kit_below(&rng, 6)) {
		for (uint32_t x = 0; x < w; x++) {
			c[(size_t)y * w + x] = '@';
		}
		for (uint32_t x = kit_below(&rng, 6); x < w; x += 4 + kit_below(&rng, 8)) {
			c[(size_t)y * w + x] = '.';
			/* A squeeze: the door's neighbour on the next row blocked, diagonal open.
			 */
			if (kit_below(&rng, 3) == 0 && y + 1 < h && x + 1 < w) {
				c[(size_t)(y + 1) * w + x] = '@';
			}
		}
	}
	return finish("rooms", w, h, c);
}

struct cairn__map *kit_gen_split(uint32_t w, uint32_t h)
{
	char *c = cells_new(w, h, '.');
	for (uint32_t y = 0; y < h; y++) {
		c[(size_t)y * w + w / 2] = '@';
	}
	return finish("split", w, h, c);
}

struct cairn__map *kit_gen_squeeze(uint32_t w, uint32_t h, uint64_t seed)
{
	char *c = cells_new(w, h, '.');
	uint64_t rng = seed;
	/* Diagonal walls of single blocked cells touching at corners, with a few gaps. */
	for (uint32_t k = 0; k < (w + h) / 6; k++) {
		int64_t x = kit_below(&rng, w), y = kit_below(&rng, h);
		int64_t sx = kit_below(&rng, 2) ? 1 : -1;
		uint32_t len = 4 + kit_below(&rng, w / 2 + 1);
		for (uint32_t i = 0; i < len && x >= 0 && x < w && y < h; i++, x += sx, y++) {
			if (kit_below(&rng, 12) != 0) {
				c[(size_t)y * w + (size_t)x] = '@';
			}
		}
	}
	/* A checkerboard patch: its free cells touch only at corners. */
	uint32_t px = kit_below(&rng, w / 2 + 1), py = kit_below(&rng, h / 2 + 1);
	for (uint32_t y = py; y < py + h / 4 && y < h; y++) {
		for (uint32_t x = px; x < px + w / 4 && x < w; x++) {
			c[(size_t)y * w + x] = (x + y) % 2 ? '@' : '.';
		}
	}
	/* 1-cell corridors through a solid band. */
	uint32_t band = h / 2;
	for (uint32_t y = band; y < band + 3 && y < h; y++) {
		for (uint32_t x = 0; x < w; x++) {
			c[(size_t)y * w + x] = '@';
		}
	}
	for (uint32_t x = 1; x < w; x += 3 + kit_below(&rng, 5)) {
		for (uint32_t y = band; y < band + 3 && y < h; y++) {
			/* Zig-zag by one column now and then: a diagonal squeeze inside it. */
			uint32_t cx = x + (y == band + 1 && kit_below(&rng, 2) && x + 1 < w);
			c[(size_t)y * w + cx] = '.';
		}
	}
	return finish("squeeze", w, h, c);
}

struct cairn__cell kit_random_passable(const struct cairn__map *m, uint64_t *rng)
{
	ASSERT_TRUE(m->passable > 0);
	for (;;) {
		uint32_t x = kit_below(rng, m->width), y = kit_below(rng, m->height);
		if (m->cells[(size_t)y * m->width + x]) {
			return (struct cairn__cell){(int32_t)x, (int32_t)y};
		}
	}
}

/* ---- the reference ---- */

static const int dxs[8] = {0, 1, 1, 1, 0, -1, -1, -1};
static const int dys[8] = {-1, -1, 0, 1, 1, 1, 0, -1};

static bool open_cell(const struct cairn__map *m, int64_t x, int64_t y)
{
	return x >= 0 && y >= 0 && x < (int64_t)m->width && y < (int64_t)m->height &&
	       m->cells[(size_t)y * m->width + (size_t)x];
}

bool kit_step_legal(const struct cairn__map *m, int64_t x, int64_t y, unsigned d)
{
	if (d > 7 || !open_cell(m, x, y) || !open_cell(m, x + dxs[d], y + dys[d])) {
		return false;
	}
	return d % 2 == 0 || (open_cell(m, x + dxs[d], y) && open_cell(m, x, y + dys[d]));
}

void kit_ref_init(struct kit_ref *ref, const struct cairn__map *m)
{
	size_t n = (size_t)m->width * m->height;
	ref->m = m;
	ref->straight = malloc(n * sizeof(uint32_t));
	ref->diagonal = malloc(n * sizeof(uint32_t));
	ASSERT_TRUE(ref->straight && ref->diagonal);
}

void kit_ref_free(struct kit_ref *ref)
{
	free(ref->straight);
	free(ref->diagonal);
}

struct qitem {
	double d;
	uint32_t cell;
};

static double value(uint32_t s, uint32_t d)
{
	return (double)s + (double)d * sqrt(2.0);
}

void kit_ref_run(struct kit_ref *ref, struct cairn__cell target)
{
	const struct cairn__map *m = ref->m;
	size_t n = (size_t)m->width * m->height;
	for (size_t i = 0; i < n; i++) {
		ref->straight[i] = ref->diagonal[i] = UINT32_MAX;
	}
	ref->target = target;
	size_t cap = 8 * n + 1, len = 0;
	struct qitem *q = malloc(cap * sizeof(*q));
	bool *done = calloc(n, 1);
	ASSERT_TRUE(q && done);
	uint32_t t = (uint32_t)target.y * m->width + (uint32_t)target.x;
	ref->straight[t] = ref->diagonal[t] = 0;
	q[len++] = (struct qitem){0, t};
	while (len > 0) {
		/* Pop the least (a plain binary heap). */
		struct qitem top = q[0], last = q[--len];
		size_t i = 0;
		for (;;) {
			size_t c = 2 * i + 1;
			if (c >= len) {
				break;
			}
			if (c + 1 < len && q[c + 1].d < q[c].d) {
				c++;
			}
			if (q[c].d >= last.d) {
				break;
			}
			q[i] = q[c];
			i = c;
		}
		if (len > 0) {
			q[i] = last;
		}
		uint32_t u = top.cell;
		if (done[u]) {
			continue;
		}
		done[u] = true;
		int64_t x = u % m->width, y = u / m->width;
		/* Steps are symmetric, so distances to t are distances from t. */
		for (unsigned d = 0; d < 8; d++) {
			if (!kit_step_legal(m, x, y, d)) {
				continue;
			}
			uint32_t v = (uint32_t)((y + dys[d]) * m->width + (x + dxs[d]));
			uint32_t s = ref->straight[u] + (d % 2 == 0),
				 g = ref->diagonal[u] + (d % 2);
			if (ref->straight[v] != UINT32_MAX &&
			    value(ref->straight[v], ref->diagonal[v]) <= value(s, g)) {
				continue;
			}
			ref->straight[v] = s;
			ref->diagonal[v] = g;
			ASSERT_TRUE(len < cap);
			size_t j = len++;
			double dv = value(s, g);
			while (j > 0 && q[(j - 1) / 2].d > dv) {
				q[j] = q[(j - 1) / 2];
				j = (j - 1) / 2;
			}
			q[j] = (struct qitem){dv, v};
		}
	}
	free(q);
	free(done);
}

bool kit_ref_cost(const struct kit_ref *ref, struct cairn__cell c, struct cairn__cost *cost)
{
	size_t i = (size_t)c.y * ref->m->width + (size_t)c.x;
	if (ref->straight[i] == UINT32_MAX) {
		return false;
	}
	*cost = (struct cairn__cost){ref->straight[i], ref->diagonal[i]};
	return true;
}

void kit_check_path(const char *ctx, const struct cairn__map *m, struct cairn__cell from,
		    struct cairn__cell to, const struct cairn__cell *cells, uint32_t n,
		    struct cairn__cost cost)
{
	if (n == 0) {
		T_FAILF("%s: empty path", ctx);
	}
	if (cells[0].x != from.x || cells[0].y != from.y) {
		T_FAILF("%s: path starts at (%d, %d)", ctx, cells[0].x, cells[0].y);
	}
	if (cells[n - 1].x != to.x || cells[n - 1].y != to.y) {
		T_FAILF("%s: path ends at (%d, %d)", ctx, cells[n - 1].x, cells[n - 1].y);
	}
	uint32_t straight = 0, diagonal = 0;
	for (uint32_t i = 1; i < n; i++) {
		int dx = cells[i].x - cells[i - 1].x, dy = cells[i].y - cells[i - 1].y;
		unsigned d = 8;
		for (unsigned k = 0; k < 8; k++) {
			if (dxs[k] == dx && dys[k] == dy) {
				d = k;
			}
		}
		if (d == 8) {
			T_FAILF("%s: step %u from (%d, %d) to (%d, %d) is not one of the 8", ctx, i,
				cells[i - 1].x, cells[i - 1].y, cells[i].x, cells[i].y);
		}
		if (!kit_step_legal(m, cells[i - 1].x, cells[i - 1].y, d)) {
			T_FAILF("%s: step %u from (%d, %d) to (%d, %d) is not legal", ctx, i,
				cells[i - 1].x, cells[i - 1].y, cells[i].x, cells[i].y);
		}
		straight += d % 2 == 0;
		diagonal += d % 2;
	}
	if (straight != cost.straight || diagonal != cost.diagonal) {
		T_FAILF("%s: path has %u straight + %u diagonal steps, cost says %u + %u", ctx,
			straight, diagonal, cost.straight, cost.diagonal);
	}
}

const char *kit_method_name(enum cairn__method m)
{
	switch (m) {
	case CAIRN__METHOD_AUTO:
		return "auto";
	case CAIRN__METHOD_ASTAR:
		return "astar";
	case CAIRN__METHOD_JPS:
		return "jps";
	case CAIRN__METHOD_TABLE:
		return "table";
	}
	return "?";
}
