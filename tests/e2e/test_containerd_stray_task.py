"""A container whose record is not running while containerd has a running
task for it (issue 18, round 79 of the fault suite): StopContainer stops
that task, RemoveContainer removes the container forcibly, and a
StartContainer that failed after Tasks/Create went out neither reports
"exited" while its task may run nor leaves the task behind.  The tasks are
real: started behind crimp's back with ctr, or made by a Tasks/Create that
the pod's shim (stopped with SIGSTOP) answers only after kubelet's
deadline.  Nothing may be left in containerd: tasks, containers, shims."""
import os
import shutil
import signal
import subprocess
import threading
import time
import unittest

import grpc

import test_containerd_backend as tcb
from crimpe2e import PB, PodTests, bed_env, main, shim_processes, wait_for

BED = bed_env()
SOCK = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
NS = "crimp-e2e-stray"


def ctr(*args):
    out = subprocess.run(["ctr", "--address", SOCK, "-n", NS, *args], capture_output=True,
                         text=True, timeout=60)
    return out


def tasks():
    """{id: status} of the tasks of the namespace, as ctr lists them."""
    lines = ctr("tasks", "ls").stdout.splitlines()[1:]
    return {f[0]: f[2] for f in (l.split() for l in lines) if len(f) >= 3}


@unittest.skipUnless(SOCK, "the bed has no CRI-less containerd")
class StrayTask(PodTests, unittest.TestCase):
    IMAGE = BED["CRIMP_BED_BUSYBOX_IMAGE"]
    RUNP_TIMEOUT = 180

    @classmethod
    def setUpClass(cls):
        cls.start_suite("crimp-stray.", lambda d: tcb.containerd_backend(d, NS))

    @classmethod
    def tearDownClass(cls):
        try:
            cls.remove_all_pods()
        finally:
            cls.crimpd.cleanup()
            shutil.rmtree(cls.state, ignore_errors=True)
        left = ctr("containers", "ls", "-q").stdout.split() + list(tasks())
        assert not left, f"left in containerd: {left}"
        wait_for(lambda: not shim_processes(NS, SOCK), 15, "the namespace's shims to end")

    def prepare_image(self):
        self.c.call("PullImage", image=PB.ImageSpec(image=self.IMAGE), timeout=180)

    def status(self, cid):
        return self.c.call("ContainerStatus", container_id=cid).status

    def start_behind_crimps_back(self, cid):
        out = ctr("tasks", "start", "-d", "--null-io", cid)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(tasks().get(cid), "RUNNING")

    def assert_removed(self, pod, cid):
        self.c.call("RemoveContainer", container_id=cid, timeout=60)
        self.assertNotIn(cid, tasks())
        self.assertNotIn(cid, ctr("containers", "ls", "-q").stdout.split())
        with self.assertRaises(grpc.RpcError) as cm:
            self.status(cid)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.remove_pod(pod)
        wait_for(lambda: not shim_processes(NS, SOCK), 15, "the pod's shim to end")

    def test_stop_kills_the_task_of_a_created_record(self):
        cfg, pod = self.run_pod("created")
        cid, _ = self.run_container(pod, cfg, "app", ["sleep", "3600"], start=False)
        self.start_behind_crimps_back(cid)
        t0 = time.monotonic()
        self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=2),
                    timeout=60)
        # `sleep` ignores nothing: SIGTERM ends it well before the 2 s grace
        self.assertLess(time.monotonic() - t0, 10)
        self.assertNotIn(cid, tasks())
        self.assertIn("is not running on record but its task runs", self.crimpd.read_log())
        self.assert_removed(pod, cid)

    def test_remove_forcibly_removes_an_exited_record_whose_task_runs(self):
        cfg, pod = self.run_pod("exited")
        # exits at its first run, sleeps at the next (its writable layer stays)
        once = "test -e /once && exec sleep 3600; touch /once; exit 3"
        cid, _ = self.run_container(pod, cfg, "app", ["sh", "-c", once])
        wait_for(lambda: self.status(cid).state == PB.CONTAINER_EXITED, 30, "the exit")
        wait_for(lambda: cid not in tasks(), 10, "the reaper's Tasks/Delete")
        self.start_behind_crimps_back(cid)
        time.sleep(0.5)
        self.assertEqual(tasks().get(cid), "RUNNING")
        self.assert_removed(pod, cid)

    def test_start_cut_short_after_tasks_create(self):
        cfg, pod = self.run_pod("cut")
        cid, _ = self.run_container(pod, cfg, "app", ["sleep", "3600"], start=False)
        shims = shim_processes(NS, SOCK)
        self.assertTrue(shims, "no shim for the pod")
        for pid in shims.values():
            os.kill(pid, signal.SIGSTOP)
        stopped = True
        try:
            with self.assertRaises(grpc.RpcError) as cm:
                self.c.call("StartContainer", container_id=cid, timeout=5)
            self.assertIn(cm.exception.code(), (grpc.StatusCode.DEADLINE_EXCEEDED,
                                                grpc.StatusCode.UNAVAILABLE))
            # crimp cannot know whether the task exists: not "exited"
            wait_for(lambda: self.status(cid).state == PB.CONTAINER_UNKNOWN, 15,
                     "the status to say unknown")
            for pid in shims.values():
                os.kill(pid, signal.SIGCONT)
            stopped = False
            # the shim makes the task now; the reaper finds and removes it
            st = wait_for(lambda: (lambda s: s if s.state == PB.CONTAINER_EXITED else None)(
                self.status(cid)), 60, "the status to say exited")
            self.assertEqual(st.reason, "StartError")
            wait_for(lambda: cid not in tasks(), 30, "the task to be removed")
        finally:
            if stopped:
                for pid in shims.values():
                    os.kill(pid, signal.SIGCONT)
        self.assertRegex(self.crimpd.read_log(), r"its task runs: killing it|task is killed",
                         "no task was made late: the test did not make the case")
        self.assert_removed(pod, cid)


if __name__ == "__main__":
    main()
