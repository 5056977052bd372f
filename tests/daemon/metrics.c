/*
 * metrics: what cairnd publishes in the metrics region of its state segment, read the
 * way monitors read it (the OBSERVE hello: the segment, read-only, no lane taken).
 *
 *  (a) A host's lane: its identity (client id, pid, uid, name, rings, age) under the
 *      record's seq; commands and results equal to what the host sent and got; errors
 *      counted; the push-to-apply histogram holds one count per command and its sum
 *      matches wait_ns_sum's order of magnitude; the client's own cursors.
 *  (b) The log: with --durability=sync, records and durable LSN cover the host's changes,
 *      batches and the write+fdatasync histogram agree, the backend is named.
 *  (c) The process: RSS and CPU sampled within two seconds.
 *  (d) A detached client's record is cleared; the observer took no lane
 *      (lanes_attached unchanged).
 *  (e) --metrics off: the header says so and nothing else is written.
 *  (f) Refusals: an OBSERVE hello with the SESSION flag too is refused.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "client/observe.h"
#include "harness.h"
#include "shm/seqlock.h"

#define SEC (1000ll * 1000 * 1000)

/* Lane id's identity, read under its seq; false when no client holds it. */
static bool identity(const struct cairn__metrics_view *v, uint32_t id,
		     struct cairn_lane_metrics *out)
{
	const struct cairn_lane_metrics *m = cairn__metrics_lane(v, id);
	for (int tries = 0; tries < 100000; tries++) {
		uint64_t s = cairn__seq_read_begin(&m->seq);
		cairn__seq_copy_out(out, m, 128);
		if (cairn__seq_read_ok(&m->seq, s)) {
			return out->client_id != 0;
		}
	}
	T_FAILF("lane %u's identity kept changing", id);
}

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Waits until *p reaches want (the daemon publishes about every millisecond). */
static void wait_for(const uint64_t *p, uint64_t want, const char *what)
{
	uint64_t t0 = h_now_ns();
	while (load(p) < want) {
		if (h_now_ns() - t0 > 5 * SEC) {
			T_FAILF("%s: %llu after 5 s, expected %llu", what,
				(unsigned long long)load(p), (unsigned long long)want);
		}
		h_sleep_us(1000);
	}
}

int main(int argc, char **argv)
{
	h_init(argc, argv, "metrics");
	struct h_daemon *d = h_start(NULL); /* durability sync, the default */
	char err[256];
	struct cairn__observed o;
	ASSERT_OK(cairn__observe(d->sock, &o, err, sizeof(err)));
	ASSERT_EQ(o.metrics_err, 0);
	ASSERT_TRUE(o.metrics.on);
	ASSERT_UEQ(o.metrics.lane_count, 64);
	const struct cairn_daemon_counters *dc =
		(const void *)((const char *)o.base +
			       ((const struct cairn_state_header *)o.base)->counters_offset);
	uint64_t attached0 = load(&dc->lanes_attached);

	struct cairn_open_options oo = {
		.name = "metrics-host", .cmd_capacity = 256, .res_capacity = 128};
	cairn_client *c;
	ASSERT_OK(cairn_open(d->sock, &oo, &c));
	struct cairn_daemon_info info;
	ASSERT_OK(cairn_daemon_info(c, &info));
	struct cairn_hunt_created hunt;
	ASSERT_OK(cairn_hunt_create(c, NULL, &hunt, 10 * SEC));
	uint32_t player;
	ASSERT_OK(cairn_join(c, hunt.hunt_id, 1500, 1500, &player, 10 * SEC));
	enum { PINGS = 500, MOVES = 300, BAD = 7 };
	for (int i = 0; i < PINGS; i++) {
		ASSERT_OK(cairn_ping(c, 10 * SEC));
	}
	for (int i = 0; i < MOVES; i++) {
		ASSERT_OK(cairn_move(c, hunt.hunt_id, player, 1500 + (i % 2) * 10, 1500, NULL,
				     10 * SEC));
	}
	for (int i = 0; i < BAD; i++) {
		ASSERT_EQ(cairn_move(c, hunt.hunt_id + 1, player, 1500, 1500, NULL, 10 * SEC),
			  -CAIRN_E_UNKNOWN_HUNT);
	}
	uint64_t sent = 2 + PINGS + MOVES + BAD; /* HUNT_CREATE and JOIN too */

	/* (a) The lane. */
	struct cairn_lane_metrics id;
	uint32_t lane = UINT32_MAX;
	for (uint32_t i = 0; i < o.metrics.lane_count; i++) {
		if (identity(&o.metrics, i, &id) && id.client_id == info.client_id) {
			lane = i;
			break;
		}
	}
	if (lane == UINT32_MAX) {
		T_FAILF("no lane record for client %llu", (unsigned long long)info.client_id);
	}
	ASSERT_EQ(id.pid, getpid());
	ASSERT_UEQ(id.uid, getuid());
	ASSERT_UEQ(id.lane_state, CAIRN_LANE_ACTIVE);
	ASSERT_UEQ(id.cmd_capacity, 256);
	ASSERT_UEQ(id.res_capacity, 128);
	ASSERT_TRUE(strncmp((const char *)id.name, "metrics-host", sizeof(id.name)) == 0);
	ASSERT_TRUE(id.attached_ns > 0 && id.attached_ns <= (uint64_t)h_now_ns());
	const struct cairn_lane_metrics *m = cairn__metrics_lane(&o.metrics, lane);
	wait_for(&m->results, sent, "lane results");
	ASSERT_UEQ(load(&m->commands), sent);
	ASSERT_UEQ(load(&m->results), sent);
	ASSERT_UEQ(load(&m->errors), BAD);
	ASSERT_UEQ(load(&m->cmd_pushed), sent);
	wait_for(&m->res_popped, sent, "the client's result tail");
	uint64_t counted = 0, nonzero = 0;
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		counted += load(&m->wait_hist[i]);
		nonzero += load(&m->wait_hist[i]) != 0;
	}
	ASSERT_UEQ(counted, sent);
	ASSERT_TRUE(load(&m->wait_ns_sum) > 0);
	h_ok("(a) lane %u: client %llu, pid, uid, name \"metrics-host\", rings 256/128; %llu "
	     "commands and results, %d errors, the client's cursors; %llu waits in %llu buckets, "
	     "mean %.1f us",
	     lane, (unsigned long long)info.client_id, (unsigned long long)sent, BAD,
	     (unsigned long long)counted, (unsigned long long)nonzero,
	     (double)load(&m->wait_ns_sum) / (double)counted / 1e3);

	/* (b) The log: HUNT_CREATE, JOIN and the MOVEs are logged, the rest is not. */
	const struct cairn_wal_metrics *w = o.metrics.wal;
	uint64_t logged = 2 + MOVES;
	wait_for(&w->durable_lsn, logged, "durable LSN");
	ASSERT_UEQ(load(&w->appended_lsn), logged);
	ASSERT_UEQ(load(&w->records), logged);
	ASSERT_UEQ(__atomic_load_n(&w->durability, __ATOMIC_RELAXED), CAIRN_DURABILITY_SYNC);
	uint32_t backend = __atomic_load_n(&w->backend, __ATOMIC_RELAXED);
	ASSERT_TRUE(backend == CAIRN_WAL_IO_URING || backend == CAIRN_WAL_SYNC);
	uint64_t batches = load(&w->batches), hist = 0;
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		hist += load(&w->sync_hist[i]);
	}
	ASSERT_UEQ(hist, batches);
	ASSERT_TRUE(batches > 0 && batches <= logged && load(&w->bytes) > logged * 56);
	h_ok("(b) log: %llu records durable, %llu batches in the fsync histogram, %s backend",
	     (unsigned long long)logged, (unsigned long long)batches,
	     backend == CAIRN_WAL_IO_URING ? "io_uring" : "sync");

	/* (c) The process. */
	const struct cairn_daemon_metrics *dm = o.metrics.daemon;
	wait_for(&dm->sampled_ns, 1, "the daemon's sample");
	uint64_t t0 = h_now_ns();
	while (load(&dm->rss_bytes) == 0 || load(&dm->cpu_ns) == 0 ||
	       load(&dm->apply_cpu_ns) == 0) {
		if (h_now_ns() - t0 > 5 * SEC) {
			T_FAILF("RSS, CPU or the apply thread's CPU never sampled (%llu, %llu, "
				"%llu)",
				(unsigned long long)load(&dm->rss_bytes),
				(unsigned long long)load(&dm->cpu_ns),
				(unsigned long long)load(&dm->apply_cpu_ns));
		}
		h_sleep_us(10000);
	}
	h_ok("(c) process: RSS %.1f MiB, CPU %.3f s, apply thread %.3f s",
	     (double)load(&dm->rss_bytes) / (1 << 20), (double)load(&dm->cpu_ns) / 1e9,
	     (double)load(&dm->apply_cpu_ns) / 1e9);

	/* (d) Detach: the record is cleared; the observer never took a lane. */
	cairn_close(c);
	t0 = h_now_ns();
	while (identity(&o.metrics, lane, &id)) {
		if (h_now_ns() - t0 > 5 * SEC) {
			T_FAILF("lane %u still names client %llu after it left", lane,
				(unsigned long long)id.client_id);
		}
		h_sleep_us(2000);
	}
	ASSERT_UEQ(load(&dc->lanes_attached), attached0 + 1);
	h_ok("(d) the client left: its lane record cleared; the observer took no lane "
	     "(lanes_attached +1, the host's)");
	cairn__observe_close(&o);
	h_stop(d);

	/* (e) --metrics off. */
	struct h_daemon *off = h_start(H_ARGS("--metrics", "off", "--durability", "none"));
	ASSERT_OK(cairn__observe(off->sock, &o, err, sizeof(err)));
	ASSERT_EQ(o.metrics_err, 0);
	ASSERT_TRUE(!o.metrics.on);
	ASSERT_OK(cairn_open(off->sock, NULL, &c));
	for (int i = 0; i < 100; i++) {
		ASSERT_OK(cairn_ping(c, 10 * SEC));
	}
	h_sleep_us(20000);
	for (uint32_t i = 0; i < o.metrics.lane_count; i++) {
		ASSERT_UEQ(load(&cairn__metrics_lane(&o.metrics, i)->commands), 0);
		ASSERT_UEQ(load(&cairn__metrics_lane(&o.metrics, i)->client_id), 0);
	}
	cairn_close(c);
	cairn__observe_close(&o);
	h_ok("(e) --metrics off: the header says so; after 100 PINGs no lane record was written");

	/* (f) An OBSERVE hello that also asks for a session is malformed. */
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", off->sock);
	ASSERT_EQ(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct {
		struct cairn_hello h;
		struct cairn_hello_session hs;
	} hello;
	memset(&hello, 0, sizeof(hello));
	hello.h.magic = CAIRN_HELLO_MAGIC;
	hello.h.version_major = CAIRN_PROTO_MAJOR;
	hello.h.flags = CAIRN_HELLO_OBSERVE | CAIRN_HELLO_SESSION;
	hello.hs.session_id = 42;
	ASSERT_EQ(send(s, &hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
	struct cairn_welcome wl;
	ssize_t n = recv(s, &wl, sizeof(wl), MSG_WAITALL);
	ASSERT_EQ(n, (ssize_t)sizeof(wl));
	ASSERT_EQ(wl.status, CAIRN_E_HANDSHAKE);
	close(s);
	h_ok("(f) OBSERVE with SESSION: refused with HANDSHAKE");
	h_stop(off);
	h_pass();
}
