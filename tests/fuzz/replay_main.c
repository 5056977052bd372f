/*
 * The main() of a fuzz target built without libFuzzer: runs every file named on the
 * command line, and every file in every directory named there, through
 * LLVMFuzzerTestOneInput once, in name order. This is how every build (gcc, and the
 * sanitizer builds) replays the seed corpus and the crashes kept as regression seeds, so
 * that the targets cannot rot and no fixed bug comes back.
 *
 * Exit 0 when every input ran (a failing input aborts inside the target), 1 when a path
 * cannot be read or when there was nothing to run: a replay of nothing proves nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Optional in a target: a weak reference is NULL when the target has none. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static unsigned long ran;

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			uint8_t *nb = realloc(buf, cap);
			if (!nb) {
				fprintf(stderr, "replay: out of memory reading %s\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			break;
		}
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		fprintf(stderr, "replay: cannot read %s\n", path);
		free(buf);
		return -1;
	}
	/*
	 * An exact-size copy, so that AddressSanitizer sees a read past the end of the input
	 * as libFuzzer would make it see it.
	 */
	uint8_t *exact = malloc(len ? len : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	ran++;
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		return run_file(path);
	}
	struct dirent **names;
	int n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char sub[PATH_MAX];
		if (names[i]->d_name[0] != '.' && rc == 0) {
			int k = snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			if (k < 0 || (size_t)k >= sizeof(sub)) {
				rc = -1;
			} else if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
				rc = run_file(sub);
			}
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize) {
		LLVMFuzzerInitialize(&argc, &argv);
	}
	if (argc < 2) {
		fprintf(stderr,
			"usage: %s FILE_OR_DIR...\n"
			"Runs every input once through this fuzz target (no fuzzing).\n",
			argv[0]);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		if (run_path(argv[i]) < 0) {
			return 1;
		}
	}
	if (ran == 0) {
		fprintf(stderr, "replay: no input files found\n");
		return 1;
	}
	printf("replayed %lu inputs\n", ran);
	return 0;
}
