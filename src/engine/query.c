/*
 * Queries: NEAREST_CLUES, PLAYERS_NEAR, LEADERBOARD, PLAYER_STATE. They change nothing.
 * Their answers are sorted on values only (distance, score, id, order), never on the
 * order of a block's list, so the same state always gives the same answer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/internal.h"

static int cand_cmp(const void *a, const void *b)
{
	const struct cairn__cand *x = a, *y = b;
	if (x->key != y->key) {
		return x->key < y->key ? -1 : 1;
	}
	if (x->tie != y->tie) {
		return x->tie < y->tie ? -1 : 1;
	}
	return 0;
}

/* floor(sqrt(v)), exactly. */
static uint32_t isqrt(uint64_t v)
{
	uint64_t r = (uint64_t)sqrt((double)v);
	while (r * r > v) {
		r--;
	}
	while ((r + 1) * (r + 1) <= v) {
		r++;
	}
	return r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

/*
 * Checks the output region of a query: 8-byte aligned, inside the arena, room for n
 * hits. Returns 0 or the (positive) error code, with *detail set.
 */
static int check_out(const struct cairn__blob *blob, uint32_t off, uint32_t cap, uint32_t n,
		     uint32_t *detail)
{
	*detail = off;
	if (!blob || !blob->base || (off & 7) != 0 || off > blob->size || cap > blob->size - off) {
		return CAIRN_E_BLOB_RANGE;
	}
	if ((uint64_t)cap < (uint64_t)n * sizeof(struct cairn_hit)) {
		*detail = n * (uint32_t)sizeof(struct cairn_hit);
		return CAIRN_E_BLOB_TOO_SMALL;
	}
	return 0;
}

/* Writes the hits and the query reply. */
static int answer(struct cairn__engine *e, const struct cairn_msg *c, uint16_t reply_type,
		  const struct cairn__blob *blob, uint32_t off, const struct cairn__cand *v,
		  uint32_t n, uint32_t total, bool with_dist, int32_t qx, int32_t qy,
		  struct cairn_msg *out)
{
	struct cairn_hit *hits = (struct cairn_hit *)(blob->base + off);
	for (uint32_t i = 0; i < n; i++) {
		const struct cairn_entity *en = &e->ents[v[i].slot];
		struct cairn_hit h;
		memset(&h, 0, sizeof(h));
		h.id = en->id;
		h.x = en->x;
		h.y = en->y;
		h.dist_mm = with_dist ? isqrt(dist2(qx, qy, en->x, en->y)) : 0;
		h.value = en->value;
		/* The arena is shared with the client: write it, never read it back. */
		memcpy(&hits[i], &h, sizeof(h));
	}
	struct cairn_query_reply r;
	memset(&r, 0, sizeof(r));
	r.count = n;
	r.total = total;
	r.out_offset = off;
	r.out_length = n * (uint32_t)sizeof(struct cairn_hit);
	cairn__eng_reply(c, reply_type, CAIRN_MSG_NEAREST_CLUES_REPLY_LEN_MIN, &r, sizeof(r), out);
	return 0;
}

/* Checks a query point: on the map (blocked cells allowed). */
static int check_point(const struct hunt *h, int32_t x, int32_t y)
{
	return x < 0 || y < 0 || x >= h->limit_x || y >= h->limit_y ? CAIRN_E_OFF_MAP : 0;
}

/*
 * Appends the entities of one block list that pass the filter to the scratch space,
 * which has room for every entity there is.
 */
static void collect_block(struct cairn__engine *e, uint32_t first, int32_t x, int32_t y,
			  uint64_t r2, bool include_claimed, uint32_t *n)
{
	for (uint32_t s = first; s; s = e->ents[s - 1].next) {
		const struct cairn_entity *en = &e->ents[s - 1];
		if (!include_claimed && (en->flags & CAIRN_FLAG_CLAIMED)) {
			continue;
		}
		uint64_t d = dist2(x, y, en->x, en->y);
		if (d > r2) {
			continue;
		}
		e->scratch[(*n)++] = (struct cairn__cand){.key = d, .tie = en->id, .slot = s - 1};
	}
}

int cairn__cmd_nearest(struct cairn__engine *e, const struct cairn_msg *c,
		       const struct cairn__blob *blob, struct cairn_msg *out)
{
	struct cairn_nearest_clues q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h = cairn__eng_hunt(e, q.hunt_id);
	if (!h) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_HUNT, q.hunt_id, out);
	}
	if (q.k < 1 || q.k > CAIRN_MAX_QUERY_ITEMS) {
		return cairn__eng_error(c, CAIRN_E_BAD_VALUE, q.k, out);
	}
	if (q.include_claimed > 1) {
		return cairn__eng_error(c, CAIRN_E_BAD_VALUE, q.include_claimed, out);
	}
	int code = check_point(h, q.x, q.y);
	if (code) {
		return cairn__eng_error(c, code, 0, out);
	}
	uint32_t detail;
	code = check_out(blob, q.out_offset, q.out_capacity, q.k, &detail);
	if (code) {
		return cairn__eng_error(c, code, detail, out);
	}
	/*
	 * Rings of blocks around the query's block, outwards. After ring r every clue not
	 * yet seen is at least r block sides away, so the search stops once k clues are
	 * known and the k-th is no farther than that.
	 */
	int64_t bmm = (int64_t)h->cell_mm * CAIRN_BLOCK_CELLS;
	int64_t cbx = q.x / bmm, cby = q.y / bmm;
	int64_t rmax = h->blocks_x > h->blocks_y ? h->blocks_x : h->blocks_y;
	uint32_t n = 0;
	for (int64_t r = 0; r <= rmax; r++) {
		for (int64_t by = cby - r; by <= cby + r; by++) {
			if (by < 0 || by >= h->blocks_y) {
				continue;
			}
			bool edge_row = by == cby - r || by == cby + r;
			for (int64_t bx = cbx - r; bx <= cbx + r; bx += edge_row ? 1 : 2 * r) {
				if (bx >= 0 && bx < h->blocks_x) {
					const struct cairn_block *b =
						&h->blocks[by * h->blocks_x + bx];
					collect_block(e, b->first_clue, q.x, q.y, UINT64_MAX,
						      q.include_claimed, &n);
				}
				if (r == 0) {
					break;
				}
			}
		}
		if (cbx - r <= 0 && cby - r <= 0 && cbx + r >= h->blocks_x - 1 &&
		    cby + r >= h->blocks_y - 1) {
			break; /* the ring covers the whole grid: everything has been seen */
		}
		if (n >= q.k) {
			struct cairn__cand *v = e->scratch;
			qsort(v, n, sizeof(*v), cand_cmp);
			uint64_t bound = (uint64_t)(r * bmm);
			if (v[q.k - 1].key <= bound * bound) {
				break;
			}
		}
	}
	struct cairn__cand *v = e->scratch;
	if (n > 0) {
		qsort(v, n, sizeof(*v), cand_cmp);
	}
	uint32_t count = n < q.k ? n : q.k;
	return answer(e, c, CAIRN_MSG_NEAREST_CLUES_REPLY, blob, q.out_offset, v, count, count,
		      true, q.x, q.y, out);
}

int cairn__cmd_players_near(struct cairn__engine *e, const struct cairn_msg *c,
			    const struct cairn__blob *blob, struct cairn_msg *out)
{
	struct cairn_players_near q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h = cairn__eng_hunt(e, q.hunt_id);
	if (!h) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_HUNT, q.hunt_id, out);
	}
	if (q.max < 1 || q.max > CAIRN_MAX_QUERY_ITEMS) {
		return cairn__eng_error(c, CAIRN_E_BAD_VALUE, q.max, out);
	}
	if (q.radius_mm > INT32_MAX) {
		return cairn__eng_error(c, CAIRN_E_BAD_VALUE, q.radius_mm, out);
	}
	int code = check_point(h, q.x, q.y);
	if (code) {
		return cairn__eng_error(c, code, 0, out);
	}
	uint32_t detail;
	code = check_out(blob, q.out_offset, q.out_capacity, q.max, &detail);
	if (code) {
		return cairn__eng_error(c, code, detail, out);
	}
	int64_t r = q.radius_mm;
	struct cairn__block_span sp;
	uint32_t n = 0;
	cairn__grid_span(h, q.x, q.y, r, &sp);
	for (int64_t by = sp.y0; by <= sp.y1; by++) {
		for (int64_t bx = sp.x0; bx <= sp.x1; bx++) {
			const struct cairn_block *b = &h->blocks[by * h->blocks_x + bx];
			collect_block(e, b->first_player, q.x, q.y, (uint64_t)(r * r), true, &n);
		}
	}
	struct cairn__cand *v = e->scratch;
	if (n > 0) {
		qsort(v, n, sizeof(*v), cand_cmp);
	}
	uint32_t count = n < q.max ? n : q.max;
	return answer(e, c, CAIRN_MSG_PLAYERS_NEAR_REPLY, blob, q.out_offset, v, count, n, true,
		      q.x, q.y, out);
}

int cairn__cmd_leaderboard(struct cairn__engine *e, const struct cairn_msg *c,
			   const struct cairn__blob *blob, struct cairn_msg *out)
{
	struct cairn_leaderboard q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h = cairn__eng_hunt(e, q.hunt_id);
	if (!h) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_HUNT, q.hunt_id, out);
	}
	if (q.k < 1 || q.k > CAIRN_MAX_QUERY_ITEMS) {
		return cairn__eng_error(c, CAIRN_E_BAD_VALUE, q.k, out);
	}
	uint32_t detail;
	int code = check_out(blob, q.out_offset, q.out_capacity, q.k, &detail);
	if (code) {
		return cairn__eng_error(c, code, detail, out);
	}
	struct cairn__cand *v = e->scratch;
	uint32_t n = 0;
	for (uint32_t s = h->first_player; s; s = e->links[s - 1].hunt_next) {
		const struct cairn_entity *en = &e->ents[s - 1];
		/* Highest score first: flip the sign bit and invert, so larger sorts first. */
		uint64_t key = ~((uint64_t)en->value ^ ((uint64_t)1 << 63));
		v[n++] = (struct cairn__cand){.key = key, .tie = en->order, .slot = s - 1};
	}
	if (n > 0) {
		qsort(v, n, sizeof(*v), cand_cmp);
	}
	uint32_t count = n < q.k ? n : q.k;
	return answer(e, c, CAIRN_MSG_LEADERBOARD_REPLY, blob, q.out_offset, v, count, n, false, 0,
		      0, out);
}

int cairn__cmd_player_state(struct cairn__engine *e, const struct cairn_msg *c,
			    struct cairn_msg *out)
{
	struct cairn_player_ref q;
	memcpy(&q, c->payload, sizeof(q));
	struct hunt *h = cairn__eng_hunt(e, q.hunt_id);
	if (!h) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_HUNT, q.hunt_id, out);
	}
	const struct cairn_entity *en = cairn__eng_entity(e, q.player_id);
	if (!en || en->kind != CAIRN_ENTITY_PLAYER) {
		return cairn__eng_error(c, CAIRN_E_UNKNOWN_PLAYER, q.player_id, out);
	}
	if (en->hunt_id != q.hunt_id) {
		return cairn__eng_error(c, CAIRN_E_WRONG_HUNT, q.player_id, out);
	}
	struct cairn_player_info r;
	memset(&r, 0, sizeof(r));
	r.player_id = en->id;
	r.hunt_id = en->hunt_id;
	r.x = en->x;
	r.y = en->y;
	r.claims = en->claims;
	r.score = en->value;
	r.stamp_ns = en->stamp_ns;
	cairn__eng_reply(c, CAIRN_MSG_PLAYER_INFO, CAIRN_MSG_PLAYER_INFO_LEN_MIN, &r, sizeof(r),
			 out);
	return 0;
}
