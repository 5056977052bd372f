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
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cairn/cairn.h"
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
			return say(err, errlen, -ENAMETOOLONG, "%s: the default socket path is too long%s",
				   "cairn");
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
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	ssize_t n;
	do {
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	} while (n < 0 && errno == EINTR);
	int e = n < 0 ? -errno : 0;
	close(s);
	int fd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int got[2] = {-1, -1};
			memcpy(got, CMSG_DATA(c), (k > 2 ? 2 : k) * sizeof(int));
			for (size_t i = 0; i < k && i < 2; i++) {
				if (fd < 0) {
					fd = got[i];
				} else {
					close(got[i]);
				}
			}
		}
	}
	if (n != (ssize_t)sizeof(w) || w.magic != CAIRN_WELCOME_MAGIC) {
		if (fd >= 0) {
			close(fd);
		}
		return say(err, errlen, e ? e : -CAIRN_E_HANDSHAKE, "%s: no welcome from cairnd: %s",
			   path);
	}
	if (w.version_major != CAIRN_PROTO_MAJOR || w.status != 0 || fd < 0) {
		int code = w.version_major != CAIRN_PROTO_MAJOR ? -CAIRN_E_VERSION
			   : w.status			 ? -w.status
							 : -CAIRN_E_HANDSHAKE;
		if (fd >= 0) {
			close(fd);
		}
		return say(err, errlen, code, "%s: cairnd refused: %s", path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return say(err, errlen, -CAIRN_E_LAYOUT, "%s: the state segment is empty%s", path);
	}
	void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED) {
		return say(err, errlen, -errno, "%s: cannot map the state segment: %s", path);
	}
	int r = cairn__state_validate(base, (uint64_t)st.st_size);
	if (r < 0) {
		munmap(base, (size_t)st.st_size);
		return say(err, errlen, r, "%s: the state segment is malformed: %s", path);
	}
	o->base = base;
	o->size = (uint64_t)st.st_size;
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
