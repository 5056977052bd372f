/*
 * Helpers shared by the store tests (see kit.h).
 */
#include "kit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *tmpdirs[64];
static unsigned n_tmpdirs;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void kit_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	const char *keep = getenv("CAIRN_KEEP_TMP");
	for (unsigned i = 0; i < n_tmpdirs; i++) {
		if (!keep || strcmp(keep, "1") != 0) {
			kit_rmtree(tmpdirs[i]);
		}
		free(tmpdirs[i]);
	}
	n_tmpdirs = 0;
}

char *kit_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char tmpl[512];
	snprintf(tmpl, sizeof(tmpl), "%s/cairn-%s-XXXXXX", base && *base ? base : "/tmp", tag);
	char *d = mkdtemp(tmpl);
	if (!d) {
		T_FAILF("mkdtemp %s: %s", tmpl, strerror(errno));
	}
	if (n_tmpdirs == 0) {
		atexit(cleanup);
	}
	ASSERT_TRUE(n_tmpdirs < 64);
	tmpdirs[n_tmpdirs] = strdup(d);
	ASSERT_TRUE(tmpdirs[n_tmpdirs] != NULL);
	return tmpdirs[n_tmpdirs++];
}

const char *kit_path(const char *dir, const char *name)
{
	static char bufs[8][1024];
	static unsigned k;
	char *b = bufs[k++ & 7];
	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

void kit_mkdir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		T_FAILF("mkdir %s: %s", path, strerror(errno));
	}
}

bool kit_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

uint8_t *kit_read(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return NULL;
	}
	struct stat st;
	ASSERT_EQ(fstat(fd, &st), 0);
	uint8_t *b = malloc((size_t)st.st_size + 1);
	ASSERT_TRUE(b != NULL);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, b + got, (size_t)st.st_size - got);
		ASSERT_GT(k, 0);
		got += (size_t)k;
	}
	close(fd);
	b[got] = 0;
	*len = got;
	return b;
}

void kit_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		T_FAILF("create %s: %s", path, strerror(errno));
	}
	ASSERT_EQ(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void kit_flip(const char *path, uint64_t off, unsigned bit)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		T_FAILF("open %s: %s", path, strerror(errno));
	}
	uint8_t b;
	ASSERT_EQ(pread(fd, &b, 1, (off_t)off), 1);
	b ^= (uint8_t)(1u << bit);
	ASSERT_EQ(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static uint64_t digest;

static int digest_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	digest = eng_fnv(digest, path, strlen(path) + 1);
	if (flag == FTW_F && S_ISREG(st->st_mode)) {
		size_t len;
		uint8_t *b = kit_read(path, &len);
		ASSERT_TRUE(b != NULL);
		digest = eng_fnv(digest, &len, sizeof(len));
		digest = eng_fnv(digest, b, len);
		free(b);
	}
	return 0;
}

uint64_t kit_tree_digest(const char *dir)
{
	/* nftw walks in directory order, which is stable for an unchanged directory. */
	digest = ENG_FNV_OFFSET;
	nftw(dir, digest_one, 16, FTW_PHYS);
	return digest;
}

uint64_t kit_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void kit_live_open(struct kit_live *l, uint64_t seed, uint32_t window, uint32_t max_sessions)
{
	memset(l, 0, sizeof(*l));
	eng_open(&l->t, NULL, false);
	eng_world_init(&l->w, seed, 30);
	ASSERT_OK(cairn__dedup_new(window, max_sessions, &l->dedup));
	for (unsigned i = 0; i < KIT_SESSIONS; i++) {
		l->sessions[i] =
			(seed + 1) * 0x9e3779b97f4a7c15ull ^ (i + 1) * 0xbf58476d1ce4e5b9ull;
	}
}

void kit_live_close(struct kit_live *l)
{
	eng_close(&l->t);
	eng_world_fini(&l->w);
	cairn__dedup_free(l->dedup);
	free(l->saved_img);
	memset(l, 0, sizeof(*l));
}

void kit_live_next(struct kit_live *l, struct cairn__wal_command *body)
{
	for (;;) {
		uint64_t stamp;
		struct cairn_msg m = eng_world_next(&l->w, &stamp);
		uint32_t k = eng_below(&l->w.rng, 100);
		/* Session 0 of the kit is busy, the last one rare; 3 % of requests have id 0. */
		unsigned s = k < 40 ? 0 : k < 99 ? 1 + k % (KIT_SESSIONS - 2) : KIT_SESSIONS - 1;
		m.hdr.request_id = eng_below(&l->w.rng, 100) < 3 ? 0 : ++l->next_request;
		int rc = cairn__engine_apply(l->t.e, &m, stamp, &l->t.blob, &l->t.out);
		eng_world_learn(&l->w, &l->t.out);
		if (rc == 0 && cairn__engine_mutates(m.hdr.type)) {
			memset(body, 0, sizeof(*body));
			body->session = l->sessions[s];
			body->ingress_ns = stamp;
			body->msg = m;
			l->last_ingress_ns = stamp;
			return;
		}
	}
}

void kit_live_save_hunt(struct kit_live *l)
{
	if (l->w.n_hunts == 0) {
		return;
	}
	const struct eng_whunt *h = &l->w.hunts[eng_below(&l->w.rng, l->w.n_hunts)];
	free(l->saved_img);
	l->saved_img = NULL;
	ASSERT_OK(cairn__engine_hunt_save(l->t.e, h->id, &l->saved_img, &l->saved_len));
	l->saved_hunt = h->id;
	l->saved_lsn = l->lsn;
}

bool kit_live_rollback(struct kit_live *l, uint64_t lsn, struct cairn__wal_command *body,
		       const uint8_t **img, size_t *len)
{
	if (!l->saved_img) {
		return false;
	}
	uint32_t players, clues;
	int rc = cairn__engine_hunt_replace(l->t.e, l->saved_hunt, l->saved_img, l->saved_len,
					    l->saved_lsn, &players, &clues);
	if (rc < 0) {
		return false;
	}
	struct cairn_rollback rb = {.hunt_id = l->saved_hunt, .lsn = l->saved_lsn};
	memset(body, 0, sizeof(*body));
	body->session = l->sessions[KIT_SESSIONS - 1];
	body->ingress_ns = l->last_ingress_ns + 1;
	l->last_ingress_ns++;
	body->msg.hdr.type = CAIRN_MSG_ROLLBACK;
	body->msg.hdr.length = CAIRN_MSG_ROLLBACK_LEN_MIN;
	body->msg.hdr.request_id = ++l->next_request;
	memcpy(body->msg.payload, &rb, sizeof(rb));
	cairn__rollback_result(&body->msg, lsn, players, clues, &l->t.out);
	*img = l->saved_img;
	*len = l->saved_len;
	l->rollbacks++;
	/*
	 * The world model no longer knows where the hunt's players and clues are; it only
	 * generates commands, and the engine refuses the ones that no longer fit.
	 */
	return true;
}

void kit_live_commit(struct kit_live *l, uint64_t lsn, const struct cairn__wal_command *body)
{
	ASSERT_UEQ(lsn, l->lsn + 1);
	l->lsn = lsn;
	if (body->msg.hdr.request_id != 0) {
		ASSERT_OK(cairn__dedup_put(l->dedup, body->session, body->msg.hdr.request_id, lsn,
					   &l->t.out));
	}
}

void kit_replica(struct cairn__replica *r, uint32_t window, uint32_t max_sessions)
{
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	ASSERT_OK(cairn__replica_new(&cfg, window, max_sessions, r));
}

struct cairn__wal_record kit_record(uint64_t lsn, uint16_t kind, const void *body, uint32_t len)
{
	struct cairn__wal_record rec;
	memset(&rec, 0, sizeof(rec));
	rec.lsn = lsn;
	rec.kind = kind;
	rec.length = len;
	rec.body = body;
	rec.header_sum = lsn * 0x9e3779b97f4a7c15ull + 1;
	return rec;
}

void kit_same_dedup(const struct cairn__dedup *a, const struct cairn__dedup *b)
{
	uint8_t *x, *y;
	size_t xl, yl;
	ASSERT_OK(cairn__dedup_save(a, &x, &xl));
	ASSERT_OK(cairn__dedup_save(b, &y, &yl));
	ASSERT_UEQ(xl, yl);
	for (size_t i = 0; i < xl; i++) {
		if (x[i] != y[i]) {
			T_FAILF("the exactly-once tables differ at byte %zu of %zu: %u vs %u", i,
				xl, x[i], y[i]);
		}
	}
	free(x);
	free(y);
}
