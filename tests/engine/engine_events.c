/*
 * Events: every command that changes the state publishes the event the schema
 * documents for it (event_type), with its fields filled in and the rest zero, its order
 * number and ingress stamp; queries, moves that claim nothing and rejected commands
 * publish nothing. A reader attached to the engine's event ring sees them in order; a
 * reader that falls more than the ring's capacity behind learns how many it missed and
 * reads the newest ones.
 */
#include <sys/mman.h>

#include "eng.h"

#define S      ENG_MAP_SMALL
#define D      ENG_MAP_DEFAULT
#define MID(c) ((int32_t)(c)*1000 + 500)

static struct cairn_event expected[256];
static size_t n_expected;

/* Expects the command just applied to have published exactly this event. */
static void expect(struct eng *t, uint16_t type, uint32_t hunt, uint32_t player, uint32_t clue,
		   int64_t value, int32_t x, int32_t y)
{
	struct cairn_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.hunt_id = hunt;
	ev.order = cairn__engine_applied(t->e);
	ev.stamp_ns = t->now - t->step_ns; /* the stamp the command was applied at */
	ev.player_id = player;
	ev.clue_id = clue;
	ev.value = value;
	ev.x = x;
	ev.y = y;
	ASSERT_LT(n_expected, 256);
	expected[n_expected++] = ev;
	ASSERT_UEQ(cairn__engine_events_published(t->e), n_expected);
}

static void check_reader(struct cairn__broadcast_reader *r, size_t from)
{
	struct cairn_event got[256];
	size_t n = eng_events_read(r, got, 256);
	ASSERT_UEQ(n, n_expected - from);
	for (size_t i = 0; i < n; i++) {
		const struct cairn_event *g = &got[i], *w = &expected[from + i];
		if (memcmp(g, w, sizeof(*g)) != 0) {
			T_FAILF("event %zu: type %u hunt %u order %llu stamp %llu player %u clue "
				"%u "
				"value %lld at %d,%d; expected type %u hunt %u order %llu stamp "
				"%llu "
				"player %u clue %u value %lld at %d,%d",
				from + i, g->type, g->hunt_id, (unsigned long long)g->order,
				(unsigned long long)g->stamp_ns, g->player_id, g->clue_id,
				(long long)g->value, g->x, g->y, w->type, w->hunt_id,
				(unsigned long long)w->order, (unsigned long long)w->stamp_ns,
				w->player_id, w->clue_id, (long long)w->value, w->x, w->y);
		}
	}
}

static void test_every_command(void)
{
	struct eng t;
	eng_open(&t, NULL, false);
	t.step_ns = 1234567;
	struct cairn__broadcast_reader r0;
	eng_events_attach(&t, &r0, 0);
	ASSERT_UEQ(cairn__broadcast_tail(&r0), 0);

	uint32_t h = ENG_HUNT(&t, D, 0, 0, 0);
	expect(&t, CAIRN_EVENT_HUNT_CREATED, h, 0, 0, D, 0, 0);
	uint32_t h2 = ENG_HUNT(&t, S, 0, 0, 0);
	expect(&t, CAIRN_EVENT_HUNT_CREATED, h2, 0, 0, S, 0, 0);
	uint32_t p = ENG_JOIN(&t, h, MID(66), MID(68));
	expect(&t, CAIRN_EVENT_PLAYER_JOINED, h, p, 0, 0, MID(66), MID(68));
	uint32_t q = ENG_JOIN(&t, h, MID(67), MID(68));
	expect(&t, CAIRN_EVENT_PLAYER_JOINED, h, q, 0, 0, MID(67), MID(68));
	uint32_t c = ENG_CLUE(&t, h, MID(66), MID(70), -17);
	expect(&t, CAIRN_EVENT_CLUE_PLACED, h, 0, c, -17, MID(66), MID(70));
	uint32_t c2 = ENG_CLUE(&t, h, MID(70), MID(70), 9);
	expect(&t, CAIRN_EVENT_CLUE_PLACED, h, 0, c2, 9, MID(70), MID(70));

	/* Checked half-way: a reader sees what there is so far. */
	check_reader(&r0, 0);

	/* A move that claims nothing, queries and rejected commands publish nothing. */
	ENG_MOVE(&t, h, p, MID(66), MID(69));
	ENG_OK(&t, eng_nearest(h, 0, 0, 3, 0, 72, 1));
	ENG_OK(&t, eng_players_near(h, 0, 0, 100000, 3, 0, 72));
	ENG_OK(&t, eng_leaderboard(h, 3, 0, 72));
	ENG_OK(&t, eng_player_state(h, p));
	ENG_OK(&t, eng_state_hash());
	ENG_ERR(&t, eng_join(h, -1, 0), CAIRN_E_OFF_MAP);
	ENG_ERR(&t, eng_hunt_destroy(0), CAIRN_E_UNKNOWN_HUNT);
	ASSERT_UEQ(cairn__engine_events_published(t.e), n_expected);

	/* The claim: the winner, the clue, its worth and where the clue is. */
	ENG_MOVE(&t, h, p, MID(66) + 5, MID(70) - 7);
	expect(&t, CAIRN_EVENT_CLUE_CLAIMED, h, p, c, -17, MID(66), MID(70));
	/* Losing is not an event. */
	ENG_MOVE(&t, h, q, MID(66), MID(70));
	ASSERT_UEQ(cairn__engine_events_published(t.e), n_expected);

	/* A reader attached now sees only what comes next. */
	struct cairn__broadcast_reader r1;
	size_t from = n_expected;
	eng_events_attach(&t, &r1, cairn__engine_events_published(t.e));

	/* Removal says who held the clue, what it was worth and where it was. */
	const struct cairn_clue_removed *cr = ENG_OK(&t, eng_clue_remove(h, c));
	ASSERT_UEQ(cr->claimed_by, p);
	expect(&t, CAIRN_EVENT_CLUE_REMOVED, h, p, c, -17, MID(66), MID(70));
	/* Leaving says the final score and where the player was. */
	ENG_OK(&t, eng_leave(h, p));
	expect(&t, CAIRN_EVENT_PLAYER_LEFT, h, p, 0, -17, MID(66) + 5, MID(70) - 7);
	/* A hunt goes with everything in it, in one event. */
	uint32_t p2 = ENG_JOIN(&t, h2, MID(0), MID(0));
	expect(&t, CAIRN_EVENT_PLAYER_JOINED, h2, p2, 0, 0, MID(0), MID(0));
	ENG_OK(&t, eng_hunt_destroy(h));
	expect(&t, CAIRN_EVENT_HUNT_DESTROYED, h, 0, 0, 0, 0, 0);
	ENG_OK(&t, eng_hunt_destroy(h2));
	expect(&t, CAIRN_EVENT_HUNT_DESTROYED, h2, 0, 0, 0, 0, 0);

	check_reader(&r0, 6);
	check_reader(&r1, from);
	ASSERT_UEQ(cairn__engine_counters(t.e)->events, n_expected);
	/* Orders are strictly increasing: one event per command at most. */
	for (size_t i = 1; i < n_expected; i++) {
		ASSERT_GT(expected[i].order, expected[i - 1].order);
	}
	eng_close(&t);
}

/*
 * A ring of 8 events and 20 published: a reader from the start misses 12 and reads
 * the last 8, in order; the ring lives in memory the caller gave.
 */
static void test_lapped(void)
{
	struct cairn__engine_config cfg;
	eng_config(&cfg);
	cfg.event_capacity = 8;
	size_t size = cairn__engine_events_size(&cfg);
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(mem != MAP_FAILED);
	struct cairn__engine *e;
	ASSERT_OK(cairn__engine_new(&cfg, NULL, mem, NULL, &e));
	size_t got_size;
	ASSERT_TRUE(cairn__engine_events_mem(e, &got_size) == mem);
	ASSERT_UEQ(got_size, size);

	struct cairn_msg out, cmd = eng_hunt_create(S, 0, 0, 0);
	ASSERT_EQ(cairn__engine_apply(e, &cmd, 1, NULL, &out), 0);
	uint32_t h = ((const struct cairn_hunt_created *)out.payload)->hunt_id;
	uint32_t ids[19];
	for (int i = 0; i < 19; i++) {
		cmd = eng_clue_place(h, MID(i), MID(15), i);
		ASSERT_EQ(cairn__engine_apply(e, &cmd, 2 + (uint64_t)i, NULL, &out), 0);
		ids[i] = ((const struct cairn_clue_placed *)out.payload)->clue_id;
	}
	ASSERT_UEQ(cairn__engine_events_published(e), 20);

	struct cairn__broadcast_reader r;
	ASSERT_OK(cairn__broadcast_attach(mem, size, &r));
	r.next = 0;
	struct cairn_event ev[16];
	uint64_t missed = 0;
	size_t n = cairn__broadcast_read(&r, ev, 16, &missed);
	ASSERT_UEQ(missed, 12);
	ASSERT_UEQ(n, 8);
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(ev[i].type, CAIRN_EVENT_CLUE_PLACED);
		ASSERT_UEQ(ev[i].clue_id, ids[11 + i]);
		ASSERT_UEQ(ev[i].order, 13 + i);
		ASSERT_EQ(ev[i].value, 11 + (int64_t)i);
	}
	cairn__engine_free(e);
	munmap(mem, size);
}

int main(void)
{
	test_every_command();
	test_lapped();
	return T_PASS;
}
