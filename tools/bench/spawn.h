/*
 * A private cairnd for one benchmark: found, started on a socket in a fresh temporary
 * directory with its log next to it, attached to once it accepts, and stopped with
 * SIGTERM at the end, when it must exit 0 like any clean shutdown. The benchmark then
 * never measures, or disturbs, somebody else's daemon.
 */
#ifndef CAIRN_BENCH_SPAWN_H
#define CAIRN_BENCH_SPAWN_H

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn/cairn.h"

struct cairnd_proc {
	pid_t pid;
	int cpu; /* the --cpu it was given, or -1 */
	char binary[PATH_MAX];
	char found_by[64]; /* which rule chose binary: "--cairnd", "$CAIRND", ... */
	char dir[96];      /* the temporary directory: short, to leave room for... */
	char socket[108];  /* ...the socket in it, which must fit sockaddr_un.sun_path */
	char log[128];     /* its stdout and stderr */
	char data[128];    /* its --data-dir, in dir (unless extra_args name one) */
	/* More flags for cairnd, after --socket and --cpu; set before cairnd_spawn. */
	const char *extra_args[8];
	unsigned n_extra_args;
};

/*
 * Chooses the cairnd to run: flag_path (--cairnd) if given, else $CAIRND, else
 * <directory of this executable>/../../src/cairnd (the build tree), else cairnd next
 * to this executable, else cairnd on $PATH. A path given explicitly must work; the
 * others are tried in turn. Returns 0, or -ENOENT with err saying where it looked.
 */
int cairnd_find(const char *flag_path, struct cairnd_proc *p, char *err, size_t errlen);

/*
 * Starts p->binary with --socket in a new temporary directory and, when cpu >= 0,
 * --cpu cpu. The daemon process may run on every CPU of affinity (its apply thread
 * then pins itself), whatever the caller's own pinning. If this process dies, the
 * daemon gets SIGTERM. Returns 0, or -errno with err.
 */
int cairnd_spawn(struct cairnd_proc *p, int cpu, const cpu_set_t *affinity, char *err,
		 size_t errlen);

/*
 * Attaches to the spawned daemon, retrying while its socket does not accept yet, for
 * at most timeout_ns, and failing at once if it exits. Returns 0 with *c, or with err:
 * -ECHILD (it exited), -ETIMEDOUT, or what cairn_open returned.
 */
int cairnd_attach(struct cairnd_proc *p, uint64_t timeout_ns, const struct cairn_open_options *opts,
		  cairn_client **c, char *err, size_t errlen);

/*
 * Sends SIGTERM and waits up to timeout_ns; kills it if it does not exit. Returns 0
 * when it exited with status 0, else with err: -ECHILD (another status), -ETIMEDOUT
 * (killed), or -errno.
 */
int cairnd_stop(struct cairnd_proc *p, uint64_t timeout_ns, char *err, size_t errlen);

/*
 * Stops the daemon as cairnd_stop does, then removes its directory as cairnd_cleanup
 * does, unless failed (the benchmark failed) or the daemon did not exit 0: then it
 * says so on stderr, as cairn-bench cmd, with the end of the log when the daemon is
 * to blame, and keeps the directory for its log. Returns cairnd_stop's code.
 */
int cairnd_finish(struct cairnd_proc *p, const char *cmd, uint64_t timeout_ns, bool failed);

/* Prints the last lines of the daemon's log on stderr, under its path. */
void cairnd_show_log(const struct cairnd_proc *p);

/* Removes the temporary directory and what is in it, unless keep is set. */
void cairnd_cleanup(struct cairnd_proc *p, bool keep);

/*
 * Runs cmd with /bin/sh -c in directory dir, pinned to cpu (-1: not pinned), with its
 * stdout collected into out (NUL-terminated, cut at outlen - 1 bytes) and its stderr
 * passed through (or discarded when quiet). Killed after limit_ns. Returns its exit
 * status, 128 + the signal that ended it, or -errno when it could not be started.
 */
int bench_run_shell(const char *dir, const char *cmd, int cpu, char *out, size_t outlen, bool quiet,
		    uint64_t limit_ns);

#endif
