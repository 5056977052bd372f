/*
 * Operations on libcairn calls that wait inside libcairn: the queries and path calls
 * (which hold a slice of the blob arena while they wait, so they go through libcairn's
 * own typed calls rather than the router), event waits, and, run inline only, the
 * non-blocking grid reads and event cursor calls.
 *
 * run(h, op, async, args, in, timeoutNs): args are numbers, in optional bytes (path
 * pairs, an event cursor). The synchronous form runs on the JS thread and returns
 * [out, n, m, info]; the asynchronous form queues the job for a worker thread of the
 * client's pool and returns a promise of the same. out holds the items as the protocol
 * lays them out (lib/codec.js decodes them), info the reply struct or the cursor.
 *
 * A worker is started whenever a job is queued and none is idle, up to
 * POOL_MAX_THREADS; workers stay until the client closes. Event waits sleep in slices of
 * at most 50 ms, so that close (and process exit) never waits longer for them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"

enum job_op {
	OP_NEAREST_CLUES = 1,
	OP_PLAYERS_NEAR,
	OP_LEADERBOARD,
	OP_NEXT_MOVES,
	OP_DISTANCES,
	OP_PATH,
	OP_PATH_TO_CLUE,
	OP_EVENTS_OPEN,
	OP_EVENTS_READ,
	OP_EVENTS_WAIT,
	OP_READ_MAP,
	OP_READ_HUNT,
	OP_READ_ENTITY,
	OP_READ_RECT,
	OP_MAX,
};

#define EVENT_SLICE_NS (50 * 1000 * 1000)

static bool closing(struct addon_client *ac)
{
	/* Acquire: pairs with the release store in shutdown (addon.c, under the lock). */
	return __atomic_load_n(&ac->closing, __ATOMIC_ACQUIRE);
}

/* Allocates job->out for n items of size bytes (at least one byte). */
static int alloc_out(struct job *job, size_t n, size_t size)
{
	job->out = calloc(n ? n : 1, size);
	return job->out ? 0 : -ENOMEM;
}

static int events_wait_read(struct addon_client *ac, struct job *job)
{
	struct cairn_events ev;
	if (job->in_len != sizeof(ev)) {
		return -EINVAL;
	}
	memcpy(&ev, job->in, sizeof(ev));
	uint32_t max = (uint32_t)job->a[0];
	if (max == 0 || max > 65536 || alloc_out(job, max, sizeof(struct cairn_event)) < 0) {
		return max ? -ENOMEM : -EINVAL;
	}
	int64_t deadline = addon_deadline(job->timeout_ns);
	int r;
	for (;;) {
		if (closing(ac)) {
			return -ECANCELED;
		}
		int64_t left = deadline - addon_now_ns();
		int64_t slice = left < 0 ? 0 : left < EVENT_SLICE_NS ? left : EVENT_SLICE_NS;
		r = cairn_events_wait(ac->c, &ev, slice);
		if (r == 0) {
			break;
		}
		if (r != -ETIMEDOUT && r != -EINTR) {
			return r;
		}
		if (left <= 0) {
			break; /* nothing within the timeout: an empty answer */
		}
	}
	if (r == 0) {
		r = cairn_events_read(ac->c, &ev, job->out, max);
		if (r < 0) {
			return r;
		}
		job->n = (uint32_t)r;
		job->out_len = (size_t)r * sizeof(struct cairn_event);
	}
	memcpy(job->info, &ev, sizeof(ev));
	job->info_len = sizeof(ev);
	return 0;
}

/* Runs job on the calling thread; returns its code. */
static int run_job(struct addon_client *ac, struct job *job)
{
	cairn_client *c = ac->c;
	const int64_t *a = job->a;
	int64_t t = job->timeout_ns;
	int r;
	switch (job->op) {
	case OP_NEAREST_CLUES:
	case OP_PLAYERS_NEAR:
	case OP_LEADERBOARD: {
		uint32_t k = (uint32_t)(job->op == OP_LEADERBOARD ? a[1] : a[4]);
		if (k == 0 || k > CAIRN_MAX_QUERY_ITEMS) {
			return -EINVAL;
		}
		if (alloc_out(job, k, sizeof(struct cairn_hit)) < 0) {
			return -ENOMEM;
		}
		uint32_t count = 0, total = 0;
		if (job->op == OP_NEAREST_CLUES) {
			r = cairn_nearest_clues(c, (uint32_t)a[0], (int32_t)a[1], (int32_t)a[2], k,
						(int)a[3], job->out, &count, t);
			total = count;
		} else if (job->op == OP_PLAYERS_NEAR) {
			r = cairn_players_near(c, (uint32_t)a[0], (int32_t)a[1], (int32_t)a[2],
					       (uint32_t)a[3], k, job->out, &count, &total, t);
		} else {
			r = cairn_leaderboard(c, (uint32_t)a[0], k, job->out, &count, t);
			total = count;
		}
		if (r < 0) {
			return r;
		}
		job->n = count;
		job->m = total;
		job->out_len = count * sizeof(struct cairn_hit);
		return 0;
	}
	case OP_NEXT_MOVES:
	case OP_DISTANCES: {
		uint32_t n = (uint32_t)a[1];
		if (n == 0 || n > CAIRN_MAX_PATH_BATCH ||
		    job->in_len != n * sizeof(struct cairn_path_pair)) {
			return -EINVAL;
		}
		size_t item = job->op == OP_NEXT_MOVES ? sizeof(struct cairn_next_move_item)
						       : sizeof(struct cairn_distance_item);
		struct cairn_path_pair pairs[CAIRN_MAX_PATH_BATCH];
		struct cairn_path_batch_reply info;
		memcpy(pairs, job->in, job->in_len);
		if (alloc_out(job, n, item) < 0) {
			return -ENOMEM;
		}
		if (job->op == OP_NEXT_MOVES) {
			r = cairn_next_moves(c, (uint32_t)a[0], pairs, n, (unsigned)a[2], job->out,
					     &info, t);
		} else {
			r = cairn_distances(c, (uint32_t)a[0], pairs, n, (unsigned)a[2], job->out,
					    &info, t);
		}
		if (r < 0) {
			return r;
		}
		job->n = n;
		job->out_len = n * item;
		memcpy(job->info, &info, sizeof(info));
		job->info_len = sizeof(info);
		return 0;
	}
	case OP_PATH:
	case OP_PATH_TO_CLUE: {
		uint32_t cap = (uint32_t)(job->op == OP_PATH ? a[7] : a[5]);
		if (cap == 0 || cap > 1u << 20) {
			return -EINVAL;
		}
		struct cairn_path_reply info;
		memset(&info, 0, sizeof(info));
		if (alloc_out(job, cap, sizeof(struct cairn_path_point)) < 0) {
			return -ENOMEM;
		}
		if (job->op == OP_PATH) {
			r = cairn_path(c, (uint32_t)a[0], (int32_t)a[1], (int32_t)a[2],
				       (int32_t)a[3], (int32_t)a[4], (unsigned)a[5], (unsigned)a[6],
				       job->out, cap, &info, t);
		} else {
			r = cairn_path_to_clue(c, (uint32_t)a[0], (uint32_t)a[1], (uint32_t)a[2],
					       (unsigned)a[3], (unsigned)a[4], job->out, cap, &info,
					       t);
		}
		/* On BLOB_TOO_SMALL info.count says how many points are needed. */
		memcpy(job->info, &info, sizeof(info));
		job->info_len = sizeof(info);
		if (r < 0) {
			return r;
		}
		job->n = info.count;
		job->out_len = (size_t)info.count * sizeof(struct cairn_path_point);
		return 0;
	}
	case OP_EVENTS_OPEN: {
		struct cairn_events ev;
		r = cairn_events_open(c, &ev);
		if (r < 0) {
			return r;
		}
		memcpy(job->info, &ev, sizeof(ev));
		job->info_len = sizeof(ev);
		return 0;
	}
	case OP_EVENTS_READ:
		job->timeout_ns = 0; /* a wait of 0 only looks */
		return events_wait_read(ac, job);
	case OP_EVENTS_WAIT:
		return events_wait_read(ac, job);
	case OP_READ_MAP:
		if (alloc_out(job, 1, sizeof(struct cairn_map_info)) < 0) {
			return -ENOMEM;
		}
		job->out_len = sizeof(struct cairn_map_info);
		return cairn_read_map(c, (uint32_t)a[0], job->out);
	case OP_READ_HUNT:
		if (alloc_out(job, 1, sizeof(struct cairn_hunt_info)) < 0) {
			return -ENOMEM;
		}
		job->out_len = sizeof(struct cairn_hunt_info);
		return cairn_read_hunt(c, (uint32_t)a[0], job->out);
	case OP_READ_ENTITY:
		if (alloc_out(job, 1, sizeof(struct cairn_entity)) < 0) {
			return -ENOMEM;
		}
		job->out_len = sizeof(struct cairn_entity);
		return cairn_read_entity(c, (uint32_t)a[0], (uint32_t)a[1], job->out);
	case OP_READ_RECT: {
		size_t cap = (size_t)a[6];
		if (cap > 1u << 22 || alloc_out(job, cap, sizeof(struct cairn_entity)) < 0) {
			return cap > 1u << 22 ? -EINVAL : -ENOMEM;
		}
		r = cairn_read_rect(c, (uint32_t)a[0], (int32_t)a[1], (int32_t)a[2], (int32_t)a[3],
				    (int32_t)a[4], (unsigned)a[5], job->out, cap);
		if (r < 0) {
			return r;
		}
		job->m = (uint32_t)r;
		job->n = (size_t)r < cap ? (uint32_t)r : (uint32_t)cap;
		job->out_len = job->n * sizeof(struct cairn_entity);
		return 0;
	}
	default:
		return -EINVAL;
	}
}

/* [out, n, m, info] for a finished job. */
static napi_value job_value(napi_env env, struct job *job)
{
	napi_value arr, v;
	void *data;
	if (napi_create_array_with_length(env, 4, &arr) != napi_ok) {
		return NULL;
	}
	napi_create_buffer_copy(env, job->out_len, job->out ? job->out : "", &data, &v);
	napi_set_element(env, arr, 0, v);
	napi_create_uint32(env, job->n, &v);
	napi_set_element(env, arr, 1, v);
	napi_create_uint32(env, job->m, &v);
	napi_set_element(env, arr, 2, v);
	napi_create_buffer_copy(env, job->info_len, job->info, &data, &v);
	napi_set_element(env, arr, 3, v);
	return arr;
}

/* The error for a failed job: a CairnError, with .needed for a path that did not fit. */
static napi_value job_error(napi_env env, struct job *job, int rc)
{
	napi_value err = addon_error(env, rc);
	if (rc == -CAIRN_E_BLOB_TOO_SMALL && (job->op == OP_PATH || job->op == OP_PATH_TO_CLUE)) {
		struct cairn_path_reply info;
		memcpy(&info, job->info, sizeof(info));
		napi_value v;
		napi_create_uint32(env, info.count, &v);
		napi_set_named_property(env, err, "needed", v);
	}
	return err;
}

void jobs_settle(napi_env env, struct addon_client *ac, struct completion *d)
{
	struct job *job = d->job;
	if (d->rc == 0) {
		napi_resolve_deferred(env, d->deferred, job_value(env, job));
	} else {
		napi_reject_deferred(env, d->deferred, job_error(env, job, d->rc));
	}
	free(job->out);
	free(job);
	d->job = NULL;
}

static void *worker_main(void *arg)
{
	struct addon_client *ac = arg;
	struct pool *p = &ac->pool;
	pthread_mutex_lock(&ac->lock);
	for (;;) {
		while (!ac->closing && !p->head) {
			p->idle++;
			pthread_cond_wait(&p->wake, &ac->lock);
			p->idle--;
		}
		if (ac->closing) {
			break;
		}
		struct completion *d = p->head;
		p->head = d->next;
		if (!p->head) {
			p->tail = NULL;
		}
		pthread_mutex_unlock(&ac->lock);
		d->rc = run_job(ac, d->job);
		pthread_mutex_lock(&ac->lock);
		if (addon_complete_locked(ac, d)) {
			pthread_mutex_unlock(&ac->lock);
			addon_wake_js(ac);
			pthread_mutex_lock(&ac->lock);
		}
	}
	pthread_mutex_unlock(&ac->lock);
	return NULL;
}

/* Queues d for a worker, starting one if none is idle (lock held). */
static int pool_queue(struct addon_client *ac, struct completion *d)
{
	struct pool *p = &ac->pool;
	if (p->idle == 0 && p->nthreads < POOL_MAX_THREADS) {
		if (pthread_create(&p->threads[p->nthreads], NULL, worker_main, ac) == 0) {
			p->nthreads++;
		} else if (p->nthreads == 0) {
			return -EAGAIN;
		}
	}
	d->next = NULL;
	if (p->tail) {
		p->tail->next = d;
	} else {
		p->head = d;
	}
	p->tail = d;
	pthread_cond_signal(&p->wake);
	return 0;
}

void pool_stop(struct addon_client *ac)
{
	struct pool *p = &ac->pool;
	for (unsigned i = 0; i < p->nthreads; i++) {
		pthread_join(p->threads[i], NULL);
	}
	p->nthreads = 0;
}

void pool_drain(struct addon_client *ac, napi_env env, int code)
{
	struct pool *p = &ac->pool;
	struct completion *d = p->head;
	p->head = p->tail = NULL;
	while (d) {
		struct completion *next = d->next;
		if (env) {
			d->rc = code;
			addon_settle(env, ac, d);
		} else {
			free(d->job->out);
			free(d->job);
			free(d);
		}
		d = next;
	}
}

napi_value jobs_run(napi_env env, napi_callback_info info)
{
	size_t argc = 6;
	napi_value argv[6];
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
		napi_throw_type_error(env, NULL, "cairn: run(h, op, async, args, in, timeoutNs)");
		return NULL;
	}
	struct addon_client *ac = addon_unwrap(env, argv[0]);
	if (!ac) {
		return NULL;
	}
	struct job *job = calloc(1, sizeof(*job));
	if (!job) {
		addon_throw(env, -ENOMEM);
		return NULL;
	}
	int32_t op = 0;
	bool async = false;
	napi_get_value_int32(env, argv[1], &op);
	napi_get_value_bool(env, argv[2], &async);
	job->op = op;
	uint32_t n = 0;
	bool is_array = false;
	napi_is_array(env, argv[3], &is_array);
	if (is_array) {
		napi_get_array_length(env, argv[3], &n);
	}
	for (uint32_t i = 0; i < n && i < 8; i++) {
		napi_value v;
		double x = 0;
		napi_get_element(env, argv[3], i, &v);
		napi_get_value_double(env, v, &x);
		job->a[i] = (int64_t)x;
	}
	bool is_typed = false;
	napi_is_typedarray(env, argv[4], &is_typed);
	if (is_typed) {
		napi_typedarray_type tt;
		size_t len;
		void *data;
		napi_value ab;
		size_t off;
		napi_get_typedarray_info(env, argv[4], &tt, &len, &data, &ab, &off);
		size_t bytes = tt == napi_uint8_array ? len : sizeof(job->in) + 1;
		if (bytes > sizeof(job->in)) {
			free(job);
			addon_throw(env, -EINVAL);
			return NULL;
		}
		memcpy(job->in, data, bytes);
		job->in_len = (uint32_t)bytes;
	}
	double t = -1;
	napi_get_value_double(env, argv[5], &t);
	job->timeout_ns = t < 0 ? CAIRN_FOREVER : (int64_t)t;
	if (op <= 0 || op >= OP_MAX) {
		free(job);
		addon_throw(env, -EINVAL);
		return NULL;
	}

	if (!async) {
		int rc = run_job(ac, job);
		napi_value ret = NULL;
		if (rc < 0) {
			napi_throw(env, job_error(env, job, rc));
		} else {
			ret = job_value(env, job);
		}
		free(job->out);
		free(job);
		return ret;
	}

	struct completion *d = calloc(1, sizeof(*d));
	napi_value promise;
	if (!d || napi_create_promise(env, &d->deferred, &promise) != napi_ok) {
		free(d);
		free(job);
		addon_throw(env, -ENOMEM);
		return NULL;
	}
	d->kind = DONE_JOB;
	d->job = job;
	/* An event wait may last forever: it must not keep an idle process alive. */
	d->keeps_alive = op != OP_EVENTS_WAIT;
	pthread_mutex_lock(&ac->lock);
	int rc = ac->closing ? -ECANCELED : pool_queue(ac, d);
	pthread_mutex_unlock(&ac->lock);
	if (rc < 0) {
		napi_reject_deferred(env, d->deferred, addon_error(env, rc));
		free(job);
		free(d);
		return promise;
	}
	addon_op_begin(ac, d->keeps_alive);
	return promise;
}
