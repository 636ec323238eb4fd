"""The docker backend beside containers it did not make: a plain `docker
run` container is never touched by any RPC that takes an ID."""
import os
import shutil
import subprocess
import tempfile
import unittest

import grpc

from crimpe2e import PB, Crimpd, bed_env, main

BED = bed_env()
DOCKER_SOCK = BED["CRIMP_BED_DOCKER_SOCK"]
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]


def docker(*args, check=True):
    """The docker CLI on the bed's dockerd; its stdout."""
    out = subprocess.run(["docker", "-H", "unix://" + DOCKER_SOCK, *args], capture_output=True,
                         text=True, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {out.stderr}")
    return out.stdout.strip()


def crimpd_for_docker(state, extra_options=None):
    cfg = os.path.join(state, "crimpd.json")
    options = {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
               "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"], "cni_bin_dirs": "/usr/lib/cni"}
    options.update(extra_options or {})
    with open(cfg, "w") as f:
        import json
        json.dump({"backends": [{"name": "docker", "type": "docker",
                                 "endpoint": "unix://" + DOCKER_SOCK, "options": options}]}, f)
    return Crimpd(extra=["--config", cfg, "--state-dir", os.path.join(state, "crimp")])


class NeverTouchOthers(unittest.TestCase):
    """Every RPC that takes an ID, given a bystander's name, full ID or ID
    prefix, or a path-shaped ID: NOT_FOUND (or OK where CRI makes the call
    idempotent), and the bystander runs on untouched."""

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-adopt-e2e.")
        docker("rm", "-f", "victim", check=False)
        cls.victim = docker("run", "-d", "--name", "victim", BUSYBOX, "sleep", "600")
        cls.crimpd = crimpd_for_docker(cls.state).start()
        cls.c = cls.crimpd.client

    @classmethod
    def tearDownClass(cls):
        cls.crimpd.cleanup()
        docker("rm", "-f", "victim", check=False)
        shutil.rmtree(cls.state, ignore_errors=True)

    def bad_ids(self):
        return ["victim", self.victim, self.victim[:12], "../../v1.41/images/x",
                "..%2F..%2Fv1.41%2Fcontainers%2Fvictim", self.victim + "/../../victim", "/victim"]

    def expect(self, rpc, codes, **fields):
        try:
            self.c.call(rpc, timeout=30, **fields)
            got = grpc.StatusCode.OK
        except grpc.RpcError as e:
            got = e.code()
        self.assertIn(got, codes, f"{rpc} {fields}")

    def test_no_rpc_reaches_a_bystander(self):
        nf, ok = (grpc.StatusCode.NOT_FOUND,), (grpc.StatusCode.OK,)
        cfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="x"),
                                 image=PB.ImageSpec(image=BUSYBOX))
        pod_cfg = PB.PodSandboxConfig(metadata=PB.PodSandboxMetadata(name="x", namespace="x",
                                                                    uid="x"))
        for bad in self.bad_ids():
            with self.subTest(id=bad):
                self.expect("StopContainer", nf, container_id=bad)
                self.expect("RemoveContainer", ok, container_id=bad)
                self.expect("StartContainer", nf, container_id=bad)
                self.expect("ContainerStatus", nf, container_id=bad)
                self.expect("UpdateContainerResources", nf, container_id=bad,
                            linux=PB.LinuxContainerResources(cpu_shares=3))
                self.expect("ReopenContainerLog", nf, container_id=bad)
                self.expect("ExecSync", nf, container_id=bad, cmd=["kill", "1"])
                self.expect("Exec", nf, container_id=bad, cmd=["kill", "1"], stdout=True)
                self.expect("Attach", nf, container_id=bad, stdout=True)
                self.expect("ContainerStats", nf, container_id=bad)
                self.expect("CreateContainer", nf, pod_sandbox_id=bad, config=cfg,
                            sandbox_config=pod_cfg)
                self.expect("PodSandboxStatus", nf, pod_sandbox_id=bad)
                self.expect("PodSandboxStats", nf, pod_sandbox_id=bad)
                self.expect("PortForward", nf, pod_sandbox_id=bad, port=[80])
                self.expect("StopPodSandbox", ok, pod_sandbox_id=bad)
                self.expect("RemovePodSandbox", ok, pod_sandbox_id=bad)
        self.assertEqual(docker("inspect", "-f", "{{.State.Running}} {{.HostConfig.CpuShares}}",
                                self.victim), "true 0")
        self.assertNotIn(self.victim, [c.id for c in self.c.call("ListContainers").containers])
        self.assertNotIn(self.victim, [p.id for p in self.c.call("ListPodSandbox").items])


if __name__ == "__main__":
    main()
