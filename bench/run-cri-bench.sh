#!/bin/bash
# The pod lifecycle benchmark: crimpd's docker backend, crimpd's containerd
# backend (containerd's native API, on the bed's second containerd whose CRI
# plugin is off) and containerd's CRI plugin (directly, the same-run
# reference) on the test bed's daemons.
#
#   sudo bench/run-cri-bench.sh [--stats] BUILD_DIR [ROUNDS]
#
# --stats runs stats_bench.py instead (ROUNDS = calls per figure), as
# bench/run-stats-bench.sh does; --lists runs list_bench.py (ROUNDS = calls
# per figure), as bench/run-list-bench.sh does; --containers runs
# container_calls_bench.py (issue 21: Create/Start/Stop/RemoveContainer and
# RemoveImage) on the endpoints that share the bed's dockerd only; --poll runs
# kubelet_poll.py (ROUNDS = seconds of polling, default 60; further arguments
# go to it), as bench/run-poll-bench.sh does.
# With CRIMP_BENCH_CRI_DOCKERD=/path/to/cri-dockerd, a cri-dockerd on the
# bed's dockerd is measured too (never built or fetched here).
# Uses $CRIMP_BED when set (tests/bed/up.sh), else starts and stops a bed.
set -euo pipefail
workload=cri_bench.py count_flag=--rounds
if [ "${1:-}" = --stats ]; then
    workload=stats_bench.py count_flag=--calls
    shift
elif [ "${1:-}" = --lists ]; then
    workload=list_bench.py count_flag=--calls
    shift
elif [ "${1:-}" = --containers ]; then
    workload=container_calls_bench.py count_flag=--rounds
    shift
elif [ "${1:-}" = --poll ]; then
    workload=kubelet_poll.py count_flag=--seconds
    shift
fi
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR [ROUNDS]}" && pwd)
rounds=${2:-30}
[ $workload = kubelet_poll.py ] && rounds=${2:-60}
extra=("${@:3}")
own_bed=0
if [ -z "${CRIMP_BED:-}" ]; then
    CRIMP_BED=$("$root/tests/bed/up.sh")
    own_bed=1
fi
. "$CRIMP_BED/env"
tmp=$(mktemp -d /tmp/crimp-cribench.XXXX)
cleanup() {
    [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "${pid_ctr:-}" ] && kill -TERM "$pid_ctr" 2>/dev/null && wait "$pid_ctr" 2>/dev/null
    [ -n "${pid_cd:-}" ] && kill -TERM "$pid_cd" 2>/dev/null && wait "$pid_cd" 2>/dev/null
    rm -rf "$tmp"
    [ $own_bed = 1 ] && "$root/tests/bed/down.sh" "$CRIMP_BED" >/dev/null
    return 0
}
trap cleanup EXIT
cat > "$tmp/crimpd.json" <<J
{"backends": [{"name": "docker", "type": "docker", "endpoint": "unix://$CRIMP_BED_DOCKER_SOCK",
  "options": {"pause_image": "$CRIMP_BED_PAUSE_IMAGE", "cni_conf_dir": "$CRIMP_BED_CNI_CONF_DIR"}}]}
J
"$build/shim/crimpd" --config "$tmp/crimpd.json" --listen "$tmp/crimp.sock" --state-dir "$tmp/state" \
    --log-level warn >"$tmp/crimpd.log" 2>&1 &
pid=$!
endpoints=("containerd-cri=unix://$CRIMP_BED_CONTAINERD_SOCK" "crimp-docker=unix://$tmp/crimp.sock")
# Which processes each chain's CPU is read from (kubelet_poll.py --watch).
bed_containerd=pid:containerd:$(cat "$CRIMP_BED/containerd/containerd.pid")
bed_docker="pid:dockerd:$(cat "$CRIMP_BED/docker/dockerd.pid"),$bed_containerd"
bed_docker+=",shim:$CRIMP_BED_CONTAINERD_SOCK@moby"
watch=(--watch "containerd-cri=$bed_containerd,shim:$CRIMP_BED_CONTAINERD_SOCK@k8s.io"
       --watch "crimp-docker=pid:crimpd:$pid,$bed_docker")
cat > "$tmp/crimpd-ctr.json" <<J
{"backends": [{"name": "containerd", "type": "containerd",
  "endpoint": "unix://$CRIMP_BED_CONTAINERD_NATIVE_SOCK",
  "options": {"namespace": "crimp-bench", "pause_image": "$CRIMP_BED_PAUSE_IMAGE",
              "cni_conf_dir": "$CRIMP_BED_CNI_CONF_DIR"}}]}
J
"$build/shim/crimpd" --config "$tmp/crimpd-ctr.json" --listen "$tmp/crimp-ctr.sock" \
    --state-dir "$tmp/state-ctr" --log-level warn >"$tmp/crimpd-ctr.log" 2>&1 &
pid_ctr=$!
endpoints+=("crimp-containerd=unix://$tmp/crimp-ctr.sock")
watch+=(--watch "crimp-containerd=pid:crimpd:$pid_ctr,pid:containerd:$(cat "$CRIMP_BED/containerd-native/containerd.pid"),shim:$CRIMP_BED_CONTAINERD_NATIVE_SOCK@crimp-bench")
if [ -n "${CRIMP_BENCH_CRI_DOCKERD:-}" ]; then
    "$CRIMP_BENCH_CRI_DOCKERD" --container-runtime-endpoint "unix://$tmp/cri-dockerd.sock" \
        --docker-endpoint "unix://$CRIMP_BED_DOCKER_SOCK" --cri-dockerd-root-directory "$tmp/cri-dockerd" \
        --network-plugin cni --cni-conf-dir "$CRIMP_BED_CNI_CONF_DIR" --cni-bin-dir /usr/lib/cni \
        --cni-cache-dir "$tmp/cri-dockerd-cni" --pod-infra-container-image "$CRIMP_BED_PAUSE_IMAGE" \
        --streaming-bind-addr 127.0.0.1:0 --log-level error >"$tmp/cri-dockerd.log" 2>&1 &
    pid_cd=$!
    endpoints+=("cri-dockerd=unix://$tmp/cri-dockerd.sock")
    watch+=(--watch "cri-dockerd=pid:cri-dockerd:$pid_cd,$bed_docker")
fi
for _ in $(seq 200); do
    [ -S "$tmp/crimp.sock" ] && [ -S "$tmp/crimp-ctr.sock" ] &&
        { [ -z "${pid_cd:-}" ] || [ -S "$tmp/cri-dockerd.sock" ]; } && break
    sleep 0.05
done
workload_args=()
if [ $workload = container_calls_bench.py ]; then
    workload_args=(--docker-socket "$CRIMP_BED_DOCKER_SOCK")
    endpoints=("${endpoints[@]:1:1}" "${endpoints[@]:3}") # crimp-docker [cri-dockerd]
fi
[ $workload = kubelet_poll.py ] && workload_args=("${watch[@]}" "${extra[@]}")
# The lists are timed from a C-core client too (the Python client's own
# cost hides the servers' difference on the fast calls).
[ $workload = list_bench.py ] && [ -x "$build/bench/crimp-bench-version" ] &&
    workload_args=(--c-bench "$build/bench/crimp-bench-version")
echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# docker $(curl -s --unix-socket "$CRIMP_BED_DOCKER_SOCK" http://d/version | python3 -c 'import json,sys; print(json.load(sys.stdin)["Version"])'), containerd $(containerd --version | awk '{print $3}')"
PYTHONPATH=$build/tests/py:$root/tests/e2e:$root/contrib/demo /usr/bin/python3 "$root/bench/$workload" \
    --image "$CRIMP_BED_BUSYBOX_IMAGE" "$count_flag" "$rounds" "${workload_args[@]}" \
    "${endpoints[@]}"
