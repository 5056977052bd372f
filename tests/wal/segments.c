/*
 * The log across segments:
 *   - a segment missing from the middle breaks the chain: DAMAGED at the next segment;
 *   - a segment header that does not verify: DAMAGED there;
 *   - the last batch torn where it opened a new segment: TORN, cut, resumed, clean;
 *   - a writer that crashes leaves the segment it made ahead (empty) and maybe a .tmp:
 *     the log reads clean across it, a resumed writer goes on after it, the .tmp goes;
 *   - prune deletes a prefix of segments below an LSN, never the newest, and what is
 *     left reads clean from its first record (LSN > 1, chain taken as given).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kit.h"

#define PER_BATCH 50

static uint32_t len_of(uint64_t seed, uint64_t lsn)
{
	(void)seed;
	return 1000 + (uint32_t)(lsn % 5) * 8;
}

/* Writes batches until the log has `segments` segments holding records; returns N. */
static uint64_t build(const char *dir, const struct kit_backend *b, uint64_t seed, uint64_t first,
		      const struct cairn__wal_resume *resume, unsigned segments, bool close_it)
{
	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 0, resume);
	uint64_t lsn = first;
	for (;;) {
		kit_batch(w, seed, lsn, PER_BATCH, len_of);
		lsn += PER_BATCH;
		struct cairn__wal_stats st;
		cairn__wal_stats(w, &st);
		if (st.segments > segments) {
			break;
		}
	}
	/* The batch that opened one segment too many is the last one: stop there. */
	if (close_it) {
		ASSERT_EQ(cairn__wal_close(w), 0);
	}
	return lsn - 1;
}

/* First LSN and the record count of each segment. */
static void segment_map(const char *dir, uint64_t *first, uint64_t *count, unsigned max)
{
	memset(first, 0, max * sizeof(*first));
	memset(count, 0, max * sizeof(*count));
	struct cairn__wal_reader *r;
	ASSERT_EQ(cairn__wal_reader_open(dir, 1, &r, NULL, 0), 0);
	struct cairn__wal_record rec;
	while (cairn__wal_reader_next(r, &rec) == 1) {
		ASSERT_TRUE(rec.seq < max);
		if (count[rec.seq]++ == 0) {
			first[rec.seq] = rec.lsn;
		}
	}
	cairn__wal_reader_close(r);
}

static void missing_and_bad_header(const struct kit_backend *b)
{
	char *dir = kit_tmpdir("segments");
	uint64_t seed = 5;
	uint64_t n = build(dir, b, seed, 1, NULL, 5, true);
	uint64_t first[16], count[16];
	segment_map(dir, first, count, 16);
	ASSERT_UEQ(count[6], PER_BATCH);

	/* Segment 3 missing. */
	char moved[4200];
	snprintf(moved, sizeof(moved), "%s/elsewhere", dir);
	ASSERT_EQ(rename(kit_seg_path(dir, 3), moved), 0);
	struct kit_read rd;
	kit_read_all(dir, 1, seed, len_of, &rd);
	printf("%s, segment 3 missing: %s at %s+%llu, LSN %llu: %s\n", b->name,
	       rd.end.end == CAIRN__WAL_END_DAMAGED ? "DAMAGED" : "?", rd.end.file,
	       (unsigned long long)rd.end.offset, (unsigned long long)rd.end.lsn, rd.end.reason);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_DAMAGED);
	ASSERT_UEQ(rd.records, first[3] - 1);
	ASSERT_UEQ(rd.end.seq, 4);
	ASSERT_UEQ(rd.end.offset, CAIRN__WAL_SEG_HEADER);
	ASSERT_UEQ(rd.end.lsn, first[3]);
	ASSERT_TRUE(strstr(rd.end.reason, "broken chain") != NULL);
	ASSERT_EQ(rename(moved, kit_seg_path(dir, 3)), 0);

	/* A damaged header in the middle, and on the newest segment. */
	for (uint64_t seq = 3; seq <= 6; seq += 3) {
		kit_flip(kit_seg_path(dir, seq), 20, 3);
		kit_read_all(dir, 1, seed, len_of, &rd);
		printf("%s, header of segment %llu flipped: %s\n", b->name, (unsigned long long)seq,
		       rd.end.reason);
		ASSERT_EQ(rd.end.end, CAIRN__WAL_END_DAMAGED);
		ASSERT_UEQ(rd.records, first[seq] - 1);
		ASSERT_UEQ(rd.end.seq, seq);
		ASSERT_UEQ(rd.end.offset, 0);
		ASSERT_TRUE(strstr(rd.end.reason, "segment header") != NULL);
		kit_flip(kit_seg_path(dir, seq), 20, 3);
	}
	/* A file that is not a segment at all, named like one. */
	kit_spit(kit_seg_path(dir, 7), (const uint8_t *)"hello", 5);
	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_DAMAGED);
	ASSERT_UEQ(rd.records, n);
	ASSERT_UEQ(rd.end.seq, 7);
	ASSERT_EQ(unlink(kit_seg_path(dir, 7)), 0);

	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd.records, n);
	kit_rmrf(dir);
	free(dir);
}

static void torn_new_segment(const struct kit_backend *b)
{
	char *dir = kit_tmpdir("torn-seg");
	uint64_t seed = 6;
	uint64_t n = build(dir, b, seed, 1, NULL, 1, true);
	uint64_t first[4], count[4];
	segment_map(dir, first, count, 4);
	ASSERT_UEQ(count[2], PER_BATCH); /* the last batch alone opened segment 2 */

	for (int how = 0; how < 2; how++) {
		/* Its first record lost, the rest of the batch intact; or all of it garbage. */
		uint64_t len = how == 0 ? 200 : 60000;
		kit_scribble(kit_seg_path(dir, 2), CAIRN__WAL_SEG_HEADER, len, -1, (uint64_t)how);
		struct kit_read rd;
		kit_read_all(dir, 1, seed, len_of, &rd);
		printf("%s, torn first batch of segment 2: %s\n", b->name, rd.end.reason);
		ASSERT_EQ(rd.end.end, CAIRN__WAL_END_TORN);
		ASSERT_UEQ(rd.records, n - PER_BATCH);
		ASSERT_UEQ(rd.end.seq, 2);
		ASSERT_UEQ(rd.end.offset, CAIRN__WAL_SEG_HEADER);
		ASSERT_UEQ(rd.end.lsn, first[2]);
		if (how == 0) {
			kit_scribble(kit_seg_path(dir, 2), CAIRN__WAL_SEG_HEADER, len, -1,
				     (uint64_t)how);
			continue;
		}
		/* Cut: segment 2 keeps its header only; a writer resumes after it. */
		ASSERT_EQ(cairn__wal_cut(dir, &rd.end), 0);
		struct stat st;
		ASSERT_EQ(stat(kit_seg_path(dir, 2), &st), 0);
		ASSERT_EQ(st.st_size, CAIRN__WAL_SEG_HEADER);
		ASSERT_UEQ(rd.resume.next_seq, 3);
		struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 0, &rd.resume);
		kit_batch(w, seed, first[2], 7, len_of);
		ASSERT_EQ(cairn__wal_close(w), 0);
		struct kit_read again;
		kit_read_all(dir, 1, seed, len_of, &again);
		ASSERT_EQ(again.end.end, CAIRN__WAL_END_CLEAN);
		ASSERT_UEQ(again.records, first[2] + 6);
		ASSERT_UEQ(again.last_seq, 3);
	}
	kit_rmrf(dir);
	free(dir);
}

static void crash_and_prune(const struct kit_backend *b)
{
	char *dir = kit_tmpdir("crash");
	uint64_t seed = 7;
	uint64_t n = build(dir, b, seed, 1, NULL, 2, true);

	/* A writer that dies without close: its segment made ahead stays, empty. */
	struct kit_read rd;
	kit_read_all(dir, 1, seed, len_of, &rd);
	fflush(stdout);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		uint64_t m = build(dir, b, seed, n + 1, &rd.resume, 1, false);
		/* Dies once its preparer has made segment 6 (it does so in the background). */
		for (int i = 0; i < 5000 && access(kit_seg_path(dir, 6), F_OK) < 0; i++) {
			usleep(1000);
		}
		printf("%s: crashed writer wrote up to LSN %llu\n", b->name, (unsigned long long)m);
		fflush(stdout);
		_exit(0);
	}
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The crashed writer used segments 4 and 5 and had made 6 ahead. */
	ASSERT_EQ(access(kit_seg_path(dir, 6), F_OK), 0);
	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	n = rd.records;
	ASSERT_UEQ(rd.last_seq, 5);
	ASSERT_UEQ(rd.resume.next_seq, 7);

	/* A .tmp left by a preparer that died mid-way goes when a writer opens. */
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", kit_seg_path(dir, 0xff));
	kit_spit(tmp, (const uint8_t *)"partial", 7);
	uint64_t m = build(dir, b, seed, n + 1, &rd.resume, 1, true);
	ASSERT_TRUE(access(tmp, F_OK) < 0);
	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd.records, m);
	ASSERT_UEQ(rd.last_seq, 8);

	/* Segments now: 1 2 3 (first writer), 4 5 (crashed), 6 (empty), 7 8 (third). */
	uint64_t first[16], count[16];
	segment_map(dir, first, count, 16);
	ASSERT_UEQ(count[3], PER_BATCH);
	ASSERT_UEQ(count[5], PER_BATCH);
	ASSERT_UEQ(count[6], 0);
	ASSERT_UEQ(count[8], PER_BATCH);
	ASSERT_UEQ(kit_count(dir, ".seg"), 8);

	/* Nothing below LSN 1. */
	ASSERT_EQ(cairn__wal_prune(dir, 1), 0);
	/* Below the first record of segment 2: segment 1 only. */
	ASSERT_EQ(cairn__wal_prune(dir, first[2]), 1);
	ASSERT_EQ(access(kit_seg_path(dir, 1), F_OK), -1);
	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd.first, first[2]);
	ASSERT_UEQ(rd.records, m - first[2] + 1);
	/* One below the first record of segment 7: up to 5; the empty 6 stays before 7. */
	ASSERT_EQ(cairn__wal_prune(dir, first[7] - 1), 3);
	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd.first, first[5]);
	/* Everything: the newest segment holding records stays. */
	int pruned = cairn__wal_prune(dir, UINT64_MAX);
	ASSERT_GE(pruned, 1);
	ASSERT_EQ(access(kit_seg_path(dir, 8), F_OK), 0);
	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd.first, first[8]);
	ASSERT_UEQ(rd.last, m);
	ASSERT_EQ(cairn__wal_prune(dir, UINT64_MAX), 0);
	kit_rmrf(dir);
	free(dir);
}

int main(int argc, char **argv)
{
	const struct kit_backend *b = kit_backend_arg(argc, argv);
	missing_and_bad_header(b);
	torn_new_segment(b);
	crash_and_prune(b);
	return T_PASS;
}
