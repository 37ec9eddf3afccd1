/*
 * Entry points of the workload image.
 *
 * uckpt_user_entry     ring 3, long mode; the KVM VMM starts the boot vCPU
 *                      here directly (RDI = UCKPT_BOOT_KVM)
 * uckpt_exception_vectors  ring-0 stubs for vectors 0..31, 16 bytes apart
 * uckpt_idle_entry     ring 0: where secondary vCPUs halt
 * pvh_start32 (pvh_entry.S)  Xen's PVH entry, named by XEN_ELFNOTE_PHYS32_ENTRY
 */
#include "uckpt_guest_abi.h"

    .section .note.uckpt, "a"
    .balign 4
    .long 6                         /* namesz: "uckpt\0" */
    .long 48                        /* descsz: struct uckpt_entry_note */
    .long UCKPT_NOTE_TYPE_ENTRY
    .asciz "uckpt"
    .balign 4
    .long UCKPT_ABI_VERSION
    .long 16                        /* vector_stride */
    .quad uckpt_user_entry
    .quad uckpt_user_stack_top
    .quad uckpt_exception_vectors
    .quad uckpt_idle_entry
    .quad __image_end
    .balign 4

    .text
    .globl uckpt_user_entry
uckpt_user_entry:
    xor %ebp, %ebp
    call guest_main                 /* never returns */
1:  jmp 1b

    .balign 16
    .globl uckpt_idle_entry
uckpt_idle_entry:
    hlt
    jmp uckpt_idle_entry

/* One stub per vector; those for which the CPU pushes no error code push a
 * zero so that every frame has the same layout. */
    .balign 16
    .globl uckpt_exception_vectors
uckpt_exception_vectors:
    .set vector, 0
    .rept 32
    .balign 16
    .if vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 || vector == 29 || vector == 30
    .else
    pushq $0
    .endif
    pushq $vector
    jmp exception_common
    .set vector, vector + 1
    .endr

exception_common:
    mov 0(%rsp), %rdi               /* vector */
    mov 8(%rsp), %rsi               /* error code */
    lea 16(%rsp), %rdx              /* rip, cs, rflags, rsp, ss */
    mov %cr2, %rcx
    and $-16, %rsp
    call guest_exception            /* never returns */
2:  hlt
    jmp 2b

    .bss
    .balign 4096
uckpt_user_stack:
    .skip UCKPT_USER_STACK_BYTES
    .globl uckpt_user_stack_top
uckpt_user_stack_top:

    .section .note.GNU-stack, "", @progbits
