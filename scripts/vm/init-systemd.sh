#!/bin/busybox sh
# Stage 2 of the test VM's systemd boot (`run-in-vm.sh --systemd`): prepares the guest's root (the host's `/`
# under a tmpfs overlay, as in init-stage2.sh) and then execs Debian's systemd as PID 1, on cgroup v2 only.
#
# systemd mounts /run, /sys/fs/cgroup (cgroup2), /dev/pts, /dev/shm itself. Before it starts, this script:
#   - hides the host's /tmp and /mnt (fresh tmpfs) and shares the run dir (9p tag `results`) at $RUN, outside
#     /run because systemd mounts a fresh tmpfs there;
#   - mounts the current directory (9p tag cwd) when run-in-vm.sh was called from below /tmp, /run or /mnt;
#   - links the guest kernel's modules (unpacked in the VM cache, seen through 9p) into /lib/modules;
#   - writes, into the overlay's /etc (never the host's), the unit that runs cmd.sh (simcon-vm-cmd.service),
#     the target that boots only it, journald and D-Bus (simcon-vm.target), and masks units this lane does not
#     need, which is most of the boot time under TCG (docs/vm.md lists them).
# simcon-vm-cmd.service writes the command's output and status into the run dir and reboots the guest (QEMU's
# -no-reboot turns that into QEMU exiting).

BB=/bin/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN=/var/lib/simcon-vm
HERE=${0%/*}

fail() {
    echo "simcon-vm systemd stage: $*" >&2
    $BB reboot -f
    $BB sleep 60
}

arg() {
    for a in $($BB cat /proc/cmdline); do
        case $a in "$1"=*) echo "${a#"$1"=}"; return ;; esac
    done
}

$BB mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp || fail "mount /tmp"
$BB mount -t tmpfs -o mode=755,ro tmpfs /mnt || fail "mount /mnt"
$BB mkdir -p "$RUN" /var/lib/simcon-vm-cwd
$BB mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results "$RUN" || fail "mount the run dir"

cwd=$(arg simcon.cwd)
if [ -n "$cwd" ]; then
    w=/var/lib/simcon-vm-cwd
    $BB mount -t tmpfs -o mode=755 tmpfs "$w" || fail "mount the tmpfs for the current directory's overlay"
    $BB mkdir -p "$w/lower" "$w/upper" "$w/work" "$cwd"
    $BB mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose cwd "$w/lower" \
        || fail "mount the current directory (9p tag cwd)"
    $BB mount -t overlay -o "lowerdir=$w/lower,upperdir=$w/upper,workdir=$w/work" overlay "$cwd" \
        || fail "mount the overlay on $cwd"
fi

# modprobe in the guest (overlay for podman's storage, the netfilter modules) finds the guest kernel's modules.
moddir=$(arg simcon.moddir)
if [ -n "$moddir" ] && [ -d "$moddir" ]; then
    $BB mkdir -p /lib/modules
    $BB ln -sfn "$moddir" "/lib/modules/$($BB uname -r)"
fi

$BB hostname simcon-vm
echo simcon-vm > /etc/hostname

units=/etc/systemd/system
$BB mkdir -p "$units"
# The host's enabled units (podman.socket, containerd, timers, gettys...) are not this boot's business: the
# target below names what starts.
cat > "$units/simcon-vm.target" <<EOF
[Unit]
Description=SimCon VM lane: journald, D-Bus and the command
Requires=basic.target dbus.socket dbus.service simcon-vm-cmd.service
After=basic.target dbus.socket
AllowIsolate=yes
EOF
cat > "$units/simcon-vm-cmd.service" <<EOF
[Unit]
Description=SimCon VM lane command (run-in-vm.sh)
Requires=dbus.socket
After=basic.target dbus.socket systemd-journald.service

[Service]
Type=exec
ExecStart=/bin/busybox sh $HERE/systemd-cmd.sh $RUN
StandardInput=null
StandardOutput=journal+console
EOF
# Units that would only cost boot time here (udev's coldplug is most of it under TCG), or that would write to
# or wait on things the guest does not have (fstab, a real disk, the network, a console login).
for u in \
    systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
    systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service \
    systemd-timesyncd.service systemd-random-seed.service systemd-update-utmp.service \
    systemd-journal-flush.service systemd-journal-catalog-update.service systemd-update-done.service \
    systemd-remount-fs.service systemd-fsck-root.service systemd-firstboot.service \
    systemd-machine-id-commit.service systemd-pstore.service systemd-binfmt.service \
    proc-sys-fs-binfmt_misc.automount sys-kernel-debug.mount sys-kernel-tracing.mount \
    sys-kernel-config.mount sys-fs-fuse-connections.mount dev-hugepages.mount \
    systemd-modules-load.service kmod-static-nodes.service systemd-sysusers.service ldconfig.service \
    systemd-repart.service systemd-boot-system-token.service systemd-tmpfiles-clean.timer \
    systemd-ask-password-console.path systemd-ask-password-wall.path cryptsetup.target \
    getty.target console-getty.service serial-getty@ttyS0.service e2scrub_reap.service \
    apparmor.service networking.service ifupdown-pre.service swap.target \
    remote-fs.target timers.target; do
    $BB ln -sfn /dev/null "$units/$u"
done

exec /lib/systemd/systemd --unit=simcon-vm.target
fail "exec systemd"
