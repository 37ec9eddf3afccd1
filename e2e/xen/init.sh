#!/bin/busybox sh
# /init of the rig's dom0 (packed by build-initramfs.sh). Loads the Xen and virtio-9p
# modules, mounts the host's root (9p tag "hostroot", read-only) under a tmpfs overlay at
# /host, the run's writable share (tag "rigout") at /host/run/rig, starts xenstored,
# xen-init-dom0 and xenconsoled from the host's xen-utils, then runs /run/rig/run.sh
# (written by rig.sh) chrooted into /host. Its exit code goes to /run/rig/rc, its output
# to /run/rig/stdout and /run/rig/stderr; then dom0 powers off (and with it Xen and qemu).
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
ip link set lo up  # the only network dom0 has (qemu -net none): servers under test listen on it

log() { echo "rig-init: $*" >/dev/console; }
up() { cut -d' ' -f1 /proc/uptime; }
off() { sync; sleep 0.2; poweroff -f; echo o >/proc/sysrq-trigger; sleep 60; }
fail() { log "FAILED: $*"; [ -d /rigout/. ] && echo "$*" >/rigout/init-error; off; }

log "userspace up at $(up) s"
while read -r m; do
    insmod "/lib/modules/$m" 2>/dev/null || log "insmod $m failed"
done </etc/modules.order

opts=trans=virtio,version=9p2000.L,msize=262144
mkdir -p /rigout
mount -t 9p -o "$opts,rw,cache=none" rigout /rigout || fail "cannot mount the rigout share"
mount -t 9p -o "$opts,ro,cache=loose" hostroot /lower || fail "cannot mount the hostroot share"

# A writable view of the host's root: tmpfs over the read-only share (writes stay in dom0).
mount -t tmpfs -o size=384m,mode=755 tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
if mount -t overlay overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work /host 2>/dev/null; then
    rootmode=overlay
else
    rootmode=read-only
    mount --bind /lower /host
    for d in var/lib/xen var/log/xen root; do
        [ -d "/host/$d" ] && mount -t tmpfs -o mode=755 tmpfs "/host/$d"
    done
fi
# /tmp: the host's, writable, under the overlay; a plain tmpfs without it. /run: always fresh.
[ $rootmode = overlay ] || mount -t tmpfs -o mode=1777 tmpfs /host/tmp
mount -t tmpfs -o mode=755 tmpfs /host/run
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm /host/run/rig /host/run/lock /host/run/xen /host/run/xenstored
mount -t devpts devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t xenfs xenfs /host/proc/xen || fail "cannot mount xenfs on /host/proc/xen"
mount --bind /rigout /host/run/rig
[ -f /host/run/rig/run.sh ] || fail "no run.sh in the rigout share"
log "host root mounted ($rootmode) at $(up) s"

xv=$(cat /sys/hypervisor/version/major 2>/dev/null).$(cat /sys/hypervisor/version/minor 2>/dev/null)
X=/usr/lib/xen-$xv/bin
[ -x "/host$X/xenstored" ] || fail "no $X/xenstored on the host (xen-utils-$xv)"
chroot /host /usr/bin/env XENSTORED_ROOTDIR=/run/xenstored "$X/xenstored" --pid-file /run/xenstore.pid \
    || fail "xenstored did not start"
log "xenstored started at $(up) s"
i=0
until chroot /host xenstore-read -s / >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -gt 300 ] && fail "xenstored not answering"; sleep 0.1
done
log "xenstored answering at $(up) s"
chroot /host "$X/xen-init-dom0" >/dev/null || fail "xen-init-dom0 failed"
# Each guest's console goes to /var/log/xen/console/guest-NAME.log too: the
# console detector and the tests read what Linux guests print.
mkdir -p /host/var/log/xen/console
chroot /host "$X/xenconsoled" --pid-file /run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console \
    || fail "xenconsoled did not start"
log "dom0 ready at $(up) s (Xen $xv)"

chroot /host /bin/bash /run/rig/run.sh </dev/null >/rigout/stdout 2>/rigout/stderr
rc=$?
echo "$rc" >/rigout/rc.tmp && mv /rigout/rc.tmp /rigout/rc
log "command exited $rc at $(up) s"
off
