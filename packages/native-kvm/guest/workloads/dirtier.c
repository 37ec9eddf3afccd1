/*
 * dirtier: a synthetic, tunable page dirtier for dirty-rate sweeps (no SPEC
 * counterpart). Each unit of work dirties P distinct pages of a W MiB
 * working set, chosen pseudo-randomly, with one read-modify-write each, then
 * spends a fixed slice of pure compute, so the dirty rate scales with P.
 * Write pattern: P scattered 8-byte writes per unit, ~1 ms apart.
 */
#include "workload.h"

#define PAGE_WORDS 512        /* 4 KiB pages of uint64 */
#define PAGES_PER_MIB 256
#define UNITS_PER_MIB 8       /* so each page is written P/32 times on average */
#define SPIN 600000           /* compute steps per unit */
#define SCAN_MIB 16           /* final read-back, per unit */

static uint64_t dirtier_arena_bytes(const wl_params *p)
{
    return p->size * PAGES_PER_MIB * PAGE_WORDS * sizeof(uint64_t);
}

static uint64_t dirtier_units(const wl_params *p)
{
    return p->size * UNITS_PER_MIB + (p->size + SCAN_MIB - 1) / SCAN_MIB;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int dirtier_run(const wl_params *p, wl_arena *arena, uint64_t *checksum)
{
    uint64_t *ws = (uint64_t *)arena->base;
    uint64_t npages = p->size * PAGES_PER_MIB, rng = p->seed, h = 0;
    /* The sum of the working set, kept up to date with every write: the
     * final read-back must find it again, or a word changed behind our back. */
    uint64_t total = 0;
    /* P is clamped to the working set: pages within a unit are distinct. */
    uint64_t per_unit = p->param < npages ? p->param : npages;

    for (uint64_t u = 0; u < p->size * UNITS_PER_MIB; u++) {
        /* An affine walk with a stride coprime to npages visits distinct
         * pages in a scattered order. */
        uint64_t page = wl_splitmix64(&rng) % npages;
        uint64_t stride = wl_splitmix64(&rng) % npages;
        while (gcd(stride, npages) != 1)
            stride++;
        for (uint64_t i = 0; i < per_unit; i++) {
            uint64_t r = wl_splitmix64(&rng);
            uint64_t *w = &ws[page * PAGE_WORDS + r % PAGE_WORDS];
            total -= *w;
            *w = wl_mix(*w, r);
            total += *w;
            h = wl_mix(h, *w);
            page = (page + stride) % npages;
        }
        uint64_t x = h;
        for (uint64_t s = 0; s < SPIN; s++)
            x = wl_mix(x, s);
        h ^= x;
        wl_progress(1);
    }

    /* Read everything back: a page restored wrongly changes the result. */
    uint64_t chunk = (uint64_t)SCAN_MIB * PAGES_PER_MIB * PAGE_WORDS;
    uint64_t nwords = npages * PAGE_WORDS, seen = 0;
    for (uint64_t base = 0; base < nwords; base += chunk) {
        for (uint64_t i = base; i < nwords && i < base + chunk; i++)
            if (ws[i] != 0) {
                seen += ws[i];
                h = wl_mix(wl_mix(h, i), ws[i]);
            }
        wl_progress(1);
    }
    if (seen != total) {
        wl_fail("dirtier: the working set differs from what was written");
        return 1;
    }
    wl_checked();
    *checksum = h;
    return 0;
}

const wl_descriptor wl_dirtier = {
    .name = "dirtier",
    .summary = "tunable page dirtier: P distinct random pages of a W MiB working set per ~1 ms unit",
    .size_unit = "MiB of working set",
    .default_size = 256,
    .param_unit = "pages dirtied per unit (clamped to the working set)",
    .default_param = 64,
    .arena_bytes = dirtier_arena_bytes,
    .progress_units = dirtier_units,
    .run = dirtier_run,
};
