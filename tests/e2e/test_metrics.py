"""What crimpd measures, seen from outside: Prometheus text that promtool
accepts and a real Prometheus scrapes over loopback, the latency summary and
HTML report of crimpctl, and the live call trace."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from crimpe2e import CRIMPCTL, PB, Crimpd, SlowBackend, main


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def admin_get(sock, path):
    out = subprocess.run(["curl", "-fsS", "--unix-socket", sock, "http://crimp" + path],
                         capture_output=True, text=True, timeout=10)
    return out.returncode, out.stdout


class Prometheus:
    """Debian's Prometheus on a free loopback port, scraping crimpd's TCP
    /metrics on PORT every second, in a temp dir it removes."""

    def __init__(self, port):
        self.dir = tempfile.mkdtemp(prefix="crimp-prom.")
        self.web = free_port()
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write("global: {scrape_interval: 1s}\nscrape_configs:\n"
                    f"  - job_name: crimp\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")

    def __enter__(self):
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(["prometheus", f"--config.file={self.dir}/prometheus.yml",
                                      f"--storage.tsdb.path={self.dir}/data",
                                      f"--web.listen-address=127.0.0.1:{self.web}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, expr):
        """The instant query's result list; OSError while it starts."""
        q = urllib.parse.quote(expr)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web}/api/v1/query?query={q}",
                                    timeout=5) as r:
            body = json.load(r)
        if body["status"] != "success":
            raise AssertionError(f"{expr}: {body}")
        return body["data"]["result"]


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.slow = SlowBackend(block_seconds=0.01).__enter__()
        cls.port = free_port()
        cls.crimpd = Crimpd(backends=[f"slow=cri:{cls.slow.endpoint}"],
                            extra=["--metrics-listen", f"127.0.0.1:{cls.port}"]).start()
        for _ in range(20):
            cls.crimpd.client.call("Version")
            cls.crimpd.client.call("ListContainers")

    @classmethod
    def tearDownClass(cls):
        cls.crimpd.cleanup()
        cls.slow.__exit__(None, None, None)

    def test_promtool_accepts_the_exposition(self):
        rc, text = admin_get(self.crimpd.admin, "/metrics")
        self.assertEqual(rc, 0)
        self.assertRegex(text, r'(?m)^crimp_cri_call_duration_seconds_count\{service="RuntimeService",'
                               r'method="ListContainers",backend="slow",code="OK"\} 2\d$')
        self.assertIn("crimp_backend_subcall_duration_seconds", text)
        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_tcp_listener_serves_metrics_only(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            self.assertIn(b"crimp_build_info", r.read())
        for path in ("/v1/backends", "/v1/calls"):
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5)
            self.assertEqual(cm.exception.code, 404)
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/backends/slow/default",
                                     method="POST")
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(req, timeout=5)

    def test_a_real_prometheus_scrapes_crimpd(self):
        with Prometheus(self.port) as prom:
            deadline = time.monotonic() + 60
            value = None
            while time.monotonic() < deadline and value is None:
                time.sleep(1)
                try:
                    res = prom.query('crimp_cri_call_duration_seconds_count{method="ListContainers"}')
                    if res:
                        value = float(res[0]["value"][1])
                except OSError:
                    pass
            self.assertIsNotNone(value, "Prometheus never had the series")
            self.assertGreaterEqual(value, 20)

    def test_crimpctl_latency_table_json_and_html(self):
        r = subprocess.run([CRIMPCTL, "-e", self.crimpd.endpoint, "latency"], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Version is crimp's own; ListContainers is the slow backend's column.
        self.assertRegex(r.stdout, r"(?m)^METHOD\s+\| crimp .*\| slow ")
        self.assertRegex(r.stdout, r"(?m)^ListContainers\s+\|\s+-\s+\|\s+2\d\s+[\d.]+")
        r = subprocess.run([CRIMPCTL, "-e", self.crimpd.endpoint, "--json", "latency"],
                           capture_output=True, text=True, timeout=20)
        doc = json.loads(r.stdout)
        lc = [s for s in doc["calls"] if s["method"] == "ListContainers"][0]
        self.assertGreaterEqual(lc["count"], 20)
        self.assertAlmostEqual(lc["cdf_ms"][-1][1], 1.0)
        html = os.path.join(self.crimpd.dir, "lat.html")
        r = subprocess.run([CRIMPCTL, "-e", self.crimpd.endpoint, "latency", "--html", html],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(html) as f:
            page = f.read()
        self.assertEqual(page.count("<svg"), 2)
        self.assertIn("ListContainers", page)
        self.assertNotIn("<script", page)

    def test_crimpctl_trace_shows_backend_calls(self):
        t = subprocess.Popen([CRIMPCTL, "-e", self.crimpd.endpoint, "trace"],
                             stdout=subprocess.PIPE, text=True)
        try:
            time.sleep(0.5)
            self.crimpd.client.call("ListContainers")
            self.crimpd.client.call("Version")
            line = t.stdout.readline()  # the banner
            self.assertIn("following", line)
            call = t.stdout.readline()
            span = t.stdout.readline()
        finally:
            t.kill()
            t.wait()
        self.assertRegex(call, r"ListContainers -> slow\s+OK\s+[\d.]+ ms")
        self.assertRegex(span, r"└─ \+[\d.]+\s+grpc RuntimeService/ListContainers\s+0\s+[\d.]+ ms")


if __name__ == "__main__":
    main()
