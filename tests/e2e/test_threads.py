"""crimpd's threads follow the work: no worker before the first call, as many
as calls run at once (bounded by the backend's bulkhead), none once they
have been idle for worker_idle_timeout; and calls after that still run.

The calls are PullImage (the slow lane: on a cri backend, fast-lane calls go
through without a worker) to a CRI endpoint in Python whose pulls take a
set time, which no real registry can be made to do on demand."""
import concurrent.futures
import json
import os
import shutil
import tempfile
import time
import unittest

import grpc

from crimpe2e import PB, Crimpd, SlowBackend, main, wait_for

BLOCK = 0.6    # seconds each PullImage holds its worker in the backend
IDLE = 0.5     # worker_idle_timeout
MAX_CALLS = 3  # the backend's share of the slow lane
LANE = 4       # slow_workers: the lane's most


class SlowPulls(SlowBackend):
    """SlowBackend whose PullImage also takes block_seconds."""

    def __init__(self, block_seconds):
        super().__init__(block_seconds=block_seconds)
        pull = grpc.unary_unary_rpc_method_handler(
            self._pull, PB.PullImageRequest.FromString, PB.PullImageResponse.SerializeToString)
        self.server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("runtime.v1.ImageService", {"PullImage": pull})])

    def _pull(self, req, ctx):
        time.sleep(self.block_seconds)
        return PB.PullImageResponse(image_ref="sha256:" + "0" * 64)


def thread_names(pid):
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names.append(f.read().strip())
        except FileNotFoundError:
            pass  # ended while listed
    return names


def workers(pid):
    return sum(n.startswith(("crimp-fast", "crimp-slow")) for n in thread_names(pid))


def crimp_threads(pid):
    """crimp's own threads (grpc starts and ends its own as it likes)."""
    return sorted(n for n in thread_names(pid) if n.startswith("crimp"))


class Threads(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="ct.", dir="/tmp")
        self.slow = SlowPulls(BLOCK).__enter__()
        cfg = {"workers": 8, "slow_workers": LANE, "worker_idle_timeout": IDLE,
               "backend_max_calls": MAX_CALLS,
               "backends": [{"name": "slow", "type": "cri", "endpoint": self.slow.endpoint}]}
        path = os.path.join(self.state, "crimpd.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.d = Crimpd(extra=["--config", path]).start()
        self.pid = self.d.proc.pid

    def tearDown(self):
        rc = self.d.stop()
        log = self.d.read_log()
        self.d.cleanup()
        self.slow.__exit__(None, None, None)
        shutil.rmtree(self.state, ignore_errors=True)
        self.assertEqual(rc, 0, log[-4000:])

    def pull(self):
        return self.d.client.call("PullImage", image=PB.ImageSpec(image="busybox"), timeout=30)

    def pulls(self, n):
        """N PullImage at once; the most workers seen while they ran."""
        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            futs = [ex.submit(self.pull) for _ in range(n)]
            peak = 0
            while not all(f.done() for f in futs):
                peak = max(peak, workers(self.pid))
                time.sleep(0.02)
            for f in futs:
                f.result()  # each answered
        return peak

    def test_workers_start_on_demand_and_retire_when_idle(self):
        self.d.client.call("Version", timeout=5)  # the pollers answer it
        self.assertEqual(workers(self.pid), 0, thread_names(self.pid))
        idle_threads = crimp_threads(self.pid)

        # 7 calls at once, 3 running at a time: each call that arrives while
        # no worker is idle starts one (it learns that it must wait for its
        # backend only on a worker), up to the lane's 4; never 7.
        peak = self.pulls(7)
        self.assertGreaterEqual(peak, MAX_CALLS)
        self.assertLessEqual(peak, LANE)

        wait_for(lambda: workers(self.pid) == 0, 10, "the workers to retire")
        self.assertEqual(crimp_threads(self.pid), idle_threads)
        # A call after retirement gets a new worker.
        self.assertTrue(self.pull().image_ref.startswith("sha256:"))
        wait_for(lambda: workers(self.pid) == 0, 10, "the new worker to retire")

    def test_calls_one_after_another_use_one_worker(self):
        self.slow.block_seconds = 0.05
        peak = 0
        for _ in range(10):
            self.pull()
            peak = max(peak, workers(self.pid))
        # One worker serves them all; a second at most, should a call come
        # while the first worker is still finishing its send.
        self.assertLessEqual(peak, 2)


if __name__ == "__main__":
    main()
