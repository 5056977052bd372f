/*
 * The report of one benchmark: what machine, where each thread ran, with which
 * settings, the measured rows, and the targets they are held against. A benchmark
 * fills it while it measures and prints it once at the end, either as aligned tables
 * for a person or as one JSON object for a program. Nothing is printed before the end,
 * so progress on stderr never interleaves with the result on stdout.
 */
#ifndef CAIRN_BENCH_REPORT_H
#define CAIRN_BENCH_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "machine.h"
#include "stats.h"

#define REPORT_MAX_FIELDS  12
#define REPORT_MAX_SERIES  100
#define REPORT_MAX_ROWS    40
#define REPORT_MAX_TABLES  12
#define REPORT_MAX_KV      24
#define REPORT_MAX_LINES   32
#define REPORT_MAX_TARGETS 10

/* How a value is shown. JSON always carries the raw number; the key names the unit. */
enum report_unit {
	REPORT_NS,      /* nanoseconds, shown scaled: 183 ns, 45.2 µs, 1.20 ms */
	REPORT_MPS,     /* millions of messages per second */
	REPORT_PER_S,   /* operations per second, shown scaled: 5.21 M/s */
	REPORT_PCT,     /* percent of one core */
	REPORT_RATIO,   /* how many times: 312× */
	REPORT_COUNT,   /* a whole number */
	REPORT_BYTES,   /* bytes, shown scaled: 61.3 MiB */
	REPORT_PERCENT, /* a plain percentage (of anything but a core): 3.21 % */
};

/* A target is met when value OP limit. */
enum report_op {
	REPORT_AT_MOST,  /* <= */
	REPORT_BELOW,    /* <  */
	REPORT_AT_LEAST, /* >= */
};

struct report_field {
	const char *key;   /* JSON key, with its unit: "p50_ns" */
	const char *label; /* column header: "p50" */
	enum report_unit unit;
	double value; /* NaN: not available */
};

struct report_row {
	unsigned table;
	char name[64];
	unsigned nfields;
	struct report_field f[REPORT_MAX_FIELDS];
	bool has_cdf; /* cdf holds the distribution at stats_cdf_ppm (JSON only) */
	uint64_t cdf[STATS_CDF_POINTS];
	const char *series_key; /* optional: every run's value, JSON only */
	unsigned nseries;
	double series[REPORT_MAX_SERIES];
};

struct report_table {
	char title[64];
	bool text; /* shown as a table in text output (else JSON only) */
};

struct report_kv {
	char key[48];   /* JSON key */
	char label[64]; /* text label */
	char str[256];  /* value, when a string */
	double num;     /* value, when a number */
	bool is_num;
};

struct report_target {
	char what[64];
	enum report_unit unit;
	enum report_op op;
	double limit;
	double value;
	bool measured; /* false: could not be measured here (shown, never "missed") */
	bool met;
	char how[96]; /* optional: what the figure was measured against */
};

struct report {
	const char *bench;
	char title[128];
	struct machine machine;
	struct report_kv placement[REPORT_MAX_KV];
	unsigned nplacement;
	struct report_kv params[REPORT_MAX_KV];
	unsigned nparams;
	struct report_table tables[REPORT_MAX_TABLES];
	unsigned ntables;
	struct report_row rows[REPORT_MAX_ROWS];
	unsigned nrows;
	char lines[REPORT_MAX_LINES][256];
	unsigned nlines;
	struct report_target targets[REPORT_MAX_TARGETS];
	unsigned ntargets;
};

/* Starts a report of benchmark bench ("ring") on machine m (copied). */
void report_init(struct report *r, const char *bench, const char *title, const struct machine *m);

/* Says that who ran on cpus ("1", "0-1", "not pinned"). */
__attribute__((format(printf, 3, 4))) void report_placement(struct report *r, const char *who,
							    const char *fmt, ...);

/* A setting of the run: a number or a string. */
void report_param_num(struct report *r, const char *key, const char *label, double v);
__attribute__((format(printf, 4, 5))) void
report_param_str(struct report *r, const char *key, const char *label, const char *fmt, ...);

/* Adds a table; text = false keeps its rows out of the text output. Returns its index. */
unsigned report_table(struct report *r, const char *title, bool text);

/* Adds a row to table; fill it with report_field. Never NULL (rows are bounded). */
struct report_row *report_row(struct report *r, unsigned table, const char *name);

/* Appends a field; key and label must be string literals (they are not copied). */
void report_field(struct report_row *row, const char *key, const char *label, enum report_unit unit,
		  double value);

/*
 * Adds a row to table with the fields of latency summary s: samples, p50, p90, p99,
 * p99.9, max and mean, and (in JSON, as "cdf_ns") its distribution. Returns the row, so
 * the caller may append more fields.
 */
struct report_row *report_latency_row(struct report *r, unsigned table, const char *name,
				      const struct latency_summary *s);

/* A line of text shown after the tables (text output only). */
__attribute__((format(printf, 2, 3))) void report_line(struct report *r, const char *fmt, ...);

/*
 * Holds value against a target. measured = false records the target as not measured
 * here. Returns the target, so the caller may fill in how.
 */
struct report_target *report_target(struct report *r, const char *what, enum report_unit unit,
				    enum report_op op, double limit, double value, bool measured);

/*
 * Says where each thread of process pid may run, as /proc says: one placement entry
 * per thread (at most 8), named "<who> thread <name> (tid N)".
 */
void report_place_threads(struct report *r, const char *who, pid_t pid);

/* Formats v in unit for text output into buf. */
void report_format(enum report_unit unit, double v, char *buf, size_t len);

/* Prints the report as text tables or as one JSON object. */
void report_print(const struct report *r, FILE *f, bool json);

/* How many measured targets were missed; with print, names each on stderr. */
unsigned report_missed(const struct report *r, bool print);

#endif
