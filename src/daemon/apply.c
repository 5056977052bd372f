/*
 * The apply thread: the one writer.
 *
 * It serves the active lanes round robin, taking at most cfg.batch commands from one
 * lane per turn so that a busy client cannot starve the others. A command is taken
 * only when its result has room: a client that does not read its results stalls its
 * own lane and nothing else. When every lane is empty it spins, yields, and then
 * sleeps on all their command doorbells at once with futex_waitv, together with its
 * own private doorbell that the control thread rings.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/atomic.h"
#include "common/clock.h"
#include "common/futex.h"
#include "common/hist.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "protocol_desc.h"
#include "shm/doorbell.h"

#define HEARTBEAT_NS     (1000 * 1000)      /* stamp the heartbeat at most this often */
#define SLEEP_NS         (50 * 1000 * 1000) /* longest sleep: keeps the heartbeat fresh */
#define BLOCKED_SLEEP_NS (1000 * 1000)      /* sleep while a lane waits for result room */

struct applier {
	struct daemon *d;
	struct lane **active;
	unsigned nactive;
	unsigned next; /* round-robin start */
	bool waitv_ok;
	struct cairn_msg *scratch;
	uint64_t events_seen; /* the engine's event count at the last wake check */
	uint64_t now;         /* --metrics on: CLOCK_MONOTONIC at the start of this turn */
	/* Private counters, published to the state segment by publish_counters. */
	uint64_t commands, results, errors, full, sleeps, wakes, dropped;
	uint64_t duplicates; /* resubmitted requests answered from the exactly-once table */
	unsigned holding;    /* lanes with held results */
	/* A snapshot or rollback taken this turn, posted once its result has a held slot. */
	bool deferred_this_turn;
	struct store_job pending_job;
};

#define HELD_DEFERRED UINT64_MAX
/* A path command handed to the solver workers: its result comes when the job is done. */
#define HELD_SOLVER (UINT64_MAX - 1)

/* Relaxed mode writes a batch once this many records wait (about 120 KiB of commands). */
#define RELAXED_BATCH_RECORDS 1024

void cairnd_post_to_apply(struct daemon *d, enum lane_event ev, struct lane *l)
{
	pthread_mutex_lock(&d->to_apply_lock);
	CAIRN_ASSERT(d->n_to_apply < d->queue_cap);
	d->to_apply[d->n_to_apply++] = (struct lane_msg){ev, l};
	pthread_mutex_unlock(&d->to_apply_lock);
	/* Release: the queued message is visible to whoever sees the flag. */
	cairn__store_release(&d->apply_pending, 1);
	cairn__add_seq_cst(&d->apply_bell, 1);
	cairn__futex_wake(&d->apply_bell, 1);
}

void cairnd_post_to_control(struct daemon *d, enum lane_event ev, struct lane *l)
{
	uint64_t one = 1;
	pthread_mutex_lock(&d->to_control_lock);
	CAIRN_ASSERT(d->n_to_control < d->queue_cap);
	d->to_control[d->n_to_control++] = (struct lane_msg){ev, l};
	pthread_mutex_unlock(&d->to_control_lock);
	ssize_t w = write(d->control_efd, &one, sizeof(one));
	(void)w; /* an eventfd write fails only if the counter would overflow */
}

static void remove_active(struct applier *a, struct lane *l)
{
	for (unsigned i = 0; i < a->nactive; i++) {
		if (a->active[i] == l) {
			a->active[i] = a->active[--a->nactive];
			break;
		}
	}
	if (a->next >= a->nactive) {
		a->next = 0;
	}
}

/* One lane's metrics, from the apply thread's private counts (--metrics on). */
static void publish_lane(struct lane *l)
{
	struct cairn_lane_metrics *m = l->m;
	/* Relaxed: each field has this one writer; readers want a recent value, not order. */
	cairn__store_relaxed(&m->commands, l->cmd.cursor);
	cairn__store_relaxed(&m->results, l->res.cursor);
	cairn__store_relaxed(&m->errors, l->errors);
	cairn__store_relaxed(&m->full, l->full);
	cairn__store_relaxed(&m->wakes, l->wakes);
	/* The client's own cursors, as figures to show: never used for anything else. */
	cairn__store_relaxed(&m->cmd_pushed, cairn__load_relaxed(&l->cmd.hdr->head));
	cairn__store_relaxed(&m->res_popped, cairn__load_relaxed(&l->res.hdr->tail));
	cairn__store_relaxed(&m->held, l->held_n);
	cairn__store_relaxed(&m->solving, l->solving);
	cairn__store_relaxed(&m->wait_ns_sum, l->wait_sum);
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		cairn__store_relaxed(&m->wait_hist[i], l->wait_hist[i]);
	}
}

/* The log's metrics and the solver's (--metrics on). */
static void publish_store(struct applier *a)
{
	struct daemon *d = a->d;
	struct cairnd_store *s = &d->store;
	struct cairn_wal_metrics *w = d->wmetrics;
	cairn__store_relaxed(&d->dmetrics->solver_jobs, d->solver.jobs);
	cairn__store_relaxed(&d->dmetrics->solver_inline, d->solver.inline_answers);
	cairn__store_relaxed(&d->dmetrics->solver_out, (uint32_t)d->solver.jobs_out);
	cairn__store_relaxed(&d->dmetrics->solver_threads, d->solver.n_workers);
	cairn__store_relaxed(&w->durability,
			     s->wal ? d->cfg.durability : (uint32_t)CAIRN_DURABILITY_NONE);
	if (!s->wal) {
		return;
	}
	struct cairn__wal_stats st;
	cairn__wal_stats(s->wal, &st);
	cairn__store_relaxed(&w->backend, (uint32_t)s->backend);
	cairn__store_relaxed(&w->appended_lsn, s->appended);
	cairn__store_relaxed(&w->durable_lsn, s->durable);
	cairn__store_relaxed(&w->records, st.records);
	cairn__store_relaxed(&w->bytes, st.bytes);
	cairn__store_relaxed(&w->batches, st.batches);
	cairn__store_relaxed(&w->sync_ns_sum, st.sync_ns_total);
	cairn__store_relaxed(&w->sync_ns_max, st.sync_ns_max);
	cairn__store_relaxed(&w->snapshot_lsn, cairn__load_relaxed(&s->snapshot_lsn));
	cairn__store_relaxed(&w->error, (int32_t)s->failed);
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		cairn__store_relaxed(&w->sync_hist[i], st.sync_hist[i]);
	}
}

static void publish_counters(struct applier *a)
{
	struct cairn_daemon_counters *k = a->d->counters;
	if (a->d->dmetrics) {
		for (unsigned i = 0; i < a->nactive; i++) {
			publish_lane(a->active[i]);
		}
		publish_store(a);
	}
	/* Relaxed: each counter has this one writer; readers want a recent value, not order. */
	cairn__store_relaxed(&k->commands, a->commands);
	cairn__store_relaxed(&k->results, a->results);
	cairn__store_relaxed(&k->errors, a->errors);
	cairn__store_relaxed(&k->result_ring_full, a->full);
	cairn__store_relaxed(&k->sleeps, a->sleeps);
	cairn__store_relaxed(&k->wakes_sent, a->wakes);
	cairn__store_relaxed(&k->lanes_dropped, a->dropped);
	cairn__store_relaxed(&k->lanes_active, (uint64_t)a->nactive);
}

/*
 * Stops serving l for good, with this lane state for its client to read (DROPPED or
 * EVICTED), and asks the control thread to close its socket.
 */
static void stop_serving(struct applier *a, struct lane *l, uint32_t state)
{
	struct cairn_lane_header *h = l->base;
	l->dropped = true;
	l->evicted = state == CAIRN_LANE_EVICTED;
	l->serving = false;
	if (l->m) {
		publish_lane(l);
	}
	/* Tell the client why before the control thread closes its socket. */
	cairn__store_release(&h->lane_state, state);
	cairn__doorbell_ring(&l->res.hdr->bell);
	remove_active(a, l);
	/* The lane stays mapped until its EV_DETACH is answered with EV_RELEASED. */
	cairnd_post_to_control(a->d, EV_DROPPED, l);
}

static void drop_lane(struct applier *a, struct lane *l, const char *why)
{
	cairn__warn("dropping lane %u (client %llu, pid %d, \"%s\"): %s", l->id,
		    (unsigned long long)l->client_id, (int)l->pid, l->name, why);
	a->dropped++;
	stop_serving(a, l, CAIRN_LANE_DROPPED);
}

/*
 * EVICT: stops serving another client at an operator's request (l is the operator's
 * lane). The evicted client reads lane state EVICTED and does not reattach on its own;
 * its results not yet published are lost with the lane, as with a dropped lane.
 */
static void evict(struct applier *a, struct lane *l, const struct cairn_msg *cmd,
		  struct cairn_msg *out)
{
	uint32_t detail;
	int code = cairnd_check_header(cmd, &detail);
	if (code) {
		cairnd_error_result(cmd, code, detail, out);
		return;
	}
	struct cairn_evict e;
	memcpy(&e, cmd->payload, sizeof(e));
	if (e.client_id == l->client_id) {
		cairnd_error_result(cmd, CAIRN_E_BAD_VALUE, 0, out);
		return;
	}
	struct lane *v = NULL;
	for (unsigned i = 0; i < a->nactive && !v; i++) {
		if (a->active[i]->client_id == e.client_id && a->active[i]->serving) {
			v = a->active[i];
		}
	}
	if (!v) {
		cairnd_error_result(cmd, CAIRN_E_UNKNOWN_CLIENT, 0, out);
		return;
	}
	cairn__warn("evicted client %llu (pid %d, \"%s\", lane %u) at the request of client %llu "
		    "(pid %d, uid %u)",
		    (unsigned long long)v->client_id, (int)v->pid, v->name, v->id,
		    (unsigned long long)l->client_id, (int)l->pid, (unsigned)l->uid);
	struct cairn_evicted r;
	memset(&r, 0, sizeof(r));
	r.client_id = v->client_id;
	r.lane = v->id;
	r.pid = (int32_t)v->pid;
	r.uid = (uint32_t)v->uid;
	stop_serving(a, v, CAIRN_LANE_EVICTED);
	memset(out, 0, sizeof(*out));
	out->hdr.type = CAIRN_MSG_EVICTED;
	out->hdr.length = CAIRN_MSG_EVICTED_LEN_MIN;
	out->hdr.request_id = cmd->hdr.request_id;
	memcpy(out->payload, &r, sizeof(r));
}

static void take_control_messages(struct applier *a)
{
	struct daemon *d = a->d;
	struct lane_msg msgs[64];
	size_t n;
	/* Acquire pairs with the release in cairnd_post_to_apply. */
	if (!cairn__load_acquire(&d->apply_pending)) {
		return;
	}
	do {
		pthread_mutex_lock(&d->to_apply_lock);
		n = d->n_to_apply < 64 ? d->n_to_apply : 64;
		memcpy(msgs, d->to_apply, n * sizeof(msgs[0]));
		memmove(d->to_apply, d->to_apply + n, (d->n_to_apply - n) * sizeof(msgs[0]));
		d->n_to_apply -= n;
		if (d->n_to_apply == 0) {
			cairn__store_relaxed(&d->apply_pending, 0);
		}
		pthread_mutex_unlock(&d->to_apply_lock);
		for (size_t i = 0; i < n; i++) {
			struct lane *l = msgs[i].lane;
			if (msgs[i].ev == EV_ATTACH) {
				a->active[a->nactive++] = l;
				l->held_head = l->held_n = 0;
				l->solving = 0;
				l->serving = true;
				l->held = NULL;
				if (d->store.wal) {
					l->held =
						calloc((size_t)l->res.mask + 1, sizeof(l->held[0]));
					if (!l->held) {
						drop_lane(a, l,
							  "out of memory for its held results");
					}
				}
			} else if (msgs[i].ev == EV_DETACH) {
				if (l->serving && l->m) {
					publish_lane(l); /* its last figures */
				}
				l->serving = false;
				if (l->held_n) {
					a->holding--;
				}
				free(l->held);
				l->held = NULL;
				l->held_n = 0;
				if (!l->dropped) {
					/* A dropped lane left the active set when it was dropped.
					 */
					remove_active(a, l);
					struct cairn_lane_header *h = l->base;
					cairn__store_release(&h->lane_state, CAIRN_LANE_CLOSED);
				}
				cairnd_post_to_control(d, EV_RELEASED, l);
			}
		}
	} while (n == 64);
	publish_counters(a);
}

/* ---- durability on the apply thread ---- */

/*
 * The ingress stamp: CLOCK_MONOTONIC plus the offset recovery chose, never below the
 * last stamp given, so that stamps only move forward across restarts and reboots.
 */
static uint64_t ingress_stamp(struct daemon *d)
{
	struct cairnd_store *s = &d->store;
	uint64_t t = cairn__now_ns() + s->stamp_offset;
	if (t < s->last_stamp) {
		t = s->last_stamp;
	}
	s->last_stamp = t;
	return t;
}

/*
 * Notices that the log failed (EIO, ENOSPC, ...): from now on changes are refused, and
 * every result still waiting for the log is answered with WAL_FAILED instead, because
 * its command will never be on disk. Nothing is retried: after a failed fdatasync the
 * kernel may have dropped the dirty pages, and a retry that succeeds would lie.
 */
static void log_failed(struct applier *a, int err, const char *what)
{
	struct daemon *d = a->d;
	struct cairnd_store *s = &d->store;
	if (s->failed) {
		return;
	}
	s->failed = err;
	cairn__error("the write-ahead log failed: %s. Changes are refused from now on (WAL_FAILED) "
		     "and reads are still answered; everything up to LSN %llu is on disk. Fix the "
		     "disk and restart cairnd: it recovers exactly what was acknowledged.",
		     what ? what : strerror(-err), (unsigned long long)s->durable);
	for (unsigned i = 0; i < a->nactive; i++) {
		struct lane *l = a->active[i];
		for (uint32_t k = 0; k < l->held_n; k++) {
			struct held *h = &l->held[(l->held_head + k) & l->res.mask];
			if (h->horizon != HELD_DEFERRED && h->horizon > s->durable) {
				struct cairn_msg cmd = {
					.hdr = {.request_id = h->msg.hdr.request_id}};
				struct cairn_error_info e;
				memcpy(&e, h->msg.payload, sizeof(e));
				cmd.hdr.type =
					h->msg.hdr.type == CAIRN_MSG_ERROR
						? e.request_type
						: (uint16_t)(h->msg.hdr.type & ~CAIRN_REPLY_BIT);
				cairnd_error_result(&cmd, CAIRN_E_WAL_FAILED, (uint32_t)-err,
						    &h->msg);
				h->horizon = 0;
			}
		}
	}
}

/* Appends an accepted command to the log. Returns its LSN, or 0 when the log failed. */
static uint64_t log_record(struct applier *a, uint16_t kind, const struct iovec *iov, unsigned n)
{
	struct cairnd_store *s = &a->d->store;
	int64_t lsn = cairn__wal_append(s->wal, kind, iov, n);
	while (lsn == -ENOBUFS) {
		/*
		 * The open batch is full and a write is in flight: wait for that one write only
		 * (not for everything appended), so that the next batch goes out at once and a
		 * new one gathers behind it. The only stall of the apply thread, and it needs
		 * more records per fsync than a batch buffer holds.
		 */
		cairn__wal_kick(s->wal);
		uint64_t durable = cairn__wal_poll(s->wal);
		int r = durable < cairn__wal_appended(s->wal)
				? cairn__wal_wait(s->wal, durable + 1, -1)
				: 0;
		lsn = r < 0 ? r : cairn__wal_append(s->wal, kind, iov, n);
	}
	if (lsn < 0) {
		const char *what = NULL;
		int r = cairn__wal_error(s->wal, &what);
		log_failed(a, r ? r : (int)lsn, what);
		return 0;
	}
	s->appended = (uint64_t)lsn;
	if (a->d->cfg.durability == CAIRN_DURABILITY_RELAXED && s->flush_due == 0) {
		s->flush_due = cairn__now_ns() + a->d->cfg.flush_ns;
	}
	return (uint64_t)lsn;
}

static void wal_status(struct applier *a, const struct cairn_msg *cmd, struct cairn_msg *out)
{
	struct daemon *d = a->d;
	struct cairnd_store *s = &d->store;
	struct cairn_wal_status w;
	uint32_t detail;
	int code = cairnd_check_header(cmd, &detail);
	if (code) {
		cairnd_error_result(cmd, code, detail, out);
		return;
	}
	memset(out, 0, sizeof(*out));
	memset(&w, 0, sizeof(w));
	out->hdr.type = CAIRN_MSG_WAL_STATUS_REPLY;
	out->hdr.length = CAIRN_MSG_WAL_STATUS_REPLY_LEN_MIN;
	out->hdr.request_id = cmd->hdr.request_id;
	w.appended_lsn = s->appended;
	w.durable_lsn = s->durable;
	w.snapshot_lsn = cairn__load_relaxed(&s->snapshot_lsn);
	w.error = s->failed;
	w.backend = (uint16_t)(s->wal ? s->backend : CAIRN_WAL_NONE);
	w.durability = (uint16_t)(s->wal ? d->cfg.durability : CAIRN_DURABILITY_NONE);
	memcpy(out->payload, &w, sizeof(w));
}

/*
 * Whether the session already had this request accepted (a resubmission after a
 * restart): then *out is the original result and the command is not applied again.
 * Request id 0 is never looked up.
 */
static bool answered_before(struct applier *a, const struct lane *l, const struct cairn_msg *cmd,
			    struct cairn_msg *out)
{
	uint64_t id = cmd->hdr.request_id;
	const struct cairn_msg *dup =
		id ? cairn__dedup_find(a->d->store.dedup, l->session_id, id) : NULL;
	if (!dup) {
		return false;
	}
	*out = *dup;
	a->duplicates++;
	return true;
}

/*
 * The operator commands that need the store thread: SNAPSHOT and ROLLBACK. Their result
 * is held until the store thread answers. Returns the result's horizon.
 */
static uint64_t store_command(struct applier *a, struct lane *l, const struct cairn_msg *cmd,
			      uint64_t ingress, struct cairn_msg *out)
{
	struct daemon *d = a->d;
	struct cairnd_store *s = &d->store;
	uint16_t t = cmd->hdr.type;
	uint32_t detail;
	int code = cairnd_check_header(cmd, &detail);
	if (code) {
		cairnd_error_result(cmd, code, detail, out);
		return s->appended;
	}
	if (!s->wal || !l->held) {
		cairnd_error_result(cmd, CAIRN_E_NO_STORE, 0, out);
		return s->appended;
	}
	if (s->failed) {
		cairnd_error_result(cmd, CAIRN_E_WAL_FAILED, (uint32_t)-s->failed, out);
		return 0;
	}
	if (s->job_running || a->deferred_this_turn) {
		cairnd_error_result(cmd, CAIRN_E_BUSY, 0, out);
		return s->appended;
	}
	if (t == CAIRN_MSG_ROLLBACK) {
		if (answered_before(a, l, cmd, out)) {
			return s->appended;
		}
		struct cairn_rollback rb;
		memcpy(&rb, cmd->payload, sizeof(rb));
		if (rb.lsn > s->durable) {
			cairnd_error_result(cmd, CAIRN_E_ROLLBACK_RANGE, 0, out);
			return s->appended;
		}
	}
	memset(out, 0, sizeof(*out));
	a->deferred_this_turn = true;
	a->pending_job = (struct store_job){
		.kind = t == CAIRN_MSG_SNAPSHOT ? JOB_SNAPSHOT : JOB_ROLLBACK,
		.lane = l,
		.client_id = l->client_id,
		.session = l->session_id,
		.cmd = *cmd,
		.ingress_ns = ingress,
	};
	return HELD_DEFERRED;
}

/*
 * Applies one command and returns the LSN its result must wait for: the LSN of its own
 * record for an accepted change, else the last LSN appended (a read may have seen
 * changes not yet on disk), or HELD_DEFERRED for work handed to the store thread.
 *
 * State-changing commands go through the exactly-once table first: a request id the
 * session already had accepted (a resubmission after a restart) gets its original result
 * and is not applied again. Request id 0 is never looked up or remembered.
 */
static uint64_t apply_one(struct applier *a, struct lane *l, const struct cairn_msg *cmd,
			  uint64_t ingress, struct cairn_msg *out)
{
	struct daemon *d = a->d;
	struct cairnd_store *s = &d->store;
	uint16_t t = cmd->hdr.type;
	if (t == CAIRN_MSG_EVICT) {
		/* Not a change of the game: nothing to log; it waits like any read. */
		evict(a, l, cmd, out);
		cairn__count_command(d->engine_counters, t,
				     out->hdr.type == CAIRN_MSG_ERROR ? out->hdr.status : 0);
		return s->wal ? s->appended : 0;
	}
	if (!s->wal) {
		if (t == CAIRN_MSG_SNAPSHOT || t == CAIRN_MSG_ROLLBACK) {
			cairnd_error_result(cmd, CAIRN_E_NO_STORE, 0, out);
			return 0;
		}
		if (t == CAIRN_MSG_WAL_STATUS) {
			wal_status(a, cmd, out);
			return 0;
		}
		if (cairnd_solver_serves(t)) {
			return cairnd_solver_command(d, l, cmd, out) ? HELD_SOLVER : 0;
		}
		cairnd_handle(d, l, cmd, ingress, out);
		return 0;
	}
	if (cairn__engine_mutates(t)) {
		if (s->failed) {
			cairnd_error_result(cmd, CAIRN_E_WAL_FAILED, (uint32_t)-s->failed, out);
			cairn__count_command(d->engine_counters, t, CAIRN_E_WAL_FAILED);
			return 0;
		}
		uint64_t id = cmd->hdr.request_id;
		if (answered_before(a, l, cmd, out)) {
			return s->appended;
		}
		cairnd_handle(d, l, cmd, ingress, out);
		if (out->hdr.type == CAIRN_MSG_ERROR) {
			return s->appended; /* refused: nothing changed, nothing to log */
		}
		struct cairn__wal_command body = {.session = l->session_id, .ingress_ns = ingress};
		body.msg = *cmd;
		struct iovec iov = {&body, sizeof(body)};
		uint64_t lsn = log_record(a, CAIRN__WAL_COMMAND, &iov, 1);
		if (lsn == 0) {
			/* Applied in memory but never durable: refuse it like the rest. */
			cairnd_error_result(cmd, CAIRN_E_WAL_FAILED, (uint32_t)-s->failed, out);
			return 0;
		}
		if (id && cairn__dedup_put(s->dedup, l->session_id, id, lsn, out) < 0) {
			cairn__warn("exactly-once table: out of memory; request %llu of session "
				    "%016llx would be applied again if resubmitted",
				    (unsigned long long)id, (unsigned long long)l->session_id);
		}
		s->records_since_snapshot++;
		return lsn;
	}
	switch (t) {
	case CAIRN_MSG_WAL_STATUS:
		wal_status(a, cmd, out);
		return 0;
	case CAIRN_MSG_SNAPSHOT:
	case CAIRN_MSG_ROLLBACK:
		return store_command(a, l, cmd, ingress, out);
	case CAIRN_MSG_NEXT_MOVE:
	case CAIRN_MSG_DISTANCE:
	case CAIRN_MSG_PATH:
	case CAIRN_MSG_PATH_TO_CLUE:
		/* A read: answered now, it waits like any query; a job's result comes later. */
		return cairnd_solver_command(d, l, cmd, out) ? HELD_SOLVER : s->appended;
	default:
		cairnd_handle(d, l, cmd, ingress, out);
		return s->appended;
	}
}

/* Rings l's result doorbell, counting the wake-ups it made for the lane and the daemon. */
static inline void ring_results(struct applier *a, struct lane *l)
{
	unsigned w = cairn__doorbell_ring(&l->res.hdr->bell);
	a->wakes += w;
	l->wakes += w;
}

/* Publishes the held results of l whose commands are durable, in order. */
static void publish_held(struct applier *a, struct lane *l)
{
	uint64_t durable = a->d->store.durable;
	unsigned k = 0;
	while (l->held_n && l->held[l->held_head].horizon <= durable) {
		/* The slot was checked free when the command was taken (serve). */
		cairn__ring_owner_push(&l->res, &l->held[l->held_head].msg);
		l->held_head = (l->held_head + 1) & (uint32_t)l->res.mask;
		k++;
		if (--l->held_n == 0) {
			a->holding--;
		}
	}
	if (k) {
		a->results += k;
		ring_results(a, l);
	}
}

/*
 * Publishes the result of a finished path job on l, in the slot its command reserved:
 * at once when nothing waits before it, else after the held results (it may have seen
 * changes not yet durable, like any read).
 */
static void publish_solved(struct applier *a, struct lane *l, const struct cairn_msg *out)
{
	struct daemon *d = a->d;
	l->solving--;
	a->errors += out->hdr.type == CAIRN_MSG_ERROR;
	l->errors += out->hdr.type == CAIRN_MSG_ERROR;
	if (!l->held || (l->held_n == 0 && !cairnd_store_hold(d))) {
		cairn__ring_owner_push(&l->res, out);
		a->results++;
		ring_results(a, l);
		return;
	}
	struct held *h = &l->held[(l->held_head + l->held_n) & l->res.mask];
	h->msg = *out;
	h->horizon = cairnd_store_hold(d) && !d->store.failed ? d->store.appended : 0;
	if (l->held_n++ == 0) {
		a->holding++;
	}
	publish_held(a, l);
}

/* Publishes the answers of the path jobs the workers finished, in the order they did. */
static unsigned take_solved(struct applier *a)
{
	struct cairnd_path_job *j = cairnd_solver_take_done(a->d);
	unsigned n = 0;
	while (j) {
		struct cairnd_path_job *next = j->next;
		struct lane *l = j->lane;
		struct cairn_msg out;
		if (cairnd_solver_finish(a->d, j, &out)) {
			publish_solved(a, l, &out);
		}
		j = next;
		n++;
	}
	return n;
}

/* Hands the store thread the job taken this turn, now that its result has a slot. */
static void post_job(struct applier *a, uint32_t index)
{
	struct cairnd_store *s = &a->d->store;
	a->pending_job.held_index = index;
	s->job_running = true;
	pthread_mutex_lock(&s->lock);
	s->job = a->pending_job;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/*
 * Applies a rollback whose hunt image the store thread computed: puts the hunt back,
 * then logs the command with the image, so that replaying the log repeats it exactly.
 * Returns the result's horizon.
 */
static uint64_t rollback(struct applier *a, const struct store_job *job, struct cairn_msg *out)
{
	struct daemon *d = a->d;
	struct cairnd_store *s = &d->store;
	struct cairn_rollback rb;
	memcpy(&rb, job->cmd.payload, sizeof(rb));
	if (job->status < 0) {
		int code =
			-job->status >= CAIRN_E_BAD_MAGIC ? -job->status : CAIRN_E_ROLLBACK_RANGE;
		cairnd_error_result(&job->cmd, code, 0, out);
		return s->appended;
	}
	if (s->failed) {
		cairnd_error_result(&job->cmd, CAIRN_E_WAL_FAILED, (uint32_t)-s->failed, out);
		return 0;
	}
	uint64_t body_len = sizeof(struct cairn__wal_command) + job->image_len;
	if (body_len > CAIRN__WAL_MAX_BODY ||
	    cairn__wal_rec_size((uint32_t)body_len) + CAIRN__WAL_SEG_HEADER >
		    d->cfg.wal_segment_bytes) {
		cairn__warn(
			"rollback of hunt %08x: its image (%zu bytes) does not fit a log segment "
			"(--wal-segment-mb)",
			rb.hunt_id, job->image_len);
		cairnd_error_result(&job->cmd, CAIRN_E_BAD_VALUE, 0, out);
		return s->appended;
	}
	uint32_t players = 0, clues = 0;
	int r = cairn__engine_hunt_replace(d->engine, rb.hunt_id, job->image, job->image_len,
					   rb.lsn, &players, &clues);
	if (r < 0) {
		cairnd_error_result(&job->cmd, -r >= CAIRN_E_BAD_MAGIC ? -r : CAIRN_E_BAD_SNAPSHOT,
				    0, out);
		cairn__count_command(d->engine_counters, CAIRN_MSG_ROLLBACK, out->hdr.status);
		return s->appended;
	}
	struct cairn__wal_command body = {.session = job->session, .ingress_ns = ingress_stamp(d)};
	body.msg = job->cmd;
	struct iovec iov[2] = {{&body, sizeof(body)}, {job->image, job->image_len}};
	uint64_t lsn = log_record(a, CAIRN__WAL_ROLLBACK, iov, 2);
	if (lsn == 0) {
		cairnd_error_result(&job->cmd, CAIRN_E_WAL_FAILED, (uint32_t)-s->failed, out);
		return 0;
	}
	cairn__rollback_result(&job->cmd, lsn, players, clues, out);
	if (job->cmd.hdr.request_id) {
		cairn__dedup_put(s->dedup, job->session, job->cmd.hdr.request_id, lsn, out);
	}
	cairn__count_command(d->engine_counters, CAIRN_MSG_ROLLBACK, 0);
	cairn__info("rolled hunt %08x back to LSN %llu (logged as LSN %llu): %u players, %u clues",
		    rb.hunt_id, (unsigned long long)rb.lsn, (unsigned long long)lsn, players,
		    clues);
	return lsn;
}

/* Takes the store thread's answer, if there is one, into its held result. */
static void take_job_answer(struct applier *a)
{
	struct daemon *d = a->d;
	struct cairnd_store *s = &d->store;
	/* Acquire pairs with the store thread's release: the answer is complete. */
	if (!cairn__load_acquire(&s->done_flag)) {
		return;
	}
	pthread_mutex_lock(&s->lock);
	struct store_job job = s->done;
	s->done.kind = JOB_NONE;
	s->done.image = NULL;
	cairn__store_relaxed(&s->done_flag, 0);
	pthread_mutex_unlock(&s->lock);
	s->job_running = false;

	struct cairn_msg out;
	uint64_t horizon = s->failed || !cairnd_store_hold(d) ? 0 : s->appended;
	if (job.kind == JOB_SNAPSHOT) {
		if (job.status < 0) {
			cairnd_error_result(&job.cmd, -job.status, 0, &out);
		} else {
			cairnd_reply(&job.cmd, CAIRN_MSG_SNAPSHOT_TAKEN,
				     CAIRN_MSG_SNAPSHOT_TAKEN_LEN_MIN, &out);
			memcpy(out.payload, &job.snap, sizeof(job.snap));
		}
	} else {
		horizon = rollback(a, &job, &out);
		if (!cairnd_store_hold(d)) {
			horizon = 0;
		}
	}
	free(job.image);
	struct lane *l = job.lane;
	if (l->client_id != job.client_id || !l->held) {
		return; /* the client left meanwhile */
	}
	struct held *h = &l->held[job.held_index];
	h->msg = out;
	h->horizon = horizon;
	publish_held(a, l);
}

/*
 * Serves one turn of lane l: up to cfg.batch commands, each only when its result has
 * room. Returns how many commands were applied.
 *
 * The turn works in phases: copy commands out of the ring while their results have room,
 * start the memory loads every command will need (the engine's prefetch), apply
 * them in order, and publish the results. Starting the loads of a whole batch before
 * applying any overlaps their cache misses, which on a large game is where the time goes;
 * the price is that a turn's results are published together (32 commands: a few µs).
 */
static unsigned serve(struct applier *a, struct lane *l)
{
	struct daemon *d = a->d;
	struct cairn_msg cmds[CAIRND_MAX_BATCH], outs[CAIRND_MAX_BATCH];
	uint64_t horizon[CAIRND_MAX_BATCH];
	unsigned max = d->cfg.batch < CAIRND_MAX_BATCH ? d->cfg.batch : CAIRND_MAX_BATCH;
	/* Never look a lap ahead: a ring smaller than the batch holds only capacity results. */
	uint32_t owed = l->held_n + l->solving; /* result slots already spoken for */
	if (max > (uint64_t)l->res.mask + 1 - owed) {
		max = (unsigned)(l->res.mask + 1 - owed);
	}
	unsigned n = 0;
	bool emptied = false; /* the command ring was found empty */
	/*
	 * Take a command only while its result has a free slot (seq == pos): a slot still
	 * holding last lap's result (seq == pos - mask) means the client has not read it,
	 * and any other value was written by the client, which drops the lane. Results held
	 * back for the log own the slots after the cursor. Checking room command by command,
	 * rather than counting it first, reads one result slot for a lone command instead of
	 * a batch's worth.
	 */
	while (n < max) {
		uint64_t pos = l->res.cursor + owed + n;
		uint64_t seq = cairn__load_acquire(&l->res.slots[pos & l->res.mask].seq);
		if (seq != pos) {
			if (seq != pos - l->res.mask) {
				drop_lane(a, l, "result ring sequence numbers were overwritten");
				return 0;
			}
			if (!l->blocked && cairn__ring_owner_readable(&l->cmd)) {
				l->blocked = true;
				a->full++;
				l->full++;
			}
			break;
		}
		int got = cairn__ring_owner_pop(&l->cmd, &cmds[n]);
		if (got != CAIRN__RING_OK) {
			if (got == CAIRN__RING_CORRUPT) {
				drop_lane(a, l, "command ring sequence numbers were overwritten");
				return 0;
			}
			emptied = true;
			break;
		}
		n++;
	}
	if (l->m) {
		/*
		 * Push to apply: every command taken now waited at most since the ring was
		 * last seen empty (or since the attach).
		 */
		if (n) {
			uint64_t since = l->last_empty_ns ? l->last_empty_ns : l->attached_ns;
			uint64_t wait = a->now > since ? a->now - since : 0;
			l->wait_hist[cairn__hist_bucket(wait)] += n;
			l->wait_sum += wait * n;
		}
		if (emptied) {
			l->last_empty_ns = a->now;
		}
	}
	if (n == 0) {
		return 0;
	}
	l->blocked = false;
	uint64_t ingress = ingress_stamp(d);
	for (unsigned i = 0; i < n; i++) {
		cairn__engine_prefetch(d->engine, &cmds[i]);
	}
	unsigned solving = 0;
	for (unsigned i = 0; i < n; i++) {
		horizon[i] = apply_one(a, l, &cmds[i], ingress, &outs[i]);
		if (horizon[i] == HELD_SOLVER) {
			solving++;
		} else {
			a->errors += outs[i].hdr.type == CAIRN_MSG_ERROR;
			l->errors += outs[i].hdr.type == CAIRN_MSG_ERROR;
		}
	}
	a->commands += n;
	if (!l->held || (l->held_n == 0 && !cairnd_store_hold(d) && !a->deferred_this_turn)) {
		unsigned k = 0;
		for (unsigned i = 0; i < n; i++) {
			if (horizon[i] != HELD_SOLVER) {
				cairn__ring_owner_push(&l->res, &outs[i]);
				k++;
			}
		}
		/* After the pushes: a job's slot comes after every result published now. */
		l->solving += solving;
		if (k) {
			a->results += k;
			ring_results(a, l);
		}
		return n;
	}
	/* Results wait, in order, for the log (and deferred ones for the store thread). */
	uint32_t mask = l->res.mask;
	l->solving += solving;
	for (unsigned i = 0; i < n; i++) {
		if (horizon[i] == HELD_SOLVER) {
			continue;
		}
		struct held *h = &l->held[(l->held_head + l->held_n) & mask];
		h->msg = outs[i];
		/* After a log failure nothing waits for the disk any more: it will not come. */
		bool wait =
			(cairnd_store_hold(d) && !d->store.failed) || horizon[i] == HELD_DEFERRED;
		h->horizon = wait ? horizon[i] : 0;
		if (horizon[i] == HELD_DEFERRED) {
			post_job(a, (l->held_head + l->held_n) & mask);
		}
		if (l->held_n++ == 0) {
			a->holding++;
		}
	}
	a->deferred_this_turn = false;
	publish_held(a, l);
	return n;
}

/*
 * The log's side of a turn: submits what gathered (at once in sync mode, within
 * --flush-ms in relaxed mode), reaps finished writes without a syscall, publishes the
 * results whose commands are now durable, and notices a failed log.
 */
static void store_tick(struct applier *a)
{
	struct daemon *d = a->d;
	struct cairnd_store *s = &d->store;
	take_job_answer(a);
	if (s->appended == s->durable && !s->failed) {
		return;
	}
	/*
	 * Sync mode writes whenever the disk is free (group commit). Relaxed mode writes when
	 * --flush-ms has passed since the first record waiting, or as soon as a batch is big
	 * enough to be worth a write: waiting longer would only fill the batch buffer and
	 * stall the apply thread on it.
	 */
	if (!cairn__wal_busy(s->wal) && (d->cfg.durability != CAIRN_DURABILITY_RELAXED ||
					 s->appended - s->kicked >= RELAXED_BATCH_RECORDS ||
					 (s->flush_due && cairn__now_ns() >= s->flush_due))) {
		s->flush_due = 0;
		s->kicked = s->appended;
		cairn__wal_kick(s->wal);
	}
	uint64_t durable = cairn__wal_poll(s->wal);
	const char *what = NULL;
	int err = cairn__wal_error(s->wal, &what);
	if (err && !s->failed) {
		log_failed(a, err, what);
	}
	if (durable != s->durable || err) {
		if (durable > s->durable) {
			s->durable = durable;
			/* Release: for the store thread, which reads the log up to it. */
			cairn__store_release(&s->durable_lsn, durable);
		}
		for (unsigned i = 0; a->holding && i < a->nactive; i++) {
			publish_held(a, a->active[i]);
		}
	}
}

/* Whether the log or the store thread has work out that a turn must come back for. */
static bool store_waiting(const struct applier *a)
{
	const struct cairnd_store *s = &a->d->store;
	return s->wal && ((s->appended > s->durable && !s->failed) || s->job_running);
}

/*
 * After a turn that published events: wakes the readers asleep on the event ring, if
 * some lane says it has any. A host cannot write to the state segment, so it announces
 * its sleeping readers in its own lane; the value is only a hint to make the syscall,
 * and a lying host costs itself nothing but a wake-up per turn.
 */
static void wake_event_readers(struct applier *a)
{
	uint64_t t = cairn__engine_events_published(a->d->engine);
	if (t == a->events_seen) {
		return;
	}
	a->events_seen = t;
	/* Orders the event publication before the sleepers loads (doorbell.h's Dekker). */
	cairn__fence_seq_cst();
	for (unsigned i = 0; i < a->nactive; i++) {
		struct cairn_lane_header *h = a->active[i]->base;
		if (cairn__load_relaxed(&h->event_sleepers) != 0) {
			cairn__engine_wake_event_readers(a->d->engine);
			a->wakes++;
			return;
		}
	}
}

/*
 * Sleeps until a command doorbell or the control doorbell rings, or a timeout (at most
 * max_ns when not 0).
 */
static void sleep_on_lanes(struct applier *a, int64_t max_ns)
{
	struct daemon *d = a->d;
	struct cairn__waitv v[CAIRN__WAITV_MAX];
	unsigned n = 0;
	bool any_blocked = false;

	/*
	 * apply_bell is woken with a shared FUTEX_WAKE (cairn__futex_wake), so it must be
	 * waited on as a shared futex too: a private wait has a different key and would
	 * never see that wake.
	 */
	v[n++] = (struct cairn__waitv){&d->apply_bell, cairn__load_acquire(&d->apply_bell), 0};
	bool use_waitv = a->waitv_ok && a->nactive + 1 <= CAIRN__WAITV_MAX;
	for (unsigned i = 0; i < a->nactive; i++) {
		struct lane *l = a->active[i];
		any_blocked |= l->blocked;
		if (use_waitv && !l->blocked) {
			struct cairn_doorbell *b = &l->cmd.hdr->bell;
			v[n++] = (struct cairn__waitv){&b->word, cairn__doorbell_prepare(b), 0};
		}
	}
	/* Re-check after announcing ourselves (the doorbell protocol in doorbell.h). */
	bool ready = cairn__load_acquire(&d->apply_pending) || cairn__load_acquire(&d->stopping) ||
		     cairn__load_acquire(&d->solver.done_flag);
	for (unsigned i = 0; i < a->nactive && !ready; i++) {
		ready = !a->active[i]->blocked && cairn__ring_owner_readable(&a->active[i]->cmd);
	}
	if (!ready) {
		a->sleeps++;
		publish_counters(a);
		int64_t t = any_blocked || !use_waitv ? BLOCKED_SLEEP_NS : SLEEP_NS;
		if (max_ns && t > max_ns) {
			t = max_ns;
		}
		if (use_waitv) {
			int r = cairn__futex_waitv(v, n, t);
			if (r == -ENOSYS || r == -EPERM) {
				cairn__warn("futex_waitv is not available (%s): idle lanes are "
					    "polled every %d us instead",
					    r == -ENOSYS ? "kernel older than 5.16"
							 : "blocked by seccomp",
					    BLOCKED_SLEEP_NS / 1000);
				a->waitv_ok = false;
			}
		} else {
			cairn__futex_wait(&d->apply_bell, v[0].expected, t);
		}
	}
	for (unsigned i = 0; i < a->nactive; i++) {
		struct lane *l = a->active[i];
		if (use_waitv && !l->blocked) {
			cairn__doorbell_cancel(&l->cmd.hdr->bell);
		}
	}
}

/*
 * True when no active lane has a command waiting. A lane whose result ring is full still
 * counts as waiting: its client may yet read, and the drain timeout bounds the wait.
 */
static bool drained(struct applier *a)
{
	if (a->holding || store_waiting(a) || a->d->solver.jobs_out) {
		return false;
	}
	for (unsigned i = 0; i < a->nactive; i++) {
		if (cairn__ring_owner_readable(&a->active[i]->cmd)) {
			return false;
		}
	}
	return true;
}

void *cairnd_apply_main(void *arg)
{
	struct daemon *d = arg;
	struct applier a = {.d = d, .waitv_ok = true};
	struct cairn__idle idle;
	uint64_t last_beat = 0, drain_deadline = 0;
	unsigned loops = 0;

	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of lane pointers */
	a.active = calloc(d->cfg.max_clients, sizeof(a.active[0]));
	if (!a.active) {
		cairn__error("apply thread: out of memory");
		d->apply_result = -ENOMEM;
		return NULL;
	}
	cairn__idle_init(&idle, d->cfg.spin_ns, d->cfg.yield_ns);
	for (;;) {
		take_control_messages(&a);
		if (d->dmetrics) {
			a.now = cairn__now_ns(); /* the metrics' clock: one read a turn */
		}
		unsigned did = 0;
		unsigned na = a.nactive;
		for (unsigned k = 0; k < na && a.nactive; k++) {
			unsigned i = (a.next + k) % a.nactive;
			did += serve(&a, a.active[i]);
		}
		if (a.nactive) {
			a.next = (a.next + 1) % a.nactive;
		}
		if (d->solver.jobs_out) {
			did += take_solved(&a);
		}
		if (d->store.wal) {
			store_tick(&a);
		}
		if (did) {
			wake_event_readers(&a);
		}
		/*
		 * The clock is read every 256 turns only: on an idle turn it would delay
		 * noticing the next command, which is the latency every host sees.
		 */
		if ((++loops & 255) == 0) {
			uint64_t now = cairn__now_ns();
			if (now - last_beat >= HEARTBEAT_NS) {
				last_beat = now;
				/* Relaxed: a liveness stamp, read on its own. */
				cairn__store_relaxed(&d->hdr->heartbeat_ns, now);
				publish_counters(&a);
			}
		}
		if (cairn__load_acquire(&d->stopping)) {
			uint64_t now = cairn__now_ns();
			if (!drain_deadline) {
				drain_deadline = now + d->cfg.drain_timeout_ns;
			}
			if (drained(&a)) {
				break;
			}
			if (now >= drain_deadline) {
				cairn__warn(
					"drain timed out: some clients did not read their results");
				break;
			}
		}
		if (did) {
			cairn__idle_reset(&idle);
		} else if (cairn__idle_step(&idle)) {
			if (store_waiting(&a)) {
				/*
				 * The log has a write out or the store thread a job: wait for the
				 * disk briefly (so that new commands are not kept waiting behind a
				 * slow one) rather than on the doorbells, which it cannot ring.
				 */
				if (d->store.appended > d->store.durable && !d->store.failed) {
					cairn__wal_wait(d->store.wal, d->store.appended,
							100 * 1000);
				} else {
					sleep_on_lanes(&a, BLOCKED_SLEEP_NS);
				}
			} else {
				/*
				 * No reset here: after a sleep that found nothing to do, the next
				 * empty turn goes straight back to sleep instead of spinning again.
				 */
				sleep_on_lanes(&a, 0);
			}
			uint64_t now = cairn__now_ns();
			last_beat = now;
			cairn__store_relaxed(&d->hdr->heartbeat_ns, now);
		}
	}
	if (d->store.wal) {
		/* What was appended is written before the results that wait for it go out. */
		cairn__wal_wait(d->store.wal, d->store.appended, (int64_t)d->cfg.drain_timeout_ns);
		store_tick(&a);
		if (a.duplicates) {
			cairn__info("%llu resubmitted requests were answered from the exactly-once "
				    "table",
				    (unsigned long long)a.duplicates);
		}
	}
	publish_counters(&a);
	cairn__info("apply thread: drained; %llu commands applied", (unsigned long long)a.commands);
	free(a.active);
	return NULL;
}
