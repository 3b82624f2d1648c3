#!/usr/bin/env bash
# Fetch Debian's apparmor package (apparmor_parser, /etc/apparmor.d, its abstractions) and unpack it into the
# VM cache, never onto the host: a host without AppArmor stays so. Prints the unpacked root's path.
# run-in-vm.sh --apparmor copies it into the guest's root before the command runs.
set -euo pipefail

CACHE=${SIMCON_VM_CACHE:-/var/cache/simcon-vm}
die() { echo "fetch-apparmor: $*" >&2; exit 1; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

version=$(apt-cache policy apparmor 2>/dev/null | awk '/Candidate:/ {print $2; exit}') || true
if [[ -z $version || $version == "(none)" ]]; then
    apt-get update -qq >&2 || true
    version=$(apt-cache policy apparmor 2>/dev/null | awk '/Candidate:/ {print $2; exit}') || true
fi
if [[ -z $version || $version == "(none)" ]]; then
    version=$(cat "$CACHE/current-apparmor" 2>/dev/null) || die "apt knows no apparmor package"
fi
dir=$CACHE/apparmor-${version//:/_}
if [[ ! -f $dir/.unpacked ]]; then
    echo "fetch-apparmor: fetching apparmor $version" >&2
    rm -rf "$dir"
    mkdir -p "$dir/dl" "$dir/root"
    (cd "$dir/dl" && apt-get download -q -o APT::Sandbox::User=root "apparmor=$version" >&2) \
        || die "apt-get download apparmor=$version failed"
    dpkg-deb -x "$dir"/dl/apparmor_*.deb "$dir/root"
    rm -rf "$dir/dl"
    touch "$dir/.unpacked"
fi
echo "$version" > "$CACHE/current-apparmor"
echo "$dir/root"
