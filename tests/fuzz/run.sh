#!/bin/sh
# Runs every libFuzzer target of BUILD_DIR (configured with CC=clang and
# -DCRIMP_FUZZ=ON, built with --target crimp_fuzzers) from its checked-in
# seeds in tests/fuzz/seeds/<target>/.  The growing corpus, the log and any
# crash file stay in BUILD_DIR/fuzz-out/<target>/.
#
#   run.sh BUILD_DIR [SECONDS]         short mode (CI): SECONDS per target,
#                                      default $CRIMP_FUZZ_SECONDS or 15
#   run.sh BUILD_DIR --runs N          long mode: N executions per target
#   run.sh BUILD_DIR --time SECONDS    same as the short mode
#   --only TARGET (repeatable)         run only the named targets
#   --jobs N                           run N targets at once (default 1)
#
# Prints one line per target: executions, coverage (cov: edges, ft:
# features), corpus size and executions per second.  Exit status: non-zero
# if any target crashed, leaked, hit UB, or is missing.
set -u
usage() {
    echo "usage: $0 BUILD_DIR [SECONDS | --time SECONDS | --runs N] [--only TARGET]... [--jobs N]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
build=$(cd "$1" && pwd) || usage
shift
here=$(cd "$(dirname "$0")" && pwd)
seconds=${CRIMP_FUZZ_SECONDS:-15}
runs=""
only=""
jobs=1
while [ $# -gt 0 ]; do
    case $1 in
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    --time) [ $# -ge 2 ] || usage; seconds=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || usage; only="$only $2"; shift 2 ;;
    --jobs) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
    [0-9]*) seconds=$1; shift ;;
    *) usage ;;
    esac
done

list=$build/tests/fuzz/targets.txt
if [ ! -f "$list" ]; then
    echo "$list missing: configure BUILD_DIR with CC=clang -DCRIMP_FUZZ=ON" >&2
    exit 1
fi
targets=$(cat "$list")
[ -n "$only" ] && targets=$only

if [ -n "$runs" ]; then
    limit="-runs=$runs"
    mode="$runs runs"
else
    limit="-max_total_time=$seconds"
    mode="${seconds}s"
fi

# One target: its exit status is the fuzzer's; the summary goes to
# fuzz-out/<target>/summary.
run_one() {
    target=$1
    bin=$build/tests/fuzz/$target
    out=$build/fuzz-out/$target
    mkdir -p "$out/corpus"
    if [ ! -x "$bin" ]; then
        echo "$target: $bin not built (cmake --build BUILD_DIR --target crimp_fuzzers)" >"$out/summary"
        return 1
    fi
    seeds=$here/seeds/$target
    [ -d "$seeds" ] || seeds=""
    # Leaks are checked on every input; malloc/free counts would be too slow.
    (cd "$out" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" $limit -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 corpus $seeds >"$out/log" 2>&1)
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$out/log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        echo "$target: ok, ${execs:-?} execs, ${cov:-no coverage line}, ${speed:-?} exec/s" >"$out/summary"
    else
        {
            echo "$target: FAILED (exit $rc), see $out/log and $out/crash-* / leak-* / timeout-*"
            grep -E 'ERROR: |runtime error|SUMMARY' "$out/log" | head -n 5
        } >"$out/summary"
    fi
    return $rc
}

echo "fuzzing $(echo $targets | wc -w) targets, $mode each"
status=0
running=0
pending=""
for target in $targets; do
    run_one "$target" &
    pending="$pending $!:$target"
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then
        for p in $pending; do
            wait "${p%%:*}" || status=1
            cat "$build/fuzz-out/${p#*:}/summary"
        done
        pending=""
        running=0
    fi
done
for p in $pending; do
    wait "${p%%:*}" || status=1
    cat "$build/fuzz-out/${p#*:}/summary"
done
exit $status
