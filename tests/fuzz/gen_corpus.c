/*
 * fuzz-gen-corpus DIR: writes the seed corpora of the fuzz targets into DIR/<target>/
 * (tests/fuzz/corpus in the tree; tools/fuzz --seeds runs it). Every seed is made with
 * the project's own code: maps formatted by the map writer, a log written by src/wal and
 * replayed into a replica, the snapshots that replica writes, data directories made of
 * them with the maps cairn__data_maps_record writes, segments laid out by
 * src/shm, hellos and welcomes as libcairn and cairnd build them, and command streams
 * encoded for the decoders of engine.c and lane.c. Wall-clock stamps in file headers are
 * replaced by fixed ones (checksums made again), so that the same build writes the same
 * bytes.
 *
 * A few seeds are deliberately wrong (a torn log, a damaged record, refusals), so that
 * the error paths are in the corpus from the start. Crashes found by fuzzing are kept
 * next to these as regression seeds, under names that start with "crash-"; this program
 * never removes them.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "engine/engine.h"
#include "engine_kit.h"
#include "fuzz.h"
#include "segment_kit.h"
#include "store/recover.h"
#include "store/snapshot.h"
#include "wal/backend.h"
#include "wal/format.h"
#include "wal/wal.h"

/* ---- output ---- */

static const char *out_dir;

static void put_seed(const char *target, const char *name, const void *data, size_t len)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/%s", out_dir, target);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "fuzz-gen-corpus: cannot make %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	fz_write_file(dir, name, data, len);
}

/* A growable byte buffer. */
struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *data, size_t len)
{
	if (b->n + len > b->cap) {
		b->cap = (b->n + len) * 2 + 256;
		b->p = realloc(b->p, b->cap);
		FZ_SETUP(b->p, "out of memory");
	}
	if (len) {
		memcpy(b->p + b->n, data, len);
	}
	b->n += len;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
	put(b, &v, 2);
}

static void put32(struct buf *b, uint32_t v)
{
	put(b, &v, 4);
}

static void put64(struct buf *b, uint64_t v)
{
	put(b, &v, 8);
}

static void emit(const char *target, const char *name, struct buf *b)
{
	put_seed(target, name, b->p, b->n);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	FZ_SETUP(f, path);
	struct buf b = {0};
	uint8_t chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		put(&b, chunk, n);
	}
	fclose(f);
	*len = b.n;
	return b.p;
}

/* ---- map ---- */

static void map_seed(const char *name, uint8_t head, const char *mapname, const char *text,
		     size_t len)
{
	struct buf b = {0};
	size_t nl = strlen(mapname);
	put8(&b, (uint8_t)(head | (nl & 63)));
	put(&b, mapname, nl & 63);
	put(&b, text, len);
	emit("map", name, &b);
}

static void map_seeds(void)
{
	const struct cairn__map *const *maps = fz_maps();
	static const char *const names[FZ_N_MAPS] = {"walls", "default", "one-cell", "one-row"};
	for (int i = 0; i < FZ_N_MAPS; i++) {
		char *text;
		size_t len;
		FZ_SETUP(cairn__map_format(maps[i], &text, &len) == 0, "map_format");
		char name[64];
		snprintf(name, sizeof(name), "%s", names[i]);
		/* The default map is loaded from a file, the others parsed. */
		map_seed(name, i == 1 ? 0x80 : 0, names[i], text, len);
		free(text);
	}
	static const char crlf[] =
		"type octile\r\nheight 2\r\nwidth 3\r\nmap\r\n.GS\r\n@OT\r\n\r\n\n";
	map_seed("crlf", 0x80, "crlf", crlf, sizeof(crlf) - 1);
	static const char last[] = "type octile\nheight 1\nwidth 4\nmap\nW..@";
	map_seed("no-final-newline", 0, "x", last, sizeof(last) - 1);
	/* A name longer than a map's, with a character across the cut. */
	static const char utf8[] = "\xc3\xa9t\xc3\xa9-\xe2\x82\xac-0123456789012345678901234567"
				   "\xf0\x9f\x97\xba";
	map_seed("long-name", 0, utf8, last, sizeof(last) - 1);
	static const char *const bad[] = {
		"type octile\nheight 3\nwidth 3\nmap\n...\n...\n",
		"type octile\nheight 2\nwidth 3\nmap\n...\n.x.\n",
		"type octile\nheight +2\nwidth 3\nmap\n...\n...\n",
		"type square\nheight 2\nwidth 3\nmap\n...\n...\n",
		"\ntype octile\nheight 1\nwidth 1\nmap\n.\n",
		"type octile\nheight 1\nwidth 1\nmap\n.\r",
		"type octile\nheight 0\nwidth 1\nmap\n",
		"type octile\nheight 16385\nwidth 1\nmap\n.\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "bad-%zu", i);
		map_seed(name, i & 1 ? 0x80 : 0, "bad", bad[i], strlen(bad[i]));
	}
}

/* ---- engine: operations encoded for engine.c's decoder ---- */

/*
 * The ids the decoder remembers, tracked the same way (assuming every command that
 * should succeed does), so that a seed can name "the second hunt" as the decoder reads.
 */
struct model {
	uint32_t v[3][16];
	unsigned n[3], next[3];
};

enum { HUNTS, PLAYERS, CLUES };

static void model_add(struct model *m, int kind)
{
	m->next[kind] = (m->next[kind] + 1) % 16;
	if (m->n[kind] < 16) {
		m->n[kind]++;
	}
}

/* The selector byte that makes the decoder pick the k-th id of a kind (0: oldest kept). */
static uint8_t sel(const struct model *m, int kind, unsigned k)
{
	unsigned n = m->n[kind];
	if (n == 0) {
		return 0xe1; /* id 0 */
	}
	unsigned idx = n < 16 ? k : (m->next[kind] + k) % 16;
	return (uint8_t)idx; /* idx < n, so idx % n == idx */
}

/* An op byte and the time step byte (in ms). */
static void op(struct buf *b, uint8_t code, uint8_t ms)
{
	put8(b, code);
	put8(b, ms);
}

/* A position in cell (cx, cy) of a map, mode 0: u16 cx, u16 cy, u16 dx, u16 dy. */
static void pos_cell(struct buf *b, uint16_t cx, uint16_t cy, uint16_t dx, uint16_t dy)
{
	put8(b, 0);
	put16(b, cx);
	put16(b, cy);
	put16(b, dx);
	put16(b, dy);
}

/* A step from the player's position: mode 1, 2^shift mm scaled by dx/128, dy/128. */
static void pos_step(struct buf *b, uint8_t shift, int8_t dx, int8_t dy)
{
	put8(b, 1);
	put8(b, shift);
	put8(b, (uint8_t)dx);
	put8(b, (uint8_t)dy);
}

static void e_hunt(struct buf *b, struct model *m, uint8_t map, uint8_t radius, uint8_t speed,
		   uint8_t cell)
{
	op(b, 0, 1);
	put8(b, map);
	put8(b, radius); /* mm */
	put8(b, speed);  /* x 1000 mm/s */
	put8(b, cell);   /* x 250 mm */
	model_add(m, HUNTS);
}

static void e_join(struct buf *b, struct model *m, unsigned hunt, uint16_t cx, uint16_t cy)
{
	op(b, 2, 1);
	put8(b, sel(m, HUNTS, hunt));
	pos_cell(b, cx, cy, 500, 500);
	model_add(m, PLAYERS);
}

static void e_clue(struct buf *b, struct model *m, unsigned hunt, uint16_t cx, uint16_t cy,
		   uint8_t value)
{
	op(b, 7, 1);
	put8(b, sel(m, HUNTS, hunt));
	put8(b, sel(m, PLAYERS, 0));
	pos_cell(b, cx, cy, 500, 500);
	put8(b, 0);
	put8(b, value);
	model_add(m, CLUES);
}

static void e_move(struct buf *b, struct model *m, unsigned player, uint8_t shift, int8_t dx,
		   int8_t dy, uint8_t ms)
{
	op(b, 4, ms);
	put8(b, sel(m, PLAYERS, player));
	pos_step(b, shift, dx, dy);
}

static void e_move_to(struct buf *b, struct model *m, unsigned player, uint16_t cx, uint16_t cy,
		      uint8_t ms)
{
	op(b, 5, ms);
	put8(b, sel(m, PLAYERS, player));
	pos_cell(b, cx, cy, 500, 500);
}

/* NEAREST_CLUES (9), PLAYERS_NEAR (10), LEADERBOARD (11), with hits at offset 64. */
static void e_query(struct buf *b, struct model *m, uint8_t code, unsigned hunt, uint16_t cx,
		    uint16_t cy)
{
	op(b, code, 0);
	put8(b, sel(m, HUNTS, hunt));
	if (code != 11) {
		put8(b, sel(m, PLAYERS, 0));
		pos_cell(b, cx, cy, 0, 0);
	}
	if (code == 9) {
		put8(b, 5);        /* k */
		put8(b, hunt & 1); /* include_claimed */
	} else if (code == 10) {
		put8(b, 40); /* radius x 100 mm */
		put8(b, 8);  /* max */
	} else {
		put8(b, 10); /* k */
	}
	put8(b, 0x00); /* output: aligned, inside the arena */
	put8(b, 1);    /* at 64 */
}

static void engine_seeds(void)
{
	struct buf b = {0};
	struct model m = {0};

	/* A game on two maps: joins, clues, walks, claims, every query, leaving. */
	e_hunt(&b, &m, 0, 200, 0, 4);
	e_hunt(&b, &m, 1, 100, 3, 4);
	e_join(&b, &m, 0, 0, 0);
	e_join(&b, &m, 0, 3, 3);
	e_join(&b, &m, 1, 3, 3);
	e_clue(&b, &m, 0, 1, 0, 5);
	e_clue(&b, &m, 0, 9, 2, 9);
	e_clue(&b, &m, 1, 4, 3, 7);
	e_move_to(&b, &m, 0, 1, 0, 10); /* onto the first clue: a claim */
	e_move_to(&b, &m, 1, 1, 0, 10); /* the same clue, already claimed: lost */
	e_move(&b, &m, 2, 10, 127, 0, 200);
	e_move(&b, &m, 2, 10, 127, 0, 1); /* too fast for hunt 2's limit */
	e_query(&b, &m, 9, 0, 0, 0);
	e_query(&b, &m, 9, 1, 4, 4);
	e_query(&b, &m, 10, 0, 2, 2);
	e_query(&b, &m, 11, 0, 0, 0);
	op(&b, 12, 0); /* PLAYER_STATE */
	put8(&b, sel(&m, HUNTS, 0));
	put8(&b, sel(&m, PLAYERS, 0));
	op(&b, 13, 0); /* STATE_HASH */
	op(&b, 3, 5);  /* LEAVE */
	put8(&b, sel(&m, HUNTS, 0));
	put8(&b, sel(&m, PLAYERS, 1));
	op(&b, 8, 5); /* CLUE_REMOVE */
	put8(&b, sel(&m, HUNTS, 0));
	put8(&b, sel(&m, CLUES, 1));
	op(&b, 0x0f, 0); /* save and restore */
	op(&b, 1, 5);    /* HUNT_DESTROY */
	put8(&b, sel(&m, HUNTS, 1));
	emit("engine", "game", &b);

	/* Rollback: a hunt's image kept, the hunt changed, put back; then a damaged image. */
	memset(&m, 0, sizeof(m));
	e_hunt(&b, &m, 0, 200, 0, 4);
	e_join(&b, &m, 0, 0, 0);
	e_clue(&b, &m, 0, 2, 0, 3);
	op(&b, 0x1f, 0); /* keep hunt 0's image */
	put8(&b, sel(&m, HUNTS, 0));
	e_join(&b, &m, 0, 4, 0);
	e_move_to(&b, &m, 0, 2, 0, 50);
	op(&b, 0x3f, 0); /* roll back, no damage */
	put8(&b, 0);
	e_move_to(&b, &m, 0, 1, 0, 50);
	op(&b, 0x2f, 0); /* roll back with one byte changed */
	put8(&b, 1);
	put16(&b, 30);
	put8(&b, 0xff);
	op(&b, 0x0f, 0);
	emit("engine", "rollback", &b);

	/* Limits: more hunts and entities than the configuration holds; odd settings. */
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < 6; i++) {
		e_hunt(&b, &m, (uint8_t)(i % 5), (uint8_t)(i * 40), (uint8_t)i, (uint8_t)i);
	}
	for (int i = 0; i < 44; i++) {
		e_join(&b, &m, (unsigned)i % 3, (uint16_t)i, (uint16_t)(i / 3));
	}
	op(&b, 0x0f, 0);
	emit("engine", "limits", &b);

	/* Raw messages and headers the schema refuses. */
	memset(&m, 0, sizeof(m));
	e_hunt(&b, &m, 2, 0, 0, 0);
	struct cairn_msg raw;
	memset(&raw, 0, sizeof(raw));
	raw.hdr.type = CAIRN_MSG_JOIN;
	raw.hdr.length = CAIRN_MSG_JOIN_LEN_MIN;
	uint32_t join[3] = {0x01000000, 10, 10};
	memcpy(raw.payload, join, sizeof(join));
	op(&b, 14, 0);
	put(&b, &raw, sizeof(raw));
	raw.hdr.flags = 1;
	op(&b, 14, 0);
	put(&b, &raw, sizeof(raw));
	raw.hdr.flags = 0;
	raw.hdr.type = 0x7777;
	op(&b, 0x1e, 0); /* type folded into the engine's range */
	put(&b, &raw, sizeof(raw));
	op(&b, 0xe2, 0); /* JOIN with a length the schema refuses */
	put8(&b, 0);
	pos_cell(&b, 0, 0, 0, 0);
	put8(&b, 2);
	put8(&b, 9);
	emit("engine", "raw", &b);
}

/* ---- lane: chunks encoded for lane.c's decoder ---- */

struct chunk {
	uint8_t ctl;
	struct cairn_msg m;
	const void *patch; /* bytes the client writes into its arena first */
	uint16_t patch_at;
	uint8_t patch_len;
	uint64_t res_seq; /* with ctl 0x10 */
	uint64_t seq;     /* with seq mode 2 */
};

static void put_chunk(struct buf *b, const struct chunk *c)
{
	uint8_t ctl = c->ctl | (c->patch ? 0x20 : 0);
	put8(b, ctl);
	put(b, &c->m, sizeof(c->m));
	if (ctl & 0x20) {
		put16(b, c->patch_at);
		put8(b, c->patch_len);
		put(b, c->patch, c->patch_len);
	}
	if (ctl & 0x80) {
		uint8_t ones[40];
		memset(ones, 0xff, sizeof(ones));
		put(b, ones, sizeof(ones));
	}
	put8(b, 1); /* 1 ms later */
	if (ctl & 0x10) {
		put64(b, c->res_seq);
	}
	if ((ctl & 3) == 2) {
		put64(b, c->seq);
	}
}

static struct cairn_msg lmsg(uint16_t type, uint8_t len, const void *payload, size_t size)
{
	struct cairn_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.length = len;
	m.hdr.request_id = 7;
	if (size) {
		memcpy(m.payload, payload, size); /* payload may be NULL when size is 0 */
	}
	return m;
}

static void lane_seeds(void)
{
	struct buf b = {0};
	struct chunk c;

	/* The daemon's own commands, and a few ring states. */
	put8(&b, 0x05); /* rings of 4 and 4 slots, 4 KiB arena */
	uint64_t stamp = 0x1122334455667788ull;
	memset(&c, 0, sizeof(c));
	c.m = lmsg(CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN, &stamp, sizeof(stamp));
	put_chunk(&b, &c);
	c.m = lmsg(CAIRN_MSG_ECHO, 11, "hello, lane", 11);
	put_chunk(&b, &c);
	static const uint8_t text[32] = "the blob arena, shared memory..";
	uint32_t eb[4] = {256, 32, 272, 64}; /* overlapping regions */
	c.m = lmsg(CAIRN_MSG_ECHO_BLOB, CAIRN_MSG_ECHO_BLOB_LEN_MIN, eb, sizeof(eb));
	c.patch = text, c.patch_at = 256, c.patch_len = sizeof(text);
	put_chunk(&b, &c);
	c.patch = NULL;
	c.ctl = 1; /* claimed, not yet published */
	put_chunk(&b, &c);
	c.ctl = 0;
	c.m = lmsg(0x4242, 0, NULL, 0); /* unknown */
	put_chunk(&b, &c);
	c.m = lmsg(CAIRN_MSG_PING, 3, &stamp, sizeof(stamp)); /* bad length */
	put_chunk(&b, &c);
	c.ctl = 0x80; /* ring headers overwritten with ones */
	c.m = lmsg(CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN, &stamp, sizeof(stamp));
	put_chunk(&b, &c);
	emit("lane", "daemon-commands", &b);

	/* The engine's commands on the populated game, and every query. */
	put8(&b, 0x0a);
	uint32_t w[8];
	memset(&c, 0, sizeof(c));
	w[0] = 0x01000000, w[1] = 0x01000000, w[2] = 1500, w[3] = 500;
	c.m = lmsg(CAIRN_MSG_MOVE, CAIRN_MSG_MOVE_LEN_MIN, w, 16);
	put_chunk(&b, &c);
	w[0] = 0x01000000, w[1] = 700, w[2] = 600, w[3] = 5, w[4] = 64, w[5] = 512, w[6] = 1;
	c.m = lmsg(CAIRN_MSG_NEAREST_CLUES, CAIRN_MSG_NEAREST_CLUES_LEN_MIN, w, 28);
	put_chunk(&b, &c);
	w[0] = 0x01000000, w[1] = 700, w[2] = 600, w[3] = 30000, w[4] = 4, w[5] = 128, w[6] = 256;
	c.m = lmsg(CAIRN_MSG_PLAYERS_NEAR, CAIRN_MSG_PLAYERS_NEAR_LEN_MIN, w, 28);
	put_chunk(&b, &c);
	w[0] = 0x01000000, w[1] = 4, w[2] = 1024, w[3] = 96;
	c.m = lmsg(CAIRN_MSG_LEADERBOARD, CAIRN_MSG_LEADERBOARD_LEN_MIN, w, 16);
	put_chunk(&b, &c);
	w[0] = 0x01000000, w[1] = 0x01000001;
	c.m = lmsg(CAIRN_MSG_PLAYER_STATE, CAIRN_MSG_PLAYER_STATE_LEN_MIN, w, 8);
	put_chunk(&b, &c);
	c.m = lmsg(CAIRN_MSG_STATE_HASH, 0, NULL, 0);
	put_chunk(&b, &c);
	w[0] = 0x01000001, w[1] = 0x01000002;
	c.m = lmsg(CAIRN_MSG_LEAVE, CAIRN_MSG_LEAVE_LEN_MIN, w, 8);
	put_chunk(&b, &c);
	w[0] = 0x01000000, w[1] = 0x01000004;
	c.m = lmsg(CAIRN_MSG_CLUE_REMOVE, CAIRN_MSG_CLUE_REMOVE_LEN_MIN, w, 8);
	put_chunk(&b, &c);
	w[0] = 2, w[1] = 0, w[2] = 0, w[3] = 0;
	c.m = lmsg(CAIRN_MSG_HUNT_CREATE, CAIRN_MSG_HUNT_CREATE_LEN_MIN, w, 16);
	put_chunk(&b, &c);
	emit("lane", "engine-commands", &b);

	/* Path commands: pairs in the arena, every method, a path and a path to a clue. */
	put8(&b, 0x1f); /* rings of 16 and 16 slots, 8 KiB arena */
	memset(&c, 0, sizeof(c));
	static const int32_t pairs[4][4] = {
		{500, 500, 20500, 12500}, /* across map 0, around the walls */
		{500, 500, 500, 500},     /* no move */
		{500, 500, 3500, 1500},   /* into a wall */
		{15500, 5500, 500, 12500},
	};
	for (uint32_t method = 0; method < 4; method++) {
		uint32_t q[6] = {0x01000000, 4, 512, 1024, 512, method};
		c.m = lmsg(method & 1 ? CAIRN_MSG_DISTANCE : CAIRN_MSG_NEXT_MOVE,
			   CAIRN_MSG_DISTANCE_LEN_MIN, q, sizeof(q));
		c.patch = method == 0 ? pairs : NULL;
		c.patch_at = 512, c.patch_len = sizeof(pairs);
		put_chunk(&b, &c);
	}
	c.patch = NULL;
	uint32_t dq[6] = {0x01000000, 4, 512, 1024, 512, CAIRN_METHOD_ASTAR};
	c.m = lmsg(CAIRN_MSG_DISTANCE, CAIRN_MSG_DISTANCE_LEN_MIN, dq, sizeof(dq));
	put_chunk(&b, &c);
	int32_t pq[9] = {0x01000000, 500, 500, 20500, 12500, 2048, 2048, 0, CAIRN_METHOD_JPS};
	c.m = lmsg(CAIRN_MSG_PATH, CAIRN_MSG_PATH_LEN_MIN, pq, sizeof(pq));
	put_chunk(&b, &c);
	pq[7] = CAIRN_PATH_WAYPOINTS, pq[8] = CAIRN_METHOD_ASTAR;
	c.m = lmsg(CAIRN_MSG_PATH, CAIRN_MSG_PATH_LEN_MIN, pq, sizeof(pq));
	put_chunk(&b, &c);
	uint32_t tq[7] = {0x01000000, 0x01000001, 0x01000003, 4096, 1024, 0, 0};
	c.m = lmsg(CAIRN_MSG_PATH_TO_CLUE, CAIRN_MSG_PATH_TO_CLUE_LEN_MIN, tq, sizeof(tq));
	put_chunk(&b, &c);
	uint32_t big[6] = {0x01000001, 1, 512, 1024, 512, CAIRN_METHOD_JPS};
	static const int32_t far[4] = {3500, 3500, 60500, 40500};
	c.patch = far, c.patch_at = 512, c.patch_len = sizeof(far);
	c.m = lmsg(CAIRN_MSG_DISTANCE, CAIRN_MSG_DISTANCE_LEN_MIN, big, sizeof(big));
	put_chunk(&b, &c);
	emit("lane", "paths", &b);

	/* Sequence numbers no honest client writes, at the command and the result cursor. */
	put8(&b, 0x00); /* rings of 2 and 2 */
	memset(&c, 0, sizeof(c));
	c.m = lmsg(CAIRN_MSG_PING, CAIRN_MSG_PING_LEN_MIN, &stamp, sizeof(stamp));
	put_chunk(&b, &c);
	put_chunk(&b, &c);
	put_chunk(&b, &c); /* wraps: the ring holds 2 */
	c.ctl = 0x10;
	c.res_seq = 3; /* the honest value at the result cursor */
	put_chunk(&b, &c);
	c.ctl = 2;
	c.seq = 5; /* the honest value: published */
	put_chunk(&b, &c);
	c.seq = 99; /* corrupt: the lane is dropped */
	put_chunk(&b, &c);
	emit("lane", "sequence-numbers", &b);

	put8(&b, 0x00);
	c.ctl = 0x10;
	c.res_seq = UINT64_MAX;
	put_chunk(&b, &c);
	emit("lane", "result-corrupt", &b);
}

/* ---- wal and snapshot: a real log, replayed, and the snapshot of the replica ---- */

static const char WAL_SEP[8] = {'\n', 'S', 'E', 'G', 'M', 'E', 'N', 'T'};

/* A fresh scratch directory (a subdirectory of the run's). */
static const char *scratch(const char *name)
{
	static char path[4200];
	snprintf(path, sizeof(path), "%s/%s", fz_tmpdir(), name);
	mkdir(path, 0700);
	fz_clear_dir(path);
	return path;
}

/* Appends the command that engine e accepted as a record, the way apply.c logs it. */
static void log_command(struct cairn__wal *w, uint64_t session, uint64_t ingress,
			const struct cairn_msg *cmd)
{
	struct cairn__wal_command body = {.session = session, .ingress_ns = ingress};
	body.msg = *cmd;
	struct iovec iov = {&body, sizeof(body)};
	FZ_SETUP(cairn__wal_append(w, CAIRN__WAL_COMMAND, &iov, 1) > 0, "wal_append");
}

static struct cairn_msg cmd_of(uint16_t type, uint8_t len, uint64_t req, const void *p, size_t n)
{
	struct cairn_msg m;
	memset(&m, 0, sizeof(m));
	m.hdr.type = type;
	m.hdr.length = len;
	m.hdr.request_id = req;
	memcpy(m.payload, p, n);
	return m;
}

/*
 * Runs a game on an engine and logs every accepted change into the log in dir, in
 * batches of a few records; with a rollback record among them. Two writer sessions, so
 * the log has two segments.
 */
static void write_log(const char *dir)
{
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	struct cairn__engine *e;
	FZ_SETUP(cairn__engine_new(&cfg, NULL, NULL, NULL, &e) == 0, "engine_new");
	setenv("CAIRN_WAL_TEST_SALT", "5eed5eed00000000", 1);
	struct cairn__wal_config wc = {
		.dir = dir, .backend = CAIRN__WAL_SYNC, .segment_size = 1 << 20};
	struct cairn__wal *w;
	char why[256];
	FZ_SETUP(cairn__wal_open(&wc, NULL, &w, why, sizeof(why)) == 0, why);

	uint64_t now = 1000000000, req = 0;
	struct cairn_msg out;
	/* A game like fz_populate's, each command logged. */
	struct {
		uint16_t type;
		uint8_t len;
		uint32_t w[4];
		int64_t value;
	} cmds[] = {
		{CAIRN_MSG_HUNT_CREATE, CAIRN_MSG_HUNT_CREATE_LEN_MIN, {0, 500, 0, 0}, 0},
		{CAIRN_MSG_HUNT_CREATE, CAIRN_MSG_HUNT_CREATE_LEN_MIN, {1, 0, 2000, 0}, 0},
		{CAIRN_MSG_JOIN, CAIRN_MSG_JOIN_LEN_MIN, {0x01000000, 500, 500}, 0},
		{CAIRN_MSG_JOIN, CAIRN_MSG_JOIN_LEN_MIN, {0x01000000, 20500, 12500}, 0},
		{CAIRN_MSG_JOIN, CAIRN_MSG_JOIN_LEN_MIN, {0x01000001, 3500, 3500}, 0},
		{CAIRN_MSG_CLUE_PLACE, CAIRN_MSG_CLUE_PLACE_LEN_MIN, {0x01000000, 1500, 500}, 7},
		{CAIRN_MSG_CLUE_PLACE, CAIRN_MSG_CLUE_PLACE_LEN_MIN, {0x01000000, 9500, 2500}, 3},
		{CAIRN_MSG_MOVE, CAIRN_MSG_MOVE_LEN_MIN, {0x01000000, 0x01000000, 1400, 500}, 0},
		{CAIRN_MSG_MOVE, CAIRN_MSG_MOVE_LEN_MIN, {0x01000001, 0x01000002, 3600, 3500}, 0},
	};
	unsigned i = 0;
	for (; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct cairn_msg m = cmd_of(cmds[i].type, cmds[i].len, ++req, cmds[i].w, 16);
		if (cmds[i].type == CAIRN_MSG_CLUE_PLACE) {
			memcpy(m.payload + 16, &cmds[i].value, 8);
		}
		now += 1000000000;
		FZ_SETUP(cairn__engine_apply(e, &m, now, NULL, &out) == 0, "log game");
		log_command(w, 0x5e55, now, &m);
		if (i % 3 == 2) {
			FZ_SETUP(cairn__wal_wait(w, cairn__wal_appended(w), -1) == 0, "wal_wait");
		}
	}
	/* A rollback of hunt 01000000 to the state after the clues were placed (LSN 7). */
	uint8_t *img;
	size_t len;
	uint64_t target = 7;
	{
		struct cairn__engine *past;
		FZ_SETUP(cairn__engine_new(&cfg, NULL, NULL, NULL, &past) == 0, "engine_new");
		uint64_t t = 1000000000;
		for (unsigned k = 0; k < target; k++) {
			struct cairn_msg m =
				cmd_of(cmds[k].type, cmds[k].len, k + 1, cmds[k].w, 16);
			if (cmds[k].type == CAIRN_MSG_CLUE_PLACE) {
				memcpy(m.payload + 16, &cmds[k].value, 8);
			}
			t += 1000000000;
			FZ_SETUP(cairn__engine_apply(past, &m, t, NULL, &out) == 0, "past");
		}
		FZ_SETUP(cairn__engine_hunt_save(past, 0x01000000, &img, &len) == 0, "hunt_save");
		cairn__engine_free(past);
	}
	FZ_SETUP(cairn__wal_wait(w, cairn__wal_appended(w), -1) == 0 && cairn__wal_close(w) == 0,
		 "wal close");

	/* The second writer session: a new segment, continuing the chain. */
	struct cairn__wal_reader *rd;
	FZ_SETUP(cairn__wal_reader_open(dir, 0, &rd, why, sizeof(why)) == 0, why);
	struct cairn__wal_record rec;
	while (cairn__wal_reader_next(rd, &rec) == 1) {
	}
	struct cairn__wal_resume resume;
	cairn__wal_reader_resume(rd, &resume);
	cairn__wal_reader_close(rd);
	FZ_SETUP(cairn__wal_open(&wc, &resume, &w, why, sizeof(why)) == 0, why);
	struct cairn_rollback rb = {.hunt_id = 0x01000000, .lsn = target};
	struct cairn_msg rm =
		cmd_of(CAIRN_MSG_ROLLBACK, CAIRN_MSG_ROLLBACK_LEN_MIN, ++req, &rb, sizeof(rb));
	FZ_SETUP(cairn__engine_hunt_replace(e, 0x01000000, img, len, target, NULL, NULL) == 0,
		 "hunt_replace");
	struct cairn__wal_command body = {.session = 0x5e55, .ingress_ns = now += 1000};
	body.msg = rm;
	struct iovec iov[2] = {{&body, sizeof(body)}, {img, len}};
	FZ_SETUP(cairn__wal_append(w, CAIRN__WAL_ROLLBACK, iov, 2) > 0, "append rollback");
	free(img);
	for (unsigned k = 0; k < 4; k++) {
		uint32_t mv[4] = {0x01000000, 0x01000000, 500 + 300 * k, 500};
		struct cairn_msg m = cmd_of(CAIRN_MSG_MOVE, CAIRN_MSG_MOVE_LEN_MIN, ++req, mv, 16);
		now += 1000000000;
		FZ_SETUP(cairn__engine_apply(e, &m, now, NULL, &out) == 0, "log move");
		log_command(w, 0x5e56, now, &m);
	}
	uint32_t lv[2] = {0x01000001, 0x01000002};
	struct cairn_msg m = cmd_of(CAIRN_MSG_LEAVE, CAIRN_MSG_LEAVE_LEN_MIN, 0, lv, 8);
	FZ_SETUP(cairn__engine_apply(e, &m, now + 1, NULL, &out) == 0, "log leave");
	log_command(w, 0x5e56, now + 1, &m);
	FZ_SETUP(cairn__wal_wait(w, cairn__wal_appended(w), -1) == 0 && cairn__wal_close(w) == 0,
		 "wal close");
	cairn__engine_free(e);
	unsetenv("CAIRN_WAL_TEST_SALT");
}

/*
 * A segment's bytes up to the end of its last record (the preallocated zeros after it
 * left out), its header stamp fixed. The ends come from reading the log.
 */
static uint8_t *segment_bytes(const char *dir, uint64_t seq, size_t *len)
{
	struct cairn__wal_reader *rd;
	char why[256];
	FZ_SETUP(cairn__wal_reader_open(dir, 0, &rd, why, sizeof(why)) == 0, why);
	struct cairn__wal_record rec;
	uint64_t end = CAIRN__WAL_SEG_HEADER;
	while (cairn__wal_reader_next(rd, &rec) == 1) {
		if (rec.seq == seq) {
			end = rec.offset + cairn__wal_rec_size(rec.length);
		}
	}
	cairn__wal_reader_close(rd);
	char path[4300], name[CAIRN__WAL_NAME_MAX];
	cairn__wal_seg_name(name, seq);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	uint8_t *p = read_all(path, len);
	FZ_SETUP(end <= *len, "segment shorter than its records");
	*len = end;
	struct cairn__wal_seg_header h;
	memcpy(&h, p, sizeof(h));
	h.created_ns = 1;
	h.header_sum =
		XXH3_64bits_withSeed(&h, offsetof(struct cairn__wal_seg_header, header_sum), 0);
	memcpy(p, &h, sizeof(h));
	return p;
}

static void wal_seed(const char *name, uint8_t flags, uint8_t *s1, size_t l1, uint8_t *s2,
		     size_t l2)
{
	struct buf b = {0};
	put8(&b, flags);
	put8(&b, 0);
	put(&b, s1, l1);
	if (s2) {
		put(&b, WAL_SEP, sizeof(WAL_SEP));
		put8(&b, 0);
		put(&b, s2, l2);
	}
	emit("wal", name, &b);
}

static void wal_and_snapshot_seeds(void)
{
	const char *dir = scratch("wal");
	write_log(dir);
	size_t l1, l2;
	uint8_t *s1 = segment_bytes(dir, 1, &l1);
	uint8_t *s2 = segment_bytes(dir, 2, &l2);

	wal_seed("log", 0x08, s1, l1, s2, l2);
	wal_seed("log-fixed", 0x0f, s1, l1, s2, l2);
	wal_seed("log-from-5", 0x38, s1, l1, s2, l2);
	wal_seed("first-segment", 0x08, s1, l1, NULL, 0);
	/* A torn tail: the last record half written. */
	wal_seed("torn-tail", 0x08, s1, l1, s2, l2 - 40);
	/* A record zeroed in the middle of the first segment, the ones after it kept. */
	uint8_t *t = malloc(l1);
	FZ_SETUP(t, "out of memory");
	memcpy(t, s1, l1);
	size_t rec = cairn__wal_rec_size(sizeof(struct cairn__wal_command));
	memset(t + CAIRN__WAL_SEG_HEADER + 6 * rec, 0, rec);
	wal_seed("zeroed-record", 0x08, t, l1, s2, l2);
	/* Damage in the middle: a bit flipped in an early record's body. */
	memcpy(t, s1, l1);
	t[CAIRN__WAL_SEG_HEADER + rec + 60] ^= 4;
	wal_seed("damaged", 0x08, t, l1, s2, l2);
	/* The same with the checksums made right again: the replica refuses the command. */
	wal_seed("damaged-fixed", 0x0f, t, l1, s2, l2);
	/* The second segment missing: its records start one segment late. */
	struct buf b = {0};
	put8(&b, 0x08);
	put8(&b, 0);
	put(&b, s1, l1);
	put(&b, WAL_SEP, sizeof(WAL_SEP));
	put8(&b, 1);
	put(&b, s2, l2);
	emit("wal", "gap", &b);
	free(t);

	/* The snapshot a replica of this log writes. */
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	struct cairn__replica rep;
	FZ_SETUP(cairn__replica_new(&cfg, 16, 8, &rep) == 0, "replica_new");
	struct cairn__wal_reader *rd;
	char why[512];
	FZ_SETUP(cairn__wal_reader_open(dir, 0, &rd, why, sizeof(why)) == 0, why);
	struct cairn__wal_record r;
	while (cairn__wal_reader_next(rd, &r) == 1) {
		FZ_SETUP(cairn__replica_apply(&rep, &r, NULL, why, sizeof(why)) == 0, why);
	}
	cairn__wal_reader_close(rd);
	const char *data = scratch("data");
	FZ_SETUP(cairn__replica_snapshot(&rep, data, 1, why, sizeof(why)) == 0, why);
	char path[4300];
	snprintf(path, sizeof(path), "%s/snapshots/snap-%020" PRIu64 ".snap", data, rep.lsn);
	size_t len;
	uint8_t *snap = read_all(path, &len);
	struct cairn__snap_header h;
	memcpy(&h, snap, sizeof(h));
	h.created_ns = 1;
	h.header_sum = XXH3_64bits(&h, offsetof(struct cairn__snap_header, header_sum));
	memcpy(snap, &h, sizeof(h));
	cairn__replica_free(&rep);

	static const struct {
		const char *name;
		uint8_t flags;
	} variants[] = {{"replica", 0}, {"replica-fixed", 0x07}, {"other-name", 0x08}};
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		put8(&b, variants[i].flags);
		put(&b, snap, len);
		emit("snapshot", variants[i].name, &b);
	}
	/* A damaged engine image, checksums made right: the engine must refuse it. */
	put8(&b, 0x07);
	put(&b, snap, len);
	b.p[1 + sizeof(h) + 40] ^= 0x55;
	emit("snapshot", "engine-damaged", &b);
	/* The header only. */
	put8(&b, 0);
	put(&b, snap, sizeof(h));
	emit("snapshot", "header-only", &b);
	free(snap);
	free(s1);
	free(s2);
}

/* ---- recover: whole data directories ---- */

static const char DATADIR_SEP[8] = {'\n', 'D', 'A', 'T', 'A', 'D', 'I', 'R'};

/* A file of a data directory as recover.c decodes it: kind, name byte, bytes. */
struct dfile {
	uint8_t kind; /* 0 segment, 1 snapshot, 2 MANIFEST, 3 map */
	uint8_t name;
	const uint8_t *data;
	size_t len;
};

static void recover_seed(const char *name, uint8_t flags, uint8_t until, const struct dfile *f,
			 unsigned n)
{
	struct buf b = {0};
	put8(&b, flags);
	put8(&b, until);
	for (unsigned i = 0; i < n; i++) {
		if (i > 0) {
			put(&b, DATADIR_SEP, sizeof(DATADIR_SEP));
		}
		put8(&b, f[i].kind);
		put8(&b, f[i].name);
		put(&b, f[i].data, f[i].len);
	}
	emit("recover", name, &b);
}

/* The snapshot of lsn in DATA/snapshots, its stamp fixed. */
static uint8_t *snapshot_bytes(const char *data, uint64_t lsn, size_t *len)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/snapshots/snap-%020" PRIu64 ".snap", data, lsn);
	uint8_t *snap = read_all(path, len);
	struct cairn__snap_header h;
	FZ_SETUP(*len >= sizeof(h), "snapshot shorter than its header");
	memcpy(&h, snap, sizeof(h));
	h.created_ns = 1;
	h.header_sum = XXH3_64bits(&h, offsetof(struct cairn__snap_header, header_sum));
	memcpy(snap, &h, sizeof(h));
	return snap;
}

/* A file of DATA (the maps, as cairn__data_maps_record writes them). */
static struct dfile data_file(const char *data, const char *name, uint8_t kind, uint8_t id)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/maps/%s", data, name);
	struct dfile f = {.kind = kind, .name = id};
	f.data = read_all(path, &f.len);
	return f;
}

static void recover_seeds(void)
{
	/* The log of write_log: records 1-9 in segment 1 (batches of three), 10-15 in 2. */
	char wal[4200];
	snprintf(wal, sizeof(wal), "%s", scratch("recover-wal"));
	write_log(wal);
	/* A writer that opened the log again and wrote nothing: an empty segment 3. */
	setenv("CAIRN_WAL_TEST_SALT", "5eed5eed00000000", 1);
	struct cairn__wal_reader *rd;
	char why[512];
	FZ_SETUP(cairn__wal_reader_open(wal, 0, &rd, why, sizeof(why)) == 0, why);
	struct cairn__wal_record r;
	while (cairn__wal_reader_next(rd, &r) == 1) {
	}
	struct cairn__wal_resume resume;
	cairn__wal_reader_resume(rd, &resume);
	cairn__wal_reader_close(rd);
	struct cairn__wal_config wc = {
		.dir = wal, .backend = CAIRN__WAL_SYNC, .segment_size = 1 << 20};
	struct cairn__wal *w;
	FZ_SETUP(cairn__wal_open(&wc, &resume, &w, why, sizeof(why)) == 0, why);
	FZ_SETUP(cairn__wal_close(w) == 0, "wal close");
	unsetenv("CAIRN_WAL_TEST_SALT");
	size_t l1, l2, l3;
	uint8_t *s1 = segment_bytes(wal, 1, &l1);
	uint8_t *s2 = segment_bytes(wal, 2, &l2);
	uint8_t *s3 = segment_bytes(wal, 3, &l3);

	/* Snapshots a replica of the log takes at LSN 3, 9 and 15, and the maps recorded. */
	const char *data = scratch("recover-data");
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	struct cairn__replica rep;
	FZ_SETUP(cairn__replica_new(&cfg, 16, 8, &rep) == 0, "replica_new");
	FZ_SETUP(cairn__wal_reader_open(wal, 0, &rd, why, sizeof(why)) == 0, why);
	while (cairn__wal_reader_next(rd, &r) == 1) {
		FZ_SETUP(cairn__replica_apply(&rep, &r, NULL, why, sizeof(why)) == 0, why);
		if (r.lsn == 3 || r.lsn == 9 || r.lsn == 15) {
			FZ_SETUP(cairn__replica_snapshot(&rep, data, 8, why, sizeof(why)) == 0,
				 why);
		}
	}
	cairn__wal_reader_close(rd);
	cairn__replica_free(&rep);
	FZ_SETUP(cairn__data_maps_record(data, fz_maps(), FZ_N_MAPS, why, sizeof(why)) == 0, why);
	size_t n3, n9, n15;
	uint8_t *p3 = snapshot_bytes(data, 3, &n3);
	uint8_t *p9 = snapshot_bytes(data, 9, &n9);
	uint8_t *p15 = snapshot_bytes(data, 15, &n15);

	struct dfile seg1 = {0, 0, s1, l1}, seg2 = {0, 0, s2, l2}, seg3 = {0, 0, s3, l3};
	struct dfile snap3 = {1, 0, p3, n3}, snap9 = {1, 0, p9, n9}, snap15 = {1, 0, p15, n15};
	struct dfile full[5] = {data_file(data, "MANIFEST", 2, 0), data_file(data, "0.map", 3, 0),
				data_file(data, "1.map", 3, 1), data_file(data, "2.map", 3, 2),
				data_file(data, "3.map", 3, 3)};
	/*
	 * Most seeds give the map files empty, which recover.c reads as the kit's map of that
	 * id formatted by the map writer: the bytes recorded here, as checked.
	 */
	struct dfile maps[5] = {full[0]};
	for (unsigned i = 1; i < 5; i++) {
		char *text;
		size_t len;
		FZ_SETUP(cairn__map_format(fz_maps()[i - 1], &text, &len) == 0, "map_format");
		FZ_SETUP(len == full[i].len && memcmp(text, full[i].data, len) == 0,
			 "a recorded map file is not the map writer's text");
		free(text);
		maps[i] = (struct dfile){3, (uint8_t)(i - 1), NULL, 0};
	}
	struct dfile f[12];
	unsigned n = 0;
#define ADD(x) (f[n++] = (x))
#define ADD_MAPS()                                                                                 \
	do {                                                                                       \
		for (unsigned i = 0; i < 5; i++) {                                                 \
			ADD(maps[i]);                                                              \
		}                                                                                  \
	} while (0)

	/* The whole directory: the log in two segments, a snapshot between, the map files. */
	n = 0;
	for (unsigned i = 0; i < 5; i++) {
		ADD(full[i]);
	}
	ADD(seg1);
	ADD(snap9);
	ADD(seg2);
	recover_seed("log-snapshot-map-files", 0x00, 0, f, n);
	/* The same, the map files given as the kit's. */
	n = 0;
	ADD_MAPS();
	ADD(seg1);
	ADD(snap9);
	ADD(seg2);
	recover_seed("log-snapshot-maps", 0x00, 0, f, n);
	/* The same with every fix-up asked for (they change nothing) and a stop at LSN 12. */
	recover_seed("log-snapshot-maps-fixed", 0xff, 12, f, n);

	/* A torn tail: the last record half written. */
	f[n - 1].len = l2 - 40;
	recover_seed("torn-tail", 0x00, 0, f, n);

	/* An empty segment after the last record, as a writer that stopped at once leaves. */
	n = 0;
	ADD_MAPS();
	ADD(seg1);
	ADD(seg2);
	ADD(seg3);
	ADD(snap9);
	recover_seed("empty-trailing-segment", 0x00, 0, f, n);

	/* No snapshot: the log from LSN 1. */
	n = 0;
	ADD_MAPS();
	ADD(seg1);
	ADD(seg2);
	recover_seed("no-snapshot", 0x00, 5, f, n);

	/* Snapshots ahead of the log (LSN 15 with the first segment only), and of 9. */
	n = 0;
	ADD(seg1);
	ADD(snap15);
	ADD(snap9);
	recover_seed("snapshot-ahead", 0x00, 0, f, n);

	/* Three snapshots, no MANIFEST (the engine kit's maps, the same). */
	n = 0;
	ADD(snap3);
	ADD(snap9);
	ADD(snap15);
	ADD(seg1);
	ADD(seg2);
	recover_seed("three-snapshots", 0x00, 0, f, n);

	/* A pruned log: segment 2 alone (LSN 10 on), continuing the snapshot of 9. */
	n = 0;
	ADD_MAPS();
	ADD(snap9);
	seg2.name = 1; /* sequence number 2 */
	ADD(seg2);
	recover_seed("pruned", 0x00, 0, f, n);
	seg2.name = 0;

	/* Damage in the middle: a bit of LSN 5's body flipped; a snapshot before it. */
	uint8_t *t = malloc(l1);
	FZ_SETUP(t, "out of memory");
	memcpy(t, s1, l1);
	size_t rec = cairn__wal_rec_size(sizeof(struct cairn__wal_command));
	t[CAIRN__WAL_SEG_HEADER + 4 * rec + CAIRN__WAL_REC_HEADER + 20] ^= 4;
	n = 0;
	ADD_MAPS();
	ADD(snap3);
	f[n++] = (struct dfile){0, 0, t, l1};
	ADD(seg2);
	recover_seed("damaged", 0x00, 0, f, n);

	/* A snapshot of another log: its chain link changed (header checksum made right). */
	uint8_t *o = malloc(n9);
	FZ_SETUP(o, "out of memory");
	memcpy(o, p9, n9);
	struct cairn__snap_header h;
	memcpy(&h, o, sizeof(h));
	h.prev_sum ^= 1;
	h.header_sum = XXH3_64bits(&h, offsetof(struct cairn__snap_header, header_sum));
	memcpy(o, &h, sizeof(h));
	n = 0;
	ADD_MAPS();
	ADD(snap3);
	f[n++] = (struct dfile){1, 0, o, n9};
	ADD(seg1);
	ADD(seg2);
	recover_seed("foreign-snapshot", 0x00, 0, f, n);
#undef ADD
#undef ADD_MAPS

	free(o);
	free(t);
	for (unsigned i = 0; i < 5; i++) {
		free((void *)full[i].data);
	}
	free(p3);
	free(p9);
	free(p15);
	free(s1);
	free(s2);
	free(s3);
}

/* ---- attach ---- */

static const char ATTACH_SEP[8] = {'\n', 'A', 'T', 'T', 'A', 'C', 'H', '\n'};

static void attach_seed(const char *name, uint8_t flags, const void *hello, size_t hlen,
			const void *welcome, size_t wlen, const void *state, size_t slen)
{
	struct buf b = {0};
	put8(&b, flags);
	put(&b, hello, hlen);
	put(&b, ATTACH_SEP, sizeof(ATTACH_SEP));
	put(&b, welcome, wlen);
	put(&b, ATTACH_SEP, sizeof(ATTACH_SEP));
	put(&b, state, slen);
	put(&b, ATTACH_SEP, sizeof(ATTACH_SEP));
	emit("attach", name, &b);
}

static void attach_seeds(void)
{
	/* A hello as libcairn sends it (send_hello in client.c), and its session. */
	struct {
		struct cairn_hello h;
		struct cairn_hello_session s;
	} hello;
	memset(&hello, 0, sizeof(hello));
	hello.h.magic = CAIRN_HELLO_MAGIC;
	hello.h.version_major = CAIRN_PROTO_MAJOR;
	hello.h.version_minor = CAIRN_PROTO_MINOR;
	hello.h.flags = CAIRN_HELLO_SESSION;
	hello.h.client_pid = 1234;
	hello.h.cmd_capacity = 64;
	hello.h.res_capacity = 4096;
	hello.h.blob_size = 65536;
	memcpy(hello.h.name, "fuzz-client", 11);
	hello.s.session_id = 0x5e55;
	/* A welcome as cairnd sends it (send_welcome in control.c). */
	struct cairn_welcome w;
	memset(&w, 0, sizeof(w));
	w.magic = CAIRN_WELCOME_MAGIC;
	w.version_major = CAIRN_PROTO_MAJOR;
	w.version_minor = CAIRN_PROTO_MINOR;
	w.lane_id = 3;
	w.client_id = 7;
	w.session_id = 0x5e55;
	w.dedup_window = 64;
	/* Both segments as cairnd makes them, two descriptors. */
	attach_seed("welcome", 0x0e | 0x20, &hello, sizeof(hello), &w, sizeof(w), NULL, 0);
	/* A request cut down by a window of 64; the default lane; an observer. */
	attach_seed("window-64", 0x0e | 0x20, &hello, sizeof(hello), &w, sizeof(w), NULL, 0);
	struct cairn_hello h2 = hello.h;
	h2.flags = 0;
	h2.cmd_capacity = h2.res_capacity = h2.blob_size = 0;
	attach_seed("defaults", 0x0e | 0x30, &h2, sizeof(h2), &w, sizeof(w), NULL, 0);
	h2.flags = CAIRN_HELLO_OBSERVE;
	attach_seed("observer", 0x0d, &h2, sizeof(h2), &w, sizeof(w), NULL, 0);
	/* Refusals: another major, a status, a session id 0, the state header damaged. */
	struct cairn_welcome w2 = w;
	w2.status = CAIRN_E_TOO_MANY_CLIENTS;
	attach_seed("refused", 0x0c, &hello, sizeof(hello), &w2, sizeof(w2), NULL, 0);
	w2 = w;
	w2.version_major = CAIRN_PROTO_MAJOR + 1;
	hello.h.version_major = CAIRN_PROTO_MAJOR + 1;
	attach_seed("other-major", 0x0e, &hello, sizeof(hello), &w2, sizeof(w2), NULL, 0);
	hello.h.version_major = CAIRN_PROTO_MAJOR;
	hello.s.session_id = 0;
	uint64_t bad_magic = 0x1234;
	attach_seed("bad-state", 0x0e, &hello, sizeof(hello), &w, sizeof(w), &bad_magic,
		    sizeof(bad_magic));
	/* A lane sealed against writing: the client's mapping fails. */
	attach_seed("sealed-lane", 0x0e | 0x40, &hello, sizeof(hello), &w, sizeof(w), NULL, 0);
}

/* ---- state ---- */

static const char STATE_SEP[8] = {'\n', 'R', 'E', 'A', 'D', 'S', '\n', 0};

/* Reads for state.c: every kind, on the game of fz_populate. */
static void state_reads(struct buf *b)
{
	static const uint8_t ops[] = {
		0, 0,                            /* read_map 0 */
		0, 7,                            /* read_map 7: unknown */
		1, 0,                            /* read_hunt 01000000 */
		1, 1,                            /* read_hunt 01000001 */
		2, 0,    3,                      /* read_entity 01000003 of 01000000 */
		2, 1,    5,                      /* read_entity 01000005 of 01000001 */
		2, 0,    2,                      /* the wrong hunt */
		4, 0,                            /* events from the start */
		4, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, /* events from 1 */
	};
	put(b, ops, sizeof(ops));
	/* read_rect: the whole of hunt 01000000, then a corner, players only. */
	put8(b, 3);
	put8(b, 0);
	put32(b, 0);
	put32(b, 0);
	put32(b, 30000);
	put32(b, 20000);
	put8(b, 3);
	put8(b, 16);
	put8(b, 3);
	put8(b, 0);
	put32(b, 0);
	put32(b, 0);
	put32(b, 1000);
	put32(b, 1000);
	put8(b, 1);
	put8(b, 4);
}

static void state_seeds(void)
{
	struct buf b = {0};
	put8(&b, 0);
	put(&b, STATE_SEP, sizeof(STATE_SEP));
	state_reads(&b);
	emit("state", "as-made", &b);

	/* Patches: a hunt record's shard count, an entity's position, the event ring's mask. */
	size_t size;
	uint8_t *seg = fz_state_segment(&size);
	const struct cairn_state_header *h = (const void *)seg;
	const struct cairn_grid_header *gh = (const void *)(seg + h->grid_offset);
	uint64_t hunt0 = h->grid_offset + gh->hunts_offset;
	uint64_t ent0 = h->grid_offset + gh->entities_offset;
	struct {
		const char *name;
		uint64_t off;
		uint32_t value;
	} patches[] = {
		{"hunt-shards", hunt0 + offsetof(struct cairn_hunt_info, shards), 70000},
		{"hunt-width", hunt0 + offsetof(struct cairn_hunt_info, width), 4096},
		{"entity-x", ent0 + offsetof(struct cairn_entity, x), 99999999},
		{"entity-next", ent0 + offsetof(struct cairn_entity, next), 1},
		{"event-mask", h->events_offset + offsetof(struct cairn_event_ring_header, mask),
		 3},
		{"grid-max-hunts", h->grid_offset + offsetof(struct cairn_grid_header, max_hunts),
		 1u << 24},
	};
	for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		put8(&b, 0);
		put16(&b, (uint16_t)patches[i].off);
		put8(&b, (uint8_t)(patches[i].off >> 16));
		put8(&b, 4);
		put32(&b, patches[i].value);
		put(&b, STATE_SEP, sizeof(STATE_SEP));
		state_reads(&b);
		emit("state", patches[i].name, &b);
	}
	/* Raw: the header page alone, describing a segment of one page. */
	uint8_t page[4096];
	memcpy(page, seg, sizeof(page));
	struct cairn_state_header *ph = (void *)page;
	ph->segment_size = sizeof(page);
	ph->metrics_offset = ph->events_offset = ph->grid_offset = 0;
	put8(&b, 1);
	put(&b, page, sizeof(page));
	emit("state", "raw-header", &b);
	free(seg);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr,
			"usage: %s DIR\nWrites the fuzz targets' seed corpora into "
			"DIR/<target>/.\n",
			argv[0]);
		return 2;
	}
	out_dir = argv[1];
	map_seeds();
	engine_seeds();
	lane_seeds();
	wal_and_snapshot_seeds();
	recover_seeds();
	attach_seeds();
	state_seeds();
	printf("seed corpora written into %s\n", out_dir);
	return 0;
}
