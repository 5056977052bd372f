/*
 * cairn-demo: a game host that drives cairnd the way a real one would. It creates hunts
 * on the daemon's embedded map, joins simulated players, places clues, and walks every
 * player towards a clue in steps that respect the hunt's speed limit; claimed clues are
 * replaced so the game goes on. Moves travel in pipelined batches for throughput, a few
 * players (sentries) are moved one call at a time to measure round trips, and the main
 * thread draws a live summary once a second.
 *
 * Three threads, each with its own connection (lane), so that none waits for another:
 *  - the simulation thread (sim.c) owns the game and the "sim" lane, for batches;
 *  - the probe thread (probe.c) owns the sentries and the "probe" lane, for single calls
 *    timed from a thread of their own, at moments unrelated to the batches, as a game
 *    server's request handler would make them;
 *  - the main thread (demo.c, view.c) owns the "view" lane (leaderboards), the terminal
 *    and the signals.
 * They share only struct demo_stats (atomics, and a histogram under a mutex) and the
 * world's directory (struct demo_world), written before the threads start.
 */
#ifndef CAIRN_TOOLS_DEMO_H
#define CAIRN_TOOLS_DEMO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/cairn.h"

/* ---- what the user asked for ---- */

struct demo_config {
	const char *socket; /* NULL: the default path */
	unsigned hunts;
	unsigned players; /* per hunt */
	unsigned clues;   /* per hunt */
	uint32_t speed_mm_s;
	double seconds; /* 0: until SIGINT or SIGTERM */
	uint64_t seed;
	int cpu;  /* pin every thread of the demo to this CPU; -1: leave them be */
	bool tty; /* stdout is a terminal: redraw in place */
};

/* ---- latency histogram (hist.c) ---- */

/*
 * Log-linear over nanoseconds: 64 powers of two, each split in 16, so every bucket is
 * within 6.25 % of its neighbours: enough for percentiles of latency.
 */
#define HIST_SUB 16
struct hist {
	uint64_t b[64 * HIST_SUB];
	uint64_t n, sum, max;
};

void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *into, const struct hist *h);
/* The p-th percentile (0 < p <= 100), as the low edge of its bucket; 0 when empty. */
uint64_t hist_pct(const struct hist *h, double p);

/* "320 ns", "1.2 us", "12.5 us", "1.3 ms", "2.0 s" into buf. */
void fmt_ns(char *buf, size_t len, uint64_t ns);
/* 1234567 as "1,234,567" into buf. */
void fmt_count(char *buf, size_t len, uint64_t v);

/* ---- shared between the simulation and the view ---- */

/* Why the daemon refused a move, as the summary groups it. */
enum demo_reject {
	REJ_BLOCKED,
	REJ_OFF_MAP,
	REJ_TOO_FAST,
	REJ_OTHER,
	REJ_N,
};

/*
 * Counters written by the simulation thread only and read by the main thread at any
 * time: relaxed atomics, each read whole, none ordered against another (a summary line
 * may mix counts a few microseconds apart, which no reader can tell).
 */
struct demo_stats {
	atomic_uint_fast64_t moves;           /* MOVED results */
	atomic_uint_fast64_t claims;          /* moves that won a clue */
	atomic_uint_fast64_t lost;            /* moves that reached a clue someone had just won */
	atomic_uint_fast64_t rejected[REJ_N]; /* moves the daemon refused, by reason */
	atomic_uint_fast64_t queries;         /* NEAREST_CLUES answered */
	atomic_uint_fast64_t errors;          /* other commands answered with an error */
	atomic_uint_fast64_t clues_live;      /* a gauge: clues placed and not yet claimed */
	atomic_uint_fast64_t *hunt_claims;    /* per hunt, hunts entries */
	atomic_int last_error;                /* the code of the latest refusal, for the summary */

	/* Round trips of single MOVEs since the main thread last took them. */
	pthread_mutex_t lock;
	struct hist rtt;
};

/* One player as the view names it: the daemon's id and its number within its hunt. */
struct demo_name {
	uint32_t id;
	uint32_t number; /* 1-based */
};

/*
 * The hunts and their players, as created. Written by sim_setup before any thread
 * starts, read-only afterwards, so every thread reads it without a lock.
 */
struct demo_world {
	unsigned hunts;
	uint32_t *hunt_ids;             /* hunts entries */
	struct demo_name **names;       /* per hunt, sorted by id, players entries */
	unsigned players;               /* per hunt */
	unsigned clues;                 /* per hunt */
	uint32_t map_width, map_height; /* cells */
	uint32_t cell_mm;
	uint32_t speed_mm_s;
	unsigned probes;        /* players moved one cairn_call at a time */
	unsigned batch;         /* commands per cairn_submit_batch */
	unsigned max_in_flight; /* commands pushed and not yet answered, at most */
};

/* The number of a player within its hunt (1-based), or 0 when unknown. */
uint32_t world_player_number(const struct demo_world *w, unsigned hunt, uint32_t player_id);

/* ---- distance fields over the map (field.c) ---- */

struct cairn__map;

/* A cell no path reaches, in a field. */
#define FIELD_INF UINT16_MAX

/* Scratch space for field_compute, reused from one call to the next. */
struct field_work {
	uint32_t *bucket[4];
	size_t n[4], cap[4];
};

/*
 * Fills dist (width * height entries) with the length of the shortest path from every
 * cell to cell (gx, gy), in the Moving AI rules (8-connected, no corner cutting), with
 * 2 for a straight step and 3 for a diagonal one; FIELD_INF where no path leads.
 * Returns 0 or -ENOMEM.
 */
int field_compute(struct field_work *w, const struct cairn__map *m, uint32_t gx, uint32_t gy,
		  uint16_t *dist);

/*
 * The neighbour of cell (x, y) one step closer along dist, into (*nx, *ny). Returns false
 * when there is none: (x, y) is the goal or no path leads from it.
 */
bool field_next(const struct cairn__map *m, const uint16_t *dist, uint32_t x, uint32_t y,
		uint32_t *nx, uint32_t *ny);

/*
 * True when a step from cell (x, y) by (dx, dy), each in -1..1, lands on a passable
 * cell without cutting a blocked corner.
 */
bool field_can_step(const struct cairn__map *m, uint32_t x, uint32_t y, int dx, int dy);

void field_work_free(struct field_work *w);

/* ---- the simulation (sim.c) ---- */

struct sim;

/* The lane the simulation's connection needs: ring sizes, and room for query answers. */
void sim_lane_options(const struct demo_config *cfg, struct cairn_open_options *o);

/*
 * Creates the hunts, joins the players and places the clues, over sim_conn, which the
 * simulation thread uses afterwards; probe_conn is kept for the probe thread. Allocates
 * stats->hunt_claims, which the caller frees. On failure prints why to stderr and
 * returns a negative code. The caller frees *out with sim_free (also on failure).
 */
int sim_setup(const struct demo_config *cfg, cairn_client *sim_conn, cairn_client *probe_conn,
	      struct demo_stats *stats, struct sim **out);

/* The directory of what sim_setup created; lives as long as the sim. */
const struct demo_world *sim_world(const struct sim *s);

/*
 * The simulation thread's body (arg: the struct sim). Runs until sim_stop, then waits
 * (at most 2 s) for every command still in flight, so the counters are final.
 */
void *sim_run(void *arg);

/*
 * The probe thread's body (arg: the struct sim): moves the sentries one cairn_call at a
 * time, a call a millisecond, and adds each round trip to stats->rtt. Runs until
 * sim_stop.
 */
void *sim_probe_run(void *arg);

/* Asks sim_run and sim_probe_run to finish. Callable from any thread. */
void sim_stop(struct sim *s);

/* True once sim_run has returned or is about to (on its own after a fatal error, too). */
bool sim_finished(const struct sim *s);

/*
 * 0 when the run went well; otherwise the code of the fatal error, with a message for
 * people in msg. Read after sim_run and sim_probe_run have returned.
 */
int sim_error(const struct sim *s, const char **msg);

/*
 * Destroys the hunts sim_setup created (also when it failed half way), with one
 * cairn_call each on c, once both threads have returned. s may be NULL. Returns 0 or
 * the first error.
 */
int sim_teardown(struct sim *s, cairn_client *c);

/* Frees what sim_setup made. Accepts NULL. */
void sim_free(struct sim *s);

/* Frees the world's arrays (sim_free does it for the sim's own). */
void world_free(struct demo_world *w);

/* ---- the terminal (view.c) ---- */

struct view;

struct view *view_new(const struct demo_config *cfg, const struct demo_world *w,
		      struct demo_stats *stats, cairn_client *view_conn);
void view_free(struct view *v);

/* The lines before the live summary: what runs where. */
void view_intro(struct view *v, const struct cairn_daemon_info *info, int demo_cpu);

/* Reads the leaderboards and prints one more summary (TTY: redraws the last one). */
void view_tick(struct view *v, uint64_t elapsed_ns);

/*
 * Prints the final summary (after reading the leaderboards once more), ending with
 * three machine-readable lines of key=value pairs:
 *   result: moves=N claims=N lost=N rejected=N seconds=S
 *   rates: moves_per_s=N blocked=N off_map=N too_fast=N other=N
 *   latency: samples=N p50_ns=N p99_ns=N p999_ns=N
 * why says what stopped the run ("Ctrl-C", "an error": the caller prints which); info
 * is the daemon as last read.
 */
void view_final(struct view *v, uint64_t elapsed_ns, const char *why,
		const struct cairn_daemon_info *info);

#endif
