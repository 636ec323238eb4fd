"""crimpd's log for operators: --log-format json gives one JSON object a
line, --log-calls on adds a line per CRI call (method, backend, code,
duration, the ID the call names), and when stderr is journald's stream
($JOURNAL_STREAM) every line starts with its syslog priority and text lines
leave the time to the journal."""
import json
import os
import re
import subprocess
import tempfile
import shutil
import unittest

import grpc

from crimpe2e import CRIMPD, PB, Client, bed_env, main, wait_for, wait_for_socket

BED = bed_env()
CTR = "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]


class LogOutput(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cl.", dir="/tmp")
        self.sock = os.path.join(self.dir, "crimp.sock")
        self.log_path = os.path.join(self.dir, "crimpd.log")
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *extra, journal=False):
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        if journal:
            st = os.fstat(log.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        self.proc = subprocess.Popen(
            [CRIMPD, "--listen", self.sock, "--state-dir", os.path.join(self.dir, "state"),
             "--backend", f"ctr=cri:{CTR}", *extra], stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.assertTrue(wait_for_socket(self.sock), self.read())
        return Client("unix://" + self.sock)

    def read(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        self.assertEqual(self.proc.wait(timeout=20), 0)

    def test_json_lines_with_one_line_per_call(self):
        c = self.start("--log-format", "json", "--log-calls", "on")
        c.call("Version", version="v1")
        with self.assertRaises(grpc.RpcError):
            c.call("PodSandboxStatus", pod_sandbox_id="no-such-pod-\u00e9")
        c.call("ListPodSandbox")
        c.close()
        self.stop()
        lines = [json.loads(line) for line in self.read().splitlines() if line.strip()]
        for obj in lines:
            self.assertRegex(obj["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
            self.assertIn(obj["level"], ("error", "warn", "info", "debug"))
            self.assertIsInstance(obj["msg"], str)
        calls = {o["method"]: o for o in lines if o["msg"] == "call"}
        self.assertEqual(calls["RuntimeService/Version"]["backend"], "crimp")
        status = calls["RuntimeService/PodSandboxStatus"]
        self.assertEqual(status["backend"], "ctr")
        self.assertEqual(status["code"], "NOT_FOUND")
        self.assertEqual(status["id"], "no-such-pod-\u00e9")
        self.assertEqual(calls["RuntimeService/ListPodSandbox"]["code"], "OK")
        self.assertGreaterEqual(status["duration_ms"], 0)
        self.assertTrue(any("ready" in o["msg"] for o in lines), lines)

    def test_no_call_lines_unless_asked(self):
        c = self.start()
        c.call("ListPodSandbox")
        c.close()
        self.stop()
        text = self.read()
        self.assertRegex(text, r"\d{4}-\d\d-\d\dT\S+Z INFO  crimpd \S+ ready")
        self.assertNotIn("call RuntimeService/ListPodSandbox", text)

    def test_text_call_lines(self):
        c = self.start("--log-calls", "on")
        c.call("ListPodSandbox")
        c.close()
        self.stop()
        self.assertRegex(self.read(), r"INFO  call RuntimeService/ListPodSandbox backend=ctr "
                                      r"code=OK duration_ms=\d+\.\d{3}")

    def test_journal_stream_gets_priorities(self):
        c = self.start("--log-calls", "on", journal=True)
        with self.assertRaises(grpc.RpcError):
            c.call("ContainerStatus", container_id="nope")
        c.close()
        self.stop()
        lines = [l for l in self.read().splitlines() if l]
        for line in lines:
            self.assertRegex(line, r"^<[3467]>", line)
            self.assertNotRegex(line, r"^<\d>\d{4}-", "journald keeps the time itself")
        self.assertIn("<6>crimpd", "\n".join(lines))
        self.assertTrue(any(re.match(r"<6>call RuntimeService/ContainerStatus backend=ctr "
                                     r"code=NOT_FOUND .* id=nope$", l) for l in lines), lines)

    def test_bad_format_is_refused(self):
        r = subprocess.run([CRIMPD, "--log-format", "xml", "--print-config"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("`xml` is not one of text, json", r.stderr)


if __name__ == "__main__":
    main()
