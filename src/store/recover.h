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

/*
 * A replica made by cairn__replica_new owns its engine and table. The daemon may also
 * fill in engine and dedup itself (its live engine in the state segment, zeroing the
 * rest): such a replica is used the same way, but cannot be emptied again (see
 * cairn__replica_load), and cairn__replica_free does not free what it does not own.
 */
struct cairn__replica {
	struct cairn__engine *engine;
	struct cairn__dedup *dedup;
	uint64_t lsn;             /* last record applied (0: none) */
	uint64_t prev_sum;        /* its header_sum (0: none) */
	uint64_t last_ingress_ns; /* latest ingress stamp applied */
	uint64_t records;         /* records applied by this replica */
	/* Set by cairn__replica_new, to make the replica empty again; zero otherwise. */
	bool owned;
	uint32_t window, max_sessions;
	struct cairn__engine_config ecfg;
};

/*
 * An empty replica with private engine memory (ecfg, copied; its maps are not, and must
 * outlive the replica) and an exactly-once table of (window, max_sessions). Returns 0,
 * -EINVAL or -ENOMEM. cairn__replica_free frees what it owns and accepts a zeroed or
 * freed replica.
 */
int cairn__replica_new(const struct cairn__engine_config *ecfg, uint32_t window,
		       uint32_t max_sessions, struct cairn__replica *out);
void cairn__replica_free(struct cairn__replica *r);

/*
 * Loads a snapshot into an empty replica: table image, engine image, LSN, chain, stamp;
 * checks the engine's state hash against the header and its count of state changes
 * against the LSN (every record is one change). Returns 0, -EBUSY (not empty), or
 * -CAIRN_E_BAD_SNAPSHOT / -ENOMEM with why filled in. On failure an owned replica is
 * left empty; a replica that does not own its engine is left empty unless the engine
 * accepted the image and only the checks after it failed (then it holds that state and
 * must not be used further; cairn__recover reports this as an error).
 */
int cairn__replica_load(struct cairn__replica *r, const struct cairn__snap *s, char *why,
			size_t whylen);

/*
 * Applies one verified log record: rec->lsn must be r->lsn + 1 (the reader checks the
 * chain; this checks the LSN). A command record's body is exactly a struct
 * cairn__wal_command of a state-changing command, which the engine must accept, as it
 * did when it was logged; a rollback record's is one of a ROLLBACK command followed by
 * the hunt image, which cairn__engine_hunt_replace must accept. A refusal means the log
 * and this engine disagree (other maps, another build) and returns -CAIRN_E_BAD_LOG with
 * why naming the LSN, the command and the error; nothing changed then. The result (the
 * engine's answer, or the ROLLED_BACK result of cairn__rollback_result) goes into the
 * exactly-once table under (session, request id), except for request id 0, which the
 * daemon never remembers either, and into *result when result is not NULL. Returns 0,
 * -CAIRN_E_BAD_LOG, or -ENOMEM (the engine applied the record but the table could not
 * remember it: the replica must not be used further). Allocates nothing per record.
 */
int cairn__replica_apply(struct cairn__replica *r, const struct cairn__wal_record *rec,
			 struct cairn_msg *result, char *why, size_t whylen);

/*
 * The ROLLED_BACK result of the ROLLBACK command cmd, logged at lsn, after which the hunt
 * has players and clues: what the daemon answers and the exactly-once table keeps.
 */
void cairn__rollback_result(const struct cairn_msg *cmd, uint64_t lsn, uint32_t players,
			    uint32_t clues, struct cairn_msg *out);

/*
 * Writes a snapshot of the replica at r->lsn into DATA/snapshots (created if missing;
 * keep: how many to keep, >= 1). Returns 0, or -errno / -ENOMEM with why filled in.
 */
int cairn__replica_snapshot(const struct cairn__replica *r, const char *data_dir, unsigned keep,
			    char *why, size_t whylen);

/* ---- Maps of a data directory ---- */

/*
 * Makes sure DATA/maps records maps[0..n) (map i has id i): writes the ones missing
 * (DATA/maps is created if needed; each file and the new MANIFEST are written to a
 * temporary file, fsynced and renamed); fails with -CAIRN_E_BAD_MAP and why when an id
 * already recorded has another hash (the log refers to maps by id, so they may never
 * change; new ids may be added, and ids recorded beyond n are kept). The manifest keeps
 * each map's name (control characters written as '?'). Returns 0, -CAIRN_E_BAD_MAP (also
 * for a malformed MANIFEST), -ENOMEM or -errno, with why filled in.
 */
int cairn__data_maps_record(const char *data_dir, const struct cairn__map *const *maps, uint32_t n,
			    char *why, size_t whylen);

/*
 * Loads every map DATA/maps records, by id (the ids must be 0 .. n-1), checking each
 * hash and naming each map as the manifest does. *maps is an array of *n maps, indexed
 * by id, that the caller frees with cairn__data_maps_free. Returns 0, -ENOENT (no
 * manifest), or -CAIRN_E_BAD_MAP / -ENOMEM / -errno with why filled in.
 */
int cairn__data_maps_load(const char *data_dir, struct cairn__map ***maps, uint32_t *n, char *why,
			  size_t whylen);
void cairn__data_maps_free(struct cairn__map **maps, uint32_t n);

/* ---- Recovery ---- */

struct cairn__recover_options {
	uint64_t until_lsn;      /* stop after this LSN (0: the end of the log) */
	bool cut;                /* cut a torn tail off the files (the daemon); else read only */
	bool truncate_at_damage; /* accept damage: cut there too (--recover=truncate-at-damage) */
	/* Called every ~64k records and at the end, when set. */
	void (*progress)(void *arg, uint64_t lsn, uint64_t bytes_done, uint64_t bytes_total);
	void *progress_arg;
};

struct cairn__recover_report {
	uint64_t snapshot_lsn;           /* the snapshot started from (0: none, an empty state) */
	char snapshot_file[64];          /* its file name ("" for none) */
	unsigned snapshots_skipped;      /* newer snapshots that could not be used */
	char skipped_why[256];           /* why the newest skipped one could not */
	unsigned snapshots_discarded;    /* renamed *.discarded: ahead of the log, or of another */
	uint64_t records;                /* log records applied after the snapshot */
	unsigned empty_segments_dropped; /* record-less segments removed from the end (opts->cut) */
	bool until_reached;              /* stopped at until_lsn before the end of the log */
	struct cairn__wal_damage end;    /* how the log ended (CLEAN when until_reached) */
	struct cairn__wal_resume resume; /* where a writer continues (zeros when until_reached) */
};

/*
 * Rebuilds the durable state of data_dir into r (an empty replica; its engine must have
 * the maps the log refers to): the newest snapshot that can be used, then every log
 * record after it up to until_lsn (0: the end).
 *
 * A snapshot can be used when it verifies, loads, its state hash matches, its LSN is
 * <= until_lsn, and the log continues from it: the log's record at the snapshot's LSN
 * (or, when that was pruned, the next one) links to the snapshot's prev_sum, and the log
 * neither starts after the snapshot's LSN + 1 nor ends before its LSN (a log with no
 * records at all continues any snapshot). Older snapshots are tried when a newer one
 * cannot be used (report->snapshots_skipped, skipped_why). With no usable snapshot the
 * log must start at LSN 1.
 *
 * A torn tail is reported in report->end and cut off the files when opts->cut. Damage
 * in the middle or a broken chain returns -CAIRN_E_BAD_LOG with why naming the file,
 * offset and LSN, and touches no file, unless opts->truncate_at_damage: then recovery
 * ends there, the end is reported, and the log is cut at the damage when opts->cut.
 * After a cut, report->resume.next_seq is past every segment file (discarded ones too),
 * and snapshots ahead of the log or of another log are renamed *.discarded, so that
 * they are never kept in place of new ones. Without opts->cut no file is changed.
 *
 * Returns 0, or a negative code (-CAIRN_E_BAD_LOG, -CAIRN_E_BAD_SNAPSHOT, -ENOMEM,
 * -errno) with why filled in; r is then in an unspecified state and only fit to be freed.
 * Progress is reported every 65536 records and at the end. Not thread-safe against a
 * writer of the same log.
 */
int cairn__recover(const char *data_dir, struct cairn__replica *r,
		   const struct cairn__recover_options *opts, struct cairn__recover_report *report,
		   char *why, size_t whylen);

#endif
