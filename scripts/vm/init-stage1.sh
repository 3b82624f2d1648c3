#!/bin/busybox sh
# Stage 1 of the test VM's init: runs as PID 1 from the initramfs built by scripts/vm/build-image.sh.
#
# Loads the 9p/overlay modules, mounts the host's `/` (9p, read-only) under a tmpfs overlay at /newroot, moves
# the kernel filesystems there and switch_roots into it, running stage 2 (the `simcon.stage2=` path from the
# kernel command line, read through the overlay, so editing stage 2 needs no image rebuild).
# Any failure here reboots the guest at once: QEMU runs with -no-reboot, so the host sees it exit without a
# result file and prints the console log.

/bin/busybox --install -s /bin
export PATH=/bin

fail() {
    echo "simcon-vm stage1: $*" >&2
    reboot -f
    sleep 60
}

mkdir -p /proc /sys /dev /lower /upper /newroot
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"

# modules/order lists the modules in dependency order (computed on the host from their depends= fields).
while read -r mod; do
    insmod "/modules/$mod.ko" || fail "insmod $mod"
done < /modules/order

stage2=
for arg in $(cat /proc/cmdline); do
    case $arg in simcon.stage2=*) stage2=${arg#simcon.stage2=} ;; esac
done
[ -n "$stage2" ] || fail "no simcon.stage2= on the kernel command line"

# cache=loose: the host tree does not change under a test run, and without a page cache every Python import
# would be a round trip to QEMU's 9p server.
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts,ro,cache=loose" hostroot /lower || fail "mount the host's / (9p tag hostroot)"
mount -t tmpfs -o mode=755 upper /upper || fail "mount the overlay's tmpfs"
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay /newroot \
    || fail "mount the overlay"
[ -f "/newroot$stage2" ] || fail "stage 2 $stage2 not found in the host's tree"

mount --move /proc /newroot/proc || fail "move /proc"
mount --move /sys /newroot/sys || fail "move /sys"
mount --move /dev /newroot/dev || fail "move /dev"

exec switch_root /newroot /bin/busybox sh "$stage2"
fail "switch_root"
