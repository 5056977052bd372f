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
 * Parses a map from text[0..len). name is copied (truncated to CAIRN_MAP_NAME_SIZE - 1
 * bytes). Accepts "\n" and "\r\n" line ends, a missing final newline and trailing blank
 * lines; rejects everything else that does not follow the format, including sizes of 0
 * or beyond CAIRN_MAX_MAP_SIDE.
 *
 * Returns 0 and sets *out to a new map (free it with cairn__map_free), -CAIRN_E_BAD_MAP
 * with *err filled in (err may be NULL) when the text is malformed, or -ENOMEM.
 */
int cairn__map_parse(const char *text, size_t len, const char *name, struct cairn__map **out,
		     struct cairn__map_error *err);

/*
 * Reads and parses a file. The map's name is the file's base name without ".map".
 * Returns as cairn__map_parse, or -errno when the file cannot be read (err says so).
 */
int cairn__map_load(const char *path, struct cairn__map **out, struct cairn__map_error *err);

/* The embedded default map, parsed on each call (name "cairn-default"). */
int cairn__map_default(struct cairn__map **out);

/* Frees a map. Accepts NULL. */
void cairn__map_free(struct cairn__map *m);

/* True when cell (x, y) is on the map and passable. */
static inline bool cairn__map_passable(const struct cairn__map *m, int64_t x, int64_t y)
{
	return x >= 0 && y >= 0 && (uint64_t)x < m->width && (uint64_t)y < m->height &&
	       m->cells[(uint64_t)y * m->width + (uint64_t)x];
}

#endif
