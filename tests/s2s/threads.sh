#!/usr/bin/env bash
# threads.sh TRAINER S2S_TOOL WORKDIR: seq2seq training with --threads
# (rnnrt_s2s_split.c). On 800 toy pairs: 2 epochs with --threads 2 run twice
# give the same checkpoint byte for byte; 1 epoch + --resume to 2 with
# --threads 2 == 2 epochs straight; --threads 3 (the batch does not divide
# by 3) is reproducible too; --threads 1 == no --threads. The split's equality
# with one thread (1e-12, double) is tests/unit/test_rt_s2s_split.c.
set -euo pipefail
E2E_NAME=s2s_threads
. "$(dirname -- "$0")/../e2e/lib.sh"
[ $# -eq 3 ] || { echo "usage: $0 TRAINER S2S_TOOL WORKDIR" >&2; exit 2; }
trainer=$1 tool=$2 work=$3
fresh_dir "$work"
"$tool" toy reverse 1000 8 3 6 1 >"$work/pairs.txt"
run() { "$trainer" train "$work/pairs.txt" --max-pairs 800 --eval-max 0 --beam 1 "$@"; }
epochs() { grep -h '^epoch ' "$@"; }

must "2 epochs, 2 threads" "$work/a.log" run --epochs 2 --threads 2 --ckpt "$work/a.ckpt"
must "again" "$work/b.log" run --epochs 2 --threads 2 --ckpt "$work/b.ckpt"
cmp "$work/a.ckpt" "$work/b.ckpt" || fail "two --threads 2 runs differ"
say "ok: --threads 2 is reproducible ($(wc -c <"$work/a.ckpt") bytes identical)"

must "1 epoch, 2 threads" "$work/c1.log" run --epochs 1 --threads 2 --ckpt "$work/c.ckpt"
must "resume to 2, 2 threads" "$work/c2.log" run --epochs 2 --threads 2 --ckpt "$work/c.ckpt" --resume
cmp "$work/a.ckpt" "$work/c.ckpt" || fail "--threads 2: 1 epoch + resume differs from 2 epochs straight"
[ "$(epochs "$work/a.log")" = "$(epochs "$work/c1.log" "$work/c2.log")" ] || fail "epoch losses differ after resume"
say "ok: --threads 2 resumes exactly"

must "3 threads" "$work/d1.log" run --epochs 1 --threads 3 --ckpt "$work/d1.ckpt"
must "3 threads again" "$work/d2.log" run --epochs 1 --threads 3 --ckpt "$work/d2.ckpt"
cmp "$work/d1.ckpt" "$work/d2.ckpt" || fail "two --threads 3 runs differ"
say "ok: --threads 3 is reproducible"

must "no --threads" "$work/e1.log" run --epochs 1 --ckpt "$work/e1.ckpt"
must "--threads 1" "$work/e2.log" run --epochs 1 --threads 1 --ckpt "$work/e2.ckpt"
cmp "$work/e1.ckpt" "$work/e2.ckpt" || fail "--threads 1 differs from no --threads"
say "ok: --threads 1 == no --threads"
