#!/usr/bin/env bash
# heads_check.sh TRAINER_D RNNC SPEC WORKDIR: rnnc --check on the dump of a
# task-head trainer catches what it must: a label outside [0, L), a dump
# without the L of `dims`, and (classification) a missing or changed
# pooling weight or valid-step mask.
set -euo pipefail
E2E_NAME=heads_check
. "$(dirname -- "$0")/lib.sh"
[ $# -eq 4 ] || { echo "usage: $0 TRAINER_D RNNC SPEC WORKDIR" >&2; exit 2; }
trainer=$1 rnnc=$2 spec=$3 work=$4
fresh_dir "$work"
"$trainer" dump --B 3 --T 4 --V 5 --L 4 --seed 3 >"$work/dump.txt" || fail "dump failed"
"$rnnc" "$spec" --check "$work/dump.txt" >"$work/ok.log" || { cat "$work/ok.log" >&2; fail "the dump does not check"; }
say "ok: the dump agrees with the interpreter"

# mutate NAME SED EXPECTED EXIT: rnnc --check on the edited dump must exit
# EXIT and print EXPECTED.
mutate() {
    local name=$1 script=$2 expected=$3 want=$4 rc=0
    sed -E "$script" "$work/dump.txt" >"$work/$name.txt"
    "$rnnc" "$spec" --check "$work/$name.txt" >"$work/$name.log" 2>&1 || rc=$?
    [ "$rc" -eq "$want" ] || { cat "$work/$name.log" >&2; fail "$name: exit $rc, expected $want"; }
    grep -qF -- "$expected" "$work/$name.log" || { cat "$work/$name.log" >&2; fail "$name: expected: $expected"; }
    say "ok: $name: $expected"
}
mutate label_range 's/^y ([0-9]+) [0-9]+/y \1 4/' "'y' value 1 ('4') is not a label in [0, L)" 1
mutate no_l '1s/^(dims [0-9]+ [0-9]+ [0-9]+ [0-9]+) [0-9]+$/\1/' "'dims' needs 5 numbers for this model: B T V S L" 1
if grep -q '^pool ' "$work/dump.txt"; then
    mutate no_pool '/^pool /d' "no 'pool' record" 1
    # the first row's weights move from its valid steps to step 0 only
    mutate pool_changed 's/^pool ([0-9]+) [^ ]+/pool \1 0.25/' "MISMATCH" 1
fi
if grep -q '^mask ' "$work/dump.txt"; then
    mutate no_mask '/^mask /d' "no 'mask' record" 1
    # step 2 of row 1 (element 7 of [T][B]; the seed gives that row 3 valid
    # steps) turns into padding, so the interpreter keeps the state there
    mutate mask_changed 's/^mask ([0-9]+ )(([^ ]+ ){7})1 /mask \1\20 /' "MISMATCH" 1
fi
say "passed"
