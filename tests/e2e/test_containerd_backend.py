"""The containerd backend against the bed's second containerd, whose CRI
plugin is disabled: crimp pulls from the bed registry through the native
content/images/snapshots API, runs pods (netns + CNI by crimp) and
containers (tasks, FIFOs, CRI log files written by crimp), ExecSync, and
survives crimpd and containerd restarts; nothing is left behind."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

import grpc

import spdyclient
from crimpe2e import (PB, PodTests, bed_env, leased_ips, main, pod_net_prefix, read_text,
                      wait_for, wait_for_socket)

BED = bed_env()
SOCK = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
PAUSE = BED["CRIMP_BED_PAUSE_IMAGE"]
NS = "crimp-e2e"
V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
ECHO = ["sh", "-c", "echo ready; while read l; do echo got:$l; done"]


def ctr(*args):
    out = subprocess.run(["ctr", "--address", SOCK, "-n", NS, *args], capture_output=True,
                         text=True, timeout=60)
    return out.stdout


def containerd_backend(state_dir, namespace=NS):
    cfg = {"backends": [{"name": "containerd", "type": "containerd", "endpoint": "unix://" + SOCK,
                         "options": {"namespace": namespace, "pause_image": PAUSE,
                                     "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                                     "cni_bin_dirs": "/usr/lib/cni",
                                     "registry_config_path": os.path.join(state_dir, "certs.d")}}]}
    path = os.path.join(state_dir, "crimpd.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def restart_containerd():
    """SIGTERM the bed's native containerd and start it again: the shims
    and the tasks they run survive, as on a real node."""
    d = os.path.dirname(SOCK)
    with open(os.path.join(d, "containerd.pid")) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
        time.sleep(0.05)
    log = open(os.path.join(d, "containerd.log"), "ab")
    p = subprocess.Popen(["containerd", "--config", os.path.join(d, "config.toml")],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    with open(os.path.join(d, "containerd.pid"), "w") as f:
        f.write(str(p.pid))
    assert wait_for_socket(SOCK, 30), "containerd did not come back"


@unittest.skipUnless(SOCK, "the bed has no CRI-less containerd")
class ContainerdBackend(PodTests, unittest.TestCase):
    IMAGE = BUSYBOX
    RUNP_TIMEOUT = 180

    def prepare_image(self):
        self.pull(BUSYBOX)

    @classmethod
    def setUpClass(cls):
        cls.ips_before = leased_ips(BED)
        cls.start_suite("crimp-ctrd-e2e.", containerd_backend)

    @classmethod
    def tearDownClass(cls):
        cls.remove_all_pods()
        c = cls.crimpd.client
        for img in c.call("ListImages").images:
            c.call("RemoveImage", image=PB.ImageSpec(image=img.id), timeout=60)
        cls.crimpd.cleanup()
        try:
            left = ctr("containers", "ls", "-q").split() + ctr("tasks", "ls", "-q").split()
            assert not left, f"left in containerd: {left}"
            assert leased_ips(BED) == cls.ips_before, "IPs left leased"
        finally:
            shutil.rmtree(cls.state, ignore_errors=True)

    def pull(self, image):
        return self.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=image)),
                           timeout=180).image_ref

    def status(self, cid):
        return self.c.call("ContainerStatus", container_id=cid).status

    def test_1_pull_status_list(self):
        ref = self.pull(BUSYBOX)
        self.assertTrue(ref.startswith("sha256:"), ref)
        st = self.c.call("ImageStatus", image=PB.ImageSpec(image=BUSYBOX)).image
        self.assertEqual(st.id, ref)
        self.assertIn(BUSYBOX, st.repo_tags)
        self.assertGreater(st.size, 0)
        self.assertEqual(self.c.call("ImageStatus", image=PB.ImageSpec(image=ref[:19])).image.id, ref)
        ids = [i.id for i in self.c.call("ListImages").images]
        self.assertIn(ref, ids)
        self.assertEqual(self.pull(BUSYBOX), ref)  # warm
        with self.assertRaises(grpc.RpcError) as cm:
            self.pull(BED["CRIMP_BED_REGISTRY"] + "/crimp/nosuch:1")
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        # containerd itself holds the image record and the unpacked layers.
        self.assertIn(BUSYBOX, ctr("images", "ls", "-q").split())
        fs = self.c.call("ImageFsInfo").image_filesystems
        self.assertGreater(fs[0].used_bytes.value, 0)

    def test_pull_through_a_mirror_from_hosts_toml(self):
        """containerd's registry host files are read at pull time: a name
        whose registry does not exist pulls through the mirror its
        hosts.toml lists (the bed registry, plain HTTP), after a dead
        mirror listed before it; without the file the same pull fails."""
        name = "mirror-e2e.invalid/crimp/busybox:1.35"
        spec = PB.ImageSpec(image=name)
        with self.assertRaises(grpc.RpcError) as cm:
            self.c.call("PullImage", PB.PullImageRequest(image=spec), timeout=120)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE, cm.exception.details())
        host_dir = os.path.join(self.state, "certs.d", "mirror-e2e.invalid")
        os.makedirs(host_dir, exist_ok=True)
        with open(os.path.join(host_dir, "hosts.toml"), "w") as f:
            f.write('server = "https://mirror-e2e.invalid"\n'
                    '[host."http://127.0.0.1:1"]\n'
                    '  capabilities = ["pull", "resolve"]\n'
                    f'[host."http://{BED["CRIMP_BED_REGISTRY"]}"]\n'
                    '  capabilities = ["pull", "resolve"]\n')
        try:
            self.c.call("PullImage", PB.PullImageRequest(image=spec), timeout=120)
            self.assertIn(name, self.c.call("ImageStatus", image=spec).image.repo_tags)
        finally:
            shutil.rmtree(host_dir)
            # The same image as the bed's busybox: RemoveImage takes all
            # its names, so the suite's image is pulled back.
            self.c.call("RemoveImage", image=spec)
            self.pull(BUSYBOX)

    def test_pod_lifecycle_networking_logs_exec(self):
        before = leased_ips(BED)
        dns = PB.DNSConfig(servers=["10.0.0.10"], searches=["svc.e2e"], options=["ndots:5"])
        cfg, pod = self.run_pod("life", dns_config=dns)
        st = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status
        self.assertEqual(st.state, PB.SANDBOX_READY)
        self.assertTrue(st.network.ip.startswith(pod_net_prefix(BED)), st.network.ip)
        self.assertEqual(dict(st.labels), {"app": "life"})
        self.assertEqual(dict(st.annotations), {"note": "kept"})
        self.assertIn(st.network.ip, leased_ips(BED))
        self.assertIn(pod, ctr("tasks", "ls", "-q").split())

        cid, log = self.run_container(pod, cfg, "app",
                                      ["sh", "-c", "echo to-out; echo to-err >&2; exec sleep 300"])
        self.check_logs_and_exec(cid, log, st.network.ip)
        # The pod's pid namespace: pid 1 is the pause process.
        ex = self.c.call("ExecSync", container_id=cid, cmd=["cat", "/proc/1/cmdline"])
        self.assertEqual(ex.stdout, b"/pause\x00")

        cs = self.status(cid)
        self.assertEqual(cs.state, PB.CONTAINER_RUNNING)
        self.assertEqual(cs.log_path, log)
        self.assertTrue(cs.image_ref.startswith("sha256:"))
        listed = self.c.call("ListContainers", filter=PB.ContainerFilter(pod_sandbox_id=pod)).containers
        self.assertEqual([c.id for c in listed], [cid])

        self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=2), timeout=30)
        cs = self.status(cid)
        self.assertEqual(cs.state, PB.CONTAINER_EXITED)
        self.assertNotEqual(cs.finished_at, 0)
        self.c.call("RemoveContainer", container_id=cid)
        self.c.call("RemoveContainer", container_id=cid)  # gone is fine
        self.assertNotIn(cid, ctr("containers", "ls", "-q").split())

        self.stop_and_remove_twice(pod, ips_before=before)
        self.assertNotIn(pod, ctr("containers", "ls", "-q").split())

    def test_exit_code_reason_and_sigterm_ignored(self):
        cfg, pod = self.run_pod("exits")
        try:
            ok, _ = self.run_container(pod, cfg, "ok", ["true"])
            bad, _ = self.run_container(pod, cfg, "bad", ["sh", "-c", "exit 3"])
            wait_for(lambda: self.status(ok).state == PB.CONTAINER_EXITED, 10, "ok to exit")
            wait_for(lambda: self.status(bad).state == PB.CONTAINER_EXITED, 10, "bad to exit")
            self.assertEqual((self.status(ok).exit_code, self.status(ok).reason), (0, "Completed"))
            self.assertEqual((self.status(bad).exit_code, self.status(bad).reason), (3, "Error"))
            stubborn, _ = self.run_container(pod, cfg, "stubborn",
                                             ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"])
            t0 = time.monotonic()
            self.c.call("StopContainer", PB.StopContainerRequest(container_id=stubborn, timeout=1),
                        timeout=30)
            self.assertLess(time.monotonic() - t0, 8)
            self.assertEqual(self.status(stubborn).exit_code, 137)
        finally:
            self.remove_pod(pod)

    def test_exec_timeout_kills_the_command(self):
        cfg, pod = self.run_pod("exec-timeout")
        try:
            cid, _ = self.run_container(pod, cfg, "app", ["sleep", "300"])
            t0 = time.monotonic()
            with self.assertRaises(grpc.RpcError) as cm:
                self.c.call("ExecSync", PB.ExecSyncRequest(container_id=cid, cmd=["sleep", "77"],
                                                           timeout=1), timeout=30)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            self.assertLess(time.monotonic() - t0, 8)
            ps = self.c.call("ExecSync", container_id=cid, cmd=["ps"]).stdout.decode()
            self.assertNotIn("sleep 77", ps)
        finally:
            self.remove_pod(pod)

    def test_bad_requests_get_clear_codes(self):
        def code(rpc, **kw):
            with self.assertRaises(grpc.RpcError) as cm:
                self.c.call(rpc, **kw)
            return cm.exception.code()
        self.assertEqual(code("ContainerStatus", container_id="nosuch"), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(code("StartContainer", container_id="nosuch"), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(code("PodSandboxStatus", pod_sandbox_id="nosuch"), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(code("ExecSync", container_id="nosuch", cmd=["true"]),
                         grpc.StatusCode.NOT_FOUND)
        cfg, pod = self.run_pod("bad")
        try:
            bad = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="x"),
                                     image=PB.ImageSpec(image=BED["CRIMP_BED_REGISTRY"] + "/crimp/absent:1"))
            self.assertEqual(code("CreateContainer", pod_sandbox_id=pod, config=bad,
                                  sandbox_config=cfg), grpc.StatusCode.NOT_FOUND)
            cid, _ = self.run_container(pod, cfg, "created", ["true"], start=False)
            self.assertEqual(code("ExecSync", container_id=cid, cmd=["true"]),
                             grpc.StatusCode.FAILED_PRECONDITION)
        finally:
            self.remove_pod(pod)

    def test_restarts_of_crimpd_and_containerd(self):
        cfg, pod = self.run_pod("restart")
        try:
            cid, log = self.run_container(pod, cfg, "app",
                                          ["sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done"])
            self.read_log(log, "tick 2")
            ip = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status.network.ip
            self.restart_crimpd()
            st = self.c.call("PodSandboxStatus", pod_sandbox_id=pod).status
            self.assertEqual((st.state, st.network.ip), (PB.SANDBOX_READY, ip))
            self.assertEqual(self.status(cid).state, PB.CONTAINER_RUNNING)
            n = read_text(log).count("tick")
            self.read_log(log, f"tick {n + 3}")  # the log copier resumed
            restart_containerd()
            self.assertEqual(self.c.call("ExecSync", container_id=cid, cmd=["echo", "hi"],
                                         timeout=30).stdout, b"hi\n")
            self.c.call("StopContainer", PB.StopContainerRequest(container_id=cid, timeout=1),
                        timeout=30)
            self.assertEqual(self.status(cid).state, PB.CONTAINER_EXITED)
        finally:
            self.remove_pod(pod)

    def test_sigterm_ends_an_exec_session_first(self):
        # The session is cut at shutdown; it and the exec relay let go of
        # the backend (the relay killed and deleted the exec) before the
        # backend is freed.
        cfg, pod = self.run_pod("shutdown")
        try:
            cid, _ = self.run_container(pod, cfg, "app", ["sleep", "300"])
            url = self.c.call("Exec", PB.ExecRequest(
                container_id=cid, cmd=["sh", "-c", "echo up; exec sleep 62"], stdout=True,
                stderr=True)).url
            s = spdyclient.Client(url, V4)
            try:
                ids = s.open_streams(["error", "stdout", "stderr"])
                self.assertEqual(self.read_until(s, ids["stdout"], b"up\n"), b"up\n")
                code = self.crimpd.stop(timeout=40)
            finally:
                s.close()
            log = self.crimpd.read_log()
            self.crimpd.cleanup()
            type(self).crimpd = self.start_crimpd()
            type(self).c = self.crimpd.client
            self.assertEqual(code, 0, log[-2000:])
            self.assertIn("stream: shutting down: ending 1 streaming session", log)
            self.assertNotIn("did not end in", log)
            for mark in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                self.assertNotIn(mark, log)
            ps = self.c.call("ExecSync", container_id=cid, cmd=["ps", "-o", "args"],
                             timeout=30).stdout.decode()
            self.assertNotIn("sleep 62", ps)
        finally:
            self.remove_pod(pod)

    def test_reopen_after_rotation(self):
        cfg, pod = self.run_pod("rotate")
        try:
            cid, log = self.run_container(pod, cfg, "app",
                                          ["sh", "-c", "while :; do echo line; sleep 0.1; done"])
            self.read_log(log, "line")
            os.rename(log, log + ".1")
            self.c.call("ReopenContainerLog", container_id=cid)
            self.read_log(log, "line")
        finally:
            self.remove_pod(pod)

    def attach_url(self, cid, **kw):
        url = self.c.call("Attach", PB.AttachRequest(container_id=cid, **kw)).url
        self.assertRegex(url, r"^http://127\.0\.0\.1:\d+/attach/[A-Za-z0-9_-]{8}$")
        return url

    @staticmethod
    def read_until(s, sid, want, timeout=10):
        got = bytearray()
        deadline = time.monotonic() + timeout
        while want not in got and time.monotonic() < deadline:
            f = s.read_frame()
            if f.ctype == 0 and f.stream_id == sid:
                got += f.data
        return bytes(got)

    def test_attach_stdin_once_over_spdy(self):
        cfg, pod = self.run_pod("attach")
        try:
            cid, log = self.run_container(pod, cfg, "echo", ECHO, stdin=True, stdin_once=True)
            # Output from before the session is the log's, not the session's.
            self.read_log(log, "ready")
            s = spdyclient.Client(self.attach_url(cid, stdin=True, stdout=True, stderr=True), V4)
            try:
                ids = s.open_streams(["error", "stdin", "stdout", "stderr"])
                for i in range(3):
                    s.data(ids["stdin"], b"line%d\n" % i)
                got = self.read_until(s, ids["stdout"], b"got:line2\n")
                self.assertEqual(got, b"got:line0\ngot:line1\ngot:line2\n")
                # The log got every line while the session was open.
                text = self.read_log(log, "got:line2")
                self.assertEqual(re.findall(r"(?m)^\S+ stdout F (got:line\d)$", text),
                                 ["got:line0", "got:line1", "got:line2"])
                s.data(ids["stdin"], b"last\n", fin=True)  # stdin_once: EOF for the shell
                out = s.collect(ids)
            finally:
                s.close()
            self.assertEqual(out["stdout"], b"got:last\n")
            self.assertEqual(spdyclient.exit_code_of(out["error"]), 0)
            wait_for(lambda: self.status(cid).state == PB.CONTAINER_EXITED, 10, "echo to exit")
            self.assertEqual(self.status(cid).exit_code, 0)
            self.read_log(log, "got:last")
            with self.assertRaises(grpc.RpcError) as cm:  # exited: nothing to attach to
                self.attach_url(cid, stdout=True)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        finally:
            self.remove_pod(pod)

    def test_attach_over_websocket_and_a_second_session(self):
        import asyncio
        import websockets
        cfg, pod = self.run_pod("attach-ws")
        try:
            cid, log = self.run_container(pod, cfg, "echo", ECHO, stdin=True, stdin_once=True)
            # A session without stdin coming and going leaves stdin open.
            watcher = spdyclient.Client(self.attach_url(cid, stdout=True), V4)
            watcher.open_streams(["error", "stdout"])
            watcher.close()
            url = self.attach_url(cid, stdin=True, stdout=True).replace("http://", "ws://")

            async def run():
                got = bytearray()
                async with websockets.connect(url, subprotocols=["v5.channel.k8s.io"]) as ws:
                    await ws.send(b"\x00hello\n")
                    async for msg in ws:
                        msg = msg.encode() if isinstance(msg, str) else msg
                        if msg[:1] == b"\x01":
                            got += msg[1:]
                        if b"got:hello\n" in got:
                            break
                    await ws.send(b"\xff\x00")  # v5: stdin ended
                    try:
                        async for msg in ws:
                            msg = msg.encode() if isinstance(msg, str) else msg
                            if msg[:1] == b"\x03":
                                return bytes(got), msg[1:]
                    except websockets.ConnectionClosed:
                        pass
                return bytes(got), None

            got, status = asyncio.run(asyncio.wait_for(run(), 30))
            self.assertEqual(got, b"got:hello\n")
            self.assertEqual(spdyclient.exit_code_of(status), 0)
            wait_for(lambda: self.status(cid).state == PB.CONTAINER_EXITED, 10, "echo to exit")
            self.assertEqual(self.status(cid).exit_code, 0)
        finally:
            self.remove_pod(pod)

    def test_attach_slow_client_is_detached_and_the_log_keeps_all(self):
        n = 2000000  # ~15 MB: more than every buffer between crimp and the client
        cfg, pod = self.run_pod("attach-slow")
        try:
            cid, log = self.run_container(
                pod, cfg, "flood", ["sh", "-c", f"read go; seq 1 {n}; echo flood-done; sleep 300"],
                stdin=True)
            s = spdyclient.Client(self.attach_url(cid, stdin=True, stdout=True, stderr=True), V4)
            try:
                s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                ids = s.open_streams(["error", "stdin", "stdout", "stderr"])
                s.data(ids["stdin"], b"go\n")
                # The client reads nothing from here on: the log must not wait.
                self.read_log(log, "flood-done", timeout=120)
            finally:
                s.close()
            self.assertIn("detaching it", self.crimpd.read_log())
            lines = re.findall(r"(?m)^\S+ stdout F (\d+)$", read_text(log))
            self.assertEqual(len(lines), n)
            self.assertEqual((lines[0], lines[-1]), ("1", str(n)))
            self.assertEqual(self.status(cid).state, PB.CONTAINER_RUNNING)  # detached, not killed
        finally:
            self.remove_pod(pod)

    def test_exec_stdin_eof_reaches_the_process(self):
        cfg, pod = self.run_pod("exec-stdin")
        try:
            cid, _ = self.run_container(pod, cfg, "app", ["sleep", "300"])
            url = self.c.call("Exec", PB.ExecRequest(container_id=cid, cmd=["cat"], stdin=True,
                                                     stdout=True)).url
            s = spdyclient.Client(url, V4)
            try:
                ids = s.open_streams(["error", "stdin", "stdout"])
                s.data(ids["stdin"], b"through cat\n", fin=True)
                out = s.collect(ids)
            finally:
                s.close()
            self.assertEqual(out["stdout"], b"through cat\n")
            self.assertEqual(spdyclient.exit_code_of(out["error"]), 0)
        finally:
            self.remove_pod(pod)

    def test_exec_and_attach_keep_stdout_and_stderr_apart(self):
        # Without a tty both streams share the relay's socket: each byte
        # must reach the client on the stream the process wrote it to.
        cfg, pod = self.run_pod("split")
        try:
            cid, _ = self.run_container(
                pod, cfg, "split", ["sh", "-c", "while read l; do echo o:$l; echo e:$l >&2; done"],
                stdin=True)
            url = self.c.call("Exec", PB.ExecRequest(
                container_id=cid, cmd=["sh", "-c", "echo to-out; echo to-err >&2; "
                                       "head -c 100000 /dev/zero | tr '\\0' e >&2; exit 3"],
                stdout=True, stderr=True)).url
            s = spdyclient.Client(url, V4)
            try:
                ids = s.open_streams(["error", "stdout", "stderr"])
                out = s.collect(ids)
            finally:
                s.close()
            self.assertEqual(out["stdout"], b"to-out\n")
            self.assertEqual(out["stderr"], b"to-err\n" + b"e" * 100000)
            self.assertEqual(spdyclient.exit_code_of(out["error"]), 3)

            s = spdyclient.Client(self.attach_url(cid, stdin=True, stdout=True, stderr=True), V4)
            try:
                ids = s.open_streams(["error", "stdin", "stdout", "stderr"])
                s.data(ids["stdin"], b"a\nb\n")
                got = {ids["stdout"]: bytearray(), ids["stderr"]: bytearray()}
                deadline = time.monotonic() + 10
                while (not got[ids["stdout"]].endswith(b"o:b\n")
                       or not got[ids["stderr"]].endswith(b"e:b\n")) and time.monotonic() < deadline:
                    f = s.read_frame()
                    if f.ctype == 0 and f.stream_id in got:
                        got[f.stream_id] += f.data
                self.assertEqual(bytes(got[ids["stdout"]]), b"o:a\no:b\n")
                self.assertEqual(bytes(got[ids["stderr"]]), b"e:a\ne:b\n")
            finally:
                s.close()
        finally:
            self.remove_pod(pod)

    def test_attach_tty_is_raw_and_resizes(self):
        cfg, pod = self.run_pod("attach-tty")
        try:
            cid, log = self.run_container(pod, cfg, "tty", ["sh"], stdin=True, tty=True)
            url = self.attach_url(cid, stdin=True, stdout=True, tty=True)
            s = spdyclient.Client(url, V4)
            try:
                ids = s.open_streams(["error", "stdin", "stdout", "resize"])
                s.data(ids["resize"], json.dumps({"Width": 123, "Height": 45}).encode() + b"\n")
                s.data(ids["stdin"], b"stty size; echo tty-$((40+2))\n")
                got = self.read_until(s, ids["stdout"], b"tty-42\r\n")
                # Raw terminal bytes (CR LF, the echo of the input), no frames.
                self.assertIn(b"45 123\r\ntty-42\r\n", got)
                self.assertIn(b"echo tty-$((40+2))", got)
                s.data(ids["stdin"], b"exit 0\n")
                out = s.collect(ids, until_fin=("stdout", "error"))
            finally:
                s.close()
            self.assertEqual(spdyclient.exit_code_of(out["error"]), 0)
            wait_for(lambda: self.status(cid).state == PB.CONTAINER_EXITED, 10, "sh to exit")
            self.assertEqual(self.status(cid).exit_code, 0)
            self.assertIn("tty-42", read_text(log))
        finally:
            self.remove_pod(pod)


if __name__ == "__main__":
    main()
