#!/usr/bin/env bash
# Boots a real Debian Xen 4.17 under qemu-system-x86_64 (TCG, no KVM), runs CMD in dom0 and
# exits with CMD's exit code. dom0 sees the host's root (read-only over virtio-9p, with a
# tmpfs overlay so writes work and stay in dom0), chroots into it and runs CMD from --cwd
# with the host's node on PATH and xenstored/xenconsoled running, so xl and libxenctrl work.
#
#   rig.sh [--timeout S] [--cwd DIR] [--out DIR] [--env K=V]... [--verbose] -- CMD [ARGS...]
#
#   --timeout S  whole run, boot included (default 300); exit 124 when reached
#   --cwd DIR    CMD's directory (default: the current one); must exist on the host
#   --out DIR    host directory for this run (default: a new /tmp/uckpt-xen-rig.XXXXXX): it
#                is mounted writable in dom0 at $RIG_OUT (/run/rig) and gets console.log
#                (Xen's serial console: Xen, dom0's kernel, rig-init), stdout, stderr, rc
#   --env K=V    exported to CMD (repeatable)
#   --verbose    also stream the serial console to stderr
# CMD's stdout/stderr are printed on the rig's stdout/stderr once it ends; progress lines
# ("rig: ...") go to stderr. Exit codes: CMD's, 124 timeout, 125 rig/boot failure.
# env: UCKPT_XEN_CACHE (default e2e/xen/.cache), QEMU (qemu-system-x86_64), RIG_MEM (3G)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
timeout=300 cwd=$PWD out="" verbose=0 envs=()
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 125; }
while (($#)); do
    case $1 in
        --timeout) timeout=$2; shift 2 ;;
        --cwd) cwd=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --env) envs+=("$2"); shift 2 ;;
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
cwd=$(cd "$cwd" && pwd) || die "--cwd $cwd: no such directory"
case $cwd/ in /run/*|/proc/*|/sys/*|/dev/*) die "--cwd $cwd is not visible in dom0 (fresh /run, /proc, /sys, /dev there)" ;; esac
cache=${UCKPT_XEN_CACHE:-$here/.cache}
"$here/build-initramfs.sh" "$cache" || exit 125
cache=$(cd "$cache" && pwd)

if [[ -n $out ]]; then mkdir -p "$out"; else out=$(mktemp -d /tmp/uckpt-xen-rig.XXXXXX); fi
out=$(cd "$out" && pwd)
rm -f "$out"/{rc,rc.tmp,stdout,stderr,init-error,console.log,run.sh}
log=$out/console.log

# What dom0 runs, chrooted into the host's root (see init.sh).
node_dir=$(dirname "$(command -v node 2>/dev/null || echo /usr/bin/node)")
{
    echo '#!/bin/bash'
    printf 'export PATH=%q\n' "$node_dir:/usr/lib/xen-4.17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo 'export HOME=/root LANG=C.UTF-8 TERM=dumb RIG_OUT=/run/rig UCKPT_XEN_RIG=1'
    for e in "${envs[@]}"; do printf 'export %q\n' "$e"; done
    printf 'cd %q || exit 125\n' "$cwd"
    printf '%q ' "$@"; echo
} >"$out/run.sh"

t0=$EPOCHREALTIME
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
say "booting Xen (log: $log)"
# setpriv: qemu dies with the rig even if the rig is killed with SIGKILL.
pdeath=(); command -v setpriv >/dev/null && pdeath=(setpriv --pdeathsig KILL --)
# One dom0 vCPU: with two, Node processes in dom0 crashed now and then inside V8's heap
# (GC, code space, page release) once several ran at once (the server and its agents).
# The domU gets the other emulated CPU.
# No AVX and no XSAVE: QEMU 7.2 brought AVX to TCG, and under nested SVM extended state
# is lost. Seen with them: a Linux domU's XSAVE state lost at boot (a WARNING in
# switch_fpu_return, then #UD on AVX instructions and init killed, or busybox segfaults),
# domUs triple-faulting, and Node in dom0 dying in malloc and V8 (glibc's string functions
# keep pointers in vector registers). Without them Xen, dom0 and the domUs use FXSAVE.
"${pdeath[@]}" "$qemu" -accel "tcg,thread=${RIG_TCG_THREAD:-multi}" \
    -cpu max,-smap,-avx,-avx2,-fma,-f16c,-vaes,-vpclmulqdq,-avx-vnni,-xsave,-xsaveopt,-xsavec,-xsaves \
    -machine q35 -m "${RIG_MEM:-3G}" -smp 2 \
    -no-reboot -net none -display none -monitor none -serial "file:$log" \
    -kernel "$cache/xen.elf" \
    -append "dom0_mem=1536M,max:1536M dom0_max_vcpus=1 console=com1 com1=115200,8n1 noreboot${RIG_XEN_EXTRA:+ $RIG_XEN_EXTRA}" \
    -initrd "$cache/vmlinuz console=hvc0 earlyprintk=xen,$cache/initramfs.cpio.gz" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$out,mount_tag=rigout,security_model=none,multidevs=remap" \
    </dev/null >"$out/qemu.out" 2>&1 &
qemu_pid=$!
tail_pid=""
cleanup() {
    if kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null || true; fi
    [[ -n $tail_pid ]] && { kill "$tail_pid" 2>/dev/null; wait "$tail_pid" 2>/dev/null || true; }
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ((verbose)); then
    touch "$log"; tail -n +1 -f "$log" >&2 & tail_pid=$!
fi

show_tail() {
    say "last lines of $log:"
    tail -n 40 "$log" 2>/dev/null | sed 's/^/  | /' >&2
    [[ -s $out/qemu.out ]] && sed 's/^/  qemu: /' "$out/qemu.out" >&2
    [[ -s $out/init-error ]] && say "dom0 init: $(cat "$out/init-error")"
    return 0
}
emit() {  # CMD's output so far
    [[ -f $out/stdout ]] && cat "$out/stdout"
    [[ -f $out/stderr ]] && cat "$out/stderr" >&2
    return 0
}

up=0 state=""
while :; do
    if ((!up)) && grep -q 'rig-init: dom0 ready' "$log" 2>/dev/null; then
        up=1; say "dom0 up after $(elapsed) s"
    fi
    [[ -f $out/rc ]] && { state=rc; break; }
    kill -0 "$qemu_pid" 2>/dev/null || { state=exited; break; }
    (($(awk -v a="$t0" -v b="$EPOCHREALTIME" -v t="$timeout" 'BEGIN { print (b - a > t) }'))) && { state=timeout; break; }
    sleep 0.2
done

if [[ $state == rc ]]; then
    rc=$(cat "$out/rc")
    say "command exited $rc after $(elapsed) s"
    # dom0 powers off by itself; give Xen a moment, then stop qemu.
    for _ in $(seq 50); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.2; done
    cleanup
    say "qemu stopped after $(elapsed) s"
    emit
    [[ $rc =~ ^[0-9]+$ ]] || rc=125
    exit "$rc"
fi
if [[ $state == timeout ]]; then
    say "timeout after $timeout s ($( ((up)) && echo "dom0 was up" || echo "dom0 never came up"))"
    cleanup; show_tail; emit; exit 124
fi
cleanup
say "qemu exited after $(elapsed) s without a result ($( ((up)) && echo "dom0 was up" || echo "boot failed"))"
show_tail; emit
exit 125
