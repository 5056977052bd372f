/*
 * ringtop: a live view of a running cairnd, in the manner of top.
 *
 *   ringtop [--socket PATH] [--interval SEC]       the live screen (q quits)
 *   ringtop --once [--json] [--socket PATH] ...    one sample for scripts
 *
 * It maps the daemon's state segment read-only (the observer hello: no lane is taken)
 * and only reads it, so watching never disturbs the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "ringtop.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ringtop [--socket PATH] [--interval SEC] [--once [--json]]\n"
		"A live view of a running cairnd: the daemon, its write-ahead log and engine,\n"
		"and one row per client lane with its rates and wait percentiles. It maps the\n"
		"daemon's state segment read-only and never disturbs it.\n"
		"\n"
		"Options:\n"
		"  --socket PATH     the daemon's socket (default: as cairnd's, $CAIRN_SOCKET,\n"
		"                    else $XDG_RUNTIME_DIR/cairn/cairnd.sock)\n"
		"  --interval SEC    seconds between samples, decimals allowed (default 1)\n"
		"  --once            take two samples an interval apart, print, and exit\n"
		"  --json            with --once: one JSON object with the raw counters and the\n"
		"                    rates computed from them\n"
		"  -h, --help        show this help\n"
		"\n"
		"Keys: q quit; s next sort column, r reverse, c/n/p/l/d sort by cmd/s, name, pid,\n"
		"lane, depth; f or / filter by name or pid; up/down select a lane; Enter or h\n"
		"its wait histogram; w the log's fsync histogram; Esc back; + and - the interval.\n"
		"\n"
		"Columns: DEPTH commands pushed but not yet taken; HELD results held until the\n"
		"log has their commands; FULL/S turns the result ring had no room; P50/P99 the\n"
		"wait from push to apply over the last interval (log2 buckets, interpolated);\n"
		"TOTAL commands taken from the lane's client since it attached.\n"
		"\n"
		"Exit status: 0 done, 1 no daemon or it failed, 2 usage.\n");
}

/* Whether /proc says pid is a zombie: it has exited, its parent has not reaped it yet. */
static bool zombie(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		return false;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The state follows the command name, which is in parentheses and may hold any. */
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

const char *rt_gone_reason(const struct cairn__observed *o, uint64_t stale_ns)
{
	/*
	 * A daemon killed under a parent that has not reaped it yet still answers kill(0):
	 * /proc says it has exited, without waiting for its heartbeat to go stale.
	 */
	if (zombie(o->pid)) {
		return "it exited";
	}
	if (cairn__observe_alive(o, stale_ns)) {
		return NULL;
	}
	const struct cairn_state_header *h = o->base;
	if (kill(o->pid, 0) < 0 && errno == ESRCH) {
		return "it exited";
	}
	if (cairn__load_relaxed(&h->daemon_state) == CAIRN_DAEMON_STOPPED) {
		return "it stopped";
	}
	/* The process is there but its apply thread no longer beats: hung, or stopped. */
	static char why[64];
	uint64_t beat = cairn__load_relaxed(&h->heartbeat_ns), now = cairn__now_ns();
	snprintf(why, sizeof(why), "no heartbeat for %.0f s",
		 now > beat ? (double)(now - beat) / 1e9 : 0.0);
	return why;
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/* The width of the terminal on stdout, or a wide default for pipes. */
static int text_width(void)
{
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		return ws.ws_col;
	}
	return 160;
}

static int once(struct cairn__observed *o, const char *sock, double interval_s, bool json)
{
	struct rt_view v;
	rt_view_init(&v);
	int r = rt_view_step(&v, o);
	if (r >= 0) {
		sleep_s(interval_s);
		r = rt_view_step(&v, o);
	}
	if (r < 0) {
		fprintf(stderr, "ringtop: %s\n", strerror(-r));
		rt_view_free(&v);
		return 1;
	}
	const char *gone = rt_gone_reason(o, RT_STALE_NS);
	if (json) {
		rt_print_json(stdout, &v, sock, interval_s, !gone);
	} else {
		rt_print_text(stdout, &v, interval_s, text_width());
		if (gone) {
			printf("\ncairnd (pid %d) is gone: %s.\n", (int)o->pid, gone);
		}
	}
	rt_view_free(&v);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "ringtop: writing the output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"interval", required_argument, NULL, 'i'},
		{"once", no_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *sock = NULL;
	double interval = 1.0;
	bool one = false, json = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'i': {
			char *end;
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(interval >= 0.05 && interval <= 3600)) {
				fprintf(stderr,
					"ringtop: --interval takes seconds between 0.05 and "
					"3600, such as 1 or 0.5, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'o':
			one = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'ringtop --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringtop: unexpected argument '%s'\nTry 'ringtop --help'.\n",
			argv[optind]);
		return 2;
	}
	if (json && !one) {
		fprintf(stderr, "ringtop: --json goes with --once (one sample for scripts)\n");
		return 2;
	}
	if (!one && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "ringtop: the live view needs a terminal; for scripts, use "
				"--once (with --json for JSON)\n");
		return 2;
	}
	char def[108];
	if (!sock) {
		if (cairn_default_socket_path(def, sizeof(def)) < 0) {
			fprintf(stderr, "ringtop: the default socket path is too long: pass "
					"--socket PATH\n");
			return 2;
		}
		sock = def;
	}

	struct cairn__observed o;
	char err[256];
	int r = cairn__observe(sock, &o, err, sizeof(err));
	if (r == -ENOENT || r == -ECONNREFUSED) {
		fprintf(stderr,
			"ringtop: no cairnd is listening at %s (%s). Start cairnd, or point "
			"ringtop at a running one with --socket PATH.\n",
			sock, r == -ENOENT ? "no such socket" : "connection refused");
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "ringtop: %s\n", err);
		return 1;
	}
	struct rt_options opt = {.socket = sock, .interval_s = interval};
	int rc = one ? once(&o, sock, interval, json) : rt_screen_run(&o, &opt);
	cairn__observe_close(&o);
	return rc;
}
