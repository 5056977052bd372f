/*
 * The engine kit of the fuzz targets (engine_kit.h): maps, configuration, and the
 * invariant checker, which walks the engine's private structures and its shared-memory
 * records and cross-checks them against each other.
 */
#include <pthread.h>

#include "engine/internal.h"
#include "engine_kit.h"
#include "fuzz.h"
#include "protocol_desc.h"

static const char *const map_texts[FZ_N_MAPS] = {
	"type octile\nheight 13\nwidth 21\nmap\n"
	".....................\n"
	"..@@@@@....TTT.......\n"
	"..@...@....TTT...G...\n"
	"..@.S.@..............\n"
	"..@@.@@....WWWWW.....\n"
	"...........WWWWW.....\n"
	"........@..WWWWW..@..\n"
	"........@.........@..\n"
	"..OOO...@@@@@@@@@@@..\n"
	"..OOO................\n"
	".....................\n"
	"@@@@@@@@@@@@@@@@@@@@.\n"
	"....................G\n",
	NULL, /* the embedded default map */
	"type octile\nheight 1\nwidth 1\nmap\n.\n",
	"type octile\nheight 1\nwidth 9\nmap\n..@@.@...\n",
};

static struct cairn__map *maps[FZ_N_MAPS];
static pthread_once_t maps_once = PTHREAD_ONCE_INIT;

static void load_maps(void)
{
	for (int i = 0; i < FZ_N_MAPS; i++) {
		int r = map_texts[i] ? cairn__map_parse(map_texts[i], strlen(map_texts[i]), "fuzz",
							&maps[i], NULL)
				     : cairn__map_default(&maps[i]);
		FZ_SETUP(r == 0, "cannot parse the fuzz maps");
	}
}

const struct cairn__map *const *fz_maps(void)
{
	pthread_once(&maps_once, load_maps);
	return (const struct cairn__map *const *)maps;
}

void fz_engine_config(struct cairn__engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_hunts = 5;
	cfg->max_entities = 40;
	cfg->shards_per_hunt = 3;
	cfg->event_capacity = 8;
	cfg->maps = fz_maps();
	cfg->n_maps = FZ_N_MAPS;
}

void fz_populate(struct cairn__engine *e)
{
	/* Payload words: HUNT_CREATE map, radius; JOIN hunt, x, y; CLUE_PLACE hunt, x, y. */
	static const struct {
		uint16_t type;
		uint32_t w[3];
		int64_t value;
	} cmds[] = {
		{CAIRN_MSG_HUNT_CREATE, {0, 500, 0}, 0},     /* hunt 01000000 on map 0 */
		{CAIRN_MSG_HUNT_CREATE, {1, 0, 0}, 0},       /* hunt 01000001 on the default map */
		{CAIRN_MSG_JOIN, {0x01000000, 500, 500}, 0}, /* player 01000000 */
		{CAIRN_MSG_JOIN, {0x01000000, 20500, 12500}, 0},        /* player 01000001 */
		{CAIRN_MSG_JOIN, {0x01000001, 3500, 3500}, 0},          /* player 01000002 */
		{CAIRN_MSG_CLUE_PLACE, {0x01000000, 9500, 2500}, 7},    /* clue 01000003 */
		{CAIRN_MSG_CLUE_PLACE, {0x01000000, 700, 600}, 3},      /* clue 01000004 */
		{CAIRN_MSG_CLUE_PLACE, {0x01000001, 60500, 40500}, 11}, /* clue 01000005 */
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct cairn_msg m, out;
		memset(&m, 0, sizeof(m));
		m.hdr.type = cmds[i].type;
		m.hdr.length = m.hdr.type == CAIRN_MSG_HUNT_CREATE ? CAIRN_MSG_HUNT_CREATE_LEN_MIN
			       : m.hdr.type == CAIRN_MSG_JOIN      ? CAIRN_MSG_JOIN_LEN_MIN
								   : CAIRN_MSG_CLUE_PLACE_LEN_MIN;
		memcpy(m.payload, cmds[i].w, sizeof(cmds[i].w));
		if (m.hdr.type == CAIRN_MSG_CLUE_PLACE) {
			memcpy(m.payload + 16, &cmds[i].value, sizeof(cmds[i].value));
		}
		FZ_SETUP(cairn__engine_apply(e, &m, 1000, NULL, &out) == 0, "populate");
	}
}

/* A slot table: high mark, free stack, live flags and generations agree. */
static void check_slots(const struct slots *s, const char *what)
{
	FZ_CHECK(s->hwm <= s->max && s->nfree <= s->hwm, "%s: hwm %u, nfree %u, max %u", what,
		 s->hwm, s->nfree, s->max);
	uint32_t live = 0;
	for (uint32_t i = 0; i < s->max; i++) {
		FZ_CHECK(s->live[i] <= 1, "%s slot %u: live %u", what, i, s->live[i]);
		if (i >= s->hwm) {
			FZ_CHECK(!s->live[i], "%s slot %u above the high mark %u is live", what, i,
				 s->hwm);
			continue;
		}
		FZ_CHECK(s->gen[i] != 0, "%s slot %u below the high mark has generation 0", what,
			 i);
		live += s->live[i];
	}
	FZ_CHECK(live + s->nfree == s->hwm, "%s: %u live + %u free != hwm %u", what, live, s->nfree,
		 s->hwm);
	for (uint32_t k = 0; k < s->nfree; k++) {
		uint32_t slot = s->free[k];
		FZ_CHECK(slot < s->hwm && !s->live[slot], "%s: free[%u] = %u (hwm %u, live %u)",
			 what, k, slot, s->hwm, slot < s->max ? s->live[slot] : 0);
		for (uint32_t j = 0; j < k; j++) {
			FZ_CHECK(s->free[j] != slot, "%s: slot %u twice on the free stack", what,
				 slot);
		}
	}
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++) {
		if (b[i]) {
			return false;
		}
	}
	return true;
}

/* One entity of live hunt h (slot hs, id hid), as found on one of its lists. */
static void check_entity(const struct cairn__engine *e, const struct hunt *h, uint32_t hid,
			 uint32_t slot, uint8_t kind, bool strict)
{
	const struct cairn_entity *en = &e->ents[slot];
	FZ_CHECK(slot < e->ent_slots.hwm && e->ent_slots.live[slot], "entity slot %u not live",
		 slot);
	FZ_CHECK(en->id == make_id(slot, e->ent_slots.gen[slot]),
		 "entity slot %u: id %08x, generation %u", slot, en->id, e->ent_slots.gen[slot]);
	FZ_CHECK(en->kind == kind, "entity %08x: kind %u on a list of kind %u", en->id, en->kind,
		 kind);
	FZ_CHECK(en->hunt_id == hid, "entity %08x: hunt %08x on hunt %08x's list", en->id,
		 en->hunt_id, hid);
	FZ_CHECK(cairn__eng_check_pos(h, en->x, en->y) == 0,
		 "entity %08x at (%d, %d): off the map or in a blocked cell", en->id, en->x, en->y);
	FZ_CHECK(en->block == cairn__grid_block_of(h, en->x, en->y),
		 "entity %08x at (%d, %d) says block %u, is in block %u", en->id, en->x, en->y,
		 en->block, cairn__grid_block_of(h, en->x, en->y));
	FZ_CHECK(en->order <= e->applied, "entity %08x: order %llu after applied %llu", en->id,
		 (unsigned long long)en->order, (unsigned long long)e->applied);
	FZ_CHECK((en->flags & ~CAIRN_FLAG_CLAIMED) == 0 &&
			 (kind == CAIRN_ENTITY_CLUE || en->flags == 0),
		 "entity %08x: flags %02x", en->id, en->flags);
	if (strict && kind == CAIRN_ENTITY_CLUE) {
		bool claimed = (en->flags & CAIRN_FLAG_CLAIMED) != 0;
		FZ_CHECK(claimed == (en->claimed_by != 0), "clue %08x: flags %02x, claimed by %08x",
			 en->id, en->flags, en->claimed_by);
	}
	if (strict && kind == CAIRN_ENTITY_PLAYER) {
		FZ_CHECK(en->claimed_by == 0, "player %08x claimed by %08x", en->id,
			 en->claimed_by);
	}
}

/* The hunt's own list of players or of clues: order of creation, links both ways. */
static uint32_t check_hunt_list(const struct cairn__engine *e, const struct hunt *h, uint32_t hid,
				bool clue, uint8_t *seen, uint32_t *claimed, bool strict)
{
	uint32_t first = clue ? h->first_clue : h->first_player;
	uint32_t last = clue ? h->last_clue : h->last_player;
	uint32_t n = 0, prev = 0;
	uint64_t prev_order = 0;
	for (uint32_t s = first; s; s = e->links[s - 1].hunt_next) {
		FZ_CHECK(s <= e->ent_slots.hwm, "hunt %08x list: slot + 1 = %u past hwm %u", hid, s,
			 e->ent_slots.hwm);
		FZ_CHECK(n < e->cfg.max_entities, "hunt %08x: list longer than the table (a cycle)",
			 hid);
		FZ_CHECK(!seen[s - 1], "entity slot %u on two lists", s - 1);
		seen[s - 1] = 1;
		FZ_CHECK(e->links[s - 1].hunt_prev == prev,
			 "hunt %08x list: slot %u prev %u, not %u", hid, s - 1,
			 e->links[s - 1].hunt_prev, prev);
		check_entity(e, h, hid, s - 1, clue ? CAIRN_ENTITY_CLUE : CAIRN_ENTITY_PLAYER,
			     strict);
		const struct cairn_entity *en = &e->ents[s - 1];
		/* Commands create one entity per order number; an image may repeat one. */
		FZ_CHECK(n == 0 || en->order > prev_order || (!strict && en->order == prev_order),
			 "hunt %08x list not in order of creation at %08x", hid, en->id);
		prev_order = en->order;
		*claimed += clue && (en->flags & CAIRN_FLAG_CLAIMED);
		prev = s;
		n++;
	}
	FZ_CHECK(last == prev, "hunt %08x: last %u, the list ends at %u", hid, last, prev);
	return n;
}

/* Every block of hunt h: its lists hold exactly the hunt's entities that are in it. */
static void check_blocks(const struct cairn__engine *e, const struct hunt *h, uint32_t hid,
			 uint8_t *seen)
{
	uint64_t nblocks = (uint64_t)h->blocks_x * h->blocks_y;
	uint32_t players = 0, clues = 0;
	for (uint32_t b = 0; b < nblocks; b++) {
		const struct cairn_block *blk = &h->blocks[b];
		for (int k = 0; k < 2; k++) {
			uint8_t kind = k ? CAIRN_ENTITY_CLUE : CAIRN_ENTITY_PLAYER;
			uint32_t n = 0, prev = 0;
			for (uint32_t s = k ? blk->first_clue : blk->first_player; s;
			     s = e->ents[s - 1].next) {
				FZ_CHECK(s <= e->ent_slots.hwm && n < e->cfg.max_entities,
					 "hunt %08x block %u: bad link %u or a cycle", hid, b, s);
				FZ_CHECK(seen[s - 1] == 1, "hunt %08x block %u: slot %u in %s", hid,
					 b, s - 1,
					 seen[s - 1] ? "two blocks" : "no list of the hunt");
				seen[s - 1] = 2;
				const struct cairn_entity *en = &e->ents[s - 1];
				FZ_CHECK(en->kind == kind && en->hunt_id == hid && en->block == b,
					 "hunt %08x block %u: entity %08x (kind %u, hunt %08x, "
					 "block "
					 "%u)",
					 hid, b, en->id, en->kind, en->hunt_id, en->block);
				FZ_CHECK(e->links[s - 1].block_prev == prev,
					 "block %u: slot %u block_prev %u, not %u", b, s - 1,
					 e->links[s - 1].block_prev, prev);
				prev = s;
				n++;
			}
			FZ_CHECK(n == (k ? blk->clues : blk->players),
				 "hunt %08x block %u: %u %s listed, counted %u", hid, b, n,
				 k ? "clues" : "players", k ? blk->clues : blk->players);
			*(k ? &clues : &players) += n;
		}
	}
	FZ_CHECK(players == h->players && clues == h->clues,
		 "hunt %08x: blocks hold %u players and %u clues, the hunt %u and %u", hid, players,
		 clues, h->players, h->clues);
	for (uint32_t i = 0; i < h->nshards; i++) {
		FZ_CHECK((h->shards[i].seq & 1) == 0, "hunt %08x shard %u: seq %llu is odd", hid, i,
			 (unsigned long long)h->shards[i].seq);
	}
}

void fz_engine_check(const struct cairn__engine *e, bool strict)
{
	const struct cairn__engine_config *cfg = &e->cfg;
	check_slots(&e->hunt_slots, "hunt");
	check_slots(&e->ent_slots, "entity");
	uint8_t *seen = calloc(cfg->max_entities, 1);
	FZ_SETUP(seen, "out of memory");

	uint32_t hunts = 0, entities = 0;
	for (uint32_t hs = 0; hs < cfg->max_hunts; hs++) {
		const struct hunt *h = &e->hunts[hs];
		const struct cairn_hunt_info *hi = &e->hunt_info[hs];
		FZ_CHECK((hi->seq & 1) == 0, "hunt slot %u: record seq %llu is odd", hs,
			 (unsigned long long)hi->seq);
		if (hs >= e->hunt_slots.hwm || !e->hunt_slots.live[hs]) {
			static const struct hunt zero;
			FZ_CHECK(memcmp(h, &zero, sizeof(zero)) == 0,
				 "hunt slot %u is free but not cleared", hs);
			FZ_CHECK(all_zero((const uint8_t *)hi + 8, sizeof(*hi) - 8),
				 "hunt slot %u is free but its record is not cleared", hs);
			continue;
		}
		hunts++;
		uint32_t hid = make_id(hs, e->hunt_slots.gen[hs]);
		const struct cairn__map *m = h->map;
		FZ_CHECK(h->map_id < cfg->n_maps && m == cfg->maps[h->map_id], "hunt %08x: map %u",
			 hid, h->map_id);
		FZ_CHECK(h->cell_mm >= 1 && h->cell_mm <= CAIRN_MAX_CELL_MM && h->radius_mm >= 1 &&
				 h->radius_mm <= (uint64_t)h->cell_mm * CAIRN_BLOCK_CELLS,
			 "hunt %08x: cell %u mm, radius %u mm", hid, h->cell_mm, h->radius_mm);
		FZ_CHECK(h->limit_x == (int64_t)m->width * h->cell_mm &&
				 h->limit_y == (int64_t)m->height * h->cell_mm &&
				 h->limit_x <= INT32_MAX && h->limit_y <= INT32_MAX,
			 "hunt %08x: limits %lld x %lld", hid, (long long)h->limit_x,
			 (long long)h->limit_y);
		FZ_CHECK(h->blocks_x == (m->width + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS &&
				 h->blocks_y ==
					 (m->height + CAIRN_BLOCK_CELLS - 1) / CAIRN_BLOCK_CELLS &&
				 h->nshards == cfg->shards_per_hunt,
			 "hunt %08x: %u x %u blocks, %u shards", hid, h->blocks_x, h->blocks_y,
			 h->nshards);
		const uint8_t *base = e->heap + (uint64_t)hs * e->hunt_stride;
		FZ_CHECK((const uint8_t *)h->shards == base &&
				 (const uint8_t *)h->blocks ==
					 base + (uint64_t)h->nshards * sizeof(struct cairn_shard),
			 "hunt %08x: shards or blocks outside its slot's region", hid);
		/* Only commands promise an order number from 1: an image may say 0. */
		FZ_CHECK((h->order >= 1 || !strict) && h->order <= e->applied,
			 "hunt %08x: order %llu, applied %llu", hid, (unsigned long long)h->order,
			 (unsigned long long)e->applied);

		uint32_t claimed = 0;
		uint32_t np = check_hunt_list(e, h, hid, false, seen, &claimed, strict);
		uint32_t nc = check_hunt_list(e, h, hid, true, seen, &claimed, strict);
		FZ_CHECK(np == h->players && nc == h->clues && claimed == h->claimed,
			 "hunt %08x: lists hold %u players, %u clues (%u claimed); counted %u, %u "
			 "(%u)",
			 hid, np, nc, claimed, h->players, h->clues, h->claimed);
		check_blocks(e, h, hid, seen);
		entities += np + nc;

		/* The published record says the same. */
		FZ_CHECK(hi->id == hid && hi->map_id == h->map_id && hi->width == m->width &&
				 hi->height == m->height && hi->cell_mm == h->cell_mm &&
				 hi->claim_radius_mm == h->radius_mm &&
				 hi->speed_limit_mm_s == h->speed_mm_s &&
				 hi->blocks_x == h->blocks_x && hi->blocks_y == h->blocks_y &&
				 hi->shards == h->nshards && hi->players == h->players &&
				 hi->clues == h->clues && hi->clues_claimed == h->claimed &&
				 hi->map_hash == m->hash && hi->created_ns == h->created_ns,
			 "hunt %08x: published record differs (id %08x, %u players, %u clues, %u "
			 "claimed)",
			 hid, hi->id, hi->players, hi->clues, hi->clues_claimed);
		FZ_CHECK(hi->shards_offset == e->gh->heap_offset + (uint64_t)hs * e->hunt_stride &&
				 hi->blocks_offset ==
					 hi->shards_offset +
						 (uint64_t)h->nshards * sizeof(struct cairn_shard),
			 "hunt %08x: published offsets", hid);
	}

	/* Every live entity is on its hunt's list and in its block; the others are zeros. */
	uint32_t live = 0;
	for (uint32_t s = 0; s < cfg->max_entities; s++) {
		bool is_live = s < e->ent_slots.hwm && e->ent_slots.live[s];
		if (is_live) {
			live++;
			FZ_CHECK(seen[s] == 2, "entity slot %u (%08x) is live but %s", s,
				 e->ents[s].id, seen[s] ? "in no block" : "on no hunt's list");
			FZ_CHECK(e->links[s].hunt_prev <= e->ent_slots.hwm, "links of slot %u", s);
		} else {
			FZ_CHECK(all_zero(&e->ents[s], sizeof(e->ents[s])),
				 "entity slot %u is free but its record is not zero", s);
			FZ_CHECK(!seen[s], "free entity slot %u is on a list", s);
		}
	}
	free(seen);
	FZ_CHECK(live == entities && live == e->n_entities,
		 "%u live entity slots, %u on hunts' lists, n_entities %u", live, entities,
		 e->n_entities);

	const struct cairn_grid_header *gh = e->gh;
	FZ_CHECK(gh->hunts == hunts && gh->entities == e->n_entities &&
			 gh->entities_hwm == e->ent_slots.hwm && gh->applied == e->applied &&
			 gh->heap_used == (uint64_t)hunts * e->hunt_stride &&
			 e->heap_used == gh->heap_used,
		 "grid header: %u hunts, %u entities, hwm %u, applied %llu, heap %llu; the engine "
		 "%u, %u, %u, %llu, %llu",
		 gh->hunts, gh->entities, gh->entities_hwm, (unsigned long long)gh->applied,
		 (unsigned long long)gh->heap_used, hunts, e->n_entities, e->ent_slots.hwm,
		 (unsigned long long)e->applied, (unsigned long long)e->heap_used);
}

void fz_check_result(const struct cairn_msg *cmd, int rc, const struct cairn_msg *out)
{
	FZ_CHECK(out->hdr.request_id == cmd->hdr.request_id, "request id %llu answered as %llu",
		 (unsigned long long)cmd->hdr.request_id, (unsigned long long)out->hdr.request_id);
	FZ_CHECK(out->hdr.flags == 0, "result flags %u", out->hdr.flags);
	if (out->hdr.type == CAIRN_MSG_ERROR) {
		struct cairn_error_info ei;
		memcpy(&ei, out->payload, sizeof(ei));
		FZ_CHECK(out->hdr.status >= CAIRN_E__FIRST && out->hdr.status <= CAIRN_E__LAST,
			 "error status %d", out->hdr.status);
		FZ_CHECK(rc == -out->hdr.status, "returned %d with status %d", rc, out->hdr.status);
		FZ_CHECK(out->hdr.length == CAIRN_MSG_ERROR_LEN_MIN &&
				 ei.request_type == cmd->hdr.type,
			 "error length %u, request type %04x for %04x", out->hdr.length,
			 ei.request_type, cmd->hdr.type);
		FZ_CHECK(all_zero(out->payload + out->hdr.length,
				  sizeof(out->payload) - out->hdr.length),
			 "bytes after the error's payload are not zero");
		return;
	}
	FZ_CHECK(rc == 0, "returned %d with a %04x result", rc, out->hdr.type);
	FZ_CHECK(out->hdr.status == 0, "status %d in a %04x result", out->hdr.status,
		 out->hdr.type);
	const struct cairn__msg_desc *c = NULL, *d = NULL;
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		if (cairn__proto_msgs[i].type == cmd->hdr.type && cairn__proto_msgs[i].reply) {
			c = &cairn__proto_msgs[i];
		}
		if (cairn__proto_msgs[i].type == out->hdr.type && !cairn__proto_msgs[i].reply) {
			d = &cairn__proto_msgs[i];
		}
	}
	FZ_CHECK(c != NULL, "command type %04x, which the schema does not know, succeeded",
		 cmd->hdr.type);
	FZ_CHECK(d != NULL && out->hdr.type == c->reply, "%s answered with %04x", c->name,
		 out->hdr.type);
	FZ_CHECK(out->hdr.length >= d->len_min && out->hdr.length <= d->len_max,
		 "%s of length %u (schema: %u..%u)", d->name, out->hdr.length, d->len_min,
		 d->len_max);
	FZ_CHECK(all_zero(out->payload + out->hdr.length, sizeof(out->payload) - out->hdr.length),
		 "bytes after the %s payload are not zero", d->name);
}
