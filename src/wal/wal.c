/*
 * The writer: batch buffers, record encoding, the hash chain, segments and their
 * preparer thread, the choice of backend, stats and the sticky error. The backends
 * (uring.c, sync.c) only move a finished batch to disk; see backend.h.
 *
 * Life of a record. cairn__wal_append encodes it straight into the open batch buffer,
 * checksums included, with the salt of the segment the batch is headed for (the current
 * one). cairn__wal_kick hands the open batch to the backend when nothing is in flight;
 * if the batch does not fit the rest of the current segment the writer first moves to
 * the segment the preparer made ready, and re-encodes the batch with that segment's
 * salt (once per segment, a batch's worth of hashing). cairn__wal_poll notices that
 * the backend finished, advances the durable LSN and recycles the buffer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/atomic.h"
#include "common/clock.h"
#include "common/hist.h"
#include "wal/backend.h"
#include "wal/wal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the WAL is written with the host's byte order, which must be little-endian");

#define DEFAULT_SEGMENT (UINT64_C(64) << 20)
#define MIN_SEGMENT     (UINT64_C(1) << 20)
#define DEFAULT_BATCH   (UINT32_C(1) << 20)
#define MIN_BATCH       (UINT32_C(64) << 10)
#define MAX_BATCH       (UINT32_C(1) << 30)
#define BUF_ALIGN       4096

void cairn__wal_seg_name(char *buf, uint64_t seq)
{
	snprintf(buf, CAIRN__WAL_NAME_MAX, "wal-%016" PRIx64 ".seg", seq);
}

/* ---- The sticky error ---- */

void cairn__wal_fail(struct cairn__wal *w, int err, const char *fmt, ...)
{
	if (err >= 0) {
		err = -EIO;
	}
	pthread_mutex_lock(&w->err_mu);
	if (w->err == 0) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(w->err_what, sizeof(w->err_what), fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < sizeof(w->err_what)) {
			snprintf(w->err_what + n, sizeof(w->err_what) - (size_t)n, ": %s",
				 strerror(-err));
		}
		/* Publishes err_what with the code: a reader that sees the code (acquire)
		 * sees the whole sentence. */
		cairn__store_release(&w->err, err);
	}
	pthread_mutex_unlock(&w->err_mu);
	/* Whoever sleeps for a segment must learn that none will come. */
	pthread_mutex_lock(&w->prep_mu);
	pthread_cond_broadcast(&w->prep_cv);
	pthread_mutex_unlock(&w->prep_mu);
}

int cairn__wal_failed(const struct cairn__wal *w)
{
	return cairn__load_acquire(&w->err);
}

int cairn__wal_error(const struct cairn__wal *w, const char **what)
{
	int err = cairn__wal_failed(w);
	if (what) {
		*what = err ? w->err_what : "";
	}
	return err;
}

/* ---- Test hooks ---- */

static const struct {
	const char *name;
	int err;
} errno_names[] = {
	{"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS},
	{"EFBIG", EFBIG},   {"EBADF", EBADF},   {"EINVAL", EINVAL}, {"ENODEV", ENODEV},
	{"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN}, {"EINTR", EINTR},   {"EPERM", EPERM},
	{"EACCES", EACCES}, {"ENXIO", ENXIO},
};

static int parse_fault(struct cairn__wal *w, const char *spec, char *why, size_t whylen)
{
	static const char *const ops[] = {
		[CAIRN__WAL_FAULT_WRITE] = "write",
		[CAIRN__WAL_FAULT_SYNC] = "sync",
		[CAIRN__WAL_FAULT_FALLOCATE] = "fallocate",
		[CAIRN__WAL_FAULT_RENAME] = "rename",
	};
	char op[16], what[16];
	unsigned long long n;
	char tail;
	/*
	 * A test hook's spec, written by our tests. glibc converts %llu with strtoull, so an
	 * N too large saturates to ULLONG_MAX: a fault that never fires, nothing worse.
	 */
	/* NOLINTNEXTLINE(cert-err34-c) */
	if (sscanf(spec, "%15[a-z]:%llu:%15[A-Za-z0-9]%c", op, &n, what, &tail) != 3 || n == 0) {
		goto bad;
	}
	for (int i = 1; i < CAIRN__WAL_FAULT__N; i++) {
		if (strcmp(op, ops[i]) == 0) {
			w->fault_op = (enum cairn__wal_fault_op)i;
		}
	}
	if (w->fault_op == CAIRN__WAL_FAULT_NONE) {
		goto bad;
	}
	w->fault_n = n;
	if (strcmp(what, "short") == 0 && w->fault_op == CAIRN__WAL_FAULT_WRITE) {
		w->fault_err = CAIRN__WAL_FAULT_SHORT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++) {
		if (strcmp(what, errno_names[i].name) == 0) {
			w->fault_err = -errno_names[i].err;
			return 0;
		}
	}
	char *end;
	long e = strtol(what, &end, 10);
	if (*end == '\0' && e > 0 && e < 4096) {
		w->fault_err = (int)-e;
		return 0;
	}
bad:
	w->fault_op = CAIRN__WAL_FAULT_NONE;
	snprintf(why, whylen,
		 "CAIRN_WAL_FAULT=\"%s\" is not understood (expected OP:N:ERRNO with OP one of "
		 "write, sync, fallocate, rename, N >= 1, ERRNO a name like EIO or a number, or "
		 "write:N:short)",
		 spec);
	return -EINVAL;
}

int cairn__wal_fault(struct cairn__wal *w, enum cairn__wal_fault_op op)
{
	/* Each op is counted by one thread at a time, but not always the same one. */
	uint64_t n = __atomic_add_fetch(&w->fault_count[op], 1, __ATOMIC_RELAXED);
	if (op == w->fault_op && n == w->fault_n) {
		return w->fault_err;
	}
	return 0;
}

/* ---- Segments ---- */

static uint64_t draw_salt(struct cairn__wal *w, uint64_t seq)
{
	if (w->fixed_salt) {
		return w->fixed_salt_value + seq;
	}
	uint64_t salt;
	if (getrandom(&salt, sizeof(salt), 0) == (ssize_t)sizeof(salt)) {
		return salt;
	}
	/* No getrandom (or it failed): a salt only has to differ between segments. */
	uint64_t mix[4] = {cairn__now_ns(), cairn__wall_ns(), (uint64_t)getpid(), seq};
	return XXH3_64bits(mix, sizeof(mix));
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		if (n == 0) {
			return -EIO;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Makes segment seq: wal-SEQ.seg.tmp is created, preallocated, given its header and
 * fdatasync'ed, then renamed (never over an existing segment) and the directory fsync'ed,
 * so that a segment that exists under its final name has its full size and a durable
 * header. Returns 0 with *fd (open read-write) and *salt, or -errno with what naming
 * the operation and file.
 */
static int prepare_segment(struct cairn__wal *w, uint64_t seq, int *out_fd, uint64_t *out_salt,
			   char *what, size_t whatlen)
{
	char name[CAIRN__WAL_NAME_MAX], tmp[CAIRN__WAL_NAME_MAX + 8];
	cairn__wal_seg_name(name, seq);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);

	int fd = openat(w->dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int err = -errno;
		snprintf(what, whatlen, "create of %s in %s", tmp, w->dir);
		return err;
	}
	int r = cairn__wal_fault(w, CAIRN__WAL_FAULT_FALLOCATE);
	if (r == 0 && fallocate(fd, 0, 0, (off_t)w->segment_size) < 0) {
		r = -errno;
		if (r == -EOPNOTSUPP) {
			/* The filesystem cannot preallocate (some network and overlay ones):
			 * posix_fallocate writes zeros instead. It returns the error. */
			r = -posix_fallocate(fd, 0, (off_t)w->segment_size);
		}
	}
	if (r < 0) {
		snprintf(what, whatlen, "fallocate of %s (%" PRIu64 " bytes)", tmp,
			 w->segment_size);
		goto fail;
	}

	uint64_t salt = draw_salt(w, seq);
	struct cairn__wal_seg_header h = {
		.magic = CAIRN__WAL_SEG_MAGIC,
		.version = CAIRN__WAL_VERSION,
		.header_size = CAIRN__WAL_SEG_HEADER,
		.seq = seq,
		.salt = salt,
		.size = w->segment_size,
		.created_ns = cairn__wall_ns(),
	};
	h.header_sum =
		XXH3_64bits_withSeed(&h, offsetof(struct cairn__wal_seg_header, header_sum), 0);
	r = write_all(fd, &h, sizeof(h), 0);
	if (r < 0) {
		snprintf(what, whatlen, "write of the header of %s", tmp);
		goto fail;
	}
	if (fdatasync(fd) < 0) {
		r = -errno;
		snprintf(what, whatlen, "fdatasync of %s", tmp);
		goto fail;
	}
	r = cairn__wal_fault(w, CAIRN__WAL_FAULT_RENAME);
	if (r == 0 && renameat2(w->dirfd, tmp, w->dirfd, name, RENAME_NOREPLACE) < 0) {
		r = -errno;
		if (r == -EINVAL || r == -ENOSYS) {
			/* No RENAME_NOREPLACE on this filesystem: check, then rename. Only this
			 * writer makes segments in the directory. */
			if (faccessat(w->dirfd, name, F_OK, 0) == 0) {
				r = -EEXIST;
			} else {
				r = renameat(w->dirfd, tmp, w->dirfd, name) < 0 ? -errno : 0;
			}
		}
	}
	if (r < 0) {
		snprintf(what, whatlen, "rename of %s to %s", tmp, name);
		goto fail;
	}
	if (fsync(w->dirfd) < 0) {
		r = -errno;
		snprintf(what, whatlen, "fsync of the log directory %s after making %s", w->dir,
			 name);
		close(fd);
		return r;
	}
	*out_fd = fd;
	*out_salt = salt;
	return 0;
fail:
	close(fd);
	unlinkat(w->dirfd, tmp, 0);
	return r;
}

static void *preparer_main(void *arg)
{
	struct cairn__wal *w = arg;
	pthread_mutex_lock(&w->prep_mu);
	for (;;) {
		while (!w->prep_stop && (w->prep_want == 0 || w->prep_ready)) {
			pthread_cond_wait(&w->prep_cv, &w->prep_mu);
		}
		if (w->prep_stop) {
			break;
		}
		uint64_t seq = w->prep_want;
		pthread_mutex_unlock(&w->prep_mu);

		int fd = -1;
		uint64_t salt = 0;
		char what[200];
		int r = prepare_segment(w, seq, &fd, &salt, what, sizeof(what));
		if (r < 0) {
			cairn__wal_fail(w, r, "%s", what);
		}

		pthread_mutex_lock(&w->prep_mu);
		w->prep_want = 0;
		if (r == 0) {
			w->prep_fd = fd;
			w->prep_seq = seq;
			w->prep_salt = salt;
			/* Pairs with the acquire in rotate(): fd, seq and salt are set. */
			cairn__store_release(&w->prep_ready, true);
		}
		pthread_cond_broadcast(&w->prep_cv);
	}
	pthread_mutex_unlock(&w->prep_mu);
	return NULL;
}

/*
 * Moves the writer to the segment the preparer made, and asks for the next one. Called
 * with nothing in flight, so the old segment's last batch is durable and its fd can go.
 * Returns false when the segment is not ready yet (the open batch waits).
 */
static bool rotate(struct cairn__wal *w)
{
	if (!cairn__load_acquire(&w->prep_ready)) {
		if (!w->rotation_waiting) {
			w->rotation_waiting = true;
			w->stats.rotations_waited++;
		}
		return false;
	}
	pthread_mutex_lock(&w->prep_mu);
	int fd = w->prep_fd;
	uint64_t seq = w->prep_seq, salt = w->prep_salt;
	w->prep_fd = -1;
	w->prep_ready = false;
	w->prep_want = seq + 1;
	pthread_cond_broadcast(&w->prep_cv);
	pthread_mutex_unlock(&w->prep_mu);

	close(w->seg_fd);
	w->seg_fd = fd;
	w->seg_seq = seq;
	w->seg_salt = salt;
	w->seg_tail = CAIRN__WAL_SEG_HEADER;
	w->rotation_waiting = false;
	w->stats.segments++;
	return true;
}

/* Sleeps until the preparer has a segment ready, the log fails, or deadline passes. */
static void wait_prepared(struct cairn__wal *w, uint64_t deadline)
{
	pthread_mutex_lock(&w->prep_mu);
	while (!w->prep_ready && !cairn__wal_failed(w)) {
		if (deadline == UINT64_MAX) {
			pthread_cond_wait(&w->prep_cv, &w->prep_mu);
			continue;
		}
		struct timespec ts = cairn__ns_to_timespec(deadline);
		if (pthread_cond_timedwait(&w->prep_cv, &w->prep_mu, &ts) == ETIMEDOUT) {
			break;
		}
	}
	pthread_mutex_unlock(&w->prep_mu);
}

/* ---- Batches and records ---- */

static int batch_alloc(struct cairn__wal_batch *b, size_t cap, uint64_t segment_size)
{
	void *p;
	cap = (cap + BUF_ALIGN - 1) & ~(size_t)(BUF_ALIGN - 1);
	if (posix_memalign(&p, BUF_ALIGN, cap) != 0) {
		return -ENOMEM;
	}
	free(b->buf);
	b->buf = p;
	b->cap = cap;
	uint64_t room = segment_size - CAIRN__WAL_SEG_HEADER;
	b->limit = cap < room ? cap : (size_t)room;
	return 0;
}

/*
 * Writes one record at b->buf + b->len. The header is built in place and hashed where
 * it lies: bytes 8..47 (everything but header_sum) with the salt as seed.
 */
static uint64_t encode(struct cairn__wal_batch *b, uint64_t lsn, uint64_t prev_sum, uint16_t kind,
		       const struct iovec *iov, unsigned n, uint32_t len)
{
	uint8_t *p = b->buf + b->len;
	struct cairn__wal_rec *h = (struct cairn__wal_rec *)p;
	uint8_t *body = p + CAIRN__WAL_REC_HEADER;
	uint8_t *q = body;
	for (unsigned i = 0; i < n; i++) {
		if (iov[i].iov_len) {
			memcpy(q, iov[i].iov_base, iov[i].iov_len);
			q += iov[i].iov_len;
		}
	}
	size_t padded = (size_t)cairn__wal_rec_size(len) - CAIRN__WAL_REC_HEADER;
	memset(q, 0, padded - len);

	h->body_sum = XXH3_64bits_withSeed(body, len, b->salt);
	h->prev_sum = prev_sum;
	h->lsn = lsn;
	h->salt = (uint32_t)b->salt;
	h->length = len;
	h->kind = kind;
	h->flags = 0;
	h->batch_index = b->count;
	h->header_sum = XXH3_64bits_withSeed(p + 8, CAIRN__WAL_REC_HEADER - 8, b->salt);
	b->len += CAIRN__WAL_REC_HEADER + padded;
	b->count++;
	return h->header_sum;
}

/*
 * Re-encodes a batch for another segment: the salt, and with it every checksum and the
 * chain inside the batch, changes; LSNs, bodies and batch indices stay.
 */
static void reencode(struct cairn__wal *w, struct cairn__wal_batch *b, uint64_t salt)
{
	uint64_t prev = b->prev_sum;
	size_t off = 0;
	while (off < b->len) {
		uint8_t *p = b->buf + off;
		struct cairn__wal_rec *h = (struct cairn__wal_rec *)p;
		h->salt = (uint32_t)salt;
		h->prev_sum = prev;
		h->body_sum = XXH3_64bits_withSeed(p + CAIRN__WAL_REC_HEADER, h->length, salt);
		h->header_sum = XXH3_64bits_withSeed(p + 8, CAIRN__WAL_REC_HEADER - 8, salt);
		prev = h->header_sum;
		off += (size_t)cairn__wal_rec_size(h->length);
	}
	b->salt = salt;
	w->last_sum = prev;
}

int64_t cairn__wal_append(struct cairn__wal *w, uint16_t kind, const struct iovec *iov, unsigned n)
{
	/* Relaxed: a failure is seen at the latest by the next kick or poll (acquire). */
	int err = cairn__load_relaxed(&w->err);
	if (err) {
		return err;
	}
	uint64_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		len += iov[i].iov_len;
		if (iov[i].iov_len > CAIRN__WAL_MAX_BODY || len > CAIRN__WAL_MAX_BODY) {
			return -E2BIG;
		}
	}
	uint64_t size = cairn__wal_rec_size((uint32_t)len);
	if (size > w->segment_size - CAIRN__WAL_SEG_HEADER) {
		return -E2BIG;
	}
	struct cairn__wal_batch *b = &w->batch[w->cur];
	if (b->len + size > b->limit) {
		if (b->len != 0 || w->inflight) {
			return -ENOBUFS;
		}
		/* A record bigger than a batch buffer: it goes alone, in a grown buffer. */
		if (batch_alloc(b, (size_t)size, w->segment_size) < 0) {
			return -ENOMEM;
		}
	}
	if (b->count == 0) {
		b->first_lsn = w->next_lsn;
		b->salt = w->seg_salt;
		b->prev_sum = w->last_sum;
	}
	w->last_sum = encode(b, w->next_lsn, w->last_sum, kind, iov, n, (uint32_t)len);
	return (int64_t)w->next_lsn++;
}

uint64_t cairn__wal_appended(const struct cairn__wal *w)
{
	return w->next_lsn - 1;
}

/* Hands the open batch to the backend. Nothing is in flight. */
static void submit_open(struct cairn__wal *w)
{
	struct cairn__wal_batch *b = &w->batch[w->cur];
	if (b->count == 0 || cairn__wal_failed(w)) {
		return;
	}
	if (w->seg_tail + b->len > w->segment_size && !rotate(w)) {
		return;
	}
	if (b->salt != w->seg_salt) {
		reencode(w, b, w->seg_salt);
	}
	b->fd = w->seg_fd;
	b->seq = w->seg_seq;
	b->offset = w->seg_tail;
	b->failed = false;
	b->submit_ns = cairn__now_ns();
	w->seg_tail += b->len;
	w->inflight = b;
	w->cur ^= 1;
	w->ops->submit(w, b);
}

/* Takes note of a finished batch: durable LSN, stats, the buffer back to use. */
static void finish(struct cairn__wal *w, struct cairn__wal_batch *b)
{
	if (!b->failed) {
		/* The batch's fdatasync has returned. Release pairs with poll's acquire
		 * only for symmetry with the sync writer thread, which stores it too. */
		cairn__store_release(&w->durable, cairn__wal_batch_last(b));
		uint64_t ns = b->done_ns > b->submit_ns ? b->done_ns - b->submit_ns : 0;
		w->stats.records += b->count;
		w->stats.bytes += b->len;
		w->stats.batches++;
		w->stats.sync_ns_total += ns;
		w->stats.sync_hist[cairn__hist_bucket(ns)]++;
		if (ns > w->stats.sync_ns_max) {
			w->stats.sync_ns_max = ns;
		}
	}
	b->len = 0;
	b->count = 0;
	if (b->cap > w->batch_bytes) {
		/* It grew for one big record: give the memory back if we can. */
		batch_alloc(b, w->batch_bytes, w->segment_size);
	}
	w->inflight = NULL;
}

static void reap(struct cairn__wal *w)
{
	if (w->inflight && w->ops->reap(w)) {
		finish(w, w->inflight);
	}
}

int cairn__wal_kick(struct cairn__wal *w)
{
	reap(w);
	if (!w->inflight) {
		submit_open(w);
	}
	return cairn__wal_failed(w);
}

uint64_t cairn__wal_poll(struct cairn__wal *w)
{
	reap(w);
	return cairn__load_acquire(&w->durable);
}

bool cairn__wal_busy(const struct cairn__wal *w)
{
	return w->inflight != NULL;
}

int cairn__wal_wait(struct cairn__wal *w, uint64_t lsn, int64_t timeout_ns)
{
	if (lsn > cairn__wal_appended(w)) {
		return -EINVAL;
	}
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : cairn__now_ns() + (uint64_t)timeout_ns;
	for (;;) {
		reap(w);
		if (cairn__load_acquire(&w->durable) >= lsn) {
			return 0;
		}
		int err = cairn__wal_failed(w);
		if (err) {
			/* Settle the batch in flight (it fails or finishes soon) so that the
			 * caller sees the log at rest: not busy, durable LSN final. */
			while (w->inflight && cairn__now_ns() < deadline) {
				uint64_t now = cairn__now_ns();
				w->ops->wait(w, deadline == UINT64_MAX ? -1
								       : (int64_t)(deadline - now));
				reap(w);
			}
			/* A batch that finished well may still have covered lsn. */
			return cairn__load_acquire(&w->durable) >= lsn ? 0 : err;
		}
		if (!w->inflight) {
			submit_open(w);
			if (w->inflight) {
				continue;
			}
		}
		int64_t left = -1;
		if (deadline != UINT64_MAX) {
			uint64_t now = cairn__now_ns();
			if (now >= deadline) {
				return -ETIMEDOUT;
			}
			left = (int64_t)(deadline - now);
		}
		if (w->inflight) {
			w->ops->wait(w, left);
		} else if (w->rotation_waiting) {
			wait_prepared(w, deadline);
		} else {
			/* Every appended record is durable, in flight or open; with nothing in
			 * flight and the open batch submittable, only a failure gets here. */
			err = cairn__wal_failed(w);
			return err ? err : -EIO;
		}
	}
}

void cairn__wal_stats(const struct cairn__wal *w, struct cairn__wal_stats *out)
{
	*out = w->stats;
}

const char *cairn__wal_backend_name(const struct cairn__wal *w)
{
	return w->ops->name;
}

const char *cairn__wal_backend_reason(const struct cairn__wal *w)
{
	return w->reason;
}

/* ---- Open and close ---- */

/* Removes wal-*.seg.tmp files a crashed writer left behind. */
static void remove_stale_tmp(struct cairn__wal *w)
{
	int fd = dup(w->dirfd);
	if (fd < 0) {
		return;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l == 4 + 16 + 8 && strncmp(e->d_name, "wal-", 4) == 0 &&
		    strcmp(e->d_name + 20, ".seg.tmp") == 0) {
			unlinkat(w->dirfd, e->d_name, 0);
		}
	}
	closedir(d);
}

static void destroy(struct cairn__wal *w)
{
	if (w->prep_started) {
		pthread_mutex_lock(&w->prep_mu);
		w->prep_stop = true;
		pthread_cond_broadcast(&w->prep_cv);
		pthread_mutex_unlock(&w->prep_mu);
		pthread_join(w->prep_thread, NULL);
	}
	if (w->prep_ready) {
		/* A segment made ahead and never written: it holds no record, and the next
		 * writer starts after the last segment anyway. */
		char name[CAIRN__WAL_NAME_MAX];
		cairn__wal_seg_name(name, w->prep_seq);
		close(w->prep_fd);
		if (unlinkat(w->dirfd, name, 0) == 0) {
			fsync(w->dirfd);
		}
	}
	if (w->seg_fd >= 0) {
		close(w->seg_fd);
	}
	if (w->dirfd >= 0) {
		close(w->dirfd);
	}
	free(w->batch[0].buf);
	free(w->batch[1].buf);
	pthread_mutex_destroy(&w->err_mu);
	pthread_mutex_destroy(&w->prep_mu);
	pthread_cond_destroy(&w->prep_cv);
	free(w->dir);
	free(w);
}

static int start_preparer(struct cairn__wal *w)
{
	/* Helper threads take no signals: they belong to the daemon's main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&w->prep_thread, NULL, preparer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		return -r;
	}
	w->prep_started = true;
	return 0;
}

int cairn__wal_open(const struct cairn__wal_config *cfg, const struct cairn__wal_resume *resume,
		    struct cairn__wal **out, char *why, size_t whylen)
{
	static const struct cairn__wal_resume fresh = {.next_lsn = 1, .prev_sum = 0, .next_seq = 1};
	char whybuf[8];
	if (!why || whylen == 0) {
		why = whybuf;
		whylen = sizeof(whybuf);
	}
	why[0] = '\0';
	*out = NULL;
	if (!resume) {
		resume = &fresh;
	}
	if (!cfg || !cfg->dir) {
		snprintf(why, whylen, "no log directory given");
		return -EINVAL;
	}
	uint64_t segment_size = cfg->segment_size ? cfg->segment_size : DEFAULT_SEGMENT;
	uint32_t batch_bytes = cfg->batch_bytes ? cfg->batch_bytes : DEFAULT_BATCH;
	if (segment_size < MIN_SEGMENT || segment_size > (UINT64_C(1) << 40)) {
		snprintf(why, whylen, "segment size %" PRIu64 " is outside [1 MiB, 1 TiB]",
			 segment_size);
		return -EINVAL;
	}
	if (batch_bytes < MIN_BATCH || batch_bytes > MAX_BATCH) {
		snprintf(why, whylen, "batch size %" PRIu32 " is outside [64 KiB, 1 GiB]",
			 batch_bytes);
		return -EINVAL;
	}
	if (resume->next_lsn == 0 || resume->next_seq == 0 ||
	    resume->next_lsn > (UINT64_C(1) << 62)) {
		snprintf(why, whylen,
			 "resume position (LSN %" PRIu64 ", segment %" PRIu64 ") is invalid",
			 resume->next_lsn, resume->next_seq);
		return -EINVAL;
	}
	if (cfg->backend != CAIRN__WAL_AUTO && cfg->backend != CAIRN__WAL_URING &&
	    cfg->backend != CAIRN__WAL_SYNC) {
		snprintf(why, whylen, "unknown backend %d", (int)cfg->backend);
		return -EINVAL;
	}

	struct cairn__wal *w = calloc(1, sizeof(*w));
	if (!w || !(w->dir = strdup(cfg->dir))) {
		free(w);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	w->dirfd = -1;
	w->seg_fd = -1;
	w->prep_fd = -1;
	w->segment_size = segment_size;
	w->batch_bytes = batch_bytes;
	w->next_lsn = resume->next_lsn;
	w->last_sum = resume->prev_sum;
	w->durable = resume->next_lsn - 1;
	pthread_mutex_init(&w->err_mu, NULL);
	pthread_mutex_init(&w->prep_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->prep_cv, &ca);
	pthread_condattr_destroy(&ca);

	int r;
	const char *env = getenv("CAIRN_WAL_FAULT");
	if (env && *env && (r = parse_fault(w, env, why, whylen)) < 0) {
		goto fail;
	}
	env = getenv("CAIRN_WAL_TEST_SALT");
	if (env && *env) {
		w->fixed_salt = true;
		w->fixed_salt_value = strtoull(env, NULL, 16);
	}

	w->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot open the log directory %s: %s", cfg->dir,
			 strerror(errno));
		goto fail;
	}
	remove_stale_tmp(w);

	for (int i = 0; i < 2; i++) {
		if ((r = batch_alloc(&w->batch[i], batch_bytes, segment_size)) < 0) {
			snprintf(why, whylen,
				 "out of memory for two %" PRIu32 "-byte batch buffers",
				 batch_bytes);
			goto fail;
		}
	}

	/* The backend. */
	if (cfg->backend == CAIRN__WAL_SYNC) {
		w->ops = &cairn__wal_sync_ops;
		snprintf(w->reason, sizeof(w->reason),
			 "the sync backend (pwrite + fdatasync) was asked for");
	} else {
		char pwhy[200];
		r = cairn__wal_uring_probe(w, pwhy, sizeof(pwhy));
		if (r == 0) {
			w->ops = &cairn__wal_uring_ops;
			snprintf(w->reason, sizeof(w->reason), "%s%s",
				 cfg->backend == CAIRN__WAL_URING ? "io_uring was asked for and "
								  : "",
				 pwhy);
		} else if (cfg->backend == CAIRN__WAL_URING) {
			snprintf(why, whylen, "io_uring was asked for but cannot be used: %s",
				 pwhy);
			goto fail;
		} else {
			w->ops = &cairn__wal_sync_ops;
			snprintf(w->reason, sizeof(w->reason),
				 "%s; using the sync backend (a thread doing pwrite + fdatasync)",
				 pwhy);
		}
	}

	/* The first segment, made here so that open reports a directory we cannot write. */
	char what[200];
	r = prepare_segment(w, resume->next_seq, &w->seg_fd, &w->seg_salt, what, sizeof(what));
	if (r < 0) {
		snprintf(why, whylen, "%s: %s", what, strerror(-r));
		goto fail;
	}
	w->seg_seq = resume->next_seq;
	w->seg_tail = CAIRN__WAL_SEG_HEADER;
	w->stats.segments = 1;

	if ((r = w->ops->start(w, why, whylen)) < 0) {
		goto fail;
	}
	w->prep_want = resume->next_seq + 1;
	if ((r = start_preparer(w)) < 0) {
		snprintf(why, whylen, "cannot start the segment preparer thread: %s", strerror(-r));
		w->ops->stop(w);
		goto fail_stopped;
	}
	*out = w;
	return 0;
fail:
	/* The probe may have kept a ring for a backend that never started. */
	if (w->uring) {
		cairn__wal_uring_ops.stop(w);
	}
fail_stopped:
	if (w->seg_fd >= 0) {
		/* The first segment was made: take it back, so that open can be retried
		 * with the same resume position. */
		char name[CAIRN__WAL_NAME_MAX];
		cairn__wal_seg_name(name, resume->next_seq);
		if (unlinkat(w->dirfd, name, 0) == 0) {
			fsync(w->dirfd);
		}
	}
	destroy(w);
	return r;
}

int cairn__wal_close(struct cairn__wal *w)
{
	if (!w) {
		return 0;
	}
	if (!cairn__wal_failed(w) && cairn__wal_appended(w) > cairn__load_acquire(&w->durable)) {
		cairn__wal_wait(w, cairn__wal_appended(w), -1);
	}
	/* Even after a failure the backend may still be using the buffer in flight. */
	while (w->inflight) {
		w->ops->wait(w, -1);
		reap(w);
	}
	int err = cairn__wal_failed(w);
	w->ops->stop(w);
	destroy(w);
	return err;
}
