/*
 * --verify: reads the whole log through the reader, which checks every header and body
 * checksum, the salt, the LSN sequence and the hash chain; reads every snapshot, which
 * checks its checksums; and checks that each snapshot links into the log (its prev_sum
 * is the header checksum of the record at its LSN). Prints, on stdout:
 *
 *   damage file=wal-0000000000000002.seg offset=4096 lsn=1234 reason="..."
 *   verified records=N first_lsn=A last_lsn=B segments=K snapshots=M end=clean|torn|damaged
 *
 * (or one JSON object with --json). A torn last batch is what a crash leaves and what a
 * daemon cuts off: it is reported, not counted as damage.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "replay.h"
#include "store/snapshot.h"

#define MAX_SNAPSHOTS 64

struct snap_check {
	uint64_t lsn, prev_sum;
	bool linked;
};

/* A damage line (and the same in the JSON summary). */
struct finding {
	bool any;
	char file[64];
	uint64_t offset, lsn;
	char reason[512];
};

static void found(struct finding *f, const char *file, uint64_t offset, uint64_t lsn,
		  const char *reason)
{
	if (f->any) {
		return; /* the first one is the one reported */
	}
	f->any = true;
	snprintf(f->file, sizeof(f->file), "%s", file);
	f->offset = offset;
	f->lsn = lsn;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

static void print_quoted(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			putchar('\\');
		}
		putchar(*s);
	}
	putchar('"');
}

/* Reads and checks every snapshot; the first bad one goes into f. */
static int read_snapshots(const struct source *s, struct snap_check *sc, unsigned *n,
			  struct finding *f)
{
	*n = 0;
	if (!s->snap_dir[0]) {
		return EXIT_OK;
	}
	uint64_t lsns[MAX_SNAPSHOTS];
	int k = cairn__snap_list(s->snap_dir, lsns, MAX_SNAPSHOTS);
	if (k < 0) {
		say_error("cannot list %s: %s", s->snap_dir, strerror(-k));
		return EXIT_CANNOT;
	}
	for (int i = k - 1; i >= 0; i--) {
		struct cairn__snap snap;
		char why[512];
		int rc = cairn__snap_read(s->snap_dir, lsns[i], &snap, why, sizeof(why));
		if (rc == -CAIRN_E_BAD_SNAPSHOT) {
			found(f, snap.file, 0, lsns[i], why);
		} else if (rc < 0) {
			say_error("%s", why);
			cairn__snap_release(&snap);
			return EXIT_CANNOT;
		} else {
			sc[*n] = (struct snap_check){.lsn = lsns[i], .prev_sum = snap.hdr.prev_sum};
			(*n)++;
		}
		cairn__snap_release(&snap);
	}
	return EXIT_OK;
}

int run_verify(const struct options *o, const struct source *s)
{
	struct finding f;
	memset(&f, 0, sizeof(f));
	struct snap_check sc[MAX_SNAPSHOTS];
	unsigned n_snaps;
	int status = read_snapshots(s, sc, &n_snaps, &f);
	if (status != EXIT_OK) {
		return status;
	}

	struct cairn__wal_reader *r = NULL;
	char why[512];
	int rc = cairn__wal_reader_open(s->wal_dir, 1, &r, why, sizeof(why));
	if (rc < 0 && rc != -ENOENT) {
		say_error("%s", why);
		return EXIT_CANNOT;
	}
	uint64_t n = 0, first = 0, last = 0, segments = 0, seq = 0;
	struct cairn__wal_damage end;
	memset(&end, 0, sizeof(end));
	struct cairn__wal_record rec;
	struct progress pr;
	progress_start(&pr, o);
	while (r && !replay_stop && (rc = cairn__wal_reader_next(r, &rec)) > 0) {
		if (o->until && rec.lsn > o->until) {
			break;
		}
		if (n++ == 0) {
			first = rec.lsn;
		}
		last = rec.lsn;
		if (rec.seq != seq) {
			seq = rec.seq;
			segments++;
		}
		for (unsigned i = 0; i < n_snaps; i++) {
			uint64_t prev = 0;
			bool here = sc[i].lsn == rec.lsn;
			/* A log pruned right after the snapshot: the link is the first record's. */
			bool next = n == 1 && sc[i].lsn + 1 == rec.lsn;
			if (!here && !next) {
				continue;
			}
			if (next && record_prev_sum(s->wal_dir, &rec, &prev) < 0) {
				say_error("cannot read back the header of LSN %" PRIu64, rec.lsn);
				cairn__wal_reader_close(r);
				return EXIT_CANNOT;
			}
			sc[i].linked = (here ? rec.header_sum : prev) == sc[i].prev_sum;
			if (!sc[i].linked) {
				char file[64], reason[200];
				snprintf(file, sizeof(file), "snap-%020" PRIu64 ".snap", sc[i].lsn);
				snprintf(reason, sizeof(reason),
					 "the snapshot does not link into the log: its chain value "
					 "is not the checksum of the log's record %" PRIu64,
					 sc[i].lsn);
				found(&f, file, 0, sc[i].lsn, reason);
			}
		}
		if ((n & 4095) == 0) {
			uint64_t done, total;
			cairn__wal_reader_progress(r, &done, &total);
			progress_update(&pr, n, total ? (double)done / (double)total : 0, rec.lsn);
		}
	}
	progress_end(&pr);
	const char *how = "clean";
	if (rc < 0) {
		say_error("reading %s: %s", s->wal_dir, strerror(-rc));
		cairn__wal_reader_close(r);
		return EXIT_CANNOT;
	}
	if (replay_stop) {
		if (r) {
			cairn__wal_reader_close(r);
		}
		return EXIT_STOPPED;
	}
	if (r && rc == 0) {
		cairn__wal_reader_end(r, &end);
		if (end.end == CAIRN__WAL_END_DAMAGED) {
			how = "damaged";
			/* The log's damage is the one reported, before any snapshot's. */
			f.any = false;
			found(&f, end.file, end.offset, end.lsn, end.reason);
		} else if (end.end == CAIRN__WAL_END_TORN) {
			how = "torn";
			char text[400];
			damage_text(&end, text, sizeof(text));
			say_note(o,
				 "the log ends in a torn batch at %s (a daemon would cut it there)",
				 text);
		}
	} else if (r) {
		how = "until";
	}
	if (r) {
		cairn__wal_reader_close(r);
	}
	unsigned linked = 0;
	for (unsigned i = 0; i < n_snaps; i++) {
		linked += sc[i].linked;
		if (!sc[i].linked && sc[i].lsn > last && strcmp(how, "damaged") != 0 &&
		    !(o->until && sc[i].lsn > o->until)) {
			say_note(o,
				 "snapshot of LSN %" PRIu64
				 " is ahead of the log (which ends at %" PRIu64
				 "): recovery would set it aside",
				 sc[i].lsn, last);
		}
	}

	if (o->json) {
		struct json j;
		json_begin(&j, stdout);
		json_bool(&j, "ok", !f.any);
		json_u64(&j, "records", n);
		json_u64(&j, "first_lsn", first);
		json_u64(&j, "last_lsn", last);
		json_u64(&j, "segments", segments);
		json_u64(&j, "snapshots", n_snaps);
		json_u64(&j, "snapshots_linked", linked);
		json_str(&j, "end", how);
		if (f.any) {
			json_str(&j, "damage_file", f.file);
			json_u64(&j, "damage_offset", f.offset);
			json_u64(&j, "damage_lsn", f.lsn);
			json_str(&j, "damage_reason", f.reason);
		}
		json_end(&j);
	} else {
		if (f.any) {
			printf("damage file=%s offset=%" PRIu64 " lsn=%" PRIu64 " reason=", f.file,
			       f.offset, f.lsn);
			print_quoted(f.reason);
			putchar('\n');
		}
		printf("verified records=%" PRIu64 " first_lsn=%" PRIu64 " last_lsn=%" PRIu64
		       " segments=%" PRIu64 " snapshots=%u snapshots_linked=%u end=%s\n",
		       n, first, last, segments, n_snaps, linked, how);
	}
	return f.any ? EXIT_DAMAGE : EXIT_OK;
}
