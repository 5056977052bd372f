/*
 * Replicas, the data directory's maps, and recovery (see recover.h).
 */
#include "store/recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/cairn.h"
#include "protocol_desc.h"

#define MAX_SNAPSHOTS  256 /* newest ones considered by recovery */
#define PROGRESS_EVERY (UINT64_C(1) << 16)
#define MANIFEST       "MANIFEST"
#define MANIFEST_MAX   (UINT64_C(1) << 20)
#define MAX_MAP_ID     (UINT32_C(1) << 16)

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	if (!why || whylen == 0) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* The schema name of a protocol error code, or the errno message. */
static const char *code_name(int rc)
{
	const char *n = cairn_error_name(rc);
	return n ? n : strerror(rc < 0 ? -rc : rc);
}

static const char *type_name(uint16_t type)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		if (cairn__proto_msgs[i].type == type) {
			return cairn__proto_msgs[i].name;
		}
	}
	return "unknown";
}

/* ---- Replicas ---- */

int cairn__replica_new(const struct cairn__engine_config *ecfg, uint32_t window,
		       uint32_t max_sessions, struct cairn__replica *out)
{
	if (!out) {
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	if (!ecfg) {
		return -EINVAL;
	}
	int rc = cairn__engine_new(ecfg, NULL, NULL, NULL, &out->engine);
	if (rc < 0) {
		return rc;
	}
	rc = cairn__dedup_new(window, max_sessions, &out->dedup);
	if (rc < 0) {
		cairn__engine_free(out->engine);
		out->engine = NULL;
		return rc;
	}
	out->owned = true;
	out->window = window;
	out->max_sessions = max_sessions;
	out->ecfg = *ecfg;
	return 0;
}

void cairn__replica_free(struct cairn__replica *r)
{
	if (!r) {
		return;
	}
	if (r->owned) {
		cairn__engine_free(r->engine);
		cairn__dedup_free(r->dedup);
	}
	memset(r, 0, sizeof(*r));
}

static bool replica_empty(const struct cairn__replica *r)
{
	uint64_t sessions;
	cairn__dedup_count(r->dedup, &sessions, NULL);
	return r->lsn == 0 && r->records == 0 && cairn__engine_applied(r->engine) == 0 &&
	       sessions == 0 && cairn__dedup_last_lsn(r->dedup) == 0;
}

/* Makes an owned replica empty again, with a fresh engine and table. */
static int replica_reset(struct cairn__replica *r)
{
	struct cairn__replica fresh;
	int rc = cairn__replica_new(&r->ecfg, r->window, r->max_sessions, &fresh);
	if (rc < 0) {
		return rc;
	}
	cairn__replica_free(r);
	*r = fresh;
	return 0;
}

/*
 * Loads s into the empty replica r. *dirty says, on failure, whether the engine took
 * the image (and so is no longer empty).
 */
static int replica_load(struct cairn__replica *r, const struct cairn__snap *s, bool *dirty,
			char *why, size_t whylen)
{
	const struct cairn__snap_header *h = &s->hdr;
	*dirty = false;
	int rc = cairn__dedup_restore(r->dedup, s->dedup, h->dedup_len);
	if (rc < 0) {
		if (rc == -CAIRN_E_BAD_SNAPSHOT && r->owned) {
			say(why, whylen,
			    "%s: the exactly-once table image is malformed, or was made with a "
			    "larger window or more sessions than this one's (window %" PRIu32
			    ", %" PRIu32 " sessions)",
			    s->file, r->window, r->max_sessions);
		} else {
			say(why, whylen, "%s: the exactly-once table image: %s", s->file,
			    rc == -CAIRN_E_BAD_SNAPSHOT
				    ? "malformed, or made with a larger window or more sessions"
				    : cairn_strerror(rc));
		}
		return rc;
	}
	if (cairn__dedup_last_lsn(r->dedup) > h->lsn) {
		say(why, whylen,
		    "%s: the exactly-once table holds LSN %" PRIu64
		    ", after the snapshot's %" PRIu64,
		    s->file, cairn__dedup_last_lsn(r->dedup), h->lsn);
		cairn__dedup_clear(r->dedup);
		return -CAIRN_E_BAD_SNAPSHOT;
	}
	rc = cairn__engine_restore(r->engine, s->engine, h->engine_len);
	if (rc < 0) {
		cairn__dedup_clear(r->dedup);
		say(why, whylen, "%s: the engine image: %s", s->file,
		    rc == -CAIRN_E_BAD_SNAPSHOT
			    ? "malformed, made with other maps, or larger than this engine holds"
			    : cairn_strerror(rc));
		return rc;
	}
	uint64_t hash = cairn__engine_hash(r->engine);
	uint64_t applied = cairn__engine_applied(r->engine);
	if (hash != h->state_hash || applied != h->lsn) {
		if (hash != h->state_hash) {
			say(why, whylen,
			    "%s: the engine restored a state with hash %016" PRIx64
			    " from an image saved with hash %016" PRIx64
			    " (this engine reads images differently)",
			    s->file, hash, h->state_hash);
		} else {
			say(why, whylen,
			    "%s: the engine image holds %" PRIu64
			    " state changes, but the snapshot "
			    "is of LSN %" PRIu64 " (one change per record)",
			    s->file, applied, h->lsn);
		}
		if (!r->owned || replica_reset(r) < 0) {
			*dirty = true;
		}
		return -CAIRN_E_BAD_SNAPSHOT;
	}
	r->lsn = h->lsn;
	r->prev_sum = h->prev_sum;
	r->last_ingress_ns = h->last_ingress_ns;
	r->records = 0;
	return 0;
}

int cairn__replica_load(struct cairn__replica *r, const struct cairn__snap *s, char *why,
			size_t whylen)
{
	if (!replica_empty(r)) {
		say(why, whylen, "the replica is not empty");
		return -EBUSY;
	}
	bool dirty;
	return replica_load(r, s, &dirty, why, whylen);
}

void cairn__rollback_result(const struct cairn_msg *cmd, uint64_t lsn, uint32_t players,
			    uint32_t clues, struct cairn_msg *out)
{
	struct cairn_rollback rb;
	memcpy(&rb, cmd->payload, sizeof(rb));
	struct cairn_rollback_reply rr;
	memset(&rr, 0, sizeof(rr));
	rr.hunt_id = rb.hunt_id;
	rr.players = players;
	rr.clues = clues;
	rr.target_lsn = rb.lsn;
	rr.lsn = lsn;
	memset(out, 0, sizeof(*out));
	out->hdr.type = CAIRN_MSG_ROLLED_BACK;
	out->hdr.length = CAIRN_MSG_ROLLED_BACK_LEN_MIN;
	out->hdr.request_id = cmd->hdr.request_id;
	memcpy(out->payload, &rr, sizeof(rr));
}

static __attribute__((noinline, cold)) int refused(const struct cairn__replica *r,
						   const struct cairn__wal_record *rec,
						   const struct cairn__wal_command *c, int rc,
						   char *why, size_t whylen)
{
	if (rec->lsn != r->lsn + 1) {
		say(why, whylen, "LSN %" PRIu64 " where %" PRIu64 " was expected", rec->lsn,
		    r->lsn + 1);
		return -CAIRN_E_BAD_LOG;
	}
	if (!c) {
		say(why, whylen,
		    "LSN %" PRIu64 ": a record of kind %u with a %" PRIu32
		    "-byte body is not one this daemon writes",
		    rec->lsn, rec->kind, rec->length);
		return -CAIRN_E_BAD_LOG;
	}
	uint16_t t = c->msg.hdr.type;
	if (rc == 0) {
		say(why, whylen,
		    "LSN %" PRIu64
		    ": the logged command %s (type 0x%04x) does not change the state "
		    "and should never have been logged",
		    rec->lsn, type_name(t), t);
		return -CAIRN_E_BAD_LOG;
	}
	if (rc == -ENOMEM) {
		say(why, whylen, "LSN %" PRIu64 ": out of memory", rec->lsn);
		return rc;
	}
	if (t == CAIRN_MSG_ROLLBACK) {
		struct cairn_rollback rb;
		memcpy(&rb, c->msg.payload, sizeof(rb));
		say(why, whylen,
		    "LSN %" PRIu64 ": the logged rollback of hunt %08" PRIx32 " to LSN %" PRIu64
		    " is refused by this engine: %s (%s); the log and this daemon disagree "
		    "(other maps or another build)",
		    rec->lsn, rb.hunt_id, rb.lsn, code_name(rc), cairn_strerror(rc));
		return -CAIRN_E_BAD_LOG;
	}
	say(why, whylen,
	    "LSN %" PRIu64 ": the logged command %s (type 0x%04x, session %016" PRIx64
	    ", request %" PRIu64 ") is refused by this engine: %s (%s); the log and this daemon "
	    "disagree (other maps or another build)",
	    rec->lsn, type_name(t), t, c->session, c->msg.hdr.request_id, code_name(rc),
	    cairn_strerror(rc));
	return -CAIRN_E_BAD_LOG;
}

/* A ROLLBACK record: the command (in c), then the hunt image. */
static __attribute__((noinline)) int apply_rollback(struct cairn__replica *r,
						    const struct cairn__wal_record *rec,
						    const struct cairn__wal_command *c,
						    struct cairn_msg *out, char *why, size_t whylen)
{
	struct cairn_rollback rb;
	memcpy(&rb, c->msg.payload, sizeof(rb));
	if (c->msg.hdr.type != CAIRN_MSG_ROLLBACK ||
	    c->msg.hdr.length != CAIRN_MSG_ROLLBACK_LEN_MIN || c->msg.hdr.flags != 0) {
		return refused(r, rec, NULL, 0, why, whylen);
	}
	if (rb.lsn >= rec->lsn) {
		say(why, whylen,
		    "LSN %" PRIu64 ": a rollback of hunt %08" PRIx32 " to LSN %" PRIu64
		    ", which is not before it",
		    rec->lsn, rb.hunt_id, rb.lsn);
		return -CAIRN_E_BAD_LOG;
	}
	uint32_t players = 0, clues = 0;
	const uint8_t *img = rec->body + sizeof(*c);
	int rc = cairn__engine_hunt_replace(r->engine, rb.hunt_id, img, rec->length - sizeof(*c),
					    rb.lsn, &players, &clues);
	if (rc < 0) {
		return refused(r, rec, c, rc, why, whylen);
	}
	cairn__rollback_result(&c->msg, rec->lsn, players, clues, out);
	return 0;
}

int cairn__replica_apply(struct cairn__replica *r, const struct cairn__wal_record *rec,
			 struct cairn_msg *result, char *why, size_t whylen)
{
	struct cairn_msg scratch;
	struct cairn_msg *out = result ? result : &scratch;
	struct cairn__wal_command c;
	if (__builtin_expect(rec->lsn != r->lsn + 1 || rec->length < sizeof(c), 0)) {
		return refused(r, rec, NULL, 0, why, whylen);
	}
	memcpy(&c, rec->body, sizeof(c));
	if (c.msg.hdr.request_id != 0) {
		/* The table's cache misses overlap the engine's work. */
		cairn__dedup_prefetch(r->dedup, c.session, c.msg.hdr.request_id);
	}
	int rc;
	if (__builtin_expect(rec->kind == CAIRN__WAL_COMMAND && rec->length == sizeof(c), 1)) {
		if (__builtin_expect(!cairn__engine_mutates(c.msg.hdr.type), 0)) {
			return refused(r, rec, &c, 0, why, whylen);
		}
		rc = cairn__engine_apply(r->engine, &c.msg, c.ingress_ns, NULL, out);
		if (__builtin_expect(rc < 0, 0)) {
			return refused(r, rec, &c, rc, why, whylen);
		}
	} else if (rec->kind == CAIRN__WAL_ROLLBACK) {
		rc = apply_rollback(r, rec, &c, out, why, whylen);
		if (rc < 0) {
			return rc;
		}
	} else {
		return refused(r, rec, NULL, 0, why, whylen);
	}
	if (c.msg.hdr.request_id != 0) {
		rc = cairn__dedup_put(r->dedup, c.session, c.msg.hdr.request_id, rec->lsn, out);
		if (__builtin_expect(rc < 0, 0)) {
			say(why, whylen,
			    "LSN %" PRIu64 ": the exactly-once table cannot remember it: %s",
			    rec->lsn, strerror(-rc));
			return rc;
		}
	}
	if (c.ingress_ns > r->last_ingress_ns) {
		r->last_ingress_ns = c.ingress_ns;
	}
	r->lsn = rec->lsn;
	r->prev_sum = rec->header_sum;
	r->records++;
	return 0;
}

/* ---- Paths ---- */

static int join(char *out, size_t n, const char *dir, const char *name, char *why, size_t whylen)
{
	if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n) {
		say(why, whylen, "the path %s/%s is too long", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Creates dir/name if it is missing (and fsyncs dir then). */
static int ensure_dir(const char *dir, const char *name, char *path, size_t n, char *why,
		      size_t whylen)
{
	int rc = join(path, n, dir, name, why, whylen);
	if (rc < 0) {
		return rc;
	}
	if (mkdir(path, 0755) == 0) {
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0) {
			rc = -errno;
			say(why, whylen, "fsync of the directory %s: %s", dir, strerror(-rc));
		}
		if (fd >= 0) {
			close(fd);
		}
		return rc;
	}
	struct stat st;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		return 0;
	}
	rc = errno == EEXIST ? -ENOTDIR : -errno;
	say(why, whylen, "cannot create the directory %s: %s", path, strerror(-rc));
	return rc;
}

int cairn__replica_snapshot(const struct cairn__replica *r, const char *data_dir, unsigned keep,
			    char *why, size_t whylen)
{
	char dir[PATH_MAX];
	int rc = ensure_dir(data_dir, "snapshots", dir, sizeof(dir), why, whylen);
	if (rc < 0) {
		return rc;
	}
	uint8_t *eimg = NULL, *dimg = NULL;
	size_t elen = 0, dlen = 0;
	rc = cairn__engine_save(r->engine, &eimg, &elen);
	if (rc == 0) {
		rc = cairn__dedup_save(r->dedup, &dimg, &dlen);
	}
	if (rc < 0) {
		free(eimg);
		say(why, whylen, "cannot make the snapshot's images: %s", strerror(-rc));
		return rc;
	}
	struct cairn__snap_header h;
	memset(&h, 0, sizeof(h));
	h.lsn = r->lsn;
	h.prev_sum = r->prev_sum;
	h.state_hash = cairn__engine_hash(r->engine);
	h.last_ingress_ns = r->last_ingress_ns;
	h.engine_len = elen;
	h.dedup_len = dlen;
	rc = cairn__snap_write(dir, &h, eimg, dimg, keep, why, whylen);
	free(eimg);
	free(dimg);
	return rc;
}

/* ---- Maps of a data directory ---- */

struct manifest_entry {
	uint32_t id;
	uint64_t hash;
	char name[CAIRN_MAP_NAME_SIZE];
};

struct manifest {
	struct manifest_entry *e;
	uint32_t n;
};

static int by_map_id(const void *a, const void *b)
{
	uint32_t x = ((const struct manifest_entry *)a)->id;
	uint32_t y = ((const struct manifest_entry *)b)->id;
	return (x > y) - (x < y);
}

/* Reads a whole small file. Returns 0, -ENOENT, -EFBIG, -ENOMEM or -errno. */
static int read_small(int dirfd, const char *name, uint64_t max, char **text, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	size_t size = (size_t)st.st_size;
	char *t = malloc(size + 1);
	if (!t) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t k = read(fd, t + got, size - got);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			int e = k < 0 ? errno : EIO;
			free(t);
			close(fd);
			return -e;
		}
		got += (size_t)k;
	}
	close(fd);
	t[size] = '\0';
	*text = t;
	*len = size;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/*
 * Parses MANIFEST: lines "ID HASH NAME\n", ID decimal without leading zeros, HASH 16
 * lowercase hex digits, NAME the rest of the line (printable, possibly empty). The
 * entries come out sorted by id; ids are unique.
 */
static int manifest_parse(const char *text, size_t len, const char *path, struct manifest *m,
			  char *why, size_t whylen)
{
	size_t lines = 0;
	for (size_t i = 0; i < len; i++) {
		lines += text[i] == '\n';
	}
	m->e = calloc(lines + 1, sizeof(*m->e));
	m->n = 0;
	if (!m->e) {
		say(why, whylen, "%s: out of memory", path);
		return -ENOMEM;
	}
	size_t pos = 0;
	unsigned line = 0;
	while (pos < len) {
		line++;
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		if (!nl) {
			say(why, whylen, "%s line %u: no line end (the file is cut short)", path,
			    line);
			return -CAIRN_E_BAD_MAP;
		}
		size_t l = (size_t)(nl - s), k = 0;
		pos += l + 1;
		uint64_t id = 0;
		while (k < l && s[k] >= '0' && s[k] <= '9' && k < 8) {
			id = id * 10 + (uint64_t)(s[k] - '0');
			k++;
		}
		if (k == 0 || (k > 1 && s[0] == '0') || k == l || s[k] != ' ' || id >= MAX_MAP_ID) {
			say(why, whylen,
			    "%s line %u: expected 'ID HASH NAME' with an id below %" PRIu32, path,
			    line, MAX_MAP_ID);
			return -CAIRN_E_BAD_MAP;
		}
		k++;
		uint64_t hash = 0;
		for (unsigned d = 0; d < 16; d++, k++) {
			int v = k < l ? hexval(s[k]) : -1;
			if (v < 0) {
				say(why, whylen,
				    "%s line %u: the hash must be 16 lowercase hex digits", path,
				    line);
				return -CAIRN_E_BAD_MAP;
			}
			hash = (hash << 4) | (uint64_t)v;
		}
		if (k >= l || s[k] != ' ') {
			say(why, whylen, "%s line %u: expected a space and the name after the hash",
			    path, line);
			return -CAIRN_E_BAD_MAP;
		}
		k++;
		size_t nlen = l - k;
		if (nlen >= CAIRN_MAP_NAME_SIZE) {
			say(why, whylen, "%s line %u: the name is longer than %d bytes", path, line,
			    CAIRN_MAP_NAME_SIZE - 1);
			return -CAIRN_E_BAD_MAP;
		}
		for (size_t j = k; j < l; j++) {
			unsigned char ch = (unsigned char)s[j];
			if (ch < 0x20 || ch == 0x7f) {
				say(why, whylen, "%s line %u: a control character in the name",
				    path, line);
				return -CAIRN_E_BAD_MAP;
			}
		}
		struct manifest_entry *e = &m->e[m->n++];
		e->id = (uint32_t)id;
		e->hash = hash;
		memcpy(e->name, s + k, nlen);
		e->name[nlen] = '\0';
	}
	qsort(m->e, m->n, sizeof(*m->e), by_map_id);
	for (uint32_t i = 1; i < m->n; i++) {
		if (m->e[i].id == m->e[i - 1].id) {
			say(why, whylen, "%s: map id %" PRIu32 " is recorded twice", path,
			    m->e[i].id);
			return -CAIRN_E_BAD_MAP;
		}
	}
	return 0;
}

/* Reads DATA/maps/MANIFEST; a missing one is empty when missing_ok, else -ENOENT. */
static int manifest_read(int dirfd, const char *maps_dir, bool missing_ok, struct manifest *m,
			 char *why, size_t whylen)
{
	char path[PATH_MAX];
	int rc = join(path, sizeof(path), maps_dir, MANIFEST, why, whylen);
	if (rc < 0) {
		return rc;
	}
	memset(m, 0, sizeof(*m));
	char *text = NULL;
	size_t len = 0;
	rc = read_small(dirfd, MANIFEST, MANIFEST_MAX, &text, &len);
	if (rc == -ENOENT && missing_ok) {
		return 0;
	}
	if (rc < 0) {
		say(why, whylen, "cannot read %s: %s", path,
		    rc == -EFBIG ? "larger than 1 MiB" : strerror(-rc));
		return rc;
	}
	rc = manifest_parse(text, len, path, m, why, whylen);
	free(text);
	if (rc < 0) {
		free(m->e);
		memset(m, 0, sizeof(*m));
	}
	return rc;
}

static const struct manifest_entry *manifest_find(const struct manifest *m, uint32_t id)
{
	for (uint32_t i = 0; i < m->n; i++) {
		if (m->e[i].id == id) {
			return &m->e[i];
		}
	}
	return NULL;
}

int cairn__data_maps_record(const char *data_dir, const struct cairn__map *const *maps, uint32_t n,
			    char *why, size_t whylen)
{
	char dir[PATH_MAX];
	int rc = ensure_dir(data_dir, "maps", dir, sizeof(dir), why, whylen);
	if (rc < 0) {
		return rc;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		say(why, whylen, "cannot open %s: %s", dir, strerror(-rc));
		return rc;
	}
	struct manifest m;
	rc = manifest_read(dirfd, dir, true, &m, why, whylen);
	if (rc < 0) {
		close(dirfd);
		return rc;
	}
	struct manifest_entry *all = realloc(m.e, ((size_t)m.n + n + 1) * sizeof(*all));
	if (!all) {
		free(m.e);
		close(dirfd);
		say(why, whylen, "out of memory");
		return -ENOMEM;
	}
	m.e = all;
	bool added = false;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct cairn__map *map = maps[i];
		const struct manifest_entry *e = manifest_find(&m, i);
		if (e) {
			if (e->hash != map->hash) {
				say(why, whylen,
				    "map id %" PRIu32 " is recorded in %s/" MANIFEST
				    " as '%s' with hash "
				    "%016" PRIx64 ", but this daemon's map %" PRIu32
				    " ('%s') has hash "
				    "%016" PRIx64
				    ": the log refers to maps by id, so a map id may never "
				    "change (give the maps in the same order, adding new ones "
				    "last)",
				    i, dir, e->name, e->hash, i, map->name, map->hash);
				rc = -CAIRN_E_BAD_MAP;
			}
			continue;
		}
		if (i >= MAX_MAP_ID) {
			say(why, whylen,
			    "map id %" PRIu32 ": at most %" PRIu32 " maps are recorded", i,
			    MAX_MAP_ID);
			rc = -EINVAL;
			break;
		}
		char *text;
		size_t len;
		rc = cairn__map_format(map, &text, &len);
		if (rc < 0) {
			say(why, whylen, "out of memory");
			break;
		}
		char name[32], tmp[48];
		snprintf(name, sizeof(name), "%" PRIu32 ".map", i);
		snprintf(tmp, sizeof(tmp), "%" PRIu32 ".map.tmp", i);
		struct iovec iov = {.iov_base = text, .iov_len = len};
		rc = cairn__store_write_file(dirfd, dir, tmp, name, &iov, 1, why, whylen);
		free(text);
		struct manifest_entry *ne = &m.e[m.n++];
		ne->id = i;
		ne->hash = map->hash;
		snprintf(ne->name, sizeof(ne->name), "%s", map->name);
		for (char *p = ne->name; *p; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				*p = '?';
			}
		}
		added = true;
	}
	if (rc == 0 && added) {
		qsort(m.e, m.n, sizeof(*m.e), by_map_id);
		size_t cap = (size_t)m.n * (10 + 1 + 16 + 1 + CAIRN_MAP_NAME_SIZE + 1) + 1;
		char *text = malloc(cap);
		if (!text) {
			rc = -ENOMEM;
			say(why, whylen, "out of memory");
		} else {
			size_t len = 0;
			for (uint32_t i = 0; i < m.n; i++) {
				len += (size_t)snprintf(text + len, cap - len,
							"%" PRIu32 " %016" PRIx64 " %s\n",
							m.e[i].id, m.e[i].hash, m.e[i].name);
			}
			struct iovec iov = {.iov_base = text, .iov_len = len};
			rc = cairn__store_write_file(dirfd, dir, MANIFEST ".tmp", MANIFEST, &iov, 1,
						     why, whylen);
			free(text);
		}
	}
	free(m.e);
	close(dirfd);
	return rc;
}

void cairn__data_maps_free(struct cairn__map **maps, uint32_t n)
{
	if (!maps) {
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		cairn__map_free(maps[i]);
	}
	free(maps);
}

int cairn__data_maps_load(const char *data_dir, struct cairn__map ***maps, uint32_t *n, char *why,
			  size_t whylen)
{
	*maps = NULL;
	*n = 0;
	char dir[PATH_MAX];
	int rc = join(dir, sizeof(dir), data_dir, "maps", why, whylen);
	if (rc < 0) {
		return rc;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		say(why, whylen, "cannot open %s: %s", dir, strerror(-rc));
		return rc;
	}
	struct manifest m;
	rc = manifest_read(dirfd, dir, false, &m, why, whylen);
	close(dirfd);
	if (rc < 0) {
		return rc;
	}
	for (uint32_t i = 0; i < m.n; i++) {
		if (m.e[i].id != i) {
			say(why, whylen,
			    "%s/" MANIFEST ": map ids must run from 0 without gaps; id %" PRIu32
			    " is missing",
			    dir, i);
			free(m.e);
			return -CAIRN_E_BAD_MAP;
		}
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of map pointers */
	struct cairn__map **out = calloc((size_t)m.n + 1, sizeof(*out));
	if (!out) {
		free(m.e);
		say(why, whylen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < m.n && rc == 0; i++) {
		char name[32], path[PATH_MAX];
		snprintf(name, sizeof(name), "%" PRIu32 ".map", i);
		if ((rc = join(path, sizeof(path), dir, name, why, whylen)) < 0) {
			break;
		}
		struct cairn__map_error err;
		rc = cairn__map_load(path, &out[i], &err);
		if (rc < 0) {
			if (rc != -CAIRN_E_BAD_MAP) {
				say(why, whylen, "%s", err.message); /* names the file */
			} else if (err.line) {
				say(why, whylen, "%s line %u column %u: %s", path, err.line,
				    err.column, err.message);
			} else {
				say(why, whylen, "%s: %s", path, err.message);
			}
			break;
		}
		if (out[i]->hash != m.e[i].hash) {
			say(why, whylen,
			    "%s has hash %016" PRIx64 ", but %s/" MANIFEST " records %016" PRIx64
			    " for map id %" PRIu32 ": the file was changed",
			    path, out[i]->hash, dir, m.e[i].hash, i);
			rc = -CAIRN_E_BAD_MAP;
			break;
		}
		snprintf(out[i]->name, sizeof(out[i]->name), "%s", m.e[i].name);
	}
	if (rc < 0) {
		cairn__data_maps_free(out, m.n);
		free(m.e);
		return rc;
	}
	*maps = out;
	*n = m.n;
	free(m.e);
	return 0;
}

/* ---- Recovery ---- */

/* The next segment sequence number after every wal-* file in dir (1 for none). */
static uint64_t next_seq_past_files(const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		return 1;
	}
	uint64_t next = 1;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		const char *s = de->d_name;
		if (strncmp(s, "wal-", 4) != 0) {
			continue;
		}
		uint64_t v = 0;
		unsigned k = 4;
		for (; k < 20; k++) {
			int h = hexval(
				(char)(s[k] >= 'A' && s[k] <= 'F' ? s[k] - 'A' + 'a' : s[k]));
			if (h < 0) {
				break;
			}
			v = (v << 4) | (uint64_t)h;
		}
		if (k == 20 && s[20] == '.' && v >= next) {
			next = v + 1;
		}
	}
	closedir(dp);
	return next;
}

/*
 * The prev_sum field of the record the reader handed out, read back from its segment:
 * the reader verified that header (its checksum covers prev_sum) but does not hand the
 * field out. Returns 0 or -errno.
 */
static int record_prev_sum(const char *wal_dir, const struct cairn__wal_record *rec, uint64_t *prev)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/wal-%016" PRIx64 ".seg", wal_dir, rec->seq) >=
	    sizeof(path)) {
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	struct cairn__wal_rec h;
	ssize_t k = pread(fd, &h, sizeof(h), (off_t)rec->offset);
	int e = errno;
	close(fd);
	if (k != (ssize_t)sizeof(h)) {
		return k < 0 ? -e : -EIO;
	}
	if (h.header_sum != rec->header_sum || h.lsn != rec->lsn) {
		return -EIO; /* the file changed under us */
	}
	*prev = h.prev_sum;
	return 0;
}

/* Why a snapshot could not be used. */
enum verdict {
	USABLE = 0,
	UNUSABLE, /* damaged, or too old for the log: left in place */
	FOREIGN,  /* of another log, or ahead of this one: discarded after a cut */
};

struct recovery {
	const char *data_dir;
	char wal_dir[PATH_MAX];
	char snap_dir[PATH_MAX];
	const struct cairn__recover_options *opts;
	struct cairn__recover_report *report;
	struct cairn__wal_reader *rd;     /* NULL: there is no log */
	struct cairn__wal_record pending; /* read while checking, to be applied first */
	bool have_pending;
	uint64_t foreign[MAX_SNAPSHOTS];
	unsigned n_foreign;
};

static void close_reader(struct recovery *v)
{
	cairn__wal_reader_close(v->rd);
	v->rd = NULL;
	v->have_pending = false;
}

/*
 * Opens the log for continuing from LSN lsn whose record has header_sum prev (lsn 0:
 * from the start, prev 0), and says whether it does. On USABLE, v->rd is open after
 * that record (or NULL when there is no log) and v->pending may hold the next one.
 * Returns a verdict, or a negative code with why filled in.
 */
static int check_log(struct recovery *v, uint64_t lsn, uint64_t prev, char *why, size_t whylen)
{
	close_reader(v);
	int rc = cairn__wal_reader_open(v->wal_dir, lsn ? lsn : 1, &v->rd, why, whylen);
	if (rc == -ENOENT) {
		v->rd = NULL;
		return USABLE;
	}
	if (rc < 0) {
		v->rd = NULL;
		return rc;
	}
	struct cairn__wal_record rec;
	rc = cairn__wal_reader_next(v->rd, &rec);
	if (rc < 0) {
		say(why, whylen, "reading the log in %s: %s", v->wal_dir, strerror(-rc));
		return rc;
	}
	if (rc > 0) {
		if (lsn > 0 && rec.lsn == lsn) {
			if (rec.header_sum == prev) {
				return USABLE;
			}
			say(why, whylen,
			    "the log's record %" PRIu64 " has checksum %016" PRIx64
			    ", the snapshot expects %016" PRIx64 ": the snapshot is of another log",
			    lsn, rec.header_sum, prev);
			return FOREIGN;
		}
		if (rec.lsn == lsn + 1) {
			uint64_t p = 0;
			if (lsn > 0 && (rc = record_prev_sum(v->wal_dir, &rec, &p)) < 0) {
				say(why, whylen, "reading back the header of LSN %" PRIu64 ": %s",
				    rec.lsn, strerror(-rc));
				return rc;
			}
			if (p != prev) {
				say(why, whylen,
				    "the log's record %" PRIu64 " follows a record with checksum "
				    "%016" PRIx64 ", the snapshot's has %016" PRIx64
				    ": the snapshot is of another log",
				    rec.lsn, p, prev);
				return FOREIGN;
			}
			v->pending = rec;
			v->have_pending = true;
			return USABLE;
		}
		if (lsn == 0) {
			say(why, whylen,
			    "the log starts at LSN %" PRIu64
			    " and no snapshot covers LSN 1..%" PRIu64,
			    rec.lsn, rec.lsn - 1);
		} else {
			say(why, whylen, "the log starts at LSN %" PRIu64 ", after LSN %" PRIu64,
			    rec.lsn, lsn + 1);
		}
		return UNUSABLE;
	}
	struct cairn__wal_damage end;
	struct cairn__wal_resume res;
	cairn__wal_reader_end(v->rd, &end);
	cairn__wal_reader_resume(v->rd, &res);
	if (end.end == CAIRN__WAL_END_DAMAGED) {
		if (lsn == 0) {
			return USABLE; /* damage at the very start: the end handling reports it */
		}
		say(why, whylen, "the log is damaged at LSN %" PRIu64 ", before the snapshot's LSN",
		    end.lsn);
		return UNUSABLE;
	}
	if (res.next_lsn <= 1) {
		return USABLE; /* a log without records continues anything */
	}
	say(why, whylen, "the log ends at LSN %" PRIu64 ", before the snapshot's LSN %" PRIu64,
	    res.next_lsn - 1, lsn);
	return FOREIGN;
}

static void skipped(struct recovery *v, const char *why)
{
	struct cairn__recover_report *rep = v->report;
	if (rep->snapshots_skipped++ == 0) {
		say(rep->skipped_why, sizeof(rep->skipped_why), "%s", why);
	}
}

/* Finds the newest usable snapshot and loads it into r; r stays empty when none is. */
static int start_from_snapshot(struct recovery *v, struct cairn__replica *r, char *why,
			       size_t whylen)
{
	uint64_t lsns[MAX_SNAPSHOTS];
	int n = cairn__snap_list(v->snap_dir, lsns, MAX_SNAPSHOTS);
	if (n == -ENOENT) {
		n = 0;
	}
	if (n < 0) {
		say(why, whylen, "cannot list the snapshots in %s: %s", v->snap_dir, strerror(-n));
		return n;
	}
	uint64_t until = v->opts->until_lsn;
	char reason[320];
	for (int i = 0; i < n; i++) {
		uint64_t lsn = lsns[i];
		if (until && lsn > until) {
			continue;
		}
		struct cairn__snap s;
		int rc = cairn__snap_read(v->snap_dir, lsn, &s, reason, sizeof(reason));
		if (rc == -ENOMEM) {
			say(why, whylen, "%s", reason);
			return rc;
		}
		if (rc < 0) {
			skipped(v, reason);
			continue;
		}
		int verdict = check_log(v, lsn, s.hdr.prev_sum, reason, sizeof(reason));
		if (verdict < 0) {
			cairn__snap_release(&s);
			say(why, whylen, "%s", reason);
			return verdict;
		}
		if (verdict != USABLE) {
			char tmp[sizeof(reason)];
			say(tmp, sizeof(tmp), "%s: %s", s.file, reason);
			skipped(v, tmp);
			if (verdict == FOREIGN && v->n_foreign < MAX_SNAPSHOTS) {
				v->foreign[v->n_foreign++] = lsn;
			}
			cairn__snap_release(&s);
			continue;
		}
		bool dirty;
		rc = replica_load(r, &s, &dirty, reason, sizeof(reason));
		if (rc == 0) {
			v->report->snapshot_lsn = lsn;
			snprintf(v->report->snapshot_file, sizeof(v->report->snapshot_file), "%s",
				 s.file);
			cairn__snap_release(&s);
			return 0;
		}
		cairn__snap_release(&s);
		if (rc == -ENOMEM || dirty) {
			say(why, whylen, "%s", reason);
			return rc;
		}
		skipped(v, reason);
	}
	close_reader(v);
	return 0;
}

/* Renames snap-*.snap to *.discarded. */
static int discard_snapshot(struct recovery *v, uint64_t lsn)
{
	char from[PATH_MAX], to[PATH_MAX];
	say(from, sizeof(from), "%s/snap-%020" PRIu64 ".snap", v->snap_dir, lsn);
	say(to, sizeof(to), "%s/snap-%020" PRIu64 ".snap.discarded", v->snap_dir, lsn);
	if (rename(from, to) < 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	v->report->snapshots_discarded++;
	return 1;
}

/*
 * After a cut: snapshots ahead of the log (their state holds records that are gone) or of
 * another log are renamed, so that they are never taken for the newest ones.
 */
static int discard_snapshots(struct recovery *v, uint64_t lsn, char *why, size_t whylen)
{
	uint64_t lsns[MAX_SNAPSHOTS];
	int n = cairn__snap_list(v->snap_dir, lsns, MAX_SNAPSHOTS);
	if (n < 0) {
		return n == -ENOENT ? 0 : n;
	}
	bool any = false;
	for (int i = 0; i < n; i++) {
		bool foreign = lsns[i] > lsn;
		for (unsigned k = 0; k < v->n_foreign && !foreign; k++) {
			foreign = v->foreign[k] == lsns[i];
		}
		if (!foreign) {
			continue;
		}
		int rc = discard_snapshot(v, lsns[i]);
		if (rc < 0) {
			say(why, whylen,
			    "cannot rename the stale snapshot of LSN %" PRIu64 " in %s: %s",
			    lsns[i], v->snap_dir, strerror(-rc));
			return rc;
		}
		any |= rc > 0;
	}
	if (any) {
		int fd = open(v->snap_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int rc = fd < 0 || fsync(fd) < 0 ? -errno : 0;
		if (fd >= 0) {
			close(fd);
		}
		if (rc < 0) {
			say(why, whylen, "fsync of %s: %s", v->snap_dir, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void progress(struct recovery *v, uint64_t lsn)
{
	if (v->opts->progress) {
		uint64_t done = 0, total = 0;
		if (v->rd) {
			cairn__wal_reader_progress(v->rd, &done, &total);
		}
		v->opts->progress(v->opts->progress_arg, lsn, done, total);
	}
}

/* Applies a record, and names where it lies when it is refused. */
static int apply(struct recovery *v, struct cairn__replica *r, const struct cairn__wal_record *rec,
		 char *why, size_t whylen)
{
	int rc = cairn__replica_apply(r, rec, NULL, why, whylen);
	if (__builtin_expect(rc < 0, 0) && why && whylen > 0) {
		char *inner = strdup(why);
		say(why, whylen, "%s/wal-%016" PRIx64 ".seg offset %" PRIu64 ": %s", v->wal_dir,
		    rec->seq, rec->offset, inner ? inner : "");
		free(inner);
	}
	return rc;
}

/* Applies the log from where check_log left it. *stopped: until_lsn was reached. */
static int replay(struct recovery *v, struct cairn__replica *r, bool *stopped, char *why,
		  size_t whylen)
{
	uint64_t until = v->opts->until_lsn;
	uint64_t n = 0;
	*stopped = until && r->lsn >= until;
	if (*stopped || !v->rd) {
		return 0;
	}
	int rc;
	if (v->have_pending) {
		v->have_pending = false;
		if ((rc = apply(v, r, &v->pending, why, whylen)) < 0) {
			return rc;
		}
		n++;
		if (until && r->lsn >= until) {
			*stopped = true;
			return 0;
		}
	}
	struct cairn__wal_record rec;
	while ((rc = cairn__wal_reader_next(v->rd, &rec)) > 0) {
		if ((rc = apply(v, r, &rec, why, whylen)) < 0) {
			return rc;
		}
		if ((++n & (PROGRESS_EVERY - 1)) == 0) {
			progress(v, r->lsn);
		}
		if (until && r->lsn >= until) {
			*stopped = true;
			return 0;
		}
	}
	if (rc < 0) {
		say(why, whylen, "reading the log in %s after LSN %" PRIu64 ": %s", v->wal_dir,
		    r->lsn, strerror(-rc));
	}
	return rc;
}

int cairn__recover(const char *data_dir, struct cairn__replica *r,
		   const struct cairn__recover_options *opts, struct cairn__recover_report *report,
		   char *why, size_t whylen)
{
	static const struct cairn__recover_options defaults;
	struct cairn__recover_report scratch;
	if (!report) {
		report = &scratch;
	}
	memset(report, 0, sizeof(*report));
	if (!data_dir || !r || !r->engine || !r->dedup) {
		say(why, whylen, "invalid argument");
		return -EINVAL;
	}
	if (!replica_empty(r)) {
		say(why, whylen, "recovery needs an empty replica");
		return -EBUSY;
	}
	struct recovery *v = calloc(1, sizeof(*v));
	if (!v) {
		say(why, whylen, "out of memory");
		return -ENOMEM;
	}
	v->data_dir = data_dir;
	v->opts = opts ? opts : &defaults;
	v->report = report;
	int rc;
	if ((rc = join(v->wal_dir, sizeof(v->wal_dir), data_dir, "wal", why, whylen)) < 0 ||
	    (rc = join(v->snap_dir, sizeof(v->snap_dir), data_dir, "snapshots", why, whylen)) < 0) {
		goto out;
	}

	rc = start_from_snapshot(v, r, why, whylen);
	if (rc < 0) {
		goto out;
	}
	if (report->snapshot_file[0] == '\0') {
		/*
		 * No snapshot: the log must hold everything from LSN 1. When there were
		 * snapshots but none could be used, an empty log is no excuse to start from
		 * nothing: their state would be lost without a word.
		 */
		char reason[320];
		rc = check_log(v, 0, 0, reason, sizeof(reason));
		if (rc < 0) {
			say(why, whylen, "%s", reason);
			goto out;
		}
		if (rc == USABLE && !v->have_pending && report->snapshots_skipped > 0) {
			snprintf(reason, sizeof(reason), "the log does not start at LSN 1");
			rc = UNUSABLE;
		}
		if (rc != USABLE) {
			if (report->snapshots_skipped) {
				say(why, whylen,
				    "%s; %u snapshot%s could not be used (the newest: %s)", reason,
				    report->snapshots_skipped,
				    report->snapshots_skipped == 1 ? "" : "s", report->skipped_why);
			} else {
				say(why, whylen, "%s", reason);
			}
			rc = report->snapshots_skipped ? -CAIRN_E_BAD_SNAPSHOT : -CAIRN_E_BAD_LOG;
			goto out;
		}
	}

	bool stopped;
	rc = replay(v, r, &stopped, why, whylen);
	if (rc < 0) {
		goto out;
	}
	report->records = r->records;
	struct cairn__wal_damage *end = &report->end;
	if (stopped) {
		report->until_reached = true;
		end->end = CAIRN__WAL_END_CLEAN;
		end->lsn = r->lsn + 1;
		progress(v, r->lsn);
		rc = 0;
		goto out;
	}
	uint64_t reader_seq = 1;
	if (v->rd) {
		struct cairn__wal_resume res;
		cairn__wal_reader_end(v->rd, end);
		cairn__wal_reader_resume(v->rd, &res);
		reader_seq = res.next_seq;
	} else {
		end->end = CAIRN__WAL_END_CLEAN;
		end->lsn = r->lsn + 1;
	}
	progress(v, r->lsn);
	bool cut = false;
	if (end->end == CAIRN__WAL_END_DAMAGED && !v->opts->truncate_at_damage) {
		say(why, whylen,
		    "%s/%s: damaged at offset %" PRIu64 " (LSN %" PRIu64
		    "): %s; the files are left "
		    "untouched; start with --recover=truncate-at-damage to accept losing "
		    "everything "
		    "after LSN %" PRIu64,
		    v->wal_dir, end->file, end->offset, end->lsn, end->reason, r->lsn);
		rc = -CAIRN_E_BAD_LOG;
		goto out;
	}
	if (end->end != CAIRN__WAL_END_CLEAN && v->opts->cut) {
		close_reader(v);
		rc = cairn__wal_cut(v->wal_dir, end);
		if (rc < 0) {
			say(why, whylen, "cannot cut the log at %s/%s offset %" PRIu64 ": %s",
			    v->wal_dir, end->file, end->offset, strerror(-rc));
			goto out;
		}
		cut = true;
	}
	if (end->end == CAIRN__WAL_END_CLEAN && v->opts->cut && v->rd) {
		uint64_t first;
		int n = cairn__wal_drop_empty_tail(v->rd, &first);
		if (n < 0) {
			say(why, whylen, "cannot remove the empty segments at the end of %s: %s",
			    v->wal_dir, strerror(-n));
			rc = n;
			goto out;
		}
		if (n > 0) {
			report->empty_segments_dropped = (unsigned)n;
			reader_seq = first;
		}
	}
	if (v->opts->cut && (cut || v->n_foreign > 0 || report->snapshots_skipped > 0)) {
		rc = discard_snapshots(v, r->lsn, why, whylen);
		if (rc < 0) {
			goto out;
		}
	}
	report->resume.next_lsn = r->lsn + 1;
	report->resume.prev_sum = r->prev_sum;
	uint64_t files_seq = next_seq_past_files(v->wal_dir);
	report->resume.next_seq = reader_seq > files_seq ? reader_seq : files_seq;
	rc = 0;
out:
	close_reader(v);
	free(v);
	return rc;
}
