/*
 * Seals: what a peer holding a segment's descriptor can no longer do.
 *
 * The state segment, once sealed read-only, cannot be mapped writable by anyone (not
 * even through a fresh open of /proc/self/fd), a read-only mapping cannot be upgraded,
 * and the file can neither change size nor be written with write(2) - while the
 * daemon's mapping made before the seal keeps writing. A lane is only size-sealed: both
 * sides map it writable, but nobody can shrink it under the other's mapping (SIGBUS)
 * or grow it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "shm/segment.h"

#define PAGE 4096u

/* A call that must fail with -1 and errno e. */
#define ASSERT_FAILS_WITH(call, e)                                                                 \
	do {                                                                                       \
		errno = 0;                                                                         \
		long long _r = (long long)(call);                                                  \
		int _e = errno;                                                                    \
		if (_r != -1 || _e != (e))                                                         \
			T_FAILF("%s: returned %lld, errno %d (%s) vs -1, errno %d (%s)", #call,    \
				_r, _e, strerror(_e), (e), strerror(e));                           \
	} while (0)

static void test_state_readonly(void)
{
	struct cairn__state_layout l;
	int fd;
	void *rw, *ro, *p;
	cairn__state_plan(&l, 0, 0, 8);
	ASSERT_OK(cairn__memfd_new("state", l.size, &fd));
	/* The daemon maps it writable first: the seal forbids only future writable maps. */
	ASSERT_OK(cairn__map(fd, l.size, true, &rw));
	cairn__state_init(rw, &l, 8, -1, -1);
	ASSERT_OK(cairn__seal_readonly(fd));

	int seals = fcntl(fd, F_GET_SEALS);
	int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
	ASSERT_EQ(seals & want, want);

	/* No new writable shared mapping, by mmap or by the helper. */
	ASSERT_TRUE(mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	ASSERT_EQ(errno, EPERM);
	ASSERT_EQ(cairn__map(fd, l.size, true, &p), -EPERM);

	/* Read-only works, and cannot be turned writable afterwards. */
	ASSERT_OK(cairn__map(fd, l.size, false, &ro));
	ASSERT_EQ(cairn__state_validate(ro, l.size), 0);
	ASSERT_FAILS_WITH(mprotect(ro, l.size, PROT_READ | PROT_WRITE), EACCES);

	/* No size change either way, no write(2). */
	ASSERT_FAILS_WITH(ftruncate(fd, (off_t)l.size * 2), EPERM);
	ASSERT_FAILS_WITH(ftruncate(fd, (off_t)l.size / 2), EPERM);
	ASSERT_FAILS_WITH(ftruncate(fd, 0), EPERM);
	uint64_t junk = 0x4141414141414141u;
	ASSERT_FAILS_WITH(pwrite(fd, &junk, sizeof(junk), 0), EPERM);
	ASSERT_FAILS_WITH(pwrite(fd, &junk, sizeof(junk), (off_t)l.size), EPERM);
	uint64_t size;
	ASSERT_OK(cairn__fd_size(fd, &size));
	ASSERT_UEQ(size, l.size);

	/* The seals themselves are sealed: nobody can add or remove one. */
	ASSERT_FAILS_WITH(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);

	/* Reopening the file through /proc gives a new description of the same sealed file. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int fd2 = open(path, O_RDWR | O_CLOEXEC);
	if (fd2 >= 0) {
		ASSERT_TRUE(mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0) ==
			    MAP_FAILED);
		ASSERT_EQ(errno, EPERM);
		ASSERT_FAILS_WITH(ftruncate(fd2, 0), EPERM);
		close(fd2);
	} else {
		fprintf(stderr, "# /proc/self/fd not available (%s): reopen not checked\n",
			strerror(errno));
	}

	/* The daemon's own mapping still writes, and readers see it. */
	struct cairn_state_header *w = rw;
	const struct cairn_state_header *r = ro;
	w->heartbeat_ns = 0x1122334455667788u;
	w->daemon_state = CAIRN_DAEMON_RUNNING;
	ASSERT_UEQ(r->heartbeat_ns, 0x1122334455667788u);
	ASSERT_UEQ(r->daemon_state, CAIRN_DAEMON_RUNNING);

	ASSERT_EQ(munmap(ro, l.size), 0);
	ASSERT_EQ(munmap(rw, l.size), 0);
	close(fd);
}

static void test_lane_size_sealed(void)
{
	struct cairn__lane_layout l, got;
	int fd;
	void *a, *b;
	ASSERT_OK(cairn__lane_plan(64, 64, PAGE, &l));
	ASSERT_OK(cairn__memfd_new("lane", l.size, &fd));
	ASSERT_OK(cairn__seal_size(fd));

	int seals = fcntl(fd, F_GET_SEALS);
	ASSERT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
	ASSERT_EQ(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE), 0);

	ASSERT_FAILS_WITH(ftruncate(fd, (off_t)l.size + PAGE), EPERM);
	ASSERT_FAILS_WITH(ftruncate(fd, (off_t)l.size - PAGE), EPERM);
	ASSERT_FAILS_WITH(ftruncate(fd, 0), EPERM);
	/* write(2) within the file is allowed, past its end it would grow it. */
	uint64_t v = 7;
	ASSERT_FAILS_WITH(pwrite(fd, &v, sizeof(v), (off_t)l.size), EPERM);
	ASSERT_EQ(pwrite(fd, &v, sizeof(v), (off_t)l.blob_offset), (ssize_t)sizeof(v));

	/* Both sides map it writable and see each other's writes. */
	ASSERT_OK(cairn__map(fd, l.size, true, &a));
	ASSERT_OK(cairn__map(fd, l.size, true, &b));
	cairn__lane_init(a, &l, 5, 99);
	ASSERT_EQ(cairn__lane_validate(b, l.size, &got), 0);
	ASSERT_UEQ(((struct cairn_lane_header *)b)->client_id, 99);
	memset((char *)b + l.blob_offset, 0xAB, l.blob_size);
	ASSERT_EQ(((unsigned char *)a)[l.blob_offset + l.blob_size - 1], 0xAB);

	uint64_t size;
	ASSERT_OK(cairn__fd_size(fd, &size));
	ASSERT_UEQ(size, l.size);
	ASSERT_EQ(munmap(a, l.size), 0);
	ASSERT_EQ(munmap(b, l.size), 0);
	close(fd);
}

int main(void)
{
	test_state_readonly();
	test_lane_size_sealed();
	printf("seals: state read-only and lane size seals hold\n");
	return T_PASS;
}
