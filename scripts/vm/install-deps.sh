#!/usr/bin/env bash
# Install the Debian packages the VM test lane needs (only what is missing; fast when all are there).
# Kept apart from scripts/install-deps.sh so that `make test` does not pay for QEMU.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# qemu-system-x86: the emulator; busybox-static: the initramfs's only binary; coreutils' timeout and tail.
# The systemd boot (run-in-vm.sh --systemd) runs these from the host's root inside the guest, never on the host:
# systemd and dbus (PID 1, the system bus), podman and containerd (the engines run on SimCon there).
exec "$HERE/../install-deps.sh" qemu-system-x86 busybox-static coreutils systemd dbus podman containerd
