#!/usr/bin/env bash
# Boots the workload image through its Xen PVH entry under QEMU (TCG, no KVM),
# waits for a final mailbox status and prints one JSON line:
#   {"status":"done","checksum":"<16 hex>","error":"","console":[...],"ms":N}
# Exits 0 only for status "done".
#
#   pvh-smoke.sh workload=dp seed=1 size=20
#   env: UCKPT_GUEST_ELF (image), PVH_SMOKE_MEM (MiB, 512), PVH_SMOKE_TIMEOUT (s, 120), QEMU
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
elf=${UCKPT_GUEST_ELF:-$here/build/uckpt-guest.elf}
timeout=${PVH_SMOKE_TIMEOUT:-120}
tmp=$(mktemp -d)
mb=$tmp/mailbox.bin

# Field offsets of struct uckpt_mailbox, from the header itself.
cc -x c -I"$here/include" -o "$tmp/offsets" - <<'EOF'
#include <stddef.h>
#include <stdio.h>
#include "uckpt_guest_abi.h"
#define F(f) printf("o_%s=%zu\n", #f, offsetof(struct uckpt_mailbox, f))
int main(void) { F(status); F(result); F(exc_vector); F(exc_error); F(exc_rip); F(exc_cr2); F(exc_rsp);
                 F(error); F(console_head); F(console);
                 printf("error_bytes=%d\nconsole_bytes=%d\n", UCKPT_ERROR_BYTES, UCKPT_CONSOLE_BYTES); return 0; }
EOF
eval "$("$tmp/offsets")"

start=$(date +%s%N)
coproc QEMU { exec "${QEMU:-qemu-system-x86_64}" -accel tcg -cpu max -m "${PVH_SMOKE_MEM:-512}" \
    -display none -serial none -no-reboot -monitor stdio \
    -kernel "$elf" -append "$*" 2>"$tmp/qemu.err"; }
qemu_pid=$QEMU_PID
trap 'kill "$qemu_pid" 2>/dev/null; wait "$qemu_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

u64() { od -An -t u8 -j "$1" -N 8 "$mb" | tr -d ' '; }
hex() { od -An -t x8 -j "$1" -N 8 "$mb" | tr -d ' '; }
cstr() { dd if="$mb" bs=1 skip="$1" count="$2" status=none | tr -d '\001-\010\013-\037' | tr '\0' '\n'; }
json() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "${s//$'\t'/\\t}"; }

# Snapshot the mailbox page; "info status" after pmemsave marks the dump complete.
snapshot() {
    printf 'pmemsave 0x1000 4096 "%s"\ninfo status\n' "$mb" >&"${QEMU[1]}" || return 1
    local line
    while IFS= read -r -t 10 -u "${QEMU[0]}" line; do [[ $line == *"VM status"* ]] && return 0; done
    return 1
}

state=timeout status=0 SECONDS=0
while (( SECONDS <= timeout )); do
    if ! snapshot; then state=qemu-exited; break; fi
    status=$(u64 "$o_status")
    case $status in
        2) state=done; break ;;
        3) state=failed; break ;;
        4) state=exception; break ;;
        5) state=bad_params; break ;;
    esac
    sleep 0.2
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))

checksum=0000000000000000 error="" console=()
if [[ -s $mb ]]; then
    checksum=$(hex "$o_result")
    error=$(cstr "$o_error" "$error_bytes" | head -n1)  # up to its NUL
    if [[ $state == exception ]]; then
        error="vector $(u64 "$o_exc_vector") error 0x$(hex "$o_exc_error") rip 0x$(hex "$o_exc_rip")"
        error+=" cr2 0x$(hex "$o_exc_cr2") rsp 0x$(hex "$o_exc_rsp")"
    fi
    chead=$(u64 "$o_console_head") size=$console_bytes
    if (( chead > size )); then  # wrapped: the oldest byte is at chead % size
        s=$((chead % size)); text=$(cstr $((o_console + s)) $((size - s)); cstr "$o_console" "$s")
    else text=$(cstr "$o_console" "$chead"); fi
    [[ -n $text ]] && mapfile -t console <<<"$text"
fi

lines=()
for l in "${console[@]}"; do lines+=("$(json "$l")"); done
printf '{"status":"%s","checksum":"%s","error":%s,"console":[%s],"ms":%d}\n' \
    "$state" "$checksum" "$(json "$error")" "$(IFS=,; echo "${lines[*]}")" "$ms"
[[ $state == done ]] || { [[ -s $tmp/qemu.err ]] && cat "$tmp/qemu.err" >&2; exit 1; }
