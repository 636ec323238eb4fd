"""The stats benchmark of issue 7: ListContainerStats and ListPodSandboxStats
latency with 10 and 100 running containers, on each endpoint given, side
by side in one run (kubelet's CRI stats provider calls both every few
seconds on every node).

    stats_bench.py --image IMG [--calls 30] NAME=ENDPOINT [NAME=ENDPOINT ...]

The first endpoint is the reference the ratios are taken against.  Each
figure is the median of CALLS calls after 3 warm-up calls; the first
ListContainerStats after a start also has no usage_nano_cores yet, which
is why the warm-up is there.
"""
import argparse
import statistics
import sys
import time
import uuid

from crimpe2e import PB
from pod_lifecycle import endpoints_with_image

LEVELS = (10, 100)
CALLS_MEASURED = ("ListContainerStats", "ListPodSandboxStats")


def median_ms(fn, n):
    for _ in range(3):
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), max(samples)


def run_pod(c, image, n):
    uid = uuid.uuid4().hex[:8]
    cfg = PB.PodSandboxConfig(metadata=PB.PodSandboxMetadata(name=f"stats-{uid}",
                                                             namespace="crimp-bench", uid=uid),
                              # containerd's CRI plugin has no pod stats without it
                              linux=PB.LinuxPodSandboxConfig(cgroup_parent="/crimp-bench"))
    pod = c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
    try:
        for i in range(n):
            ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name=f"c{i}"),
                                      image=PB.ImageSpec(image=image), command=["sleep", "3600"],
                                      linux=PB.LinuxContainerConfig())
            cid = c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg,
                         timeout=60).container_id
            c.call("StartContainer", container_id=cid, timeout=60)
    except BaseException:
        remove_pod(c, pod)  # a half-made pod is no bench's leftover
        raise
    return pod


def remove_pod(c, pod):
    c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=300)
    c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=300)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=30)
    args, clients = endpoints_with_image(ap)
    results = {}  # (level, call, name) -> (median, max)
    for level in LEVELS:
        for n, c in clients.items():
            print(f"  {n}: starting {level} containers", file=sys.stderr)
            pod = run_pod(c, args.image, level)
            try:
                got = len(c.call("ListContainerStats", timeout=60).stats)
                if got != level:
                    print(f"  {n}: ListContainerStats returned {got} of {level}", file=sys.stderr)
                for call in CALLS_MEASURED:
                    results[(level, call, n)] = median_ms(
                        lambda: c.call(call, timeout=60), args.calls)
            finally:
                remove_pod(c, pod)

    names = list(clients)
    print(f"\nmedian (max) of {args.calls} calls, ms; ratio = endpoint / {names[0]}\n")
    head = f"{'call':<28}" + "".join(f"{n:>22}" for n in names)
    head += "".join(f"  {n + '/' + names[0]:>24}" for n in names[1:])
    print(head)
    for level in LEVELS:
        for call in CALLS_MEASURED:
            row = f"{call + '@' + str(level):<28}"
            meds = []
            for n in names:
                med, mx = results[(level, call, n)]
                meds.append(med)
                row += f"{f'{med:.2f} ({mx:.1f})':>22}"
            row += "".join(f"{m / meds[0]:>25.2f}x" for m in meds[1:])
            print(row)


if __name__ == "__main__":
    main()
