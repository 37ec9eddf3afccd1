/*
 * hashtable: models the big transposition/hash tables of 458.sjeng and
 * 445.gobmk (and perlbench's hashes): a stream of random inserts, lookups,
 * updates and deletes on one linear-probing table of hundreds of MiB.
 * Write pattern: scattered 16-byte writes all over the table, so nearly
 * every page gets dirtied again and again with no locality.
 */
#include "workload.h"

#define SLOTS_PER_MIB (1u << 16) /* 16-byte slots */
#define OPS_PER_UNIT 16384
#define UNITS_PER_MIB 6          /* 1.5 operations per slot over the run */
#define AUDIT_SLOTS 1024         /* slots re-checked after every unit */
#define SCAN_MIB 8               /* final occupancy scan, per unit */
#define TAG_BITS 24

typedef struct slot {
    uint64_t key; /* 0 = empty */
    uint64_t val; /* (operation << TAG_BITS) | tag(key) */
} slot;

typedef struct table {
    slot *s;
    uint64_t n, used;
} table;

static uint64_t ht_arena_bytes(const wl_params *p)
{
    return p->size * SLOTS_PER_MIB * sizeof(slot);
}

static uint64_t ht_units(const wl_params *p)
{
    return p->size * UNITS_PER_MIB + (p->size + SCAN_MIB - 1) / SCAN_MIB;
}

/* Lets every slot carry a cheap proof of which key it belongs to. */
static uint64_t tag(uint64_t key)
{
    return key >> (64 - TAG_BITS);
}

static uint64_t home(const table *t, uint64_t key)
{
    return key % t->n;
}

static uint64_t next(const table *t, uint64_t i)
{
    return i + 1 == t->n ? 0 : i + 1;
}

/* Cyclic interval (lo, hi]. */
static int between(uint64_t lo, uint64_t x, uint64_t hi)
{
    return lo <= hi ? lo < x && x <= hi : lo < x || x <= hi;
}

/* The slot holding key, or the empty slot that ends its probe run. The key
 * universe is half the slots, so an empty slot always exists. */
static uint64_t probe(const table *t, uint64_t key)
{
    uint64_t i = home(t, key);
    while (t->s[i].key != 0 && t->s[i].key != key)
        i = next(t, i);
    return i;
}

/* Backward-shift deletion (Knuth's Algorithm R): no tombstones, so every key
 * stays reachable from its home slot through occupied slots only. */
static void erase(table *t, uint64_t hole)
{
    for (uint64_t j = next(t, hole); t->s[j].key != 0; j = next(t, j)) {
        if (between(hole, home(t, t->s[j].key), j))
            continue;
        t->s[hole] = t->s[j];
        hole = j;
    }
    t->s[hole].key = 0;
    t->s[hole].val = 0;
    t->used--;
}

/* Every occupied slot in the window carries its key's tag and sits at the
 * end of an unbroken run starting at its home slot. */
static int audit(const table *t, uint64_t i)
{
    for (uint64_t c = 0; c < AUDIT_SLOTS; c++, i = next(t, i)) {
        uint64_t key = t->s[i].key;
        if (key == 0)
            continue;
        if ((t->s[i].val & ((1u << TAG_BITS) - 1)) != tag(key))
            return 0;
        for (uint64_t j = home(t, key); j != i; j = next(t, j))
            if (t->s[j].key == 0)
                return 0;
    }
    return 1;
}

static int ht_run(const wl_params *p, wl_arena *arena, uint64_t *checksum)
{
    table t = { (slot *)arena->base, p->size * SLOTS_PER_MIB, 0 };
    uint64_t nkeys = t.n / 2, rng = p->seed, salt = wl_splitmix64(&rng);
    uint64_t h = 0, op = 0, cursor = 0;

    for (uint64_t u = 0; u < p->size * UNITS_PER_MIB; u++) {
        for (uint64_t k = 0; k < OPS_PER_UNIT; k++, op++) {
            uint64_t r = wl_splitmix64(&rng);
            uint64_t s = salt + (r & ((1ULL << 62) - 1)) % nkeys;
            uint64_t key = wl_splitmix64(&s) | 1, res;
            uint64_t i = probe(&t, key);
            switch (r >> 62) {
            case 0:
            case 1: /* insert or update */
                res = t.s[i].key == 0;
                t.used += res;
                t.s[i].key = key;
                t.s[i].val = op << TAG_BITS | tag(key);
                break;
            case 2: /* lookup */
                res = t.s[i].val;
                break;
            default: /* delete */
                res = t.s[i].key != 0;
                if (res)
                    erase(&t, i);
                break;
            }
            h = wl_mix(h, res);
        }
        if (!audit(&t, cursor)) {
            wl_fail("hashtable: probe invariant or slot tag broken");
            return 1;
        }
        wl_checked();
        cursor = (cursor + AUDIT_SLOTS) % t.n;
        wl_progress(1);
    }

    uint64_t occupied = 0, chunk = (uint64_t)SCAN_MIB * SLOTS_PER_MIB;
    for (uint64_t base = 0; base < t.n; base += chunk) {
        for (uint64_t i = base; i < t.n && i < base + chunk; i++)
            occupied += t.s[i].key != 0;
        wl_progress(1);
    }
    if (occupied != t.used) {
        wl_fail("hashtable: occupancy differs from running count");
        return 1;
    }
    *checksum = wl_mix(h, t.used);
    return 0;
}

const wl_descriptor wl_hashtable = {
    .name = "hashtable",
    .summary = "random insert/lookup/update/delete on a linear-probing hash table (sjeng/gobmk-like)",
    .size_unit = "MiB of table",
    .default_size = 256,
    .param_unit = NULL,
    .default_param = 0,
    .arena_bytes = ht_arena_bytes,
    .progress_units = ht_units,
    .run = ht_run,
};
