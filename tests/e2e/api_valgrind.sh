#!/usr/bin/env bash
# api_valgrind.sh SRC BUILD WORKDIR DATA: each examples/api program (lm,
# tagger, classifier, seq2seq) once under valgrind --leak-check=full on a
# checkpoint this test trains: no memory error and no leak (valgrind's
# --error-exitcode 99, which no example uses), and the example's own exit
# 0. Then each on a truncated copy of its checkpoint, under valgrind too:
# the API's error code (exit 3) and message, no memory error, no leak.
# Skipped (77) when valgrind is not installed. Sizes are small: valgrind
# runs the model ~50x slower. api_tasks.sh and api_lm.sh check what the
# examples print.
set -euo pipefail
E2E_NAME=api_valgrind
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 SRC BUILD WORKDIR DATA" >&2; exit 2; }
src=$1 build=$2 work=$3
command -v valgrind >/dev/null || { say "skipped: valgrind is not installed"; exit 77; }
pick_data "$4"
ex=$build/examples/api
fresh_dir "$work"
export OPENBLAS_NUM_THREADS=1 # no BLAS threads for valgrind to serialize
gen() { awk -v task="$1" -v n="$2" -v seed=1 -f "$src/tests/e2e/heads_data.awk"; }

must "rnn train" "$work/lm.log" "$build/rnn" train "${DATA[@]}" --max-steps 5 --threads 1 --quiet \
    --sample-len 0 --ckpt "$work/lm.ckpt"
gen labelling 200 >"$work/lab.txt"
must "tagger train" "$work/tag.log" "$build/tagger" train --data "$work/lab.txt" --epochs 1 --quiet \
    --ckpt "$work/tagger.ckpt"
gen classification 300 >"$work/cls.txt"
must "classifier train" "$work/cls.log" "$build/classifier" train --data "$work/cls.txt" --epochs 1 --quiet \
    --ckpt "$work/classifier.ckpt"
"$build/tests/s2s_tool" toy reverse 400 8 3 6 1 >"$work/rev.txt"
must "seq2seq train" "$work/s2s.log" "$build/seq2seq" train "$work/rev.txt" --max-steps 5 --eval-max 0 \
    --threads 1 --quiet --ckpt "$work/seq2seq.ckpt"

# vg NAME WANT CKPT ARGS...: examples/api/NAME under valgrind, exit WANT
vg() {
    local name=$1 want=$2 ck=$3 rc=0
    shift 3
    valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
        --log-file="$work/$name.vg" "$ex/$name" "$ck" "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
    [ "$rc" -ne 99 ] || { cat "$work/$name.vg" >&2; fail "$name $(basename -- "$ck"): valgrind found errors"; }
    [ "$rc" -eq "$want" ] || { cat "$work/$name.err" >&2; fail "$name $(basename -- "$ck"): exit $rc, want $want"; }
    grep -q 'ERROR SUMMARY: 0 errors' "$work/$name.vg" || fail "$name: $(grep 'ERROR SUMMARY' "$work/$name.vg")"
}

vg lm 0 "$work/lm.ckpt" "the time machine" "the " 20 1
vg tagger 0 "$work/tagger.ckpt" "ab (cd) e"
vg classifier 0 "$work/classifier.ckpt" aabca bbbca
vg seq2seq 0 "$work/seq2seq.ckpt" "a b c d" 3
for name in lm tagger classifier seq2seq; do
    grep -q . "$work/$name.out" || fail "$name printed nothing"
done
say "ok: lm, tagger, classifier and seq2seq under valgrind: no errors, no leaks"

for name in lm tagger classifier seq2seq; do
    ck=$work/$name.ckpt
    head -c $(($(wc -c <"$ck") / 2)) "$ck" >"$work/$name.cut.ckpt"
done
vg lm 3 "$work/lm.cut.ckpt" "the time machine" "the " 20 1
vg tagger 3 "$work/tagger.cut.ckpt" "ab"
vg classifier 3 "$work/classifier.cut.ckpt" ab
vg seq2seq 3 "$work/seq2seq.cut.ckpt" "a b" 1
for name in lm tagger classifier seq2seq; do
    grep -qE "^$name: error: .*truncated" "$work/$name.err" || fail "$name on a truncated checkpoint: $(cat "$work/$name.err")"
done
say "ok: a truncated checkpoint: exit 3 with the API's message from each, under valgrind, clean"
