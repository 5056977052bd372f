/*
 * The test harness: exit 0 pass, 1 fail, 77 skip (meson's convention). Assertion
 * macros print both sides and where, then exit 1.
 */
#ifndef CAIRN_TESTS_TEST_H
#define CAIRN_TESTS_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

#define T_SKIP_BECAUSE(...)                                                                   \
	do {                                                                                  \
		fprintf(stderr, "SKIP: ");                                                    \
		fprintf(stderr, __VA_ARGS__);                                                 \
		fprintf(stderr, "\n");                                                        \
		exit(T_SKIP);                                                                 \
	} while (0)

#define T_FAILF(...)                                                                          \
	do {                                                                                  \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                          \
		fprintf(stderr, __VA_ARGS__);                                                 \
		fprintf(stderr, "\n");                                                        \
		exit(T_FAIL);                                                                 \
	} while (0)

#define ASSERT_TRUE(e)                                                                        \
	do {                                                                                  \
		if (!(e))                                                                     \
			T_FAILF("expected true: %s", #e);                                     \
	} while (0)

#define ASSERT_INT_OP(a, op, b)                                                               \
	do {                                                                                  \
		long long _a = (long long)(a), _b = (long long)(b);                           \
		if (!(_a op _b))                                                              \
			T_FAILF("%s %s %s: %lld vs %lld", #a, #op, #b, _a, _b);              \
	} while (0)

#define ASSERT_UINT_OP(a, op, b)                                                              \
	do {                                                                                  \
		unsigned long long _a = (unsigned long long)(a), _b = (unsigned long long)(b); \
		if (!(_a op _b))                                                              \
			T_FAILF("%s %s %s: %llu vs %llu", #a, #op, #b, _a, _b);              \
	} while (0)

#define ASSERT_EQ(a, b)	 ASSERT_INT_OP(a, ==, b)
#define ASSERT_NE(a, b)	 ASSERT_INT_OP(a, !=, b)
#define ASSERT_LT(a, b)	 ASSERT_INT_OP(a, <, b)
#define ASSERT_LE(a, b)	 ASSERT_INT_OP(a, <=, b)
#define ASSERT_GT(a, b)	 ASSERT_INT_OP(a, >, b)
#define ASSERT_GE(a, b)	 ASSERT_INT_OP(a, >=, b)
#define ASSERT_UEQ(a, b) ASSERT_UINT_OP(a, ==, b)

/* Asserts a cairn call returned >= 0, printing the code's message otherwise. */
#define ASSERT_OK(call)                                                                       \
	do {                                                                                  \
		long long _r = (long long)(call);                                             \
		if (_r < 0)                                                                   \
			T_FAILF("%s returned %lld (%s)", #call, _r, cairn_strerror((int)_r)); \
	} while (0)

#define ASSERT_STREQ(a, b)                                                                    \
	do {                                                                                  \
		const char *_a = (a), *_b = (b);                                              \
		if (strcmp(_a, _b) != 0)                                                      \
			T_FAILF("%s == %s: \"%s\" vs \"%s\"", #a, #b, _a, _b);               \
	} while (0)

#endif
