/*
 * The observer handshake: a hello with CAIRN_HELLO_OBSERVE, a welcome with one
 * descriptor, the state segment, mapped read-only and checked before anything reads it.
 */
#include "client/observe.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "client/client.h"
#include "common/atomic.h"
#include "common/clock.h"

static int say(char *err, size_t errlen, int code, const char *fmt, const char *a)
{
	if (err && errlen) {
		snprintf(err, errlen, fmt, a, code < 0 ? cairn_strerror(code) : "");
	}
	return code;
}

int cairn__observe(const char *path, struct cairn__observed *o, char *err, size_t errlen)
{
	char def[108];
	memset(o, 0, sizeof(*o));
	if (!path) {
		if (cairn_default_socket_path(def, sizeof(def)) < 0) {
			return say(err, errlen, -ENAMETOOLONG,
				   "%s: the default socket path is too long%s", "cairn");
		}
		path = def;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		return say(err, errlen, -ENAMETOOLONG, "%s: socket path too long%s", path);
	}
	strcpy(sa.sun_path, path);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		return say(err, errlen, -errno, "%s: %s", path);
	}
	struct timeval tv = {5, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(s);
		return say(err, errlen, e, "no cairnd at %s: %s (is it running? --socket?)", path);
	}
	struct cairn_hello h;
	memset(&h, 0, sizeof(h));
	h.magic = CAIRN_HELLO_MAGIC;
	h.version_major = CAIRN_PROTO_MAJOR;
	h.version_minor = CAIRN_PROTO_MINOR;
	h.flags = CAIRN_HELLO_OBSERVE;
	h.client_pid = (uint32_t)getpid();
	if (send(s, &h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h)) {
		int e = -errno;
		close(s);
		return say(err, errlen, e ? e : -CAIRN_E_DISCONNECTED, "%s: sending the hello: %s",
			   path);
	}
	struct cairn_welcome w;
	int fd = -1;
	int r = cairn__recv_welcome(s, &w, &fd, 1);
	close(s);
	if (r < 0) {
		return say(err, errlen, r,
			   r == -CAIRN_E_VERSION || r == -CAIRN_E_HANDSHAKE || r == -ETIMEDOUT ||
					   r == -CAIRN_E_DISCONNECTED
				   ? "%s: no usable welcome from cairnd: %s"
				   : "%s: cairnd refused: %s",
			   path);
	}
	void *base;
	uint64_t size;
	r = cairn__map_whole(fd, false, &base, &size);
	close(fd);
	if (r < 0) {
		return say(err, errlen, r, "%s: cannot map the state segment: %s", path);
	}
	r = cairn__state_validate(base, size);
	if (r < 0) {
		munmap(base, (size_t)size);
		return say(err, errlen, r, "%s: the state segment is malformed: %s", path);
	}
	o->base = base;
	o->size = size;
	o->pid = (pid_t)((const struct cairn_state_header *)base)->daemon_pid;
	o->metrics_err = cairn__metrics_view(base, o->size, &o->metrics);
	return 0;
}

void cairn__observe_close(struct cairn__observed *o)
{
	if (o->base) {
		munmap((void *)o->base, (size_t)o->size);
		o->base = NULL;
	}
}

int cairn__observe_alive(const struct cairn__observed *o, uint64_t stale_ns)
{
	const struct cairn_state_header *h = o->base;
	if (kill(o->pid, 0) < 0 && errno == ESRCH) {
		return 0;
	}
	uint32_t st = cairn__load_acquire(&h->daemon_state);
	if (st == CAIRN_DAEMON_STOPPED) {
		return 0;
	}
	uint64_t beat = cairn__load_acquire(&h->heartbeat_ns);
	uint64_t now = cairn__now_ns();
	return now < beat || now - beat < stale_ns;
}
