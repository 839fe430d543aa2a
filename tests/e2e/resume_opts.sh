#!/usr/bin/env bash
# resume_opts.sh lm TRAINER WORKDIR
# resume_opts.sh s2s TRAINER S2S_TOOL WORKDIR
#
# Options given with --resume (issue 17, item 5): the run's recipe is kept
# in the checkpoint, so a resume without options continues with it; --lr,
# --clip, --max-loss-ratio and --bptt* given on --resume replace the
# checkpoint's with a note (an absurd --lr must then blow up, not run to
# exit 0 as when it was ignored); --seed and an optimizer's
# hyperparameters cannot change, and are refused (exit 2) by name.
set -euo pipefail
E2E_NAME=resume_opts_$1
. "$(dirname -- "$0")/lib.sh"
kind=$1
shift

# expect_exit CODE WHAT LOG CMD...: CMD must exit CODE.
expect_exit() {
    local want=$1 what=$2 log=$3 rc=0
    shift 3
    "$@" >"$log" 2>&1 || rc=$?
    [ "$rc" -eq "$want" ] || { cat "$log" >&2; fail "$what: exit $rc, expected $want"; }
}

case $kind in
lm)
    [ $# -eq 2 ] || { echo "usage: $0 lm TRAINER WORKDIR" >&2; exit 2; }
    trainer=$1 work=$2
    fresh_dir "$work"
    awk 'BEGIN { srand(3); for (i = 0; i < 400; i++) {
        s = ""; for (j = 0; j < 40; j++) s = s sprintf("%c", 97 + int(rand() * 8)); print s } }' \
        >"$work/text.txt"
    train=("$trainer" train --data "$work/text.txt" --threads 1 --quiet --sample-len 0
        --optimizer adam --lr 0.01 --batch 8 --steps 16)
    # A recipe unlike the defaults: clipping that bites, randomized BPTT.
    recipe=(--clip 0.05 --bptt randomized --bptt-p 0.7 --max-loss-ratio 50)
    ;;
s2s)
    [ $# -eq 3 ] || { echo "usage: $0 s2s TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
    trainer=$1 tool=$2 work=$3
    fresh_dir "$work"
    "$tool" toy reverse 600 8 3 6 1 >"$work/pairs.txt"
    train=("$trainer" train "$work/pairs.txt" --eval-max 0 --beam 1 --quiet)
    recipe=(--max-loss-ratio 50)
    ;;
*)
    echo "usage: $0 lm|s2s ..." >&2
    exit 2
    ;;
esac

# 1. Straight 2 epochs against 1 + a resume that names no option: the
#    checkpoint's recipe must carry over, so the files are the same.
must "straight run" "$work/a.log" "${train[@]}" "${recipe[@]}" --epochs 2 --ckpt "$work/a.ckpt"
must "first half" "$work/b1.log" "${train[@]}" "${recipe[@]}" --epochs 1 --ckpt "$work/b.ckpt"
cp "$work/b.ckpt" "$work/half.ckpt"
must "resume without options" "$work/b2.log" "${train[@]}" --epochs 2 --resume --ckpt "$work/b.ckpt"
cmp -s "$work/a.ckpt" "$work/b.ckpt" ||
    fail "a resume without options is not the straight run: the checkpoint's recipe was not used"
say "ok: the resume without options continues the checkpoint's recipe (byte-identical to the straight run)"

# 2. --lr on --resume is applied, with a note naming it.
cp "$work/half.ckpt" "$work/c.ckpt"
"${train[@]}" --epochs 2 --resume --ckpt "$work/c.ckpt" --lr 0.005 >"$work/c.log" 2>&1 ||
    { cat "$work/c.log" >&2; fail "resume with --lr 0.005 failed"; }
grep -q "note: --lr 0.005 replaces the checkpoint's 0.01" "$work/c.log" ||
    { cat "$work/c.log" >&2; fail "no note for --lr on --resume"; }
cmp -s "$work/a.ckpt" "$work/c.ckpt" && fail "--lr 0.005 on --resume changed nothing"
say "ok: $(grep -o 'note: --lr.*' "$work/c.log")"

# 3. An absurd --lr (1e6) on --resume must take effect: the run blows up (exit 4)
#    instead of running to exit 0 as when --lr was ignored.
cp "$work/half.ckpt" "$work/d.ckpt"
expect_exit 4 "resume with --lr 1e6" "$work/d.log" \
    "${train[@]}" --epochs 2 --resume --ckpt "$work/d.ckpt" --lr 1e6
say "ok: --lr 1e6 on --resume -> exit 4: $(grep -m1 -oE 'the (loss|gradient)[^:]*' "$work/d.log")"

# 4. --seed cannot change on --resume: refused by name, the file untouched.
cp "$work/half.ckpt" "$work/e.ckpt"
expect_exit 2 "resume with another --seed" "$work/e.log" \
    "${train[@]}" --epochs 2 --resume --ckpt "$work/e.ckpt" --seed 12345
grep -q -- "--seed 12345 on --resume" "$work/e.log" || { cat "$work/e.log" >&2; fail "the refusal does not name --seed"; }
cmp -s "$work/half.ckpt" "$work/e.ckpt" || fail "a refused resume changed the checkpoint"
say "ok: $(grep -m1 -o -- '--seed 12345 on --resume[^;]*' "$work/e.log")"

if [ "$kind" = lm ]; then
    # 5. nor can an optimizer's hyperparameter
    cp "$work/half.ckpt" "$work/f.ckpt"
    expect_exit 2 "resume with another --beta1" "$work/f.log" \
        "${train[@]}" --epochs 2 --resume --ckpt "$work/f.ckpt" --beta1 0.5
    grep -q -- "--beta1 0.5 on --resume" "$work/f.log" || { cat "$work/f.log" >&2; fail "the refusal does not name --beta1"; }
    say "ok: --beta1 0.5 on --resume refused"
    # 6. --clip on --resume: applied with a note
    cp "$work/half.ckpt" "$work/g.ckpt"
    must "resume with --clip 1" "$work/g.log" "${train[@]}" --epochs 2 --resume --ckpt "$work/g.ckpt" --clip 1
    grep -q "note: --clip 1 replaces the checkpoint's 0.05" "$work/g.log" ||
        { cat "$work/g.log" >&2; fail "no note for --clip on --resume"; }
    say "ok: --clip on --resume applied with a note"
fi
