"""CNI DEL when crimp's CNI cache entry of a pod is gone (its state dir was
lost, or another crimpd made the pod): StopPodSandbox still runs DEL, from
the current network config, and host-local frees the pod's address (its
file leaves host-local's dataDir).  On Docker also when the whole backend
state (the sandbox checkpoint too) is gone: the pause container's labels
stand in for it."""
import os
import shutil
import tempfile
import unittest

from crimpe2e import PB, Crimpd, PodTests, bed_env, leased_ips, main
from test_containerd_backend import SOCK as CTRD_SOCK, containerd_backend
from test_docker_backend import docker_backend

BED = bed_env()
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]


class Pods:
    IMAGE = BUSYBOX
    RUNP_TIMEOUT = PodTests.RUNP_TIMEOUT
    pod_config = PodTests.pod_config
    run_pod = PodTests.run_pod

    @classmethod
    def start(cls, config):
        cls.state = tempfile.mkdtemp(prefix="crimp-cnidel-e2e.")
        cls.logdir = os.path.join(cls.state, "logs")
        cls.crimpd = Crimpd(extra=["--config", config(cls.state),
                                   "--state-dir", os.path.join(cls.state, "crimp")]).start()
        cls.c = cls.crimpd.client

    @classmethod
    def tearDownClass(cls):
        for p in cls.c.call("ListPodSandbox").items:
            cls.c.call("StopPodSandbox", pod_sandbox_id=p.id, timeout=60)
            cls.c.call("RemovePodSandbox", pod_sandbox_id=p.id, timeout=60)
        cls.crimpd.cleanup()
        shutil.rmtree(cls.state, ignore_errors=True)

    def backend_state(self):
        return os.path.join(self.state, "crimp", "backends", self.BACKEND)

    def stop_releases_ip(self, name, lose):
        before = leased_ips(BED)
        _, pod = self.run_pod(name)
        ip = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status.network.ip
        self.assertIn(ip, leased_ips(BED) - before)
        lose(pod)
        self.c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
        self.assertNotIn(ip, leased_ips(BED), "host-local still holds the pod's address")
        self.c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)

    def lose_cache_entry(self, pod):
        entry = os.path.join(self.backend_state(), "cni-cache", pod + "-eth0")
        self.assertTrue(os.path.exists(entry), entry)
        os.unlink(entry)

    def test_stop_without_cache_entry_frees_the_ip(self):
        self.stop_releases_ip("cni-no-cache", self.lose_cache_entry)


class Docker(Pods, unittest.TestCase):
    BACKEND = "docker"

    @classmethod
    def setUpClass(cls):
        cls.start(docker_backend)
        cls.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)), timeout=120)

    def test_stop_without_any_state_frees_the_ip(self):
        def lose_all(pod):
            shutil.rmtree(os.path.join(self.backend_state(), "cni-cache"))
            os.unlink(os.path.join(self.backend_state(), "sandboxes", pod))
        self.stop_releases_ip("cni-no-state", lose_all)


@unittest.skipUnless(CTRD_SOCK, "the bed has no CRI-less containerd")
class Containerd(Pods, unittest.TestCase):
    BACKEND = "containerd"
    RUNP_TIMEOUT = 180

    @classmethod
    def setUpClass(cls):
        cls.start(lambda state: containerd_backend(state, "crimp-e2e-cnidel"))

    @classmethod
    def tearDownClass(cls):
        for img in cls.c.call("ListImages").images:
            cls.c.call("RemoveImage", image=PB.ImageSpec(image=img.id), timeout=60)
        super().tearDownClass()


if __name__ == "__main__":
    main()
