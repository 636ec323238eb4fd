"""Files crimp opens for a container are the container's own, on the
containerd backend: images whose /etc/passwd is a symlink to a host FIFO
or to the host's /etc/shadow (built offline by the bed's dockerd and pushed
to the bed registry) make CreateContainer with a user name fail at once
with a clear INVALID_ARGUMENT — the link is resolved inside the image, so
no worker blocks on the FIFO and the host's shadow file is never parsed as
a passwd — and crimp keeps serving.  Log paths that leave the pod's log
directory are refused."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

import grpc

import test_containerd_backend as ctrd
from crimpe2e import PB, Crimpd, bed_env, main

BED = bed_env()
SOCK = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
REGISTRY = BED["CRIMP_BED_REGISTRY"]
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
HOST_FIFO = "/tmp/crimp-e2e-host-fifo"


def build_image(tag, passwd_target):
    """FROM scratch with etc/passwd a symlink to PASSWD_TARGET, pushed."""
    docker = ["docker", "-H", "unix://" + BED["CRIMP_BED_DOCKER_SOCK"]]
    with tempfile.TemporaryDirectory(prefix="crimp-evil.") as w:
        os.makedirs(os.path.join(w, "rootfs", "etc"))
        os.symlink(passwd_target, os.path.join(w, "rootfs", "etc", "passwd"))
        with open(os.path.join(w, "rootfs", "etc", "group"), "w") as f:
            f.write("root:x:0:\n")
        with open(os.path.join(w, "Dockerfile"), "w") as f:
            f.write('FROM scratch\nCOPY rootfs /\nCMD ["/pause"]\n')
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        for cmd in (docker + ["build", "-q", "-t", tag, w], docker + ["push", "-q", tag],
                    docker + ["rmi", "-f", tag]):
            subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=120)


@unittest.skipUnless(SOCK, "the bed has no CRI-less containerd")
class ContainerFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        suffix = uuid.uuid4().hex[:8]
        cls.fifo_image = f"{REGISTRY}/crimp/evil-fifo:{suffix}"
        cls.shadow_image = f"{REGISTRY}/crimp/evil-shadow:{suffix}"
        build_image(cls.fifo_image, HOST_FIFO)
        build_image(cls.shadow_image, "/etc/shadow")
        if os.path.exists(HOST_FIFO):
            os.unlink(HOST_FIFO)
        os.mkfifo(HOST_FIFO, 0o644)
        cls.state = tempfile.mkdtemp(prefix="crimp-files-e2e.")
        cls.crimpd = Crimpd(extra=["--config", ctrd.containerd_backend(cls.state),
                                   "--state-dir", os.path.join(cls.state, "crimp")]).start()
        cls.c = cls.crimpd.client
        cls.pod_cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="files", namespace="e2e", uid=str(uuid.uuid4())),
            hostname="files", log_directory=os.path.join(cls.state, "logs", "files"),
            linux=PB.LinuxPodSandboxConfig())
        cls.pod = cls.c.call("RunPodSandbox", config=cls.pod_cfg, timeout=180).pod_sandbox_id

    @classmethod
    def tearDownClass(cls):
        c = cls.c
        try:
            c.call("StopPodSandbox", pod_sandbox_id=cls.pod, timeout=60)
            c.call("RemovePodSandbox", pod_sandbox_id=cls.pod, timeout=60)
            for img in c.call("ListImages").images:
                c.call("RemoveImage", image=PB.ImageSpec(image=img.id), timeout=60)
        finally:
            code = cls.crimpd.stop()
            log = cls.crimpd.read_log()
            cls.crimpd.cleanup()
            shutil.rmtree(cls.state, ignore_errors=True)
            if os.path.exists(HOST_FIFO):
                os.unlink(HOST_FIFO)
        # No worker was left blocked: crimpd stops cleanly (and, built with
        # sanitizers, without a report).
        assert code == 0 and "Sanitizer" not in log, f"crimpd exited {code}:\n{log[-3000:]}"

    def create(self, image, user=None, log_path="c.log", timeout=30):
        self.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=image)), timeout=180)
        sc = PB.LinuxContainerSecurityContext(run_as_username=user) if user else None
        cfg = PB.ContainerConfig(
            metadata=PB.ContainerMetadata(name="c" + uuid.uuid4().hex[:6]),
            image=PB.ImageSpec(image=image), command=["/pause"], log_path=log_path,
            linux=PB.LinuxContainerConfig(security_context=sc))
        return self.c.call("CreateContainer", pod_sandbox_id=self.pod, config=cfg,
                           sandbox_config=self.pod_cfg, timeout=timeout).container_id

    def refused(self, code, needle, *args, **kw):
        start = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            self.create(*args, **kw)
        took = time.monotonic() - start
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        self.assertIn(needle, cm.exception.details())
        return took

    def test_passwd_symlink_to_host_fifo_fails_fast(self):
        # Read, the FIFO would block the call until its deadline (nobody
        # writes to it); resolved inside the image, there is no passwd.
        took = self.refused(grpc.StatusCode.INVALID_ARGUMENT, "app", self.fifo_image, user="app")
        self.assertLess(took, 20)
        # Nobody opened the host FIFO: a writer that does not block finds no reader.
        with self.assertRaises(OSError):
            os.close(os.open(HOST_FIFO, os.O_WRONLY | os.O_NONBLOCK))
        # The workers are free: a normal container is created next.
        cid = self.create(BUSYBOX, user="nobody")
        self.c.call("RemoveContainer", container_id=cid, timeout=60)

    def test_passwd_symlink_to_host_shadow_is_not_read(self):
        # The host's /etc/shadow has a "root:" line; parsed as a passwd it
        # would make root resolve (to the password-change day as uid).
        with open("/etc/shadow") as f:
            self.assertTrue(f.read().startswith("root:"))
        self.refused(grpc.StatusCode.INVALID_ARGUMENT, "root", self.shadow_image, user="root")

    def test_log_path_outside_log_directory_refused(self):
        for bad in ("../escape.log", "/tmp/crimp-e2e-abs.log", "x/../../escape.log"):
            self.refused(grpc.StatusCode.INVALID_ARGUMENT, "log_path", BUSYBOX, log_path=bad)
        self.assertFalse(os.path.exists("/tmp/crimp-e2e-abs.log"))


if __name__ == "__main__":
    main()
