/*
 * The Redis baseline of cairn-bench baselines: a private redis-server, started for the
 * run in a directory of its own and pinned where cairnd's apply thread would run, and
 * a hiredis client of it. The game's closest equivalents in Redis are GEOADD for a
 * MOVE (a player's position in the hunt's geo set) and GEOSEARCH for NEAREST_CLUES.
 *
 * hiredis is optional at build time: without it (CAIRN_HAVE_HIREDIS unset) every
 * function here says so and nothing is measured.
 */
#ifndef CAIRN_BENCH_REDIS_BASE_H
#define CAIRN_BENCH_REDIS_BASE_H

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct redis_base {
	pid_t pid;
	int cpu;              /* where it was pinned, or -1 */
	bool tcp;             /* loopback TCP on port, else the Unix socket */
	int port;             /* the TCP port, when tcp */
	char dir[160];        /* its --dir, also holding its socket and log */
	char socket[108];     /* its Unix socket */
	char log[192];        /* its stdout and stderr */
	char server_cpus[64]; /* where its main thread may run, read back from /proc */
	void *ctx;            /* the hiredis context */
};

/*
 * Whether the Redis baseline can run here: this program was built with hiredis and a
 * redis-server is found (flag_path, else redis-server on $PATH). Returns true with
 * binary filled, else false with why.
 */
bool redis_available(const char *flag_path, char *binary, size_t len, char *why, size_t whylen);

/*
 * Starts redis-server binary in directory dir (created; its name must be short enough
 * for a socket path in it), pinned to cpu (-1: not pinned), without snapshots and
 * either without an append-only file or, with aof, with appendfsync always; listening
 * on the Unix socket dir/redis.sock or, with tcp, on 127.0.0.1 at a free port. Connects
 * once it answers PING. Returns 0, or -errno with err.
 */
int redis_start(struct redis_base *r, const char *binary, const char *dir, bool aof, bool tcp,
		int cpu, char *err, size_t errlen);

/* Disconnects and stops it with SIGTERM; it must exit 0. Returns 0 or -errno with err. */
int redis_stop(struct redis_base *r, char *err, size_t errlen);

/* One round trip of PING (PONG expected). Returns 0 or -errno (-EPROTO: a wrong reply). */
int redis_ping(struct redis_base *r);

/* One round trip of GEOADD key lon lat member (an integer reply expected). */
int redis_geoadd(struct redis_base *r, const char *key, double lon, double lat, const char *member);

/*
 * One round trip of GEOSEARCH key FROMLONLAT lon lat BYRADIUS radius_m m ASC COUNT
 * count; *found gets how many members came back.
 */
int redis_geosearch(struct redis_base *r, const char *key, double lon, double lat, double radius_m,
		    unsigned count, unsigned *found);

/* Queues GEOADD key lon lat member in the client's output buffer (pipelining). */
int redis_append_geoadd(struct redis_base *r, const char *key, double lon, double lat,
			const char *member);

/*
 * Takes the next reply of the pipeline, flushing what is queued first when none is
 * buffered (hiredis's redisGetReply), and checks that it is an integer.
 */
int redis_take_integer(struct redis_base *r);

/* The last error of the connection, for messages. */
const char *redis_errstr(const struct redis_base *r);

#endif
