"""SIGTERM while crimpd is busy: `crimpctl trace` attached to the admin
socket and an exec session streaming on the streaming server, twenty times
over, with one docker pod kept across the restarts.  Each crimpd must exit
0 within its grace period and, in a sanitizer build, without any ASan or
UBSan report in its log (the follower teardown used to free a follower its
connection still pointed at).  Also SIGHUP retiring and re-adding a
backend forty times while ListContainers calls fan out to it."""
import json
import os
import shutil
import subprocess
import signal
import tempfile
import threading
import time
import unittest
import uuid

import spdyclient
from crimpe2e import CRIMPCTL, PB, Crimpd, bed_env, main

BED = bed_env()
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
ROUNDS = int(os.environ.get("CRIMP_SHUTDOWN_ROUNDS", "20"))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


class Shutdown(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-shutdown-e2e.")
        cfg = {"backends": [{"name": "docker", "type": "docker",
                             "endpoint": "unix://" + BED["CRIMP_BED_DOCKER_SOCK"],
                             "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                                         "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"]}}]}
        cls.config = os.path.join(cls.state, "crimpd.json")
        with open(cls.config, "w") as f:
            json.dump(cfg, f)
        d = cls.crimpd()
        c = d.client
        try:
            c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)),
                   timeout=120)
            cls.pod_cfg = PB.PodSandboxConfig(
                metadata=PB.PodSandboxMetadata(name="shutdown", namespace="e2e",
                                               uid=str(uuid.uuid4())),
                log_directory=os.path.join(cls.state, "logs"), linux=PB.LinuxPodSandboxConfig())
            cls.pod = c.call("RunPodSandbox", config=cls.pod_cfg, timeout=120).pod_sandbox_id
            cfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="sh"),
                                     image=PB.ImageSpec(image=BUSYBOX),
                                     command=["sleep", "3600"], linux=PB.LinuxContainerConfig())
            cls.ctr = c.call("CreateContainer", pod_sandbox_id=cls.pod, config=cfg,
                             sandbox_config=cls.pod_cfg, timeout=60).container_id
            c.call("StartContainer", container_id=cls.ctr, timeout=60)
        finally:
            d.cleanup()

    @classmethod
    def crimpd(cls):
        return Crimpd(extra=["--config", cls.config,
                             "--state-dir", os.path.join(cls.state, "s")]).start()

    @classmethod
    def tearDownClass(cls):
        d = cls.crimpd()
        try:
            d.client.call("StopPodSandbox", pod_sandbox_id=cls.pod, timeout=60)
            d.client.call("RemovePodSandbox", pod_sandbox_id=cls.pod, timeout=60)
        finally:
            d.cleanup()
            shutil.rmtree(cls.state, ignore_errors=True)

    def exec_session(self, d, seconds):
        """An exec of `sleep SECONDS` streaming on D, once its first output
        arrived."""
        url = d.client.call("Exec", PB.ExecRequest(
            container_id=self.ctr, cmd=["sh", "-c", f"echo up; exec sleep {seconds}"],
            stdout=True, stderr=True)).url
        session = spdyclient.Client(url, V4)
        ids = session.open_streams(["error", "stdout", "stderr"])
        frame = session.read_frame()
        while not (frame.stream_id == ids["stdout"] and frame.data):
            frame = session.read_frame()
        self.assertEqual(frame.data, b"up\n")
        return session

    def busy_then_sigterm(self, n):
        d = self.crimpd()
        trace = subprocess.Popen([CRIMPCTL, "-e", d.endpoint, "trace"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        session = None
        try:
            self.assertIn("following", trace.stdout.readline())
            session = self.exec_session(d, 60)
            d.client.call("ListContainers")  # something for the follower to send
            time.sleep(0.3)
            start = time.monotonic()
            code = d.stop(timeout=40)
            took = time.monotonic() - start
        finally:
            trace.kill()
            trace.wait()
            trace.stdout.close()
            if session:
                session.close()
            log = d.read_log()
            d.cleanup()
        bad = [m for m in SANITIZER_MARKS if m in log]
        self.assertEqual(bad, [], f"round {n}: sanitizer report:\n{log[-4000:]}")
        self.assertEqual(code, 0, f"round {n}: crimpd exited {code}:\n{log[-2000:]}")
        return took

    def test_sighup_retires_backend_in_use(self):
        docker = {"name": "docker", "type": "docker",
                  "endpoint": "unix://" + BED["CRIMP_BED_DOCKER_SOCK"],
                  "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                              "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"]}}
        spare = {"name": "spare", "type": "cri",
                 "endpoint": "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]}
        path = os.path.join(self.state, "reload.json")

        def write(backends):
            with open(path + ".new", "w") as f:
                json.dump({"backends": backends}, f)
            os.rename(path + ".new", path)

        write([docker, spare])
        d = Crimpd(extra=["--config", path, "--state-dir", os.path.join(self.state, "s")]).start()
        stop = threading.Event()
        errors = []

        def caller():
            while not stop.is_set():
                try:
                    d.client.call("ListContainers", timeout=10)
                except Exception as e:  # noqa: BLE001 - any failure is reported
                    errors.append(e)
                    return

        threads = [threading.Thread(target=caller) for _ in range(4)]
        try:
            for t in threads:
                t.start()
            for n in range(40):
                write([docker] if n % 2 == 0 else [docker, spare])
                d.signal(signal.SIGHUP)
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
            code = d.stop(timeout=40)
            log = d.read_log()
            d.cleanup()
        self.assertEqual(errors, [])
        self.assertGreaterEqual(log.count("backend `spare` retired"), 10, log[-2000:])
        self.assertGreaterEqual(log.count("backend `spare` back in service"), 10)
        self.assertEqual([m for m in SANITIZER_MARKS if m in log], [], log[-4000:])
        self.assertEqual(code, 0, log[-2000:])

    def test_sigterm_ends_streaming_sessions_before_freeing_backends(self):
        # A session whose client stays must not outlive its backend: crimpd
        # cuts it at shutdown, the session kills its exec through the
        # backend (still alive: the router waits for the session to let go
        # of it), and only then is the backend freed.
        d = self.crimpd()
        session = None
        try:
            session = self.exec_session(d, 61)
            code = d.stop(timeout=40)
            # The server closed the session (the client did not).
            session.sock.settimeout(10)
            with self.assertRaises(EOFError):
                for _ in range(100):
                    session.read_frame()
        finally:
            if session:
                session.close()
            log = d.read_log()
            d.cleanup()
        self.assertEqual([m for m in SANITIZER_MARKS if m in log], [], log[-4000:])
        self.assertEqual(code, 0, log[-2000:])
        self.assertIn("stream: shutting down: ending 1 streaming session", log)
        self.assertIn("exec session ended before its process: killing it", log)
        self.assertNotIn("did not end in", log)
        d = self.crimpd()
        try:
            ps = d.client.call("ExecSync", container_id=self.ctr, cmd=["ps", "-o", "args"],
                               timeout=30).stdout.decode()
        finally:
            d.cleanup()
        self.assertNotIn("sleep 61", ps, "the session's exec outlived crimpd")

    def test_sigterm_with_trace_and_exec_attached(self):
        times = [self.busy_then_sigterm(n) for n in range(ROUNDS)]
        print(f"{ROUNDS} rounds, shutdown took {min(times):.2f}-{max(times):.2f} s")


if __name__ == "__main__":
    main()
