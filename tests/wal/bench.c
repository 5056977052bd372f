/*
 * wal-bench: what the log costs. Not a test (nothing is timed in the suite).
 *
 *   wal-bench [RECORDS [DIR [auto|io_uring|sync]]]    (default 10000000, $TMPDIR or /tmp)
 *
 * 1. Appends RECORDS command records (72-byte bodies, struct cairn__wal_command) the way
 *    cairnd's apply loop does: append, and every 64 records kick + poll; on -ENOBUFS
 *    wait for the write in flight. Reports the cost of cairn__wal_append alone (clock
 *    read around each run of 64 appends) and the durable throughput of the whole loop.
 * 2. Reads the log back with the reader (every record verified) and reports records/s,
 *    twice: as left in the page cache, and after posix_fadvise(DONTNEED) on the segment
 *    files (from the disk, as at a restart after a crash).
 * The log is deleted at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wal/wal.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void drop_cache(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		char p[4096 + 256];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		int fd = open(p, O_RDONLY);
		if (fd >= 0) {
			fdatasync(fd);
			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			close(fd);
		}
	}
	if (d) {
		closedir(d);
	}
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.') {
			continue;
		}
		char p[4096 + 256];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d) {
		closedir(d);
	}
	rmdir(dir);
}

static int read_all(const char *dir, uint64_t expect, const char *label)
{
	uint64_t t0 = now_ns();
	struct cairn__wal_reader *r;
	char why[256];
	if (cairn__wal_reader_open(dir, 1, &r, why, sizeof(why)) < 0) {
		fprintf(stderr, "reader: %s\n", why);
		return 1;
	}
	struct cairn__wal_record rec;
	uint64_t n = 0, sum = 0;
	int e;
	while ((e = cairn__wal_reader_next(r, &rec)) == 1) {
		n++;
		sum += rec.body[0];
	}
	struct cairn__wal_damage end;
	cairn__wal_reader_end(r, &end);
	uint64_t done, total;
	cairn__wal_reader_progress(r, &done, &total);
	cairn__wal_reader_close(r);
	double s = (double)(now_ns() - t0) / 1e9;
	printf("read (%s): %llu records (%llu MB of segments) in %.3f s: %.2f M records/s, end %d "
	       "(%s) [%llu]\n",
	       label, (unsigned long long)n, (unsigned long long)(total >> 20), s,
	       (double)n / s / 1e6, end.end, end.reason, (unsigned long long)(sum & 1));
	return e < 0 || n != expect || end.end != CAIRN__WAL_END_CLEAN;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	const char *base = argc > 2 ? argv[2] : getenv("TMPDIR");
	enum cairn__wal_backend backend = CAIRN__WAL_AUTO;
	if (argc > 3) {
		backend = strcmp(argv[3], "io_uring") == 0 ? CAIRN__WAL_URING
			  : strcmp(argv[3], "sync") == 0   ? CAIRN__WAL_SYNC
							   : CAIRN__WAL_AUTO;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/cairn-wal-bench-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}

	struct cairn__wal_config cfg = {.dir = dir, .backend = backend};
	struct cairn__wal *w;
	char why[256];
	if (cairn__wal_open(&cfg, NULL, &w, why, sizeof(why)) < 0) {
		fprintf(stderr, "open: %s\n", why);
		return 1;
	}
	printf("backend %s: %s\n", cairn__wal_backend_name(w), cairn__wal_backend_reason(w));

	struct cairn__wal_command cmd;
	memset(&cmd, 0x5a, sizeof(cmd));
	struct iovec iov = {&cmd, sizeof(cmd)};
	uint64_t append_ns = 0, appended = 0;
	uint64_t t0 = now_ns();
	while (appended < n) {
		uint64_t run = n - appended < 64 ? n - appended : 64;
		uint64_t a = now_ns();
		uint64_t i = 0;
		for (; i < run; i++) {
			cmd.ingress_ns = appended + i;
			int64_t r = cairn__wal_append(w, CAIRN__WAL_COMMAND, &iov, 1);
			if (r == -ENOBUFS) {
				break;
			}
			if (r < 0) {
				fprintf(stderr, "append: %lld\n", (long long)r);
				return 1;
			}
		}
		append_ns += now_ns() - a;
		appended += i;
		cairn__wal_kick(w);
		cairn__wal_poll(w);
		if (i < run) {
			/* The open batch is full: the disk is behind. */
			uint64_t durable = cairn__wal_poll(w);
			int r = durable < cairn__wal_appended(w)
					? cairn__wal_wait(w, durable + 1, -1)
					: 0;
			if (r < 0) {
				fprintf(stderr, "wait: %d\n", r);
				return 1;
			}
		}
	}
	if (cairn__wal_wait(w, n, -1) < 0) {
		return 1;
	}
	double s = (double)(now_ns() - t0) / 1e9;
	struct cairn__wal_stats st;
	cairn__wal_stats(w, &st);
	printf("append: %.1f ns per 72-byte record (the call alone, %llu records)\n",
	       (double)append_ns / (double)n, (unsigned long long)n);
	printf("durable: %llu records in %.2f s = %.2f M records/s, %.0f MB/s; %llu batches (%.0f "
	       "KiB avg), "
	       "%llu segments, sync mean %.0f us max %.0f us, %llu rotations waited\n",
	       (unsigned long long)n, s, (double)n / s / 1e6, (double)st.bytes / s / 1e6,
	       (unsigned long long)st.batches, (double)st.bytes / (double)st.batches / 1024,
	       (unsigned long long)st.segments, (double)st.sync_ns_total / (double)st.batches / 1e3,
	       (double)st.sync_ns_max / 1e3, (unsigned long long)st.rotations_waited);
	if (cairn__wal_close(w) < 0) {
		return 1;
	}

	int bad = read_all(dir, n, "page cache");
	drop_cache(dir);
	bad |= read_all(dir, n, "from disk");
	remove_dir(dir);
	return bad;
}
