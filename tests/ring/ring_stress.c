/*
 * Multi-process stress of one ring in a memfd: PRODUCERS producer processes (or threads,
 * with --threads) push MESSAGES messages in total while CONSUMERS consumer threads pop
 * them. Half the producers push in batches, one consumer pops in batches.
 *
 * Each message names its producer and that producer's sequence number, and fills the
 * rest of the message with values derived from both, so that a torn or stale slot
 * shows. After the run:
 *  - every message arrived exactly once (per-producer bitmaps of both consumers: no bit
 *    in both, no bit in neither);
 *  - each consumer saw each producer's messages in strictly increasing order, which the
 *    ring guarantees because a producer's positions increase and so do a consumer's;
 *  - every checksum held.
 *
 *   ring-stress [--threads] [MESSAGES]
 *
 * The machines are small (2 vCPUs) and there are more threads than cores, so every
 * failed push or pop spins briefly and then yields, and the threads are pinned round
 * robin over the allowed CPUs, the two consumers on different ones: otherwise they
 * tend to share one CPU and never race for a slot. A watchdog fails the test if no
 * message moves for WATCHDOG_S seconds (a lost slot livelocks the ring).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "common/clock.h"
#include "procs.h"
#include "shm/ring.h"
#include "shm/segment.h"

#define PRODUCERS  4
#define CONSUMERS  2
#define CAPACITY   1024
#define BATCH_MAX  32
#define WATCHDOG_S 30
#define SPINS      64
#define FLUSH      256 /* messages a consumer counts locally before publishing */

/* The 40-byte payload of every message. */
struct payload {
	uint64_t producer;
	uint64_t seq;
	uint64_t check[3];
};
_Static_assert(sizeof(struct payload) == CAIRN_PAYLOAD_SIZE, "payload fills the message");

/* Shared by all processes (MAP_SHARED): progress and the stop flag. */
struct control {
	uint64_t consumed;            /* messages popped, published by the consumers */
	uint64_t produced[PRODUCERS]; /* messages pushed, per producer (for diagnostics) */
	uint32_t stop;                /* set on the first failure: everybody bails out */
};

struct consumer {
	pthread_t thread;
	unsigned id;
	bool batch;
	uint64_t *bitmap[PRODUCERS];
	int64_t last[PRODUCERS]; /* highest sequence number seen from each producer */
	uint64_t got;
	uint64_t errors;
	char first_error[200];
};

struct producer_arg {
	pthread_t thread;
	unsigned id;
	int status;
};

static struct cairn__ring ring;
static struct control *ctl;
static uint64_t total;
static uint64_t share[PRODUCERS];
static pid_t children[PRODUCERS];
static unsigned nchildren;

/* splitmix64: spreads (producer, seq, i) over all 64 bits. */
static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15u;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
	return x ^ (x >> 31);
}

static uint64_t checksum(uint64_t producer, uint64_t seq, unsigned i)
{
	return mix((producer << 56) ^ (seq << 2) ^ i);
}

static void make_msg(struct cairn_msg *m, uint64_t producer, uint64_t seq)
{
	struct payload p = {producer, seq, {0, 0, 0}};
	for (unsigned i = 0; i < 3; i++) {
		p.check[i] = checksum(producer, seq, i);
	}
	m->hdr.type = (uint16_t)(0x100 + producer);
	m->hdr.flags = 0;
	m->hdr.length = CAIRN_PAYLOAD_SIZE;
	m->hdr.status = (int32_t)(seq & 0x7FFFFFFF);
	m->hdr.request_id = (producer << 56) | seq;
	memcpy(m->payload, &p, sizeof(p));
}

/* Spin a little, then give the core away: more threads than cores must all progress. */
static void backoff(unsigned *fails)
{
	if (++*fails < SPINS) {
		cairn__cpu_relax();
	} else {
		sched_yield();
	}
}

static bool stopped(void)
{
	return cairn__load_relaxed(&ctl->stop) != 0;
}

static void fail_stop(void)
{
	cairn__store_relaxed(&ctl->stop, 1);
}

/* Pushes share[id] messages; returns 0, or 1 if the ring misbehaved or the run stopped. */
static int produce(unsigned id)
{
	bool batch = id % 2 == 1;
	uint64_t n = share[id], seq = 0, rs = mix(id + 1);
	struct cairn_msg b[BATCH_MAX];
	unsigned fails = 0, iter = 0;

	t_pin(id);
	while (seq < n) {
		if (stopped()) {
			return 1;
		}
		if (!batch) {
			make_msg(&b[0], id, seq);
			if (!cairn__ring_try_push(&ring, &b[0])) {
				backoff(&fails);
				continue;
			}
			seq++;
		} else {
			/* A batch of random size; pushed in pieces until all of it went in. */
			rs = mix(rs);
			unsigned k = 1 + (unsigned)(rs % BATCH_MAX), done = 0;
			if (k > n - seq) {
				k = (unsigned)(n - seq);
			}
			for (unsigned i = 0; i < k; i++) {
				make_msg(&b[i], id, seq + i);
			}
			while (done < k) {
				unsigned got = cairn__ring_push_batch(&ring, &b[done], k - done);
				if (got > k - done) {
					fprintf(stderr,
						"FAIL: producer %u: push_batch of %u pushed %u\n",
						id, k - done, got);
					fail_stop();
					return 1;
				}
				if (got == 0) {
					if (stopped()) {
						return 1;
					}
					backoff(&fails);
					continue;
				}
				done += got;
				fails = 0;
			}
			seq += k;
		}
		fails = 0;
		/* Not every time: the counters of all producers share a cache line. */
		if (++iter % 64 == 0) {
			cairn__store_relaxed(&ctl->produced[id], seq);
		}
	}
	cairn__store_relaxed(&ctl->produced[id], seq);
	return 0;
}

static void *producer_thread(void *arg)
{
	struct producer_arg *a = arg;
	a->status = produce(a->id);
	return NULL;
}

static void consumer_error(struct consumer *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records the first error of a consumer and stops the run. */
static void consumer_error(struct consumer *c, const char *fmt, ...)
{
	if (c->errors++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(c->first_error, sizeof(c->first_error), fmt, ap);
		va_end(ap);
	}
	fail_stop();
}

static void check_msg(struct consumer *c, const struct cairn_msg *m)
{
	struct payload p;
	memcpy(&p, m->payload, sizeof(p));
	if (p.producer >= PRODUCERS || p.seq >= share[p.producer]) {
		consumer_error(c, "message from unknown producer %llu, seq %llu (request_id %llx)",
			       (unsigned long long)p.producer, (unsigned long long)p.seq,
			       (unsigned long long)m->hdr.request_id);
		return;
	}
	struct cairn_msg want;
	make_msg(&want, p.producer, p.seq);
	if (memcmp(m, &want, sizeof(want)) != 0) {
		consumer_error(
			c, "producer %llu seq %llu: checksum or header mismatch (request_id %llx)",
			(unsigned long long)p.producer, (unsigned long long)p.seq,
			(unsigned long long)m->hdr.request_id);
		return;
	}
	if ((int64_t)p.seq <= c->last[p.producer]) {
		consumer_error(c, "producer %llu: seq %llu after seq %lld (order broken)",
			       (unsigned long long)p.producer, (unsigned long long)p.seq,
			       (long long)c->last[p.producer]);
	}
	c->last[p.producer] = (int64_t)p.seq;
	uint64_t *w = &c->bitmap[p.producer][p.seq / 64], bit = 1ull << (p.seq % 64);
	if (*w & bit) {
		consumer_error(c, "producer %llu seq %llu popped twice by consumer %u",
			       (unsigned long long)p.producer, (unsigned long long)p.seq, c->id);
	}
	*w |= bit;
	c->got++;
}

static void *consumer_thread(void *arg)
{
	struct consumer *c = arg;
	struct cairn_msg b[BATCH_MAX];
	uint64_t rs = mix(100 + c->id), pending = 0;
	unsigned fails = 0;

	/* Consumers 0 and 1 on different CPUs, so that they race each other for slots. */
	t_pin(c->id);
	for (;;) {
		unsigned k;
		if (c->batch) {
			rs = mix(rs);
			k = cairn__ring_pop_batch(&ring, b, 1 + (unsigned)(rs % BATCH_MAX));
		} else {
			k = cairn__ring_try_pop(&ring, &b[0]) ? 1 : 0;
		}
		for (unsigned i = 0; i < k; i++) {
			check_msg(c, &b[i]);
		}
		pending += k;
		if (k > 0 && pending < FLUSH) {
			fails = 0;
			continue;
		}
		/* Publish progress; the run is over when everything was popped by someone. */
		if (pending) {
			cairn__add_relaxed(&ctl->consumed, pending);
			pending = 0;
		}
		if (k > 0) {
			fails = 0;
			continue;
		}
		if (cairn__load_relaxed(&ctl->consumed) >= total || stopped()) {
			return NULL;
		}
		backoff(&fails);
	}
}

static void kill_children(void)
{
	for (unsigned i = 0; i < nchildren; i++) {
		kill(children[i], SIGKILL);
	}
}

/* Fails the whole test if nothing moves for WATCHDOG_S seconds. */
static void *watchdog_thread(void *arg)
{
	uint32_t *done = arg;
	uint64_t last = UINT64_MAX, since = cairn__now_ns();
	while (!cairn__load_acquire(done)) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		uint64_t now = cairn__load_relaxed(&ctl->consumed);
		for (unsigned i = 0; i < PRODUCERS; i++) {
			now += cairn__load_relaxed(&ctl->produced[i]);
		}
		if (now != last) {
			last = now;
			since = cairn__now_ns();
			continue;
		}
		if (cairn__now_ns() - since > (uint64_t)WATCHDOG_S * 1000000000u) {
			fprintf(stderr,
				"FAIL: watchdog: no progress for %d s: consumed %llu of %llu, "
				"head %llu, tail %llu, produced",
				WATCHDOG_S, (unsigned long long)cairn__load_relaxed(&ctl->consumed),
				(unsigned long long)total,
				(unsigned long long)cairn__load_relaxed(&ring.hdr->head),
				(unsigned long long)cairn__load_relaxed(&ring.hdr->tail));
			for (unsigned i = 0; i < PRODUCERS; i++) {
				fprintf(stderr, " %llu/%llu",
					(unsigned long long)cairn__load_relaxed(&ctl->produced[i]),
					(unsigned long long)share[i]);
			}
			fprintf(stderr, "\n");
			kill_children();
			_exit(T_FAIL);
		}
	}
	return NULL;
}

/* Combines both consumers' bitmaps: each message exactly once, none missing. */
static void check_exactly_once(struct consumer *cons)
{
	for (unsigned p = 0; p < PRODUCERS; p++) {
		uint64_t words = (share[p] + 63) / 64;
		for (uint64_t w = 0; w < words; w++) {
			uint64_t a = cons[0].bitmap[p][w], b = cons[1].bitmap[p][w];
			uint64_t valid = w + 1 < words || share[p] % 64 == 0
						 ? UINT64_MAX
						 : (1ull << (share[p] % 64)) - 1;
			if (a & b) {
				T_FAILF("producer %u seq %llu popped by both consumers", p,
					(unsigned long long)(w * 64 +
							     (unsigned)__builtin_ctzll(a & b)));
			}
			if ((a | b) != valid) {
				uint64_t miss = ~(a | b) & valid;
				T_FAILF("producer %u seq %llu never popped (bits %llx of %llx)", p,
					(unsigned long long)(w * 64 +
							     (unsigned)__builtin_ctzll(miss)),
					(unsigned long long)(a | b), (unsigned long long)valid);
			}
		}
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: ring-stress [--threads] [MESSAGES]\n");
	exit(T_FAIL);
}

int main(int argc, char **argv)
{
	bool threads = false;
	total = 10 * 1000 * 1000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--threads") == 0) {
			threads = true;
		} else {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(argv[i], &end, 10);
			if (errno || *end || end == argv[i] || v < PRODUCERS || v > (1ull << 40)) {
				usage();
			}
			total = v;
		}
	}
	for (unsigned i = 0; i < PRODUCERS; i++) {
		share[i] = total / PRODUCERS + (i < total % PRODUCERS);
	}

	/* The ring lives in a memfd, as a lane's rings do; the control block next to it. */
	int fd;
	void *mem;
	ASSERT_OK(cairn__memfd_new("ring-stress", cairn__ring_bytes(CAPACITY), &fd));
	ASSERT_OK(cairn__map(fd, cairn__ring_bytes(CAPACITY), true, &mem));
	cairn__ring_init(&ring, mem, CAPACITY);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ctl != MAP_FAILED);
	memset(ctl, 0, sizeof(*ctl));

	struct consumer cons[CONSUMERS];
	memset(cons, 0, sizeof(cons));
	for (unsigned c = 0; c < CONSUMERS; c++) {
		cons[c].id = c;
		cons[c].batch = c == 1;
		for (unsigned p = 0; p < PRODUCERS; p++) {
			cons[c].bitmap[p] = calloc((share[p] + 63) / 64, sizeof(uint64_t));
			ASSERT_TRUE(cons[c].bitmap[p] != NULL);
			cons[c].last[p] = -1;
		}
	}

	uint64_t t0 = cairn__now_ns();
	struct producer_arg pa[PRODUCERS];
	/* Fork before any thread exists: the children are single-threaded copies. */
	for (unsigned i = 0; i < PRODUCERS; i++) {
		pa[i].id = i;
		pa[i].status = 0;
		if (threads) {
			continue;
		}
		pid_t pid = fork();
		ASSERT_TRUE(pid >= 0);
		if (pid == 0) {
			t_child_init();
			_exit(produce(i));
		}
		children[nchildren++] = pid;
	}
	if (threads) {
		for (unsigned i = 0; i < PRODUCERS; i++) {
			ASSERT_EQ(pthread_create(&pa[i].thread, NULL, producer_thread, &pa[i]), 0);
		}
	}
	for (unsigned c = 0; c < CONSUMERS; c++) {
		ASSERT_EQ(pthread_create(&cons[c].thread, NULL, consumer_thread, &cons[c]), 0);
	}
	uint32_t done = 0;
	pthread_t wd;
	ASSERT_EQ(pthread_create(&wd, NULL, watchdog_thread, &done), 0);

	for (unsigned c = 0; c < CONSUMERS; c++) {
		ASSERT_EQ(pthread_join(cons[c].thread, NULL), 0);
	}
	uint64_t t1 = cairn__now_ns();
	for (unsigned i = 0; i < PRODUCERS; i++) {
		if (threads) {
			ASSERT_EQ(pthread_join(pa[i].thread, NULL), 0);
			continue;
		}
		int st;
		ASSERT_EQ(waitpid(children[i], &st, 0), children[i]);
		pa[i].status = t_exit_code(st);
	}
	cairn__store_release(&done, 1);
	ASSERT_EQ(pthread_join(wd, NULL), 0);

	for (unsigned c = 0; c < CONSUMERS; c++) {
		if (cons[c].errors) {
			T_FAILF("consumer %u: %llu errors, first: %s", c,
				(unsigned long long)cons[c].errors, cons[c].first_error);
		}
	}
	for (unsigned i = 0; i < PRODUCERS; i++) {
		if (pa[i].status != 0) {
			T_FAILF("producer %u exited with status %d", i, pa[i].status);
		}
		ASSERT_UEQ(ctl->produced[i], share[i]);
	}
	check_exactly_once(cons);
	ASSERT_UEQ(cons[0].got + cons[1].got, total);
	ASSERT_UEQ(ring.hdr->head, total);
	ASSERT_UEQ(ring.hdr->tail, total);
	ASSERT_TRUE(!cairn__ring_readable(&ring));

	double s = (double)(t1 - t0) / 1e9;
	printf("ring-stress: %llu messages, %d producer %s (2 batching), %d consumers "
	       "(1 batching), capacity %d: %.2f s, %.2f M msgs/s; consumer split %llu / %llu\n",
	       (unsigned long long)total, PRODUCERS, threads ? "threads" : "processes", CONSUMERS,
	       CAPACITY, s, (double)total / s / 1e6, (unsigned long long)cons[0].got,
	       (unsigned long long)cons[1].got);

	for (unsigned c = 0; c < CONSUMERS; c++) {
		for (unsigned p = 0; p < PRODUCERS; p++) {
			free(cons[c].bitmap[p]);
		}
	}
	munmap(ctl, sizeof(*ctl));
	munmap(mem, cairn__ring_bytes(CAPACITY));
	close(fd);
	return T_PASS;
}
