/*
 * What cairn-replay says: messages on stderr, hash lines and JSON on stdout.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "replay.h"

const char *program = "cairn-replay";

void say_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void say_note(const struct options *o, const char *fmt, ...)
{
	if (o->quiet) {
		return;
	}
	va_list ap;
	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void print_hash_line(const struct options *o, uint64_t lsn, uint64_t hash, uint64_t records)
{
	if (o->json) {
		struct json j;
		json_begin(&j, stdout);
		json_u64(&j, "lsn", lsn);
		json_hex(&j, "hash", hash);
		json_u64(&j, "records", records);
		json_end(&j);
	} else {
		printf("lsn=%" PRIu64 " hash=0x%016" PRIx64 " records=%" PRIu64 "\n", lsn, hash,
		       records);
	}
}

void json_begin(struct json *j, FILE *f)
{
	j->f = f;
	j->any = false;
	fputc('{', f);
}

static void key(struct json *j, const char *k)
{
	fprintf(j->f, "%s\"%s\":", j->any ? "," : "", k);
	j->any = true;
}

void json_u64(struct json *j, const char *k, uint64_t v)
{
	key(j, k);
	fprintf(j->f, "%" PRIu64, v);
}

void json_hex(struct json *j, const char *k, uint64_t v)
{
	key(j, k);
	fprintf(j->f, "\"0x%016" PRIx64 "\"", v);
}

void json_num(struct json *j, const char *k, double v)
{
	key(j, k);
	fprintf(j->f, "%.6g", v);
}

void json_bool(struct json *j, const char *k, bool v)
{
	key(j, k);
	fputs(v ? "true" : "false", j->f);
}

void json_str(struct json *j, const char *k, const char *v)
{
	key(j, k);
	fputc('"', j->f);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\') {
			fprintf(j->f, "\\%c", *p);
		} else if (*p < 0x20) {
			fprintf(j->f, "\\u%04x", *p);
		} else {
			fputc(*p, j->f);
		}
	}
	fputc('"', j->f);
}

void json_end(struct json *j)
{
	fputs("}\n", j->f);
	fflush(j->f);
}

void damage_text(const struct cairn__wal_damage *d, char *buf, size_t len)
{
	snprintf(buf, len, "%s offset %" PRIu64 ", LSN %" PRIu64 ": %s", d->file, d->offset, d->lsn,
		 d->reason);
}

void json_damage(struct json *j, const struct cairn__wal_damage *d)
{
	json_str(j, "damage_file", d->file);
	json_u64(j, "damage_offset", d->offset);
	json_u64(j, "damage_lsn", d->lsn);
	json_str(j, "damage_reason", d->reason);
}
