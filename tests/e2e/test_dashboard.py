"""The Grafana dashboards in contrib/grafana are tested the way an operator
uses them: Debian's Prometheus scrapes a running crimpd (two backends, a
pod on one, calls on both, some failing) and every panel's query of both
dashboards must return data.  A metric renamed in crimpd, or a typo in a
panel, fails here instead of showing an empty panel on a node."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

import grpc

from crimpe2e import PB, Crimpd, SlowBackend, bed_env, end_suite, main
from test_metrics import Prometheus, free_port

BED = bed_env()
CTR = "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]
HERE = os.path.dirname(os.path.abspath(__file__))
GRAFANA = os.path.join(HERE, "..", "..", "contrib", "grafana")


def panel_queries(name):
    with open(os.path.join(GRAFANA, name)) as f:
        board = json.load(f)
    for p in board["panels"]:
        for t in p["targets"]:
            # What Grafana substitutes: every node, a one-minute window.
            expr = t["expr"].replace("$instance", ".*").replace("$__rate_interval", "1m")
            yield f'{name}: {p["title"]}', expr


class Dashboards(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="crimp-dash.")
        cls.slow = SlowBackend(block_seconds=0.01).__enter__()
        cls.port = free_port()
        cls.crimpd = Crimpd(backends=[f"ctr=cri:{CTR}", f"slow=cri:{cls.slow.endpoint}"],
                            extra=["--metrics-listen", f"127.0.0.1:{cls.port}"]).start()
        cls.c = cls.crimpd.client
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="dash", namespace="e2e", uid=str(uuid.uuid4())),
            hostname="dash", log_directory=os.path.join(cls.tmp, "logs"),
            linux=PB.LinuxPodSandboxConfig())
        cls.pod = cls.c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id

    @classmethod
    def tearDownClass(cls):
        end_suite(cls.c, cls.pod, cls.crimpd, lambda: cls.slow.__exit__(None, None, None),
                  lambda: shutil.rmtree(cls.tmp, ignore_errors=True))

    def test_cluster_scrape_config_is_valid(self):
        path = os.path.join(HERE, "..", "..", "contrib", "prometheus", "crimp-scrape.yml")
        r = subprocess.run(["promtool", "check", "config", path], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def traffic(self):
        for _ in range(5):
            self.c.call("ListContainers")  # both backends: A/B latency
            self.c.call("PodSandboxStatus", pod_sandbox_id=self.pod)
            with self.assertRaises(grpc.RpcError):
                self.c.call("ContainerStatus", container_id="no-such-container")

    def test_every_panel_query_returns_data(self):
        queries = list(panel_queries("crimp-node.json")) + list(panel_queries("crimp-fleet.json"))
        self.assertGreater(len(queries), 20)
        with Prometheus(self.port) as prom:
            empty = queries
            deadline = time.monotonic() + 90
            while empty and time.monotonic() < deadline:
                self.traffic()  # rates need samples on both sides of a scrape
                time.sleep(2)
                try:
                    empty = [(t, e) for t, e in queries if not prom.query(e)]
                except OSError:
                    continue  # Prometheus still starting
            self.assertEqual(empty, [], "panels whose query returned nothing")
            pods = prom.query('crimp_backend_pods{backend="ctr"}')
            self.assertEqual(float(pods[0]["value"][1]), 1.0)
            default = prom.query("crimp_backend_default == 1")
            self.assertEqual([r["metric"]["backend"] for r in default], ["ctr"])

if __name__ == "__main__":
    main()
