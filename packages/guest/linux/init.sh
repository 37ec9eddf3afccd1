#!/bin/busybox sh
# PID 1 of the Linux test guest (busybox initramfs, see build.sh). It runs
# what dom0 asks through xenstore and reports on its console and in
# xenstore, so that tests can prove a rollback by the guest's own output.
#
# Kernel parameters the kernel does not know reach us as environment
# variables: uckpt_workload, uckpt_seed, uckpt_size (the program `run`
# runs) and uckpt_heartbeat_ms (start the heartbeat agent).
#
# Commands, written by dom0 to data/uckpt-cmd (relative to the domain's home):
#   run      runs the workload; console "uckpt-linux: result {json}",
#            data/uckpt-result = the same json
#   sleep    times `sleep 1` by the guest's clock; data/uckpt-sleep-cs = centiseconds
#   panic    crashes the kernel (sysrq c)
#   hang     stops the heartbeat agent (the guest's service stops answering)
# The guest empties the key before it acts: xenstore is outside the guest,
# so a rollback to before the read finds nothing left to do, as after a
# transient fault. data/uckpt-state says ready, then busy:CMD while it acts.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "uckpt-linux: $*" >/dev/console; }
uptime_cs() { read -r up _ </proc/uptime; echo "${up%.*}${up#*.}"; }
xs() { /bin/uckpt-xs "$@"; }

say "up after $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r)"
heartbeat=""
if [ -n "$uckpt_heartbeat_ms" ]; then
    xs heartbeat data/uckpt-heartbeat "$uckpt_heartbeat_ms" &
    heartbeat=$!
fi
xs write data/uckpt-state ready || say "xenstore unreachable"

while :; do
    cmd=$(xs read data/uckpt-cmd 2>/dev/null) || cmd=""
    if [ -z "$cmd" ]; then
        sleep 0.2
        continue
    fi
    xs write data/uckpt-cmd ""
    xs write data/uckpt-state "busy:$cmd"
    case $cmd in
        run)
            say "running ${uckpt_workload} seed=${uckpt_seed} size=${uckpt_size}"
            out=$(/bin/uckpt-workload --workload "$uckpt_workload" --seed "${uckpt_seed:-1}" --size "${uckpt_size:-1}")
            say "result $out"
            xs write data/uckpt-result "$out"
            ;;
        sleep)
            t0=$(uptime_cs)
            sleep 1
            t1=$(uptime_cs)
            say "sleep 1 took $((t1 - t0)) cs"
            xs write data/uckpt-sleep-cs "$((t1 - t0))"
            ;;
        panic)
            say "panicking on request"
            echo c >/proc/sysrq-trigger
            ;;
        hang)
            say "stopping the heartbeat on request"
            [ -n "$heartbeat" ] && kill -STOP "$heartbeat"
            ;;
        *)
            say "unknown command: $cmd"
            ;;
    esac
    xs write data/uckpt-state ready
done
