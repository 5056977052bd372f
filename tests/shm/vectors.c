/*
 * Golden vectors: shm-protocol/vectors/NAME.json holds field values, NAME.bin the bytes
 * every language must produce for them. This is the C side of the check:
 *
 *  - each .json is parsed strictly: {"struct": "<schema struct>", "fields": {...}},
 *    with dotted names for nested fields, hex strings for u8 arrays, lists for other
 *    arrays and integers (or "0x..." / decimal strings, for u64 beyond 2^53) for the
 *    rest; unknown structs or fields and values out of range for their width fail;
 *  - every field of the struct, as the generated table cairn__proto_structs[] lays it
 *    out, is decoded from the .bin (little-endian) and compared with its JSON value
 *    (0 when not named);
 *  - the JSON values are encoded into a zeroed buffer and compared with the .bin byte
 *    for byte;
 *  - the .bin is copied into the generated C struct and the members read back, so the
 *    compiler's layout of protocol.h is tested, not only the tables;
 *  - a message vector (struct msg) must be a valid message: a known type, a length in
 *    its range, no flags, a status only in ERROR; its payload must equal its companion
 *    NAME.payload.json vector, which must be of the type's payload struct.
 *
 *   vectors DIR
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "cairn/protocol.h"
#include "protocol_desc.h"

/* ---- a strict parser for the vector format ---- */

struct jnum {
	bool neg; /* never set for zero */
	uint64_t mag;
};

enum jtype { J_NUM, J_STR, J_LIST };

struct jval {
	enum jtype type;
	struct jnum num;    /* J_NUM */
	const char *str;    /* J_STR: unescaped, NUL-terminated */
	struct jval *items; /* J_LIST: numbers and strings only */
	unsigned n;         /* J_LIST: items */
	size_t at;          /* byte offset in the file, for messages */
};

struct jfield {
	const char *name;
	struct jval v;
};

/* One parsed vector: its JSON text (strings point into it) and its .bin. */
struct doc {
	char path[4096];
	char *text;
	size_t len;
	const char *struct_name;
	struct jfield *fields;
	unsigned nfields;
	struct jval *pool; /* list items */
	unsigned npool;
	unsigned char *bin;
	size_t binlen;
	const struct cairn__struct_desc *sd;
};

/*
 * A failing vector jumps back to the loop in main, which counts it, frees both
 * documents and goes on. They are static so that what was allocated before the jump
 * is still known after it.
 */
static jmp_buf fail_jump;
static const char *fail_name;
static struct doc vec, companion;

static void vfail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void vfail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "FAIL %s: ", fail_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	longjmp(fail_jump, 1);
}

struct parser {
	struct doc *d;
	char *p;
	char *end;
};

static void perr(struct parser *ps, const char *what) __attribute__((noreturn));

static void perr(struct parser *ps, const char *what)
{
	vfail("%s: byte %zu: %s", ps->d->path, (size_t)(ps->p - ps->d->text), what);
}

static void ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
		ps->p++;
	}
}

static bool peek(struct parser *ps, char c)
{
	ws(ps);
	return ps->p < ps->end && *ps->p == c;
}

static void expect(struct parser *ps, char c)
{
	if (!peek(ps, c)) {
		char what[32];
		snprintf(what, sizeof(what), "expected '%c'", c);
		perr(ps, what);
	}
	ps->p++;
}

/* A string, unescaped in place: the result is never longer than its source. */
static const char *parse_string(struct parser *ps)
{
	expect(ps, '"');
	char *start = ps->p, *w = ps->p;
	for (;;) {
		if (ps->p >= ps->end) {
			perr(ps, "unterminated string");
		}
		unsigned char c = (unsigned char)*ps->p++;
		if (c == '"') {
			*w = '\0';
			return start;
		}
		if (c < 0x20 || c >= 0x80) {
			perr(ps, "control or non-ASCII character in a string");
		}
		if (c == '\\') {
			if (ps->p >= ps->end) {
				perr(ps, "unterminated escape");
			}
			switch (*ps->p++) {
			case '"':
				c = '"';
				break;
			case '\\':
				c = '\\';
				break;
			case '/':
				c = '/';
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			default:
				perr(ps, "unsupported escape (only \\\" \\\\ \\/ \\n \\t)");
			}
		}
		*w++ = (char)c;
	}
}

/* Digits of a JSON integer: 0 or [1-9][0-9]*, no fraction, no exponent. */
static bool digits(const char **s, const char *end, uint64_t *mag)
{
	const char *p = *s;
	uint64_t v = 0;
	if (p >= end || *p < '0' || *p > '9') {
		return false;
	}
	if (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
		return false; /* leading zero */
	}
	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return false; /* beyond 64 bits */
		}
		v = v * 10 + d;
		p++;
	}
	*s = p;
	*mag = v;
	return true;
}

static struct jnum parse_number(struct parser *ps)
{
	struct jnum n = {false, 0};
	const char *p = ps->p;
	if (*p == '-') {
		n.neg = true;
		p++;
	}
	if (!digits(&p, ps->end, &n.mag)) {
		perr(ps, "malformed or out-of-range integer");
	}
	if (p < ps->end && (*p == '.' || *p == 'e' || *p == 'E')) {
		perr(ps, "not an integer");
	}
	ps->p = (char *)p;
	n.neg = n.neg && n.mag != 0;
	return n;
}

static void parse_scalar(struct parser *ps, struct jval *v)
{
	ws(ps);
	v->at = (size_t)(ps->p - ps->d->text);
	if (peek(ps, '"')) {
		v->type = J_STR;
		v->str = parse_string(ps);
	} else if (ps->p < ps->end && (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))) {
		v->type = J_NUM;
		v->num = parse_number(ps);
	} else {
		perr(ps, "expected a string or an integer");
	}
}

static void parse_value(struct parser *ps, struct jval *v)
{
	if (!peek(ps, '[')) {
		parse_scalar(ps, v);
		return;
	}
	v->at = (size_t)(ps->p - ps->d->text);
	ps->p++;
	v->type = J_LIST;
	v->items = &ps->d->pool[ps->d->npool];
	v->n = 0;
	if (peek(ps, ']')) {
		ps->p++;
		return;
	}
	for (;;) {
		/* The pool holds one item per two bytes of text: always enough. */
		parse_scalar(ps, &ps->d->pool[ps->d->npool++]);
		v->n++;
		if (peek(ps, ']')) {
			ps->p++;
			return;
		}
		expect(ps, ',');
	}
}

static void parse_fields(struct parser *ps)
{
	struct doc *d = ps->d;
	expect(ps, '{');
	if (peek(ps, '}')) {
		ps->p++;
		return;
	}
	for (;;) {
		struct jfield *f = &d->fields[d->nfields];
		f->name = parse_string(ps);
		for (unsigned i = 0; i < d->nfields; i++) {
			if (strcmp(d->fields[i].name, f->name) == 0) {
				vfail("%s: field \"%s\" given twice", d->path, f->name);
			}
		}
		expect(ps, ':');
		parse_value(ps, &f->v);
		d->nfields++;
		if (peek(ps, '}')) {
			ps->p++;
			return;
		}
		expect(ps, ',');
	}
}

static void parse_doc(struct doc *d)
{
	struct parser ps = {d, d->text, d->text + d->len};
	bool seen_fields = false;
	expect(&ps, '{');
	for (;;) {
		const char *key = parse_string(&ps);
		expect(&ps, ':');
		if (strcmp(key, "struct") == 0 && !d->struct_name) {
			ws(&ps);
			d->struct_name = parse_string(&ps);
		} else if (strcmp(key, "fields") == 0 && !seen_fields) {
			parse_fields(&ps);
			seen_fields = true;
		} else {
			vfail("%s: unexpected or repeated key \"%s\"", d->path, key);
		}
		if (peek(&ps, '}')) {
			ps.p++;
			break;
		}
		expect(&ps, ',');
	}
	ws(&ps);
	if (ps.p != ps.end) {
		perr(&ps, "trailing characters after the object");
	}
	if (!d->struct_name || !seen_fields) {
		vfail("%s: needs both \"struct\" and \"fields\"", d->path);
	}
}

static unsigned char *read_file(const char *path, size_t *len, bool nul)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		vfail("cannot open %s: %s", path, strerror(errno));
	}
	size_t cap = 4096, n = 0;
	unsigned char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			vfail("out of memory reading %s", path);
		}
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap) {
			break;
		}
		cap *= 2;
		unsigned char *nb = realloc(buf, cap + 1);
		if (!nb) {
			free(buf);
		}
		buf = nb;
	}
	bool err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		vfail("cannot read %s", path);
	}
	if (nul) {
		buf[n] = '\0';
	}
	*len = n;
	return buf;
}

static void doc_free(struct doc *d)
{
	free(d->text);
	free(d->fields);
	free(d->pool);
	free(d->bin);
	memset(d, 0, sizeof(*d));
}

/* ---- values against the schema ---- */

static const struct cairn__struct_desc *find_struct(const char *name)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NSTRUCTS; i++) {
		if (strcmp(cairn__proto_structs[i].name, name) == 0) {
			return &cairn__proto_structs[i];
		}
	}
	return NULL;
}

static const struct cairn__field_desc *find_field(const struct cairn__struct_desc *sd,
						  const char *name)
{
	for (unsigned i = 0; i < sd->nfields; i++) {
		if (strcmp(sd->fields[i].name, name) == 0) {
			return &sd->fields[i];
		}
	}
	return NULL;
}

static const struct jval *find_value(const struct doc *d, const char *name)
{
	for (unsigned i = 0; i < d->nfields; i++) {
		if (strcmp(d->fields[i].name, name) == 0) {
			return &d->fields[i].v;
		}
	}
	return NULL;
}

static bool is_bytes(const struct cairn__field_desc *f)
{
	return f->size == 1 && f->count > 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* An integer given as a JSON number or as a "0x..." or decimal string. */
static struct jnum to_num(const struct doc *d, const char *field, const struct jval *v)
{
	if (v->type == J_NUM) {
		return v->num;
	}
	if (v->type != J_STR) {
		vfail("%s: %s: expected an integer", d->path, field);
	}
	struct jnum n = {false, 0};
	const char *s = v->str, *end = s + strlen(s);
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))) {
		s += 2;
		if (s == end) {
			vfail("%s: %s: \"%s\" has no hex digits", d->path, field, v->str);
		}
		for (; s < end; s++) {
			int h = hexval(*s);
			if (h < 0 || n.mag >> 60) {
				vfail("%s: %s: \"%s\" is not a 64-bit hex integer", d->path, field,
				      v->str);
			}
			n.mag = n.mag << 4 | (unsigned)h;
		}
		return n;
	}
	if (*s == '-') {
		n.neg = true;
		s++;
	}
	if (!digits(&s, end, &n.mag) || s != end) {
		vfail("%s: %s: \"%s\" is not an integer", d->path, field, v->str);
	}
	n.neg = n.neg && n.mag != 0;
	return n;
}

static bool in_range(const struct cairn__field_desc *f, struct jnum n)
{
	unsigned bits = 8 * f->size;
	if (f->kind == 'u') {
		return !n.neg && (bits == 64 || n.mag < 1ull << bits);
	}
	uint64_t lim = 1ull << (bits - 1);
	return n.neg ? n.mag <= lim : n.mag < lim;
}

/* Two's complement of n in 64 bits: what the low f->size bytes must hold. */
static uint64_t bits_of(struct jnum n)
{
	return n.neg ? (uint64_t)0 - n.mag : n.mag;
}

static struct jnum num_of_bits(const struct cairn__field_desc *f, uint64_t raw)
{
	unsigned bits = 8 * f->size;
	struct jnum n = {false, raw};
	if (f->kind == 'i' && (raw >> (bits - 1)) & 1) {
		/* Sign-extend, then take the magnitude. */
		uint64_t ext = bits == 64 ? raw : raw | ~((1ull << bits) - 1);
		n.neg = true;
		n.mag = (uint64_t)0 - ext;
	}
	return n;
}

static const char *num_str(struct jnum n, char *buf, size_t len)
{
	snprintf(buf, len, "%s%llu (0x%llx)", n.neg ? "-" : "", (unsigned long long)n.mag,
		 (unsigned long long)n.mag);
	return buf;
}

/* Checks one JSON value against its field: shape, length and range. */
static void check_value(const struct doc *d, const struct cairn__field_desc *f,
			const struct jval *v)
{
	if (is_bytes(f)) {
		if (v->type != J_STR) {
			vfail("%s: %s: a u8[%u] is given as a hex string", d->path, f->name,
			      f->count);
		}
		size_t n = strlen(v->str);
		if (n % 2 || n / 2 > f->count) {
			vfail("%s: %s: %zu hex digits for %u bytes", d->path, f->name, n, f->count);
		}
		for (size_t i = 0; i < n; i++) {
			if (hexval(v->str[i]) < 0) {
				vfail("%s: %s: '%c' is not a hex digit", d->path, f->name,
				      v->str[i]);
			}
		}
		return;
	}
	if (f->count > 1) {
		if (v->type != J_LIST || v->n > f->count) {
			vfail("%s: %s: expected a list of at most %u integers", d->path, f->name,
			      f->count);
		}
		for (unsigned i = 0; i < v->n; i++) {
			char b[64];
			struct jnum n = to_num(d, f->name, &v->items[i]);
			if (!in_range(f, n)) {
				vfail("%s: %s[%u]: %s does not fit a %c%u", d->path, f->name, i,
				      num_str(n, b, sizeof(b)), f->kind, 8 * f->size);
			}
		}
		return;
	}
	char b[64];
	struct jnum n = to_num(d, f->name, v);
	if (!in_range(f, n)) {
		vfail("%s: %s: %s does not fit a %c%u", d->path, f->name, num_str(n, b, sizeof(b)),
		      f->kind, 8 * f->size);
	}
}

/* Element i of a field's JSON value, 0 when not given. */
static struct jnum element(const struct doc *d, const struct cairn__field_desc *f, unsigned i)
{
	struct jnum zero = {false, 0};
	const struct jval *v = find_value(d, f->name);
	if (!v) {
		return zero;
	}
	if (is_bytes(f)) {
		if (2 * (size_t)i >= strlen(v->str)) {
			return zero;
		}
		struct jnum n = {
			false, (uint64_t)(hexval(v->str[2 * i]) << 4 | hexval(v->str[2 * i + 1]))};
		return n;
	}
	if (f->count > 1) {
		return i < v->n ? to_num(d, f->name, &v->items[i]) : zero;
	}
	return to_num(d, f->name, v);
}

static uint64_t load_le(const unsigned char *p, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = size; i-- > 0;) {
		v = v << 8 | p[i];
	}
	return v;
}

static void store_le(unsigned char *p, unsigned size, uint64_t v)
{
	for (unsigned i = 0; i < size; i++) {
		p[i] = (unsigned char)(v >> (8 * i));
	}
}

/* The name of the field covering byte off, for messages. */
static const char *field_at(const struct cairn__struct_desc *sd, size_t off)
{
	for (unsigned i = 0; i < sd->nfields; i++) {
		const struct cairn__field_desc *f = &sd->fields[i];
		if (off >= f->offset && off < f->offset + (size_t)f->size * f->count) {
			return f->name;
		}
	}
	return "?";
}

/* The generated table must tile the struct: fields in order, no gap, no overlap. */
static void check_table(const struct cairn__struct_desc *sd)
{
	uint32_t off = 0;
	for (unsigned i = 0; i < sd->nfields; i++) {
		const struct cairn__field_desc *f = &sd->fields[i];
		if (f->offset != off ||
		    (f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8) ||
		    f->count == 0 || (f->kind != 'u' && f->kind != 'i') || f->offset % f->size) {
			T_FAILF("table of %s: field %s at %u (size %u x %u, kind %c), expected at "
				"%u",
				sd->name, f->name, f->offset, f->size, f->count, f->kind, off);
		}
		off += f->size * f->count;
	}
	if (off != sd->size) {
		T_FAILF("table of %s: fields cover %u bytes, struct has %u", sd->name, off,
			sd->size);
	}
}

/* Reads NAME.json and NAME.bin, parses and checks the values against the schema. */
static void load(struct doc *d, const char *dir, const char *json_name)
{
	snprintf(d->path, sizeof(d->path), "%s/%s", dir, json_name);
	d->text = (char *)read_file(d->path, &d->len, true);
	/* Every field takes at least 4 bytes of text, every list item 2. */
	d->fields = calloc(d->len / 4 + 1, sizeof(*d->fields));
	d->pool = calloc(d->len / 2 + 1, sizeof(*d->pool));
	if (!d->fields || !d->pool) {
		vfail("out of memory");
	}
	parse_doc(d);
	d->sd = find_struct(d->struct_name);
	if (!d->sd) {
		vfail("%s: unknown struct \"%s\"", d->path, d->struct_name);
	}
	for (unsigned i = 0; i < d->nfields; i++) {
		const struct cairn__field_desc *f = find_field(d->sd, d->fields[i].name);
		if (!f) {
			vfail("%s: struct %s has no field \"%s\"", d->path, d->sd->name,
			      d->fields[i].name);
		}
		check_value(d, f, &d->fields[i].v);
	}
	char bin_path[4200];
	snprintf(bin_path, sizeof(bin_path), "%.*s.bin", (int)(strlen(d->path) - 5), d->path);
	d->bin = read_file(bin_path, &d->binlen, false);
	if (d->binlen != d->sd->size) {
		vfail("%s: %zu bytes, struct %s has %u", bin_path, d->binlen, d->sd->name,
		      d->sd->size);
	}
}

/* Decodes every field of the .bin and compares it with the JSON. */
static void check_decode(const struct doc *d)
{
	for (unsigned i = 0; i < d->sd->nfields; i++) {
		const struct cairn__field_desc *f = &d->sd->fields[i];
		for (unsigned k = 0; k < f->count; k++) {
			uint64_t raw = load_le(d->bin + f->offset + k * f->size, f->size);
			struct jnum got = num_of_bits(f, raw), want = element(d, f, k);
			if (got.neg != want.neg || got.mag != want.mag) {
				char a[64], b[64];
				vfail("%s: %s[%u] at offset %u: .bin holds %s, .json says %s",
				      d->path, f->name, k, f->offset + k * f->size,
				      num_str(got, a, sizeof(a)), num_str(want, b, sizeof(b)));
			}
		}
	}
}

/* Encodes the JSON into a zeroed struct and compares it with the .bin. */
static void check_encode(const struct doc *d)
{
	unsigned char *buf = calloc(1, d->sd->size);
	if (!buf) {
		vfail("out of memory");
	}
	for (unsigned i = 0; i < d->nfields; i++) {
		const struct cairn__field_desc *f = find_field(d->sd, d->fields[i].name);
		for (unsigned k = 0; k < f->count; k++) {
			store_le(buf + f->offset + k * f->size, f->size, bits_of(element(d, f, k)));
		}
	}
	for (size_t off = 0; off < d->sd->size; off++) {
		if (buf[off] != d->bin[off]) {
			unsigned a = buf[off], b = d->bin[off];
			free(buf);
			vfail("%s: byte %zu (%s): encoded 0x%02x, .bin has 0x%02x", d->path, off,
			      field_at(d->sd, off), a, b);
		}
	}
	free(buf);
}

/* ---- the generated C structs ---- */

static void xcmp(const struct doc *d, const char *name, unsigned i, struct jnum got, int line)
{
	const struct cairn__field_desc *f = find_field(d->sd, name);
	if (!f) {
		vfail("vectors.c:%d: struct %s has no field %s", line, d->sd->name, name);
	}
	struct jnum want = element(d, f, i);
	if (got.neg != want.neg || got.mag != want.mag) {
		char a[64], b[64];
		vfail("%s: C struct member %s[%u] reads %s, .json says %s (vectors.c:%d)", d->path,
		      name, i, num_str(got, a, sizeof(a)), num_str(want, b, sizeof(b)), line);
	}
}

static struct jnum from_u(uint64_t v)
{
	struct jnum n = {false, v};
	return n;
}

static struct jnum from_i(int64_t v)
{
	struct jnum n = {v < 0, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v};
	return n;
}

#define XU(name, member)    xcmp(d, name, 0, from_u(member), __LINE__)
#define XI(name, member)    xcmp(d, name, 0, from_i(member), __LINE__)
#define XA(name, i, member) xcmp(d, name, i, from_u(member), __LINE__)
#define XBYTES(name, arr)                                                                          \
	do {                                                                                       \
		for (unsigned _i = 0; _i < sizeof(arr); _i++)                                      \
			XA(name, _i, (arr)[_i]);                                                   \
	} while (0)

/* Copies the .bin into the generated struct and reads members back through C. */
static void check_c_struct(const struct doc *d)
{
	const char *s = d->sd->name;
	if (strcmp(s, "msg") == 0) {
		struct cairn_msg m;
		memcpy(&m, d->bin, sizeof(m));
		XU("hdr.type", m.hdr.type);
		XU("hdr.flags", m.hdr.flags);
		XU("hdr.length", m.hdr.length);
		XI("hdr.status", m.hdr.status);
		XU("hdr.request_id", m.hdr.request_id);
		XBYTES("payload", m.payload);
	} else if (strcmp(s, "msg_hdr") == 0) {
		struct cairn_msg_hdr h;
		memcpy(&h, d->bin, sizeof(h));
		XU("type", h.type);
		XU("flags", h.flags);
		XU("length", h.length);
		XI("status", h.status);
		XU("request_id", h.request_id);
	} else if (strcmp(s, "slot") == 0) {
		struct cairn_slot sl;
		memcpy(&sl, d->bin, sizeof(sl));
		XU("seq", sl.seq);
		XU("msg.hdr.type", sl.msg.hdr.type);
		XU("msg.hdr.flags", sl.msg.hdr.flags);
		XU("msg.hdr.length", sl.msg.hdr.length);
		XI("msg.hdr.status", sl.msg.hdr.status);
		XU("msg.hdr.request_id", sl.msg.hdr.request_id);
		XBYTES("msg.payload", sl.msg.payload);
	} else if (strcmp(s, "state_header") == 0) {
		struct cairn_state_header h;
		memcpy(&h, d->bin, sizeof(h));
		XU("magic", h.magic);
		XU("version_major", h.version_major);
		XU("version_minor", h.version_minor);
		XU("header_size", h.header_size);
		XU("segment_size", h.segment_size);
		XU("boot_epoch_ns", h.boot_epoch_ns);
		XU("daemon_pid", h.daemon_pid);
		XU("max_lanes", h.max_lanes);
		XI("apply_cpu", h.apply_cpu);
		XI("numa_node", h.numa_node);
		XU("counters_offset", h.counters_offset);
		XU("counters_size", h.counters_size);
		XU("heartbeat_ns", h.heartbeat_ns);
		XU("daemon_state", h.daemon_state);
		XU("grid_offset", h.grid_offset);
		XU("grid_size", h.grid_size);
		XU("events_offset", h.events_offset);
		XU("events_size", h.events_size);
		XU("engine_counters_offset", h.engine_counters_offset);
		XU("engine_counters_size", h.engine_counters_size);
		XU("metrics_offset", h.metrics_offset);
		XU("metrics_size", h.metrics_size);
		XBYTES("_reserved", h._reserved);
	} else if (strcmp(s, "daemon_counters") == 0) {
		struct cairn_daemon_counters c;
		memcpy(&c, d->bin, sizeof(c));
		XU("lanes_attached", c.lanes_attached);
		XU("lanes_active", c.lanes_active);
		XU("lanes_reclaimed", c.lanes_reclaimed);
		XU("lanes_dropped", c.lanes_dropped);
		XU("attach_refused", c.attach_refused);
		XU("commands", c.commands);
		XU("results", c.results);
		XU("errors", c.errors);
		XU("result_ring_full", c.result_ring_full);
		XU("sleeps", c.sleeps);
		XU("wakes_sent", c.wakes_sent);
		for (unsigned i = 0; i < 5; i++) {
			XA("_reserved", i, c._reserved[i]);
		}
	} else if (strcmp(s, "lane_header") == 0) {
		struct cairn_lane_header h;
		memcpy(&h, d->bin, sizeof(h));
		XU("magic", h.magic);
		XU("version_major", h.version_major);
		XU("header_size", h.header_size);
		XU("lane_size", h.lane_size);
		XU("lane_id", h.lane_id);
		XU("lane_state", h.lane_state);
		XU("client_id", h.client_id);
		XU("cmd_ring_offset", h.cmd_ring_offset);
		XU("res_ring_offset", h.res_ring_offset);
		XU("blob_offset", h.blob_offset);
		XU("blob_size", h.blob_size);
		XU("cmd_capacity", h.cmd_capacity);
		XU("res_capacity", h.res_capacity);
		XU("slot_size", h.slot_size);
		XU("event_sleepers", h.event_sleepers);
		XBYTES("_reserved", h._reserved);
	} else if (strcmp(s, "ring_header") == 0) {
		struct cairn_ring_header h;
		memcpy(&h, d->bin, sizeof(h));
		XU("capacity", h.capacity);
		XU("mask", h.mask);
		XU("slot_size", h.slot_size);
		XU("head", h.head);
		XU("tail", h.tail);
		XU("bell.word", h.bell.word);
		XU("bell.sleepers", h.bell.sleepers);
		XU("bell.wakes", h.bell.wakes);
	} else if (strcmp(s, "doorbell") == 0) {
		struct cairn_doorbell b;
		memcpy(&b, d->bin, sizeof(b));
		XU("word", b.word);
		XU("sleepers", b.sleepers);
		XU("wakes", b.wakes);
	} else if (strcmp(s, "hello") == 0) {
		struct cairn_hello h;
		memcpy(&h, d->bin, sizeof(h));
		XU("magic", h.magic);
		XU("version_major", h.version_major);
		XU("version_minor", h.version_minor);
		XU("flags", h.flags);
		XU("client_pid", h.client_pid);
		XU("cmd_capacity", h.cmd_capacity);
		XU("res_capacity", h.res_capacity);
		XU("blob_size", h.blob_size);
		XBYTES("name", h.name);
	} else if (strcmp(s, "welcome") == 0) {
		struct cairn_welcome w;
		memcpy(&w, d->bin, sizeof(w));
		XU("magic", w.magic);
		XU("version_major", w.version_major);
		XU("version_minor", w.version_minor);
		XI("status", w.status);
		XU("lane_id", w.lane_id);
		XU("client_id", w.client_id);
		XU("session_id", w.session_id);
		XU("dedup_window", w.dedup_window);
		XU("resumed", w.resumed);
		XU("durable_lsn", w.durable_lsn);
	} else if (strcmp(s, "hello_session") == 0) {
		struct cairn_hello_session h;
		memcpy(&h, d->bin, sizeof(h));
		XU("session_id", h.session_id);
		XU("resubmitting", h.resubmitting);
	} else if (strcmp(s, "ping") == 0) {
		struct cairn_ping p;
		memcpy(&p, d->bin, sizeof(p));
		XU("client_stamp", p.client_stamp);
	} else if (strcmp(s, "pong") == 0) {
		struct cairn_pong p;
		memcpy(&p, d->bin, sizeof(p));
		XU("client_stamp", p.client_stamp);
		XU("ingress_ns", p.ingress_ns);
	} else if (strcmp(s, "echo") == 0) {
		struct cairn_echo e;
		memcpy(&e, d->bin, sizeof(e));
		XBYTES("data", e.data);
	} else if (strcmp(s, "echo_blob") == 0) {
		struct cairn_echo_blob e;
		memcpy(&e, d->bin, sizeof(e));
		XU("in_offset", e.in_offset);
		XU("in_length", e.in_length);
		XU("out_offset", e.out_offset);
		XU("out_capacity", e.out_capacity);
	} else if (strcmp(s, "echo_blob_reply") == 0) {
		struct cairn_echo_blob_reply e;
		memcpy(&e, d->bin, sizeof(e));
		XU("out_offset", e.out_offset);
		XU("out_length", e.out_length);
	} else if (strcmp(s, "error_info") == 0) {
		struct cairn_error_info e;
		memcpy(&e, d->bin, sizeof(e));
		XU("request_type", e.request_type);
		XU("detail", e.detail);
	} else if (strcmp(s, "grid_header") == 0) {
		struct cairn_grid_header g;
		memcpy(&g, d->bin, sizeof(g));
		XU("max_hunts", g.max_hunts);
		XU("max_entities", g.max_entities);
		XU("shards_per_hunt", g.shards_per_hunt);
		XU("block_cells", g.block_cells);
		XU("n_maps", g.n_maps);
		XU("hunts", g.hunts);
		XU("entities", g.entities);
		XU("entities_hwm", g.entities_hwm);
		XU("maps_offset", g.maps_offset);
		XU("hunts_offset", g.hunts_offset);
		XU("entities_offset", g.entities_offset);
		XU("heap_offset", g.heap_offset);
		XU("heap_size", g.heap_size);
		XU("heap_used", g.heap_used);
		XU("hunt_stride", g.hunt_stride);
		XU("applied", g.applied);
		XBYTES("_reserved", g._reserved);
	} else if (strcmp(s, "map_info") == 0) {
		struct cairn_map_info m;
		memcpy(&m, d->bin, sizeof(m));
		XU("width", m.width);
		XU("height", m.height);
		XU("passable", m.passable);
		XU("table_state", m.table_state);
		XU("hash", m.hash);
		XBYTES("name", m.name);
	} else if (strcmp(s, "hunt_info") == 0) {
		struct cairn_hunt_info h;
		memcpy(&h, d->bin, sizeof(h));
		XU("seq", h.seq);
		XU("id", h.id);
		XU("map_id", h.map_id);
		XU("width", h.width);
		XU("height", h.height);
		XU("cell_mm", h.cell_mm);
		XU("claim_radius_mm", h.claim_radius_mm);
		XU("speed_limit_mm_s", h.speed_limit_mm_s);
		XU("blocks_x", h.blocks_x);
		XU("blocks_y", h.blocks_y);
		XU("shards", h.shards);
		XU("shards_offset", h.shards_offset);
		XU("blocks_offset", h.blocks_offset);
		XU("players", h.players);
		XU("clues", h.clues);
		XU("clues_claimed", h.clues_claimed);
		XU("map_hash", h.map_hash);
		XU("created_ns", h.created_ns);
	} else if (strcmp(s, "shard") == 0) {
		struct cairn_shard sh;
		memcpy(&sh, d->bin, sizeof(sh));
		XU("seq", sh.seq);
		XBYTES("_reserved", sh._reserved);
	} else if (strcmp(s, "block") == 0) {
		struct cairn_block b;
		memcpy(&b, d->bin, sizeof(b));
		XU("first_player", b.first_player);
		XU("first_clue", b.first_clue);
		XU("players", b.players);
		XU("clues", b.clues);
	} else if (strcmp(s, "entity") == 0) {
		struct cairn_entity e;
		memcpy(&e, d->bin, sizeof(e));
		XU("id", e.id);
		XU("hunt_id", e.hunt_id);
		XU("kind", e.kind);
		XU("flags", e.flags);
		XU("block", e.block);
		XU("next", e.next);
		XI("x", e.x);
		XI("y", e.y);
		XU("claimed_by", e.claimed_by);
		XU("claims", e.claims);
		XI("value", e.value);
		XU("stamp_ns", e.stamp_ns);
		XU("order", e.order);
	} else if (strcmp(s, "event_ring_header") == 0) {
		struct cairn_event_ring_header h;
		memcpy(&h, d->bin, sizeof(h));
		XU("capacity", h.capacity);
		XU("mask", h.mask);
		XU("slot_size", h.slot_size);
		XU("tail", h.tail);
		XU("bell.word", h.bell.word);
		XU("bell.sleepers", h.bell.sleepers);
		XU("bell.wakes", h.bell.wakes);
		XBYTES("_reserved1", h._reserved1);
	} else if (strcmp(s, "event") == 0) {
		struct cairn_event e;
		memcpy(&e, d->bin, sizeof(e));
		XU("type", e.type);
		XU("hunt_id", e.hunt_id);
		XU("order", e.order);
		XU("stamp_ns", e.stamp_ns);
		XU("player_id", e.player_id);
		XU("clue_id", e.clue_id);
		XI("value", e.value);
		XI("x", e.x);
		XI("y", e.y);
	} else if (strcmp(s, "event_slot") == 0) {
		struct cairn_event_slot sl;
		memcpy(&sl, d->bin, sizeof(sl));
		XU("seq", sl.seq);
		XU("event.type", sl.event.type);
		XU("event.hunt_id", sl.event.hunt_id);
		XU("event.order", sl.event.order);
		XU("event.stamp_ns", sl.event.stamp_ns);
		XU("event.player_id", sl.event.player_id);
		XU("event.clue_id", sl.event.clue_id);
		XI("event.value", sl.event.value);
		XI("event.x", sl.event.x);
		XI("event.y", sl.event.y);
		XBYTES("event._reserved", sl.event._reserved);
	} else if (strcmp(s, "engine_counters") == 0) {
		struct cairn_engine_counters c;
		memcpy(&c, d->bin, sizeof(c));
		XU("applied", c.applied);
		XU("moves", c.moves);
		XU("claims", c.claims);
		XU("lost", c.lost);
		XU("events", c.events);
		XU("rejected", c.rejected);
		for (unsigned i = 0; i < 64; i++) {
			XA("by_type", i, c.by_type[i]);
			XA("by_error", i, c.by_error[i]);
		}
	} else if (strcmp(s, "hit") == 0) {
		struct cairn_hit h;
		memcpy(&h, d->bin, sizeof(h));
		XU("id", h.id);
		XI("x", h.x);
		XI("y", h.y);
		XU("dist_mm", h.dist_mm);
		XI("value", h.value);
	} else if (strcmp(s, "empty") == 0) {
		struct cairn_empty e;
		memcpy(&e, d->bin, sizeof(e));
		XBYTES("_reserved", e._reserved);
	} else if (strcmp(s, "hunt_create") == 0) {
		struct cairn_hunt_create p;
		memcpy(&p, d->bin, sizeof(p));
		XU("map_id", p.map_id);
		XU("claim_radius_mm", p.claim_radius_mm);
		XU("speed_limit_mm_s", p.speed_limit_mm_s);
		XU("cell_mm", p.cell_mm);
	} else if (strcmp(s, "hunt_created") == 0) {
		struct cairn_hunt_created p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("map_id", p.map_id);
		XU("width", p.width);
		XU("height", p.height);
		XU("cell_mm", p.cell_mm);
		XU("claim_radius_mm", p.claim_radius_mm);
		XU("speed_limit_mm_s", p.speed_limit_mm_s);
	} else if (strcmp(s, "hunt_ref") == 0) {
		struct cairn_hunt_ref p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
	} else if (strcmp(s, "hunt_destroyed") == 0) {
		struct cairn_hunt_destroyed p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("players", p.players);
		XU("clues", p.clues);
	} else if (strcmp(s, "join") == 0) {
		struct cairn_join p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XI("x", p.x);
		XI("y", p.y);
	} else if (strcmp(s, "joined") == 0) {
		struct cairn_joined p;
		memcpy(&p, d->bin, sizeof(p));
		XU("player_id", p.player_id);
		XU("hunt_id", p.hunt_id);
		XI("x", p.x);
		XI("y", p.y);
	} else if (strcmp(s, "player_ref") == 0) {
		struct cairn_player_ref p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("player_id", p.player_id);
	} else if (strcmp(s, "left") == 0) {
		struct cairn_left p;
		memcpy(&p, d->bin, sizeof(p));
		XU("player_id", p.player_id);
		XU("claims", p.claims);
		XI("score", p.score);
	} else if (strcmp(s, "move") == 0) {
		struct cairn_move p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("player_id", p.player_id);
		XI("x", p.x);
		XI("y", p.y);
	} else if (strcmp(s, "moved") == 0) {
		struct cairn_moved p;
		memcpy(&p, d->bin, sizeof(p));
		XU("player_id", p.player_id);
		XU("outcome", p.outcome);
		XI("x", p.x);
		XI("y", p.y);
		XU("clue_id", p.clue_id);
		XU("holder_id", p.holder_id);
		XI("value", p.value);
		XI("score", p.score);
	} else if (strcmp(s, "clue_place") == 0) {
		struct cairn_clue_place p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XI("x", p.x);
		XI("y", p.y);
		XI("value", p.value);
	} else if (strcmp(s, "clue_placed") == 0) {
		struct cairn_clue_placed p;
		memcpy(&p, d->bin, sizeof(p));
		XU("clue_id", p.clue_id);
		XU("hunt_id", p.hunt_id);
		XI("x", p.x);
		XI("y", p.y);
	} else if (strcmp(s, "clue_ref") == 0) {
		struct cairn_clue_ref p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("clue_id", p.clue_id);
	} else if (strcmp(s, "clue_removed") == 0) {
		struct cairn_clue_removed p;
		memcpy(&p, d->bin, sizeof(p));
		XU("clue_id", p.clue_id);
		XU("claimed_by", p.claimed_by);
		XI("value", p.value);
	} else if (strcmp(s, "nearest_clues") == 0) {
		struct cairn_nearest_clues p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XI("x", p.x);
		XI("y", p.y);
		XU("k", p.k);
		XU("out_offset", p.out_offset);
		XU("out_capacity", p.out_capacity);
		XU("include_claimed", p.include_claimed);
	} else if (strcmp(s, "players_near") == 0) {
		struct cairn_players_near p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XI("x", p.x);
		XI("y", p.y);
		XU("radius_mm", p.radius_mm);
		XU("max", p.max);
		XU("out_offset", p.out_offset);
		XU("out_capacity", p.out_capacity);
	} else if (strcmp(s, "leaderboard") == 0) {
		struct cairn_leaderboard p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("k", p.k);
		XU("out_offset", p.out_offset);
		XU("out_capacity", p.out_capacity);
	} else if (strcmp(s, "query_reply") == 0) {
		struct cairn_query_reply p;
		memcpy(&p, d->bin, sizeof(p));
		XU("count", p.count);
		XU("total", p.total);
		XU("out_offset", p.out_offset);
		XU("out_length", p.out_length);
	} else if (strcmp(s, "player_info") == 0) {
		struct cairn_player_info p;
		memcpy(&p, d->bin, sizeof(p));
		XU("player_id", p.player_id);
		XU("hunt_id", p.hunt_id);
		XI("x", p.x);
		XI("y", p.y);
		XU("claims", p.claims);
		XI("score", p.score);
		XU("stamp_ns", p.stamp_ns);
	} else if (strcmp(s, "state_hash_reply") == 0) {
		struct cairn_state_hash_reply p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hash", p.hash);
		XU("applied", p.applied);
		XU("hunts", p.hunts);
		XU("entities", p.entities);
	} else if (strcmp(s, "snapshot_reply") == 0) {
		struct cairn_snapshot_reply p;
		memcpy(&p, d->bin, sizeof(p));
		XU("lsn", p.lsn);
		XU("state_hash", p.state_hash);
		XU("bytes", p.bytes);
		XU("duration_ns", p.duration_ns);
	} else if (strcmp(s, "rollback") == 0) {
		struct cairn_rollback p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("lsn", p.lsn);
	} else if (strcmp(s, "rollback_reply") == 0) {
		struct cairn_rollback_reply p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("players", p.players);
		XU("target_lsn", p.target_lsn);
		XU("lsn", p.lsn);
		XU("clues", p.clues);
	} else if (strcmp(s, "wal_status") == 0) {
		struct cairn_wal_status p;
		memcpy(&p, d->bin, sizeof(p));
		XU("appended_lsn", p.appended_lsn);
		XU("durable_lsn", p.durable_lsn);
		XU("snapshot_lsn", p.snapshot_lsn);
		XI("error", p.error);
		XU("backend", p.backend);
		XU("durability", p.durability);
	} else if (strcmp(s, "path_pair") == 0) {
		struct cairn_path_pair p;
		memcpy(&p, d->bin, sizeof(p));
		XI("from_x", p.from_x);
		XI("from_y", p.from_y);
		XI("to_x", p.to_x);
		XI("to_y", p.to_y);
	} else if (strcmp(s, "path_batch") == 0) {
		struct cairn_path_batch p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("count", p.count);
		XU("in_offset", p.in_offset);
		XU("out_offset", p.out_offset);
		XU("out_capacity", p.out_capacity);
		XU("method", p.method);
	} else if (strcmp(s, "next_move_item") == 0) {
		struct cairn_next_move_item p;
		memcpy(&p, d->bin, sizeof(p));
		XI("status", p.status);
		XU("dir", p.dir);
		XBYTES("_pad0", p._pad0);
		XI("x", p.x);
		XI("y", p.y);
	} else if (strcmp(s, "distance_item") == 0) {
		struct cairn_distance_item p;
		memcpy(&p, d->bin, sizeof(p));
		XI("status", p.status);
		XU("straight", p.straight);
		XU("diagonal", p.diagonal);
		XU("length_mm", p.length_mm);
		XBYTES("_reserved", p._reserved);
	} else if (strcmp(s, "path_batch_reply") == 0) {
		struct cairn_path_batch_reply p;
		memcpy(&p, d->bin, sizeof(p));
		XU("count", p.count);
		XU("failed", p.failed);
		XU("out_offset", p.out_offset);
		XU("out_length", p.out_length);
		XU("method", p.method);
		XU("expansions", p.expansions);
	} else if (strcmp(s, "path_point") == 0) {
		struct cairn_path_point p;
		memcpy(&p, d->bin, sizeof(p));
		XI("x", p.x);
		XI("y", p.y);
	} else if (strcmp(s, "path") == 0) {
		struct cairn_path p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XI("from_x", p.from_x);
		XI("from_y", p.from_y);
		XI("to_x", p.to_x);
		XI("to_y", p.to_y);
		XU("out_offset", p.out_offset);
		XU("out_capacity", p.out_capacity);
		XU("flags", p.flags);
		XU("method", p.method);
	} else if (strcmp(s, "path_to_clue") == 0) {
		struct cairn_path_to_clue p;
		memcpy(&p, d->bin, sizeof(p));
		XU("hunt_id", p.hunt_id);
		XU("player_id", p.player_id);
		XU("clue_id", p.clue_id);
		XU("out_offset", p.out_offset);
		XU("out_capacity", p.out_capacity);
		XU("flags", p.flags);
		XU("method", p.method);
	} else if (strcmp(s, "path_reply") == 0) {
		struct cairn_path_reply p;
		memcpy(&p, d->bin, sizeof(p));
		XU("count", p.count);
		XU("cells", p.cells);
		XU("straight", p.straight);
		XU("diagonal", p.diagonal);
		XU("length_mm", p.length_mm);
		XU("out_offset", p.out_offset);
		XU("out_length", p.out_length);
		XU("method", p.method);
		XU("expansions", p.expansions);
	} else if (strcmp(s, "evict") == 0) {
		struct cairn_evict p;
		memcpy(&p, d->bin, sizeof(p));
		XU("client_id", p.client_id);
		XBYTES("_reserved", p._reserved);
	} else if (strcmp(s, "evicted") == 0) {
		struct cairn_evicted p;
		memcpy(&p, d->bin, sizeof(p));
		XU("client_id", p.client_id);
		XU("lane", p.lane);
		XI("pid", p.pid);
		XU("uid", p.uid);
		XBYTES("_reserved", p._reserved);
	} else if (strcmp(s, "metrics_header") == 0) {
		struct cairn_metrics_header p;
		memcpy(&p, d->bin, sizeof(p));
		XU("flags", p.flags);
		XU("hist_buckets", p.hist_buckets);
		XU("start_ns", p.start_ns);
		XU("daemon_offset", p.daemon_offset);
		XU("wal_offset", p.wal_offset);
		XU("lanes_offset", p.lanes_offset);
		XU("lane_stride", p.lane_stride);
		XU("lane_count", p.lane_count);
		XBYTES("_reserved", p._reserved);
	} else if (strcmp(s, "daemon_metrics") == 0) {
		struct cairn_daemon_metrics p;
		memcpy(&p, d->bin, sizeof(p));
		XU("sampled_ns", p.sampled_ns);
		XU("rss_bytes", p.rss_bytes);
		XU("cpu_ns", p.cpu_ns);
		XU("apply_cpu_ns", p.apply_cpu_ns);
		XU("solver_jobs", p.solver_jobs);
		XU("solver_inline", p.solver_inline);
		XU("solver_out", p.solver_out);
		XU("solver_threads", p.solver_threads);
		XBYTES("_reserved", p._reserved);
	} else if (strcmp(s, "wal_metrics") == 0) {
		struct cairn_wal_metrics p;
		memcpy(&p, d->bin, sizeof(p));
		XU("backend", p.backend);
		XU("durability", p.durability);
		XU("appended_lsn", p.appended_lsn);
		XU("durable_lsn", p.durable_lsn);
		XU("records", p.records);
		XU("bytes", p.bytes);
		XU("batches", p.batches);
		XU("sync_ns_sum", p.sync_ns_sum);
		XU("sync_ns_max", p.sync_ns_max);
		XU("snapshot_lsn", p.snapshot_lsn);
		XI("error", p.error);
		XU("_pad0", p._pad0);
		XBYTES("_reserved0", p._reserved0);
		for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
			XA("sync_hist", i, p.sync_hist[i]);
		}
		XBYTES("_reserved1", p._reserved1);
	} else if (strcmp(s, "lane_metrics") == 0) {
		struct cairn_lane_metrics p;
		memcpy(&p, d->bin, sizeof(p));
		XU("seq", p.seq);
		XU("client_id", p.client_id);
		XU("attached_ns", p.attached_ns);
		XI("pid", p.pid);
		XU("uid", p.uid);
		XU("gid", p.gid);
		XU("lane_state", p.lane_state);
		XU("cmd_capacity", p.cmd_capacity);
		XU("res_capacity", p.res_capacity);
		XBYTES("name", p.name);
		XU("session_id", p.session_id);
		XBYTES("_reserved0", p._reserved0);
		XU("commands", p.commands);
		XU("results", p.results);
		XU("errors", p.errors);
		XU("full", p.full);
		XU("wakes", p.wakes);
		XU("cmd_pushed", p.cmd_pushed);
		XU("res_popped", p.res_popped);
		XU("held", p.held);
		XU("solving", p.solving);
		XU("wait_ns_sum", p.wait_ns_sum);
		XBYTES("_reserved1", p._reserved1);
		for (unsigned i = 0; i < CAIRN_HIST_BUCKETS; i++) {
			XA("wait_hist", i, p.wait_hist[i]);
		}
		XBYTES("_reserved2", p._reserved2);
	} else {
		vfail("%s: no C struct cross-check for struct %s: add one to vectors.c", d->path,
		      s);
	}
}

/* ---- message vectors ---- */

static const struct cairn__msg_desc *find_msg(uint16_t type)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		if (cairn__proto_msgs[i].type == type) {
			return &cairn__proto_msgs[i];
		}
	}
	return NULL;
}

static bool known_error(int code)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NERRORS; i++) {
		if (cairn__proto_errors[i].code == code) {
			return true;
		}
	}
	return false;
}

/* A msg vector is a valid message whose payload is its companion payload vector. */
static void check_message(const struct doc *d, const char *dir, const char *json_name)
{
	struct cairn_msg m;
	memcpy(&m, d->bin, sizeof(m));
	const struct cairn__msg_desc *md = find_msg(m.hdr.type);
	if (!md) {
		vfail("%s: type 0x%04x is not a message of the schema", d->path, m.hdr.type);
	}
	if (m.hdr.length < md->len_min || m.hdr.length > md->len_max) {
		vfail("%s: length %u outside %u..%u for %s", d->path, m.hdr.length, md->len_min,
		      md->len_max, md->name);
	}
	if (m.hdr.flags != 0) {
		vfail("%s: flags 0x%x in a message (none are defined)", d->path, m.hdr.flags);
	}
	if (m.hdr.type == CAIRN_MSG_ERROR ? !known_error(m.hdr.status) : m.hdr.status != 0) {
		vfail("%s: status %d in a %s", d->path, m.hdr.status, md->name);
	}

	char name[512];
	snprintf(name, sizeof(name), "%.*s.payload.json", (int)(strlen(json_name) - 5), json_name);
	load(&companion, dir, name);
	if (strcmp(companion.sd->name, md->payload) != 0) {
		vfail("%s: payload vector %s is a %s, %s carries a %s", d->path, name,
		      companion.sd->name, md->name, md->payload);
	}
	for (unsigned i = 0; i < sizeof(m.payload); i++) {
		if (companion.bin[i] != m.payload[i]) {
			vfail("%s: payload byte %u is 0x%02x, payload vector %s has 0x%02x",
			      d->path, i, m.payload[i], name, companion.bin[i]);
		}
	}
}

/* Checks one vector. Returns the index of its struct, or -1 if it failed. */
static int run_vector(const char *dir, const char *name)
{
	/* volatile: set between setjmp and a possible longjmp. */
	volatile int k = -1;
	fail_name = name;
	if (setjmp(fail_jump) == 0) {
		load(&vec, dir, name);
		check_decode(&vec);
		check_encode(&vec);
		check_c_struct(&vec);
		if (strcmp(vec.sd->name, "msg") == 0) {
			check_message(&vec, dir, name);
		}
		k = (int)(vec.sd - cairn__proto_structs);
		printf("ok %s (%s, %u fields given)\n", name, vec.sd->name, vec.nfields);
	}
	doc_free(&vec);
	doc_free(&companion);
	return k;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: vectors DIR\n");
		return T_FAIL;
	}
	const char *dir = argv[1];
	for (unsigned i = 0; i < CAIRN__PROTO_NSTRUCTS; i++) {
		check_table(&cairn__proto_structs[i]);
	}

	DIR *dh = opendir(dir);
	if (!dh) {
		T_FAILF("cannot open %s: %s", dir, strerror(errno));
	}
	char **names = NULL;
	size_t n = 0;
	unsigned orphans = 0;
	struct dirent *e;
	while ((e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".bin") == 0) {
			/* A golden file whose source of truth was deleted or renamed. */
			char json[4200];
			snprintf(json, sizeof(json), "%s/%.*s.json", dir, (int)(len - 4),
				 e->d_name);
			if (access(json, F_OK) != 0) {
				fprintf(stderr, "FAIL: %s has no .json\n", e->d_name);
				orphans++;
			}
		}
		if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
			char **nn = realloc(names, (n + 1) * sizeof(*names));
			ASSERT_TRUE(nn != NULL);
			names = nn;
			names[n] = strdup(e->d_name);
			ASSERT_TRUE(names[n] != NULL);
			n++;
		}
	}
	closedir(dh);
	if (n == 0) {
		T_FAILF("no .json vectors in %s", dir);
	}
	qsort(names, n, sizeof(*names), cmp_str);

	bool covered[CAIRN__PROTO_NSTRUCTS] = {false};
	unsigned passed = 0, failed = orphans;
	for (size_t i = 0; i < n; i++) {
		int k = run_vector(dir, names[i]);
		if (k >= 0) {
			covered[k] = true;
			passed++;
		} else {
			failed++;
		}
	}
	for (unsigned i = 0; i < CAIRN__PROTO_NSTRUCTS; i++) {
		if (!covered[i]) {
			fprintf(stderr, "FAIL: no passing vector for struct %s\n",
				cairn__proto_structs[i].name);
			failed++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(names[i]);
	}
	free(names);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? T_FAIL : T_PASS;
}
