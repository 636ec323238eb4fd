"""Issue 21's figures: CreateContainer, StartContainer, StopContainer,
RemoveContainer and RemoveImage on each CRI endpoint given, side by side in
one run, the endpoints in a new order every round.

    container_calls_bench.py --docker-socket SOCK --image IMG [--rounds 20] NAME=ENDPOINT ...

All endpoints must share the dockerd at SOCK (crimp's docker backend,
cri-dockerd): before each RemoveImage the image to remove is made there,
outside the timing, as a pull would leave it: a small image of its own
(FROM IMG plus a label), tagged in IMG's registry and pushed, so that it
has a tag and a digest.  RemoveImage is asked by image ID, as kubelet's
image GC asks (cri-dockerd removes nothing when given a tag).
"""
import argparse
import http.client
import io
import json
import os
import random
import socket
import statistics
import sys
import tarfile
import time
import urllib.parse
import uuid

from crimpe2e import PB, Client

CALLS = ["CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "RemoveImage"]


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("docker", timeout=300)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def docker(sock, method, url, body=None, headers=None):
    conn = UnixHTTP(sock)
    conn.request(method, url, body=body, headers=headers or {})
    r = conn.getresponse()
    text = r.read()
    conn.close()
    if r.status >= 300 or b'"error"' in text:
        raise RuntimeError(f"{method} {url}: {r.status} {text[-300:]!r}")
    return text


def make_image(sock, base):
    """A pushed image of its own: (reference, ID)."""
    repo = base.rsplit(":", 1)[0] + "-rm"
    tag = uuid.uuid4().hex[:12]
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tar:
        df = f"FROM {base}\nLABEL crimp.bench={tag}\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(df)
        tar.addfile(info, io.BytesIO(df))
    q = urllib.parse.urlencode({"t": f"{repo}:{tag}", "q": "1"})
    docker(sock, "POST", f"/build?{q}", ctx.getvalue(), {"Content-Type": "application/x-tar"})
    docker(sock, "POST", f"/images/{repo}:{tag}/push?tag={tag}", b"",
           {"X-Registry-Auth": "e30="})
    img = json.loads(docker(sock, "GET", f"/images/{repo}:{tag}/json"))
    assert img["RepoDigests"], img["RepoDigests"]
    return f"{repo}:{tag}", img["Id"]


def timed(samples, name, fn, *args, **kw):
    t0 = time.perf_counter()
    r = fn(*args, **kw)
    samples[name].append((time.perf_counter() - t0) * 1000)
    return r


def container_round(c, image, pod, pod_cfg, samples, i):
    cfg = PB.ContainerConfig(
        metadata=PB.ContainerMetadata(name=f"app{i}"), image=PB.ImageSpec(image=image),
        log_path=f"app{i}.log",
        command=["sh", "-c", "echo hello; trap 'exit 0' TERM; sleep 300 & wait"],
        linux=PB.LinuxContainerConfig())
    cid = timed(samples, "CreateContainer", c.call, "CreateContainer", pod_sandbox_id=pod,
                config=cfg, sandbox_config=pod_cfg, timeout=60).container_id
    timed(samples, "StartContainer", c.call, "StartContainer", container_id=cid, timeout=60)
    time.sleep(0.2)  # the shell sets its trap
    timed(samples, "StopContainer", c.call, "StopContainer",
          PB.StopContainerRequest(container_id=cid, timeout=10), timeout=60)
    timed(samples, "RemoveContainer", c.call, "RemoveContainer", container_id=cid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docker-socket", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--logdir", default="/tmp/crimp-bench-logs")
    ap.add_argument("endpoints", nargs="+", metavar="NAME=ENDPOINT")
    args = ap.parse_args()
    targets = [e.split("=", 1) for e in args.endpoints]
    clients = {n: Client(ep) for n, ep in targets}
    samples = {n: {k: [] for k in CALLS} for n, _ in targets}
    pods = {}
    for n, c in clients.items():
        c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=args.image)), timeout=120)
        uid = uuid.uuid4().hex[:8]
        os.makedirs(f"{args.logdir}/{uid}")  # kubelet makes it; cri-dockerd expects it
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name=f"calls-{uid}", namespace="crimp-bench", uid=uid),
            log_directory=f"{args.logdir}/{uid}", linux=PB.LinuxPodSandboxConfig())
        pods[n] = (c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id, cfg)
    try:
        for r in range(args.rounds):
            order = list(clients)
            random.shuffle(order)
            for n in order:
                container_round(clients[n], args.image, *pods[n], samples[n], r)
                _, image_id = make_image(args.docker_socket, args.image)
                timed(samples[n], "RemoveImage", clients[n].call, "RemoveImage",
                      image=PB.ImageSpec(image=image_id), timeout=60)
                gone = json.loads(docker(args.docker_socket, "GET", "/images/json"))
                assert all(i["Id"] != image_id for i in gone), f"{n} left {image_id}"
            print(f"  round {r + 1}/{args.rounds}", file=sys.stderr)
    finally:
        for n, c in clients.items():
            c.call("StopPodSandbox", pod_sandbox_id=pods[n][0], timeout=120)
            c.call("RemovePodSandbox", pod_sandbox_id=pods[n][0], timeout=120)

    names = [n for n, _ in targets]
    ref = names[-1]
    print(f"\nmedians over {args.rounds} interleaved rounds (ms); ratio to {ref}\n")
    w = max(len(n) for n in names) + 3
    print(f"{'CRI call':<18}" + "".join(f"{n:>{w}}" for n in names)
          + "".join(f"{n + '/' + ref:>{w + len(ref) + 1}}" for n in names[:-1]))
    for k in CALLS:
        med = [statistics.median(samples[n][k]) for n in names]
        print(f"{k:<18}" + "".join(f"{m:>{w}.1f}" for m in med)
              + "".join(f"{m / med[-1]:>{w + len(ref)}.2f}x" for m in med[:-1]))


if __name__ == "__main__":
    main()
