/*
 * Helpers shared by the WAL tests: scratch directories, the backend table, a
 * deterministic record stream (body of LSN n is a function of a seed and n, so a reader
 * can check every byte it gets back), and file surgery for the damage tests.
 */
#ifndef CAIRN_TESTS_WAL_KIT_H
#define CAIRN_TESTS_WAL_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "wal/wal.h"

#define KIT_MIB (UINT64_C(1) << 20)

struct kit_backend {
	const char *name;
	enum cairn__wal_backend backend;
};

/* The two backends, for table-driven tests. */
extern const struct kit_backend kit_backends[2];

/*
 * True if the backend can be used here; otherwise false with a reason (io_uring blocked
 * by seccomp, ...). Checks by opening a log in a scratch directory.
 */
bool kit_backend_usable(const struct kit_backend *b, char *why, size_t whylen);

/*
 * The backend named by argv[1] ("io_uring" or "sync"); exits 77 with the reason if it
 * cannot be used here, 1 on a bad argument.
 */
const struct kit_backend *kit_backend_arg(int argc, char **argv);

/* A fresh directory under $TMPDIR (or /tmp); free() the result after kit_rmrf. */
char *kit_tmpdir(const char *tag);
void kit_rmrf(const char *dir);

/* Path of segment seq in dir, in a static buffer (one of 4 rotating). */
const char *kit_seg_path(const char *dir, uint64_t seq);

/* ---- The record stream ---- */

/*
 * Body length of record lsn in stream seed: mostly small (0..200, 0 included), some up
 * to 4 KiB, and one in `big_every` (0: never) a big one of 100..300 KiB.
 */
uint32_t kit_body_len(uint64_t seed, uint64_t lsn, uint32_t big_every);
/* Fills the body of record lsn (never a zero byte). */
void kit_body_fill(uint64_t seed, uint64_t lsn, uint8_t *buf, uint32_t len);

/*
 * Appends records lsn first..first+count-1 of the stream with lengths from len_of (NULL:
 * kit_body_len(seed, lsn, 0)), kicking every kick_every records and waiting for room on
 * -ENOBUFS. Fails the test on any other error. Returns nothing: LSNs are checked.
 */
typedef uint32_t (*kit_len_fn)(uint64_t seed, uint64_t lsn);
void kit_append(struct cairn__wal *w, uint64_t seed, uint64_t first, uint64_t count,
		kit_len_fn len_of, unsigned kick_every);

/* Appends count records as exactly one batch, and waits for it. */
void kit_batch(struct cairn__wal *w, uint64_t seed, uint64_t first, uint64_t count,
	       kit_len_fn len_of);

/* Opens a writer or fails the test. */
struct cairn__wal *kit_open(const char *dir, enum cairn__wal_backend b, uint64_t segment_size,
			    uint32_t batch_bytes, const struct cairn__wal_resume *resume);

/* What a read of the whole log found. */
struct kit_read {
	uint64_t records; /* returned */
	uint64_t first, last;
	uint64_t last_seq, last_offset, last_sum;
	struct cairn__wal_damage end;
	struct cairn__wal_resume resume;
};

/*
 * Reads dir from from_lsn, checking LSNs are consecutive and every body against the
 * stream (len_of as for kit_append). Fails the test on a read error or a wrong body.
 */
void kit_read_all(const char *dir, uint64_t from_lsn, uint64_t seed, kit_len_fn len_of,
		  struct kit_read *out);

/* ---- Files ---- */

/* The whole file, malloc'ed; *len gets its size. Fails the test if unreadable. */
uint8_t *kit_slurp(const char *path, size_t *len);
/* Writes buf as the whole content of path (truncating). */
void kit_spit(const char *path, const uint8_t *buf, size_t len);
/* XXH3 of every regular file's name and content in dir, in name order. */
uint64_t kit_dir_hash(const char *dir);
/* Flips bit `bit` of byte `off` of path. */
void kit_flip(const char *path, uint64_t off, unsigned bit);
/* Overwrites [off, off+len) of path with byte v, or with random non-matching bytes if v < 0. */
void kit_scribble(const char *path, uint64_t off, uint64_t len, int v, uint64_t seed);
/* Number of files in dir whose name ends with suffix. */
unsigned kit_count(const char *dir, const char *suffix);

/* splitmix64 */
static inline uint64_t kit_mix(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

#endif
