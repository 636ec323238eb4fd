#!/bin/bash
# Moves a node's new pods from one crimp backend to another, with kubelet
# running throughout.  See contrib/cutover/README.md for the whole procedure.
#
#   cutover.sh preflight TARGET [IMAGE...]   checks only, changes nothing
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

backend_field() { # NAME FIELD
    "$CRIMPCTL" --json backend list |
        python3 -c 'import json,sys; b={x["name"]:x for x in json.load(sys.stdin)["backends"]}; print(json.dumps(b.get(sys.argv[1],{}).get(sys.argv[2])))' "$1" "$2"
}

preflight() { # TARGET IMAGE...
    local target=$1; shift
    say "pre-flight for $target"
    "$CRIMPCTL" backend list || die "crimpd does not answer on $CRIMP_ENDPOINT"
    [ "$(backend_field "$target" name)" != null ] || die "no backend named $target"
    [ "$(backend_field "$target" up)" = true ] || die "backend $target is down"
    local current
    current=$("$CRIMPCTL" --json backend list | python3 -c 'import json,sys; print([b["name"] for b in json.load(sys.stdin)["backends"] if b["default"]][0])')
    [ "$(backend_field "$current" up)" = true ] || say "warning: the current default $current is down"
    "$CRIMPCTL" info >/dev/null || die "crimp reports the runtime not ready (crimpctl info)"
    if "$CRIMPCTL" info | grep -q '^NetworkReady *false'; then
        die "NetworkReady is false: no CNI config for new pods"
    fi
    local image
    for image in "$@"; do
        # ImageStatus goes to the default backend; after the switch that is
        # TARGET, so checking after a dry switch would be wrong: ask crictl
        # against TARGET's own endpoint when it is a CRI endpoint.
        say "image $image: will be pulled into $target on first use if missing"
    done
    say "pre-flight passed: $target is up, the network is ready"
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
