/*
 * Single-threaded semantics of the ring, for several capacities and two starting
 * positions (0, and just below 2^64 so that every position counter wraps during the
 * test): empty and full, FIFO order, wrap-around against a model, batch counts at the
 * edges, the readable hint, and the daemon's owner operations including the sequence
 * numbers they must refuse as corruption.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "shm/ring.h"

static const uint32_t capacities[] = {2, 4, 64, 1024};

/* Where positions start: a fresh ring, and a ring about to wrap its 64-bit counters. */
static uint64_t bases(uint32_t cap, unsigned i)
{
	return i == 0 ? 0 : UINT64_MAX - 2 * (uint64_t)cap - 2;
}
#define NBASES 2

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

/* xorshift64*: a fixed seed, so a failure reproduces exactly. */
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Du;
}

/* Every byte of message v depends on v, so a slot read at the wrong lap shows. */
static void make_msg(struct cairn_msg *m, uint64_t v)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = (uint16_t)(v * 7 + 1);
	m->hdr.flags = (uint8_t)(v >> 3);
	m->hdr.length = (uint8_t)(v % (CAIRN_PAYLOAD_SIZE + 1));
	m->hdr.status = (int32_t)(uint32_t)(v ^ 0x5A5A5A5Au);
	m->hdr.request_id = v;
	for (unsigned i = 0; i < CAIRN_PAYLOAD_SIZE; i++) {
		m->payload[i] = (uint8_t)((v >> (8 * (i % 8))) ^ (i * 37));
	}
}

#define ASSERT_MSG(m, v)                                                                           \
	do {                                                                                       \
		struct cairn_msg _want;                                                            \
		make_msg(&_want, (v));                                                             \
		if (memcmp((m), &_want, sizeof(_want)) != 0)                                       \
			T_FAILF("message %llu expected, got request_id %llu (type %u)",            \
				(unsigned long long)(v), (unsigned long long)(m)->hdr.request_id,  \
				(unsigned)(m)->hdr.type);                                          \
	} while (0)

static void *ring_mem(uint32_t cap)
{
	void *p = aligned_alloc(CAIRN_CACHE_LINE, (size_t)cairn__ring_bytes(cap));
	if (!p) {
		T_FAILF("aligned_alloc of %llu bytes failed",
			(unsigned long long)cairn__ring_bytes(cap));
	}
	return p;
}

/*
 * A fresh ring whose positions start at base: the state an empty ring reaches after
 * base pushes and pops (head = tail = base, each slot free for its next position).
 */
static void ring_setup(struct cairn__ring *r, void *mem, uint32_t cap, uint64_t base)
{
	cairn__ring_init(r, mem, cap);
	r->hdr->head = base;
	r->hdr->tail = base;
	for (uint64_t p = base; p != base + cap; p++) {
		r->slots[p & r->mask].seq = p;
	}
}

/* An owner's view of the same ring, with its private cursor at base. */
static void owner_setup(struct cairn__ring *o, void *mem, uint32_t cap, uint64_t base)
{
	cairn__ring_attach(o, mem, cap);
	o->cursor = base;
}

static void test_empty_and_full(uint32_t cap, uint64_t base)
{
	struct cairn__ring r;
	void *mem = ring_mem(cap);
	struct cairn_msg m, batch[8];
	ring_setup(&r, mem, cap, base);

	ASSERT_TRUE(!cairn__ring_readable(&r));
	ASSERT_TRUE(!cairn__ring_try_pop(&r, &m));
	ASSERT_EQ(cairn__ring_pop_batch(&r, batch, 8), 0);
	ASSERT_UEQ(r.hdr->tail, base);

	/* Exactly capacity pushes succeed; the next one finds the ring full. */
	for (uint32_t i = 0; i < cap; i++) {
		make_msg(&m, base + i);
		ASSERT_TRUE(cairn__ring_try_push(&r, &m));
		ASSERT_TRUE(cairn__ring_readable(&r));
	}
	make_msg(&m, 999);
	ASSERT_TRUE(!cairn__ring_try_push(&r, &m));
	ASSERT_EQ(cairn__ring_push_batch(&r, batch, 1), 0);
	ASSERT_EQ(cairn__ring_push_batch(&r, batch, 8), 0);
	ASSERT_UEQ(r.hdr->head - base, cap);

	/* A full ring pops in push order, then is empty again. */
	for (uint32_t i = 0; i < cap; i++) {
		ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
		ASSERT_MSG(&m, base + i);
	}
	ASSERT_TRUE(!cairn__ring_try_pop(&r, &m));
	ASSERT_TRUE(!cairn__ring_readable(&r));
	ASSERT_UEQ(r.hdr->tail - base, cap);

	/* The same with one batch each way; a batch may not exceed the capacity. */
	struct cairn_msg *big = calloc((size_t)cap + 5, sizeof(*big));
	ASSERT_TRUE(big != NULL);
	for (uint32_t i = 0; i < cap + 5; i++) {
		make_msg(&big[i], 5000 + i);
	}
	ASSERT_EQ(cairn__ring_push_batch(&r, big, cap + 5), cap);
	ASSERT_EQ(cairn__ring_push_batch(&r, big, cap + 5), 0);
	memset(big, 0, sizeof(*big) * (cap + 5));
	ASSERT_EQ(cairn__ring_pop_batch(&r, big, cap + 5), cap);
	for (uint32_t i = 0; i < cap; i++) {
		ASSERT_MSG(&big[i], 5000 + i);
	}
	ASSERT_EQ(cairn__ring_pop_batch(&r, big, cap + 5), 0);
	free(big);
	free(mem);
}

/* Batches that do not fit return the number that did, in order. */
static void test_batch_edges(uint32_t cap, uint64_t base)
{
	struct cairn__ring r;
	void *mem = ring_mem(cap);
	struct cairn_msg m, b[4];
	uint64_t next = 0, expect = 0;
	ring_setup(&r, mem, cap, base);

	/* One free slot: a batch of 3 pushes 1. */
	for (uint32_t i = 0; i < cap - 1; i++) {
		make_msg(&m, next++);
		ASSERT_TRUE(cairn__ring_try_push(&r, &m));
	}
	for (unsigned i = 0; i < 3; i++) {
		make_msg(&b[i], next + i);
	}
	ASSERT_EQ(cairn__ring_push_batch(&r, b, 3), 1);
	next++;
	ASSERT_EQ(cairn__ring_push_batch(&r, b, 3), 0);

	/* Two left: a batch pop of 4 returns 2. */
	while (r.hdr->head - r.hdr->tail > 2) {
		ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
		ASSERT_MSG(&m, expect);
		expect++;
	}
	ASSERT_EQ(cairn__ring_pop_batch(&r, b, 4), 2);
	ASSERT_MSG(&b[0], expect);
	ASSERT_MSG(&b[1], expect + 1);
	expect += 2;
	ASSERT_EQ(cairn__ring_pop_batch(&r, b, 4), 0);

	/* Half a lap in, a full batch straddles the end of the slot array. */
	struct cairn_msg *all = calloc(cap, sizeof(*all));
	ASSERT_TRUE(all != NULL);
	for (uint32_t i = 0; i < cap / 2; i++) {
		make_msg(&m, next++);
		ASSERT_TRUE(cairn__ring_try_push(&r, &m));
		ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
		ASSERT_MSG(&m, expect);
		expect++;
	}
	for (uint32_t i = 0; i < cap; i++) {
		make_msg(&all[i], next + i);
	}
	ASSERT_EQ(cairn__ring_push_batch(&r, all, cap), cap);
	next += cap;
	memset(all, 0, sizeof(*all) * cap);
	ASSERT_EQ(cairn__ring_pop_batch(&r, all, cap), cap);
	for (uint32_t i = 0; i < cap; i++) {
		ASSERT_MSG(&all[i], expect + i);
	}
	free(all);
	free(mem);
}

/*
 * Wrap-around against a model: 100 laps of random single and batch pushes and pops of
 * random sizes (up to capacity + 2, so batches hit the edges), each result compared
 * with what an ideal queue of that capacity would do.
 */
static void test_wrap_model(uint32_t cap, uint64_t base)
{
	struct cairn__ring r;
	void *mem = ring_mem(cap);
	unsigned maxn = cap + 2;
	struct cairn_msg *b = calloc(maxn, sizeof(*b));
	uint64_t pushed = 0, popped = 0, total = 100 * (uint64_t)cap;
	ASSERT_TRUE(b != NULL);
	ring_setup(&r, mem, cap, base);

	while (popped < total) {
		unsigned n = 1 + (unsigned)(rnd() % maxn);
		uint64_t count = pushed - popped;
		unsigned op = (unsigned)(rnd() % 4);
		if (pushed >= total && op < 2) {
			op += 2; /* only drain once everything was pushed */
		}
		if (op == 0) {
			for (unsigned i = 0; i < n; i++) {
				struct cairn_msg m;
				make_msg(&m, pushed);
				bool ok = cairn__ring_try_push(&r, &m);
				ASSERT_EQ(ok, pushed - popped < cap);
				pushed += ok;
			}
		} else if (op == 1) {
			unsigned want = count + n <= cap ? n : (unsigned)(cap - count);
			for (unsigned i = 0; i < n; i++) {
				make_msg(&b[i], pushed + i);
			}
			ASSERT_EQ(cairn__ring_push_batch(&r, b, n), want);
			pushed += want;
		} else if (op == 2) {
			for (unsigned i = 0; i < n; i++) {
				struct cairn_msg m;
				bool ok = cairn__ring_try_pop(&r, &m);
				ASSERT_EQ(ok, pushed > popped);
				if (ok) {
					ASSERT_MSG(&m, popped);
					popped++;
				}
			}
		} else {
			unsigned want = count < n ? (unsigned)count : n;
			ASSERT_EQ(cairn__ring_pop_batch(&r, b, n), want);
			for (unsigned i = 0; i < want; i++) {
				ASSERT_MSG(&b[i], popped + i);
			}
			popped += want;
		}
		/* Single-threaded, head and tail are exact and the hint is the truth. */
		ASSERT_UEQ(r.hdr->head, base + pushed);
		ASSERT_UEQ(r.hdr->tail, base + popped);
		ASSERT_EQ(cairn__ring_readable(&r), pushed > popped);
	}
	free(b);
	free(mem);
}

/* The daemon as the only consumer of a ring that clients fill with the shared push. */
static void test_owner_pop(uint32_t cap, uint64_t base)
{
	struct cairn__ring r, o;
	void *mem = ring_mem(cap);
	struct cairn_msg m;
	uint64_t next = 0;
	ring_setup(&r, mem, cap, base);
	owner_setup(&o, mem, cap, base);

	ASSERT_EQ(cairn__ring_owner_pop(&o, &m), CAIRN__RING_WAIT);
	ASSERT_TRUE(!cairn__ring_owner_readable(&o));
	for (unsigned lap = 0; lap < 3; lap++) {
		uint64_t first = next;
		/* Fill completely, alternating single and batch pushes. */
		while (next - first < cap) {
			make_msg(&m, next);
			if (next % 2) {
				ASSERT_TRUE(cairn__ring_try_push(&r, &m));
			} else {
				ASSERT_EQ(cairn__ring_push_batch(&r, &m, 1), 1);
			}
			next++;
		}
		ASSERT_TRUE(!cairn__ring_try_push(&r, &m));
		for (uint64_t v = first; v < next; v++) {
			ASSERT_TRUE(cairn__ring_owner_readable(&o));
			ASSERT_EQ(cairn__ring_owner_pop(&o, &m), CAIRN__RING_OK);
			ASSERT_MSG(&m, v);
			/* The owner publishes tail for observers such as ringtop. */
			ASSERT_UEQ(r.hdr->tail, o.cursor);
		}
		ASSERT_EQ(cairn__ring_owner_pop(&o, &m), CAIRN__RING_WAIT);
		ASSERT_TRUE(!cairn__ring_owner_readable(&o));
		ASSERT_UEQ(o.cursor, base + next);
		/* Shift the phase so the next lap starts mid-array. */
		for (unsigned i = 0; i < cap / 2 + lap; i++) {
			make_msg(&m, next);
			ASSERT_TRUE(cairn__ring_try_push(&r, &m));
			ASSERT_EQ(cairn__ring_owner_pop(&o, &m), CAIRN__RING_OK);
			ASSERT_MSG(&m, next);
			next++;
		}
	}
	free(mem);
}

/* The daemon as the only producer of a ring that clients drain with the shared pop. */
static void test_owner_push(uint32_t cap, uint64_t base)
{
	struct cairn__ring r, o;
	void *mem = ring_mem(cap);
	struct cairn_msg m, b[3];
	uint64_t next = 0, expect = 0;
	ring_setup(&r, mem, cap, base);
	owner_setup(&o, mem, cap, base);

	for (unsigned lap = 0; lap < 3; lap++) {
		while (cairn__ring_owner_can_push(&o) == CAIRN__RING_OK) {
			make_msg(&m, next++);
			cairn__ring_owner_push(&o, &m);
			ASSERT_UEQ(r.hdr->head, o.cursor);
			ASSERT_TRUE(next - expect <= cap);
		}
		/* It stops exactly at capacity, and says full, not corrupt. */
		ASSERT_EQ(cairn__ring_owner_can_push(&o), CAIRN__RING_WAIT);
		ASSERT_UEQ(next - expect, cap);
		ASSERT_TRUE(cairn__ring_readable(&r));
		/* One pop frees exactly one push. */
		ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
		ASSERT_MSG(&m, expect);
		expect++;
		ASSERT_EQ(cairn__ring_owner_can_push(&o), CAIRN__RING_OK);
		make_msg(&m, next++);
		cairn__ring_owner_push(&o, &m);
		ASSERT_EQ(cairn__ring_owner_can_push(&o), CAIRN__RING_WAIT);
		/* Drain with both kinds of pop. */
		while (expect < next) {
			unsigned k = cairn__ring_pop_batch(&r, b, 3);
			ASSERT_TRUE(k >= 1 && k <= 3);
			for (unsigned i = 0; i < k; i++) {
				ASSERT_MSG(&b[i], expect + i);
			}
			expect += k;
			if (expect < next) {
				ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
				ASSERT_MSG(&m, expect);
				expect++;
			}
		}
		ASSERT_TRUE(!cairn__ring_try_pop(&r, &m));
		/* Shift the phase for the next lap. */
		for (unsigned i = 0; i < cap / 2 + lap; i++) {
			ASSERT_EQ(cairn__ring_owner_can_push(&o), CAIRN__RING_OK);
			make_msg(&m, next++);
			cairn__ring_owner_push(&o, &m);
			ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
			ASSERT_MSG(&m, expect);
			expect++;
		}
	}
	free(mem);
}

/* Sequence numbers that are neither of the two an honest peer can leave in a slot. */
static void bogus_seqs(uint64_t pos, uint64_t ok1, uint64_t ok2, uint64_t cap, uint64_t *out,
		       unsigned *n)
{
	const uint64_t fixed[] = {pos + 5,    pos + 2,           pos - 1, pos + cap, pos + cap + 1,
				  pos - cap,  pos - cap + 1,     pos + 1, 0,         1,
				  UINT64_MAX, pos ^ (1ull << 63)};
	unsigned k = 0;
	for (unsigned i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		out[k++] = fixed[i];
	}
	for (unsigned i = 0; i < 64; i++) {
		out[k++] = rnd();
	}
	/* Drop the values that are legitimate at this position. */
	unsigned w = 0;
	for (unsigned i = 0; i < k; i++) {
		if (out[i] != ok1 && out[i] != ok2) {
			out[w++] = out[i];
		}
	}
	*n = w;
}

/*
 * A hostile client can write anything into its own ring. The owner operations must
 * report a corrupt sequence number without consuming it, moving the cursor or copying
 * the message, and must tell it apart from a slot that is claimed but not yet written.
 */
static void test_owner_corrupt(uint32_t cap, uint64_t base)
{
	struct cairn__ring r, o;
	void *mem = ring_mem(cap);
	struct cairn_msg m, sentinel;
	uint64_t bogus[128];
	unsigned nb;

	/* Command ring: move the cursor a few laps in, then corrupt the slot at it. */
	ring_setup(&r, mem, cap, base);
	owner_setup(&o, mem, cap, base);
	for (uint64_t v = 0; v < 2 * (uint64_t)cap + 1; v++) {
		make_msg(&m, v);
		ASSERT_TRUE(cairn__ring_try_push(&r, &m));
		ASSERT_EQ(cairn__ring_owner_pop(&o, &m), CAIRN__RING_OK);
	}
	make_msg(&m, 77);
	ASSERT_TRUE(cairn__ring_try_push(&r, &m));
	uint64_t pos = o.cursor;
	struct cairn_slot *s = &r.slots[pos & r.mask];
	ASSERT_UEQ(s->seq, pos + 1);
	memset(&sentinel, 0xEE, sizeof(sentinel));
	bogus_seqs(pos, pos, pos + 1, cap, bogus, &nb);
	for (unsigned i = 0; i < nb; i++) {
		s->seq = bogus[i];
		m = sentinel;
		int got = cairn__ring_owner_pop(&o, &m);
		if (got != CAIRN__RING_CORRUPT) {
			T_FAILF("owner_pop at position %llu with seq %llu: %d vs CORRUPT (%d)",
				(unsigned long long)pos, (unsigned long long)bogus[i], got,
				CAIRN__RING_CORRUPT);
		}
		ASSERT_TRUE(!cairn__ring_owner_readable(&o));
		ASSERT_UEQ(o.cursor, pos);
		ASSERT_UEQ(r.hdr->tail, pos);
		ASSERT_UEQ(s->seq, bogus[i]);
		ASSERT_EQ(memcmp(&m, &sentinel, sizeof(m)), 0);
	}
	/* Restored, the same slot pops normally. */
	s->seq = pos + 1;
	ASSERT_EQ(cairn__ring_owner_pop(&o, &m), CAIRN__RING_OK);
	ASSERT_MSG(&m, 77);

	/*
	 * A producer that claimed the next position (head moved) but has not published it
	 * yet, or died in between: the slot still reads seq == pos. That is "wait", not
	 * corruption: the lane is stalled, not hostile.
	 */
	pos = o.cursor;
	s = &r.slots[pos & r.mask];
	ASSERT_UEQ(s->seq, pos);
	r.hdr->head = pos + 1;
	m = sentinel;
	ASSERT_EQ(cairn__ring_owner_pop(&o, &m), CAIRN__RING_WAIT);
	ASSERT_TRUE(!cairn__ring_owner_readable(&o));
	ASSERT_EQ(memcmp(&m, &sentinel, sizeof(m)), 0);
	ASSERT_UEQ(o.cursor, pos);
	/* The producer finishes: the message is there. */
	make_msg(&s->msg, 78);
	s->seq = pos + 1;
	ASSERT_TRUE(cairn__ring_owner_readable(&o));
	ASSERT_EQ(cairn__ring_owner_pop(&o, &m), CAIRN__RING_OK);
	ASSERT_MSG(&m, 78);

	/* Result ring: the owner pushes, clients pop. Move a few laps in. */
	ring_setup(&r, mem, cap, base);
	owner_setup(&o, mem, cap, base);
	for (uint64_t v = 0; v < 2 * (uint64_t)cap + 3; v++) {
		ASSERT_EQ(cairn__ring_owner_can_push(&o), CAIRN__RING_OK);
		make_msg(&m, v);
		cairn__ring_owner_push(&o, &m);
		ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
	}
	pos = o.cursor;
	s = &r.slots[pos & r.mask];
	ASSERT_UEQ(s->seq, pos);
	/* Legitimate: free for pos (OK), or the previous lap's message still there (WAIT). */
	bogus_seqs(pos, pos, pos - r.mask, cap, bogus, &nb);
	for (unsigned i = 0; i < nb; i++) {
		s->seq = bogus[i];
		int got = cairn__ring_owner_can_push(&o);
		if (got != CAIRN__RING_CORRUPT) {
			T_FAILF("owner_can_push at position %llu with seq %llu: %d vs CORRUPT (%d)",
				(unsigned long long)pos, (unsigned long long)bogus[i], got,
				CAIRN__RING_CORRUPT);
		}
		ASSERT_UEQ(o.cursor, pos);
	}
	s->seq = pos - r.mask;
	ASSERT_EQ(cairn__ring_owner_can_push(&o), CAIRN__RING_WAIT);
	s->seq = pos;
	ASSERT_EQ(cairn__ring_owner_can_push(&o), CAIRN__RING_OK);
	free(mem);
}

/*
 * push_batch and pop_batch with n == 0 must return 0 whatever the ring holds. Run in a
 * child with an alarm, so that a livelock is reported as a failure instead of hanging
 * the test until meson's timeout.
 */
static void test_zero_batch(void)
{
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		struct cairn__ring r;
		void *mem = ring_mem(4);
		struct cairn_msg m;
		signal(SIGALRM, SIG_DFL);
		alarm(2);
		ring_setup(&r, mem, 4, 0);
		ASSERT_EQ(cairn__ring_pop_batch(&r, &m, 0), 0);
		make_msg(&m, 1);
		ASSERT_TRUE(cairn__ring_try_push(&r, &m));
		/* Neither full nor empty: the case where a zero-sized claim has no exit. */
		ASSERT_EQ(cairn__ring_push_batch(&r, &m, 0), 0);
		ASSERT_EQ(cairn__ring_pop_batch(&r, &m, 0), 0);
		ASSERT_UEQ(r.hdr->head, 1);
		ASSERT_UEQ(r.hdr->tail, 0);
		free(mem);
		exit(T_PASS);
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st)) {
		T_FAILF("push_batch/pop_batch with n == 0 on a non-empty, non-full ring did not "
			"return within 2 s (signal %d): a zero-sized batch must return 0",
			WTERMSIG(st));
	}
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), T_PASS);
}

/* A livelocked ring operation fails the test with a message instead of a meson timeout. */
static void on_alarm(int sig)
{
	static const char m[] = "FAIL: ring-basic did not finish in 50 s: a ring operation "
				"spins forever (see the last configuration above)\n";
	ssize_t r = write(2, m, sizeof(m) - 1);
	(void)r;
	(void)sig;
	_exit(T_FAIL);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(50);
	for (unsigned c = 0; c < sizeof(capacities) / sizeof(capacities[0]); c++) {
		for (unsigned b = 0; b < NBASES; b++) {
			uint32_t cap = capacities[c];
			uint64_t base = bases(cap, b);
			/* Names the configuration in the log in case an assertion fails. */
			fprintf(stderr, "# capacity %u, first position %llu\n", cap,
				(unsigned long long)base);
			test_empty_and_full(cap, base);
			test_batch_edges(cap, base);
			test_wrap_model(cap, base);
			test_owner_pop(cap, base);
			test_owner_push(cap, base);
			test_owner_corrupt(cap, base);
		}
	}
	test_zero_batch();
	printf("ring-basic: %zu capacities x %d start positions passed\n",
	       sizeof(capacities) / sizeof(capacities[0]), NBASES);
	return T_PASS;
}
