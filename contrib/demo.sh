#!/bin/bash
# crimp's demo on a fresh Debian 12 machine (as root): installs what is
# missing, builds crimp, starts private containerd, dockerd and registry
# daemons under a temp dir (tests/bed), runs one crimpd per backend (the
# bed's dockerd, its containerd through the native API, and containerd's CRI
# plugin), drives pod lifecycles through each and directly to the runtime,
# and prints the latency of each CRI call side by side.  Then the switch: one
# crimpd with docker and containerd, `crimpctl trace` beside it, a pod on
# docker, `backend set containerd`, a pod on containerd, both listed.
# Everything is stopped and removed at the end.
#
#   contrib/demo.sh [ROUNDS]          (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${1:-5}
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it starts containerd and dockerd)" >&2; exit 2; }

echo "== installing what is missing (Debian packages)"
tests/bed/install.sh
echo "== building crimp"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "== starting the bed: containerd, dockerd, registry (private, under /tmp)"
bed=$(tests/bed/up.sh)
. "$bed/env"
trap 'tests/bed/down.sh "$bed" >/dev/null 2>&1' EXIT

echo "== crimpd three times, one backend each: docker, containerd (its native API, on a"
echo "   containerd whose CRI plugin is off) and containerd's CRI plugin behind the cri backend"
cat > "$bed/crimp-docker.json" <<J
{"backends": [{"name": "docker", "type": "docker", "endpoint": "unix://$CRIMP_BED_DOCKER_SOCK",
  "options": {"pause_image": "$CRIMP_BED_PAUSE_IMAGE", "cni_conf_dir": "$CRIMP_BED_CNI_CONF_DIR"}}]}
J
cat > "$bed/crimp-containerd.json" <<J
{"backends": [{"name": "containerd", "type": "containerd",
  "endpoint": "unix://$CRIMP_BED_CONTAINERD_NATIVE_SOCK",
  "options": {"pause_image": "$CRIMP_BED_PAUSE_IMAGE", "cni_conf_dir": "$CRIMP_BED_CNI_CONF_DIR"}}]}
J
start_crimpd() { # NAME ARGS...
    local name=$1; shift
    mkdir -p "$bed/$name"
    build/shim/crimpd --listen "$bed/$name/crimp.sock" --state-dir "$bed/$name/state" "$@" \
        >"$bed/$name/crimpd.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do [ -S "$bed/$name/crimp.sock" ] && return; sleep 0.05; done
    echo "demo: crimpd $name did not start:"; cat "$bed/$name/crimpd.log"; exit 1
}
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    tests/bed/down.sh "$bed" >/dev/null 2>&1
}
trap cleanup EXIT
start_crimpd d --config "$bed/crimp-docker.json"
start_crimpd n --config "$bed/crimp-containerd.json"
start_crimpd c --backend "containerd-cri=cri:unix://$CRIMP_BED_CONTAINERD_SOCK"
if [ -x build/cli/crimpctl ]; then
    build/cli/crimpctl --endpoint "unix://$bed/d/crimp.sock" version
    build/cli/crimpctl --endpoint "unix://$bed/d/crimp.sock" info || true
fi

echo "== $rounds pod lifecycles on each chain: containerd's CRI plugin directly (the reference),"
echo "   kubelet->crimp->containerd (native API), kubelet->crimp->containerd's CRI plugin,"
echo "   and kubelet->crimp->dockerd->containerd"
PYTHONPATH=$root/build/tests/py:$root/tests/e2e /usr/bin/python3 contrib/demo/pod_lifecycle.py \
    --image "$CRIMP_BED_BUSYBOX_IMAGE" --rounds "$rounds" \
    "containerd-direct=unix://$CRIMP_BED_CONTAINERD_SOCK" \
    "crimp/containerd=unix://$bed/n/crimp.sock" \
    "crimp/containerd-cri=unix://$bed/c/crimp.sock" "crimp/docker=unix://$bed/d/crimp.sock"

declare -A label=([n]=containerd [c]=containerd-cri [d]=docker)
for name in n c d; do
    echo
    echo "== what crimpd (${label[$name]} backend) measured: each CRI call and the backend calls it caused"
    curl -fsS --unix-socket "$bed/$name/admin.sock" http://crimp/v1/latency |
        /usr/bin/python3 contrib/demo/latency_table.py
done

echo
echo "== the switch, as in a cutover: one crimpd, docker the default and containerd beside it;"
echo "   crimpctl trace shows each CRI call with the Docker, containerd and CNI calls it caused"
cat > "$bed/crimp-switch.json" <<J
{"default_backend": "docker",
 "backends": [{"name": "docker", "type": "docker", "endpoint": "unix://$CRIMP_BED_DOCKER_SOCK",
   "options": {"pause_image": "$CRIMP_BED_PAUSE_IMAGE", "cni_conf_dir": "$CRIMP_BED_CNI_CONF_DIR"}},
  {"name": "containerd", "type": "containerd", "endpoint": "unix://$CRIMP_BED_CONTAINERD_NATIVE_SOCK",
   "options": {"pause_image": "$CRIMP_BED_PAUSE_IMAGE", "cni_conf_dir": "$CRIMP_BED_CNI_CONF_DIR"}}]}
J
start_crimpd s --config "$bed/crimp-switch.json"
build/cli/crimpctl --endpoint "unix://$bed/s/crimp.sock" trace >"$bed/s/trace.txt" 2>&1 &
pids+=($!)
trace_pid=$!
sleep 0.5
PYTHONPATH=$root/build/tests/py:$root/tests/e2e /usr/bin/python3 contrib/demo/switch.py \
    --image "$CRIMP_BED_BUSYBOX_IMAGE" --crimpctl build/cli/crimpctl "unix://$bed/s/crimp.sock"
kill -TERM "$trace_pid" 2>/dev/null || true
echo
echo "== what crimpctl trace printed meanwhile (RunPodSandbox on each backend)"
grep -A 12 -m 2 "RunPodSandbox" "$bed/s/trace.txt" || cat "$bed/s/trace.txt"
