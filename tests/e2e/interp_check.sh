#!/usr/bin/env bash
# interp_check.sh TRAINER_D RNNC SPEC WORKDIR: the emitted code, built in
# double, must agree with rnnc's reference interpreter. The trainer dumps
# params, inputs, outputs and gradients for a tiny problem; rnnc --check
# recomputes them with the interpreter and compares.
set -euo pipefail
E2E_NAME=interp_check
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 TRAINER_D RNNC SPEC WORKDIR" >&2; exit 2; }
trainer=$1 rnnc=$2 spec=$3 work=$4
fresh_dir "$work"

"$trainer" dump --B 2 --T 3 --V 5 --seed 1 >"$work/dump.txt" ||
    fail "$trainer dump failed (exit $?)"
[ -s "$work/dump.txt" ] || fail "$trainer dump wrote nothing"
say "dumped $(wc -l <"$work/dump.txt") lines to $work/dump.txt"

"$rnnc" "$spec" --check "$work/dump.txt" ||
    fail "rnnc $spec --check disagrees with the generated code (exit $?); dump kept in $work/dump.txt"
say "ok: generated code and reference interpreter agree"
