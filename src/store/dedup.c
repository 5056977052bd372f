/*
 * The exactly-once table (see dedup.h).
 *
 * Each session owns a ring of its latest entries in FIFO order and an open-addressing
 * index over it (linear probing, at most a quarter full, backward-shift deletion): at a
 * quarter, probe runs are so short that a find + put costs about half what it does at a
 * half, for 32 bytes per entry. Both
 * start small and double as the session fills up, up to the window, so that a session
 * that sent three commands costs a few hundred bytes, not a full window.
 *
 * An index slot is 0 when empty, else (low 32 bits of the request id's hash) << 32 |
 * (ring position + 1). The stored hash bits give the slot's home without touching the
 * ring, and filter out most non-matching probes; a match is confirmed on the ring entry.
 *
 * A request id may be put twice (a client that reuses ids beyond the window). The newer
 * entry wins: the index is pointed at it, and the older one stays in the ring, reachable
 * by nobody, until it leaves the window; removing it then leaves the index alone, since
 * the index no longer points at it. Restoring the entries in FIFO order reproduces this.
 *
 * Sessions are found through an open-addressing table of (id, session) pairs with a
 * one-entry cache in front of it, and kept on a list ordered by the LSN of their latest
 * entry. LSNs only grow, so a put moves its session to the newest end, and the session
 * forgotten when there are too many is the one at the oldest end: the choice depends on
 * the order of the puts only.
 */
#include "store/dedup.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define DEDUP_MAGIC   UINT64_C(0x50444452494E5241) /* "ARNIRDDP" little-endian */
#define DEDUP_VERSION 1u
#define IMAGE_HEADER  32u
#define IMAGE_SESSION 16u
#define IMAGE_ENTRY   72u
#define MAX_WINDOW    (UINT32_C(1) << 20)
#define FIRST_CAP     4u
#define FIRST_TABLE   16u
#define INDEX_FACTOR  4u /* index slots per ring entry: at most a quarter full */

struct entry {
	uint64_t request_id;
	uint64_t lsn;
	struct cairn_msg result;
};

struct session {
	uint64_t id;
	uint64_t seed;                 /* the table's, next to what it hashes */
	struct session *older, *newer; /* the list by latest LSN */
	struct entry *ring;            /* cap entries; the oldest at head */
	uint64_t *index;               /* INDEX_FACTOR * cap slots */
	uint32_t cap, head, count;
	uint32_t index_mask;
};

struct table_slot {
	uint64_t id;
	struct session *s; /* NULL: empty */
};

struct cairn__dedup {
	uint32_t window;
	uint32_t max_sessions;
	uint64_t seed;
	struct table_slot *table;
	uint32_t table_mask;
	uint32_t n_sessions;
	uint64_t n_entries;
	uint64_t last_lsn;
	struct session *oldest, *newest;
	/* The session of the latest lookup that found one. */
	uint64_t cached_id;
	struct session *cached;
};

/*
 * A 64-bit mixer (the MurmurHash3 finalizer) of the id and the table's secret seed.
 * Request and session ids are often sequential, and they are chosen by clients: without
 * the seed, a client could pick ids that all land in one probe run and make every find
 * and put of the apply thread walk it. The seed decides only where entries lie, never
 * what a find returns, which session goes, or an image's bytes.
 */
static inline uint64_t mix(uint64_t x, uint64_t seed)
{
	x ^= seed;
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

int cairn__dedup_new(uint32_t window, uint32_t max_sessions, struct cairn__dedup **out)
{
	if (!out || window == 0 || window > MAX_WINDOW || (window & (window - 1)) != 0 ||
	    max_sessions == 0) {
		return -EINVAL;
	}
	struct cairn__dedup *d = calloc(1, sizeof(*d));
	if (!d) {
		return -ENOMEM;
	}
	d->table = calloc(FIRST_TABLE, sizeof(*d->table));
	if (!d->table) {
		free(d);
		return -ENOMEM;
	}
	d->window = window;
	d->max_sessions = max_sessions;
	d->table_mask = FIRST_TABLE - 1;
	if (getrandom(&d->seed, sizeof(d->seed), GRND_NONBLOCK) != sizeof(d->seed)) {
		/* No entropy yet (early boot): any value works, only less well against attacks. */
		d->seed = (uint64_t)(uintptr_t)d * UINT64_C(0x9e3779b97f4a7c15);
	}
	*out = d;
	return 0;
}

static void session_free(struct session *s)
{
	free(s->ring);
	free(s->index);
	free(s);
}

/* Forgets every session; the table stays usable. */
static void clear(struct cairn__dedup *d)
{
	struct session *s = d->oldest;
	while (s) {
		struct session *next = s->newer;
		session_free(s);
		s = next;
	}
	memset(d->table, 0, ((size_t)d->table_mask + 1) * sizeof(*d->table));
	d->n_sessions = 0;
	d->n_entries = 0;
	d->last_lsn = 0;
	d->oldest = d->newest = NULL;
	d->cached = NULL;
}

void cairn__dedup_free(struct cairn__dedup *d)
{
	if (!d) {
		return;
	}
	clear(d);
	free(d->table);
	free(d);
}

/* ---- The session table ---- */

static struct session *lookup(struct cairn__dedup *d, uint64_t id)
{
	if (d->cached && d->cached_id == id) {
		return d->cached;
	}
	for (uint32_t i = (uint32_t)mix(id, d->seed) & d->table_mask;;
	     i = (i + 1) & d->table_mask) {
		struct table_slot *t = &d->table[i];
		if (!t->s) {
			return NULL;
		}
		if (t->id == id) {
			d->cached_id = id;
			d->cached = t->s;
			return t->s;
		}
	}
}

/* Inserts s, whose id is not in the table; the table has room (at most half full after). */
static void table_insert(struct table_slot *table, uint32_t mask, struct session *s)
{
	uint32_t i = (uint32_t)mix(s->id, s->seed) & mask;
	while (table[i].s) {
		i = (i + 1) & mask;
	}
	table[i].id = s->id;
	table[i].s = s;
}

/* Makes room for one more session; on -ENOMEM nothing changed. */
static int table_reserve(struct cairn__dedup *d, uint32_t sessions)
{
	uint64_t size = (uint64_t)d->table_mask + 1;
	if ((uint64_t)sessions * 2 <= size) {
		return 0;
	}
	while ((uint64_t)sessions * 2 > size) {
		size *= 2;
	}
	if (size > UINT32_MAX) {
		return -ENOMEM;
	}
	struct table_slot *t = calloc(size, sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	for (uint64_t i = 0; i <= d->table_mask; i++) {
		if (d->table[i].s) {
			table_insert(t, (uint32_t)size - 1, d->table[i].s);
		}
	}
	free(d->table);
	d->table = t;
	d->table_mask = (uint32_t)size - 1;
	return 0;
}

static void table_remove(struct cairn__dedup *d, uint64_t id)
{
	uint32_t mask = d->table_mask;
	uint32_t i = (uint32_t)mix(id, d->seed) & mask;
	/* Only called for an id the table holds: its run has no empty slot before it. */
	while (d->table[i].id != id) {
		assert(d->table[i].s != NULL);
		i = (i + 1) & mask;
	}
	assert(d->table[i].s != NULL);
	/* Backward shift: move up every later slot of the run whose home is not after the gap. */
	for (;;) {
		d->table[i].s = NULL;
		uint32_t j = i;
		for (;;) {
			j = (j + 1) & mask;
			if (!d->table[j].s) {
				return;
			}
			uint32_t home = (uint32_t)mix(d->table[j].id, d->seed) & mask;
			if (((j - home) & mask) >= ((j - i) & mask)) {
				d->table[i] = d->table[j];
				i = j;
				break;
			}
		}
	}
}

/* ---- The list by latest LSN ---- */

static void list_unlink(struct cairn__dedup *d, struct session *s)
{
	if (s->older) {
		s->older->newer = s->newer;
	} else {
		d->oldest = s->newer;
	}
	if (s->newer) {
		s->newer->older = s->older;
	} else {
		d->newest = s->older;
	}
	s->older = s->newer = NULL;
}

static void list_push_newest(struct cairn__dedup *d, struct session *s)
{
	s->older = d->newest;
	s->newer = NULL;
	if (d->newest) {
		d->newest->newer = s;
	} else {
		d->oldest = s;
	}
	d->newest = s;
}

static void forget_session(struct cairn__dedup *d, struct session *s)
{
	table_remove(d, s->id);
	list_unlink(d, s);
	if (d->cached == s) {
		d->cached = NULL;
	}
	d->n_sessions--;
	d->n_entries -= s->count;
	session_free(s);
}

/* ---- A session's ring and index ---- */

static inline uint64_t index_slot(uint64_t hash, uint32_t pos)
{
	return (hash << 32) | ((uint64_t)pos + 1);
}

/* Points the index at ring position pos for its request id (replacing an older entry's). */
static inline __attribute__((always_inline)) void
index_put(uint64_t *index, uint32_t mask, uint64_t seed, const struct entry *ring, uint32_t pos)
{
	uint64_t key = ring[pos].request_id;
	uint64_t h = (uint32_t)mix(key, seed);
	uint32_t i = (uint32_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint64_t v = index[i];
		if (!v) {
			break;
		}
		if ((v >> 32) == h && ring[(uint32_t)v - 1].request_id == key) {
			break;
		}
	}
	index[i] = index_slot(h, pos);
}

/* Removes the index slot that points at ring position pos, if one does. */
static void index_drop(struct session *s, uint32_t pos)
{
	uint32_t mask = s->index_mask;
	uint64_t h = (uint32_t)mix(s->ring[pos].request_id, s->seed);
	uint64_t want = index_slot(h, pos);
	uint32_t i = (uint32_t)h & mask;
	for (;; i = (i + 1) & mask) {
		uint64_t v = s->index[i];
		if (!v) {
			return; /* a newer entry with the same request id took over */
		}
		if (v == want) {
			break;
		}
	}
	for (;;) {
		s->index[i] = 0;
		uint32_t j = i;
		for (;;) {
			j = (j + 1) & mask;
			uint64_t v = s->index[j];
			if (!v) {
				return;
			}
			uint32_t home = (uint32_t)(v >> 32) & mask;
			if (((j - home) & mask) >= ((j - i) & mask)) {
				s->index[i] = v;
				i = j;
				break;
			}
		}
	}
}

/*
 * Gives s a ring of cap entries (a power of two >= s->count) holding its entries from
 * position 0, and an index to match. On -ENOMEM nothing changed.
 */
static int session_resize(struct session *s, uint32_t cap)
{
	struct entry *ring = malloc((size_t)cap * sizeof(*ring));
	uint64_t *index = calloc((size_t)cap * INDEX_FACTOR, sizeof(*index));
	if (!ring || !index) {
		free(ring);
		free(index);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < s->count; k++) {
		ring[k] = s->ring[(s->head + k) & (s->cap - 1)];
		index_put(index, cap * INDEX_FACTOR - 1, s->seed, ring, k);
	}
	free(s->ring);
	free(s->index);
	s->ring = ring;
	s->index = index;
	s->cap = cap;
	s->head = 0;
	s->index_mask = cap * INDEX_FACTOR - 1;
	return 0;
}

static struct session *session_new(const struct cairn__dedup *d, uint64_t id, uint32_t cap)
{
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		return NULL;
	}
	s->id = id;
	s->seed = d->seed;
	s->cap = 1;
	if (session_resize(s, cap) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Appends an entry to s, which has room for it. */
static inline __attribute__((always_inline)) void
session_append(struct session *s, uint64_t request_id, uint64_t lsn, const struct cairn_msg *result)
{
	uint32_t pos = (s->head + s->count) & (s->cap - 1);
	struct entry *e = &s->ring[pos];
	e->request_id = request_id;
	e->lsn = lsn;
	e->result = *result;
	index_put(s->index, s->index_mask, s->seed, s->ring, pos);
	s->count++;
}

static inline uint64_t latest_lsn(const struct session *s)
{
	return s->ring[(s->head + s->count - 1) & (s->cap - 1)].lsn;
}

/* ---- Find and put ---- */

const struct cairn_msg *cairn__dedup_find(struct cairn__dedup *d, uint64_t session,
					  uint64_t request_id)
{
	struct session *s = lookup(d, session);
	if (!s) {
		return NULL;
	}
	uint64_t h = (uint32_t)mix(request_id, s->seed);
	uint32_t mask = s->index_mask;
	for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
		uint64_t v = s->index[i];
		if (!v) {
			return NULL;
		}
		if ((v >> 32) == h) {
			const struct entry *e = &s->ring[(uint32_t)v - 1];
			if (e->request_id == request_id) {
				return &e->result;
			}
		}
	}
}

void cairn__dedup_prefetch(struct cairn__dedup *d, uint64_t session, uint64_t request_id)
{
	struct session *s = lookup(d, session);
	if (!s) {
		return;
	}
	uint32_t mask = s->index_mask;
	__builtin_prefetch(&s->index[(uint32_t)mix(request_id, s->seed) & mask], 1);
	if (s->count == s->cap) {
		/* The oldest entry goes at the next put: its index slot, and the ring slot. */
		const struct entry *old = &s->ring[s->head];
		__builtin_prefetch(&s->index[(uint32_t)mix(old->request_id, s->seed) & mask], 1);
		__builtin_prefetch((const uint8_t *)old + sizeof(*old) - 1, 1);
	}
}

int cairn__dedup_put(struct cairn__dedup *d, uint64_t session, uint64_t request_id, uint64_t lsn,
		     const struct cairn_msg *result)
{
	if (lsn <= d->last_lsn || !result) {
		return -EINVAL;
	}
	struct session *s = lookup(d, session);
	if (!s) {
		/* Everything that can fail happens before anything changes. */
		s = session_new(d, session, d->window < FIRST_CAP ? d->window : FIRST_CAP);
		if (!s) {
			return -ENOMEM;
		}
		if (d->n_sessions < d->max_sessions && table_reserve(d, d->n_sessions + 1) < 0) {
			session_free(s);
			return -ENOMEM;
		}
		if (d->n_sessions == d->max_sessions) {
			forget_session(d, d->oldest);
		}
		table_insert(d->table, d->table_mask, s);
		d->n_sessions++;
		list_push_newest(d, s);
		d->cached_id = session;
		d->cached = s;
	} else {
		if (s->count == s->cap && s->cap < d->window && session_resize(s, s->cap * 2) < 0) {
			return -ENOMEM;
		}
		if (s != d->newest) {
			list_unlink(d, s);
			list_push_newest(d, s);
		}
	}
	if (s->count == s->cap) {
		/* The window is full: the oldest entry goes. */
		index_drop(s, s->head);
		s->head = (s->head + 1) & (s->cap - 1);
		s->count--;
		d->n_entries--;
	}
	session_append(s, request_id, lsn, result);
	d->n_entries++;
	d->last_lsn = lsn;
	return 0;
}

void cairn__dedup_count(const struct cairn__dedup *d, uint64_t *sessions, uint64_t *entries)
{
	if (sessions) {
		*sessions = d->n_sessions;
	}
	if (entries) {
		*entries = d->n_entries;
	}
}

uint32_t cairn__dedup_sessions(const struct cairn__dedup *d, uint64_t *ids, uint32_t max)
{
	uint32_t n = 0;
	for (const struct session *s = d->oldest; s && n < max; s = s->newer) {
		ids[n++] = s->id;
	}
	return d->n_sessions;
}

uint64_t cairn__dedup_bytes(const struct cairn__dedup *d)
{
	uint64_t b = sizeof(*d) + ((uint64_t)d->table_mask + 1) * sizeof(*d->table);
	for (const struct session *s = d->oldest; s; s = s->newer) {
		b += sizeof(*s) +
		     (uint64_t)s->cap * (sizeof(struct entry) + INDEX_FACTOR * sizeof(uint64_t));
	}
	return b;
}

uint64_t cairn__dedup_last_lsn(const struct cairn__dedup *d)
{
	return d->last_lsn;
}

void cairn__dedup_clear(struct cairn__dedup *d)
{
	clear(d);
}

/* ---- The image ----
 *
 *   u64 magic, u32 version, u32 window, u32 max_sessions, u32 sessions, u64 entries
 *   per session, by ascending id:
 *     u64 id, u32 count, u32 0
 *     count entries, oldest first: u64 request_id, u64 lsn, the 56-byte result
 *       (u16 type, u8 flags, u8 length, i32 status, u64 request_id, 40 payload bytes)
 */

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
	return p + 8;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++) {
		v |= (uint32_t)p[i] << (8 * i);
	}
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = (*(struct session *const *)a)->id, y = (*(struct session *const *)b)->id;
	return (x > y) - (x < y);
}

static int by_latest_lsn(const void *a, const void *b)
{
	uint64_t x = latest_lsn(*(struct session *const *)a);
	uint64_t y = latest_lsn(*(struct session *const *)b);
	return (x > y) - (x < y);
}

int cairn__dedup_save(const struct cairn__dedup *d, uint8_t **buf, size_t *len)
{
	size_t size = IMAGE_HEADER + (size_t)d->n_sessions * IMAGE_SESSION +
		      (size_t)d->n_entries * IMAGE_ENTRY;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of session pointers */
	struct session **order = malloc(((size_t)d->n_sessions + 1) * sizeof(*order));
	uint8_t *img = malloc(size);
	if (!order || !img) {
		free(order);
		free(img);
		return -ENOMEM;
	}
	uint32_t n = 0;
	for (struct session *s = d->oldest; s; s = s->newer) {
		order[n++] = s;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of session pointers */
	qsort(order, n, sizeof(*order), by_id);

	uint8_t *p = img;
	p = put64(p, DEDUP_MAGIC);
	p = put32(p, DEDUP_VERSION);
	p = put32(p, d->window);
	p = put32(p, d->max_sessions);
	p = put32(p, d->n_sessions);
	p = put64(p, d->n_entries);
	for (uint32_t i = 0; i < n; i++) {
		const struct session *s = order[i];
		p = put64(p, s->id);
		p = put32(p, s->count);
		p = put32(p, 0);
		for (uint32_t k = 0; k < s->count; k++) {
			const struct entry *e = &s->ring[(s->head + k) & (s->cap - 1)];
			const struct cairn_msg *m = &e->result;
			p = put64(p, e->request_id);
			p = put64(p, e->lsn);
			p = put16(p, m->hdr.type);
			*p++ = m->hdr.flags;
			*p++ = m->hdr.length;
			p = put32(p, (uint32_t)m->hdr.status);
			p = put64(p, m->hdr.request_id);
			memcpy(p, m->payload, sizeof(m->payload));
			p += sizeof(m->payload);
		}
	}
	free(order);
	*buf = img;
	*len = size;
	return 0;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t c = 1;
	while (c < n) {
		c *= 2;
	}
	return c;
}

/*
 * Parses the image into the empty table d. Returns 0, -CAIRN_E_BAD_SNAPSHOT or -ENOMEM; on
 * failure the caller clears the table. order has room for the image's session count.
 */
static int restore(struct cairn__dedup *d, const uint8_t *buf, size_t len, struct session **order)
{
	const int bad = -CAIRN_E_BAD_SNAPSHOT;
	if (len < IMAGE_HEADER || get64(buf) != DEDUP_MAGIC || get32(buf + 8) != DEDUP_VERSION) {
		return bad;
	}
	uint32_t window = get32(buf + 12), max_sessions = get32(buf + 16);
	uint32_t n_sessions = get32(buf + 20);
	uint64_t n_entries = get64(buf + 24);
	if (window == 0 || (window & (window - 1)) != 0 || window > d->window ||
	    max_sessions == 0 || max_sessions > d->max_sessions || n_sessions > max_sessions ||
	    n_sessions > (len - IMAGE_HEADER) / (IMAGE_SESSION + IMAGE_ENTRY)) {
		return bad;
	}
	int rc = table_reserve(d, n_sessions);
	if (rc < 0) {
		return rc;
	}
	size_t off = IMAGE_HEADER;
	uint64_t total = 0;
	for (uint32_t i = 0; i < n_sessions; i++) {
		if (len - off < IMAGE_SESSION) {
			return bad;
		}
		uint64_t id = get64(buf + off);
		uint32_t count = get32(buf + off + 8);
		if (get32(buf + off + 12) != 0 || count == 0 || count > window ||
		    (i > 0 && id <= order[i - 1]->id)) {
			return bad;
		}
		off += IMAGE_SESSION;
		if ((len - off) / IMAGE_ENTRY < count) {
			return bad;
		}
		uint32_t cap = pow2_at_least(count < FIRST_CAP ? FIRST_CAP : count);
		struct session *s = session_new(d, id, cap < d->window ? cap : d->window);
		if (!s) {
			return -ENOMEM;
		}
		/* Linked in now so that clear() frees it, whatever happens next. */
		order[i] = s;
		list_push_newest(d, s);
		table_insert(d->table, d->table_mask, s);
		d->n_sessions++;
		uint64_t prev = 0;
		for (uint32_t k = 0; k < count; k++, off += IMAGE_ENTRY) {
			const uint8_t *p = buf + off;
			struct cairn_msg m;
			uint64_t request_id = get64(p), lsn = get64(p + 8);
			if (lsn <= prev) {
				return bad;
			}
			prev = lsn;
			m.hdr.type = get16(p + 16);
			m.hdr.flags = p[18];
			m.hdr.length = p[19];
			m.hdr.status = (int32_t)get32(p + 20);
			m.hdr.request_id = get64(p + 24);
			memcpy(m.payload, p + 32, sizeof(m.payload));
			session_append(s, request_id, lsn, &m);
		}
		total += count;
	}
	if (off != len || total != n_entries) {
		return bad;
	}
	/*
	 * Relink the sessions by latest LSN. Every LSN belongs to one put, so two sessions
	 * cannot share a latest LSN; an image where they do is not one this code wrote.
	 */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of session pointers */
	qsort(order, n_sessions, sizeof(*order), by_latest_lsn);
	for (uint32_t i = 1; i < n_sessions; i++) {
		if (latest_lsn(order[i]) <= latest_lsn(order[i - 1])) {
			return bad;
		}
	}
	d->oldest = d->newest = NULL;
	for (uint32_t i = 0; i < n_sessions; i++) {
		list_push_newest(d, order[i]);
	}
	d->n_entries = total;
	d->last_lsn = n_sessions > 0 ? latest_lsn(order[n_sessions - 1]) : 0;
	return 0;
}

int cairn__dedup_restore(struct cairn__dedup *d, const uint8_t *buf, size_t len)
{
	if (d->n_sessions > 0 || d->last_lsn > 0) {
		return -EBUSY;
	}
	if (!buf && len > 0) {
		return -EINVAL;
	}
	uint32_t n = len >= IMAGE_HEADER ? get32(buf + 20) : 0;
	/* Bounded by the image's length before anything is allocated for it. */
	if (len < IMAGE_HEADER || n > (len - IMAGE_HEADER) / (IMAGE_SESSION + IMAGE_ENTRY)) {
		return -CAIRN_E_BAD_SNAPSHOT;
	}
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of session pointers */
	struct session **order = malloc(((size_t)n + 1) * sizeof(*order));
	if (!order) {
		return -ENOMEM;
	}
	int rc = restore(d, buf, len, order);
	free(order);
	if (rc < 0) {
		clear(d);
	}
	return rc;
}
