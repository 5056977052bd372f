/*
 * ringtop's live screen, driven through tmux on an 80x24 terminal against a cairnd under
 * load: the header and the load's row appear and their figures change; the keys (a
 * histogram, the log's histogram, sort, filter) work; the screen follows resizes; q
 * quits; ringtop's own CPU at 1 Hz is measured; when the daemon is killed, ringtop says
 * that it is gone instead of freezing, and still quits on q.
 *
 * Usage: ringtop_tmux PATH-TO-CAIRND PATH-TO-RINGTOP
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "../daemon/harness.h"

#define SEC ((int64_t)1000 * 1000 * 1000)
/* CPU is measured over this long at the default interval of 1 s. */
#define CPU_WINDOW_MS 6000
/* A bound that cannot flake on a busy machine; the target is 1 %. */
#define CPU_BOUND_PCT 5.0

static char server[64]; /* our own tmux server: -L name */
static char screen[64 * 1024];

/* Runs tmux -L server -f /dev/null with args (a shell word list); its stdout into out. */
static int tmux(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int tmux(char *out, size_t len, const char *fmt, ...)
{
	char args[2048], cmd[2200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "tmux -L %s -f /dev/null %s 2>&1", server, args);
	FILE *p = popen(cmd, "r");
	if (!p) {
		T_FAILF("popen(%s): %s", cmd, strerror(errno));
	}
	size_t n = 0;
	char sink[4096];
	for (;;) {
		size_t room = out && len > n + 1 ? len - n - 1 : 0;
		size_t got = fread(room ? out + n : sink, 1, room ? room : sizeof(sink), p);
		if (got == 0) {
			break;
		}
		if (room) {
			n += got;
		}
	}
	if (out && len) {
		out[n] = '\0';
	}
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void kill_server(void)
{
	if (server[0]) {
		tmux(NULL, 0, "kill-server");
	}
}

static const char *capture(const char *target)
{
	if (tmux(screen, sizeof(screen), "capture-pane -p -t %s", target) != 0) {
		T_FAILF("tmux capture-pane failed: %s", screen);
	}
	return screen;
}

/* Polls the pane until it shows needle, up to timeout_ms; fails the test otherwise. */
static void wait_screen(const char *target, const char *needle, int timeout_ms)
{
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (!strstr(capture(target), needle)) {
		if (h_now_ns() > deadline) {
			fprintf(stderr, "---- the screen ----\n%s\n----\n", screen);
			T_FAILF("ringtop's screen never showed \"%s\" within %d ms", needle,
				timeout_ms);
		}
		h_sleep_us(100 * 1000);
	}
}

/* The line of the screen that holds needle (a copy), or "" when none does. */
static const char *line_with(const char *needle)
{
	static char line[512];
	line[0] = '\0';
	const char *p = strstr(screen, needle);
	if (!p) {
		return line;
	}
	while (p > screen && p[-1] != '\n') {
		p--;
	}
	size_t n = strcspn(p, "\n");
	snprintf(line, sizeof(line), "%.*s", (int)n, p);
	return line;
}

/* The screen's size as captured: lines and the longest line. */
static void extent(int *lines, int *widest)
{
	*lines = 0;
	*widest = 0;
	for (const char *p = screen; *p;) {
		int n = (int)strcspn(p, "\n");
		*widest = n > *widest ? n : *widest;
		(*lines)++;
		p += n;
		if (*p) {
			p++;
		}
	}
}

/*
 * The pane runs ringtop under timeout (nothing outlives a test that meson stops; with
 * --foreground it stays in the terminal's foreground process group) from a shell that
 * then writes ringtop's exit status into a file: tmux 3.3 does not always report the
 * status of a dead pane.
 */
struct run {
	const char *session;
	char status_path[192];
	pid_t pid; /* ringtop's */
};

/* The first child of pid, from /proc, or 0. */
static pid_t first_child(pid_t pid)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "re");
	int child = 0;
	if (f) {
		if (fscanf(f, "%d", &child) != 1) {
			child = 0;
		}
		fclose(f);
	}
	return child;
}

static bool is_ringtop(pid_t pid)
{
	char path[64], comm[32] = "";
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(comm, sizeof(comm), f)) {
			comm[0] = '\0';
		}
		fclose(f);
	}
	return strncmp(comm, "ringtop", 7) == 0;
}

/* Starts ringtop in a new detached session of 80x24 and finds its pid. */
static void start(struct run *r, const char *session, const char *dir, const char *ringtop,
		  const char *sock, const char *extra)
{
	char out[256];
	r->session = session;
	snprintf(r->status_path, sizeof(r->status_path), "%s/%s.status", dir, session);
	if (tmux(out, sizeof(out),
		 "new-session -d -s %s -x 80 -y 24 'timeout --foreground 60 %s --socket %s %s; "
		 "echo exit=$? > %s'",
		 session, ringtop, sock, extra, r->status_path) != 0) {
		T_FAILF("tmux new-session failed: %s", out);
	}
	tmux(out, sizeof(out), "display -p -t %s '#{pane_pid}'", session);
	pid_t shell = (pid_t)atoi(out);
	uint64_t deadline = h_now_ns() + 5 * (uint64_t)SEC;
	for (;;) {
		/* The shell, then timeout, then ringtop. */
		pid_t p = shell;
		for (int depth = 0; depth < 3 && p > 0 && !is_ringtop(p); depth++) {
			p = first_child(p);
		}
		if (p > 0 && is_ringtop(p)) {
			r->pid = p;
			return;
		}
		if (h_now_ns() > deadline) {
			T_FAILF("no ringtop process under the tmux pane (pid %d)", (int)shell);
		}
		h_sleep_us(20 * 1000);
	}
}

/* Waits until ringtop has exited; fails unless it exited with status 0. */
static void wait_exit(const struct run *r, int timeout_ms)
{
	char status[32] = "";
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		FILE *f = fopen(r->status_path, "re");
		if (f) {
			bool got = fgets(status, sizeof(status), f) && strchr(status, '\n');
			fclose(f);
			if (got) {
				break;
			}
		}
		if (h_now_ns() > deadline) {
			fprintf(stderr, "---- the screen ----\n%s\n----\n", capture(r->session));
			T_FAILF("ringtop did not exit within %d ms of q", timeout_ms);
		}
		h_sleep_us(50 * 1000);
	}
	if (strcmp(status, "exit=0\n") != 0) {
		T_FAILF("ringtop exited, but not with status 0: %s", status);
	}
}

/*
 * The CPU time pid has used, in ms: from its CPU clock (ns), else from /proc in clock
 * ticks (10 ms). -1 if unknown.
 */
static double cpu_ms(pid_t pid)
{
	clockid_t cid;
	struct timespec ts;
	if (clock_getcpuclockid(pid, &cid) == 0 && clock_gettime(cid, &ts) == 0) {
		return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
	}
	return (double)h_cpu_ms(pid);
}

/* The load: one host PINGing about ten thousand times a second on a lane of its own. */
struct load {
	cairn_client *c;
	pthread_t thread;
	atomic_int stop;
};

static void *load_main(void *arg)
{
	struct load *l = arg;
	while (!atomic_load(&l->stop)) {
		ASSERT_OK(cairn_ping(l->c, 5 * SEC));
		h_sleep_us(50);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "ringtop_tmux");
	if (argc < 3 || access(argv[2], X_OK) != 0) {
		T_FAILF("usage: %s PATH-TO-CAIRND PATH-TO-RINGTOP", argv[0]);
	}
	const char *ringtop = argv[2];
	if (system("command -v tmux >/dev/null 2>&1") != 0) {
		T_SKIP_BECAUSE("tmux is not installed (apt-get install tmux): ringtop's live "
			       "screen is not tested");
	}
	snprintf(server, sizeof(server), "ringtop-test-%d", (int)getpid());
	atexit(kill_server);

	struct h_daemon *d = h_start(NULL);
	struct load l = {0};
	struct cairn_open_options oo = {.name = "tmux-load"};
	ASSERT_OK(cairn_open(d->sock, &oo, &l.c));
	if (pthread_create(&l.thread, NULL, load_main, &l) != 0) {
		T_FAILF("pthread_create failed");
	}

	struct run live;
	start(&live, "live", d->dir, ringtop, d->sock, "");
	pid_t rt = live.pid;
	char want[64];
	snprintf(want, sizeof(want), "cairnd pid %d", (int)d->pid);
	wait_screen("live", want, 5000);
	wait_screen("live", "tmux-load", 5000);
	wait_screen("live", "cmd/s", 1000);
	int lines, widest;
	extent(&lines, &widest);
	ASSERT_LE(widest, 80);
	ASSERT_LE(lines, 24);
	char row[512];
	snprintf(row, sizeof(row), "%s", line_with("tmux-load"));
	char header[512];
	snprintf(header, sizeof(header), "%s", line_with("daemon"));
	h_sleep_us(1500 * 1000);
	capture("live");
	ASSERT_TRUE(strcmp(row, line_with("tmux-load")) != 0);
	h_ok("80x24: the header (\"%s\") and the load's row appear and change:", want);
	printf("  %s\n  %s\n", row, line_with("tmux-load"));
	printf("  %s\n  %s\n", header, line_with("daemon"));

	/* ringtop's own CPU at the default 1 Hz, from /proc, while the daemon is busy. */
	double cpu0 = cpu_ms(rt);
	uint64_t t0 = h_now_ns();
	h_sleep_us(CPU_WINDOW_MS * 1000);
	double cpu1 = cpu_ms(rt);
	double ms = (double)(h_now_ns() - t0) / 1e6;
	ASSERT_TRUE(cpu0 >= 0 && cpu1 >= cpu0);
	double pct = 100.0 * (cpu1 - cpu0) / ms;
	h_ok("ringtop at 1 Hz used %.2f ms of CPU in %.1f s: %.3f %% of a core (target < 1 %%, "
	     "bound %.0f %%)",
	     cpu1 - cpu0, ms / 1000, pct, CPU_BOUND_PCT);
	ASSERT_TRUE(pct < CPU_BOUND_PCT);

	/* Keys: the lane's histogram, the log's, back; sort; filter. */
	tmux(NULL, 0, "send-keys -t live h");
	wait_screen("live", "wait from push to apply", 2000);
	tmux(NULL, 0, "send-keys -t live w");
	wait_screen("live", "WAL write + fdatasync", 2000);
	tmux(NULL, 0, "send-keys -t live Escape");
	wait_screen("live", "LANE", 2000);
	tmux(NULL, 0, "send-keys -t live s");
	wait_screen("live", "sort RES/S", 2000);
	tmux(NULL, 0, "send-keys -t live f");
	wait_screen("live", "filter (name or pid", 2000);
	tmux(NULL, 0, "send-keys -t live -l zzz");
	tmux(NULL, 0, "send-keys -t live Enter");
	wait_screen("live", "no lane matches the filter", 2000);
	tmux(NULL, 0, "send-keys -t live f");
	tmux(NULL, 0, "send-keys -t live C-u");
	tmux(NULL, 0, "send-keys -t live -l load");
	tmux(NULL, 0, "send-keys -t live Enter");
	wait_screen("live", "filter \"load\": 1 of 1 lanes", 2000);
	wait_screen("live", "tmux-load", 2000);
	h_ok("keys: h shows the lane's wait histogram, w the log's, Esc the table, s sorts by "
	     "RES/S, f filters (\"zzz\" matches nothing, \"load\" the load)");

	/* Resizes: smaller, then larger; the screen follows. */
	tmux(NULL, 0, "resize-window -t live -x 60 -y 15");
	wait_screen("live", "q quit", 2000);
	uint64_t deadline = h_now_ns() + 3 * (uint64_t)SEC;
	for (;;) {
		capture("live");
		extent(&lines, &widest);
		if (lines <= 15 && widest <= 60 && strstr(screen, want) &&
		    strstr(screen, "tmux-load")) {
			break;
		}
		if (h_now_ns() > deadline) {
			fprintf(stderr, "%s\n", screen);
			T_FAILF("after a resize to 60x15 the screen is %d lines, %d wide", lines,
				widest);
		}
		h_sleep_us(100 * 1000);
	}
	tmux(NULL, 0, "resize-window -t live -x 132 -y 30");
	wait_screen("live", "CLIENT", 3000); /* a column that only fits a wide screen */
	wait_screen("live", "tmux-load", 2000);
	h_ok("resized to 60x15 the screen fits and keeps the load's row; at 132x30 it shows "
	     "the CLIENT column");

	/*
	 * The second run starts before the first quits: the tmux server exits with its last
	 * session, and a new session could race with that exit.
	 */
	struct run gone;
	start(&gone, "gone", d->dir, ringtop, d->sock, "--interval 0.5");

	/* q quits, with status 0. */
	tmux(NULL, 0, "send-keys -t live q");
	wait_exit(&live, 3000);
	ASSERT_TRUE(kill(rt, 0) < 0 && errno == ESRCH);
	h_ok("q: ringtop exits with status 0");

	/* The daemon dies under a running ringtop. */
	wait_screen("gone", "tmux-load", 5000);
	atomic_store(&l.stop, 1);
	pthread_join(l.thread, NULL);
	cairn_close(l.c);
	pid_t dpid = d->pid;
	h_signal(d, SIGKILL);
	ASSERT_TRUE(h_wait_exit(d, 5000));
	uint64_t killed = h_now_ns();
	snprintf(want, sizeof(want), "cairnd (pid %d) is gone", (int)dpid);
	wait_screen("gone", want, 5000);
	double after = (double)(h_now_ns() - killed) / 1e9;
	/* The last figures stay on the screen. */
	ASSERT_TRUE(strstr(screen, "tmux-load") != NULL);
	h_ok("SIGKILL to cairnd: within %.1f s ringtop shows \"%s\" above the last figures:", after,
	     line_with(want));
	tmux(NULL, 0, "send-keys -t gone q");
	wait_exit(&gone, 3000);
	h_ok("and q still quits, with status 0");
	h_pass();
}
