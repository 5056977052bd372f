/*
 * --dump: one line per record, readable and parseable (key=value, space-separated):
 *
 *   lsn=41 kind=command session=0x... request=17 ingress_ns=... type=MOVE hunt_id=0x...
 *
 * The message's type name and its payload's fields come from the schema's descriptor
 * tables (protocol_desc.h), so that a new message or field needs no change here. Ids
 * are shown in hex (their generation is the top byte), padding and reserved fields not
 * at all, and a payload field whose name a record key already has gets "msg." in front.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "protocol_desc.h"
#include "replay.h"

const char *record_kind_name(uint16_t kind)
{
	switch (kind) {
	case CAIRN__WAL_COMMAND:
		return "command";
	case CAIRN__WAL_ROLLBACK:
		return "rollback";
	default:
		return NULL;
	}
}

static const struct cairn__msg_desc *msg_desc(uint16_t type)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		if (cairn__proto_msgs[i].type == type) {
			return &cairn__proto_msgs[i];
		}
	}
	return NULL;
}

static const struct cairn__struct_desc *struct_desc(const char *name)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NSTRUCTS; i++) {
		if (strcmp(cairn__proto_structs[i].name, name) == 0) {
			return &cairn__proto_structs[i];
		}
	}
	return NULL;
}

/* Fields shown as ids: in hex. */
static bool is_id(const char *name)
{
	size_t n = strlen(name);
	return strcmp(name, "claimed_by") == 0 ||
	       (n > 3 && strcmp(name + n - 3, "_id") == 0 && strcmp(name, "map_id") != 0);
}

static bool clashes(const char *name)
{
	static const char *const keys[] = {"lsn",        "kind", "session", "request",
					   "ingress_ns", "type", "flags",   "image_bytes"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(name, keys[i]) == 0) {
			return true;
		}
	}
	return false;
}

static void hex_bytes(FILE *f, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%02x", p[i]);
	}
}

static void payload_fields(FILE *f, const struct cairn_msg *m, const struct cairn__struct_desc *sd)
{
	for (uint32_t i = 0; i < sd->nfields; i++) {
		const struct cairn__field_desc *fd = &sd->fields[i];
		uint64_t bytes = (uint64_t)fd->size * fd->count;
		if (fd->name[0] == '_' || fd->offset + bytes > m->hdr.length) {
			continue;
		}
		const uint8_t *p = m->payload + fd->offset;
		fprintf(f, " %s%s=", clashes(fd->name) ? "msg." : "", fd->name);
		if (fd->count != 1 || fd->size > 8) {
			hex_bytes(f, p, bytes);
			continue;
		}
		uint64_t v = 0;
		for (uint32_t k = 0; k < fd->size; k++) {
			v |= (uint64_t)p[k] << (8 * k);
		}
		if (fd->kind == 'i') {
			unsigned shift = 64 - 8 * fd->size;
			int64_t s = (int64_t)(v << shift) >> shift;
			fprintf(f, "%" PRId64, s);
		} else if (is_id(fd->name)) {
			fprintf(f, "0x%08" PRIx64, v);
		} else {
			fprintf(f, "%" PRIu64, v);
		}
	}
}

static void dump_record(FILE *f, const struct cairn__wal_record *rec)
{
	const char *kind = record_kind_name(rec->kind);
	fprintf(f, "lsn=%" PRIu64 " kind=", rec->lsn);
	if (kind) {
		fputs(kind, f);
	} else {
		fprintf(f, "%u", rec->kind);
	}
	struct cairn__wal_command c;
	if (rec->length < sizeof(c)) {
		fprintf(f, " bytes=%" PRIu32 " body=", rec->length);
		hex_bytes(f, rec->body, rec->length);
		fputc('\n', f);
		return;
	}
	memcpy(&c, rec->body, sizeof(c));
	fprintf(f, " session=0x%016" PRIx64 " request=%" PRIu64 " ingress_ns=%" PRIu64, c.session,
		c.msg.hdr.request_id, c.ingress_ns);
	const struct cairn__msg_desc *d = msg_desc(c.msg.hdr.type);
	const struct cairn__struct_desc *sd = d ? struct_desc(d->payload) : NULL;
	if (d) {
		fprintf(f, " type=%s", d->name);
	} else {
		fprintf(f, " type=0x%04x", c.msg.hdr.type);
	}
	if (c.msg.hdr.flags != 0) {
		fprintf(f, " flags=%u", c.msg.hdr.flags);
	}
	if (sd && c.msg.hdr.length <= sizeof(c.msg.payload)) {
		payload_fields(f, &c.msg, sd);
	} else {
		fprintf(f, " payload=");
		hex_bytes(f, c.msg.payload, sizeof(c.msg.payload));
	}
	if (rec->length > sizeof(c)) {
		fprintf(f, " image_bytes=%zu", rec->length - sizeof(c));
	}
	fputc('\n', f);
}

int run_dump(const struct options *o, const struct source *s)
{
	struct cairn__wal_reader *r;
	char why[512];
	int rc = cairn__wal_reader_open(s->wal_dir, 1, &r, why, sizeof(why));
	if (rc == -ENOENT) {
		say_note(o, "%s holds no log segments", s->wal_dir);
		return EXIT_OK;
	}
	if (rc < 0) {
		say_error("%s", why);
		return EXIT_CANNOT;
	}
	uint64_t n = 0, first = 0, last = 0;
	struct cairn__wal_record rec;
	while (!replay_stop && (rc = cairn__wal_reader_next(r, &rec)) > 0) {
		if (o->until && rec.lsn > o->until) {
			break;
		}
		if (n++ == 0) {
			first = rec.lsn;
		}
		last = rec.lsn;
		dump_record(stdout, &rec);
	}
	int status = EXIT_OK;
	const char *end = "clean";
	struct cairn__wal_damage dmg;
	memset(&dmg, 0, sizeof(dmg));
	if (rc < 0) {
		say_error("reading %s: %s", s->wal_dir, strerror(-rc));
		status = EXIT_CANNOT;
		end = "error";
	} else if (replay_stop) {
		status = EXIT_STOPPED;
		end = "interrupted";
	} else if (rc == 0) {
		cairn__wal_reader_end(r, &dmg);
		char text[400];
		damage_text(&dmg, text, sizeof(text));
		if (dmg.end == CAIRN__WAL_END_DAMAGED) {
			say_error("the log is damaged at %s", text);
			status = EXIT_DAMAGE;
			end = "damaged";
		} else if (dmg.end == CAIRN__WAL_END_TORN) {
			say_note(o,
				 "the log ends in a torn batch at %s (a daemon would cut it there)",
				 text);
			end = "torn";
		}
		if (o->until && last < o->until) {
			say_error("the log ends at LSN %" PRIu64 ", before --until %" PRIu64, last,
				  o->until);
			status = status == EXIT_OK ? EXIT_DAMAGE : status;
		}
	} else {
		end = "until";
	}
	cairn__wal_reader_close(r);
	fflush(stdout);
	if (o->json) {
		struct json j;
		json_begin(&j, stdout);
		json_u64(&j, "records", n);
		json_u64(&j, "first_lsn", first);
		json_u64(&j, "last_lsn", last);
		json_str(&j, "end", end);
		if (dmg.end != CAIRN__WAL_END_CLEAN) {
			json_damage(&j, &dmg);
		}
		json_end(&j);
	} else {
		say_note(o, "%" PRIu64 " records, LSN %" PRIu64 "..%" PRIu64, n, first, last);
	}
	return status;
}
