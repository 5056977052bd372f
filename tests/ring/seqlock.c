/*
 * Seqlocks (src/shm/seqlock.h) across processes: one writer, readers that never write.
 *
 * The writer rewrites a 64-byte record WRITES times under cairn__seq_write_begin/end,
 * with cairn__seq_copy_in: for value v, words 0..6 hold v and word 7 holds v ^ CHECK,
 * so that a copy mixing two values, or a copy of never-written zeros, is inconsistent.
 * The record straddles two cache lines, which the writer's stores reach at different
 * moments. READERS reader processes map the memfd PROT_READ only (after dropping the
 * writer's mapping) and loop cairn__seq_read_begin, cairn__seq_copy_out,
 * cairn__seq_read_ok until they have seen the last value. Each asserts that it never
 * accepts an inconsistent copy or an odd sequence, that the value it accepts is the one
 * its sequence names (seq / 2) and never goes backwards, and counts its retries, and
 * among them those whose copy was in fact torn: the proof that the readers did race the
 * writer and that the retry is what kept them right. No retry at all means nothing was
 * tested, and the test skips. The writer and the readers are pinned to different CPUs.
 *
 *   seqlock [--threads] [WRITES]
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
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "procs.h"
#include "shm/segment.h"
#include "shm/seqlock.h"

#define READERS        2
#define WORDS          8
#define CHECK          UINT64_C(0xA5A5A5A55A5A5A5A)
#define READ_PAUSE     8  /* cpu_relax calls between two reads */
#define LIMIT_S        60 /* the whole run, against a hang */
#define DEFAULT_WRITES 20000000

/* The shared segment: the sequence word on one line, the record across the next two. */
struct shared {
	uint64_t seq;
	uint64_t _pad0[11];
	uint64_t words[WORDS]; /* offset 96: bytes 96..159, lines 1 and 2 */
	uint64_t _pad1[4];
};
_Static_assert(sizeof(struct shared) == 192, "three cache lines");
_Static_assert(offsetof(struct shared, words) % 64 == 32, "the record straddles two lines");

struct reader_stats {
	uint64_t reads;   /* copies accepted */
	uint64_t retries; /* copies refused by cairn__seq_read_ok */
	uint64_t torn;    /* refused copies that were in fact inconsistent */
	uint64_t odd;     /* refused because the writer was inside its write section */
	uint64_t last;    /* the last value accepted */
	int status;
	char error[200];
};

/* Shared by all processes (MAP_SHARED), outside the seqlock's segment. */
struct control {
	uint32_t ready; /* readers started */
	uint32_t stop;  /* set on the first failure: everybody bails out */
	_Alignas(64) struct reader_stats stats[READERS];
};

static struct control *ctl;
static uint64_t writes = DEFAULT_WRITES;

static void record_of(uint64_t v, uint64_t rec[WORDS])
{
	for (unsigned i = 0; i < WORDS - 1; i++) {
		rec[i] = v;
	}
	rec[WORDS - 1] = v ^ CHECK;
}

static bool consistent(const uint64_t rec[WORDS])
{
	for (unsigned i = 1; i < WORDS - 1; i++) {
		if (rec[i] != rec[0]) {
			return false;
		}
	}
	return rec[WORDS - 1] == (rec[0] ^ CHECK);
}

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

/* Reads until the last value shows; counts in *st, private to this reader. */
static int follow(const struct shared *sh, struct reader_stats *st)
{
	uint64_t copy[WORDS];
	cairn__add_seq_cst(&ctl->ready, 1);
	for (;;) {
		uint64_t s = cairn__seq_read_begin(&sh->seq);
		cairn__seq_copy_out(copy, sh->words, sizeof(copy));
		if (!cairn__seq_read_ok(&sh->seq, s)) {
			st->retries++;
			st->odd += s & 1;
			st->torn += !consistent(copy);
			if (stopped()) {
				return reader_fail(st, "stopped: another process failed");
			}
			cairn__cpu_relax();
			continue;
		}
		if (s & 1) {
			return reader_fail(st, "cairn__seq_read_ok accepted odd sequence %llu",
					   (unsigned long long)s);
		}
		st->reads++;
		if (!consistent(copy)) {
			return reader_fail(
				st,
				"accepted a torn record at seq %llu: %llx %llx %llx %llx "
				"%llx %llx %llx %llx",
				(unsigned long long)s, (unsigned long long)copy[0],
				(unsigned long long)copy[1], (unsigned long long)copy[2],
				(unsigned long long)copy[3], (unsigned long long)copy[4],
				(unsigned long long)copy[5], (unsigned long long)copy[6],
				(unsigned long long)copy[7]);
		}
		/* Each write adds 2 to seq: an even s names exactly one value. */
		if (copy[0] != s / 2) {
			return reader_fail(st, "value %llu under seq %llu, expected %llu",
					   (unsigned long long)copy[0], (unsigned long long)s,
					   (unsigned long long)(s / 2));
		}
		if (copy[0] < st->last || copy[0] > writes) {
			return reader_fail(st, "value %llu after %llu (of %llu writes)",
					   (unsigned long long)copy[0],
					   (unsigned long long)st->last,
					   (unsigned long long)writes);
		}
		st->last = copy[0];
		if (st->last == writes) {
			return T_PASS;
		}
		if ((st->reads & 1023) == 0 && stopped()) {
			return reader_fail(st, "stopped: another process failed");
		}
		/*
		 * A short pause between reads, as a host does some work with what it read:
		 * readers that pull the writer's lines away without a break slow it down
		 * four- or fivefold, and the run time with it.
		 */
		for (unsigned i = 0; i < READ_PAUSE; i++) {
			cairn__cpu_relax();
		}
	}
}

static int reader(unsigned id, const struct shared *sh)
{
	struct reader_stats st;
	memset(&st, 0, sizeof(st));
	/*
	 * The readers on one CPU, the writer on another: with a reader next to the writer
	 * the run takes ten times as long.
	 */
	t_pin(1);
	st.status = follow(sh, &st);
	ctl->stats[id] = st;
	return st.status;
}

static void writer(struct shared *sh)
{
	uint64_t rec[WORDS];
	t_pin(0);
	while (cairn__load_acquire(&ctl->ready) < READERS) {
		if (stopped()) {
			return;
		}
		sched_yield();
	}
	for (uint64_t v = 1; v <= writes; v++) {
		record_of(v, rec);
		cairn__seq_write_begin(&sh->seq);
		cairn__seq_copy_in(sh->words, rec, sizeof(rec));
		cairn__seq_write_end(&sh->seq);
		if ((v & 0xFFFF) == 0 && stopped()) {
			return;
		}
	}
}

struct reader_arg {
	pthread_t thread;
	unsigned id;
	const struct shared *sh;
};

static void *reader_thread(void *arg)
{
	struct reader_arg *a = arg;
	reader(a->id, a->sh);
	return NULL;
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
			fprintf(stderr, "usage: seqlock [--threads] [WRITES]\n");
			return T_FAIL;
		}
		writes = v;
	}

	int fd;
	void *mem;
	ASSERT_OK(cairn__memfd_new("seqlock", sizeof(struct shared), &fd));
	ASSERT_OK(cairn__map(fd, sizeof(struct shared), true, &mem));
	struct shared *sh = mem;
	/*
	 * Value 0 under seq 0, written before any reader exists: a fresh memfd is all
	 * zeros, which is not a consistent record. Each write adds 2 to seq from here.
	 */
	uint64_t rec[WORDS];
	record_of(0, rec);
	memcpy(sh->words, rec, sizeof(rec));

	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(ctl != MAP_FAILED);

	/* Against a hang: SIGALRM kills the process, and each child sets its own. */
	alarm(LIMIT_S);
	pid_t pids[READERS];
	struct reader_arg ra[READERS];
	for (unsigned i = 0; i < READERS; i++) {
		ra[i] = (struct reader_arg){.id = i, .sh = sh};
		if (threads) {
			ASSERT_EQ(pthread_create(&ra[i].thread, NULL, reader_thread, &ra[i]), 0);
			continue;
		}
		pids[i] = fork();
		ASSERT_TRUE(pids[i] >= 0);
		if (pids[i] == 0) {
			t_child_init();
			alarm(LIMIT_S);
			/* Read-only from here on: any store into the segment would fault. */
			void *ro;
			munmap(mem, sizeof(struct shared));
			if (cairn__map(fd, sizeof(struct shared), false, &ro) != 0) {
				_exit(T_FAIL);
			}
			_exit(reader(i, ro));
		}
	}

	uint64_t t0 = cairn__now_ns();
	writer(sh);
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
	alarm(0);

	uint64_t retries = 0, torn = 0;
	for (unsigned i = 0; i < READERS; i++) {
		const struct reader_stats *st = &ctl->stats[i];
		printf("reader %u: %llu copies accepted, %llu retries (%llu torn, %llu while the "
		       "writer was inside), last value %llu\n",
		       i, (unsigned long long)st->reads, (unsigned long long)st->retries,
		       (unsigned long long)st->torn, (unsigned long long)st->odd,
		       (unsigned long long)st->last);
		retries += st->retries;
		torn += st->torn;
	}
	printf("seqlock: %llu writes, %d reader %s: %.2f s; %llu retries, %llu of them torn "
	       "copies caught\n",
	       (unsigned long long)writes, READERS, threads ? "threads" : "processes",
	       (double)(t1 - t0) / 1e9, (unsigned long long)retries, (unsigned long long)torn);
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
		T_FAILF("%u of %d readers failed", failed, READERS);
	}
	for (unsigned i = 0; i < READERS; i++) {
		ASSERT_UEQ(ctl->stats[i].last, writes);
	}
	ASSERT_UEQ(sh->seq, 2 * writes);
	if (retries == 0) {
		/* Nothing was tested: the readers never overlapped the writer. */
		T_SKIP_BECAUSE("no reader ever overlapped the writer (a single CPU?)");
	}
	munmap(ctl, sizeof(*ctl));
	munmap(mem, sizeof(struct shared));
	close(fd);
	return T_PASS;
}
