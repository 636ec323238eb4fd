#!/bin/bash
# crimp's test command: installs what is missing (Debian packages), builds
# crimp (and with --sanitize an ASan+UBSan variant too), builds the compiler
# matrix with -Werror (tests/build-matrix.sh), starts the test bed
# (private containerd, dockerd, registry), runs the unit and end-to-end
# suites of every build through ctest, stops the bed, checks that nothing was
# left behind, and ends with one line "N passed, N failed".
#
#   tests/run.sh [--sanitize] [--[no-]matrix] [--no-install] [-R REGEX] [-L LABEL]
#
# The matrix runs with --sanitize (CI) unless --no-matrix, or alone with
# --matrix.  Build dirs: build/ (normal), build-asan/ (sanitizers),
# build-matrix/<cell> (each cell counts as one step).  Logs and ctest's
# JUnit files go to build/test-results/.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

sanitize=0 install=1 matrix="" ctest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --sanitize) sanitize=1 ;;
    --no-install) install=0 ;;
    --matrix) matrix=1 ;;
    --no-matrix) matrix=0 ;;
    -R | -L | -E) ctest_args+=("$1" "$2"); shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
matrix=${matrix:-$sanitize}
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (the bed starts containerd and dockerd)" >&2; exit 2; }

results=$root/build/test-results
passed=0 failed=0 failures=()

step() { printf '\n=== %s\n' "$*"; }
fail_step() { failed=$((failed + 1)); failures+=("$1"); echo "FAILED: $1"; }
pass_step() { passed=$((passed + 1)); }

# Counts the testcases of a ctest JUnit file into passed/failed.
count_junit() {
    local counts
    counts=$(/usr/bin/python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
p = f = s = 0
names = []
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    status = case.get("status", "run")
    if case.find("failure") is not None or status == "fail":
        f += 1; names.append(case.get("name"))
    elif case.find("skipped") is not None or status in ("notrun", "disabled"):
        s += 1
    else:
        p += 1
print(p, f, s, " ".join(names))
PY
)
    read -r p f s names <<<"$counts"
    passed=$((passed + p))
    failed=$((failed + f))
    for n in $names; do failures+=("$2:$n"); done
    # A skipped test in CI means a missing prerequisite: count it as failed.
    if [ "${s:-0}" -gt 0 ]; then
        failed=$((failed + s))
        failures+=("$2: $s test(s) skipped")
    fi
}

build() { # DIR CMAKE_ARGS...
    local dir=$1; shift
    cmake -S "$root" -B "$dir" -DCRIMP_WERROR=ON "$@" >"$results/cmake-$(basename "$dir").log" 2>&1 &&
        cmake --build "$dir" -j"$(nproc)" >>"$results/cmake-$(basename "$dir").log" 2>&1
}

run_suite() { # NAME BUILD_DIR
    local name=$1 dir=$2 junit=$results/$1.xml
    step "ctest ($name)"
    (cd "$dir" && ctest --output-on-failure --output-junit "$junit" "${ctest_args[@]}")
    if [ -s "$junit" ]; then
        count_junit "$junit" "$name"
    else
        fail_step "$name: ctest produced no results"
    fi
}

mkdir -p "$results"

if [ $install = 1 ]; then
    step "install"
    tests/bed/install.sh || fail_step "install"
fi

step "build (normal)"
if build "$root/build"; then pass_step; else fail_step "build"; tail -40 "$results/cmake-build.log"; fi
if [ $sanitize = 1 ]; then
    step "build (ASan+UBSan)"
    if build "$root/build-asan" -DCRIMP_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug; then
        pass_step
    else
        fail_step "build-asan"; tail -40 "$results/cmake-build-asan.log"
    fi
fi

# Every target in each cell of the compiler matrix, with -Werror and no
# warning at all; a cell is one step.  Tests run on build/ and build-asan/.
if [ $matrix = 1 ]; then
    step "build matrix (tests/build-matrix.sh)"
    tests/build-matrix.sh --results "$results"
    while IFS=$'\t' read -r cell result _; do
        if [ "$result" = pass ]; then pass_step; else fail_step "build-matrix:$cell"; fi
    done <"$results/matrix.tsv"
    # The .deb from the dpkg-buildflags cell, installed and purged for real.
    step "package (.deb: cpack, dpkg -i, dpkg -r, dpkg -P)"
    if grep -qP '^dpkg-buildflags\tpass' "$results/matrix.tsv" &&
        tests/package/test-deb.sh "$root/build-matrix/dpkg-buildflags"; then
        pass_step
    else
        fail_step "package-deb"
    fi
fi

step "bed up"
bed=$(tests/bed/up.sh) || { fail_step "bed up"; bed=""; }
if [ -n "$bed" ]; then
    cp "$bed/snapshot.before" "$results/snapshot.before"
    export CRIMP_BED=$bed
    pass_step
fi

[ -x build/shim/crimpd ] && run_suite normal "$root/build"
if [ $sanitize = 1 ] && [ -x build-asan/shim/crimpd ]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=66
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_suite sanitize "$root/build-asan"
fi

# Every parser of peer bytes under libFuzzer for a bounded time (clang
# only): each target of tests/fuzz/CMakeLists.txt, two at a time.
if [ $sanitize = 1 ] && command -v clang >/dev/null; then
    step "fuzz (every target of tests/fuzz, ${CRIMP_FUZZ_SECONDS:-15}s each)"
    if CC=clang cmake -S "$root" -B "$root/build-fuzz" -DCRIMP_FUZZ=ON >"$results/cmake-fuzz.log" 2>&1 &&
        cmake --build "$root/build-fuzz" -j"$(nproc)" --target crimp_fuzzers \
            >>"$results/cmake-fuzz.log" 2>&1 &&
        tests/fuzz/run.sh "$root/build-fuzz" "${CRIMP_FUZZ_SECONDS:-15}" --jobs "$(nproc)"; then
        pass_step
    else
        fail_step "fuzz"
    fi
fi

if [ -n "$bed" ]; then
    step "bed down"
    CRIMP_BED_KEEP=0 tests/bed/down.sh "$bed"
    step "nothing left behind"
    if tests/bed/check-clean.sh "$results/snapshot.before"; then pass_step; else fail_step "check-clean"; fi
fi

echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
