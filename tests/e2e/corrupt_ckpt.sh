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

# Two generations (issue 17): a save keeps the file it replaces as
# X.prev; --resume falls back to it when X is damaged (cut, a byte
# flipped, bad magic, gone), with a warning naming both files; both
# damaged: exit 1 naming both. A checkpoint in an old format is refused by
# name (exit 1), also by --resume, which does not fall back from it.
gen=$work/gen.ckpt
run() { "$trainer" train "${DATA[@]}" --epochs 1 --threads 1 --quiet --sample-len 0 --ckpt "$gen" "$@"; }
must "2 steps" "$work/gen1.log" run --max-steps 2
must "2 more steps, resumed" "$work/gen2.log" run --max-steps 2 --resume
[ -f "$gen.prev" ] || fail "no $gen.prev after the second save"
cmp -s "$gen" "$gen.prev" && fail "$gen.prev is the same as $gen"
cp "$gen" "$work/newest.keep"
cp "$gen.prev" "$work/previous.keep"
restore() { cp "$work/newest.keep" "$gen"; cp "$work/previous.keep" "$gen.prev"; }
for damage in cut flip magic gone; do
    restore
    case $damage in
        cut) head -c "$(($(wc -c <"$work/newest.keep") / 2))" "$work/newest.keep" >"$gen" ;;
        flip) flip "$gen" $(($(wc -c <"$gen") / 2)) ;;
        magic) flip "$gen" 3 ;;
        gone) rm "$gen" ;;
    esac
    must "--resume with the newest $damage" "$work/fallback_$damage.log" run --max-steps 1 --resume
    grep -q "warning: the checkpoint '$gen' is damaged .*resuming from the previous one, '$gen.prev'" \
        "$work/fallback_$damage.log" || fail "no fallback warning ($damage): $(cat "$work/fallback_$damage.log")"
    cmp -s "$gen.prev" "$work/previous.keep" || fail "the fallback ($damage) replaced $gen.prev"
    must "eval after the fallback ($damage)" "$work/fallback_eval.log" "$trainer" eval "${DATA[@]}" --ckpt "$gen"
done
say "ok: --resume falls back to $gen.prev when $gen is cut, flipped, without magic or gone"

restore
head -c 100 "$work/newest.keep" >"$gen"
flip "$gen.prev" 40
rc=0
run --max-steps 1 --resume >/dev/null 2>"$work/both.err" || rc=$?
[ "$rc" -eq 1 ] || fail "both generations damaged: exit $rc, wanted 1: $(cat "$work/both.err")"
grep -q "'$gen' is damaged .*'$gen.prev'" "$work/both.err" || fail "the message does not name both: $(cat "$work/both.err")"
say "ok: both generations damaged: exit 1 ($(head -n 1 "$work/both.err"))"

restore
{ printf 'RNNCKPT1'; tail -c +9 "$work/newest.keep"; } >"$gen"
for cmd in eval resume; do
    rc=0
    if [ $cmd = eval ]; then
        "$trainer" eval "${DATA[@]}" --ckpt "$gen" >/dev/null 2>"$work/old.err" || rc=$?
    else
        run --max-steps 1 --resume >/dev/null 2>"$work/old.err" || rc=$?
    fi
    [ "$rc" -eq 1 ] && grep -q "RNNCKPT1" "$work/old.err" ||
        fail "$cmd of an RNNCKPT1 file: exit $rc: $(cat "$work/old.err")"
done
say "ok: an old-format checkpoint is refused by name ($(head -n 1 "$work/old.err"))"
