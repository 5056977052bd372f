/*
 * First-move tables: a compressed all-pairs path database, after SRC (Strasser, Botea,
 * Harabor: "Compressing Optimal Paths with Run Length Encoding", JAIR 2015).
 *
 * For each source s a Dijkstra search from s gives, for every target t, the set of
 * first moves that begin an optimal path from s to t (a set: ties are common on grids,
 * and any of them is right). The targets are put in one order for all sources, a
 * depth-first preorder of the graph, in which neighbouring targets tend to share a first
 * move; a source's row is then the list of runs of targets that share one, each run one
 * uint32: (position of its first target << 3) | move. Because a target accepts any move
 * of its set, a run extends as long as the intersection of the sets stays non-empty,
 * which greedily gives the fewest runs for the order. Targets that need no move (s
 * itself, and those in other components) accept every move.
 *
 * A lookup is a binary search of the source's row for the run holding the target's
 * position. A path follows lookups: each move leads to a cell strictly nearer the
 * target, so it arrives in as many lookups as the path has steps.
 *
 * The searches use integer costs, a straight step 2^32 and a diagonal step round(2^32
 * sqrt 2), so that equal costs compare equal and ties are found exactly. The rounding
 * error, under 0.05 per diagonal step, cannot reorder two paths of different true costs
 * unless they differ by more than about 10^5 diagonal steps, far beyond the maps a table
 * is built for.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "solver/internal.h"

#define COST_STRAIGHT (UINT64_C(1) << 32)
#define COST_DIAGONAL UINT64_C(6074001000)
#define NO_NODE       UINT32_MAX
#define ANY_MOVE      0xffu
#define MAX_THREADS   256u

/* Where a source's runs are until they are gathered: in one worker's buffer. */
struct row_ref {
	uint64_t offset;
	uint32_t count;
	uint32_t worker;
};

struct dij_entry {
	uint64_t key;
	uint32_t node;
};

struct worker {
	struct build *b;
	unsigned id;
	pthread_t thread;
	bool started;
	uint64_t *dist;
	uint8_t *moves;
	struct dij_entry *heap;
	size_t heap_len, heap_cap;
	uint32_t *runs;
	size_t runs_len, runs_cap;
	int err;
};

struct build {
	const struct cairn__graph *g;
	uint32_t n;
	uint32_t *nbr;    /* n * 8: the neighbour in each direction, NO_NODE when illegal */
	uint32_t *order;  /* node -> position */
	uint32_t *by_pos; /* position -> node */
	struct row_ref *rows;
	atomic_uint next; /* the next source to take */
	atomic_uint done; /* sources finished */
	atomic_int stop;  /* a worker failed: the others stop too */
	const atomic_int *cancel;
	void (*progress)(void *arg, uint32_t done, uint32_t total);
	void *arg;
	struct worker *workers;
};

static int heap_push(struct worker *w, uint64_t key, uint32_t node)
{
	if (w->heap_len == w->heap_cap) {
		size_t cap = w->heap_cap ? w->heap_cap * 2 : 1024;
		struct dij_entry *h = realloc(w->heap, cap * sizeof(*h));
		if (!h) {
			return -ENOMEM;
		}
		w->heap = h;
		w->heap_cap = cap;
	}
	struct dij_entry *h = w->heap;
	size_t i = w->heap_len++;
	while (i > 0 && h[(i - 1) / 2].key > key) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = (struct dij_entry){key, node};
	return 0;
}

static struct dij_entry heap_pop(struct worker *w)
{
	struct dij_entry *h = w->heap;
	struct dij_entry top = h[0], last = h[--w->heap_len];
	size_t n = w->heap_len, i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n) {
			break;
		}
		if (c + 1 < n && h[c + 1].key < h[c].key) {
			c++;
		}
		if (h[c].key >= last.key) {
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

/*
 * Dijkstra from src: afterwards w->moves[t] is the set of optimal first moves toward
 * every t reached (bit d: direction d), and w->dist[t] is UINT64_MAX for t not reached.
 *
 * A node's set is complete when it leaves the heap: every node on an optimal path to it
 * is strictly nearer the source, so it left the heap earlier and added its set then.
 */
static int dijkstra(struct worker *w, uint32_t src)
{
	const struct build *b = w->b;
	uint64_t *dist = w->dist;
	uint8_t *moves = w->moves;
	for (uint32_t i = 0; i < b->n; i++) {
		dist[i] = UINT64_MAX;
	}
	dist[src] = 0;
	moves[src] = 0;
	w->heap_len = 0;
	int r = heap_push(w, 0, src);
	while (r == 0 && w->heap_len > 0) {
		struct dij_entry e = heap_pop(w);
		uint32_t u = e.node;
		if (e.key != dist[u]) {
			continue; /* a copy from before dist[u] improved */
		}
		const uint32_t *nb = b->nbr + (size_t)u * 8;
		for (unsigned d = 0; d < 8; d++) {
			uint32_t v = nb[d];
			if (v == NO_NODE) {
				continue;
			}
			uint64_t nd = e.key + (d & 1 ? COST_DIAGONAL : COST_STRAIGHT);
			uint8_t m = u == src ? (uint8_t)(1u << d) : moves[u];
			if (nd < dist[v]) {
				dist[v] = nd;
				moves[v] = m;
				r = heap_push(w, nd, v);
				if (r < 0) {
					break;
				}
			} else if (nd == dist[v]) {
				moves[v] |= m;
			}
		}
	}
	return r;
}

static int runs_push(struct worker *w, uint32_t run)
{
	if (w->runs_len == w->runs_cap) {
		size_t cap = w->runs_cap ? w->runs_cap * 2 : 4096;
		uint32_t *p = realloc(w->runs, cap * sizeof(*p));
		if (!p) {
			return -ENOMEM;
		}
		w->runs = p;
		w->runs_cap = cap;
	}
	w->runs[w->runs_len++] = run;
	return 0;
}

/* Encodes src's row, from w->moves and w->dist, into w->runs. */
static int encode_row(struct worker *w, uint32_t src)
{
	const struct build *b = w->b;
	struct row_ref *ref = &b->rows[src];
	ref->offset = w->runs_len;
	ref->worker = w->id;
	unsigned run_moves = ANY_MOVE;
	uint32_t run_start = 0;
	for (uint32_t pos = 0; pos < b->n; pos++) {
		uint32_t t = b->by_pos[pos];
		unsigned m = t == src || w->dist[t] == UINT64_MAX ? ANY_MOVE : w->moves[t];
		if (run_moves & m) {
			run_moves &= m;
			continue;
		}
		int r = runs_push(w, (run_start << CAIRN__FM_MOVE_BITS) |
					     (unsigned)__builtin_ctz(run_moves));
		if (r < 0) {
			return r;
		}
		run_start = pos;
		run_moves = m;
	}
	int r = runs_push(w,
			  (run_start << CAIRN__FM_MOVE_BITS) | (unsigned)__builtin_ctz(run_moves));
	ref->count = (uint32_t)(w->runs_len - ref->offset);
	return r;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct build *b = w->b;
	uint32_t report_every = b->n / 100 ? b->n / 100 : 1, next_report = 0;
	for (;;) {
		/*
		 * Relaxed is enough for the flags: they only make the workers stop sooner, and
		 * the results are published to the caller by pthread_join.
		 */
		if (atomic_load_explicit(&b->stop, memory_order_relaxed) ||
		    (b->cancel && atomic_load_explicit(b->cancel, memory_order_relaxed))) {
			break;
		}
		uint32_t src = atomic_fetch_add_explicit(&b->next, 1, memory_order_relaxed);
		if (src >= b->n) {
			break;
		}
		int r = dijkstra(w, src);
		if (r == 0) {
			r = encode_row(w, src);
		}
		if (r < 0) {
			w->err = r;
			atomic_store_explicit(&b->stop, 1, memory_order_relaxed);
			break;
		}
		uint32_t done = atomic_fetch_add_explicit(&b->done, 1, memory_order_relaxed) + 1;
		if (w->id == 0 && b->progress && done >= next_report) {
			b->progress(b->arg, done, b->n);
			next_report = done + report_every;
		}
	}
	return NULL;
}

/* The neighbour table: the searches read it n times each, so it pays to build it once. */
static uint32_t *neighbours(const struct cairn__graph *g)
{
	uint32_t *nbr = malloc(((size_t)g->nodes + 1) * 8 * sizeof(*nbr));
	if (!nbr) {
		return NULL;
	}
	for (uint32_t u = 0; u < g->nodes; u++) {
		for (unsigned d = 0; d < 8; d++) {
			nbr[(size_t)u * 8 + d] =
				(g->dirs[u] >> d) & 1
					? (uint32_t)g->node_of[(int64_t)g->cell_of[u] + g->step[d]]
					: NO_NODE;
		}
	}
	return nbr;
}

/*
 * The order of the targets: a depth-first preorder, one component after the other, so
 * that targets near each other in the order are near each other on the map. Uses
 * by_pos as the output and `stack` (n entries of node and next direction) as scratch.
 */
static void dfs_order(struct build *b, uint32_t *stack)
{
	uint32_t n = b->n, pos = 0;
	for (uint32_t i = 0; i < n; i++) {
		b->order[i] = NO_NODE;
	}
	for (uint32_t root = 0; root < n; root++) {
		if (b->order[root] != NO_NODE) {
			continue;
		}
		size_t top = 0;
		b->order[root] = pos;
		b->by_pos[pos++] = root;
		stack[top++] = root;
		while (top > 0) {
			uint32_t u = stack[top - 1];
			uint32_t next = NO_NODE;
			for (unsigned d = 0; d < 8; d++) {
				uint32_t v = b->nbr[(size_t)u * 8 + d];
				if (v != NO_NODE && b->order[v] == NO_NODE) {
					next = v;
					break;
				}
			}
			if (next == NO_NODE) {
				top--;
				continue;
			}
			b->order[next] = pos;
			b->by_pos[pos++] = next;
			stack[top++] = next;
		}
	}
}

static void free_workers(struct build *b, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		struct worker *w = &b->workers[i];
		free(w->dist);
		free(w->moves);
		free(w->heap);
		free(w->runs);
	}
	free(b->workers);
}

int cairn__fm_build(const struct cairn__graph *g, unsigned threads, const atomic_int *cancel,
		    void (*progress)(void *arg, uint32_t done, uint32_t total), void *arg,
		    struct cairn__fm_table **out)
{
	if (out) {
		*out = NULL;
	}
	if (!g || !out || threads == 0) {
		return -EINVAL;
	}
	if (g->nodes >= CAIRN__FM_MAX_NODES) {
		return -E2BIG;
	}
	if (threads > MAX_THREADS) {
		threads = MAX_THREADS;
	}
	if (threads > g->nodes) {
		threads = g->nodes ? g->nodes : 1;
	}
	uint32_t n = g->nodes;
	size_t n1 = n ? n : 1;
	struct build b = {.g = g, .n = n, .cancel = cancel, .progress = progress, .arg = arg};
	struct cairn__fm_table *t = calloc(1, sizeof(*t));
	b.nbr = neighbours(g);
	b.order = malloc(n1 * sizeof(*b.order));
	b.by_pos = malloc(n1 * sizeof(*b.by_pos));
	b.rows = calloc(n1, sizeof(*b.rows));
	uint32_t *stack = malloc(n1 * sizeof(*stack));
	b.workers = calloc(threads, sizeof(*b.workers));
	int r = 0;
	if (!t || !b.nbr || !b.order || !b.by_pos || !b.rows || !stack || !b.workers) {
		free(stack);
		r = -ENOMEM;
		goto out;
	}
	dfs_order(&b, stack);
	free(stack);
	for (unsigned i = 0; i < threads; i++) {
		struct worker *w = &b.workers[i];
		w->b = &b;
		w->id = i;
		w->dist = malloc(n1 * sizeof(*w->dist));
		w->moves = malloc(n1);
		if (!w->dist || !w->moves) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (progress) {
		progress(arg, 0, n);
	}
	/*
	 * The caller's thread is worker 0. A thread that cannot be started leaves its share
	 * to the others, which take sources as they go: the table is the same, only later.
	 */
	for (unsigned i = 1; i < threads; i++) {
		b.workers[i].started =
			pthread_create(&b.workers[i].thread, NULL, work, &b.workers[i]) == 0;
	}
	work(&b.workers[0]);
	for (unsigned i = 1; i < threads; i++) {
		if (b.workers[i].started) {
			pthread_join(b.workers[i].thread, NULL);
		}
	}
	for (unsigned i = 0; i < threads; i++) {
		if (b.workers[i].err < 0) {
			r = b.workers[i].err;
			goto out;
		}
	}
	if (atomic_load_explicit(&b.done, memory_order_relaxed) < n) {
		/* Only a cancel stops the workers without an error. */
		r = -ECANCELED;
		goto out;
	}

	/* Gather the rows, in source order, into one array. */
	t->graph = g;
	t->nodes = n;
	t->row_off = malloc((n1 + 1) * sizeof(*t->row_off));
	if (!t->row_off) {
		r = -ENOMEM;
		goto out;
	}
	t->row_off[0] = 0;
	for (uint32_t s = 0; s < n; s++) {
		t->row_off[s + 1] = t->row_off[s] + b.rows[s].count;
	}
	uint64_t total = t->row_off[n];
	t->runs = malloc((total ? total : 1) * sizeof(*t->runs));
	if (!t->runs) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t s = 0; s < n; s++) {
		const struct row_ref *ref = &b.rows[s];
		memcpy(t->runs + t->row_off[s], b.workers[ref->worker].runs + ref->offset,
		       ref->count * sizeof(*t->runs));
	}
	t->order = b.order;
	b.order = NULL;
	t->bytes = sizeof(*t) + n1 * sizeof(*t->order) + (n1 + 1) * sizeof(*t->row_off) +
		   (total ? total : 1) * sizeof(*t->runs);
	if (progress) {
		progress(arg, n, n);
	}
out:
	if (b.workers) {
		free_workers(&b, threads);
	}
	free(b.nbr);
	free(b.order);
	free(b.by_pos);
	free(b.rows);
	if (r < 0) {
		cairn__fm_free(t);
		return r;
	}
	*out = t;
	return 0;
}

void cairn__fm_free(struct cairn__fm_table *t)
{
	if (!t) {
		return;
	}
	free(t->order);
	free(t->row_off);
	free(t->runs);
	free(t);
}

size_t cairn__fm_bytes(const struct cairn__fm_table *t)
{
	return t->bytes;
}

const struct cairn__graph *cairn__fm_graph(const struct cairn__fm_table *t)
{
	return t->graph;
}
