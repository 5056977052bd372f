/*
 * cairnd's durability: the data directory, recovery at startup, and the store thread.
 *
 * At startup (before any client can attach) the daemon locks its data directory,
 * records its maps there, and rebuilds the durable state into the live engine in the
 * state segment: the newest valid snapshot, then the log after it. A torn tail is cut
 * off; damage in the middle stops the start with a message naming the file, offset and
 * LSN. Ingress stamps continue above the last one logged, so a restart (or a reboot,
 * which resets CLOCK_MONOTONIC) never makes time run backwards for the engine.
 *
 * The apply thread then appends every accepted state-changing command to the log
 * (apply.c); this file's store thread does the slow work off that thread: it keeps a
 * follower replica (a private engine) that catches up from the log files and writes
 * snapshots from it, so that taking a snapshot never stalls the apply loop, and it
 * computes the hunt images rollbacks need by replaying the log to an earlier LSN.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/daemon.h"

#define STORE_TICK_NS (100 * 1000 * 1000) /* the store thread looks at its timers this often */

/* ---- the control thread's set of sessions seen ---- */

static size_t session_slot(uint64_t id, size_t cap)
{
	return (size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1);
}

bool cairnd_sessions_has(const struct cairnd_sessions *k, uint64_t id)
{
	if (!k->cap || id == 0) {
		return false;
	}
	for (size_t i = session_slot(id, k->cap);; i = (i + 1) & (k->cap - 1)) {
		if (k->slots[i] == id) {
			return true;
		}
		if (k->slots[i] == 0) {
			return false;
		}
	}
}

void cairnd_sessions_add(struct cairnd_sessions *k, uint64_t id)
{
	if (id == 0 || cairnd_sessions_has(k, id)) {
		return;
	}
	if ((k->n + 1) * 2 > k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		uint64_t *slots = calloc(cap, sizeof(slots[0]));
		if (!slots) {
			return; /* information only: a miss costs nothing */
		}
		for (size_t i = 0; i < k->cap; i++) {
			if (k->slots[i]) {
				size_t j = session_slot(k->slots[i], cap);
				while (slots[j]) {
					j = (j + 1) & (cap - 1);
				}
				slots[j] = k->slots[i];
			}
		}
		free(k->slots);
		k->slots = slots;
		k->cap = cap;
	}
	size_t j = session_slot(id, k->cap);
	while (k->slots[j]) {
		j = (j + 1) & (k->cap - 1);
	}
	k->slots[j] = id;
	k->n++;
}

/* ---- startup ---- */

static int make_dir(const char *path)
{
	if (mkdir(path, 0750) == 0 || errno == EEXIST) {
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			return 0;
		}
		return -ENOTDIR;
	}
	return -errno;
}

/* mkdir -p, for the data directory the operator named. */
static int make_dirs(const char *path)
{
	char buf[PATH_MAX];
	if (strlen(path) >= sizeof(buf)) {
		return -ENAMETOOLONG;
	}
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			int r = make_dir(buf);
			*p = '/';
			if (r < 0) {
				return r;
			}
		}
	}
	return make_dir(buf);
}

static void engine_config(const struct daemon *d, struct cairn__engine_config *ec)
{
	cairn__engine_config_default(ec);
	ec->max_hunts = d->cfg.max_hunts;
	ec->max_entities = d->cfg.max_entities;
	ec->shards_per_hunt = d->cfg.shards;
	ec->event_capacity = d->cfg.event_capacity;
	ec->maps = (const struct cairn__map *const *)d->maps;
	ec->n_maps = d->n_maps;
}

static void recovery_progress(void *arg, uint64_t lsn, uint64_t done, uint64_t total)
{
	uint64_t *last = arg;
	uint64_t now = cairn__now_ns();
	if (now - *last >= 1000000000u || done == total) {
		*last = now;
		cairn__info("recovery: at LSN %llu, %llu of %llu MiB of log read",
			    (unsigned long long)lsn, (unsigned long long)(done >> 20),
			    (unsigned long long)(total >> 20));
	}
}

/* Rebuilds the durable state into the live engine. */
static int recover(struct daemon *d, struct cairn__wal_resume *resume)
{
	struct cairnd_store *s = &d->store;
	struct cairn__replica live = {.engine = d->engine, .dedup = s->dedup};
	struct cairn__recover_report rep;
	char why[512];
	uint64_t last = cairn__now_ns(), t0 = last;
	struct cairn__recover_options o = {
		.cut = true,
		.truncate_at_damage = d->cfg.truncate_at_damage,
		.progress = recovery_progress,
		.progress_arg = &last,
	};
	int r = cairn__recover(d->cfg.data_dir, &live, &o, &rep, why, sizeof(why));
	if (r < 0) {
		cairn__error("recovery failed: %s", why);
		return r;
	}
	if (rep.snapshots_skipped) {
		cairn__warn("recovery: %u newer snapshot%s did not verify and %s skipped (%s)",
			    rep.snapshots_skipped, rep.snapshots_skipped == 1 ? "" : "s",
			    rep.snapshots_skipped == 1 ? "was" : "were", rep.skipped_why);
	}
	if (rep.end.end == CAIRN__WAL_END_TORN) {
		cairn__warn("recovery: cut a torn last batch off %s at offset %llu (LSN %llu on): "
			    "%s; it was never acknowledged",
			    rep.end.file, (unsigned long long)rep.end.offset,
			    (unsigned long long)rep.end.lsn, rep.end.reason);
	} else if (rep.end.end == CAIRN__WAL_END_DAMAGED) {
		cairn__warn("recovery: --recover=truncate-at-damage: the log was cut at %s offset "
			    "%llu (LSN %llu): %s; everything after LSN %llu is lost",
			    rep.end.file, (unsigned long long)rep.end.offset,
			    (unsigned long long)rep.end.lsn, rep.end.reason,
			    (unsigned long long)live.lsn);
	}
	if (rep.empty_segments_dropped) {
		cairn__info("recovery: removed %u empty log segment%s after the last record; the "
			    "log goes on in their place",
			    rep.empty_segments_dropped, rep.empty_segments_dropped == 1 ? "" : "s");
	}
	cairn__info("recovered LSN %llu in %.3f s: %s%s, then %llu log records; state hash "
		    "%016llx",
		    (unsigned long long)live.lsn, (double)(cairn__now_ns() - t0) / 1e9,
		    rep.snapshot_lsn || rep.snapshot_file[0] ? "snapshot " : "no snapshot",
		    rep.snapshot_file, (unsigned long long)rep.records,
		    (unsigned long long)cairn__engine_hash(d->engine));
	*resume = rep.resume;
	s->recovered_prev_sum = live.prev_sum;
	s->appended = s->durable = live.lsn;
	/* The welcome's "resumed": the sessions the recovered table answers for. */
	uint32_t n = cairn__dedup_sessions(s->dedup, NULL, 0);
	uint64_t *ids = n ? malloc(n * sizeof(ids[0])) : NULL;
	if (ids) {
		n = cairn__dedup_sessions(s->dedup, ids, n);
		for (uint32_t i = 0; i < n; i++) {
			cairnd_sessions_add(&d->known, ids[i]);
		}
		free(ids);
	}
	cairn__store_relaxed(&s->durable_lsn, live.lsn);
	cairn__store_relaxed(&s->snapshot_lsn, rep.snapshot_lsn);
	/*
	 * Stamps continue above the last one the log holds: CLOCK_MONOTONIC restarts at a
	 * reboot, and the engine's speed checks must never see time run backwards.
	 */
	uint64_t now = cairn__now_ns();
	s->last_stamp = live.last_ingress_ns;
	s->stamp_offset = live.last_ingress_ns >= now ? live.last_ingress_ns - now + 1 : 0;
	return 0;
}

/* The follower starts as a copy of the recovered state. */
static int start_follower(struct daemon *d)
{
	struct cairnd_store *s = &d->store;
	struct cairn__engine_config ec;
	engine_config(d, &ec);
	int r = cairn__replica_new(&ec, d->cfg.dedup_window, d->cfg.max_sessions, &s->follower);
	if (r < 0) {
		return r;
	}
	uint8_t *eimg = NULL, *dimg = NULL;
	size_t elen = 0, dlen = 0;
	r = cairn__engine_save(d->engine, &eimg, &elen);
	if (r == 0) {
		r = cairn__dedup_save(s->dedup, &dimg, &dlen);
	}
	if (r == 0) {
		r = cairn__engine_restore(s->follower.engine, eimg, elen);
	}
	if (r == 0) {
		r = cairn__dedup_restore(s->follower.dedup, dimg, dlen);
	}
	free(eimg);
	free(dimg);
	if (r < 0) {
		return r;
	}
	s->follower.lsn = s->appended;
	s->follower.prev_sum = s->recovered_prev_sum;
	s->follower.last_ingress_ns = s->last_stamp;
	return 0;
}

static void *store_main(void *arg);

/*
 * Keeps a helper thread off the apply thread's CPU (--cpu) when another CPU is allowed:
 * a snapshot's catch-up and serialization must not take time slices from the apply loop.
 */
void cairnd_keep_off_apply_cpu(const struct daemon *d, pthread_t t)
{
	cpu_set_t set;
	if (d->cfg.cpu < 0 || sched_getaffinity(0, sizeof(set), &set) != 0) {
		return;
	}
	CPU_CLR(d->cfg.cpu, &set);
	if (CPU_COUNT(&set) > 0) {
		pthread_setaffinity_np(t, sizeof(set), &set);
	}
}

int cairnd_store_open(struct daemon *d)
{
	struct cairnd_store *s = &d->store;
	char why[512];
	int r;

	s->lock_fd = -1;
	if (!d->cfg.data_dir) {
		cairn__warn("--durability=none: nothing is logged; a restart starts from an empty "
			    "state and resubmitted requests are applied again");
		return 0;
	}
	const char *dir = d->cfg.data_dir;
	r = make_dirs(dir);
	if (r < 0) {
		cairn__error("cannot create the data directory %s: %s", dir, strerror(-r));
		return r;
	}
	char lock[PATH_MAX];
	snprintf(lock, sizeof(lock), "%s/LOCK", dir);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		cairn__error("cannot lock %s: %s%s", lock, strerror(-r),
			     r == -EWOULDBLOCK ? " (another cairnd uses this data directory)" : "");
		return r;
	}
	if ((size_t)snprintf(s->wal_dir, sizeof(s->wal_dir), "%s/wal", dir) >= sizeof(s->wal_dir) ||
	    (size_t)snprintf(s->snap_dir, sizeof(s->snap_dir), "%s/snapshots", dir) >=
		    sizeof(s->snap_dir)) {
		cairn__error("the data directory path is too long");
		return -ENAMETOOLONG;
	}
	if ((r = make_dir(s->wal_dir)) < 0 || (r = make_dir(s->snap_dir)) < 0) {
		cairn__error("cannot create %s/wal and %s/snapshots: %s", dir, dir, strerror(-r));
		return r;
	}
	r = cairn__data_maps_record(dir, (const struct cairn__map *const *)d->maps, d->n_maps, why,
				    sizeof(why));
	if (r < 0) {
		cairn__error("%s", why);
		return r;
	}
	s->window = d->cfg.dedup_window;
	r = cairn__dedup_new(d->cfg.dedup_window, d->cfg.max_sessions, &s->dedup);
	if (r < 0) {
		cairn__error("cannot make the exactly-once table: %s", strerror(-r));
		return r;
	}
	cairn__store_relaxed(&d->hdr->daemon_state, CAIRN_DAEMON_STARTING);
	struct cairn__wal_resume resume;
	r = recover(d, &resume);
	if (r < 0) {
		return r;
	}
	struct cairn__wal_config wc = {
		.dir = s->wal_dir,
		.backend = d->cfg.wal_backend,
		.segment_size = d->cfg.wal_segment_bytes,
	};
	r = cairn__wal_open(&wc, &resume, &s->wal, why, sizeof(why));
	if (r < 0) {
		cairn__error("cannot open the write-ahead log in %s: %s", s->wal_dir, why);
		return r;
	}
	const char *backend = cairn__wal_backend_name(s->wal);
	s->backend = strcmp(backend, "io_uring") == 0 ? CAIRN_WAL_IO_URING : CAIRN_WAL_SYNC;
	cairn__info("write-ahead log: %s backend (%s); durability %s%s", backend,
		    cairn__wal_backend_reason(s->wal),
		    d->cfg.durability == CAIRN_DURABILITY_SYNC ? "sync (a result is published once "
								 "its command is on disk)"
							       : "relaxed",
		    d->cfg.durability == CAIRN_DURABILITY_RELAXED
			    ? " (results at once; a crash may "
			      "lose the last --flush-ms)"
			    : "");
	r = start_follower(d);
	if (r < 0) {
		cairn__error("cannot copy the state for the snapshot thread: %s",
			     cairn_strerror(r));
		return r;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	r = pthread_create(&s->thread, NULL, store_main, d);
	if (r != 0) {
		cairn__error("cannot start the store thread: %s", strerror(r));
		return -r;
	}
	pthread_setname_np(s->thread, "cairn-store");
	cairnd_keep_off_apply_cpu(d, s->thread);
	s->thread_started = true;
	return 0;
}

void cairnd_store_close(struct daemon *d)
{
	struct cairnd_store *s = &d->store;
	if (s->thread_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
		s->thread_started = false;
		free(s->done.image);
		free(s->job.image);
	}
	if (s->wal) {
		int r = cairn__wal_close(s->wal);
		if (r < 0) {
			cairn__error("the write-ahead log closed with an error: %s", strerror(-r));
		}
		s->wal = NULL;
	}
	cairn__replica_free(&s->follower);
	cairn__dedup_free(s->dedup);
	s->dedup = NULL;
	if (s->lock_fd >= 0) {
		close(s->lock_fd);
		s->lock_fd = -1;
	}
}

bool cairnd_store_hold(const struct daemon *d)
{
	return d->store.wal && d->cfg.durability == CAIRN_DURABILITY_SYNC;
}

/* ---- the store thread ---- */

/*
 * Brings the follower to LSN target (<= the durable LSN) by reading the log files.
 * Returns 0 or a negative code with why filled in.
 */
static int catch_up(struct daemon *d, uint64_t target, char *why, size_t whylen)
{
	struct cairnd_store *s = &d->store;
	struct cairn__replica *f = &s->follower;
	if (f->lsn >= target) {
		return 0;
	}
	struct cairn__wal_reader *rd;
	int r = cairn__wal_reader_open(s->wal_dir, f->lsn + 1, &rd, why, whylen);
	if (r < 0) {
		return r;
	}
	struct cairn__wal_record rec;
	while (f->lsn < target && (r = cairn__wal_reader_next(rd, &rec)) > 0) {
		r = cairn__replica_apply(f, &rec, NULL, why, whylen);
		if (r < 0) {
			break;
		}
	}
	if (r == 0 && f->lsn < target) {
		snprintf(why, whylen, "the log ends at LSN %llu, before the durable LSN %llu",
			 (unsigned long long)f->lsn, (unsigned long long)target);
		r = -CAIRN_E_BAD_LOG;
	} else if (r > 0) {
		r = 0;
	}
	cairn__wal_reader_close(rd);
	return r;
}

/* Takes a snapshot at the durable LSN; fills *out. */
static int snapshot(struct daemon *d, struct cairn_snapshot_reply *out)
{
	struct cairnd_store *s = &d->store;
	char why[512];
	uint64_t t0 = cairn__now_ns();
	uint64_t target = cairn__load_acquire(&s->durable_lsn);
	int r = catch_up(d, target, why, sizeof(why));
	if (r == 0) {
		r = cairn__replica_snapshot(&s->follower, d->cfg.data_dir, d->cfg.keep_snapshots,
					    why, sizeof(why));
	}
	if (r < 0) {
		cairn__error("snapshot at LSN %llu failed: %s", (unsigned long long)target, why);
		return r;
	}
	uint64_t lsns[64];
	int n = cairn__snap_list(s->snap_dir, lsns, 64);
	uint64_t bytes = 0;
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/snap-%020llu.snap", s->snap_dir,
		 (unsigned long long)s->follower.lsn);
	struct stat st;
	if (stat(path, &st) == 0) {
		bytes = (uint64_t)st.st_size;
	}
	uint64_t oldest = n > 0 ? lsns[n - 1] : s->follower.lsn;
	cairn__store_relaxed(&s->snapshot_lsn, s->follower.lsn);
	cairn__store_relaxed(&s->oldest_snapshot_lsn, oldest);
	/* The log before the oldest snapshot kept is no longer needed, even for rollback. */
	int pruned = cairn__wal_prune(s->wal_dir, oldest + 1);
	memset(out, 0, sizeof(*out));
	out->lsn = s->follower.lsn;
	out->state_hash = cairn__engine_hash(s->follower.engine);
	out->bytes = bytes;
	out->duration_ns = cairn__now_ns() - t0;
	cairn__info("snapshot at LSN %llu: %llu KiB in %.1f ms, state hash %016llx%s%s",
		    (unsigned long long)out->lsn, (unsigned long long)(bytes >> 10),
		    (double)out->duration_ns / 1e6, (unsigned long long)out->state_hash,
		    pruned > 0 ? "; old log segments removed" : "",
		    pruned < 0 ? "; could not remove old log segments" : "");
	return 0;
}

/* The image of a hunt at LSN target, replayed from the newest snapshot before it. */
static int rollback_image(struct daemon *d, uint32_t hunt_id, uint64_t target, uint8_t **img,
			  size_t *len)
{
	struct cairn__engine_config ec;
	struct cairn__replica scratch;
	struct cairn__recover_report rep;
	char why[512];
	engine_config(d, &ec);
	int r = cairn__replica_new(&ec, d->cfg.dedup_window, d->cfg.max_sessions, &scratch);
	if (r < 0) {
		return r;
	}
	struct cairn__recover_options o = {.until_lsn = target};
	r = cairn__recover(d->cfg.data_dir, &scratch, &o, &rep, why, sizeof(why));
	if (r < 0 || scratch.lsn != target) {
		cairn__warn("rollback of hunt %08x to LSN %llu: %s", hunt_id,
			    (unsigned long long)target,
			    r < 0 ? why : "the kept snapshots and log do not reach that LSN");
		r = -CAIRN_E_ROLLBACK_RANGE;
	} else {
		r = cairn__engine_hunt_save(scratch.engine, hunt_id, img, len);
	}
	cairn__replica_free(&scratch);
	return r;
}

static void *store_main(void *arg)
{
	struct daemon *d = arg;
	struct cairnd_store *s = &d->store;
	uint64_t last_snapshot = cairn__now_ns();
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		if (s->job.kind == JOB_NONE) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t ns = (uint64_t)ts.tv_nsec + STORE_TICK_NS;
			ts.tv_sec += (time_t)(ns / 1000000000u);
			ts.tv_nsec = (long)(ns % 1000000000u);
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
		if (s->stop) {
			break;
		}
		struct store_job job = s->job;
		s->job.kind = JOB_NONE;
		pthread_mutex_unlock(&s->lock);

		uint64_t durable = cairn__load_acquire(&s->durable_lsn);
		uint64_t since = durable - cairn__load_relaxed(&s->snapshot_lsn);
		uint64_t now = cairn__now_ns();
		bool periodic = since > 0 &&
				((d->cfg.snapshot_records && since >= d->cfg.snapshot_records) ||
				 (d->cfg.snapshot_interval_ns &&
				  now - last_snapshot >= d->cfg.snapshot_interval_ns));
		if (job.kind == JOB_SNAPSHOT || (job.kind == JOB_NONE && periodic)) {
			struct cairn_snapshot_reply rep;
			int r = snapshot(d, &rep);
			last_snapshot = cairn__now_ns();
			if (job.kind == JOB_SNAPSHOT) {
				job.status = r < 0 ? -CAIRN_E_WAL_FAILED : 0;
				job.snap = rep;
			}
		} else if (job.kind == JOB_ROLLBACK) {
			struct cairn_rollback rb;
			memcpy(&rb, job.cmd.payload, sizeof(rb));
			job.status =
				rollback_image(d, rb.hunt_id, rb.lsn, &job.image, &job.image_len);
		}
		pthread_mutex_lock(&s->lock);
		if (job.kind != JOB_NONE) {
			s->done = job;
			/* Release: the answer is complete before the apply thread sees the flag. */
			cairn__store_release(&s->done_flag, 1);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}
