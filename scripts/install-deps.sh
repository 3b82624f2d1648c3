#!/usr/bin/env bash
# Install the Debian packages SimCon's demo, tests and benchmarks need, only those that are missing.
# Fast when everything is there (one dpkg-query, no apt). Used by `make setup` and .ci/run.
#
#   scripts/install-deps.sh [PACKAGE...]      default: the list below
set -euo pipefail

PACKAGES=("$@")
if [[ ${#PACKAGES[@]} -eq 0 ]]; then
    # golang-github-containers-common: podman's default seccomp profile, for the benchmarks' realistic bundle
    PACKAGES=(busybox-static python3-venv runc crun hyperfine iproute2 util-linux time libseccomp2 uidmap fish
              golang-github-containers-common)
    PACKAGES+=(containernetworking-plugins iptables)  # CNI networking: the plugins and the rules they write
    PACKAGES+=(groff-base)  # renders the man pages in a docs test
    PACKAGES+=(socat conmon)  # socat: the syslog driver test receiver; conmon: the log bench (bench/logs.sh)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]}; run as root or install them" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
