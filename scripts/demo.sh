#!/usr/bin/env bash
# `make demo`: run one busybox container with simcon and show what it saw.
#
#   scripts/demo.sh [RUNTIME]      RUNTIME defaults to .venv/bin/simcon; `runc` or `crun` work too
#
# Prints the container's hostname, `ps` as the container's PID 1 sees it, and the exit status, which
# must be 3. Removes the bundle, the container (if anything is left) and its cgroup parent /simcon-demo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

RUNTIME=${1:-.venv/bin/simcon}
PYTHON=${PYTHON:-.venv/bin/python}
EXPECTED=3
ID=demo-$$
CGROUP=/simcon-demo/$ID
BUNDLE=$(mktemp -d /tmp/simcon-demo.XXXXXX)

cleanup() {
    "$RUNTIME" delete --force "$ID" >/dev/null 2>&1 || true
    cgroup_remove "$CGROUP"
    cgroup_rmdir_if_empty /simcon-demo
    rm -rf -- "$BUNDLE"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Options go before DEST: mkbundle's argparse does not take them between DEST and `--`.
"$PYTHON" tools/mkbundle.py --cgroups-path "$CGROUP" "$BUNDLE" -- \
    sh -c 'echo "hostname: $(hostname)"; ps; exit 3' >/dev/null

echo "\$ $RUNTIME run --bundle $BUNDLE $ID"
status=0
"$RUNTIME" run --bundle "$BUNDLE" "$ID" </dev/null || status=$?
echo "container exit status: $status"
if [[ $status -ne $EXPECTED ]]; then
    echo "demo: expected exit status $EXPECTED, got $status" >&2
    exit 1
fi
