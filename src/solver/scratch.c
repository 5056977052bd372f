/*
 * The working memory of one thread's searches, and its open list.
 *
 * A search touches a small part of a big map, so nothing is cleared between searches:
 * each search takes a new generation number, and a node's state counts only when its
 * stamp is of the current generation. The arrays are cleared only when the generation
 * counter would wrap, once in two billion searches.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "solver/internal.h"

int cairn__scratch_new(struct cairn__scratch **out)
{
	if (!out) {
		return -EINVAL;
	}
	struct cairn__scratch *s = calloc(1, sizeof(*s));
	if (!s) {
		*out = NULL;
		return -ENOMEM;
	}
	/* Stamps start at 0, below every generation, so a fresh node is "not reached". */
	s->gen = 2;
	*out = s;
	return 0;
}

void cairn__scratch_free(struct cairn__scratch *s)
{
	if (!s) {
		return;
	}
	free(s->state);
	free(s->heap);
	free(s->trail);
	free(s);
}

int cairn__scratch_begin(struct cairn__scratch *s, const struct cairn__graph *g)
{
	if (s->cap < g->nodes) {
		struct cairn__node_state *st = realloc(s->state, g->nodes * sizeof(*st));
		if (!st) {
			return -ENOMEM;
		}
		memset(st + s->cap, 0, (size_t)(g->nodes - s->cap) * sizeof(*st));
		s->state = st;
		uint32_t *trail = realloc(s->trail, g->nodes * sizeof(*trail));
		if (!trail) {
			return -ENOMEM;
		}
		s->trail = trail;
		s->trail_cap = g->nodes;
		s->cap = g->nodes;
	}
	/*
	 * Two stamps per generation (open, closed). Near the wrap every stamp goes back to 0
	 * so that no old stamp can equal a new generation.
	 */
	if (s->gen >= UINT32_MAX - 4) {
		memset(s->state, 0, (size_t)s->cap * sizeof(*s->state));
		s->gen = 2;
	} else {
		s->gen += 2;
	}
	s->heap_len = 0;
	return 0;
}

/* Whether a comes out of the heap before b: lower f, then higher g. */
static inline bool before(const struct cairn__heap_entry *a, const struct cairn__heap_entry *b)
{
	return a->f < b->f || (a->f == b->f && a->g > b->g);
}

int cairn__heap_push(struct cairn__scratch *s, double f, double g, uint32_t node)
{
	if (s->heap_len == s->heap_cap) {
		size_t cap = s->heap_cap ? s->heap_cap * 2 : 1024;
		struct cairn__heap_entry *h = realloc(s->heap, cap * sizeof(*h));
		if (!h) {
			return -ENOMEM;
		}
		s->heap = h;
		s->heap_cap = cap;
	}
	struct cairn__heap_entry e = {.f = f, .g = g, .node = node};
	struct cairn__heap_entry *h = s->heap;
	size_t i = s->heap_len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(&e, &h[parent])) {
			break;
		}
		h[i] = h[parent];
		i = parent;
	}
	h[i] = e;
	return 0;
}

struct cairn__heap_entry cairn__heap_pop(struct cairn__scratch *s)
{
	struct cairn__heap_entry *h = s->heap;
	struct cairn__heap_entry top = h[0];
	struct cairn__heap_entry last = h[--s->heap_len];
	size_t n = s->heap_len, i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n) {
			break;
		}
		if (c + 1 < n && before(&h[c + 1], &h[c])) {
			c++;
		}
		if (!before(&h[c], &last)) {
			break;
		}
		h[i] = h[c];
		i = c;
	}
	if (n > 0) {
		h[i] = last;
	}
	return top;
}

int cairn__search_trail(struct cairn__scratch *s, uint32_t closed, uint32_t from, uint32_t to,
			struct cairn__search_result *res)
{
	const struct cairn__node_state *st = s->state;
	if (st[to].stamp != closed) {
		assert(!"the search did not reach a goal of the start's component");
		return -EIO;
	}
	uint32_t len = 0;
	for (uint32_t v = to;; v = st[v].parent) {
		s->trail[len++] = v;
		if (v == from) {
			break;
		}
	}
	res->len = len;
	res->cost = (struct cairn__cost){st[to].straight, st[to].diagonal};
	return 0;
}
