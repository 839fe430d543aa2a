#!/usr/bin/env bash
# smoke.sh: a short libFuzzer run of rnnc_fuzz on the seed corpus (ctest
# fuzz_smoke, tests/fuzz.cmake). A fixed number of inputs (-runs) and a fixed
# seed, never a time budget, so the work does not depend on the machine's
# load; the per-input timeout is generous for the same reason.
#
#   smoke.sh run   RNNC_FUZZ_BINARY WORKDIR RUNS DICT SEEDDIR...
#   smoke.sh build CLANG            WORKDIR RUNS DICT SEEDDIR...
#
# `build` first builds rnnc_fuzz with clang in $RNNC_FUZZ_BUILD (a build
# configured with -DRNNC_FUZZ=ON), or exits 77 (skipped) with the reason
# when clang cannot link libFuzzer. Fails when libFuzzer reports a crash,
# a sanitizer error, an internal compiler error or a hang.
set -euo pipefail
mode=$1 tool=$2 work=$3 runs=$4 dict=$5
shift 5

skip() {
    echo "fuzz_smoke: skipped: $*" >&2
    echo "fuzz_smoke: to fuzz, install clang and libclang-rt-dev (scripts/install-deps.sh)," >&2
    echo "fuzz_smoke: or configure a build with -DCMAKE_C_COMPILER=clang -DRNNC_FUZZ=ON" >&2
    exit 77
}

rm -rf "$work"
mkdir -p "$work/corpus"

if [ "$mode" = build ]; then
    [ -n "$tool" ] && [ -x "$tool" ] || skip "clang not found"
    printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; return (int)n * 0; }\n' \
        > "$work/probe.c"
    "$tool" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" 2> "$work/probe.log" ||
        skip "$tool cannot link -fsanitize=fuzzer,address,undefined ($(head -n 1 "$work/probe.log"))"
    build=${RNNC_FUZZ_BUILD:?}
    "${CMAKE:-cmake}" -S "${RNNC_SOURCE_DIR:?}" -B "$build" -DCMAKE_C_COMPILER="$tool" -DRNNC_FUZZ=ON \
        -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" 2>&1 ||
        { cat "$work/configure.log" >&2; echo "fuzz_smoke: configuring $build failed" >&2; exit 1; }
    "${CMAKE:-cmake}" --build "$build" --target rnnc_fuzz -j2 > "$work/build.log" 2>&1 ||
        { tail -n 40 "$work/build.log" >&2; echo "fuzz_smoke: building rnnc_fuzz failed" >&2; exit 1; }
    tool=$build/tests/rnnc_fuzz
fi

# The fresh corpus directory comes first: libFuzzer adds new inputs there,
# never to the seed directories.
status=0
"$tool" -dict="$dict" -runs="$runs" -seed=1 -timeout=300 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "$@" > "$work/log" 2>&1 || status=$?
grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::number_of_executed_units)' "$work/log" || true
if [ "$status" -ne 0 ]; then
    tail -n 60 "$work/log" >&2
    echo "fuzz_smoke: rnnc_fuzz exited $status; the input is in $work/ (crash-*, timeout-*, leak-*)" >&2
    echo "fuzz_smoke: reproduce with: $tool $work/crash-..." >&2
    exit 1
fi
echo "fuzz_smoke: $runs inputs, no crash ($work/log)"
