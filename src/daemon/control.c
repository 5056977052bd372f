/*
 * The control thread: the socket, the attach handshake, lane lifetimes and signals.
 *
 * Everything here happens off the hot path. A client connects, sends a hello, and is
 * checked (SO_PEERCRED against the allowed uid/gid lists, version, limits); it then
 * receives the state and lane descriptors with SCM_RIGHTS and its lane is handed to the
 * apply thread. When the client's socket closes, for whatever reason, including
 * SIGKILL in the middle of a push, the lane is handed back, unmapped and freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/atomic.h"
#include "common/clock.h"
#include "common/futex.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "shm/seqlock.h"

#define HANDSHAKE_TIMEOUT_NS (5ull * 1000 * 1000 * 1000)
#define MAX_PENDING          64

enum conn_kind { K_LISTEN = 1, K_SIGNAL, K_EVENT, K_PENDING, K_CLIENT };

/* A connection that has not completed its hello yet. */
struct pending {
	int fd;
	uint64_t deadline;
	struct ucred cred;
	uint8_t buf[sizeof(struct cairn_hello) + sizeof(struct cairn_hello_session)];
	size_t got;
	size_t want; /* the hello, then its hello_session when its flags say one follows */
	struct pending *next;
};

struct control {
	struct daemon *d;
	int epfd;
	int listen_fd;
	int sig_fd;
	struct pending *pending;
	unsigned npending;
	uint64_t attached, refused, reclaimed;
	bool stopping;
	bool apply_done;
};

static uint64_t tag(enum conn_kind k, uint64_t v)
{
	return ((uint64_t)k << 56) | v;
}

static int ep_add(struct control *c, int fd, enum conn_kind k, uint64_t v, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u64 = tag(k, v)};
	return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void publish(struct control *c)
{
	struct cairn_daemon_counters *k = c->d->counters;
	/* Relaxed: these counters have this one writer. */
	cairn__store_relaxed(&k->lanes_attached, c->attached);
	cairn__store_relaxed(&k->attach_refused, c->refused);
	cairn__store_relaxed(&k->lanes_reclaimed, c->reclaimed);
}

/* ---- the state segment ---- */

static int make_state(struct daemon *d, int numa_node)
{
	struct cairn__engine_config ec;
	cairn__engine_config_default(&ec);
	ec.max_hunts = d->cfg.max_hunts;
	ec.max_entities = d->cfg.max_entities;
	ec.shards_per_hunt = d->cfg.shards;
	ec.event_capacity = d->cfg.event_capacity;
	ec.maps = (const struct cairn__map *const *)d->maps;
	ec.n_maps = d->n_maps;
	cairn__state_plan(&d->state_layout, cairn__engine_events_size(&ec),
			  cairn__engine_grid_size(&ec), d->cfg.max_clients);
	int r = cairn__memfd_new("cairn-state", d->state_layout.size, &d->state_fd);
	if (r < 0) {
		cairn__error("cannot create the state segment: %s", strerror(-r));
		return r;
	}
	r = cairn__map(d->state_fd, d->state_layout.size, true, &d->state);
	if (r < 0) {
		cairn__error("cannot map the state segment: %s", strerror(-r));
		return r;
	}
	if (numa_node >= 0 && numa_available() >= 0) {
		/*
		 * Before the first touch: every page of the segment, the grid included, is
		 * then allocated on the apply thread's node.
		 */
		numa_tonode_memory(d->state, d->state_layout.size, numa_node);
	}
	cairn__state_init(d->state, &d->state_layout, d->cfg.max_clients, d->cfg.cpu, numa_node);
	d->engine_counters = (void *)((char *)d->state + d->state_layout.engine_counters_offset);
	r = cairn__engine_new(&ec, (char *)d->state + d->state_layout.grid_offset,
			      (char *)d->state + d->state_layout.events_offset, d->engine_counters,
			      &d->engine);
	if (r < 0) {
		cairn__error("cannot set up the engine: %s", strerror(-r));
		return r;
	}
	cairn__info("state segment: %llu MiB of address space (%u hunts of %zu KiB of grid "
		    "each, %u players and clues, %u events); pages are allocated as used",
		    (unsigned long long)(d->state_layout.size >> 20), ec.max_hunts,
		    cairn__engine_hunt_stride(&ec) >> 10, ec.max_entities, ec.event_capacity);
	/*
	 * Our read-write mapping exists; from now on nobody can create another one, so every
	 * host's mapping is read-only.
	 */
	r = cairn__seal_readonly(d->state_fd);
	if (r < 0) {
		cairn__error("cannot seal the state segment: %s", strerror(-r));
		return r;
	}
	d->hdr = d->state;
	d->counters = (void *)((char *)d->state + d->state_layout.counters_offset);
	if (d->cfg.metrics) {
		struct cairn_metrics_header *m =
			(void *)((char *)d->state + d->state_layout.metrics_offset);
		m->flags = CAIRN_METRICS_ON;
		d->dmetrics = (void *)((char *)d->state + m->daemon_offset);
		d->wmetrics = (void *)((char *)d->state + m->wal_offset);
		d->lane_metrics = (uint8_t *)d->state + m->lanes_offset;
	}
	return 0;
}

/* ---- metrics ---- */

/* Lane l's identity in its metrics record, under the record's seq (control thread). */
static void publish_lane(struct daemon *d, const struct lane *l, bool attached)
{
	if (!d->lane_metrics) {
		return;
	}
	struct cairn_lane_metrics *m =
		(void *)(d->lane_metrics + (uint64_t)l->id * sizeof(struct cairn_lane_metrics));
	cairn__seq_write_begin(&m->seq);
	cairn__store_relaxed(&m->client_id, attached ? l->client_id : 0);
	cairn__store_relaxed(&m->attached_ns, attached ? l->attached_ns : 0);
	cairn__store_relaxed(&m->pid, attached ? l->pid : 0);
	cairn__store_relaxed(&m->uid, attached ? (uint32_t)l->uid : 0);
	cairn__store_relaxed(&m->gid, attached ? (uint32_t)l->gid : 0);
	cairn__store_relaxed(&m->lane_state, attached ? (uint32_t)CAIRN_LANE_ACTIVE : 0);
	cairn__store_relaxed(&m->cmd_capacity, attached ? (uint32_t)l->cmd.mask + 1 : 0);
	cairn__store_relaxed(&m->res_capacity, attached ? (uint32_t)l->res.mask + 1 : 0);
	cairn__store_relaxed(&m->session_id, attached ? l->session_id : 0);
	for (unsigned i = 0; i < sizeof(m->name); i++) {
		cairn__store_relaxed(&m->name[i], attached ? (uint8_t)l->name[i] : 0);
	}
	cairn__seq_write_end(&m->seq);
}

/* The process's memory and CPU, about once a second (control thread). */
static void sample_daemon(struct daemon *d)
{
	struct cairn_daemon_metrics *m = d->dmetrics;
	if (!m) {
		return;
	}
	uint64_t now = cairn__now_ns();
	if (now - m->sampled_ns < 1000ull * 1000 * 1000) {
		return;
	}
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		/* The kernel's numbers fit a long: fscanf cannot overflow here. */
		/* NOLINTNEXTLINE(cert-err34-c) */
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
			rss = 0;
		}
		fclose(f);
	}
	struct timespec ts;
	uint64_t cpu = 0, apply_cpu = 0;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) {
		cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	clockid_t cid;
	if (d->apply_thread && pthread_getcpuclockid(d->apply_thread, &cid) == 0 &&
	    clock_gettime(cid, &ts) == 0) {
		apply_cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	cairn__store_relaxed(&m->rss_bytes, (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE));
	cairn__store_relaxed(&m->cpu_ns, cpu);
	cairn__store_relaxed(&m->apply_cpu_ns, apply_cpu);
	cairn__store_relaxed(&m->sampled_ns, now);
}

/* ---- the listening socket ---- */

/*
 * Whether others could replace what is in directory dir (whose stat is st): its group or
 * everyone may write it without the sticky bit, which keeps others from removing or
 * renaming what is ours, or (with owner) it belongs to another user than us and root.
 * Says why, with what (the socket's directory, or one above it), and returns -EPERM;
 * else 0.
 */
static int check_dir(const char *dir, const struct stat *st, const char *what, bool owner)
{
	uid_t me = geteuid();
	if (owner && st->st_uid != me && st->st_uid != 0) {
		cairn__error("%s %s belongs to uid %u, so that user could replace the socket: "
			     "use a directory of uid %u or of root (--socket)",
			     what, dir, (unsigned)st->st_uid, (unsigned)me);
		return -EPERM;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX)) {
		cairn__error("%s %s is writable by %s (mode %04o), who could replace the socket: "
			     "chmod go-w it, or give it the sticky bit, or choose another path "
			     "with --socket",
			     what, dir, st->st_mode & S_IWOTH ? "everyone" : "its group",
			     (unsigned)st->st_mode & 07777);
		return -EPERM;
	}
	return 0;
}

/*
 * Whoever may write the socket's directory, or rename one above it, may replace the
 * socket with one of their own and pose as the daemon to every host. A missing directory
 * is made with mode 0750 (less what the umask takes away). An existing one must belong to
 * us or root, and neither it nor any directory above it may be writable by others
 * without the sticky bit (check_dir): a shared directory such as /tmp, or a group's with
 * mode 1770, passes through its sticky bit. The owners of the directories above are not
 * checked: in a user namespace, root's own directories belong to an unmapped uid. A
 * world-writable sticky directory for the socket itself is accepted with a warning:
 * while cairnd is not running, another user could still take the socket's name there.
 */
static int prepare_dir(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char above[sizeof(buf)], up[PATH_MAX];
	struct stat st;
	snprintf(buf, sizeof(buf), "%s", path);
	const char *dir = dirname(buf);
	/*
	 * First every directory above it, by its real path (a symbolic link is what it points
	 * to), so that nothing is made where it would be refused.
	 */
	snprintf(above, sizeof(above), "%s", dir);
	if (realpath(dir, up)) {
		char *slash = strrchr(up, '/');
		slash[slash == up] = '\0'; /* its parent; the root is its own */
	} else if (errno != ENOENT || !realpath(dirname(above), up)) {
		int e = errno;
		cairn__error("cannot find the socket directory %s: %s (create it, or choose "
			     "another path with --socket)",
			     dir, strerror(e));
		return -e;
	}
	for (;;) {
		if (stat(up, &st) < 0) {
			int e = errno;
			cairn__error("cannot check %s, above the socket directory: %s", up,
				     strerror(e));
			return -e;
		}
		int r = check_dir(up, &st, "above the socket, the directory", false);
		if (r < 0) {
			return r;
		}
		char *slash = strrchr(up, '/');
		if (!slash || slash[1] == '\0') {
			break; /* the root */
		}
		slash[slash == up] = '\0'; /* keep the root's own slash */
	}
	if (stat(dir, &st) < 0) {
		if (errno == ENOENT && mkdir(dir, 0750) == 0) {
			cairn__info("created socket directory %s (mode 0750)", dir);
			return 0;
		}
		/* EEXIST: made by someone else since we looked; it is checked like any other. */
		if (errno != EEXIST || stat(dir, &st) < 0) {
			int e = errno;
			cairn__error("cannot create the socket directory %s: %s (create it, or "
				     "choose another path with --socket)",
				     dir, strerror(e));
			return -e;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		cairn__error("%s is not a directory", dir);
		return -ENOTDIR;
	}
	int r = check_dir(dir, &st, "socket directory", true);
	if (r < 0) {
		return r;
	}
	/* Once: the path is checked again just before binding. */
	static bool warned;
	if ((st.st_mode & S_IWOTH) && !warned) {
		warned = true;
		cairn__warn("socket directory %s is shared (mode %04o): nobody else can replace "
			    "the socket, but while cairnd is not running another user could take "
			    "its name; a directory of our own is safer (--socket)",
			    dir, (unsigned)st.st_mode & 07777);
	}
	return 0;
}

/*
 * Checks that the socket path is ours to take: its directory exists (made if missing), and
 * nothing is there but a stale socket, which is removed. Run before the data directory is
 * opened, so that a second cairnd started on a live socket by mistake says so at once
 * instead of after a recovery, and again just before binding.
 */
static int claim_socket_path(const char *path, struct sockaddr_un *sa)
{
	struct stat st;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		cairn__error("socket path is too long (%zu bytes, at most %zu): %s", strlen(path),
			     sizeof(sa->sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	int r = prepare_dir(path);
	if (r < 0) {
		return r;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			cairn__error("%s exists and is not a socket; remove it or use --socket",
				     path);
			return -EEXIST;
		}
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)sa, sizeof(*sa)) == 0) {
			close(probe);
			cairn__error("another cairnd is already listening on %s", path);
			return -EADDRINUSE;
		}
		if (probe >= 0) {
			close(probe);
		}
		cairn__info("removing stale socket %s", path);
		unlink(path);
	}
	return 0;
}

static int open_listener(struct control *c)
{
	const char *path = c->d->cfg.socket_path;
	struct sockaddr_un sa;
	int r = claim_socket_path(path, &sa);
	if (r < 0) {
		return r;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 128) < 0) {
		int e = errno;
		cairn__error("cannot listen on %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	c->listen_fd = fd;
	return ep_add(c, fd, K_LISTEN, 0, EPOLLIN);
}

/* ---- the handshake ---- */

static bool allowed(const struct cairnd_config *cfg, const struct ucred *cr)
{
	for (unsigned i = 0; i < cfg->n_allow_uid; i++) {
		if (cfg->allow_uid[i] == cr->uid) {
			return true;
		}
	}
	for (unsigned i = 0; i < cfg->n_allow_gid; i++) {
		if (cfg->allow_gid[i] == cr->gid) {
			return true;
		}
	}
	return false;
}

static void send_welcome(const struct daemon *d, int fd, int status, const struct lane *l,
			 const int *fds, unsigned nfds)
{
	struct cairn_welcome w;
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2)];
		struct cmsghdr align;
	} ctl;
	memset(&w, 0, sizeof(w));
	memset(&ctl, 0, sizeof(ctl));
	w.magic = CAIRN_WELCOME_MAGIC;
	w.version_major = CAIRN_PROTO_MAJOR;
	w.version_minor = CAIRN_PROTO_MINOR;
	w.status = status;
	if (l) {
		w.lane_id = l->id;
		w.client_id = l->client_id;
		w.session_id = l->session_id;
		w.dedup_window = d->store.window;
		w.resumed = l->resumed;
		/* Relaxed: a figure for the client's information, published by the apply thread. */
		w.durable_lsn = cairn__load_relaxed(&d->store.durable_lsn);
	}
	struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fds) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	}
	ssize_t n;
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	/* A client that vanished mid-handshake is noticed when its socket reports HUP. */
}

static void refuse(struct control *c, struct pending *p, int code, const char *why)
{
	cairn__warn("refused attach from pid %d uid %u gid %u: %s", (int)p->cred.pid,
		    (unsigned)p->cred.uid, (unsigned)p->cred.gid, why);
	send_welcome(c->d, p->fd, code, NULL, NULL, 0);
	c->refused++;
	publish(c);
}

static struct lane *free_lane(struct daemon *d)
{
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		if (d->lanes[i].phase == LANE_FREE) {
			return &d->lanes[i];
		}
	}
	return NULL;
}

/*
 * Lanes that clients of this pid hold. Lanes being released (DETACHING) are not counted:
 * their client has let go of them, and a process that reconnects must not be refused for
 * a lane the daemon has not finished freeing.
 */
static uint32_t lanes_of_pid(const struct daemon *d, pid_t pid)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		n += d->lanes[i].phase == LANE_ATTACHED && d->lanes[i].pid == pid;
	}
	return n;
}

/* Bytes of shared memory mapped by the lanes not yet freed (those being released too). */
static uint64_t lane_bytes(const struct daemon *d)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		n += d->lanes[i].phase != LANE_FREE ? d->lanes[i].size : 0;
	}
	return n;
}

/* Whether a lane that is attached or still being released serves this session. */
static bool session_attached(const struct daemon *d, uint64_t session)
{
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		const struct lane *l = &d->lanes[i];
		if (l->phase != LANE_FREE && l->session_id == session) {
			return true;
		}
	}
	return false;
}

/*
 * Whether this session attached before during the daemon's life, or had results in the
 * state recovered at startup (the welcome's "resumed"). The control thread keeps the set
 * itself; it is information for the client, never a condition for anything.
 */
static bool session_known(struct daemon *d, uint64_t session)
{
	struct cairnd_sessions *k = &d->known;
	if (cairnd_sessions_has(k, session)) {
		return true;
	}
	cairnd_sessions_add(k, session);
	return false;
}

/* A session id for a client that did not bring one: random, non-zero. */
static uint64_t draw_session(void)
{
	uint64_t v = 0;
	while (v == 0) {
		if (getrandom(&v, sizeof(v), 0) != sizeof(v)) {
			v = cairn__now_ns() ^ ((uint64_t)getpid() << 32);
		}
	}
	return v;
}

/*
 * Completes the handshake of p, whose hello has fully arrived. On success the
 * connection becomes the lane's socket; either way p itself is done.
 */
static void handshake(struct control *c, struct pending *p)
{
	struct daemon *d = c->d;
	struct cairnd_hello hello;
	struct cairn__lane_layout lay;
	char why[256];

	if (!allowed(&d->cfg, &p->cred)) {
		snprintf(why, sizeof(why),
			 "uid %u / gid %u is not allowed (cairnd --allow-uid/--allow-gid)",
			 (unsigned)p->cred.uid, (unsigned)p->cred.gid);
		refuse(c, p, CAIRN_E_DENIED, why);
		goto close;
	}
	int code = cairnd_hello_check(p->buf, p->got, &hello, why, sizeof(why));
	if (code) {
		refuse(c, p, code, why);
		goto close;
	}
	const struct cairn_hello *h = &hello.h;
	uint64_t session = hello.session;
	if (session && session_attached(d, session)) {
		snprintf(why, sizeof(why), "session %016llx is attached on another lane",
			 (unsigned long long)session);
		refuse(c, p, CAIRN_E_SESSION_IN_USE, why);
		goto close;
	}
	if (c->stopping) {
		refuse(c, p, CAIRN_E_SHUTTING_DOWN, "shutting down");
		goto close;
	}
	if (hello.observe) {
		/* A monitor: the state segment, read-only, and nothing else. */
		send_welcome(d, p->fd, 0, NULL, &d->state_fd, 1);
		cairn__debug("observer pid %d uid %u took the state segment", (int)p->cred.pid,
			     (unsigned)p->cred.uid);
		goto close;
	}
	code = cairnd_hello_lane(h, d->store.window, &lay, why, sizeof(why));
	if (code) {
		refuse(c, p, code, why);
		goto close;
	}
	/*
	 * One process must not take every lane. A peer in a pid namespace we cannot see
	 * has pid 0, like every other such peer: they cannot be told apart, so the limit
	 * does not apply to them (--max-clients still does).
	 */
	uint32_t owned = p->cred.pid > 0 ? lanes_of_pid(d, p->cred.pid) : 0;
	if (owned >= d->cfg.max_lanes_per_process) {
		snprintf(why, sizeof(why),
			 "pid %d already holds %u lanes, its most (cairnd --max-lanes-per-process)",
			 (int)p->cred.pid, owned);
		refuse(c, p, CAIRN_E_TOO_MANY_LANES, why);
		goto close;
	}
	/*
	 * Lane memory is shared: what the rings and arena take is the daemon's to bound, as a
	 * hello may ask for ~192 MiB. Lanes still being released count until they are freed.
	 */
	uint64_t held = lane_bytes(d);
	if (held + lay.size > d->cfg.max_lane_bytes) {
		snprintf(why, sizeof(why),
			 "the lane takes %.1f MiB and lanes hold %.1f of the %llu MiB allowed "
			 "(cairnd --max-lane-memory)",
			 (double)lay.size / (1 << 20), (double)held / (1 << 20),
			 (unsigned long long)(d->cfg.max_lane_bytes >> 20));
		refuse(c, p, CAIRN_E_LANE_MEMORY, why);
		goto close;
	}
	struct lane *l = free_lane(d);
	if (!l) {
		snprintf(why, sizeof(why), "all %u lanes are in use (cairnd --max-clients)",
			 d->cfg.max_clients);
		refuse(c, p, CAIRN_E_TOO_MANY_CLIENTS, why);
		goto close;
	}

	int lane_fd;
	char memname[32];
	snprintf(memname, sizeof(memname), "cairn-lane-%u", l->id);
	int r = cairn__memfd_new(memname, lay.size, &lane_fd);
	void *base = NULL;
	if (r == 0) {
		r = cairn__map(lane_fd, lay.size, true, &base);
		if (r == 0) {
			r = cairn__seal_size(lane_fd);
		}
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "cannot create the lane: %s", strerror(-r));
		refuse(c, p, CAIRN_E_TOO_MANY_CLIENTS, why);
		if (base) {
			munmap(base, lay.size);
		}
		if (r != -EMFILE) {
			close(lane_fd);
		}
		goto close;
	}
	uint32_t id = l->id;
	memset(l, 0, sizeof(*l));
	l->id = id;
	l->client_id = ++d->next_client_id;
	l->session_id = session ? session : draw_session();
	l->resumed = session != 0 && session_known(d, session);
	l->sock = p->fd;
	l->pid = p->cred.pid;
	l->uid = p->cred.uid;
	l->gid = p->cred.gid;
	memcpy(l->name, h->name, CAIRN_NAME_SIZE);
	l->name[CAIRN_NAME_SIZE] = '\0';
	for (char *s = l->name; *s; s++) {
		if (*s < 0x20 || *s > 0x7e) {
			*s = '?'; /* the name is shown to operators: printable only */
		}
	}
	l->attached_ns = cairn__now_ns();
	l->base = base;
	l->size = lay.size;
	cairn__lane_init(base, &lay, l->id, l->client_id);
	cairn__ring_attach(&l->cmd, (char *)base + lay.cmd_offset, lay.cmd_capacity);
	cairn__ring_attach(&l->res, (char *)base + lay.res_offset, lay.res_capacity);
	l->blob = (uint8_t *)base + lay.blob_offset;
	l->blob_size = lay.blob_size;
	l->phase = LANE_ATTACHED;
	l->m = d->lane_metrics ? (void *)(d->lane_metrics +
					  (uint64_t)l->id * sizeof(struct cairn_lane_metrics))
			       : NULL;
	publish_lane(d, l, true);

	/* Counted before the welcome, so that a client never fails to see itself. */
	c->attached++;
	publish(c);
	int fds[2] = {d->state_fd, lane_fd};
	send_welcome(d, p->fd, 0, l, fds, 2);
	/* The client holds its own descriptor now; the mapping keeps ours alive. */
	close(lane_fd);
	cairn__info("attached client %llu (pid %d uid %u, \"%s\") on lane %u: rings %u/%u, "
		    "arena %llu KiB",
		    (unsigned long long)l->client_id, (int)l->pid, (unsigned)l->uid, l->name, l->id,
		    lay.cmd_capacity, lay.res_capacity, (unsigned long long)(lay.blob_size >> 10));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = tag(K_CLIENT, l->id)};
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, p->fd, &ev);
	cairnd_post_to_apply(d, EV_ATTACH, l);
	p->fd = -1; /* now owned by the lane */
	return;
close:
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	p->fd = -1;
}

static void remove_pending(struct control *c, struct pending *p)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (p->fd >= 0) {
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, p->fd, NULL);
		close(p->fd);
	}
	c->npending--;
	free(p);
}

static void accept_clients(struct control *c)
{
	for (;;) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				cairn__warn("accept: %s", strerror(errno));
			}
			return;
		}
		struct pending *p = calloc(1, sizeof(*p));
		socklen_t len = sizeof(struct ucred);
		if (!p || c->npending >= MAX_PENDING ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cred, &len) < 0) {
			cairn__warn("dropping a connection: %s",
				    p ? "too many handshakes in progress" : "out of memory");
			c->refused++;
			publish(c);
			free(p);
			close(fd);
			continue;
		}
		p->fd = fd;
		p->deadline = cairn__now_ns() + HANDSHAKE_TIMEOUT_NS;
		p->want = sizeof(struct cairn_hello);
		p->next = c->pending;
		c->pending = p;
		c->npending++;
		if (ep_add(c, fd, K_PENDING, (uint64_t)(uintptr_t)p, EPOLLIN | EPOLLRDHUP) < 0) {
			remove_pending(c, p);
		}
	}
}

static void read_hello(struct control *c, struct pending *p)
{
	ssize_t n;
	do {
		n = recv(p->fd, p->buf + p->got, p->want - p->got, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN) {
		return;
	}
	if (n <= 0) {
		remove_pending(c, p); /* gone before saying hello */
		return;
	}
	p->got += (size_t)n;
	if (p->got == sizeof(struct cairn_hello) && p->want == sizeof(struct cairn_hello)) {
		p->want = cairnd_hello_size(p->buf, p->got);
	}
	if (p->got == p->want) {
		handshake(c, p);
		remove_pending(c, p);
	}
}

static void expire_pending(struct control *c)
{
	uint64_t now = cairn__now_ns();
	struct pending *p = c->pending;
	while (p) {
		struct pending *next = p->next;
		if (now >= p->deadline) {
			refuse(c, p, CAIRN_E_HANDSHAKE, "no hello within 5 s");
			remove_pending(c, p);
		}
		p = next;
	}
}

/* ---- lane lifetimes ---- */

/* Starts the end of a lane's life: the one EV_DETACH it will ever get. */
static void detach(struct control *c, struct lane *l)
{
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, l->sock, NULL);
	l->phase = LANE_DETACHING;
	cairnd_post_to_apply(c->d, EV_DETACH, l);
}

static void client_event(struct control *c, uint32_t lane_id)
{
	struct lane *l = &c->d->lanes[lane_id];
	char buf[256];
	ssize_t n;
	if (l->phase != LANE_ATTACHED) {
		return;
	}
	/* Clients send nothing after the hello; read until EOF or until nothing is left. */
	do {
		n = recv(l->sock, buf, sizeof(buf), MSG_DONTWAIT);
	} while (n > 0 || (n < 0 && errno == EINTR));
	if (n < 0 && errno == EAGAIN) {
		return;
	}
	detach(c, l);
}

static void release_lane(struct control *c, struct lane *l)
{
	if (l->sock >= 0) {
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, l->sock, NULL);
		close(l->sock);
		l->sock = -1;
	}
	if (!l->dropped) {
		c->reclaimed++;
	}
	cairn__info("%s lane %u of client %llu (pid %d)",
		    l->evicted   ? "freed evicted"
		    : l->dropped ? "freed dropped"
				 : "reclaimed",
		    l->id, (unsigned long long)l->client_id, (int)l->pid);
	munmap(l->base, l->size);
	l->base = NULL;
	l->phase = LANE_FREE;
	publish_lane(c->d, l, false);
	publish(c);
}

static void apply_messages(struct control *c)
{
	struct daemon *d = c->d;
	uint64_t v;
	ssize_t r = read(d->control_efd, &v, sizeof(v));
	(void)r;
	for (;;) {
		struct lane_msg m;
		pthread_mutex_lock(&d->to_control_lock);
		bool any = d->n_to_control > 0;
		if (any) {
			m = d->to_control[0];
			memmove(d->to_control, d->to_control + 1,
				(--d->n_to_control) * sizeof(d->to_control[0]));
		}
		pthread_mutex_unlock(&d->to_control_lock);
		if (!any) {
			return;
		}
		if (!m.lane) {
			c->apply_done = true;
		} else if (m.ev == EV_DROPPED) {
			/* The client learns it from EOF (and the lane state) at once. */
			shutdown(m.lane->sock, SHUT_RDWR);
			if (m.lane->phase == LANE_ATTACHED) {
				detach(c, m.lane);
			}
		} else {
			release_lane(c, m.lane);
		}
	}
}

static void begin_stop(struct control *c, const char *why)
{
	if (c->stopping) {
		return;
	}
	cairn__info("%s: draining pending commands, then exiting", why);
	c->stopping = true;
	cairn__store_relaxed(&c->d->hdr->daemon_state, CAIRN_DAEMON_DRAINING);
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->listen_fd, NULL);
	close(c->listen_fd);
	c->listen_fd = -1;
	unlink(c->d->cfg.socket_path);
	cairn__store_release(&c->d->stopping, 1);
	cairn__add_seq_cst(&c->d->apply_bell, 1);
	cairn__futex_wake(&c->d->apply_bell, 1);
}

static void *apply_trampoline(void *arg)
{
	struct daemon *d = arg;
	cairnd_apply_main(d);
	/* A NULL lane tells the control thread that the apply thread has finished. */
	cairnd_post_to_control(d, EV_RELEASED, NULL);
	return NULL;
}

static int start_apply(struct daemon *d)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	if (d->cfg.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(d->cfg.cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	int r = pthread_create(&d->apply_thread, &attr, apply_trampoline, d);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		cairn__error("cannot start the apply thread%s: %s",
			     d->cfg.cpu >= 0 ? " on the requested CPU" : "", strerror(r));
		return -r;
	}
	pthread_setname_np(d->apply_thread, "cairn-apply");
	return 0;
}

int cairnd_run(struct daemon *d)
{
	struct control c = {.d = d, .listen_fd = -1, .sig_fd = -1};
	sigset_t mask;
	int r;

	d->lanes = calloc(d->cfg.max_clients, sizeof(d->lanes[0]));
	/*
	 * A lane has at most two messages queued each way (ATTACH and DETACH; DROPPED and
	 * RELEASED), plus the apply thread's final NULL.
	 */
	d->queue_cap = (size_t)d->cfg.max_clients * 2 + 1;
	d->to_apply = calloc(d->queue_cap, sizeof(d->to_apply[0]));
	d->to_control = calloc(d->queue_cap, sizeof(d->to_control[0]));
	if (!d->lanes || !d->to_apply || !d->to_control) {
		cairn__error("out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		d->lanes[i].id = i;
		d->lanes[i].sock = -1;
	}
	pthread_mutex_init(&d->to_apply_lock, NULL);
	pthread_mutex_init(&d->to_control_lock, NULL);

	/*
	 * Signals arrive through a signalfd here, never as handlers in another thread: block
	 * them before the store starts its threads (and the log its own), which inherit the
	 * mask; a thread that did not block SIGTERM would die of it, and the daemon with it.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	struct sockaddr_un sa;
	r = claim_socket_path(d->cfg.socket_path, &sa);
	if (r < 0) {
		return r;
	}
	/* Bound before the recovery, so that a port in use is said at once. */
	r = cairnd_metrics_http_open(d);
	if (r < 0) {
		return r;
	}
	r = make_state(d, d->numa_node);
	if (r < 0) {
		return r;
	}
	r = cairnd_store_open(d);
	if (r < 0) {
		cairnd_store_close(d);
		return r;
	}
	/*
	 * Only now: the log holds accepted commands only, so recovery replays them without
	 * the limit, and a hunt that a lower limit than before would have refused keeps its
	 * players.
	 */
	cairn__engine_set_max_players(d->engine, d->cfg.max_players_per_hunt);
	signal(SIGPIPE, SIG_IGN);
	c.epfd = epoll_create1(EPOLL_CLOEXEC);
	c.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->control_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c.epfd < 0 || c.sig_fd < 0 || d->control_efd < 0) {
		cairn__error("cannot set up the control thread: %s", strerror(errno));
		return -errno;
	}
	ep_add(&c, c.sig_fd, K_SIGNAL, 0, EPOLLIN);
	ep_add(&c, d->control_efd, K_EVENT, 0, EPOLLIN);
	r = open_listener(&c);
	if (r < 0) {
		return r;
	}
	r = cairnd_solver_start(d);
	if (r < 0) {
		unlink(d->cfg.socket_path);
		cairnd_solver_stop(d);
		cairnd_store_close(d);
		return r;
	}
	r = start_apply(d);
	if (r < 0) {
		unlink(d->cfg.socket_path);
		return r;
	}
	int http_err = cairnd_metrics_http_start(d);
	if (http_err < 0) {
		/* The apply thread runs: stop it as SIGTERM would, then report. */
		begin_stop(&c, "the metrics endpoint did not start");
	}
	cairn__store_relaxed(&d->hdr->daemon_state, CAIRN_DAEMON_RUNNING);
	cairn__info("listening on %s (max %u clients, protocol %d.%d)", d->cfg.socket_path,
		    d->cfg.max_clients, CAIRN_PROTO_MAJOR, CAIRN_PROTO_MINOR);

	while (!c.apply_done) {
		struct epoll_event evs[32];
		int n = epoll_wait(c.epfd, evs, 32, 100);
		if (n < 0 && errno != EINTR) {
			cairn__error("epoll_wait: %s", strerror(errno));
			begin_stop(&c, "internal error");
		}
		for (int i = 0; i < n; i++) {
			enum conn_kind k = (enum conn_kind)(evs[i].data.u64 >> 56);
			uint64_t v = evs[i].data.u64 & ((UINT64_C(1) << 56) - 1);
			switch (k) {
			case K_LISTEN:
				accept_clients(&c);
				break;
			case K_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(c.sig_fd, &si, sizeof(si)) == sizeof(si)) {
					begin_stop(&c,
						   si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
				}
				break;
			}
			case K_EVENT:
				apply_messages(&c);
				break;
			case K_PENDING:
				read_hello(&c, (struct pending *)(uintptr_t)v);
				break;
			case K_CLIENT:
				client_event(&c, (uint32_t)v);
				break;
			}
		}
		expire_pending(&c);
		sample_daemon(d);
	}
	pthread_join(d->apply_thread, NULL);
	/* The endpoint reads the state segment: it stops before anything is torn down. */
	cairnd_metrics_http_stop(d);
	cairnd_solver_stop(d);
	cairnd_store_close(d);
	cairn__store_relaxed(&d->hdr->daemon_state, CAIRN_DAEMON_STOPPED);
	for (uint32_t i = 0; i < d->cfg.max_clients; i++) {
		struct lane *l = &d->lanes[i];
		if (l->phase != LANE_FREE) {
			cairn__store_release(&((struct cairn_lane_header *)l->base)->lane_state,
					     CAIRN_LANE_CLOSED);
			if (l->sock >= 0) {
				close(l->sock);
			}
			munmap(l->base, l->size);
		}
	}
	while (c.pending) {
		remove_pending(&c, c.pending);
	}
	if (c.listen_fd >= 0) {
		close(c.listen_fd);
		unlink(d->cfg.socket_path);
	}
	close(c.epfd);
	close(c.sig_fd);
	close(d->control_efd);
	cairn__engine_free(d->engine);
	d->engine = NULL;
	return http_err < 0 ? http_err : d->apply_result;
}
