#include "redis_base.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "machine.h"
#include "proc.h"

#if CAIRN_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#define READY_TIMEOUT_NS (10ull * 1000000000u)
#define STOP_TIMEOUT_NS  (10ull * 1000000000u)

#if CAIRN_HAVE_HIREDIS
static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}
#endif

bool redis_available(const char *flag_path, char *binary, size_t len, char *why, size_t whylen)
{
#if !CAIRN_HAVE_HIREDIS
	(void)flag_path;
	(void)binary;
	(void)len;
	snprintf(why, whylen,
		 "cairn-bench was built without hiredis (install libhiredis-dev and "
		 "reconfigure)");
	return false;
#else
	if (flag_path) {
		if (!executable(flag_path)) {
			snprintf(why, whylen, "--redis-server %s: not an executable file",
				 flag_path);
			return false;
		}
		snprintf(binary, len, "%s", flag_path);
		return true;
	}
	const char *path = getenv("PATH");
	for (const char *s = path && *path ? path : "/usr/bin";; s++) {
		const char *e = strchrnul(s, ':');
		int n = snprintf(binary, len, "%.*s/redis-server", e == s ? 1 : (int)(e - s),
				 e == s ? "." : s);
		if (n > 0 && (size_t)n < len && executable(binary)) {
			return true;
		}
		if (!*e) {
			break;
		}
		s = e;
	}
	snprintf(why, whylen, "no redis-server on $PATH (Debian: apt-get install redis-server)");
	return false;
#endif
}

#if CAIRN_HAVE_HIREDIS
/* A TCP port on 127.0.0.1 that nobody listens on now. Returns it, or -errno. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	int r = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		r = -errno;
	}
	close(fd);
	return r < 0 ? r : ntohs(a.sin_port);
}

/* Connects; 0, or -ECONNREFUSED while it does not listen yet, or another -errno. */
static int connect_once(struct redis_base *r)
{
	redisContext *c = r->tcp ? redisConnect("127.0.0.1", r->port) : redisConnectUnix(r->socket);
	if (!c) {
		return -ENOMEM;
	}
	if (c->err) {
		redisFree(c);
		return -ECONNREFUSED;
	}
	r->ctx = c;
	return 0;
}
#endif

int redis_start(struct redis_base *r, const char *binary, const char *dir, bool aof, bool tcp,
		int cpu, char *err, size_t errlen)
{
	char port_arg[16];
	memset(r, 0, sizeof(*r));
	r->cpu = cpu;
	r->tcp = tcp;
	snprintf(r->server_cpus, sizeof(r->server_cpus), "unknown");
#if !CAIRN_HAVE_HIREDIS
	(void)binary;
	(void)dir;
	(void)aof;
	(void)port_arg;
	snprintf(err, errlen, "built without hiredis");
	return -ENOTSUP;
#else
	if (strlen(dir) > 80) {
		snprintf(err, errlen, "%s: too long for a socket path in it", dir);
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(e));
		return -e;
	}
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(r->socket, sizeof(r->socket), "%s/redis.sock", dir);
	snprintf(r->log, sizeof(r->log), "%s/redis.log", dir);
	if (tcp) {
		r->port = free_port();
		if (r->port < 0) {
			snprintf(err, errlen, "cannot find a free port: %s", strerror(-r->port));
			return r->port;
		}
	}
	snprintf(port_arg, sizeof(port_arg), "%d", tcp ? r->port : 0);
	const char *argv[32] = {binary,   "--port",    port_arg, "--bind", "127.0.0.1",
				"--save", "",          "--dir",  r->dir,   "--daemonize",
				"no",     "--logfile", ""};
	unsigned argc = 13;
	if (!tcp) {
		argv[argc++] = "--unixsocket";
		argv[argc++] = r->socket;
		argv[argc++] = "--unixsocketperm";
		argv[argc++] = "700";
	}
	argv[argc++] = "--appendonly";
	argv[argc++] = aof ? "yes" : "no";
	if (aof) {
		argv[argc++] = "--appendfsync";
		argv[argc++] = "always";
	}
	argv[argc] = NULL;

	int logfd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (logfd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s: %s", r->log, strerror(e));
		return -e;
	}
	pid_t parent = getpid();
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(err, errlen, "fork: %s", strerror(e));
		close(logfd);
		return -e;
	}
	if (pid == 0) {
		proc_reset_child();
		/* A benchmark killed half-way must not leave a server pinned to a core. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent) {
			_exit(1);
		}
		/* Pinned before exec: every thread redis-server starts inherits the CPU. */
		if (cpu >= 0) {
			cpu_set_t set;
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
		}
		int nullfd = open("/dev/null", O_RDONLY);
		if (nullfd >= 0) {
			dup2(nullfd, STDIN_FILENO);
		}
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execv(binary, (char *const *)argv);
		dprintf(STDERR_FILENO, "cairn-bench: cannot run %s: %s\n", binary, strerror(errno));
		_exit(127);
	}
	close(logfd);
	r->pid = pid;

	uint64_t deadline = cairn__now_ns() + READY_TIMEOUT_NS;
	for (;;) {
		int c = connect_once(r);
		if (c == 0 && redis_ping(r) == 0) {
			break;
		}
		if (r->ctx) {
			redisFree(r->ctx);
			r->ctx = NULL;
		}
		pid_t p = r->pid;
		int status = 0;
		if (proc_wait(&p, &status, 1, 0, 0) != -ETIMEDOUT) {
			char how[96];
			proc_describe(status, how, sizeof(how));
			snprintf(err, errlen,
				 "redis-server %s before accepting clients; its log is %s", how,
				 r->log);
			r->pid = 0;
			return -ECHILD;
		}
		if (cairn__now_ns() > deadline) {
			snprintf(err, errlen,
				 "redis-server did not answer PING within %.0f s; its "
				 "log is %s",
				 READY_TIMEOUT_NS / 1e9, r->log);
			proc_kill(r->pid);
			r->pid = 0;
			return -ETIMEDOUT;
		}
		struct timespec ts = {.tv_nsec = 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	char name[32];
	if (machine_thread_cpus(r->pid, r->pid, r->server_cpus, sizeof(r->server_cpus), name,
				sizeof(name)) < 0) {
		snprintf(r->server_cpus, sizeof(r->server_cpus), "unknown");
	}
	return 0;
#endif
}

int redis_stop(struct redis_base *r, char *err, size_t errlen)
{
#if CAIRN_HAVE_HIREDIS
	if (r->ctx) {
		redisFree(r->ctx);
		r->ctx = NULL;
	}
#endif
	if (r->pid <= 0) {
		return 0;
	}
	pid_t p = r->pid;
	int status = 0;
	kill(p, SIGTERM);
	int w = proc_wait(&p, &status, 1, cairn__now_ns() + STOP_TIMEOUT_NS, 0);
	if (w == -ETIMEDOUT) {
		proc_kill(r->pid);
	}
	r->pid = 0;
	if (w < 0) {
		snprintf(err, errlen, "redis-server did not exit within %.0f s of SIGTERM",
			 STOP_TIMEOUT_NS / 1e9);
		return w;
	}
	if (status != 0) {
		char how[96];
		proc_describe(status, how, sizeof(how));
		snprintf(err, errlen, "redis-server %s after SIGTERM; its log is %s", how, r->log);
		return -ECHILD;
	}
	return 0;
}

#if CAIRN_HAVE_HIREDIS
/* Checks a reply of type want and frees it. Returns 0, -EIO (connection) or -EPROTO. */
static int check(redisReply *rep, int want)
{
	if (!rep) {
		return -EIO;
	}
	int r = rep->type == want ? 0 : -EPROTO;
	freeReplyObject(rep);
	return r;
}

/* The text of a coordinate: seven decimals of a degree are about a centimetre. */
static void coord(char *buf, size_t len, double v, size_t *n)
{
	*n = (size_t)snprintf(buf, len, "%.7f", v);
}
#endif

int redis_ping(struct redis_base *r)
{
#if CAIRN_HAVE_HIREDIS
	static const char *argv[] = {"PING"};
	static const size_t lens[] = {4};
	redisReply *rep = redisCommandArgv(r->ctx, 1, argv, lens);
	if (rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") != 0) {
		freeReplyObject(rep);
		return -EPROTO;
	}
	return check(rep, REDIS_REPLY_STATUS);
#else
	(void)r;
	return -ENOTSUP;
#endif
}

int redis_geoadd(struct redis_base *r, const char *key, double lon, double lat, const char *member)
{
#if CAIRN_HAVE_HIREDIS
	char x[32], y[32];
	const char *argv[] = {"GEOADD", key, x, y, member};
	size_t lens[] = {6, strlen(key), 0, 0, strlen(member)};
	coord(x, sizeof(x), lon, &lens[2]);
	coord(y, sizeof(y), lat, &lens[3]);
	return check(redisCommandArgv(r->ctx, 5, argv, lens), REDIS_REPLY_INTEGER);
#else
	(void)r, (void)key, (void)lon, (void)lat, (void)member;
	return -ENOTSUP;
#endif
}

int redis_geosearch(struct redis_base *r, const char *key, double lon, double lat, double radius_m,
		    unsigned count, unsigned *found)
{
#if CAIRN_HAVE_HIREDIS
	char x[32], y[32], rad[32], cnt[16];
	const char *argv[] = {"GEOSEARCH", key, "FROMLONLAT", x,       y,  "BYRADIUS",
			      rad,         "m", "ASC",        "COUNT", cnt};
	size_t lens[11];
	coord(x, sizeof(x), lon, &lens[3]);
	coord(y, sizeof(y), lat, &lens[4]);
	lens[6] = (size_t)snprintf(rad, sizeof(rad), "%.3f", radius_m);
	lens[10] = (size_t)snprintf(cnt, sizeof(cnt), "%u", count);
	for (unsigned i = 0; i < 11; i++) {
		if (i != 3 && i != 4 && i != 6 && i != 10) {
			lens[i] = strlen(argv[i]);
		}
	}
	redisReply *rep = redisCommandArgv(r->ctx, 11, argv, lens);
	if (rep && rep->type == REDIS_REPLY_ARRAY) {
		*found = (unsigned)rep->elements;
	}
	return check(rep, REDIS_REPLY_ARRAY);
#else
	(void)r, (void)key, (void)lon, (void)lat, (void)radius_m, (void)count, (void)found;
	return -ENOTSUP;
#endif
}

int redis_append_geoadd(struct redis_base *r, const char *key, double lon, double lat,
			const char *member)
{
#if CAIRN_HAVE_HIREDIS
	char x[32], y[32];
	const char *argv[] = {"GEOADD", key, x, y, member};
	size_t lens[] = {6, strlen(key), 0, 0, strlen(member)};
	coord(x, sizeof(x), lon, &lens[2]);
	coord(y, sizeof(y), lat, &lens[3]);
	return redisAppendCommandArgv(r->ctx, 5, argv, lens) == REDIS_OK ? 0 : -ENOMEM;
#else
	(void)r, (void)key, (void)lon, (void)lat, (void)member;
	return -ENOTSUP;
#endif
}

int redis_take_integer(struct redis_base *r)
{
#if CAIRN_HAVE_HIREDIS
	void *rep = NULL;
	if (redisGetReply(r->ctx, &rep) != REDIS_OK) {
		return -EIO;
	}
	return check(rep, REDIS_REPLY_INTEGER);
#else
	(void)r;
	return -ENOTSUP;
#endif
}

const char *redis_errstr(const struct redis_base *r)
{
#if CAIRN_HAVE_HIREDIS
	const redisContext *c = r->ctx;
	return c && c->err ? c->errstr : "a reply of an unexpected type";
#else
	(void)r;
	return "built without hiredis";
#endif
}
