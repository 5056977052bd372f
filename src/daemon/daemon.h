/*
 * cairnd's internals: two threads and the lanes they share.
 *
 * The control thread owns the Unix socket: it accepts clients, checks their
 * credentials, creates their lanes, notices when they go away, and handles signals.
 * The apply thread owns every lane's rings: it is the only consumer of the command
 * rings and the only producer of the result rings, and it applies commands in one total
 * order. The two hand lanes to each other through a mutex-protected mailbox in the
 * daemon's private memory (never in shared memory), and wake each other with a private
 * futex (control -> apply) and an eventfd (apply -> control).
 */
#ifndef CAIRN_DAEMON_DAEMON_H
#define CAIRN_DAEMON_DAEMON_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn/protocol.h"
#include "daemon/solver.h"
#include "engine/engine.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "store/dedup.h"
#include "store/recover.h"
#include "wal/wal.h"

#define CAIRND_MAX_ALLOW 16
#define CAIRND_MAX_MAPS  64
#define CAIRND_MAX_BATCH 256

struct cairnd_config {
	const char *socket_path;
	int cpu; /* -1: not pinned */
	uint32_t max_clients;
	uint32_t max_lanes_per_process; /* lanes one peer pid may hold (attached) at once */
	uint64_t max_lane_bytes;        /* shared memory of all lanes not yet freed, together */
	uint32_t batch;    /* commands taken from one lane per turn */
	uint64_t spin_ns;  /* apply thread: busy-poll this long before yielding */
	uint64_t yield_ns; /* then yield this long before sleeping */
	uint64_t drain_timeout_ns;
	uid_t allow_uid[CAIRND_MAX_ALLOW];
	unsigned n_allow_uid;
	gid_t allow_gid[CAIRND_MAX_ALLOW];
	unsigned n_allow_gid;
	bool verbose;

	/* The engine: --map files (map 0 is the embedded default) and capacities. */
	const char *map_paths[CAIRND_MAX_MAPS];
	unsigned n_map_paths;
	uint32_t max_hunts;
	uint32_t max_entities;
	uint32_t max_players_per_hunt; /* an admission limit: set after recovery */
	uint32_t shards;
	uint32_t event_capacity;

	/* Durability (store.c). */
	const char *data_dir; /* NULL with --durability=none */
	uint32_t durability;  /* CAIRN_DURABILITY_* */
	uint64_t flush_ns;    /* relaxed: longest time a record waits to be written */
	enum cairn__wal_backend wal_backend;
	uint64_t wal_segment_bytes;
	uint32_t dedup_window;     /* results kept per session */
	uint32_t max_sessions;     /* sessions kept in the exactly-once table */
	uint64_t snapshot_records; /* snapshot after this many records (0: never) */
	uint64_t
		snapshot_interval_ns; /* ... or this long after the last one, if anything changed */
	unsigned keep_snapshots;
	bool truncate_at_damage; /* --recover=truncate-at-damage */

	/* The solver (solver.c). */
	int solver_threads;       /* workers; -1: the default (CPUs - 1, at least 1) */
	uint32_t table_max_cells; /* first-move tables for maps up to this many cells */

	/* Operations. */
	bool metrics; /* --metrics on (default): keep the metrics in the state segment */
	const char *metrics_listen;      /* --metrics-listen as given, or NULL: no endpoint */
	struct sockaddr_in metrics_addr; /* ... parsed */
};

/* Session ids the control thread has seen (the welcome's "resumed"). */
struct cairnd_sessions {
	uint64_t *slots; /* open addressing, 0 = empty */
	size_t cap, n;
};
bool cairnd_sessions_has(const struct cairnd_sessions *k, uint64_t id);
void cairnd_sessions_add(struct cairnd_sessions *k, uint64_t id);

/* A result held back until the log has its command, or until a deferred job ends. */
struct held {
	struct cairn_msg msg;
	uint64_t horizon; /* publish once the durable LSN reaches this; UINT64_MAX: deferred */
};

/*
 * Where a lane is in its life, as the control thread sees it (only it reads or writes
 * this). Every lane gets exactly one EV_ATTACH and one EV_DETACH from the control
 * thread, and the apply thread answers the EV_DETACH with exactly one EV_RELEASED, after
 * which it never touches the lane again. Only then is the slot freed, so no message
 * about a lane can outlive it and reach the next client given the same slot.
 */
enum lane_phase {
	LANE_FREE,      /* slot unused */
	LANE_ATTACHED,  /* EV_ATTACH posted: the apply thread serves it (or will) */
	LANE_DETACHING, /* EV_DETACH posted: waiting for EV_RELEASED */
};

struct lane {
	uint32_t id;
	uint64_t client_id;
	enum lane_phase phase;
	int sock;
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char name[CAIRN_NAME_SIZE + 1];
	uint64_t attached_ns;

	/* The mapping and every size and offset: private copies, never re-read from it. */
	void *base;
	uint64_t size;
	struct cairn__ring cmd;
	struct cairn__ring res;
	uint8_t *blob;
	uint64_t blob_size;

	uint64_t session_id; /* the client's session: the exactly-once key with request ids */
	uint32_t resumed;    /* the welcome said so */

	/* Apply thread only. */
	bool blocked; /* result ring full at the last turn */
	/*
	 * Results applied but not yet published, in order (a ring of res capacity entries):
	 * they wait for the log to make their commands durable, or for a deferred job.
	 */
	struct held *held;
	uint32_t held_head, held_n;
	/* Path jobs out with the solver workers: each owns a result slot after the held ones. */
	uint32_t solving;
	bool serving; /* from EV_ATTACH until dropped or EV_DETACH: answers may be delivered */
	/*
	 * Metrics (apply thread; NULL m with --metrics off): private counts, published to
	 * m with the daemon's other counters. commands and results are the ring cursors.
	 */
	struct cairn_lane_metrics *m;
	uint64_t errors, full, wakes, wait_sum, last_empty_ns;
	uint64_t wait_hist[CAIRN_HIST_BUCKETS];
	/*
	 * Set by the apply thread before it posts EV_DROPPED; the control thread reads it
	 * after taking that message from the mutex-protected queue.
	 */
	bool dropped; /* no longer served: rings found corrupted, or evicted */
	bool evicted; /* ... by an operator (EVICT) */
};

/* A message between the two threads about one lane. */
enum lane_event {
	EV_ATTACH,   /* control -> apply: start serving */
	EV_DETACH,   /* control -> apply: stop serving, then answer EV_RELEASED */
	EV_DROPPED,  /* apply -> control: no longer served (corrupted, evicted); close the socket */
	EV_RELEASED, /* apply -> control: never touched again; free it (NULL: apply exited) */
};

struct lane_msg {
	enum lane_event ev;
	struct lane *lane;
};

/* The store thread's work: snapshots and rollbacks, off the apply thread. */
enum store_job_kind { JOB_NONE, JOB_SNAPSHOT, JOB_ROLLBACK };

struct store_job {
	enum store_job_kind kind;
	/* Who waits for the answer: a held result of this lane, if it still serves the client. */
	struct lane *lane;
	uint64_t client_id;
	uint64_t session;
	uint32_t held_index;
	struct cairn_msg cmd;
	uint64_t ingress_ns;
	/* The answer, filled by the store thread. */
	int status;     /* 0 or -code */
	uint8_t *image; /* rollback: the hunt's image at the target LSN (malloc) */
	size_t image_len;
	struct cairn_snapshot_reply snap;
};

struct cairnd_store {
	char wal_dir[4096];
	char snap_dir[4096];
	int lock_fd;
	struct cairn__wal *wal; /* NULL: no durability */
	struct cairn__dedup *dedup;
	uint32_t window;  /* the exactly-once window (0 without a data directory) */
	uint32_t backend; /* CAIRN_WAL_* */

	/* Apply thread. */
	uint64_t stamp_offset; /* added to CLOCK_MONOTONIC: stamps continue past the log's */
	uint64_t last_stamp;
	int failed; /* 0, or the log's error: changes are refused */
	uint64_t appended, durable;
	uint64_t flush_due; /* relaxed: when the open batch must be written */
	uint64_t kicked;    /* the last LSN handed to the disk */
	uint64_t records_since_snapshot;
	uint64_t recovered_prev_sum; /* the chain link of the last record recovered */

	/* Published by the apply thread for other threads (atomic). */
	uint64_t durable_lsn;

	/* The store thread. */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;                      /* guarded by lock */
	bool snapshot_due;              /* guarded by lock: a periodic snapshot is wanted */
	struct store_job job;           /* guarded by lock: the job asked for (kind != JOB_NONE) */
	struct store_job done;          /* guarded by lock: the job finished (kind != JOB_NONE) */
	uint32_t done_flag;             /* atomic: done holds an answer for the apply thread */
	bool job_running;               /* apply thread: a job is out */
	uint64_t target_lsn;            /* guarded by lock: catch up to here (the durable LSN) */
	uint64_t snapshot_lsn;          /* atomic: newest snapshot */
	uint64_t oldest_snapshot_lsn;   /* atomic: oldest snapshot kept (rollback reach) */
	uint64_t log_start_lsn;         /* atomic: first LSN the log still holds */
	struct cairn__replica follower; /* store thread only once started */
};

/* The Prometheus endpoint (metrics_http.c): its socket and its thread. */
struct cairnd_http {
	int listen_fd; /* -1: no endpoint */
	int stop_fd;   /* eventfd: written once to stop the thread */
	pthread_t thread;
	bool started;
};

struct daemon {
	struct cairnd_config cfg;
	int numa_node; /* of cfg.cpu, or -1 */

	/* The state segment: written by the daemon, read-only to hosts. */
	int state_fd;
	void *state;
	struct cairn__state_layout state_layout;
	struct cairn_state_header *hdr;
	struct cairn_daemon_counters *counters;
	struct cairn_engine_counters *engine_counters;
	/* The metrics region (NULL parts with --metrics off). */
	struct cairn_daemon_metrics *dmetrics;
	struct cairn_wal_metrics *wmetrics;
	uint8_t *lane_metrics;

	/* The engine, owned by the apply thread once it runs; its maps never change. */
	struct cairn__map *maps[CAIRND_MAX_MAPS + 1];
	uint32_t n_maps;
	struct cairn__engine *engine;

	struct lane *lanes; /* cfg.max_clients slots, indexed by lane id */
	uint64_t next_client_id;

	/* control -> apply */
	pthread_mutex_t to_apply_lock;
	struct lane_msg *to_apply;
	size_t n_to_apply;
	size_t queue_cap;       /* of both queues: two messages per lane at most */
	uint32_t apply_bell;    /* private futex: bumped after queueing */
	uint32_t apply_pending; /* atomic: to_apply is non-empty */
	uint32_t stopping;      /* atomic: drain and exit */

	/* apply -> control */
	pthread_mutex_t to_control_lock;
	struct lane_msg *to_control;
	size_t n_to_control;
	int control_efd;

	pthread_t apply_thread;
	int apply_result; /* 0, or why the apply thread stopped early */

	struct cairnd_store store;
	struct cairnd_solver solver;
	struct cairnd_sessions known; /* control thread */
	struct cairnd_http http;
};

/* control.c */
int cairnd_run(struct daemon *d);

/* apply.c */
void *cairnd_apply_main(void *arg);
void cairnd_post_to_apply(struct daemon *d, enum lane_event ev, struct lane *l);
void cairnd_post_to_control(struct daemon *d, enum lane_event ev, struct lane *l);

/* main.c: loads the embedded map and every --map file. Returns 0 or -errno/-code. */
int cairnd_load_maps(struct daemon *d);

/* store.c */
int cairnd_store_open(struct daemon *d);        /* recovery, the log, the store thread */
void cairnd_store_close(struct daemon *d);      /* after the apply thread has finished */
bool cairnd_store_hold(const struct daemon *d); /* whether results wait for the log */
/* Keeps a helper thread off the apply thread's CPU (--cpu) when another CPU is allowed. */
void cairnd_keep_off_apply_cpu(const struct daemon *d, pthread_t t);

/*
 * metrics_http.c: the Prometheus endpoint. parse_listen checks a --metrics-listen value
 * (an IPv4 address or localhost, a port from 1 to 65535) into *out, or writes a
 * sentence into err and returns -EINVAL. open binds and listens (a no-op without the
 * flag; returns 0 or -errno, having logged why); start runs the thread, which reads
 * only the state segment; stop ends it and closes the socket, and must come before the
 * state segment goes away. All three are called by the control thread.
 */
int cairnd_metrics_parse_listen(const char *s, struct sockaddr_in *out, char *err, size_t errlen);
int cairnd_metrics_http_open(struct daemon *d);
int cairnd_metrics_http_start(struct daemon *d);
void cairnd_metrics_http_stop(struct daemon *d);

/*
 * handlers.c: what every command must pass before its payload is read, by the schema: a
 * known type, no flags, a length within its bounds. Returns 0, or the error code with
 * *detail the offending value.
 */
int cairnd_check_header(const struct cairn_msg *cmd, uint32_t *detail);

/* handlers.c: an ERROR result answering cmd with code and its detail value, into *out. */
void cairnd_error_result(const struct cairn_msg *cmd, int code, uint32_t detail,
			 struct cairn_msg *out);

/* handlers.c: a result of type and length answering cmd, payload zeroed, into *out. */
void cairnd_reply(const struct cairn_msg *cmd, uint16_t type, uint8_t length,
		  struct cairn_msg *out);

/* True when [off, off + len) lies inside an arena of size bytes. */
static inline bool cairnd_in_arena(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/*
 * hello.c: the checks of a client's hello, apart from the socket and the lanes.
 *
 * cairnd_hello_size says how many bytes the hello whose first got bytes are in buf
 * takes: a struct cairn_hello, and a struct cairn_hello_session behind it when its
 * flags say so (sizeof(struct cairn_hello) while got is less than that).
 *
 * cairnd_hello_check checks a whole hello of len bytes: its size, magic, flags, session
 * id and protocol major. Returns 0 with *out filled in, or the protocol error code to
 * refuse it with (CAIRN_E_HANDSHAKE, CAIRN_E_VERSION) and a sentence in why.
 *
 * cairnd_hello_lane plans the lane a hello asks for, its result ring cut down to window
 * slots when window is not 0 (the exactly-once table keeps that many results per
 * session). Returns 0 with *lay filled in, or CAIRN_E_LAYOUT and a sentence in why.
 */
struct cairnd_hello {
	struct cairn_hello h;
	uint64_t session; /* the hello_session's id, or 0 when none came */
	bool observe;     /* CAIRN_HELLO_OBSERVE: a monitor that wants the state segment only */
};
size_t cairnd_hello_size(const void *buf, size_t got);
int cairnd_hello_check(const void *buf, size_t len, struct cairnd_hello *out, char *why,
		       size_t whylen);
int cairnd_hello_lane(const struct cairn_hello *h, uint32_t window, struct cairn__lane_layout *lay,
		      char *why, size_t whylen);

/* handlers.c: builds the command lookup; called once before the apply thread starts. */
void cairnd_handlers_init(void);

/*
 * handlers.c: applies one command, already copied out of the ring, and writes its
 * result into *out. ingress_ns is the daemon's stamp for the command. Every field of
 * cmd is untrusted; nothing is asserted on it.
 */
void cairnd_handle(struct daemon *d, struct lane *l, const struct cairn_msg *cmd,
		   uint64_t ingress_ns, struct cairn_msg *out);

#endif
