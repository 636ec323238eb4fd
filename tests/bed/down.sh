#!/bin/bash
# Stops everything up.sh started under the bed dir $1 and removes what the
# daemons leave behind: container shims, mounts, network namespaces, the CNI
# bridge.  Safe to run twice, and on a bed that only half started.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

BED=${1:?usage: down.sh BED_DIR}
[ -d "$BED" ] || { bed_log "down: $BED does not exist"; exit 0; }
BED=$(cd "$BED" && pwd)

# Pods and containers left by a failed test go first, through the daemons
# themselves, so their netns and CNI allocations are released properly.
remove_leftovers() {
    local sock=$BED/docker/docker.sock ids
    if [ -S "$sock" ]; then
        ids=$(curl -fsS --unix-socket "$sock" 'http://d/containers/json?all=1' 2>/dev/null |
            python3 -c 'import json,sys; print(" ".join(c["Id"] for c in json.load(sys.stdin)))' 2>/dev/null)
        for id in $ids; do
            curl -fsS --unix-socket "$sock" -X DELETE "http://d/containers/$id?force=1&v=1" >/dev/null 2>&1
        done
    fi
}

kill_shims() {
    local pid
    for pid in $(pgrep -f "containerd-shim.*$BED/containerd" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null
    done
}

unmount_under_bed() {
    local m
    # Deepest first.
    for m in $(awk -v b="$BED" 'index($2, b) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount -l "$m" 2>/dev/null
    done
}

remove_netns_created_by_bed() {
    local ns
    [ -f "$BED/snapshot.before" ] || return 0
    for ns in $(ls /run/netns 2>/dev/null); do
        if ! sed -n '/^# netns/,/^#/p' "$BED/snapshot.before" | grep -qx "$ns"; then
            umount -l "/run/netns/$ns" 2>/dev/null
            rm -f "/run/netns/$ns"
        fi
    done
}

remove_leftovers
bed_stop_pidfile "$BED/docker/dockerd.pid" 20
bed_stop_pidfile "$BED/containerd/containerd.pid" 15
bed_stop_pidfile "$BED/containerd-native/containerd.pid" 15
bed_stop_pidfile "$BED/registry/registry.pid" 5
for pid in $(pgrep -f "crimpd.*$BED" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
kill_shims
sleep 0.2
unmount_under_bed
remove_netns_created_by_bed
if [ -f "$BED/env" ]; then
    . "$BED/env"
    ip link del "$CRIMP_BED_CNI_BRIDGE" 2>/dev/null
fi
if [ "${CRIMP_BED_KEEP:-0}" = 1 ]; then
    bed_log "down: kept $BED (CRIMP_BED_KEEP=1)"
else
    rm -rf "$BED" 2>/dev/null || bed_log "down: could not remove all of $BED"
fi
bed_log "down: $BED stopped"
exit 0
