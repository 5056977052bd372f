/*
 * kill_mid_push: clients that die at the worst moment. A child process pushes PINGs as
 * fast as it can and is killed with SIGKILL at a random instant, over and over; the
 * daemon must notice the closed socket and reclaim the lane every time, while another
 * client keeps calling without a hitch. Then the exact failure that wedges a shared
 * MPMC ring, made on purpose: a producer claims a slot (advances head) and never
 * publishes it. Its own lane stalls; it is not corrupt, so it is not dropped; a late
 * publish un-stalls it; and closing the socket reclaims it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define SEC   (1000 * 1000 * 1000ll)
#define KILLS 30

static struct h_rng rng;

/*
 * The dying client. read_results = false: it never reads, so both its rings fill and it
 * ends up spinning on -EAGAIN. true: it takes its results whenever the command ring is
 * full, so its rings keep moving and a kill is likely to land between claim and publish.
 */
static void pusher(const char *sock, int ready_fd, bool read_results)
{
	cairn_client *c;
	struct cairn_msg m, res;
	int r = cairn_open(sock, NULL, &c);
	if (r < 0) {
		fprintf(stderr, "pusher: cairn_open: %s\n", cairn_strerror(r));
		_exit(2);
	}
	char one = 1;
	if (write(ready_fd, &one, 1) != 1) {
		_exit(2);
	}
	for (uint64_t n = 0;; n++) {
		struct cairn_ping p = {.client_stamp = n};
		cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
		memcpy(m.payload, &p, sizeof(p));
		r = cairn_submit(c, &m);
		if (r == -EAGAIN) {
			while (read_results && cairn_poll(c, &res) == 0) {
			}
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "pusher: cairn_submit: %s\n", cairn_strerror(r));
			_exit(3);
		}
	}
}

static void wait_ready(int fd, pid_t pid)
{
	char b;
	uint64_t deadline = h_now_ns() + 5 * SEC;
	for (;;) {
		ssize_t n = read(fd, &b, 1);
		if (n == 1) {
			return;
		}
		if (n == 0) {
			T_FAILF("pusher %d exited before attaching (status %d)", (int)pid,
				h_wait_child(pid));
		}
		ASSERT_TRUE(errno == EINTR);
		ASSERT_TRUE(h_now_ns() < deadline);
	}
}

/* Waits until exactly `active` lanes are served and `reclaimed` lanes were reclaimed. */
static void expect_lanes(cairn_client *obs, uint64_t active, uint64_t reclaimed, const char *what)
{
	uint64_t r = h_wait_counter(obs, H_CTR(lanes_reclaimed), reclaimed, true, 2000);
	if (r != reclaimed) {
		T_FAILF("%s: lanes_reclaimed is %llu after 2 s, expected %llu", what,
			(unsigned long long)r, (unsigned long long)reclaimed);
	}
	uint64_t a = h_wait_counter(obs, H_CTR(lanes_active), active, true, 2000);
	if (a != active) {
		T_FAILF("%s: lanes_active is %llu after 2 s, expected %llu", what,
			(unsigned long long)a, (unsigned long long)active);
	}
}

static void check_kills(const struct h_daemon *d, struct h_pinger *good)
{
	uint64_t reclaimed = h_counter(good->c, H_CTR(lanes_reclaimed));
	uint64_t max_reclaim_ns = 0;
	for (unsigned i = 0; i < KILLS; i++) {
		int pfd[2];
		ASSERT_EQ(pipe2(pfd, O_CLOEXEC), 0);
		bool read_results = i % 2;
		pid_t pid = h_fork();
		if (pid == 0) {
			close(pfd[0]);
			pusher(d->sock, pfd[1], read_results);
		}
		close(pfd[1]);
		wait_ready(pfd[0], pid);
		close(pfd[0]);
		/* Mostly within the first few ms, while the rings are still filling. */
		uint64_t delay_us = i % 3 == 0 ? h_rng_below(&rng, 300) : h_rng_below(&rng, 20000);
		h_sleep_us(delay_us);
		ASSERT_EQ(kill(pid, SIGKILL), 0);
		uint64_t t0 = h_now_ns();
		int code = h_wait_child(pid);
		if (code != 128 + SIGKILL) {
			T_FAILF("pusher %u exited by itself (code %d) before the kill", i, code);
		}
		reclaimed++;
		expect_lanes(good->c, 1, reclaimed, "after a SIGKILL");
		uint64_t dt = h_now_ns() - t0;
		max_reclaim_ns = dt > max_reclaim_ns ? dt : max_reclaim_ns;
	}
	ASSERT_UEQ(h_counter(good->c, H_CTR(lanes_dropped)), 0);
	h_ok("%d pushers killed with SIGKILL after 0-20 ms of pushing (half never reading, "
	     "half reading): each lane reclaimed (slowest in %llu ms), lanes_active back to 1, "
	     "none counted as dropped",
	     KILLS, (unsigned long long)(max_reclaim_ns / 1000000));
}

/*
 * Claims position pos of the command ring the way a producer does (CAS on head) and
 * then does nothing more, as if it had died right there.
 */
static void claim_without_publishing(struct h_raw *r)
{
	uint64_t pos = r->cmd_pos;
	ASSERT_TRUE(__atomic_compare_exchange_n(&r->cmd_hdr->head, &pos, pos + 1, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED));
	r->cmd_pos = pos + 1;
}

static void expect_pong(struct h_raw *r, uint64_t stamp)
{
	struct cairn_msg res;
	struct cairn_pong q;
	ASSERT_TRUE(h_raw_pop(r, &res, 2000));
	ASSERT_EQ(res.hdr.type, CAIRN_MSG_PONG);
	ASSERT_UEQ(res.hdr.request_id, stamp);
	memcpy(&q, res.payload, sizeof(q));
	ASSERT_UEQ(q.client_stamp, stamp);
}

static void check_claim_no_publish(const struct h_daemon *d, struct h_pinger *good)
{
	struct cairn_hello h;
	struct h_raw r;
	struct cairn_msg res;
	uint64_t reclaimed = h_counter(good->c, H_CTR(lanes_reclaimed));
	uint64_t dropped = h_counter(good->c, H_CTR(lanes_dropped));

	/* First a slow producer, not a dead one: the lane waits for it and then goes on. */
	h_hello_default(&h, "slow-producer");
	ASSERT_EQ(h_raw_attach(d->sock, &h, &r), 0);
	struct cairn_msg m = h_ping_msg(1);
	ASSERT_TRUE(h_raw_push(&r, &m));
	expect_pong(&r, 1);
	uint64_t held = r.cmd_pos;
	claim_without_publishing(&r);
	m = h_ping_msg(3);
	ASSERT_TRUE(h_raw_push(&r, &m));
	uint64_t calls0 = h_pinger_calls(good);
	ASSERT_TRUE(!h_raw_pop(&r, &res, 300));
	ASSERT_UEQ(h_raw_lane_state(&r), CAIRN_LANE_ACTIVE);
	ASSERT_TRUE(h_pinger_calls(good) > calls0);
	/* Now the claimed slot is written and published, 300 ms late. */
	struct cairn_slot *s = &r.cmd_slots[held & (r.cmd_cap - 1)];
	ASSERT_UEQ(__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), held);
	m = h_ping_msg(2);
	memcpy(&s->msg, &m, sizeof(m));
	__atomic_store_n(&s->seq, held + 1, __ATOMIC_RELEASE);
	h_raw_ring(&r);
	expect_pong(&r, 2);
	expect_pong(&r, 3);
	h_ok("a slot claimed and published 300 ms late: the lane waited (no result, still "
	     "ACTIVE, others served meanwhile), then answered both in order");
	h_raw_close(&r);
	reclaimed++;
	expect_lanes(good->c, 1, reclaimed, "after closing the slow producer");

	/* Now a dead one: claim, publish the next slot, and never come back. */
	h_hello_default(&h, "dead-producer");
	ASSERT_EQ(h_raw_attach(d->sock, &h, &r), 0);
	claim_without_publishing(&r);
	for (uint64_t i = 10; i < 20; i++) {
		m = h_ping_msg(i);
		ASSERT_TRUE(h_raw_push(&r, &m));
	}
	calls0 = h_pinger_calls(good);
	ASSERT_TRUE(!h_raw_pop(&r, &res, 500));
	ASSERT_UEQ(h_raw_lane_state(&r), CAIRN_LANE_ACTIVE);
	ASSERT_TRUE(h_pinger_calls(good) > calls0);
	ASSERT_UEQ(h_counter(good->c, H_CTR(lanes_dropped)), dropped);
	ASSERT_UEQ(h_wait_counter(good->c, H_CTR(lanes_active), 2, true, 2000), 2);
	h_ok("a slot claimed and never published: that lane stalls (no result in 500 ms, "
	     "still ACTIVE, not dropped), the other client keeps being answered");
	h_raw_close(&r);
	reclaimed++;
	expect_lanes(good->c, 1, reclaimed, "after closing the dead producer");
	ASSERT_UEQ(h_counter(good->c, H_CTR(lanes_dropped)), dropped);
	h_ok("closing its socket reclaims the stalled lane");
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "kill_mid_push");
	h_rng_seed(&rng, h_seed);
	struct h_daemon *d = h_start(NULL);
	struct h_pinger good;
	h_pinger_start(&good, d->sock);
	ASSERT_UEQ(h_wait_counter(good.c, H_CTR(lanes_active), 1, true, 2000), 1);

	check_kills(d, &good);
	check_claim_no_publish(d, &good);

	h_pinger_finish(&good);
	h_stop(d);
	h_ok("cairnd exited 0 on SIGTERM");
	h_pass();
}
