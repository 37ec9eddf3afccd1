#!/usr/bin/env bash
# Builds what the KVM rig boots, into a cache directory:
#   vmlinuz            the rig's kernel (see "Which kernel" below)
#   initramfs.cpio.gz  static busybox, that kernel's KVM (ccp, irqbypass, kvm, kvm_amd),
#                      virtio-9p, overlay and virtio-net modules, /init (init.sh)
#   kernel.txt         which kernel was packed, and from where
# The rig runs everything else (node, the addons, vitest, ...) from the host's root, shared
# read-only over virtio-9p and chrooted into (see init.sh). Rebuilds only when an input
# changed (digest in initramfs.stamp); touches the network only when the cache holds no
# backports kernel yet (or with --refresh-kernel).
#
# Which kernel (env UCKPT_KVM_RIG_KERNEL):
#   backports (default)  Debian 12's backports kernel (linux-image-6.12.*+deb12-amd64, the
#                        one bookworm-backports' linux-image-amd64 depends on). It has
#                        userfaultfd write protection of unpopulated memory
#                        (UFFD_FEATURE_WP_UNPOPULATED), which copy-on-write checkpoints need;
#                        6.1 lacks it and copy-on-write falls back to stop-and-copy there.
#                        Its .deb is fetched with apt-get under a private configuration in
#                        the cache (nothing in /etc/apt changes, nothing is installed) and
#                        kept there; when that fails (no apt, no network, no archive key)
#                        the installed kernel is used and a warning says so.
#   installed            the newest /boot/vmlinuz-* (linux-image-amd64), not the running one.
#
#   build-initramfs.sh [--refresh-kernel] [CACHE_DIR]   (default: e2e/kvm-rig/.cache;
#                                                        env UCKPT_KVM_RIG_CACHE)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
refresh=0
if [[ ${1:-} == --refresh-kernel ]]; then refresh=1; shift; fi
cache=${1:-${UCKPT_KVM_RIG_CACHE:-$here/.cache}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
want_kernel=${UCKPT_KVM_RIG_KERNEL:-backports}

say() { echo "build-initramfs: $*" >&2; }
die() { say "$*"; exit 1; }

missing=()
for p in qemu-system-x86 busybox-static cpio; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) || die "missing Debian packages: ${missing[*]} (apt-get install ${missing[*]})"
busybox=/bin/busybox
! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is not static (busybox-static)"  # ldd fails on static binaries

# --- The backports kernel: fetched once into $cache/kernel/ -----------------------------
kdir=$cache/kernel
suite=bookworm-backports
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# apt-get with a configuration of its own under $kdir/apt: only bookworm-backports in its
# sources, its own lists, caches and an empty dpkg status, so the host's apt state, pins and
# installed packages neither change nor matter.
apt_private() {  # apt_private apt-get|apt-cache ARGS...
    local a=$kdir/apt tool=$1
    shift
    "$tool" -q -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts="$a/empty" \
        -o Dir::Etc::Preferences="$a/empty/none" -o Dir::Etc::PreferencesParts="$a/empty" \
        -o Dir::State::Lists="$a/lists" -o Dir::State::status="$a/status" -o Dir::Cache="$a/cache" \
        -o Debug::NoLocking=true -o APT::Sandbox::User=root "$@"
}
fetch_backports_kernel() {
    command -v apt-get >/dev/null || { say "no apt-get"; return 1; }
    [[ -r $keyring ]] || { say "no $keyring (debian-archive-keyring)"; return 1; }
    local a=$kdir/apt pkg deb
    rm -rf "$a"
    mkdir -p "$a/empty" "$a/lists/partial" "$a/cache/archives/partial"
    : >"$a/status"
    echo "deb [signed-by=$keyring] http://deb.debian.org/debian $suite main" >"$a/sources.list"
    say "looking up the kernel in $suite"
    apt_private apt-get update >"$a/update.log" 2>&1 || { say "apt-get update failed: $(tail -n 3 "$a/update.log")"; return 1; }
    # linux-image-amd64 in backports depends on exactly one versioned image package.
    pkg=$(apt_private apt-cache show linux-image-amd64 2>/dev/null \
          | sed -n 's/^Depends: .*\(linux-image-[0-9][^ ,]*-amd64\).*/\1/p' | sort -V | tail -n 1)
    [[ -n $pkg ]] || { say "no linux-image-amd64 in $suite"; return 1; }
    say "fetching $pkg from $suite"
    (cd "$a/cache/archives/partial" && apt_private apt-get download "$pkg" >"$a/download.log" 2>&1) \
        || { say "apt-get download $pkg failed: $(tail -n 3 "$a/download.log")"; return 1; }
    deb=$(ls "$a/cache/archives/partial/${pkg}"_*.deb 2>/dev/null | head -n 1)
    [[ -n $deb ]] || { say "apt-get download left no .deb"; return 1; }
    rm -f "$kdir"/*.deb
    mv "$deb" "$kdir/"
    echo "$pkg $(basename "$deb")" >"$kdir/package"
    rm -rf "$a/lists" "$a/cache"  # the indexes: not needed again
}

kernel_deb="" source=""
if [[ $want_kernel == backports ]]; then
    mkdir -p "$kdir"
    if ((refresh)) || [[ ! -f $kdir/package || ! -f $kdir/$(cut -d' ' -f2 "$kdir/package" 2>/dev/null) ]]; then
        fetch_backports_kernel || say "WARNING: could not fetch the backports kernel; using the installed one (copy-on-write mode falls back to stop-and-copy on 6.1)"
    fi
    if [[ -f $kdir/package && -f $kdir/$(cut -d' ' -f2 "$kdir/package") ]]; then
        kernel_deb=$kdir/$(cut -d' ' -f2 "$kdir/package")
        source="$suite $(cut -d' ' -f1 "$kdir/package") ($(basename "$kernel_deb"))"
    fi
elif [[ $want_kernel != installed ]]; then
    die "UCKPT_KVM_RIG_KERNEL must be backports or installed, not '$want_kernel'"
fi

# --- Modules ------------------------------------------------------------------------------
# Modules to load; they and their dependencies (ccp, irqbypass, kvm; virtio, 9pnet, netfs,
# ...: from the kernel's modules.dep) are loaded dependencies first. A module the kernel has
# built in is skipped.
wanted=(kvm_amd virtio_pci 9pnet_virtio 9p overlay virtio_net)
# resolve_modules KROOT: sets vmlinuz, kver, moddir and order (paths relative to moddir).
resolve_modules() {
    local kroot=$1 kernels m rest b n w
    mapfile -t kernels < <(ls "$kroot"/boot/vmlinuz-* 2>/dev/null | sort -V)
    ((${#kernels[@]})) || die "no ${kroot}/boot/vmlinuz-*"
    vmlinuz=${kernels[-1]}
    kver=${vmlinuz##*/vmlinuz-}
    moddir=$kroot/lib/modules/$kver
    [[ -f $moddir/modules.dep ]] || moddir=$kroot/usr/lib/modules/$kver
    [[ -f $moddir/modules.dep ]] || die "no modules.dep for $kver"
    declare -gA deps=() bypath=() seen=()
    order=()
    while IFS=: read -r m rest; do
        deps[$m]=$rest
        b=${m##*/}; b=${b%%.ko*}; bypath[${b//-/_}]=$m
    done <"$moddir/modules.dep"
    for w in "${wanted[@]}"; do
        n=${w//-/_}
        if [[ -n ${bypath[$n]:-} ]]; then
            visit "${bypath[$n]}"
        elif ! sed 's,.*/,,; s/\.ko$//; s/-/_/g' "$moddir/modules.builtin" 2>/dev/null | grep -qx "$n"; then
            die "module $w neither in $moddir/modules.dep nor built in"
        fi
    done
}
visit() {  # dependencies first
    local m=$1 d
    [[ -n ${seen[$m]:-} ]] && return 0
    seen[$m]=1
    for d in ${deps[$m]}; do visit "$d"; done
    order+=("$m")
}

# --- Inputs and their digest --------------------------------------------------------------
if [[ -n $kernel_deb ]]; then
    # The .deb covers the kernel and every module: nothing to unpack to know whether
    # anything changed.
    kernel_digest=$( { echo "$source"; sha256sum <"$kernel_deb"; } )
else
    dpkg-query -W -f='${Status}' linux-image-amd64 2>/dev/null | grep -q 'install ok installed' \
        || die "no backports kernel and no linux-image-amd64 installed (apt-get install linux-image-amd64)"
    resolve_modules ""
    source="installed $(basename "$vmlinuz")"
    kernel_digest=$( {
        echo "$source"; sha256sum <"$vmlinuz"
        for m in "${order[@]}"; do echo "$m"; sha256sum <"$moddir/$m"; done
    } )
fi
digest=$( {
    for f in "$0" "$here/init.sh" "$busybox"; do sha256sum <"$f"; done
    echo "$kernel_digest"
} | sha256sum | cut -d' ' -f1)
stamp=$cache/initramfs.stamp
if [[ -f $stamp && $(cat "$stamp") == "$digest" && -f $cache/initramfs.cpio.gz && -f $cache/vmlinuz ]]; then
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -n $kernel_deb ]]; then
    say "unpacking $(basename "$kernel_deb")"
    dpkg-deb -x "$kernel_deb" "$tmp/kernel"
    # The package leaves modules.dep to depmod at installation.
    for map in "$tmp"/kernel/boot/System.map-*; do
        depmod -b "$tmp/kernel" -F "$map" "${map##*/System.map-}" || die "depmod failed for ${map##*/System.map-}"
    done
    resolve_modules "$tmp/kernel"
fi
say "building in $cache (kernel $kver from $source, ${#order[@]} modules)"

root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,lower,host,ovl,rigout,etc,lib/modules,run,tmp}
cp "$busybox" "$root/bin/busybox"
packed=()
for m in "${order[@]}"; do
    # Packed uncompressed: busybox insmod need not know the kernel's compression.
    dst=${m%.xz}; dst=${dst%.zst}; dst=${dst%.gz}
    mkdir -p "$root/lib/modules/$(dirname "$dst")"
    case $m in
        *.xz) xz -dc "$moddir/$m" >"$root/lib/modules/$dst" ;;
        *.zst) zstd -qdc "$moddir/$m" >"$root/lib/modules/$dst" ;;
        *.gz) gzip -dc "$moddir/$m" >"$root/lib/modules/$dst" ;;
        *) cp "$moddir/$m" "$root/lib/modules/$dst" ;;
    esac
    packed+=("$dst")
done
printf '%s\n' "${packed[@]}" >"$root/etc/modules.order"
echo "$kver" >"$root/etc/kernel-version"
install -m 755 "$here/init.sh" "$root/init"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$tmp/initramfs.cpio.gz"
cp "$vmlinuz" "$tmp/vmlinuz"
{
    echo "kernel $kver"
    echo "from $source"
    echo "modules ${packed[*]}"
} >"$tmp/kernel.txt"

mv "$tmp/initramfs.cpio.gz" "$tmp/vmlinuz" "$tmp/kernel.txt" "$cache/"
echo "$digest" >"$stamp"
say "done ($(du -h "$cache/initramfs.cpio.gz" | cut -f1) initramfs, kernel $kver)"
