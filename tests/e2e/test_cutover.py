"""The cutover (issue 5): docker and containerd behind one crimpd, the
default switched while pods run, ownership and the choice surviving a crimpd
restart, on one client channel throughout."""
import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

import grpc

from crimpe2e import CRIMPCTL, PB, Client, Crimpd, bed_env, follow_events, main

BED = bed_env()
DOCKER_SOCK = BED["CRIMP_BED_DOCKER_SOCK"]
CTR = "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]


DOCKER_BACKEND = {"name": "docker", "type": "docker", "endpoint": "unix://" + DOCKER_SOCK,
                  # cri_dockerd_root "": the host's cri-dockerd checkpoints
                  # (a cri-dockerd run beside the tests) are not this bed's pods.
                  "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                              "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                              "cri_dockerd_root": ""}}


def docker_has(container_id):
    r = subprocess.run(["curl", "-fsS", "--unix-socket", DOCKER_SOCK,
                        f"http://d/containers/{container_id}/json"], capture_output=True)
    return r.returncode == 0


class Cutover(unittest.TestCase):
    def setUp(self):
        self.start_crimpd("crimp-cutover.", [
            DOCKER_BACKEND,
            {"name": "containerd", "type": "cri", "endpoint": CTR},
            {"name": "gone", "type": "cri", "endpoint": "unix:///tmp/no-such-crimp-runtime.sock"}])

    def start_crimpd(self, prefix, backends):
        """crimpd with BACKENDS (docker the default) and a client on it:
        kubelet's view, one channel for the whole test, crimpd restarts or
        not."""
        self.state = tempfile.mkdtemp(prefix=prefix)
        path = os.path.join(self.state, "crimpd.json")
        with open(path, "w") as f:
            json.dump({"default_backend": "docker", "backends": backends}, f)
        self.crimpd = Crimpd(extra=["--config", path, "--state-dir", os.path.join(self.state, "s")])
        self.crimpd.start()
        self.c = Client(self.crimpd.endpoint)
        self.direct = Client(CTR)
        self.pods = []

    def tearDown(self):
        for pod in self.pods:
            try:
                self.c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
                self.c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
            except grpc.RpcError:
                pass
        self.c.close()
        self.direct.close()
        self.crimpd.cleanup()
        shutil.rmtree(self.state, ignore_errors=True)

    def ctl(self, *args):
        return subprocess.run([CRIMPCTL, "-e", self.crimpd.endpoint, *args], capture_output=True,
                              text=True, timeout=30)

    def run_pod_with_container(self, name):
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name=name, namespace="cutover", uid=str(uuid.uuid4())),
            hostname=name, log_directory=os.path.join(self.state, "logs", name),
            linux=PB.LinuxPodSandboxConfig())
        self.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX),
                                                     sandbox_config=cfg), timeout=120)
        pod = self.c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
        self.pods.append(pod)
        ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="app"),
                                  image=PB.ImageSpec(image=BUSYBOX), command=["sleep", "300"],
                                  log_path="app.log", linux=PB.LinuxContainerConfig())
        cid = self.c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg,
                          timeout=60).container_id
        self.c.call("StartContainer", container_id=cid, timeout=60)
        return pod, cid

    def assert_listed(self, pods, containers):
        listed = {p.id: p.state for p in self.c.call("ListPodSandbox").items}
        for pod in pods:
            self.assertEqual(listed.get(pod), PB.SANDBOX_READY)
        running = {c.id: c.state for c in self.c.call("ListContainers").containers}
        for cid in containers:
            self.assertEqual(running.get(cid), PB.CONTAINER_RUNNING)

    def test_switch_default_while_pods_run(self):
        pod_a, ctr_a = self.run_pod_with_container("pod-a")
        self.assertTrue(docker_has(pod_a), "pod A should be a Docker container")

        r = self.ctl("backend", "set", "containerd")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^containerd\s+cri\s+up\b.*\*")
        r = self.ctl("backend", "drain", "docker")
        self.assertEqual(r.returncode, 0, r.stderr)
        v = self.c.call("Version")
        self.assertIn("default backend containerd: containerd", v.runtime_version)

        pod_b, ctr_b = self.run_pod_with_container("pod-b")
        self.assertFalse(docker_has(pod_b), "pod B went to Docker after the switch")
        self.assertIn(pod_b, [p.id for p in self.direct.call("ListPodSandbox").items])
        self.assert_listed([pod_a, pod_b], [ctr_a, ctr_b])

        # crimpd restarts; the channel stays; nothing kubelet sees changes.
        self.assertEqual(self.crimpd.restart(), 0)
        self.assert_listed([pod_a, pod_b], [ctr_a, ctr_b])
        self.assertIn("default backend containerd", self.c.call("Version").runtime_version)
        r = self.ctl("--json", "backend", "list")
        doc = {b["name"]: b for b in json.loads(r.stdout)["backends"]}
        self.assertEqual((doc["docker"]["pods"], doc["docker"]["containers"]), (1, 1), doc)
        self.assertEqual((doc["containerd"]["pods"], doc["containerd"]["containers"]), (1, 1))
        self.assertTrue(doc["containerd"]["default"])
        self.assertTrue(doc["docker"]["draining"])
        self.assertFalse(doc["gone"]["up"])

        # The image vanished from Docker (GC, an operator): a new container
        # in pod A is still created — crimp pulls it into A's backend.
        subprocess.run(["curl", "-fsS", "--unix-socket", DOCKER_SOCK, "-X", "DELETE",
                        "http://d/images/" + BUSYBOX.replace("/", "%2F") + "?force=1"],
                       capture_output=True, check=True)
        ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="late"),
                                  image=PB.ImageSpec(image=BUSYBOX), command=["sleep", "300"],
                                  linux=PB.LinuxContainerConfig())
        pod_a_cfg = PB.PodSandboxConfig(metadata=PB.PodSandboxMetadata(
            name="pod-a", namespace="cutover", uid="x"), linux=PB.LinuxPodSandboxConfig())
        late = self.c.call("CreateContainer", pod_sandbox_id=pod_a, config=ccfg,
                           sandbox_config=pod_a_cfg, timeout=120).container_id
        self.assertTrue(docker_has(late))

        for cid, host in ((ctr_a, "pod-a"), (ctr_b, "pod-b")):
            ex = self.c.call("ExecSync", container_id=cid, cmd=["hostname"])
            self.assertEqual(ex.stdout.decode().strip(), host)

        for pod in (pod_a, pod_b):
            self.c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
            self.c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
        self.pods = []
        self.assertFalse(docker_has(pod_a))
        self.assertNotIn(pod_b, [p.id for p in self.direct.call("ListPodSandbox").items])
        self.assertEqual(len(self.c.call("ListPodSandbox").items), 0)

    def test_switch_refusals(self):
        r = self.ctl("backend", "set", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuch", r.stderr)
        r = self.ctl("backend", "drain", "docker")  # the default
        self.assertEqual(r.returncode, 1)
        self.assertIn("default", r.stderr)
        conds = {c.type: c.status for c in self.c.call("Status").status.conditions}
        self.assertFalse(conds["BackendReady/gone"])
        self.assertTrue(conds["RuntimeReady"])
        # A backend that is down does not fail the lists.
        self.c.call("ListPodSandbox")
        self.c.call("ListContainers")

    def test_draining_default_refuses_new_pods_until_switched(self):
        self.assertEqual(self.ctl("backend", "set", "containerd").returncode, 0)
        self.assertEqual(self.ctl("backend", "drain", "docker").returncode, 0)
        # runtime_handler naming a backend picks it, even a draining one is
        # not chosen by default but may be named explicitly.
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="handler", namespace="cutover", uid=str(uuid.uuid4())),
            linux=PB.LinuxPodSandboxConfig())
        pod = self.c.call("RunPodSandbox", config=cfg, runtime_handler="docker", timeout=120).pod_sandbox_id
        self.pods.append(pod)
        self.assertTrue(docker_has(pod))


class Reload(unittest.TestCase):
    """SIGHUP adds and retires backends without a restart."""

    def write(self, backends, text=None):
        with open(self.path, "w") as f:
            f.write(text if text is not None else json.dumps({"backends": backends}))

    def names(self):
        r = subprocess.run([CRIMPCTL, "-e", self.crimpd.endpoint, "--json", "backend", "list"],
                           capture_output=True, text=True, timeout=30)
        return [b["name"] for b in json.loads(r.stdout)["backends"]]

    def hup_and_wait(self, marker):
        self.crimpd.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.crimpd.read_log().count(marker) > self.seen.get(marker, 0):
                self.seen[marker] = self.crimpd.read_log().count(marker)
                return
            time.sleep(0.05)
        self.fail(f"no {marker!r} in the log:\n{self.crimpd.read_log()}")

    def test_sighup_adds_and_retires_backends(self):
        state = tempfile.mkdtemp(prefix="crimp-reload.")
        self.path = os.path.join(state, "crimpd.json")
        self.seen = {}
        docker = DOCKER_BACKEND
        ctr = {"name": "containerd", "type": "cri", "endpoint": CTR}
        self.write([docker])
        self.crimpd = Crimpd(extra=["--config", self.path, "--state-dir", os.path.join(state, "s")])
        self.crimpd.start()
        c = Client(self.crimpd.endpoint)
        try:
            self.assertEqual(self.names(), ["docker"])
            self.write([docker, ctr])
            self.hup_and_wait("backend `containerd` (cri at")
            self.assertEqual(self.names(), ["docker", "containerd"])
            # The new backend serves at once: a pod named for it lands there.
            cfg = PB.PodSandboxConfig(metadata=PB.PodSandboxMetadata(
                name="reloaded", namespace="cutover", uid=str(uuid.uuid4())),
                linux=PB.LinuxPodSandboxConfig())
            pod = c.call("RunPodSandbox", config=cfg, runtime_handler="containerd",
                         timeout=120).pod_sandbox_id
            self.assertFalse(docker_has(pod))
            # Not retired while it owns a pod.
            self.write([docker])
            self.hup_and_wait("still owns 1 pods")
            self.assertIn("containerd", self.names())
            c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
            c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
            self.hup_and_wait("backend `containerd` retired")
            self.assertEqual(self.names(), ["docker"])
            conds = [x.type for x in c.call("Status").status.conditions]
            self.assertNotIn("BackendReady/containerd", conds)
            # A broken file changes nothing.
            self.write(None, text="{ not json")
            self.hup_and_wait("configuration not reloaded")
            self.assertEqual(self.names(), ["docker"])
            # So does a bad backend option, checked before any backend opens;
            # the log names it.
            self.write([docker, dict(ctr, options={"cgroup_driver": "fast"})])
            self.hup_and_wait("options.cgroup_driver: `fast` is not one of")
            self.assertEqual(self.names(), ["docker"])
            self.assertEqual(c.call("Version").runtime_name, "crimp")
        finally:
            c.close()
            self.crimpd.cleanup()
            shutil.rmtree(state, ignore_errors=True)


class EventsAcrossBackends(unittest.TestCase):
    """kubelet's one GetContainerEvents stream, opened before the switch,
    carries the events of both runtimes: docker and crimp's native
    containerd backend."""

    def setUp(self):
        native = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
        self.start_crimpd("crimp-events.", [
            DOCKER_BACKEND,
            {"name": "containerd", "type": "containerd", "endpoint": "unix://" + native,
             "options": {"namespace": "crimp-events-" + uuid.uuid4().hex[:6],
                         "pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                         "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"]}}])

    start_crimpd = Cutover.start_crimpd
    tearDown = Cutover.tearDown
    ctl = Cutover.ctl
    run_pod_with_container = Cutover.run_pod_with_container

    def test_one_stream_carries_both_runtimes(self):
        stream, events = follow_events(self.c)
        try:
            _, on_docker = self.run_pod_with_container("ev-docker")
            r = self.ctl("backend", "set", "containerd")
            self.assertEqual(r.returncode, 0, r.stderr)
            _, on_containerd = self.run_pod_with_container("ev-containerd")
            self.assertFalse(docker_has(on_containerd))

            def kinds(cid):
                return [e.container_event_type for e in events if e.container_id == cid]
            want = [PB.CONTAINER_CREATED_EVENT, PB.CONTAINER_STARTED_EVENT]
            deadline = time.time() + 15
            while time.time() < deadline and (kinds(on_docker)[:2] != want or
                                              kinds(on_containerd)[:2] != want):
                time.sleep(0.2)
            self.assertEqual(kinds(on_docker)[:2], want)
            self.assertEqual(kinds(on_containerd)[:2], want)
        finally:
            stream.cancel()


if __name__ == "__main__":
    main()
