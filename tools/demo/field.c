/*
 * Distance fields: for one clue, how far every cell of the map is from it along the
 * grid, so that every player of a hunt walks the shortest way round walls by looking at
 * its eight neighbours. One field per clue serves all the players heading for it, and
 * it is computed once when the clue is placed: Dial's algorithm, since the step costs
 * are the small integers 2 and 3 (1 and 1.5 cells, close enough to 1 and the square
 * root of 2 for walking), costs about 100 us on the default map.
 */
#include <errno.h>
#include <stdlib.h>

#include "demo.h"
#include "map/map.h"

/* The eight steps, straight ones first. */
static const int step_dx[8] = {1, -1, 0, 0, 1, 1, -1, -1};
static const int step_dy[8] = {0, 0, 1, -1, 1, -1, 1, -1};

bool field_can_step(const struct cairn__map *m, uint32_t x, uint32_t y, int dx, int dy)
{
	int64_t tx = (int64_t)x + dx, ty = (int64_t)y + dy;
	if (!cairn__map_passable(m, tx, ty)) {
		return false;
	}
	/* A diagonal step needs both cells it brushes past to be open. */
	return dx == 0 || dy == 0 ||
	       (cairn__map_passable(m, tx, (int64_t)y) && cairn__map_passable(m, (int64_t)x, ty));
}

static int push(struct field_work *w, unsigned b, uint32_t cell)
{
	if (w->n[b] == w->cap[b]) {
		size_t cap = w->cap[b] ? w->cap[b] * 2 : 1024;
		uint32_t *v = realloc(w->bucket[b], cap * sizeof(*v));
		if (!v) {
			return -ENOMEM;
		}
		w->bucket[b] = v;
		w->cap[b] = cap;
	}
	w->bucket[b][w->n[b]++] = cell;
	return 0;
}

int field_compute(struct field_work *w, const struct cairn__map *m, uint32_t gx, uint32_t gy,
		  uint16_t *dist)
{
	size_t cells = (size_t)m->width * m->height;
	for (size_t i = 0; i < cells; i++) {
		dist[i] = FIELD_INF;
	}
	for (unsigned b = 0; b < 4; b++) {
		w->n[b] = 0;
	}
	if (!cairn__map_passable(m, gx, gy)) {
		return 0;
	}
	dist[(size_t)gy * m->width + gx] = 0;
	int r = push(w, 0, gy * m->width + gx);
	if (r < 0) {
		return r;
	}
	/*
	 * Bucket d mod 4 holds the cells reached at distance d. A step costs 2 or 3, so
	 * relaxing bucket d fills only buckets d + 2 and d + 3, never the one being read, and
	 * four buckets are enough. A cell may sit in a bucket with an outdated distance; it
	 * is skipped when its distance no longer matches.
	 */
	size_t pending = 1;
	for (uint32_t d = 0; pending; d++) {
		unsigned b = d & 3;
		for (size_t i = 0; i < w->n[b]; i++) {
			uint32_t c = w->bucket[b][i];
			if (dist[c] != d) {
				continue;
			}
			uint32_t x = c % m->width, y = c / m->width;
			for (unsigned k = 0; k < 8; k++) {
				if (!field_can_step(m, x, y, step_dx[k], step_dy[k])) {
					continue;
				}
				uint32_t nd = d + (k < 4 ? 2 : 3);
				/* On the map, as field_can_step checked: the wrap-around cancels.
				 */
				uint32_t n = (y + (uint32_t)step_dy[k]) * m->width + x +
					     (uint32_t)step_dx[k];
				if (nd >= FIELD_INF || nd >= dist[n]) {
					continue;
				}
				dist[n] = (uint16_t)nd;
				r = push(w, nd & 3, n);
				if (r < 0) {
					return r;
				}
				pending++;
			}
		}
		pending -= w->n[b];
		w->n[b] = 0;
	}
	return 0;
}

bool field_next(const struct cairn__map *m, const uint16_t *dist, uint32_t x, uint32_t y,
		uint32_t *nx, uint32_t *ny)
{
	uint16_t best = dist[(size_t)y * m->width + x];
	bool found = false;
	if (best == 0 || best == FIELD_INF) {
		return false;
	}
	for (unsigned k = 0; k < 8; k++) {
		if (!field_can_step(m, x, y, step_dx[k], step_dy[k])) {
			continue;
		}
		uint32_t tx = x + (uint32_t)step_dx[k], ty = y + (uint32_t)step_dy[k];
		uint16_t d = dist[(size_t)ty * m->width + tx];
		if (d < best) {
			best = d;
			*nx = tx;
			*ny = ty;
			found = true;
		}
	}
	return found;
}

void field_work_free(struct field_work *w)
{
	for (unsigned b = 0; b < 4; b++) {
		free(w->bucket[b]);
		w->bucket[b] = NULL;
		w->n[b] = w->cap[b] = 0;
	}
}
