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
# What it measures (hyperfine, side by side), on a bare bundle and on the config podman sends:
#   run-*    `RUNTIME run` of /bin/true (create + start + wait + delete in one call)
#   cycle-*  `RUNTIME create`, `start`, `delete --force`: three calls, as an engine drives a runtime
#   exec     `RUNTIME exec ID /bin/true` in a running container
#   state, list   with BENCH_MANY (200) containers in `created`
#   cpu      user + system time of BENCH_CPU_CYCLES (100) create/start/delete cycles (bench/lib/cputime.py)
#   pss      Pss of a created container's waiting process, and of the monitor `run -d` leaves
#   memory   max RSS (GNU time %M) of each verb
#   logs     log throughput and monitor Pss next to conmon (bench/logs.sh, own table; BENCH_LOGS=0 skips it)
# Results (hyperfine JSON + markdown, *.tsv, env.txt, summary.md, ratios.png) go to bench/results/.
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

# hyperfine over all runtimes, one command each: timed NAME 'COMMAND with @RT@ @BIN@ @ROOT@ @WORK@'
timed() {
    local name=$1 template=$2 rt bin cmd
    local -a args=()
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt")
        cmd=${template//@BIN@/$bin}; cmd=${cmd//@ROOT@/$WORK/$rt/root}; cmd=${cmd//@WORK@/$WORK/$rt}
        cmd=${cmd//@RT@/$rt}
        args+=(-n "$rt" "$cmd")
    done
    hyperfine -N --warmup "$BENCH_WARMUP" --runs "$BENCH_RUNS" \
        --export-json "$OUT/$name.json" --export-markdown "$OUT/$name.md" "${args[@]}"
}

# The pid a runtime reports for a container (for runc and simcon a waiting `created` container's pid is the
# process that will exec the program: `runc init`, SimCon's init; for crun the same).
container_pid() {
    "$1" --root "$2" state "$3" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["pid"])'
}

pss_kib() {
    awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup"
}

# Private memory (USS): what one more such process costs however many share the interpreter's pages.
uss_kib() {
    awk '$1 == "Private_Clean:" || $1 == "Private_Dirty:" { kib += $2 } END { print kib }' "/proc/$1/smaps_rollup"
}

measure() {
    local rt bin root flavor i kb pid err=$WORK/err verb

    echo "== smoke test: one \`run\` of /bin/true per runtime and bundle"
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt"); root=$WORK/$rt/root
        for flavor in bare podman; do
            if ! timeout --kill-after=5 30 "$ONCE" run "$bin" "$root" "$WORK/$rt/$flavor" >/dev/null 2>"$err"; then
                echo "bench: $rt cannot run the $flavor bundle (or took over 30 s):" >&2
                sed 's/^/    /' "$err" >&2
                echo "bench: fix it, or leave it out, e.g. BENCH_RUNTIMES=\"runc crun\" bench/run.sh" >&2
                return 1
            fi
        done
        echo "   $rt ok ($bin)"
    done

    for flavor in bare podman; do
        echo; echo "== run-$flavor: \`RUNTIME run\` of /bin/true, $flavor bundle"
        timed "run-$flavor" "'$ONCE' run '@BIN@' '@ROOT@' '@WORK@/$flavor'"
        echo; echo "== cycle-$flavor: create + start + delete --force, $flavor bundle"
        timed "cycle-$flavor" "'$ONCE' cycle '@BIN@' '@ROOT@' '@WORK@/$flavor'"
    done

    if [[ " $BENCH_RUNTIMES " == *" simcon "* ]]; then
        # Where simcon's time goes (docs/performance.md, "Time budget"): the interpreter alone, and the interpreter
        # with every module `simcon run` loads before its fork; the rest of a `run` is fork and kernel work.
        local py_simcon
        py_simcon=$(dirname "$(runtime_bin simcon)")/python
        echo; echo "== phases: interpreter start, and the imports of \`simcon run\`"
        hyperfine -N --warmup "$BENCH_WARMUP" --runs "$BENCH_RUNS" \
            --export-json "$OUT/phases.json" --export-markdown "$OUT/phases.md" \
            -n "python -S (no site)" "$py_simcon -S -c pass" \
            -n "python (the interpreter simcon starts)" "$py_simcon -c pass" \
            -n "python + the imports of simcon run" "$py_simcon -c 'import simcon.cli.main, simcon.runtime.run, simcon.runtime.create, simcon.spec.load, simcon.init.container_init, simcon.runtime.plan, simcon.cgroups, simcon.runtime.plan.seccomp'"
    fi

    echo; echo "== exec: \`RUNTIME exec ID /bin/true\` in a running container (podman bundle, sleep)"
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt")
        "$bin" --root "$WORK/$rt/root" run -d --bundle "$WORK/$rt/b/ex" "ex-$RUN_ID" </dev/null >/dev/null 2>"$err" \
            || { echo "bench: $rt run -d failed:" >&2; sed 's/^/    /' "$err" >&2; return 1; }
    done
    timed exec "'@BIN@' --root '@ROOT@' exec ex-$RUN_ID /bin/true"

    echo; echo "== memory: Pss of a created container waiting for start, of the process a \`run -d\` leaves"
    : >"$OUT/pss.tsv"
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt"); root=$WORK/$rt/root
        "$bin" --root "$root" create --bundle "$WORK/$rt/b/pss" "pss-$RUN_ID" </dev/null >/dev/null 2>"$err" \
            || { echo "bench: $rt create failed:" >&2; sed 's/^/    /' "$err" >&2; return 1; }
        pid=$(container_pid "$bin" "$root" "pss-$RUN_ID")
        sleep 0.5  # `create` returns at READY; the init may still be finishing (SimCon's execs its trampoline)
        printf '%s\t%s\t%s\n' "$rt" "created container (waiting init)" "$(pss_kib "$pid")" >>"$OUT/pss.tsv"
        "$bin" --root "$root" delete --force "pss-$RUN_ID" >/dev/null 2>&1 || true
        # The parent of a detached container's init: SimCon's monitor; runc and crun leave none (the init is
        # reparented), so for them there is nothing to measure.
        pid=$(container_pid "$bin" "$root" "ex-$RUN_ID")
        pid=$(awk '{ print $4 }' "/proc/$pid/stat")
        if [[ $(cat "/proc/$pid/comm") != systemd && $pid -ne 1 && $(cat "/proc/$pid/cmdline" | tr '\0' ' ') == *"$rt"* ]]; then
            printf '%s\t%s\t%s\n' "$rt" "monitor of run -d" "$(pss_kib "$pid")" >>"$OUT/pss.tsv"
            # Alone, the monitor is charged half of the interpreter's code pages; on a host running ten detached
            # containers it shares them ten ways, and only its private memory is its own.
            for ((i = 1; i <= 9; i++)); do
                "$bin" --root "$root" run -d --bundle "$WORK/$rt/b/d$i" "d$i-$RUN_ID" </dev/null >/dev/null 2>"$err" \
                    || { echo "bench: $rt run -d #$i failed:" >&2; sed 's/^/    /' "$err" >&2; return 1; }
            done
            sleep 0.5
            printf '%s\t%s\t%s\n' "$rt" "monitor of run -d, one of 10" "$(pss_kib "$pid")" >>"$OUT/pss.tsv"
            printf '%s\t%s\t%s\n' "$rt" "monitor of run -d, private (USS)" "$(uss_kib "$pid")" >>"$OUT/pss.tsv"
            for ((i = 1; i <= 9; i++)); do
                "$bin" --root "$root" delete --force "d$i-$RUN_ID" >/dev/null 2>&1 || true
            done
        fi
    done
    sed 's/^/   /' "$OUT/pss.tsv"

    echo; echo "== state and list with $BENCH_MANY containers in \`created\` per runtime"
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt")
        for ((i = 1; i <= BENCH_MANY; i++)); do
            "$bin" --root "$WORK/$rt/many" create --bundle "$WORK/$rt/b/m$i" "m$i-$RUN_ID" </dev/null >/dev/null 2>"$err" \
                || { echo "bench: $rt create #$i failed:" >&2; sed 's/^/    /' "$err" >&2; return 1; }
        done
        echo "   $rt: $BENCH_MANY created"
    done
    timed state "'@BIN@' --root '@WORK@/many' state m1-$RUN_ID"
    timed list "'@BIN@' --root '@WORK@/many' list"

    echo; echo "== CPU time: $BENCH_CPU_CYCLES create + start + delete cycles (user + sys of everything the runtime runs)"
    : >"$OUT/cpu.tsv"
    for rt in $BENCH_RUNTIMES; do
        "$PY" "$HERE/lib/cputime.py" "$(runtime_bin "$rt")" "$WORK/$rt/root" "$WORK/$rt/podman" "$BENCH_CPU_CYCLES" \
            | sed "s/^/$rt\t/" >>"$OUT/cpu.tsv"
    done
    sed 's/^/   /' "$OUT/cpu.tsv"

    echo; echo "== memory: max RSS (GNU time %M) of each verb ($BENCH_MEM_RUNS runs each), podman bundle"
    if [[ ! -x /usr/bin/time ]]; then
        echo "   skipped: /usr/bin/time missing (apt-get install time)"
        return 0
    fi
    : >"$OUT/memory.tsv"
    rss() {  # rss RUNTIME VERB ARGS...: append the peak RSS of one call
        local rt=$1 verb=$2; shift 2
        /usr/bin/time -f %M -o "$WORK/rss" "$@" </dev/null >/dev/null 2>"$err" \
            || { echo "bench: $rt $verb failed:" >&2; sed 's/^/    /' "$err" >&2; return 1; }
        printf '%s\t%s\t%s\n' "$rt" "$verb" "$(tail -n 1 "$WORK/rss")" >>"$OUT/memory.tsv"
    }
    for rt in $BENCH_RUNTIMES; do
        bin=$(runtime_bin "$rt"); root=$WORK/$rt/root
        for ((i = 1; i <= BENCH_MEM_RUNS; i++)); do
            rss "$rt" run "$bin" --root "$root" run --bundle "$WORK/$rt/podman" "m-$RUN_ID-$i"
            rss "$rt" create "$bin" --root "$root" create --bundle "$WORK/$rt/b/v$i" "v-$RUN_ID-$i"
            rss "$rt" state "$bin" --root "$root" state "v-$RUN_ID-$i"
            rss "$rt" start "$bin" --root "$root" start "v-$RUN_ID-$i"
            rss "$rt" exec "$bin" --root "$root" exec "v-$RUN_ID-$i" /bin/true
            rss "$rt" list "$bin" --root "$root" list
            rss "$rt" kill "$bin" --root "$root" kill "v-$RUN_ID-$i" KILL
            sleep 0.1
            rss "$rt" delete "$bin" --root "$root" delete --force "v-$RUN_ID-$i"
        done
        echo "   $rt done"
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
        bin=$(runtime_bin "$rt")
        for root in "$WORK/$rt/root" "$WORK/$rt/many"; do
            [[ -d $root ]] || continue
            for id in $(ls -A "$root" 2>/dev/null); do
                [[ -d $root/$id ]] || continue
                in_view "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
            done
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
    BENCH_MANY=${BENCH_MANY:-200}
    BENCH_CPU_CYCLES=${BENCH_CPU_CYCLES:-100}
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

    echo "== bundles: busybox, bare and podman's config, cgroup $CG_PARENT/$RUN_ID-<runtime>/..., cgroup view: $BENCH_VIEW"
    for rt in $BENCH_RUNTIMES; do
        mkdir -p "$WORK/$rt/root" "$WORK/$rt/many"
        # The timed loops run one container at a time, so each flavor has one cgroup. Containers that live
        # side by side (the exec target, the waiting ones, the $BENCH_MANY for state/list) get a bundle each,
        # sharing the rootfs, with a cgroup of their own under the runtime's parent.
        "$py" "$REPO/tools/mkbundle.py" --cgroups-path "$CG_PARENT/$RUN_ID-$rt/bare" "$WORK/$rt/bare" -- /bin/true >/dev/null
        "$py" "$REPO/tools/mkbundle.py" --podman --cgroups-path "$CG_PARENT/$RUN_ID-$rt/podman" "$WORK/$rt/podman" -- /bin/true >/dev/null
        "$py" "$REPO/tools/mkbundle.py" --podman --cgroups-path "$CG_PARENT/$RUN_ID-$rt/sleep" "$WORK/$rt/sleep" -- sleep 100000 >/dev/null
        "$py" "$HERE/lib/clone_bundles.py" "$WORK/$rt/sleep" "$WORK/$rt/b" "$CG_PARENT/$RUN_ID-$rt" \
            ex pss $(seq -f 'v%g' 1 "$BENCH_MEM_RUNS") $(seq -f 'd%g' 1 9)
        "$py" "$HERE/lib/clone_bundles.py" "$WORK/$rt/bare" "$WORK/$rt/b" "$CG_PARENT/$RUN_ID-$rt" \
            $(seq -f 'm%g' 1 "$BENCH_MANY")
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
        # The commit of the simcon that is timed (SIMCON may be another checkout's venv), and of the harness.
        echo "simcon commit: $(git -C "$(dirname "$(runtime_bin simcon)")" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        echo "bench commit: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        echo "runs: $BENCH_RUNS, warmup: $BENCH_WARMUP, memory runs: $BENCH_MEM_RUNS"
    } >"$OUT/env.txt"

    export WORK OUT RUN_ID BENCH_RUNTIMES BENCH_RUNS BENCH_WARMUP BENCH_MEM_RUNS BENCH_MANY BENCH_CPU_CYCLES BENCH_VIEW
    export SIMCON RUNC CRUN PY=$py
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
    if "$py" -c 'import matplotlib' 2>/dev/null; then
        "$py" "$HERE/plot.py" "$OUT" >/dev/null && echo "figure: $OUT/ratios.png"
    else
        echo "no figure: matplotlib missing (make bench installs it)"
    fi
    if [[ ${BENCH_LOGS:-1} == 1 && " $BENCH_RUNTIMES " == *" simcon "* ]]; then
        echo
        SIMCON=$(runtime_bin simcon) "$HERE/logs.sh" | tee "$OUT/logs.txt"
    fi
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
