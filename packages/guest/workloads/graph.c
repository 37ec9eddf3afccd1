/*
 * graph: single-source shortest paths (Dijkstra with a binary heap) from
 * several sources over a large random sparse graph in CSR form, in the
 * spirit of 473.astar's path finding and 429.mcf's pointer chasing.
 * Write pattern: the graph is built once; then random reads along edges
 * and scattered writes to the dist, heap and heap-position arrays.
 */
#include "workload.h"

#define NODES_PER_SIZE 1024
#define MAX_SIZE (1ULL << 21)  /* node ids are uint32 */
#define MAX_DEGREE 64
#define SOURCES 4
#define EDGES_PER_UNIT (1u << 19)
#define SETTLED_PER_UNIT 2048
#define SAMPLES 4096           /* edges checked against each result */
#define INF UINT64_MAX

typedef struct edge {
    uint32_t dst, w;
} edge;

typedef struct graph {
    uint64_t n, m;
    uint64_t *off; /* CSR: edges of v are e[off[v] .. off[v+1]) */
    edge *e;
    uint64_t *dist;
    /* 1-based binary min-heap; keys are copied in so that sifting reads
     * adjacent entries rather than chasing into dist. */
    uint64_t *hkey;
    uint32_t *hnode;
    uint32_t *pos; /* heap index of each node while it is in the heap */
} graph;

static uint64_t nodes(const wl_params *p)
{
    return (p->size < MAX_SIZE ? p->size : MAX_SIZE) * NODES_PER_SIZE;
}

static uint64_t degree(const wl_params *p)
{
    return p->param < MAX_DEGREE ? p->param : MAX_DEGREE;
}

static uint64_t div_up(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

static uint64_t graph_arena_bytes(const wl_params *p)
{
    uint64_t n = nodes(p);
    return (n + 1) * sizeof(uint64_t) + n * degree(p) * sizeof(edge) + n * sizeof(uint64_t) +
           (n + 1) * (sizeof(uint64_t) + sizeof(uint32_t)) + n * sizeof(uint32_t);
}

/* Nodes generated per progress unit: about EDGES_PER_UNIT edges. */
static uint64_t gen_chunk(const wl_params *p)
{
    return EDGES_PER_UNIT / degree(p);
}

/* Generation, then per source one unit per SETTLED_PER_UNIT nodes (the
 * unreachable rest is reported when the source is done). */
static uint64_t graph_units(const wl_params *p)
{
    uint64_t n = nodes(p);
    return div_up(n, gen_chunk(p)) + SOURCES * div_up(n, SETTLED_PER_UNIT);
}

/* Out-degrees d+x and d-x for each pair of nodes keep the edge count at
 * exactly n*d while degrees vary, and let the CSR arrays be written
 * sequentially in one pass. Targets and weights are uniform. */
static void build(graph *g, uint64_t d, uint64_t chunk, uint64_t *rng)
{
    uint64_t x = 0, k = 0;
    for (uint64_t c = 0; c < g->n; c += chunk) {
        for (uint64_t v = c; v < g->n && v < c + chunk; v++) {
            if (v % 2 == 0)
                x = wl_splitmix64(rng) % d;
            uint64_t deg = v % 2 == 0 ? d + x : d - x;
            g->off[v] = k;
            for (uint64_t end = k + deg; k < end; k++) {
                uint64_t r = wl_splitmix64(rng);
                g->e[k].dst = (uint32_t)((r >> 32) % g->n);
                g->e[k].w = 1 + (uint32_t)(r & 0x3ff);
            }
        }
        wl_progress(1);
    }
    g->off[g->n] = k;
}

static void heap_put(graph *g, uint64_t i, uint64_t key, uint32_t v)
{
    g->hkey[i] = key;
    g->hnode[i] = v;
    g->pos[v] = (uint32_t)i;
}

static void sift_up(graph *g, uint64_t i, uint64_t key, uint32_t v)
{
    for (; i > 1 && g->hkey[i / 2] > key; i /= 2)
        heap_put(g, i, g->hkey[i / 2], g->hnode[i / 2]);
    heap_put(g, i, key, v);
}

static void sift_down(graph *g, uint64_t i, uint64_t len, uint64_t key, uint32_t v)
{
    for (uint64_t c; (c = 2 * i) <= len; i = c) {
        if (c < len && g->hkey[c + 1] < g->hkey[c])
            c++;
        if (g->hkey[c] >= key)
            break;
        heap_put(g, i, g->hkey[c], g->hnode[c]);
    }
    heap_put(g, i, key, v);
}

static void dijkstra(graph *g, uint32_t src)
{
    uint64_t len = 0, settled = 0, reported = 0;
    for (uint64_t v = 0; v < g->n; v++)
        g->dist[v] = INF;
    g->dist[src] = 0;
    heap_put(g, ++len, 0, src);
    while (len > 0) {
        uint32_t u = g->hnode[1];
        if (--len > 0)
            sift_down(g, 1, len, g->hkey[len + 1], g->hnode[len + 1]);
        for (uint64_t i = g->off[u]; i < g->off[u + 1]; i++) {
            uint32_t v = g->e[i].dst;
            uint64_t d = g->dist[u] + g->e[i].w;
            if (d >= g->dist[v])
                continue;
            /* Settled nodes never improve (weights are positive), so a node
             * out of the heap here is one seen for the first time. */
            uint64_t at = g->dist[v] == INF ? ++len : g->pos[v];
            g->dist[v] = d;
            sift_up(g, at, d, v);
        }
        if (++settled % SETTLED_PER_UNIT == 0) {
            wl_progress(1);
            reported++;
        }
    }
    if (reported < div_up(g->n, SETTLED_PER_UNIT))
        wl_progress(div_up(g->n, SETTLED_PER_UNIT) - reported);
}

/* The graph never changes once built: any change to it is a corruption.
 * A plain sum of its words changes with every single bit flip, and costs
 * one sequential read of the arrays. */
static uint64_t csr_sum(const graph *g)
{
    uint64_t sum = 0;
    for (uint64_t v = 0; v <= g->n; v++)
        sum += g->off[v];
    const uint64_t *e = (const uint64_t *)g->e;
    for (uint64_t i = 0; i < g->m; i++)
        sum += e[i];
    return sum;
}

/* The triangle inequality holds on every edge out of a reached node. */
static int check(const graph *g, uint64_t *rng)
{
    for (uint64_t s = 0; s < SAMPLES; s++) {
        uint64_t u = wl_splitmix64(rng) % g->n;
        if (g->dist[u] == INF)
            continue;
        for (uint64_t i = g->off[u]; i < g->off[u + 1]; i++)
            if (g->dist[g->e[i].dst] > g->dist[u] + g->e[i].w)
                return 0;
    }
    return 1;
}

static int graph_run(const wl_params *p, wl_arena *arena, uint64_t *checksum)
{
    graph g;
    g.n = nodes(p);
    g.m = g.n * degree(p);
    g.off = (uint64_t *)arena->base;
    g.e = (edge *)(g.off + g.n + 1);
    g.dist = (uint64_t *)(g.e + g.m);
    g.hkey = g.dist + g.n;
    g.hnode = (uint32_t *)(g.hkey + g.n + 1);
    g.pos = g.hnode + g.n + 1;

    uint64_t rng = p->seed, h = 0;
    build(&g, degree(p), gen_chunk(p), &rng);
    const uint64_t csr = csr_sum(&g);
    for (int s = 0; s < SOURCES; s++) {
        uint32_t src = (uint32_t)(wl_splitmix64(&rng) % g.n);
        dijkstra(&g, src);
        if (!check(&g, &rng)) {
            wl_fail("graph: shortest-path distances violate an edge");
            return 1;
        }
        if (csr_sum(&g) != csr) {
            wl_fail("graph: the graph changed after it was built");
            return 1;
        }
        wl_checked();
        for (uint64_t v = 0; v < g.n; v++)
            h = wl_mix(h, g.dist[v]);
    }
    *checksum = h;
    return 0;
}

const wl_descriptor wl_graph = {
    .name = "graph",
    .summary = "Dijkstra shortest paths from several sources over a random sparse CSR graph (astar/mcf-like)",
    .size_unit = "Ki nodes",
    .default_size = 640,
    .param_unit = "average out-degree (max 64)",
    .default_param = 8,
    .arena_bytes = graph_arena_bytes,
    .progress_units = graph_units,
    .run = graph_run,
};
