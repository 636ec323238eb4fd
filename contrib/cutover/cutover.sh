#!/bin/bash
# Moves a node's new pods from one crimp backend to another, with kubelet
# running throughout.  See contrib/cutover/README.md for the whole procedure.
#
#   cutover.sh preflight TARGET [IMAGE...]   checks only, changes nothing (preflight.sh)
#   cutover.sh switch TARGET [IMAGE...]      preflight, then new pods -> TARGET,
#                                            the old default drains
#   cutover.sh verify TARGET                 crimp and (if configured) kubectl agree
#   cutover.sh rollback PREVIOUS             new pods -> PREVIOUS again
#
# Environment: CRIMPCTL (default crimpctl), CRIMP_ENDPOINT (default
# unix:///run/crimp/crimp.sock), NODE (for kubectl; default: hostname),
# DRAIN=1 to also `kubectl drain` before and `uncordon` after the switch.
set -euo pipefail
CRIMPCTL=${CRIMPCTL:-crimpctl}
export CRIMP_ENDPOINT=${CRIMP_ENDPOINT:-unix:///run/crimp/crimp.sock}
NODE=${NODE:-$(hostname)}

say() { printf '%s\n' "cutover: $*"; }
die() { printf '%s\n' "cutover: error: $*" >&2; exit 1; }
have_kubectl() { command -v kubectl >/dev/null && kubectl get node "$NODE" >/dev/null 2>&1; }

preflight() { # TARGET IMAGE...
    # The checks ask TARGET itself (readiness, CRI plugin, cgroup driver,
    # images), not the current default.
    "$(dirname "$0")/preflight.sh" "$@" || die "pre-flight failed for $1"
}

cmd=${1:-}
case "$cmd" in
preflight)
    preflight "${@:2}"
    ;;
switch)
    target=${2:?usage: cutover.sh switch TARGET}
    preflight "${@:2}"
    previous=$("$CRIMPCTL" --json backend list | python3 -c 'import json,sys; print([b["name"] for b in json.load(sys.stdin)["backends"] if b["default"]][0])')
    if [ "${DRAIN:-0}" = 1 ] && have_kubectl; then
        say "kubectl drain $NODE"
        kubectl drain "$NODE" --ignore-daemonsets --delete-emptydir-data
    fi
    "$CRIMPCTL" backend set "$target"
    [ "$previous" = "$target" ] || "$CRIMPCTL" backend drain "$previous"
    if [ "${DRAIN:-0}" = 1 ] && have_kubectl; then
        say "kubectl uncordon $NODE"
        kubectl uncordon "$NODE"
    fi
    say "new pods go to $target; pods on $previous stay there until they end (rollback: $0 rollback $previous)"
    ;;
verify)
    target=${2:?usage: cutover.sh verify TARGET}
    "$CRIMPCTL" version | grep -q "default backend $target:" || die "crimp's default is not $target"
    if have_kubectl; then
        kubectl get node "$NODE" -o wide
        kubectl get node "$NODE" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}' | grep -q "$target" ||
            say "kubelet has not reported the new runtime version yet (it refreshes within a minute)"
    fi
    say "verified: new pods go to $target"
    ;;
rollback)
    previous=${2:?usage: cutover.sh rollback PREVIOUS}
    "$CRIMPCTL" backend undrain "$previous"
    "$CRIMPCTL" backend set "$previous"
    say "rolled back: new pods go to $previous again"
    ;;
*)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
