#!/usr/bin/env bash
# Builds what the nested-Xen rig boots, into a cache directory:
#   xen.elf            the hypervisor (/boot/xen-4.17-amd64.gz, decompressed: qemu -kernel
#                      wants the 32-bit multiboot ELF)
#   vmlinuz            dom0's kernel (Debian's linux-image-amd64)
#   initramfs.cpio.gz  static busybox, the Xen and virtio-9p modules of that kernel, /init
#   xen-mailbox        reads a PVH domU's mailbox page (run inside dom0, see domu.sh)
#   memaccess-probe    measures mem_access/vm_event copy-on-write on a domU (run inside
#                      dom0, see memaccess-compare.sh)
# and has packages/guest/linux/build.sh build the Linux test guest.
# dom0 runs everything else (xenstored, xl, node, ...) from the host's root, shared
# read-only over virtio-9p and chrooted into (see init.sh). Rebuilds only when an input
# changed (digest in initramfs.stamp).
#
#   build-initramfs.sh [CACHE_DIR]      (default: e2e/xen/.cache; env UCKPT_XEN_CACHE)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${1:-${UCKPT_XEN_CACHE:-$here/.cache}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

die() { echo "build-initramfs: $*" >&2; exit 1; }

# Debian packages the rig needs (see xen-rig.md).
missing=()
for p in qemu-system-x86 xen-hypervisor-4.17-amd64 xen-utils-4.17 libxen-dev linux-image-amd64 \
         busybox-static cpio; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) || die "missing Debian packages: ${missing[*]} (apt-get install ${missing[*]})"

xen_gz=/boot/xen-4.17-amd64.gz
[[ -f $xen_gz ]] || die "$xen_gz not found (xen-hypervisor-4.17-amd64)"
# The installed Debian kernel, not the one this machine runs.
mapfile -t kernels < <(ls /boot/vmlinuz-* 2>/dev/null | sort -V)
((${#kernels[@]})) || die "no /boot/vmlinuz-* (linux-image-amd64)"
vmlinuz=${kernels[-1]}
kver=${vmlinuz#/boot/vmlinuz-}
moddir=/lib/modules/$kver
[[ -f $moddir/modules.dep ]] || die "$moddir/modules.dep not found"
busybox=/bin/busybox
! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is not static (busybox-static)"  # ldd fails on static binaries

# Modules to load, in this order; dependencies are resolved from modules.dep.
wanted=(xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc
        virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
        9pnet 9pnet_virtio netfs fscache 9p overlay)
declare -A deps=()
while IFS=: read -r mod rest; do deps[$mod]=$rest; done <"$moddir/modules.dep"
modpath() {
    local name=${1//-/_} m b
    for m in "${!deps[@]}"; do
        b=${m##*/}; b=${b%%.ko*}
        [[ ${b//-/_} == "$name" ]] && { echo "$m"; return 0; }
    done
    return 1
}
declare -A seen=()
order=()
visit() {  # dependencies first
    local m=$1 d
    [[ -n ${seen[$m]:-} ]] && return 0
    seen[$m]=1
    for d in ${deps[$m]}; do visit "$d"; done
    order+=("$m")
}
for w in "${wanted[@]}"; do
    p=$(modpath "$w") || die "module $w not found in $moddir"
    visit "$p"
done

mailbox_src=$here/xen-mailbox.c
probe_src=$here/memaccess-probe.c
abi=$repo/packages/guest/include/uckpt_guest_abi.h

# The Linux test guest (its own cache, in packages/guest/build/linux).
"$repo/packages/guest/linux/build.sh" || die "the Linux test guest did not build"

# Digest of every input.
digest=$( {
    echo "$kver"
    for f in "$0" "$here/init.sh" "$mailbox_src" "$probe_src" "$abi" "$busybox" "$xen_gz" "$vmlinuz"; do
        sha256sum <"$f"
    done
    for m in "${order[@]}"; do echo "$m"; sha256sum <"$moddir/$m"; done
} | sha256sum | cut -d' ' -f1)
stamp=$cache/initramfs.stamp
if [[ -f $stamp && $(cat "$stamp") == "$digest" && -f $cache/initramfs.cpio.gz && -f $cache/xen.elf \
      && -f $cache/vmlinuz && -x $cache/xen-mailbox && -x $cache/memaccess-probe ]]; then
    exit 0
fi
echo "build-initramfs: building in $cache (kernel $kver, ${#order[@]} modules)" >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,lower,host,ovl,etc,lib/modules,run,tmp}
cp "$busybox" "$root/bin/busybox"
for m in "${order[@]}"; do
    mkdir -p "$root/lib/modules/$(dirname "$m")"
    cp "$moddir/$m" "$root/lib/modules/$m"
done
printf '%s\n' "${order[@]}" >"$root/etc/modules.order"
install -m 755 "$here/init.sh" "$root/init"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$tmp/initramfs.cpio.gz"

zcat "$xen_gz" >"$tmp/xen.elf"
cp "$vmlinuz" "$tmp/vmlinuz"
cc -O2 -Wall -Wextra -I"$repo/packages/guest/include" -o "$tmp/xen-mailbox" "$mailbox_src" \
    -lxenforeignmemory -lxenctrl
cc -O2 -Wall -Wextra -I"$repo/packages/guest/include" -o "$tmp/memaccess-probe" "$probe_src" \
    -lxenforeignmemory -lxenevtchn -lxenctrl

mv "$tmp/initramfs.cpio.gz" "$tmp/xen.elf" "$tmp/vmlinuz" "$tmp/xen-mailbox" "$tmp/memaccess-probe" "$cache/"
echo "$digest" >"$stamp"
echo "build-initramfs: done ($(du -h "$cache/initramfs.cpio.gz" | cut -f1) initramfs)" >&2
