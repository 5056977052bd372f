/*
 * What the demo shows. On a terminal, a block of lines redrawn in place once a second:
 * the whole frame is built in memory and written at once, each line cleared to its end
 * after it is written rather than before, so nothing flickers. Elsewhere (a CI log, a
 * pipe), one plain line a second under a header. Every line fits 80 columns.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

#define SHOWN_HUNTS   8  /* leaderboards in the live frame and the final summary */
#define LINE_MAX_COLS 79 /* printable columns a line may take */
#define BOARD_TIMEOUT 1000000000ll
#define LEADERS       3

/* One hunt's leaders, as the main thread last read them. */
struct demo_board {
	uint32_t count; /* 0..3 */
	uint32_t number[3];
	int64_t score[3];
	int error; /* 0, or why the LEADERBOARD query failed */
};

struct view {
	const struct demo_config *cfg;
	const struct demo_world *w;
	struct demo_stats *stats;
	cairn_client *conn;
	struct demo_board *boards; /* per hunt */
	struct hist total;         /* every round trip so far */
	uint64_t last_moves, last_ns;
	unsigned drawn; /* lines of the frame on screen (terminal) */
	bool header;    /* the plain header has been printed */
	char *buf;      /* the frame being built */
	size_t len, cap;
};

static uint64_t get(atomic_uint_fast64_t *c)
{
	/* Relaxed: each counter is read whole and on its own. */
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Appends n bytes to the frame being built. Returns false when out of memory. */
static bool emit(struct view *v, const char *s, size_t n)
{
	if (v->len + n > v->cap) {
		size_t cap = v->cap ? v->cap : 4096;
		while (cap < v->len + n) {
			cap *= 2;
		}
		char *b = realloc(v->buf, cap);
		if (!b) {
			return false; /* the text is dropped; the next frame tries again */
		}
		v->buf = b;
		v->cap = cap;
	}
	memcpy(v->buf + v->len, s, n);
	v->len += n;
	return true;
}

static void vline(struct view *v, bool cut, const char *fmt, va_list ap)
{
	char l[256];
	int n = vsnprintf(l, sizeof(l), fmt, ap);
	if (n < 0) {
		n = 0;
	} else if ((size_t)n >= sizeof(l)) {
		n = (int)sizeof(l) - 1;
	}
	if (cut && n > LINE_MAX_COLS) {
		n = LINE_MAX_COLS;
	}
	emit(v, l, (size_t)n);
	if (v->cfg->tty) {
		/* Clear what a longer line of the last frame left to the right. */
		emit(v, "\033[K", 3);
	}
	emit(v, "\n", 1);
	v->drawn++;
}

/* Appends one line, cut to LINE_MAX_COLS. */
static void line(struct view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct view *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(v, true, fmt, ap);
	va_end(ap);
}

/* Appends one machine-readable line, whole whatever its length. */
static void raw_line(struct view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void raw_line(struct view *v, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(v, false, fmt, ap);
	va_end(ap);
}

static void flush_frame(struct view *v)
{
	if (v->len) {
		fwrite(v->buf, 1, v->len, stdout);
	}
	fflush(stdout);
	v->len = 0;
}

struct view *view_new(const struct demo_config *cfg, const struct demo_world *w,
		      struct demo_stats *stats, cairn_client *view_conn)
{
	struct view *v = calloc(1, sizeof(*v));
	if (!v) {
		return NULL;
	}
	v->cfg = cfg;
	v->w = w;
	v->stats = stats;
	v->conn = view_conn;
	v->boards = calloc(w->hunts, sizeof(*v->boards));
	if (!v->boards) {
		free(v);
		return NULL;
	}
	return v;
}

void view_free(struct view *v)
{
	if (!v) {
		return;
	}
	free(v->boards);
	free(v->buf);
	free(v);
}

static void fmt_speed(char *buf, size_t len, uint32_t mm_s)
{
	if (mm_s) {
		snprintf(buf, len, "speed limit %.1f m/s", mm_s / 1000.0);
	} else {
		snprintf(buf, len, "no speed limit");
	}
}

void view_intro(struct view *v, const struct cairn_daemon_info *info, int demo_cpu)
{
	const struct demo_world *w = v->w;
	char where[96], us[64], speed[32];
	fmt_speed(speed, sizeof(speed), w->speed_mm_s);
	v->drawn = 0;
	line(v, "cairn-demo: %u hunt%s on cairnd's embedded map (%u x %u cells of %.1f m),",
	     w->hunts, w->hunts == 1 ? "" : "s", w->map_width, w->map_height, w->cell_mm / 1000.0);
	line(v, "            %u players and %u clues each, %s, seed %llu", w->players, w->clues,
	     speed, (unsigned long long)v->cfg->seed);
	if (info->apply_cpu >= 0) {
		snprintf(where, sizeof(where), "cairnd (pid %u) applies commands on CPU %d,",
			 info->pid, info->apply_cpu);
	} else {
		snprintf(where, sizeof(where),
			 "cairnd (pid %u) applies commands on any CPU (not pinned),", info->pid);
	}
	if (demo_cpu >= 0) {
		snprintf(us, sizeof(us), "this demo's threads on CPU %d%s", demo_cpu,
			 demo_cpu == info->apply_cpu ? " (the same one!)" : "");
	} else {
		snprintf(us, sizeof(us), "this demo's threads not pinned");
	}
	line(v, "placement:  %s", where);
	line(v, "            %s", us);
	line(v, "traffic:    moves in batches of %u, up to %u in flight; %u sentr%s pace%s",
	     w->batch, w->max_in_flight, w->probes, w->probes == 1 ? "y" : "ies",
	     w->probes == 1 ? "s" : "");
	line(v, "            a cell, moved one cairn_call a millisecond to time round trips");
	line(v, "%s", "");
	flush_frame(v);
	v->drawn = 0;
}

/* Reads the leaders of hunt h into v->boards[h]; on failure keeps what it had. */
static void read_board(struct view *v, unsigned h)
{
	struct demo_board *b = &v->boards[h];
	size_t blob_size;
	uint8_t *blob = cairn_blob(v->conn, &blob_size);
	struct cairn_leaderboard q;
	memset(&q, 0, sizeof(q));
	q.hunt_id = v->w->hunt_ids[h];
	q.k = LEADERS;
	q.out_offset = 0;
	q.out_capacity = LEADERS * sizeof(struct cairn_hit);
	struct cairn_msg m, res;
	cairn_msg_init(&m, CAIRN_MSG_LEADERBOARD, CAIRN_MSG_LEADERBOARD_LEN_MIN);
	memcpy(m.payload, &q, sizeof(q));
	int r = cairn_call(v->conn, &m, &res, BOARD_TIMEOUT);
	if (r < 0) {
		b->error = r;
		return;
	}
	struct cairn_query_reply a;
	memcpy(&a, res.payload, sizeof(a));
	if (res.hdr.type != CAIRN_MSG_LEADERBOARD_REPLY || a.count > LEADERS || a.out_offset != 0 ||
	    blob_size < LEADERS * sizeof(struct cairn_hit)) {
		b->error = -CAIRN_E_BAD_REPLY;
		return;
	}
	b->count = a.count;
	b->error = 0;
	for (uint32_t i = 0; i < a.count; i++) {
		struct cairn_hit hit;
		memcpy(&hit, blob + i * sizeof(hit), sizeof(hit));
		b->number[i] = world_player_number(v->w, h, hit.id);
		b->score[i] = hit.value;
	}
}

/* A code's schema name when it has one (short), else its message. */
static const char *error_name(int code)
{
	const char *n = cairn_error_name(code);
	return n ? n : cairn_strerror(code);
}

static void player_name(char *buf, size_t len, uint32_t number)
{
	if (number) {
		snprintf(buf, len, "p%03u", number);
	} else {
		snprintf(buf, len, "p?");
	}
}

/* "12.0 s" below a minute, then "1:02:03". */
static void fmt_uptime(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = ns / 1000000000u;
	if (s < 60) {
		snprintf(buf, len, "%.1f s", (double)ns / 1e9);
	} else {
		snprintf(buf, len, "%llu:%02llu:%02llu", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
	}
}

static void board_lines(struct view *v, bool final)
{
	unsigned shown = v->w->hunts < SHOWN_HUNTS ? v->w->hunts : SHOWN_HUNTS;
	if (!final) {
		line(v, "  %-5s %-18s %-18s %-18s %8s", "hunt", "leader", "second", "third",
		     "claims");
	}
	for (unsigned h = 0; h < shown; h++) {
		const struct demo_board *b = &v->boards[h];
		char cell[LEADERS][64], claims[32], name[16], score[32];
		for (unsigned i = 0; i < LEADERS; i++) {
			if (i < b->count) {
				player_name(name, sizeof(name), b->number[i]);
				fmt_count(score, sizeof(score),
					  b->score[i] < 0 ? 0 : (uint64_t)b->score[i]);
				snprintf(cell[i], sizeof(cell[i]), "%-6s %9s", name, score);
			} else {
				snprintf(cell[i], sizeof(cell[i]), "%-6s %9s", "-", "");
			}
		}
		fmt_count(claims, sizeof(claims), get(&v->stats->hunt_claims[h]));
		char label[16];
		snprintf(label, sizeof(label), "#%u", h + 1);
		if (final) {
			if (b->count == 0 && b->error) {
				line(v, "  %-12s hunt %-5s (leaderboard: %s)", h ? "" : "winners",
				     label, error_name(b->error));
			} else if (b->count == 0 || b->score[0] <= 0) {
				line(v, "  %-12s hunt %-5s no points scored", h ? "" : "winners",
				     label);
			} else {
				char pts[32];
				player_name(name, sizeof(name), b->number[0]);
				fmt_count(pts, sizeof(pts),
					  b->score[0] < 0 ? 0 : (uint64_t)b->score[0]);
				line(v,
				     "  %-12s hunt %-5s %-6s %s points, %s clue%s claimed in the "
				     "hunt",
				     h ? "" : "winners", label, name, pts, claims,
				     strcmp(claims, "1") == 0 ? "" : "s");
			}
		} else if (b->error && b->count == 0) {
			line(v, "  %-5s (leaderboard: %s)", label, error_name(b->error));
		} else {
			line(v, "  %-5s %s   %s   %s   %8s", label, cell[0], cell[1], cell[2],
			     claims);
		}
	}
	if (v->w->hunts > shown) {
		line(v, "  %s... and %u more hunt%s", final ? "             " : "",
		     v->w->hunts - shown, v->w->hunts - shown == 1 ? "" : "s");
	}
}

/* Takes the round trips measured since the last call; adds them to the total. */
static void take_rtt(struct view *v, struct hist *sec)
{
	memset(sec, 0, sizeof(*sec));
	pthread_mutex_lock(&v->stats->lock);
	hist_merge(sec, &v->stats->rtt);
	memset(&v->stats->rtt, 0, sizeof(v->stats->rtt));
	pthread_mutex_unlock(&v->stats->lock);
	hist_merge(&v->total, sec);
}

static void frame_tty(struct view *v, uint64_t elapsed_ns, uint64_t rate, const struct hist *sec)
{
	struct demo_stats *st = v->stats;
	const struct demo_world *w = v->w;
	char a[32], b[32], c[32], p50[16], p99[16], p999[16], mx[16];
	uint64_t rej[REJ_N], rej_all = 0;
	for (unsigned i = 0; i < REJ_N; i++) {
		rej[i] = get(&st->rejected[i]);
		rej_all += rej[i];
	}

	if (v->drawn) {
		/* Back to the top of the last frame; its lines are overwritten one by one. */
		char up[32];
		int n = snprintf(up, sizeof(up), "\r\033[%uA", v->drawn);
		emit(v, up, (size_t)n);
	} else {
		/* The first frame: hide the cursor, which would dance over the numbers. */
		emit(v, "\033[?25l", 6);
	}
	v->drawn = 0;

	fmt_uptime(a, sizeof(a), elapsed_ns);
	fmt_count(b, sizeof(b), rate);
	fmt_count(c, sizeof(c), get(&st->moves));
	line(v, "  %-11s %9s   %-10s %10s   %-13s %11s", "uptime", a, "moves/s", b, "total moves",
	     c);
	fmt_count(a, sizeof(a), get(&st->claims));
	fmt_count(b, sizeof(b), get(&st->lost));
	fmt_count(c, sizeof(c), get(&st->queries));
	line(v, "  %-11s %9s   %-10s %10s   %-13s %11s", "claims", a, "lost races", b, "queries",
	     c);
	char live[48];
	fmt_count(a, sizeof(a), w->hunts);
	fmt_count(b, sizeof(b), (uint64_t)w->hunts * w->players);
	snprintf(live, sizeof(live), "%llu/%llu", (unsigned long long)get(&st->clues_live),
		 (unsigned long long)w->hunts * w->clues);
	line(v, "  %-11s %9s   %-10s %10s   %-13s %11s", "hunts", a, "players", b, "clues live",
	     live);
	fmt_count(a, sizeof(a), rej_all);
	line(v, "  %-11s %9s   blocked %llu, off map %llu, too fast %llu, other %llu", "rejected",
	     a, (unsigned long long)rej[REJ_BLOCKED], (unsigned long long)rej[REJ_OFF_MAP],
	     (unsigned long long)rej[REJ_TOO_FAST], (unsigned long long)rej[REJ_OTHER]);
	fmt_ns(p50, sizeof(p50), hist_pct(sec, 50));
	fmt_ns(p99, sizeof(p99), hist_pct(sec, 99));
	fmt_ns(p999, sizeof(p999), hist_pct(sec, 99.9));
	fmt_count(a, sizeof(a), sec->n);
	line(v, "  %-11s %-11s p50 %-8s p99 %-8s p99.9 %-8s %s calls", "round trip", "last second",
	     p50, p99, p999, a);
	fmt_ns(p50, sizeof(p50), hist_pct(&v->total, 50));
	fmt_ns(p99, sizeof(p99), hist_pct(&v->total, 99));
	fmt_ns(p999, sizeof(p999), hist_pct(&v->total, 99.9));
	fmt_ns(mx, sizeof(mx), v->total.max);
	line(v, "  %-11s %-11s p50 %-8s p99 %-8s p99.9 %-8s max %s", "", "since start", p50, p99,
	     p999, mx);
	line(v, "%s", "");
	board_lines(v, false);
	/* Anything below, from a longer frame before, goes. */
	emit(v, "\033[J", 3);
	flush_frame(v);
}

static void frame_plain(struct view *v, uint64_t elapsed_ns, uint64_t rate, const struct hist *sec)
{
	struct demo_stats *st = v->stats;
	char up[32], r[32], m[32], cl[32], lo[32], rj[32], p50[16], p99[16];
	if (!v->header) {
		line(v, "%8s %11s %13s %8s %6s %8s %9s %9s", "uptime", "moves/s", "moves", "claims",
		     "lost", "rejected", "rtt p50", "rtt p99");
		v->header = true;
	}
	uint64_t rej = 0;
	for (unsigned i = 0; i < REJ_N; i++) {
		rej += get(&st->rejected[i]);
	}
	fmt_uptime(up, sizeof(up), elapsed_ns);
	fmt_count(r, sizeof(r), rate);
	fmt_count(m, sizeof(m), get(&st->moves));
	fmt_count(cl, sizeof(cl), get(&st->claims));
	fmt_count(lo, sizeof(lo), get(&st->lost));
	fmt_count(rj, sizeof(rj), rej);
	fmt_ns(p50, sizeof(p50), hist_pct(sec, 50));
	fmt_ns(p99, sizeof(p99), hist_pct(sec, 99));
	line(v, "%8s %11s %13s %8s %6s %8s %9s %9s", up, r, m, cl, lo, rj, p50, p99);
	flush_frame(v);
}

void view_tick(struct view *v, uint64_t elapsed_ns)
{
	struct hist sec;
	take_rtt(v, &sec);
	uint64_t moves = get(&v->stats->moves);
	uint64_t dt = elapsed_ns - v->last_ns;
	uint64_t rate = dt ? (uint64_t)((double)(moves - v->last_moves) * 1e9 / (double)dt) : 0;
	v->last_moves = moves;
	v->last_ns = elapsed_ns;
	/* Read in both modes: the final summary falls back on them if the daemon has gone. */
	unsigned shown = v->w->hunts < SHOWN_HUNTS ? v->w->hunts : SHOWN_HUNTS;
	for (unsigned h = 0; h < shown; h++) {
		read_board(v, h);
	}
	if (v->cfg->tty) {
		frame_tty(v, elapsed_ns, rate, &sec);
	} else {
		frame_plain(v, elapsed_ns, rate, &sec);
	}
}

void view_final(struct view *v, uint64_t elapsed_ns, const char *why,
		const struct cairn_daemon_info *info)
{
	if (v->cfg->tty && v->drawn) {
		emit(v, "\033[?25h", 6);
	}
	struct demo_stats *st = v->stats;
	struct hist sec;
	take_rtt(v, &sec);
	unsigned shown = v->w->hunts < SHOWN_HUNTS ? v->w->hunts : SHOWN_HUNTS;
	for (unsigned h = 0; h < shown; h++) {
		read_board(v, h);
	}
	double secs = (double)elapsed_ns / 1e9;
	uint64_t moves = get(&st->moves), claims = get(&st->claims), lost = get(&st->lost);
	uint64_t rej[REJ_N], rej_all = 0;
	for (unsigned i = 0; i < REJ_N; i++) {
		rej[i] = get(&st->rejected[i]);
		rej_all += rej[i];
	}
	uint64_t rate = secs > 0 ? (uint64_t)((double)moves / secs) : 0;
	char a[32], b[32], c[32], p50[16], p99[16], p999[16], mx[16];

	v->drawn = 0;
	line(v, "%s", "");
	line(v, "cairn-demo: stopped by %s after %.1f s (seed %llu)", why, secs,
	     (unsigned long long)v->cfg->seed);
	fmt_count(a, sizeof(a), moves);
	fmt_count(b, sizeof(b), rate);
	line(v, "  %-12s %s applied, %s a second", "moves", a, b);
	fmt_count(a, sizeof(a), rej_all);
	line(v, "  %-12s %s (blocked %llu, off map %llu, too fast %llu, other %llu)", "rejected", a,
	     (unsigned long long)rej[REJ_BLOCKED], (unsigned long long)rej[REJ_OFF_MAP],
	     (unsigned long long)rej[REJ_TOO_FAST], (unsigned long long)rej[REJ_OTHER]);
	fmt_count(a, sizeof(a), claims);
	fmt_count(b, sizeof(b), lost);
	fmt_count(c, sizeof(c), get(&st->queries));
	line(v, "  %-12s %s won, %s lost races; %s nearest-clue queries", "claims", a, b, c);
	fmt_ns(p50, sizeof(p50), hist_pct(&v->total, 50));
	fmt_ns(p99, sizeof(p99), hist_pct(&v->total, 99));
	fmt_ns(p999, sizeof(p999), hist_pct(&v->total, 99.9));
	fmt_ns(mx, sizeof(mx), v->total.max);
	fmt_count(a, sizeof(a), v->total.n);
	line(v, "  %-12s p50 %s, p99 %s, p99.9 %s, max %s", "round trip", p50, p99, p999, mx);
	line(v, "  %-12s %s single MOVEs timed, one a millisecond", "", a);
	fmt_count(a, sizeof(a), info->counters.commands);
	fmt_count(b, sizeof(b), info->counters.errors);
	line(v, "  %-12s %s commands since it started, %s refused", "cairnd", a, b);
	int last = atomic_load_explicit(&st->last_error, memory_order_relaxed);
	if (last) {
		line(v, "  %-12s %s", "last refusal", cairn_strerror(last));
	}
	board_lines(v, true);
	raw_line(v, "result: moves=%llu claims=%llu lost=%llu rejected=%llu seconds=%.2f",
		 (unsigned long long)moves, (unsigned long long)claims, (unsigned long long)lost,
		 (unsigned long long)rej_all, secs);
	raw_line(v, "rates: moves_per_s=%llu blocked=%llu off_map=%llu too_fast=%llu other=%llu",
		 (unsigned long long)rate, (unsigned long long)rej[REJ_BLOCKED],
		 (unsigned long long)rej[REJ_OFF_MAP], (unsigned long long)rej[REJ_TOO_FAST],
		 (unsigned long long)rej[REJ_OTHER]);
	raw_line(v, "latency: samples=%llu p50_ns=%llu p99_ns=%llu p999_ns=%llu",
		 (unsigned long long)v->total.n, (unsigned long long)hist_pct(&v->total, 50),
		 (unsigned long long)hist_pct(&v->total, 99),
		 (unsigned long long)hist_pct(&v->total, 99.9));
	flush_frame(v);
}
