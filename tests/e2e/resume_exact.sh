#!/usr/bin/env bash
# resume_exact.sh RNNC LM_SPEC S2S_SPEC S2S_TOOL DATA WORKDIR: a resumed run
# is byte-identical to a straight run for every optimizer (issue 17). For
# SGD and Adam, the language model (LM_SPEC, hidden cut to 32, on the
# first 24 KB of DATA, or of README.md when DATA is absent) and the seq2seq model (S2S_SPEC, on 400 toy pairs)
# train 2 epochs straight and 1 epoch + --resume to 2; the final
# checkpoints must be equal byte for byte (SGD's step count used to
# restart at 0 on resume).
set -euo pipefail
E2E_NAME=resume_exact
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 6 ] || { echo "usage: $0 RNNC LM_SPEC S2S_SPEC S2S_TOOL DATA WORKDIR" >&2; exit 2; }
rnnc=$1 lm_spec=$2 s2s_spec=$3 tool=$4 data=$5 work=$6
src=$(cd "$(dirname -- "$0")/../.." && pwd)
build=$(dirname -- "$rnnc")
fresh_dir "$work"
if [ ! -r "$data" ]; then
    say "note: $data is absent; training on the project's README.md instead"
    data=$src/README.md
fi
head -c 24000 "$data" >"$work/text.txt"
"$tool" toy reverse 500 8 3 6 1 >"$work/pairs.txt"

# trainer SPEC OPTIMIZER NAME: builds SPEC with that optimizer (hidden 32)
# into $work/NAME.
trainer() {
    sed -E -e "s/^(  optimizer:) [a-z]+/\1 $2/" -e "s/^(  hidden:) [0-9]+/\1 32/" "$1" >"$work/$3.yaml"
    grep -q "^  optimizer: $2" "$work/$3.yaml" || fail "$1 has no train.optimizer line"
    "$rnnc" "$work/$3.yaml" -o "$work/$3.c"
    cc -O2 -std=c11 -I"$src/runtime" "$work/$3.c" "$build/librnnrt.a" $(pkg-config --libs openblas jansson) -lm -lpthread \
        -o "$work/$3"
}

# same NAME CMD...: CMD --epochs 2 straight, and --epochs 1 then --resume
# --epochs 2, must leave identical checkpoints.
same() {
    local name=$1
    shift
    must "$name: 2 epochs" "$work/$name.a.log" "$@" --epochs 2 --ckpt "$work/$name.a.ckpt"
    must "$name: 1 epoch" "$work/$name.b1.log" "$@" --epochs 1 --ckpt "$work/$name.b.ckpt"
    must "$name: resumed to 2" "$work/$name.b2.log" "$@" --epochs 2 --ckpt "$work/$name.b.ckpt" --resume
    grep -q "resuming" "$work/$name.b2.log" || fail "$name: the second run did not resume"
    cmp "$work/$name.a.ckpt" "$work/$name.b.ckpt" ||
        fail "$name: 1 epoch + resume differs from 2 epochs straight"
    say "ok: $name: 2 epochs == 1 + resume ($(wc -c <"$work/$name.a.ckpt") bytes identical)"
}

for opt in sgd adam; do
    trainer "$lm_spec" "$opt" "lm_$opt"
    lr=1.0
    [ "$opt" = adam ] && lr=0.002
    same "lm_$opt" "$work/lm_$opt" train --data "$work/text.txt" --batch 8 --steps 20 --lr "$lr" \
        --threads 1 --sample-len 0
    trainer "$s2s_spec" "$opt" "s2s_$opt"
    same "s2s_$opt" "$work/s2s_$opt" train "$work/pairs.txt" --max-pairs 400 --eval-max 0 --beam 1
done
