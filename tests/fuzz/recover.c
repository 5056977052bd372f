/*
 * Fuzz target: recovery of a whole data directory (cairn__recover, src/store/recover.c)
 * with the maps it records (cairn__data_maps_load): the newest usable snapshot of
 * several, then the log of several segments after it; read only, accepting damage
 * (truncate_at_damage), and cutting the files as the daemon does.
 *
 * Input: a flags byte, an until byte, then the files of the data directory separated by
 * SEP. Each file starts with a kind byte (modulo 4: a WAL segment, a snapshot,
 * maps/MANIFEST, a map file) and a name byte:
 *  - a segment: how far its sequence number is past the previous segment's (0 to 2: a
 *    gap is a missing segment, as in wal.c); with 0x80 it is written as
 *    wal-S.seg.discarded, a segment set aside by an earlier cut;
 *  - a snapshot: the LSN its name says (0 the header's, 1 one more, 2 one less, 3 the
 *    byte's bits 2 to 6); with 0x80 it is named .tmp, as a crashed writer leaves it;
 *  - a map file: its id (0 to 3), maps/N.map; an empty one stands for the engine kit's
 *    map of that id as cairn__map_format writes it (and cairn__data_maps_record), so
 *    that inputs need not carry the 12 KiB of the default map.
 * At most 8 segments, 3 snapshots, one MANIFEST (the first) and 4 map files are taken.
 * Checksums would stop the fuzzer at every file, so the flags can ask for them to be
 * made right first: the segment headers' (FIX_SEGMENTS); every record's salt and
 * checksums (FIX_RECORDS) and, with those, its chain link and LSN (FIX_CHAIN: one more
 * than the record before), walking the segments from offset 64 as a writer lays records
 * out; the snapshots' lengths (FIX_SNAP_LENGTHS), state hash and LSN from what their engine image
 * restores to (FIX_SNAP_STATE), chain link from the log's record at their LSN
 * (FIX_SNAP_CHAIN) and checksums (FIX_SNAP_SUMS); and the hashes in MANIFEST, from the
 * map files (FIX_MANIFEST). The replicas use the maps MANIFEST records when they load,
 * else the engine kit's. A non-zero until byte adds a read-only recovery that stops
 * there (until_lsn). The directory is fz_tmpdir's, emptied before and after every input.
 *
 * Oracles:
 *  - cairn__data_maps_load answers -ENOENT without a MANIFEST; maps it loads are
 *    recorded already (cairn__data_maps_record with them writes nothing);
 *  - every recovery answers 0 or a negative code with a reason; on success the replica
 *    is at the snapshot's LSN plus the records applied, its engine counts one change per
 *    LSN and keeps its invariants, the report is consistent (the snapshot's name, the
 *    end, no damage accepted unless asked, the resume position after the last record and
 *    past every segment file, nothing discarded or dropped without cut, until_lsn);
 *  - a read-only recovery changes no file, and gives the same answer, LSN, state hash
 *    and exactly-once table twice; with truncate_at_damage it gives the same where the
 *    plain one succeeds;
 *  - a recovery with cut (with and without truncate_at_damage) answers as the read-only
 *    one, and changes the files only as a cut may: segments cut short, renamed
 *    *.discarded or removed when empty, snapshots renamed *.discarded, none left ahead of
 *    the log; a failure for a bad log or snapshot changes nothing. After it succeeded, a
 *    read-only recovery succeeds, ends clean, and reaches the same LSN and state hash;
 *  - no descriptor is leaked.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "engine_kit.h"
#include "fuzz.h"
#include "segment_kit.h"
#include "store/recover.h"
#include "store/snapshot.h"
#include "wal/backend.h"
#include "wal/format.h"
#include "wal/wal.h"

#define FIX_SEGMENTS     0x01
#define FIX_RECORDS      0x02
#define FIX_CHAIN        0x04
#define FIX_SNAP_LENGTHS 0x08
#define FIX_SNAP_STATE   0x10
#define FIX_SNAP_CHAIN   0x20
#define FIX_SNAP_SUMS    0x40
#define FIX_MANIFEST     0x80

static const char SEP[8] = {'\n', 'D', 'A', 'T', 'A', 'D', 'I', 'R'};

enum { SEGMENT, SNAPSHOT, MANIFEST, MAP };

#define MAX_SEGS    8
#define MAX_SNAPS   3
#define MAX_MAPS    4   /* ids 0 to 3: the engine kit's maps */
#define MAX_RECORDS 256 /* the chain of the log, for the snapshots' links */
#define MAX_ENTRIES 32  /* files and directories of a data directory */

#define WINDOW   16
#define SESSIONS 8

_Static_assert(FZ_N_MAPS == MAX_MAPS, "an empty map file stands for the kit's map of its id");

/* A file of the data directory, as it is written. */
struct file {
	char path[64]; /* relative to the data directory */
	uint8_t *data;
	size_t len;
	uint8_t name;   /* the name byte */
	uint64_t seq;   /* a segment's */
	bool discarded; /* a segment written as *.discarded: not part of the log */
};

struct datadir {
	struct file segs[MAX_SEGS], snaps[MAX_SNAPS], maps[MAX_MAPS], manifest;
	unsigned n_segs, n_snaps, n_maps;
	bool has_manifest;
	/* The log's records as a writer lays them out, for FIX_SNAP_CHAIN. */
	struct {
		uint64_t lsn, sum, prev;
	} chain[MAX_RECORDS];
	unsigned n_chain;
};

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void file_set(struct file *f, const uint8_t *p, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void file_set(struct file *f, const uint8_t *p, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->path, sizeof(f->path), fmt, ap);
	va_end(ap);
	f->data = malloc(len + 1);
	FZ_SETUP(f->data, "out of memory");
	memcpy(f->data, p, len);
	f->len = len;
}

/* ---- Fix-ups ---- */

/*
 * Makes the checksums (and, asked, the chain and LSNs) of a segment's records right, in
 * place, and notes every record it walks over in d->chain.
 */
static void fix_segment(struct datadir *d, struct file *s, uint8_t flags, uint64_t *prev,
			uint64_t *lsn)
{
	struct cairn__wal_seg_header h;
	if (s->len < sizeof(h)) {
		return;
	}
	if (flags & FIX_SEGMENTS) {
		fz_fix_wal_seg_header(s->data, s->len, s->seq);
	}
	memcpy(&h, s->data, sizeof(h));
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
		if ((flags & FIX_RECORDS) && (flags & FIX_CHAIN)) {
			/* The first record keeps its LSN (a pruned log starts after 1). */
			if (*lsn != 0) {
				rec.lsn = *lsn + 1;
				rec.prev_sum = *prev;
			} else if (rec.lsn == 1) {
				rec.prev_sum = 0;
			}
		}
		if (flags & FIX_RECORDS) {
			rec.salt = (uint32_t)h.salt;
			rec.body_sum = XXH3_64bits_withSeed(s->data + off + CAIRN__WAL_REC_HEADER,
							    rec.length, h.salt);
		}
		memcpy(s->data + off, &rec, sizeof(rec));
		if (flags & FIX_RECORDS) {
			rec.header_sum = XXH3_64bits_withSeed(s->data + off + 8,
							      CAIRN__WAL_REC_HEADER - 8, h.salt);
			memcpy(s->data + off, &rec, sizeof(rec));
		}
		if (d->n_chain < MAX_RECORDS) {
			d->chain[d->n_chain].lsn = rec.lsn;
			d->chain[d->n_chain].sum = rec.header_sum;
			d->chain[d->n_chain].prev = rec.prev_sum;
			d->n_chain++;
		}
		*prev = rec.header_sum;
		*lsn = rec.lsn;
		off += size;
	}
}

/*
 * The chain link a snapshot of lsn needs: the header_sum of the log's record at lsn, or,
 * when that is not in the log, the prev_sum of the record after it. False if neither is.
 */
static bool chain_link(const struct datadir *d, uint64_t lsn, uint64_t *link)
{
	for (unsigned i = 0; i < d->n_chain; i++) {
		if (d->chain[i].lsn == lsn) {
			*link = d->chain[i].sum;
			return true;
		}
	}
	for (unsigned i = 0; i < d->n_chain; i++) {
		if (d->chain[i].lsn == lsn + 1) {
			*link = d->chain[i].prev;
			return true;
		}
	}
	return false;
}

/* Makes a snapshot's lengths, state, chain link and checksums right, as the flags ask. */
static void fix_snapshot(const struct datadir *d, struct file *f, uint8_t flags,
			 const struct cairn__engine_config *cfg)
{
	struct cairn__snap_header h;
	if (f->len < sizeof(h)) {
		return;
	}
	memcpy(&h, f->data, sizeof(h));
	uint64_t rest = f->len - sizeof(h);
	if (flags & FIX_SNAP_LENGTHS) {
		if (h.engine_len > rest) {
			h.engine_len = rest;
		}
		h.dedup_len = rest - h.engine_len;
	}
	const uint8_t *engine = f->data + sizeof(h);
	bool fits = h.engine_len <= rest && h.dedup_len == rest - h.engine_len;
	if ((flags & FIX_SNAP_STATE) && fits) {
		struct cairn__replica r;
		FZ_SETUP(cairn__replica_new(cfg, WINDOW, SESSIONS, &r) == 0, "replica_new");
		if (cairn__engine_restore(r.engine, engine, h.engine_len) == 0) {
			h.state_hash = cairn__engine_hash(r.engine);
			h.lsn = cairn__engine_applied(r.engine);
		}
		cairn__replica_free(&r);
	}
	uint64_t link;
	if ((flags & FIX_SNAP_CHAIN) && chain_link(d, h.lsn, &link)) {
		h.prev_sum = h.lsn == 0 ? 0 : link;
	}
	if ((flags & FIX_SNAP_SUMS) && fits) {
		h.engine_sum = XXH3_64bits(engine, h.engine_len);
		h.dedup_sum = XXH3_64bits(engine + h.engine_len, h.dedup_len);
		h.header_sum = XXH3_64bits(&h, offsetof(struct cairn__snap_header, header_sum));
	}
	memcpy(f->data, &h, sizeof(h));
}

/*
 * Puts the hash of the map file of each line's id into MANIFEST ("ID HASH NAME"), where
 * the line has room for one and the map file parses.
 */
static void fix_manifest(struct datadir *d)
{
	struct file *m = &d->manifest;
	size_t pos = 0;
	while (pos < m->len) {
		char *s = (char *)m->data + pos;
		char *nl = memchr(s, '\n', m->len - pos);
		size_t l = nl ? (size_t)(nl - s) : m->len - pos;
		pos += l + 1;
		unsigned id = 0, k = 0;
		while (k < l && k < 8 && s[k] >= '0' && s[k] <= '9') {
			id = id * 10 + (unsigned)(s[k] - '0');
			k++;
		}
		if (k == 0 || l < k + 1 + 16) {
			continue;
		}
		char want[16];
		snprintf(want, sizeof(want), "maps/%u.map", id);
		for (unsigned i = 0; i < d->n_maps; i++) {
			const struct file *mf = &d->maps[i];
			const char *text = (const char *)mf->data;
			struct cairn__map *map;
			struct cairn__map_error err;
			if (strcmp(mf->path, want) != 0 ||
			    cairn__map_parse(text, mf->len, "x", &map, &err) < 0) {
				continue;
			}
			char hex[17];
			snprintf(hex, sizeof(hex), "%016" PRIx64, map->hash);
			memcpy(s + k + 1, hex, 16);
			cairn__map_free(map);
		}
	}
}

/* ---- The data directory ---- */

/* Reads the input into d (unfixed). Returns the flags and sets *until. */
static uint8_t decode(const uint8_t *data, size_t size, struct datadir *d, uint64_t *until)
{
	struct fz f = fz_init(data, size);
	uint8_t flags = fz_u8(&f);
	*until = fz_u8(&f);
	uint64_t seq = 0;
	while (fz_left(&f) > 0) {
		size_t len;
		const uint8_t *p = fz_split(&f, SEP, sizeof(SEP), &len);
		if (len < 2) {
			continue;
		}
		uint8_t kind = p[0] % 4, name = p[1];
		p += 2;
		len -= 2;
		if (kind == SEGMENT && d->n_segs < MAX_SEGS) {
			struct file *s = &d->segs[d->n_segs++];
			char n[CAIRN__WAL_NAME_MAX];
			seq += 1 + (name & 0x7f) % 3;
			cairn__wal_seg_name(n, seq);
			s->seq = seq;
			s->discarded = name & 0x80;
			file_set(s, p, len, "wal/%s%s", n, s->discarded ? ".discarded" : "");
		} else if (kind == SNAPSHOT && d->n_snaps < MAX_SNAPS) {
			/* Named once the fix-ups are done: the name may follow the header. */
			struct file *s = &d->snaps[d->n_snaps++];
			s->name = name;
			file_set(s, p, len, "snapshots/");
		} else if (kind == MANIFEST && !d->has_manifest) {
			d->has_manifest = true;
			file_set(&d->manifest, p, len, "maps/MANIFEST");
		} else if (kind == MAP && d->n_maps < MAX_MAPS) {
			char *text = NULL;
			if (len == 0) {
				FZ_SETUP(cairn__map_format(fz_maps()[name & 3], &text, &len) == 0,
					 "out of memory");
				p = (const uint8_t *)text;
			}
			file_set(&d->maps[d->n_maps++], p, len, "maps/%u.map", name & 3u);
			free(text);
		}
	}
	return flags;
}

/* Names a snapshot after its header's LSN (or another, as its name byte asks). */
static void name_snapshot(struct file *f)
{
	uint8_t name = f->name;
	uint64_t lsn = 0;
	if (f->len >= sizeof(struct cairn__snap_header)) {
		memcpy(&lsn, f->data + offsetof(struct cairn__snap_header, lsn), sizeof(lsn));
	}
	switch (name & 3) {
	case 1:
		lsn++;
		break;
	case 2:
		lsn--;
		break;
	case 3:
		lsn = (name >> 2) & 31;
		break;
	}
	snprintf(f->path, sizeof(f->path), "snapshots/snap-%020" PRIu64 ".%s", lsn,
		 name & 0x80 ? "tmp" : "snap");
}

static void write_one(const char *dir, const struct file *f)
{
	char sub[4200];
	const char *slash = strchr(f->path, '/');
	snprintf(sub, sizeof(sub), "%s/%.*s", dir, (int)(slash - f->path), f->path);
	FZ_SETUP(mkdir(sub, 0700) == 0 || errno == EEXIST, "cannot make a scratch directory");
	fz_write_file(sub, slash + 1, f->data, f->len);
}

static void write_maps(const char *dir, const struct datadir *d)
{
	if (d->has_manifest) {
		write_one(dir, &d->manifest);
	}
	for (unsigned i = 0; i < d->n_maps; i++) {
		write_one(dir, &d->maps[i]);
	}
}

static void write_log_and_snapshots(const char *dir, const struct datadir *d)
{
	for (unsigned i = 0; i < d->n_segs; i++) {
		write_one(dir, &d->segs[i]);
	}
	for (unsigned i = 0; i < d->n_snaps; i++) {
		write_one(dir, &d->snaps[i]);
	}
}

static void datadir_free(struct datadir *d)
{
	for (unsigned i = 0; i < d->n_segs; i++) {
		free(d->segs[i].data);
	}
	for (unsigned i = 0; i < d->n_snaps; i++) {
		free(d->snaps[i].data);
	}
	for (unsigned i = 0; i < d->n_maps; i++) {
		free(d->maps[i].data);
	}
	free(d->manifest.data);
}

/* ---- Listings: every file and directory of a data directory, with its bytes ---- */

struct entry {
	char path[80];
	bool dir;
	uint8_t *data;
	size_t len;
};

struct listing {
	struct entry e[MAX_ENTRIES];
	unsigned n;
};

static void list_at(const char *base, const char *rel, struct listing *l)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s%s%s", base, rel[0] ? "/" : "", rel);
	DIR *dp = opendir(path);
	FZ_SETUP(dp != NULL, "cannot list a scratch directory");
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
			continue;
		}
		FZ_CHECK(l->n < MAX_ENTRIES, "more than %d files in the data directory",
			 MAX_ENTRIES);
		struct entry *e = &l->e[l->n++];
		memset(e, 0, sizeof(*e));
		int k = snprintf(e->path, sizeof(e->path), "%s%s%s", rel, rel[0] ? "/" : "",
				 de->d_name);
		FZ_CHECK(k > 0 && (size_t)k < sizeof(e->path), "a file named '%s/%s'", rel,
			 de->d_name);
		char full[4300];
		snprintf(full, sizeof(full), "%s/%s", base, e->path);
		struct stat st;
		FZ_SETUP(lstat(full, &st) == 0, "cannot stat a scratch file");
		if (S_ISDIR(st.st_mode)) {
			e->dir = true;
			list_at(base, e->path, l);
			continue;
		}
		FZ_CHECK(S_ISREG(st.st_mode), "%s is neither a file nor a directory", e->path);
		FILE *fp = fopen(full, "rb");
		FZ_SETUP(fp != NULL, "cannot open a scratch file");
		e->len = (size_t)st.st_size;
		e->data = malloc(e->len + 1);
		FZ_SETUP(e->data, "out of memory");
		FZ_SETUP(fread(e->data, 1, e->len, fp) == e->len, "cannot read a scratch file");
		fclose(fp);
	}
	closedir(dp);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

static void list(const char *dir, struct listing *l)
{
	l->n = 0;
	list_at(dir, "", l);
	qsort(l->e, l->n, sizeof(l->e[0]), by_path);
}

static void listing_free(struct listing *l)
{
	for (unsigned i = 0; i < l->n; i++) {
		free(l->e[i].data);
	}
	l->n = 0;
}

static const struct entry *find(const struct listing *l, const char *path)
{
	for (unsigned i = 0; i < l->n; i++) {
		if (strcmp(l->e[i].path, path) == 0) {
			return &l->e[i];
		}
	}
	return NULL;
}

static bool same_entry(const struct entry *a, const struct entry *b)
{
	return a->dir == b->dir && a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Checks that the directory holds exactly what l says. */
static void check_unchanged(const char *dir, const struct listing *l, const char *what)
{
	struct listing now;
	list(dir, &now);
	FZ_CHECK(now.n == l->n, "%s: %u files and directories, %u before", what, now.n, l->n);
	for (unsigned i = 0; i < l->n; i++) {
		FZ_CHECK(strcmp(now.e[i].path, l->e[i].path) == 0 &&
				 same_entry(&now.e[i], &l->e[i]),
			 "%s changed %s", what, l->e[i].path);
	}
	listing_free(&now);
}

/*
 * The sequence number of a segment file's name (wal-S.seg, and, with any_suffix,
 * wal-S.seg.discarded and the like), or 0.
 */
static uint64_t seg_seq(const char *path, bool any_suffix)
{
	const char *s = strncmp(path, "wal/wal-", 8) == 0 ? path + 8 : NULL;
	uint64_t v = 0;
	for (int i = 0; s && i < 16; i++) {
		char c = s[i];
		int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (x < 0) {
			return 0;
		}
		v = v << 4 | (uint64_t)x;
	}
	if (!s || strncmp(s + 16, ".seg", 4) != 0 || (!any_suffix && s[20] != '\0')) {
		return 0;
	}
	return v;
}

/* Whether path names a snapshot file (snapshots/snap-L.snap), and its LSN. */
static bool snap_lsn(const char *path, uint64_t *lsn)
{
	int end = 0;
	return strlen(path) == 10 + 5 + 20 + 5 &&
	       sscanf(path, "snapshots/snap-%20" SCNu64 ".snap%n", lsn, &end) == 1 && end == 40;
}

/*
 * Checks that a recovery with cut changed the files from before only as a cut may:
 * segments cut short, set aside as *.discarded or removed, snapshots set aside, nothing
 * else touched and nothing new.
 */
static void check_cut_changes(const char *dir, const struct listing *before)
{
	struct listing now;
	list(dir, &now);
	for (unsigned i = 0; i < now.n; i++) {
		const struct entry *e = &now.e[i];
		const struct entry *was = find(before, e->path);
		if (was && same_entry(e, was)) {
			continue;
		}
		if (was && seg_seq(e->path, false) && !e->dir && e->len < was->len &&
		    memcmp(e->data, was->data, e->len) == 0) {
			continue; /* cut short */
		}
		size_t l = strlen(e->path);
		char base[80];
		const char *suffix = ".discarded";
		if (l > strlen(suffix) && strcmp(e->path + l - strlen(suffix), suffix) == 0) {
			snprintf(base, sizeof(base), "%.*s", (int)(l - strlen(suffix)), e->path);
			const struct entry *orig = find(before, base);
			uint64_t lsn;
			if (orig && (seg_seq(base, false) || snap_lsn(base, &lsn)) &&
			    same_entry(e, orig) && !find(&now, base)) {
				continue; /* set aside */
			}
		}
		FZ_CHECK(false, "the cut changed %s other than a cut may (%zu bytes, %s)", e->path,
			 e->len, was ? "was there" : "new");
	}
	/* Gone: segments set aside or removed (empty ones), snapshots only set aside. */
	for (unsigned i = 0; i < before->n; i++) {
		const struct entry *e = &before->e[i];
		uint64_t lsn;
		char aside[96];
		snprintf(aside, sizeof(aside), "%s.discarded", e->path);
		FZ_CHECK(find(&now, e->path) || seg_seq(e->path, false) ||
				 (snap_lsn(e->path, &lsn) && find(&now, aside)),
			 "the cut removed %s", e->path);
	}
	listing_free(&now);
}

/* ---- Recovery ---- */

/* What a recovery gave: enough to compare two. */
struct outcome {
	int rc;
	char why[512];
	struct cairn__recover_report rep;
	uint64_t lsn, prev_sum, hash;
	uint8_t *dedup;
	size_t dedup_len;
};

static void outcome_free(struct outcome *o)
{
	free(o->dedup);
	o->dedup = NULL;
}

/* Checks the resume position against the segment files in the directory. */
static void check_next_seq(const char *dir, const struct outcome *o, bool cut)
{
	struct listing now;
	list(dir, &now);
	for (unsigned i = 0; i < now.n; i++) {
		/* After a cut past every segment file (set aside too), else past the log's. */
		uint64_t seq = seg_seq(now.e[i].path, cut);
		FZ_CHECK(seq < o->rep.resume.next_seq,
			 "a writer would continue in segment %llu, but %s is there (%s)",
			 (unsigned long long)o->rep.resume.next_seq, now.e[i].path,
			 cut ? "cut" : "read only");
	}
	listing_free(&now);
}

static void run(const char *dir, const struct cairn__engine_config *cfg, bool cut, bool tad,
		uint64_t until, struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	struct cairn__replica r;
	FZ_SETUP(cairn__replica_new(cfg, WINDOW, SESSIONS, &r) == 0, "replica_new");
	struct cairn__recover_options opts = {
		.until_lsn = until, .cut = cut, .truncate_at_damage = tad};
	o->rc = cairn__recover(dir, &r, &opts, &o->rep, o->why, sizeof(o->why));
	const struct cairn__recover_report *rep = &o->rep;
	if (o->rc < 0) {
		FZ_CHECK(o->why[0] != '\0' && memchr(o->why, '\0', sizeof(o->why)),
			 "recovery failed (%d) without a reason", o->rc);
		cairn__replica_free(&r);
		return;
	}
	FZ_CHECK(o->rc == 0, "recover: %d", o->rc);
	o->lsn = r.lsn;
	o->prev_sum = r.prev_sum;
	o->hash = cairn__engine_hash(r.engine);
	FZ_SETUP(cairn__dedup_save(r.dedup, &o->dedup, &o->dedup_len) == 0, "out of memory");
	FZ_CHECK(r.lsn == rep->snapshot_lsn + rep->records && r.records == rep->records,
		 "replica at LSN %llu after %llu records from the snapshot of %llu",
		 (unsigned long long)r.lsn, (unsigned long long)rep->records,
		 (unsigned long long)rep->snapshot_lsn);
	FZ_CHECK(cairn__engine_applied(r.engine) == r.lsn,
		 "the engine counts %llu changes at LSN %llu",
		 (unsigned long long)cairn__engine_applied(r.engine), (unsigned long long)r.lsn);
	fz_engine_check(r.engine, false);
	char name[64];
	snprintf(name, sizeof(name), "snap-%020" PRIu64 ".snap", rep->snapshot_lsn);
	FZ_CHECK(rep->snapshot_file[0] == '\0' ? rep->snapshot_lsn == 0
					       : strcmp(rep->snapshot_file, name) == 0,
		 "started from '%s', the snapshot of %llu", rep->snapshot_file,
		 (unsigned long long)rep->snapshot_lsn);
	FZ_CHECK(rep->snapshots_skipped == 0 || rep->skipped_why[0] != '\0',
		 "%u snapshots skipped without a reason", rep->snapshots_skipped);
	FZ_CHECK(cut || (rep->snapshots_discarded == 0 && rep->empty_segments_dropped == 0),
		 "a read-only recovery discarded %u snapshots and dropped %u segments",
		 rep->snapshots_discarded, rep->empty_segments_dropped);
	FZ_CHECK(!until || r.lsn <= until, "recovered to %llu, past until_lsn %llu",
		 (unsigned long long)r.lsn, (unsigned long long)until);
	if (rep->until_reached) {
		FZ_CHECK(until && r.lsn == until && rep->end.end == CAIRN__WAL_END_CLEAN &&
				 rep->resume.next_lsn == 0 && rep->resume.next_seq == 0,
			 "until_lsn %llu reached at %llu, end %d, resume at %llu",
			 (unsigned long long)until, (unsigned long long)r.lsn, rep->end.end,
			 (unsigned long long)rep->resume.next_lsn);
	} else {
		FZ_CHECK(rep->end.end == CAIRN__WAL_END_CLEAN ||
				 rep->end.end == CAIRN__WAL_END_TORN ||
				 (tad && rep->end.end == CAIRN__WAL_END_DAMAGED),
			 "the log ends %d (%s)", rep->end.end, tad ? "damage accepted" : "strict");
		char seg[CAIRN__WAL_NAME_MAX];
		cairn__wal_seg_name(seg, rep->end.seq);
		FZ_CHECK(rep->end.end == CAIRN__WAL_END_CLEAN || strcmp(seg, rep->end.file) == 0,
			 "the log ends in '%s', segment %llu", rep->end.file,
			 (unsigned long long)rep->end.seq);
		FZ_CHECK(rep->resume.next_lsn == r.lsn + 1 && rep->resume.prev_sum == r.prev_sum,
			 "resume at %llu (%016llx) after LSN %llu (%016llx)",
			 (unsigned long long)rep->resume.next_lsn,
			 (unsigned long long)rep->resume.prev_sum, (unsigned long long)r.lsn,
			 (unsigned long long)r.prev_sum);
		check_next_seq(dir, o, cut);
	}
	if (cut) {
		/* After a cut no snapshot is ahead of the log. */
		struct listing now;
		list(dir, &now);
		for (unsigned i = 0; i < now.n; i++) {
			uint64_t l;
			FZ_CHECK(!snap_lsn(now.e[i].path, &l) || l <= r.lsn,
				 "%s is left in place after a cut at LSN %llu", now.e[i].path,
				 (unsigned long long)r.lsn);
		}
		listing_free(&now);
	}
	cairn__replica_free(&r);
}

/* Checks that two recoveries answered the same; strict: from the same files. */
static void check_same(const struct outcome *a, const struct outcome *b, bool strict,
		       const char *what)
{
	if (strict) {
		FZ_CHECK(a->rc == b->rc, "%s: %d (%s), then %d (%s)", what, a->rc, a->why, b->rc,
			 b->why);
	}
	if (a->rc < 0 || b->rc < 0) {
		return;
	}
	FZ_CHECK(a->lsn == b->lsn && a->hash == b->hash,
		 "%s: LSN %llu with hash %016llx, then %llu with %016llx", what,
		 (unsigned long long)a->lsn, (unsigned long long)a->hash,
		 (unsigned long long)b->lsn, (unsigned long long)b->hash);
	if (strict || a->rep.snapshot_lsn == b->rep.snapshot_lsn) {
		FZ_CHECK(a->dedup_len == b->dedup_len &&
				 memcmp(a->dedup, b->dedup, a->dedup_len) == 0 &&
				 a->prev_sum == b->prev_sum,
			 "%s: the same LSN with another exactly-once table or chain", what);
	}
	if (strict) {
		const struct cairn__recover_report *x = &a->rep, *y = &b->rep;
		FZ_CHECK(x->snapshot_lsn == y->snapshot_lsn && x->records == y->records &&
				 x->end.end == y->end.end && x->end.seq == y->end.seq &&
				 x->end.offset == y->end.offset,
			 "%s: from the snapshot of %llu with %llu records to an end %d at "
			 "%llu:%llu, then %llu, %llu, %d at %llu:%llu",
			 what, (unsigned long long)x->snapshot_lsn, (unsigned long long)x->records,
			 x->end.end, (unsigned long long)x->end.seq,
			 (unsigned long long)x->end.offset, (unsigned long long)y->snapshot_lsn,
			 (unsigned long long)y->records, y->end.end, (unsigned long long)y->end.seq,
			 (unsigned long long)y->end.offset);
	}
}

/*
 * A recovery with cut (and tad) from the files in before, answering as the read-only
 * one did (plain); after it, the directory recovers read only and clean to the same.
 */
static void cut_and_again(const char *dir, const struct cairn__engine_config *cfg, bool tad,
			  const struct listing *before, const struct outcome *plain)
{
	struct outcome cut, again;
	run(dir, cfg, true, tad, 0, &cut);
	check_same(plain, &cut, true,
		   tad ? "read only, then cut at damage" : "read only, then cut");
	if (cut.rc < 0) {
		if (cut.rc == -CAIRN_E_BAD_LOG || cut.rc == -CAIRN_E_BAD_SNAPSHOT) {
			check_unchanged(dir, before, "a refused recovery with cut");
		}
		outcome_free(&cut);
		return;
	}
	check_cut_changes(dir, before);
	struct listing after;
	list(dir, &after);
	run(dir, cfg, false, false, 0, &again);
	FZ_CHECK(again.rc == 0,
		 "after a recovery with cut (%s), the directory does not recover: %s",
		 tad ? "damage accepted" : "strict", again.why);
	FZ_CHECK(again.rep.end.end == CAIRN__WAL_END_CLEAN,
		 "after a recovery with cut, the log ends %d at %s:%llu: %s", again.rep.end.end,
		 again.rep.end.file, (unsigned long long)again.rep.end.offset,
		 again.rep.end.reason);
	check_same(&cut, &again, false, "cut, then read only");
	check_unchanged(dir, &after, "a read-only recovery after a cut");
	listing_free(&after);
	outcome_free(&cut);
	outcome_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds_before = fz_open_fds();
	const char *dir = fz_tmpdir();
	fz_clear_dir(dir);
	struct datadir *d = calloc(1, sizeof(*d));
	FZ_SETUP(d, "out of memory");
	uint64_t until;
	uint8_t flags = decode(data, size, d, &until);

	/* The maps first: the snapshots' fix-ups restore engine images with them. */
	if ((flags & FIX_MANIFEST) && d->has_manifest) {
		fix_manifest(d);
	}
	write_maps(dir, d);
	struct cairn__map **maps = NULL;
	uint32_t n_maps = 0;
	char why[512] = "";
	int rc = cairn__data_maps_load(dir, &maps, &n_maps, why, sizeof(why));
	FZ_CHECK(rc <= 0 && (rc == 0 || why[0] != '\0'), "data_maps_load: %d without a reason", rc);
	FZ_CHECK(d->has_manifest || rc == -ENOENT, "data_maps_load without a MANIFEST: %d (%s)", rc,
		 why);
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	if (rc == 0) {
		for (uint32_t i = 0; i < n_maps; i++) {
			FZ_CHECK(maps[i] != NULL, "map %u of %u not loaded", i, n_maps);
		}
		struct listing l;
		list(dir, &l);
		rc = cairn__data_maps_record(dir, (const struct cairn__map *const *)maps, n_maps,
					     why, sizeof(why));
		FZ_CHECK(rc == 0, "the maps just loaded cannot be recorded: %s", why);
		check_unchanged(dir, &l, "recording the maps the directory records");
		listing_free(&l);
		/* The loaded maps, if an engine takes them. */
		struct cairn__engine_config mine = cfg;
		mine.maps = (const struct cairn__map *const *)maps;
		mine.n_maps = n_maps;
		struct cairn__replica probe;
		if (cairn__replica_new(&mine, WINDOW, SESSIONS, &probe) == 0) {
			cfg = mine;
			cairn__replica_free(&probe);
		}
	}

	uint64_t prev = 0, lsn = 0;
	for (unsigned i = 0; i < d->n_segs; i++) {
		if (!d->segs[i].discarded) {
			fix_segment(d, &d->segs[i], flags, &prev, &lsn);
		}
	}
	for (unsigned i = 0; i < d->n_snaps; i++) {
		fix_snapshot(d, &d->snaps[i], flags, &cfg);
		name_snapshot(&d->snaps[i]);
	}
	write_log_and_snapshots(dir, d);

	struct listing before;
	list(dir, &before);
	struct outcome plain, twice, tad;
	run(dir, &cfg, false, false, 0, &plain);
	check_unchanged(dir, &before, "a read-only recovery");
	run(dir, &cfg, false, false, 0, &twice);
	check_same(&plain, &twice, true, "read only twice");
	if (plain.rc == 0) {
		FZ_CHECK(strcmp(plain.rep.end.reason, twice.rep.end.reason) == 0,
			 "read only twice: ends '%s', then '%s'", plain.rep.end.reason,
			 twice.rep.end.reason);
	}
	run(dir, &cfg, false, true, 0, &tad);
	check_unchanged(dir, &before, "a read-only recovery accepting damage");
	if (plain.rc == 0) {
		check_same(&plain, &tad, true, "read only, then accepting damage");
	}
	if (until) {
		struct outcome u;
		run(dir, &cfg, false, false, until, &u);
		check_unchanged(dir, &before, "a read-only recovery to until_lsn");
		outcome_free(&u);
	}

	cut_and_again(dir, &cfg, false, &before, &plain);
	/* Again from the same files, accepting damage. */
	fz_clear_dir(dir);
	write_maps(dir, d);
	write_log_and_snapshots(dir, d);
	check_unchanged(dir, &before, "the directory written again");
	cut_and_again(dir, &cfg, true, &before, &tad);

	listing_free(&before);
	outcome_free(&plain);
	outcome_free(&twice);
	outcome_free(&tad);
	cairn__data_maps_free(maps, n_maps);
	datadir_free(d);
	free(d);
	fz_clear_dir(dir);
	FZ_CHECK(fz_open_fds() == fds_before, "%d descriptors open after the recoveries, %d before",
		 fz_open_fds(), fds_before);
	return 0;
}
