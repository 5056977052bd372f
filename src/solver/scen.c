/*
 * The Moving AI scenario reader (format in scen.h). A scenario file comes from outside,
 * so every field is checked and a bad line is named, never asserted on.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/scen.h"

#define FIELDS 9

__attribute__((format(printf, 5, 6))) static int fail(char *err, size_t errlen, const char *path,
						      unsigned line, const char *fmt, ...)
{
	if (err && errlen) {
		int k = snprintf(err, errlen, "%s:%u: ", path, line);
		if (k >= 0 && (size_t)k < errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
			va_end(ap);
		}
	}
	return -EINVAL;
}

/* A whole number of decimal digits only (no sign, no space), at most max. */
static int parse_uint(const char *s, uint32_t max, uint32_t *out)
{
	if (*s < '0' || *s > '9') {
		return -1;
	}
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9') {
			return -1;
		}
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max) {
			return -1;
		}
	}
	*out = (uint32_t)v;
	return 0;
}

static int parse_length(const char *s, double *out)
{
	if (!((*s >= '0' && *s <= '9') || *s == '.')) {
		return -1;
	}
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0) {
		return -1;
	}
	*out = v;
	return 0;
}

/* Checks and converts one scenario line (without its line end, NUL-terminated). */
static int parse_line(char *s, const char *path, unsigned line, const struct cairn__map *m,
		      struct cairn__scen *sc, char *err, size_t errlen)
{
	static const char *const names[FIELDS] = {"bucket", "map",     "width",
						  "height", "start x", "start y",
						  "goal x", "goal y",  "length"};
	char *field[FIELDS];
	unsigned k = 0;
	field[k++] = s;
	for (char *p = s; *p; p++) {
		if (*p == '\t') {
			if (k == FIELDS) {
				return fail(err, errlen, path, line,
					    "more than %d tab-separated fields", FIELDS);
			}
			*p = '\0';
			field[k++] = p + 1;
		}
	}
	if (k != FIELDS) {
		return fail(err, errlen, path, line,
			    "%u tab-separated fields, want %d (bucket, map, width, height, start "
			    "x, y, goal x, y, length)",
			    k, FIELDS);
	}
	uint32_t v[8];
	for (unsigned i = 0; i < 8; i++) {
		if (i == 1) {
			if (!field[1][0]) {
				return fail(err, errlen, path, line, "empty map field");
			}
			continue;
		}
		if (parse_uint(field[i], CAIRN_MAX_MAP_SIDE, &v[i]) < 0) {
			return fail(err, errlen, path, line,
				    "%s is \"%.40s\", not a whole number up to %d", names[i],
				    field[i], CAIRN_MAX_MAP_SIDE);
		}
	}
	if (parse_length(field[8], &sc->length) < 0) {
		return fail(err, errlen, path, line, "length is \"%.40s\", not a number >= 0",
			    field[8]);
	}
	uint32_t w = v[2], h = v[3];
	if (m && (w != m->width || h != m->height)) {
		return fail(err, errlen, path, line,
			    "says the map is %u x %u (width x height), it is %u x %u", w, h,
			    m->width, m->height);
	}
	if (v[4] >= w || v[5] >= h || v[6] >= w || v[7] >= h) {
		return fail(err, errlen, path, line,
			    "start (%u, %u) or goal (%u, %u) is off the %u x %u map", v[4], v[5],
			    v[6], v[7], w, h);
	}
	sc->bucket = v[0];
	sc->start = (struct cairn__cell){(int32_t)v[4], (int32_t)v[5]};
	sc->goal = (struct cairn__cell){(int32_t)v[6], (int32_t)v[7]};
	sc->line = line;
	return 0;
}

int cairn__scen_load(const char *path, const struct cairn__map *m, struct cairn__scen **out,
		     size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	if (err && errlen) {
		err[0] = '\0';
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		if (err && errlen) {
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		}
		return -e;
	}
	char *buf = NULL;
	size_t bufcap = 0, cap = 0, count = 0;
	struct cairn__scen *sc = NULL;
	unsigned line = 0;
	int r = 0;
	ssize_t len;
	while ((len = getline(&buf, &bufcap, f)) >= 0) {
		line++;
		if ((size_t)len != strlen(buf)) {
			r = fail(err, errlen, path, line, "NUL byte in the line");
			break;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) {
			buf[--len] = '\0';
		}
		if (line == 1) {
			if (strcmp(buf, "version 1") != 0 && strcmp(buf, "version 1.0") != 0) {
				r = fail(err, errlen, path, line,
					 "first line is \"%.40s\", want \"version 1\"", buf);
				break;
			}
			continue;
		}
		if (len == 0) {
			continue;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct cairn__scen *p = realloc(sc, ncap * sizeof(*p));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			sc = p;
			cap = ncap;
		}
		r = parse_line(buf, path, line, m, &sc[count], err, errlen);
		if (r < 0) {
			break;
		}
		count++;
	}
	if (r == 0 && ferror(f)) {
		r = -EIO;
		if (err && errlen) {
			snprintf(err, errlen, "%s: read error", path);
		}
	}
	if (r == 0 && line == 0) {
		r = fail(err, errlen, path, 1, "empty file, want \"version 1\" first");
	}
	free(buf);
	fclose(f);
	if (r < 0) {
		free(sc);
		return r;
	}
	*out = sc;
	*n = count;
	return 0;
}
