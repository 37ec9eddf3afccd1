#!/usr/bin/env bash
# The Xen backend's tests (tests/*.test.mjs, node --test) in dom0 of the nested rig, in two
# boots: the workload-image tests, then the Linux guest's (tests/linux*.test.mjs).
#
# Why two boots: in one long boot running all of them, dom0's processes died together
# several times late in the run (node's malloc and V8 internals, three processes within a
# minute, one of them the test runner, which loads nothing of ours; once a xenstore-read
# segfaulted in libxenstore). Every file passed in shorter boots. A fresh dom0 for the
# Linux tests keeps each boot short; the cause (the emulated dom0 itself, it seems) is
# not found yet, see README.md.
#
#   tests.sh [--timeout S (per boot, default 1200)]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
timeout=1200
[[ ${1:-} == --timeout ]] && { timeout=$2; shift 2; }

image=() linux=()
for f in e2e/xen/tests/*.test.mjs; do
    case ${f##*/} in linux*) linux+=("$f") ;; *) image+=("$f") ;; esac
done
rc=0
for group in image linux; do
    declare -n files=$group
    ((${#files[@]})) || continue
    echo "xen tests ($group): ${files[*]}" >&2
    bash "$here/rig.sh" --timeout "$timeout" -- node --test --test-reporter=spec "${files[@]}" || rc=$?
done
exit "$rc"
