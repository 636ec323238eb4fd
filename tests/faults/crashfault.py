#!/usr/bin/python3
"""Crash fault suite: crimpd is SIGKILLed at the step boundaries of the pod
lifecycle calls, and the runtime daemon is restarted under load; after each
round crimpd is started again, a kubelet-like cleanup goes through the CRI
(list, stop, remove everything) and nothing may be left behind.

Kill points come from crimp's own trace: a calibration lifecycle is run and
its calls are read back from the admin socket (/v1/calls); every span of
RunPodSandbox, CreateContainer, StartContainer, StopPodSandbox and
RemovePodSandbox gives two kill points, one inside the step and one just
after it.  A round runs N pod lifecycles in parallel; when the victim's
call of the chosen method goes out, a timer fires SIGKILL at that span's
offset (with a little jitter), so successive rounds walk every step.

    tests/faults/crashfault.py [--backend docker|containerd|both] [--short]
                               [--rounds N] [--parallel N] [--seed S]

See tests/faults/README.md.  Needs the test bed ($CRIMP_BED) and a build
($CRIMP_BUILD_DIR).  Exit 0 when no round leaked, 1 otherwise, 77 to skip.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from crimpe2e import PB, Crimpd, bed_env, shim_processes, wait_for_socket  # noqa: E402
from hangproxy import HangingProxy  # noqa: E402

import grpc  # noqa: E402

BED = bed_env()
METHODS = ["RunPodSandbox", "CreateContainer", "StartContainer", "StopPodSandbox",
           "RemovePodSandbox"]
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


class AdminClient(http.client.HTTPConnection):
    """HTTP on crimpd's admin unix socket."""

    def __init__(self, path):
        super().__init__("crimp", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def admin_get(path, url):
    c = AdminClient(path)
    try:
        c.request("GET", url)
        return json.loads(c.getresponse().read())
    finally:
        c.close()


# ---- the backends ------------------------------------------------------------

class Backend:
    name = ""

    def __init__(self, state):
        self.state = state

    @property
    def bstate(self):
        return os.path.join(self.state, "crimp", "backends", self.name)

    def config(self, sock):
        """crimpd's backend entry, the runtime reached at SOCK."""
        raise NotImplementedError

    def restart_runtime(self):
        raise NotImplementedError

    def leaks(self):
        """What is left of crimp's objects (after a full CRI cleanup)."""
        out = []
        for sub in ("sandboxes", "containers", "intents", "cni-cache", "netns"):
            d = os.path.join(self.bstate, sub)
            if os.path.isdir(d):
                left = [n for n in os.listdir(d) if not n.startswith(".")]
                if left:
                    out.append(f"{sub}: {left}")
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if self.bstate in line]
        if mounts:
            out.append(f"mounts: {mounts}")
        return out


def restart_daemon(pidfile, argv, sock, logpath):
    """SIGTERM the bed daemon whose pid is in PIDFILE and start ARGV again."""
    with open(pidfile) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    if os.path.exists(sock):
        os.unlink(sock)
    with open(logpath, "ab") as lg:
        p = subprocess.Popen(argv, stdout=lg, stderr=subprocess.STDOUT, start_new_session=True)
    with open(pidfile, "w") as f:
        f.write(str(p.pid))
    if not wait_for_socket(sock, 60):
        raise RuntimeError(f"{argv[0]} did not come back")


class Containerd(Backend):
    name = "containerd"
    IP_OCTET = 200
    SOCK = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
    NS = "crimp-faults"

    def config(self, sock):
        # shim_address: the shims name containerd's own socket, not the proxy's
        return {"name": self.name, "type": "containerd", "endpoint": "unix://" + sock,
                "options": {"namespace": self.NS, "pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                            "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                            "cni_bin_dirs": "/usr/lib/cni", "shim_address": self.SOCK}}

    def ctr(self, *args):
        return subprocess.run(["ctr", "--address", self.SOCK, "-n", self.NS, *args],
                              capture_output=True, text=True, timeout=60).stdout

    def restart_runtime(self):
        d = os.path.dirname(self.SOCK)
        restart_daemon(os.path.join(d, "containerd.pid"),
                       ["containerd", "--config", os.path.join(d, "config.toml")], self.SOCK,
                       os.path.join(d, "containerd.log"))

    def leaks(self):
        out = super().leaks()
        for what in ("containers", "tasks"):
            left = [n for n in self.ctr(what, "ls", "-q").split() if HEX64.match(n)]
            if left:
                out.append(f"containerd {what}: {left}")
        snaps = [line.split()[0] for line in self.ctr("snapshots", "ls").splitlines()[1:]
                 if line.split() and HEX64.match(line.split()[0])]
        if snaps:
            out.append(f"containerd snapshots: {snaps}")
        tasks = set(self.ctr("tasks", "ls", "-q").split())
        idle = {i: pid for i, pid in shim_processes(self.NS, self.SOCK).items()
                if i not in tasks}
        if idle:
            out.append(f"containerd shims without a task (id: pid): {idle}")
        return out


class Docker(Backend):
    name = "docker"
    IP_OCTET = 201
    SOCK = BED["CRIMP_BED_DOCKER_SOCK"]

    def config(self, sock):
        return {"name": self.name, "type": "docker", "endpoint": "unix://" + sock,
                "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                            "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                            "cni_bin_dirs": "/usr/lib/cni"}}

    def restart_runtime(self):
        d = os.path.dirname(self.SOCK)
        with open(os.path.join(d, "dockerd.pid")) as f:
            pid = int(f.read())
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[:-1]
        restart_daemon(os.path.join(d, "dockerd.pid"), [a.decode() for a in argv], self.SOCK,
                       os.path.join(d, "dockerd.log"))

    def docker_ids(self):
        out = subprocess.run(["docker", "-H", "unix://" + self.SOCK, "ps", "-aq", "--no-trunc",
                              "--filter", "label=io.crimp.cri"],
                             capture_output=True, text=True, timeout=60)
        return out.stdout.split()

    def leaks(self):
        out = super().leaks()
        left = self.docker_ids()
        if left:
            out.append(f"docker containers: {left}")
        return out


# ---- one crimpd under test ---------------------------------------------------

def private_cni_conf(state, octet):
    """The bed's CNI network with its own host-local dataDir and a range of
    its own (10.N.OCTET.0/24 of the bed's /16): the IP leak check sees only
    this run's leases, even with the other backend's run beside it."""
    src = os.path.join(BED["CRIMP_BED_CNI_CONF_DIR"], "10-crimp-bed.conflist")
    with open(src) as f:
        net = json.load(f)
    prefix = BED["CRIMP_BED_CNI_NET"].rsplit(".", 2)[0]
    ipam = net["plugins"][0]["ipam"]
    ipam["dataDir"] = os.path.join(state, "ipam")
    ipam["ranges"][0][0].update(rangeStart=f"{prefix}.{octet}.1", rangeEnd=f"{prefix}.{octet}.254")
    conf_dir = os.path.join(state, "net.d")
    os.makedirs(conf_dir, exist_ok=True)
    with open(os.path.join(conf_dir, "10-crimp-bed.conflist"), "w") as f:
        json.dump(net, f)
    return conf_dir, os.path.join(ipam["dataDir"], net["name"])


class Harness:
    def __init__(self, backend, parallel, rng, hung_rounds):
        self.b = backend
        self.serve_s = []  # each start: exec to Version answered
        self.parallel = parallel
        self.rng = rng
        self.logdir = os.path.join(backend.state, "logs")
        conf_dir, self.ipam_dir = private_cni_conf(backend.state, backend.IP_OCTET)
        # With hung rounds crimpd reaches the runtime through a proxy that
        # can stop answering; without, directly.
        self.proxy = HangingProxy(backend.SOCK) if hung_rounds else None
        cfg = {"backends": [backend.config(self.proxy.path if self.proxy else backend.SOCK)]}
        cfg["backends"][0]["options"]["cni_conf_dir"] = conf_dir
        self.cfg_path = os.path.join(backend.state, "crimpd.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        self.crimpd = Crimpd(extra=["--config", self.cfg_path, "--state-dir",
                                    os.path.join(backend.state, "crimp")],
                             name=f"crimpd-{backend.name}")

    @property
    def c(self):
        return self.crimpd.client

    def start(self):
        """Starts crimpd and waits for its socket (what is slow in the
        recovery runs after it serves; a hung runtime still holds the start
        up for a few seconds), and times it up to a Version answered."""
        t0 = time.monotonic()
        self.crimpd.start(wait=False)
        if not wait_for_socket(self.crimpd.sock, 90):
            raise RuntimeError(f"crimpd did not serve within 90 s:\n{self.crimpd.read_log()[-3000:]}")
        try:
            self.crimpd.client.call("Version", PB.VersionRequest(), timeout=60)
            self.serve_s.append(time.monotonic() - t0)
        except grpc.RpcError as e:  # a runtime still hung: not a start time
            log(f"{self.b.name}: Version after the start: {e.code()}")

    def shims_ended(self):
        """How many idle shims crimpd has logged ending since the last ask
        (containerd leaks them when a call of the killed crimpd is cut)."""
        with open(self.crimpd.log_path, errors="replace") as f:
            f.seek(getattr(self, "log_seen", 0))
            text = f.read()
            self.log_seen = f.tell()
        return len(re.findall(r"shim pid \d+ of \w+ had no container, task or child", text))

    def kill9(self):
        if self.crimpd.proc.poll() is None:
            self.crimpd.proc.send_signal(signal.SIGKILL)
        self.crimpd.proc.wait()
        self.crimpd.client.close()
        self.crimpd.client = None
        self.crimpd.log.close()

    # the lifecycle, as kubelet makes it
    def pod_config(self, name):
        return PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name=name, namespace="faults", uid=str(uuid.uuid4())),
            hostname=name, log_directory=os.path.join(self.logdir, name),
            linux=PB.LinuxPodSandboxConfig())

    def lifecycle(self, name, made, before_call=None, printed=None):
        """RunPodSandbox … RemovePodSandbox; MADE holds the pod ID from when
        crimp reported it until RemovePodSandbox is asked for.  The container
        prints a line, then touches a marker in a host directory: PRINTED
        maps each container's log file to (marker, line)."""
        hook = before_call or (lambda method: None)
        cfg = self.pod_config(name)
        hook("RunPodSandbox")
        pod = self.c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
        made.add(pod)
        marks = os.path.join(self.b.state, "marks", name)
        os.makedirs(marks, exist_ok=True)
        line = f"{name} is up"
        ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="app"),
                                  image=PB.ImageSpec(image=BED["CRIMP_BED_BUSYBOX_IMAGE"]),
                                  command=["sh", "-c", f"echo {line}; touch /marks/printed; "
                                           "exec sleep 3600"],
                                  mounts=[PB.Mount(container_path="/marks", host_path=marks)],
                                  log_path="app.log",
                                  linux=PB.LinuxContainerConfig())
        if printed is not None:
            printed[os.path.join(cfg.log_directory, "app.log")] = \
                (os.path.join(marks, "printed"), line)
        hook("CreateContainer")
        cid = self.c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg,
                          timeout=60).container_id
        hook("StartContainer")
        self.c.call("StartContainer", container_id=cid, timeout=60)
        hook("StopPodSandbox")
        self.c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
        hook("RemovePodSandbox")
        made.discard(pod)  # once asked to go, it may be gone whether or not the call returns
        self.c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)

    def pull(self):
        self.c.call("PullImage", PB.PullImageRequest(
            image=PB.ImageSpec(image=BED["CRIMP_BED_BUSYBOX_IMAGE"])), timeout=180)

    def calibrate(self):
        """Span offsets (µs from the call's start) of each lifecycle method,
        from crimp's own trace of one lifecycle."""
        self.lifecycle("warm", set())  # the pause image is pulled here
        last = admin_get(self.crimpd.admin, "/v1/calls?limit=1")
        after = last[-1]["id"] if last else 0
        # Under the rounds' load: as many lifecycles in parallel.
        threads = [threading.Thread(target=self.lifecycle, args=(f"calibrate-{i}", set()))
                   for i in range(self.parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        calls = admin_get(self.crimpd.admin, f"/v1/calls?after={after}&limit=200")
        by_method = {}
        for call in calls:
            if call["method"] in METHODS and call["code"] == "OK":
                by_method.setdefault(call["method"], []).append(call)
        points = {}
        for method, cs in by_method.items():
            call = sorted(cs, key=lambda c: c["duration_us"])[len(cs) // 2]  # the median
            spans = sorted(call["spans"], key=lambda s: s["start_us"])
            pts = []
            for k, s in enumerate(spans):
                pts.append((f"in {k}:{s['name']}", s["start_us"] + s["duration_us"] / 2))
                pts.append((f"after {k}:{s['name']}", s["start_us"] + s["duration_us"] + 50))
            points[method] = pts
        return points

    def cleanup_via_cri(self, attempts=3):
        """What kubelet does with pods it no longer wants, retried as kubelet
        does on its next sync (a shim that exits under a call answers it with
        an error once).  Errors of the earlier passes are returned."""
        transient = []
        for attempt in range(attempts):
            try:
                self.cleanup_pass()
                return transient
            except grpc.RpcError as e:
                if attempt == attempts - 1:
                    raise
                transient.append(f"{e.code()} {e.details()}")
                time.sleep(1)

    def cleanup_pass(self):
        for c in self.c.call("ListContainers", timeout=30).containers:
            self.c.call("StopContainer", PB.StopContainerRequest(container_id=c.id, timeout=0),
                        timeout=60)
            self.c.call("RemoveContainer", container_id=c.id, timeout=60)
        for p in self.c.call("ListPodSandbox", timeout=30).items:
            self.c.call("StopPodSandbox", pod_sandbox_id=p.id, timeout=60)
            self.c.call("RemovePodSandbox", pod_sandbox_id=p.id, timeout=60)

    def leaks(self):
        out = self.b.leaks()
        ips = [n for n in os.listdir(self.ipam_dir) if n[0].isdigit()] \
            if os.path.isdir(self.ipam_dir) else []
        if ips:
            out.append(f"CNI IPs: {sorted(ips)}")
        return out

    def wait_clean(self, timeout=30):
        """Polls for leaks, with a cleanup pass each second as kubelet's
        periodic relist would do: the runtime may still finish a call the
        killed crimpd had in flight (a Docker create) after the first pass
        listed what exists."""
        deadline = time.monotonic() + timeout
        left = self.leaks()
        while left and time.monotonic() < deadline:
            time.sleep(1)
            try:
                self.cleanup_pass()
            except grpc.RpcError:
                pass  # as kubelet: the next pass retries
            left = self.leaks()
        return left

    def hang_runtime(self, fired, kill):
        """The runtime stops answering for a few seconds while the
        lifecycles run; with KILL, crimpd is SIGKILLed while it waits on the
        hung runtime (what it wrote is delivered late, after its death)."""
        time.sleep(self.rng.uniform(0.05, 1.0))
        self.proxy.hang()
        try:
            time.sleep(self.rng.uniform(1.0, 4.0))
            if kill:
                self._fire(fired)
        finally:
            self.proxy.resume()

    def round(self, rno, method, label, offset_us, fault):
        """One round; FAULT is "kill" (SIGKILL at OFFSET_US into the victim's
        METHOD call), "runtime" (the runtime daemon restarted), "hung" or
        "hung-kill" (the runtime stops answering; crimpd killed meanwhile
        for the latter).  Returns (problems, hit) where HIT says whether the
        kill landed while the victim's call was in flight."""
        runtime_restart = fault == "runtime"
        made = set()
        printed = {}
        fired = threading.Event()
        in_flight = {"method": None}
        errors = []
        timers = []

        def victim_hook(m):
            in_flight["method"] = m
            if m == method and fault == "kill" and not fired.is_set():
                delay = max(0.0, offset_us / 1e6 * self.rng.uniform(0.8, 1.2))
                t = threading.Timer(delay, self._fire, (fired,))
                t.daemon = True
                timers.append(t)
                t.start()

        def worker(i):
            try:
                self.lifecycle(f"r{rno}-p{i}", made, victim_hook if i == 0 else None, printed)
            except grpc.RpcError as e:
                if not fired.is_set() and not runtime_restart:
                    # a call cut by the runtime's restart fails as it would
                    # for kubelet; one that only waited on a hung runtime
                    # must succeed once it answers again
                    errors.append(f"pod {i}: {e.code()} {e.details()}")

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(self.parallel)]
        for t in threads:
            t.start()
        if runtime_restart:
            time.sleep(self.rng.uniform(0.05, 1.0))
            self.b.restart_runtime()
        elif fault.startswith("hung"):
            self.hang_runtime(fired, fault == "hung-kill")
        for t in threads:
            t.join(timeout=300)
        for t in timers:  # a kill due after the lifecycle ended must not hit the next round
            t.cancel()
            t.join()
        hit = fault == "kill" and in_flight["method"] == method and fired.is_set()
        problems = list(errors)
        if fired.is_set():
            self.kill9()
        else:
            rc = self.crimpd.stop()
            self.crimpd.log.close()
            if rc != 0:
                problems.append(f"crimpd exited with status {rc} on SIGTERM")
        self.start()
        listed = {p.id for p in self.c.call("ListPodSandbox", timeout=30).items}
        lost = made - listed
        if lost:
            problems.append(f"pods crimp reported made but does not list: {sorted(lost)}")
        short = logs_incomplete(printed)
        if short:
            problems.append(f"output a container printed is missing from its CRI log: {short}")
        try:
            for e in self.cleanup_via_cri():
                log(f"{self.b.name} round {rno}: CRI cleanup retried after: {e}")
        except grpc.RpcError as e:
            problems.append(f"CRI cleanup failed: {e.code()} {e.details()}")
        left = self.wait_clean()
        if left:
            problems.append("leaked: " + "; ".join(left))
        return problems, hit

    def _fire(self, fired):
        fired.set()
        if self.crimpd.proc.poll() is None:
            self.crimpd.proc.send_signal(signal.SIGKILL)


def logs_incomplete(printed, timeout=15):
    """The log files (of PRINTED: path -> (marker, line)) still without
    their line after TIMEOUT though the marker says the container printed
    it (a container killed before it got to its echo printed nothing): what
    a container printed must reach its CRI log, whatever crimpd went
    through since, even while it was down."""
    deadline = time.monotonic() + timeout
    while True:
        missing = []
        for path, (marker, line) in printed.items():
            if not os.path.exists(marker):
                continue
            try:
                with open(path, errors="replace") as f:
                    if line in f.read():
                        continue
            except OSError:
                pass
            missing.append(path)
        if not missing or time.monotonic() > deadline:
            return sorted(missing)
        time.sleep(0.5)


def run_rounds(h, backend, args):
    """The calibration and the rounds; the number of rounds with problems."""
    h.pull()
    points = h.calibrate()
    plan = [(m, lbl, off) for m in METHODS for (lbl, off) in points.get(m, [])]
    if not plan:
        log(f"{backend.name}: no spans in the calibration trace")
        return 1
    log(f"{backend.name}: {len(plan)} kill points from the trace: " +
        ", ".join(f"{m}={len(points.get(m, []))}" for m in METHODS))
    if args.short:  # the step boundaries only
        plan = [p for p in plan if p[1].startswith("after")]
    if args.points:  # to repeat one kill point, e.g. "StartContainer at in 2:"
        plan = [p for p in plan if args.points in f"{p[0]} at {p[1]}"]
        if not plan:
            log(f"{backend.name}: no kill point matches {args.points!r}")
            return 1
    rounds = args.rounds or (len(plan) if args.short else max(200, len(plan)))
    seen = set()
    failed = hits = 0
    faults = {"kill": 0, "runtime": 0, "hung": 0, "hung-kill": 0}
    shims = dict.fromkeys(faults, 0)
    h.shims_ended()  # those of the calibration are not a round's
    for r in range(rounds):
        fault = round_fault(r, args)
        m, lbl, off = plan[r % len(plan)]
        problems, hit = h.round(r, m, lbl, off, fault)
        kind = {"kill": f"kill -9 in {m} at {lbl}", "runtime": "runtime restart",
                "hung": "hung runtime", "hung-kill": "hung runtime, kill -9"}[fault]
        faults[fault] += 1
        ended = h.shims_ended()
        shims[fault] += ended
        if hit:
            hits += 1
            seen.add((m, lbl))
        if problems:
            failed += 1
            log(f"{backend.name} round {r} ({kind}): FAIL: " + " | ".join(problems))
        elif args.verbose:
            log(f"{backend.name} round {r} ({kind}): ok{' (missed)' if fault == 'kill' and not hit else ''}"
                + (f", {ended} idle shims ended by crimpd" if ended else ""))
    log(f"{backend.name}: {rounds} rounds, {faults['kill']} kills of which {hits} landed "
        f"inside the chosen call ({len(seen)} of {len(plan)} distinct points), "
        f"{faults['runtime']} runtime restarts, {faults['hung'] + faults['hung-kill']} hung "
        f"runtime rounds ({faults['hung-kill']} with a kill), {failed} rounds with problems")
    if backend.name == "containerd":
        log(f"{backend.name}: idle shims crimpd ended, by round type: " +
            ", ".join(f"{k} {v}" for k, v in shims.items()))
    t = sorted(h.serve_s)
    if t:
        log(f"{backend.name}: {len(t)} starts of crimpd answered Version in median "
            f"{t[len(t) // 2]:.2f} s, max {t[-1]:.2f} s")
    return failed


def round_fault(r, args):
    """The fault of round R: a runtime restart every --runtime-every th
    round, a hung runtime every --hung-every th (half of them with a kill
    of crimpd while it waits), a kill at a trace point otherwise."""
    def every(n, at):
        return n > 0 and r % n == at % n
    if every(args.runtime_every, args.runtime_every - 1):
        return "runtime"
    if every(args.hung_every, args.hung_every // 2):
        return "hung-kill" if (r // args.hung_every) % 2 else "hung"
    return "kill"


def finish(h, backend, failed):
    """Cleans up, checks crimpd's exit and log; the updated failure count."""
    try:
        if h.crimpd.proc.poll() is None and h.crimpd.client:
            h.cleanup_via_cri()
    except grpc.RpcError:
        pass
    if h.crimpd.stop() != 0:
        failed += 1
        log(f"{backend.name}: crimpd exited with an error at the end")
    with open(h.crimpd.log_path, errors="replace") as f:
        text = f.read().splitlines()
    sanitizer = [line for line in text if re.search(r"Sanitizer|runtime error:", line)]
    if sanitizer:
        failed += 1
        log(f"{backend.name}: sanitizer reports in crimpd's log: " + " | ".join(sanitizer[:5]))
    if failed:
        kept = f"/tmp/crimp-faults-{backend.name}-{os.getpid()}.log"
        shutil.copy(h.crimpd.log_path, kept)
        log(f"{backend.name}: crimpd's log kept in {kept}")
    recovered = [line for line in text
                 if re.search(r"half-made|no record|no checkpoint|removed|recovery|tearing", line)]
    h.crimpd.cleanup()
    print(f"--- crimpd log ({backend.name}): {len(recovered)} recovery lines, the last 30 ---")
    for line in recovered[-30:]:
        print(line)
    return failed


def run_backend(backend, args, rng):
    h = Harness(backend, args.parallel, rng, args.hung_every > 0)
    h.start()
    failed = 1  # unless the rounds ran to the end
    try:
        failed = run_rounds(h, backend, args)
    finally:
        failed = finish(h, backend, failed)
        if h.proxy:
            h.proxy.close()
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="both", choices=["docker", "containerd", "both"])
    ap.add_argument("--short", action="store_true",
                    help="one round per step boundary of the trace (CI)")
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--parallel", type=int, default=3)
    ap.add_argument("--runtime-every", type=int, default=10,
                    help="every Nth round restarts the runtime daemon instead (0: never)")
    ap.add_argument("--hung-every", type=int, default=10,
                    help="every Nth round the runtime stops answering for a while instead "
                    "(0: never; crimpd then talks to the runtime without a proxy)")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--points", default="",
                    help="only the kill points whose 'METHOD at LABEL' contains this")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("skip: the fault suite runs as root (it drives the bed's daemons)")
        return 77
    rng = random.Random(args.seed)
    log(f"seed {args.seed}")
    backends = []
    if args.backend in ("containerd", "both") and Containerd.SOCK:
        backends.append(Containerd)
    if args.backend in ("docker", "both"):
        backends.append(Docker)
    rc = 0
    for cls in backends:
        state = tempfile.mkdtemp(prefix=f"crimp-faults-{cls.name}.")
        try:
            rc |= run_backend(cls(state), args, rng)
        finally:
            shutil.rmtree(state, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
