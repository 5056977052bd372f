#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "common/clock.h"
#include "proc.h"

#define LOG_TAIL_LINES 20

/* Whether path names an executable regular file. */
static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Stores path in p (made absolute when possible) and how it was found. */
static void choose(struct cairnd_proc *p, const char *path, const char *how)
{
	char *abs = realpath(path, NULL);
	/* Paths longer than PATH_MAX never got here: stat() refuses them. */
	snprintf(p->binary, sizeof(p->binary), "%.*s", PATH_MAX - 1, abs ? abs : path);
	snprintf(p->found_by, sizeof(p->found_by), "%s", how);
	free(abs);
}

static bool find_on_path(char *out, size_t len)
{
	const char *path = getenv("PATH");
	if (!path || !*path) {
		return false;
	}
	for (const char *s = path;; s++) {
		const char *e = strchrnul(s, ':');
		/* An empty entry means the current directory, as for execvp. */
		int n = snprintf(out, len, "%.*s/cairnd", e == s ? 1 : (int)(e - s),
				 e == s ? "." : s);
		if (n > 0 && (size_t)n < len && executable(out)) {
			return true;
		}
		if (!*e) {
			return false;
		}
		s = e;
	}
}

int cairnd_find(const char *flag_path, struct cairnd_proc *p, char *err, size_t errlen)
{
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	const char *env = getenv("CAIRND");

	if (flag_path) {
		if (!executable(flag_path)) {
			snprintf(err, errlen, "--cairnd %s: not an executable file", flag_path);
			return -ENOENT;
		}
		choose(p, flag_path, "--cairnd");
		return 0;
	}
	if (env && *env) {
		if (!executable(env)) {
			snprintf(err, errlen, "$CAIRND=%s: not an executable file", env);
			return -ENOENT;
		}
		choose(p, env, "$CAIRND");
		return 0;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
		}
		/* The build tree: build/tools/bench/cairn-bench next to build/src/cairnd. */
		snprintf(cand, sizeof(cand), "%s/../../src/cairnd", exe);
		if (executable(cand)) {
			choose(p, cand, "build tree");
			return 0;
		}
		/* An installation: both in the same bin directory. */
		snprintf(cand, sizeof(cand), "%s/cairnd", exe);
		if (executable(cand)) {
			choose(p, cand, "next to cairn-bench");
			return 0;
		}
	}
	if (find_on_path(cand, sizeof(cand))) {
		choose(p, cand, "$PATH");
		return 0;
	}
	snprintf(err, errlen,
		 "cannot find cairnd: no --cairnd, no $CAIRND, not at %s/../../src/cairnd nor "
		 "%s/cairnd, not on $PATH; use --cairnd PATH or --socket PATH",
		 n > 0 ? exe : "?", n > 0 ? exe : "?");
	return -ENOENT;
}

int cairnd_spawn(struct cairnd_proc *p, int cpu, const cpu_set_t *affinity, char *err,
		 size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char cpu_arg[16];
	p->pid = 0;
	p->cpu = cpu;
	/* sun_path is short: fall back to /tmp when $TMPDIR would not leave room. */
	if (!tmp || !*tmp || strlen(tmp) > 60) {
		tmp = "/tmp";
	}
	snprintf(p->dir, sizeof(p->dir), "%.60s/cairn-bench-XXXXXX", tmp);
	if (!mkdtemp(p->dir)) {
		int e = errno;
		snprintf(err, errlen, "cannot create a temporary directory in %s: %s", tmp,
			 strerror(e));
		p->dir[0] = '\0';
		return -e;
	}
	snprintf(p->socket, sizeof(p->socket), "%s/cairnd.sock", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/cairnd.log", p->dir);
	snprintf(cpu_arg, sizeof(cpu_arg), "%d", cpu);

	int logfd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (logfd < 0 || nullfd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s: %s", logfd < 0 ? p->log : "/dev/null",
			 strerror(e));
		if (logfd >= 0) {
			close(logfd);
		}
		return -e;
	}
	char *argv[24] = {p->binary, "--socket", p->socket};
	unsigned argc = 3;
	if (cpu >= 0) {
		argv[argc++] = "--cpu";
		argv[argc++] = cpu_arg;
	}
	bool own_data = true;
	for (unsigned i = 0; i < p->n_extra_args && i < 8; i++) {
		own_data &= strncmp(p->extra_args[i], "--durability", 12) != 0 &&
			    strncmp(p->extra_args[i], "--data-dir", 10) != 0;
	}
	if (own_data) {
		/* The log and snapshots go into the temporary directory, removed at the end. */
		snprintf(p->data, sizeof(p->data), "%s/data", p->dir);
		argv[argc++] = "--data-dir";
		argv[argc++] = p->data;
	}
	/* No first-move table building in the background of a measurement, unless asked. */
	bool tables = false;
	for (unsigned i = 0; i < p->n_extra_args && i < 8; i++) {
		tables |= strncmp(p->extra_args[i], "--table-max-cells", 17) == 0;
	}
	if (!tables) {
		argv[argc++] = "--table-max-cells";
		argv[argc++] = "0";
	}
	for (unsigned i = 0; i < p->n_extra_args && i < 8; i++) {
		argv[argc++] = (char *)p->extra_args[i];
	}
	argv[argc] = NULL;
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(err, errlen, "fork: %s", strerror(e));
		close(logfd);
		close(nullfd);
		return -e;
	}
	if (pid == 0) {
		proc_reset_child();
		/* A benchmark killed half-way must not leave a daemon pinned to a core. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) {
			_exit(1);
		}
		/* Undo any pinning of ours: only the apply thread is to be pinned, by --cpu. */
		sched_setaffinity(0, sizeof(*affinity), affinity);
		/* dup2 clears close-on-exec on the copies. */
		dup2(nullfd, STDIN_FILENO);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execv(p->binary, argv);
		dprintf(STDERR_FILENO, "cairn-bench: cannot run %s: %s\n", p->binary,
			strerror(errno));
		_exit(127);
	}
	close(logfd);
	close(nullfd);
	p->pid = pid;
	return 0;
}

/* Whether the daemon is still running; when it is not, says how it ended in err. */
static bool alive(struct cairnd_proc *p, char *err, size_t errlen)
{
	pid_t pid = p->pid;
	int status = 0;
	/* A deadline in the past: one non-blocking look. */
	if (proc_wait(&pid, &status, 1, 0, 0) == -ETIMEDOUT) {
		return true;
	}
	char how[96];
	proc_describe(status, how, sizeof(how));
	snprintf(err, errlen, "cairnd (%s) %s before accepting clients; its log is %s", p->binary,
		 how, p->log);
	p->pid = 0;
	return false;
}

int cairnd_attach(struct cairnd_proc *p, uint64_t timeout_ns, const struct cairn_open_options *opts,
		  cairn_client **c, char *err, size_t errlen)
{
	uint64_t deadline = cairn__now_ns() + timeout_ns;
	for (;;) {
		int r = cairn_open(p->socket, opts, c);
		if (r == 0) {
			return 0;
		}
		/* Not listening yet: the socket is missing or refuses. Anything else is final. */
		if (r != -ENOENT && r != -ECONNREFUSED) {
			snprintf(err, errlen, "cannot attach to cairnd at %s: %s; its log is %s",
				 p->socket, cairn_strerror(r), p->log);
			return r;
		}
		if (!alive(p, err, errlen)) {
			return -ECHILD;
		}
		if (cairn__now_ns() >= deadline) {
			snprintf(
				err, errlen,
				"cairnd (pid %d) did not accept on %s within %.1f s; its log is %s",
				(int)p->pid, p->socket, (double)timeout_ns / 1e9, p->log);
			return -ETIMEDOUT;
		}
		struct timespec ts = {.tv_nsec = 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int cairnd_stop(struct cairnd_proc *p, uint64_t timeout_ns, char *err, size_t errlen)
{
	pid_t pid = p->pid;
	int status = 0;
	if (pid <= 0) {
		return 0;
	}
	kill(pid, SIGTERM);
	int r = proc_wait(&pid, &status, 1, cairn__now_ns() + timeout_ns, 0);
	if (r == -ETIMEDOUT) {
		proc_kill(p->pid);
		p->pid = 0;
		snprintf(err, errlen,
			 "cairnd (pid %d) did not exit within %.0f s of SIGTERM; "
			 "killed it. Its log is %s",
			 (int)pid, (double)timeout_ns / 1e9, p->log);
		return -ETIMEDOUT;
	}
	p->pid = 0;
	if (r < 0) {
		snprintf(err, errlen, "waiting for cairnd: %s", strerror(-r));
		return r;
	}
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		char how[96];
		proc_describe(status, how, sizeof(how));
		snprintf(err, errlen,
			 "cairnd %s after SIGTERM (a clean stop exits 0); its log is %s", how,
			 p->log);
		return -ECHILD;
	}
	return 0;
}

void cairnd_show_log(const struct cairnd_proc *p)
{
	char lines[LOG_TAIL_LINES][256];
	unsigned n = 0;
	FILE *f = fopen(p->log, "re");
	if (!f) {
		return;
	}
	/* A ring of the last lines: the log of a failed start is short, but need not be. */
	while (fgets(lines[n % LOG_TAIL_LINES], sizeof(lines[0]), f)) {
		n++;
	}
	fclose(f);
	fprintf(stderr, "---- last lines of %s ----\n", p->log);
	for (unsigned i = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; i < n; i++) {
		const char *l = lines[i % LOG_TAIL_LINES];
		fprintf(stderr, "%s%s", l, l[0] && l[strlen(l) - 1] == '\n' ? "" : "\n");
	}
	fprintf(stderr, "----\n");
}

int cairnd_finish(struct cairnd_proc *p, const char *cmd, uint64_t timeout_ns, bool failed)
{
	char err[PATH_MAX + 256];
	int r = cairnd_stop(p, timeout_ns, err, sizeof(err));
	if (r < 0) {
		bench_error(cmd, "%s", err);
		cairnd_show_log(p);
	}
	if (failed || r < 0) {
		bench_error(cmd, "kept cairnd's log: %s", p->log);
	}
	cairnd_cleanup(p, failed || r < 0);
	return r;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void cairnd_cleanup(struct cairnd_proc *p, bool keep)
{
	if (p->pid > 0) {
		proc_kill(p->pid);
		p->pid = 0;
	}
	if (keep || !p->dir[0]) {
		return;
	}
	/* rm -r: the daemon's data directory is in there too. */
	nftw(p->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	p->dir[0] = '\0';
}

int bench_run_shell(const char *dir, const char *cmd, int cpu, char *out, size_t outlen, bool quiet,
		    uint64_t limit_ns)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		proc_reset_child();
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
	uint64_t deadline = cairn__now_ns() + limit_ns;
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
