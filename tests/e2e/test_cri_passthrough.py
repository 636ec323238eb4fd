"""The cri backend: a whole pod lifecycle through crimpd to containerd's own
CRI plugin in the test bed.  The container really runs: its log line lands in
the CRI log file, ExecSync runs in it, the pod has an address from CNI."""
import os
import shutil
import tempfile
import time
import unittest
import uuid

import grpc

from crimpe2e import PB, Client, Crimpd, bed_env, main, pod_net_prefix

BED = bed_env()
CTR = "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]


class PodLifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.crimpd = Crimpd(backends=[f"ctr=cri:{CTR}"]).start()
        cls.c = cls.crimpd.client
        cls.direct = Client(CTR)
        cls.logdir = tempfile.mkdtemp(prefix="crimp-e2e-logs.")

    @classmethod
    def tearDownClass(cls):
        # Whatever a failed test left: gone through the runtime itself.
        for p in cls.direct.call("ListPodSandbox").items:
            if p.metadata.namespace.startswith("crimp-e2e"):
                cls.direct.call("StopPodSandbox", pod_sandbox_id=p.id)
                cls.direct.call("RemovePodSandbox", pod_sandbox_id=p.id)
        cls.direct.close()
        cls.crimpd.cleanup()
        shutil.rmtree(cls.logdir, ignore_errors=True)

    def pod_config(self, name):
        return PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name=name, namespace="crimp-e2e", uid=str(uuid.uuid4())),
            hostname=name, log_directory=os.path.join(self.logdir, name),
            labels={"app": name}, annotations={"crimp.test/a": "1"},
            linux=PB.LinuxPodSandboxConfig())

    def test_pod_lifecycle(self):
        self.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)), timeout=120)
        st = self.c.call("ImageStatus", image=PB.ImageSpec(image=BUSYBOX))
        self.assertTrue(st.image.id)

        cfg = self.pod_config("lifecycle")
        pod = self.c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
        ps = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status
        self.assertEqual(ps.state, PB.SANDBOX_READY)
        self.assertTrue(ps.network.ip.startswith(pod_net_prefix(BED)), ps.network.ip)
        self.assertEqual(ps.labels["app"], "lifecycle")

        ccfg = PB.ContainerConfig(
            metadata=PB.ContainerMetadata(name="c1"), image=PB.ImageSpec(image=BUSYBOX),
            command=["sh", "-c", "echo crimp-was-here; exec sleep 300"], log_path="c1.log",
            linux=PB.LinuxContainerConfig())
        cid = self.c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg,
                          sandbox_config=cfg, timeout=60).container_id
        self.c.call("StartContainer", container_id=cid, timeout=60)

        log = os.path.join(cfg.log_directory, "c1.log")
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline and "crimp-was-here" not in text:
            time.sleep(0.1)
            text = open(log).read() if os.path.exists(log) else ""
        self.assertRegex(text, r"^\S+ stdout F crimp-was-here$")

        ex = self.c.call("ExecSync", container_id=cid, cmd=["sh", "-c", "echo out; echo err >&2; exit 3"],
                         timeout=30)
        self.assertEqual((ex.stdout, ex.stderr, ex.exit_code), (b"out\n", b"err\n", 3))

        ids = [c.id for c in self.c.call("ListContainers").containers]
        self.assertIn(cid, ids)
        self.assertEqual(self.c.call("ContainerStatus", container_id=cid).status.state,
                         PB.CONTAINER_RUNNING)

        self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=2), timeout=30)
        self.assertEqual(self.c.call("ContainerStatus", container_id=cid).status.state,
                         PB.CONTAINER_EXITED)
        self.c.call("RemoveContainer", container_id=cid)
        self.c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
        self.c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)  # idempotent
        self.c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
        with self.assertRaises(grpc.RpcError) as cm:
            self.c.call("PodSandboxStatus", pod_sandbox_id=pod)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_streaming_url_returned_as_backend_gave_it(self):
        cfg = self.pod_config("stream")
        pod = self.c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
        try:
            r = self.c.call("PortForward", pod_sandbox_id=pod, port=[80])
            self.assertRegex(r.url, r"^http://127\.0\.0\.1:\d+/portforward/")
        finally:
            self.c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
            self.c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)

    def test_list_filters_pass_through(self):
        r = self.c.call("ListPodSandbox", filter=PB.PodSandboxFilter(
            label_selector={"app": "no-such-app-anywhere"}))
        self.assertEqual(len(r.items), 0)


if __name__ == "__main__":
    main()
