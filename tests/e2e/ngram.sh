#!/usr/bin/env bash
# ngram.sh TRAINER DATA WORKDIR: the counted baseline end to end. Trains
# (counts) the model of specs/ngram.yaml, evaluates it from the saved file,
# samples from it, and refuses a corrupted model file. On the Time Machine
# (char, letters, 90/10, order 5, modified Kneser-Ney) the validation
# perplexity must be KenLM's 3.894 to the printed precision; on any other
# corpus it must only be finite and well below the unigram's.
set -euo pipefail
E2E_NAME=ngram_e2e
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER DATA WORKDIR" >&2; exit 2; }
trainer=$1 work=$3
pick_data "$2"
fresh_dir "$work"
model=$work/model.ngram

must "counting" "$work/train.log" "$trainer" train "${DATA[@]}" --out "$model"
cat "$work/train.log"
ppl=$(grep -oE 'validation perplexity [0-9.]+' "$work/train.log" | tail -n1 | awk '{print $3}')
[ -n "$ppl" ] || fail "train printed no validation perplexity"
if [ "${#DATA[@]}" -gt 0 ] && [ "$(basename "$2")" = timemachine.txt ]; then
    fcmp "$ppl > 3.8925 && $ppl < 3.8945" || fail "order-5 modified Kneser-Ney perplexity $ppl, KenLM gives 3.894"
else
    fcmp "$ppl > 1 && $ppl < 15" || fail "perplexity $ppl is not plausible for a character 5-gram"
fi

must "eval from the model file" "$work/eval.log" "$trainer" eval "${DATA[@]}" --model "$model"
eppl=$(grep -oE 'validation perplexity [0-9.]+' "$work/eval.log" | tail -n1 | awk '{print $3}')
[ "$eppl" = "$ppl" ] || fail "eval gives $eppl, train gave $ppl"

must "sample" "$work/sample.txt" "$trainer" sample --model "$model" --prefix "the " --len 100
n=$(wc -c <"$work/sample.txt")
say "sample ($n bytes): $(head -c 120 "$work/sample.txt" | tr '\n' ' ')"
[ "$n" -ge 60 ] || fail "sample --len 100 printed only $n bytes"

# A flipped byte in the middle of the file must be refused, not crash.
cp "$model" "$work/bad.ngram"
size=$(stat -c %s "$work/bad.ngram")
printf '\xff' | dd of="$work/bad.ngram" bs=1 seek=$((size / 2)) conv=notrunc status=none
set +e
"$trainer" eval "${DATA[@]}" --model "$work/bad.ngram" >"$work/bad.log" 2>&1
code=$?
set -e
cat "$work/bad.log"
[ "$code" -ne 0 ] && [ "$code" -lt 128 ] || fail "a corrupted model file gave exit $code"
say "ok: perplexity $ppl, corrupted file refused (exit $code)"
