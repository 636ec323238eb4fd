"""The demo's workload: pod lifecycles driven through each endpoint given,
then the median latency of every CRI call side by side.

    pod_lifecycle.py --image IMG --rounds N NAME=ENDPOINT [NAME=ENDPOINT ...]

Each endpoint is any CRI socket: crimpd with one backend or another, or a
runtime called directly as the reference.  Rounds alternate between the
endpoints so that a machine getting slower hits all of them alike.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

from crimpe2e import PB, Client

STEPS = ["RunPodSandbox", "PodSandboxStatus", "CreateContainer", "StartContainer",
         "ContainerStatus", "ExecSync", "ListContainers", "StopContainer", "RemoveContainer",
         "StopPodSandbox", "RemovePodSandbox"]


def timed(samples, name, fn, *args, **kw):
    t0 = time.perf_counter()
    r = fn(*args, **kw)
    samples.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
    return r


def one_round(c, image, logdir, samples):
    uid = uuid.uuid4().hex[:8]
    # kubelet makes the pod's log directory before RunPodSandbox; a runtime
    # need not (cri-dockerd does not), so do as kubelet does.
    os.makedirs(os.path.join(logdir, uid), exist_ok=True)
    pod_cfg = PB.PodSandboxConfig(
        metadata=PB.PodSandboxMetadata(name=f"demo-{uid}", namespace="crimp-demo", uid=uid),
        hostname=f"demo-{uid}", log_directory=os.path.join(logdir, uid),
        linux=PB.LinuxPodSandboxConfig())
    pod = timed(samples, "RunPodSandbox", c.call, "RunPodSandbox", config=pod_cfg,
                timeout=120).pod_sandbox_id
    timed(samples, "PodSandboxStatus", c.call, "PodSandboxStatus", pod_sandbox_id=pod)
    # The app handles SIGTERM as real workloads do; a bare `sleep` as PID 1
    # ignores it, and StopContainer would time the grace period instead.
    ctr_cfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="app"),
                                 image=PB.ImageSpec(image=image), log_path="app.log",
                                 command=["sh", "-c", "echo hello from the demo; trap 'exit 0' TERM; sleep 300 & wait"],
                                 linux=PB.LinuxContainerConfig())
    cid = timed(samples, "CreateContainer", c.call, "CreateContainer", pod_sandbox_id=pod,
                config=ctr_cfg, sandbox_config=pod_cfg, timeout=60).container_id
    timed(samples, "StartContainer", c.call, "StartContainer", container_id=cid, timeout=60)
    timed(samples, "ContainerStatus", c.call, "ContainerStatus", container_id=cid)
    r = timed(samples, "ExecSync", c.call, "ExecSync", container_id=cid, cmd=["echo", "exec ok"])
    assert r.stdout == b"exec ok\n", r
    timed(samples, "ListContainers", c.call, "ListContainers")
    timed(samples, "StopContainer", c.call, "StopContainer",
          PB.StopContainerRequest(container_id=cid, timeout=1), timeout=60)
    timed(samples, "RemoveContainer", c.call, "RemoveContainer", container_id=cid)
    timed(samples, "StopPodSandbox", c.call, "StopPodSandbox", pod_sandbox_id=pod, timeout=60)
    timed(samples, "RemovePodSandbox", c.call, "RemovePodSandbox", pod_sandbox_id=pod, timeout=60)


def endpoints_with_image(ap):
    """Parses AP's options plus --image IMG and NAME=ENDPOINT...: the
    options and a client per endpoint (in the order given), IMG pulled on
    each.  What the demo and the benchmarks start with."""
    ap.add_argument("--image", required=True)
    ap.add_argument("endpoints", nargs="+", metavar="NAME=ENDPOINT")
    args = ap.parse_args()
    clients = {name: Client(ep) for name, ep in (e.split("=", 1) for e in args.endpoints)}
    for c in clients.values():
        c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=args.image)), timeout=120)
    return args, clients


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args, clients = endpoints_with_image(ap)
    samples = {name: {} for name in clients}
    logdir = tempfile.mkdtemp(prefix="crimp-demo-logs.")
    for i in range(args.rounds):
        for name, c in clients.items():
            one_round(c, args.image, logdir, samples[name])
        print(f"  round {i + 1}/{args.rounds} done", file=sys.stderr)

    names = list(clients)
    cols = [f"{n} ms" for n in names] + [f"{n}/{names[0]}" for n in names[1:]]
    widths = [max(len(c) + 2, 12) for c in cols]
    print(f"\nmedian latency over {args.rounds} pod lifecycles (ms; ratio to {names[0]})\n")
    print(f"{'CRI call':<18}" + "".join(f"{c:>{w}}" for c, w in zip(cols, widths)))
    for step in STEPS:
        med = [statistics.median(samples[n][step]) for n in names]
        cells = [f"{m:.2f}" for m in med] + [f"{m / med[0]:.2f}x" for m in med[1:]]
        print(f"{step:<18}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))

if __name__ == "__main__":
    main()
