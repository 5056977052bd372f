#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "common/clock.h"

int proc_init(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	/*
	 * A blocked SIGCHLD stays pending on Linux even though its default action is to be
	 * ignored, which is what lets sigtimedwait sleep until a child ends.
	 */
	return sigprocmask(SIG_BLOCK, &set, NULL) < 0 ? -errno : 0;
}

void proc_reset_child(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	signal(SIGPIPE, SIG_DFL);
}

int proc_wait(pid_t *pids, int *status, unsigned n, uint64_t deadline_ns, int fail_fast)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (;;) {
		unsigned running = 0;
		for (unsigned i = 0; i < n; i++) {
			if (pids[i] <= 0) {
				continue;
			}
			pid_t p = waitpid(pids[i], &status[i], WNOHANG);
			if (p < 0) {
				return -errno;
			}
			if (p == 0) {
				running++;
				continue;
			}
			pids[i] = -pids[i];
			if (fail_fast && !(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0)) {
				return -ECANCELED;
			}
		}
		if (running == 0) {
			return 0;
		}
		uint64_t now = cairn__now_ns();
		if (now >= deadline_ns) {
			return -ETIMEDOUT;
		}
		/*
		 * Sleep until some child changes state. A SIGCHLD left pending by a child reaped
		 * earlier only costs one more pass through the loop.
		 */
		struct timespec ts = cairn__ns_to_timespec(deadline_ns - now);
		if (sigtimedwait(&set, NULL, &ts) < 0 && errno != EAGAIN && errno != EINTR) {
			return -errno;
		}
	}
}

void proc_kill(pid_t pid)
{
	if (pid <= 0) {
		return;
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
	}
}

int proc_cpu_ticks(pid_t pid, uint64_t *ticks)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		return -errno;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/*
	 * The command name (field 2) is in parentheses and may hold spaces or ')' itself:
	 * the fields after it start after the last ')'. From there, field 3 (state) is the
	 * first and utime, stime are fields 14 and 15.
	 */
	char *p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			 &stime) != 2) {
		return -EPROTO;
	}
	*ticks = utime + stime;
	return 0;
}

int proc_cpu_clock_ns(pid_t pid, uint64_t *ns)
{
	clockid_t clk;
	struct timespec ts;
	int r = clock_getcpuclockid(pid, &clk);
	if (r != 0) {
		return -r; /* this one returns the error number itself */
	}
	if (clock_gettime(clk, &ts) < 0) {
		return -errno;
	}
	*ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

void proc_describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else {
		snprintf(buf, len, "ended with wait status 0x%x", (unsigned)status);
	}
}

int proc_memory(pid_t pid, struct proc_memory *m)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{"VmRSS:", offsetof(struct proc_memory, vm_rss)},
		{"RssAnon:", offsetof(struct proc_memory, rss_anon)},
		{"RssFile:", offsetof(struct proc_memory, rss_file)},
		{"RssShmem:", offsetof(struct proc_memory, rss_shmem)},
		{"VmHWM:", offsetof(struct proc_memory, vm_hwm)},
	};
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		return -errno;
	}
	memset(m, 0, sizeof(*m));
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			size_t n = strlen(fields[i].name);
			unsigned long long kib;
			/* The kernel writes these as "VmRSS:\t   1234 kB". */
			if (strncmp(line, fields[i].name, n) == 0 &&
			    sscanf(line + n, "%llu", &kib) == 1) {
				*(uint64_t *)((char *)m + fields[i].off) = (uint64_t)kib * 1024;
			}
		}
	}
	fclose(f);
	return m->vm_rss ? 0 : -ENOENT;
}
