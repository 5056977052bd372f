/*
 * Fuzz target: the write-ahead log's reader (src/wal/reader.c), the cut it is followed
 * by in recovery, and the replay of what it reads into a replica.
 *
 * Input: a flags byte, then segment files separated by SEP; each starts with a byte
 * that says how far its sequence number is past the previous one (0 to 2: a gap is a
 * missing segment). The files are written into a private directory as
 * wal-SSSSSSSSSSSSSSSS.seg and read with the reader. Checksums would stop the fuzzer
 * at every record, so the flags can ask for them to be made right first: the segment
 * headers' (FIX_SEGMENTS), and for every record that fits, its salt, chain link and both
 * checksums (FIX_RECORDS; FIX_CHAIN links it to the record before), walking each segment
 * from offset 64 as a writer lays records out.
 *
 * Oracles:
 *  - every record handed out verifies by the format, checked here independently: inside
 *    its file, salt, both checksums, LSN one more than the record before and the chain
 *    link, for every record after the first;
 *  - the end is one of the three kinds, names a file of the log and an offset inside it,
 *    and the resume position continues from the last record;
 *  - cutting the log where the reader said it ends (a torn tail, or damage accepted as
 *    --recover=truncate-at-damage does) leaves a log that reads back to the same records
 *    and ends cleanly; after a clean end, dropping the record-less tail segments does the
 *    same;
 *  - replaying the records into a replica either applies each or refuses it with
 *    BAD_LOG and a reason, changing nothing; the engine's invariants hold throughout.
 */
#include <errno.h>
#include <xxhash.h>

#include "engine_kit.h"
#include "fuzz.h"
#include "segment_kit.h"
#include "store/recover.h"
#include "wal/backend.h"
#include "wal/format.h"
#include "wal/wal.h"

#define FIX_SEGMENTS 0x01
#define FIX_RECORDS  0x02
#define FIX_CHAIN    0x04
#define REPLAY       0x08
#define FROM_LSN     0x30 /* from_lsn 0, 1, 2 or 5 */

static const char SEP[8] = {'\n', 'S', 'E', 'G', 'M', 'E', 'N', 'T'};

#define MAX_SEGS 8

struct seg {
	uint64_t seq;
	uint8_t *data;
	size_t len;
};

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Makes the checksums (and, asked, the chain) of a segment's records right, in place. */
static void fix_segment(struct seg *s, uint8_t flags, uint64_t *prev)
{
	struct cairn__wal_seg_header h;
	if (s->len < sizeof(h)) {
		return;
	}
	if (flags & FIX_SEGMENTS) {
		fz_fix_wal_seg_header(s->data, s->len, s->seq);
	}
	memcpy(&h, s->data, sizeof(h));
	if (!(flags & FIX_RECORDS)) {
		return;
	}
	uint64_t off = CAIRN__WAL_SEG_HEADER;
	while (s->len - off >= CAIRN__WAL_REC_HEADER) {
		struct cairn__wal_rec rec;
		memcpy(&rec, s->data + off, sizeof(rec));
		uint64_t size = cairn__wal_rec_size(rec.length);
		if (load64(s->data + off + 8) == 0 && load64(s->data + off + 24) == 0) {
			break; /* zeros where a record would be: the preallocated tail */
		}
		if (rec.length > CAIRN__WAL_MAX_BODY || size > s->len - off) {
			break;
		}
		rec.salt = (uint32_t)h.salt;
		if (flags & FIX_CHAIN) {
			rec.prev_sum = *prev;
		}
		rec.body_sum = XXH3_64bits_withSeed(s->data + off + CAIRN__WAL_REC_HEADER,
						    rec.length, h.salt);
		memcpy(s->data + off, &rec, sizeof(rec));
		rec.header_sum =
			XXH3_64bits_withSeed(s->data + off + 8, CAIRN__WAL_REC_HEADER - 8, h.salt);
		memcpy(s->data + off, &rec, sizeof(rec));
		*prev = rec.header_sum;
		off += size;
	}
}

/* What a scan of the log read: enough to compare two scans. */
struct scan {
	int open_rc;
	uint64_t records, last_lsn, last_sum;
	struct cairn__wal_damage end;
	struct cairn__wal_resume resume;
};

static const struct seg *seg_of(const struct seg *segs, unsigned n, uint64_t seq)
{
	for (unsigned i = 0; i < n; i++) {
		if (segs[i].seq == seq) {
			return &segs[i];
		}
	}
	return NULL;
}

/* Checks one record the reader handed out against the bytes of its file. */
static void check_record(const struct seg *segs, unsigned n, const struct cairn__wal_record *rec,
			 const struct scan *sc)
{
	const struct seg *s = seg_of(segs, n, rec->seq);
	FZ_CHECK(s != NULL, "record from segment %llu, which is not in the log",
		 (unsigned long long)rec->seq);
	FZ_CHECK(rec->offset >= CAIRN__WAL_SEG_HEADER && rec->offset % CAIRN__WAL_ALIGN == 0 &&
			 rec->offset <= s->len &&
			 s->len - rec->offset >= cairn__wal_rec_size(rec->length),
		 "record at %llu (%u bytes) in a segment of %zu bytes",
		 (unsigned long long)rec->offset, rec->length, s->len);
	FZ_CHECK(rec->length == 0 ||
			 memcmp(rec->body, s->data + rec->offset + CAIRN__WAL_REC_HEADER,
				rec->length) == 0,
		 "record body differs from the file");
	struct cairn__wal_seg_header h;
	struct cairn__wal_rec r;
	memcpy(&h, s->data, sizeof(h));
	memcpy(&r, s->data + rec->offset, sizeof(r));
	FZ_CHECK(h.magic == CAIRN__WAL_SEG_MAGIC && h.seq == rec->seq &&
			 h.header_sum ==
				 XXH3_64bits_withSeed(
					 &h, offsetof(struct cairn__wal_seg_header, header_sum), 0),
		 "record from a segment whose header does not verify");
	FZ_CHECK(r.salt == (uint32_t)h.salt &&
			 r.header_sum == XXH3_64bits_withSeed(s->data + rec->offset + 8,
							      CAIRN__WAL_REC_HEADER - 8, h.salt) &&
			 r.body_sum ==
				 XXH3_64bits_withSeed(s->data + rec->offset + CAIRN__WAL_REC_HEADER,
						      r.length, h.salt),
		 "LSN %llu handed out, but it does not verify", (unsigned long long)rec->lsn);
	FZ_CHECK(r.lsn == rec->lsn && r.kind == rec->kind && r.length == rec->length &&
			 r.header_sum == rec->header_sum,
		 "record fields differ from the file");
	if (sc->records > 0) {
		FZ_CHECK(rec->lsn == sc->last_lsn + 1 && r.prev_sum == sc->last_sum,
			 "LSN %llu after %llu (chain %016llx after %016llx)",
			 (unsigned long long)rec->lsn, (unsigned long long)sc->last_lsn,
			 (unsigned long long)r.prev_sum, (unsigned long long)sc->last_sum);
	} else {
		FZ_CHECK(rec->lsn >= 1 && (rec->lsn != 1 || r.prev_sum == 0),
			 "first record: LSN %llu with prev_sum %016llx",
			 (unsigned long long)rec->lsn, (unsigned long long)r.prev_sum);
	}
}

/* Reads the whole log in dir, checking every record; replays into rep when given. */
static void scan_log(const char *dir, const struct seg *segs, unsigned n, uint64_t from,
		     struct cairn__replica *rep, struct scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	struct cairn__wal_reader *rd;
	char why[256];
	sc->open_rc = cairn__wal_reader_open(dir, from, &rd, why, sizeof(why));
	if (sc->open_rc < 0) {
		FZ_CHECK(sc->open_rc == -ENOENT, "reader_open: %d (%s)", sc->open_rc, why);
		return;
	}
	struct cairn__wal_record rec;
	int r;
	bool replaying = rep != NULL;
	uint64_t lsn_seen = 0;
	while ((r = cairn__wal_reader_next(rd, &rec)) == 1) {
		check_record(segs, n, &rec, sc);
		FZ_CHECK(rec.lsn >= from, "LSN %llu before from_lsn %llu",
			 (unsigned long long)rec.lsn, (unsigned long long)from);
		FZ_CHECK(rec.lsn > lsn_seen, "LSN %llu after %llu", (unsigned long long)rec.lsn,
			 (unsigned long long)lsn_seen);
		lsn_seen = rec.lsn;
		sc->records++;
		sc->last_lsn = rec.lsn;
		sc->last_sum = rec.header_sum;
		if (replaying) {
			uint64_t hash = cairn__engine_hash(rep->engine);
			uint64_t lsn = rep->lsn;
			struct cairn_msg out;
			char w[320] = "";
			int a = cairn__replica_apply(rep, &rec, &out, w, sizeof(w));
			if (a == 0) {
				FZ_CHECK(rep->lsn == rec.lsn, "replica at %llu after LSN %llu",
					 (unsigned long long)rep->lsn, (unsigned long long)rec.lsn);
			} else {
				FZ_CHECK(a == -CAIRN_E_BAD_LOG || a == -ENOMEM, "replica_apply: %d",
					 a);
				FZ_CHECK(w[0] != '\0', "a refused record without a reason");
				FZ_CHECK(a != -CAIRN_E_BAD_LOG ||
						 (cairn__engine_hash(rep->engine) == hash &&
						  rep->lsn == lsn),
					 "a refused record changed the replica: %s", w);
				replaying = false; /* recovery stops at the first refusal */
			}
			fz_engine_check(rep->engine, false);
		}
	}
	FZ_CHECK(r == 0, "reader_next: %d", r);
	cairn__wal_reader_end(rd, &sc->end);
	cairn__wal_reader_resume(rd, &sc->resume);
	const struct cairn__wal_damage *e = &sc->end;
	FZ_CHECK(e->end == CAIRN__WAL_END_CLEAN || e->end == CAIRN__WAL_END_TORN ||
			 e->end == CAIRN__WAL_END_DAMAGED,
		 "end %d", e->end);
	const struct seg *es = seg_of(segs, n, e->seq);
	char name[CAIRN__WAL_NAME_MAX];
	cairn__wal_seg_name(name, e->seq);
	FZ_CHECK(es != NULL && strcmp(name, e->file) == 0 && e->offset <= es->len,
		 "the log ends in '%s' (segment %llu) at %llu", e->file, (unsigned long long)e->seq,
		 (unsigned long long)e->offset);
	FZ_CHECK(memchr(e->reason, '\0', sizeof(e->reason)) && e->reason[0],
		 "no reason for the end");
	uint64_t max_seq = 0;
	for (unsigned i = 0; i < n; i++) {
		max_seq = segs[i].seq > max_seq ? segs[i].seq : max_seq;
	}
	/*
	 * Records before from_lsn are read but not handed out: the resume position counts
	 * them, so it is only known here when from_lsn hid nothing.
	 */
	if (sc->records > 0) {
		FZ_CHECK(sc->resume.next_lsn == sc->last_lsn + 1 &&
				 sc->resume.prev_sum == sc->last_sum,
			 "resume at %llu (%016llx) after LSN %llu (%016llx)",
			 (unsigned long long)sc->resume.next_lsn,
			 (unsigned long long)sc->resume.prev_sum, (unsigned long long)sc->last_lsn,
			 (unsigned long long)sc->last_sum);
	}
	FZ_CHECK(sc->resume.next_seq == max_seq + 1, "resume in segment %llu, the last is %llu",
		 (unsigned long long)sc->resume.next_seq, (unsigned long long)max_seq);
	if (e->end == CAIRN__WAL_END_CLEAN) {
		uint64_t first;
		int dropped = cairn__wal_drop_empty_tail(rd, &first);
		FZ_CHECK(dropped >= 0, "drop_empty_tail: %d", dropped);
	}
	cairn__wal_reader_close(rd);
}

/* The segment files as they are on disk now (after a cut or a drop). */
static unsigned reload(const char *dir, const struct seg *segs, unsigned n, struct seg *now)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		char path[4200], name[CAIRN__WAL_NAME_MAX];
		cairn__wal_seg_name(name, segs[i].seq);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		FILE *f = fopen(path, "rb");
		if (!f) {
			continue;
		}
		now[k] = segs[i];
		now[k].data = malloc(segs[i].len + 1);
		FZ_SETUP(now[k].data, "out of memory");
		now[k].len = fread(now[k].data, 1, segs[i].len + 1, f);
		fclose(f);
		FZ_CHECK(now[k].len <= segs[i].len &&
				 memcmp(now[k].data, segs[i].data, now[k].len) == 0,
			 "%s changed other than by being cut short", name);
		k++;
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t flags = fz_u8(&f);
	static const uint64_t froms[4] = {0, 1, 2, 5};
	uint64_t from = froms[(flags & FROM_LSN) >> 4];
	const char *dir = fz_tmpdir();
	fz_clear_dir(dir);

	struct seg segs[MAX_SEGS];
	unsigned n = 0;
	uint64_t seq = 0, prev = 0;
	while (fz_left(&f) > 0 && n < MAX_SEGS) {
		size_t len;
		const uint8_t *p = fz_split(&f, SEP, sizeof(SEP), &len);
		if (len == 0) {
			continue;
		}
		seq += 1 + p[0] % 3;
		segs[n].seq = seq;
		segs[n].len = len - 1;
		segs[n].data = malloc(len);
		FZ_SETUP(segs[n].data, "out of memory");
		memcpy(segs[n].data, p + 1, len - 1);
		fix_segment(&segs[n], flags, &prev);
		char name[CAIRN__WAL_NAME_MAX];
		cairn__wal_seg_name(name, seq);
		fz_write_file(dir, name, segs[n].data, segs[n].len);
		n++;
	}

	struct cairn__replica rep;
	memset(&rep, 0, sizeof(rep));
	if (flags & REPLAY) {
		struct cairn__engine_config cfg;
		fz_engine_config(&cfg);
		FZ_SETUP(cairn__replica_new(&cfg, 16, 8, &rep) == 0, "replica_new");
	}
	struct scan first;
	scan_log(dir, segs, n, from, flags & REPLAY ? &rep : NULL, &first);
	cairn__replica_free(&rep);
	FZ_CHECK((first.open_rc == -ENOENT) == (n == 0), "open %d with %u segments", first.open_rc,
		 n);

	if (first.open_rc == 0) {
		/* Recovery cuts the log where it ends; what is left reads back the same. */
		struct seg now[MAX_SEGS];
		unsigned m = n;
		if (first.end.end != CAIRN__WAL_END_CLEAN) {
			int c = cairn__wal_cut(dir, &first.end);
			FZ_CHECK(c == 0, "cut at %s:%llu: %d", first.end.file,
				 (unsigned long long)first.end.offset, c);
		}
		m = reload(dir, segs, n, now);
		struct scan again;
		scan_log(dir, now, m, from, NULL, &again);
		FZ_CHECK(again.records == first.records && again.last_lsn == first.last_lsn &&
				 again.last_sum == first.last_sum,
			 "after the cut: %llu records to LSN %llu, before %llu to %llu (%s: %s)",
			 (unsigned long long)again.records, (unsigned long long)again.last_lsn,
			 (unsigned long long)first.records, (unsigned long long)first.last_lsn,
			 first.end.file, first.end.reason);
		FZ_CHECK(again.open_rc == -ENOENT || again.end.end == CAIRN__WAL_END_CLEAN,
			 "after the cut at %s:%llu (%s) the log ends %d at %s:%llu: %s",
			 first.end.file, (unsigned long long)first.end.offset, first.end.reason,
			 again.end.end, again.end.file, (unsigned long long)again.end.offset,
			 again.end.reason);
		for (unsigned i = 0; i < m; i++) {
			free(now[i].data);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		free(segs[i].data);
	}
	return 0;
}
