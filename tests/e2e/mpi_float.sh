#!/usr/bin/env bash
# mpi_float.sh TRAINER DATA WORKDIR RNNC_MPI: the float trainer over MPI
# ranks (issue 16's float target): after one epoch on a 40 kB slice of the
# corpus, `mpirun -np 2` x 1 thread gives the validation perplexity of one
# process with --threads 1 within 1e-4 (relative), the same global batch
# (--batch 7: 4 + 3 rows). The float sums of 2 ranks are --threads 2's, not
# --threads 1's, so the two differ in the last bits of every step; the
# double trainer's exact checks are mpi.sh's. Exits 77 (skipped) when the
# trainers are built without MPI or mpirun is absent.
set -euo pipefail
E2E_NAME=mpi_float
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 TRAINER DATA WORKDIR RNNC_MPI" >&2; exit 2; }
trainer=$1 work=$3
pick_data "$2"
fresh_dir "$work"
mpi_setup "$4" "$work"
if [ ${#DATA[@]} -gt 0 ]; then
    head -c 40000 "${DATA[1]}" >"$work/slice.txt"
else
    head -c 40000 < <(find /usr/share/common-licenses -type f | sort | xargs cat 2>/dev/null) >"$work/slice.txt"
fi

ARGS=(--data "$work/slice.txt" --batch 7 --steps 12 --epochs 1 --threads 1
      --optimizer adam --lr 0.01 --sample-len 0 --quiet)
must "1 epoch on 2 ranks" "$work/ranks2.log" "${MPI[@]}" -np 2 "$trainer" train "${ARGS[@]}" \
    --ckpt "$work/ranks2.ckpt" --metrics "$work/ranks2.jsonl"
must "1 epoch in one process" "$work/one.log" "$trainer" train "${ARGS[@]}" \
    --ckpt "$work/one.ckpt" --metrics "$work/one.jsonl"
eval_key() { grep '"kind":"eval"' "$2" | tail -n 1 | sed -E "s/.*\"$1\":([^,]*),.*/\\1/"; }
val() { eval_key val_value "$1"; }
p1=$(val "$work/one.jsonl") p2=$(val "$work/ranks2.jsonl")
[ -n "$p1" ] && [ -n "$p2" ] && [ "$p1" != null ] || fail "no val_ppl after the epoch: '$p1', '$p2'"
fcmp "($p2 - $p1) / $p1 <= 1e-4 && ($p1 - $p2) / $p1 <= 1e-4" ||
    fail "val_ppl after one epoch: one process $p1, 2 ranks $p2: more than 1e-4 apart"
say "ok: val_ppl after one epoch ($(eval_key step "$work/one.jsonl") steps): one process $p1, 2 ranks $p2"
say "passed"
