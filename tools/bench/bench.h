/*
 * cairn-bench: the benchmarks behind the figures of DESIGN.md, measured on the machine
 * it runs on. One subcommand per benchmark; each parses its own flags and prints one
 * report on stdout (text or JSON) and its progress on stderr.
 */
#ifndef CAIRN_BENCH_BENCH_H
#define CAIRN_BENCH_BENCH_H

#include <stdint.h>

/* Exit statuses of every subcommand. */
#define BENCH_OK    0 /* measured (and, with --check, every target met) */
#define BENCH_FAIL  1 /* a measurement failed or was wrong, or --check found a missed target */
#define BENCH_USAGE 2 /* bad flags */
#define BENCH_SKIP  77 /* the data it measures is not there (meson's skip status) */

/* The subcommands: argv[0] is "cairn-bench <name>", the flags follow. */
int bench_ring_main(int argc, char **argv);
int bench_rtt_main(int argc, char **argv);
int bench_engine_main(int argc, char **argv);
int bench_e2e_main(int argc, char **argv);
int bench_wal_main(int argc, char **argv);
int bench_solver_main(int argc, char **argv);
int bench_bindings_main(int argc, char **argv);
int bench_metrics_main(int argc, char **argv);
int bench_baselines_main(int argc, char **argv);
int bench_scale_main(int argc, char **argv);

/*
 * Parses the value of a numeric flag: a whole number, optionally with a k (thousand)
 * or M (million) suffix, within [lo, hi]. On error prints which flag and why, naming
 * cmd ("ring"), and returns -EINVAL.
 */
int bench_parse_count(const char *cmd, const char *flag, const char *s, uint64_t lo, uint64_t hi,
		      uint64_t *out);

/* Parses the value of a CPU flag (0 to CPU_SETSIZE - 1) into *out, as bench_parse_count. */
int bench_parse_cpu(const char *cmd, const char *flag, const char *s, int *out);

struct machine;

/*
 * Chooses the CPUs of the two pinned sides of a benchmark, *a and *b, each -1 unless
 * its flag (flag_a, flag_b: "--host-cpu") asked for one. With one usable CPU on m both
 * become -1 (unpinned) and the flags are ignored; the caller says what that means.
 * Otherwise a requested CPU must be usable, and an unrequested one defaults to the
 * first usable CPU, or the second when the other side has the first; the two may
 * still be equal when both were asked for. Returns 0, or BENCH_USAGE after saying
 * which flag names a CPU this process may not run on.
 */
int bench_choose_cpus(const char *cmd, const struct machine *m, const char *flag_a, int *a,
		      const char *flag_b, int *b);

/* Prints "Try 'cairn-bench cmd --help'." on stderr; returns BENCH_USAGE. */
int bench_usage_hint(const char *cmd);

/* "cairn-bench cmd: message" on stderr. */
__attribute__((format(printf, 2, 3))) void bench_error(const char *cmd, const char *fmt, ...);

/* A progress line on stderr, never stdout, so that --json output stays clean. */
__attribute__((format(printf, 1, 2))) void bench_progress(const char *fmt, ...);

#endif
