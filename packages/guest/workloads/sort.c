/*
 * sort: bottom-up merge sort of a large array of random uint64 keys, like
 * the big sorting phases of 401.bzip2 (block sort) and 429.mcf (arc sort).
 * Write pattern: a sequential write frontier sweeping the whole destination
 * buffer once per pass, alternating between the array and its scratch copy.
 */
#include "workload.h"

#define ELEMS_PER_SIZE (1ULL << 20)
#define CHUNK (ELEMS_PER_SIZE / 2) /* elements per progress unit */
#define SAMPLES 4096         /* adjacent pairs checked after each pass */

/* One merge pass, resumable at any output position so that progress can be
 * reported at fixed intervals even while a single merge spans the array. */
typedef struct merger {
    const uint64_t *src;
    uint64_t *dst;
    uint64_t n, width;
    uint64_t i, iend, j, jend, k;
} merger;

static uint64_t passes(uint64_t n)
{
    uint64_t k = 0;
    for (uint64_t w = 1; w < n; w <<= 1)
        k++;
    return k;
}

static uint64_t sort_arena_bytes(const wl_params *p)
{
    return 2 * p->size * ELEMS_PER_SIZE * sizeof(uint64_t);
}

/* Generation, every merge pass, and the final verification: one unit per
 * CHUNK elements each. */
static uint64_t sort_units(const wl_params *p)
{
    return (passes(p->size * ELEMS_PER_SIZE) + 2) * (p->size * ELEMS_PER_SIZE / CHUNK);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void merge_to(merger *m, uint64_t kend)
{
    const uint64_t *s = m->src;
    uint64_t *d = m->dst;
    while (m->k < kend) {
        if (m->i == m->iend && m->j == m->jend) {
            m->i = m->jend;
            m->iend = m->j = min_u64(m->i + m->width, m->n);
            m->jend = min_u64(m->j + m->width, m->n);
        }
        uint64_t i = m->i, j = m->j, k = m->k;
        /* Each step consumes one element, so this many steps cannot run
         * past either run or the chunk: one bound check per batch. */
        for (uint64_t steps; (steps = min_u64(min_u64(m->iend - i, m->jend - j), kend - k)) > 0;) {
            for (; steps > 0; steps--) {
                uint64_t a = s[i], b = s[j], take_b = b < a;
                d[k++] = take_b ? b : a;
                j += take_b;
                i += !take_b;
            }
        }
        /* One run is exhausted (or the chunk is full): the rest of the
         * other run is already in order. */
        uint64_t c;
        if (i < m->iend) {
            c = min_u64(m->iend - i, kend - k);
            memcpy(d + k, s + i, c * sizeof *d);
            i += c;
        } else {
            c = min_u64(m->jend - j, kend - k);
            memcpy(d + k, s + j, c * sizeof *d);
            j += c;
        }
        m->i = i;
        m->j = j;
        m->k = k + c;
    }
}

static int sort_run(const wl_params *p, wl_arena *arena, uint64_t *checksum)
{
    uint64_t n = p->size * ELEMS_PER_SIZE, rng = p->seed;
    uint64_t *a = (uint64_t *)arena->base, *b = a + n;
    uint64_t sum = 0, xr = 0;

    for (uint64_t c = 0; c < n; c += CHUNK) {
        for (uint64_t i = c; i < c + CHUNK; i++) {
            a[i] = wl_splitmix64(&rng);
            sum += a[i];
            xr ^= a[i];
        }
        wl_progress(1);
    }

    for (uint64_t w = 1; w < n; w <<= 1) {
        merger m = { a, b, n, w, 0, 0, 0, 0, 0 };
        for (uint64_t c = CHUNK; c <= n; c += CHUNK) {
            merge_to(&m, c);
            wl_progress(1);
        }
        for (uint64_t s = 0; s < SAMPLES; s++) {
            uint64_t k = wl_splitmix64(&rng) % (n - 1);
            if ((k + 1) % (2 * w) != 0 && b[k] > b[k + 1]) {
                wl_fail("sort: merged run out of order");
                return 1;
            }
        }
        wl_checked();
        uint64_t *t = a;
        a = b;
        b = t;
    }

    uint64_t h = 0, sum2 = 0, xr2 = 0;
    for (uint64_t c = 0; c < n; c += CHUNK) {
        for (uint64_t i = c; i < c + CHUNK; i++) {
            if (i + 1 < n && a[i] > a[i + 1]) {
                wl_fail("sort: result not sorted");
                return 1;
            }
            sum2 += a[i];
            xr2 ^= a[i];
            h = wl_mix(h, a[i]);
        }
        wl_progress(1);
    }
    if (sum2 != sum || xr2 != xr) {
        wl_fail("sort: elements lost or duplicated");
        return 1;
    }
    *checksum = h;
    return 0;
}

const wl_descriptor wl_sort = {
    .name = "sort",
    .summary = "bottom-up merge sort of random uint64 keys with a scratch buffer (bzip2/mcf sort phases)",
    .size_unit = "Mi elements",
    .default_size = 24,
    .param_unit = NULL,
    .default_param = 0,
    .arena_bytes = sort_arena_bytes,
    .progress_units = sort_units,
    .run = sort_run,
};
