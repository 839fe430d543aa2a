#!/usr/bin/env bash
# threads.sh TRAINER DATA WORKDIR: training with the batch split over 2
# threads (--threads 2, rnnrt_parallel.c), double trainer.
#   - two runs give byte-identical checkpoints (bit-reproducible);
#   - stopping after 6 steps and resuming for 6 more gives the checkpoint of
#     12 steps in one go;
#   - the result matches --threads 1 (val_ppl to the printed digits), and
#     eval --threads 2 prints what eval --threads 1 prints.
# --batch 7 makes the split uneven (4 + 3 rows). Adam, because its state
# (moments and step count) is all in the checkpoint; a resumed SGD run
# restarts the optimizer's unused step counter, so its bytes differ there.
set -euo pipefail
E2E_NAME=threads
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER DATA WORKDIR" >&2; exit 2; }
trainer=$1 work=$3
pick_data "$2"
fresh_dir "$work"

train() { # train DIR THREADS STEPS [more args]
    local dir=$work/$1 th=$2 steps=$3
    shift 3
    mkdir -p "$dir"
    must "train --threads $th in $dir" "$dir/train.log" \
        "$trainer" train "${DATA[@]}" --batch 7 --steps 12 --max-steps "$steps" \
        --optimizer adam --lr 0.01 --threads "$th" --sample-len 0 --quiet --ckpt "$dir/model.ckpt" "$@"
}

train a 2 12
train b 2 12
cmp -s "$work/a/model.ckpt" "$work/b/model.ckpt" ||
    fail "two --threads 2 runs wrote different checkpoints"
say "ok: two --threads 2 runs wrote byte-identical checkpoints"

train c 2 6
train c 2 6 --resume
cmp -s "$work/a/model.ckpt" "$work/c/model.ckpt" ||
    fail "6 + 6 resumed steps with --threads 2 differ from 12 steps in one run"
say "ok: 6 steps, then --resume for 6 more: the checkpoint of 12 steps"

train one 1 12
p1=$(field val_ppl "$work/one/train.log") p2=$(field val_ppl "$work/a/train.log")
[ -n "$p1" ] && [ "$p1" = "$p2" ] ||
    fail "val_ppl with --threads 1 is '$p1', with --threads 2 '$p2'"
say "ok: --threads 1 and 2 give val_ppl $p1"

for th in 1 2; do
    must "eval --threads $th" "$work/eval$th.log" \
        "$trainer" eval "${DATA[@]}" --ckpt "$work/a/model.ckpt" --threads "$th"
done
e1=$(field val_ppl "$work/eval1.log") e2=$(field val_ppl "$work/eval2.log")
[ -n "$e1" ] && [ "$e1" = "$e2" ] ||
    fail "eval --threads 1 gives val_ppl '$e1', --threads 2 '$e2'"
say "ok: eval --threads 1 and 2 give val_ppl $e1"
