#!/usr/bin/env bash
# sched_spec.sh RNNC SPEC WORKDIR: the spec's train.lr_schedule,
# warmup_steps and weight_decay reach the trainer (issue 13).
# SPEC (hidden cut to 32) gets
#   lr_schedule: {step: {every: 2, factor: 0.5}}, warmup_steps: 5,
#   weight_decay: 0.001
# and its trainer, with no schedule option, must print the lr StepLR gives
# (lr * 0.5^floor((e - 1) / 2) for epoch e); --lr-schedule constant on the
# command line overrides the spec's; and a spec without the keys emits
# none of them.
set -euo pipefail
E2E_NAME=sched_spec
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 RNNC SPEC WORKDIR" >&2; exit 2; }
rnnc=$1 spec=$2 work=$3
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(dirname -- "$rnnc")
fresh_dir "$work"
"$rnnc" "$spec" -o "$work/plain.c"
! grep -qE '\.(lr_schedule|lr_step|lr_factor|warmup_steps|weight_decay) =' "$work/plain.c" ||
    fail "$spec has no schedule keys, yet its code sets schedule fields"
sed -E "s/^(  hidden:) [0-9]+/\1 32/" "$spec" >"$work/m.yaml"
printf '  lr_schedule: {step: {every: 2, factor: 0.5}}\n  warmup_steps: 5\n  weight_decay: 0.001\n' >>"$work/m.yaml"
"$rnnc" "$work/m.yaml" -o "$work/m.c"
for want in '.lr_schedule = "step"' '.lr_step = 2' '.lr_factor = 0.5' '.warmup_steps = 5' \
    '.weight_decay = 0.001'; do
    grep -qF "$want" "$work/m.c" || fail "the generated recipe lacks $want"
done
cc -O2 -std=c11 -I"$src/runtime" "$work/m.c" "$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lm -lpthread -o "$work/m"
awk 'BEGIN { srand(5); for (i = 0; i < 200; i++) { s = ""
    for (j = 0; j < 40; j++) s = s sprintf("%c", 97 + int(rand() * 10)); print s } }' >"$work/text.txt"
train=("$work/m" train --data "$work/text.txt" --epochs 5 --threads 1 --quiet --sample-len 0 --batch 8 --steps 16)
must "training with the spec's schedule" "$work/a.log" "${train[@]}" --ckpt "$work/a.ckpt"
lr=$(awk '$1 == "lr:" { print $2 }' "$work/m.yaml")
grep '^epoch ' "$work/a.log" | awk -v base="$lr" '
    { want = sprintf("%.6g", base * 0.5 ^ int(($2 - 1) / 2))
      if ($8 != want) { printf "epoch %d: lr %s, StepLR gives %s\n", $2, $8, want; bad = 1 } }
    END { if (NR != 5) { print "expected 5 epoch lines, found " NR; bad = 1 }; exit bad }' >"$work/check.txt" ||
    { cat "$work/a.log" >&2; fail "$(cat "$work/check.txt")"; }
say "ok: the spec's step schedule: lr $(grep '^epoch ' "$work/a.log" | awk '{ printf "%s ", $8 }')"
must "--lr-schedule constant" "$work/b.log" "${train[@]}" --ckpt "$work/b.ckpt" --lr-schedule constant --warmup-steps 0
! grep -q ' lr ' "$work/b.log" || fail "--lr-schedule constant did not override the spec's schedule"
cmp -s "$work/a.ckpt" "$work/b.ckpt" && fail "the spec's schedule changed nothing"
say "ok: --lr-schedule constant overrides the spec's"
