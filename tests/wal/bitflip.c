/*
 * A flipped bit in a record in the middle of the log -- in its header (any field,
 * checksum included) or its body -- ends the log as DAMAGED, reported at that record:
 * its file, its offset, its LSN, with a reason. The records before it are returned. The
 * places tried include the middle of a segment, the last record of a segment and the
 * first record of the next one (where only the chain across segments can tell), and a
 * record of the newest segment in an earlier batch. Reading changes no file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

#define PER_BATCH 20
#define BODY      200

static uint32_t len_of(uint64_t seed, uint64_t lsn)
{
	(void)seed;
	(void)lsn;
	return BODY;
}

struct place {
	uint64_t lsn, seq, offset;
	const char *what;
};

/* Finds where each record lives. */
static void locate(const char *dir, uint64_t n, uint64_t *seq, uint64_t *off)
{
	struct cairn__wal_reader *r;
	ASSERT_EQ(cairn__wal_reader_open(dir, 1, &r, NULL, 0), 0);
	struct cairn__wal_record rec;
	uint64_t i = 0;
	while (cairn__wal_reader_next(r, &rec) == 1) {
		ASSERT_TRUE(i < n);
		seq[i] = rec.seq;
		off[i] = rec.offset;
		i++;
	}
	ASSERT_UEQ(i, n);
	cairn__wal_reader_close(r);
}

int main(int argc, char **argv)
{
	const struct kit_backend *b = kit_backend_arg(argc, argv);
	char *dir = kit_tmpdir("bitflip");
	uint64_t seed = 4242;

	/* ~4200 records per 1 MiB segment: 3 segments and a bit. */
	const uint64_t n = 660 * PER_BATCH;
	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 0, NULL);
	for (uint64_t l = 1; l <= n; l += PER_BATCH) {
		kit_batch(w, seed, l, PER_BATCH, len_of);
	}
	ASSERT_EQ(cairn__wal_close(w), 0);
	uint64_t *seq = calloc(n, sizeof(*seq)), *off = calloc(n, sizeof(*off));
	locate(dir, n, seq, off);
	ASSERT_TRUE(seq[n - 1] >= 4);

	/* The places to damage. */
	struct place places[8];
	unsigned np = 0;
	places[np++] = (struct place){100, 0, 0, "middle of segment 1"};
	for (uint64_t i = 1; i < n; i++) {
		if (seq[i] != seq[i - 1] && seq[i - 1] == 1) {
			places[np++] = (struct place){i, 0, 0, "last record of segment 1"};
			places[np++] = (struct place){i + 1, 0, 0, "first record of segment 2"};
			places[np++] = (struct place){i + 1 + 1000, 0, 0, "middle of segment 2"};
		}
	}
	places[np++] = (struct place){n - PER_BATCH - 5, 0, 0, "newest segment, earlier batch"};
	places[np++] = (struct place){n - 2 * PER_BATCH + 1, 0, 0,
				      "first record of the batch before the last"};
	for (unsigned p = 0; p < np; p++) {
		places[p].seq = seq[places[p].lsn - 1];
		places[p].offset = off[places[p].lsn - 1];
	}

	uint64_t pristine = kit_dir_hash(dir);
	uint64_t rnd = 1;
	unsigned tried = 0;
	for (unsigned p = 0; p < np; p++) {
		const struct place *pl = &places[p];
		/* Every 8-byte word of the header, and a few places in the body. */
		uint64_t bytes[9];
		for (int i = 0; i < 6; i++) {
			bytes[i] = (uint64_t)i * 8 + (rnd = kit_mix(rnd)) % 8;
		}
		for (int i = 6; i < 9; i++) {
			bytes[i] = CAIRN__WAL_REC_HEADER + (rnd = kit_mix(rnd)) % BODY;
		}
		for (int i = 0; i < 9; i++) {
			const char *seg = kit_seg_path(dir, pl->seq);
			unsigned bit = (unsigned)((rnd = kit_mix(rnd)) % 8);
			kit_flip(seg, pl->offset + bytes[i], bit);
			uint64_t damaged = kit_dir_hash(dir);

			struct kit_read t;
			kit_read_all(dir, 1, seed, len_of, &t);
			if (t.end.end != CAIRN__WAL_END_DAMAGED || t.records != pl->lsn - 1) {
				T_FAILF("%s, byte %llu bit %u: %llu records, end %d (%s)", pl->what,
					(unsigned long long)bytes[i], bit,
					(unsigned long long)t.records, t.end.end, t.end.reason);
			}
			char name[64];
			snprintf(name, sizeof(name), "wal-%016llx.seg",
				 (unsigned long long)pl->seq);
			ASSERT_STREQ(t.end.file, name);
			ASSERT_UEQ(t.end.seq, pl->seq);
			ASSERT_UEQ(t.end.offset, pl->offset);
			ASSERT_UEQ(t.end.lsn, pl->lsn);
			ASSERT_TRUE(t.end.reason[0] != '\0');
			if (i == 0 || i == 6) {
				printf("%s, %s: %s at %s+%llu, LSN %llu: %s\n", b->name, pl->what,
				       i == 0 ? "header" : "body", t.end.file,
				       (unsigned long long)t.end.offset,
				       (unsigned long long)t.end.lsn, t.end.reason);
			}
			/* Reading left every file as it was. */
			ASSERT_UEQ(kit_dir_hash(dir), damaged);
			kit_flip(seg, pl->offset + bytes[i], bit);
			tried++;
		}
	}
	ASSERT_UEQ(kit_dir_hash(dir), pristine);
	struct kit_read t;
	kit_read_all(dir, 1, seed, len_of, &t);
	ASSERT_UEQ(t.records, n);
	ASSERT_EQ(t.end.end, CAIRN__WAL_END_CLEAN);
	printf("%s: %u flips, all reported as damage at the right record\n", b->name, tried);
	free(seq);
	free(off);
	kit_rmrf(dir);
	free(dir);
	return T_PASS;
}
