/*
 * The contract between a workload kernel and the runtime that hosts it.
 *
 * Each kernel is freestanding C (no libc): it computes from its seed and
 * parameters only, never reads a clock, and ends with a 64-bit checksum of
 * its result. The same source runs inside the guest image (runtime/) and as
 * an ordinary host program (host/), and both must print the same checksum:
 * that equality is the oracle every rollback test relies on.
 */
#ifndef UCKPT_WORKLOAD_H
#define UCKPT_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

/* The runtime replaces a 0 knob by the descriptor's default before calling
 * any of the functions below, and keeps knobs at most 2^32 so that size
 * arithmetic cannot overflow; kernels clamp further where they must (the
 * descriptor's units say so). */
typedef struct wl_params {
    uint64_t seed;
    uint64_t size;  /* main size knob, in the unit the descriptor names; 0 = default */
    uint64_t param; /* second knob where the workload has one; 0 = default */
} wl_params;

typedef struct wl_arena {
    uint8_t *base;  /* 4096-aligned, zero-filled */
    uint64_t bytes;
} wl_arena;

typedef struct wl_descriptor {
    const char *name;
    const char *summary;
    const char *size_unit;  /* what `size` counts, e.g. "MiB of table" */
    uint64_t default_size;
    const char *param_unit; /* NULL when the workload has no second knob */
    uint64_t default_param;
    /* Bytes of arena the run needs for these (already defaulted) params. */
    uint64_t (*arena_bytes)(const wl_params *p);
    /* Total progress units the run will report, for percentages. */
    uint64_t (*progress_units)(const wl_params *p);
    /* Runs to completion. Returns 0 and sets *checksum, or a nonzero code
     * after calling wl_fail() when the workload's own self-check fails. */
    int (*run)(const wl_params *p, wl_arena *arena, uint64_t *checksum);
} wl_descriptor;

extern const wl_descriptor *const wl_all[];
extern const size_t wl_count;

/* Provided by the hosting runtime. */
void wl_progress(uint64_t units);     /* call every ~1-5 ms of work */
void wl_fail(const char *reason);     /* the workload detected an inconsistency */
void wl_checked(void);                /* a periodic self-check passed (counted, for the host to see) */

/* Freestanding helpers (guest runtime implements them; the host uses libc). */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/* Deterministic PRNG and checksum mixing shared by all kernels. */
static inline uint64_t wl_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t wl_mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

#endif
