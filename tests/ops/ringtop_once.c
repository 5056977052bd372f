/*
 * ringtop --once --json against a live cairnd: a host sends a known number of commands
 * (PINGs, a hunt, a join, MOVEs) and ringtop's figures for its lane, the daemon, the
 * engine and the log must be exactly those; under load the rates and wait percentiles
 * must be there; with --metrics off, without a daemon, and with bad flags, ringtop must
 * say so and exit with the documented status.
 *
 * Usage: ringtop_once PATH-TO-CAIRND PATH-TO-RINGTOP PATH-TO-PYTHON3
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "../client/kit.h"

#define RUN_TIMEOUT_MS 20000
#define PINGS          300
#define MOVES          200

static char output[256 * 1024];
static const char *ringtop;
static const char *python;

/*
 * Runs args (NULL-terminated, argv[0] included) with stdout and stderr into output, and
 * stdin from input when not NULL. Returns the exit status (128 + signal when killed).
 */
static int run_input(char *const *args, const char *input)
{
	int out[2], in[2] = {-1, -1};
	if (pipe2(out, O_CLOEXEC) < 0 || (input && pipe2(in, O_CLOEXEC) < 0)) {
		T_FAILF("pipe2: %s", strerror(errno));
	}
	pid_t pid = h_fork();
	if (pid == 0) {
		if (dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0 || (input && dup2(in[0], 0) < 0)) {
			_exit(127);
		}
		execv(args[0], args);
		_exit(127);
	}
	close(out[1]);
	if (input) {
		close(in[0]);
		size_t n = strlen(input);
		if (write(in[1], input, n) != (ssize_t)n) {
			T_FAILF("writing to %s: %s", args[0], strerror(errno));
		}
		close(in[1]);
	}
	size_t len = 0;
	uint64_t deadline = h_now_ns() + (uint64_t)RUN_TIMEOUT_MS * 1000000u;
	for (;;) {
		uint64_t now = h_now_ns();
		if (now >= deadline) {
			kill(pid, SIGKILL);
			h_wait_child(pid);
			T_FAILF("%s ran for more than %d ms", args[0], RUN_TIMEOUT_MS);
		}
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) <= 0) {
			continue;
		}
		char buf[4096];
		ssize_t n = read(out[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		size_t take =
			(size_t)n < sizeof(output) - 1 - len ? (size_t)n : sizeof(output) - 1 - len;
		memcpy(output + len, buf, take);
		len += take;
	}
	close(out[0]);
	output[len] = '\0';
	return h_wait_child(pid);
}

static int run(char *const *args)
{
	return run_input(args, NULL);
}

/* ringtop --once --json on sock, which must succeed with valid JSON in output. */
static void once_json(const char *sock, const char *interval)
{
	char *args[] = {(char *)ringtop,  "--once",   "--json",     "--interval",
			(char *)interval, "--socket", (char *)sock, NULL};
	int rc = run(args);
	if (rc != 0) {
		fputs(output, stderr);
		T_FAILF("ringtop --once --json exited %d", rc);
	}
	/* Valid JSON by a real parser; the figures are then read by hand below. */
	static char json[sizeof(output)];
	memcpy(json, output, sizeof(json));
	char *check[] = {(char *)python, "-c", "import json, sys; json.load(sys.stdin)", NULL};
	rc = run_input(check, json);
	if (rc != 0) {
		fprintf(stderr, "%s\n%s", json, output);
		T_FAILF("ringtop's --json output is not valid JSON");
	}
	memcpy(output, json, sizeof(json));
}

/* The object that starts with key (e.g. "\"wal\":{"), from its '{' to its first '}'. */
struct span {
	const char *at, *end;
};

static struct span object(const char *from, const char *key)
{
	const char *a = strstr(from, key);
	if (!a) {
		fprintf(stderr, "%s", output);
		T_FAILF("no %s in ringtop's JSON", key);
	}
	a = strchr(a, '{');
	const char *e = strchr(a, '}');
	if (!e) {
		T_FAILF("%s is not closed in ringtop's JSON", key);
	}
	return (struct span){a, e};
}

/* The lane object of lane id, or at = NULL when ringtop does not list it. */
static struct span lane_object(uint32_t id)
{
	char key[48];
	snprintf(key, sizeof(key), "{\"lane\":%u,", id);
	const char *a = strstr(output, key);
	if (!a) {
		return (struct span){NULL, NULL};
	}
	return (struct span){a, strchr(a, '}')};
}

/* Whether key is in s with a number (not null); the number in *v. */
static bool num(struct span s, const char *key, double *v)
{
	char want[64];
	snprintf(want, sizeof(want), "\"%s\":", key);
	const char *p = strstr(s.at, want);
	if (!p || p >= s.end) {
		fprintf(stderr, "%s", output);
		T_FAILF("no \"%s\" where expected in ringtop's JSON", key);
	}
	p += strlen(want);
	if (strncmp(p, "null", 4) == 0) {
		return false;
	}
	*v = strtod(p, NULL);
	return true;
}

static unsigned long long u64(struct span s, const char *key)
{
	double v = 0;
	if (!num(s, key, &v)) {
		T_FAILF("\"%s\" is null in ringtop's JSON", key);
	}
	return (unsigned long long)v;
}

/* A thread that keeps PINGing on a lane of its own, for the rates. */
struct load {
	pthread_t thread;
	atomic_int stop;
	cairn_client *c;
};

static void *load_main(void *arg)
{
	struct load *l = arg;
	while (!atomic_load(&l->stop)) {
		ASSERT_OK(cairn_ping(l->c, 5 * SEC));
		h_sleep_us(50);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "ringtop_once");
	if (argc < 4 || access(argv[2], X_OK) != 0) {
		T_FAILF("usage: %s PATH-TO-CAIRND PATH-TO-RINGTOP PATH-TO-PYTHON3", argv[0]);
	}
	ringtop = argv[2];
	python = argv[3];
	struct h_daemon *d = kit_start(NULL);

	/* Flags a script could get wrong: status 2 and a sentence. */
	char *bad1[] = {(char *)ringtop, "--json", NULL};
	ASSERT_EQ(run(bad1), 2);
	ASSERT_TRUE(strstr(output, "--once") != NULL);
	char *bad2[] = {(char *)ringtop, "--once", "--interval", "0", NULL};
	ASSERT_EQ(run(bad2), 2);
	ASSERT_TRUE(strstr(output, "--interval") != NULL);
	char *help[] = {(char *)ringtop, "--help", NULL};
	ASSERT_EQ(run(help), 0);
	ASSERT_TRUE(strstr(output, "Usage: ringtop") != NULL);
	h_ok("--json without --once and --interval 0 exit 2 with a message; --help exits 0");

	/* No daemon at the socket. */
	char nosock[192];
	snprintf(nosock, sizeof(nosock), "%s/nobody.sock", d->dir);
	char *none[] = {(char *)ringtop, "--once", "--socket", nosock, NULL};
	ASSERT_EQ(run(none), 1);
	ASSERT_TRUE(strstr(output, "no cairnd is listening") != NULL);
	ASSERT_TRUE(strstr(output, "--socket") != NULL);
	h_ok("no daemon at the socket: exit 1, \"%.*s\"", (int)strcspn(output, "\n"), output);

	/* A host sends a known number of commands. */
	struct cairn_open_options oo = {.name = "ringtop-host"};
	cairn_client *c = kit_open(d, &oo);
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	for (int i = 0; i < PINGS; i++) {
		ASSERT_OK(cairn_ping(c, 5 * SEC));
	}
	uint32_t hunt = kit_hunt(c, 0, 0);
	uint32_t player;
	ASSERT_OK(cairn_join(c, hunt, 1500, 1500, &player, 5 * SEC));
	for (int i = 0; i < MOVES; i++) {
		ASSERT_OK(cairn_move(c, hunt, player, i % 2 ? 1500 : 2500, 1500, NULL, 5 * SEC));
	}
	const unsigned long long sent = PINGS + 2 + MOVES;

	/* The daemon publishes within about a millisecond: poll until ringtop sees it all. */
	uint64_t deadline = h_now_ns() + 10 * (uint64_t)SEC;
	struct span lane;
	for (;;) {
		once_json(d->sock, "0.2");
		lane = lane_object(info.lane_id);
		if (lane.at && u64(lane, "commands") == sent && u64(lane, "results") == sent) {
			break;
		}
		if (h_now_ns() > deadline) {
			fprintf(stderr, "%s", output);
			T_FAILF("ringtop never showed lane %u with %llu commands and results",
				info.lane_id, sent);
		}
	}
	/* Once more, now that nothing moves: two samples of the same figures. */
	once_json(d->sock, "0.2");
	lane = lane_object(info.lane_id);
	ASSERT_TRUE(lane.at != NULL);
	ASSERT_UEQ(u64(lane, "commands"), sent);
	ASSERT_UEQ(u64(lane, "client_id"), info.client_id);
	ASSERT_EQ(u64(lane, "pid"), getpid());
	ASSERT_TRUE(strstr(lane.at, "\"name\":\"ringtop-host\"") != NULL);
	ASSERT_UEQ(u64(lane, "errors"), 0);
	ASSERT_UEQ(u64(lane, "depth"), 0);
	ASSERT_UEQ(u64(lane, "held"), 0);
	ASSERT_UEQ(u64(lane, "cmd_pushed"), sent);
	ASSERT_UEQ(u64(lane, "res_popped"), sent);
	/* Every command is counted once in the wait histogram. */
	const char *h = strstr(lane.at, "\"wait_hist\":[");
	ASSERT_TRUE(h && h < lane.end);
	unsigned long long in_hist = 0;
	for (const char *p = h + strlen("\"wait_hist\":["); *p && *p != ']';) {
		char *e;
		in_hist += strtoull(p, &e, 10);
		p = *e == ',' ? e + 1 : e;
	}
	ASSERT_UEQ(in_hist, sent);
	double rate = -1;
	ASSERT_TRUE(strstr(lane.at, "\"rates_valid\":true") != NULL);
	ASSERT_TRUE(num(lane, "commands_per_s", &rate));
	ASSERT_TRUE(rate == 0);                        /* the host is idle now */
	ASSERT_TRUE(!num(lane, "wait_p50_ns", &rate)); /* no command in the interval: null */

	struct span daemon = object(output, "\"daemon\":{");
	struct span counters = object(output, "\"counters\":{");
	struct span engine = object(output, "\"engine\":{");
	struct span wal = object(output, "\"wal\":{");
	ASSERT_TRUE(strstr(daemon.at, "\"metrics\":true") != NULL);
	ASSERT_TRUE(strstr(daemon.at, "\"state\":\"running\"") != NULL);
	ASSERT_UEQ(u64(daemon, "pid"), d->pid);
	ASSERT_TRUE(u64(daemon, "rss_bytes") > 0);
	ASSERT_UEQ(u64(counters, "commands"), sent); /* the only host */
	ASSERT_UEQ(u64(counters, "results"), sent);
	ASSERT_UEQ(u64(counters, "errors"), 0);
	ASSERT_UEQ(u64(counters, "lanes_active"), 1);
	ASSERT_UEQ(u64(engine, "hunts"), 1);
	ASSERT_UEQ(u64(engine, "entities"), 1);
	ASSERT_UEQ(u64(engine, "moves"), MOVES);
	ASSERT_UEQ(u64(engine, "applied"), MOVES + 2); /* the hunt, the join, the moves */
	ASSERT_UEQ(u64(engine, "rejected"), 0);
	ASSERT_TRUE(strstr(wal.at, "\"durability\":\"sync\"") != NULL);
	ASSERT_TRUE(strstr(wal.at, "\"backend\":\"io_uring\"") != NULL ||
		    strstr(wal.at, "\"backend\":\"sync\"") != NULL);
	/* Sync durability: every result was published after its command was on disk. */
	ASSERT_UEQ(u64(wal, "lag"), 0);
	ASSERT_UEQ(u64(wal, "durable_lsn"), u64(wal, "appended_lsn"));
	ASSERT_TRUE(u64(wal, "durable_lsn") >= MOVES + 2);
	ASSERT_TRUE(u64(wal, "records") >= MOVES + 2);
	ASSERT_TRUE(u64(wal, "batches") > 0 && u64(wal, "bytes") > 0);
	ASSERT_UEQ(u64(wal, "error"), 0);
	h_ok("%llu PINGs, a hunt, a join and %d MOVEs: lane %u (client %llu, pid %d) shows "
	     "commands=results=%llu, errors 0, depth 0, all %llu in its wait histogram; the "
	     "daemon %llu commands, the engine 1 hunt, 1 entity, %llu moves, %llu applied; the log "
	     "lag 0 at lsn %llu",
	     (unsigned long long)PINGS, MOVES, info.lane_id, (unsigned long long)info.client_id,
	     (int)getpid(), sent, in_hist, u64(counters, "commands"), u64(engine, "moves"),
	     u64(engine, "applied"), u64(wal, "durable_lsn"));

	/* Under load, the rates and the wait percentiles are there. */
	struct load l = {0};
	struct cairn_open_options lo = {.name = "ringtop-load"};
	l.c = kit_open(d, &lo);
	struct cairn_daemon_info linfo;
	ASSERT_OK(cairn_daemon_info(l.c, &linfo));
	if (pthread_create(&l.thread, NULL, load_main, &l) != 0) {
		T_FAILF("pthread_create failed");
	}
	h_sleep_us(200 * 1000);
	once_json(d->sock, "0.5");
	atomic_store(&l.stop, 1);
	pthread_join(l.thread, NULL);
	struct span ll = lane_object(linfo.lane_id);
	ASSERT_TRUE(ll.at != NULL);
	double cmd_s = 0, p50 = 0, p99 = 0, dmn_s = 0, interval = 0;
	ASSERT_TRUE(num(ll, "commands_per_s", &cmd_s));
	ASSERT_TRUE(num(ll, "wait_p50_ns", &p50));
	ASSERT_TRUE(num(ll, "wait_p99_ns", &p99));
	/* The daemon's rates follow its counters object. */
	counters = object(output, "\"counters\":{");
	ASSERT_TRUE(num((struct span){counters.end, output + strlen(output)}, "commands_per_s",
			&dmn_s));
	ASSERT_TRUE(num((struct span){output, output + strlen(output)}, "interval_s", &interval));
	ASSERT_TRUE(cmd_s > 0);
	ASSERT_TRUE(dmn_s >= cmd_s * 0.99);
	ASSERT_TRUE(p50 > 0 && p99 >= p50);
	ASSERT_TRUE(interval >= 0.45 && interval < 5);
	h_ok("a host PINGing: lane %u at %.0f commands/s (daemon %.0f/s) over %.2f s, wait p50 "
	     "%.0f ns p99 %.0f ns",
	     linfo.lane_id, cmd_s, dmn_s, interval, p50, p99);
	cairn_close(l.c);
	cairn_close(c);

	/* The plain text of --once shows the host's lane. */
	char *text[] = {(char *)ringtop, "--once", "--interval", "0.1", "--socket", d->sock, NULL};
	ASSERT_EQ(run(text), 0);
	ASSERT_TRUE(strstr(output, "cairnd pid") != NULL);
	h_stop(d);

	/* The daemon is gone: no daemon at the socket. */
	ASSERT_EQ(run(text), 1);
	ASSERT_TRUE(strstr(output, "no cairnd") != NULL);

	/* A daemon without metrics: ringtop says so, and still shows the counters. */
	struct h_daemon *off = h_start(H_ARGS("--metrics", "off"));
	once_json(off->sock, "0.1");
	ASSERT_TRUE(strstr(output, "\"metrics\":false") != NULL);
	ASSERT_TRUE(strstr(output, "\"wal\":null") != NULL);
	ASSERT_TRUE(strstr(output, "\"lanes\":[]") != NULL);
	counters = object(output, "\"counters\":{");
	ASSERT_UEQ(u64(counters, "commands"), 0);
	char *text_off[] = {(char *)ringtop, "--once",  "--interval", "0.1",
			    "--socket",      off->sock, NULL};
	ASSERT_EQ(run(text_off), 0);
	ASSERT_TRUE(strstr(output, "--metrics off") != NULL);
	h_ok("cairnd --metrics off: metrics false, wal null, no lanes, and the text says "
	     "--metrics off; a stopped daemon: exit 1");
	h_pass();
}
