"""The docker backend answers lists and statuses from what it keeps in
memory (the container inventory and the image cache), fed by Docker's
events and by crimp's own calls: once warm, ListContainers,
ListPodSandbox, ContainerStatus, PodSandboxStatus, ListImages,
ImageStatus and ImageFsInfo make no Docker call; what another client
changes is seen after its event; what crimp itself did is seen at once."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

from crimpe2e import PB, bed_env, end_suite, main, wait_for
from test_docker_adopt import crimpd_for_docker, docker

BED = bed_env()
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
CACHED = ("ListContainers", "ListPodSandbox", "ContainerStatus", "PodSandboxStatus",
          "ListImages", "ImageStatus", "ImageFsInfo")


class DockerCaches(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-docker-caches.")
        cls.crimpd = crimpd_for_docker(cls.state, {
            "cri_dockerd_root": os.path.join(cls.state, "cri-dockerd")}).start()
        cls.c = cls.crimpd.client
        cls.pod_cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name="cached", namespace="e2e", uid=str(uuid.uuid4())),
            log_directory=os.path.join(cls.state, "logs"), linux=PB.LinuxPodSandboxConfig())
        os.makedirs(cls.pod_cfg.log_directory)
        cls.pod = cls.c.call("RunPodSandbox", config=cls.pod_cfg, timeout=120).pod_sandbox_id

    @classmethod
    def tearDownClass(cls):
        end_suite(cls.c, cls.pod, cls.crimpd, lambda: shutil.rmtree(cls.state, ignore_errors=True))

    def create(self, name):
        cfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name=name),
                                 image=PB.ImageSpec(image=BUSYBOX), command=["sleep", "600"],
                                 log_path=name + ".log")
        return self.c.call("CreateContainer", pod_sandbox_id=self.pod, config=cfg,
                           sandbox_config=self.pod_cfg, timeout=60).container_id

    def state_of(self, cid):
        return self.c.call("ContainerStatus", container_id=cid).status.state

    def listed(self):
        return {c.id: c.state for c in self.c.call("ListContainers").containers}

    def calls(self):
        out = subprocess.run(["curl", "-fsS", "--unix-socket", self.crimpd.admin,
                              "http://crimp/v1/calls?limit=200"], capture_output=True, text=True,
                             check=True)
        return json.loads(out.stdout)

    def test_crimps_own_calls_show_at_once(self):
        cid = self.create("own")
        self.assertEqual(self.state_of(cid), PB.CONTAINER_CREATED)
        self.assertEqual(self.listed()[cid], PB.CONTAINER_CREATED)
        self.c.call("StartContainer", container_id=cid, timeout=60)
        self.assertEqual(self.state_of(cid), PB.CONTAINER_RUNNING)
        self.assertEqual(self.listed()[cid], PB.CONTAINER_RUNNING)
        self.c.call("UpdateContainerResources", container_id=cid,
                    linux=PB.LinuxContainerResources(cpu_shares=77))
        st = self.c.call("ContainerStatus", container_id=cid).status
        self.assertEqual(st.resources.linux.cpu_shares, 77)
        self.c.call("StopContainer", container_id=cid, timeout=1)
        self.assertEqual(self.state_of(cid), PB.CONTAINER_EXITED)
        self.assertEqual(self.listed()[cid], PB.CONTAINER_EXITED)
        self.c.call("RemoveContainer", container_id=cid)
        self.assertNotIn(cid, self.listed())

    def test_other_clients_changes_show_after_their_event(self):
        name = f"k8s_other_cached_e2e_{uuid.uuid4().hex[:8]}_0"
        cid = docker("run", "-d", "--name", name, "--label", "io.kubernetes.docker.type=container",
                     "--label", "io.kubernetes.sandbox.id=" + self.pod,
                     "--label", "io.kubernetes.container.name=other", BUSYBOX, "sleep", "600")
        try:
            wait_for(lambda: self.listed().get(cid) == PB.CONTAINER_RUNNING, 10,
                     "the other client's container listed as running")
            docker("stop", "-t", "0", cid)
            wait_for(lambda: self.state_of(cid) == PB.CONTAINER_EXITED, 10,
                     "its exit seen in ContainerStatus")
            self.assertEqual(self.listed()[cid], PB.CONTAINER_EXITED)
        finally:
            docker("rm", "-f", cid, check=False)
        wait_for(lambda: cid not in self.listed(), 10, "its removal seen")

    def test_images_follow_tags_pulls_and_removals(self):
        extra = f"{BED['CRIMP_BED_REGISTRY']}/crimp/cached:{uuid.uuid4().hex[:8]}"

        def status(ref):
            return self.c.call("ImageStatus", image=PB.ImageSpec(image=ref)).image

        def tags():
            return {t for i in self.c.call("ListImages").images for t in i.repo_tags}

        docker("tag", BUSYBOX, extra)
        wait_for(lambda: extra in tags(), 10, "another client's tag listed")
        self.assertEqual(status(extra).id, status(BUSYBOX).id)
        docker("rmi", extra)
        wait_for(lambda: not status(extra).id, 10, "its untag seen")
        # crimp's own: a pull shows at once; so does a removal.
        docker("tag", BUSYBOX, extra)
        wait_for(lambda: extra in tags(), 10, "tag listed")
        self.c.call("RemoveImage", image=PB.ImageSpec(image=extra), timeout=60)
        self.assertFalse(status(extra).id)
        self.assertFalse(status(BUSYBOX).id)  # the same image: every tag went
        self.c.call("PullImage", image=PB.ImageSpec(image=BUSYBOX), timeout=120)
        self.assertTrue(status(BUSYBOX).id)
        self.assertNotIn(extra, tags())

    def test_warm_reads_make_no_docker_call(self):
        cid = self.create("warm")
        self.c.call("StartContainer", container_id=cid, timeout=60)
        for _ in range(2):  # the first may inspect what crimp just changed
            self.c.call("ListContainers")
            self.c.call("ListPodSandbox")
            self.c.call("ContainerStatus", container_id=cid)
            self.c.call("PodSandboxStatus", pod_sandbox_id=self.pod)
            self.c.call("ListImages")
            self.c.call("ImageStatus", image=PB.ImageSpec(image=BUSYBOX))
            self.c.call("ImageFsInfo")
        recent = [x for x in self.calls() if x["method"] in CACHED][-len(CACHED):]  # oldest first
        self.assertEqual(sorted(x["method"] for x in recent), sorted(CACHED))
        for x in recent:
            self.assertEqual([sp["name"] for sp in x["spans"]], [], x["method"])
        self.assertGreater(self.c.call("ImageFsInfo").image_filesystems[0].used_bytes.value, 0)
        self.c.call("StopContainer", container_id=cid, timeout=1)
        self.c.call("RemoveContainer", container_id=cid)


if __name__ == "__main__":
    main()
