/*
 * Fuzz target: a state segment as a client reads it. The daemon is trusted more than a
 * lane, but the client must not crash on a segment that is torn, stale, from another
 * build or plainly wrong: it validates the header (cairn__state_validate), the metrics
 * (cairn__metrics_view), the grid header (cairn__grid_attach) and the event ring
 * (cairn__events_attach), and bounds-checks every read of the grid after that.
 *
 * Input: a flags byte; then either the segment's bytes (RAW), or patches to a segment
 * made as cairnd makes it, with a game in it (segment_kit.c): each patch is a 3-byte
 * offset, a length byte and that many bytes written there; then, after SEP, the reads to
 * make: map, hunt and entity records, rectangles of the grid, the event ring.
 *
 * Oracles:
 *  - every call answers 0 or one of its documented errors;
 *  - what a read returns belongs to what was asked: the hunt asked for, the entity asked
 *    for, inside the rectangle asked for and of the kinds asked for;
 *  - on the segment as made (no patch), every read finds the game of fz_populate.
 */
#include <errno.h>

#include "client/client.h"
#include "fuzz.h"
#include "segment_kit.h"
#include "shm/segment.h"

#define RAW 0x01

static const char SEP[8] = {'\n', 'R', 'E', 'A', 'D', 'S', '\n', 0};

static const uint32_t known_ids[] = {0x01000000, 0x01000001, 0x01000002,
				     0x01000003, 0x01000004, 0x01000005};

static uint32_t pick_id(struct fz *f)
{
	uint8_t sel = fz_u8(f);
	return sel < 0xf0 ? known_ids[sel % 6] : fz_u32(f);
}

static bool grid_error(int rc)
{
	return rc == -CAIRN_E_LAYOUT || rc == -EAGAIN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t flags = fz_u8(&f);
	size_t plen;
	const uint8_t *part = fz_split(&f, SEP, sizeof(SEP), &plen);

	uint8_t *seg;
	size_t seg_size;
	bool pristine = false;
	if (flags & RAW) {
		seg_size = plen;
		seg = aligned_alloc(4096, (plen + 4095) / 4096 * 4096 + 4096);
		FZ_SETUP(seg, "out of memory");
		memcpy(seg, part, plen);
	} else {
		seg = fz_state_segment(&seg_size);
		struct fz pf = fz_init(part, plen);
		pristine = plen == 0;
		while (fz_left(&pf) >= 4) {
			uint32_t off = (uint32_t)fz_u16(&pf) | (uint32_t)fz_u8(&pf) << 16;
			off %= (uint32_t)seg_size;
			size_t n;
			const uint8_t *p = fz_take(&pf, fz_u8(&pf) % 17, &n);
			n = n < seg_size - off ? n : seg_size - off;
			memcpy(seg + off, p, n);
		}
	}

	int rc = cairn__state_validate(seg, seg_size);
	FZ_CHECK(rc == 0 || rc == -CAIRN_E_BAD_MAGIC || rc == -CAIRN_E_VERSION ||
			 rc == -CAIRN_E_LAYOUT,
		 "state_validate: %d", rc);
	FZ_CHECK(!pristine || rc == 0, "the segment as cairnd makes it is refused: %d", rc);
	if (rc < 0) {
		free(seg);
		return 0;
	}
	struct cairn__metrics_view mv;
	rc = cairn__metrics_view(seg, seg_size, &mv);
	FZ_CHECK(rc == 0 || rc == -ENOENT || rc == -CAIRN_E_LAYOUT, "metrics_view: %d", rc);
	FZ_CHECK(!pristine || (rc == 0 && mv.on && mv.lane_count == 2), "metrics: %d", rc);
	if (rc == 0) {
		/* Inside the segment, as promised. */
		const uint8_t *end = seg + seg_size;
		FZ_CHECK((const uint8_t *)mv.hdr >= seg && (const uint8_t *)(mv.hdr + 1) <= end &&
				 (const uint8_t *)(mv.daemon + 1) <= end &&
				 (const uint8_t *)(mv.wal + 1) <= end &&
				 mv.lanes + (uint64_t)mv.lane_count * mv.lane_stride <= end,
			 "the metrics view reaches past the segment");
		for (uint32_t i = 0; i < mv.lane_count; i++) {
			volatile uint64_t x = cairn__metrics_lane(&mv, i)->commands;
			(void)x;
		}
	}

	struct cairn__lane *l = calloc(1, sizeof(*l));
	cairn_client *c = aligned_alloc(64, (sizeof(*c) + 63) / 64 * 64);
	FZ_SETUP(l && c, "out of memory");
	memset(c, 0, sizeof(*c));
	l->state = seg;
	l->state_size = seg_size;
	cairn__grid_attach(l);
	cairn__events_attach(l);
	c->lane = l;
	FZ_CHECK(!pristine || (l->grid.err == 0 && l->events_err == 0),
		 "attach: grid %d, events %d", l->grid.err, l->events_err);
	if (pristine) {
		/* The game of fz_populate, read directly. */
		struct cairn_hunt_info hi;
		FZ_CHECK(cairn_read_hunt(c, 0x01000000, &hi) == 0 && hi.players == 2 &&
				 hi.clues == 2 && hi.map_id == 0,
			 "hunt 01000000 not found as made");
		struct cairn_entity out[8];
		rc = cairn_read_rect(c, 0x01000000, INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX,
				     CAIRN_READ_PLAYERS | CAIRN_READ_CLUES, out, 8);
		FZ_CHECK(rc == 4, "the whole of hunt 01000000 holds %d entities, not 4", rc);
		for (unsigned i = 0; i < 6; i++) {
			struct cairn_entity en;
			uint32_t hunt = i == 2 || i == 5 ? 0x01000001 : 0x01000000;
			FZ_CHECK(cairn_read_entity(c, hunt, known_ids[i], &en) == 0 &&
					 en.id == known_ids[i],
				 "entity %08x not found", known_ids[i]);
		}
	}

	for (int n = 0; n < 32 && fz_left(&f) > 0; n++) {
		uint8_t op = fz_u8(&f);
		switch (op % 5) {
		case 0: {
			struct cairn_map_info mi;
			rc = cairn_read_map(c, fz_u8(&f), &mi);
			FZ_CHECK(rc == 0 || rc == -CAIRN_E_UNKNOWN_MAP || grid_error(rc) ||
					 rc == -ENOTSUP,
				 "read_map: %d", rc);
			break;
		}
		case 1: {
			struct cairn_hunt_info hi;
			uint32_t id = pick_id(&f);
			rc = cairn_read_hunt(c, id, &hi);
			FZ_CHECK(rc == 0 || rc == -CAIRN_E_UNKNOWN_HUNT || grid_error(rc),
				 "read_hunt: %d", rc);
			FZ_CHECK(rc != 0 || hi.id == id, "asked for hunt %08x, read %08x", id,
				 hi.id);
			break;
		}
		case 2: {
			struct cairn_entity en;
			uint32_t hunt = pick_id(&f), id = pick_id(&f);
			rc = cairn_read_entity(c, hunt, id, &en);
			FZ_CHECK(rc == 0 || rc == -CAIRN_E_UNKNOWN_HUNT ||
					 rc == -CAIRN_E_UNKNOWN_PLAYER ||
					 rc == -CAIRN_E_WRONG_HUNT || grid_error(rc),
				 "read_entity: %d", rc);
			FZ_CHECK(rc != 0 || (en.id == id && en.hunt_id == hunt),
				 "asked for %08x of %08x, read %08x of %08x", id, hunt, en.id,
				 en.hunt_id);
			break;
		}
		case 3: {
			struct cairn_entity out[16];
			uint32_t hunt = pick_id(&f);
			int32_t x0 = (int32_t)fz_u32(&f), y0 = (int32_t)fz_u32(&f);
			int32_t x1 = (int32_t)fz_u32(&f), y1 = (int32_t)fz_u32(&f);
			unsigned mask = fz_u8(&f) & 7;
			size_t cap = fz_u8(&f) % 17;
			rc = cairn_read_rect(c, hunt, x0, y0, x1, y1, mask, cap ? out : NULL, cap);
			FZ_CHECK(rc >= 0 || rc == -EINVAL || rc == -CAIRN_E_UNKNOWN_HUNT ||
					 grid_error(rc) || rc == -ENOMEM,
				 "read_rect: %d", rc);
			for (int i = 0; i < rc && (size_t)i < cap; i++) {
				const struct cairn_entity *en = &out[i];
				FZ_CHECK(en->hunt_id == hunt && en->x >= x0 && en->x <= x1 &&
						 en->y >= y0 && en->y <= y1 &&
						 ((en->kind == CAIRN_ENTITY_PLAYER &&
						   (mask & CAIRN_READ_PLAYERS)) ||
						  (en->kind == CAIRN_ENTITY_CLUE &&
						   (mask & CAIRN_READ_CLUES))),
					 "read_rect of %08x [%d,%d]-[%d,%d] mask %u gave %08x of "
					 "%08x "
					 "(kind %u) at (%d, %d)",
					 hunt, x0, y0, x1, y1, mask, en->id, en->hunt_id, en->kind,
					 en->x, en->y);
			}
			break;
		}
		default: {
			struct cairn_events ev;
			struct cairn_event out[8];
			rc = cairn_events_open(c, &ev);
			FZ_CHECK(rc == 0 || rc == -ENOTSUP || rc == -CAIRN_E_LAYOUT,
				 "events_open: %d", rc);
			if (rc == 0) {
				ev.next = fz_u8(&f) < 0x80 ? 0 : fz_u64(&f);
				rc = cairn_events_read(c, &ev, out, 8);
				FZ_CHECK(rc >= 0 && rc <= 8, "events_read: %d", rc);
				FZ_CHECK(!pristine || ev.next != 0 || rc == 8,
					 "%d events read from the start of a ring of 8 full ones",
					 rc);
			}
			break;
		}
		}
	}
	free(c);
	free(l);
	free(seg);
	return 0;
}
