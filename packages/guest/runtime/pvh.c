/* Ring 0 under Xen PVH: turn the start info into mailbox parameters and
 * build the standard boot tables with the same code the KVM VMM uses. */
#include "runtime.h"
#include "uckpt_boot_tables.h"

#define HVM_START_MAGIC 0x336ec578
#define E820_RAM 1

struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};

struct hvm_memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

extern char uckpt_exception_vectors[];

struct __attribute__((packed)) table_register {
    uint16_t limit;
    uint64_t base;
};

/* Top of the RAM range that contains the image: the arena must be contiguous. */
static uint64_t ram_top(const struct hvm_start_info *si)
{
    uint64_t top = 0;
    if (si->magic != HVM_START_MAGIC || si->version < 1) return 0;
    const struct hvm_memmap_entry *e = (const struct hvm_memmap_entry *)si->memmap_paddr;
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        if (e[i].type == E820_RAM && e[i].addr <= UCKPT_IMAGE_MIN_GPA && e[i].addr + e[i].size > top) {
            top = e[i].addr + e[i].size;
        }
    }
    return top > UCKPT_MAX_MEMORY ? UCKPT_MAX_MEMORY : top;
}

void pvh_setup(const struct hvm_start_info *si)
{
    unsigned char *ram = (unsigned char *)0;
    /* Guest-physical 0 is mapped at virtual 0 here. Hide that from GCC: seeing
     * stores through a known-null pointer it proves them undefined and
     * replaces the table builder with ud2 (-fisolate-erroneous-paths). */
    __asm__("" : "+r"(ram));
    volatile struct uckpt_mailbox *mb = MAILBOX;
    uint64_t top = ram_top(si);

    /* Take the command line before writing anything below 1 MiB: the loader
     * may have put it there (QEMU's PVH ROM puts it inside the mailbox page). */
    char cmdline[UCKPT_CMDLINE_BYTES];
    unsigned len = 0;
    if (si->magic == HVM_START_MAGIC && si->cmdline_paddr) {
        const char *src = (const char *)si->cmdline_paddr;
        while (len < UCKPT_CMDLINE_BYTES - 1 && src[len]) cmdline[len] = src[len], len++;
    }

    /* Clear the mailbox and fill it from the start info. */
    for (unsigned i = 0; i < sizeof *mb; i++) ((volatile char *)mb)[i] = 0;
    mb->magic = UCKPT_MAILBOX_MAGIC;
    mb->memory_bytes = top;
    for (unsigned i = 0; i < len; i++) mb->cmdline[i] = cmdline[i];

    uckpt_build_page_tables(ram, top > (4ULL << 30) ? top : (4ULL << 30));
    uckpt_build_gdt_tss(ram, 0);
    uckpt_build_idt(ram, (uint64_t)uckpt_exception_vectors, 16);

    struct table_register gdt = {UCKPT_GDT_LIMIT, UCKPT_GDT_GPA};
    struct table_register idt = {UCKPT_IDT_LIMIT, UCKPT_IDT_GPA};
    __asm__ volatile("mov %0, %%cr3" : : "r"(UCKPT_PML4_GPA) : "memory");
    __asm__ volatile("lgdt %0" : : "m"(gdt));
    __asm__ volatile("lidt %0" : : "m"(idt));
    __asm__ volatile("ltr %w0" : : "r"(UCKPT_SEL_TSS));
}
