/*
 * cairn-bench: dispatches to one benchmark and holds what they share: flag parsing,
 * choosing the CPUs, and messages.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "machine.h"
#include "proc.h"

struct subcommand {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{"ring", bench_ring_main,
	 "one-way throughput of the shared-memory ring between two pinned processes"},
	{"rtt", bench_rtt_main,
	 "round-trip latency of PING through cairnd, against a Unix socket echo; idle cost"},
	{"engine", bench_engine_main,
	 "the game engine in-process: MOVE, claim and query throughput; seqlock readers"},
	{"e2e", bench_e2e_main,
	 "MOVE through cairnd: round trip, batched throughput, the daemon's memory"},
	{"wal", bench_wal_main,
	 "durability: MOVE per --durability mode and backend, recovery, replay, snapshots"},
	{"solver", bench_solver_main,
	 "paths on the Moving AI maps: A*, jump point search, first-move tables"},
	{"bindings", bench_bindings_main,
	 "PING and MOVE round trips through the Go, Python and Node bindings, against sockets"},
	{"metrics", bench_metrics_main,
	 "what the metrics cost: MOVE throughput through cairnd, --metrics on against off"},
	{"baselines", bench_baselines_main,
	 "the same traffic over cairn, the engine on a Unix socket, and Redis (GEOADD)"},
	{"scale", bench_scale_main,
	 "MOVE throughput and round trip through cairnd with 1, 2, 4 and 8 host threads"},
};

#define NSUB (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: cairn-bench COMMAND [OPTION]...\n"
		   "Measures cairn on this machine and prints the figures with the machine, the\n"
		   "placement of every thread, and the targets they are held against.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < NSUB; i++) {
		fprintf(f, "  %-9s %s\n", subcommands[i].name, subcommands[i].summary);
	}
	fprintf(f, "\n"
		   "Every command takes --help, --quick (a shorter run), --json (one JSON object\n"
		   "on stdout) and --check (exit 1 when a target is missed). Progress goes to\n"
		   "stderr.\n"
		   "\n"
		   "  -h, --help     show this help and exit\n"
		   "      --version  show the version and exit\n"
		   "\n"
		   "Exit status: 0 measured, 1 a measurement failed or (with --check) missed its\n"
		   "target, 2 bad usage.\n");
}

int bench_parse_count(const char *cmd, const char *flag, const char *s, uint64_t lo, uint64_t hi,
		      uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mul = 1;
	if (end != s && (*end == 'k' || *end == 'K')) {
		mul = 1000;
		end++;
	} else if (end != s && *end == 'M') {
		mul = 1000 * 1000;
		end++;
	}
	/* strtoull accepts a sign; a count never has one. */
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || v > UINT64_MAX / mul ||
	    v * mul < lo || v * mul > hi) {
		bench_error(cmd,
			    "%s takes a whole number from %llu to %llu (k and M suffixes allowed), "
			    "not '%s'",
			    flag, (unsigned long long)lo, (unsigned long long)hi, s);
		return -EINVAL;
	}
	*out = v * mul;
	return 0;
}

int bench_parse_cpu(const char *cmd, const char *flag, const char *s, int *out)
{
	uint64_t v;
	if (bench_parse_count(cmd, flag, s, 0, CPU_SETSIZE - 1, &v) < 0) {
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

int bench_choose_cpus(const char *cmd, const struct machine *m, const char *flag_a, int *a,
		      const char *flag_b, int *b)
{
	if (m->usable_count < 2) {
		*a = *b = -1;
		return 0;
	}
	int *cpu[2] = {a, b};
	const char *flag[2] = {flag_a, flag_b};
	for (int i = 0; i < 2; i++) {
		if (*cpu[i] >= 0 && !machine_cpu_usable(m, *cpu[i])) {
			char cpus[256];
			machine_format_cpus(&m->usable, cpus, sizeof(cpus));
			bench_error(cmd, "%s %d: this process may not run on CPU %d (usable: %s)",
				    flag[i], *cpu[i], *cpu[i], cpus);
			return bench_usage_hint(cmd);
		}
	}
	/* Unrequested CPUs default to the first two usable ones, never to the other's. */
	int first = machine_nth_usable(m, 0), second = machine_nth_usable(m, 1);
	if (*a < 0) {
		*a = *b == first ? second : first;
	}
	if (*b < 0) {
		*b = *a == first ? second : first;
	}
	return 0;
}

int bench_usage_hint(const char *cmd)
{
	fprintf(stderr, "Try 'cairn-bench %s --help'.\n", cmd);
	return BENCH_USAGE;
}

void bench_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "cairn-bench %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void bench_progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return BENCH_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return BENCH_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cairn-bench %s\n", CAIRN_VERSION);
		return BENCH_OK;
	}
	for (size_t i = 0; i < NSUB; i++) {
		if (strcmp(argv[1], subcommands[i].name) != 0) {
			continue;
		}
		/*
		 * A peer that dies mid-benchmark must show up as a write error we report, not
		 * as a silent SIGPIPE death; and children are waited for with a deadline.
		 */
		signal(SIGPIPE, SIG_IGN);
		int r = proc_init();
		if (r < 0) {
			fprintf(stderr, "cairn-bench: cannot block SIGCHLD: %s\n", strerror(-r));
			return BENCH_FAIL;
		}
		/* getopt names argv[0] in its messages: make it say which command. */
		char prog[64];
		snprintf(prog, sizeof(prog), "cairn-bench %s", subcommands[i].name);
		argv[1] = prog;
		return subcommands[i].main(argc - 1, argv + 1);
	}
	fprintf(stderr, "cairn-bench: unknown command '%s' (commands:", argv[1]);
	for (size_t i = 0; i < NSUB; i++) {
		fprintf(stderr, " %s", subcommands[i].name);
	}
	fprintf(stderr, ")\nTry 'cairn-bench --help'.\n");
	return BENCH_USAGE;
}
