"""The streaming server against hostile or broken clients, on the docker
and the containerd backend: an oversized resize message ends only its own
session (with an error status) and crimpd keeps serving; idle TCP
connections without a token cannot take the slots sessions need; a client
that stops reading is dropped within the idle timeout and its process is
killed.  Clients: spdyclient.py and Debian's python3-websockets."""
import asyncio
import json
import os
import shutil
import socket
import tempfile
import time
import unittest
import urllib.parse
import uuid

import spdyclient
from crimpe2e import PB, Crimpd, bed_env, end_suite, main, wait_for

BED = bed_env()
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
IDLE = 3  # --stream-idle-timeout for these tests, seconds
OVERSIZED = b"x" * 4096  # the resize payload of the original report


def status_of(error_bytes):
    return json.loads(error_bytes)


def ws_send_one(url, message):
    """Sends MESSAGE on a v4.channel.k8s.io WebSocket to the exec at URL and
    reads until the server closes: the bytes per channel, the close code."""
    import websockets
    url = url.replace("http://", "ws://")

    async def run():
        chans = {}
        async with websockets.connect(url, subprotocols=["v4.channel.k8s.io"],
                                      max_size=None) as ws:
            await ws.send(message)
            try:
                async for msg in ws:
                    if msg:
                        chans.setdefault(msg[0], bytearray()).extend(msg[1:])
            except websockets.ConnectionClosed:
                pass
            return chans, ws.close_code

    return asyncio.run(asyncio.wait_for(run(), 20))


class Limits:
    """The tests; BACKEND (a crimpd config's backend entry) comes from the
    subclasses below."""

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-limits-e2e.")
        path = os.path.join(cls.state, "crimpd.json")
        with open(path, "w") as f:
            json.dump({"backends": [cls.backend()]}, f)
        cls.crimpd = Crimpd(extra=["--config", path, "--state-dir", os.path.join(cls.state, "s"),
                                   "--stream-idle-timeout", str(IDLE),
                                   "--stream-head-timeout", "5"])
        cls.crimpd.start()
        c = cls.c = cls.crimpd.client
        c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)), timeout=120)
        cls.pod_cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="limits", namespace="e2e", uid=str(uuid.uuid4())),
            log_directory=os.path.join(cls.state, "logs"), linux=PB.LinuxPodSandboxConfig())
        cls.pod = c.call("RunPodSandbox", config=cls.pod_cfg, timeout=120).pod_sandbox_id
        cfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="sh"),
                                 image=PB.ImageSpec(image=BUSYBOX), command=["sleep", "3600"],
                                 linux=PB.LinuxContainerConfig())
        cls.ctr = c.call("CreateContainer", pod_sandbox_id=cls.pod, config=cfg,
                         sandbox_config=cls.pod_cfg, timeout=60).container_id
        c.call("StartContainer", container_id=cls.ctr, timeout=60)

    @classmethod
    def tearDownClass(cls):
        end_suite(cls.c, cls.pod, cls.crimpd, lambda: shutil.rmtree(cls.state, ignore_errors=True))

    def exec_url(self, cmd, **kw):
        return self.c.call("Exec", PB.ExecRequest(container_id=self.ctr, cmd=cmd, **kw)).url

    def assert_still_serving(self):
        """crimpd is alive: Version answers and an exec runs to its end."""
        self.assertIsNone(self.crimpd.proc.poll(), "crimpd died")
        self.assertEqual(self.c.call("Version").runtime_name, "crimp")
        s = spdyclient.Client(self.exec_url(["echo", "alive"], stdout=True), V4)
        try:
            out = s.collect(s.open_streams(["error", "stdout"]))
        finally:
            s.close()
        self.assertEqual(out["stdout"], b"alive\n")
        self.assertEqual(spdyclient.exit_code_of(out["error"]), 0)

    def pids_of(self, name):
        out = self.c.call("ExecSync", container_id=self.ctr,
                          cmd=["sh", "-c", f"pidof {name} || true"], timeout=10).stdout
        return out.split()

    def assert_bad_request(self, error_bytes):
        st = status_of(error_bytes)
        self.assertEqual((st["status"], st["reason"], st["code"]), ("Failure", "BadRequest", 400))
        self.assertIn("resize message longer than", st["message"])

    # (a) The report: one resize message of 4096 bytes crashed crimpd.

    def test_oversized_resize_over_spdy(self):
        for tty in (False, True):
            with self.subTest(tty=tty):
                url = self.exec_url(["sleep", "30"], stdout=True, stdin=True, tty=tty)
                s = spdyclient.Client(url, V4)
                try:
                    # Without a tty the resize stream is still accepted:
                    # the same check must hold there.
                    ids = s.open_streams(["error", "stdin", "stdout", "resize"])
                    s.data(ids["resize"], OVERSIZED)
                    t0 = time.monotonic()
                    out = s.collect(ids, until_fin=("stdout", "error"))
                    self.assertLess(time.monotonic() - t0, 10)  # not after sleep 30
                finally:
                    s.close()
                self.assert_bad_request(out["error"])
                self.assert_still_serving()
        self.assertIn("resize message longer than 512 bytes", self.crimpd.read_log())

    def test_oversized_resize_over_websocket(self):
        for tty in (False, True):
            with self.subTest(tty=tty):
                url = self.exec_url(["sleep", "30"], stdout=True, stdin=True, tty=tty)
                chans, code = ws_send_one(url, b"\x04" + OVERSIZED)
                self.assertEqual(code, 1009)  # message too big
                self.assert_bad_request(bytes(chans[3]))
                self.assert_still_serving()

    def test_oversized_websocket_message_ends_the_session(self):
        url = self.exec_url(["sleep", "30"], stdout=True, stdin=True)
        chans, code = ws_send_one(url, b"\x00" + b"y" * (2 * 1024 * 1024))  # over the 1 MiB default
        self.assertEqual(code, 1009)
        st = status_of(bytes(chans[3]))
        self.assertEqual((st["status"], st["reason"]), ("Failure", "BadRequest"))
        self.assert_still_serving()

    # (b) Connections without a token cannot starve sessions.

    def test_idle_connections_do_not_block_sessions(self):
        url = self.exec_url(["echo", "first"], stdout=True)
        u = urllib.parse.urlparse(url)
        idle = []
        try:
            for _ in range(300):
                idle.append(socket.create_connection((u.hostname, u.port), timeout=5))
            t0 = time.monotonic()
            s = spdyclient.Client(url, V4, timeout=10)
            try:
                out = s.collect(s.open_streams(["error", "stdout"]))
            finally:
                s.close()
            self.assertEqual(out["stdout"], b"first\n")
            self.assertLess(time.monotonic() - t0, 5)
            self.assertEqual(self.c.call("Version").runtime_name, "crimp")
        finally:
            for sock in idle:
                sock.close()
        self.assert_still_serving()

    def test_slow_head_is_cut_at_a_total_deadline(self):
        # One byte every second keeps a per-poll timeout happy forever; the
        # head's deadline is total (5 s here).
        url = self.exec_url(["true"], stdout=True)
        u = urllib.parse.urlparse(url)
        sock = socket.create_connection((u.hostname, u.port), timeout=15)
        t0 = time.monotonic()
        closed = False
        try:
            for ch in f"POST {u.path} HTTP/1.1\r\nX-Pad: " + "p" * 30:
                sock.sendall(ch.encode())
                time.sleep(0.5)
                if time.monotonic() - t0 > 12:
                    break
        except OSError:
            closed = True
        if not closed:
            sock.settimeout(5)
            try:
                closed = sock.recv(1024) == b""
            except socket.timeout:
                closed = False  # still open: the deadline was not total
            except OSError:
                closed = True
        sock.close()
        self.assertTrue(closed)
        self.assertLess(time.monotonic() - t0, 12)

    # (c) A client that stops reading is dropped, its process killed.

    def test_client_that_stops_reading_is_dropped(self):
        for tty in (False, True):
            with self.subTest(tty=tty):
                url = self.exec_url(["yes"], stdout=True, tty=tty)
                u = urllib.parse.urlparse(url)
                s = spdyclient.Client(url, V4)
                try:
                    s.open_streams(["error", "stdout"] + (["resize"] if tty else []))
                    wait_for(lambda: self.pids_of("yes"), timeout=10, what="yes running")
                    # Read nothing: crimp's sends stall, and after IDLE s it
                    # gives up on the session.
                    try:
                        wait_for(lambda: not self.pids_of("yes"), timeout=IDLE + 15,
                                 what="`yes` killed after the client stopped reading")
                    except AssertionError as e:
                        raise AssertionError(f"{e}\n{self.crimpd.read_log()[-3000:]}")
                    # The connection is closed: what is left drains to EOF.
                    s.sock.settimeout(10)
                    try:
                        while s.sock.recv(1 << 20):
                            pass
                    except ConnectionResetError:
                        pass
                finally:
                    s.close()
                self.assertIn("did not read for %d s" % IDLE, self.crimpd.read_log())
                self.assert_still_serving()


def docker_backend():
    return {"name": "docker", "type": "docker", "endpoint": "unix://" + BED["CRIMP_BED_DOCKER_SOCK"],
            "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                        "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"]}}


def containerd_backend():
    return {"name": "containerd", "type": "containerd",
            "endpoint": "unix://" + BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", ""),
            "options": {"namespace": "crimp-limits-e2e", "pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                        "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                        "cni_bin_dirs": "/usr/lib/cni"}}


class DockerLimits(Limits, unittest.TestCase):
    backend = staticmethod(docker_backend)


class ContainerdLimits(Limits, unittest.TestCase):
    backend = staticmethod(containerd_backend)


if __name__ == "__main__":
    main()
