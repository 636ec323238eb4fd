"""crimpctl, crimp's own CRI client, against a real crimpd."""
import json
import subprocess
import threading
import time
import unittest

import yaml

from crimpe2e import CRIMPCTL, Crimpd, SlowBackend, main


def ctl(*args, timeout=20):
    return subprocess.run([CRIMPCTL, *args], capture_output=True, text=True, timeout=timeout)


class Crimpctl(unittest.TestCase):
    def test_version_and_info(self):
        with SlowBackend() as slow, Crimpd(backends=[f"slow=cri:{slow.endpoint}"]) as d:
            r = ctl("--endpoint", d.endpoint, "version")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"RuntimeName:\s+crimp\n")
            self.assertIn("default backend slow: slow 1", r.stdout)
            r = ctl("-e", d.endpoint, "info")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"(?m)^CONDITION\s+STATUS\s+REASON\s+MESSAGE$")
            self.assertRegex(r.stdout, r"(?m)^BackendReady/slow\s+true\b")
            r = ctl("-e", d.endpoint, "--json", "info")
            doc = json.loads(r.stdout)
            types = {c["type"]: c["status"] for c in doc["status"]["conditions"]}
            self.assertTrue(types["RuntimeReady"])
            self.assertIn("crimp", doc["info"])
            r = ctl("-e", d.endpoint, "--json", "version")
            self.assertEqual(json.loads(r.stdout)["runtimeApiVersion"], "v1")

    def test_info_exits_1_when_runtime_not_ready(self):
        with Crimpd(backends=["gone=cri:unix:///tmp/no-such-crimp-backend.sock"]) as d:
            r = ctl("-e", d.endpoint, "info")
            self.assertEqual(r.returncode, 1)
            self.assertRegex(r.stdout, r"(?m)^RuntimeReady\s+false\b")

    def test_unreachable_endpoint_is_a_clear_error(self):
        r = ctl("-e", "unix:///tmp/no-such-crimpd.sock", "-t", "2", "version")
        self.assertEqual(r.returncode, 1)
        self.assertIn("UNAVAILABLE", r.stderr)
        self.assertIn("/tmp/no-such-crimpd.sock", r.stderr)

    def test_usage_errors(self):
        self.assertEqual(ctl("--help").returncode, 0)
        self.assertIn("info", ctl("--help").stdout)
        self.assertEqual(ctl("bogus").returncode, 2)
        self.assertEqual(ctl("-t", "soon", "version").returncode, 2)
        self.assertEqual(ctl().returncode, 2)


class OutputFormats(unittest.TestCase):
    """-o table|json|yaml and --json, anywhere on the line, for every command:
    the JSON and the YAML of one reply are the same data."""

    @classmethod
    def setUpClass(cls):
        cls.slow = SlowBackend().__enter__()
        cls.d = Crimpd(backends=[f"slow=cri:{cls.slow.endpoint}"]).start()
        cls.e = ["-e", cls.d.endpoint]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.slow.__exit__(None, None, None)

    def out(self, *args):
        r = ctl(*args)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stderr}")
        return r.stdout

    def test_every_position_and_spelling(self):
        ctl(*self.e, "version")  # a call for latency to report
        for cmd in (["version"], ["info"], ["backend", "list"], ["latency"]):
            with self.subTest(cmd=cmd):
                table = self.out(*self.e, *cmd)
                with self.assertRaises(ValueError, msg=f"{cmd}: the table is not JSON"):
                    json.loads(table)
                as_json = [json.loads(self.out(*self.e, *cmd, "--json")),
                           json.loads(self.out("--json", *self.e, *cmd)),
                           json.loads(self.out(*self.e, "-o", "json", *cmd)),
                           json.loads(self.out(*self.e, *cmd, "-ojson"))]
                as_yaml = [yaml.safe_load(self.out(*self.e, *cmd, "-o", "yaml")),
                           yaml.safe_load(self.out("--output=yaml", *self.e, *cmd)),
                           yaml.safe_load(self.out(*self.e, *cmd, "--output", "yaml"))]
                # latency's figures move between calls: compare its shape.
                norm = (lambda d: sorted(d)) if cmd == ["latency"] else (lambda d: d)
                for doc in as_json[1:] + as_yaml:
                    self.assertEqual(norm(doc), norm(as_json[0]))
                self.assertEqual(self.out(*self.e, *cmd, "-o", "table").splitlines()[0],
                                 table.splitlines()[0])

    def test_yaml_keeps_strings_strings(self):
        # info's values are JSON texts full of quotes, colons and braces.
        doc = yaml.safe_load(self.out(*self.e, "info", "-o", "yaml"))
        self.assertIsInstance(doc["info"]["crimp"], str)
        self.assertEqual(json.loads(doc["info"]["crimp"])["backends"][0]["name"], "slow")
        self.assertEqual(doc["status"]["conditions"][0]["type"], "RuntimeReady")
        self.assertIs(doc["status"]["conditions"][0]["status"], True)

    def test_trace_as_data(self):
        for fmt, parse in (("json", json.loads), ("yaml", yaml.safe_load)):
            with self.subTest(fmt=fmt):
                p = subprocess.Popen([CRIMPCTL, *self.e, "trace", "--all", "-o", fmt],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                lines = []
                reader = threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True)
                reader.start()
                try:
                    time.sleep(0.5)
                    ctl(*self.e, "version")
                    ctl(*self.e, "version")  # a second call: YAML's next "---" ends the first
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline and sum(
                            1 for x in lines if x.startswith(("{", "---"))) < 2:
                        time.sleep(0.05)
                finally:
                    p.kill()
                    p.wait()
                    reader.join(5)
                    p.stdout.close()
                if fmt == "json":
                    text = lines[0]
                else:
                    starts = [k for k, x in enumerate(lines) if x.startswith("---")]
                    self.assertGreaterEqual(len(starts), 2, lines)
                    text = "".join(lines[starts[0] + 1:starts[1]])
                call = parse(text)
                self.assertEqual(call["method"], "Version", text)
                self.assertIn("duration_us", call)

    def test_bad_format_is_a_usage_error(self):
        for args in (["version", "-o", "xml"], ["-o"], ["info", "--output="]):
            r = ctl(*self.e, *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("table, json or yaml", r.stderr)


if __name__ == "__main__":
    main()
