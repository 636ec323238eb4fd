"""The containerd backend answers ListImages, ImageStatus and ImageFsInfo
from memory: image records followed through containerd's events (another
client's tag or removal shows after its event; crimp's own pull or
removal at once) and the image filesystem measured in the background.
Once warm these calls make no containerd call at all."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

from crimpe2e import PB, Crimpd, bed_env, main, wait_for

BED = bed_env()
SOCK = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
NS = "crimp-e2e-caches"
CACHED = ("ListImages", "ImageStatus", "ImageFsInfo")


def ctr(*args):
    out = subprocess.run(["ctr", "--address", SOCK, "-n", NS, *args], capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"ctr {' '.join(args)}: {out.stderr}")
    return out.stdout


@unittest.skipUnless(SOCK, "the bed has no CRI-less containerd")
class ContainerdCaches(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-ctrd-caches.")
        cfg = os.path.join(cls.state, "crimpd.json")
        with open(cfg, "w") as f:
            json.dump({"backends": [{"name": "containerd", "type": "containerd",
                                     "endpoint": "unix://" + SOCK,
                                     "options": {"namespace": NS,
                                                 "pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                                                 "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                                                 "cni_bin_dirs": "/usr/lib/cni"}}]}, f)
        cls.crimpd = Crimpd(extra=["--config", cfg, "--state-dir",
                                   os.path.join(cls.state, "crimp")]).start()
        cls.c = cls.crimpd.client

    @classmethod
    def tearDownClass(cls):
        try:
            cls.c.call("RemoveImage", image=PB.ImageSpec(image=BUSYBOX), timeout=60)
        finally:
            cls.crimpd.cleanup()
            shutil.rmtree(cls.state, ignore_errors=True)

    def status(self, ref):
        return self.c.call("ImageStatus", image=PB.ImageSpec(image=ref)).image

    def tags(self):
        return {t for i in self.c.call("ListImages").images for t in i.repo_tags}

    def test_images_follow_other_clients_and_crimps_own_calls(self):
        self.c.call("PullImage", image=PB.ImageSpec(image=BUSYBOX), timeout=120)
        self.assertTrue(self.status(BUSYBOX).id)  # at once, not after the event
        extra = f"{BED['CRIMP_BED_REGISTRY']}/crimp/cached:{uuid.uuid4().hex[:8]}"
        ctr("images", "tag", BUSYBOX, extra)
        wait_for(lambda: extra in self.tags(), 10, "ctr's tag listed")
        self.assertEqual(self.status(extra).id, self.status(BUSYBOX).id)
        ctr("images", "rm", extra)
        wait_for(lambda: not self.status(extra).id, 10, "ctr's removal seen")
        self.c.call("RemoveImage", image=PB.ImageSpec(image=BUSYBOX), timeout=60)
        self.assertFalse(self.status(BUSYBOX).id)
        self.assertNotIn(BUSYBOX, self.tags())
        self.c.call("PullImage", image=PB.ImageSpec(image=BUSYBOX), timeout=120)
        self.assertIn(BUSYBOX, self.tags())

    def test_warm_reads_make_no_containerd_call(self):
        self.c.call("PullImage", image=PB.ImageSpec(image=BUSYBOX), timeout=120)
        wait_for(lambda: self.c.call("ImageFsInfo").image_filesystems[0].used_bytes.value > 0,
                 10, "the image filesystem measured")
        for _ in range(2):  # the first may ask whether the image is unpacked
            self.c.call("ListImages")
            self.c.call("ImageStatus", image=PB.ImageSpec(image=BUSYBOX))
            self.c.call("ImageFsInfo")
        out = subprocess.run(["curl", "-fsS", "--unix-socket", self.crimpd.admin,
                              "http://crimp/v1/calls?limit=200"], capture_output=True, text=True,
                             check=True)
        recent = [x for x in json.loads(out.stdout) if x["method"] in CACHED][-len(CACHED):]
        self.assertEqual(sorted(x["method"] for x in recent), sorted(CACHED))
        for x in recent:
            self.assertEqual([sp["name"] for sp in x["spans"]], [], x["method"])


if __name__ == "__main__":
    main()
