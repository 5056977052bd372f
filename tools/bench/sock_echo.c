#include "sock_echo.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "machine.h"
#include "proc.h"

/* Reads exactly len bytes. Returns 1, 0 on end of file before any byte, or -errno. */
static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		if (n == 0) {
			/* A stream may split a message; an end in the middle of one is an error. */
			return got == 0 ? 0 : -EPIPE;
		}
		got += (size_t)n;
	}
	return 1;
}

/* Writes exactly len bytes. Returns 0 or -errno. */
static int write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;
	while (put < len) {
		ssize_t n = write(fd, (const char *)buf + put, len - put);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		put += (size_t)n;
	}
	return 0;
}

/* The server process: echoes 64-byte messages until the peer closes. Returns its status. */
static int serve(int fd, int cpu)
{
	char buf[SOCK_ECHO_BYTES];
	if (cpu >= 0) {
		int r = machine_pin_self(cpu);
		if (r < 0) {
			fprintf(stderr, "cairn-bench: echo server: cannot pin to CPU %d: %s\n", cpu,
				strerror(-r));
			return 2;
		}
	}
	for (;;) {
		int r = read_full(fd, buf, sizeof(buf));
		if (r == 0) {
			return 0;
		}
		if (r < 0 || write_full(fd, buf, sizeof(buf)) < 0) {
			return 1;
		}
	}
}

/* One round trip carrying seq; checks that seq came back. Returns 0 or -errno. */
static int round_trip(int fd, uint64_t seq)
{
	char buf[SOCK_ECHO_BYTES];
	uint64_t back;
	memset(buf, 0x5a, sizeof(buf));
	memcpy(buf, &seq, sizeof(seq));
	int r = write_full(fd, buf, sizeof(buf));
	if (r < 0) {
		return r;
	}
	r = read_full(fd, buf, sizeof(buf));
	if (r <= 0) {
		return r == 0 ? -EPIPE : r;
	}
	memcpy(&back, buf, sizeof(back));
	return back == seq ? 0 : -EBADMSG;
}

int sock_echo_run(int cpu, size_t warmup, size_t n, uint64_t *samples, struct sock_echo_result *res,
		  char *err, size_t errlen)
{
	int sv[2], status = 0, r = 0;
	memset(res, 0, sizeof(*res));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(-r));
		return r;
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(-r));
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		close(sv[0]);
		_exit(serve(sv[1], cpu));
	}
	close(sv[1]);
	res->server_pid = pid;

	uint64_t seq = 0;
	for (size_t i = 0; i < warmup && r == 0; i++) {
		r = round_trip(sv[0], seq++);
	}
	/* By now the server has long pinned itself: read back where it may run. */
	char name[32];
	if (r == 0 && machine_thread_cpus(pid, pid, res->server_cpus, sizeof(res->server_cpus),
					  name, sizeof(name)) < 0) {
		snprintf(res->server_cpus, sizeof(res->server_cpus), "unknown");
	}
	uint64_t begin = cairn__now_ns();
	for (size_t i = 0; i < n && r == 0; i++) {
		uint64_t t0 = cairn__now_ns();
		r = round_trip(sv[0], seq++);
		uint64_t t1 = cairn__now_ns();
		samples[i] = t1 - t0;
	}
	res->elapsed_ns = cairn__now_ns() - begin;

	/* Closing our end is the server's end of file: it exits 0. */
	close(sv[0]);
	pid_t p = pid;
	int w = proc_wait(&p, &status, 1, cairn__now_ns() + 5000000000ull, 0);
	if (w == -ETIMEDOUT) {
		proc_kill(pid);
	}
	if (r < 0) {
		snprintf(err, errlen, "round trip %llu: %s", (unsigned long long)seq,
			 r == -EBADMSG ? "the echo did not carry the sequence number sent"
				       : strerror(-r));
		return r;
	}
	if (w < 0) {
		snprintf(err, errlen, "the echo server did not exit: %s", strerror(-w));
		return w;
	}
	if (status != 0) {
		char how[96];
		proc_describe(status, how, sizeof(how));
		snprintf(err, errlen, "the echo server %s", how);
		return -ECHILD;
	}
	return 0;
}
