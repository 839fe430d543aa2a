#!/usr/bin/env bash
# resume.sh TRAINER S2S_TOOL WORKDIR: seq2seq training resumes exactly. On
# 800 toy pairs: 2 epochs straight == 1 epoch + --resume to 2 == stopped
# mid-epoch by --max-steps twice and resumed == 2 epochs saving every 5
# steps, byte for byte, and every split run prints the same epoch losses.
# --max-seconds stops a long run cleanly with a checkpoint that resumes.
set -euo pipefail
E2E_NAME=s2s_resume
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
trainer=$1 tool=$2 work=$3
fresh_dir "$work"
"$tool" toy reverse 1000 8 3 6 1 >"$work/pairs.txt"
run() { "$trainer" train "$work/pairs.txt" --max-pairs 800 --eval-max 0 --beam 1 "$@"; }
epochs() { grep -h '^epoch ' "$@"; }

must "2 epochs straight" "$work/a.log" run --epochs 2 --ckpt "$work/a.ckpt"
must "1 epoch" "$work/b1.log" run --epochs 1 --ckpt "$work/b.ckpt"
must "resume to 2 epochs" "$work/b2.log" run --epochs 2 --ckpt "$work/b.ckpt" --resume
cmp "$work/a.ckpt" "$work/b.ckpt" || fail "1 epoch + resume differs from 2 epochs straight"
[ "$(epochs "$work/a.log")" = "$(epochs "$work/b1.log" "$work/b2.log")" ] || fail "epoch losses differ after resume"
grep -q "resuming '.*b.ckpt' at epoch 2, minibatch 0 (step 23)" "$work/b2.log" || fail "no resume note: $(cat "$work/b2.log")"
say "ok: 2 epochs == 1 epoch + resume ($(wc -c <"$work/a.ckpt") bytes identical)"

must "7 steps" "$work/c1.log" run --epochs 2 --ckpt "$work/c.ckpt" --max-steps 7
must "20 more" "$work/c2.log" run --epochs 2 --ckpt "$work/c.ckpt" --max-steps 20 --resume
must "the rest" "$work/c3.log" run --epochs 2 --ckpt "$work/c.ckpt" --resume
cmp "$work/a.ckpt" "$work/c.ckpt" || fail "stopping mid-epoch twice and resuming differs from 2 epochs straight"
[ "$(epochs "$work/a.log")" = "$(epochs "$work/c1.log" "$work/c2.log" "$work/c3.log")" ] ||
    fail "epoch losses differ after mid-epoch resumes"
say "ok: stopped at steps 7 and 27 (mid-epoch) and resumed == straight"

must "2 epochs saving every 5 steps" "$work/d.log" run --epochs 2 --ckpt "$work/d.ckpt" --save-every 5
cmp "$work/a.ckpt" "$work/d.ckpt" || fail "--save-every changed the result"
say "ok: --save-every 5 gives the same checkpoint"

must "--max-seconds 1" "$work/e.log" run --epochs 100000 --ckpt "$work/e.ckpt" --max-seconds 1
grep -q "stopping at the --max-seconds budget" "$work/e.log" || fail "no --max-seconds note"
must "resume after --max-seconds" "$work/e2.log" run --epochs 100000 --ckpt "$work/e.ckpt" --resume --max-steps 3
say "ok: --max-seconds stops cleanly and resumes"
