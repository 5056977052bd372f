/*
 * cairn-replay: replays a captured write-ahead log into a fresh engine, lists its
 * records, or verifies it. The parts:
 *
 *   main.c      options, --help, exit status, and which mode runs
 *   source.c    where the log, the snapshots and the maps of DIR are
 *   run.c       the replay: a snapshot to start from, the records, pace, hash lines
 *   dump.c      --dump: one readable line per record, from the protocol's descriptors
 *   verify.c    --verify: every checksum, the chain, the snapshots' links into it
 *   progress.c  the progress bar on stderr
 *   report.c    messages, hash lines and the JSON summary
 */
#ifndef CAIRN_TOOLS_REPLAY_H
#define CAIRN_TOOLS_REPLAY_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "map/map.h"
#include "wal/wal.h"

/* Exit status. */
enum {
	EXIT_OK = 0,
	EXIT_DAMAGE = 1,   /* damage, divergence, a log that ends before --until */
	EXIT_USAGE = 2,    /* bad usage */
	EXIT_CANNOT = 3,   /* cannot read DIR, a snapshot or a map; out of memory */
	EXIT_STOPPED = 130 /* interrupted (SIGINT or SIGTERM) */
};

enum snapshot_mode {
	SNAP_AUTO = 0, /* from a snapshot when the log does not start at LSN 1 */
	SNAP_ALWAYS,   /* --from-snapshot */
	SNAP_NEVER,    /* --no-snapshot */
};

#define MAX_MAP_FILES 64

struct options {
	const char *dir;
	uint64_t until;      /* the last LSN to take (0: the end of the log) */
	bool pace_original;  /* sleep to keep the spacing of the ingress stamps */
	double speed;        /* ... sped up this many times */
	uint64_t hash_every; /* a hash line every this many records (0: only at the end) */
	enum snapshot_mode snapshot;
	const char *snap_dir; /* --snapshots DIR, or NULL */
	bool dump, verify;
	bool progress; /* a progress bar even when stderr is not a terminal */
	bool quiet, json;
	const char *map_files[MAX_MAP_FILES];
	unsigned n_map_files;
	uint32_t max_hunts, max_entities, shards;
	uint32_t dedup_window, max_sessions;
};

/* Set by SIGINT and SIGTERM: the loops stop at the next record. */
extern volatile sig_atomic_t replay_stop;

/* ---- source.c ---- */

struct source {
	bool data_dir; /* DIR is a data directory, not a bare log */
	char wal_dir[PATH_MAX];
	char snap_dir[PATH_MAX];  /* "" when there is none */
	struct cairn__map **maps; /* by map id */
	uint32_t n_maps;
	bool maps_recorded;            /* from a maps directory (cairn__data_maps_free) */
	char maps_from[PATH_MAX + 32]; /* where the maps came from, for messages */
};

/* Finds the log and the snapshots of o->dir. Returns an exit status. */
int source_find(const struct options *o, struct source *s);
/* Loads the maps the log refers to (not needed by --dump and --verify). */
int source_load_maps(const struct options *o, struct source *s);
void source_close(struct source *s);

/* ---- run.c, dump.c, verify.c: each returns an exit status ---- */

/*
 * The prev_sum field of a record the reader handed out, read back from its segment
 * file (the reader checked it but does not hand it out). Returns 0 or -errno.
 */
int record_prev_sum(const char *wal_dir, const struct cairn__wal_record *rec, uint64_t *prev);

int run_replay(const struct options *o, struct source *s);
int run_dump(const struct options *o, const struct source *s);
int run_verify(const struct options *o, const struct source *s);

/* The name of a record kind ("command", "rollback"), or NULL. */
const char *record_kind_name(uint16_t kind);

/* ---- progress.c ---- */

struct progress {
	bool on, tty;
	uint64_t start_ns, last_ns;
	uint64_t records;
	unsigned width; /* of the last line drawn, to clear it */
};

void progress_start(struct progress *p, const struct options *o);
/*
 * Redraws at most ten times a second: records so far, and the fraction done (from the
 * LSNs when there is an --until, else from the bytes of the log read).
 */
void progress_update(struct progress *p, uint64_t records, double fraction, uint64_t lsn);
void progress_end(struct progress *p);

/* ---- report.c ---- */

extern const char *program;

/* An error (always shown), a note (not with --quiet); one line on stderr each. */
__attribute__((format(printf, 1, 2))) void say_error(const char *fmt, ...);
__attribute__((format(printf, 2, 3))) void say_note(const struct options *o, const char *fmt, ...);

/* CLOCK_MONOTONIC in ns. */
uint64_t now_ns(void);

/* One hash line on stdout: "lsn=N hash=0x... records=N", or its JSON object. */
void print_hash_line(const struct options *o, uint64_t lsn, uint64_t hash, uint64_t records);

/* A JSON object on one line, built field by field. */
struct json {
	FILE *f;
	bool any;
};
void json_begin(struct json *j, FILE *f);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_hex(struct json *j, const char *key, uint64_t v);
void json_num(struct json *j, const char *key, double v);
void json_str(struct json *j, const char *key, const char *v);
void json_bool(struct json *j, const char *key, bool v);
void json_end(struct json *j);

/* The damage a reader found, as one sentence ("wal-...seg offset N, LSN N: reason"). */
void damage_text(const struct cairn__wal_damage *d, char *buf, size_t len);
/* The damage's fields into a JSON object being built. */
void json_damage(struct json *j, const struct cairn__wal_damage *d);

#endif
