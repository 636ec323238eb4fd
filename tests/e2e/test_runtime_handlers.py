"""Status.runtime_handlers (kubelet >= 1.30 reads each handler's features):
what each backend really supports on this kernel and runc, checked against
an independent probe, and recursive read-only mounts carried out for real on
the containerd backend (a submount under a read-only volume is read-only too
only when asked), refused clearly where not supported."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

import grpc

from crimpe2e import PB, Crimpd, bed_env, main, remove_pods

BED = bed_env()
DOCKER_SOCK = BED["CRIMP_BED_DOCKER_SOCK"]
NATIVE = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
NS = "crimp-e2e-rh"


def host_has_rro():
    """Linux >= 5.12 (mount_setattr) and a runc that lists "rro"."""
    major, minor = (int(x) for x in os.uname().release.split(".")[:2])
    try:
        out = subprocess.run(["runc", "features"], capture_output=True, text=True, timeout=10)
        rro = "rro" in json.loads(out.stdout).get("mountOptions", [])
    except (OSError, ValueError):
        rro = False
    return (major, minor) >= (5, 12) and rro


def backends():
    return [{"name": "docker", "type": "docker", "endpoint": "unix://" + DOCKER_SOCK,
             "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                         "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"]}},
            {"name": "ctrd", "type": "containerd", "endpoint": "unix://" + NATIVE,
             "options": {"namespace": NS, "pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                         "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                         "cni_bin_dirs": "/usr/lib/cni"}}]


@unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
class RuntimeHandlers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="crimp-rh.", dir="/tmp")
        path = os.path.join(cls.dir, "crimpd.json")
        with open(path, "w") as f:
            json.dump({"default_backend": "docker", "backends": backends()}, f)
        cls.crimpd = Crimpd(extra=["--config", path, "--state-dir",
                                   os.path.join(cls.dir, "s")]).start()
        cls.c = cls.crimpd.client
        cls.pods = []

    @classmethod
    def tearDownClass(cls):
        remove_pods(cls.c, cls.pods)
        cls.crimpd.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_handlers_say_what_each_backend_supports(self):
        hs = {h.name: (h.features.recursive_read_only_mounts, h.features.user_namespaces)
              for h in self.c.call("Status").runtime_handlers}
        rro = host_has_rro()
        # The node's default handler is the default backend's (docker):
        # Docker API 1.41 has no recursive read-only binds; no backend maps
        # pod user namespaces.
        self.assertEqual(hs, {"": (False, False), "docker": (False, False), "ctrd": (rro, False)})

    def pod(self, handler):
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="rro-" + handler, namespace=NS,
                                           uid=str(uuid.uuid4())),
            log_directory=os.path.join(self.dir, "logs", handler),
            linux=PB.LinuxPodSandboxConfig())
        pod = self.c.call("RunPodSandbox", config=cfg, runtime_handler=handler,
                          timeout=120).pod_sandbox_id
        self.pods.append(pod)
        self.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX),
                                                     sandbox_config=cfg), timeout=120)
        return cfg, pod

    def container(self, pod, cfg, name, mount):
        ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name=name),
                                  image=PB.ImageSpec(image=BUSYBOX), command=["sleep", "300"],
                                  log_path=name + ".log", mounts=[mount],
                                  linux=PB.LinuxContainerConfig())
        cid = self.c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg,
                          sandbox_config=cfg, timeout=60).container_id
        self.c.call("StartContainer", container_id=cid, timeout=60)
        return cid

    def writable(self, cid, path):
        return self.c.call("ExecSync", container_id=cid,
                           cmd=["touch", path]).exit_code == 0

    @unittest.skipUnless(host_has_rro(), "no recursive read-only mounts on this host")
    def test_recursive_read_only_for_real_on_containerd(self):
        vol = tempfile.mkdtemp(prefix="crimp-rro.", dir="/tmp")
        sub = os.path.join(vol, "sub")
        os.mkdir(sub)
        subprocess.run(["mount", "-t", "tmpfs", "crimp-rro", sub], check=True)
        try:
            cfg, pod = self.pod("ctrd")
            plain = self.container(pod, cfg, "plain", PB.Mount(
                container_path="/data", host_path=vol, readonly=True))
            rro = self.container(pod, cfg, "rro", PB.Mount(
                container_path="/data", host_path=vol, readonly=True, recursive_read_only=True))
            # Read-only at the top either way; the submount only with rro.
            self.assertFalse(self.writable(plain, "/data/top"))
            self.assertTrue(self.writable(plain, "/data/sub/from-plain"))
            self.assertFalse(self.writable(rro, "/data/top"))
            self.assertFalse(self.writable(rro, "/data/sub/from-rro"))
            self.assertEqual(sorted(os.listdir(sub)), ["from-plain"])
            with self.assertRaises(grpc.RpcError) as cm:
                self.container(pod, cfg, "bad", PB.Mount(
                    container_path="/data", host_path=vol, readonly=False,
                    recursive_read_only=True))
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("recursive_read_only needs readonly", cm.exception.details())
        finally:
            self.c.call("StopPodSandbox", pod_sandbox_id=self.pods[-1], timeout=60)
            subprocess.run(["umount", sub], check=False)
            shutil.rmtree(vol, ignore_errors=True)

    def test_docker_refuses_recursive_read_only(self):
        cfg, pod = self.pod("docker")
        with self.assertRaises(grpc.RpcError) as cm:
            self.container(pod, cfg, "rro", PB.Mount(
                container_path="/data", host_path="/tmp", readonly=True,
                recursive_read_only=True))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("not supported by the docker backend", cm.exception.details())


if __name__ == "__main__":
    main()
