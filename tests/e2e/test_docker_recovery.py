"""crimpd killed (SIGKILL) in the middle of parallel RunPodSandbox calls on the
docker backend, then started again on the same state: it serves Version and
ListPodSandbox within ~2 s whatever the recovery has to tear down (the
teardown of the half-made pods runs after the socket serves), never lists a
half-made pod, lets kubelet's retry of the same pod through, and leaks
nothing once the recovery is done (crimp-labelled containers, records, CNI
cache entries, pod IPs).  And the same when dockerd does not answer at the
restart: the recovery waits for dockerd, and no pod is made before it has
run."""
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest
import uuid

from crimpe2e import PB, Client, Crimpd, bed_env, leased_ips, main, wait_for, wait_for_socket
from test_docker_backend import DOCKER_SOCK, docker_api, docker_backend

BED = bed_env()
PODS = 8
SERVE_WITHIN_S = 2.0


def crimp_containers():
    """Names of the dockerd's containers made by crimp (its io.crimp.cri label)."""
    q = "/containers/json?all=1&filters=" + json.dumps({"label": ["io.crimp.cri"]})
    return sorted(c["Names"][0] for c in docker_api(q.replace('"', "%22")) or [])


def files(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


class HalfMadePods(unittest.TestCase):
    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="crimp-recovery.")
        self.backend_dir = os.path.join(self.state, "crimp", "backends", "docker")
        self.crimpd = Crimpd(extra=["--config", docker_backend(self.state),
                                    "--state-dir", os.path.join(self.state, "crimp")])
        self.ips_before = leased_ips(BED)
        self.assertEqual(crimp_containers(), [], "the bed's dockerd has crimp containers already")

    def tearDown(self):
        try:
            if self.crimpd.client:
                for p in self.crimpd.client.call("ListPodSandbox").items:
                    self.crimpd.client.call("StopPodSandbox", PB.StopPodSandboxRequest(pod_sandbox_id=p.id))
                    self.crimpd.client.call("RemovePodSandbox", PB.RemovePodSandboxRequest(pod_sandbox_id=p.id))
        finally:
            self.crimpd.cleanup()
            shutil.rmtree(self.state, ignore_errors=True)

    def half_made(self, pending_only=False):
        """Intents and checkpoints still marked pending: what a kill leaves."""
        n = 0 if pending_only else len(files(os.path.join(self.backend_dir, "intents")))
        sandboxes = os.path.join(self.backend_dir, "sandboxes")
        for f in files(sandboxes):
            try:
                with open(os.path.join(sandboxes, f)) as fh:
                    n += bool(json.load(fh).get("data", {}).get("pending"))
            except (OSError, ValueError):
                pass
        return n

    def kill_during_runp(self, configs):
        """PODS RunPodSandbox calls at once, crimpd SIGKILLed once
        two have a pause container and a pending checkpoint (so that the
        recovery has containers to remove); returns {name: id} of those
        that answered before."""
        made = {}

        def runp(cfg):
            try:
                r = self.crimpd.client.call("RunPodSandbox", PB.RunPodSandboxRequest(config=cfg), timeout=60)
                made[cfg.metadata.name] = r.pod_sandbox_id
            except Exception:  # the kill: UNAVAILABLE
                pass
        threads = [threading.Thread(target=runp, args=(cfg,)) for cfg in configs]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while self.half_made(pending_only=True) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        self.crimpd.proc.send_signal(signal.SIGKILL)
        self.crimpd.proc.wait()
        self.crimpd.client.close()
        self.crimpd.client = None
        self.crimpd.log.close()
        for t in threads:
            t.join()
        return made

    def kill_with_half_made_pods(self):
        """crimpd started, then killed during PODS RunPodSandbox calls;
        returns (configs, {name: id} of those answered)."""
        self.crimpd.start()
        # the pause image first: the kill must land in the pod calls
        self.crimpd.client.call("PullImage", PB.PullImageRequest(
            image=PB.ImageSpec(image=BED["CRIMP_BED_PAUSE_IMAGE"])), timeout=120)
        configs = [PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name=f"half{i}", namespace="recovery", uid=str(uuid.uuid4())),
            hostname=f"half{i}", linux=PB.LinuxPodSandboxConfig()) for i in range(PODS)]
        made = self.kill_during_runp(configs)
        self.assertGreater(self.half_made(), 0, "the kill left no half-made pod: the test proves nothing")
        return configs, made

    def restart(self):
        """crimpd again on the same state; returns its client once it serves."""
        self.crimpd.start(wait=False)
        self.assertTrue(wait_for_socket(self.crimpd.sock, 60), self.crimpd.read_log())
        self.crimpd.client = Client(self.crimpd.endpoint)
        return self.crimpd.client

    def retry_unanswered(self, c, configs, made):
        """kubelet's retries of the pods it got no answer for: same name,
        uid and attempt, while their half-made twins may still be torn down."""
        return {cfg.metadata.name: c.call("RunPodSandbox", PB.RunPodSandboxRequest(config=cfg),
                                          timeout=60).pod_sandbox_id
                for cfg in configs if cfg.metadata.name not in made}

    def assert_all_ready_then_nothing_left(self, c, expected):
        wait_for(lambda: "recovery sweep done" in self.crimpd.read_log(), 30, "the recovery sweep")
        ready = {p.id for p in c.call("ListPodSandbox", PB.ListPodSandboxRequest()).items
                 if p.state == PB.SANDBOX_READY}
        self.assertEqual(ready, expected)
        for pid in ready:
            c.call("StopPodSandbox", PB.StopPodSandboxRequest(pod_sandbox_id=pid))
            c.call("RemovePodSandbox", PB.RemovePodSandboxRequest(pod_sandbox_id=pid))

        # nothing left: the half-made pods' containers, records, CNI state
        def clean():
            return (crimp_containers() == [] and leased_ips(BED) <= self.ips_before and
                    files(os.path.join(self.backend_dir, "sandboxes")) == [] and
                    files(os.path.join(self.backend_dir, "intents")) == [] and
                    files(os.path.join(self.backend_dir, "cni-cache")) == [])
        try:
            wait_for(clean, 30, "the recovery to leave nothing")
        except AssertionError:
            self.fail(f"left: containers {crimp_containers()}, "
                      f"IPs {sorted(leased_ips(BED) - self.ips_before)}, "
                      f"records {files(os.path.join(self.backend_dir, 'sandboxes'))} "
                      f"{files(os.path.join(self.backend_dir, 'intents'))}, "
                      f"CNI cache {files(os.path.join(self.backend_dir, 'cni-cache'))}\n"
                      f"{self.crimpd.read_log()[-4000:]}")
        # a clean exit (the sanitizer builds report leaks and errors here)
        self.assertEqual(self.crimpd.stop(), 0, self.crimpd.read_log()[-4000:])

    def test_serves_at_once_then_tears_half_made_pods_down(self):
        configs, made = self.kill_with_half_made_pods()
        left = self.half_made()
        t0 = time.monotonic()
        c = self.restart()
        c.call("Version", PB.VersionRequest(), timeout=30)
        t_version = time.monotonic() - t0
        c.call("Status", PB.StatusRequest(), timeout=30)
        listed = c.call("ListPodSandbox", PB.ListPodSandboxRequest(), timeout=30).items
        t_list = time.monotonic() - t0
        print(f"{left} half-made pods left by the kill, {len(made)} answered; after the restart "
              f"Version in {t_version:.2f} s, ListPodSandbox in {t_list:.2f} s")
        self.assertLess(t_version, SERVE_WITHIN_S, self.crimpd.read_log()[-3000:])
        self.assertLess(t_list, SERVE_WITHIN_S, self.crimpd.read_log()[-3000:])
        # only pods whose RunPodSandbox answered: kubelet knows no other ID
        self.assertLessEqual({p.id for p in listed}, set(made.values()))
        retried = self.retry_unanswered(c, configs, made)
        self.assert_all_ready_then_nothing_left(c, set(made.values()) | set(retried.values()))

    def test_recovery_waits_for_a_dockerd_that_is_down_at_the_restart(self):
        configs, made = self.kill_with_half_made_pods()
        left = self.half_made()
        # crimpd comes back while dockerd does not answer: its endpoint is
        # a link to nowhere, pointed at the bed's dockerd later
        link = os.path.join(self.state, "docker.sock")
        os.symlink(os.path.join(self.state, "absent.sock"), link)
        with open(self.crimpd.args[self.crimpd.args.index("--config") + 1]) as f:
            cfg = json.load(f)
        cfg["backends"][0]["endpoint"] = "unix://" + link
        with open(self.crimpd.args[self.crimpd.args.index("--config") + 1], "w") as f:
            json.dump(cfg, f)
        c = self.restart()
        c.call("Version", PB.VersionRequest(), timeout=30)
        unanswered = [cfg for cfg in configs if cfg.metadata.name not in made]
        with self.assertRaises(Exception) as ctx:
            c.call("RunPodSandbox", PB.RunPodSandboxRequest(config=unanswered[0]), timeout=30)
        self.assertEqual(ctx.exception.code().name, "UNAVAILABLE", ctx.exception)
        self.assertIn("recovery", ctx.exception.details())
        self.assertEqual(self.half_made(), left, "records changed while dockerd was away")

        os.unlink(link)
        os.symlink(DOCKER_SOCK, link)
        # no CRI call needed: the inventory's reconnect runs the recovery
        wait_for(lambda: "recovery put off at start has run" in self.crimpd.read_log(), 30,
                 "the put-off recovery")
        listed = c.call("ListPodSandbox", PB.ListPodSandboxRequest(), timeout=30).items
        self.assertLessEqual({p.id for p in listed}, set(made.values()))
        retried = self.retry_unanswered(c, configs, made)
        self.assert_all_ready_then_nothing_left(c, set(made.values()) | set(retried.values()))

if __name__ == "__main__":
    main()
