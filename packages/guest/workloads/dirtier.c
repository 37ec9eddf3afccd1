/*
 * dirtier: a synthetic, tunable page dirtier for dirty-rate sweeps (no SPEC
 * counterpart). Each unit of work dirties P distinct pages of a W MiB
 * working set, chosen pseudo-randomly, with one read-modify-write each, then
 * spends a fixed slice of pure compute, so the dirty rate scales with P.
 * Write pattern: P scattered 8-byte writes per unit, ~1 ms apart.
 *
 * dirtier-phases: the same writes, but the dirty rate a checkpoint sees
 * steps between two phases of PHASE_UNITS units each. In the quiet phase the
 * P writes of a unit stay on a hot set of HOT_PAGES pages; in the busy phase
 * they scatter over the working set. A unit does the same work in both, so
 * the guest's own speed barely changes while the pages dirtied per epoch
 * change by orders of magnitude: what interval tuning has to follow.
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

/* One read-modify-write of a word of `page`, folded into the running sum and hash. */
static inline void dirty_word(uint64_t *ws, uint64_t page, uint64_t r, uint64_t *total, uint64_t *h)
{
    uint64_t *w = &ws[page * PAGE_WORDS + r % PAGE_WORDS];
    *total -= *w;
    *w = wl_mix(*w, r);
    *total += *w;
    *h = wl_mix(*h, *w);
}

static uint64_t spin(uint64_t h)
{
    uint64_t x = h;
    for (uint64_t s = 0; s < SPIN; s++)
        x = wl_mix(x, s);
    return x;
}

/* Reads the working set back: a page restored wrongly changes the result,
 * and a sum other than the one kept with every write fails the run. */
static int read_back(const char *name, const uint64_t *ws, uint64_t npages, uint64_t total, uint64_t *h)
{
    uint64_t chunk = (uint64_t)SCAN_MIB * PAGES_PER_MIB * PAGE_WORDS;
    uint64_t nwords = npages * PAGE_WORDS, seen = 0;
    for (uint64_t base = 0; base < nwords; base += chunk) {
        for (uint64_t i = base; i < nwords && i < base + chunk; i++)
            if (ws[i] != 0) {
                seen += ws[i];
                *h = wl_mix(wl_mix(*h, i), ws[i]);
            }
        wl_progress(1);
    }
    if (seen != total) {
        wl_fail(name);
        return 1;
    }
    wl_checked();
    return 0;
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
            dirty_word(ws, page, wl_splitmix64(&rng), &total, &h);
            page = (page + stride) % npages;
        }
        h ^= spin(h);
        wl_progress(1);
    }

    if (read_back("dirtier: the working set differs from what was written", ws, npages, total, &h) != 0)
        return 1;
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

#define PHASE_UNITS 4096      /* units per phase: about five seconds */
#define HOT_PAGES 16          /* where the quiet phase writes */

static uint64_t phases_units(const wl_params *p)
{
    return 2 * PHASE_UNITS + (p->size + SCAN_MIB - 1) / SCAN_MIB;
}

static int phases_run(const wl_params *p, wl_arena *arena, uint64_t *checksum)
{
    uint64_t *ws = (uint64_t *)arena->base;
    uint64_t npages = p->size * PAGES_PER_MIB, rng = p->seed, h = 0, total = 0;
    uint64_t hot = HOT_PAGES < npages ? HOT_PAGES : npages;

    for (uint64_t u = 0; u < 2 * PHASE_UNITS; u++) {
        int busy = u >= PHASE_UNITS;
        for (uint64_t i = 0; i < p->param; i++) {
            uint64_t r = wl_splitmix64(&rng);
            /* The page from the high bits, the word from the low ones. */
            uint64_t page = (r >> 32) % (busy ? npages : hot);
            dirty_word(ws, page, r, &total, &h);
        }
        h ^= spin(h);
        wl_progress(1);
    }

    if (read_back("dirtier-phases: the working set differs from what was written", ws, npages, total, &h) != 0)
        return 1;
    *checksum = h;
    return 0;
}

const wl_descriptor wl_dirtier_phases = {
    .name = "dirtier-phases",
    .summary = "page dirtier in two phases: P writes per ~1 ms unit on 16 hot pages, then the same scattered over a W MiB working set",
    .size_unit = "MiB of working set",
    .default_size = 64,
    .param_unit = "pages written per unit",
    .default_param = 64,
    .arena_bytes = dirtier_arena_bytes,
    .progress_units = phases_units,
    .run = phases_run,
};
