/*
 * cairn-bench bindings: the round trip of one PING and one MOVE from a single caller in
 * C, Go, Python and Node, each through its own binding, against the same language's
 * natural socket API talking to an echo server, and each language's MOVE throughput
 * when pipelined the way its users would, in one run.
 *
 * This program sets the stage and reads the figures: it starts a private cairnd with
 * its apply thread pinned to one CPU, makes a hunt and a player for the MOVEs, starts a
 * Unix-socket echo server on the daemon's CPU (a blocking read, a write back: the
 * cheapest server a socket-based coprocessor could have), then, on the other CPU:
 *
 *   C:               measured here, through libcairn (cairn_ping, cairn_move with a
 *                    spin of 1 s, a write and a spinning read on the socket), this
 *                    thread pinned for the while, then MOVE throughput with --depth
 *                    MOVEs in flight (cairn_submit_batch, cairn_poll_batch);
 *   bindings/go:     go run ./cmd/cairn-bench-go
 *   bindings/python: $CAIRN_PYTHON bindings/python/bench/cairn_bench_py.py, from the
 *                    source root ($CAIRN_PYTHON: an interpreter with the module installed)
 *   bindings/node:   node bench/cairn-bench-node.js     (the addon built)
 *
 * each program pinned, with --socket, --echo, --hunt, --player, --samples, --warmup,
 * --raw <the daemon's temporary directory>/<language>, --throughput-ms and its
 * language's parallelism (Go --goroutines: goroutines calling Conn.Move, a player each;
 * Python --batch: moves per Client.move_many; Node --window: move() Promises
 * outstanding). Each prints one JSON line: {"lang":..,"ping":{..},"move":{..},
 * "socket":{..},"throughput_per_s":..,"parallelism":..} with n, p50, p90, p99, p999,
 * max and mean in nanoseconds, measured by its own clock; both sides spin while they
 * wait. With --raw it also writes every timed sample of each series, little-endian
 * uint64 nanoseconds, to <prefix>.ping, .move, .socket (and Node's .ping_async); when
 * those hold exactly the n samples its JSON says, the rows are summarized from them by
 * stats_summarize, as every C row is, so that all percentiles come from the same code.
 * Otherwise (an older program: one that rejects the new options, exit 2, is run again
 * without them) the rows come from its JSON summary, and a line under the tables says
 * so. A language whose toolchain or binding is missing is reported as not measured,
 * with the reason; one that fails is a failure.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "machine.h"
#include "report.h"
#include "spawn.h"
#include "stats.h"

#define CMD       "bindings"
#define SEC       (1000ull * 1000 * 1000)
#define RUN_LIMIT (600 * SEC) /* one language's whole run, builds included */
#define TARGET_X  20.0        /* times lower than the language's own socket, p50 */
#define MSG_BYTES 56          /* the socket baselines' message: a cairn message's size */
#define MAX_DEPTH 1024        /* --depth, --goroutines: the rings' default capacity */
#define STALL_NS  (10 * SEC)  /* the C throughput gives up when nothing comes back */

#ifndef CAIRN_SOURCE_ROOT
#define CAIRN_SOURCE_ROOT "."
#endif

struct lang {
	const char *key, *name, *dir, *cmd, *probe, *socket_api;
	double target_ns;     /* p50 of PING and MOVE */
	const char *par_flag; /* the program's flag for its throughput's parallelism */
	const char *tput;     /* the throughput row's name */
};

static const struct lang langs[] = {
	{"go", "Go", "bindings/go", "go run ./cmd/cairn-bench-go", "go version", "net.UnixConn",
	 600, "--goroutines", "Go: Conn.Move from goroutines, a player each"},
	/*
	 * From the source root, not bindings/python, whose cairn/ folder (without the
	 * compiled module) would shadow the installed package; $CAIRN_PYTHON names the
	 * interpreter that has it installed (tools/cairn bench uses its virtual environment).
	 */
	{"python", "Python", ".",
	 "${CAIRN_PYTHON:-python3} bindings/python/bench/cairn_bench_py.py",
	 "${CAIRN_PYTHON:-python3} -c 'import cairn._cairn'", "socket", 3000, "--batch",
	 "Python: Client.move_many, batches"},
	{"node", "Node", "bindings/node", "node bench/cairn-bench-node.js",
	 "node -e \"require('./')\"", "net", 2000, "--window", "Node: move() Promises in flight"},
};
#define NLANGS (sizeof(langs) / sizeof(langs[0]))

struct opts {
	const char *cairnd, *source;
	const char *cmd[NLANGS]; /* --go, --python, --node: replace the default command */
	bool skip[NLANGS];       /* --only */
	uint64_t samples, warmup;
	uint64_t throughput_ms, depth, goroutines;
	int host_cpu, daemon_cpu;
	bool quick, json, check;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench bindings [OPTION]...\n"
		"Round trip of one PING and one MOVE from a single caller through libcairn (C,\n"
		"in this process) and the Go, Python and Node bindings, each beside the same\n"
		"language's own Unix socket API against an echo server, then each one's MOVE\n"
		"throughput, pipelined as its users would, in one run: cairnd's apply thread and\n"
		"the echo server pinned to one CPU, the C calls and each language's program\n"
		"pinned to the other, both sides spinning. Each program writes its raw samples\n"
		"(--raw PREFIX: PREFIX.ping, .move, .socket as little-endian uint64 ns), and\n"
		"every row's percentiles are computed from them here, by the code of the C rows.\n"
		"\n"
		"  --source DIR       the cairn source tree (default: the one this was built "
		"from)\n"
		"  --only LIST        comma-separated subset of go,python,node\n"
		"  --go CMD           run CMD in bindings/go instead of '%s'\n"
		"  --python CMD       ... in the source root instead of '%s'\n"
		"  --node CMD         ... in bindings/node instead of '%s'\n"
		"  --samples N        timed round trips of each kind (default 200k; --quick 20k)\n"
		"  --warmup N         untimed ones first (default 20k; --quick 2k)\n"
		"  --throughput-ms N  how long each MOVE throughput runs (default 2000; --quick "
		"500;\n"
		"                     0: none), passed to each program as --throughput-ms\n"
		"  --depth N          MOVEs in flight: C's window (cairn_submit_batch), Python's\n"
		"                     --batch (Client.move_many), Node's --window (move()\n"
		"                     Promises) (default 256, at most %d)\n"
		"  --goroutines N     Go's --goroutines: each calls Conn.Move for a player of its\n"
		"                     own (default 64, at most %d)\n"
		"  --cairnd PATH      the daemon (default: the build tree's, $CAIRND, $PATH)\n"
		"  --host-cpu N       C's calls and the language programs (default: first usable)\n"
		"  --daemon-cpu N     cairnd's apply thread and the echo server (default: second)\n"
		"  --quick            fewer samples, shorter throughput runs\n"
		"  --json             one JSON object on stdout\n"
		"  --check            exit 1 when a target is missed: p50 of PING and MOVE <= 600 "
		"ns\n"
		"                     (Go), 3 us (Python), 2 us (Node), each >= %.0fx lower than "
		"the\n"
		"                     language's socket echo\n"
		"  -h, --help         show this help and exit\n"
		"\n"
		"Exit status: 0 measured, 1 a language failed or (with --check) missed a target,\n"
		"2 bad usage.\n",
		langs[0].cmd, langs[1].cmd, langs[2].cmd, MAX_DEPTH, MAX_DEPTH, TARGET_X);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum {
		O_SOURCE = 256,
		O_ONLY,
		O_GO,
		O_PY,
		O_NODE,
		O_SAMPLES,
		O_WARMUP,
		O_TPUT,
		O_DEPTH,
		O_GOROUTINES,
		O_CAIRND,
		O_HOST,
		O_DAEMON,
		O_QUICK,
		O_JSON,
		O_CHECK
	};
	static const struct option lo[] = {
		{"source", required_argument, NULL, O_SOURCE},
		{"only", required_argument, NULL, O_ONLY},
		{"go", required_argument, NULL, O_GO},
		{"python", required_argument, NULL, O_PY},
		{"node", required_argument, NULL, O_NODE},
		{"samples", required_argument, NULL, O_SAMPLES},
		{"warmup", required_argument, NULL, O_WARMUP},
		{"throughput-ms", required_argument, NULL, O_TPUT},
		{"depth", required_argument, NULL, O_DEPTH},
		{"goroutines", required_argument, NULL, O_GOROUTINES},
		{"cairnd", required_argument, NULL, O_CAIRND},
		{"host-cpu", required_argument, NULL, O_HOST},
		{"daemon-cpu", required_argument, NULL, O_DAEMON},
		{"quick", no_argument, NULL, O_QUICK},
		{"json", no_argument, NULL, O_JSON},
		{"check", no_argument, NULL, O_CHECK},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t samples = 0, warmup = UINT64_MAX, tput = UINT64_MAX;
	o->depth = 256;
	o->goroutines = 64;
	o->host_cpu = o->daemon_cpu = -1;
	o->source = getenv("CAIRN_SOURCE_DIR") ? getenv("CAIRN_SOURCE_DIR") : CAIRN_SOURCE_ROOT;
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_SOURCE:
			o->source = optarg;
			break;
		case O_ONLY: {
			for (size_t i = 0; i < NLANGS; i++) {
				o->skip[i] = true;
			}
			char *list = strdup(optarg), *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				size_t i = 0;
				while (i < NLANGS && strcmp(t, langs[i].key) != 0) {
					i++;
				}
				if (i == NLANGS) {
					bench_error(CMD,
						    "--only: '%s' is not one of go, python, node",
						    t);
					free(list);
					return bench_usage_hint(CMD);
				}
				o->skip[i] = false;
			}
			free(list);
			break;
		}
		case O_GO:
		case O_PY:
		case O_NODE:
			o->cmd[c - O_GO] = optarg;
			break;
		case O_SAMPLES:
			if (bench_parse_count(CMD, "--samples", optarg, 100, 100000000, &samples) <
			    0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_WARMUP:
			if (bench_parse_count(CMD, "--warmup", optarg, 0, 100000000, &warmup) < 0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_TPUT:
			if (bench_parse_count(CMD, "--throughput-ms", optarg, 0, 3600000, &tput) <
			    0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_DEPTH:
		case O_GOROUTINES:
			if (bench_parse_count(CMD, c == O_DEPTH ? "--depth" : "--goroutines",
					      optarg, 1, MAX_DEPTH,
					      c == O_DEPTH ? &o->depth : &o->goroutines) < 0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_CAIRND:
			o->cairnd = optarg;
			break;
		case O_HOST:
		case O_DAEMON:
			if (bench_parse_cpu(CMD, c == O_HOST ? "--host-cpu" : "--daemon-cpu",
					    optarg,
					    c == O_HOST ? &o->host_cpu : &o->daemon_cpu) < 0) {
				return bench_usage_hint(CMD);
			}
			break;
		case O_QUICK:
			o->quick = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_CHECK:
			o->check = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return bench_usage_hint(CMD);
		}
	}
	if (optind < argc) {
		bench_error(CMD, "unexpected argument '%s'", argv[optind]);
		return bench_usage_hint(CMD);
	}
	o->samples = samples ? samples : o->quick ? 20000 : 200000;
	o->warmup = warmup != UINT64_MAX ? warmup : o->quick ? 2000 : 20000;
	o->throughput_ms = tput != UINT64_MAX ? tput : o->quick ? 500 : 2000;
	return 0;
}

/* ---- the echo server ---- */

static void echo_serve(int lfd)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR) {
				continue;
			}
			_exit(1);
		}
		char buf[4096];
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0) {
				break;
			}
			for (ssize_t done = 0; done < n;) {
				ssize_t w = write(fd, buf + done, (size_t)(n - done));
				if (w <= 0) {
					break;
				}
				done += w;
			}
		}
		close(fd);
	}
}

/* Starts the echo server listening on path, pinned to cpu. Returns its pid or -errno. */
static pid_t echo_start(const char *path, int cpu)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
		int e = errno;
		if (lfd >= 0) {
			close(lfd);
		}
		return -e;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (cpu >= 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		echo_serve(lfd);
		_exit(0);
	}
	close(lfd);
	return pid < 0 ? -errno : pid;
}

/* ---- one language ---- */

/* The number after "key": inside the object that follows "obj": in a JSON line. */
static bool json_num(const char *line, const char *obj, const char *key, double *v)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\"", obj);
	const char *o = strstr(line, pat);
	if (!o || !(o = strchr(o + strlen(pat), '{'))) {
		return false;
	}
	const char *end = strchr(o, '}');
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	const char *k = strstr(o, pat);
	if (!k || (end && k > end)) {
		return false;
	}
	k = strchr(k + strlen(pat), ':');
	if (!k) {
		return false;
	}
	char *e;
	*v = strtod(k + 1, &e);
	return e != k + 1;
}

/* The number after the first "key": of a JSON line (for keys that occur once). */
static bool json_top(const char *line, const char *key, double *v)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	const char *k = strstr(line, pat);
	if (!k || !(k = strchr(k + strlen(pat), ':'))) {
		return false;
	}
	char *e;
	*v = strtod(k + 1, &e);
	return e != k + 1;
}

/*
 * The summary of series obj of a program's JSON line, by the program's own percentile
 * code. *has_max says whether it gave the maximum (older programs did not).
 */
static bool summary_of(const char *line, const char *obj, struct latency_summary *s, bool *has_max)
{
	double n, p50, p90, p99, p999, max, mean;
	if (!json_num(line, obj, "n", &n) || !json_num(line, obj, "p50", &p50) ||
	    !json_num(line, obj, "p90", &p90) || !json_num(line, obj, "p99", &p99) ||
	    !json_num(line, obj, "p999", &p999) || !json_num(line, obj, "mean", &mean) || n < 1) {
		return false;
	}
	*has_max = json_num(line, obj, "max", &max);
	*s = (struct latency_summary){.n = (size_t)n,
				      .p50 = (uint64_t)p50,
				      .p90 = (uint64_t)p90,
				      .p99 = (uint64_t)p99,
				      .p999 = (uint64_t)p999,
				      .max = *has_max ? (uint64_t)max : 0,
				      .mean = mean};
	return true;
}

/*
 * Reads the raw samples of one series, path, which must hold exactly n of them, into a
 * new array (the caller frees it), and removes the file. Returns NULL when the file is
 * missing or holds something else.
 */
static uint64_t *raw_read(const char *path, size_t n)
{
	uint64_t *s = n > 0 ? malloc(8 * n) : NULL;
	if (s && stats_read_raw(path, s, n) != (long)n) {
		free(s);
		s = NULL;
	}
	unlink(path);
	return s;
}

/* Removes the raw files a language's program may have left under prefix. */
static void raw_remove(const char *prefix)
{
	static const char *const ext[] = {"ping", "move", "socket", "ping_async"};
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(path, sizeof(path), "%s.%s", prefix, ext[i]);
		unlink(path);
	}
}

/* ---- C, measured in this process ---- */

/* Pins the calling thread to cpu (unless -1), keeping its affinity in *old. */
static void pin_self(int cpu, cpu_set_t *old)
{
	CPU_ZERO(old);
	sched_getaffinity(0, sizeof(*old), old);
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
}

/* What the C rows move: a hunt, a player, and two points of the cell it stands in. */
struct c_stage {
	cairn_client *c;
	uint32_t hunt, player;
	int32_t pts[2][2];
	uint64_t moves; /* MOVEs sent: the next goes to pts[moves & 1] */
	const char *echo_path;
};

/* One timed round trip of series k (0 PING, 1 MOVE, 2 socket echo, on fd) into *ns. */
static int c_round_trip(struct c_stage *st, int k, int fd, uint64_t *ns)
{
	static const char msg[MSG_BYTES] = "cairn-bench bindings: the C socket baseline's echo";
	char buf[MSG_BYTES];
	const int32_t *p = st->pts[k == 1 ? st->moves++ & 1 : 0];
	int r = 0;
	uint64_t t0 = cairn__now_ns();
	if (k == 0) {
		r = cairn_ping(st->c, 10 * (int64_t)SEC);
	} else if (k == 1) {
		r = cairn_move(st->c, st->hunt, st->player, p[0], p[1], NULL, 10 * (int64_t)SEC);
	} else if (write(fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
		r = -errno;
	} else {
		/* Spinning, as the languages' programs do, rather than sleeping in read. */
		for (size_t got = 0; got < sizeof(buf);) {
			ssize_t n = recv(fd, buf + got, sizeof(buf) - got, MSG_DONTWAIT);
			if (n > 0) {
				got += (size_t)n;
			} else if (n == 0) {
				r = -ECONNRESET;
				break;
			} else if (errno != EAGAIN && errno != EINTR) {
				r = -errno;
				break;
			}
		}
	}
	*ns = cairn__now_ns() - t0;
	return r;
}

/*
 * C's rows of the round-trip table: warmup untimed, then n timed round trips of PING,
 * MOVE and the socket echo, one caller spinning, this thread pinned to cpu. Returns 0,
 * or -1 after saying why.
 */
static int c_round_trips(struct report *rep, unsigned table, struct c_stage *st, uint64_t n,
			 uint64_t warmup, int cpu)
{
	static const char *const what[] = {"PING", "MOVE", "socket echo"};
	struct latency_summary s[3];
	uint64_t *ns = malloc(n * sizeof(*ns));
	int fd = -1, r = 0;
	cpu_set_t old;
	if (!ns) {
		bench_error(CMD, "C: out of memory for %llu samples", (unsigned long long)n);
		return -1;
	}
	pin_self(cpu, &old);
	for (int k = 0; k < 3 && r == 0; k++) {
		if (k == 2) {
			struct sockaddr_un sa = {.sun_family = AF_UNIX};
			snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", st->echo_path);
			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
				r = -errno;
				break;
			}
		}
		bench_progress("bindings: C: %s: %llu warm-up, %llu samples", what[k],
			       (unsigned long long)warmup, (unsigned long long)n);
		uint64_t t;
		for (uint64_t i = 0; i < warmup && r == 0; i++) {
			r = c_round_trip(st, k, fd, &t);
		}
		for (uint64_t i = 0; i < n && r == 0; i++) {
			r = c_round_trip(st, k, fd, &ns[i]);
		}
		stats_summarize(ns, n, &s[k]);
		if (r < 0) {
			bench_error(CMD, "C: %s: %s", what[k], cairn_strerror(r));
		}
	}
	sched_setaffinity(0, sizeof(old), &old);
	if (fd >= 0) {
		close(fd); /* the echo server serves one connection at a time */
	}
	free(ns);
	if (r < 0) {
		return -1;
	}
	report_latency_row(rep, table, "C: cairn PING", &s[0]);
	report_latency_row(rep, table, "C: cairn MOVE", &s[1]);
	struct report_row *row =
		report_latency_row(rep, table, "C: write/read echo (baseline)", &s[2]);
	report_field(row, "ratio", "socket / PING", REPORT_RATIO,
		     s[0].p50 ? (double)s[2].p50 / (double)s[0].p50 : NAN);
	return 0;
}

/*
 * C's MOVE throughput: depth MOVEs in flight for ms milliseconds, pushed with
 * cairn_submit_batch as soon as there is room and taken with cairn_poll_batch, this
 * thread pinned to cpu. Returns the moves answered per second, or NaN after saying why.
 */
static double c_throughput(struct c_stage *st, unsigned depth, uint64_t ms, int cpu,
			   uint64_t *moves)
{
	static struct cairn_msg cmd[MAX_DEPTH], res[MAX_DEPTH];
	uint64_t sent = 0, done = 0;
	cpu_set_t old;
	int r = 0;
	bench_progress("bindings: C: throughput: %u MOVEs in flight for %llu ms", depth,
		       (unsigned long long)ms);
	pin_self(cpu, &old);
	uint64_t t0 = cairn__now_ns(), now = t0, end = t0 + ms * 1000000, last = t0;
	while (r == 0 && (now < end || done < sent)) {
		unsigned room = depth - (unsigned)(sent - done);
		if (now < end && room > 0) {
			for (unsigned i = 0; i < room; i++) {
				const int32_t *p = st->pts[(st->moves + i) & 1];
				cairn_msg_move(&cmd[i], st->hunt, st->player, p[0], p[1]);
			}
			r = cairn_submit_batch(st->c, cmd, room);
			if (r < 0) {
				break;
			}
			st->moves += (unsigned)r; /* those not pushed are built again */
			sent += (unsigned)r;
		}
		r = cairn_poll_batch(st->c, res, MAX_DEPTH);
		if (r < 0) {
			break;
		}
		for (int i = 0; i < r; i++) {
			if (res[i].hdr.type != CAIRN_MSG_MOVED) {
				bench_error(CMD, "C: throughput: a MOVE was answered with type %u",
					    res[i].hdr.type);
				r = -EPROTO;
				break;
			}
		}
		now = cairn__now_ns();
		if (r > 0) {
			done += (unsigned)r;
			last = now;
			r = 0;
		} else if (r == 0 && now - last > STALL_NS) {
			r = -ETIMEDOUT;
		} else if (r == 0) {
			cairn__cpu_relax();
		}
	}
	sched_setaffinity(0, sizeof(old), &old);
	if (r < 0) {
		bench_error(CMD, "C: throughput: %s (%llu of %llu MOVEs answered)",
			    cairn_strerror(r), (unsigned long long)done, (unsigned long long)sent);
		return NAN;
	}
	*moves = done;
	return (double)done * 1e9 / (double)(now - t0);
}

/* The last line of out that starts with '{'. */
static const char *last_json(char *out)
{
	char *best = NULL;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		while (isspace((unsigned char)*l)) {
			l++;
		}
		if (*l == '{') {
			best = l;
		}
	}
	return best;
}

int bench_bindings_main(int argc, char **argv)
{
	static struct opts o;
	static struct report rep;
	struct machine m;
	memset(&o, 0, sizeof(o));
	int r = parse_args(argc, argv, &o);
	if (r) {
		return r;
	}
	if ((r = machine_probe(&m)) < 0) {
		bench_error(CMD, "cannot read this process's CPU affinity: %s", strerror(-r));
		return BENCH_FAIL;
	}
	r = bench_choose_cpus(CMD, &m, "--host-cpu", &o.host_cpu, "--daemon-cpu", &o.daemon_cpu);
	if (r) {
		return r;
	}
	report_init(&rep, CMD,
		    "PING and MOVE round trips and MOVE throughput from C, Go, Python and Node",
		    &m);
	char err[PATH_MAX + 256];
	struct cairnd_proc d;
	memset(&d, 0, sizeof(d));
	if ((r = cairnd_find(o.cairnd, &d, err, sizeof(err))) < 0) {
		bench_error(CMD, "%s", err);
		return BENCH_FAIL;
	}
	d.extra_args[d.n_extra_args++] = "--durability=none";
	if ((r = cairnd_spawn(&d, o.daemon_cpu, &m.usable, err, sizeof(err))) < 0) {
		bench_error(CMD, "cannot start %s: %s", d.binary, err);
		cairnd_cleanup(&d, false);
		return BENCH_FAIL;
	}
	bench_progress("bindings: started %s (found by %s) as pid %d, log %s", d.binary, d.found_by,
		       (int)d.pid, d.log);
	cairn_client *c = NULL;
	bool failed = false;
	pid_t echo = -1;
	struct cairn_open_options oo = {.name = "cairn-bench"};
	if ((r = cairnd_attach(&d, 30 * SEC, &oo, &c, err, sizeof(err))) < 0) {
		bench_error(CMD, "%s", err);
		failed = true;
		goto out;
	}
	struct cairn_hunt_created hunt;
	uint32_t player = 0;
	if ((r = cairn_hunt_create(c, NULL, &hunt, 10 * (int64_t)SEC)) < 0) {
		bench_error(CMD, "cannot create a hunt: %s", cairn_strerror(r));
		failed = true;
		goto out;
	}
	/* A passable cell for the player: the languages move it around where it stands. */
	struct c_stage cs = {.hunt = hunt.hunt_id};
	for (int32_t y = 500; y < 96000 && !player; y += 1000) {
		for (int32_t x = 500; x < 128000 && !player; x += 1000) {
			if (cairn_join(c, hunt.hunt_id, x, y, &player, 10 * (int64_t)SEC) < 0) {
				player = 0;
			} else {
				cs.pts[0][0] = cs.pts[1][0] = x;
				cs.pts[0][1] = cs.pts[1][1] = y;
			}
		}
	}
	if (!player) {
		bench_error(CMD, "no passable point on map 0 for the player");
		failed = true;
		goto out;
	}
	/* C moves it 1 mm within its cell and back, as the Python program does. */
	uint32_t cell = hunt.cell_mm ? hunt.cell_mm : 1000;
	cs.player = player;
	cs.pts[1][0] += (cs.pts[0][0] + 1) / (int32_t)cell == cs.pts[0][0] / (int32_t)cell ? 1 : -1;
	char echo_path[160];
	snprintf(echo_path, sizeof(echo_path), "%s/echo.sock", d.dir);
	cs.echo_path = echo_path;
	echo = echo_start(echo_path, o.daemon_cpu);
	if (echo < 0) {
		bench_error(CMD, "cannot start the echo server on %s: %s", echo_path,
			    strerror((int)-echo));
		failed = true;
		goto out;
	}
	report_placement(&rep, "cairnd apply thread and the echo server", "CPU %d", o.daemon_cpu);
	report_placement(&rep, "C's calls (this process) and each language's bench program",
			 "CPU %d (pinned, one thread calling)", o.host_cpu);
	report_place_threads(&rep, "cairnd", d.pid);
	report_param_num(&rep, "samples", "timed round trips of each kind", (double)o.samples);
	report_param_num(&rep, "warmup", "untimed first", (double)o.warmup);
	report_param_num(&rep, "throughput_ms", "each MOVE throughput run, ms",
			 (double)o.throughput_ms);
	report_param_num(&rep, "depth", "MOVEs in flight (C, Python, Node)", (double)o.depth);
	report_param_num(&rep, "goroutines", "goroutines calling Move (Go)", (double)o.goroutines);
	unsigned table =
		report_table(&rep, "Round trips from one caller (both sides spinning)", true);
	unsigned ttable = report_table(&rep, "MOVE throughput by language", o.throughput_ms > 0);

	/* C first, on a connection of its own that spins while it waits, as the others do. */
	struct cairn_open_options coo = {.name = "cairn-bench-c", .spin_us = 1000000};
	if ((r = cairnd_attach(&d, 30 * SEC, &coo, &cs.c, err, sizeof(err))) < 0) {
		bench_error(CMD, "C: %s", err);
		failed = true;
		goto out;
	}
	if (c_round_trips(&rep, table, &cs, o.samples, o.warmup, o.host_cpu) < 0) {
		failed = true;
	} else if (o.throughput_ms > 0) {
		uint64_t moves = 0;
		double per_s =
			c_throughput(&cs, (unsigned)o.depth, o.throughput_ms, o.host_cpu, &moves);
		if (isnan(per_s)) {
			failed = true;
		} else {
			struct report_row *row =
				report_row(&rep, ttable, "C: cairn_submit_batch, MOVEs in flight");
			report_field(row, "moves_per_s", "MOVEs/s", REPORT_PER_S, per_s);
			report_field(row, "parallelism", "in flight", REPORT_COUNT,
				     (double)o.depth);
			report_field(row, "moves", "MOVEs", REPORT_COUNT, (double)moves);
		}
	}
	cairn_close(cs.c);
	cs.c = NULL;
	if (failed) {
		goto out;
	}

	for (size_t i = 0; i < NLANGS; i++) {
		const struct lang *L = &langs[i];
		if (o.skip[i]) {
			continue;
		}
		char dir[PATH_MAX], out[65536], cmd[2048], prefix[160];
		snprintf(dir, sizeof(dir), "%s/%s", o.source, L->dir);
		struct stat st;
		if (stat(dir, &st) < 0) {
			report_line(&rep, "%s: not measured: %s is missing", L->name, dir);
			continue;
		}
		if (bench_run_shell(dir, L->probe, -1, out, sizeof(out), true, RUN_LIMIT) != 0) {
			report_line(
				&rep,
				"%s: not measured: '%s' failed in %s (toolchain missing, or the "
				"binding not built/installed: see %s/README.md)",
				L->name, L->probe, dir, L->dir);
			continue;
		}
		snprintf(prefix, sizeof(prefix), "%s/%s", d.dir, L->key);
		raw_remove(prefix);
		int len = snprintf(cmd, sizeof(cmd),
				   "%s --socket %s --echo %s --hunt %u --player %u --samples %llu "
				   "--warmup %llu",
				   o.cmd[i] ? o.cmd[i] : L->cmd, d.socket, echo_path, hunt.hunt_id,
				   player, (unsigned long long)o.samples,
				   (unsigned long long)o.warmup);
		/* The options older programs do not know, last, so that they can be cut off. */
		uint64_t par = strcmp(L->key, "go") == 0 ? o.goroutines : o.depth;
		int more = len < 0 || (size_t)len >= sizeof(cmd)
				   ? -1
				   : snprintf(cmd + len, sizeof(cmd) - (size_t)len,
					      " --raw %s --throughput-ms %llu %s %llu", prefix,
					      (unsigned long long)o.throughput_ms, L->par_flag,
					      (unsigned long long)par);
		if (more < 0 || (size_t)len + (size_t)more >= sizeof(cmd)) {
			bench_error(CMD, "%s: the command is too long", L->name);
			failed = true;
			continue;
		}
		bench_progress("bindings: %s: %s", L->name, cmd);
		int status =
			bench_run_shell(dir, cmd, o.host_cpu, out, sizeof(out), false, RUN_LIMIT);
		const char *line = last_json(out);
		if (status == 2 && !line) {
			cmd[len] = '\0';
			bench_progress(
				"bindings: %s: exit 2 (usage): an older program? Again without "
				"--raw and the throughput: %s",
				L->name, cmd);
			status = bench_run_shell(dir, cmd, o.host_cpu, out, sizeof(out), false,
						 RUN_LIMIT);
			line = last_json(out);
		}
		/* Each series: from the raw samples when they are there, else the JSON. */
		static const char *const key[] = {"ping", "move", "ping_async", "socket"};
		struct latency_summary s[4];
		bool have[4], has_max[4], from_raw = true;
		for (int k = 0; k < 4; k++) {
			have[k] = line && summary_of(line, key[k], &s[k], &has_max[k]);
		}
		if (status != 0 || !have[0] || !have[1] || !have[3]) {
			bench_error(CMD,
				    "%s: the bench program exited %d without the JSON line it "
				    "should print",
				    L->name, status);
			failed = true;
			raw_remove(prefix);
			continue;
		}
		for (int k = 0; k < 4; k++) {
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s.%s", prefix, key[k]);
			uint64_t *raw = have[k] ? raw_read(path, s[k].n) : NULL;
			if (raw) {
				stats_summarize(raw, s[k].n, &s[k]);
				has_max[k] = true;
				free(raw);
			} else if (have[k]) {
				from_raw = false;
			}
		}
		raw_remove(prefix);
		if (!from_raw) {
			report_line(&rep,
				    "%s: percentiles by the program's own code, from its JSON "
				    "summary: no raw samples of n each in %s.* (an older program?)",
				    L->name, L->key);
		}
		char name[96];
		struct report_row *row = NULL;
		for (int k = 0; k < 4; k++) {
			if (!have[k]) {
				continue;
			}
			if (k < 3) {
				snprintf(name, sizeof(name), "%s: cairn %s", L->name,
					 k == 0   ? "PING"
					 : k == 1 ? "MOVE"
						  : "PING, Promise");
			} else {
				snprintf(name, sizeof(name), "%s: %s echo (baseline)", L->name,
					 L->socket_api);
			}
			row = report_latency_row(&rep, table, name, &s[k]);
			for (unsigned f = 0; f < row->nfields && !has_max[k]; f++) {
				if (strcmp(row->f[f].key, "max_ns") == 0) {
					row->f[f].value = NAN;
				}
			}
		}
		double x = s[0].p50 ? (double)s[3].p50 / (double)s[0].p50 : NAN;
		report_field(row, "ratio", "socket / PING", REPORT_RATIO, x);
		char what[64];
		snprintf(what, sizeof(what), "%s PING p50", L->name);
		report_target(&rep, what, REPORT_NS, REPORT_AT_MOST, L->target_ns, (double)s[0].p50,
			      true);
		snprintf(what, sizeof(what), "%s MOVE p50", L->name);
		report_target(&rep, what, REPORT_NS, REPORT_AT_MOST, L->target_ns, (double)s[1].p50,
			      true);
		snprintf(what, sizeof(what), "%s: times lower than %s", L->name, L->socket_api);
		report_target(&rep, what, REPORT_RATIO, REPORT_AT_LEAST, TARGET_X, x, true);

		double per_s, in_flight, moves;
		if (o.throughput_ms == 0) {
			continue;
		}
		if (!json_top(line, "throughput_per_s", &per_s) ||
		    !json_top(line, "parallelism", &in_flight)) {
			report_line(&rep, "%s: no MOVE throughput in its JSON (an older program?)",
				    L->name);
			continue;
		}
		row = report_row(&rep, ttable, L->tput);
		report_field(row, "moves_per_s", "MOVEs/s", REPORT_PER_S, per_s);
		report_field(row, "parallelism", "in flight", REPORT_COUNT, in_flight);
		report_field(row, "moves", "MOVEs", REPORT_COUNT,
			     json_top(line, "throughput_moves", &moves) ? moves : NAN);
	}
out:
	if (echo > 0) {
		kill(echo, SIGTERM);
		waitpid(echo, NULL, 0);
	}
	if (c) {
		cairn_close(c);
	}
	cairnd_finish(&d, CMD, 15 * SEC, failed);
	if (failed) {
		return BENCH_FAIL;
	}
	report_print(&rep, stdout, o.json);
	return report_missed(&rep, o.check) && o.check ? BENCH_FAIL : BENCH_OK;
}
