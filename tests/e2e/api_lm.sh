#!/usr/bin/env bash
# api_lm.sh TRAINER LM DATA WORKDIR [RNNC WORDSPEC]: the C API example
# (examples/api/lm.c) on checkpoints the trainers wrote.
#   - TRAINER (the float trainer of generated/rnn.c) trains 20 steps; LM
#     (build/examples/api/lm, linked with the same model) opens the
#     checkpoint, scores a sentence, lists the next tokens and samples; its
#     sample is the trainer's `sample` output for the same seed (also
#     greedy, temperature 0);
#   - a damaged, empty, missing or foreign file gives a message and the
#     API's error code (3 or 1), never a crash;
#   - with RNNC and WORDSPEC: a word-level model (hidden cut to 32) is
#     generated, and its trainer and the example are built with plain cc as
#     the README shows (-DRNNC_NO_MAIN, -DLM_MODEL); the samples agree and a
#     prefix word the vocabulary lacks is read as <unk>.
set -euo pipefail
E2E_NAME=api_lm
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || [ $# -eq 6 ] || { echo "usage: $0 TRAINER LM DATA WORKDIR [RNNC WORDSPEC]" >&2; exit 2; }
trainer=$1 lm=$2 work=$4
pick_data "$3"
fresh_dir "$work"
ckpt=$work/rnn.ckpt

must "training" "$work/train.log" \
    "$trainer" train "${DATA[@]}" --max-steps 20 --threads 1 --quiet --sample-len 0 --ckpt "$ckpt"

# same_sample LM TRAINER CKPT PREFIX LEN SEED TEMPERATURE [TRAINER OPTS...]:
# the example's sample line must be the trainer's sample.
same_sample() {
    local ex=$1 tr=$2 ck=$3 prefix=$4 len=$5 seed=$6 temp=$7
    shift 7
    must "the example" "$work/ex.log" "$ex" "$ck" "$prefix and more" "$prefix" "$len" "$seed" "$temp"
    must "the trainer's sample" "$work/tr.log" "$tr" sample --ckpt "$ck" --prefix "$prefix" --len "$len" --seed "$seed" "$@"
    local got want
    got=$(sed -n 's/^sample: //p' "$work/ex.log")
    want=$(grep -v ': note: ' "$work/tr.log")
    [ -n "$got" ] || fail "the example printed no sample: $(cat "$work/ex.log")"
    [ "$got" = "$want" ] || fail "samples differ (seed $seed, temperature $temp):
  api:     $got
  trainer: $want"
    say "ok: seed $seed temperature $temp: $got"
}

must "the example" "$work/lm.log" "$lm" "$ckpt" "The Time Machine, by H. G. Wells." "the time " 80 5
cat "$work/lm.log"
grep -qE '^model rnn: [0-9]+ char tokens, 20 training steps, float$' "$work/lm.log" || fail "no model line"
ppl=$(sed -n 's/^score: perplexity \([0-9.]*\),.*/\1/p' "$work/lm.log")
[ -n "$ppl" ] && fcmp "$ppl > 1 && $ppl < 100" || fail "perplexity '$ppl' is not in (1, 100)"
grep -q "^score: .*, 28 tokens predicted," "$work/lm.log" || fail "the sentence is not 29 normalized characters"
grep -qE "^next: '.' 0\.[0-9]+(, '.' 0\.[0-9]+){4}$" "$work/lm.log" || fail "no next-token line"
same_sample "$lm" "$trainer" "$ckpt" "the time " 200 5 1
same_sample "$lm" "$trainer" "$ckpt" "we " 100 11 0.7 --temperature 0.7
same_sample "$lm" "$trainer" "$ckpt" "the " 60 0 0 --greedy

# Damaged and foreign files: an error code and a message from the API.
# refused WHAT CODE FILE [EXAMPLE]
refused() {
    local what=$1 code=$2 file=$3 ex=${4:-$lm} rc=0
    "$ex" "$file" "some text" "the " >"$work/bad.out" 2>"$work/bad.err" || rc=$?
    [ "$rc" -eq "$code" ] || { cat "$work/bad.err" >&2; fail "$what: exit $rc, want $code"; }
    grep -q "^lm: error: " "$work/bad.err" || fail "$what: no message: $(cat "$work/bad.err")"
    say "ok: $what: $(cat "$work/bad.err")"
}
size=$(wc -c <"$ckpt")
head -c $((size / 2)) "$ckpt" >"$work/cut.ckpt"
refused "a truncated checkpoint" 3 "$work/cut.ckpt"
: >"$work/empty.ckpt"
refused "an empty file" 3 "$work/empty.ckpt"
refused "a missing file" 3 "$work/missing.ckpt"
cp "$ckpt" "$work/flip.ckpt"
printf '\377' | dd of="$work/flip.ckpt" bs=1 seek=$((size / 2)) count=1 conv=notrunc status=none
cmp -s "$ckpt" "$work/flip.ckpt" && fail "the flip changed nothing"
refused "a flipped byte" 3 "$work/flip.ckpt"

[ $# -eq 6 ] || exit 0

# A word model built by hand, as README's "Using a trained model from C".
rnnc=$5 spec=$6
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(dirname -- "$rnnc")
name=$(sed -n 's/^model: *//p' "$spec")
sed -E -e "s/^(  hidden:) [0-9]+/\1 32/" -e "s/\{embed: [0-9]+\}/{embed: 16}/" "$spec" >"$work/w.yaml"
"$rnnc" "$work/w.yaml" -o "$work/w.c"
cflags=(-O2 -std=c11 -I"$src/runtime")
libs=("$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lm -lpthread)
cc "${cflags[@]}" "$work/w.c" "${libs[@]}" -o "$work/w"
cc "${cflags[@]}" -DRNNC_NO_MAIN -c "$work/w.c" -o "$work/w.o"
cc "${cflags[@]}" -DLM_MODEL="${name}_model" "$src/examples/api/lm.c" "$work/w.o" "${libs[@]}" -o "$work/wlm"
must "training the word model" "$work/wtrain.log" \
    "$work/w" train "${DATA[@]}" --max-steps 20 --threads 1 --quiet --sample-len 0 --ckpt "$work/w.ckpt"
refused "the character model's checkpoint for the word model" 1 "$ckpt" "$work/wlm"
grep -q "holds model 'rnn'" "$work/bad.err" || fail "the foreign checkpoint's model is not named"
same_sample "$work/wlm" "$work/w" "$work/w.ckpt" "the time" 30 2 1
same_sample "$work/wlm" "$work/w" "$work/w.ckpt" "the zqxjv machine" 30 2 1
grep -q "'zqxjv' is not in the vocabulary" "$work/tr.log" || fail "the trainer did not name the unknown word"
must "the word example" "$work/w.log" "$work/wlm" "$work/w.ckpt" "The Time Traveller (for so it will be convenient)" "the time" 10 1
grep -qE "^score: .*, 10 tokens predicted" "$work/w.log" || fail "the word model did not read 11 words: $(cat "$work/w.log")"
say "ok: $(grep '^score' "$work/w.log")"
