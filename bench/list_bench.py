"""The list and image benchmark of issue 21: ListContainers,
ListPodSandbox, ContainerStatus and PodSandboxStatus with 100 containers
in one pod, and ListImages, ImageStatus and ImageFsInfo, on each endpoint
given, one endpoint at a time in one run.  Prints figures, never a verdict.

    list_bench.py --image IMG [--calls 30] [--containers 100] NAME=ENDPOINT ...

The first endpoint is the reference the ratios are taken against.  Each
figure is the median (and max) of CALLS calls after 3 warm-up calls.
"""
import argparse
import sys

from crimpe2e import PB, Client
from stats_bench import median_ms, remove_pod, run_pod

ROWS = ("ListContainers", "ListPodSandbox", "ContainerStatus", "PodSandboxStatus",
        "ListImages", "ImageStatus", "ImageFsInfo")


def measure(c, image, level, calls):
    """The figures of one endpoint: {row: (median, max)}."""
    pod = run_pod(c, image, level)
    try:
        cts = c.call("ListContainers", timeout=60).containers
        if len(cts) < level:
            print(f"  listed {len(cts)} of {level} containers", file=sys.stderr)
        cid = cts[0].id
        spec = PB.ImageSpec(image=image)
        fns = {
            "ListContainers": lambda: c.call("ListContainers", timeout=60),
            "ListPodSandbox": lambda: c.call("ListPodSandbox", timeout=60),
            "ContainerStatus": lambda: c.call("ContainerStatus", container_id=cid),
            "PodSandboxStatus": lambda: c.call("PodSandboxStatus", pod_sandbox_id=pod),
            "ListImages": lambda: c.call("ListImages", timeout=60),
            "ImageStatus": lambda: c.call("ImageStatus", image=spec),
            "ImageFsInfo": lambda: c.call("ImageFsInfo", timeout=60),
        }
        return {row: median_ms(fns[row], calls) for row in ROWS}
    finally:
        remove_pod(c, pod)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("endpoints", nargs="+", metavar="NAME=ENDPOINT")
    args = ap.parse_args()
    targets = [e.split("=", 1) for e in args.endpoints]
    results = {}
    for name, ep in targets:
        c = Client(ep)
        c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=args.image)), timeout=120)
        print(f"  {name}: {args.containers} containers", file=sys.stderr)
        results[name] = measure(c, args.image, args.containers, args.calls)
        c.close()

    names = [n for n, _ in targets]
    print(f"\n{args.containers} containers in one pod; median (max) of {args.calls} calls, ms; "
          f"ratio = endpoint / {names[0]}\n")
    head = f"{'call':<20}" + "".join(f"{n:>20}" for n in names)
    head += "".join(f"  {n + '/' + names[0]:>30}" for n in names[1:])
    print(head)
    for row in ROWS:
        line = f"{row:<20}"
        meds = [results[n][row][0] for n in names]
        for n in names:
            med, mx = results[n][row]
            line += f"{f'{med:.2f} ({mx:.1f})':>20}"
        line += "".join(f"{m / meds[0]:>31.2f}x" for m in meds[1:])
        print(line)


if __name__ == "__main__":
    main()
