/*
 * cairn__map_load: the map's name comes from the file name, and a file that cannot be
 * read is answered with -errno and a message naming the file and the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "map/map.h"

#define SMALL_MAP "type octile\nheight 2\nwidth 3\nmap\n.@G\nSTW\n"

static char dir[PATH_MAX];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Whether the test passes or fails, it leaves no files behind. */
static void remove_dir(void)
{
	nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *path_in_dir(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	ASSERT_TRUE(n > 0 && (size_t)n < size);
	return buf;
}

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(write(fd, text, len), (long long)len);
	ASSERT_EQ(close(fd), 0);
}

/* Loads path, expecting error want with a message that holds each of says[]. */
static void expect_error(const char *path, int want, const char *const *says)
{
	struct cairn__map *m = (struct cairn__map *)(uintptr_t)1;
	struct cairn__map_error err;
	int r = cairn__map_load(path, &m, &err);
	if (r != want) {
		T_FAILF("%s: returned %d (%s), want %d (%s): %s", path, r, cairn_strerror(r), want,
			cairn_strerror(want), err.message);
	}
	ASSERT_TRUE(m == NULL);
	for (; *says; says++) {
		if (!strstr(err.message, *says)) {
			T_FAILF("%s: message \"%s\" does not say \"%s\"", path, err.message, *says);
		}
	}
}

static void test_names(void)
{
	static const struct {
		const char *file;
		const char *name;
	} cases[] = {
		{"arena.map", "arena"},
		{"two.map.map", "two.map"},
		{"no-extension", "no-extension"},
		{"arena.MAP", "arena.MAP"},
		{".map", ".map"},
		{"a-name-that-is-much-longer-than-forty-bytes-in-all.map",
		 "a-name-that-is-much-longer-than-forty-b"},
	};
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path_in_dir(path, sizeof(path), cases[i].file);
		write_file(path, SMALL_MAP, strlen(SMALL_MAP));
		struct cairn__map *m = NULL;
		struct cairn__map_error err;
		int r = cairn__map_load(path, &m, &err);
		if (r != 0) {
			T_FAILF("%s: returned %d: %s", path, r, err.message);
		}
		ASSERT_STREQ(m->name, cases[i].name);
		ASSERT_UEQ(m->width, 3);
		ASSERT_UEQ(m->height, 2);
		ASSERT_UEQ(m->passable, 3);
		cairn__map_free(m);
		ASSERT_EQ(unlink(path), 0);
	}

	/* A relative path with no directory, and err left NULL. */
	ASSERT_EQ(chdir(dir), 0);
	write_file("here.map", SMALL_MAP, strlen(SMALL_MAP));
	struct cairn__map *m = NULL;
	ASSERT_OK(cairn__map_load("here.map", &m, NULL));
	ASSERT_STREQ(m->name, "here");
	cairn__map_free(m);
	ASSERT_EQ(unlink("here.map"), 0);
}

static void test_unreadable(void)
{
	char path[PATH_MAX];

	path_in_dir(path, sizeof(path), "missing.map");
	expect_error(path, -ENOENT,
		     (const char *const[]){"cannot read ", path, strerror(ENOENT), NULL});

	expect_error(dir, -EISDIR, (const char *const[]){dir, strerror(EISDIR), NULL});

	/* A path too long to quote whole: the reason and the file's name survive. */
	char name[220];
	memset(name, 'a', 200);
	strcpy(name + 200, "-tail.map");
	path_in_dir(path, sizeof(path), name);
	expect_error(
		path, -ENOENT,
		(const char *const[]){"cannot read ...", "aaa-tail.map: ", strerror(ENOENT), NULL});

	/* Permissions do not stop root. */
	if (geteuid() != 0) {
		path_in_dir(path, sizeof(path), "secret.map");
		write_file(path, SMALL_MAP, strlen(SMALL_MAP));
		ASSERT_EQ(chmod(path, 0), 0);
		expect_error(path, -EACCES, (const char *const[]){path, strerror(EACCES), NULL});
		ASSERT_EQ(unlink(path), 0);
	}
}

static void test_bad_contents(void)
{
	char path[PATH_MAX];

	path_in_dir(path, sizeof(path), "empty.map");
	write_file(path, "", 0);
	expect_error(path, -CAIRN_E_BAD_MAP, (const char *const[]){"the map is empty", NULL});
	ASSERT_EQ(unlink(path), 0);

	path_in_dir(path, sizeof(path), "bad.map");
	write_file(path, "type octile\nheight 2\nwidth 3\nmap\n.@G\nSTx\n", 40);
	struct cairn__map *m = NULL;
	struct cairn__map_error err;
	ASSERT_EQ(cairn__map_load(path, &m, &err), -CAIRN_E_BAD_MAP);
	ASSERT_EQ(err.line, 6);
	ASSERT_EQ(err.column, 3);
	ASSERT_EQ(unlink(path), 0);

	/* 64 MiB is the most a map file may be. Sparse files, so this costs no disk. */
	path_in_dir(path, sizeof(path), "huge.map");
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(ftruncate(fd, (off_t)64 << 20), 0);
	ASSERT_EQ(close(fd), 0);
	/* At the limit it is read, and its first byte is the trouble. */
	expect_error(path, -CAIRN_E_BAD_MAP,
		     (const char *const[]){"line 1, column 1: NUL byte", NULL});
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(ftruncate(fd, ((off_t)64 << 20) + 1), 0);
	ASSERT_EQ(close(fd), 0);
	expect_error(path, -EFBIG, (const char *const[]){path, "64 MiB", NULL});
	ASSERT_EQ(unlink(path), 0);
}

/*
 * A file without a size (a FIFO) is read until its end: a map of 512 x 300 cells,
 * bigger than the first buffer, arrives through one.
 */
static void test_fifo(void)
{
	char path[PATH_MAX];
	path_in_dir(path, sizeof(path), "fifo.map");
	ASSERT_EQ(mkfifo(path, 0600), 0);

	const unsigned w = 512, h = 300;
	size_t cap = 64 + (size_t)(w + 1) * h;
	char *text = malloc(cap);
	ASSERT_TRUE(text != NULL);
	size_t len = (size_t)snprintf(text, 64, "type octile\nheight %u\nwidth %u\nmap\n", h, w);
	for (unsigned y = 0; y < h; y++) {
		for (unsigned x = 0; x < w; x++) {
			text[len++] = (x + y) % 5 ? '.' : 'T';
		}
		text[len++] = '\n';
	}

	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		size_t off = 0;
		while (fd >= 0 && off < len) {
			ssize_t n = write(fd, text + off, len - off);
			if (n <= 0) {
				_exit(1);
			}
			off += (size_t)n;
		}
		_exit(fd >= 0 ? 0 : 1);
	}
	struct cairn__map *m = NULL;
	struct cairn__map_error err;
	int r = cairn__map_load(path, &m, &err);
	int status = 0;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (r != 0) {
		T_FAILF("fifo: returned %d: %s", r, err.message);
	}
	ASSERT_UEQ(m->width, w);
	ASSERT_UEQ(m->height, h);
	ASSERT_STREQ(m->name, "fifo");
	uint32_t trees = 0;
	for (unsigned y = 0; y < h; y++) {
		for (unsigned x = 0; x < w; x++) {
			trees += (x + y) % 5 == 0;
		}
	}
	ASSERT_UEQ(m->passable, w * h - trees);
	cairn__map_free(m);
	free(text);
	ASSERT_EQ(unlink(path), 0);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/cairn-map-load-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		T_FAILF("mkdtemp %s: %s", dir, strerror(errno));
	}
	atexit(remove_dir);
	test_names();
	test_unreadable();
	test_bad_contents();
	test_fifo();

	struct cairn__map *m = NULL;
	ASSERT_EQ(cairn__map_load(NULL, &m, NULL), -EINVAL);
	printf("map-load: names, unreadable files and bad contents behave\n");
	return T_PASS;
}
