/*
 * The socket baseline of cairn-bench baselines: the same game engine cairnd runs,
 * served over a Unix SOCK_STREAM socket instead of shared-memory rings, so that the
 * only difference from cairn is the transport.
 *
 * The server is a forked child, pinned where cairnd's apply thread would run, that
 * embeds its own engine (private memory, the embedded default map) and answers a
 * length-prefixed protocol: every frame is a u32 length (host order) followed by that
 * many bytes, one struct cairn_msg of 56 bytes, and every answer is framed the same
 * way. It is written as such a server is written well: one thread, blocking reads into
 * a large buffer so that pipelined frames are taken in batches, and the answers to a
 * batch written back with one write. PING is answered without the engine, as cairnd
 * answers it; the engine's commands go to cairn__engine_apply; anything else is an
 * ERROR (UNKNOWN_TYPE).
 */
#ifndef CAIRN_BENCH_SOCK_ENGINE_H
#define CAIRN_BENCH_SOCK_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn/protocol.h"

#define SOCK_ENGINE_FRAME (4 + sizeof(struct cairn_msg))
#define SOCK_ENGINE_RBUF  (64u << 10)

/* The client's end of a running server. */
struct sock_engine {
	pid_t pid;
	int fd;
	char server_cpus[64]; /* where the server may run, read back from /proc */
	/* The buffered reader: answers [roff, rhave) of rbuf are not taken yet. */
	size_t roff, rhave;
	uint8_t rbuf[SOCK_ENGINE_RBUF];
};

/*
 * Forks a server pinned to cpu (-1: not pinned) on one end of a new socketpair and
 * keeps the other in s. Returns 0, or -errno with err.
 */
int sock_engine_start(struct sock_engine *s, int cpu, char *err, size_t errlen);

/*
 * Sends the n commands of cmds as n frames with one write. Returns 0 or -errno
 * (-EPIPE when the server went away).
 */
int sock_engine_send(struct sock_engine *s, const struct cairn_msg *cmds, unsigned n);

/*
 * Takes between 1 and max answers into res: those already read, or else what one
 * blocking read brings (reading again only while not even one whole frame came).
 * Returns how many, or -errno: -EPIPE when the server closed, -EBADMSG for a frame
 * that is not one cairn_msg.
 */
int sock_engine_recv(struct sock_engine *s, struct cairn_msg *res, unsigned max);

/* One round trip: sends cmd and waits for its answer. Returns 0 or -errno as above. */
int sock_engine_call(struct sock_engine *s, const struct cairn_msg *cmd, struct cairn_msg *res);

/*
 * Closes the connection, which ends the server, and waits for it. Returns 0, or
 * -ECHILD with err when it did not exit 0 (it says why on stderr).
 */
int sock_engine_stop(struct sock_engine *s, char *err, size_t errlen);

#endif
