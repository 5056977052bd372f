/*
 * cairn-bench bindings: the round trip of one PING and one MOVE from a single caller in
 * Go, Python and Node, each through its own binding, against the same language's
 * natural socket API talking to an echo server, in one run.
 *
 * This program sets the stage and reads the figures: it starts a private cairnd with
 * its apply thread pinned to one CPU, makes a hunt and a player for the MOVEs, starts a
 * Unix-socket echo server on the daemon's CPU (a blocking read, a write back: the
 * cheapest server a socket-based coprocessor could have), then runs each language's
 * bench program pinned to the other CPU:
 *
 *   bindings/go:     go run ./cmd/cairn-bench-go
 *   bindings/python: $CAIRN_PYTHON bindings/python/bench/cairn_bench_py.py, from the
 *                    source root ($CAIRN_PYTHON: an interpreter with the module installed)
 *   bindings/node:   node bench/cairn-bench-node.js     (the addon built)
 *
 * each with --socket, --echo, --hunt, --player, --samples and --warmup. Each prints one
 * JSON line: {"lang":..,"ping":{..},"move":{..},"socket":{..}} with n, p50, p90, p99,
 * p999 and mean in nanoseconds, measured by its own clock; both sides spin while they
 * wait. A language whose toolchain or binding is missing is reported as not measured,
 * with the reason; one that fails is a failure.
 */
#include <ctype.h>
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
#include "common/clock.h"
#include "machine.h"
#include "report.h"
#include "spawn.h"
#include "stats.h"

#define CMD       "bindings"
#define SEC       (1000ull * 1000 * 1000)
#define RUN_LIMIT (600 * SEC) /* one language's whole run, builds included */
#define TARGET_X  20.0        /* times lower than the language's own socket, p50 */

#ifndef CAIRN_SOURCE_ROOT
#define CAIRN_SOURCE_ROOT "."
#endif

struct lang {
	const char *key, *name, *dir, *cmd, *probe, *socket_api;
	double target_ns; /* p50 of PING and MOVE */
};

static const struct lang langs[] = {
	{"go", "Go", "bindings/go", "go run ./cmd/cairn-bench-go", "go version", "net.UnixConn",
	 600},
	/*
	 * From the source root, not bindings/python, whose cairn/ folder (without the
	 * compiled module) would shadow the installed package; $CAIRN_PYTHON names the
	 * interpreter that has it installed (tools/cairn bench uses its virtual environment).
	 */
	{"python", "Python", ".",
	 "${CAIRN_PYTHON:-python3} bindings/python/bench/cairn_bench_py.py",
	 "${CAIRN_PYTHON:-python3} -c 'import cairn._cairn'", "socket", 3000},
	{"node", "Node", "bindings/node", "node bench/cairn-bench-node.js",
	 "node -e \"require('./')\"", "net", 2000},
};
#define NLANGS (sizeof(langs) / sizeof(langs[0]))

struct opts {
	const char *cairnd, *source;
	const char *cmd[NLANGS]; /* --go, --python, --node: replace the default command */
	bool skip[NLANGS];       /* --only */
	uint64_t samples, warmup;
	int host_cpu, daemon_cpu;
	bool quick, json, check;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench bindings [OPTION]...\n"
		"Round trip of one PING and one MOVE from a single caller through the Go, Python\n"
		"and Node bindings, each beside the same language's own Unix socket API against\n"
		"an echo server, in one run: cairnd's apply thread and the echo server pinned to\n"
		"one CPU, each language's program pinned to the other, both sides spinning.\n"
		"\n"
		"  --source DIR       the cairn source tree (default: the one this was built "
		"from)\n"
		"  --only LIST        comma-separated subset of go,python,node\n"
		"  --go CMD           run CMD in bindings/go instead of '%s'\n"
		"  --python CMD       ... in the source root instead of '%s'\n"
		"  --node CMD         ... in bindings/node instead of '%s'\n"
		"  --samples N        timed round trips of each kind (default 200k; --quick 20k)\n"
		"  --warmup N         untimed ones first (default 20k; --quick 2k)\n"
		"  --cairnd PATH      the daemon (default: the build tree's, $CAIRND, $PATH)\n"
		"  --host-cpu N       where the language programs run (default: first usable)\n"
		"  --daemon-cpu N     cairnd's apply thread and the echo server (default: second)\n"
		"  --quick            fewer samples\n"
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
		langs[0].cmd, langs[1].cmd, langs[2].cmd, TARGET_X);
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
		{"cairnd", required_argument, NULL, O_CAIRND},
		{"host-cpu", required_argument, NULL, O_HOST},
		{"daemon-cpu", required_argument, NULL, O_DAEMON},
		{"quick", no_argument, NULL, O_QUICK},
		{"json", no_argument, NULL, O_JSON},
		{"check", no_argument, NULL, O_CHECK},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t samples = 0, warmup = UINT64_MAX;
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

/* Runs sh -c cmd in dir, pinned to cpu, stdout into out. Returns the exit status or -errno. */
static int run_pinned(const char *dir, const char *cmd, int cpu, char *out, size_t outlen,
		      bool quiet)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		return -errno;
	}
	if (pid == 0) {
		if (cpu >= 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		dup2(p[1], 1);
		if (quiet) {
			int nul = open("/dev/null", O_WRONLY);
			dup2(nul, 2);
		}
		if (chdir(dir) < 0) {
			_exit(126);
		}
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	size_t len = 0;
	uint64_t deadline = cairn__now_ns() + RUN_LIMIT;
	for (;;) {
		struct pollfd pf = {p[0], POLLIN, 0};
		int n = poll(&pf, 1, 1000);
		if (n > 0) {
			char buf[4096];
			ssize_t k = read(p[0], buf, sizeof(buf));
			if (k <= 0) {
				break;
			}
			size_t take = (size_t)k < outlen - 1 - len ? (size_t)k : outlen - 1 - len;
			memcpy(out + len, buf, take);
			len += take;
		}
		if (cairn__now_ns() > deadline) {
			kill(pid, SIGKILL);
			break;
		}
	}
	out[len] = '\0';
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

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

static bool summary_of(const char *line, const char *obj, struct latency_summary *s)
{
	double n, p50, p90, p99, p999, mean;
	if (!json_num(line, obj, "n", &n) || !json_num(line, obj, "p50", &p50) ||
	    !json_num(line, obj, "p90", &p90) || !json_num(line, obj, "p99", &p99) ||
	    !json_num(line, obj, "p999", &p999) || !json_num(line, obj, "mean", &mean)) {
		return false;
	}
	*s = (struct latency_summary){.n = (size_t)n,
				      .p50 = (uint64_t)p50,
				      .p90 = (uint64_t)p90,
				      .p99 = (uint64_t)p99,
				      .p999 = (uint64_t)p999,
				      .mean = mean};
	return true;
}

/* A row of a language's figures: those of cairn-bench's other rows, less the maximum. */
static struct report_row *row_of(struct report *r, unsigned table, const char *name,
				 const struct latency_summary *s)
{
	struct report_row *row = report_row(r, table, name);
	report_field(row, "samples", "samples", REPORT_COUNT, (double)s->n);
	report_field(row, "p50_ns", "p50", REPORT_NS, (double)s->p50);
	report_field(row, "p90_ns", "p90", REPORT_NS, (double)s->p90);
	report_field(row, "p99_ns", "p99", REPORT_NS, (double)s->p99);
	report_field(row, "p999_ns", "p99.9", REPORT_NS, (double)s->p999);
	report_field(row, "mean_ns", "mean", REPORT_NS, s->mean);
	return row;
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
	report_init(&rep, CMD, "PING and MOVE round trips through the Go, Python and Node bindings",
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
	for (int32_t y = 500; y < 96000 && !player; y += 1000) {
		for (int32_t x = 500; x < 128000 && !player; x += 1000) {
			if (cairn_join(c, hunt.hunt_id, x, y, &player, 10 * (int64_t)SEC) < 0) {
				player = 0;
			}
		}
	}
	char echo_path[160];
	snprintf(echo_path, sizeof(echo_path), "%s/echo.sock", d.dir);
	echo = echo_start(echo_path, o.daemon_cpu);
	if (echo < 0) {
		bench_error(CMD, "cannot start the echo server on %s: %s", echo_path,
			    strerror((int)-echo));
		failed = true;
		goto out;
	}
	report_placement(&rep, "cairnd apply thread and the echo server", "CPU %d", o.daemon_cpu);
	report_placement(&rep, "each language's bench program",
			 "CPU %d (pinned, one thread "
			 "calling)",
			 o.host_cpu);
	report_place_threads(&rep, "cairnd", d.pid);
	report_param_num(&rep, "samples", "timed round trips of each kind", (double)o.samples);
	report_param_num(&rep, "warmup", "untimed first", (double)o.warmup);
	unsigned table =
		report_table(&rep, "Round trips from one caller (both sides spinning)", true);
	for (size_t i = 0; i < NLANGS; i++) {
		const struct lang *L = &langs[i];
		if (o.skip[i]) {
			continue;
		}
		char dir[PATH_MAX], out[65536], cmd[2048];
		snprintf(dir, sizeof(dir), "%s/%s", o.source, L->dir);
		struct stat st;
		if (stat(dir, &st) < 0) {
			report_line(&rep, "%s: not measured: %s is missing", L->name, dir);
			continue;
		}
		if (run_pinned(dir, L->probe, -1, out, sizeof(out), true) != 0) {
			report_line(
				&rep,
				"%s: not measured: '%s' failed in %s (toolchain missing, or the "
				"binding not built/installed: see %s/README.md)",
				L->name, L->probe, dir, L->dir);
			continue;
		}
		snprintf(cmd, sizeof(cmd),
			 "%s --socket %s --echo %s --hunt %u --player %u --samples %llu --warmup "
			 "%llu",
			 o.cmd[i] ? o.cmd[i] : L->cmd, d.socket, echo_path, hunt.hunt_id, player,
			 (unsigned long long)o.samples, (unsigned long long)o.warmup);
		bench_progress("bindings: %s: %s", L->name, cmd);
		int status = run_pinned(dir, cmd, o.host_cpu, out, sizeof(out), false);
		const char *line = last_json(out);
		struct latency_summary ping, move, sock;
		if (status != 0 || !line || !summary_of(line, "ping", &ping) ||
		    !summary_of(line, "move", &move) || !summary_of(line, "socket", &sock)) {
			bench_error(CMD,
				    "%s: the bench program exited %d without the JSON line it "
				    "should print",
				    L->name, status);
			failed = true;
			continue;
		}
		char name[96];
		snprintf(name, sizeof(name), "%s: cairn PING", L->name);
		row_of(&rep, table, name, &ping);
		snprintf(name, sizeof(name), "%s: cairn MOVE", L->name);
		row_of(&rep, table, name, &move);
		struct latency_summary as;
		if (summary_of(line, "ping_async", &as)) {
			snprintf(name, sizeof(name), "%s: cairn PING, Promise", L->name);
			row_of(&rep, table, name, &as);
		}
		snprintf(name, sizeof(name), "%s: %s echo (baseline)", L->name, L->socket_api);
		struct report_row *row = row_of(&rep, table, name, &sock);
		double x = ping.p50 ? (double)sock.p50 / (double)ping.p50 : NAN;
		report_field(row, "ratio", "socket / PING", REPORT_RATIO, x);
		char what[64];
		snprintf(what, sizeof(what), "%s PING p50", L->name);
		report_target(&rep, what, REPORT_NS, REPORT_AT_MOST, L->target_ns, (double)ping.p50,
			      true);
		snprintf(what, sizeof(what), "%s MOVE p50", L->name);
		report_target(&rep, what, REPORT_NS, REPORT_AT_MOST, L->target_ns, (double)move.p50,
			      true);
		snprintf(what, sizeof(what), "%s: times lower than %s", L->name, L->socket_api);
		report_target(&rep, what, REPORT_RATIO, REPORT_AT_LEAST, TARGET_X, x, true);
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
