#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_DAEMONS 16
#define MAX_ARGS    64

uint64_t h_seed;

static const char *cairnd_path;
static const char *test_name;
static pid_t owner_pid;
static bool passed;
static bool keep_files; /* CAIRN_TEST_KEEP: leave the temporary directories of a failure */
static struct h_daemon daemons[MAX_DAEMONS];
static unsigned ndaemons;

/* ---- time and randomness ---- */

uint64_t h_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void h_sleep_us(uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000),
			      .tv_nsec = (long)(us % 1000000) * 1000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

void h_rng_seed(struct h_rng *r, uint64_t seed)
{
	/* splitmix64 of the seed, so that nearby seeds give unrelated streams; never 0. */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 1;
}

uint64_t h_rng_next(struct h_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

uint64_t h_rng_below(struct h_rng *r, uint64_t n)
{
	return h_rng_next(r) % n;
}

void h_rng_fill(struct h_rng *r, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len >= 8) {
		uint64_t v = h_rng_next(r);
		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = h_rng_next(r);
		memcpy(p, &v, len);
	}
}

/* ---- the test itself ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* rm -r: the daemon's data directory lives inside the test's. */
static void remove_dir(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_str(const char *s)
{
	ssize_t w = write(STDERR_FILENO, s, strlen(s));
	(void)w;
}

static bool is_report_line(const char *l)
{
	return strncmp(l, "==", 2) == 0 || strncmp(l, "    #", 5) == 0 || strstr(l, "Sanitizer") ||
	       strstr(l, "runtime error") || strstr(l, "assertion failed");
}

/*
 * Copies the lines of a sanitizer report or a failed assertion from the whole log to
 * stderr: the daemon's other threads may go on logging while the report is written, so
 * it need not be in the log's tail. Async-signal-safe.
 */
static void dump_reports(int fd, const char *path)
{
	char buf[8192], line[1024];
	size_t len = 0;
	unsigned shown = 0;
	ssize_t n;
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				/* Longer lines are cut; the start says enough. */
				if (len < sizeof(line) - 2) {
					line[len++] = buf[i];
				}
				continue;
			}
			line[len++] = '\n';
			line[len] = '\0';
			if (shown < 400 && is_report_line(line)) {
				if (shown++ == 0) {
					write_str("---- sanitizer or assertion report in ");
					write_str(path);
					write_str(" ----\n");
				}
				write_str(line);
			}
			len = 0;
		}
	}
}

/* Copies the last 16 KiB of the daemon's log to stderr, reports first. Async-signal-safe. */
static void dump_log(const struct h_daemon *d)
{
	char buf[4096];
	ssize_t n;
	int fd = open(d->log, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return;
	}
	dump_reports(fd, d->log);
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > 16384 ? size - 16384 : 0;
	lseek(fd, from, SEEK_SET);
	write_str("---- ");
	write_str(d->log);
	write_str(from ? " (last 16 KiB) ----\n" : " ----\n");
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
		(void)w;
	}
	close(fd);
	write_str("---- end of log ----\n");
}

/* Kills every daemon still running and shows every log. Async-signal-safe. */
static void kill_and_dump(void)
{
	for (unsigned i = 0; i < ndaemons; i++) {
		struct h_daemon *d = &daemons[i];
		if (d->pid > 0) {
			kill(d->group ? -d->pid : d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			d->pid = 0;
		}
		dump_log(d);
	}
}

/*
 * Runs at every exit of the test process. A test that did not reach h_pass failed or
 * skipped: its daemons are killed, so nothing outlives it, and their logs are shown
 * because they usually say why. Forked client processes inherit the handler and must
 * not touch the daemons, hence the pid check.
 */
static void at_exit(void)
{
	if (getpid() != owner_pid || passed) {
		return;
	}
	kill_and_dump();
	for (unsigned i = 0; i < ndaemons; i++) {
		if (keep_files) {
			fprintf(stderr, "(daemon files kept in %s)\n", daemons[i].dir);
		} else {
			remove_dir(daemons[i].dir);
		}
	}
}

/*
 * meson stops a test that runs past its timeout with SIGTERM: show the daemons' logs
 * then too (a hang is where they help most), and take the daemons down first.
 */
static void on_stop_signal(int sig)
{
	if (getpid() == owner_pid) {
		write_str("test stopped by a signal (timeout?); daemon logs follow\n");
		kill_and_dump();
		/* Only the files the harness made: readdir is not async-signal-safe. */
		for (unsigned i = 0; i < ndaemons && !keep_files; i++) {
			unlink(daemons[i].sock);
			unlink(daemons[i].log);
			rmdir(daemons[i].dir);
		}
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void h_init(int argc, char **argv, const char *name)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_name = name;
	owner_pid = getpid();
	if (argc < 2 || access(argv[1], X_OK) != 0) {
		fprintf(stderr, "FAIL: usage: %s PATH-TO-CAIRND (got %s)\n", argv[0],
			argc < 2 ? "nothing" : argv[1]);
		exit(T_FAIL);
	}
	cairnd_path = argv[1];
	keep_files = getenv("CAIRN_TEST_KEEP") != NULL;
	const char *s = getenv("CAIRN_TEST_SEED");
	h_seed = s && *s ? strtoull(s, NULL, 0) : (h_now_ns() ^ ((uint64_t)getpid() << 32));
	printf("%s: cairnd %s, seed %llu (set CAIRN_TEST_SEED to repeat)\n", name, cairnd_path,
	       (unsigned long long)h_seed);
	atexit(at_exit);
	signal(SIGTERM, on_stop_signal);
	signal(SIGINT, on_stop_signal);
}

void h_pass(void)
{
	for (unsigned i = 0; i < ndaemons; i++) {
		if (daemons[i].pid > 0) {
			h_stop(&daemons[i]);
		}
	}
	passed = true;
	for (unsigned i = 0; i < ndaemons; i++) {
		remove_dir(daemons[i].dir);
	}
	printf("%s: PASS\n", test_name);
	exit(T_PASS);
}

void h_ok(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ok: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

/* ---- processes ---- */

/*
 * In a new child: die with the parent. The parent may already have died between fork
 * and prctl, in which case the child was reparented and must go by itself.
 */
static void die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(127);
	}
}

pid_t h_fork(void)
{
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		T_FAILF("fork: %s", strerror(errno));
	}
	if (pid == 0) {
		die_with_parent(parent);
	}
	return pid;
}

int h_wait_child(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			T_FAILF("waitpid(%d): %s", (int)pid, strerror(errno));
		}
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Forks and execs argv (cairnd, or with group a wrapper found in PATH), output to
 * out_fd; with group the child leads a new process group. Only async-signal-safe calls
 * in the child.
 */
static pid_t spawn_as(char *const *argv, int out_fd, bool group)
{
	sigset_t none;
	sigemptyset(&none);
	pid_t pid = h_fork();
	if (pid == 0) {
		/* A test thread may have blocked signals; the daemon sets up its own mask. */
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (group) {
			setpgid(0, 0);
		}
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 ||
		    dup2(out_fd, 2) < 0) {
			_exit(127);
		}
		if (group) {
			execvp(argv[0], argv);
		} else {
			execv(cairnd_path, argv);
		}
		_exit(127);
	}
	if (group) {
		setpgid(pid, pid); /* also here: a signal may come before the child runs */
	}
	return pid;
}

static pid_t spawn(char *const *argv, int out_fd)
{
	return spawn_as(argv, out_fd, false);
}

long h_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return -1;
	}
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p) {
		return -1;
	}
	unsigned long utime = 0, stime = 0;
	/* Fields 3..13 are skipped; 14 and 15 are utime and stime, in clock ticks. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
	    2) {
		return -1;
	}
	long hz = sysconf(_SC_CLK_TCK);
	return (long)((utime + stime) * 1000 / (unsigned long)(hz > 0 ? hz : 100));
}

/* ---- the daemon ---- */

struct h_daemon *h_prepare(void)
{
	if (ndaemons == MAX_DAEMONS) {
		T_FAILF("more than %d daemons in one test", MAX_DAEMONS);
	}
	struct h_daemon *d = &daemons[ndaemons];
	char dir[] = "/tmp/cairn-dtest-XXXXXX";
	if (!mkdtemp(dir)) {
		T_FAILF("mkdtemp: %s", strerror(errno));
	}
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->sock, sizeof(d->sock), "%s/cairnd.sock", dir);
	snprintf(d->log, sizeof(d->log), "%s/cairnd.log", dir);
	ndaemons++;
	return d;
}

void h_spawn(struct h_daemon *d, const char *const *extra)
{
	h_spawn_wrapped(d, NULL, extra);
}

void h_spawn_wrapped(struct h_daemon *d, const char *const *wrapper, const char *const *extra)
{
	char *argv[MAX_ARGS];
	unsigned n = 0;
	for (unsigned i = 0; wrapper && wrapper[i]; i++) {
		if (n + 1 >= MAX_ARGS / 2) {
			T_FAILF("too many wrapper arguments");
		}
		argv[n++] = (char *)wrapper[i];
	}
	argv[n++] = (char *)cairnd_path;
	argv[n++] = (char *)"--socket";
	argv[n++] = d->sock;
	/*
	 * The data directory lives in the test's own unless the test names one: never the
	 * user's default, whatever --durability says (with none, cairnd ignores it).
	 */
	bool own_data = true;
	for (unsigned i = 0; extra && extra[i]; i++) {
		if (strncmp(extra[i], "--data-dir", 10) == 0) {
			own_data = false;
		}
	}
	if (own_data) {
		snprintf(d->data, sizeof(d->data), "%s/data", d->dir);
		argv[n++] = (char *)"--data-dir";
		argv[n++] = d->data;
	}
	/*
	 * No first-move tables unless the test asks: building one costs seconds of CPU at
	 * every start, which a suite of hundreds of starts on two cores cannot spare.
	 */
	bool tables = false;
	for (unsigned i = 0; extra && extra[i]; i++) {
		tables |= strncmp(extra[i], "--table-max-cells", 17) == 0;
	}
	if (!tables) {
		argv[n++] = (char *)"--table-max-cells";
		argv[n++] = (char *)"0";
	}
	for (unsigned i = 0; extra && extra[i]; i++) {
		if (n + 1 >= MAX_ARGS) {
			T_FAILF("too many daemon arguments");
		}
		argv[n++] = (char *)extra[i];
	}
	argv[n] = NULL;
	/* Append: a daemon restarted in the same directory keeps the earlier lines. */
	int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		T_FAILF("cannot create %s: %s", d->log, strerror(errno));
	}
	printf("starting:");
	for (unsigned i = 0; i < n; i++) {
		printf(" %s", argv[i]);
	}
	printf("\n");
	d->group = wrapper && wrapper[0];
	d->pid = spawn_as(argv, fd, d->group);
	d->status = 0;
	close(fd);
}

void h_wait_ready(struct h_daemon *d)
{
	uint64_t deadline = h_now_ns() + 5000000000ull;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock);
	for (;;) {
		int st;
		pid_t w = waitpid(d->pid, &st, WNOHANG);
		if (w == d->pid) {
			d->pid = 0;
			d->status = st;
			T_FAILF("cairnd exited before accepting connections (status 0x%x)", st);
		}
		/*
		 * A connection that closes before its hello costs the daemon nothing and is not
		 * counted as a refused attach, so probing does not disturb the counters.
		 */
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			T_FAILF("socket: %s", strerror(errno));
		}
		int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (r == 0) {
			return;
		}
		if (h_now_ns() > deadline) {
			T_FAILF("cairnd did not accept connections on %s within 5 s", d->sock);
		}
		h_sleep_us(2000);
	}
}

struct h_daemon *h_start(const char *const *extra)
{
	struct h_daemon *d = h_prepare();
	h_spawn(d, extra);
	h_wait_ready(d);
	return d;
}

void h_signal(struct h_daemon *d, int sig)
{
	if (d->pid > 0) {
		kill(d->group ? -d->pid : d->pid, sig);
	}
}

bool h_wait_exit(struct h_daemon *d, int timeout_ms)
{
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	while (d->pid > 0) {
		int st;
		pid_t w = waitpid(d->pid, &st, WNOHANG);
		if (w == d->pid) {
			d->pid = 0;
			d->status = st;
			break;
		}
		if (w < 0 && errno != EINTR) {
			T_FAILF("waitpid(%d): %s", (int)d->pid, strerror(errno));
		}
		if (h_now_ns() > deadline) {
			return false;
		}
		h_sleep_us(1000);
	}
	return true;
}

void h_expect_clean_exit(struct h_daemon *d)
{
	if (d->pid > 0) {
		T_FAILF("cairnd (pid %d) is still running", (int)d->pid);
	}
	if (!WIFEXITED(d->status) || WEXITSTATUS(d->status) != 0) {
		if (WIFSIGNALED(d->status)) {
			T_FAILF("cairnd was killed by signal %d (%s)", WTERMSIG(d->status),
				strsignal(WTERMSIG(d->status)));
		}
		T_FAILF("cairnd exited with status %d, expected 0", WEXITSTATUS(d->status));
	}
}

void h_stop(struct h_daemon *d)
{
	if (d->pid <= 0) {
		h_expect_clean_exit(d);
		return;
	}
	pid_t pid = d->pid;
	h_signal(d, SIGTERM);
	if (!h_wait_exit(d, 10000)) {
		T_FAILF("cairnd (pid %d) did not exit within 10 s of SIGTERM", (int)pid);
	}
	h_expect_clean_exit(d);
}

void h_print_log(const struct h_daemon *d)
{
	fflush(stderr);
	dump_log(d);
}

static bool log_has_now(const struct h_daemon *d, const char *a, const char *b)
{
	FILE *f = fopen(d->log, "re");
	char line[2048];
	bool found = false;
	if (!f) {
		return false;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		found = strstr(line, a) && (!b || strstr(line, b));
	}
	fclose(f);
	return found;
}

bool h_log_has(const struct h_daemon *d, const char *a, const char *b, int timeout_ms)
{
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	while (!log_has_now(d, a, b)) {
		if (h_now_ns() > deadline) {
			return false;
		}
		h_sleep_us(2000);
	}
	return true;
}

int h_run(const char *const *args, int timeout_ms, char *out, size_t outlen)
{
	char *argv[MAX_ARGS];
	char path[] = "/tmp/cairn-dtest-out-XXXXXX";
	/* Never the user's own data directory: one of the test's, removed afterwards. */
	char data[] = "/tmp/cairn-dtest-data-XXXXXX";
	if (!mkdtemp(data)) {
		T_FAILF("mkdtemp: %s", strerror(errno));
	}
	unsigned n = 0;
	argv[n++] = (char *)cairnd_path;
	argv[n++] = "--data-dir";
	argv[n++] = data;
	for (unsigned i = 0; args[i]; i++) {
		if (n + 1 >= MAX_ARGS) {
			T_FAILF("too many daemon arguments");
		}
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		T_FAILF("mkostemp: %s", strerror(errno));
	}
	unlink(path);
	pid_t pid = spawn(argv, fd);
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	int st = 0;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			break;
		}
		if (h_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ssize_t k = pread(fd, out, outlen - 1, 0);
			out[k > 0 ? k : 0] = '\0';
			close(fd);
			remove_dir(data);
			T_FAILF("cairnd %s still ran after %d ms; output:\n%s",
				args[0] ? args[0] : "", timeout_ms, out);
		}
		h_sleep_us(1000);
	}
	ssize_t k = pread(fd, out, outlen - 1, 0);
	out[k > 0 ? k : 0] = '\0';
	close(fd);
	remove_dir(data);
	return st;
}

/* ---- counters ---- */

uint64_t h_counter(cairn_client *c, size_t field)
{
	struct cairn_daemon_info info;
	uint64_t v;
	ASSERT_OK(cairn_daemon_info(c, &info));
	memcpy(&v, (const char *)&info.counters + field, sizeof(v));
	return v;
}

uint64_t h_wait_counter(cairn_client *c, size_t field, uint64_t value, bool exact, int timeout_ms)
{
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	for (;;) {
		uint64_t v = h_counter(c, field);
		if (exact ? v == value : v >= value) {
			return v;
		}
		if (h_now_ns() > deadline) {
			return v;
		}
		h_sleep_us(1000);
	}
}

/* ---- the pinger ---- */

static void *pinger_main(void *arg)
{
	struct h_pinger *p = arg;
	struct h_rng rng;
	h_rng_seed(&rng, p->seed);
	for (uint64_t n = 0; !__atomic_load_n(&p->stop, __ATOMIC_RELAXED); n++) {
		struct cairn_msg m, res;
		uint64_t t0 = h_now_ns();
		int r;
		if (n % 4 == 3) {
			r = cairn_ping(p->c, 2000000000ll);
		} else {
			cairn_msg_init(&m, CAIRN_MSG_ECHO, (uint8_t)(8 + h_rng_below(&rng, 33)));
			h_rng_fill(&rng, m.payload, m.hdr.length);
			memcpy(m.payload, &n, sizeof(n));
			r = cairn_call(p->c, &m, &res, 2000000000ll);
			if (r == 0 && (res.hdr.type != CAIRN_MSG_ECHO_REPLY ||
				       res.hdr.length != m.hdr.length ||
				       memcmp(res.payload, m.payload, m.hdr.length) != 0)) {
				T_FAILF("pinger: call %llu got a wrong result (type 0x%x, length "
					"%u)",
					(unsigned long long)n, res.hdr.type, res.hdr.length);
			}
		}
		if (r != 0) {
			T_FAILF("pinger: call %llu failed after %llu ms: %d (%s)",
				(unsigned long long)n,
				(unsigned long long)((h_now_ns() - t0) / 1000000), r,
				cairn_strerror(r));
		}
		uint64_t dt = h_now_ns() - t0;
		if (dt > p->max_ns) {
			p->max_ns = dt;
		}
		__atomic_fetch_add(&p->calls, 1, __ATOMIC_RELAXED);
		h_sleep_us(200);
	}
	return NULL;
}

void h_pinger_start(struct h_pinger *p, const char *sock)
{
	memset(p, 0, sizeof(*p));
	p->seed = h_seed ^ 0x5157;
	ASSERT_OK(cairn_open(sock, NULL, &p->c));
	if (pthread_create(&p->thread, NULL, pinger_main, p) != 0) {
		T_FAILF("pthread_create failed");
	}
}

uint64_t h_pinger_calls(struct h_pinger *p)
{
	return __atomic_load_n(&p->calls, __ATOMIC_RELAXED);
}

void h_pinger_stop(struct h_pinger *p)
{
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
	pthread_join(p->thread, NULL);
	ASSERT_TRUE(p->calls > 0);
	cairn_close(p->c);
	p->c = NULL;
}

void h_pinger_finish(struct h_pinger *p)
{
	uint64_t calls = h_pinger_calls(p);
	h_pinger_stop(p);
	h_ok("the well-behaved client made %llu calls throughout, all answered correctly, "
	     "slowest %llu ms",
	     (unsigned long long)calls, (unsigned long long)(p->max_ns / 1000000));
}

/* ---- raw attach ---- */

void h_hello_default(struct cairn_hello *h, const char *name)
{
	memset(h, 0, sizeof(*h));
	h->magic = CAIRN_HELLO_MAGIC;
	h->version_major = CAIRN_PROTO_MAJOR;
	h->version_minor = CAIRN_PROTO_MINOR;
	h->client_pid = (uint32_t)getpid();
	snprintf((char *)h->name, sizeof(h->name), "%s", name ? name : "raw");
}

int h_connect(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		T_FAILF("socket: %s", strerror(errno));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		T_FAILF("connect %s: %s", sock, strerror(errno));
	}
	return fd;
}

int h_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int h_recv_welcome(int fd, struct cairn_welcome *w, int fds[2], int *nfds, int timeout_ms)
{
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	size_t got = 0;
	*nfds = 0;
	while (got < sizeof(*w)) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} ctl;
		int64_t left = (int64_t)(deadline - h_now_ns()) / 1000000;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, left > 0 ? (int)left : 0);
		if (pr < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			return pr == 0 ? -ETIMEDOUT : -errno;
		}
		struct iovec iov = {.iov_base = (char *)w + got, .iov_len = sizeof(*w) - got};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl.buf,
				    .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				continue;
			}
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
				continue;
			}
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int v[4];
			memcpy(v, CMSG_DATA(c), (k > 4 ? 4 : k) * sizeof(int));
			for (size_t i = 0; i < k && i < 4; i++) {
				if (*nfds < 2) {
					fds[(*nfds)++] = v[i];
				} else {
					close(v[i]);
				}
			}
		}
		if (n == 0) {
			return got ? -EPROTO : -ECONNRESET;
		}
		got += (size_t)n;
	}
	return 0;
}

bool h_wait_eof(int fd, int timeout_ms)
{
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	char buf[256];
	for (;;) {
		int64_t left = (int64_t)(deadline - h_now_ns()) / 1000000;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, left > 0 ? (int)left : 0);
		if (pr < 0 && errno == EINTR) {
			continue;
		}
		if (pr <= 0) {
			return false;
		}
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			return true;
		}
		/* The daemon sends nothing after the welcome; anything else is not EOF yet. */
	}
}

static void *map_fd(int fd, bool writable, uint64_t *size)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		T_FAILF("fstat: %s", strerror(errno));
	}
	*size = (uint64_t)st.st_size;
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | (writable ? PROT_WRITE : 0),
		       MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		T_FAILF("mmap %s: %s", writable ? "read-write" : "read-only", strerror(errno));
	}
	return p;
}

int h_raw_attach(const char *sock, const struct cairn_hello *h, struct h_raw *r)
{
	return h_raw_attach_session(sock, h, 0, r);
}

int h_raw_attach_session(const char *sock, const struct cairn_hello *h, uint64_t session,
			 struct h_raw *r)
{
	int fds[2] = {-1, -1}, nfds = 0;
	memset(r, 0, sizeof(*r));
	r->sock = h_connect(sock);
	struct {
		struct cairn_hello h;
		struct cairn_hello_session s;
	} msg;
	memset(&msg, 0, sizeof(msg));
	msg.h = *h;
	size_t len = sizeof(msg.h);
	if (session) {
		msg.h.flags |= CAIRN_HELLO_SESSION;
		msg.s.session_id = session;
		len = sizeof(msg);
	}
	int e = h_send_all(r->sock, &msg, len);
	if (e < 0) {
		return e;
	}
	e = h_recv_welcome(r->sock, &r->welcome, fds, &nfds, 5000);
	if (e < 0) {
		for (int i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return e;
	}
	ASSERT_UEQ(r->welcome.magic, CAIRN_WELCOME_MAGIC);
	if (r->welcome.status != 0) {
		ASSERT_EQ(nfds, 0);
		return r->welcome.status;
	}
	ASSERT_EQ(nfds, 2);
	r->state = map_fd(fds[0], false, &r->state_size);
	r->lane = map_fd(fds[1], true, &r->lane_size);
	close(fds[0]);
	close(fds[1]);

	const struct cairn_state_header *sh = r->state;
	ASSERT_UEQ(sh->magic, CAIRN_STATE_MAGIC);
	ASSERT_TRUE(sh->counters_offset + sizeof(struct cairn_daemon_counters) <= r->state_size);
	r->counters = (const void *)((const char *)r->state + sh->counters_offset);

	/* The daemon wrote this header; check it before computing pointers from it. */
	r->hdr = r->lane;
	ASSERT_UEQ(r->hdr->magic, CAIRN_LANE_MAGIC);
	ASSERT_UEQ(r->hdr->lane_size, r->lane_size);
	ASSERT_UEQ(r->hdr->lane_id, r->welcome.lane_id);
	ASSERT_UEQ(r->hdr->client_id, r->welcome.client_id);
	ASSERT_UEQ(r->hdr->lane_state, CAIRN_LANE_ACTIVE);
	r->cmd_cap = r->hdr->cmd_capacity;
	r->res_cap = r->hdr->res_capacity;
	ASSERT_TRUE(r->cmd_cap >= 2 && (r->cmd_cap & (r->cmd_cap - 1)) == 0);
	ASSERT_TRUE(r->res_cap >= 2 && (r->res_cap & (r->res_cap - 1)) == 0);
	ASSERT_TRUE(r->hdr->cmd_ring_offset + sizeof(struct cairn_ring_header) +
			    (uint64_t)r->cmd_cap * sizeof(struct cairn_slot) <=
		    r->lane_size);
	ASSERT_TRUE(r->hdr->res_ring_offset + sizeof(struct cairn_ring_header) +
			    (uint64_t)r->res_cap * sizeof(struct cairn_slot) <=
		    r->lane_size);
	ASSERT_TRUE(r->hdr->blob_offset + r->hdr->blob_size <= r->lane_size);
	r->cmd_hdr = (void *)((char *)r->lane + r->hdr->cmd_ring_offset);
	r->res_hdr = (void *)((char *)r->lane + r->hdr->res_ring_offset);
	r->cmd_slots = (void *)(r->cmd_hdr + 1);
	r->res_slots = (void *)(r->res_hdr + 1);
	r->blob = (uint8_t *)r->lane + r->hdr->blob_offset;
	r->blob_size = r->hdr->blob_size;
	return 0;
}

void h_raw_close(struct h_raw *r)
{
	if (r->state) {
		munmap((void *)r->state, (size_t)r->state_size);
	}
	if (r->lane) {
		munmap(r->lane, (size_t)r->lane_size);
	}
	if (r->sock > 0) {
		close(r->sock);
	}
	memset(r, 0, sizeof(*r));
}

void h_raw_ring(struct h_raw *r)
{
	uint32_t *word = &r->cmd_hdr->bell.word;
	/* The bump makes a daemon about to sleep on the old value return at once. */
	__atomic_fetch_add(word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

bool h_raw_push(struct h_raw *r, const struct cairn_msg *m)
{
	uint64_t pos = r->cmd_pos;
	struct cairn_slot *s = &r->cmd_slots[pos & (r->cmd_cap - 1)];
	/* Acquire pairs with the daemon's release that freed the slot for this lap. */
	if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != pos) {
		return false;
	}
	/* We are the only producer: the claim is a plain store of head, not a CAS. */
	__atomic_store_n(&r->cmd_hdr->head, pos + 1, __ATOMIC_RELAXED);
	memcpy(&s->msg, m, sizeof(*m));
	/* Release publishes the message to the daemon's acquire of seq. */
	__atomic_store_n(&s->seq, pos + 1, __ATOMIC_RELEASE);
	r->cmd_pos = pos + 1;
	h_raw_ring(r);
	return true;
}

bool h_raw_pop(struct h_raw *r, struct cairn_msg *m, int timeout_ms)
{
	uint64_t pos = r->res_pos;
	struct cairn_slot *s = &r->res_slots[pos & (r->res_cap - 1)];
	uint64_t deadline = h_now_ns() + (uint64_t)timeout_ms * 1000000;
	unsigned spins = 0;
	/* Acquire pairs with the daemon's release of seq = pos + 1 (the result). */
	while (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != pos + 1) {
		if (h_now_ns() > deadline) {
			return false;
		}
		if (++spins < 1000) {
			sched_yield();
		} else {
			h_sleep_us(100);
		}
	}
	memcpy(m, &s->msg, sizeof(*m));
	/* Release orders our copy before the daemon reuses the slot on the next lap. */
	__atomic_store_n(&s->seq, pos + r->res_cap, __ATOMIC_RELEASE);
	__atomic_store_n(&r->res_hdr->tail, pos + 1, __ATOMIC_RELAXED);
	r->res_pos = pos + 1;
	return true;
}

uint32_t h_raw_lane_state(const struct h_raw *r)
{
	return __atomic_load_n(&r->hdr->lane_state, __ATOMIC_ACQUIRE);
}

uint64_t h_raw_counter(const struct h_raw *r, size_t field)
{
	return __atomic_load_n((const uint64_t *)((const char *)r->counters + field),
			       __ATOMIC_RELAXED);
}

struct cairn_msg h_ping_msg(uint64_t stamp)
{
	struct cairn_msg m;
	struct cairn_ping p = {.client_stamp = stamp};
	cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
	memcpy(m.payload, &p, sizeof(p));
	m.hdr.request_id = stamp;
	return m;
}
