/*
 * The daemon test harness: runs cairnd as a child process on a private socket, and
 * speaks the attach handshake by hand so that tests can reach a lane's raw memory and
 * send hellos that libcairn would never send.
 *
 * Every test calls h_init() first and h_pass() last. If the test exits any other way
 * (an ASSERT failing, a skip) or is stopped by SIGTERM (meson's timeout), every daemon
 * it started is killed and their logs are printed; the temporary directories are
 * removed unless CAIRN_TEST_KEEP is set. The daemons and the client processes also die
 * with the test (PR_SET_PDEATHSIG), whatever kills it, so nothing is left behind. Start
 * daemons from the main thread only: the death signal follows the thread that forked.
 */
#ifndef CAIRN_TESTS_DAEMON_HARNESS_H
#define CAIRN_TESTS_DAEMON_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../test.h"
#include "cairn/cairn.h"

/* ---- the test itself ---- */

/* Reads the cairnd path from argv[1], seeds the random numbers, installs the exit handler. */
void h_init(int argc, char **argv, const char *test_name);

/* Stops every daemon still running (each must exit 0), removes the temp dirs, exits 0. */
void h_pass(void) __attribute__((noreturn));

/* Prints one line saying what was checked ("ok: ..."), on stdout. */
void h_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The seed of this run (CAIRN_TEST_SEED overrides it), printed by h_init. */
extern uint64_t h_seed;

/* ---- time and randomness ---- */

uint64_t h_now_ns(void);
void h_sleep_us(uint64_t us);

/* A small, fast generator (xorshift64*); one per thread. */
struct h_rng {
	uint64_t s;
};

void h_rng_seed(struct h_rng *r, uint64_t seed);
uint64_t h_rng_next(struct h_rng *r);
/* In [0, n), n > 0 (with a modulo bias too small to matter here). */
uint64_t h_rng_below(struct h_rng *r, uint64_t n);
void h_rng_fill(struct h_rng *r, void *buf, size_t len);

/* ---- the daemon ---- */

struct h_daemon {
	pid_t pid;  /* 0 once it has exited and been reaped */
	int status; /* its wait status, once reaped */
	char dir[64];
	char sock[108]; /* fits sockaddr_un.sun_path */
	char log[128];
	char data[128]; /* its --data-dir (DIR/data), unless the test passed its own */
	bool group;     /* h_spawn_wrapped: pid leads a process group, signalled whole */
};

/* A NULL-terminated argument list: H_ARGS("--max-clients", "2"). */
#define H_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/*
 * Starts cairnd --socket <new temp dir>/cairnd.sock followed by the extra arguments
 * (NULL-terminated, or NULL for none), with stderr and stdout going to <dir>/cairnd.log,
 * and waits until the socket accepts connections (at most 5 s). Fails the test
 * otherwise. The harness owns the returned struct; it lives until the test exits.
 */
struct h_daemon *h_start(const char *const *extra);

/*
 * h_start in three steps, for tests that prepare the socket path before the daemon runs
 * or start a daemon that must fail. h_prepare only makes the directory and the paths;
 * h_spawn may be called again on the same struct once the previous daemon has exited.
 */
struct h_daemon *h_prepare(void);
void h_spawn(struct h_daemon *d, const char *const *extra);
void h_wait_ready(struct h_daemon *d);

/*
 * h_spawn under a wrapper: runs wrapper[0] (looked up in PATH) with the rest of wrapper
 * (NULL-terminated) followed by the command line h_spawn would run, e.g.
 * H_ARGS("strace", "-f", "-o", "/dev/null", "-e", "inject=..."). The wrapper must run
 * the daemon as its child and exit with its status, as strace does. The two get a
 * process group of their own, and h_signal, h_stop and the clean-up at exit signal the
 * whole group: strace blocks fatal signals, so the daemon must get them directly. d->pid
 * is the wrapper's. The next h_spawn on d runs the daemon bare again.
 */
void h_spawn_wrapped(struct h_daemon *d, const char *const *wrapper, const char *const *extra);

/* Sends sig to the daemon (if it still runs; with its wrapper, if it has one). */
void h_signal(struct h_daemon *d, int sig);

/* Waits up to timeout_ms for the daemon to exit. Returns true when it has (d->status). */
bool h_wait_exit(struct h_daemon *d, int timeout_ms);

/*
 * SIGTERM, then waits up to 10 s: the daemon must exit with status 0. Prints the log and
 * fails the test otherwise.
 */
void h_stop(struct h_daemon *d);

/* Asserts that an exited daemon exited with status 0 (printing its log otherwise). */
void h_expect_clean_exit(struct h_daemon *d);

/* Prints the daemon's log (its last 16 KiB) to stderr. */
void h_print_log(const struct h_daemon *d);

/*
 * True when one line of the daemon's log contains a, and b if b is not NULL, within
 * timeout_ms: the daemon may log an event just after a client has seen its effect.
 */
bool h_log_has(const struct h_daemon *d, const char *a, const char *b, int timeout_ms);

/*
 * Runs cairnd with the given arguments (NULL-terminated) to completion, its stdout and
 * stderr captured into out (NUL-terminated, truncated to outlen). Kills it and fails the
 * test if it runs longer than timeout_ms. Returns the wait status.
 */
int h_run(const char *const *args, int timeout_ms, char *out, size_t outlen);

/* fork() for client processes of a test: the child dies with its parent. */
pid_t h_fork(void);

/* Waits for a child process; returns its exit code, or 128 + signal when killed. */
int h_wait_child(pid_t pid);

/* The CPU time (user + system, in ms) a process has used, from /proc. -1 if unknown. */
long h_cpu_ms(pid_t pid);

/* ---- counters, through any attached client ---- */

#define H_CTR(name) offsetof(struct cairn_daemon_counters, name)

/* The counter at offset field of struct cairn_daemon_counters. */
uint64_t h_counter(cairn_client *c, size_t field);

/* Polls until the counter is >= value (== value when exact), up to timeout_ms. Returns the last
 * value read. */
uint64_t h_wait_counter(cairn_client *c, size_t field, uint64_t value, bool exact, int timeout_ms);

/* ---- a well-behaved client that keeps calling, to show others are unaffected ---- */

struct h_pinger {
	cairn_client *c;
	uint64_t seed;
	pthread_t thread;
	int stop;        /* atomic */
	uint64_t calls;  /* atomic: calls answered correctly */
	uint64_t max_ns; /* the slowest call, read after h_pinger_stop */
};

/*
 * Attaches a client of its own and starts a thread that calls ECHO (with a payload of
 * its own, checked on return) and PING, every 200 us, until h_pinger_stop. Any call that
 * fails or takes over 2 s, or any wrong result, fails the test from that thread.
 */
void h_pinger_start(struct h_pinger *p, const char *sock);

/* Calls answered so far. */
uint64_t h_pinger_calls(struct h_pinger *p);

/* Stops the thread, detaches, and fails the test if it made no call at all. */
void h_pinger_stop(struct h_pinger *p);

/* Stops the pinger and reports how many calls it made and its slowest one. */
void h_pinger_finish(struct h_pinger *p);

/* ---- raw attach: the handshake by hand ---- */

/* A hello as libcairn sends it: right magic and version, default sizes. */
void h_hello_default(struct cairn_hello *h, const char *name);

/* Connects to the daemon's socket. Returns the descriptor; fails the test on error. */
int h_connect(const char *sock);

/* Sends len bytes of buf. Returns 0 or -errno. */
int h_send_all(int fd, const void *buf, size_t len);

/*
 * Waits up to timeout_ms for the welcome and its descriptors. Returns 0 with *w filled
 * (and *nfds descriptors in fds, at most 2, more are closed), -ETIMEDOUT, -ECONNRESET
 * when the socket closed first, -EPROTO when the bytes are not a whole welcome, or -errno.
 */
int h_recv_welcome(int fd, struct cairn_welcome *w, int fds[2], int *nfds, int timeout_ms);

/* Waits up to timeout_ms for the socket to reach end of file (the daemon closed it). */
bool h_wait_eof(int fd, int timeout_ms);

/* A lane attached by hand: both segments mapped, every pointer into them precomputed. */
struct h_raw {
	int sock;
	struct cairn_welcome welcome;
	const void *state; /* read-only mapping */
	uint64_t state_size;
	const struct cairn_daemon_counters *counters;
	void *lane;
	uint64_t lane_size;
	struct cairn_lane_header *hdr;
	struct cairn_ring_header *cmd_hdr, *res_hdr;
	struct cairn_slot *cmd_slots, *res_slots;
	uint32_t cmd_cap, res_cap;
	uint8_t *blob;
	uint64_t blob_size;
	/* Our own cursors: the next command position to push, result position to pop. */
	uint64_t cmd_pos, res_pos;
};

/*
 * Sends h (sizeof(*h) bytes) and reads the welcome. On status 0 maps both segments and
 * fills *r. Returns 0, the positive status of a refusal (r->welcome holds the welcome,
 * r->sock stays open), or -errno when the socket failed.
 */
int h_raw_attach(const char *sock, const struct cairn_hello *h, struct h_raw *r);

/* h_raw_attach with a hello_session carrying session (0: none, as h_raw_attach). */
int h_raw_attach_session(const char *sock, const struct cairn_hello *h, uint64_t session,
			 struct h_raw *r);

/* Unmaps and closes what h_raw_attach made. NULL-safe for a zeroed struct. */
void h_raw_close(struct h_raw *r);

/*
 * Pushes m at r->cmd_pos by the ring's sequence protocol, as one honest producer would,
 * and rings the daemon's doorbell. Returns false when the slot is not free (full).
 */
bool h_raw_push(struct h_raw *r, const struct cairn_msg *m);

/* Wakes the daemon on the command doorbell whatever the doorbell's fields say. */
void h_raw_ring(struct h_raw *r);

/* Pops the result at r->res_pos, waiting up to timeout_ms. Returns true when one came. */
bool h_raw_pop(struct h_raw *r, struct cairn_msg *m, int timeout_ms);

/* Reads the lane header's lane_state (written by the daemon). */
uint32_t h_raw_lane_state(const struct h_raw *r);

/* Reads a counter from the raw attach's state mapping. */
uint64_t h_raw_counter(const struct h_raw *r, size_t field);

/* A PING command whose client stamp and request id are both stamp. */
struct cairn_msg h_ping_msg(uint64_t stamp);

#endif
