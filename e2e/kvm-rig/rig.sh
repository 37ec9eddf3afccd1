#!/usr/bin/env bash
# Boots Debian's kernel under qemu-system-x86_64 with software emulation (TCG, no /dev/kvm
# needed on the host), loads kvm_amd on QEMU's emulated AMD SVM with nested paging, so the
# rig has a real /dev/kvm, runs CMD there and exits with CMD's exit code. The rig sees the
# host's root (read-only over virtio-9p, with a tmpfs overlay so writes work and stay in the
# rig), chroots into it and runs CMD from --cwd with the host's node on PATH.
#
#   rig.sh [--timeout S] [--cwd DIR] [--out DIR] [--env K=V]... [--share DIR]...
#          [--forward HOSTPORT:GUESTPORT]... [--verbose] -- CMD [ARGS...]
#
#   --timeout S   whole run, boot included (default 600; 0: none); exit 124 when reached
#   --cwd DIR     CMD's directory (default: the current one); must exist on the host
#   --out DIR     host directory for this run (default: a new /tmp/uckpt-kvm-rig.XXXXXX): it
#                 is mounted writable in the rig at $RIG_OUT (/run/rig) and gets console.log
#                 (the kernel's serial console and rig-init), stdout, stderr, rc
#   --env K=V     exported to CMD (repeatable)
#   --pass-env K  K exported to CMD with its value here, kept off command lines (secrets)
#   --share DIR   host directory mounted writable at the same path in the rig, so what CMD
#                 writes there reaches the host (repeatable; created if missing)
#   --forward H:G TCP port H on the host's 127.0.0.1 reaches port G in the rig (repeatable;
#                 qemu user-mode network). Servers in the rig must listen on 0.0.0.0 or on
#                 $RIG_GUEST_ADDR (10.0.2.15), not on 127.0.0.1.
#   --preload-list FILE
#                 host paths (one per line, directories whole) loaded into the rig's RAM at
#                 boot, in front of the host's root: read from there, not over 9p, as they
#                 were when the rig started. A path under a top directory the initramfs
#                 has too (/usr, /root, /tmp...) is left out, with a note: read over 9p
#   --verbose     also stream the serial console to stderr
# CMD's stdout/stderr are copied to the rig's stdout/stderr as they come; progress lines
# ("rig: ...") go to stderr. Exit codes: CMD's, 124 timeout, 125 rig/boot failure.
# SIGINT or SIGTERM asks CMD to stop (SIGTERM inside the rig) and waits up to 20 s for it
# before stopping qemu: a service in the rig shuts down as it would on the host.
# In the rig: UCKPT_KVM_RIG=1, RIG_OUT=/run/rig, HOME=/root, PATH with the host's node.
# env: UCKPT_KVM_RIG_CACHE (default e2e/kvm-rig/.cache), UCKPT_KVM_RIG_KERNEL (see
# build-initramfs.sh), QEMU (qemu-system-x86_64), RIG_MEM (6G), RIG_SMP (1)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
timeout=600 cwd=$PWD out="" verbose=0 envs=() shares=() forwards=() preload_list=""
usage() { sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 125; }
while (($#)); do
    case $1 in
        --timeout) timeout=$2; shift 2 ;;
        --cwd) cwd=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --env) envs+=("$2"); shift 2 ;;
        --pass-env) [[ -v $2 ]] || { echo "rig: --pass-env $2: not set" >&2; exit 125; }; envs+=("$2=${!2}"); shift 2 ;;
        --share) shares+=("$2"); shift 2 ;;
        --forward) forwards+=("$2"); shift 2 ;;
        --preload-list) preload_list=$2; shift 2 ;;
        --verbose) verbose=1; shift ;;
        --) shift; break ;;
        -h|--help) usage ;;
        *) break ;;
    esac
done
(($#)) || usage
say() { echo "rig: $*" >&2; }
die() { say "$*"; exit 125; }

qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || die "$qemu not found (Debian package qemu-system-x86)"
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout $timeout: seconds, a whole number"
cwd=$(cd "$cwd" && pwd) || die "--cwd $cwd: no such directory"
case $cwd/ in /run/*|/proc/*|/sys/*|/dev/*) die "--cwd $cwd is not visible in the rig (fresh /run, /proc, /sys, /dev there)" ;; esac
netdev=()
if ((${#forwards[@]})); then
    fwd=""
    for f in "${forwards[@]}"; do
        [[ $f =~ ^([0-9]+):([0-9]+)$ ]] || die "--forward $f: HOSTPORT:GUESTPORT"
        fwd+=",hostfwd=tcp:127.0.0.1:${BASH_REMATCH[1]}-:${BASH_REMATCH[2]}"
    done
    # restrict=on: the rig reaches nothing outside; only the forwarded ports reach it.
    netdev=(-netdev "user,id=n0,restrict=on$fwd" -device virtio-net-pci,netdev=n0)
else
    netdev=(-nic none)
fi
cache=${UCKPT_KVM_RIG_CACHE:-$here/.cache}
"$here/build-initramfs.sh" "$cache" || exit 125
cache=$(cd "$cache" && pwd)

if [[ -n $out ]]; then mkdir -p "$out"; else out=$(mktemp -d /tmp/uckpt-kvm-rig.XXXXXX); fi
out=$(cd "$out" && pwd)
rm -f "$out"/{rc,rc.tmp,stdout,stderr,init-error,console.log,run.sh,shares,qemu.out,stop,initrd}
log=$out/console.log

virtfs=(-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
        -virtfs "local,path=$out,mount_tag=rigout,security_model=none,multidevs=remap")
: >"$out/shares"
for i in "${!shares[@]}"; do
    mkdir -p "${shares[$i]}"
    d=$(cd "${shares[$i]}" && pwd)
    case $d in *[[:space:],]*) die "--share $d: no spaces or commas in the path, please" ;; esac
    case $d/ in /run/*|/proc/*|/sys/*|/dev/*|/) die "--share $d: not a directory the rig can share" ;; esac
    virtfs+=(-virtfs "local,path=$d,mount_tag=share$i,security_model=none,multidevs=remap")
    echo "share$i $d" >>"$out/shares"
done

# The preloaded files: a second cpio archive after the initramfs (the kernel unpacks both),
# its paths relative to /, with every parent directory before what it holds; init.sh moves
# the top directories named on the kernel's command line in front of the share.
initrd=$cache/initramfs.cpio.gz preload_tops=""
if [[ -n $preload_list ]]; then
    [[ -r $preload_list ]] || die "--preload-list $preload_list: no such file"
    names=$out/preload.names rels=() left_out=0
    while IFS= read -r p; do
        [[ -z $p ]] && continue
        [[ $p == /* && -e $p ]] || die "--preload-list: $p: not an absolute path that exists"
        top=${p#/}; top=${top%%/*}
        case $top in bin|boot|dev|etc|host|init|lib|lib64|lower|ovl|pre|proc|rigout|root|run|sbin|sys|tmp|usr|var)
            left_out=$((left_out + 1)); continue ;;
        esac
        [[ ,$preload_tops, == *,$top,* ]] || preload_tops+=${preload_tops:+,}$top
        rels+=("${p#/}")
    done <"$preload_list"
    ((left_out)) && say "--preload-list: $left_out paths lie under a top directory the initramfs has too (/tmp, /root, /usr...): left out, read over 9p"
    # Each path's parents, then everything under it.
    { for rel in "${rels[@]}"; do while [[ $rel == */* ]]; do rel=${rel%/*}; echo "$rel"; done; done
      ((${#rels[@]})) && (cd / && find "${rels[@]}"); } >"$names"
fi
if [[ -n $preload_tops ]]; then
    initrd=$out/initrd
    # Zeros up to a 512-byte boundary between the two: the kernel skips them, and finds the
    # second archive's first header aligned as it must be.
    base=$(stat -c %s "$cache/initramfs.cpio.gz")
    { cat "$cache/initramfs.cpio.gz"; head -c $(((512 - base % 512) % 512)) /dev/zero
      LC_ALL=C sort -u "$names" | (cd / && cpio -o -H newc --quiet); } >"$initrd" \
        || die "cannot pack the files of --preload-list"
    say "preloading $(du -sh "$initrd" | cut -f1) into the rig's RAM (${preload_tops//,/ })"
fi
[[ -n $preload_list ]] && rm -f "$names"

# What the rig runs, chrooted into the host's root (see init.sh).
node_dir=$(dirname "$(command -v node 2>/dev/null || echo /usr/bin/node)")
{
    echo '#!/bin/bash'
    printf 'export PATH=%q\n' "$node_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo 'export HOME=/root LANG=C.UTF-8 TERM=dumb RIG_OUT=/run/rig UCKPT_KVM_RIG=1'
    ((${#forwards[@]})) && echo 'export RIG_GUEST_ADDR=10.0.2.15'
    for e in "${envs[@]}"; do printf 'export %q\n' "$e"; done
    printf 'cd %q || exit 125\n' "$cwd"
    # CMD runs in the background so that a stop file from rig.sh (on SIGINT or
    # SIGTERM) can ask it to stop as a signal would on the host.
    printf '%q ' "$@"; echo '&'
    echo 'cmd=$!'
    echo '( while [ ! -e /run/rig/stop ]; do sleep 0.3; done; kill -TERM "$cmd" ) 2>/dev/null & watcher=$!'
    echo 'wait "$cmd"; rc=$?'
    echo 'kill "$watcher" 2>/dev/null'
    echo 'exit "$rc"'
} >"$out/run.sh"

t0=$EPOCHREALTIME
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
say "booting $(sed -n 's/^kernel //p' "$cache/kernel.txt") under TCG (log: $log)"
# setpriv: qemu dies with the rig even if the rig is killed with SIGKILL. setsid: a
# Ctrl-C at the terminal reaches this script, which stops the command in the rig first,
# and not qemu, which would quit at once.
pdeath=(setsid); command -v setpriv >/dev/null && pdeath=(setpriv --pdeathsig KILL -- setsid)
# -cpu max: TCG's AMD-style CPU with svm and npt, which kvm_amd needs. -smp 1: on a 2-core
# host one emulated CPU ran faster and steadier than two (kvm-rig.md); RIG_SMP overrides.
"${pdeath[@]}" "$qemu" -accel tcg,thread=multi -cpu max -machine q35 -m "${RIG_MEM:-6G}" -smp "${RIG_SMP:-1}" \
    -no-reboot -display none -monitor none -serial "file:$log" "${netdev[@]}" \
    -kernel "$cache/vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 mitigations=off${preload_tops:+ rig.preload=$preload_tops}${RIG_KERNEL_EXTRA:+ $RIG_KERNEL_EXTRA}" \
    "${virtfs[@]}" \
    </dev/null >"$out/qemu.out" 2>&1 &
qemu_pid=$!
tail_pid=""
cleanup() {
    if kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null || true; fi
    [[ -n $tail_pid ]] && { kill "$tail_pid" 2>/dev/null; wait "$tail_pid" 2>/dev/null || true; }
    return 0
}
trap cleanup EXIT
stopping=0
trap 'stopping=1' INT TERM
if ((verbose)); then
    touch "$log"; tail -n +1 -f "$log" >&2 & tail_pid=$!
fi

show_tail() {
    say "last lines of $log:"
    tail -n 40 "$log" 2>/dev/null | sed 's/^/  | /' >&2
    [[ -s $out/qemu.out ]] && sed 's/^/  qemu: /' "$out/qemu.out" >&2
    [[ -s $out/init-error ]] && say "rig init: $(cat "$out/init-error")"
    return 0
}
# Copies what CMD wrote since the last call to our stdout/stderr (exact byte offsets).
sent_out=0 sent_err=0
pump() {
    local size
    if [[ -f $out/stdout ]]; then
        size=$(stat -c %s "$out/stdout")
        ((size > sent_out)) && { tail -c +$((sent_out + 1)) "$out/stdout" | head -c $((size - sent_out)); sent_out=$size; }
    fi
    if [[ -f $out/stderr ]]; then
        size=$(stat -c %s "$out/stderr")
        ((size > sent_err)) && { tail -c +$((sent_err + 1)) "$out/stderr" | head -c $((size - sent_err)) >&2; sent_err=$size; }
    fi
    return 0
}

up=0 state=""
while :; do
    if ((!up)) && grep -q 'rig-init: ready' "$log" 2>/dev/null; then
        up=1; say "rig up after $(elapsed) s$(((${#forwards[@]})) && echo ", forwarding ${forwards[*]}")"
    fi
    pump
    [[ -f $out/rc ]] && { state=rc; break; }
    kill -0 "$qemu_pid" 2>/dev/null || { state=exited; break; }
    if ((stopping)); then
        if ((up)) && [[ ! -e $out/stop ]]; then
            say "stopping: asking the command in the rig to stop"; : >"$out/stop"; stop_at=$EPOCHREALTIME
        fi
        if ((!up)) || (($(awk -v a="$stop_at" -v b="$EPOCHREALTIME" 'BEGIN { print (b - a > 20) }'))); then
            state=stopped; break
        fi
    fi
    ((timeout > 0)) && (($(awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { print (b - a > t) }'))) && { state=timeout; break; }
    sleep 0.2
done
pump

if [[ $state == rc ]]; then
    rc=$(cat "$out/rc")
    say "command exited $rc after $(elapsed) s"
    # The rig powers off by itself; give it a moment, then stop qemu.
    for _ in $(seq 25); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.2; done
    cleanup
    [[ $rc =~ ^[0-9]+$ ]] || rc=125
    exit "$rc"
fi
if [[ $state == stopped ]]; then
    say "stopped after $(elapsed) s"; cleanup; pump; exit 130
fi
if [[ $state == timeout ]]; then
    say "timeout after $timeout s ($( ((up)) && echo "the rig was up" || echo "the rig never came up"))"
    cleanup; pump; show_tail; exit 124
fi
cleanup
say "qemu exited after $(elapsed) s without a result ($( ((up)) && echo "the rig was up" || echo "boot failed"))"
show_tail
exit 125
