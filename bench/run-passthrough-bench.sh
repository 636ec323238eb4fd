#!/bin/bash
# The cri backend's overhead: Version, ListContainers and ContainerStatus
# through crimpd (cri backend) against containerd's CRI plugin called
# directly, interleaved in one run.  Goal: <= 1.05x the direct call.
# First, crimp-bench-hop: what the hop adds (crimpd - direct) for
# ListContainers, ListImages and Version, against a bare grpc C-core round
# trip to crimp-echo-server measured in the same run.  Goal: <= 1.5x.
# (crimpd answers Version itself: that row is no hop.)
#
#   sudo bench/run-passthrough-bench.sh BUILD_DIR [SECONDS]
#
# HOP_ROUNDS (default 3000) sets crimp-bench-hop's rounds; HOP_ONLY=1 runs
# only it.
# Uses $CRIMP_BED when set (tests/bed/up.sh), else starts and stops a bed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR [SECONDS]}" && pwd)
seconds=${2:-3}
own_bed=0
if [ -z "${CRIMP_BED:-}" ]; then
    CRIMP_BED=$("$root/tests/bed/up.sh")
    own_bed=1
fi
. "$CRIMP_BED/env"
tmp=$(mktemp -d /tmp/crimp-ptbench.XXXX)
cleanup() {
    [ -n "${pod:-}" ] && PYTHONPATH=$build/tests/py:$root/tests/e2e /usr/bin/python3 -c "
from crimpe2e import Client
c = Client('unix://$CRIMP_BED_CONTAINERD_SOCK')
c.call('StopPodSandbox', pod_sandbox_id='$pod'); c.call('RemovePodSandbox', pod_sandbox_id='$pod')" || true
    [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    [ -n "${echo_pid:-}" ] && kill -TERM "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
    rm -rf "$tmp"
    [ $own_bed = 1 ] && "$root/tests/bed/down.sh" "$CRIMP_BED" >/dev/null
    return 0
}
trap cleanup EXIT
"$build/shim/crimpd" --listen "$tmp/crimp.sock" --state-dir "$tmp/state" --log-level warn \
    --backend "containerd=cri:unix://$CRIMP_BED_CONTAINERD_SOCK" >"$tmp/crimpd.log" 2>&1 &
pid=$!
"$build/bench/crimp-echo-server" --listen "unix://$tmp/echo.sock" --pollers 2 2>"$tmp/echo.log" &
echo_pid=$!
for _ in $(seq 100); do [ -S "$tmp/crimp.sock" ] && [ -S "$tmp/echo.sock" ] && break; sleep 0.05; done
# One pod with 10 containers, so ListContainers returns something real.
read -r pod ctr < <(PYTHONPATH=$build/tests/py:$root/tests/e2e /usr/bin/python3 - <<PY
from crimpe2e import PB, Client
c = Client("unix://$CRIMP_BED_CONTAINERD_SOCK")
img = PB.ImageSpec(image="$CRIMP_BED_BUSYBOX_IMAGE")
c.call("PullImage", PB.PullImageRequest(image=img), timeout=120)
cfg = PB.PodSandboxConfig(metadata=PB.PodSandboxMetadata(name="bench", namespace="bench", uid="bench-uid"),
                          linux=PB.LinuxPodSandboxConfig())
pod = c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
ids = [c.call("CreateContainer", pod_sandbox_id=pod, sandbox_config=cfg, config=PB.ContainerConfig(
    metadata=PB.ContainerMetadata(name=f"c{i}"), image=img, command=["sleep", "600"],
    linux=PB.LinuxContainerConfig())).container_id for i in range(10)]
print(pod, ids[0])
PY
)
echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
"$build/bench/crimp-bench-hop" --echo "unix://$tmp/echo.sock" \
    --direct "unix://$CRIMP_BED_CONTAINERD_SOCK" --crimpd "unix://$tmp/crimp.sock" \
    --rounds "${HOP_ROUNDS:-3000}"
[ "${HOP_ONLY:-0}" = 1 ] && exit 0
for method in Version ListContainers ContainerStatus; do
    echo
    "$build/bench/crimp-bench-version" --method "$method" --container-id "$ctr" \
        --endpoint "unix://$tmp/crimp.sock" --label crimpd \
        --endpoint-ref "unix://$CRIMP_BED_CONTAINERD_SOCK" --label-ref containerd \
        --clients 1,8 --seconds "$seconds" --warmup 1
done
