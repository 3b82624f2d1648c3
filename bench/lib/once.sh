#!/bin/sh
# One benchmark iteration with a fresh container id, so hyperfine can repeat the same command line.
#
#   once.sh run   RUNTIME ROOT BUNDLE    RUNTIME --root ROOT run --bundle BUNDLE ID
#   once.sh cycle RUNTIME ROOT BUNDLE    create, start, then delete --force the same ID
#
# POSIX sh (dash) so that the wrapper itself costs about a millisecond, the same for every runtime.
# The id comes from $$ plus a slice of a kernel UUID: read with a builtin, no extra process.
# On failure the container is deleted and the runtime's exit status returned, which makes hyperfine
# stop; bench/run.sh removes anything left over at exit.
mode=$1 rt=$2 root=$3 bundle=$4
read -r uuid < /proc/sys/kernel/random/uuid
id="b$$-${uuid%%-*}"

fail() {
    rc=$1
    "$rt" --root "$root" delete --force "$id" >/dev/null 2>&1
    exit "$rc"
}

case $mode in
    run)
        "$rt" --root "$root" run --bundle "$bundle" "$id" </dev/null || fail $?
        ;;
    cycle)
        "$rt" --root "$root" create --bundle "$bundle" "$id" </dev/null || fail $?
        "$rt" --root "$root" start "$id" || fail $?
        "$rt" --root "$root" delete --force "$id" || fail $?
        ;;
    *)
        echo "once.sh: unknown mode '$mode' (run or cycle)" >&2
        exit 2
        ;;
esac
