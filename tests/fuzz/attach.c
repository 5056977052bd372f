/*
 * Fuzz target: the attach handshake, from both ends.
 *
 * The daemon's end: a hello as read from a connecting client (cairnd_hello_size decides
 * how much of it is read, as read_hello does), checked (cairnd_hello_check), and the lane
 * it asks for planned (cairnd_hello_lane) under a dedup window cairnd accepts.
 *
 * The client's end: a welcome with up to three descriptors, sent over a real socketpair
 * and received by cairn__recv_welcome; then the state and lane segments it names,
 * memfds holding bytes from the input (or segments made as cairnd makes them, with bytes
 * of the input written over their start), mapped and validated by cairn__lane_map, and
 * the grid view and event template set up (cairn__grid_attach, cairn__events_attach).
 *
 * Input: a flags byte, then the hello, the welcome, the state segment and the lane
 * segment, separated by SEP.
 *
 * Oracles:
 *  - the hello check answers 0, HANDSHAKE or VERSION with a reason, and accepts only a
 *    hello with the magic, known flags, a session id when it says one follows and the
 *    protocol's major;
 *  - a lane request that cairn__lane_plan accepts is granted (the window cuts the
 *    result ring, never refuses the request), and the lane the daemon then lays out is
 *    one the client's validator accepts, with the same layout;
 *  - the welcome is accepted only whole, with the magic, the major, status 0 and both
 *    descriptors (more are closed); a refusal comes back as its own code;
 *  - no descriptor is left open, whatever happened;
 *  - segments the validators accept are used as they say without a fault: both rings
 *    take a message and give it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client.h"
#include "daemon/daemon.h"
#include "fuzz.h"
#include "segment_kit.h"

#define NFDS_MASK  0x03 /* descriptors sent with the welcome: 0 to 3 */
#define MADE_STATE 0x04 /* the state segment is cairnd's, its start overwritten */
#define MADE_LANE  0x08 /* the lane likewise */
#define WINDOW     0x30 /* the dedup window: 0 (no data directory), 2, 64, 4096 */
#define SEAL_LANE  0x40 /* the lane is sealed against writable mappings */

static const char SEP[8] = {'\n', 'A', 'T', 'T', 'A', 'C', 'H', '\n'};

static void check_hello(const uint8_t *buf, size_t got, uint32_t window)
{
	/* read_hello: a hello, then its session when its flags say so, else no handshake. */
	if (got < sizeof(struct cairn_hello)) {
		return;
	}
	size_t want = cairnd_hello_size(buf, sizeof(struct cairn_hello));
	FZ_CHECK(want == sizeof(struct cairn_hello) ||
			 want == sizeof(struct cairn_hello) + sizeof(struct cairn_hello_session),
		 "hello size %zu", want);
	if (got < want) {
		return;
	}
	struct cairnd_hello h;
	char why[160] = "";
	int code = cairnd_hello_check(buf, want, &h, why, sizeof(why));
	if (code) {
		FZ_CHECK(code == CAIRN_E_HANDSHAKE || code == CAIRN_E_VERSION,
			 "hello refused with %d", code);
		FZ_CHECK(why[0] != '\0', "hello refused without a reason");
		return;
	}
	struct cairn_hello raw;
	memcpy(&raw, buf, sizeof(raw));
	FZ_CHECK(raw.magic == CAIRN_HELLO_MAGIC && raw.version_major == CAIRN_PROTO_MAJOR &&
			 (raw.flags & ~(uint32_t)(CAIRN_HELLO_SESSION | CAIRN_HELLO_OBSERVE)) ==
				 0 &&
			 memcmp(&h.h, &raw, sizeof(raw)) == 0,
		 "accepted a hello with magic %016llx, major %u, flags %x",
		 (unsigned long long)raw.magic, raw.version_major, raw.flags);
	FZ_CHECK(h.observe == ((raw.flags & CAIRN_HELLO_OBSERVE) != 0) &&
			 (h.session != 0) == ((raw.flags & CAIRN_HELLO_SESSION) != 0),
		 "hello flags %x read as observe %d, session %016llx", raw.flags, h.observe,
		 (unsigned long long)h.session);
	if (h.observe) {
		return;
	}
	struct cairn__lane_layout lay, asked;
	code = cairnd_hello_lane(&h.h, window, &lay, why, sizeof(why));
	bool valid =
		cairn__lane_plan(raw.cmd_capacity, raw.res_capacity, raw.blob_size, &asked) == 0;
	FZ_CHECK(code == 0 || code == CAIRN_E_LAYOUT, "hello_lane: %d", code);
	FZ_CHECK(valid == (code == 0),
		 "lane request %u/%u slots, %u bytes: %s by the plan, %s under window %u (%s)",
		 raw.cmd_capacity, raw.res_capacity, raw.blob_size, valid ? "valid" : "invalid",
		 code ? "refused" : "granted", window, why);
	if (code) {
		return;
	}
	FZ_CHECK(lay.cmd_capacity == asked.cmd_capacity && lay.blob_size == asked.blob_size &&
			 lay.res_capacity <= asked.res_capacity &&
			 (window == 0 || lay.res_capacity <= window),
		 "granted %u/%u slots for %u/%u under window %u", lay.cmd_capacity,
		 lay.res_capacity, asked.cmd_capacity, asked.res_capacity, window);
	if (lay.size > (8u << 20)) {
		return; /* a real lane would be a memfd of that size: too big to fuzz quickly */
	}
	/* The lane the daemon makes for it is one the client accepts, as planned. */
	uint8_t *base = aligned_alloc(4096, lay.size);
	FZ_SETUP(base, "out of memory");
	cairn__lane_init(base, &lay, 1, 1);
	struct cairn__lane_layout seen;
	int r = cairn__lane_validate(base, lay.size, &seen);
	FZ_CHECK(r == 0 && memcmp(&seen, &lay, sizeof(lay)) == 0,
		 "the lane made for %u/%u slots is refused by the client (%d)", lay.cmd_capacity,
		 lay.res_capacity, r);
	free(base);
}

/* A memfd holding a segment: cairnd's own, overwritten at the start, or just bytes. */
static int segment_fd(const uint8_t *p, size_t len, bool made, bool state, bool seal)
{
	int fd = memfd_create("fuzz-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	FZ_SETUP(fd >= 0, "memfd_create");
	uint8_t *base = NULL;
	size_t size = len;
	if (made) {
		struct cairn__lane_layout lay;
		base = state ? fz_state_segment(&size) : fz_lane_segment(4, 4, 4096, &lay);
		if (!state) {
			size = lay.size;
		}
		memcpy(base, p, len < size ? len : size);
		p = base;
	}
	FZ_SETUP(ftruncate(fd, (off_t)size) == 0, "ftruncate");
	for (size_t done = 0; done < size;) {
		ssize_t w = pwrite(fd, p + done, size - done, (off_t)done);
		FZ_SETUP(w > 0, "pwrite");
		done += (size_t)w;
	}
	free(base);
	if (seal) {
		FZ_SETUP(cairn__seal_readonly(fd) == 0, "seal");
	}
	return fd;
}

/* Uses an accepted lane as a client would: a message through each ring. */
static void use_lane(struct cairn__lane *l)
{
	struct cairn_msg m, back;
	memset(&m, 0, sizeof(m));
	m.hdr.type = CAIRN_MSG_PING;
	m.hdr.request_id = 42;
	/* The rings are whatever the segment says: full, empty or stuck; never a fault. */
	if (cairn__ring_try_push(&l->cmd, &m)) {
		cairn__ring_try_pop(&l->cmd, &back);
	}
	if (cairn__ring_try_push(&l->res, &m)) {
		cairn__ring_try_pop(&l->res, &back);
	}
	if (l->blob_size) {
		l->blob[0] ^= 1;
		l->blob[l->blob_size - 1] ^= 1;
	}
}

static void check_welcome(const uint8_t *wb, size_t wlen, unsigned nfds, int state_fd, int lane_fd)
{
	int sv[2];
	FZ_SETUP(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	int send_fds[3] = {state_fd, lane_fd, state_fd};
	uint8_t empty = 0;
	struct iovec iov = {.iov_base = wlen ? (void *)wb : &empty, .iov_len = wlen ? wlen : 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), send_fds, sizeof(int) * nfds);
	}
	/* An empty welcome is no message at all: the daemon hung up. */
	if (wlen) {
		FZ_SETUP(sendmsg(sv[0], &mh, MSG_NOSIGNAL) == (ssize_t)wlen, "sendmsg");
	}
	close(sv[0]);

	struct cairn_welcome w;
	int fds[2] = {-1, -1};
	int rc = cairn__recv_welcome(sv[1], &w, fds, 2);
	close(sv[1]);
	struct cairn_welcome raw;
	memset(&raw, 0, sizeof(raw));
	memcpy(&raw, wb, wlen < sizeof(raw) ? wlen : sizeof(raw));
	/* A stream: the welcome is the first sizeof(raw) bytes, whatever follows them. */
	bool whole = wlen >= sizeof(raw) && raw.magic == CAIRN_WELCOME_MAGIC;
	if (rc == 0) {
		/* Descriptors beyond the two expected are closed, not refused. */
		FZ_CHECK(whole && raw.version_major == CAIRN_PROTO_MAJOR && raw.status == 0 &&
				 nfds >= 2 && fds[0] >= 0 && fds[1] >= 0,
			 "accepted a welcome of %zu bytes, magic %016llx, major %u, status %d, %u "
			 "descriptors",
			 wlen, (unsigned long long)raw.magic, raw.version_major, raw.status, nfds);
	} else if (whole && raw.version_major == CAIRN_PROTO_MAJOR && raw.status != 0) {
		FZ_CHECK(rc == (raw.status > 0 ? -raw.status : -CAIRN_E_HANDSHAKE),
			 "a refusal with status %d came back as %d", raw.status, rc);
	} else {
		FZ_CHECK(rc == -CAIRN_E_HANDSHAKE || rc == -CAIRN_E_VERSION ||
				 rc == -CAIRN_E_DISCONNECTED,
			 "a welcome of %zu bytes (status %d) came back as %d", wlen, raw.status,
			 rc);
	}
	if (rc < 0) {
		return;
	}

	struct cairn__lane *l = calloc(1, sizeof(*l));
	FZ_SETUP(l, "out of memory");
	l->sock = -1;
	pthread_mutex_init(&l->paths.lock, NULL);
	int r = cairn__lane_map(l, fds[0], fds[1]);
	close(fds[0]);
	close(fds[1]);
	FZ_CHECK(r == 0 || r == -CAIRN_E_BAD_MAGIC || r == -CAIRN_E_VERSION ||
			 r == -CAIRN_E_LAYOUT || r == -ENOMEM || r == -EPERM || r == -EACCES,
		 "lane_map: %d", r);
	if (r == 0) {
		cairn__grid_attach(l);
		cairn__events_attach(l);
		FZ_CHECK(l->grid.err == 0 || l->grid.err == -CAIRN_E_LAYOUT, "grid_attach: %d",
			 l->grid.err);
		FZ_CHECK(l->events_err == 0 || l->events_err == -ENOTSUP ||
				 l->events_err == -CAIRN_E_LAYOUT,
			 "events_attach: %d", l->events_err);
		use_lane(l);
	}
	cairn__lane_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Windows cairnd accepts (--dedup-window): none, the smallest, one that cuts, the default.
	 */
	static const uint32_t windows[4] = {0, CAIRN_RING_MIN_CAPACITY, 64, 4096};
	int fds_before = fz_open_fds();
	struct fz f = fz_init(data, size);
	uint8_t flags = fz_u8(&f);
	size_t hlen, wlen, slen, llen;
	const uint8_t *hello = fz_split(&f, SEP, sizeof(SEP), &hlen);
	const uint8_t *welcome = fz_split(&f, SEP, sizeof(SEP), &wlen);
	const uint8_t *state = fz_split(&f, SEP, sizeof(SEP), &slen);
	const uint8_t *lane = fz_split(&f, SEP, sizeof(SEP), &llen);

	check_hello(hello, hlen, windows[(flags & WINDOW) >> 4]);

	if (wlen > 256) {
		wlen = 256;
	}
	int state_fd = segment_fd(state, slen, flags & MADE_STATE, true, false);
	int lane_fd = segment_fd(lane, llen, flags & MADE_LANE, false, flags & SEAL_LANE);
	check_welcome(welcome, wlen, flags & NFDS_MASK, state_fd, lane_fd);
	close(state_fd);
	close(lane_fd);
	FZ_CHECK(fz_open_fds() == fds_before, "%d descriptors open after the attach, %d before",
		 fz_open_fds(), fds_before);
	return 0;
}
