#!/bin/busybox sh
# Stage 2 of the test VM's init: PID 1 in the guest's root (the host's `/` under a tmpfs overlay), started by
# stage 1's switch_root. Read from the host's tree at boot, so changes here need no image rebuild.
#
# Mounts what a container host needs (only cgroup2, with every controller enabled for children), mounts the
# run dir (9p tag `results`, read-write: the host's per-run tmp dir holding cmd.sh), runs cmd.sh with its output
# in output.log, writes its exit status to rc and reboots (QEMU's -no-reboot turns that into QEMU exiting).

BB=/bin/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN=/run/simcon-vm

fail() {
    echo "simcon-vm stage2: $*" >&2
    $BB reboot -f
    $BB sleep 60
}

$BB mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || fail "mount /tmp"
$BB mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run || fail "mount /run"
# Host-only mounts seen through 9p (the host's sandboxing tools live below /mnt): hidden, never read.
$BB mount -t tmpfs -o mode=755,ro tmpfs /mnt || fail "mount /mnt"
$BB mkdir -p /dev/pts /dev/shm /dev/mqueue "$RUN"
$BB mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts || fail "mount /dev/pts"
$BB mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm || fail "mount /dev/shm"
$BB mount -t mqueue mqueue /dev/mqueue || fail "mount /dev/mqueue"
$BB mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
$BB mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results "$RUN" || fail "mount the run dir"

# A pure v2 host as systemd leaves it: every available controller delegated to the root's children.
for c in $($BB cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || fail "enable the $c controller"
done
if $BB grep -qw securityfs /proc/filesystems; then
    $BB mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
fi
# run-in-vm.sh from a directory below /tmp, /run or /mnt (hidden by the mounts above): that directory comes as
# its own 9p share (tag cwd), mounted back at its path under a tmpfs overlay, writable as the rest of the root.
for arg in $($BB cat /proc/cmdline); do
    case $arg in simcon.cwd=*) cwd=${arg#simcon.cwd=} ;; esac
done
if [ -n "${cwd:-}" ]; then
    $BB mkdir -p /run/simcon-vm-cwd/lower /run/simcon-vm-cwd/upper /run/simcon-vm-cwd/work "$cwd"
    $BB mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose cwd /run/simcon-vm-cwd/lower \
        || fail "mount the current directory (9p tag cwd)"
    $BB mount -t overlay -o lowerdir=/run/simcon-vm-cwd/lower,upperdir=/run/simcon-vm-cwd/upper,workdir=/run/simcon-vm-cwd/work \
        overlay "$cwd" || fail "mount the overlay on $cwd"
fi

# run-in-vm.sh --apparmor: Debian's apparmor package, unpacked on the host, merged into this root (/sbin and
# /lib are symlinks into /usr here, the package still ships them as directories).
for arg in $($BB cat /proc/cmdline); do
    case $arg in simcon.apparmor=*) aa=${arg#simcon.apparmor=} ;; esac
done
if [ -n "${aa:-}" ]; then
    for top in "$aa"/*; do
        dest=$($BB readlink -f "/${top##*/}")
        $BB mkdir -p "$dest" && $BB cp -a "$top/." "$dest/" || fail "copy the apparmor package's ${top##*/}"
    done
fi
$BB ip link set lo up
$BB hostname simcon-vm

$BB cat /proc/uptime > "$RUN/boot-uptime"

# The command runs in the background so that this shell, blocked in `wait`, also reaps the orphans
# (container inits whose runtime exited) that the kernel reparents to PID 1.
HOME=/root TERM=dumb $BB sh "$RUN/cmd.sh" > "$RUN/output.log" 2>&1 < /dev/null &
cmd=$!
wait "$cmd"
rc=$?
echo "$rc" > "$RUN/rc.tmp" && $BB mv "$RUN/rc.tmp" "$RUN/rc"
$BB sync
$BB reboot -f
