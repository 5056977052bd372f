/*
 * The event broadcast ring (src/shm/broadcast.h): one writer, readers at their own pace.
 *
 * First, in one process, for every capacity of capacities: an empty ring reads nothing;
 * events published below capacity come back in order with exact contents, also in
 * pieces; a reader exactly capacity behind loses nothing; a reader lapped by more than
 * capacity learns exactly how many it lost and then gets the newest capacity events in
 * order; a slot the writer is rewriting (seq 0) or has rewritten before advancing the
 * tail makes the reader skip that one event; a cursor beyond the tail is reset without
 * counting anything missed; attach refuses headers that do not describe a ring that
 * fits; a wake with nobody asleep bumps the bell and counts itself.
 *
 * Then the stress, on a ring of each capacity of stress_capacities: the writer publishes
 * EVENTS events, each derived from its number so that every byte can be checked, in
 * bursts of random size at a varying pace, while READERS readers follow it: one fast,
 * one that sleeps now and then and so gets lapped. With processes (the default) the
 * readers map the memfd PROT_READ only, after dropping the writer's mapping, so a store
 * from a reader faults. Each reader asserts that the event numbers
 * it gets strictly increase, that every event is exactly the one of its number (never
 * torn), that its cursor follows, and that received + missed == EVENTS at the end.
 * When caught up, a reader sleeps on the ring's bell the way a host does: it announces
 * itself in a word outside the ring (as lane_header.event_sleepers), re-checks the tail
 * and waits on the bell's word from its read-only mapping; the writer, after each
 * burst, wakes the bell only if it sees a sleeper. A wait that times out while events
 * are still to come is a lost wake-up and fails the test.
 *
 *   broadcast [--threads] [EVENTS]
 *
 * --threads runs the readers as threads on the writer's own mapping instead: that is
 * the ThreadSanitizer variant (TSan cannot relate two mappings of one file).
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
#include "common/atomic.h"
#include "common/clock.h"
#include "common/futex.h"
#include "procs.h"
#include "shm/broadcast.h"
#include "shm/segment.h"

#define READERS       2
#define BURST_MAX     256     /* events the writer publishes between two looks at the sleepers */
#define READ_MAX      128     /* events a reader asks for at once */
#define SLOW_EVERY    8192    /* the slow reader naps after receiving this many events... */
#define SLOW_NAP_NS   1000000 /* ...for this long: more than the ring lasts at any pace */
#define PAUSE_NS      40000   /* longest sleep of the writer between two bursts */
#define SPINS         256     /* empty reads before a reader goes to sleep on the bell */
#define WAIT_NS       (5 * 1000 * 1000 * 1000ll)
#define LIMIT_S       60 /* the whole stress, against a hang */
#define DEFAULT_TOTAL 2000000

static const uint32_t capacities[] = {1, 2, 16, 1024};

/*
 * Rings of the stress. The small ones put the readers in the slot the writer is
 * rewriting all the time, which a torn or stale copy needs to show up.
 */
static const uint32_t stress_capacities[] = {4, 64, 1024};

/* splitmix64 */
static uint64_t mix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15u;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
	return x ^ (x >> 31);
}

/* Event number n: every field, padding included, follows from n. */
static void make_event(struct cairn_event *e, uint64_t n)
{
	uint64_t a = mix(n), b = mix(n ^ 0x5555555555555555u), c = mix(n + 0x123456789u);
	e->type = (uint16_t)(1 + n % 7);
	e->_pad0 = (uint16_t)(a >> 48);
	e->hunt_id = (uint32_t)a;
	e->order = n;
	e->stamp_ns = b;
	e->player_id = (uint32_t)(c >> 32);
	e->clue_id = (uint32_t)c;
	e->value = (int64_t)(b ^ c); /* negative about half the time */
	e->x = (int32_t)(uint32_t)(a >> 16);
	e->y = (int32_t)(uint32_t)(b >> 24);
	memcpy(e->_reserved, &c, sizeof(e->_reserved));
}

static bool is_event(const struct cairn_event *e, uint64_t n)
{
	struct cairn_event want;
	make_event(&want, n);
	return memcmp(e, &want, sizeof(want)) == 0;
}

/* Reads up to n events and checks that they are first, first + 1, ... */
static size_t read_expect(struct cairn__broadcast_reader *r, size_t n, uint64_t first,
			  uint64_t *missed)
{
	struct cairn_event out[64];
	ASSERT_TRUE(n <= 64);
	size_t got = cairn__broadcast_read(r, out, n, missed);
	ASSERT_UINT_OP(got, <=, n);
	for (size_t i = 0; i < got; i++) {
		if (!is_event(&out[i], first + i)) {
			T_FAILF("event %zu of the read: expected number %llu, got order %llu "
				"(type %u)",
				i, (unsigned long long)(first + i),
				(unsigned long long)out[i].order, out[i].type);
		}
	}
	if (got) {
		ASSERT_UEQ(r->next, first + got);
	}
	return got;
}

/* Reads everything, in reads of at most 64, and checks it is exactly first..last. */
static void drain_expect(struct cairn__broadcast_reader *r, uint64_t first, uint64_t last,
			 uint64_t *missed)
{
	uint64_t n = first;
	while (n < last) {
		size_t got = read_expect(r, 64, n, missed);
		ASSERT_UINT_OP(got, >, 0);
		n += got;
	}
	ASSERT_UEQ(n, last);
	ASSERT_UEQ(read_expect(r, 64, last, missed), 0);
	ASSERT_UEQ(r->next, last);
}

static void publish_n(struct cairn__broadcast *w, uint64_t n)
{
	struct cairn_event e;
	for (uint64_t i = 0; i < n; i++) {
		make_event(&e, w->tail);
		cairn__broadcast_publish(w, &e);
	}
}

static void *zeroed(size_t size)
{
	/* Anonymous memory is zeroed and page aligned, as a fresh memfd mapping is. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	return p;
}

static void unit(uint32_t cap)
{
	size_t size = cairn__broadcast_size(cap);
	ASSERT_UEQ(size, sizeof(struct cairn_event_ring_header) +
				 (size_t)cap * sizeof(struct cairn_event_slot));
	void *mem = zeroed(size);
	struct cairn__broadcast w;
	struct cairn__broadcast_reader r;
	uint64_t missed = 0;

	ASSERT_EQ(cairn__broadcast_init(mem, size, cap, &w), 0);
	ASSERT_UEQ(w.hdr->capacity, cap);
	ASSERT_UEQ(w.hdr->mask, cap - 1);
	ASSERT_UEQ(w.hdr->slot_size, CAIRN_SLOT_SIZE);
	ASSERT_EQ(cairn__broadcast_attach(mem, size, &r), 0);
	ASSERT_UEQ(r.capacity, cap);
	ASSERT_UEQ(r.mask, cap - 1);
	ASSERT_UEQ(r.next, 0);

	/* Empty: nothing to read, nothing missed. */
	ASSERT_UEQ(cairn__broadcast_tail(&r), 0);
	ASSERT_UEQ(read_expect(&r, 64, 0, &missed), 0);
	ASSERT_UEQ(missed, 0);
	ASSERT_UEQ(r.next, 0);

	/* Fewer than capacity, read in pieces of 3, then exactly capacity in one go. */
	uint64_t n = cap - 1;
	publish_n(&w, n);
	ASSERT_UEQ(cairn__broadcast_tail(&r), n);
	for (uint64_t at = 0; at < n;) {
		size_t got = read_expect(&r, 3, at, &missed);
		ASSERT_UEQ(got, n - at < 3 ? n - at : 3);
		at += got;
	}
	ASSERT_UEQ(read_expect(&r, 64, n, &missed), 0);
	ASSERT_UEQ(missed, 0);
	uint64_t base = r.next;
	publish_n(&w, cap);
	drain_expect(&r, base, base + cap, &missed);
	ASSERT_UEQ(missed, 0);

	/* Lapped: 2 * cap + 5 events lost, then the newest cap in order. */
	base = r.next;
	publish_n(&w, 3 * (uint64_t)cap + 5);
	drain_expect(&r, base + 2 * (uint64_t)cap + 5, w.tail, &missed);
	ASSERT_UEQ(missed, 2 * (uint64_t)cap + 5);

	/* Lapped, read one at a time: the loss is counted once, at the first read. */
	missed = 0;
	base = r.next;
	publish_n(&w, 2 * (uint64_t)cap + 1);
	ASSERT_UEQ(read_expect(&r, 1, base + cap + 1, &missed), 1);
	ASSERT_UEQ(missed, cap + 1);
	drain_expect(&r, base + cap + 2, w.tail, &missed);
	ASSERT_UEQ(missed, cap + 1);

	if (cap >= 2) {
		/*
		 * The writer has begun event base + cap in the slot of event base (seq 0) but
		 * not finished it: the reader gives up exactly that one event.
		 */
		missed = 0;
		base = r.next;
		publish_n(&w, cap);
		struct cairn_event_slot *s = &w.slots[base & w.mask];
		ASSERT_UEQ(s->seq, base + 1);
		s->seq = 0;
		drain_expect(&r, base + 1, base + cap, &missed);
		ASSERT_UEQ(missed, 1);
		publish_n(&w, 1); /* the writer finishes it */
		drain_expect(&r, base + cap, base + cap + 1, &missed);
		ASSERT_UEQ(missed, 1);

		/* Event base + cap is in the slot, published, but the tail is not yet
		 * advanced: the same. */
		missed = 0;
		base = r.next;
		publish_n(&w, cap);
		s = &w.slots[base & w.mask];
		make_event(&s->event, base + cap);
		s->seq = base + cap + 1;
		drain_expect(&r, base + 1, base + cap, &missed);
		ASSERT_UEQ(missed, 1);
		publish_n(&w, 1);
		drain_expect(&r, base + cap, base + cap + 1, &missed);
		ASSERT_UEQ(missed, 1);
	}

	/* A cursor from the future is reset to the tail, nothing missed. */
	missed = 0;
	uint64_t tail = w.tail;
	r.next = tail + 100;
	ASSERT_UEQ(read_expect(&r, 64, tail, &missed), 0);
	ASSERT_UEQ(r.next, tail);
	ASSERT_UEQ(missed, 0);
	publish_n(&w, cap < 3 ? cap : 3);
	drain_expect(&r, tail, w.tail, &missed);
	ASSERT_UEQ(missed, 0);

	/* A new reader starts at the tail. */
	struct cairn__broadcast_reader r2;
	ASSERT_EQ(cairn__broadcast_attach(mem, size, &r2), 0);
	ASSERT_UEQ(r2.next, w.tail);
	ASSERT_UEQ(read_expect(&r2, 64, w.tail, &missed), 0);

	/* A wake with nobody asleep. */
	ASSERT_EQ(cairn__broadcast_wake(&w), 0);
	ASSERT_UEQ(w.hdr->bell.word, 1);
	ASSERT_UEQ(w.hdr->bell.wakes, 1);

	munmap(mem, size);
}

static void attach_rejects(void)
{
	enum { CAP = 16 };
	size_t size = cairn__broadcast_size(CAP);
	void *mem = zeroed(size);
	struct cairn__broadcast w;
	struct cairn__broadcast_reader r;

	ASSERT_EQ(cairn__broadcast_init(mem, size, 0, &w), -EINVAL);
	ASSERT_EQ(cairn__broadcast_init(mem, size, 12, &w), -EINVAL);
	ASSERT_EQ(cairn__broadcast_init(mem, size - 1, CAP, &w), -EINVAL);
	ASSERT_EQ(cairn__broadcast_init(mem, size, CAP, &w), 0);
	ASSERT_EQ(cairn__broadcast_attach(mem, size, &r), 0);

	struct cairn_event_ring_header *h = mem;
	static const struct {
		const char *what;
		uint32_t capacity, mask, slot_size;
	} bad[] = {
		{"capacity not a power of two", 12, 11, CAIRN_SLOT_SIZE},
		{"capacity 0", 0, UINT32_MAX, CAIRN_SLOT_SIZE},
		{"mask not capacity - 1", CAP, 7, CAIRN_SLOT_SIZE},
		{"mask of a larger ring", CAP, 2 * CAP - 1, CAIRN_SLOT_SIZE},
		{"slot size not SLOT_SIZE", CAP, CAP - 1, 56},
		{"capacity beyond the mapping", 2 * CAP, 2 * CAP - 1, CAIRN_SLOT_SIZE},
		{"capacity 2^31", 1u << 31, (1u << 31) - 1, CAIRN_SLOT_SIZE},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h->capacity = bad[i].capacity;
		h->mask = bad[i].mask;
		h->slot_size = bad[i].slot_size;
		int rc = cairn__broadcast_attach(mem, size, &r);
		if (rc != -CAIRN_E_LAYOUT) {
			T_FAILF("attach with %s: %d, expected -CAIRN_E_LAYOUT", bad[i].what, rc);
		}
	}
	h->capacity = CAP;
	h->mask = CAP - 1;
	h->slot_size = CAIRN_SLOT_SIZE;
	static const size_t short_sizes[] = {0, 1, sizeof(struct cairn_event_ring_header) - 1,
					     sizeof(struct cairn_event_ring_header)};
	for (size_t i = 0; i < sizeof(short_sizes) / sizeof(short_sizes[0]); i++) {
		ASSERT_EQ(cairn__broadcast_attach(mem, short_sizes[i], &r), -CAIRN_E_LAYOUT);
	}
	ASSERT_EQ(cairn__broadcast_attach(mem, size - 1, &r), -CAIRN_E_LAYOUT);
	ASSERT_EQ(cairn__broadcast_attach(mem, size, &r), 0);
	munmap(mem, size);
}

/* ---- the stress ---- */

struct reader_stats {
	uint64_t received;
	uint64_t missed;
	uint64_t laps;     /* reads that reported events missed */
	uint64_t reads;    /* calls to cairn__broadcast_read */
	uint64_t sleeps;   /* FUTEX_WAITs on the bell that slept and were woken */
	uint64_t eagain;   /* FUTEX_WAITs that found the bell already rung */
	uint64_t rechecks; /* ways to sleep cut short by events found on the re-check */
	uint64_t timeouts; /* FUTEX_WAITs that timed out: lost wake-ups */
	uint64_t naps;     /* the slow reader's naps */
	int status;
	char error[240];
};

/* Shared by all processes (MAP_SHARED), outside the ring. */
struct control {
	uint32_t ready;    /* readers attached */
	uint32_t sleepers; /* readers asleep on the bell, standing in for event_sleepers */
	uint32_t stop;     /* set on the first failure: everybody bails out */
	uint32_t _pad;
	uint64_t wakes; /* cairn__broadcast_wake calls */
	/* Written once by each reader when it is done, on lines of their own. */
	_Alignas(64) struct reader_stats stats[READERS];
};

static struct control *ctl;
static uint64_t total = DEFAULT_TOTAL;

static bool stopped(void)
{
	return cairn__load_relaxed(&ctl->stop) != 0;
}

static int reader_fail(struct reader_stats *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int reader_fail(struct reader_stats *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->error, sizeof(st->error), fmt, ap);
	va_end(ap);
	cairn__store_relaxed(&ctl->stop, 1);
	return T_FAIL;
}

/*
 * Sleeps on the bell until the writer rings it, the way a host waits for events: read
 * the word, announce, re-check the tail, wait. Returns 0, or T_FAIL on a lost wake-up.
 */
static int wait_for_events(struct cairn__broadcast_reader *r, struct reader_stats *st)
{
	/* FUTEX_WAIT only reads the word, so a read-only mapping will do. */
	uint32_t *word = (uint32_t *)&r->hdr->bell.word;
	/* Acquire: pairs with the writer's seq_cst bump of the word, which follows its tail
	 * store: seeing the new word means the tail re-check below sees the new tail. */
	uint32_t w0 = cairn__load_acquire(word);
	cairn__add_seq_cst(&ctl->sleepers, 1);
	/*
	 * Orders the announcement before the tail re-check; pairs with the writer's fence
	 * between its tail store and its look at the sleepers: either it sees this
	 * sleeper and rings, or this load sees its events.
	 */
	cairn__fence_seq_cst();
	if (cairn__broadcast_tail(r) != r->next || stopped()) {
		cairn__sub_relaxed(&ctl->sleepers, 1);
		st->rechecks++;
		return 0;
	}
	int rc = cairn__futex_wait(word, w0, WAIT_NS);
	cairn__sub_relaxed(&ctl->sleepers, 1);
	if (rc == 0) {
		st->sleeps++;
	} else if (rc == -EAGAIN || rc == -EINTR) {
		st->eagain++;
	} else if (rc == -ETIMEDOUT) {
		st->timeouts++;
		if (!stopped()) {
			return reader_fail(st,
					   "lost wake-up: slept %lld ms on the bell at event %llu "
					   "of %llu, tail now %llu",
					   WAIT_NS / 1000000, (unsigned long long)r->next,
					   (unsigned long long)total,
					   (unsigned long long)cairn__broadcast_tail(r));
		}
	} else {
		return reader_fail(st, "FUTEX_WAIT on the bell: %d", rc);
	}
	return 0;
}

/* Follows the ring to its last event, counting in *st (private to this reader). */
static int follow(unsigned id, const void *mem, size_t size, struct reader_stats *st)
{
	struct cairn__broadcast_reader r;
	struct cairn_event buf[READ_MAX];
	bool slow = id == 1;
	uint64_t last = 0, rs = mix(1000 + id), next_nap = SLOW_EVERY;
	unsigned empty = 0;

	int rc = cairn__broadcast_attach(mem, size, &r);
	if (rc != 0) {
		return reader_fail(st, "attach: %d", rc);
	}
	if (r.next != 0) {
		return reader_fail(st, "attached at %llu before any event",
				   (unsigned long long)r.next);
	}
	cairn__add_seq_cst(&ctl->ready, 1);

	while (st->received + st->missed < total) {
		if (stopped()) {
			return reader_fail(st, "stopped: another process failed");
		}
		rs = mix(rs);
		size_t want = 1 + (size_t)(rs % READ_MAX), got;
		uint64_t m = 0, before = r.next;
		got = cairn__broadcast_read(&r, buf, want, &m);
		st->reads++;
		if (got > want) {
			return reader_fail(st, "read of %zu returned %zu", want, got);
		}
		if (m) {
			st->laps++;
			st->missed += m;
		}
		for (size_t i = 0; i < got; i++) {
			uint64_t n = buf[i].order;
			if (n < before || n >= r.next || (st->received > 0 && n <= last)) {
				return reader_fail(st,
						   "event number %llu after %llu, read from %llu "
						   "to %llu",
						   (unsigned long long)n, (unsigned long long)last,
						   (unsigned long long)before,
						   (unsigned long long)r.next);
			}
			if (!is_event(&buf[i], n)) {
				return reader_fail(st,
						   "event %llu torn or wrong: type %u hunt %u "
						   "player %u clue %u value %lld",
						   (unsigned long long)n, buf[i].type,
						   buf[i].hunt_id, buf[i].player_id, buf[i].clue_id,
						   (long long)buf[i].value);
			}
			last = n;
			st->received++;
		}
		/* Exact accounting: the cursor moved by what was read plus what was lost. */
		if (r.next - before != got + m || (got && r.next != last + 1)) {
			return reader_fail(st,
					   "cursor moved from %llu to %llu for %zu events and %llu "
					   "missed (last event %llu)",
					   (unsigned long long)before, (unsigned long long)r.next,
					   got, (unsigned long long)m, (unsigned long long)last);
		}
		if (st->received + st->missed > total) {
			return reader_fail(st, "received %llu + missed %llu > %llu events",
					   (unsigned long long)st->received,
					   (unsigned long long)st->missed,
					   (unsigned long long)total);
		}
		if (slow && st->received >= next_nap) {
			struct timespec ts = {0, SLOW_NAP_NS};
			nanosleep(&ts, NULL);
			st->naps++;
			next_nap = st->received + SLOW_EVERY;
		}
		if (got || m) {
			empty = 0;
			continue;
		}
		if (++empty < SPINS) {
			cairn__cpu_relax();
			continue;
		}
		empty = 0;
		if (wait_for_events(&r, st) != 0) {
			return T_FAIL;
		}
	}
	if (r.next != total || cairn__broadcast_tail(&r) != total) {
		return reader_fail(st, "done with cursor %llu, tail %llu, %llu events",
				   (unsigned long long)r.next,
				   (unsigned long long)cairn__broadcast_tail(&r),
				   (unsigned long long)total);
	}
	return T_PASS;
}

static int reader(unsigned id, const void *mem, size_t size)
{
	struct reader_stats st;
	memset(&st, 0, sizeof(st));
	st.status = follow(id, mem, size, &st);
	ctl->stats[id] = st;
	return st.status;
}

/*
 * Varies the writer's pace after a burst, from r (random bits): half the bursts follow
 * at once (readers fall behind and get lapped, also while copying), a quarter after a
 * short spin, a quarter after a sleep (readers catch up and go to sleep on the bell).
 */
static void pace(uint64_t r)
{
	switch (r % 4) {
	case 0:
	case 1:
		break;
	case 2:
		for (uint64_t i = (r >> 2) % 2048; i > 0; i--) {
			cairn__cpu_relax();
		}
		break;
	default: {
		struct timespec ts = {0, (long)((r >> 2) % PAUSE_NS)};
		nanosleep(&ts, NULL);
	}
	}
}

/* Publishes total events in bursts, ringing the bell after a burst if anyone sleeps. */
static int writer(struct cairn__broadcast *w)
{
	uint64_t rs = mix(7);
	struct cairn_event e;
	while (cairn__load_acquire(&ctl->ready) < READERS) {
		if (stopped()) {
			return T_FAIL;
		}
		sched_yield();
	}
	while (w->tail < total) {
		if (stopped()) {
			/* Wake the readers asleep so that they see the stop at once. */
			cairn__broadcast_wake(w);
			return T_FAIL;
		}
		rs = mix(rs);
		uint64_t burst = 1 + rs % BURST_MAX;
		if (burst > total - w->tail) {
			burst = total - w->tail;
		}
		for (uint64_t i = 0; i < burst; i++) {
			make_event(&e, w->tail);
			cairn__broadcast_publish(w, &e);
		}
		/*
		 * Orders the tail store of the burst before the look at the sleepers; pairs
		 * with the fence between a reader's announcement and its tail re-check.
		 */
		cairn__fence_seq_cst();
		if (cairn__load_relaxed(&ctl->sleepers) != 0) {
			int rc = cairn__broadcast_wake(w);
			if (rc < 0) {
				fprintf(stderr, "FAIL: cairn__broadcast_wake: %d\n", rc);
				cairn__store_relaxed(&ctl->stop, 1);
				return T_FAIL;
			}
			ctl->wakes++;
		}
		pace(rs >> 32);
	}
	return T_PASS;
}

struct reader_arg {
	pthread_t thread;
	unsigned id;
	const void *mem;
	size_t size;
};

static void *reader_thread(void *arg)
{
	struct reader_arg *a = arg;
	reader(a->id, a->mem, a->size);
	return NULL;
}

static void stress(bool threads, uint32_t capacity)
{
	size_t size = cairn__broadcast_size(capacity);
	int fd;
	void *mem;
	struct cairn__broadcast w;
	ASSERT_OK(cairn__memfd_new("broadcast", size, &fd));
	ASSERT_OK(cairn__map(fd, size, true, &mem));
	ASSERT_EQ(cairn__broadcast_init(mem, size, capacity, &w), 0);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ctl != MAP_FAILED);

	/* Against a hang: SIGALRM kills the process, and each child sets its own. */
	alarm(LIMIT_S);
	pid_t pids[READERS];
	struct reader_arg ra[READERS];
	for (unsigned i = 0; i < READERS; i++) {
		ra[i] = (struct reader_arg){.id = i, .mem = mem, .size = size};
		if (threads) {
			ASSERT_EQ(pthread_create(&ra[i].thread, NULL, reader_thread, &ra[i]), 0);
			continue;
		}
		pids[i] = fork();
		ASSERT_TRUE(pids[i] >= 0);
		if (pids[i] == 0) {
			t_child_init();
			alarm(LIMIT_S);
			/* Read-only from here on: a store into the ring would fault. */
			void *ro;
			munmap(mem, size);
			if (cairn__map(fd, size, false, &ro) != 0) {
				_exit(T_FAIL);
			}
			_exit(reader(i, ro, size));
		}
	}

	uint64_t t0 = cairn__now_ns();
	int wst = writer(&w);
	uint64_t t1 = cairn__now_ns();
	for (unsigned i = 0; i < READERS; i++) {
		if (threads) {
			ASSERT_EQ(pthread_join(ra[i].thread, NULL), 0);
			continue;
		}
		int st;
		ASSERT_EQ(waitpid(pids[i], &st, 0), pids[i]);
		int code = t_exit_code(st);
		if (code != T_PASS && ctl->stats[i].status == T_PASS) {
			ctl->stats[i].status = code;
		}
	}
	uint64_t t2 = cairn__now_ns();
	alarm(0);

	for (unsigned i = 0; i < READERS; i++) {
		const struct reader_stats *st = &ctl->stats[i];
		printf("reader %u (%s): received %llu, missed %llu in %llu laps, %llu reads, "
		       "%llu sleeps, %llu wakes found early, %llu events found on the re-check, "
		       "%llu naps\n",
		       i, i == 1 ? "slow" : "fast", (unsigned long long)st->received,
		       (unsigned long long)st->missed, (unsigned long long)st->laps,
		       (unsigned long long)st->reads, (unsigned long long)st->sleeps,
		       (unsigned long long)st->eagain, (unsigned long long)st->rechecks,
		       (unsigned long long)st->naps);
	}
	unsigned failed = 0;
	for (unsigned i = 0; i < READERS; i++) {
		const struct reader_stats *st = &ctl->stats[i];
		if (st->status != T_PASS) {
			failed++;
			fprintf(stderr, "FAIL: reader %u exited with status %d: %s\n", i,
				st->status, st->error[0] ? st->error : "(no message: killed?)");
		}
	}
	if (failed) {
		T_FAILF("%u of %d readers failed (ring of %u)", failed, READERS, capacity);
	}
	for (unsigned i = 0; i < READERS; i++) {
		ASSERT_UEQ(ctl->stats[i].received + ctl->stats[i].missed, total);
		ASSERT_UEQ(ctl->stats[i].timeouts, 0);
	}
	ASSERT_EQ(wst, T_PASS);
	ASSERT_UEQ(w.hdr->tail, total);
	/* The run must have exercised what it is for. */
	if (ctl->stats[1].laps == 0) {
		T_FAILF("the slow reader was never lapped: the test did not exercise lapping");
	}
	ASSERT_UINT_OP(ctl->stats[0].received, >, 0);
	ASSERT_UINT_OP(ctl->stats[1].received, >, 0);

	printf("broadcast stress: %llu events, capacity %u, %d reader %s: writer %.2f s "
	       "(%.1f M events/s), %llu wakes; readers done %.2f s later\n",
	       (unsigned long long)total, capacity, READERS, threads ? "threads" : "processes",
	       (double)(t1 - t0) / 1e9, (double)total / ((double)(t1 - t0) / 1e3),
	       (unsigned long long)ctl->wakes, (double)(t2 - t1) / 1e9);

	munmap(ctl, sizeof(*ctl));
	munmap(mem, size);
	close(fd);
}

int main(int argc, char **argv)
{
	bool threads = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--threads") == 0) {
			threads = true;
			continue;
		}
		char *end;
		errno = 0;
		unsigned long long v = strtoull(argv[i], &end, 10);
		if (errno || *end || end == argv[i] || v < 1 || v > (1ull << 40)) {
			fprintf(stderr, "usage: broadcast [--threads] [EVENTS]\n");
			return T_FAIL;
		}
		total = v;
	}

	for (size_t i = 0; i < sizeof(capacities) / sizeof(capacities[0]); i++) {
		unit(capacities[i]);
		printf("ok unit tests, capacity %u\n", capacities[i]);
	}
	attach_rejects();
	printf("ok attach rejects bad headers\n");
	fflush(stdout);
	for (size_t i = 0; i < sizeof(stress_capacities) / sizeof(stress_capacities[0]); i++) {
		stress(threads, stress_capacities[i]);
	}
	return T_PASS;
}
