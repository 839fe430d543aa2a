#!/usr/bin/env bash
# update-generated.sh: regenerate generated/X.c from every specs/X.yaml.
#
#   bash scripts/update-generated.sh RNNC_BIN
#   (or: cmake --build build --target update-generated)
#
# rnnc runs with the repository root as its working directory and the spec
# given as the relative path specs/X.yaml, so the emitted header names
# "specs/X.yaml" and never an absolute path. Each file is written to a
# temporary file first and renamed into place only when rnnc succeeded and
# the bytes changed (unchanged files keep their mtime, so nothing rebuilds).
# generated/X.c files whose spec is gone are removed. Exit 1 if any spec
# failed to compile; the other specs are still regenerated.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 RNNC_BIN" >&2
    exit 2
fi
rnnc=$(realpath -- "$1") || { echo "update-generated: error: no rnnc at '$1'" >&2; exit 2; }
[ -x "$rnnc" ] || { echo "update-generated: error: '$rnnc' is not executable (build it first)" >&2; exit 2; }

cd "$(dirname -- "$0")/.."
mkdir -p generated
shopt -s nullglob

tmp=""
trap '[ -z "$tmp" ] || rm -f -- "$tmp"' EXIT

failed=0 updated=0 unchanged=0
for spec in specs/*.yaml; do
    name=$(basename -- "$spec" .yaml)
    out="generated/$name.c"
    tmp="generated/$name.c.tmp.$$"
    if ! "$rnnc" "$spec" -o "$tmp"; then
        echo "update-generated: error: rnnc failed on $spec; $out left as it was" >&2
        rm -f -- "$tmp"
        failed=$((failed + 1))
        continue
    fi
    if [ -f "$out" ] && cmp -s -- "$tmp" "$out"; then
        rm -f -- "$tmp"
        unchanged=$((unchanged + 1))
    else
        mv -f -- "$tmp" "$out"
        echo "update-generated: wrote $out"
        updated=$((updated + 1))
    fi
    tmp=""
done

removed=0
for gen in generated/*.c; do
    name=$(basename -- "$gen" .c)
    if [ ! -f "specs/$name.yaml" ]; then
        rm -f -- "$gen"
        echo "update-generated: removed $gen (no specs/$name.yaml)"
        removed=$((removed + 1))
    fi
done

echo "update-generated: $updated updated, $unchanged unchanged, $removed removed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
