/*
 * Snapshot files: the whole durable state at one LSN.
 *
 * A snapshot is written as snap-LLLLLLLLLLLLLLLLLLLL.tmp (L: the LSN, 20 decimal
 * digits), fsynced, renamed to snap-LLLLLLLLLLLLLLLLLLLL.snap, and the directory is
 * fsynced; then all but the newest `keep` snapshots are deleted. A crash at any point
 * leaves either the old set or the new one, plus at worst a .tmp that the next
 * writer removes.
 *
 * File: a 128-byte header (below), then the engine image (cairn__engine_save), then the
 * exactly-once table image (cairn__dedup_save). Little-endian.
 */
#ifndef CAIRN_STORE_SNAPSHOT_H
#define CAIRN_STORE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define CAIRN__SNAP_MAGIC   UINT64_C(0x50414E534E524941) /* "AIRNSNAP" */
#define CAIRN__SNAP_VERSION 1

struct cairn__snap_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;     /* 128 */
	uint64_t lsn;             /* the state after applying every record up to this LSN */
	uint64_t prev_sum;        /* header_sum of record lsn (0 when lsn is 0): the chain link */
	uint64_t state_hash;      /* cairn__engine_hash of the engine image */
	uint64_t last_ingress_ns; /* latest ingress stamp applied (stamps continue above it) */
	uint64_t engine_len, engine_sum; /* bytes and XXH3-64 of the engine image */
	uint64_t dedup_len, dedup_sum;   /* bytes and XXH3-64 of the exactly-once table image */
	uint64_t created_ns;             /* CLOCK_REALTIME (information only) */
	uint8_t _reserved[32];
	uint64_t header_sum; /* XXH3-64 of the 120 bytes above */
};
_Static_assert(sizeof(struct cairn__snap_header) == 128, "snapshot header");

/* What a snapshot holds, as read back. */
struct cairn__snap {
	struct cairn__snap_header hdr;
	uint8_t *engine; /* hdr.engine_len bytes */
	uint8_t *dedup;  /* hdr.dedup_len bytes */
	char file[64];
};

/*
 * Writes a snapshot of (engine image, dedup image) at hdr->lsn into dir (which must
 * exist), as described above, keeping the newest `keep` (>= 1) and removing every stale
 * .tmp first. From hdr it takes lsn, prev_sum, state_hash, last_ingress_ns, engine_len
 * and dedup_len; it fills in the rest (magic, version, sizes, checksums, created_ns).
 * A snapshot of the same LSN is replaced. Returns 0, or -errno with why filled in (when
 * only removing an older snapshot failed, why says that the new one is on disk).
 * Not thread-safe against another writer of the same directory.
 */
int cairn__snap_write(const char *dir, const struct cairn__snap_header *hdr, const uint8_t *engine,
		      const uint8_t *dedup, unsigned keep, char *why, size_t whylen);

/*
 * Lists the snapshots in dir (the files snap-<20 digits>.snap), newest first: their LSNs
 * into lsns, at most max of them. Returns how many it stored, or -errno (-ENOENT when
 * dir does not exist).
 */
int cairn__snap_list(const char *dir, uint64_t *lsns, unsigned max);

/*
 * Reads and verifies the snapshot of lsn: header checksum, magic, version, that the file
 * is exactly as long as the header says, and both image checksums (the images
 * themselves are checked by whoever restores them). Returns 0, -CAIRN_E_BAD_SNAPSHOT
 * with why saying what is wrong (a sentence that starts with the file name), -ENOMEM,
 * or -errno when the file cannot be read. out->file is set in every case. Free with
 * cairn__snap_release (accepts a released or failed snapshot).
 */
int cairn__snap_read(const char *dir, uint64_t lsn, struct cairn__snap *out, char *why,
		     size_t whylen);
void cairn__snap_release(struct cairn__snap *s);

/*
 * Writes a file of the data directory durably: the concatenation of iov[0..n) into
 * tmp_name in the open directory dirfd (dir names it in messages), fsync, rename to
 * name, fsync of the directory. A crash leaves the old file or the new one, plus at
 * worst tmp_name. On failure tmp_name is removed. Returns 0 or -errno with why filled in.
 */
int cairn__store_write_file(int dirfd, const char *dir, const char *tmp_name, const char *name,
			    const struct iovec *iov, unsigned n, char *why, size_t whylen);

#endif
