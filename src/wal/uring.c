/*
 * The io_uring backend: a batch goes to disk as an IORING_OP_WRITE linked
 * (IOSQE_IO_LINK) to an IORING_OP_FSYNC with IORING_FSYNC_DATASYNC, on a ring owned by
 * the appending thread. Submitting is one io_uring_enter; reaping is io_uring_peek_cqe,
 * which reads the completion ring without a syscall.
 *
 * A round is one write (of what is left of the batch) and the fsync linked to it. A
 * short write breaks the link, so the fsync completes with -ECANCELED: the next round
 * writes the remainder and syncs again. A write or fsync that fails makes the log fail;
 * a failed fsync is never retried (after an fsync error the kernel may have dropped the
 * dirty pages, and a second fsync would report success for data that is gone).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "wal/backend.h"

#define RING_ENTRIES 8
#define TAG_WRITE    1
#define TAG_SYNC     2
/* A write moves at most this much (Linux stops a single write at 2 GiB - 4 KiB). */
#define MAX_WRITE (UINT32_C(1) << 30)

struct cairn__wal_uring {
	struct io_uring ring;
	struct cairn__wal_batch *b; /* the batch in flight */
	size_t written;             /* bytes of it known to be written */
	unsigned outstanding;       /* SQEs of this round whose CQE has not been reaped */
	bool round_synced;          /* this round's fsync succeeded */
};

static void fail_batch(struct cairn__wal *w, struct cairn__wal_batch *b, int err, const char *op)
{
	char name[CAIRN__WAL_NAME_MAX];
	cairn__wal_seg_name(name, b->seq);
	if (strcmp(op, "write") == 0) {
		cairn__wal_fail(w, err, "write of %s at offset %" PRIu64, name,
				b->offset + w->uring->written);
	} else {
		cairn__wal_fail(w, err, "%s of %s", op, name);
	}
	b->failed = true;
}

/* Queues and submits one round: the rest of the batch (if any) linked to an fsync. */
static void round_submit(struct cairn__wal *w, struct cairn__wal_uring *u)
{
	struct cairn__wal_batch *b = u->b;
	size_t left = b->len - u->written;
	unsigned n = 0;
	u->round_synced = false;
	if (left > 0) {
		unsigned chunk = left > MAX_WRITE ? MAX_WRITE : (unsigned)left;
		int f = cairn__wal_fault(w, CAIRN__WAL_FAULT_WRITE);
		if (f < 0) {
			/* As if the kernel had failed the write: nothing is submitted. */
			fail_batch(w, b, f, "write");
			return;
		}
		if (f == CAIRN__WAL_FAULT_SHORT && chunk > CAIRN__WAL_ALIGN) {
			chunk /= 2;
		}
		struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
		io_uring_prep_write(sqe, b->fd, b->buf + u->written, chunk, b->offset + u->written);
		sqe->flags |= IOSQE_IO_LINK;
		io_uring_sqe_set_data64(sqe, TAG_WRITE);
		n++;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, TAG_SYNC);
	n++;

	int r;
	do {
		r = io_uring_submit(&u->ring);
	} while (r == -EINTR);
	if (r < 0) {
		/* Nothing was consumed; the log fails, so nothing is ever submitted again. */
		fail_batch(w, b, r, "io_uring_submit of a write");
		return;
	}
	u->outstanding = (unsigned)r;
	if ((unsigned)r < n) {
		/* The kernel took part of the chain only: the log cannot go on. */
		fail_batch(w, b, -EIO, "io_uring_submit of a write");
	}
}

static void uring_submit(struct cairn__wal *w, struct cairn__wal_batch *b)
{
	struct cairn__wal_uring *u = w->uring;
	u->b = b;
	u->written = 0;
	round_submit(w, u);
}

static void complete(struct cairn__wal *w, struct cairn__wal_uring *u, uint64_t tag, int res)
{
	struct cairn__wal_batch *b = u->b;
	if (tag == TAG_WRITE) {
		if (b->failed) {
			return;
		}
		if (res < 0) {
			fail_batch(w, b, res, "write");
		} else if (res == 0) {
			fail_batch(w, b, -EIO, "write (nothing written)");
		} else {
			u->written += (size_t)res;
		}
		return;
	}
	if (res == -ECANCELED) {
		/* The write it was linked to came out short (or failed): not run. */
		return;
	}
	/* An fsync that ran: the test hook may turn it into a failure. */
	int f = cairn__wal_fault(w, CAIRN__WAL_FAULT_SYNC);
	if (f < 0) {
		res = f;
	}
	if (res < 0) {
		if (!b->failed) {
			fail_batch(w, b, res, "fdatasync");
		}
		return;
	}
	u->round_synced = true;
}

static bool uring_reap(struct cairn__wal *w)
{
	struct cairn__wal_uring *u = w->uring;
	struct cairn__wal_batch *b = u->b;
	struct io_uring_cqe *cqe;
	while (u->outstanding > 0 && io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		int res = cqe->res;
		/* Hands the CQE slot back to the kernel once its fields are read. */
		io_uring_cqe_seen(&u->ring, cqe);
		u->outstanding--;
		complete(w, u, tag, res);
	}
	if (u->outstanding > 0) {
		return false;
	}
	if (b->failed) {
		return true;
	}
	if (u->written == b->len && u->round_synced) {
		/* The fsync of this round ran after its write (they were linked) and after
		 * every earlier round's write: it covers the whole batch. */
		b->done_ns = cairn__now_ns();
		return true;
	}
	/* A short write (the fsync was cancelled, or ran before the rest was written). */
	round_submit(w, u);
	return b->failed && u->outstanding == 0;
}

static int uring_wait(struct cairn__wal *w, int64_t timeout_ns)
{
	struct cairn__wal_uring *u = w->uring;
	if (u->outstanding == 0) {
		return 0;
	}
	struct io_uring_cqe *cqe;
	int r;
	if (timeout_ns < 0) {
		r = io_uring_wait_cqe(&u->ring, &cqe);
	} else {
		struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
					       .tv_nsec = timeout_ns % 1000000000};
		r = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
	}
	if (r == -ETIME) {
		return -ETIMEDOUT;
	}
	/* A CQE is there, or an interruption: the caller reaps and asks again. */
	return 0;
}

static int uring_start(struct cairn__wal *w, char *why, size_t whylen)
{
	/* cairn__wal_uring_probe set the ring up and kept it. */
	if (!w->uring) {
		snprintf(why, whylen, "io_uring backend started without a ring");
		return -EINVAL;
	}
	return 0;
}

static void uring_stop(struct cairn__wal *w)
{
	struct cairn__wal_uring *u = w->uring;
	if (!u) {
		return;
	}
	/* The kernel may still read the buffer of a write not reaped: wait for it. */
	while (u->outstanding > 0) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(&u->ring, &cqe) == 0) {
			io_uring_cqe_seen(&u->ring, cqe);
			u->outstanding--;
		}
	}
	io_uring_queue_exit(&u->ring);
	free(u);
	w->uring = NULL;
}

const struct cairn__wal_ops cairn__wal_uring_ops = {
	.name = "io_uring",
	.start = uring_start,
	.submit = uring_submit,
	.reap = uring_reap,
	.wait = uring_wait,
	.stop = uring_stop,
};

/* ---- The probe ---- */

static const char *init_hint(int err)
{
	if (err == -EPERM) {
		FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
		int v = 0;
		if (f) {
			/* The kernel writes 0, 1 or 2: fscanf cannot overflow here. */
			/* NOLINTNEXTLINE(cert-err34-c) */
			if (fscanf(f, "%d", &v) != 1) {
				v = 0;
			}
			fclose(f);
		}
		if (v == 2) {
			return " (disabled by the sysctl kernel.io_uring_disabled=2)";
		}
		if (v == 1) {
			return " (kernel.io_uring_disabled=1 allows it only to the group "
			       "kernel.io_uring_group, or blocked by seccomp)";
		}
		return " (blocked by seccomp, e.g. Docker's default profile)";
	}
	if (err == -ENOSYS) {
		return " (this kernel has no io_uring, or a seccomp filter hides it, as gVisor "
		       "and some container runtimes do)";
	}
	if (err == -ENOMEM) {
		return " (locked-memory limit too low for the rings?)";
	}
	return "";
}

/* One linked write + fdatasync of a scratch file in the log directory. */
static int scratch_write(struct cairn__wal *w, struct io_uring *ring, char *why, size_t whylen)
{
	char name[64];
	snprintf(name, sizeof(name), ".wal-probe-%ld-%" PRIu64, (long)getpid(), cairn__now_ns());
	int fd = openat(w->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = -errno;
		snprintf(why, whylen, "cannot create a scratch file in %s: %s", w->dir,
			 strerror(errno));
		return err;
	}
	/* Unlinked at once, so that a crash leaves nothing behind; the fd still writes. */
	unlinkat(w->dirfd, name, 0);

	static const char data[512];
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	io_uring_prep_write(sqe, fd, data, sizeof(data), 0);
	sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, TAG_WRITE);
	sqe = io_uring_get_sqe(ring);
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data64(sqe, TAG_SYNC);

	int r = io_uring_submit(ring);
	int wres = 1, sres = 1;
	if (r < 0) {
		snprintf(why, whylen, "io_uring_submit of a scratch write in %s failed: %s", w->dir,
			 strerror(-r));
		close(fd);
		return r;
	}
	for (int got = 0; got < r; got++) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = {.tv_sec = 10};
		int e = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (e < 0) {
			/* The kernel may still hold the SQEs: this ring must not be used. */
			snprintf(why, whylen, "a scratch io_uring write in %s did not complete: %s",
				 w->dir, strerror(e == -ETIME ? ETIMEDOUT : -e));
			close(fd);
			return e == -ETIME ? -ETIMEDOUT : e;
		}
		if (io_uring_cqe_get_data64(cqe) == TAG_WRITE) {
			wres = cqe->res;
		} else {
			sres = cqe->res;
		}
		io_uring_cqe_seen(ring, cqe);
	}
	close(fd);
	if (wres != (int)sizeof(data)) {
		snprintf(why, whylen, "a scratch io_uring write in %s failed: %s", w->dir,
			 wres < 0 ? strerror(-wres) : "short write");
		return wres < 0 ? wres : -EIO;
	}
	if (sres != 0) {
		snprintf(why, whylen, "a scratch io_uring fsync in %s failed: %s", w->dir,
			 sres < 0 ? strerror(-sres) : "unexpected result");
		return sres < 0 ? sres : -EIO;
	}
	return 0;
}

int cairn__wal_uring_probe(struct cairn__wal *w, char *why, size_t whylen)
{
	const char *no = getenv("CAIRN_WAL_NO_URING");
	if (no && *no && strcmp(no, "0") != 0) {
		snprintf(why, whylen, "CAIRN_WAL_NO_URING is set");
		return -ENOTSUP;
	}
	struct cairn__wal_uring *u = calloc(1, sizeof(*u));
	if (!u) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	int r = io_uring_queue_init(RING_ENTRIES, &u->ring, 0);
	if (r < 0) {
		snprintf(why, whylen, "io_uring_queue_init failed: %s%s", strerror(-r),
			 init_hint(r));
		free(u);
		return r;
	}
	struct io_uring_probe *p = io_uring_get_probe_ring(&u->ring);
	if (!p) {
		snprintf(why, whylen, "io_uring_get_probe failed (a kernel older than 5.6?)");
		r = -ENOTSUP;
		goto fail;
	}
	bool wr = io_uring_opcode_supported(p, IORING_OP_WRITE);
	bool fs = io_uring_opcode_supported(p, IORING_OP_FSYNC);
	io_uring_free_probe(p);
	if (!wr || !fs) {
		snprintf(why, whylen, "this kernel's io_uring lacks %s",
			 !wr ? "IORING_OP_WRITE" : "IORING_OP_FSYNC");
		r = -ENOTSUP;
		goto fail;
	}
	if ((r = scratch_write(w, &u->ring, why, whylen)) < 0) {
		goto fail;
	}
	snprintf(
		why, whylen,
		"io_uring works here (WRITE and FSYNC supported, a scratch write + fdatasync in %s "
		"succeeded)",
		w->dir);
	w->uring = u;
	return 0;
fail:
	io_uring_queue_exit(&u->ring);
	free(u);
	return r;
}
