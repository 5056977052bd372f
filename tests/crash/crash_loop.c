/*
 * The crash loop: cairnd is killed with SIGKILL at random moments under load and
 * restarted, again and again, on the same data directory; after every restart the state
 * must hold every change that was acknowledged, and the recovered state's hash must
 * equal what cairn-replay makes of the recovered log.
 *
 *   crash_loop CAIRND CAIRN-REPLAY BACKEND
 *
 * BACKEND is io_uring or sync (--wal-backend). The load is a libcairn host in this
 * process: one hunt of PLAYERS players, each with at most one MOVE in flight, plus a
 * stream of CLUE_PLACEs; every result that arrives (before or after the kill: results
 * already published in the result ring are acknowledgements too) updates the model.
 * Small log segments and frequent snapshots make kills land during segment rotation
 * and snapshot writes; some kills land during startup, in the middle of recovery.
 *
 * After a restart, for every player: its position is the one its last acknowledged
 * move gave it, or the target of the move that was in flight (a command can be durable
 * without its result having been published). Every acknowledged clue exists. Every 10
 * iterations, and at the last, cairn-replay --until LSN of the data directory must give
 * the daemon's state hash at LSN.
 *
 * CAIRN_CRASH_ITERATIONS sets the number of iterations (default 200; 50 under a
 * sanitizer); tools/soak-crash runs thousands.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../daemon/harness.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DEFAULT_ITERATIONS 50
#else
#define DEFAULT_ITERATIONS 200
#endif

#define PLAYERS    64
#define MAX_CLUES  4096
#define TIMEOUT_NS (10ll * 1000000000)
#define STEP_MM    300

struct player {
	uint32_t id;
	int32_t x, y;         /* the acknowledged position */
	bool pending;         /* a MOVE is in flight */
	int32_t px, py;       /* its target */
	uint64_t pending_req; /* its request id */
};

struct model {
	uint32_t hunt;
	struct player p[PLAYERS];
	uint32_t clues[MAX_CLUES]; /* acknowledged clue ids */
	unsigned nclues;
	unsigned clues_pending; /* CLUE_PLACEs in flight */
	unsigned clues_base;    /* clues the hunt had at the last restart */
	unsigned clues_since;   /* CLUE_PLACEs acknowledged since */
	int32_t width_mm, height_mm;
	uint64_t acked, kills, kills_in_startup, replays;
};

static const char *replay_path;
static const char *backend;

struct killer {
	struct h_daemon *d;
	uint64_t delay_us;
	int fired; /* atomic */
	pthread_t thread;
};

static void *killer_main(void *arg)
{
	struct killer *k = arg;
	h_sleep_us(k->delay_us);
	h_signal(k->d, SIGKILL);
	__atomic_store_n(&k->fired, 1, __ATOMIC_RELEASE);
	return NULL;
}

static cairn_client *open_client(const struct h_daemon *d)
{
	struct cairn_open_options o = {
		.cmd_capacity = 1024, .res_capacity = 1024, .reconnect_ms = -1};
	cairn_client *c = NULL;
	int r = cairn_open(d->sock, &o, &c);
	if (r < 0) {
		T_FAILF("cairn_open: %s", cairn_strerror(r));
	}
	return c;
}

static void wal_status(cairn_client *c, struct cairn_wal_status *w)
{
	struct cairn_msg cmd, res;
	cairn_msg_init(&cmd, CAIRN_MSG_WAL_STATUS, 0);
	int r = cairn_call(c, &cmd, &res, TIMEOUT_NS);
	if (r < 0) {
		T_FAILF("WAL_STATUS: %s", cairn_strerror(r));
	}
	memcpy(w, res.payload, sizeof(*w));
}

/* First start: the hunt and its players, all acknowledged. */
static void setup(cairn_client *c, struct model *m, struct h_rng *rng)
{
	struct cairn_hunt_params hp = {0};
	struct cairn_hunt_created hc;
	ASSERT_OK(cairn_hunt_create(c, &hp, &hc, TIMEOUT_NS));
	m->hunt = hc.hunt_id;
	struct cairn_map_info mi;
	ASSERT_OK(cairn_read_map(c, 0, &mi));
	m->width_mm = (int32_t)(mi.width * CAIRN_DEFAULT_CELL_MM);
	m->height_mm = (int32_t)(mi.height * CAIRN_DEFAULT_CELL_MM);
	for (unsigned i = 0; i < PLAYERS; i++) {
		uint32_t id = 0;
		int32_t x, y;
		int r;
		/* Join on a random passable spot: retry the blocked ones. */
		do {
			x = (int32_t)h_rng_below(rng, (uint64_t)m->width_mm);
			y = (int32_t)h_rng_below(rng, (uint64_t)m->height_mm);
			r = cairn_join(c, m->hunt, x, y, &id, TIMEOUT_NS);
		} while (r == -CAIRN_E_BLOCKED);
		ASSERT_OK(r);
		m->p[i] = (struct player){.id = id, .x = x, .y = y};
	}
}

/* Takes one result into the model. */
static void take(struct model *m, const struct cairn_msg *res)
{
	uint64_t id = res->hdr.request_id;
	if (id & (UINT64_C(1) << 62)) {
		/* A CLUE_PLACE. */
		m->clues_pending--;
		if (res->hdr.type == CAIRN_MSG_CLUE_PLACED) {
			struct cairn_clue_placed cp;
			memcpy(&cp, res->payload, sizeof(cp));
			if (m->nclues < MAX_CLUES) {
				m->clues[m->nclues++] = cp.clue_id;
			}
			m->clues_since++;
		}
		m->acked++;
		return;
	}
	unsigned i = (unsigned)(id % PLAYERS);
	struct player *p = &m->p[i];
	if (!p->pending || p->pending_req != id) {
		T_FAILF("result for request %llu, which player %u did not send (type 0x%x)",
			(unsigned long long)id, i, res->hdr.type);
	}
	p->pending = false;
	if (res->hdr.type == CAIRN_MSG_MOVED) {
		struct cairn_moved mv;
		memcpy(&mv, res->payload, sizeof(mv));
		ASSERT_EQ(mv.x, p->px);
		ASSERT_EQ(mv.y, p->py);
		p->x = mv.x;
		p->y = mv.y;
	} else if (res->hdr.type == CAIRN_MSG_ERROR) {
		/* Refused (blocked, off the map): an acknowledgement that nothing changed. */
		if (res->hdr.status != CAIRN_E_BLOCKED && res->hdr.status != CAIRN_E_OFF_MAP) {
			T_FAILF("MOVE refused with %s", cairn_error_name(res->hdr.status));
		}
	} else {
		T_FAILF("unexpected result type 0x%x", res->hdr.type);
	}
	m->acked++;
}

/*
 * Drives the load until the killer fires and the client notices; then takes every result
 * still published in the ring.
 */
static void load(cairn_client *c, struct model *m, struct h_rng *rng, struct killer *k,
		 uint64_t *seq)
{
	struct cairn_msg batch[PLAYERS + 1], res[256];
	for (;;) {
		unsigned n = 0;
		for (unsigned i = 0; i < PLAYERS && !__atomic_load_n(&k->fired, __ATOMIC_ACQUIRE);
		     i++) {
			struct player *p = &m->p[i];
			if (p->pending || h_rng_below(rng, 4) != 0) {
				continue;
			}
			int32_t dx = (int32_t)h_rng_below(rng, 2 * STEP_MM + 1) - STEP_MM;
			int32_t dy = (int32_t)h_rng_below(rng, 2 * STEP_MM + 1) - STEP_MM;
			p->px = p->x + dx;
			p->py = p->y + dy;
			p->pending = true;
			/* Request ids name the player: id % PLAYERS. */
			p->pending_req = (++*seq) * PLAYERS + i;
			cairn_msg_move(&batch[n], m->hunt, p->id, p->px, p->py);
			batch[n++].hdr.request_id = p->pending_req;
		}
		if (n && h_rng_below(rng, 8) == 0 &&
		    m->clues_base + m->clues_since + m->clues_pending < MAX_CLUES) {
			int32_t x = (int32_t)h_rng_below(rng, (uint64_t)m->width_mm);
			int32_t y = (int32_t)h_rng_below(rng, (uint64_t)m->height_mm);
			cairn_msg_clue_place(&batch[n], m->hunt, x, y, 10);
			batch[n++].hdr.request_id = (UINT64_C(1) << 62) | ++*seq;
			m->clues_pending++;
		}
		unsigned off = 0;
		while (off < n) {
			int r = cairn_submit_batch(c, batch + off, n - off);
			if (r < 0) {
				/* The daemon is gone: what was not pushed was never sent. */
				for (unsigned j = off; j < n; j++) {
					if (batch[j].hdr.request_id & (UINT64_C(1) << 62)) {
						m->clues_pending--;
					} else {
						m->p[batch[j].hdr.request_id % PLAYERS].pending =
							false;
					}
				}
				break;
			}
			off += (unsigned)r;
			if (r == 0) {
				int got = cairn_poll_batch(c, res, 256);
				for (int j = 0; j < got; j++) {
					take(m, &res[j]);
				}
				if (got < 0) {
					break;
				}
			}
		}
		int got = cairn_poll_batch(c, res, 256);
		for (int j = 0; j < got; j++) {
			take(m, &res[j]);
		}
		if (__atomic_load_n(&k->fired, __ATOMIC_ACQUIRE) && got <= 0) {
			break;
		}
	}
}

/* After a restart: everything acknowledged is there. */
static void verify(cairn_client *c, struct model *m, unsigned iter)
{
	for (unsigned i = 0; i < PLAYERS; i++) {
		struct player *p = &m->p[i];
		struct cairn_entity e;
		int r;
		do {
			r = cairn_read_entity(c, m->hunt, p->id, &e);
		} while (r == -EAGAIN);
		if (r < 0) {
			T_FAILF("iteration %u: player %08x of hunt %08x: %s", iter, p->id, m->hunt,
				cairn_strerror(r));
		}
		bool at_acked = e.x == p->x && e.y == p->y;
		bool at_pending = p->pending && e.x == p->px && e.y == p->py;
		if (!at_acked && !at_pending) {
			T_FAILF("iteration %u: player %08x is at (%d, %d); acknowledged (%d, %d)%s",
				iter, p->id, e.x, e.y, p->x, p->y,
				p->pending ? ", and a move to elsewhere was in flight" : "");
		}
		/* The model follows the state: the in-flight move may or may not have landed. */
		p->x = e.x;
		p->y = e.y;
		p->pending = false;
	}
	for (unsigned i = 0; i < m->nclues; i++) {
		struct cairn_entity e;
		int r;
		do {
			r = cairn_read_entity(c, m->hunt, m->clues[i], &e);
		} while (r == -EAGAIN);
		if (r < 0) {
			T_FAILF("iteration %u: acknowledged clue %08x is gone: %s", iter,
				m->clues[i], cairn_strerror(r));
		}
	}
	struct cairn_hunt_info h;
	int r;
	do {
		r = cairn_read_hunt(c, m->hunt, &h);
	} while (r == -EAGAIN);
	ASSERT_OK(r);
	/* Clues placed in flight may have landed: their ids are unknown, their count is not. */
	ASSERT_GE(h.clues, m->clues_base + m->clues_since);
	ASSERT_LE(h.clues, m->clues_base + m->clues_since + m->clues_pending);
	m->clues_base = h.clues;
	m->clues_since = 0;
	m->clues_pending = 0;
}

/* cairn-replay --until lsn DATA must print the daemon's hash. */
static void check_replay(struct h_daemon *d, uint64_t lsn, uint64_t hash)
{
	char until[32], cmd[1024];
	snprintf(until, sizeof(until), "%llu", (unsigned long long)lsn);
	snprintf(cmd, sizeof(cmd), "'%s' --quiet --until %s '%s' 2>&1", replay_path, until,
		 d->data);
	/*
	 * The daemon is frozen while the replay reads its files: its store thread may take
	 * a snapshot and prune the log at any moment, which would pull segments away from
	 * under the reader. A stop in the middle of either leaves a consistent directory
	 * (snapshots appear by rename, prune deletes oldest first).
	 */
	h_signal(d, SIGSTOP);
	FILE *f = popen(cmd, "r");
	ASSERT_TRUE(f != NULL);
	char line[512], last[512] = "";
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "hash=")) {
			snprintf(last, sizeof(last), "%s", line);
		}
	}
	int st = pclose(f);
	h_signal(d, SIGCONT);
	if (st != 0) {
		T_FAILF("cairn-replay --until %s %s exited with 0x%x (last line: %s)", until,
			d->data, st, last);
	}
	const char *h = strstr(last, "hash=");
	unsigned long long got = h ? strtoull(h + 5, NULL, 16) : 0;
	if (!h || got != hash) {
		T_FAILF("cairn-replay at LSN %s: '%s'; the daemon's hash is %016llx", until, last,
			(unsigned long long)hash);
	}
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "crash_loop");
	if (argc < 4) {
		T_FAILF("usage: crash_loop CAIRND CAIRN-REPLAY BACKEND");
	}
	replay_path = argv[2];
	backend = argv[3];
	const char *env = getenv("CAIRN_CRASH_ITERATIONS");
	unsigned iterations = env && *env ? (unsigned)strtoul(env, NULL, 10) : DEFAULT_ITERATIONS;
	struct h_rng rng;
	h_rng_seed(&rng, h_seed);

	struct h_daemon *d = h_prepare();
	const char *const *args = H_ARGS("--wal-backend", backend, "--wal-segment-mb", "1",
					 "--snapshot-records", "300", "--batch", "64");
	struct model m = {0};
	uint64_t seq = 0;
	for (unsigned it = 0; it < iterations; it++) {
		h_spawn(d, args);
		if (it > 0 && h_rng_below(&rng, 10) == 0) {
			/* Kill it while it recovers, before it accepts anyone. */
			h_sleep_us(h_rng_below(&rng, 20000));
			h_signal(d, SIGKILL);
			h_wait_exit(d, 10000);
			m.kills++;
			m.kills_in_startup++;
			h_spawn(d, args);
		}
		if (it == 0 && strcmp(backend, "io_uring") == 0 &&
		    h_log_has(d, "io_uring", "cannot", 300)) {
			h_print_log(d);
			T_SKIP_BECAUSE("io_uring cannot be used here (see the daemon's log)");
		}
		h_wait_ready(d);
		cairn_client *c = open_client(d);
		if (it == 0) {
			setup(c, &m, &rng);
		} else {
			verify(c, &m, it);
		}
		if (it % 10 == 0 || it + 1 == iterations) {
			struct cairn_wal_status w;
			struct cairn_state_hash_reply sh;
			wal_status(c, &w);
			ASSERT_OK(cairn_state_hash(c, &sh, TIMEOUT_NS));
			/* Nothing is applied between the two calls: this client is the only one. */
			check_replay(d, w.durable_lsn, sh.hash);
			m.replays++;
		}
		struct killer k = {.d = d, .delay_us = h_rng_below(&rng, 120000)};
		ASSERT_EQ(pthread_create(&k.thread, NULL, killer_main, &k), 0);
		load(c, &m, &rng, &k, &seq);
		pthread_join(k.thread, NULL);
		cairn_close(c);
		ASSERT_TRUE(h_wait_exit(d, 10000));
		if (!WIFSIGNALED(d->status) || WTERMSIG(d->status) != SIGKILL) {
			h_print_log(d);
			T_FAILF("iteration %u: cairnd ended with status 0x%x, not by our SIGKILL",
				it, d->status);
		}
		m.kills++;
	}
	/* A last start: recovery of what the final kill left, checked, then a clean stop. */
	h_spawn(d, args);
	h_wait_ready(d);
	cairn_client *c = open_client(d);
	verify(c, &m, iterations);
	cairn_close(c);
	h_ok("%s: %llu kills (%llu during recovery), %llu acknowledged results all present after "
	     "every restart, %llu replays equal to the live hash",
	     backend, (unsigned long long)m.kills, (unsigned long long)m.kills_in_startup,
	     (unsigned long long)m.acked, (unsigned long long)m.replays);
	h_pass();
}
