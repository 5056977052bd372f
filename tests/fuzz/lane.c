/*
 * Fuzz target: the daemon's side of a lane, where everything it reads was written by a
 * client that may be hostile (DESIGN.md, decision 3).
 *
 * A lane is laid out in private memory as the control thread lays it out (rings of 2 to
 * 16 slots, an arena of 4 or 8 KiB), with an engine holding two hunts, players and
 * clues, and the solver of the daemon with no worker threads (so that path commands are
 * answered at once). The input is a sequence of chunks, each a control byte, the 56
 * bytes of a message and what the control byte asks for; for each chunk the target
 * writes the slot at the daemon's cursor as a client would (or would not: any sequence
 * number), then does what the apply thread does for one command: checks the result slot
 * (cairn__ring_owner_can_push), takes the command (cairn__ring_owner_pop), routes it as
 * apply.c does for a daemon without a data directory (path commands to
 * cairnd_solver_command, the rest to cairnd_handle), publishes the result, and pops it
 * as the client would.
 *
 * Oracles:
 *  - the ring answers OK, WAIT or CORRUPT exactly as the sequence numbers written say,
 *    whatever the client wrote over the ring headers, and copies the message out whole;
 *    a lane found corrupt is dropped (no more chunks);
 *  - every result is well formed for its command (fz_check_result) and reaches the client
 *    byte for byte;
 *  - PING, ECHO and ECHO_BLOB do what the schema says, and ECHO_BLOB copies the bytes the
 *    arena held, overlapping or not;
 *  - a command writes only the part of the arena its command names (nothing on error);
 *  - the engine's invariants hold after every command;
 *  - DISTANCE answers the same with A* and with jump point search (both exact).
 */
#include "daemon/daemon.h"
#include "engine_kit.h"
#include "fuzz.h"
#include "protocol_desc.h"

#define MAX_CHUNKS 64

/* The process-wide parts: the solver's graphs (immutable) and the handlers' table. */
static struct daemon d;
static bool ready;

static void setup(void)
{
	if (ready) {
		return;
	}
	cairnd_handlers_init();
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	for (uint32_t i = 0; i < cfg.n_maps; i++) {
		d.maps[i] = (struct cairn__map *)cfg.maps[i];
	}
	d.n_maps = cfg.n_maps;
	d.cfg.solver_threads = 0;  /* path commands answered on the spot, deterministically */
	d.cfg.table_max_cells = 0; /* no first-move tables: no builder thread */
	FZ_SETUP(cairn__engine_new(&cfg, NULL, NULL, NULL, &d.engine) == 0, "engine_new");
	FZ_SETUP(cairnd_solver_start(&d) == 0, "solver start");
	cairn__engine_free(d.engine);
	d.engine = NULL;
	ready = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	return 0;
}

/* Every command type of the schema, for chunks that ask for a known type. */
static uint16_t command_types[64];
static unsigned n_command_types;

static void list_types(void)
{
	if (n_command_types) {
		return;
	}
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS && n_command_types < 64; i++) {
		if (cairn__proto_msgs[i].reply) {
			command_types[n_command_types++] = cairn__proto_msgs[i].type;
		}
	}
}

static const struct cairn__msg_desc *desc_of(uint16_t type)
{
	for (unsigned i = 0; i < CAIRN__PROTO_NMSGS; i++) {
		if (cairn__proto_msgs[i].type == type && cairn__proto_msgs[i].reply) {
			return &cairn__proto_msgs[i];
		}
	}
	return NULL;
}

/* The part of the arena a command may write, from its payload: [*off, *off + *len). */
static void writes(const struct cairn_msg *m, uint64_t *off, uint64_t *len)
{
	uint32_t w[10];
	memcpy(w, m->payload, sizeof(w));
	*off = 0;
	*len = 0;
	switch (m->hdr.type) {
	case CAIRN_MSG_ECHO_BLOB: /* in_offset, in_length, out_offset, out_capacity */
		*off = w[2], *len = w[3];
		break;
	case CAIRN_MSG_NEAREST_CLUES: /* hunt, x, y, k, out_offset, out_capacity */
		*off = w[4], *len = w[5];
		break;
	case CAIRN_MSG_PLAYERS_NEAR: /* hunt, x, y, radius, max, out_offset, out_capacity */
		*off = w[5], *len = w[6];
		break;
	case CAIRN_MSG_LEADERBOARD: /* hunt, k, out_offset, out_capacity */
		*off = w[2], *len = w[3];
		break;
	case CAIRN_MSG_NEXT_MOVE: /* hunt, count, in_offset, out_offset, out_capacity */
	case CAIRN_MSG_DISTANCE:
		*off = w[3], *len = w[4];
		break;
	case CAIRN_MSG_PATH: /* hunt, from, to, out_offset, out_capacity */
		*off = w[5], *len = w[6];
		break;
	case CAIRN_MSG_PATH_TO_CLUE: /* hunt, player, clue, out_offset, out_capacity */
		*off = w[3], *len = w[4];
		break;
	default:
		break;
	}
}

/* Puts the arena offsets of a command inside the arena (8-byte aligned), to get past them. */
static void clamp_ranges(struct cairn_msg *m, uint64_t size)
{
	uint32_t w[10];
	memcpy(w, m->payload, sizeof(w));
	int off[3] = {-1, -1, -1}; /* indexes of offset words, each followed by its length */
	switch (m->hdr.type) {
	case CAIRN_MSG_ECHO_BLOB:
		off[0] = 0, off[1] = 2;
		break;
	case CAIRN_MSG_NEAREST_CLUES:
		off[0] = 4;
		break;
	case CAIRN_MSG_PLAYERS_NEAR:
		off[0] = 5;
		break;
	case CAIRN_MSG_LEADERBOARD:
		off[0] = 2;
		break;
	case CAIRN_MSG_NEXT_MOVE:
	case CAIRN_MSG_DISTANCE:
		off[0] = 3;
		w[1] = w[1] % CAIRN_MAX_PATH_BATCH + 1;
		w[2] = (uint32_t)(w[2] % (size / 2) & ~7u);
		break;
	case CAIRN_MSG_PATH:
		off[0] = 5;
		break;
	case CAIRN_MSG_PATH_TO_CLUE:
		off[0] = 3;
		break;
	default:
		return;
	}
	for (int i = 0; i < 3 && off[i] >= 0; i++) {
		uint32_t o = (uint32_t)(w[off[i]] % size & ~7u);
		w[off[i]] = o;
		if (w[off[i] + 1] > size - o) {
			w[off[i] + 1] = (uint32_t)(size - o);
		}
	}
	memcpy(m->payload, w, sizeof(w));
}

struct lane_run {
	struct lane l;
	void *cmd_mem, *res_mem;
	struct cairn__ring client_res; /* the client's view of the result ring */
	uint8_t *blob;
	uint64_t now;
};

/* Runs one command as the apply thread of a daemon without a data directory does. */
static void apply_one(struct lane_run *r, const struct cairn_msg *cmd, struct cairn_msg *out)
{
	if (cairnd_solver_serves(cmd->hdr.type)) {
		FZ_CHECK(cairnd_solver_command(&d, &r->l, cmd, out) == 0,
			 "a path command went to a worker, but there are none");
		return;
	}
	cairnd_handle(&d, &r->l, cmd, r->now, out);
}

/* DISTANCE again with the other exact method: the same items, count and failures. */
static void check_distance(struct lane_run *r, const struct cairn_msg *cmd,
			   const struct cairn_msg *out)
{
	struct cairn_path_batch q;
	struct cairn_path_batch_reply a, b;
	memcpy(&q, cmd->payload, sizeof(q));
	memcpy(&a, out->payload, sizeof(a));
	uint64_t n = (uint64_t)a.out_length;
	FZ_CHECK(a.out_offset == q.out_offset && n <= q.out_capacity &&
			 n == (uint64_t)a.count * sizeof(struct cairn_distance_item),
		 "DISTANCE reply: %u items at %u (+%u)", a.count, a.out_offset, a.out_length);
	uint8_t *first = malloc(n + 1);
	FZ_SETUP(first, "out of memory");
	memcpy(first, r->blob + q.out_offset, n);
	struct cairn_msg again = *cmd, out2;
	q.method = a.method == CAIRN_METHOD_ASTAR ? CAIRN_METHOD_JPS : CAIRN_METHOD_ASTAR;
	memcpy(again.payload, &q, sizeof(q));
	/* The pairs may have been overwritten by the answer (in_offset may be out_offset). */
	if (q.in_offset < q.out_offset + n &&
	    q.out_offset < q.in_offset + (uint64_t)q.count * sizeof(struct cairn_path_pair)) {
		free(first);
		return;
	}
	apply_one(r, &again, &out2);
	FZ_CHECK(out2.hdr.type == CAIRN_MSG_DISTANCE_REPLY, "DISTANCE with method %u: %04x",
		 q.method, out2.hdr.type);
	memcpy(&b, out2.payload, sizeof(b));
	FZ_CHECK(a.count == b.count && a.failed == b.failed && a.out_length == b.out_length,
		 "DISTANCE: %u items, %u failed with method %u; %u, %u with %u", a.count, a.failed,
		 a.method, b.count, b.failed, b.method);
	for (uint32_t i = 0; i < a.count; i++) {
		struct cairn_distance_item x, y;
		memcpy(&x, first + i * sizeof(x), sizeof(x));
		memcpy(&y, r->blob + q.out_offset + i * sizeof(y), sizeof(y));
		FZ_CHECK(memcmp(&x, &y, sizeof(x)) == 0,
			 "DISTANCE pair %u: status %d, %u straight + %u diagonal (method %u); "
			 "status %d, %u + %u (method %u)",
			 i, x.status, x.straight, x.diagonal, a.method, y.status, y.straight,
			 y.diagonal, b.method);
	}
	free(first);
}

/* What the schema promises about the commands the daemon answers itself. */
static void check_daemon_command(const struct lane_run *r, const struct cairn_msg *cmd,
				 const struct cairn_msg *out, const uint8_t *before)
{
	if (out->hdr.type == CAIRN_MSG_PONG) {
		struct cairn_ping p;
		struct cairn_pong q;
		memcpy(&p, cmd->payload, sizeof(p));
		memcpy(&q, out->payload, sizeof(q));
		FZ_CHECK(q.client_stamp == p.client_stamp && q.ingress_ns == r->now,
			 "PONG %llu at %llu", (unsigned long long)q.client_stamp,
			 (unsigned long long)q.ingress_ns);
	} else if (out->hdr.type == CAIRN_MSG_ECHO_REPLY) {
		FZ_CHECK(out->hdr.length == cmd->hdr.length &&
				 memcmp(out->payload, cmd->payload, cmd->hdr.length) == 0,
			 "ECHO came back changed");
	} else if (out->hdr.type == CAIRN_MSG_ECHO_BLOB_REPLY) {
		struct cairn_echo_blob q;
		struct cairn_echo_blob_reply a;
		memcpy(&q, cmd->payload, sizeof(q));
		memcpy(&a, out->payload, sizeof(a));
		FZ_CHECK(a.out_offset == q.out_offset && a.out_length == q.in_length,
			 "ECHO_BLOB reply %u+%u", a.out_offset, a.out_length);
		FZ_CHECK(memcmp(r->blob + q.out_offset, before + q.in_offset, q.in_length) == 0,
			 "ECHO_BLOB did not copy the bytes the arena held");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	list_types();
	struct fz f = fz_init(data, size);
	uint8_t cfgb = fz_u8(&f);
	uint32_t cmd_cap = 2u << (cfgb & 3), res_cap = 2u << ((cfgb >> 2) & 3);
	uint64_t blob_size = cfgb & 0x10 ? 8192 : 4096;

	struct lane_run r;
	memset(&r, 0, sizeof(r));
	struct cairn__engine_config cfg;
	fz_engine_config(&cfg);
	FZ_SETUP(cairn__engine_new(&cfg, NULL, NULL, NULL, &d.engine) == 0, "engine_new");
	d.engine_counters = cairn__engine_counters(d.engine);
	fz_populate(d.engine);

	r.cmd_mem = aligned_alloc(64, cairn__ring_bytes(cmd_cap));
	r.res_mem = aligned_alloc(64, cairn__ring_bytes(res_cap));
	r.blob = aligned_alloc(64, blob_size);
	uint8_t *before = malloc(blob_size);
	FZ_SETUP(r.cmd_mem && r.res_mem && r.blob && before, "out of memory");
	memset(r.blob, 0, blob_size);
	cairn__ring_init(&r.l.cmd, r.cmd_mem, cmd_cap);
	cairn__ring_init(&r.l.res, r.res_mem, res_cap);
	cairn__ring_attach(&r.client_res, r.res_mem, res_cap);
	r.l.blob = r.blob;
	r.l.blob_size = blob_size;
	r.l.client_id = 1;
	r.l.session_id = 1;
	r.l.serving = true;
	r.now = 2000000000;

	for (int chunk = 0; chunk < MAX_CHUNKS && fz_left(&f) > 0; chunk++) {
		uint8_t ctl = fz_u8(&f);
		struct cairn_msg m;
		fz_bytes(&f, &m, sizeof(m));
		if (ctl & 0x04) {
			m.hdr.type = command_types[fz_u8(&f) % n_command_types];
		}
		if (ctl & 0x08) {
			const struct cairn__msg_desc *md = desc_of(m.hdr.type);
			m.hdr.flags = 0;
			m.hdr.length = md ? md->len_min : m.hdr.length;
		}
		if (ctl & 0x40) {
			clamp_ranges(&m, blob_size);
		}
		if (ctl & 0x20) {
			/* The client writes its arena: what ECHO_BLOB and the path batches read. */
			uint64_t at = fz_u16(&f) % blob_size;
			size_t n;
			const uint8_t *p = fz_take(&f, fz_u8(&f), &n);
			n = n < blob_size - at ? n : (size_t)(blob_size - at);
			memcpy(r.blob + at, p, n);
		}
		if (ctl & 0x80) {
			/*
			 * The client scribbles over the ring headers: the daemon keeps its own
			 * cursor and mask and must not care. (Not the result ring's tail: this
			 * target's client pops through it.)
			 */
			struct cairn_ring_header *ch = r.l.cmd.hdr, *rh = r.l.res.hdr;
			ch->capacity = fz_u32(&f);
			ch->mask = fz_u32(&f);
			ch->slot_size = fz_u32(&f);
			ch->head = fz_u64(&f);
			ch->tail = fz_u64(&f);
			rh->capacity = fz_u32(&f);
			rh->mask = fz_u32(&f);
			rh->slot_size = fz_u32(&f);
		}
		r.now += fz_u8(&f) * 1000000ull;

		/* The result slot at the daemon's cursor: free, unless the client scribbled. */
		uint64_t rpos = r.l.res.cursor;
		if (ctl & 0x10) {
			uint64_t seq = fz_u64(&f);
			r.l.res.slots[rpos & r.l.res.mask].seq = seq;
			int room = cairn__ring_owner_can_push(&r.l.res);
			int want = seq == rpos                  ? CAIRN__RING_OK
				   : seq == rpos - r.l.res.mask ? CAIRN__RING_WAIT
								: CAIRN__RING_CORRUPT;
			FZ_CHECK(room == want, "result slot seq %llu at %llu: %d, expected %d",
				 (unsigned long long)seq, (unsigned long long)rpos, room, want);
			if (room != CAIRN__RING_OK) {
				break; /* dropped, or blocked until the client reads: it never will
					*/
			}
		}

		/* The client's slot at the daemon's cursor, with the sequence number it chose. */
		uint64_t pos = r.l.cmd.cursor;
		uint64_t seq;
		switch (ctl & 3) {
		case 0:
			seq = pos + 1; /* published */
			break;
		case 1:
			seq = pos; /* claimed, not yet published */
			break;
		case 2:
			seq = fz_u64(&f);
			break;
		default:
			seq = pos + r.l.cmd.mask + 1; /* a freed slot of the next lap */
			break;
		}
		struct cairn_slot *slot = &r.l.cmd.slots[pos & r.l.cmd.mask];
		memcpy(&slot->msg, &m, sizeof(m));
		slot->seq = seq;

		struct cairn_msg cmd, out;
		int got = cairn__ring_owner_pop(&r.l.cmd, &cmd);
		int want = seq == pos + 1 ? CAIRN__RING_OK
			   : seq == pos   ? CAIRN__RING_WAIT
					  : CAIRN__RING_CORRUPT;
		FZ_CHECK(got == want, "command slot seq %llu at %llu: %d, expected %d",
			 (unsigned long long)seq, (unsigned long long)pos, got, want);
		if (got == CAIRN__RING_CORRUPT) {
			break; /* the daemon drops the lane */
		}
		if (got == CAIRN__RING_WAIT) {
			FZ_CHECK(r.l.cmd.cursor == pos, "cursor moved on an empty slot");
			continue;
		}
		FZ_CHECK(memcmp(&cmd, &m, sizeof(m)) == 0 && r.l.cmd.cursor == pos + 1 &&
				 slot->seq == pos + r.l.cmd.mask + 1,
			 "the command was not taken whole, or its slot not freed");

		memcpy(before, r.blob, blob_size);
		apply_one(&r, &cmd, &out);
		int rc = out.hdr.type == CAIRN_MSG_ERROR ? -out.hdr.status : 0;
		fz_check_result(&cmd, rc, &out);
		fz_engine_check(d.engine, true);

		/* The arena: untouched but for what the command names as its output. */
		uint64_t woff = 0, wlen = 0;
		if (rc == 0) {
			writes(&cmd, &woff, &wlen);
		}
		for (uint64_t i = 0; i < blob_size; i++) {
			if (i < woff || i - woff >= wlen) {
				FZ_CHECK(r.blob[i] == before[i],
					 "arena byte %llu written by %04x (output %llu+%llu, "
					 "status %d)",
					 (unsigned long long)i, cmd.hdr.type,
					 (unsigned long long)woff, (unsigned long long)wlen,
					 out.hdr.status);
			}
		}
		if (rc == 0) {
			check_daemon_command(&r, &cmd, &out, before);
			if (cmd.hdr.type == CAIRN_MSG_DISTANCE) {
				check_distance(&r, &cmd, &out);
			}
		}

		/* Published, and read by the client as it was written. */
		FZ_CHECK(cairn__ring_owner_can_push(&r.l.res) == CAIRN__RING_OK, "no result room");
		cairn__ring_owner_push(&r.l.res, &out);
		struct cairn_msg seen;
		FZ_CHECK(cairn__ring_try_pop(&r.client_res, &seen) &&
				 memcmp(&seen, &out, sizeof(out)) == 0,
			 "the client did not read the result as published");
	}

	free(before);
	free(r.blob);
	free(r.cmd_mem);
	free(r.res_mem);
	cairn__engine_free(d.engine);
	d.engine = NULL;
	return 0;
}
