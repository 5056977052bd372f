/*
 * A torn tail at every byte of the last record. For each offset k of the last record
 * (a 64-byte body, 112 bytes in all): the file cut short at k, the bytes from k to the
 * end of the record zeroed, and garbage from k on. Every time the reader must return
 * the records before it and end CLEAN or TORN at that record, never DAMAGED. Then, at
 * offsets around every field boundary of the header and in the body (each cut and resume
 * costs several fsyncs, ~40 ms here, so not all 336), cairn__wal_cut removes the tail, a
 * writer resumes where the reader said, and the log reads back clean with the new
 * records.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kit.h"

#define BATCHES   3
#define PER_BATCH 10
#define N         (BATCHES * PER_BATCH)

/* The last record (LSN 30) has a 64-byte body: no padding, so every byte counts. */
static uint32_t len_of(uint64_t seed, uint64_t lsn)
{
	(void)seed;
	return lsn == N ? 64 : 8 + (uint32_t)(lsn % 7) * 13;
}

enum variant { CUT_SHORT, ZEROED, GARBAGE };
static const char *const variant_name[] = {"cut short", "zeroed", "garbage"};

/* Puts the log back as it was written: segment 1 only, its original bytes. */
static void restore(const char *dir, const uint8_t *pristine, size_t len)
{
	kit_rmrf(dir);
	ASSERT_EQ(mkdir(dir, 0755), 0);
	kit_spit(kit_seg_path(dir, 1), pristine, len);
}

int main(int argc, char **argv)
{
	const struct kit_backend *b = kit_backend_arg(argc, argv);
	char *dir = kit_tmpdir("torn-tail");
	uint64_t seed = 77;

	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 0, NULL);
	for (int i = 0; i < BATCHES; i++) {
		kit_batch(w, seed, 1 + (uint64_t)i * PER_BATCH, PER_BATCH, len_of);
	}
	ASSERT_EQ(cairn__wal_close(w), 0);
	struct kit_read rd;
	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_UEQ(rd.records, N);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd.last_seq, 1);
	const uint64_t off = rd.last_offset;
	const uint64_t size = cairn__wal_rec_size(64);
	ASSERT_UEQ(size, 112);

	size_t plen;
	uint8_t *pristine = kit_slurp(kit_seg_path(dir, 1), &plen);
	unsigned torn = 0, clean = 0;
	for (int v = CUT_SHORT; v <= GARBAGE; v++) {
		for (uint64_t k = 0; k < size; k++) {
			restore(dir, pristine, plen);
			const char *seg = kit_seg_path(dir, 1);
			switch (v) {
			case CUT_SHORT:
				ASSERT_EQ(truncate(seg, (off_t)(off + k)), 0);
				break;
			case ZEROED:
				kit_scribble(seg, off + k, size - k, 0, 0);
				break;
			case GARBAGE:
				kit_scribble(seg, off + k, size - k + 200, -1, k);
				break;
			}
			struct kit_read t;
			kit_read_all(dir, 1, seed, len_of, &t);
			if (t.records != N - 1 || t.end.end == CAIRN__WAL_END_DAMAGED) {
				T_FAILF("%s from byte %llu: %llu records, end %d (%s at %s+%llu)",
					variant_name[v], (unsigned long long)k,
					(unsigned long long)t.records, t.end.end, t.end.reason,
					t.end.file, (unsigned long long)t.end.offset);
			}
			ASSERT_UEQ(t.end.lsn, N);
			ASSERT_UEQ(t.end.seq, 1);
			ASSERT_UEQ(t.end.offset, off);
			ASSERT_UEQ(t.resume.next_lsn, N);
			ASSERT_UEQ(t.resume.next_seq, 2);
			if (t.end.end == CAIRN__WAL_END_TORN) {
				torn++;
			} else {
				clean++;
				/* Only nothing at all left of the record is clean. */
				ASSERT_TRUE(k == 0 && v != GARBAGE);
			}

			/* Cut it off, resume there, and the log is whole again. */
			static const uint64_t sample[] = {0,  1,  7,  8,  23, 24,
							  40, 47, 48, 49, 80, 111};
			bool sampled = false;
			for (size_t i = 0; i < sizeof(sample) / sizeof(sample[0]); i++) {
				sampled |= sample[i] == k;
			}
			if (!sampled) {
				continue;
			}
			ASSERT_EQ(cairn__wal_cut(dir, &t.end), 0);
			ASSERT_UEQ(kit_count(dir, ".seg"), 1);
			w = kit_open(dir, b->backend, KIT_MIB, 0, &t.resume);
			kit_batch(w, seed, N, 5, len_of);
			ASSERT_EQ(cairn__wal_close(w), 0);
			struct kit_read again;
			kit_read_all(dir, 1, seed, len_of, &again);
			ASSERT_UEQ(again.records, N + 4);
			ASSERT_EQ(again.end.end, CAIRN__WAL_END_CLEAN);
		}
	}
	printf("%s: %u torn and %u clean ends out of %u tails\n", b->name, torn, clean,
	       3 * (unsigned)size);
	free(pristine);
	kit_rmrf(dir);
	free(dir);
	return T_PASS;
}
