#!/usr/bin/env bash
# Run one command as root inside a small QEMU VM with a pure cgroup v2 kernel; print its output, exit with its
# status. See docs/vm.md.
#
#   scripts/vm/run-in-vm.sh [--apparmor|--systemd] [--verbose] [--timeout SECONDS] [--memory SIZE] [--cpus N] -- CMD ARGS...
#
# The guest is Debian's stock kernel under QEMU's software emulation (TCG: this machine's /dev/kvm cannot run a
# stock guest). Its root is the host's `/` (9p, read-only) under a tmpfs overlay, so it has the host's Python,
# the venv and this checkout at the same paths; writes in the guest vanish with it. CMD runs at the current
# directory, with only cgroup2 mounted (all controllers enabled for children) and the host's SIMCON_* and
# PYTEST_ADDOPTS variables. The host's /tmp, /run and /mnt are not visible (fresh tmpfs there), except the
# current directory when it is below them (shared on its own).
#
#   --apparmor        boot with AppArmor enabled (apparmor=1 security=apparmor) and Debian's apparmor package
#                     (apparmor_parser, /etc/apparmor.d) in the guest; the default boots with AppArmor off
#   --systemd         boot Debian's systemd as PID 1 (journald, D-Bus, cgroup v2 managed by systemd; init-systemd.sh)
#                     and run CMD as the unit simcon-vm-cmd.service; the default runs CMD from a busybox init
#   --verbose         print the guest's console (kernel and init messages) after the command's output
#   --timeout S       stop the VM after S seconds (exit 124); default $SIMCON_VM_TIMEOUT or 1500
#   --memory SIZE     guest memory (QEMU -m syntax); default $SIMCON_VM_MEMORY or 3G
#   --cpus N          guest vCPUs; default $SIMCON_VM_CPUS or 2
#
# Exit status: CMD's; 124 when the timeout stopped the VM; 125 when the VM failed before CMD finished (its
# console log is printed). The per-run tmp dir is removed in every case.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=run-in-vm

apparmor=0
systemd=0
verbose=0
timeout_s=${SIMCON_VM_TIMEOUT:-1500}
memory=${SIMCON_VM_MEMORY:-3G}
cpus=${SIMCON_VM_CPUS:-2}

usage() {
    sed -n '5p' "${BASH_SOURCE[0]}" | sed 's/^#   //' >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --apparmor) apparmor=1 ;;
        --systemd) systemd=1 ;;
        --verbose) verbose=1 ;;
        --timeout) timeout_s=${2:?--timeout needs a value}; shift ;;
        --memory) memory=${2:?--memory needs a value}; shift ;;
        --cpus) cpus=${2:?--cpus needs a value}; shift ;;
        --) shift; break ;;
        *) echo "$PROG: unknown option '$1'" >&2; usage ;;
    esac
    shift
done
[[ $# -gt 0 ]] || { echo "$PROG: no command given" >&2; usage; }

if [[ $(id -u) -ne 0 ]]; then
    echo "$PROG: must run as root (QEMU shares the host's whole / with the guest)" >&2
    exit 125
fi
# The guest has fresh /tmp, /run and /mnt: a checkout there (a CI clone in /tmp) is shared on its own and
# mounted at the same path, under its own tmpfs overlay.
cwd_share=()
case $PWD/ in
    /tmp/*|/run/*|/mnt/*)
        if [[ $PWD =~ [[:space:]] ]]; then
            echo "$PROG: the current directory '$PWD' is under /tmp, /run or /mnt and has blanks" >&2
            exit 125
        fi
        cwd_share=(-virtfs "local,path=$PWD,mount_tag=cwd,security_model=none,readonly=on,multidevs=remap") ;;
esac

"$HERE/install-deps.sh" >&2
mapfile -t image < <("$HERE/build-image.sh")
[[ ${#image[@]} -eq 2 ]] || { echo "$PROG: building the VM image failed" >&2; exit 125; }
vmlinuz=${image[0]} initrd=${image[1]}

run=$(mktemp -d /tmp/simcon-vm.XXXXXX)
qpid=
tailpid=
cleanup() {
    if [[ -n $qpid ]] && kill -0 "$qpid" 2>/dev/null; then
        kill "$qpid" 2>/dev/null || true
        wait "$qpid" 2>/dev/null || true
    fi
    if [[ -n $tailpid ]] && kill -0 "$tailpid" 2>/dev/null; then
        kill "$tailpid" 2>/dev/null || true
    fi
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# cmd.sh is run by the guest's busybox sh: plain single quoting, no bash-isms.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
    echo "cd $(quote "$PWD") || exit 125"
    while IFS='=' read -r name _; do
        [[ $name == SIMCON_VM_* ]] && continue
        echo "export $name=$(quote "${!name}")"
    done < <(env | grep -E '^(SIMCON_[A-Za-z0-9_]*|PYTEST_ADDOPTS)=' || true)
    printf 'exec'
    for arg in "$@"; do printf ' %s' "$(quote "$arg")"; done
    echo
} > "$run/cmd.sh"
: > "$run/output.log"

stage2=$HERE/init-stage2.sh
if [[ $systemd -eq 1 ]]; then
    stage2=$HERE/init-systemd.sh
fi
cmdline="console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off simcon.stage2=$stage2"
if [[ $systemd -eq 1 ]]; then
    # The guest kernel's modules (unpacked next to it in the cache) for modprobe in the guest; systemd quiet on
    # the console.
    moddir=$(echo "$(dirname "$vmlinuz")"/root/lib/modules/*)
    cmdline+=" simcon.moddir=$moddir systemd.show_status=0"
fi
[[ ${#cwd_share[@]} -eq 0 ]] || cmdline+=" simcon.cwd=$PWD"
if [[ $apparmor -eq 1 ]]; then
    aa_root=$("$HERE/fetch-apparmor.sh")
    cmdline+=" apparmor=1 security=apparmor simcon.apparmor=$aa_root"
else
    cmdline+=" apparmor=0"
fi

echo "$PROG: booting $(basename "$(dirname "$vmlinuz")")$([[ $systemd -eq 0 ]] || echo ' with systemd') under QEMU/TCG ($cpus vCPUs, $memory)" >&2
start=$(date +%s)
# -no-reboot: the guest's `reboot -f` (after writing rc, or on any init failure) and a kernel panic
# (panic=-1) make QEMU exit instead of booting again.
timeout --kill-after=10 "$timeout_s" \
    qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$memory" \
        -nodefaults -no-user-config -display none -no-reboot \
        -kernel "$vmlinuz" -initrd "$initrd" -append "$cmdline" \
        -serial "file:$run/console.log" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs "local,path=$run,mount_tag=results,security_model=none" \
        "${cwd_share[@]}" \
        </dev/null >"$run/qemu.log" 2>&1 &
qpid=$!

# The command's output reaches the host file as the guest writes it (9p without cache): stream it.
tail -n +1 -f --pid="$qpid" "$run/output.log" &
tailpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=
wait "$tailpid" 2>/dev/null || true
tailpid=
elapsed=$(( $(date +%s) - start ))

if [[ $verbose -eq 1 ]]; then
    echo "----- guest console" >&2
    tr -d '\r' < "$run/console.log" >&2 || true
fi

if [[ -f $run/rc ]]; then
    rc=$(cat "$run/rc")
    boot=$(cut -d' ' -f1 "$run/boot-uptime" 2>/dev/null || echo '?')
    echo "$PROG: exit status $rc; guest booted in ${boot}s, ${elapsed}s in all" >&2
    exit "$rc"
fi

if [[ $qrc -eq 124 ]]; then
    echo "$PROG: timed out after ${timeout_s}s; the VM was stopped" >&2
    status=124
else
    echo "$PROG: the VM stopped (QEMU exit status $qrc) before the command finished" >&2
    status=125
fi
if [[ $verbose -eq 0 ]]; then
    echo "----- QEMU" >&2
    cat "$run/qemu.log" >&2 || true
    echo "----- guest console (last 60 lines)" >&2
    tr -d '\r' < "$run/console.log" 2>/dev/null | tail -n 60 >&2 || true
fi
exit "$status"
