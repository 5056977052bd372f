/*
 * Faults through the test hook CAIRN_WAL_FAULT (wal.h): the N-th write or fdatasync of
 * a log fails as if the kernel had returned the errno, or the preparer's fallocate or
 * rename does. Every time the log fails for good: wait() returns the error, the error
 * names the operation and the file, the durable LSN stays at the last batch before the
 * failure, appends, kicks and waits fail afterwards, close returns it, and the log that
 * is left reads back without damage. A short write is not a fault: the remainder is
 * written and synced, and nothing is lost. And a real short write from the kernel
 * (RLIMIT_FSIZE cuts a write that crosses it; io_uring then cancels the linked fsync):
 * the remainder is resubmitted, and fails with EFBIG, which is what is reported.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kit.h"

#define PER_BATCH 4
#define BATCHES   6

static uint32_t len_of(uint64_t seed, uint64_t lsn)
{
	(void)seed;
	return 64 + (uint32_t)(lsn % 3) * 100;
}

struct io_case {
	const char *spec;
	int err;          /* 0: no failure */
	int fail_batch;   /* the batch whose write or sync fails (1-based) */
	const char *what; /* in the error sentence */
};

static const struct io_case io_cases[] = {
	{"write:1:EIO", -EIO, 1,
	 "write of wal-0000000000000001.seg at offset 64: Input/output error"},
	{"write:3:EIO", -EIO, 3, "write of wal-0000000000000001.seg"},
	{"sync:1:EIO", -EIO, 1, "fdatasync of wal-0000000000000001.seg: Input/output error"},
	{"sync:2:ENOSPC", -ENOSPC, 2,
	 "fdatasync of wal-0000000000000001.seg: No space left on device"},
	{"sync:5:EDQUOT", -EDQUOT, 5, "fdatasync of wal-0000000000000001.seg"},
	{"write:2:short", 0, 0, ""},
	{"write:1:short", 0, 0, ""},
};

static struct cairn__wal *open_with(const char *dir, const struct kit_backend *b, const char *spec,
				    int *r, char *why, size_t whylen)
{
	setenv("CAIRN_WAL_FAULT", spec, 1);
	struct cairn__wal_config cfg = {.dir = dir, .backend = b->backend, .segment_size = KIT_MIB};
	struct cairn__wal *w = NULL;
	*r = cairn__wal_open(&cfg, NULL, &w, why, whylen);
	unsetenv("CAIRN_WAL_FAULT");
	return w;
}

static void io_fault(const struct kit_backend *b, const struct io_case *c)
{
	char *dir = kit_tmpdir("faults");
	uint64_t seed = 31;
	char why[256];
	int r;
	struct cairn__wal *w = open_with(dir, b, c->spec, &r, why, sizeof(why));
	ASSERT_EQ(r, 0);

	uint64_t lsn = 1;
	for (int i = 1; i <= BATCHES; i++) {
		for (int k = 0; k < PER_BATCH; k++, lsn++) {
			uint8_t body[400];
			uint32_t len = len_of(seed, lsn);
			kit_body_fill(seed, lsn, body, len);
			struct iovec iov = {body, len};
			ASSERT_EQ(cairn__wal_append(w, (uint16_t)(1 + lsn % 2), &iov, 1),
				  (int64_t)lsn);
		}
		r = cairn__wal_wait(w, lsn - 1, 10LL * 1000000000);
		if (c->err == 0 || i < c->fail_batch) {
			ASSERT_EQ(r, 0);
			ASSERT_UEQ(cairn__wal_poll(w), lsn - 1);
			continue;
		}
		ASSERT_EQ(r, c->err);
		break;
	}
	const char *what;
	ASSERT_EQ(cairn__wal_error(w, &what), c->err);
	if (c->err == 0) {
		ASSERT_EQ(cairn__wal_close(w), 0);
		struct kit_read rd;
		kit_read_all(dir, 1, seed, len_of, &rd);
		ASSERT_UEQ(rd.records, BATCHES * PER_BATCH);
		ASSERT_EQ(rd.end.end, CAIRN__WAL_END_CLEAN);
		kit_rmrf(dir);
		free(dir);
		return;
	}
	printf("%s, %s: %s\n", b->name, c->spec, what);
	if (strstr(what, c->what) == NULL) {
		T_FAILF("error sentence \"%s\" lacks \"%s\"", what, c->what);
	}
	/* Durable up to the batch before; never the failed one, never later. */
	uint64_t durable = (uint64_t)(c->fail_batch - 1) * PER_BATCH;
	ASSERT_UEQ(cairn__wal_poll(w), durable);
	ASSERT_TRUE(!cairn__wal_busy(w));
	uint8_t body[8] = {1};
	struct iovec iov = {body, sizeof(body)};
	ASSERT_EQ(cairn__wal_append(w, 1, &iov, 1), c->err);
	ASSERT_EQ(cairn__wal_kick(w), c->err);
	ASSERT_EQ(cairn__wal_wait(w, cairn__wal_appended(w), -1), c->err);
	ASSERT_UEQ(cairn__wal_poll(w), durable);
	struct cairn__wal_stats st;
	cairn__wal_stats(w, &st);
	ASSERT_UEQ(st.records, durable);
	ASSERT_EQ(cairn__wal_close(w), c->err);

	/* What is on disk: at least the durable records, at most the failed batch too
	 * (a failed fdatasync may still have written its pages), never damage. */
	struct kit_read rd;
	kit_read_all(dir, 1, seed, len_of, &rd);
	ASSERT_GE(rd.records, durable);
	ASSERT_LE(rd.records, durable + PER_BATCH);
	ASSERT_NE(rd.end.end, CAIRN__WAL_END_DAMAGED);
	kit_rmrf(dir);
	free(dir);
}

/* The preparer's fallocate or rename fails: at open (segment 1) or in the background. */
static void prep_fault(const struct kit_backend *b, const char *spec, int err,
		       const char *what_open, const char *what_later)
{
	char *dir = kit_tmpdir("prep-faults");
	char why[256];
	int r;
	char spec1[64], spec2[64];
	snprintf(spec1, sizeof(spec1), "%s:1:%s", spec, err == -ENOSPC ? "ENOSPC" : "EIO");
	snprintf(spec2, sizeof(spec2), "%s:2:%s", spec, err == -ENOSPC ? "ENOSPC" : "EIO");

	struct cairn__wal *w = open_with(dir, b, spec1, &r, why, sizeof(why));
	ASSERT_EQ(r, err);
	ASSERT_TRUE(w == NULL);
	printf("%s, %s: open fails: %s\n", b->name, spec1, why);
	if (strstr(why, what_open) == NULL) {
		T_FAILF("open's reason \"%s\" lacks \"%s\"", why, what_open);
	}
	ASSERT_UEQ(kit_count(dir, ".tmp"), 0);
	ASSERT_UEQ(kit_count(dir, ".seg"), 0);

	/* Segment 2 is made in the background: the log fails while segment 1 still works. */
	w = open_with(dir, b, spec2, &r, why, sizeof(why));
	ASSERT_EQ(r, 0);
	const char *what = "";
	for (int i = 0; i < 5000 && cairn__wal_error(w, &what) == 0; i++) {
		usleep(1000);
	}
	ASSERT_EQ(cairn__wal_error(w, &what), err);
	printf("%s, %s: %s\n", b->name, spec2, what);
	if (strstr(what, what_later) == NULL) {
		T_FAILF("error sentence \"%s\" lacks \"%s\"", what, what_later);
	}
	uint8_t body[8] = {1};
	struct iovec iov = {body, sizeof(body)};
	ASSERT_EQ(cairn__wal_append(w, 1, &iov, 1), err);
	ASSERT_UEQ(cairn__wal_poll(w), 0);
	ASSERT_EQ(cairn__wal_close(w), err);
	ASSERT_UEQ(kit_count(dir, ".tmp"), 0);
	kit_rmrf(dir);
	free(dir);
}

static void real_short_write(const struct kit_backend *b)
{
	char *dir = kit_tmpdir("short");
	uint64_t seed = 32;
	struct cairn__wal *w = kit_open(dir, b->backend, KIT_MIB, 0, NULL);
	/* The preparer has made segment 2 before the limit (its fallocate would fail). */
	for (int i = 0; i < 5000 && access(kit_seg_path(dir, 2), F_OK) < 0; i++) {
		usleep(1000);
	}
	ASSERT_EQ(access(kit_seg_path(dir, 2), F_OK), 0);
	struct rlimit old, lim;
	ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 8192;
	signal(SIGXFSZ, SIG_IGN);
	ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
	/* ~11 KiB from offset 64: the first write stops at 8192. */
	for (uint64_t lsn = 1; lsn <= 40; lsn++) {
		uint8_t body[400];
		uint32_t len = len_of(seed, lsn);
		kit_body_fill(seed, lsn, body, len);
		struct iovec iov = {body, len};
		ASSERT_EQ(cairn__wal_append(w, (uint16_t)(1 + lsn % 2), &iov, 1), (int64_t)lsn);
	}
	int r = cairn__wal_wait(w, 40, 10LL * 1000000000);
	ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	const char *what;
	ASSERT_EQ(cairn__wal_error(w, &what), -EFBIG);
	printf("%s, real short write: %s\n", b->name, what);
	ASSERT_EQ(r, -EFBIG);
	ASSERT_TRUE(
		strstr(what, "write of wal-0000000000000001.seg at offset 8192: File too large") !=
		NULL);
	ASSERT_UEQ(cairn__wal_poll(w), 0);
	ASSERT_EQ(cairn__wal_close(w), -EFBIG);
	kit_rmrf(dir);
	free(dir);
}

int main(int argc, char **argv)
{
	const struct kit_backend *b = kit_backend_arg(argc, argv);
	for (size_t i = 0; i < sizeof(io_cases) / sizeof(io_cases[0]); i++) {
		io_fault(b, &io_cases[i]);
	}
	prep_fault(b, "fallocate", -ENOSPC, "fallocate of wal-0000000000000001.seg.tmp",
		   "fallocate of wal-0000000000000002.seg.tmp");
	prep_fault(b, "rename", -EIO,
		   "rename of wal-0000000000000001.seg.tmp to wal-0000000000000001.seg",
		   "rename of wal-0000000000000002.seg.tmp to wal-0000000000000002.seg: "
		   "Input/output error");

	real_short_write(b);

	/* A spec that is not understood is refused, not ignored. */
	char *dir = kit_tmpdir("bad-spec");
	char why[256];
	int r;
	struct cairn__wal *w = open_with(dir, b, "sync:zero:EIO", &r, why, sizeof(why));
	ASSERT_EQ(r, -EINVAL);
	ASSERT_TRUE(w == NULL);
	ASSERT_TRUE(strstr(why, "CAIRN_WAL_FAULT") != NULL);
	kit_rmrf(dir);
	free(dir);
	return T_PASS;
}
