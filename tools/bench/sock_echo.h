/*
 * The baseline cairn is compared against: a 64-byte request and response over a Unix
 * SOCK_STREAM socketpair between two processes, the cheapest socket round trip a game
 * server could use instead of shared memory. The server is a forked child doing a
 * blocking read of exactly 64 bytes and writing them back.
 */
#ifndef CAIRN_BENCH_SOCK_ECHO_H
#define CAIRN_BENCH_SOCK_ECHO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SOCK_ECHO_BYTES 64

struct sock_echo_result {
	pid_t server_pid;
	char server_cpus[64]; /* where the server was allowed to run, read back from /proc */
	uint64_t elapsed_ns;  /* wall time of the timed round trips */
};

/*
 * Forks an echo server pinned to cpu (-1: not pinned), makes warmup untimed round
 * trips, then n timed ones, each a write of 64 bytes and a read of the 64 echoed,
 * timed with CLOCK_MONOTONIC, into samples[0..n). Every echo is checked. Stops the
 * server and expects it to exit 0. Returns 0, or -errno with a message in err: -EBADMSG
 * for a wrong echo, -ECHILD when the server did not exit 0.
 */
int sock_echo_run(int cpu, size_t warmup, size_t n, uint64_t *samples, struct sock_echo_result *res,
		  char *err, size_t errlen);

#endif
