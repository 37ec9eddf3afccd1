/* Ring 0, entered only through a CPU exception. Runs emulated (slowly) on
 * PVM hosts, which is fine: it runs once, records what happened in the
 * mailbox and halts, which the VMM sees as the end of the run. */
#include "runtime.h"

__attribute__((noreturn)) void guest_exception(uint64_t vector, uint64_t error, const uint64_t *frame,
                                               uint64_t cr2)
{
    volatile struct uckpt_mailbox *mb = MAILBOX;
    uint64_t status = mb->status;
    int final = status == UCKPT_STATUS_DONE || status == UCKPT_STATUS_FAILED ||
                status == UCKPT_STATUS_BAD_PARAMS;

    /* #BP after a final status is guest_exit's way into ring 0 under PVH. */
    if (!(vector == 3 && final)) {
        mb->exc_vector = vector;
        mb->exc_error = error;
        mb->exc_rip = frame[0];
        mb->exc_rsp = frame[3];
        mb->exc_cr2 = cr2;
        mb->status = UCKPT_STATUS_EXCEPTION;
    }
    for (;;) __asm__ volatile("hlt");
}
