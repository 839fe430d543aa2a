#!/usr/bin/env bash
# diverge.sh TRAINER DATA WORKDIR: a run whose loss explodes (RELIABILITY D2)
# stops with exit 4 and a message naming the loss and the limit, and leaves
# the last good checkpoint byte for byte as it was; --max-loss-ratio 0 turns
# the check off; a ratio below 1 is a usage error.
set -euo pipefail
E2E_NAME=diverge
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER DATA WORKDIR" >&2; exit 2; }
trainer=$1 work=$3
pick_data "$2"
fresh_dir "$work"
ckpt=$work/model.ckpt

# lr 1000 without clipping: after the first step the output layer's
# weights are huge and the next minibatch's loss is several times the
# first one. --save-every 1 saves after every good step, so the checkpoint
# left behind must be the one after step 1, byte for byte as a run that
# stops there by budget writes it.
must "one step at lr 1000" "$work/one.log" \
    "$trainer" train "${DATA[@]}" --max-steps 1 --lr 1000 --clip 0 --threads 1 --quiet \
    --sample-len 0 --save-every 1 --ckpt "$work/one.ckpt"
rc=0
"$trainer" train "${DATA[@]}" --max-steps 60 --lr 1000 --clip 0 --threads 1 --quiet \
    --sample-len 0 --save-every 1 --ckpt "$ckpt" >"$work/diverge.out" 2>"$work/diverge.err" || rc=$?
[ "$rc" -eq 4 ] || { cat "$work/diverge.err" >&2; fail "exploding loss: exit $rc, expected 4"; }
grep -q "times the training's first loss .*training diverged" "$work/diverge.err" ||
    { cat "$work/diverge.err" >&2; fail "no divergence message"; }
grep -q "minibatch 2 is" "$work/diverge.err" || { cat "$work/diverge.err" >&2; fail "expected to stop at minibatch 2"; }
cmp -s "$ckpt" "$work/one.ckpt" || fail "the checkpoint left is not the last good one (after step 1)"
must "eval of the checkpoint left behind" "$work/eval.log" "$trainer" eval "${DATA[@]}" --ckpt "$ckpt"
say "ok: $(grep -o 'the loss [^ ]* at epoch [0-9]*, minibatch [0-9]*' "$work/diverge.err") -> exit 4, last good checkpoint kept"

loss_ratio_switch "$work" "$trainer" train "${DATA[@]}" --max-steps 8 --lr 1000 --clip 0 --threads 1 --quiet \
    --sample-len 0
