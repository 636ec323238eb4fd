"""The demo's second act, what a node operator does during a cutover: one
crimpd with two backends, a pod started while docker is the default,
`crimpctl backend set containerd`, a second pod, and both listed by the one
CRI endpoint kubelet talks to, each on the runtime that made it.

    switch.py --image IMG --crimpctl PATH ENDPOINT
"""
import argparse
import os
import subprocess
import tempfile
import uuid

from crimpe2e import PB, Client


def start_pod(c, name, image, logdir):
    uid = uuid.uuid4().hex[:8]
    cfg = PB.PodSandboxConfig(
        metadata=PB.PodSandboxMetadata(name=name, namespace="crimp-demo", uid=uid),
        hostname=name, log_directory=os.path.join(logdir, name),
        linux=PB.LinuxPodSandboxConfig())
    pod = c.call("RunPodSandbox", config=cfg, timeout=120).pod_sandbox_id
    ccfg = PB.ContainerConfig(metadata=PB.ContainerMetadata(name="app"),
                              image=PB.ImageSpec(image=image),
                              command=["sh", "-c", f"echo hello from {name}; exec sleep 300"],
                              log_path="app.log")
    cid = c.call("CreateContainer", pod_sandbox_id=pod, config=ccfg, sandbox_config=cfg,
                 timeout=60).container_id
    c.call("StartContainer", container_id=cid, timeout=60)
    return pod, cid


def crimpctl(args, *rest):
    print(f"$ crimpctl {' '.join(rest)}", flush=True)
    subprocess.run([args.crimpctl, "--endpoint", args.endpoint, *rest], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", required=True)
    ap.add_argument("--crimpctl", required=True)
    ap.add_argument("endpoint")
    args = ap.parse_args()
    c = Client(args.endpoint)
    logdir = tempfile.mkdtemp(prefix="crimp-demo-switch.")
    c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=args.image)), timeout=120)
    crimpctl(args, "backend", "list")
    pods = [start_pod(c, "before-the-switch", args.image, logdir)]
    crimpctl(args, "backend", "set", "containerd")
    # Only new pods move: containerd has no image of its own yet.
    c.call("PullImage", PB.PullImageRequest(image=PB.ImageSpec(image=args.image)), timeout=120)
    pods.append(start_pod(c, "after-the-switch", args.image, logdir))
    print("\nListPodSandbox through the one endpoint kubelet uses:")
    for p in c.call("ListPodSandbox").items:
        print(f"  {p.metadata.name:20} {p.id[:13]}  {PB.PodSandboxState.Name(p.state)}")
    crimpctl(args, "backend", "list")
    for pod, cid in pods:
        c.call("StopContainer", container_id=cid, timeout=30)
        c.call("RemoveContainer", container_id=cid)
        c.call("StopPodSandbox", pod_sandbox_id=pod, timeout=60)
        c.call("RemovePodSandbox", pod_sandbox_id=pod, timeout=60)
    print()
    crimpctl(args, "latency")


if __name__ == "__main__":
    main()
