"""Idle containerd shims in crimp's namespace are ended by the containerd
backend: real shims are made the way containerd makes them
(`containerd-shim-runc-v2 ... start` in a bundle directory) but for no
container, as containerd 1.6 leaks them when a Tasks/Create or Tasks/Delete
is cancelled; crimpd must end them at start, after containerd restarts and
after a container is removed, and leave alone the shims of its running pod
and those of another namespace."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import test_containerd_backend as tcb
from crimpe2e import PB, PodTests, bed_env, main, shim_processes, wait_for

BED = bed_env()
SOCK = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
NS = "crimp-e2e-shims"
OTHER_NS = "crimp-e2e-shims-other"


def shims(ns):
    """{id: pid} of the live shims of namespace NS on the bed's containerd."""
    return shim_processes(ns, SOCK)


def make_orphan_shim(ns):
    """A real shim for a task that never existed: its ID, pid, bundle dir."""
    shim_id = os.urandom(32).hex()
    bundle = tempfile.mkdtemp(prefix="crimp-shim-bundle.")
    with open(os.path.join(bundle, "config.json"), "w") as f:
        f.write("{}")
    os.mkfifo(os.path.join(bundle, "log"))  # containerd reads the shim's log from it
    reader = os.open(os.path.join(bundle, "log"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        out = subprocess.run(["containerd-shim-runc-v2", "-namespace", ns, "-id", shim_id,
                              "-address", SOCK, "start"], cwd=bundle, capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: shim_id in shims(ns), 10, "the shim to run")
    finally:
        os.close(reader)
    return shim_id, shims(ns)[shim_id], bundle


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@unittest.skipUnless(SOCK, "the bed has no CRI-less containerd")
class ShimSweep(PodTests, unittest.TestCase):
    IMAGE = BED["CRIMP_BED_BUSYBOX_IMAGE"]
    RUNP_TIMEOUT = 180

    @classmethod
    def setUpClass(cls):
        cls.start_suite("crimp-shim-sweep.", lambda d: tcb.containerd_backend(d, NS))
        cls.bundles = []

    @classmethod
    def tearDownClass(cls):
        try:
            cls.remove_all_pods()
        finally:
            cls.crimpd.cleanup()
            for pid in shims(OTHER_NS).values():
                os.kill(pid, 9)
            for b in cls.bundles:
                shutil.rmtree(b, ignore_errors=True)
            shutil.rmtree(cls.state, ignore_errors=True)

    def prepare_image(self):
        self.c.call("PullImage", image=PB.ImageSpec(image=self.IMAGE), timeout=180)

    def orphan(self, ns=NS):
        shim_id, pid, bundle = make_orphan_shim(ns)
        self.bundles.append(bundle)
        return shim_id, pid

    def running_pod(self, name):
        cfg, pod = self.run_pod(name)
        self.run_container(pod, cfg, "app", ["sleep", "3600"])
        pod_shims = shims(NS)
        self.assertTrue(pod_shims, "no shim for the pod")
        return pod, pod_shims

    @staticmethod
    def settle():
        """Lets the sweeps crimpd has queued run (its second recovery pass
        5 s after start, the one 2 s after a container's deletion), so that
        an orphan made now is ended by the step the test takes next."""
        time.sleep(6)

    def assert_swept(self, pid, shim_id, within):
        wait_for(lambda: not pid_alive(pid), within, f"shim {pid} to be ended")
        line = rf"shim pid {pid} of {shim_id[:12]} had no container, task or child: ended"
        # crimpd logs once the shim is seen gone: a moment after this test saw it
        wait_for(lambda: re.search(line, self.crimpd.read_log()), 5, f"the log line: {line}")

    def test_orphans_ended_at_start_pod_and_other_namespace_untouched(self):
        pod, pod_shims = self.running_pod("keep")
        self.assertEqual(self.crimpd.stop(), 0)
        self.crimpd.cleanup()
        orphans = [self.orphan() for _ in range(2)]  # while crimpd is down
        other_id, other_pid = self.orphan(OTHER_NS)
        type(self).crimpd = self.start_crimpd()
        type(self).c = self.crimpd.client
        for shim_id, pid in orphans:
            self.assert_swept(pid, shim_id, 15)
        self.assertEqual(shims(NS), pod_shims)  # the pod's shims: same IDs, same pids
        self.assertTrue(pid_alive(other_pid), "another namespace's shim was touched")
        st = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status
        self.assertEqual(st.state, PB.SANDBOX_READY)
        self.remove_pod(pod)

    def test_orphan_ended_after_containerd_restart(self):
        self.settle()
        shim_id, pid = self.orphan()
        time.sleep(3)
        self.assertTrue(pid_alive(pid), "ended before containerd restarted")
        tcb.restart_containerd()
        self.assert_swept(pid, shim_id, 30)

    def test_orphan_ended_after_a_container_is_removed(self):
        pod, _ = self.running_pod("remove")
        self.settle()
        shim_id, pid = self.orphan()
        time.sleep(1)
        self.assertTrue(pid_alive(pid))
        self.remove_pod(pod)
        self.assert_swept(pid, shim_id, 15)
        wait_for(lambda: not shims(NS), 15, "every shim of the namespace to end")


# PodTests' checks of a backend run in test_containerd_backend: this suite
# only borrows its pod helpers.
for _name in [n for n in dir(PodTests) if n.startswith("test_")]:
    setattr(ShimSweep, _name, None)

if __name__ == "__main__":
    main()
