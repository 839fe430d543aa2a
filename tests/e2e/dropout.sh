#!/usr/bin/env bash
# dropout.sh RNNC SPEC DATA WORKDIR: a trainer with dropout between layers.
# Builds the float trainer of SPEC (hidden cut to 32) and checks that
#   - 8 steps in one run and 4 + 4 with --resume give byte-identical
#     checkpoints: the per-step dropout seed comes from the checkpointed
#     training state, so the resumed run draws the same masks;
#   - the validation perplexity the trainer prints at the end equals a
#     separate `eval` of its checkpoint: evaluation runs without dropout
#     even right after a training step turned it on.
set -euo pipefail
E2E_NAME=dropout
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 RNNC SPEC DATA WORKDIR" >&2; exit 2; }
rnnc=$1 spec=$2 work=$4
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(dirname -- "$rnnc")
pick_data "$3"
fresh_dir "$work"
grep -qE '^  dropout: 0\.[0-9]*[1-9]' "$spec" || fail "$spec has no dropout"
sed -E "s/^(  hidden:) [0-9]+/\1 32/" "$spec" >"$work/m.yaml"
"$rnnc" "$work/m.yaml" -o "$work/m.c"
cc -O2 -std=c11 -I"$src/runtime" "$work/m.c" "$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lm -o "$work/m"

train() { "$work/m" train "${DATA[@]}" --epochs 1 --threads 1 --quiet "$@"; }
must "8 steps" "$work/a.log" train --max-steps 8 --ckpt "$work/a.ckpt"
must "4 steps" "$work/b1.log" train --max-steps 4 --ckpt "$work/b.ckpt"
must "4 more steps, resumed" "$work/b2.log" train --max-steps 4 --ckpt "$work/b.ckpt" --resume
cmp -s "$work/a.ckpt" "$work/b.ckpt" || fail "8 steps and 4 + 4 resumed steps give different checkpoints"
say "ok: 8 steps = 4 + 4 resumed (checkpoints identical)"

want=$(grep -oE 'val_ppl=[0-9.]+' "$work/a.log" | head -n 1)
must "eval" "$work/eval.log" "$work/m" eval "${DATA[@]}" --threads 1 --ckpt "$work/a.ckpt"
got=$(grep -oE 'val_ppl=[0-9.]+' "$work/eval.log" | head -n 1)
[ -n "$want" ] && [ "$want" = "$got" ] || fail "the trainer reported $want, eval of its checkpoint $got"
say "ok: eval without dropout: $got"
