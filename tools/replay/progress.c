/*
 * The progress bar: on stderr when it is a terminal (redrawn in place), or when
 * --progress asks for it elsewhere (then one line every few seconds, for logs).
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "replay.h"

#define REDRAW_NS   100000000ull  /* a terminal: ten times a second */
#define LOG_LINE_NS 5000000000ull /* not a terminal: every five seconds */
#define BAR_CELLS   24

void progress_start(struct progress *p, const struct options *o)
{
	memset(p, 0, sizeof(*p));
	p->tty = isatty(STDERR_FILENO);
	p->on = !o->quiet && (p->tty || o->progress);
	p->start_ns = p->last_ns = now_ns();
}

/* "1:02:03" or "2:03". */
static void clock_text(char *buf, size_t len, double s)
{
	if (s < 0 || s > 360000) {
		snprintf(buf, len, "--:--");
		return;
	}
	unsigned t = (unsigned)(s + 0.5);
	if (t >= 3600) {
		snprintf(buf, len, "%u:%02u:%02u", t / 3600, t / 60 % 60, t % 60);
	} else {
		snprintf(buf, len, "%u:%02u", t / 60, t % 60);
	}
}

/* "12.3M" style figures. */
static void count_text(char *buf, size_t len, double v)
{
	if (v >= 1e9) {
		snprintf(buf, len, "%.2fG", v / 1e9);
	} else if (v >= 1e6) {
		snprintf(buf, len, "%.2fM", v / 1e6);
	} else if (v >= 1e3) {
		snprintf(buf, len, "%.1fk", v / 1e3);
	} else {
		snprintf(buf, len, "%.0f", v);
	}
}

static void draw(struct progress *p, uint64_t records, double fraction, uint64_t lsn, uint64_t t)
{
	double elapsed = (double)(t - p->start_ns) / 1e9;
	double rate = elapsed > 0 ? (double)records / elapsed : 0;
	if (fraction < 0) {
		fraction = 0;
	}
	if (fraction > 1) {
		fraction = 1;
	}
	char eta[32], rtext[32], ntext[32];
	clock_text(eta, sizeof(eta), fraction > 0.001 ? elapsed * (1 - fraction) / fraction : -1);
	count_text(rtext, sizeof(rtext), rate);
	count_text(ntext, sizeof(ntext), (double)records);
	char line[160];
	int n;
	if (p->tty) {
		char bar[BAR_CELLS + 1];
		unsigned full = (unsigned)(fraction * BAR_CELLS + 0.5);
		for (unsigned i = 0; i < BAR_CELLS; i++) {
			bar[i] = i < full ? '#' : '.';
		}
		bar[BAR_CELLS] = 0;
		n = snprintf(line, sizeof(line),
			     "\r[%s] %5.1f%%  %s records  %s records/s  ETA %s  LSN %" PRIu64, bar,
			     fraction * 100, ntext, rtext, eta, lsn);
		/* Pads over what the previous line had beyond this one. */
		unsigned w = n > 0 ? (unsigned)n : 0;
		fprintf(stderr, "%s%*s", line, p->width > w ? (int)(p->width - w) : 0, "");
		p->width = w;
	} else {
		n = snprintf(line, sizeof(line),
			     "%s: %.1f%%  %s records  %s records/s  ETA %s  LSN %" PRIu64 "\n",
			     program, fraction * 100, ntext, rtext, eta, lsn);
		fputs(line, stderr);
	}
	fflush(stderr);
}

void progress_update(struct progress *p, uint64_t records, double fraction, uint64_t lsn)
{
	if (!p->on) {
		return;
	}
	uint64_t t = now_ns();
	if (t - p->last_ns < (p->tty ? REDRAW_NS : LOG_LINE_NS)) {
		return;
	}
	p->last_ns = t;
	p->records = records;
	draw(p, records, fraction, lsn, t);
}

void progress_end(struct progress *p)
{
	if (p->on && p->tty && p->width > 0) {
		/* Clears the bar so that what follows starts on a clean line. */
		fprintf(stderr, "\r%*s\r", (int)p->width, "");
		fflush(stderr);
	}
	p->width = 0;
}
