/*
 * cairn._cairn: the CPython extension of the Python binding.
 *
 * libcairn's sources are compiled into this module, so the attach, the rings, the
 * reattach with resubmission, the grid reads and the event cursors are libcairn's own.
 * What this file adds is what Python needs on top:
 *
 *  - Calls that a signal can interrupt. cairn_call cannot be waited on in slices (a
 *    call that times out is abandoned), so the calls of this module push their commands
 *    with cairn_submit, under request ids of their own, and collect the results with
 *    cairn_poll_batch and cairn_wait. Every wait is cut into slices of SLICE_NS with the
 *    GIL released; between two slices the GIL is taken back and PyErr_CheckSignals runs,
 *    so Ctrl-C raises KeyboardInterrupt within a slice.
 *  - A dispatcher (struct disp) that hands results to the thread waiting for them, so
 *    that many threads can call at once on one connection: one thread at a time, the
 *    leader, takes results off the ring; the others (followers) sleep on a condition
 *    variable and find their results in a table the leader fills. A lone caller is its
 *    own leader and takes no lock on its way.
 *  - Result objects (struct sequences) built from the C structs, and exceptions built by
 *    the Python side (cairn/_errors.py) from libcairn's codes.
 *
 * The queries that answer through the blob arena (nearest_clues, players_near,
 * leaderboard, the path calls) are libcairn's own typed calls, run with the GIL released
 * and bounded by their timeout; they are not cut into slices.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"

/* Longest stretch spent without the GIL before signals are looked at. */
#define SLICE_NS (50 * 1000 * 1000)
/* Followers spin this long on the result table before they sleep. */
#define FOLLOW_SPIN_NS (50 * 1000)
/* A follower with commands still to push retries at least this often. */
#define PUSH_RETRY_NS (1000 * 1000)
/* Results taken off the ring at once. */
#define POP_BATCH 64

/* Request ids of submit() commands; the ids of calls and batches have it clear. */
#define RAW_BIT (UINT64_C(1) << 62)

/* Returned by the waits when a signal handler raised: the Python exception is set. */
#define E_PYERR (-100000)

/* ---- the dispatcher ---- */

struct gone {
	uint64_t lo, hi; /* request ids whose results nobody waits for any more */
	uint64_t left;   /* how many of them are still to come */
};

struct disp {
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* CLOCK_MONOTONIC; broadcast on a deposit or a new leader slot */
	int leader;            /* atomic: a thread is taking results off the ring */
	int followers;         /* atomic, changed under mu: threads asleep on cv */
	size_t count;          /* atomic mirror of n, read without mu */
	struct cairn_msg *tab; /* under mu: results taken by another thread than their own */
	size_t n, cap;
	struct gone *gone; /* under mu: abandoned ranges */
	size_t ngone, gonecap;
};

/* What a waiting thread wants: the results of the ids [lo, hi). */
struct want {
	uint64_t lo, hi;
	struct cairn_msg *res; /* by id - lo (any: in order of arrival) */
	unsigned got, need;
	bool any; /* take any need results in [lo, hi) (submit()'s ids) */
};

/* Commands a waiting thread still has to push (the ring may be full). */
struct pushq {
	struct cairn_msg *cmd;
	unsigned n, pushed;
};

static bool wants(const struct want *w, uint64_t id)
{
	return id >= w->lo && id < w->hi && w->got < w->need;
}

static void want_put(struct want *w, const struct cairn_msg *m)
{
	if (w->any) {
		w->res[w->got++] = *m;
		return;
	}
	struct cairn_msg *slot = &w->res[m->hdr.request_id - w->lo];
	/* A result type is never 0: the slot is empty until its result is put there. */
	if (slot->hdr.type == 0) {
		*slot = *m;
		w->got++;
	}
}

static int disp_init(struct disp *d)
{
	pthread_condattr_t a;
	memset(d, 0, sizeof(*d));
	if (pthread_mutex_init(&d->mu, NULL) != 0) {
		return -ENOMEM;
	}
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	int r = pthread_cond_init(&d->cv, &a);
	pthread_condattr_destroy(&a);
	if (r != 0) {
		pthread_mutex_destroy(&d->mu);
		return -ENOMEM;
	}
	return 0;
}

static void disp_fini(struct disp *d)
{
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d->tab);
	free(d->gone);
}

/* Moves the results w wants from the table into w. Called with mu held. */
static bool take_tab_locked(struct disp *d, struct want *w)
{
	bool any = false;
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (wants(w, d->tab[i].hdr.request_id)) {
			want_put(w, &d->tab[i]);
			any = true;
		} else {
			d->tab[k++] = d->tab[i];
		}
	}
	d->n = k;
	/* Release, paired with the acquire of the lock-free peek in take_tab. */
	cairn__store_release(&d->count, d->n);
	return any;
}

static bool take_tab(struct disp *d, struct want *w)
{
	if (cairn__load_acquire(&d->count) == 0) {
		return false;
	}
	pthread_mutex_lock(&d->mu);
	bool any = take_tab_locked(d, w);
	pthread_mutex_unlock(&d->mu);
	return any;
}

/* Whether an abandoned range claims id; counts it off. Called with mu held. */
static bool gone_claims(struct disp *d, uint64_t id)
{
	for (size_t i = 0; i < d->ngone; i++) {
		struct gone *g = &d->gone[i];
		if (id >= g->lo && id < g->hi) {
			if (--g->left == 0) {
				*g = d->gone[--d->ngone];
			}
			return true;
		}
	}
	return false;
}

/*
 * Hands results taken off the ring by the leader to the threads that wait for them (or
 * to the next poll), and wakes the followers. Results nobody waits for any more are
 * dropped. A result that finds no memory is dropped too: the thread waiting for it then
 * waits until its timeout, which is all that can be done.
 */
static void deposit(struct disp *d, const struct cairn_msg *m, unsigned n)
{
	pthread_mutex_lock(&d->mu);
	for (unsigned i = 0; i < n; i++) {
		if (d->ngone && gone_claims(d, m[i].hdr.request_id)) {
			continue;
		}
		if (d->n == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 64;
			struct cairn_msg *v = realloc(d->tab, cap * sizeof(*v));
			if (!v) {
				continue;
			}
			d->tab = v;
			d->cap = cap;
		}
		d->tab[d->n++] = m[i];
	}
	cairn__store_release(&d->count, d->n);
	if (cairn__load_relaxed(&d->followers)) {
		pthread_cond_broadcast(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
}

/*
 * Gives up the results w still waits for: those in the table now are dropped, and those
 * to come (of the pushed commands) will be when they arrive.
 */
static void abandon(struct disp *d, struct want *w, unsigned pushed)
{
	if (w->any) {
		return; /* submit()'s results stay for the next poll */
	}
	pthread_mutex_lock(&d->mu);
	take_tab_locked(d, w);
	if (pushed > w->got) {
		if (d->ngone == d->gonecap) {
			size_t cap = d->gonecap ? d->gonecap * 2 : 8;
			struct gone *v = realloc(d->gone, cap * sizeof(*v));
			if (v) {
				d->gone = v;
				d->gonecap = cap;
			}
		}
		if (d->ngone < d->gonecap) {
			d->gone[d->ngone++] = (struct gone){
				.lo = w->lo, .hi = w->lo + pushed, .left = pushed - w->got};
		}
	}
	pthread_mutex_unlock(&d->mu);
}

static bool lead(struct disp *d)
{
	int no = 0;
	/* Acquire: the new leader sees what the last one did to the table. */
	return __atomic_compare_exchange_n(&d->leader, &no, 1, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

/*
 * Leaves the ring to the followers. The store of leader and the load of followers are
 * sequentially consistent, as are the follower's increment of followers and its load of
 * leader: either this thread sees the follower and wakes it, or the follower sees that
 * there is no leader and does not sleep.
 */
static void unlead(struct disp *d)
{
	__atomic_store_n(&d->leader, 0, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&d->followers, __ATOMIC_SEQ_CST)) {
		pthread_mutex_lock(&d->mu);
		pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
	}
}

/* Sorts results taken off the ring: w's into w, the rest to the table. */
static void sort_out(struct disp *d, struct want *w, struct cairn_msg *m, unsigned n)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (wants(w, m[i].hdr.request_id)) {
			want_put(w, &m[i]);
		} else {
			m[k++] = m[i];
		}
	}
	if (k) {
		deposit(d, m, k);
	}
}

/*
 * Pushes what is left of q and collects w until w is complete or until passes
 * (CLOCK_MONOTONIC). Runs without the GIL. Returns 0 (complete), -ETIMEDOUT (until
 * passed), or a code of cairn_submit_batch, cairn_poll_batch or cairn_wait.
 */
static int progress(cairn_client *c, struct disp *d, struct want *w, struct pushq *q,
		    uint64_t until)
{
	bool leading = false;
	uint64_t spin_end = 0;
	int r = 0;
	for (;;) {
		bool moved = false;
		if (q && q->pushed < q->n) {
			int k = cairn_submit_batch(c, q->cmd + q->pushed, q->n - q->pushed);
			if (k > 0) {
				q->pushed += (unsigned)k;
				moved = true;
			} else if (k < 0 && k != -EAGAIN) {
				r = k;
				break;
			}
		}
		if (take_tab(d, w)) {
			moved = true;
		}
		if (w->got >= w->need) {
			break;
		}
		if (!leading) {
			leading = lead(d);
		}
		if (leading) {
			struct cairn_msg m[POP_BATCH];
			int k = cairn_poll_batch(c, m, POP_BATCH);
			if (k < 0) {
				r = k;
				break;
			}
			if (k > 0) {
				sort_out(d, w, m, (unsigned)k);
				continue;
			}
			if (moved) {
				continue;
			}
			uint64_t now = cairn__now_ns();
			if (now >= until) {
				r = -ETIMEDOUT;
				break;
			}
			/*
			 * Nothing ready: sleep in cairn_wait (which spins first, then sleeps on the
			 * result doorbell, and drives a reattach when the daemon has gone away).
			 * With commands still to push, come back soon to push them.
			 */
			uint64_t t = until - now;
			if (q && q->pushed < q->n && t > PUSH_RETRY_NS) {
				t = PUSH_RETRY_NS;
			}
			k = cairn_wait(c, &m[0], (int64_t)t);
			if (k == 0) {
				sort_out(d, w, m, 1);
			} else if (k != -ETIMEDOUT) {
				r = k;
				break;
			}
			continue;
		}
		if (moved) {
			continue;
		}
		uint64_t now = cairn__now_ns();
		if (now >= until) {
			r = -ETIMEDOUT;
			break;
		}
		if (spin_end == 0) {
			spin_end = now + FOLLOW_SPIN_NS;
		}
		if (now < spin_end) {
			cairn__cpu_relax();
			continue;
		}
		uint64_t wake = until;
		if (q && q->pushed < q->n && wake - now > PUSH_RETRY_NS) {
			wake = now + PUSH_RETRY_NS;
		}
		pthread_mutex_lock(&d->mu);
		__atomic_add_fetch(&d->followers, 1, __ATOMIC_SEQ_CST);
		if (!take_tab_locked(d, w) && __atomic_load_n(&d->leader, __ATOMIC_SEQ_CST)) {
			struct timespec ts = cairn__ns_to_timespec(wake);
			pthread_cond_timedwait(&d->cv, &d->mu, &ts);
		}
		__atomic_sub_fetch(&d->followers, 1, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&d->mu);
	}
	if (leading) {
		unlead(d);
	}
	return r;
}

/* ---- the client object ---- */

typedef struct {
	PyObject ob_base; /* PyObject_HEAD */
	cairn_client *c;
	struct disp d;
	bool d_ok;
	uint64_t next_id; /* atomic: the next request id of this binding */
	int busy;         /* calls under way (changed with the GIL held) */
	PyObject *path;
} ClientObject;

static PyTypeObject Client_Type;
static PyTypeObject Events_Type;
static PyObject *error_factory; /* cairn._errors.make(code, message) */

static uint64_t take_ids(ClientObject *cl, unsigned n)
{
	/* Relaxed: only uniqueness matters, and the RMW gives it. */
	return cairn__add_relaxed(&cl->next_id, n);
}

/* Raises the exception for libcairn code r (negative). Returns NULL. */
static PyObject *error_object(int r)
{
	if (!error_factory) {
		return PyErr_Format(PyExc_RuntimeError, "cairn error %d: %s", -r,
				    cairn_strerror(r));
	}
	return PyObject_CallFunction(error_factory, "is", -r, cairn_strerror(r));
}

static PyObject *raise_code(int r)
{
	if (r == E_PYERR) {
		return NULL;
	}
	PyObject *e = error_object(r);
	if (e) {
		PyErr_SetObject((PyObject *)Py_TYPE(e), e);
		Py_DECREF(e);
	}
	return NULL;
}

static bool client_enter(ClientObject *cl)
{
	if (!cl->c) {
		PyErr_SetString(PyExc_ValueError, "the cairn client is closed");
		return false;
	}
	cl->busy++;
	return true;
}

static void client_leave(ClientObject *cl)
{
	cl->busy--;
}

/*
 * Runs progress in slices, checking signals between them. timeout_ns < 0: no limit.
 * Returns 0, a negative code, or E_PYERR with the exception set. On anything but 0 the
 * results still to come are abandoned.
 */
static int run_wait(ClientObject *cl, struct want *w, struct pushq *q, int64_t timeout_ns)
{
	uint64_t start = cairn__now_ns();
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
	int r;
	for (;;) {
		uint64_t until = start + SLICE_NS < deadline ? start + SLICE_NS : deadline;
		PyThreadState *ts = PyEval_SaveThread();
		r = progress(cl->c, &cl->d, w, q, until);
		PyEval_RestoreThread(ts);
		if (r != -ETIMEDOUT) {
			break;
		}
		start = cairn__now_ns();
		if (start >= deadline) {
			break;
		}
		if (PyErr_CheckSignals() < 0) {
			r = E_PYERR;
			break;
		}
	}
	if (r != 0) {
		abandon(&cl->d, w, q ? q->pushed : 0);
	}
	return r;
}

/*
 * Sends n commands (their request ids are assigned here) and waits for all their
 * results, in res (by index). Returns 0 or as run_wait.
 */
static int call_n(ClientObject *cl, struct cairn_msg *cmd, struct cairn_msg *res, unsigned n,
		  int64_t timeout_ns)
{
	uint64_t first = take_ids(cl, n);
	for (unsigned i = 0; i < n; i++) {
		cmd[i].hdr.request_id = first + i;
	}
	memset(res, 0, n * sizeof(*res));
	struct want w = {.lo = first, .hi = first + n, .res = res, .need = n};
	struct pushq q = {.cmd = cmd, .n = n};
	/* The first push happens here, with the GIL held: it never blocks. */
	int k = cairn_submit_batch(cl->c, cmd, n);
	if (k > 0) {
		q.pushed = (unsigned)k;
	} else if (k < 0 && k != -EAGAIN) {
		return k;
	}
	return run_wait(cl, &w, &q, timeout_ns);
}

/* ---- arguments ---- */

/*
 * Puts positional and keyword arguments into out[0..nall) by the names in names; the
 * first nreq are required. Returns 0, or -1 with TypeError set.
 */
static int parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
		      const char *const *names, int nreq, int nall, PyObject **out)
{
	if (nargs > nall) {
		PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fname,
			     nall, nargs);
		return -1;
	}
	for (int i = 0; i < nall; i++) {
		out[i] = i < nargs ? args[i] : NULL;
	}
	if (kwnames) {
		Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
		for (Py_ssize_t i = 0; i < nk; i++) {
			PyObject *k = PyTuple_GET_ITEM(kwnames, i);
			int j;
			for (j = 0; j < nall; j++) {
				if (PyUnicode_CompareWithASCIIString(k, names[j]) == 0) {
					break;
				}
			}
			if (j == nall) {
				PyErr_Format(PyExc_TypeError,
					     "%s() got an unexpected keyword argument '%U'", fname,
					     k);
				return -1;
			}
			if (out[j]) {
				PyErr_Format(PyExc_TypeError,
					     "%s() got multiple values for argument '%s'", fname,
					     names[j]);
				return -1;
			}
			out[j] = args[nargs + i];
		}
	}
	for (int i = 0; i < nreq; i++) {
		if (!out[i]) {
			PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fname,
				     names[i]);
			return -1;
		}
	}
	return 0;
}

#define PARSE(fname, nreq, ...)                                                                    \
	static const char *const names_[] = {__VA_ARGS__};                                         \
	enum { NALL_ = sizeof(names_) / sizeof(names_[0]) };                                       \
	PyObject *a[NALL_];                                                                        \
	if (parse_args(fname, args, nargs, kwnames, names_, (nreq), NALL_, a) < 0)                 \
	return NULL

static int arg_i64(PyObject *o, int64_t lo, int64_t hi, const char *what, int64_t *v)
{
	if (!o || o == Py_None) {
		return 0; /* the default, already in *v */
	}
	int overflow;
	long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
	if (x == -1 && PyErr_Occurred()) {
		return -1;
	}
	if (overflow || x < lo || x > hi) {
		PyErr_Format(PyExc_OverflowError, "%s out of range", what);
		return -1;
	}
	*v = x;
	return 0;
}

static int arg_u32(PyObject *o, const char *what, uint32_t *v)
{
	int64_t x = *v;
	if (arg_i64(o, 0, UINT32_MAX, what, &x) < 0) {
		return -1;
	}
	*v = (uint32_t)x;
	return 0;
}

static int arg_i32(PyObject *o, const char *what, int32_t *v)
{
	int64_t x = *v;
	if (arg_i64(o, INT32_MIN, INT32_MAX, what, &x) < 0) {
		return -1;
	}
	*v = (int32_t)x;
	return 0;
}

/* Seconds (int or float, None: no limit) into ns; CAIRN_FOREVER for no limit. */
static int arg_timeout(PyObject *o, int64_t *ns)
{
	*ns = CAIRN_FOREVER;
	if (!o || o == Py_None) {
		return 0;
	}
	double s = PyFloat_AsDouble(o);
	if (s == -1.0 && PyErr_Occurred()) {
		return -1;
	}
	if (!(s >= 0)) {
		PyErr_SetString(PyExc_ValueError, "timeout must be >= 0 seconds or None");
		return -1;
	}
	*ns = s > 9.2e9 ? INT64_MAX : (int64_t)(s * 1e9);
	return 0;
}

static int arg_bool(PyObject *o, int *v)
{
	if (!o) {
		return 0;
	}
	int t = PyObject_IsTrue(o);
	if (t < 0) {
		return -1;
	}
	*v = t;
	return 0;
}

/* ---- result objects ---- */

enum { K_U8, K_U16, K_U32, K_I32, K_U64, K_I64, K_NAME };

struct field {
	const char *name;
	unsigned short off;
	unsigned char kind, len;
};

#define KIND(S, f)                                                                                 \
	_Generic(((struct S *)0)->f, uint8_t                                                       \
		 : K_U8, uint16_t                                                                  \
		 : K_U16, uint32_t                                                                 \
		 : K_U32, int32_t                                                                  \
		 : K_I32, uint64_t                                                                 \
		 : K_U64, int64_t                                                                  \
		 : K_I64)
#define FLD(S, f)                                                                                  \
	{                                                                                          \
#f, offsetof(struct S, f), KIND(S, f), 0                                           \
	}
#define NAME(S, f)                                                                                 \
	{                                                                                          \
#f, offsetof(struct S, f), K_NAME, sizeof(((struct S *)0)->f)                      \
	}

struct rtype {
	const char *name;
	const char *doc;
	const struct field *f;
	unsigned n;
	PyTypeObject *type;
};

#define FIELDS(v) (v), sizeof(v) / sizeof((v)[0])

static const struct field f_pong[] = {FLD(cairn_pong, client_stamp), FLD(cairn_pong, ingress_ns)};
static const struct field f_hunt_created[] = {
	FLD(cairn_hunt_created, hunt_id),
	FLD(cairn_hunt_created, map_id),
	FLD(cairn_hunt_created, width),
	FLD(cairn_hunt_created, height),
	FLD(cairn_hunt_created, cell_mm),
	FLD(cairn_hunt_created, claim_radius_mm),
	FLD(cairn_hunt_created, speed_limit_mm_s),
};
static const struct field f_hunt_destroyed[] = {FLD(cairn_hunt_destroyed, hunt_id),
						FLD(cairn_hunt_destroyed, players),
						FLD(cairn_hunt_destroyed, clues)};
static const struct field f_joined[] = {FLD(cairn_joined, player_id), FLD(cairn_joined, hunt_id),
					FLD(cairn_joined, x), FLD(cairn_joined, y)};
static const struct field f_left[] = {FLD(cairn_left, player_id), FLD(cairn_left, claims),
				      FLD(cairn_left, score)};
static const struct field f_moved[] = {
	FLD(cairn_moved, player_id), FLD(cairn_moved, outcome), FLD(cairn_moved, x),
	FLD(cairn_moved, y),         FLD(cairn_moved, clue_id), FLD(cairn_moved, holder_id),
	FLD(cairn_moved, value),     FLD(cairn_moved, score),
};
static const struct field f_clue_placed[] = {FLD(cairn_clue_placed, clue_id),
					     FLD(cairn_clue_placed, hunt_id),
					     FLD(cairn_clue_placed, x), FLD(cairn_clue_placed, y)};
static const struct field f_clue_removed[] = {FLD(cairn_clue_removed, clue_id),
					      FLD(cairn_clue_removed, claimed_by),
					      FLD(cairn_clue_removed, value)};
static const struct field f_player_info[] = {
	FLD(cairn_player_info, player_id), FLD(cairn_player_info, hunt_id),
	FLD(cairn_player_info, x),         FLD(cairn_player_info, y),
	FLD(cairn_player_info, claims),    FLD(cairn_player_info, score),
	FLD(cairn_player_info, stamp_ns),
};
static const struct field f_state_hash[] = {
	FLD(cairn_state_hash_reply, hash), FLD(cairn_state_hash_reply, applied),
	FLD(cairn_state_hash_reply, hunts), FLD(cairn_state_hash_reply, entities)};
static const struct field f_hit[] = {FLD(cairn_hit, id), FLD(cairn_hit, x), FLD(cairn_hit, y),
				     FLD(cairn_hit, dist_mm), FLD(cairn_hit, value)};
static const struct field f_event[] = {
	FLD(cairn_event, type),     FLD(cairn_event, hunt_id),   FLD(cairn_event, order),
	FLD(cairn_event, stamp_ns), FLD(cairn_event, player_id), FLD(cairn_event, clue_id),
	FLD(cairn_event, value),    FLD(cairn_event, x),         FLD(cairn_event, y),
};
static const struct field f_entity[] = {
	FLD(cairn_entity, id),    FLD(cairn_entity, hunt_id),    FLD(cairn_entity, kind),
	FLD(cairn_entity, flags), FLD(cairn_entity, block),      FLD(cairn_entity, x),
	FLD(cairn_entity, y),     FLD(cairn_entity, claimed_by), FLD(cairn_entity, claims),
	FLD(cairn_entity, value), FLD(cairn_entity, stamp_ns),   FLD(cairn_entity, order),
};
static const struct field f_hunt_info[] = {
	FLD(cairn_hunt_info, id),
	FLD(cairn_hunt_info, map_id),
	FLD(cairn_hunt_info, width),
	FLD(cairn_hunt_info, height),
	FLD(cairn_hunt_info, cell_mm),
	FLD(cairn_hunt_info, claim_radius_mm),
	FLD(cairn_hunt_info, speed_limit_mm_s),
	FLD(cairn_hunt_info, blocks_x),
	FLD(cairn_hunt_info, blocks_y),
	FLD(cairn_hunt_info, shards),
	FLD(cairn_hunt_info, players),
	FLD(cairn_hunt_info, clues),
	FLD(cairn_hunt_info, clues_claimed),
	FLD(cairn_hunt_info, map_hash),
	FLD(cairn_hunt_info, created_ns),
};
static const struct field f_map_info[] = {FLD(cairn_map_info, width), FLD(cairn_map_info, height),
					  FLD(cairn_map_info, passable), FLD(cairn_map_info, hash),
					  NAME(cairn_map_info, name)};
static const struct field f_next_move[] = {
	FLD(cairn_next_move_item, status), FLD(cairn_next_move_item, dir),
	FLD(cairn_next_move_item, x), FLD(cairn_next_move_item, y)};
static const struct field f_distance[] = {
	FLD(cairn_distance_item, status), FLD(cairn_distance_item, straight),
	FLD(cairn_distance_item, diagonal), FLD(cairn_distance_item, length_mm)};
static const struct field f_path_batch[] = {
	FLD(cairn_path_batch_reply, count), FLD(cairn_path_batch_reply, failed),
	FLD(cairn_path_batch_reply, method), FLD(cairn_path_batch_reply, expansions)};
static const struct field f_path_info[] = {
	FLD(cairn_path_reply, count),      FLD(cairn_path_reply, cells),
	FLD(cairn_path_reply, straight),   FLD(cairn_path_reply, diagonal),
	FLD(cairn_path_reply, length_mm),  FLD(cairn_path_reply, method),
	FLD(cairn_path_reply, expansions),
};
static const struct field f_query[] = {FLD(cairn_query_reply, count),
				       FLD(cairn_query_reply, total)};

enum {
	T_PONG,
	T_HUNT_CREATED,
	T_HUNT_DESTROYED,
	T_JOINED,
	T_LEFT,
	T_MOVED,
	T_CLUE_PLACED,
	T_CLUE_REMOVED,
	T_PLAYER_INFO,
	T_STATE_HASH,
	T_HIT,
	T_EVENT,
	T_ENTITY,
	T_HUNT_INFO,
	T_MAP_INFO,
	T_NEXT_MOVE,
	T_DISTANCE,
	T_PATH_BATCH,
	T_PATH_INFO,
	T_QUERY,
	T_COUNT
};

static struct rtype rtypes[T_COUNT] = {
	[T_PONG] = {"Pong", "Answer to PING.", FIELDS(f_pong)},
	[T_HUNT_CREATED] = {"HuntCreated", "Answer to HUNT_CREATE.", FIELDS(f_hunt_created)},
	[T_HUNT_DESTROYED] = {"HuntDestroyed", "Answer to HUNT_DESTROY.", FIELDS(f_hunt_destroyed)},
	[T_JOINED] = {"Joined", "Answer to JOIN.", FIELDS(f_joined)},
	[T_LEFT] = {"Left", "Answer to LEAVE.", FIELDS(f_left)},
	[T_MOVED] = {"Moved", "Answer to MOVE: outcome is CLAIM_NONE, CLAIM_WON or CLAIM_LOST.",
		     FIELDS(f_moved)},
	[T_CLUE_PLACED] = {"CluePlaced", "Answer to CLUE_PLACE.", FIELDS(f_clue_placed)},
	[T_CLUE_REMOVED] = {"ClueRemoved", "Answer to CLUE_REMOVE.", FIELDS(f_clue_removed)},
	[T_PLAYER_INFO] = {"PlayerInfo", "Answer to PLAYER_STATE.", FIELDS(f_player_info)},
	[T_STATE_HASH] = {"StateHash", "Answer to STATE_HASH.", FIELDS(f_state_hash)},
	[T_HIT] = {"Hit", "One answer of a query (a clue or a player).", FIELDS(f_hit)},
	[T_EVENT] = {"Event", "One event of the daemon's event feed.", FIELDS(f_event)},
	[T_ENTITY] = {"Entity", "A player or a clue, read from the grid.", FIELDS(f_entity)},
	[T_HUNT_INFO] = {"HuntInfo", "A hunt's directory record, read from the grid.",
			 FIELDS(f_hunt_info)},
	[T_MAP_INFO] = {"MapInfo", "A loaded map.", FIELDS(f_map_info)},
	[T_NEXT_MOVE] = {"NextMove",
			 "The first step of a shortest path (status 0 or an error code).",
			 FIELDS(f_next_move)},
	[T_DISTANCE] = {"Distance", "The length of a shortest path (status 0 or an error code).",
			FIELDS(f_distance)},
	[T_PATH_BATCH] = {"PathBatchInfo", "Counts of a NEXT_MOVE or DISTANCE batch.",
			  FIELDS(f_path_batch)},
	[T_PATH_INFO] = {"PathInfo", "Counts and length of a PATH answer.", FIELDS(f_path_info)},
	[T_QUERY] = {"QueryReply", "Counts of a query answer.", FIELDS(f_query)},
};

static PyTypeObject *Result_Type; /* any other result: type, status, request_id, payload */

static PyObject *field_value(const struct field *f, const uint8_t *p)
{
	p += f->off;
	switch (f->kind) {
	case K_U8:
		return PyLong_FromLong(*p);
	case K_U16: {
		uint16_t v;
		memcpy(&v, p, sizeof(v));
		return PyLong_FromLong(v);
	}
	case K_U32: {
		uint32_t v;
		memcpy(&v, p, sizeof(v));
		return PyLong_FromUnsignedLong(v);
	}
	case K_I32: {
		int32_t v;
		memcpy(&v, p, sizeof(v));
		return PyLong_FromLong(v);
	}
	case K_U64: {
		uint64_t v;
		memcpy(&v, p, sizeof(v));
		return PyLong_FromUnsignedLongLong(v);
	}
	case K_I64: {
		int64_t v;
		memcpy(&v, p, sizeof(v));
		return PyLong_FromLongLong(v);
	}
	default:
		return PyUnicode_DecodeUTF8(
			(const char *)p, (Py_ssize_t)strnlen((const char *)p, f->len), "replace");
	}
}

/* A new result object of kind t from the C struct at p. */
static PyObject *make(int t, const void *p)
{
	const struct rtype *rt = &rtypes[t];
	PyObject *o = PyStructSequence_New(rt->type);
	if (!o) {
		return NULL;
	}
	for (unsigned i = 0; i < rt->n; i++) {
		PyObject *v = field_value(&rt->f[i], p);
		if (!v) {
			Py_DECREF(o);
			return NULL;
		}
		PyStructSequence_SET_ITEM(o, i, v);
	}
	return o;
}

static PyObject *make_list(int t, const void *items, size_t size, size_t n)
{
	PyObject *l = PyList_New((Py_ssize_t)n);
	if (!l) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		PyObject *o = make(t, (const uint8_t *)items + i * size);
		if (!o) {
			Py_DECREF(l);
			return NULL;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, o);
	}
	return l;
}

static PyObject *make_raw(const struct cairn_msg *m)
{
	PyObject *o = PyStructSequence_New(Result_Type);
	if (!o) {
		return NULL;
	}
	size_t len = m->hdr.length <= CAIRN_PAYLOAD_SIZE ? m->hdr.length : CAIRN_PAYLOAD_SIZE;
	PyStructSequence_SET_ITEM(o, 0, PyLong_FromLong(m->hdr.type));
	PyStructSequence_SET_ITEM(o, 1, PyLong_FromLong(m->hdr.status));
	PyStructSequence_SET_ITEM(o, 2, PyLong_FromUnsignedLongLong(m->hdr.request_id));
	PyStructSequence_SET_ITEM(
		o, 3, PyBytes_FromStringAndSize((const char *)m->payload, (Py_ssize_t)len));
	for (int i = 0; i < 4; i++) {
		if (!PyStructSequence_GET_ITEM(o, i)) {
			Py_DECREF(o);
			return NULL;
		}
	}
	return o;
}

/* The result object kind of a reply type, or -1. */
static int kind_of_reply(uint16_t type, uint8_t *len_min)
{
	switch (type) {
#define R(T, K)                                                                                    \
	case CAIRN_MSG_##T:                                                                        \
		*len_min = CAIRN_MSG_##T##_LEN_MIN;                                                \
		return K
		R(PONG, T_PONG);
		R(HUNT_CREATED, T_HUNT_CREATED);
		R(HUNT_DESTROYED, T_HUNT_DESTROYED);
		R(JOINED, T_JOINED);
		R(LEFT, T_LEFT);
		R(MOVED, T_MOVED);
		R(CLUE_PLACED, T_CLUE_PLACED);
		R(CLUE_REMOVED, T_CLUE_REMOVED);
		R(PLAYER_INFO, T_PLAYER_INFO);
		R(STATE_HASH_REPLY, T_STATE_HASH);
#undef R
	default:
		return -1;
	}
}

/*
 * The code of a result: 0, or negative for an ERROR result (its status), and
 * -CAIRN_E_BAD_REPLY when it is not of type expect (0: any) or is too short.
 */
static int result_code(const struct cairn_msg *m, uint16_t expect)
{
	if (m->hdr.type == CAIRN_MSG_ERROR) {
		return m->hdr.status > 0 ? -m->hdr.status : -CAIRN_E_BAD_REPLY;
	}
	if (expect) {
		uint8_t len_min = 0;
		if (m->hdr.type != expect ||
		    (kind_of_reply(expect, &len_min) >= 0 && m->hdr.length < len_min)) {
			return -CAIRN_E_BAD_REPLY;
		}
	}
	return 0;
}

/* The object for result m: a typed result, a Result, or an exception object (not raised). */
static PyObject *decode_msg(const struct cairn_msg *m)
{
	int r = result_code(m, 0);
	if (r < 0) {
		return error_object(r);
	}
	uint8_t len_min;
	int k = kind_of_reply(m->hdr.type, &len_min);
	if (k < 0) {
		return make_raw(m);
	}
	if (m->hdr.length < len_min) {
		return error_object(-CAIRN_E_BAD_REPLY);
	}
	return make(k, m->payload);
}

static int init_rtypes(PyObject *mod)
{
	for (int t = 0; t < T_COUNT; t++) {
		struct rtype *rt = &rtypes[t];
		PyStructSequence_Field *f = PyMem_Calloc(rt->n + 1, sizeof(*f));
		PyStructSequence_Desc *d = PyMem_Calloc(1, sizeof(*d));
		char *qual = PyMem_Malloc(strlen(rt->name) + 7);
		if (!f || !d || !qual) {
			PyErr_NoMemory();
			return -1;
		}
		for (unsigned i = 0; i < rt->n; i++) {
			f[i].name = rt->f[i].name;
		}
		strcpy(qual, "cairn.");
		strcat(qual, rt->name);
		d->name = qual;
		d->doc = rt->doc;
		d->fields = f;
		d->n_in_sequence = (int)rt->n;
		rt->type = PyStructSequence_NewType(d);
		if (!rt->type || PyModule_AddObjectRef(mod, rt->name, (PyObject *)rt->type) < 0) {
			return -1;
		}
	}
	static PyStructSequence_Field rf[] = {{"type", "message type"},
					      {"status", "0, or the error code of an ERROR"},
					      {"request_id", "the command's request id"},
					      {"payload", "the payload bytes in use"},
					      {NULL, NULL}};
	static PyStructSequence_Desc rd = {"cairn.Result", "A result of no typed kind.", rf, 4};
	Result_Type = PyStructSequence_NewType(&rd);
	if (!Result_Type || PyModule_AddObjectRef(mod, "Result", (PyObject *)Result_Type) < 0) {
		return -1;
	}
	return 0;
}

/* ---- messages as bytes ---- */

static int msg_from(PyObject *o, struct cairn_msg *m)
{
	Py_buffer b;
	if (PyObject_GetBuffer(o, &b, PyBUF_SIMPLE) < 0) {
		return -1;
	}
	if (b.len != (Py_ssize_t)sizeof(*m)) {
		PyBuffer_Release(&b);
		PyErr_Format(PyExc_ValueError, "a command is %zu bytes, not %zd", sizeof(*m),
			     b.len);
		return -1;
	}
	memcpy(m, b.buf, sizeof(*m));
	PyBuffer_Release(&b);
	if (m->hdr.length > CAIRN_PAYLOAD_SIZE) {
		PyErr_SetString(PyExc_ValueError, "payload length above PAYLOAD_SIZE");
		return -1;
	}
	return 0;
}

static PyObject *msg_bytes(const struct cairn_msg *m)
{
	return PyBytes_FromStringAndSize((const char *)m, sizeof(*m));
}

/* ---- Client ---- */

static int Client_init(ClientObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"socket_path", "name",    "cmd_capacity", "res_capacity",
				 "blob_size",   "spin_us", "reconnect_ms", NULL};
	PyObject *path = Py_None;
	const char *name = NULL;
	unsigned cmd_cap = 0, res_cap = 0, blob = 0, spin = 0;
	int reconnect_ms = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|Oz$IIIIi:Client", kwlist, &path, &name,
					 &cmd_cap, &res_cap, &blob, &spin, &reconnect_ms)) {
		return -1;
	}
	if (self->c) {
		PyErr_SetString(PyExc_RuntimeError, "Client already open");
		return -1;
	}
	PyObject *pathb = NULL;
	if (path != Py_None && !PyUnicode_FSConverter(path, &pathb)) {
		return -1;
	}
	struct cairn_open_options o;
	memset(&o, 0, sizeof(o));
	o.cmd_capacity = cmd_cap;
	o.res_capacity = res_cap;
	o.blob_size = blob;
	o.spin_us = spin;
	o.name = name;
	o.reconnect_ms = reconnect_ms;
	if (!self->d_ok) {
		if (disp_init(&self->d) < 0) {
			Py_XDECREF(pathb);
			PyErr_NoMemory();
			return -1;
		}
		self->d_ok = true;
	}
	const char *p = pathb ? PyBytes_AS_STRING(pathb) : NULL;
	cairn_client *c = NULL;
	int r;
	PyThreadState *ts = PyEval_SaveThread();
	r = cairn_open(p, &o, &c);
	PyEval_RestoreThread(ts);
	if (r < 0) {
		Py_XDECREF(pathb);
		raise_code(r);
		return -1;
	}
	self->c = c;
	self->next_id = 1;
	Py_XSETREF(self->path, pathb ? PyUnicode_DecodeFSDefault(p) : Py_NewRef(Py_None));
	Py_XDECREF(pathb);
	return self->path ? 0 : -1;
}

static void Client_dealloc(ClientObject *self)
{
	/* No call can be running: each holds a reference to self. */
	cairn_close(self->c);
	self->c = NULL;
	if (self->d_ok) {
		disp_fini(&self->d);
	}
	Py_XDECREF(self->path);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Client_close(ClientObject *self, PyObject *unused)
{
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"close(): other threads are inside calls on this client");
		return NULL;
	}
	cairn_client *c = self->c;
	self->c = NULL;
	PyThreadState *ts = PyEval_SaveThread();
	cairn_close(c);
	PyEval_RestoreThread(ts);
	Py_RETURN_NONE;
}

static PyObject *Client_enter(ClientObject *self, PyObject *unused)
{
	return Py_NewRef(self);
}

static PyObject *Client_exit(ClientObject *self, PyObject *args)
{
	return Client_close(self, NULL);
}

/* One command with its typed result: expect is the reply type, kind its object. */
static PyObject *call_typed(ClientObject *self, struct cairn_msg *m, uint16_t expect, int kind,
			    int64_t timeout)
{
	if (!client_enter(self)) {
		return NULL;
	}
	struct cairn_msg res;
	int r = call_n(self, m, &res, 1, timeout);
	client_leave(self);
	if (r == 0) {
		r = result_code(&res, expect);
	}
	if (r < 0) {
		return raise_code(r);
	}
	return kind >= 0 ? make(kind, res.payload) : Py_NewRef(Py_None);
}

/* call_typed, answering only the result's first field (the id a JOIN or CLUE_PLACE made). */
static PyObject *call_first(ClientObject *self, struct cairn_msg *m, uint16_t reply, int kind,
			    int64_t timeout)
{
	PyObject *o = call_typed(self, m, reply, kind, timeout);
	if (!o) {
		return NULL;
	}
	PyObject *id = Py_NewRef(PyStructSequence_GET_ITEM(o, 0));
	Py_DECREF(o);
	return id;
}

static PyObject *Client_ping(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("ping", 0, "timeout");
	int64_t t;
	if (arg_timeout(a[0], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
	return call_typed(self, &m, CAIRN_MSG_PONG, T_PONG, t);
}

static PyObject *Client_hunt_create(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				    PyObject *kwnames)
{
	PARSE("hunt_create", 0, "map_id", "claim_radius_mm", "speed_limit_mm_s", "cell_mm",
	      "timeout");
	struct cairn_hunt_params p = {0};
	int64_t t;
	if (arg_u32(a[0], "map_id", &p.map_id) < 0 ||
	    arg_u32(a[1], "claim_radius_mm", &p.claim_radius_mm) < 0 ||
	    arg_u32(a[2], "speed_limit_mm_s", &p.speed_limit_mm_s) < 0 ||
	    arg_u32(a[3], "cell_mm", &p.cell_mm) < 0 || arg_timeout(a[4], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_hunt_create(&m, &p);
	return call_typed(self, &m, CAIRN_MSG_HUNT_CREATED, T_HUNT_CREATED, t);
}

static PyObject *Client_hunt_destroy(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				     PyObject *kwnames)
{
	PARSE("hunt_destroy", 1, "hunt_id", "timeout");
	uint32_t h = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_timeout(a[1], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_hunt_destroy(&m, h);
	return call_typed(self, &m, CAIRN_MSG_HUNT_DESTROYED, T_HUNT_DESTROYED, t);
}

static PyObject *Client_join(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("join", 3, "hunt_id", "x", "y", "timeout");
	uint32_t h = 0;
	int32_t x = 0, y = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_i32(a[1], "x", &x) < 0 ||
	    arg_i32(a[2], "y", &y) < 0 || arg_timeout(a[3], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_join(&m, h, x, y);
	return call_first(self, &m, CAIRN_MSG_JOINED, T_JOINED, t);
}

static PyObject *Client_leave(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	PARSE("leave", 2, "hunt_id", "player_id", "timeout");
	uint32_t h = 0, p = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "player_id", &p) < 0 ||
	    arg_timeout(a[2], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_leave(&m, h, p);
	return call_typed(self, &m, CAIRN_MSG_LEFT, T_LEFT, t);
}

static PyObject *Client_move(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("move", 4, "hunt_id", "player_id", "x", "y", "timeout");
	uint32_t h = 0, p = 0;
	int32_t x = 0, y = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "player_id", &p) < 0 ||
	    arg_i32(a[2], "x", &x) < 0 || arg_i32(a[3], "y", &y) < 0 || arg_timeout(a[4], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_move(&m, h, p, x, y);
	return call_typed(self, &m, CAIRN_MSG_MOVED, T_MOVED, t);
}

static PyObject *Client_clue_place(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				   PyObject *kwnames)
{
	PARSE("clue_place", 4, "hunt_id", "x", "y", "value", "timeout");
	uint32_t h = 0;
	int32_t x = 0, y = 0;
	int64_t v = 0, t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_i32(a[1], "x", &x) < 0 ||
	    arg_i32(a[2], "y", &y) < 0 || arg_i64(a[3], INT64_MIN, INT64_MAX, "value", &v) < 0 ||
	    arg_timeout(a[4], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_clue_place(&m, h, x, y, v);
	return call_first(self, &m, CAIRN_MSG_CLUE_PLACED, T_CLUE_PLACED, t);
}

static PyObject *Client_clue_remove(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				    PyObject *kwnames)
{
	PARSE("clue_remove", 2, "hunt_id", "clue_id", "timeout");
	uint32_t h = 0, cid = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "clue_id", &cid) < 0 ||
	    arg_timeout(a[2], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_clue_remove(&m, h, cid);
	return call_typed(self, &m, CAIRN_MSG_CLUE_REMOVED, T_CLUE_REMOVED, t);
}

static PyObject *Client_player_state(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				     PyObject *kwnames)
{
	PARSE("player_state", 2, "hunt_id", "player_id", "timeout");
	uint32_t h = 0, p = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "player_id", &p) < 0 ||
	    arg_timeout(a[2], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	struct cairn_player_ref q = {.hunt_id = h, .player_id = p};
	cairn_msg_init(&m, CAIRN_MSG_PLAYER_STATE, CAIRN_MSG_PLAYER_STATE_LEN_MIN);
	memcpy(m.payload, &q, sizeof(q));
	return call_typed(self, &m, CAIRN_MSG_PLAYER_INFO, T_PLAYER_INFO, t);
}

static PyObject *Client_state_hash(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				   PyObject *kwnames)
{
	PARSE("state_hash", 0, "timeout");
	int64_t t;
	if (arg_timeout(a[0], &t) < 0) {
		return NULL;
	}
	struct cairn_msg m;
	cairn_msg_init(&m, CAIRN_MSG_STATE_HASH, CAIRN_MSG_STATE_HASH_LEN_MIN);
	return call_typed(self, &m, CAIRN_MSG_STATE_HASH_REPLY, T_STATE_HASH, t);
}

/* call(msg, timeout=None): any command as 56 bytes; its result object, raised if an error. */
static PyObject *Client_call(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("call", 1, "msg", "timeout");
	struct cairn_msg m, res;
	int64_t t;
	if (msg_from(a[0], &m) < 0 || arg_timeout(a[1], &t) < 0) {
		return NULL;
	}
	if (!client_enter(self)) {
		return NULL;
	}
	int r = call_n(self, &m, &res, 1, t);
	client_leave(self);
	if (r < 0) {
		return raise_code(r);
	}
	PyObject *o = decode_msg(&res);
	if (o && PyExceptionInstance_Check(o)) {
		PyErr_SetObject((PyObject *)Py_TYPE(o), o);
		Py_DECREF(o);
		return NULL;
	}
	return o;
}

/* Runs n built commands as one pipelined batch; a list of result objects or exceptions. */
static PyObject *run_many(ClientObject *self, struct cairn_msg *cmd, size_t n, int64_t t)
{
	if (n > UINT32_MAX / 2) {
		PyErr_SetString(PyExc_ValueError, "too many commands");
		return NULL;
	}
	struct cairn_msg *res = PyMem_Malloc((n ? n : 1) * sizeof(*res));
	if (!res) {
		return PyErr_NoMemory();
	}
	if (!client_enter(self)) {
		PyMem_Free(res);
		return NULL;
	}
	int r = n ? call_n(self, cmd, res, (unsigned)n, t) : 0;
	client_leave(self);
	PyObject *l = NULL;
	if (r < 0) {
		raise_code(r);
	} else if ((l = PyList_New((Py_ssize_t)n))) {
		for (size_t i = 0; i < n; i++) {
			PyObject *o = decode_msg(&res[i]);
			if (!o) {
				Py_CLEAR(l);
				break;
			}
			PyList_SET_ITEM(l, (Py_ssize_t)i, o);
		}
	}
	PyMem_Free(res);
	return l;
}

/* call_many(msgs, timeout=None): pipelined; results (or exception objects) in order. */
static PyObject *Client_call_many(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	PARSE("call_many", 1, "msgs", "timeout");
	int64_t t;
	if (arg_timeout(a[1], &t) < 0) {
		return NULL;
	}
	PyObject *seq = PySequence_Fast(a[0], "call_many() takes a sequence of commands");
	if (!seq) {
		return NULL;
	}
	size_t n = (size_t)PySequence_Fast_GET_SIZE(seq);
	struct cairn_msg *cmd = PyMem_Malloc((n ? n : 1) * sizeof(*cmd));
	PyObject *out = NULL;
	if (!cmd) {
		PyErr_NoMemory();
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (msg_from(PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i), &cmd[i]) < 0) {
			goto done;
		}
	}
	out = run_many(self, cmd, n, t);
done:
	PyMem_Free(cmd);
	Py_DECREF(seq);
	return out;
}

/* move_many(hunt_id, moves, timeout=None): moves is a sequence of (player_id, x, y). */
static PyObject *Client_move_many(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	PARSE("move_many", 2, "hunt_id", "moves", "timeout");
	uint32_t h = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_timeout(a[2], &t) < 0) {
		return NULL;
	}
	PyObject *seq = PySequence_Fast(a[1], "move_many() takes a sequence of (player_id, x, y)");
	if (!seq) {
		return NULL;
	}
	size_t n = (size_t)PySequence_Fast_GET_SIZE(seq);
	struct cairn_msg *cmd = PyMem_Malloc((n ? n : 1) * sizeof(*cmd));
	PyObject *out = NULL;
	if (!cmd) {
		PyErr_NoMemory();
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		PyObject *it = PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i);
		if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 3) {
			PyErr_SetString(PyExc_TypeError, "each move is a tuple (player_id, x, y)");
			goto done;
		}
		uint32_t p = 0;
		int32_t x = 0, y = 0;
		if (arg_u32(PyTuple_GET_ITEM(it, 0), "player_id", &p) < 0 ||
		    arg_i32(PyTuple_GET_ITEM(it, 1), "x", &x) < 0 ||
		    arg_i32(PyTuple_GET_ITEM(it, 2), "y", &y) < 0) {
			goto done;
		}
		cairn_msg_move(&cmd[i], h, p, x, y);
	}
	out = run_many(self, cmd, n, t);
done:
	PyMem_Free(cmd);
	Py_DECREF(seq);
	return out;
}

/* submit(msg): pushes without waiting; the request id, or None when the ring is full. */
static PyObject *Client_submit(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			       PyObject *kwnames)
{
	PARSE("submit", 1, "msg");
	struct cairn_msg m;
	if (msg_from(a[0], &m) < 0 || !client_enter(self)) {
		return NULL;
	}
	uint64_t id = take_ids(self, 1) | RAW_BIT;
	m.hdr.request_id = id;
	int r = cairn_submit(self->c, &m);
	client_leave(self);
	if (r == -EAGAIN) {
		Py_RETURN_NONE;
	}
	if (r < 0) {
		return raise_code(r);
	}
	return PyLong_FromUnsignedLongLong(id);
}

/* submit_many(msgs): pushes what fits; the list of request ids of those pushed, in order. */
static PyObject *Client_submit_many(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				    PyObject *kwnames)
{
	PARSE("submit_many", 1, "msgs");
	PyObject *seq = PySequence_Fast(a[0], "submit_many() takes a sequence of commands");
	if (!seq) {
		return NULL;
	}
	size_t n = (size_t)PySequence_Fast_GET_SIZE(seq);
	struct cairn_msg *cmd = PyMem_Malloc((n ? n : 1) * sizeof(*cmd));
	PyObject *out = NULL;
	if (!cmd) {
		PyErr_NoMemory();
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (msg_from(PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i), &cmd[i]) < 0) {
			goto done;
		}
	}
	if (!client_enter(self)) {
		goto done;
	}
	uint64_t first = take_ids(self, (unsigned)n);
	for (size_t i = 0; i < n; i++) {
		cmd[i].hdr.request_id = (first + i) | RAW_BIT;
	}
	int k = n ? cairn_submit_batch(self->c, cmd, (unsigned)n) : 0;
	client_leave(self);
	if (k == -EAGAIN) {
		k = 0;
	}
	if (k < 0) {
		raise_code(k);
		goto done;
	}
	out = PyList_New(k);
	for (int i = 0; out && i < k; i++) {
		PyObject *id = PyLong_FromUnsignedLongLong(cmd[i].hdr.request_id);
		if (!id) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, i, id);
	}
done:
	PyMem_Free(cmd);
	Py_DECREF(seq);
	return out;
}

/* Results of submit() commands as a list of (request_id, object). */
static PyObject *pairs(const struct cairn_msg *res, unsigned n)
{
	PyObject *l = PyList_New(n);
	for (unsigned i = 0; l && i < n; i++) {
		PyObject *o = decode_msg(&res[i]);
		PyObject *p =
			o ? Py_BuildValue("(KN)", (unsigned long long)res[i].hdr.request_id, o)
			  : NULL;
		if (!p) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, i, p);
	}
	return l;
}

/*
 * wait(max=64, timeout=None): results of submit() commands, at least one unless the
 * timeout passes (0: only take what is there). poll(max=64) is wait with timeout 0.
 */
static PyObject *collect_raw(ClientObject *self, PyObject *omax, int64_t t)
{
	uint32_t max = 64;
	if (arg_u32(omax, "max", &max) < 0) {
		return NULL;
	}
	if (max == 0 || max > 65536) {
		PyErr_SetString(PyExc_ValueError, "max must be 1..65536");
		return NULL;
	}
	struct cairn_msg *res = PyMem_Malloc(max * sizeof(*res));
	if (!res) {
		return PyErr_NoMemory();
	}
	if (!client_enter(self)) {
		PyMem_Free(res);
		return NULL;
	}
	struct want w = {.lo = RAW_BIT, .hi = RAW_BIT << 1, .res = res, .need = 1, .any = true};
	int r = run_wait(self, &w, NULL, t);
	if (r == 0 || (r == -ETIMEDOUT && w.got == 0)) {
		/* Then take what else is ready, without waiting. */
		w.need = max;
		r = progress(self->c, &self->d, &w, NULL, 0);
		r = r == -ETIMEDOUT ? 0 : r;
	}
	client_leave(self);
	PyObject *l = NULL;
	if (w.got > 0 || r == 0) {
		l = pairs(res, w.got);
	} else {
		raise_code(r);
	}
	PyMem_Free(res);
	return l;
}

static PyObject *Client_wait(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("wait", 0, "max", "timeout");
	int64_t t;
	if (arg_timeout(a[1], &t) < 0) {
		return NULL;
	}
	return collect_raw(self, a[0], t);
}

static PyObject *Client_poll(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("poll", 0, "max");
	return collect_raw(self, a[0], 0);
}

/* ---- the queries through the blob arena (libcairn's calls, GIL released) ---- */

static PyObject *hits_result(int r, const struct cairn_hit *hits, uint32_t count)
{
	if (r < 0) {
		return raise_code(r);
	}
	return make_list(T_HIT, hits, sizeof(*hits), count);
}

static PyObject *Client_nearest_clues(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				      PyObject *kwnames)
{
	PARSE("nearest_clues", 4, "hunt_id", "x", "y", "k", "include_claimed", "timeout");
	uint32_t h = 0, k = 0, count = 0;
	int32_t x = 0, y = 0;
	int inc = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_i32(a[1], "x", &x) < 0 ||
	    arg_i32(a[2], "y", &y) < 0 || arg_u32(a[3], "k", &k) < 0 || arg_bool(a[4], &inc) < 0 ||
	    arg_timeout(a[5], &t) < 0) {
		return NULL;
	}
	struct cairn_hit *hits = PyMem_Malloc(CAIRN_MAX_QUERY_ITEMS * sizeof(*hits));
	if (!hits) {
		return PyErr_NoMemory();
	}
	if (!client_enter(self)) {
		PyMem_Free(hits);
		return NULL;
	}
	int r;
	PyThreadState *ts = PyEval_SaveThread();
	r = cairn_nearest_clues(self->c, h, x, y, k, inc, k <= CAIRN_MAX_QUERY_ITEMS ? hits : NULL,
				&count, t);
	PyEval_RestoreThread(ts);
	client_leave(self);
	PyObject *o = hits_result(r, hits, count);
	PyMem_Free(hits);
	return o;
}

static PyObject *Client_players_near(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				     PyObject *kwnames)
{
	PARSE("players_near", 4, "hunt_id", "x", "y", "radius_mm", "max", "timeout");
	uint32_t h = 0, rad = 0, max = 64, count = 0, total = 0;
	int32_t x = 0, y = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_i32(a[1], "x", &x) < 0 ||
	    arg_i32(a[2], "y", &y) < 0 || arg_u32(a[3], "radius_mm", &rad) < 0 ||
	    arg_u32(a[4], "max", &max) < 0 || arg_timeout(a[5], &t) < 0) {
		return NULL;
	}
	struct cairn_hit *hits = PyMem_Malloc(CAIRN_MAX_QUERY_ITEMS * sizeof(*hits));
	if (!hits) {
		return PyErr_NoMemory();
	}
	if (!client_enter(self)) {
		PyMem_Free(hits);
		return NULL;
	}
	int r;
	PyThreadState *ts = PyEval_SaveThread();
	r = cairn_players_near(self->c, h, x, y, rad, max,
			       max <= CAIRN_MAX_QUERY_ITEMS ? hits : NULL, &count, &total, t);
	PyEval_RestoreThread(ts);
	client_leave(self);
	PyObject *l = hits_result(r, hits, count);
	PyMem_Free(hits);
	return l ? Py_BuildValue("(NI)", l, total) : NULL;
}

static PyObject *Client_leaderboard(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				    PyObject *kwnames)
{
	PARSE("leaderboard", 2, "hunt_id", "k", "timeout");
	uint32_t h = 0, k = 0, count = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "k", &k) < 0 ||
	    arg_timeout(a[2], &t) < 0) {
		return NULL;
	}
	struct cairn_hit *hits = PyMem_Malloc(CAIRN_MAX_QUERY_ITEMS * sizeof(*hits));
	if (!hits) {
		return PyErr_NoMemory();
	}
	if (!client_enter(self)) {
		PyMem_Free(hits);
		return NULL;
	}
	int r;
	PyThreadState *ts = PyEval_SaveThread();
	r = cairn_leaderboard(self->c, h, k, k <= CAIRN_MAX_QUERY_ITEMS ? hits : NULL, &count, t);
	PyEval_RestoreThread(ts);
	client_leave(self);
	PyObject *o = hits_result(r, hits, count);
	PyMem_Free(hits);
	return o;
}

/* The (from_x, from_y, to_x, to_y) tuples of a path batch. */
static int path_pairs(PyObject *o, struct cairn_path_pair *pairs, uint32_t *n)
{
	PyObject *seq =
		PySequence_Fast(o, "pairs must be a sequence of (from_x, from_y, to_x, to_y)");
	if (!seq) {
		return -1;
	}
	Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
	if (k < 1 || k > CAIRN_MAX_PATH_BATCH) {
		Py_DECREF(seq);
		PyErr_Format(PyExc_ValueError, "1 to %d pairs", CAIRN_MAX_PATH_BATCH);
		return -1;
	}
	for (Py_ssize_t i = 0; i < k; i++) {
		PyObject *it = PySequence_Fast_GET_ITEM(seq, i);
		if (!PyTuple_Check(it) || PyTuple_GET_SIZE(it) != 4) {
			Py_DECREF(seq);
			PyErr_SetString(PyExc_TypeError,
					"each pair is (from_x, from_y, to_x, to_y)");
			return -1;
		}
		if (arg_i32(PyTuple_GET_ITEM(it, 0), "from_x", &pairs[i].from_x) < 0 ||
		    arg_i32(PyTuple_GET_ITEM(it, 1), "from_y", &pairs[i].from_y) < 0 ||
		    arg_i32(PyTuple_GET_ITEM(it, 2), "to_x", &pairs[i].to_x) < 0 ||
		    arg_i32(PyTuple_GET_ITEM(it, 3), "to_y", &pairs[i].to_y) < 0) {
			Py_DECREF(seq);
			return -1;
		}
	}
	Py_DECREF(seq);
	*n = (uint32_t)k;
	return 0;
}

static PyObject *path_batch(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			    PyObject *kwnames, bool distance)
{
	PARSE(distance ? "distances" : "next_moves", 2, "hunt_id", "pairs", "method", "timeout");
	uint32_t h = 0, n = 0, method = 0;
	int64_t t;
	struct cairn_path_pair pairs[CAIRN_MAX_PATH_BATCH] = {{0}};
	if (arg_u32(a[0], "hunt_id", &h) < 0 || path_pairs(a[1], pairs, &n) < 0 ||
	    arg_u32(a[2], "method", &method) < 0 || arg_timeout(a[3], &t) < 0 ||
	    !client_enter(self)) {
		return NULL;
	}
	struct cairn_next_move_item nm[CAIRN_MAX_PATH_BATCH];
	struct cairn_distance_item di[CAIRN_MAX_PATH_BATCH];
	struct cairn_path_batch_reply info;
	int r;
	PyThreadState *ts = PyEval_SaveThread();
	r = distance ? cairn_distances(self->c, h, pairs, n, method, di, &info, t)
		     : cairn_next_moves(self->c, h, pairs, n, method, nm, &info, t);
	PyEval_RestoreThread(ts);
	client_leave(self);
	if (r < 0) {
		return raise_code(r);
	}
	return distance ? make_list(T_DISTANCE, di, sizeof(di[0]), n)
			: make_list(T_NEXT_MOVE, nm, sizeof(nm[0]), n);
}

static PyObject *Client_next_moves(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				   PyObject *kwnames)
{
	return path_batch(self, args, nargs, kwnames, false);
}

static PyObject *Client_distances(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	return path_batch(self, args, nargs, kwnames, true);
}

/* A path answer: (list of (x, y), PathInfo). */
static PyObject *path_result(int r, const struct cairn_path_point *pts,
			     const struct cairn_path_reply *info)
{
	if (r < 0) {
		return raise_code(r);
	}
	PyObject *l = PyList_New(info->count);
	for (uint32_t i = 0; l && i < info->count; i++) {
		PyObject *p = Py_BuildValue("(ii)", pts[i].x, pts[i].y);
		if (!p) {
			Py_CLEAR(l);
			break;
		}
		PyList_SET_ITEM(l, i, p);
	}
	PyObject *o = l ? make(T_PATH_INFO, info) : NULL;
	return o ? Py_BuildValue("(NN)", l, o) : (Py_XDECREF(l), NULL);
}

#define PATH_CAP 4096

static PyObject *Client_path(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("path", 5, "hunt_id", "from_x", "from_y", "to_x", "to_y", "waypoints", "method",
	      "timeout");
	uint32_t h = 0, method = 0;
	int32_t fx = 0, fy = 0, tx = 0, ty = 0;
	int wp = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_i32(a[1], "from_x", &fx) < 0 ||
	    arg_i32(a[2], "from_y", &fy) < 0 || arg_i32(a[3], "to_x", &tx) < 0 ||
	    arg_i32(a[4], "to_y", &ty) < 0 || arg_bool(a[5], &wp) < 0 ||
	    arg_u32(a[6], "method", &method) < 0 || arg_timeout(a[7], &t) < 0) {
		return NULL;
	}
	struct cairn_path_point *pts = PyMem_Malloc(PATH_CAP * sizeof(*pts));
	if (!pts) {
		return PyErr_NoMemory();
	}
	if (!client_enter(self)) {
		PyMem_Free(pts);
		return NULL;
	}
	struct cairn_path_reply info;
	int r;
	PyThreadState *ts = PyEval_SaveThread();
	r = cairn_path(self->c, h, fx, fy, tx, ty, wp ? CAIRN_PATH_WAYPOINTS : 0, method, pts,
		       PATH_CAP, &info, t);
	PyEval_RestoreThread(ts);
	client_leave(self);
	PyObject *o = path_result(r, pts, &info);
	PyMem_Free(pts);
	return o;
}

static PyObject *Client_path_to_clue(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				     PyObject *kwnames)
{
	PARSE("path_to_clue", 3, "hunt_id", "player_id", "clue_id", "waypoints", "method",
	      "timeout");
	uint32_t h = 0, p = 0, cid = 0, method = 0;
	int wp = 0;
	int64_t t;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "player_id", &p) < 0 ||
	    arg_u32(a[2], "clue_id", &cid) < 0 || arg_bool(a[3], &wp) < 0 ||
	    arg_u32(a[4], "method", &method) < 0 || arg_timeout(a[5], &t) < 0) {
		return NULL;
	}
	struct cairn_path_point *pts = PyMem_Malloc(PATH_CAP * sizeof(*pts));
	if (!pts) {
		return PyErr_NoMemory();
	}
	if (!client_enter(self)) {
		PyMem_Free(pts);
		return NULL;
	}
	struct cairn_path_reply info;
	int r;
	PyThreadState *ts = PyEval_SaveThread();
	r = cairn_path_to_clue(self->c, h, p, cid, wp ? CAIRN_PATH_WAYPOINTS : 0, method, pts,
			       PATH_CAP, &info, t);
	PyEval_RestoreThread(ts);
	client_leave(self);
	PyObject *o = path_result(r, pts, &info);
	PyMem_Free(pts);
	return o;
}

/* ---- grid reads ---- */

static PyObject *Client_read_map(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				 PyObject *kwnames)
{
	PARSE("read_map", 1, "map_id");
	uint32_t id = 0;
	if (arg_u32(a[0], "map_id", &id) < 0 || !client_enter(self)) {
		return NULL;
	}
	struct cairn_map_info m;
	int r = cairn_read_map(self->c, id, &m);
	client_leave(self);
	return r < 0 ? raise_code(r) : make(T_MAP_INFO, &m);
}

static PyObject *Client_read_hunt(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	PARSE("read_hunt", 1, "hunt_id");
	uint32_t id = 0;
	if (arg_u32(a[0], "hunt_id", &id) < 0 || !client_enter(self)) {
		return NULL;
	}
	struct cairn_hunt_info m;
	int r = cairn_read_hunt(self->c, id, &m);
	client_leave(self);
	return r < 0 ? raise_code(r) : make(T_HUNT_INFO, &m);
}

static PyObject *Client_read_entity(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				    PyObject *kwnames)
{
	PARSE("read_entity", 2, "hunt_id", "id");
	uint32_t h = 0, id = 0;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "id", &id) < 0 ||
	    !client_enter(self)) {
		return NULL;
	}
	struct cairn_entity e;
	int r = cairn_read_entity(self->c, h, id, &e);
	client_leave(self);
	return r < 0 ? raise_code(r) : make(T_ENTITY, &e);
}

static PyObject *Client_read_rect(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	PARSE("read_rect", 5, "hunt_id", "x0", "y0", "x1", "y1", "players", "clues", "cap");
	uint32_t h = 0, cap = 4096;
	int32_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
	int players = 1, clues = 1;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_i32(a[1], "x0", &x0) < 0 ||
	    arg_i32(a[2], "y0", &y0) < 0 || arg_i32(a[3], "x1", &x1) < 0 ||
	    arg_i32(a[4], "y1", &y1) < 0 || arg_bool(a[5], &players) < 0 ||
	    arg_bool(a[6], &clues) < 0 || arg_u32(a[7], "cap", &cap) < 0) {
		return NULL;
	}
	unsigned mask = (players ? CAIRN_READ_PLAYERS : 0) | (clues ? CAIRN_READ_CLUES : 0);
	for (;;) {
		struct cairn_entity *e = PyMem_Malloc((cap ? cap : 1) * sizeof(*e));
		if (!e) {
			return PyErr_NoMemory();
		}
		if (!client_enter(self)) {
			PyMem_Free(e);
			return NULL;
		}
		int r;
		PyThreadState *ts = PyEval_SaveThread();
		r = cairn_read_rect(self->c, h, x0, y0, x1, y1, mask, e, cap);
		PyEval_RestoreThread(ts);
		client_leave(self);
		if (r >= 0 && (uint32_t)r > cap) {
			/* More matched than fit: read again with room for all. */
			PyMem_Free(e);
			cap = (uint32_t)r + 64;
			continue;
		}
		PyObject *o = r < 0 ? raise_code(r) : make_list(T_ENTITY, e, sizeof(*e), (size_t)r);
		PyMem_Free(e);
		return o;
	}
}

static PyObject *Client_daemon_info(ClientObject *self, PyObject *unused)
{
	if (!client_enter(self)) {
		return NULL;
	}
	struct cairn_daemon_info i;
	cairn_daemon_info(self->c, &i);
	client_leave(self);
	return Py_BuildValue(
		"{s:I,s:I,s:I,s:i,s:i,s:I,s:K,s:K,s:K,s:K,s:I,s:I,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,"
		"s:K}",
		"pid", i.pid, "state", i.state, "max_lanes", i.max_lanes, "apply_cpu", i.apply_cpu,
		"numa_node", i.numa_node, "lane_id", i.lane_id, "client_id",
		(unsigned long long)i.client_id, "boot_epoch_ns",
		(unsigned long long)i.boot_epoch_ns, "heartbeat_age_ns",
		(unsigned long long)i.heartbeat_age_ns, "session_id",
		(unsigned long long)i.session_id, "dedup_window", i.dedup_window, "resumed",
		i.resumed, "durable_lsn", (unsigned long long)i.durable_lsn, "reconnects",
		(unsigned long long)i.reconnects, "resubmitted", (unsigned long long)i.resubmitted,
		"commands", (unsigned long long)i.counters.commands, "results",
		(unsigned long long)i.counters.results, "applied",
		(unsigned long long)i.engine.applied, "moves", (unsigned long long)i.engine.moves,
		"claims", (unsigned long long)i.engine.claims, "events",
		(unsigned long long)i.engine.events);
}

static PyObject *Client_check(ClientObject *self, PyObject *unused)
{
	if (!client_enter(self)) {
		return NULL;
	}
	int r;
	PyThreadState *ts = PyEval_SaveThread();
	r = cairn_check(self->c);
	PyEval_RestoreThread(ts);
	client_leave(self);
	return r < 0 ? raise_code(r) : Py_NewRef(Py_None);
}

static PyObject *Client_events(ClientObject *self, PyObject *unused);

static PyObject *Client_get_closed(ClientObject *self, void *unused)
{
	return PyBool_FromLong(self->c == NULL);
}

static PyObject *Client_get_path(ClientObject *self, void *unused)
{
	return Py_NewRef(self->path ? self->path : Py_None);
}

#define FAST(name, doc)                                                                            \
	{                                                                                          \
#name, (PyCFunction)(void (*)(void))Client_##name, METH_FASTCALL | METH_KEYWORDS,  \
			doc                                                                        \
	}

static PyMethodDef Client_methods[] = {
	{"close", (PyCFunction)Client_close, METH_NOARGS,
	 "Detaches; the daemon reclaims the lane. No call may be running."},
	{"__enter__", (PyCFunction)Client_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)Client_exit, METH_VARARGS, NULL},
	FAST(ping, "ping(timeout=None) -> Pong"),
	FAST(hunt_create, "hunt_create(map_id=0, claim_radius_mm=0, speed_limit_mm_s=0, cell_mm=0, "
			  "timeout=None) -> HuntCreated"),
	FAST(hunt_destroy, "hunt_destroy(hunt_id, timeout=None) -> HuntDestroyed"),
	FAST(join, "join(hunt_id, x, y, timeout=None) -> player id"),
	FAST(leave, "leave(hunt_id, player_id, timeout=None) -> Left"),
	FAST(move, "move(hunt_id, player_id, x, y, timeout=None) -> Moved"),
	FAST(clue_place, "clue_place(hunt_id, x, y, value, timeout=None) -> clue id"),
	FAST(clue_remove, "clue_remove(hunt_id, clue_id, timeout=None) -> ClueRemoved"),
	FAST(player_state, "player_state(hunt_id, player_id, timeout=None) -> PlayerInfo"),
	FAST(state_hash, "state_hash(timeout=None) -> StateHash"),
	FAST(call, "call(msg, timeout=None): sends a 56-byte command, returns its result object"),
	FAST(call_many, "call_many(msgs, timeout=None) -> list of results or Error objects"),
	FAST(move_many, "move_many(hunt_id, [(player_id, x, y), ...], timeout=None) -> list of "
			"Moved or Error"),
	FAST(submit, "submit(msg) -> request id, or None when the command ring is full"),
	FAST(submit_many, "submit_many(msgs) -> request ids of the commands pushed"),
	FAST(poll, "poll(max=64) -> [(request_id, result or Error)] of submit() commands"),
	FAST(wait, "wait(max=64, timeout=None) -> as poll, waiting for at least one"),
	FAST(nearest_clues,
	     "nearest_clues(hunt_id, x, y, k, include_claimed=False, timeout=None) -> [Hit]"),
	FAST(players_near,
	     "players_near(hunt_id, x, y, radius_mm, max=64, timeout=None) -> ([Hit], total)"),
	FAST(leaderboard, "leaderboard(hunt_id, k, timeout=None) -> [Hit]"),
	FAST(next_moves, "next_moves(hunt_id, pairs, method=0, timeout=None) -> [NextMove]"),
	FAST(distances, "distances(hunt_id, pairs, method=0, timeout=None) -> [Distance]"),
	FAST(path, "path(hunt_id, from_x, from_y, to_x, to_y, waypoints=False, method=0, "
		   "timeout=None) -> ([(x, y)], PathInfo)"),
	FAST(path_to_clue, "path_to_clue(hunt_id, player_id, clue_id, waypoints=False, method=0, "
			   "timeout=None) -> ([(x, y)], PathInfo)"),
	FAST(read_map, "read_map(map_id) -> MapInfo"),
	FAST(read_hunt, "read_hunt(hunt_id) -> HuntInfo"),
	FAST(read_entity, "read_entity(hunt_id, id) -> Entity"),
	FAST(read_rect,
	     "read_rect(hunt_id, x0, y0, x1, y1, players=True, clues=True, cap=4096) -> [Entity]"),
	{"daemon_info", (PyCFunction)Client_daemon_info, METH_NOARGS,
	 "What the daemon publishes about itself, and this connection's counters, as a dict."},
	{"check", (PyCFunction)Client_check, METH_NOARGS,
	 "Raises unless the daemon still holds the connection (reattaching first if needed)."},
	{"events", (PyCFunction)Client_events, METH_NOARGS,
	 "A cursor on the event feed, at the newest event."},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef Client_getset[] = {
	{"closed", (getter)Client_get_closed, NULL, "whether close() was called", NULL},
	{"socket_path", (getter)Client_get_path, NULL, "the socket given to the constructor", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Client_Type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cairn._cairn.Client",
	.tp_basicsize = sizeof(ClientObject),
	.tp_dealloc = (destructor)Client_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Client(socket_path=None, *, name=None, cmd_capacity=0, res_capacity=0, "
		  "blob_size=0, spin_us=0, reconnect_ms=0): a connection to cairnd.",
	.tp_methods = Client_methods,
	.tp_getset = Client_getset,
	.tp_init = (initproc)Client_init,
	.tp_new = PyType_GenericNew,
};

/* ---- event cursors ---- */

typedef struct {
	PyObject ob_base; /* PyObject_HEAD */
	ClientObject *cl;
	struct cairn_events ev;
	bool busy; /* a cursor is one thread's at a time */
} EventsObject;

static PyObject *Client_events(ClientObject *self, PyObject *unused)
{
	if (!client_enter(self)) {
		return NULL;
	}
	struct cairn_events ev;
	int r = cairn_events_open(self->c, &ev);
	client_leave(self);
	if (r < 0) {
		return raise_code(r);
	}
	EventsObject *e = PyObject_New(EventsObject, &Events_Type);
	if (!e) {
		return NULL;
	}
	e->cl = (ClientObject *)Py_NewRef(self);
	e->ev = ev;
	e->busy = false;
	return (PyObject *)e;
}

static void Events_dealloc(EventsObject *self)
{
	Py_XDECREF(self->cl);
	PyObject_Free(self);
}

static bool events_enter(EventsObject *self)
{
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError,
				"an event cursor is used by one thread at a time");
		return false;
	}
	if (!client_enter(self->cl)) {
		return false;
	}
	self->busy = true;
	return true;
}

static void events_leave(EventsObject *self)
{
	self->busy = false;
	client_leave(self->cl);
}

/*
 * Waits for an event in slices, with signals looked at in between. Returns 0 (there is
 * one), -ETIMEDOUT, E_PYERR or a code of cairn_events_wait.
 */
static int events_wait(EventsObject *self, int64_t timeout)
{
	uint64_t start = cairn__now_ns();
	uint64_t deadline = timeout < 0 ? UINT64_MAX : start + (uint64_t)timeout;
	for (;;) {
		uint64_t left = deadline - start;
		int64_t t = left < SLICE_NS ? (int64_t)left : SLICE_NS;
		int r;
		PyThreadState *ts = PyEval_SaveThread();
		r = cairn_events_wait(self->cl->c, &self->ev, t);
		PyEval_RestoreThread(ts);
		if (r != -ETIMEDOUT && r != -EINTR) {
			return r;
		}
		start = cairn__now_ns();
		if (start >= deadline) {
			return -ETIMEDOUT;
		}
		if (PyErr_CheckSignals() < 0) {
			return E_PYERR;
		}
	}
}

/* wait(timeout=None) -> bool: True once an event is there, False when the timeout passed. */
static PyObject *Events_wait(EventsObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("wait", 0, "timeout");
	int64_t t;
	if (arg_timeout(a[0], &t) < 0 || !events_enter(self)) {
		return NULL;
	}
	int r = events_wait(self, t);
	events_leave(self);
	if (r == -ETIMEDOUT) {
		Py_RETURN_FALSE;
	}
	return r < 0 ? raise_code(r) : Py_NewRef(Py_True);
}

/*
 * read(max=64, timeout=0) -> [Event]: the events there are, oldest first; with a timeout
 * (None: no limit) waits that long for one first.
 */
static PyObject *Events_read(EventsObject *self, PyObject *const *args, Py_ssize_t nargs,
			     PyObject *kwnames)
{
	PARSE("read", 0, "max", "timeout");
	uint32_t max = 64;
	int64_t t = 0;
	if (arg_u32(a[0], "max", &max) < 0 || (a[1] && arg_timeout(a[1], &t) < 0)) {
		return NULL;
	}
	if (max == 0 || max > 65536) {
		PyErr_SetString(PyExc_ValueError, "max must be 1..65536");
		return NULL;
	}
	struct cairn_event *ev = PyMem_Malloc(max * sizeof(*ev));
	if (!ev) {
		return PyErr_NoMemory();
	}
	if (!events_enter(self)) {
		PyMem_Free(ev);
		return NULL;
	}
	int r = t != 0 ? events_wait(self, t) : 0;
	if (r == 0 || r == -ETIMEDOUT) {
		r = cairn_events_read(self->cl->c, &self->ev, ev, max);
	}
	events_leave(self);
	PyObject *o = r < 0 ? raise_code(r) : make_list(T_EVENT, ev, sizeof(*ev), (size_t)r);
	PyMem_Free(ev);
	return o;
}

static PyMemberDef Events_members[] = {
	{"next", T_ULONGLONG, offsetof(EventsObject, ev.next), READONLY,
	 "number of the next event to read"},
	{"missed", T_ULONGLONG, offsetof(EventsObject, ev.missed), READONLY,
	 "events overwritten before this reader got to them, so far"},
	{"generation", T_ULONGLONG, offsetof(EventsObject, ev.generation), READONLY,
	 "which attachment's ring: 0 for the first, +1 per reattach"},
	{NULL, 0, 0, 0, NULL},
};

static PyMethodDef Events_methods[] = {
	{"wait", (PyCFunction)(void (*)(void))Events_wait, METH_FASTCALL | METH_KEYWORDS,
	 "wait(timeout=None) -> True when an event is there, False after the timeout"},
	{"read", (PyCFunction)(void (*)(void))Events_read, METH_FASTCALL | METH_KEYWORDS,
	 "read(max=64, timeout=0) -> [Event], oldest first"},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject Events_Type = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cairn._cairn.Events",
	.tp_basicsize = sizeof(EventsObject),
	.tp_dealloc = (destructor)Events_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A reader's cursor on the daemon's event feed (Client.events()).",
	.tp_methods = Events_methods,
	.tp_members = Events_members,
};

/* ---- module functions ---- */

static PyObject *mod_set_error_factory(PyObject *m, PyObject *f)
{
	Py_XSETREF(error_factory, Py_NewRef(f));
	Py_RETURN_NONE;
}

static PyObject *mod_strerror(PyObject *m, PyObject *o)
{
	long code = PyLong_AsLong(o);
	if (code == -1 && PyErr_Occurred()) {
		return NULL;
	}
	return PyUnicode_FromString(cairn_strerror((int)(code > 0 ? -code : code)));
}

static PyObject *mod_decode(PyObject *m, PyObject *o)
{
	struct cairn_msg msg;
	if (msg_from(o, &msg) < 0) {
		return NULL;
	}
	return decode_msg(&msg);
}

static PyObject *mod_default_socket_path(PyObject *m, PyObject *unused)
{
	char buf[256];
	int r = cairn_default_socket_path(buf, sizeof(buf));
	return r < 0 ? raise_code(r) : PyUnicode_DecodeFSDefault(buf);
}

/* msg(type, payload=b""): a command of any type as 56 bytes. */
static PyObject *mod_msg(PyObject *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
	PARSE("msg", 1, "type", "payload");
	uint32_t type = 0;
	if (arg_u32(a[0], "type", &type) < 0) {
		return NULL;
	}
	if (type > UINT16_MAX) {
		PyErr_SetString(PyExc_OverflowError, "type out of range");
		return NULL;
	}
	struct cairn_msg msg;
	Py_buffer b = {0};
	if (a[1] && PyObject_GetBuffer(a[1], &b, PyBUF_SIMPLE) < 0) {
		return NULL;
	}
	if (b.len > CAIRN_PAYLOAD_SIZE) {
		PyBuffer_Release(&b);
		PyErr_Format(PyExc_ValueError, "a payload holds at most %d bytes",
			     CAIRN_PAYLOAD_SIZE);
		return NULL;
	}
	cairn_msg_init(&msg, (uint16_t)type, (uint8_t)b.len);
	if (b.len) {
		memcpy(msg.payload, b.buf, (size_t)b.len);
	}
	if (a[1]) {
		PyBuffer_Release(&b);
	}
	return msg_bytes(&msg);
}

static PyObject *mod_msg_move(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	PARSE("msg_move", 4, "hunt_id", "player_id", "x", "y");
	uint32_t h = 0, p = 0;
	int32_t x = 0, y = 0;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "player_id", &p) < 0 ||
	    arg_i32(a[2], "x", &x) < 0 || arg_i32(a[3], "y", &y) < 0) {
		return NULL;
	}
	struct cairn_msg msg;
	cairn_msg_move(&msg, h, p, x, y);
	return msg_bytes(&msg);
}

static PyObject *mod_msg_join(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	PARSE("msg_join", 3, "hunt_id", "x", "y");
	uint32_t h = 0;
	int32_t x = 0, y = 0;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_i32(a[1], "x", &x) < 0 ||
	    arg_i32(a[2], "y", &y) < 0) {
		return NULL;
	}
	struct cairn_msg msg;
	cairn_msg_join(&msg, h, x, y);
	return msg_bytes(&msg);
}

static PyObject *mod_msg_leave(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
			       PyObject *kwnames)
{
	PARSE("msg_leave", 2, "hunt_id", "player_id");
	uint32_t h = 0, p = 0;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "player_id", &p) < 0) {
		return NULL;
	}
	struct cairn_msg msg;
	cairn_msg_leave(&msg, h, p);
	return msg_bytes(&msg);
}

static PyObject *mod_msg_hunt_create(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
				     PyObject *kwnames)
{
	PARSE("msg_hunt_create", 0, "map_id", "claim_radius_mm", "speed_limit_mm_s", "cell_mm");
	struct cairn_hunt_params p = {0};
	if (arg_u32(a[0], "map_id", &p.map_id) < 0 ||
	    arg_u32(a[1], "claim_radius_mm", &p.claim_radius_mm) < 0 ||
	    arg_u32(a[2], "speed_limit_mm_s", &p.speed_limit_mm_s) < 0 ||
	    arg_u32(a[3], "cell_mm", &p.cell_mm) < 0) {
		return NULL;
	}
	struct cairn_msg msg;
	cairn_msg_hunt_create(&msg, &p);
	return msg_bytes(&msg);
}

static PyObject *mod_msg_hunt_destroy(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
				      PyObject *kwnames)
{
	PARSE("msg_hunt_destroy", 1, "hunt_id");
	uint32_t h = 0;
	if (arg_u32(a[0], "hunt_id", &h) < 0) {
		return NULL;
	}
	struct cairn_msg msg;
	cairn_msg_hunt_destroy(&msg, h);
	return msg_bytes(&msg);
}

static PyObject *mod_msg_clue_place(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
				    PyObject *kwnames)
{
	PARSE("msg_clue_place", 4, "hunt_id", "x", "y", "value");
	uint32_t h = 0;
	int32_t x = 0, y = 0;
	int64_t v = 0;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_i32(a[1], "x", &x) < 0 ||
	    arg_i32(a[2], "y", &y) < 0 || arg_i64(a[3], INT64_MIN, INT64_MAX, "value", &v) < 0) {
		return NULL;
	}
	struct cairn_msg msg;
	cairn_msg_clue_place(&msg, h, x, y, v);
	return msg_bytes(&msg);
}

static PyObject *mod_msg_clue_remove(PyObject *m, PyObject *const *args, Py_ssize_t nargs,
				     PyObject *kwnames)
{
	PARSE("msg_clue_remove", 2, "hunt_id", "clue_id");
	uint32_t h = 0, cid = 0;
	if (arg_u32(a[0], "hunt_id", &h) < 0 || arg_u32(a[1], "clue_id", &cid) < 0) {
		return NULL;
	}
	struct cairn_msg msg;
	cairn_msg_clue_remove(&msg, h, cid);
	return msg_bytes(&msg);
}

#define MFAST(name, doc)                                                                           \
	{                                                                                          \
#name, (PyCFunction)(void (*)(void))mod_##name, METH_FASTCALL | METH_KEYWORDS, doc \
	}

static PyMethodDef mod_methods[] = {
	{"_set_error_factory", mod_set_error_factory, METH_O,
	 "Sets the callable (code, message) -> exception object used for every error."},
	{"strerror", mod_strerror, METH_O, "strerror(code) -> libcairn's message for a code"},
	{"decode", mod_decode, METH_O, "decode(msg) -> the result object of a 56-byte result"},
	{"default_socket_path", mod_default_socket_path, METH_NOARGS,
	 "The socket cairn_open uses by default ($CAIRN_SOCKET, then XDG_RUNTIME_DIR, /tmp)."},
	MFAST(msg, "msg(type, payload=b'') -> 56-byte command"),
	MFAST(msg_move, "msg_move(hunt_id, player_id, x, y) -> 56-byte MOVE"),
	MFAST(msg_join, "msg_join(hunt_id, x, y) -> 56-byte JOIN"),
	MFAST(msg_leave, "msg_leave(hunt_id, player_id) -> 56-byte LEAVE"),
	MFAST(msg_hunt_create,
	      "msg_hunt_create(map_id=0, claim_radius_mm=0, speed_limit_mm_s=0, cell_mm=0)"),
	MFAST(msg_hunt_destroy, "msg_hunt_destroy(hunt_id) -> 56-byte HUNT_DESTROY"),
	MFAST(msg_clue_place, "msg_clue_place(hunt_id, x, y, value) -> 56-byte CLUE_PLACE"),
	MFAST(msg_clue_remove, "msg_clue_remove(hunt_id, clue_id) -> 56-byte CLUE_REMOVE"),
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "cairn._cairn",
	.m_doc = "The C core of the cairn binding (libcairn compiled in).",
	.m_size = -1,
	.m_methods = mod_methods,
};

PyMODINIT_FUNC PyInit__cairn(void);

PyMODINIT_FUNC PyInit__cairn(void)
{
	PyObject *m = PyModule_Create(&module);
	if (!m) {
		return NULL;
	}
	if (PyType_Ready(&Client_Type) < 0 || PyType_Ready(&Events_Type) < 0 ||
	    PyModule_AddObjectRef(m, "Client", (PyObject *)&Client_Type) < 0 ||
	    PyModule_AddObjectRef(m, "Events", (PyObject *)&Events_Type) < 0 ||
	    init_rtypes(m) < 0 ||
	    PyModule_AddIntConstant(m, "MSG_SIZE", (long)sizeof(struct cairn_msg)) < 0 ||
	    PyModule_AddStringConstant(m, "VERSION", CAIRN_VERSION) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
