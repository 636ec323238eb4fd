#!/bin/bash
# The list and image benchmark (issue 21): ListContainers, ListPodSandbox,
# ContainerStatus, PodSandboxStatus at 100 containers, and ListImages,
# ImageStatus, ImageFsInfo, through crimpd's docker and containerd backends
# next to containerd's CRI plugin called directly (the same-run reference),
# and cri-dockerd when CRIMP_BENCH_CRI_DOCKERD names its binary.
#
#   sudo [CRIMP_BENCH_CRI_DOCKERD=/path/cri-dockerd] bench/run-list-bench.sh BUILD_DIR [CALLS]
#
# Same daemons and crimpd as run-cri-bench.sh, another workload.
exec "$(dirname "$0")/run-cri-bench.sh" --lists "$@"
