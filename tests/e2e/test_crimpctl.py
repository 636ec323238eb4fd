"""crimpctl, crimp's own CRI client, against a real crimpd."""
import json
import subprocess
import unittest

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


if __name__ == "__main__":
    main()
