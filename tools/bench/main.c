/*
 * cairn-bench: dispatches to one benchmark and holds what they share: flag parsing and
 * messages.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
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
		fprintf(f, "  %-6s %s\n", subcommands[i].name, subcommands[i].summary);
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
