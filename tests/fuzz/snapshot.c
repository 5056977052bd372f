/*
 * Fuzz target: the snapshot loader. A snapshot file is read and verified
 * (cairn__snap_read: header, checksums, lengths) and loaded into a replica
 * (cairn__replica_load: the exactly-once table image, then the engine image, the state
 * hash and the LSN), as recovery does with the newest snapshot.
 *
 * Input: a flags byte, then the file. Checksums and lengths would stop the fuzzer at the
 * header, so the flags can ask for them to be made right first: the lengths (the
 * exactly-once image takes what the engine image leaves), the three checksums, and the
 * state hash and LSN of what the engine image restores to. The file is named after the
 * LSN its header says, or (NAME_OTHER) another one.
 *
 * Oracles:
 *  - the reader answers 0 or BAD_SNAPSHOT (or ENOMEM), naming the file in its reason,
 *    and what it accepts has lengths that add up to the file and images equal to the
 *    file's bytes;
 *  - the load answers 0 or BAD_SNAPSHOT with a reason, and a refused load leaves the
 *    replica empty;
 *  - a loaded replica is at the header's LSN with the header's state hash, its engine
 *    keeps every invariant, and it survives the writer: a snapshot written from it reads
 *    back and loads into a fresh replica with the same hash and byte-identical images,
 *    and saving a restored state again gives the same bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <xxhash.h>

#include "engine_kit.h"
#include "fuzz.h"
#include "store/recover.h"
#include "store/snapshot.h"

#define FIX_LENGTHS 0x01
#define FIX_SUMS    0x02
#define FIX_STATE   0x04
#define NAME_OTHER  0x08

#define WINDOW   16
#define SESSIONS 8

static struct cairn__replica fresh_replica(void)
{
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	struct cairn__replica r;
	FZ_SETUP(cairn__replica_new(&cfg, WINDOW, SESSIONS, &r) == 0, "replica_new");
	return r;
}

/* Makes the header's lengths, state and checksums right, as the flags ask. */
static void fix(uint8_t *file, size_t len, uint8_t flags)
{
	struct cairn__snap_header h;
	if (len < sizeof(h)) {
		return;
	}
	memcpy(&h, file, sizeof(h));
	uint64_t rest = len - sizeof(h);
	if (flags & FIX_LENGTHS) {
		if (h.engine_len > rest) {
			h.engine_len = rest;
		}
		h.dedup_len = rest - h.engine_len;
	}
	const uint8_t *engine = file + sizeof(h);
	bool fits = h.engine_len <= rest && h.dedup_len == rest - h.engine_len;
	if ((flags & FIX_STATE) && fits) {
		struct cairn__replica r = fresh_replica();
		if (cairn__engine_restore(r.engine, engine, h.engine_len) == 0) {
			h.state_hash = cairn__engine_hash(r.engine);
			h.lsn = cairn__engine_applied(r.engine);
		}
		cairn__replica_free(&r);
	}
	if ((flags & FIX_SUMS) && fits) {
		h.engine_sum = XXH3_64bits(engine, h.engine_len);
		h.dedup_sum = XXH3_64bits(engine + h.engine_len, h.dedup_len);
		h.header_sum = XXH3_64bits(&h, offsetof(struct cairn__snap_header, header_sum));
	}
	memcpy(file, &h, sizeof(h));
}

/* Both images of a loaded replica, as its owner would save them. */
static void save_images(const struct cairn__replica *r, uint8_t **eng, size_t *elen, uint8_t **ded,
			size_t *dlen)
{
	FZ_SETUP(cairn__engine_save(r->engine, eng, elen) == 0 &&
			 cairn__dedup_save(r->dedup, ded, dlen) == 0,
		 "out of memory");
}

/* Writes a snapshot of r, reads it back and loads it: the same state and bytes. */
static void round_trip(const struct cairn__replica *r, const char *dir)
{
	char why[512];
	fz_clear_dir(dir);
	int w = cairn__replica_snapshot(r, dir, 1, why, sizeof(why));
	FZ_SETUP(w == 0, why);
	char snaps[4200];
	snprintf(snaps, sizeof(snaps), "%s/snapshots", dir);
	struct cairn__snap s;
	int rc = cairn__snap_read(snaps, r->lsn, &s, why, sizeof(why));
	FZ_CHECK(rc == 0, "a snapshot just written does not read back: %s", why);
	struct cairn__replica b = fresh_replica();
	rc = cairn__replica_load(&b, &s, why, sizeof(why));
	FZ_CHECK(rc == 0, "a snapshot just written does not load: %s", why);
	FZ_CHECK(cairn__engine_hash(b.engine) == cairn__engine_hash(r->engine) && b.lsn == r->lsn &&
			 b.prev_sum == r->prev_sum && b.last_ingress_ns == r->last_ingress_ns,
		 "the snapshot written loads another state");
	uint8_t *e1, *d1, *e2, *d2;
	size_t el1, dl1, el2, dl2;
	save_images(r, &e1, &el1, &d1, &dl1);
	save_images(&b, &e2, &el2, &d2, &dl2);
	FZ_CHECK(el1 == el2 && memcmp(e1, e2, el1) == 0, "engine images differ");
	FZ_CHECK(dl1 == dl2 && memcmp(d1, d2, dl1) == 0, "exactly-once images differ");
	FZ_CHECK(el1 == s.hdr.engine_len && memcmp(e1, s.engine, el1) == 0 &&
			 dl1 == s.hdr.dedup_len && memcmp(d1, s.dedup, dl1) == 0,
		 "the snapshot file holds other images than the replica saves");
	free(e1);
	free(d1);
	free(e2);
	free(d2);
	cairn__snap_release(&s);
	cairn__replica_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t flags = fz_u8(&f);
	size_t len;
	const uint8_t *p = fz_take(&f, fz_left(&f), &len);
	uint8_t *file = malloc(len + 1);
	FZ_SETUP(file, "out of memory");
	memcpy(file, p, len);
	fix(file, len, flags);

	uint64_t lsn = 0;
	if (len >= sizeof(struct cairn__snap_header)) {
		memcpy(&lsn, file + offsetof(struct cairn__snap_header, lsn), sizeof(lsn));
	}
	if (flags & NAME_OTHER) {
		lsn ^= 1;
	}
	const char *tmp = fz_tmpdir();
	fz_clear_dir(tmp);
	char name[64];
	snprintf(name, sizeof(name), "snap-%020" PRIu64 ".snap", lsn);
	fz_write_file(tmp, name, file, len);

	struct cairn__snap s;
	char why[512] = "";
	int rc = cairn__snap_read(tmp, lsn, &s, why, sizeof(why));
	FZ_CHECK(strcmp(s.file, name) == 0, "snapshot file named '%s', not '%s'", s.file, name);
	if (rc < 0) {
		FZ_CHECK(rc == -CAIRN_E_BAD_SNAPSHOT || rc == -ENOMEM, "snap_read: %d (%s)", rc,
			 why);
		FZ_CHECK(rc != -CAIRN_E_BAD_SNAPSHOT || strncmp(why, name, strlen(name)) == 0,
			 "the reason does not name the file: %s", why);
		FZ_CHECK(s.engine == NULL && s.dedup == NULL, "a refused snapshot kept its images");
		free(file);
		return 0;
	}
	const struct cairn__snap_header *h = &s.hdr;
	FZ_CHECK(h->lsn == lsn && sizeof(*h) + h->engine_len + h->dedup_len == len &&
			 memcmp(s.engine, file + sizeof(*h), h->engine_len) == 0 &&
			 memcmp(s.dedup, file + sizeof(*h) + h->engine_len, h->dedup_len) == 0,
		 "an accepted snapshot does not hold the file's bytes");

	struct cairn__replica r = fresh_replica();
	uint64_t empty_hash = cairn__engine_hash(r.engine);
	rc = cairn__replica_load(&r, &s, why, sizeof(why));
	if (rc < 0) {
		FZ_CHECK(rc == -CAIRN_E_BAD_SNAPSHOT || rc == -ENOMEM, "replica_load: %d (%s)", rc,
			 why);
		FZ_CHECK(why[0] != '\0', "a refused load without a reason");
		uint64_t sessions, entries;
		cairn__dedup_count(r.dedup, &sessions, &entries);
		FZ_CHECK(cairn__engine_hash(r.engine) == empty_hash &&
				 cairn__engine_applied(r.engine) == 0 && sessions == 0 &&
				 entries == 0 && r.lsn == 0,
			 "a refused load (%s) left the replica changed", why);
		fz_engine_check(r.engine, true);
	} else {
		FZ_CHECK(r.lsn == h->lsn && cairn__engine_hash(r.engine) == h->state_hash &&
				 cairn__engine_applied(r.engine) == h->lsn &&
				 r.prev_sum == h->prev_sum,
			 "loaded at LSN %llu with hash %016llx; the header says %llu, %016llx",
			 (unsigned long long)r.lsn,
			 (unsigned long long)cairn__engine_hash(r.engine),
			 (unsigned long long)h->lsn, (unsigned long long)h->state_hash);
		fz_engine_check(r.engine, false);
		round_trip(&r, tmp);
	}
	cairn__replica_free(&r);
	cairn__snap_release(&s);
	free(file);
	return 0;
}
