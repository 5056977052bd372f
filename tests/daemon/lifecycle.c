/*
 * lifecycle: the daemon over time, from start to exit.
 *
 *  (a) idle: the apply thread sleeps on the doorbells instead of burning a core, keeps
 *      its heartbeat fresh, and wakes for the next command;
 *  (b) SIGTERM drains: commands already pushed are all answered and readable after the
 *      daemon is gone, even by a client that reads its results slowly (within
 *      --drain-timeout-ms); then every call says DISCONNECTED; SIGINT does the same;
 *  (c) the socket path: refusing to start over a live daemon, starting over a stale
 *      socket file, refusing a path that is not a socket, creating a missing directory;
 *      the default path's directory made 0750 or tighter; refusing a directory that
 *      others may write (group or world, without the sticky bit), or one inside such a
 *      directory, or one that belongs to another user (as root); accepting a sticky
 *      shared one with a warning, and a private one inside it;
 *  (d) flags: --help and --version, and every kind of bad value (exit 2, a message).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define SEC (1000 * 1000 * 1000ll)
#define MS  (1000 * 1000ll)

#define NOBODY 65534

static const char *cairnd_bin; /* argv[1] */

/* Waits until the apply thread has gone to sleep again (counters.sleeps moves on). */
static void fall_asleep(cairn_client *c)
{
	uint64_t s = h_counter(c, H_CTR(sleeps));
	ASSERT_TRUE(h_wait_counter(c, H_CTR(sleeps), s + 1, false, 2000) > s);
	/* Published just before the futex wait: give it a moment to get there. */
	h_sleep_us(2000);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_u64);
	return v[n / 2];
}

static void check_idle(void)
{
	struct h_daemon *d = h_start(NULL);
	cairn_client *c;
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	/* Let the apply thread run out of work and go to sleep before measuring. */
	h_sleep_us(100 * 1000);
	uint64_t sleeps0 = h_counter(c, H_CTR(sleeps));
	long cpu0 = h_cpu_ms(d->pid);
	uint64_t max_age = 0;
	for (unsigned i = 0; i < 15; i++) {
		h_sleep_us(100 * 1000);
		ASSERT_OK(cairn_daemon_info(c, &info));
		max_age = info.heartbeat_age_ns > max_age ? info.heartbeat_age_ns : max_age;
	}
	long cpu1 = h_cpu_ms(d->pid);
	uint64_t sleeps1 = h_counter(c, H_CTR(sleeps));
	ASSERT_TRUE(sleeps1 > sleeps0);
	ASSERT_LT(max_age, 200 * MS);
	ASSERT_EQ(info.state, CAIRN_DAEMON_RUNNING);
	if (cpu0 >= 0 && cpu1 >= 0) {
		/* Asleep on futexes: far below a busy core's 1500 ms. */
		ASSERT_LT(cpu1 - cpu0, 300);
	}
	uint64_t t0 = h_now_ns();
	ASSERT_OK(cairn_ping(c, SEC));
	uint64_t rtt = h_now_ns() - t0;
	ASSERT_LT(rtt, SEC);
	h_ok("(a) idle 1.5 s: apply thread slept %llu more times, used %ld ms of CPU, heartbeat "
	     "at most %llu ms old; the next PING woke it and was answered in %llu us",
	     (unsigned long long)(sleeps1 - sleeps0), cpu1 - cpu0,
	     (unsigned long long)(max_age / MS), (unsigned long long)(rtt / 1000));

	/*
	 * The wake-ups themselves. The apply thread sleeps at most 50 ms at a time, so a
	 * wake that is lost (a futex woken under another key, a doorbell nobody waits on)
	 * still gets an answer, only 0-50 ms late. The median of many samples tells the two
	 * apart: a few hundred microseconds when the wake works, ~25 ms when it does not.
	 */
	enum { SAMPLES = 15 };
	uint64_t ping_ns[SAMPLES], attach_ns[SAMPLES];
	for (unsigned i = 0; i < SAMPLES; i++) {
		cairn_client *c2;
		fall_asleep(c);
		t0 = h_now_ns();
		ASSERT_OK(cairn_ping(c, SEC));
		ping_ns[i] = h_now_ns() - t0;
		/* A new lane: the control thread must wake the apply thread to serve it. */
		fall_asleep(c);
		t0 = h_now_ns();
		ASSERT_OK(cairn_open(d->sock, NULL, &c2));
		ASSERT_OK(cairn_ping(c2, SEC));
		attach_ns[i] = h_now_ns() - t0;
		cairn_close(c2);
	}
	uint64_t ping_med = median(ping_ns, SAMPLES), attach_med = median(attach_ns, SAMPLES);
	ASSERT_LT(ping_med, 10 * MS);
	ASSERT_LT(attach_med, 10 * MS);
	h_ok("(a) from sleep, %d times each: PING on an idle lane answered in %llu us, attach + "
	     "first PING on a new lane in %llu us (medians)",
	     SAMPLES, (unsigned long long)(ping_med / 1000),
	     (unsigned long long)(attach_med / 1000));
	cairn_close(c);
	h_stop(d);
}

/* Submits n PINGs stamped 0..n-1; returns their ids in ids[]. */
static void submit_pings(cairn_client *c, unsigned n, uint64_t *ids)
{
	for (unsigned i = 0; i < n; i++) {
		struct cairn_msg m;
		struct cairn_ping p = {.client_stamp = i};
		cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
		memcpy(m.payload, &p, sizeof(p));
		int r = cairn_submit(c, &m);
		if (r != 0) {
			T_FAILF("submit %u of %u: %d (%s)", i, n, r, cairn_strerror(r));
		}
		ids[i] = m.hdr.request_id;
	}
}

/* Checks one result against the n PINGs; each may be seen once. */
static void take_pong(const struct cairn_msg *res, unsigned n, const uint64_t *ids, bool *seen)
{
	struct cairn_pong q;
	ASSERT_EQ(res->hdr.type, CAIRN_MSG_PONG);
	memcpy(&q, res->payload, sizeof(q));
	ASSERT_TRUE(q.client_stamp < n);
	ASSERT_UEQ(res->hdr.request_id, ids[q.client_stamp]);
	ASSERT_TRUE(!seen[q.client_stamp]);
	seen[q.client_stamp] = true;
}

/* Stops the daemon (SIGSTOP) and waits until it is stopped. */
static void freeze(struct h_daemon *d)
{
	int st;
	ASSERT_EQ(kill(d->pid, SIGSTOP), 0);
	ASSERT_EQ(waitpid(d->pid, &st, WUNTRACED), d->pid);
	ASSERT_TRUE(WIFSTOPPED(st));
}

static void check_drain(void)
{
	enum { N = 900 };
	static uint64_t ids[N];
	static bool seen[N];
	struct h_daemon *d = h_start(NULL);
	cairn_client *c;
	struct cairn_msg res;
	struct h_raw raw;
	struct cairn_hello h;
	/* This test is about the daemon going away: no reconnecting to its successor. */
	struct cairn_open_options o = {.reconnect_ms = CAIRN_RECONNECT_NEVER};
	ASSERT_OK(cairn_open(d->sock, &o, &c));
	h_hello_default(&h, "watcher");
	ASSERT_EQ(h_raw_attach(d->sock, &h, &raw), 0);

	/*
	 * Frozen, the daemon cannot answer while we push, so SIGTERM arrives with all 900
	 * commands pending: the control thread begins the drain while the apply thread has
	 * everything still to do.
	 */
	freeze(d);
	submit_pings(c, N, ids);
	ASSERT_EQ(kill(d->pid, SIGTERM), 0);
	ASSERT_EQ(kill(d->pid, SIGCONT), 0);
	if (!h_wait_exit(d, 10000)) {
		T_FAILF("cairnd did not exit within 10 s of SIGTERM");
	}
	h_expect_clean_exit(d);
	ASSERT_TRUE(h_log_has(d, "SIGTERM", NULL, 0));

	/* The daemon is gone; its answers are still in our mapping. */
	unsigned got = 0;
	int r;
	while ((r = cairn_poll(c, &res)) == 0) {
		take_pong(&res, N, ids, seen);
		got++;
	}
	if (got != N) {
		T_FAILF("only %u of the %d commands pushed before SIGTERM were answered", got, N);
	}
	ASSERT_TRUE(r == -EAGAIN || r == -CAIRN_E_DISCONNECTED);
	h_ok("(b) 900 PINGs pushed to a frozen daemon, then SIGTERM: it exited 0 and all 900 "
	     "PONGs were there to read afterwards");

	ASSERT_EQ(cairn_check(c), -CAIRN_E_DISCONNECTED);
	ASSERT_EQ(cairn_ping(c, SEC), -CAIRN_E_DISCONNECTED);
	struct cairn_msg m;
	cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
	ASSERT_EQ(cairn_call(c, &m, &res, SEC), -CAIRN_E_DISCONNECTED);
	cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
	ASSERT_EQ(cairn_submit(c, &m), -CAIRN_E_DISCONNECTED);
	ASSERT_EQ(cairn_poll(c, &res), -CAIRN_E_DISCONNECTED);
	ASSERT_EQ(cairn_wait(c, &res, SEC), -CAIRN_E_DISCONNECTED);
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_EQ(info.state, CAIRN_DAEMON_STOPPED);
	ASSERT_TRUE(info.counters.commands >= N);
	ASSERT_UEQ(h_raw_lane_state(&raw), CAIRN_LANE_CLOSED);
	ASSERT_TRUE(h_wait_eof(raw.sock, 1000));
	h_raw_close(&raw);
	cairn_client *c2 = (cairn_client *)1;
	ASSERT_EQ(cairn_open(d->sock, NULL, &c2), -ENOENT);
	h_ok("(b) afterwards: cairn_check, cairn_ping, cairn_call, cairn_submit, cairn_poll, "
	     "cairn_wait -> DISCONNECTED; state STOPPED; lanes CLOSED; the socket file removed");
	cairn_close(c);
}

/*
 * A client whose result ring is smaller than what it has pushed: the daemon can only
 * answer as fast as the client reads. On SIGTERM it must keep answering while the client
 * reads, up to --drain-timeout-ms ("answers every command already pushed").
 */
static void check_drain_slow_reader(void)
{
	enum { N = 900 };
	static uint64_t ids[N];
	static bool seen[N];
	struct h_daemon *d = h_start(H_ARGS("--drain-timeout-ms", "5000"));
	struct cairn_open_options o = {.res_capacity = 64};
	cairn_client *c;
	struct cairn_msg res;
	ASSERT_OK(cairn_open(d->sock, &o, &c));
	submit_pings(c, N, ids);
	/* The daemon answers the first 64 and then waits for room. */
	ASSERT_UEQ(h_wait_counter(c, H_CTR(results), 64, true, 2000), 64);
	h_signal(d, SIGTERM);
	h_sleep_us(300 * 1000);
	/* Still draining here: 836 commands wait for room, and the timeout is 5 s. */
	bool gone = h_wait_exit(d, 0);
	unsigned got = 0;
	int r = 0;
	while (got < N && (r = cairn_wait(c, &res, 2 * SEC)) == 0) {
		take_pong(&res, N, ids, seen);
		got++;
	}
	if (!h_wait_exit(d, 10000)) {
		T_FAILF("cairnd did not exit within 10 s of SIGTERM");
	}
	h_expect_clean_exit(d);
	if (got != N) {
		T_FAILF("a client with a 64-slot result ring that started reading 300 ms after "
			"SIGTERM got %u of its %d results (then %d, %s); the daemon %s instead of "
			"answering the rest within --drain-timeout-ms 5000",
			got, N, r, cairn_strerror(r),
			gone ? "had already exited at 300 ms" : "exited");
	}
	h_ok("(b) a slow reader (64-slot result ring, 900 pushed, reading from 300 ms after "
	     "SIGTERM): all 900 answered, then exit 0");
	cairn_close(c);

	/* One that never reads: the daemon gives up after the drain timeout, not before. */
	d = h_start(H_ARGS("--drain-timeout-ms", "500"));
	ASSERT_OK(cairn_open(d->sock, &o, &c));
	submit_pings(c, N, ids);
	ASSERT_UEQ(h_wait_counter(c, H_CTR(results), 64, true, 2000), 64);
	uint64_t t0 = h_now_ns();
	h_signal(d, SIGTERM);
	if (!h_wait_exit(d, 5000)) {
		T_FAILF("cairnd did not exit within 5 s of SIGTERM with --drain-timeout-ms 500");
	}
	uint64_t took = h_now_ns() - t0;
	h_expect_clean_exit(d);
	ASSERT_TRUE(took >= 450 * MS);
	ASSERT_TRUE(h_log_has(d, "drain timed out", NULL, 0));
	h_ok("(b) a client that never reads: the daemon waited %llu ms (--drain-timeout-ms "
	     "500), said so, and exited 0",
	     (unsigned long long)(took / MS));
	cairn_close(c);
}

static void check_sigint(void)
{
	struct h_daemon *d = h_start(NULL);
	cairn_client *c;
	struct cairn_open_options o = {.reconnect_ms = CAIRN_RECONNECT_NEVER};
	ASSERT_OK(cairn_open(d->sock, &o, &c));
	ASSERT_OK(cairn_ping(c, SEC));
	h_signal(d, SIGINT);
	ASSERT_TRUE(h_wait_exit(d, 10000));
	h_expect_clean_exit(d);
	ASSERT_TRUE(h_log_has(d, "SIGINT", NULL, 0));
	ASSERT_EQ(cairn_ping(c, SEC), -CAIRN_E_DISCONNECTED);
	cairn_close(c);
	h_ok("(b) SIGINT: exit 0, clients see DISCONNECTED");
}

static void check_socket_path(void)
{
	char out[8192];
	struct h_daemon *a = h_start(NULL);
	int st = h_run(H_ARGS("--socket", a->sock), 5000, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	ASSERT_TRUE(strstr(out, "already listening") != NULL);
	cairn_client *c;
	ASSERT_OK(cairn_open(a->sock, NULL, &c));
	ASSERT_OK(cairn_ping(c, SEC));
	cairn_close(c);
	h_ok("(c) a second daemon on a live socket: exit %d, \"already listening\"; the first "
	     "one still attaches clients",
	     WEXITSTATUS(st));
	h_stop(a);

	/* A socket file whose daemon died without removing it. */
	struct h_daemon *b = h_prepare();
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", b->sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	h_spawn(b, NULL);
	h_wait_ready(b);
	ASSERT_OK(cairn_open(b->sock, NULL, &c));
	ASSERT_OK(cairn_ping(c, SEC));
	cairn_close(c);
	ASSERT_TRUE(h_log_has(b, "stale", NULL, 0));
	h_stop(b);
	h_ok("(c) a stale socket file: replaced, the daemon starts and serves");

	/* A regular file where the socket should be is somebody's data: leave it alone. */
	struct h_daemon *f = h_prepare();
	FILE *fp = fopen(f->sock, "w");
	ASSERT_TRUE(fp != NULL);
	fputs("precious", fp);
	fclose(fp);
	st = h_run(H_ARGS("--socket", f->sock), 5000, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	ASSERT_TRUE(strstr(out, "not a socket") != NULL);
	struct stat sb;
	ASSERT_EQ(stat(f->sock, &sb), 0);
	ASSERT_TRUE(S_ISREG(sb.st_mode) && sb.st_size == 8);
	h_ok("(c) a regular file at the socket path: exit %d, \"not a socket\", file untouched",
	     WEXITSTATUS(st));

	/* A missing directory is created, private to the owner and group. */
	struct h_daemon *m = h_prepare();
	char sub[96];
	snprintf(sub, sizeof(sub), "%s/run", m->dir);
	snprintf(m->sock, sizeof(m->sock), "%s/cairnd.sock", sub);
	h_spawn(m, NULL);
	h_wait_ready(m);
	ASSERT_EQ(stat(sub, &sb), 0);
	ASSERT_TRUE(S_ISDIR(sb.st_mode));
	ASSERT_EQ(sb.st_mode & 07777, 0750);
	ASSERT_EQ(stat(m->sock, &sb), 0);
	ASSERT_EQ(sb.st_mode & 0777, 0660);
	h_stop(m);
	ASSERT_TRUE(stat(m->sock, &sb) < 0 && errno == ENOENT);
	rmdir(sub);
	h_ok("(c) a missing socket directory is created with mode 0750, the socket gets 0660 and "
	     "is removed at exit");
}

/*
 * Runs cairnd --socket DIR/cairnd.sock, which must refuse to start because of DIR:
 * exit status 1, a message with says, and no socket made.
 */
static void expect_dir_refused(const char *dir, const char *says)
{
	char out[8192], sock[128];
	snprintf(sock, sizeof(sock), "%s/cairnd.sock", dir);
	int st = h_run(H_ARGS("--socket", sock, "--durability", "none"), 5000, out, sizeof(out));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || !strstr(out, says) ||
	    !strstr(out, "--socket")) {
		T_FAILF("socket directory %s: status 0x%x, output \"%s\"; expected exit 1 and a "
			"message with \"%s\" and --socket",
			dir, st, out, says);
	}
	struct stat sb;
	ASSERT_TRUE(lstat(sock, &sb) < 0 && errno == ENOENT);
}

/*
 * The default socket path, $XDG_RUNTIME_DIR/cairn/cairnd.sock: cairnd makes the missing
 * directory itself, and nobody but its owner (and group, for reading) may use it.
 */
static void check_default_socket_dir(void)
{
	struct h_daemon *d = h_prepare();
	char xdg[96], dir[128], sock[160];
	snprintf(xdg, sizeof(xdg), "%s/xdg", d->dir);
	snprintf(dir, sizeof(dir), "%s/cairn", xdg);
	snprintf(sock, sizeof(sock), "%s/cairnd.sock", dir);
	ASSERT_EQ(mkdir(xdg, 0700), 0);
	pid_t pid = h_fork();
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
			_exit(127);
		}
		setenv("XDG_RUNTIME_DIR", xdg, 1);
		unsetenv("CAIRN_SOCKET");
		execl(cairnd_bin, cairnd_bin, "--durability", "none", "--table-max-cells", "0",
		      (char *)NULL);
		_exit(127);
	}
	struct stat sb;
	uint64_t deadline = h_now_ns() + 5 * SEC;
	while (lstat(sock, &sb) < 0) {
		if (h_now_ns() > deadline) {
			h_print_log(d);
			T_FAILF("cairnd without --socket made no socket at %s within 5 s", sock);
		}
		h_sleep_us(5000);
	}
	ASSERT_EQ(stat(dir, &sb), 0);
	ASSERT_TRUE(S_ISDIR(sb.st_mode));
	ASSERT_UEQ(sb.st_uid, geteuid());
	unsigned mode = (unsigned)sb.st_mode & 07777;
	if ((mode & 0027) != 0 || (mode & 0700) != 0700) {
		T_FAILF("the default socket directory %s has mode %04o: more than 0750", dir, mode);
	}
	ASSERT_EQ(stat(sock, &sb), 0);
	ASSERT_EQ(sb.st_mode & 0777, 0660);
	/* A client finds it the same way, with no path given. */
	char *saved = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
	char *saved_sock = getenv("CAIRN_SOCKET") ? strdup(getenv("CAIRN_SOCKET")) : NULL;
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	unsetenv("CAIRN_SOCKET");
	cairn_client *c;
	int r = cairn_open(NULL, NULL, &c);
	if (saved) {
		setenv("XDG_RUNTIME_DIR", saved, 1);
	} else {
		unsetenv("XDG_RUNTIME_DIR");
	}
	if (saved_sock) {
		setenv("CAIRN_SOCKET", saved_sock, 1);
	}
	free(saved);
	free(saved_sock);
	ASSERT_OK(r);
	ASSERT_OK(cairn_ping(c, SEC));
	cairn_close(c);
	ASSERT_EQ(kill(pid, SIGTERM), 0);
	ASSERT_EQ(h_wait_child(pid), 0);
	h_ok("(c) no --socket: cairnd made $XDG_RUNTIME_DIR/cairn with mode %04o (0750 or "
	     "tighter, ours), the socket 0660; cairn_open(NULL) found it",
	     mode);
}

static void check_socket_dir(void)
{
	struct h_daemon *d = h_prepare();
	char dir[128];
	static const struct {
		unsigned mode;
		const char *says;
	} unsafe[] = {
		{0770, "writable by its group"},
		{0730, "writable by its group"},
		{0777, "writable by everyone"},
		{0703, "writable by everyone"},
	};
	for (unsigned i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/unsafe%u", d->dir, i);
		ASSERT_EQ(mkdir(dir, 0700), 0);
		/* chmod, not mkdir's mode: the umask would take the bits away. */
		ASSERT_EQ(chmod(dir, unsafe[i].mode), 0);
		expect_dir_refused(dir, unsafe[i].says);
	}
	h_ok("(c) socket directories of mode 0770, 0730, 0777 and 0703 (others may write, no "
	     "sticky bit): cairnd exits 1 naming the problem and --socket, and makes no socket");

	/* Others could rename a directory above it, and put one of theirs in its place. */
	char above[128];
	snprintf(above, sizeof(above), "%s/open", d->dir);
	snprintf(dir, sizeof(dir), "%s/open/private", d->dir);
	ASSERT_EQ(mkdir(above, 0700), 0);
	ASSERT_EQ(mkdir(dir, 0700), 0);
	ASSERT_EQ(chmod(above, 0777), 0);
	expect_dir_refused(dir, "above the socket, the directory");
	h_ok("(c) a private socket directory inside one of mode 0777: refused the same way");

	if (getuid() == 0) {
		snprintf(dir, sizeof(dir), "%s/nobodys", d->dir);
		ASSERT_EQ(mkdir(dir, 0755), 0);
		ASSERT_EQ(chown(dir, NOBODY, NOBODY), 0);
		expect_dir_refused(dir, "belongs to uid 65534");
		h_ok("(c) as root: a socket directory of uid %d (mode 0755) is refused the same "
		     "way",
		     NOBODY);
	} else {
		printf("note: not root, so a socket directory of another user is not tried\n");
	}

	/* A sticky shared directory (like /tmp): others cannot replace the socket there. */
	struct h_daemon *s = h_prepare();
	snprintf(dir, sizeof(dir), "%s/shared", s->dir);
	ASSERT_EQ(mkdir(dir, 0700), 0);
	ASSERT_EQ(chmod(dir, 01777), 0);
	snprintf(s->sock, sizeof(s->sock), "%s/shared/cairnd.sock", s->dir);
	h_spawn(s, H_ARGS("--durability", "none"));
	h_wait_ready(s);
	ASSERT_TRUE(h_log_has(s, "socket directory", "is shared (mode 1777)", 2000));
	cairn_client *c;
	ASSERT_OK(cairn_open(s->sock, NULL, &c));
	ASSERT_OK(cairn_ping(c, SEC));
	cairn_close(c);
	h_stop(s);
	/* And a private one inside it, as /tmp/cairn-UID in /tmp: accepted. */
	snprintf(dir, sizeof(dir), "%s/shared/own", s->dir);
	ASSERT_EQ(mkdir(dir, 0700), 0);
	snprintf(s->sock, sizeof(s->sock), "%s/shared/own/cairnd.sock", s->dir);
	h_spawn(s, H_ARGS("--durability", "none"));
	h_wait_ready(s);
	ASSERT_OK(cairn_open(s->sock, NULL, &c));
	ASSERT_OK(cairn_ping(c, SEC));
	cairn_close(c);
	h_stop(s);
	h_ok("(c) a sticky world-writable directory (mode 1777): accepted, with a warning; a "
	     "private directory inside it: accepted");
}

static void check_flags(void)
{
	char out[8192];
	static const char *const flags[] = {
		"--socket",
		"--cpu",
		"--max-clients",
		"--batch",
		"--spin-us",
		"--yield-us",
		"--allow-uid",
		"--allow-gid",
		"--verbose",
		"--help",
		"--version",
		"--drain-timeout-ms",
		"--max-lanes-per-process",
		"--max-lane-memory",
		"--max-hunts",
		"--max-entities",
		"--max-players-per-hunt",
	};
	int st = h_run(H_ARGS("--help"), 5000, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (!strstr(out, flags[i])) {
			T_FAILF("cairnd --help does not mention %s:\n%s", flags[i], out);
		}
	}
	st = h_run(H_ARGS("-h"), 5000, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "--socket"));
	st = h_run(H_ARGS("--version"), 5000, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char proto[32];
	snprintf(proto, sizeof(proto), "%d.%d", CAIRN_PROTO_MAJOR, CAIRN_PROTO_MINOR);
	ASSERT_TRUE(strstr(out, proto) != NULL);
	h_ok("(d) --help (and -h) exit 0 and mention all %zu flags; --version names protocol %s",
	     sizeof(flags) / sizeof(flags[0]), proto);

	/*
	 * Bad values. Each run also gets a private --socket first, so that a value wrongly
	 * accepted starts a daemon there (and fails the test) rather than on the default path.
	 */
	struct h_daemon *scratch = h_prepare();
	static const struct {
		const char *flag, *value, *says;
	} bad[] = {
		{"--max-clients", "0", "--max-clients"},
		{"--max-clients", "abc", "--max-clients"},
		{"--max-clients", "4097", "--max-clients"},
		{"--max-clients", "", "--max-clients"},
		{"--max-clients", "12x", "--max-clients"},
		{"--cpu", "-1", "--cpu"},
		{"--cpu", "one", "--cpu"},
		{"--batch", "0", "--batch"},
		{"--spin-us", "-5", "--spin-us"},
		{"--yield-us", "99999999999999999999", "--yield-us"},
		{"--allow-uid", "-1", "--allow-uid"},
		{"--allow-uid", "root", "--allow-uid"},
		{"--allow-gid", "4294967295", "--allow-gid"},
		{"--drain-timeout-ms", "3600001", "--drain-timeout-ms"},
		{"--max-lanes-per-process", "0", "--max-lanes-per-process"},
		{"--max-lanes-per-process", "4097", "--max-lanes-per-process"},
		{"--max-lane-memory", "0", "--max-lane-memory"},
		{"--max-lane-memory", "1048577", "--max-lane-memory"},
		{"--max-players-per-hunt", "0", "--max-players-per-hunt"},
		{"--max-players-per-hunt", "16777216", "--max-players-per-hunt"},
		{"--bogus", NULL, "--help"},
		{"stray-argument", NULL, "stray-argument"},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *args[] = {"--socket", scratch->sock, bad[i].flag, bad[i].value, NULL};
		st = h_run(args, 3000, out, sizeof(out));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || !strstr(out, bad[i].says)) {
			T_FAILF("cairnd %s %s: status 0x%x, output \"%s\"; expected exit 2 and a "
				"message naming %s",
				bad[i].flag, bad[i].value ? bad[i].value : "", st, out,
				bad[i].says);
		}
	}
	const char *many[2 * 17 + 3] = {"--socket", scratch->sock};
	for (unsigned i = 0; i < 17; i++) {
		many[2 + 2 * i] = "--allow-uid";
		many[3 + 2 * i] = "1000";
	}
	st = h_run(many, 3000, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(out, "at most"));
	h_ok("(d) %zu bad values (zero, negative, too big, not a number, empty, trailing junk, "
	     "unknown flag, stray argument, 17 --allow-uid): exit 2 with a message naming the "
	     "flag",
	     sizeof(bad) / sizeof(bad[0]) + 1);

	/* A CPU we may not run on is refused at start, not silently ignored. */
	const char *cpu[] = {"--socket", scratch->sock, "--cpu", "1023", NULL};
	st = h_run(cpu, 3000, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) != 0 && strstr(out, "CPU 1023"));
	h_ok("(d) --cpu 1023 (not ours): exit %d with a message", WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "lifecycle");
	cairnd_bin = argv[1];
	check_flags();
	check_idle();
	check_drain();
	check_sigint();
	check_socket_path();
	check_default_socket_dir();
	check_socket_dir();
	check_drain_slow_reader();
	h_pass();
}
