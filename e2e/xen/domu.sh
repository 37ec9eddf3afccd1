#!/usr/bin/env bash
# Inside the rig's dom0: creates a PVH domU from the uckpt workload image and prints its
# domid. With --wait, then polls the guest's mailbox page (xen-mailbox, built by
# build-initramfs.sh) until its status is final, prints its JSON line, destroys the domU
# and exits 0 only for status "done".
#
#   domu.sh [--mem MiB (64)] [--name NAME (uckpt-N)] [--elf IMAGE] [--wait [TIMEOUT_S]] \
#           [--keep] -- workload=dp seed=1 size=20 ...
#
# Run from the host through the rig, e.g.
#   e2e/xen/rig.sh -- e2e/xen/domu.sh --wait -- workload=dp seed=1 size=20
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mem=64 name=uckpt-$$ elf=$repo/packages/guest/build/uckpt-guest.elf wait="" keep=0
cache=${UCKPT_XEN_CACHE:-$here/.cache}
while (($#)); do
    case $1 in
        --mem) mem=$2; shift 2 ;;
        --name) name=$2; shift 2 ;;
        --elf) elf=$2; shift 2 ;;
        --wait) wait=60; if [[ ${2:-} =~ ^[0-9]+$ ]]; then wait=$2; shift; fi; shift ;;
        --keep) keep=1; shift ;;
        --) shift; break ;;
        *) break ;;
    esac
done
[[ -r /proc/xen/capabilities ]] && grep -q control_d /proc/xen/capabilities \
    || { echo "domu.sh: not in a Xen dom0 (run it through e2e/xen/rig.sh)" >&2; exit 2; }
[[ -f $elf ]] || { echo "domu.sh: no image $elf (make -C packages/guest)" >&2; exit 2; }

cfg=${TMPDIR:-/tmp}/$name.cfg
cat >"$cfg" <<CFG
name = "$name"
type = "pvh"
kernel = "$elf"
cmdline = "$*"
memory = $mem
vcpus = 1
tsc_mode = "native"
on_crash = "preserve"
on_poweroff = "preserve"
CFG
xl create -q "$cfg" >&2
domid=$(xl domid "$name")
echo "$domid"
[[ -n $wait ]] || exit 0

rc=0
"$cache/xen-mailbox" "$domid" "$wait" || rc=$?
if ((rc)); then
    echo "domu.sh: domain $domid ($name) did not finish; xl list / xl dmesg:" >&2
    xl list >&2 || true
    xl dmesg | tail -n 30 >&2 || true
fi
((keep)) || xl destroy "$domid" >&2 || true
exit "$rc"
