"""The list and image benchmark of issue 21: ListContainers,
ListPodSandbox, ContainerStatus and PodSandboxStatus with 100 containers
in one pod, and ListImages, ImageStatus and ImageFsInfo, on each endpoint
given, one endpoint at a time in one run.  Prints figures, never a verdict.

    list_bench.py --image IMG [--calls 30] [--containers 100] NAME=ENDPOINT ...

The first endpoint is the reference the ratios are taken against.  Each
figure is the median (and max) of CALLS calls after 3 warm-up calls.

The Python client costs about 0.2-0.3 ms a call by itself, which hides
the server's difference on the fast calls.  With --c-bench (the build's
crimp-bench-version), the same calls are also timed from a C-core client,
one thread, for --c-seconds each, while the endpoint's pod exists: a second
table of p50s in microseconds and their ratios.
"""
import argparse
import json
import subprocess
import sys

from crimpe2e import PB, Client
from stats_bench import median_ms, remove_pod, run_pod

ROWS = ("ListContainers", "ListPodSandbox", "ContainerStatus", "PodSandboxStatus",
        "ListImages", "ImageStatus", "ImageFsInfo")


def c_client_p50s(bench, endpoint, seconds, ids):
    """{row: p50 in µs} of each row from crimp-bench-version, one client."""
    out = {}
    for row in ROWS:
        cmd = [bench, "--endpoint", endpoint, "--method", row, "--clients", "1",
               "--seconds", str(seconds), "--warmup", "0.3", "--rounds", "2", "--json",
               "--container-id", ids["container"], "--pod-id", ids["pod"], "--image", ids["image"]]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            print(f"  {row}: crimp-bench-version failed: {r.stderr.strip()}", file=sys.stderr)
            continue
        out[row] = json.loads(r.stdout)["results"][0]["p50_us"]
    return out


def measure(c, image, level, calls, c_bench=None, endpoint=None, c_seconds=2.0):
    """The figures of one endpoint: ({row: (median, max)}, {row: C p50 µs})."""
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
        py = {row: median_ms(fns[row], calls) for row in ROWS}
        cc = {}
        if c_bench:
            cc = c_client_p50s(c_bench, endpoint, c_seconds,
                               {"container": cid, "pod": pod, "image": image})
        return py, cc
    finally:
        remove_pod(c, pod)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--c-bench", help="crimp-bench-version, for the C-client table")
    ap.add_argument("--c-seconds", type=float, default=2.0)
    ap.add_argument("endpoints", nargs="+", metavar="NAME=ENDPOINT")
    args = ap.parse_args()
    targets = [e.split("=", 1) for e in args.endpoints]
    results, c_results = {}, {}
    for name, ep in targets:
        c = Client(ep)
        c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=args.image)), timeout=120)
        print(f"  {name}: {args.containers} containers", file=sys.stderr)
        results[name], c_results[name] = measure(c, args.image, args.containers, args.calls,
                                                 args.c_bench, ep, args.c_seconds)
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
    if args.c_bench:
        print_c_table(names, c_results, args.c_seconds)


def print_c_table(names, c_results, seconds):
    """The C-client p50s, each endpoint against the first, and crimp-docker
    against cri-dockerd when both ran."""
    pair = ("crimp-docker", "cri-dockerd")
    has_pair = all(n in names for n in pair)
    print(f"\nC-core client, one thread, {seconds:g} s per call; p50 µs; ratio = endpoint / "
          f"{names[0]}" + ("; last column crimp-docker / cri-dockerd" if has_pair else "") + "\n")
    head = f"{'call':<20}" + "".join(f"{n:>18}" for n in names)
    head += "".join(f"  {n + '/' + names[0]:>30}" for n in names[1:])
    if has_pair:
        head += f"  {'crimp-docker/cri-dockerd':>26}"
    print(head)
    for row in ROWS:
        vals = [c_results[n].get(row) for n in names]
        line = f"{row:<20}" + "".join(f"{v:>18.0f}" if v else f"{'-':>18}" for v in vals)
        for v in vals[1:]:
            line += f"{v / vals[0]:>31.2f}x" if v and vals[0] else f"{'-':>32}"
        if has_pair:
            a, b = c_results[pair[0]].get(row), c_results[pair[1]].get(row)
            line += f"{a / b:>27.2f}x" if a and b else f"{'-':>28}"
        print(line)


if __name__ == "__main__":
    main()
