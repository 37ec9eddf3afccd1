/* What the guest runtime's modules share. */
#ifndef UCKPT_RUNTIME_H
#define UCKPT_RUNTIME_H

#include <stdint.h>
#include "uckpt_guest_abi.h"

#define MAILBOX ((volatile struct uckpt_mailbox *)UCKPT_MAILBOX_GPA)

extern uint64_t boot_mode; /* UCKPT_BOOT_KVM or UCKPT_BOOT_PVH */

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

void console_puts(const char *s);
void console_put_u64(uint64_t v);
void console_put_hex(uint64_t v);
void console_flush(void);

void mailbox_set_error(const char *reason);

/* Ends the run: the status in the mailbox is final. */
__attribute__((noreturn)) void guest_exit(uint64_t status);

/* Runs the dirty-log fault probe instead of a workload (KVM only). */
__attribute__((noreturn)) void fault_probe(uint8_t *arena, uint64_t arena_bytes);

#endif
