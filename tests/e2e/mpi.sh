#!/usr/bin/env bash
# mpi.sh TRAINER DATA WORKDIR RNNC_MPI: data parallelism over MPI ranks
# (issue 16, runtime/train/rnnrt_mpi.c), double trainer.
#   - `mpirun -np 2` x 1 thread writes the checkpoint of one process with
#     --threads 2, byte for byte (the same rows per part, the same sums in
#     the same order), and its val_ppl is --threads 1's to the printed digits;
#   - resume across a changed N: 6 steps on 2 ranks + 6 in one process, and
#     6 in one process + 6 on 2 ranks, give the checkpoint of 12 in one go;
#   - SIGTERM to rank 1 and SIGINT to rank 0 stop both ranks with one clean
#     save (exit 143 / 130), and the checkpoint loads;
#   - a rank killed with SIGKILL makes mpirun end the job (no hang) with a
#     nonzero exit.
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

train ranks2 2 1 12
train threads2 0 2 12
cmp -s "$work/ranks2/model.ckpt" "$work/threads2/model.ckpt" ||
    fail "mpirun -np 2 wrote another checkpoint than one process with --threads 2"
say "ok: 2 ranks x 1 thread and 1 process x 2 threads write byte-identical checkpoints"
train threads1 0 1 12
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

# start DIR: a long run on 2 ranks in the background (pid in $job), once
# it has saved a checkpoint (--save-every 3): then both ranks are training.
start() {
    local dir=$work/$1 i
    mkdir -p "$dir"
    "${MPI[@]}" -np 2 "$trainer" train "${DATA[@]}" --batch 7 --steps 12 \
        --epochs 1000 --save-every 3 --sample-len 0 --ckpt "$dir/model.ckpt" \
        >"$dir/train.log" 2>&1 &
    job=$!
    for i in $(seq 1200); do
        [ -s "$dir/model.ckpt" ] && break
        kill -0 "$job" 2>/dev/null || { cat "$dir/train.log"; fail "the 2-rank run in $dir ended early"; }
        sleep 0.1
    done
    [ -s "$dir/model.ckpt" ] || fail "no checkpoint from the 2-rank run in $dir after 120 s"
}

# interrupt SIGNAL RANK EXPECTED_EXIT
interrupt() {
    local sig=$1 rank=$2 want=$3 dir=$work/sig$1 pid rc=0
    start "sig$1"
    pid=$(mpi_rank_pid "$dir/model.ckpt" "$rank") || fail "no process of rank $rank found"
    kill -s "$sig" "$pid"
    wait "$job" || rc=$?
    [ "$rc" -eq "$want" ] || { cat "$dir/train.log"; fail "after SIG$sig to rank $rank mpirun exited $rc, expected $want"; }
    local saves
    saves=$(grep -c 'interrupted: checkpoint saved' "$dir/train.log" || true)
    [ "$saves" -eq 1 ] || { cat "$dir/train.log"; fail "$saves 'interrupted: checkpoint saved' lines after SIG$sig, expected 1 (rank 0's)"; }
    [ -z "$(find "$dir" -name '*.tmp*')" ] || fail "temporary files left after SIG$sig"
    must "eval of the checkpoint saved on SIG$sig" "$dir/eval.log" \
        "$trainer" eval "${DATA[@]}" --ckpt "$dir/model.ckpt"
    must "resume on 2 ranks after SIG$sig" "$dir/resume.log" \
        "${MPI[@]}" -np 2 "$trainer" train "${DATA[@]}" --batch 7 --steps 12 \
        --epochs 1000 --max-steps 2 --sample-len 0 --resume --ckpt "$dir/model.ckpt"
    say "ok: SIG$sig to rank $rank -> both ranks stop, exit $rc, one save, it loads and resumes"
}
interrupt TERM 1 143
interrupt INT 0 130

# A rank that dies: mpirun aborts the job instead of leaving rank 0
# waiting in a collective forever (ctest's timeout is the hang guard).
start dead
pid=$(mpi_rank_pid "$work/dead/model.ckpt" 1) || fail "no process of rank 1 found"
kill -s KILL "$pid"
rc=0
wait "$job" || rc=$?
[ "$rc" -ne 0 ] || fail "mpirun exited 0 after rank 1 was killed"
if mpi_rank_pid "$work/dead/model.ckpt" 0 >/dev/null; then
    fail "rank 0 is still running after rank 1 was killed and mpirun ended"
fi
say "ok: rank 1 killed -> mpirun ends the job (exit $rc): $(grep -m1 -iE 'signal|abort' "$work/dead/train.log" || true)"
