#!/usr/bin/env bash
# heads_mpi.sh labelling|classification TRAINER SRC WORKDIR RNNC_MPI: the
# task heads over MPI ranks (rnnrt_mpi.c), double trainer, the same global
# minibatch (--batch 7: 4 + 3 rows; a classification epoch's last, shorter
# minibatch is dealt again).
#   - `mpirun -np 2` x 1 thread writes the checkpoint of one process with
#     --threads 2, byte for byte, and prints one process's epoch lines;
#     against one process with --threads 1, every step's loss
#     (--metrics-every 1) and the final parameters are within 1e-12
#     (relative);
#   - resume across a changed N: 1 epoch, or 5 steps (mid-epoch: the
#     tagger's carried state is gathered from both ranks), on 2 ranks +
#     the rest in one process (--threads 2), and the same from one process
#     to 2 ranks, is the 2 epochs of one process with --threads 2;
#   - SIGTERM to rank 1 and SIGINT to rank 0 stop both ranks with one clean
#     save (exit 143 / 130) that evaluates and resumes on 2 ranks; rank 1
#     killed with SIGKILL makes mpirun end the job (mpi_dead in lib.sh).
# Exits 77 (skipped) when the trainers are built without MPI or mpirun is
# absent.
set -euo pipefail
E2E_NAME=heads_mpi
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 5 ] || { echo "usage: $0 labelling|classification TRAINER SRC WORKDIR RNNC_MPI" >&2; exit 2; }
task=$1 trainer=$2 src=$3 work=$4
E2E_NAME=heads_mpi_$task
fresh_dir "$work"
mpi_setup "$5" "$work"

if [ "$task" = labelling ]; then
    awk -v task="$task" -v n=100 -v seed=1 -f "$src/tests/e2e/heads_data.awk" >"$work/data.txt"
    ARGS=(--batch 7 --steps 30)
else
    awk -v task="$task" -v n=400 -v seed=1 -f "$src/tests/e2e/heads_data.awk" >"$work/data.txt"
    ARGS=(--batch 7)
fi

train() { # train NAME RANKS THREADS EPOCHS [more args]; RANKS 0 = no mpirun
    local name=$1 np=$2 th=$3 epochs=$4
    shift 4
    local run=("$trainer")
    [ "$np" -eq 0 ] || run=("${MPI[@]}" -np "$np" "$trainer")
    must "train $name on $np ranks x $th threads" "$work/$name.log" \
        "${run[@]}" train --data "$work/data.txt" "${ARGS[@]}" --epochs "$epochs" --threads "$th" \
        --ckpt "$work/$name.ckpt" "$@"
}

train ranks2 2 1 2 --metrics "$work/ranks2.jsonl" --metrics-every 1
train threads2 0 2 2
train one 0 1 2 --metrics "$work/one.jsonl" --metrics-every 1
cmp "$work/ranks2.ckpt" "$work/threads2.ckpt" ||
    fail "2 ranks x 1 thread and 1 process x 2 threads wrote different checkpoints"
say "ok: mpirun -np 2 writes the checkpoint of --threads 2, byte for byte ($(field steps "$work/ranks2.log") steps)"
# (the epoch lines, not the progress lines a slow run may print between)
diff <(grep '^epoch [0-9]* train_loss' "$work/one.log") <(grep '^epoch [0-9]* train_loss' "$work/ranks2.log") ||
    fail "the epoch lines of 2 ranks differ from one process's"
say "ok: 2 ranks print one process's epoch lines: $(grep '^epoch [0-9]* train_loss' "$work/ranks2.log" | awk '{ printf "%s ", $4 }')"
if command -v python3 >/dev/null; then
    rel=$(python3 "$src/tests/e2e/ckpt_diff.py" "$work/one.ckpt" "$work/ranks2.ckpt")
    fcmp "$rel <= 1e-12" || fail "2 ranks differ from --threads 1 by $rel (relative)"
    say "ok: 2 ranks within $rel (relative) of one process with --threads 1"
fi
say "ok: per-step losses of 2 ranks and of one process (--threads 1) within $(same_step_losses \
    "$work/one.jsonl" "$work/ranks2.jsonl" 1e-12)"
train half 2 1 1
train half 0 2 2 --resume --quiet
cmp "$work/half.ckpt" "$work/threads2.ckpt" ||
    fail "1 epoch on 2 ranks + --resume in one process differs from 2 epochs in one"
say "ok: 1 epoch on 2 ranks + --resume in one process == 2 epochs in one, byte for byte"
train mid 2 1 2 --max-steps 5 --quiet
train mid 0 2 2 --resume --quiet
cmp "$work/mid.ckpt" "$work/threads2.ckpt" ||
    fail "5 steps on 2 ranks + --resume in one process differs from 2 epochs in one"
say "ok: 5 steps (mid-epoch) on 2 ranks + --resume in one process == 2 epochs in one, byte for byte"
train up 0 2 1 --quiet
train up 2 1 2 --resume --quiet
cmp "$work/up.ckpt" "$work/threads2.ckpt" ||
    fail "1 epoch in one process + --resume on 2 ranks differs from 2 epochs in one"
train upmid 0 2 2 --max-steps 5 --quiet
train upmid 2 1 2 --resume --quiet
cmp "$work/upmid.ckpt" "$work/threads2.ckpt" ||
    fail "5 steps in one process + --resume on 2 ranks differs from 2 epochs in one"
say "ok: 1 epoch, or 5 steps, in one process + --resume on 2 ranks == 2 epochs in one, byte for byte"
[ -s "$work/threads2.ckpt.best" ] && [ -s "$work/ranks2.ckpt.best" ] || fail "no <ckpt>.best"

# long NAME: the array LONG, a run on 2 ranks far longer than the test that
# saves every 3 steps (mpi_start), for the signals and the dead rank.
long() {
    mkdir -p "$work/$1"
    LONG=("${MPI[@]}" -np 2 "$trainer" train --data "$work/data.txt" "${ARGS[@]}"
          --epochs 100000 --save-every 3 --ckpt "$work/$1/model.ckpt")
}
for case in "TERM 1 143" "INT 0 130"; do
    set -- $case
    long "sig$1"
    mpi_interrupt "$1" "$2" "$3" "$work/sig$1/model.ckpt" "$work/sig$1/train.log" "${LONG[@]}"
    must "eval of the checkpoint saved on SIG$1" "$work/sig$1/eval.log" \
        "$trainer" eval --data "$work/data.txt" --ckpt "$work/sig$1/model.ckpt"
    must "resume on 2 ranks after SIG$1" "$work/sig$1/resume.log" "${LONG[@]}" --max-steps 2 --resume
    say "ok: SIG$1 to rank $2 -> both ranks stop, exit $3, one save, it evaluates and resumes"
done
long dead
mpi_dead 1 "$work/dead/model.ckpt" "$work/dead/train.log" "${LONG[@]}"
say "passed"
