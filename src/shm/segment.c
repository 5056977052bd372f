#include "shm/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "shm/ring.h"

#define PAGE 4096u

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static bool is_pow2(uint64_t v)
{
	return v && (v & (v - 1)) == 0;
}

/* True when [off, off + len) lies inside [0, size), without overflowing. */
static bool fits(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

int cairn__memfd_new(const char *name, uint64_t size, int *fd)
{
	int f = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f < 0) {
		return -errno;
	}
	if (ftruncate(f, (off_t)size) < 0) {
		int e = errno;
		close(f);
		return -e;
	}
	*fd = f;
	return 0;
}

int cairn__seal_size(int fd)
{
	return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0 ? -errno : 0;
}

int cairn__seal_readonly(int fd)
{
	int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	return fcntl(fd, F_ADD_SEALS, seals) < 0 ? -errno : 0;
}

int cairn__map(int fd, uint64_t size, bool writable, void **out)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *p = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		return -errno;
	}
	*out = p;
	return 0;
}

int cairn__fd_size(int fd, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		return -errno;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

void cairn__state_plan(struct cairn__state_layout *l, uint64_t events_size, uint64_t grid_size,
		       uint32_t metrics_lanes)
{
	memset(l, 0, sizeof(*l));
	l->counters_offset = sizeof(struct cairn_state_header);
	l->engine_counters_offset = l->counters_offset + sizeof(struct cairn_daemon_counters);
	uint64_t end =
		round_up(l->engine_counters_offset + sizeof(struct cairn_engine_counters), PAGE);
	/* The metrics: written by three threads, each part on cache lines of its own. */
	l->metrics_offset = end;
	l->metrics_lanes = metrics_lanes;
	l->metrics_size =
		round_up(sizeof(struct cairn_metrics_header) + sizeof(struct cairn_daemon_metrics) +
				 sizeof(struct cairn_wal_metrics) +
				 (uint64_t)metrics_lanes * sizeof(struct cairn_lane_metrics),
			 PAGE);
	end += l->metrics_size;
	if (events_size) {
		l->events_offset = end;
		l->events_size = round_up(events_size, PAGE);
		end += l->events_size;
	}
	if (grid_size) {
		l->grid_offset = end;
		l->grid_size = round_up(grid_size, PAGE);
		end += l->grid_size;
	}
	l->size = end;
}

void cairn__state_init(void *base, const struct cairn__state_layout *l, uint32_t max_lanes,
		       int apply_cpu, int numa_node)
{
	struct cairn_state_header *h = base;
	memset(base, 0, (size_t)l->engine_counters_offset + sizeof(struct cairn_engine_counters));
	h->magic = CAIRN_STATE_MAGIC;
	h->version_major = CAIRN_PROTO_MAJOR;
	h->version_minor = CAIRN_PROTO_MINOR;
	h->header_size = sizeof(*h);
	h->segment_size = l->size;
	h->boot_epoch_ns = cairn__wall_ns();
	h->daemon_pid = (uint32_t)getpid();
	h->max_lanes = max_lanes;
	h->apply_cpu = apply_cpu;
	h->numa_node = numa_node;
	h->counters_offset = l->counters_offset;
	h->counters_size = sizeof(struct cairn_daemon_counters);
	h->engine_counters_offset = l->engine_counters_offset;
	h->engine_counters_size = sizeof(struct cairn_engine_counters);
	h->events_offset = l->events_offset;
	h->events_size = l->events_size;
	h->grid_offset = l->grid_offset;
	h->grid_size = l->grid_size;
	h->heartbeat_ns = cairn__now_ns();
	h->daemon_state = CAIRN_DAEMON_STARTING;
	if (l->metrics_offset) {
		struct cairn_metrics_header *m = (void *)((char *)base + l->metrics_offset);
		h->metrics_offset = l->metrics_offset;
		h->metrics_size = l->metrics_size;
		m->hist_buckets = CAIRN_HIST_BUCKETS;
		m->start_ns = h->heartbeat_ns;
		m->daemon_offset = l->metrics_offset + sizeof(*m);
		m->wal_offset = m->daemon_offset + sizeof(struct cairn_daemon_metrics);
		m->lanes_offset = m->wal_offset + sizeof(struct cairn_wal_metrics);
		m->lane_stride = sizeof(struct cairn_lane_metrics);
		m->lane_count = l->metrics_lanes;
	}
}

int cairn__metrics_view(const void *base, uint64_t file_size, struct cairn__metrics_view *v)
{
	const struct cairn_state_header *h = base;
	memset(v, 0, sizeof(*v));
	uint64_t off = h->metrics_offset, size = h->metrics_size;
	if (off == 0) {
		return -ENOENT;
	}
	if (off % 64 != 0 || size < sizeof(struct cairn_metrics_header) ||
	    !fits(off, size, file_size)) {
		return -CAIRN_E_LAYOUT;
	}
	/* Copied: the values checked are the values used. */
	struct cairn_metrics_header m;
	memcpy(&m, (const char *)base + off, sizeof(m));
	uint64_t end = off + size;
	if (m.hist_buckets != CAIRN_HIST_BUCKETS ||
	    m.lane_stride < sizeof(struct cairn_lane_metrics) || m.lane_stride % 64 != 0 ||
	    m.daemon_offset % 64 != 0 || m.wal_offset % 64 != 0 || m.lanes_offset % 64 != 0 ||
	    m.daemon_offset < off || m.wal_offset < off || m.lanes_offset < off ||
	    !fits(m.daemon_offset, sizeof(struct cairn_daemon_metrics), end) ||
	    !fits(m.wal_offset, sizeof(struct cairn_wal_metrics), end) ||
	    m.lane_count > (end - (m.lanes_offset < end ? m.lanes_offset : end)) / m.lane_stride ||
	    m.lanes_offset > end) {
		return -CAIRN_E_LAYOUT;
	}
	v->hdr = (const void *)((const char *)base + off);
	v->daemon = (const void *)((const char *)base + m.daemon_offset);
	v->wal = (const void *)((const char *)base + m.wal_offset);
	v->lanes = (const uint8_t *)base + m.lanes_offset;
	v->lane_stride = m.lane_stride;
	v->lane_count = m.lane_count;
	v->on = (m.flags & CAIRN_METRICS_ON) != 0;
	return 0;
}

/* Checks the fields every segment starts with: magic, major, header size. */
static int check_preamble(const void *base, uint64_t file_size, uint64_t magic, uint64_t min_header)
{
	if (file_size < sizeof(uint64_t)) {
		return -CAIRN_E_LAYOUT;
	}
	uint64_t m;
	memcpy(&m, base, sizeof(m));
	if (m != magic) {
		return -CAIRN_E_BAD_MAGIC;
	}
	if (file_size < min_header) {
		return -CAIRN_E_LAYOUT;
	}
	/* version_major sits at offset 8 in every header, so it can be read before the rest. */
	uint16_t major;
	memcpy(&major, (const char *)base + 8, sizeof(major));
	if (major != CAIRN_PROTO_MAJOR) {
		return -CAIRN_E_VERSION;
	}
	return 0;
}

int cairn__state_validate(const void *base, uint64_t file_size)
{
	int r = check_preamble(base, file_size, CAIRN_STATE_MAGIC,
			       sizeof(struct cairn_state_header));
	if (r < 0) {
		return r;
	}
	/* Copy first: the values checked are the values used. */
	struct cairn_state_header h;
	memcpy(&h, base, sizeof(h));
	if (h.header_size < sizeof(h) || h.header_size > file_size || h.segment_size != file_size ||
	    h.counters_offset % 8 != 0 || h.counters_size < sizeof(struct cairn_daemon_counters) ||
	    h.counters_offset < h.header_size ||
	    !fits(h.counters_offset, h.counters_size, file_size) ||
	    h.engine_counters_offset % 8 != 0 || h.engine_counters_offset < h.header_size ||
	    h.engine_counters_size < sizeof(struct cairn_engine_counters) ||
	    !fits(h.engine_counters_offset, h.engine_counters_size, file_size)) {
		return -CAIRN_E_LAYOUT;
	}
	if (h.metrics_offset != 0 &&
	    (h.metrics_offset % PAGE != 0 || h.metrics_offset < h.header_size ||
	     h.metrics_size < sizeof(struct cairn_metrics_header) ||
	     !fits(h.metrics_offset, h.metrics_size, file_size))) {
		return -CAIRN_E_LAYOUT;
	}
	/* The event ring and the grid are optional; when present, page aligned and inside. */
	if ((h.events_offset != 0 &&
	     (h.events_offset % PAGE != 0 || h.events_offset < h.header_size ||
	      h.events_size < sizeof(struct cairn_event_ring_header) ||
	      !fits(h.events_offset, h.events_size, file_size))) ||
	    (h.grid_offset != 0 && (h.grid_offset % PAGE != 0 || h.grid_offset < h.header_size ||
				    h.grid_size < sizeof(struct cairn_grid_header) ||
				    !fits(h.grid_offset, h.grid_size, file_size)))) {
		return -CAIRN_E_LAYOUT;
	}
	return 0;
}

int cairn__lane_plan(uint32_t cmd_capacity, uint32_t res_capacity, uint64_t blob_size,
		     struct cairn__lane_layout *l)
{
	cmd_capacity = cmd_capacity ? cmd_capacity : CAIRN_RING_DEFAULT_CAPACITY;
	res_capacity = res_capacity ? res_capacity : CAIRN_RING_DEFAULT_CAPACITY;
	blob_size = blob_size ? blob_size : CAIRN_BLOB_DEFAULT_SIZE;
	if (!is_pow2(cmd_capacity) || cmd_capacity < CAIRN_RING_MIN_CAPACITY ||
	    cmd_capacity > CAIRN_RING_MAX_CAPACITY || !is_pow2(res_capacity) ||
	    res_capacity < CAIRN_RING_MIN_CAPACITY || res_capacity > CAIRN_RING_MAX_CAPACITY ||
	    blob_size > CAIRN_BLOB_MAX_SIZE) {
		return -CAIRN_E_LAYOUT;
	}
	l->cmd_capacity = cmd_capacity;
	l->res_capacity = res_capacity;
	l->cmd_offset = round_up(sizeof(struct cairn_lane_header), CAIRN_CACHE_LINE * 2);
	l->res_offset = l->cmd_offset + cairn__ring_bytes(cmd_capacity);
	l->blob_offset = round_up(l->res_offset + cairn__ring_bytes(res_capacity), PAGE);
	l->blob_size = round_up(blob_size, PAGE);
	l->size = l->blob_offset + l->blob_size;
	return 0;
}

void cairn__lane_init(void *base, const struct cairn__lane_layout *l, uint32_t lane_id,
		      uint64_t client_id)
{
	struct cairn_lane_header *h = base;
	struct cairn__ring r;
	memset(h, 0, sizeof(*h));
	h->magic = CAIRN_LANE_MAGIC;
	h->version_major = CAIRN_PROTO_MAJOR;
	h->version_minor = CAIRN_PROTO_MINOR;
	h->header_size = sizeof(*h);
	h->lane_size = l->size;
	h->lane_id = lane_id;
	h->lane_state = CAIRN_LANE_ACTIVE;
	h->client_id = client_id;
	h->cmd_ring_offset = l->cmd_offset;
	h->res_ring_offset = l->res_offset;
	h->blob_offset = l->blob_offset;
	h->blob_size = l->blob_size;
	h->cmd_capacity = l->cmd_capacity;
	h->res_capacity = l->res_capacity;
	h->slot_size = sizeof(struct cairn_slot);
	cairn__ring_init(&r, (char *)base + l->cmd_offset, l->cmd_capacity);
	cairn__ring_init(&r, (char *)base + l->res_offset, l->res_capacity);
}

static bool ring_ok(const void *base, uint64_t off, uint32_t capacity, uint64_t file_size)
{
	if (!is_pow2(capacity) || capacity < CAIRN_RING_MIN_CAPACITY ||
	    capacity > CAIRN_RING_MAX_CAPACITY || off % CAIRN_CACHE_LINE != 0 ||
	    !fits(off, cairn__ring_bytes(capacity), file_size)) {
		return false;
	}
	struct cairn_ring_header rh;
	memcpy(&rh, (const char *)base + off, sizeof(rh));
	return rh.capacity == capacity && rh.mask == capacity - 1 &&
	       rh.slot_size == sizeof(struct cairn_slot);
}

/* True when [a, a + la) and [b, b + lb) overlap. */
static bool overlap(uint64_t a, uint64_t la, uint64_t b, uint64_t lb)
{
	return a < b + lb && b < a + la;
}

int cairn__lane_validate(const void *base, uint64_t file_size, struct cairn__lane_layout *l)
{
	int r = check_preamble(base, file_size, CAIRN_LANE_MAGIC, sizeof(struct cairn_lane_header));
	if (r < 0) {
		return r;
	}
	struct cairn_lane_header h;
	memcpy(&h, base, sizeof(h));
	if (h.header_size < sizeof(h) || h.header_size > file_size || h.lane_size != file_size ||
	    h.slot_size != sizeof(struct cairn_slot) || h.cmd_ring_offset < h.header_size ||
	    h.res_ring_offset < h.header_size || h.blob_offset < h.header_size ||
	    !ring_ok(base, h.cmd_ring_offset, h.cmd_capacity, file_size) ||
	    !ring_ok(base, h.res_ring_offset, h.res_capacity, file_size) ||
	    !fits(h.blob_offset, h.blob_size, file_size)) {
		return -CAIRN_E_LAYOUT;
	}
	uint64_t cb = cairn__ring_bytes(h.cmd_capacity), rb = cairn__ring_bytes(h.res_capacity);
	if (overlap(h.cmd_ring_offset, cb, h.res_ring_offset, rb) ||
	    overlap(h.cmd_ring_offset, cb, h.blob_offset, h.blob_size) ||
	    overlap(h.res_ring_offset, rb, h.blob_offset, h.blob_size)) {
		return -CAIRN_E_LAYOUT;
	}
	l->cmd_offset = h.cmd_ring_offset;
	l->res_offset = h.res_ring_offset;
	l->blob_offset = h.blob_offset;
	l->blob_size = h.blob_size;
	l->size = h.lane_size;
	l->cmd_capacity = h.cmd_capacity;
	l->res_capacity = h.res_capacity;
	return 0;
}
