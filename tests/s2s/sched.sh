#!/usr/bin/env bash
# sched.sh RNNC SPEC DATA_TOOL WORKDIR: the seq2seq trainer runs the spec's
# learning-rate schedule, warm-up and weight decay on the one driver
# (issue 13). SPEC (tests/s2s/toy_reverse.yaml) gets
#   lr_schedule: {step: {every: 1, factor: 0.5}}, warmup_steps: 10,
#   weight_decay: 0.01
# and then
#   - prints lr * 0.5^(e - 1) on epoch e's line (StepLR);
#   - 3 epochs straight == stopped mid-epoch by --max-steps and resumed,
#     byte for byte (the schedule's state is in the checkpoint);
#   - lr_schedule: plateau is refused (exit 1, naming the spec): the
#     seq2seq trainer has no per-epoch validation loss.
set -euo pipefail
E2E_NAME=s2s_sched
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 RNNC SPEC S2S_TOOL WORKDIR" >&2; exit 2; }
rnnc=$1 spec=$2 tool=$3 work=$4
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(dirname -- "$rnnc")
fresh_dir "$work"
build_trainer() { # YAML-LINES NAME
    { cat "$spec"; printf '%s\n' "$1"; } >"$work/$2.yaml"
    "$rnnc" "$work/$2.yaml" -o "$work/$2.c"
    cc -O2 -std=c11 -I"$src/runtime" "$work/$2.c" "$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lm -lpthread \
        -o "$work/$2"
}
build_trainer "  lr_schedule: {step: {every: 1, factor: 0.5}}
  warmup_steps: 10
  weight_decay: 0.01" m
"$tool" toy reverse 600 8 3 6 1 >"$work/pairs.txt"
run() { "$work/m" train "$work/pairs.txt" --eval-max 0 --beam 1 --quiet --epochs 3 "$@"; }
must "3 epochs straight" "$work/a.log" run --ckpt "$work/a.ckpt"
lr=$(awk '$1 == "lr:" { print $2 }' "$spec")
grep '^epoch ' "$work/a.log" | awk -v base="$lr" '
    { want = sprintf("%.6g", base * 0.5 ^ ($2 - 1))
      if ($6 != want) { printf "epoch %d: lr %s, StepLR gives %s\n", $2, $6, want; bad = 1 } }
    END { if (NR != 3) { print "expected 3 epoch lines, found " NR; bad = 1 }; exit bad }' >"$work/check.txt" ||
    { cat "$work/a.log" >&2; fail "$(cat "$work/check.txt")"; }
say "ok: StepLR's lr on the epoch lines: $(grep '^epoch ' "$work/a.log" | awk '{ printf "%s ", $6 }')"
must "7 steps" "$work/b1.log" run --ckpt "$work/b.ckpt" --max-steps 7
must "20 more" "$work/b2.log" run --ckpt "$work/b.ckpt" --max-steps 20 --resume
must "the rest" "$work/b3.log" run --ckpt "$work/b.ckpt" --resume
cmp "$work/a.ckpt" "$work/b.ckpt" || fail "stopped twice and resumed differs from 3 epochs straight"
[ "$(grep -h '^epoch ' "$work/a.log")" = "$(grep -h '^epoch ' "$work/b1.log" "$work/b2.log" "$work/b3.log")" ] ||
    fail "the epoch lines differ after the resumes"
say "ok: stopped at steps 7 and 27 and resumed == straight (schedule, warm-up and decay included)"
build_trainer "  lr_schedule: plateau" p
rc=0
"$work/p" train "$work/pairs.txt" --eval-max 0 --epochs 1 --ckpt "$work/p.ckpt" >"$work/p.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$work/p.log" >&2; fail "lr_schedule: plateau: exit $rc, expected 1"; }
grep -q "plateau needs a validation loss" "$work/p.log" || { cat "$work/p.log" >&2; fail "no reason given for refusing plateau"; }
[ ! -e "$work/p.ckpt" ] || fail "the refused run wrote a checkpoint"
say "ok: $(head -n 1 "$work/p.log")"
