#!/usr/bin/env bash
# corrupt_ckpt.sh TRAINER S2S_TOOL WORKDIR: a damaged seq2seq checkpoint is
# refused by eval, translate and train --resume with a message and a
# nonzero exit, never a crash: a byte flipped in the magic, the real-type
# field, a section name, frame and payload, the parameters, the middle and
# the last byte (training state); the file cut in half, to 11 bytes, to 8,
# emptied; a path that does not exist. A refused --resume leaves the file
# as it was.
set -euo pipefail
E2E_NAME=s2s_corrupt_ckpt
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
trainer=$1 tool=$2 work=$3
fresh_dir "$work"
"$tool" toy reverse 300 8 3 6 1 >"$work/pairs.txt"
good=$work/good.ckpt
must "training a checkpoint to damage" "$work/train.log" \
    "$trainer" train "$work/pairs.txt" --epochs 1 --eval-max 0 --ckpt "$good"
must "eval of the undamaged checkpoint" "$work/eval.log" \
    "$trainer" eval "$work/pairs.txt" --model "$good" --eval-max 5 --beam 1
size=$(wc -c <"$good")

flip() { # FILE OFFSET: invert one byte in place
    local byte
    byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((byte ^ 255)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

refused_everywhere() { # WHAT FILE
    local what=$1 f=$2 base=${2%.ckpt}
    expect_refusal "eval: $what" "$base.eval.err" \
        "$trainer" eval "$work/pairs.txt" --model "$f" --eval-max 5
    expect_refusal "translate: $what" "$base.tr.err" \
        sh -c 'echo "a b" | "$1" translate --model "$2"' sh "$trainer" "$f"
    local copy=$base.before
    [ -e "$f" ] && cp "$f" "$copy"
    expect_refusal "train --resume: $what" "$base.resume.err" \
        "$trainer" train "$work/pairs.txt" --eval-max 0 --ckpt "$f" --resume
    if [ -e "$copy" ]; then
        cmp -s "$f" "$copy" || fail "train --resume changed the damaged checkpoint ($what)"
    fi
}

# 0 magic, 8 sizeof(real), 12 the first section's name, 32 its zero word,
# 36 its payload; 1000 (parameters); the middle (optimizer); the last byte.
for off in 0 8 12 32 36 1000 $((size / 2)) $((size - 1)); do
    f=$work/flip$off.ckpt
    cp "$good" "$f"
    flip "$f" "$off"
    refused_everywhere "byte $off of $size flipped" "$f"
done
for keep in $((size / 2)) 11 8 0; do
    f=$work/cut$keep.ckpt
    head -c "$keep" "$good" >"$f"
    refused_everywhere "cut to $keep of $size bytes" "$f"
done
refused_everywhere "a missing file" "$work/missing.ckpt"

# Version 01: the magic's last byte '1', the first four sections only.
pos=12
for i in 1 2 3 4; do
    pos=$((pos + 24 + $(od -An -tu8 -j $((pos + 8)) -N8 "$good" | tr -d ' ')))
done
head -c "$pos" "$good" >"$work/v1.ckpt"
printf 1 | dd of="$work/v1.ckpt" bs=1 seek=7 count=1 conv=notrunc status=none
must "eval of a version 01 checkpoint" "$work/v1.eval.log" \
    "$trainer" eval "$work/pairs.txt" --model "$work/v1.ckpt" --eval-max 5 --beam 1
cmp <(grep '^greedy' "$work/eval.log") <(grep '^greedy' "$work/v1.eval.log") || fail "version 01 evaluates differently"
echo "a b" | "$trainer" translate --model "$work/v1.ckpt" >/dev/null || fail "translate of a version 01 checkpoint"
rc=0
"$trainer" train "$work/pairs.txt" --eval-max 0 --ckpt "$work/v1.ckpt" --resume >/dev/null 2>"$work/v1.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "has no training state" "$work/v1.err" || fail "--resume of version 01: exit $rc, $(cat "$work/v1.err")"
say "ok: a version 01 checkpoint evaluates and translates; --resume refuses it"
say "ok: every damaged checkpoint was refused with a message ($(sed -n 1p "$work/flip12.eval.err"))"
