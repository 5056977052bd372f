/*
 * Round trip, on both backends: ~100k records of random sizes (empty ones, and some
 * bigger than a batch buffer) through 1 MiB segments, so that the log rotates dozens of
 * times; everything read back in order with every byte checked, a clean end and the
 * right resume position; then a second writer resumes there and the whole log reads
 * back again. Also the append contract: -ENOBUFS, -E2BIG, LSNs, stats; and a reader
 * following the log while it is written (as the store's follower replica does) never
 * sees damage, only clean or torn ends.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit.h"

#define N1 90000
#define N2 10000

static uint32_t len_mixed(uint64_t seed, uint64_t lsn)
{
	return kit_body_len(seed, lsn, 1500);
}

static void contract(const struct kit_backend *b)
{
	char *dir = kit_tmpdir("contract");
	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 64 * 1024, NULL);
	ASSERT_STREQ(cairn__wal_backend_name(w), b->name);
	ASSERT_UEQ(cairn__wal_appended(w), 0);
	ASSERT_UEQ(cairn__wal_poll(w), 0);
	ASSERT_EQ(cairn__wal_wait(w, 0, 0), 0);
	ASSERT_EQ(cairn__wal_wait(w, 1, 0), -EINVAL);
	ASSERT_EQ(cairn__wal_kick(w), 0); /* nothing to submit */
	ASSERT_TRUE(!cairn__wal_busy(w));

	static uint8_t big[KIT_MIB];
	/* Can never fit a 1 MiB segment (64-byte header, 48-byte record header). */
	struct iovec iov = {big, KIT_MIB - 64 - 48 + 1};
	ASSERT_EQ(cairn__wal_append(w, 1, &iov, 1), -E2BIG);
	/* Just fits a segment: bigger than the 64 KiB buffer, accepted alone. */
	iov.iov_len = KIT_MIB - 64 - 48;
	memset(big, 7, sizeof(big));
	ASSERT_EQ(cairn__wal_append(w, 1, &iov, 1), 1);
	/* The open batch is not empty now: another big one must wait. */
	iov.iov_len = 100 * 1024;
	ASSERT_EQ(cairn__wal_append(w, 1, &iov, 1), -ENOBUFS);
	ASSERT_OK(cairn__wal_kick(w));
	ASSERT_TRUE(cairn__wal_busy(w) || cairn__wal_poll(w) == 1);
	/* In flight: the open batch is empty but a big one still waits. */
	if (cairn__wal_busy(w)) {
		ASSERT_EQ(cairn__wal_append(w, 1, &iov, 1), -ENOBUFS);
	}
	ASSERT_OK(cairn__wal_wait(w, 1, -1));
	ASSERT_UEQ(cairn__wal_poll(w), 1);
	ASSERT_EQ(cairn__wal_append(w, 1, &iov, 1), 2);
	/* Small ones fill the batch up to its 64 KiB. */
	iov.iov_len = 1000;
	int64_t r;
	unsigned n = 0;
	while ((r = cairn__wal_append(w, 1, &iov, 1)) > 0) {
		n++;
	}
	ASSERT_EQ(r, -ENOBUFS);
	ASSERT_UEQ(cairn__wal_appended(w), 2 + n);
	ASSERT_OK(cairn__wal_wait(w, cairn__wal_appended(w), 5000000000LL));
	struct cairn__wal_stats st;
	cairn__wal_stats(w, &st);
	ASSERT_UEQ(st.records, 2 + n);
	ASSERT_TRUE(st.batches >= 2);
	ASSERT_TRUE(st.segments >= 2); /* the first big record filled a segment */
	ASSERT_TRUE(st.sync_ns_total > 0);
	const char *what;
	ASSERT_EQ(cairn__wal_error(w, &what), 0);
	ASSERT_STREQ(what, "");
	ASSERT_EQ(cairn__wal_close(w), 0);
	ASSERT_EQ(cairn__wal_close(NULL), 0);
	kit_rmrf(dir);
	free(dir);
}

struct follow {
	const char *dir;
	uint64_t seed;
	int stop;
	unsigned reads, torn;
	uint64_t most;
};

static void *follower(void *arg)
{
	struct follow *f = arg;
	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		struct kit_read rd;
		kit_read_all(f->dir, 1, f->seed, len_mixed, &rd);
		if (rd.end.end == CAIRN__WAL_END_DAMAGED) {
			T_FAILF("a reader following the writer saw damage: %s at %s+%llu",
				rd.end.reason, rd.end.file, (unsigned long long)rd.end.offset);
		}
		f->reads++;
		f->torn += rd.end.end == CAIRN__WAL_END_TORN;
		if (rd.records > f->most) {
			f->most = rd.records;
		}
	}
	return NULL;
}

static void follow(const struct kit_backend *b)
{
	char *dir = kit_tmpdir("follow");
	struct follow f = {.dir = dir, .seed = 0xf0110};
	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 64 * 1024, NULL);
	kit_append(w, f.seed, 1, 100, len_mixed, 10);
	ASSERT_OK(cairn__wal_wait(w, 100, -1));
	pthread_t t;
	ASSERT_EQ(pthread_create(&t, NULL, follower, &f), 0);
	kit_append(w, f.seed, 101, 30000, len_mixed, 16);
	ASSERT_EQ(cairn__wal_close(w), 0);
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	printf("%s: a follower read the live log %u times (%u torn ends), up to %llu records\n",
	       b->name, f.reads, f.torn, (unsigned long long)f.most);
	ASSERT_GT(f.reads, 0);
	kit_rmrf(dir);
	free(dir);
}

static void roundtrip(const struct kit_backend *b)
{
	char *dir = kit_tmpdir("roundtrip");
	uint64_t seed = 0x5eed0000 + (uint64_t)b->backend;

	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 64 * 1024, NULL);
	kit_append(w, seed, 1, N1, len_mixed, 64);
	ASSERT_OK(cairn__wal_wait(w, N1, -1));
	ASSERT_UEQ(cairn__wal_poll(w), N1);
	struct cairn__wal_stats st;
	cairn__wal_stats(w, &st);
	ASSERT_UEQ(st.records, N1);
	ASSERT_TRUE(st.segments > 20);
	printf("%s: %llu records in %llu batches over %llu segments, %llu rotations waited, "
	       "sync mean %.0f us max %.0f us\n",
	       b->name, (unsigned long long)st.records, (unsigned long long)st.batches,
	       (unsigned long long)st.segments, (unsigned long long)st.rotations_waited,
	       st.sync_ns_total / 1e3 / (double)st.batches, st.sync_ns_max / 1e3);
	ASSERT_EQ(cairn__wal_close(w), 0);
	/* close removed the segment made ahead: only segments with records remain. */
	ASSERT_UEQ(kit_count(dir, ".seg"), st.segments);
	ASSERT_UEQ(kit_count(dir, ".tmp"), 0);

	struct kit_read rd;
	kit_read_all(dir, 1, seed, len_mixed, &rd);
	ASSERT_UEQ(rd.records, N1);
	ASSERT_UEQ(rd.first, 1);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd.resume.next_lsn, N1 + 1);
	ASSERT_UEQ(rd.resume.prev_sum, rd.last_sum);
	ASSERT_UEQ(rd.resume.next_seq, st.segments + 1);
	ASSERT_UEQ(rd.end.lsn, N1 + 1);
	ASSERT_UEQ(rd.end.seq, rd.last_seq);

	/* A stale resume position: the segment it names exists and is not overwritten. */
	struct cairn__wal_config cfg = {.dir = dir, .backend = b->backend, .segment_size = KIT_MIB};
	char why[256];
	ASSERT_EQ(cairn__wal_open(&cfg, NULL, &w, why, sizeof(why)), -EEXIST);
	printf("%s, stale resume: %s\n", b->name, why);
	ASSERT_TRUE(strstr(why, "wal-0000000000000001.seg") != NULL);
	kit_read_all(dir, 1, seed, len_mixed, &rd);
	ASSERT_UEQ(rd.records, N1);

	/* From the middle: earlier records verified, not returned. */
	struct kit_read part;
	kit_read_all(dir, N1 / 2, seed, len_mixed, &part);
	ASSERT_UEQ(part.records, N1 - N1 / 2 + 1);
	ASSERT_UEQ(part.first, N1 / 2);
	ASSERT_EQ(part.end.end, CAIRN__WAL_END_CLEAN);

	/* Resume: a new segment, the chain continues. */
	w = kit_open(dir, b->backend, KIT_MIB, 64 * 1024, &rd.resume);
	kit_append(w, seed, N1 + 1, N2, len_mixed, 64);
	ASSERT_EQ(cairn__wal_close(w), 0);
	struct kit_read rd2;
	kit_read_all(dir, 1, seed, len_mixed, &rd2);
	ASSERT_UEQ(rd2.records, N1 + N2);
	ASSERT_EQ(rd2.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd2.resume.next_lsn, N1 + N2 + 1);
	ASSERT_TRUE(rd2.resume.next_seq > rd.resume.next_seq);

	/* A writer with an empty log and a reader of an empty directory. */
	kit_rmrf(dir);
	free(dir);
	dir = kit_tmpdir("empty");
	struct cairn__wal_reader *r;
	ASSERT_EQ(cairn__wal_reader_open(dir, 1, &r, why, sizeof(why)), -ENOENT);
	ASSERT_TRUE(strstr(why, "no segment") != NULL);
	w = kit_open(dir, b->backend, KIT_MIB, 0, NULL);
	ASSERT_EQ(cairn__wal_close(w), 0);
	kit_read_all(dir, 1, seed, len_mixed, &rd);
	ASSERT_UEQ(rd.records, 0);
	ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rd.resume.next_lsn, 1);
	ASSERT_UEQ(rd.resume.prev_sum, 0);
	ASSERT_UEQ(rd.resume.next_seq, 2);
	kit_rmrf(dir);
	free(dir);
}

int main(int argc, char **argv)
{
	const struct kit_backend *b = kit_backend_arg(argc, argv);
	contract(b);
	roundtrip(b);
	follow(b);
	return T_PASS;
}
