#!/usr/bin/env bash
# Builds the Linux test guest: Debian's kernel with a busybox initramfs that
# runs the workloads' host program (the checksum oracle, static) and
# uckpt-xs (xenstore client and heartbeat agent) under init.sh. Into
# OUT_DIR (default ../build/linux):
#   initramfs.cpio.gz   the initramfs
#   vmlinuz             a link to the installed Debian kernel
# Rebuilds only when an input changed (digest in initramfs.stamp).
#
#   build.sh [OUT_DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../build/linux}
workload=$here/../build/uckpt-workload-host
busybox=/bin/busybox

die() { echo "linux-guest: $*" >&2; exit 1; }
[[ -x $workload ]] || die "no $workload (make -C packages/guest)"
! ldd "$workload" >/dev/null 2>&1 || die "$workload is not static (make -C packages/guest clean all)"
! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is not static (apt-get install busybox-static)"
mapfile -t kernels < <(ls /boot/vmlinuz-* 2>/dev/null | sort -V)
((${#kernels[@]})) || die "no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
kernel=${kernels[-1]}

mkdir -p "$out"
digest=$(for f in "$0" "$here/init.sh" "$here/uckpt-xs.c" "$workload" "$busybox"; do sha256sum <"$f"; done \
    | sha256sum | cut -d' ' -f1)
if [[ -f $out/initramfs.stamp && $(cat "$out/initramfs.stamp") == "$digest" && -f $out/initramfs.cpio.gz ]]; then
    ln -sfn "$kernel" "$out/vmlinuz"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp}
cp "$busybox" "$root/bin/busybox"
cp "$workload" "$root/bin/uckpt-workload"
cc -O2 -Wall -Wextra -Werror -static -o "$root/bin/uckpt-xs" "$here/uckpt-xs.c"
install -m 755 "$here/init.sh" "$root/init"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$tmp/initramfs.cpio.gz"
mv "$tmp/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
ln -sfn "$kernel" "$out/vmlinuz"
echo "$digest" >"$out/initramfs.stamp"
echo "linux-guest: built $out/initramfs.cpio.gz ($(du -h "$out/initramfs.cpio.gz" | cut -f1), kernel $kernel)" >&2
