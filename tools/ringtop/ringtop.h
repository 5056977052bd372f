/*
 * ringtop: a live view of a running cairnd in the manner of top, from the state segment
 * mapped read-only. Nothing here writes to the daemon or takes a lane.
 *
 *   sample.c  reads one sample of the segment, and the rates between two samples
 *   text.c    the figures as text: numbers, the header lines, the lane table, JSON
 *   screen.c  the ncurses screen: keys, sorting, the filter, histograms, resizes
 *   ringtop.c flags, --once, the connection and the daemon's end
 */
#ifndef CAIRN_TOOLS_RINGTOP_H
#define CAIRN_TOOLS_RINGTOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cairn/protocol.h"
#include "client/observe.h"

/* One attached lane as read at one moment. */
struct rt_lane {
	uint32_t id;
	/* Identity, read under the record's seq. */
	uint64_t client_id;
	uint64_t attached_ns;
	uint64_t session_id;
	int32_t pid;
	uint32_t uid, gid;
	uint32_t cmd_capacity, res_capacity;
	char name[CAIRN_NAME_SIZE + 1]; /* printable ASCII only */
	/* Counters of the lane slot (they keep growing across the slot's clients). */
	uint64_t commands, results, errors, full, wakes;
	uint64_t cmd_pushed, res_popped;
	uint64_t wait_ns_sum;
	uint32_t held, solving;
	uint64_t wait_hist[CAIRN_HIST_BUCKETS];
};

/* The segment at one moment. Lanes are those with a client, by ascending id. */
struct rt_sample {
	uint64_t at_ns; /* our CLOCK_MONOTONIC when read */
	uint32_t daemon_pid, max_lanes, daemon_state;
	int32_t apply_cpu, numa_node;
	uint64_t heartbeat_ns, boot_epoch_ns;
	struct cairn_daemon_counters counters;
	struct cairn_engine_counters engine;
	bool has_grid; /* the daemon has an engine: hunts and entities are known */
	uint32_t hunts, entities;
	bool metrics; /* the daemon keeps metrics (cairnd --metrics on) */
	uint64_t start_ns;
	struct cairn_daemon_metrics dm;
	struct cairn_wal_metrics wal;
	struct rt_lane *lanes;
	uint32_t n_lanes, cap_lanes;
};

/* What changed in one lane between two samples. */
struct rt_lane_rates {
	bool valid;                        /* the earlier sample had the same client on this lane */
	double cmd, res, err, full, wakes; /* per second */
	uint64_t d_commands;
	double p50_ns, p99_ns;             /* < 0: no command waited in the interval */
	uint64_t hist[CAIRN_HIST_BUCKETS]; /* wait_hist over the interval */
};

/* The daemon process's CPU, from two of its own samples (about a second apart). */
struct rt_cpu {
	uint64_t sampled_ns, cpu_ns, apply_ns; /* the latest sample seen */
	double pct, apply_pct;                 /* < 0: unknown yet */
};

/* A sample with the rates since the one before it. */
struct rt_view {
	struct rt_sample cur, prev;
	bool have_prev;
	double dt_s;
	/* Rates per second; meaningful when have_prev. */
	double cmd_s, res_s, err_s, full_s;
	double applied_s, moves_s, claims_s, rejected_s;
	double wal_rec_s, wal_bytes_s, wal_batches_s;
	double sync_p50_ns, sync_p99_ns; /* < 0: no batch in the interval */
	uint64_t sync_hist[CAIRN_HIST_BUCKETS];
	struct rt_cpu cpu;
	struct rt_lane_rates *rates; /* parallel to cur.lanes */
	uint32_t cap_rates;
};

/* ---- sample.c ---- */

/*
 * Reads the segment o maps into *s, growing s->lanes as needed. Returns 0 or -ENOMEM.
 * Never writes to the segment and never blocks the daemon: a lane whose identity the
 * control thread is rewriting is retried a few times, then left out of this sample.
 */
int rt_sample_read(const struct cairn__observed *o, struct rt_sample *s);

/* Frees what rt_sample_read allocated. */
void rt_sample_free(struct rt_sample *s);

/* An empty view: no sample yet. */
void rt_view_init(struct rt_view *v);

/*
 * Takes a new sample into v: the previous one becomes v->prev and the rates are
 * computed between them. Returns 0 or -ENOMEM.
 */
int rt_view_step(struct rt_view *v, const struct cairn__observed *o);

/* Forgets the previous sample (another daemon): the next step starts the rates over. */
void rt_view_reset(struct rt_view *v);

void rt_view_free(struct rt_view *v);

/*
 * The q-quantile (0..1) of a log2 histogram of HIST_BUCKETS buckets, in ns, by linear
 * interpolation inside the bucket that holds it. -1 when the histogram is empty.
 */
double rt_hist_quantile(const uint64_t *hist, double q);

/* The bounds of bucket i in ns: [*lo, *hi); *hi is 0 for the last, open bucket. */
void rt_hist_bounds(unsigned i, uint64_t *lo, uint64_t *hi);

/* ---- text.c ---- */

/* Numbers for narrow columns: 0, 999, 1.23k, 12.3M... (at most 6 characters). */
void rt_fmt_count(char *buf, size_t len, double v);
/* A duration in ns: 850ns, 12.3us, 1.20ms, 3.40s; "-" when ns < 0. */
void rt_fmt_ns(char *buf, size_t len, double ns);
/* Bytes: 512B, 12.3K, 1.20G (binary units). */
void rt_fmt_bytes(char *buf, size_t len, double bytes);
/* A duration in seconds: 42s, 12m03s, 3h12m, 2d04h. */
void rt_fmt_age(char *buf, size_t len, double s);
/* A percentage of a core, or "-" when unknown (< 0). */
void rt_fmt_pct(char *buf, size_t len, double pct);

const char *rt_state_name(uint32_t daemon_state);
const char *rt_backend_name(uint32_t backend);
const char *rt_durability_name(uint32_t durability);

/*
 * Header line `line` of RT_HEADER_LINES, fitted to width characters by leaving out the
 * least important figures (and cut at len - 1).
 */
#define RT_HEADER_LINES 4
void rt_header_line(const struct rt_view *v, double interval_s, unsigned line, int width, char *buf,
		    size_t len);

/* The lane table's columns, in the order shown. */
enum rt_col {
	RT_COL_LANE,
	RT_COL_CLIENT,
	RT_COL_PID,
	RT_COL_NAME,
	RT_COL_AGE,
	RT_COL_CMD,
	RT_COL_RES,
	RT_COL_DEPTH,
	RT_COL_HELD,
	RT_COL_FULL,
	RT_COL_WAKES,
	RT_COL_P50,
	RT_COL_P99,
	RT_COL_TOTAL,
	RT_NCOLS
};

/* Which columns fit in width characters, and how wide each is. */
struct rt_layout {
	bool shown[RT_NCOLS];
	int width[RT_NCOLS];
};

void rt_layout_fit(struct rt_layout *l, int width);
/* The column titles as one line. */
void rt_table_title(const struct rt_layout *l, char *buf, size_t len);
/* Lane i of v as one line. */
void rt_table_row(const struct rt_layout *l, const struct rt_view *v, uint32_t i, char *buf,
		  size_t len);
/* The title of a column, for the sort indicator. */
const char *rt_col_title(enum rt_col c);

/* Sorts the lane indexes idx[0..n) of v by column c, descending unless ascending. */
void rt_sort(const struct rt_view *v, uint32_t *idx, uint32_t n, enum rt_col c, bool ascending);

/* Whether lane i matches filter (a substring of its name or pid; "" matches all). */
bool rt_match(const struct rt_view *v, uint32_t i, const char *filter);

/* The whole view as one JSON object and a newline. */
void rt_print_json(FILE *f, const struct rt_view *v, const char *socket, double interval_s,
		   bool alive);

/* The header and the table as plain text, width columns wide. */
void rt_print_text(FILE *f, const struct rt_view *v, double interval_s, int width);

/* ---- screen.c ---- */

struct rt_options {
	const char *socket; /* NULL: the default */
	double interval_s;
};

/* Runs the live view until q. Returns the exit status. */
int rt_screen_run(struct cairn__observed *o, const struct rt_options *opt);

/* ---- ringtop.c ---- */

/*
 * Why the daemon is not there any more, as a sentence fragment ("it exited"), or NULL
 * while it is alive. stale_ns: the heartbeat age that counts as gone. The string is
 * static: valid until the next call. Not thread-safe.
 */
const char *rt_gone_reason(const struct cairn__observed *o, uint64_t stale_ns);

#define RT_STALE_NS (2000ull * 1000 * 1000)

#endif
