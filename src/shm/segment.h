/*
 * Segments: memfd-backed shared memory. The daemon creates them, seals their size so
 * that no peer can shrink a file under another's mapping (which would turn the next
 * access into SIGBUS), and passes the descriptors to clients with SCM_RIGHTS.
 *
 * The state segment is additionally sealed with F_SEAL_FUTURE_WRITE once the daemon
 * holds its read-write mapping: from then on nobody, the daemon included, can create a
 * new writable mapping, so hosts can only map it read-only.
 */
#ifndef CAIRN_SHM_SEGMENT_H
#define CAIRN_SHM_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/protocol.h"

/* Creates a sealable memfd of size bytes. Returns 0 and *fd, or -errno. */
int cairn__memfd_new(const char *name, uint64_t size, int *fd);

/* Seals the size (shrink and grow). Returns 0 or -errno. */
int cairn__seal_size(int fd);

/* Seals the size and all future writable mappings, then the seals themselves. */
int cairn__seal_readonly(int fd);

/* Maps the whole fd shared, read-write or read-only. Returns 0 or -errno. */
int cairn__map(int fd, uint64_t size, bool writable, void **out);

/* The size of fd as the kernel knows it. Returns 0 or -errno. */
int cairn__fd_size(int fd, uint64_t *size);

/* ---- the state segment ---- */

struct cairn__state_layout {
	uint64_t counters_offset;
	uint64_t engine_counters_offset;
	uint64_t metrics_offset; /* the metrics region: header, daemon, log, lanes */
	uint64_t metrics_size;
	uint32_t metrics_lanes;
	uint64_t events_offset; /* 0 when there is no event ring */
	uint64_t events_size;
	uint64_t grid_offset; /* 0 when there is no grid */
	uint64_t grid_size;
	uint64_t size;
};

/*
 * Plans a state segment: the header, the daemon's and the engine's counters, the metrics
 * region (its header, the daemon's and the log's metrics, and metrics_lanes lane
 * records), then the event ring (events_size bytes) and the grid region (grid_size
 * bytes), each page aligned. Either size may be 0 for none.
 */
void cairn__state_plan(struct cairn__state_layout *l, uint64_t events_size, uint64_t grid_size,
		       uint32_t metrics_lanes);

/*
 * Writes the header and counters of a fresh state segment (daemon only). The memory
 * must be zero-filled (a new memfd is); the event ring and grid regions are left
 * untouched, so that their pages are only allocated as they are used.
 */
void cairn__state_init(void *base, const struct cairn__state_layout *l, uint32_t max_lanes,
		       int apply_cpu, int numa_node);

/*
 * The metrics of a state segment, located and checked (for readers: ringtop, the
 * Prometheus endpoint, tests). Pointers into the mapping; lanes[i] is lane i's record,
 * lane_count of them lane_stride bytes apart.
 */
struct cairn__metrics_view {
	const struct cairn_metrics_header *hdr;
	const struct cairn_daemon_metrics *daemon;
	const struct cairn_wal_metrics *wal;
	const uint8_t *lanes;
	uint32_t lane_stride, lane_count;
	bool on; /* CAIRN_METRICS_ON: the daemon keeps them */
};

/*
 * Fills *v from a state segment that cairn__state_validate accepted. Returns 0,
 * -ENOENT when the daemon publishes no metrics (an older protocol), or -CAIRN_E_LAYOUT
 * when the metrics region does not fit the segment.
 */
int cairn__metrics_view(const void *base, uint64_t file_size, struct cairn__metrics_view *v);

static inline const struct cairn_lane_metrics *
cairn__metrics_lane(const struct cairn__metrics_view *v, uint32_t i)
{
	return (const struct cairn_lane_metrics *)(v->lanes + (uint64_t)i * v->lane_stride);
}

/*
 * Checks a state segment mapped from a file of file_size bytes before anything else
 * reads it: magic, major version, header and segment sizes, every region (counters,
 * engine counters, event ring, grid) within the file and page or line aligned. Reads nothing beyond
 * file_size. Returns 0, -CAIRN_E_BAD_MAGIC, -CAIRN_E_VERSION or -CAIRN_E_LAYOUT.
 */
int cairn__state_validate(const void *base, uint64_t file_size);

/* ---- lane segments ---- */

struct cairn__lane_layout {
	uint64_t cmd_offset;
	uint64_t res_offset;
	uint64_t blob_offset;
	uint64_t blob_size;
	uint64_t size;
	uint32_t cmd_capacity;
	uint32_t res_capacity;
};

/*
 * Plans a lane for the requested ring capacities and arena size (0 = default).
 * Returns 0, or -CAIRN_E_LAYOUT when a capacity is not a power of two within
 * [RING_MIN_CAPACITY, RING_MAX_CAPACITY] or the arena is larger than BLOB_MAX_SIZE.
 */
int cairn__lane_plan(uint32_t cmd_capacity, uint32_t res_capacity, uint64_t blob_size,
		     struct cairn__lane_layout *l);

/* Writes the header and both empty rings of a fresh lane (daemon only). */
void cairn__lane_init(void *base, const struct cairn__lane_layout *l, uint32_t lane_id,
		      uint64_t client_id);

/*
 * Checks a lane mapped from a file of file_size bytes, as cairn__state_validate does,
 * including both ring headers, and fills *l from it. Returns 0, -CAIRN_E_BAD_MAGIC,
 * -CAIRN_E_VERSION or -CAIRN_E_LAYOUT.
 */
int cairn__lane_validate(const void *base, uint64_t file_size, struct cairn__lane_layout *l);

#endif
