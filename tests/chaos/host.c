/*
 * chaos-host: the C game host of the chaos soak (tools/soak-chaos), through libcairn.
 *
 *   chaos-host --socket PATH --journal FILE [--seed N] [--actors N] [--players N]
 *              [--malformed PCT] [--map ID]
 *
 * It creates a hunt of its own on map ID (default 1: the soak's open map, where every
 * position is passable) and runs ACTORS threads (default 4) on it. Each thread owns
 * PLAYERS players (default 4) and up to MAX_CLUES clues in a vertical stripe of the map
 * of its own, and sends one command at a time: PCT percent (default 20) malformed
 * commands that must be refused, the rest valid changes (moves, some of them onto its
 * own clues to claim them, clue places and removes, a player leaving and another
 * joining) and PLAYER_STATE queries, whose answers it checks against what it was
 * acknowledged. Every command and its result go to the journal FILE (format: the top
 * of tests/chaos/check.c), a line per write(2), so that a SIGKILL at any instant leaves
 * a journal that chaos-check can hold the daemon to.
 *
 * It runs until its standard input reaches end of file (the driver closes it, or
 * dies), then lets each thread finish its command in flight, writes "bye" and exits 0.
 * It exits 3 (after a "fail" line) when something is wrong: a query that disagrees, a
 * result of the wrong shape, a call that gave up; 2 on bad usage. A daemon restart is
 * not wrong: libcairn reattaches and resubmits, and the calls wait for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cairn/cairn.h"

#define TIMEOUT_NS   (120ll * 1000000000) /* longer than any restart the soak makes */
#define RECONNECT_MS 120000
#define MAX_PLAYERS  16
#define MAX_CLUES    6
#define MARGIN_MM    500  /* keeps stripes apart, far beyond the claim radius */
#define STEP_MM      3000 /* the farthest a random move goes */
#define BAD_ID_MAX   (UINT32_C(1) << CAIRN_ID_SLOT_BITS) /* ids below this are never given */

static cairn_client *client;
static int journal_fd = -1;
static uint32_t hunt_id;
static int32_t map_w, map_h; /* millimetres */
static uint64_t next_n;      /* atomic: command numbers of the journal */
static int stopping;         /* atomic: standard input has closed */
static unsigned malformed_pct = 20;

static uint64_t take_n(void)
{
	return __atomic_add_fetch(&next_n, 1, __ATOMIC_RELAXED);
}

/* One journal line, with one write(2): whole or not at all, whatever kills us. */
static __attribute__((format(printf, 1, 2))) void jw(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf) - 1) {
		n = (int)sizeof(buf) - 2;
	}
	buf[n++] = '\n';
	if (write(journal_fd, buf, (size_t)n) != n) {
		fprintf(stderr, "chaos-host: journal write: %s\n", strerror(errno));
		_exit(3);
	}
}

/* Something is wrong: say so in the journal and on stderr, and stop at once. */
static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	char buf[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++) {
		if (*p == '\n') {
			*p = ' ';
		}
	}
	jw("fail %s", buf);
	fprintf(stderr, "chaos-host %d: %s\n", (int)getpid(), buf);
	_exit(3);
}

/* A protocol code (the daemon refused) or a failure of the call itself. */
static bool refused(int r)
{
	return -r >= CAIRN_E__FIRST && -r <= CAIRN_E__LAST && r != -CAIRN_E_DISCONNECTED &&
	       r != -CAIRN_E_LANE_DROPPED && r != -CAIRN_E_EVICTED && r != -CAIRN_E_BAD_REPLY;
}

/* xorshift64*, one per thread. */
struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * UINT64_C(0x2545f4914f6cdd1d);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rnd(r) % n);
}

static int32_t in_range(struct rng *r, int32_t lo, int32_t hi)
{
	return lo + (int32_t)below(r, (uint32_t)(hi - lo + 1));
}

struct player {
	uint32_t id;
	int32_t x, y;
	uint32_t claims;
	int64_t score;
};

struct clue {
	uint32_t id;
	int32_t x, y;
	int64_t value;
	bool claimed;
};

struct actor {
	unsigned index;
	pthread_t thread;
	struct rng rng;
	int32_t x0, x1, y0, y1; /* its stripe */
	unsigned nplayers;
	struct player p[MAX_PLAYERS];
	unsigned nclues;
	struct clue c[MAX_CLUES];
};

static unsigned players_per_actor = 4;

/* ---- valid changes ---- */

static uint32_t join(struct actor *a, int32_t x, int32_t y)
{
	uint64_t n = take_n();
	uint32_t id;
	jw("s %" PRIu64 " join %" PRIu32 " %d %d", n, hunt_id, x, y);
	int r = cairn_join(client, hunt_id, x, y, &id, TIMEOUT_NS);
	if (r < 0) {
		if (!refused(r)) {
			die("join: %s", cairn_strerror(r));
		}
		jw("e %" PRIu64 " %d", n, -r);
		return 0;
	}
	jw("a %" PRIu64 " %" PRIu32, n, id);
	(void)a;
	return id;
}

static void move(struct actor *a, struct player *p, int32_t x, int32_t y)
{
	uint64_t n = take_n();
	struct cairn_moved mv;
	jw("s %" PRIu64 " move %" PRIu32 " %" PRIu32 " %d %d", n, hunt_id, p->id, x, y);
	int r = cairn_move(client, hunt_id, p->id, x, y, &mv, TIMEOUT_NS);
	if (r < 0) {
		if (!refused(r)) {
			die("move: %s", cairn_strerror(r));
		}
		jw("e %" PRIu64 " %d", n, -r);
		return;
	}
	jw("a %" PRIu64 " %u %" PRIu32 " %" PRId64, n, mv.outcome, mv.clue_id, mv.score);
	if (mv.player_id != p->id || mv.x != x || mv.y != y) {
		die("MOVED says player %" PRIu32 " at %d,%d for a move of %" PRIu32 " to %d,%d",
		    mv.player_id, mv.x, mv.y, p->id, x, y);
	}
	p->x = x;
	p->y = y;
	p->score = mv.score;
	if (mv.outcome == CAIRN_CLAIM_WON) {
		p->claims++;
		for (unsigned i = 0; i < a->nclues; i++) {
			if (a->c[i].id == mv.clue_id) {
				a->c[i].claimed = true;
			}
		}
	}
}

static void place(struct actor *a)
{
	struct clue c = {.x = in_range(&a->rng, a->x0, a->x1),
			 .y = in_range(&a->rng, a->y0, a->y1),
			 .value = 1 + below(&a->rng, 100)};
	uint64_t n = take_n();
	jw("s %" PRIu64 " place %" PRIu32 " %d %d %" PRId64, n, hunt_id, c.x, c.y, c.value);
	int r = cairn_clue_place(client, hunt_id, c.x, c.y, c.value, &c.id, TIMEOUT_NS);
	if (r < 0) {
		if (!refused(r)) {
			die("clue place: %s", cairn_strerror(r));
		}
		jw("e %" PRIu64 " %d", n, -r);
		return;
	}
	jw("a %" PRIu64 " %" PRIu32, n, c.id);
	a->c[a->nclues++] = c;
}

static void remove_clue(struct actor *a, unsigned i)
{
	uint64_t n = take_n();
	struct cairn_clue_removed cr;
	jw("s %" PRIu64 " remove %" PRIu32 " %" PRIu32, n, hunt_id, a->c[i].id);
	int r = cairn_clue_remove(client, hunt_id, a->c[i].id, &cr, TIMEOUT_NS);
	if (r < 0) {
		if (!refused(r)) {
			die("clue remove: %s", cairn_strerror(r));
		}
		jw("e %" PRIu64 " %d", n, -r);
		return;
	}
	jw("a %" PRIu64, n);
	a->c[i] = a->c[--a->nclues];
}

/* A player leaves and a new one takes its place. */
static void rejoin(struct actor *a, unsigned i)
{
	struct player *p = &a->p[i];
	uint64_t n = take_n();
	struct cairn_left left;
	jw("s %" PRIu64 " leave %" PRIu32 " %" PRIu32, n, hunt_id, p->id);
	int r = cairn_leave(client, hunt_id, p->id, &left, TIMEOUT_NS);
	if (r < 0) {
		if (!refused(r)) {
			die("leave: %s", cairn_strerror(r));
		}
		jw("e %" PRIu64 " %d", n, -r);
		return;
	}
	jw("a %" PRIu64, n);
	if (left.claims != p->claims || left.score != p->score) {
		die("LEFT says %u claims, score %" PRId64 " for player %" PRIu32
		    "; acknowledged %u, %" PRId64,
		    left.claims, left.score, p->id, p->claims, p->score);
	}
	struct player q = {.x = in_range(&a->rng, a->x0, a->x1),
			   .y = in_range(&a->rng, a->y0, a->y1)};
	q.id = join(a, q.x, q.y);
	if (q.id) {
		*p = q;
	} else {
		*p = a->p[--a->nplayers];
	}
}

/* PLAYER_STATE must say what the acknowledgements said, across any daemon restart. */
static void query(struct actor *a, const struct player *p)
{
	uint64_t n = take_n();
	struct cairn_player_info pi;
	int r = cairn_player_state(client, hunt_id, p->id, &pi, TIMEOUT_NS);
	if (r < 0) {
		die("PLAYER_STATE of player %" PRIu32 ": %s", p->id, cairn_strerror(r));
	}
	jw("q %" PRIu64 " %" PRIu32 " %d %d %u %" PRId64, n, p->id, pi.x, pi.y, pi.claims,
	   pi.score);
	if (pi.x != p->x || pi.y != p->y || pi.claims != p->claims || pi.score != p->score) {
		die("PLAYER_STATE of player %" PRIu32 ": %d,%d, %u claims, score %" PRId64
		    "; acknowledged %d,%d, %u, %" PRId64,
		    p->id, pi.x, pi.y, pi.claims, pi.score, p->x, p->y, p->claims, p->score);
	}
	(void)a;
}

/* ---- malformed commands: each must be refused ---- */

static const char *const bad_kinds[] = {
	"unknown_hunt", "unknown_player", "off_map_move",    "off_map_join",
	"unknown_clue", "unknown_map",    "destroy_unknown", "bad_length",
	"bad_flags",    "unknown_type",   "garbage",
};
#define NBAD (sizeof(bad_kinds) / sizeof(bad_kinds[0]))

static void malformed(struct actor *a)
{
	unsigned k = below(&a->rng, NBAD);
	struct player *p = &a->p[below(&a->rng, a->nplayers)];
	uint32_t bad_id = below(&a->rng, BAD_ID_MAX);
	int32_t x = in_range(&a->rng, a->x0, a->x1), y = in_range(&a->rng, a->y0, a->y1);
	struct cairn_msg m, res;
	uint64_t n = take_n();
	int r;
	jw("m %" PRIu64 " %s", n, bad_kinds[k]);
	switch (k) {
	case 0:
		r = cairn_move(client, bad_id, p->id, x, y, NULL, TIMEOUT_NS);
		break;
	case 1:
		r = cairn_move(client, hunt_id, bad_id, x, y, NULL, TIMEOUT_NS);
		break;
	case 2: {
		/* Off the left edge, off the bottom one, or both. */
		unsigned off = 1 + below(&a->rng, 3);
		r = cairn_move(client, hunt_id, p->id, off & 1 ? -1 - (int32_t)bad_id : x,
			       off & 2 ? map_h + (int32_t)(bad_id & 0xffff) : y, NULL, TIMEOUT_NS);
		break;
	}
	case 3:
		r = cairn_join(client, hunt_id, map_w + (int32_t)(bad_id & 0xffff), y, NULL,
			       TIMEOUT_NS);
		break;
	case 4:
		r = cairn_clue_remove(client, hunt_id, bad_id, NULL, TIMEOUT_NS);
		break;
	case 5: {
		struct cairn_hunt_params hp = {.map_id = 1000 + bad_id};
		r = cairn_hunt_create(client, &hp, NULL, TIMEOUT_NS);
		break;
	}
	case 6:
		r = cairn_hunt_destroy(client, bad_id, TIMEOUT_NS);
		break;
	case 7:
	case 8:
		/* A move of our own player to a valid place, spoiled by its header. */
		cairn_msg_move(&m, hunt_id, p->id, x, y);
		if (k == 7) {
			m.hdr.length = (uint8_t)(below(&a->rng, 2) ? below(&a->rng, 16)
								   : 17 + below(&a->rng, 24));
		} else {
			m.hdr.flags = (uint8_t)(1 + below(&a->rng, 255));
		}
		r = cairn_call(client, &m, &res, TIMEOUT_NS);
		break;
	case 9:
		cairn_msg_init(&m, (uint16_t)(0x0100 + below(&a->rng, 0x7f00)), 0);
		m.hdr.length = (uint8_t)below(&a->rng, CAIRN_PAYLOAD_SIZE + 1);
		r = cairn_call(client, &m, &res, TIMEOUT_NS);
		break;
	default:
		/* Noise of any type, with flags no message may have. */
		for (size_t i = 0; i < sizeof(m); i += 8) {
			uint64_t v = rnd(&a->rng);
			memcpy((char *)&m + i, &v, 8);
		}
		if (below(&a->rng, 2)) {
			/* Half of them of a command type of the schema, half of any type. */
			m.hdr.type = (uint16_t)(CAIRN_MSG_PING + below(&a->rng, CAIRN_MSG_EVICT));
		}
		m.hdr.flags |= 1;
		m.hdr.length = (uint8_t)below(&a->rng, CAIRN_PAYLOAD_SIZE + 1);
		m.hdr.status = 0;
		m.hdr.request_id = 0;
		r = cairn_call(client, &m, &res, TIMEOUT_NS);
		break;
	}
	if (r == 0) {
		jw("v %" PRIu64 " %s type 0x%x", n, bad_kinds[k], k >= 7 ? m.hdr.type : 0);
		return;
	}
	if (!refused(r)) {
		die("malformed %s: %s", bad_kinds[k], cairn_strerror(r));
	}
	jw("r %" PRIu64 " %d", n, -r);
}

/* ---- the actors ---- */

static unsigned unclaimed(const struct actor *a, struct rng *r)
{
	unsigned idx[MAX_CLUES], n = 0;
	for (unsigned i = 0; i < a->nclues; i++) {
		if (!a->c[i].claimed) {
			idx[n++] = i;
		}
	}
	return n ? idx[below(r, n)] : MAX_CLUES;
}

static void step(struct actor *a)
{
	if (below(&a->rng, 100) < malformed_pct && a->nplayers) {
		malformed(a);
		return;
	}
	unsigned w = below(&a->rng, 100);
	if (a->nplayers == 0) {
		w = 99; /* only joining is left */
	}
	struct player *p = &a->p[a->nplayers ? below(&a->rng, a->nplayers) : 0];
	if (w < 66) {
		int32_t x = p->x + in_range(&a->rng, -STEP_MM, STEP_MM);
		int32_t y = p->y + in_range(&a->rng, -STEP_MM, STEP_MM);
		x = x < a->x0 ? a->x0 : x > a->x1 ? a->x1 : x;
		y = y < a->y0 ? a->y0 : y > a->y1 ? a->y1 : y;
		move(a, p, x, y);
	} else if (w < 76) {
		unsigned i = unclaimed(a, &a->rng);
		if (i < MAX_CLUES) {
			move(a, p, a->c[i].x, a->c[i].y);
		} else if (a->nclues < MAX_CLUES) {
			place(a);
		}
	} else if (w < 84) {
		if (a->nclues < MAX_CLUES) {
			place(a);
		} else {
			remove_clue(a, below(&a->rng, a->nclues));
		}
	} else if (w < 89) {
		if (a->nclues) {
			remove_clue(a, below(&a->rng, a->nclues));
		}
	} else if (w < 93) {
		rejoin(a, (unsigned)(p - a->p));
	} else if (w < 99) {
		query(a, p);
	} else if (a->nplayers < players_per_actor) {
		struct player q = {.x = in_range(&a->rng, a->x0, a->x1),
				   .y = in_range(&a->rng, a->y0, a->y1)};
		q.id = join(a, q.x, q.y);
		if (q.id) {
			a->p[a->nplayers++] = q;
		}
	}
}

static void *actor_main(void *arg)
{
	struct actor *a = arg;
	while (a->nplayers < players_per_actor && !__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
		struct player q = {.x = in_range(&a->rng, a->x0, a->x1),
				   .y = in_range(&a->rng, a->y0, a->y1)};
		q.id = join(a, q.x, q.y);
		if (!q.id) {
			break;
		}
		a->p[a->nplayers++] = q;
	}
	while (!__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
		step(a);
	}
	return NULL;
}

/* Standard input closing is the signal to stop. */
static void *stdin_main(void *arg)
{
	char buf[256];
	(void)arg;
	while (read(0, buf, sizeof(buf)) > 0 || errno == EINTR) {
		errno = 0;
	}
	__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: chaos-host --socket PATH --journal FILE [--seed N] [--actors N] "
			"[--players N] [--malformed PCT] [--map ID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *journal = NULL;
	uint64_t seed = 1;
	unsigned nactors = 4;
	uint32_t map_id = 1;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			usage();
		}
		if (strcmp(argv[i], "--socket") == 0) {
			sock = v;
		} else if (strcmp(argv[i], "--journal") == 0) {
			journal = v;
		} else if (strcmp(argv[i], "--seed") == 0) {
			seed = strtoull(v, NULL, 0);
		} else if (strcmp(argv[i], "--actors") == 0) {
			nactors = (unsigned)strtoul(v, NULL, 0);
		} else if (strcmp(argv[i], "--players") == 0) {
			players_per_actor = (unsigned)strtoul(v, NULL, 0);
		} else if (strcmp(argv[i], "--malformed") == 0) {
			malformed_pct = (unsigned)strtoul(v, NULL, 0);
		} else if (strcmp(argv[i], "--map") == 0) {
			map_id = (uint32_t)strtoul(v, NULL, 0);
		} else {
			usage();
		}
		i++;
	}
	if (!sock || !journal || nactors == 0 || nactors > 64 || players_per_actor == 0 ||
	    players_per_actor > MAX_PLAYERS || malformed_pct > 100) {
		usage();
	}
	journal_fd = open(journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (journal_fd < 0) {
		fprintf(stderr, "chaos-host: %s: %s\n", journal, strerror(errno));
		return 2;
	}
	jw("hello c %d", (int)getpid());

	/*
	 * The first attach is retried: the daemon may be down, or killed in the middle of
	 * the handshake. Only an attached connection reattaches by itself.
	 */
	struct cairn_open_options o = {.name = "chaos-host-c", .reconnect_ms = RECONNECT_MS};
	int r;
	for (int tries = 0; (r = cairn_open(sock, &o, &client)) < 0; tries++) {
		if (tries == RECONNECT_MS / 50) {
			die("attach: %s", cairn_strerror(r));
		}
		usleep(50 * 1000);
	}
	uint64_t n = take_n();
	struct cairn_hunt_params hp = {.map_id = map_id};
	struct cairn_hunt_created hc;
	jw("s %" PRIu64 " create %" PRIu32, n, map_id);
	r = cairn_hunt_create(client, &hp, &hc, TIMEOUT_NS);
	if (r < 0) {
		if (refused(r)) {
			jw("e %" PRIu64 " %d", n, -r);
		}
		die("HUNT_CREATE: %s", cairn_strerror(r));
	}
	jw("a %" PRIu64 " %" PRIu32, n, hc.hunt_id);
	hunt_id = hc.hunt_id;
	map_w = (int32_t)(hc.width * hc.cell_mm);
	map_h = (int32_t)(hc.height * hc.cell_mm);
	int32_t stripe = map_w / (int32_t)nactors;
	if (stripe < 2 * MARGIN_MM + 1000 || map_h < 2 * MARGIN_MM + 1000) {
		die("map %" PRIu32 " is too small for %u actors", map_id, nactors);
	}

	pthread_t in;
	pthread_create(&in, NULL, stdin_main, NULL);
	pthread_detach(in);
	struct actor *actors = calloc(nactors, sizeof(*actors));
	if (!actors) {
		die("out of memory");
	}
	for (unsigned i = 0; i < nactors; i++) {
		struct actor *a = &actors[i];
		a->index = i;
		a->rng.s = (seed + i + 1) * UINT64_C(0x9e3779b97f4a7c15) | 1;
		a->x0 = (int32_t)i * stripe + MARGIN_MM;
		a->x1 = (int32_t)(i + 1) * stripe - MARGIN_MM;
		a->y0 = MARGIN_MM;
		a->y1 = map_h - MARGIN_MM;
		if (pthread_create(&a->thread, NULL, actor_main, a) != 0) {
			die("pthread_create failed");
		}
	}
	for (unsigned i = 0; i < nactors; i++) {
		pthread_join(actors[i].thread, NULL);
	}
	jw("bye");
	cairn_close(client);
	free(actors);
	return 0;
}
