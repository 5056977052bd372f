/*
 * Fuzz target: the Moving AI .map parser (cairn__map_parse) and loader (cairn__map_load).
 *
 * Input: one byte, its low 6 bits the length of a map name that follows and its top bit
 * "load from a file", then the name, then the map text.
 *
 * Oracles:
 *  - the parser answers 0 or BAD_MAP (or ENOMEM), and on BAD_MAP leaves *out NULL and
 *    says where: a line and column inside the text, and a message;
 *  - an accepted map is what the text says: the size of its header, the cells of its
 *    rows read again here independently, the passable count, the documented hash, and
 *    the name cut as documented (at most 39 bytes, never inside a UTF-8 sequence);
 *  - formatting the map and parsing that gives the same size, cells and hash;
 *  - loading the text from a file gives the same answer as parsing it, named after the
 *    file.
 */
#include <errno.h>

#include "cairn/cairn.h"
#include "fuzz.h"
#include "map/map.h"

/* One line of text (without its "\n" or "\r\n"), as the format defines lines. */
static bool line_at(const char *t, size_t len, size_t *pos, const char **s, size_t *n)
{
	if (*pos >= len) {
		return false;
	}
	const char *start = t + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t k = nl ? (size_t)(nl - start) : len - *pos;
	*pos += nl ? k + 1 : k;
	if (k > 0 && start[k - 1] == '\r') {
		k--;
	}
	*s = start;
	*n = k;
	return true;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h = (h ^ p[i]) * 0x100000001b3ull;
	}
	return h;
}

/* Checks an accepted map against the text it came from. */
static void check_map(const struct cairn__map *m, const char *text, size_t len, const char *name)
{
	FZ_CHECK(m->width >= 1 && m->width <= CAIRN_MAX_MAP_SIDE && m->height >= 1 &&
			 m->height <= CAIRN_MAX_MAP_SIDE,
		 "accepted a %ux%u map", m->width, m->height);
	size_t pos = 0, n;
	const char *s;
	/* The header: four lines, whose sizes the map must carry. */
	for (int i = 0; i < 4; i++) {
		FZ_CHECK(line_at(text, len, &pos, &s, &n), "accepted a map of %d lines", i);
		if (i == 1 || i == 2) {
			/* "height H" / "width W": the word, one space, decimal digits. */
			const char *key = i == 1 ? "height " : "width ";
			size_t kl = strlen(key);
			uint64_t v = 0;
			FZ_CHECK(n > kl && memcmp(s, key, kl) == 0, "header line %d is '%.*s'",
				 i + 1, (int)n, s);
			for (size_t k = kl; k < n; k++) {
				FZ_CHECK(s[k] >= '0' && s[k] <= '9', "header line %d is '%.*s'",
					 i + 1, (int)n, s);
				v = v > UINT32_MAX ? v : v * 10 + (uint64_t)(s[k] - '0');
			}
			FZ_CHECK(v == (i == 1 ? m->height : m->width),
				 "header line %d is '%.*s', the map is %u x %u", i + 1, (int)n, s,
				 m->width, m->height);
		}
	}
	uint64_t passable = 0;
	for (uint32_t y = 0; y < m->height; y++) {
		FZ_CHECK(line_at(text, len, &pos, &s, &n), "accepted %u rows of %u", y, m->height);
		FZ_CHECK(n == m->width, "row %u has %zu cells, the map %u", y, n, m->width);
		for (uint32_t x = 0; x < m->width; x++) {
			char ch = s[x];
			bool pass = ch == '.' || ch == 'G' || ch == 'S';
			FZ_CHECK(pass || ch == '@' || ch == 'O' || ch == 'T' || ch == 'W',
				 "accepted cell character 0x%02x at (%u, %u)", (unsigned char)ch, x,
				 y);
			uint8_t c = m->cells[(size_t)y * m->width + x];
			FZ_CHECK(c == (pass ? 1 : 0), "cell (%u, %u) is '%c' but %u", x, y, ch, c);
			passable += pass;
		}
	}
	while (line_at(text, len, &pos, &s, &n)) {
		FZ_CHECK(n == 0, "accepted a non-empty line after the rows");
	}
	FZ_CHECK(passable == m->passable, "passable %u, counted %llu", m->passable,
		 (unsigned long long)passable);

	uint8_t dims[8];
	for (unsigned i = 0; i < 4; i++) {
		dims[i] = (uint8_t)(m->width >> (8 * i));
		dims[4 + i] = (uint8_t)(m->height >> (8 * i));
	}
	uint64_t h =
		fnv(fnv(0xcbf29ce484222325ull, dims, 8), m->cells, (size_t)m->width * m->height);
	FZ_CHECK(h == m->hash, "hash %016llx, expected %016llx", (unsigned long long)m->hash,
		 (unsigned long long)h);

	/* The name: a prefix of the one given, cut at 39 bytes on a character boundary. */
	size_t given = strlen(name), kept = strlen(m->name);
	FZ_CHECK(kept < CAIRN_MAP_NAME_SIZE && kept <= given && memcmp(m->name, name, kept) == 0,
		 "name '%s' from '%s'", m->name, name);
	if (kept < given) {
		/* Cut only when too long, and only back over continuation bytes. */
		FZ_CHECK(given > CAIRN_MAP_NAME_SIZE - 1, "name '%s' cut from '%s'", m->name, name);
		FZ_CHECK(kept == 0 || ((unsigned char)name[kept] & 0xc0) != 0x80,
			 "name cut inside a character at %zu", kept);
		for (size_t i = kept + 1; i < CAIRN_MAP_NAME_SIZE; i++) {
			FZ_CHECK(((unsigned char)name[i] & 0xc0) == 0x80,
				 "name cut at %zu, before a whole character at %zu", kept, i);
		}
	}

	/* Round trip through the writer. */
	char *t2;
	size_t l2;
	FZ_SETUP(cairn__map_format(m, &t2, &l2) == 0, "out of memory");
	struct cairn__map *m2 = NULL;
	struct cairn__map_error e2;
	int r = cairn__map_parse(t2, l2, "again", &m2, &e2);
	FZ_CHECK(r == 0, "the formatted map does not parse: %s (line %u)", e2.message, e2.line);
	FZ_CHECK(m2->width == m->width && m2->height == m->height && m2->hash == m->hash &&
			 m2->passable == m->passable,
		 "formatted map differs");
	cairn__map_free(m2);
	free(t2);
}

/* Checks a refusal: where it points must be inside the text. */
static void check_error(int r, const struct cairn__map *m, const struct cairn__map_error *e,
			const char *text, size_t len)
{
	FZ_CHECK(r == -CAIRN_E_BAD_MAP || r == -ENOMEM, "parse returned %d", r);
	FZ_CHECK(m == NULL, "a map came with error %d", r);
	FZ_CHECK(memchr(e->message, '\0', sizeof(e->message)) != NULL, "message not terminated");
	if (r != -CAIRN_E_BAD_MAP) {
		return;
	}
	FZ_CHECK(e->message[0] != '\0', "empty message");
	size_t lines = 0, longest = 0, pos = 0, n;
	const char *s;
	while (line_at(text, len, &pos, &s, &n)) {
		lines++;
		longest = n > longest ? n : longest;
	}
	FZ_CHECK(e->line <= lines + 1, "error at line %u of %zu: %s", e->line, lines, e->message);
	/* A column one past the end names a missing character at the end of a line. */
	FZ_CHECK(e->column <= longest + 2, "error at column %u, longest line %zu: %s", e->column,
		 longest, e->message);
	FZ_CHECK(e->column == 0 || e->line != 0, "a column without a line: %s", e->message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_init(data, size);
	uint8_t head = fz_u8(&f);
	char name[64];
	size_t nlen;
	const uint8_t *np = fz_take(&f, head & 63, &nlen);
	memcpy(name, np, nlen);
	name[nlen] = '\0';
	size_t len;
	const char *text = (const char *)fz_take(&f, fz_left(&f), &len);

	struct cairn__map *m = NULL;
	struct cairn__map_error err;
	int r = cairn__map_parse(text, len, name, &m, &err);
	if (r == 0) {
		check_map(m, text, len, name);
	} else {
		check_error(r, m, &err, text, len);
	}

	if (head & 0x80) {
		/* The same text from a file: same answer; the name is the file's. */
		const char *dir = fz_tmpdir();
		fz_write_file(dir, "fuzz.map", text, len);
		char path[4200];
		snprintf(path, sizeof(path), "%s/fuzz.map", dir);
		struct cairn__map *m2 = NULL;
		struct cairn__map_error e2;
		int r2 = cairn__map_load(path, &m2, &e2);
		FZ_CHECK(r2 == r || r == -ENOMEM || r2 == -ENOMEM, "parse %d, load %d (%s)", r, r2,
			 e2.message);
		if (r2 == 0 && r == 0) {
			FZ_CHECK(m2->hash == m->hash && strcmp(m2->name, "fuzz") == 0,
				 "loaded map differs: '%s'", m2->name);
		}
		if (r2 == -CAIRN_E_BAD_MAP && r == r2) {
			FZ_CHECK(e2.line == err.line && e2.column == err.column &&
					 strcmp(e2.message, err.message) == 0,
				 "load says '%s' at %u:%u, parse '%s' at %u:%u", e2.message,
				 e2.line, e2.column, err.message, err.line, err.column);
		}
		cairn__map_free(m2);
	}
	cairn__map_free(m);
	return 0;
}
