/*
 * The Node-API addon of cairn: libcairn (compiled in) behind a thin layer of Node-API
 * functions, which lib/client.js wraps into the Client class.
 *
 *   addon.c   the module, the client handle, synchronous calls, settling promises
 *   router.c  asynchronous commands: pushed from the JS thread with cairn_submit,
 *             results taken by one waiter thread per client and routed by request id
 *   jobs.c    the operations that run libcairn calls which block (queries and paths,
 *             which need a slice of the blob arena, and event waits) on worker threads,
 *             or inline on the JS thread for their synchronous forms; grid reads
 *
 * Threads. The JS thread owns every napi_* call. The waiter and the worker threads
 * only call libcairn, take the client's lock, and hand what they finished to the JS
 * thread through a list of completions and one thread-safe function per client. A
 * promise is settled only on the JS thread, when that function runs. The thread-safe
 * function is unreferenced while only event waits are pending, so that they do not keep
 * an idle process alive; commands in flight reference it, like any Node I/O request,
 * until they are answered or time out.
 */
#ifndef CAIRN_NODE_ADDON_H
#define CAIRN_NODE_ADDON_H

#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn/cairn.h"

/* What a completion carries back to the JS thread. */
enum done_kind {
	DONE_CALL, /* an asynchronous command: msg is its result */
	DONE_JOB,  /* a job: see struct job */
};

/* Something finished off the JS thread, waiting to be settled on it. */
struct completion {
	struct completion *next;
	enum done_kind kind;
	napi_deferred deferred;
	bool keeps_alive; /* counted in addon_client.alive_ops */
	int rc;           /* 0, or a negative code to reject with */
	struct cairn_msg msg;
	struct job *job;
};

/* A command pushed (or waiting to be pushed) by the router. */
struct pending {
	struct pending *hnext; /* hash chain */
	struct pending *qnext; /* backlog, while not yet pushed */
	uint64_t id;
	int64_t deadline_ns; /* CLOCK_MONOTONIC; INT64_MAX: none */
	bool pushed;
	struct completion *done; /* preallocated, so that routing never allocates */
	struct cairn_msg cmd;
};

#define ROUTER_BUCKETS 1024

struct router {
	pthread_t thread;
	bool started;
	pthread_cond_t wake; /* with addon_client.lock: something to wait for, or closing */
	uint64_t next_id;
	size_t count; /* entries in the table */
	struct pending *table[ROUTER_BUCKETS];
	struct pending *backlog_head, *backlog_tail;
	int64_t next_scan_ns;
};

/* An operation that may block, run on a worker (async) or on the JS thread (sync). */
struct job {
	int op; /* enum job_op in jobs.c */
	int64_t a[8];
	int64_t timeout_ns;
	uint8_t in[64 * 16]; /* pairs (up to CAIRN_MAX_PATH_BATCH of 16 bytes) or a cursor */
	uint32_t in_len;
	void *out; /* malloc'd by the job; handed to JS as a Buffer */
	size_t out_len;
	uint8_t info[64]; /* the reply struct (path_reply, path_batch_reply) or the cursor */
	size_t info_len;
	uint32_t n, m; /* counts (hits written / matched, events read) */
};

#define POOL_MAX_THREADS 64

struct pool {
	pthread_cond_t wake; /* with addon_client.lock */
	struct completion *head, *tail;
	pthread_t threads[POOL_MAX_THREADS];
	unsigned nthreads, idle;
};

struct addon_client {
	cairn_client *c;
	napi_env env;
	napi_ref self;        /* the External; strong while operations are pending */
	napi_ref scratch_ref; /* the ArrayBuffer behind scratch */
	uint8_t *scratch;     /* a struct cairn_msg for the synchronous calls */
	unsigned pending_ops; /* JS thread only: promises not yet settled */
	unsigned alive_ops;   /* JS thread only: of those, the ones that keep the loop alive */
	pthread_mutex_t lock; /* everything below, and the router and the pool */
	bool closing;         /* threads stop; nothing new is accepted */
	bool hook_added;      /* an env cleanup hook is registered */
	napi_threadsafe_function tsfn;
	struct completion *done_head, *done_tail;
	struct router router;
	struct pool pool;
};

/* addon.c */
int64_t addon_now_ns(void);
int64_t addon_deadline(int64_t timeout_ns);
napi_value addon_error(napi_env env, int code);
napi_status addon_throw(napi_env env, int code);
/* Queues d for the JS thread; takes the client's lock itself. */
void addon_complete(struct addon_client *ac, struct completion *d);
/* As addon_complete, with the lock held; returns whether the JS thread must be woken. */
bool addon_complete_locked(struct addon_client *ac, struct completion *d);
void addon_wake_js(struct addon_client *ac);
/* Settles d on the JS thread and frees it. */
void addon_settle(napi_env env, struct addon_client *ac, struct completion *d);
/* The JS thread took on a promise (keeps_alive: a command, which refs the loop). */
void addon_op_begin(struct addon_client *ac, bool keeps_alive);
struct addon_client *addon_unwrap(napi_env env, napi_value v);

/* router.c */
napi_value router_call_async(napi_env env, struct addon_client *ac, const struct cairn_msg *cmd,
			     int64_t timeout_ns);
/* Stops the waiter thread (closing must be set). */
void router_stop(struct addon_client *ac);
/* Frees what is left, settling it with code when env is not NULL. */
void router_drain(struct addon_client *ac, napi_env env, int code);

/* jobs.c */
void pool_stop(struct addon_client *ac);
void pool_drain(struct addon_client *ac, napi_env env, int code);
napi_value jobs_run(napi_env env, napi_callback_info info);
/* Settles a finished job (JS thread): resolves with [out, n, m, info] or rejects. */
void jobs_settle(napi_env env, struct addon_client *ac, struct completion *d);

#endif
