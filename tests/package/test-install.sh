#!/bin/bash
# `cmake --install` into a DESTDIR: the binaries, both systemd units (with
# ExecStart naming this build's prefix), the commented default config,
# which the built crimpd accepts, the kubelet drop-in and the docs.
#   tests/package/test-install.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: test-install.sh BUILD_DIR}
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
sysconf=$([ "$prefix" = /usr ] && echo /etc || echo "$prefix/etc")
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
DESTDIR=$dest cmake --install "$build" >/dev/null || { echo "FAIL: cmake --install"; exit 1; }
failures=0
for p in "$prefix/sbin/crimpd" "$prefix/bin/crimpctl" "$sysconf/crimp/crimpd.json" \
    "$prefix/lib/systemd/system/crimpd.service" "$prefix/lib/systemd/system/crimpd.socket" \
    "$prefix/share/doc/crimp/README.md" "$prefix/share/doc/crimp/teaching.md" \
    "$prefix/share/doc/crimp/examples/kubelet-crimp.conf" "$prefix/share/man/man8/crimpd.8" \
    "$prefix/share/man/man1/crimpctl.1" "$prefix/share/man/man5/crimpd.json.5" \
    "$prefix/share/bash-completion/completions/crimpctl"; do
    [ -e "$dest$p" ] || { echo "FAIL: $p not installed"; failures=$((failures + 1)); }
done
grep -qx "ExecStart=$prefix/sbin/crimpd --config $sysconf/crimp/crimpd.json" \
    "$dest$prefix/lib/systemd/system/crimpd.service" ||
    { echo "FAIL: crimpd.service does not name $prefix/sbin/crimpd"; failures=$((failures + 1)); }
"$dest$prefix/sbin/crimpd" --config "$dest$sysconf/crimp/crimpd.json" --print-config >/dev/null ||
    { echo "FAIL: the installed default config is refused"; failures=$((failures + 1)); }
# Only what a node needs: no test or benchmark programs.
extra=$(find "$dest" -type f | grep -E '/(test_|crimp-bench|crimp-echo)' || true)
[ -z "$extra" ] || { echo "FAIL: installed test programs: $extra"; failures=$((failures + 1)); }
[ $failures = 0 ] && echo "PASS: $(find "$dest" -type f | wc -l) files under $prefix and $sysconf"
[ $failures = 0 ]
