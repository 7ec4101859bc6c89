#!/usr/bin/env bash
# Run convcore under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/sanitize.sh [WORKDIR] [-- PYTEST ARGS...]     (default WORKDIR /tmp/convcore-asan)
#
# 1. copies the source tree (tracked and new files, no build products) to WORKDIR/src and
#    builds the extensions there with CONVCORE_SANITIZE=1 (ASan + UBSan) and
#    CONVCORE_CYTHON_CHECKS=1 (bounds checks in the Cython bridges), in a virtualenv that
#    sees the system's packages (numpy, scipy, pytest, hypothesis): the checkout's own
#    in-place build is never touched;
# 2. runs the test suite on that build with libasan preloaded (the interpreter is not
#    instrumented; Python's own allocations are not leak-checked: detect_leaks=0);
# 3. builds the C library with the same sanitizers and runs its C tests (OpenMP and
#    serial) and 20000 random inputs of the fuzz harness (csrc/fuzz) with 1-4 threads.
# Any sanitizer report fails the run.  Needs gcc (libasan, libubsan) and make.
set -euo pipefail
WORK=${1:-/tmp/convcore-asan}
shift || true
[ "${1:-}" = "--" ] && shift
PYTEST_ARGS=("$@")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
JOBS=$(nproc 2>/dev/null || echo 2)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
LIBASAN=$(gcc -print-file-name=libasan.so)
[ -e "$LIBASAN" ] || { echo "libasan not found (gcc -print-file-name=libasan.so)" >&2; exit 2; }

echo "== copying the source tree to $WORK/src"
rm -rf "$WORK/src"
mkdir -p "$WORK/src"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | tar --null -T - -cf -) |
    tar -C "$WORK/src" -xf -

if [ ! -x "$WORK/venv/bin/python" ]; then
    echo "== creating $WORK/venv (--system-site-packages)"
    "$PYTHON" -m venv --system-site-packages "$WORK/venv"
fi
PY="$WORK/venv/bin/python"

echo "== building the extensions with CONVCORE_SANITIZE=1 CONVCORE_CYTHON_CHECKS=1"
(cd "$WORK/src" && CC=gcc CONVCORE_SANITIZE=1 CONVCORE_CYTHON_CHECKS=1 \
    "$PY" setup.py -q build_ext --inplace -j "$JOBS" >"$WORK/build.log" 2>&1) ||
    { tail -40 "$WORK/build.log"; exit 1; }

export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== the test suite on the sanitized build"
cd "$WORK/src"
LD_PRELOAD="$LIBASAN" "$PY" -c "import convcore, sys; assert convcore.__file__.startswith('$WORK/src'), convcore.__file__; print('convcore from', convcore.__file__)"
# Left out: the tests that run make and a compiler (libasan would be preloaded into them
# too; the C library is checked with its own sanitized build below), the dask cluster
# of worker processes (their start-up under ASan exceeds the test's timeouts), the plot
# of `convcore report` (matplotlib's C++ exceptions trip ASan's own interceptor check in
# an uninstrumented interpreter), the Ctrl-C reaction times (bounds for optimised
# builds, not for kernels several times slower under ASan) and the address-space limit
# (ASan reserves terabytes of shadow memory: no RLIMIT_AS can apply).
status=0
LD_PRELOAD="$LIBASAN" "$PY" -m pytest -q -p no:cacheprovider tests convcore \
    --ignore=tests/test_csrc.py --ignore=tests/test_robust_fuzz_harness.py \
    -k "not local_cluster and not plot_written and not sigint and not too_many_threads" \
    "${PYTEST_ARGS[@]}" 2>&1 | tee "$WORK/pytest.log" || status=$?
if grep -qE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$WORK/pytest.log"; then
    echo "sanitizer report in $WORK/pytest.log" >&2
    exit 1
fi
[ "$status" -eq 0 ] || exit "$status"

echo "== the C library's tests and the fuzz harness under ASan + UBSan (gcc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
make -s -C "$ROOT/csrc" -j"$JOBS" BUILD="$WORK/csrc" CC=gcc EXTRA_CFLAGS="$SAN" test-all
make -s -C "$ROOT/csrc" -j"$JOBS" BUILD="$WORK/csrc" CC=gcc EXTRA_CFLAGS="$SAN" \
    fuzz-replay FUZZ_RUNS=20000
echo "== no sanitizer report"
