#!/usr/bin/env bash
# corrupt_ckpt.sh TRAINER S2S_TOOL WORKDIR: a damaged seq2seq checkpoint is
# refused by eval, translate and train --resume with a message and a
# nonzero exit, never a crash: a byte flipped in the magic, the version,
# the real-type field, a section name, frame and payload, the parameters,
# the middle and the last byte (training state); the file cut in half, to
# 31 bytes, to 8, emptied; a path that does not exist. A refused --resume
# leaves the file as it was. Then the two generations: --resume falls back
# to X.prev when X is damaged (warning naming both), exits 1 when both
# are; the old seq2seq formats (RNNS2S01, RNNS2S02) are refused by name.
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

# 0 magic, 8 version, 16 sizeof(real), 32 the first section's name, 52 its
# zero word, 56 its payload; 1000 (vocabularies); the middle (parameters);
# the last byte.
for off in 0 8 16 32 52 56 1000 $((size / 2)) $((size - 1)); do
    f=$work/flip$off.ckpt
    cp "$good" "$f"
    flip "$f" "$off"
    refused_everywhere "byte $off of $size flipped" "$f"
done
for keep in $((size / 2)) 31 8 0; do
    f=$work/cut$keep.ckpt
    head -c "$keep" "$good" >"$f"
    refused_everywhere "cut to $keep of $size bytes" "$f"
done
refused_everywhere "a missing file" "$work/missing.ckpt"

# The seq2seq formats before this one are refused by name, exit 1.
for old in RNNS2S01 RNNS2S02; do
    { printf '%s' "$old"; tail -c +9 "$good"; } >"$work/$old.ckpt"
    rc=0
    "$trainer" eval "$work/pairs.txt" --model "$work/$old.ckpt" --eval-max 5 >/dev/null 2>"$work/$old.err" || rc=$?
    [ "$rc" -eq 1 ] && grep -q "old seq2seq checkpoint format $old" "$work/$old.err" || fail "$old: exit $rc, $(cat "$work/$old.err")"
done
say "ok: old formats are refused by name ($(cat "$work/RNNS2S02.err"))"

# Two generations: the second save keeps the first as gen.ckpt.prev.
gen=$work/gen.ckpt
run() { "$trainer" train "$work/pairs.txt" --eval-max 0 --ckpt "$gen" "$@"; }
must "1 epoch" "$work/gen1.log" run --epochs 1
must "resumed to 2 epochs" "$work/gen2.log" run --epochs 2 --resume
[ -f "$gen.prev" ] || fail "no $gen.prev after the second save"
cp "$gen" "$work/newest.keep"
cp "$gen.prev" "$work/previous.keep"
restore() { cp "$work/newest.keep" "$gen"; cp "$work/previous.keep" "$gen.prev"; }
for damage in cut flip; do
    restore
    if [ $damage = cut ]; then
        head -c "$((size / 3))" "$work/newest.keep" >"$gen"
    else
        flip "$gen" $((size / 3))
    fi
    must "--resume with the newest $damage" "$work/fallback_$damage.log" run --epochs 2 --resume
    grep -q "warning: the checkpoint '$gen' is damaged .*resuming from the previous one, '$gen.prev'" \
        "$work/fallback_$damage.log" || fail "no fallback warning ($damage): $(cat "$work/fallback_$damage.log")"
    grep -q "resuming '.*gen.ckpt' at epoch 2, minibatch 0" "$work/fallback_$damage.log" ||
        fail "the fallback ($damage) did not resume from the first epoch's checkpoint"
    cmp -s "$gen" "$work/newest.keep" || fail "the fallback ($damage) did not redo the second epoch exactly"
done
say "ok: --resume falls back to $gen.prev when $gen is cut or flipped, and redoes the epoch exactly"
restore
head -c 100 "$work/newest.keep" >"$gen"
flip "$gen.prev" 40
rc=0
run --epochs 2 --resume >/dev/null 2>"$work/both.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q "'$gen' is damaged .*'$gen.prev'" "$work/both.err" ||
    fail "both generations damaged: exit $rc: $(cat "$work/both.err")"
say "ok: both generations damaged: exit 1, naming both"
say "ok: every damaged checkpoint was refused with a message ($(sed -n 1p "$work/flip32.eval.err"))"
