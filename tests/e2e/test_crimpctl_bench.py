"""crimpctl bench: the same pod lifecycle workload through crimpd on two
backends (docker, and containerd's CRI plugin behind the cri backend),
side by side."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from crimpe2e import CRIMPCTL, Crimpd, bed_env, main

BED = bed_env()


class Bench(unittest.TestCase):
    def test_two_backends_side_by_side(self):
        state = tempfile.mkdtemp(prefix="crimp-bench-e2e.")
        cfg = {"backends": [
            {"name": "docker", "type": "docker", "endpoint": "unix://" + BED["CRIMP_BED_DOCKER_SOCK"],
             "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                         "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                         # counts pods: none of a host cri-dockerd's checkpoints
                         "cri_dockerd_root": ""}},
            {"name": "containerd", "type": "cri",
             "endpoint": "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]}]}
        path = os.path.join(state, "crimpd.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        saved = os.path.join(state, "bench.json")
        try:
            with Crimpd(extra=["--config", path, "--state-dir", os.path.join(state, "s")]) as d:
                r = subprocess.run([CRIMPCTL, "-e", d.endpoint, "bench", "--backends",
                                    "docker,containerd", "--pods", "2", "--containers", "2",
                                    "--parallel", "2", "--image", BED["CRIMP_BED_BUSYBOX_IMAGE"],
                                    "--save", saved], capture_output=True, text=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertRegex(r.stdout, r"(?m)^CRI call\s+\| docker .*\| containerd .*\| p50 containerd/docker")
                self.assertRegex(r.stdout, r"(?m)^RunPodSandbox\s+\|\s+2\s+[\d.]+.*\|\s+2\s+[\d.]+.*x$")
                self.assertRegex(r.stdout, r"(?m)^ExecSync\s+\|\s+4\s")
                with open(saved) as f:
                    doc = json.load(f)
                self.assertEqual(doc["backends"]["containerd"]["CreateContainer"]["n"], 4)
                self.assertEqual(len(doc["backends"]["docker"]["StopContainer"]["samples_ms"]), 4)
                # Everything the bench made is gone again.
                left = subprocess.run([CRIMPCTL, "-e", d.endpoint, "--json", "backend", "list"],
                                      capture_output=True, text=True)
                for b in json.loads(left.stdout)["backends"]:
                    self.assertEqual((b["pods"], b["containers"]), (0, 0), b)
        finally:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
