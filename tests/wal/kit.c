#include "kit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

const struct kit_backend kit_backends[2] = {
	{"io_uring", CAIRN__WAL_URING},
	{"sync", CAIRN__WAL_SYNC},
};

char *kit_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	if (!base || !*base) {
		base = "/tmp";
	}
	size_t n = strlen(base) + strlen(tag) + 32;
	char *p = malloc(n);
	ASSERT_TRUE(p != NULL);
	snprintf(p, n, "%s/cairn-wal-%s-XXXXXX", base, tag);
	if (!mkdtemp(p)) {
		T_FAILF("mkdtemp %s: %s", p, strerror(errno));
	}
	return p;
}

void kit_rmrf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			kit_rmrf(p);
		} else {
			unlink(p);
		}
	}
	closedir(d);
	rmdir(dir);
}

bool kit_backend_usable(const struct kit_backend *b, char *why, size_t whylen)
{
	char *dir = kit_tmpdir("probe");
	struct cairn__wal_config cfg = {.dir = dir, .backend = b->backend, .segment_size = KIT_MIB};
	struct cairn__wal *w;
	int r = cairn__wal_open(&cfg, NULL, &w, why, whylen);
	if (r == 0) {
		cairn__wal_close(w);
	}
	kit_rmrf(dir);
	free(dir);
	return r == 0;
}

const struct kit_backend *kit_backend_arg(int argc, char **argv)
{
	for (int i = 0; i < 2 && argc > 1; i++) {
		if (strcmp(argv[1], kit_backends[i].name) == 0) {
			char why[384];
			if (!kit_backend_usable(&kit_backends[i], why, sizeof(why))) {
				T_SKIP_BECAUSE("the %s backend cannot be used here: %s", argv[1],
					       why);
			}
			return &kit_backends[i];
		}
	}
	T_FAILF("usage: %s io_uring|sync", argv[0]);
}

const char *kit_seg_path(const char *dir, uint64_t seq)
{
	static char bufs[4][4096];
	static unsigned i;
	char *p = bufs[i++ % 4];
	snprintf(p, sizeof(bufs[0]), "%s/wal-%016llx.seg", dir, (unsigned long long)seq);
	return p;
}

uint32_t kit_body_len(uint64_t seed, uint64_t lsn, uint32_t big_every)
{
	uint64_t x = kit_mix(seed ^ kit_mix(lsn));
	if (big_every && x % big_every == 0) {
		return 100 * 1024 + (uint32_t)(kit_mix(x) % (200 * 1024));
	}
	switch (x % 10) {
	case 0:
		return 0;
	case 1:
		return 1 + (uint32_t)((x >> 8) % 4096);
	default:
		return (uint32_t)((x >> 8) % 201);
	}
}

void kit_body_fill(uint64_t seed, uint64_t lsn, uint8_t *buf, uint32_t len)
{
	uint64_t s = kit_mix(seed + lsn * 31);
	uint32_t i = 0;
	for (; i + 8 <= len; i += 8) {
		s = kit_mix(s);
		uint64_t v = s | UINT64_C(0x0101010101010101);
		memcpy(buf + i, &v, 8);
	}
	s = kit_mix(s);
	for (; i < len; i++) {
		buf[i] = (uint8_t)((s >> (8 * (i % 8))) | 1);
	}
}

static uint32_t len_for(kit_len_fn len_of, uint64_t seed, uint64_t lsn)
{
	return len_of ? len_of(seed, lsn) : kit_body_len(seed, lsn, 0);
}

static uint8_t *body_buf(uint32_t len)
{
	static uint8_t *buf;
	static uint32_t cap;
	if (len > cap || !buf) {
		free(buf);
		cap = len > 4096 ? len : 4096;
		buf = malloc(cap);
		ASSERT_TRUE(buf != NULL);
	}
	return buf;
}

static void append_one(struct cairn__wal *w, uint64_t seed, uint64_t lsn, kit_len_fn len_of)
{
	uint32_t len = len_for(len_of, seed, lsn);
	uint8_t *buf = body_buf(len);
	kit_body_fill(seed, lsn, buf, len);
	/* Two pieces, to exercise the gather. */
	struct iovec iov[2] = {{buf, len / 3}, {buf + len / 3, len - len / 3}};
	for (;;) {
		int64_t r = cairn__wal_append(w, (uint16_t)(1 + lsn % 2), iov, 2);
		if (r == -ENOBUFS) {
			/* The idiom of wal.h: kick, wait for the next batch if any is pending. */
			ASSERT_OK(cairn__wal_kick(w));
			uint64_t durable = cairn__wal_poll(w);
			if (durable < cairn__wal_appended(w)) {
				ASSERT_OK(cairn__wal_wait(w, durable + 1, -1));
			}
			continue;
		}
		ASSERT_OK(r);
		ASSERT_UEQ(r, lsn);
		return;
	}
}

void kit_append(struct cairn__wal *w, uint64_t seed, uint64_t first, uint64_t count,
		kit_len_fn len_of, unsigned kick_every)
{
	for (uint64_t i = 0; i < count; i++) {
		append_one(w, seed, first + i, len_of);
		if (kick_every && (i + 1) % kick_every == 0) {
			ASSERT_OK(cairn__wal_kick(w));
			cairn__wal_poll(w);
		}
	}
}

void kit_batch(struct cairn__wal *w, uint64_t seed, uint64_t first, uint64_t count,
	       kit_len_fn len_of)
{
	ASSERT_UEQ(cairn__wal_poll(w), cairn__wal_appended(w));
	ASSERT_TRUE(!cairn__wal_busy(w));
	for (uint64_t i = 0; i < count; i++) {
		uint32_t len = len_for(len_of, seed, first + i);
		uint8_t *buf = body_buf(len);
		kit_body_fill(seed, first + i, buf, len);
		struct iovec iov = {buf, len};
		int64_t r = cairn__wal_append(w, (uint16_t)(1 + (first + i) % 2), &iov, 1);
		ASSERT_OK(r);
		ASSERT_UEQ(r, first + i);
	}
	ASSERT_OK(cairn__wal_wait(w, first + count - 1, -1));
}

struct cairn__wal *kit_open(const char *dir, enum cairn__wal_backend b, uint64_t segment_size,
			    uint32_t batch_bytes, const struct cairn__wal_resume *resume)
{
	struct cairn__wal_config cfg = {
		.dir = dir, .backend = b, .segment_size = segment_size, .batch_bytes = batch_bytes};
	struct cairn__wal *w;
	char why[256];
	int r = cairn__wal_open(&cfg, resume, &w, why, sizeof(why));
	if (r < 0) {
		T_FAILF("cairn__wal_open(%s): %d %s", dir, r, why);
	}
	return w;
}

void kit_read_all(const char *dir, uint64_t from_lsn, uint64_t seed, kit_len_fn len_of,
		  struct kit_read *out)
{
	memset(out, 0, sizeof(*out));
	struct cairn__wal_reader *r;
	char why[256];
	int e = cairn__wal_reader_open(dir, from_lsn, &r, why, sizeof(why));
	if (e < 0) {
		T_FAILF("cairn__wal_reader_open(%s): %d %s", dir, e, why);
	}
	struct cairn__wal_record rec;
	uint8_t *want = NULL;
	uint32_t cap = 0;
	while ((e = cairn__wal_reader_next(r, &rec)) == 1) {
		if (out->records == 0) {
			out->first = rec.lsn;
		} else {
			ASSERT_UEQ(rec.lsn, out->last + 1);
		}
		uint32_t len = len_for(len_of, seed, rec.lsn);
		if (rec.length != len) {
			T_FAILF("LSN %llu: body of %u bytes, expected %u",
				(unsigned long long)rec.lsn, rec.length, len);
		}
		if (len > cap) {
			free(want);
			cap = len;
			want = malloc(cap);
			ASSERT_TRUE(want != NULL);
		}
		kit_body_fill(seed, rec.lsn, want, len);
		if (len && memcmp(want, rec.body, len) != 0) {
			T_FAILF("LSN %llu: body differs", (unsigned long long)rec.lsn);
		}
		ASSERT_EQ(rec.kind, 1 + rec.lsn % 2);
		out->records++;
		out->last = rec.lsn;
		out->last_seq = rec.seq;
		out->last_offset = rec.offset;
		out->last_sum = rec.header_sum;
	}
	free(want);
	if (e < 0) {
		T_FAILF("cairn__wal_reader_next: %d (%s)", e, strerror(-e));
	}
	cairn__wal_reader_end(r, &out->end);
	cairn__wal_reader_resume(r, &out->resume);
	uint64_t done, total;
	cairn__wal_reader_progress(r, &done, &total);
	ASSERT_UEQ(done, total);
	cairn__wal_reader_close(r);
}

uint8_t *kit_slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		T_FAILF("open %s: %s", path, strerror(errno));
	}
	struct stat st;
	ASSERT_EQ(fstat(fd, &st), 0);
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	ASSERT_TRUE(buf != NULL);
	ASSERT_EQ(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

void kit_spit(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		T_FAILF("open %s: %s", path, strerror(errno));
	}
	ASSERT_EQ(pwrite(fd, buf, len, 0), (ssize_t)len);
	close(fd);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

uint64_t kit_dir_hash(const char *dir)
{
	DIR *d = opendir(dir);
	ASSERT_TRUE(d != NULL);
	char *names[1024];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 1024) {
		if (e->d_name[0] != '.') {
			names[n++] = strdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	for (size_t i = 0; i < n; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		size_t len;
		uint8_t *buf = kit_slurp(p, &len);
		XXH3_64bits_update(st, names[i], strlen(names[i]) + 1);
		XXH3_64bits_update(st, &len, sizeof(len));
		XXH3_64bits_update(st, buf, len);
		free(buf);
		free(names[i]);
	}
	uint64_t h = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return h;
}

void kit_flip(const char *path, uint64_t off, unsigned bit)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	uint8_t b;
	ASSERT_EQ(pread(fd, &b, 1, (off_t)off), 1);
	b ^= (uint8_t)(1u << (bit % 8));
	ASSERT_EQ(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

void kit_scribble(const char *path, uint64_t off, uint64_t len, int v, uint64_t seed)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	uint8_t *buf = malloc(len ? len : 1);
	ASSERT_TRUE(buf != NULL);
	ssize_t got = pread(fd, buf, len, (off_t)off);
	ASSERT_TRUE(got >= 0);
	for (uint64_t i = 0; i < len; i++) {
		if (v >= 0) {
			buf[i] = (uint8_t)v;
		} else {
			uint8_t x = (uint8_t)kit_mix(seed + i);
			buf[i] = (uint8_t)(((uint64_t)i < (uint64_t)got ? buf[i] : 0) ^
					   (x ? x : 0x5a));
		}
	}
	ASSERT_EQ(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	free(buf);
	close(fd);
}

unsigned kit_count(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	ASSERT_TRUE(d != NULL);
	unsigned n = 0;
	size_t sl = strlen(suffix);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0) {
			n++;
		}
	}
	closedir(d);
	return n;
}
