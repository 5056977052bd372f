/*
 * The module: client handles, the synchronous calls, and the delivery of what the
 * waiter and worker threads finished (see addon.h for the threads).
 *
 * The synchronous calls are the fast path: the JS thread writes the payload into the
 * client's scratch buffer (an ArrayBuffer it owns and shares with this file), one
 * Node-API call runs cairn_call, and the result comes back in the same buffer. No
 * object is made on the way, and nothing but libcairn's own spinning waits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addon.h"

/* Per-environment data: the CairnError class that lib/errors.js registers. */
struct addon_instance {
	napi_ref error_class;
};

#define CHECK_NAPI(env, call)                                                                      \
	do {                                                                                       \
		if ((call) != napi_ok) {                                                           \
			napi_throw_error((env), NULL, "cairn: Node-API call failed: " #call);      \
			return NULL;                                                               \
		}                                                                                  \
	} while (0)

int64_t addon_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t addon_deadline(int64_t timeout_ns)
{
	if (timeout_ns < 0) {
		return INT64_MAX;
	}
	return addon_now_ns() + timeout_ns;
}

/* A CairnError for code (negative or positive), or a plain Error before registration. */
napi_value addon_error(napi_env env, int code)
{
	struct addon_instance *inst = NULL;
	napi_value cls = NULL, arg, err = NULL;
	napi_get_instance_data(env, (void **)&inst);
	if (inst && inst->error_class &&
	    napi_get_reference_value(env, inst->error_class, &cls) == napi_ok && cls &&
	    napi_create_int32(env, code, &arg) == napi_ok &&
	    napi_new_instance(env, cls, 1, &arg, &err) == napi_ok) {
		return err;
	}
	napi_value msg;
	napi_create_string_utf8(env, cairn_strerror(code), NAPI_AUTO_LENGTH, &msg);
	napi_create_error(env, NULL, msg, &err);
	return err;
}

napi_status addon_throw(napi_env env, int code)
{
	return napi_throw(env, addon_error(env, code));
}

struct addon_client *addon_unwrap(napi_env env, napi_value v)
{
	struct addon_client *ac = NULL;
	if (napi_get_value_external(env, v, (void **)&ac) != napi_ok || !ac) {
		napi_throw_type_error(env, NULL, "cairn: not a client handle");
		return NULL;
	}
	if (!ac->c) {
		addon_throw(env, -CAIRN_E_DISCONNECTED);
		return NULL;
	}
	return ac;
}

/* ---- promises in flight ---- */

void addon_op_begin(struct addon_client *ac, bool keeps_alive)
{
	/*
	 * The External stays reachable while a promise is pending, so that a client whose
	 * JS object was dropped is not finalized (and closed) under its own threads.
	 */
	if (ac->pending_ops++ == 0) {
		napi_reference_ref(ac->env, ac->self, NULL);
	}
	if (keeps_alive && ac->alive_ops++ == 0) {
		napi_ref_threadsafe_function(ac->env, ac->tsfn);
	}
}

static void op_end(struct addon_client *ac, bool keeps_alive)
{
	if (keeps_alive && --ac->alive_ops == 0 && ac->tsfn) {
		napi_unref_threadsafe_function(ac->env, ac->tsfn);
	}
	if (--ac->pending_ops == 0) {
		napi_reference_unref(ac->env, ac->self, NULL);
	}
}

bool addon_complete_locked(struct addon_client *ac, struct completion *d)
{
	d->next = NULL;
	bool was_empty = ac->done_head == NULL;
	if (ac->done_tail) {
		ac->done_tail->next = d;
	} else {
		ac->done_head = d;
	}
	ac->done_tail = d;
	return was_empty;
}

void addon_wake_js(struct addon_client *ac)
{
	/*
	 * One call per batch: the list was empty, so no run of deliver() is due yet. When
	 * the environment is going away this returns napi_closing, and the cleanup hook
	 * frees what is left.
	 */
	napi_call_threadsafe_function(ac->tsfn, NULL, napi_tsfn_nonblocking);
}

void addon_complete(struct addon_client *ac, struct completion *d)
{
	pthread_mutex_lock(&ac->lock);
	bool wake = addon_complete_locked(ac, d);
	pthread_mutex_unlock(&ac->lock);
	if (wake) {
		addon_wake_js(ac);
	}
}

void addon_settle(napi_env env, struct addon_client *ac, struct completion *d)
{
	bool keeps_alive = d->keeps_alive;
	if (d->kind == DONE_JOB) {
		jobs_settle(env, ac, d);
	} else if (d->rc == 0) {
		napi_value buf;
		void *data;
		if (napi_create_buffer_copy(env, sizeof(d->msg), &d->msg, &data, &buf) == napi_ok) {
			napi_resolve_deferred(env, d->deferred, buf);
		} else {
			napi_reject_deferred(env, d->deferred, addon_error(env, -ENOMEM));
		}
	} else {
		napi_reject_deferred(env, d->deferred, addon_error(env, d->rc));
	}
	free(d);
	op_end(ac, keeps_alive);
}

/* Settles everything on the completion list; JS thread. */
static void deliver_all(napi_env env, struct addon_client *ac)
{
	pthread_mutex_lock(&ac->lock);
	struct completion *d = ac->done_head;
	ac->done_head = ac->done_tail = NULL;
	pthread_mutex_unlock(&ac->lock);
	while (d) {
		struct completion *next = d->next;
		addon_settle(env, ac, d);
		d = next;
	}
}

/* The thread-safe function's call_js: runs on the JS thread. */
static void deliver(napi_env env, napi_value js_cb, void *context, void *data)
{
	if (!env) {
		return; /* the function is being torn down with the environment */
	}
	napi_handle_scope scope;
	napi_open_handle_scope(env, &scope);
	deliver_all(env, (struct addon_client *)context);
	napi_close_handle_scope(env, scope);
}

/* ---- lifetime ---- */

static void free_list(struct completion *d)
{
	while (d) {
		struct completion *next = d->next;
		if (d->job) {
			free(d->job->out);
			free(d->job);
		}
		free(d);
		d = next;
	}
}

/*
 * Stops the client's threads and detaches. With env, on the JS thread: every pending
 * promise is settled (answers that arrived are delivered, the rest rejected with
 * ECANCELED). Without env (the environment is being torn down): nothing is settled.
 */
static void shutdown_client(struct addon_client *ac, napi_env env)
{
	if (!ac->c) {
		return;
	}
	pthread_mutex_lock(&ac->lock);
	/* Release: pairs with the workers' lock-free look in jobs.c. */
	__atomic_store_n(&ac->closing, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&ac->router.wake);
	pthread_cond_broadcast(&ac->pool.wake);
	pthread_mutex_unlock(&ac->lock);
	router_stop(ac);
	pool_stop(ac);
	if (env) {
		deliver_all(env, ac);
		router_drain(ac, env, -ECANCELED);
		pool_drain(ac, env, -ECANCELED);
	} else {
		free_list(ac->done_head);
		ac->done_head = ac->done_tail = NULL;
		router_drain(ac, NULL, 0);
		pool_drain(ac, NULL, 0);
	}
	if (ac->tsfn) {
		napi_release_threadsafe_function(ac->tsfn, napi_tsfn_abort);
		ac->tsfn = NULL;
	}
	cairn_close(ac->c);
	ac->c = NULL;
}

static void cleanup_hook(void *arg)
{
	struct addon_client *ac = arg;
	ac->hook_added = false;
	shutdown_client(ac, NULL);
}

static void finalize_client(napi_env env, void *data, void *hint)
{
	struct addon_client *ac = data;
	if (ac->hook_added) {
		napi_remove_env_cleanup_hook(env, cleanup_hook, ac);
		ac->hook_added = false;
	}
	shutdown_client(ac, NULL);
	if (ac->scratch_ref) {
		napi_delete_reference(env, ac->scratch_ref);
	}
	if (ac->self) {
		napi_delete_reference(env, ac->self);
	}
	pthread_cond_destroy(&ac->router.wake);
	pthread_cond_destroy(&ac->pool.wake);
	pthread_mutex_destroy(&ac->lock);
	free(ac);
}

static bool get_u32_prop(napi_env env, napi_value obj, const char *name, uint32_t *out)
{
	bool has = false;
	napi_value v;
	napi_valuetype t;
	if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has ||
	    napi_get_named_property(env, obj, name, &v) != napi_ok ||
	    napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
		return false;
	}
	return napi_get_value_uint32(env, v, out) == napi_ok;
}

/* open(path | null, options | null, scratch: ArrayBuffer) -> External */
static napi_value js_open(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	char path[4096], name[64];
	const char *pathp = NULL;
	napi_valuetype t;
	CHECK_NAPI(env, napi_typeof(env, argv[0], &t));
	if (t == napi_string) {
		size_t len;
		CHECK_NAPI(env, napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len));
		if (len >= sizeof(path) - 1) {
			addon_throw(env, -ENAMETOOLONG);
			return NULL;
		}
		pathp = path;
	}
	struct cairn_open_options o;
	memset(&o, 0, sizeof(o));
	CHECK_NAPI(env, napi_typeof(env, argv[1], &t));
	if (t == napi_object) {
		uint32_t v;
		if (get_u32_prop(env, argv[1], "cmdCapacity", &v)) {
			o.cmd_capacity = v;
		}
		if (get_u32_prop(env, argv[1], "resCapacity", &v)) {
			o.res_capacity = v;
		}
		if (get_u32_prop(env, argv[1], "blobSize", &v)) {
			o.blob_size = v;
		}
		if (get_u32_prop(env, argv[1], "spinUs", &v)) {
			o.spin_us = v;
		}
		napi_value rv;
		bool has = false;
		if (napi_has_named_property(env, argv[1], "reconnectMs", &has) == napi_ok && has &&
		    napi_get_named_property(env, argv[1], "reconnectMs", &rv) == napi_ok) {
			int32_t ms;
			if (napi_get_value_int32(env, rv, &ms) == napi_ok) {
				o.reconnect_ms = ms;
			}
		}
		if (napi_has_named_property(env, argv[1], "name", &has) == napi_ok && has &&
		    napi_get_named_property(env, argv[1], "name", &rv) == napi_ok &&
		    napi_typeof(env, rv, &t) == napi_ok && t == napi_string) {
			napi_get_value_string_utf8(env, rv, name, sizeof(name), NULL);
			o.name = name;
		}
	}
	void *scratch = NULL;
	size_t scratch_len = 0;
	CHECK_NAPI(env, napi_get_arraybuffer_info(env, argv[2], &scratch, &scratch_len));
	if (scratch_len < sizeof(struct cairn_msg)) {
		napi_throw_range_error(env, NULL, "cairn: scratch buffer too small");
		return NULL;
	}

	struct addon_client *ac = calloc(1, sizeof(*ac));
	if (!ac) {
		addon_throw(env, -ENOMEM);
		return NULL;
	}
	int r = cairn_open(pathp, &o, &ac->c);
	if (r < 0) {
		free(ac);
		addon_throw(env, r);
		return NULL;
	}
	ac->env = env;
	ac->scratch = scratch;
	pthread_mutex_init(&ac->lock, NULL);
	pthread_cond_init(&ac->router.wake, NULL);
	pthread_cond_init(&ac->pool.wake, NULL);
	ac->router.next_id = 1;

	napi_value external, res_name;
	if (napi_create_external(env, ac, finalize_client, NULL, &external) != napi_ok) {
		cairn_close(ac->c);
		free(ac);
		napi_throw_error(env, NULL, "cairn: cannot create the client handle");
		return NULL;
	}
	CHECK_NAPI(env, napi_create_reference(env, external, 0, &ac->self));
	CHECK_NAPI(env, napi_create_reference(env, argv[2], 1, &ac->scratch_ref));
	CHECK_NAPI(env, napi_create_string_utf8(env, "cairn", NAPI_AUTO_LENGTH, &res_name));
	CHECK_NAPI(env, napi_create_threadsafe_function(env, NULL, NULL, res_name, 0, 1, NULL, NULL,
							ac, deliver, &ac->tsfn));
	/* Nothing pending yet: the function does not keep the loop alive (addon_op_begin). */
	CHECK_NAPI(env, napi_unref_threadsafe_function(env, ac->tsfn));
	/*
	 * Registered after the thread-safe function, so that it runs before the function's
	 * own cleanup (hooks run in reverse order): the threads that call it are stopped
	 * first.
	 */
	CHECK_NAPI(env, napi_add_env_cleanup_hook(env, cleanup_hook, ac));
	ac->hook_added = true;
	return external;
}

/* close(h): settles what is pending, stops the threads, detaches. Idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	struct addon_client *ac = NULL;
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK_NAPI(env, napi_get_value_external(env, argv[0], (void **)&ac));
	if (!ac || !ac->c) {
		return NULL;
	}
	if (ac->hook_added) {
		napi_remove_env_cleanup_hook(env, cleanup_hook, ac);
		ac->hook_added = false;
	}
	shutdown_client(ac, env);
	return NULL;
}

static int64_t timeout_arg(napi_env env, napi_value v)
{
	double d = -1;
	napi_get_value_double(env, v, &d);
	return d < 0 ? CAIRN_FOREVER : (int64_t)d;
}

/* Builds the command of type/length from the payload the JS side wrote into scratch. */
static int scratch_cmd(struct addon_client *ac, uint32_t type, uint32_t length, struct cairn_msg *m)
{
	if (type > UINT16_MAX || cairn_msg_init(m, (uint16_t)type, (uint8_t)length) < 0 ||
	    length > CAIRN_PAYLOAD_SIZE) {
		return -EINVAL;
	}
	memcpy(m->payload, ac->scratch + offsetof(struct cairn_msg, payload), CAIRN_PAYLOAD_SIZE);
	return 0;
}

/*
 * callSync(h, type, length, timeoutNs) -> code. The payload is read from scratch; the
 * result (the reply, or the ERROR the daemon answered) is written over it. On a local
 * failure (timeout, disconnected) the scratch header's type is 0.
 */
static napi_value js_call_sync(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4], ret;
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	struct addon_client *ac = addon_unwrap(env, argv[0]);
	if (!ac) {
		return NULL;
	}
	uint32_t type = 0, length = 0;
	napi_get_value_uint32(env, argv[1], &type);
	napi_get_value_uint32(env, argv[2], &length);
	struct cairn_msg m, res;
	int r = scratch_cmd(ac, type, length, &m);
	if (r == 0) {
		memset(&res.hdr, 0, sizeof(res.hdr));
		r = cairn_call(ac->c, &m, &res, timeout_arg(env, argv[3]));
		if (r == 0 || res.hdr.type == CAIRN_MSG_ERROR) {
			memcpy(ac->scratch, &res, sizeof(res));
		} else {
			memset(ac->scratch, 0, sizeof(struct cairn_msg_hdr));
		}
	}
	CHECK_NAPI(env, napi_create_int32(env, r, &ret));
	return ret;
}

/* callAsync(h, type, length, timeoutNs) -> Promise<Buffer>, the payload from scratch. */
static napi_value js_call_async(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4];
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	struct addon_client *ac = addon_unwrap(env, argv[0]);
	if (!ac) {
		return NULL;
	}
	uint32_t type = 0, length = 0;
	napi_get_value_uint32(env, argv[1], &type);
	napi_get_value_uint32(env, argv[2], &length);
	struct cairn_msg m;
	if (scratch_cmd(ac, type, length, &m) < 0) {
		addon_throw(env, -EINVAL);
		return NULL;
	}
	return router_call_async(env, ac, &m, timeout_arg(env, argv[3]));
}

/* pingSync(h, timeoutNs) -> code */
static napi_value js_ping_sync(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], ret;
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	struct addon_client *ac = addon_unwrap(env, argv[0]);
	if (!ac) {
		return NULL;
	}
	CHECK_NAPI(env, napi_create_int32(env, cairn_ping(ac->c, timeout_arg(env, argv[1])), &ret));
	return ret;
}

/* check(h) -> code */
static napi_value js_check(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], ret;
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	struct addon_client *ac = addon_unwrap(env, argv[0]);
	if (!ac) {
		return NULL;
	}
	CHECK_NAPI(env, napi_create_int32(env, cairn_check(ac->c), &ret));
	return ret;
}

static void set_num(napi_env env, napi_value obj, const char *name, double v)
{
	napi_value x;
	napi_create_double(env, v, &x);
	napi_set_named_property(env, obj, name, x);
}

static void set_big(napi_env env, napi_value obj, const char *name, uint64_t v)
{
	napi_value x;
	napi_create_bigint_uint64(env, v, &x);
	napi_set_named_property(env, obj, name, x);
}

static void set_bytes(napi_env env, napi_value obj, const char *name, const void *p, size_t n)
{
	napi_value x;
	void *data;
	napi_create_buffer_copy(env, n, p, &data, &x);
	napi_set_named_property(env, obj, name, x);
}

/* daemonInfo(h) -> object; the counter blocks as raw bytes for lib/codec.js. */
static napi_value js_daemon_info(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], o;
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	struct addon_client *ac = addon_unwrap(env, argv[0]);
	if (!ac) {
		return NULL;
	}
	struct cairn_daemon_info d;
	int r = cairn_daemon_info(ac->c, &d);
	if (r < 0) {
		addon_throw(env, r);
		return NULL;
	}
	CHECK_NAPI(env, napi_create_object(env, &o));
	set_num(env, o, "pid", d.pid);
	set_num(env, o, "state", d.state);
	set_num(env, o, "maxLanes", d.max_lanes);
	set_num(env, o, "applyCpu", d.apply_cpu);
	set_num(env, o, "numaNode", d.numa_node);
	set_num(env, o, "laneId", d.lane_id);
	set_big(env, o, "clientId", d.client_id);
	set_big(env, o, "bootEpochNs", d.boot_epoch_ns);
	set_big(env, o, "heartbeatAgeNs", d.heartbeat_age_ns);
	set_big(env, o, "sessionId", d.session_id);
	set_num(env, o, "dedupWindow", d.dedup_window);
	set_num(env, o, "resumed", d.resumed);
	set_big(env, o, "durableLsn", d.durable_lsn);
	set_num(env, o, "reconnects", (double)d.reconnects);
	set_num(env, o, "resubmitted", (double)d.resubmitted);
	set_bytes(env, o, "counters", &d.counters, sizeof(d.counters));
	set_bytes(env, o, "engine", &d.engine, sizeof(d.engine));
	return o;
}

/* strerror(code) -> string */
static napi_value js_strerror(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], ret;
	int32_t code = 0;
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	napi_get_value_int32(env, argv[0], &code);
	CHECK_NAPI(env, napi_create_string_utf8(env, cairn_strerror(code), NAPI_AUTO_LENGTH, &ret));
	return ret;
}

/* defaultSocketPath() -> string */
static napi_value js_default_socket_path(napi_env env, napi_callback_info info)
{
	char buf[4096];
	napi_value ret;
	int r = cairn_default_socket_path(buf, sizeof(buf));
	if (r < 0) {
		addon_throw(env, r);
		return NULL;
	}
	CHECK_NAPI(env, napi_create_string_utf8(env, buf, (size_t)r, &ret));
	return ret;
}

/* setErrorClass(CairnError): the class every error made here is an instance of. */
static napi_value js_set_error_class(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	struct addon_instance *inst = NULL;
	CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	CHECK_NAPI(env, napi_get_instance_data(env, (void **)&inst));
	if (inst->error_class) {
		napi_delete_reference(env, inst->error_class);
	}
	CHECK_NAPI(env, napi_create_reference(env, argv[0], 1, &inst->error_class));
	return NULL;
}

static void finalize_instance(napi_env env, void *data, void *hint)
{
	struct addon_instance *inst = data;
	if (inst->error_class) {
		napi_delete_reference(env, inst->error_class);
	}
	free(inst);
}

NAPI_MODULE_INIT()
{
	struct addon_instance *inst = calloc(1, sizeof(*inst));
	if (!inst || napi_set_instance_data(env, inst, finalize_instance, NULL) != napi_ok) {
		free(inst);
		napi_throw_error(env, NULL, "cairn: cannot set up the module");
		return NULL;
	}
	static const struct {
		const char *name;
		napi_callback fn;
	} fns[] = {
		{"open", js_open},
		{"close", js_close},
		{"callSync", js_call_sync},
		{"callAsync", js_call_async},
		{"pingSync", js_ping_sync},
		{"check", js_check},
		{"daemonInfo", js_daemon_info},
		{"run", jobs_run},
		{"strerror", js_strerror},
		{"defaultSocketPath", js_default_socket_path},
		{"setErrorClass", js_set_error_class},
	};
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		napi_value f;
		CHECK_NAPI(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn,
						     NULL, &f));
		CHECK_NAPI(env, napi_set_named_property(env, exports, fns[i].name, f));
	}
	napi_value v;
	CHECK_NAPI(env, napi_create_int32(env, CAIRN_QUERY_SLICE_SIZE, &v));
	CHECK_NAPI(env, napi_set_named_property(env, exports, "QUERY_SLICE_SIZE", v));
	return exports;
}
