#include "game.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"

/* xorshift64*: fast, and good enough to scatter players and steps. */
static uint64_t next_rand(struct game *g)
{
	uint64_t x = g->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

uint32_t game_rand(struct game *g, uint32_t n)
{
	/* Lemire's multiply-shift: unbiased enough for n far below 2^32. */
	return (uint32_t)(((next_rand(g) >> 32) * (uint64_t)n) >> 32);
}

void game_random_spot(struct game *g, int32_t *x, int32_t *y)
{
	uint32_t c = g->open_cells[game_rand(g, g->nopen)];
	uint32_t cx = c % g->map->width, cy = c / g->map->width;
	*x = (int32_t)(cx * g->cell_mm + g->cell_mm / 2);
	*y = (int32_t)(cy * g->cell_mm + g->cell_mm / 2);
}

int game_init(struct game *g, const struct cairn__map *m, uint32_t cell_mm, uint32_t nhunts,
	      uint32_t players_per_hunt, int32_t step_mm, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->map = m;
	g->cell_mm = cell_mm;
	g->step_mm = step_mm;
	g->nhunts = nhunts;
	g->players_per_hunt = players_per_hunt;
	g->nplayers = nhunts * players_per_hunt;
	g->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
	g->hunt_ids = calloc(nhunts, sizeof(g->hunt_ids[0]));
	g->players = calloc(g->nplayers, sizeof(g->players[0]));
	g->open_cells = calloc((size_t)m->width * m->height, sizeof(g->open_cells[0]));
	if (!g->hunt_ids || !g->players || !g->open_cells) {
		game_free(g);
		return -ENOMEM;
	}
	for (uint32_t y = 0; y < m->height; y++) {
		for (uint32_t x = 0; x < m->width; x++) {
			if (cairn__map_passable(m, x, y)) {
				g->open_cells[g->nopen++] = y * m->width + x;
			}
		}
	}
	if (g->nopen == 0) {
		game_free(g);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < g->nplayers; i++) {
		game_random_spot(g, &g->players[i].x, &g->players[i].y);
	}
	return 0;
}

void game_free(struct game *g)
{
	free(g->hunt_ids);
	free(g->players);
	free(g->open_cells);
	memset(g, 0, sizeof(*g));
}

void game_set_hunt(struct game *g, uint32_t i, uint32_t hunt_id)
{
	g->hunt_ids[i] = hunt_id;
	for (uint32_t p = 0; p < g->players_per_hunt; p++) {
		g->players[i * g->players_per_hunt + p].hunt_id = hunt_id;
	}
}

void game_shuffle(struct game *g)
{
	for (uint32_t i = g->nplayers; i > 1; i--) {
		uint32_t j = game_rand(g, i);
		struct game_player t = g->players[i - 1];
		g->players[i - 1] = g->players[j];
		g->players[j] = t;
	}
	g->next = 0;
}

/* Whether (x, y) in millimetres is on the map and on a passable cell. */
static bool open_at(const struct game *g, int64_t x, int64_t y)
{
	return x >= 0 && y >= 0 && cairn__map_passable(g->map, x / g->cell_mm, y / g->cell_mm);
}

void game_step(struct game *g, uint32_t i, int32_t *x, int32_t *y)
{
	struct game_player *p = &g->players[i];
	uint32_t span = 2 * (uint32_t)g->step_mm + 1;
	for (int tries = 0; tries < 4; tries++) {
		int64_t nx = (int64_t)p->x + (int64_t)game_rand(g, span) - g->step_mm;
		int64_t ny = (int64_t)p->y + (int64_t)game_rand(g, span) - g->step_mm;
		if (open_at(g, nx, ny)) {
			p->x = (int32_t)nx;
			p->y = (int32_t)ny;
			break;
		}
	}
	*x = p->x;
	*y = p->y;
}

void game_move_of(struct game *g, uint32_t i, struct cairn_msg *m)
{
	int32_t x, y;
	game_step(g, i, &x, &y);
	cairn_msg_move(m, g->players[i].hunt_id, g->players[i].player_id, x, y);
}

void game_next_move(struct game *g, struct cairn_msg *m)
{
	uint32_t i = g->next;
	g->next = i + 1 == g->nplayers ? 0 : i + 1;
	game_move_of(g, i, m);
}

/* A command header with zeroed payload; the payload struct is copied in after. */
static void header(struct cairn_msg *m, uint16_t type, uint8_t length)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	m->hdr.length = length;
}

void game_msg_nearest(struct cairn_msg *m, uint32_t hunt_id, int32_t x, int32_t y, uint32_t k,
		      uint32_t out_offset, uint32_t out_capacity)
{
	struct cairn_nearest_clues q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = hunt_id;
	q.x = x;
	q.y = y;
	q.k = k;
	q.out_offset = out_offset;
	q.out_capacity = out_capacity;
	q.include_claimed = 0;
	header(m, CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_NEAREST_CLUES_LEN_MIN);
	memcpy(m->payload, &q, sizeof(q));
}

void game_msg_ping(struct cairn_msg *m)
{
	header(m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
}
