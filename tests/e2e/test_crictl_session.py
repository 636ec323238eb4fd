"""What an operator types at crimpd, with docker and containerd (native)
behind one socket: IDs shortened to a prefix, a pod or container made twice
under one name.  Each check is made over gRPC (what CI runs) and, when
crictl is installed (find_crictl), with crictl itself, as the operator would see it."""
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
NS = "crimp-e2e-session"


def find_crictl():
    """$CRIMP_CRICTL when set ("" or "none": run without crictl), else
    /tmp/bin/crictl, else crictl on PATH."""
    if "CRIMP_CRICTL" in os.environ:
        c = os.environ["CRIMP_CRICTL"]
        return c if c and os.access(c, os.X_OK) else None
    for c in ("/tmp/bin/crictl", shutil.which("crictl")):
        if c and os.access(c, os.X_OK):
            return c
    return None


CRICTL = find_crictl()


def two_backends(state_dir):
    opts = {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
            "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"], "cni_bin_dirs": "/usr/lib/cni"}
    cfg = {"default_backend": "docker", "backends": [
        {"name": "docker", "type": "docker", "endpoint": "unix://" + BED["CRIMP_BED_DOCKER_SOCK"],
         "options": dict(opts, cri_dockerd_root="")},
        {"name": "containerd", "type": "containerd",
         "endpoint": "unix://" + BED["CRIMP_BED_CONTAINERD_NATIVE_SOCK"],
         "options": dict(opts, namespace=NS, insecure_registries=[BED["CRIMP_BED_REGISTRY"]])}]}
    path = os.path.join(state_dir, "crimpd.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


@unittest.skipUnless(BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK") and
                     BED.get("CRIMP_BED_DOCKER_SOCK"), "the bed lacks dockerd or containerd")
class OperatorSession(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-session-e2e.")
        cls.crimpd = Crimpd(extra=["--config", two_backends(cls.state),
                                   "--state-dir", os.path.join(cls.state, "crimp")]).start()
        cls.c = cls.crimpd.client
        cls.pods = []

    @classmethod
    def tearDownClass(cls):
        try:
            remove_pods(cls.c, cls.pods)
            left = [p.id for p in cls.c.call("ListPodSandbox").items if p.id in cls.pods]
            assert not left, f"pods left: {left}"
        finally:
            cls.crimpd.cleanup()
            shutil.rmtree(cls.state, ignore_errors=True)

    @classmethod
    def pod_config(cls, name):
        return PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name=name, namespace="session", uid=str(uuid.uuid4())),
            log_directory=os.path.join(cls.state, "logs", name), linux=PB.LinuxPodSandboxConfig())

    def run_pod(self, name, handler):
        """A pod on backend HANDLER (a runtime_handler naming a backend
        sends the pod there)."""
        pod = self.c.call("RunPodSandbox", config=self.pod_config(name),
                          runtime_handler=handler, timeout=120).pod_sandbox_id
        self.pods.append(pod)
        return pod

    def crictl(self, *args):
        out = subprocess.run([CRICTL, "--runtime-endpoint", self.crimpd.endpoint,
                              "--image-endpoint", self.crimpd.endpoint, "--timeout", "20s",
                              *args], capture_output=True, text=True, timeout=60)
        return out.returncode, out.stdout, out.stderr

    def pods_sharing_a_prefix(self):
        """A docker pod and a containerd pod whose IDs start with the same
        hex digit (random IDs: a few pods on each side find one)."""
        seen = {"docker": {}, "containerd": {}}
        for i in range(24):
            handler = ("docker", "containerd")[i % 2]
            other = ("containerd", "docker")[i % 2]
            pod = self.run_pod(f"p{i}", handler)
            seen[handler].setdefault(pod[0], pod)
            if pod[0] in seen[other]:
                return pod[0], seen["docker"][pod[0]], seen["containerd"][pod[0]]
        self.fail("no two pods of the two backends share a first digit")

    def test_ambiguous_prefix_is_refused_naming_both_backends(self):
        """An ID prefix that starts a pod on each backend is refused (no
        backend's pod is stopped in its place); more digits pick one."""
        prefix, on_docker, on_containerd = self.pods_sharing_a_prefix()
        for method in ("PodSandboxStatus", "StopPodSandbox"):
            with self.assertRaises(grpc.RpcError) as cm:
                self.c.call(method, pod_sandbox_id=prefix, timeout=30)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, method)
            self.assertIn("ambiguous", cm.exception.details())
            self.assertIn("`docker`", cm.exception.details())
            self.assertIn("`containerd`", cm.exception.details())
        for pod in (on_docker, on_containerd):
            st = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status
            self.assertEqual(st.state, PB.SANDBOX_READY)
            # The shortest prefix no other pod of the test shares reaches it.
            n = next(i for i in range(1, 64)
                     if not any(p != pod and p.startswith(pod[:i]) for p in self.pods))
            self.assertEqual(self.c.call("PodSandboxStatus",
                                         pod_sandbox_id=pod[:n]).status.id, pod)
        # The refused prefix was not filed as an ID: still refused.
        with self.assertRaises(grpc.RpcError) as cm:
            self.c.call("PodSandboxStatus", pod_sandbox_id=prefix)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        if CRICTL:
            rc, out, err = self.crictl("stopp", prefix)
            self.assertNotEqual(rc, 0, out)
            self.assertIn("ambiguous", err)
            rc, out, _ = self.crictl("inspectp", on_containerd[:n])  # n: the loop ended on it
            self.assertEqual(rc, 0)
            self.assertEqual(json.loads(out)["status"]["id"], on_containerd)

    def test_pod_status_says_its_namespaces(self):
        """A pod.json with "linux": {} (no security_context): inspectp shows
        the pod's namespace modes (all POD), as containerd's CRI plugin
        does, not null."""
        for handler in ("docker", "containerd"):
            pod = self.run_pod("ns-" + handler, handler)
            lx = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status.linux
            self.assertTrue(lx.namespaces.HasField("options"), handler)
            self.assertEqual((lx.namespaces.options.network, lx.namespaces.options.ipc),
                             (PB.POD, PB.POD), handler)
            if CRICTL:
                rc, out, err = self.crictl("inspectp", pod)
                self.assertEqual(rc, 0, err)
                opts = json.loads(out)["status"]["linux"]["namespaces"]["options"]
                self.assertEqual(opts["network"], "POD", handler)

    @unittest.skipUnless(CRICTL, "no crictl (set CRIMP_CRICTL)")
    def test_crictl_runp_twice_is_refused_on_each_backend(self):
        """`crictl runp pod.json` twice: the second names the first pod."""
        for handler in ("docker", "containerd"):
            cfg = {"metadata": {"name": "twice-" + handler, "namespace": "session",
                                "uid": str(uuid.uuid4()), "attempt": 1},
                   "log_directory": os.path.join(self.state, "logs", "twice"), "linux": {}}
            path = os.path.join(self.state, f"pod-{handler}.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            rc, out, err = self.crictl("runp", "--runtime", handler, path)
            self.assertEqual(rc, 0, err)
            first = out.strip()
            self.pods.append(first)
            rc, out, err = self.crictl("runp", "--runtime", handler, path)
            self.assertNotEqual(rc, 0, out)
            self.pods += out.split()
            self.assertIn("AlreadyExists", err)
            self.assertIn(first, err)


if __name__ == "__main__":
    main()
