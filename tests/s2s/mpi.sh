#!/usr/bin/env bash
# mpi.sh TRAINER S2S_TOOL WORKDIR RNNC_MPI: seq2seq training over MPI ranks
# (rnnrt_s2s_split.c, rnnrt_mpi.c), double trainer, on 800 toy pairs:
#   - `mpirun -np 2` x 1 thread writes the checkpoint of one process with
#     --threads 2, byte for byte, and prints the same epoch losses; against
#     one process with --threads 1, every step's loss (--metrics-every 1)
#     and the final parameters are within 1e-12 (relative), and so are the
#     per-step losses of 2 ranks x 2 threads;
#   - 1 epoch (or 7 steps, mid-epoch) on 2 ranks + --resume in one
#     process, and the same from one process to 2 ranks, give the
#     checkpoint of 2 epochs;
#   - SIGTERM to rank 1 and SIGINT to rank 0 stop both ranks with one save
#     (exit 143 / 130) that evaluates and resumes on 2 ranks; rank 1 killed
#     with SIGKILL makes mpirun end the job (mpi_dead in lib.sh).
# The LM twin is tests/e2e/mpi.sh, the tagger's and classifier's
# tests/e2e/heads_mpi.sh.
set -euo pipefail
E2E_NAME=s2s_mpi
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 TRAINER S2S_TOOL WORKDIR RNNC_MPI" >&2; exit 2; }
trainer=$1 tool=$2 work=$3
fresh_dir "$work"
mpi_setup "$4" "$work"
"$tool" toy reverse 1000 8 3 6 1 >"$work/pairs.txt"
run() { # run RANKS [options]; RANKS 0 = no mpirun
    local np=$1
    shift
    local cmd=("$trainer")
    [ "$np" -eq 0 ] || cmd=("${MPI[@]}" -np "$np" "$trainer")
    "${cmd[@]}" train "$work/pairs.txt" --max-pairs 800 --eval-max 0 --beam 1 "$@"
}
epochs() { grep -h '^epoch [0-9]* loss' "$@"; }

must "2 epochs, 2 ranks" "$work/r.log" run 2 --epochs 2 --threads 1 --ckpt "$work/r.ckpt" \
    --metrics "$work/r.jsonl" --metrics-every 1
must "2 epochs, 2 threads" "$work/t.log" run 0 --epochs 2 --threads 2 --ckpt "$work/t.ckpt"
cmp -s "$work/r.ckpt" "$work/t.ckpt" || fail "mpirun -np 2 wrote another checkpoint than --threads 2"
[ "$(epochs "$work/r.log")" = "$(epochs "$work/t.log")" ] || fail "the epoch losses differ"
say "ok: 2 ranks x 1 thread == 1 process x 2 threads, byte for byte ($(epochs "$work/r.log" | tail -n 1))"
must "2 epochs, 1 thread" "$work/one.log" run 0 --epochs 2 --threads 1 --ckpt "$work/one.ckpt" \
    --metrics "$work/one.jsonl" --metrics-every 1
say "ok: per-step losses of 2 ranks and of one process (--threads 1) within $(same_step_losses \
    "$work/one.jsonl" "$work/r.jsonl" 1e-12)"
must "2 epochs, 2 ranks x 2 threads" "$work/r2t2.log" run 2 --epochs 2 --threads 2 \
    --ckpt "$work/r2t2.ckpt" --metrics "$work/r2t2.jsonl" --metrics-every 1
say "ok: 2 ranks x 2 threads: per-step losses within $(same_step_losses \
    "$work/one.jsonl" "$work/r2t2.jsonl" 1e-12) of one process's (--threads 1)"
if command -v python3 >/dev/null; then
    rel=$(python3 "$(dirname -- "$0")/../e2e/ckpt_diff.py" "$work/one.ckpt" "$work/r.ckpt")
    fcmp "$rel <= 1e-12" || fail "2 ranks' parameters differ from --threads 1's by $rel (relative)"
    say "ok: 2 ranks' parameters within $rel (relative) of one process's with --threads 1"
fi

must "1 epoch, 2 ranks" "$work/d1.log" run 2 --epochs 1 --threads 1 --ckpt "$work/d.ckpt"
must "resume to 2, 1 process" "$work/d2.log" run 0 --epochs 2 --threads 2 --ckpt "$work/d.ckpt" --resume
cmp -s "$work/d.ckpt" "$work/t.ckpt" || fail "1 epoch on 2 ranks + resume in one process differs"
must "1 epoch, 1 process" "$work/u1.log" run 0 --epochs 1 --threads 2 --ckpt "$work/u.ckpt"
must "resume to 2, 2 ranks" "$work/u2.log" run 2 --epochs 2 --threads 1 --ckpt "$work/u.ckpt" --resume
cmp -s "$work/u.ckpt" "$work/t.ckpt" || fail "1 epoch in one process + resume on 2 ranks differs"
must "7 steps, 2 ranks" "$work/dm1.log" run 2 --epochs 2 --threads 1 --max-steps 7 --ckpt "$work/dm.ckpt"
must "resume mid-epoch, 1 process" "$work/dm2.log" run 0 --epochs 2 --threads 2 --ckpt "$work/dm.ckpt" --resume
cmp -s "$work/dm.ckpt" "$work/t.ckpt" || fail "7 steps on 2 ranks + resume in one process differs"
must "7 steps, 1 process" "$work/um1.log" run 0 --epochs 2 --threads 2 --max-steps 7 --ckpt "$work/um.ckpt"
must "resume mid-epoch, 2 ranks" "$work/um2.log" run 2 --epochs 2 --threads 1 --ckpt "$work/um.ckpt" --resume
cmp -s "$work/um.ckpt" "$work/t.ckpt" || fail "7 steps in one process + resume on 2 ranks differs"
say "ok: --resume from 2 ranks to 1 and from 1 to 2, after an epoch or mid-epoch (7 steps) == 2 epochs straight"

# long NAME: the array LONG, a run on 2 ranks far longer than the test that
# saves every 5 steps (mpi_start), for the signals and the dead rank.
long() {
    mkdir -p "$work/$1"
    LONG=("${MPI[@]}" -np 2 "$trainer" train "$work/pairs.txt" --max-pairs 800
          --eval-max 0 --beam 1 --epochs 100000 --save-every 5 --ckpt "$work/$1/model.ckpt")
}
for case in "TERM 1 143" "INT 0 130"; do
    set -- $case
    long "sig$1"
    mpi_interrupt "$1" "$2" "$3" "$work/sig$1/model.ckpt" "$work/sig$1/train.log" "${LONG[@]}"
    must "eval of the checkpoint saved on SIG$1" "$work/sig$1/eval.log" \
        "$trainer" eval "$work/pairs.txt" --max-pairs 800 --eval-max 50 --beam 1 --model "$work/sig$1/model.ckpt"
    must "resume on 2 ranks after SIG$1" "$work/sig$1/resume.log" "${LONG[@]}" --max-steps 2 --resume
    say "ok: SIG$1 to rank $2 -> both ranks stop, exit $3, one save, it evaluates and resumes"
done
long dead
mpi_dead 1 "$work/dead/model.ckpt" "$work/dead/train.log" "${LONG[@]}"
say "passed"
