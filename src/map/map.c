/*
 * The Moving AI ".map" parser and loader (format in map.h).
 *
 * A map file comes from outside the daemon, and everything downstream of the parser
 * indexes cells without further checks, so the parser is strict: the header lines must
 * be exactly "type octile", "height H", "width W" and "map", in that order, and then
 * come exactly H rows of exactly W cell characters. The only slack is in line ends:
 * each line may end in "\n" or "\r\n", the last one may have no line end at all, and
 * empty lines may follow the last row. A leading empty line, spaces around a header
 * word, a sign or a space in a number and empty lines between rows are all errors.
 *
 * The text is not NUL-terminated and may hold NUL bytes (an error), so it is only ever
 * read below len. The rows are checked in a first pass that allocates nothing, so that a
 * header claiming 16384 x 16384 cells costs memory only when the rows are really there.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map/map.h"

#define LONE_CR "carriage return without a line feed (lines end in \"\\n\" or \"\\r\\n\")"

/* The cell characters, passable first, for error messages. */
#define CELL_CHARS ".GS@OTW"

/*
 * Largest map file cairn__map_load reads: a 16384 x 16384 map does not fit, but no
 * published benchmark map comes near, and a bigger file is more likely a mistake.
 */
#define MAX_FILE_BYTES ((size_t)64 << 20)

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME  UINT64_C(0x100000001b3)

/* The text being parsed, taken one line at a time. */
struct cursor {
	const char *text;
	size_t len;
	size_t pos;    /* where the next line starts */
	unsigned line; /* 1-based number of the line last taken, 0 before the first */
};

/* One line of the text, without its line end. */
struct line {
	const char *s;
	size_t len;
};

/*
 * Takes the next line into *l and returns true, or returns false at the end of the text.
 * A line ends at '\n' or at the end of the text; a '\r' just before that end belongs to
 * the line end, so "\r\n" ends a line as "\n" does.
 */
static bool next_line(struct cursor *c, struct line *l)
{
	if (c->pos >= c->len) {
		return false;
	}
	const char *start = c->text + c->pos;
	size_t rest = c->len - c->pos;
	const char *nl = memchr(start, '\n', rest);
	size_t n = nl ? (size_t)(nl - start) : rest;
	c->pos += nl ? n + 1 : n;
	c->line++;
	if (n > 0 && start[n - 1] == '\r') {
		n--;
	}
	l->s = start;
	l->len = n;
	return true;
}

/* True when nothing but empty lines is left after the cursor (c is not moved). */
static bool only_empty_lines_left(struct cursor c)
{
	struct line l;
	while (next_line(&c, &l)) {
		if (l.len > 0) {
			return false;
		}
	}
	return true;
}

/*
 * Fills *err and returns -CAIRN_E_BAD_MAP. The message starts with "line L, column C: "
 * or "line L: " when the error is about a line or a character of one.
 */
static int fail(struct cairn__map_error *err, unsigned line, unsigned column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct cairn__map_error *err, unsigned line, unsigned column, const char *fmt, ...)
{
	err->line = line;
	err->column = column;
	int n = 0;
	if (line && column) {
		n = snprintf(err->message, sizeof(err->message), "line %u, column %u: ", line,
			     column);
	} else if (line) {
		n = snprintf(err->message, sizeof(err->message), "line %u: ", line);
	}
	if (n < 0 || (size_t)n >= sizeof(err->message)) {
		return -CAIRN_E_BAD_MAP;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->message + n, sizeof(err->message) - (size_t)n, fmt, ap);
	va_end(ap);
	return -CAIRN_E_BAD_MAP;
}

/* Writes ch quoted, and escaped when not printable ASCII, for an error message. */
static const char *quote_char(char buf[8], unsigned char ch)
{
	if (ch == '\'' || ch == '\\') {
		snprintf(buf, 8, "'\\%c'", ch);
	} else if (ch >= 0x20 && ch < 0x7f) {
		snprintf(buf, 8, "'%c'", ch);
	} else {
		snprintf(buf, 8, "'\\x%02x'", ch);
	}
	return buf;
}

/* How many of the first n bytes of s, at most max, are printable ASCII. */
static int printable_prefix(const char *s, size_t n, size_t max)
{
	size_t i = 0;
	while (i < n && i < max && s[i] >= 0x20 && s[i] < 0x7f) {
		i++;
	}
	return (int)i;
}

/* 1 for a passable cell character, 0 for a blocked one, -1 for anything else. */
static int cell_value(unsigned char ch)
{
	switch (ch) {
	case '.':
	case 'G':
	case 'S':
		return 1;
	case '@':
	case 'O':
	case 'T':
	case 'W':
		return 0;
	default:
		return -1;
	}
}

/* Takes the next header line, which must exist and hold no NUL byte. */
static int header_line(struct cursor *c, struct line *l, const char *expected,
		       struct cairn__map_error *err)
{
	if (!next_line(c, l)) {
		return fail(err, c->line + 1, 0, "expected '%s', found the end of the map",
			    expected);
	}
	const char *nul = memchr(l->s, '\0', l->len);
	if (nul) {
		return fail(err, c->line, (unsigned)(nul - l->s) + 1,
			    "NUL byte (a map is plain text)");
	}
	const char *cr = memchr(l->s, '\r', l->len);
	if (cr) {
		return fail(err, c->line, (unsigned)(cr - l->s) + 1, LONE_CR);
	}
	return 0;
}

/* Parses "KEY N" (e.g. key "height", placeholder 'H') into *out, 1..CAIRN_MAX_MAP_SIDE. */
static int parse_size(struct cursor *c, const char *key, char placeholder, uint32_t *out,
		      struct cairn__map_error *err)
{
	char expected[16];
	snprintf(expected, sizeof(expected), "%s %c", key, placeholder);
	struct line l;
	int r = header_line(c, &l, expected, err);
	if (r < 0) {
		return r;
	}
	size_t klen = strlen(key);
	/*
	 * l is set: header_line returned 0. Clang 14's analyzer does not inline variadic
	 * functions, so it does not know that fail() always returns -CAIRN_E_BAD_MAP.
	 */
	/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (l.len <= klen + 1 || memcmp(l.s, key, klen) != 0 || l.s[klen] != ' ') {
		return fail(err, c->line, 0, "expected '%s'", expected);
	}

	/* The value stops growing once past the limit: no run of digits overflows it. */
	const char *digits = l.s + klen + 1;
	size_t ndigits = l.len - klen - 1;
	uint32_t v = 0;
	for (size_t i = 0; i < ndigits; i++) {
		unsigned char ch = (unsigned char)digits[i];
		if (ch < '0' || ch > '9') {
			char q[8];
			return fail(err, c->line, (unsigned)(klen + 2 + i),
				    "%s must be a decimal number from 1 to %d, found %s", key,
				    CAIRN_MAX_MAP_SIDE, quote_char(q, ch));
		}
		if (v <= CAIRN_MAX_MAP_SIDE) {
			v = v * 10 + (uint32_t)(ch - '0');
		}
	}
	if (v < 1 || v > CAIRN_MAX_MAP_SIDE) {
		int shown = printable_prefix(digits, ndigits, 24);
		return fail(err, c->line, (unsigned)(klen + 2),
			    "%s %.*s%s is out of range (1 to %d)", key, shown, digits,
			    (size_t)shown < ndigits ? "..." : "", CAIRN_MAX_MAP_SIDE);
	}
	*out = v;
	return 0;
}

static int wrong_row_count(struct cairn__map_error *err, unsigned line, uint32_t rows, uint32_t h)
{
	return fail(err, line, 0, "map has %" PRIu32 " row%s, header says %" PRIu32, rows,
		    rows == 1 ? "" : "s", h);
}

/*
 * Checks the h rows of w characters after the cursor, and that nothing but empty lines
 * follows them. When cells is not NULL (only once the rows are known to be good), also
 * writes each cell into it and counts the passable ones into *passable.
 */
static int scan_rows(struct cursor c, uint32_t w, uint32_t h, uint8_t *cells, uint32_t *passable,
		     struct cairn__map_error *err)
{
	uint32_t count = 0;
	for (uint32_t y = 0; y < h; y++) {
		struct line l;
		if (!next_line(&c, &l) || (l.len == 0 && only_empty_lines_left(c))) {
			return wrong_row_count(err, 0, y, h);
		}
		for (size_t x = 0; x < l.len; x++) {
			unsigned char ch = (unsigned char)l.s[x];
			int v = cell_value(ch);
			if (v < 0 && ch == '\r') {
				return fail(err, c.line, (unsigned)x + 1, LONE_CR);
			}
			if (v < 0 && ch == '\0') {
				return fail(err, c.line, (unsigned)x + 1,
					    "NUL byte (a map is plain text; expected one of %s)",
					    CELL_CHARS);
			}
			if (v < 0) {
				char q[8];
				return fail(err, c.line, (unsigned)x + 1,
					    "unknown character %s (expected one of %s)",
					    quote_char(q, ch), CELL_CHARS);
			}
			if (cells && x < w) {
				cells[(size_t)y * w + x] = (uint8_t)v;
				count += (uint32_t)v;
			}
		}
		if (l.len != w) {
			return fail(err, c.line, 0,
				    "row is %zu characters wide, header says %" PRIu32, l.len, w);
		}
	}

	struct line l;
	while (next_line(&c, &l)) {
		if (l.len == 0) {
			continue;
		}
		unsigned first = c.line;
		uint32_t rows = h + 1;
		while (next_line(&c, &l)) {
			rows += l.len > 0 && rows < UINT32_MAX;
		}
		return wrong_row_count(err, first, rows, h);
	}
	if (passable) {
		*passable = count;
	}
	return 0;
}

static uint64_t fnv1a(uint64_t hash, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		hash ^= p[i];
		hash *= FNV_PRIME;
	}
	return hash;
}

static uint64_t map_hash(const struct cairn__map *m)
{
	uint8_t dims[8];
	for (unsigned i = 0; i < 4; i++) {
		dims[i] = (uint8_t)(m->width >> (8 * i));
		dims[4 + i] = (uint8_t)(m->height >> (8 * i));
	}
	uint64_t hash = fnv1a(FNV_OFFSET, dims, sizeof(dims));
	return fnv1a(hash, m->cells, (size_t)m->width * m->height);
}

/*
 * Copies the first n bytes of s into dst (CAIRN_MAP_NAME_SIZE bytes) as a NUL-terminated
 * name, cutting it short if it does not fit, but not inside a UTF-8 sequence.
 */
static void copy_name(char *dst, const char *s, size_t n)
{
	if (n > CAIRN_MAP_NAME_SIZE - 1) {
		n = CAIRN_MAP_NAME_SIZE - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
			n--;
		}
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

int cairn__map_parse(const char *text, size_t len, const char *name, struct cairn__map **out,
		     struct cairn__map_error *err)
{
	struct cairn__map_error scratch;
	if (!err) {
		err = &scratch;
	}
	memset(err, 0, sizeof(*err));
	if (!out || !name || (!text && len > 0)) {
		snprintf(err->message, sizeof(err->message), "invalid argument");
		return -EINVAL;
	}
	*out = NULL;
	if (len == 0) {
		return fail(err, 0, 0, "the map is empty (expected 'type octile' on line 1)");
	}

	struct cursor c = {.text = text, .len = len};
	struct line l;
	int r = header_line(&c, &l, "type octile", err);
	if (r < 0) {
		return r;
	}
	static const char type_kw[] = "type ";
	size_t tlen = sizeof(type_kw) - 1;
	if (l.len <= tlen || memcmp(l.s, type_kw, tlen) != 0) {
		return fail(err, c.line, 0, "expected 'type octile'");
	}
	if (l.len - tlen != strlen("octile") || memcmp(l.s + tlen, "octile", l.len - tlen) != 0) {
		/* The type is shown only up to anything unprintable. */
		int shown = printable_prefix(l.s + tlen, l.len - tlen, 24);
		return fail(err, c.line, (unsigned)tlen + 1,
			    "map type '%.*s%s' is not supported (expected 'type octile')", shown,
			    l.s + tlen, (size_t)shown < l.len - tlen ? "..." : "");
	}

	uint32_t w, h;
	if ((r = parse_size(&c, "height", 'H', &h, err)) < 0 ||
	    (r = parse_size(&c, "width", 'W', &w, err)) < 0) {
		return r;
	}
	if ((r = header_line(&c, &l, "map", err)) < 0) {
		return r;
	}
	if (l.len != 3 || memcmp(l.s, "map", 3) != 0) {
		return fail(err, c.line, 0, "expected 'map'");
	}

	/* w and h are set (parse_size returned 0): see parse_size on fail(). */
	/* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
	if ((r = scan_rows(c, w, h, NULL, NULL, err)) < 0) {
		return r;
	}
	struct cairn__map *m = calloc(1, sizeof(*m));
	if (!m) {
		return -ENOMEM;
	}
	m->cells = malloc((size_t)w * h);
	if (!m->cells) {
		free(m);
		return -ENOMEM;
	}
	m->width = w;
	m->height = h;
	copy_name(m->name, name, strlen(name));
	r = scan_rows(c, w, h, m->cells, &m->passable, err);
	/* The first pass accepted this same text, so this cannot fail; the check is cheap. */
	if (r < 0) {
		cairn__map_free(m);
		return r;
	}
	m->hash = map_hash(m);
	*out = m;
	return 0;
}

/*
 * Fills *err with "cannot read PATH: REASON" and returns -e. When the two do not fit,
 * the path loses its beginning rather than the reason its end: the end names the file.
 */
static int file_fail(struct cairn__map_error *err, const char *path, int e, const char *reason)
{
	static const char verb[] = "cannot read ";
	size_t room = sizeof(err->message) - 1;
	size_t fixed = sizeof(verb) - 1 + 2 + strlen(reason);
	size_t plen = strlen(path);
	err->line = 0;
	err->column = 0;
	if (fixed + plen <= room) {
		snprintf(err->message, sizeof(err->message), "%s%s: %s", verb, path, reason);
	} else if (fixed + 3 < room) {
		snprintf(err->message, sizeof(err->message), "%s...%s: %s", verb,
			 path + plen - (room - fixed - 3), reason);
	} else {
		snprintf(err->message, sizeof(err->message), "%s", reason);
	}
	return -e;
}

/* Reads all of path into a new buffer (*text, free it), at most MAX_FILE_BYTES. */
static int read_all(const char *path, char **text, size_t *len, struct cairn__map_error *err)
{
	static const char too_big[] = "larger than 64 MiB, too big for a map";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return file_fail(err, path, e, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return file_fail(err, path, e, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return file_fail(err, path, EISDIR, strerror(EISDIR));
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > MAX_FILE_BYTES) {
		close(fd);
		return file_fail(err, path, EFBIG, too_big);
	}

	/* One byte more than the size fstat gave, so that a file that grew is noticed;
	 * files without a size (pipes) start small and double. */
	size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 64 * 1024;
	size_t n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (n == cap) {
			if (cap > MAX_FILE_BYTES) {
				free(buf);
				close(fd);
				return file_fail(err, path, EFBIG, too_big);
			}
			size_t ncap = cap * 2 > MAX_FILE_BYTES + 1 ? MAX_FILE_BYTES + 1 : cap * 2;
			char *nbuf = realloc(buf, ncap);
			if (!nbuf) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		ssize_t got = read(fd, buf + n, cap - n);
		if (got < 0) {
			int e = errno;
			if (e == EINTR) {
				continue;
			}
			free(buf);
			close(fd);
			return file_fail(err, path, e, strerror(e));
		}
		if (got == 0) {
			break;
		}
		n += (size_t)got;
	}
	close(fd);
	if (n > MAX_FILE_BYTES) {
		free(buf);
		return file_fail(err, path, EFBIG, too_big);
	}
	*text = buf;
	*len = n;
	return 0;
}

int cairn__map_load(const char *path, struct cairn__map **out, struct cairn__map_error *err)
{
	struct cairn__map_error scratch;
	if (!err) {
		err = &scratch;
	}
	memset(err, 0, sizeof(*err));
	if (!path || !out) {
		snprintf(err->message, sizeof(err->message), "invalid argument");
		return -EINVAL;
	}
	*out = NULL;

	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t blen = strlen(base);
	if (blen > 4 && memcmp(base + blen - 4, ".map", 4) == 0) {
		blen -= 4;
	}
	char name[CAIRN_MAP_NAME_SIZE];
	copy_name(name, base, blen);

	char *text = NULL;
	size_t len = 0;
	int r = read_all(path, &text, &len, err);
	if (r < 0) {
		return r;
	}
	r = cairn__map_parse(text, len, name, out, err);
	free(text);
	return r;
}

void cairn__map_free(struct cairn__map *m)
{
	if (!m) {
		return;
	}
	free(m->cells);
	free(m);
}

int cairn__map_format(const struct cairn__map *m, char **text, size_t *len)
{
	char head[64];
	int hn = snprintf(head, sizeof(head),
			  "type octile\nheight %" PRIu32 "\nwidth %" PRIu32 "\nmap\n", m->height,
			  m->width);
	size_t size = (size_t)hn + (size_t)m->height * ((size_t)m->width + 1);
	char *t = malloc(size);
	if (!t) {
		return -ENOMEM;
	}
	memcpy(t, head, (size_t)hn);
	char *p = t + hn;
	const uint8_t *c = m->cells;
	for (uint32_t y = 0; y < m->height; y++) {
		for (uint32_t x = 0; x < m->width; x++) {
			*p++ = *c++ ? '.' : '@';
		}
		*p++ = '\n';
	}
	*text = t;
	*len = size;
	return 0;
}
