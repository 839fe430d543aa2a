#!/usr/bin/env bash
# spec_check.sh RNNC SPEC WORK [HIDDEN]: one spec through the whole chain.
# Compiles SPEC (optionally with network.hidden replaced by HIDDEN, to keep
# the finite differences cheap), builds its double-precision trainer against
# librnnrt_d, runs gradcheck (every parameter and the initial state) and
# compares one forward/backward of the generated code with the compiler's
# reference interpreter (rnnc --check). Extra rnnc options for both rnnc
# runs come from $RNNC_FLAGS (tests/bidirectional.cmake).
set -euo pipefail
rnnc=$1 spec=$2 work=$3 hidden=${4:-}
src=$(cd "$(dirname -- "$0")/.." && pwd)
build=$(dirname -- "$rnnc")
name=$(basename -- "$spec" .yaml)
rm -rf -- "$work" && mkdir -p -- "$work"
if [ -n "$hidden" ]; then
    # tied weights need the embedding as wide as the hidden state
    tied=()
    if grep -qE '^  tie_weights: true' "$spec"; then tied=(-e "s/\{embed: [0-9]+\}/{embed: $hidden}/"); fi
    sed -E -e "s/^(  hidden:) [0-9]+/\1 $hidden/" "${tied[@]}" "$spec" >"$work/$name.yaml"
    spec=$work/$name.yaml
fi
flags=(${RNNC_FLAGS:-})
"$rnnc" "${flags[@]}" "$spec" -o "$work/$name.c"
cc -O1 -std=c11 -Wall -Wextra -pedantic -Werror -DRNNRT_DOUBLE -I"$src/runtime" \
    "$work/$name.c" "$build/librnnrt_d.a" $(pkg-config --libs openblas jansson) -lm -o "$work/${name}_d"
OPENBLAS_NUM_THREADS=1 "$work/${name}_d" gradcheck --B 2 --T 4 --V 6 --max-per-param 1500
OPENBLAS_NUM_THREADS=1 "$work/${name}_d" dump --B 3 --T 4 --V 6 --seed 2 >"$work/dump.txt"
"$rnnc" "${flags[@]}" "$spec" --check "$work/dump.txt"
echo "spec_check: $name: gradcheck and interpreter check passed"
