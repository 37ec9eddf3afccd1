/*
 * The dirty-log fault probe. Not a workload (it reads the TSC): the VMM runs
 * it in a scratch VM to learn what the guest pays for its first write to a
 * page that checkpointing re-protected, which the VMM cannot see, for the
 * cost model that decides which pages to leave writable.
 *
 * It writes its pages once (so that they are backed and mapped), asks the
 * VMM to re-protect them, then times one write to each (a fault) and a
 * second one (none). Medians: a preemption of the vCPU spoils a sample,
 * not the result.
 */
#include "runtime.h"

#define PAGE 4096

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static uint64_t median(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        uint64_t x = v[i];
        unsigned j = i;
        for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
        v[j] = x;
    }
    return v[n / 2];
}

/* Times one write to each page into `cycles`. */
static void time_writes(volatile uint8_t *pages, uint64_t *cycles, uint8_t value)
{
    for (unsigned i = 0; i < UCKPT_FAULT_PROBE_PAGES; i++) {
        uint64_t start = rdtsc();
        pages[(uint64_t)i * PAGE] = value;
        cycles[i] = rdtsc() - start;
    }
}

__attribute__((noreturn)) void fault_probe(uint8_t *arena, uint64_t arena_bytes)
{
    volatile struct uckpt_mailbox *mb = MAILBOX;
    uint64_t *faulted = (uint64_t *)arena;
    uint64_t *plain = faulted + UCKPT_FAULT_PROBE_PAGES;
    volatile uint8_t *pages = arena + 2 * UCKPT_FAULT_PROBE_PAGES * sizeof(uint64_t);
    if (2 * UCKPT_FAULT_PROBE_PAGES * sizeof(uint64_t) + (uint64_t)UCKPT_FAULT_PROBE_PAGES * PAGE > arena_bytes) {
        mailbox_set_error("not enough guest memory for the fault probe");
        guest_exit(UCKPT_STATUS_BAD_PARAMS);
    }
    time_writes(pages, faulted, 1);
    time_writes(pages, plain, 1); /* the timing arrays are backed now too */
    outb(UCKPT_PORT_PROBE, 0);
    time_writes(pages, faulted, 2);
    time_writes(pages, plain, 3);
    mb->probe_fault_cycles = median(faulted, UCKPT_FAULT_PROBE_PAGES);
    mb->probe_write_cycles = median(plain, UCKPT_FAULT_PROBE_PAGES);
    guest_exit(UCKPT_STATUS_DONE);
}
