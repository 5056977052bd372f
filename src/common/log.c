#include "common/log.h"

#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "cairn";
static enum cairn__log_level min_lvl = CAIRN__LOG_INFO;

void cairn__log_init(const char *program, enum cairn__log_level min_level)
{
	prog = program;
	min_lvl = min_level;
}

void cairn__log(enum cairn__log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warning", "error"};
	if (level < min_lvl) {
		return;
	}
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s: %s: ", tm.tm_hour,
			 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, prog, names[level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line)) {
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	}
	va_end(ap);
	/* One write per line so that lines from several threads do not interleave. */
	size_t len = strnlen(line, sizeof(line) - 2);
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

void cairn__assert_fail(const char *expr, const char *file, int line, const char *func)
{
	void *frames[64];
	cairn__log(CAIRN__LOG_ERROR, "assertion failed: %s, in %s() at %s:%d", expr, func, file,
		   line);
	int n = backtrace(frames, 64);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	abort();
}
