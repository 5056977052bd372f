/*
 * many_clients: several client processes, each with several threads sharing one
 * connection, all at once. cairn_call threads and a cairn_submit/cairn_wait thread pop
 * each other's results from the one result ring, so every result must be handed to its
 * owner (the routing in client.c). Then the lane limit: --max-clients is enforced and a
 * closed client's lane is given to the next one.
 *
 * CAIRN_TEST_CALLS overrides the number of calls per thread (default 20000).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define SEC          (1000 * 1000 * 1000ll)
#define PROCS        8
#define CALL_THREADS 4

static unsigned calls_per_thread = 20000;

struct worker {
	cairn_client *c;
	unsigned idx;
	uint64_t seed;
	pthread_t tid;
};

/* A payload no other thread of any process can produce: pid, thread, counter, noise. */
static uint8_t fill_payload(uint8_t *p, unsigned idx, uint64_t n, struct h_rng *rng)
{
	uint32_t pid = (uint32_t)getpid();
	uint8_t len = (uint8_t)(16 + h_rng_below(rng, CAIRN_PAYLOAD_SIZE - 16 + 1));
	h_rng_fill(rng, p, CAIRN_PAYLOAD_SIZE);
	memcpy(p, &pid, 4);
	memcpy(p + 4, &idx, 4);
	memcpy(p + 8, &n, 8);
	return len;
}

static void *call_thread(void *arg)
{
	struct worker *w = arg;
	struct h_rng rng;
	h_rng_seed(&rng, w->seed);
	for (uint64_t n = 0; n < calls_per_thread; n++) {
		struct cairn_msg m, res;
		cairn_msg_init(&m, CAIRN_MSG_ECHO, 0);
		m.hdr.length = fill_payload(m.payload, w->idx, n, &rng);
		int r = cairn_call(w->c, &m, &res, 10 * SEC);
		if (r != 0) {
			T_FAILF("pid %d thread %u call %llu: %d (%s)", (int)getpid(), w->idx,
				(unsigned long long)n, r, cairn_strerror(r));
		}
		if (res.hdr.request_id != m.hdr.request_id ||
		    res.hdr.type != CAIRN_MSG_ECHO_REPLY || res.hdr.length != m.hdr.length ||
		    memcmp(res.payload, m.payload, m.hdr.length) != 0) {
			T_FAILF("pid %d thread %u call %llu: got someone else's result (id %llx, "
				"type 0x%x, length %u) for id %llx",
				(int)getpid(), w->idx, (unsigned long long)n,
				(unsigned long long)res.hdr.request_id, res.hdr.type,
				res.hdr.length, (unsigned long long)m.hdr.request_id);
		}
	}
	return NULL;
}

/* Takes one result for the burst in out[0..k): it must match one pending command. */
static void take_result(const struct cairn_msg *res, struct cairn_msg *out, bool *pending,
			unsigned k)
{
	unsigned i;
	for (i = 0; i < k; i++) {
		if (pending[i] && out[i].hdr.request_id == res->hdr.request_id) {
			break;
		}
	}
	if (i == k || res->hdr.type != CAIRN_MSG_ECHO_REPLY ||
	    res->hdr.length != out[i].hdr.length ||
	    memcmp(res->payload, out[i].payload, res->hdr.length) != 0) {
		T_FAILF("pid %d: cairn_wait returned a result that is not one of our pending "
			"commands (id %llx, type 0x%x)",
			(int)getpid(), (unsigned long long)res->hdr.request_id, res->hdr.type);
	}
	pending[i] = false;
}

/*
 * Submits bursts of 1..64 commands, then takes their results with cairn_wait (and now and
 * then a non-blocking cairn_poll first). Results may come back in any order: a call
 * thread that pops one queues it for us. Each must match one outstanding command.
 *
 * A burst may be larger than the rings. When the command ring is full, the results are
 * taken before retrying, as any user of cairn_submit must: the daemon takes a command
 * only when its result has room, so a client that pushes without ever reading stalls
 * its own lane.
 */
static void *submit_thread(void *arg)
{
	struct worker *w = arg;
	struct h_rng rng;
	struct cairn_msg out[64], res;
	bool pending[64];
	uint64_t done = 0, n = 0;
	h_rng_seed(&rng, w->seed);
	while (done < calls_per_thread) {
		unsigned k = 1 + (unsigned)h_rng_below(&rng, 64), got = 0;
		if (k > calls_per_thread - done) {
			k = (unsigned)(calls_per_thread - done);
		}
		for (unsigned i = 0; i < k; i++) {
			cairn_msg_init(&out[i], CAIRN_MSG_ECHO, 0);
			out[i].hdr.length = fill_payload(out[i].payload, w->idx, n++, &rng);
			pending[i] = true;
			int r;
			while ((r = cairn_submit(w->c, &out[i])) == -EAGAIN) {
				while ((r = cairn_poll(w->c, &res)) == 0) {
					take_result(&res, out, pending, i);
					got++;
				}
				if (r != -EAGAIN) {
					break;
				}
				sched_yield();
			}
			if (r != 0) {
				T_FAILF("pid %d submit: %d (%s)", (int)getpid(), r,
					cairn_strerror(r));
			}
		}
		for (; got < k; got++) {
			int r = (got & 1) ? cairn_poll(w->c, &res) : -EAGAIN;
			if (r == -EAGAIN) {
				r = cairn_wait(w->c, &res, 10 * SEC);
			}
			if (r != 0) {
				T_FAILF("pid %d wait: %d (%s) with %u of %u results", (int)getpid(),
					r, cairn_strerror(r), got, k);
			}
			take_result(&res, out, pending, k);
		}
		done += k;
	}
	return NULL;
}

/*
 * Ring sizes per client process, from the default down to the smallest the protocol
 * allows: with tiny rings, pushes find the command ring full and the daemon finds result
 * rings full, so those paths run too.
 */
static const struct cairn_open_options ring_configs[] = {
	{0},
	{.cmd_capacity = 8, .res_capacity = 8},
	{.cmd_capacity = 2, .res_capacity = 2},
	{.cmd_capacity = 64, .res_capacity = 4},
};
#define NCONFIGS (sizeof(ring_configs) / sizeof(ring_configs[0]))

/* One client process: CALL_THREADS call threads and one submit thread on one connection. */
static int client_main(const char *sock, unsigned proc)
{
	cairn_client *c;
	struct worker w[CALL_THREADS + 1];
	int r = cairn_open(sock, &ring_configs[proc % NCONFIGS], &c);
	if (r < 0) {
		fprintf(stderr, "client %u: cairn_open: %s\n", proc, cairn_strerror(r));
		return 1;
	}
	for (unsigned i = 0; i <= CALL_THREADS; i++) {
		w[i].c = c;
		w[i].idx = i;
		w[i].seed = h_seed + proc * 100 + i;
		if (pthread_create(&w[i].tid, NULL, i < CALL_THREADS ? call_thread : submit_thread,
				   &w[i]) != 0) {
			fprintf(stderr, "client %u: pthread_create failed\n", proc);
			return 1;
		}
	}
	for (unsigned i = 0; i <= CALL_THREADS; i++) {
		pthread_join(w[i].tid, NULL);
	}
	/* Nothing may be left over: every result went to the thread that asked for it. */
	struct cairn_msg res;
	r = cairn_poll(c, &res);
	if (r != -EAGAIN) {
		fprintf(stderr, "client %u: a stray result was left: %d\n", proc, r);
		return 1;
	}
	cairn_close(c);
	return 0;
}

static void check_many(void)
{
	struct h_daemon *d = h_start(NULL);
	cairn_client *obs;
	pid_t pids[PROCS];
	ASSERT_OK(cairn_open(d->sock, NULL, &obs));

	uint64_t t0 = h_now_ns();
	for (unsigned p = 0; p < PROCS; p++) {
		pids[p] = h_fork();
		if (pids[p] == 0) {
			_exit(client_main(d->sock, p));
		}
	}
	/* Bounded: a client that hangs fails the test instead of meeting meson's timeout. */
	uint64_t deadline = t0 + 90 * SEC;
	unsigned left = PROCS;
	uint64_t max_active = 0;
	while (left) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid > 0) {
			for (unsigned p = 0; p < PROCS; p++) {
				if (pids[p] == pid) {
					pids[p] = 0;
				}
			}
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				T_FAILF("client process %d failed (status 0x%x)", (int)pid, st);
			}
			left--;
			continue;
		}
		uint64_t active = h_counter(obs, H_CTR(lanes_active));
		max_active = active > max_active ? active : max_active;
		if (h_now_ns() > deadline) {
			for (unsigned p = 0; p < PROCS; p++) {
				if (pids[p]) {
					kill(pids[p], SIGKILL);
				}
			}
			T_FAILF("%u client processes still running after 90 s", left);
		}
		h_sleep_us(5000);
	}
	uint64_t ms = (h_now_ns() - t0) / 1000000;
	uint64_t total = (uint64_t)PROCS * (CALL_THREADS + 1) * calls_per_thread;
	h_ok("%d processes x (%d cairn_call threads + 1 submit/wait thread) x %u commands, "
	     "rings of 1024, 8, 4 and 2 slots: every result reached its own thread (%llu ms, "
	     "%llu commands/s)",
	     PROCS, CALL_THREADS, calls_per_thread, (unsigned long long)ms,
	     (unsigned long long)(total * 1000 / (ms ? ms : 1)));
	ASSERT_TRUE(max_active >= 2);

	/* The daemon applied each command exactly once, without a single error. */
	ASSERT_OK(cairn_ping(obs, 2 * SEC));
	uint64_t commands = h_wait_counter(obs, H_CTR(commands), total + 1, true, 2000);
	ASSERT_UEQ(commands, total + 1);
	ASSERT_UEQ(h_wait_counter(obs, H_CTR(results), total + 1, true, 2000), total + 1);
	ASSERT_UEQ(h_counter(obs, H_CTR(errors)), 0);
	/* The 2- and 4-slot result rings must have filled up at least once. */
	ASSERT_TRUE(h_counter(obs, H_CTR(result_ring_full)) > 0);
	ASSERT_UEQ(h_wait_counter(obs, H_CTR(lanes_reclaimed), PROCS, true, 2000), PROCS);
	ASSERT_UEQ(h_wait_counter(obs, H_CTR(lanes_active), 1, true, 2000), 1);
	ASSERT_UEQ(h_counter(obs, H_CTR(lanes_attached)), PROCS + 1);
	h_ok("counters: commands = results = %llu exactly, 0 errors, result rings full %llu "
	     "times, up to %llu lanes active at once, %d lanes reclaimed, 1 active",
	     (unsigned long long)commands,
	     (unsigned long long)h_counter(obs, H_CTR(result_ring_full)),
	     (unsigned long long)max_active, PROCS);
	cairn_close(obs);
	h_stop(d);
}

static void check_max_clients(void)
{
	struct h_daemon *d = h_start(H_ARGS("--max-clients", "2"));
	cairn_client *a, *b, *c = (cairn_client *)1;
	uint64_t refused = 0;
	ASSERT_OK(cairn_open(d->sock, NULL, &a));
	ASSERT_OK(cairn_open(d->sock, NULL, &b));
	int r = cairn_open(d->sock, NULL, &c);
	ASSERT_EQ(r, -CAIRN_E_TOO_MANY_CLIENTS);
	ASSERT_TRUE(c == NULL);
	refused++;
	ASSERT_TRUE(h_log_has(d, "refused", "lanes are in use", 2000));
	ASSERT_OK(cairn_ping(a, 2 * SEC));
	ASSERT_OK(cairn_ping(b, 2 * SEC));
	h_ok("--max-clients 2: third attach -> %s (\"%s\"); the two attached still answer",
	     cairn_error_name(r), cairn_strerror(r));

	/* Closing one frees its lane, but asynchronously: retry for up to 2 s. */
	cairn_close(a);
	uint64_t deadline = h_now_ns() + 2 * SEC;
	unsigned tries = 0;
	for (;;) {
		tries++;
		r = cairn_open(d->sock, NULL, &c);
		if (r == 0) {
			break;
		}
		ASSERT_EQ(r, -CAIRN_E_TOO_MANY_CLIENTS);
		refused++;
		ASSERT_TRUE(h_now_ns() < deadline);
		h_sleep_us(2000);
	}
	ASSERT_OK(cairn_ping(c, 2 * SEC));
	ASSERT_OK(cairn_ping(b, 2 * SEC));
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	ASSERT_EQ(info.max_lanes, 2);
	ASSERT_TRUE(info.lane_id < 2);
	ASSERT_UEQ(h_wait_counter(c, H_CTR(attach_refused), refused, true, 2000), refused);
	ASSERT_UEQ(h_wait_counter(c, H_CTR(lanes_reclaimed), 1, true, 2000), 1);
	ASSERT_UEQ(h_wait_counter(c, H_CTR(lanes_active), 2, true, 2000), 2);
	ASSERT_UEQ(h_counter(c, H_CTR(lanes_attached)), 3);
	h_ok("after one client closed, attach #%u succeeded on reclaimed lane %u; "
	     "attach_refused = %llu, lanes_reclaimed = 1, lanes_active = 2",
	     tries, info.lane_id, (unsigned long long)refused);
	cairn_close(b);
	cairn_close(c);
	h_stop(d);
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "many_clients");
	const char *e = getenv("CAIRN_TEST_CALLS");
	if (e && *e) {
		calls_per_thread = (unsigned)strtoul(e, NULL, 10);
	}
	check_many();
	check_max_clients();
	h_pass();
}
