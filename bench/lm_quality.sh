#!/usr/bin/env bash
# lm_quality.sh: quality and speed of an rnnc trainer next to the PyTorch
# reference (../shared/reference/lm_quality.py), same recipe, same data, same
# machine, one thread each, in one run. Not part of ctest (it takes minutes).
#
#   bash bench/lm_quality.sh [--cell rnn|gru|lstm] [--epochs N] [--data FILE]
#
# Defaults: --cell rnn, --epochs 20, --data ../shared/data/timemachine.txt
# (relative to the repository root). The rnnc side trains the trainer built
# from generated/CELL.c with --epochs N --threads 1 and everything else from
# specs/CELL.yaml; the reference gets the same epochs, --threads 1 and the
# spec's hidden, batch, steps, lr, clip_norm and seed. Prints both val_ppl,
# the ratio rnnc/reference, and both training tokens/s, under the current
# OPENBLAS_CORETYPE.
# Installs python3-torch with apt if it is missing.
set -euo pipefail
cd "$(dirname -- "$0")/.."
root=$PWD

cell=rnn epochs=20 data=$root/../shared/data/timemachine.txt
while [ $# -gt 0 ]; do
    case "$1" in
    --cell) cell=${2:?--cell needs a value}; shift 2 ;;
    --epochs) epochs=${2:?--epochs needs a value}; shift 2 ;;
    --data) data=${2:?--data needs a path}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "lm_quality: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done
reference=$root/../shared/reference/lm_quality.py
[ -r "$data" ] || { echo "lm_quality: error: no data at $data (pass --data FILE)" >&2; exit 1; }
[ -r "$reference" ] || { echo "lm_quality: error: no reference at $reference" >&2; exit 1; }
[ -f "specs/$cell.yaml" ] || { echo "lm_quality: error: no specs/$cell.yaml" >&2; exit 1; }
data=$(realpath -- "$data")

step() { printf '\n==> %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

step "dependencies (python3-torch for the reference)"
bash scripts/install-deps.sh python3-torch

# The speed side is built as bench/run.sh builds it: -march=native
# (RNNC_NATIVE=ON; the default build/ is portable), in build/bench.
build=build/bench
step "building the $cell trainer ($build, Release, RNNC_NATIVE=ON)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DRNNC_NATIVE=ON >/dev/null
cmake --build "$build" -j2 --target "$cell"

out=$build/lm_quality
mkdir -p "$out"
coretype=${OPENBLAS_CORETYPE:-unset (OpenBLAS auto-detects)}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# The reference gets the spec's recipe (its own defaults are rnn.yaml's).
# spec_value KEY: the plain scalar after "KEY:" in the spec, comments dropped.
spec_value() {
    sed -n "s/^[[:space:]]*$1:[[:space:]]*\([^[:space:]#{]*\).*/\1/p" "specs/$cell.yaml" | head -n 1
}
ref_args=(--cell "$cell" --epochs "$epochs" --threads 1)
for kv in hidden:hidden batch:batch steps:steps lr:lr clip_norm:clip seed:seed; do
    v=$(spec_value "${kv%%:*}")
    [ -z "$v" ] || ref_args+=("--${kv#*:}" "$v")
done

step "reference: PyTorch, --cell $cell, $epochs epochs, 1 thread"
run /usr/bin/python3 "$reference" "$data" "${ref_args[@]}" |
    tee "$out/reference_$cell.log"

step "rnnc: $build/$cell, $epochs epochs, 1 thread"
run "$build/$cell" train --data "$data" --epochs "$epochs" --threads 1 --quiet \
    --ckpt "$out/$cell.ckpt" | tee "$out/rnnc_$cell.log"

field() { grep '^RESULT' "$2" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -n 1; }
ref_ppl=$(field val_ppl "$out/reference_$cell.log")
ref_tok=$(field train_tok_s "$out/reference_$cell.log")
our_ppl=$(field val_ppl "$out/rnnc_$cell.log")
our_tok=$(field train_tok_s "$out/rnnc_$cell.log")
for v in ref_ppl ref_tok our_ppl our_tok; do
    [ -n "${!v}" ] || { echo "lm_quality: error: could not read $v from a RESULT line (logs in $out/)" >&2; exit 1; }
done

step "result: $cell on $(basename -- "$data"), $epochs epochs, 1 thread, OPENBLAS_CORETYPE=$coretype"
awk -v rp="$ref_ppl" -v op="$our_ppl" -v rt="$ref_tok" -v ot="$our_tok" 'BEGIN {
    printf "%-22s %12s %16s\n", "", "val_ppl", "train tok/s"
    printf "%-22s %12.4f %16.0f\n", "PyTorch reference", rp, rt
    printf "%-22s %12.4f %16.0f\n", "rnnc", op, ot
    printf "%-22s %12.4f %16.2f\n", "rnnc / reference", op / rp, ot / rt
}'
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "logs: $out/reference_$cell.log $out/rnnc_$cell.log"
