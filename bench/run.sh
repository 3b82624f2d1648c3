#!/usr/bin/env bash
# SimCon start-up benchmarks: simcon next to runc and crun, in one run, on the same busybox bundle.
#
#   bench/run.sh                        (or `make bench`)
#
# Environment (all optional):
#   BENCH_RUNTIMES="simcon runc crun"   which runtimes to compare (simcon is the one the ratios are about)
#   BENCH_RUNS=20  BENCH_WARMUP=3       hyperfine iterations per command
#   BENCH_MEM_RUNS=5                    `run` repetitions for the max-RSS measurement
#   BENCH_CGROUP_VIEW=auto|host|legacy  see docs/performance.md ("cgroup view")
#   BENCH_OUT=DIR                       results directory (default bench/results/<timestamp>)
#   SIMCON=... RUNC=... CRUN=...        runtime binaries (default .venv/bin/simcon, runc, crun on PATH)
#
# What it measures (hyperfine, side by side):
#   run     `RUNTIME run` of /bin/true (create + start + wait + delete in one call)
#   cycle   `RUNTIME create`, `start`, `delete --force`: three calls, as an engine drives a runtime
#   state   `RUNTIME state ID` of a container sitting in `created`
#   memory  max RSS (GNU time %M) of `RUNTIME run`
# Results (hyperfine JSON + markdown, memory.tsv, env.txt, summary.md) go to bench/results/.
#
# Every container lives in a private --root under a temp dir and in the cgroup /simcon-bench/<run>-<runtime>;
# all of them, their cgroups and the /simcon-bench parent are removed at exit, also on Ctrl-C.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
# shellcheck source=../scripts/lib.sh
source "$REPO/scripts/lib.sh"

ONCE=$HERE/lib/once.sh
CG_PARENT=/simcon-bench

runtime_bin() {
    case $1 in
        simcon) echo "${SIMCON:-$REPO/.venv/bin/simcon}" ;;
        runc) echo "${RUNC:-$(command -v runc || echo /usr/sbin/runc)}" ;;
        crun) echo "${CRUN:-$(command -v crun || echo /usr/bin/crun)}" ;;
        *) echo "bench: unknown runtime '$1' (simcon, runc, crun)" >&2; return 1 ;;
    esac
}

# Run a command in the cgroup view chosen for this run. "legacy" shows a hybrid host as a pure cgroup v1
# host, in a private mount namespace (bench/lib/legacy-view.sh): crun refuses hybrid hosts whose cgroup2
# side has controllers. Nothing changes for the rest of the machine.
in_view() {
    if [[ $BENCH_VIEW == legacy ]]; then
        local scratch
        scratch=$(mktemp -d "$WORK/cgview.XXXXXX")
        unshare --mount --propagation private -- "$HERE/lib/legacy-view.sh" "$scratch" "$@"
    else
        "$@"
    fi
}

# ---------------------------------------------------------------------------------------------------
# Measurement phase: runs inside the chosen view (`bench/run.sh __measure`), everything set up by main.
measure() {
    local rt bin root bundle i kb err=$WORK/err
    local -a run_args=() cycle_args=() state_args=()

    echo "== smoke test: one \`run\` of /bin/true per runtime"
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt"); root=$WORK/$rt/root; bundle=$WORK/$rt/bundle
        if ! timeout --kill-after=5 30 "$ONCE" run "$bin" "$root" "$bundle" >/dev/null 2>"$err"; then
            echo "bench: $rt cannot run the bundle (or took over 30 s):" >&2
            sed 's/^/    /' "$err" >&2
            echo "bench: fix it, or leave it out, e.g. BENCH_RUNTIMES=\"runc crun\" bench/run.sh" >&2
            return 1
        fi
        echo "   $rt ok ($bin)"
        run_args+=(-n "$rt" "'$ONCE' run '$bin' '$root' '$bundle'")
        cycle_args+=(-n "$rt" "'$ONCE' cycle '$bin' '$root' '$bundle'")
        state_args+=(-n "$rt" "'$bin' --root '$root' state st-$RUN_ID")
    done

    local -a hf=(hyperfine -N --warmup "$BENCH_WARMUP" --runs "$BENCH_RUNS")

    echo; echo "== run: \`RUNTIME run\` of /bin/true"
    "${hf[@]}" --export-json "$OUT/run.json" --export-markdown "$OUT/run.md" "${run_args[@]}"

    echo; echo "== cycle: create + start + delete --force"
    "${hf[@]}" --export-json "$OUT/cycle.json" --export-markdown "$OUT/cycle.md" "${cycle_args[@]}"

    echo; echo "== state: \`RUNTIME state\` of a created container"
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt")
        if ! "$bin" --root "$WORK/$rt/root" create --bundle "$WORK/$rt/bundle" "st-$RUN_ID" \
                </dev/null >/dev/null 2>"$err"; then
            echo "bench: $rt create failed:" >&2; sed 's/^/    /' "$err" >&2; return 1
        fi
    done
    "${hf[@]}" --export-json "$OUT/state.json" --export-markdown "$OUT/state.md" "${state_args[@]}"
    for rt in $BENCH_RUNTIMES; do
        "$(runtime_bin "$rt")" --root "$WORK/$rt/root" delete --force "st-$RUN_ID" >/dev/null 2>&1 || true
    done

    echo; echo "== memory: max RSS of \`RUNTIME run\` ($BENCH_MEM_RUNS runs each)"
    if [[ ! -x /usr/bin/time ]]; then
        echo "   skipped: /usr/bin/time missing (apt-get install time)"
        return 0
    fi
    : >"$OUT/memory.tsv"
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt")
        for ((i = 1; i <= BENCH_MEM_RUNS; i++)); do
            /usr/bin/time -f %M -o "$WORK/rss" \
                "$bin" --root "$WORK/$rt/root" run --bundle "$WORK/$rt/bundle" "m-$RUN_ID-$i" </dev/null >/dev/null
            kb=$(tail -n 1 "$WORK/rss")
            printf '%s\t%s\n' "$rt" "$kb" >>"$OUT/memory.tsv"
        done
        echo "   $rt: $(awk -v r="$rt" '$1 == r { printf "%s ", $2 }' "$OUT/memory.tsv")KiB"
    done
}

# ---------------------------------------------------------------------------------------------------
cleanup() {
    local rt bin root id
    trap - EXIT INT TERM
    if [[ -n ${MEASURE_PID:-} ]]; then
        kill -TERM -- "-$MEASURE_PID" 2>/dev/null || kill -TERM "$MEASURE_PID" 2>/dev/null || true
        sleep 0.3
        kill -KILL -- "-$MEASURE_PID" 2>/dev/null || true
        wait "$MEASURE_PID" 2>/dev/null || true
    fi
    [[ -n ${WORK:-} && -d ${WORK:-/nonexistent} ]] || return 0
    for rt in $BENCH_RUNTIMES; do
        root=$WORK/$rt/root
        [[ -d $root ]] || continue
        bin=$(runtime_bin "$rt")
        for id in $(ls -A "$root" 2>/dev/null); do
            [[ -d $root/$id ]] || continue
            in_view "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    for rt in $BENCH_RUNTIMES; do
        cgroup_remove "$CG_PARENT/$RUN_ID-$rt"
    done
    cgroup_rmdir_if_empty "$CG_PARENT"
    rm -rf -- "$WORK"
}

main() {
    BENCH_RUNTIMES=${BENCH_RUNTIMES:-simcon runc crun}
    BENCH_RUNS=${BENCH_RUNS:-20}
    BENCH_WARMUP=${BENCH_WARMUP:-3}
    BENCH_MEM_RUNS=${BENCH_MEM_RUNS:-5}
    BENCH_VIEW=${BENCH_CGROUP_VIEW:-auto}
    RUN_ID=r$$
    OUT=${BENCH_OUT:-$REPO/bench/results/$(date +%Y%m%d-%H%M%S)}
    local py=$REPO/.venv/bin/python rt bin
    [[ -x $py ]] || py=/usr/bin/python3

    if [[ $(id -u) -ne 0 ]]; then echo "bench: must run as root (containers with cgroups)" >&2; exit 1; fi
    command -v hyperfine >/dev/null || { echo "bench: hyperfine missing (make setup)" >&2; exit 1; }
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt")
        [[ -x $bin ]] || { echo "bench: $rt not found at '$bin' (make setup)" >&2; exit 1; }
    done

    if [[ $BENCH_VIEW == auto ]]; then
        BENCH_VIEW=host
        # (cgroupfs files report size 0, so read the file rather than test -s)
        if [[ " $BENCH_RUNTIMES " == *" crun "* && -n $(cat "$CGROUP_MOUNT/unified/cgroup.controllers" 2>/dev/null) ]]; then
            BENCH_VIEW=legacy   # hybrid host with controllers on the cgroup2 side: crun would refuse it
        fi
    fi
    case $BENCH_VIEW in host|legacy) ;; *) echo "bench: BENCH_CGROUP_VIEW must be auto, host or legacy" >&2; exit 1 ;; esac

    WORK=$(mktemp -d /tmp/simcon-bench.XXXXXX)
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$OUT"

    echo "== bundles: busybox, /bin/true, cgroup $CG_PARENT/$RUN_ID-<runtime>, cgroup view: $BENCH_VIEW"
    for rt in $BENCH_RUNTIMES; do
        mkdir -p "$WORK/$rt/root"
        "$py" "$REPO/tools/mkbundle.py" --cgroups-path "$CG_PARENT/$RUN_ID-$rt" "$WORK/$rt/bundle" -- /bin/true >/dev/null
    done

    {
        echo "date: $(date -Is)"
        echo "kernel: $(uname -r)"
        echo "cpus: $(nproc)"
        echo "cgroup view: $BENCH_VIEW"
        echo "hyperfine: $(hyperfine --version)"
        for rt in $BENCH_RUNTIMES; do
            echo "$rt: $("$(runtime_bin "$rt")" --version 2>&1 | head -n 1)"
        done
        echo "simcon commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        echo "runs: $BENCH_RUNS, warmup: $BENCH_WARMUP, memory runs: $BENCH_MEM_RUNS"
    } >"$OUT/env.txt"

    export WORK OUT RUN_ID BENCH_RUNTIMES BENCH_RUNS BENCH_WARMUP BENCH_MEM_RUNS BENCH_VIEW SIMCON RUNC CRUN
    # The measurement runs in a session of its own, waited for in the background: a signal to this script
    # then runs the trap at once, and the trap stops the whole measurement (hyperfine and its runtimes).
    setsid "$HERE/run.sh" __measure_in_view &
    MEASURE_PID=$!
    local rc=0
    wait "$MEASURE_PID" || rc=$?
    MEASURE_PID=
    [[ $rc -eq 0 ]] || exit "$rc"

    echo
    "$py" "$HERE/summarize.py" "$OUT"
    echo
    echo "results: $OUT"
}

if [[ ${1:-} == __measure_in_view ]]; then
    in_view "$HERE/run.sh" __measure
elif [[ ${1:-} == __measure ]]; then
    measure
else
    main "$@"
fi
