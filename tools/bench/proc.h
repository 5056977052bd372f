/*
 * Child processes of a benchmark (ring producers and consumers, the echo server, a
 * spawned cairnd): waiting for them with a deadline, so that a wedged child turns into
 * an error message instead of a hung benchmark, and saying how they ended.
 */
#ifndef CAIRN_BENCH_PROC_H
#define CAIRN_BENCH_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Blocks SIGCHLD in the calling thread, so that proc_wait can sleep on it with a
 * timeout (sigtimedwait). Call once, before any other thread or child exists.
 * Returns 0 or -errno.
 */
int proc_init(void);

/* Undoes proc_init in a freshly forked child that is about to exec another program. */
void proc_reset_child(void);

/*
 * Waits until every child pids[i] > 0 has exited, or until deadline_ns (CLOCK_MONOTONIC).
 * A reaped child gets pids[i] = -pids[i] (so a retry skips it) and status[i] its wait
 * status. When fail_fast is set, returns as soon as any child ends other than by
 * exiting 0. Returns 0 (all reaped), -ECANCELED (fail_fast: one failed; others may
 * still run), -ETIMEDOUT, or -errno.
 */
int proc_wait(pid_t *pids, int *status, unsigned n, uint64_t deadline_ns, int fail_fast);

/* Kills child pid with SIGKILL and reaps it. For cleaning up after a failure. */
void proc_kill(pid_t pid);

/*
 * CPU time process pid has used, user plus system, as /proc/<pid>/stat says (utime +
 * stime, in clock ticks of sysconf(_SC_CLK_TCK)). Returns 0 or -errno.
 */
int proc_cpu_ticks(pid_t pid, uint64_t *ticks);

/*
 * The same, in nanoseconds, from the kernel's CPU-time clock of the process
 * (clock_getcpuclockid): not rounded to ticks. Returns 0 or -errno.
 */
int proc_cpu_clock_ns(pid_t pid, uint64_t *ns);

/* The memory of a process, from /proc/<pid>/status, in bytes (0 when not shown). */
struct proc_memory {
	uint64_t vm_rss;    /* VmRSS: resident, all kinds */
	uint64_t rss_anon;  /* RssAnon: private anonymous pages (heap, stacks) */
	uint64_t rss_file;  /* RssFile: pages of mapped files (the binary, libraries) */
	uint64_t rss_shmem; /* RssShmem: shared memory (memfd segments) this process touched */
	uint64_t vm_hwm;    /* VmHWM: the peak of VmRSS */
};

/* Reads the memory of process pid. Returns 0 or -errno (-ENOENT when it is gone). */
int proc_memory(pid_t pid, struct proc_memory *m);

/* Describes a wait status: "exited with status 1", "was killed by signal 11 (...)". */
void proc_describe(int status, char *buf, size_t len);

#endif
