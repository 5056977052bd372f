#include "report.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* NaN marks a figure that is not available; isnan and NAN are macros, no libm needed. */
#define NOT_AVAILABLE(v) isnan(v)

void report_init(struct report *r, const char *bench, const char *title, const struct machine *m)
{
	memset(r, 0, sizeof(*r));
	r->bench = bench;
	snprintf(r->title, sizeof(r->title), "%s", title);
	r->machine = *m;
}

static struct report_kv *add_kv(struct report_kv *kv, unsigned *n, const char *key,
				const char *label)
{
	/* The benchmarks add a fixed, small number of entries: running out is a bug here. */
	assert(*n < REPORT_MAX_KV);
	struct report_kv *e = &kv[(*n)++];
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->label, sizeof(e->label), "%s", label);
	return e;
}

void report_placement(struct report *r, const char *who, const char *fmt, ...)
{
	struct report_kv *e = add_kv(r->placement, &r->nplacement, who, who);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->str, sizeof(e->str), fmt, ap);
	va_end(ap);
}

void report_param_num(struct report *r, const char *key, const char *label, double v)
{
	struct report_kv *e = add_kv(r->params, &r->nparams, key, label);
	e->num = v;
	e->is_num = true;
}

void report_param_str(struct report *r, const char *key, const char *label, const char *fmt, ...)
{
	struct report_kv *e = add_kv(r->params, &r->nparams, key, label);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->str, sizeof(e->str), fmt, ap);
	va_end(ap);
}

unsigned report_table(struct report *r, const char *title, bool text)
{
	assert(r->ntables < REPORT_MAX_TABLES);
	struct report_table *t = &r->tables[r->ntables];
	snprintf(t->title, sizeof(t->title), "%s", title);
	t->text = text;
	return r->ntables++;
}

struct report_row *report_row(struct report *r, unsigned table, const char *name)
{
	assert(r->nrows < REPORT_MAX_ROWS && table < r->ntables);
	struct report_row *row = &r->rows[r->nrows++];
	row->table = table;
	snprintf(row->name, sizeof(row->name), "%s", name);
	return row;
}

void report_field(struct report_row *row, const char *key, const char *label, enum report_unit unit,
		  double value)
{
	assert(row->nfields < REPORT_MAX_FIELDS);
	row->f[row->nfields++] = (struct report_field){key, label, unit, value};
}

struct report_row *report_latency_row(struct report *r, unsigned table, const char *name,
				      const struct latency_summary *s)
{
	struct report_row *row = report_row(r, table, name);
	report_field(row, "samples", "samples", REPORT_COUNT, (double)s->n);
	report_field(row, "p50_ns", "p50", REPORT_NS, (double)s->p50);
	report_field(row, "p90_ns", "p90", REPORT_NS, (double)s->p90);
	report_field(row, "p99_ns", "p99", REPORT_NS, (double)s->p99);
	report_field(row, "p999_ns", "p99.9", REPORT_NS, (double)s->p999);
	report_field(row, "max_ns", "max", REPORT_NS, (double)s->max);
	report_field(row, "mean_ns", "mean", REPORT_NS, s->mean);
	if (s->n > 0) {
		row->has_cdf = true;
		memcpy(row->cdf, s->cdf, sizeof(row->cdf));
	}
	return row;
}

void report_line(struct report *r, const char *fmt, ...)
{
	assert(r->nlines < REPORT_MAX_LINES);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->lines[r->nlines++], sizeof(r->lines[0]), fmt, ap);
	va_end(ap);
}

struct report_target *report_target(struct report *r, const char *what, enum report_unit unit,
				    enum report_op op, double limit, double value, bool measured)
{
	assert(r->ntargets < REPORT_MAX_TARGETS);
	struct report_target *t = &r->targets[r->ntargets++];
	memset(t, 0, sizeof(*t));
	snprintf(t->what, sizeof(t->what), "%s", what);
	t->unit = unit;
	t->op = op;
	t->limit = limit;
	t->value = value;
	t->measured = measured && !NOT_AVAILABLE(value);
	switch (op) {
	case REPORT_AT_MOST:
		t->met = t->measured && value <= limit;
		break;
	case REPORT_BELOW:
		t->met = t->measured && value < limit;
		break;
	case REPORT_AT_LEAST:
		t->met = t->measured && value >= limit;
		break;
	}
	return t;
}

/* "CPU 1" or "CPUs 0-1", from a /proc CPU list. */
static const char *cpus_noun(const char *list)
{
	return strpbrk(list, ",-") ? "CPUs" : "CPU";
}

void report_place_threads(struct report *r, const char *who, pid_t pid)
{
	char path[64], label[96], cpus[64], name[32];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d) {
		report_placement(r, who, "unknown (%s: %s)", path, strerror(errno));
		return;
	}
	struct dirent *e;
	unsigned n = 0;
	while ((e = readdir(d)) && n < 8) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid <= 0 ||
		    machine_thread_cpus(pid, tid, cpus, sizeof(cpus), name, sizeof(name)) < 0) {
			continue;
		}
		snprintf(label, sizeof(label), "%s thread %s (tid %d)", who, name, (int)tid);
		report_placement(r, label, "%s %s", cpus_noun(cpus), cpus);
		n++;
	}
	closedir(d);
}

/* ---- text ---- */

void report_format(enum report_unit unit, double v, char *buf, size_t len)
{
	if (NOT_AVAILABLE(v)) {
		snprintf(buf, len, "n/a");
		return;
	}
	switch (unit) {
	case REPORT_NS:
		/* Three significant digits in the largest unit that keeps the integer part. */
		if (v < 1e3) {
			snprintf(buf, len, "%.0f ns", v);
		} else if (v < 1e6) {
			snprintf(buf, len,
				 v < 1e4   ? "%.2f µs"
				 : v < 1e5 ? "%.1f µs"
					   : "%.0f µs",
				 v / 1e3);
		} else if (v < 1e9) {
			snprintf(buf, len,
				 v < 1e7   ? "%.2f ms"
				 : v < 1e8 ? "%.1f ms"
					   : "%.0f ms",
				 v / 1e6);
		} else {
			snprintf(buf, len, "%.2f s", v / 1e9);
		}
		break;
	case REPORT_MPS:
		snprintf(buf, len, "%.2f M/s", v);
		break;
	case REPORT_PER_S:
		if (v < 1e3) {
			snprintf(buf, len, "%.0f /s", v);
		} else if (v < 1e6) {
			snprintf(buf, len, "%.1f k/s", v / 1e3);
		} else {
			snprintf(buf, len, "%.2f M/s", v / 1e6);
		}
		break;
	case REPORT_PCT:
		snprintf(buf, len,
			 v != 0 && v < 0.1 ? "%.3f %%"
			 : v < 10          ? "%.2f %%"
					   : "%.1f %%",
			 v);
		break;
	case REPORT_RATIO:
		snprintf(buf, len, v < 1 ? "%.3f×" : v < 10 ? "%.1f×" : "%.0f×", v);
		break;
	case REPORT_COUNT:
		snprintf(buf, len, "%.0f", v);
		break;
	case REPORT_BYTES:
		if (v < 1024) {
			snprintf(buf, len, "%.0f B", v);
		} else if (v < 1024 * 1024) {
			snprintf(buf, len, "%.1f KiB", v / 1024);
		} else if (v < 1024.0 * 1024 * 1024) {
			snprintf(buf, len, "%.1f MiB", v / (1024 * 1024));
		} else {
			snprintf(buf, len, "%.2f GiB", v / (1024.0 * 1024 * 1024));
		}
		break;
	case REPORT_PERCENT:
		snprintf(buf, len, "%.2f %%", v);
		break;
	}
}

/* Columns a UTF-8 string takes on a terminal: its bytes that start a character. */
static int width(const char *s)
{
	int w = 0;
	for (; *s; s++) {
		w += ((unsigned char)*s & 0xC0) != 0x80;
	}
	return w;
}

/* Prints s in a column of w characters, padded on the left (right-aligned) or right. */
static void pad(FILE *f, const char *s, int w, bool right)
{
	int n = w - width(s);
	if (right) {
		fprintf(f, "%*s%s", n > 0 ? n : 0, "", s);
	} else {
		fprintf(f, "%s%*s", s, n > 0 ? n : 0, "");
	}
}

static const char *op_text(enum report_op op)
{
	return op == REPORT_AT_MOST ? "≤" : op == REPORT_BELOW ? "<" : "≥";
}

static void print_kv_block(FILE *f, const char *heading, const struct report_kv *kv, unsigned n)
{
	int w = 0;
	for (unsigned i = 0; i < n; i++) {
		w = width(kv[i].label) > w ? width(kv[i].label) : w;
	}
	for (unsigned i = 0; i < n; i++) {
		char num[64];
		const char *v = kv[i].str;
		if (kv[i].is_num) {
			snprintf(num, sizeof(num), "%.0f", kv[i].num);
			v = num;
		}
		pad(f, i == 0 ? heading : "", 11, false);
		pad(f, kv[i].label, w, false);
		fprintf(f, "  %s\n", v);
	}
}

static void print_table(const struct report *r, FILE *f, unsigned t)
{
	const struct report_row *first = NULL;
	int name_w = width(r->tables[t].title);
	int col_w[REPORT_MAX_FIELDS] = {0};
	char cell[64];

	for (unsigned i = 0; i < r->nrows; i++) {
		const struct report_row *row = &r->rows[i];
		if (row->table != t) {
			continue;
		}
		first = first ? first : row;
		name_w = width(row->name) > name_w ? width(row->name) : name_w;
		for (unsigned j = 0; j < row->nfields; j++) {
			report_format(row->f[j].unit, row->f[j].value, cell, sizeof(cell));
			col_w[j] = width(cell) > col_w[j] ? width(cell) : col_w[j];
			col_w[j] = width(row->f[j].label) > col_w[j] ? width(row->f[j].label)
								     : col_w[j];
		}
	}
	if (!first) {
		return;
	}
	/* The header comes from the table's first row: rows of a table share their columns. */
	pad(f, r->tables[t].title, name_w, false);
	for (unsigned j = 0; j < first->nfields; j++) {
		fputs("   ", f);
		pad(f, first->f[j].label, col_w[j], true);
	}
	fputc('\n', f);
	for (unsigned i = 0; i < r->nrows; i++) {
		const struct report_row *row = &r->rows[i];
		if (row->table != t) {
			continue;
		}
		pad(f, row->name, name_w, false);
		for (unsigned j = 0; j < row->nfields; j++) {
			report_format(row->f[j].unit, row->f[j].value, cell, sizeof(cell));
			fputs("   ", f);
			pad(f, cell, col_w[j], true);
		}
		fputc('\n', f);
	}
	fputc('\n', f);
}

static void print_targets(const struct report *r, FILE *f)
{
	char what[REPORT_MAX_TARGETS][160];
	char value[REPORT_MAX_TARGETS][64];
	int what_w = 0, value_w = 0;

	if (r->ntargets == 0) {
		return;
	}
	for (unsigned i = 0; i < r->ntargets; i++) {
		const struct report_target *t = &r->targets[i];
		char limit[64];
		report_format(t->unit, t->limit, limit, sizeof(limit));
		snprintf(what[i], sizeof(what[i]), "%s %s %s", t->what, op_text(t->op), limit);
		report_format(t->unit, t->measured ? t->value : (double)NAN, value[i],
			      sizeof(value[i]));
		what_w = width(what[i]) > what_w ? width(what[i]) : what_w;
		value_w = width(value[i]) > value_w ? width(value[i]) : value_w;
	}
	fprintf(f, "targets (the issue's, for a 2-core machine)\n");
	for (unsigned i = 0; i < r->ntargets; i++) {
		const struct report_target *t = &r->targets[i];
		fputs("  ", f);
		pad(f, what[i], what_w, false);
		fputs("   ", f);
		pad(f, value[i], value_w, true);
		fprintf(f, "   %s", !t->measured ? "not measured" : t->met ? "met" : "MISSED");
		if (t->how[0]) {
			fprintf(f, "  (%s)", t->how);
		}
		fputc('\n', f);
	}
}

static void print_text(const struct report *r, FILE *f)
{
	const struct machine *m = &r->machine;
	char cpus[256];

	machine_format_cpus(&m->usable, cpus, sizeof(cpus));
	fprintf(f, "cairn-bench %s: %s\n\n", r->bench, r->title);
	fprintf(f, "machine    %s%s, %ld online CPUs (this process may use %d: %s), %s\n",
		m->cpu_model, m->virtualized ? " (virtualized)" : "", m->online_cpus,
		m->usable_count, cpus, m->kernel);
	if (m->busy_pct >= 0) {
		fprintf(f, "           %.0f %% of all CPUs busy just before the run%s\n",
			m->busy_pct,
			m->busy_pct >= 10 ? " (something else runs: figures may suffer)" : "");
	}
	print_kv_block(f, "placement", r->placement, r->nplacement);
	print_kv_block(f, "settings", r->params, r->nparams);
	fputc('\n', f);
	for (unsigned t = 0; t < r->ntables; t++) {
		if (r->tables[t].text) {
			print_table(r, f, t);
		}
	}
	for (unsigned i = 0; i < r->nlines; i++) {
		fprintf(f, "%s\n", r->lines[i]);
	}
	if (r->nlines) {
		fputc('\n', f);
	}
	print_targets(r, f);
}

/* ---- JSON ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
		} else {
			fputc(c, f); /* UTF-8 passes through: JSON text is UTF-8 */
		}
	}
	fputc('"', f);
}

static void json_num(FILE *f, double v)
{
	if (NOT_AVAILABLE(v)) {
		fputs("null", f);
	} else if (v >= 1e5 || v <= -1e5 || v == (double)(long long)v) {
		/* Nanoseconds and counts are whole; large rates need no fraction either. */
		fprintf(f, "%.0f", v);
	} else {
		fprintf(f, "%.6g", v);
	}
}

static const char *unit_name(enum report_unit u)
{
	switch (u) {
	case REPORT_NS:
		return "ns";
	case REPORT_MPS:
		return "M msgs/s";
	case REPORT_PER_S:
		return "per s";
	case REPORT_PCT:
		return "% of a core";
	case REPORT_RATIO:
		return "times";
	case REPORT_COUNT:
		return "count";
	case REPORT_BYTES:
		return "bytes";
	case REPORT_PERCENT:
		return "%";
	}
	return "?";
}

static void json_kv_object(FILE *f, const struct report_kv *kv, unsigned n)
{
	fputc('{', f);
	for (unsigned i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		json_str(f, kv[i].key);
		fputs(": ", f);
		if (kv[i].is_num) {
			json_num(f, kv[i].num);
		} else {
			json_str(f, kv[i].str);
		}
	}
	fputc('}', f);
}

static void print_json(const struct report *r, FILE *f)
{
	const struct machine *m = &r->machine;
	char cpus[256];

	machine_format_cpus(&m->usable, cpus, sizeof(cpus));
	fputs("{\n  \"tool\": \"cairn-bench\",\n  \"version\": ", f);
	json_str(f, CAIRN_VERSION);
	fputs(",\n  \"benchmark\": ", f);
	json_str(f, r->bench);
	fputs(",\n  \"title\": ", f);
	json_str(f, r->title);
	fputs(",\n  \"machine\": {\"cpu_model\": ", f);
	json_str(f, m->cpu_model);
	fprintf(f, ", \"virtualized\": %s, \"online_cpus\": %ld, \"usable_cpus\": ",
		m->virtualized ? "true" : "false", m->online_cpus);
	json_str(f, cpus);
	fputs(", \"kernel\": ", f);
	json_str(f, m->kernel);
	fputs(", \"busy_pct_before_run\": ", f);
	json_num(f, m->busy_pct >= 0 ? m->busy_pct : (double)NAN);
	fputs("},\n  \"placement\": [", f);
	for (unsigned i = 0; i < r->nplacement; i++) {
		fputs(i ? ",\n    {\"who\": " : "\n    {\"who\": ", f);
		json_str(f, r->placement[i].label);
		fputs(", \"cpus\": ", f);
		json_str(f, r->placement[i].str);
		fputc('}', f);
	}
	fputs("\n  ],\n  \"cdf_quantiles\": [", f);
	for (unsigned i = 0; i < STATS_CDF_POINTS; i++) {
		fprintf(f, "%s%.6f", i ? ", " : "", stats_cdf_ppm[i] / 1e6);
	}
	fputs("],\n  \"parameters\": ", f);
	json_kv_object(f, r->params, r->nparams);
	fputs(",\n  \"rows\": [", f);
	for (unsigned i = 0; i < r->nrows; i++) {
		const struct report_row *row = &r->rows[i];
		fputs(i ? ",\n    {\"table\": " : "\n    {\"table\": ", f);
		json_str(f, r->tables[row->table].title);
		fputs(", \"name\": ", f);
		json_str(f, row->name);
		for (unsigned j = 0; j < row->nfields; j++) {
			fputs(", ", f);
			json_str(f, row->f[j].key);
			fputs(": ", f);
			json_num(f, row->f[j].value);
		}
		if (row->has_cdf) {
			fputs(", \"cdf_ns\": [", f);
			for (unsigned j = 0; j < STATS_CDF_POINTS; j++) {
				fprintf(f, "%s%llu", j ? ", " : "",
					(unsigned long long)row->cdf[j]);
			}
			fputc(']', f);
		}
		if (row->series_key) {
			fputs(", ", f);
			json_str(f, row->series_key);
			fputs(": [", f);
			for (unsigned j = 0; j < row->nseries; j++) {
				fputs(j ? ", " : "", f);
				json_num(f, row->series[j]);
			}
			fputc(']', f);
		}
		fputc('}', f);
	}
	fputs("\n  ],\n  \"targets\": [", f);
	for (unsigned i = 0; i < r->ntargets; i++) {
		const struct report_target *t = &r->targets[i];
		fputs(i ? ",\n    {\"what\": " : "\n    {\"what\": ", f);
		json_str(f, t->what);
		fprintf(f, ", \"op\": \"%s\", \"limit\": ",
			t->op == REPORT_AT_MOST ? "<="
			: t->op == REPORT_BELOW ? "<"
						: ">=");
		json_num(f, t->limit);
		fputs(", \"unit\": ", f);
		json_str(f, unit_name(t->unit));
		fputs(", \"value\": ", f);
		json_num(f, t->measured ? t->value : (double)NAN);
		fprintf(f, ", \"measured\": %s, \"met\": %s", t->measured ? "true" : "false",
			t->met ? "true" : "false");
		if (t->how[0]) {
			fputs(", \"how\": ", f);
			json_str(f, t->how);
		}
		fputc('}', f);
	}
	fprintf(f, "\n  ],\n  \"targets_met\": %s\n}\n",
		report_missed(r, false) ? "false" : "true");
}

void report_print(const struct report *r, FILE *f, bool json)
{
	if (json) {
		print_json(r, f);
	} else {
		print_text(r, f);
	}
	fflush(f);
}

unsigned report_missed(const struct report *r, bool print)
{
	unsigned missed = 0;
	for (unsigned i = 0; i < r->ntargets; i++) {
		const struct report_target *t = &r->targets[i];
		if (!t->measured || t->met) {
			continue;
		}
		missed++;
		if (print) {
			char limit[64], value[64];
			report_format(t->unit, t->limit, limit, sizeof(limit));
			report_format(t->unit, t->value, value, sizeof(value));
			fprintf(stderr, "cairn-bench %s: target missed: %s %s %s (measured %s)\n",
				r->bench, t->what, op_text(t->op), limit, value);
		}
	}
	return missed;
}
