/*
 * Measures copy-on-write through Xen's mem_access write protection and vm_event from dom0
 * (what the paper does inside the hypervisor), on a running uckpt workload domU, without
 * touching the backend. Runs inside dom0 (built by build-initramfs.sh).
 *
 *   memaccess-probe DOMID [SECONDS (5)] [INTERVAL_MS (50)]
 *   memaccess-probe --rate DOMID [SECONDS (5)]
 *
 * Both first wait until the guest reports progress, then measure its progress rate
 * (mailbox progress counter, pfn 1) for SECONDS with nothing attached. --rate stops there.
 * Otherwise the probe then enables the monitor ring (xc_monitor_enable), and for SECONDS
 * runs an epoch every INTERVAL_MS: pause, write-protect every RAM page (XENMEM_access_rx on
 * pfns 0..nr_pages-1, in chunks; chunks that fail are retried page by page and failing
 * pages skipped), unpause. Between epochs it serves the write faults: for each mem_access
 * request it copies the page (the pre-image save, 4 KiB memcpy from a foreign mapping
 * made once), gives the page back rwx and resumes the vCPU (VM_EVENT_FLAG_VCPU_PAUSED).
 * Prints one JSON line: epochs, faults, faults per epoch, the time per fault seen by dom0
 * (request taken off the ring to response pushed), the write-protect time per epoch (the
 * pause of CoW) and both progress rates. When Xen refuses mem_access the line carries
 * "error" with the call and Xen's errno, and the exit code is 3.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/io/ring.h>
#include <xen/vm_event.h>

#include "uckpt_guest_abi.h"

#define PAGE 4096u
#define MAP_CHUNK 1024u
#define PROTECT_CHUNK 4096u

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* A growable list of samples, for mean / p50 / p99. */
struct samples { double *v; size_t n, cap; };
static void add(struct samples *s, double x) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
        if (!s->v) { perror("realloc"); exit(2); }
    }
    s->v[s->n++] = x;
}
static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double at(const struct samples *s, double q) {  /* s sorted */
    if (!s->n) return 0;
    size_t i = (size_t)(q * s->n + 0.999999);
    return s->v[i ? (i > s->n ? s->n : i) - 1 : 0];
}
static void print_stats(const char *name, struct samples *s) {
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) sum += s->v[i];
    qsort(s->v, s->n, sizeof *s->v, cmp);
    printf("\"%s\":{\"mean\":%.3f,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", name, s->n ? sum / s->n : 0,
           at(s, 0.5), at(s, 0.99), at(s, 1));
}

static xc_interface *xch;
static xenforeignmemory_handle *fm;
static uint32_t domid;
static unsigned long nr;           /* RAM pages protected: pfns 0..nr-1 */
static uint8_t **pages;            /* pages[pfn]: its read-only foreign mapping, or NULL */
static const volatile struct uckpt_mailbox *mb;

static int map_ram(void) {
    pages = calloc(nr, sizeof *pages);
    xen_pfn_t *pfns = malloc(MAP_CHUNK * sizeof *pfns);
    int *errs = malloc(MAP_CHUNK * sizeof *errs);
    if (!pages || !pfns || !errs) return -1;
    for (unsigned long base = 0; base < nr; base += MAP_CHUNK) {
        unsigned n = nr - base < MAP_CHUNK ? nr - base : MAP_CHUNK;
        for (unsigned i = 0; i < n; i++) pfns[i] = base + i;
        uint8_t *m = xenforeignmemory_map(fm, domid, PROT_READ, n, pfns, errs);
        if (!m) continue;  /* a whole chunk of holes */
        for (unsigned i = 0; i < n; i++) pages[base + i] = errs[i] ? NULL : m + (size_t)i * PAGE;
    }
    free(pfns);
    free(errs);
    return pages[UCKPT_MAILBOX_GPA / PAGE] ? 0 : -1;
}

struct rate { uint64_t units; double s; };
static struct rate measure_rate(double seconds) {
    uint64_t p0 = mb->progress;
    double t0 = now();
    sleep_s(seconds);
    return (struct rate){mb->progress - p0, now() - t0};
}
static void print_rate(const char *name, struct rate r) {
    printf("\"%s\":{\"units\":%llu,\"s\":%.3f,\"perS\":%.3f}", name, (unsigned long long)r.units, r.s,
           r.s > 0 ? r.units / r.s : 0);
}

/* Sets access on pfns 0..nr-1; chunks that fail are retried page by page. Returns the pages
 * that failed; *first_errno gets the first error. */
static unsigned long set_access_all(xenmem_access_t access, int *first_errno) {
    unsigned long failed = 0;
    for (unsigned long base = 0; base < nr; base += PROTECT_CHUNK) {
        uint32_t n = nr - base < PROTECT_CHUNK ? nr - base : PROTECT_CHUNK;
        if (xc_set_mem_access(xch, domid, access, base, n) == 0) continue;
        if (!*first_errno) *first_errno = errno;
        for (uint32_t i = 0; i < n; i++)
            if (xc_set_mem_access(xch, domid, access, base + i, 1) != 0) failed++;
    }
    return failed;
}

int main(int argc, char **argv) {
    int rate_only = 0;
    if (argc > 1 && strcmp(argv[1], "--rate") == 0) { rate_only = 1; argv++; argc--; }
    if (argc < 2) {
        fprintf(stderr, "usage: memaccess-probe [--rate] DOMID [SECONDS] [INTERVAL_MS]\n");
        return 2;
    }
    domid = (uint32_t)strtoul(argv[1], NULL, 0);
    double seconds = argc > 2 ? atof(argv[2]) : 5;
    double interval = (argc > 3 ? atof(argv[3]) : 50) / 1000;

    xch = xc_interface_open(NULL, NULL, 0);
    fm = xenforeignmemory_open(NULL, 0);
    if (!xch || !fm) {
        fprintf(stderr, "memaccess-probe: cannot open libxenctrl/libxenforeignmemory: %s\n", strerror(errno));
        return 2;
    }
    xc_dominfo_t info;
    if (xc_domain_getinfo(xch, domid, 1, &info) != 1 || info.domid != domid) {
        fprintf(stderr, "memaccess-probe: no domain %u\n", domid);
        return 2;
    }
    /* A PVH domU's RAM starts at pfn 0 and is contiguous below 4 GiB for these sizes. */
    nr = info.nr_pages;
    if (map_ram() != 0) {
        fprintf(stderr, "memaccess-probe: cannot map the RAM of domain %u: %s\n", domid, strerror(errno));
        return 2;
    }
    mb = (const volatile struct uckpt_mailbox *)pages[UCKPT_MAILBOX_GPA / PAGE];
    for (double t0 = now(); mb->progress == 0; usleep(20000))
        if (now() - t0 > 120) { fprintf(stderr, "memaccess-probe: no progress in domain %u\n", domid); return 2; }

    struct rate base = measure_rate(seconds);
    printf("{\"domid\":%u,\"seconds\":%.1f,\"ramPages\":%lu,", domid, seconds, nr);
    print_rate("unprotected", base);
    if (rate_only) { printf("}\n"); return 0; }
    printf(",\"intervalMs\":%.0f,", interval * 1000);

    uint32_t remote_port = 0;
    void *ring_page = xc_monitor_enable(xch, domid, &remote_port);
    if (!ring_page) {
        int e = errno;
        printf("\"error\":\"xc_monitor_enable: %s (errno %d)\"}\n", strerror(e), e);
        return 3;
    }
    int rc = 0;
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenevtchn_port_or_error_t port = xce ? xenevtchn_bind_interdomain(xce, domid, remote_port) : -1;
    if (port < 0) {
        int e = errno;
        printf("\"error\":\"xenevtchn_bind_interdomain: %s (errno %d)\"}\n", strerror(e), e);
        rc = 3;
        goto disable;
    }
    vm_event_back_ring_t ring;
    SHARED_RING_INIT((vm_event_sring_t *)ring_page);
    BACK_RING_INIT(&ring, (vm_event_sring_t *)ring_page, XC_PAGE_SIZE);

    /* Does Xen take mem_access for this domain at all? Try the mailbox page alone first. */
    if (xc_set_mem_access(xch, domid, XENMEM_access_rx, UCKPT_MAILBOX_GPA / PAGE, 1) != 0) {
        int e = errno;
        printf("\"error\":\"xc_set_mem_access(XENMEM_access_rx, pfn 1, 1 page): %s (errno %d)\"}\n", strerror(e), e);
        rc = 3;
        goto unbind;
    }
    xc_set_mem_access(xch, domid, XENMEM_access_rwx, UCKPT_MAILBOX_GPA / PAGE, 1);

    uint8_t *store = malloc((size_t)nr * PAGE);  /* the epoch's pre-images, by pfn */
    if (!store) { perror("malloc"); rc = 2; goto unbind; }
    struct samples fault_us = {0}, protect_ms = {0}, per_epoch = {0};
    unsigned long epochs = 0, faults = 0, epoch_faults = 0, skipped = 0, other = 0, resumed_err = 0;
    int protect_errno = 0;
    uint64_t p0 = mb->progress;
    double start = now(), next = start;
    while (now() - start < seconds) {
        double t = now();
        if (t >= next) {
            if (epochs) add(&per_epoch, epoch_faults);
            epoch_faults = 0;
            double t0 = now();
            xc_domain_pause(xch, domid);
            skipped += set_access_all(XENMEM_access_rx, &protect_errno);
            xc_domain_unpause(xch, domid);
            add(&protect_ms, (now() - t0) * 1000);
            epochs++;
            next += interval;
            if (next < now()) next = now() + interval;
        }
        int wait_ms = (int)((next - now()) * 1000);
        struct pollfd pfd = {xenevtchn_fd(xce), POLLIN, 0};
        if (poll(&pfd, 1, wait_ms < 0 ? 0 : wait_ms) > 0) {
            xenevtchn_port_or_error_t p = xenevtchn_pending(xce);
            if (p >= 0) xenevtchn_unmask(xce, p);
        }
        int pushed = 0;
        while (RING_HAS_UNCONSUMED_REQUESTS(&ring)) {
            double t0 = now();
            vm_event_request_t req;
            RING_IDX cons = ring.req_cons;
            memcpy(&req, RING_GET_REQUEST(&ring, cons), sizeof req);
            ring.req_cons = ++cons;
            ring.sring->req_event = cons + 1;

            vm_event_response_t rsp;
            memset(&rsp, 0, sizeof rsp);
            rsp.version = VM_EVENT_INTERFACE_VERSION;
            rsp.vcpu_id = req.vcpu_id;
            rsp.flags = req.flags & VM_EVENT_FLAG_VCPU_PAUSED;
            rsp.reason = req.reason;
            if (req.reason == VM_EVENT_REASON_MEM_ACCESS) {
                uint64_t gfn = req.u.mem_access.gfn;
                rsp.u.mem_access = req.u.mem_access;
                if (gfn < nr && pages[gfn]) memcpy(store + gfn * PAGE, pages[gfn], PAGE);
                if (xc_set_mem_access(xch, domid, XENMEM_access_rwx, gfn, 1) != 0) resumed_err++;
                faults++;
                epoch_faults++;
            } else {
                other++;
            }
            RING_IDX prod = ring.rsp_prod_pvt;
            memcpy(RING_GET_RESPONSE(&ring, prod), &rsp, sizeof rsp);
            ring.rsp_prod_pvt = ++prod;
            RING_PUSH_RESPONSES(&ring);
            pushed = 1;
            if (req.reason == VM_EVENT_REASON_MEM_ACCESS) add(&fault_us, (now() - t0) * 1e6);
        }
        if (pushed) xenevtchn_notify(xce, port);
    }
    double elapsed = now() - start;
    uint64_t units = mb->progress - p0;

    /* Give every page back, answer what is left on the ring, then switch the monitor off. */
    int ignored = 0;
    set_access_all(XENMEM_access_rwx, &ignored);
    while (RING_HAS_UNCONSUMED_REQUESTS(&ring)) {
        vm_event_request_t req;
        RING_IDX cons = ring.req_cons;
        memcpy(&req, RING_GET_REQUEST(&ring, cons), sizeof req);
        ring.req_cons = ++cons;
        vm_event_response_t rsp;
        memset(&rsp, 0, sizeof rsp);
        rsp.version = VM_EVENT_INTERFACE_VERSION;
        rsp.vcpu_id = req.vcpu_id;
        rsp.flags = req.flags & VM_EVENT_FLAG_VCPU_PAUSED;
        rsp.reason = req.reason;
        rsp.u.mem_access = req.u.mem_access;
        RING_IDX prod = ring.rsp_prod_pvt;
        memcpy(RING_GET_RESPONSE(&ring, prod), &rsp, sizeof rsp);
        ring.rsp_prod_pvt = ++prod;
        RING_PUSH_RESPONSES(&ring);
    }
    xenevtchn_notify(xce, port);

    printf("\"epochs\":%lu,\"faults\":%lu,\"otherEvents\":%lu,\"rwxFailures\":%lu,\"protectSkippedPages\":%lu,"
           "\"protectFirstErrno\":%d,", epochs, faults, other, resumed_err, skipped, protect_errno);
    print_stats("faultsPerEpoch", &per_epoch);
    putchar(',');
    print_stats("faultUs", &fault_us);
    putchar(',');
    print_stats("protectMs", &protect_ms);
    putchar(',');
    print_rate("cow", (struct rate){units, elapsed});
    printf(",\"ratio\":%.3f}\n", base.units ? (units / elapsed) / (base.units / base.s) : 0);
    free(store);

unbind:
    if (port >= 0) xenevtchn_unbind(xce, port);
    if (xce) xenevtchn_close(xce);
disable:
    if (xc_monitor_disable(xch, domid) != 0)
        fprintf(stderr, "memaccess-probe: xc_monitor_disable: %s\n", strerror(errno));
    munmap(ring_page, XC_PAGE_SIZE);
    xc_interface_close(xch);
    return rc;
}
