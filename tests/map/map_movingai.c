/*
 * The Moving AI benchmark maps (argv[1], the directory of *.map files; the scenarios are
 * in ../scenarios beside it): every map loads, agrees cell for cell with a plain reading
 * of its file, and agrees with its scenarios on its size and on every start and goal
 * being passable. Skips when the data is not there.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../test.h"
#include "cairn/cairn.h"
#include "map/map.h"

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Checks m against the file read the simplest way there is: the header with fscanf,
 * then one row per line, '.', 'G' and 'S' passable.
 */
static void check_against_file(const char *path, const struct cairn__map *m)
{
	FILE *f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	unsigned h = 0, w = 0;
	if (fscanf(f, "type octile height %u width %u map ", &h, &w) != 2) {
		T_FAILF("%s: cannot read the header with fscanf", path);
	}
	ASSERT_UEQ(m->width, w);
	ASSERT_UEQ(m->height, h);

	char *line = NULL;
	size_t cap = 0;
	uint32_t passable = 0;
	for (unsigned y = 0; y < h; y++) {
		ssize_t n = getline(&line, &cap, f);
		ASSERT_TRUE(n >= (ssize_t)w);
		for (unsigned x = 0; x < w; x++) {
			int want = line[x] == '.' || line[x] == 'G' || line[x] == 'S';
			if (cairn__map_passable(m, x, y) != want) {
				T_FAILF("%s: cell (%u, %u) '%c' is %s", path, x, y, line[x],
					want ? "blocked" : "passable");
			}
			passable += (uint32_t)want;
		}
	}
	ASSERT_UEQ(m->passable, passable);
	free(line);
	fclose(f);
}

/* Checks the map against scen_path; returns how many scenarios there were. */
static unsigned check_scenarios(const char *scen_path, const char *map_file,
				const struct cairn__map *m)
{
	FILE *f = fopen(scen_path, "r");
	if (!f) {
		T_FAILF("%s: %s (every map comes with its scenarios)", scen_path, strerror(errno));
	}
	char *line = NULL;
	size_t cap = 0;
	ASSERT_TRUE(getline(&line, &cap, f) > 0);
	if (strncmp(line, "version 1", 9) != 0) {
		T_FAILF("%s: first line is \"%s\", want \"version 1\"", scen_path, line);
	}
	unsigned count = 0, lineno = 1;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (line[0] == '\n' || line[0] == '\r') {
			continue;
		}
		unsigned bucket, w, h, sx, sy, gx, gy;
		double len;
		char map[PATH_MAX];
		/* bucket, map, width, height, start x, y, goal x, y, optimal length */
		if (sscanf(line, "%u %4095s %u %u %u %u %u %u %lf", &bucket, map, &w, &h, &sx, &sy,
			   &gx, &gy, &len) != 9) {
			T_FAILF("%s:%u: not a scenario line: %s", scen_path, lineno, line);
		}
		const char *base = strrchr(map, '/');
		base = base ? base + 1 : map;
		if (strcmp(base, map_file) != 0) {
			T_FAILF("%s:%u: names map %s, want %s", scen_path, lineno, map, map_file);
		}
		if (w != m->width || h != m->height) {
			T_FAILF("%s:%u: says %u x %u, the map is %" PRIu32 " x %" PRIu32, scen_path,
				lineno, w, h, m->width, m->height);
		}
		if (!cairn__map_passable(m, sx, sy) || !cairn__map_passable(m, gx, gy)) {
			T_FAILF("%s:%u: start (%u, %u) or goal (%u, %u) is not passable", scen_path,
				lineno, sx, sy, gx, gy);
		}
		ASSERT_TRUE(len >= 0);
		count++;
	}
	free(line);
	fclose(f);
	if (count == 0) {
		T_FAILF("%s: no scenarios", scen_path);
	}
	return count;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		T_FAILF("usage: %s MAP-DIRECTORY", argv[0]);
	}
	const char *maps_dir = argv[1];
	DIR *d = opendir(maps_dir);
	if (!d) {
		T_SKIP_BECAUSE("the Moving AI maps are not at %s (%s)", maps_dir, strerror(errno));
	}
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".map") == 0) {
			ASSERT_LT(n, sizeof(names) / sizeof(names[0]));
			names[n] = strdup(e->d_name);
			ASSERT_TRUE(names[n] != NULL);
			n++;
		}
	}
	closedir(d);
	if (n == 0) {
		T_FAILF("no *.map files in %s", maps_dir);
	}
	qsort(names, n, sizeof(names[0]), by_name);

	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], scen[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", maps_dir, names[i]);
		snprintf(scen, sizeof(scen), "%s/../scenarios/%s.scen", maps_dir, names[i]);

		struct cairn__map *m = NULL;
		struct cairn__map_error err;
		int r = cairn__map_load(path, &m, &err);
		if (r != 0) {
			T_FAILF("%s: returned %d (%s): %s", path, r, cairn_strerror(r),
				err.message);
		}
		size_t stem = strlen(names[i]) - 4;
		ASSERT_TRUE(strncmp(m->name, names[i], stem) == 0 && m->name[stem] == '\0');
		check_against_file(path, m);
		unsigned scenarios = check_scenarios(scen, names[i], m);
		printf("%-22s %5" PRIu32 " x %-5" PRIu32 " %7" PRIu32 " passable  hash %016" PRIx64
		       "  %u scenarios\n",
		       names[i], m->width, m->height, m->passable, m->hash, scenarios);
		cairn__map_free(m);
		free(names[i]);
	}
	return T_PASS;
}
