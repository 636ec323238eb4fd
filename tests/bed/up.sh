#!/bin/bash
# Starts the test bed: a private containerd (its CRI plugin on, for
# passthrough tests and as the reference), a private dockerd on top of it, and
# a docker-registry on 127.0.0.1, all with state and sockets under one temp
# dir; then builds the pause and busybox images offline and pushes them.
#
#   tests/bed/up.sh [DIR]     DIR defaults to a new /tmp/crimp-bed.XXXX
#
# Prints the bed dir; $DIR/env holds the variables tests source.  Unix socket
# paths are limited to 108 bytes, hence the short temp dir names.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || bed_die "run as root (it starts containerd and dockerd)"
BED=${1:-$(mktemp -d /tmp/crimp-bed.XXXX)}
mkdir -p "$BED"
BED=$(cd "$BED" && pwd)
REGISTRY_PORT=${CRIMP_BED_REGISTRY_PORT:-5100}
REGISTRY=127.0.0.1:$REGISTRY_PORT
PAUSE_IMAGE=$REGISTRY/crimp/pause:3.10
BUSYBOX_IMAGE=$REGISTRY/crimp/busybox:1.35
# A second bed beside the first (another registry port) needs its own
# network: CRIMP_BED_NET=98 gives 10.98.0.0/16 on bridge crimp98.
NET_OCTET=${CRIMP_BED_NET:-99}
CNI_NET=10.$NET_OCTET.0.0/16
CNI_BRIDGE=crimp$NET_OCTET

# Another bed (or anything) on the registry port would answer in place of
# this bed's registry: its images would land there and the suites that
# read this bed's registry store would fail far from the cause.
if curl -s -o /dev/null --max-time 2 "http://$REGISTRY/v2/" 2>/dev/null; then
    rmdir "$BED" 2>/dev/null
    bed_die "127.0.0.1:$REGISTRY_PORT is in use (another bed?): set CRIMP_BED_REGISTRY_PORT" \
        "and CRIMP_BED_NET (e.g. 5200 and 98) for a second bed"
fi
bed_snapshot > "$BED/snapshot.before"
mkdir -p "$BED/cni/net.d" "$BED/containerd" "$BED/docker" "$BED/registry" "$BED/images"

write_cni_config() {
    cat > "$BED/cni/net.d/10-crimp-bed.conflist" <<J
{"cniVersion": "0.4.0", "name": "crimp-bed", "plugins": [
  {"type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$CNI_NET"}]], "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": "$BED/cni/ipam"}},
  {"type": "portmap", "capabilities": {"portMappings": true}},
  {"type": "loopback"}]}
J
}

# A containerd on D, WHAT in messages: its config.toml keeps root, state,
# sockets and opt dir under D, with TOP (top-level keys) and TABLES (plugin
# settings) added; its log is D/containerd.log.
run_containerd() {
    local d=$1 what=$2 top=$3 tables=$4
    cat > "$d/config.toml" <<T
version = 2
root = "$d/root"
state = "$d/state"
$top
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
$tables
T
    containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
    echo $! > "$d/containerd.pid"
    bed_wait_socket "$d/containerd.sock" 30 || bed_die "$what did not start; see $d/containerd.log"
}

start_containerd() {
    local cri
    cri=$(cat <<T
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$BED/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$REGISTRY"]
    endpoint = ["http://$REGISTRY"]
T
)
    run_containerd "$BED/containerd" containerd "" "$cri"
}

# A second containerd with its CRI plugin disabled: what crimp's containerd
# backend drives through the native API (nothing else competes for it).
start_containerd_native() {
    mkdir -p "$BED/containerd-native"
    run_containerd "$BED/containerd-native" "containerd (native)" \
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]' ""
}

start_dockerd() {
    local d=$BED/docker
    dockerd --data-root "$d/root" --exec-root "$d/exec" -H "unix://$d/docker.sock" \
        --pidfile "$d/docker.pid.own" --containerd "$BED/containerd/containerd.sock" \
        --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
        --add-runtime "clamp=$here/runc-clamp" --default-runtime clamp \
        --insecure-registry "$REGISTRY" --log-level warn \
        >"$d/dockerd.log" 2>&1 &
    echo $! > "$d/dockerd.pid"
    bed_wait_socket "$d/docker.sock" 60 || bed_die "dockerd did not start; see $d/dockerd.log"
}

start_registry() {
    local d=$BED/registry
    cat > "$d/config.yml" <<Y
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $d/data}, delete: {enabled: true}}
http: {addr: "$REGISTRY"}
Y
    docker-registry serve "$d/config.yml" >"$d/registry.log" 2>&1 &
    echo $! > "$d/registry.pid"
    bed_wait_http "http://$REGISTRY/v2/" 30 || bed_die "registry did not start; see $d/registry.log"
    kill -0 "$(cat "$d/registry.pid")" 2>/dev/null ||
        bed_die "registry exited (port $REGISTRY_PORT taken?); see $d/registry.log"
}

# The images are built by the bed dockerd from FROM scratch, offline.
build_images() {
    local w=$BED/images docker="docker -H unix://$BED/docker/docker.sock"
    mkdir -p "$w/pause" "$w/busybox/rootfs/bin"
    gcc -static -O2 -s -o "$w/pause/pause" "$here/../images/pause.c"
    printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' > "$w/pause/Dockerfile"
    # Hard links, not symlinks: a masked path over a symlink would mask
    # busybox itself.
    cp /bin/busybox "$w/busybox/rootfs/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -f "$w/busybox/rootfs/bin/busybox" "$w/busybox/rootfs/bin/$applet"
    done
    mkdir -p "$w/busybox/rootfs/"{etc,tmp,root,proc,sys,dev,var,home}
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$w/busybox/rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$w/busybox/rootfs/etc/group"
    printf 'FROM scratch\nCOPY rootfs /\nENV PATH=/bin\nCMD ["/bin/sh"]\n' > "$w/busybox/Dockerfile"
    DOCKER_BUILDKIT=0 $docker build -q -t "$PAUSE_IMAGE" "$w/pause" >/dev/null 2>>"$w/build.log"
    DOCKER_BUILDKIT=0 $docker build -q -t "$BUSYBOX_IMAGE" "$w/busybox" >/dev/null 2>>"$w/build.log"
    $docker push -q "$PAUSE_IMAGE" >/dev/null
    $docker push -q "$BUSYBOX_IMAGE" >/dev/null
    # The bed dockerd keeps no images: tests pull them through crimp.
    $docker rmi -f "$PAUSE_IMAGE" "$BUSYBOX_IMAGE" >/dev/null
}

write_env() {
    cat > "$BED/env" <<E
export CRIMP_BED=$BED
export CRIMP_BED_CONTAINERD_SOCK=$BED/containerd/containerd.sock
export CRIMP_BED_DOCKER_SOCK=$BED/docker/docker.sock
export CRIMP_BED_CONTAINERD_NATIVE_SOCK=$BED/containerd-native/containerd.sock
export CRIMP_BED_REGISTRY=$REGISTRY
export CRIMP_BED_PAUSE_IMAGE=$PAUSE_IMAGE
export CRIMP_BED_BUSYBOX_IMAGE=$BUSYBOX_IMAGE
export CRIMP_BED_CNI_CONF_DIR=$BED/cni/net.d
export CRIMP_BED_CNI_BIN_DIR=/usr/lib/cni
export CRIMP_BED_CNI_BRIDGE=$CNI_BRIDGE
export CRIMP_BED_CNI_NET=$CNI_NET
E
}

trap 'echo "bed: start failed; tearing down" >&2; "$here/down.sh" "$BED" >&2 || true' ERR
write_cni_config
start_containerd
start_containerd_native
start_registry
start_dockerd
build_images
write_env
trap - ERR
bed_log "up: containerd, dockerd, registry $REGISTRY; images $PAUSE_IMAGE $BUSYBOX_IMAGE"
echo "$BED"
