/*
 * The segment validators against corrupted headers. A client validates the state and
 * lane segments it is handed before reading anything else from them, so each kind of
 * damage must be refused with its own code (-CAIRN_E_BAD_MAGIC, -CAIRN_E_VERSION,
 * -CAIRN_E_LAYOUT), and the validator must not read a byte beyond the file, whatever
 * the headers claim.
 *
 * Each case is built on a real memfd: planned, initialised, corrupted through a mapping
 * and/or resized with ftruncate. The validator then sees the file's real size through
 * three views of the same bytes:
 *  - a read-only MAP_SHARED mapping of the file, as a client maps it;
 *  - a heap copy of exactly file-size bytes, so ASan flags any read past the end;
 *  - a copy placed so that it ends exactly at a PROT_NONE page, so that an
 *    out-of-bounds read faults even without a sanitizer.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "shm/ring.h"
#include "shm/segment.h"

#define PAGE 4096u

enum kind { STATE, LANE };

/* A freshly initialised segment, writable, at its planned size. */
struct seg {
	int fd;
	void *base;
	uint64_t size;
	struct cairn__state_layout st;
	struct cairn__lane_layout ln;
};

typedef void (*mutate_fn)(void *base, const struct seg *s);

struct vcase {
	const char *name;
	enum kind kind;
	mutate_fn mutate; /* NULL: leave the bytes alone */
	int64_t truncate; /* >= 0: ftruncate the file to this size; or KEEP, or FOLLOW */
	int64_t delta;    /* with KEEP, != 0: grow (or shrink) the file by this much */
	int expect;
};
#define KEEP   -1
#define FOLLOW -2 /* ftruncate to the size the corrupted header claims */

static const char *current = "(none)";

/* An out-of-bounds read in the guard view lands here: name the case, not just SIGSEGV. */
static void on_fault(int sig)
{
	static const char a[] =
		"FAIL: validator read outside the segment (SIGSEGV/SIGBUS) in case: ";
	ssize_t r;
	(void)sig;
	r = write(2, a, sizeof(a) - 1);
	r = write(2, current, strlen(current));
	r = write(2, "\n", 1);
	(void)r;
	_exit(T_FAIL);
}

static struct cairn_state_header *SH(void *b)
{
	return b;
}

static struct cairn_lane_header *LH(void *b)
{
	return b;
}

static struct cairn_ring_header *RH(void *b, uint64_t off)
{
	return (struct cairn_ring_header *)((char *)b + off);
}

/* Copies the command ring's header to off, so that only the property under test is wrong. */
static void copy_cmd_ring_header(void *b, const struct seg *s, uint64_t off)
{
	memmove((char *)b + off, RH(b, s->ln.cmd_offset), sizeof(struct cairn_ring_header));
}

static void copy_res_ring_header(void *b, const struct seg *s, uint64_t off)
{
	memmove((char *)b + off, RH(b, s->ln.res_offset), sizeof(struct cairn_ring_header));
}

/* Sets a lane's command capacity and its ring header to agree with it. */
static void set_cmd_capacity(void *b, const struct seg *s, uint32_t cap)
{
	LH(b)->cmd_capacity = cap;
	RH(b, s->ln.cmd_offset)->capacity = cap;
	RH(b, s->ln.cmd_offset)->mask = cap - 1;
}

/* One-line mutators: MUT(name, statement) defines name(b, s). */
#define MUT(name, stmt)                                                                            \
	static void name(void *b, const struct seg *s)                                             \
	{                                                                                          \
		(void)b;                                                                           \
		(void)s;                                                                           \
		stmt;                                                                              \
	}

/* ---- state header ---- */
MUT(st_magic_lane, SH(b)->magic = CAIRN_LANE_MAGIC)
MUT(st_magic_zero, SH(b)->magic = 0)
MUT(st_magic_swapped, SH(b)->magic = __builtin_bswap64(CAIRN_STATE_MAGIC))
MUT(st_major_next, SH(b)->version_major = CAIRN_PROTO_MAJOR + 1)
MUT(st_major_zero, SH(b)->version_major = 0)
MUT(st_major_max, SH(b)->version_major = 0xFFFF)
MUT(st_minor_next, SH(b)->version_minor = CAIRN_PROTO_MINOR + 1)
MUT(st_longer_header, SH(b)->header_size = 320; SH(b)->counters_offset = 320)
MUT(st_hdr_small, SH(b)->header_size = sizeof(struct cairn_state_header) - 1)
MUT(st_hdr_zero, SH(b)->header_size = 0)
MUT(st_hdr_past_end, SH(b)->header_size = (uint32_t)s->size + 1)
MUT(st_hdr_max, SH(b)->header_size = UINT32_MAX)
MUT(st_hdr_over_counters, SH(b)->header_size = 384)
MUT(st_seg_minus1, SH(b)->segment_size = s->size - 1)
MUT(st_seg_plus_page, SH(b)->segment_size = s->size + PAGE)
MUT(st_seg_zero, SH(b)->segment_size = 0)
MUT(st_seg_grown, SH(b)->segment_size = s->size + PAGE)
MUT(st_cnt_at_end, SH(b)->counters_offset = s->size - sizeof(struct cairn_daemon_counters))
MUT(st_cnt_straddles_end, SH(b)->counters_offset = s->size - 64)
MUT(st_cnt_at_size, SH(b)->counters_offset = s->size)
MUT(st_cnt_wraps, SH(b)->counters_offset = UINT64_MAX - 63)
MUT(st_cnt_far, SH(b)->counters_offset = 1ull << 62)
MUT(st_cnt_size_max, SH(b)->counters_size = UINT64_MAX)
MUT(st_cnt_size_file, SH(b)->counters_size = s->size)
MUT(st_cnt_size_small, SH(b)->counters_size = sizeof(struct cairn_daemon_counters) - 1)
MUT(st_cnt_size_zero, SH(b)->counters_size = 0)
MUT(st_cnt_at_zero, SH(b)->counters_offset = 0)
MUT(st_cnt_in_header, SH(b)->counters_offset = 128)
MUT(st_ecnt_in_header, SH(b)->engine_counters_offset = 64)
MUT(st_ecnt_misaligned, SH(b)->engine_counters_offset += 4)
MUT(st_ecnt_past_end, SH(b)->engine_counters_offset = s->size - 64)
MUT(st_ecnt_size_small, SH(b)->engine_counters_size = sizeof(struct cairn_engine_counters) - 8)
MUT(st_ev_misaligned, SH(b)->events_offset += 64)
MUT(st_ev_past_end, SH(b)->events_offset = s->size)
MUT(st_ev_size_small, SH(b)->events_size = sizeof(struct cairn_event_ring_header) - 1)
MUT(st_ev_wraps, SH(b)->events_offset = UINT64_MAX - PAGE + 1)
MUT(st_ev_none, SH(b)->events_offset = 0; SH(b)->events_size = 0)
MUT(st_grid_misaligned, SH(b)->grid_offset += 8)
MUT(st_grid_straddles, SH(b)->grid_size = s->size)
MUT(st_grid_size_small, SH(b)->grid_size = sizeof(struct cairn_grid_header) - 1)
MUT(st_grid_in_header, SH(b)->grid_offset = 0; SH(b)->grid_size = PAGE)
MUT(st_grid_none, SH(b)->grid_offset = 0; SH(b)->grid_size = 0)
MUT(st_cnt_misaligned, SH(b)->counters_offset = sizeof(struct cairn_state_header) + 4)

/* ---- lane header and ring headers ---- */
MUT(ln_magic_state, LH(b)->magic = CAIRN_STATE_MAGIC)
MUT(ln_major_next, LH(b)->version_major = CAIRN_PROTO_MAJOR + 1)
MUT(ln_minor_next, LH(b)->version_minor = CAIRN_PROTO_MINOR + 1)
MUT(ln_hdr_small, LH(b)->header_size = sizeof(struct cairn_lane_header) - 1)
MUT(ln_hdr_zero, LH(b)->header_size = 0)
MUT(ln_hdr_past_end, LH(b)->header_size = (uint32_t)s->size + 1)
MUT(ln_hdr_over_ring, LH(b)->header_size = (uint32_t)s->ln.cmd_offset + 64)
MUT(ln_size_minus1, LH(b)->lane_size = s->size - 1)
MUT(ln_size_plus_page, LH(b)->lane_size = s->size + PAGE)
MUT(ln_size_zero, LH(b)->lane_size = 0)
MUT(ln_size_grown, LH(b)->lane_size = s->size + PAGE)
MUT(ln_cmd_at_size, LH(b)->cmd_ring_offset = s->size)
MUT(ln_cmd_wraps, LH(b)->cmd_ring_offset = UINT64_MAX - 63)
MUT(ln_cmd_far, LH(b)->cmd_ring_offset = 1ull << 62)
MUT(ln_res_wraps, LH(b)->res_ring_offset = UINT64_MAX - 255)
MUT(ln_cmd_tail_cut, LH(b)->cmd_ring_offset = s->size - PAGE;
    copy_cmd_ring_header(b, s, s->size - PAGE))
MUT(ln_cmd_misaligned, LH(b)->cmd_ring_offset = s->ln.cmd_offset + 8;
    copy_cmd_ring_header(b, s, s->ln.cmd_offset + 8))
MUT(ln_res_misaligned, LH(b)->res_ring_offset = s->ln.res_offset + 32;
    copy_res_ring_header(b, s, s->ln.res_offset + 32))
MUT(ln_cmd_at_zero, LH(b)->cmd_ring_offset = 0)
MUT(ln_cmd_in_header, LH(b)->cmd_ring_offset = 64)
MUT(ln_res_on_cmd, LH(b)->res_ring_offset = s->ln.cmd_offset;
    LH(b)->res_capacity = s->ln.cmd_capacity)
MUT(ln_res_overlaps_cmd, LH(b)->res_ring_offset = s->ln.res_offset - 1024;
    copy_res_ring_header(b, s, s->ln.res_offset - 1024))
MUT(ln_cmd_on_blob, LH(b)->cmd_ring_offset = s->ln.blob_offset;
    copy_cmd_ring_header(b, s, s->ln.blob_offset))
MUT(ln_cap_48, set_cmd_capacity(b, s, 48))
MUT(ln_cap_zero, set_cmd_capacity(b, s, 0))
MUT(ln_cap_one, set_cmd_capacity(b, s, 1))
MUT(ln_cap_over_max, set_cmd_capacity(b, s, CAIRN_RING_MAX_CAPACITY * 2))
MUT(ln_cap_2g, set_cmd_capacity(b, s, 1u << 31))
MUT(ln_cap_all_ones, set_cmd_capacity(b, s, UINT32_MAX))
MUT(ln_cap_smaller_consistent, set_cmd_capacity(b, s, s->ln.cmd_capacity / 2))
MUT(ln_cap_lane_only, LH(b)->cmd_capacity = s->ln.cmd_capacity * 2)
MUT(ln_rh_capacity, RH(b, s->ln.cmd_offset)->capacity = s->ln.cmd_capacity * 2)
MUT(ln_rh_mask_low, RH(b, s->ln.cmd_offset)->mask = s->ln.cmd_capacity - 2)
MUT(ln_rh_mask_high, RH(b, s->ln.cmd_offset)->mask = s->ln.cmd_capacity * 2 - 1)
MUT(ln_rh_slot_size, RH(b, s->ln.cmd_offset)->slot_size = 32)
MUT(ln_res_rh_capacity, RH(b, s->ln.res_offset)->capacity = s->ln.res_capacity / 2)
MUT(ln_res_rh_slot_size, RH(b, s->ln.res_offset)->slot_size = 0)
MUT(ln_blob_past_end, LH(b)->blob_size = s->size - s->ln.blob_offset + 1)
MUT(ln_blob_at_size, LH(b)->blob_offset = s->size)
MUT(ln_blob_size_wraps, LH(b)->blob_size = UINT64_MAX - s->ln.blob_offset + 1 + PAGE)
MUT(ln_blob_offset_wraps, LH(b)->blob_offset = UINT64_MAX - (PAGE - 1))
MUT(ln_blob_size_max, LH(b)->blob_size = UINT64_MAX)
MUT(ln_blob_at_zero, LH(b)->blob_offset = 0)
MUT(ln_blob_on_res, LH(b)->blob_offset = s->ln.res_offset + PAGE)
MUT(ln_slot_zero, LH(b)->slot_size = 0)
MUT(ln_slot_half, LH(b)->slot_size = sizeof(struct cairn_slot) / 2)
MUT(ln_slot_double, LH(b)->slot_size = sizeof(struct cairn_slot) * 2)
MUT(ln_cut_in_res, LH(b)->lane_size = s->ln.res_offset + 100)

#define BAD_MAGIC (-CAIRN_E_BAD_MAGIC)
#define VERSION   (-CAIRN_E_VERSION)
#define LAYOUT    (-CAIRN_E_LAYOUT)

static const struct vcase cases[] = {
	/* state: accepted */
	{"state: as initialised", STATE, NULL, KEEP, 0, 0},
	{"state: newer minor version", STATE, st_minor_next, KEEP, 0, 0},
	{"state: longer header of a newer minor, counters after it", STATE, st_longer_header, KEEP,
	 0, 0},
	{"state: counters block ending exactly at the end", STATE, st_cnt_at_end, KEEP, 0, 0},
	{"state: grown file with a matching segment_size", STATE, st_seg_grown, FOLLOW, 0, 0},
	/* state: magic and version */
	{"state: lane magic", STATE, st_magic_lane, KEEP, 0, BAD_MAGIC},
	{"state: zero magic", STATE, st_magic_zero, KEEP, 0, BAD_MAGIC},
	{"state: byte-swapped magic", STATE, st_magic_swapped, KEEP, 0, BAD_MAGIC},
	{"state: major + 1", STATE, st_major_next, KEEP, 0, VERSION},
	{"state: major 0", STATE, st_major_zero, KEEP, 0, VERSION},
	{"state: major 0xffff", STATE, st_major_max, KEEP, 0, VERSION},
	/* state: header size */
	{"state: header_size one byte short", STATE, st_hdr_small, KEEP, 0, LAYOUT},
	{"state: header_size 0", STATE, st_hdr_zero, KEEP, 0, LAYOUT},
	{"state: header_size past the end", STATE, st_hdr_past_end, KEEP, 0, LAYOUT},
	{"state: header_size UINT32_MAX", STATE, st_hdr_max, KEEP, 0, LAYOUT},
	{"state: header_size covering the counters", STATE, st_hdr_over_counters, KEEP, 0, LAYOUT},
	/* state: segment size against the file */
	{"state: segment_size = file size - 1", STATE, st_seg_minus1, KEEP, 0, LAYOUT},
	{"state: segment_size = file size + 1 page", STATE, st_seg_plus_page, KEEP, 0, LAYOUT},
	{"state: segment_size 0", STATE, st_seg_zero, KEEP, 0, LAYOUT},
	{"state: file grown by a page", STATE, NULL, KEEP, PAGE, LAYOUT},
	{"state: file shrunk to half a page", STATE, NULL, PAGE / 2, 0, LAYOUT},
	/* state: counters region */
	{"state: counters straddling the end", STATE, st_cnt_straddles_end, KEEP, 0, LAYOUT},
	{"state: counters at the end of the file", STATE, st_cnt_at_size, KEEP, 0, LAYOUT},
	{"state: counters offset + size wraps", STATE, st_cnt_wraps, KEEP, 0, LAYOUT},
	{"state: counters offset 2^62", STATE, st_cnt_far, KEEP, 0, LAYOUT},
	{"state: counters size UINT64_MAX", STATE, st_cnt_size_max, KEEP, 0, LAYOUT},
	{"state: counters size = file size", STATE, st_cnt_size_file, KEEP, 0, LAYOUT},
	{"state: counters size one byte short", STATE, st_cnt_size_small, KEEP, 0, LAYOUT},
	{"state: counters size 0", STATE, st_cnt_size_zero, KEEP, 0, LAYOUT},
	{"state: counters at offset 0 (over the header)", STATE, st_cnt_at_zero, KEEP, 0, LAYOUT},
	{"state: counters inside the header", STATE, st_cnt_in_header, KEEP, 0, LAYOUT},
	/* state: engine counters, event ring and grid regions */
	{"state: engine counters inside the header", STATE, st_ecnt_in_header, KEEP, 0, LAYOUT},
	{"state: engine counters misaligned", STATE, st_ecnt_misaligned, KEEP, 0, LAYOUT},
	{"state: engine counters past the end", STATE, st_ecnt_past_end, KEEP, 0, LAYOUT},
	{"state: engine counters too small", STATE, st_ecnt_size_small, KEEP, 0, LAYOUT},
	{"state: event ring not page aligned", STATE, st_ev_misaligned, KEEP, 0, LAYOUT},
	{"state: event ring at the end of the file", STATE, st_ev_past_end, KEEP, 0, LAYOUT},
	{"state: event ring smaller than its header", STATE, st_ev_size_small, KEEP, 0, LAYOUT},
	{"state: event ring offset wraps", STATE, st_ev_wraps, KEEP, 0, LAYOUT},
	{"state: no event ring", STATE, st_ev_none, KEEP, 0, 0},
	{"state: grid not page aligned", STATE, st_grid_misaligned, KEEP, 0, LAYOUT},
	{"state: grid runs past the end", STATE, st_grid_straddles, KEEP, 0, LAYOUT},
	{"state: grid smaller than its header", STATE, st_grid_size_small, KEEP, 0, LAYOUT},
	{"state: grid offset 0 with a size", STATE, st_grid_in_header, KEEP, 0, 0},
	{"state: no grid", STATE, st_grid_none, KEEP, 0, 0},
	{"state: counters misaligned", STATE, st_cnt_misaligned, KEEP, 0, LAYOUT},
	/* state: files too short to hold what they claim */
	{"state: empty file", STATE, NULL, 0, 0, LAYOUT},
	{"state: 1-byte file", STATE, NULL, 1, 0, LAYOUT},
	{"state: 7-byte file", STATE, NULL, 7, 0, LAYOUT},
	{"state: 8-byte file (magic only)", STATE, NULL, 8, 0, LAYOUT},
	{"state: 8-byte file with a wrong magic", STATE, st_magic_lane, 8, 0, BAD_MAGIC},
	{"state: 10-byte file (magic and major)", STATE, NULL, 10, 0, LAYOUT},
	{"state: file one byte shorter than the header", STATE, NULL,
	 sizeof(struct cairn_state_header) - 1, 0, LAYOUT},
	{"state: file exactly the header", STATE, NULL, sizeof(struct cairn_state_header), 0,
	 LAYOUT},

	/* lane: accepted */
	{"lane: as initialised", LANE, NULL, KEEP, 0, 0},
	{"lane: newer minor version", LANE, ln_minor_next, KEEP, 0, 0},
	{"lane: smaller command ring, consistently described", LANE, ln_cap_smaller_consistent,
	 KEEP, 0, 0},
	{"lane: grown file with a matching lane_size", LANE, ln_size_grown, FOLLOW, 0, 0},
	/* lane: magic and version */
	{"lane: state magic", LANE, ln_magic_state, KEEP, 0, BAD_MAGIC},
	{"lane: major + 1", LANE, ln_major_next, KEEP, 0, VERSION},
	/* lane: header and lane size */
	{"lane: header_size one byte short", LANE, ln_hdr_small, KEEP, 0, LAYOUT},
	{"lane: header_size 0", LANE, ln_hdr_zero, KEEP, 0, LAYOUT},
	{"lane: header_size past the end", LANE, ln_hdr_past_end, KEEP, 0, LAYOUT},
	{"lane: header_size covering the command ring", LANE, ln_hdr_over_ring, KEEP, 0, LAYOUT},
	{"lane: lane_size = file size - 1", LANE, ln_size_minus1, KEEP, 0, LAYOUT},
	{"lane: lane_size = file size + 1 page", LANE, ln_size_plus_page, KEEP, 0, LAYOUT},
	{"lane: lane_size 0", LANE, ln_size_zero, KEEP, 0, LAYOUT},
	{"lane: file grown by a page", LANE, NULL, KEEP, PAGE, LAYOUT},
	{"lane: file shrunk by a page", LANE, NULL, KEEP, -(int64_t)PAGE, LAYOUT},
	{"lane: file cut inside the result ring, lane_size agreeing", LANE, ln_cut_in_res, FOLLOW,
	 0, LAYOUT},
	/* lane: ring offsets */
	{"lane: command ring at the end of the file", LANE, ln_cmd_at_size, KEEP, 0, LAYOUT},
	{"lane: command ring offset + size wraps", LANE, ln_cmd_wraps, KEEP, 0, LAYOUT},
	{"lane: command ring offset 2^62", LANE, ln_cmd_far, KEEP, 0, LAYOUT},
	{"lane: result ring offset + size wraps", LANE, ln_res_wraps, KEEP, 0, LAYOUT},
	{"lane: command ring running past the end", LANE, ln_cmd_tail_cut, KEEP, 0, LAYOUT},
	{"lane: command ring misaligned", LANE, ln_cmd_misaligned, KEEP, 0, LAYOUT},
	{"lane: result ring misaligned", LANE, ln_res_misaligned, KEEP, 0, LAYOUT},
	{"lane: command ring at offset 0 (over the header)", LANE, ln_cmd_at_zero, KEEP, 0, LAYOUT},
	{"lane: command ring inside the header", LANE, ln_cmd_in_header, KEEP, 0, LAYOUT},
	{"lane: result ring on the command ring", LANE, ln_res_on_cmd, KEEP, 0, LAYOUT},
	{"lane: result ring overlapping the command ring's end", LANE, ln_res_overlaps_cmd, KEEP, 0,
	 LAYOUT},
	{"lane: command ring inside the blob arena", LANE, ln_cmd_on_blob, KEEP, 0, LAYOUT},
	/* lane: capacities */
	{"lane: capacity 48 (not a power of two)", LANE, ln_cap_48, KEEP, 0, LAYOUT},
	{"lane: capacity 0", LANE, ln_cap_zero, KEEP, 0, LAYOUT},
	{"lane: capacity 1 (below the minimum)", LANE, ln_cap_one, KEEP, 0, LAYOUT},
	{"lane: capacity twice the maximum", LANE, ln_cap_over_max, KEEP, 0, LAYOUT},
	{"lane: capacity 2^31", LANE, ln_cap_2g, KEEP, 0, LAYOUT},
	{"lane: capacity UINT32_MAX", LANE, ln_cap_all_ones, KEEP, 0, LAYOUT},
	{"lane: lane capacity disagreeing with the ring header", LANE, ln_cap_lane_only, KEEP, 0,
	 LAYOUT},
	{"lane: ring header capacity disagreeing", LANE, ln_rh_capacity, KEEP, 0, LAYOUT},
	{"lane: ring header mask too small", LANE, ln_rh_mask_low, KEEP, 0, LAYOUT},
	{"lane: ring header mask too large", LANE, ln_rh_mask_high, KEEP, 0, LAYOUT},
	{"lane: ring header slot_size 32", LANE, ln_rh_slot_size, KEEP, 0, LAYOUT},
	{"lane: result ring header capacity disagreeing", LANE, ln_res_rh_capacity, KEEP, 0,
	 LAYOUT},
	{"lane: result ring header slot_size 0", LANE, ln_res_rh_slot_size, KEEP, 0, LAYOUT},
	/* lane: blob arena */
	{"lane: blob arena one byte past the end", LANE, ln_blob_past_end, KEEP, 0, LAYOUT},
	{"lane: blob arena at the end of the file", LANE, ln_blob_at_size, KEEP, 0, LAYOUT},
	{"lane: blob offset + size wraps (size)", LANE, ln_blob_size_wraps, KEEP, 0, LAYOUT},
	{"lane: blob offset + size wraps (offset)", LANE, ln_blob_offset_wraps, KEEP, 0, LAYOUT},
	{"lane: blob size UINT64_MAX", LANE, ln_blob_size_max, KEEP, 0, LAYOUT},
	{"lane: blob arena over the header", LANE, ln_blob_at_zero, KEEP, 0, LAYOUT},
	{"lane: blob arena over the result ring", LANE, ln_blob_on_res, KEEP, 0, LAYOUT},
	/* lane: slot size */
	{"lane: slot_size 0", LANE, ln_slot_zero, KEEP, 0, LAYOUT},
	{"lane: slot_size 32", LANE, ln_slot_half, KEEP, 0, LAYOUT},
	{"lane: slot_size 128", LANE, ln_slot_double, KEEP, 0, LAYOUT},
	/* lane: files too short */
	{"lane: empty file", LANE, NULL, 0, 0, LAYOUT},
	{"lane: 7-byte file", LANE, NULL, 7, 0, LAYOUT},
	{"lane: 8-byte file (magic only)", LANE, NULL, 8, 0, LAYOUT},
	{"lane: 8-byte file with a wrong magic", LANE, ln_magic_state, 8, 0, BAD_MAGIC},
	{"lane: file one byte shorter than the header", LANE, NULL,
	 sizeof(struct cairn_lane_header) - 1, 0, LAYOUT},
	{"lane: file exactly the header", LANE, NULL, sizeof(struct cairn_lane_header), 0, LAYOUT},
};

/* The lane used by every lane case: small rings of different sizes, a two-page arena. */
#define CMD_CAP   64
#define RES_CAP   128
#define BLOB_SIZE (2 * PAGE)

static void build(enum kind kind, struct seg *s)
{
	memset(s, 0, sizeof(*s));
	if (kind == STATE) {
		/* An event ring and a grid of a few pages, so their fields are checked too. */
		cairn__state_plan(&s->st, 2 * PAGE, 4 * PAGE, 16);
		s->size = s->st.size;
	} else {
		ASSERT_OK(cairn__lane_plan(CMD_CAP, RES_CAP, BLOB_SIZE, &s->ln));
		s->size = s->ln.size;
	}
	ASSERT_OK(cairn__memfd_new("validate", s->size, &s->fd));
	ASSERT_OK(cairn__map(s->fd, s->size, true, &s->base));
	if (kind == STATE) {
		cairn__state_init(s->base, &s->st, 16, -1, 0);
	} else {
		cairn__lane_init(s->base, &s->ln, 3, 42);
	}
}

static int validate(enum kind kind, const void *base, uint64_t size, struct cairn__lane_layout *out)
{
	return kind == STATE ? cairn__state_validate(base, size)
			     : cairn__lane_validate(base, size, out);
}

static void check(const struct vcase *c, const char *view, int got)
{
	if (got != c->expect) {
		T_FAILF("%s (%s view): %d (%s) vs expected %d (%s)", c->name, view, got,
			cairn_strerror(got), c->expect, cairn_strerror(c->expect));
	}
}

static void run_case(const struct vcase *c)
{
	struct seg s;
	struct cairn__lane_layout out;
	uint64_t size;
	current = c->name;
	build(c->kind, &s);
	if (c->mutate) {
		c->mutate(s.base, &s);
	}
	/* The size the header now claims, for the FOLLOW cases. */
	uint64_t claimed = c->kind == STATE ? SH(s.base)->segment_size : LH(s.base)->lane_size;
	ASSERT_EQ(munmap(s.base, s.size), 0);
	if (c->truncate != KEEP || c->delta != 0) {
		int64_t to = c->truncate >= 0 ? c->truncate : (int64_t)s.size + c->delta;
		if (c->truncate == FOLLOW) {
			to = (int64_t)claimed;
		}
		ASSERT_EQ(ftruncate(s.fd, to), 0);
	}
	ASSERT_OK(cairn__fd_size(s.fd, &size));

	/* 1. The file mapped read-only at its real size, as a client maps it. */
	if (size > 0) {
		void *ro;
		ASSERT_OK(cairn__map(s.fd, size, false, &ro));
		memset(&out, 0, sizeof(out));
		check(c, "mapping", validate(c->kind, ro, size, &out));
		if (c->kind == LANE && c->expect == 0 && c->mutate == NULL) {
			/* Valid as created: the layout read back is the layout planned. */
			ASSERT_UEQ(out.cmd_offset, s.ln.cmd_offset);
			ASSERT_UEQ(out.res_offset, s.ln.res_offset);
			ASSERT_UEQ(out.blob_offset, s.ln.blob_offset);
			ASSERT_UEQ(out.blob_size, s.ln.blob_size);
			ASSERT_UEQ(out.size, s.ln.size);
			ASSERT_UEQ(out.cmd_capacity, s.ln.cmd_capacity);
			ASSERT_UEQ(out.res_capacity, s.ln.res_capacity);
		}
		ASSERT_EQ(munmap(ro, size), 0);
	}

	/* 2. An exact-size heap copy: ASan reports the first byte read past the end. */
	unsigned char *heap = malloc(size ? size : 1);
	ASSERT_TRUE(heap != NULL);
	ASSERT_EQ(pread(s.fd, heap, size, 0), (ssize_t)size);
	check(c, "heap copy", validate(c->kind, size ? heap : heap + 1, size, &out));

	/* 3. A copy that ends where a PROT_NONE page begins: a read past the end faults. */
	size_t span = (size + PAGE - 1) / PAGE * PAGE;
	unsigned char *area =
		mmap(NULL, span + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(area != MAP_FAILED);
	ASSERT_EQ(mprotect(area + span, PAGE, PROT_NONE), 0);
	memcpy(area + span - size, heap, size);
	check(c, "guard page", validate(c->kind, area + span - size, size, &out));
	ASSERT_EQ(munmap(area, span + PAGE), 0);

	free(heap);
	close(s.fd);
}

/* cairn__lane_plan refuses what the validator would refuse, and plans what it accepts. */
static void test_plan(void)
{
	static const struct {
		uint32_t cmd, res;
		uint64_t blob;
		int expect;
	} plans[] = {
		{0, 0, 0, 0}, /* the defaults */
		{CAIRN_RING_MIN_CAPACITY, CAIRN_RING_MIN_CAPACITY, 1, 0},
		{CAIRN_RING_MAX_CAPACITY, 2, PAGE, 0},
		{2, 65536, CAIRN_BLOB_MAX_SIZE, 0},
		{1, 64, 0, LAYOUT},
		{3, 64, 0, LAYOUT},
		{64, 96, 0, LAYOUT},
		{CAIRN_RING_MAX_CAPACITY * 2, 64, 0, LAYOUT},
		{64, 1u << 31, 0, LAYOUT},
		{64, 64, (uint64_t)CAIRN_BLOB_MAX_SIZE + 1, LAYOUT},
		{64, 64, UINT64_MAX, LAYOUT},
	};
	for (unsigned i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
		struct cairn__lane_layout l, got;
		int r = cairn__lane_plan(plans[i].cmd, plans[i].res, plans[i].blob, &l);
		if (r != plans[i].expect) {
			T_FAILF("lane_plan(%u, %u, %llu): %d vs %d", plans[i].cmd, plans[i].res,
				(unsigned long long)plans[i].blob, r, plans[i].expect);
		}
		if (r < 0) {
			continue;
		}
		/* Rings aligned and after the header, in order, arena page aligned and last. */
		ASSERT_EQ(l.cmd_offset % CAIRN_CACHE_LINE, 0);
		ASSERT_EQ(l.res_offset % CAIRN_CACHE_LINE, 0);
		ASSERT_GE(l.cmd_offset, sizeof(struct cairn_lane_header));
		ASSERT_GE(l.res_offset, l.cmd_offset + cairn__ring_bytes(l.cmd_capacity));
		ASSERT_GE(l.blob_offset, l.res_offset + cairn__ring_bytes(l.res_capacity));
		ASSERT_EQ(l.blob_offset % PAGE, 0);
		ASSERT_GE(l.blob_size, plans[i].blob ? plans[i].blob : CAIRN_BLOB_DEFAULT_SIZE);
		ASSERT_UEQ(l.size, l.blob_offset + l.blob_size);
		if (plans[i].cmd == 0) {
			ASSERT_EQ(l.cmd_capacity, CAIRN_RING_DEFAULT_CAPACITY);
			ASSERT_EQ(l.res_capacity, CAIRN_RING_DEFAULT_CAPACITY);
		}
		/* Every plan, initialised on a memfd, validates as itself. */
		int fd;
		void *base;
		ASSERT_OK(cairn__memfd_new("plan", l.size, &fd));
		ASSERT_OK(cairn__map(fd, l.size, true, &base));
		cairn__lane_init(base, &l, 1, 2);
		ASSERT_EQ(cairn__lane_validate(base, l.size, &got), 0);
		ASSERT_EQ(memcmp(&got, &l, sizeof(l)), 0);
		ASSERT_EQ(munmap(base, l.size), 0);
		close(fd);
	}
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	unsigned n = sizeof(cases) / sizeof(cases[0]);
	for (unsigned i = 0; i < n; i++) {
		run_case(&cases[i]);
	}
	test_plan();
	printf("segment-validate: %u corrupted and valid segments checked through 3 views each, "
	       "lane plans checked\n",
	       n);
	return T_PASS;
}
