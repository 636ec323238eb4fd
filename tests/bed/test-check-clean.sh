#!/bin/bash
# check-clean.sh on a machine where /run/netns never existed: a run whose
# `ip netns add` created /run/netns (and its self bind-mount) and removed
# every netns it made is clean; a netns left in it is still a leak.
# Runs in its own mount, network and pid namespaces with a fresh /run, so
# neither the machine nor other beds' daemons can change the outcome.
# Needs root; exits 77 (skipped) without it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v ip >/dev/null || exit 77

exec unshare --mount --net --pid --fork --mount-proc --propagation private \
    bash -euo pipefail -c '
here=$1
mount -t tmpfs crimp-check-clean /run   # this namespace only: no /run/netns yet
tmp=$(mktemp -d)
. "$here/lib.sh"
bed_snapshot >"$tmp/before"

ip netns add crimp-cc-gone
ip netns delete crimp-cc-gone
grep -q " /run/netns " /proc/mounts || { echo "FAIL: ip did not mount /run/netns"; exit 1; }
if ! "$here/check-clean.sh" "$tmp/before"; then
    echo "FAIL: an empty /run/netns the run created is reported as a leak"; exit 1
fi

ip netns add crimp-cc-left
if out=$("$here/check-clean.sh" "$tmp/before"); then
    echo "FAIL: a netns left in /run/netns is not reported"; exit 1
fi
echo "$out"
echo "$out" | grep -qx "  crimp-cc-left" || { echo "FAIL: the leaked netns is not named"; exit 1; }
ip netns delete crimp-cc-left
"$here/check-clean.sh" "$tmp/before"
echo "PASS"
' check-clean "$here"
