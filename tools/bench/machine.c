#include "machine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define BUSY_SAMPLE_NS (250 * 1000 * 1000)

/* Copies s into buf without its leading and trailing white space. */
static void copy_trimmed(char *buf, size_t len, const char *s)
{
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	size_t n = strcspn(s, "\n");
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
		n--;
	}
	if (n >= len) {
		n = len - 1;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
}

/*
 * Reads the CPU model and the hypervisor flag from /proc/cpuinfo. x86 says "model
 * name"; some arm64 kernels say nothing but "CPU implementer/part", in which case the
 * model stays unknown rather than guessed.
 */
static void read_cpuinfo(struct machine *m)
{
	static const char *const keys[] = {"model name", "Model", "Hardware", "cpu model", "cpu"};
	unsigned best = sizeof(keys) / sizeof(keys[0]);
	char line[4096];
	FILE *f = fopen("/proc/cpuinfo", "re");
	snprintf(m->cpu_model, sizeof(m->cpu_model), "unknown");
	if (!f) {
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon) {
			continue;
		}
		size_t klen = (size_t)(colon - line);
		while (klen && (line[klen - 1] == ' ' || line[klen - 1] == '\t')) {
			klen--;
		}
		for (unsigned i = 0; i < best; i++) {
			if (strlen(keys[i]) == klen && strncmp(line, keys[i], klen) == 0) {
				copy_trimmed(m->cpu_model, sizeof(m->cpu_model), colon + 1);
				best = i;
				break;
			}
		}
		if (klen == 5 && strncmp(line, "flags", 5) == 0 && strstr(colon, " hypervisor")) {
			m->virtualized = true;
		}
	}
	fclose(f);
}

int machine_cpu_ticks(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "re");
	if (!f) {
		return -errno;
	}
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		       &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4) {
		return -EPROTO;
	}
	*total = 0;
	for (int i = 0; i < 8; i++) {
		*total += v[i];
	}
	/* Idle (3) and waiting for I/O (4) are not busy; steal (7) is: the host took it. */
	*busy = *total - v[3] - v[4];
	return 0;
}

/*
 * How busy all CPUs are right now, sampled over a quarter of a second before anything
 * is measured: figures taken while something else keeps the CPUs busy mean little,
 * and a lagging load average would blame a previous benchmark.
 */
static double busy_now(void)
{
	unsigned long long b0, t0, b1, t1;
	struct timespec ts = {.tv_nsec = BUSY_SAMPLE_NS};
	if (machine_cpu_ticks(&b0, &t0) < 0) {
		return -1;
	}
	nanosleep(&ts, NULL);
	if (machine_cpu_ticks(&b1, &t1) < 0 || t1 <= t0) {
		return -1;
	}
	return (double)(b1 - b0) * 100 / (double)(t1 - t0);
}

int machine_probe(struct machine *m)
{
	struct utsname u;
	memset(m, 0, sizeof(*m));
	read_cpuinfo(m);
	m->online_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	m->busy_pct = busy_now();
	if (uname(&u) == 0) {
		snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname, u.release, u.machine);
	} else {
		snprintf(m->kernel, sizeof(m->kernel), "unknown");
	}
	if (sched_getaffinity(0, sizeof(m->usable), &m->usable) < 0) {
		return -errno;
	}
	m->usable_count = CPU_COUNT(&m->usable);
	return 0;
}

int machine_nth_usable(const struct machine *m, int nth)
{
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &m->usable) && nth-- == 0) {
			return cpu;
		}
	}
	return -1;
}

bool machine_cpu_usable(const struct machine *m, int cpu)
{
	return cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &m->usable);
}

int machine_pin_self(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* pid 0 is the calling thread, not the whole process. */
	return sched_setaffinity(0, sizeof(set), &set) < 0 ? -errno : 0;
}

int machine_unpin_self(const cpu_set_t *set)
{
	return sched_setaffinity(0, sizeof(*set), set) < 0 ? -errno : 0;
}

void machine_format_cpus(const cpu_set_t *set, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, set)) {
			continue;
		}
		int last = cpu;
		while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) {
			last++;
		}
		int n = last == cpu ? snprintf(buf + used, len - used, "%s%d", used ? "," : "", cpu)
				    : snprintf(buf + used, len - used, "%s%d-%d", used ? "," : "",
					       cpu, last);
		if (n < 0 || (size_t)n >= len - used) {
			break;
		}
		used += (size_t)n;
		cpu = last;
	}
	if (used == 0) {
		snprintf(buf, len, "none");
	}
}

int machine_thread_cpus(pid_t pid, pid_t tid, char *buf, size_t len, char *name, size_t namelen)
{
	char path[64], line[512];
	int found = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	FILE *f = fopen(path, "re");
	if (!f) {
		return -errno;
	}
	snprintf(buf, len, "unknown");
	snprintf(name, namelen, "?");
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Name:", 5) == 0) {
			copy_trimmed(name, namelen, line + 5);
			found |= 1;
		} else if (strncmp(line, "Cpus_allowed_list:", 18) == 0) {
			copy_trimmed(buf, len, line + 18);
			found |= 2;
		}
	}
	fclose(f);
	return found == 3 ? 0 : -ENODATA;
}
