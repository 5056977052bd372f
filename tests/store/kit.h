/*
 * Helpers shared by the store tests: temporary directories and files, and a "live"
 * system (an engine driven by the engine tests' world model, with its exactly-once
 * table) that hands out every accepted state-changing command as the body of a WAL
 * command record, exactly as cairnd logs it.
 */
#ifndef CAIRN_TESTS_STORE_KIT_H
#define CAIRN_TESTS_STORE_KIT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/eng.h"
#include "store/dedup.h"
#include "store/recover.h"
#include "wal/format.h"

/* True when the test runs under AddressSanitizer (timings are not meaningful then). */
#if defined(__SANITIZE_ADDRESS__)
#define KIT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KIT_SANITIZED 1
#endif
#endif
#ifndef KIT_SANITIZED
#define KIT_SANITIZED 0
#endif

/* A new empty directory under $TMPDIR; removed at exit unless CAIRN_KEEP_TMP=1. */
char *kit_tmpdir(const char *tag);
/* Removes path and everything under it. */
void kit_rmtree(const char *path);
/* dir/name, in one of 8 rotating static buffers. */
const char *kit_path(const char *dir, const char *name);
void kit_mkdir(const char *path);
bool kit_exists(const char *path);
/* The whole file in a new buffer (NUL-terminated beyond *len); NULL when it cannot be read. */
uint8_t *kit_read(const char *path, size_t *len);
void kit_write(const char *path, const void *data, size_t len);
/* Flips bit `bit` of the byte at offset off of the file. */
void kit_flip(const char *path, uint64_t off, unsigned bit);
/* One FNV-1a digest of the names and bytes of every file under dir, recursively. */
uint64_t kit_tree_digest(const char *dir);

/* Nanoseconds of CLOCK_MONOTONIC. */
uint64_t kit_now(void);

#define KIT_SESSIONS 6

/* The live system. */
struct kit_live {
	struct eng t; /* the engine (eng_open: eng_config, private memory) */
	struct eng_world w;
	struct cairn__dedup *dedup;
	uint64_t sessions[KIT_SESSIONS];
	uint64_t next_request;
	uint64_t lsn; /* of the last record committed */
	uint64_t last_ingress_ns;
	/* A hunt image saved earlier, for rollbacks. */
	uint8_t *saved_img;
	size_t saved_len;
	uint32_t saved_hunt;
	uint64_t saved_lsn;
	uint64_t rollbacks;
};

void kit_live_open(struct kit_live *l, uint64_t seed, uint32_t window, uint32_t max_sessions);
void kit_live_close(struct kit_live *l);

/*
 * Runs the world model until a command is accepted and changes the state; applies it,
 * fills *body as cairnd logs it, and leaves the result in l->t.out. Some request ids
 * are 0 (never remembered), some sessions are busier than others.
 */
void kit_live_next(struct kit_live *l, struct cairn__wal_command *body);

/*
 * Tries a rollback of the hunt saved by kit_live_save_hunt: on success fills *body (the
 * ROLLBACK command), sets *img and *len to the image (owned by l) and leaves the result in
 * l->t.out (built with lsn, which must be the record's LSN); returns false when the
 * engine refused it (then nothing changed).
 */
bool kit_live_rollback(struct kit_live *l, uint64_t lsn, struct cairn__wal_command *body,
		       const uint8_t **img, size_t *len);

/* Saves a live hunt's image at the current LSN, for a later rollback. */
void kit_live_save_hunt(struct kit_live *l);

/* Records the record at lsn in the exactly-once table, as cairnd does after logging it. */
void kit_live_commit(struct kit_live *l, uint64_t lsn, const struct cairn__wal_command *body);

/* A replica with eng_config and the given table, asserting. */
void kit_replica(struct cairn__replica *r, uint32_t window, uint32_t max_sessions);

/* A record as the WAL reader would hand it out (header_sum made up from lsn). */
struct cairn__wal_record kit_record(uint64_t lsn, uint16_t kind, const void *body, uint32_t len);

/* Asserts that two tables have the same image. */
void kit_same_dedup(const struct cairn__dedup *a, const struct cairn__dedup *b);

#endif
