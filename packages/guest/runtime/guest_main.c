/* Ring 3: reads the run's parameters from the mailbox, runs the workload
 * over the RAM above the image, and reports progress and the checksum. */
#include "runtime.h"
#include "workload.h"

extern char __image_end[];

uint64_t boot_mode;

void mailbox_set_error(const char *reason)
{
    volatile struct uckpt_mailbox *mb = MAILBOX;
    unsigned i = 0;
    for (; reason[i] && i < UCKPT_ERROR_BYTES - 1; i++) mb->error[i] = reason[i];
    mb->error[i] = 0;
}

void wl_progress(uint64_t units)
{
    MAILBOX->progress = MAILBOX->progress + units;
}

void wl_fail(const char *reason)
{
    mailbox_set_error(reason);
}

void wl_checked(void)
{
    MAILBOX->self_checks = MAILBOX->self_checks + 1;
}

__attribute__((noreturn)) void guest_exit(uint64_t status)
{
    MAILBOX->status = status;
    if (boot_mode == UCKPT_BOOT_KVM) outb(UCKPT_PORT_DOORBELL, 0);
    /* Under PVH (or if the VMM ever resumes us) halt in ring 0. */
    for (;;) __asm__ volatile("int3");
}

static __attribute__((noreturn)) void bad_params(const char *reason)
{
    mailbox_set_error(reason);
    console_puts("uckpt guest: ");
    console_puts(reason);
    console_puts("\n");
    guest_exit(UCKPT_STATUS_BAD_PARAMS);
}

static int word_is(const char *s, const char *word)
{
    while (*word && *s == *word) s++, word++;
    return *word == 0 && (*s == '=' || *s == 0);
}

static uint64_t parse_u64(const char *s)
{
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
    return v;
}

/* PVH guests get their parameters as "workload=NAME seed=S size=X param=Y
 * repeat=R" on the kernel command line (copied into the mailbox). */
static void params_from_cmdline(volatile struct uckpt_mailbox *mb)
{
    char line[UCKPT_CMDLINE_BYTES];
    for (unsigned i = 0; i < UCKPT_CMDLINE_BYTES; i++) line[i] = mb->cmdline[i];
    line[UCKPT_CMDLINE_BYTES - 1] = 0;
    mb->workload = wl_count;
    mb->repeat = 1;
    for (char *p = line; *p;) {
        while (*p == ' ') p++;
        char *value = p;
        while (*value && *value != '=' && *value != ' ') value++;
        if (*value == '=') value++;
        if (word_is(p, "workload")) {
            for (size_t w = 0; w < wl_count; w++) {
                const char *name = wl_all[w]->name;
                unsigned n = 0;
                while (name[n] && value[n] == name[n]) n++;
                if (!name[n] && (value[n] == ' ' || !value[n])) mb->workload = w;
            }
        } else if (word_is(p, "seed")) {
            mb->seed = parse_u64(value);
        } else if (word_is(p, "size")) {
            mb->size = parse_u64(value);
        } else if (word_is(p, "param")) {
            mb->param = parse_u64(value);
        } else if (word_is(p, "repeat")) {
            mb->repeat = parse_u64(value);
        }
        while (*p && *p != ' ') p++;
    }
}

__attribute__((noreturn)) void guest_main(uint64_t mode)
{
    volatile struct uckpt_mailbox *mb = MAILBOX;
    boot_mode = mode;
    if (mb->magic != UCKPT_MAILBOX_MAGIC) bad_params("mailbox magic missing: the VMM wrote no parameters");
    if (mode == UCKPT_BOOT_PVH) params_from_cmdline(mb);
    uint64_t arena_start = ((uint64_t)__image_end + 4095) & ~4095ULL;
    if (mode == UCKPT_BOOT_KVM && mb->workload == UCKPT_FAULT_PROBE && mb->memory_bytes > arena_start) {
        fault_probe((uint8_t *)arena_start, mb->memory_bytes - arena_start);
    }
    if (mb->workload >= wl_count) bad_params("unknown workload");

    const wl_descriptor *wl = wl_all[mb->workload];
    wl_params params = {
        .seed = mb->seed,
        .size = mb->size ? mb->size : wl->default_size,
        .param = mb->param ? mb->param : wl->default_param,
    };
    wl_arena arena = {(uint8_t *)arena_start, mb->memory_bytes - arena_start};
    uint64_t need = wl->arena_bytes(&params);
    if (mb->memory_bytes <= arena_start || need > arena.bytes) {
        bad_params("not enough guest memory for this workload and size");
    }
    arena.bytes = need;
    mb->arena_base = arena_start;
    mb->arena_bytes = need;

    mb->progress_total = wl->progress_units(&params);
    mb->status = UCKPT_STATUS_RUNNING;
    console_puts("uckpt guest: ");
    console_puts(wl->name);
    console_puts(" seed=");
    console_put_u64(params.seed);
    console_puts(" size=");
    console_put_u64(params.size);
    console_puts(" param=");
    console_put_u64(params.param);
    console_puts("\n");

    /* RAM is zero on KVM; under Xen the toolstack's boot data lies above the image. */
    int zeroed = mode == UCKPT_BOOT_KVM;
    for (uint64_t run = 0; mb->repeat == 0 || run < mb->repeat; run++) {
        if (!zeroed) memset(arena.base, 0, arena.bytes);
        zeroed = 0;
        uint64_t checksum = 0;
        if (wl->run(&params, &arena, &checksum) != 0) {
            console_puts("uckpt guest: self-check failed\n");
            guest_exit(UCKPT_STATUS_FAILED);
        }
        mb->result = checksum;
        mb->runs_done = run + 1;
        console_puts("uckpt guest: run ");
        console_put_u64(run + 1);
        console_puts(" checksum ");
        console_put_hex(checksum);
        console_puts("\n");
    }
    guest_exit(UCKPT_STATUS_DONE);
}
