#!/bin/sh
# Runs each libFuzzer target of BUILD_DIR (configured with CC=clang and
# -DCRIMP_FUZZ=ON) for SECONDS, starting from the checked-in seeds; the
# growing corpus and any crash files stay in BUILD_DIR/fuzz-out/<target>.
# Exit status: non-zero if any target found a crash.
set -u
if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
status=0
for target in fuzz_spdy_frame fuzz_websocket fuzz_stream_http fuzz_stream_spdy fuzz_stream_ws \
    fuzz_stdio_demux; do
    bin=$build/tests/fuzz/$target
    if [ ! -x "$bin" ]; then
        echo "$target: $bin not built (CC=clang, -DCRIMP_FUZZ=ON)" >&2
        status=1
        continue
    fi
    out=$build/fuzz-out/$target
    mkdir -p "$out/corpus"
    echo "== $target for ${seconds}s"
    if ! (cd "$out" && "$bin" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
            -print_final_stats=1 corpus "$here/seeds/$target" >"$out/log" 2>&1); then
        echo "$target: FAILED, see $out/log and $out/crash-*" >&2
        tail -n 40 "$out/log" >&2
        status=1
    else
        grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units|cov:" "$out/log" | tail -n 2
    fi
done
exit $status
