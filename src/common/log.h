/*
 * Logging for cairnd and the tools: one line per event on stderr, with a timestamp and
 * a level. Assertions on internal invariants go through CAIRN_ASSERT, which logs the
 * expression, the place and a backtrace before aborting. Input from another process or
 * a file is never asserted on.
 */
#ifndef CAIRN_COMMON_LOG_H
#define CAIRN_COMMON_LOG_H

enum cairn__log_level { CAIRN__LOG_DEBUG, CAIRN__LOG_INFO, CAIRN__LOG_WARN, CAIRN__LOG_ERROR };

/* Set once at startup, before other threads exist. */
void cairn__log_init(const char *program, enum cairn__log_level min_level);

__attribute__((format(printf, 2, 3))) void cairn__log(enum cairn__log_level level,
						       const char *fmt, ...);

#define cairn__debug(...) cairn__log(CAIRN__LOG_DEBUG, __VA_ARGS__)
#define cairn__info(...)  cairn__log(CAIRN__LOG_INFO, __VA_ARGS__)
#define cairn__warn(...)  cairn__log(CAIRN__LOG_WARN, __VA_ARGS__)
#define cairn__error(...) cairn__log(CAIRN__LOG_ERROR, __VA_ARGS__)

__attribute__((noreturn)) void cairn__assert_fail(const char *expr, const char *file, int line,
						  const char *func);

#define CAIRN_ASSERT(e)                                                                       \
	((e) ? (void)0 : cairn__assert_fail(#e, __FILE__, __LINE__, __func__))

#endif
