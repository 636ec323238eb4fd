"""Isolation between backends (issue 18): one crimpd serves docker (the
default) and crimp's native containerd backend; dockerd then stops
answering — a proxy in front of its socket keeps accepting and never
replies — while pods run on containerd.

Checked during the hang: containerd calls keep their latency (medians
before and during, a generous factor), merged lists still answer with
containerd's pods, /metrics answers within 1 s, docker calls fail by
their deadline (or the backend's call_timeout without one) with a message
naming the backend, calls beyond docker's slots and queue are refused at
once, and Status turns RuntimeReady false within a few seconds.  After
dockerd answers again: RuntimeReady true, docker calls succeed."""
import json
import os
import shutil
import socket
import statistics
import tempfile
import threading
import time
import unittest

import grpc

from crimpe2e import PB, Client, Crimpd, bed_env, main, wait_for, wait_for_socket
from hangproxy import HangingProxy

BED = bed_env()
NATIVE = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
NS = "crimp-isolation"
MAX_CALLS = 3
MAX_QUEUED = 2


def median_ms(fn, n=15):
    times = []
    for _ in range(n):
        t = time.monotonic()
        fn()
        times.append((time.monotonic() - t) * 1000)
    return statistics.median(times)


@unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
class Isolation(unittest.TestCase):
    def setUp(self):
        self.proxy = HangingProxy(BED["CRIMP_BED_DOCKER_SOCK"])
        self.state = tempfile.mkdtemp(prefix="crimp-iso.")
        self.pod = None
        self.crimpd = None

    def start_crimpd(self):
        cfg = {
            "default_backend": "docker", "drain_timeout": 1,
            "health_interval": 0.5, "health_timeout": 1,
            "backend_max_calls": MAX_CALLS, "backend_max_queued": MAX_QUEUED,
            "backends": [
                {"name": "docker", "type": "docker", "endpoint": "unix://" + self.proxy.path,
                 "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                             "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                             "call_timeout": 3}},
                {"name": "containerd", "type": "containerd", "endpoint": "unix://" + NATIVE,
                 "options": {"namespace": NS, "pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                             "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                             "cni_bin_dirs": "/usr/lib/cni"}}]}
        path = os.path.join(self.state, "crimpd.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.crimpd = Crimpd(extra=["--config", path, "--state-dir",
                                    os.path.join(self.state, "s")])
        t = time.monotonic()
        self.crimpd.start(wait=False)
        self.assertTrue(wait_for_socket(self.crimpd.sock, 30), self.crimpd.read_log())
        took = time.monotonic() - t
        # The admin socket opens just after the CRI one.
        self.assertTrue(wait_for_socket(self.crimpd.admin, 5), self.crimpd.read_log())
        self.c = self.crimpd.client
        return took

    def tearDown(self):
        self.proxy.resume()
        try:
            if self.pod:
                self.c.call("StopPodSandbox", pod_sandbox_id=self.pod, timeout=60)
                self.c.call("RemovePodSandbox", pod_sandbox_id=self.pod, timeout=60)
        finally:
            rc, log = None, ""
            if self.crimpd:
                # Parked calls, probers and the expirer all end cleanly: exit
                # status 0 (sanitizer builds exit 66 on a leak).
                rc = self.crimpd.stop()
                log = self.crimpd.read_log()
                if os.environ.get("CRIMP_E2E_SHOW_LOG"):
                    print(log)
                self.crimpd.cleanup()
            self.proxy.close()
            shutil.rmtree(self.state, ignore_errors=True)
            self.assertIn(rc, (None, 0), log[-4000:])

    # --- helpers ----------------------------------------------------------

    def runtime_ready(self):
        st = self.c.call("Status", timeout=5).status
        return {c.type: c.status for c in st.conditions}["RuntimeReady"]

    def metrics(self):
        """/metrics over the admin socket: (seconds it took, body)."""
        t = time.monotonic()
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(self.crimpd.admin)
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: crimp\r\n\r\n")
        body = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
        s.close()
        return time.monotonic() - t, body.decode()

    def docker_call(self, timeout, client=None):
        """PullImage goes to the default backend (docker) and always to
        dockerd itself (lists and statuses are answered from crimp's caches,
        which a hung dockerd does not stall): (code, details, seconds)."""
        t = time.monotonic()
        try:
            (client or self.c).call("PullImage",
                                    PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)),
                                    timeout=timeout)
            return grpc.StatusCode.OK, "", time.monotonic() - t
        except grpc.RpcError as e:
            return e.code(), e.details(), time.monotonic() - t

    def start_containerd_pod(self):
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="iso", namespace="e2e", uid="iso-" + str(os.getpid())),
            hostname="iso", log_directory=os.path.join(self.state, "logs"),
            linux=PB.LinuxPodSandboxConfig())
        # The runtime handler names crimp's backend: the pod goes there, not
        # to the default (docker).
        self.pod = self.c.call("RunPodSandbox", config=cfg, runtime_handler="containerd",
                               timeout=180).pod_sandbox_id
        self.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX),
                                                     sandbox_config=cfg), timeout=180)
        ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="sleep"),
                                  image=PB.ImageSpec(image=BUSYBOX), command=["sleep", "3600"],
                                  log_path="sleep.log", linux=PB.LinuxContainerConfig())
        cid = self.c.call("CreateContainer", pod_sandbox_id=self.pod, config=ccfg,
                          sandbox_config=cfg, timeout=60).container_id
        self.c.call("StartContainer", container_id=cid, timeout=60)
        return cid

    def watch_status(self):
        """Polls Status every 0.2 s on a thread of its own; not_ready_at is
        when RuntimeReady was first seen false."""
        self.not_ready_at = None

        def poll():
            client = Client(self.crimpd.endpoint)
            try:
                while self.not_ready_at is None and not self.proxy.open.is_set():
                    st = client.call("Status", timeout=5).status
                    if not {c.type: c.status for c in st.conditions}["RuntimeReady"]:
                        self.not_ready_at = time.monotonic()
                    time.sleep(0.2)
            finally:
                client.close()
        threading.Thread(target=poll, daemon=True).start()

    def containerd_round(self, cid):
        """Calls on both lanes that reach containerd: statuses (fast) and an
        exec (slow: Tasks/Exec, Start, Wait, Delete)."""
        self.c.call("PodSandboxStatus", pod_sandbox_id=self.pod, timeout=10)
        self.c.call("ContainerStatus", container_id=cid, timeout=10)
        r = self.c.call("ExecSync", container_id=cid, cmd=["true"], timeout=10)
        self.assertEqual(r.exit_code, 0)

    # --- the test -----------------------------------------------------------

    def test_start_with_docker_hung(self):
        """A dockerd hung before crimpd starts delays the start by seconds,
        not by Docker's 2 minutes; containerd serves, Status says why."""
        self.proxy.hang()
        took = self.start_crimpd()
        print(f"crimpd served {took:.1f} s after its start, docker hung")
        self.assertLess(took, 15)
        st = self.c.call("Status", timeout=2).status
        ready = {c.type: c for c in st.conditions}
        self.assertFalse(ready["RuntimeReady"].status)
        self.assertIn("docker", ready["BackendReady/docker"].message)
        self.assertTrue(ready["BackendReady/containerd"].status)
        took, text = self.metrics()
        self.assertLess(took, 1.0)
        self.assertIn('crimp_backend_up{backend="docker"} 0', text)
        t = time.monotonic()
        self.c.call("ListPodSandbox", timeout=10)
        self.assertLess(time.monotonic() - t, 1.0, "docker, known down, is left out at once")
        self.proxy.resume()
        wait_for(self.runtime_ready, 10, "RuntimeReady true once dockerd answers")

    def test_stop_with_calls_stuck_on_docker(self):
        """SIGTERM with calls running on a hung dockerd and more parked
        behind them: every call is answered, crimpd exits 0 in seconds."""
        self.proxy.hang()
        self.start_crimpd()
        n = MAX_CALLS + MAX_QUEUED
        results = [None] * n
        # A client of its own: crimpd.stop() closes the usual one.
        kubelet = Client(self.crimpd.endpoint)
        self.addCleanup(kubelet.close)

        def one(i):
            results[i] = self.docker_call(60, kubelet)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        wait_for(lambda: 'crimp_backend_calls_waiting{backend="docker",lane="slow"} %d'
                 % MAX_QUEUED in self.metrics()[1], 5, "calls parked behind docker")
        t = time.monotonic()
        rc = self.crimpd.stop()
        took = time.monotonic() - t
        for th in threads:
            th.join(10)
        print(f"crimpd stopped in {took:.1f} s with {MAX_CALLS} calls stuck on docker and "
              f"{MAX_QUEUED} parked:", [(r[0].name, round(r[2], 1)) for r in results])
        self.assertEqual(rc, 0, self.crimpd.read_log()[-4000:])
        self.assertLess(took, 8)
        self.assertTrue(all(r is not None and r[0] != grpc.StatusCode.OK for r in results), results)
        self.assertTrue(all(r[2] < 15 for r in results), results)

    def test_parked_call_answered_before_its_deadline(self):
        """A call parked behind calls that outlive its deadline is answered
        by crimp (naming the backend and the wait) before the client's own
        timer fires: the expirer, asleep while nothing was parked, wakes
        for it."""
        self.proxy.hang()
        self.start_crimpd()
        time.sleep(0.5)  # the expirer is asleep by now
        running = [threading.Thread(target=self.docker_call, args=(10,)) for _ in range(MAX_CALLS)]
        for t in running:
            t.start()
        wait_for(lambda: 'crimp_backend_calls_running{backend="docker",lane="slow"} %d'
                 % MAX_CALLS in self.metrics()[1], 5, "docker's slots taken")
        code, details, secs = self.docker_call(2)
        for t in running:
            t.join(15)
        self.assertEqual(code, grpc.StatusCode.DEADLINE_EXCEEDED, details)
        self.assertIn("backend `docker`", details)
        self.assertIn("for a turn", details)
        self.assertLess(secs, 2.0)

    def test_hung_docker_leaves_containerd_metrics_and_status_alone(self):
        self.start_crimpd()
        self.assertTrue(self.runtime_ready())
        cid = self.start_containerd_pod()
        code, _, _ = self.docker_call(10)
        self.assertEqual(code, grpc.StatusCode.OK)
        self.containerd_round(cid)
        before = median_ms(lambda: self.containerd_round(cid))

        self.proxy.hang()
        hung_at = time.monotonic()
        self.watch_status()
        # More docker calls than its slots and queue hold, each with a 3 s
        # deadline, started together.
        n = MAX_CALLS + MAX_QUEUED + 3
        results = [None] * n

        def one(i):
            results[i] = self.docker_call(3)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        during = median_ms(lambda: self.containerd_round(cid))
        took, text = self.metrics()
        self.assertLess(took, 1.0, "/metrics must not wait for docker")
        self.assertIn('crimp_backend_calls_running{backend="docker",lane="slow"} %d' % MAX_CALLS,
                      text)
        self.assertIn('crimp_backend_calls_waiting{backend="docker",lane="slow"} %d' % MAX_QUEUED,
                      text)
        for t in threads:
            t.join(10)

        codes = [r[0] for r in results]
        print(f"containerd round median: {before:.1f} ms before, {during:.1f} ms during the hang; "
              f"/metrics in {took * 1000:.1f} ms")
        print("docker calls during the hang:", [(r[0].name, round(r[2], 2)) for r in results])
        refused = [r for r in results if r[0] == grpc.StatusCode.RESOURCE_EXHAUSTED]
        timed_out = [r for r in results if r[0] == grpc.StatusCode.DEADLINE_EXCEEDED]
        self.assertEqual(len(refused), n - MAX_CALLS - MAX_QUEUED, codes)
        self.assertEqual(len(timed_out), MAX_CALLS + MAX_QUEUED, codes)
        for code, details, secs in refused:
            self.assertIn("backend `docker`", details)
            self.assertLess(secs, 1.0, "a full queue refuses at once")
        for code, details, secs in timed_out:
            # crimp's own answer (naming the backend), before the client's
            # timer would have said a bare "Deadline Exceeded".
            self.assertIn("backend `docker`", details)
            self.assertLess(secs, 3.0)
            self.assertGreater(secs, 2.0)
        self.assertLess(during, before * 3 + 20,
                        f"containerd calls slowed down: {before:.1f} -> {during:.1f} ms")

        # A call without a kubelet deadline ends by the backend's
        # call_timeout: unit-tested (test_deadline).  No docker call here
        # is both live and without its own limit any more (lists and
        # statuses come from caches; a pull has its own stall timer).

        self.assertIsNotNone(self.not_ready_at, "RuntimeReady stayed true")
        print(f"RuntimeReady false {self.not_ready_at - hung_at:.1f} s after docker hung")
        self.assertLess(self.not_ready_at - hung_at, 4.0)
        # Known down, docker is left out of merged lists: containerd's pods
        # are listed at once.
        t = time.monotonic()
        pods = self.c.call("ListPodSandbox", timeout=10).items
        self.assertIn(self.pod, [p.id for p in pods])
        self.assertLess(time.monotonic() - t, 1.0)
        _, text = self.metrics()
        self.assertIn('crimp_backend_up{backend="docker"} 0', text)
        self.assertIn('crimp_backend_up{backend="containerd"} 1', text)

        self.proxy.resume()
        back_at = time.monotonic()
        wait_for(self.runtime_ready, 10, "RuntimeReady true again")
        print(f"RuntimeReady true {time.monotonic() - back_at:.1f} s after docker answered again")
        code, details, _ = self.docker_call(10)
        self.assertEqual(code, grpc.StatusCode.OK, details)
        _, text = self.metrics()
        self.assertIn('crimp_backend_up{backend="docker"} 1', text)
        self.assertIn('crimp_backend_calls_running{backend="docker",lane="slow"} 0', text)


if __name__ == "__main__":
    main()
