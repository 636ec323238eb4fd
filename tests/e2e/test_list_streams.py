"""The Stream* list RPCs (StreamPodSandboxes, StreamContainers,
StreamContainerStats, StreamPodSandboxStats, StreamPodSandboxMetrics,
StreamImages): on each backend against the bed's daemons they return exactly
the items of their unary twin with the same filter, one message each; across
two backends they are merged like the unary lists; and a list larger than the
gRPC message limit streams where the unary call fails."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

import grpc

from crimpe2e import METHODS, PB, Crimpd, bed_env, main, remove_pods

BED = bed_env()
DOCKER_SOCK = BED["CRIMP_BED_DOCKER_SOCK"]
CTR = "unix://" + BED["CRIMP_BED_CONTAINERD_SOCK"]
NATIVE = BED.get("CRIMP_BED_CONTAINERD_NATIVE_SOCK", "")
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]
NS = "crimp-e2e-ls"

DOCKER = {"name": "docker", "type": "docker", "endpoint": "unix://" + DOCKER_SOCK,
          "options": {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                      "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"]}}
CONTAINERD = {"name": "containerd", "type": "containerd", "endpoint": "unix://" + NATIVE,
              "options": {"namespace": NS, "pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
                          "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"],
                          "cni_bin_dirs": "/usr/lib/cni"}}
CRI = {"name": "cri", "type": "cri", "endpoint": CTR}

# Unary twin, its stream, the stream message's field, and how an item is named.
TWINS = [
    ("ListPodSandbox", "StreamPodSandboxes", "items", "pod_sandboxes", lambda i: i.id),
    ("ListContainers", "StreamContainers", "containers", "containers", lambda i: i.id),
    ("ListContainerStats", "StreamContainerStats", "stats", "container_stats",
     lambda i: i.attributes.id),
    ("ListPodSandboxStats", "StreamPodSandboxStats", "stats", "pod_sandbox_stats",
     lambda i: i.attributes.id),
    ("ListPodSandboxMetrics", "StreamPodSandboxMetrics", "pod_metrics", "pod_sandbox_metrics",
     lambda i: i.pod_sandbox_id),
    ("ListImages", "StreamImages", "images", "images", lambda i: i.id),
]


def config_file(dirname, backends, **top):
    path = os.path.join(dirname, "crimpd-%s.json" % uuid.uuid4().hex[:6])
    with open(path, "w") as f:
        json.dump(dict(default_backend=backends[0]["name"], backends=backends, **top), f)
    return path


class StreamsMixin:
    """Pods made through self.c on BACKENDS (a runtime_handler names each),
    two per backend with a running container, then every twin compared."""
    BACKENDS = []
    CGROUP_PARENT = ""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="crimp-ls.", dir="/tmp")
        cls.crimpd = Crimpd(extra=["--config", config_file(cls.dir, cls.BACKENDS),
                                   "--state-dir", os.path.join(cls.dir, "s")]).start()
        cls.c = cls.crimpd.client
        cls.pods = []
        cls.tag = uuid.uuid4().hex[:8]
        try:
            for b in cls.BACKENDS:
                for k in range(2):
                    cls.make_pod(b["name"], k)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def make_pod(cls, backend, k):
        name = f"ls-{backend}-{k}"
        cfg = PB.PodSandboxConfig(
            metadata=PB.PodSandboxMetadata(name=name, namespace=NS, uid=str(uuid.uuid4())),
            hostname=name, log_directory=os.path.join(cls.dir, "logs", name),
            labels={"run": cls.tag, "backend": backend, "k": str(k)},
            linux=PB.LinuxPodSandboxConfig(cgroup_parent=cls.CGROUP_PARENT))
        handler = backend if len(cls.BACKENDS) > 1 else ""
        pod = cls.c.call("RunPodSandbox", config=cfg, runtime_handler=handler,
                         timeout=120).pod_sandbox_id
        cls.pods.append(pod)
        # With a pod's config the pull goes to that pod's backend.
        cls.c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX),
                                                    sandbox_config=cfg), timeout=120)
        ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="app"),
                                  image=PB.ImageSpec(image=BUSYBOX), command=["sleep", "300"],
                                  labels={"run": cls.tag}, log_path="app.log",
                                  linux=PB.LinuxContainerConfig())
        cid = cls.c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg,
                         timeout=60).container_id
        if k == 0:
            cls.c.call("StartContainer", container_id=cid, timeout=60)

    @classmethod
    def tearDownClass(cls):
        remove_pods(cls.c, cls.pods)
        cls.crimpd.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def compare(self, unary, stream, field, sfield, key, **fields):
        try:
            listed = getattr(self.c.call(unary, **fields), field)
        except grpc.RpcError as e:
            # The runtime cannot list these: the stream says the same.
            with self.assertRaises(grpc.RpcError) as cm:
                list(self.c.stub(stream)(METHODS[stream][1](**fields), timeout=30))
            self.assertEqual(cm.exception.code(), e.code(), cm.exception.details())
            return None
        msgs = list(self.c.stub(stream)(METHODS[stream][1](**fields), timeout=30))
        for m in msgs:
            self.assertEqual(len(getattr(m, sfield)), 1, f"{stream}: one item per message")
        streamed = [key(getattr(m, sfield)[0]) for m in msgs]
        self.assertEqual(sorted(streamed), sorted(key(i) for i in listed),
                         f"{stream} vs {unary} with {fields}")
        return streamed

    def test_each_stream_equals_its_twin(self):
        mine = {"run": self.tag}
        pod0 = self.pods[0]
        filters = {
            "ListPodSandbox": [{}, {"filter": PB.PodSandboxFilter(label_selector=mine)},
                               {"filter": PB.PodSandboxFilter(id=pod0)},
                               {"filter": PB.PodSandboxFilter(
                                   label_selector={**mine, "k": "1"})}],
            "ListContainers": [{}, {"filter": PB.ContainerFilter(pod_sandbox_id=pod0)},
                               {"filter": PB.ContainerFilter(state=PB.ContainerStateValue(
                                   state=PB.CONTAINER_RUNNING), label_selector=mine)}],
            "ListContainerStats": [{}, {"filter": PB.ContainerStatsFilter(pod_sandbox_id=pod0)},
                                   {"filter": PB.ContainerStatsFilter(label_selector=mine)}],
            "ListPodSandboxStats": [{}, {"filter": PB.PodSandboxStatsFilter(label_selector=mine)},
                                    {"filter": PB.PodSandboxStatsFilter(id=pod0)}],
            "ListPodSandboxMetrics": [{}],
            "ListImages": [{}, {"filter": PB.ImageFilter(image=PB.ImageSpec(image=BUSYBOX))}],
        }
        for unary, stream, field, sfield, key in TWINS:
            for f in filters[unary]:
                with self.subTest(stream=stream, filter=str(f)):
                    self.compare(unary, stream, field, sfield, key, **f)
        # The filters did filter: the run's pods, all of them, only them.
        pods = self.compare("ListPodSandbox", "StreamPodSandboxes", "items", "pod_sandboxes",
                            lambda i: i.id, filter=PB.PodSandboxFilter(label_selector=mine))
        self.assertEqual(sorted(pods), sorted(self.pods))
        running = self.compare("ListContainers", "StreamContainers", "containers", "containers",
                               lambda i: i.pod_sandbox_id, filter=PB.ContainerFilter(
                                   state=PB.ContainerStateValue(state=PB.CONTAINER_RUNNING),
                                   label_selector=mine))
        self.assertEqual(sorted(running), sorted(self.pods[0::2]))


class DockerStreams(StreamsMixin, unittest.TestCase):
    BACKENDS = [DOCKER]


@unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
class ContainerdStreams(StreamsMixin, unittest.TestCase):
    BACKENDS = [CONTAINERD]


class CriStreams(StreamsMixin, unittest.TestCase):
    """containerd 1.6's CRI plugin has no Stream* RPCs: crimp streams its
    unary answers.  (Its pod stats need a cgroup parent; it has no
    ListPodSandboxMetrics at all, so neither has the stream.)"""
    BACKENDS = [CRI]
    CGROUP_PARENT = "/crimp-e2e-ls"

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for c in os.listdir("/sys/fs/cgroup"):
            try:
                os.rmdir(f"/sys/fs/cgroup/{c}{cls.CGROUP_PARENT}")
            except OSError:
                pass


@unittest.skipUnless(NATIVE, "the bed has no CRI-less containerd")
class MergedStreams(StreamsMixin, unittest.TestCase):
    """docker and containerd behind one crimpd: each stream carries both
    backends' items, as the unary lists do; the shared image once."""
    BACKENDS = [DOCKER, CONTAINERD]

    def test_both_backends_in_the_streams(self):
        msgs = list(self.c.stub("StreamPodSandboxes")(PB.StreamPodSandboxesRequest(
            filter=PB.PodSandboxFilter(label_selector={"run": self.tag})), timeout=30))
        self.assertEqual(sorted(m.pod_sandboxes[0].labels["backend"] for m in msgs),
                         ["containerd", "containerd", "docker", "docker"])
        images = [m.images[0].id for m in self.c.stub("StreamImages")(
            PB.StreamImagesRequest(filter=PB.ImageFilter(image=PB.ImageSpec(image=BUSYBOX))),
            timeout=30)]
        self.assertEqual(len(images), 1, "busybox is on both backends with one ID")


class Relay(unittest.TestCase):
    """A cri backend whose endpoint implements the Stream* RPCs (another
    crimpd, on docker) relays them rather than splitting a unary answer."""

    def test_relayed_through_crimp_chain(self):
        d = tempfile.mkdtemp(prefix="crimp-lsr.", dir="/tmp")
        try:
            with Crimpd(extra=["--config", config_file(d, [DOCKER]), "--state-dir",
                               os.path.join(d, "back")], name="back") as back, \
                 Crimpd(extra=["--config", config_file(d, [dict(CRI, endpoint=back.endpoint)]),
                               "--state-dir", os.path.join(d, "front")], name="front") as front:
                direct = sorted(i.id for i in back.client.call("ListImages").images)
                relayed = [m.images[0].id for m in front.client.stub("StreamImages")(
                    PB.StreamImagesRequest(), timeout=30)]
                self.assertEqual(sorted(relayed), direct)
                self.assertTrue(direct)
                # The back crimpd served StreamImages itself: it was relayed.
                out = subprocess.run(["curl", "-fsS", "--unix-socket", back.admin,
                                      "http://crimp/metrics"], capture_output=True, text=True,
                                     timeout=10).stdout
                self.assertRegex(out, r'method="[^"]*StreamImages"[^\n]*code="OK"')
        finally:
            shutil.rmtree(d, ignore_errors=True)


class OverTheMessageLimit(unittest.TestCase):
    """With crimpd's message limit lowered to 4 KiB, five pods with 1.5 KiB
    of annotations each no longer fit in one ListPodSandbox reply: the
    unary call fails, the stream returns all five."""

    def test_stream_passes_where_unary_fails(self):
        d = tempfile.mkdtemp(prefix="crimp-lsb.", dir="/tmp")
        run = uuid.uuid4().hex[:8]
        pods = []
        try:
            with Crimpd(extra=["--config", config_file(d, [DOCKER], max_message_bytes=4096),
                               "--state-dir", os.path.join(d, "s")]) as cd:
                for k in range(5):
                    cfg = PB.PodSandboxConfig(
                        metadata=PB.PodSandboxMetadata(name=f"big-{k}", namespace=NS,
                                                       uid=str(uuid.uuid4())),
                        labels={"run": run}, annotations={"blob": "x" * 1500},
                        linux=PB.LinuxPodSandboxConfig())
                    pods.append(cd.client.call("RunPodSandbox", config=cfg,
                                               timeout=120).pod_sandbox_id)
                filt = PB.PodSandboxFilter(label_selector={"run": run})
                try:
                    with self.assertRaises(grpc.RpcError) as cm:
                        cd.client.call("ListPodSandbox", filter=filt)
                    self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED,
                                     cm.exception.details())
                    msgs = list(cd.client.stub("StreamPodSandboxes")(
                        PB.StreamPodSandboxesRequest(filter=filt), timeout=30))
                    self.assertEqual(sorted(m.pod_sandboxes[0].id for m in msgs), sorted(pods))
                    self.assertEqual(msgs[0].pod_sandboxes[0].annotations["blob"], "x" * 1500)
                    # A client that leaves after the first item: crimpd stops
                    # streaming and goes on serving.
                    it = cd.client.stub("StreamPodSandboxes")(
                        PB.StreamPodSandboxesRequest(filter=filt), timeout=30)
                    next(it)
                    it.cancel()
                    self.assertEqual(cd.client.call("Version").runtime_name, "crimp")
                    self.assertEqual(len(list(cd.client.stub("StreamPodSandboxes")(
                        PB.StreamPodSandboxesRequest(filter=filt), timeout=30))), 5)
                finally:
                    for pod in pods:
                        cd.client.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
                        cd.client.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
