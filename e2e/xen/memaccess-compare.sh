#!/usr/bin/env bash
# Inside the rig's dom0: compares the guest's progress rate of one PVH workload domU (sort
# seed=1 size=1 repeat=0, 64 MiB) unprotected, checkpointed by the Xen backend's
# stop-and-copy (probe-sc.mjs) and under mem_access/vm_event copy-on-write
# (memaccess-probe), all at INTERVAL_MS, SECONDS each. Prints each measurement's JSON line
# and a summary line with the rates as ratios to the unprotected one measured just before.
#
#   memaccess-compare.sh [SECONDS (10)] [INTERVAL_MS (50)]
#
# From the host:
#   e2e/xen/rig.sh --timeout 600 -- bash e2e/xen/memaccess-compare.sh
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${UCKPT_XEN_CACHE:-$here/.cache}
seconds=${1:-10} interval=${2:-50}
probe=$cache/memaccess-probe

domid=$("$here/domu.sh" --keep --name uckpt-memaccess -- workload=sort seed=1 size=1 repeat=0) || exit 2
trap 'xl destroy "$domid" 2>/dev/null' EXIT
echo "memaccess-compare: domain $domid, ${seconds} s per measurement, ${interval} ms epochs" >&2

base1=$("$probe" --rate "$domid" "$seconds") || { echo "memaccess-compare: rate probe failed" >&2; exit 2; }
echo "unprotected $base1"
sc=$(node "$here/probe-sc.mjs" "$domid" "$seconds" "$interval") || { echo "memaccess-compare: probe-sc failed" >&2; exit 2; }
echo "stop-and-copy $sc"
cow=$("$probe" "$domid" "$seconds" "$interval"); cow_rc=$?
echo "cow $cow"
echo "memaccess-probe exit $cow_rc" >&2
state=$(xl list "$domid" 2>/dev/null | tail -n 1)
echo "memaccess-compare: after the probes: $state" >&2

node -e '
const [b, sc, cow] = process.argv.slice(1).map((s) => JSON.parse(s));
const r = (x) => Math.round(x * 1000) / 1000;
const out = {
  unprotectedPerS: b.unprotected.perS,
  stopAndCopyPerS: sc.stopAndCopy.perS,
  stopAndCopyRatio: r(sc.stopAndCopy.perS / b.unprotected.perS),
  unprotectedBeforeCowPerS: cow.unprotected.perS,
};
if (cow.cow) Object.assign(out, { cowPerS: cow.cow.perS, cowRatio: r(cow.cow.perS / cow.unprotected.perS) });
else out.cowError = cow.error;
console.log("summary " + JSON.stringify(out));
' "$base1" "$sc" "$cow"
exit 0
