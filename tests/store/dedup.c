/*
 * store-dedup: the exactly-once table. Find and put, the window's FIFO order, request
 * ids put twice, which session goes when there are too many (and that the choice
 * survives an image), memory that grows with use, canonical images, hostile images
 * (cut at every length, bit flips, hand-made inconsistencies), and the cost of a
 * find + put.
 */
#include "kit.h"

/* A result whose bytes say which (session, request, lsn) it answers. */
static struct cairn_msg result_of(uint64_t session, uint64_t request, uint64_t lsn)
{
	struct cairn_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.type = CAIRN_MSG_MOVED;
	m.hdr.length = CAIRN_MSG_MOVED_LEN_MIN;
	m.hdr.request_id = request;
	m.hdr.status = (int32_t)(lsn & 0xffff);
	memcpy(m.payload, &session, 8);
	memcpy(m.payload + 8, &lsn, 8);
	for (unsigned i = 16; i < sizeof(m.payload); i++) {
		m.payload[i] = (uint8_t)(request * 31 + i);
	}
	return m;
}

static void expect_found(struct cairn__dedup *d, uint64_t session, uint64_t request, uint64_t lsn)
{
	const struct cairn_msg *got = cairn__dedup_find(d, session, request);
	if (!got) {
		T_FAILF("session %llx request %llu (lsn %llu) not found",
			(unsigned long long)session, (unsigned long long)request,
			(unsigned long long)lsn);
	}
	struct cairn_msg want = result_of(session, request, lsn);
	if (memcmp(got, &want, sizeof(want)) != 0) {
		uint64_t glsn;
		memcpy(&glsn, got->payload + 8, 8);
		T_FAILF("session %llx request %llu: the result of lsn %llu, expected lsn %llu",
			(unsigned long long)session, (unsigned long long)request,
			(unsigned long long)glsn, (unsigned long long)lsn);
	}
}

static void expect_missing(struct cairn__dedup *d, uint64_t session, uint64_t request)
{
	if (cairn__dedup_find(d, session, request)) {
		T_FAILF("session %llx request %llu should be forgotten",
			(unsigned long long)session, (unsigned long long)request);
	}
}

static void put(struct cairn__dedup *d, uint64_t session, uint64_t request, uint64_t lsn)
{
	struct cairn_msg m = result_of(session, request, lsn);
	ASSERT_OK(cairn__dedup_put(d, session, request, lsn, &m));
}

static void counts(struct cairn__dedup *d, uint64_t sessions, uint64_t entries)
{
	uint64_t s, e;
	cairn__dedup_count(d, &s, &e);
	ASSERT_UEQ(s, sessions);
	ASSERT_UEQ(e, entries);
}

static void test_arguments(void)
{
	struct cairn__dedup *d;
	ASSERT_EQ(cairn__dedup_new(0, 1, &d), -EINVAL);
	ASSERT_EQ(cairn__dedup_new(3, 1, &d), -EINVAL);
	ASSERT_EQ(cairn__dedup_new(1u << 21, 1, &d), -EINVAL);
	ASSERT_EQ(cairn__dedup_new(8, 0, &d), -EINVAL);
	ASSERT_OK(cairn__dedup_new(1, 1, &d));
	cairn__dedup_free(d);
	cairn__dedup_free(NULL);

	ASSERT_OK(cairn__dedup_new(8, 4, &d));
	put(d, 1, 1, 10);
	struct cairn_msg m = result_of(1, 2, 10);
	/* LSNs must grow; a refused put changes nothing. */
	ASSERT_EQ(cairn__dedup_put(d, 1, 2, 10, &m), -EINVAL);
	ASSERT_EQ(cairn__dedup_put(d, 2, 2, 9, &m), -EINVAL);
	ASSERT_EQ(cairn__dedup_put(d, 2, 2, 11, NULL), -EINVAL);
	counts(d, 1, 1);
	expect_missing(d, 1, 2);
	expect_missing(d, 2, 2);
	ASSERT_UEQ(cairn__dedup_last_lsn(d), 10);
	cairn__dedup_free(d);
}

static void test_find_put(void)
{
	struct cairn__dedup *d;
	ASSERT_OK(cairn__dedup_new(8, 16, &d));
	counts(d, 0, 0);
	expect_missing(d, 7, 1);
	uint64_t lsn = 0;
	/* Session ids and request ids of every kind: 0, sequential, huge, colliding low bits. */
	uint64_t sessions[] = {0, 1, 2, UINT64_MAX, 1ull << 32, 0x8000000000000000ull};
	uint64_t requests[] = {0, 1, 2, 3, 1ull << 40, UINT64_MAX};
	for (unsigned s = 0; s < 6; s++) {
		for (unsigned r = 0; r < 6; r++) {
			put(d, sessions[s], requests[r], ++lsn);
		}
	}
	counts(d, 6, 36);
	lsn = 0;
	for (unsigned s = 0; s < 6; s++) {
		for (unsigned r = 0; r < 6; r++) {
			expect_found(d, sessions[s], requests[r], ++lsn);
		}
		expect_missing(d, sessions[s], 4);
	}
	expect_missing(d, 3, 1);
	/* The pointer stays valid and unchanged across finds (and the session cache). */
	const struct cairn_msg *a = cairn__dedup_find(d, 1, 2);
	const struct cairn_msg *b = cairn__dedup_find(d, 2, 2);
	ASSERT_TRUE(a && b && a != b);
	ASSERT_TRUE(cairn__dedup_find(d, 1, 2) == a);
	cairn__dedup_free(d);
}

static void test_window(void)
{
	const uint32_t window = 16;
	struct cairn__dedup *d;
	ASSERT_OK(cairn__dedup_new(window, 4, &d));
	uint64_t lsn = 0;
	/* Two sessions interleaved, 100 requests each, ids going down to defeat any order. */
	for (uint64_t i = 0; i < 100; i++) {
		put(d, 5, 1000 - i, ++lsn);
		put(d, 6, i * 7919, ++lsn);
		uint64_t kept = i + 1 < window ? i + 1 : window;
		counts(d, 2, 2 * kept);
		/* Exactly the latest `window` of each session are there, oldest first to go. */
		for (uint64_t j = 0; j <= i; j++) {
			if (j + window > i) {
				expect_found(d, 5, 1000 - j, 2 * j + 1);
				expect_found(d, 6, j * 7919, 2 * j + 2);
			} else {
				expect_missing(d, 5, 1000 - j);
				expect_missing(d, 6, j * 7919);
			}
		}
	}
	cairn__dedup_free(d);

	/* A window of one. */
	ASSERT_OK(cairn__dedup_new(1, 2, &d));
	put(d, 1, 10, 1);
	put(d, 1, 11, 2);
	expect_missing(d, 1, 10);
	expect_found(d, 1, 11, 2);
	counts(d, 1, 1);
	cairn__dedup_free(d);
}

static void test_request_twice(void)
{
	struct cairn__dedup *d;
	ASSERT_OK(cairn__dedup_new(4, 4, &d));
	put(d, 1, 42, 1);
	put(d, 1, 43, 2);
	put(d, 1, 42, 3); /* the newer wins */
	expect_found(d, 1, 42, 3);
	counts(d, 1, 3);
	put(d, 1, 44, 4);
	put(d, 1, 45, 5); /* lsn 1 leaves the window: 42 still answers with lsn 3 */
	expect_found(d, 1, 42, 3);
	expect_found(d, 1, 43, 2);
	put(d, 1, 46, 6); /* lsn 2 (43) leaves */
	expect_missing(d, 1, 43);
	expect_found(d, 1, 42, 3);
	put(d, 1, 47, 7); /* lsn 3 leaves: 42 is gone for good */
	expect_missing(d, 1, 42);
	expect_found(d, 1, 47, 7);
	counts(d, 1, 4);

	/* The image keeps the shadowed entry, and a restored table behaves the same. */
	put(d, 1, 44, 8);
	struct cairn__dedup *e;
	ASSERT_OK(cairn__dedup_new(4, 4, &e));
	uint8_t *img;
	size_t len;
	ASSERT_OK(cairn__dedup_save(d, &img, &len));
	ASSERT_OK(cairn__dedup_restore(e, img, len));
	free(img);
	kit_same_dedup(d, e);
	expect_found(e, 1, 44, 8);
	for (uint64_t lsn = 9; lsn < 30; lsn++) {
		put(d, 1, 44 + lsn % 3, lsn);
		put(e, 1, 44 + lsn % 3, lsn);
		kit_same_dedup(d, e);
	}
	expect_found(e, 1, 44 + 29 % 3, 29);
	cairn__dedup_free(d);
	cairn__dedup_free(e);
}

static void test_session_eviction(void)
{
	struct cairn__dedup *d;
	ASSERT_OK(cairn__dedup_new(8, 3, &d));
	put(d, 0xA, 1, 1);
	put(d, 0xB, 1, 2);
	put(d, 0xC, 1, 3);
	put(d, 0xA, 2, 4);
	counts(d, 3, 4);
	/* D comes: B's latest entry (2) is the oldest, so B goes, whatever the ids or hashes. */
	put(d, 0xD, 1, 5);
	counts(d, 3, 4);
	expect_missing(d, 0xB, 1);
	expect_found(d, 0xA, 1, 1);
	expect_found(d, 0xC, 1, 3);
	expect_found(d, 0xD, 1, 5);
	uint64_t ids[4] = {0};
	ASSERT_UEQ(cairn__dedup_sessions(d, ids, 4), 3);
	ASSERT_UEQ(ids[0], 0xC); /* latest entries 3, 4, 5: the order they would go in */
	ASSERT_UEQ(ids[1], 0xA);
	ASSERT_UEQ(ids[2], 0xD);
	ASSERT_UEQ(cairn__dedup_sessions(d, ids, 1), 3);
	/* E: C (3) goes. Then B again: A (4) goes, and B starts empty. */
	put(d, 0xE, 1, 6);
	expect_missing(d, 0xC, 1);
	put(d, 0xB, 9, 7);
	expect_missing(d, 0xA, 1);
	expect_missing(d, 0xA, 2);
	expect_missing(d, 0xB, 1);
	expect_found(d, 0xB, 9, 7);
	counts(d, 3, 3);
	cairn__dedup_free(d);

	/*
	 * Determinism: two tables given the same puts, one of them saved and restored
	 * halfway (new memory layout, a cold session cache), forget the same sessions and
	 * end with the same image.
	 */
	struct eng_rng rng;
	eng_rng_seed(&rng, 77);
	struct cairn__dedup *x, *y;
	ASSERT_OK(cairn__dedup_new(32, 50, &x));
	ASSERT_OK(cairn__dedup_new(32, 50, &y));
	for (uint64_t lsn = 1; lsn <= 20000; lsn++) {
		uint64_t s = eng_below(&rng, 200) * 0x10000000001ull;
		uint64_t q = eng_rand(&rng) % 5000;
		put(x, s, q, lsn);
		put(y, s, q, lsn);
		if (lsn == 10000) {
			uint8_t *img;
			size_t len;
			ASSERT_OK(cairn__dedup_save(y, &img, &len));
			cairn__dedup_free(y);
			ASSERT_OK(cairn__dedup_new(32, 50, &y));
			ASSERT_OK(cairn__dedup_restore(y, img, len));
			free(img);
		}
		if (lsn % 4999 == 0) {
			kit_same_dedup(x, y);
		}
	}
	kit_same_dedup(x, y);
	uint64_t sessions;
	cairn__dedup_count(x, &sessions, NULL);
	ASSERT_UEQ(sessions, 50);
	cairn__dedup_free(x);
	cairn__dedup_free(y);
}

static void test_lazy_memory(void)
{
	struct cairn__dedup *d;
	ASSERT_OK(cairn__dedup_new(4096, 4096, &d));
	uint64_t empty = cairn__dedup_bytes(d);
	uint64_t lsn = 0;
	for (uint64_t s = 0; s < 1000; s++) {
		for (uint64_t q = 0; q < 3; q++) {
			put(d, s, q, ++lsn);
		}
	}
	uint64_t small = cairn__dedup_bytes(d) - empty;
	fprintf(stderr, "1000 sessions of 3 entries (window 4096): %llu bytes (%llu per session)\n",
		(unsigned long long)small, (unsigned long long)(small / 1000));
	/* A full window would be ~300 KiB per session; a few hundred bytes are expected. */
	ASSERT_LT(small / 1000, 1024);
	/* It grows as a session fills, up to the window, and no further. */
	for (uint64_t q = 0; q < 10000; q++) {
		put(d, 5000, q, ++lsn);
	}
	uint64_t full = cairn__dedup_bytes(d) - empty - small;
	fprintf(stderr, "one full session: %llu bytes\n", (unsigned long long)full);
	ASSERT_GE(full, 4096ull * 72);
	ASSERT_LT(full, 4096ull * 72 * 2);
	counts(d, 1001, 3000 + 4096);
	cairn__dedup_free(d);
}

/* A table of about 60 sessions with a few entries each, for the image tests. */
static struct cairn__dedup *sample_table(uint32_t window, uint32_t max_sessions)
{
	struct cairn__dedup *d;
	ASSERT_OK(cairn__dedup_new(window, max_sessions, &d));
	struct eng_rng rng;
	eng_rng_seed(&rng, 5);
	for (uint64_t lsn = 1; lsn <= 200; lsn++) {
		put(d, eng_below(&rng, 60) + 1000, eng_rand(&rng) % 50, lsn);
	}
	return d;
}

static void test_canonical_image(void)
{
	struct cairn__dedup *d = sample_table(8, 64);
	uint8_t *a;
	size_t alen;
	ASSERT_OK(cairn__dedup_save(d, &a, &alen));
	/* save -> restore -> save gives the same bytes, into a table of the same or larger size. */
	for (int k = 0; k < 3; k++) {
		struct cairn__dedup *e;
		ASSERT_OK(cairn__dedup_new(8, 64, &e));
		ASSERT_OK(cairn__dedup_restore(e, a, alen));
		uint8_t *b;
		size_t blen;
		ASSERT_OK(cairn__dedup_save(e, &b, &blen));
		ASSERT_UEQ(blen, alen);
		ASSERT_TRUE(memcmp(a, b, alen) == 0);
		uint64_t s0, e0, s1, e1;
		cairn__dedup_count(d, &s0, &e0);
		cairn__dedup_count(e, &s1, &e1);
		ASSERT_UEQ(s0, s1);
		ASSERT_UEQ(e0, e1);
		ASSERT_UEQ(cairn__dedup_last_lsn(e), 200);
		/* Restoring twice is refused. */
		ASSERT_EQ(cairn__dedup_restore(e, a, alen), -EBUSY);
		free(b);
		cairn__dedup_free(e);
	}
	struct cairn__dedup *big;
	ASSERT_OK(cairn__dedup_new(16, 100, &big));
	ASSERT_OK(cairn__dedup_restore(big, a, alen));
	uint64_t s0, e0, s1, e1;
	cairn__dedup_count(d, &s0, &e0);
	cairn__dedup_count(big, &s1, &e1);
	ASSERT_UEQ(s0, s1);
	ASSERT_UEQ(e0, e1);
	cairn__dedup_free(big);
	/* A smaller table cannot hold it. */
	struct cairn__dedup *small;
	ASSERT_OK(cairn__dedup_new(4, 64, &small));
	ASSERT_EQ(cairn__dedup_restore(small, a, alen), -CAIRN_E_BAD_SNAPSHOT);
	counts(small, 0, 0);
	cairn__dedup_free(small);
	ASSERT_OK(cairn__dedup_new(8, 32, &small));
	ASSERT_EQ(cairn__dedup_restore(small, a, alen), -CAIRN_E_BAD_SNAPSHOT);
	cairn__dedup_free(small);

	/* An empty table has an image too. */
	struct cairn__dedup *z, *z2;
	ASSERT_OK(cairn__dedup_new(8, 64, &z));
	ASSERT_OK(cairn__dedup_new(8, 64, &z2));
	uint8_t *zi;
	size_t zl;
	ASSERT_OK(cairn__dedup_save(z, &zi, &zl));
	ASSERT_OK(cairn__dedup_restore(z2, zi, zl));
	kit_same_dedup(z, z2);
	free(zi);
	cairn__dedup_free(z);
	cairn__dedup_free(z2);
	free(a);
	cairn__dedup_free(d);
}

/* Restores img into a fresh table: returns the code; an accepted image must save back identical. */
static int try_restore(const uint8_t *img, size_t len)
{
	struct cairn__dedup *e;
	ASSERT_OK(cairn__dedup_new(8, 64, &e));
	int rc = cairn__dedup_restore(e, img, len);
	if (rc == 0) {
		uint8_t *b;
		size_t blen;
		ASSERT_OK(cairn__dedup_save(e, &b, &blen));
		ASSERT_UEQ(blen, len);
		/* Only the table's own parameters (window, max_sessions) may differ. */
		for (size_t i = 0; i < len; i++) {
			if (b[i] != img[i] && (i < 12 || i >= 20)) {
				T_FAILF("an accepted image saves back differently at byte %zu", i);
			}
		}
		free(b);
	} else {
		ASSERT_EQ(rc, -CAIRN_E_BAD_SNAPSHOT);
		counts(e, 0, 0);
		ASSERT_UEQ(cairn__dedup_last_lsn(e), 0);
		/* The table is still usable. */
		put(e, 1, 1, 1);
		expect_found(e, 1, 1, 1);
	}
	cairn__dedup_free(e);
	return rc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static void test_hostile_images(void)
{
	struct cairn__dedup *d = sample_table(8, 64);
	uint8_t *img;
	size_t len;
	ASSERT_OK(cairn__dedup_save(d, &img, &len));
	cairn__dedup_free(d);
	fprintf(stderr, "hostile images: a %zu-byte image\n", len);

	/* Cut at every length, and grown by a byte. */
	for (size_t l = 0; l < len; l++) {
		ASSERT_EQ(try_restore(l ? img : NULL, l), -CAIRN_E_BAD_SNAPSHOT);
	}
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, img, len);
	longer[len] = 0;
	ASSERT_EQ(try_restore(longer, len + 1), -CAIRN_E_BAD_SNAPSHOT);
	free(longer);
	ASSERT_EQ(try_restore(img, len), 0);

	/* Bit flips: refused, or accepted only as an image that saves back the same. */
	struct eng_rng rng;
	eng_rng_seed(&rng, 99);
	uint8_t *c = malloc(len);
	unsigned accepted = 0, refused = 0;
	for (int k = 0; k < 3000; k++) {
		memcpy(c, img, len);
		unsigned flips = 1 + eng_below(&rng, 4);
		for (unsigned f = 0; f < flips; f++) {
			/* Half the flips hit the headers of the image and its sessions. */
			size_t at = eng_chance(&rng, 500) ? eng_below(&rng, 48)
							  : eng_below(&rng, (uint32_t)len);
			c[at] ^= (uint8_t)(1u << eng_below(&rng, 8));
		}
		if (try_restore(c, len) == 0) {
			accepted++;
		} else {
			refused++;
		}
	}
	fprintf(stderr, "bit flips: %u refused, %u accepted (payload bytes)\n", refused, accepted);
	ASSERT_GT(refused, 1000);

	/* Hand-made inconsistencies, each refused. */
	const size_t s0 = 32; /* the first session */
	struct {
		const char *what;
		size_t at;
		int width;
		uint64_t value;
	} cases[] = {
		{"magic", 0, 8, 0},
		{"version", 8, 4, 2},
		{"window not a power of two", 12, 4, 6},
		{"window larger than the table's", 12, 4, 16},
		{"window 0", 12, 4, 0},
		{"max_sessions 0", 16, 4, 0},
		{"max_sessions larger", 16, 4, 65},
		{"more sessions than max_sessions", 16, 4, 3},
		{"session count", 20, 4, 0xffffffff},
		{"entry count", 24, 8, 5},
		{"a session with no entries", s0 + 8, 4, 0},
		{"a session over the window", s0 + 8, 4, 9},
		{"a huge session", s0 + 8, 4, 0xffffffff},
		{"reserved bytes", s0 + 12, 4, 1},
		{"session ids out of order", s0, 8, UINT64_MAX},
		{"an LSN of 0", s0 + 16 + 8, 8, 0},
		{"LSNs going down", s0 + 16 + 8, 8, UINT64_MAX},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(c, img, len);
		if (cases[i].width == 4) {
			put_le32(c + cases[i].at, (uint32_t)cases[i].value);
		} else {
			put_le64(c + cases[i].at, cases[i].value);
		}
		if (try_restore(c, len) != -CAIRN_E_BAD_SNAPSHOT) {
			T_FAILF("accepted an image with %s", cases[i].what);
		}
	}
	free(c);
	free(img);

	/* Two sessions whose latest entries share an LSN: no log makes that. */
	struct cairn__dedup *two;
	ASSERT_OK(cairn__dedup_new(8, 64, &two));
	put(two, 1, 1, 5);
	put(two, 2, 1, 6);
	ASSERT_OK(cairn__dedup_save(two, &img, &len));
	cairn__dedup_free(two);
	/* Session 2's only entry: header 32 + session 16 + entry 72 + session 16, lsn at +8. */
	put_le64(img + 32 + 16 + 72 + 16 + 8, 5);
	ASSERT_EQ(try_restore(img, len), -CAIRN_E_BAD_SNAPSHOT);
	free(img);
}

/* Nanoseconds per find + put with `sessions` sessions whose windows are full. */
static double speed(uint32_t sessions, uint32_t window, uint64_t n)
{
	struct cairn__dedup *d;
	ASSERT_OK(cairn__dedup_new(window, 4096, &d));
	struct cairn_msg m = result_of(1, 1, 1);
	uint64_t lsn = 0;
	for (uint64_t i = 0; i < (uint64_t)sessions * window; i++) {
		ASSERT_OK(cairn__dedup_put(d, i % sessions, i, ++lsn, &m));
	}
	uint64_t t0 = kit_now();
	uint64_t hits = 0;
	for (uint64_t i = 0; i < n; i++) {
		/* Runs of the same session, as lanes deliver them. */
		uint64_t s = (i >> 5) % sessions, q = 1000000 + i;
		hits += cairn__dedup_find(d, s, q) != NULL;
		ASSERT_EQ(cairn__dedup_put(d, s, q, ++lsn, &m), 0);
	}
	uint64_t dt = kit_now() - t0;
	ASSERT_UEQ(hits, 0);
	cairn__dedup_free(d);
	return (double)dt / (double)n;
}

static void test_speed(void)
{
	const uint64_t n = KIT_SANITIZED ? 300000 : 3000000;
	double small = speed(8, 512, n), big = speed(64, 4096, n);
	fprintf(stderr,
		"find + put: %.1f ns per command with 8 sessions of 512 (cache-resident), %.1f ns "
		"with 64 full windows of 4096 (27 MB)%s\n",
		small, big, KIT_SANITIZED ? " [sanitized build]" : "");
	if (!KIT_SANITIZED) {
		ASSERT_LT(small, 500);
		ASSERT_LT(big, 1000);
	}
}

int main(void)
{
	test_arguments();
	test_find_put();
	test_window();
	test_request_twice();
	test_session_eviction();
	test_lazy_memory();
	test_canonical_image();
	test_hostile_images();
	test_speed();
	return T_PASS;
}
