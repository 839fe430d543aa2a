#!/usr/bin/env bash
# golden.sh: check that generated/ is exactly what rnnc emits today.
#
#   golden.sh RNNC_BIN NAME BUILD_DIR   check one spec (ctest golden_NAME)
#   golden.sh --orphans                 check that every generated/X.c has a
#                                       specs/X.yaml (ctest golden_orphans)
#
# Runs from the source directory (ctest sets it), with the spec given as the
# relative path specs/NAME.yaml, exactly as scripts/update-generated.sh does.
# For one spec it:
#   1. compiles specs/NAME.yaml twice (second run in another directory and
#      another time zone/locale) and requires identical bytes: same spec,
#      same bytes;
#   2. requires generated/NAME.c to exist and to match byte for byte. On a
#      mismatch it prints a unified diff, leaves the new output in
#      BUILD_DIR/NAME.c.new and says how to regenerate.
set -euo pipefail

fail() { echo "golden: FAIL: $*" >&2; exit 1; }

if [ "${1:-}" = "--orphans" ]; then
    shopt -s nullglob
    bad=0
    for gen in generated/*.c; do
        name=$(basename -- "$gen" .c)
        if [ ! -f "specs/$name.yaml" ]; then
            echo "golden: FAIL: $gen has no spec (specs/$name.yaml is missing)." >&2
            bad=1
        fi
    done
    [ "$bad" -eq 0 ] || fail "remove the orphans: cmake --build build --target update-generated"
    echo "golden: ok: every file in generated/ has a spec"
    exit 0
fi

[ $# -eq 3 ] || { echo "usage: $0 RNNC_BIN NAME BUILD_DIR | $0 --orphans" >&2; exit 2; }
rnnc=$1 name=$2 build=$3
spec="specs/$name.yaml"
golden="generated/$name.c"
work="$build/golden/$name"
new="$build/$name.c.new"

[ -f "$spec" ] || fail "$spec not found (run from the source directory)"
rm -rf -- "$work"
mkdir -p -- "$work/run1" "$work/run2"

if ! "$rnnc" "$spec" -o "$work/run1/$name.c" 2>"$work/run1.err"; then
    cat "$work/run1.err" >&2
    fail "rnnc failed on $spec"
fi
[ -s "$work/run1.err" ] && { echo "golden: note: rnnc printed on stderr:" >&2; cat "$work/run1.err" >&2; }

if ! TZ=Pacific/Kiritimati LC_ALL=C "$rnnc" "$spec" -o "$work/run2/$name.c" 2>"$work/run2.err"; then
    cat "$work/run2.err" >&2
    fail "rnnc failed on $spec on the second run"
fi
if ! cmp -s -- "$work/run1/$name.c" "$work/run2/$name.c"; then
    diff -u --label "run 1" --label "run 2" -- "$work/run1/$name.c" "$work/run2/$name.c" | head -n 200 >&2 || true
    fail "rnnc is not deterministic: two runs on $spec gave different bytes (diff above)"
fi

if [ ! -f "$golden" ]; then
    cp -- "$work/run1/$name.c" "$new"
    fail "$spec has no $golden. Output left in $new. Run: cmake --build build --target update-generated"
fi

if ! cmp -s -- "$golden" "$work/run1/$name.c"; then
    cp -- "$work/run1/$name.c" "$new"
    diff -u --label "$golden (checked in)" --label "rnnc $spec (now)" -- \
        "$golden" "$work/run1/$name.c" >"$work/diff" || true
    lines=$(wc -l <"$work/diff")
    head -n 300 "$work/diff" >&2
    [ "$lines" -le 300 ] || echo "... ($((lines - 300)) more diff lines in $work/diff)" >&2
    fail "$golden is stale: it differs from what rnnc emits for $spec now.
  New output: $new
  If the change is intended, regenerate and commit it:
    cmake --build build --target update-generated"
fi

rm -f -- "$new"
echo "golden: ok: $golden matches rnnc $spec (deterministic over 2 runs)"
