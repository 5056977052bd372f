/*
 * libcairn: attach, submit, poll, wait, call.
 *
 * Results arrive on one MPMC result ring that any thread of the host may pop. Two kinds
 * of callers share it: cairn_call waits for one particular result, cairn_poll and
 * cairn_wait take any result of a cairn_submit command. The request id says which kind
 * a result belongs to (CAIRN_CALL_ID_BIT), so whoever pops a result that is not theirs
 * hands it over, in process-private memory, to the kind it belongs to:
 *  - call results go to the mailbox, where the waiting cairn_call finds it by id;
 *  - submit results go to the poll queue, which cairn_poll and cairn_wait read first.
 * The hand-over then rings the result doorbell so that a sleeping owner wakes. The
 * common case, one thread popping its own result, takes no lock.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "client/client.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "shm/doorbell.h"
#include "shm/ring.h"
#include "shm/segment.h"

#define DEFAULT_SPIN_NS	    (50 * 1000)
#define YIELD_NS	    (200 * 1000)
#define SLEEP_SLICE_NS	    (50 * 1000 * 1000) /* check the socket at least this often */
#define HANDSHAKE_TIMEOUT_S 5

static int list_push(struct cairn__msg_list *l, const struct cairn_msg *m)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct cairn_msg *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *m;
	return 0;
}

static void list_remove(struct cairn__msg_list *l, size_t i)
{
	memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(l->v[0]));
	l->n--;
}

/* ---- attach ---- */

static int send_hello(int sock, const struct cairn_open_options *o)
{
	struct cairn_hello h;
	memset(&h, 0, sizeof(h));
	h.magic = CAIRN_HELLO_MAGIC;
	h.version_major = CAIRN_PROTO_MAJOR;
	h.version_minor = CAIRN_PROTO_MINOR;
	h.client_pid = (uint32_t)getpid();
	h.cmd_capacity = o->cmd_capacity;
	h.res_capacity = o->res_capacity;
	h.blob_size = o->blob_size;
	const char *name = o->name ? o->name : program_invocation_short_name;
	strncpy((char *)h.name, name ? name : "", sizeof(h.name) - 1);
	ssize_t n;
	do {
		n = send(sock, &h, sizeof(h), MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return -errno;
	}
	return n == (ssize_t)sizeof(h) ? 0 : -CAIRN_E_HANDSHAKE;
}

/* Receives the welcome and, when it says yes, the state and lane descriptors. */
static int recv_welcome(int sock, struct cairn_welcome *w, int fds[2])
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = w, .iov_len = sizeof(*w)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf)};
	ssize_t n;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	}
	int nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int got[4];
			memcpy(got, CMSG_DATA(c), (k > 4 ? 4 : k) * sizeof(int));
			for (size_t i = 0; i < k && i < 4; i++) {
				if (nfds < 2) {
					fds[nfds++] = got[i];
				} else {
					close(got[i]);
				}
			}
		}
	}
	if (n == 0) {
		return -CAIRN_E_DISCONNECTED;
	}
	if (n != (ssize_t)sizeof(*w) || w->magic != CAIRN_WELCOME_MAGIC) {
		goto bad;
	}
	if (w->version_major != CAIRN_PROTO_MAJOR) {
		for (int i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return -CAIRN_E_VERSION;
	}
	if (w->status != 0) {
		for (int i = 0; i < nfds; i++) {
			close(fds[i]);
		}
		return w->status > 0 ? -w->status : -CAIRN_E_HANDSHAKE;
	}
	if (nfds != 2) {
		goto bad;
	}
	return 0;
bad:
	for (int i = 0; i < nfds; i++) {
		close(fds[i]);
	}
	return -CAIRN_E_HANDSHAKE;
}

/* Maps a whole segment received from the daemon, refusing absurd sizes before mmap. */
static int map_whole(int fd, bool writable, void **base, uint64_t *size)
{
	int r = cairn__fd_size(fd, size);
	if (r < 0) {
		return r;
	}
	if (*size == 0 || *size > (UINT64_C(1) << 40)) {
		return -CAIRN_E_LAYOUT;
	}
	return cairn__map(fd, *size, writable, base);
}

static int map_segments(cairn_client *c, int state_fd, int lane_fd)
{
	struct cairn__lane_layout l;
	int r = map_whole(state_fd, false, &c->state, &c->state_size);
	if (r < 0) {
		return r;
	}
	r = cairn__state_validate(c->state, c->state_size);
	if (r < 0) {
		return r;
	}
	r = map_whole(lane_fd, true, &c->lane, &c->lane_size);
	if (r < 0) {
		return r;
	}
	r = cairn__lane_validate(c->lane, c->lane_size, &l);
	if (r < 0) {
		return r;
	}
	cairn__ring_attach(&c->cmd, (char *)c->lane + l.cmd_offset, l.cmd_capacity);
	cairn__ring_attach(&c->res, (char *)c->lane + l.res_offset, l.res_capacity);
	c->blob = (uint8_t *)c->lane + l.blob_offset;
	c->blob_size = l.blob_size;
	return 0;
}

CAIRN_API int cairn_open(const char *socket_path, const struct cairn_open_options *opts,
			 cairn_client **out)
{
	struct cairn_open_options o = {0};
	char pathbuf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fds[2] = {-1, -1};
	int r;

	if (!out) {
		return -EINVAL;
	}
	*out = NULL;
	if (opts) {
		o = *opts;
	}
	if (!socket_path) {
		r = cairn_default_socket_path(pathbuf, sizeof(pathbuf));
		if (r < 0) {
			return r;
		}
		socket_path = pathbuf;
	}
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, socket_path);

	cairn_client *c = calloc(1, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	c->spin_ns = o.spin_us ? (uint64_t)o.spin_us * 1000 : DEFAULT_SPIN_NS;
	c->next_id = 1;
	pthread_mutex_init(&c->lock, NULL);
	cairn__slices_init(c);
	c->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->sock < 0) {
		r = -errno;
		goto fail;
	}
	struct timeval tv = {.tv_sec = HANDSHAKE_TIMEOUT_S};
	setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	r = send_hello(c->sock, &o);
	if (r < 0) {
		goto fail;
	}
	struct cairn_welcome w;
	r = recv_welcome(c->sock, &w, fds);
	if (r < 0) {
		goto fail;
	}
	c->lane_id = w.lane_id;
	c->client_id = w.client_id;
	r = map_segments(c, fds[0], fds[1]);
	/* The mappings keep the memory; the descriptors are not needed any more. */
	close(fds[0]);
	close(fds[1]);
	if (r < 0) {
		goto fail;
	}
	cairn__grid_attach(c);
	cairn__events_attach(c);
	*out = c;
	return 0;
fail:
	cairn_close(c);
	return r;
}

CAIRN_API void cairn_close(cairn_client *c)
{
	if (!c) {
		return;
	}
	if (c->sock >= 0) {
		close(c->sock);
	}
	if (c->state) {
		munmap(c->state, (size_t)c->state_size);
	}
	if (c->lane) {
		munmap(c->lane, (size_t)c->lane_size);
	}
	free(c->mailbox.v);
	free(c->pollq.v);
	free(c->abandoned);
	pthread_mutex_destroy(&c->lock);
	cairn__slices_fini(c);
	free(c);
}

/* ---- liveness ---- */

static int dead_code(cairn_client *c)
{
	const struct cairn_lane_header *h = c->lane;
	/* Relaxed: the daemon writes the state before closing the socket we saw close. */
	return cairn__load_relaxed(&h->lane_state) == CAIRN_LANE_DROPPED ? -CAIRN_E_LANE_DROPPED
									 : -CAIRN_E_DISCONNECTED;
}

CAIRN_API int cairn_check(cairn_client *c)
{
	/* Relaxed: dead only ever goes from 0 to a code; a late reader just asks the socket. */
	int d = cairn__load_relaxed(&c->dead);
	if (d) {
		return d;
	}
	/* The daemon never writes to the socket after the welcome: readable means closed. */
	struct pollfd p = {.fd = c->sock, .events = POLLIN};
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
		d = dead_code(c);
		cairn__store_relaxed(&c->dead, d);
		return d;
	}
	return 0;
}

/* ---- submitting ---- */

static int check_cmd(struct cairn_msg *m, bool call)
{
	if (m->hdr.length > CAIRN_PAYLOAD_SIZE) {
		return -EINVAL;
	}
	if (!call && (m->hdr.request_id & CAIRN_CALL_ID_BIT)) {
		return -EINVAL;
	}
	return 0;
}

static uint64_t fresh_id(cairn_client *c)
{
	/* Relaxed: only uniqueness matters, and the RMW gives it without ordering. */
	return cairn__add_relaxed(&c->next_id, 1) & ~CAIRN_CALL_ID_BIT;
}

CAIRN_API int cairn_msg_init(struct cairn_msg *m, uint16_t type, uint8_t length)
{
	if (length > CAIRN_PAYLOAD_SIZE) {
		return -EINVAL;
	}
	memset(m, 0, sizeof(*m));
	m->hdr.type = type;
	m->hdr.length = length;
	return 0;
}

/* Wakes the daemon if its apply thread sleeps on this lane's doorbell. */
static inline void ring_daemon(cairn_client *c)
{
	cairn__doorbell_ring(&c->cmd.hdr->bell);
}

CAIRN_API int cairn_submit(cairn_client *c, struct cairn_msg *cmd)
{
	int r = check_cmd(cmd, false);
	if (r < 0) {
		return r;
	}
	r = cairn__load_relaxed(&c->dead);
	if (r) {
		return r;
	}
	if (cmd->hdr.request_id == 0) {
		cmd->hdr.request_id = fresh_id(c);
	}
	if (!cairn__ring_try_push(&c->cmd, cmd)) {
		r = cairn_check(c);
		return r ? r : -EAGAIN;
	}
	ring_daemon(c);
	return 0;
}

CAIRN_API int cairn_submit_batch(cairn_client *c, struct cairn_msg *cmds, unsigned n)
{
	int r = cairn__load_relaxed(&c->dead);
	if (r) {
		return r;
	}
	for (unsigned i = 0; i < n; i++) {
		r = check_cmd(&cmds[i], false);
		if (r < 0) {
			return r;
		}
		if (cmds[i].hdr.request_id == 0) {
			cmds[i].hdr.request_id = fresh_id(c);
		}
	}
	unsigned k = cairn__ring_push_batch(&c->cmd, cmds, n);
	if (k == 0 && n > 0) {
		r = cairn_check(c);
		return r ? r : 0;
	}
	ring_daemon(c);
	return (int)k;
}

/* ---- receiving ---- */

/*
 * Hands a popped result to the kind of caller it belongs to and wakes sleepers.
 * Returns 0 or -ENOMEM (the result is then lost; the caller reports the error).
 */
static int route(cairn_client *c, const struct cairn_msg *m)
{
	int r = 0;
	pthread_mutex_lock(&c->lock);
	if (m->hdr.request_id & CAIRN_CALL_ID_BIT) {
		size_t i;
		for (i = 0; i < c->nabandoned; i++) {
			if (c->abandoned[i] == m->hdr.request_id) {
				break;
			}
		}
		if (i < c->nabandoned) {
			c->abandoned[i] = c->abandoned[--c->nabandoned];
		} else {
			r = list_push(&c->mailbox, m);
			/*
			 * Release, paired with the lock-free acquire in take_mailbox and
			 * call_ready: a waiter that sees the count goes on to take the lock.
			 */
			cairn__store_release(&c->mailbox_count, c->mailbox.n);
		}
	} else {
		r = list_push(&c->pollq, m);
		/* Release, paired with the acquire in take_pollq and submit_ready. */
		cairn__store_release(&c->pollq_count, c->pollq.n);
	}
	pthread_mutex_unlock(&c->lock);
	/* The owner may be asleep on the result doorbell: the hand-over is its wake-up. */
	cairn__doorbell_ring(&c->res.hdr->bell);
	return r;
}

/* Takes the first queued submit result, if any. */
static bool take_pollq(cairn_client *c, struct cairn_msg *res)
{
	/* A lock-free peek; the list itself is read under the lock. */
	if (cairn__load_acquire(&c->pollq_count) == 0) {
		return false;
	}
	bool got = false;
	pthread_mutex_lock(&c->lock);
	if (c->pollq.n) {
		*res = c->pollq.v[0];
		list_remove(&c->pollq, 0);
		cairn__store_release(&c->pollq_count, c->pollq.n);
		got = true;
	}
	pthread_mutex_unlock(&c->lock);
	return got;
}

/* Takes the mailbox entry for call id, if it has arrived. */
static bool take_mailbox(cairn_client *c, uint64_t id, struct cairn_msg *res)
{
	/* A lock-free peek; the list itself is read under the lock. */
	if (cairn__load_acquire(&c->mailbox_count) == 0) {
		return false;
	}
	bool got = false;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->mailbox.n; i++) {
		if (c->mailbox.v[i].hdr.request_id == id) {
			*res = c->mailbox.v[i];
			list_remove(&c->mailbox, i);
			cairn__store_release(&c->mailbox_count, c->mailbox.n);
			got = true;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return got;
}

CAIRN_API int cairn_poll(cairn_client *c, struct cairn_msg *res)
{
	if (take_pollq(c, res)) {
		return 0;
	}
	struct cairn_msg m;
	while (cairn__ring_try_pop(&c->res, &m)) {
		if (!(m.hdr.request_id & CAIRN_CALL_ID_BIT)) {
			*res = m;
			return 0;
		}
		int r = route(c, &m);
		if (r < 0) {
			return r;
		}
	}
	int d = cairn__load_relaxed(&c->dead);
	return d ? d : -EAGAIN;
}

CAIRN_API int cairn_poll_batch(cairn_client *c, struct cairn_msg *res, unsigned n)
{
	unsigned k = 0;
	while (k < n && take_pollq(c, &res[k])) {
		k++;
	}
	while (k < n) {
		unsigned got = cairn__ring_pop_batch(&c->res, &res[k], n - k);
		if (got == 0) {
			break;
		}
		/* Keep submit results in place; route call results away. */
		unsigned w = k;
		for (unsigned i = k; i < k + got; i++) {
			if (res[i].hdr.request_id & CAIRN_CALL_ID_BIT) {
				int r = route(c, &res[i]);
				if (r < 0) {
					return r;
				}
			} else {
				res[w++] = res[i];
			}
		}
		k = w;
	}
	if (k == 0) {
		int d = cairn__load_relaxed(&c->dead);
		if (d) {
			return d;
		}
	}
	return (int)k;
}

/*
 * Sleeps on the result doorbell until something may have changed, for at most one
 * slice and never past the deadline (0: none). ready() is re-checked after announcing
 * the sleeper, as the doorbell protocol requires. Returns 0, -ETIMEDOUT, or a
 * disconnection code.
 */
static int sleep_on_results(cairn_client *c, uint64_t deadline, bool (*ready)(cairn_client *))
{
	struct cairn_doorbell *b = &c->res.hdr->bell;
	int64_t t = SLEEP_SLICE_NS;
	if (deadline) {
		uint64_t now = cairn__now_ns();
		if (now >= deadline) {
			return -ETIMEDOUT;
		}
		if (deadline - now < (uint64_t)t) {
			t = (int64_t)(deadline - now);
		}
	}
	uint32_t v = cairn__doorbell_prepare(b);
	if (!ready(c)) {
		cairn__futex_wait(&b->word, v, t);
	}
	cairn__doorbell_cancel(b);
	return cairn_check(c);
}

static bool submit_ready(cairn_client *c)
{
	return cairn__load_acquire(&c->pollq_count) || cairn__ring_readable(&c->res);
}

static bool call_ready(cairn_client *c)
{
	return cairn__load_acquire(&c->mailbox_count) || cairn__ring_readable(&c->res);
}

static uint64_t deadline_of(int64_t timeout_ns)
{
	return timeout_ns < 0 ? 0 : cairn__now_ns() + (uint64_t)timeout_ns + 1;
}

CAIRN_API int cairn_wait(cairn_client *c, struct cairn_msg *res, int64_t timeout_ns)
{
	uint64_t deadline = deadline_of(timeout_ns);
	struct cairn__idle idle;
	cairn__idle_init(&idle, c->spin_ns, YIELD_NS);
	for (;;) {
		int r = cairn_poll(c, res);
		if (r != -EAGAIN) {
			return r;
		}
		if (cairn__idle_step(&idle)) {
			r = sleep_on_results(c, deadline, submit_ready);
			if (r < 0) {
				return r;
			}
		} else if (deadline && (idle.n & 63) == 0 && cairn__now_ns() >= deadline) {
			return -ETIMEDOUT;
		}
	}
}

/* Records that call id gave up, so its late result is dropped, unless it is here. */
static int abandon(cairn_client *c, uint64_t id, struct cairn_msg *res)
{
	int r = -ETIMEDOUT;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->mailbox.n; i++) {
		if (c->mailbox.v[i].hdr.request_id == id) {
			*res = c->mailbox.v[i];
			list_remove(&c->mailbox, i);
			cairn__store_release(&c->mailbox_count, c->mailbox.n);
			r = 0;
			break;
		}
	}
	if (r != 0) {
		if (c->nabandoned == c->abandoned_cap) {
			size_t cap = c->abandoned_cap ? c->abandoned_cap * 2 : 16;
			uint64_t *v = realloc(c->abandoned, cap * sizeof(*v));
			if (v) {
				c->abandoned = v;
				c->abandoned_cap = cap;
			}
		}
		if (c->nabandoned < c->abandoned_cap) {
			c->abandoned[c->nabandoned++] = id;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

static int result_code(const struct cairn_msg *res)
{
	if (res->hdr.type == CAIRN_MSG_ERROR) {
		return res->hdr.status > 0 ? -res->hdr.status : -CAIRN_E_BAD_REPLY;
	}
	return 0;
}

CAIRN_API int cairn_call(cairn_client *c, struct cairn_msg *cmd, struct cairn_msg *res,
			 int64_t timeout_ns)
{
	int r = check_cmd(cmd, true);
	if (r < 0) {
		return r;
	}
	uint64_t deadline = deadline_of(timeout_ns);
	uint64_t id = fresh_id(c) | CAIRN_CALL_ID_BIT;
	struct cairn__idle idle;
	cmd->hdr.request_id = id;

	cairn__idle_init(&idle, c->spin_ns, YIELD_NS);
	while (!cairn__ring_try_push(&c->cmd, cmd)) {
		/*
		 * The ring is full. The daemon takes a command only when its result has room,
		 * so move results out of the way (to their owners) while we wait.
		 */
		struct cairn_msg m;
		while (cairn__ring_try_pop(&c->res, &m)) {
			r = route(c, &m);
			if (r < 0) {
				return r;
			}
		}
		r = cairn_check(c);
		if (r < 0) {
			return r;
		}
		if (deadline && cairn__now_ns() >= deadline) {
			return -ETIMEDOUT;
		}
		if (cairn__idle_step(&idle)) {
			struct timespec ts = {.tv_nsec = 50 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	ring_daemon(c);

	cairn__idle_init(&idle, c->spin_ns, YIELD_NS);
	for (;;) {
		struct cairn_msg m;
		if (cairn__ring_try_pop(&c->res, &m)) {
			if (m.hdr.request_id == id) {
				*res = m;
				return result_code(res);
			}
			r = route(c, &m);
			if (r < 0) {
				return r;
			}
			continue;
		}
		if (take_mailbox(c, id, res)) {
			return result_code(res);
		}
		r = cairn__load_relaxed(&c->dead);
		if (r == 0 && cairn__idle_step(&idle)) {
			r = sleep_on_results(c, deadline, call_ready);
		} else if (r == 0 && deadline && (idle.n & 63) == 0 &&
			   cairn__now_ns() >= deadline) {
			r = -ETIMEDOUT;
		}
		if (r < 0) {
			if (abandon(c, id, res) == 0) {
				return result_code(res);
			}
			return r;
		}
	}
}

CAIRN_API int cairn_ping(cairn_client *c, int64_t timeout_ns)
{
	struct cairn_msg m, res;
	cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
	int r = cairn_call(c, &m, &res, timeout_ns);
	if (r == 0 && res.hdr.type != CAIRN_MSG_PONG) {
		r = -CAIRN_E_BAD_REPLY;
	}
	return r;
}

CAIRN_API void *cairn_blob(cairn_client *c, size_t *size)
{
	if (size) {
		*size = (size_t)c->blob_size;
	}
	return c->blob;
}

CAIRN_API int cairn_daemon_info(cairn_client *c, struct cairn_daemon_info *info)
{
	const struct cairn_state_header *h = c->state;
	const struct cairn_daemon_counters *k =
		(const void *)((const char *)c->state + h->counters_offset);
	memset(info, 0, sizeof(*info));
	info->pid = h->daemon_pid;
	/* Relaxed: each of these is a single value the daemon stores whole. */
	info->state = cairn__load_relaxed(&h->daemon_state);
	info->max_lanes = h->max_lanes;
	info->apply_cpu = h->apply_cpu;
	info->numa_node = h->numa_node;
	info->lane_id = c->lane_id;
	info->client_id = c->client_id;
	info->boot_epoch_ns = h->boot_epoch_ns;
	uint64_t hb = cairn__load_relaxed(&h->heartbeat_ns), now = cairn__now_ns();
	info->heartbeat_age_ns = now > hb ? now - hb : 0;
	/* Each counter has one writer in the daemon; a relaxed load sees it whole. */
	const uint64_t *src = (const uint64_t *)k;
	uint64_t *dst = (uint64_t *)&info->counters;
	for (size_t i = 0; i < sizeof(*k) / sizeof(uint64_t); i++) {
		dst[i] = cairn__load_relaxed(&src[i]);
	}
	/* The state segment was validated at attach: this block, when present, fits. */
	if (h->engine_counters_offset != 0) {
		src = (const uint64_t *)((const char *)c->state + h->engine_counters_offset);
		dst = (uint64_t *)&info->engine;
		for (size_t i = 0; i < sizeof(info->engine) / sizeof(uint64_t); i++) {
			dst[i] = cairn__load_relaxed(&src[i]);
		}
	}
	return 0;
}
