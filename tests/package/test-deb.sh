#!/bin/bash
# The .deb, installed and removed for real: `cpack -G DEB` in BUILD_DIR
# (configured with prefix /usr; reconfigured if not), then checks that the
# package has no maintainer scripts (installing never starts crimpd) and
# marks /etc/crimp/crimpd.json a conffile; `dpkg -i`; every file in place,
# the units naming the installed paths and passing `systemd-analyze
# verify`, the default config accepted by the installed crimpd, no crimpd
# running; `dpkg -r` removes everything but the conffile; `dpkg -P` leaves
# nothing at all.  Needs root and a machine where the package crimp is not
# installed.  Exit 0 pass, 1 fail, 77 skipped.
#
#   tests/package/test-deb.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: test-deb.sh BUILD_DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] && command -v dpkg >/dev/null && command -v cpack >/dev/null || {
    echo "skip: needs root, dpkg and cpack"; exit 77; }
if dpkg-query -W -f='${Status}' crimp 2>/dev/null | grep -qv 'not-installed'; then
    echo "FAIL: the package crimp is already installed here; this test would remove it"
    exit 1
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
purge() { dpkg -P crimp >/dev/null 2>&1 || true; }
trap purge EXIT

if ! grep -qx 'CMAKE_INSTALL_PREFIX:PATH=/usr' "$build/CMakeCache.txt" 2>/dev/null; then
    cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null || exit 1
    cmake --build "$build" -j"$(nproc)" >/dev/null || exit 1
fi
rm -f "$build"/crimp_*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { cat "$build/cpack.log"; exit 1; }
deb=$(ls "$build"/crimp_*.deb 2>/dev/null | head -1)
[ -f "$deb" ] || { echo "FAIL: cpack made no .deb"; exit 1; }
ok "built $(basename "$deb")"

# The package itself.
control=$(mktemp -d)
dpkg-deb -e "$deb" "$control"
for s in preinst postinst prerm postrm; do
    [ -e "$control/$s" ] && fail "the package has a $s script"
done
grep -qx /etc/crimp/crimpd.json "$control/conffiles" || fail "crimpd.json is not a conffile"
rm -rf "$control"
mapfile -t files < <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')

# Installed.
for p in "${files[@]}"; do [ -e "$p" ] && fail "$p exists before the install"; done
dpkg -i "$deb" >/dev/null || { fail "dpkg -i"; exit 1; }
want=(/usr/sbin/crimpd /usr/bin/crimpctl /etc/crimp/crimpd.json
    /usr/lib/systemd/system/crimpd.service /usr/lib/systemd/system/crimpd.socket
    /usr/share/doc/crimp/README.md /usr/share/doc/crimp/architecture.md
    /usr/share/doc/crimp/examples/kubelet-crimp.conf)
for p in "${want[@]}"; do [ -e "$p" ] || fail "$p not installed"; done
for p in "${files[@]}"; do [ -e "$p" ] || fail "$p (in the .deb) not installed"; done
ok "${#files[@]} files installed"
/usr/sbin/crimpd --version >/dev/null || fail "the installed crimpd does not run"
/usr/bin/crimpctl --version >/dev/null || fail "the installed crimpctl does not run"
/usr/sbin/crimpd --config /etc/crimp/crimpd.json --print-config >/dev/null ||
    fail "the installed default config is refused"
grep -qx 'ExecStart=/usr/sbin/crimpd --config /etc/crimp/crimpd.json' \
    /usr/lib/systemd/system/crimpd.service || fail "crimpd.service does not name the installed paths"
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify /usr/lib/systemd/system/crimpd.socket \
        /usr/lib/systemd/system/crimpd.service 2>&1)
    [ -z "$out" ] && ok "systemd-analyze verify: clean" || fail "systemd-analyze verify: $out"
fi
pgrep -f '^/usr/sbin/crimpd' >/dev/null && fail "installing started crimpd"

# Removed, then purged.
dpkg -r crimp >/dev/null || fail "dpkg -r"
for p in "${files[@]}"; do
    [ "$p" = /etc/crimp/crimpd.json ] && continue
    [ -e "$p" ] && fail "$p left after dpkg -r"
done
[ -e /etc/crimp/crimpd.json ] || fail "dpkg -r removed the conffile (it keeps it until purge)"
dpkg -P crimp >/dev/null || fail "dpkg -P"
for p in "${files[@]}" /etc/crimp /usr/share/doc/crimp; do
    [ -e "$p" ] && fail "$p left after dpkg -P"
done
dpkg-query -W -f='${Status}' crimp 2>/dev/null | grep -qv 'not-installed' &&
    fail "dpkg still knows crimp after purge"
[ $failures = 0 ] && { echo "PASS"; exit 0; }
exit 1
