#!/usr/bin/env bash
# mpi.sh TRAINER S2S_TOOL WORKDIR RNNC_MPI: seq2seq training over MPI ranks
# (rnnrt_s2s_split.c, rnnrt_mpi.c), double trainer, on 800 toy pairs:
#   - `mpirun -np 2` x 1 thread writes the checkpoint of one process with
#     --threads 2, byte for byte, and prints the same epoch losses;
#   - 1 epoch on 2 ranks + --resume in one process, and 1 epoch in one
#     process + --resume on 2 ranks, give the checkpoint of 2 epochs;
#   - SIGTERM to rank 1 stops both ranks with one save (exit 143) that
#     evaluates.
# The LM twin, with SIGINT and a killed rank, is tests/e2e/mpi.sh.
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

must "2 epochs, 2 ranks" "$work/r.log" run 2 --epochs 2 --threads 1 --ckpt "$work/r.ckpt"
must "2 epochs, 2 threads" "$work/t.log" run 0 --epochs 2 --threads 2 --ckpt "$work/t.ckpt"
cmp -s "$work/r.ckpt" "$work/t.ckpt" || fail "mpirun -np 2 wrote another checkpoint than --threads 2"
[ "$(epochs "$work/r.log")" = "$(epochs "$work/t.log")" ] || fail "the epoch losses differ"
say "ok: 2 ranks x 1 thread == 1 process x 2 threads, byte for byte ($(epochs "$work/r.log" | tail -n 1))"

must "1 epoch, 2 ranks" "$work/d1.log" run 2 --epochs 1 --threads 1 --ckpt "$work/d.ckpt"
must "resume to 2, 1 process" "$work/d2.log" run 0 --epochs 2 --threads 2 --ckpt "$work/d.ckpt" --resume
cmp -s "$work/d.ckpt" "$work/t.ckpt" || fail "1 epoch on 2 ranks + resume in one process differs"
must "1 epoch, 1 process" "$work/u1.log" run 0 --epochs 1 --threads 2 --ckpt "$work/u.ckpt"
must "resume to 2, 2 ranks" "$work/u2.log" run 2 --epochs 2 --threads 1 --ckpt "$work/u.ckpt" --resume
cmp -s "$work/u.ckpt" "$work/t.ckpt" || fail "1 epoch in one process + resume on 2 ranks differs"
say "ok: --resume from 2 ranks to 1 and from 1 to 2 == 2 epochs straight"

set -m
dir=$work/sig
mkdir -p "$dir"
run 2 --epochs 100000 --save-every 5 --ckpt "$dir/model.ckpt" >"$dir/train.log" 2>&1 &
job=$!
for i in $(seq 1200); do
    [ -s "$dir/model.ckpt" ] && break
    kill -0 "$job" 2>/dev/null || { cat "$dir/train.log"; fail "the 2-rank run ended early"; }
    sleep 0.1
done
[ -s "$dir/model.ckpt" ] || fail "no checkpoint from the 2-rank run after 120 s"
pid=$(mpi_rank_pid "$dir/model.ckpt" 1) || fail "no process of rank 1 found"
kill -s TERM "$pid"
rc=0
wait "$job" || rc=$?
[ "$rc" -eq 143 ] || { cat "$dir/train.log"; fail "after SIGTERM to rank 1 mpirun exited $rc, expected 143"; }
saves=$(grep -c 'interrupted: checkpoint saved' "$dir/train.log" || true)
[ "$saves" -eq 1 ] || { cat "$dir/train.log"; fail "$saves 'interrupted: checkpoint saved' lines, expected 1"; }
must "eval of the checkpoint saved on SIGTERM" "$dir/eval.log" \
    "$trainer" eval "$work/pairs.txt" --max-pairs 800 --eval-max 50 --beam 1 --model "$dir/model.ckpt"
say "ok: SIGTERM to rank 1 -> both ranks stop, exit 143, one save, it evaluates"
