"""What in crimp's container config costs Docker time at start and removal
(issue 21).

    docker_start_bench.py --socket DOCKER_SOCK --image IMG --pause IMG [--rounds 15]

Makes one pause container (as crimp's docker backend makes a sandbox), then
per round one app container for each variant: crimp's create body as
backends/docker/container_spec.c builds it for the pod lifecycle benchmark's
request, that body with one difference from cri-dockerd's (docker inspect of
a container each made for the same request) reverted at a time, and what
issue 21 changed undone one at a time (Docker's default seccomp profile, a
PID namespace of its own).  Times POST /containers/{id}/start and, once
stopped, DELETE /containers/{id},
interleaved across the variants (each round in a new order), and prints the
medians with the ratio to crimp's.  Python's standard library only: it
talks to Docker's socket.
"""
import argparse
import http.client
import json
import random
import socket
import statistics
import time
import urllib.parse


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("docker")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class Docker:
    def __init__(self, path):
        self.conn = UnixHTTP(path)

    def call(self, method, url, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, url, body=data, headers=headers)
        r = self.conn.getresponse()
        text = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {url}: {r.status} {text[:300]!r}")
        return json.loads(text) if text else None

    def create(self, body, name):
        return self.call("POST", "/containers/create?name=" + urllib.parse.quote(name), body)["Id"]

    def remove(self, cid):
        self.call("DELETE", f"/containers/{cid}?force=1&v=1")


def crimp_body(image, pause_id):
    """crimp's body for the benchmark's container (no security context)."""
    return {
        "Image": image,
        "Labels": {"io.kubernetes.docker.type": "container",
                   "io.kubernetes.sandbox.id": pause_id},
        "Tty": False, "OpenStdin": False, "StdinOnce": False,
        "Healthcheck": {"Test": ["NONE"]},
        "Entrypoint": ["sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"],
        "HostConfig": {
            "RestartPolicy": {"Name": "no"},
            "LogConfig": {"Type": "local", "Config": {"max-size": "20m", "max-file": "2"}},
            "NetworkMode": f"container:{pause_id}", "IpcMode": f"container:{pause_id}",
            "PidMode": f"container:{pause_id}",
            "SecurityOpt": ["seccomp=unconfined"],
        },
    }


def variant(fn):
    def make(image, pause_id):
        body = crimp_body(image, pause_id)
        fn(body, body["HostConfig"])
        return body
    return make


# Each difference alone; then all of them (cri-dockerd's body).
VARIANTS = {
    "crimp": variant(lambda b, h: None),
    "Docker's seccomp profile": variant(lambda b, h: h.update(SecurityOpt=[])),
    "log json-file": variant(lambda b, h: h.update(LogConfig={"Type": "json-file", "Config": {}})),
    "log json-file, bounded": variant(lambda b, h: h["LogConfig"].update(Type="json-file")),
    "log local, unbounded": variant(lambda b, h: h.update(LogConfig={"Type": "local", "Config": {}})),
    "own PID namespace": variant(lambda b, h: h.pop("PidMode")),
    "cri-dockerd's body": variant(lambda b, h: h.update(
        LogConfig={"Type": "json-file", "Config": {}})),
}


def pause_body(image):
    return {"Image": image, "Labels": {"io.kubernetes.docker.type": "podsandbox"},
            "HostConfig": {"NetworkMode": "none", "IpcMode": "shareable", "CpuShares": 2,
                           "ShmSize": 64 << 20, "RestartPolicy": {"Name": "no"},
                           "SecurityOpt": ["no-new-privileges"], "LogConfig": {"Type": "none"}}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--pause", required=True)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--only", nargs="*", help="variant names to run (default all)")
    args = ap.parse_args()
    d = Docker(args.socket)
    tag = f"{random.getrandbits(32):08x}"
    names = [n for n in VARIANTS if not args.only or n in args.only or n == "crimp"]
    pause = d.create(pause_body(args.pause), f"startbench-pause-{tag}")
    d.call("POST", f"/containers/{pause}/start")
    samples = {n: [] for n in names}
    removes = {n: [] for n in names}
    try:
        for r in range(args.rounds):
            order = names[:]
            random.shuffle(order)
            for n in order:
                cid = d.create(VARIANTS[n](args.image, pause), f"startbench-{tag}-{r}-{names.index(n)}")
                try:
                    t0 = time.perf_counter()
                    d.call("POST", f"/containers/{cid}/start")
                    samples[n].append((time.perf_counter() - t0) * 1000)
                    time.sleep(0.1)  # the shell sets its trap
                    d.call("POST", f"/containers/{cid}/stop?t=10")
                finally:
                    t0 = time.perf_counter()
                    d.remove(cid)
                    removes[n].append((time.perf_counter() - t0) * 1000)
    finally:
        d.remove(pause)
    base = statistics.median(samples[names[0]])
    rbase = statistics.median(removes[names[0]])
    print(f"\nPOST /containers/{{id}}/start and DELETE /containers/{{id}} (stopped), medians "
          f"over {args.rounds} interleaved rounds\n")
    print(f"{'variant':<28}{'start ms':>10}{'min':>8}{'vs crimp':>10}"
          f"{'remove ms':>11}{'vs crimp':>10}")
    for n in names:
        m = statistics.median(samples[n])
        r = statistics.median(removes[n])
        print(f"{n:<28}{m:>10.1f}{min(samples[n]):>8.1f}{m / base:>9.2f}x"
              f"{r:>11.1f}{r / rbase:>9.2f}x")


if __name__ == "__main__":
    main()
