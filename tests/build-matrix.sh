#!/bin/bash
# Builds crimp (every target, unit tests included) in each cell of the
# compiler matrix with -Werror, and checks that no cell prints a warning.
# A cell passes when it configures and builds and its log has no
# "warning:" / "CMake Warning" line (so a warning in code built without
# -Werror, a linker warning or a protoc note fails it too).
#
#   tests/build-matrix.sh [--all] [--cells c1,c2] [--results DIR]
#
# Cells are CMakePresets.json's configure presets, each in
# build-matrix/<cell>/.  Default: gcc and clang x Release and Debug, and
# dpkg-buildflags (gcc with Debian's hardening flags: CFLAGS and LDFLAGS
# from `dpkg-buildflags` with hardening=+all, plus -fcf-protection, which
# dpkg 1.21 does not add yet).  --all adds RelWithDebInfo and MinSizeRel.
# Uses ccache when installed.  Writes DIR/matrix.tsv (cell, pass|fail,
# seconds, command) and DIR/matrix-<cell>.log; exits 1 if a cell failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

cells=(gcc-release gcc-debug clang-release clang-debug dpkg-buildflags)
results=$root/build/test-results
while [ $# -gt 0 ]; do
    case "$1" in
    --all) cells=(gcc-release gcc-debug gcc-relwithdebinfo gcc-minsizerel
        clang-release clang-debug clang-relwithdebinfo clang-minsizerel dpkg-buildflags) ;;
    --cells) IFS=, read -r -a cells <<<"$2"; shift ;;
    --results) results=$2; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-matrix.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$results"
: >"$results/matrix.tsv"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)

# The environment a cell configures in: Debian's package flags for the
# dpkg-buildflags cell (debhelper's way: CPPFLAGS folded into CFLAGS,
# CMAKE_BUILD_TYPE=None so that only these flags apply), nothing otherwise.
cell_env() {
    [ "$1" = dpkg-buildflags ] || return 0
    local flags=(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get)
    printf "CFLAGS='%s' LDFLAGS='%s' " \
        "$(env "${flags[@]}" CFLAGS) $(env "${flags[@]}" CPPFLAGS) -fcf-protection" \
        "$(env "${flags[@]}" LDFLAGS)"
}

failed=0
for cell in "${cells[@]}"; do
    dir=$root/build-matrix/$cell log=$results/matrix-$cell.log
    rm -rf "$dir"
    envs=$(cell_env "$cell")
    cmd="${envs}cmake --preset $cell ${launcher[*]} && cmake --build --preset $cell -j$(nproc)"
    start=$(date +%s)
    (eval "$cmd") >"$log" 2>&1
    rc=$? secs=$(($(date +%s) - start))
    warnings=$(grep -cE 'warning:|CMake Warning' "$log")
    if [ $rc = 0 ] && [ "$warnings" = 0 ]; then
        result=pass
    else
        result=fail failed=1
        grep -E -A3 'warning:|CMake Warning|error:' "$log" | head -30
        [ $rc = 0 ] || tail -20 "$log"
    fi
    printf '%s\t%s\t%s\t%s\n' "$cell" "$result" "$secs" "$cmd" >>"$results/matrix.tsv"
    printf '%-22s %s  %4ss  rc=%s warnings=%s  %s\n' "$cell" "$result" "$secs" "$rc" "$warnings" "$cmd"
done
exit $failed
