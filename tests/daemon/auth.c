/*
 * auth: who may attach, and what happens to handshakes that are wrong.
 *
 *  - --allow-uid / --allow-gid against SO_PEERCRED: refused with DENIED and a log line
 *    naming the uid; a gid in the list lets a foreign uid in; --allow-uid replaces the
 *    default (our own uid). As root, real other users (uid 65534) are tried from forked
 *    children; otherwise that part is skipped with a note.
 *  - malformed hellos through a raw socket: wrong magic, flags, major version, ring and
 *    arena sizes, a silent client (timed out after 5 s), a partial hello, a flood of
 *    connections; each refusal is counted in counters.attach_refused, exactly.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define SEC         (1000 * 1000 * 1000ll)
#define NOBODY      65534
#define OTHER_GID   4242
#define FLOOD       100
#define MAX_PENDING 64 /* handshakes the daemon keeps in progress at once (control.c) */

/* Sends h on a fresh connection and returns the welcome's status; checks the refusal shape. */
static int hello_status(const struct h_daemon *d, const struct cairn_hello *h)
{
	struct cairn_welcome w;
	int fds[2], nfds;
	int sock = h_connect(d->sock);
	ASSERT_OK(h_send_all(sock, h, sizeof(*h)));
	ASSERT_OK(h_recv_welcome(sock, &w, fds, &nfds, 5000));
	ASSERT_UEQ(w.magic, CAIRN_WELCOME_MAGIC);
	ASSERT_EQ(w.version_major, CAIRN_PROTO_MAJOR);
	if (w.status != 0) {
		/* A refusal carries no descriptors, and the daemon hangs up after it. */
		ASSERT_EQ(nfds, 0);
		ASSERT_TRUE(h_wait_eof(sock, 2000));
	} else {
		ASSERT_EQ(nfds, 2);
		close(fds[0]);
		close(fds[1]);
	}
	close(sock);
	return w.status;
}

static void check_denied_uid(void)
{
	char other[16];
	unsigned uid = (unsigned)getuid();
	snprintf(other, sizeof(other), "%u", uid + 12345);
	struct h_daemon *d = h_start(H_ARGS("--allow-uid", other));
	cairn_client *c = (cairn_client *)1;
	int r = cairn_open(d->sock, NULL, &c);
	ASSERT_EQ(r, -CAIRN_E_DENIED);
	ASSERT_TRUE(c == NULL);
	ASSERT_TRUE(strstr(cairn_strerror(r), "does not allow") != NULL);
	char needle[32];
	snprintf(needle, sizeof(needle), "uid %u", uid);
	ASSERT_TRUE(h_log_has(d, "refused", needle, 2000));

	struct cairn_hello h;
	h_hello_default(&h, "raw");
	ASSERT_EQ(hello_status(d, &h), CAIRN_E_DENIED);
	/* Credentials come first: a stranger learns nothing about what else it got wrong. */
	h.magic = 0;
	ASSERT_EQ(hello_status(d, &h), CAIRN_E_DENIED);
	h_ok("--allow-uid %s: cairn_open -> DENIED (\"%s\"), the log has a 'refused' line with "
	     "\"%s\"; a raw hello, even a malformed one, -> DENIED with no descriptors",
	     other, cairn_strerror(r), needle);
	h_stop(d);
}

static void check_allowed_gid(void)
{
	char other[16], gid[16];
	snprintf(other, sizeof(other), "%u", (unsigned)getuid() + 12345);
	snprintf(gid, sizeof(gid), "%u", (unsigned)getgid());
	struct h_daemon *d = h_start(H_ARGS("--allow-gid", gid, "--allow-uid", other));
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	cairn_close(c);
	h_ok("--allow-gid %s (ours) --allow-uid %s (not ours): attached and answered", gid, other);
	h_stop(d);
}

/*
 * In a forked child: becomes uid/gid (dropping supplementary groups) and tries to attach.
 * Exits with 0 when cairn_open returned `expect`, 1 otherwise.
 */
static void try_as(const char *sock, uid_t uid, gid_t gid, int expect)
{
	pid_t pid = h_fork();
	if (pid == 0) {
		cairn_client *c;
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
			fprintf(stderr, "cannot become uid %u gid %u: %s\n", (unsigned)uid,
				(unsigned)gid, strerror(errno));
			_exit(1);
		}
		/* Changing credentials clears the parent-death signal; set it again. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int r = cairn_open(sock, NULL, &c);
		if (r == 0) {
			r = cairn_ping(c, 2 * SEC);
			cairn_close(c);
		}
		if (r != expect) {
			fprintf(stderr,
				"as uid %u gid %u: cairn_open/ping returned %d (%s), expected %d "
				"(%s)\n",
				(unsigned)uid, (unsigned)gid, r, cairn_strerror(r), expect,
				cairn_strerror(expect));
			_exit(1);
		}
		_exit(0);
	}
	ASSERT_EQ(h_wait_child(pid), 0);
}

/* Lets other users reach the socket, so that the daemon's own check is what decides. */
static void open_up(const struct h_daemon *d)
{
	ASSERT_EQ(chmod(d->dir, 0711), 0);
	ASSERT_EQ(chmod(d->sock, 0666), 0);
}

static void check_other_users(void)
{
	if (getuid() != 0) {
		printf("note: not root, so the checks with real other users (uid %d) are skipped\n",
		       NOBODY);
		return;
	}
	/* A default daemon lets in its own uid (root here) and nobody else. */
	struct h_daemon *d = h_start(NULL);
	ASSERT_EQ(chmod(d->dir, 0711), 0);
	/* The socket's own mode (0660, owner root) keeps others out before the daemon sees them. */
	try_as(d->sock, NOBODY, NOBODY, -EACCES);
	open_up(d);
	try_as(d->sock, NOBODY, NOBODY, -CAIRN_E_DENIED);
	ASSERT_TRUE(h_log_has(d, "refused", "uid 65534", 2000));
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_UEQ(h_wait_counter(c, H_CTR(attach_refused), 1, true, 2000), 1);
	cairn_close(c);
	h_ok("as root: a default daemon refuses uid %d (socket mode 0660 -> EACCES; opened up "
	     "-> DENIED, logged, counted)",
	     NOBODY);
	h_stop(d);

	char g[16];
	snprintf(g, sizeof(g), "%d", OTHER_GID);
	d = h_start(H_ARGS("--allow-gid", g));
	open_up(d);
	try_as(d->sock, NOBODY, OTHER_GID, 0);
	try_as(d->sock, NOBODY, NOBODY, -CAIRN_E_DENIED);
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	cairn_close(c);
	h_stop(d);
	h_ok("as root: --allow-gid %d lets uid %d in with gid %d, not with gid %d; our own uid "
	     "still allowed",
	     OTHER_GID, NOBODY, OTHER_GID, NOBODY);

	snprintf(g, sizeof(g), "%d", NOBODY);
	d = h_start(H_ARGS("--allow-uid", g));
	open_up(d);
	try_as(d->sock, NOBODY, NOBODY, 0);
	ASSERT_EQ(cairn_open(d->sock, NULL, &c), -CAIRN_E_DENIED);
	h_stop(d);
	h_ok("as root: --allow-uid %d lets that uid in and replaces the default: root is DENIED",
	     NOBODY);
}

static void check_handshakes(void)
{
	struct h_daemon *d = h_start(NULL);
	struct cairn_hello h;
	struct cairn_welcome w;
	int fds[2], nfds;
	cairn_client *c;
	unsigned refused = 0;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));

	/* These two wait out the daemon's 5 s handshake timeout while the rest runs. */
	uint64_t t0 = h_now_ns();
	int silent = h_connect(d->sock);
	int partial = h_connect(d->sock);
	h_hello_default(&h, "partial");
	ASSERT_OK(h_send_all(partial, &h, 10));
	refused += 2;

	struct {
		const char *what;
		int status;
		struct cairn_hello h;
	} t[24];
	unsigned n = 0;
#define ADD(what_, status_, field, value)                                                          \
	do {                                                                                       \
		t[n].what = what_;                                                                 \
		t[n].status = status_;                                                             \
		h_hello_default(&t[n].h, "table");                                                 \
		t[n].h.field = value;                                                              \
		n++;                                                                               \
	} while (0)
	ADD("wrong magic", CAIRN_E_HANDSHAKE, magic, CAIRN_HELLO_MAGIC ^ 1);
	ADD("welcome magic in a hello", CAIRN_E_HANDSHAKE, magic, CAIRN_WELCOME_MAGIC);
	ADD("flags 4 (unknown bit)", CAIRN_E_HANDSHAKE, flags, 4);
	ADD("flags 0x80000000", CAIRN_E_HANDSHAKE, flags, 0x80000000u);
	ADD("major 99", CAIRN_E_VERSION, version_major, 99);
	ADD("major 0", CAIRN_E_VERSION, version_major, 0);
	ADD("command ring of 3 slots", CAIRN_E_LAYOUT, cmd_capacity, 3);
	ADD("result ring of 3 slots", CAIRN_E_LAYOUT, res_capacity, 3);
	ADD("command ring of 1 slot", CAIRN_E_LAYOUT, cmd_capacity, 1);
	ADD("result ring of 2^21 slots", CAIRN_E_LAYOUT, res_capacity, CAIRN_RING_MAX_CAPACITY * 2);
	ADD("command ring of 2^31 slots", CAIRN_E_LAYOUT, cmd_capacity, 0x80000000u);
	ADD("arena above the maximum", CAIRN_E_LAYOUT, blob_size, CAIRN_BLOB_MAX_SIZE + 1);
	ADD("minor 99 (additions only)", 0, version_minor, 99);
	ADD("smallest rings (2 slots)", 0, cmd_capacity, CAIRN_RING_MIN_CAPACITY);
	ADD("a 1-byte arena (rounded up)", 0, blob_size, 1);
#undef ADD
	for (unsigned i = 0; i < n; i++) {
		int st = hello_status(d, &t[i].h);
		if (st != t[i].status) {
			T_FAILF("hello with %s: welcome status %d (%s), expected %d (%s)",
				t[i].what, st, cairn_error_name(st) ? cairn_error_name(st) : "?",
				t[i].status,
				cairn_error_name(t[i].status) ? cairn_error_name(t[i].status)
							      : "0");
		}
		refused += st != 0;
	}
	h_ok("raw hellos: wrong magic and unknown flags -> HANDSHAKE, major 99 and 0 -> VERSION "
	     "(welcome says major %d), rings of 3, 1, 2^21, 2^31 slots and an arena over 64 MiB "
	     "-> LAYOUT; minor 99, 2-slot rings and a 1-byte arena accepted",
	     CAIRN_PROTO_MAJOR);

	/* The name is shown to operators: control characters must not reach the log. */
	h_hello_default(&h, NULL);
	memcpy(h.name, "bad\x01name\n\x1b[31m", 14);
	ASSERT_EQ(hello_status(d, &h), 0);
	ASSERT_TRUE(h_log_has(d, "attached", "\"bad?name??[31m\"", 2000));
	h_ok("a name with control characters is logged with them replaced by '?'");

	/* A hello cut short by a client that goes away costs nothing and counts nothing. */
	for (unsigned i = 0; i < 10; i++) {
		int s = h_connect(d->sock);
		h_hello_default(&h, "cut");
		ASSERT_OK(h_send_all(s, &h, 1 + i * 6));
		close(s);
	}
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	cairn_client *c2;
	ASSERT_OK(cairn_open(d->sock, NULL, &c2));
	ASSERT_OK(cairn_ping(c2, 2 * SEC));
	cairn_close(c2);
	h_ok("10 partial hellos then close: the daemon keeps serving and attaching");

	/* Now the two that said nothing (or too little) are refused when 5 s are up. */
	ASSERT_OK(h_recv_welcome(silent, &w, fds, &nfds, 8000));
	uint64_t waited = h_now_ns() - t0;
	ASSERT_EQ(w.status, CAIRN_E_HANDSHAKE);
	ASSERT_EQ(nfds, 0);
	ASSERT_TRUE(h_wait_eof(silent, 2000));
	ASSERT_OK(h_recv_welcome(partial, &w, fds, &nfds, 2000));
	ASSERT_EQ(w.status, CAIRN_E_HANDSHAKE);
	ASSERT_TRUE(h_wait_eof(partial, 2000));
	close(silent);
	close(partial);
	ASSERT_TRUE(waited >= 4500ull * 1000 * 1000 && waited <= 7500ull * 1000 * 1000);
	ASSERT_TRUE(h_log_has(d, "refused", "no hello", 2000));
	h_ok("a silent client and one that sent 10 of 64 bytes: HANDSHAKE after %llu ms, then "
	     "closed",
	     (unsigned long long)(waited / 1000000));

	/*
	 * A flood of connections that say nothing: the daemon keeps at most MAX_PENDING
	 * handshakes and drops (and counts) the rest, then recovers when they go.
	 */
	static int flood[FLOOD];
	for (unsigned i = 0; i < FLOOD; i++) {
		flood[i] = h_connect(d->sock);
	}
	for (unsigned i = 0; i < FLOOD; i++) {
		if (i >= MAX_PENDING) {
			ASSERT_TRUE(h_wait_eof(flood[i], 2000));
		}
	}
	refused += FLOOD - MAX_PENDING;
	for (unsigned i = 0; i < FLOOD; i++) {
		close(flood[i]);
	}
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	uint64_t deadline = h_now_ns() + 2 * SEC;
	int r;
	while ((r = cairn_open(d->sock, NULL, &c2)) != 0 && h_now_ns() < deadline) {
		/*
		 * The daemon had not yet seen the flood's connections close, so it dropped
		 * this one too, and counted it.
		 */
		if (r == -CAIRN_E_DISCONNECTED || r == -ECONNRESET || r == -EPIPE) {
			refused++;
		}
		h_sleep_us(5000);
	}
	ASSERT_OK(r);
	cairn_close(c2);
	h_ok("%d silent connections at once: %d beyond the %d pending handshakes closed at "
	     "once; afterwards clients attach again",
	     FLOOD, FLOOD - MAX_PENDING, MAX_PENDING);

	uint64_t counted = h_wait_counter(c, H_CTR(attach_refused), refused, true, 2000);
	if (counted != refused) {
		T_FAILF("counters.attach_refused is %llu, expected %u", (unsigned long long)counted,
			refused);
	}
	h_ok("counters.attach_refused = %u, exactly the refusals made here", refused);
	cairn_close(c);
	h_stop(d);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "auth");
	check_denied_uid();
	check_allowed_gid();
	check_other_users();
	check_handshakes();
	h_pass();
}
