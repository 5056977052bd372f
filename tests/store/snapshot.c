/*
 * store-snapshot: snapshot files. A round trip of every header field and both images;
 * keep-N; a stale .tmp removed by the next writer and other files left alone; every
 * kind of damage refused with a sentence that names the file; a replica's snapshot
 * loaded back to the same state hash and table; and recovery falling back from a
 * damaged newest snapshot to the older one (with no log: a snapshot alone).
 */
#include <sys/stat.h>
#include <unistd.h>

#include "kit.h"

static uint8_t *random_bytes(struct eng_rng *rng, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	ASSERT_TRUE(b != NULL);
	for (size_t i = 0; i < n; i++) {
		b[i] = (uint8_t)eng_rand(rng);
	}
	return b;
}

static const char *snap_file(const char *dir, uint64_t lsn)
{
	static char name[64];
	snprintf(name, sizeof(name), "snap-%020llu.snap", (unsigned long long)lsn);
	return kit_path(dir, name);
}

static void write_snap(const char *dir, uint64_t lsn, const uint8_t *e, size_t elen,
		       const uint8_t *d, size_t dlen, unsigned keep)
{
	struct cairn__snap_header h;
	memset(&h, 0xEE, sizeof(h)); /* everything the writer fills must be overwritten */
	h.lsn = lsn;
	h.prev_sum = lsn ? lsn * 3 + 1 : 0;
	h.state_hash = lsn * 5;
	h.last_ingress_ns = lsn * 1000;
	h.engine_len = elen;
	h.dedup_len = dlen;
	char why[256] = "";
	int rc = cairn__snap_write(dir, &h, e, d, keep, why, sizeof(why));
	if (rc < 0) {
		T_FAILF("snapshot %llu: %s", (unsigned long long)lsn, why);
	}
}

static void test_round_trip(void)
{
	const char *dir = kit_tmpdir("snap");
	struct eng_rng rng;
	eng_rng_seed(&rng, 1);
	size_t elen = 100003, dlen = 777;
	uint8_t *e = random_bytes(&rng, elen), *d = random_bytes(&rng, dlen);
	write_snap(dir, 42, e, elen, d, dlen, 2);

	struct cairn__snap s;
	char why[256] = "";
	ASSERT_OK(cairn__snap_read(dir, 42, &s, why, sizeof(why)));
	ASSERT_UEQ(s.hdr.magic, CAIRN__SNAP_MAGIC);
	ASSERT_UEQ(s.hdr.version, CAIRN__SNAP_VERSION);
	ASSERT_UEQ(s.hdr.header_size, 128);
	ASSERT_UEQ(s.hdr.lsn, 42);
	ASSERT_UEQ(s.hdr.prev_sum, 42 * 3 + 1);
	ASSERT_UEQ(s.hdr.state_hash, 42 * 5);
	ASSERT_UEQ(s.hdr.last_ingress_ns, 42000);
	ASSERT_UEQ(s.hdr.engine_len, elen);
	ASSERT_UEQ(s.hdr.dedup_len, dlen);
	ASSERT_TRUE(s.hdr.created_ns > 1500000000ull * 1000000000ull);
	for (size_t i = 0; i < sizeof(s.hdr._reserved); i++) {
		ASSERT_EQ(s.hdr._reserved[i], 0);
	}
	ASSERT_TRUE(memcmp(s.engine, e, elen) == 0);
	ASSERT_TRUE(memcmp(s.dedup, d, dlen) == 0);
	ASSERT_STREQ(s.file, "snap-00000000000000000042.snap");
	cairn__snap_release(&s);
	cairn__snap_release(&s);

	/* Empty images are fine too; the same LSN again replaces the file. */
	write_snap(dir, 42, NULL, 0, NULL, 0, 2);
	ASSERT_OK(cairn__snap_read(dir, 42, &s, why, sizeof(why)));
	ASSERT_UEQ(s.hdr.engine_len, 0);
	ASSERT_UEQ(s.hdr.dedup_len, 0);
	cairn__snap_release(&s);

	/* No file: -ENOENT, and why says which. */
	ASSERT_EQ(cairn__snap_read(dir, 41, &s, why, sizeof(why)), -ENOENT);
	ASSERT_TRUE(strstr(why, "snap-00000000000000000041.snap") != NULL);
	char bad[64];
	ASSERT_EQ(cairn__snap_write(dir, &s.hdr, e, d, 0, bad, sizeof(bad)), -EINVAL);
	ASSERT_TRUE(cairn__snap_write(kit_path(dir, "missing"), &s.hdr, NULL, NULL, 1, why,
				      sizeof(why)) == -ENOENT);
	ASSERT_TRUE(strstr(why, "missing") != NULL);
	free(e);
	free(d);
}

static void test_keep_and_stale(void)
{
	const char *dir = kit_tmpdir("keep");
	uint8_t e[16] = {1}, d[8] = {2};
	uint64_t lsns[8];
	ASSERT_EQ(cairn__snap_list(kit_path(dir, "nope"), lsns, 8), -ENOENT);
	ASSERT_EQ(cairn__snap_list(dir, lsns, 8), 0);

	/* Leftovers of a writer that was killed, and files that are not snapshots. */
	kit_write(kit_path(dir, "snap-00000000000000000005.tmp"), "half", 4);
	kit_write(kit_path(dir, "snap-00000000000000000099.tmp"), "newer half", 10);
	kit_write(kit_path(dir, "notes.txt"), "keep me", 7);
	kit_write(kit_path(dir, "snap-1.snap"), "not ours", 8);
	kit_write(kit_path(dir, "snap-00000000000000000001.snap.discarded"), "old", 3);

	write_snap(dir, 10, e, sizeof(e), d, sizeof(d), 2);
	ASSERT_TRUE(!kit_exists(kit_path(dir, "snap-00000000000000000005.tmp")));
	ASSERT_TRUE(!kit_exists(kit_path(dir, "snap-00000000000000000099.tmp")));
	ASSERT_TRUE(kit_exists(kit_path(dir, "notes.txt")));
	ASSERT_TRUE(kit_exists(kit_path(dir, "snap-1.snap")));
	ASSERT_TRUE(kit_exists(kit_path(dir, "snap-00000000000000000001.snap.discarded")));

	write_snap(dir, 20, e, sizeof(e), d, sizeof(d), 2);
	write_snap(dir, 30, e, sizeof(e), d, sizeof(d), 2);
	ASSERT_EQ(cairn__snap_list(dir, lsns, 8), 2);
	ASSERT_UEQ(lsns[0], 30);
	ASSERT_UEQ(lsns[1], 20);
	ASSERT_TRUE(!kit_exists(snap_file(dir, 10)));
	ASSERT_EQ(cairn__snap_list(dir, lsns, 1), 1);
	ASSERT_UEQ(lsns[0], 30);

	/* keep 3, then 1. */
	write_snap(dir, 40, e, sizeof(e), d, sizeof(d), 3);
	ASSERT_EQ(cairn__snap_list(dir, lsns, 8), 3);
	ASSERT_UEQ(lsns[2], 20);
	write_snap(dir, 50, e, sizeof(e), d, sizeof(d), 1);
	ASSERT_EQ(cairn__snap_list(dir, lsns, 8), 1);
	ASSERT_UEQ(lsns[0], 50);
	/* Big LSNs sort as numbers. */
	write_snap(dir, UINT64_MAX - 1, e, sizeof(e), d, sizeof(d), 2);
	ASSERT_EQ(cairn__snap_list(dir, lsns, 8), 2);
	ASSERT_UEQ(lsns[0], UINT64_MAX - 1);
	ASSERT_UEQ(lsns[1], 50);
}

/* Writes a snapshot, damages a copy in one way, and checks the read's verdict. */
static void expect_bad(const char *dir, const char *what, void (*damage)(const char *path),
		       const char *phrase)
{
	uint8_t e[300], d[100];
	for (unsigned i = 0; i < sizeof(e); i++) {
		e[i] = (uint8_t)i;
	}
	memset(d, 7, sizeof(d));
	write_snap(dir, 7, e, sizeof(e), d, sizeof(d), 1);
	damage(snap_file(dir, 7));
	struct cairn__snap s;
	char why[256] = "";
	int rc = cairn__snap_read(dir, 7, &s, why, sizeof(why));
	if (rc != -CAIRN_E_BAD_SNAPSHOT) {
		T_FAILF("%s: read returned %d (%s)", what, rc, why);
	}
	if (strncmp(why, "snap-00000000000000000007.snap", 30) != 0 || !strstr(why, phrase)) {
		T_FAILF("%s: why is \"%s\", expected the file name and \"%s\"", what, why, phrase);
	}
	ASSERT_TRUE(s.engine == NULL && s.dedup == NULL);
	ASSERT_STREQ(s.file, "snap-00000000000000000007.snap");
	cairn__snap_release(&s);
}

static void flip_magic(const char *p)
{
	kit_flip(p, 0, 0);
}
static void flip_header(const char *p)
{
	kit_flip(p, 16, 3); /* the LSN */
}
static void flip_header_sum(const char *p)
{
	kit_flip(p, 127, 7);
}
static void flip_engine(const char *p)
{
	kit_flip(p, 128 + 150, 1);
}
static void flip_dedup(const char *p)
{
	kit_flip(p, 128 + 300 + 99, 5);
}
static void cut_short(const char *p)
{
	ASSERT_EQ(truncate(p, 128 + 300 + 50), 0);
}
static void cut_header(const char *p)
{
	ASSERT_EQ(truncate(p, 100), 0);
}
static void grow(const char *p)
{
	ASSERT_EQ(truncate(p, 128 + 300 + 100 + 1), 0);
}
static void empty(const char *p)
{
	ASSERT_EQ(truncate(p, 0), 0);
}

static void test_damage(void)
{
	const char *dir = kit_tmpdir("damage");
	expect_bad(dir, "magic", flip_magic, "bad magic");
	expect_bad(dir, "a header field", flip_header, "header checksum");
	expect_bad(dir, "the header checksum", flip_header_sum, "header checksum");
	expect_bad(dir, "the engine image", flip_engine, "engine image checksum");
	expect_bad(dir, "the table image", flip_dedup, "exactly-once table checksum");
	expect_bad(dir, "a cut file", cut_short, "truncated");
	expect_bad(dir, "a cut header", cut_header, "shorter than a snapshot header");
	expect_bad(dir, "a grown file", grow, "grown");
	expect_bad(dir, "an empty file", empty, "shorter than a snapshot header");

	/* A file renamed to another LSN than its header's. */
	uint8_t e[4] = {0}, d[4] = {0};
	write_snap(dir, 8, e, 4, d, 4, 5);
	ASSERT_EQ(rename(snap_file(dir, 8), snap_file(dir, 9)), 0);
	struct cairn__snap s;
	char why[256];
	ASSERT_EQ(cairn__snap_read(dir, 9, &s, why, sizeof(why)), -CAIRN_E_BAD_SNAPSHOT);
	ASSERT_TRUE(strstr(why, "LSN 8") != NULL);
}

/* A replica driven by the live system's records (no log), snapshotted at given LSNs. */
struct run {
	struct kit_live live;
	struct cairn__replica rep;
	uint64_t hash_at[4];
	uint8_t *dedup_at[4];
	size_t dedup_len_at[4];
};

static void drive(struct run *r, uint64_t records)
{
	struct cairn__wal_command body;
	for (uint64_t i = 0; i < records; i++) {
		kit_live_next(&r->live, &body);
		uint64_t lsn = r->live.lsn + 1;
		kit_live_commit(&r->live, lsn, &body);
		struct cairn__wal_record rec =
			kit_record(lsn, CAIRN__WAL_COMMAND, &body, sizeof(body));
		struct cairn_msg out;
		char why[512];
		int rc = cairn__replica_apply(&r->rep, &rec, &out, why, sizeof(why));
		if (rc < 0) {
			T_FAILF("replica refused LSN %llu: %s", (unsigned long long)lsn, why);
		}
		/* The replica answers exactly as the live engine did. */
		ASSERT_TRUE(memcmp(&out, &r->live.t.out, sizeof(out)) == 0);
	}
	ASSERT_UEQ(cairn__engine_hash(r->rep.engine), cairn__engine_hash(r->live.t.e));
	kit_same_dedup(r->rep.dedup, r->live.dedup);
}

static void test_replica_and_fallback(void)
{
	const char *data = kit_tmpdir("data");
	struct run r;
	kit_live_open(&r.live, 11, 64, 8);
	kit_replica(&r.rep, 64, 8);
	char why[512] = "";
	drive(&r, 3000);
	uint64_t h1 = cairn__engine_hash(r.rep.engine), l1 = r.rep.lsn;
	ASSERT_UEQ(l1, 3000);
	ASSERT_OK(cairn__replica_snapshot(&r.rep, data, 2, why, sizeof(why)));
	uint8_t *d1;
	size_t d1len;
	ASSERT_OK(cairn__dedup_save(r.rep.dedup, &d1, &d1len));
	drive(&r, 2000);
	ASSERT_OK(cairn__replica_snapshot(&r.rep, data, 2, why, sizeof(why)));
	uint64_t h2 = cairn__engine_hash(r.rep.engine);
	ASSERT_TRUE(h1 != h2);

	/* The newest loads back to the same state, table, LSN, chain and stamp. */
	struct cairn__replica back;
	kit_replica(&back, 64, 8);
	struct cairn__snap s;
	ASSERT_OK(cairn__snap_read(kit_path(data, "snapshots"), 5000, &s, why, sizeof(why)));
	ASSERT_OK(cairn__replica_load(&back, &s, why, sizeof(why)));
	ASSERT_EQ(cairn__replica_load(&back, &s, why, sizeof(why)), -EBUSY);
	cairn__snap_release(&s);
	ASSERT_UEQ(back.lsn, 5000);
	ASSERT_UEQ(back.prev_sum, r.rep.prev_sum);
	ASSERT_UEQ(back.last_ingress_ns, r.rep.last_ingress_ns);
	ASSERT_UEQ(cairn__engine_hash(back.engine), h2);
	kit_same_dedup(back.dedup, r.rep.dedup);
	cairn__replica_free(&back);

	/* A smaller table cannot take the image: the load says so and leaves the replica empty. */
	kit_replica(&back, 32, 8);
	ASSERT_OK(cairn__snap_read(kit_path(data, "snapshots"), 5000, &s, why, sizeof(why)));
	ASSERT_EQ(cairn__replica_load(&back, &s, why, sizeof(why)), -CAIRN_E_BAD_SNAPSHOT);
	ASSERT_TRUE(strstr(why, "window 32") != NULL);
	/* A header whose state hash is wrong (a checksum-valid file of another engine). */
	struct cairn__replica other;
	kit_replica(&other, 64, 8);
	s.hdr.state_hash ^= 1;
	ASSERT_EQ(cairn__replica_load(&other, &s, why, sizeof(why)), -CAIRN_E_BAD_SNAPSHOT);
	ASSERT_TRUE(strstr(why, "hash") != NULL);
	ASSERT_UEQ(cairn__engine_applied(other.engine), 0); /* emptied again */
	s.hdr.state_hash ^= 1;
	ASSERT_OK(cairn__replica_load(&other, &s, why, sizeof(why)));
	cairn__snap_release(&s);
	cairn__replica_free(&other);
	cairn__replica_free(&back);

	/* Recovery with no log: the newest snapshot. */
	struct cairn__recover_report rep;
	struct cairn__replica rec;
	kit_replica(&rec, 64, 8);
	ASSERT_OK(cairn__recover(data, &rec, NULL, &rep, why, sizeof(why)));
	ASSERT_UEQ(rep.snapshot_lsn, 5000);
	ASSERT_UEQ(rep.snapshots_skipped, 0);
	ASSERT_UEQ(rec.lsn, 5000);
	ASSERT_UEQ(rep.resume.next_lsn, 5001);
	ASSERT_UEQ(rep.resume.prev_sum, r.rep.prev_sum);
	ASSERT_UEQ(rep.resume.next_seq, 1);
	ASSERT_UEQ(cairn__engine_hash(rec.engine), h2);
	cairn__replica_free(&rec);

	/* Damage the newest: recovery falls back to the older one and says why. */
	kit_flip(snap_file(kit_path(data, "snapshots"), 5000), 128 + 1000, 2);
	kit_replica(&rec, 64, 8);
	ASSERT_OK(cairn__recover(data, &rec, NULL, &rep, why, sizeof(why)));
	ASSERT_UEQ(rep.snapshot_lsn, 3000);
	ASSERT_STREQ(rep.snapshot_file, "snap-00000000000000003000.snap");
	ASSERT_UEQ(rep.snapshots_skipped, 1);
	if (!strstr(rep.skipped_why, "snap-00000000000000005000.snap") ||
	    !strstr(rep.skipped_why, "checksum")) {
		T_FAILF("skipped_why: %s", rep.skipped_why);
	}
	ASSERT_UEQ(rec.lsn, 3000);
	ASSERT_UEQ(cairn__engine_hash(rec.engine), h1);
	uint8_t *d2;
	size_t d2len;
	ASSERT_OK(cairn__dedup_save(rec.dedup, &d2, &d2len));
	ASSERT_UEQ(d2len, d1len);
	ASSERT_TRUE(memcmp(d1, d2, d1len) == 0);
	free(d2);
	cairn__replica_free(&rec);

	/* until_lsn below the newest picks the older one without counting a skip. */
	kit_flip(snap_file(kit_path(data, "snapshots"), 5000), 128 + 1000, 2);
	kit_replica(&rec, 64, 8);
	struct cairn__recover_options o = {.until_lsn = 4000};
	ASSERT_OK(cairn__recover(data, &rec, &o, &rep, why, sizeof(why)));
	ASSERT_UEQ(rep.snapshot_lsn, 3000);
	ASSERT_UEQ(rep.snapshots_skipped, 0);
	cairn__replica_free(&rec);

	/* Both damaged, no log: an error, not an empty state. */
	kit_flip(snap_file(kit_path(data, "snapshots"), 5000), 128 + 1000, 2);
	kit_flip(snap_file(kit_path(data, "snapshots"), 3000), 10, 2);
	kit_replica(&rec, 64, 8);
	int rc = cairn__recover(data, &rec, NULL, &rep, why, sizeof(why));
	ASSERT_EQ(rc, -CAIRN_E_BAD_SNAPSHOT);
	ASSERT_UEQ(rep.snapshots_skipped, 2);
	fprintf(stderr, "both snapshots damaged: %s\n", why);
	ASSERT_TRUE(strstr(why, "2 snapshots could not be used") != NULL);
	cairn__replica_free(&rec);

	free(d1);
	cairn__replica_free(&r.rep);
	kit_live_close(&r.live);
}

int main(void)
{
	test_round_trip();
	test_keep_and_stale();
	test_damage();
	test_replica_and_fallback();
	return T_PASS;
}
