/*
 * Xen PVH entry: 32-bit protected mode, paging off, EBX = hvm_start_info.
 * The stub enters long mode on boot page tables (identity map of 4 GiB),
 * lets pvh_setup() build the same tables the KVM VMM builds, and drops to
 * the workload in ring 3 exactly as the KVM VMM starts it.
 */
#include "uckpt_guest_abi.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MSR_EFER 0xc0000080

    .section .note.Xen, "a"
    .balign 4
    .long 4                         /* namesz: "Xen\0" */
    .long 4                         /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    .balign 4

    .section .text.pvh, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi

    /* pml4[0] -> pdpt; pdpt[0..3] -> pd; pd: 2048 x 2 MiB, present|rw|ps */
    movl $(pvh_pdpt + 0x3), pvh_pml4
    mov $pvh_pd, %eax
    or $0x3, %eax
    xor %ecx, %ecx
1:  mov %eax, pvh_pdpt(,%ecx,8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jb 1b
    mov $0x83, %eax
    xor %ecx, %ecx
2:  mov %eax, pvh_pd(,%ecx,8)
    mov %ecx, %edx
    shr $11, %edx
    mov %edx, pvh_pd + 4(,%ecx,8)   /* high bits of (ecx << 21) */
    add $0x200000, %eax
    inc %ecx
    cmp $2048, %ecx
    jb 2b

    mov $pvh_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x620, %eax                 /* PAE, OSFXSR, OSXMMEXCPT */
    mov %eax, %cr4
    mov $MSR_EFER, %ecx
    rdmsr
    or $0x900, %eax                 /* LME, NXE */
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax            /* PG, WP, PE */
    mov %eax, %cr0
    lgdt pvh_gdt_desc
    ljmp $UCKPT_SEL_KCODE, $pvh_start64

    .code64
pvh_start64:
    mov $UCKPT_SEL_KDATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $UCKPT_KSTACK_TOP, %rsp
    mov %esi, %edi
    call pvh_setup                  /* standard tables now live */

    pushq $UCKPT_SEL_UDATA
    pushq $uckpt_user_stack_top
    pushq $0x2                      /* IF clear: under QEMU the BIOS leaves the PIT
                                       ticking on 8259 vector 8 (#DF's slot); the
                                       workload needs no interrupts */
    pushq $UCKPT_SEL_UCODE
    pushq $uckpt_user_entry
    mov $UCKPT_SEL_UDATA, %eax
    mov %eax, %ds
    mov %eax, %es
    mov $UCKPT_BOOT_PVH, %edi
    iretq

    .section .rodata
    .balign 8
pvh_gdt:
    .quad 0
    .quad 0x00af9b000000ffff        /* UCKPT_SEL_KCODE */
    .quad 0x00cf93000000ffff        /* UCKPT_SEL_KDATA */
pvh_gdt_end:
pvh_gdt_desc:
    .word pvh_gdt_end - pvh_gdt - 1
    .long pvh_gdt

    .bss
    .balign 4096
pvh_pml4: .skip 4096
pvh_pdpt: .skip 4096
pvh_pd:   .skip 4 * 4096

    .section .note.GNU-stack, "", @progbits
