/*
 * replay-gen: writes a cairnd data directory from a realistic engine stream, for the
 * cairn-replay tests and for measuring replay speed.
 *
 *   replay-gen DIR --records N [--seed S] [--segment-mb M] [--rollback-every K]
 *              [--snapshot-at LSN]... [--hash-at LSN]... [--keep N]
 *
 * The commands come from the store tests' live system (the engine tests' world model,
 * sessions and request ids as cairnd logs them), every accepted state-changing command
 * appended to DIR/wal through the WAL writer, with a ROLLBACK record every K records
 * when the engine accepts one (a hunt's image saved K/2 records earlier). DIR/maps
 * records the maps. Snapshots are then taken by a replica that reads the log back, as
 * cairnd's store thread does. Prints, on stdout:
 *
 *   lsn=L hash=0x...      for every --hash-at L, the live engine's state hash there
 *   final lsn=N hash=0x... rollbacks=R seconds=T
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../store/kit.h"
#include "wal/wal.h"

#define MAX_POINTS 64

struct points {
	uint64_t lsn[MAX_POINTS];
	unsigned n;
};

static bool has(const struct points *p, uint64_t lsn)
{
	for (unsigned i = 0; i < p->n; i++) {
		if (p->lsn[i] == lsn) {
			return true;
		}
	}
	return false;
}

static uint64_t num(const char *flag, const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "replay-gen: %s takes a number, not '%s'\n", flag, s);
		exit(2);
	}
	return v;
}

static void add(struct points *p, const char *flag, const char *s)
{
	if (p->n >= MAX_POINTS) {
		fprintf(stderr, "replay-gen: too many %s\n", flag);
		exit(2);
	}
	p->lsn[p->n++] = num(flag, s);
}

/* Appends one record, waiting for the batch in flight when the open one is full. */
static void append(struct cairn__wal *w, uint16_t kind, const struct iovec *iov, unsigned n,
		   uint64_t lsn)
{
	int64_t rc;
	while ((rc = cairn__wal_append(w, kind, iov, n)) == -ENOBUFS) {
		ASSERT_OK(cairn__wal_kick(w));
		ASSERT_OK(cairn__wal_wait(w, cairn__wal_appended(w), -1));
	}
	if (rc < 0) {
		T_FAILF("appending LSN %" PRIu64 ": %s", lsn, strerror((int)-rc));
	}
	ASSERT_UEQ(rc, lsn);
}

/* Reads the log back into a replica, taking the snapshots asked for. */
static void snapshots(const char *dir, const char *wal_dir, const struct points *at, unsigned keep,
		      uint64_t want_hash)
{
	struct cairn__replica r;
	kit_replica(&r, CAIRN__DEDUP_DEFAULT_WINDOW, CAIRN__DEDUP_DEFAULT_SESSIONS);
	struct cairn__wal_reader *rd;
	char why[512];
	if (cairn__wal_reader_open(wal_dir, 1, &rd, why, sizeof(why)) < 0) {
		T_FAILF("%s", why);
	}
	struct cairn__wal_record rec;
	int rc;
	while ((rc = cairn__wal_reader_next(rd, &rec)) > 0) {
		if (cairn__replica_apply(&r, &rec, NULL, why, sizeof(why)) < 0) {
			T_FAILF("%s", why);
		}
		if (has(at, rec.lsn) &&
		    cairn__replica_snapshot(&r, dir, keep, why, sizeof(why)) < 0) {
			T_FAILF("%s", why);
		}
	}
	ASSERT_EQ(rc, 0);
	cairn__wal_reader_close(rd);
	ASSERT_UEQ(cairn__engine_hash(r.engine), want_hash);
	cairn__replica_free(&r);
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	uint64_t records = 0, seed = 1, segment_mb = 1, rollback_every = 0, keep = 8;
	struct points snap_at = {.n = 0}, hash_at = {.n = 0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = a[0] == '-';
		if (takes && !v) {
			fprintf(stderr, "replay-gen: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--records") == 0) {
			records = num(a, v);
		} else if (strcmp(a, "--seed") == 0) {
			seed = num(a, v);
		} else if (strcmp(a, "--segment-mb") == 0) {
			segment_mb = num(a, v);
		} else if (strcmp(a, "--rollback-every") == 0) {
			rollback_every = num(a, v);
		} else if (strcmp(a, "--keep") == 0) {
			keep = num(a, v);
		} else if (strcmp(a, "--snapshot-at") == 0) {
			add(&snap_at, a, v);
		} else if (strcmp(a, "--hash-at") == 0) {
			add(&hash_at, a, v);
		} else if (!takes && !dir) {
			dir = a;
			continue;
		} else {
			fprintf(stderr, "replay-gen: unexpected '%s'\n", a);
			return 2;
		}
		i++;
	}
	if (!dir || records == 0 || segment_mb == 0 || keep == 0) {
		fprintf(stderr, "usage: replay-gen DIR --records N [--seed S] [--segment-mb M] "
				"[--rollback-every K] [--snapshot-at LSN]... [--hash-at LSN]... "
				"[--keep N]\n");
		return 2;
	}
	char wal_dir[1024], why[512];
	snprintf(wal_dir, sizeof(wal_dir), "%s/wal", dir);
	kit_mkdir(dir);
	kit_mkdir(wal_dir);
	if (cairn__data_maps_record(dir, eng_maps(), ENG_N_MAPS, why, sizeof(why)) < 0) {
		T_FAILF("%s", why);
	}
	struct cairn__wal_config wcfg = {
		.dir = wal_dir, .backend = CAIRN__WAL_AUTO, .segment_size = segment_mb << 20};
	struct cairn__wal_resume resume = {.next_lsn = 1, .prev_sum = 0, .next_seq = 1};
	struct cairn__wal *w;
	if (cairn__wal_open(&wcfg, &resume, &w, why, sizeof(why)) < 0) {
		T_FAILF("%s", why);
	}

	struct kit_live l;
	kit_live_open(&l, seed, CAIRN__DEDUP_DEFAULT_WINDOW, CAIRN__DEDUP_DEFAULT_SESSIONS);
	uint64_t t0 = kit_now();
	for (uint64_t lsn = 1; lsn <= records; lsn++) {
		struct cairn__wal_command body;
		const uint8_t *img = NULL;
		size_t img_len = 0;
		if (rollback_every && lsn % rollback_every == rollback_every / 2) {
			kit_live_save_hunt(&l);
		}
		bool rolled = rollback_every && lsn % rollback_every == 0 &&
			      kit_live_rollback(&l, lsn, &body, &img, &img_len);
		if (!rolled) {
			kit_live_next(&l, &body);
		}
		struct iovec iov[2] = {{&body, sizeof(body)}, {(void *)img, img_len}};
		append(w, rolled ? CAIRN__WAL_ROLLBACK : CAIRN__WAL_COMMAND, iov, rolled ? 2 : 1,
		       lsn);
		kit_live_commit(&l, lsn, &body);
		ASSERT_UEQ(cairn__engine_applied(l.t.e), lsn);
		if (has(&hash_at, lsn)) {
			printf("lsn=%" PRIu64 " hash=0x%016" PRIx64 "\n", lsn,
			       cairn__engine_hash(l.t.e));
		}
	}
	ASSERT_OK(cairn__wal_close(w));
	uint64_t hash = cairn__engine_hash(l.t.e);
	printf("final lsn=%" PRIu64 " hash=0x%016" PRIx64 " rollbacks=%" PRIu64 " seconds=%.2f\n",
	       records, hash, l.rollbacks, (double)(kit_now() - t0) / 1e9);
	fflush(stdout);
	if (snap_at.n > 0) {
		snapshots(dir, wal_dir, &snap_at, (unsigned)keep, hash);
	}
	kit_live_close(&l);
	return 0;
}
