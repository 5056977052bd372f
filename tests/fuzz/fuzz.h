/*
 * What the fuzz targets share.
 *
 * Each target is one file defining LLVMFuzzerTestOneInput (and, when it needs to set
 * something up once, LLVMFuzzerInitialize). It is linked two ways: with replay_main.c,
 * a main() that runs the files of the seed corpus through it (every build, any compiler),
 * and, with clang, with libFuzzer itself (-fsanitize=fuzzer), which mutates the corpus.
 *
 * A target reports a bug by crashing: a sanitizer report, or an oracle that fails
 * (FZ_CHECK prints what was expected and aborts). The oracles check the program under
 * test, never the input: input the program rejects is not a failure, only input it
 * mishandles is.
 */
#ifndef CAIRN_TESTS_FUZZ_FUZZ_H
#define CAIRN_TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An oracle failed: says where and what, then aborts so that the fuzzer keeps the input. */
#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FUZZ CHECK FAILED %s:%d: %s: ", __FILE__, __LINE__,       \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The harness itself failed (out of memory, no temporary directory): not the input's doing. */
#define FZ_SETUP(cond, what)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz target setup failed at %s:%d: %s\n", __FILE__,       \
				__LINE__, what);                                                   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * The fuzzer's bytes read as a stream of little-endian values. Past the end every read
 * gives zeros, so a target decodes any input, however short, without checking lengths.
 */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline struct fz fz_init(const uint8_t *data, size_t size)
{
	return (struct fz){data, size};
}

static inline size_t fz_left(const struct fz *f)
{
	return f->n;
}

static inline void fz_bytes(struct fz *f, void *out, size_t n)
{
	size_t k = n < f->n ? n : f->n;
	memcpy(out, f->p, k);
	memset((uint8_t *)out + k, 0, n - k);
	f->p += k;
	f->n -= k;
}

static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v;
	fz_bytes(f, &v, 1);
	return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint8_t b[2];
	fz_bytes(f, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint8_t b[4];
	fz_bytes(f, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t lo = fz_u32(f);
	return lo | (uint64_t)fz_u32(f) << 32;
}

/*
 * Takes up to n bytes as a slice of the input (no copy): *len gets how many there were.
 * Returns where they start.
 */
static inline const uint8_t *fz_take(struct fz *f, size_t n, size_t *len)
{
	const uint8_t *p = f->p;
	*len = n < f->n ? n : f->n;
	f->p += *len;
	f->n -= *len;
	return p;
}

/*
 * Splits the rest of the input at the next occurrence of sep (sep_len bytes): *len gets
 * the bytes before it, and the separator is consumed. Without one, the rest is the part.
 * Separators rather than length prefixes keep a part intact when the fuzzer inserts or
 * deletes bytes in another.
 */
const uint8_t *fz_split(struct fz *f, const void *sep, size_t sep_len, size_t *len);

/*
 * A private scratch directory for the whole run (made once: under $CAIRN_FUZZ_TMPDIR,
 * else /dev/shm, else $TMPDIR or /tmp; removed at exit, or by a later run when this one
 * ended without exit), and helpers for the files a target writes there before it asks
 * the code under test to read them.
 */
const char *fz_tmpdir(void);
/* Removes everything in dir (not dir itself). */
void fz_clear_dir(const char *dir);
/* Writes len bytes into dir/name, replacing it. Aborts if it cannot (not the input's doing). */
void fz_write_file(const char *dir, const char *name, const void *data, size_t len);

/* Descriptors this process has open now (-1 if it cannot tell): a run must leave as many. */
int fz_open_fds(void);

#endif
