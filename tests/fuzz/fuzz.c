/*
 * The helpers of fuzz.h that are not inline: input splitting, the scratch directory and
 * the count of open descriptors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "fuzz.h"

const uint8_t *fz_split(struct fz *f, const void *sep, size_t sep_len, size_t *len)
{
	const uint8_t *p = f->p;
	const uint8_t *at = sep_len && f->n >= sep_len ? memmem(p, f->n, sep, sep_len) : NULL;
	if (!at) {
		*len = f->n;
		f->p += f->n;
		f->n = 0;
		return p;
	}
	*len = (size_t)(at - p);
	f->p = at + sep_len;
	f->n -= *len + sep_len;
	return p;
}

static char tmpdir[PATH_MAX];

static void remove_tmpdir(void)
{
	if (tmpdir[0]) {
		fz_clear_dir(tmpdir);
		rmdir(tmpdir);
		tmpdir[0] = '\0';
	}
}

/*
 * Removes the scratch directories of runs that are gone (named cairn-fuzz.PID.XXXXXX):
 * libFuzzer ends some runs with _Exit, and a crash ends them with abort, neither of
 * which runs remove_tmpdir.
 */
static void remove_stale(const char *base)
{
	DIR *d = opendir(base);
	if (!d) {
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		long pid;
		char path[PATH_MAX];
		if (sscanf(e->d_name, "cairn-fuzz.%ld.", &pid) != 1 || pid <= 0) {
			continue;
		}
		/* Alive, or not ours to judge (another user's). */
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
			continue;
		}
		int n = snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		if (n > 0 && (size_t)n < sizeof(path)) {
			fz_clear_dir(path);
			rmdir(path);
		}
	}
	closedir(d);
}

const char *fz_tmpdir(void)
{
	if (!tmpdir[0]) {
		/*
		 * The code under test fsyncs what it writes (WAL cuts, snapshots): on a disk
		 * that costs milliseconds a run, on tmpfs nothing. $CAIRN_FUZZ_TMPDIR, else
		 * /dev/shm when it can be written, else $TMPDIR or /tmp.
		 */
		const char *base = getenv("CAIRN_FUZZ_TMPDIR");
		if (!base || !*base) {
			base = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
		}
		if (!base || !*base) {
			base = "/tmp";
		}
		remove_stale(base);
		int n = snprintf(tmpdir, sizeof(tmpdir), "%s/cairn-fuzz.%ld.XXXXXX", base,
				 (long)getpid());
		FZ_SETUP(n > 0 && (size_t)n < sizeof(tmpdir), "TMPDIR is too long");
		FZ_SETUP(mkdtemp(tmpdir) != NULL, "cannot make a directory under TMPDIR");
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

/* Removes every entry of dir, directories included (a target may make them). */
static void clear_at(int dfd)
{
	DIR *d = fdopendir(dfd);
	FZ_SETUP(d != NULL, "cannot list a scratch directory");
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
			continue;
		}
		int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0) {
			clear_at(sub);
			unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

void fz_clear_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		clear_at(dfd);
	}
}

void fz_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	FZ_SETUP(n > 0 && (size_t)n < sizeof(path), "path too long");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FZ_SETUP(fd >= 0, "cannot create a scratch file");
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		FZ_SETUP(w > 0, "cannot write a scratch file");
		p += w;
		len -= (size_t)w;
	}
	close(fd);
}

int fz_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		return -1;
	}
	int n = 0;
	while (readdir(d)) {
		n++;
	}
	closedir(d);
	return n;
}
