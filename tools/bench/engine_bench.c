/*
 * cairn-bench engine: what the game engine costs by itself, in this process, with no
 * daemon and no rings: the ceiling of what cairnd can apply with one writer thread.
 *
 * 1000 hunts of 100 players on the embedded default map, each player stepping legally
 * (onto passable cells, within the hunts' speed limit of the ingress stamps the
 * benchmark gives). Commands are built for a whole round (every player once) before the
 * clock starts, so only cairn__engine_apply is timed; its result is checked every time.
 *
 * Then the seqlock rows: the same MOVE traffic applied to an engine whose grid lives in
 * a MAP_SHARED memfd, while a forked reader process, on the other CPU, reads hunts,
 * blocks and entities under their seqlocks as fast as it can, as a host reading the
 * grid would; against the same writer with the reader asleep, and with the reader
 * spinning on its own memory (its CPU busy, the grid untouched), runs in rotation.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "engine/engine.h"
#include "game.h"
#include "machine.h"
#include "proc.h"
#include "report.h"
#include "shm/segment.h"
#include "shm/seqlock.h"
#include "stats.h"

#define CMD "engine"

#define SPEED_MM_S      10000u                 /* the hunts' speed limit: 10 m/s */
#define STEP_MM         250                    /* largest step along each axis */
#define ROUND_NS        (100ull * 1000 * 1000) /* ingress time between a player's moves */
#define FIRST_STAMP_NS  (1000ull * 1000 * 1000)
#define QUERY_CLUES     64u /* clues per hunt for the NEAREST_CLUES row */
#define QUERY_K         8u
#define BLOB_BYTES      4096u
#define READER_SPAN     1 /* the reader reads (2 * span + 1)^2 blocks around a point */
#define READER_MAX_ENTS 512u
#define READ_TRIES      1000 /* then the reader gives up on that record and goes on */
#define STUCK_NS        (2ull * 1000 * 1000 * 1000) /* giving up for this long: fail */
#define WAIT_NS         (5ull * 1000 * 1000 * 1000)
#define TARGET_DROP_PCT 10.0

/* A legal step is at most STEP_MM * sqrt(2) mm per ROUND_NS: within the limit. */
_Static_assert((uint64_t)STEP_MM * 14143 / 10000 < (uint64_t)SPEED_MM_S * ROUND_NS / 1000000000,
	       "a round's step respects the speed limit");

struct engine_opts {
	uint64_t hunts;
	uint64_t players; /* per hunt */
	uint64_t rounds;  /* per run */
	uint64_t runs;
	int writer_cpu; /* -1: not pinned */
	int reader_cpu;
	bool json;
	bool check;
	bool quick;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench engine [OPTION]...\n"
		"The game engine in this process, no daemon, no rings: MOVE throughput on 1000\n"
		"hunts x 100 players of the embedded default map (players step legally: onto\n"
		"passable cells, within the hunts' speed limit of %u mm/s), MOVEs that each claim\n"
		"a clue, NEAREST_CLUES k=%u queries, and the cost of a reader process hammering\n"
		"the grid under its seqlocks while the engine writes (the grid then lives in a\n"
		"MAP_SHARED memfd, as in cairnd's state segment).\n"
		"\n"
		"  --hunts N        hunts (default 1000)\n"
		"  --players N      players per hunt (default 100)\n"
		"  --rounds N       rounds per run; every player moves once a round (default 20;\n"
		"                   --quick: 5)\n"
		"  --runs N         runs per row; median, min and max are reported (default 7;\n"
		"                   --quick: 3). The three seqlock rows (no reader, a reader\n"
		"                   spinning on its own memory, a reader hammering the grid)\n"
		"                   take N runs each, in rotation.\n"
		"  --writer-cpu N   pin the engine (this process) here (default: the first usable\n"
		"                   CPU, normally 0, where cairnd's apply thread would be)\n"
		"  --reader-cpu N   pin the reader process here (default: the second usable CPU)\n"
		"  --quick          a short run with the smaller counts above\n"
		"  --json           print one JSON object instead of tables\n"
		"  --check          exit 1 if a target is missed: MOVE throughput with a reader\n"
		"                   hammering the grid less than %.0f %% below the same without\n"
		"                   a reader\n"
		"  -h, --help       show this help and exit\n",
		SPEED_MM_S, QUERY_K, TARGET_DROP_PCT);
}

enum {
	OPT_HUNTS = 256,
	OPT_PLAYERS,
	OPT_ROUNDS,
	OPT_RUNS,
	OPT_WRITER_CPU,
	OPT_READER_CPU,
	OPT_QUICK,
	OPT_JSON,
	OPT_CHECK,
};

static int parse_args(int argc, char **argv, struct engine_opts *o)
{
	static const struct option opts[] = {
		{"hunts", required_argument, NULL, OPT_HUNTS},
		{"players", required_argument, NULL, OPT_PLAYERS},
		{"rounds", required_argument, NULL, OPT_ROUNDS},
		{"runs", required_argument, NULL, OPT_RUNS},
		{"writer-cpu", required_argument, NULL, OPT_WRITER_CPU},
		{"reader-cpu", required_argument, NULL, OPT_READER_CPU},
		{"quick", no_argument, NULL, OPT_QUICK},
		{"json", no_argument, NULL, OPT_JSON},
		{"check", no_argument, NULL, OPT_CHECK},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t rounds = 0, runs = 0;
	int c;
	o->hunts = 1000;
	o->players = 100;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = 0;
		switch (c) {
		case OPT_HUNTS:
			r = bench_parse_count(CMD, "--hunts", optarg, 1, 60000, &o->hunts);
			break;
		case OPT_PLAYERS:
			r = bench_parse_count(CMD, "--players", optarg, 1, 1000, &o->players);
			break;
		case OPT_ROUNDS:
			r = bench_parse_count(CMD, "--rounds", optarg, 1, 10000, &rounds);
			break;
		case OPT_RUNS:
			r = bench_parse_count(CMD, "--runs", optarg, 1, STATS_MAX_VALUES, &runs);
			break;
		case OPT_WRITER_CPU:
			r = bench_parse_cpu(CMD, "--writer-cpu", optarg, &o->writer_cpu);
			break;
		case OPT_READER_CPU:
			r = bench_parse_cpu(CMD, "--reader-cpu", optarg, &o->reader_cpu);
			break;
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case 'h':
			usage(stdout);
			exit(BENCH_OK);
		default:
			return bench_usage_hint(CMD);
		}
		if (r < 0) {
			return bench_usage_hint(CMD);
		}
	}
	if (optind < argc) {
		bench_error(CMD, "unexpected argument '%s'", argv[optind]);
		return bench_usage_hint(CMD);
	}
	if (o->hunts * o->players > 500000) {
		bench_error(CMD, "--hunts x --players is at most 500000 (the engine holds 1 Mi "
				 "entities, and the claim row places a clue per player)");
		return bench_usage_hint(CMD);
	}
	o->rounds = rounds ? rounds : o->quick ? 5 : 20;
	o->runs = runs ? runs : o->quick ? 3 : 7;
	return 0;
}

/* Chooses the CPUs of the writer (this process) and the reader. Returns 0 or BENCH_USAGE. */
static int choose_cpus(const struct machine *m, struct engine_opts *o)
{
	int r = bench_choose_cpus(CMD, m, "--writer-cpu", &o->writer_cpu, "--reader-cpu",
				  &o->reader_cpu);
	if (r) {
		return r;
	}
	if (m->usable_count < 2) {
		char cpus[256];
		machine_format_cpus(&m->usable, cpus, sizeof(cpus));
		bench_progress("engine: only one CPU is usable here (%s): writer and reader run "
			       "unpinned and share it; the seqlock row then measures sharing a "
			       "CPU, not cache traffic",
			       cpus);
	} else if (o->writer_cpu == o->reader_cpu) {
		bench_progress("engine: warning: writer and reader share CPU %d: the seqlock row "
			       "then measures time slicing, not cache traffic",
			       o->writer_cpu);
	}
	return 0;
}

/* ---- the engine and its traffic ---- */

/* One engine with its players, and the ingress clock the benchmark gives it. */
struct world {
	struct cairn__engine *e;
	struct game g;
	uint64_t now;
	struct cairn_msg *cmds; /* a round of commands */
	uint32_t *clue_ids;     /* a round of clues */
	uint8_t blob[BLOB_BYTES] __attribute__((aligned(64)));
	struct cairn__blob arena;
};

/* Applies one command outside a timed section; says why when it fails. */
static int apply_setup(struct world *w, struct cairn_msg *cmd, struct cairn_msg *out,
		       const char *what)
{
	int rc = cairn__engine_apply(w->e, cmd, w->now, &w->arena, out);
	if (rc < 0) {
		const char *name = cairn_error_name(-rc);
		bench_error(CMD, "%s failed: %s (%s)", what, cairn_strerror(rc), name ? name : "?");
		return rc;
	}
	return 0;
}

/*
 * Creates an engine (grid and events in the given memory, or private when NULL) with
 * the hunts and players of the options, joined, in a shuffled visiting order.
 */
static int world_new(struct world *w, const struct engine_opts *o, const struct cairn__map *map,
		     const struct cairn__engine_config *cfg, void *grid, void *events)
{
	struct cairn_msg cmd, out;
	memset(w, 0, sizeof(*w));
	w->now = FIRST_STAMP_NS;
	w->arena = (struct cairn__blob){w->blob, sizeof(w->blob)};
	int r = cairn__engine_new(cfg, grid, events, NULL, &w->e);
	if (r < 0) {
		bench_error(CMD, "cannot create an engine: %s", cairn_strerror(r));
		return r;
	}
	r = game_init(&w->g, map, CAIRN_DEFAULT_CELL_MM, (uint32_t)o->hunts, (uint32_t)o->players,
		      STEP_MM, 42);
	w->cmds = calloc(w->g.nplayers, sizeof(w->cmds[0]));
	w->clue_ids = calloc(w->g.nplayers, sizeof(w->clue_ids[0]));
	if (r < 0 || !w->cmds || !w->clue_ids) {
		bench_error(CMD, "out of memory for %u players", w->g.nplayers);
		return -ENOMEM;
	}
	for (uint32_t h = 0; h < w->g.nhunts; h++) {
		cairn_msg_hunt_create(&cmd,
				      &(struct cairn_hunt_params){.speed_limit_mm_s = SPEED_MM_S});
		if ((r = apply_setup(w, &cmd, &out, "HUNT_CREATE")) < 0) {
			return r;
		}
		struct cairn_hunt_created hc;
		memcpy(&hc, out.payload, sizeof(hc));
		game_set_hunt(&w->g, h, hc.hunt_id);
	}
	for (uint32_t i = 0; i < w->g.nplayers; i++) {
		struct game_player *p = &w->g.players[i];
		cairn_msg_join(&cmd, p->hunt_id, p->x, p->y);
		if ((r = apply_setup(w, &cmd, &out, "JOIN")) < 0) {
			return r;
		}
		struct cairn_joined j;
		memcpy(&j, out.payload, sizeof(j));
		p->player_id = j.player_id;
	}
	game_shuffle(&w->g);
	return 0;
}

static void world_free(struct world *w)
{
	cairn__engine_free(w->e);
	game_free(&w->g);
	free(w->cmds);
	free(w->clue_ids);
	memset(w, 0, sizeof(*w));
}

/* Builds the next round of moves (every player once) and advances the ingress clock. */
static void build_moves(struct world *w)
{
	w->now += ROUND_NS;
	for (uint32_t i = 0; i < w->g.nplayers; i++) {
		game_next_move(&w->g, &w->cmds[i]);
	}
}

/* Places a clue where each move of the round built last will land. Untimed. */
static int place_clues_on_moves(struct world *w)
{
	struct cairn_msg cmd, out;
	for (uint32_t i = 0; i < w->g.nplayers; i++) {
		struct cairn_move m;
		memcpy(&m, w->cmds[i].payload, sizeof(m));
		cairn_msg_clue_place(&cmd, m.hunt_id, m.x, m.y, 10);
		int r = apply_setup(w, &cmd, &out, "CLUE_PLACE");
		if (r < 0) {
			return r;
		}
		struct cairn_clue_placed cp;
		memcpy(&cp, out.payload, sizeof(cp));
		w->clue_ids[i] = cp.clue_id;
	}
	return 0;
}

static int remove_clues(struct world *w)
{
	struct cairn_msg cmd, out;
	for (uint32_t i = 0; i < w->g.nplayers; i++) {
		struct cairn_move m;
		memcpy(&m, w->cmds[i].payload, sizeof(m));
		cairn_msg_clue_remove(&cmd, m.hunt_id, w->clue_ids[i]);
		int r = apply_setup(w, &cmd, &out, "CLUE_REMOVE");
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

/* Builds a round of NEAREST_CLUES queries, one from each player's position. */
static void build_queries(struct world *w)
{
	for (uint32_t i = 0; i < w->g.nplayers; i++) {
		const struct game_player *p = &w->g.players[i];
		game_msg_nearest(&w->cmds[i], p->hunt_id, p->x, p->y, QUERY_K, 0,
				 QUERY_K * (uint32_t)sizeof(struct cairn_hit));
	}
}

/*
 * Applies the round in w->cmds: the timed section. Returns the elapsed ns, or 0 after
 * saying which command failed. With lat, each command is timed alone into lat[i].
 */
static uint64_t apply_round(struct world *w, uint64_t *lat)
{
	struct cairn_msg out;
	uint32_t n = w->g.nplayers;
	int bad = 0;
	uint32_t bad_at = 0;
	uint64_t t0 = cairn__now_ns();
	if (lat) {
		for (uint32_t i = 0; i < n; i++) {
			uint64_t a = cairn__now_ns();
			int rc = cairn__engine_apply(w->e, &w->cmds[i], w->now, &w->arena, &out);
			lat[i] = cairn__now_ns() - a;
			if (rc < 0 && !bad) {
				bad = rc;
				bad_at = i;
			}
		}
	} else {
		for (uint32_t i = 0; i < n; i++) {
			int rc = cairn__engine_apply(w->e, &w->cmds[i], w->now, &w->arena, &out);
			if (__builtin_expect(rc < 0, 0) && !bad) {
				bad = rc;
				bad_at = i;
			}
		}
	}
	uint64_t t1 = cairn__now_ns();
	if (bad) {
		const char *name = cairn_error_name(-bad);
		bench_error(CMD, "command %u of a round (type %u) was refused: %s (%s)", bad_at,
			    w->cmds[bad_at].hdr.type, cairn_strerror(bad), name ? name : "?");
		return 0;
	}
	return t1 - t0 ? t1 - t0 : 1;
}

/* The kinds of rows, each a round of one kind of command. */
enum row_kind { ROW_MOVE, ROW_CLAIM, ROW_QUERY };

/* One round of kind k: its untimed preparation, the timed apply, the untimed cleanup. */
static uint64_t round_of(struct world *w, enum row_kind k, uint64_t *lat)
{
	if (k == ROW_QUERY) {
		build_queries(w);
		return apply_round(w, lat);
	}
	build_moves(w);
	if (k == ROW_CLAIM && place_clues_on_moves(w) < 0) {
		return 0;
	}
	uint64_t ns = apply_round(w, lat);
	if (ns && k == ROW_CLAIM && remove_clues(w) < 0) {
		return 0;
	}
	return ns;
}

/* Runs of rounds of kind k; v[run] gets commands per second. Returns 0 or -1. */
static int measure_runs(struct world *w, const struct engine_opts *o, enum row_kind k, double *v)
{
	for (uint64_t run = 0; run < o->runs; run++) {
		uint64_t ns = 0;
		for (uint64_t r = 0; r < o->rounds; r++) {
			uint64_t t = round_of(w, k, NULL);
			if (!t) {
				return -1;
			}
			ns += t;
		}
		v[run] = (double)o->rounds * w->g.nplayers * 1e9 / (double)ns;
	}
	return 0;
}

/* Adds a throughput row: median, min, max over the runs, and every run in JSON. */
static double throughput_row(struct report *rep, unsigned table, const char *name,
			     const struct engine_opts *o, uint32_t per_round, const double *v,
			     uint64_t nruns)
{
	double med, min, max;
	stats_median_min_max(v, nruns, &med, &min, &max);
	struct report_row *row = report_row(rep, table, name);
	report_field(row, "runs", "runs", REPORT_COUNT, (double)nruns);
	report_field(row, "commands_per_run", "commands/run", REPORT_COUNT,
		     (double)o->rounds * per_round);
	report_field(row, "median_per_s", "median", REPORT_PER_S, med);
	report_field(row, "min_per_s", "min", REPORT_PER_S, min);
	report_field(row, "max_per_s", "max", REPORT_PER_S, max);
	report_field(row, "ns_per_command_at_median", "ns/command", REPORT_NS, 1e9 / med);
	row->series_key = "runs_per_s";
	row->nseries = (unsigned)nruns;
	memcpy(row->series, v, nruns * sizeof(v[0]));
	return med;
}

/* ---- the reader process ---- */

/*
 * Shared by the writer (this process) and the reader it forks, in an anonymous shared
 * page. The writer's flags and the reader's counters sit on separate cache lines, so
 * that the control traffic itself never touches a line the other side writes in a loop.
 */
struct reader_ctl {
	uint32_t go;   /* writer: what the reader is to do, an enum reader_mode */
	uint32_t stop; /* writer: 1 when the reader is to exit */
	uint8_t _pad0[56];
	uint64_t reads;    /* reader: neighbourhoods read (a hunt record, then blocks) */
	uint64_t blocks;   /* reader: blocks read whole, with their entities */
	uint64_t entities; /* reader: entity records copied out */
	uint64_t retries;  /* reader: block reads retried because a write overlapped */
	uint64_t gave_up;  /* reader: reads abandoned after READ_TRIES (a write stayed open) */
	uint32_t ready;    /* reader: pinned and waiting */
	uint8_t _pad1[20];
	char error[256];
};

/*
 * What the reader process does during a run: nothing (asleep, its CPU idle), spin on
 * its own memory (its CPU busy, the grid untouched: the control), or hammer the grid.
 */
enum reader_mode { READER_IDLE, READER_READ, READER_SPIN };

/* Reads one hunt record under its seqlock; false when it kept changing. */
static bool read_hunt(const struct cairn_hunt_info *hi, struct cairn_hunt_info *out)
{
	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint64_t s = cairn__seq_read_begin(&hi->seq);
		cairn__seq_copy_out(out, hi, sizeof(*out));
		if (cairn__seq_read_ok(&hi->seq, s)) {
			return true;
		}
		cairn__cpu_relax();
	}
	return false;
}

/*
 * Reads block b of a hunt whole, with its players and clues, under its shard's seqlock,
 * as a client's rect read does: the writer may change the lists meanwhile, so every
 * link is bounds-checked and the copy is thrown away unless the seq stayed even and
 * unchanged. Returns the entities copied, or -1 when it kept changing.
 */
static int read_block(const uint8_t *grid, uint64_t grid_size, const struct cairn_grid_header *gh,
		      const struct cairn_hunt_info *h, uint32_t b, struct cairn_entity *buf,
		      uint64_t *retries)
{
	uint64_t shard_off = h->shards_offset + (uint64_t)(b % h->shards) * 64;
	uint64_t block_off = h->blocks_offset + (uint64_t)b * 64;
	if (shard_off + 64 > grid_size || block_off + 64 > grid_size) {
		return 0;
	}
	const struct cairn_shard *sh = (const void *)(grid + shard_off);
	const struct cairn_block *bl = (const void *)(grid + block_off);
	const struct cairn_entity *ents = (const void *)(grid + gh->entities_offset);
	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint64_t s = cairn__seq_read_begin(&sh->seq);
		if (s & 1) {
			(*retries)++;
			cairn__cpu_relax();
			continue;
		}
		struct cairn_block copy;
		cairn__seq_copy_out(&copy, bl, sizeof(copy));
		unsigned n = 0;
		uint32_t heads[2] = {copy.first_player, copy.first_clue};
		for (int list = 0; list < 2; list++) {
			for (uint32_t e = heads[list];
			     e && e <= gh->max_entities && n < READER_MAX_ENTS;) {
				cairn__seq_copy_out(&buf[n], &ents[e - 1], sizeof(buf[n]));
				e = buf[n].next;
				n++;
			}
		}
		if (cairn__seq_read_ok(&sh->seq, s)) {
			return (int)n;
		}
		(*retries)++;
	}
	return -1;
}

/*
 * Notes that a read gave up because a write section stayed open: the writer may have
 * been preempted in the middle of one (other processes share its CPU), which a client
 * answers with -EAGAIN and a retry later, and so does the reader. Only when nothing
 * could be read for STUCK_NS does it stop, saying so.
 */
static void gave_up(struct reader_ctl *ctl, uint64_t *count, uint64_t *stuck_since,
		    const char *what)
{
	uint64_t now = cairn__now_ns();
	(*count)++;
	if (*stuck_since == 0) {
		*stuck_since = now;
	} else if (now - *stuck_since > STUCK_NS) {
		snprintf(ctl->error, sizeof(ctl->error),
			 "every read of %s gave up for %.0f s: the writer seems stuck in a "
			 "write section",
			 what, STUCK_NS / 1e9);
		_exit(1);
	}
}

/* The reader's loop: until told to stop, do what go says (enum reader_mode). */
static void reader_main(struct reader_ctl *ctl, const uint8_t *grid, uint64_t grid_size,
			uint32_t nhunts, int cpu)
{
	static struct cairn_entity buf[READER_MAX_ENTS];
	struct cairn_grid_header gh;
	uint64_t rng = 0x853C49E6748FEA9Bull;
	if (cpu >= 0 && machine_pin_self(cpu) < 0) {
		snprintf(ctl->error, sizeof(ctl->error), "cannot pin the reader to CPU %d", cpu);
		_exit(1);
	}
	/* The header's offsets never change once the engine exists: read them once. */
	memcpy(&gh, grid, sizeof(gh));
	const struct cairn_hunt_info *hunts = (const void *)(grid + gh.hunts_offset);
	cairn__store_release(&ctl->ready, 1);
	uint64_t reads = 0, blocks = 0, entities = 0, retries = 0, given_up = 0, stuck = 0;
	while (!cairn__load_acquire(&ctl->stop)) {
		uint32_t mode = cairn__load_relaxed(&ctl->go);
		if (mode == READER_IDLE) {
			struct timespec ts = {.tv_nsec = 200 * 1000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (mode == READER_SPIN) {
			for (int i = 0; i < 1000; i++) {
				cairn__cpu_relax();
			}
			if ((++reads & 63) == 0) {
				cairn__store_relaxed(&ctl->reads, reads);
			}
			continue;
		}
		rng ^= rng >> 12;
		rng ^= rng << 25;
		rng ^= rng >> 27;
		uint64_t x = rng * 0x2545F4914F6CDD1Dull;
		struct cairn_hunt_info h;
		if (!read_hunt(&hunts[(x >> 32) % nhunts], &h)) {
			gave_up(ctl, &given_up, &stuck, "hunt records");
			continue;
		}
		if (h.id == 0 || h.blocks_x == 0 || h.blocks_y == 0 || h.shards == 0) {
			continue;
		}
		int64_t cx = (int64_t)((x >> 8) & 0xffffff) % h.blocks_x;
		int64_t cy = (int64_t)(x & 0xff) % h.blocks_y;
		for (int64_t by = cy - READER_SPAN; by <= cy + READER_SPAN; by++) {
			for (int64_t bx = cx - READER_SPAN; bx <= cx + READER_SPAN; bx++) {
				if (bx < 0 || by < 0 || bx >= h.blocks_x || by >= h.blocks_y) {
					continue;
				}
				int n = read_block(grid, grid_size, &gh, &h,
						   (uint32_t)(by * h.blocks_x + bx), buf, &retries);
				if (n < 0) {
					gave_up(ctl, &given_up, &stuck, "blocks");
					continue;
				}
				stuck = 0;
				blocks++;
				entities += (uint64_t)n;
			}
		}
		/* Published every 64 reads: its own cache line, read by the writer between runs. */
		if ((++reads & 63) == 0) {
			cairn__store_relaxed(&ctl->reads, reads);
			cairn__store_relaxed(&ctl->blocks, blocks);
			cairn__store_relaxed(&ctl->entities, entities);
			cairn__store_relaxed(&ctl->retries, retries);
			cairn__store_relaxed(&ctl->gave_up, given_up);
		}
	}
	_exit(0);
}

/* Sets the reader's mode and waits until it is seen at work. Returns 0 or -ETIMEDOUT. */
static int reader_start(struct reader_ctl *ctl, enum reader_mode mode)
{
	uint64_t before = cairn__load_relaxed(&ctl->reads);
	uint64_t deadline = cairn__now_ns() + WAIT_NS;
	cairn__store_release(&ctl->go, mode);
	while (cairn__load_relaxed(&ctl->reads) == before) {
		if (cairn__now_ns() > deadline) {
			return -ETIMEDOUT;
		}
		sched_yield();
	}
	return 0;
}

/* What the reader did over one timed run. */
struct reader_sample {
	uint64_t reads, blocks, entities, retries, gave_up, ns;
};

static void reader_sample(const struct reader_ctl *ctl, struct reader_sample *s)
{
	/* Relaxed: the reader publishes each counter whole; a recent value is enough. */
	s->reads = cairn__load_relaxed(&ctl->reads);
	s->blocks = cairn__load_relaxed(&ctl->blocks);
	s->entities = cairn__load_relaxed(&ctl->entities);
	s->retries = cairn__load_relaxed(&ctl->retries);
	s->gave_up = cairn__load_relaxed(&ctl->gave_up);
	s->ns = cairn__now_ns();
}

/* ---- the seqlock interference rows ---- */

struct interference {
	double without[STATS_MAX_VALUES]; /* READER_IDLE */
	double spin[STATS_MAX_VALUES];    /* READER_SPIN */
	double with[STATS_MAX_VALUES];    /* READER_READ */
	struct reader_sample rs;          /* summed over the runs with the reader */
	pid_t reader;
	char reader_cpus[64];
};

/* One run of MOVE rounds; v gets moves per second. */
static int move_run(struct world *w, const struct engine_opts *o, double *v)
{
	uint64_t ns = 0;
	for (uint64_t r = 0; r < o->rounds; r++) {
		uint64_t t = round_of(w, ROW_MOVE, NULL);
		if (!t) {
			return -1;
		}
		ns += t;
	}
	*v = (double)o->rounds * w->g.nplayers * 1e9 / (double)ns;
	return 0;
}

/*
 * The shared engine and its reader: runs rotate over the three reader modes, in an
 * order that reverses every round, so that a drift of the machine over the runs falls
 * on all three alike.
 */
static int measure_interference(const struct engine_opts *o, const struct cairn__map *map,
				struct interference *it)
{
	struct cairn__engine_config cfg;
	struct world w;
	int fd = -1, rc = -1;
	void *mem = NULL;
	struct reader_ctl *ctl = MAP_FAILED;
	const struct cairn__map *maps[1] = {map};

	cairn__engine_config_default(&cfg);
	cfg.maps = maps;
	cfg.n_maps = 1;
	uint64_t grid_size = cairn__engine_grid_size(&cfg);
	uint64_t size = grid_size + cairn__engine_events_size(&cfg);
	int r = cairn__memfd_new("cairn-bench-grid", size, &fd);
	if (r == 0) {
		r = cairn__map(fd, size, true, &mem);
	}
	if (r < 0) {
		bench_error(CMD, "cannot create a %llu-byte memfd for the grid: %s",
			    (unsigned long long)size, strerror(-r));
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	close(fd);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		bench_error(CMD, "mmap: %s", strerror(errno));
		munmap(mem, size);
		return -1;
	}
	memset(ctl, 0, sizeof(*ctl));
	bench_progress("engine: seqlock rows: setting up %llu x %llu players in a MAP_SHARED "
		       "memfd...",
		       (unsigned long long)o->hunts, (unsigned long long)o->players);
	if (world_new(&w, o, map, &cfg, mem, (uint8_t *)mem + grid_size) < 0) {
		goto out;
	}
	fflush(stdout);
	fflush(stderr);
	it->reader = fork();
	if (it->reader < 0) {
		bench_error(CMD, "fork: %s", strerror(errno));
		goto out;
	}
	if (it->reader == 0) {
		proc_reset_child();
		reader_main(ctl, mem, grid_size, (uint32_t)o->hunts, o->reader_cpu);
	}
	uint64_t deadline = cairn__now_ns() + WAIT_NS;
	while (!cairn__load_acquire(&ctl->ready) && cairn__now_ns() < deadline) {
		sched_yield();
	}
	char name[32];
	if (machine_thread_cpus(it->reader, it->reader, it->reader_cpus, sizeof(it->reader_cpus),
				name, sizeof(name)) < 0) {
		snprintf(it->reader_cpus, sizeof(it->reader_cpus), "unknown");
	}
	/* A round to warm the writer's caches, then the runs. */
	if (!round_of(&w, ROW_MOVE, NULL)) {
		goto out;
	}
	for (uint64_t run = 0; run < 3 * o->runs; run++) {
		/* Idle, spin, read, then read, spin, idle, ...: a drift falls on all alike. */
		uint64_t k = run / 3, pos = run % 3;
		enum reader_mode mode = (enum reader_mode[]){READER_IDLE, READER_SPIN,
							     READER_READ}[k % 2 ? 2 - pos : pos];
		if (mode == READER_IDLE) {
			r = move_run(&w, o, &it->without[k]);
		} else if (reader_start(ctl, mode) < 0) {
			bench_error(CMD, "the reader did not start within 5 s%s%s",
				    ctl->error[0] ? ": " : "", ctl->error);
			goto out;
		} else if (mode == READER_SPIN) {
			r = move_run(&w, o, &it->spin[k]);
			cairn__store_release(&ctl->go, READER_IDLE);
		} else {
			struct reader_sample a, b;
			reader_sample(ctl, &a);
			r = move_run(&w, o, &it->with[k]);
			reader_sample(ctl, &b);
			cairn__store_release(&ctl->go, READER_IDLE);
			it->rs.reads += b.reads - a.reads;
			it->rs.blocks += b.blocks - a.blocks;
			it->rs.entities += b.entities - a.entities;
			it->rs.retries += b.retries - a.retries;
			it->rs.gave_up += b.gave_up - a.gave_up;
			it->rs.ns += b.ns - a.ns;
		}
		if (r < 0) {
			goto out;
		}
		/* The reader sees the new mode within one read; let it settle. */
		struct timespec ts = {.tv_nsec = 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	rc = 0;
out:
	if (ctl != MAP_FAILED) {
		cairn__store_release(&ctl->stop, 1);
		if (it->reader > 0) {
			pid_t pid = it->reader;
			int status = 0;
			if (proc_wait(&pid, &status, 1, cairn__now_ns() + WAIT_NS, 0) < 0) {
				proc_kill(it->reader);
				bench_error(CMD, "the reader did not exit; killed it");
				rc = -1;
			} else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
				char how[96];
				proc_describe(status, how, sizeof(how));
				bench_error(CMD, "the reader %s%s%s", how,
					    ctl->error[0] ? ": " : "", ctl->error);
				rc = -1;
			}
		}
		munmap(ctl, sizeof(*ctl));
	}
	world_free(&w);
	munmap(mem, size);
	return rc;
}

int bench_engine_main(int argc, char **argv)
{
	static struct report rep;
	static struct engine_opts o;
	static struct interference it;
	static double v[STATS_MAX_VALUES];
	struct machine m;
	struct world w;
	struct cairn__map *map = NULL;
	struct cairn__engine_config cfg;
	uint64_t *lat = NULL;
	int ret = BENCH_FAIL;

	o = (struct engine_opts){.writer_cpu = -1, .reader_cpu = -1};
	int r = parse_args(argc, argv, &o);
	if (r) {
		return r;
	}
	r = machine_probe(&m);
	if (r < 0) {
		bench_error(CMD, "cannot read this process's CPU affinity: %s", strerror(-r));
		return BENCH_FAIL;
	}
	r = choose_cpus(&m, &o);
	if (r) {
		return r;
	}
	report_init(&rep, CMD, "the game engine in-process: no daemon, no rings", &m);
	if (o.writer_cpu >= 0 && (r = machine_pin_self(o.writer_cpu)) < 0) {
		bench_error(CMD, "cannot pin to CPU %d: %s", o.writer_cpu, strerror(-r));
		return BENCH_FAIL;
	}
	r = cairn__map_default(&map);
	if (r < 0) {
		bench_error(CMD, "cannot build the embedded map: %s", cairn_strerror(r));
		return BENCH_FAIL;
	}
	const struct cairn__map *maps[1] = {map};
	cairn__engine_config_default(&cfg);
	cfg.maps = maps;
	cfg.n_maps = 1;

	uint32_t nplayers = (uint32_t)(o.hunts * o.players);
	lat = malloc((size_t)nplayers * sizeof(lat[0]));
	if (!lat) {
		bench_error(CMD, "out of memory");
		goto out_map;
	}
	memset(lat, 0xff, (size_t)nplayers * sizeof(lat[0]));

	if (o.writer_cpu >= 0) {
		report_placement(&rep, "engine (the writer, this process)",
				 "CPU %d (pinned; where cairnd's apply thread runs with --cpu %d)",
				 o.writer_cpu, o.writer_cpu);
	} else {
		report_placement(&rep, "engine (the writer, this process)",
				 "not pinned (one usable CPU)");
	}
	report_param_str(&rep, "map", "map", "%s, %ux%u cells of %u mm, %u passable", map->name,
			 map->width, map->height, CAIRN_DEFAULT_CELL_MM, map->passable);
	report_param_str(&rep, "world", "world",
			 "%llu hunts x %llu players, %u shards per hunt, default engine limits",
			 (unsigned long long)o.hunts, (unsigned long long)o.players,
			 cfg.shards_per_hunt);
	report_param_str(&rep, "moves", "moves",
			 "a random walk of up to %d mm per axis onto passable cells; every "
			 "player once per round, in one shuffled order across hunts",
			 STEP_MM);
	report_param_str(&rep, "speed", "speed limit",
			 "%u mm/s, checked: the benchmark stamps each round %llu ms after the "
			 "last",
			 SPEED_MM_S, ROUND_NS / 1000000);
	report_param_num(&rep, "rounds_per_run", "rounds per run", (double)o.rounds);
	report_param_num(&rep, "runs", "runs per row", (double)o.runs);
	report_param_str(&rep, "timing", "timing",
			 "only cairn__engine_apply is timed; commands are built before");
	report_param_str(&rep, "mode", "mode", "%s", o.quick ? "quick" : "full");

	unsigned thr = report_table(&rep, "engine throughput", true);
	unsigned latt = report_table(&rep, "apply latency, each timed alone", true);
	unsigned seq = report_table(&rep, "seqlock interference", true);
	unsigned rdr = report_table(&rep, "reader process", true);

	bench_progress("engine: setting up %llu hunts x %llu players...",
		       (unsigned long long)o.hunts, (unsigned long long)o.players);
	if (world_new(&w, &o, map, &cfg, NULL, NULL) < 0) {
		world_free(&w);
		goto out_map;
	}
	struct cairn_engine_counters *ec = cairn__engine_counters(w.e);

	/* A warm-up round, then the rows. */
	static const struct {
		enum row_kind kind;
		const char *name;
	} rows[] = {
		{ROW_MOVE, "MOVE, no clue in reach"},
		{ROW_CLAIM, "MOVE claiming a clue (every move)"},
		{ROW_QUERY, "NEAREST_CLUES k=8"},
	};
	struct latency_summary ls[3];
	uint64_t claims0 = 0, claims1 = 0, lost = 0;
	for (unsigned i = 0; i < 3; i++) {
		if (rows[i].kind == ROW_QUERY) {
			/* QUERY_CLUES clues per hunt at random spots, untimed. */
			struct cairn_msg cmd, out;
			for (uint32_t h = 0; h < w.g.nhunts; h++) {
				for (uint32_t q = 0; q < QUERY_CLUES; q++) {
					int32_t x, y;
					game_random_spot(&w.g, &x, &y);
					cairn_msg_clue_place(&cmd, w.g.hunt_ids[h], x, y, 1);
					if (apply_setup(&w, &cmd, &out, "CLUE_PLACE") < 0) {
						goto out_world;
					}
				}
			}
		}
		bench_progress("engine: %s: %llu runs of %llu rounds...", rows[i].name,
			       (unsigned long long)o.runs, (unsigned long long)o.rounds);
		if (rows[i].kind == ROW_CLAIM) {
			claims0 = ec->claims;
			lost = ec->lost;
		}
		if (!round_of(&w, rows[i].kind, NULL) ||
		    measure_runs(&w, &o, rows[i].kind, v) < 0 || !round_of(&w, rows[i].kind, lat)) {
			goto out_world;
		}
		if (rows[i].kind == ROW_CLAIM) {
			claims1 = ec->claims;
			lost = ec->lost - lost;
		}
		throughput_row(&rep, thr, rows[i].name, &o, nplayers, v, o.runs);
		stats_summarize(lat, nplayers, &ls[i]);
	}
	for (unsigned i = 0; i < 3; i++) {
		report_latency_row(&rep, latt, rows[i].name, &ls[i]);
	}
	uint64_t claim_moves = (o.runs * o.rounds + 2) * nplayers;
	report_line(&rep,
		    "claim row: %llu of %llu moves claimed the clue placed on their target "
		    "(%llu reached one already claimed); clues are placed before and removed "
		    "after each round, untimed",
		    (unsigned long long)(claims1 - claims0), (unsigned long long)claim_moves,
		    (unsigned long long)lost);
	report_line(&rep,
		    "query row: %u clues per hunt at random passable spots; k=%u nearest "
		    "unclaimed, from each player's position, answer written to a %u-byte arena",
		    QUERY_CLUES, QUERY_K, BLOB_BYTES);
	report_line(&rep,
		    "engine counters: %llu moves accepted, %llu claims, %llu commands "
		    "rejected (every result is checked; a refused command stops the benchmark)",
		    (unsigned long long)ec->moves, (unsigned long long)ec->claims,
		    (unsigned long long)ec->rejected);
	report_line(&rep, "latency rows: one round each, every command between two "
			  "clock_gettime calls (~16-20 ns of the figure).\n");
	world_free(&w);

	/* The seqlock rows, on a second engine whose grid is shared with the reader. */
	bench_progress("engine: seqlock interference: %llu runs each with no reader, a "
		       "spinning one and a reading one...",
		       (unsigned long long)o.runs);
	if (measure_interference(&o, map, &it) < 0) {
		goto out_map;
	}
	double without = throughput_row(&rep, seq, "MOVE, no reader (its CPU idle)", &o, nplayers,
					it.without, o.runs);
	double spin = throughput_row(&rep, seq, "MOVE, reader spinning on its own memory", &o,
				     nplayers, it.spin, o.runs);
	double with = throughput_row(&rep, seq, "MOVE, reader hammering the grid", &o, nplayers,
				     it.with, o.runs);
	double drop = (1 - with / without) * 100, drop_spin = (1 - with / spin) * 100;
	struct report_row *row = report_row(&rep, seq, "hammering / no reader");
	report_field(row, "ratio", "ratio", REPORT_RATIO, with / without);
	report_field(row, "drop_percent", "drop", REPORT_PERCENT, drop);
	row = report_row(&rep, seq, "hammering / spinning");
	report_field(row, "ratio", "ratio", REPORT_RATIO, with / spin);
	report_field(row, "drop_percent", "drop", REPORT_PERCENT, drop_spin);

	double secs = (double)it.rs.ns / 1e9;
	row = report_row(&rep, rdr, "reader, while the writer ran");
	report_field(row, "neighbourhoods_per_s", "reads", REPORT_PER_S,
		     (double)it.rs.reads / secs);
	report_field(row, "blocks_per_s", "blocks", REPORT_PER_S, (double)it.rs.blocks / secs);
	report_field(row, "entities_per_s", "entities", REPORT_PER_S,
		     (double)it.rs.entities / secs);
	report_field(row, "retries", "retries", REPORT_COUNT, (double)it.rs.retries);
	report_field(row, "retry_percent", "retried", REPORT_PERCENT,
		     it.rs.blocks ? (double)it.rs.retries * 100 / (double)it.rs.blocks : NAN);
	report_field(row, "gave_up", "gave up", REPORT_COUNT, (double)it.rs.gave_up);
	char wbuf[32], sbuf[32];
	report_format(REPORT_PERCENT, drop, wbuf, sizeof(wbuf));
	report_format(REPORT_PERCENT, drop_spin, sbuf, sizeof(sbuf));
	report_line(&rep,
		    "seqlock: the writer applies MOVEs to a grid in a MAP_SHARED memfd while a "
		    "forked reader reads a random hunt's record, then %dx%d blocks around a",
		    2 * READER_SPAN + 1, 2 * READER_SPAN + 1);
	report_line(&rep, "  random point with their players and clues, each under its "
			  "shard's seqlock, as fast as it can; runs rotate over the three rows.");
	report_line(&rep,
		    "  Drop with the reader hammering: %s against no reader (the target), %s "
		    "against the same process spinning on its own memory, which",
		    wbuf, sbuf);
	report_line(&rep, "  separates the cache traffic on the grid from what a busy second "
			  "CPU does to this one (on a VM, an idle vCPU can cost the busy one).");
	if (o.reader_cpu >= 0) {
		char who[64];
		snprintf(who, sizeof(who), "reader process (pid %d)", (int)it.reader);
		report_placement(&rep, who, "CPU %s (pinned)", it.reader_cpus);
	} else {
		report_placement(&rep, "reader process", "not pinned (one usable CPU)");
	}

	report_target(&rep, "MOVE throughput drop with a reader", REPORT_PERCENT, REPORT_BELOW,
		      TARGET_DROP_PCT, drop, true);
	report_print(&rep, stdout, o.json);
	ret = report_missed(&rep, o.check) && o.check ? BENCH_FAIL : BENCH_OK;
	goto out_map;
out_world:
	world_free(&w);
out_map:
	free(lat);
	cairn__map_free(map);
	return ret;
}
