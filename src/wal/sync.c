/*
 * The sync backend, for where io_uring is blocked (Docker >= 25's seccomp profile,
 * containerd 2, gVisor): a writer thread takes one batch at a time, pwrites it (looping
 * over short writes and EINTR) and fdatasyncs the segment. It publishes the durable LSN
 * itself, so that cairn__wal_poll is an atomic load, and wakes the appending thread only
 * if that sleeps in cairn__wal_wait. The bytes on disk are those of the io_uring backend:
 * both write the buffer wal.c encoded.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/atomic.h"
#include "common/clock.h"
#include "wal/backend.h"

struct cairn__wal_sync {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t job_cv;        /* the writer thread waits for a batch */
	pthread_cond_t done_cv;       /* the appending thread waits for it to finish */
	struct cairn__wal_batch *job; /* under mu */
	bool stop;                    /* under mu */
	/*
	 * True once the batch handed over has finished. Stored with release by the writer
	 * thread after everything it wrote about the batch (failed, done_ns, the durable
	 * LSN); loaded with acquire by the appending thread, which then reads those.
	 */
	bool done;
};

static void write_batch(struct cairn__wal *w, struct cairn__wal_batch *b)
{
	char name[CAIRN__WAL_NAME_MAX];
	size_t off = 0;
	while (off < b->len) {
		size_t chunk = b->len - off;
		int f = cairn__wal_fault(w, CAIRN__WAL_FAULT_WRITE);
		ssize_t n;
		if (f < 0) {
			/* The test hook: as if the kernel had returned -f. */
			n = -1;
			errno = -f;
		} else {
			if (f == CAIRN__WAL_FAULT_SHORT && chunk > CAIRN__WAL_ALIGN) {
				chunk /= 2;
			}
			n = pwrite(b->fd, b->buf + off, chunk, (off_t)(b->offset + off));
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			int err = n < 0 ? -errno : -EIO;
			cairn__wal_seg_name(name, b->seq);
			cairn__wal_fail(w, err, "write of %s at offset %" PRIu64, name,
					b->offset + off);
			b->failed = true;
			return;
		}
		off += (size_t)n;
	}
	int r = cairn__wal_fault(w, CAIRN__WAL_FAULT_SYNC);
	if (r == 0 && fdatasync(b->fd) < 0) {
		r = -errno;
	}
	if (r < 0) {
		/* Never retried: the pages it failed to write may already be clean. */
		cairn__wal_seg_name(name, b->seq);
		cairn__wal_fail(w, r, "fdatasync of %s", name);
		b->failed = true;
		return;
	}
	b->done_ns = cairn__now_ns();
	/* Pairs with cairn__wal_poll's acquire: the batch is on disk. */
	cairn__store_release(&w->durable, cairn__wal_batch_last(b));
}

static void *writer_main(void *arg)
{
	struct cairn__wal *w = arg;
	struct cairn__wal_sync *s = w->sync;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->job && !s->stop) {
			pthread_cond_wait(&s->job_cv, &s->mu);
		}
		if (!s->job) {
			break;
		}
		struct cairn__wal_batch *b = s->job;
		pthread_mutex_unlock(&s->mu);

		write_batch(w, b);

		pthread_mutex_lock(&s->mu);
		s->job = NULL;
		cairn__store_release(&s->done, true);
		pthread_cond_broadcast(&s->done_cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int sync_start(struct cairn__wal *w, char *why, size_t whylen)
{
	struct cairn__wal_sync *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->job_cv, &ca);
	pthread_cond_init(&s->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	s->done = true;
	w->sync = s;

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&s->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		snprintf(why, whylen, "cannot start the WAL writer thread: %s", strerror(r));
		pthread_cond_destroy(&s->job_cv);
		pthread_cond_destroy(&s->done_cv);
		pthread_mutex_destroy(&s->mu);
		free(s);
		w->sync = NULL;
		return -r;
	}
	return 0;
}

static void sync_submit(struct cairn__wal *w, struct cairn__wal_batch *b)
{
	struct cairn__wal_sync *s = w->sync;
	pthread_mutex_lock(&s->mu);
	cairn__store_relaxed(&s->done, false);
	s->job = b;
	pthread_cond_signal(&s->job_cv);
	pthread_mutex_unlock(&s->mu);
}

static bool sync_reap(struct cairn__wal *w)
{
	return cairn__load_acquire(&w->sync->done);
}

static int sync_wait(struct cairn__wal *w, int64_t timeout_ns)
{
	struct cairn__wal_sync *s = w->sync;
	struct timespec ts;
	if (timeout_ns >= 0) {
		ts = cairn__ns_to_timespec(cairn__now_ns() + (uint64_t)timeout_ns);
	}
	int r = 0;
	pthread_mutex_lock(&s->mu);
	while (!s->done) {
		if (timeout_ns < 0) {
			pthread_cond_wait(&s->done_cv, &s->mu);
		} else if (pthread_cond_timedwait(&s->done_cv, &s->mu, &ts) == ETIMEDOUT) {
			r = s->done ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void sync_stop(struct cairn__wal *w)
{
	struct cairn__wal_sync *s = w->sync;
	if (!s) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->job_cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->job_cv);
	pthread_cond_destroy(&s->done_cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
	w->sync = NULL;
}

const struct cairn__wal_ops cairn__wal_sync_ops = {
	.name = "sync",
	.start = sync_start,
	.submit = sync_submit,
	.reap = sync_reap,
	.wait = sync_wait,
	.stop = sync_stop,
};
