#!/usr/bin/env bash
# The rig's smoke test: boots Xen, runs the workload image as a PVH domU in dom0 (and
# `node -e 1` twice), and compares the guest's checksum with the host build of the workload.
#
#   smoke.sh [workload=dp seed=1 size=20]     (rig options via RIG_OPTS, e.g. "--verbose")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
params=("$@"); ((${#params[@]})) || params=(workload=dp seed=1 size=20)

# The oracle takes --workload NAME --seed S --size X --param Y.
oracle_args=()
for p in "${params[@]}"; do oracle_args+=("--${p%%=*}" "${p#*=}"); done
want=$("$repo/packages/guest/build/uckpt-workload-host" "${oracle_args[@]}" \
       | sed -n 's/.*"checksum":"\([0-9a-f]*\)".*/\1/p')
echo "smoke: host checksum $want"

out=$(mktemp -d /tmp/uckpt-xen-smoke.XXXXXX)
# shellcheck disable=SC2086
"$here/rig.sh" ${RIG_OPTS:-} --timeout 240 --out "$out" --cwd "$repo" -- bash -c '
    s=$(date +%s%N); node -e 1; n1=$(( ($(date +%s%N) - s) / 1000000 ))
    s=$(date +%s%N); node -e 1; n2=$(( ($(date +%s%N) - s) / 1000000 ))
    echo "node -e 1: ${n1} ms cold, ${n2} ms warm"
    s=$(date +%s%N)
    e2e/xen/domu.sh --wait 120 -- "$@"; rc=$?
    echo "domU create to final status: $(( ($(date +%s%N) - s) / 1000000 )) ms"
    exit $rc' rig "${params[@]}" | tee "$out/smoke.txt"
got=$(sed -n 's/.*"checksum":"\([0-9a-f]*\)".*/\1/p' "$out/smoke.txt" | tail -n1)
if [[ $got == "$want" ]] && grep -q '"status":"done"' "$out/smoke.txt"; then
    echo "smoke: ok, Xen PVH domU checksum $got matches the host"
else
    echo "smoke: FAILED: domU checksum '${got}' vs host '$want' (run dir $out)" >&2
    exit 1
fi
