# Shell helpers shared by scripts/demo.sh and bench/run.sh. Source it; it defines functions only.
#
# Cgroup rule: these helpers only ever touch the absolute cgroup paths they are given (such as
# /simcon-bench/<id>), in every mounted hierarchy, and refuse anything that is not below a parent of
# our own. They never look at /sys/fs/cgroup/*/process_api.

CGROUP_MOUNT=${CGROUP_MOUNT:-/sys/fs/cgroup}

# cgroup_dirs REL: the directories of the absolute cgroup path REL in every mounted hierarchy
# (the cgroup2 root itself, or each v1/hybrid hierarchy below $CGROUP_MOUNT).
cgroup_dirs() {
    local rel=$1 d
    case $rel in
        /simcon-*/*|/simcon-*) ;;
        *) echo "cgroup_dirs: refusing cgroup path '$rel' (must be below /simcon-*)" >&2; return 1 ;;
    esac
    case $rel in *process_api*|*..*) echo "cgroup_dirs: refusing cgroup path '$rel'" >&2; return 1 ;; esac
    for d in "$CGROUP_MOUNT$rel" "$CGROUP_MOUNT"/*"$rel"; do
        [[ -d $d ]] && printf '%s\n' "$d"
    done
    return 0
}

# cgroup_remove REL: kill whatever is still inside the tree (only processes we started end up there),
# then rmdir it deepest first. Silent when there is nothing to remove.
cgroup_remove() {
    local rel=$1 dir sub pid tries
    local -a dirs
    mapfile -t dirs < <(cgroup_dirs "$rel") || return 1
    [[ ${#dirs[@]} -gt 0 ]] || return 0
    for dir in "${dirs[@]}"; do
        while IFS= read -r sub; do
            [[ -r $sub/cgroup.procs ]] || continue
            while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < "$sub/cgroup.procs"
        done < <(find "$dir" -type d 2>/dev/null)
    done
    for dir in "${dirs[@]}"; do
        for tries in 1 2 3 4 5 6 7 8 9 10; do
            find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
            [[ -d $dir ]] || break
            sleep 0.1
        done
        [[ -d $dir ]] && echo "warning: could not remove cgroup $dir" >&2
    done
    return 0
}

# cgroup_rmdir_if_empty REL: remove our parent cgroup unless something else (a concurrent run) uses it.
cgroup_rmdir_if_empty() {
    local dir
    while IFS= read -r dir; do
        rmdir "$dir" 2>/dev/null || true
    done < <(cgroup_dirs "$1")
    return 0
}
