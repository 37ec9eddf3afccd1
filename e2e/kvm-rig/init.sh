#!/bin/busybox sh
# /init of the KVM rig (packed by build-initramfs.sh). Loads kvm_amd (QEMU's emulated SVM
# with nested paging gives a real /dev/kvm), the virtio-9p, overlay and virtio-net modules,
# mounts the host's root (9p tag "hostroot", read-only) under a tmpfs overlay at /host, the
# run's writable share (tag "rigout") at /host/run/rig and any writable host directories
# rig.sh lists in /rigout/shares, configures eth0 when qemu has one (user-mode network for
# --forward), then runs /run/rig/run.sh (written by rig.sh) chrooted into /host. Its exit
# code goes to /run/rig/rc, its output to /run/rig/stdout and /run/rig/stderr; then the
# kernel powers off (and qemu exits).
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

log() { echo "rig-init: $*" >/dev/console; }
up() { cut -d' ' -f1 /proc/uptime; }
off() { sync; sleep 0.2; poweroff -f; echo o >/proc/sysrq-trigger; sleep 60; }
fail() { log "FAILED: $*"; [ -d /rigout/. ] && echo "$*" >/rigout/init-error; off; }

log "userspace up at $(up) s (kernel $(cat /etc/kernel-version))"
while read -r m; do
    insmod "/lib/modules/$m" 2>/dev/null || log "insmod $m failed"
done </etc/modules.order
[ -c /dev/kvm ] && kvm=yes || kvm=no
log "modules loaded at $(up) s (/dev/kvm: $kvm)"

opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$opts,rw,cache=none" rigout /rigout || fail "cannot mount the rigout share"
[ $kvm = yes ] || fail "no /dev/kvm after loading kvm_amd (does qemu's CPU have svm? see console.log)"
mount -t 9p -o "$opts,ro,cache=loose" hostroot /lower || fail "cannot mount the hostroot share"

# Files rig.sh --preload-list packed after the initramfs, at their own paths: moved under
# /pre, which lies in front of the share, so they are read from RAM.
lower=/lower
preload=$(sed -n 's/.*rig\.preload=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$preload" ]; then
    mkdir -p /pre
    for top in $(echo "$preload" | tr , ' '); do
        mv "/$top" "/pre/$top" || fail "cannot move the preloaded /$top"
    done
    lower=/pre:/lower
    log "preloaded files in RAM: $preload"
fi

# A writable view of the host's root: tmpfs over the read-only share (writes stay in the rig).
mount -t tmpfs -o size=75%,mode=755 tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay overlay -o "lowerdir=$lower,upperdir=/ovl/upper,workdir=/ovl/work" /host \
    || fail "cannot mount the overlay over the host's root"
mount -t tmpfs -o mode=755 tmpfs /host/run
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm /host/run/rig /host/run/lock
mount -t devpts devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount --bind /rigout /host/run/rig
[ -f /host/run/rig/run.sh ] || fail "no run.sh in the rigout share"
# Host directories shared writable (rig.sh --share): "TAG PATH" lines, mounted at PATH.
# cache=mmap: shared writable mappings work there (SQLite's WAL index needs them).
if [ -f /rigout/shares ]; then
    while read -r tag path; do
        mkdir -p "/host$path" 2>/dev/null
        mount -t 9p -o "$opts,rw,cache=mmap" "$tag" "/host$path" || fail "cannot mount the share $tag at $path"
    done </rigout/shares
fi
log "host root mounted at $(up) s"

ip link set lo up
# qemu's user-mode network (rig.sh --forward): its fixed addresses, no DHCP needed.
if [ -e /sys/class/net/eth0 ]; then
    ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && ip route add default via 10.0.2.2 \
        || fail "cannot configure eth0"
    log "eth0 up (10.0.2.15) at $(up) s"
fi
log "ready at $(up) s"

chroot /host /bin/bash /run/rig/run.sh </dev/null >/rigout/stdout 2>/rigout/stderr
rc=$?
echo "$rc" >/rigout/rc.tmp && mv /rigout/rc.tmp /rigout/rc
log "command exited $rc at $(up) s"
off
