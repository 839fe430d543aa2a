#!/usr/bin/env bash
# corrupt_ckpt.sh TRAINER DATA WORKDIR: a damaged checkpoint must be refused
# with a message and a nonzero exit, never a crash or a silent load: a flipped
# byte in the header, in the middle (parameters), in the last byte; the file
# cut in half, cut to its first 8 bytes, empty; and a path that does not exist.
# And training does not overwrite a file that is not this model's checkpoint.
set -euo pipefail
E2E_NAME=corrupt_ckpt
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER DATA WORKDIR" >&2; exit 2; }
trainer=$1 work=$3
pick_data "$2"
fresh_dir "$work"
good=$work/good.ckpt

must "training a checkpoint to corrupt" "$work/train.log" \
    "$trainer" train "${DATA[@]}" --epochs 1 --max-steps 3 --threads 1 --quiet \
    --sample-len 0 --ckpt "$good"
must "eval of the undamaged checkpoint" "$work/eval.log" \
    "$trainer" eval "${DATA[@]}" --ckpt "$good"
size=$(wc -c <"$good")
say "checkpoint: $size bytes; the undamaged one loads"

# flip FILE OFFSET: invert every bit of one byte in place.
flip() {
    local byte
    byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((byte ^ 255)))" |
        dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}

for off in 0 12 $((size / 2)) $((size - 1)); do
    cp "$good" "$work/flip$off.ckpt"
    flip "$work/flip$off.ckpt" "$off"
    cmp -s "$good" "$work/flip$off.ckpt" && fail "flip at $off changed nothing"
    expect_refusal "byte $off of $size flipped" "$work/flip$off.err" \
        "$trainer" eval "${DATA[@]}" --ckpt "$work/flip$off.ckpt"
done

for keep in $((size / 2)) 8 0; do
    head -c "$keep" "$good" >"$work/cut$keep.ckpt"
    expect_refusal "truncated to $keep of $size bytes" "$work/cut$keep.err" \
        "$trainer" eval "${DATA[@]}" --ckpt "$work/cut$keep.ckpt"
done

expect_refusal "missing file" "$work/missing.err" \
    "$trainer" eval "${DATA[@]}" --ckpt "$work/does-not-exist.ckpt"
say "ok: every damaged checkpoint was refused with a message"

# A fresh run does not overwrite a file that is not a checkpoint of this
# model (here the damaged one, and a text file) unless --force; the file is
# left as it was.
for f in "$work/cut8.ckpt" "$work/notes.txt"; do
    [ -e "$f" ] || echo "my notes" >"$f"
    before=$(cksum <"$f")
    expect_refusal "fresh training over $(basename -- "$f")" "$work/over.err" \
        "$trainer" train "${DATA[@]}" --epochs 1 --max-steps 1 --threads 1 --quiet \
        --sample-len 0 --ckpt "$f"
    grep -q "refusing to overwrite" "$work/over.err" || fail "no refusal message for $f"
    [ "$(cksum <"$f")" = "$before" ] || fail "$f was changed by a refused run"
done
must "--force overwrites" "$work/force.log" \
    "$trainer" train "${DATA[@]}" --epochs 1 --max-steps 1 --threads 1 --quiet \
    --sample-len 0 --ckpt "$work/notes.txt" --force
must "eval of the forced checkpoint" "$work/eval2.log" \
    "$trainer" eval "${DATA[@]}" --ckpt "$work/notes.txt"
must "a fresh run over its own checkpoint" "$work/again.log" \
    "$trainer" train "${DATA[@]}" --epochs 1 --max-steps 1 --threads 1 --quiet \
    --sample-len 0 --ckpt "$good"
say "ok: a fresh run refuses to overwrite another file without --force"
