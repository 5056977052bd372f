/*
 * Reading the state segment, and the rates between two readings.
 *
 * The daemon writes every counter with one writer and relaxed stores, and ringtop wants
 * recent values, not an order between them: each word is taken with one relaxed atomic
 * load (cairn__seq_copy_out copies a block that way), so it is never torn. A lane's
 * identity (client, pid, name) is written by the control thread under the record's
 * seqlock and read under it here.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "common/atomic.h"
#include "common/clock.h"
#include "ringtop.h"
#include "shm/seqlock.h"

/* The identity part of a lane record: what seq guards. */
#define IDENTITY_BYTES offsetof(struct cairn_lane_metrics, commands)
_Static_assert(IDENTITY_BYTES == 128, "lane_metrics: identity is the first 128 bytes");
_Static_assert(sizeof(struct cairn_lane_metrics) % 8 == 0, "lane_metrics: whole words");
_Static_assert(sizeof(struct cairn_wal_metrics) % 8 == 0, "wal_metrics: whole words");
_Static_assert(sizeof(struct cairn_daemon_metrics) % 8 == 0, "daemon_metrics: whole words");

/* Tries before a lane under rewrite is left out of a sample. */
#define SEQ_TRIES 200

/*
 * Reads lane record m into *l. Returns 1 when a client holds it, 0 when it is free or
 * its identity could not be read whole (the control thread kept rewriting it).
 */
static int read_lane(const struct cairn_lane_metrics *m, struct rt_lane *l)
{
	struct cairn_lane_metrics c;
	for (int tries = 0; tries < SEQ_TRIES; tries++) {
		uint64_t s = cairn__seq_read_begin(&m->seq);
		if (s & 1) {
			/* The control thread is at work: a few stores, then it is done. */
			if (tries < 100) {
				cairn__cpu_relax();
			} else {
				sched_yield();
			}
			continue;
		}
		cairn__seq_copy_out(&c, m, IDENTITY_BYTES);
		/*
		 * The counters belong to the slot, not under seq, but are read inside the
		 * section anyway: when the client changes meanwhile, the retry reads them
		 * again, so identity and counters come from the same client.
		 */
		cairn__seq_copy_out((uint8_t *)&c + IDENTITY_BYTES,
				    (const uint8_t *)m + IDENTITY_BYTES,
				    sizeof(c) - IDENTITY_BYTES);
		if (!cairn__seq_read_ok(&m->seq, s)) {
			continue;
		}
		if (c.client_id == 0) {
			return 0;
		}
		l->client_id = c.client_id;
		l->attached_ns = c.attached_ns;
		l->session_id = c.session_id;
		l->pid = c.pid;
		l->uid = c.uid;
		l->gid = c.gid;
		l->cmd_capacity = c.cmd_capacity;
		l->res_capacity = c.res_capacity;
		/* Another process's bytes: keep them printable, whatever they hold. */
		size_t n = 0;
		for (; n < CAIRN_NAME_SIZE && c.name[n]; n++) {
			l->name[n] = c.name[n] >= 0x20 && c.name[n] < 0x7f ? (char)c.name[n] : '?';
		}
		l->name[n] = '\0';
		l->commands = c.commands;
		l->results = c.results;
		l->errors = c.errors;
		l->full = c.full;
		l->wakes = c.wakes;
		l->cmd_pushed = c.cmd_pushed;
		l->res_popped = c.res_popped;
		l->wait_ns_sum = c.wait_ns_sum;
		l->held = c.held;
		l->solving = c.solving;
		memcpy(l->wait_hist, c.wait_hist, sizeof(l->wait_hist));
		return 1;
	}
	return 0;
}

int rt_sample_read(const struct cairn__observed *o, struct rt_sample *s)
{
	const uint8_t *base = o->base;
	const struct cairn_state_header *h = o->base;
	s->at_ns = cairn__now_ns();
	/* Written once at startup, before the segment was handed out. */
	s->daemon_pid = h->daemon_pid;
	s->max_lanes = h->max_lanes;
	s->apply_cpu = h->apply_cpu;
	s->numa_node = h->numa_node;
	s->boot_epoch_ns = h->boot_epoch_ns;
	s->daemon_state = cairn__load_relaxed(&h->daemon_state);
	s->heartbeat_ns = cairn__load_relaxed(&h->heartbeat_ns);
	cairn__seq_copy_out(&s->counters, base + h->counters_offset, sizeof(s->counters));
	cairn__seq_copy_out(&s->engine, base + h->engine_counters_offset, sizeof(s->engine));
	s->has_grid = false;
	s->hunts = s->entities = 0;
	if (h->grid_offset && h->grid_size >= sizeof(struct cairn_grid_header)) {
		const struct cairn_grid_header *g = (const void *)(base + h->grid_offset);
		s->has_grid = true;
		s->hunts = cairn__load_relaxed(&g->hunts);
		s->entities = cairn__load_relaxed(&g->entities);
	}
	s->n_lanes = 0;
	s->metrics = o->metrics_err == 0 && o->metrics.on;
	if (!s->metrics) {
		memset(&s->dm, 0, sizeof(s->dm));
		memset(&s->wal, 0, sizeof(s->wal));
		s->start_ns = 0;
		return 0;
	}
	const struct cairn__metrics_view *mv = &o->metrics;
	s->start_ns = mv->hdr->start_ns;
	cairn__seq_copy_out(&s->dm, mv->daemon, sizeof(s->dm));
	cairn__seq_copy_out(&s->wal, mv->wal, sizeof(s->wal));
	if (s->cap_lanes < mv->lane_count) {
		struct rt_lane *n = realloc(s->lanes, mv->lane_count * sizeof(*n));
		if (!n) {
			return -ENOMEM;
		}
		s->lanes = n;
		s->cap_lanes = mv->lane_count;
	}
	for (uint32_t i = 0; i < mv->lane_count; i++) {
		struct rt_lane *l = &s->lanes[s->n_lanes];
		if (read_lane(cairn__metrics_lane(mv, i), l)) {
			l->id = i;
			s->n_lanes++;
		}
	}
	return 0;
}

void rt_sample_free(struct rt_sample *s)
{
	free(s->lanes);
	s->lanes = NULL;
	s->cap_lanes = s->n_lanes = 0;
}

void rt_hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
	/* Bucket 0 holds [0, 2) ns, bucket i [2^i, 2^(i+1)), the last one 2^39 and up. */
	*lo = i == 0 ? 0 : 1ull << i;
	*hi = i + 1 >= CAIRN_HIST_BUCKETS ? 0 : 1ull << (i + 1);
}

double rt_hist_quantile(const uint64_t *hist, double q)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		total += hist[i];
	}
	if (total == 0) {
		return -1;
	}
	double rank = q * (double)total;
	if (rank < 1) {
		rank = 1;
	}
	double cum = 0;
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		if (hist[i] == 0) {
			continue;
		}
		if (cum + (double)hist[i] >= rank) {
			uint64_t lo, hi;
			rt_hist_bounds(i, &lo, &hi);
			if (hi == 0) {
				return (double)lo;
			}
			double frac = (rank - cum) / (double)hist[i];
			return (double)lo + (double)(hi - lo) * frac;
		}
		cum += (double)hist[i];
	}
	return -1;
}

/* b - a for a counter that only grows; 0 when it went back (a reused slot). */
static uint64_t delta(uint64_t b, uint64_t a)
{
	return b >= a ? b - a : 0;
}

static void lane_rates(const struct rt_sample *prev, const struct rt_lane *l, double dt,
		       struct rt_lane_rates *r)
{
	memset(r, 0, sizeof(*r));
	r->p50_ns = r->p99_ns = -1;
	const struct rt_lane *p = NULL;
	/* Both arrays are by ascending lane id: a binary search finds the same lane. */
	uint32_t lo = 0, hi = prev->n_lanes;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (prev->lanes[mid].id < l->id) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo < prev->n_lanes && prev->lanes[lo].id == l->id) {
		p = &prev->lanes[lo];
	}
	/* Another client on the slot (or none before): its rates start over. */
	if (!p || p->client_id != l->client_id || dt <= 0 || l->commands < p->commands) {
		return;
	}
	r->valid = true;
	r->d_commands = l->commands - p->commands;
	r->cmd = (double)r->d_commands / dt;
	r->res = (double)delta(l->results, p->results) / dt;
	r->err = (double)delta(l->errors, p->errors) / dt;
	r->full = (double)delta(l->full, p->full) / dt;
	r->wakes = (double)delta(l->wakes, p->wakes) / dt;
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		r->hist[i] = delta(l->wait_hist[i], p->wait_hist[i]);
	}
	r->p50_ns = rt_hist_quantile(r->hist, 0.50);
	r->p99_ns = rt_hist_quantile(r->hist, 0.99);
}

/* The daemon's CPU, from its own samples: a rate between two that differ. */
static void cpu_step(struct rt_cpu *c, const struct cairn_daemon_metrics *m)
{
	if (m->sampled_ns == 0 || m->sampled_ns == c->sampled_ns) {
		return;
	}
	if (c->sampled_ns && m->sampled_ns > c->sampled_ns && m->cpu_ns >= c->cpu_ns &&
	    m->apply_cpu_ns >= c->apply_ns) {
		double dt = (double)(m->sampled_ns - c->sampled_ns);
		c->pct = 100.0 * (double)(m->cpu_ns - c->cpu_ns) / dt;
		c->apply_pct = 100.0 * (double)(m->apply_cpu_ns - c->apply_ns) / dt;
	}
	c->sampled_ns = m->sampled_ns;
	c->cpu_ns = m->cpu_ns;
	c->apply_ns = m->apply_cpu_ns;
}

int rt_view_step(struct rt_view *v, const struct cairn__observed *o)
{
	/* The sample before becomes prev; its lane array is reused for the new one. */
	struct rt_sample old = v->prev;
	v->prev = v->cur;
	v->cur = old;
	int r = rt_sample_read(o, &v->cur);
	if (r < 0) {
		return r;
	}
	v->have_prev = v->prev.at_ns != 0 && v->prev.daemon_pid == v->cur.daemon_pid &&
		       v->prev.boot_epoch_ns == v->cur.boot_epoch_ns;
	if (v->cap_rates < v->cur.n_lanes) {
		struct rt_lane_rates *n = realloc(v->rates, v->cur.n_lanes * sizeof(*n));
		if (!n) {
			return -ENOMEM;
		}
		v->rates = n;
		v->cap_rates = v->cur.n_lanes;
	}
	if (v->cur.metrics) {
		cpu_step(&v->cpu, &v->cur.dm);
	}
	const struct rt_sample *c = &v->cur, *p = &v->prev;
	double dt = v->have_prev ? (double)(c->at_ns - p->at_ns) / 1e9 : 0;
	v->dt_s = dt;
	v->sync_p50_ns = v->sync_p99_ns = -1;
	memset(v->sync_hist, 0, sizeof(v->sync_hist));
	if (!v->have_prev || dt <= 0) {
		v->cmd_s = v->res_s = v->err_s = v->full_s = 0;
		v->applied_s = v->moves_s = v->claims_s = v->rejected_s = 0;
		v->wal_rec_s = v->wal_bytes_s = v->wal_batches_s = 0;
		struct rt_sample none = {0};
		for (uint32_t i = 0; i < c->n_lanes; i++) {
			lane_rates(&none, &c->lanes[i], 0, &v->rates[i]);
		}
		return 0;
	}
	v->cmd_s = (double)delta(c->counters.commands, p->counters.commands) / dt;
	v->res_s = (double)delta(c->counters.results, p->counters.results) / dt;
	v->err_s = (double)delta(c->counters.errors, p->counters.errors) / dt;
	v->full_s = (double)delta(c->counters.result_ring_full, p->counters.result_ring_full) / dt;
	v->applied_s = (double)delta(c->engine.applied, p->engine.applied) / dt;
	v->moves_s = (double)delta(c->engine.moves, p->engine.moves) / dt;
	v->claims_s = (double)delta(c->engine.claims, p->engine.claims) / dt;
	v->rejected_s = (double)delta(c->engine.rejected, p->engine.rejected) / dt;
	v->wal_rec_s = (double)delta(c->wal.records, p->wal.records) / dt;
	v->wal_bytes_s = (double)delta(c->wal.bytes, p->wal.bytes) / dt;
	v->wal_batches_s = (double)delta(c->wal.batches, p->wal.batches) / dt;
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		v->sync_hist[i] = delta(c->wal.sync_hist[i], p->wal.sync_hist[i]);
	}
	v->sync_p50_ns = rt_hist_quantile(v->sync_hist, 0.50);
	v->sync_p99_ns = rt_hist_quantile(v->sync_hist, 0.99);
	for (uint32_t i = 0; i < c->n_lanes; i++) {
		lane_rates(p, &c->lanes[i], dt, &v->rates[i]);
	}
	return 0;
}

void rt_view_init(struct rt_view *v)
{
	memset(v, 0, sizeof(*v));
	v->cpu.pct = v->cpu.apply_pct = -1;
}

void rt_view_reset(struct rt_view *v)
{
	v->have_prev = false;
	v->prev.at_ns = 0;
	v->prev.n_lanes = 0;
	v->cur.at_ns = 0;
	v->cur.n_lanes = 0;
	memset(&v->cpu, 0, sizeof(v->cpu));
	v->cpu.pct = v->cpu.apply_pct = -1;
}

void rt_view_free(struct rt_view *v)
{
	rt_sample_free(&v->cur);
	rt_sample_free(&v->prev);
	free(v->rates);
	v->rates = NULL;
	v->cap_rates = 0;
}
