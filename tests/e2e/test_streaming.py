"""crimp's streaming server (exec, attach, port-forward over SPDY/3.1 and
WebSocket) for the docker backend, driven by a SPDY client written in
Python (spdyclient.py) and by Debian's python3-websockets, not by crimp's
own code."""
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request
import uuid

import grpc

import spdyclient
from crimpe2e import PB, Crimpd, bed_env, end_suite, main, wait_for

BED = bed_env()
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
BIG_LINES = 200000  # `seq 1 200000`: 1,288,895 bytes, served by the pod
BIG = b"".join(b"%d\n" % i for i in range(1, BIG_LINES + 1))


def spdy_forward(s, port, rid, request=None):
    """One forwarded connection on the SPDY port-forward session S, as
    client-go makes it: error and data streams; with a REQUEST, the error
    stream half-closed at once and REQUEST sent on data.  Returns what
    both streams carried until they ended."""
    ids = s.open_streams(["error", "data"], {"port": str(port), "requestid": rid})
    if request is not None:
        s.data(ids["error"], fin=True)
        s.data(ids["data"], request, fin=True)
    return s.collect(ids, until_fin=("data", "error"))


class Streaming(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-stream-e2e.")
        cfg = {"backends": [{"name": "docker", "type": "docker",
                             "endpoint": "unix://" + BED["CRIMP_BED_DOCKER_SOCK"],
                             "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                                         "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"]}}]}
        path = os.path.join(cls.state, "crimpd.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        cls.crimpd = Crimpd(extra=["--config", path, "--state-dir", os.path.join(cls.state, "s")])
        cls.crimpd.start()
        c = cls.c = cls.crimpd.client
        c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)), timeout=120)
        cls.pod_cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="stream", namespace="e2e", uid=str(uuid.uuid4())),
            log_directory=os.path.join(cls.state, "logs"), linux=PB.LinuxPodSandboxConfig())
        cls.pod = c.call("RunPodSandbox", config=cls.pod_cfg, timeout=120).pod_sandbox_id
        cls.ctr = cls.start("sh", ["sleep", "600"])
        cls.web = cls.start("web", ["sh", "-c", "mkdir -p /www && echo hello-from-pod > "
                                    f"/www/index.html && seq 1 {BIG_LINES} > /www/big.txt && "
                                    "exec httpd -f -p 8080 -h /www"])
        cls.shell = cls.start("shell", ["sh"], stdin=True)

    @classmethod
    def start(cls, name, command, **kw):
        cfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name=name),
                                 image=PB.ImageSpec(image=BUSYBOX), command=command,
                                 linux=PB.LinuxContainerConfig(), **kw)
        cid = cls.c.call("CreateContainer", pod_sandbox_id=cls.pod, config=cfg,
                         sandbox_config=cls.pod_cfg, timeout=60).container_id
        cls.c.call("StartContainer", container_id=cid, timeout=60)
        return cid

    @classmethod
    def tearDownClass(cls):
        end_suite(cls.c, cls.pod, cls.crimpd, lambda: shutil.rmtree(cls.state, ignore_errors=True))

    def exec_url(self, cmd, **kw):
        url = self.c.call("Exec", PB.ExecRequest(container_id=self.ctr, cmd=cmd, **kw)).url
        self.assertRegex(url, r"^http://127\.0\.0\.1:\d+/exec/[A-Za-z0-9_-]{8}$")
        return url

    def run_exec(self, cmd, stdin=None, **kw):
        kw.setdefault("stdout", True)
        kw.setdefault("stderr", not kw.get("tty"))
        url = self.exec_url(cmd, stdin=stdin is not None, **kw)
        s = spdyclient.Client(url, V4)
        try:
            self.assertEqual(s.protocol, "v4.channel.k8s.io")
            kinds = ["error"] + (["stdin"] if stdin is not None else []) + ["stdout"]
            kinds += ["stderr"] if kw["stderr"] else []
            ids = s.open_streams(kinds)
            if stdin is not None:
                s.data(ids["stdin"], stdin, fin=True)
            return s.collect(ids)
        finally:
            s.close()

    def test_exec_output_and_exit_code(self):
        out = self.run_exec(["sh", "-c", "echo out; echo err >&2; exit 7"])
        self.assertEqual(out["stdout"], b"out\n")
        self.assertEqual(out["stderr"], b"err\n")
        self.assertEqual(spdyclient.exit_code_of(out["error"]), 7)
        ok = self.run_exec(["true"])
        self.assertEqual(spdyclient.exit_code_of(ok["error"]), 0)

    def test_large_output_is_not_lost(self):
        n = 12 * 1024 * 1024
        out = self.run_exec(["sh", "-c", f"head -c {n} /dev/zero | tr '\\0' x"])
        self.assertEqual(len(out["stdout"]), n)
        self.assertEqual(out["stdout"].count(b"x"), n)

    def test_stdin_and_its_eof(self):
        payload = b"".join(b"line %d\n" % i for i in range(20000))
        out = self.run_exec(["cat"], stdin=payload)
        self.assertEqual(out["stdout"], payload)
        self.assertEqual(spdyclient.exit_code_of(out["error"]), 0)

    def test_tty_and_resize(self):
        url = self.exec_url(["sh", "-c", "sleep 1; stty size"], tty=True, stdout=True, stdin=True)
        s = spdyclient.Client(url, V4)
        try:
            ids = s.open_streams(["error", "stdin", "stdout", "resize"])
            s.data(ids["resize"], json.dumps({"Width": 123, "Height": 45}).encode() + b"\n")
            out = s.collect(ids, until_fin=("stdout", "error"))
        finally:
            s.close()
        self.assertIn(b"45 123", out["stdout"])

    def test_pings_are_answered(self):
        url = self.exec_url(["sleep", "1"], stdout=True)
        s = spdyclient.Client(url, V4)
        try:
            ids = s.open_streams(["error", "stdout"])
            s.ping(1)
            pongs = []
            s.collect(ids, on_frame=lambda f: pongs.append(f.value) if f.ctype == spdyclient.PING else None)
            self.assertEqual(pongs, [1])
        finally:
            s.close()

    def test_attach_sees_new_output_and_takes_stdin(self):
        url = self.c.call("Attach", PB.AttachRequest(container_id=self.shell, stdin=True,
                                                     stdout=True, stderr=True)).url
        s = spdyclient.Client(url, V4)
        try:
            ids = s.open_streams(["error", "stdin", "stdout", "stderr"])
            typed = b"echo attached-$((40+2))\n"
            s.data(ids["stdin"], typed)
            got = bytearray()
            deadline = time.monotonic() + 10
            while b"attached-42" not in got and time.monotonic() < deadline:
                f = s.read_frame()
                if f.ctype == 0 and f.stream_id == ids["stdout"]:
                    got += f.data
            self.assertIn(b"attached-42", got)
        finally:
            s.close()
        # Detaching leaves the container running.
        st = self.c.call("ContainerStatus", container_id=self.shell).status
        self.assertEqual(st.state, PB.CONTAINER_RUNNING)
        # The attach session is a recorded call: what was typed went in.
        call = self.session_call("attach", bytes_in=len(typed))
        self.assertGreaterEqual(call["bytes_out"], len(b"attached-42"))
        self.assertIn("POST /containers/{id}/attach", [sp["name"] for sp in call["spans"]])

    def test_port_forward_reaches_the_pod(self):
        url = self.c.call("PortForward", pod_sandbox_id=self.pod, port=[8080]).url
        s = spdyclient.Client(url, ["portforward.k8s.io"])
        try:
            self.assertEqual(s.protocol, "portforward.k8s.io")
            for rid in ("0", "1"):  # two connections on one session
                out = spdy_forward(s, 8080, rid, b"GET /index.html HTTP/1.0\r\n\r\n")
                self.assertIn(b"hello-from-pod", out["data"])
                self.assertEqual(out["error"], b"")
            out = spdy_forward(s, 9, "2")
            self.assertIn(b"error forwarding port 9", out["error"])
        finally:
            s.close()

    def test_tokens_are_single_use_and_checked(self):
        url = self.exec_url(["true"], stdout=True)
        s = spdyclient.Client(url, V4)
        s.close()
        with self.assertRaises(spdyclient.UpgradeError) as cm:
            spdyclient.Client(url, V4)
        self.assertEqual(cm.exception.status, 404)
        with self.assertRaises(spdyclient.UpgradeError) as cm:
            spdyclient.Client(url.rsplit("/", 1)[0] + "/AAAAAAAA", V4)
        self.assertEqual(cm.exception.status, 404)
        url = self.exec_url(["true"], stdout=True)
        with self.assertRaises(spdyclient.UpgradeError) as cm:
            spdyclient.Client(url, ["v9.channel.example"])
        self.assertEqual(cm.exception.status, 403)
        self.assertIn(b"subprotocol", cm.exception.body)

    def ws_exec(self, cmd, protocol, stdin=None, **kw):
        """Exec over WebSocket with Debian's python3-websockets; returns the
        bytes per channel."""
        import asyncio
        import websockets
        kw.setdefault("stdout", True)
        url = self.exec_url(cmd, stdin=stdin is not None, **kw).replace("http://", "ws://")

        async def run():
            out = {}
            async with websockets.connect(url, subprotocols=[protocol], max_size=None) as ws:
                self.assertEqual(ws.subprotocol, protocol)
                if stdin is not None:
                    await ws.send(b"\x00" + stdin)
                    await ws.send(b"\xff\x00")  # v5: stdin ended
                try:
                    async for msg in ws:
                        if isinstance(msg, str):
                            msg = msg.encode()
                        if msg:
                            out.setdefault(msg[0], bytearray()).extend(msg[1:])
                except websockets.ConnectionClosed:
                    pass
            return {k: bytes(v) for k, v in out.items()}

        return asyncio.run(run())

    def test_websocket_exec_v5(self):
        out = self.ws_exec(["sh", "-c", "echo ws-out; echo ws-err >&2; exit 4"],
                           "v5.channel.k8s.io", stderr=True)
        self.assertEqual(out[1], b"ws-out\n")
        self.assertEqual(out[2], b"ws-err\n")
        self.assertEqual(spdyclient.exit_code_of(out[3]), 4)
        out = self.ws_exec(["cat"], "v5.channel.k8s.io", stdin=b"through websocket\n")
        self.assertEqual(out[1], b"through websocket\n")
        self.assertEqual(spdyclient.exit_code_of(out[3]), 0)

    def test_websocket_exec_v4_large_output(self):
        n = 10 * 1024 * 1024
        out = self.ws_exec(["sh", "-c", f"head -c {n} /dev/zero | tr '\\0' y"], "v4.channel.k8s.io")
        self.assertEqual(len(out[1]), n)
        self.assertEqual(spdyclient.exit_code_of(out[3]), 0)

    def ws_port_forward(self, query, protocol, send):
        """Port-forward over WebSocket: SEND maps a data channel to the bytes
        written on it; returns, per channel, the port its first message
        announced and the bytes that followed, once the server closed."""
        import websockets
        url = self.c.call("PortForward", pod_sandbox_id=self.pod).url
        url = url.replace("http://", "ws://") + query
        b64 = "base64" in (protocol or "")

        def encode(ch, data):
            return chr(ord("0") + ch) + base64.b64encode(data).decode() if b64 else bytes([ch]) + data

        async def run():
            chans = {}
            async with websockets.connect(url, subprotocols=[protocol] if protocol else None,
                                          max_size=None) as ws:
                self.assertEqual(ws.subprotocol, protocol)
                for ch, data in send.items():
                    await ws.send(encode(ch, data))
                try:
                    async for msg in ws:
                        if b64:
                            self.assertIsInstance(msg, str)
                            ch, payload = ord(msg[0]) - ord("0"), base64.b64decode(msg[1:])
                        else:
                            self.assertIsInstance(msg, bytes)
                            ch, payload = msg[0], msg[1:]
                        if ch not in chans:  # the first message: the port, little-endian
                            self.assertEqual(len(payload), 2)
                            chans[ch] = [int.from_bytes(payload, "little"), bytearray()]
                        else:
                            chans[ch][1] += payload
                except websockets.ConnectionClosed:
                    pass
                self.assertEqual(ws.close_code, 1000)
            return {ch: (port, bytes(data)) for ch, (port, data) in chans.items()}

        # The server ends the session once the pod side is done: no hang.
        return asyncio.run(asyncio.wait_for(run(), 60))

    def test_websocket_port_forward_big_page(self):
        get = b"GET /big.txt HTTP/1.0\r\n\r\n"
        for protocol in ("v4.channel.k8s.io", "v4.base64.channel.k8s.io", None):
            with self.subTest(protocol=protocol):
                out = self.ws_port_forward("?port=8080", protocol, {0: get})
                self.assertEqual(out[0][0], 8080)
                self.assertEqual(out[1], (8080, b""))
                head, _, body = out[0][1].partition(b"\r\n\r\n")
                self.assertRegex(head, rb"^HTTP/1\.[01] 200 ")
                self.assertEqual(len(body), len(BIG))
                self.assertEqual(body, BIG)

    def test_websocket_port_forward_unknown_port_reports_error(self):
        # Two ports on one connection (channels 0/1 and 2/3): 9 has no
        # listener, so its error channel says so; 8080 still works.
        out = self.ws_port_forward("?port=8080&port=9", "v4.channel.k8s.io",
                                   {0: b"GET /index.html HTTP/1.0\r\n\r\n"})
        self.assertEqual(out[2], (9, b""))
        self.assertEqual(out[3][0], 9)
        self.assertIn(b"error forwarding port 9 to pod " + self.pod.encode(), out[3][1])
        self.assertIn(b"hello-from-pod", out[0][1])
        self.assertEqual(out[1], (8080, b""))

    def spdy_over_websocket(self, url):
        """A spdyclient.Client whose bytes travel in binary WebSocket
        messages of Debian's websockets, as crictl's --transport websocket
        port-forward sends them; and the thread that carries them."""
        import threading
        import socket
        import websockets
        import websockets.headers
        # Kubernetes' subprotocol name has a "/", which RFC 7230 tokens do
        # not allow; Go's gorilla does not check, Python's websockets does.
        websockets.headers._token_re = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z/]+")
        ours, bridge = socket.socketpair()
        ready, state = threading.Event(), {}

        async def carry():
            loop = asyncio.get_running_loop()
            bridge.setblocking(False)
            async with websockets.connect(url, subprotocols=["SPDY/3.1+portforward.k8s.io"],
                                          max_size=None) as ws:
                state["protocol"] = ws.subprotocol
                ready.set()

                async def up():
                    while data := await loop.sock_recv(bridge, 65536):
                        await ws.send(data)
                    await ws.close()

                async def down():
                    async for msg in ws:
                        await loop.sock_sendall(bridge, msg)
                    state["close_code"] = ws.close_code
                    bridge.shutdown(socket.SHUT_WR)

                await asyncio.gather(up(), down())
            bridge.close()

        t = threading.Thread(target=lambda: asyncio.run(carry()), daemon=True)
        t.start()
        self.assertTrue(ready.wait(10), "no WebSocket upgrade")
        return spdyclient.Client.over(ours, state["protocol"]), t, state

    def test_spdy_port_forward_tunnelled_in_websocket(self):
        url = self.c.call("PortForward", pod_sandbox_id=self.pod).url.replace("http://", "ws://")
        s, carrier, state = self.spdy_over_websocket(url)
        try:
            self.assertEqual(s.protocol, "SPDY/3.1+portforward.k8s.io")
            out = spdy_forward(s, 8080, "0", b"GET /big.txt HTTP/1.0\r\n\r\n")
            self.assertEqual(out["data"].partition(b"\r\n\r\n")[2], BIG)
            self.assertEqual(out["error"], b"")
            out = spdy_forward(s, 9, "1")
            self.assertIn(b"error forwarding port 9", out["error"])
        finally:
            s.close()
        carrier.join(10)
        self.assertEqual(state.get("close_code"), 1000)

    def test_websocket_port_forward_needs_ports(self):
        import websockets
        for query, status in (("", 400), ("?port=0", 400), ("?port=80", 403)):
            url = self.c.call("PortForward", pod_sandbox_id=self.pod).url
            url = url.replace("http://", "ws://") + query

            async def run():
                async with websockets.connect(url, subprotocols=["v5.channel.k8s.io"]):
                    pass

            with self.subTest(query=query), self.assertRaises(websockets.InvalidStatusCode) as cm:
                asyncio.run(run())
            self.assertEqual(cm.exception.status_code, status)

    def session_call(self, method, **want):
        """The streaming session the admin API lists as stream/METHOD with
        the fields in WANT (reported when the session ends, so poll)."""
        def find():
            out = subprocess.run(["curl", "-fsS", "--unix-socket", self.crimpd.admin,
                                  "http://crimp/v1/calls?limit=1000"], capture_output=True,
                                 text=True, check=True)
            for call in json.loads(out.stdout):
                if (call["service"], call["method"]) == ("stream", method) and \
                        all(call.get(k) == v for k, v in want.items()):
                    return call
            return None
        return wait_for(find, timeout=10, what=f"stream/{method} {want} in /v1/calls")

    def test_sessions_are_recorded_calls(self):
        # SPDY exec: every stdin byte comes back on stdout.
        payload = b"s" * 54321
        out = self.run_exec(["cat"], stdin=payload)
        self.assertEqual(out["stdout"], payload)
        call = self.session_call("exec", bytes_in=len(payload), bytes_out=len(payload))
        self.assertEqual((call["backend"], call["code"]), ("docker", "OK"))
        names = [sp["name"] for sp in call["spans"]]
        self.assertIn("POST /exec/{id}/start", names)  # the backend's calls, traced
        first = [sp for sp in call["spans"] if sp["name"] == "spdy first byte"]
        self.assertEqual(len(first), 1)
        self.assertEqual(first[0]["kind"], "stream")
        self.assertLessEqual(first[0]["duration_us"], call["duration_us"])

        # WebSocket exec, output only.
        out = self.ws_exec(["sh", "-c", "head -c 4321 /dev/zero"], "v5.channel.k8s.io")
        self.assertEqual(len(out[1]), 4321)
        call = self.session_call("exec", bytes_in=0, bytes_out=4321)
        self.assertIn("websocket first byte", [sp["name"] for sp in call["spans"]])

        # WebSocket port-forward: the request in, the whole response out.
        get = b"GET /index.html HTTP/1.0\r\nX-Pad: " + b"p" * 777 + b"\r\n\r\n"
        pf = self.ws_port_forward("?port=8080", "v4.channel.k8s.io", {0: get})
        call = self.session_call("portforward", bytes_in=len(get))
        self.assertEqual(call["bytes_out"], len(pf[0][1]))
        self.assertEqual(call["backend"], "docker")

        # A port nobody listens on: the session failed, and says how.
        self.ws_port_forward("?port=9", "v4.channel.k8s.io", {})
        self.session_call("portforward", code="UNAVAILABLE", bytes_out=0)

        # Prometheus shows sessions as their own series.
        out = subprocess.run(["curl", "-fsS", "--unix-socket", self.crimpd.admin,
                              "http://crimp/metrics"], capture_output=True, text=True, check=True)
        self.assertRegex(out.stdout, r'crimp_cri_call_duration_seconds_count\{service="stream",'
                                     r'method="exec",backend="docker",code="OK"\} [1-9]')
        m = re.search(r'crimp_stream_bytes_total\{service="stream",method="exec",'
                      r'backend="docker",direction="in"\} (\d+)', out.stdout)
        self.assertIsNotNone(m, out.stdout)
        self.assertGreaterEqual(int(m.group(1)), len(payload))

    def test_bad_requests(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.c.call("Exec", PB.ExecRequest(container_id=self.ctr, cmd=["true"], tty=True,
                                               stdout=True, stderr=True))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as cm:
            self.c.call("Exec", PB.ExecRequest(container_id=self.ctr, cmd=["true"]))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(grpc.RpcError) as cm:
            self.c.call("Exec", PB.ExecRequest(container_id="0123456789ab", cmd=["true"], stdout=True))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    main()
