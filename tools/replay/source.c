/*
 * Where the log, the snapshots and the maps of DIR are.
 *
 * DIR is a cairnd data directory (DIR/wal, DIR/snapshots, DIR/maps), or a bare log
 * directory holding wal-*.seg files, such as an excerpt copied from a data directory.
 * For a bare log the snapshots are looked for in DIR/snapshots, then DIR/../snapshots,
 * and the maps in DIR/../maps, then DIR/maps. --snapshots DIR and --map FILE override
 * what is found (with --map, map 0 is the embedded default and the files are ids 1..,
 * as with cairnd).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "replay.h"
#include "store/recover.h"

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* True when dir holds a file named wal-<16 hex digits>.seg. */
static bool has_segments(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		return false;
	}
	bool found = false;
	struct dirent *de;
	while (!found && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		found = n == 24 && strncmp(de->d_name, "wal-", 4) == 0 &&
			strcmp(de->d_name + 20, ".seg") == 0;
	}
	closedir(d);
	return found;
}

/* buf = a/b; false (with a message) when it does not fit. */
static bool join(char *buf, size_t len, const char *a, const char *b)
{
	if ((size_t)snprintf(buf, len, "%s/%s", a, b) >= len) {
		say_error("path too long: %s/%s", a, b);
		return false;
	}
	return true;
}

int source_find(const struct options *o, struct source *s)
{
	memset(s, 0, sizeof(*s));
	struct stat st;
	if (stat(o->dir, &st) != 0) {
		say_error("%s: %s", o->dir, strerror(errno));
		return EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		say_error("%s: not a directory", o->dir);
		return EXIT_USAGE;
	}
	char path[PATH_MAX];
	if (!join(path, sizeof(path), o->dir, "wal")) {
		return EXIT_USAGE;
	}
	if (is_dir(path)) {
		s->data_dir = true;
		snprintf(s->wal_dir, sizeof(s->wal_dir), "%s", path);
		if (!join(path, sizeof(path), o->dir, "snapshots")) {
			return EXIT_USAGE;
		}
		if (is_dir(path)) {
			snprintf(s->snap_dir, sizeof(s->snap_dir), "%s", path);
		}
	} else if (has_segments(o->dir)) {
		snprintf(s->wal_dir, sizeof(s->wal_dir), "%s", o->dir);
		static const char *const near[] = {"snapshots", "../snapshots"};
		for (size_t i = 0; i < 2 && !s->snap_dir[0]; i++) {
			if (!join(path, sizeof(path), o->dir, near[i])) {
				return EXIT_USAGE;
			}
			if (is_dir(path)) {
				snprintf(s->snap_dir, sizeof(s->snap_dir), "%s", path);
			}
		}
	} else {
		say_error("%s is neither a data directory (with wal/ inside) nor a log directory "
			  "(with wal-*.seg files)",
			  o->dir);
		return EXIT_USAGE;
	}
	if (o->snap_dir) {
		if (!is_dir(o->snap_dir)) {
			say_error("--snapshots %s: not a directory", o->snap_dir);
			return EXIT_USAGE;
		}
		snprintf(s->snap_dir, sizeof(s->snap_dir), "%s", o->snap_dir);
	}
	return EXIT_OK;
}

/* The embedded default map, then the --map files: what cairnd does with its flags. */
static int load_files(const struct options *o, struct source *s)
{
	s->maps = calloc((size_t)o->n_map_files + 1, sizeof(*s->maps));
	if (!s->maps || cairn__map_default(&s->maps[0]) < 0) {
		say_error("out of memory");
		return EXIT_CANNOT;
	}
	s->n_maps = 1;
	for (unsigned i = 0; i < o->n_map_files; i++) {
		struct cairn__map_error err;
		int rc = cairn__map_load(o->map_files[i], &s->maps[s->n_maps], &err);
		if (rc < 0) {
			if (rc == -CAIRN_E_BAD_MAP) {
				say_error("--map %s: line %u, column %u: %s", o->map_files[i],
					  err.line, err.column, err.message);
			} else {
				say_error("--map %s: %s", o->map_files[i], err.message);
			}
			return EXIT_CANNOT;
		}
		s->n_maps++;
	}
	snprintf(s->maps_from, sizeof(s->maps_from), "the embedded map and %u --map file%s",
		 o->n_map_files, o->n_map_files == 1 ? "" : "s");
	return EXIT_OK;
}

/* The maps recorded under data/maps; -ENOENT when there is no manifest. */
static int load_recorded(struct source *s, const char *data, int *status)
{
	char why[512];
	int rc = cairn__data_maps_load(data, &s->maps, &s->n_maps, why, sizeof(why));
	if (rc == -ENOENT) {
		return rc;
	}
	if (rc < 0) {
		say_error("the maps of %s: %s", data, why);
		*status = rc == -CAIRN_E_BAD_MAP ? EXIT_DAMAGE : EXIT_CANNOT;
		return rc;
	}
	s->maps_recorded = true;
	snprintf(s->maps_from, sizeof(s->maps_from), "%s/maps", data);
	*status = EXIT_OK;
	return 0;
}

int source_load_maps(const struct options *o, struct source *s)
{
	if (o->n_map_files > 0) {
		return load_files(o, s);
	}
	char parent[PATH_MAX];
	if (!join(parent, sizeof(parent), o->dir, "..")) {
		return EXIT_USAGE;
	}
	const char *where[2] = {o->dir, NULL};
	if (!s->data_dir) {
		where[0] = parent;
		where[1] = o->dir;
	}
	for (int i = 0; i < 2 && where[i]; i++) {
		int status;
		int rc = load_recorded(s, where[i], &status);
		if (rc != -ENOENT) {
			return status;
		}
	}
	say_note(o,
		 "no maps recorded next to %s: only the embedded map (give --map FILE for "
		 "the others)",
		 o->dir);
	return load_files(o, s);
}

void source_close(struct source *s)
{
	if (s->maps_recorded) {
		cairn__data_maps_free(s->maps, s->n_maps);
	} else if (s->maps) {
		for (uint32_t i = 0; i < s->n_maps; i++) {
			cairn__map_free(s->maps[i]);
		}
		free(s->maps);
	}
	s->maps = NULL;
	s->n_maps = 0;
}
