/*
 * A real fdatasync failure, not the test hook: strace injects EIO into the third
 * fdatasync of the sync backend's writer thread (strace counts calls per thread, and
 * that thread makes no other), which is the sync of batch 3. The helper must see
 * batches 1 and 2 durable, batch 3 fail with EIO and the log fail for good (durable LSN
 * 8, the next append refused, the error naming fdatasync and the file). What is left on
 * disk reads back without damage. Skips when strace is missing or ptrace is not allowed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kit.h"

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	if (!path) {
		path = "/usr/bin:/bin";
	}
	char buf[4096];
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0) {
			return true;
		}
		path += n + (path[n] == ':');
	}
	return false;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		T_FAILF("usage: %s PATH-OF-wal-fault-helper", argv[0]);
	}
	if (!in_path("strace")) {
		T_SKIP_BECAUSE("strace is not installed");
	}
	char *dir = kit_tmpdir("strace");
	char cmd[8192];
	/* LeakSanitizer stops threads with ptrace, which fails under strace. */
	snprintf(cmd, sizeof(cmd),
		 "ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o /dev/null -e trace=fdatasync "
		 "-e inject=fdatasync:error=EIO:when=3 '%s' '%s' 2>&1",
		 argv[1], dir);
	FILE *p = popen(cmd, "r");
	ASSERT_TRUE(p != NULL);
	char out[8192] = "";
	size_t len = fread(out, 1, sizeof(out) - 1, p);
	out[len] = '\0';
	int status = pclose(p);
	printf("%s", out);

	char *res = strstr(out, "RESULT ");
	if (!res) {
		if (strstr(out, "ptrace") || strstr(out, "Operation not permitted")) {
			kit_rmrf(dir);
			T_SKIP_BECAUSE("strace cannot trace here (ptrace not permitted): %s", out);
		}
		T_FAILF("the helper under strace gave no result (status %d)", status);
	}
	ASSERT_TRUE(strstr(out, "batch 1 wait 0 durable 4\n") != NULL);
	ASSERT_TRUE(strstr(out, "batch 2 wait 0 durable 8\n") != NULL);
	char expect[128];
	snprintf(expect, sizeof(expect), "batch 3 wait %d durable 8\n", -EIO);
	ASSERT_TRUE(strstr(out, expect) != NULL);
	snprintf(expect, sizeof(expect), "append %d\n", -EIO);
	ASSERT_TRUE(strstr(out, expect) != NULL);
	ASSERT_TRUE(strstr(out, "batch 4") == NULL);
	snprintf(expect, sizeof(expect),
		 "RESULT durable=8 err=%d what=fdatasync of wal-0000000000000001.seg: Input/output "
		 "error",
		 -EIO);
	ASSERT_TRUE(strstr(out, expect) != NULL);

	/* On disk: batches 1 and 2, maybe 3 (written, its sync failed), no damage. */
	struct cairn__wal_reader *r;
	ASSERT_EQ(cairn__wal_reader_open(dir, 1, &r, NULL, 0), 0);
	struct cairn__wal_record rec;
	uint64_t n = 0;
	while (cairn__wal_reader_next(r, &rec) == 1) {
		n++;
	}
	struct cairn__wal_damage end;
	cairn__wal_reader_end(r, &end);
	cairn__wal_reader_close(r);
	ASSERT_GE(n, 8);
	ASSERT_LE(n, 12);
	ASSERT_NE(end.end, CAIRN__WAL_END_DAMAGED);
	kit_rmrf(dir);
	free(dir);
	return T_PASS;
}
