/*
 * Grid maps in the Moving AI ".map" format.
 *
 *   type octile
 *   height H
 *   width W
 *   map
 *   <H rows of W characters>
 *
 * '.', 'G' and 'S' are passable; '@', 'O', 'T' and 'W' are blocked (water is reachable
 * only from water in the benchmark rules, and cairn's players do not swim). (0, 0) is
 * the top-left cell; x is the column and y the row.
 *
 * A map is immutable once parsed and is shared, read-only and without locks, by every
 * hunt and every solver thread that uses it.
 */
#ifndef CAIRN_MAP_MAP_H
#define CAIRN_MAP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/protocol.h"

struct cairn__map {
	uint32_t width;
	uint32_t height;
	uint32_t passable; /* passable cells */
	uint64_t hash;     /* FNV-1a 64 over width, height (u32 LE each) and the cell bytes */
	char name[CAIRN_MAP_NAME_SIZE]; /* NUL-terminated, truncated if longer */
	uint8_t *cells; /* width * height bytes, row by row: 1 passable, 0 blocked */
};

/* Where parsing stopped, for a message that a person can act on. */
struct cairn__map_error {
	unsigned line;   /* 1-based line of the input, 0 when not about one line */
	unsigned column; /* 1-based column, 0 when not about one character */
	char message[160];
};

/*
 * Parses a map from text[0..len); text need not be NUL-terminated and is not read past
 * len. name is copied (cut to at most CAIRN_MAP_NAME_SIZE - 1 bytes, not inside a UTF-8
 * character); neither pointer is kept. Accepts "\n" and "\r\n" line ends (mixed, too), a
 * missing final newline and empty lines after the last row; rejects everything else that
 * does not follow the format, including a leading empty line, empty lines between rows,
 * spaces around header words, signs, sizes of 0 or beyond CAIRN_MAX_MAP_SIDE, and NUL
 * bytes.
 *
 * Returns 0 and sets *out to a new map (free it with cairn__map_free); -CAIRN_E_BAD_MAP
 * when the text is malformed, with err->line and err->column where the problem is (0
 * when it is not about one line, such as too few rows, or one character) and a message
 * that says it; -EINVAL when out or name is NULL, or text is NULL with len > 0; or
 * -ENOMEM. On failure *out is NULL. err may be NULL. Thread-safe.
 */
int cairn__map_parse(const char *text, size_t len, const char *name, struct cairn__map **out,
		     struct cairn__map_error *err);

/*
 * Reads and parses a file of at most 64 MiB. The map's name is the file's base name
 * without ".map". Returns as cairn__map_parse, or -errno when the file cannot be read
 * (-ENOENT, -EACCES, -EISDIR, ..., and -EFBIG when it is larger than 64 MiB), with the
 * path and the reason in err->message. Thread-safe.
 */
int cairn__map_load(const char *path, struct cairn__map **out, struct cairn__map_error *err);

/*
 * The embedded default map, 128 x 96, parsed on each call into a new map (name
 * "cairn-default"). Returns 0 or -ENOMEM. Thread-safe.
 */
int cairn__map_default(struct cairn__map **out);

/*
 * Writes m as Moving AI text: the header, then the rows with '.' for a passable cell and
 * '@' for a blocked one, each ending in "\n". Parsing the text gives a map with the same
 * size, cells and hash (the other passable and blocked characters are not kept). *text
 * is a new buffer of *len bytes, not NUL-terminated, that the caller frees with free().
 * Returns 0 or -ENOMEM. Thread-safe.
 */
int cairn__map_format(const struct cairn__map *m, char **text, size_t *len);

/* Frees a map. Accepts NULL. */
void cairn__map_free(struct cairn__map *m);

/* True when cell (x, y) is on the map and passable. */
static inline bool cairn__map_passable(const struct cairn__map *m, int64_t x, int64_t y)
{
	return x >= 0 && y >= 0 && (uint64_t)x < m->width && (uint64_t)y < m->height &&
	       m->cells[(uint64_t)y * m->width + (uint64_t)x];
}

#endif
