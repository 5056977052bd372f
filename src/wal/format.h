/*
 * The write-ahead log's file format. All integers are little-endian.
 *
 * A log is a directory of segment files named wal-SSSSSSSSSSSSSSSS.seg (S: the segment's
 * sequence number, 16 hex digits, from 1). A segment is preallocated to its full size
 * and starts with a 64-byte segment header; records follow back to back, each 8-byte
 * aligned, until the first record that does not verify (normally zeros: the unused
 * preallocated tail).
 *
 * Every record carries:
 *   - a header checksum (XXH3-64 of the rest of the header, seeded with the salt),
 *   - a body checksum (XXH3-64 of the body, seeded with the salt),
 *   - the previous record's header checksum, so that records form a hash chain across
 *     segments (the first record of the log has 0),
 *   - its LSN, exactly one more than the previous record's,
 *   - the salt of the segment it lives in (a random number drawn when the segment was
 *     made, so that bytes left over from another segment never verify here),
 *   - its kind and body length,
 *   - batch_index: its place in the write batch it went to disk with (0 for the first
 *     record of a batch). Recovery uses it to tell a torn last batch (damage followed
 *     only by records of the same batch) from damage in the middle (followed by records
 *     of a later batch, which was written only after the damaged one was durable).
 * Both checksums are XXH3_64bits_withSeed with the segment's full 64-bit salt (from its
 * header) as the seed. The padding after a body is zeros, covered by neither.
 *
 * A write batch never spans two segments.
 */
#ifndef CAIRN_WAL_FORMAT_H
#define CAIRN_WAL_FORMAT_H

#include <stdint.h>

#include "cairn/protocol.h"

#define CAIRN__WAL_SEG_MAGIC  UINT64_C(0x4C41574E52494143) /* "CAIRNWAL" */
#define CAIRN__WAL_VERSION    1
#define CAIRN__WAL_SEG_HEADER 64
#define CAIRN__WAL_REC_HEADER 48
#define CAIRN__WAL_ALIGN      8
#define CAIRN__WAL_MAX_BODY   (UINT32_C(1) << 30)

/* At offset 0 of every segment. */
struct cairn__wal_seg_header {
	uint64_t magic;       /* CAIRN__WAL_SEG_MAGIC */
	uint32_t version;     /* CAIRN__WAL_VERSION */
	uint32_t header_size; /* CAIRN__WAL_SEG_HEADER */
	uint64_t seq;         /* this segment's sequence number, from 1 */
	uint64_t salt;        /* random; records here carry its low 32 bits */
	uint64_t size;        /* bytes the segment was preallocated to */
	uint64_t created_ns;  /* CLOCK_REALTIME when made (information only) */
	uint64_t _reserved;
	uint64_t header_sum; /* XXH3-64 of the 56 bytes above, seed 0 */
};
_Static_assert(sizeof(struct cairn__wal_seg_header) == CAIRN__WAL_SEG_HEADER, "segment header");

/* Record kinds. */
enum {
	CAIRN__WAL_COMMAND = 1,  /* body: struct cairn__wal_command */
	CAIRN__WAL_ROLLBACK = 2, /* body: struct cairn__wal_command, then the hunt image */
};

struct cairn__wal_rec {
	uint64_t header_sum;  /* XXH3-64 of bytes 8..47 of this header, seed = segment salt */
	uint64_t body_sum;    /* XXH3-64 of the body (length bytes), seed = segment salt */
	uint64_t prev_sum;    /* header_sum of the record before this one in the log, or 0 */
	uint64_t lsn;         /* previous record's + 1; the first record of a log is 1 */
	uint32_t salt;        /* low 32 bits of the segment's salt */
	uint32_t length;      /* body bytes (the record is padded to CAIRN__WAL_ALIGN) */
	uint16_t kind;        /* CAIRN__WAL_COMMAND, ... */
	uint16_t flags;       /* 0 */
	uint32_t batch_index; /* records before this one in its write batch */
};
_Static_assert(sizeof(struct cairn__wal_rec) == CAIRN__WAL_REC_HEADER, "record header");

/*
 * The body of a command record: an accepted command that changed the state, as the
 * daemon applied it. session and msg.hdr.request_id make it the exactly-once key;
 * ingress_ns is the stamp the engine was given.
 */
struct cairn__wal_command {
	uint64_t session;    /* the client's session id (stable across reconnects) */
	uint64_t ingress_ns; /* the daemon's ingress stamp */
	struct cairn_msg msg;
};
_Static_assert(sizeof(struct cairn__wal_command) == 72, "command body");

/* Bytes a record with a body of len bytes takes in a segment. */
static inline uint64_t cairn__wal_rec_size(uint32_t len)
{
	return CAIRN__WAL_REC_HEADER +
	       (((uint64_t)len + CAIRN__WAL_ALIGN - 1) & ~(uint64_t)(CAIRN__WAL_ALIGN - 1));
}

#endif
