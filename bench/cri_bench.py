"""The pod lifecycle benchmark of issue 3/4: medians of each CRI call over N
serial pod lifecycles, then ListContainers with 100 containers and
ListImages, on each endpoint given, side by side in one run.

    cri_bench.py --image IMG [--rounds 30] NAME=ENDPOINT [NAME=ENDPOINT ...]

Machines of this class differ 3-4x from day to day: read the ratio between
endpoints measured here, and the cri-dockerd column (its figures from
critest's benchmark on another day, another machine) only as a
rough guide.
"""
import argparse
import statistics
import sys
import time
import uuid

from crimpe2e import PB
from pod_lifecycle import STEPS, endpoints_with_image, one_round

# cri-dockerd v0.3.7 on Docker 20.10: medians (ms) measured once on a
# machine of this class, not in this run.
CRI_DOCKERD = {"RunPodSandbox": 289.3, "PodSandboxStatus": 5.4, "StopPodSandbox": 91.7,
               "RemovePodSandbox": 34.8, "CreateContainer": 19.9, "StartContainer": 93.4,
               "ContainerStatus": 2.2, "StopContainer": 66.2, "RemoveContainer": 27.9,
               "ListImages": 6.1, "ListContainers@100": 15.6}


def timed_median(fn, n=50):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def list_at_100(c, image, samples):
    uid = uuid.uuid4().hex[:8]
    cfg = PB.PodSandboxConfig(metadata=PB.PodSandboxMetadata(name=f"bench-{uid}",
                                                             namespace="crimp-bench", uid=uid),
                              linux=PB.LinuxPodSandboxConfig())
    pod = c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
    try:
        for i in range(100):
            ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name=f"c{i}"),
                                      image=PB.ImageSpec(image=image), command=["sleep", "600"],
                                      linux=PB.LinuxContainerConfig())
            c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg,
                   timeout=60)
        samples["ListContainers@100"] = [timed_median(lambda: c.call("ListContainers"))]
    finally:
        c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=120)
        c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=300)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    args, clients = endpoints_with_image(ap)
    samples = {n: {} for n in clients}
    for i in range(args.rounds):
        for n, c in clients.items():
            one_round(c, args.image, "/tmp/crimp-bench-logs", samples[n])
        print(f"  lifecycle round {i + 1}/{args.rounds}", file=sys.stderr)
    for n, c in clients.items():
        samples[n]["ListImages"] = [timed_median(lambda: c.call("ListImages"))]
        print(f"  {n}: 100 containers for ListContainers", file=sys.stderr)
        list_at_100(c, args.image, samples[n])

    names = list(clients)
    rows = [s for s in STEPS if s not in ("ExecSync", "ListContainers")]
    rows += ["ListContainers@100", "ListImages"]
    cols = [f"{n} ms" for n in names] + [f"{n}/{names[0]}" for n in names[1:]]
    cols += ["cri-dockerd ms*"] + [f"{n}/cri-dockerd*" for n in names]
    widths = [max(len(c) + 2, 11) for c in cols]
    print(f"\nmedians over {args.rounds} serial pod lifecycles (ms); * = measured once, "
          "not in this run\n")
    print(f"{'CRI call':<20}" + "".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    for step in rows:
        med = [statistics.median(samples[n][step]) for n in names]
        ref = CRI_DOCKERD.get(step)
        cells = [f"{m:.2f}" for m in med] + [f"{m / med[0]:.2f}x" for m in med[1:]]
        cells += [f"{ref:.1f}" if ref else "-"]
        cells += [f"{m / ref:.2f}x" if ref else "-" for m in med]
        print(f"{step:<20}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))


if __name__ == "__main__":
    main()
