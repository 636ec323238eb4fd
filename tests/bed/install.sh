#!/bin/bash
# Installs, from Debian packages only, what crimp needs to build and what its
# test bed runs.  Idempotent: installs only what is missing.
set -euo pipefail

build_deps=(cmake make gcc clang ccache dpkg-dev pkg-config libgrpc-dev libprotobuf-c-dev protobuf-c-compiler
    protobuf-compiler libcurl4-openssl-dev libssl-dev libjansson-dev libevent-dev zlib1g-dev
    golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev)
bed_deps=(containerd runc docker.io containernetworking-plugins docker-registry
    busybox-static iproute2 iptables procps psmisc curl ca-certificates)
test_deps=(python3 python3-grpcio python3-protobuf python3-websockets python3-yaml prometheus systemd)

missing=()
for p in "${build_deps[@]}" "${bed_deps[@]}" "${test_deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install: everything present"
    exit 0
fi
echo "install: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The packages' own services would grab the default sockets and state dirs;
# the bed runs private daemons instead, so keep them from starting.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq || echo "install: apt-get update failed, trying with the cached lists"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
