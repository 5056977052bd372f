/*
 * Before the run: the hunts, their players (the first player of each of the first
 * hunts is a sentry, see probe.c) and their clues, created in pipelined batches on the
 * sim lane. Every result is checked; the first failure ends the setup with a message.
 * After the run: the hunts go, with everything in them, so that a daemon that serves
 * demo after demo does not fill up.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "map/map.h"
#include "sim.h"

/*
 * Sends cmds[0..n) and puts the result of cmds[i] into res[i], keeping up to
 * MAX_IN_FLIGHT in flight. Returns 0, or a negative code (and says why in s->msg).
 */
static int exchange(struct sim *s, struct cairn_msg *cmds, struct cairn_msg *res, size_t n,
		    const char *what)
{
	size_t sent = 0, got = 0;
	uint8_t *seen = calloc(n ? n : 1, 1);
	struct cairn_msg *in = malloc(RES_BATCH * sizeof(*in));
	int r = 0;
	if (!seen || !in) {
		r = -ENOMEM;
		sim_fail(s, r, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		cmds[i].hdr.request_id = rid(RQ_SETUP, (uint32_t)i);
	}
	while (got < n) {
		size_t room = MAX_IN_FLIGHT - (sent - got);
		if (sent < n && room >= BATCH) {
			size_t want = n - sent < BATCH ? n - sent : BATCH;
			int k = cairn_submit_batch(s->conn, &cmds[sent], (unsigned)want);
			if (k < 0) {
				r = k;
				sim_fail(s, r, "%s: cannot send: %s", what, cairn_strerror(r));
				goto out;
			}
			sent += (size_t)k;
		}
		int k = cairn_poll_batch(s->conn, in, RES_BATCH);
		if (k == 0 && (sent == n || room < BATCH)) {
			k = cairn_wait(s->conn, in, SETUP_WAIT_NS);
			k = k == 0 ? 1 : k;
			/* A pending Ctrl-C stops a long setup at this point. */
			sigset_t pend;
			if (sigpending(&pend) == 0 &&
			    (sigismember(&pend, SIGINT) == 1 || sigismember(&pend, SIGTERM) == 1)) {
				r = -EINTR;
				sim_fail(s, r, "interrupted while setting up");
				goto out;
			}
		}
		if (k < 0) {
			r = k;
			sim_fail(s, r, "%s: %s", what,
				 r == -ETIMEDOUT ? "cairnd did not answer within 5 s"
						 : cairn_strerror(r));
			goto out;
		}
		for (int i = 0; i < k; i++) {
			uint64_t id = in[i].hdr.request_id;
			size_t idx = (uint32_t)id;
			if (rid_kind(id) != RQ_SETUP || idx >= sent || seen[idx]) {
				r = -CAIRN_E_BAD_REPLY;
				sim_fail(
					s, r,
					"%s: a result with request id 0x%llx, which was never sent",
					what, (unsigned long long)id);
				goto out;
			}
			seen[idx] = 1;
			res[idx] = in[i];
			got++;
		}
	}
out:
	free(seen);
	free(in);
	return r;
}

/* Checks a setup result; says what failed and returns a negative code otherwise. */
static int expect(struct sim *s, const struct cairn_msg *res, uint16_t type, uint8_t len,
		  const char *what)
{
	if (res->hdr.type == type && res->hdr.length >= len) {
		return 0;
	}
	int r = res->hdr.type == CAIRN_MSG_ERROR && res->hdr.status > 0 ? -res->hdr.status
									: -CAIRN_E_BAD_REPLY;
	sim_fail(s, r, "%s: %s", what, cairn_strerror(r));
	return r;
}

static int create_hunts(struct sim *s)
{
	const struct demo_config *cfg = &s->cfg;
	size_t n = cfg->hunts;
	struct cairn_msg *cmds = calloc(n, sizeof(*cmds)), *res = calloc(n, sizeof(*res));
	int r = 0;
	if (!cmds || !res) {
		r = -ENOMEM;
		sim_fail(s, r, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct cairn_hunt_create q;
		memset(&q, 0, sizeof(q));
		q.speed_limit_mm_s = cfg->speed_mm_s;
		cairn_msg_init(&cmds[i], CAIRN_MSG_HUNT_CREATE, CAIRN_MSG_HUNT_CREATE_LEN_MIN);
		memcpy(cmds[i].payload, &q, sizeof(q));
	}
	r = exchange(s, cmds, res, n, "creating hunts");
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = expect(s, &res[i], CAIRN_MSG_HUNT_CREATED, CAIRN_MSG_HUNT_CREATED_LEN_MIN,
			   "creating a hunt");
		if (r < 0) {
			break;
		}
		struct cairn_hunt_created h;
		memcpy(&h, res[i].payload, sizeof(h));
		if (h.width != s->map->width || h.height != s->map->height || h.cell_mm == 0 ||
		    h.cell_mm > CAIRN_MAX_CELL_MM) {
			r = -CAIRN_E_UNKNOWN_MAP;
			sim_fail(s, r,
				 "cairnd's map 0 is %u x %u cells of %u mm, not the embedded "
				 "%u x %u map this demo walks on",
				 h.width, h.height, h.cell_mm, s->map->width, s->map->height);
			break;
		}
		s->world.hunt_ids[i] = h.hunt_id;
		s->cell_mm = h.cell_mm;
	}
out:
	free(cmds);
	free(res);
	return r;
}

static int by_id(const void *a, const void *b)
{
	const struct demo_name *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int join_players(struct sim *s)
{
	size_t n = s->nplayers;
	struct cairn_msg *cmds = calloc(n, sizeof(*cmds)), *res = calloc(n, sizeof(*res));
	int r = 0;
	if (!cmds || !res) {
		r = -ENOMEM;
		sim_fail(s, r, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct player *p = &s->players[i];
		p->hunt = (uint32_t)(i / s->cfg.players);
		p->target = -1;
		uint32_t cell = random_spot(s, &p->x, &p->y);
		if (i % s->cfg.players == 0 && p->hunt < s->nsentries) {
			/* The hunt's sentry paces a row of its cell, a tenth from each side. */
			struct sentry *t = &s->sentries[p->hunt];
			uint32_t cx = cell % s->map->width, cy = cell / s->map->width;
			t->x0 = (int32_t)(cx * s->cell_mm + s->cell_mm / 10);
			t->x1 = (int32_t)(cx * s->cell_mm + s->cell_mm - s->cell_mm / 10);
			t->dir = 1;
			p->x = t->x = t->x0;
			p->y = t->y = (int32_t)(cy * s->cell_mm + s->cell_mm / 2);
			p->sentry = 1;
			s->sentry_cell[p->hunt] = cell;
		}
		struct cairn_join q;
		memset(&q, 0, sizeof(q));
		q.hunt_id = s->world.hunt_ids[p->hunt];
		q.x = p->x;
		q.y = p->y;
		cairn_msg_init(&cmds[i], CAIRN_MSG_JOIN, CAIRN_MSG_JOIN_LEN_MIN);
		memcpy(cmds[i].payload, &q, sizeof(q));
	}
	r = exchange(s, cmds, res, n, "joining players");
	/* After the last result: later than every join's stamp. */
	uint64_t now = cairn__now_ns();
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = expect(s, &res[i], CAIRN_MSG_JOINED, CAIRN_MSG_JOINED_LEN_MIN,
			   "joining a player");
		if (r < 0) {
			break;
		}
		struct cairn_joined j;
		memcpy(&j, res[i].payload, sizeof(j));
		struct player *p = &s->players[i];
		p->id = j.player_id;
		p->t_ack = now;
		if (p->sentry) {
			s->sentries[p->hunt].hunt_id = s->world.hunt_ids[p->hunt];
			s->sentries[p->hunt].player_id = j.player_id;
			s->sentries[p->hunt].t_ack = now;
		}
		uint32_t k = (uint32_t)(i % s->cfg.players);
		s->world.names[p->hunt][k] = (struct demo_name){.id = j.player_id, .number = k + 1};
	}
	for (unsigned h = 0; r == 0 && h < s->cfg.hunts; h++) {
		qsort(s->world.names[h], s->cfg.players, sizeof(struct demo_name), by_id);
	}
out:
	free(cmds);
	free(res);
	return r;
}

static int place_clues(struct sim *s)
{
	for (uint32_t h = 0; h < s->cfg.hunts; h++) {
		for (uint32_t j = 0; j < s->cfg.clues; j++) {
			int r = place_clue(s, h, j);
			if (r < 0) {
				sim_fail(s, r, "out of memory");
				return r;
			}
		}
	}
	size_t n = s->outq_n;
	struct cairn_msg *res = calloc(n, sizeof(*res));
	if (!res) {
		sim_fail(s, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	/* The queue holds exactly the CLUE_PLACEs, in slot order. */
	int r = exchange(s, s->outq, res, n, "placing clues");
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = expect(s, &res[i], CAIRN_MSG_CLUE_PLACED, CAIRN_MSG_CLUE_PLACED_LEN_MIN,
			   "placing a clue");
		if (r == 0) {
			on_placed(s, (uint32_t)i, &res[i]);
		}
	}
	s->outq_head = s->outq_n = 0;
	free(res);
	return r;
}

void sim_lane_options(const struct demo_config *cfg, struct cairn_open_options *o)
{
	memset(o, 0, sizeof(*o));
	o->cmd_capacity = RING_CAPACITY;
	o->res_capacity = RING_CAPACITY;
	/* One answer of QUERY_K hits per player, at the player's own place in the arena. */
	size_t need = (size_t)cfg->hunts * cfg->players * QUERY_K * sizeof(struct cairn_hit);
	size_t size = CAIRN_BLOB_DEFAULT_SIZE;
	while (size < need && size < CAIRN_BLOB_MAX_SIZE) {
		size *= 2;
	}
	o->blob_size = (uint32_t)size;
}

int sim_setup(const struct demo_config *cfg, cairn_client *sim_conn, cairn_client *probe_conn,
	      struct demo_stats *stats, struct sim **out)
{
	struct sim *s = calloc(1, sizeof(*s));
	*out = s;
	if (!s) {
		fprintf(stderr, "cairn-demo: out of memory\n");
		return -ENOMEM;
	}
	s->cfg = *cfg;
	s->stats = stats;
	s->conn = sim_conn;
	s->probe = probe_conn;
	atomic_init(&s->stop, false);
	atomic_init(&s->finished, false);
	rng_seed(&s->rng, cfg->seed);
	int r = cairn__map_default(&s->map);
	if (r < 0) {
		fprintf(stderr, "cairn-demo: cannot build the embedded map: %s\n",
			cairn_strerror(r));
		return r;
	}
	struct demo_world *w = &s->world;
	w->hunts = cfg->hunts;
	w->players = cfg->players;
	w->clues = cfg->clues;
	w->map_width = s->map->width;
	w->map_height = s->map->height;
	w->speed_mm_s = cfg->speed_mm_s;
	s->nplayers = (size_t)cfg->hunts * cfg->players;
	s->nslots = (size_t)cfg->hunts * cfg->clues;
	size_t cells = (size_t)s->map->width * s->map->height;
	s->blob = cairn_blob(sim_conn, &s->blob_size);
	if (s->nplayers * QUERY_K * sizeof(struct cairn_hit) > s->blob_size) {
		fprintf(stderr, "cairn-demo: the lane's blob arena (%zu bytes) is too small\n",
			s->blob_size);
		return -ENOSPC;
	}

	w->hunt_ids = calloc(cfg->hunts, sizeof(*w->hunt_ids));
	w->names = calloc(cfg->hunts, sizeof(*w->names));
	s->players = calloc(s->nplayers, sizeof(*s->players));
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	s->passable = malloc(cells * sizeof(*s->passable));
	s->nsentries = cfg->hunts < MAX_SENTRIES ? cfg->hunts : MAX_SENTRIES;
	s->sentries = calloc(s->nsentries, sizeof(*s->sentries));
	s->sentry_cell = malloc(cfg->hunts * sizeof(*s->sentry_cell));
	stats->hunt_claims = calloc(cfg->hunts, sizeof(*stats->hunt_claims));
	bool ok = w->hunt_ids && w->names && s->players && s->slots && s->passable && s->sentries &&
		  s->sentry_cell && stats->hunt_claims;
	for (unsigned h = 0; ok && h < cfg->hunts; h++) {
		w->names[h] = calloc(cfg->players, sizeof(**w->names));
		ok = w->names[h] != NULL;
	}
	for (size_t j = 0; ok && j < s->nslots; j++) {
		s->slots[j].field = malloc(cells * sizeof(uint16_t));
		ok = s->slots[j].field != NULL;
	}
	if (!ok) {
		fprintf(stderr,
			"cairn-demo: out of memory (%zu clues need %zu MiB of path fields)\n",
			s->nslots, s->nslots * cells * sizeof(uint16_t) >> 20);
		return -ENOMEM;
	}
	for (unsigned h = 0; h < cfg->hunts; h++) {
		atomic_init(&stats->hunt_claims[h], 0);
		s->sentry_cell[h] = NO_CELL;
	}
	for (size_t c = 0; c < cells; c++) {
		if (s->map->cells[c]) {
			s->passable[s->npassable++] = (uint32_t)c;
		}
	}
	if (s->npassable == 0) {
		fprintf(stderr, "cairn-demo: the embedded map has no open cell\n");
		return -CAIRN_E_BAD_MAP;
	}

	/*
	 * The daemon publishes its maps in the state segment: when it does, the host checks
	 * that map 0 is the very map it walks on, not only one of the same size (which is all
	 * create_hunts can check).
	 */
	struct cairn_map_info mi;
	r = cairn_read_map(sim_conn, 0, &mi);
	if (r == 0 &&
	    (mi.width != s->map->width || mi.height != s->map->height || mi.hash != s->map->hash)) {
		fprintf(stderr,
			"cairn-demo: cairnd's map 0 (%u x %u, hash %016llx) is not the embedded "
			"map "
			"this demo walks on (%u x %u, hash %016llx)\n",
			mi.width, mi.height, (unsigned long long)mi.hash, s->map->width,
			s->map->height, (unsigned long long)s->map->hash);
		return -CAIRN_E_UNKNOWN_MAP;
	}
	r = create_hunts(s);
	if (r == 0) {
		w->cell_mm = s->cell_mm;
		r = join_players(s);
	}
	if (r == 0) {
		r = place_clues(s);
	}
	if (r < 0) {
		fprintf(stderr, "cairn-demo: %s\n", s->msg);
		return r;
	}
	w->probes = s->nsentries;
	w->batch = BATCH;
	w->max_in_flight = MAX_IN_FLIGHT;
	return 0;
}

int sim_teardown(struct sim *s, cairn_client *c)
{
	int first = 0;
	for (unsigned h = 0; s && s->world.hunt_ids && h < s->world.hunts; h++) {
		if (s->world.hunt_ids[h] == 0) {
			continue; /* never created */
		}
		struct cairn_hunt_ref q;
		memset(&q, 0, sizeof(q));
		q.hunt_id = s->world.hunt_ids[h];
		struct cairn_msg m, res;
		cairn_msg_init(&m, CAIRN_MSG_HUNT_DESTROY, CAIRN_MSG_HUNT_DESTROY_LEN_MIN);
		memcpy(m.payload, &q, sizeof(q));
		int r = cairn_call(c, &m, &res, CALL_TIMEOUT_NS);
		if (r == 0 && res.hdr.type != CAIRN_MSG_HUNT_DESTROYED) {
			r = -CAIRN_E_BAD_REPLY;
		}
		if (r < 0 && first == 0) {
			first = r;
		}
		if (r == -CAIRN_E_DISCONNECTED || r == -CAIRN_E_LANE_DROPPED || r == -ETIMEDOUT) {
			break; /* the others would fail the same way */
		}
	}
	return first;
}

void world_free(struct demo_world *w)
{
	if (w->names) {
		for (unsigned h = 0; h < w->hunts; h++) {
			free(w->names[h]);
		}
	}
	free(w->names);
	free(w->hunt_ids);
	w->names = NULL;
	w->hunt_ids = NULL;
}

void sim_free(struct sim *s)
{
	if (!s) {
		return;
	}
	world_free(&s->world);
	if (s->slots) {
		for (size_t j = 0; j < s->nslots; j++) {
			free(s->slots[j].field);
		}
	}
	free(s->slots);
	free(s->players);
	free(s->sentries);
	free(s->sentry_cell);
	free(s->passable);
	free(s->outq);
	field_work_free(&s->work);
	cairn__map_free(s->map);
	free(s);
}

uint32_t world_player_number(const struct demo_world *w, unsigned hunt, uint32_t player_id)
{
	if (hunt >= w->hunts) {
		return 0;
	}
	struct demo_name key = {.id = player_id};
	const struct demo_name *n = bsearch(&key, w->names[hunt], w->players, sizeof(key), by_id);
	return n ? n->number : 0;
}
