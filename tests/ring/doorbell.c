/*
 * The doorbell: a consumer that sleeps on an empty ring must never sleep past a
 * published message, and a producer must not pay for a syscall when nobody sleeps.
 *
 * First, deterministically in one thread: rings with no sleeper make no wake; rings
 * with a sleeper announced bump the word and count a wake; a ring that lands between
 * a waiter's prepare and its FUTEX_WAIT makes the wait return at once.
 *
 * Then HANDOFFS hand-offs between two processes, one message at a time: the child
 * consumes with the full protocol (try, prepare, re-check, FUTEX_WAIT, cancel), the
 * parent pushes, rings and waits for the child's acknowledgement before the next push,
 * at varying moments of the child's way to sleep (before it announces itself, just
 * after, or once it sleeps in the kernel). A lost wake-up shows as a
 * FUTEX_WAIT that times out (after WAIT_NS, far longer than any hand-off) while a
 * message sits in the ring.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "common/clock.h"
#include "shm/doorbell.h"
#include "shm/ring.h"
#include "shm/segment.h"

#define CAPACITY 64
#define HANDOFFS 100000
#define QUIET    10000
#define WAIT_NS  (2 * 1000 * 1000 * 1000ll)
#define LIMIT_S  50 /* the whole hand-off phase, against a hang */

/* Shared between the two processes, outside the ring. */
struct handoff {
	uint64_t ack;      /* hand-offs the consumer has completed */
	uint64_t sleeps;   /* FUTEX_WAITs that returned 0 (woken) */
	uint64_t eagain;   /* FUTEX_WAITs that found the word already bumped */
	uint64_t rechecks; /* messages found by the re-check after prepare */
	uint64_t timeouts; /* FUTEX_WAITs that timed out with the ring empty */
};

static void msg_for(struct cairn_msg *m, uint64_t i)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = CAIRN_MSG_PING;
	m->hdr.length = 8;
	m->hdr.request_id = i + 1;
	memcpy(m->payload, &i, sizeof(i));
}

static void *ring_mem(int *fd)
{
	void *mem;
	ASSERT_OK(cairn__memfd_new("doorbell", cairn__ring_bytes(CAPACITY), fd));
	ASSERT_OK(cairn__map(*fd, cairn__ring_bytes(CAPACITY), true, &mem));
	return mem;
}

static void test_single_thread(void)
{
	struct cairn__ring r;
	struct cairn_msg m;
	int fd;
	void *mem = ring_mem(&fd);
	cairn__ring_init(&r, mem, CAPACITY);
	struct cairn_doorbell *b = &r.hdr->bell;

	/* Nobody sleeps: QUIET pushes and rings make no syscall and leave the word alone. */
	uint64_t wakes0 = b->wakes;
	uint32_t word0 = b->word;
	for (unsigned i = 0; i < QUIET; i++) {
		msg_for(&m, i);
		ASSERT_TRUE(cairn__ring_try_push(&r, &m));
		ASSERT_TRUE(!cairn__doorbell_ring(b));
		if (i % 2) {
			ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
			ASSERT_TRUE(cairn__ring_try_pop(&r, &m));
			ASSERT_UEQ(m.hdr.request_id, i + 1);
		}
	}
	ASSERT_UEQ(b->wakes, wakes0);
	ASSERT_UEQ(b->word, word0);
	ASSERT_UEQ(b->sleepers, 0);

	/* Somebody announced itself: the ring bumps the word and makes the wake. */
	uint32_t v = cairn__doorbell_prepare(b);
	ASSERT_UEQ(v, word0);
	ASSERT_UEQ(b->sleepers, 1);
	msg_for(&m, 1);
	ASSERT_TRUE(cairn__ring_try_push(&r, &m));
	ASSERT_TRUE(cairn__doorbell_ring(b));
	ASSERT_UEQ(b->wakes, wakes0 + 1);
	ASSERT_UEQ(b->word, word0 + 1);
	/*
	 * The waiter re-checked before the push (found nothing) and now sleeps on the word
	 * it read in prepare: the ring came in between, so the wait must not block.
	 */
	uint64_t t0 = cairn__now_ns();
	int rc = cairn__futex_wait(&b->word, v, WAIT_NS);
	ASSERT_EQ(rc, -EAGAIN);
	ASSERT_LT(cairn__now_ns() - t0, WAIT_NS / 2);
	cairn__doorbell_cancel(b);
	ASSERT_UEQ(b->sleepers, 0);
	ASSERT_TRUE(cairn__ring_try_pop(&r, &m));

	/* Nothing rings: the wait ends by its timeout, not earlier. */
	v = cairn__doorbell_prepare(b);
	t0 = cairn__now_ns();
	rc = cairn__futex_wait(&b->word, v, 20 * 1000 * 1000);
	ASSERT_EQ(rc, -ETIMEDOUT);
	ASSERT_GE(cairn__now_ns() - t0, 19 * 1000 * 1000);
	cairn__doorbell_cancel(b);
	ASSERT_UEQ(b->sleepers, 0);
	ASSERT_UEQ(b->wakes, wakes0 + 1);

	munmap(mem, cairn__ring_bytes(CAPACITY));
	close(fd);
}

/* The child: takes HANDOFFS messages, sleeping on the doorbell whenever the ring is empty. */
static int consume(struct cairn__ring *r, struct handoff *h)
{
	struct cairn_doorbell *b = &r->hdr->bell;
	struct cairn_msg m;
	unsigned empty_timeouts = 0;

	alarm(LIMIT_S + 5);
	for (uint64_t i = 0; i < HANDOFFS; i++) {
		for (;;) {
			if (cairn__ring_try_pop(r, &m)) {
				break;
			}
			uint32_t v = cairn__doorbell_prepare(b);
			/* The re-check after announcing ourselves: the half of Dekker's protocol.
			 */
			if (cairn__ring_try_pop(r, &m)) {
				cairn__doorbell_cancel(b);
				h->rechecks++;
				break;
			}
			int rc = cairn__futex_wait(&b->word, v, WAIT_NS);
			cairn__doorbell_cancel(b);
			if (rc == 0) {
				h->sleeps++;
			} else if (rc == -EAGAIN) {
				h->eagain++;
			} else if (rc == -ETIMEDOUT) {
				if (cairn__ring_readable(r)) {
					fprintf(stderr,
						"FAIL: hand-off %llu: slept %lld ms past a "
						"published "
						"message (lost wake-up; sleepers %u, word %u, read "
						"%u)\n",
						(unsigned long long)i, WAIT_NS / 1000000,
						cairn__load_relaxed(&b->sleepers),
						cairn__load_relaxed(&b->word), v);
					return T_FAIL;
				}
				h->timeouts++;
				/* The parent acknowledged nothing for this long: it is gone or
				 * stuck. */
				if (++empty_timeouts > 5) {
					fprintf(stderr,
						"FAIL: hand-off %llu: no message for %d s\n",
						(unsigned long long)i, 5 * 2);
					return T_FAIL;
				}
			} else if (rc != -EINTR) {
				fprintf(stderr, "FAIL: futex_wait: %d\n", rc);
				return T_FAIL;
			}
		}
		empty_timeouts = 0;
		uint64_t got;
		memcpy(&got, m.payload, sizeof(got));
		if (m.hdr.request_id != i + 1 || got != i) {
			fprintf(stderr, "FAIL: hand-off %llu: got message %llu (request_id %llu)\n",
				(unsigned long long)i, (unsigned long long)got,
				(unsigned long long)m.hdr.request_id);
			return T_FAIL;
		}
		/* Release: the counters above are visible to the parent once it sees ack. */
		cairn__store_release(&h->ack, i + 1);
	}
	return T_PASS;
}

static void test_handoffs(void)
{
	struct cairn__ring r;
	struct cairn_msg m;
	int fd;
	void *mem = ring_mem(&fd);
	cairn__ring_init(&r, mem, CAPACITY);
	struct handoff *h =
		mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(h != MAP_FAILED);
	memset(h, 0, sizeof(*h));

	/*
	 * The consumer is another process: the doorbell is a shared futex in a memfd, and a
	 * private futex (keyed by address space) would never wake it.
	 */
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(consume(&r, h));
	}

	uint64_t rang = 0, wakes0 = r.hdr->bell.wakes, t0 = cairn__now_ns();
	for (uint64_t i = 0; i < HANDOFFS; i++) {
		/*
		 * Vary the moment of the push relative to the consumer's way to sleep: at once
		 * (it is usually between its empty poll and its re-check), as soon as it has
		 * announced itself (between prepare and FUTEX_WAIT), or once it certainly
		 * sleeps in the kernel.
		 */
		unsigned mode = (unsigned)(i % 4);
		if (mode >= 1) {
			uint64_t w0 = cairn__now_ns();
			while (cairn__load_acquire(&r.hdr->bell.sleepers) == 0) {
				sched_yield();
				if (cairn__now_ns() - w0 > (uint64_t)WAIT_NS) {
					kill(pid, SIGKILL);
					T_FAILF("hand-off %llu: the consumer never went to sleep",
						(unsigned long long)i);
				}
			}
		}
		if (mode == 2) {
			uint64_t w0 = cairn__now_ns();
			while (cairn__now_ns() - w0 < 30 * 1000) {
				cairn__cpu_relax();
			}
		}
		msg_for(&m, i);
		/* One at a time: the ring has room. */
		ASSERT_TRUE(cairn__ring_try_push(&r, &m));
		rang += cairn__doorbell_ring(&r.hdr->bell);
		unsigned spins = 0;
		while (cairn__load_acquire(&h->ack) != i + 1) {
			if (++spins < 100) {
				cairn__cpu_relax();
				continue;
			}
			sched_yield();
			if ((spins & 1023) == 0 &&
			    cairn__now_ns() - t0 > (uint64_t)LIMIT_S * 1000000000u) {
				kill(pid, SIGKILL);
				T_FAILF("hand-off %llu not acknowledged after %d s in total (ack "
					"%llu)",
					(unsigned long long)i, LIMIT_S,
					(unsigned long long)cairn__load_acquire(&h->ack));
			}
			if ((spins & 1023) == 0 && waitpid(pid, NULL, WNOHANG) == pid) {
				T_FAILF("consumer exited at hand-off %llu", (unsigned long long)i);
			}
		}
	}
	double s = (double)(cairn__now_ns() - t0) / 1e9;
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), T_PASS);
	ASSERT_UEQ(h->ack, HANDOFFS);
	ASSERT_TRUE(!cairn__ring_readable(&r));
	ASSERT_UEQ(r.hdr->bell.sleepers, 0);
	/* Every ring that said it woke somebody counted its wake, and no other did. */
	ASSERT_UEQ(r.hdr->bell.wakes - wakes0, rang);
	/* The test is only worth something if the consumer really slept and was woken. */
	ASSERT_GE(h->sleeps, HANDOFFS / 100);
	ASSERT_GE(rang, HANDOFFS / 4);
	printf("doorbell: %d hand-offs in %.2f s (%.1f us each): %llu wakes made, consumer woken "
	       "%llu times, %llu early returns (EAGAIN), %llu found by the re-check, %llu empty "
	       "timeouts\n",
	       HANDOFFS, s, s * 1e6 / HANDOFFS, (unsigned long long)rang,
	       (unsigned long long)h->sleeps, (unsigned long long)h->eagain,
	       (unsigned long long)h->rechecks, (unsigned long long)h->timeouts);
	munmap(h, sizeof(*h));
	munmap(mem, cairn__ring_bytes(CAPACITY));
	close(fd);
}

int main(void)
{
	test_single_thread();
	test_handoffs();
	return T_PASS;
}
