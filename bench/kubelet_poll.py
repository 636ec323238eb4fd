"""The kubelet polling benchmark of issue 21: N pods of one running
container each, then a minute of the calls a kubelet makes on an idle node,
and the CPU the runtime's processes spend meanwhile (from /proc), for each
chain given, one chain at a time in one run.  Prints figures, never a
verdict.

    kubelet_poll.py --image IMG [--pods 50] [--seconds 60] [--threads]
        --watch NAME=SPEC ... NAME=ENDPOINT ...

SPEC says which processes are the chain's, comma-separated: `pid:LABEL:PID`
(a daemon; its threads and its reaped children count) and
`shim:SOCKET@NAMESPACE` (every containerd-shim serving that containerd and
namespace, found when the minute starts).  The client's own CPU is never
counted.  The first endpoint is the reference the ratios are taken against.

The cadence is kubelet's (pkg/kubelet, v1.26-v1.29), each loop on its own
period, all on one thread here:
  1 s   PLEG relist: ListPodSandbox and ListContainers, unfiltered; then
        PodSandboxStatus / ContainerStatus only for what changed since the
        last relist (nothing, on a steady node: the first relist, before
        the minute, sees everything)
  5 s   updateRuntimeUp: Status(verbose=false)
  10 s  node status: Version; eviction manager's summary (CRI stats
        provider): ListContainers, ListPodSandbox, ListPodSandboxStats
        (PodAndContainerStatsFromCRI; on UNIMPLEMENTED kubelet falls back to
        ListContainerStats, and so does this) and ImageFsInfo
  30 s  image manager's cache: ListImages
  60 s  container GC: ListContainers (evictable containers), then
        ListContainers and ListPodSandbox (evictable sandboxes)
The 5 min loop (image GC's detectImages) falls outside the minute.
--stats partial makes the 10 s loop call ListContainerStats instead of
ListPodSandboxStats (kubelet without that feature gate).
"""
import argparse
import concurrent.futures
import os
import statistics
import sys
import time

import grpc

from crimpe2e import PB, Client
from stats_bench import remove_pod, run_pod

HZ = os.sysconf("SC_CLK_TCK")


def proc_ticks(pid):
    """utime+stime of PID's threads plus those of its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15])


def thread_ticks(pid):
    """{(tid, comm): utime+stime} of each thread of PID."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
            out[(tid, head.split("(", 1)[1])] = sum(int(v) for v in rest.split()[11:13])
        except OSError:
            pass
    return out


def find_shims(sock, namespace):
    """PIDs of the containerd shims serving SOCK's containerd in NAMESPACE."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if not argv[0].endswith(b"containerd-shim-runc-v2"):
            continue
        args = {argv[i]: argv[i + 1] for i in range(1, len(argv) - 1) if argv[i].startswith(b"-")}
        if args.get(b"-address") == sock.encode() and args.get(b"-namespace") == namespace.encode():
            pids.append(int(pid))
    return pids


def resolve_watch(spec):
    """[(label, pid)] of a SPEC, shims found now."""
    procs = []
    for item in spec.split(","):
        kind, _, rest = item.partition(":")
        if kind == "pid":
            label, _, pid = rest.rpartition(":")
            procs.append((label, int(pid)))
        elif kind == "shim":
            sock, _, ns = rest.rpartition("@")
            procs += [("shims", p) for p in find_shims(sock, ns)]
        else:
            raise SystemExit(f"--watch: unknown kind in {item!r}")
    return procs


class Poller:
    """kubelet's periodic calls on one endpoint, each one timed."""

    def __init__(self, client, stats_mode):
        self.c = client
        self.stats_mode = stats_mode
        self.lat = {}     # call -> [ms]
        self.errors = {}  # call -> {code name: count}
        self.pods = {}    # id -> state, as of the last relist
        self.ctrs = {}

    def call(self, rpc, **fields):
        t0 = time.perf_counter()
        try:
            return self.c.call(rpc, timeout=30, **fields)
        except grpc.RpcError as e:
            err = self.errors.setdefault(rpc, {})
            err[e.code().name] = err.get(e.code().name, 0) + 1
            return e
        finally:
            self.lat.setdefault(rpc, []).append((time.perf_counter() - t0) * 1000)

    def relist(self):
        pods = self.call("ListPodSandbox")
        ctrs = self.call("ListContainers")
        if isinstance(pods, grpc.RpcError) or isinstance(ctrs, grpc.RpcError):
            return
        new_pods = {p.id: p.state for p in pods.items}
        new_ctrs = {c.id: c.state for c in ctrs.containers}
        for pid, state in new_pods.items():
            if self.pods.get(pid) != state:
                self.call("PodSandboxStatus", pod_sandbox_id=pid)
        for cid, state in new_ctrs.items():
            if self.ctrs.get(cid) != state:
                self.call("ContainerStatus", container_id=cid)
        self.pods, self.ctrs = new_pods, new_ctrs

    def summary_stats(self):
        self.call("ListContainers")
        self.call("ListPodSandbox")
        if self.stats_mode == "cri":
            r = self.call("ListPodSandboxStats")
            if not (isinstance(r, grpc.RpcError) and r.code() == grpc.StatusCode.UNIMPLEMENTED):
                self.call("ImageFsInfo")
                return
        self.call("ListContainerStats")
        self.call("ImageFsInfo")

    def tick(self, k):
        """Second K of the minute: each loop whose period divides it (the
        longer loops offset so they do not all fall on the same second)."""
        self.relist()
        if k % 5 == 2:
            self.call("Status", verbose=False)
        if k % 10 == 4:
            self.call("Version")
            self.summary_stats()
        if k % 30 == 7:
            self.call("ListImages")
        if k % 60 == 33:
            self.call("ListContainers")
            self.call("ListContainers")
            self.call("ListPodSandbox")


def start_pods(c, image, n):
    """N pods started 4 at a time; when one fails, those started are
    removed before the error goes up (the bed keeps no leftovers)."""
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futures = [ex.submit(run_pod, c, image, 1) for _ in range(n)]
    pods = [f.result() for f in futures if f.exception() is None]
    failed = [f.exception() for f in futures if f.exception() is not None]
    if failed:
        remove_pods(c, pods)
        raise failed[0]
    return pods


def remove_pods(c, pods):
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda p: remove_pod(c, p), pods))


def measure(c, procs, seconds, stats_mode, threads):
    """One minute of polling: (CPU seconds per label, Poller, wall seconds,
    per-thread ticks of the busiest threads)."""
    poller = Poller(c, stats_mode)
    poller.relist()  # kubelet's first relist: everything is new
    poller.lat.clear()
    poller.errors.clear()
    before = {pid: proc_ticks(pid) for _, pid in procs}
    tbefore = {pid: thread_ticks(pid) for label, pid in procs if threads and label != "shims"}
    t0 = time.monotonic()
    for k in range(seconds):
        poller.tick(k)
        delay = t0 + k + 1 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    wall = time.monotonic() - t0
    cpu = {}
    for label, pid in procs:
        cpu[label] = cpu.get(label, 0.0) + (proc_ticks(pid) - before[pid]) / HZ
    hot = []
    for (label, pid) in procs:
        if pid not in tbefore:
            continue
        for key, v in thread_ticks(pid).items():
            d = v - tbefore[pid].get(key, 0)
            if d:
                hot.append((d / HZ, label, key[1], key[0]))
    hot.sort(reverse=True)
    return cpu, poller, wall, hot[:8]


def pct(cpu_s, wall):
    return 100.0 * cpu_s / wall


def print_tables(names, results, seconds, pods):
    ref = names[0]
    print(f"\n{pods} pods x 1 running container; {seconds} s of kubelet's polling; "
          f"CPU as % of one core over those seconds; ratio = chain / {ref}\n")
    print(f"{'chain':<18}{'daemons %':>11}{'shims %':>9}{'total %':>9}"
          f"{'daemons/ref':>13}{'total/ref':>11}  breakdown (CPU s)")
    ref_d = ref_t = None
    for n in names:
        cpu, _, wall, _ = results[n]
        shims = cpu.get("shims", 0.0)
        daemons = sum(v for k, v in cpu.items() if k != "shims")
        d, t = pct(daemons, wall), pct(daemons + shims, wall)
        if ref_d is None:
            ref_d, ref_t = d, t
        parts = " ".join(f"{k}={v:.2f}" for k, v in cpu.items())
        print(f"{n:<18}{d:>11.2f}{pct(shims, wall):>9.2f}{t:>9.2f}"
              f"{d / ref_d if ref_d else 0:>12.2f}x{t / ref_t if ref_t else 0:>10.2f}x  {parts}")
    calls = sorted({k for n in names for k in results[n][1].lat})
    print("\nclient-side latency per call: median / max ms (calls, errors)\n")
    print(f"{'call':<22}" + "".join(f"{n:>26}" for n in names))
    for call in calls:
        row = f"{call:<22}"
        for n in names:
            p = results[n][1]
            lat = p.lat.get(call)
            if not lat:
                row += f"{'-':>26}"
                continue
            errs = sum(p.errors.get(call, {}).values())
            cell = f"{statistics.median(lat):.2f}/{max(lat):.1f} ({len(lat)},{errs})"
            row += f"{cell:>26}"
        print(row)
    for n in names:
        for call, errs in sorted(results[n][1].errors.items()):
            print(f"  {n}: {call} errors {errs}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--stats", choices=("cri", "partial"), default="cri")
    ap.add_argument("--threads", action="store_true",
                    help="also print the busiest daemon threads of each chain")
    ap.add_argument("--watch", action="append", default=[], metavar="NAME=SPEC")
    ap.add_argument("endpoints", nargs="+", metavar="NAME=ENDPOINT")
    args = ap.parse_args()
    watch = dict(w.split("=", 1) for w in args.watch)
    targets = [e.split("=", 1) for e in args.endpoints]
    results = {}
    for name, ep in targets:
        if name not in watch:
            raise SystemExit(f"no --watch for {name}")
        c = Client(ep)
        c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=args.image)), timeout=120)
        print(f"  {name}: starting {args.pods} pods", file=sys.stderr)
        pods = start_pods(c, args.image, args.pods)
        try:
            time.sleep(5)  # let the starts' own work settle
            procs = resolve_watch(watch[name])
            print(f"  {name}: polling {args.seconds} s ({len(procs)} processes)", file=sys.stderr)
            results[name] = measure(c, procs, args.seconds, args.stats, args.threads)
        finally:
            remove_pods(c, pods)
            c.close()
        if args.threads:
            for cpu_s, label, comm, tid in results[name][3]:
                print(f"  {name}: thread {label}/{comm}[{tid}] {cpu_s:.2f} s", file=sys.stderr)
    print_tables([n for n, _ in targets], results, args.seconds, args.pods)


if __name__ == "__main__":
    main()
