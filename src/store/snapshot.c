/*
 * Snapshot files (see snapshot.h), and the durable-write helper the data directory's
 * other files use too.
 */
#include "store/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "cairn/protocol.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the snapshot header is written as it lies in memory: little-endian only");
_Static_assert(offsetof(struct cairn__snap_header, header_sum) == 120, "snapshot header_sum");

#define NAME_PREFIX "snap-"
#define LSN_DIGITS  20

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

static void snap_name(char *out, size_t n, uint64_t lsn, const char *ext)
{
	snprintf(out, n, NAME_PREFIX "%020" PRIu64 "%s", lsn, ext);
}

/* True when name is exactly snap-<20 digits><ext>; *lsn gets the number. */
static bool parse_name(const char *name, const char *ext, uint64_t *lsn)
{
	size_t plen = strlen(NAME_PREFIX), elen = strlen(ext);
	if (strlen(name) != plen + LSN_DIGITS + elen || memcmp(name, NAME_PREFIX, plen) != 0 ||
	    strcmp(name + plen + LSN_DIGITS, ext) != 0) {
		return false;
	}
	uint64_t v = 0;
	for (size_t i = plen; i < plen + LSN_DIGITS; i++) {
		if (name[i] < '0' || name[i] > '9') {
			return false;
		}
		unsigned d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return false;
		}
		v = v * 10 + d;
	}
	*lsn = v;
	return true;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		if (n == 0) {
			return -EIO; /* the file shrank under us */
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int cairn__store_write_file(int dirfd, const char *dir, const char *tmp_name, const char *name,
			    const struct iovec *iov, unsigned n, char *why, size_t whylen)
{
	int fd = openat(dirfd, tmp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		say(why, whylen, "cannot create %s/%s: %s", dir, tmp_name, strerror(e));
		return -e;
	}
	int rc = 0;
	const char *what = "writing";
	for (unsigned i = 0; i < n && rc == 0; i++) {
		rc = write_all(fd, iov[i].iov_base, iov[i].iov_len);
	}
	if (rc == 0 && fsync(fd) < 0) {
		rc = -errno;
		what = "fsync of";
	}
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		what = "closing";
	}
	if (rc < 0) {
		say(why, whylen, "%s %s/%s: %s", what, dir, tmp_name, strerror(-rc));
		unlinkat(dirfd, tmp_name, 0);
		return rc;
	}
	if (renameat(dirfd, tmp_name, dirfd, name) < 0) {
		rc = -errno;
		say(why, whylen, "renaming %s/%s to %s: %s", dir, tmp_name, name, strerror(-rc));
		unlinkat(dirfd, tmp_name, 0);
		return rc;
	}
	if (fsync(dirfd) < 0) {
		rc = -errno;
		say(why, whylen, "fsync of the directory %s: %s", dir, strerror(-rc));
		return rc;
	}
	return 0;
}

/* Every snapshot LSN in the open directory, in a new array (ascending), or -errno. */
static int list_all(int dirfd, uint64_t **lsns, size_t *count)
{
	int fd = dup(dirfd);
	if (fd < 0) {
		return -errno;
	}
	DIR *dp = fdopendir(fd);
	if (!dp) {
		int e = errno;
		close(fd);
		return -e;
	}
	rewinddir(dp);
	size_t n = 0, cap = 0;
	uint64_t *v = NULL;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		uint64_t lsn;
		if (!parse_name(de->d_name, ".snap", &lsn)) {
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			uint64_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = lsn;
	}
	closedir(dp);
	if (rc < 0) {
		free(v);
		return rc;
	}
	for (size_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		size_t j = i;
		for (; j > 0 && v[j - 1] > x; j--) {
			v[j] = v[j - 1];
		}
		v[j] = x;
	}
	*lsns = v;
	*count = n;
	return 0;
}

/* Removes every snap-*.tmp a writer left behind when it was stopped. */
static int remove_stale(int dirfd, const char *dir, char *why, size_t whylen)
{
	int fd = dup(dirfd);
	if (fd < 0) {
		return -errno;
	}
	DIR *dp = fdopendir(fd);
	if (!dp) {
		int e = errno;
		close(fd);
		return -e;
	}
	rewinddir(dp);
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		uint64_t lsn;
		if (parse_name(de->d_name, ".tmp", &lsn) && unlinkat(dirfd, de->d_name, 0) < 0 &&
		    errno != ENOENT) {
			rc = -errno;
			say(why, whylen, "cannot remove the stale %s/%s: %s", dir, de->d_name,
			    strerror(errno));
			break;
		}
	}
	closedir(dp);
	return rc;
}

int cairn__snap_write(const char *dir, const struct cairn__snap_header *hdr, const uint8_t *engine,
		      const uint8_t *dedup, unsigned keep, char *why, size_t whylen)
{
	if (!dir || !hdr || keep == 0 || (!engine && hdr->engine_len > 0) ||
	    (!dedup && hdr->dedup_len > 0)) {
		say(why, whylen, "invalid argument");
		return -EINVAL;
	}
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		int e = errno;
		say(why, whylen, "cannot open the snapshot directory %s: %s", dir, strerror(e));
		return -e;
	}
	int rc = remove_stale(dirfd, dir, why, whylen);
	if (rc < 0) {
		close(dirfd);
		return rc;
	}

	struct cairn__snap_header h = *hdr;
	h.magic = CAIRN__SNAP_MAGIC;
	h.version = CAIRN__SNAP_VERSION;
	h.header_size = sizeof(h);
	h.engine_sum = XXH3_64bits(engine, h.engine_len);
	h.dedup_sum = XXH3_64bits(dedup, h.dedup_len);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h.created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	memset(h._reserved, 0, sizeof(h._reserved));
	h.header_sum = XXH3_64bits(&h, offsetof(struct cairn__snap_header, header_sum));

	char tmp[64], name[64];
	snap_name(tmp, sizeof(tmp), h.lsn, ".tmp");
	snap_name(name, sizeof(name), h.lsn, ".snap");
	struct iovec iov[3] = {
		{.iov_base = &h, .iov_len = sizeof(h)},
		{.iov_base = (void *)engine, .iov_len = h.engine_len},
		{.iov_base = (void *)dedup, .iov_len = h.dedup_len},
	};
	rc = cairn__store_write_file(dirfd, dir, tmp, name, iov, 3, why, whylen);
	if (rc < 0) {
		close(dirfd);
		return rc;
	}

	uint64_t *lsns = NULL;
	size_t n = 0;
	rc = list_all(dirfd, &lsns, &n);
	if (rc < 0) {
		say(why, whylen, "%s/%s is on disk, but listing the older snapshots failed: %s",
		    dir, name, strerror(-rc));
		close(dirfd);
		return rc;
	}
	bool removed = false;
	for (size_t i = 0; i + keep < n; i++) {
		char old[64];
		snap_name(old, sizeof(old), lsns[i], ".snap");
		if (unlinkat(dirfd, old, 0) < 0 && errno != ENOENT) {
			rc = -errno;
			say(why, whylen, "%s/%s is on disk, but removing the older %s failed: %s",
			    dir, name, old, strerror(-rc));
			break;
		}
		removed = true;
	}
	free(lsns);
	if (rc == 0 && removed && fsync(dirfd) < 0) {
		rc = -errno;
		say(why, whylen, "%s/%s is on disk, but the fsync of the directory failed: %s", dir,
		    name, strerror(-rc));
	}
	close(dirfd);
	return rc;
}

int cairn__snap_list(const char *dir, uint64_t *lsns, unsigned max)
{
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		return -errno;
	}
	uint64_t *all;
	size_t n;
	int rc = list_all(dirfd, &all, &n);
	close(dirfd);
	if (rc < 0) {
		return rc;
	}
	unsigned out = 0;
	/*
	 * n is set: list_all returned 0. Clang 14's analyzer does not know that errno is
	 * positive after a failed call, and takes list_all's -errno for success.
	 */
	/* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.Assign) */
	for (size_t i = n; i > 0 && out < max; i--) {
		lsns[out++] = all[i - 1];
	}
	free(all);
	return (int)out;
}

int cairn__snap_read(const char *dir, uint64_t lsn, struct cairn__snap *out, char *why,
		     size_t whylen)
{
	memset(out, 0, sizeof(*out));
	snap_name(out->file, sizeof(out->file), lsn, ".snap");
	const char *f = out->file;
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, f) >= sizeof(path)) {
		say(why, whylen, "the path of %s in %s is too long", f, dir);
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		say(why, whylen, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	const int bad = -CAIRN_E_BAD_SNAPSHOT;
	int rc;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		say(why, whylen, "cannot stat %s: %s", path, strerror(-rc));
		goto fail;
	}
	uint64_t size = (uint64_t)st.st_size;
	struct cairn__snap_header *h = &out->hdr;
	if (size < sizeof(*h)) {
		rc = bad;
		say(why, whylen, "%s: %" PRIu64 " bytes, shorter than a snapshot header", f, size);
		goto fail;
	}
	if ((rc = pread_all(fd, h, sizeof(*h), 0)) < 0) {
		say(why, whylen, "reading %s: %s", path, strerror(-rc));
		goto fail;
	}
	rc = bad;
	static const uint8_t zero[sizeof(h->_reserved)];
	if (h->magic != CAIRN__SNAP_MAGIC) {
		say(why, whylen, "%s: not a cairn snapshot (bad magic)", f);
		goto fail;
	}
	if (h->header_sum != XXH3_64bits(h, offsetof(struct cairn__snap_header, header_sum))) {
		say(why, whylen, "%s: header checksum mismatch", f);
		goto fail;
	}
	if (h->version != CAIRN__SNAP_VERSION || h->header_size != sizeof(*h)) {
		say(why, whylen, "%s: version %u with a %u-byte header is not supported (%u, %zu)",
		    f, h->version, h->header_size, CAIRN__SNAP_VERSION, sizeof(*h));
		goto fail;
	}
	if (h->lsn != lsn || memcmp(h->_reserved, zero, sizeof(zero)) != 0 ||
	    (h->lsn == 0 && h->prev_sum != 0)) {
		say(why, whylen,
		    "%s: the header says LSN %" PRIu64 " (or is otherwise inconsistent)", f,
		    h->lsn);
		goto fail;
	}
	if (h->engine_len > size - sizeof(*h) ||
	    h->dedup_len != size - sizeof(*h) - h->engine_len) {
		say(why, whylen,
		    "%s: %" PRIu64 " bytes, but the header says %zu + %" PRIu64 " + %" PRIu64
		    " (truncated or grown)",
		    f, size, sizeof(*h), h->engine_len, h->dedup_len);
		goto fail;
	}
	out->engine = malloc(h->engine_len ? h->engine_len : 1);
	out->dedup = malloc(h->dedup_len ? h->dedup_len : 1);
	if (!out->engine || !out->dedup) {
		rc = -ENOMEM;
		say(why, whylen, "%s: out of memory for %" PRIu64 " bytes", f, size);
		goto fail;
	}
	if ((rc = pread_all(fd, out->engine, h->engine_len, sizeof(*h))) < 0 ||
	    (rc = pread_all(fd, out->dedup, h->dedup_len, sizeof(*h) + h->engine_len)) < 0) {
		say(why, whylen, "reading %s: %s", path, strerror(-rc));
		goto fail;
	}
	rc = bad;
	if (XXH3_64bits(out->engine, h->engine_len) != h->engine_sum) {
		say(why, whylen, "%s: engine image checksum mismatch (the file is damaged)", f);
		goto fail;
	}
	if (XXH3_64bits(out->dedup, h->dedup_len) != h->dedup_sum) {
		say(why, whylen, "%s: exactly-once table checksum mismatch (the file is damaged)",
		    f);
		goto fail;
	}
	close(fd);
	return 0;
fail:
	close(fd);
	cairn__snap_release(out);
	snap_name(out->file, sizeof(out->file), lsn, ".snap");
	return rc;
}

void cairn__snap_release(struct cairn__snap *s)
{
	if (!s) {
		return;
	}
	free(s->engine);
	free(s->dedup);
	memset(s, 0, sizeof(*s));
}
