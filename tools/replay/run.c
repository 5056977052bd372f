/*
 * The replay: a replica (an engine and its exactly-once table, as cairnd's) is loaded
 * from a snapshot or starts empty, then takes the log's records one by one, exactly as
 * cairnd's recovery does (cairn__replica_apply), so that the state hash at every LSN is
 * the one the daemon had.
 *
 * Where it starts: with --no-snapshot, or by default when the log starts at LSN 1, from
 * an empty state; otherwise from the newest snapshot at or below --until that verifies,
 * loads, and links into the log (its chain value is the header checksum of the log's
 * record at its LSN, or the previous-record checksum of the next one when the log was
 * cut right after it). Snapshots that do not qualify are passed over with a note.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "replay.h"
#include "store/recover.h"

#define MAX_SNAPSHOTS 64

int record_prev_sum(const char *wal_dir, const struct cairn__wal_record *rec, uint64_t *prev)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/wal-%016" PRIx64 ".seg", wal_dir, rec->seq) >=
	    sizeof(path)) {
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	struct cairn__wal_rec h;
	ssize_t k = pread(fd, &h, sizeof(h), (off_t)rec->offset);
	int e = errno;
	close(fd);
	if (k != (ssize_t)sizeof(h)) {
		return k < 0 ? -e : -EIO;
	}
	if (h.header_sum != rec->header_sum || h.lsn != rec->lsn) {
		return -EIO; /* not the record the reader verified: the file changed */
	}
	*prev = h.prev_sum;
	return 0;
}

struct run {
	const struct options *o;
	struct source *s;
	struct cairn__engine_config ecfg;
	struct cairn__replica r;
	struct cairn__wal_reader *rd;     /* NULL: no log at all */
	struct cairn__wal_record pending; /* read while linking a snapshot, not yet applied */
	bool have_pending;
	uint64_t first_lsn; /* the log's first record (0: none) */
	uint64_t snap_lsn;  /* the snapshot started from */
	char snap_file[64];
	bool from_snapshot;
};

static int new_replica(struct run *u)
{
	int rc = cairn__replica_new(&u->ecfg, u->o->dedup_window, u->o->max_sessions, &u->r);
	if (rc == -EINVAL) {
		say_error("the engine cannot be made with these limits (--max-hunts %u, "
			  "--max-entities %u, --shards %u) and these maps",
			  u->o->max_hunts, u->o->max_entities, u->o->shards);
		return EXIT_USAGE;
	}
	if (rc < 0) {
		say_error("cannot make the engine: %s", strerror(-rc));
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}

static int open_reader(struct run *u, uint64_t from)
{
	char why[512];
	if (u->rd) {
		cairn__wal_reader_close(u->rd);
	}
	u->rd = NULL;
	u->have_pending = false;
	int rc = cairn__wal_reader_open(u->s->wal_dir, from ? from : 1, &u->rd, why, sizeof(why));
	if (rc == -ENOENT) {
		u->rd = NULL;
		return EXIT_OK;
	}
	if (rc < 0) {
		u->rd = NULL;
		say_error("%s", why);
		return EXIT_CANNOT;
	}
	return EXIT_OK;
}

/* The log's first LSN, by reading its first record (0 when it has none). */
static int find_first_lsn(struct run *u)
{
	int status = open_reader(u, 1);
	if (status != EXIT_OK || !u->rd) {
		return status;
	}
	struct cairn__wal_record rec;
	int rc = cairn__wal_reader_next(u->rd, &rec);
	if (rc < 0) {
		say_error("reading %s: %s", u->s->wal_dir, strerror(-rc));
		return EXIT_CANNOT;
	}
	u->first_lsn = rc > 0 ? rec.lsn : 0;
	/* Kept open: replaying from the start goes on from this record. */
	u->pending = rec;
	u->have_pending = rc > 0;
	return EXIT_OK;
}

enum link { LINKED, UNLINKED };

/*
 * Positions the reader after the record of LSN lsn, checking that it has header
 * checksum prev; on LINKED u->rd continues from there. Returns a link verdict with why
 * filled in, or a negative exit status.
 */
static int link_snapshot(struct run *u, uint64_t lsn, uint64_t prev, char *why, size_t len)
{
	int status = open_reader(u, lsn);
	if (status != EXIT_OK) {
		return -status;
	}
	if (!u->rd) {
		return LINKED; /* no log: the snapshot is all there is */
	}
	struct cairn__wal_record rec;
	int rc = cairn__wal_reader_next(u->rd, &rec);
	if (rc < 0) {
		say_error("reading %s: %s", u->s->wal_dir, strerror(-rc));
		return -EXIT_CANNOT;
	}
	if (rc == 0) {
		if (u->first_lsn == 0) {
			return LINKED; /* a log without records continues anything */
		}
		snprintf(why, len, "the log ends before its LSN");
		return UNLINKED;
	}
	if (rec.lsn == lsn) {
		if (rec.header_sum == prev) {
			return LINKED;
		}
		snprintf(why, len,
			 "the log's record %" PRIu64 " has checksum %016" PRIx64 ", the snapshot "
			 "expects %016" PRIx64 ": it is a snapshot of another log",
			 lsn, rec.header_sum, prev);
		return UNLINKED;
	}
	if (rec.lsn == lsn + 1) {
		uint64_t p = 0;
		if (lsn > 0 && (rc = record_prev_sum(u->s->wal_dir, &rec, &p)) < 0) {
			say_error("reading back the header of LSN %" PRIu64 ": %s", rec.lsn,
				  strerror(-rc));
			return -EXIT_CANNOT;
		}
		if (p != prev) {
			snprintf(why, len,
				 "the log's record %" PRIu64 " follows checksum %016" PRIx64
				 ", the snapshot's is %016" PRIx64
				 ": it is a snapshot of another log",
				 rec.lsn, p, prev);
			return UNLINKED;
		}
		u->pending = rec;
		u->have_pending = true;
		return LINKED;
	}
	snprintf(why, len, "the log starts at LSN %" PRIu64 ", after LSN %" PRIu64, rec.lsn,
		 lsn + 1);
	return UNLINKED;
}

/*
 * Loads the newest snapshot that can start the replay. Returns EXIT_OK with
 * u->from_snapshot set or not (none could), or another exit status.
 */
static int start_from_snapshot(struct run *u)
{
	const struct options *o = u->o;
	const char *dir = u->s->snap_dir;
	if (!dir[0]) {
		return EXIT_OK;
	}
	uint64_t lsns[MAX_SNAPSHOTS];
	int n = cairn__snap_list(dir, lsns, MAX_SNAPSHOTS);
	if (n < 0) {
		say_error("cannot list the snapshots in %s: %s", dir, strerror(-n));
		return EXIT_CANNOT;
	}
	for (int i = 0; i < n; i++) {
		uint64_t lsn = lsns[i];
		if (o->until && lsn > o->until) {
			continue;
		}
		if (u->first_lsn > 0 && lsn + 1 < u->first_lsn) {
			say_note(o,
				 "snapshot of LSN %" PRIu64
				 " passed over: the log starts at LSN %" PRIu64,
				 lsn, u->first_lsn);
			continue;
		}
		struct cairn__snap snap;
		char why[512];
		int rc = cairn__snap_read(dir, lsn, &snap, why, sizeof(why));
		if (rc == -ENOMEM) {
			say_error("out of memory");
			return EXIT_CANNOT;
		}
		if (rc == 0) {
			rc = cairn__replica_load(&u->r, &snap, why, sizeof(why));
		}
		if (rc < 0) {
			say_note(o, "snapshot of LSN %" PRIu64 " passed over: %s", lsn, why);
			cairn__snap_release(&snap);
			/* A failed load leaves the (owned) replica empty. */
			continue;
		}
		snprintf(u->snap_file, sizeof(u->snap_file), "%s", snap.file);
		uint64_t prev = snap.hdr.prev_sum;
		cairn__snap_release(&snap);
		rc = link_snapshot(u, lsn, prev, why, sizeof(why));
		if (rc < 0) {
			return -rc;
		}
		if (rc == LINKED) {
			u->snap_lsn = lsn;
			u->from_snapshot = true;
			return EXIT_OK;
		}
		say_note(o, "snapshot of LSN %" PRIu64 " passed over: %s", lsn, why);
		cairn__replica_free(&u->r);
		int status = new_replica(u);
		if (status != EXIT_OK) {
			return status;
		}
	}
	return EXIT_OK;
}

/* Keeps the spacing of the ingress stamps (sped up speed times). */
struct pacer {
	bool on, started;
	double speed;
	uint64_t wall0, stamp0;
};

static void pace(struct pacer *p, const struct cairn__wal_record *rec)
{
	struct cairn__wal_command c;
	if (!p->on || rec->length < sizeof(c)) {
		return;
	}
	memcpy(&c, rec->body, sizeof(c));
	if (!p->started) {
		p->started = true;
		p->wall0 = now_ns();
		p->stamp0 = c.ingress_ns;
		return;
	}
	if (c.ingress_ns <= p->stamp0) {
		return;
	}
	double ahead = (double)(c.ingress_ns - p->stamp0) / p->speed;
	uint64_t target = p->wall0 + (uint64_t)ahead;
	struct timespec ts = {.tv_sec = (time_t)(target / 1000000000u),
			      .tv_nsec = (long)(target % 1000000000u)};
	while (!replay_stop &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
	}
}

/* The engine's summary: hash, hunts and entities, through its STATE_HASH command. */
static struct cairn_state_hash_reply state_of(struct cairn__engine *e)
{
	struct cairn_msg cmd, out;
	memset(&cmd, 0, sizeof(cmd));
	cmd.hdr.type = CAIRN_MSG_STATE_HASH;
	cmd.hdr.length = CAIRN_MSG_STATE_HASH_LEN_MIN;
	cairn__engine_apply(e, &cmd, 0, NULL, &out);
	struct cairn_state_hash_reply r;
	memcpy(&r, out.payload, sizeof(r));
	return r;
}

static void summary(struct run *u, const char *end, uint64_t records, double secs,
		    const struct cairn__wal_damage *dmg)
{
	const struct options *o = u->o;
	struct cairn_state_hash_reply st = state_of(u->r.engine);
	if (!o->json) {
		print_hash_line(o, u->r.lsn, st.hash, records);
		say_note(o,
			 "replayed %" PRIu64 " records%s%s in %.2f s (%.0f records/s): LSN %" PRIu64
			 ", %u hunts, %u players and clues; the log %s",
			 records, u->from_snapshot ? " after " : " from an empty state",
			 u->from_snapshot ? u->snap_file : "", secs,
			 secs > 0 ? (double)records / secs : 0.0, u->r.lsn, st.hunts, st.entities,
			 strcmp(end, "clean") == 0         ? "ends cleanly"
			 : strcmp(end, "until") == 0       ? "goes on after --until"
			 : strcmp(end, "torn") == 0        ? "ends in a torn batch"
			 : strcmp(end, "interrupted") == 0 ? "was not read to its end: interrupted"
							   : "was not read to its end");
		return;
	}
	struct json j;
	json_begin(&j, stdout);
	json_bool(&j, "summary", true);
	json_u64(&j, "lsn", u->r.lsn);
	json_hex(&j, "hash", st.hash);
	json_u64(&j, "records", records);
	json_u64(&j, "first_lsn", u->first_lsn);
	json_bool(&j, "from_snapshot", u->from_snapshot);
	json_u64(&j, "snapshot_lsn", u->snap_lsn);
	json_str(&j, "snapshot_file", u->snap_file);
	json_str(&j, "end", end);
	json_u64(&j, "hunts", st.hunts);
	json_u64(&j, "entities", st.entities);
	json_num(&j, "seconds", secs);
	json_num(&j, "records_per_s", secs > 0 ? (double)records / secs : 0.0);
	json_str(&j, "maps", u->s->maps_from);
	if (dmg) {
		json_damage(&j, dmg);
	}
	json_end(&j);
}

static int replay_records(struct run *u)
{
	const struct options *o = u->o;
	struct pacer pc = {.on = o->pace_original, .speed = o->speed};
	struct progress pr;
	progress_start(&pr, o);
	uint64_t start_lsn = u->r.lsn, records = 0, t0 = now_ns();
	char why[512];
	int rc = 0, status = EXIT_OK;
	const char *end = "clean";
	struct cairn__wal_damage dmg;
	memset(&dmg, 0, sizeof(dmg));
	bool have_dmg = false;
	struct cairn__wal_record rec;
	for (;;) {
		if (replay_stop) {
			end = "interrupted";
			status = EXIT_STOPPED;
			break;
		}
		if (u->have_pending) {
			rec = u->pending;
			u->have_pending = false;
			rc = 1;
		} else {
			rc = u->rd ? cairn__wal_reader_next(u->rd, &rec) : 0;
		}
		if (rc <= 0) {
			break;
		}
		if (o->until && rec.lsn > o->until) {
			end = "until";
			break;
		}
		pace(&pc, &rec);
		rc = cairn__replica_apply(&u->r, &rec, NULL, why, sizeof(why));
		if (rc < 0) {
			progress_end(&pr);
			say_error("%s", why);
			end = "diverged";
			status = rc == -ENOMEM ? EXIT_CANNOT : EXIT_DAMAGE;
			break;
		}
		records++;
		if (o->hash_every && rec.lsn % o->hash_every == 0) {
			progress_end(&pr);
			print_hash_line(o, rec.lsn, cairn__engine_hash(u->r.engine), records);
		}
		/* Paced records come slowly: each may be the one to redraw the bar. */
		if ((records & 4095) == 0 || pc.on) {
			double f;
			if (o->until) {
				f = (double)(rec.lsn - start_lsn) / (double)(o->until - start_lsn);
			} else {
				uint64_t done, total;
				cairn__wal_reader_progress(u->rd, &done, &total);
				f = total ? (double)done / (double)total : 0;
			}
			progress_update(&pr, records, f, rec.lsn);
		}
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	progress_end(&pr);
	if (rc < 0 && status == EXIT_OK) {
		say_error("reading %s: %s", u->s->wal_dir, strerror(-rc));
		end = "error";
		status = EXIT_CANNOT;
	} else if (rc == 0 && u->rd) {
		cairn__wal_reader_end(u->rd, &dmg);
		char text[400];
		damage_text(&dmg, text, sizeof(text));
		if (dmg.end == CAIRN__WAL_END_DAMAGED) {
			say_error("the log is damaged at %s; replayed up to LSN %" PRIu64, text,
				  u->r.lsn);
			end = "damaged";
			have_dmg = true;
			status = EXIT_DAMAGE;
		} else if (dmg.end == CAIRN__WAL_END_TORN) {
			say_note(o,
				 "the log ends in a torn batch at %s (a daemon would cut it there)",
				 text);
			end = "torn";
			have_dmg = true;
		}
	}
	if (status == EXIT_OK && o->until && u->r.lsn < o->until) {
		say_error("the log ends at LSN %" PRIu64 ", before --until %" PRIu64, u->r.lsn,
			  o->until);
		status = EXIT_DAMAGE;
	}
	summary(u, end, records, secs, have_dmg ? &dmg : NULL);
	return status;
}

int run_replay(const struct options *o, struct source *s)
{
	int status = source_load_maps(o, s);
	if (status != EXIT_OK) {
		return status;
	}
	struct run u;
	memset(&u, 0, sizeof(u));
	u.o = o;
	u.s = s;
	cairn__engine_config_default(&u.ecfg);
	u.ecfg.max_hunts = o->max_hunts;
	u.ecfg.max_entities = o->max_entities;
	u.ecfg.shards_per_hunt = o->shards;
	u.ecfg.event_capacity = 1024; /* nobody reads the replay's events */
	u.ecfg.maps = (const struct cairn__map *const *)s->maps;
	u.ecfg.n_maps = s->n_maps;
	status = new_replica(&u);
	if (status != EXIT_OK) {
		return status;
	}
	status = find_first_lsn(&u);
	if (status == EXIT_OK) {
		bool want =
			o->snapshot == SNAP_ALWAYS || (o->snapshot == SNAP_AUTO && u.first_lsn > 1);
		if (o->snapshot == SNAP_NEVER && u.first_lsn > 1) {
			say_error("the log starts at LSN %" PRIu64
				  ": replaying it needs a snapshot "
				  "(leave out --no-snapshot)",
				  u.first_lsn);
			status = EXIT_USAGE;
		} else if (want) {
			status = start_from_snapshot(&u);
			if (status == EXIT_OK && !u.from_snapshot) {
				if (u.first_lsn > 1) {
					say_error("the log starts at LSN %" PRIu64
						  " and no snapshot reaches it (%s%s)",
						  u.first_lsn,
						  s->snap_dir[0] ? "looked in "
								 : "no snapshots directory found",
						  s->snap_dir);
					status = EXIT_DAMAGE;
				} else {
					say_note(o,
						 "no snapshot to start from: replaying from LSN 1");
					status = open_reader(&u, 1);
				}
			}
		}
	}
	if (status == EXIT_OK) {
		if (u.from_snapshot) {
			say_note(o, "starting from %s/%s (LSN %" PRIu64 ")", s->snap_dir,
				 u.snap_file, u.snap_lsn);
		}
		status = replay_records(&u);
	}
	if (u.rd) {
		cairn__wal_reader_close(u.rd);
	}
	cairn__replica_free(&u.r);
	return status;
}
