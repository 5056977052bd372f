/*
 * Determinism: a seeded stream of ~200k commands over several hunts (hunts created and
 * destroyed, players joining, walking, claiming and leaving, clues placed and removed,
 * every query, some illegal moves), with increasing stamps and speed limits, gives the
 * same results byte for byte and the same state hash
 *
 *   - applied again in a fresh engine,
 *   - in a forked child process (the hash comes back through a pipe),
 *   - after a save half-way and a restore into a fresh engine, continuing on both,
 *   - after a restore into an engine with other shards and bigger capacities.
 *
 * And a known-answer test: the hash of a tiny fixed scenario equals FNV-1a 64 over the
 * image body built here by hand from the layout documented at the top of
 * src/engine/image.c, and a constant computed from those bytes, so that the hash cannot
 * drift between machines or versions unnoticed.
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eng.h"

enum { N = 200000, CHECKPOINT = 10000 };

struct rec {
	struct cairn_msg cmd;
	uint64_t stamp;
	struct cairn_msg out;
	uint64_t hits; /* FNV of the hits a query wrote */
};

static struct rec *recs;
static uint64_t checkpoints[N / CHECKPOINT + 1];

static void config_a(struct cairn__engine_config *cfg)
{
	eng_config(cfg);
	cfg->max_hunts = 32;
	cfg->max_entities = 4096;
	cfg->shards_per_hunt = 8;
}

static void config_b(struct cairn__engine_config *cfg)
{
	eng_config(cfg);
	cfg->max_hunts = 1000;
	cfg->max_entities = 100000;
	cfg->shards_per_hunt = 3;
	cfg->event_capacity = 1u << 16;
}

struct runner {
	struct cairn__engine *e;
	uint8_t *arena;
	struct cairn__blob blob;
};

static void runner_open(struct runner *r, void (*config)(struct cairn__engine_config *))
{
	struct cairn__engine_config cfg;
	config(&cfg);
	ASSERT_OK(cairn__engine_new(&cfg, NULL, NULL, NULL, &r->e));
	r->arena = calloc(1, ENG_ARENA_SIZE);
	ASSERT_TRUE(r->arena != NULL);
	r->blob = (struct cairn__blob){.base = r->arena, .size = ENG_ARENA_SIZE};
}

static void runner_close(struct runner *r)
{
	cairn__engine_free(r->e);
	free(r->arena);
}

static uint64_t hits_hash(const struct runner *r, const struct cairn_msg *out)
{
	switch (out->hdr.type) {
	case CAIRN_MSG_NEAREST_CLUES_REPLY:
	case CAIRN_MSG_PLAYERS_NEAR_REPLY:
	case CAIRN_MSG_LEADERBOARD_REPLY: {
		const struct cairn_query_reply *q = (const void *)out->payload;
		return eng_fnv(ENG_FNV_OFFSET, r->arena + q->out_offset, q->out_length);
	}
	default:
		return 0;
	}
}

/* Generates and records the stream, applying it to a first engine. */
static uint64_t record(void)
{
	struct runner g;
	runner_open(&g, config_a);
	struct eng_world w;
	eng_world_init(&w, 20261122, 20);
	static uint64_t by_type[0x10000], by_status[2048];
	uint64_t won = 0, lost = 0;
	for (uint32_t i = 0; i < N; i++) {
		struct rec *r = &recs[i];
		r->cmd = eng_world_next(&w, &r->stamp);
		r->cmd.hdr.request_id = i + 1;
		cairn__engine_apply(g.e, &r->cmd, r->stamp, &g.blob, &r->out);
		r->hits = hits_hash(&g, &r->out);
		eng_world_learn(&w, &r->out);
		by_type[r->out.hdr.type]++;
		by_status[r->out.hdr.status]++;
		if (r->out.hdr.type == CAIRN_MSG_MOVED) {
			const struct cairn_moved *m = (const void *)r->out.payload;
			won += m->outcome == CAIRN_CLAIM_WON;
			lost += m->outcome == CAIRN_CLAIM_LOST;
		}
		if ((i + 1) % CHECKPOINT == 0) {
			checkpoints[(i + 1) / CHECKPOINT] = cairn__engine_hash(g.e);
		}
	}
	/* The stream exercises what it should, and never runs into the engine's limits. */
	printf("stream: %u commands; %" PRIu64 " moves (%" PRIu64 " won, %" PRIu64
	       " lost), %" PRIu64 " joins, %" PRIu64 " leaves, %" PRIu64 " clues placed, %" PRIu64
	       " removed, %" PRIu64 " hunts created, %" PRIu64 " destroyed, %" PRIu64
	       " queries; rejected: %" PRIu64 " off map, %" PRIu64 " blocked, %" PRIu64
	       " too fast; %u players and %u clues at the end\n",
	       N, by_type[CAIRN_MSG_MOVED], won, lost, by_type[CAIRN_MSG_JOINED],
	       by_type[CAIRN_MSG_LEFT], by_type[CAIRN_MSG_CLUE_PLACED],
	       by_type[CAIRN_MSG_CLUE_REMOVED], by_type[CAIRN_MSG_HUNT_CREATED],
	       by_type[CAIRN_MSG_HUNT_DESTROYED],
	       by_type[CAIRN_MSG_NEAREST_CLUES_REPLY] + by_type[CAIRN_MSG_PLAYERS_NEAR_REPLY] +
		       by_type[CAIRN_MSG_LEADERBOARD_REPLY] + by_type[CAIRN_MSG_PLAYER_INFO],
	       by_status[CAIRN_E_OFF_MAP], by_status[CAIRN_E_BLOCKED], by_status[CAIRN_E_TOO_FAST],
	       w.n_players, w.n_clues);
	ASSERT_GT(won, 500);
	ASSERT_GT(lost, 50);
	ASSERT_GT(by_type[CAIRN_MSG_HUNT_DESTROYED], 10);
	ASSERT_GT(by_type[CAIRN_MSG_STATE_HASH_REPLY], 10);
	ASSERT_GT(by_status[CAIRN_E_OFF_MAP], 100);
	ASSERT_GT(by_status[CAIRN_E_BLOCKED], 100);
	ASSERT_GT(by_status[CAIRN_E_TOO_FAST], 100);
	ASSERT_EQ(by_status[CAIRN_E_TOO_MANY_ENTITIES] + by_status[CAIRN_E_TOO_MANY_HUNTS], 0);
	uint64_t other = 0;
	for (int s = 1; s < 2048; s++) {
		if (s != CAIRN_E_OFF_MAP && s != CAIRN_E_BLOCKED && s != CAIRN_E_TOO_FAST) {
			other += by_status[s];
		}
	}
	ASSERT_EQ(other, 0); /* the model never names anything that is gone */
	uint64_t h = cairn__engine_hash(g.e);
	checkpoints[0] = 0;
	eng_world_fini(&w);
	runner_close(&g);
	return h;
}

/*
 * Applies recs[from, to) and compares every result, and the hash at every checkpoint,
 * with the recording. Returns the first index that differs, or to.
 */
static uint32_t replay(struct runner *r, uint32_t from, uint32_t to)
{
	struct cairn_msg out;
	for (uint32_t i = from; i < to; i++) {
		cairn__engine_apply(r->e, &recs[i].cmd, recs[i].stamp, &r->blob, &out);
		if (memcmp(&out, &recs[i].out, sizeof(out)) != 0 ||
		    hits_hash(r, &out) != recs[i].hits) {
			return i;
		}
		if ((i + 1) % CHECKPOINT == 0 &&
		    cairn__engine_hash(r->e) != checkpoints[(i + 1) / CHECKPOINT]) {
			return i;
		}
	}
	return to;
}

static void must_replay(struct runner *r, uint32_t from, uint32_t to)
{
	uint32_t i = replay(r, from, to);
	if (i != to) {
		T_FAILF("command %u (type 0x%x) gave a different result or hash", i,
			recs[i].cmd.hdr.type);
	}
}

static void test_replay(uint64_t final)
{
	struct runner r;
	runner_open(&r, config_a);
	must_replay(&r, 0, N);
	ASSERT_UEQ(cairn__engine_hash(r.e), final);
	runner_close(&r);

	/* Other shards and capacities make no difference either. */
	runner_open(&r, config_b);
	must_replay(&r, 0, N);
	ASSERT_UEQ(cairn__engine_hash(r.e), final);
	runner_close(&r);
}

static void test_fork(uint64_t final)
{
	int fds[2];
	ASSERT_EQ(pipe(fds), 0);
	fflush(stdout);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		struct runner r;
		runner_open(&r, config_a);
		uint64_t msg[2];
		msg[0] = replay(&r, 0, N);
		msg[1] = cairn__engine_hash(r.e);
		ssize_t n = write(fds[1], msg, sizeof(msg));
		_exit(n == (ssize_t)sizeof(msg) ? 0 : 1);
	}
	close(fds[1]);
	uint64_t msg[2];
	ssize_t got = 0;
	while (got < (ssize_t)sizeof(msg)) {
		ssize_t n = read(fds[0], (char *)msg + got, sizeof(msg) - (size_t)got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		ASSERT_GT(n, 0);
		got += n;
	}
	close(fds[0]);
	int status;
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_UEQ(msg[0], N);
	ASSERT_UEQ(msg[1], final);
}

/* Saves at cut, restores into a fresh engine of each configuration, runs the tail on all. */
static void test_restore(uint32_t cut, uint64_t final)
{
	struct runner a, b, c;
	runner_open(&a, config_a);
	must_replay(&a, 0, cut);
	uint8_t *img;
	size_t len;
	ASSERT_OK(cairn__engine_save(a.e, &img, &len));
	runner_open(&b, config_a);
	runner_open(&c, config_b);
	uint64_t ev_b = cairn__engine_events_published(b.e);
	ASSERT_OK(cairn__engine_restore(b.e, img, len));
	ASSERT_OK(cairn__engine_restore(c.e, img, len));
	ASSERT_UEQ(cairn__engine_events_published(b.e), ev_b); /* a restore publishes nothing */
	uint64_t h = cairn__engine_hash(a.e);
	ASSERT_UEQ(cairn__engine_hash(b.e), h);
	ASSERT_UEQ(cairn__engine_hash(c.e), h);
	ASSERT_UEQ(cairn__engine_applied(b.e), cairn__engine_applied(a.e));
	ASSERT_UEQ(cairn__engine_applied(c.e), cairn__engine_applied(a.e));
	/* The image does not depend on the configuration. */
	uint8_t *img2;
	size_t len2;
	ASSERT_OK(cairn__engine_save(c.e, &img2, &len2));
	ASSERT_UEQ(len2, len);
	ASSERT_EQ(memcmp(img, img2, len), 0);
	free(img);
	free(img2);
	/* The tail, interleaved so that the three engines stay in step. */
	for (uint32_t from = cut; from < N; from += 997) {
		uint32_t to = from + 997 < N ? from + 997 : N;
		must_replay(&a, from, to);
		must_replay(&b, from, to);
		must_replay(&c, from, to);
	}
	ASSERT_UEQ(cairn__engine_hash(a.e), final);
	ASSERT_UEQ(cairn__engine_hash(b.e), final);
	ASSERT_UEQ(cairn__engine_hash(c.e), final);
	runner_close(&a);
	runner_close(&b);
	runner_close(&c);
}

/* The known-answer test. */

struct bytes {
	uint8_t b[1024];
	size_t n;
};

static void b8(struct bytes *b, uint8_t v)
{
	ASSERT_LT(b->n, sizeof(b->b));
	b->b[b->n++] = v;
}

static void b32(struct bytes *b, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		b8(b, (uint8_t)(v >> (8 * i)));
	}
}

static void b64(struct bytes *b, uint64_t v)
{
	b32(b, (uint32_t)v);
	b32(b, (uint32_t)(v >> 32));
}

static void bstr(struct bytes *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		b8(b, (uint8_t)s[i]);
	}
}

/* FNV-1a 64, written out again here so that the known answer depends on nothing else. */
static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* Computed once from the bytes built below; it must never change. */
#define KAT_HASH 0xda7476976c5f04c7ull

static void test_known_answer(void)
{
	static const char text[] = "type octile\nheight 2\nwidth 3\nmap\n.@.\n...\n";
	struct cairn__map *tiny;
	ASSERT_OK(cairn__map_parse(text, strlen(text), "tiny", &tiny, NULL));
	/* The map's hash: width and height (u32 LE), then a byte per cell, 1 passable. */
	static const uint8_t map_bytes[] = {3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1, 1, 1, 1};
	uint64_t map_hash = fnv1a64(map_bytes, sizeof(map_bytes));
	ASSERT_UEQ(tiny->hash, map_hash);

	const struct cairn__map *maps[1] = {tiny};
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	cfg.maps = maps;
	cfg.n_maps = 1;
	struct eng t;
	eng_open(&t, &cfg, false);
	t.step_ns = 0;
	const uint32_t g1 = 1u << 24, g2 = 2u << 24;
	t.now = 1000;
	uint32_t h1 = ENG_HUNT(&t, 0, 0, 500, 0);
	t.now = 2000;
	uint32_t h2 = ENG_HUNT(&t, 0, 30, 0, 0);
	t.now = 3000;
	uint32_t p1 = ENG_JOIN(&t, h1, 500, 500);
	t.now = 4000;
	uint32_t c1 = ENG_CLUE(&t, h1, 2500, 500, -7);
	t.now = 5000;
	uint32_t c2 = ENG_CLUE(&t, h1, 600, 1500, 40);
	t.now = 6000;
	uint32_t p2 = ENG_JOIN(&t, h2, 100, 100);
	t.now = 7000;
	ENG_OK(&t, eng_hunt_destroy(h2));
	t.now = 2000003000ull; /* 994 mm in 2 s at 500 mm/s; claims c2, 14 mm away */
	struct cairn_moved m = ENG_MOVE(&t, h1, p1, 590, 1490);
	ASSERT_EQ(m.outcome, CAIRN_CLAIM_WON);
	ASSERT_UEQ(m.clue_id, c2);
	t.now = 2000004000ull;
	ENG_OK(&t, eng_clue_remove(h1, c1));
	t.now = 2000005000ull;
	uint32_t p3 = ENG_JOIN(&t, h1, 2500, 1500);
	/* Ids: slot in the low 24 bits, generation above; freed slots are reused LIFO. */
	ASSERT_UEQ(h1, g1 | 0);
	ASSERT_UEQ(h2, g1 | 1);
	ASSERT_UEQ(p1, g1 | 0);
	ASSERT_UEQ(c1, g1 | 1);
	ASSERT_UEQ(c2, g1 | 2);
	ASSERT_UEQ(p2, g1 | 3);
	ASSERT_UEQ(p3, g2 | 1);

	struct bytes body = {.n = 0};
	b64(&body, 10); /* applied */
	b32(&body, 2);  /* hunt high mark */
	b8(&body, 1);   /* slot 0: gen, live */
	b8(&body, 1);
	b32(&body, 0);        /* map_id */
	b64(&body, map_hash); /* map_hash */
	b32(&body, 1000);     /* cell_mm */
	b32(&body, 20);       /* radius_mm */
	b32(&body, 500);      /* speed_mm_s */
	b64(&body, 1000);     /* created_ns */
	b64(&body, 1);        /* order */
	b8(&body, 1);         /* slot 1: gen 1, not live */
	b8(&body, 0);
	b32(&body, 1); /* free hunt slots: [1] */
	b32(&body, 1);
	b32(&body, 4); /* entity high mark */
	/* slot 0: p1 */
	b8(&body, 1);
	b8(&body, 1);
	b8(&body, CAIRN_ENTITY_PLAYER);
	b8(&body, 0);           /* flags */
	b32(&body, h1);         /* hunt_id */
	b32(&body, 590);        /* x */
	b32(&body, 1490);       /* y */
	b32(&body, 0);          /* claimed_by */
	b32(&body, 1);          /* claims */
	b64(&body, 40);         /* value: the score */
	b64(&body, 2000003000); /* stamp_ns: the last move */
	b64(&body, 3);          /* order */
	/* slot 1: p3, generation 2 */
	b8(&body, 2);
	b8(&body, 1);
	b8(&body, CAIRN_ENTITY_PLAYER);
	b8(&body, 0);
	b32(&body, h1);
	b32(&body, 2500);
	b32(&body, 1500);
	b32(&body, 0);
	b32(&body, 0);
	b64(&body, 0);
	b64(&body, 2000005000);
	b64(&body, 10);
	/* slot 2: c2, claimed by p1 */
	b8(&body, 1);
	b8(&body, 1);
	b8(&body, CAIRN_ENTITY_CLUE);
	b8(&body, CAIRN_FLAG_CLAIMED);
	b32(&body, h1);
	b32(&body, 600);
	b32(&body, 1500);
	b32(&body, p1);
	b32(&body, 0);
	b64(&body, 40);
	b64(&body, 2000003000); /* the claim */
	b64(&body, 5);
	/* slot 3: p2's, gone with its hunt */
	b8(&body, 1);
	b8(&body, 0);
	b32(&body, 1); /* free entity slots: [3] */
	b32(&body, 3);

	uint64_t want = fnv1a64(body.b, body.n);
	printf("known answer: %zu body bytes, hash 0x%016" PRIx64 "\n", body.n, want);
	ASSERT_UEQ(want, KAT_HASH);
	ASSERT_UEQ(cairn__engine_hash(t.e), want);
	const struct cairn_state_hash_reply *sh = ENG_OK(&t, eng_state_hash());
	ASSERT_UEQ(sh->hash, want);

	/* The saved image is the header and this body. */
	struct bytes img = {.n = 0};
	bstr(&img, "CAIRNENG", 8);
	b32(&img, 1); /* version */
	b32(&img, 1); /* n_maps */
	b64(&img, map_hash);
	memcpy(img.b + img.n, body.b, body.n);
	img.n += body.n;
	uint8_t *buf;
	size_t len;
	ASSERT_OK(cairn__engine_save(t.e, &buf, &len));
	ASSERT_UEQ(len, img.n);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != img.b[i]) {
			T_FAILF("image byte %zu: 0x%02x, expected 0x%02x", i, buf[i], img.b[i]);
		}
	}
	free(buf);
	eng_close(&t);
	cairn__map_free(tiny);
}

int main(void)
{
	test_known_answer();
	recs = calloc(N, sizeof(*recs));
	ASSERT_TRUE(recs != NULL);
	uint64_t final = record();
	test_replay(final);
	test_fork(final);
	test_restore(N / 2, final);
	test_restore(N / 3 + 17, final);
	free(recs);
	return T_PASS;
}
