#!/usr/bin/env bash
# check.sh RNNC SPEC WORK [HIDDEN]: the memory plan changes where buffers
# live, never a value. Compiles SPEC with the default passes and with
# --no-pass memplan (hidden width cut to HIDDEN, as spec_check.sh does),
# builds both double trainers, and requires their dumps (one forward and
# backward on the same random problem: outputs, gradients) to be identical
# byte for byte, and the planned one to agree with the reference
# interpreter (rnnc --check). Then prints the workspace bytes of both at
# the spec's batch and steps (V 64, and L 8 / Vt 64) and fails if the plan
# made it larger.
set -euo pipefail
rnnc=$1 spec=$2 work=$3 hidden=${4:-}
src=$(cd "$(dirname -- "$0")/../.." && pwd)
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
model=$(sed -n 's/^model: *\([A-Za-z0-9_]*\).*/\1/p' "$spec")
B=$(sed -n 's/^  batch: *\([0-9]*\).*/\1/p' "$spec")
T=$(sed -n 's/^  steps: *\([0-9]*\).*/\1/p' "$spec")
libs="$build/librnnrt_d.a $(pkg-config --libs openblas jansson) -lm -pthread"
for v in plan noplan; do
    flags=()
    [ "$v" = noplan ] && flags=(--no-pass memplan)
    "$rnnc" "${flags[@]}" "$spec" -o "$work/$v.c"
    cc -O1 -std=c11 -Wall -Wextra -pedantic -Werror -DRNNRT_DOUBLE -I"$src/runtime" \
        "$work/$v.c" $libs -o "$work/${v}_d"
    kind=0
    grep -q 'RnnrtS2sModel' "$work/$v.c" && kind=2
    grep -q '\.workspace_l = ' "$work/$v.c" && kind=1
    cc -O1 -std=c11 -DRNNRT_DOUBLE -I"$src/runtime" -DGEN="\"$work/$v.c\"" -DMODEL="${model}_model" \
        -DKIND=$kind "$src/tests/memplan/workspace.c" $libs -o "$work/${v}_ws"
    if [ "$kind" = 2 ]; then
        OPENBLAS_NUM_THREADS=1 "$work/${v}_d" dump --seed 2 >"$work/$v.dump"
        x=64
    else
        OPENBLAS_NUM_THREADS=1 "$work/${v}_d" dump --B 3 --T 4 --V 6 --seed 2 >"$work/$v.dump"
        x=8
    fi
    "$work/${v}_ws" "$B" "$T" 64 "$x" >"$work/$v.bytes"
done
cmp -- "$work/plan.dump" "$work/noplan.dump" ||
    { echo "memplan: $name: the dumps with and without the memory plan differ" >&2; exit 1; }
"$rnnc" "$spec" --check "$work/plan.dump"
before=$(cat "$work/noplan.bytes") after=$(cat "$work/plan.bytes")
echo "memplan: $name: workspace at B=$B T=$T V=64: $before bytes without the plan, $after with it"
[ "$after" -le "$before" ] || { echo "memplan: $name: the plan made the workspace larger" >&2; exit 1; }
echo "memplan: $name: same dump with and without the plan, interpreter check passed"
