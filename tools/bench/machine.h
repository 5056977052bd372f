/*
 * The machine a benchmark runs on, and where its threads run: the CPU model, the CPUs,
 * the kernel, pinning the calling thread, and reading back where another process's
 * threads are allowed to run. Every figure cairn-bench prints is only meaningful next
 * to this.
 */
#ifndef CAIRN_BENCH_MACHINE_H
#define CAIRN_BENCH_MACHINE_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct machine {
	char cpu_model[128]; /* "model name" of /proc/cpuinfo, or "unknown" */
	long online_cpus;    /* CPUs the kernel has online */
	cpu_set_t usable;    /* CPUs this process may run on, as found at startup */
	int usable_count;
	bool virtualized; /* the CPU says it runs under a hypervisor */
	double busy_pct;  /* CPUs busy just before the run, % of all; -1 when unknown */
	char kernel[200]; /* "Linux 6.1.0 x86_64": three utsname fields */
};

/*
 * Describes this machine into *m. Call it before pinning anything: usable is the
 * calling thread's affinity. Returns 0 or -errno (only sched_getaffinity can fail;
 * what /proc does not say is reported as unknown).
 */
int machine_probe(struct machine *m);

/*
 * Reads the all-CPU line of /proc/stat: ticks (of sysconf(_SC_CLK_TCK)) the CPUs were
 * busy, and all ticks, since boot. Idle and I/O wait are not busy; steal is. Returns 0
 * or -errno.
 */
int machine_cpu_ticks(unsigned long long *busy, unsigned long long *total);

/* The nth CPU (0-based) of the usable set, or -1 when there are not that many. */
int machine_nth_usable(const struct machine *m, int nth);

/* Whether cpu is in the usable set. */
bool machine_cpu_usable(const struct machine *m, int cpu);

/* Pins the calling thread to cpu. Returns 0 or -errno. */
int machine_pin_self(int cpu);

/* Lets the calling thread run on every CPU of set again. Returns 0 or -errno. */
int machine_unpin_self(const cpu_set_t *set);

/* Formats set as a CPU list ("0", "0-3,6") into buf; "none" when empty. */
void machine_format_cpus(const cpu_set_t *set, char *buf, size_t len);

/*
 * Reads where thread tid of process pid may run (Cpus_allowed_list of its status) into
 * buf, and its name into name (namelen bytes). Returns 0 or -errno (-ENOENT when the
 * thread is gone).
 */
int machine_thread_cpus(pid_t pid, pid_t tid, char *buf, size_t len, char *name, size_t namelen);

#endif
