#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets added with the docker,
registry, CNI, checkpoint, image and CRI readers into seeds/<target>/:
small real examples of what each peer sends (shapes copied from replies of
the dockerd, registry and CNI plugins of the test bed).  Run it again after
changing it; the SPDY and WebSocket seeds are kept as they are."""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "build", "tests", "py"))
here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(here, "seeds", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, bytes):
        data = json.dumps(data, indent=1).encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def frame(stream, payload):
    return struct.pack(">BxxxI", stream, len(payload)) + payload


D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64
D3 = "sha256:" + "c" * 64
CID = "4f" * 32
SID = "9e" * 32

# Docker's multiplexed stdout/stderr.
put("fuzz_docker_stream", "out-err", b"\x07" + frame(1, b"hello\n") + frame(2, b"oops\n"))
put("fuzz_docker_stream", "big-split", b"\x00" + frame(1, b"x" * 300) + frame(1, b""))
put("fuzz_docker_stream", "stdin-frame", b"\x1f" + frame(0, b"in") + frame(1, b"out"))

# Replies to exec start / attach.
put("fuzz_docker_reply", "upgraded",
    "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
    "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + "\x01\x00\x00\x00\x00\x00\x00\x03hi\n")
put("fuzz_docker_reply", "ok-200",
    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n")
put("fuzz_docker_reply", "not-found",
    "HTTP/1.1 404 Not Found\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\n"
    "Content-Length: 45\r\n\r\n{\"message\":\"No such exec instance: 1234abcd\"}\n")
put("fuzz_docker_reply", "conflict",
    "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n\r\n"
    "{\"message\":\"Container " + CID + " is not running\"}\n")

# Docker JSON replies.
cri = json.dumps({"metadata": {"name": "web", "attempt": 1}, "labels": {"app": "web"},
                  "annotations": {"a": "b"}})
pod_cri = json.dumps({"metadata": {"name": "web-0", "uid": "u-1", "namespace": "default",
                                   "attempt": 0},
                      "labels": {"io.kubernetes.pod.name": "web"}, "annotations": {}})
labels = {"io.kubernetes.docker.type": "container", "io.kubernetes.sandbox.id": SID,
          "io.kubernetes.container.logpath": "/var/log/pods/x/web/1.log", "io.crimp.cri": cri}
pod_labels = {"io.kubernetes.docker.type": "podsandbox", "io.crimp.cri": pod_cri}
inspect = {"Id": CID, "Created": "2026-12-07T01:02:03.123456789Z", "Image": D1,
           "State": {"Status": "exited", "Running": False, "Pid": 0, "ExitCode": 137,
                     "OOMKilled": True, "Error": "",
                     "StartedAt": "2026-12-07T01:02:04.5+01:00",
                     "FinishedAt": "2026-12-07T01:05:00.000000001Z"},
           "Config": {"Image": "busybox:1.36", "Labels": labels},
           "HostConfig": {"Binds": ["/var/lib/k/v:/data:ro,rslave", "/etc/hosts:/etc/hosts"],
                          "CpuPeriod": 100000, "CpuQuota": 50000, "CpuShares": 512,
                          "Memory": 67108864, "MemorySwap": -1, "CpusetCpus": "0-1",
                          "NetworkMode": "container:" + SID, "PidMode": "", "IpcMode": "host"},
           "GraphDriver": {"Data": {"UpperDir": "/var/lib/docker/overlay2/x/diff"}}}
put("fuzz_docker_json", "inspect-container", inspect)
pod = dict(inspect, Config={"Image": "registry.k8s.io/pause:3.9", "Labels": pod_labels},
           State={"Running": True, "Pid": 4242, "StartedAt": "2026-12-07T01:02:04Z"},
           ips=["10.88.0.5", "fd00::5"], host_network=False)
put("fuzz_docker_json", "inspect-sandbox", pod)
put("fuzz_docker_json", "list", [
    {"Id": CID, "Image": "busybox:1.36", "ImageID": D1, "State": "running", "Created": 1765069323,
     "Labels": labels},
    {"Id": SID, "Image": "registry.k8s.io/pause:3.9", "ImageID": D2, "State": "exited",
     "Created": 1765069300, "Labels": pod_labels}])
put("fuzz_docker_json", "images", [
    {"Id": D1, "RepoTags": ["busybox:1.36", "<none>:<none>"],
     "RepoDigests": ["busybox@" + D3], "Size": 4261550, "Config": {"User": "1000:1000"}}])
put("fuzz_docker_json", "version", {"Version": "20.10.24+dfsg1", "ApiVersion": "1.41",
                                    "MinAPIVersion": "1.12", "Os": "linux", "Arch": "amd64"})

# /events.
ev = {"status": "start", "id": CID, "from": "busybox:1.36", "Type": "container",
      "Action": "start", "Actor": {"ID": CID, "Attributes": {"io.kubernetes.sandbox.id": SID,
                                                             "name": "k8s_web"}},
      "scope": "local", "time": 1765069323, "timeNano": 1765069323123456789}
lines = "".join(json.dumps(dict(ev, Action=a, status=a)) + "\n"
                for a in ("create", "start", "exec_start: sh", "die", "destroy"))
put("fuzz_docker_events", "lifecycle", "\x05" + lines)
put("fuzz_docker_events", "split", "\x00" + lines[:200])

# CNI plugin output: a result, an error, a config.
result = {"cniVersion": "1.0.0",
          "interfaces": [{"name": "cni0", "mac": "aa:bb:cc:dd:ee:ff"},
                         {"name": "eth0", "sandbox": "/proc/42/ns/net"}],
          "ips": [{"interface": 1, "address": "10.88.0.5/16", "gateway": "10.88.0.1"},
                  {"interface": 1, "address": "fd00::5/64"}],
          "routes": [{"dst": "0.0.0.0/0"}], "dns": {}}
put("fuzz_cni_result", "result-1.0", json.dumps(result) + "\0")
put("fuzz_cni_result", "result-0.2", json.dumps({"cniVersion": "0.2.0",
                                                 "ip4": {"ip": "10.1.0.2/24"},
                                                 "ip6": {"ip": "fd01::2/64"}}))
put("fuzz_cni_result", "error", json.dumps({"cniVersion": "1.0.0", "code": 7,
                                            "msg": "failed to allocate",
                                            "details": "range full"}) + "\0plugin stderr\n")
put("fuzz_cni_result", "conflist", json.dumps({
    "cniVersion": "1.0.0", "name": "crimp",
    "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]]}},
                {"type": "portmap", "capabilities": {"portMappings": True}}]}))
put("fuzz_cni_result", "conf", json.dumps({"cniVersion": "0.4.0", "name": "lo",
                                           "type": "loopback"}))

# Registry manifests and indexes.
put("fuzz_registry_manifest", "oci-manifest", {
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D1,
               "size": 1470},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D2,
                "size": 2152262}]})
put("fuzz_registry_manifest", "docker-manifest", {
    "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": D1,
               "size": 1470}, "layers": []})
put("fuzz_registry_manifest", "index", {
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D1, "size": 528,
         "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D2, "size": 528,
         "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}}]})
put("fuzz_registry_manifest", "schema1", {"schemaVersion": 1, "name": "library/busybox",
                                          "tag": "latest", "fsLayers": []})

# Registry and token server replies.
put("fuzz_registry_reply", "401",
    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
    "Docker-Distribution-Api-Version: registry/2.0\r\n"
    "Www-Authenticate: Bearer realm=\"https://auth.docker.io/token\","
    "service=\"registry.docker.io\",scope=\"repository:library/busybox:pull\"\r\n\r\n"
    "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}\n")
put("fuzz_registry_reply", "token", json.dumps({"token": "eyJhbGciOi", "access_token": "x",
                                               "expires_in": 300,
                                               "issued_at": "2026-12-07T01:02:03Z"}))
put("fuzz_registry_reply", "head-200",
    "HTTP/1.1 200 OK\r\nContent-Length: 528\r\n"
    "Content-Type: application/vnd.oci.image.index.v1+json\r\n"
    "Docker-Content-Digest: " + D1 + "\r\nWWW-Authenticate: Basic realm=\"r\"\r\n\r\n")
put("fuzz_registry_reply", "oauth-error", json.dumps({"error": "invalid_grant",
                                                     "error_description": "bad token"}))

# Checkpoints.
def ckpt(data):
    text = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    h = 2166136261
    for b in text:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return json.dumps({"version": 1, "data": data, "checksum": h}, separators=(",", ":"),
                      sort_keys=True)


put("fuzz_checkpoint", "sandbox", ckpt({"ips": ["10.88.0.5"], "host_network": False,
                                        "netns": "/var/run/netns/cni-1", "result": result}))
put("fuzz_checkpoint", "cni-cache", ckpt({"network": {"name": "crimp", "plugins": []},
                                          "result": result, "portMappings": []}))
put("fuzz_checkpoint", "corrupt", '{"version":1,"data":{"ips":[]},"checksum":1}')

# Image config, /etc/passwd and /etc/group.
config = {"architecture": "amd64", "os": "linux",
          "config": {"User": "app", "Env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
                     "Entrypoint": ["/bin/sh", "-c"], "Cmd": ["sleep 3600"],
                     "WorkingDir": "/srv"},
          "rootfs": {"type": "layers", "diff_ids": [D1, D2]}}
passwd = ("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
group = "root:x:0:\napp:x:1000:\nstaff:x:50:app,root\n"
put("fuzz_image_content", "app", json.dumps(config) + "\0" + passwd + "\0" + group)
config2 = dict(config, config={"User": "1000:staff"})
put("fuzz_image_content", "numeric", json.dumps(config2) + "\0" + passwd + "\0" + group)

# CRI requests: the method index (proto/cri_rpcs.h order) then the message.
try:
    import cri_pb2 as pb
except ImportError:
    sys.exit("build the e2e python protos first (cmake --build build)")
rpcs = ["Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus",
        "ListPodSandbox", "StreamPodSandboxes", "CreateContainer"]
md = pb.PodSandboxMetadata(name="web-0", uid="u-1", namespace="default", attempt=1)
sb = pb.PodSandboxConfig(
    metadata=md, hostname="web-0", log_directory="/var/log/pods/default_web-0_u-1",
    labels={"app": "web"}, annotations={"a": "b"},
    port_mappings=[pb.PortMapping(protocol=pb.TCP, container_port=80, host_port=8080)],
    linux=pb.LinuxPodSandboxConfig(
        cgroup_parent="/kubepods/pod-u-1", sysctls={"net.ipv4.ip_forward": "1"},
        security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER),
            run_as_user=pb.Int64Value(value=1000),
            seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))))
put("fuzz_cri_request", "run-pod", bytes([1]) + pb.RunPodSandboxRequest(
    config=sb, runtime_handler="").SerializeToString())
cc = pb.ContainerConfig(
    metadata=pb.ContainerMetadata(name="web", attempt=0), image=pb.ImageSpec(image="busybox"),
    command=["sh", "-c"], args=["sleep 1000"], working_dir="/",
    envs=[pb.KeyValue(key="A", value=b"1")], log_path="web/0.log",
    mounts=[pb.Mount(container_path="/data", host_path="/tmp/d", readonly=True,
                     propagation=pb.PROPAGATION_HOST_TO_CONTAINER)],
    linux=pb.LinuxContainerConfig(
        resources=pb.LinuxContainerResources(cpu_shares=512, memory_limit_in_bytes=1 << 26),
        security_context=pb.LinuxContainerSecurityContext(
            capabilities=pb.Capability(add_capabilities=["NET_ADMIN"],
                                       drop_capabilities=["ALL"]),
            run_as_username="app", readonly_rootfs=True,
            masked_paths=["/proc/kcore"], no_new_privs=True)))
put("fuzz_cri_request", "create-container", bytes([7]) + pb.CreateContainerRequest(
    pod_sandbox_id=SID, config=cc, sandbox_config=sb).SerializeToString())
put("fuzz_cri_request", "stop-pod", bytes([2]) + pb.StopPodSandboxRequest(
    pod_sandbox_id=SID).SerializeToString())
put("fuzz_cri_request", "list-containers", bytes([11]) + pb.ListContainersRequest(
    filter=pb.ContainerFilter(id="4f", label_selector={"app": "web"})).SerializeToString())
put("fuzz_cri_request", "version-empty", bytes([0]))
