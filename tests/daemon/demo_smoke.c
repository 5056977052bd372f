/*
 * cairn-demo against a live cairnd: a short game must end well, with moves applied and
 * clues claimed, and say so in its machine-readable summary; without a daemon the demo
 * must fail with a message.
 *
 * Usage: demo_smoke PATH-TO-CAIRND PATH-TO-CAIRN-DEMO
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "harness.h"

#define RUN_TIMEOUT_MS 60000

static char output[256 * 1024];

/*
 * Runs the demo with args (NULL-terminated, argv[0] included), stdout and stderr into
 * output. Returns its exit status (128 + signal when killed); fails the test if it runs
 * past RUN_TIMEOUT_MS.
 */
static int run_demo(char *const *args)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		T_FAILF("pipe2: %s", strerror(errno));
	}
	pid_t pid = h_fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0) {
			_exit(127);
		}
		execv(args[0], args);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	uint64_t deadline = h_now_ns() + (uint64_t)RUN_TIMEOUT_MS * 1000000u;
	for (;;) {
		uint64_t now = h_now_ns();
		if (now >= deadline) {
			kill(pid, SIGKILL);
			h_wait_child(pid);
			output[len] = '\0';
			fputs(output, stdout);
			T_FAILF("cairn-demo ran for more than %d ms", RUN_TIMEOUT_MS);
		}
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		int r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r < 0 && errno != EINTR) {
			T_FAILF("poll: %s", strerror(errno));
		}
		if (r <= 0) {
			continue;
		}
		char buf[4096];
		ssize_t n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			T_FAILF("read: %s", strerror(errno));
		}
		if (n == 0) {
			break;
		}
		size_t take =
			(size_t)n < sizeof(output) - 1 - len ? (size_t)n : sizeof(output) - 1 - len;
		memcpy(output + len, buf, take);
		len += take;
	}
	close(fds[0]);
	output[len] = '\0';
	return h_wait_child(pid);
}

/* The value of key=N on the line that starts with prefix, or fails the test. */
static unsigned long long field(const char *prefix, const char *key)
{
	const char *line = strstr(output, prefix);
	while (line && line != output && line[-1] != '\n') {
		line = strstr(line + 1, prefix);
	}
	if (!line) {
		T_FAILF("no line starting with '%s' in the demo's output", prefix);
	}
	const char *end = strchr(line, '\n');
	char want[64];
	snprintf(want, sizeof(want), " %s=", key);
	const char *at = strstr(line, want);
	if (!at || (end && at > end)) {
		T_FAILF("no %s= on the '%s' line", key, prefix);
	}
	return strtoull(at + strlen(want), NULL, 10);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "demo_smoke");
	if (argc < 3 || access(argv[2], X_OK) != 0) {
		T_FAILF("usage: %s PATH-TO-CAIRND PATH-TO-CAIRN-DEMO", argv[0]);
	}
	char *demo = argv[2];

	struct h_daemon *d = h_start(NULL);
	/*
	 * A fixed seed, so that the layout is always the same: with this one a player of the
	 * game below starts about a metre from a clue, and claims it within the 3 s even on
	 * a machine ten times slower than one running only this test (it claims at 0.5 m/s).
	 * Other seeds usually claim tens of clues in 3 s, but not all of them surely.
	 */
	char *args[] = {demo, "--socket",  d->sock, "--seconds", "3",  "--hunts",
			"2",  "--players", "50",    "--seed",    "22", NULL};
	int rc = run_demo(args);
	fputs(output, stdout);
	ASSERT_EQ(rc, 0);
	unsigned long long moves = field("result:", "moves");
	unsigned long long claims = field("result:", "claims");
	unsigned long long samples = field("latency:", "samples");
	unsigned long long too_fast = field("rates:", "too_fast");
	ASSERT_UINT_OP(moves, >, 0);
	ASSERT_UINT_OP(claims, >, 0);
	ASSERT_UINT_OP(samples, >, 0);
	h_ok("a 3 s game of 2 hunts x 50 players: %llu moves, %llu claims, %llu round trips timed, "
	     "%llu moves too fast",
	     moves, claims, samples, too_fast);
	h_stop(d);

	/* The daemon is gone: the demo must say so and fail. */
	char *again[] = {demo, "--socket", d->sock, "--seconds", "1", NULL};
	rc = run_demo(again);
	fputs(output, stdout);
	ASSERT_EQ(rc, 1);
	ASSERT_TRUE(strstr(output, "cannot attach") != NULL);
	h_ok("without a daemon the demo exits 1 and says it cannot attach");
	h_pass();
}
