/*
 * The Prometheus endpoint (cairnd --metrics-listen HOST:PORT): a thread of its own that
 * answers GET /metrics with the state segment's counters in the text exposition format
 * (version 0.0.4).
 *
 * It is a reader like ringtop: it maps the state segment a second time, read-only, so
 * that it cannot write shared memory even by mistake, takes every value with one
 * relaxed atomic load (a lane's identity under its seq), and takes no lock any other
 * thread takes. A scrape costs the daemon nothing but this thread's CPU, which is kept
 * off the apply thread's CPU.
 *
 * The HTTP side is deliberately small: one connection at a time, the request read with
 * a deadline and a size cap, one answer, then the connection is closed. A peer that is
 * slow or hostile can only delay the next scrape by the deadlines below; it never
 * reaches the daemon's other threads.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"
#include "common/log.h"
#include "daemon/daemon.h"
#include "protocol_desc.h"
#include "shm/seqlock.h"

#define REQUEST_MAX       4096 /* bytes of request line and headers read at most */
#define READ_DEADLINE_MS  2000 /* the whole request must arrive within this */
#define WRITE_DEADLINE_MS 5000 /* the whole answer must be taken within this */
#define IDENTITY_TRIES    64   /* seqlock retries before a lane's identity is skipped */

/* ---- the flag ---- */

int cairnd_metrics_parse_listen(const char *s, struct sockaddr_in *out, char *err, size_t errlen)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host)) {
		snprintf(err, errlen,
			 "--metrics-listen takes HOST:PORT (an IPv4 address or "
			 "localhost, and a port from 1 to 65535), not '%s'",
			 s);
		return -EINVAL;
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535) {
		snprintf(err, errlen,
			 "--metrics-listen: the port must be a number from 1 to 65535, "
			 "not '%s'",
			 colon + 1);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (strcmp(host, "localhost") == 0) {
		out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (inet_pton(AF_INET, host, &out->sin_addr) != 1) {
		snprintf(err, errlen,
			 "--metrics-listen: '%s' is not an IPv4 address (such as "
			 "127.0.0.1) or localhost",
			 host);
		return -EINVAL;
	}
	return 0;
}

/* ---- rendering ---- */

/* A growing text buffer; an allocation failure is remembered and fails the scrape. */
struct text {
	char *p;
	size_t n, cap;
	bool oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	for (;;) {
		if (t->oom) {
			return;
		}
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
		va_end(ap);
		if (k < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)k < t->cap - t->n) {
			t->n += (size_t)k;
			return;
		}
		size_t cap = t->cap * 2 > t->n + (size_t)k + 1 ? t->cap * 2 : t->n + (size_t)k + 1;
		char *p = realloc(t->p, cap);
		if (!p) {
			t->oom = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

/*
 * A label value as the format wants it, into dst (cap bytes, at least 3 * max + 1):
 * backslash, double quote and line feed escaped. The daemon keeps client names
 * printable; anything else is shown as '?' all the same, so that the output stays valid
 * UTF-8 whatever the segment holds.
 */
static void escape_label(char *dst, size_t cap, const char *s, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < max && s[i] && k + 3 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '"') {
			dst[k++] = '\\';
			dst[k++] = (char)c;
		} else if (c == '\n') {
			dst[k++] = '\\';
			dst[k++] = 'n';
		} else {
			dst[k++] = (char)(c >= 0x20 && c < 0x7f ? c : '?');
		}
	}
	dst[k] = '\0';
}

static void family(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample of a single-valued family without labels. */
static void scalar(struct text *t, const char *name, const char *type, const char *help, uint64_t v)
{
	family(t, name, type, help);
	put(t, "%s %llu\n", name, (unsigned long long)v);
}

static void scalar_f(struct text *t, const char *name, const char *type, const char *help, double v)
{
	family(t, name, type, help);
	put(t, "%s %.9f\n", name, v);
}

/*
 * The samples of one histogram from HIST_BUCKETS log2 buckets of nanoseconds (bucket 0
 * below 2 ns, bucket i in [2^i, 2^(i+1)), the last one unbounded): cumulative, with
 * le = 2^(i+1) ns in seconds, then +Inf; _count is the sum of the buckets, so that it
 * always equals the +Inf bucket. labels is "" or 'k="v",' with its trailing comma.
 */
static void histogram(struct text *t, const char *name, const char *labels, const uint64_t *hist,
		      uint64_t sum_ns)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS - 1; i++) {
		total += hist[i];
		put(t, "%s_bucket{%sle=\"%.12g\"} %llu\n", name, labels,
		    (double)(UINT64_C(2) << i) * 1e-9, (unsigned long long)total);
	}
	total += hist[CAIRN_HIST_BUCKETS - 1];
	put(t, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, (unsigned long long)total);
	size_t n = strlen(labels);
	/* The labels without their trailing comma, for _sum and _count. */
	char bare[256];
	snprintf(bare, sizeof(bare), "%.*s", n ? (int)n - 1 : 0, labels);
	put(t, "%s_sum%s%s%s %.9f\n", name, n ? "{" : "", bare, n ? "}" : "",
	    (double)sum_ns * 1e-9);
	put(t, "%s_count%s%s%s %llu\n", name, n ? "{" : "", bare, n ? "}" : "",
	    (unsigned long long)total);
}

/* A lane's record as copied for one scrape: identity under its seq, counters loaded. */
struct lane_copy {
	uint32_t lane;
	uint64_t client_id;
	int32_t pid;
	char name[CAIRN_NAME_SIZE + 1];
	char labels[192]; /* lane="..",client="..",name="..",pid="..", */
	uint64_t commands, results, errors, full, wakes, cmd_pushed, held, wait_sum;
	uint64_t hist[CAIRN_HIST_BUCKETS];
};

struct scraper {
	struct daemon *d;
	const uint8_t *base; /* the state segment, mapped read-only */
	uint64_t size;
	const struct cairn_state_header *hdr;
	const struct cairn_daemon_counters *counters;
	const struct cairn_engine_counters *engine;
	const struct cairn_grid_header *grid; /* NULL without one */
	struct cairn__metrics_view mv;
	bool have_metrics;
	struct lane_copy *lanes;
	uint32_t nlanes;
	struct text out;
	char *answer; /* the HTTP answer being written */
	size_t answer_len;
};

/* Copies the lanes that have a client now; a lane being rewritten is tried again. */
static void copy_lanes(struct scraper *s)
{
	s->nlanes = 0;
	if (!s->have_metrics || !s->mv.on) {
		return;
	}
	for (uint32_t i = 0; i < s->mv.lane_count; i++) {
		const struct cairn_lane_metrics *m = cairn__metrics_lane(&s->mv, i);
		struct lane_copy *c = &s->lanes[s->nlanes];
		bool whole = false;
		for (unsigned k = 0; k < IDENTITY_TRIES && !whole; k++) {
			/* The seqlock read protocol of seqlock.h over the identity fields. */
			uint64_t seq = cairn__seq_read_begin(&m->seq);
			c->client_id = cairn__load_relaxed(&m->client_id);
			c->pid = cairn__load_relaxed(&m->pid);
			for (unsigned j = 0; j < CAIRN_NAME_SIZE; j++) {
				c->name[j] = (char)cairn__load_relaxed(&m->name[j]);
			}
			whole = cairn__seq_read_ok(&m->seq, seq);
		}
		if (!whole || c->client_id == 0) {
			continue; /* free, or being handed to another client this very moment */
		}
		c->name[CAIRN_NAME_SIZE] = '\0';
		c->lane = i;
		/* Counters only grow and gauges are single words: one relaxed load each. */
		c->commands = cairn__load_relaxed(&m->commands);
		c->results = cairn__load_relaxed(&m->results);
		c->errors = cairn__load_relaxed(&m->errors);
		c->full = cairn__load_relaxed(&m->full);
		c->wakes = cairn__load_relaxed(&m->wakes);
		c->cmd_pushed = cairn__load_relaxed(&m->cmd_pushed);
		c->held = cairn__load_relaxed(&m->held);
		c->wait_sum = cairn__load_relaxed(&m->wait_ns_sum);
		for (unsigned j = 0; j < CAIRN_HIST_BUCKETS; j++) {
			c->hist[j] = cairn__load_relaxed(&m->wait_hist[j]);
		}
		char name[3 * CAIRN_NAME_SIZE + 1];
		escape_label(name, sizeof(name), c->name, CAIRN_NAME_SIZE);
		snprintf(c->labels, sizeof(c->labels),
			 "lane=\"%u\",client=\"%llu\",name=\"%s\",pid=\"%d\",", i,
			 (unsigned long long)c->client_id, name, (int)c->pid);
		s->nlanes++;
	}
}

/* One family with a sample per lane copied; field is an offset into struct lane_copy. */
static void lane_family(struct scraper *s, const char *name, const char *type, const char *help,
			size_t field)
{
	family(&s->out, name, type, help);
	for (uint32_t i = 0; i < s->nlanes; i++) {
		const struct lane_copy *c = &s->lanes[i];
		uint64_t v;
		memcpy(&v, (const char *)c + field, sizeof(v));
		size_t n = strlen(c->labels);
		put(&s->out, "%s{%.*s} %llu\n", name, n ? (int)n - 1 : 0, c->labels,
		    (unsigned long long)v);
	}
}

#define LANE_FIELD(f) offsetof(struct lane_copy, f)

static void render_lanes(struct scraper *s)
{
	struct text *t = &s->out;
	copy_lanes(s);
	lane_family(s, "cairn_lane_commands_total", "counter",
		    "Commands the daemon took from the lane's command ring.", LANE_FIELD(commands));
	lane_family(s, "cairn_lane_results_total", "counter",
		    "Results the daemon published to the lane's result ring.", LANE_FIELD(results));
	lane_family(s, "cairn_lane_errors_total", "counter", "Of those results, ERROR results.",
		    LANE_FIELD(errors));
	lane_family(s, "cairn_lane_full_total", "counter",
		    "Turns the lane had commands waiting but no room in its result ring.",
		    LANE_FIELD(full));
	lane_family(s, "cairn_lane_wakeups_total", "counter",
		    "FUTEX_WAKE calls made for the client's threads asleep on results.",
		    LANE_FIELD(wakes));
	family(t, "cairn_lane_depth", "gauge",
	       "Commands pushed by the client and not yet taken by the daemon (the client's "
	       "own cursor, as last seen).");
	for (uint32_t i = 0; i < s->nlanes; i++) {
		const struct lane_copy *c = &s->lanes[i];
		uint64_t depth = c->cmd_pushed > c->commands ? c->cmd_pushed - c->commands : 0;
		size_t n = strlen(c->labels);
		put(t, "cairn_lane_depth{%.*s} %llu\n", n ? (int)n - 1 : 0, c->labels,
		    (unsigned long long)depth);
	}
	lane_family(s, "cairn_lane_held", "gauge",
		    "Results applied but held back until the log has their commands.",
		    LANE_FIELD(held));
	family(t, "cairn_lane_wait_seconds", "histogram",
	       "Time from push to apply of each command (bounded above by the time since the "
	       "daemon last found the ring empty).");
	for (uint32_t i = 0; i < s->nlanes; i++) {
		histogram(t, "cairn_lane_wait_seconds", s->lanes[i].labels, s->lanes[i].hist,
			  s->lanes[i].wait_sum);
	}
}

static void render_wal(struct scraper *s)
{
	struct text *t = &s->out;
	if (!s->have_metrics || !s->mv.on) {
		return;
	}
	const struct cairn_wal_metrics *w = s->mv.wal;
	uint64_t appended = cairn__load_relaxed(&w->appended_lsn);
	uint64_t durable = cairn__load_relaxed(&w->durable_lsn);
	uint64_t hist[CAIRN_HIST_BUCKETS];
	for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
		hist[i] = cairn__load_relaxed(&w->sync_hist[i]);
	}
	scalar(t, "cairn_wal_durable_lsn", "gauge", "Every log record up to this LSN is on disk.",
	       durable);
	scalar(t, "cairn_wal_appended_lsn", "gauge", "The last LSN handed to the log.", appended);
	scalar(t, "cairn_wal_lag_records", "gauge",
	       "Records appended but not yet on disk (appended minus durable LSN).",
	       appended > durable ? appended - durable : 0);
	scalar(t, "cairn_wal_snapshot_lsn", "gauge", "LSN of the newest snapshot (0: none).",
	       cairn__load_relaxed(&w->snapshot_lsn));
	scalar(t, "cairn_wal_failed", "gauge",
	       "1 when the log failed and changes are refused until a restart, else 0.",
	       cairn__load_relaxed(&w->error) != 0);
	scalar(t, "cairn_wal_records_total", "counter", "Log records made durable.",
	       cairn__load_relaxed(&w->records));
	scalar(t, "cairn_wal_bytes_total", "counter",
	       "Bytes written to the log, headers and padding included.",
	       cairn__load_relaxed(&w->bytes));
	scalar(t, "cairn_wal_batches_total", "counter",
	       "Log writes made durable (one write and one fdatasync each).",
	       cairn__load_relaxed(&w->batches));
	family(t, "cairn_wal_sync_seconds", "histogram",
	       "Time from submit to durable of each log batch (write + fdatasync).");
	histogram(t, "cairn_wal_sync_seconds", "", hist, cairn__load_relaxed(&w->sync_ns_sum));
}

/* The schema's name of a command type, or NULL when the type is not a command. */
static const char *command_name(unsigned type)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		if (cairn__proto_msgs[i].type == type && !(type & CAIRN_REPLY_BIT)) {
			return cairn__proto_msgs[i].name;
		}
	}
	return NULL;
}

static void render_engine(struct scraper *s)
{
	struct text *t = &s->out;
	const struct cairn_engine_counters *e = s->engine;
	size_t nt = sizeof(e->by_type) / sizeof(e->by_type[0]);
	size_t ne = sizeof(e->by_error) / sizeof(e->by_error[0]);
	family(t, "cairn_engine_commands_total", "counter",
	       "Commands taken, by message type (other: types the schema does not define).");
	uint64_t other = cairn__load_relaxed(&e->by_type[0]);
	for (unsigned i = 1; i < nt; i++) {
		const char *name = command_name(i);
		uint64_t v = cairn__load_relaxed(&e->by_type[i]);
		if (name) {
			put(t, "cairn_engine_commands_total{type=\"%s\"} %llu\n", name,
			    (unsigned long long)v);
		} else {
			other += v;
		}
	}
	put(t, "cairn_engine_commands_total{type=\"other\"} %llu\n", (unsigned long long)other);
	family(t, "cairn_engine_rejections_total", "counter",
	       "Commands answered with an error, by error code name.");
	bool named[64] = {false};
	for (unsigned i = 0; i < CAIRN__PROTO_NERRORS; i++) {
		unsigned k = (unsigned)(cairn__proto_errors[i].code - CAIRN_E__FIRST);
		if (k < ne - 1 && k < 64) {
			named[k] = true;
			put(t, "cairn_engine_rejections_total{reason=\"%s\"} %llu\n",
			    cairn__proto_errors[i].name,
			    (unsigned long long)cairn__load_relaxed(&e->by_error[k]));
		}
	}
	uint64_t other_err = 0;
	for (unsigned k = 0; k < ne && k < 64; k++) {
		if (!named[k]) {
			other_err += cairn__load_relaxed(&e->by_error[k]);
		}
	}
	put(t, "cairn_engine_rejections_total{reason=\"other\"} %llu\n",
	    (unsigned long long)other_err);
	scalar(t, "cairn_engine_applied_total", "counter", "Commands that changed the game state.",
	       cairn__load_relaxed(&e->applied));
	scalar(t, "cairn_engine_moves_total", "counter", "Moves accepted.",
	       cairn__load_relaxed(&e->moves));
	scalar(t, "cairn_engine_claims_total", "counter", "Clues claimed.",
	       cairn__load_relaxed(&e->claims));
	scalar(t, "cairn_engine_lost_races_total", "counter",
	       "Moves that reached a clue someone else had claimed first.",
	       cairn__load_relaxed(&e->lost));
	scalar(t, "cairn_engine_events_total", "counter", "Events published on the broadcast ring.",
	       cairn__load_relaxed(&e->events));
	scalar(t, "cairn_engine_hunts", "gauge", "Hunts alive.",
	       s->grid ? cairn__load_relaxed(&s->grid->hunts) : 0);
	scalar(t, "cairn_engine_entities", "gauge", "Players and clues alive, all hunts.",
	       s->grid ? cairn__load_relaxed(&s->grid->entities) : 0);
}

static void render_daemon(struct scraper *s)
{
	struct text *t = &s->out;
	const struct cairn_state_header *h = s->hdr;
	const struct cairn_daemon_counters *k = s->counters;
	uint64_t now = cairn__now_ns();
	uint64_t beat = cairn__load_relaxed(&h->heartbeat_ns);
	scalar_f(t, "cairn_daemon_heartbeat_seconds", "gauge",
		 "Seconds since the apply thread last stamped its heartbeat (it does at least "
		 "every 100 ms while it runs).",
		 beat && now > beat ? (double)(now - beat) * 1e-9 : 0.0);
	if (s->have_metrics) {
		uint64_t start = cairn__load_relaxed(&s->mv.hdr->start_ns);
		scalar_f(t, "cairn_daemon_uptime_seconds", "gauge", "Seconds since cairnd started.",
			 start && now > start ? (double)(now - start) * 1e-9 : 0.0);
	}
	if (s->have_metrics && s->mv.on) {
		const struct cairn_daemon_metrics *m = s->mv.daemon;
		scalar(t, "cairn_daemon_resident_memory_bytes", "gauge",
		       "Resident memory of the cairnd process (sampled once a second).",
		       cairn__load_relaxed(&m->rss_bytes));
		scalar_f(t, "cairn_daemon_cpu_seconds_total", "counter",
			 "CPU time of the cairnd process, all threads, user and system (sampled "
			 "once "
			 "a second).",
			 (double)cairn__load_relaxed(&m->cpu_ns) * 1e-9);
		scalar_f(t, "cairn_daemon_apply_cpu_seconds_total", "counter",
			 "CPU time of the apply thread (sampled once a second).",
			 (double)cairn__load_relaxed(&m->apply_cpu_ns) * 1e-9);
		scalar(t, "cairn_solver_jobs_total", "counter",
		       "Path commands handed to the solver workers.",
		       cairn__load_relaxed(&m->solver_jobs));
		scalar(t, "cairn_solver_inline_total", "counter",
		       "Path commands answered on the apply thread (table lookups).",
		       cairn__load_relaxed(&m->solver_inline));
		scalar(t, "cairn_solver_jobs_out", "gauge", "Path jobs out with the workers now.",
		       cairn__load_relaxed(&m->solver_out));
	}
	scalar(t, "cairn_daemon_lanes_active", "gauge", "Lanes being served now.",
	       cairn__load_relaxed(&k->lanes_active));
	scalar(t, "cairn_daemon_attached_total", "counter",
	       "Clients that completed the attach handshake.",
	       cairn__load_relaxed(&k->lanes_attached));
	scalar(t, "cairn_daemon_attach_refused_total", "counter",
	       "Attach attempts refused (credentials, version, limits, malformed).",
	       cairn__load_relaxed(&k->attach_refused));
	scalar(t, "cairn_daemon_lanes_dropped_total", "counter",
	       "Lanes dropped because their rings were corrupted.",
	       cairn__load_relaxed(&k->lanes_dropped));
	scalar(t, "cairn_daemon_commands_total", "counter", "Commands taken from all lanes.",
	       cairn__load_relaxed(&k->commands));
	scalar(t, "cairn_daemon_sleeps_total", "counter",
	       "Times the apply thread went to sleep on the doorbells.",
	       cairn__load_relaxed(&k->sleeps));
	family(t, "cairn_daemon_info", "gauge",
	       "Constant 1: the daemon's pid, apply thread CPU (-1: not pinned), NUMA node and "
	       "version.");
	/*
	 * h is mapped: setup_scraper returned 0. Clang 14's analyzer does not know that
	 * errno is positive after a failed call, and takes the mmap's -errno for success.
	 * NOLINTBEGIN(clang-analyzer-core.NullDereference)
	 */
	put(t,
	    "cairn_daemon_info{pid=\"%u\",apply_cpu=\"%d\",numa_node=\"%d\",version=\"%s\","
	    "protocol=\"%u.%u\"} 1\n",
	    h->daemon_pid, h->apply_cpu, h->numa_node, CAIRN_VERSION, h->version_major,
	    h->version_minor);
	/* NOLINTEND(clang-analyzer-core.NullDereference) */
}

/* The whole exposition, into s->out. Returns 0 or -ENOMEM. */
static int render(struct scraper *s)
{
	s->out.n = 0;
	s->out.oom = false;
	if (s->out.p) {
		s->out.p[0] = '\0';
	}
	render_daemon(s);
	render_engine(s);
	render_wal(s);
	render_lanes(s);
	return s->out.oom ? -ENOMEM : 0;
}

/* ---- HTTP ---- */

/* Milliseconds left before deadline (a CLOCK_MONOTONIC ns value), at least 0. */
static int left_ms(uint64_t deadline)
{
	uint64_t now = cairn__now_ns();
	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/*
 * Reads the request line and headers into buf (NUL-terminated) until the blank line that
 * ends them. Returns the bytes read, 0 when the peer closed or the deadline passed first,
 * -E2BIG when the headers do not fit, or -EBADMSG when they hold a NUL byte.
 */
static ssize_t read_request(int fd, char *buf, size_t cap)
{
	uint64_t deadline = cairn__now_ns() + (uint64_t)READ_DEADLINE_MS * 1000000;
	size_t got = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int ms = left_ms(deadline);
		int k = ms ? poll(&p, 1, ms) : 0;
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			return 0;
		}
		ssize_t n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			continue;
		}
		if (n <= 0) {
			/* Closed early: answer what came, if it was a whole request line. */
			buf[got] = '\0';
			return strchr(buf, '\n') ? (ssize_t)got : 0;
		}
		got += (size_t)n;
		buf[got] = '\0';
		/* memmem, not strstr: a NUL from the peer must not hide the end. */
		if (memmem(buf, got, "\r\n\r\n", 4) || memmem(buf, got, "\n\n", 2)) {
			return memchr(buf, '\0', got) ? -EBADMSG : (ssize_t)got;
		}
		if (got == cap - 1) {
			return -E2BIG;
		}
	}
}

/* Writes all of buf within the deadline. Returns 0 or -1 (the peer is given up). */
static int write_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int ms = left_ms(deadline);
		int k = ms ? poll(&p, 1, ms) : 0;
		if (k == 0 || (k < 0 && errno != EINTR)) {
			return -1;
		}
	}
	return 0;
}

static void answer(int fd, const char *status, const char *type, const char *extra,
		   const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 status, type, len, extra ? extra : "");
	uint64_t deadline = cairn__now_ns() + (uint64_t)WRITE_DEADLINE_MS * 1000000;
	if (write_all(fd, head, (size_t)n, deadline) == 0 && body) {
		write_all(fd, body, len, deadline);
	}
}

static void answer_text(int fd, const char *status, const char *extra, const char *text)
{
	answer(fd, status, "text/plain; charset=utf-8", extra, text, strlen(text));
}

/* Reads one request from fd and answers it. */
static void serve_connection(struct scraper *s, int fd)
{
	char req[REQUEST_MAX];
	ssize_t n = read_request(fd, req, sizeof(req));
	if (n == -E2BIG) {
		answer_text(fd, "431 Request Header Fields Too Large", NULL,
			    "request headers too large\n");
		return;
	}
	if (n == -EBADMSG) {
		answer_text(fd, "400 Bad Request", NULL, "malformed request\n");
		return;
	}
	if (n <= 0) {
		return; /* nothing whole arrived in time: just close */
	}
	/* The request line: METHOD SP TARGET SP HTTP/x.y */
	char method[16], target[256], version[16];
	char *eol = strpbrk(req, "\r\n");
	if (eol) {
		*eol = '\0';
	}
	if (strlen(req) > 300 ||
	    sscanf(req, "%15[A-Za-z] %255[^ ] %15[^ ]", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7) != 0) {
		answer_text(fd, "400 Bad Request", NULL, "malformed request\n");
		return;
	}
	size_t plen = strcspn(target, "?");
	if (strcmp(method, "GET") != 0) {
		answer_text(fd, "405 Method Not Allowed", "Allow: GET\r\n", "only GET is served\n");
		return;
	}
	if (plen != strlen("/metrics") || strncmp(target, "/metrics", plen) != 0) {
		answer_text(fd, "404 Not Found", NULL, "not found: the metrics are at /metrics\n");
		return;
	}
	if (render(s) < 0) {
		answer_text(fd, "503 Service Unavailable", NULL, "out of memory\n");
		return;
	}
	answer(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", NULL, s->out.p, s->out.n);
}

/* ---- the thread ---- */

static int setup_scraper(struct daemon *d, struct scraper *s)
{
	memset(s, 0, sizeof(*s));
	s->d = d;
	s->size = d->state_layout.size;
	/* A mapping of our own, read-only: the segment's seals allow exactly that. */
	void *p = mmap(NULL, (size_t)s->size, PROT_READ, MAP_SHARED, d->state_fd, 0);
	if (p == MAP_FAILED) {
		return -errno;
	}
	s->base = p;
	s->hdr = (const void *)s->base;
	s->counters = (const void *)(s->base + d->state_layout.counters_offset);
	s->engine = (const void *)(s->base + d->state_layout.engine_counters_offset);
	if (d->state_layout.grid_offset &&
	    d->state_layout.grid_size >= sizeof(struct cairn_grid_header)) {
		s->grid = (const void *)(s->base + d->state_layout.grid_offset);
	}
	s->have_metrics = cairn__metrics_view(s->base, s->size, &s->mv) == 0;
	/* Room for a scrape with a few clients; it grows with the first larger one. */
	s->out.cap = 64 * 1024;
	s->out.p = malloc(s->out.cap);
	if (s->have_metrics && s->mv.lane_count) {
		s->lanes = calloc(s->mv.lane_count, sizeof(s->lanes[0]));
	}
	if (!s->out.p || (s->have_metrics && s->mv.lane_count && !s->lanes)) {
		free(s->out.p);
		free(s->lanes);
		munmap(p, (size_t)s->size);
		return -ENOMEM;
	}
	return 0;
}

static void *metrics_main(void *arg)
{
	struct daemon *d = arg;
	struct cairnd_http *h = &d->http;
	struct scraper s;
	int r = setup_scraper(d, &s);
	if (r < 0) {
		cairn__error("metrics endpoint: cannot map the state segment: %s", strerror(-r));
		return NULL;
	}
	for (;;) {
		struct pollfd p[2] = {{.fd = h->listen_fd, .events = POLLIN},
				      {.fd = h->stop_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			cairn__error("metrics endpoint: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents) {
			break;
		}
		/* Every connection waiting, one after the other. */
		for (;;) {
			int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0) {
				break;
			}
			serve_connection(&s, fd);
			/*
			 * The answer is sent; a peer that sent more than its headers would get
			 * a reset on close, possibly before it read the answer: read what is
			 * left first, without waiting for more.
			 */
			shutdown(fd, SHUT_WR);
			char sink[512];
			while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
			}
			close(fd);
		}
	}
	free(s.out.p);
	free(s.lanes);
	munmap((void *)s.base, (size_t)s.size);
	return NULL;
}

int cairnd_metrics_http_open(struct daemon *d)
{
	struct cairnd_http *h = &d->http;
	h->listen_fd = h->stop_fd = -1;
	if (!d->cfg.metrics_listen) {
		return 0;
	}
	char addr[INET_ADDRSTRLEN] = "?";
	inet_ntop(AF_INET, &d->cfg.metrics_addr.sin_addr, addr, sizeof(addr));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (const struct sockaddr *)&d->cfg.metrics_addr, sizeof(d->cfg.metrics_addr)) <
		    0 ||
	    listen(fd, 16) < 0) {
		int e = errno;
		cairn__error("--metrics-listen %s: cannot listen on %s:%u: %s",
			     d->cfg.metrics_listen, addr,
			     (unsigned)ntohs(d->cfg.metrics_addr.sin_port), strerror(e));
		if (fd >= 0) {
			close(fd);
		}
		return -e;
	}
	h->listen_fd = fd;
	cairn__info("metrics endpoint: http://%s:%u/metrics", addr,
		    (unsigned)ntohs(d->cfg.metrics_addr.sin_port));
	return 0;
}

int cairnd_metrics_http_start(struct daemon *d)
{
	struct cairnd_http *h = &d->http;
	if (h->listen_fd < 0) {
		return 0;
	}
	h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->stop_fd < 0) {
		int e = errno;
		cairn__error("metrics endpoint: eventfd: %s", strerror(e));
		return -e;
	}
	int r = pthread_create(&h->thread, NULL, metrics_main, d);
	if (r != 0) {
		cairn__error("cannot start the metrics endpoint's thread: %s", strerror(r));
		return -r;
	}
	h->started = true;
	pthread_setname_np(h->thread, "cairn-metrics");
	cairnd_keep_off_apply_cpu(d, h->thread);
	return 0;
}

void cairnd_metrics_http_stop(struct daemon *d)
{
	struct cairnd_http *h = &d->http;
	if (h->started) {
		uint64_t one = 1;
		ssize_t w = write(h->stop_fd, &one, sizeof(one));
		(void)w; /* an eventfd write fails only if the counter would overflow */
		pthread_join(h->thread, NULL);
		h->started = false;
	}
	if (h->stop_fd >= 0) {
		close(h->stop_fd);
		h->stop_fd = -1;
	}
	if (h->listen_fd >= 0) {
		close(h->listen_fd);
		h->listen_fd = -1;
	}
}
