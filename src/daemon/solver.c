/*
 * The daemon's solver: graphs, background first-move tables, and the worker threads
 * that answer path commands (see solver.h for the flow).
 *
 * Positions are millimetres; each stands for the cell it falls in (x / cell_mm), and
 * answers give cell centres. The solver checks the cells: off the map, blocked,
 * unreachable are each a specific code, per pair in a batch and for the whole command
 * in PATH.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/atomic.h"
#include "common/clock.h"
#include "common/futex.h"
#include "common/log.h"
#include "daemon/daemon.h"

bool cairnd_solver_serves(uint16_t type)
{
	return type == CAIRN_MSG_NEXT_MOVE || type == CAIRN_MSG_DISTANCE ||
	       type == CAIRN_MSG_PATH || type == CAIRN_MSG_PATH_TO_CLUE;
}

/* The cell a position falls in; negative positions give -1 (off the map). */
static int32_t cell_of(int32_t mm, uint32_t cell_mm)
{
	return mm < 0 ? -1 : (int32_t)((uint32_t)mm / cell_mm);
}

static int32_t centre_of(int32_t cell, uint32_t cell_mm)
{
	return (int32_t)((int64_t)cell * cell_mm + cell_mm / 2);
}

static uint32_t length_mm(struct cairn__cost c, uint32_t cell_mm)
{
	double v = cairn__cost_value(c) * cell_mm;
	return v >= 4294967295.0 ? UINT32_MAX : (uint32_t)llround(v);
}

/* A result of type answering cmd, with the payload struct p of size bytes. */
static void reply(const struct cairn_msg *cmd, uint16_t type, uint8_t length, const void *p,
		  size_t size, struct cairn_msg *out)
{
	cairnd_reply(cmd, type, length, out);
	memcpy(out->payload, p, size);
}

static const struct cairn__fm_table *table_of(const struct cairnd_solver *s, uint32_t map_id)
{
	return atomic_load_explicit(&s->maps[map_id].table, memory_order_acquire);
}

/* The method that answers: AUTO is the table when it is built, else jump point search. */
static uint32_t resolve(uint32_t method, const struct cairn__fm_table *t)
{
	if (method == CAIRN_METHOD_AUTO) {
		return t ? CAIRN_METHOD_TABLE : CAIRN_METHOD_JPS;
	}
	return method;
}

/* ---- answering: the same code on the apply thread and on the workers ---- */

static void run_batch(const struct cairnd_solver *s, struct cairnd_path_job *j,
		      struct cairn__scratch *scr)
{
	const struct cairn__graph *g = s->maps[j->map_id].graph;
	const struct cairn__fm_table *t = table_of(s, j->map_id);
	uint32_t method = resolve(j->method, t);
	bool next = j->cmd.hdr.type == CAIRN_MSG_NEXT_MOVE;
	size_t item =
		next ? sizeof(struct cairn_next_move_item) : sizeof(struct cairn_distance_item);
	uint8_t *data = calloc(j->count, item);
	if (!data) {
		cairnd_error_result(&j->cmd, CAIRN_E_BAD_VALUE, ENOMEM, &j->out);
		return;
	}
	struct cairn_path_batch_reply r;
	memset(&r, 0, sizeof(r));
	uint64_t expansions = 0;
	for (uint32_t i = 0; i < j->count; i++) {
		const struct cairn_path_pair *p = &j->pairs[i];
		struct cairn__cell from = {cell_of(p->from_x, j->cell_mm),
					   cell_of(p->from_y, j->cell_mm)};
		struct cairn__cell to = {cell_of(p->to_x, j->cell_mm),
					 cell_of(p->to_y, j->cell_mm)};
		struct cairn__solve_stats st = {0};
		int rc;
		if (next) {
			struct cairn_next_move_item it;
			enum cairn__dir dir = CAIRN__DIR_NONE;
			memset(&it, 0, sizeof(it));
			rc = cairn__solve_next(g, t, scr, (enum cairn__method)method, from, to,
					       &dir, &st);
			if (rc == 0) {
				it.dir = (uint8_t)dir;
				int32_t nx = from.x, ny = from.y;
				if (dir != CAIRN__DIR_NONE) {
					nx += cairn__dir_dx[dir];
					ny += cairn__dir_dy[dir];
				}
				it.x = centre_of(nx, j->cell_mm);
				it.y = centre_of(ny, j->cell_mm);
			} else {
				it.dir = CAIRN_DIR_NONE;
			}
			it.status = rc < 0 ? -rc : 0;
			memcpy(data + i * item, &it, sizeof(it));
		} else {
			struct cairn_distance_item it;
			struct cairn__cost c = {0, 0};
			memset(&it, 0, sizeof(it));
			rc = cairn__solve_cost(g, t, scr, (enum cairn__method)method, from, to, &c,
					       &st);
			if (rc == 0) {
				it.straight = c.straight;
				it.diagonal = c.diagonal;
				it.length_mm = length_mm(c, j->cell_mm);
			}
			it.status = rc < 0 ? -rc : 0;
			memcpy(data + i * item, &it, sizeof(it));
		}
		r.failed += rc != 0;
		expansions += st.expansions;
	}
	r.count = j->count;
	r.out_offset = j->out_offset;
	r.out_length = (uint32_t)(j->count * item);
	r.method = method;
	r.expansions = expansions > UINT32_MAX ? UINT32_MAX : (uint32_t)expansions;
	reply(&j->cmd, next ? CAIRN_MSG_NEXT_MOVE_REPLY : CAIRN_MSG_DISTANCE_REPLY,
	      CAIRN_MSG_NEXT_MOVE_REPLY_LEN_MIN, &r, sizeof(r), &j->out);
	j->data = data;
	j->data_len = r.out_length;
}

static void run_path(const struct cairnd_solver *s, struct cairnd_path_job *j,
		     struct cairn__scratch *scr)
{
	const struct cairn__graph *g = s->maps[j->map_id].graph;
	const struct cairn__fm_table *t = table_of(s, j->map_id);
	uint32_t method = resolve(j->method, t);
	/* A shortest path visits a cell at most once. */
	uint32_t cap = cairn__graph_nodes(g) + 1;
	struct cairn__cell *cells = malloc((size_t)cap * sizeof(*cells));
	if (!cells) {
		cairnd_error_result(&j->cmd, CAIRN_E_BAD_VALUE, ENOMEM, &j->out);
		return;
	}
	uint32_t n = 0;
	struct cairn__cost c = {0, 0};
	struct cairn__solve_stats st = {0};
	int rc = cairn__solve_path(g, t, scr, (enum cairn__method)method, j->from, j->to, cells,
				   cap, &n, &c, &st);
	if (rc < 0) {
		free(cells);
		cairnd_error_result(&j->cmd, -rc, 0, &j->out);
		return;
	}
	uint32_t total = n;
	if (j->flags & CAIRN_PATH_WAYPOINTS) {
		n = cairn__path_waypoints(cells, n);
	}
	uint64_t need = (uint64_t)n * sizeof(struct cairn_path_point);
	if (need > j->out_capacity) {
		free(cells);
		cairnd_error_result(&j->cmd, CAIRN_E_BLOB_TOO_SMALL,
				    need > UINT32_MAX ? UINT32_MAX : (uint32_t)need, &j->out);
		return;
	}
	/* In place: a path_point is a cell turned into millimetres, of the same size. */
	struct cairn_path_point *pts = (struct cairn_path_point *)cells;
	for (uint32_t i = 0; i < n; i++) {
		struct cairn__cell cl = cells[i];
		pts[i].x = centre_of(cl.x, j->cell_mm);
		pts[i].y = centre_of(cl.y, j->cell_mm);
	}
	struct cairn_path_reply r;
	memset(&r, 0, sizeof(r));
	r.count = n;
	r.cells = total;
	r.straight = c.straight;
	r.diagonal = c.diagonal;
	r.length_mm = length_mm(c, j->cell_mm);
	r.out_offset = j->out_offset;
	r.out_length = (uint32_t)need;
	r.method = method;
	r.expansions = st.expansions > UINT32_MAX ? UINT32_MAX : (uint32_t)st.expansions;
	reply(&j->cmd, CAIRN_MSG_PATH_REPLY, CAIRN_MSG_PATH_REPLY_LEN_MIN, &r, sizeof(r), &j->out);
	j->data = pts;
	j->data_len = (uint32_t)need;
}

static void run_job(const struct cairnd_solver *s, struct cairnd_path_job *j,
		    struct cairn__scratch *scr)
{
	if (j->cmd.hdr.type == CAIRN_MSG_NEXT_MOVE || j->cmd.hdr.type == CAIRN_MSG_DISTANCE) {
		run_batch(s, j, scr);
	} else {
		run_path(s, j, scr);
	}
}

/* ---- the workers ---- */

static void *worker_main(void *arg)
{
	struct daemon *d = arg;
	struct cairnd_solver *s = &d->solver;
	struct cairn__scratch *scr = NULL;
	if (cairn__scratch_new(&scr) < 0) {
		cairn__error("solver worker: out of memory for its scratch");
	}
	for (;;) {
		pthread_mutex_lock(&s->lock);
		while (!s->queue_head && !s->stop) {
			pthread_cond_wait(&s->cond, &s->lock);
		}
		struct cairnd_path_job *j = s->queue_head;
		if (!j) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		s->queue_head = j->next;
		if (!s->queue_head) {
			s->queue_tail = NULL;
		}
		pthread_mutex_unlock(&s->lock);

		j->next = NULL;
		if (scr) {
			run_job(s, j, scr);
		} else {
			cairnd_error_result(&j->cmd, CAIRN_E_BAD_VALUE, ENOMEM, &j->out);
		}
		pthread_mutex_lock(&s->done_lock);
		if (s->done_tail) {
			s->done_tail->next = j;
		} else {
			s->done_head = j;
		}
		s->done_tail = j;
		pthread_mutex_unlock(&s->done_lock);
		/* Release: the job's answer is complete for whoever sees the flag. */
		cairn__store_release(&s->done_flag, 1);
		cairn__add_seq_cst(&d->apply_bell, 1);
		cairn__futex_wake(&d->apply_bell, 1);
	}
	cairn__scratch_free(scr);
	return NULL;
}

/* ---- the table builder ---- */

struct build_progress {
	const char *map;
	uint64_t t0, last;
};

static void build_progress(void *arg, uint32_t done, uint32_t total)
{
	struct build_progress *p = arg;
	uint64_t now = cairn__now_ns();
	if (now - p->last >= 5ull * 1000 * 1000 * 1000) {
		p->last = now;
		cairn__info("first-move table for map %s: %u of %u sources (%.0f s)", p->map, done,
			    total, (double)(now - p->t0) / 1e9);
	}
}

static void *builder_main(void *arg)
{
	struct daemon *d = arg;
	struct cairnd_solver *s = &d->solver;
	unsigned threads = s->n_workers ? s->n_workers : 1;
	for (uint32_t i = 0; i < s->n_maps && !atomic_load(&s->cancel); i++) {
		const struct cairn__map *m = d->maps[i];
		if (m->passable > s->table_max_cells) {
			continue;
		}
		struct build_progress p = {m->name, cairn__now_ns(), cairn__now_ns()};
		struct cairn__fm_table *t = NULL;
		int r = cairn__fm_build(s->maps[i].graph, threads, &s->cancel, build_progress, &p,
					&t);
		if (r == -ECANCELED) {
			break;
		}
		if (r < 0) {
			cairn__warn("first-move table for map %u (%s): %s; its paths are searched "
				    "instead",
				    i, m->name, strerror(-r));
			cairn__engine_set_table_state(d->engine, i, CAIRN_TABLE_FAILED);
			continue;
		}
		atomic_store_explicit(&s->maps[i].table, t, memory_order_release);
		cairn__engine_set_table_state(d->engine, i, CAIRN_TABLE_READY);
		cairn__info("first-move table for map %u (%s): built in %.2f s with %u thread%s, "
			    "%.1f MiB",
			    i, m->name, (double)(cairn__now_ns() - p.t0) / 1e9, threads,
			    threads == 1 ? "" : "s", (double)cairn__fm_bytes(t) / (1024.0 * 1024));
	}
	return NULL;
}

/* ---- start and stop ---- */

int cairnd_solver_start(struct daemon *d)
{
	struct cairnd_solver *s = &d->solver;
	s->table_max_cells = d->cfg.table_max_cells;
	s->n_maps = d->n_maps;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_mutex_init(&s->done_lock, NULL);
	atomic_init(&s->cancel, 0);
	int r = cairn__scratch_new(&s->apply_scratch);
	if (r < 0) {
		return r;
	}
	size_t graph_bytes = 0;
	for (uint32_t i = 0; i < d->n_maps; i++) {
		r = cairn__graph_build(d->maps[i], &s->maps[i].graph);
		if (r < 0) {
			cairn__error("cannot build the graph of map %u (%s): %s", i,
				     d->maps[i]->name, strerror(-r));
			return r;
		}
		atomic_init(&s->maps[i].table, NULL);
		graph_bytes += cairn__graph_bytes(s->maps[i].graph);
		cairn__engine_set_table_state(d->engine, i,
					      d->maps[i]->passable <= s->table_max_cells
						      ? CAIRN_TABLE_BUILDING
						      : CAIRN_TABLE_NONE);
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = d->cfg.solver_threads >= 0 ? (unsigned)d->cfg.solver_threads
		     : ncpu > 2                 ? (unsigned)(ncpu - 1)
						: 1;
	s->workers = n ? calloc(n, sizeof(s->workers[0])) : NULL;
	if (n && !s->workers) {
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		r = pthread_create(&s->workers[i], NULL, worker_main, d);
		if (r != 0) {
			cairn__error("cannot start a solver worker: %s", strerror(r));
			return -r;
		}
		s->n_workers++;
		cairnd_keep_off_apply_cpu(d, s->workers[i]);
	}
	unsigned tables = 0;
	for (uint32_t i = 0; i < d->n_maps; i++) {
		tables += d->maps[i]->passable <= s->table_max_cells;
	}
	if (tables) {
		r = pthread_create(&s->builder, NULL, builder_main, d);
		if (r != 0) {
			cairn__error("cannot start the first-move table builder: %s", strerror(r));
			return -r;
		}
		s->builder_started = true;
		cairnd_keep_off_apply_cpu(d, s->builder);
	}
	cairn__info("solver: %u worker thread%s%s; graphs of %u map%s in %.1f MiB; first-move "
		    "tables for %u of them (maps up to %u passable cells, --table-max-cells), "
		    "built in the background",
		    n, n == 1 ? "" : "s", n ? "" : " (the apply thread answers every path command)",
		    d->n_maps, d->n_maps == 1 ? "" : "s", (double)graph_bytes / (1024.0 * 1024),
		    tables, s->table_max_cells);
	return 0;
}

static void free_list(struct cairnd_path_job *j)
{
	while (j) {
		struct cairnd_path_job *next = j->next;
		free(j->data);
		free(j);
		j = next;
	}
}

void cairnd_solver_stop(struct daemon *d)
{
	struct cairnd_solver *s = &d->solver;
	atomic_store(&s->cancel, 1);
	if (s->builder_started) {
		pthread_join(s->builder, NULL);
		s->builder_started = false;
	}
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < s->n_workers; i++) {
		pthread_join(s->workers[i], NULL);
	}
	free(s->workers);
	s->workers = NULL;
	s->n_workers = 0;
	free_list(s->queue_head);
	free_list(s->done_head);
	s->queue_head = s->queue_tail = s->done_head = s->done_tail = NULL;
	for (uint32_t i = 0; i < s->n_maps; i++) {
		cairn__fm_free(atomic_load(&s->maps[i].table));
		cairn__graph_free(s->maps[i].graph);
		s->maps[i].graph = NULL;
	}
	cairn__scratch_free(s->apply_scratch);
	s->apply_scratch = NULL;
	if (s->jobs || s->inline_answers) {
		cairn__info("solver: %llu path commands answered by the workers, %llu by the apply "
			    "thread",
			    (unsigned long long)s->jobs, (unsigned long long)s->inline_answers);
	}
}

/* ---- the apply thread's side ---- */

/*
 * Checks a path command and copies what it needs into *j. Returns 0, or an error code
 * (the command is refused with it; *detail locates the fault).
 */
static int prepare(struct daemon *d, struct lane *l, const struct cairn_msg *cmd,
		   struct cairnd_path_job *j, uint32_t *detail)
{
	uint16_t t = cmd->hdr.type;
	int code = cairnd_check_header(cmd, detail);
	if (code) {
		return code;
	}
	/* Everything but the pairs, which only the count of them are copied into. */
	memset(j, 0, offsetof(struct cairnd_path_job, pairs));
	memset(&j->from, 0, sizeof(*j) - offsetof(struct cairnd_path_job, from));
	j->cmd = *cmd;
	j->lane = l;
	j->client_id = l->client_id;
	uint32_t hunt;
	const struct cairn__map *map;
	if (t == CAIRN_MSG_NEXT_MOVE || t == CAIRN_MSG_DISTANCE) {
		struct cairn_path_batch q;
		memcpy(&q, cmd->payload, sizeof(q));
		hunt = q.hunt_id;
		j->method = q.method;
		j->count = q.count;
		j->out_offset = q.out_offset;
		j->out_capacity = q.out_capacity;
		if (q.count == 0 || q.count > CAIRN_MAX_PATH_BATCH) {
			*detail = q.count;
			return CAIRN_E_BAD_VALUE;
		}
		uint64_t in_len = (uint64_t)q.count * sizeof(struct cairn_path_pair);
		if ((q.in_offset & 7) || !cairnd_in_arena(q.in_offset, in_len, l->blob_size)) {
			*detail = q.in_offset;
			return CAIRN_E_BLOB_RANGE;
		}
		if ((q.out_offset & 7) ||
		    !cairnd_in_arena(q.out_offset, q.out_capacity, l->blob_size)) {
			*detail = q.out_offset;
			return CAIRN_E_BLOB_RANGE;
		}
		size_t item = t == CAIRN_MSG_NEXT_MOVE ? sizeof(struct cairn_next_move_item)
						       : sizeof(struct cairn_distance_item);
		if (q.out_capacity < q.count * item) {
			*detail = (uint32_t)(q.count * item);
			return CAIRN_E_BLOB_TOO_SMALL;
		}
		/* Copied now: the client may write its arena while the job runs. */
		memcpy(j->pairs, l->blob + q.in_offset, in_len);
	} else if (t == CAIRN_MSG_PATH) {
		struct cairn_path q;
		memcpy(&q, cmd->payload, sizeof(q));
		hunt = q.hunt_id;
		j->method = q.method;
		j->flags = q.flags;
		j->out_offset = q.out_offset;
		j->out_capacity = q.out_capacity;
		j->pairs[0] = (struct cairn_path_pair){q.from_x, q.from_y, q.to_x, q.to_y};
	} else {
		struct cairn_path_to_clue q;
		memcpy(&q, cmd->payload, sizeof(q));
		hunt = q.hunt_id;
		j->method = q.method;
		j->flags = q.flags;
		j->out_offset = q.out_offset;
		j->out_capacity = q.out_capacity;
		int32_t px = 0, py = 0, cx = 0, cy = 0;
		int r = cairn__engine_entity_pos(d->engine, q.hunt_id, q.player_id,
						 CAIRN_ENTITY_PLAYER, &px, &py);
		if (r < 0) {
			*detail = r == -CAIRN_E_UNKNOWN_HUNT ? q.hunt_id : q.player_id;
			return -r;
		}
		r = cairn__engine_entity_pos(d->engine, q.hunt_id, q.clue_id, CAIRN_ENTITY_CLUE,
					     &cx, &cy);
		if (r < 0) {
			*detail = q.clue_id;
			return -r;
		}
		j->pairs[0] = (struct cairn_path_pair){px, py, cx, cy};
	}
	if (j->method > CAIRN_METHOD_TABLE) {
		*detail = j->method;
		return CAIRN_E_BAD_VALUE;
	}
	if (t == CAIRN_MSG_PATH || t == CAIRN_MSG_PATH_TO_CLUE) {
		if (j->flags & ~(uint32_t)CAIRN_PATH_WAYPOINTS) {
			*detail = j->flags;
			return CAIRN_E_BAD_VALUE;
		}
		if ((j->out_offset & 7) ||
		    !cairnd_in_arena(j->out_offset, j->out_capacity, l->blob_size)) {
			*detail = j->out_offset;
			return CAIRN_E_BLOB_RANGE;
		}
	}
	int r = cairn__engine_hunt_geometry(d->engine, hunt, &map, &j->map_id, &j->cell_mm);
	if (r < 0) {
		*detail = hunt;
		return -r;
	}
	if (j->map_id >= d->solver.n_maps) {
		*detail = j->map_id;
		return CAIRN_E_UNKNOWN_MAP;
	}
	if (j->method == CAIRN_METHOD_TABLE && !table_of(&d->solver, j->map_id)) {
		*detail = j->map_id;
		return CAIRN_E_TABLE_NOT_READY;
	}
	if (t == CAIRN_MSG_PATH || t == CAIRN_MSG_PATH_TO_CLUE) {
		const struct cairn_path_pair *p = &j->pairs[0];
		j->from = (struct cairn__cell){cell_of(p->from_x, j->cell_mm),
					       cell_of(p->from_y, j->cell_mm)};
		j->to = (struct cairn__cell){cell_of(p->to_x, j->cell_mm),
					     cell_of(p->to_y, j->cell_mm)};
	}
	return 0;
}

/* Copies a finished answer into the lane's arena (bounds checked when it was taken). */
static void deliver(struct lane *l, const struct cairnd_path_job *j)
{
	if (j->out.hdr.type != CAIRN_MSG_ERROR && j->data_len) {
		memcpy(l->blob + j->out_offset, j->data, j->data_len);
	}
}

int cairnd_solver_command(struct daemon *d, struct lane *l, const struct cairn_msg *cmd,
			  struct cairn_msg *out)
{
	struct cairnd_solver *s = &d->solver;
	struct cairnd_path_job local;
	uint32_t detail;
	int code = prepare(d, l, cmd, &local, &detail);
	if (code) {
		cairnd_error_result(cmd, code, detail, out);
		cairn__count_command(d->engine_counters, cmd->hdr.type, code);
		return 0;
	}
	/*
	 * A NEXT_MOVE batch that the map's table answers is at most 64 lookups, a few
	 * microseconds: answered here, since handing it to a worker would cost a thread
	 * wake-up, more than the work. Everything else searches, and goes to the workers.
	 */
	bool quick = cmd->hdr.type == CAIRN_MSG_NEXT_MOVE &&
		     resolve(local.method, table_of(s, local.map_id)) == CAIRN_METHOD_TABLE;
	if (quick || s->n_workers == 0) {
		run_job(s, &local, s->apply_scratch);
		deliver(l, &local);
		free(local.data);
		*out = local.out;
		s->inline_answers++;
		cairn__count_command(d->engine_counters, cmd->hdr.type,
				     out->hdr.type == CAIRN_MSG_ERROR ? out->hdr.status : 0);
		return 0;
	}
	struct cairnd_path_job *j = malloc(sizeof(*j));
	if (!j) {
		cairnd_error_result(cmd, CAIRN_E_BAD_VALUE, ENOMEM, out);
		return 0;
	}
	memcpy(j, &local, sizeof(*j));
	j->next = NULL;
	pthread_mutex_lock(&s->lock);
	if (s->queue_tail) {
		s->queue_tail->next = j;
	} else {
		s->queue_head = j;
	}
	s->queue_tail = j;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	s->jobs_out++;
	s->jobs++;
	return 1;
}

struct cairnd_path_job *cairnd_solver_take_done(struct daemon *d)
{
	struct cairnd_solver *s = &d->solver;
	/* Acquire pairs with the worker's release. */
	if (!cairn__load_acquire(&s->done_flag)) {
		return NULL;
	}
	pthread_mutex_lock(&s->done_lock);
	struct cairnd_path_job *j = s->done_head;
	s->done_head = s->done_tail = NULL;
	cairn__store_relaxed(&s->done_flag, 0);
	pthread_mutex_unlock(&s->done_lock);
	return j;
}

bool cairnd_solver_finish(struct daemon *d, struct cairnd_path_job *job, struct cairn_msg *out)
{
	struct lane *l = job->lane;
	d->solver.jobs_out--;
	cairn__count_command(d->engine_counters, job->cmd.hdr.type,
			     job->out.hdr.type == CAIRN_MSG_ERROR ? job->out.hdr.status : 0);
	bool same = l->serving && l->client_id == job->client_id;
	if (same) {
		deliver(l, job);
		*out = job->out;
	}
	free(job->data);
	free(job);
	return same;
}
