/*
 * Direct reads of the grid region of the state segment, under the daemon's seqlocks
 * (src/engine/grid.c is the writer's side):
 *
 *  - a hunt's directory record is guarded by its own seq;
 *  - block b of a hunt, its two entity lists, and the entities linked from them are
 *    guarded by the seq of shard b mod shards of that hunt;
 *  - a hunt's shards and blocks live in a heap chunk that is reused once the hunt is
 *    destroyed (its directory record is cleared first), so whatever was read through a
 *    hunt record is only good if that record's seq is unchanged afterwards.
 *
 * The segment is the daemon's, mapped read-only, and trusted more than a lane; still,
 * a read that races with a write copies stale or mixed words, so every index and offset
 * taken from shared memory is bounds-checked where it is used, every list walk is
 * bounded by the size of the entity table, and every read gives up with -EAGAIN after
 * READ_TRIES failed attempts instead of spinning forever (a daemon that died inside a
 * write section leaves its seq odd for good).
 */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "client/client.h"
#include "common/atomic.h"
#include "shm/seqlock.h"

#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define READ_TRIES 100000
#else
/* The fuzz targets' build: a seq left odd costs a few retries, not a tenth of a second. */
#define READ_TRIES 64
#endif
#define SPIN_TRIES   1000
#define ID_SLOT_MASK ((UINT32_C(1) << CAIRN_ID_SLOT_BITS) - 1)
/* More shards than any cairnd makes (it allows 4096): a bound on our bookkeeping. */
#define MAX_SHARDS 65536
/* Shards whose bookkeeping fits on the stack; more are allocated. */
#define STACK_SHARDS 256
/* Marks a shard not yet read in this pass: a recorded seq is always even. */
#define SEQ_NONE 1

/* Whether [off, off + count * elem) lies inside a region of size bytes. */
static bool fits(uint64_t off, uint64_t count, uint64_t elem, uint64_t size)
{
	if (off > size) {
		return false;
	}
	if (elem && count > (size - off) / elem) {
		return false;
	}
	return true;
}

void cairn__grid_attach(struct cairn__lane *l)
{
	struct cairn__grid_view *g = &l->grid;
	const struct cairn_state_header *sh = l->state;
	memset(g, 0, sizeof(*g));
	/*
	 * cairn__state_validate has checked that the region lies in the segment. With no
	 * grid (a daemon without an engine) every table is empty: no map, no hunt.
	 */
	uint64_t off = sh->grid_offset, size = sh->grid_size;
	if (off == 0) {
		return;
	}
	/*
	 * The grid header's tables are laid out before the daemon publishes the state
	 * segment and never move: one copy, checked once, is what every read uses.
	 */
	struct cairn_grid_header gh;
	if (size < sizeof(gh)) {
		g->err = -CAIRN_E_LAYOUT;
		return;
	}
	cairn__seq_copy_out(&gh, (const uint8_t *)l->state + off, sizeof(gh));
	if (gh.block_cells != CAIRN_BLOCK_CELLS || gh.max_hunts > ID_SLOT_MASK ||
	    gh.max_entities > ID_SLOT_MASK || gh.maps_offset % 8 || gh.hunts_offset % 8 ||
	    gh.entities_offset % 8 || gh.maps_offset < sizeof(gh) || gh.hunts_offset < sizeof(gh) ||
	    gh.entities_offset < sizeof(gh) ||
	    !fits(gh.maps_offset, gh.n_maps, sizeof(struct cairn_map_info), size) ||
	    !fits(gh.hunts_offset, gh.max_hunts, sizeof(struct cairn_hunt_info), size) ||
	    !fits(gh.entities_offset, gh.max_entities, sizeof(struct cairn_entity), size)) {
		g->err = -CAIRN_E_LAYOUT;
		return;
	}
	g->base = (const uint8_t *)l->state + off;
	g->size = size;
	g->n_maps = gh.n_maps;
	g->max_hunts = gh.max_hunts;
	g->max_entities = gh.max_entities;
	g->maps = (const struct cairn_map_info *)(g->base + gh.maps_offset);
	g->hunts = (const struct cairn_hunt_info *)(g->base + gh.hunts_offset);
	g->ents = (const struct cairn_entity *)(g->base + gh.entities_offset);
}

uint64_t cairn__grid_retries(cairn_client *c)
{
	return cairn__load_relaxed(&c->grid_retries);
}

/*
 * One failed attempt: counts it, and says -EAGAIN once there were too many. The first
 * SPIN_TRIES wait with a pause; after that the writer is likely not running at all (it
 * was preempted inside a write section, perhaps by this very reader on a busy machine),
 * so the rest yield the CPU to it.
 */
static int retry(cairn_client *c, unsigned *tries)
{
	/* Relaxed: a statistic. */
	cairn__add_relaxed(&c->grid_retries, 1);
	if (++*tries >= READ_TRIES) {
		return -EAGAIN;
	}
	if (*tries < SPIN_TRIES) {
		cairn__cpu_relax();
	} else {
		sched_yield();
	}
	return 0;
}

/* A hunt record as read, with what the reads that follow it need. */
struct hunt_view {
	struct cairn_hunt_info info;
	uint64_t seq; /* the record's seq when it was copied */
	const uint64_t *seq_word;
	const struct cairn_shard *shards;
	const struct cairn_block *blocks;
	uint64_t nblocks;
	int64_t limit_x, limit_y; /* positions run over [0, limit) */
	int64_t block_mm;         /* side of a block */
};

/*
 * Checks a whole (seq-validated) hunt record against the region before anything is
 * read through it. A record that fails is the daemon's fault, not a race.
 */
static int check_hunt(const struct cairn__grid_view *g, struct hunt_view *h)
{
	const struct cairn_hunt_info *i = &h->info;
	uint64_t nblocks = (uint64_t)i->blocks_x * i->blocks_y;
	if (i->shards == 0 || i->shards > MAX_SHARDS || i->cell_mm == 0 || i->width == 0 ||
	    i->height == 0 || (uint64_t)i->blocks_x * CAIRN_BLOCK_CELLS < i->width ||
	    (uint64_t)i->blocks_y * CAIRN_BLOCK_CELLS < i->height || i->shards_offset % 8 ||
	    i->blocks_offset % 8 || i->shards_offset < sizeof(struct cairn_grid_header) ||
	    i->blocks_offset < sizeof(struct cairn_grid_header) ||
	    !fits(i->shards_offset, i->shards, sizeof(struct cairn_shard), g->size) ||
	    !fits(i->blocks_offset, nblocks, sizeof(struct cairn_block), g->size)) {
		return -CAIRN_E_LAYOUT;
	}
	h->shards = (const struct cairn_shard *)(g->base + i->shards_offset);
	h->blocks = (const struct cairn_block *)(g->base + i->blocks_offset);
	h->nblocks = nblocks;
	h->limit_x = (int64_t)i->width * i->cell_mm;
	h->limit_y = (int64_t)i->height * i->cell_mm;
	h->block_mm = (int64_t)i->cell_mm * CAIRN_BLOCK_CELLS;
	return 0;
}

/*
 * Copies the record of hunt_id under its seq. Returns 0, -CAIRN_E_UNKNOWN_HUNT,
 * -CAIRN_E_LAYOUT or -EAGAIN.
 */
static int read_hunt(cairn_client *c, uint32_t hunt_id, struct hunt_view *h, unsigned *tries)
{
	const struct cairn__grid_view *g = &cairn__lane_now(c)->grid;
	uint32_t slot = hunt_id & ID_SLOT_MASK;
	if (g->err) {
		return g->err;
	}
	if (hunt_id == 0 || slot >= g->max_hunts) {
		return -CAIRN_E_UNKNOWN_HUNT;
	}
	const struct cairn_hunt_info *hi = &g->hunts[slot];
	h->seq_word = &hi->seq;
	for (;;) {
		/* The seqlock read protocol of seqlock.h: begin (acquire), copy, check. */
		uint64_t s = cairn__seq_read_begin(&hi->seq);
		if ((s & 1) == 0) {
			cairn__seq_copy_out(&h->info, hi, sizeof(h->info));
			if (cairn__seq_read_ok(&hi->seq, s)) {
				h->info.seq = s;
				h->seq = s;
				if (h->info.id != hunt_id) {
					return -CAIRN_E_UNKNOWN_HUNT;
				}
				return check_hunt(g, h);
			}
		}
		int r = retry(c, tries);
		if (r < 0) {
			return r;
		}
	}
}

/*
 * True when the hunt record is still the one read by read_hunt: everything read
 * through it since then belonged to this hunt. Orders the caller's loads before the
 * seq load.
 */
static bool hunt_unchanged(const struct hunt_view *h)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return cairn__load_relaxed(h->seq_word) == h->seq;
}

static uint32_t block_of(const struct hunt_view *h, int32_t x, int32_t y)
{
	return (uint32_t)((y / h->block_mm) * h->info.blocks_x + x / h->block_mm);
}

CAIRN_API int cairn_read_map(cairn_client *c, uint32_t map_id, struct cairn_map_info *out)
{
	const struct cairn__grid_view *g = &cairn__lane_now(c)->grid;
	if (!out) {
		return -EINVAL;
	}
	if (g->err) {
		return g->err;
	}
	if (map_id >= g->n_maps) {
		return -CAIRN_E_UNKNOWN_MAP;
	}
	/* Maps never change while the daemon runs: a plain copy is whole. */
	cairn__seq_copy_out(out, &g->maps[map_id], sizeof(*out));
	return 0;
}

CAIRN_API int cairn_read_hunt(cairn_client *c, uint32_t hunt_id, struct cairn_hunt_info *out)
{
	struct hunt_view h;
	unsigned tries = 0;
	if (!out) {
		return -EINVAL;
	}
	int r = read_hunt(c, hunt_id, &h, &tries);
	if (r == 0) {
		*out = h.info;
	}
	return r;
}

CAIRN_API int cairn_read_entity(cairn_client *c, uint32_t hunt_id, uint32_t id,
				struct cairn_entity *out)
{
	const struct cairn__grid_view *g = &cairn__lane_now(c)->grid;
	uint32_t slot = id & ID_SLOT_MASK;
	unsigned tries = 0;
	struct hunt_view h;
	if (!out) {
		return -EINVAL;
	}
	for (;;) {
		int r = read_hunt(c, hunt_id, &h, &tries);
		if (r < 0) {
			return r;
		}
		if (id == 0 || slot >= g->max_entities) {
			return -CAIRN_E_UNKNOWN_PLAYER;
		}
		const struct cairn_entity *en = &g->ents[slot];
		/*
		 * id and hunt_id share the record's first 8-byte word, which the daemon only
		 * ever stores whole (at creation, at every rewrite with the same value, and
		 * zeroed at removal): one atomic load says whether the entity exists, and in
		 * which hunt, at that instant.
		 */
		uint64_t w0 = cairn__load_relaxed((const uint64_t *)(const void *)en);
		struct cairn_entity head;
		memcpy(&head, &w0, sizeof(w0));
		if (head.id != id) {
			return -CAIRN_E_UNKNOWN_PLAYER;
		}
		if (head.hunt_id != hunt_id) {
			return -CAIRN_E_WRONG_HUNT;
		}
		/*
		 * Its block says which shard guards it. Read outside any section, it may be
		 * stale or torn: it is bounds-checked here, and confirmed below by finding the
		 * same block in a copy made under that block's shard, which proves the entity
		 * stayed in the block (so was written under that shard only) throughout.
		 */
		uint32_t b = cairn__seq_load32(&en->block);
		if (b < h.nblocks) {
			const uint64_t *sq = &h.shards[b % h.info.shards].seq;
			uint64_t s = cairn__seq_read_begin(sq);
			struct cairn_entity e;
			cairn__seq_copy_out(&e, en, sizeof(e));
			if (cairn__seq_read_ok(sq, s) && e.id == id && e.block == b &&
			    hunt_unchanged(&h)) {
				if (e.hunt_id != hunt_id || e.x < 0 || e.y < 0 ||
				    e.x >= h.limit_x || e.y >= h.limit_y ||
				    block_of(&h, e.x, e.y) != b) {
					return -CAIRN_E_LAYOUT;
				}
				*out = e;
				return 0;
			}
		}
		r = retry(c, &tries);
		if (r < 0) {
			return r;
		}
	}
}

/* What reading one block's lists came to. */
enum block_read {
	BLOCK_OK,
	BLOCK_RETRY,   /* torn: read the block again */
	BLOCK_RESTART, /* the pass is no longer one snapshot, or the hunt changed: start over */
};

/* One pass of cairn_read_rect: the rectangle (clamped), the filter, and where hits go. */
struct rect_pass {
	int32_t x0, y0, x1, y1;
	unsigned mask;
	struct cairn_entity *out;
	size_t cap;
	size_t n;       /* entities matched so far */
	uint64_t *seqs; /* per shard: the seq this pass read it at, or SEQ_NONE */
	uint32_t *used; /* shards read in this pass */
	uint32_t nused;
};

/*
 * Walks one list of block b (head: its first_player or first_clue) for entities of the
 * given kind, adding those in the rectangle to the pass. Called inside a read section.
 * Returns BLOCK_RETRY when the walk met something a whole copy could not hold, which
 * may be a race (or, if the section turns out whole, the daemon's fault or a reused
 * chunk: the caller tells).
 */
static enum block_read walk(const struct cairn__grid_view *g, const struct hunt_view *h, uint32_t b,
			    const uint32_t *head, uint8_t kind, struct rect_pass *p)
{
	uint32_t e = cairn__seq_load32(head);
	/* A list holds each entity at most once: longer means a cycle made of stale links. */
	for (uint32_t steps = 0; e != 0; steps++) {
		if (e > g->max_entities || steps >= g->max_entities) {
			return BLOCK_RETRY;
		}
		struct cairn_entity en;
		cairn__seq_copy_out(&en, &g->ents[e - 1], sizeof(en));
		if (en.kind != kind || en.block != b || en.hunt_id != h->info.id || en.x < 0 ||
		    en.y < 0 || en.x >= h->limit_x || en.y >= h->limit_y ||
		    block_of(h, en.x, en.y) != b) {
			return BLOCK_RETRY;
		}
		if (en.x >= p->x0 && en.x <= p->x1 && en.y >= p->y0 && en.y <= p->y1) {
			if (p->n < p->cap) {
				p->out[p->n] = en;
			}
			p->n++;
		}
		e = en.next;
	}
	return BLOCK_OK;
}

/* Reads block b whole under its shard's seq, adding its entities to the pass. */
static enum block_read read_block(cairn_client *c, const struct hunt_view *h, uint32_t b,
				  struct rect_pass *p)
{
	const struct cairn__grid_view *g = &cairn__lane_now(c)->grid;
	uint32_t shard = b % h->info.shards;
	const uint64_t *sq = &h->shards[shard].seq;
	const struct cairn_block *blk = &h->blocks[b];
	size_t n0 = p->n;

	uint64_t s = cairn__seq_read_begin(sq);
	if (s & 1) {
		return BLOCK_RETRY;
	}
	/* A shard read earlier in this pass at another seq: the blocks read are not one snapshot.
	 */
	if (p->seqs[shard] != SEQ_NONE && p->seqs[shard] != s) {
		return BLOCK_RESTART;
	}
	enum block_read r = BLOCK_OK;
	if (p->mask & CAIRN_READ_PLAYERS) {
		r = walk(g, h, b, &blk->first_player, CAIRN_ENTITY_PLAYER, p);
	}
	if (r == BLOCK_OK && (p->mask & CAIRN_READ_CLUES)) {
		r = walk(g, h, b, &blk->first_clue, CAIRN_ENTITY_CLUE, p);
	}
	if (!cairn__seq_read_ok(sq, s)) {
		p->n = n0;
		return BLOCK_RETRY;
	}
	if (r != BLOCK_OK) {
		/*
		 * A whole copy that does not hold together: the chunk was reused by another
		 * hunt (the hunt re-check catches that), or the daemon is at fault. Start over
		 * either way; the bound on tries ends it if it persists.
		 */
		p->n = n0;
		return BLOCK_RESTART;
	}
	if (p->seqs[shard] == SEQ_NONE) {
		p->seqs[shard] = s;
		p->used[p->nused++] = shard;
	}
	return BLOCK_OK;
}

/*
 * True when no shard read in this pass has changed since: every block then held what
 * was read from it at this one instant. Orders the pass's loads before the seq loads.
 */
static bool shards_unchanged(const struct hunt_view *h, const struct rect_pass *p)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < p->nused; i++) {
		uint32_t s = p->used[i];
		if (cairn__load_relaxed(&h->shards[s].seq) != p->seqs[s]) {
			return false;
		}
	}
	return true;
}

/*
 * Reads every block the rectangle overlaps. Returns 0 when the blocks read make one
 * snapshot of the hunt, 1 when the pass must start over, or -EAGAIN.
 */
static int rect_pass(cairn_client *c, const struct hunt_view *h, struct rect_pass *p,
		     unsigned *tries)
{
	for (uint32_t i = 0; i < h->info.shards; i++) {
		p->seqs[i] = SEQ_NONE;
	}
	p->nused = 0;
	p->n = 0;
	int64_t bx0 = p->x0 / h->block_mm, bx1 = p->x1 / h->block_mm;
	int64_t by0 = p->y0 / h->block_mm, by1 = p->y1 / h->block_mm;
	for (int64_t by = by0; by <= by1; by++) {
		for (int64_t bx = bx0; bx <= bx1; bx++) {
			uint32_t b = (uint32_t)(by * h->info.blocks_x + bx);
			enum block_read r;
			while ((r = read_block(c, h, b, p)) == BLOCK_RETRY) {
				int e = retry(c, tries);
				if (e < 0) {
					return e;
				}
			}
			if (r == BLOCK_RESTART) {
				return 1;
			}
		}
	}
	return shards_unchanged(h, p) && hunt_unchanged(h) ? 0 : 1;
}

CAIRN_API int cairn_read_rect(cairn_client *c, uint32_t hunt_id, int32_t x0, int32_t y0, int32_t x1,
			      int32_t y1, unsigned mask, struct cairn_entity *out, size_t cap)
{
	if (x0 > x1 || y0 > y1 || (mask & (CAIRN_READ_PLAYERS | CAIRN_READ_CLUES)) == 0 ||
	    (mask & ~(CAIRN_READ_PLAYERS | CAIRN_READ_CLUES)) != 0 || (!out && cap)) {
		return -EINVAL;
	}
	uint64_t stack_seqs[STACK_SHARDS];
	uint32_t stack_used[STACK_SHARDS];
	uint64_t *heap = NULL;
	unsigned tries = 0;
	struct hunt_view h;
	struct rect_pass p = {.mask = mask, .out = out, .cap = cap};
	int r;
	for (;;) {
		r = read_hunt(c, hunt_id, &h, &tries);
		if (r < 0) {
			break;
		}
		/*
		 * Only what lies on the map can be there. h is set: read_hunt returned 0.
		 * Clang 14's analyzer does not know that the grid view's err is 0 or negative
		 * (cairn__grid_attach sets only -CAIRN_E_LAYOUT), and takes it for success.
		 */
		int64_t cx0 = x0 < 0 ? 0 : x0, cy0 = y0 < 0 ? 0 : y0;
		/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
		int64_t cx1 = x1 >= h.limit_x ? h.limit_x - 1 : x1;
		int64_t cy1 = y1 >= h.limit_y ? h.limit_y - 1 : y1;
		if (cx0 > cx1 || cy0 > cy1) {
			r = 0;
			break;
		}
		p.x0 = (int32_t)cx0;
		p.y0 = (int32_t)cy0;
		p.x1 = (int32_t)cx1;
		p.y1 = (int32_t)cy1;
		if (h.info.shards <= STACK_SHARDS) {
			p.seqs = stack_seqs;
			p.used = stack_used;
		} else {
			/* Sized for the largest hunt seen so far in this call. */
			size_t need = (size_t)h.info.shards * (sizeof(uint64_t) + sizeof(uint32_t));
			void *m = realloc(heap, need);
			if (!m) {
				r = -ENOMEM;
				break;
			}
			heap = m;
			p.seqs = heap;
			p.used = (uint32_t *)(heap + h.info.shards);
		}
		r = rect_pass(c, &h, &p, &tries);
		if (r < 0) {
			break;
		}
		if (r == 0) {
			r = p.n > INT32_MAX ? INT32_MAX : (int)p.n;
			break;
		}
		r = retry(c, &tries);
		if (r < 0) {
			break;
		}
	}
	free(heap);
	return r;
}
