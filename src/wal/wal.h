/*
 * The write-ahead log: the writer (group commit through one of two backends) and the
 * reader (recovery, replay, verification). See format.h for the bytes.
 *
 * Writer. One thread (the daemon's apply thread) appends records into an open batch
 * buffer in memory and kicks; at most one batch write is in flight at a time, and a
 * batch is durable once its write and an fdatasync covering it have completed. While a
 * write is in flight new records gather in the other buffer, so the batch size grows
 * with the load (group commit). Two backends write identical bytes:
 *   - io_uring: a WRITE linked to an FSYNC(DATASYNC) on one ring, reaped by the
 *     appending thread without a syscall (short writes and -ECANCELED resubmit the
 *     remainder and the sync);
 *   - sync: a writer thread doing pwrite + fdatasync.
 * CAIRN__WAL_AUTO probes io_uring (setup, opcode probe for WRITE and FSYNC, one scratch
 * write + fsync in the log directory) and falls back to sync on any failure; the reason
 * is kept for the daemon to log. The environment variable CAIRN_WAL_NO_URING (set to
 * anything but "" or "0") makes the probe fail (for tests and for machines where
 * io_uring misbehaves); an explicit CAIRN__WAL_URING then fails to open.
 *
 * Segments: when a batch does not fit the rest of the current segment, the writer moves
 * to the next one before writing it. The next segment is prepared ahead by a helper
 * thread (create as .tmp, fallocate, write its header, fdatasync, rename, fsync the
 * directory), so that rotation normally costs the appending thread nothing. The rename
 * never replaces an existing file (a stale resume position fails with -EEXIST). A batch
 * encoded for the current segment that ends up in the next one is re-encoded for it
 * (new salt, new checksums) when submitted. close deletes the segment made ahead; a
 * writer that crashes leaves it, empty, and the reader passes over it.
 *
 * Faults: a failed write, sync, fallocate or rename (EIO, ENOSPC, ...) makes the log
 * fail for good: the error is sticky, nothing after it is ever reported durable, and
 * the writer never retries a failed fdatasync (its dirty pages may be gone). So does a
 * failure to make the next segment, even while the current one still has room.
 *
 * Threads: a writer is used by one thread at a time (the appending thread: append, kick,
 * poll, wait, busy, stats, close); cairn__wal_error may be called from any thread. The
 * writer runs two helper threads of its own (the segment preparer, and for the sync
 * backend the writer thread), with every signal blocked. A reader is used by one thread
 * at a time; any number of readers may read a log while a writer appends to it (they see
 * the records written so far and a clean or torn end), but not while it is cut.
 *
 * Test hooks (environment variables read by cairn__wal_open; not for production):
 *   CAIRN_WAL_FAULT=OP:N:ERR   the N-th (from 1) operation OP of this log fails as if the
 *       kernel had returned ERR (a name such as EIO, ENOSPC, EDQUOT, or a number). OP is
 *       write or sync (batch writes and fdatasyncs, both backends; a sync cancelled by
 *       a short write does not count), or fallocate or rename (making segments; the
 *       first segment is made by open, which then fails). write:N:short makes the N-th
 *       write move only half of its bytes (the rest is written and synced after). A
 *       spec that does not parse fails open with -EINVAL.
 *   CAIRN_WAL_TEST_SALT=HEX    segment salts are HEX + sequence number instead of random,
 *       so that logs written by the two backends can be compared byte for byte.
 */
#ifndef CAIRN_WAL_WAL_H
#define CAIRN_WAL_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/protocol.h"
#include <sys/uio.h>

#include "wal/format.h"

enum cairn__wal_backend {
	CAIRN__WAL_AUTO = 0,
	CAIRN__WAL_URING = 1,
	CAIRN__WAL_SYNC = 2,
};

struct cairn__wal_config {
	const char *dir;                 /* the log directory; must exist */
	enum cairn__wal_backend backend; /* AUTO, URING (fail if unusable) or SYNC */
	uint64_t segment_size;           /* bytes per segment, 1 MiB..1 TiB; 0 = 64 MiB */
	uint32_t batch_bytes;            /* bytes per batch buffer, 64 KiB..1 GiB; 0 = 1 MiB */
};

/*
 * Where the log continues: what recovery found (see cairn__wal_reader_resume). A new
 * log has next_lsn 1, prev_sum 0, next_seq 1.
 */
struct cairn__wal_resume {
	uint64_t next_lsn; /* LSN of the next record */
	uint64_t prev_sum; /* header_sum of the last record, 0 if none */
	uint64_t next_seq; /* sequence number for the next segment file */
};

/*
 * What a writer has done, for metrics and benchmarks (monotonic): records, bytes (of
 * records, headers and padding included) and batches made durable; segments written to
 * (the first included).
 */
struct cairn__wal_stats {
	uint64_t records, bytes, batches, segments;
	uint64_t sync_ns_total; /* time from submit to durable, summed over batches */
	uint64_t sync_ns_max;
	uint64_t rotations_waited;              /* rotations that found no segment ready */
	uint64_t sync_hist[CAIRN_HIST_BUCKETS]; /* batches by submit-to-durable time, log2 ns */
};

struct cairn__wal;

/*
 * Opens the log for appending after resume (NULL: a new log). Writing always starts in a
 * new segment (next_seq), made before open returns, and the durable LSN starts at
 * next_lsn - 1. Stale wal-*.seg.tmp files are removed. cfg is not kept. On failure
 * returns -errno (-EINVAL for a bad configuration or resume position, -EEXIST when
 * segment next_seq already exists, the error of the failed operation otherwise) and
 * writes a sentence into why (whylen bytes; why may be NULL).
 */
int cairn__wal_open(const struct cairn__wal_config *cfg, const struct cairn__wal_resume *resume,
		    struct cairn__wal **out, char *why, size_t whylen);

/* "io_uring" or "sync", and why that one was chosen (a sentence). Valid until close. */
const char *cairn__wal_backend_name(const struct cairn__wal *w);
const char *cairn__wal_backend_reason(const struct cairn__wal *w);

/*
 * Appends one record whose body is the concatenation of iov[0..n) to the open batch;
 * the bytes are copied. Returns its LSN (> 0); -ENOBUFS when the open batch has no room
 * for it (kick; then, if the durable LSN d = cairn__wal_poll(w) is below
 * cairn__wal_appended(w), cairn__wal_wait(w, d + 1, ..), which returns once the write in
 * flight, or the open batch if none is, is durable; and append again); -E2BIG when the
 * record can never fit a segment (a body over
 * CAIRN__WAL_MAX_BODY, or a record over segment_size - 64); or the log's sticky error.
 * A record bigger than a batch buffer is accepted when the open batch is empty and
 * nothing is in flight (the buffer grows for it, and shrinks back once it is written).
 * Appending never blocks and makes no syscall (but for that growth).
 */
int64_t cairn__wal_append(struct cairn__wal *w, uint16_t kind, const struct iovec *iov, unsigned n);

/* LSN of the last record appended (0 if none yet). */
uint64_t cairn__wal_appended(const struct cairn__wal *w);

/*
 * Reaps a finished write, then submits the open batch if it holds records and no write
 * is in flight. If the batch needs the next segment and the preparer has not made it
 * yet, it stays open (stats.rotations_waited) until a later kick, poll or wait. Never
 * blocks for the disk. Returns 0 or the sticky error.
 */
int cairn__wal_kick(struct cairn__wal *w);

/*
 * Reaps finished writes without blocking and without a syscall, and returns the durable
 * LSN: every record up to it is on disk. It does not submit the next batch (kick does).
 * After a fault it stops advancing (see cairn__wal_error).
 */
uint64_t cairn__wal_poll(struct cairn__wal *w);

/* True while a batch write is in flight. */
bool cairn__wal_busy(const struct cairn__wal *w);

/*
 * Waits until the durable LSN reaches lsn, the log fails, or timeout_ns passes (-1:
 * no limit); kicks the open batch as needed. Returns 0 (also when the log has failed
 * but lsn was durable before), -ETIMEDOUT, -EINVAL when lsn was never appended, or the
 * sticky error (once the failed batch is settled: not busy, the durable LSN final).
 */
int cairn__wal_wait(struct cairn__wal *w, uint64_t lsn, int64_t timeout_ns);

/*
 * 0, or the -errno that made the log fail; *what (may be NULL) gets a sentence naming
 * the operation and the file ("fdatasync of wal-0000000000000003.seg: Input/output
 * error"), "" if none, valid until close. Any thread.
 */
int cairn__wal_error(const struct cairn__wal *w, const char **what);

void cairn__wal_stats(const struct cairn__wal *w, struct cairn__wal_stats *out);

/*
 * Writes out what is appended, waits for it, stops the helper threads, deletes the
 * segment made ahead (it holds no record) and frees w. After a failure nothing more is
 * written. Returns 0 or the sticky error. Accepts NULL.
 */
int cairn__wal_close(struct cairn__wal *w);

/* ---- Reading ---- */

/*
 * One verified record, as the reader hands it out. body points into the reader's mapping
 * of the segment (read-only) and is valid until the next call.
 */
struct cairn__wal_record {
	uint64_t lsn;
	uint16_t kind;
	uint32_t length;
	const uint8_t *body;
	uint64_t header_sum;
	uint64_t seq;    /* segment it came from */
	uint64_t offset; /* of its header in that segment */
};

/* How a scan ended. */
enum cairn__wal_end {
	CAIRN__WAL_END_CLEAN = 0, /* the last record was followed by nothing (zeros) */
	CAIRN__WAL_END_TORN,      /* a torn last batch: cut at end.seq/end.offset */
	CAIRN__WAL_END_DAMAGED,   /* damage followed by later records, or a broken chain */
};

/*
 * Where and how the log ends (the rules are at the top of reader.c). For CLEAN, the end
 * of the last record. For TORN and DAMAGED, where the damage starts: the first record
 * that does not verify, or, when only zeros follow it in its segment, the start of the
 * records (offset 64) of the next segment holding anything; offset 0 when a segment
 * header does not verify.
 */
struct cairn__wal_damage {
	enum cairn__wal_end end;
	char file[64];    /* segment file name where the log stops */
	uint64_t seq;     /* its sequence number */
	uint64_t offset;  /* byte offset of the first record that does not verify */
	uint64_t lsn;     /* the LSN expected there (0: no record was read, so unknown) */
	char reason[160]; /* "body checksum mismatch", "LSN 42 where 41 was expected", ... */
};

struct cairn__wal_reader;

/*
 * Opens the log in dir for reading records with LSN >= from_lsn (0 or 1: all). The
 * segment files are only read, never changed. The first record read is taken as given
 * (a log whose older segments were pruned starts at some LSN > 1); one with LSN 1 must
 * have prev_sum 0. Returns 0, -ENOENT when dir holds no segments, or -errno with why
 * filled in (why may be NULL).
 */
int cairn__wal_reader_open(const char *dir, uint64_t from_lsn, struct cairn__wal_reader **out,
			   char *why, size_t whylen);

/*
 * The next record. Returns 1 with *rec filled, 0 at the end of the log (then
 * cairn__wal_reader_end tells how it ended), or -errno on an I/O error. Records before
 * from_lsn are verified (the chain needs them) but not returned. rec->body is valid
 * until the next call.
 */
int cairn__wal_reader_next(struct cairn__wal_reader *r, struct cairn__wal_record *rec);

/* After next() returned 0: how the log ended and where. */
void cairn__wal_reader_end(const struct cairn__wal_reader *r, struct cairn__wal_damage *out);

/*
 * After next() returned 0: where a writer continues (next LSN, chain, next segment
 * sequence number), counting the records up to the end (torn tail excluded). next_seq
 * is one past the highest segment in the directory, whatever it holds, so that a writer
 * never reuses a file name.
 */
void cairn__wal_reader_resume(const struct cairn__wal_reader *r, struct cairn__wal_resume *out);

/*
 * After a clean end (only then; -EINVAL otherwise): removes the segments past the last
 * record, which hold nothing but their header (one a writer made and never wrote to, or
 * made ahead and did not take back because it was killed), and fsyncs the directory, so
 * that the next writer takes their numbers instead of leaving one empty segment per
 * start behind. Sets *first to the first number removed (0: none). For the one process
 * that is about to write the log. Returns how many were removed, or -errno.
 */
int cairn__wal_drop_empty_tail(struct cairn__wal_reader *r, uint64_t *first);

/* Bytes of segment data read so far and in total (for progress bars). */
void cairn__wal_reader_progress(const struct cairn__wal_reader *r, uint64_t *done, uint64_t *total);

void cairn__wal_reader_close(struct cairn__wal_reader *r);

/*
 * Cuts the log at the end found by a scan (a torn tail, or, when the operator said
 * --recover=truncate-at-damage, the damage): truncates that segment at the offset (a
 * segment whose header is damaged, offset 0, is renamed to *.discarded instead),
 * renames every later segment to *.discarded, and fsyncs the files and the directory.
 * Logs nothing; the caller says what it did. Returns 0, -EINVAL when at does not match
 * the files (name, offset past the end), or -errno.
 */
int cairn__wal_cut(const char *dir, const struct cairn__wal_damage *at);

/*
 * Deletes the segments whose records all have LSN < lsn (those before the oldest
 * snapshot kept): the oldest segments, in order, as long as the next segment holding a
 * record starts at or below lsn, so that no hole opens in the chain. Never the newest
 * segment, nor one followed only by segments without records (a writer's current or
 * next segment). Safe while a writer appends. Returns how many were deleted, or -errno.
 */
int cairn__wal_prune(const char *dir, uint64_t lsn);

#endif
