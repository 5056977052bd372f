/*
 * hostile_lane: a client that writes garbage into its own lane. The daemon treats every
 * byte of a lane as untrusted (DESIGN.md, decision 3): it must never crash, never stop
 * serving the other clients, answer malformed messages with error results, and drop a
 * lane whose sequence numbers no honest peer could have written, telling the client
 * through lane_state and by closing its socket. A well-behaved client calls throughout.
 *
 *  (a) random bytes over both ring headers: the daemon never reads them back, so the
 *      lane keeps working;
 *  (b) bogus sequence numbers at the daemon's cursor, in the command ring or the result
 *      ring: the lane is dropped; libcairn then reports LANE_DROPPED;
 *  (c) garbage messages with valid sequence numbers: each answered by the error (or the
 *      reply) a reference model of the schema expects;
 *  (d) random bytes over the whole lane, repeatedly: dropped, every time; and scattered
 *      scribbles while the lane is in use: released exactly once, dropped or reclaimed;
 *  (e) corrupting the lane and hanging up at once, from several threads, while the freed
 *      lanes are taken again at once: each lane released once, no new client inheriting
 *      an old one's end, the daemon alive throughout.
 */
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "protocol_desc.h"

#define SEC (1000 * 1000 * 1000ll)

static struct h_rng rng;
static struct h_daemon *d;
static struct h_pinger good;

static void attach(struct h_raw *r, const char *name, uint32_t cmd_cap, uint32_t res_cap,
		   uint32_t blob)
{
	struct cairn_hello h;
	h_hello_default(&h, name);
	h.cmd_capacity = cmd_cap;
	h.res_capacity = res_cap;
	h.blob_size = blob;
	int e = h_raw_attach(d->sock, &h, r);
	if (e != 0) {
		T_FAILF("raw attach \"%s\": %d", name, e);
	}
}

/* One honest round trip through the raw lane. */
static void raw_ping(struct h_raw *r, uint64_t stamp)
{
	struct cairn_msg m = h_ping_msg(stamp), res;
	struct cairn_pong q;
	ASSERT_TRUE(h_raw_push(r, &m));
	if (!h_raw_pop(r, &res, 2000)) {
		T_FAILF("no answer to PING %llu on lane %u in 2 s (lane_state %u)",
			(unsigned long long)stamp, r->welcome.lane_id, h_raw_lane_state(r));
	}
	ASSERT_EQ(res.hdr.type, CAIRN_MSG_PONG);
	ASSERT_UEQ(res.hdr.request_id, stamp);
	memcpy(&q, res.payload, sizeof(q));
	ASSERT_UEQ(q.client_stamp, stamp);
}

/*
 * Waits for the daemon to drop r's lane: lanes_dropped reaches `dropped`, the lane is
 * no longer active, and the socket reaches EOF. On failure, says whether the daemon was
 * serving others meanwhile and what our lane's rings look like, to tell a lane the
 * daemon did not find corrupt from a daemon that did not run.
 */
static void expect_dropped(struct h_raw *r, uint64_t dropped, uint64_t active, const char *what)
{
	uint64_t calls0 = h_pinger_calls(&good);
	uint64_t v = h_wait_counter(good.c, H_CTR(lanes_dropped), dropped, true, 5000);
	if (v != dropped) {
		struct cairn_daemon_info info;
		ASSERT_OK(cairn_daemon_info(good.c, &info));
		uint64_t c = r->res_pos;
		T_FAILF("%s: lanes_dropped is %llu after 5 s, expected %llu; lane_state %u; the "
			"other client made %llu calls meanwhile, heartbeat %llu ms old; our lane: "
			"command head %llu, seq at %llu = %llu; result seq at %llu, %llu = %llu, "
			"%llu",
			what, (unsigned long long)v, (unsigned long long)dropped,
			h_raw_lane_state(r), (unsigned long long)(h_pinger_calls(&good) - calls0),
			(unsigned long long)(info.heartbeat_age_ns / 1000000),
			(unsigned long long)r->cmd_pos, (unsigned long long)(r->cmd_pos - 1),
			(unsigned long long)r->cmd_slots[(r->cmd_pos - 1) & (r->cmd_cap - 1)].seq,
			(unsigned long long)c, (unsigned long long)(c + 1),
			(unsigned long long)r->res_slots[c & (r->res_cap - 1)].seq,
			(unsigned long long)r->res_slots[(c + 1) & (r->res_cap - 1)].seq);
	}
	if (!h_wait_eof(r->sock, 2000)) {
		T_FAILF("%s: the daemon did not close the dropped lane's socket within 2 s", what);
	}
	ASSERT_UEQ(h_wait_counter(good.c, H_CTR(lanes_active), active, true, 2000), active);
}

static void check_ring_headers(void)
{
	struct h_raw r;
	uint64_t dropped = h_counter(good.c, H_CTR(lanes_dropped));
	attach(&r, "scribble-headers", 64, 64, 4096);
	raw_ping(&r, 1);
	for (uint64_t round = 0; round < 50; round++) {
		/*
		 * head, tail, capacity, mask, slot_size and both doorbells: all of it random.
		 * The bell words change under a sleeping daemon, which then only wakes late.
		 */
		h_rng_fill(&rng, r.cmd_hdr, sizeof(*r.cmd_hdr));
		h_rng_fill(&rng, r.res_hdr, sizeof(*r.res_hdr));
		raw_ping(&r, 100 + round);
	}
	/* Extremes rather than noise: capacity and mask 0 and all-ones, head far ahead. */
	memset(r.cmd_hdr, 0xff, sizeof(*r.cmd_hdr));
	memset(r.res_hdr, 0, sizeof(*r.res_hdr));
	raw_ping(&r, 200);
	memset(r.cmd_hdr, 0, sizeof(*r.cmd_hdr));
	memset(r.res_hdr, 0xff, sizeof(*r.res_hdr));
	raw_ping(&r, 201);
	ASSERT_UEQ(h_raw_lane_state(&r), CAIRN_LANE_ACTIVE);
	ASSERT_UEQ(h_counter(good.c, H_CTR(lanes_dropped)), dropped);
	h_raw_close(&r);
	ASSERT_UEQ(h_wait_counter(good.c, H_CTR(lanes_active), 1, true, 2000), 1);
	h_ok("(a) 52 rounds of random/all-ones/zero bytes over both ring headers: every PING "
	     "still answered through the slots, lane still ACTIVE, nothing dropped");
}

/*
 * A bogus sequence number for the slot at position pos of a ring of cap slots. None may
 * be a value an honest peer writes there: pos or pos + 1 in a command ring, pos or
 * pos - cap + 1 in a result ring. With cap = 64 and 3 <= pos <= 60 none of these is.
 */
struct bogus {
	const char *what;
	uint64_t (*seq)(uint64_t pos, uint64_t cap);
};

static uint64_t seq_plus7(uint64_t pos, uint64_t cap)
{
	(void)cap;
	return pos + 7;
}
static uint64_t seq_plus2(uint64_t pos, uint64_t cap)
{
	(void)cap;
	return pos + 2;
}
static uint64_t seq_next_lap(uint64_t pos, uint64_t cap)
{
	return pos + cap + 1;
}
static uint64_t seq_freed(uint64_t pos, uint64_t cap)
{
	return pos + cap;
}
static uint64_t seq_minus1(uint64_t pos, uint64_t cap)
{
	(void)cap;
	return pos - 1;
}
static uint64_t seq_zero(uint64_t pos, uint64_t cap)
{
	(void)pos;
	(void)cap;
	return 0;
}
static uint64_t seq_ones(uint64_t pos, uint64_t cap)
{
	(void)pos;
	(void)cap;
	return UINT64_MAX;
}
static uint64_t seq_random(uint64_t pos, uint64_t cap)
{
	uint64_t v;
	do {
		v = h_rng_next(&rng);
	} while (v == pos || v == pos + 1 || v == pos - cap + 1);
	return v;
}

static const struct bogus bogus_seqs[] = {
	{"pos + 7", seq_plus7},
	{"pos + 2", seq_plus2},
	{"pos + capacity + 1", seq_next_lap},
	{"pos + capacity", seq_freed},
	{"pos - 1", seq_minus1},
	{"0", seq_zero},
	{"2^64 - 1", seq_ones},
	{"random", seq_random},
};
#define NBOGUS (sizeof(bogus_seqs) / sizeof(bogus_seqs[0]))

static void check_bogus_seq(void)
{
	uint64_t dropped = h_counter(good.c, H_CTR(lanes_dropped));
	for (unsigned ring = 0; ring < 2; ring++) {
		for (unsigned i = 0; i < NBOGUS; i++) {
			struct h_raw r;
			attach(&r, ring ? "bogus-res-seq" : "bogus-cmd-seq", 64, 64, 4096);
			/* A few honest round trips first, so the cursors are not at 0. */
			uint64_t honest = 3 + h_rng_below(&rng, 57);
			for (uint64_t k = 0; k < honest; k++) {
				raw_ping(&r, k + 1);
			}
			if (ring == 0) {
				uint64_t pos = r.cmd_pos;
				struct cairn_slot *s = &r.cmd_slots[pos & (r.cmd_cap - 1)];
				__atomic_store_n(&s->seq, bogus_seqs[i].seq(pos, r.cmd_cap),
						 __ATOMIC_RELEASE);
				h_raw_ring(&r);
			} else {
				/*
				 * The daemon meets these when it next has results to publish. Two
				 * slots and two commands: the daemon may have checked the first
				 * slot just before we wrote it and then publish over our value
				 * (a check-then-write it cannot avoid, and harmless), but it
				 * checks the second only after that.
				 */
				for (uint64_t pos = r.res_pos; pos < r.res_pos + 2; pos++) {
					struct cairn_slot *s = &r.res_slots[pos & (r.res_cap - 1)];
					__atomic_store_n(&s->seq, bogus_seqs[i].seq(pos, r.res_cap),
							 __ATOMIC_RELEASE);
				}
				struct cairn_msg m = h_ping_msg(999);
				ASSERT_TRUE(h_raw_push(&r, &m));
				m = h_ping_msg(1000);
				ASSERT_TRUE(h_raw_push(&r, &m));
			}
			dropped++;
			expect_dropped(&r, dropped, 1, bogus_seqs[i].what);
			ASSERT_UEQ(h_raw_lane_state(&r), CAIRN_LANE_DROPPED);
			h_raw_close(&r);
		}
		h_ok("(b) %s ring: seq = %s, %s, %s, %s, %s, %s, %s, %s at the daemon's cursor -> "
		     "lanes_dropped +1 each, lane_state DROPPED, socket closed",
		     ring ? "result" : "command", bogus_seqs[0].what, bogus_seqs[1].what,
		     bogus_seqs[2].what, bogus_seqs[3].what, bogus_seqs[4].what, bogus_seqs[5].what,
		     bogus_seqs[6].what, bogus_seqs[7].what);
	}
	ASSERT_TRUE(h_log_has(d, "dropping lane", "command ring", 2000));
	ASSERT_TRUE(h_log_has(d, "dropping lane", "result ring", 2000));
}

/*
 * The same through libcairn: its lane is found by walking back from the blob arena to
 * the page that starts with the lane header (the arena is the mapping's last region).
 */
static struct cairn_lane_header *find_lane(cairn_client *c)
{
	size_t size;
	uint8_t *blob = cairn_blob(c, &size);
	for (uint64_t back = 4096; back <= (UINT64_C(1) << 30); back += 4096) {
		struct cairn_lane_header *h = (void *)(blob - back);
		if (h->magic == CAIRN_LANE_MAGIC && h->blob_offset == back) {
			return h;
		}
	}
	T_FAILF("cannot find the lane header of a libcairn client");
}

static void check_libcairn_dropped(void)
{
	cairn_client *c;
	struct cairn_msg m;
	uint64_t dropped = h_counter(good.c, H_CTR(lanes_dropped));
	ASSERT_OK(cairn_open(d->sock, NULL, &c));
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	struct cairn_lane_header *h = find_lane(c);
	struct cairn_ring_header *cmd = (void *)((char *)h + h->cmd_ring_offset);
	struct cairn_slot *slots = (void *)(cmd + 1);
	/* One PING went through, so the daemon's command cursor is at 1. */
	__atomic_store_n(&slots[1].seq, 1 + 7, __ATOMIC_RELEASE);
	cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
	/* The push lands in the next free slot (2); the wake makes the daemon look at 1. */
	__atomic_store_n(&cmd->head, 2, __ATOMIC_RELAXED);
	ASSERT_OK(cairn_submit(c, &m));
	h_raw_ring(&(struct h_raw){.cmd_hdr = cmd});
	int r = cairn_ping(c, 5 * SEC);
	ASSERT_EQ(r, -CAIRN_E_LANE_DROPPED);
	ASSERT_EQ(cairn_check(c), -CAIRN_E_LANE_DROPPED);
	ASSERT_EQ(cairn_submit(c, &m), -CAIRN_E_LANE_DROPPED);
	struct cairn_msg res;
	ASSERT_EQ(cairn_poll(c, &res), -CAIRN_E_LANE_DROPPED);
	ASSERT_EQ(cairn_wait(c, &res, SEC), -CAIRN_E_LANE_DROPPED);
	ASSERT_UEQ(h_wait_counter(good.c, H_CTR(lanes_dropped), dropped + 1, true, 2000),
		   dropped + 1);
	cairn_close(c);
	h_ok("(b) a libcairn client whose command ring was corrupted: cairn_call, cairn_check, "
	     "cairn_submit, cairn_poll and cairn_wait all return LANE_DROPPED (\"%s\")",
	     cairn_strerror(r));
}

/* ---- (c) garbage messages ---- */

enum { EV_UNKNOWN = 1, EV_FLAGS = 2, EV_LENGTH = 4, EV_RANGE = 8, EV_SMALL = 16 };

static bool is_command(uint16_t t)
{
	return t == CAIRN_MSG_PING || t == CAIRN_MSG_ECHO || t == CAIRN_MSG_ECHO_BLOB;
}

/* Whether t is a command the schema defines (whoever serves it). */
static bool schema_command(uint16_t t)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		if (cairn__proto_msgs[i].type == t && !(t & CAIRN_REPLY_BIT)) {
			return true;
		}
	}
	return false;
}

static bool fits(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* What the schema says about m, as a set of violations (empty: it must succeed). */
static unsigned violations(const struct cairn_msg *m, uint64_t blob_size)
{
	unsigned v = 0;
	uint16_t t = m->hdr.type;
	if (!is_command(t)) {
		v |= EV_UNKNOWN;
	}
	if (m->hdr.flags) {
		v |= EV_FLAGS;
	}
	if ((t == CAIRN_MSG_PING && m->hdr.length != CAIRN_MSG_PING_LEN_MIN) ||
	    (t == CAIRN_MSG_ECHO_BLOB && m->hdr.length != CAIRN_MSG_ECHO_BLOB_LEN_MIN) ||
	    m->hdr.length > CAIRN_PAYLOAD_SIZE) {
		v |= EV_LENGTH;
	}
	if (v == 0 && t == CAIRN_MSG_ECHO_BLOB) {
		struct cairn_echo_blob q;
		memcpy(&q, m->payload, sizeof(q));
		if (!fits(q.in_offset, q.in_length, blob_size) ||
		    !fits(q.out_offset, q.out_capacity, blob_size)) {
			v |= EV_RANGE;
		}
		if (q.out_capacity < q.in_length) {
			v |= EV_SMALL;
		}
	}
	return v;
}

static unsigned code_bit(int code)
{
	switch (code) {
	case CAIRN_E_UNKNOWN_TYPE:
		return EV_UNKNOWN;
	case CAIRN_E_BAD_FLAGS:
		return EV_FLAGS;
	case CAIRN_E_BAD_LENGTH:
		return EV_LENGTH;
	case CAIRN_E_BLOB_RANGE:
		return EV_RANGE;
	case CAIRN_E_BLOB_TOO_SMALL:
		return EV_SMALL;
	default:
		return 0;
	}
}

static void garbage(struct cairn_msg *m, uint64_t blob_size)
{
	static const uint16_t types[] = {0,
					 CAIRN_MSG_PING,
					 CAIRN_MSG_ECHO,
					 CAIRN_MSG_ECHO_BLOB,
					 CAIRN_MSG_PONG,
					 CAIRN_MSG_ECHO_REPLY,
					 CAIRN_MSG_ECHO_BLOB_REPLY,
					 CAIRN_MSG_ERROR,
					 4,
					 0x7fff};
	h_rng_fill(&rng, m, sizeof(*m));
	/* Half plausible, half pure noise, field by field. */
	if (h_rng_below(&rng, 2)) {
		m->hdr.type = types[h_rng_below(&rng, sizeof(types) / sizeof(types[0]))];
	}
	/*
	 * Noise that lands on any other command of the schema (the game's, the operator's,
	 * the solver's) is moved off it: the engine, the store and the solver check those
	 * with codes of their own, and the model above covers the transport's commands only.
	 */
	if (!is_command(m->hdr.type) && schema_command(m->hdr.type)) {
		m->hdr.type = 0x7fff;
	}
	if (h_rng_below(&rng, 2)) {
		m->hdr.flags = 0;
	}
	if (h_rng_below(&rng, 2)) {
		m->hdr.length = (uint8_t)h_rng_below(&rng, CAIRN_PAYLOAD_SIZE + 1);
	}
	if (m->hdr.type == CAIRN_MSG_ECHO_BLOB && h_rng_below(&rng, 2)) {
		/* Offsets and lengths near the arena's edges, where the checks are. */
		struct cairn_echo_blob q;
		uint32_t edge = (uint32_t)blob_size;
		q.in_offset = (uint32_t)h_rng_below(&rng, edge + 64);
		q.in_length = (uint32_t)h_rng_below(&rng, edge + 64);
		q.out_offset = (uint32_t)h_rng_below(&rng, edge + 64);
		q.out_capacity = (uint32_t)h_rng_below(&rng, edge + 64);
		if (h_rng_below(&rng, 4) == 0) {
			/* offset + length wraps around 2^32 to something inside the arena. */
			q.in_offset = UINT32_MAX - (uint32_t)h_rng_below(&rng, 64);
			q.in_length = (uint32_t)h_rng_below(&rng, edge) + 64;
		} else if (h_rng_below(&rng, 3) == 0) {
			q.out_offset = UINT32_MAX - (uint32_t)h_rng_below(&rng, 64);
			q.out_capacity = (uint32_t)h_rng_below(&rng, edge) + 64;
		}
		memcpy(m->payload, &q, 16);
		if (h_rng_below(&rng, 2)) {
			m->hdr.length = CAIRN_MSG_ECHO_BLOB_LEN_MIN;
			m->hdr.flags = 0;
		}
	}
}

static void check_result(const struct cairn_msg *cmd, const struct cairn_msg *res,
			 uint64_t blob_size, unsigned *errors, unsigned *replies)
{
	unsigned v = violations(cmd, blob_size);
	ASSERT_UEQ(res->hdr.request_id, cmd->hdr.request_id);
	if (v) {
		struct cairn_error_info e;
		if (res->hdr.type != CAIRN_MSG_ERROR || !(code_bit(res->hdr.status) & v)) {
			T_FAILF("command type 0x%x flags 0x%x length %u: got type 0x%x status %d, "
				"expected an ERROR for violations 0x%x",
				cmd->hdr.type, cmd->hdr.flags, cmd->hdr.length, res->hdr.type,
				res->hdr.status, v);
		}
		ASSERT_EQ(res->hdr.length, CAIRN_MSG_ERROR_LEN_MIN);
		memcpy(&e, res->payload, sizeof(e));
		ASSERT_EQ(e.request_type, cmd->hdr.type);
		(*errors)++;
		return;
	}
	(*replies)++;
	ASSERT_EQ(res->hdr.type, cmd->hdr.type | CAIRN_REPLY_BIT);
	ASSERT_EQ(res->hdr.status, 0);
	if (cmd->hdr.type == CAIRN_MSG_PING) {
		ASSERT_TRUE(memcmp(res->payload, cmd->payload, 8) == 0);
	} else if (cmd->hdr.type == CAIRN_MSG_ECHO) {
		ASSERT_EQ(res->hdr.length, cmd->hdr.length);
		ASSERT_TRUE(memcmp(res->payload, cmd->payload, cmd->hdr.length) == 0);
	} else {
		struct cairn_echo_blob q;
		struct cairn_echo_blob_reply a;
		memcpy(&q, cmd->payload, sizeof(q));
		memcpy(&a, res->payload, sizeof(a));
		ASSERT_UEQ(a.out_offset, q.out_offset);
		ASSERT_UEQ(a.out_length, q.in_length);
	}
}

static void check_garbage(void)
{
	enum { N = 20000, BURST = 48 };
	struct h_raw r;
	struct cairn_msg cmds[BURST], res;
	unsigned errors = 0, replies = 0;
	uint64_t errors0 = h_counter(good.c, H_CTR(errors));
	attach(&r, "garbage", 64, 64, 4096);
	for (unsigned done = 0; done < N; done += BURST) {
		for (unsigned i = 0; i < BURST; i++) {
			garbage(&cmds[i], r.blob_size);
			ASSERT_TRUE(h_raw_push(&r, &cmds[i]));
		}
		for (unsigned i = 0; i < BURST; i++) {
			if (!h_raw_pop(&r, &res, 2000)) {
				T_FAILF("no result for garbage command %u (type 0x%x flags 0x%x "
					"length "
					"%u) in 2 s, lane_state %u",
					done + i, cmds[i].hdr.type, cmds[i].hdr.flags,
					cmds[i].hdr.length, h_raw_lane_state(&r));
			}
			check_result(&cmds[i], &res, r.blob_size, &errors, &replies);
		}
	}
	ASSERT_UEQ(h_raw_lane_state(&r), CAIRN_LANE_ACTIVE);
	raw_ping(&r, 7);
	/* The pinger sends only valid commands: every new error result is one of ours. */
	ASSERT_UEQ(h_wait_counter(good.c, H_CTR(errors), errors0 + errors, true, 2000),
		   errors0 + errors);
	h_raw_close(&r);
	ASSERT_UEQ(h_wait_counter(good.c, H_CTR(lanes_active), 1, true, 2000), 1);
	h_ok("(c) %u garbage messages with valid sequence numbers: %u error results, each with "
	     "a code the schema allows for that message, %u correct replies; lane still ACTIVE; "
	     "counters.errors grew by exactly %u",
	     BURST * (N / BURST + (N % BURST != 0)), errors, replies, errors);
}

/* ---- (d) noise everywhere ---- */

static void check_noise(void)
{
	enum { ROUNDS = 12 };
	uint64_t dropped = h_counter(good.c, H_CTR(lanes_dropped));
	uint64_t t0 = h_now_ns();
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct h_raw r;
		bool big = round % 4 == 3;
		attach(&r, "noise", big ? 0 : 64, big ? 0 : 64, big ? 0 : 4096);
		raw_ping(&r, 1);
		/* Keep a pointer to the bell word: the header around it is about to be noise. */
		struct h_raw ringer = {.cmd_hdr = r.cmd_hdr};
		for (unsigned k = 0; k < 20; k++) {
			h_rng_fill(&rng, r.lane, (size_t)r.lane_size);
			h_raw_ring(&ringer);
			h_sleep_us(500);
		}
		dropped++;
		expect_dropped(&r, dropped, 1, "noise over the whole lane");
		h_raw_close(&r);
	}
	h_ok("(d) %d lanes (every 4th with default 1024-slot rings and a 1 MiB arena) filled "
	     "with random bytes 20 times each: every one dropped and its socket closed "
	     "(%llu ms in all)",
	     ROUNDS, (unsigned long long)((h_now_ns() - t0) / 1000000));
}

/*
 * Smaller, scattered scribbles while still using the lane: the daemon meets garbage in
 * slots, headers and the arena for a while before (perhaps) hitting a bogus sequence
 * number. Whatever it does, the lane must end up released exactly once: dropped by the
 * daemon or reclaimed when we close it.
 */
static void check_scattered_noise(void)
{
	enum { ROUNDS = 8, SCRIBBLES = 3000 };
	unsigned n_dropped = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		struct h_raw r;
		struct cairn_msg m;
		uint64_t released = h_counter(good.c, H_CTR(lanes_dropped)) +
				    h_counter(good.c, H_CTR(lanes_reclaimed));
		attach(&r, "scattered-noise", 64, 64, 4096);
		struct h_raw ringer = {.cmd_hdr = r.cmd_hdr};
		for (unsigned k = 0; k < SCRIBBLES; k++) {
			uint64_t len = 1 + h_rng_below(&rng, 64);
			uint64_t off = h_rng_below(&rng, r.lane_size - len);
			h_rng_fill(&rng, (uint8_t *)r.lane + off, (size_t)len);
			/* Keep feeding it: a garbage or valid command, if our slot looks free. */
			if (h_rng_below(&rng, 2)) {
				garbage(&m, r.blob_size);
			} else {
				m = h_ping_msg(k);
			}
			h_raw_push(&r, &m);
			/* And take whatever looks published; the content may be noise too. */
			struct cairn_slot *s = &r.res_slots[r.res_pos & (r.res_cap - 1)];
			if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) == r.res_pos + 1) {
				h_raw_pop(&r, &m, 0);
			}
			h_raw_ring(&ringer);
			if (k % 32 == 0) {
				h_sleep_us(100);
			}
		}
		bool eof = h_wait_eof(r.sock, 100);
		n_dropped += eof;
		h_raw_close(&r);
		uint64_t now = released;
		uint64_t deadline = h_now_ns() + 2 * SEC;
		while (now != released + 1 && h_now_ns() < deadline) {
			h_sleep_us(1000);
			now = h_counter(good.c, H_CTR(lanes_dropped)) +
			      h_counter(good.c, H_CTR(lanes_reclaimed));
		}
		ASSERT_UEQ(now, released + 1);
		ASSERT_UEQ(h_wait_counter(good.c, H_CTR(lanes_active), 1, true, 2000), 1);
	}
	h_ok("(d) %d lanes with %d scattered scribbles each while in use: every lane released "
	     "exactly once (%u dropped by the daemon, %u reclaimed on close)",
	     ROUNDS, SCRIBBLES, n_dropped, ROUNDS - n_dropped);
}

/*
 * ---- (e) corrupt and hang up at once ----
 *
 * The daemon then learns twice that the lane is finished: the apply thread finds the
 * corruption and drops it, the control thread sees the socket close and detaches it.
 * Whichever comes second must be a no-op, even when the lane's slot has meanwhile been
 * freed and handed to the next client, which is what several threads attaching in a
 * loop make likely.
 */

enum { HANGUP_THREADS = 3, HANGUP_LANES = 50000 };

struct hangup {
	pthread_t thread;
	int stop;            /* atomic */
	uint64_t iters;      /* atomic: lanes attached, corrupted and hung up on */
	uint64_t busy;       /* attaches refused with TOO_MANY_CLIENTS: lanes not freed yet */
	uint64_t not_active; /* lanes that were not ACTIVE when their client got them */
	int lost;            /* atomic: errno when the daemon stopped accepting connections */
};

static void *hangup_main(void *arg)
{
	struct hangup *t = arg;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->sock);
	/* Bounded too: each lane costs the daemon's log three lines. */
	while (!__atomic_load_n(&t->stop, __ATOMIC_RELAXED) &&
	       t->iters < HANGUP_LANES / HANGUP_THREADS) {
		struct cairn_hello h;
		struct cairn_welcome w;
		int fds[2], nfds;
		int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_TRUE(sock >= 0);
		if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			/* The main thread finds out why (a dead daemon, as a rule). */
			__atomic_store_n(&t->lost, errno, __ATOMIC_RELAXED);
			close(sock);
			return NULL;
		}
		h_hello_default(&h, "hangup");
		h.cmd_capacity = 4;
		h.res_capacity = 4;
		h.blob_size = 4096;
		if (h_send_all(sock, &h, sizeof(h)) < 0 ||
		    h_recv_welcome(sock, &w, fds, &nfds, 5000) < 0) {
			__atomic_store_n(&t->lost, ECONNRESET, __ATOMIC_RELAXED);
			close(sock);
			return NULL;
		}
		if (w.status == CAIRN_E_TOO_MANY_CLIENTS) {
			t->busy++;
			close(sock);
			continue;
		}
		ASSERT_EQ(w.status, 0);
		ASSERT_EQ(nfds, 2);
		struct stat st;
		ASSERT_EQ(fstat(fds[1], &st), 0);
		char *lane = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
				  fds[1], 0);
		ASSERT_TRUE(lane != MAP_FAILED);
		close(fds[0]);
		close(fds[1]);
		struct cairn_lane_header *lh = (void *)lane;
		if (__atomic_load_n(&lh->lane_state, __ATOMIC_ACQUIRE) != CAIRN_LANE_ACTIVE) {
			t->not_active++;
		}
		struct h_raw ringer = {.cmd_hdr = (void *)(lane + lh->cmd_ring_offset)};
		struct cairn_slot *slots = (void *)(ringer.cmd_hdr + 1);
		__atomic_store_n(&slots[0].seq, 7, __ATOMIC_RELEASE);
		h_raw_ring(&ringer);
		close(sock);
		munmap(lane, (size_t)st.st_size);
		__atomic_store_n(&t->iters, t->iters + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void check_hangup_race(void)
{
	struct hangup t[HANGUP_THREADS];
	uint64_t released0 =
		h_counter(good.c, H_CTR(lanes_dropped)) + h_counter(good.c, H_CTR(lanes_reclaimed));
	uint64_t t0 = h_now_ns();
	memset(t, 0, sizeof(t));
	for (unsigned i = 0; i < HANGUP_THREADS; i++) {
		ASSERT_EQ(pthread_create(&t[i].thread, NULL, hangup_main, &t[i]), 0);
	}
	bool died = false;
	unsigned running = HANGUP_THREADS;
	while (h_now_ns() - t0 < 5 * SEC && !died && running) {
		h_sleep_us(10 * 1000);
		died = h_wait_exit(d, 0);
		running = 0;
		for (unsigned i = 0; i < HANGUP_THREADS; i++) {
			running += __atomic_load_n(&t[i].iters, __ATOMIC_RELAXED) <
					   HANGUP_LANES / HANGUP_THREADS &&
				   !__atomic_load_n(&t[i].lost, __ATOMIC_RELAXED);
		}
	}
	uint64_t iters = 0, busy = 0, not_active = 0;
	int lost = 0;
	for (unsigned i = 0; i < HANGUP_THREADS; i++) {
		__atomic_store_n(&t[i].stop, 1, __ATOMIC_RELAXED);
		pthread_join(t[i].thread, NULL);
		iters += t[i].iters;
		busy += t[i].busy;
		not_active += t[i].not_active;
		lost = lost ? lost : t[i].lost;
	}
	if (died || (lost && h_wait_exit(d, 1000))) {
		T_FAILF("cairnd died (%s %d) after %llu lanes were corrupted and hung up on at "
			"once",
			WIFSIGNALED(d->status) ? "signal" : "exit status",
			WIFSIGNALED(d->status) ? WTERMSIG(d->status) : WEXITSTATUS(d->status),
			(unsigned long long)iters);
	}
	if (lost) {
		T_FAILF("cairnd stopped accepting connections (%s) after %llu lanes were corrupted "
			"and hung up on at once",
			strerror(lost), (unsigned long long)iters);
	}
	if (not_active) {
		T_FAILF("%llu of %llu new clients got a lane that was not ACTIVE: an earlier "
			"client's end was applied to it",
			(unsigned long long)not_active, (unsigned long long)iters);
	}
	ASSERT_UEQ(h_wait_counter(good.c, H_CTR(lanes_active), 1, true, 2000), 1);
	uint64_t released = released0;
	uint64_t deadline = h_now_ns() + 2 * SEC;
	while (released != released0 + iters && h_now_ns() < deadline) {
		h_sleep_us(1000);
		released = h_counter(good.c, H_CTR(lanes_dropped)) +
			   h_counter(good.c, H_CTR(lanes_reclaimed));
	}
	if (released != released0 + iters) {
		T_FAILF("%llu lanes corrupted and hung up on, but %llu released (dropped + "
			"reclaimed)",
			(unsigned long long)iters, (unsigned long long)(released - released0));
	}
	ASSERT_OK(cairn_ping(good.c, 2 * SEC));
	h_ok("(e) %d threads for up to 5 s: %llu lanes corrupted and hung up on at once, each "
	     "released "
	     "exactly once, every new lane ACTIVE when handed out (%llu attaches found all lanes "
	     "still being freed)",
	     HANGUP_THREADS, (unsigned long long)iters, (unsigned long long)busy);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "hostile_lane");
	h_rng_seed(&rng, h_seed);
	d = h_start(NULL);
	h_pinger_start(&good, d->sock);
	ASSERT_UEQ(h_wait_counter(good.c, H_CTR(lanes_active), 1, true, 2000), 1);

	check_ring_headers();
	check_bogus_seq();
	check_libcairn_dropped();
	check_garbage();
	check_noise();
	check_scattered_noise();
	check_hangup_race();

	h_pinger_finish(&good);
	h_stop(d);
	h_ok("cairnd never crashed and exited 0 on SIGTERM");
	h_pass();
}
