/*
 * The x86-64 structures that put a vCPU into long mode with the workload in
 * ring 3: identity page tables, GDT, TSS with its I/O bitmap, IDT.
 *
 * One builder for both ways into the image: the KVM VMM calls it on its
 * host mapping of guest RAM (the guest cannot enter long mode itself on
 * PVM hosts), and the image's PVH stub calls it from ring 0 under Xen.
 * `ram` is where guest-physical address 0 is mapped in the caller.
 */
#ifndef UCKPT_BOOT_TABLES_H
#define UCKPT_BOOT_TABLES_H

#include "uckpt_guest_abi.h"

#define UCKPT_PTE_P   0x1ULL
#define UCKPT_PTE_RW  0x2ULL
#define UCKPT_PTE_US  0x4ULL
#define UCKPT_PTE_PS  0x80ULL
#define UCKPT_PTE_USER (UCKPT_PTE_P | UCKPT_PTE_RW | UCKPT_PTE_US)

#define UCKPT_TSS_BYTES  104
#define UCKPT_TSS_LIMIT  (UCKPT_TSS_BYTES + UCKPT_TSS_IOMAP_PORTS / 8) /* + 0xff terminator - 1 */
#define UCKPT_GDT_LIMIT  (8 * 8 - 1)
#define UCKPT_IDT_LIMIT  (32 * 16 - 1)

static inline void uckpt_put64(unsigned char *ram, uint64_t gpa, uint64_t v)
{
    unsigned i;
    for (i = 0; i < 8; i++) ram[gpa + i] = (unsigned char)(v >> (8 * i));
}

static inline void uckpt_put16(unsigned char *ram, uint64_t gpa, uint16_t v)
{
    ram[gpa] = (unsigned char)v;
    ram[gpa + 1] = (unsigned char)(v >> 8);
}

/* Identity map of all RAM, user-accessible: 2 MiB pages, except the first
 * 2 MiB in 4 KiB pages so that page 0 can stay unmapped (null guard). */
static inline void uckpt_build_page_tables(unsigned char *ram, uint64_t memory_bytes)
{
    uint64_t gib = (memory_bytes + (1ULL << 30) - 1) >> 30, i;
    uckpt_put64(ram, UCKPT_PML4_GPA, UCKPT_PDPT_GPA | UCKPT_PTE_USER);
    for (i = 0; i < gib; i++) {
        uckpt_put64(ram, UCKPT_PDPT_GPA + 8 * i, (UCKPT_PD_GPA + 4096 * i) | UCKPT_PTE_USER);
    }
    for (i = 0; i < ((memory_bytes + (1ULL << 21) - 1) >> 21); i++) {
        uckpt_put64(ram, UCKPT_PD_GPA + 8 * i, (i << 21) | UCKPT_PTE_USER | UCKPT_PTE_PS);
    }
    uckpt_put64(ram, UCKPT_PD_GPA, UCKPT_PT0_GPA | UCKPT_PTE_USER);
    for (i = 1; i < 512; i++) {
        uckpt_put64(ram, UCKPT_PT0_GPA + 8 * i, (i << 12) | UCKPT_PTE_USER);
    }
}

/* GDT and TSS. `tss_busy` is how the VMM loads TR directly (KVM_SET_SREGS);
 * the PVH stub loads it with ltr, which wants it available. */
static inline void uckpt_build_gdt_tss(unsigned char *ram, int tss_busy)
{
    const uint64_t tss = UCKPT_TSS_GPA, limit = UCKPT_TSS_LIMIT;
    uint64_t i;

    uckpt_put64(ram, UCKPT_GDT_GPA + 0x00, 0);
    uckpt_put64(ram, UCKPT_GDT_GPA + 0x08, 0x00af9b000000ffffULL); /* kernel code, 64-bit */
    uckpt_put64(ram, UCKPT_GDT_GPA + 0x10, 0x00cf93000000ffffULL); /* kernel data */
    uckpt_put64(ram, UCKPT_GDT_GPA + 0x18, 0x00cf9b000000ffffULL); /* 32-bit code (PVH stub) */
    uckpt_put64(ram, UCKPT_GDT_GPA + 0x20, 0x00cff3000000ffffULL); /* user data, DPL 3 */
    uckpt_put64(ram, UCKPT_GDT_GPA + 0x28, 0x00affb000000ffffULL); /* user code, 64-bit, DPL 3 */
    uckpt_put64(ram, UCKPT_GDT_GPA + 0x30,
                (limit & 0xffff) | ((tss & 0xffffff) << 16) |
                ((uint64_t)(tss_busy ? 0x8b : 0x89) << 40) |
                ((limit >> 16 & 0xf) << 48) | ((tss >> 24 & 0xff) << 56));
    uckpt_put64(ram, UCKPT_GDT_GPA + 0x38, tss >> 32);

    for (i = 0; i < UCKPT_TSS_BYTES; i++) ram[tss + i] = 0;
    uckpt_put64(ram, tss + 4, UCKPT_KSTACK_TOP);   /* RSP0 */
    uckpt_put64(ram, tss + 36, UCKPT_IST1_TOP);    /* IST1 */
    uckpt_put16(ram, tss + 102, UCKPT_TSS_BYTES);  /* I/O bitmap offset */
    /* Every port denied to ring 3 except the console, the doorbell and the
     * fault probe's (IOPL is not virtualised on PVM hosts: the bitmap is the
     * only way). */
    for (i = 0; i < UCKPT_TSS_IOMAP_PORTS / 8; i++) ram[tss + UCKPT_TSS_BYTES + i] = 0xff;
    ram[tss + UCKPT_TSS_BYTES + UCKPT_TSS_IOMAP_PORTS / 8] = 0xff;
    ram[tss + UCKPT_TSS_BYTES + UCKPT_PORT_CONSOLE / 8] &= (unsigned char)~(1u << (UCKPT_PORT_CONSOLE % 8));
    ram[tss + UCKPT_TSS_BYTES + UCKPT_PORT_DOORBELL / 8] &= (unsigned char)~(1u << (UCKPT_PORT_DOORBELL % 8));
    ram[tss + UCKPT_TSS_BYTES + UCKPT_PORT_PROBE / 8] &= (unsigned char)~(1u << (UCKPT_PORT_PROBE % 8));
}

/* IDT for the 32 exception vectors, all on IST1. Only #BP may be raised
 * from ring 3 on purpose: it is how a PVH guest enters ring 0 to halt. */
static inline void uckpt_build_idt(unsigned char *ram, uint64_t vectors, uint32_t stride)
{
    uint64_t v;
    for (v = 0; v < 32; v++) {
        uint64_t handler = vectors + v * stride, entry = UCKPT_IDT_GPA + 16 * v;
        uint64_t dpl = v == 3 ? 3 : 0;
        uckpt_put64(ram, entry,
                    (handler & 0xffff) | ((uint64_t)UCKPT_SEL_KCODE << 16) | (1ULL << 32) /* IST1 */ |
                    ((0x8eULL | dpl << 5) << 40) | ((handler >> 16 & 0xffff) << 48));
        uckpt_put64(ram, entry + 8, handler >> 32);
    }
}

#endif
