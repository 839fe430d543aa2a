#!/usr/bin/env bash
# api_tasks.sh SRC BUILD WORKDIR: the C API examples of the task models
# (examples/api/tagger.c, classifier.c, seq2seq.c) on checkpoints the
# trainers wrote here, and the trainers' predict command.
#   - tagger: the tagger trains on tests/e2e/heads_data.awk's data; the
#     example labels a sentence ("inside parentheses": I exactly inside);
#     `tagger predict` prints the same labels, and labels the held-out
#     sentences with >= 90% accuracy;
#   - classifier: the example prints a class and every probability; predict
#     on the held-out texts is as accurate as the trainer's eval;
#   - seq2seq: the generated seq2seq trainer trains 80 steps on the toy
#     reversal task; the example's greedy and beam translations are the
#     trainer's `translate --beam 1` and `--beam K` lines;
#   - a truncated, empty, missing, byte-flipped or foreign checkpoint: each
#     example exits with the API's error code (3, or 1 for a checkpoint of
#     another model) and a message, never a crash.
set -euo pipefail
E2E_NAME=api_tasks
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 SRC BUILD WORKDIR" >&2; exit 2; }
src=$1 build=$2 work=$3
ex=$build/examples/api
fresh_dir "$work"
gen() { awk -v task="$1" -v n="$2" -v seed=1 -f "$src/tests/e2e/heads_data.awk"; }

# ---- tagger ----
gen labelling 600 >"$work/lab.txt"
must "tagger train" "$work/tag.train.log" "$build/tagger" train --data "$work/lab.txt" --ckpt "$work/tag.ckpt" --quiet
must "the tagger example" "$work/tag.ex" "$ex/tagger" "$work/tag.ckpt" "ab (cd (e) a) b"
cat "$work/tag.ex"
grep -qE '^model tagger: [0-9]+ char tokens, 2 labels, [0-9]+ training steps, float$' "$work/tag.ex" ||
    fail "no tagger model line"
# the labels: O outside, I from after the outermost '(' to its ')'
want=$(printf 'O\nO\nO\nO\nI\nI\nI\nI\nI\nI\nI\nI\nI\nO\nO')
got=$(sed -n '2,16p' "$work/tag.ex" | cut -f2)
[ "$got" = "$want" ] || fail "the tagger example's labels: $(echo $got), want $(echo $want)"
sed -n '2,16p' "$work/tag.ex" | cut -f1 >"$work/tag.in"
must "tagger predict" "$work/tag.pred" "$build/tagger" predict --ckpt "$work/tag.ckpt" <"$work/tag.in"
diff <(sed -n '2,17p' "$work/tag.ex") "$work/tag.pred" || fail "tagger predict and the example disagree"
# the held-out sentences (the last 20% of the tokens, from a sentence start)
total=$(grep -c . "$work/lab.txt")
awk -v skip=$((total * 8 / 10)) 'n >= skip && started { print; next } /./ { n++ } !/./ && n >= skip { started = 1 }' \
    "$work/lab.txt" >"$work/lab.held"
must "tagger predict (held out)" "$work/lab.pred" "$build/tagger" predict --ckpt "$work/tag.ckpt" <"$work/lab.held"
acc=$(paste "$work/lab.held" "$work/lab.pred" | awk -F'\t' 'NF == 4 { n++; ok += $2 == $4 } END { printf "%.4f", ok / n }')
fcmp "$acc >= 0.9" || fail "tagger predict: accuracy $acc on the held-out sentences"
say "ok: tagger: the example's labels; predict agrees; held-out accuracy $acc"

# ---- classifier ----
gen classification 1500 >"$work/cls.txt"
must "classifier train" "$work/cls.train.log" "$build/classifier" train --data "$work/cls.txt" --ckpt "$work/cls.ckpt" --quiet
must "the classifier example" "$work/cls.ex" "$ex/classifier" "$work/cls.ckpt" aabca bbbca cbcbcbcbcbcbcbcbcbcbcbcbcba
cat "$work/cls.ex"
grep -qE '^more_a [01]\.[0-9]{4} \(more_[ab] [01]\.[0-9]{4}, more_[ab] [01]\.[0-9]{4}\): aabca$' "$work/cls.ex" ||
    fail "aabca is not more_a"
grep -qE '^more_b [01]\.[0-9]{4} .*: bbbca$' "$work/cls.ex" || fail "bbbca is not more_b"
grep -q ': cbcbcbcbcbcbcbcbcbcbcbcbcba (cut)$' "$work/cls.ex" || fail "a text longer than the steps is not reported cut"
must "classifier eval" "$work/cls.eval" "$build/classifier" eval --data "$work/cls.txt" --ckpt "$work/cls.ckpt"
count=$(field count "$work/cls.eval")
tail -n "$count" "$work/cls.txt" >"$work/cls.held"
cut -f2 "$work/cls.held" | "$build/classifier" predict --ckpt "$work/cls.ckpt" >"$work/cls.pred" ||
    fail "classifier predict failed"
acc=$(paste "$work/cls.held" "$work/cls.pred" | awk -F'\t' '{ n++; ok += $1 == $3 } END { printf "%.4f", ok / n }')
eacc=$(field val_acc "$work/cls.eval")
[ "$acc" = "$eacc" ] || fail "classifier predict: accuracy $acc on the held-out lines, eval says $eacc"
say "ok: classifier: predict's held-out accuracy $acc = eval's"

# ---- seq2seq ----
"$build/tests/s2s_tool" toy reverse 2000 8 3 6 1 >"$work/rev.txt"
must "seq2seq train" "$work/s2s.train.log" "$build/seq2seq" train "$work/rev.txt" --max-steps 80 --eval-max 20 \
    --threads 1 --ckpt "$work/s2s.ckpt" --quiet
for sentence in "a b c d" "h g f e e" "zz a qq" ""; do
    must "the seq2seq example" "$work/s2s.ex" "$ex/seq2seq" "$work/s2s.ckpt" "$sentence" 3
    printf '%s\n' "$sentence" | "$build/seq2seq" translate --model "$work/s2s.ckpt" --beam 1 >"$work/g.txt"
    printf '%s\n' "$sentence" | "$build/seq2seq" translate --model "$work/s2s.ckpt" --beam 3 >"$work/b.txt"
    [ "$(sed -n 's/^greedy: //p' "$work/s2s.ex")" = "$(cat "$work/g.txt")" ] ||
        fail "'$sentence': greedy: the example $(grep greedy "$work/s2s.ex"), translate $(cat "$work/g.txt")"
    [ "$(sed -n 's/^beam 3: \(.*\) (log-probability .*/\1/p' "$work/s2s.ex")" = "$(cat "$work/b.txt")" ] ||
        fail "'$sentence': beam: the example $(grep beam "$work/s2s.ex"), translate $(cat "$work/b.txt")"
    say "ok: seq2seq '$sentence' -> '$(cat "$work/b.txt")'"
done
must "the seq2seq example" "$work/s2s.ex" "$ex/seq2seq" "$work/s2s.ckpt" "a b c d" 3
cat "$work/s2s.ex"
grep -qE '^attention: +a +b +c +d +<eos>$' "$work/s2s.ex" || fail "no attention header"
"$ex/seq2seq" "$work/s2s.ckpt" "a b c d" 0 >/dev/null 2>"$work/bad.err" && fail "beam 0 was accepted"
grep -q "the beam is 0" "$work/bad.err" || fail "beam 0: $(cat "$work/bad.err")"

# ---- damaged and foreign checkpoints ----
# refused WHAT CODE EXAMPLE FILE ARG...
refused() {
    local what=$1 code=$2 prog=$3 rc=0
    shift 3
    "$prog" "$@" >"$work/bad.out" 2>"$work/bad.err" || rc=$?
    [ "$rc" -eq "$code" ] || { cat "$work/bad.err" >&2; fail "$what ($(basename -- "$prog")): exit $rc, want $code"; }
    grep -qE "^$(basename -- "$prog"): error: " "$work/bad.err" || fail "$what: no message: $(cat "$work/bad.err")"
    say "ok: $what ($(basename -- "$prog")): $(head -1 "$work/bad.err")"
}
for pair in "tagger tag.ckpt abc" "classifier cls.ckpt abc" "seq2seq s2s.ckpt a"; do
    set -- $pair
    prog=$ex/$1 ck=$work/$2 arg=$3
    size=$(wc -c <"$ck")
    head -c $((size / 2)) "$ck" >"$work/cut.ckpt"
    refused "a truncated checkpoint" 3 "$prog" "$work/cut.ckpt" "$arg"
    : >"$work/empty.ckpt"
    refused "an empty file" 3 "$prog" "$work/empty.ckpt" "$arg"
    refused "a missing file" 3 "$prog" "$work/missing.ckpt" "$arg"
    cp "$ck" "$work/flip.ckpt"
    printf '\377' | dd of="$work/flip.ckpt" bs=1 seek=$((size / 2)) count=1 conv=notrunc status=none
    cmp -s "$ck" "$work/flip.ckpt" && fail "the flip changed nothing"
    refused "a flipped byte" 3 "$prog" "$work/flip.ckpt" "$arg"
done
refused "the classifier's checkpoint" 1 "$ex/tagger" "$work/cls.ckpt" abc
refused "the tagger's checkpoint" 1 "$ex/classifier" "$work/tag.ckpt" abc
refused "the tagger's checkpoint" 1 "$ex/seq2seq" "$work/tag.ckpt" abc
refused "the seq2seq checkpoint" 1 "$ex/tagger" "$work/s2s.ckpt" abc
# and the same through predict (the trainers' CLI on the API)
rc=0
echo abc | "$build/classifier" predict --ckpt "$work/cut.ckpt" >/dev/null 2>"$work/bad.err" || rc=$?
[ "$rc" -eq 3 ] || fail "classifier predict on a truncated checkpoint: exit $rc, want 3"
rc=0
printf 'abc\n\n' | "$build/classifier" predict --ckpt "$work/cls.ckpt" >/dev/null 2>"$work/bad.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q '^<stdin>:2: error: .*no tokens' "$work/bad.err" ||
    fail "classifier predict on an empty line: exit $rc, $(cat "$work/bad.err")"
rc=0
printf 'a\n\xff\n' | "$build/tagger" predict --ckpt "$work/tag.ckpt" >/dev/null 2>"$work/bad.err" || rc=$?
[ "$rc" -eq 1 ] && grep -q '^<stdin>:2: error: ' "$work/bad.err" ||
    fail "tagger predict on invalid UTF-8: exit $rc, $(cat "$work/bad.err")"
rc=0
"$build/rnn" predict --ckpt "$work/tag.ckpt" </dev/null 2>"$work/bad.err" || rc=$?
[ "$rc" -eq 2 ] || fail "a language model's predict: exit $rc, want 2"
say "ok: predict's errors"
