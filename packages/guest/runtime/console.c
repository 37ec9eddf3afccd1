/* Console output: a byte ring in the mailbox that the host drains. On KVM a
 * write to the console port at each newline tells the VMM to drain it now
 * (one exit per line); under Xen the host drains it when it polls. */
#include "runtime.h"

static void put_char(char c)
{
    volatile struct uckpt_mailbox *mb = MAILBOX;
    mb->console[mb->console_head % UCKPT_CONSOLE_BYTES] = c;
    mb->console_head = mb->console_head + 1;
    if (c == '\n') console_flush();
}

void console_flush(void)
{
    if (boot_mode == UCKPT_BOOT_KVM) outb(UCKPT_PORT_CONSOLE, 0);
}

void console_puts(const char *s)
{
    while (*s) put_char(*s++);
}

void console_put_u64(uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) put_char(digits[--n]);
}

void console_put_hex(uint64_t v)
{
    for (int shift = 60; shift >= 0; shift -= 4) put_char("0123456789abcdef"[(v >> shift) & 0xf]);
}
