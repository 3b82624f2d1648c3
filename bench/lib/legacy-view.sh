#!/bin/sh
# legacy-view.sh SCRATCH CMD...: run CMD where /sys/fs/cgroup looks like a pure cgroup v1 host.
#
# Call it inside a private mount namespace (bench/run.sh uses `unshare --mount --propagation private`).
# It builds a fresh tmpfs holding bind mounts of the v1 hierarchies only (no `unified`), unmounts the
# old /sys/fs/cgroup tree, moves the new one there, and execs CMD. The v1 hierarchies are the host's own, so cgroups made in this view are
# the same cgroups the host sees; anything written elsewhere lands on the private tmpfs and vanishes with
# the namespace. SCRATCH is an empty directory to build the tmpfs on (it is removed again).
set -eu
scratch=$1
shift
cg=${CGROUP_MOUNT:-/sys/fs/cgroup}

mount -t tmpfs -o size=1m,mode=755 simcon-bench-v1 "$scratch"
for path in "$cg"/*; do
    name=${path##*/}
    [ "$name" = unified ] && continue
    if [ -L "$path" ]; then
        cp -P "$path" "$scratch/$name"       # e.g. cpu -> cpu,cpuacct
    elif [ -d "$path" ]; then
        mkdir "$scratch/$name"
        mount --bind "$path" "$scratch/$name"
    fi
done
# Unmount the old tree (in this namespace only) rather than cover it, so that /proc/self/mountinfo, which
# runtimes read to find the hierarchies, lists just the new layout.
umount -R "$cg"
mount --move "$scratch" "$cg"
rmdir "$scratch"
exec "$@"
