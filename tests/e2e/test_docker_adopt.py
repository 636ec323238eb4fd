"""The docker backend beside containers it did not make: a plain `docker
run` container is never touched by any RPC that takes an ID; pods and
containers made the way cri-dockerd makes them (labels, names, checkpoint,
CNI attachment) are served as crimp's own, with the same IDs; crimp's own
pods carry what cri-dockerd reads, so it can take them back."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import uuid

import grpc

import spdyclient
from crimpe2e import PB, Crimpd, bed_env, leased_ips, main, pod_net_prefix, read_text, wait_for

BED = bed_env()
DOCKER_SOCK = BED["CRIMP_BED_DOCKER_SOCK"]
BUSYBOX = BED["CRIMP_BED_BUSYBOX_IMAGE"]


def docker(*args, check=True):
    """The docker CLI on the bed's dockerd; its stdout."""
    out = subprocess.run(["docker", "-H", "unix://" + DOCKER_SOCK, *args], capture_output=True,
                         text=True, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {out.stderr}")
    return out.stdout.strip()


def crimpd_for_docker(state, extra_options=None):
    cfg = os.path.join(state, "crimpd.json")
    options = {"pause_image": BED["CRIMP_BED_PAUSE_IMAGE"],
               "cni_conf_dir": BED["CRIMP_BED_CNI_CONF_DIR"], "cni_bin_dirs": "/usr/lib/cni"}
    options.update(extra_options or {})
    with open(cfg, "w") as f:
        json.dump({"backends": [{"name": "docker", "type": "docker",
                                 "endpoint": "unix://" + DOCKER_SOCK, "options": options}]}, f)
    return Crimpd(extra=["--config", cfg, "--state-dir", os.path.join(state, "crimp")])


class NeverTouchOthers(unittest.TestCase):
    """Every RPC that takes an ID, given a bystander's name, full ID or ID
    prefix, or a path-shaped ID: NOT_FOUND (or OK where CRI makes the call
    idempotent), and the bystander runs on untouched."""

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-adopt-e2e.")
        docker("rm", "-f", "victim", check=False)
        cls.victim = docker("run", "-d", "--name", "victim", BUSYBOX, "sleep", "600")
        cls.crimpd = crimpd_for_docker(cls.state, {
            "cri_dockerd_root": os.path.join(cls.state, "cri-dockerd")}).start()
        cls.c = cls.crimpd.client

    @classmethod
    def tearDownClass(cls):
        cls.crimpd.cleanup()
        docker("rm", "-f", "victim", check=False)
        shutil.rmtree(cls.state, ignore_errors=True)

    def bad_ids(self):
        return ["victim", self.victim, self.victim[:12], "../../v1.41/images/x",
                "..%2F..%2Fv1.41%2Fcontainers%2Fvictim", self.victim + "/../../victim", "/victim"]

    def expect(self, rpc, codes, **fields):
        try:
            self.c.call(rpc, timeout=30, **fields)
            got = grpc.StatusCode.OK
        except grpc.RpcError as e:
            got = e.code()
        self.assertIn(got, codes, f"{rpc} {fields}")

    def test_no_rpc_reaches_a_bystander(self):
        nf, ok = (grpc.StatusCode.NOT_FOUND,), (grpc.StatusCode.OK,)
        cfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="x"),
                                 image=PB.ImageSpec(image=BUSYBOX))
        pod_cfg = PB.PodSandboxConfig(metadata=PB.PodSandboxMetadata(name="x", namespace="x",
                                                                    uid="x"))
        for bad in self.bad_ids():
            with self.subTest(id=bad):
                self.expect("StopContainer", nf, container_id=bad)
                self.expect("RemoveContainer", ok, container_id=bad)
                self.expect("StartContainer", nf, container_id=bad)
                self.expect("ContainerStatus", nf, container_id=bad)
                self.expect("UpdateContainerResources", nf, container_id=bad,
                            linux=PB.LinuxContainerResources(cpu_shares=3))
                self.expect("ReopenContainerLog", nf, container_id=bad)
                self.expect("ExecSync", nf, container_id=bad, cmd=["kill", "1"])
                self.expect("Exec", nf, container_id=bad, cmd=["kill", "1"], stdout=True)
                self.expect("Attach", nf, container_id=bad, stdout=True)
                self.expect("ContainerStats", nf, container_id=bad)
                self.expect("CreateContainer", nf, pod_sandbox_id=bad, config=cfg,
                            sandbox_config=pod_cfg)
                self.expect("PodSandboxStatus", nf, pod_sandbox_id=bad)
                self.expect("PodSandboxStats", nf, pod_sandbox_id=bad)
                self.expect("PortForward", nf, pod_sandbox_id=bad, port=[80])
                self.expect("StopPodSandbox", ok, pod_sandbox_id=bad)
                self.expect("RemovePodSandbox", ok, pod_sandbox_id=bad)
        self.assertEqual(docker("inspect", "-f", "{{.State.Running}} {{.HostConfig.CpuShares}}",
                                self.victim), "true 0")
        self.assertNotIn(self.victim, [c.id for c in self.c.call("ListContainers").containers])
        self.assertNotIn(self.victim, [p.id for p in self.c.call("ListPodSandbox").items])



def spew_checksum(data):
    """cri-dockerd's checkpoint checksum: FNV-32a of go-spew's %#v text of
    its CheckpointData as decoded from DATA."""
    pms = data.get("port_mappings")
    text = "(core.CheckpointData){PortMappings:([]*config.PortMapping)"
    if pms is None:
        text += "<nil>"
    else:
        text += "[" + " ".join(
            "<*>{Protocol:(*config.Protocol)%s ContainerPort:(*int32)%d HostPort:(*int32)%d "
            "HostIP:(string)%s}" % (p.get("protocol", ""), p.get("container_port", 0),
                                    p.get("host_port", 0), p.get("host_ip", "")) for p in pms) + "]"
    text += " HostNetwork:(bool)%s}" % ("true" if data.get("host_network") else "false")
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def cni(command, sandbox_id, netns, namespace, name, port_mappings):
    """CNI ADD or DEL of the bed's network as cri-dockerd runs it: the
    loopback network, then the first config of the conf dir, each plugin of
    the chain with the previous result; its result (ADD)."""
    conf_dir = BED["CRIMP_BED_CNI_CONF_DIR"]
    with open(os.path.join(conf_dir, sorted(os.listdir(conf_dir))[0])) as f:
        conflist = json.load(f)
    env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=sandbox_id, CNI_NETNS=netns,
               CNI_IFNAME="eth0", CNI_PATH=BED["CRIMP_BED_CNI_BIN_DIR"],
               CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name};"
                        f"K8S_POD_INFRA_CONTAINER_ID={sandbox_id}")
    networks = [{"cniVersion": "0.2.0", "name": "cni-loopback", "plugins": [{"type": "loopback"}]},
                conflist]
    if command == "DEL":
        networks.reverse()
    result = None
    for net in networks:
        prev = None
        plugins = net["plugins"] if command == "ADD" else list(reversed(net["plugins"]))
        for plugin in plugins:
            conf = dict(plugin, cniVersion=net["cniVersion"], name=net["name"])
            if prev is not None:
                conf["prevResult"] = prev
            if plugin.get("capabilities", {}).get("portMappings"):
                conf["runtimeConfig"] = {"portMappings": port_mappings}
            out = subprocess.run([os.path.join(BED["CRIMP_BED_CNI_BIN_DIR"], plugin["type"])],
                                 input=json.dumps(conf), capture_output=True, text=True, env=env,
                                 timeout=60)
            if out.returncode != 0:
                raise AssertionError(f"CNI {command} {plugin['type']}: {out.stdout}{out.stderr}")
            if command == "ADD":
                prev = json.loads(out.stdout)
        result = prev
    return result


class CriDockerdPod:
    """A pod and its containers made through the Docker API exactly as
    cri-dockerd v0.3.7 makes them, its CNI ADD included."""

    def __init__(self, root, logdir, name, port=None):
        self.root, self.name, self.ns, self.uid = root, name, "e2e", str(uuid.uuid4())
        self.logdir = os.path.join(logdir, f"{self.ns}_{name}_{self.uid}")
        os.makedirs(self.logdir, exist_ok=True)
        self.ports = [{"protocol": "tcp", "container_port": 80, "host_port": port}] if port else []
        self.pod_labels = {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": self.ns,
                           "io.kubernetes.pod.uid": self.uid, "app": name}
        labels = dict(self.pod_labels, **{"io.kubernetes.docker.type": "podsandbox",
                                          "io.kubernetes.container.name": "POD",
                                          "annotation.note": "kept"})
        self.id = docker("create", "--name", f"k8s_POD_{name}_{self.ns}_{self.uid}_0",
                         *label_args(labels), "--network", "none", "--ipc", "shareable",
                         "--hostname", name, "--oom-score-adj", "-998", "--cpu-shares", "2",
                         "--security-opt", "no-new-privileges", BED["CRIMP_BED_PAUSE_IMAGE"])
        data = {"port_mappings": self.ports} if self.ports else {}
        os.makedirs(os.path.join(root, "sandbox"), exist_ok=True)
        with open(os.path.join(root, "sandbox", self.id), "w") as f:
            json.dump({"version": "v1", "name": name, "namespace": self.ns, "data": data,
                       "checksum": spew_checksum(data)}, f)
        docker("start", self.id)
        pid = docker("inspect", "-f", "{{.State.Pid}}", self.id)
        cni_ports = [{"hostPort": p["host_port"], "containerPort": p["container_port"],
                      "protocol": p["protocol"]} for p in self.ports]
        result = cni("ADD", self.id, f"/proc/{pid}/ns/net", self.ns, name, cni_ports)
        self.ip = result["ips"][0]["address"].split("/")[0]

    def container(self, cname, script):
        log = os.path.join(self.logdir, cname, "0.log")
        os.makedirs(os.path.dirname(log), exist_ok=True)
        labels = dict(self.pod_labels, **{
            "io.kubernetes.docker.type": "container", "io.kubernetes.sandbox.id": self.id,
            "io.kubernetes.container.logpath": log, "io.kubernetes.container.name": cname,
            "annotation.io.kubernetes.container.restartCount": "0"})
        del labels["app"]
        cid = docker("create", "--name", f"k8s_{cname}_{self.name}_{self.ns}_{self.uid}_0",
                     *label_args(labels), "--network", f"container:{self.id}", "--ipc",
                     f"container:{self.id}", "--pid", f"container:{self.id}", BUSYBOX, "sh", "-c",
                     script)
        docker("start", cid)
        os.symlink(docker("inspect", "-f", "{{.LogPath}}", cid), log)
        return cid, log


def label_args(labels):
    return [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]


class Adoption(unittest.TestCase):
    """cri-dockerd's pods on the same dockerd, served by a crimpd started
    afterwards: same IDs, labels, annotations, IP and states; exec, logs,
    stats; picked up live; torn down with the IP released."""

    @classmethod
    def setUpClass(cls):
        cls.state = tempfile.mkdtemp(prefix="crimp-adopt-e2e.")
        cls.root = os.path.join(cls.state, "cri-dockerd")
        cls.logdir = os.path.join(cls.state, "pods")
        docker("rm", "-f", "victim", check=False)
        cls.victim = docker("run", "-d", "--name", "victim", BUSYBOX, "sleep", "600")

    @classmethod
    def tearDownClass(cls):
        docker("rm", "-f", "victim", check=False)
        shutil.rmtree(cls.state, ignore_errors=True)

    def crimpd(self):
        return crimpd_for_docker(self.state, {"cri_dockerd_root": self.root})

    @staticmethod
    def spdy_exec(c, cid, cmd):
        url = c.call("Exec", PB.ExecRequest(container_id=cid, cmd=cmd, stdout=True)).url
        s = spdyclient.Client(url, ["v4.channel.k8s.io"])
        try:
            return s.collect(s.open_streams(["error", "stdout"]))["stdout"]
        finally:
            s.close()

    @staticmethod
    def spdy_get(c, pod_id, port):
        url = c.call("PortForward", pod_sandbox_id=pod_id, port=[port]).url
        s = spdyclient.Client(url, ["portforward.k8s.io"])
        try:
            ids = s.open_streams(["error", "data"], {"port": str(port), "requestid": "0"})
            s.data(ids["error"], fin=True)
            s.data(ids["data"], b"GET /index.html HTTP/1.0\r\n\r\n", fin=True)
            return s.collect(ids, until_fin=("data", "error"))["data"]
        finally:
            s.close()

    def test_cri_dockerd_pod_is_served_and_torn_down(self):
        before = leased_ips(BED)
        pod = CriDockerdPod(self.root, self.logdir, "adopted", port=18094)
        cid, log = pod.container("app", "echo hello-adopted; mkdir /w; echo hello-from-adopted "
                                        "> /w/index.html; exec httpd -f -p 8080 -h /w")
        self.assertIn(pod.ip, leased_ips(BED))
        with self.crimpd() as d:
            c = d.client
            items = {p.id: p for p in c.call("ListPodSandbox").items}
            self.assertNotIn(self.victim, items)
            p = items[pod.id]
            self.assertEqual((p.metadata.name, p.metadata.namespace, p.metadata.uid,
                              p.metadata.attempt), ("adopted", "e2e", pod.uid, 0))
            self.assertEqual(dict(p.labels), pod.pod_labels)
            self.assertEqual(dict(p.annotations), {"note": "kept"})
            self.assertEqual(p.state, PB.SANDBOX_READY)
            st = c.call("PodSandboxStatus", pod_sandbox_id=pod.id).status
            self.assertEqual(st.network.ip, pod.ip)
            self.assertEqual(st.linux.namespaces.options.network, PB.POD)

            listed = {x.id: x for x in c.call("ListContainers").containers}
            self.assertNotIn(self.victim, listed)
            ct = listed[cid]
            self.assertEqual((ct.pod_sandbox_id, ct.metadata.name, ct.state),
                             (pod.id, "app", PB.CONTAINER_RUNNING))
            self.assertEqual(ct.labels["io.kubernetes.container.name"], "app")
            self.assertEqual(dict(ct.annotations), {"io.kubernetes.container.restartCount": "0"})
            cs = c.call("ContainerStatus", container_id=cid).status
            self.assertEqual((cs.state, cs.log_path), (PB.CONTAINER_RUNNING, log))
            self.assertEqual(c.call("ExecSync", container_id=cid, cmd=["echo", "hi"]).stdout,
                             b"hi\n")
            ex = c.call("ExecSync", container_id=cid, cmd=["ip", "-o", "-4", "addr", "show", "eth0"])
            self.assertIn(pod.ip + "/", ex.stdout.decode())
            wait_for(lambda: "hello-adopted" in read_text(log), what="the log through the symlink")
            self.assertEqual(self.spdy_exec(c, cid, ["sh", "-c", "echo via-url"]), b"via-url\n")
            with self.assertRaises(grpc.RpcError) as cm:
                c.call("ReopenContainerLog", container_id=cid)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn("cri-dockerd", cm.exception.details())
            self.assertIn(b"hello-from-adopted", self.spdy_get(c, pod.id, 8080))
            stats = c.call("ContainerStats", container_id=cid).stats
            self.assertEqual(stats.attributes.id, cid)
            self.assertGreater(stats.memory.working_set_bytes.value, 0)
            self.assertEqual(c.call("PodSandboxStats", pod_sandbox_id=pod.id).stats.attributes.id,
                             pod.id)

            # Live: made while crimpd runs, seen through Docker's events.
            events = c.stub("GetContainerEvents")(PB.GetEventsRequest(), timeout=20)
            time.sleep(0.5)
            cid2, _ = pod.container("late", "exec sleep 600")
            seen = []
            for ev in events:
                seen.append((ev.container_id, ev.container_event_type))
                if (cid2, PB.CONTAINER_STARTED_EVENT) in seen:
                    break
            events.cancel()
            self.assertIn((cid2, PB.CONTAINER_CREATED_EVENT), seen)
            self.assertIn(cid2, [x.id for x in c.call("ListContainers").containers])

            for x in (cid, cid2):
                c.call("StopContainer", PB.StopContainerRequest(container_id=x, timeout=1))
                self.assertEqual(c.call("ContainerStatus", container_id=x).status.state,
                                 PB.CONTAINER_EXITED)
                c.call("RemoveContainer", container_id=x)
            self.assertFalse(os.path.lexists(log), "the adopted log symlink was left")
            c.call("StopPodSandbox", pod_sandbox_id=pod.id, timeout=60)
            self.assertEqual(leased_ips(BED), before, "StopPodSandbox did not release the IP")
            c.call("RemovePodSandbox", pod_sandbox_id=pod.id, timeout=60)
            self.assertEqual(docker("ps", "-aq", "--filter", "label=io.kubernetes.pod.uid=" + pod.uid), "")
            self.assertFalse(os.path.exists(os.path.join(self.root, "sandbox", pod.id)))
            self.assertEqual(docker("inspect", "-f", "{{.State.Running}}", self.victim), "true")

    def test_pod_left_as_a_checkpoint_is_listed_and_its_ip_released(self):
        """cri-dockerd lists a pod whose pause container is gone from its
        checkpoint, so kubelet stops it and the IP is released: so does crimp."""
        before = leased_ips(BED)
        pod = CriDockerdPod(self.root, self.logdir, "ghost", port=18093)
        docker("rm", "-f", pod.id)
        self.assertIn(pod.ip, leased_ips(BED))
        with self.crimpd() as d:
            c = d.client
            ghost = [p for p in c.call("ListPodSandbox").items if p.id == pod.id]
            self.assertEqual(len(ghost), 1)
            self.assertEqual((ghost[0].state, ghost[0].metadata.name, ghost[0].metadata.namespace),
                             (PB.SANDBOX_NOTREADY, "ghost", "e2e"))
            filtered = c.call("ListPodSandbox", filter=PB.PodSandboxFilter(id=pod.id)).items
            self.assertEqual(list(filtered), [], "checkpoint-only pods are listed with no filter only")
            c.call("StopPodSandbox", pod_sandbox_id=pod.id, timeout=60)
            self.assertEqual(leased_ips(BED), before, "the IP of a checkpoint-only pod leaked")
            c.call("RemovePodSandbox", pod_sandbox_id=pod.id, timeout=60)
            self.assertNotIn(pod.id, [p.id for p in c.call("ListPodSandbox").items])
            self.assertFalse(os.path.exists(os.path.join(self.root, "sandbox", pod.id)))


class WayBack(unittest.TestCase):
    """A crimp-made pod carries what cri-dockerd reads: its labels and names,
    annotations as annotation.<key> labels, and a checkpoint cri-dockerd's
    checksum accepts under the configured root."""

    def test_crimp_pod_carries_cri_dockerd_labels_and_checkpoint(self):
        state = tempfile.mkdtemp(prefix="crimp-adopt-e2e.")
        root = os.path.join(state, "cri-dockerd")
        os.makedirs(root)  # a node cri-dockerd ran on: crimp writes only there
        try:
            with crimpd_for_docker(state, {"cri_dockerd_root": root}) as d:
                c = d.client
                c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=BUSYBOX)),
                       timeout=120)
                uid = str(uuid.uuid4())
                cfg = PB.PodSandboxConfig(
                    metadata=PB.PodSandboxMetadata(name="back", namespace="e2e", uid=uid),
                    hostname="back", log_directory=os.path.join(state, "logs"),
                    labels={"app": "back"}, annotations={"note": "kept"},
                    port_mappings=[PB.PortMapping(container_port=80, host_port=18095)],
                    linux=PB.LinuxPodSandboxConfig())
                pod = c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
                ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="app"),
                                          image=PB.ImageSpec(image=BUSYBOX),
                                          command=["sleep", "600"], log_path="app.log",
                                          labels={"tier": "x"}, annotations={"a": "b"})
                cid = c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg,
                             sandbox_config=cfg).container_id
                inspect = json.loads(docker("inspect", pod, cid))
                sl, cl = inspect[0]["Config"]["Labels"], inspect[1]["Config"]["Labels"]
                self.assertEqual(inspect[0]["Name"], f"/k8s_POD_back_e2e_{uid}_0")
                self.assertEqual(inspect[1]["Name"], f"/k8s_app_back_e2e_{uid}_0")
                for k, v in {"io.kubernetes.docker.type": "podsandbox",
                             "io.kubernetes.container.name": "POD", "app": "back",
                             "annotation.note": "kept"}.items():
                    self.assertEqual(sl.get(k), v, k)
                for k, v in {"io.kubernetes.docker.type": "container",
                             "io.kubernetes.sandbox.id": pod, "tier": "x", "annotation.a": "b",
                             "io.kubernetes.container.logpath":
                                 os.path.join(state, "logs", "app.log")}.items():
                    self.assertEqual(cl.get(k), v, k)
                with open(os.path.join(root, "sandbox", pod)) as f:
                    ck = json.load(f)
                self.assertEqual((ck["version"], ck["name"], ck["namespace"]), ("v1", "back", "e2e"))
                self.assertEqual(ck["data"], {"port_mappings": [
                    {"protocol": "tcp", "container_port": 80, "host_port": 18095}]})
                self.assertEqual(ck["checksum"], spew_checksum(ck["data"]))
                c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
                c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
                self.assertFalse(os.path.exists(os.path.join(root, "sandbox", pod)))
        finally:
            shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
