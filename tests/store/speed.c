/*
 * store-speed: how fast recovery replays a log. Writes N command records of the world
 * model's stream (three quarters moves) with the sync backend, then times recovery from
 * LSN 1 (no snapshot) into a replica with the daemon's default exactly-once table, and
 * the reader alone over the same files.
 *
 * N is 200000 by default; CAIRN_STORE_SPEED_RECORDS=10000000 gives the figure the
 * design asks for (10 M records in at most 5 s, in a release build). Only a release,
 * unsanitized build is held to a rate, and a loose one, so that a busy machine does not
 * fail the suite.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kit.h"
#include "wal/wal.h"

static uint64_t progress_calls;

static void progress(void *arg, uint64_t lsn, uint64_t done, uint64_t total)
{
	(void)arg;
	(void)lsn;
	ASSERT_LE(done, total);
	progress_calls++;
}

/* Drops the log's pages from the page cache (they are clean: written and synced). */
static void evict(const char *wal)
{
	DIR *d = opendir(wal);
	ASSERT_TRUE(d != NULL);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		int fd = open(kit_path(wal, e->d_name), O_RDONLY | O_CLOEXEC);
		ASSERT_GE(fd, 0);
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	closedir(d);
}

static uint64_t cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Recovers the whole log into a fresh replica; returns the nanoseconds it took, and the
 * CPU time in *cpu (what a loaded machine does not inflate).
 */
static uint64_t recover_all(const char *data, uint64_t n, uint64_t want_hash,
			    const struct cairn__dedup *want_dedup, uint64_t *cpu)
{
	struct cairn__engine_config ecfg;
	eng_config(&ecfg);
	struct cairn__replica r;
	ASSERT_OK(cairn__replica_new(&ecfg, CAIRN__DEDUP_DEFAULT_WINDOW,
				     CAIRN__DEDUP_DEFAULT_SESSIONS, &r));
	struct cairn__recover_options o = {.progress = progress};
	struct cairn__recover_report rep;
	char why[512] = "";
	progress_calls = 0;
	uint64_t t0 = kit_now(), c0 = cpu_now();
	if (cairn__recover(data, &r, &o, &rep, why, sizeof(why)) < 0) {
		T_FAILF("recovery: %s", why);
	}
	uint64_t dt = kit_now() - t0;
	*cpu = cpu_now() - c0;
	ASSERT_UEQ(r.lsn, n);
	ASSERT_UEQ(cairn__engine_hash(r.engine), want_hash);
	kit_same_dedup(r.dedup, want_dedup);
	ASSERT_GE(progress_calls, n / 65536);
	cairn__replica_free(&r);
	return dt;
}

int main(void)
{
	uint64_t n = 200000;
	const char *env = getenv("CAIRN_STORE_SPEED_RECORDS");
	if (env && *env) {
		n = strtoull(env, NULL, 10);
	}
	const char *data = kit_tmpdir("speed");
	char wal[512];
	snprintf(wal, sizeof(wal), "%s/wal", data);
	kit_mkdir(wal);

	struct kit_live live;
	kit_live_open(&live, 4242, CAIRN__DEDUP_DEFAULT_WINDOW, CAIRN__DEDUP_DEFAULT_SESSIONS);
	struct cairn__wal_config cfg = {.dir = wal, .backend = CAIRN__WAL_SYNC};
	struct cairn__wal *w;
	char why[512] = "";
	if (cairn__wal_open(&cfg, NULL, &w, why, sizeof(why)) < 0) {
		T_FAILF("wal: %s", why);
	}
	uint64_t t0 = kit_now();
	struct cairn__wal_command body;
	for (uint64_t i = 0; i < n; i++) {
		kit_live_next(&live, &body);
		struct iovec iov = {&body, sizeof(body)};
		int64_t lsn;
		while ((lsn = cairn__wal_append(w, CAIRN__WAL_COMMAND, &iov, 1)) == -ENOBUFS) {
			ASSERT_OK(cairn__wal_kick(w));
			ASSERT_OK(cairn__wal_wait(w, cairn__wal_appended(w), -1));
		}
		ASSERT_GT(lsn, 0);
		kit_live_commit(&live, (uint64_t)lsn, &body);
	}
	ASSERT_OK(cairn__wal_close(w));
	uint64_t t_write = kit_now() - t0;
	uint64_t want_hash = cairn__engine_hash(live.t.e);

	/* The reader alone: every record verified, nothing applied. */
	t0 = kit_now();
	struct cairn__wal_reader *rd;
	ASSERT_OK(cairn__wal_reader_open(wal, 1, &rd, why, sizeof(why)));
	struct cairn__wal_record rec;
	uint64_t count = 0, bytes;
	while (cairn__wal_reader_next(rd, &rec) > 0) {
		count++;
	}
	uint64_t total;
	cairn__wal_reader_progress(rd, &bytes, &total);
	cairn__wal_reader_close(rd);
	uint64_t t_read = kit_now() - t0;
	ASSERT_UEQ(count, n);

	/*
	 * Recovery (read, apply to the engine, remember in the exactly-once table): with the
	 * log in the page cache (a restarted daemon), then from the disk (a rebooted machine).
	 */
	uint64_t c_warm, c_cold;
	uint64_t t_warm = recover_all(data, n, want_hash, live.dedup, &c_warm);
	evict(wal);
	uint64_t t_cold = recover_all(data, n, want_hash, live.dedup, &c_cold);

	double rate = (double)n / ((double)t_warm / 1e9);
	fprintf(stderr,
		"%llu records (%.1f MiB of segments): written in %.2f s; read alone %.2f s (%.1f M "
		"records/s); recovered in %.2f s (%.2f M records/s, %.0f ns a record; %.2f s of "
		"CPU), %.2f s with the log read from the disk%s\n",
		(unsigned long long)n, (double)total / 1048576.0, (double)t_write / 1e9,
		(double)t_read / 1e9, (double)n / ((double)t_read / 1e3), (double)t_warm / 1e9,
		rate / 1e6, (double)t_warm / (double)n, (double)c_warm / 1e9, (double)t_cold / 1e9,
		KIT_SANITIZED ? " [sanitized build]" : "");
#ifdef NDEBUG
	if (!KIT_SANITIZED) {
		ASSERT_GT(rate, 1e6);
	}
#endif
	kit_live_close(&live);
	return T_PASS;
}
