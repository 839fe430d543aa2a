#!/usr/bin/env bash
# train.sh TRAINER DATA WORKDIR: train the float trainer for a bounded number
# of steps and check that it learned: the validation cross-entropy after one
# epoch is clearly below the one after the first step (which must be near
# ln V), so is the last training loss printed, and eval and sample work from
# the saved checkpoint.
set -euo pipefail
E2E_NAME=train_e2e
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER DATA WORKDIR" >&2; exit 2; }
trainer=$1 work=$3
pick_data "$2"
fresh_dir "$work"
ckpt=$work/model.ckpt

# The loss at the start: one SGD step of the spec's recipe, then the
# validation cross-entropy ln(val_ppl). An untrained model predicts nearly
# uniformly, so this must be close to ln V.
must "one training step" "$work/step1.log" \
    "$trainer" train "${DATA[@]}" --epochs 1 --max-steps 1 --threads 1 --quiet \
    --sample-len 0 --ckpt "$work/step1.ckpt"
V=$(field V "$work/step1.log")
ppl1=$(field val_ppl "$work/step1.log")
[ -n "$V" ] && [ -n "$ppl1" ] || { cat "$work/step1.log"; fail "no V= or val_ppl= on the RESULT line"; }
start=$(awk "BEGIN { print log($ppl1) }")
lnV=$(awk "BEGIN { print log($V) }")
say "start: after 1 step val_ppl $ppl1, cross-entropy $start (ln V = $lnV, V = $V)"
fcmp "$start > 0.8 * $lnV && $start < 1.2 * $lnV" ||
    fail "cross-entropy after one step is $start, far from ln V = $lnV: is the initialisation right?"

# The loss at the end: one epoch of the spec's recipe (about 140 steps on
# timemachine.txt); --max-seconds bounds a slow machine.
must "training" "$work/train.log" \
    "$trainer" train "${DATA[@]}" --epochs 1 --max-seconds 40 --threads 1 --ckpt "$ckpt"
tr '\r' '\n' <"$work/train.log" | grep -v '^$' | tail -n 12
ppl=$(field val_ppl "$work/train.log")
[ -n "$ppl" ] || fail "no val_ppl= on the RESULT line"
end=$(awk "BEGIN { print log($ppl) }")
mapfile -t L < <(losses "$work/train.log")
last_train=${L[${#L[@]}-1]:-}
say "end: val_ppl $ppl, cross-entropy $end; last training loss ${last_train:-(none printed)}"
fcmp "$end < $start - 0.5" ||
    fail "the loss did not fall clearly: validation cross-entropy $start after 1 step, $end at the end"
[ -z "$last_train" ] || fcmp "$last_train < $start - 0.5" ||
    fail "the training loss did not fall clearly: $start at the start, $last_train at the end"
[ -s "$ckpt" ] || fail "no checkpoint at $ckpt"

must "eval from the checkpoint" "$work/eval.log" \
    "$trainer" eval "${DATA[@]}" --ckpt "$ckpt"
cat "$work/eval.log"
eppl=$(field val_ppl "$work/eval.log")
[ -n "$eppl" ] || fail "eval printed no val_ppl="
fcmp "$eppl < 1.01 * $ppl && $eppl > 0.99 * $ppl" ||
    fail "eval from the checkpoint gives val_ppl $eppl, training reported $ppl"

must "sample from the checkpoint" "$work/sample.txt" \
    "$trainer" sample --ckpt "$ckpt" --prefix "the " --len 100
n=$(wc -c <"$work/sample.txt")
say "sample ($n bytes): $(head -c 200 "$work/sample.txt" | tr '\n' ' ')"
[ "$n" -ge 100 ] || fail "sample --len 100 printed only $n bytes"
say "ok: the model learned and its checkpoint evaluates and samples"
