/*
 * cairn-bench ring: one-way throughput of the ring between two processes.
 *
 * The ring lives in a memfd that both sides map, as a lane's rings do, and the producer
 * and the consumer are two forked processes pinned to two CPUs, so every slot travels
 * between two cores' caches as it does between a host and cairnd. The parent only
 * forks, sleeps until both children end, and reads the result they left in the control
 * block. Each message carries its sequence number and the consumer checks every one:
 * a queue that lost or reordered messages would make any figure meaningless.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "machine.h"
#include "proc.h"
#include "report.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "stats.h"

#define CMD                "ring"
#define CTL_BYTES          4096u /* the control block's page; the ring starts after it */
#define BATCH_MAX          1024u
#define SPINS_BEFORE_YIELD 4096u
#define TARGET_MPS         40.0

/*
 * The control block, shared by the parent and both children, on its own page so that
 * it never shares a cache line with the ring. Each field has one writer; the flags are
 * written once per run, outside the timed loop.
 */
struct ring_ctl {
	uint32_t consumer_ready; /* consumer: pinned, mapped, waiting for start */
	uint32_t start;          /* producer: t_start is stamped, messages follow */
	uint32_t producer_done;  /* producer: every message is pushed */
	uint32_t _pad;
	uint64_t t_start; /* producer: CLOCK_MONOTONIC when it released start */
	uint64_t t_end;   /* consumer: when it had checked the last message */
	uint64_t received;
	char consumer_error[256];
	char producer_error[256];
};
_Static_assert(sizeof(struct ring_ctl) <= CTL_BYTES, "the control block fits its page");

struct ring_opts {
	uint64_t messages;
	uint64_t runs;
	uint64_t capacity;
	uint64_t batch;
	int producer_cpu; /* -1: not pinned */
	int consumer_cpu;
	bool json;
	bool check;
	bool quick;
};

struct ring_bench {
	const struct ring_opts *o;
	struct ring_ctl *ctl;
	void *mem;
	uint64_t size;
	struct cairn__ring ring;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-bench ring [OPTION]...\n"
		"One-way throughput of the shared-memory ring: a producer process pushes\n"
		"sequence-numbered 64-byte slots through a memfd-backed ring to a consumer "
		"process\n"
		"on another CPU, which checks the order and the count of every message. Two rows:\n"
		"one push/pop per message, and push/pop in batches.\n"
		"\n"
		"  --messages N       messages per run (default 50M; --quick: 5M)\n"
		"  --runs N           runs per row; median, min and max are reported\n"
		"                     (default 5; --quick: 3; at most %d)\n"
		"  --capacity N       ring slots, a power of two (default 4096)\n"
		"  --batch N          messages per push/pop in the batch row (default 32)\n"
		"  --producer-cpu N   pin the producer here (default: the first usable CPU)\n"
		"  --consumer-cpu N   pin the consumer here (default: the second usable CPU)\n"
		"  --quick            a short run: 5M messages, 3 runs\n"
		"  --json             print one JSON object instead of tables\n"
		"  --check            exit 1 if a target is missed (ring >= %.0f M msgs/s)\n"
		"  -h, --help         show this help and exit\n"
		"\n"
		"On a machine with one usable CPU both processes run unpinned, and say so.\n",
		STATS_MAX_VALUES, TARGET_MPS);
}

/* Waits a little after a failed attempt; yields when the peer seems descheduled. */
static inline void backoff(unsigned *spins)
{
	if (++*spins < SPINS_BEFORE_YIELD) {
		cairn__cpu_relax();
	} else {
		/* Only reached when the other side has not moved for thousands of tries. */
		*spins = 0;
		sched_yield();
	}
}

/*
 * Faults the whole mapping in, writable, before the timed phase, so that no run pays
 * for page faults in its loop. The contents are not changed.
 */
static void prefault(void *mem, uint64_t size)
{
#ifdef MADV_POPULATE_WRITE
	if (madvise(mem, (size_t)size, MADV_POPULATE_WRITE) == 0) {
		return;
	}
#endif
	/* Older kernels: reading each page at least maps it. */
	for (uint64_t off = 0; off < size; off += 4096) {
		(void)*(volatile const char *)((const char *)mem + off);
	}
}

static int pin_child(int cpu, char *err, size_t len, const char *who)
{
	if (cpu < 0) {
		return 0;
	}
	int r = machine_pin_self(cpu);
	if (r < 0) {
		snprintf(err, len, "cannot pin the %s to CPU %d: %s", who, cpu, strerror(-r));
	}
	return r;
}

/*
 * How a row moves messages. MODE_OWNER pairs the host's push with the pop cairnd itself
 * uses on command rings (one consumer, cursor in private memory, no CAS).
 */
enum mode { MODE_SINGLE, MODE_BATCH, MODE_OWNER };

/* The consumer process. Returns its exit status. */
static int consume(struct ring_bench *b, enum mode mode)
{
	bool batch = mode == MODE_BATCH;
	struct ring_ctl *ctl = b->ctl;
	const uint64_t n = b->o->messages;
	struct cairn_msg buf[BATCH_MAX];
	uint64_t expect = 0;
	unsigned spins = 0;

	if (pin_child(b->o->consumer_cpu, ctl->consumer_error, sizeof(ctl->consumer_error),
		      "consumer") < 0) {
		return 2;
	}
	prefault(b->mem, b->size);
	/* Release: our preparation is done before the producer sees us ready. */
	cairn__store_release(&ctl->consumer_ready, 1);
	/* Acquire pairs with the producer's release of start (and of t_start). */
	while (!cairn__load_acquire(&ctl->start)) {
		backoff(&spins);
	}
	spins = 0;
	while (expect < n) {
		unsigned k;
		if (batch) {
			k = cairn__ring_pop_batch(&b->ring, buf, (unsigned)b->o->batch);
		} else if (mode == MODE_OWNER) {
			k = cairn__ring_owner_pop(&b->ring, &buf[0]) == CAIRN__RING_OK ? 1 : 0;
		} else {
			k = cairn__ring_try_pop(&b->ring, &buf[0]) ? 1 : 0;
		}
		if (k == 0) {
			/*
			 * Progress for the parent's message should a run hang; published only
			 * when the ring is empty, where it costs nothing.
			 */
			cairn__store_relaxed(&ctl->received, expect);
			backoff(&spins);
			continue;
		}
		spins = 0;
		for (unsigned i = 0; i < k; i++, expect++) {
			if (buf[i].hdr.request_id != expect) {
				snprintf(ctl->consumer_error, sizeof(ctl->consumer_error),
					 "message %llu of %llu carries sequence number %llu: the "
					 "ring lost, duplicated or reordered messages",
					 (unsigned long long)expect, (unsigned long long)n,
					 (unsigned long long)buf[i].hdr.request_id);
				return 1;
			}
		}
	}
	ctl->t_end = cairn__now_ns();
	cairn__store_relaxed(&ctl->received, expect);

	/*
	 * The count: once the producer says it pushed everything, the ring must be empty.
	 * Acquire pairs with its release of producer_done, after its last push.
	 */
	while (!cairn__load_acquire(&ctl->producer_done)) {
		backoff(&spins);
	}
	if (cairn__ring_try_pop(&b->ring, &buf[0])) {
		snprintf(ctl->consumer_error, sizeof(ctl->consumer_error),
			 "after all %llu messages the ring still held one (sequence number %llu)",
			 (unsigned long long)n, (unsigned long long)buf[0].hdr.request_id);
		return 1;
	}
	return 0;
}

/* The producer process. Returns its exit status. */
static int produce(struct ring_bench *b, enum mode mode)
{
	bool batch = mode == MODE_BATCH;
	struct ring_ctl *ctl = b->ctl;
	const uint64_t n = b->o->messages;
	struct cairn_msg buf[BATCH_MAX];
	unsigned spins = 0;

	if (pin_child(b->o->producer_cpu, ctl->producer_error, sizeof(ctl->producer_error),
		      "producer") < 0) {
		return 2;
	}
	prefault(b->mem, b->size);
	memset(buf, 0, sizeof(buf));
	for (unsigned i = 0; i < BATCH_MAX; i++) {
		buf[i].hdr.type = CAIRN_MSG_PING;
	}
	/* Acquire pairs with the consumer's release of ready. */
	while (!cairn__load_acquire(&ctl->consumer_ready)) {
		backoff(&spins);
	}
	ctl->t_start = cairn__now_ns();
	/* Release: t_start is written before the consumer can see start. */
	cairn__store_release(&ctl->start, 1);

	spins = 0;
	if (!batch) {
		for (uint64_t seq = 0; seq < n;) {
			buf[0].hdr.request_id = seq;
			if (cairn__ring_try_push(&b->ring, &buf[0])) {
				seq++;
				spins = 0;
			} else {
				backoff(&spins);
			}
		}
	} else {
		for (uint64_t seq = 0; seq < n;) {
			unsigned want =
				n - seq < b->o->batch ? (unsigned)(n - seq) : (unsigned)b->o->batch;
			for (unsigned i = 0; i < want; i++) {
				buf[i].hdr.request_id = seq + i;
			}
			/* A partial push leaves the rest of the batch for the next attempt. */
			for (unsigned off = 0; off < want;) {
				unsigned k =
					cairn__ring_push_batch(&b->ring, &buf[off], want - off);
				if (k == 0) {
					backoff(&spins);
					continue;
				}
				off += k;
				spins = 0;
			}
			seq += want;
		}
	}
	/* Release: every push happens before the consumer's final emptiness check. */
	cairn__store_release(&ctl->producer_done, 1);
	return 0;
}

/*
 * One timed run: a fresh ring, a consumer and a producer process. Stores the rate in
 * *mps (millions of messages per second). Returns 0, or -errno with a message in err:
 * -EPROTO when the consumer found the messages wrong, -ETIMEDOUT, -ECHILD.
 */
static int one_run(struct ring_bench *b, enum mode mode, double *mps, char *err, size_t errlen)
{
	struct ring_ctl *ctl = b->ctl;
	pid_t pids[2] = {0, 0};
	int status[2] = {0, 0};
	const char *who[2] = {"consumer", "producer"};

	memset(ctl, 0, sizeof(*ctl));
	/* Both children are gone: re-initialising the ring here races with nobody. */
	cairn__ring_init(&b->ring, (char *)b->mem + CTL_BYTES, (uint32_t)b->o->capacity);
	/* Unflushed stdio buffers would otherwise be written once more by each child. */
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			int e = errno;
			snprintf(err, errlen, "fork: %s", strerror(e));
			proc_kill(pids[0]);
			return -e;
		}
		if (pids[i] == 0) {
			_exit(i == 0 ? consume(b, mode) : produce(b, mode));
		}
	}
	/* Generous: a minute plus 2 µs a message, a hundred times the expected time. */
	uint64_t deadline = cairn__now_ns() + 60ull * 1000000000u + b->o->messages * 2000u;
	int r = proc_wait(pids, status, 2, deadline, 1);
	if (r < 0) {
		for (int i = 0; i < 2; i++) {
			proc_kill(pids[i]);
		}
		const char *cerr = ctl->consumer_error, *perr = ctl->producer_error;
		if (cerr[0] || perr[0]) {
			snprintf(err, errlen, "%s%s%s", cerr, cerr[0] && perr[0] ? "; " : "", perr);
		} else if (r == -ETIMEDOUT) {
			snprintf(err, errlen,
				 "the run did not finish before its deadline (consumer got %llu of "
				 "%llu messages when stopped)",
				 (unsigned long long)cairn__load_relaxed(&ctl->received),
				 (unsigned long long)b->o->messages);
		} else if (r == -ECANCELED) {
			/* proc_wait marks the reaped child; find the one that did not exit 0. */
			char how[96];
			int i = 0;
			while (i < 1 && !(pids[i] < 0 &&
					  !(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0))) {
				i++;
			}
			proc_describe(status[i], how, sizeof(how));
			snprintf(err, errlen, "the %s process %s", who[i], how);
		} else {
			snprintf(err, errlen, "waiting for the children: %s", strerror(-r));
		}
		return cerr[0] ? -EPROTO : r == -ECANCELED ? -ECHILD : r;
	}
	if (ctl->received != b->o->messages || ctl->t_end <= ctl->t_start) {
		snprintf(err, errlen, "the consumer reported %llu of %llu messages",
			 (unsigned long long)ctl->received, (unsigned long long)b->o->messages);
		return -EPROTO;
	}
	*mps = (double)b->o->messages * 1e3 / (double)(ctl->t_end - ctl->t_start);
	return 0;
}

enum {
	OPT_MESSAGES = 256,
	OPT_RUNS,
	OPT_CAPACITY,
	OPT_BATCH,
	OPT_PRODUCER_CPU,
	OPT_CONSUMER_CPU,
	OPT_QUICK,
	OPT_JSON,
	OPT_CHECK,
};

/* Returns 0, or BENCH_USAGE after printing why; exits 0 for --help. */
static int parse_args(int argc, char **argv, struct ring_opts *o, bool *cpu_flags)
{
	static const struct option opts[] = {
		{"messages", required_argument, NULL, OPT_MESSAGES},
		{"runs", required_argument, NULL, OPT_RUNS},
		{"capacity", required_argument, NULL, OPT_CAPACITY},
		{"batch", required_argument, NULL, OPT_BATCH},
		{"producer-cpu", required_argument, NULL, OPT_PRODUCER_CPU},
		{"consumer-cpu", required_argument, NULL, OPT_CONSUMER_CPU},
		{"quick", no_argument, NULL, OPT_QUICK},
		{"json", no_argument, NULL, OPT_JSON},
		{"check", no_argument, NULL, OPT_CHECK},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	uint64_t messages = 0, runs = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int r = 0;
		switch (c) {
		case OPT_MESSAGES:
			r = bench_parse_count(CMD, "--messages", optarg, 1, UINT64_C(1) << 40,
					      &messages);
			break;
		case OPT_RUNS:
			r = bench_parse_count(CMD, "--runs", optarg, 1, STATS_MAX_VALUES, &runs);
			break;
		case OPT_CAPACITY:
			r = bench_parse_count(CMD, "--capacity", optarg, CAIRN_RING_MIN_CAPACITY,
					      CAIRN_RING_MAX_CAPACITY, &o->capacity);
			if (r == 0 && (o->capacity & (o->capacity - 1))) {
				bench_error(CMD, "--capacity must be a power of two, not %llu",
					    (unsigned long long)o->capacity);
				r = -EINVAL;
			}
			break;
		case OPT_BATCH:
			r = bench_parse_count(CMD, "--batch", optarg, 1, BATCH_MAX, &o->batch);
			break;
		case OPT_PRODUCER_CPU:
			r = bench_parse_cpu(CMD, "--producer-cpu", optarg, &o->producer_cpu);
			*cpu_flags = true;
			break;
		case OPT_CONSUMER_CPU:
			r = bench_parse_cpu(CMD, "--consumer-cpu", optarg, &o->consumer_cpu);
			*cpu_flags = true;
			break;
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case 'h':
			usage(stdout);
			exit(BENCH_OK);
		default:
			return bench_usage_hint(CMD);
		}
		if (r < 0) {
			return bench_usage_hint(CMD);
		}
	}
	if (optind < argc) {
		bench_error(CMD, "unexpected argument '%s'", argv[optind]);
		return bench_usage_hint(CMD);
	}
	/* --quick sets the defaults; explicit counts win whatever their order. */
	o->messages = messages ? messages : o->quick ? 5000000 : 50000000;
	o->runs = runs ? runs : o->quick ? 3 : 5;
	return 0;
}

/* Chooses the CPUs. Returns 0, or BENCH_USAGE when a requested CPU cannot be used. */
static int place(const struct machine *m, struct ring_opts *o, bool cpu_flags, struct report *rep)
{
	int r = bench_choose_cpus(CMD, m, "--producer-cpu", &o->producer_cpu, "--consumer-cpu",
				  &o->consumer_cpu);
	if (r) {
		return r;
	}
	if (m->usable_count < 2) {
		char cpus[256];
		machine_format_cpus(&m->usable, cpus, sizeof(cpus));
		bench_progress("ring: only one CPU is usable here (%s): producer and consumer run "
			       "unpinned and share it%s",
			       cpus,
			       cpu_flags ? "; --producer-cpu/--consumer-cpu are ignored" : "");
		report_placement(rep, "producer process", "not pinned (one usable CPU: %s)", cpus);
		report_placement(rep, "consumer process", "not pinned (one usable CPU: %s)", cpus);
		return 0;
	}
	bool same = o->producer_cpu == o->consumer_cpu;
	if (same) {
		bench_progress("ring: warning: producer and consumer share CPU %d: they time-share "
			       "it, and the figures say little about the ring",
			       o->producer_cpu);
	}
	report_placement(rep, "producer process", "CPU %d (pinned)%s", o->producer_cpu,
			 same ? ", shared with the consumer" : "");
	report_placement(rep, "consumer process", "CPU %d (pinned)%s", o->consumer_cpu,
			 same ? ", shared with the producer" : "");
	return 0;
}

/* Measures one row (all its runs) and adds it and its target. Returns 0 or -errno. */
static int run_row(struct ring_bench *b, struct report *rep, unsigned table, enum mode mode)
{
	const struct ring_opts *o = b->o;
	char name[64], err[600];
	double v[STATS_MAX_VALUES], med, min, max;

	if (mode == MODE_BATCH) {
		snprintf(name, sizeof(name), "batch push/pop (%llu)", (unsigned long long)o->batch);
	} else if (mode == MODE_OWNER) {
		snprintf(name, sizeof(name), "push / daemon pop");
	} else {
		snprintf(name, sizeof(name), "single push/pop");
	}
	bench_progress("ring: %s, %llu runs of %llu messages...", name, (unsigned long long)o->runs,
		       (unsigned long long)o->messages);
	for (uint64_t i = 0; i < o->runs; i++) {
		int r = one_run(b, mode, &v[i], err, sizeof(err));
		if (r < 0) {
			bench_error(CMD, "%s, run %llu: %s", name, (unsigned long long)i + 1, err);
			return r;
		}
		bench_progress("ring: %s, run %llu/%llu: %.2f M msgs/s", name,
			       (unsigned long long)i + 1, (unsigned long long)o->runs, v[i]);
	}
	stats_median_min_max(v, o->runs, &med, &min, &max);
	struct report_row *row = report_row(rep, table, name);
	report_field(row, "runs", "runs", REPORT_COUNT, (double)o->runs);
	report_field(row, "messages_per_run", "messages/run", REPORT_COUNT, (double)o->messages);
	report_field(row, "median_mmsgs_per_s", "median", REPORT_MPS, med);
	report_field(row, "min_mmsgs_per_s", "min", REPORT_MPS, min);
	report_field(row, "max_mmsgs_per_s", "max", REPORT_MPS, max);
	report_field(row, "ns_per_msg_at_median", "ns/msg (median)", REPORT_NS, 1e3 / med);
	row->series_key = "runs_mmsgs_per_s";
	row->nseries = (unsigned)o->runs;
	memcpy(row->series, v, o->runs * sizeof(v[0]));

	char what[96];
	snprintf(what, sizeof(what), "ring %s, median", name);
	report_target(rep, what, REPORT_MPS, REPORT_AT_LEAST, TARGET_MPS, med, true);
	return 0;
}

int bench_ring_main(int argc, char **argv)
{
	struct ring_opts o = {
		.capacity = 4096,
		.batch = 32,
		.producer_cpu = -1,
		.consumer_cpu = -1,
	};
	static struct report rep; /* large (per-run series): not on the stack */
	struct machine m;
	struct ring_bench b = {.o = &o};
	bool cpu_flags = false;
	int fd = -1, r;

	r = parse_args(argc, argv, &o, &cpu_flags);
	if (r) {
		return r;
	}
	r = machine_probe(&m);
	if (r < 0) {
		bench_error(CMD, "cannot read this process's CPU affinity: %s", strerror(-r));
		return BENCH_FAIL;
	}
	report_init(&rep, CMD, "one-way throughput of the MPMC ring between two processes", &m);
	r = place(&m, &o, cpu_flags, &rep);
	if (r) {
		return r;
	}
	report_placement(&rep, "parent process", "not pinned (forks, then sleeps until both end)");
	report_param_num(&rep, "capacity", "ring capacity (slots of 64 B)", (double)o.capacity);
	report_param_num(&rep, "messages_per_run", "messages per run", (double)o.messages);
	report_param_num(&rep, "runs", "runs per row", (double)o.runs);
	report_param_num(&rep, "batch", "batch size", (double)o.batch);
	report_param_str(&rep, "mode", "mode", "%s", o.quick ? "quick" : "full");

	b.size = CTL_BYTES + cairn__ring_bytes((uint32_t)o.capacity);
	r = cairn__memfd_new("cairn-bench-ring", b.size, &fd);
	if (r == 0) {
		r = cairn__map(fd, b.size, true, &b.mem);
		/* The mapping keeps the memory; the children inherit the mapping, not the fd. */
		close(fd);
	}
	if (r < 0) {
		bench_error(CMD, "cannot create the shared ring (%llu bytes): %s",
			    (unsigned long long)b.size, strerror(-r));
		return BENCH_FAIL;
	}
	b.ctl = b.mem;

	unsigned table = report_table(&rep, "ring, one-way", true);
	int failed = run_row(&b, &rep, table, MODE_SINGLE) < 0 ||
		     run_row(&b, &rep, table, MODE_OWNER) < 0 ||
		     run_row(&b, &rep, table, MODE_BATCH) < 0;
	munmap(b.mem, (size_t)b.size);
	if (failed) {
		return BENCH_FAIL;
	}
	report_print(&rep, stdout, o.json);
	if (report_missed(&rep, o.check) && o.check) {
		return BENCH_FAIL;
	}
	return BENCH_OK;
}
