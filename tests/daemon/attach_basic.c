/*
 * attach_basic: one client against one daemon. Attach, every command the daemon serves
 * and every way a single command can be wrong, the submit/poll/wait path, what the
 * daemon publishes about itself, the error names, the seals on the segments (and every
 * trick a host might try to write the state segment anyway), and what cairn_open says
 * when there is no daemon at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define SEC (1000 * 1000 * 1000ll)

static struct h_rng rng;
/* Every ERROR result this test has caused; this client is the daemon's only one. */
static unsigned errors_caused;

static struct cairn_msg make(uint16_t type, uint8_t length)
{
	struct cairn_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.length = length;
	return m;
}

/* Calls m, which must fail with code; returns the ERROR result's detail. */
static uint32_t expect_error(cairn_client *c, struct cairn_msg m, int code)
{
	struct cairn_msg res;
	struct cairn_error_info e;
	int r = cairn_call(c, &m, &res, 2 * SEC);
	if (r != -code) {
		T_FAILF("type 0x%x flags 0x%x length %u: cairn_call returned %d (%s), expected "
			"-%s",
			m.hdr.type, m.hdr.flags, m.hdr.length, r, cairn_strerror(r),
			cairn_error_name(code));
	}
	ASSERT_EQ(res.hdr.type, CAIRN_MSG_ERROR);
	ASSERT_EQ(res.hdr.status, code);
	ASSERT_EQ(res.hdr.flags, 0);
	ASSERT_EQ(res.hdr.length, CAIRN_MSG_ERROR_LEN_MIN);
	ASSERT_UEQ(res.hdr.request_id, m.hdr.request_id);
	memcpy(&e, res.payload, sizeof(e));
	ASSERT_EQ(e.request_type, m.hdr.type);
	errors_caused++;
	return e.detail;
}

static void check_no_daemon(void)
{
	struct h_daemon *scratch = h_prepare();
	cairn_client *c = (cairn_client *)1;
	char path[160];

	snprintf(path, sizeof(path), "%s/missing/cairnd.sock", scratch->dir);
	int r = cairn_open(path, NULL, &c);
	ASSERT_EQ(r, -ENOENT);
	ASSERT_TRUE(c == NULL);
	ASSERT_TRUE(strlen(cairn_strerror(r)) > 0);
	h_ok("cairn_open with no socket file: %d (%s), *out = NULL", r, cairn_strerror(r));

	/* A socket file whose listener has gone: what a crashed daemon leaves behind. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", scratch->sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	r = cairn_open(scratch->sock, NULL, &c);
	ASSERT_EQ(r, -ECONNREFUSED);
	ASSERT_TRUE(strlen(cairn_strerror(r)) > 0);
	h_ok("cairn_open on a stale socket: %d (%s)", r, cairn_strerror(r));

	char longpath[300];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ASSERT_EQ(cairn_open(longpath, NULL, &c), -ENAMETOOLONG);
	ASSERT_EQ(cairn_open(scratch->sock, NULL, NULL), -EINVAL);
	h_ok("cairn_open with a too long path: -ENAMETOOLONG; with out == NULL: -EINVAL");
}

static void check_info(cairn_client *c, const struct h_daemon *d)
{
	struct cairn_daemon_info info;
	struct timespec now;
	ASSERT_OK(cairn_daemon_info(c, &info));
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t wall = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	ASSERT_EQ(info.pid, d->pid);
	ASSERT_EQ(info.state, CAIRN_DAEMON_RUNNING);
	ASSERT_EQ(info.max_lanes, 64);
	ASSERT_EQ(info.apply_cpu, -1);
	ASSERT_TRUE(info.lane_id < info.max_lanes);
	ASSERT_TRUE(info.client_id >= 1);
	ASSERT_TRUE(info.boot_epoch_ns <= wall && info.boot_epoch_ns > wall - 60 * (uint64_t)SEC);
	ASSERT_LT(info.heartbeat_age_ns, SEC);
	/* Counters are published a little after the fact; wait for our own attach. */
	ASSERT_UEQ(h_wait_counter(c, H_CTR(lanes_attached), 1, false, 2000), 1);
	ASSERT_UEQ(h_wait_counter(c, H_CTR(lanes_active), 1, true, 2000), 1);
	h_ok("daemon info: pid %u (the child), RUNNING, 64 lanes, unpinned, lane %u, client %llu, "
	     "heartbeat %llu us old, 1 lane active",
	     info.pid, info.lane_id, (unsigned long long)info.client_id,
	     (unsigned long long)(info.heartbeat_age_ns / 1000));
}

static void check_ping(cairn_client *c)
{
	struct cairn_msg m = make(CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN), res;
	struct cairn_ping p = {.client_stamp = h_rng_next(&rng)};
	struct cairn_pong q;
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	memcpy(m.payload, &p, sizeof(p));
	uint64_t before = h_now_ns();
	ASSERT_OK(cairn_call(c, &m, &res, 2 * SEC));
	uint64_t after = h_now_ns();
	ASSERT_TRUE(m.hdr.request_id & CAIRN_CALL_ID_BIT);
	ASSERT_UEQ(res.hdr.request_id, m.hdr.request_id);
	ASSERT_EQ(res.hdr.type, CAIRN_MSG_PONG);
	ASSERT_EQ(res.hdr.length, CAIRN_MSG_PONG_LEN_MIN);
	ASSERT_EQ(res.hdr.status, 0);
	memcpy(&q, res.payload, sizeof(q));
	ASSERT_UEQ(q.client_stamp, p.client_stamp);
	/* Both sides read CLOCK_MONOTONIC: the ingress stamp falls inside our call. */
	ASSERT_TRUE(q.ingress_ns >= before && q.ingress_ns <= after);
	h_ok("PING: PONG with our stamp, ingress stamp inside the call, round trip %llu us",
	     (unsigned long long)((after - before) / 1000));
}

static void check_echo(cairn_client *c)
{
	static const uint8_t lengths[] = {0, 1, 7, 8, 17, 39, 40};
	for (unsigned i = 0; i < sizeof(lengths); i++) {
		struct cairn_msg m = make(CAIRN_MSG_ECHO, lengths[i]), res;
		uint8_t want[CAIRN_PAYLOAD_SIZE];
		h_rng_fill(&rng, want, sizeof(want));
		memcpy(m.payload, want, lengths[i]);
		ASSERT_OK(cairn_call(c, &m, &res, 2 * SEC));
		ASSERT_EQ(res.hdr.type, CAIRN_MSG_ECHO_REPLY);
		ASSERT_EQ(res.hdr.length, lengths[i]);
		ASSERT_EQ(res.hdr.status, 0);
		ASSERT_UEQ(res.hdr.request_id, m.hdr.request_id);
		ASSERT_TRUE(memcmp(res.payload, want, lengths[i]) == 0);
	}
	struct cairn_msg m, res;
	ASSERT_EQ(cairn_msg_init(&m, CAIRN_MSG_ECHO, CAIRN_PAYLOAD_SIZE + 1), -EINVAL);
	m = make(CAIRN_MSG_ECHO, 0);
	m.hdr.length = CAIRN_PAYLOAD_SIZE + 1;
	ASSERT_EQ(cairn_call(c, &m, &res, SEC), -EINVAL);
	h_ok("ECHO of 0, 1, 7, 8, 17, 39 and 40 bytes returned intact; 41 bytes refused by "
	     "the client (-EINVAL)");
}

static struct cairn_msg blob_cmd(uint32_t in_off, uint32_t in_len, uint32_t out_off,
				 uint32_t out_cap)
{
	struct cairn_msg m = make(CAIRN_MSG_ECHO_BLOB, CAIRN_MSG_ECHO_BLOB_LEN_MIN);
	struct cairn_echo_blob q = {.in_offset = in_off,
				    .in_length = in_len,
				    .out_offset = out_off,
				    .out_capacity = out_cap};
	memcpy(m.payload, &q, sizeof(q));
	return m;
}

/* ECHO_BLOB that must succeed: out gets exactly the in bytes, nothing around it changes. */
static void blob_ok(cairn_client *c, uint8_t *blob, size_t size, uint32_t in_off, uint32_t in_len,
		    uint32_t out_off, uint32_t out_cap)
{
	uint8_t *before = malloc(size);
	ASSERT_TRUE(before != NULL);
	h_rng_fill(&rng, blob, size);
	memcpy(before, blob, size);
	struct cairn_msg m = blob_cmd(in_off, in_len, out_off, out_cap), res;
	struct cairn_echo_blob_reply a;
	ASSERT_OK(cairn_call(c, &m, &res, 2 * SEC));
	ASSERT_EQ(res.hdr.type, CAIRN_MSG_ECHO_BLOB_REPLY);
	ASSERT_EQ(res.hdr.length, CAIRN_MSG_ECHO_BLOB_REPLY_LEN_MIN);
	memcpy(&a, res.payload, sizeof(a));
	ASSERT_UEQ(a.out_offset, out_off);
	ASSERT_UEQ(a.out_length, in_len);
	/* memmove semantics: the output holds the input as it was before the copy. */
	memmove(before + out_off, before + in_off, in_len);
	ASSERT_TRUE(memcmp(blob, before, size) == 0);
	free(before);
}

static void check_echo_blob(cairn_client *c)
{
	size_t size = 0;
	uint8_t *blob = cairn_blob(c, &size);
	ASSERT_TRUE(blob != NULL);
	ASSERT_UEQ(size, CAIRN_BLOB_DEFAULT_SIZE);
	uint32_t sz = (uint32_t)size;

	blob_ok(c, blob, size, 100, 5000, 200000, 8000);
	blob_ok(c, blob, size, 0, 0, 64, 0);
	blob_ok(c, blob, size, sz - 64, 64, 0, 64);
	blob_ok(c, blob, size, 0, 4096, sz - 4096, 4096);
	blob_ok(c, blob, size, 1000, 4000, 1500, 4000); /* overlapping, forwards */
	blob_ok(c, blob, size, 1500, 4000, 1000, 4000); /* overlapping, backwards */
	h_ok("ECHO_BLOB: copies inside the arena (to its end, empty, overlapping both ways), "
	     "nothing else touched");

	/* A refused copy must not write anything. */
	h_rng_fill(&rng, blob, size);
	uint8_t *before = malloc(size);
	ASSERT_TRUE(before != NULL);
	memcpy(before, blob, size);
	ASSERT_EQ(expect_error(c, blob_cmd(0, 5000, 8192, 4999), CAIRN_E_BLOB_TOO_SMALL), 5000);
	expect_error(c, blob_cmd(0, 1, 8192, 0), CAIRN_E_BLOB_TOO_SMALL);
	expect_error(c, blob_cmd(sz, 1, 0, 16), CAIRN_E_BLOB_RANGE);
	expect_error(c, blob_cmd(sz - 10, 11, 0, 16), CAIRN_E_BLOB_RANGE);
	expect_error(c, blob_cmd(0, 16, sz - 8, 16), CAIRN_E_BLOB_RANGE);
	expect_error(c, blob_cmd(0, 16, sz + 4096, 16), CAIRN_E_BLOB_RANGE);
	expect_error(c, blob_cmd(0, sz + 1, 0, sz + 1), CAIRN_E_BLOB_RANGE);
	/* offset + length wraps around 2^32 to a small number: still out of range. */
	expect_error(c, blob_cmd(0xFFFFFF00u, 0x200, 0, 0x200), CAIRN_E_BLOB_RANGE);
	expect_error(c, blob_cmd(0, 0x20, 0xFFFFFFF0u, 0x20), CAIRN_E_BLOB_RANGE);
	expect_error(c, blob_cmd(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu),
		     CAIRN_E_BLOB_RANGE);
	ASSERT_TRUE(memcmp(blob, before, size) == 0);
	free(before);
	struct cairn_msg m = blob_cmd(0, 16, 64, 16);
	m.hdr.length = 8;
	expect_error(c, m, CAIRN_E_BAD_LENGTH);
	h_ok("ECHO_BLOB: out_capacity too small -> BLOB_TOO_SMALL; ranges past the arena or "
	     "wrapping u32 -> BLOB_RANGE; the arena unchanged");
}

static void check_bad_commands(cairn_client *c)
{
	unsigned n = 0;
	struct cairn_msg m;

	ASSERT_UEQ(expect_error(c, make(0x1234, 0), CAIRN_E_UNKNOWN_TYPE), 0x1234);
	expect_error(c, make(0, 0), CAIRN_E_UNKNOWN_TYPE);
	expect_error(c, make(0x7fff, 8), CAIRN_E_UNKNOWN_TYPE);
	n += 3;
	/* Results are not commands, even though their types are known. */
	expect_error(c, make(CAIRN_MSG_PONG, CAIRN_MSG_PONG_LEN_MIN), CAIRN_E_UNKNOWN_TYPE);
	expect_error(c, make(CAIRN_MSG_ECHO_REPLY, 4), CAIRN_E_UNKNOWN_TYPE);
	expect_error(c, make(CAIRN_MSG_ECHO_BLOB_REPLY, 8), CAIRN_E_UNKNOWN_TYPE);
	expect_error(c, make(CAIRN_MSG_ERROR, CAIRN_MSG_ERROR_LEN_MIN), CAIRN_E_UNKNOWN_TYPE);
	n += 4;
	static const uint8_t flags[] = {1, 2, 0x80, 0xff};
	for (unsigned i = 0; i < sizeof(flags); i++) {
		m = make(CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
		m.hdr.flags = flags[i];
		ASSERT_UEQ(expect_error(c, m, CAIRN_E_BAD_FLAGS), flags[i]);
		m = make(CAIRN_MSG_ECHO, 12);
		m.hdr.flags = flags[i];
		expect_error(c, m, CAIRN_E_BAD_FLAGS);
		n += 2;
	}
	static const uint8_t ping_lengths[] = {0, 7, 9, 16, 40};
	for (unsigned i = 0; i < sizeof(ping_lengths); i++) {
		m = make(CAIRN_MSG_PING, ping_lengths[i]);
		ASSERT_UEQ(expect_error(c, m, CAIRN_E_BAD_LENGTH), ping_lengths[i]);
		n++;
	}
	/* The lane still works after every kind of error. */
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	uint64_t errors = h_wait_counter(c, H_CTR(errors), errors_caused, true, 2000);
	ASSERT_UEQ(errors, errors_caused);
	h_ok("unknown types, result types as commands -> UNKNOWN_TYPE; nonzero flags -> "
	     "BAD_FLAGS; PING of 0/7/9/16/40 bytes -> BAD_LENGTH (%u errors); counters.errors "
	     "is exactly the %u error results of this test",
	     n, errors_caused);
}

static void check_submit_wait(cairn_client *c)
{
	enum { N = 500 };
	static struct cairn_msg sent[N];
	static bool seen[N];
	struct cairn_msg res;
	uint64_t commands0 = h_counter(c, H_CTR(commands));

	ASSERT_EQ(cairn_poll(c, &res), -EAGAIN);
	uint64_t t0 = h_now_ns();
	ASSERT_EQ(cairn_wait(c, &res, 20 * 1000 * 1000), -ETIMEDOUT);
	ASSERT_TRUE(h_now_ns() - t0 >= 20 * 1000 * 1000);
	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < N; i++) {
		if (i % 2) {
			struct cairn_ping p = {.client_stamp = i};
			sent[i] = make(CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
			memcpy(sent[i].payload, &p, sizeof(p));
		} else {
			sent[i] = make(CAIRN_MSG_ECHO, (uint8_t)(i % (CAIRN_PAYLOAD_SIZE + 1)));
			h_rng_fill(&rng, sent[i].payload, sent[i].hdr.length);
		}
		/* Every tenth command brings its own id; the others get one assigned. */
		if (i % 10 == 0) {
			sent[i].hdr.request_id = 0x5eed0000ull + i;
		}
		ASSERT_OK(cairn_submit(c, &sent[i]));
		ASSERT_TRUE(sent[i].hdr.request_id != 0);
		ASSERT_TRUE(!(sent[i].hdr.request_id & CAIRN_CALL_ID_BIT));
		if (i % 10 == 0) {
			ASSERT_UEQ(sent[i].hdr.request_id, 0x5eed0000ull + i);
		}
	}
	for (unsigned k = 0; k < N; k++) {
		ASSERT_OK(cairn_wait(c, &res, 2 * SEC));
		unsigned i;
		for (i = 0; i < N; i++) {
			if (sent[i].hdr.request_id == res.hdr.request_id) {
				break;
			}
		}
		if (i == N) {
			T_FAILF("result with unknown request id %llu",
				(unsigned long long)res.hdr.request_id);
		}
		ASSERT_TRUE(!seen[i]);
		seen[i] = true;
		if (sent[i].hdr.type == CAIRN_MSG_PING) {
			struct cairn_pong q;
			ASSERT_EQ(res.hdr.type, CAIRN_MSG_PONG);
			memcpy(&q, res.payload, sizeof(q));
			ASSERT_UEQ(q.client_stamp, i);
		} else {
			ASSERT_EQ(res.hdr.type, CAIRN_MSG_ECHO_REPLY);
			ASSERT_EQ(res.hdr.length, sent[i].hdr.length);
			ASSERT_TRUE(memcmp(res.payload, sent[i].payload, res.hdr.length) == 0);
		}
	}
	ASSERT_EQ(cairn_poll(c, &res), -EAGAIN);
	h_ok("cairn_submit of %d commands without waiting, then cairn_wait: each result once, "
	     "matched by request id (assigned and chosen), payloads intact; poll on empty -> "
	     "-EAGAIN, wait -> -ETIMEDOUT",
	     N);

	struct cairn_msg bad = make(CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
	bad.hdr.request_id = CAIRN_CALL_ID_BIT | 7;
	ASSERT_EQ(cairn_submit(c, &bad), -EINVAL);

	/* The batch calls: one claim for many commands, many results per call. */
	struct cairn_msg batch[64], out[64];
	for (unsigned i = 0; i < 64; i++) {
		batch[i] = make(CAIRN_MSG_ECHO, 8);
		uint64_t v = 1000 + i;
		memcpy(batch[i].payload, &v, sizeof(v));
	}
	ASSERT_EQ(cairn_submit_batch(c, batch, 64), 64);
	unsigned got = 0;
	uint64_t deadline = h_now_ns() + 2 * SEC;
	while (got < 64) {
		int k = cairn_poll_batch(c, out + got, 64 - got);
		ASSERT_TRUE(k >= 0);
		got += (unsigned)k;
		ASSERT_TRUE(h_now_ns() < deadline);
	}
	for (unsigned i = 0; i < 64; i++) {
		uint64_t v;
		ASSERT_UEQ(out[i].hdr.request_id, batch[i].hdr.request_id);
		memcpy(&v, out[i].payload, sizeof(v));
		ASSERT_UEQ(v, 1000 + i);
	}
	ASSERT_EQ(cairn_poll_batch(c, out, 64), 0);
	h_ok("cairn_submit_batch of 64 and cairn_poll_batch: results in order, intact");

	uint64_t want = commands0 + N + 64;
	uint64_t commands1 = h_wait_counter(c, H_CTR(commands), want, false, 2000);
	ASSERT_TRUE(commands1 >= want);
	h_ok("counters.commands grew from %llu to %llu", (unsigned long long)commands0,
	     (unsigned long long)commands1);
}

static void check_strerror(void)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{CAIRN_E_BAD_MAGIC, "BAD_MAGIC"},
		{CAIRN_E_VERSION, "VERSION"},
		{CAIRN_E_LAYOUT, "LAYOUT"},
		{CAIRN_E_UNKNOWN_TYPE, "UNKNOWN_TYPE"},
		{CAIRN_E_BAD_LENGTH, "BAD_LENGTH"},
		{CAIRN_E_BAD_FLAGS, "BAD_FLAGS"},
		{CAIRN_E_BLOB_RANGE, "BLOB_RANGE"},
		{CAIRN_E_BLOB_TOO_SMALL, "BLOB_TOO_SMALL"},
		{CAIRN_E_DENIED, "DENIED"},
		{CAIRN_E_TOO_MANY_CLIENTS, "TOO_MANY_CLIENTS"},
		{CAIRN_E_HANDSHAKE, "HANDSHAKE"},
		{CAIRN_E_DISCONNECTED, "DISCONNECTED"},
		{CAIRN_E_LANE_DROPPED, "LANE_DROPPED"},
		{CAIRN_E_SHUTTING_DOWN, "SHUTTING_DOWN"},
		{CAIRN_E_BAD_REPLY, "BAD_REPLY"},
	};
	const char *unknown = cairn_strerror(-(CAIRN_E__LAST + 100));
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *msg = cairn_strerror(-names[i].code);
		ASSERT_TRUE(msg && *msg);
		ASSERT_TRUE(strcmp(msg, unknown) != 0);
		ASSERT_STREQ(cairn_strerror(names[i].code), msg);
		ASSERT_TRUE(cairn_error_name(-names[i].code) != NULL);
		ASSERT_STREQ(cairn_error_name(-names[i].code), names[i].name);
		for (unsigned j = 0; j < i; j++) {
			ASSERT_TRUE(strcmp(cairn_strerror(-names[j].code), msg) != 0);
		}
	}
	ASSERT_TRUE(strstr(cairn_strerror(-CAIRN_E_DENIED), "does not allow") != NULL);
	ASSERT_STREQ(cairn_strerror(0), "success");
	ASSERT_STREQ(cairn_strerror(-ENOENT), strerror(ENOENT));
	ASSERT_STREQ(cairn_strerror(-ECONNREFUSED), strerror(ECONNREFUSED));
	ASSERT_TRUE(cairn_error_name(-ENOENT) == NULL);
	ASSERT_TRUE(unknown && *unknown);
	h_ok("cairn_strerror: all %zu protocol codes have distinct messages and their schema "
	     "names; errno values read as strerror; unknown codes still get a message",
	     sizeof(names) / sizeof(names[0]));
}

/* Whether the state segment still starts as the daemon wrote it, seen through a new mapping. */
static bool state_intact(int fd, size_t size)
{
	const struct cairn_state_header *h = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(h != MAP_FAILED);
	bool ok = h->magic == CAIRN_STATE_MAGIC && h->version_major == CAIRN_PROTO_MAJOR &&
		  h->segment_size == size;
	munmap((void *)h, size);
	return ok;
}

/* A call that must fail (return -1, or MAP_FAILED), and leave the segment as it was. */
#define MUST_FAIL(call, fd, size)                                                                  \
	do {                                                                                       \
		errno = 0;                                                                         \
		bool _failed = (call) == -1;                                                       \
		if (!_failed) {                                                                    \
			T_FAILF("%s succeeded on the state segment", #call);                       \
		}                                                                                  \
		ASSERT_TRUE(state_intact(fd, size));                                               \
	} while (0)

/*
 * Every way we know for a host to write the state segment through its descriptor, after
 * the seals: a second open of the same file read-write through /proc (a new file
 * description, so the descriptor's own mode does not matter), write(2), copy_file_range
 * and splice into it, punching or zeroing a hole, a shared writable mapping, turning a
 * read-only mapping writable, moving or growing it first, writing through /proc/self/mem
 * (which ignores page protections for private mappings), and a private writable mapping
 * (allowed, but copy-on-write: what is written there must stay in this process). The
 * daemon's view is checked after each.
 */
static void check_state_tricks(int state, size_t size)
{
	char path[64], junk[64];
	memset(junk, 'X', sizeof(junk));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", state);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("note: cannot reopen the state segment through %s (%s): tried on the "
		       "descriptor itself\n",
		       path, strerror(errno));
		fd = state;
	}
	MUST_FAIL(pwrite(fd, junk, sizeof(junk), 0), fd, size);
	MUST_FAIL(write(fd, junk, sizeof(junk)), fd, size);
	MUST_FAIL(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096), fd, size);
	MUST_FAIL(fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 4096), fd, size);
	MUST_FAIL(ftruncate(fd, 0), fd, size);
	MUST_FAIL(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), fd, size);
	ASSERT_TRUE(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	ASSERT_TRUE(state_intact(fd, size));

	int src = memfd_create("junk", MFD_CLOEXEC);
	ASSERT_TRUE(src >= 0);
	ASSERT_EQ(pwrite(src, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	off_t in = 0, out = 0;
	MUST_FAIL(copy_file_range(src, &in, fd, &out, sizeof(junk), 0), fd, size);
	close(src);
	int pipefd[2];
	ASSERT_EQ(pipe(pipefd), 0);
	ASSERT_EQ(write(pipefd[1], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	out = 0;
	MUST_FAIL(splice(pipefd[0], NULL, fd, &out, sizeof(junk), 0), fd, size);
	close(pipefd[0]);
	close(pipefd[1]);

	char *ro = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(ro != MAP_FAILED);
	MUST_FAIL(mprotect(ro, 4096, PROT_READ | PROT_WRITE), fd, size);
	MUST_FAIL(madvise(ro, 4096, MADV_REMOVE), fd, size);
	char *moved = mremap(ro, size, size + 4096, MREMAP_MAYMOVE);
	ASSERT_TRUE(moved != MAP_FAILED);
	MUST_FAIL(mprotect(moved, 4096, PROT_READ | PROT_WRITE), fd, size);
	int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (mem >= 0) {
		MUST_FAIL(pwrite(mem, junk, sizeof(junk), (off_t)(uintptr_t)moved), fd, size);
		close(mem);
	} else {
		printf("note: /proc/self/mem cannot be opened (%s): not tried\n", strerror(errno));
	}
	munmap(moved, size + 4096);

	char *priv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (priv != MAP_FAILED) {
		memcpy(priv, junk, sizeof(junk));
		ASSERT_TRUE(state_intact(fd, size));
		munmap(priv, size);
	}
	if (fd != state) {
		close(fd);
	}
	h_ok("state segment, also reopened read-write through /proc: write, copy_file_range, "
	     "splice, hole punching and zeroing, ftruncate, new seals, shared writable maps, "
	     "mprotect (also after mremap), MADV_REMOVE and /proc/self/mem all fail; a private "
	     "writable map stays private; the daemon's header intact after each");
}

/* The descriptors themselves, through a hand-made attach: the seals hold. */
static void check_segments(const struct h_daemon *d)
{
	struct cairn_hello h;
	struct cairn_welcome w;
	int fds[2], nfds;
	h_hello_default(&h, "seals");
	int sock = h_connect(d->sock);
	ASSERT_OK(h_send_all(sock, &h, sizeof(h)));
	ASSERT_OK(h_recv_welcome(sock, &w, fds, &nfds, 5000));
	ASSERT_EQ(w.status, 0);
	ASSERT_EQ(nfds, 2);
	int state = fds[0], lane = fds[1];

	off_t ssize = lseek(state, 0, SEEK_END);
	ASSERT_TRUE(ssize > 0);
	void *p = mmap(NULL, (size_t)ssize, PROT_READ | PROT_WRITE, MAP_SHARED, state, 0);
	ASSERT_TRUE(p == MAP_FAILED);
	ASSERT_EQ(errno, EPERM);
	p = mmap(NULL, (size_t)ssize, PROT_READ, MAP_SHARED, state, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_TRUE(mprotect(p, (size_t)ssize, PROT_READ | PROT_WRITE) < 0);
	munmap(p, (size_t)ssize);
	char byte = 0;
	ASSERT_TRUE(pwrite(state, &byte, 1, 0) < 0);
	ASSERT_TRUE(ftruncate(state, 0) < 0);
	int seals = fcntl(state, F_GET_SEALS);
	ASSERT_TRUE(seals >= 0);
	ASSERT_TRUE((seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)) ==
		    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL));
	check_state_tricks(state, (size_t)ssize);

	off_t lsize = lseek(lane, 0, SEEK_END);
	ASSERT_TRUE(lsize > 0);
	ASSERT_TRUE(ftruncate(lane, 0) < 0);
	ASSERT_TRUE(ftruncate(lane, lsize * 2) < 0);
	ASSERT_EQ(lseek(lane, 0, SEEK_END), lsize);
	close(state);
	close(lane);
	close(sock);
	h_ok("state segment: no writable mapping, no write, no resize; lane segment: size "
	     "sealed");
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "attach_basic");
	h_rng_seed(&rng, h_seed);
	check_strerror();
	check_no_daemon();

	struct h_daemon *d = h_start(NULL);
	cairn_client *c = NULL;
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_TRUE(c != NULL);
	h_ok("attached to cairnd pid %d", (int)d->pid);
	check_info(c, d);
	check_ping(c);
	check_echo(c);
	check_echo_blob(c);
	check_bad_commands(c);
	check_submit_wait(c);
	check_segments(d);
	ASSERT_OK(cairn_check(c));
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	cairn_close(c);
	cairn_close(NULL);
	h_stop(d);
	h_ok("cairnd exited 0 on SIGTERM");
	h_pass();
}
