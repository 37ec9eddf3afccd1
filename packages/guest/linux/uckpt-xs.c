/*
 * uckpt-xs: the Linux guest's tiny xenstore client and heartbeat agent,
 * speaking the xenbus wire protocol over /dev/xen/xenbus (the kernel's
 * xenbus frontend device), so that the guest needs no Xen library.
 *
 *   uckpt-xs read KEY              prints the value; exit 1 if there is none
 *   uckpt-xs write KEY VALUE
 *   uckpt-xs heartbeat KEY MS      writes 1, 2, 3, ... to KEY every MS ms, forever
 *
 * A KEY without a leading slash is relative to the domain's own home,
 * /local/domain/<domid>/: a guest may write under its data/ directory, and
 * dom0 reads it there (this is the heartbeat detector's channel).
 *
 * Exit status: 0 success, 1 no such key, 2 bad arguments, 3 xenbus failed.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* xen/include/public/io/xs_wire.h */
enum { XS_READ = 2, XS_WRITE = 11, XS_ERROR = 16 };
struct xsd_sockmsg {
    uint32_t type, req_id, tx_id, len;
};
#define XENSTORE_PAYLOAD_MAX 4096

static int xenbus = -1;
static uint32_t next_req_id = 1;

static void die(const char *what)
{
    fprintf(stderr, "uckpt-xs: %s: %s\n", what, strerror(errno));
    exit(3);
}

static int write_all(const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(xenbus, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(void *data, size_t len)
{
    char *p = data;
    while (len) {
        ssize_t n = read(xenbus, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Sends one request (parts joined with NULs as the wire wants) and reads
 * its answer into reply (NUL-terminated). Returns the answer's type.
 */
static uint32_t request(uint32_t type, const char *a, const char *b, char reply[XENSTORE_PAYLOAD_MAX + 1])
{
    char payload[XENSTORE_PAYLOAD_MAX];
    size_t la = strlen(a) + 1, lb = b ? strlen(b) : 0;  /* a value is sent without its NUL */
    if (la + lb > sizeof payload) {
        fprintf(stderr, "uckpt-xs: key and value exceed xenstore's %d bytes\n", XENSTORE_PAYLOAD_MAX);
        exit(2);
    }
    memcpy(payload, a, la);
    if (b) memcpy(payload + la, b, lb);
    struct xsd_sockmsg msg = {type, next_req_id++, 0, (uint32_t)(la + lb)};
    if (write_all(&msg, sizeof msg) || write_all(payload, msg.len)) die("write /dev/xen/xenbus");

    struct xsd_sockmsg answer;
    if (read_all(&answer, sizeof answer)) die("read /dev/xen/xenbus");
    if (answer.len > XENSTORE_PAYLOAD_MAX) {
        errno = EPROTO;
        die("xenstore answer too long");
    }
    if (read_all(reply, answer.len)) die("read /dev/xen/xenbus");
    reply[answer.len] = 0;
    return answer.type;
}

static void write_key(const char *key, const char *value)
{
    char reply[XENSTORE_PAYLOAD_MAX + 1];
    if (request(XS_WRITE, key, value, reply) == XS_ERROR) {
        fprintf(stderr, "uckpt-xs: write %s: %s\n", key, reply);
        exit(3);
    }
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) && errno == EINTR) {}
}

static void usage(void)
{
    fprintf(stderr, "usage: uckpt-xs read KEY | write KEY VALUE | heartbeat KEY MS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3) usage();
    xenbus = open("/dev/xen/xenbus", O_RDWR);
    if (xenbus < 0) die("open /dev/xen/xenbus");

    if (!strcmp(argv[1], "read") && argc == 3) {
        char reply[XENSTORE_PAYLOAD_MAX + 1];
        if (request(XS_READ, argv[2], NULL, reply) == XS_ERROR) {
            if (!strcmp(reply, "ENOENT")) return 1;
            fprintf(stderr, "uckpt-xs: read %s: %s\n", argv[2], reply);
            return 3;
        }
        puts(reply);
        return 0;
    }
    if (!strcmp(argv[1], "write") && argc == 4) {
        write_key(argv[2], argv[3]);
        return 0;
    }
    if (!strcmp(argv[1], "heartbeat") && argc == 4) {
        char *end;
        long ms = strtol(argv[3], &end, 10);
        if (*end || ms < 10 || ms > 3600000) {
            fprintf(stderr, "uckpt-xs: heartbeat interval must be 10..3600000 ms, not %s\n", argv[3]);
            return 2;
        }
        char count[24];
        for (unsigned long long beat = 1;; beat++) {
            snprintf(count, sizeof count, "%llu", beat);
            write_key(argv[2], count);
            sleep_ms(ms);
        }
    }
    usage();
}
