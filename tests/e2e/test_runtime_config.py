"""RuntimeConfig (kubelet >= 1.31 reads the node's cgroup driver from it at
start) on each backend against the bed's real daemons, and the rule that a
node has one driver: backends that disagree are refused at start and on
SIGHUP, naming both and the fix."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest
import uuid

import grpc

from crimpe2e import PB, Crimpd, bed_env, main, wait_for

BED = bed_env()
DOCKER_SOCK = BED["CRIMP_BED_DOCKER_SOCK"]
CTR = "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]
NATIVE = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
NS = "crimp-e2e-rc"
DRIVERS = {"systemd": PB.SYSTEMD, "cgroupfs": PB.CGROUPFS}


def docker_cgroup_driver():
    out = subprocess.run(["curl", "-fsS", "--unix-socket", DOCKER_SOCK, "http://d/info"],
                         capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)["CgroupDriver"]


def host_driver():
    """The host default as crimp documents it, computed independently."""
    with open("/proc/1/comm") as f:
        systemd = f.read().strip() == "systemd"
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    return "systemd" if systemd and v2 else "cgroupfs"


def docker(name="docker"):
    return {"name": name, "type": "docker", "endpoint": "unix://" + DOCKER_SOCK,
            "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                        "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"]}}


def native(name="ctrd", **options):
    opts = {"namespace": NS, "pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
            "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"], "cni_bin_dirs": "/usr/lib/cni"}
    opts.update(options)
    return {"name": name, "type": "containerd", "endpoint": "unix://" + NATIVE, "options": opts}


def cri(name="cri", **options):
    b = {"name": name, "type": "cri", "endpoint": CTR}
    if options:
        b["options"] = options
    return b


class RuntimeConfig(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="crimp-rc.")
        self.config = os.path.join(self.dir, "crimpd.json")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, backends):
        with open(self.config, "w") as f:
            json.dump({"default_backend": backends[0]["name"], "backends": backends}, f)

    def crimpd(self, backends, wait=True):
        self.write(backends)
        d = Crimpd(extra=["--config", self.config, "--state-dir", os.path.join(self.dir, "s")])
        self.daemons.append(d)
        return d.start(wait=wait)

    def driver(self, d):
        return d.client.call("RuntimeConfig").linux.cgroup_driver

    def refused_at_start(self, backends):
        d = self.crimpd(backends, wait=False)
        self.assertNotEqual(d.wait(30), 0, "crimpd started with disagreeing drivers")
        return d.read_log()

    def test_docker_reports_dockers_driver(self):
        d = self.crimpd([docker()])
        self.assertEqual(self.driver(d), DRIVERS[docker_cgroup_driver()])

    @unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
    def test_containerd_reports_its_own_driver(self):
        d = self.crimpd([native()])
        self.assertEqual(self.driver(d), DRIVERS[host_driver()])
        self.assertIn(f"cgroup driver {host_driver()} (detected from the host)", d.read_log())
        d.cleanup()
        other = "systemd" if host_driver() == "cgroupfs" else "cgroupfs"
        d = self.crimpd([native(cgroup_driver=other)])
        self.assertEqual(self.driver(d), DRIVERS[other])

    @unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
    def test_containerd_bad_driver_refused(self):
        log = self.refused_at_start([native(cgroup_driver="systemdd")])
        self.assertIn("options.cgroup_driver: `systemdd` is not one of systemd, cgroupfs", log)

    @unittest.skipUnless(NATIVE and host_driver() == "cgroupfs", "needs a cgroupfs host")
    def test_containerd_creates_cgroups_as_it_says(self):
        """cgroupfs: the pod's cgroup is PARENT/ID under every controller;
        systemd: a cgroupfs-style parent from a kubelet on the other driver
        is refused with a clear message instead of a runc error."""
        d = self.crimpd([native(cgroup_driver="cgroupfs")])
        parent = "/crimp-e2e-rc-" + uuid.uuid4().hex[:8]
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="cg", namespace=NS, uid=str(uuid.uuid4())),
            linux=PB.LinuxPodSandboxConfig(cgroup_parent=parent))
        pod = d.client.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
        try:
            self.assertTrue(os.path.isdir(f"/sys/fs/cgroup/memory{parent}/{pod}"))
            self.assertTrue(os.path.isdir(f"/sys/fs/cgroup/pids{parent}/{pod}"))
        finally:
            d.client.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
            d.client.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
            for c in ("memory", "pids", "cpu", "cpuacct", "blkio", "devices", "freezer",
                      "cpuset", "systemd"):
                try:
                    os.rmdir(f"/sys/fs/cgroup/{c}{parent}")
                except OSError:
                    pass
        d.cleanup()
        d = self.crimpd([native(cgroup_driver="systemd")])
        with self.assertRaises(grpc.RpcError) as cm:
            d.client.call("RunPodSandbox", config=cfg, timeout=120)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn(f"cgroup_parent `{parent}` is not a systemd slice", cm.exception.details())

    @unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
    def test_containerd_systemd_driver_reaches_runc(self):
        """systemd: runc gets its systemd cgroup manager and a
        slice:prefix:id path.  Where systemd does not run the host (this
        bed), runc says it cannot use that manager — which it only says
        when crimp asked for it — and crimpd warned at start."""
        d = self.crimpd([native(cgroup_driver="systemd")])
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="sd", namespace=NS, uid=str(uuid.uuid4())),
            linux=PB.LinuxPodSandboxConfig(cgroup_parent="crimp_e2e.slice"))
        if os.path.isdir("/run/systemd/system"):
            pod = d.client.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
            try:
                self.assertTrue(os.path.isdir(
                    f"/sys/fs/cgroup/crimp_e2e.slice/crimp-{pod}.scope"))
            finally:
                d.client.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
                d.client.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
            return
        self.assertIn("cgroup driver systemd, but systemd does not run this host", d.read_log())
        with self.assertRaises(grpc.RpcError) as cm:
            d.client.call("RunPodSandbox", config=cfg, timeout=120)
        self.assertIn("cannot use systemd cgroups manager", cm.exception.details())
        self.assertEqual(list(d.client.call("ListPodSandbox").items), [])

    def test_cri_in_front_of_containerd_16_answers_from_option(self):
        """The bed's containerd (1.6) has no RuntimeConfig: crimp answers
        from the cri backend's option, and says so once in its log."""
        d = self.crimpd([cri(cgroup_driver="systemd")])
        for _ in range(3):
            self.assertEqual(self.driver(d), PB.SYSTEMD)
        log = d.read_log()
        self.assertEqual(log.count("does not implement RuntimeConfig; crimp answers cgroup driver "
                                   "systemd (options.cgroup_driver)"), 1, log)
        d.cleanup()
        d = self.crimpd([cri()])
        self.assertEqual(self.driver(d), DRIVERS[host_driver()])

    @unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
    def test_disagreeing_backends_refused_at_start(self):
        theirs = docker_cgroup_driver()
        other = "systemd" if theirs == "cgroupfs" else "cgroupfs"
        log = self.refused_at_start([docker(), native(cgroup_driver=other)])
        self.assertIn(f"backends `docker` (docker) and `ctrd` (containerd) disagree on the cgroup "
                      f"driver: `docker` uses {theirs}, `ctrd` uses {other}", log)
        self.assertIn(f"set \"cgroup_driver\": \"{theirs}\" in the options of `ctrd`", log)
        self.assertIn(f"native.cgroupdriver={other}", log)
        # The same with the cri backend's fallback answer.
        log = self.refused_at_start([docker(), cri(cgroup_driver=other)])
        self.assertIn("`docker` (docker) and `cri` (cri) disagree", log)

    @unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
    def test_disagreeing_backend_refused_on_sighup(self):
        theirs = docker_cgroup_driver()
        other = "systemd" if theirs == "cgroupfs" else "cgroupfs"
        d = self.crimpd([docker()])

        def backends():
            conds = d.client.call("Status").status.conditions
            return sorted(c.type for c in conds if c.type.startswith("BackendReady/"))
        self.write([docker(), native(cgroup_driver=other)])
        d.signal(signal.SIGHUP)
        wait_for(lambda: "configuration not reloaded" in d.read_log(), 15, "the refusal")
        log = d.read_log()
        self.assertIn("the running one is kept", log)
        self.assertIn(f"`ctrd` uses {other}", log)
        self.assertEqual(backends(), ["BackendReady/docker"])
        self.assertEqual(self.driver(d), DRIVERS[theirs])
        # Agreeing now: the backend is added.
        self.write([docker(), native(cgroup_driver=theirs)])
        d.signal(signal.SIGHUP)
        wait_for(lambda: "backend `ctrd` (containerd" in d.read_log(), 15, "the backend added")
        self.assertEqual(backends(), ["BackendReady/ctrd", "BackendReady/docker"])
        self.assertEqual(self.driver(d), DRIVERS[theirs])


if __name__ == "__main__":
    main()
