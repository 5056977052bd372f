/*
 * The daemon's side of the solver: a graph per map, first-move tables built in the
 * background, and worker threads that answer path commands off the apply thread.
 *
 * The apply thread reads what a command needs of the game (the hunt's map and cell
 * size, a player's and a clue's position), copies the command's input out of the
 * client's arena, and either answers at once (a NEXT_MOVE batch that the map's table
 * answers: at most 64 lookups, a few microseconds) or hands a job to the workers. A
 * worker computes into the job's own memory, never into shared memory, and queues the
 * job back; the apply thread then copies the answer into the client's arena, if the lane
 * still serves that client, and publishes the result. Results of jobs come back in the
 * order they finish, not in the order of the commands.
 */
#ifndef CAIRN_DAEMON_SOLVER_H
#define CAIRN_DAEMON_SOLVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn/protocol.h"
#include "solver/solver.h"

struct daemon;
struct lane;

/* One solver job: a path command, its copied input, and once done its answer. */
struct cairnd_path_job {
	struct cairnd_path_job *next;
	struct lane *lane;
	uint64_t client_id;
	struct cairn_msg cmd; /* the command as taken from the ring */
	uint32_t map_id, cell_mm, method, flags;
	uint32_t count; /* NEXT_MOVE, DISTANCE: pairs */
	uint32_t out_offset, out_capacity;
	struct cairn_path_pair pairs[CAIRN_MAX_PATH_BATCH];
	struct cairn__cell from, to; /* PATH, PATH_TO_CLUE */
	/* The answer: the result, and data_len bytes to copy to out_offset. */
	struct cairn_msg out;
	void *data;
	uint32_t data_len;
};

struct cairnd_solver_map {
	struct cairn__graph *graph;
	_Atomic(struct cairn__fm_table *) table; /* NULL until built */
};

struct cairnd_solver {
	unsigned threads;         /* --solver-threads: workers (0: the apply thread answers all) */
	uint32_t table_max_cells; /* --table-max-cells: maps up to this many passable cells */
	struct cairnd_solver_map maps[65];
	uint32_t n_maps;
	struct cairn__scratch *apply_scratch; /* the apply thread's own */

	pthread_t *workers;
	unsigned n_workers;
	pthread_mutex_t lock; /* the job queue */
	pthread_cond_t cond;
	struct cairnd_path_job *queue_head, *queue_tail;
	bool stop;

	pthread_mutex_t done_lock; /* finished jobs, for the apply thread */
	struct cairnd_path_job *done_head, *done_tail;
	uint32_t done_flag; /* atomic: done list non-empty */

	pthread_t builder;
	bool builder_started;
	atomic_int cancel;

	/* Apply thread: jobs out, answered inline, handed out. */
	uint64_t jobs_out, inline_answers, jobs;
};

/* Builds the graphs, starts the workers and the table builder. Returns 0 or -errno. */
int cairnd_solver_start(struct daemon *d);

/* Stops the builder and the workers (after the apply thread has finished) and frees. */
void cairnd_solver_stop(struct daemon *d);

/* Whether type is a path command (the solver serves it). */
bool cairnd_solver_serves(uint16_t type);

/*
 * Apply thread: takes a path command of lane l. Returns 0 with the result in *out
 * (answered at once, or refused), or 1 when a job was handed to the workers: its result
 * comes later from cairnd_solver_finish.
 */
int cairnd_solver_command(struct daemon *d, struct lane *l, const struct cairn_msg *cmd,
			  struct cairn_msg *out);

/* Apply thread: the finished jobs, in the order they finished (NULL: none). */
struct cairnd_path_job *cairnd_solver_take_done(struct daemon *d);

/*
 * Apply thread: copies a finished job's answer into its lane's arena when the lane still
 * serves the client it came from, and frees the job. Returns true with the result in
 * *out when it is to be published on job->lane (read the lane before the call).
 */
bool cairnd_solver_finish(struct daemon *d, struct cairnd_path_job *job, struct cairn_msg *out);

#endif
