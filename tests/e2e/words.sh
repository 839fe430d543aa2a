#!/usr/bin/env bash
# words.sh RNNC SPEC DATA WORKDIR: a word-level language model end to end.
# Builds the float trainer of SPEC (hidden cut to 32, embed to 16), trains it
# for 40 steps and checks that
#   - the trainer's closing sample continues the prefix with words;
#   - `sample` from the checkpoint starts with the prefix as given and then
#     writes exactly --sample-len more tokens, each one of the vocabulary's
#     (no special token), one space before each;
#   - a prefix word the vocabulary lacks is read as <unk> and named on
#     stderr, and a prefix with no words is refused (exit 1).
set -euo pipefail
E2E_NAME=words
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 RNNC SPEC DATA WORKDIR" >&2; exit 2; }
rnnc=$1 spec=$2 work=$4
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(dirname -- "$rnnc")
pick_data "$3"
fresh_dir "$work"
grep -qE '^  tokens: word' "$spec" || fail "$spec is not a word-level model"
sed -E -e "s/^(  hidden:) [0-9]+/\1 32/" -e "s/\{embed: [0-9]+\}/{embed: 16}/" "$spec" >"$work/m.yaml"
"$rnnc" "$work/m.yaml" -o "$work/m.c"
cc -O2 -std=c11 -I"$src/runtime" "$work/m.c" "$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lm -lpthread -o "$work/m"

"$work/m" train "${DATA[@]}" --max-steps 40 --threads 1 --quiet --ckpt "$work/m.ckpt" \
    --prefix "the time" --sample-len 5 >"$work/train.log" 2>&1 || fail "train failed: $(tail -n 3 "$work/train.log")"
grep -qE '^sample: the time( [^ ]+){5}$' "$work/train.log" || fail "no word sample after training: $(grep sample "$work/train.log")"
say "ok: $(grep '^sample:' "$work/train.log")"

"$work/m" sample --ckpt "$work/m.ckpt" --prefix "The Time Traveller" --len 12 >"$work/s.txt" 2>"$work/s.err" ||
    fail "sample failed: $(cat "$work/s.err")"
line=$(cat "$work/s.txt")
case $line in "The Time Traveller "*) ;; *) fail "the sample does not start with the prefix: $line" ;; esac
rest=${line#The Time Traveller }
n=$(printf '%s\n' "$rest" | wc -w)
[ "$n" -eq 12 ] || fail "asked for 12 tokens, got $n: $rest"
case " $rest " in *"<unk>"* | *"<pad>"* | *"<bos>"* | *"<eos>"*) fail "a special token was sampled: $rest" ;; esac
say "ok: $line"

"$work/m" sample --ckpt "$work/m.ckpt" --prefix "the zqxjv time" --len 3 >"$work/u.txt" 2>"$work/u.err" ||
    fail "a prefix with an unknown word failed: $(cat "$work/u.err")"
grep -q "'zqxjv' is not in the vocabulary" "$work/u.err" || fail "the unknown prefix word is not named: $(cat "$work/u.err")"
say "ok: unknown prefix word read as <unk>"

set +e
"$work/m" sample --ckpt "$work/m.ckpt" --prefix "   " --len 3 >"$work/e.txt" 2>"$work/e.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "an empty prefix gave exit $rc, want 1"
grep -q "no words" "$work/e.err" || fail "an empty prefix: $(cat "$work/e.err")"
say "ok: a prefix without words is refused"
