#!/bin/bash
# Version latency of crimpd against the bare gRPC floor (crimp-echo-server).
#
# Usage: bench/run-version-bench.sh BUILD_DIR [extra crimp-bench-version options]
#
# Starts crimp-echo-server and crimpd (no backend: Version is answered by
# crimpd itself) on sockets in a temporary directory, runs
# crimp-bench-version with 1, 8 and 64 clients, 5 s each, stops both and
# removes everything it made.  Both servers use 2 poller threads.
set -euo pipefail

build=${1:?usage: $0 BUILD_DIR [crimp-bench-version options]}
shift
build=$(cd "$build" && pwd)
crimpd=$build/shim/crimpd
echo_server=$build/bench/crimp-echo-server
bench=$build/bench/crimp-bench-version
for exe in "$crimpd" "$echo_server" "$bench"; do
    [ -x "$exe" ] || { echo "$0: $exe not built" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/crimp-bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits until something listens on socket $1 (gRPC binds after start-up).
wait_socket() {
    for _ in $(seq 100); do
        [ -S "$1" ] && return 0
        sleep 0.05
    done
    echo "$0: nothing listens on $1; see $tmp/*.log" >&2
    cat "$tmp"/*.log >&2
    return 1
}

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# kernel: $(uname -r); grpc: $(pkg-config --modversion grpc 2>/dev/null || echo '?')"
echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"

"$echo_server" --listen "unix://$tmp/echo.sock" --pollers 2 2>"$tmp/echo.log" &
pids+=($!)

# An empty backend list: no channel to a runtime, nothing in the
# background.  Version never calls a backend anyway.
cat >"$tmp/crimpd.json" <<EOF
{"backends": []}
EOF
"$crimpd" --config "$tmp/crimpd.json" --listen "$tmp/crimp.sock" --admin-listen "" \
    --state-dir "$tmp/state" --pollers 2 --log-level warn 2>"$tmp/crimpd.log" &
pids+=($!)

wait_socket "$tmp/echo.sock"
wait_socket "$tmp/crimp.sock"

"$bench" --endpoint-ref "unix://$tmp/echo.sock" --endpoint "unix://$tmp/crimp.sock" \
    --clients 1,8,64 --seconds 5 --warmup 1 "$@"
