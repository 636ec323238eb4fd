#!/bin/bash
# Compares the machine with the snapshot up.sh took before the bed started:
# prints what is left behind (processes, mounts, netns, links) and fails if
# anything is.  Usage: check-clean.sh SNAPSHOT_FILE
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

before=${1:?usage: check-clean.sh SNAPSHOT_FILE}
after=$(mktemp)
trap 'rm -f "$after"' EXIT
bed_snapshot > "$after"
# Only what is new counts; what existed before the bed is not ours.
leaked=$(diff "$before" "$after" | grep '^>' | sed 's/^> //' | grep -v '^#' || true)
if [ -n "$leaked" ]; then
    echo "check-clean: left behind by the run:"
    echo "$leaked" | sed 's/^/  /'
    exit 1
fi
echo "check-clean: nothing left behind"
