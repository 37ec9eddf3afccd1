#!/usr/bin/env bash
# Runs the vitest files that need KVM where this host has no /dev/kvm: inside the KVM rig.
# On a host with /dev/kvm there is nothing to do: `vitest run` already ran them there.
# They are the files that gate on KVM (describeKvm or itKvm, from
# packages/native-kvm/test/kvm-gate.ts): the VMM, the engine, the service, the command line
# and the laboratory, with UCKPT_KVM_REQUIRED=1 so that none skips. The browser tests find
# the rig by themselves (e2e/global-setup.ts).
#
# The files are dealt out to shards, one rig each, run side by side: each rig emulates one
# CPU on one host thread, so two rigs on two cores take about as long as one (measured
# here), and the suite half as long. Each shard runs its files in one vitest process.
#   tests.sh [VITEST FILES...]
# env: UCKPT_KVM_RIG_SHARDS (default: one per core, as many as memory holds, at most 4),
#      UCKPT_KVM_RIG_TIMEOUT (seconds per shard, default 1800), UCKPT_KVM_RIG_FORCE=1 (run in
#      the rig even where the host has /dev/kvm).
# Exit code: the first failing shard's, else 0. Each shard's output is kept in
# e2e/kvm-rig/results/shard-N (stdout, stderr, console.log, rc).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
say() { echo "kvm-rig tests: $*" >&2; }

if [[ -r /dev/kvm && -w /dev/kvm && ${UCKPT_KVM_RIG_FORCE:-} != 1 ]]; then
    say "this host has /dev/kvm: the tests that need KVM ran on it (UCKPT_KVM_RIG_FORCE=1 runs them in the rig anyway)"
    exit 0
fi

if (($#)); then
    files=("$@")
else
    mapfile -t files < <(grep -lE '\b(describeKvm|itKvm)\b' apps/*/test/*.test.ts packages/*/test/*.test.ts | sort)
fi
((${#files[@]})) || { say "found no test file that needs KVM"; exit 1; }

# Seconds each file took in the rig here (2 cores, two rigs side by side): what the shards
# are balanced by. A file not listed counts as a minute.
weight() {
    case $1 in
        */checkpoint.test.ts) echo 400 ;;
        */prediction.test.ts) echo 220 ;;
        */campaign.test.ts) echo 175 ;;
        */process-model.test.ts) echo 300 ;;
        */cli-kvm.test.ts) echo 140 ;;
        */checksums.test.ts) echo 135 ;;
        */native-kvm/test/faults.test.ts) echo 80 ;;
        */cow.test.ts) echo 75 ;;
        */validate-model.test.ts) echo 65 ;;
        */auto-tune.test.ts) echo 60 ;;
        */faults-kvm.test.ts) echo 150 ;;
        */lifecycle.test.ts) echo 40 ;;
        */errors.test.ts|*/exits.test.ts) echo 5 ;;
        *) echo 60 ;;
    esac
}

mem_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
rig_mem_gib=6 # rig.sh's RIG_MEM
most=$(( $(nproc) < mem_kib / ((rig_mem_gib + 1) << 20) ? $(nproc) : mem_kib / ((rig_mem_gib + 1) << 20) ))
shards=${UCKPT_KVM_RIG_SHARDS:-$(( most < 1 ? 1 : most > 4 ? 4 : most ))}
[[ $shards =~ ^[1-9][0-9]*$ ]] || { say "UCKPT_KVM_RIG_SHARDS=$shards: a whole number from 1"; exit 2; }
((shards > ${#files[@]})) && shards=${#files[@]}

# The heaviest file first, each to the lightest shard so far.
declare -a load shard_files
for ((s = 0; s < shards; s++)); do load[s]=0; shard_files[s]=""; done
while read -r w f; do
    lightest=0
    for ((s = 1; s < shards; s++)); do ((load[s] < load[lightest])) && lightest=$s; done
    load[lightest]=$((load[lightest] + w))
    shard_files[lightest]+=" $f"
done < <(for f in "${files[@]}"; do echo "$(weight "$f") $f"; done | sort -rn)

# The rig's kernel and initramfs, built once before the shards boot from them; what node
# reads in the rig, loaded into its RAM at boot (preload-list.mjs).
bash e2e/kvm-rig/build-initramfs.sh e2e/kvm-rig/.cache || exit 125
mkdir -p e2e/kvm-rig/results
preload=$root/e2e/kvm-rig/results/preload.list
node e2e/kvm-rig/preload-list.mjs >"$preload" || { say "cannot list the files to preload (is apps/cli built?)"; exit 125; }

start=$SECONDS
say "${#files[@]} vitest files in $shards rigs side by side ($(date +%T))"
declare -a pids
for ((s = 0; s < shards; s++)); do
    read -ra mine <<<"${shard_files[s]}"
    say "shard $s (about ${load[s]} s here): ${mine[*]}"
    out=$root/e2e/kvm-rig/results/shard-$s
    mkdir -p "$out"
    (
        # One vitest process for all of a shard's files (--no-isolate): each new process would
        # load vitest and the code under test again, several seconds each under emulation.
        bash e2e/kvm-rig/rig.sh --timeout "${UCKPT_KVM_RIG_TIMEOUT:-1800}" --out "$out" --share "$root/e2e/artifacts" --preload-list "$preload" \
            --env UCKPT_KVM_REQUIRED=1 --env "CI=${CI:-}" --env NO_COLOR=1 -- \
            node_modules/.bin/vitest run --reporter=verbose --maxWorkers=1 --no-isolate \
            --testTimeout=400000 --hookTimeout=240000 "${mine[@]}" 2>&1 | sed -u "s/^/[shard $s] /"
        exit "${PIPESTATUS[0]}"
    ) &
    pids[s]=$!
done
# rig.sh stops the command in its rig, then the rig: it is the shard's child, behind sed.
stop() { for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done; }
trap stop INT TERM

rc=0
for ((s = 0; s < shards; s++)); do
    r=0; wait "${pids[s]}" || r=$?
    summary=$(sed 's/\x1b\[[0-9;]*m//g' "$root/e2e/kvm-rig/results/shard-$s/stdout" 2>/dev/null | grep -E '^ +Tests ' | tail -1 | sed 's/^ *//')
    say "shard $s: exit code $r${summary:+ ($summary)}"
    ((r != 0 && rc == 0)) && rc=$r
done
say "done in $((SECONDS - start)) s, exit code $rc"
exit "$rc"
