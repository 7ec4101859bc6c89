#!/usr/bin/env bash
# Fuzz the convcore C library directly, for a bounded time.
#
#   scripts/fuzz.sh [SECONDS] [WORKDIR]      (defaults: 600, /tmp/convcore-fuzz)
#
# 1. builds csrc/fuzz/fuzz_kernels.c with clang's libFuzzer, AddressSanitizer and
#    UndefinedBehaviorSanitizer (make -C csrc fuzz; serial kernels: clang has no OpenMP
#    runtime here) and runs it for SECONDS on WORKDIR/corpus (kept between runs);
# 2. replays the whole corpus on the OpenMP build of the library (gcc, ASan + UBSan), where
#    each input's thread count (1-4) is used.
# A crash or a mismatch with the harness's references stops the run; libFuzzer saves the
# input in WORKDIR/crashes/ (turn it into a regression test: csrc/tests/test_kernels.c).
# Nothing is written to the source tree.  Needs clang (with libFuzzer) and gcc.
set -euo pipefail
SECONDS_TOTAL=${1:-600}
WORK=${2:-/tmp/convcore-fuzz}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
SAN="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
mkdir -p "$WORK/corpus" "$WORK/crashes"

echo "== building the libFuzzer target (clang, ASan + UBSan) in $WORK/build"
make -s -C "$ROOT/csrc" -j"$JOBS" BUILD="$WORK/build" fuzz

echo "== fuzzing for ${SECONDS_TOTAL} s (corpus: $WORK/corpus)"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
status=0
"$WORK/build/fuzz/fuzz_kernels" -max_total_time="$SECONDS_TOTAL" -timeout=20 \
    -rss_limit_mb=4096 -max_len=256 -print_final_stats=1 \
    -artifact_prefix="$WORK/crashes/" "$WORK/corpus" >"$WORK/fuzz.log" 2>&1 || status=$?
grep -E "INITED|DONE|ERROR|SUMMARY|convcore fuzz:|stat::number_of_executed_units|stat::peak_rss" \
    "$WORK/fuzz.log" || true
if [ "$status" -ne 0 ]; then
    echo "libFuzzer stopped with status $status: see $WORK/fuzz.log and $WORK/crashes/" >&2
    exit "$status"
fi

echo "== replaying $(ls "$WORK/corpus" | wc -l) corpus inputs on the OpenMP build (gcc, ASan + UBSan)"
make -s -C "$ROOT/csrc" -j"$JOBS" BUILD="$WORK/replay" CC=gcc EXTRA_CFLAGS="$SAN" \
    fuzz-replay FUZZ_INPUTS="$WORK/corpus"
