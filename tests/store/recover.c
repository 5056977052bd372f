/*
 * store-recover: recovery of a data directory written as cairnd writes it.
 *
 * A live engine is driven by a realistic stream (the engine tests' world model, with
 * rollbacks); every accepted state-changing command goes to a real WAL (each backend in
 * turn), a follower replica catches up from the log files and takes snapshots, and the
 * maps are recorded in DATA/maps. Then:
 *   - recovery gives the live state hash and exactly-once table, from the newest
 *     snapshot, from an older one (until_lsn), and from the log alone;
 *   - a writer reopened where recovery says goes on, and that recovers too;
 *   - a torn tail is reported, left alone without cut, cut with it;
 *   - damage in the middle is refused with the file, offset and LSN, leaving every file
 *     byte for byte as it was; accepted with truncate_at_damage (cut or not), after
 *     which snapshots ahead of the log are discarded;
 *   - a pruned log continues a snapshot whose own record is gone, refuses to start
 *     without one, and a snapshot of another log is skipped and discarded;
 *   - an engine with other maps refuses the log, naming the LSN and the error.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kit.h"
#include "wal/wal.h"

#define SEGMENT (UINT64_C(1) << 20)

struct checkpoint {
	uint64_t lsn;
	uint64_t hash;
	uint64_t last_ingress_ns;
	uint8_t *dedup;
	size_t dedup_len;
};

struct sys {
	const char *data;
	char wal[512], snaps[512];
	enum cairn__wal_backend backend;
	struct cairn__wal *w;
	struct kit_live live;
	struct cairn__replica follower;
	uint64_t snap_lsns[16];
	unsigned n_snaps;
	uint64_t rollback_at; /* the LSN after which the next rollback is tried */
};

static void checkpoint_take(struct sys *s, struct checkpoint *c)
{
	c->lsn = s->live.lsn;
	c->hash = cairn__engine_hash(s->live.t.e);
	c->last_ingress_ns = s->live.last_ingress_ns;
	ASSERT_OK(cairn__dedup_save(s->live.dedup, &c->dedup, &c->dedup_len));
}

static void checkpoint_free(struct checkpoint *c)
{
	free(c->dedup);
	memset(c, 0, sizeof(*c));
}

static void expect_state(const struct cairn__replica *r, const struct checkpoint *c)
{
	ASSERT_UEQ(r->lsn, c->lsn);
	ASSERT_UEQ(cairn__engine_hash(r->engine), c->hash);
	ASSERT_UEQ(cairn__engine_applied(r->engine), c->lsn);
	uint8_t *img;
	size_t len;
	ASSERT_OK(cairn__dedup_save(r->dedup, &img, &len));
	ASSERT_UEQ(len, c->dedup_len);
	ASSERT_TRUE(memcmp(img, c->dedup, len) == 0);
	free(img);
}

static bool log_open(struct sys *s, const struct cairn__wal_resume *resume)
{
	struct cairn__wal_config cfg = {
		.dir = s->wal, .backend = s->backend, .segment_size = SEGMENT, .batch_bytes = 0};
	char why[512] = "";
	int rc = cairn__wal_open(&cfg, resume, &s->w, why, sizeof(why));
	if (rc < 0 && s->backend == CAIRN__WAL_URING) {
		fprintf(stderr, "io_uring backend unavailable (%s): its configuration is skipped\n",
			why);
		return false;
	}
	if (rc < 0) {
		T_FAILF("cairn__wal_open: %s", why);
	}
	return true;
}

static void log_close(struct sys *s)
{
	ASSERT_OK(cairn__wal_close(s->w));
	s->w = NULL;
}

static uint64_t log_append(struct sys *s, uint16_t kind, const struct iovec *iov, unsigned n)
{
	for (;;) {
		int64_t lsn = cairn__wal_append(s->w, kind, iov, n);
		if (lsn > 0) {
			return (uint64_t)lsn;
		}
		ASSERT_EQ(lsn, -ENOBUFS);
		ASSERT_OK(cairn__wal_kick(s->w));
		ASSERT_OK(cairn__wal_wait(s->w, cairn__wal_appended(s->w), -1));
	}
}

static void log_sync(struct sys *s)
{
	if (cairn__wal_appended(s->w) > 0) {
		ASSERT_OK(cairn__wal_wait(s->w, cairn__wal_appended(s->w), -1));
	}
}

static void sys_open(struct sys *s, const char *tag, enum cairn__wal_backend backend, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->data = kit_tmpdir(tag);
	snprintf(s->wal, sizeof(s->wal), "%s/wal", s->data);
	snprintf(s->snaps, sizeof(s->snaps), "%s/snapshots", s->data);
	kit_mkdir(s->wal);
	s->backend = backend;
	kit_live_open(&s->live, seed, 256, 4);
	kit_replica(&s->follower, 256, 4);
	char why[512];
	ASSERT_OK(cairn__data_maps_record(s->data, eng_maps(), ENG_N_MAPS, why, sizeof(why)));
	s->rollback_at = 700;
}

static void sys_close(struct sys *s)
{
	if (s->w) {
		log_close(s);
	}
	kit_live_close(&s->live);
	cairn__replica_free(&s->follower);
}

/* Appends n records of the live stream, in write batches of `batch` records. */
static void run(struct sys *s, uint64_t n, unsigned batch)
{
	struct cairn__wal_command body;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t next = s->live.lsn + 1;
		const uint8_t *img;
		size_t len;
		uint64_t lsn;
		if (next % 1000 == 300) {
			kit_live_save_hunt(&s->live);
		}
		if (next >= s->rollback_at &&
		    kit_live_rollback(&s->live, next, &body, &img, &len)) {
			struct iovec iov[2] = {{&body, sizeof(body)}, {(void *)img, len}};
			lsn = log_append(s, CAIRN__WAL_ROLLBACK, iov, 2);
			s->rollback_at = next + 1000;
		} else {
			kit_live_next(&s->live, &body);
			struct iovec iov = {&body, sizeof(body)};
			lsn = log_append(s, CAIRN__WAL_COMMAND, &iov, 1);
		}
		ASSERT_UEQ(lsn, next);
		kit_live_commit(&s->live, lsn, &body);
		if ((i + 1) % batch == 0) {
			log_sync(s);
		}
	}
	log_sync(s);
}

/*
 * Brings the follower up to the durable log by reading the files, as cairnd's store
 * thread does; with stop_at_segment, stops before the first record of a later segment
 * (so that a snapshot there has its own record in the segment before).
 */
static void catch_up(struct sys *s, uint64_t until, bool stop_at_segment)
{
	struct cairn__wal_reader *rd;
	char why[512] = "";
	ASSERT_OK(cairn__wal_reader_open(s->wal, s->follower.lsn + 1, &rd, why, sizeof(why)));
	struct cairn__wal_record rec;
	uint64_t first_seq = 0;
	while ((until == 0 || s->follower.lsn < until) && cairn__wal_reader_next(rd, &rec) > 0) {
		if (first_seq == 0) {
			first_seq = rec.seq;
		}
		if (stop_at_segment && rec.seq != first_seq) {
			break;
		}
		int rc;
		rc = cairn__replica_apply(&s->follower, &rec, NULL, why, sizeof(why));
		if (rc < 0) {
			T_FAILF("follower: %s", why);
		}
	}
	cairn__wal_reader_close(rd);
}

static uint64_t snapshot(struct sys *s, unsigned keep)
{
	char why[512] = "";
	int rc = cairn__replica_snapshot(&s->follower, s->data, keep, why, sizeof(why));
	if (rc < 0) {
		T_FAILF("snapshot: %s", why);
	}
	s->snap_lsns[s->n_snaps++] = s->follower.lsn;
	return s->follower.lsn;
}

/* Recovers into a fresh replica (maps from DATA/maps when from_data_maps). */
static int recover(struct sys *s, struct cairn__replica *r, const struct cairn__recover_options *o,
		   struct cairn__recover_report *rep, char *why, size_t whylen)
{
	kit_replica(r, 256, 4);
	return cairn__recover(s->data, r, o, rep, why, whylen);
}

static void recover_ok(struct sys *s, const struct cairn__recover_options *o,
		       struct cairn__recover_report *rep, const struct checkpoint *want)
{
	struct cairn__replica r;
	char why[512] = "";
	int rc = recover(s, &r, o, rep, why, sizeof(why));
	if (rc < 0) {
		T_FAILF("recovery: %d: %s", rc, why);
	}
	expect_state(&r, want);
	if (!rep->until_reached) {
		ASSERT_UEQ(r.last_ingress_ns, want->last_ingress_ns);
		ASSERT_UEQ(rep->resume.next_lsn, want->lsn + 1);
		ASSERT_UEQ(rep->resume.prev_sum, r.prev_sum);
	}
	cairn__replica_free(&r);
}

static void progress_count(void *arg, uint64_t lsn, uint64_t done, uint64_t total)
{
	uint64_t *calls = arg;
	ASSERT_LE(done, total);
	(void)lsn;
	(*calls)++;
}

/* A fresh replica that replays the whole log from LSN 1 with the reader alone. */
static void replay_all(struct sys *s, const struct checkpoint *want)
{
	struct cairn__replica r;
	kit_replica(&r, 256, 4);
	struct cairn__wal_reader *rd;
	char why[512];
	ASSERT_OK(cairn__wal_reader_open(s->wal, 1, &rd, why, sizeof(why)));
	struct cairn__wal_record rec;
	int rc;
	while ((rc = cairn__wal_reader_next(rd, &rec)) > 0) {
		if (cairn__replica_apply(&r, &rec, NULL, why, sizeof(why)) < 0) {
			T_FAILF("replay: %s", why);
		}
	}
	ASSERT_EQ(rc, 0);
	cairn__wal_reader_close(rd);
	expect_state(&r, want);
	cairn__replica_free(&r);
}

/* Appends k HUNT_CREATE records (valid in any state with room for k hunts). */
static void append_hunts(struct sys *s, unsigned k, struct cairn__replica *mirror)
{
	for (unsigned i = 0; i < k; i++) {
		struct cairn__wal_command body;
		memset(&body, 0, sizeof(body));
		body.session = 0x5e55;
		body.ingress_ns = mirror->last_ingress_ns + 1000;
		body.msg = eng_hunt_create(i % ENG_N_MAPS, 0, 0, 0);
		body.msg.hdr.request_id = 900000 + mirror->lsn;
		struct iovec iov = {&body, sizeof(body)};
		uint64_t lsn = log_append(s, CAIRN__WAL_COMMAND, &iov, 1);
		ASSERT_UEQ(lsn, mirror->lsn + 1);
		struct cairn__wal_record rec =
			kit_record(lsn, CAIRN__WAL_COMMAND, &body, sizeof(body));
		char why[512];
		if (cairn__replica_apply(mirror, &rec, NULL, why, sizeof(why)) < 0) {
			T_FAILF("mirror: %s", why);
		}
	}
	log_sync(s);
}

static void mirror_checkpoint(const struct cairn__replica *m, struct checkpoint *c)
{
	c->lsn = m->lsn;
	c->hash = cairn__engine_hash(m->engine);
	c->last_ingress_ns = m->last_ingress_ns;
	ASSERT_OK(cairn__dedup_save(m->dedup, &c->dedup, &c->dedup_len));
}

/* The state recovery gives, to continue from with a mirror replica. */
static void recover_mirror(struct sys *s, const struct cairn__recover_options *o,
			   struct cairn__replica *r, struct cairn__recover_report *rep)
{
	char why[512] = "";
	if (recover(s, r, o, rep, why, sizeof(why)) < 0) {
		T_FAILF("recovery: %s", why);
	}
}

/* ---- The main scenario, for one backend ---- */

static void test_backend(enum cairn__wal_backend backend, const char *name)
{
	struct sys s;
	sys_open(&s, name, backend, 100 + (uint64_t)backend);
	if (!log_open(&s, NULL)) {
		sys_close(&s);
		return;
	}
	fprintf(stderr, "%s: %s backend (%s)\n", name, cairn__wal_backend_name(s.w),
		cairn__wal_backend_reason(s.w));
	struct checkpoint c3, c7, cend;
	run(&s, 3000, 50);
	checkpoint_take(&s, &c3);
	run(&s, 2000, 100);
	catch_up(&s, 0, false);
	uint64_t snap1 = snapshot(&s, 2);
	run(&s, 2000, 37);
	checkpoint_take(&s, &c7);
	run(&s, 3000, 100);
	catch_up(&s, 0, false);
	uint64_t snap2 = snapshot(&s, 2);
	run(&s, 2000, 64);
	checkpoint_take(&s, &cend);
	log_close(&s);
	fprintf(stderr, "%s: %llu records (%llu rollbacks), snapshots at %llu and %llu\n", name,
		(unsigned long long)s.live.lsn, (unsigned long long)s.live.rollbacks,
		(unsigned long long)snap1, (unsigned long long)snap2);
	ASSERT_GT(s.live.rollbacks, 0);
	ASSERT_UEQ(snap1, 5000);
	ASSERT_UEQ(snap2, 10000);

	/* The newest snapshot, then the log; progress is reported. */
	struct cairn__recover_report rep;
	uint64_t calls = 0;
	struct cairn__recover_options o = {.progress = progress_count, .progress_arg = &calls};
	recover_ok(&s, &o, &rep, &cend);
	ASSERT_UEQ(rep.snapshot_lsn, snap2);
	ASSERT_UEQ(rep.records, cend.lsn - snap2);
	ASSERT_UEQ(rep.snapshots_skipped, 0);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_TRUE(!rep.until_reached);
	ASSERT_GE(calls, 1);
	ASSERT_GE(rep.resume.next_seq, 2);

	/* until_lsn: an older snapshot, and the log alone. */
	o.until_lsn = c7.lsn;
	recover_ok(&s, &o, &rep, &c7);
	ASSERT_UEQ(rep.snapshot_lsn, snap1);
	ASSERT_TRUE(rep.until_reached);
	ASSERT_UEQ(rep.records, c7.lsn - snap1);
	o.until_lsn = c3.lsn;
	recover_ok(&s, &o, &rep, &c3);
	ASSERT_UEQ(rep.snapshot_lsn, 0);
	ASSERT_STREQ(rep.snapshot_file, "");
	ASSERT_UEQ(rep.records, c3.lsn);
	/* until_lsn exactly at a snapshot, and past the end. */
	o.until_lsn = snap2;
	struct cairn__replica r;
	char why[512];
	ASSERT_OK(recover(&s, &r, &o, &rep, why, sizeof(why)));
	ASSERT_UEQ(r.lsn, snap2);
	ASSERT_UEQ(rep.records, 0);
	cairn__replica_free(&r);
	o.until_lsn = cend.lsn + 100;
	recover_ok(&s, &o, &rep, &cend);
	ASSERT_TRUE(!rep.until_reached);

	/* The log alone, with the maps of DATA/maps. */
	replay_all(&s, &cend);
	struct cairn__map **maps;
	uint32_t n_maps;
	ASSERT_OK(cairn__data_maps_load(s.data, &maps, &n_maps, why, sizeof(why)));
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	cfg.maps = (const struct cairn__map *const *)maps;
	cfg.n_maps = n_maps;
	ASSERT_OK(cairn__replica_new(&cfg, 256, 4, &r));
	ASSERT_OK(cairn__recover(s.data, &r, NULL, &rep, why, sizeof(why)));
	expect_state(&r, &cend);
	cairn__replica_free(&r);
	cairn__data_maps_free(maps, n_maps);

	/* A writer reopened where recovery says goes on; that recovers too. */
	recover_ok(&s, NULL, &rep, &cend);
	struct cairn__wal_resume resume = rep.resume;
	ASSERT_TRUE(log_open(&s, &resume));
	run(&s, 1500, 100);
	log_close(&s);
	o = (struct cairn__recover_options){.cut = true};
	checkpoint_free(&cend);
	checkpoint_take(&s, &cend);
	recover_ok(&s, &o, &rep, &cend);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(rep.snapshot_lsn, snap2);

	checkpoint_free(&c3);
	checkpoint_free(&c7);
	checkpoint_free(&cend);
	sys_close(&s);
}

/* Where the record of LSN lsn lies. */
static void locate(const char *wal, uint64_t lsn, uint64_t *seq, uint64_t *offset)
{
	struct cairn__wal_reader *rd;
	char why[256];
	ASSERT_OK(cairn__wal_reader_open(wal, lsn, &rd, why, sizeof(why)));
	struct cairn__wal_record rec;
	ASSERT_EQ(cairn__wal_reader_next(rd, &rec), 1);
	ASSERT_UEQ(rec.lsn, lsn);
	*seq = rec.seq;
	*offset = rec.offset;
	cairn__wal_reader_close(rd);
}

static const char *seg_path(const char *wal, uint64_t seq)
{
	static char p[600];
	snprintf(p, sizeof(p), "%s/wal-%016llx.seg", wal, (unsigned long long)seq);
	return p;
}

/* The state the log gives up to lsn, taken before it is damaged. */
static void checkpoint_until(struct sys *s, uint64_t lsn, struct checkpoint *c)
{
	struct cairn__recover_options o = {.until_lsn = lsn};
	struct cairn__recover_report rep;
	struct cairn__replica r;
	recover_mirror(s, &o, &r, &rep);
	ASSERT_UEQ(r.lsn, lsn);
	mirror_checkpoint(&r, c);
	cairn__replica_free(&r);
}

/* ---- A torn tail ---- */

static void test_torn(void)
{
	struct sys s;
	sys_open(&s, "torn", CAIRN__WAL_SYNC, 7);
	ASSERT_TRUE(log_open(&s, NULL));
	run(&s, 3000, 100);
	log_close(&s);
	uint64_t last = s.live.lsn;
	struct checkpoint before;
	checkpoint_until(&s, last - 1, &before);

	/* The last record (alone in the last batch) loses a byte of its body. */
	uint64_t seq, off;
	locate(s.wal, last, &seq, &off);
	kit_flip(seg_path(s.wal, seq), off + CAIRN__WAL_REC_HEADER + 20, 4);
	uint64_t digest = kit_tree_digest(s.data);

	struct cairn__recover_report rep;
	recover_ok(&s, NULL, &rep, &before);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_TORN);
	ASSERT_UEQ(rep.end.seq, seq);
	ASSERT_UEQ(rep.end.offset, off);
	ASSERT_UEQ(rep.end.lsn, last);
	fprintf(stderr, "torn tail: %s offset %llu: %s\n", rep.end.file,
		(unsigned long long)rep.end.offset, rep.end.reason);
	ASSERT_UEQ(kit_tree_digest(s.data), digest); /* without cut, nothing is touched */

	struct cairn__recover_options o = {.cut = true};
	recover_ok(&s, &o, &rep, &before);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_TORN);
	ASSERT_TRUE(kit_tree_digest(s.data) != digest);
	struct stat st;
	ASSERT_EQ(stat(seg_path(s.wal, seq), &st), 0);
	ASSERT_UEQ(st.st_size, off);
	recover_ok(&s, &o, &rep, &before);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_CLEAN);

	/* A writer continues where recovery says. */
	struct cairn__replica mirror;
	recover_mirror(&s, &o, &mirror, &rep);
	ASSERT_UEQ(rep.resume.next_seq, seq + 1);
	ASSERT_TRUE(log_open(&s, &rep.resume));
	append_hunts(&s, 5, &mirror);
	log_close(&s);
	struct checkpoint after;
	mirror_checkpoint(&mirror, &after);
	recover_ok(&s, &o, &rep, &after);
	ASSERT_UEQ(after.lsn, last - 1 + 5);
	cairn__replica_free(&mirror);

	/*
	 * An engine with other maps (swapped) refuses the log: the daemon and the log
	 * disagree, which is named, not papered over.
	 */
	const struct cairn__map *swapped[ENG_N_MAPS] = {eng_maps()[1], eng_maps()[0]};
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	cfg.maps = swapped;
	struct cairn__replica r;
	ASSERT_OK(cairn__replica_new(&cfg, 256, 4, &r));
	char why[512] = "";
	int rc = cairn__recover(s.data, &r, NULL, &rep, why, sizeof(why));
	fprintf(stderr, "other maps: %s\n", why);
	ASSERT_EQ(rc, -CAIRN_E_BAD_LOG);
	ASSERT_TRUE(strstr(why, "is refused by this engine") != NULL);
	ASSERT_TRUE(strstr(why, "LSN ") != NULL && strstr(why, "wal-") != NULL);
	cairn__replica_free(&r);

	checkpoint_free(&before);
	checkpoint_free(&after);
	sys_close(&s);
}

/* ---- Damage in the middle ---- */

static unsigned count_files(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	ASSERT_TRUE(d != NULL);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), k = strlen(suffix);
		n += l >= k && strcmp(e->d_name + l - k, suffix) == 0;
	}
	closedir(d);
	return n;
}

static void test_damage(void)
{
	struct sys s;
	sys_open(&s, "damage", CAIRN__WAL_SYNC, 8);
	ASSERT_TRUE(log_open(&s, NULL));
	/* ~120 bytes a record: this spans two 1 MiB segments and a part of a third. */
	run(&s, 2000, 100);
	catch_up(&s, 0, false);
	snapshot(&s, 2);
	run(&s, 18000, 100);
	catch_up(&s, 0, false);
	snapshot(&s, 2);
	run(&s, 2000, 100);
	log_close(&s);
	const uint64_t bad = 12345;
	struct checkpoint before;
	checkpoint_until(&s, bad - 1, &before);

	uint64_t seq, off;
	locate(s.wal, bad, &seq, &off);
	kit_flip(seg_path(s.wal, seq), off + CAIRN__WAL_REC_HEADER + 3, 0);
	uint64_t digest = kit_tree_digest(s.data);

	/* Refused, the files untouched, and the message names file, offset and LSN. */
	struct cairn__recover_options o = {.cut = true};
	struct cairn__recover_report rep;
	struct cairn__replica r;
	char why[512] = "";
	int rc = recover(&s, &r, &o, &rep, why, sizeof(why));
	cairn__replica_free(&r);
	fprintf(stderr, "damage: %s\n", why);
	ASSERT_EQ(rc, -CAIRN_E_BAD_LOG);
	char want[128];
	snprintf(want, sizeof(want), "wal-%016llx.seg: damaged at offset %llu (LSN %llu)",
		 (unsigned long long)seq, (unsigned long long)off, (unsigned long long)bad);
	if (!strstr(why, want) || !strstr(why, "truncate-at-damage")) {
		T_FAILF("expected \"%s\" in \"%s\"", want, why);
	}
	ASSERT_UEQ(kit_tree_digest(s.data), digest);
	/* The newest snapshot lies after the damage: skipped, the older one used. */
	ASSERT_UEQ(rep.snapshots_skipped, 1);

	/* Accepted without cut: the state before the damage, the files untouched. */
	o = (struct cairn__recover_options){.truncate_at_damage = true};
	recover_ok(&s, &o, &rep, &before);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_DAMAGED);
	ASSERT_UEQ(rep.end.lsn, bad);
	ASSERT_UEQ(kit_tree_digest(s.data), digest);

	/* Accepted and cut: later segments and the snapshot ahead of the log are set aside. */
	unsigned segs = count_files(s.wal, ".seg");
	o.cut = true;
	recover_ok(&s, &o, &rep, &before);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_DAMAGED);
	ASSERT_UEQ(rep.snapshots_discarded, 1);
	ASSERT_UEQ(count_files(s.snaps, ".snap.discarded"), 1);
	ASSERT_UEQ(count_files(s.snaps, ".snap"), 1);
	ASSERT_UEQ(count_files(s.wal, ".seg.discarded"), segs - (unsigned)seq);
	ASSERT_UEQ(rep.resume.next_seq, segs + 1);
	ASSERT_TRUE(kit_tree_digest(s.data) != digest);

	/* From now on a clean log, and a writer goes on past every old segment. */
	o = (struct cairn__recover_options){.cut = true};
	struct cairn__replica mirror;
	recover_mirror(&s, &o, &mirror, &rep);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_CLEAN);
	ASSERT_UEQ(mirror.lsn, bad - 1);
	ASSERT_TRUE(log_open(&s, &rep.resume));
	append_hunts(&s, 5, &mirror);
	log_close(&s);
	struct checkpoint after;
	mirror_checkpoint(&mirror, &after);
	recover_ok(&s, &o, &rep, &after);
	ASSERT_EQ(rep.end.end, CAIRN__WAL_END_CLEAN);
	cairn__replica_free(&mirror);

	checkpoint_free(&before);
	checkpoint_free(&after);
	sys_close(&s);
}

/* ---- A pruned log ---- */

static void test_pruned(void)
{
	struct sys s;
	sys_open(&s, "pruned", CAIRN__WAL_SYNC, 9);
	ASSERT_TRUE(log_open(&s, NULL));
	run(&s, 30000, 200);
	log_close(&s);
	struct checkpoint cend, c20;
	checkpoint_take(&s, &cend);
	checkpoint_until(&s, 20000, &c20);

	/* A snapshot at the last record of segment 2 (its own record goes with the prune). */
	catch_up(&s, 0, true);
	catch_up(&s, 0, true);
	uint64_t s1 = snapshot(&s, 3);
	catch_up(&s, 22000, false);
	uint64_t s2 = snapshot(&s, 3);
	fprintf(stderr, "pruned: snapshots at %llu and %llu\n", (unsigned long long)s1,
		(unsigned long long)s2);
	int pruned = cairn__wal_prune(s.wal, s1 + 1);
	ASSERT_EQ(pruned, 2);

	/* The log now starts right after the older snapshot. */
	struct cairn__wal_reader *rd;
	char why[512] = "";
	ASSERT_OK(cairn__wal_reader_open(s.wal, 1, &rd, why, sizeof(why)));
	struct cairn__wal_record rec;
	ASSERT_EQ(cairn__wal_reader_next(rd, &rec), 1);
	ASSERT_UEQ(rec.lsn, s1 + 1);
	cairn__wal_reader_close(rd);

	struct cairn__recover_report rep;
	recover_ok(&s, NULL, &rep, &cend);
	ASSERT_UEQ(rep.snapshot_lsn, s2);
	/* The older snapshot continues through a record whose predecessor is gone. */
	struct cairn__recover_options o = {.until_lsn = s2 - 1};
	struct cairn__replica r;
	ASSERT_OK(recover(&s, &r, &o, &rep, why, sizeof(why)));
	ASSERT_UEQ(rep.snapshot_lsn, s1);
	ASSERT_UEQ(r.lsn, s2 - 1);
	cairn__replica_free(&r);
	ASSERT_LT(s1, 20000);
	o.until_lsn = 20000;
	recover_ok(&s, &o, &rep, &c20);
	ASSERT_UEQ(rep.snapshot_lsn, s1);
	/* Before the oldest snapshot, the log cannot help. */
	o.until_lsn = s1 - 1;
	int rc = recover(&s, &r, &o, &rep, why, sizeof(why));
	cairn__replica_free(&r);
	fprintf(stderr, "before the log: %s\n", why);
	ASSERT_EQ(rc, -CAIRN_E_BAD_LOG);
	char want[128];
	snprintf(want, sizeof(want),
		 "the log starts at LSN %llu and no snapshot covers LSN 1..%llu",
		 (unsigned long long)(s1 + 1), (unsigned long long)s1);
	ASSERT_TRUE(strstr(why, want) != NULL);

	/* A snapshot of another log (its chain does not match) is skipped, then discarded. */
	struct cairn__snap snap;
	ASSERT_OK(cairn__snap_read(s.snaps, s2, &snap, why, sizeof(why)));
	snap.hdr.lsn = 25000;
	snap.hdr.prev_sum ^= 0x1234;
	ASSERT_OK(cairn__snap_write(s.snaps, &snap.hdr, snap.engine, snap.dedup, 3, why,
				    sizeof(why)));
	cairn__snap_release(&snap);
	recover_ok(&s, NULL, &rep, &cend);
	ASSERT_UEQ(rep.snapshot_lsn, s2);
	ASSERT_UEQ(rep.snapshots_skipped, 1);
	fprintf(stderr, "another log's snapshot: %s\n", rep.skipped_why);
	ASSERT_TRUE(strstr(rep.skipped_why, "another log") != NULL);
	ASSERT_UEQ(count_files(s.snaps, ".snap"), 3);
	o = (struct cairn__recover_options){.cut = true};
	recover_ok(&s, &o, &rep, &cend);
	ASSERT_UEQ(rep.snapshots_discarded, 1);
	ASSERT_UEQ(count_files(s.snaps, ".snap"), 2);
	recover_ok(&s, &o, &rep, &cend);
	ASSERT_UEQ(rep.snapshots_skipped, 0);

	/* A snapshot ahead of the log (the records it holds are gone): skipped. */
	ASSERT_OK(cairn__snap_read(s.snaps, s2, &snap, why, sizeof(why)));
	snap.hdr.lsn = 40000;
	ASSERT_OK(cairn__snap_write(s.snaps, &snap.hdr, snap.engine, snap.dedup, 3, why,
				    sizeof(why)));
	cairn__snap_release(&snap);
	recover_ok(&s, NULL, &rep, &cend);
	ASSERT_UEQ(rep.snapshots_skipped, 1);
	ASSERT_TRUE(strstr(rep.skipped_why, "ends at LSN") != NULL);

	checkpoint_free(&cend);
	checkpoint_free(&c20);
	sys_close(&s);
}

/* ---- Records a replica must refuse ---- */

static void expect_refused(struct cairn__replica *r, const struct cairn__wal_record *rec,
			   const char *phrase)
{
	uint64_t hash = cairn__engine_hash(r->engine), lsn = r->lsn, sessions, entries;
	uint64_t s0, e0;
	cairn__dedup_count(r->dedup, &s0, &e0);
	char why[512] = "";
	int rc = cairn__replica_apply(r, rec, NULL, why, sizeof(why));
	if (rc != -CAIRN_E_BAD_LOG || !strstr(why, phrase)) {
		T_FAILF("expected BAD_LOG and \"%s\", got %d: %s", phrase, rc, why);
	}
	ASSERT_UEQ(cairn__engine_hash(r->engine), hash);
	ASSERT_UEQ(r->lsn, lsn);
	cairn__dedup_count(r->dedup, &sessions, &entries);
	ASSERT_UEQ(sessions, s0);
	ASSERT_UEQ(entries, e0);
}

static void test_replica_records(void)
{
	struct cairn__replica r;
	kit_replica(&r, 16, 4);
	struct cairn__wal_command c;
	memset(&c, 0, sizeof(c));
	c.session = 77;
	c.ingress_ns = 5000000000ull;
	c.msg = eng_hunt_create(0, 0, 0, 0);
	c.msg.hdr.request_id = 1;
	struct cairn__wal_record rec = kit_record(1, CAIRN__WAL_COMMAND, &c, sizeof(c));
	struct cairn_msg out;
	char why[512];
	ASSERT_OK(cairn__replica_apply(&r, &rec, &out, why, sizeof(why)));
	ASSERT_EQ(out.hdr.type, CAIRN_MSG_HUNT_CREATED);
	const struct cairn_hunt_created *hc = (const void *)out.payload;
	uint32_t hunt = hc->hunt_id;
	ASSERT_TRUE(memcmp(cairn__dedup_find(r.dedup, 77, 1), &out, sizeof(out)) == 0);
	ASSERT_UEQ(r.lsn, 1);
	ASSERT_UEQ(r.prev_sum, rec.header_sum);
	ASSERT_UEQ(r.last_ingress_ns, c.ingress_ns);
	ASSERT_UEQ(r.records, 1);

	/* Request id 0 is applied but never remembered. */
	c.msg = eng_join(hunt, 1500, 1500);
	c.msg.hdr.request_id = 0;
	c.ingress_ns -= 10; /* an older stamp does not move last_ingress_ns back */
	rec = kit_record(2, CAIRN__WAL_COMMAND, &c, sizeof(c));
	ASSERT_OK(cairn__replica_apply(&r, &rec, &out, why, sizeof(why)));
	ASSERT_EQ(out.hdr.type, CAIRN_MSG_JOINED);
	ASSERT_TRUE(cairn__dedup_find(r.dedup, 77, 0) == NULL);
	ASSERT_UEQ(r.last_ingress_ns, 5000000000ull);

	c.msg = eng_join(hunt, 2500, 2500);
	c.msg.hdr.request_id = 3;
	rec = kit_record(4, CAIRN__WAL_COMMAND, &c, sizeof(c));
	expect_refused(&r, &rec, "LSN 4 where 3 was expected");
	rec = kit_record(3, 9, &c, sizeof(c));
	expect_refused(&r, &rec, "kind 9");
	rec = kit_record(3, CAIRN__WAL_COMMAND, &c, sizeof(c) - 1);
	expect_refused(&r, &rec, "71-byte body");
	rec = kit_record(3, CAIRN__WAL_COMMAND, &c, 40);
	expect_refused(&r, &rec, "40-byte body");
	struct cairn__wal_command q = c;
	q.msg = eng_state_hash();
	rec = kit_record(3, CAIRN__WAL_COMMAND, &q, sizeof(q));
	expect_refused(&r, &rec, "STATE_HASH (type 0x");
	q.msg = eng_move(hunt, 0x00ffffff, 10, 10);
	q.msg.hdr.request_id = 99;
	rec = kit_record(3, CAIRN__WAL_COMMAND, &q, sizeof(q));
	expect_refused(&r, &rec,
		       "MOVE (type 0x0014, session 000000000000004d, request 99) is "
		       "refused by this engine: UNKNOWN_PLAYER");

	/* Rollback records: the command must be a ROLLBACK to an earlier LSN, the image valid. */
	uint8_t body[200];
	memset(body, 0, sizeof(body));
	struct cairn__wal_command rb = c;
	rb.msg = eng_msg(CAIRN_MSG_ROLLBACK, NULL, 0);
	rb.msg.hdr.length = CAIRN_MSG_ROLLBACK_LEN_MIN;
	rb.msg.hdr.request_id = 3;
	struct cairn_rollback p = {.hunt_id = hunt, .lsn = 1};
	memcpy(rb.msg.payload, &p, sizeof(p));
	memcpy(body, &rb, sizeof(rb));
	rec = kit_record(3, CAIRN__WAL_ROLLBACK, body, sizeof(body));
	expect_refused(&r, &rec, "is refused by this engine");
	uint8_t *img;
	size_t len;
	ASSERT_OK(cairn__engine_hunt_save(r.engine, hunt, &img, &len));
	uint8_t *big = malloc(sizeof(rb) + len);
	memcpy(big, &rb, sizeof(rb));
	memcpy(big + sizeof(rb), img, len);
	p.lsn = 3;
	memcpy(big + offsetof(struct cairn__wal_command, msg.payload), &p, sizeof(p));
	rec = kit_record(3, CAIRN__WAL_ROLLBACK, big, (uint32_t)(sizeof(rb) + len));
	expect_refused(&r, &rec, "which is not before it");
	p.lsn = 1;
	memcpy(big + offsetof(struct cairn__wal_command, msg.payload), &p, sizeof(p));
	big[offsetof(struct cairn__wal_command, msg.hdr.type)] = CAIRN_MSG_MOVE;
	expect_refused(&r, &rec, "not one this daemon writes");
	big[offsetof(struct cairn__wal_command, msg.hdr.type)] = CAIRN_MSG_ROLLBACK;
	ASSERT_OK(cairn__replica_apply(&r, &rec, &out, why, sizeof(why)));
	ASSERT_EQ(out.hdr.type, CAIRN_MSG_ROLLED_BACK);
	ASSERT_EQ(out.hdr.length, CAIRN_MSG_ROLLED_BACK_LEN_MIN);
	ASSERT_EQ(out.hdr.status, 0);
	ASSERT_UEQ(out.hdr.request_id, 3);
	struct cairn_rollback_reply rr;
	memcpy(&rr, out.payload, sizeof(rr));
	ASSERT_UEQ(rr.hunt_id, hunt);
	ASSERT_UEQ(rr.players, 1);
	ASSERT_UEQ(rr.clues, 0);
	ASSERT_UEQ(rr.target_lsn, 1);
	ASSERT_UEQ(rr.lsn, 3);
	for (size_t i = CAIRN_MSG_ROLLED_BACK_LEN_MIN; i < sizeof(out.payload); i++) {
		ASSERT_EQ(out.payload[i], 0);
	}
	ASSERT_TRUE(memcmp(cairn__dedup_find(r.dedup, 77, 3), &out, sizeof(out)) == 0);
	ASSERT_UEQ(cairn__engine_applied(r.engine), 3);
	free(big);
	free(img);
	cairn__replica_free(&r);
	cairn__replica_free(&r);
}

int main(void)
{
	test_replica_records();
	test_backend(CAIRN__WAL_SYNC, "sync");
	test_backend(CAIRN__WAL_URING, "uring");
	test_torn();
	test_damage();
	test_pruned();
	return T_PASS;
}
