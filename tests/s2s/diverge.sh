#!/usr/bin/env bash
# diverge.sh TRAINER S2S_TOOL WORKDIR: a seq2seq run whose loss explodes
# (RELIABILITY D2) stops with exit 4 and a message naming the loss and the
# limit, and leaves the last checkpoint as --save-every 1 wrote it after
# the last good step; --max-loss-ratio 0 turns the check off; a ratio
# below 1 is a usage error.
set -euo pipefail
E2E_NAME=s2s_diverge
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
trainer=$1 tool=$2 work=$3
fresh_dir "$work"
"$tool" toy reverse 2000 8 3 6 1 >"$work/pairs.txt"

# Adam at lr 100: the first update moves every weight by ~100, and the next
# minibatch's loss is far above the first one.
rc=0
"$trainer" train "$work/pairs.txt" --epochs 5 --lr 100 --eval-max 0 --save-every 1 --quiet \
    --ckpt "$work/model.ckpt" >"$work/diverge.out" 2>"$work/diverge.err" || rc=$?
[ "$rc" -eq 4 ] || { cat "$work/diverge.err" >&2; fail "exploding loss: exit $rc, expected 4"; }
grep -q "times the training's first loss .*training diverged" "$work/diverge.err" ||
    { cat "$work/diverge.err" >&2; fail "no divergence message"; }
mb=$(sed -n 's/.*epoch 1, minibatch \([0-9]*\) is more than.*/\1/p' "$work/diverge.err")
[ -n "$mb" ] || { cat "$work/diverge.err" >&2; fail "it did not stop in the first epoch"; }
# the checkpoint left is the one after the last good step: a run stopped
# there by --max-steps writes the same bytes
must "the same run stopped before the bad step" "$work/budget.log" \
    "$trainer" train "$work/pairs.txt" --epochs 5 --lr 100 --eval-max 0 --save-every 1 --quiet \
    --max-steps $((mb - 1)) --ckpt "$work/budget.ckpt"
cmp -s "$work/model.ckpt" "$work/budget.ckpt" || fail "the checkpoint left is not the last good one"
say "ok: $(grep -o 'the loss [^ ]* at epoch [0-9]*, minibatch [0-9]*' "$work/diverge.err") -> exit 4, last good checkpoint kept"

loss_ratio_switch "$work" "$trainer" train "$work/pairs.txt" --epochs 1 --max-steps $((mb + 2)) --lr 100 \
    --eval-max 0 --quiet
