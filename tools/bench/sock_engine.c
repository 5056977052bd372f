#include "sock_engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "engine/engine.h"
#include "machine.h"
#include "map/map.h"
#include "proc.h"

#define MSG_BYTES  ((uint32_t)sizeof(struct cairn_msg))
#define MAX_FRAMES (SOCK_ENGINE_RBUF / SOCK_ENGINE_FRAME)

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

/* ---- the server ---- */

/* An answer the server makes itself, with the request's id. */
static void answer(const struct cairn_msg *cmd, uint16_t type, uint8_t length, int32_t status,
		   struct cairn_msg *out)
{
	memset(out, 0, sizeof(*out));
	out->hdr.type = type;
	out->hdr.length = length;
	out->hdr.status = status;
	out->hdr.request_id = cmd->hdr.request_id;
}

/* Answers one command, as cairnd's handlers would. */
static void handle(struct cairn__engine *e, const struct cairn_msg *cmd, uint64_t ingress_ns,
		   struct cairn_msg *out)
{
	if (cairn__engine_serves(cmd->hdr.type)) {
		cairn__engine_apply(e, cmd, ingress_ns, NULL, out);
		return;
	}
	if (cmd->hdr.type == CAIRN_MSG_PING) {
		struct cairn_ping p;
		struct cairn_pong q;
		memcpy(&p, cmd->payload, sizeof(p));
		memset(&q, 0, sizeof(q));
		q.client_stamp = p.client_stamp;
		q.ingress_ns = ingress_ns;
		answer(cmd, CAIRN_MSG_PONG, CAIRN_MSG_PONG_LEN_MIN, 0, out);
		memcpy(out->payload, &q, sizeof(q));
		return;
	}
	struct cairn_error_info ei;
	memset(&ei, 0, sizeof(ei));
	ei.request_type = cmd->hdr.type;
	answer(cmd, CAIRN_MSG_ERROR, CAIRN_MSG_ERROR_LEN_MIN, CAIRN_E_UNKNOWN_TYPE, out);
	memcpy(out->payload, &ei, sizeof(ei));
}

/*
 * The server process: serves frames until the peer closes (exit 0). A frame that is not
 * one cairn_msg is input from another process, answered by closing: exit 1.
 */
static int serve(int fd, int cpu)
{
	static uint8_t in[SOCK_ENGINE_RBUF], out[SOCK_ENGINE_RBUF];
	struct cairn__map *map = NULL;
	struct cairn__engine *e = NULL;
	struct cairn__engine_config cfg;
	/* The engine keeps a pointer to this array: it must live as long as the engine. */
	const struct cairn__map *maps[1];
	if (cpu >= 0 && machine_pin_self(cpu) < 0) {
		fprintf(stderr, "cairn-bench: socket server: cannot pin to CPU %d\n", cpu);
		return 2;
	}
	int r = cairn__map_default(&map);
	if (r == 0) {
		maps[0] = map;
		cairn__engine_config_default(&cfg);
		cfg.maps = maps;
		cfg.n_maps = 1;
		r = cairn__engine_new(&cfg, NULL, NULL, NULL, &e);
	}
	if (r < 0) {
		fprintf(stderr, "cairn-bench: socket server: cannot create the engine: %d\n", r);
		return 2;
	}
	size_t have = 0;
	int status = 0;
	for (;;) {
		ssize_t n = read(fd, in + have, sizeof(in) - have);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			/* The end of the stream between frames is the client leaving. */
			status = n == 0 && have == 0 ? 0 : 1;
			break;
		}
		have += (size_t)n;
		/* One stamp per batch, as cairnd stamps what one turn takes from a ring. */
		uint64_t now = cairn__now_ns();
		size_t off = 0, nout = 0;
		while (have - off >= 4) {
			uint32_t len;
			memcpy(&len, in + off, 4);
			if (len != MSG_BYTES) {
				fprintf(stderr,
					"cairn-bench: socket server: a frame of %u bytes, not %u\n",
					len, MSG_BYTES);
				status = 1;
				goto out;
			}
			if (have - off < SOCK_ENGINE_FRAME) {
				break;
			}
			struct cairn_msg cmd, res;
			memcpy(&cmd, in + off + 4, sizeof(cmd));
			handle(e, &cmd, now, &res);
			memcpy(out + nout, &len, 4);
			memcpy(out + nout + 4, &res, sizeof(res));
			nout += SOCK_ENGINE_FRAME;
			off += SOCK_ENGINE_FRAME;
		}
		if (nout && write_full(fd, out, nout) < 0) {
			status = 1;
			break;
		}
		/* A partial frame moves to the front; it is shorter than one frame. */
		memmove(in, in + off, have - off);
		have -= off;
	}
out:
	cairn__engine_free(e);
	cairn__map_free(map);
	return status;
}

/* ---- the client ---- */

int sock_engine_start(struct sock_engine *s, int cpu, char *err, size_t errlen)
{
	int sv[2], r;
	s->pid = 0;
	s->fd = -1;
	s->roff = s->rhave = 0;
	snprintf(s->server_cpus, sizeof(s->server_cpus), "unknown");
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
	s->pid = pid;
	s->fd = sv[0];
	return 0;
}

int sock_engine_send(struct sock_engine *s, const struct cairn_msg *cmds, unsigned n)
{
	static uint8_t buf[MAX_FRAMES * SOCK_ENGINE_FRAME];
	uint32_t len = MSG_BYTES;
	while (n > 0) {
		unsigned k = n < MAX_FRAMES ? n : (unsigned)MAX_FRAMES;
		for (unsigned i = 0; i < k; i++) {
			memcpy(buf + i * SOCK_ENGINE_FRAME, &len, 4);
			memcpy(buf + i * SOCK_ENGINE_FRAME + 4, &cmds[i], sizeof(cmds[i]));
		}
		int r = write_full(s->fd, buf, k * SOCK_ENGINE_FRAME);
		if (r < 0) {
			return r;
		}
		cmds += k;
		n -= k;
	}
	return 0;
}

/* Takes the whole frames buffered, up to max. Returns how many, or -EBADMSG. */
static int take(struct sock_engine *s, struct cairn_msg *res, unsigned max)
{
	unsigned got = 0;
	while (got < max && s->rhave - s->roff >= SOCK_ENGINE_FRAME) {
		uint32_t len;
		memcpy(&len, s->rbuf + s->roff, 4);
		if (len != MSG_BYTES) {
			return -EBADMSG;
		}
		memcpy(&res[got++], s->rbuf + s->roff + 4, sizeof(res[0]));
		s->roff += SOCK_ENGINE_FRAME;
	}
	return (int)got;
}

int sock_engine_recv(struct sock_engine *s, struct cairn_msg *res, unsigned max)
{
	for (;;) {
		int got = take(s, res, max);
		if (got != 0) {
			return got;
		}
		/* Less than a frame is left: move it to the front and read more after it. */
		memmove(s->rbuf, s->rbuf + s->roff, s->rhave - s->roff);
		s->rhave -= s->roff;
		s->roff = 0;
		ssize_t n = read(s->fd, s->rbuf + s->rhave, sizeof(s->rbuf) - s->rhave);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		if (n == 0) {
			return -EPIPE;
		}
		s->rhave += (size_t)n;
	}
}

int sock_engine_call(struct sock_engine *s, const struct cairn_msg *cmd, struct cairn_msg *res)
{
	uint8_t frame[SOCK_ENGINE_FRAME];
	uint32_t len = MSG_BYTES;
	memcpy(frame, &len, 4);
	memcpy(frame + 4, cmd, sizeof(*cmd));
	int r = write_full(s->fd, frame, sizeof(frame));
	if (r < 0) {
		return r;
	}
	r = sock_engine_recv(s, res, 1);
	return r < 0 ? r : 0;
}

int sock_engine_stop(struct sock_engine *s, char *err, size_t errlen)
{
	int status = 0;
	if (s->pid <= 0) {
		return 0;
	}
	char name[32];
	if (machine_thread_cpus(s->pid, s->pid, s->server_cpus, sizeof(s->server_cpus), name,
				sizeof(name)) < 0) {
		snprintf(s->server_cpus, sizeof(s->server_cpus), "unknown");
	}
	/* Closing our end is the server's end of file: it exits 0. */
	close(s->fd);
	s->fd = -1;
	pid_t p = s->pid;
	int w = proc_wait(&p, &status, 1, cairn__now_ns() + 5000000000ull, 0);
	if (w == -ETIMEDOUT) {
		proc_kill(s->pid);
	}
	s->pid = 0;
	if (w < 0) {
		snprintf(err, errlen, "the socket server did not exit: %s", strerror(-w));
		return -ECHILD;
	}
	if (status != 0) {
		char how[96];
		proc_describe(status, how, sizeof(how));
		snprintf(err, errlen, "the socket server %s", how);
		return -ECHILD;
	}
	return 0;
}
