#!/usr/bin/env bash
# Build (or find in the cache) the test VM's kernel (an ELF vmlinux) and initramfs; print their two paths.
#
#   scripts/vm/build-image.sh
#
# The kernel is Debian's stock one (linux-image-amd64 and the linux-image-<version>-amd64 it depends on),
# fetched with `apt-get download` and unpacked with `dpkg-deb -x`: never installed on the host. The initramfs
# holds the host's static busybox, the 9p/virtio/overlay modules the kernel builds as modules (in dependency
# order) and init-stage1.sh. Both are cached in $SIMCON_VM_CACHE (default /var/cache/simcon-vm) and rebuilt
# when the kernel package, busybox or the stage 1 script change.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${SIMCON_VM_CACHE:-/var/cache/simcon-vm}
# What stage 1 mounts needs: 9p over virtio-pci, and overlayfs. Their dependencies are added below.
WANTED_MODULES=(virtio_pci 9pnet_virtio 9p overlay)

log() { echo "build-image: $*" >&2; }
die() { echo "build-image: $*" >&2; exit 1; }

mkdir -p "$CACHE"
cd "$CACHE"
# Two runs at once (make test-vm in two checkouts) must not unpack into the same dir together.
exec 9>"$CACHE/.lock"
flock 9

# Which kernel: the package linux-image-amd64 currently points at; the cached one when apt cannot say
# (no package lists) so that a machine that built the image once keeps working offline.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}') || true
if [[ -z $kpkg ]]; then
    apt-get update -qq >&2 || true
    kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}') || true
fi
if [[ -z $kpkg ]]; then
    kpkg=$(cat current-kernel-package 2>/dev/null) || die "cannot tell which linux-image package to use (apt-cache depends linux-image-amd64 found none)"
    log "apt does not know linux-image-amd64; using the cached $kpkg"
fi
kver=${kpkg#linux-image-}
kdir=$CACHE/$kpkg

if [[ ! -f $kdir/.unpacked ]]; then
    log "fetching $kpkg"
    rm -rf "$kdir" "$CACHE/dl"
    mkdir -p "$CACHE/dl"
    # As root into a root-only dir: apt's _apt sandbox user could not write there (it warns and falls back).
    (cd "$CACHE/dl" && apt-get download -q -o APT::Sandbox::User=root "$kpkg" >&2) || die "apt-get download $kpkg failed"
    mkdir -p "$kdir/root"
    dpkg-deb -x "$CACHE"/dl/"$kpkg"_*.deb "$kdir/root"
    rm -rf "$CACHE/dl"
    touch "$kdir/.unpacked"
fi
echo "$kpkg" > current-kernel-package
vmlinuz=$kdir/root/boot/vmlinuz-$kver
moddir=$kdir/root/lib/modules/$kver
[[ -f $vmlinuz ]] || die "$vmlinuz missing from $kpkg"

# The bare ELF kernel inside the bzImage: QEMU boots it directly through its PVH entry point, skipping the
# firmware's real-mode path and the xz decompression, about 4 of the 9 seconds a boot takes under TCG.
vmlinux=$kdir/vmlinux
if [[ ! -f $vmlinux ]]; then
    /usr/bin/python3 - "$vmlinuz" "$vmlinux.tmp" <<'PY'
import lzma, sys
data = open(sys.argv[1], "rb").read()
start = data.find(b"\xfd7zXZ\x00")
elf = lzma.LZMADecompressor().decompress(data[start:]) if start >= 0 else b""
if not elf.startswith(b"\x7fELF"):
    sys.exit("build-image: no xz-compressed ELF kernel found in " + sys.argv[1])
open(sys.argv[2], "wb").write(elf)
PY
    mv "$vmlinux.tmp" "$vmlinux"
fi

# busybox-static's: the initramfs has no libc.
busybox=/bin/busybox
[[ -x $busybox ]] || die "$busybox not found; install busybox-static"

# By content only: checkouts at other paths share the image.
key=$( (echo "$kpkg"; cat "$HERE/init-stage1.sh" "$HERE/build-image.sh" "$busybox") | sha256sum | cut -c1-16)
initrd=$kdir/initramfs-$key.cpio
if [[ ! -f $initrd ]]; then
    log "building the initramfs for $kpkg"
    work=$(mktemp -d "$CACHE/initramfs.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work"/{bin,modules,proc,sys,dev,lower,upper,newroot}
    cp "$busybox" "$work/bin/busybox"
    # The kernel opens /dev/console for PID 1's stdio before anything is mounted.
    mknod -m 600 "$work/dev/console" c 5 1
    cp "$HERE/init-stage1.sh" "$work/init"
    chmod 755 "$work/init"

    # Dependency order from each module's modinfo `depends=` field (no kmod needed on the host).
    declare -A seen=()
    order=()
    add_module() {
        local name=$1 file dep deps
        [[ -n ${seen[$name]:-} ]] && return 0
        seen[$name]=1
        file=$(find "$moddir/kernel" -name "$name.ko" -print -quit)
        if [[ -z $file ]]; then
            grep -q "/$name.ko\$" "$moddir/modules.builtin" && return 0
            die "module $name is neither in $kpkg's modules nor built in"
        fi
        deps=$(tr '\0' '\n' < "$file" | sed -n 's/^depends=//p' | tr ',' ' ')
        for dep in $deps; do add_module "$dep"; done
        cp "$file" "$work/modules/$name.ko"
        order+=("$name")
    }
    for m in "${WANTED_MODULES[@]}"; do add_module "$m"; done
    printf '%s\n' "${order[@]}" > "$work/modules/order"

    (cd "$work" && find . -mindepth 1 | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null) > "$initrd.tmp"
    mv "$initrd.tmp" "$initrd"
    # Older images of the same kernel are stale now.
    find "$kdir" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "initramfs-$key.cpio" -delete
fi

echo "$vmlinux"
echo "$initrd"
