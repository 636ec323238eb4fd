#!/bin/bash
# The kubelet polling benchmark (issue 21): N pods of one running busybox
# container, then SECONDS of kubelet's steady polling (PLEG relist each
# second, Status each 5 s, Version and the CRI stats provider's summary each
# 10 s, ListImages each 30 s, container GC each minute; see
# bench/kubelet_poll.py), and the CPU that crimpd and the runtime daemons
# (and their containerd shims) spend meanwhile, read from /proc, as % of one
# core: crimpd's docker backend (+ dockerd + containerd), crimpd's
# containerd backend (+ the bed's CRI-less containerd), containerd's CRI
# plugin directly (the same-run reference), and cri-dockerd (+ dockerd +
# containerd) when CRIMP_BENCH_CRI_DOCKERD names its binary.
#
#   sudo [CRIMP_BENCH_CRI_DOCKERD=/path/cri-dockerd] bench/run-poll-bench.sh BUILD_DIR [SECONDS [--pods N] [--threads] [--stats partial]]
#
# Short mode (a smoke run, not a figure): bench/run-poll-bench.sh build 10 --pods 5
# Same daemons and crimpd as run-cri-bench.sh, another workload; never run by CI.
exec "$(dirname "$0")/run-cri-bench.sh" --poll "$@"
