/*
 * The figures as text: compact numbers for the screen's narrow columns, the header
 * lines and the lane table (shared by the screen and --once), and the JSON of --once
 * --json with every raw counter beside the rates computed from it.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"
#include "common/clock.h"
#include "ringtop.h"

/* ---- numbers ---- */

/* v with three significant digits and a unit suffix: 1.23, 12.3, 123. */
static void three(char *buf, size_t len, double v, const char *unit)
{
	if (v < 9.995) {
		snprintf(buf, len, "%.2f%s", v, unit);
	} else if (v < 99.95) {
		snprintf(buf, len, "%.1f%s", v, unit);
	} else {
		snprintf(buf, len, "%.0f%s", v, unit);
	}
}

void rt_fmt_count(char *buf, size_t len, double v)
{
	static const char *const units[] = {"k", "M", "G", "T", "P"};
	if (v < 0 || isnan(v)) {
		snprintf(buf, len, "-");
		return;
	}
	if (v < 999.5) {
		if (v < 9.95 && v != floor(v)) {
			snprintf(buf, len, "%.1f", v);
		} else {
			snprintf(buf, len, "%.0f", v);
		}
		return;
	}
	unsigned u = 0;
	v /= 1000;
	while (v >= 999.5 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	three(buf, len, v, units[u]);
}

void rt_fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 0 || isnan(ns)) {
		snprintf(buf, len, "-");
	} else if (ns < 999.5) {
		snprintf(buf, len, "%.0fns", ns);
	} else if (ns < 999.5e3) {
		three(buf, len, ns / 1e3, "us");
	} else if (ns < 999.5e6) {
		three(buf, len, ns / 1e6, "ms");
	} else {
		three(buf, len, ns / 1e9, "s");
	}
}

void rt_fmt_bytes(char *buf, size_t len, double bytes)
{
	static const char *const units[] = {"K", "M", "G", "T", "P"};
	if (bytes < 1023.5) {
		snprintf(buf, len, "%.0fB", bytes);
		return;
	}
	unsigned u = 0;
	bytes /= 1024;
	while (bytes >= 999.5 && u + 1 < sizeof(units) / sizeof(units[0])) {
		bytes /= 1024;
		u++;
	}
	three(buf, len, bytes, units[u]);
}

void rt_fmt_age(char *buf, size_t len, double s)
{
	if (s < 0 || isnan(s)) {
		snprintf(buf, len, "-");
		return;
	}
	unsigned long long t = (unsigned long long)s;
	if (t < 60) {
		snprintf(buf, len, "%llus", t);
	} else if (t < 3600) {
		snprintf(buf, len, "%llum%02llus", t / 60, t % 60);
	} else if (t < 86400) {
		snprintf(buf, len, "%lluh%02llum", t / 3600, t / 60 % 60);
	} else {
		snprintf(buf, len, "%llud%02lluh", t / 86400, t / 3600 % 24);
	}
}

void rt_fmt_pct(char *buf, size_t len, double pct)
{
	if (pct < 0 || isnan(pct)) {
		snprintf(buf, len, "-");
	} else if (pct < 99.95) {
		snprintf(buf, len, "%.1f%%", pct);
	} else {
		snprintf(buf, len, "%.0f%%", pct);
	}
}

const char *rt_state_name(uint32_t st)
{
	static const char *const names[] = {"starting", "running", "draining", "stopped"};
	return st < 4 ? names[st] : "unknown";
}

const char *rt_backend_name(uint32_t b)
{
	static const char *const names[] = {"none", "io_uring", "sync"};
	return b < 3 ? names[b] : "unknown";
}

const char *rt_durability_name(uint32_t d)
{
	static const char *const names[] = {"none", "sync", "relaxed"};
	return d < 3 ? names[d] : "unknown";
}

/* ---- the header ---- */

/* Appends to a line, never past its end. */
struct line {
	char *buf;
	size_t len, at;
};

static void put(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct line *l, const char *fmt, ...)
{
	if (l->at + 1 >= l->len) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(l->buf + l->at, l->len - l->at, fmt, ap);
	va_end(ap);
	if (n > 0) {
		l->at += (size_t)n < l->len - l->at ? (size_t)n : l->len - l->at - 1;
	}
}

/* Seconds the daemon has run, by its heartbeat when it keeps metrics. */
static double uptime_s(const struct rt_sample *s)
{
	if (s->metrics && s->start_ns && s->heartbeat_ns >= s->start_ns) {
		return (double)(s->heartbeat_ns - s->start_ns) / 1e9;
	}
	uint64_t now = cairn__wall_ns();
	return now > s->boot_epoch_ns ? (double)(now - s->boot_epoch_ns) / 1e9 : 0;
}

/*
 * A header line is built of pieces, each with a rank: when the line is wider than the
 * screen, the pieces of the highest rank go first, so that what matters most stays.
 */
#define MAX_PIECES 12

struct pieces {
	char text[MAX_PIECES][80];
	int rank[MAX_PIECES];
	unsigned n;
};

static void piece(struct pieces *p, int rank, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void piece(struct pieces *p, int rank, const char *fmt, ...)
{
	if (p->n == MAX_PIECES) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->text[p->n], sizeof(p->text[0]), fmt, ap);
	va_end(ap);
	p->rank[p->n++] = rank;
}

/* Joins the pieces with two spaces, leaving out the highest ranks until width fits. */
static void join(const struct pieces *p, int width, char *buf, size_t len)
{
	bool keep[MAX_PIECES];
	size_t total = 0;
	for (unsigned i = 0; i < p->n; i++) {
		keep[i] = true;
		total += strlen(p->text[i]) + (i ? 2 : 0);
	}
	while (total > (size_t)width) {
		int worst = -1;
		for (unsigned i = 0; i < p->n; i++) {
			if (keep[i] && p->rank[i] > 0 &&
			    (worst < 0 || p->rank[i] >= p->rank[worst])) {
				worst = (int)i;
			}
		}
		if (worst < 0) {
			break;
		}
		keep[worst] = false;
		total -= strlen(p->text[worst]) + 2;
	}
	struct line l = {buf, len, 0};
	buf[0] = '\0';
	for (unsigned i = 0; i < p->n; i++) {
		if (keep[i]) {
			put(&l, "%s%s", l.at ? "  " : "", p->text[i]);
		}
	}
}

void rt_header_line(const struct rt_view *v, double interval_s, unsigned n, int width, char *buf,
		    size_t len)
{
	const struct rt_sample *s = &v->cur;
	struct pieces p = {.n = 0};
	char a[32], b[32], c[32];
	bool k = v->have_prev;
	switch (n) {
	case 0:
		rt_fmt_age(a, sizeof(a), uptime_s(s));
		piece(&p, 0, "cairnd pid %" PRIu32, s->daemon_pid);
		piece(&p, 1, "up %s", a);
		piece(&p, 0, "%s", rt_state_name(s->daemon_state));
		piece(&p, 1, "lanes %" PRIu64 "/%" PRIu32, s->counters.lanes_active, s->max_lanes);
		if (s->apply_cpu >= 0 && s->numa_node >= 0) {
			piece(&p, 3, "apply on cpu %" PRId32 " node %" PRId32, s->apply_cpu,
			      s->numa_node);
		} else if (s->apply_cpu >= 0) {
			piece(&p, 3, "apply on cpu %" PRId32, s->apply_cpu);
		} else {
			piece(&p, 3, "apply unpinned");
		}
		piece(&p, 2, "every %.3gs", interval_s);
		break;
	case 1:
		piece(&p, 0, "daemon");
		if (s->metrics) {
			rt_fmt_pct(a, sizeof(a), v->cpu.pct);
			rt_fmt_pct(b, sizeof(b), v->cpu.apply_pct);
			piece(&p, 1, "cpu %s apply %s", a, b);
			rt_fmt_bytes(c, sizeof(c), (double)s->dm.rss_bytes);
			piece(&p, 2, "rss %s", c);
		}
		rt_fmt_count(a, sizeof(a), k ? v->cmd_s : -1);
		piece(&p, 0, "cmd/s %s", a);
		rt_fmt_count(a, sizeof(a), k ? v->res_s : -1);
		piece(&p, 1, "res/s %s", a);
		rt_fmt_count(a, sizeof(a), k ? v->err_s : -1);
		piece(&p, 2, "err/s %s", a);
		rt_fmt_count(a, sizeof(a), k ? v->full_s : -1);
		piece(&p, 3, "full/s %s", a);
		break;
	case 2:
		piece(&p, 0, "wal   ");
		if (!s->metrics) {
			piece(&p, 0, "(no metrics: cairnd runs with --metrics off)");
			break;
		}
		if (s->wal.durability == CAIRN_DURABILITY_NONE) {
			piece(&p, 0, "none (cairnd runs with --durability none)");
			break;
		}
		piece(&p, 0, "%s/%s", rt_backend_name(s->wal.backend),
		      rt_durability_name(s->wal.durability));
		if (s->wal.error) {
			piece(&p, 0, "FAILED: %s", cairn_strerror(s->wal.error));
		}
		piece(&p, 1, "lag %" PRIu64,
		      s->wal.appended_lsn >= s->wal.durable_lsn
			      ? s->wal.appended_lsn - s->wal.durable_lsn
			      : 0);
		rt_fmt_count(a, sizeof(a), k ? v->wal_rec_s : -1);
		piece(&p, 1, "rec/s %s", a);
		if (k) {
			piece(&p, 2, "MB/s %.1f", v->wal_bytes_s / 1e6);
		} else {
			piece(&p, 2, "MB/s -");
		}
		rt_fmt_ns(a, sizeof(a), v->sync_p50_ns);
		rt_fmt_ns(b, sizeof(b), v->sync_p99_ns);
		piece(&p, 1, "fsync p50 %s p99 %s", a, b);
		piece(&p, 3, "durable %" PRIu64, s->wal.durable_lsn);
		break;
	case 3:
		piece(&p, 0, "engine");
		if (s->has_grid) {
			piece(&p, 1, "hunts %" PRIu32, s->hunts);
			piece(&p, 1, "entities %" PRIu32, s->entities);
		}
		rt_fmt_count(a, sizeof(a), k ? v->applied_s : -1);
		piece(&p, 0, "applied/s %s", a);
		rt_fmt_count(a, sizeof(a), k ? v->rejected_s : -1);
		piece(&p, 1, "rej/s %s", a);
		rt_fmt_count(a, sizeof(a), k ? v->claims_s : -1);
		piece(&p, 3, "claims/s %s", a);
		if (s->metrics) {
			piece(&p, 2, "solver %" PRIu64 " jobs, %" PRIu32 " out", s->dm.solver_jobs,
			      s->dm.solver_out);
		}
		break;
	}
	join(&p, width, buf, len);
}

/* ---- the lane table ---- */

static const struct {
	const char *title;
	int width;
	int drop; /* 0: always shown; the highest is dropped first when the width is short */
	bool left;
} cols[RT_NCOLS] = {
	[RT_COL_LANE] = {"LANE", 4, 0, false},    [RT_COL_CLIENT] = {"CLIENT", 6, 9, false},
	[RT_COL_PID] = {"PID", 7, 0, false},      [RT_COL_NAME] = {"NAME", 8, 0, true},
	[RT_COL_AGE] = {"AGE", 6, 7, false},      [RT_COL_CMD] = {"CMD/S", 6, 0, false},
	[RT_COL_RES] = {"RES/S", 6, 3, false},    [RT_COL_DEPTH] = {"DEPTH", 6, 2, false},
	[RT_COL_HELD] = {"HELD", 5, 5, false},    [RT_COL_FULL] = {"FULL/S", 6, 4, false},
	[RT_COL_WAKES] = {"WAKE/S", 6, 8, false}, [RT_COL_P50] = {"P50", 6, 1, false},
	[RT_COL_P99] = {"P99", 6, 1, false},      [RT_COL_TOTAL] = {"TOTAL", 7, 6, false},
};

#define NAME_MAX_EXTRA 24

const char *rt_col_title(enum rt_col c)
{
	return cols[c].title;
}

void rt_layout_fit(struct rt_layout *l, int width)
{
	int total = -1;
	for (int i = 0; i < RT_NCOLS; i++) {
		l->shown[i] = true;
		l->width[i] = cols[i].width;
		total += cols[i].width + 1;
	}
	while (total > width) {
		int worst = -1;
		for (int i = 0; i < RT_NCOLS; i++) {
			if (l->shown[i] && cols[i].drop > 0 &&
			    (worst < 0 || cols[i].drop >= cols[worst].drop)) {
				worst = i;
			}
		}
		if (worst < 0) {
			break; /* a very narrow terminal: the lines are cut at its edge */
		}
		l->shown[worst] = false;
		total -= cols[worst].width + 1;
	}
	if (total < width) {
		int extra = width - total;
		l->width[RT_COL_NAME] += extra < NAME_MAX_EXTRA ? extra : NAME_MAX_EXTRA;
	}
}

/* Appends one cell, padded or cut to the column's width. */
static void cell(struct line *ln, const struct rt_layout *l, int c, const char *text)
{
	if (ln->at > 0) {
		put(ln, " ");
	}
	int w = l->width[c];
	if (cols[c].left) {
		put(ln, "%-*.*s", w, w, text);
	} else {
		size_t n = strlen(text);
		/* Too long for a number column: keep its end, which carries the unit. */
		put(ln, "%*s", w, n > (size_t)w ? text + n - (size_t)w : text);
	}
}

void rt_table_title(const struct rt_layout *l, char *buf, size_t len)
{
	struct line ln = {buf, len, 0};
	buf[0] = '\0';
	for (int c = 0; c < RT_NCOLS; c++) {
		if (l->shown[c]) {
			cell(&ln, l, c, cols[c].title);
		}
	}
}

/* Commands pushed and not yet taken, by the client's own cursor (which it may lie about). */
static uint64_t depth(const struct rt_lane *l)
{
	return l->cmd_pushed > l->commands ? l->cmd_pushed - l->commands : 0;
}

static double age_s(const struct rt_sample *s, const struct rt_lane *l)
{
	return s->heartbeat_ns > l->attached_ns ? (double)(s->heartbeat_ns - l->attached_ns) / 1e9
						: 0;
}

void rt_table_row(const struct rt_layout *l, const struct rt_view *v, uint32_t i, char *buf,
		  size_t len)
{
	const struct rt_lane *ln = &v->cur.lanes[i];
	const struct rt_lane_rates *r = &v->rates[i];
	struct line out = {buf, len, 0};
	char t[48];
	buf[0] = '\0';
	for (int c = 0; c < RT_NCOLS; c++) {
		if (!l->shown[c]) {
			continue;
		}
		switch ((enum rt_col)c) {
		case RT_COL_LANE:
			snprintf(t, sizeof(t), "%" PRIu32, ln->id);
			break;
		case RT_COL_CLIENT:
			rt_fmt_count(t, sizeof(t), (double)ln->client_id);
			if (ln->client_id < 1000000) {
				snprintf(t, sizeof(t), "%" PRIu64, ln->client_id);
			}
			break;
		case RT_COL_PID:
			snprintf(t, sizeof(t), "%" PRId32, ln->pid);
			break;
		case RT_COL_NAME:
			snprintf(t, sizeof(t), "%s", ln->name[0] ? ln->name : "-");
			break;
		case RT_COL_AGE:
			rt_fmt_age(t, sizeof(t), age_s(&v->cur, ln));
			break;
		case RT_COL_CMD:
			rt_fmt_count(t, sizeof(t), r->valid ? r->cmd : -1);
			break;
		case RT_COL_RES:
			rt_fmt_count(t, sizeof(t), r->valid ? r->res : -1);
			break;
		case RT_COL_DEPTH:
			rt_fmt_count(t, sizeof(t), (double)depth(ln));
			break;
		case RT_COL_HELD:
			rt_fmt_count(t, sizeof(t), (double)ln->held);
			break;
		case RT_COL_FULL:
			rt_fmt_count(t, sizeof(t), r->valid ? r->full : -1);
			break;
		case RT_COL_WAKES:
			rt_fmt_count(t, sizeof(t), r->valid ? r->wakes : -1);
			break;
		case RT_COL_P50:
			rt_fmt_ns(t, sizeof(t), r->valid ? r->p50_ns : -1);
			break;
		case RT_COL_P99:
			rt_fmt_ns(t, sizeof(t), r->valid ? r->p99_ns : -1);
			break;
		case RT_COL_TOTAL:
			rt_fmt_count(t, sizeof(t), (double)ln->commands);
			break;
		default:
			t[0] = '\0';
		}
		cell(&out, l, c, t);
	}
}

/* ---- sorting and filtering ---- */

static struct {
	const struct rt_view *v;
	enum rt_col col;
	bool ascending;
} sort_by; /* qsort takes no context; ringtop sorts from one thread */

/* The value lane i sorts by; unknown rates sort below every known one. */
static double sort_key(const struct rt_view *v, uint32_t i, enum rt_col c)
{
	const struct rt_lane *l = &v->cur.lanes[i];
	const struct rt_lane_rates *r = &v->rates[i];
	switch (c) {
	case RT_COL_LANE:
		return l->id;
	case RT_COL_CLIENT:
		return (double)l->client_id;
	case RT_COL_PID:
		return l->pid;
	case RT_COL_AGE:
		return age_s(&v->cur, l);
	case RT_COL_CMD:
		return r->valid ? r->cmd : -1;
	case RT_COL_RES:
		return r->valid ? r->res : -1;
	case RT_COL_DEPTH:
		return (double)depth(l);
	case RT_COL_HELD:
		return l->held;
	case RT_COL_FULL:
		return r->valid ? r->full : -1;
	case RT_COL_WAKES:
		return r->valid ? r->wakes : -1;
	case RT_COL_P50:
		return r->valid ? r->p50_ns : -1;
	case RT_COL_P99:
		return r->valid ? r->p99_ns : -1;
	case RT_COL_TOTAL:
		return (double)l->commands;
	default:
		return 0;
	}
}

static int compare(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const struct rt_view *v = sort_by.v;
	int r;
	if (sort_by.col == RT_COL_NAME) {
		r = strcmp(v->cur.lanes[a].name, v->cur.lanes[b].name);
	} else {
		double ka = sort_key(v, a, sort_by.col), kb = sort_key(v, b, sort_by.col);
		r = ka < kb ? -1 : ka > kb ? 1 : 0;
	}
	if (!sort_by.ascending) {
		r = -r;
	}
	/* Ties in lane order, so that rows do not swap places from one refresh to the next. */
	return r ? r : v->cur.lanes[a].id < v->cur.lanes[b].id ? -1 : 1;
}

void rt_sort(const struct rt_view *v, uint32_t *idx, uint32_t n, enum rt_col c, bool ascending)
{
	sort_by.v = v;
	sort_by.col = c;
	sort_by.ascending = ascending;
	qsort(idx, n, sizeof(idx[0]), compare);
}

/* strstr without regard to case. */
static bool contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] &&
		       tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) {
			i++;
		}
		if (i == n) {
			return true;
		}
	}
	return n == 0;
}

bool rt_match(const struct rt_view *v, uint32_t i, const char *filter)
{
	if (!filter || !filter[0]) {
		return true;
	}
	char pid[16];
	snprintf(pid, sizeof(pid), "%" PRId32, v->cur.lanes[i].pid);
	return contains(v->cur.lanes[i].name, filter) || contains(pid, filter);
}

/* ---- --once ---- */

/* A rate, or null before there are two samples. */
static void json_rate(FILE *f, const char *key, bool known, double v)
{
	if (known && !isnan(v) && v >= 0) {
		fprintf(f, "\"%s\":%.3f", key, v);
	} else {
		fprintf(f, "\"%s\":null", key);
	}
}

static void json_hist(FILE *f, const char *key, const uint64_t *h)
{
	fprintf(f, "\"%s\":[", key);
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		fprintf(f, "%s%" PRIu64, i ? "," : "", h[i]);
	}
	fputc(']', f);
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			fprintf(f, "\\%c", ch);
		} else if (ch < 0x20 || ch >= 0x7f) {
			fprintf(f, "\\u%04x", ch);
		} else {
			fputc(ch, f);
		}
	}
	fputc('"', f);
}

void rt_print_json(FILE *f, const struct rt_view *v, const char *socket, double interval_s,
		   bool alive)
{
	const struct rt_sample *s = &v->cur;
	bool k = v->have_prev;
	fputs("{\"socket\":", f);
	json_str(f, socket);
	fprintf(f, ",\"interval_s\":%.3f,\"alive\":%s,", v->dt_s > 0 ? v->dt_s : interval_s,
		alive ? "true" : "false");

	fprintf(f,
		"\"daemon\":{\"pid\":%" PRIu32 ",\"state\":\"%s\",\"uptime_s\":%.3f,"
		"\"boot_epoch_ns\":%" PRIu64 ",\"apply_cpu\":%" PRId32 ",\"numa_node\":%" PRId32
		",\"max_lanes\":%" PRIu32 ",\"metrics\":%s,",
		s->daemon_pid, rt_state_name(s->daemon_state), uptime_s(s), s->boot_epoch_ns,
		s->apply_cpu, s->numa_node, s->max_lanes, s->metrics ? "true" : "false");
	if (s->metrics) {
		fprintf(f,
			"\"rss_bytes\":%" PRIu64 ",\"cpu_ns\":%" PRIu64 ",\"apply_cpu_ns\":%" PRIu64
			",",
			s->dm.rss_bytes, s->dm.cpu_ns, s->dm.apply_cpu_ns);
		json_rate(f, "cpu_pct", true, v->cpu.pct);
		fputc(',', f);
		json_rate(f, "apply_cpu_pct", true, v->cpu.apply_pct);
		fputc(',', f);
	}
	const struct cairn_daemon_counters *c = &s->counters;
	fprintf(f,
		"\"counters\":{\"lanes_attached\":%" PRIu64 ",\"lanes_active\":%" PRIu64
		",\"lanes_reclaimed\":%" PRIu64 ",\"lanes_dropped\":%" PRIu64
		",\"attach_refused\":%" PRIu64 ",\"commands\":%" PRIu64 ",\"results\":%" PRIu64
		",\"errors\":%" PRIu64 ",\"result_ring_full\":%" PRIu64 ",\"sleeps\":%" PRIu64
		",\"wakes_sent\":%" PRIu64 "},",
		c->lanes_attached, c->lanes_active, c->lanes_reclaimed, c->lanes_dropped,
		c->attach_refused, c->commands, c->results, c->errors, c->result_ring_full,
		c->sleeps, c->wakes_sent);
	json_rate(f, "commands_per_s", k, v->cmd_s);
	fputc(',', f);
	json_rate(f, "results_per_s", k, v->res_s);
	fputc(',', f);
	json_rate(f, "errors_per_s", k, v->err_s);
	fputc(',', f);
	json_rate(f, "result_ring_full_per_s", k, v->full_s);
	fputs("},", f);

	if (s->metrics) {
		const struct cairn_wal_metrics *w = &s->wal;
		fprintf(f,
			"\"wal\":{\"backend\":\"%s\",\"durability\":\"%s\",\"appended_lsn\":"
			"%" PRIu64 ",\"durable_lsn\":%" PRIu64 ",\"lag\":%" PRIu64
			",\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"batches\":%" PRIu64
			",\"sync_ns_sum\":%" PRIu64 ",\"sync_ns_max\":%" PRIu64
			",\"snapshot_lsn\":%" PRIu64 ",\"error\":%" PRId32 ",",
			rt_backend_name(w->backend), rt_durability_name(w->durability),
			w->appended_lsn, w->durable_lsn,
			w->appended_lsn >= w->durable_lsn ? w->appended_lsn - w->durable_lsn : 0,
			w->records, w->bytes, w->batches, w->sync_ns_sum, w->sync_ns_max,
			w->snapshot_lsn, w->error);
		json_hist(f, "sync_hist", w->sync_hist);
		fputc(',', f);
		json_rate(f, "records_per_s", k, v->wal_rec_s);
		fputc(',', f);
		json_rate(f, "bytes_per_s", k, v->wal_bytes_s);
		fputc(',', f);
		json_rate(f, "mb_per_s", k, v->wal_bytes_s / 1e6);
		fputc(',', f);
		json_rate(f, "batches_per_s", k, v->wal_batches_s);
		fputc(',', f);
		json_rate(f, "sync_p50_ns", k, v->sync_p50_ns);
		fputc(',', f);
		json_rate(f, "sync_p99_ns", k, v->sync_p99_ns);
		fputs("},", f);
	} else {
		fputs("\"wal\":null,", f);
	}

	const struct cairn_engine_counters *e = &s->engine;
	fputs("\"engine\":{", f);
	if (s->has_grid) {
		fprintf(f, "\"hunts\":%" PRIu32 ",\"entities\":%" PRIu32 ",", s->hunts,
			s->entities);
	} else {
		fputs("\"hunts\":null,\"entities\":null,", f);
	}
	fprintf(f,
		"\"applied\":%" PRIu64 ",\"moves\":%" PRIu64 ",\"claims\":%" PRIu64
		",\"lost\":%" PRIu64 ",\"events\":%" PRIu64 ",\"rejected\":%" PRIu64 ",",
		e->applied, e->moves, e->claims, e->lost, e->events, e->rejected);
	json_rate(f, "commands_per_s", k, v->cmd_s);
	fputc(',', f);
	json_rate(f, "applied_per_s", k, v->applied_s);
	fputc(',', f);
	json_rate(f, "moves_per_s", k, v->moves_s);
	fputc(',', f);
	json_rate(f, "claims_per_s", k, v->claims_s);
	fputc(',', f);
	json_rate(f, "rejected_per_s", k, v->rejected_s);
	if (s->metrics) {
		fprintf(f,
			",\"solver_jobs\":%" PRIu64 ",\"solver_inline\":%" PRIu64
			",\"solver_out\":%" PRIu32 ",\"solver_threads\":%" PRIu32,
			s->dm.solver_jobs, s->dm.solver_inline, s->dm.solver_out,
			s->dm.solver_threads);
	}
	fputs("},", f);

	fputs("\"lanes\":[", f);
	for (uint32_t i = 0; i < s->n_lanes; i++) {
		const struct rt_lane *l = &s->lanes[i];
		const struct rt_lane_rates *r = &v->rates[i];
		fprintf(f,
			"%s{\"lane\":%" PRIu32 ",\"client_id\":%" PRIu64 ",\"pid\":%" PRId32
			",\"uid\":%" PRIu32 ",\"gid\":%" PRIu32 ",\"name\":",
			i ? "," : "", l->id, l->client_id, l->pid, l->uid, l->gid);
		json_str(f, l->name);
		fprintf(f,
			",\"age_s\":%.3f,\"session_id\":%" PRIu64 ",\"cmd_capacity\":%" PRIu32
			",\"res_capacity\":%" PRIu32 ",\"commands\":%" PRIu64
			",\"results\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"full\":%" PRIu64
			",\"wakes\":%" PRIu64 ",\"cmd_pushed\":%" PRIu64 ",\"res_popped\":%" PRIu64
			",\"depth\":%" PRIu64 ",\"held\":%" PRIu32 ",\"solving\":%" PRIu32
			",\"wait_ns_sum\":%" PRIu64 ",",
			age_s(s, l), l->session_id, l->cmd_capacity, l->res_capacity, l->commands,
			l->results, l->errors, l->full, l->wakes, l->cmd_pushed, l->res_popped,
			depth(l), l->held, l->solving, l->wait_ns_sum);
		json_hist(f, "wait_hist", l->wait_hist);
		fprintf(f, ",\"rates_valid\":%s,", r->valid ? "true" : "false");
		json_rate(f, "commands_per_s", r->valid, r->cmd);
		fputc(',', f);
		json_rate(f, "results_per_s", r->valid, r->res);
		fputc(',', f);
		json_rate(f, "errors_per_s", r->valid, r->err);
		fputc(',', f);
		json_rate(f, "full_per_s", r->valid, r->full);
		fputc(',', f);
		json_rate(f, "wakes_per_s", r->valid, r->wakes);
		fputc(',', f);
		json_rate(f, "wait_p50_ns", r->valid, r->p50_ns);
		fputc(',', f);
		json_rate(f, "wait_p99_ns", r->valid, r->p99_ns);
		fputc('}', f);
	}
	fputs("]}\n", f);
}

void rt_print_text(FILE *f, const struct rt_view *v, double interval_s, int width)
{
	char buf[1024];
	size_t len = (size_t)width + 1 < sizeof(buf) ? (size_t)width + 1 : sizeof(buf);
	for (unsigned i = 0; i < RT_HEADER_LINES; i++) {
		rt_header_line(v, interval_s, i, width, buf, len);
		fprintf(f, "%s\n", buf);
	}
	if (!v->cur.metrics) {
		fprintf(f, "\n(no lane metrics: cairnd runs with --metrics off)\n");
		return;
	}
	struct rt_layout l;
	rt_layout_fit(&l, width);
	rt_table_title(&l, buf, len);
	fprintf(f, "\n%s\n", buf);
	uint32_t n = v->cur.n_lanes;
	uint32_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!idx) {
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		idx[i] = i;
	}
	rt_sort(v, idx, n, RT_COL_CMD, false);
	for (uint32_t i = 0; i < n; i++) {
		rt_table_row(&l, v, idx[i], buf, len);
		fprintf(f, "%s\n", buf);
	}
	if (n == 0) {
		fprintf(f, "(no clients attached)\n");
	}
	free(idx);
}
