/*
 * The probe: round trips of single MOVEs, timed.
 *
 * Batches say how much the daemon can take; they say little about how long one command
 * waits. So a thread of its own moves a few sentries with cairn_call on a lane of its
 * own, one call a millisecond, and times each call with the host's clock: push, the
 * daemon's turn, the result, the pop. The calls come at moments unrelated to the
 * batches, as a game server's request handler would make them, so some land while the
 * apply thread is busy with a batch of the sim lane (up to 32 moves) and wait for it:
 * that is the tail of the figures.
 *
 * A sentry paces a row of its own cell, in steps within the speed limit as sim.c
 * computes them (horizontal and whole millimetres, so without rounding). No clue is
 * ever placed in a sentry's cell, so its moves claim nothing and this thread needs no
 * game state from the simulation thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "sim.h"

static void probe_fail(struct sim *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void probe_fail(struct sim *s, int code, const char *fmt, ...)
{
	if (s->probe_code == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->probe_msg, sizeof(s->probe_msg), fmt, ap);
		va_end(ap);
		s->probe_code = code < 0 ? code : -code;
	}
	atomic_store(&s->stop, true);
}

/* Where sentry t steps at time now, into *nx. False when it should wait. */
static bool sentry_step(const struct sim *s, const struct sentry *t, uint64_t now, int32_t *nx)
{
	double budget;
	if (s->cfg.speed_mm_s) {
		uint64_t dt = now > t->t_ack ? now - t->t_ack : 0;
		budget = SAFETY * (double)s->cfg.speed_mm_s * (double)dt * 1e-9;
		if (budget < MIN_STEP_MM) {
			return false;
		}
	} else {
		budget = (t->x1 - t->x0) / 4.0;
	}
	int32_t goal = t->dir > 0 ? t->x1 : t->x0;
	int32_t left = goal > t->x ? goal - t->x : t->x - goal;
	if (left <= budget) {
		*nx = goal;
	} else {
		*nx = t->x + t->dir * (int32_t)budget;
	}
	return *nx != t->x;
}

static void on_refused(struct sim *s, struct sentry *t, int code)
{
	struct demo_stats *st = s->stats;
	note_error(st, -code);
	switch (code) {
	case CAIRN_E_TOO_FAST:
		count(&st->rejected[REJ_TOO_FAST], 1);
		break;
	case CAIRN_E_BLOCKED:
	case CAIRN_E_OFF_MAP:
		/* The daemon's map differs from ours: the sentry has nowhere else to go. */
		count(&st->rejected[code == CAIRN_E_BLOCKED ? REJ_BLOCKED : REJ_OFF_MAP], 1);
		t->dead = true;
		break;
	case CAIRN_E_UNKNOWN_HUNT:
	case CAIRN_E_UNKNOWN_PLAYER:
	case CAIRN_E_WRONG_HUNT:
		count(&st->rejected[REJ_OTHER], 1);
		t->dead = true;
		break;
	case CAIRN_E_SHUTTING_DOWN:
		probe_fail(s, -code, "cairnd is shutting down");
		break;
	default:
		count(&st->rejected[REJ_OTHER], 1);
		break;
	}
}

/* Moves sentry number i (also its hunt's index) to (nx, t->y) with one timed call. */
static void probe_move(struct sim *s, unsigned i, int32_t nx)
{
	struct sentry *t = &s->sentries[i];
	struct demo_stats *st = s->stats;
	struct cairn_msg m, res;
	cairn_msg_move(&m, t->hunt_id, t->player_id, nx, t->y);
	memset(&res, 0, sizeof(res));
	uint64_t t0 = cairn__now_ns();
	int r = cairn_call(s->probe, &m, &res, CALL_TIMEOUT_NS);
	uint64_t t1 = cairn__now_ns();
	if (r != 0 && !(res.hdr.type == CAIRN_MSG_ERROR && res.hdr.status == -r)) {
		if (r == -ETIMEDOUT) {
			/* The move may still land later: this sentry's position is unknown now. */
			t->dead = true;
			count(&st->errors, 1);
			note_error(st, r);
			return;
		}
		probe_fail(s, r, "a single MOVE failed: %s", cairn_strerror(r));
		return;
	}
	/* Answered, one way or the other: a round trip. */
	pthread_mutex_lock(&st->lock);
	hist_add(&st->rtt, t1 - t0);
	pthread_mutex_unlock(&st->lock);
	if (r != 0) {
		on_refused(s, t, res.hdr.status);
		return;
	}
	struct cairn_moved mv;
	memcpy(&mv, res.payload, sizeof(mv));
	if (res.hdr.type != CAIRN_MSG_MOVED || res.hdr.length < CAIRN_MSG_MOVED_LEN_MIN ||
	    mv.player_id != t->player_id || mv.x != nx || mv.y != t->y) {
		probe_fail(s, -CAIRN_E_BAD_REPLY,
			   "a single MOVE got a result that does not match it");
		return;
	}
	t->x = nx;
	t->t_ack = t1;
	if (nx == (t->dir > 0 ? t->x1 : t->x0)) {
		t->dir = -t->dir;
	}
	count(&st->moves, 1);
	/* Never, as no clue is placed in a sentry's cell; counted all the same if it were. */
	if (mv.outcome == CAIRN_CLAIM_WON) {
		count(&st->claims, 1);
		count(&st->hunt_claims[i], 1);
	} else if (mv.outcome == CAIRN_CLAIM_LOST) {
		count(&st->lost, 1);
	}
}

void *sim_probe_run(void *arg)
{
	struct sim *s = arg;
	unsigned next = 0;
	while (!atomic_load_explicit(&s->stop, memory_order_relaxed) && s->nsentries) {
		struct timespec ts = cairn__ns_to_timespec(PROBE_EVERY_NS);
		nanosleep(&ts, NULL);
		/* The next sentry that can take a step; it waits if none can yet. */
		for (unsigned k = 0; k < s->nsentries; k++) {
			unsigned i = next;
			next = next + 1 == s->nsentries ? 0 : next + 1;
			int32_t nx;
			if (!s->sentries[i].dead &&
			    sentry_step(s, &s->sentries[i], cairn__now_ns(), &nx)) {
				probe_move(s, i, nx);
				break;
			}
		}
	}
	return NULL;
}
