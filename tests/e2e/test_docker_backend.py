"""The docker backend against the bed's real dockerd: pods with CNI
networking, containers whose output lands in the CRI log file, ExecSync,
cleanup that leaks no IP, and state that survives a crimpd restart."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request
import uuid

import grpc

from crimpe2e import (CRIMPCTL, PB, Crimpd, PodTests, bed_env, leased_ips, main, pod_net_prefix,
                      read_text, wait_for)

BED = bed_env()
DOCKER_SOCK = BED["CRIMP_BED_DOCKER_SOCK"]
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
RESTARTED_DAEMONS = []


def docker_api(path):
    out = subprocess.run(["curl", "-fsS", "--unix-socket", DOCKER_SOCK, "http://d" + path],
                         capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout) if out.returncode == 0 else None


def docker_backend(state_dir, conf_dir=None):
    """A crimpd config (path) with the docker backend on the bed's dockerd."""
    cfg = {"backends": [{"name": "docker", "type": "docker", "endpoint": "unix://" + DOCKER_SOCK,
                         "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                                     "cni_conf_dir": conf_dir or BED["CRIMP_BED_CNI_CONF_DIR"],
                                     "cni_bin_dirs": "/usr/lib/cni",
                                     # the suite counts pods: none of a host
                                     # cri-dockerd's (test_docker_adopt tests those)
                                     "cri_dockerd_root": ""}}]}
    path = os.path.join(state_dir, "crimpd.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def http_get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode()
    except OSError:
        return None


class DockerBackend(PodTests, unittest.TestCase):
    IMAGE = BUSYBOX
    @classmethod
    def setUpClass(cls):
        cls.start_suite("crimp-docker-e2e.", docker_backend)
        cls.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)), timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.remove_all_pods()
        cls.crimpd.cleanup()
        shutil.rmtree(cls.state, ignore_errors=True)

    def test_pod_lifecycle_networking_logs_exec(self):
        before = leased_ips(BED)
        dns = PB.DNSConfig(servers=["10.0.0.10"], searches=["svc.e2e"], options=["ndots:5"])
        cfg, pod = self.run_pod("life", dns_config=dns,
                                port_mappings=[PB.PortMapping(container_port=80, host_port=18081)])
        st = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status
        self.assertEqual(st.state, PB.SANDBOX_READY)
        self.assertTrue(st.network.ip.startswith(pod_net_prefix(BED)), st.network.ip)
        self.assertEqual(dict(st.labels), {"app": "life"})
        self.assertEqual(dict(st.annotations), {"note": "kept"})
        self.assertIn(st.network.ip, leased_ips(BED))

        cid, log = self.run_container(pod, cfg, "app",
                                      ["sh", "-c", "echo to-out; echo to-err >&2; exec sleep 300"])
        self.check_logs_and_exec(cid, log, st.network.ip)

        cs = self.c.call("ContainerStatus", container_id=cid).status
        self.assertEqual(cs.state, PB.CONTAINER_RUNNING)
        self.assertEqual(cs.log_path, log)
        self.assertTrue(cs.image_ref.startswith("sha256:"))
        listed = self.c.call("ListContainers", filter=PB.ContainerFilter(pod_sandbox_id=pod)).containers
        self.assertEqual([c.id for c in listed], [cid])

        self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=1), timeout=30)
        cs = self.c.call("ContainerStatus", container_id=cid).status
        self.assertEqual(cs.state, PB.CONTAINER_EXITED)
        self.assertNotEqual(cs.finished_at, 0)
        self.c.call("RemoveContainer", container_id=cid)
        self.c.call("RemoveContainer", container_id=cid)  # gone is fine

        self.stop_and_remove_twice(pod, ips_before=before)
        self.assertEqual(docker_api(f"/containers/json?all=1&filters=" + urllib.parse.quote(
            json.dumps({"label": {"io.kubernetes.sandbox.id=" + pod: True}}))), [])

    def test_exec_timeout_kills_the_command(self):
        cfg, pod = self.run_pod("exec-timeout")
        cid, _ = self.run_container(pod, cfg, "app", ["sleep", "300"])
        try:
            t0 = time.monotonic()
            with self.assertRaises(grpc.RpcError) as cm:
                self.c.call("ExecSync", PB.ExecSyncRequest(container_id=cid, cmd=["sleep", "77"],
                                                           timeout=1), timeout=30)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            self.assertLess(time.monotonic() - t0, 5)
            ps = self.c.call("ExecSync", container_id=cid, cmd=["ps", "-o", "args"]).stdout.decode()
            self.assertNotIn("sleep 77", ps)
        finally:
            self.remove_pod(pod)

    def test_bad_requests_get_clear_codes(self):
        def code(fn, *a, **kw):
            with self.assertRaises(grpc.RpcError) as cm:
                fn(*a, **kw)
            return cm.exception
        e = code(self.c.call, "ContainerStatus", container_id="0123456789ab")
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
        e = code(self.c.call, "PodSandboxStatus", pod_sandbox_id="0123456789ab")
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
        cfg = self.pod_config("nopod")
        e = code(self.c.call, "CreateContainer", pod_sandbox_id="0123456789ab", config=PB.ContainerConfig(
            metadata=PB.ContainerMetadata(name="x"), image=PB.ImageSpec(image=BUSYBOX)),
            sandbox_config=cfg)
        self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND)
        e = code(self.c.call, "PullImage", PB.PullImageRequest(
            image=PB.ImageSpec(image=BED["CRIMP_BED_REGISTRY"] + "/crimp/no-such-image:1")), timeout=60)
        self.assertIn(e.code(), (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNKNOWN))
        self.assertIn("no-such-image", e.details())
        # RunAsGroup without a user cannot be expressed: refused at create.
        pcfg, pod = self.run_pod("badctr")
        try:
            bad = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="x"),
                                     image=PB.ImageSpec(image=BUSYBOX),
                                     linux=PB.LinuxContainerConfig(security_context=PB.LinuxContainerSecurityContext(
                                         run_as_group=PB.Int64Value(value=5))))
            e = code(self.c.call, "CreateContainer", pod_sandbox_id=pod, config=bad, sandbox_config=pcfg)
            self.assertEqual(e.code(), grpc.StatusCode.INVALID_ARGUMENT)
        finally:
            self.remove_pod(pod)
        self.assertEqual(self.c.call("ImageStatus", image=PB.ImageSpec(image="nosuch:1")).image.id, "")

    def test_restart_keeps_pods_ips_and_logs(self):
        before = leased_ips(BED)
        cfg, pod = self.run_pod("restart")
        ip = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status.network.ip
        cid, log = self.run_container(pod, cfg, "ticker", [
            "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"])
        self.read_log(log, "tick 2")
        self.restart_crimpd()
        st = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status
        self.assertEqual(st.network.ip, ip)
        self.assertEqual([p.id for p in self.c.call("ListPodSandbox").items if p.id == pod], [pod])
        last = int(self.read_log(log, "tick").strip().splitlines()[-1].split()[-1])
        self.read_log(log, f"tick {last + 5}", timeout=15)
        ticks = [int(l.split()[-1]) for l in read_text(log).splitlines()]
        self.assertEqual(ticks, sorted(set(ticks)), "lines lost or repeated across the restart")
        self.assertEqual(ticks, list(range(ticks[0], ticks[-1] + 1)))
        self.remove_pod(pod)
        self.assertEqual(leased_ips(BED), before)

    def test_reopen_after_rotation(self):
        cfg, pod = self.run_pod("rotate")
        try:
            cid, log = self.run_container(pod, cfg, "ticker", [
                "sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done"])
            self.read_log(log, "line 3")
            os.rename(log, log + ".1")
            self.c.call("ReopenContainerLog", container_id=cid)
            self.read_log(log, "line")
            first_new = int(read_text(log).splitlines()[0].split()[-1])
            last_old = int(read_text(log + ".1").splitlines()[-1].split()[-1])
            self.assertEqual(first_new, last_old + 1)
        finally:
            self.remove_pod(pod)

    def test_stop_after_pause_died_still_releases_ip(self):
        before = leased_ips(BED)
        cfg, pod = self.run_pod("pausedied")
        ip = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status.network.ip
        self.assertIn(ip, leased_ips(BED))
        pid = docker_api(f"/containers/{pod}/json")["State"]["Pid"]
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not docker_api(f"/containers/{pod}/json")["State"]["Running"], 10, "pause to die")
        self.assertEqual(self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status.state, PB.SANDBOX_NOTREADY)
        self.remove_pod(pod)
        self.assertEqual(leased_ips(BED), before)

    def test_pod_http_server_on_pod_ip_and_host_port(self):
        cfg, pod = self.run_pod("web", port_mappings=[
            PB.PortMapping(container_port=8080, host_port=18082, host_ip="127.0.0.1")])
        try:
            self.run_container(pod, cfg, "web", [
                "sh", "-c", "mkdir -p /www && echo served-by-pod > /www/index.html && "
                            "exec httpd -f -p 8080 -h /www"])
            ip = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status.network.ip
            body = wait_for(lambda: http_get(f"http://{ip}:8080/index.html"), 10, "the pod IP")
            self.assertEqual(body, "served-by-pod\n")
            body = wait_for(lambda: http_get("http://127.0.0.1:18082/index.html"), 10, "the host port")
            self.assertEqual(body, "served-by-pod\n")
        finally:
            self.remove_pod(pod)
        self.assertIsNone(http_get("http://127.0.0.1:18082/index.html", timeout=1),
                          "the host port still forwards after the pod is gone")

    def test_exited_container_reports_code_and_reason(self):
        cfg, pod = self.run_pod("exits")
        try:
            bad, _ = self.run_container(pod, cfg, "bad", ["sh", "-c", "exit 3"])
            good, _ = self.run_container(pod, cfg, "good", ["true"])
            def exited(cid):
                st = self.c.call("ContainerStatus", container_id=cid).status
                return st if st.state == PB.CONTAINER_EXITED else None
            st = wait_for(lambda: exited(bad), 10, "the container to exit")
            self.assertEqual((st.exit_code, st.reason), (3, "Error"))
            # Docker may stamp a process that exits at once as finished a hair
            # before started; both are set, which is what kubelet reads.
            self.assertGreater(st.started_at, 0)
            self.assertGreater(st.finished_at, 0)
            st = wait_for(lambda: exited(good), 10, "the container to exit")
            self.assertEqual((st.exit_code, st.reason), (0, "Completed"))
            listed = self.c.call("ListContainers", filter=PB.ContainerFilter(
                pod_sandbox_id=pod, state=PB.ContainerStateValue(state=PB.CONTAINER_EXITED)))
            self.assertEqual(sorted(c.id for c in listed.containers), sorted([bad, good]))
        finally:
            self.remove_pod(pod)

    def restart_dockerd(self):
        """Stops the bed's dockerd and starts it again with the same command
        line (as tests/bed/up.sh started it); its containers die with it."""
        d = os.path.dirname(DOCKER_SOCK)
        with open(os.path.join(d, "dockerd.pid")) as f:
            pid = int(f.read())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode() for a in f.read().split(b"\0") if a]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.05)
        self.assertFalse(os.path.exists(f"/proc/{pid}"), "dockerd did not stop")
        log = open(os.path.join(d, "dockerd.log"), "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        RESTARTED_DAEMONS.append(p)  # it outlives the test: tests/bed/down.sh stops it
        with open(os.path.join(d, "dockerd.pid"), "w") as f:
            f.write(str(p.pid))
        wait_for(lambda: docker_api("/version"), 60, "dockerd back")

    def test_container_events_after_dockerd_restart(self):
        """GetContainerEvents keeps its stream across a dockerd restart: a
        container that died with dockerd (its die event went out after the
        stream closed) is reported STOPPED from the resync, and the
        lifecycle of a container made after the restart arrives in order."""
        stream, events = self.follow_events(180)
        cfg0, pod0 = self.run_pod("events-before")
        old, _ = self.run_container(pod0, cfg0, "old", ["sleep", "300"])
        self.restart_dockerd()
        cfg, pod = self.run_pod("events-restart")
        try:
            of = lambda c: [e.container_event_type for e in events if e.container_id == c]
            wait_for(lambda: PB.CONTAINER_STOPPED_EVENT in of(old), 20,
                     "the container that died with dockerd reported stopped")
            self.assertEqual(of(old), [PB.CONTAINER_CREATED_EVENT, PB.CONTAINER_STARTED_EVENT,
                                       PB.CONTAINER_STOPPED_EVENT])
            cid, _ = self.run_container(pod, cfg, "app", ["sleep", "300"])
            self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=0),
                        timeout=30)
            self.c.call("RemoveContainer", container_id=cid)
            mine = lambda: [e.container_event_type for e in events if e.container_id == cid]
            try:
                wait_for(lambda: len(mine()) >= 4, 20, "four events after the restart")
            except AssertionError:
                self.fail(f"events of {cid[:12]} after the restart: {mine()}")
            self.assertEqual(mine(), [PB.CONTAINER_CREATED_EVENT, PB.CONTAINER_STARTED_EVENT,
                                      PB.CONTAINER_STOPPED_EVENT, PB.CONTAINER_DELETED_EVENT])
            # The stats inventory resynced too: the pod is listed, the
            # removed container is not.
            self.assertEqual(len(self.c.call("ListContainerStats", filter=PB.ContainerStatsFilter(
                pod_sandbox_id=pod)).stats), 0)
            self.assertIn(pod, [s.attributes.id for s in
                                self.c.call("ListPodSandboxStats").stats])
        finally:
            stream.cancel()
            self.remove_pod(pod)
            self.remove_pod(pod0)

    def test_crimpctl_stats_and_events(self):
        """What an operator types: crimpctl events follows the lifecycle,
        crimpctl stats shows the running container with its memory."""
        ev = subprocess.Popen([CRIMPCTL, "-e", self.crimpd.endpoint, "events"],
                              stdout=subprocess.PIPE, text=True)
        lines = []
        threading.Thread(target=lambda: lines.extend(ev.stdout), daemon=True).start()
        cfg, pod = self.run_pod("ctl-stats")
        try:
            time.sleep(0.5)
            cid, _ = self.run_container(pod, cfg, "hog",
                                        ["sh", "-c", "x=$(head -c 3000000 /dev/zero | tr '\\0' a); sleep 300"])
            def table():
                r = subprocess.run([CRIMPCTL, "-e", self.crimpd.endpoint, "stats", "--pod", pod],
                                   capture_output=True, text=True, timeout=20)
                self.assertEqual(r.returncode, 0, r.stderr)
                rows = [l.split() for l in r.stdout.splitlines() if l.startswith(cid[:13])]
                # CONTAINER NAME CPU% MEM(value unit) ...: a row once memory is counted
                return rows[0] if rows and rows[0][3] != "0" else None
            row = wait_for(table, 20, "the container's row with its memory")
            self.assertEqual(row[1], "hog")
            self.assertIn(row[4], ("B", "KiB", "MiB", "GiB"))
            self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=0),
                        timeout=30)
            self.c.call("RemoveContainer", container_id=cid)
            mine = lambda: [l.split()[1] for l in lines if cid[:13] in l]
            wait_for(lambda: len(mine()) >= 4, 10, "four event lines")
            self.assertEqual(mine(), ["CREATED", "STARTED", "STOPPED", "DELETED"])
        finally:
            ev.terminate()
            ev.wait(timeout=10)
            ev.stdout.close()
            self.remove_pod(pod)

    def test_image_calls(self):
        imgs = self.c.call("ListImages").images
        bb = [i for i in imgs if BUSYBOX in i.repo_tags]
        self.assertEqual(len(bb), 1)
        st = self.c.call("ImageStatus", image=PB.ImageSpec(image=bb[0].id)).image
        self.assertEqual(st.id, bb[0].id)
        fs = self.c.call("ImageFsInfo").image_filesystems
        self.assertGreater(fs[0].used_bytes.value, 0)


class Measured(unittest.TestCase):
    """The recorder sees exactly the calls made, with the Docker and CNI
    calls each one caused."""

    def test_counts_and_spans_match_the_calls(self):
        state = tempfile.mkdtemp(prefix="crimp-docker-measured.")
        try:
            with Crimpd(extra=["--config", docker_backend(state),
                               "--state-dir", os.path.join(state, "crimp")]) as d:
                c = d.client
                cfg = PB.PodSandboxConfig(
                    metadata=PB.PodSandboxMetadata(name="measured", namespace="e2e",
                                                   uid=str(uuid.uuid4())),
                    port_mappings=[PB.PortMapping(container_port=80, host_port=18083)],
                    linux=PB.LinuxPodSandboxConfig())
                pod = c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
                for _ in range(3):
                    c.call("PodSandboxStatus", pod_sandbox_id=pod)
                c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
                c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
                out = subprocess.run(["curl", "-fsS", "--unix-socket", d.admin,
                                      "http://crimp/v1/latency"], capture_output=True, text=True)
                series = {(x["method"], x["backend"], x["code"]): x["count"]
                          for x in json.loads(out.stdout)["calls"]}
                self.assertEqual(series[("RunPodSandbox", "docker", "OK")], 1)
                self.assertEqual(series[("PodSandboxStatus", "docker", "OK")], 3)
                self.assertEqual(series[("StopPodSandbox", "docker", "OK")], 1)
                self.assertEqual(series[("RemovePodSandbox", "docker", "OK")], 1)
                out = subprocess.run(["curl", "-fsS", "--unix-socket", d.admin,
                                      "http://crimp/v1/calls?limit=50"], capture_output=True,
                                     text=True)
                run = [x for x in json.loads(out.stdout) if x["method"] == "RunPodSandbox"][0]
                names = [sp["name"] for sp in run["spans"]]
                for want in ("POST /containers/create", "POST /containers/{id}/start",
                             "GET /containers/{id}/json", "loopback ADD", "bridge ADD",
                             "portmap ADD"):
                    self.assertIn(want, names)
                self.assertTrue(all(sp["backend"] == "docker" for sp in run["spans"]))
                self.assertLessEqual(sum(sp["duration_us"] for sp in run["spans"] if sp["depth"] == 0),
                                     run["duration_us"])
                stop = [x for x in json.loads(out.stdout) if x["method"] == "StopPodSandbox"][0]
                self.assertIn("bridge DEL", [sp["name"] for sp in stop["spans"]])
        finally:
            shutil.rmtree(state, ignore_errors=True)


class NetworkNotReady(unittest.TestCase):
    def test_status_says_why_and_runp_refuses(self):
        state = tempfile.mkdtemp(prefix="crimp-docker-nonet.")
        empty = os.path.join(state, "empty-net.d")
        os.mkdir(empty)
        try:
            with Crimpd(extra=["--config", docker_backend(state, conf_dir=empty),
                               "--state-dir", os.path.join(state, "crimp")]) as d:
                conds = {c.type: c for c in d.client.call("Status").status.conditions}
                self.assertFalse(conds["NetworkReady"].status)
                self.assertIn("cni config uninitialized", conds["NetworkReady"].message)
                cfg = PB.PodSandboxConfig(metadata=PB.PodSandboxMetadata(
                    name="x", namespace="e2e", uid=str(uuid.uuid4())), linux=PB.LinuxPodSandboxConfig())
                with self.assertRaises(grpc.RpcError) as cm:
                    d.client.call("RunPodSandbox", config=cfg)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
                self.assertEqual(len(d.client.call("ListPodSandbox").items), 0)
        finally:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
