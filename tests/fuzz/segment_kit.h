/*
 * Segments as cairnd makes them, for the fuzz targets that check the client's side: a
 * state segment with an engine in it that holds the game of fz_populate, and a lane;
 * and, for the targets that read the log, a WAL segment header made right.
 */
#ifndef CAIRN_TESTS_FUZZ_SEGMENT_KIT_H
#define CAIRN_TESTS_FUZZ_SEGMENT_KIT_H

#include <stddef.h>
#include <stdint.h>

#include "shm/segment.h"

/*
 * A state segment laid out and initialized as the control thread does (cairn__state_plan,
 * cairn__state_init, metrics on, two lane records), with an engine of fz_engine_config
 * in its grid and event regions that has applied fz_populate. New page-aligned memory
 * of *size bytes (free with free()); the same bytes every call but for the header's
 * stamps, which are fixed here so that runs repeat.
 */
uint8_t *fz_state_segment(size_t *size);

/* A lane laid out by cairn__lane_plan and cairn__lane_init, in new page-aligned memory. */
uint8_t *fz_lane_segment(uint32_t cmd_capacity, uint32_t res_capacity, uint32_t blob,
			 struct cairn__lane_layout *lay);

/*
 * Gives the WAL segment header at data (len bytes; nothing when shorter than a header)
 * sequence number seq and the checksum that makes it verify, so that mutations of a
 * segment get past its header.
 */
void fz_fix_wal_seg_header(uint8_t *data, size_t len, uint64_t seq);

#endif
