/*
 * Asynchronous commands: many promises in flight on one connection, none of which
 * blocks the JS thread.
 *
 * The JS thread pushes each command itself with cairn_submit (a push into shared
 * memory, no syscall unless the daemon sleeps) under a request id of its own, and
 * files it in a table by that id. One waiter thread per client takes the results with
 * cairn_wait and cairn_poll_batch, finds each one's entry, and hands it to the JS thread
 * as a completion. So any number of callers pipeline through the lane, instead of each
 * holding a thread in cairn_call. The ids come from a counter of this client: they never
 * have CAIRN_CALL_ID_BIT (cairn_call's synchronous calls, on the same connection, use
 * that half), and they are unique for the connection's life, which libcairn's
 * resubmission after a daemon restart requires.
 *
 * A command that finds the ring full (-EAGAIN: results not yet taken, or a reattach
 * under way) waits in a backlog, in order, which the waiter pushes as results drain.
 * Deadlines are checked by the waiter every few milliseconds; a late answer to a command
 * that timed out finds no entry and is dropped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"

#define WAIT_SLICE_NS (20 * 1000 * 1000)
#define SCAN_EVERY_NS (5 * 1000 * 1000)
#define POLL_BATCH    64

static struct pending **bucket(struct router *r, uint64_t id)
{
	return &r->table[id & (ROUTER_BUCKETS - 1)];
}

static void table_insert(struct router *r, struct pending *p)
{
	struct pending **b = bucket(r, p->id);
	p->hnext = *b;
	*b = p;
	r->count++;
}

static struct pending *table_take(struct router *r, uint64_t id)
{
	for (struct pending **pp = bucket(r, id); *pp; pp = &(*pp)->hnext) {
		if ((*pp)->id == id) {
			struct pending *p = *pp;
			*pp = p->hnext;
			r->count--;
			return p;
		}
	}
	return NULL;
}

static void backlog_append(struct router *r, struct pending *p)
{
	p->qnext = NULL;
	if (r->backlog_tail) {
		r->backlog_tail->qnext = p;
	} else {
		r->backlog_head = p;
	}
	r->backlog_tail = p;
}

static void backlog_remove(struct router *r, struct pending *p)
{
	struct pending *prev = NULL;
	for (struct pending *q = r->backlog_head; q; prev = q, q = q->qnext) {
		if (q == p) {
			if (prev) {
				prev->qnext = q->qnext;
			} else {
				r->backlog_head = q->qnext;
			}
			if (r->backlog_tail == q) {
				r->backlog_tail = prev;
			}
			return;
		}
	}
}

/* Hands p's completion to the JS thread (lock held); frees p. Returns whether to wake. */
static bool finish(struct addon_client *ac, struct pending *p, int rc, const struct cairn_msg *res)
{
	struct completion *d = p->done;
	d->rc = rc;
	if (res) {
		d->msg = *res;
	}
	free(p);
	return addon_complete_locked(ac, d);
}

/* Pushes the backlog in order until the ring is full again (lock held). */
static bool flush_backlog(struct addon_client *ac)
{
	struct router *r = &ac->router;
	bool wake = false;
	while (r->backlog_head) {
		struct pending *p = r->backlog_head;
		int rc = cairn_submit(ac->c, &p->cmd);
		if (rc == -EAGAIN) {
			break;
		}
		r->backlog_head = p->qnext;
		if (!r->backlog_head) {
			r->backlog_tail = NULL;
		}
		if (rc == 0) {
			p->pushed = true;
		} else {
			table_take(r, p->id);
			wake |= finish(ac, p, rc, NULL);
		}
	}
	return wake;
}

/* Completes every entry whose deadline has passed with -ETIMEDOUT (lock held). */
static bool expire(struct addon_client *ac, int64_t now)
{
	struct router *r = &ac->router;
	bool wake = false;
	for (unsigned b = 0; b < ROUTER_BUCKETS; b++) {
		struct pending **pp = &r->table[b];
		while (*pp) {
			struct pending *p = *pp;
			if (p->deadline_ns > now) {
				pp = &p->hnext;
				continue;
			}
			*pp = p->hnext;
			r->count--;
			if (!p->pushed) {
				backlog_remove(r, p);
			}
			wake |= finish(ac, p, -ETIMEDOUT, NULL);
		}
	}
	return wake;
}

/* Completes every entry with code (lock held): the connection is gone for good. */
static bool fail_all(struct addon_client *ac, int code)
{
	struct router *r = &ac->router;
	bool wake = false;
	for (unsigned b = 0; b < ROUTER_BUCKETS; b++) {
		while (r->table[b]) {
			struct pending *p = r->table[b];
			r->table[b] = p->hnext;
			r->count--;
			wake |= finish(ac, p, code, NULL);
		}
	}
	r->backlog_head = r->backlog_tail = NULL;
	return wake;
}

static void *router_main(void *arg)
{
	struct addon_client *ac = arg;
	struct router *r = &ac->router;
	struct cairn_msg res[POLL_BATCH];
	pthread_mutex_lock(&ac->lock);
	while (!ac->closing) {
		if (r->count == 0) {
			pthread_cond_wait(&r->wake, &ac->lock);
			continue;
		}
		bool wake = flush_backlog(ac);
		pthread_mutex_unlock(&ac->lock);
		if (wake) {
			addon_wake_js(ac);
		}

		int n = 0;
		int w = cairn_wait(ac->c, &res[0], WAIT_SLICE_NS);
		if (w == 0) {
			int k = cairn_poll_batch(ac->c, &res[1], POLL_BATCH - 1);
			n = 1 + (k > 0 ? k : 0);
		}

		pthread_mutex_lock(&ac->lock);
		wake = false;
		for (int i = 0; i < n; i++) {
			struct pending *p = table_take(r, res[i].hdr.request_id);
			if (p) {
				/* An ERROR answer is delivered as it is: lib/client.js decodes it.
				 */
				wake |= finish(ac, p, 0, &res[i]);
			}
		}
		if (w < 0 && w != -ETIMEDOUT && w != -EINTR && w != -EAGAIN) {
			wake |= fail_all(ac, w);
		}
		int64_t now = addon_now_ns();
		if (now >= r->next_scan_ns) {
			wake |= expire(ac, now);
			r->next_scan_ns = now + SCAN_EVERY_NS;
		}
		if (wake) {
			pthread_mutex_unlock(&ac->lock);
			addon_wake_js(ac);
			pthread_mutex_lock(&ac->lock);
		}
	}
	pthread_mutex_unlock(&ac->lock);
	return NULL;
}

static napi_value rejected(napi_env env, int code)
{
	napi_deferred d;
	napi_value promise;
	if (napi_create_promise(env, &d, &promise) != napi_ok) {
		return NULL;
	}
	napi_reject_deferred(env, d, addon_error(env, code));
	return promise;
}

napi_value router_call_async(napi_env env, struct addon_client *ac, const struct cairn_msg *cmd,
			     int64_t timeout_ns)
{
	struct router *r = &ac->router;
	struct pending *p = calloc(1, sizeof(*p));
	struct completion *d = calloc(1, sizeof(*d));
	if (!p || !d) {
		free(p);
		free(d);
		return rejected(env, -ENOMEM);
	}
	napi_value promise;
	if (napi_create_promise(env, &d->deferred, &promise) != napi_ok) {
		free(p);
		free(d);
		return NULL;
	}
	d->kind = DONE_CALL;
	d->keeps_alive = true;
	p->done = d;
	p->cmd = *cmd;
	p->deadline_ns = addon_deadline(timeout_ns);

	pthread_mutex_lock(&ac->lock);
	int rc = 0;
	if (ac->closing) {
		rc = -ECANCELED;
	} else if (!r->started) {
		if (pthread_create(&r->thread, NULL, router_main, ac) != 0) {
			rc = -EAGAIN;
		} else {
			r->started = true;
		}
	}
	if (rc == 0) {
		p->id = r->next_id++;
		p->cmd.hdr.request_id = p->id;
		table_insert(r, p);
		/* Straight into the ring unless older commands wait in the backlog. */
		if (!r->backlog_head) {
			rc = cairn_submit(ac->c, &p->cmd);
			p->pushed = rc == 0;
		}
		if (!p->pushed && (rc == 0 || rc == -EAGAIN)) {
			backlog_append(r, p);
			rc = 0;
		} else if (rc < 0) {
			table_take(r, p->id);
		}
		if (rc == 0) {
			pthread_cond_signal(&r->wake);
		}
	}
	pthread_mutex_unlock(&ac->lock);
	if (rc < 0) {
		napi_reject_deferred(env, d->deferred, addon_error(env, rc));
		free(p);
		free(d);
		return promise;
	}
	addon_op_begin(ac, true);
	return promise;
}

void router_stop(struct addon_client *ac)
{
	if (ac->router.started) {
		pthread_join(ac->router.thread, NULL);
		ac->router.started = false;
	}
}

void router_drain(struct addon_client *ac, napi_env env, int code)
{
	struct router *r = &ac->router;
	for (unsigned b = 0; b < ROUTER_BUCKETS; b++) {
		while (r->table[b]) {
			struct pending *p = r->table[b];
			r->table[b] = p->hnext;
			struct completion *d = p->done;
			free(p);
			if (env) {
				d->rc = code;
				addon_settle(env, ac, d);
			} else {
				free(d);
			}
		}
	}
	r->count = 0;
	r->backlog_head = r->backlog_tail = NULL;
}
