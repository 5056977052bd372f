/*
 * Segments as cairnd makes them (segment_kit.h).
 */
#include "segment_kit.h"

#include <stddef.h>
#include <string.h>
#include <xxhash.h>

#include "cairn/protocol.h"
#include "engine/engine.h"
#include "engine_kit.h"
#include "fuzz.h"
#include "wal/format.h"

uint8_t *fz_state_segment(size_t *size)
{
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	struct cairn__state_layout lay;
	cairn__state_plan(&lay, cairn__engine_events_size(&cfg), cairn__engine_grid_size(&cfg), 2);
	uint8_t *base = aligned_alloc(4096, lay.size);
	FZ_SETUP(base, "out of memory");
	memset(base, 0, lay.size);
	cairn__state_init(base, &lay, 2, -1, -1);
	struct cairn_state_header *h = (struct cairn_state_header *)base;
	h->boot_epoch_ns = 1;
	h->heartbeat_ns = 2;
	h->daemon_pid = 1;
	h->daemon_state = CAIRN_DAEMON_RUNNING;
	struct cairn_metrics_header *m = (void *)(base + lay.metrics_offset);
	m->flags = CAIRN_METRICS_ON;
	m->start_ns = 2;
	struct cairn__engine *e;
	FZ_SETUP(cairn__engine_new(&cfg, base + lay.grid_offset, base + lay.events_offset,
				   (void *)(base + lay.engine_counters_offset), &e) == 0,
		 "engine_new");
	fz_populate(e);
	cairn__engine_free(e);
	*size = lay.size;
	return base;
}

uint8_t *fz_lane_segment(uint32_t cmd_capacity, uint32_t res_capacity, uint32_t blob,
			 struct cairn__lane_layout *lay)
{
	FZ_SETUP(cairn__lane_plan(cmd_capacity, res_capacity, blob, lay) == 0, "lane_plan");
	uint8_t *base = aligned_alloc(4096, lay->size);
	FZ_SETUP(base, "out of memory");
	memset(base, 0, lay->size);
	cairn__lane_init(base, lay, 3, 7);
	return base;
}

void fz_fix_wal_seg_header(uint8_t *data, size_t len, uint64_t seq)
{
	struct cairn__wal_seg_header h;
	if (len < sizeof(h)) {
		return;
	}
	memcpy(&h, data, sizeof(h));
	h.seq = seq;
	h.header_sum =
		XXH3_64bits_withSeed(&h, offsetof(struct cairn__wal_seg_header, header_sum), 0);
	memcpy(data, &h, sizeof(h));
}
