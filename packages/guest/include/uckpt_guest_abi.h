/*
 * The guest <-> host ABI of the uckpt workload image, shared by the guest
 * (C and assembly) and the VMMs that run it (KVM here, Xen later).
 *
 * The host talks to the guest through one mailbox page at a fixed
 * guest-physical address: it costs no exit and reads the same under every
 * hypervisor. Port I/O is used only where an exit is worth it: to flush a
 * console line and to ring the doorbell at the end of a run (KVM only; a
 * PVH guest under Xen has no ports and the host polls the mailbox).
 */
#ifndef UCKPT_GUEST_ABI_H
#define UCKPT_GUEST_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* Guest-physical memory map (identity-mapped; everything below 1 MiB is
 * built by the VMM on KVM, or by the image's PVH stub under Xen). */
#define UCKPT_MAILBOX_GPA     0x1000ULL   /* page 0 stays unmapped: null guard */
#define UCKPT_GDT_GPA         0x2000ULL
#define UCKPT_IDT_GPA         0x3000ULL
#define UCKPT_TSS_GPA         0x4000ULL   /* TSS followed by its I/O bitmap */
#define UCKPT_SCRATCH_GPA     0x5000ULL   /* 0x5000-0x7fff: left unused by the tables, for the
                                             VMM's own code (e.g. fault injection's hang loop) */
#define UCKPT_SCRATCH_BYTES   0x3000ULL
#define UCKPT_KSTACK_TOP      0xc000ULL   /* TSS.RSP0: ring-0 stack, 0x8000-0xbfff */
#define UCKPT_IST1_TOP        0x10000ULL  /* TSS.IST1: exception stack, 0xc000-0xffff */
#define UCKPT_PML4_GPA        0x10000ULL
#define UCKPT_PDPT_GPA        0x11000ULL
#define UCKPT_PT0_GPA         0x12000ULL  /* 4 KiB pages of the first 2 MiB */
#define UCKPT_PD_GPA          0x13000ULL  /* one page directory per GiB, 16 max */
#define UCKPT_IMAGE_MIN_GPA   0x100000ULL /* images load at or above 1 MiB */
#define UCKPT_USER_STACK_BYTES (256 * 1024) /* the workload's stack, below user_stack_top */
#define UCKPT_MAX_MEMORY      (16ULL << 30)

/* GDT selectors. */
#define UCKPT_SEL_KCODE       0x08
#define UCKPT_SEL_KDATA       0x10
#define UCKPT_SEL_CODE32      0x18        /* PVH stub only */
#define UCKPT_SEL_UDATA       0x23        /* index 4, RPL 3 */
#define UCKPT_SEL_UCODE       0x2b        /* index 5, RPL 3 */
#define UCKPT_SEL_TSS         0x30        /* 16-byte descriptor, indexes 6-7 */

/* Ports given to ring 3 through the TSS I/O bitmap (KVM only). */
#define UCKPT_PORT_CONSOLE    0xe9        /* any write: console ring has a new line */
#define UCKPT_PORT_DOORBELL   0xf4        /* any write: mailbox status is final */
#define UCKPT_PORT_PROBE      0xf5        /* any write: the fault probe's pages are to be re-protected */
#define UCKPT_TSS_IOMAP_PORTS 0x100       /* ports covered by the bitmap */

/* Entry registers: RDI carries how the image was entered. */
#define UCKPT_BOOT_KVM        0
#define UCKPT_BOOT_PVH        1

/* The image's own ELF note (besides XEN_ELFNOTE_PHYS32_ENTRY). */
#define UCKPT_NOTE_NAME       "uckpt"
#define UCKPT_NOTE_TYPE_ENTRY 0x75636b01
#define UCKPT_ABI_VERSION     1

#define UCKPT_MAILBOX_MAGIC   0x31585042544b4355ULL /* "UCKTBPX1" */

/* Not a workload: the dirty-log fault probe (runtime/fault_probe.c). */
#define UCKPT_FAULT_PROBE     0x65626f7270ULL /* "probe" */
#define UCKPT_FAULT_PROBE_PAGES 512

/* Mailbox status, written by the guest. */
#define UCKPT_STATUS_BOOT      0  /* nothing written yet */
#define UCKPT_STATUS_RUNNING   1
#define UCKPT_STATUS_DONE      2  /* result is valid */
#define UCKPT_STATUS_FAILED    3  /* the workload's self-check failed: error holds why */
#define UCKPT_STATUS_EXCEPTION 4  /* a CPU exception: exc_* hold the details */
#define UCKPT_STATUS_BAD_PARAMS 5 /* error holds why */

#define UCKPT_CONSOLE_BYTES   2048
#define UCKPT_ERROR_BYTES     256
#define UCKPT_CMDLINE_BYTES   256

#ifndef __ASSEMBLER__
struct uckpt_entry_note {
    uint32_t abi_version;
    uint32_t vector_stride;     /* bytes between exception stubs */
    uint64_t user_entry;        /* ring-3 entry, RDI = UCKPT_BOOT_* */
    uint64_t user_stack_top;
    uint64_t exception_vectors; /* ring-0 stubs for vectors 0..31 */
    uint64_t idle_entry;        /* ring-0 halt loop for secondary vCPUs */
    uint64_t image_end;         /* first byte after bss, page aligned */
};

/* Host-written fields first, guest-written after; each side writes only its own. */
struct uckpt_mailbox {
    /* host -> guest (before start) */
    uint64_t magic;
    uint64_t workload;          /* index into the image's workload table */
    uint64_t seed;
    uint64_t size;              /* 0: the workload's default */
    uint64_t param;             /* 0: the workload's default */
    uint64_t memory_bytes;      /* guest RAM, for the arena */
    uint64_t repeat;            /* runs of the workload; 0 = forever (demo) */
    char cmdline[UCKPT_CMDLINE_BYTES]; /* PVH: params as text, parsed by the guest */

    /* guest -> host */
    uint64_t status;
    uint64_t progress;          /* work units done, bumped every few ms */
    uint64_t progress_total;    /* units one run will report */
    uint64_t runs_done;
    uint64_t result;            /* checksum of the last finished run */
    uint64_t exc_vector, exc_error, exc_rip, exc_cr2, exc_rsp;
    char error[UCKPT_ERROR_BYTES];
    uint64_t console_head;      /* bytes ever written; ring index = head % size */
    char console[UCKPT_CONSOLE_BYTES];
    /* Where the workload's data lives (its arena), set before it starts. */
    uint64_t arena_base, arena_bytes;
    uint64_t self_checks;       /* the workload's consistency checks passed so far */
    /* The fault probe's medians, in TSC cycles: a write to a re-protected page, and a plain one. */
    uint64_t probe_fault_cycles, probe_write_cycles;
};

#ifdef __cplusplus
static_assert(sizeof(struct uckpt_mailbox) <= 4096, "mailbox fits one page");
#else
_Static_assert(sizeof(struct uckpt_mailbox) <= 4096, "mailbox fits one page");
#endif
#endif

#endif
