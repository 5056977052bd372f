/*
 * The reader (recovery, replay, verification), cut and prune.
 *
 * Segments are mapped read-only one at a time, in sequence order, and every record is
 * verified: header checksum, salt, length, LSN (+1), the prev_sum chain (across
 * segments too) and the body checksum. Nothing is ever written through the reader.
 *
 * Where the log ends. The records of a segment end at the first record that does not
 * verify (normally the zeros of the preallocated tail); call that point the stop, and
 * E the LSN expected there. Then:
 *
 *   1. If a later segment's first record verifies and continues the chain (LSN E, and
 *      prev_sum the header_sum of the last record read), reading goes on there: nothing
 *      is missing. Segments in between (made ahead by a writer that then crashed) and
 *      what follows the stop are not looked at.
 *   2. Otherwise the log ends at the stop, and what lies after it -- the rest of the
 *      stop's segment and the record area of every later segment -- is scanned at each
 *      8-byte aligned offset (zero words and, where the filesystem says so, holes are
 *      skipped fast) for record headers that verify (header checksum and salt of their
 *      segment):
 *        - none, and only zeros: END_CLEAN;
 *        - none, but some non-zero bytes (a torn write): END_TORN;
 *        - some, but all of the write batch that E belongs to (lsn > E and
 *          lsn - batch_index <= E: the batch began at or before E), because a batch's
 *          pages may reach the disk in any order: END_TORN;
 *        - any other (a later batch: one that was written only after the batch holding
 *          E was durable, so E was on disk once and is now damaged; or a record claiming
 *          LSN E that is not the one expected): END_DAMAGED;
 *        - a later segment whose header does not verify: END_DAMAGED.
 *      A segment whose own header does not verify ends the log there: END_DAMAGED.
 *
 * The end is reported where the damage starts: at the stop, or, when everything from
 * the stop to the end of its segment is zeros, at the record area (offset 64) of the
 * first later segment holding something (a segment missing from the middle shows up
 * as "broken chain" there). A clean end is reported at the stop. cairn__wal_cut at the
 * reported place removes exactly what the scan did not accept.
 *
 * The first record read is taken as given (a log whose older segments were pruned, or
 * a copied excerpt, starts at some LSN > 1 with the prev_sum of a record not here);
 * only a first record with LSN 1 must have prev_sum 0. Until a record has been read, E
 * is unknown (reported as 0): a leading segment with zeros where its first record
 * belongs is skipped, and after anything else the same-batch test is "all verified
 * headers share one batch start".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "wal/backend.h"
#include "wal/wal.h"

#define REC_HDR CAIRN__WAL_REC_HEADER
#define SEG_HDR CAIRN__WAL_SEG_HEADER

struct seg_file {
	uint64_t seq;
	uint64_t size;
};

/* One mapped segment. */
struct seg_map {
	int fd;
	const uint8_t *base;
	uint64_t size;
	uint64_t seq;
	uint64_t salt;
};

struct cairn__wal_reader {
	int dirfd;
	struct seg_file *segs;
	size_t nsegs;
	size_t idx; /* segs[idx] is the one mapped (or to map) */
	struct seg_map m;
	uint64_t off; /* next record in m */
	uint64_t from_lsn;
	bool started;    /* a record verified: expect and prev hold */
	uint64_t expect; /* LSN of the next record */
	uint64_t prev;   /* header_sum of the last record */
	bool ended;
	struct cairn__wal_damage end;
	uint64_t done_before; /* bytes of segs[0..idx) */
	uint64_t total;
};

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static bool parse_seg_name(const char *name, uint64_t *seq)
{
	if (strlen(name) != 4 + 16 + 4 || strncmp(name, "wal-", 4) != 0 ||
	    strcmp(name + 20, ".seg") != 0) {
		return false;
	}
	uint64_t v = 0;
	for (int i = 4; i < 20; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0) {
			return false;
		}
		v = v << 4 | (uint64_t)d;
	}
	*seq = v;
	return v != 0;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct seg_file *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The segment files of dirfd, sorted by sequence number. */
static int list_segments(int dirfd, struct seg_file **out, size_t *n)
{
	int fd = dup(dirfd);
	if (fd < 0) {
		return -errno;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		int err = -errno;
		close(fd);
		return err;
	}
	struct seg_file *v = NULL;
	size_t len = 0, cap = 0;
	struct dirent *e;
	int err = 0;
	while ((e = readdir(d)) != NULL) {
		uint64_t seq;
		if (!parse_seg_name(e->d_name, &seq)) {
			continue;
		}
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode)) {
			continue;
		}
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			struct seg_file *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[len].seq = seq;
		v[len].size = (uint64_t)st.st_size;
		len++;
	}
	closedir(d);
	if (err < 0) {
		free(v);
		return err;
	}
	if (len > 1) {
		qsort(v, len, sizeof(*v), cmp_seg);
	}
	*out = v;
	*n = len;
	return 0;
}

static void unmap_segment(struct seg_map *m)
{
	if (m->base) {
		munmap((void *)m->base, m->size);
	}
	if (m->fd >= 0) {
		close(m->fd);
	}
	m->base = NULL;
	m->fd = -1;
}

/*
 * Maps segment seq and checks its header. Returns 0, 1 when the header does not verify
 * (reason says why; nothing stays mapped), or -errno.
 */
static int map_segment(int dirfd, uint64_t seq, struct seg_map *m, char *reason, size_t rlen)
{
	char name[CAIRN__WAL_NAME_MAX];
	cairn__wal_seg_name(name, seq);
	m->fd = -1;
	m->base = NULL;
	m->seq = seq;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (st.st_size < SEG_HDR) {
		snprintf(reason, rlen, "segment header is cut short: the file has %lld bytes",
			 (long long)st.st_size);
		close(fd);
		return 1;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;
		close(fd);
		return err;
	}
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	m->fd = fd;
	m->base = p;
	m->size = (uint64_t)st.st_size;

	struct cairn__wal_seg_header h;
	memcpy(&h, p, sizeof(h));
	const char *bad = NULL;
	char buf[96];
	if (h.magic != CAIRN__WAL_SEG_MAGIC) {
		bad = "not a WAL segment (bad magic)";
	} else if (h.header_sum !=
		   XXH3_64bits_withSeed(&h, offsetof(struct cairn__wal_seg_header, header_sum),
					0)) {
		bad = "segment header checksum mismatch";
	} else if (h.version != CAIRN__WAL_VERSION || h.header_size != SEG_HDR) {
		snprintf(buf, sizeof(buf),
			 "segment format version %" PRIu32
			 " is not supported (this build reads %d)",
			 h.version, CAIRN__WAL_VERSION);
		bad = buf;
	} else if (h.seq != seq) {
		snprintf(buf, sizeof(buf), "segment header says it is segment %" PRIu64, h.seq);
		bad = buf;
	}
	if (bad) {
		snprintf(reason, rlen, "%s", bad);
		unmap_segment(m);
		return 1;
	}
	m->salt = h.salt;
	return 0;
}

static bool header_verifies(const uint8_t *p, uint64_t salt)
{
	const struct cairn__wal_rec *h = (const struct cairn__wal_rec *)p;
	return h->salt == (uint32_t)salt &&
	       h->header_sum == XXH3_64bits_withSeed(p + 8, REC_HDR - 8, salt);
}

/*
 * Whether the record continues the chain. LSN 2^64 - 1 never does: the LSN expected
 * after it would wrap to 0, and a record claiming 0 would then continue the chain.
 */
static bool chain_ok(const struct cairn__wal_reader *r, const struct cairn__wal_rec *h)
{
	if (h->lsn == UINT64_MAX) {
		return false;
	}
	if (r->started) {
		return h->lsn == r->expect && h->prev_sum == r->prev;
	}
	return h->lsn >= 1 && (h->lsn != 1 || h->prev_sum == 0);
}

/* True if the record at off verifies completely and continues the chain. */
static bool record_ok(const struct cairn__wal_reader *r, const struct seg_map *m, uint64_t off)
{
	/*
	 * m is mapped (map_segment returned 0). Clang 14's analyzer does not know that
	 * errno is positive after a failed call, and takes map_segment's -errno for 0.
	 */
	/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (m->size - off < REC_HDR) {
		return false;
	}
	const uint8_t *p = m->base + off;
	const struct cairn__wal_rec *h = (const struct cairn__wal_rec *)p;
	return h->length <= CAIRN__WAL_MAX_BODY &&
	       cairn__wal_rec_size(h->length) <= m->size - off && header_verifies(p, m->salt) &&
	       chain_ok(r, h) &&
	       h->body_sum == XXH3_64bits_withSeed(p + REC_HDR, h->length, m->salt);
}

/* Says why the record at off of m does not verify as the next one ("" for zeros). */
static void describe(const struct cairn__wal_reader *r, const struct seg_map *m, uint64_t off,
		     char *buf, size_t len)
{
	uint64_t room = m->size - off;
	const uint8_t *p = m->base + off;
	bool zero = true;
	for (uint64_t i = 0; i < room && i < REC_HDR; i++) {
		zero &= p[i] == 0;
	}
	if (zero) {
		snprintf(buf, len, "%s",
			 room < REC_HDR ? "end of segment" : "zeros where a record belongs");
		return;
	}
	if (room < REC_HDR) {
		snprintf(buf, len, "segment ends inside a record header");
		return;
	}
	const struct cairn__wal_rec *h = (const struct cairn__wal_rec *)p;
	if (!header_verifies(p, m->salt)) {
		snprintf(buf, len, "record header checksum mismatch");
	} else if (h->length > CAIRN__WAL_MAX_BODY || cairn__wal_rec_size(h->length) > room) {
		snprintf(buf, len,
			 "record body of %" PRIu32 " bytes runs past the end of the segment",
			 h->length);
	} else if (r->started && h->lsn != r->expect) {
		snprintf(buf, len, "broken chain: LSN %" PRIu64 " where %" PRIu64 " was expected",
			 h->lsn, r->expect);
	} else if (!chain_ok(r, h)) {
		snprintf(buf, len, "prev_sum does not match the record before (broken chain)");
	} else if (h->body_sum != XXH3_64bits_withSeed(p + REC_HDR, h->length, m->salt)) {
		snprintf(buf, len, "body checksum mismatch");
	} else {
		snprintf(buf, len, "record LSN %" PRIu64 " follows damage", h->lsn);
	}
}

/* What lies after the stop (see the top of the file). */
struct leftovers {
	bool started;
	uint64_t expect, prev;
	bool have_start;
	uint64_t start; /* batch start shared by every verified header, when !started */
	bool nonzero;   /* the first non-zero thing: where, and what */
	uint64_t nz_seq, nz_off;
	char nz_what[96];
	bool foreign; /* a verified header from another batch: where, and its LSN */
	uint64_t f_seq, f_off, f_lsn;
};

static bool same_batch(struct leftovers *l, const struct cairn__wal_rec *h)
{
	if (h->batch_index >= h->lsn) {
		return false;
	}
	uint64_t start = h->lsn - h->batch_index;
	if (l->started) {
		return (h->lsn == l->expect && h->prev_sum == l->prev) ||
		       (h->lsn > l->expect && start <= l->expect);
	}
	if (!l->have_start) {
		l->have_start = true;
		l->start = start;
	}
	return start == l->start;
}

/*
 * Scans m[p, end) for non-zero words and verified record headers. Returns where it
 * stopped (end, or a foreign header).
 */
static uint64_t scan_words(const struct cairn__wal_reader *r, const struct seg_map *m, uint64_t p,
			   uint64_t end, uint64_t rec_off, struct leftovers *l)
{
	const uint8_t *b = m->base;
	while (p < end) {
		if (end - p >= 64) {
			uint64_t acc = 0;
			for (int i = 0; i < 8; i++) {
				acc |= load64(b + p + 8 * i);
			}
			if (acc == 0) {
				p += 64;
				continue;
			}
		}
		bool nz;
		if (end - p < 8) {
			nz = false;
			for (uint64_t i = p; i < end; i++) {
				nz |= b[i] != 0;
			}
		} else {
			nz = load64(b + p) != 0;
		}
		if (!nz) {
			p += 8;
			continue;
		}
		if (!l->nonzero) {
			l->nonzero = true;
			l->nz_seq = m->seq;
			l->nz_off = rec_off;
			describe(r, m, rec_off, l->nz_what, sizeof(l->nz_what));
		}
		if (m->size - p >= REC_HDR && header_verifies(b + p, m->salt)) {
			const struct cairn__wal_rec *h = (const struct cairn__wal_rec *)(b + p);
			if (!same_batch(l, h)) {
				l->foreign = true;
				l->f_seq = m->seq;
				l->f_off = p;
				l->f_lsn = h->lsn;
				return p;
			}
			uint64_t size = cairn__wal_rec_size(h->length);
			if (h->length <= CAIRN__WAL_MAX_BODY && size <= m->size - p) {
				p += size;
				continue;
			}
		}
		p += 8;
	}
	return p;
}

/*
 * Scans segment m from `from` to its end, skipping what the filesystem reports as holes
 * (a preallocated tail never written reads as zeros and is reported as a hole by ext4
 * and xfs, so a mostly empty 64 MiB segment costs a few lseeks, not 64 MiB of reads).
 * rec_off is where its records begin or the stop: where damage found here is reported.
 */
static void scan_segment(const struct cairn__wal_reader *r, const struct seg_map *m, uint64_t from,
			 uint64_t rec_off, struct leftovers *l)
{
	uint64_t pos = from;
	/* m is mapped: see record_ok on map_segment's -errno. */
	/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	while (pos < m->size && !l->foreign) {
		uint64_t end = m->size;
		off_t d = lseek(m->fd, (off_t)pos, SEEK_DATA);
		if (d < 0) {
			if (errno == ENXIO) {
				break; /* nothing but holes after pos */
			}
		} else {
			if ((uint64_t)d >= m->size) {
				break;
			}
			off_t h = lseek(m->fd, d, SEEK_HOLE);
			if (h > d && (uint64_t)h < m->size) {
				end = (uint64_t)h;
			}
			if ((uint64_t)d > pos) {
				pos = (uint64_t)d & ~(uint64_t)(CAIRN__WAL_ALIGN - 1);
			}
		}
		uint64_t p = scan_words(r, m, pos, end, rec_off, l);
		pos = p > end ? p : end;
	}
}

static void set_end(struct cairn__wal_reader *r, enum cairn__wal_end end, uint64_t seq,
		    uint64_t off, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_end(struct cairn__wal_reader *r, enum cairn__wal_end end, uint64_t seq,
		    uint64_t off, const char *fmt, ...)
{
	struct cairn__wal_damage *d = &r->end;
	d->end = end;
	d->seq = seq;
	cairn__wal_seg_name(d->file, seq);
	d->offset = off;
	d->lsn = r->started ? r->expect : 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	r->ended = true;
}

static void switch_to(struct cairn__wal_reader *r, size_t idx, struct seg_map *m)
{
	unmap_segment(&r->m);
	for (size_t i = r->idx; i < idx; i++) {
		r->done_before += r->segs[i].size;
	}
	r->idx = idx;
	r->m = *m;
	r->off = SEG_HDR;
}

/*
 * The records of the current segment stopped at r->off: go on in a later segment or
 * end the log (the rules at the top of the file). Returns 0 or -errno.
 */
static int stop(struct cairn__wal_reader *r)
{
	const struct seg_map *cur = &r->m;
	bool zero_stop = true;
	for (uint64_t i = r->off; i < cur->size && i < r->off + REC_HDR; i++) {
		zero_stop &= cur->base[i] == 0;
	}

	/* 1. A later segment that continues the chain. */
	size_t bad = r->nsegs;
	char bad_reason[96] = "";
	for (size_t j = r->idx + 1; j < r->nsegs; j++) {
		struct seg_map t;
		int e = map_segment(r->dirfd, r->segs[j].seq, &t, bad_reason, sizeof(bad_reason));
		if (e == -ENOENT) {
			/* Gone since the listing: the segment a writer made ahead, deleted by
			 * its close. It held no record. */
			continue;
		}
		if (e < 0) {
			return e;
		}
		if (e > 0) {
			bad = j;
			break;
		}
		if ((r->started || zero_stop) && record_ok(r, &t, SEG_HDR)) {
			switch_to(r, j, &t);
			return 0;
		}
		unmap_segment(&t);
	}

	/* 2. The log ends here: what follows decides how. */
	struct leftovers l = {.started = r->started, .expect = r->expect, .prev = r->prev};
	scan_segment(r, cur, r->off, r->off, &l);
	for (size_t j = r->idx + 1; j < bad && !l.foreign; j++) {
		struct seg_map t;
		char why[96];
		int e = map_segment(r->dirfd, r->segs[j].seq, &t, why, sizeof(why));
		if (e == -ENOENT) {
			continue;
		}
		if (e < 0) {
			return e;
		}
		if (e == 0) {
			scan_segment(r, &t, SEG_HDR, SEG_HDR, &l);
			unmap_segment(&t);
		}
	}

	char fname[CAIRN__WAL_NAME_MAX];
	if (!l.nonzero && !l.foreign && bad == r->nsegs) {
		set_end(r, CAIRN__WAL_END_CLEAN, cur->seq, r->off, "end of the log");
		return 0;
	}
	if (!l.nonzero) {
		/* Only zeros, then a segment whose header does not verify. */
		set_end(r, CAIRN__WAL_END_DAMAGED, r->segs[bad].seq, 0, "%s", bad_reason);
		return 0;
	}
	if (!l.foreign && bad == r->nsegs) {
		set_end(r, CAIRN__WAL_END_TORN, l.nz_seq, l.nz_off,
			"torn write: %s, followed by nothing but its own write batch", l.nz_what);
		return 0;
	}
	if (record_ok(r, cur, r->off)) {
		/*
		 * A writer appending while we read: the record was being written when we
		 * looked, and its batch was durable and followed by another before we got
		 * this far. It is whole now: go on reading.
		 */
		return 0;
	}
	if (l.foreign && l.f_seq == l.nz_seq && l.f_off == l.nz_off) {
		/* The damage is the record from another batch itself (a broken chain). */
		set_end(r, CAIRN__WAL_END_DAMAGED, l.nz_seq, l.nz_off, "%s", l.nz_what);
	} else if (l.foreign) {
		cairn__wal_seg_name(fname, l.f_seq);
		set_end(r, CAIRN__WAL_END_DAMAGED, l.nz_seq, l.nz_off,
			"%s; a later write batch follows (LSN %" PRIu64 " in %s at offset %" PRIu64
			")",
			l.nz_what, l.f_lsn, fname, l.f_off);
	} else {
		cairn__wal_seg_name(fname, r->segs[bad].seq);
		set_end(r, CAIRN__WAL_END_DAMAGED, l.nz_seq, l.nz_off, "%s; then %s: %s", l.nz_what,
			fname, bad_reason);
	}
	return 0;
}

int cairn__wal_reader_open(const char *dir, uint64_t from_lsn, struct cairn__wal_reader **out,
			   char *why, size_t whylen)
{
	char whybuf[8];
	if (!why || whylen == 0) {
		why = whybuf;
		whylen = sizeof(whybuf);
	}
	why[0] = '\0';
	*out = NULL;
	struct cairn__wal_reader *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	r->m.fd = -1;
	r->from_lsn = from_lsn ? from_lsn : 1;
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0) {
		int err = -errno;
		snprintf(why, whylen, "cannot open the log directory %s: %s", dir, strerror(errno));
		free(r);
		return err;
	}
	int err = list_segments(r->dirfd, &r->segs, &r->nsegs);
	if (err < 0) {
		snprintf(why, whylen, "cannot list the log directory %s: %s", dir, strerror(-err));
		cairn__wal_reader_close(r);
		return err;
	}
	if (r->nsegs == 0) {
		snprintf(why, whylen, "no segment files (wal-*.seg) in %s", dir);
		cairn__wal_reader_close(r);
		return -ENOENT;
	}
	for (size_t i = 0; i < r->nsegs; i++) {
		r->total += r->segs[i].size;
	}
	*out = r;
	return 0;
}

int cairn__wal_reader_next(struct cairn__wal_reader *r, struct cairn__wal_record *rec)
{
	for (;;) {
		if (r->ended) {
			return 0;
		}
		if (!r->m.base) {
			char reason[96];
			int e = map_segment(r->dirfd, r->segs[r->idx].seq, &r->m, reason,
					    sizeof(reason));
			if (e < 0) {
				return e;
			}
			if (e > 0) {
				set_end(r, CAIRN__WAL_END_DAMAGED, r->segs[r->idx].seq, 0, "%s",
					reason);
				return 0;
			}
			r->off = SEG_HDR;
		}
		/* The hot path: every check of record_ok, inline, header first. */
		const struct seg_map *m = &r->m;
		uint64_t off = r->off;
		if (m->size - off >= REC_HDR) {
			const uint8_t *p = m->base + off;
			const struct cairn__wal_rec *h = (const struct cairn__wal_rec *)p;
			/* m is mapped: see record_ok on map_segment's -errno. */
			/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
			uint64_t size = cairn__wal_rec_size(h->length);
			if (h->salt == (uint32_t)m->salt && h->length <= CAIRN__WAL_MAX_BODY &&
			    size <= m->size - off && chain_ok(r, h) &&
			    h->header_sum == XXH3_64bits_withSeed(p + 8, REC_HDR - 8, m->salt) &&
			    h->body_sum == XXH3_64bits_withSeed(p + REC_HDR, h->length, m->salt)) {
				r->started = true;
				r->expect = h->lsn + 1;
				r->prev = h->header_sum;
				r->off = off + size;
				if (h->lsn < r->from_lsn) {
					continue;
				}
				rec->lsn = h->lsn;
				rec->kind = h->kind;
				rec->length = h->length;
				rec->body = p + REC_HDR;
				rec->header_sum = h->header_sum;
				rec->seq = m->seq;
				rec->offset = off;
				return 1;
			}
		}
		int e = stop(r);
		if (e < 0) {
			return e;
		}
	}
}

void cairn__wal_reader_end(const struct cairn__wal_reader *r, struct cairn__wal_damage *out)
{
	*out = r->end;
}

void cairn__wal_reader_resume(const struct cairn__wal_reader *r, struct cairn__wal_resume *out)
{
	out->next_lsn = r->started ? r->expect : 1;
	out->prev_sum = r->started ? r->prev : 0;
	out->next_seq = r->segs[r->nsegs - 1].seq + 1;
}

int cairn__wal_drop_empty_tail(struct cairn__wal_reader *r, uint64_t *first)
{
	*first = 0;
	if (!r->ended || r->end.end != CAIRN__WAL_END_CLEAN) {
		return -EINVAL;
	}
	/* The segment the log ended in, when not one record of it was read, and every later one. */
	size_t from = r->idx + 1;
	if (r->m.base && r->off == SEG_HDR) {
		from = r->idx;
	}
	if (from >= r->nsegs) {
		return 0;
	}
	for (size_t j = from; j < r->nsegs; j++) {
		char name[CAIRN__WAL_NAME_MAX];
		cairn__wal_seg_name(name, r->segs[j].seq);
		if (unlinkat(r->dirfd, name, 0) < 0 && errno != ENOENT) {
			return -errno;
		}
	}
	if (fsync(r->dirfd) < 0) {
		return -errno;
	}
	*first = r->segs[from].seq;
	return (int)(r->nsegs - from);
}

void cairn__wal_reader_progress(const struct cairn__wal_reader *r, uint64_t *done, uint64_t *total)
{
	*done = r->ended ? r->total : r->done_before + (r->m.base ? r->off : 0);
	*total = r->total;
}

void cairn__wal_reader_close(struct cairn__wal_reader *r)
{
	if (!r) {
		return;
	}
	unmap_segment(&r->m);
	if (r->dirfd >= 0) {
		close(r->dirfd);
	}
	free(r->segs);
	free(r);
}

/* ---- Cut and prune ---- */

int cairn__wal_cut(const char *dir, const struct cairn__wal_damage *at)
{
	char name[CAIRN__WAL_NAME_MAX];
	cairn__wal_seg_name(name, at->seq);
	if (at->seq == 0 || strcmp(name, at->file) != 0) {
		return -EINVAL;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		return -errno;
	}
	struct seg_file *segs = NULL;
	size_t n = 0;
	int err = list_segments(dirfd, &segs, &n);
	if (err < 0) {
		goto out;
	}
	int fd = openat(dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		goto out;
	}
	if (at->offset > (uint64_t)st.st_size) {
		err = -EINVAL;
		close(fd);
		goto out;
	}
	if (at->offset < SEG_HDR) {
		/* The header itself is damaged: the whole segment goes. */
		close(fd);
		char to[CAIRN__WAL_NAME_MAX + 16];
		snprintf(to, sizeof(to), "%s.discarded", name);
		if (renameat(dirfd, name, dirfd, to) < 0) {
			err = -errno;
			goto out;
		}
	} else {
		if (ftruncate(fd, (off_t)at->offset) < 0 || fsync(fd) < 0) {
			err = -errno;
			close(fd);
			goto out;
		}
		close(fd);
	}
	for (size_t i = 0; i < n; i++) {
		if (segs[i].seq <= at->seq) {
			continue;
		}
		char from[CAIRN__WAL_NAME_MAX], to[CAIRN__WAL_NAME_MAX + 16];
		cairn__wal_seg_name(from, segs[i].seq);
		snprintf(to, sizeof(to), "%s.discarded", from);
		if (renameat(dirfd, from, dirfd, to) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (fsync(dirfd) < 0) {
		err = -errno;
	}
out:
	free(segs);
	close(dirfd);
	return err;
}

/* The LSN of the first record of segment seq if its header verifies, else 0. */
static uint64_t first_lsn(int dirfd, uint64_t seq)
{
	char name[CAIRN__WAL_NAME_MAX];
	cairn__wal_seg_name(name, seq);
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return 0;
	}
	uint8_t buf[SEG_HDR + REC_HDR];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n != (ssize_t)sizeof(buf)) {
		return 0;
	}
	struct cairn__wal_seg_header h;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != CAIRN__WAL_SEG_MAGIC || h.seq != seq ||
	    h.header_sum != XXH3_64bits_withSeed(
				    &h, offsetof(struct cairn__wal_seg_header, header_sum), 0) ||
	    !header_verifies(buf + SEG_HDR, h.salt)) {
		return 0;
	}
	struct cairn__wal_rec rec;
	memcpy(&rec, buf + SEG_HDR, sizeof(rec));
	return rec.lsn;
}

int cairn__wal_prune(const char *dir, uint64_t lsn)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		return -errno;
	}
	struct seg_file *segs = NULL;
	size_t n = 0;
	int err = list_segments(dirfd, &segs, &n);
	if (err < 0) {
		close(dirfd);
		return err;
	}
	/*
	 * Segment i holds only LSNs below the first LSN of any later segment, so it may go
	 * when the next segment that holds a record starts at or below lsn. Only a prefix
	 * goes (a hole in the middle would break the chain), never the newest segment, and
	 * a segment whose first record cannot be read counts as holding none: a segment
	 * the writer has just made is kept.
	 */
	int deleted = 0;
	size_t next = 1; /* the nearest later segment that holds a record */
	uint64_t next_first = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if (next <= i) {
			next = i + 1;
			next_first = 0;
		}
		while (next < n && next_first == 0) {
			next_first = first_lsn(dirfd, segs[next].seq);
			if (next_first == 0) {
				next++;
			}
		}
		if (next >= n || next_first > lsn) {
			break;
		}
		char name[CAIRN__WAL_NAME_MAX];
		cairn__wal_seg_name(name, segs[i].seq);
		if (unlinkat(dirfd, name, 0) < 0) {
			err = -errno;
			break;
		}
		deleted++;
	}
	if (deleted > 0 && fsync(dirfd) < 0 && err == 0) {
		err = -errno;
	}
	free(segs);
	close(dirfd);
	return err < 0 ? err : deleted;
}
