/*
 * The graph of a map: built once, read by any number of searching threads without
 * locks.
 *
 * Three views of the same cells, each for the search that wants it: per node the legal
 * steps as a byte (A* and the table's Dijkstra loop over its bits), the connected
 * components (an unreachable goal is answered without a search, which would otherwise
 * visit the whole of the start's component to find nothing), and the passable cells as
 * bitmaps by row and by column (the jumps of JPS test 64 cells per word).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "solver/internal.h"

/* Whether the step from (x, y) in direction d is legal: no corner cutting. */
static bool step_legal(const struct cairn__map *m, int64_t x, int64_t y, unsigned d)
{
	int64_t dx = cairn__dir_dx[d], dy = cairn__dir_dy[d];
	if (!cairn__map_passable(m, x + dx, y + dy)) {
		return false;
	}
	/* A diagonal step needs both cells beside it: it may not squeeze past a corner. */
	return (d & 1) == 0 ||
	       (cairn__map_passable(m, x + dx, y) && cairn__map_passable(m, x, y + dy));
}

/*
 * Labels the components by breadth-first search over the legal steps, reusing `queue`
 * (nodes entries). Steps are symmetric (a legal step's reverse is legal), so a search
 * from any node finds exactly its component.
 */
static void label_components(struct cairn__graph *g, uint32_t *queue)
{
	for (uint32_t i = 0; i < g->nodes; i++) {
		g->comp[i] = UINT32_MAX;
	}
	uint32_t next_comp = 0;
	for (uint32_t root = 0; root < g->nodes; root++) {
		if (g->comp[root] != UINT32_MAX) {
			continue;
		}
		uint32_t head = 0, tail = 0;
		g->comp[root] = next_comp;
		queue[tail++] = root;
		while (head < tail) {
			uint32_t u = queue[head++];
			uint32_t cell = g->cell_of[u];
			for (unsigned m = g->dirs[u]; m; m &= m - 1) {
				unsigned d = (unsigned)__builtin_ctz(m);
				uint32_t v = (uint32_t)g->node_of[(int64_t)cell + g->step[d]];
				if (g->comp[v] == UINT32_MAX) {
					g->comp[v] = next_comp;
					queue[tail++] = v;
				}
			}
		}
		next_comp++;
	}
}

int cairn__graph_build(const struct cairn__map *m, struct cairn__graph **out)
{
	if (!m || !out) {
		return -EINVAL;
	}
	*out = NULL;
	struct cairn__graph *g = calloc(1, sizeof(*g));
	if (!g) {
		return -ENOMEM;
	}
	g->map = m;
	g->width = m->width;
	g->height = m->height;
	size_t cells = (size_t)m->width * m->height;
	uint32_t n = 0;
	for (size_t i = 0; i < cells; i++) {
		n += m->cells[i] != 0;
	}
	g->nodes = n;
	g->row_words = 2 + (m->width + 63) / 64;
	g->col_words = 2 + (m->height + 63) / 64;
	size_t row_bytes = (size_t)(m->height + 2) * g->row_words * sizeof(uint64_t);
	size_t col_bytes = (size_t)(m->width + 2) * g->col_words * sizeof(uint64_t);

	g->node_of = malloc((cells ? cells : 1) * sizeof(*g->node_of));
	g->cell_of = malloc((n ? n : 1) * sizeof(*g->cell_of));
	g->dirs = malloc(n ? n : 1);
	g->comp = malloc((n ? n : 1) * sizeof(*g->comp));
	g->rows = calloc(1, row_bytes);
	g->cols = calloc(1, col_bytes);
	uint32_t *queue = malloc((n ? n : 1) * sizeof(*queue));
	if (!g->node_of || !g->cell_of || !g->dirs || !g->comp || !g->rows || !g->cols || !queue) {
		free(queue);
		cairn__graph_free(g);
		return -ENOMEM;
	}
	g->bytes = sizeof(*g) + cells * sizeof(*g->node_of) +
		   (size_t)n * (sizeof(*g->cell_of) + 1 + sizeof(*g->comp)) + row_bytes + col_bytes;

	for (unsigned d = 0; d < 8; d++) {
		g->step[d] = cairn__dir_dy[d] * (int32_t)m->width + cairn__dir_dx[d];
	}
	uint32_t node = 0;
	for (uint32_t y = 0; y < m->height; y++) {
		for (uint32_t x = 0; x < m->width; x++) {
			size_t i = (size_t)y * m->width + x;
			if (!m->cells[i]) {
				g->node_of[i] = -1;
				continue;
			}
			g->node_of[i] = (int32_t)node;
			g->cell_of[node] = (uint32_t)i;
			uint8_t bits = 0;
			for (unsigned d = 0; d < 8; d++) {
				bits |= (uint8_t)(step_legal(m, x, y, d) << d);
			}
			g->dirs[node] = bits;
			node++;
			uint64_t rb = (uint64_t)x + CAIRN__BITMAP_PAD;
			uint64_t cb = (uint64_t)y + CAIRN__BITMAP_PAD;
			g->rows[(size_t)(y + 1) * g->row_words + (rb >> 6)] |= UINT64_C(1)
									       << (rb & 63);
			g->cols[(size_t)(x + 1) * g->col_words + (cb >> 6)] |= UINT64_C(1)
									       << (cb & 63);
		}
	}
	label_components(g, queue);
	free(queue);
	*out = g;
	return 0;
}

void cairn__graph_free(struct cairn__graph *g)
{
	if (!g) {
		return;
	}
	free(g->node_of);
	free(g->cell_of);
	free(g->dirs);
	free(g->comp);
	free(g->rows);
	free(g->cols);
	free(g);
}

const struct cairn__map *cairn__graph_map(const struct cairn__graph *g)
{
	return g->map;
}

uint32_t cairn__graph_nodes(const struct cairn__graph *g)
{
	return g->nodes;
}

size_t cairn__graph_bytes(const struct cairn__graph *g)
{
	return g->bytes;
}
