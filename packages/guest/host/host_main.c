/*
 * uckpt-workload-host: runs one workload kernel as an ordinary process, the
 * reference the guest image's checksums are compared against.
 *
 *   uckpt-workload-host --list
 *   uckpt-workload-host --workload NAME [--seed S] [--size X] [--param Y]
 *
 * Prints one line of JSON on stdout. Exit status: 0 success, 1 arena
 * allocation failed, 2 bad arguments, 3 the workload's self-check failed
 * (wl_fail), 4 the kernel broke its contract (progress units).
 *
 * Built with the kernels' flags, -mgeneral-regs-only included, so no
 * floating point here either: runtimeMs is formatted from integers.
 */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "workload.h"

#define PAGE 4096ULL
/* Keeps every kernel's size arithmetic far from 64-bit overflow. */
#define MAX_KNOB (1ULL << 32)

static const wl_descriptor *current;
static uint64_t progress_seen;

void wl_progress(uint64_t units)
{
    progress_seen += units;
}

static uint64_t self_checks;

void wl_checked(void)
{
    self_checks++;
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_error(const char *reason)
{
    printf("{\"workload\":");
    json_string(current->name);
    printf(",\"error\":");
    json_string(reason);
    printf("}\n");
    fflush(stdout);
}

void wl_fail(const char *reason)
{
    print_error(reason);
    exit(3);
}

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "uckpt-workload-host: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: uckpt-workload-host --list\n"
                    "       uckpt-workload-host --workload NAME [--seed S] [--size X] [--param Y]\n");
    exit(2);
}

static uint64_t parse_u64(const char *flag, const char *s, uint64_t max)
{
    uint64_t v = 0;
    if (s == NULL)
        usage_error("%s needs a value", flag);
    if (*s == '\0')
        usage_error("%s needs a non-empty value", flag);
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            usage_error("%s: not a non-negative decimal integer: '%s'", flag, s);
        uint64_t d = (uint64_t)(*c - '0');
        if (v > (max - d) / 10)
            usage_error("%s: value out of range (max %llu): '%s'", flag, (unsigned long long)max, s);
        v = v * 10 + d;
    }
    return v;
}

static void list(void)
{
    putchar('[');
    for (size_t i = 0; i < wl_count; i++) {
        const wl_descriptor *d = wl_all[i];
        printf("%s{\"name\":", i ? "," : "");
        json_string(d->name);
        printf(",\"summary\":");
        json_string(d->summary);
        printf(",\"sizeUnit\":");
        json_string(d->size_unit);
        printf(",\"defaultSize\":%llu,\"paramUnit\":", (unsigned long long)d->default_size);
        if (d->param_unit)
            json_string(d->param_unit);
        else
            printf("null");
        printf(",\"defaultParam\":%llu}", (unsigned long long)d->default_param);
    }
    printf("]\n");
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *name = NULL;
    wl_params p = { 1, 0, 0 };
    int have_param = 0;

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        list();
        return 0;
    }
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i], *val = argv[i + 1];
        if (strcmp(flag, "--workload") == 0) {
            if (val == NULL)
                usage_error("%s needs a value", flag);
            name = val;
        } else if (strcmp(flag, "--seed") == 0) {
            p.seed = parse_u64(flag, val, UINT64_MAX);
        } else if (strcmp(flag, "--size") == 0) {
            p.size = parse_u64(flag, val, MAX_KNOB);
        } else if (strcmp(flag, "--param") == 0) {
            p.param = parse_u64(flag, val, MAX_KNOB);
            have_param = 1;
        } else if (strcmp(flag, "--list") == 0) {
            usage_error("%s takes no other arguments", flag);
        } else {
            usage_error("unknown argument '%s'", flag);
        }
    }
    if (name == NULL)
        usage_error("missing --workload NAME (or --list)");
    for (size_t i = 0; i < wl_count; i++)
        if (strcmp(wl_all[i]->name, name) == 0)
            current = wl_all[i];
    if (current == NULL)
        usage_error("unknown workload '%s' (see --list)", name);
    if (have_param && current->param_unit == NULL)
        usage_error("workload '%s' takes no --param", name);

    /* 0 means default, as in the guest. */
    if (p.size == 0)
        p.size = current->default_size;
    if (p.param == 0)
        p.param = current->default_param;

    uint64_t bytes = current->arena_bytes(&p);
    uint64_t units = current->progress_units(&p);
    uint64_t mapped = (bytes + PAGE - 1) / PAGE * PAGE;
    /* A PROT_NONE guard page turns an arena overrun into a crash. */
    uint8_t *base = mmap(NULL, mapped + PAGE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED || mprotect(base + mapped, PAGE, PROT_NONE) != 0) {
        fprintf(stderr, "uckpt-workload-host: cannot map %llu bytes of arena for %s\n",
                (unsigned long long)bytes, current->name);
        return 1;
    }
    wl_arena arena = { base, mapped };
    uint64_t checksum = 0;

    uint64_t t0 = now_ns();
    int rc = current->run(&p, &arena, &checksum);
    uint64_t ns = now_ns() - t0;

    if (rc != 0) {
        print_error("run failed without calling wl_fail");
        return 4;
    }
    if (progress_seen != units) {
        char msg[128];
        snprintf(msg, sizeof msg, "reported %llu progress units, progress_units() promised %llu",
                 (unsigned long long)progress_seen, (unsigned long long)units);
        fprintf(stderr, "uckpt-workload-host: %s: %s\n", current->name, msg);
        print_error(msg);
        return 4;
    }
    printf("{\"workload\":");
    json_string(current->name);
    printf(",\"seed\":%llu,\"size\":%llu,\"param\":%llu,\"checksum\":\"%016llx\","
           "\"runtimeMs\":%llu.%03llu,\"progressUnits\":%llu,\"arenaBytes\":%llu,\"selfChecks\":%llu}\n",
           (unsigned long long)p.seed, (unsigned long long)p.size, (unsigned long long)p.param,
           (unsigned long long)checksum, (unsigned long long)(ns / 1000000),
           (unsigned long long)(ns / 1000 % 1000), (unsigned long long)units,
           (unsigned long long)bytes, (unsigned long long)self_checks);
    return 0;
}
