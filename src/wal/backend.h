/*
 * The writer's insides, shared by wal.c (batches, records, segments, the preparer
 * thread, errors) and the two backends that put a batch on disk: uring.c (a WRITE
 * linked to an FSYNC on one io_uring, reaped by the appending thread) and sync.c (a
 * writer thread doing pwrite + fdatasync). Each backend implements the same few
 * operations (struct cairn__wal_ops), as Redis's ae_epoll.c and ae_kqueue.c do for ae.c.
 *
 * Threads: the appending thread owns everything here except what is marked otherwise.
 * The sync backend's writer thread touches only the batch it was handed, the durable
 * LSN and its own state; the preparer thread only its slot (under prep_mu).
 */
#ifndef CAIRN_WAL_BACKEND_H
#define CAIRN_WAL_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wal/wal.h"

/* One batch buffer: records encoded back to back, written with one write. */
struct cairn__wal_batch {
	uint8_t *buf;   /* posix_memalign(4096) */
	size_t cap;     /* bytes allocated */
	size_t limit;   /* bytes this batch may hold: min(cap, segment size - header) */
	size_t len;     /* bytes of records in it */
	uint32_t count; /* records in it */
	uint64_t first_lsn;
	uint64_t salt;     /* the segment salt its records are encoded with */
	uint64_t prev_sum; /* header_sum of the record before its first one */
	/* Set when it is submitted: where it goes. */
	int fd;
	uint64_t seq;
	uint64_t offset;
	uint64_t submit_ns;
	/* Set by the backend when it finishes: failed (the sticky error says why), and when. */
	bool failed;
	uint64_t done_ns;
};

static inline uint64_t cairn__wal_batch_last(const struct cairn__wal_batch *b)
{
	return b->first_lsn + b->count - 1;
}

/*
 * What a backend does. All are called by the appending thread, with at most one batch
 * in flight; submit is called only when none is.
 */
struct cairn__wal_ops {
	const char *name;
	/* Sets the backend up (w->dirfd is open). Returns 0 or -errno with why. */
	int (*start)(struct cairn__wal *w, char *why, size_t whylen);
	/*
	 * Starts writing b->buf[0..len) at b->offset of b->fd and an fdatasync covering it.
	 * A failure to even start is reported through the sticky error and b->failed, and
	 * the batch then counts as finished.
	 */
	void (*submit)(struct cairn__wal *w, struct cairn__wal_batch *b);
	/* Without blocking and without a syscall: true once the batch in flight finished. */
	bool (*reap)(struct cairn__wal *w);
	/*
	 * Blocks until the batch in flight finishes or timeout_ns (relative, < 0: no limit)
	 * passes. Returns 0 or -ETIMEDOUT; reap tells whether it finished.
	 */
	int (*wait)(struct cairn__wal *w, int64_t timeout_ns);
	/* Tears down; nothing is in flight (close drained it, or the log failed). */
	void (*stop)(struct cairn__wal *w);
};

extern const struct cairn__wal_ops cairn__wal_uring_ops;
extern const struct cairn__wal_ops cairn__wal_sync_ops;

/*
 * Checks that io_uring works for this log (CAIRN_WAL_NO_URING, setup, opcode probe for
 * WRITE and FSYNC, one scratch write + fsync in the log directory). Returns 0, or -errno
 * with a sentence in why.
 */
int cairn__wal_uring_probe(struct cairn__wal *w, char *why, size_t whylen);

/* The test hook CAIRN_WAL_FAULT (see wal.h). */
enum cairn__wal_fault_op {
	CAIRN__WAL_FAULT_NONE = 0,
	CAIRN__WAL_FAULT_WRITE,
	CAIRN__WAL_FAULT_SYNC,
	CAIRN__WAL_FAULT_FALLOCATE,
	CAIRN__WAL_FAULT_RENAME,
	CAIRN__WAL_FAULT__N,
};

/* CAIRN__WAL_FAULT_WRITE's "short": write only half of what is asked. */
#define CAIRN__WAL_FAULT_SHORT 1

/*
 * Counts one operation op of this log; returns 0 normally, -errno when it is the one
 * CAIRN_WAL_FAULT names (the caller fails it as if the kernel had), or
 * CAIRN__WAL_FAULT_SHORT for a write that should come out short.
 */
int cairn__wal_fault(struct cairn__wal *w, enum cairn__wal_fault_op op);

/*
 * Makes the log fail for good with err (first failure wins); fmt says what failed, and
 * ": strerror(err)" is appended. Any thread.
 */
void cairn__wal_fail(struct cairn__wal *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The sticky error (0 if none); any thread. */
int cairn__wal_failed(const struct cairn__wal *w);

/* "wal-%016llx.seg" into buf (at least CAIRN__WAL_NAME_MAX bytes). */
#define CAIRN__WAL_NAME_MAX 40
void cairn__wal_seg_name(char *buf, uint64_t seq);

struct cairn__wal_uring;
struct cairn__wal_sync;

struct cairn__wal {
	char *dir;
	int dirfd;
	uint64_t segment_size;
	size_t batch_bytes;

	const struct cairn__wal_ops *ops;
	char reason[384];
	struct cairn__wal_uring *uring; /* the io_uring backend's state (also kept by the probe) */
	struct cairn__wal_sync *sync;   /* the sync backend's state */

	/* Batches: batch[cur] is open; inflight (NULL or the other one) is being written. */
	struct cairn__wal_batch batch[2];
	unsigned cur;
	struct cairn__wal_batch *inflight;

	/* The chain, as appended. */
	uint64_t next_lsn;
	uint64_t last_sum;

	/* The segment being written: batches go at tail. */
	int seg_fd;
	uint64_t seg_seq;
	uint64_t seg_salt;
	uint64_t seg_tail;
	bool rotation_waiting; /* the open batch waits for the preparer */

	/*
	 * The durable LSN. Written by the appending thread (uring) or the sync writer thread
	 * with release, after the batch's fdatasync returned; read with acquire.
	 */
	uint64_t durable;

	/* The sticky error: err_what is written under err_mu before err is released. */
	pthread_mutex_t err_mu;
	int err;
	char err_what[256];

	/* The preparer thread and its one-segment slot, under prep_mu. */
	pthread_t prep_thread;
	bool prep_started;
	pthread_mutex_t prep_mu;
	pthread_cond_t prep_cv; /* the preparer waits for a request; wait() for a segment */
	uint64_t prep_want;     /* sequence number to make next, 0: none asked */
	bool prep_stop;
	bool prep_ready; /* also read without the lock (acquire) by kick */
	int prep_fd;
	uint64_t prep_seq;
	uint64_t prep_salt;

	/* CAIRN_WAL_FAULT and CAIRN_WAL_TEST_SALT. */
	enum cairn__wal_fault_op fault_op;
	uint64_t fault_n;
	int fault_err;
	uint64_t fault_count[CAIRN__WAL_FAULT__N];
	bool fixed_salt;
	uint64_t fixed_salt_value;

	struct cairn__wal_stats stats;
};

#endif
