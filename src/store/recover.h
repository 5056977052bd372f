/*
 * The durable state and how it is rebuilt: a replica (an engine and its exactly-once
 * table at some LSN), the data directory, and recovery (the newest valid snapshot, then
 * the log after it).
 *
 * Data directory layout:
 *   DATA/wal/        the write-ahead log (wal/format.h)
 *   DATA/snapshots/  snapshot files (store/snapshot.h)
 *   DATA/maps/       every map the log refers to, by id: N.map (Moving AI text, the
 *                    embedded default included) and MANIFEST ("N HASH NAME" per line), so
 *                    that a copied data directory replays anywhere with no other files
 *   DATA/LOCK        flock()ed by the daemon that owns the directory
 *
 * Used by cairnd at startup, by its background store thread (a follower replica that
 * catches up from the log to take snapshots, and rollback), and by cairn-replay.
 */
#ifndef CAIRN_STORE_RECOVER_H
#define CAIRN_STORE_RECOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "map/map.h"
#include "store/dedup.h"
#include "store/snapshot.h"
#include "wal/wal.h"

struct cairn__replica {
	struct cairn__engine *engine;
	struct cairn__dedup *dedup;
	uint64_t lsn;             /* last record applied (0: none) */
	uint64_t prev_sum;        /* its header_sum (0: none) */
	uint64_t last_ingress_ns; /* latest ingress stamp applied */
	uint64_t records;         /* records applied by this replica */
};

/*
 * An empty replica with private engine memory (ecfg) and an exactly-once table of
 * (window, max_sessions). Returns 0, -EINVAL or -ENOMEM.
 */
int cairn__replica_new(const struct cairn__engine_config *ecfg, uint32_t window,
		       uint32_t max_sessions, struct cairn__replica *out);
void cairn__replica_free(struct cairn__replica *r);

/*
 * Loads a snapshot into an empty replica: engine image, table image, LSN, chain, stamp;
 * checks the engine's hash against the header. Returns 0 or -CAIRN_E_BAD_SNAPSHOT /
 * -ENOMEM with why filled in (the replica is left empty).
 */
int cairn__replica_load(struct cairn__replica *r, const struct cairn__snap *s, char *why,
			size_t whylen);

/*
 * Applies one verified log record: rec->lsn must be r->lsn + 1 and rec->prev_sum-chain
 * continuous (the reader checks the chain; this checks the LSN). A command record must
 * be accepted by the engine, as it was when it was logged: a refusal means the log and
 * this engine disagree (other maps, another build) and returns -CAIRN_E_BAD_SNAPSHOT
 * with why naming the LSN, the command and the error. result (may be NULL) gets the
 * engine's answer. Returns 0 or a negative code.
 */
int cairn__replica_apply(struct cairn__replica *r, const struct cairn__wal_record *rec,
			 struct cairn_msg *result, char *why, size_t whylen);

/* Writes a snapshot of the replica into DATA/snapshots (keep: how many to keep). */
int cairn__replica_snapshot(const struct cairn__replica *r, const char *data_dir, unsigned keep,
			    char *why, size_t whylen);

/* ---- Maps of a data directory ---- */

/*
 * Makes sure DATA/maps records maps[0..n): writes the ones missing; fails with
 * -CAIRN_E_BAD_MAP and why when an id already recorded has another hash (the log
 * refers to maps by id, so they may never change; new ids may be added).
 */
int cairn__data_maps_record(const char *data_dir, const struct cairn__map *const *maps, uint32_t n,
			    char *why, size_t whylen);

/*
 * Loads every map DATA/maps records, by id, checking each hash. *maps is an array
 * of *n maps the caller frees with cairn__data_maps_free. Returns 0, -ENOENT (no
 * manifest), or -CAIRN_E_BAD_MAP / -errno with why filled in.
 */
int cairn__data_maps_load(const char *data_dir, struct cairn__map ***maps, uint32_t *n, char *why,
			  size_t whylen);
void cairn__data_maps_free(struct cairn__map **maps, uint32_t n);

/* ---- Recovery ---- */

struct cairn__recover_options {
	uint64_t until_lsn;       /* stop after this LSN (0: the end of the log) */
	bool cut;                 /* cut a torn tail off the files (the daemon); else read only */
	bool truncate_at_damage;  /* accept damage: cut there too (--recover=truncate-at-damage) */
	/* Called every ~64k records and at the end, when set. */
	void (*progress)(void *arg, uint64_t lsn, uint64_t bytes_done, uint64_t bytes_total);
	void *progress_arg;
};

struct cairn__recover_report {
	uint64_t snapshot_lsn;       /* the snapshot started from (0: none, an empty state) */
	char snapshot_file[64];
	unsigned snapshots_skipped;  /* newer snapshots that did not verify */
	char skipped_why[256];       /* why the newest skipped one did not */
	uint64_t records;            /* log records applied after the snapshot */
	struct cairn__wal_damage end; /* how the log ended */
	struct cairn__wal_resume resume; /* where a writer continues */
};

/*
 * Rebuilds the durable state of data_dir into r (an empty replica): the newest snapshot
 * that verifies (and is <= until_lsn), then every log record after it.
 *
 * A torn tail is reported in report->end (and cut off the files when opts->cut). Damage
 * in the middle, a broken chain, or a log that does not reach from the snapshot returns
 * -CAIRN_E_BAD_SNAPSHOT with why naming the file, offset and LSN, and touches no file,
 * unless opts->truncate_at_damage (then the log is cut at the damage, with cut). Returns
 * 0 or a negative code with why filled in.
 */
int cairn__recover(const char *data_dir, struct cairn__replica *r,
		   const struct cairn__recover_options *opts, struct cairn__recover_report *report,
		   char *why, size_t whylen);

#endif
