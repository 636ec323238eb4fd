"""crimpctl pull: PullImage through the CRI socket with the progress
crimpd reports on GET /v1/pulls (layers and bytes per pull, kept a few
seconds after the end), on the docker backend (from dockerd's progress
stream) and on the containerd backend (from crimp's own registry client)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from crimpe2e import CRIMPCTL, PB, Crimpd, bed_env, main

BED = bed_env()
IMAGE = BED["CRIMP_BED_BUSYBOX_IMAGE"]


def backend_config(state, kind):
    options = {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
               "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"], "cni_bin_dirs": "/usr/lib/cni"}
    if kind == "docker":
        endpoint = "unix://" + BED["CRIMP_BED_DOCKER_SOCK"]
    else:
        endpoint = "unix://" + BED["CRIMP_BED_CONTAINERD_NATIVE_SOCK"]
        options["namespace"] = "crimp-e2e-pull"
    path = os.path.join(state, "crimpd.json")
    with open(path, "w") as f:
        json.dump({"backends": [{"name": kind, "type": kind, "endpoint": endpoint,
                                 "options": options}]}, f)
    return path


class PullProgress(unittest.TestCase):
    def pull_with_progress(self, kind):
        state = tempfile.mkdtemp(prefix="crimp-pull-e2e.")
        try:
            with Crimpd(extra=["--config", backend_config(state, kind),
                               "--state-dir", os.path.join(state, "crimp")]) as d:
                spec = PB.ImageSpec(image=IMAGE)
                if d.client.call("ImageStatus", image=spec).HasField("image"):
                    d.client.call("RemoveImage", image=spec, timeout=60)
                r = subprocess.run([CRIMPCTL, "-e", d.endpoint, "pull", IMAGE],
                                   capture_output=True, text=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertRegex(r.stdout, r"(?m)^Image is up to date for sha256:[0-9a-f]{64}$")
                self.assertRegex(r.stdout, rf"(?m)^pulled by {kind} in [\d.]+ s: "
                                           r"(\d+)/\1 layers, [\d.]+ MB$")
                self.assertTrue(d.client.call("ImageStatus", image=spec).HasField("image"))
                out = subprocess.run(["curl", "-fsS", "--unix-socket", d.admin,
                                      "http://crimp/v1/pulls"], capture_output=True, text=True)
                pulls = [p for p in json.loads(out.stdout)["pulls"] if IMAGE in p["image"]]
                self.assertEqual(len(pulls), 1, out.stdout)
                p = pulls[0]
                self.assertTrue(p["done"] and p["ok"], p)
                self.assertGreaterEqual(p["layers_total"], 1)
                self.assertEqual(p["layers_done"], p["layers_total"], p)
                self.assertEqual(p["bytes_done"], p["bytes_total"], p)
                return p
        finally:
            shutil.rmtree(state, ignore_errors=True)

    def test_containerd_backend_reports_layers_and_bytes(self):
        p = self.pull_with_progress("containerd")
        # crimp fetched the layer itself: its size is known to the byte.
        self.assertGreater(p["bytes_total"], 100_000, p)
        self.assertTrue(all(l["id"].startswith("sha256:") for l in p["layers"]), p)

    def test_docker_backend_reports_layers(self):
        self.pull_with_progress("docker")

    def test_a_failed_pull_is_marked_so(self):
        state = tempfile.mkdtemp(prefix="crimp-pull-e2e.")
        try:
            with Crimpd(extra=["--config", backend_config(state, "containerd"),
                               "--state-dir", os.path.join(state, "crimp")]) as d:
                missing = BED["CRIMP_BED_REGISTRY"] + "/crimp/no-such-image:1"
                r = subprocess.run([CRIMPCTL, "-e", d.endpoint, "pull", missing],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 1)
                self.assertIn("NOT_FOUND", r.stderr)
                out = subprocess.run(["curl", "-fsS", "--unix-socket", d.admin,
                                      "http://crimp/v1/pulls"], capture_output=True, text=True)
                pulls = [p for p in json.loads(out.stdout)["pulls"] if "no-such-image" in p["image"]]
                self.assertEqual([(p["done"], p["ok"]) for p in pulls], [(True, False)])
        finally:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
