"""SIGTERM while crimpd is busy: `crimpctl trace` attached to the admin
socket and an exec session streaming on the streaming server, twenty times
over, with one docker pod kept across the restarts.  Each crimpd must exit
0 within its grace period and, in a sanitizer build, without any ASan or
UBSan report in its log (the follower teardown used to free a follower its
connection still pointed at)."""
import json
import os
import shutil
import subprocess
import tempfile
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

    def busy_then_sigterm(self, n):
        d = self.crimpd()
        trace = subprocess.Popen([CRIMPCTL, "-e", d.endpoint, "trace"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        session = None
        try:
            self.assertIn("following", trace.stdout.readline())
            url = d.client.call("Exec", PB.ExecRequest(
                container_id=self.ctr, cmd=["sh", "-c", "echo up; exec sleep 60"],
                stdout=True, stderr=True)).url
            session = spdyclient.Client(url, V4)
            ids = session.open_streams(["error", "stdout", "stderr"])
            frame = session.read_frame()
            while not (frame.stream_id == ids["stdout"] and frame.data):
                frame = session.read_frame()
            self.assertEqual(frame.data, b"up\n")
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

    def test_sigterm_with_trace_and_exec_attached(self):
        times = [self.busy_then_sigterm(n) for n in range(ROUNDS)]
        print(f"{ROUNDS} rounds, shutdown took {min(times):.2f}-{max(times):.2f} s")


if __name__ == "__main__":
    main()
