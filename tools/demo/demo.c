/*
 * cairn-demo: a host that drives cairnd and shows, live, what a round trip through
 * shared memory costs. Each host thread calls PING or ECHO in a loop and records every
 * round trip in a log-linear histogram; the main thread prints one line a second and a
 * summary at the end (Ctrl-C, or --duration).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "common/atomic.h"
#include "common/clock.h"

/*
 * A log-linear histogram of nanoseconds: 64 powers of two, each split in 16, so every
 * bucket is within 6.25 % of its neighbours: enough for percentiles of latency.
 */
#define SUB 16
struct hist {
	uint64_t b[64 * SUB];
	uint64_t n, sum, max;
};

static unsigned bucket_of(uint64_t v)
{
	if (v < SUB) {
		return (unsigned)v;
	}
	unsigned e = 63u - (unsigned)__builtin_clzll(v); /* v >= 16, so e >= 4 */
	unsigned sub = (unsigned)(v >> (e - 4)) & (SUB - 1);
	return (e - 3) * SUB + sub;
}

static uint64_t bucket_low(unsigned i)
{
	if (i < SUB) {
		return i;
	}
	unsigned e = i / SUB + 3, sub = i % SUB;
	return ((uint64_t)(SUB + sub)) << (e - 4);
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max) {
		h->max = v;
	}
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < 64 * SUB; i++) {
		into->b[i] += h->b[i];
	}
	into->n += h->n;
	into->sum += h->sum;
	if (h->max > into->max) {
		into->max = h->max;
	}
}

static uint64_t hist_pct(const struct hist *h, double p)
{
	if (!h->n) {
		return 0;
	}
	uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->n), seen = 0;
	for (unsigned i = 0; i < 64 * SUB; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t lo = bucket_low(i);
			return lo > h->max ? h->max : lo;
		}
	}
	return h->max;
}

static void fmt_ns(char *buf, size_t len, uint64_t ns)
{
	if (ns < 10000) {
		snprintf(buf, len, "%llu ns", (unsigned long long)ns);
	} else if (ns < 1000000) {
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	} else {
		snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
	}
}

static void fmt_count(char *buf, size_t len, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v), o = 0;
	for (int i = 0; i < n && (size_t)o + 2 < len; i++) {
		if (i && (n - i) % 3 == 0) {
			buf[o++] = ',';
		}
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
}

struct worker {
	pthread_t t;
	int id;
	int cpu;
	cairn_client *c;
	bool echo;
	pthread_mutex_t lock; /* guards cur: the main thread swaps it out every second */
	struct hist cur;
	uint64_t errors;
	int last_error;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct cairn_msg m, res;
	struct hist local;
	uint64_t k = 0;
	memset(&local, 0, sizeof(local));
	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	while (!stop_flag) {
		if (w->echo) {
			cairn_msg_init(&m, CAIRN_MSG_ECHO, 32);
			memcpy(m.payload, &k, sizeof(k));
		} else {
			cairn_msg_init(&m, CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN);
		}
		uint64_t t0 = cairn__now_ns();
		int r = cairn_call(w->c, &m, &res, 2ll * 1000 * 1000 * 1000);
		uint64_t t1 = cairn__now_ns();
		if (r < 0 || (w->echo && memcmp(res.payload, &k, sizeof(k)) != 0)) {
			pthread_mutex_lock(&w->lock);
			w->errors++;
			w->last_error = r < 0 ? r : -CAIRN_E_BAD_REPLY;
			pthread_mutex_unlock(&w->lock);
			if (r == -CAIRN_E_DISCONNECTED || r == -CAIRN_E_LANE_DROPPED) {
				stop_flag = 1;
			}
			continue;
		}
		hist_add(&local, t1 - t0);
		k++;
		/* Hand over to the main thread in chunks: the lock stays off the hot path. */
		if ((k & 1023) == 0) {
			pthread_mutex_lock(&w->lock);
			hist_merge(&w->cur, &local);
			pthread_mutex_unlock(&w->lock);
			memset(&local, 0, sizeof(local));
		}
	}
	pthread_mutex_lock(&w->lock);
	hist_merge(&w->cur, &local);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-demo [OPTION]...\n"
		"Drive cairnd from a C host and print round-trip figures live.\n"
		"\n"
		"  --socket PATH     the daemon's socket (default: as cairnd's default)\n"
		"  --threads N       host threads, each with its own connection (default 1)\n"
		"  --cpu LIST        pin host thread i to the i-th CPU of a comma list (e.g. 0)\n"
		"  --echo            send 32-byte ECHO commands instead of PING\n"
		"  --duration S      stop after S seconds (default: run until Ctrl-C)\n"
		"  -h, --help        show this help\n");
}

static void print_line(double secs, const struct hist *h, double interval, uint64_t errors)
{
	char rate[32], p50[16], p99[16], p999[16], mx[16];
	fmt_count(rate, sizeof(rate), (uint64_t)((double)h->n / interval));
	fmt_ns(p50, sizeof(p50), hist_pct(h, 50));
	fmt_ns(p99, sizeof(p99), hist_pct(h, 99));
	fmt_ns(p999, sizeof(p999), hist_pct(h, 99.9));
	fmt_ns(mx, sizeof(mx), h->max);
	printf("%7.1f s %14s /s %11s %11s %11s %11s %8llu\n", secs, rate, p50, p99, p999, mx,
	       (unsigned long long)errors);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"threads", required_argument, NULL, 't'},
		{"cpu", required_argument, NULL, 'c'},
		{"echo", no_argument, NULL, 'e'},
		{"duration", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *sock = NULL, *cpus = NULL;
	int threads = 1, o;
	double duration = 0;
	bool echo = false;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			sock = optarg;
			break;
		case 't':
			threads = atoi(optarg);
			if (threads < 1 || threads > 256) {
				fprintf(stderr, "cairn-demo: --threads takes 1 to 256\n");
				return 2;
			}
			break;
		case 'c':
			cpus = optarg;
			break;
		case 'e':
			echo = true;
			break;
		case 'd':
			duration = atof(optarg);
			if (duration < 0) {
				fprintf(stderr, "cairn-demo: --duration takes seconds >= 0\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'cairn-demo --help'.\n");
			return 2;
		}
	}

	struct worker *w = calloc((size_t)threads, sizeof(*w));
	if (!w) {
		return 1;
	}
	char *cpulist = cpus ? strdup(cpus) : NULL, *save = NULL;
	char *tok = cpulist ? strtok_r(cpulist, ",", &save) : NULL;
	for (int i = 0; i < threads; i++) {
		struct cairn_open_options oo = {.name = "cairn-demo"};
		w[i].id = i;
		w[i].echo = echo;
		w[i].cpu = tok ? atoi(tok) : -1;
		tok = tok ? strtok_r(NULL, ",", &save) : NULL;
		pthread_mutex_init(&w[i].lock, NULL);
		int r = cairn_open(sock, &oo, &w[i].c);
		if (r < 0) {
			char path[108];
			cairn_default_socket_path(path, sizeof(path));
			fprintf(stderr, "cairn-demo: cannot attach to %s: %s\n", sock ? sock : path,
				cairn_strerror(r));
			if (r == -ENOENT || r == -ECONNREFUSED) {
				fprintf(stderr, "Is cairnd running? Start it with: cairnd%s%s\n",
					sock ? " --socket " : "", sock ? sock : "");
			}
			return 1;
		}
	}
	free(cpulist);
	struct cairn_daemon_info info;
	cairn_daemon_info(w[0].c, &info);
	printf("cairn-demo: %d host thread%s attached to cairnd (pid %u, apply thread %s%d), "
	       "sending %s\n",
	       threads, threads > 1 ? "s" : "", info.pid, info.apply_cpu >= 0 ? "on CPU " : "",
	       info.apply_cpu >= 0 ? info.apply_cpu : 0, echo ? "ECHO (32 B)" : "PING");
	if (info.apply_cpu < 0) {
		printf("            (apply thread not pinned)\n");
	}
	printf("\n%9s %17s %11s %11s %11s %11s %8s\n", "elapsed", "round trips", "p50", "p99",
	       "p99.9", "max", "errors");

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (int i = 0; i < threads; i++) {
		pthread_create(&w[i].t, NULL, work, &w[i]);
	}
	struct hist total, sec;
	memset(&total, 0, sizeof(total));
	uint64_t start = cairn__now_ns(), last = start, errors = 0;
	int last_error = 0;
	while (!stop_flag) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		uint64_t now = cairn__now_ns();
		if (duration > 0 && (double)(now - start) / 1e9 >= duration) {
			stop_flag = 1;
		}
		if (now - last < 1000000000ull && !stop_flag) {
			continue;
		}
		memset(&sec, 0, sizeof(sec));
		for (int i = 0; i < threads; i++) {
			pthread_mutex_lock(&w[i].lock);
			hist_merge(&sec, &w[i].cur);
			memset(&w[i].cur, 0, sizeof(w[i].cur));
			errors += w[i].errors;
			w[i].errors = 0;
			if (w[i].last_error) {
				last_error = w[i].last_error;
			}
			pthread_mutex_unlock(&w[i].lock);
		}
		hist_merge(&total, &sec);
		if (sec.n || errors) {
			print_line((double)(now - start) / 1e9, &sec, (double)(now - last) / 1e9,
				   errors);
		}
		last = now;
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].t, NULL);
		pthread_mutex_lock(&w[i].lock);
		hist_merge(&total, &w[i].cur);
		errors += w[i].errors;
		pthread_mutex_unlock(&w[i].lock);
	}
	double secs = (double)(cairn__now_ns() - start) / 1e9;
	char n[32], mean[16];
	fmt_count(n, sizeof(n), total.n);
	fmt_ns(mean, sizeof(mean), total.n ? total.sum / total.n : 0);
	printf("\nsummary: %s round trips in %.1f s, mean %s\n", n, secs, mean);
	printf("%9s %17s %11s %11s %11s %11s %8s\n", "", "", "p50", "p99", "p99.9", "max",
	       "errors");
	print_line(secs, &total, secs, errors);
	cairn_daemon_info(w[0].c, &info);
	printf("daemon: %llu commands applied, %llu error results, %llu lanes attached, "
	       "%llu sleeps on doorbells\n",
	       (unsigned long long)info.counters.commands, (unsigned long long)info.counters.errors,
	       (unsigned long long)info.counters.lanes_attached,
	       (unsigned long long)info.counters.sleeps);
	if (last_error) {
		printf("last error: %s\n", cairn_strerror(last_error));
	}
	for (int i = 0; i < threads; i++) {
		cairn_close(w[i].c);
	}
	free(w);
	return errors && total.n == 0 ? 1 : 0;
}
