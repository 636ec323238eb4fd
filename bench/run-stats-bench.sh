#!/bin/bash
# The stats benchmark (issue 7): ListContainerStats and ListPodSandboxStats
# at 10 and 100 running containers through crimpd's docker and containerd
# backends, next to containerd's CRI plugin called directly (the same-run
# reference).
#
#   sudo bench/run-stats-bench.sh BUILD_DIR [CALLS]
#
# Same daemons and crimpd as run-cri-bench.sh, another workload.
exec "$(dirname "$0")/run-cri-bench.sh" --stats "$@"
