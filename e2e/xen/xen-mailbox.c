/*
 * Reads the mailbox page (guest-physical 0x1000) of a running uckpt workload domU through
 * libxenforeignmemory, polling until its status is final, and prints one JSON line like
 * packages/guest/pvh-smoke.sh:
 *   {"status":"done","checksum":"<16 hex>","error":"","console":[...],"ms":N,"domid":D}
 * Exits 0 only for status "done". Runs inside dom0 (built by build-initramfs.sh).
 *
 *   xen-mailbox DOMID [TIMEOUT_S (60)]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>

#include "uckpt_guest_abi.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void json_str(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\t') printf("\\t");
        else if (c >= 0x20 && c < 0x7f) putchar(c);
    }
    putchar('"');
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DOMID [TIMEOUT_S]\n", argv[0]);
        return 2;
    }
    uint32_t domid = (uint32_t)strtoul(argv[1], NULL, 0);
    double timeout = argc > 2 ? atof(argv[2]) : 60;

    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
    if (!xch || !fm) {
        fprintf(stderr, "xen-mailbox: cannot open libxenctrl/libxenforeignmemory: %s\n", strerror(errno));
        return 2;
    }
    xen_pfn_t pfn = UCKPT_MAILBOX_GPA >> 12;
    int err = 0;
    const volatile struct uckpt_mailbox *mb =
        xenforeignmemory_map(fm, domid, PROT_READ, 1, &pfn, &err);
    if (!mb || err) {
        fprintf(stderr, "xen-mailbox: cannot map pfn %#lx of domain %u: %s (err %d)\n",
                (unsigned long)pfn, domid, strerror(errno), err);
        return 2;
    }

    const char *state = "timeout";
    double start = now();
    for (;;) {
        uint64_t st = mb->status;
        if (st == UCKPT_STATUS_DONE) { state = "done"; break; }
        if (st == UCKPT_STATUS_FAILED) { state = "failed"; break; }
        if (st == UCKPT_STATUS_EXCEPTION) { state = "exception"; break; }
        if (st == UCKPT_STATUS_BAD_PARAMS) { state = "bad_params"; break; }
        xc_dominfo_t info;
        if (xc_domain_getinfo(xch, domid, 1, &info) != 1 || info.domid != domid) { state = "domain-gone"; break; }
        if (info.crashed) { state = "domain-crashed"; break; }
        if (info.shutdown) { state = "domain-shutdown"; break; }
        if (now() - start > timeout) break;
        usleep(20000);
    }
    double ms = (now() - start) * 1000;

    /* Copy the page once the status is final: the guest writes nothing after it. */
    struct uckpt_mailbox m;
    memcpy(&m, (const void *)mb, sizeof m);
    char errbuf[UCKPT_ERROR_BYTES + 160];
    if (m.status == UCKPT_STATUS_EXCEPTION)
        snprintf(errbuf, sizeof errbuf, "vector %llu error 0x%llx rip 0x%llx cr2 0x%llx rsp 0x%llx",
                 (unsigned long long)m.exc_vector, (unsigned long long)m.exc_error,
                 (unsigned long long)m.exc_rip, (unsigned long long)m.exc_cr2,
                 (unsigned long long)m.exc_rsp);
    else
        snprintf(errbuf, sizeof errbuf, "%.*s", UCKPT_ERROR_BYTES, m.error);

    printf("{\"status\":\"%s\",\"checksum\":\"%016llx\",\"error\":", state, (unsigned long long)m.result);
    json_str(errbuf, sizeof errbuf);
    printf(",\"console\":[");
    /* The console ring: bytes ever written in console_head, oldest at head % size once wrapped. */
    uint64_t head = m.console_head, size = UCKPT_CONSOLE_BYTES;
    uint64_t first = head > size ? head - size : 0;
    char line[UCKPT_CONSOLE_BYTES + 1];
    size_t n = 0;
    int lines = 0;
    for (uint64_t i = first; i <= head; i++) {
        char c = i < head ? m.console[i % size] : '\n';
        if (c == '\n') {
            if (n) { if (lines++) putchar(','); json_str(line, n); }
            n = 0;
        } else if (c) {
            line[n++] = c;
            line[n] = 0;
        }
    }
    printf("],\"ms\":%.0f,\"domid\":%u,\"runs\":%llu,\"self_checks\":%llu}\n", ms, domid,
           (unsigned long long)m.runs_done, (unsigned long long)m.self_checks);
    xenforeignmemory_unmap(fm, (void *)mb, 1);
    xenforeignmemory_close(fm);
    xc_interface_close(xch);
    return strcmp(state, "done") == 0 ? 0 : 1;
}
