/*
 * What the ring stress tests share about the processes and threads they run: pinning
 * one to a CPU, forked children that never outlive the parent, and the code a child
 * ended with.
 */
#ifndef CAIRN_TESTS_RING_PROCS_H
#define CAIRN_TESTS_RING_PROCS_H

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"

/*
 * Pins the calling thread to the k-th CPU (mod their number) it may run on. Left to
 * itself the scheduler sometimes keeps two racing threads on one CPU, and then they
 * never race. Best effort: where it fails the test still runs, with less contention.
 */
static inline void t_pin(unsigned k)
{
	cpu_set_t all, one;
	if (sched_getaffinity(0, sizeof(all), &all) != 0) {
		return;
	}
	k %= (unsigned)CPU_COUNT(&all);
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &all) && k-- == 0) {
			CPU_ZERO(&one);
			CPU_SET(c, &one);
			(void)sched_setaffinity(0, sizeof(one), &one);
			return;
		}
	}
}

/*
 * Called first in a forked child: it gets SIGKILL when the parent dies, and exits
 * T_FAIL at once if the parent is already gone (it was reparented before the prctl).
 */
static inline void t_child_init(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1) {
		_exit(T_FAIL);
	}
}

/* A child's exit code from its waitpid status, or 128 + the signal that killed it. */
static inline int t_exit_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
