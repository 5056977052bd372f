/*
 * chaos-check: what tools/soak-chaos uses to judge a run. It reads the ack journals the
 * chaos hosts write (tests/chaos/host.c, host.py, host.js, and the Go one in
 * bindings/go/cmd/cairn-chaos-host), rebuilds from each the state its hunt must be in,
 * and compares that with what a live cairnd holds.
 *
 *   chaos-check --socket PATH verify [--destroy] JOURNAL...
 *   chaos-check --socket PATH hash
 *
 * verify prints one JSON object per journal and exits 1 when any check failed; with
 * --destroy it then destroys each journal's hunt (after a successful check only), so
 * that the hunts of dead hosts do not pile up. hash prints the daemon's state hash, the
 * order number of its latest change and its log's LSNs as one JSON object.
 *
 * The journal. Each host process writes one file, a line per event, each line with one
 * write(2) on an O_APPEND descriptor, so that a host killed with SIGKILL leaves every
 * line it wrote whole (a last line without its newline is ignored). Numbers are
 * decimal. N numbers the host's commands, uniquely within the file.
 *
 *   hello LANG PID                 the host started
 *   s N create MAP                 a valid change is about to be pushed ...
 *   s N join HUNT X Y
 *   s N leave HUNT PLAYER
 *   s N move HUNT PLAYER X Y
 *   s N place HUNT X Y VALUE
 *   s N remove HUNT CLUE
 *   a N [HUNT|PLAYER|CLUE]         ... and was acknowledged: create, join and place give
 *   a N OUTCOME CLUE SCORE         the new id; a move its claim outcome, clue and score
 *   e N CODE                       ... or refused with the schema's error CODE
 *   q N PLAYER X Y CLAIMS SCORE    a PLAYER_STATE answer, already checked by the host
 *   m N KIND                       a malformed command is about to be pushed ...
 *   r N CODE                       ... and was refused, as it must be
 *   v N KIND                       ... or was accepted: a daemon bug
 *   fail TEXT                      the host found something wrong (and exits 3)
 *   bye                            the host stopped cleanly
 *
 * A host runs several actors; each owns its players and clues (in a stripe of the map
 * of its own, so that one actor's moves never reach another's clues) and has at most
 * one command in flight. So while the host lives every "s" line is answered before its
 * actor's next one, and at its death at most one command per actor is unanswered:
 * pushed or not, applied or not, durable or not. The state must then be the
 * acknowledged one, or the acknowledged one with any of those commands applied.
 *
 * What verify checks, with the hunt read from the daemon's grid (one consistent
 * rectangle of the whole map):
 *  - every acknowledged change is there: each player joined and not left, at the
 *    position of its last acknowledged move, with its claims and score; each clue
 *    placed and not removed, at its place, with its value and its claimant;
 *  - nothing else is: every other entity of the hunt is explained by an unanswered
 *    join or place, and each unanswered command explains at most one difference;
 *  - the hunt's counters agree with its entities;
 *  - each acknowledged result agrees with the journal's model (a claim's clue was
 *    unclaimed, the score is the sum of the clues won), no valid change was refused,
 *    no malformed command was accepted, and the host reported no failure.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/cairn.h"

#define TIMEOUT_NS (30ll * 1000000000)
#define MAX_ERRORS 20
#define MAX_OPEN   256 /* unanswered commands a journal may hold at once */

enum op_kind { OP_CREATE, OP_JOIN, OP_LEAVE, OP_MOVE, OP_PLACE, OP_REMOVE };

static const char *const op_names[] = {"create", "join", "leave", "move", "place", "remove"};

struct op {
	uint64_t n;
	enum op_kind kind;
	uint32_t hunt, id; /* id: the player (leave, move) or clue (remove) */
	int32_t x, y;
	int64_t value;
	bool used; /* at the end: already explains a difference */
};

/* A player or clue of the model. */
struct ent {
	uint32_t id;
	bool player;
	bool alive;
	int32_t x, y;
	uint32_t claims;     /* player */
	int64_t value;       /* player: score; clue: worth */
	uint32_t claimed_by; /* clue */
	int pending;         /* index of its unanswered command in open[], or -1 */
};

struct journal {
	const char *path;
	char lang[16];
	long pid;
	uint32_t hunt;
	bool create_pending;
	/* The model's entities, by id (open addressing, ids are never 0). */
	struct ent *ents;
	uint32_t ents_cap, nents;
	struct op open[MAX_OPEN];
	unsigned nopen;
	/* Counts for the report. */
	uint64_t changes, acked, refused, queries, claims, malformed, malformed_refused, violations,
		lines;
	bool bye;
	unsigned nerrors;
	char errors[MAX_ERRORS][256];
};

static __attribute__((format(printf, 2, 3))) void jfail(struct journal *j, const char *fmt, ...)
{
	if (j->nerrors < MAX_ERRORS) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(j->errors[j->nerrors], sizeof(j->errors[0]), fmt, ap);
		va_end(ap);
	}
	j->nerrors++;
}

/* ---- the model's entities ---- */

static uint32_t id_hash(uint32_t id)
{
	return id * 2654435761u;
}

static struct ent *ent_find(struct journal *j, uint32_t id)
{
	if (!j->ents_cap || id == 0) {
		return NULL;
	}
	for (uint32_t i = id_hash(id) & (j->ents_cap - 1);; i = (i + 1) & (j->ents_cap - 1)) {
		if (j->ents[i].id == id) {
			return &j->ents[i];
		}
		if (j->ents[i].id == 0) {
			return NULL;
		}
	}
}

/* Adds id (not yet in the table) and returns its entry, zeroed but for id and pending. */
static struct ent *ent_add(struct journal *j, uint32_t id)
{
	if ((j->nents + 1) * 2 > j->ents_cap) {
		uint32_t cap = j->ents_cap ? j->ents_cap * 2 : 64;
		struct ent *old = j->ents;
		uint32_t old_cap = j->ents_cap;
		j->ents = calloc(cap, sizeof(*j->ents));
		if (!j->ents) {
			fprintf(stderr, "chaos-check: out of memory\n");
			exit(3);
		}
		j->ents_cap = cap;
		j->nents = 0;
		for (uint32_t i = 0; i < old_cap; i++) {
			if (old[i].id) {
				*ent_add(j, old[i].id) = old[i];
			}
		}
		free(old);
	}
	uint32_t i = id_hash(id) & (j->ents_cap - 1);
	while (j->ents[i].id) {
		i = (i + 1) & (j->ents_cap - 1);
	}
	j->ents[i] = (struct ent){.id = id, .pending = -1};
	j->nents++;
	return &j->ents[i];
}

/* ---- reading a journal ---- */

static struct op *open_find(struct journal *j, uint64_t n)
{
	for (unsigned i = 0; i < j->nopen; i++) {
		if (j->open[i].n == n) {
			return &j->open[i];
		}
	}
	return NULL;
}

static void open_remove(struct journal *j, struct op *o)
{
	*o = j->open[--j->nopen];
}

/* "s N KIND ...": checks that the command makes sense for the model, and opens it. */
static void on_sent(struct journal *j, const char *rest, unsigned line)
{
	struct op o = {0};
	char kind[16];
	int off = 0;
	unsigned long long n;
	if (sscanf(rest, "%llu %15s %n", &n, kind, &off) != 2) {
		jfail(j, "line %u: unreadable 's' line", line);
		return;
	}
	o.n = n;
	const char *a = rest + off;
	int ok;
	if (strcmp(kind, "create") == 0) {
		o.kind = OP_CREATE;
		ok = sscanf(a, "%" SCNu32, &o.id) == 1;
	} else if (strcmp(kind, "join") == 0) {
		o.kind = OP_JOIN;
		ok = sscanf(a, "%" SCNu32 " %" SCNd32 " %" SCNd32, &o.hunt, &o.x, &o.y) == 3;
	} else if (strcmp(kind, "leave") == 0) {
		o.kind = OP_LEAVE;
		ok = sscanf(a, "%" SCNu32 " %" SCNu32, &o.hunt, &o.id) == 2;
	} else if (strcmp(kind, "move") == 0) {
		o.kind = OP_MOVE;
		ok = sscanf(a, "%" SCNu32 " %" SCNu32 " %" SCNd32 " %" SCNd32, &o.hunt, &o.id, &o.x,
			    &o.y) == 4;
	} else if (strcmp(kind, "place") == 0) {
		o.kind = OP_PLACE;
		ok = sscanf(a, "%" SCNu32 " %" SCNd32 " %" SCNd32 " %" SCNd64, &o.hunt, &o.x, &o.y,
			    &o.value) == 4;
	} else if (strcmp(kind, "remove") == 0) {
		o.kind = OP_REMOVE;
		ok = sscanf(a, "%" SCNu32 " %" SCNu32, &o.hunt, &o.id) == 2;
	} else {
		ok = 0;
	}
	if (!ok) {
		jfail(j, "line %u: unreadable 's' line (%s)", line, kind);
		return;
	}
	j->changes++;
	if (open_find(j, o.n)) {
		jfail(j, "line %u: command %llu sent twice", line, n);
		return;
	}
	if (j->nopen == MAX_OPEN) {
		jfail(j, "line %u: more than %d commands unanswered at once", line, MAX_OPEN);
		return;
	}
	if (o.kind == OP_CREATE) {
		if (j->hunt || j->create_pending) {
			jfail(j, "line %u: a second hunt", line);
			return;
		}
		j->create_pending = true;
	} else if (o.hunt != j->hunt || j->hunt == 0) {
		jfail(j, "line %u: command %llu is for hunt %" PRIu32 ", the host's is %" PRIu32,
		      line, n, o.hunt, j->hunt);
		return;
	}
	if (o.kind == OP_LEAVE || o.kind == OP_MOVE || o.kind == OP_REMOVE) {
		struct ent *e = ent_find(j, o.id);
		bool player = o.kind != OP_REMOVE;
		if (!e || !e->alive || e->player != player) {
			jfail(j,
			      "line %u: command %llu (%s) names %s %" PRIu32
			      ", which the host has not got",
			      line, n, kind, player ? "player" : "clue", o.id);
			return;
		}
		if (e->pending >= 0) {
			jfail(j,
			      "line %u: command %llu (%s) for %" PRIu32
			      " while another for it is unanswered",
			      line, n, kind, o.id);
			return;
		}
		e->pending = (int)j->nopen;
	}
	j->open[j->nopen++] = o;
}

/* Clears the pending mark of the entity o names, and fixes the index of the op moved. */
static void close_op(struct journal *j, struct op *o)
{
	if (o->kind == OP_LEAVE || o->kind == OP_MOVE || o->kind == OP_REMOVE) {
		struct ent *e = ent_find(j, o->id);
		if (e) {
			e->pending = -1;
		}
	}
	unsigned idx = (unsigned)(o - j->open);
	open_remove(j, o);
	if (idx < j->nopen) {
		struct op *m = &j->open[idx];
		if (m->kind == OP_LEAVE || m->kind == OP_MOVE || m->kind == OP_REMOVE) {
			struct ent *e = ent_find(j, m->id);
			if (e) {
				e->pending = (int)idx;
			}
		}
	}
}

/* "a N ...": the acknowledged change enters the model. */
static void on_ack(struct journal *j, const char *rest, unsigned line)
{
	unsigned long long n;
	int off = 0;
	if (sscanf(rest, "%llu %n", &n, &off) != 1) {
		jfail(j, "line %u: unreadable 'a' line", line);
		return;
	}
	struct op *o = open_find(j, n);
	if (!o) {
		jfail(j, "line %u: an acknowledgement of %llu, which was not sent", line, n);
		return;
	}
	const char *a = rest + off;
	struct op op = *o;
	close_op(j, o);
	j->acked++;
	uint32_t id = 0;
	if (op.kind == OP_CREATE || op.kind == OP_JOIN || op.kind == OP_PLACE) {
		if (sscanf(a, "%" SCNu32, &id) != 1 || id == 0) {
			jfail(j, "line %u: unreadable 'a' line for %s", line, op_names[op.kind]);
			return;
		}
	}
	switch (op.kind) {
	case OP_CREATE:
		j->create_pending = false;
		j->hunt = id;
		return;
	case OP_JOIN:
	case OP_PLACE: {
		struct ent *e = ent_find(j, id);
		if (e && e->alive) {
			jfail(j, "line %u: %s %llu returned id %" PRIu32 ", which is alive already",
			      line, op_names[op.kind], n, id);
			return;
		}
		if (!e) {
			e = ent_add(j, id);
		}
		*e = (struct ent){.id = id,
				  .player = op.kind == OP_JOIN,
				  .alive = true,
				  .x = op.x,
				  .y = op.y,
				  .value = op.kind == OP_PLACE ? op.value : 0,
				  .pending = -1};
		return;
	}
	case OP_LEAVE:
	case OP_REMOVE:
		ent_find(j, op.id)->alive = false;
		return;
	case OP_MOVE: {
		unsigned outcome;
		uint32_t clue;
		int64_t score;
		if (sscanf(a, "%u %" SCNu32 " %" SCNd64, &outcome, &clue, &score) != 3) {
			jfail(j, "line %u: unreadable 'a' line for move", line);
			return;
		}
		struct ent *p = ent_find(j, op.id);
		p->x = op.x;
		p->y = op.y;
		if (outcome == CAIRN_CLAIM_WON) {
			struct ent *c = ent_find(j, clue);
			if (!c || !c->alive || c->player || c->claimed_by) {
				jfail(j,
				      "line %u: move %llu claimed clue %" PRIu32
				      ", which the model does not hold unclaimed",
				      line, n, clue);
				return;
			}
			c->claimed_by = op.id;
			p->claims++;
			p->value += c->value;
			j->claims++;
		} else if (outcome == CAIRN_CLAIM_LOST) {
			struct ent *c = ent_find(j, clue);
			if (!c || !c->alive || c->player || !c->claimed_by) {
				jfail(j,
				      "line %u: move %llu lost clue %" PRIu32
				      ", which the model does not hold claimed",
				      line, n, clue);
			}
		} else if (outcome != CAIRN_CLAIM_NONE) {
			jfail(j, "line %u: move %llu has outcome %u", line, n, outcome);
		}
		if (score != p->value) {
			jfail(j, "line %u: move %llu says score %" PRId64 ", the model %" PRId64,
			      line, n, score, p->value);
			p->value = score;
		}
		return;
	}
	}
}

static const char *code_name(int code)
{
	const char *s = cairn_error_name(code);
	return s ? s : "?";
}

/* "e N CODE": on its own map every change a host sends is valid, so a refusal is a finding. */
static void on_refused(struct journal *j, unsigned long long n, int code, unsigned line)
{
	struct op *o = open_find(j, n);
	if (!o) {
		jfail(j, "line %u: a refusal of %llu, which was not sent", line, n);
		return;
	}
	j->refused++;
	jfail(j, "line %u: valid %s %llu refused with %s (%d)", line, op_names[o->kind], n,
	      code_name(code), code);
	if (o->kind == OP_CREATE) {
		j->create_pending = false;
	}
	close_op(j, o);
}

static void on_line(struct journal *j, char *l, unsigned line)
{
	unsigned long long n;
	int code;
	char what[64];
	j->lines++;
	switch (l[0] == '\0' || l[1] != ' ' ? 0 : l[0]) {
	case 's':
		on_sent(j, l + 2, line);
		return;
	case 'a':
		on_ack(j, l + 2, line);
		return;
	case 'e':
		if (sscanf(l + 2, "%llu %d", &n, &code) != 2) {
			break;
		}
		on_refused(j, n, code, line);
		return;
	case 'q':
		j->queries++;
		return;
	case 'm':
		j->malformed++;
		return;
	case 'r':
		j->malformed_refused++;
		return;
	case 'v':
		j->violations++;
		jfail(j, "line %u: a malformed command was accepted: %.200s", line, l + 2);
		return;
	default:
		if (strncmp(l, "hello ", 6) == 0) {
			if (sscanf(l + 6, "%15s %ld", j->lang, &j->pid) != 2) {
				break;
			}
			return;
		}
		if (strcmp(l, "bye") == 0) {
			j->bye = true;
			return;
		}
		if (strncmp(l, "fail ", 5) == 0) {
			jfail(j, "the host failed: %.200s", l + 5);
			return;
		}
		break;
	}
	snprintf(what, sizeof(what), "%s", l);
	jfail(j, "line %u: unreadable: '%s'", line, what);
}

static bool read_journal(struct journal *j)
{
	FILE *f = fopen(j->path, "r");
	if (!f) {
		jfail(j, "cannot open: %s", strerror(errno));
		return false;
	}
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned line = 0;
	while ((len = getline(&buf, &cap, f)) > 0) {
		line++;
		if (buf[len - 1] != '\n') {
			break; /* a line cut short by the host's death (or still being written) */
		}
		buf[len - 1] = '\0';
		on_line(j, buf, line);
	}
	free(buf);
	fclose(f);
	if (line == 0 || j->lang[0] == '\0') {
		jfail(j, "no hello line");
	}
	return true;
}

/* ---- comparing with the daemon ---- */

struct hunt_view {
	struct cairn_hunt_info info;
	struct cairn_entity *e;
	int n;
};

static bool read_view(cairn_client *c, struct journal *j, struct hunt_view *v)
{
	int r;
	do {
		r = cairn_read_hunt(c, j->hunt, &v->info);
	} while (r == -EAGAIN && (sched_yield(), true));
	if (r < 0) {
		jfail(j, "hunt %" PRIu32 ": %s", j->hunt, cairn_strerror(r));
		return false;
	}
	int32_t x1 = (int32_t)(v->info.width * v->info.cell_mm) - 1;
	int32_t y1 = (int32_t)(v->info.height * v->info.cell_mm) - 1;
	size_t cap = j->nents + MAX_OPEN + 64;
	for (;;) {
		v->e = realloc(v->e, cap * sizeof(*v->e));
		if (!v->e) {
			fprintf(stderr, "chaos-check: out of memory\n");
			exit(3);
		}
		for (unsigned tries = 0;; tries++) {
			r = cairn_read_rect(c, j->hunt, 0, 0, x1, y1,
					    CAIRN_READ_PLAYERS | CAIRN_READ_CLUES, v->e, cap);
			if (r != -EAGAIN || tries == 100) {
				break;
			}
			sched_yield();
		}
		if (r < 0) {
			jfail(j, "reading hunt %" PRIu32 ": %s", j->hunt, cairn_strerror(r));
			return false;
		}
		if ((size_t)r <= cap) {
			v->n = r;
			return true;
		}
		cap = (size_t)r + 64;
	}
}

static const struct cairn_entity *view_find(const struct hunt_view *v, uint32_t id)
{
	for (int i = 0; i < v->n; i++) {
		if (v->e[i].id == id) {
			return &v->e[i];
		}
	}
	return NULL;
}

static bool within(int32_t x0, int32_t y0, int32_t x1, int32_t y1, uint32_t r)
{
	int64_t dx = (int64_t)x0 - x1, dy = (int64_t)y0 - y1;
	return dx * dx + dy * dy <= (int64_t)r * r;
}

static bool same_player(const struct cairn_entity *d, const struct ent *m)
{
	return d->x == m->x && d->y == m->y && d->claims == m->claims && d->value == m->value;
}

/*
 * A player of the model against the daemon's record of it, allowing its unanswered
 * command: a leave that took it away, or a move that took it to the target and may
 * have claimed a clue the model holds unclaimed.
 */
static void check_player(struct journal *j, const struct hunt_view *v, struct ent *p)
{
	const struct cairn_entity *d = view_find(v, p->id);
	const struct op *o = p->pending >= 0 ? &j->open[p->pending] : NULL;
	if (!d) {
		if (o && o->kind == OP_LEAVE) {
			return;
		}
		jfail(j, "player %" PRIu32 " (acknowledged at %d,%d) is gone", p->id, p->x, p->y);
		return;
	}
	if (d->kind != CAIRN_ENTITY_PLAYER) {
		jfail(j, "player %" PRIu32 " is not a player in the daemon", p->id);
		return;
	}
	if (same_player(d, p)) {
		return;
	}
	if (o && o->kind == OP_MOVE && d->x == o->x && d->y == o->y) {
		if (d->claims == p->claims && d->value == p->value) {
			return;
		}
		/* The move claimed a clue: the one the daemon says it claimed, unclaimed before. */
		for (int i = 0; i < v->n; i++) {
			const struct cairn_entity *c = &v->e[i];
			const struct ent *mc = ent_find(j, c->id);
			if (c->kind == CAIRN_ENTITY_CLUE && c->claimed_by == p->id && mc &&
			    mc->alive && !mc->claimed_by && d->claims == p->claims + 1 &&
			    d->value == p->value + mc->value) {
				return;
			}
		}
	}
	jfail(j,
	      "player %" PRIu32 " is at %d,%d with %u claims and score %" PRId64
	      "; acknowledged: %d,%d, %u claims, score %" PRId64 "%s",
	      p->id, d->x, d->y, d->claims, d->value, p->x, p->y, p->claims, p->value,
	      o ? (o->kind == OP_MOVE ? " (and a move was unanswered)"
				      : " (and a leave was unanswered)")
		: "");
}

/* A clue of the model: there (unless an unanswered remove took it), as placed and claimed. */
static void check_clue(struct journal *j, const struct hunt_view *v, struct ent *c)
{
	const struct cairn_entity *d = view_find(v, c->id);
	const struct op *o = c->pending >= 0 ? &j->open[c->pending] : NULL;
	if (!d) {
		if (!(o && o->kind == OP_REMOVE)) {
			jfail(j, "clue %" PRIu32 " (acknowledged at %d,%d) is gone", c->id, c->x,
			      c->y);
		}
		return;
	}
	if (d->kind != CAIRN_ENTITY_CLUE || d->x != c->x || d->y != c->y || d->value != c->value) {
		jfail(j,
		      "clue %" PRIu32 " is at %d,%d worth %" PRId64
		      ", placed at %d,%d worth %" PRId64,
		      c->id, d->x, d->y, d->value, c->x, c->y, c->value);
		return;
	}
	if (d->claimed_by == c->claimed_by) {
		return;
	}
	if (c->claimed_by == 0) {
		/* Claimed by an unanswered move that reached it? */
		const struct ent *p = ent_find(j, d->claimed_by);
		if (p && p->pending >= 0) {
			const struct op *m = &j->open[p->pending];
			if (m->kind == OP_MOVE &&
			    within(m->x, m->y, c->x, c->y, v->info.claim_radius_mm)) {
				return;
			}
		}
	}
	jfail(j, "clue %" PRIu32 " is claimed by %" PRIu32 ", acknowledged: by %" PRIu32, c->id,
	      d->claimed_by, c->claimed_by);
}

/* An entity the model does not hold: an unanswered join or place must account for it. */
static void check_extra(struct journal *j, const struct cairn_entity *d)
{
	bool player = d->kind == CAIRN_ENTITY_PLAYER;
	for (unsigned i = 0; i < j->nopen; i++) {
		struct op *o = &j->open[i];
		if (o->used || o->kind != (player ? OP_JOIN : OP_PLACE) || o->x != d->x ||
		    o->y != d->y) {
			continue;
		}
		if (player ? (d->claims == 0 && d->value == 0)
			   : (d->value == o->value && d->claimed_by == 0)) {
			o->used = true;
			return;
		}
	}
	jfail(j, "%s %" PRIu32 " at %d,%d is in the hunt, and no command of the host made it",
	      player ? "player" : "clue", d->id, d->x, d->y);
}

static void verify(cairn_client *c, struct journal *j)
{
	struct hunt_view v = {0};
	if (!read_view(c, j, &v)) {
		free(v.e);
		return;
	}
	uint32_t players = 0, clues = 0, claimed = 0;
	for (int i = 0; i < v.n; i++) {
		const struct cairn_entity *d = &v.e[i];
		if (d->hunt_id != j->hunt) {
			jfail(j, "entity %" PRIu32 " of hunt %" PRIu32 " read from hunt %" PRIu32,
			      d->id, d->hunt_id, j->hunt);
			continue;
		}
		if (d->kind == CAIRN_ENTITY_PLAYER) {
			players++;
		} else {
			clues++;
			claimed += d->claimed_by != 0;
		}
		const struct ent *m = ent_find(j, d->id);
		if (!m || !m->alive) {
			check_extra(j, d);
		}
	}
	for (uint32_t i = 0; i < j->ents_cap; i++) {
		struct ent *e = &j->ents[i];
		if (e->id && e->alive) {
			if (e->player) {
				check_player(j, &v, e);
			} else {
				check_clue(j, &v, e);
			}
		}
	}
	if (v.info.players != players || v.info.clues != clues || v.info.clues_claimed != claimed) {
		jfail(j,
		      "hunt %" PRIu32 " counts %u players, %u clues (%u claimed); its grid holds "
		      "%u, %u (%u)",
		      j->hunt, v.info.players, v.info.clues, v.info.clues_claimed, players, clues,
		      claimed);
	}
	free(v.e);
}

static void destroy(cairn_client *c, struct journal *j)
{
	int r = cairn_hunt_destroy(c, j->hunt, TIMEOUT_NS);
	if (r < 0) {
		jfail(j, "destroying hunt %" PRIu32 ": %s", j->hunt, cairn_strerror(r));
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			printf("\\%c", *s);
		} else if ((unsigned char)*s < 0x20) {
			printf("\\u%04x", *s);
		} else {
			putchar(*s);
		}
	}
	putchar('"');
}

static void report(const struct journal *j, bool destroyed)
{
	printf("{\"journal\": ");
	json_str(j->path);
	printf(", \"lang\": ");
	json_str(j->lang[0] ? j->lang : "?");
	printf(", \"pid\": %ld, \"hunt\": %" PRIu32 ", \"lines\": %" PRIu64
	       ", \"changes\": %" PRIu64 ", \"acked\": %" PRIu64 ", \"refused\": %" PRIu64
	       ", \"unanswered\": %u, \"claims\": %" PRIu64 ", \"queries\": %" PRIu64
	       ", \"malformed\": %" PRIu64 ", \"malformed_refused\": %" PRIu64
	       ", \"malformed_accepted\": %" PRIu64 ", \"orphan_hunt_possible\": %s, \"bye\": %s"
	       ", \"destroyed\": %s, \"ok\": %s, \"errors\": [",
	       j->pid, j->hunt, j->lines, j->changes, j->acked, j->refused, j->nopen, j->claims,
	       j->queries, j->malformed, j->malformed_refused, j->violations,
	       j->create_pending ? "true" : "false", j->bye ? "true" : "false",
	       destroyed ? "true" : "false", j->nerrors ? "false" : "true");
	unsigned shown = j->nerrors < MAX_ERRORS ? j->nerrors : MAX_ERRORS;
	for (unsigned i = 0; i < shown; i++) {
		printf(i ? ", " : "");
		json_str(j->errors[i]);
	}
	if (j->nerrors > shown) {
		printf(", \"... %u more\"", j->nerrors - shown);
	}
	printf("]}\n");
	fflush(stdout);
}

static int cmd_verify(cairn_client *c, int argc, char **argv)
{
	bool do_destroy = false;
	int failed = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--destroy") == 0) {
			do_destroy = true;
			continue;
		}
		struct journal *j = calloc(1, sizeof(*j));
		if (!j) {
			fprintf(stderr, "chaos-check: out of memory\n");
			return 3;
		}
		j->path = argv[i];
		bool destroyed = false;
		if (read_journal(j) && j->hunt) {
			verify(c, j);
			if (do_destroy && j->nerrors == 0) {
				destroy(c, j);
				destroyed = j->nerrors == 0;
			}
		}
		report(j, destroyed);
		failed |= j->nerrors != 0;
		free(j->ents);
		free(j);
	}
	return failed ? 1 : 0;
}

static int cmd_hash(cairn_client *c)
{
	struct cairn_state_hash_reply h;
	struct cairn_msg cmd, res;
	int r = cairn_state_hash(c, &h, TIMEOUT_NS);
	if (r < 0) {
		fprintf(stderr, "chaos-check: STATE_HASH: %s\n", cairn_strerror(r));
		return 3;
	}
	cairn_msg_init(&cmd, CAIRN_MSG_WAL_STATUS, 0);
	r = cairn_call(c, &cmd, &res, TIMEOUT_NS);
	if (r < 0) {
		fprintf(stderr, "chaos-check: WAL_STATUS: %s\n", cairn_strerror(r));
		return 3;
	}
	struct cairn_wal_status w;
	memcpy(&w, res.payload, sizeof(w));
	printf("{\"hash\": \"%016" PRIx64 "\", \"applied\": %" PRIu64 ", \"hunts\": %u, "
	       "\"entities\": %u, \"appended_lsn\": %" PRIu64 ", \"durable_lsn\": %" PRIu64 "}\n",
	       h.hash, h.applied, h.hunts, h.entities, w.appended_lsn, w.durable_lsn);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: chaos-check --socket PATH verify [--destroy] JOURNAL...\n"
			"       chaos-check --socket PATH hash\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[1], "--socket") != 0) {
		return usage();
	}
	const char *sock = argv[2];
	const char *what = argv[3];
	if (strcmp(what, "verify") != 0 && strcmp(what, "hash") != 0) {
		return usage();
	}
	struct cairn_open_options o = {.name = "chaos-check",
				       .reconnect_ms = CAIRN_RECONNECT_NEVER};
	cairn_client *c;
	int r = cairn_open(sock, &o, &c);
	if (r < 0) {
		fprintf(stderr, "chaos-check: attach to %s: %s\n", sock, cairn_strerror(r));
		return 3;
	}
	int rc = strcmp(what, "hash") == 0 ? cmd_hash(c) : cmd_verify(c, argc - 4, argv + 4);
	cairn_close(c);
	return rc;
}
