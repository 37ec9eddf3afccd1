/*
 * dp: local alignment (Smith-Waterman with affine gaps, Gotoh's recurrence)
 * of many generated sequences against one position-specific query profile,
 * the inner loop of 456.hmmer's Viterbi search in miniature.
 * Write pattern: a hot working set of a few tens of KiB (profile, two DP
 * rows, the current sequence); the rows are rewritten for every residue, so
 * almost no distinct pages are dirtied however long the run.
 */
#include "workload.h"

#define MODEL_LEN 512
#define NRES 20
#define BIAS 8      /* profile scores are stored as BIAS + score, score in -4..7 */
#define GAP_OPEN 11 /* cost of a gap's first position */
#define GAP_EXT 1
#define SEQ_MIN 128
#define SEQ_SPAN 512
#define FRAG_MIN 16 /* each sequence embeds an exact query fragment */
#define FRAG_SPAN 48
#define SEQ_PER_UNIT 4
#define SEQ_PER_CHECK 32 /* sequences between checks of the model (~0.1% of the run) */

typedef struct dp_mem {
    uint32_t prof[NRES][MODEL_LEN];
    uint32_t h[MODEL_LEN], e[MODEL_LEN];
    uint8_t query[MODEL_LEN];
    uint8_t seq[SEQ_MIN + SEQ_SPAN];
} dp_mem;

static uint64_t dp_arena_bytes(const wl_params *p)
{
    (void)p;
    return sizeof(dp_mem);
}

static uint64_t dp_units(const wl_params *p)
{
    return (p->size + SEQ_PER_UNIT - 1) / SEQ_PER_UNIT;
}

static uint32_t sat_sub(uint32_t a, uint32_t b)
{
    return a > b ? a - b : 0;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static uint32_t align(dp_mem *m, uint64_t len)
{
    uint32_t best = 0;
    memset(m->h, 0, sizeof m->h);
    memset(m->e, 0, sizeof m->e);
    for (uint64_t i = 0; i < len; i++) {
        const uint32_t *sc = m->prof[m->seq[i]];
        uint32_t diag = 0, f = 0, left = 0;
        for (uint64_t k = 0; k < MODEL_LEN; k++) {
            uint32_t up = m->h[k];
            uint32_t e = max_u32(sat_sub(m->e[k], GAP_EXT), sat_sub(up, GAP_OPEN));
            f = max_u32(sat_sub(f, GAP_EXT), sat_sub(left, GAP_OPEN));
            uint32_t hv = max_u32(sat_sub(diag + sc[k], BIAS), max_u32(e, f));
            diag = up;
            m->h[k] = hv;
            m->e[k] = e;
            left = hv;
            best = max_u32(best, hv);
        }
    }
    return best;
}

/* The profile and the query never change once built: any change is a
 * corruption. A plain sum of the words changes with every single bit flip. */
static uint64_t model_sum(const dp_mem *m)
{
    const uint32_t *w = &m->prof[0][0];
    uint64_t sum = 0;
    for (uint64_t i = 0; i < NRES * MODEL_LEN; i++)
        sum += w[i];
    const uint64_t *q = (const uint64_t *)m->query;
    for (uint64_t i = 0; i < MODEL_LEN / 8; i++)
        sum += q[i];
    return sum;
}

static int dp_run(const wl_params *p, wl_arena *arena, uint64_t *checksum)
{
    dp_mem *m = (dp_mem *)arena->base;
    uint64_t rng = p->seed, h = 0;

    for (uint64_t k = 0; k < MODEL_LEN; k++) {
        m->query[k] = (uint8_t)(wl_splitmix64(&rng) % NRES);
        for (uint64_t a = 0; a < NRES; a++) {
            uint64_t r = wl_splitmix64(&rng);
            m->prof[a][k] = (uint32_t)(a == m->query[k] ? BIAS + 4 + r % 4 : BIAS - 4 + r % 6);
        }
    }
    const uint64_t model = model_sum(m);

    for (uint64_t s = 0; s < p->size; s++) {
        uint64_t r = wl_splitmix64(&rng);
        uint64_t len = SEQ_MIN + r % SEQ_SPAN;
        uint64_t frag = FRAG_MIN + (r >> 16) % FRAG_SPAN;
        uint64_t q0 = (r >> 32) % (MODEL_LEN - frag + 1);
        uint64_t s0 = (r >> 48) % (len - frag + 1);
        for (uint64_t i = 0; i < len; i++)
            m->seq[i] = (uint8_t)(wl_splitmix64(&rng) % NRES);
        /* The fragment's ungapped alignment bounds the optimum from below;
         * no cell can beat the best match score at every position. */
        uint32_t low = 0;
        for (uint64_t i = 0; i < frag; i++) {
            m->seq[s0 + i] = m->query[q0 + i];
            low += m->prof[m->query[q0 + i]][q0 + i] - BIAS;
        }
        uint32_t best = align(m, len);
        if (best < low || best > 7 * (len < MODEL_LEN ? len : MODEL_LEN)) {
            wl_fail("dp: alignment score outside its bounds");
            return 1;
        }
        h = wl_mix(h, best);
        if ((s + 1) % SEQ_PER_CHECK == 0 || s + 1 == p->size) {
            if (model_sum(m) != model) {
                wl_fail("dp: the query profile changed");
                return 1;
            }
            wl_checked();
        }
        if ((s + 1) % SEQ_PER_UNIT == 0 || s + 1 == p->size)
            wl_progress(1);
    }
    *checksum = h;
    return 0;
}

const wl_descriptor wl_dp = {
    .name = "dp",
    .summary = "Smith-Waterman alignment of generated sequences against a query profile (hmmer-like)",
    .size_unit = "sequences",
    .default_size = 4500,
    .param_unit = NULL,
    .default_param = 0,
    .arena_bytes = dp_arena_bytes,
    .progress_units = dp_units,
    .run = dp_run,
};
