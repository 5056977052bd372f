/*
 * The live screen: the header, the lane table or one histogram, a footer with the keys.
 *
 * ringtop sleeps in getch between samples (its timeout is the time left to the next
 * one), so at 1 Hz it wakes a few times a second and spends nearly all of its life
 * asleep. ncurses draws only what changed since the last refresh. A resize arrives as
 * KEY_RESIZE (ncurses handles SIGWINCH) and is answered with a redraw at the new size.
 */
#include <curses.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "ringtop.h"

/* The longest getch wait, so that a signal to stop is seen soon whatever the interval. */
#define MAX_WAIT_MS 500
/* After the daemon went away, how often to look for a new one at the socket. */
#define RECONNECT_NS (2000ull * 1000 * 1000)
#define MIN_INTERVAL 0.1
#define MAX_INTERVAL 60.0
#define FILTER_SIZE  48
#define MAX_BAR      200

static const char hashes[MAX_BAR + 1] =
	"########################################################################################"
	"########################################################################################"
	"########################";

/* The order in which s walks through the columns. */
static const enum rt_col sort_cycle[] = {
	RT_COL_CMD,   RT_COL_RES,  RT_COL_DEPTH, RT_COL_P99,  RT_COL_P50, RT_COL_TOTAL, RT_COL_FULL,
	RT_COL_WAKES, RT_COL_HELD, RT_COL_AGE,   RT_COL_NAME, RT_COL_PID, RT_COL_LANE,
};

/* Interval steps for + and -. */
static const double steps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60};

enum mode { LIST, HIST };

struct ui {
	struct cairn__observed *o;
	const struct rt_options *opt;
	double interval_s;
	struct rt_view v;
	uint32_t *rows; /* lane indexes of v.cur shown, sorted and filtered */
	uint32_t n_rows, cap_rows;
	enum rt_col sort;
	bool ascending;
	char filter[FILTER_SIZE];
	bool prompting;
	char edit[FILTER_SIZE];
	enum mode mode;
	bool hist_wal; /* the histogram shown is the log's, not the lane's */
	/* The selected lane, by identity, so that it stays selected as rows move. */
	bool has_sel;
	uint32_t sel_lane;
	uint64_t sel_client;
	uint32_t sel_row, top;
	/* The daemon's end. */
	const char *gone;
	char gone_at[16];
	uint64_t last_try_ns;
	char note[160];
	uint64_t note_until_ns;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static bool default_ascending(enum rt_col c)
{
	return c == RT_COL_NAME || c == RT_COL_PID || c == RT_COL_LANE;
}

static void note(struct ui *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct ui *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->note, sizeof(u->note), fmt, ap);
	va_end(ap);
	u->note_until_ns = cairn__now_ns() + 3000ull * 1000 * 1000;
}

/* Rebuilds the rows: filter, sort, and find the selected lane again. */
static int arrange(struct ui *u)
{
	const struct rt_sample *s = &u->v.cur;
	if (u->cap_rows < s->n_lanes) {
		uint32_t *n = realloc(u->rows, s->n_lanes * sizeof(*n));
		if (!n) {
			return -ENOMEM;
		}
		u->rows = n;
		u->cap_rows = s->n_lanes;
	}
	u->n_rows = 0;
	for (uint32_t i = 0; i < s->n_lanes; i++) {
		if (rt_match(&u->v, i, u->filter)) {
			u->rows[u->n_rows++] = i;
		}
	}
	rt_sort(&u->v, u->rows, u->n_rows, u->sort, u->ascending);
	if (u->n_rows == 0) {
		u->sel_row = 0;
		return 0;
	}
	if (u->has_sel) {
		for (uint32_t r = 0; r < u->n_rows; r++) {
			const struct rt_lane *l = &s->lanes[u->rows[r]];
			if (l->id == u->sel_lane && l->client_id == u->sel_client) {
				u->sel_row = r;
				return 0;
			}
		}
	}
	/* The selected lane went away (or none was): select the row at the same place. */
	if (u->sel_row >= u->n_rows) {
		u->sel_row = u->n_rows - 1;
	}
	const struct rt_lane *l = &s->lanes[u->rows[u->sel_row]];
	u->has_sel = true;
	u->sel_lane = l->id;
	u->sel_client = l->client_id;
	return 0;
}

static void select_row(struct ui *u, long r)
{
	if (u->n_rows == 0) {
		return;
	}
	if (r < 0) {
		r = 0;
	}
	if (r >= (long)u->n_rows) {
		r = (long)u->n_rows - 1;
	}
	u->sel_row = (uint32_t)r;
	const struct rt_lane *l = &u->v.cur.lanes[u->rows[r]];
	u->has_sel = true;
	u->sel_lane = l->id;
	u->sel_client = l->client_id;
}

/* ---- drawing ---- */

/* Line y, cut at the screen's edge; attr for the whole line, padded when reverse. */
static void line_at(int y, const char *text, attr_t attr)
{
	if (y < 0 || y >= LINES) {
		return;
	}
	attrset(attr);
	mvaddnstr(y, 0, text, COLS);
	if (attr & A_REVERSE) {
		int n = (int)strlen(text);
		for (int x = n; x < COLS; x++) {
			mvaddch(y, x, ' ');
		}
	}
	attrset(A_NORMAL);
}

static void draw_list(struct ui *u, int y0, int y1)
{
	char buf[512];
	struct rt_layout l;
	rt_layout_fit(&l, COLS);
	rt_table_title(&l, buf, sizeof(buf));
	line_at(y0, buf, A_REVERSE);
	int n = y1 - y0 - 1; /* rows that fit */
	if (n <= 0) {
		return;
	}
	if (u->n_rows == 0) {
		line_at(y0 + 1,
			u->v.cur.n_lanes ? "(no lane matches the filter: f to change it)"
					 : "(no clients attached)",
			A_DIM);
		return;
	}
	/* Scroll so that the selected row is on screen. */
	if (u->sel_row < u->top) {
		u->top = u->sel_row;
	}
	if (u->sel_row >= u->top + (uint32_t)n) {
		u->top = u->sel_row - (uint32_t)n + 1;
	}
	if (u->top + (uint32_t)n > u->n_rows) {
		u->top = u->n_rows > (uint32_t)n ? u->n_rows - (uint32_t)n : 0;
	}
	for (int k = 0; k < n && u->top + (uint32_t)k < u->n_rows; k++) {
		uint32_t r = u->top + (uint32_t)k;
		rt_table_row(&l, &u->v, u->rows[r], buf, sizeof(buf));
		line_at(y0 + 1 + k, buf, r == u->sel_row ? A_REVERSE : A_NORMAL);
	}
}

static void draw_hist(struct ui *u, int y0, int y1)
{
	char buf[512], a[32], b[32], c[32];
	const uint64_t *h = NULL;
	bool cumulative = false;
	const char *what;
	uint64_t total = 0;
	if (u->hist_wal) {
		what = "batches";
		h = u->v.sync_hist;
		for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
			total += h[i];
		}
		if (total == 0) {
			h = u->v.cur.wal.sync_hist;
			cumulative = true;
		}
		snprintf(buf, sizeof(buf), "WAL write + fdatasync time (%s/%s)",
			 rt_backend_name(u->v.cur.wal.backend),
			 rt_durability_name(u->v.cur.wal.durability));
	} else {
		what = "commands";
		const struct rt_lane *l = NULL;
		uint32_t i = 0;
		if (u->n_rows) {
			i = u->rows[u->sel_row];
			l = &u->v.cur.lanes[i];
		}
		if (!l) {
			line_at(y0, "No lane selected: Esc goes back, w shows the log's histogram.",
				A_BOLD);
			return;
		}
		const struct rt_lane_rates *r = &u->v.rates[i];
		h = r->hist;
		if (r->valid) {
			for (unsigned k = 0; k < CAIRN_HIST_BUCKETS; k++) {
				total += h[k];
			}
		}
		if (!r->valid || total == 0) {
			h = l->wait_hist;
			cumulative = true;
		}
		snprintf(buf, sizeof(buf),
			 "lane %" PRIu32 " pid %" PRId32 " \"%s\": wait from push to apply", l->id,
			 l->pid, l->name);
	}
	total = 0;
	unsigned first = CAIRN_HIST_BUCKETS, last = 0;
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		total += h[i];
		if (h[i]) {
			first = i < first ? i : first;
			last = i;
		}
	}
	line_at(y0, buf, A_BOLD);
	rt_fmt_count(a, sizeof(a), (double)total);
	rt_fmt_ns(b, sizeof(b), rt_hist_quantile(h, 0.5));
	rt_fmt_ns(c, sizeof(c), rt_hist_quantile(h, 0.99));
	if (cumulative) {
		snprintf(buf, sizeof(buf),
			 "since it began (nothing in the last interval): %s %s, p50 %s p99 %s", a,
			 what, b, c);
	} else {
		snprintf(buf, sizeof(buf), "last %.2g s: %s %s, p50 %s p99 %s", u->v.dt_s, a, what,
			 b, c);
	}
	line_at(y0 + 1, buf, A_NORMAL);
	if (total == 0) {
		line_at(y0 + 3, "(empty)", A_DIM);
		return;
	}
	int room = y1 - y0 - 3;
	/* Too many buckets for the screen: trim the end that holds less. */
	while (room > 0 && (int)(last - first + 1) > room) {
		if (h[first] <= h[last]) {
			first++;
		} else {
			last--;
		}
	}
	uint64_t top = 0;
	for (unsigned i = first; i <= last; i++) {
		top = h[i] > top ? h[i] : top;
	}
	int bar = COLS - 34;
	bar = bar < 4 ? 4 : bar > MAX_BAR ? MAX_BAR : bar;
	for (unsigned i = first; i <= last && (int)(i - first) < room; i++) {
		uint64_t lo, hi;
		rt_hist_bounds(i, &lo, &hi);
		rt_fmt_ns(a, sizeof(a), (double)lo);
		if (hi) {
			rt_fmt_ns(b, sizeof(b), (double)hi);
		} else {
			snprintf(b, sizeof(b), "...");
		}
		rt_fmt_count(c, sizeof(c), (double)h[i]);
		int n = (int)((double)h[i] / (double)top * bar + 0.5);
		if (h[i] && n == 0) {
			n = 1;
		}
		snprintf(buf, sizeof(buf), "%7s-%-7s %6s %5.1f%% %.*s", a, b, c,
			 100.0 * (double)h[i] / (double)total, n, hashes);
		line_at(y0 + 3 + (int)(i - first), buf, A_NORMAL);
	}
}

static void draw(struct ui *u)
{
	char buf[512];
	erase();
	for (unsigned i = 0; i < RT_HEADER_LINES; i++) {
		rt_header_line(&u->v, u->interval_s, i, COLS, buf, sizeof(buf));
		line_at((int)i, buf, A_NORMAL);
	}
	int banner = RT_HEADER_LINES;
	if (u->gone) {
		snprintf(buf, sizeof(buf),
			 "cairnd (pid %d) is gone: %s (%s). Last figures below; q quits.",
			 (int)u->o->pid, u->gone, u->gone_at);
		line_at(banner, buf, A_BOLD | (has_colors() ? COLOR_PAIR(1) : A_REVERSE));
	} else if (!u->v.cur.metrics) {
		line_at(banner,
			u->o->metrics_err == -ENOENT ? "This cairnd publishes no metrics (protocol "
						       "before 1.4): no lanes, no log."
						     : "cairnd runs with --metrics off: no lane or "
						       "log figures, only the counters.",
			A_BOLD);
	} else if (cairn__now_ns() < u->note_until_ns) {
		line_at(banner, u->note, A_BOLD);
	} else if (u->filter[0]) {
		snprintf(buf, sizeof(buf), "filter \"%s\": %" PRIu32 " of %" PRIu32 " lanes",
			 u->filter, u->n_rows, u->v.cur.n_lanes);
		line_at(banner, buf, A_NORMAL);
	}
	int y0 = RT_HEADER_LINES + 1, y1 = LINES - 1;
	if (u->mode == HIST) {
		draw_hist(u, y0, y1);
	} else {
		draw_list(u, y0, y1);
	}
	if (u->prompting) {
		snprintf(buf, sizeof(buf),
			 "filter (name or pid, Enter to apply, Esc to cancel): %s", u->edit);
		line_at(LINES - 1, buf, A_BOLD);
		move(LINES - 1, (int)strlen(buf) < COLS ? (int)strlen(buf) : COLS - 1);
		curs_set(1);
	} else {
		if (u->mode == HIST) {
			snprintf(buf, sizeof(buf),
				 "q quit  Esc back  w log/lane  up/down lane  +/- %.3gs",
				 u->interval_s);
		} else {
			snprintf(buf, sizeof(buf),
				 "q quit  s/r sort %s%s  f filter  up/down  h hist  w log  +/- "
				 "%.3gs",
				 rt_col_title(u->sort), u->ascending ? "+" : "-", u->interval_s);
		}
		line_at(LINES - 1, buf, A_REVERSE);
		curs_set(0);
	}
	refresh();
}

/* ---- the daemon ---- */

static void stamp_gone(struct ui *u, const char *why)
{
	u->gone = why;
	time_t t = time(NULL);
	struct tm tm;
	localtime_r(&t, &tm);
	strftime(u->gone_at, sizeof(u->gone_at), "%H:%M:%S", &tm);
}

/* Once the daemon is gone: is there a new one at the socket? */
static void try_again(struct ui *u)
{
	uint64_t now = cairn__now_ns();
	if (now - u->last_try_ns < RECONNECT_NS) {
		return;
	}
	u->last_try_ns = now;
	struct cairn__observed n;
	if (cairn__observe(u->opt->socket, &n, NULL, 0) < 0) {
		return;
	}
	const struct cairn_state_header *was = u->o->base, *is = n.base;
	bool same = n.pid == u->o->pid && was->boot_epoch_ns == is->boot_epoch_ns;
	if (same || rt_gone_reason(&n, RT_STALE_NS)) {
		cairn__observe_close(&n);
		return;
	}
	cairn__observe_close(u->o);
	*u->o = n;
	u->gone = NULL;
	rt_view_reset(&u->v);
	note(u, "A new cairnd (pid %d) answers at the socket: watching it.", (int)n.pid);
}

/* Takes a sample, unless the daemon is gone. */
static int sample(struct ui *u)
{
	if (u->gone) {
		try_again(u);
		if (u->gone) {
			return 0;
		}
	}
	const char *why = rt_gone_reason(u->o, RT_STALE_NS);
	if (why) {
		stamp_gone(u, why);
		return 0;
	}
	int r = rt_view_step(&u->v, u->o);
	return r < 0 ? r : arrange(u);
}

/* ---- keys ---- */

static void step_interval(struct ui *u, int dir)
{
	double next = u->interval_s;
	size_t n = sizeof(steps) / sizeof(steps[0]);
	if (dir > 0) {
		for (size_t i = 0; i < n; i++) {
			if (steps[i] > u->interval_s + 1e-9) {
				next = steps[i];
				break;
			}
		}
	} else {
		for (size_t i = n; i-- > 0;) {
			if (steps[i] < u->interval_s - 1e-9) {
				next = steps[i];
				break;
			}
		}
	}
	u->interval_s = next;
}

static void cycle_sort(struct ui *u)
{
	size_t n = sizeof(sort_cycle) / sizeof(sort_cycle[0]), i = 0;
	while (i < n && sort_cycle[i] != u->sort) {
		i++;
	}
	u->sort = sort_cycle[(i + 1) % n];
	u->ascending = default_ascending(u->sort);
}

/* A key while the filter prompt is open. */
static void prompt_key(struct ui *u, int ch)
{
	size_t n = strlen(u->edit);
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		snprintf(u->filter, sizeof(u->filter), "%s", u->edit);
		u->prompting = false;
	} else if (ch == 27) {
		u->prompting = false;
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
		if (n) {
			u->edit[n - 1] = '\0';
		}
	} else if (ch == 21) { /* Ctrl-U */
		u->edit[0] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && n + 1 < sizeof(u->edit)) {
		u->edit[n] = (char)ch;
		u->edit[n + 1] = '\0';
	}
}

/* Returns false to quit. */
static bool key(struct ui *u, int ch)
{
	if (u->prompting) {
		prompt_key(u, ch);
		arrange(u);
		return true;
	}
	int page = LINES - RT_HEADER_LINES - 3;
	switch (ch) {
	case 'q':
	case 'Q':
		return false;
	case 's':
		cycle_sort(u);
		break;
	case 'r':
		u->ascending = !u->ascending;
		break;
	case 'c':
		u->sort = RT_COL_CMD;
		u->ascending = false;
		break;
	case 'n':
		u->sort = RT_COL_NAME;
		u->ascending = true;
		break;
	case 'p':
		u->sort = RT_COL_PID;
		u->ascending = true;
		break;
	case 'l':
		u->sort = RT_COL_LANE;
		u->ascending = true;
		break;
	case 'd':
		u->sort = RT_COL_DEPTH;
		u->ascending = false;
		break;
	case 'f':
	case '/':
		u->prompting = true;
		snprintf(u->edit, sizeof(u->edit), "%s", u->filter);
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
	case 'h':
		if (u->mode == HIST) {
			u->mode = LIST;
		} else {
			u->mode = HIST;
			u->hist_wal = false;
		}
		break;
	case 'w':
		if (u->mode == HIST) {
			u->hist_wal = !u->hist_wal;
		} else {
			u->mode = HIST;
			u->hist_wal = true;
		}
		break;
	case 27:
	case KEY_BACKSPACE:
	case KEY_LEFT:
	case 127:
		u->mode = LIST;
		break;
	case KEY_UP:
	case 'k':
		select_row(u, (long)u->sel_row - 1);
		break;
	case KEY_DOWN:
	case 'j':
		select_row(u, (long)u->sel_row + 1);
		break;
	case KEY_PPAGE:
		select_row(u, (long)u->sel_row - (page > 1 ? page : 1));
		break;
	case KEY_NPAGE:
		select_row(u, (long)u->sel_row + (page > 1 ? page : 1));
		break;
	case KEY_HOME:
		select_row(u, 0);
		break;
	case KEY_END:
		select_row(u, (long)u->n_rows - 1);
		break;
	case '+':
	case '=':
		step_interval(u, 1);
		break;
	case '-':
	case '_':
		step_interval(u, -1);
		break;
	case 12: /* Ctrl-L */
		clearok(curscr, TRUE);
		break;
	default:
		break;
	}
	arrange(u);
	return true;
}

int rt_screen_run(struct cairn__observed *o, const struct rt_options *opt)
{
	struct ui u = {
		.o = o,
		.opt = opt,
		.interval_s = opt->interval_s,
		.sort = RT_COL_CMD,
		.ascending = false,
	};
	rt_view_init(&u.v);
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (!initscr()) {
		fprintf(stderr, "ringtop: cannot start the terminal (is TERM set?)\n");
		return 1;
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	if (has_colors()) {
		start_color();
		use_default_colors();
		init_pair(1, COLOR_WHITE, COLOR_RED);
	}

	int rc = 0;
	int r = sample(&u);
	uint64_t next = cairn__now_ns() + (uint64_t)(u.interval_s * 1e9);
	bool dirty = true;
	while (r >= 0 && !stop_signal) {
		uint64_t now = cairn__now_ns();
		if (now >= next) {
			r = sample(&u);
			if (r < 0) {
				break;
			}
			uint64_t step = (uint64_t)(u.interval_s * 1e9);
			next += step;
			if (next <= now) {
				next = now + step; /* we were stopped for a while: no catching up */
			}
			dirty = true;
		}
		if (dirty) {
			draw(&u);
			dirty = false;
		}
		uint64_t left = next > now ? (next - now + 999999) / 1000000 : 0;
		timeout(left > MAX_WAIT_MS ? MAX_WAIT_MS : (int)left);
		int ch = getch();
		if (ch == ERR) {
			continue;
		}
		if (ch == KEY_RESIZE) {
			dirty = true;
			continue;
		}
		double before = u.interval_s;
		if (!key(&u, ch)) {
			break;
		}
		if (u.interval_s != before) {
			/* The new interval counts from the last sample. */
			uint64_t last = u.v.cur.at_ns ? u.v.cur.at_ns : now;
			next = last + (uint64_t)(u.interval_s * 1e9);
		}
		dirty = true;
	}
	endwin();
	if (r < 0) {
		fprintf(stderr, "ringtop: %s\n", strerror(-r));
		rc = 1;
	}
	rt_view_free(&u.v);
	free(u.rows);
	return rc;
}
