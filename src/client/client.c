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
 *
 * Every call starts from the current lane (c->lane). When the daemon goes away, the
 * call that notices it reattaches on a new lane and resubmits what the old one never
 * answered (reconnect.c); the old lane stays mapped, its command ring sealed, so a
 * thread that still holds it fails to push there, finds the new lane and goes on.
 * What makes that safe is one extra step on the push: the command is copied into the
 * lane's private shadow at its ring position before it is published. Path commands,
 * whose results the daemon publishes out of order, also take a step on each side: the
 * push adds them to the lane's list of unanswered path commands (l->paths), and the pop
 * of their result removes them before the result slot is released.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "client/client.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "shm/doorbell.h"
#include "shm/ring.h"
#include "shm/segment.h"

#define DEFAULT_SPIN_NS      (50 * 1000)
#define YIELD_NS             (200 * 1000)
#define SLEEP_SLICE_NS       (50 * 1000 * 1000) /* check the socket at least this often */
#define HANDSHAKE_TIMEOUT_S  5
#define DEFAULT_RECONNECT_MS 10000
#define QUIET_CHECK          1024 /* empty polls between looks at the socket */

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

/* Sends the hello and, right behind it, the session it opens or resumes. */
static int send_hello(int sock, const cairn_client *c, uint32_t resubmitting)
{
	struct {
		struct cairn_hello h;
		struct cairn_hello_session s;
	} m;
	_Static_assert(sizeof(m) == sizeof(struct cairn_hello) + sizeof(struct cairn_hello_session),
		       "the hello and its session travel back to back");
	memset(&m, 0, sizeof(m));
	m.h.magic = CAIRN_HELLO_MAGIC;
	m.h.version_major = CAIRN_PROTO_MAJOR;
	m.h.version_minor = CAIRN_PROTO_MINOR;
	m.h.flags = CAIRN_HELLO_SESSION;
	m.h.client_pid = (uint32_t)getpid();
	m.h.cmd_capacity = c->opts.cmd_capacity;
	m.h.res_capacity = c->opts.res_capacity;
	m.h.blob_size = c->opts.blob_size;
	memcpy(m.h.name, c->name, sizeof(m.h.name));
	m.s.session_id = c->session_id;
	m.s.resubmitting = resubmitting;
	size_t done = 0;
	while (done < sizeof(m)) {
		ssize_t n = send(sock, (const char *)&m + done, sizeof(m) - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int cairn__recv_welcome(int sock, struct cairn_welcome *w, int *fds, int want)
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
				if (nfds < want) {
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
	if (nfds != want) {
		goto bad;
	}
	return 0;
bad:
	for (int i = 0; i < nfds; i++) {
		close(fds[i]);
	}
	return -CAIRN_E_HANDSHAKE;
}

int cairn__map_whole(int fd, bool writable, void **base, uint64_t *size)
{
	int r = cairn__fd_size(fd, size);
	if (r < 0) {
		return r;
	}
	if (*size == 0 || *size > (UINT64_C(1) << 40)) {
		return -CAIRN_E_LAYOUT;
	}
	r = cairn__map(fd, *size, writable, base);
	if (r < 0) {
		*base = NULL;
	}
	return r;
}

int cairn__lane_map(struct cairn__lane *l, int state_fd, int lane_fd)
{
	struct cairn__lane_layout lay;
	int r = cairn__map_whole(state_fd, false, &l->state, &l->state_size);
	if (r < 0) {
		return r;
	}
	r = cairn__state_validate(l->state, l->state_size);
	if (r < 0) {
		return r;
	}
	r = cairn__map_whole(lane_fd, true, &l->base, &l->size);
	if (r < 0) {
		return r;
	}
	r = cairn__lane_validate(l->base, l->size, &lay);
	if (r < 0) {
		return r;
	}
	cairn__ring_attach(&l->cmd, (char *)l->base + lay.cmd_offset, lay.cmd_capacity);
	cairn__ring_attach(&l->res, (char *)l->base + lay.res_offset, lay.res_capacity);
	l->blob = (uint8_t *)l->base + lay.blob_offset;
	l->blob_size = lay.blob_size;

	/* As many shadow entries as the lane can have commands unanswered, rounded up. */
	uint64_t n = (uint64_t)lay.cmd_capacity + lay.res_capacity, s = 1;
	while (s < n) {
		s <<= 1;
	}
	l->shadow = aligned_alloc(64, (size_t)s * sizeof(struct cairn_slot));
	if (!l->shadow) {
		return -ENOMEM;
	}
	/* seq 0 never equals a position + 1: no entry looks written before it is. */
	memset(l->shadow, 0, (size_t)s * sizeof(struct cairn_slot));
	l->shadow_mask = s - 1;
	return 0;
}

void cairn__lane_free(struct cairn__lane *l)
{
	if (!l) {
		return;
	}
	if (l->sock >= 0) {
		close(l->sock);
	}
	if (l->state) {
		munmap(l->state, (size_t)l->state_size);
	}
	if (l->base) {
		munmap(l->base, (size_t)l->size);
	}
	free(l->shadow);
	free(l->paths.v);
	pthread_mutex_destroy(&l->paths.lock);
	free(l);
}

int cairn__lane_attach(cairn_client *c, uint32_t resubmitting, uint64_t timeout_ns,
		       struct cairn__lane **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fds[2] = {-1, -1};
	int r;

	_Static_assert(sizeof(c->path) <= sizeof(sa.sun_path), "the path fits a sockaddr_un");
	memcpy(sa.sun_path, c->path, sizeof(c->path));
	struct cairn__lane *l = calloc(1, sizeof(*l));
	if (!l) {
		return -ENOMEM;
	}
	pthread_mutex_init(&l->paths.lock, NULL);
	l->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->sock < 0) {
		r = -errno;
		goto fail;
	}
	struct timeval tv = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
			     .tv_usec = (suseconds_t)(timeout_ns % 1000000000u / 1000u)};
	if (tv.tv_sec == 0 && tv.tv_usec == 0) {
		tv.tv_usec = 1000; /* 0 would mean no timeout at all */
	}
	setsockopt(l->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(l->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(l->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	r = send_hello(l->sock, c, resubmitting);
	if (r < 0) {
		goto fail;
	}
	struct cairn_welcome w;
	r = cairn__recv_welcome(l->sock, &w, fds, 2);
	if (r < 0) {
		goto fail;
	}
	if (w.session_id != c->session_id) {
		/* A daemon that did not take our session cannot keep its promises about it. */
		close(fds[0]);
		close(fds[1]);
		r = -CAIRN_E_HANDSHAKE;
		goto fail;
	}
	l->lane_id = w.lane_id;
	l->client_id = w.client_id;
	l->dedup_window = w.dedup_window;
	l->resumed = w.resumed;
	l->durable_lsn = w.durable_lsn;
	r = cairn__lane_map(l, fds[0], fds[1]);
	/* The mappings keep the memory; the descriptors are not needed any more. */
	close(fds[0]);
	close(fds[1]);
	if (r < 0) {
		goto fail;
	}
	cairn__grid_attach(l);
	cairn__events_attach(l);
	*out = l;
	return 0;
fail:
	cairn__lane_free(l);
	return r;
}

/* A random, non-zero session id. */
static uint64_t draw_session(void)
{
	uint64_t v = 0;
	while (v == 0) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
			/* No entropy source: a value that differs between processes and calls. */
			static uint64_t salt;
			v = cairn__wall_ns() ^ ((uint64_t)getpid() << 32) ^
			    (cairn__add_relaxed(&salt, 1) * UINT64_C(0x9E3779B97F4A7C15));
		}
	}
	return v;
}

CAIRN_API int cairn_open(const char *socket_path, const struct cairn_open_options *opts,
			 cairn_client **out)
{
	char pathbuf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int r;

	if (!out) {
		return -EINVAL;
	}
	*out = NULL;
	if (!socket_path) {
		r = cairn_default_socket_path(pathbuf, sizeof(pathbuf));
		if (r < 0) {
			return r;
		}
		socket_path = pathbuf;
	}
	cairn_client *c = aligned_alloc(64, sizeof(*c));
	if (!c) {
		return -ENOMEM;
	}
	memset(c, 0, sizeof(*c));
	if (strlen(socket_path) >= sizeof(c->path)) {
		free(c);
		return -ENAMETOOLONG;
	}
	strcpy(c->path, socket_path);
	if (opts) {
		c->opts = *opts;
	}
	const char *name = c->opts.name ? c->opts.name : program_invocation_short_name;
	strncpy(c->name, name ? name : "", sizeof(c->name) - 1);
	c->opts.name = c->name;
	c->spin_ns = c->opts.spin_us ? (uint64_t)c->opts.spin_us * 1000 : DEFAULT_SPIN_NS;
	c->reconnect_ns = c->opts.reconnect_ms < 0    ? -1
			  : c->opts.reconnect_ms == 0 ? (int64_t)DEFAULT_RECONNECT_MS * 1000000
						      : (int64_t)c->opts.reconnect_ms * 1000000;
	c->next_id = 1;
	c->session_id = draw_session();
	pthread_mutex_init(&c->lock, NULL);
	cairn__recovery_init(c);
	cairn__slices_init(c);

	struct cairn__lane *l;
	r = cairn__lane_attach(c, 0, (uint64_t)HANDSHAKE_TIMEOUT_S * 1000000000u, &l);
	if (r < 0) {
		cairn_close(c);
		return r;
	}
	/*
	 * l is set: cairn__lane_attach returned 0. Clang 14's analyzer does not know that
	 * errno is positive after a failed call, and takes the attach's -errno for success.
	 */
	c->newest = l; /* NOLINT(clang-analyzer-core.uninitialized.Assign) */
	c->lane = l;
	*out = c;
	return 0;
}

CAIRN_API void cairn_close(cairn_client *c)
{
	if (!c) {
		return;
	}
	struct cairn__lane *l = c->newest;
	while (l) {
		struct cairn__lane *older = l->older;
		cairn__lane_free(l);
		l = older;
	}
	free(c->mailbox.v);
	free(c->pollq.v);
	free(c->abandoned);
	pthread_mutex_destroy(&c->lock);
	cairn__recovery_fini(c);
	cairn__slices_fini(c);
	free(c);
}

/* ---- liveness ---- */

int cairn__lane_dead_code(const struct cairn__lane *l)
{
	const struct cairn_lane_header *h = l->base;
	/* Relaxed: the daemon writes the state before closing the socket we saw close. */
	switch (cairn__load_relaxed(&h->lane_state)) {
	case CAIRN_LANE_DROPPED:
		return -CAIRN_E_LANE_DROPPED;
	case CAIRN_LANE_EVICTED:
		return -CAIRN_E_EVICTED;
	default:
		return -CAIRN_E_DISCONNECTED;
	}
}

bool cairn__lane_hung_up(const struct cairn__lane *l)
{
	/* The daemon never writes to the socket after the welcome: readable means closed. */
	struct pollfd p = {.fd = l->sock, .events = POLLIN};
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

int cairn__lane_check(cairn_client *c, struct cairn__lane *l, uint64_t until, bool wait)
{
	int d = cairn__load_relaxed(&c->dead);
	if (d) {
		return d;
	}
	if (cairn__lane_now(c) != l) {
		return 0;
	}
	if (!cairn__load_relaxed(&c->recovering) && !cairn__lane_hung_up(l)) {
		return 0;
	}
	return cairn__client_recover(c, l, until, wait);
}

CAIRN_API int cairn_check(cairn_client *c)
{
	for (;;) {
		struct cairn__lane *l = cairn__lane_now(c);
		int r = cairn__lane_check(c, l, 0, true);
		if (r < 0 || cairn__lane_now(c) == l) {
			return r;
		}
	}
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

void cairn__lane_ring_daemon(struct cairn__lane *l)
{
	cairn__doorbell_ring(&l->cmd.hdr->bell);
}

/*
 * Adds path command m, claimed at command-ring position pos of l, to l->paths. Called
 * before the slot is published, so that the entry exists before its result can. When
 * it cannot be kept, the lane is marked: its reconnect then gives up rather than guess.
 */
static void __attribute__((noinline))
paths_hook(struct cairn__lane *l, uint64_t pos, const struct cairn_msg *m)
{
	struct cairn__paths *p = &l->paths;
	pthread_mutex_lock(&p->lock);
	p->pushed++;
	if (p->n == p->cap) {
		/* No more than a lane can have unanswered: the shadow's size. */
		size_t cap = p->cap ? p->cap * 2 : 16;
		if (cap > l->shadow_mask + 1) {
			cap = (size_t)l->shadow_mask + 1;
		}
		struct cairn__path_entry *v = NULL;
		if (cap > p->n) {
			v = realloc(p->v, cap * sizeof(*v));
		}
		if (v) {
			p->v = v;
			p->cap = cap;
		}
	}
	if (p->n < p->cap) {
		p->v[p->n].pos = pos;
		p->v[p->n].msg = *m;
		p->n++;
	} else {
		p->lost = true;
	}
	pthread_mutex_unlock(&p->lock);
}

void cairn__paths_unhook(struct cairn__lane *l, const struct cairn_msg *m)
{
	struct cairn__paths *p = &l->paths;
	pthread_mutex_lock(&p->lock);
	p->popped++;
	size_t best = p->n;
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].msg.hdr.request_id == m->hdr.request_id &&
		    (best == p->n || p->v[i].pos < p->v[best].pos)) {
			best = i;
		}
	}
	/*
	 * No entry: a result for a command never pushed here, which no honest daemon
	 * sends. The counts no longer match the entries, and the reconnect says so.
	 */
	if (best < p->n) {
		p->v[best] = p->v[--p->n];
	}
	pthread_mutex_unlock(&p->lock);
}

/*
 * Keeps the private copy of the command m claimed at command-ring position pos of l.
 * Written before the slot is published, so that the daemon cannot answer the command
 * (which would let a pusher a lap of the shadow later reuse this entry) before the
 * copy is whole.
 */
static inline void shadow_put(struct cairn__lane *l, uint64_t pos, const struct cairn_msg *m)
{
	struct cairn_slot *sh = &l->shadow[pos & l->shadow_mask];
	memcpy(&sh->msg, m, sizeof(*m));
	/* Release, paired with the reconnect's acquire of seq == pos + 1: the copy is whole. */
	cairn__store_release(&sh->seq, pos + 1);
}

/*
 * Pushes one command on l: cairn__ring_try_push with the private copy kept between the
 * claim and the publish. Returns false when the ring is full (or sealed: its daemon is
 * gone and the reconnect has claimed every free position).
 */
static inline bool lane_push(struct cairn__lane *l, const struct cairn_msg *m)
{
	struct cairn__ring *r = &l->cmd;
	uint64_t pos = cairn__load_relaxed(&r->hdr->head);
	struct cairn_slot *s;
	for (;;) {
		s = &r->slots[pos & r->mask];
		/*
		 * Acquire pairs with the consumer's release store of seq = pos when it freed the
		 * slot: its read of the previous message happens before our overwrite.
		 */
		uint64_t seq = cairn__load_acquire(&s->seq);
		int64_t dif = (int64_t)(seq - pos);
		if (dif == 0) {
			if (cairn__cas_relaxed(&r->hdr->head, &pos, pos + 1)) {
				break;
			}
		} else if (dif < 0) {
			return false;
		} else {
			pos = cairn__load_relaxed(&r->hdr->head);
		}
	}
	if (cairn__path_cmd(m)) {
		paths_hook(l, pos, m);
	}
	shadow_put(l, pos, m);
	memcpy(&s->msg, m, sizeof(*m));
	/* Release publishes the message: a consumer that sees seq = pos + 1 sees its bytes. */
	cairn__store_release(&s->seq, pos + 1);
	return true;
}

unsigned cairn__lane_push_batch(struct cairn__lane *l, const struct cairn_msg *m, unsigned n)
{
	struct cairn__ring *r = &l->cmd;
	if (n == 0) {
		return 0;
	}
	uint64_t pos = cairn__load_relaxed(&r->hdr->head);
	unsigned k;
	for (;;) {
		/*
		 * Count the free slots from pos on, as cairn__ring_push_batch does: a slot seen
		 * free stays free until its producer writes it. Acquire pairs with each
		 * consumer's release that freed a slot.
		 */
		for (k = 0; k < n && k <= r->mask; k++) {
			uint64_t seq = cairn__load_acquire(&r->slots[(pos + k) & r->mask].seq);
			if (seq != pos + k) {
				break;
			}
		}
		if (k == 0) {
			uint64_t seq = cairn__load_acquire(&r->slots[pos & r->mask].seq);
			if ((int64_t)(seq - pos) < 0) {
				return 0; /* full */
			}
			pos = cairn__load_relaxed(&r->hdr->head);
			continue;
		}
		if (cairn__cas_relaxed(&r->hdr->head, &pos, pos + k)) {
			break;
		}
	}
	for (unsigned i = 0; i < k; i++) {
		struct cairn_slot *s = &r->slots[(pos + i) & r->mask];
		if (cairn__path_cmd(&m[i])) {
			paths_hook(l, pos + i, &m[i]);
		}
		shadow_put(l, pos + i, &m[i]);
		memcpy(&s->msg, &m[i], sizeof(m[i]));
		/* Release publishes each message on its own; consumers take them in order. */
		cairn__store_release(&s->seq, pos + i + 1);
	}
	return k;
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
	for (;;) {
		struct cairn__lane *l = cairn__lane_now(c);
		if (lane_push(l, cmd)) {
			cairn__lane_ring_daemon(l);
			return 0;
		}
		/* Full: a ring waiting for its results to be taken, or a lane whose daemon left. */
		r = cairn__lane_check(c, l, 0, false);
		if (r < 0) {
			return r;
		}
		if (cairn__lane_now(c) == l) {
			return -EAGAIN;
		}
	}
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
	if (n == 0) {
		return 0;
	}
	for (;;) {
		struct cairn__lane *l = cairn__lane_now(c);
		unsigned k = cairn__lane_push_batch(l, cmds, n);
		if (k > 0) {
			cairn__lane_ring_daemon(l);
			return (int)k;
		}
		r = cairn__lane_check(c, l, 0, false);
		if (r < 0) {
			return r == -EAGAIN ? 0 : r;
		}
		if (cairn__lane_now(c) == l) {
			return 0;
		}
	}
}

/* ---- receiving ---- */

/*
 * Pops one result from l: cairn__ring_try_pop with the path result unhooked from
 * l->paths between the copy and the release, so that once every claimed slot has been
 * released (which the reconnect waits for), every path result popped is accounted for.
 */
static inline bool lane_pop(struct cairn__lane *l, struct cairn_msg *m)
{
	struct cairn__ring *r = &l->res;
	uint64_t pos = cairn__load_relaxed(&r->hdr->tail);
	struct cairn_slot *s;
	for (;;) {
		s = &r->slots[pos & r->mask];
		/* Acquire pairs with the daemon's release of seq = pos + 1 (the result). */
		uint64_t seq = cairn__load_acquire(&s->seq);
		int64_t dif = (int64_t)(seq - (pos + 1));
		if (dif == 0) {
			if (cairn__cas_relaxed(&r->hdr->tail, &pos, pos + 1)) {
				break;
			}
		} else if (dif < 0) {
			return false;
		} else {
			pos = cairn__load_relaxed(&r->hdr->tail);
		}
	}
	memcpy(m, &s->msg, sizeof(*m));
	if (cairn__path_result(m)) {
		cairn__paths_unhook(l, m);
	}
	/*
	 * Release orders our read of the result (and the unhook) before the daemon's next
	 * write of the slot, and before the reconnect's acquire that sees the slot free.
	 */
	cairn__store_release(&s->seq, pos + r->mask + 1);
	return true;
}

bool cairn__lane_pop(struct cairn__lane *l, struct cairn_msg *m)
{
	return lane_pop(l, m);
}

/*
 * Pops up to n results from l with one claim, as cairn__ring_pop_batch, with lane_pop's
 * unhook. Returns how many (0 when empty).
 */
static unsigned lane_pop_batch(struct cairn__lane *l, struct cairn_msg *m, unsigned n)
{
	struct cairn__ring *r = &l->res;
	if (n == 0) {
		return 0;
	}
	uint64_t pos = cairn__load_relaxed(&r->hdr->tail);
	unsigned k;
	for (;;) {
		/* Acquire pairs with the daemon's release of each result. */
		for (k = 0; k < n && k <= r->mask; k++) {
			uint64_t seq = cairn__load_acquire(&r->slots[(pos + k) & r->mask].seq);
			if (seq != pos + k + 1) {
				break;
			}
		}
		if (k == 0) {
			uint64_t seq = cairn__load_acquire(&r->slots[pos & r->mask].seq);
			if ((int64_t)(seq - (pos + 1)) < 0) {
				return 0; /* empty */
			}
			pos = cairn__load_relaxed(&r->hdr->tail);
			continue;
		}
		if (cairn__cas_relaxed(&r->hdr->tail, &pos, pos + k)) {
			break;
		}
	}
	for (unsigned i = 0; i < k; i++) {
		struct cairn_slot *s = &r->slots[(pos + i) & r->mask];
		memcpy(&m[i], &s->msg, sizeof(m[i]));
		if (cairn__path_result(&m[i])) {
			cairn__paths_unhook(l, &m[i]);
		}
		/* Release, as in lane_pop: the copy and the unhook before the slot is free. */
		cairn__store_release(&s->seq, pos + i + r->mask + 1);
	}
	return k;
}

int cairn__route(cairn_client *c, const struct cairn_msg *m)
{
	int r = 0;
	bool late = false;
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
			late = true;
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
	if (late) {
		/* Outside c->lock: the slices have their own, never taken with it held. */
		cairn__slices_late(c, m->hdr.request_id);
	}
	/*
	 * The owner may be asleep on the result doorbell: the hand-over is its wake-up. A
	 * sleeper on an older lane checks the current one before it sleeps, and is woken
	 * by the reconnect when the lane changes.
	 */
	cairn__doorbell_ring(&cairn__lane_now(c)->res.hdr->bell);
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

/*
 * After a poll found nothing on lane l: the code the poll returns (0 for none). A
 * reattach under way is driven one step (without waiting for it); otherwise every
 * QUIET_CHECK-th empty poll looks at the socket, so that a caller that only ever polls
 * still notices a daemon that went away.
 */
static int poll_quiet(cairn_client *c, struct cairn__lane *l)
{
	int d = cairn__load_relaxed(&c->dead);
	if (d) {
		return d;
	}
	if (!cairn__load_relaxed(&c->recovering)) {
		/* Relaxed and not atomic as a whole: a lost increment only delays a check. */
		uint32_t n = cairn__load_relaxed(&c->quiet_polls) + 1;
		cairn__store_relaxed(&c->quiet_polls, n);
		if (n % QUIET_CHECK != 0) {
			return 0;
		}
	}
	d = cairn__lane_check(c, l, 0, false);
	return d == -EAGAIN ? 0 : d;
}

CAIRN_API int cairn_poll(cairn_client *c, struct cairn_msg *res)
{
	for (;;) {
		if (take_pollq(c, res)) {
			return 0;
		}
		struct cairn__lane *l = cairn__lane_now(c);
		struct cairn_msg m;
		while (lane_pop(l, &m)) {
			if (!(m.hdr.request_id & CAIRN_CALL_ID_BIT)) {
				*res = m;
				return 0;
			}
			int r = cairn__route(c, &m);
			if (r < 0) {
				return r;
			}
		}
		int d = poll_quiet(c, l);
		if (d) {
			return d;
		}
		/* A new lane: what the old one answered is in the poll queue now. */
		if (cairn__lane_now(c) == l) {
			return -EAGAIN;
		}
	}
}

CAIRN_API int cairn_poll_batch(cairn_client *c, struct cairn_msg *res, unsigned n)
{
	unsigned k = 0;
	for (;;) {
		while (k < n && take_pollq(c, &res[k])) {
			k++;
		}
		struct cairn__lane *l = cairn__lane_now(c);
		while (k < n) {
			unsigned got = lane_pop_batch(l, &res[k], n - k);
			if (got == 0) {
				break;
			}
			/* Keep submit results in place; route call results away. */
			unsigned w = k;
			for (unsigned i = k; i < k + got; i++) {
				if (res[i].hdr.request_id & CAIRN_CALL_ID_BIT) {
					int r = cairn__route(c, &res[i]);
					if (r < 0) {
						return r;
					}
				} else {
					res[w++] = res[i];
				}
			}
			k = w;
		}
		if (k > 0 || n == 0) {
			return (int)k;
		}
		int d = poll_quiet(c, l);
		if (d) {
			return d;
		}
		if (cairn__lane_now(c) == l) {
			return 0;
		}
	}
}

/*
 * Sleeps on the current lane's result doorbell until something may have changed, for at
 * most one slice and never past the deadline (0: none). ready() is re-checked after
 * announcing the sleeper, as the doorbell protocol requires; it also says yes when the
 * lane has been replaced, which the reconnect announces on the old lane's doorbell.
 * Then looks at the connection, and if the daemon is gone reattaches, or waits for the
 * reattach, until the deadline. Returns 0, -ETIMEDOUT, or a disconnection code.
 */
static int sleep_on_results(cairn_client *c, uint64_t deadline,
			    bool (*ready)(cairn_client *, struct cairn__lane *))
{
	struct cairn__lane *l = cairn__lane_now(c);
	if (cairn__load_relaxed(&c->recovering)) {
		return cairn__lane_check(c, l, deadline, true);
	}
	struct cairn_doorbell *b = &l->res.hdr->bell;
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
	if (!ready(c, l)) {
		cairn__futex_wait(&b->word, v, t);
	}
	cairn__doorbell_cancel(b);
	return cairn__lane_check(c, l, deadline, true);
}

static bool submit_ready(cairn_client *c, struct cairn__lane *l)
{
	return cairn__load_acquire(&c->pollq_count) || cairn__ring_readable(&l->res) ||
	       cairn__lane_now(c) != l;
}

static bool call_ready(cairn_client *c, struct cairn__lane *l)
{
	return cairn__load_acquire(&c->mailbox_count) || cairn__ring_readable(&l->res) ||
	       cairn__lane_now(c) != l;
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
	for (;;) {
		r = cairn__load_relaxed(&c->dead);
		if (r) {
			return r;
		}
		struct cairn__lane *l = cairn__lane_now(c);
		if (lane_push(l, cmd)) {
			cairn__lane_ring_daemon(l);
			break;
		}
		/*
		 * The ring is full. The daemon takes a command only when its result has room,
		 * so move results out of the way (to their owners) while we wait.
		 */
		struct cairn_msg m;
		while (lane_pop(l, &m)) {
			r = cairn__route(c, &m);
			if (r < 0) {
				return r;
			}
		}
		r = cairn__lane_check(c, l, deadline, true);
		if (r < 0) {
			return r;
		}
		if (cairn__lane_now(c) != l) {
			continue; /* a new lane: push there at once */
		}
		if (deadline && cairn__now_ns() >= deadline) {
			return -ETIMEDOUT;
		}
		if (cairn__idle_step(&idle)) {
			struct timespec ts = {.tv_nsec = 50 * 1000};
			nanosleep(&ts, NULL);
		}
	}

	/*
	 * The result comes on whatever lane is current by then: if the daemon goes away
	 * before it answers, the reconnect resubmits the command on a new lane with the same
	 * id, or takes its answer from the old lane into the mailbox.
	 */
	cairn__idle_init(&idle, c->spin_ns, YIELD_NS);
	for (;;) {
		struct cairn__lane *l = cairn__lane_now(c);
		struct cairn_msg m;
		if (lane_pop(l, &m)) {
			if (m.hdr.request_id == id) {
				*res = m;
				return result_code(res);
			}
			r = cairn__route(c, &m);
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
	struct cairn__lane *l = cairn__lane_now(c);
	if (size) {
		*size = (size_t)l->blob_size;
	}
	return l->blob;
}

CAIRN_API int cairn_daemon_info(cairn_client *c, struct cairn_daemon_info *info)
{
	const struct cairn__lane *l = cairn__lane_now(c);
	const struct cairn_state_header *h = l->state;
	const struct cairn_daemon_counters *k =
		(const void *)((const char *)l->state + h->counters_offset);
	memset(info, 0, sizeof(*info));
	info->pid = h->daemon_pid;
	/* Relaxed: each of these is a single value the daemon stores whole. */
	info->state = cairn__load_relaxed(&h->daemon_state);
	info->max_lanes = h->max_lanes;
	info->apply_cpu = h->apply_cpu;
	info->numa_node = h->numa_node;
	info->lane_id = l->lane_id;
	info->client_id = l->client_id;
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
		src = (const uint64_t *)((const char *)l->state + h->engine_counters_offset);
		dst = (uint64_t *)&info->engine;
		for (size_t i = 0; i < sizeof(info->engine) / sizeof(uint64_t); i++) {
			dst[i] = cairn__load_relaxed(&src[i]);
		}
	}
	info->session_id = c->session_id;
	info->dedup_window = l->dedup_window;
	info->resumed = l->resumed;
	info->durable_lsn = l->durable_lsn;
	/* Relaxed: statistics, each stored whole by the thread that reattached. */
	info->reconnects = cairn__load_relaxed(&c->rc.reconnects);
	info->resubmitted = cairn__load_relaxed(&c->rc.resubmitted);
	return 0;
}
