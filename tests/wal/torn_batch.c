/*
 * The pages of one write batch may reach the disk in any order, so a crash can leave the
 * last batch with a hole in its middle and intact records after it. That is a torn tail
 * (END_TORN at the hole): those records were never acknowledged. The same hole in an
 * earlier batch is followed by a later batch, which was written only once the earlier
 * one was durable: damage (END_DAMAGED). Records here are ~1 KiB, so a batch of 10
 * spans several 4 KiB pages, and whole pages are lost too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kit.h"

#define BATCHES   6
#define PER_BATCH 10
#define N         (BATCHES * PER_BATCH)

static uint32_t len_of(uint64_t seed, uint64_t lsn)
{
	(void)seed;
	return 1000 + (uint32_t)(lsn % 3) * 8;
}

enum how { GARBLE_HEADER, GARBLE_BODY, ZERO_RECORD, ZERO_PAGE };
static const char *const how_name[] = {"garbled header", "garbled body", "zeroed record",
				       "lost page"};

static void restore(const char *dir, const uint8_t *pristine, size_t len)
{
	kit_rmrf(dir);
	ASSERT_EQ(mkdir(dir, 0755), 0);
	kit_spit(kit_seg_path(dir, 1), pristine, len);
}

int main(int argc, char **argv)
{
	const struct kit_backend *b = kit_backend_arg(argc, argv);
	char *dir = kit_tmpdir("torn-batch");
	uint64_t seed = 99;

	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 0, NULL);
	for (int i = 0; i < BATCHES; i++) {
		kit_batch(w, seed, 1 + (uint64_t)i * PER_BATCH, PER_BATCH, len_of);
	}
	ASSERT_EQ(cairn__wal_close(w), 0);

	uint64_t off[N + 1];
	struct cairn__wal_reader *r;
	ASSERT_EQ(cairn__wal_reader_open(dir, 1, &r, NULL, 0), 0);
	struct cairn__wal_record rec;
	while (cairn__wal_reader_next(r, &rec) == 1) {
		ASSERT_UEQ(rec.seq, 1);
		off[rec.lsn] = rec.offset;
	}
	cairn__wal_reader_close(r);

	size_t plen;
	uint8_t *pristine = kit_slurp(kit_seg_path(dir, 1), &plen);

	/* LSN to damage, and whether that is in the last batch (41..50 is the fifth). */
	static const uint64_t targets[] = {55, 51, 59, 52, 45, 41, 50, 35, 31, 10};
	unsigned cases = 0;
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		uint64_t lsn = targets[t];
		bool last_batch = lsn > N - PER_BATCH;
		for (int how = GARBLE_HEADER; how <= ZERO_PAGE; how++) {
			restore(dir, pristine, plen);
			const char *seg = kit_seg_path(dir, 1);
			uint64_t at = off[lsn], size = cairn__wal_rec_size(len_of(seed, lsn));
			uint64_t expect_off = at, expect_lsn = lsn;
			switch (how) {
			case GARBLE_HEADER:
				kit_scribble(seg, at + 8, 24, -1, lsn);
				break;
			case GARBLE_BODY:
				kit_scribble(seg, at + CAIRN__WAL_REC_HEADER + 100, 300, -1, lsn);
				break;
			case ZERO_RECORD:
				kit_scribble(seg, at, size, 0, 0);
				break;
			case ZERO_PAGE: {
				/* The 4 KiB page holding the record's middle: every record touching
				 * it fails, the first of them is where the log stops. */
				uint64_t page = (at + size / 2) & ~UINT64_C(4095);
				kit_scribble(seg, page, 4096, 0, 0);
				for (uint64_t l = 1; l <= N; l++) {
					if (off[l] + cairn__wal_rec_size(len_of(seed, l)) > page) {
						expect_off = off[l];
						expect_lsn = l;
						break;
					}
				}
				if (expect_lsn <= N - PER_BATCH && lsn > N - PER_BATCH) {
					/* The page reaches back into the batch before: not this
					 * case. */
					continue;
				}
				break;
			}
			}
			struct kit_read rd;
			kit_read_all(dir, 1, seed, len_of, &rd);
			enum cairn__wal_end want =
				last_batch ? CAIRN__WAL_END_TORN : CAIRN__WAL_END_DAMAGED;
			if (rd.end.end != want || rd.records != expect_lsn - 1) {
				T_FAILF("LSN %llu, %s: %llu records, end %d (%s); expected %llu "
					"records, end %d",
					(unsigned long long)lsn, how_name[how],
					(unsigned long long)rd.records, rd.end.end, rd.end.reason,
					(unsigned long long)expect_lsn - 1, want);
			}
			ASSERT_UEQ(rd.end.offset, expect_off);
			ASSERT_UEQ(rd.end.lsn, expect_lsn);
			if (how == GARBLE_BODY) {
				printf("%s: LSN %llu (%s batch), %s: %s\n", b->name,
				       (unsigned long long)lsn, last_batch ? "last" : "earlier",
				       how_name[how], rd.end.reason);
			}
			cases++;
			if (!last_batch) {
				continue;
			}
			/* The torn batch is cut off and the log goes on from its first lost record.
			 */
			ASSERT_EQ(cairn__wal_cut(dir, &rd.end), 0);
			w = kit_open(dir, b->backend, KIT_MIB, 0, &rd.resume);
			kit_batch(w, seed, expect_lsn, 3, len_of);
			ASSERT_EQ(cairn__wal_close(w), 0);
			struct kit_read again;
			kit_read_all(dir, 1, seed, len_of, &again);
			ASSERT_UEQ(again.records, expect_lsn + 2);
			ASSERT_EQ(again.end.end, CAIRN__WAL_END_CLEAN);
		}
	}
	printf("%s: %u cases\n", b->name, cases);
	free(pristine);
	kit_rmrf(dir);
	free(dir);
	return T_PASS;
}
