#!/usr/bin/env bash
# ptb_data.sh RNNC WORKDIR: validation and test files, whitespace tokens,
# <eos>, <unk> and max_vocab (issue 13) end to end, on a tiny
# Penn-Treebank-style corpus written here (one sentence per line, tokens
# separated by spaces, unknown words written as <unk>). Builds a small LSTM
# trainer from a spec with data.valid and data.test and checks that
#   - the vocabulary is the specials and the training file's distinct
#     tokens (<unk> is the special, not a second entry), and the token
#     counts are the words plus one <eos> per line, in every file;
#   - the validation and test perplexities are reported, and RESULT scores
#     the best checkpoint (its val_ppl is the lowest epoch's);
#   - `eval` of the best checkpoint gives the same test perplexity, and
#     --test naming the validation file gives the validation perplexity;
#   - data.max_vocab caps V; a missing --valid or --test file is an error
#     naming it (exit 3).
set -euo pipefail
E2E_NAME=ptb_data
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 2 ] || { echo "usage: $0 RNNC WORKDIR" >&2; exit 2; }
rnnc=$1 work=$2
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(dirname -- "$rnnc")
fresh_dir "$work"

# sentences of 3-9 words from a fixed list; some words only in valid/test
corpus() { # NAME LINES SEED EXTRA-WORDS
    awk -v n="$2" -v seed="$3" -v extra="$4" 'BEGIN {
        split("the a of to and in N <unk> cat dog house market stock said " \
              "year new shares company its was for on that is " extra, w, " ")
        k = length(w); x = seed
        for (i = 0; i < n; i++) {
            x = (x * 1103515245 + 12345) % 2147483648
            len = 3 + x % 7; line = ""
            for (j = 0; j < len; j++) {
                x = (x * 1103515245 + 12345) % 2147483648
                line = line " " w[1 + int(x / 65536) % k]
            }
            print line " "
        }
    }' >"$work/$1"
}
corpus train.txt 600 1 ""
corpus valid.txt 80 2 "zebra"
corpus test.txt 80 3 "yak quokka"

# count FILE: words + lines (one <eos> per line)
count() { awk '{ n += NF + 1 } END { print n }' "$1"; }
distinct=$(tr -s ' ' '\n' <"$work/train.txt" | grep -v -e '^$' -e '^<unk>$' | sort -u | wc -l)

write_spec() { # FILE MAX_VOCAB-LINE
    cat >"$1" <<EOF
model: ptb
task: language_model
data:
  tokens: whitespace
  eos: true
  valid: $work/valid.txt
  test: $work/test.txt
$2
cell: lstm
network:
  input: {embed: 16}
  hidden: 16
train:
  batch: 4
  steps: 10
  optimizer: adam
  lr: 0.01
  epochs: 4
EOF
}
build_trainer() { # SPEC OUT
    "$rnnc" "$1" -o "$2.c"
    cc -O2 -std=c11 -I"$src/runtime" "$2.c" "$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lm -lpthread -o "$2"
}
write_spec "$work/m.yaml" ""
build_trainer "$work/m.yaml" "$work/m"

cd "$work"
must "train" train.log ./m train --data train.txt --threads 1 --ckpt m.ckpt --sample-len 0
grep -v '^ptb:' train.log >train.out || true

V=$(field V train.out)
[ "$V" -eq $((4 + distinct)) ] || fail "V=$V, want 4 specials + $distinct distinct training tokens"
ntrain=$(count train.txt) nvalid=$(count valid.txt) ntest=$(count test.txt)
grep -q "train $ntrain, validation $nvalid)" train.log ||
    fail "token counts: want train $ntrain, validation $nvalid (words + <eos>): $(grep 'data ' train.log)"
grep -qE "^test_ppl [0-9.]+ tokens $ntest test_unk [0-9]+$" train.out ||
    fail "no test line with $ntest tokens: $(grep test_ppl train.out)"
say "ok: V=$V, train $ntrain, validation $nvalid, test $ntest tokens (words + one <eos> per line)"

# the validation file has 'zebra', the test file 'yak' and 'quokka': <unk>
words() { tr -s ' ' '\n' <"$1" | grep -cxE "$2" || true; }
zebras=$(words valid.txt zebra)
[ "$(field val_unk train.out)" -eq "$zebras" ] || fail "val_unk=$(field val_unk train.out), want $zebras (zebra)"
unk_test=$(words test.txt 'yak|quokka')
[ "$(field test_unk train.out)" -eq "$unk_test" ] || fail "test_unk=$(field test_unk train.out), want $unk_test"
say "ok: val_unk $zebras, test_unk $unk_test (words the training file lacks; a written <unk> is not counted)"

best=$(awk '/^epoch / { if (b == "" || $6 + 0 < b + 0) b = $6 } END { print b }' train.out)
val=$(field val_ppl train.out)
[ "$val" = "$best" ] || fail "RESULT val_ppl=$val is not the best epoch's $best"
grep -q "final scores from the best checkpoint 'm.ckpt.best'" train.log || fail "no note of the best checkpoint"
say "ok: RESULT scores the best checkpoint (val_ppl $val), test_ppl $(field test_ppl train.out)"

must "eval best" eval.log ./m eval --ckpt m.ckpt.best --data train.txt
[ "$(field test_ppl eval.log)" = "$(field test_ppl train.out)" ] ||
    fail "eval of m.ckpt.best: test_ppl=$(field test_ppl eval.log), train said $(field test_ppl train.out)"
must "eval --test valid" eval2.log ./m eval --ckpt m.ckpt.best --data train.txt --test valid.txt
[ "$(field test_ppl eval2.log)" = "$(field val_ppl eval2.log)" ] ||
    fail "--test valid.txt: test_ppl=$(field test_ppl eval2.log), val_ppl=$(field val_ppl eval2.log)"
say "ok: eval of the best checkpoint agrees; --test overrides data.test"

write_spec capped.yaml "  max_vocab: 10"
build_trainer capped.yaml capped
must "train capped" capped.log ./capped train --data train.txt --threads 1 --ckpt capped.ckpt \
    --sample-len 0 --max-steps 5
[ "$(field V capped.log)" -eq 10 ] || fail "max_vocab 10: V=$(field V capped.log)"
say "ok: data.max_vocab 10 gives V=10"

for opt in --valid --test; do
    set +e
    ./m train --data train.txt --ckpt bad.ckpt $opt no-such-file.txt --quiet >bad.log 2>&1
    rc=$?
    set -e
    [ "$rc" -eq 3 ] || fail "$opt no-such-file.txt: exit $rc, want 3: $(cat bad.log)"
    grep -q "no-such-file.txt" bad.log || fail "$opt: the message does not name the file: $(cat bad.log)"
    say "ok: $opt no-such-file.txt: $(tail -n 1 bad.log)"
done
