#!/usr/bin/env bash
# mpi.sh TRAINER DATA WORKDIR RNNC_MPI: data parallelism over MPI ranks
# (issue 16, runtime/train/rnnrt_mpi.c), double trainer.
#   - `mpirun -np 2` x 1 thread writes the checkpoint of one process with
#     --threads 2, byte for byte (the same rows per part, the same sums in
#     the same order); against one process with --threads 1 (the same
#     global batch), every step's loss (--metrics-every 1) is within 1e-12
#     (relative), the final parameters within 1e-11 (Adam divides by
#     sqrt(v), so the last bits of small gradients grow; 6.9e-13 measured),
#     and val_ppl is equal to the printed digits;
#   - threads within ranks: 2 ranks x 2 threads (parts of 2, 2 | 2, 1 rows)
#     are bit-reproducible, and their per-step losses within 1e-12 of
#     --threads 1's;
#   - resume across a changed N: 6 steps on 2 ranks + 6 in one process, and
#     6 in one process + 6 on 2 ranks, give the checkpoint of 12 in one go;
#   - SIGTERM to rank 1 and SIGINT to rank 0 stop both ranks with one clean
#     save (exit 143 / 130), and the checkpoint loads and resumes;
#   - rank 0 killed with SIGKILL makes mpirun end the job (no hang) with a
#     nonzero exit and says so (lib.sh's mpi_dead).
# --batch 7 makes the split uneven (4 + 3 rows). Exits 77 (skipped) when
# the trainers are built without MPI or mpirun is absent.
set -euo pipefail
E2E_NAME=mpi
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 TRAINER DATA WORKDIR RNNC_MPI" >&2; exit 2; }
trainer=$1 work=$3 built=$4
pick_data "$2"
fresh_dir "$work"
mpi_setup "$built" "$work"

ARGS=("${DATA[@]}" --batch 7 --steps 12 --optimizer adam --lr 0.01
      --sample-len 0 --quiet)

train() { # train DIR RANKS THREADS STEPS [more args]; RANKS 0 = no mpirun
    local dir=$work/$1 np=$2 th=$3 steps=$4
    shift 4
    mkdir -p "$dir"
    local run=("$trainer")
    [ "$np" -eq 0 ] || run=("${MPI[@]}" -np "$np" "$trainer")
    must "train on $np ranks x $th threads in $dir" "$dir/train.log" \
        "${run[@]}" train "${ARGS[@]}" --max-steps "$steps" --threads "$th" \
        --ckpt "$dir/model.ckpt" "$@"
}

train ranks2 2 1 12 --metrics "$work/ranks2/metrics.jsonl" --metrics-every 1
train threads2 0 2 12
cmp -s "$work/ranks2/model.ckpt" "$work/threads2/model.ckpt" ||
    fail "mpirun -np 2 wrote another checkpoint than one process with --threads 2"
say "ok: 2 ranks x 1 thread and 1 process x 2 threads write byte-identical checkpoints"
train threads1 0 1 12 --metrics "$work/threads1/metrics.jsonl" --metrics-every 1
say "ok: per-step losses of 2 ranks and of one process (--threads 1) within $(same_step_losses \
    "$work/threads1/metrics.jsonl" "$work/ranks2/metrics.jsonl" 1e-12)"
train r2t2 2 2 12 --metrics "$work/r2t2/metrics.jsonl" --metrics-every 1
train r2t2b 2 2 12
cmp -s "$work/r2t2/model.ckpt" "$work/r2t2b/model.ckpt" ||
    fail "two runs on 2 ranks x 2 threads wrote different checkpoints"
say "ok: 2 ranks x 2 threads: two runs byte-identical, per-step losses within $(same_step_losses \
    "$work/threads1/metrics.jsonl" "$work/r2t2/metrics.jsonl" 1e-12) of one process's"
if command -v python3 >/dev/null; then
    rel=$(python3 "$(dirname -- "$0")/ckpt_diff.py" "$work/threads1/model.ckpt" "$work/ranks2/model.ckpt")
    fcmp "$rel <= 1e-11" || fail "2 ranks' parameters differ from --threads 1's by $rel (relative)"
    say "ok: 2 ranks' parameters within $rel (relative) of one process's with --threads 1"
fi
p1=$(field val_ppl "$work/threads1/train.log") p2=$(field val_ppl "$work/ranks2/train.log")
[ -n "$p1" ] && [ "$p1" = "$p2" ] ||
    fail "val_ppl in one process is '$p1', over 2 ranks '$p2'"
say "ok: one process and 2 ranks give val_ppl $p1"

train down 2 1 6
train down 0 2 6 --resume
cmp -s "$work/down/model.ckpt" "$work/threads2/model.ckpt" ||
    fail "6 steps on 2 ranks + 6 resumed in one process differ from 12 in one go"
train up 0 2 6
train up 2 1 6 --resume
cmp -s "$work/up/model.ckpt" "$work/threads2/model.ckpt" ||
    fail "6 steps in one process + 6 resumed on 2 ranks differ from 12 in one go"
say "ok: --resume from 2 ranks to 1 and from 1 to 2: the checkpoint of 12 steps"

# long DIR: the array LONG, a run on 2 ranks far longer than the test that
# saves every 3 steps (mpi_start), for the signals and the dead rank.
long() {
    mkdir -p "$work/$1"
    LONG=("${MPI[@]}" -np 2 "$trainer" train "${DATA[@]}" --batch 7 --steps 12
          --epochs 1000 --save-every 3 --sample-len 0 --ckpt "$work/$1/model.ckpt")
}

# interrupt SIGNAL RANK EXPECTED_EXIT
interrupt() {
    local sig=$1 rank=$2 want=$3 dir=$work/sig$1
    long "sig$sig"
    mpi_interrupt "$sig" "$rank" "$want" "$dir/model.ckpt" "$dir/train.log" "${LONG[@]}"
    must "eval of the checkpoint saved on SIG$sig" "$dir/eval.log" \
        "$trainer" eval "${DATA[@]}" --ckpt "$dir/model.ckpt"
    must "resume on 2 ranks after SIG$sig" "$dir/resume.log" \
        "${LONG[@]}" --max-steps 2 --resume
    say "ok: SIG$sig to rank $rank -> both ranks stop, exit $want, one save, it loads and resumes"
}
interrupt TERM 1 143
interrupt INT 0 130

long dead
mpi_dead 0 "$work/dead/model.ckpt" "$work/dead/train.log" "${LONG[@]}"
