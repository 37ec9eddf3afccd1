#!/usr/bin/env bash
# Runs the tests that need KVM where this host has no /dev/kvm: inside the KVM rig, in one
# boot. On a host with /dev/kvm there is nothing to do: `vitest run` and the browser tests
# already ran them there.
#   - vitest: the test files that gate on KVM (describeKvm or itKvm, from
#     packages/native-kvm/test/kvm-gate.ts), with UCKPT_KVM_REQUIRED=1 so that none skips:
#     the VMM, the engine, the service and the command line (about 20 minutes here);
#   - with --all, also the laboratory's (campaign, validation, the service as a process)
#     and the browser tests (e2e/tests, Playwright with Debian's Chromium) against a server
#     in the rig: together they take far longer under emulation.
# Exit code: the first failure's, else 0. The rig's output is kept in e2e/kvm-rig/results/last.
#   tests.sh [--all | --browser-only] [VITEST FILES...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
say() { echo "kvm-rig tests: $*" >&2; }

if [[ -r /dev/kvm && -w /dev/kvm && ${UCKPT_KVM_RIG_FORCE:-} != 1 ]]; then
    say "this host has /dev/kvm: the tests that need KVM ran on it (UCKPT_KVM_RIG_FORCE=1 runs them in the rig anyway)"
    exit 0
fi

parts=(vitest) all=0
case ${1:-} in
    --all) parts=(vitest browser); all=1; shift ;;
    --browser-only) parts=(browser); all=1; shift ;;
esac
mapfile -t files < <(grep -lE '\b(describeKvm|itKvm)\b' apps/*/test/*.test.ts packages/*/test/*.test.ts | sort)
((${#files[@]})) || { say "found no test file that needs KVM"; exit 1; }
if ((!all)); then
    mapfile -t left < <(printf '%s\n' "${files[@]}" | grep '^apps/lab/')
    mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -v '^apps/lab/')
    say "not run here (long under emulation; tests.sh --all runs them): ${left[*]} and the browser tests"
fi
(($#)) && files=("$@")

# One script in the rig: node starts slowly there (its files come over 9p under
# emulation), so both parts share one boot.
script=$(mktemp /tmp/uckpt-kvm-tests.XXXXXX.sh)
out=$root/e2e/kvm-rig/results
mkdir -p "$out"
trap 'rm -f "$script"' EXIT
{
    echo 'set -u; rc=0'
    echo 'export UCKPT_KVM_REQUIRED=1 CI=${CI:-}'
    if [[ " ${parts[*]} " == *" vitest "* ]]; then
        # One worker for every file (--no-isolate): each new process would load vitest
        # and the code under test again, over 9p and under emulation: 10-20 s each.
        printf 'node_modules/.bin/vitest run --reporter=verbose --maxWorkers=1 --no-isolate --testTimeout=400000 --hookTimeout=240000'
        printf ' %q' "${files[@]}"
        echo ' || rc=$?'
    fi
    if [[ " ${parts[*]} " == *" browser "* ]]; then
        echo '(cd e2e && node_modules/.bin/playwright test) || { r=$?; [ "$rc" = 0 ] && rc=$r; }'
    fi
    echo 'exit "$rc"'
} >"$script"
chmod 755 "$script"
say "running ${parts[*]} in the KVM rig: ${#files[@]} vitest files ($(date +%T))"
start=$SECONDS
rc=0
bash e2e/kvm-rig/rig.sh --timeout "${UCKPT_KVM_RIG_TIMEOUT:-2400}" --out "$out/last" --share "$root/e2e/artifacts" -- bash "$script" || rc=$?
say "done in $((SECONDS - start)) s, exit code $rc"
exit "$rc"
